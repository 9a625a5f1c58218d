# wg-quick up and down: the commands run for several configurations.
# Sourced by ../run.sh.

begin "up: IPv4 and IPv6 addresses, MTU given, routes for allowed IPs"
conf wg0 <<CONF
[Interface]
# not passed to wg
PrivateKey = ${KEY1}
ListenPort = 51820
Address = 10.0.0.1/24, fd00::1/64
address = 10.1.0.1/16
MTU = 1400

[Peer]
PublicKey = ${PUB1}
AllowedIPs = 10.0.0.0/24, 192.168.50.0/24, fd00:1::/64
Endpoint = 198.51.100.7:51820
CONF
wgq up "${C}/etc/wg0.conf"
expect_rc 0
expect_changes <<OUT
ifconfig wg0 create
wg setconf wg0 /dev/stdin
ifconfig wg0 inet 10.0.0.1/24 alias
ifconfig wg0 inet6 fd00::1/64 alias
ifconfig wg0 inet 10.1.0.1/16 alias
ifconfig wg0 mtu 1400
ifconfig wg0 up
route -q -n add -inet6 fd00:1::/64 -interface wg0
route -q -n add -inet 192.168.50.0/24 -interface wg0
OUT
# wg receives the file less wg-quick's keys, comments and all.
same "configuration given to wg" "${STUB_DIR}/setconf.wg0" <<OUT
[Interface]
# not passed to wg
PrivateKey = ${KEY1}
ListenPort = 51820

[Peer]
PublicKey = ${PUB1}
AllowedIPs = 10.0.0.0/24, 192.168.50.0/24, fd00:1::/64
Endpoint = 198.51.100.7:51820

OUT
routes_are <<OUT
10.0.0.0/24 wg0
10.1.0.0/16 wg0
192.168.50.0/24 wg0
fd00:1::/64 wg0
OUT
wgq down "${C}/etc/wg0.conf"
expect_rc 0
expect_changes <<OUT
ifconfig wg0 destroy
OUT
no_interface wg0
routes_are < /dev/null

begin "up: the module is loaded when neither if_wg nor wg is"
STUB_KLD=
conf wg1 <<CONF
[Interface]
PrivateKey = ${KEY1}
CONF
wgq up "${C}/etc/wg1.conf"
expect_rc 0
trace_matches
expect_changes <<OUT
kldload -n if_wg
ifconfig wg1 create
wg setconf wg1 /dev/stdin
ifconfig wg1 mtu 1420
ifconfig wg1 up
OUT

begin "up: FreeBSD's own wg module counts as loaded"
STUB_KLD=wg
conf wg2 <<CONF
[Interface]
PrivateKey = ${KEY1}
CONF
wgq up "${C}/etc/wg2.conf"
expect_rc 0
if grep -q '^kldstat -q -m wg$' "${STUB_DIR}/log" &&
    ! grep -q '^kldload' "${STUB_DIR}/log"; then ok; else
	ko "kldstat/kldload sequence: $(cat "${STUB_DIR}/log")"
fi

begin "up: a name that is not wgN is a wg unit renamed on creation"
conf vpn-home.1 <<CONF
[Interface]
PrivateKey = ${KEY1}
CONF
wgq up "${C}/etc/vpn-home.1.conf"
expect_rc 0
expect_changes <<OUT
ifconfig wg create name vpn-home.1
wg setconf vpn-home.1 /dev/stdin
ifconfig vpn-home.1 mtu 1420
ifconfig vpn-home.1 up
OUT

begin "up/down: a peer with the default routes; endpoint exception routes once"
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}
Address = 10.0.0.2/32, fd00::2/128

[Peer]
PublicKey = ${PUB1}
AllowedIPs = 0.0.0.0/0, ::/0
Endpoint = 198.51.100.7:51820

[Peer]
PublicKey = ${PUB2}
AllowedIPs = 10.9.0.0/16
Endpoint = [2001:db8::7]:51820

[Peer]
PublicKey = ${PUB3}
AllowedIPs = 10.8.0.0/16
CONF
wgq up "${C}/etc/wg0.conf"
expect_rc 0
trace_matches
expect_changes <<OUT
ifconfig wg0 create
wg setconf wg0 /dev/stdin
ifconfig wg0 inet 10.0.0.2/32 alias
ifconfig wg0 inet6 fd00::2/128 alias
ifconfig wg0 mtu 1420
ifconfig wg0 up
route -q -n add -inet 10.9.0.0/16 -interface wg0
route -q -n add -inet 10.8.0.0/16 -interface wg0
route -q -n add -inet6 ::/1 -interface wg0
route -q -n add -inet6 8000::/1 -interface wg0
route -q -n add -inet 0.0.0.0/1 -interface wg0
route -q -n add -inet 128.0.0.0/1 -interface wg0
route -q -n add -inet 198.51.100.7 -gateway 192.0.2.1
route -q -n add -inet6 2001:db8::7 -gateway 2001:db8:ffff::1
OUT
err_lacks "Backgrounding"
wgq down "${C}/etc/wg0.conf"
expect_rc 0
expect_changes <<OUT
ifconfig wg0 destroy
route -q -n delete -inet 198.51.100.7
route -q -n delete -inet6 2001:db8::7
OUT
routes_are < /dev/null

begin "up: no default route: endpoints are blackholed rather than looped"
STUB_GW4=none
STUB_GW6=none
export STUB_GW4 STUB_GW6
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}

[Peer]
PublicKey = ${PUB1}
AllowedIPs = 0.0.0.0/0
Endpoint = 198.51.100.7:51820

[Peer]
PublicKey = ${PUB2}
AllowedIPs = fd00:9::/64
Endpoint = [2001:db8::7]:51820
CONF
wgq up "${C}/etc/wg0.conf"
expect_rc 0
# Only IPv4 takes the default route, so only the IPv4 endpoint is routed
# around the tunnel.
expect_changes <<OUT
ifconfig wg0 create
wg setconf wg0 /dev/stdin
ifconfig wg0 mtu 1420
ifconfig wg0 up
route -q -n add -inet6 fd00:9::/64 -interface wg0
route -q -n add -inet 0.0.0.0/1 -interface wg0
route -q -n add -inet 128.0.0.0/1 -interface wg0
route -q -n add -inet 198.51.100.7 127.0.0.1 -blackhole
OUT

begin "up: Table = off adds no route at all"
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}
Address = 10.0.0.2/24
Table = off

[Peer]
PublicKey = ${PUB1}
AllowedIPs = 0.0.0.0/0, 192.168.7.0/24
Endpoint = 198.51.100.7:51820
CONF
wgq up "${C}/etc/wg0.conf"
expect_rc 0
expect_changes <<OUT
ifconfig wg0 create
wg setconf wg0 /dev/stdin
ifconfig wg0 inet 10.0.0.2/24 alias
ifconfig wg0 mtu 1420
ifconfig wg0 up
OUT
wgq down "${C}/etc/wg0.conf"
expect_changes <<OUT
ifconfig wg0 destroy
OUT

begin "up: Table = 1234 puts every route in that FIB, no exception routes"
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}
Table = 1234

[Peer]
PublicKey = ${PUB1}
AllowedIPs = 0.0.0.0/0, fd00:7::/48
Endpoint = 198.51.100.7:51820
CONF
wgq up "${C}/etc/wg0.conf"
expect_rc 0
expect_changes <<OUT
ifconfig wg0 create
wg setconf wg0 /dev/stdin
ifconfig wg0 mtu 1420
ifconfig wg0 up
route -q -n add -inet6 -fib 1234 fd00:7::/48 -interface wg0
route -q -n add -inet -fib 1234 0.0.0.0/0 -interface wg0
OUT
wgq down "${C}/etc/wg0.conf"
expect_changes <<OUT
ifconfig wg0 destroy
OUT

begin "up: Table = auto is the default"
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}
Table = auto

[Peer]
PublicKey = ${PUB1}
AllowedIPs = 0.0.0.0/0
Endpoint = 198.51.100.7:51820
CONF
wgq up "${C}/etc/wg0.conf"
expect_rc 0
expect_changes <<OUT
ifconfig wg0 create
wg setconf wg0 /dev/stdin
ifconfig wg0 mtu 1420
ifconfig wg0 up
route -q -n add -inet 0.0.0.0/1 -interface wg0
route -q -n add -inet 128.0.0.0/1 -interface wg0
route -q -n add -inet 198.51.100.7 -gateway 192.0.2.1
OUT

begin "up/down: DNS servers and search domains through resolvconf"
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}
DNS = 10.0.0.53, fd00::53,example.com
DNS = corp.example
CONF
wgq up "${C}/etc/wg0.conf"
expect_rc 0
expect_changes <<OUT
ifconfig wg0 create
wg setconf wg0 /dev/stdin
ifconfig wg0 mtu 1420
ifconfig wg0 up
resolvconf -a wg0 -x
OUT
same "resolvconf input" "${STUB_DIR}/resolv.wg0" <<OUT
nameserver 10.0.0.53
nameserver fd00::53
search example.com corp.example
OUT
wgq down "${C}/etc/wg0.conf"
expect_rc 0
expect_changes <<OUT
ifconfig wg0 destroy
resolvconf -d wg0
OUT

begin "up: MTU from the endpoint's route (em1, 9000) less 80"
STUB_VIA_EM1="198.51.100.7"
export STUB_VIA_EM1
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}

[Peer]
PublicKey = ${PUB1}
AllowedIPs = 10.0.0.0/8
Endpoint = 198.51.100.7:51820

[Peer]
PublicKey = ${PUB2}
AllowedIPs = 10.1.0.0/16
Endpoint = 203.0.113.9:51820
CONF
wgq up "${C}/etc/wg0.conf"
expect_rc 0
if grep -qx 'ifconfig wg0 mtu 8920' "${STUB_DIR}/log"; then ok; else
	ko "MTU not 9000 - 80: $(grep mtu "${STUB_DIR}/log")"
fi

begin "up: MTU from the default route's interface (em0, 1492) less 80"
STUB_MTU_em0=1492
export STUB_MTU_em0
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}
CONF
wgq up "${C}/etc/wg0.conf"
expect_rc 0
if grep -qx 'ifconfig wg0 mtu 1412' "${STUB_DIR}/log"; then ok; else
	ko "MTU not 1492 - 80: $(grep mtu "${STUB_DIR}/log")"
fi

begin "up: MTU 1500 - 80 with neither endpoint nor default route"
STUB_GW4=none
STUB_MTU_em0=9000
export STUB_GW4 STUB_MTU_em0
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}
CONF
wgq up "${C}/etc/wg0.conf"
expect_rc 0
if grep -qx 'ifconfig wg0 mtu 1420' "${STUB_DIR}/log"; then ok; else
	ko "MTU not 1500 - 80: $(grep mtu "${STUB_DIR}/log")"
fi

begin "up/down: hooks in order, %i replaced, run by sh"
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}
PreUp = echo "pre-up %i" >> ${C}/hooks
PostUp = echo "post-up %i%i" >> ${C}/hooks; echo second >> ${C}/hooks
PostUp = test -n "\$(ifconfig %i)" && echo "post-up sees %i" >> ${C}/hooks
PreDown = echo "pre-down %i" >> ${C}/hooks
PostDown = echo "post-down %i" >> ${C}/hooks
CONF
wgq up "${C}/etc/wg0.conf"
expect_rc 0
err_has "[#] echo \"pre-up wg0\" >> ${C}/hooks"
wgq down "${C}/etc/wg0.conf"
expect_rc 0
same "hook runs" "${C}/hooks" <<OUT
pre-up wg0
post-up wg0wg0
second
post-up sees wg0
pre-down wg0
post-down wg0
OUT

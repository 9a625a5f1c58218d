# wg-quick save, strip and SaveConfig.  Sourced by ../run.sh.

begin "down with SaveConfig = true writes the interface's state back"
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}
Address = 10.0.0.1/24
Address = fd00::1/64
DNS = 10.0.0.53, example.com
MTU = 1400
Table = 1234
SaveConfig = True
PostUp = echo up %i
PreDown = echo down %i

[Peer]
PublicKey = ${PUB1}
AllowedIPs = 10.0.0.2/32
CONF
wgq up "${C}/etc/wg0.conf"
expect_rc 0
changes > /dev/null
# What wg showconf reports once a peer was added at run time.
cat > "${STUB_DIR}/showconf.wg0" <<CONF
[Interface]
ListenPort = 51820
PrivateKey = ${KEY1}

[Peer]
PublicKey = ${PUB1}
AllowedIPs = 10.0.0.2/32

[Peer]
PublicKey = ${PUB2}
AllowedIPs = 10.0.0.3/32
Endpoint = 198.51.100.3:51820
CONF
wgq down "${C}/etc/wg0.conf"
expect_rc 0
err_has "[#] wg showconf wg0"
same "saved configuration" "${C}/etc/wg0.conf" <<CONF
[Interface]
Address = 10.0.0.1/24
Address = fd00::1/64
DNS = 10.0.0.53
DNS = example.com
MTU = 1400
Table = 1234
SaveConfig = true
PostUp = echo up %i
PreDown = echo down %i
ListenPort = 51820
PrivateKey = ${KEY1}

[Peer]
PublicKey = ${PUB1}
AllowedIPs = 10.0.0.2/32

[Peer]
PublicKey = ${PUB2}
AllowedIPs = 10.0.0.3/32
Endpoint = 198.51.100.3:51820
CONF
if [ "$(find "${C}/etc/wg0.conf" -perm 600)" = "${C}/etc/wg0.conf" ] &&
    [ ! -e "${C}/etc/wg0.conf.tmp" ]; then ok; else
	ko "saved file mode or leftover: $(ls -l "${C}/etc")"
fi
no_interface wg0
# The saved file brings the same interface up again.
wgq up "${C}/etc/wg0.conf"
expect_rc 0
expect_changes <<OUT
ifconfig wg0 destroy
resolvconf -d wg0
ifconfig wg0 create
wg setconf wg0 /dev/stdin
ifconfig wg0 inet 10.0.0.1/24 alias
ifconfig wg0 inet6 fd00::1/64 alias
ifconfig wg0 mtu 1400
ifconfig wg0 up
resolvconf -a wg0 -x
route -q -n add -inet -fib 1234 10.0.0.3/32 -interface wg0
route -q -n add -inet -fib 1234 10.0.0.2/32 -interface wg0
OUT

begin "save writes the file and leaves the interface up; SaveConfig = false does not save"
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}
Address = 10.0.0.1/24
SaveConfig = false
CONF
cp "${C}/etc/wg0.conf" "${C}/orig"
wgq up "${C}/etc/wg0.conf"
wgq down "${C}/etc/wg0.conf"
expect_rc 0
if cmp -s "${C}/orig" "${C}/etc/wg0.conf"; then ok; else ko "SaveConfig = false rewrote the file"; fi
wgq up "${C}/etc/wg0.conf"
wgq save "${C}/etc/wg0.conf"
expect_rc 0
same "saved configuration" "${C}/etc/wg0.conf" <<CONF
[Interface]
Address = 10.0.0.1/24
PrivateKey = ${KEY1}
CONF
if [ -e "${STUB_DIR}/if/wg0" ]; then ok; else ko "save took the interface down"; fi

begin "strip prints what wg(8) reads, as wireguard-tools' wg-quick does"
conf wg0 <<CONF
[Interface]
  PrivateKey = ${KEY1}   
Address = 10.0.0.1/24 # trailing comment
	DNS = 10.0.0.53
mtu = 1280
TABLE = off
PreUp = true
postup = true
PreDown=true
PostDown = true
SaveConfig = false
ListenPort = 51820 # kept: wg reads it
[Peer]
PublicKey = ${PUB1}
# a peer's comment
Address = 10.9.9.9/32
AllowedIPs = 0.0.0.0/0
CONF
wgq strip "${C}/etc/wg0.conf"
expect_rc 0
same "strip output" "${C}/out" <<CONF
[Interface]
PrivateKey = ${KEY1}
ListenPort = 51820 # kept: wg reads it
[Peer]
PublicKey = ${PUB1}
# a peer's comment
Address = 10.9.9.9/32
AllowedIPs = 0.0.0.0/0

CONF
if [ -s "${STUB_DIR}/log" ]; then ko "strip ran commands: $(cat "${STUB_DIR}/log")"; else ok; fi
# Byte for byte what Debian's wg-quick (wireguard-tools, Linux) prints.
if [ -x /usr/bin/wg-quick ] && [ "$(id -u)" = 0 ]; then
	if /usr/bin/wg-quick strip "${C}/etc/wg0.conf" > "${C}/reference" 2>/dev/null &&
	    cmp -s "${C}/reference" "${C}/out"; then ok; else
		ko "strip differs from /usr/bin/wg-quick strip"
	fi
fi

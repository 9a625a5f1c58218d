# wg-quick's refusals and the undoing of a failed up.  Sourced by ../run.sh.

begin "usage: wrong arguments fail, help does not"
wgq
expect_rc 1
err_has "Usage: wg-quick [ up | down | save | strip ] [ CONFIG_FILE | INTERFACE ]"
wgq sideways wg0
expect_rc 1
wgq up a b
expect_rc 1
wgq --help
expect_rc 0
err_has "Usage: wg-quick [ up | down | save | strip ] [ CONFIG_FILE | INTERFACE ]"

begin "a missing file is named in the error"
wgq up "${C}/etc/nothere.conf"
expect_rc 1
err_has "wg-quick: \`${C}/etc/nothere.conf' does not exist"
# A bare name is looked for in /etc/wireguard, then
# /usr/local/etc/wireguard: the last one tried is named.
wgq up wgt-none-9q
expect_rc 1
err_has "wg-quick: \`/usr/local/etc/wireguard/wgt-none-9q.conf' does not exist"

begin "invalid interface names are refused"
for name in "bad name" "x!y" "sixteen-chars-xx" ""; do
	cat > "${C}/etc/${name}.conf" <<CONF
[Interface]
PrivateKey = ${KEY1}
CONF
	wgq up "${C}/etc/${name}.conf"
	expect_rc 1
	err_has "wg-quick: The config file must be a valid interface name, followed by .conf"
done
cp "${C}/etc/.conf" "${C}/etc/wg0.cfg"
wgq up "${C}/etc/wg0.cfg"
expect_rc 1
err_has "wg-quick: The config file must be a valid interface name, followed by .conf"
# 15 characters is the limit, and these are allowed.
cp "${C}/etc/.conf" "${C}/etc/a_b=c+d.e-f1234.conf"
wgq up "${C}/etc/a_b=c+d.e-f1234.conf"
expect_rc 0
if [ -s "${STUB_DIR}/log" ]; then ok; else ko "a valid name was refused"; fi

begin "a bad SaveConfig value is refused before anything runs"
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}
SaveConfig = maybe
CONF
wgq up "${C}/etc/wg0.conf"
expect_rc 1
err_has "wg-quick: \`maybe' is neither true nor false"
expect_changes < /dev/null

begin "a world-readable file in a world-readable directory is warned about"
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}
CONF
chmod 755 "${C}/etc"
chmod 644 "${C}/etc/wg0.conf"
wgq strip "${C}/etc/wg0.conf"
expect_rc 0
err_has "Warning: \`${C}/etc/wg0.conf' is world accessible"
chmod 600 "${C}/etc/wg0.conf"
wgq strip "${C}/etc/wg0.conf"
err_lacks "world accessible"

begin "up of an existing interface, down of a non-WireGuard one"
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}
CONF
wgq up "${C}/etc/wg0.conf"
: > "${STUB_DIR}/log"
wgq up "${C}/etc/wg0.conf"
expect_rc 1
err_has "wg-quick: \`wg0' already exists"
expect_changes < /dev/null
conf em0 <<CONF
[Interface]
PrivateKey = ${KEY1}
CONF
wgq down "${C}/etc/em0.conf"
expect_rc 1
err_has "wg-quick: \`em0' is not a WireGuard interface"
expect_changes < /dev/null
wgq save "${C}/etc/em0.conf"
expect_rc 1
err_has "wg-quick: \`em0' is not a WireGuard interface"

begin "a failing wg setconf undoes the interface"
STUB_FAIL="wg setconf"
export STUB_FAIL
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}
Address = 10.0.0.1/24
CONF
wgq up "${C}/etc/wg0.conf"
expect_fail
expect_changes <<OUT
ifconfig wg0 create
wg setconf wg0 /dev/stdin
ifconfig wg0 destroy
OUT
no_interface wg0

begin "a failing PostUp undoes routes, endpoint routes, DNS and the interface"
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}
DNS = 10.0.0.53
PostUp = false

[Peer]
PublicKey = ${PUB1}
AllowedIPs = 0.0.0.0/0
Endpoint = 198.51.100.7:51820
CONF
wgq up "${C}/etc/wg0.conf"
expect_fail
expect_changes <<OUT
ifconfig wg0 create
wg setconf wg0 /dev/stdin
ifconfig wg0 mtu 1420
ifconfig wg0 up
resolvconf -a wg0 -x
route -q -n add -inet 0.0.0.0/1 -interface wg0
route -q -n add -inet 128.0.0.0/1 -interface wg0
route -q -n add -inet 198.51.100.7 -gateway 192.0.2.1
resolvconf -d wg0
ifconfig wg0 destroy
route -q -n delete -inet 198.51.100.7
OUT
no_interface wg0
routes_are < /dev/null

begin "a failing PreUp stops before anything is made"
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}
PreUp = exit 3
CONF
wgq up "${C}/etc/wg0.conf"
expect_fail
expect_changes < /dev/null

begin "no kernel support: the userspace implementation is started"
STUB_KLD=nothing
STUB_FAIL=kldload
WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go
export STUB_FAIL WG_QUICK_USERSPACE_IMPLEMENTATION
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}
CONF
wgq up "${C}/etc/wg0.conf"
expect_rc 0
err_has "[!] Missing WireGuard kernel support (ifconfig: SIOCIFCREATE2 (wg0): Invalid argument). Falling back to slow userspace implementation."
expect_changes <<OUT
kldload -n if_wg
ifconfig wg0 create
wireguard-go wg0
wg setconf wg0 /dev/stdin
ifconfig wg0 mtu 1420
ifconfig wg0 up
OUT

begin "wg-quick never asks for sudo as root and leaves no process behind"
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}

[Peer]
PublicKey = ${PUB1}
AllowedIPs = 0.0.0.0/0, ::/0
Endpoint = 198.51.100.7:51820
CONF
( PATH="${STUBS}:${PATH}" sh "${WGQ}" up "${C}/etc/wg0.conf" > "${C}/out" 2> "${C}/err" ) &
wait $!
RC=$?
expect_rc 0
# Anything still running from this run (its stdout is the out file) would
# be a background monitor.
if command -v fuser > /dev/null 2>&1 && fuser "${C}/out" > /dev/null 2>&1; then
	ko "a process still holds wg-quick's output"
else
	ok
fi
if grep -q '^sudo' "${STUB_DIR}/log"; then ko "sudo was called"; else ok; fi

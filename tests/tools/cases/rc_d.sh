# tools/rc.d/wireguard with a stand-in rc.subr (../rc.subr) and the stubs.
# Sourced by ../run.sh.

# rcd ARG: runs the rc.d script (its rc.subr swapped for ours) with
# $C/rc.conf as the configuration; output in $C/out and $C/err.
rcd()
{
	sed "s|^\\. /etc/rc.subr\$|. ${here}/rc.subr|" "${RCD}" > "${C}/wireguard"
	RC_CONF="${C}/rc.conf" PATH="${STUBS}:${PATH}" \
	    sh "${C}/wireguard" "$1" > "${C}/out" 2> "${C}/err"
	RC=$?
}

begin "rc.d: the script sources /etc/rc.subr and declares itself"
if grep -qx '\. /etc/rc.subr' "${RCD}" &&
    grep -qx '# PROVIDE: wireguard' "${RCD}" &&
    grep -qx '# REQUIRE: NETWORKING' "${RCD}" &&
    grep -qx '# KEYWORD: shutdown' "${RCD}" &&
    grep -qx 'rcvar=wireguard_enable' "${RCD}" &&
    [ -x "${RCD}" ]; then ok; else
	ko "rc.d header lines, rc.subr or mode"
fi

begin "rc.d: start, status, restart, stop over two interfaces"
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}
Address = 10.0.0.1/24
PostUp = echo "\${WGT_MARK:-unset} %i" >> ${C}/env-seen
CONF
conf vpn1 <<CONF
[Interface]
PrivateKey = ${KEY1}
Address = 10.1.0.1/24
CONF
cat > "${C}/rc.conf" <<CONF
wireguard_enable="YES"
wireguard_interfaces="${C}/etc/wg0.conf ${C}/etc/vpn1.conf"
wireguard_env="WGT_MARK=from-env"
wireguard_wg_quick="${WGQ}"
CONF
rcd start
expect_rc 0
expect_changes <<OUT
ifconfig wg0 create
wg setconf wg0 /dev/stdin
ifconfig wg0 inet 10.0.0.1/24 alias
ifconfig wg0 mtu 1420
ifconfig wg0 up
ifconfig wg create name vpn1
wg setconf vpn1 /dev/stdin
ifconfig vpn1 inet 10.1.0.1/24 alias
ifconfig vpn1 mtu 1420
ifconfig vpn1 up
OUT
same "PostUp environment" "${C}/env-seen" <<OUT
from-env wg0
OUT
rcd status
expect_rc 0
same "status output" "${C}/out" <<OUT
interface: wg0
interface: vpn1
OUT
rcd restart
expect_rc 0
expect_changes <<OUT
ifconfig vpn1 destroy
ifconfig wg0 destroy
ifconfig wg0 create
wg setconf wg0 /dev/stdin
ifconfig wg0 inet 10.0.0.1/24 alias
ifconfig wg0 mtu 1420
ifconfig wg0 up
ifconfig wg create name vpn1
wg setconf vpn1 /dev/stdin
ifconfig vpn1 inet 10.1.0.1/24 alias
ifconfig vpn1 mtu 1420
ifconfig vpn1 up
OUT
rcd stop
expect_rc 0
expect_changes <<OUT
ifconfig vpn1 destroy
ifconfig wg0 destroy
OUT
no_interface wg0
no_interface vpn1
rcd status
expect_rc 1
same "status output when stopped" "${C}/out" <<OUT
wg0 is not running.
vpn1 is not running.
OUT

begin "rc.d: one failing interface does not stop the others, and is reported"
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}
SaveConfig = perhaps
CONF
conf wg1 <<CONF
[Interface]
PrivateKey = ${KEY1}
CONF
cat > "${C}/rc.conf" <<CONF
wireguard_enable="YES"
wireguard_interfaces="${C}/etc/wg0.conf ${C}/etc/wg1.conf"
wireguard_wg_quick="${WGQ}"
CONF
rcd start
expect_fail
if [ -e "${STUB_DIR}/if/wg1" ]; then ok; else ko "wg1 was not started after wg0 failed"; fi

begin "rc.d: nothing happens unless enabled; onestart works anyway"
conf wg0 <<CONF
[Interface]
PrivateKey = ${KEY1}
CONF
cat > "${C}/rc.conf" <<CONF
wireguard_interfaces="${C}/etc/wg0.conf"
wireguard_wg_quick="${WGQ}"
CONF
rcd start
expect_rc 0
expect_changes < /dev/null
rcd onestart
expect_rc 0
if [ -e "${STUB_DIR}/if/wg0" ]; then ok; else ko "onestart did not start wg0"; fi
rcd onestop
no_interface wg0

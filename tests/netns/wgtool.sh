#!/bin/sh
# tests/netns/wgtool.sh: our `wg` (tools/wg) against Debian's wireguard-tools
# `wg` on the same live wgd devices.
#
# - show: one wgd device with five peers (one real, with a handshake and
#   traffic; the others with IPv4 and IPv6 allowed IPs, a preshared key,
#   keepalives, endpoints of both families): every `show` form, every field,
#   `dump` and `showconf` print the same bytes from both tools, with colour
#   forced on and off and keys hidden and shown.
# - config: two wgd devices in twin namespaces; the same sequence of
#   setconf, addconf, set and syncconf is applied by Debian's wg to one and
#   by ours to the other; after every step both devices hold the same
#   configuration, and both tools print it the same way.
# - errors: bad configuration files and bad arguments against a live device
#   give the same message and exit status from both tools, and leave the
#   configuration as it was.
#
# Environment: WG (our wg, default target/release/wg), WGD, CI=true,
# WT_KEEP=1, WT_VERBOSE=1.
#
# SPDX-License-Identifier: MIT OR Apache-2.0

WT_LIB_FILE=${WT_LIB_FILE:-$0}
. "$(dirname -- "$WT_LIB_FILE")/lib.sh"

OURWG_BIN=${WG:-$WT_ROOT/target/release/wg}
case "$OURWG_BIN" in /*) ;; *) OURWG_BIN="$WT_ROOT/$OURWG_BIN" ;; esac
DEBWG_BIN=/usr/bin/wg
# Usage texts name argv[0]: both tools run as plain "wg", found through
# a PATH with a directory of their own.
mkdir -p "$WT_DIR/deb" "$WT_DIR/our"
ln -s "$DEBWG_BIN" "$WT_DIR/deb/wg"
ln -s "$OURWG_BIN" "$WT_DIR/our/wg"
DEBWG="PATH=$WT_DIR/deb:$PATH wg"
OURWG="PATH=$WT_DIR/our:$PATH wg"

ipv6_on() {
	nsq "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=0
	nsq "$1" sysctl -qw net.ipv6.conf.default.disable_ipv6=0
}

# same NS DESC ARGS...: Debian's wg and ours, run with the same arguments
# in NS (and the environment words in WT_ENV, e.g. WG_COLOR_MODE=always),
# print the same stdout and stderr and exit alike. Counters and handshake
# ages move, so a differing pair is tried again (up to 3 times) before it
# counts.
WT_ENV=""
same() {
	_ns=$1
	_desc=$2
	shift 2
	_try=0
	while :; do
		# shellcheck disable=SC2086
		nsx "$_ns" env $WT_ENV $DEBWG "$@" > "$WT_DIR/deb.out" 2> "$WT_DIR/deb.err" < /dev/null
		_drc=$?
		# shellcheck disable=SC2086
		nsx "$_ns" env $WT_ENV $OURWG "$@" > "$WT_DIR/our.out" 2> "$WT_DIR/our.err" < /dev/null
		_orc=$?
		if [ "$_drc" = "$_orc" ] && cmp -s "$WT_DIR/deb.out" "$WT_DIR/our.out" &&
		    cmp -s "$WT_DIR/deb.err" "$WT_DIR/our.err"; then
			wt_vlog "same: $_desc: wg $* (exit $_drc)"
			return 0
		fi
		_try=$((_try + 1))
		[ "$_try" -ge 3 ] && break
		sleep 0.3
	done
	echo "# Debian's wg (exit $_drc):"
	cat -A "$WT_DIR/deb.out" "$WT_DIR/deb.err" | head -n 40 | sed 's/^/#   < /'
	echo "# ours (exit $_orc):"
	cat -A "$WT_DIR/our.out" "$WT_DIR/our.err" | head -n 40 | sed 's/^/#   > /'
	fail "$_desc: $WT_ENV wg $* differs"
}

need_tools() {
	[ -x "$OURWG_BIN" ] || skip "our wg not built ($OURWG_BIN missing)"
	[ -x "$DEBWG_BIN" ] || skip "Debian's wg not installed"
	_why=$(wt_impl_ok wgd) || skip "$_why"
}

# psk NAME: a preshared key file.
psk() {
	[ -s "$WT_DIR/$1.psk" ] || (umask 077 && wg genpsk > "$WT_DIR/$1.psk") ||
	    fail "wg genpsk"
}

t_show() {
	need_tools
	ns_add a b
	ipv6_on a
	ipv6_on b
	veth a ab b ba
	addr a ab 172.30.0.1/24
	addr b ba 172.30.0.2/24
	WGA=$(wg_ifname a)
	WGB=$(wg_ifname b)
	for k in p3 p4 p5; do wg_key "$k"; done
	psk ab
	wg_up wgd a "$WGA" a 10.77.0.1/24
	wg_up wgd b "$WGB" b 10.77.0.2/24
	(umask 077 && cat > "$WT_DIR/a-peers.conf") <<CONF
[Interface]
PrivateKey = $(cat "$WT_DIR/a.key")
ListenPort = $WG_PORT
FwMark = 0x1234

[Peer]
PublicKey = $(wg_pub b)
PresharedKey = $(cat "$WT_DIR/ab.psk")
Endpoint = 172.30.0.2:$WG_PORT
AllowedIPs = 10.77.0.2/32, fd77::2/128, 10.78.0.0/16

[Peer]
PublicKey = $(wg_pub p3)
Endpoint = [2001:db8::3]:51000
AllowedIPs = 10.79.3.0/24, 2001:db8:3::/48
PersistentKeepalive = 25

[Peer]
PublicKey = $(wg_pub p4)
Endpoint = 192.0.2.4:4444
AllowedIPs = 0.0.0.0/1

[Peer]
PublicKey = $(wg_pub p5)
CONF
	nsq a wg setconf "$WGA" "$WT_DIR/a-peers.conf"
	nsq b wg set "$WGB" peer "$(wg_pub a)" preshared-key "$WT_DIR/ab.psk" \
	    endpoint "172.30.0.1:$WG_PORT" allowed-ips 10.77.0.1/32
	nsq a ping -n -q -c 3 -i 0.2 -W 2 10.77.0.2
	wg_wait_handshake b "$WGB" 5 || fail "no handshake"

	same a "show" show
	same a "show all" show all
	same a "show interfaces" show interfaces
	same a "show IF" show "$WGA"
	for f in public-key private-key listen-port fwmark peers preshared-keys \
	    endpoints allowed-ips latest-handshakes persistent-keepalive transfer dump; do
		same a "show IF $f" show "$WGA" "$f"
		same a "show all $f" show all "$f"
	done
	same a "showconf" showconf "$WGA"
	for mode in always never; do
		for hide in never always; do
			WT_ENV="WG_COLOR_MODE=$mode WG_HIDE_KEYS=$hide"
			same a "colour $mode, hide keys $hide" show "$WGA"
		done
	done
	WT_ENV="WG_COLOR_MODE=always"
	same a "colour on, all" show all
	WT_ENV=""
	# A missing interface: both ask Linux's generic netlink family
	# "wireguard" and print the kernel's answer ("Protocol not supported"
	# without the family, "No such device" with it).
	for c in show showconf; do
		same a "$c of a missing interface" $c nosuchwg0
	done
	same a "show with a bad field" show "$WGA" bogus-field
	return 0
}

# both NS1 NS2 DESC ARGS...: Debian's wg runs ARGS in NS1 on IF1, ours in
# NS2 on IF2 ("IF" in ARGS is replaced); both must exit alike with the same
# stdout and stderr (interface names replaced by IF).
both() {
	_n1=$1
	_n2=$2
	_desc=$3
	shift 3
	_a1=""
	_a2=""
	for _x in "$@"; do
		[ "$_x" = IF ] && _x1=$WG1 || _x1=$_x
		[ "$_x" = IF ] && _x2=$WG2 || _x2=$_x
		_a1="$_a1 $_x1"
		_a2="$_a2 $_x2"
	done
	# shellcheck disable=SC2086
	nsx "$_n1" env $DEBWG $_a1 > "$WT_DIR/deb.out" 2> "$WT_DIR/deb.err" < /dev/null
	_drc=$?
	# shellcheck disable=SC2086
	nsx "$_n2" env $OURWG $_a2 > "$WT_DIR/our.out" 2> "$WT_DIR/our.err" < /dev/null
	_orc=$?
	sed -i "s/$WG1/IF/g" "$WT_DIR/deb.out" "$WT_DIR/deb.err"
	sed -i "s/$WG2/IF/g" "$WT_DIR/our.out" "$WT_DIR/our.err"
	if [ "$_drc" != "$_orc" ] || ! cmp -s "$WT_DIR/deb.out" "$WT_DIR/our.out" ||
	    ! cmp -s "$WT_DIR/deb.err" "$WT_DIR/our.err"; then
		echo "# Debian's wg (exit $_drc):"
		sed 's/^/#   < /' "$WT_DIR/deb.out" "$WT_DIR/deb.err" | head -n 40
		echo "# ours (exit $_orc):"
		sed 's/^/#   > /' "$WT_DIR/our.out" "$WT_DIR/our.err" | head -n 40
		fail "$_desc: wg$_a1 vs wg$_a2"
	fi
	wt_vlog "alike: $_desc (exit $_drc)"
	return "$_drc"
}

# twins_agree DESC: both devices hold the same configuration, and each
# tool prints it the same way.
twins_agree() {
	nsx c "$DEBWG_BIN" showconf "$WG1" > "$WT_DIR/c.conf" 2>&1 ||
	    fail "$1: showconf c: $(cat "$WT_DIR/c.conf")"
	nsx d "$DEBWG_BIN" showconf "$WG2" > "$WT_DIR/d.conf" 2>&1 ||
	    fail "$1: showconf d: $(cat "$WT_DIR/d.conf")"
	cmp -s "$WT_DIR/c.conf" "$WT_DIR/d.conf" || {
		diff "$WT_DIR/c.conf" "$WT_DIR/d.conf" | sed 's/^/#   /'
		fail "$1: the devices differ (< set by Debian's wg, > by ours)"
	}
	both c d "$1: showconf" showconf IF > /dev/null
	both c d "$1: dump" show IF dump > /dev/null
	return 0
}

# conf NAME: writes WT_DIR/NAME.conf from stdin.
conf() { (umask 077 && cat > "$WT_DIR/$1.conf"); }

t_config() {
	need_tools
	ns_add c d
	ipv6_on c
	ipv6_on d
	WG1=$(wg_ifname c)
	WG2=$(wg_ifname d)
	for k in dev q1 q2 q3 q4; do wg_key "$k"; done
	psk q2
	wg_start wgd c "$WG1"
	wg_start wgd d "$WG2"

	conf one <<CONF
# a comment line
[Interface]
PrivateKey = $(cat "$WT_DIR/dev.key")
ListenPort = 51999
FwMark = 77

[Peer]
PublicKey = $(wg_pub q1)
AllowedIPs = 10.1.0.0/16,10.2.0.1/32
AllowedIPs = fd00:1::/64
Endpoint = 198.51.100.1:51820 # trailing comment
PersistentKeepalive = 15

[Peer]
PublicKey = $(wg_pub q2)
PresharedKey = $(cat "$WT_DIR/q2.psk")
Endpoint = [2001:db8::2]:1234
AllowedIPs = 192.168.0.0/24
CONF
	conf two <<CONF
[Peer]
PublicKey = $(wg_pub q3)
AllowedIPs = 10.3.0.0/16
Endpoint = 203.0.113.3:3333

[Peer]
PublicKey = $(wg_pub q1)
AllowedIPs = 10.4.0.0/16
CONF
	conf three <<CONF
[Interface]
PrivateKey = $(cat "$WT_DIR/dev.key")
ListenPort = 51998

[Peer]
PublicKey = $(wg_pub q3)
AllowedIPs = 10.3.0.0/17
Endpoint = 203.0.113.3:3333

[Peer]
PublicKey = $(wg_pub q4)
AllowedIPs = ::/0
CONF
	both c d "setconf" setconf IF "$WT_DIR/one.conf" || fail "setconf failed"
	twins_agree "after setconf"
	both c d "addconf" addconf IF "$WT_DIR/two.conf" || fail "addconf failed"
	twins_agree "after addconf"
	both c d "set" set IF listen-port 52001 fwmark off peer "$(wg_pub q2)" \
	    preshared-key /dev/null persistent-keepalive 5 allowed-ips 10.9.0.0/24,fd09::/32 \
	    peer "$(wg_pub q3)" remove || fail "set failed"
	twins_agree "after set"
	both c d "syncconf" syncconf IF "$WT_DIR/three.conf" || fail "syncconf failed"
	twins_agree "after syncconf"
	both c d "setconf again" setconf IF "$WT_DIR/one.conf" || fail "setconf failed"
	twins_agree "after setconf again"
	return 0
}

t_errors() {
	need_tools
	ns_add e
	WG1=$(wg_ifname e)
	WG2=$WG1
	wg_key dev
	wg_start wgd e "$WG1"
	conf good <<CONF
[Interface]
PrivateKey = $(cat "$WT_DIR/dev.key")
ListenPort = 51997
CONF
	nsq e wg setconf "$WG1" "$WT_DIR/good.conf"
	nsx e wg showconf "$WG1" > "$WT_DIR/before.conf"

	# Each bad file: a header, then one bad line.
	n=0
	while IFS='|' read -r section line; do
		n=$((n + 1))
		printf '[Interface]\nListenPort = 51996\n[%s]\n%s\n' "$section" "$line" |
		    conf "bad$n"
		both e e "bad config: [$section] $line" setconf IF "$WT_DIR/bad$n.conf" &&
		    fail "setconf accepted [$section] $line"
		both e e "bad config (addconf): [$section] $line" addconf IF "$WT_DIR/bad$n.conf" &&
		    fail "addconf accepted [$section] $line"
		both e e "bad config (syncconf): [$section] $line" syncconf IF "$WT_DIR/bad$n.conf" &&
		    fail "syncconf accepted [$section] $line"
	done <<'BAD'
Interface|ListenPort = -1
Interface|ListenPort = port
Interface|FwMark = 0x1ffffffff
Interface|FwMark = mark
Interface|PrivateKey = short
Interface|PrivateKey = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
Interface|Bogus = 1
Interface|Address = 10.0.0.1/24
Peer|AllowedIPs = 10.0.0.0/24
Peer|PublicKey = not-a-key
Peer|PersistentKeepalive = 65536
Peer|PersistentKeepalive = sometimes
Bogus|Key = value
Interface|=
BAD
	conf nokey <<CONF
[Peer]
PublicKey = $(wg_pub dev)
AllowedIPs = 10.0.0.0/33
CONF
	both e e "prefix too long" setconf IF "$WT_DIR/nokey.conf" &&
	    fail "setconf accepted /33"
	conf noep <<CONF
[Peer]
PublicKey = $(wg_pub dev)
Endpoint = 1.2.3.4
CONF
	both e e "endpoint without port" setconf IF "$WT_DIR/noep.conf" &&
	    fail "setconf accepted an endpoint without port"
	both e e "missing file" setconf IF "$WT_DIR/missing.conf" &&
	    fail "setconf accepted a missing file"
	# Debian's wg takes a port above 65535 modulo 65536 (getaddrinfo's
	# service parsing); ours refuses it: a deliberate difference.
	nsx e "$OURWG_BIN" set "$WG1" listen-port 65536 2> "$WT_DIR/port.err" &&
	    fail "ours accepted listen-port 65536"
	grep -q . "$WT_DIR/port.err" || fail "no message for listen-port 65536"
	both e e "set: bad port" set IF listen-port port && fail "accepted port 'port'"
	both e e "set: bad key" set IF peer notakey && fail "accepted a bad peer key"
	both e e "set: bad keepalive" set IF peer "$(wg_pub dev)" persistent-keepalive x &&
	    fail "accepted keepalive x"
	both e e "set: bad allowed ip" set IF peer "$(wg_pub dev)" allowed-ips 10.0.0.0/99 &&
	    fail "accepted /99"
	both e e "set: missing key file" set IF private-key "$WT_DIR/none.key" &&
	    fail "accepted a missing key file"
	both e e "set: dangling keyword" set IF peer && fail "accepted a dangling peer"
	both e e "set: unknown keyword" set IF frobnicate 1 && fail "accepted frobnicate"
	both e e "setconf: too few args" setconf IF && fail "accepted setconf IF"
	both e e "set: no interface" set && fail "accepted a bare set"
	nsx e wg showconf "$WG1" > "$WT_DIR/after.conf"
	cmp -s "$WT_DIR/before.conf" "$WT_DIR/after.conf" ||
	    fail "a rejected request changed the configuration"
	return 0
}

[ "${WT_WGTOOL_NORUN:-0}" = 1 ] && return 0

wt_need_root
wt_trap
wt_ensure ip wg ping timeout || {
	if wt_is_ci; then
		echo "not ok - prerequisites"
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "# SKIP: missing prerequisites"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}

echo "# wg tool tests, run $WT_ID (ours: $OURWG_BIN, Debian's: $DEBWG_BIN)"
run_test "wg show forms: ours and Debian's print the same bytes" t_show
run_test "setconf/addconf/set/syncconf: ours and Debian's make the same device" t_config
run_test "bad files and arguments: same messages and exit codes, nothing changed" t_errors
wt_summary

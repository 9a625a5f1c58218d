#!/bin/sh
# tests/netns/kharness-wg.sh: our `wg` with its FreeBSD backend against
# kmod/if_wg.c running in kharness (issue 11, front door 2).
#
# kharness serves two ways in to the same live interface: its control
# door ($WT_DIR/IF.ctl, where ioctl(2) stands on FreeBSD) and, through its
# bridge kharness-uapi, the UAPI socket /var/run/wireguard/IF.sock.  Our
# wg goes through the door (WG_KHARNESS_SOCKET=DOOR: the FreeBSD
# backend's SIOCGWG/SIOCSWG, nvlists, size negotiation, errno, listing);
# Debian's wg goes through UAPI.  Both must see and make the same device:
#
# - show: a harness interface with four peers (one real, a wgd in another
#   namespace, with a handshake and traffic; others with IPv4 and IPv6
#   endpoints and allowed IPs, a preshared key, a keepalive): every `show`
#   form, `dump` and `showconf` print the same bytes from both tools.
# - config: two harness interfaces in twin namespaces; the same setconf,
#   addconf, set (keys, port, peers with PSK, endpoints v4/v6, allowed IPs,
#   keepalive, remove) and syncconf go through Debian's wg to one and ours
#   to the other; after every step both devices hold the same
#   configuration, each tool prints the other's device as the other does,
#   and each reads back what the other set.
# - door: our wg really uses the door (a dead door is an error, not a
#   fallback to UAPI), names the door does not know still reach UAPI
#   daemons (wgd), an unknown name is the kernel's ENXIO; and without root
#   the door's caller lacks PRIV_NET_WG, as on FreeBSD: no private key
#   shown (as `kharness ctl DOOR -u get` shows), EPERM to set.
#
# Needs root, `make kharness` (target/kharness/asan/kharness and
# target/release/{kharness-uapi,wg,wgd}) and Debian's wireguard-tools.
# Environment: WG (our wg), KHARNESS, KHARNESS_UAPI, WGD, CI=true,
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
# A copy, not a link: the unprivileged case runs it as nobody, who cannot
# reach a checkout under a private directory (mktemp -d is mode 700).
cp "$OURWG_BIN" "$WT_DIR/our/wg"
chmod 755 "$WT_DIR/our/wg"

ipv6_on() {
	nsq "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=0
	nsq "$1" sysctl -qw net.ipv6.conf.default.disable_ipv6=0
}

need_tools() {
	[ -x "$OURWG_BIN" ] || skip "our wg not built ($OURWG_BIN missing)"
	[ -x "$DEBWG_BIN" ] || skip "Debian's wg not installed"
	_why=$(wt_impl_ok kharness) || skip "$_why"
}

# deb NS ARGS...: Debian's wg in NS (UAPI).
deb() {
	_dn=$1
	shift
	nsx "$_dn" env "PATH=$WT_DIR/deb:$PATH" wg "$@"
}

# our NS DOOR ARGS...: our wg in NS through the door DOOR.
our() {
	_on=$1
	_od=$2
	shift 2
	nsx "$_on" env "PATH=$WT_DIR/our:$PATH" WG_KHARNESS_SOCKET="$_od" wg "$@"
}

# door IF: IF's control door (lib.sh's wg_start puts it there).
door() { echo "$WT_DIR/$1.ctl"; }

# show_diff: prints the two tools' last outputs.
show_diff() {
	echo "# Debian's wg, UAPI (exit $_drc):"
	cat -A "$WT_DIR/deb.out" "$WT_DIR/deb.err" | head -n 40 | sed 's/^/#   < /'
	echo "# ours, door (exit $_orc):"
	cat -A "$WT_DIR/our.out" "$WT_DIR/our.err" | head -n 40 | sed 's/^/#   > /'
}

# same NS IF DESC ARGS...: Debian's wg (UAPI) and ours (IF's door), with
# the same arguments in NS (and the environment words in WT_ENV), print
# the same stdout and stderr and exit alike. Counters and handshake ages
# move, so a differing pair is tried again (up to 3 times). FILTER, if
# set, is a command both outputs go through first.
WT_ENV=""
FILTER=cat
same() {
	_ns=$1
	_if=$2
	_desc=$3
	shift 3
	_try=0
	while :; do
		# shellcheck disable=SC2086
		nsx "$_ns" env $WT_ENV "PATH=$WT_DIR/deb:$PATH" wg "$@" \
		    > "$WT_DIR/deb.raw" 2> "$WT_DIR/deb.err" < /dev/null
		_drc=$?
		# shellcheck disable=SC2086
		nsx "$_ns" env $WT_ENV "PATH=$WT_DIR/our:$PATH" \
		    WG_KHARNESS_SOCKET="$(door "$_if")" wg "$@" \
		    > "$WT_DIR/our.raw" 2> "$WT_DIR/our.err" < /dev/null
		_orc=$?
		$FILTER < "$WT_DIR/deb.raw" > "$WT_DIR/deb.out"
		$FILTER < "$WT_DIR/our.raw" > "$WT_DIR/our.out"
		if [ "$_drc" = "$_orc" ] && cmp -s "$WT_DIR/deb.out" "$WT_DIR/our.out" &&
		    cmp -s "$WT_DIR/deb.err" "$WT_DIR/our.err"; then
			wt_vlog "same: $_desc: wg $* (exit $_drc)"
			return 0
		fi
		_try=$((_try + 1))
		[ "$_try" -ge 3 ] && break
		sleep 0.3
	done
	show_diff
	fail "$_desc: $WT_ENV wg $* differs"
}

# block IF: keeps only IF's block of a `wg show` listing (other runs'
# UAPI daemons share /var/run/wireguard, and are listed after the door's).
block() {
	awk -v i="$BLOCK_IF" '
		/^(\033\[[0-9;]*m)*interface(\033\[[0-9;]*m)*: / {
			s = $0; gsub(/\033\[[0-9;]*m/, "", s); on = (s == "interface: " i)
		}
		on' | sed -e '${/^$/d;}'
}

# only_if: keeps lines of IF (dump and per-field forms of `show all`).
only_if() { awk -v i="$BLOCK_IF" '$1 == i'; }

# psk NAME: a preshared key file.
psk() {
	[ -s "$WT_DIR/$1.psk" ] || (umask 077 && wg genpsk > "$WT_DIR/$1.psk") ||
	    fail "wg genpsk"
}

# conf NAME: writes WT_DIR/NAME.conf from stdin.
conf() { (umask 077 && cat > "$WT_DIR/$1.conf"); }

t_show() {
	need_tools
	_why=$(wt_impl_ok wgd) || skip "$_why"
	ns_add a b
	ipv6_on a
	ipv6_on b
	veth a ab b ba
	addr a ab 172.30.0.1/24
	addr b ba 172.30.0.2/24
	WGA=$(wg_ifname a)
	WGB=$(wg_ifname b)
	for k in p3 p4; do wg_key "$k"; done
	psk ab
	wg_up kharness a "$WGA" a 10.77.0.1/24
	wg_up wgd b "$WGB" b 10.77.0.2/24
	conf a-peers <<CONF
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
CONF
	# Configured through the door: setconf by ours.
	our a "$(door "$WGA")" setconf "$WGA" "$WT_DIR/a-peers.conf" > "$WT_DIR/o" 2>&1 ||
	    fail "our setconf through the door: $(cat "$WT_DIR/o")"
	nsq b wg set "$WGB" peer "$(wg_pub a)" preshared-key "$WT_DIR/ab.psk" \
	    endpoint "172.30.0.1:$WG_PORT" allowed-ips 10.77.0.1/32
	nsq a ping -n -q -c 3 -i 0.2 -W 2 10.77.0.2
	wg_wait_handshake b "$WGB" 5 || fail "no handshake"

	same a "$WGA" "show IF" show "$WGA"
	for f in public-key private-key listen-port fwmark peers preshared-keys \
	    endpoints allowed-ips latest-handshakes persistent-keepalive transfer dump; do
		same a "$WGA" "show IF $f" show "$WGA" "$f"
	done
	same a "$WGA" "showconf" showconf "$WGA"
	for mode in always never; do
		for hide in never always; do
			WT_ENV="WG_COLOR_MODE=$mode WG_HIDE_KEYS=$hide"
			same a "$WGA" "colour $mode, hide keys $hide" show "$WGA"
		done
	done
	WT_ENV=""
	# The listings: other runs' daemons may be in /var/run/wireguard
	# too, so only IF's part is compared, and IF must be in both.
	BLOCK_IF=$WGA
	FILTER=block
	same a "$WGA" "show (IF's block)" show
	same a "$WGA" "show all (IF's block)" show all
	WT_ENV="WG_COLOR_MODE=always"
	same a "$WGA" "show all, colour (IF's block)" show all
	WT_ENV=""
	FILTER=only_if
	for f in dump endpoints allowed-ips transfer preshared-keys; do
		same a "$WGA" "show all $f (IF's lines)" show all "$f"
	done
	FILTER=cat
	for t in deb our; do
		if [ $t = deb ]; then
			deb a show interfaces > "$WT_DIR/ifs" 2>&1
		else
			our a "$(door "$WGA")" show interfaces > "$WT_DIR/ifs" 2>&1
		fi
		tr ' ' '\n' < "$WT_DIR/ifs" | grep -qx "$WGA" ||
		    fail "$t: show interfaces lacks $WGA: $(cat "$WT_DIR/ifs")"
	done
	# The door's interfaces come first, as a FreeBSD kernel's do.
	[ "$(cut -d ' ' -f 1 < "$WT_DIR/ifs")" = "$WGA" ] ||
	    fail "ours: $WGA is not listed first: $(cat "$WT_DIR/ifs")"
	return 0
}

# both DESC ARGS...: Debian's wg runs ARGS in c on WG1 (UAPI), ours in d
# on WG2 (its door) ("IF" in ARGS is replaced); both must exit alike with
# the same stdout and stderr (interface names replaced by IF).
both() {
	_desc=$1
	shift
	_a1=""
	_a2=""
	for _x in "$@"; do
		[ "$_x" = IF ] && _x1=$WG1 || _x1=$_x
		[ "$_x" = IF ] && _x2=$WG2 || _x2=$_x
		_a1="$_a1 $_x1"
		_a2="$_a2 $_x2"
	done
	# shellcheck disable=SC2086
	deb c $_a1 > "$WT_DIR/deb.out" 2> "$WT_DIR/deb.err" < /dev/null
	_drc=$?
	# shellcheck disable=SC2086
	our d "$(door "$WG2")" $_a2 > "$WT_DIR/our.out" 2> "$WT_DIR/our.err" < /dev/null
	_orc=$?
	sed -i "s/$WG1/IF/g" "$WT_DIR/deb.out" "$WT_DIR/deb.err"
	sed -i "s/$WG2/IF/g" "$WT_DIR/our.out" "$WT_DIR/our.err"
	if [ "$_drc" != "$_orc" ] || ! cmp -s "$WT_DIR/deb.out" "$WT_DIR/our.out" ||
	    ! cmp -s "$WT_DIR/deb.err" "$WT_DIR/our.err"; then
		show_diff
		fail "$_desc: wg$_a1 vs wg$_a2"
	fi
	wt_vlog "alike: $_desc (exit $_drc)"
	return "$_drc"
}

# crossed NS IF DESC: on one device, each tool prints what the other
# set as the other prints it (showconf and dump through UAPI and door).
crossed() {
	deb "$1" showconf "$2" > "$WT_DIR/x.deb" 2>&1 ||
	    fail "$3: Debian's showconf $2: $(cat "$WT_DIR/x.deb")"
	our "$1" "$(door "$2")" showconf "$2" > "$WT_DIR/x.our" 2>&1 ||
	    fail "$3: our showconf $2: $(cat "$WT_DIR/x.our")"
	cmp -s "$WT_DIR/x.deb" "$WT_DIR/x.our" || {
		diff "$WT_DIR/x.deb" "$WT_DIR/x.our" | sed 's/^/#   /'
		fail "$3: showconf of $2 differs (< UAPI, > door)"
	}
	deb "$1" show "$2" dump > "$WT_DIR/x.deb" 2>&1
	our "$1" "$(door "$2")" show "$2" dump > "$WT_DIR/x.our" 2>&1
	cmp -s "$WT_DIR/x.deb" "$WT_DIR/x.our" || {
		diff "$WT_DIR/x.deb" "$WT_DIR/x.our" | sed 's/^/#   /'
		fail "$3: dump of $2 differs (< UAPI, > door)"
	}
}

# twins_agree DESC: both devices hold the same configuration; each tool
# prints each device alike.
twins_agree() {
	deb c showconf "$WG1" > "$WT_DIR/c.conf" 2>&1 ||
	    fail "$1: showconf c: $(cat "$WT_DIR/c.conf")"
	deb d showconf "$WG2" > "$WT_DIR/d.conf" 2>&1 ||
	    fail "$1: showconf d: $(cat "$WT_DIR/d.conf")"
	cmp -s "$WT_DIR/c.conf" "$WT_DIR/d.conf" || {
		diff "$WT_DIR/c.conf" "$WT_DIR/d.conf" | sed 's/^/#   /'
		fail "$1: the devices differ (< set by Debian's wg, > by ours)"
	}
	both "$1: showconf" showconf IF > /dev/null
	both "$1: dump" show IF dump > /dev/null
	crossed c "$WG1" "$1 (set by Debian's wg)"
	crossed d "$WG2" "$1 (set by ours)"
	return 0
}

t_config() {
	need_tools
	ns_add c d
	ipv6_on c
	ipv6_on d
	WG1=$(wg_ifname c)
	WG2=$(wg_ifname d)
	for k in dev dev2 q1 q2 q3 q4; do wg_key "$k"; done
	psk q2
	psk q4
	wg_start kharness c "$WG1"
	wg_start kharness d "$WG2"
	twins_agree "fresh"

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
	both "setconf" setconf IF "$WT_DIR/one.conf" || fail "setconf failed"
	twins_agree "after setconf"
	both "addconf" addconf IF "$WT_DIR/two.conf" || fail "addconf failed"
	twins_agree "after addconf"
	both "set" set IF listen-port 52001 fwmark off peer "$(wg_pub q2)" \
	    preshared-key /dev/null persistent-keepalive 5 allowed-ips 10.9.0.0/24,fd09::/32 \
	    peer "$(wg_pub q3)" remove || fail "set failed"
	twins_agree "after set"
	# (q1 gets a PSK and a keepalive, q4 none: syncconf below keeps q4
	# and removes q1. Had it to clear a kept peer's PSK or keepalive, the
	# two would differ: ours does as wireguard-tools 1.0.20250521 does,
	# Debian's wg is older; see tools/wg/src/syncconf.rs.)
	both "set keys, peers" set IF private-key "$WT_DIR/dev2.key" \
	    peer "$(wg_pub q4)" endpoint "[2001:db8:4::4]:4444" \
	    allowed-ips 10.44.0.0/16,fd44::/48 \
	    peer "$(wg_pub q1)" preshared-key "$WT_DIR/q4.psk" \
	    endpoint 192.0.2.11:1111 allowed-ips 10.11.0.0/16 \
	    persistent-keepalive 25 || fail "set failed"
	twins_agree "after set keys, peers"
	both "syncconf" syncconf IF "$WT_DIR/three.conf" || fail "syncconf failed"
	twins_agree "after syncconf"
	both "setconf again" setconf IF "$WT_DIR/one.conf" || fail "setconf failed"
	twins_agree "after setconf again"
	# Crossed on one device: set through one tool, read through the other.
	deb c setconf "$WG1" "$WT_DIR/three.conf" || fail "Debian's setconf"
	crossed c "$WG1" "setconf through UAPI"
	our c "$(door "$WG1")" setconf "$WG1" "$WT_DIR/one.conf" ||
	    fail "our setconf through the door"
	crossed c "$WG1" "setconf through the door"
	deb c showconf "$WG1" > "$WT_DIR/x.conf"
	grep -q "^PresharedKey = $(cat "$WT_DIR/q2.psk")\$" "$WT_DIR/x.conf" ||
	    fail "the PSK set through the door is not what UAPI shows"
	grep -q "^PrivateKey = $(cat "$WT_DIR/dev.key")\$" "$WT_DIR/x.conf" ||
	    fail "the private key set through the door is not what UAPI shows"
	# An empty device through either.
	both "setconf empty" setconf IF /dev/null || fail "setconf /dev/null failed"
	twins_agree "after setconf empty"
	return 0
}

t_door() {
	need_tools
	_why=$(wt_impl_ok wgd) || skip "$_why"
	ns_add e
	WGE=$(wg_ifname e)
	WGU=$(wg_ifname u)
	D=$(door "$WGE")
	wg_key e
	wg_start kharness e "$WGE"
	wg_start wgd e "$WGU"
	nsq e wg set "$WGE" private-key "$WT_DIR/e.key" listen-port 51777
	nsq e wg set "$WGU" listen-port 51778

	# A dead door is an error of the door, never a fallback to UAPI.
	our e "$WT_DIR/none.ctl" show "$WGE" > "$WT_DIR/o" 2>&1 &&
	    fail "ours showed $WGE through a door that is not there"
	grep -qx "Unable to access interface: No such file or directory" "$WT_DIR/o" ||
	    fail "dead door: $(cat "$WT_DIR/o")"
	# The door's kernel does not know the wgd interface: UAPI serves it.
	our e "$D" showconf "$WGU" > "$WT_DIR/o" 2>&1 ||
	    fail "ours cannot reach $WGU through UAPI with a door: $(cat "$WT_DIR/o")"
	grep -qx "ListenPort = 51778" "$WT_DIR/o" || fail "showconf $WGU: $(cat "$WT_DIR/o")"
	our e "$D" set "$WGU" listen-port 51779 || fail "set $WGU through UAPI"
	deb e show "$WGU" listen-port | grep -qx 51779 || fail "set $WGU did not land"
	# Listed: the door's first, then UAPI's.
	our e "$D" show interfaces > "$WT_DIR/o" 2>&1 || fail "show interfaces"
	case " $(cat "$WT_DIR/o") " in
	" $WGE "*"$WGU "*) ;;
	*) fail "show interfaces: $(cat "$WT_DIR/o")" ;;
	esac
	# Neither knows the name: the kernel's ENXIO through the door.
	our e "$D" show nosuchwg0 > "$WT_DIR/o" 2>&1 && fail "showed nosuchwg0"
	grep -qx "Unable to access interface: No such device or address" "$WT_DIR/o" ||
	    fail "nosuchwg0: $(cat "$WT_DIR/o")"

	# Unprivileged: the door is opened to others for this, as a FreeBSD
	# socket is to everyone; the caller is "nobody".
	command -v setpriv > /dev/null 2>&1 || skip "no setpriv (util-linux)"
	_k=$WT_ROOT/kmod/harness/kharness
	[ -x "$_k" ] || _k=$KHARNESS
	chmod 711 "$WT_DIR"
	chmod 666 "$D"
	_priv=$(base64 -d < "$WT_DIR/e.key" | od -An -tx1 | tr -d ' \n')
	[ ${#_priv} -eq 64 ] || fail "cannot decode the private key"
	nsx e "$_k" ctl "$D" get "$WGE" | sed 1d | tr -d '\n' > "$WT_DIR/priv.hex"
	grep -q "$_priv" "$WT_DIR/priv.hex" || fail "kharness ctl get: no private key"
	nsx e "$_k" ctl "$D" -u get "$WGE" | sed 1d | tr -d '\n' > "$WT_DIR/unpriv.hex"
	[ -s "$WT_DIR/unpriv.hex" ] || fail "kharness ctl -u get: nothing"
	grep -q "$_priv" "$WT_DIR/unpriv.hex" && fail "kharness ctl -u get: the private key"
	# By path: through PATH a wg nobody cannot run would be skipped for
	# Debian's, and the case would test the wrong tool.
	nobody() {
		nsx e setpriv --reuid=65534 --regid=65534 --clear-groups \
		    env WG_KHARNESS_SOCKET="$D" "$WT_DIR/our/wg" "$@"
	}
	nobody show "$WGE" private-key > "$WT_DIR/o" 2>&1 ||
	    fail "nobody: show private-key: $(cat "$WT_DIR/o")"
	[ "$(cat "$WT_DIR/o")" = "(none)" ] || fail "nobody sees a private key: $(cat "$WT_DIR/o")"
	nobody show "$WGE" public-key > "$WT_DIR/o" 2>&1 || fail "nobody: public-key"
	[ "$(cat "$WT_DIR/o")" = "$(wg_pub e)" ] || fail "nobody: public key $(cat "$WT_DIR/o")"
	nobody show "$WGE" listen-port > "$WT_DIR/o" 2>&1 || fail "nobody: listen-port"
	[ "$(cat "$WT_DIR/o")" = 51777 ] || fail "nobody: listen-port $(cat "$WT_DIR/o")"
	nobody showconf "$WGE" > "$WT_DIR/o" 2>&1 || fail "nobody: showconf"
	grep -q PrivateKey "$WT_DIR/o" && fail "nobody's showconf has a private key"
	nobody set "$WGE" listen-port 51780 > "$WT_DIR/o" 2>&1 && fail "nobody set the port"
	grep -qx "Unable to modify interface: Operation not permitted" "$WT_DIR/o" ||
	    fail "nobody: set: $(cat "$WT_DIR/o")"
	deb e show "$WGE" listen-port | grep -qx 51777 || fail "nobody's set landed"
	return 0
}

[ "${WT_KHWG_NORUN:-0}" = 1 ] && return 0

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

echo "# our wg through kharness's door vs Debian's through UAPI, run $WT_ID" \
    "(ours: $OURWG_BIN, kharness: $KHARNESS)"
run_test "wg show forms: ours (door) and Debian's (UAPI) print the same bytes" t_show
run_test "setconf/addconf/set/syncconf: door and UAPI make and see the same device" t_config
run_test "the door: no fallback, UAPI for others, ENXIO, unprivileged callers" t_door
wt_summary

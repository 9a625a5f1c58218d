# shellcheck shell=sh
# tests/netns/lib.sh: helpers for WireGuard tests in Linux network
# namespaces (POSIX sh; sourced by seed.sh, demo.sh, bench-tunnel.sh).
#
# Every run gets a unique prefix (WT_ID, from the shell's pid), so parallel
# runs do not collide: namespaces are "wt<id>-<name>", WireGuard interfaces
# "w<id>t<test><tag>" (their UAPI sockets share /var/run/wireguard across
# namespaces, so their names must be unique on the machine).  Everything a
# run creates (processes, namespaces) is recorded in files under WT_DIR and
# removed by wt_cleanup, which the EXIT/INT/TERM trap calls.  Every wait is
# bounded.
#
# SPDX-License-Identifier: MIT OR Apache-2.0

WT_LIB_DIR=$(cd "$(dirname -- "${WT_LIB_FILE:-$0}")" && pwd)
WT_ROOT=$(cd "$WT_LIB_DIR/../.." && pwd)
WT_ID=${WT_ID:-$$}
WT_PREFIX="wt${WT_ID}"
WT_TESTNO=0
WT_PASSED=0
WT_FAILED=0
WT_SKIPPED=0
WT_SOCKDIR=/var/run/wireguard
WG_PORT=${WG_PORT:-51820}
WGD=${WGD:-$WT_ROOT/target/release/wgd}
case "$WGD" in /*) ;; *) WGD="$WT_ROOT/$WGD" ;; esac
# kmod/if_wg.c in its userspace FreeBSD-KPI harness (make kharness), and
# the UAPI bridge it starts.
KHARNESS=${KHARNESS:-$WT_ROOT/target/kharness/asan/kharness}
KHARNESS_UAPI=${KHARNESS_UAPI:-$WT_ROOT/target/release/kharness-uapi}
export KHARNESS_UAPI
WT_KEEP=${WT_KEEP:-0}
WT_VERBOSE=${WT_VERBOSE:-0}

WT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/wgnetns.XXXXXX") || exit 1
: > "$WT_DIR/pids"
: > "$WT_DIR/ns"

# --- messages ---------------------------------------------------------------

wt_log() { printf '# %s\n' "$*"; }
wt_vlog() { [ "$WT_VERBOSE" = 1 ] && printf '#   %s\n' "$*"; return 0; }

# fail MSG: inside a test (run in a subshell by run_test): report and stop.
fail() {
	printf '# FAIL: %s\n' "$*"
	exit 1
}

# skip MSG: inside a test: skip it (a failure when CI=true).
skip() {
	printf '# SKIP: %s\n' "$*"
	exit 77
}

# --- prerequisites ------------------------------------------------------------

wt_is_ci() { [ "${CI:-}" = true ]; }

# wt_need_root: exits the script (skip, or fail under CI=true) when not root.
wt_need_root() {
	[ "$(id -u)" -eq 0 ] && return 0
	rm -rf "$WT_DIR"
	if wt_is_ci; then
		echo "not ok - netns tests need root (CI=true: not skipping)"
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "# SKIP: the network-namespace tests need root"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}

# wt_pkg_for CMD: the Debian package that provides CMD.
wt_pkg_for() {
	case "$1" in
	wg | wg-quick) echo wireguard-tools ;;
	wireguard-go) echo wireguard-go ;;
	ping) echo iputils-ping ;;
	ip | bridge | ss) echo iproute2 ;;
	nft) echo nftables ;;
	tcpdump) echo tcpdump ;;
	iperf3) echo iperf3 ;;
	python3) echo python3 ;;
	timeout | mktemp) echo coreutils ;;
	*) echo "$1" ;;
	esac
}

# wt_ensure CMD...: installs the Debian packages for missing commands when
# root on Debian (WT_NO_INSTALL=1 disables it); returns 1 if any is still
# missing, after naming it.
wt_ensure() {
	_missing=""
	for _c in "$@"; do
		command -v "$_c" > /dev/null 2>&1 || _missing="$_missing $_c"
	done
	[ -z "$_missing" ] && return 0
	if [ "${WT_NO_INSTALL:-0}" != 1 ] && [ "$(id -u)" -eq 0 ] &&
	    command -v apt-get > /dev/null 2>&1; then
		_pkgs=""
		for _c in $_missing; do _pkgs="$_pkgs $(wt_pkg_for "$_c")"; done
		wt_log "installing:$_pkgs"
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $_pkgs \
		    > "$WT_DIR/apt.log" 2>&1 || {
			apt-get update -qq > /dev/null 2>&1
			# shellcheck disable=SC2086
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $_pkgs \
			    > "$WT_DIR/apt.log" 2>&1
		}
	fi
	_still=""
	for _c in $_missing; do
		command -v "$_c" > /dev/null 2>&1 || _still="$_still $_c"
	done
	[ -z "$_still" ] && return 0
	wt_log "missing:$_still"
	return 1
}

# wt_impl_ok IMPL: is this implementation runnable? (message on stdout if not)
wt_impl_ok() {
	case "$1" in
	wgd)
		[ -x "$WGD" ] || { echo "wgd not built ($WGD missing)"; return 1; } ;;
	wireguard-go)
		command -v wireguard-go > /dev/null 2>&1 ||
		    { echo "wireguard-go not installed"; return 1; } ;;
	kharness)
		[ -x "$KHARNESS" ] && [ -x "$KHARNESS_UAPI" ] ||
		    { echo "kharness not built ($KHARNESS, $KHARNESS_UAPI)"; return 1; } ;;
	*) echo "unknown IMPL '$1'"; return 1 ;;
	esac
	return 0
}

# --- cleanup --------------------------------------------------------------------

wt_track_pid() { echo "$1" >> "$WT_DIR/pids"; }

# wt_pid_alive PID
wt_pid_alive() { kill -0 "$1" 2> /dev/null; }

# wt_wait_pid PID SECS: waits (bounded) for PID to exit.
wt_wait_pid() {
	_n=0
	while wt_pid_alive "$1"; do
		[ "$_n" -ge $(($2 * 10)) ] && return 1
		sleep 0.1
		_n=$((_n + 1))
	done
	return 0
}

# wt_teardown: kills every recorded process, deletes every recorded
# namespace and leftover UAPI socket of this run.  Idempotent.
wt_teardown() {
	if [ -s "$WT_DIR/pids" ]; then
		while read -r _p; do
			kill "$_p" 2> /dev/null
		done < "$WT_DIR/pids"
		while read -r _p; do
			wt_wait_pid "$_p" 5 || kill -9 "$_p" 2> /dev/null
		done < "$WT_DIR/pids"
		: > "$WT_DIR/pids"
	fi
	if [ -s "$WT_DIR/ns" ]; then
		while read -r _n; do
			# Kill anything still running inside (bounded).
			for _p in $(ip netns pids "$_n" 2> /dev/null); do
				kill -9 "$_p" 2> /dev/null
			done
			ip netns del "$_n" 2> /dev/null
		done < "$WT_DIR/ns"
		: > "$WT_DIR/ns"
	fi
	for _s in "$WT_SOCKDIR"/w"${WT_ID}"t*.sock; do
		[ -e "$_s" ] && rm -f "$_s"
	done
	return 0
}

wt_cleanup() {
	_rc=$?
	trap - EXIT INT TERM
	wt_teardown
	if [ "$WT_KEEP" = 1 ]; then
		echo "# logs kept in $WT_DIR"
	else
		rm -rf "$WT_DIR"
	fi
	exit "$_rc"
}

wt_trap() {
	trap wt_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# --- namespaces, links, segments ---------------------------------------------------

# ns NAME: the namespace's full name.
ns() { echo "${WT_PREFIX}-$1"; }

# nsx NAME CMD...: runs CMD in namespace NAME.
nsx() {
	_ns=$1
	shift
	ip netns exec "${WT_PREFIX}-$_ns" "$@"
}

# nsq NAME CMD...: runs CMD in NAME; on failure, fails the test with the
# command and its error.
nsq() {
	_q=$1
	shift
	ip netns exec "${WT_PREFIX}-$_q" "$@" > "$WT_DIR/nsq.out" 2>&1 ||
	    fail "in $_q: $*: $(cat "$WT_DIR/nsq.out")"
}

# ns_add NAME...: creates namespaces (loopback up, IPv6 off so captures
# stay quiet, forwarding off).
ns_add() {
	for _a in "$@"; do
		ip netns add "${WT_PREFIX}-$_a" || fail "cannot create netns $_a"
		echo "${WT_PREFIX}-$_a" >> "$WT_DIR/ns"
		nsx "$_a" ip link set lo up
		nsx "$_a" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 > /dev/null 2>&1
		nsx "$_a" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 > /dev/null 2>&1
	done
}

# ns_forward NAME: IPv4 forwarding on.
ns_forward() { nsq "$1" sysctl -qw net.ipv4.ip_forward=1; }

# veth NS1 IF1 NS2 IF2: a veth pair, IF1 in NS1 and IF2 in NS2, both up.
veth() {
	ip link add "$2" netns "${WT_PREFIX}-$1" type veth \
	    peer name "$4" netns "${WT_PREFIX}-$3" ||
	    fail "cannot create veth $1:$2 <-> $3:$4"
	nsq "$1" ip link set "$2" up
	nsq "$3" ip link set "$4" up
}

# segment NS BRIDGE [MEMBER...]: a Linux bridge in NS with members, up.
segment() {
	_sn=$1
	_sb=$2
	shift 2
	nsq "$_sn" ip link add "$_sb" type bridge
	nsq "$_sn" ip link set "$_sb" up
	for _m in "$@"; do
		nsq "$_sn" ip link set "$_m" master "$_sb" up
	done
	# Pin the bridge's MAC. Unset, Linux gives a bridge its lowest port's
	# MAC and changes it as ports come and go: when a roaming host's wire
	# joined and left, the bridge could change MAC under its neighbours'
	# ARP caches, and they sent into the void until the entry aged out
	# (about 15-45 s; the roaming scenario failed about half the time).
	_mac=$(nsx "$_sn" ip -br link show dev "$_sb" | awk '{ print $3 }')
	nsq "$_sn" ip link set "$_sb" address "$_mac"
}

# addr NS IF CIDR
addr() { nsq "$1" ip addr add "$3" dev "$2"; }

# route NS DEST VIA|dev ...: ip route replace DEST ...
route() {
	_rn=$1
	shift
	nsq "$_rn" ip route replace "$@"
}

# move_link FROMNS IF TONS [BRIDGE]: moves IF to TONS, into BRIDGE if given.
move_link() {
	nsx "$1" ip link set "$2" nomaster 2> /dev/null
	nsq "$1" ip link set "$2" netns "${WT_PREFIX}-$3"
	if [ -n "${4:-}" ]; then
		nsq "$3" ip link set "$2" master "$4" up
	else
		nsq "$3" ip link set "$2" up
	fi
}

# wt_ping NS DEST SECS: true once one ping gets an answer within SECS.
wt_ping() {
	_end=$(($(date +%s) + $3))
	while [ "$(date +%s)" -lt "$_end" ]; do
		nsx "$1" ping -n -q -c 1 -W 1 "$2" > /dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

# --- background processes -----------------------------------------------------------------

# wt_bg LOG NS CMD...: starts CMD in NS in the background, output to LOG
# (relative to WT_DIR); records and prints its pid.
wt_bg() {
	_log=$1
	_bn=$2
	shift 2
	ip netns exec "${WT_PREFIX}-$_bn" "$@" > "$WT_DIR/$_log" 2>&1 < /dev/null &
	_pid=$!
	wt_track_pid "$_pid"
	echo "$_pid"
}

# --- WireGuard ------------------------------------------------------------------------------------

# wg_ifname TAG: a machine-unique interface name for this run and test
# (at most 15 bytes: "w" + pid + "t" + test number + tag).
wg_ifname() { echo "w${WT_ID}t${WT_TESTNO}$1"; }

# wg_key NAME: makes a key pair in WT_DIR/NAME.key and NAME.pub.
wg_key() {
	[ -s "$WT_DIR/$1.key" ] && return 0
	(umask 077 && wg genkey > "$WT_DIR/$1.key") || fail "wg genkey"
	wg pubkey < "$WT_DIR/$1.key" > "$WT_DIR/$1.pub" || fail "wg pubkey"
}

wg_pub() { cat "$WT_DIR/$1.pub"; }

# wg_start IMPL NS IF: starts IMPL (wgd or wireguard-go) in the foreground
# in the background in NS, logging to WT_DIR/IF.log; waits (bounded) for
# its UAPI socket and interface.
wg_start() {
	_impl=$1
	_wn=$2
	_wif=$3
	case "$_impl" in
	wgd) _bin=$WGD ;;
	wireguard-go) _bin=$(command -v wireguard-go) ;;
	kharness) _bin=$KHARNESS ;;
	*) fail "unknown IMPL $_impl" ;;
	esac
	[ -x "$_bin" ] || fail "$_impl: $_bin not executable"
	rm -f "$WT_SOCKDIR/$_wif.sock"
	# kharness: its control door beside the logs (kharness ctl DOOR ...).
	_wdoor=
	[ "$_impl" = kharness ] && _wdoor="-s $WT_DIR/$_wif.ctl"
	# shellcheck disable=SC2086
	_wpid=$(wt_bg "$_wif.log" "$_wn" env WG_PROCESS_FOREGROUND=1 \
	    WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 \
	    LOG_LEVEL="${LOG_LEVEL:-error}" "$_bin" $_wdoor -f "$_wif")
	echo "$_wpid" > "$WT_DIR/$_wif.pid"
	_n=0
	while ! { [ -S "$WT_SOCKDIR/$_wif.sock" ] &&
	    nsx "$_wn" ip link show "$_wif" > /dev/null 2>&1; }; do
		wt_pid_alive "$_wpid" ||
		    fail "$_impl exited in $_wn: $(tail -n 5 "$WT_DIR/$_wif.log")"
		[ "$_n" -ge 100 ] &&
		    fail "$_impl in $_wn: no UAPI socket after 10 s: $(tail -n 5 "$WT_DIR/$_wif.log")"
		sleep 0.1
		_n=$((_n + 1))
	done
	wt_vlog "$_impl $_wif up in $_wn (pid $_wpid)"
}

# wg_up IMPL NS IF KEYNAME CIDR: starts IMPL, sets key and listen port,
# adds the tunnel address and brings the interface up.
wg_up() {
	wg_key "$4"
	wg_start "$1" "$2" "$3"
	nsq "$2" wg set "$3" private-key "$WT_DIR/$4.key" listen-port "$WG_PORT"
	nsq "$2" ip addr add "$5" dev "$3"
	nsq "$2" ip link set "$3" up
}

# wg_peer NS IF PEERKEYNAME ENDPOINT|- ALLOWED [KEEPALIVE]
wg_peer() {
	if [ "$4" = - ]; then
		nsq "$1" wg set "$2" peer "$(wg_pub "$3")" allowed-ips "$5" \
		    persistent-keepalive "${6:-off}"
	else
		nsq "$1" wg set "$2" peer "$(wg_pub "$3")" endpoint "$4" \
		    allowed-ips "$5" persistent-keepalive "${6:-off}"
	fi
}

# wg_wait_handshake NS IF SECS: waits (bounded) until every peer of IF has
# a handshake.
wg_wait_handshake() {
	_end=$(($(date +%s) + $3))
	while [ "$(date +%s)" -lt "$_end" ]; do
		_hs=$(nsx "$1" wg show "$2" latest-handshakes 2> /dev/null) || _hs=""
		if [ -n "$_hs" ] && ! echo "$_hs" | awk '$2 == 0 { bad = 1 } END { exit !bad }'; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

# wg_endpoint NS IF PEERKEYNAME: the peer's current endpoint.
wg_endpoint() {
	nsx "$1" wg show "$2" endpoints 2> /dev/null |
	    awk -v k="$(wg_pub "$3")" '$1 == k { print $2 }'
}

# wg_wait_endpoint NS IF PEERKEYNAME ERE SECS: waits (bounded) until the
# peer's endpoint matches ERE.
wg_wait_endpoint() {
	_end=$(($(date +%s) + $5))
	while [ "$(date +%s)" -lt "$_end" ]; do
		wg_endpoint "$1" "$2" "$3" | grep -Eq "$4" && return 0
		sleep 0.2
	done
	return 1
}

# --- captures ---------------------------------------------------------------------------------------

# cap_start NS IF FILE [FILTER...]: tcpdump on IF in NS into WT_DIR/FILE
# (bounded by a count and a 120 s timeout); waits until it listens.
# Prints its pid.
cap_start() {
	_cn=$1
	_ci=$2
	_cf=$3
	shift 3
	_cpid=$(wt_bg "$_cf.log" "$_cn" timeout 120 tcpdump -Z root -n -U -s 0 \
	    -c 20000 -i "$_ci" -w "$WT_DIR/$_cf" "$@")
	_n=0
	while ! grep -q 'listening on' "$WT_DIR/$_cf.log" 2> /dev/null; do
		wt_pid_alive "$_cpid" || {
			echo "tcpdump died: $(cat "$WT_DIR/$_cf.log")" >&2
			return 1
		}
		[ "$_n" -ge 100 ] && return 1
		sleep 0.1
		_n=$((_n + 1))
	done
	echo "$_cpid"
}

# cap_stop PID: stops a capture and waits (bounded) for it to flush.
cap_stop() {
	sleep 0.5
	kill -INT "$1" 2> /dev/null
	wt_wait_pid "$1" 5 || kill -9 "$1" 2> /dev/null
	return 0
}

# cap_count FILE FILTER...: packets in WT_DIR/FILE matching FILTER.
cap_count() {
	_f=$1
	shift
	tcpdump -n -r "$WT_DIR/$_f" "$@" 2> /dev/null | wc -l | tr -d ' '
}

# cap_has FILE TEXT: is TEXT anywhere in the captured bytes?
cap_has() { grep -a -F -q "$2" "$WT_DIR/$1"; }

# --- tests ------------------------------------------------------------------------------------------------

# run_test NAME FUNC [ARGS...]: runs FUNC in a subshell (fail/skip exit it),
# tears down what it created, prints "ok - NAME" or "not ok - NAME".
run_test() {
	_name=$1
	shift
	WT_TESTNO=$((WT_TESTNO + 1))
	_t0=$(date +%s)
	("$@")
	_rc=$?
	wt_teardown
	wt_kharness_verdict || _rc=1
	_dt=$(($(date +%s) - _t0))
	if [ "$_rc" -eq 0 ]; then
		echo "ok - $_name (${_dt}s)"
		WT_PASSED=$((WT_PASSED + 1))
	elif [ "$_rc" -eq 77 ] && ! wt_is_ci; then
		echo "ok - $_name # SKIP"
		WT_SKIPPED=$((WT_SKIPPED + 1))
	else
		[ "$_rc" -eq 77 ] && echo "# CI=true: a skip is a failure"
		echo "not ok - $_name (${_dt}s)"
		WT_FAILED=$((WT_FAILED + 1))
		# Show the daemons' logs of a failed test.
		for _l in "$WT_DIR"/w"${WT_ID}"t"${WT_TESTNO}"*.log; do
			[ -s "$_l" ] || continue
			echo "# --- $(basename "$_l") (last lines)"
			tail -n 10 "$_l" | sed 's/^/#   /'
		done
	fi
}

# wt_kharness_verdict: the kernel module's code ran in kharness during the
# test just torn down: each of its logs must end with a clean unload (no
# leak) and hold no contract violation or sanitizer report.
wt_kharness_verdict() {
	_ok=0
	for _l in "$WT_DIR"/w"${WT_ID}"t"${WT_TESTNO}"*.log; do
		[ -s "$_l" ] && grep -q '^kharness: .*module loaded' "$_l" || continue
		if grep -q -e 'kharness: PANIC' -e 'ERROR: AddressSanitizer' \
		    -e 'runtime error:' -e 'WARNING: ThreadSanitizer' "$_l"; then
			echo "# kharness reported in $(basename "$_l"):"
			grep -A 12 -e 'kharness: PANIC' -e 'ERROR: AddressSanitizer' \
			    -e 'runtime error:' -e 'WARNING: ThreadSanitizer' "$_l" |
			    head -n 30 | sed 's/^/#   /'
			_ok=1
		elif ! grep -q 'unloaded, nothing leaked' "$_l"; then
			echo "# kharness in $(basename "$_l") did not unload cleanly:"
			tail -n 8 "$_l" | sed 's/^/#   /'
			_ok=1
		fi
	done
	return "$_ok"
}

# wt_summary: the closing line; returns non-zero if anything failed.
wt_summary() {
	if [ "$WT_SKIPPED" -gt 0 ]; then
		echo "$WT_PASSED passed, $WT_FAILED failed, $WT_SKIPPED skipped"
	else
		echo "$WT_PASSED passed, $WT_FAILED failed"
	fi
	[ "$WT_FAILED" -eq 0 ]
}

# --- the seed's network ---------------------------------------------------------------------------------
#
#                       r1 (public router)
#        172.31.1.1 (p1a)          bridge brp2 172.31.2.1 (member p2a)
#               |                              |
#        172.31.1.11 (p1b)             172.31.2.11 (p2b)
#             vpnr1  ==== wg 192.168.222.x ====  vpnr2   (site routers)
#        192.168.1.1 (s1a)         bridge brs2 192.168.2.1 (member s2a)
#               |                              |
#        192.168.1.11 (s1b)            192.168.2.11 (s2b)
#             vpnh1                          vpnh2      (site hosts)
#
# r1 routes only 172.31.1.0/24 and 172.31.2.0/24: the sites reach each
# other through WireGuard or not at all.  For the roaming host, vpnh2's
# wire (s2a) moves from vpnr2's bridge brs2 to r1's bridge brp2, and
# vpnh2 readdresses to 172.31.2.111.

seed_topology() {
	ns_add r1 vpnr1 vpnr2 vpnh1 vpnh2
	veth r1 p1a vpnr1 p1b
	veth r1 p2a vpnr2 p2b
	veth vpnr1 s1a vpnh1 s1b
	veth vpnr2 s2a vpnh2 s2b

	addr r1 p1a 172.31.1.1/24
	segment r1 brp2 p2a
	addr r1 brp2 172.31.2.1/24
	ns_forward r1

	addr vpnr1 p1b 172.31.1.11/24
	addr vpnr1 s1a 192.168.1.1/24
	route vpnr1 default via 172.31.1.1
	ns_forward vpnr1

	addr vpnr2 p2b 172.31.2.11/24
	segment vpnr2 brs2 s2a
	addr vpnr2 brs2 192.168.2.1/24
	route vpnr2 default via 172.31.2.1
	ns_forward vpnr2

	addr vpnh1 s1b 192.168.1.11/24
	route vpnh1 default via 192.168.1.1
	addr vpnh2 s2b 192.168.2.11/24
	route vpnh2 default via 192.168.2.1

	# The public network works; the sites cannot see each other.
	wt_ping vpnr1 172.31.2.11 5 || fail "vpnr1 cannot reach vpnr2"
	wt_ping vpnh1 192.168.1.1 5 || fail "vpnh1 cannot reach vpnr1"
	wt_ping vpnh2 192.168.2.1 5 || fail "vpnh2 cannot reach vpnr2"
	if nsx vpnh1 ping -n -q -c 1 -W 1 192.168.2.11 > /dev/null 2>&1; then
		fail "the sites reach each other without a tunnel"
	fi
	wg_key vpnr1
	wg_key vpnr2
	wg_key vpnh2
}

# seed_site_to_site IMPL1 IMPL2: the tunnel between the site routers,
# IMPL1 on vpnr1 and IMPL2 on vpnr2.  Sets WG1 and WG2 (interface names).
seed_site_to_site() {
	WG1=$(wg_ifname r1)
	WG2=$(wg_ifname r2)
	wg_up "$1" vpnr1 "$WG1" vpnr1 192.168.222.1/24
	wg_up "$2" vpnr2 "$WG2" vpnr2 192.168.222.2/24
	wg_peer vpnr1 "$WG1" vpnr2 "172.31.2.11:$WG_PORT" 192.168.222.2/32,192.168.2.0/24
	wg_peer vpnr2 "$WG2" vpnr1 "172.31.1.11:$WG_PORT" 192.168.222.1/32,192.168.1.0/24
	route vpnr1 192.168.2.0/24 dev "$WG1"
	route vpnr2 192.168.1.0/24 dev "$WG2"
}

# ASCII payload that ping repeats through its packets (-p takes hex).
# shellcheck disable=SC2034
PATTERN_TEXT='wg_payload_leak!'
# shellcheck disable=SC2034
PATTERN_HEX=77675f7061796c6f61645f6c65616b21

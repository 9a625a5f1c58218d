#!/bin/sh
# tests/netns/hostile.sh: wgd under hostile input.  A tunnel between
# namespaces a (wgd, the target) and b (the peer, PEER_IMPL, default
# wireguard-go) carries a steady ping while
#
#   (a) namespace x (a third party) and b (from other ports) send garbage
#       and truncated datagrams of every message type and length 0..200,
#       the exact message sizes and random bytes to wgd's port;
#   (b) x sends a burst of bogus 148-byte handshake initiations from many
#       source ports;
#   (c) b sniffs a real data message to wgd and sends forged data
#       messages with its receiver index (bad tags, huge counters) from
#       other ports: they must neither kill the session nor move the
#       peer's endpoint;
#   (d) malformed UAPI requests go to wgd's socket: every bad "set" must
#       be answered with a non-zero errno=, and `wg showconf` must not
#       change.
#
# Afterwards the wgd process is alive, `wg show` works, the peer's
# endpoint is unchanged and the tunnel pings both ways.
#
# Environment: PEER_IMPL (wireguard-go or wgd), FLOOD (default 3000),
# FLOOD_PORTS (default 300), WGD, CI=true, WT_KEEP=1, WT_VERBOSE=1.
#
# SPDX-License-Identifier: MIT OR Apache-2.0

WT_LIB_FILE=${WT_LIB_FILE:-$0}
. "$(dirname -- "$WT_LIB_FILE")/lib.sh"

PEER_IMPL=${PEER_IMPL:-wireguard-go}
FLOOD=${FLOOD:-3000}
FLOOD_PORTS=${FLOOD_PORTS:-300}
HOSTILE_PY="$WT_LIB_DIR/hostile.py"

need_impls() {
	for _i in "$@"; do
		_why=$(wt_impl_ok "$_i") || skip "$_why"
	done
}

# soft CHECK-FAILURE: records a failure, the test goes on.
BAD=""
soft() {
	printf '# FAIL: %s\n' "$*"
	BAD="$BAD|$*"
}

# ping_stats FILE: "rx tx" of a finished ping's log.
ping_stats() {
	awk '/packets transmitted/ { print $4, $1 }' "$1"
}

t_hostile() {
	need_impls wgd "$1"
	ns_add a b x
	veth a ab b ba
	veth a ax x xa
	addr a ab 172.30.1.1/24
	addr b ba 172.30.1.2/24
	addr a ax 172.30.2.1/24
	addr x xa 172.30.2.2/24
	WGA=$(wg_ifname a)
	WGB=$(wg_ifname b)
	wg_up wgd a "$WGA" a 10.77.0.1/24
	wg_up "$1" b "$WGB" b 10.77.0.2/24
	wg_peer a "$WGA" b "172.30.1.2:$WG_PORT" 10.77.0.2/32
	wg_peer b "$WGB" a "172.30.1.1:$WG_PORT" 10.77.0.1/32
	wt_ping b 10.77.0.1 10 || fail "no tunnel before the attack"
	wt_ping a 10.77.0.2 5 || fail "no tunnel a -> b before the attack"
	wgpid=$(cat "$WT_DIR/$WGA.pid")
	nsx a wg showconf "$WGA" > "$WT_DIR/conf.before" || fail "wg showconf"
	ep0=$(wg_endpoint a "$WGA" b)
	wt_log "tunnel up; wgd pid $wgpid; peer endpoint $ep0"

	pinger=$(wt_bg attack.ping b ping -n -i 0.1 -w 60 10.77.0.1)
	sleep 0.5

	# (a) garbage from a third party and from the peer's address.
	t0=$(date +%s)
	nsx x python3 "$HOSTILE_PY" garbage 172.30.2.1 "$WG_PORT" > "$WT_DIR/garbage.x" 2>&1 ||
	    soft "garbage from x: $(tail -n 3 "$WT_DIR/garbage.x")"
	nsx b python3 "$HOSTILE_PY" garbage 172.30.1.1 "$WG_PORT" > "$WT_DIR/garbage.b" 2>&1 ||
	    soft "garbage from b: $(tail -n 3 "$WT_DIR/garbage.b")"
	wt_log "x $(tail -n 1 "$WT_DIR/garbage.x"); b $(tail -n 1 "$WT_DIR/garbage.b")"
	wt_pid_alive "$wgpid" || fail "wgd died after the garbage datagrams"

	# (b) a burst of bogus initiations from many ports.
	nsx x timeout 20 python3 "$HOSTILE_PY" flood 172.30.2.1 "$WG_PORT" "$FLOOD" "$FLOOD_PORTS" \
	    > "$WT_DIR/flood.x" 2>&1 || soft "flood: $(tail -n 3 "$WT_DIR/flood.x")"
	wt_log "$(tail -n 1 "$WT_DIR/flood.x")"
	wt_pid_alive "$wgpid" || fail "wgd died after the initiation flood"

	# (c) forged data messages with the live session's receiver index.
	hs0=$(nsx a wg show "$WGA" latest-handshakes | awk '{ print $2 }')
	nsx b timeout 20 python3 "$HOSTILE_PY" forge 172.30.1.1 "$WG_PORT" ba \
	    > "$WT_DIR/forge.b" 2>&1 || soft "forge: $(tail -n 3 "$WT_DIR/forge.b")"
	wt_log "$(tail -n 1 "$WT_DIR/forge.b")"
	wt_pid_alive "$wgpid" || fail "wgd died after the forged data messages"
	# The session must survive as is: pings within 2 s, no new handshake needed.
	if ! nsx b ping -n -q -c 5 -i 0.2 -W 1 10.77.0.1 > "$WT_DIR/after-forge.ping" 2>&1; then
		soft "right after the forged data messages, b -> a lost pings: $(grep transmitted "$WT_DIR/after-forge.ping")"
	fi
	hs1=$(nsx a wg show "$WGA" latest-handshakes | awk '{ print $2 }')
	[ "$hs0" = "$hs1" ] || wt_log "note: a new handshake happened during (c) ($hs0 -> $hs1)"
	ep1=$(wg_endpoint a "$WGA" b)
	[ "$ep1" = "$ep0" ] ||
	    soft "unauthenticated datagrams moved the peer's endpoint: $ep0 -> $ep1"

	# (d) malformed UAPI requests.
	timeout 30 python3 "$HOSTILE_PY" uapi "$WT_SOCKDIR/$WGA.sock" > "$WT_DIR/uapi.out" 2>&1 ||
	    soft "UAPI: $(grep -c 'BAD' "$WT_DIR/uapi.out") bad answers ($(grep BAD "$WT_DIR/uapi.out" | sed 's/^uapi  *//; s/  *->.*//' | tr '\n' ',' | sed 's/,$//'))"
	sed 's/^/#   /' "$WT_DIR/uapi.out"
	wt_pid_alive "$wgpid" || fail "wgd died after the malformed UAPI requests"
	dt=$(($(date +%s) - t0))
	wt_log "attacks took ${dt}s"

	# Afterwards.
	nsx a wg show "$WGA" > "$WT_DIR/show.after" 2>&1 || soft "wg show fails: $(cat "$WT_DIR/show.after")"
	nsx a wg showconf "$WGA" > "$WT_DIR/conf.after" 2>&1 || soft "wg showconf fails"
	if ! cmp -s "$WT_DIR/conf.before" "$WT_DIR/conf.after"; then
		diff "$WT_DIR/conf.before" "$WT_DIR/conf.after" | sed 's/^/#   /'
		soft "the configuration changed"
	fi
	ep2=$(wg_endpoint a "$WGA" b)
	[ "$ep2" = "$ep0" ] || soft "the peer's endpoint changed: $ep0 -> $ep2"
	wt_ping b 10.77.0.1 10 || soft "b cannot ping a through the tunnel afterwards"
	wt_ping a 10.77.0.2 10 || soft "a cannot ping b through the tunnel afterwards"
	nsq b ping -n -q -c 5 -i 0.2 -W 2 10.77.0.1
	nsq a ping -n -q -c 5 -i 0.2 -W 2 10.77.0.2
	wt_pid_alive "$wgpid" || fail "wgd is not running at the end"

	kill -INT "$pinger" 2> /dev/null
	wt_wait_pid "$pinger" 5 || soft "the background ping did not stop"
	stats=$(ping_stats "$WT_DIR/attack.ping")
	rx=${stats% *}
	tx=${stats#* }
	wt_log "background ping during the attacks: ${rx:-?} of ${tx:-?} replies"
	if [ -z "$rx" ] || [ -z "$tx" ] || [ "$rx" -eq 0 ] || [ $((rx * 10)) -lt $((tx * 8)) ]; then
		soft "the background ping lost too much: ${rx:-?} of ${tx:-?}"
	fi
	grep -v -E '^$' "$WT_DIR/$WGA.log" | sort | uniq -c | sort -rn | head -n 5 |
	    sed 's/^/#   wgd log: /'
	[ -z "$BAD" ] || fail "$(echo "$BAD" | tr '|' '\n' | grep -c .) checks failed:$(echo "$BAD" | tr '|' ';')"
}

[ "${WT_HOSTILE_NORUN:-0}" = 1 ] && return 0

wt_need_root
wt_trap
wt_ensure ip wg ping python3 timeout || {
	if wt_is_ci; then
		echo "not ok - prerequisites"
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "# SKIP: missing prerequisites"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}

echo "# hostile input tests, run $WT_ID (wgd: $WGD)"
run_test "hostile wgd peer=$PEER_IMPL" t_hostile "$PEER_IMPL"
wt_summary

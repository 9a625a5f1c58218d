#!/bin/sh
# tests/netns/flood-recovery.sh: how fast a device leaves "under load"
# after a handshake flood (issue 15, item 11).
#
# A tunnel between namespaces a (the target, TARGET: wgd, then
# wireguard-go for comparison) and b (wireguard-go).  For FLOOD_SECS
# seconds namespace x sends about FLOOD_RATE handshake initiations a
# second to the target, junk with a valid MAC1 for its public key, from
# FLOOD_PORTS source ports: the target is under load and answers them
# with cookie replies.  SETTLE seconds after the flood stops, the peer is
# removed and re-added on the target and a ping goes through: the first
# handshake must complete at once (within HS_LIMIT seconds).  Linux and
# wireguard-go stay under load only while their handshake queue is deep
# or within 1 s of that (SETTLE is 1 s plus a margin for a busy machine);
# a device still under load answers b's response with a cookie reply and
# retries only after REKEY_TIMEOUT (5 s).  The flood ends FLOOD_PHASE into
# a second of CLOCK_MONOTONIC, the daemons' clock: early, so that a meter
# that keeps the load to the end of the next whole second (wgd before
# issue 15, item 11) is still loaded when the peer comes back.
#
# Environment: TARGETS (default "wgd wireguard-go"), FLOOD_SECS (6),
# FLOOD_RATE (40000), FLOOD_PORTS (64), FLOOD_PHASE (0.1), SETTLE (1.3),
# HS_LIMIT (2), WGD, CI=true, WT_KEEP=1, WT_VERBOSE=1.
#
# SPDX-License-Identifier: MIT OR Apache-2.0

WT_LIB_FILE=${WT_LIB_FILE:-$0}
. "$(dirname -- "$WT_LIB_FILE")/lib.sh"

TARGETS=${TARGETS:-wgd wireguard-go}
FLOOD_SECS=${FLOOD_SECS:-6}
FLOOD_RATE=${FLOOD_RATE:-40000}
FLOOD_PORTS=${FLOOD_PORTS:-64}
FLOOD_PHASE=${FLOOD_PHASE:-0.1}
SETTLE=${SETTLE:-1.3}
HS_LIMIT=${HS_LIMIT:-2}
HOSTILE_PY="$WT_LIB_DIR/hostile.py"

# ms: monotonic-enough milliseconds (wall clock, ns precision).
ms() { echo $(($(date +%s%N) / 1000000)); }

t_recovery() {
	for _i in "$1" wireguard-go; do
		_why=$(wt_impl_ok "$_i") || skip "$_why"
	done
	ns_add a b x
	veth a ab b ba
	veth a ax x xa
	addr a ab 172.30.1.1/24
	addr b ba 172.30.1.2/24
	addr a ax 172.30.2.1/24
	addr x xa 172.30.2.2/24
	WGA=$(wg_ifname a)
	WGB=$(wg_ifname b)
	wg_up "$1" a "$WGA" a 10.78.0.1/24
	wg_up wireguard-go b "$WGB" b 10.78.0.2/24
	wg_peer a "$WGA" b "172.30.1.2:$WG_PORT" 10.78.0.2/32
	wg_peer b "$WGB" a "172.30.1.1:$WG_PORT" 10.78.0.1/32
	wt_ping a 10.78.0.2 10 || fail "no tunnel before the flood"
	wt_ping b 10.78.0.1 5 || fail "no tunnel b -> a before the flood"
	wpid=$(cat "$WT_DIR/$WGA.pid")

	nsx x timeout $((FLOOD_SECS + 21)) python3 "$HOSTILE_PY" mac1flood 172.30.2.1 \
	    "$WG_PORT" "$(wg_pub a)" "$FLOOD_SECS" "$FLOOD_RATE" "$FLOOD_PORTS" "$FLOOD_PHASE" \
	    > "$WT_DIR/flood.x" 2>&1 || fail "flood: $(tail -n 3 "$WT_DIR/flood.x")"
	t_end=$(ms)
	wt_log "$1: $(tail -n 1 "$WT_DIR/flood.x")"
	wt_pid_alive "$wpid" || fail "$1 died during the flood"
	cookies=$(sed -n 's/.*; \([0-9]*\) cookie replies seen.*/\1/p' "$WT_DIR/flood.x")
	# The flood must have put wgd under load, or this test shows nothing.
	if [ "$1" = wgd ] && [ "${cookies:-0}" -eq 0 ]; then
		fail "wgd sent no cookie reply during the flood: it was never under load"
	fi

	sleep "$SETTLE"
	nsq a wg set "$WGA" peer "$(wg_pub b)" remove
	wg_peer a "$WGA" b "172.30.1.2:$WG_PORT" 10.78.0.2/32
	t0=$(ms)
	pinger=$(wt_bg recovery.ping a ping -n -i 0.2 -c 40 -W 1 10.78.0.2)
	hs=0
	while [ $(($(ms) - t0)) -lt 8000 ]; do
		hs=$(nsx a wg show "$WGA" latest-handshakes | awk '{ print $2 }')
		[ "${hs:-0}" != 0 ] && break
		sleep 0.05
	done
	t1=$(ms)
	kill "$pinger" 2> /dev/null
	dt=$((t1 - t0))
	wt_log "$1: first handshake after the flood: $((dt / 1000)).$(printf %03d $((dt % 1000)))s" \
	    "(peer re-added $((t0 - t_end)) ms after the flood stopped)"
	[ "${hs:-0}" != 0 ] || fail "$1: no handshake within 8 s after the flood"
	[ "$dt" -le $((HS_LIMIT * 1000)) ] ||
	    fail "$1: the first handshake after the flood took ${dt} ms (limit ${HS_LIMIT} s): still under load"
	wt_ping a 10.78.0.2 5 || fail "$1: no ping through the tunnel after the flood"
	wt_pid_alive "$wpid" || fail "$1 is not running at the end"
}

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

echo "# recovery after a handshake flood, run $WT_ID (wgd: $WGD)"
for t in $TARGETS; do
	run_test "first handshake right after a flood, target=$t" t_recovery "$t"
done
wt_summary

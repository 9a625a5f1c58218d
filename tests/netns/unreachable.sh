#!/bin/sh
# tests/netns/unreachable.sh: ICMP unreachables from the WireGuard
# interface (issue 14), as Linux's WireGuard sends them.  Namespace a runs
# IMPL on 10.98.0.1/24 and fd98::1/64, whose interface route covers more
# than its peers allow: peer b (10.98.0.2/32, fd98::2/128, with an
# endpoint, in namespace b) and peer c (10.98.0.3/32, fd98::3/128, no
# endpoint, no daemon).  Checked from a:
#
#   - ping 10.98.0.2 and fd98::2 get through (the tunnel works);
#   - ping 10.98.0.77 (no peer) prints "Destination Host Unreachable",
#     ping -6 fd98::77 prints "Destination unreachable: Address
#     unreachable" (iputils' words for ICMPv6 type 1 code 3), each within
#     about a second instead of ping's -W 3 timeout;
#   - the same for 10.98.0.3 and fd98::3 (a peer without an endpoint).
#
# Environment: IMPL (the implementation in a, default wgd; b runs the same),
# WGD, CI=true, WT_KEEP=1, WT_VERBOSE=1.
#
# SPDX-License-Identifier: MIT OR Apache-2.0

WT_LIB_FILE=${WT_LIB_FILE:-$0}
. "$(dirname -- "$WT_LIB_FILE")/lib.sh"

IMPL=${IMPL:-wgd}
# Longest wait for the error, in milliseconds ("within ~1 s").
UNREACH_MS=${UNREACH_MS:-1500}

v6_on() {
	nsq "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=0
	nsq "$1" sysctl -qw net.ipv6.conf.default.disable_ipv6=0
	nsq "$1" sysctl -qw net.ipv6.conf.lo.disable_ipv6=0
}

ms() { echo $(($(date +%s%N) / 1000000)); }

# expect_unreach NS FAMILY(4|6) DEST TEXT: one ping to DEST prints TEXT,
# quickly.
expect_unreach() {
	_t0=$(ms)
	_out=$(nsx "$1" ping -"$2" -n -c 1 -W 3 "$3" 2>&1)
	_dt=$(($(ms) - _t0))
	echo "$_out" | grep -q "$4" ||
	    fail "ping -$2 $3: no '$4' after ${_dt} ms: $(echo "$_out" | tr '\n' ' ')"
	[ "$_dt" -le "$UNREACH_MS" ] ||
	    fail "ping -$2 $3: '$4' only after ${_dt} ms"
	wt_vlog "ping -$2 $3: '$4' after ${_dt} ms"
}

t_unreachable() {
	_why=$(wt_impl_ok "$1") || skip "$_why"
	ns_add a b
	v6_on a
	v6_on b
	veth a ab b ba
	addr a ab 10.99.0.1/24
	addr b ba 10.99.0.2/24
	WGA=$(wg_ifname a)
	WGB=$(wg_ifname b)
	wg_up "$1" a "$WGA" a 10.98.0.1/24
	wg_up "$1" b "$WGB" b 10.98.0.2/24
	nsq a sysctl -qw "net.ipv6.conf.$WGA.disable_ipv6=0"
	nsq b sysctl -qw "net.ipv6.conf.$WGB.disable_ipv6=0"
	addr a "$WGA" fd98::1/64 nodad
	addr b "$WGB" fd98::2/64 nodad
	wg_key c
	wg_peer a "$WGA" b "10.99.0.2:$WG_PORT" 10.98.0.2/32,fd98::2/128
	wg_peer a "$WGA" c - 10.98.0.3/32,fd98::3/128
	wg_peer b "$WGB" a "10.99.0.1:$WG_PORT" 10.98.0.1/32,fd98::1/128

	wt_ping a 10.98.0.2 10 || fail "a cannot ping 10.98.0.2 through the tunnel"
	nsq a ping -6 -n -q -c 1 -W 3 fd98::2

	expect_unreach a 4 10.98.0.77 "Destination Host Unreachable"
	expect_unreach a 6 fd98::77 "Address unreachable"
	expect_unreach a 4 10.98.0.3 "Destination Host Unreachable"
	expect_unreach a 6 fd98::3 "Address unreachable"
	# The tunnel still carries what it should.
	nsq a ping -n -q -c 1 -W 3 10.98.0.2
}

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

echo "# ICMP unreachable tests, run $WT_ID (IMPL=$IMPL)"
run_test "unreachable $IMPL" t_unreachable "$IMPL"
wt_summary

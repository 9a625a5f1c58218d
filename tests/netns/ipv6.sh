#!/bin/sh
# tests/netns/ipv6.sh: WireGuard over IPv6.  Namespaces a and b share a
# veth with IPv6 on (fd00::1, fd00::2, nodad); the tunnel's endpoints are
# [fd00::x]:51820 and it carries IPv4 and IPv6 (10.66.0.x/32 and
# fd10::x/128 allowed-ips).  ping and ping -6 through the tunnel both
# ways, and both sides show the other's IPv6 endpoint.
#
# Environment: PAIRS (IMPL_A:IMPL_B, default "wgd:wireguard-go
# wireguard-go:wgd wgd:wgd"), WGD, CI=true, WT_KEEP=1, WT_VERBOSE=1.
#
# SPDX-License-Identifier: MIT OR Apache-2.0

WT_LIB_FILE=${WT_LIB_FILE:-$0}
. "$(dirname -- "$WT_LIB_FILE")/lib.sh"

PAIRS=${PAIRS:-"wgd:wireguard-go wireguard-go:wgd wgd:wgd"}

need_impls() {
	for _i in "$@"; do
		_why=$(wt_impl_ok "$_i") || skip "$_why"
	done
}

# v6_on NS: IPv6 on in NS (lib.sh's ns_add turns it off), for links
# created from now on and the existing ones.
v6_on() {
	nsq "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=0
	nsq "$1" sysctl -qw net.ipv6.conf.default.disable_ipv6=0
	nsq "$1" sysctl -qw net.ipv6.conf.lo.disable_ipv6=0
}

# wt_ping6 NS DEST SECS
wt_ping6() {
	_end=$(($(date +%s) + $3))
	while [ "$(date +%s)" -lt "$_end" ]; do
		nsx "$1" ping -6 -n -q -c 1 -W 1 "$2" > /dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

t_ipv6() {
	need_impls "$1" "$2"
	ns_add a b
	v6_on a
	v6_on b
	veth a ab b ba
	addr a ab fd00::1/64 nodad
	addr b ba fd00::2/64 nodad
	wt_ping6 a fd00::2 5 || fail "no IPv6 between a and b on the veth"
	WGA=$(wg_ifname a)
	WGB=$(wg_ifname b)
	wg_up "$1" a "$WGA" a 10.66.0.1/24
	wg_up "$2" b "$WGB" b 10.66.0.2/24
	nsq a sysctl -qw "net.ipv6.conf.$WGA.disable_ipv6=0"
	nsq b sysctl -qw "net.ipv6.conf.$WGB.disable_ipv6=0"
	addr a "$WGA" fd10::1/64 nodad
	addr b "$WGB" fd10::2/64 nodad
	wg_peer a "$WGA" b "[fd00::2]:$WG_PORT" 10.66.0.2/32,fd10::2/128
	wg_peer b "$WGB" a "[fd00::1]:$WG_PORT" 10.66.0.1/32,fd10::1/128

	cap=$(cap_start a ab outer.pcap) || fail "cannot capture on a"
	wt_ping a 10.66.0.2 10 || fail "a cannot ping 10.66.0.2 through the tunnel"
	wt_ping6 a fd10::2 5 || fail "a cannot ping -6 fd10::2 through the tunnel"
	wt_ping b 10.66.0.1 5 || fail "b cannot ping 10.66.0.1 through the tunnel"
	wt_ping6 b fd10::1 5 || fail "b cannot ping -6 fd10::1 through the tunnel"
	nsq a ping -n -q -c 3 -i 0.2 -W 2 -s 1200 10.66.0.2
	nsq a ping -6 -n -q -c 3 -i 0.2 -W 2 -s 1200 fd10::2
	nsq b ping -n -q -c 3 -i 0.2 -W 2 -s 1200 10.66.0.1
	nsq b ping -6 -n -q -c 3 -i 0.2 -W 2 -s 1200 fd10::1
	wg_wait_handshake a "$WGA" 5 || fail "no handshake on a"
	wg_wait_handshake b "$WGB" 5 || fail "no handshake on b"
	cap_stop "$cap"

	ea=$(wg_endpoint a "$WGA" b)
	eb=$(wg_endpoint b "$WGB" a)
	[ "$ea" = "[fd00::2]:$WG_PORT" ] || fail "a holds endpoint '$ea' for b"
	[ "$eb" = "[fd00::1]:$WG_PORT" ] || fail "b holds endpoint '$eb' for a"
	# On the wire: WireGuard over IPv6 between the WireGuard ports.
	n6=$(cap_count outer.pcap ip6 and udp and src port "$WG_PORT" and dst port "$WG_PORT")
	n4=$(cap_count outer.pcap ip)
	# (No inner address in the clear; MLD and ND are the veth's own.)
	nclear=$(cap_count outer.pcap net fd10::/64 or net 10.66.0.0/24)
	[ "$n6" -ge 20 ] || fail "only $n6 WireGuard datagrams over IPv6 on the veth"
	[ "$n4" -eq 0 ] || fail "$n4 IPv4 packets on the veth (the outer path is IPv6 only)"
	[ "$nclear" -eq 0 ] || fail "$nclear packets with inner addresses in the clear on the veth"
	wt_log "endpoints $ea / $eb; $n6 WireGuard datagrams over IPv6 on the veth"
}

[ "${WT_IPV6_NORUN:-0}" = 1 ] && return 0

wt_need_root
wt_trap
wt_ensure ip wg ping tcpdump timeout || {
	if wt_is_ci; then
		echo "not ok - prerequisites"
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "# SKIP: missing prerequisites"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}

echo "# IPv6 endpoint tests, run $WT_ID (wgd: $WGD)"
for pair in $PAIRS; do
	run_test "ipv6 a=${pair%%:*} b=${pair#*:}" t_ipv6 "${pair%%:*}" "${pair#*:}"
done
wt_summary

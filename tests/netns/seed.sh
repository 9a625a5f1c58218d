#!/bin/sh
# tests/netns/seed.sh: the seed's five-jail VPN network (issue 4) rebuilt
# with Linux network namespaces, veth pairs and bridges, run with every
# pairing of WireGuard implementations:
#
#   site_to_site   vpnh1 and vpnh2 talk through the vpnr1-vpnr2 tunnel; on
#                  r1 only UDP 51820 and never the payload, which is seen
#                  in the clear on site 2's segment.
#   remote_access  vpnr2 is an nftables NAT box; vpnh2 is a client
#                  (192.168.222.211/32) reaching 192.168.1.11 through
#                  vpnr1, which holds the NATed endpoint 172.31.2.11:port.
#   roaming        while pinging, vpnh2's wire moves out of the NAT onto
#                  the public segment (172.31.2.111) and back, twice; the
#                  server's endpoint follows each move, pings continue.
#
# Environment:
#   PAIRS   space-separated IMPL1:IMPL2 (IMPL1 on vpnr1, the server; IMPL2
#           on vpnr2 / the client vpnh2).  Default: the wireguard-go
#           baseline, then wgd:wireguard-go wireguard-go:wgd wgd:wgd.
#   TESTS   which scenarios (default "site_to_site remote_access roaming").
#   WGD     path to wgd (default target/release/wgd).
#   CI=true a missing prerequisite (root, wgd, a tool) fails instead of
#           skipping.
#   WT_KEEP=1 keeps logs and captures; WT_VERBOSE=1 says more.
#
# SPDX-License-Identifier: MIT OR Apache-2.0

WT_LIB_FILE=${WT_LIB_FILE:-$0}
. "$(dirname -- "$WT_LIB_FILE")/lib.sh"

PAIRS=${PAIRS:-"wireguard-go:wireguard-go wgd:wireguard-go wireguard-go:wgd wgd:wgd"}
TESTS=${TESTS:-"site_to_site remote_access roaming"}

# need_impls IMPL...: skips the test (fails under CI) if one cannot run.
need_impls() {
	for _i in "$@"; do
		_why=$(wt_impl_ok "$_i") || skip "$_why"
	done
}

t_site_to_site() {
	need_impls "$1" "$2"
	seed_topology
	seed_site_to_site "$1" "$2"

	pub=$(cap_start r1 any public.pcap) || fail "cannot capture in r1"
	site=$(cap_start vpnr2 brs2 site2.pcap) || fail "cannot capture in vpnr2"

	wt_ping vpnh1 192.168.2.11 10 ||
	    fail "vpnh1 cannot reach vpnh2 through the tunnel"
	wg_wait_handshake vpnr1 "$WG1" 5 || fail "no handshake on vpnr1"
	wg_wait_handshake vpnr2 "$WG2" 5 || fail "no handshake on vpnr2"
	nsq vpnh1 ping -n -q -c 3 -i 0.2 -W 5 -s 200 -p "$PATTERN_HEX" 192.168.2.11
	nsq vpnh2 ping -n -q -c 3 -i 0.2 -W 5 -s 200 -p "$PATTERN_HEX" 192.168.1.11
	nsq vpnr1 ping -n -q -c 1 -W 5 192.168.222.2
	cap_stop "$pub"
	cap_stop "$site"

	# The capture sees the payload where it is in the clear...
	cap_has site2.pcap "$PATTERN_TEXT" ||
	    fail "the payload pattern is not in the clear on site 2"
	# ...and r1 never sees it: only WireGuard datagrams, 51820 to 51820.
	if cap_has public.pcap "$PATTERN_TEXT"; then
		fail "the payload crossed r1 in the clear"
	fi
	n=$(cap_count public.pcap ip and not \
	    \( udp and src port "$WG_PORT" and dst port "$WG_PORT" \))
	[ "$n" -eq 0 ] || {
		tcpdump -n -r "$WT_DIR/public.pcap" ip and not udp port "$WG_PORT" 2>&1 |
		    head -n 10 | sed 's/^/#   /'
		fail "$n IPv4 packets other than WireGuard on r1"
	}
	n=$(cap_count public.pcap udp port "$WG_PORT")
	[ "$n" -ge 14 ] || fail "only $n WireGuard datagrams on r1"
	wt_log "r1 saw $n WireGuard datagrams, no plaintext; site 2 saw the pattern"
}

# ra_setup IMPL1 IMPL2: vpnr2 a NAT box, vpnh2 a client of vpnr1.
ra_setup() {
	seed_topology
	nsx vpnr2 nft -f - > "$WT_DIR/nft.err" 2>&1 <<EOF || fail "nft in vpnr2: $(cat "$WT_DIR/nft.err")"
table ip nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "p2b" ip saddr 192.168.2.0/24 masquerade
	}
}
EOF
	# The NAT works before any WireGuard.
	wt_ping vpnh2 172.31.1.11 5 || fail "vpnh2 cannot reach vpnr1 through the NAT"

	WG1=$(wg_ifname r1)
	WGH=$(wg_ifname h2)
	wg_up "$1" vpnr1 "$WG1" vpnr1 192.168.222.1/24
	wg_peer vpnr1 "$WG1" vpnh2 - 192.168.222.211/32
	wg_up "$2" vpnh2 "$WGH" vpnh2 192.168.222.211/32
	wg_peer vpnh2 "$WGH" vpnr1 "172.31.1.11:$WG_PORT" 192.168.222.0/24,192.168.1.0/24
	route vpnh2 192.168.1.0/24 dev "$WGH"
	route vpnh2 192.168.222.0/24 dev "$WGH"

	wt_ping vpnh2 192.168.1.11 10 ||
	    fail "vpnh2 cannot reach vpnh1 through the tunnel"
	nsq vpnh2 ping -n -q -c 3 -i 0.2 -W 5 192.168.1.11
	# vpnh1 reaches the client through vpnr1 and the NAT mapping.
	nsq vpnh1 ping -n -q -c 3 -i 0.2 -W 5 192.168.222.211
	# The server sees the client at the NAT's public address.
	wg_wait_endpoint vpnr1 "$WG1" vpnh2 '^172\.31\.2\.11:[0-9]+$' 10 ||
	    fail "vpnr1 does not hold vpnh2's NATed endpoint (it has '$(wg_endpoint vpnr1 "$WG1" vpnh2)')"
}

t_remote_access() {
	need_impls "$1" "$2"
	wt_need nft
	ra_setup "$1" "$2"
	wt_log "vpnr1 sees vpnh2 at $(wg_endpoint vpnr1 "$WG1" vpnh2)"
}

# roam_public: vpnh2's wire leaves vpnr2's site bridge for r1's public
# bridge; vpnh2 becomes 172.31.2.111, routed by r1.
roam_public() {
	move_link vpnr2 s2a r1 brp2
	nsq vpnh2 ip addr del 192.168.2.11/24 dev s2b
	nsq vpnh2 ip addr add 172.31.2.111/24 dev s2b
	route vpnh2 default via 172.31.2.1
}

# roam_nudge IMPL: Debian's wireguard-go (0.0.20220316) pins the cached
# source address of its socket: after the host readdresses on the same
# interface, every send fails with "network is unreachable" until the
# endpoint is set again (its route listener only looks at the outgoing
# interface, which did not change).  For that client only, re-set the
# endpoint as an administrator would; wgd must follow without help.
roam_nudge() {
	[ "$1" = wireguard-go ] || return 0
	[ "${ROAM_NO_NUDGE:-0}" = 1 ] && return 0
	wg_peer vpnh2 "$WGH" vpnr1 "172.31.1.11:$WG_PORT" 192.168.222.0/24,192.168.1.0/24
}

# roam_nat: and back behind vpnr2's NAT.
roam_nat() {
	move_link r1 s2a vpnr2 brs2
	nsq vpnh2 ip addr del 172.31.2.111/24 dev s2b
	nsq vpnh2 ip addr add 192.168.2.11/24 dev s2b
	route vpnh2 default via 192.168.2.1
}

t_roaming() {
	need_impls "$1" "$2"
	wt_need nft
	ra_setup "$1" "$2"

	# A steady stream through the tunnel during the moves (bounded).
	pinger=$(wt_bg roam.ping vpnh2 ping -n -i 0.2 -w 120 192.168.1.11)
	sleep 1
	round=1
	while [ "$round" -le 2 ]; do
		roam_public
		roam_nudge "$2"
		wg_wait_endpoint vpnr1 "$WG1" vpnh2 "^172\\.31\\.2\\.111:$WG_PORT\$" 15 ||
		    fail "round $round: vpnr1 did not follow vpnh2 to 172.31.2.111 (it has '$(wg_endpoint vpnr1 "$WG1" vpnh2)')"
		wt_ping vpnh2 192.168.1.11 5 || fail "round $round: no tunnel from 172.31.2.111"
		wt_ping vpnh1 192.168.222.211 5 ||
		    fail "round $round: vpnh1 cannot reach the client at 172.31.2.111"
		wt_log "round $round: public, endpoint $(wg_endpoint vpnr1 "$WG1" vpnh2)"
		sleep 1

		roam_nat
		roam_nudge "$2"
		wg_wait_endpoint vpnr1 "$WG1" vpnh2 '^172\.31\.2\.11:[0-9]+$' 15 ||
		    fail "round $round: vpnr1 did not follow vpnh2 back behind the NAT (it has '$(wg_endpoint vpnr1 "$WG1" vpnh2)')"
		wt_ping vpnh2 192.168.1.11 5 || fail "round $round: no tunnel from behind the NAT"
		wt_ping vpnh1 192.168.222.211 5 ||
		    fail "round $round: vpnh1 cannot reach the client behind the NAT"
		wt_log "round $round: NAT, endpoint $(wg_endpoint vpnr1 "$WG1" vpnh2)"
		sleep 1
		round=$((round + 1))
	done
	sleep 1
	kill -INT "$pinger" 2> /dev/null
	wt_wait_pid "$pinger" 5 || fail "the background ping did not stop"
	stats=$(grep 'packets transmitted' "$WT_DIR/roam.ping")
	tx=$(echo "$stats" | awk '{ print $1 }')
	rx=$(echo "$stats" | awk '{ print $4 }')
	if [ -z "$tx" ] || [ -z "$rx" ]; then
		fail "no ping statistics: $(tail -n 3 "$WT_DIR/roam.ping")"
	fi
	wt_log "background ping during 4 moves: $rx of $tx replies"
	# Allow up to 3 s of loss per move (5 pings a second, 4 moves): the
	# loss is what counts, not its share, which depends on how fast the
	# moves themselves went.
	if [ "$rx" -eq 0 ] || [ $((tx - rx)) -gt 60 ]; then
		fail "the background ping lost too much: $rx of $tx replies"
	fi
}

# wt_need CMD...: skips (fails under CI) if a command is missing.
wt_need() { wt_ensure "$@" > /dev/null || skip "missing: $*"; }

# Sourced for debugging (WT_SEED_NORUN=1): functions only.
[ "${WT_SEED_NORUN:-0}" = 1 ] && return 0

wt_need_root
wt_trap
wt_ensure ip wg tcpdump ping nft timeout || {
	if wt_is_ci; then
		echo "not ok - prerequisites"
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "# SKIP: missing prerequisites"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}

echo "# seed network tests, run $WT_ID (wgd: $WGD)"
for pair in $PAIRS; do
	a=${pair%%:*}
	b=${pair#*:}
	for t in $TESTS; do
		run_test "$t vpnr1=$a peer=$b" "t_$t" "$a" "$b"
	done
done
wt_summary

#!/bin/sh
# tests/netns/bench-tunnel.sh (`make bench-tunnel`): iperf3 TCP through a
# WireGuard tunnel between two network namespaces joined by a veth pair,
# for wgd<->wgd and wireguard-go<->wireguard-go in the same run; prints
# `figure` lines (DESIGN.md section 6):
#
#   figure tunnel_wgd_mbps V Mbit/s
#   figure tunnel_wireguard_go_mbps V Mbit/s
#   figure tunnel_vs_wireguard_go_ratio R x
#
# Environment: BENCH_SECS (default 10), BENCH_PARALLEL (iperf3 -P, default
# 1), BENCH_IMPLS (default "wgd wireguard-go"), WGD (default
# target/release/wgd).  Builds nothing.
#
# SPDX-License-Identifier: MIT OR Apache-2.0

WT_LIB_FILE=${WT_LIB_FILE:-$0}
. "$(dirname -- "$WT_LIB_FILE")/lib.sh"

BENCH_SECS=${BENCH_SECS:-10}
BENCH_PARALLEL=${BENCH_PARALLEL:-1}
BENCH_IMPLS=${BENCH_IMPLS:-"wgd wireguard-go kharness"}
# The kernel module's code in kharness, built without sanitizers.
KHARNESS=${KHARNESS_BENCH:-$WT_ROOT/target/kharness/none/kharness}

fail() {
	echo "bench-tunnel: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces)"
wt_ensure ip ss wg iperf3 python3 ping timeout || fail "missing tools"
for i in $BENCH_IMPLS; do
	why=$(wt_impl_ok "$i") || fail "$why"
done
wt_trap

# bench IMPL: prints the receiver's Mbit/s for IMPL on both ends.
bench() {
	WT_TESTNO=$((WT_TESTNO + 1))
	ns_add ba bb
	veth ba va bb vb
	addr ba va 10.99.0.1/24
	addr bb vb 10.99.0.2/24
	wa=$(wg_ifname a)
	wb=$(wg_ifname b)
	wg_up "$1" ba "$wa" ba 10.98.0.1/24
	wg_up "$1" bb "$wb" bb 10.98.0.2/24
	wg_peer ba "$wa" bb "10.99.0.2:$WG_PORT" 10.98.0.2/32
	wg_peer bb "$wb" ba "10.99.0.1:$WG_PORT" 10.98.0.1/32
	wt_ping ba 10.98.0.2 10 || fail "$1: no tunnel"
	srv=$(wt_bg iperf3-server.log bb iperf3 -s -1 -B 10.98.0.2)
	n=0
	until nsx bb ss -Hltn 2> /dev/null | grep -q ':5201 '; do
		[ "$n" -ge 50 ] && fail "iperf3 server did not start"
		sleep 0.1
		n=$((n + 1))
	done
	nsx ba timeout $((BENCH_SECS + 30)) iperf3 -J -c 10.98.0.2 \
	    -t "$BENCH_SECS" -P "$BENCH_PARALLEL" > "$WT_DIR/iperf3-$1.json" 2>&1 ||
	    fail "$1: iperf3 failed: $(tail -n 5 "$WT_DIR/iperf3-$1.json")"
	wt_wait_pid "$srv" 5
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print("%.1f" % (d["end"]["sum_received"]["bits_per_second"] / 1e6))
' "$WT_DIR/iperf3-$1.json" || fail "$1: cannot parse iperf3 output"
	wt_teardown
}

echo "# bench-tunnel: iperf3 TCP, ${BENCH_SECS} s, -P $BENCH_PARALLEL, through a tunnel between two namespaces"
wgd_mbps=""
wggo_mbps=""
kh_mbps=""
for impl in $BENCH_IMPLS; do
	v=$(bench "$impl") || exit 1
	case "$impl" in
	wgd)
		wgd_mbps=$v
		echo "figure tunnel_wgd_mbps $v Mbit/s"
		;;
	wireguard-go)
		wggo_mbps=$v
		echo "figure tunnel_wireguard_go_mbps $v Mbit/s"
		;;
	kharness)
		kh_mbps=$v
		echo "figure tunnel_kharness_mbps $v Mbit/s"
		;;
	esac
done
if [ -n "$wgd_mbps" ] && [ -n "$wggo_mbps" ]; then
	awk -v a="$wgd_mbps" -v b="$wggo_mbps" \
	    'BEGIN { if (b > 0) printf "figure tunnel_vs_wireguard_go_ratio %.2f x\n", a / b }'
fi
if [ -n "$kh_mbps" ] && [ -n "$wggo_mbps" ]; then
	awk -v a="$kh_mbps" -v b="$wggo_mbps" \
	    'BEGIN { if (b > 0) printf "figure tunnel_kharness_vs_wireguard_go_ratio %.2f x\n", a / b }'
fi
if [ -n "$kh_mbps" ] && [ -n "$wgd_mbps" ]; then
	awk -v a="$kh_mbps" -v b="$wgd_mbps" \
	    'BEGIN { if (b > 0) printf "figure tunnel_kharness_vs_wgd_ratio %.2f x\n", a / b }'
fi

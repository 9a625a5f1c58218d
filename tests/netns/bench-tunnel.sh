#!/bin/sh
# tests/netns/bench-tunnel.sh (`make bench-tunnel`): iperf3 TCP through a
# WireGuard tunnel between two network namespaces joined by a veth pair,
# the same implementation on both ends, every implementation in the same
# run; BENCH_RUNS rounds (default 3), the implementations interleaved in
# each round so that load from elsewhere on the machine hits them alike.
# Prints `figure` lines (docs/DESIGN.md section 6), medians over the rounds:
#
#   figure tunnel_wgd_mbps V Mbit/s
#   figure tunnel_wgd_cpu_s_per_gb C s/GB
#   figure tunnel_wireguard_go_mbps V Mbit/s
#   figure tunnel_wireguard_go_cpu_s_per_gb C s/GB
#   figure tunnel_vs_wireguard_go_ratio R x          (throughput, wgd / wg-go)
#   figure tunnel_cpu_per_gb_vs_wireguard_go_ratio R x   (CPU per GB, wgd / wg-go)
#
# CPU seconds per GB: user + system time of both ends' daemons (all their
# threads, /proc/PID/stat) during the iperf3 run, over the gigabytes the
# receiver got.  Softirq work the kernel does on behalf of a daemon's
# syscalls is in its system time; iperf3's own time is not counted.
#
# Environment: BENCH_SECS (default 10), BENCH_RUNS (default 3),
# BENCH_PARALLEL (iperf3 -P, default 1), BENCH_IMPLS (default "wgd
# wireguard-go kharness"), BENCH_INNER (4 or 6: iperf3 over IPv4 or IPv6
# inside the tunnel, default 4), WGD (default target/release/wgd),
# WGD_OFFLOAD (passed to wgd: 0 turns its offloads off, a list such as
# tun,gro picks some).  Builds nothing.
#
# SPDX-License-Identifier: MIT OR Apache-2.0

WT_LIB_FILE=${WT_LIB_FILE:-$0}
. "$(dirname -- "$WT_LIB_FILE")/lib.sh"

BENCH_SECS=${BENCH_SECS:-10}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_INNER=${BENCH_INNER:-4}
BENCH_PARALLEL=${BENCH_PARALLEL:-1}
BENCH_IMPLS=${BENCH_IMPLS:-"wgd wireguard-go kharness"}
# The kernel module's code in kharness, built without sanitizers (lib.sh's
# wg_start reads KHARNESS).
# shellcheck disable=SC2034
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

# cpu_ticks PID...: user + system clock ticks of the processes.
cpu_ticks() {
	for _p in "$@"; do
		# Fields 14 and 15 after the ")" that ends the command name.
		sed 's/.*) //' "/proc/$_p/stat" 2> /dev/null | awk '{ print $12 + $13 }'
	done | awk '{ s += $1 } END { print s + 0 }'
}

# bench IMPL: prints "Mbit/s CPU-s/GB" for IMPL on both ends.
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
	wg_peer ba "$wa" bb "10.99.0.2:$WG_PORT" 10.98.0.2/32,fd98::2/128
	wg_peer bb "$wb" ba "10.99.0.1:$WG_PORT" 10.98.0.1/32,fd98::1/128
	dst=10.98.0.2
	if [ "$BENCH_INNER" = 6 ]; then
		dst=fd98::2
		for _n in ba:"$wa":1 bb:"$wb":2; do
			_ns=${_n%%:*}
			_if=${_n#*:}
			_if=${_if%:*}
			nsq "$_ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0
			nsq "$_ns" sysctl -qw "net.ipv6.conf.$_if.disable_ipv6=0"
			addr "$_ns" "$_if" "fd98::${_n##*:}/64" nodad
		done
	fi
	wt_ping ba 10.98.0.2 10 || fail "$1: no tunnel"
	srv=$(wt_bg iperf3-server.log bb iperf3 -s -1 -B "$dst")
	n=0
	until nsx bb ss -Hltn 2> /dev/null | grep -q ':5201 '; do
		[ "$n" -ge 50 ] && fail "iperf3 server did not start"
		sleep 0.1
		n=$((n + 1))
	done
	pids="$(cat "$WT_DIR/$wa.pid") $(cat "$WT_DIR/$wb.pid")"
	# shellcheck disable=SC2086
	t0=$(cpu_ticks $pids)
	nsx ba timeout $((BENCH_SECS + 30)) iperf3 -J -c "$dst" \
	    -t "$BENCH_SECS" -P "$BENCH_PARALLEL" > "$WT_DIR/iperf3-$1.json" 2>&1 ||
	    fail "$1: iperf3 failed: $(tail -n 5 "$WT_DIR/iperf3-$1.json")"
	# shellcheck disable=SC2086
	t1=$(cpu_ticks $pids)
	wt_wait_pid "$srv" 5
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
r = d["end"]["sum_received"]
cpu = (int(sys.argv[3]) - int(sys.argv[2])) / float(sys.argv[4])
gb = r["bytes"] / 1e9
print("%.1f %.2f" % (r["bits_per_second"] / 1e6, cpu / gb if gb > 0 else 0))
' "$WT_DIR/iperf3-$1.json" "$t0" "$t1" "$(getconf CLK_TCK)" ||
	    fail "$1: cannot parse iperf3 output"
	wt_teardown
}

echo "# bench-tunnel: iperf3 TCP over IPv$BENCH_INNER, ${BENCH_SECS} s, -P $BENCH_PARALLEL, $BENCH_RUNS rounds, through a tunnel between two namespaces"
: > "$WT_DIR/results"
r=1
while [ "$r" -le "$BENCH_RUNS" ]; do
	for impl in $BENCH_IMPLS; do
		v=$(bench "$impl") || exit 1
		echo "# round $r: $impl $v (Mbit/s, CPU s/GB)"
		echo "$impl $v" >> "$WT_DIR/results"
	done
	r=$((r + 1))
done

# median IMPL COLUMN: the median of a column (2 Mbit/s, 3 CPU s/GB).
median() {
	awk -v i="$1" -v c="$2" '$1 == i { print $c }' "$WT_DIR/results" | sort -n |
	    awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

for impl in $BENCH_IMPLS; do
	tag=$(echo "$impl" | tr - _)
	echo "figure tunnel_${tag}_mbps $(median "$impl" 2) Mbit/s"
	echo "figure tunnel_${tag}_cpu_s_per_gb $(median "$impl" 3) s/GB"
done
# ratio NAME A B: A / B as a figure.
ratio() {
	[ -n "$2" ] && [ -n "$3" ] && awk -v n="$1" -v a="$2" -v b="$3" \
	    'BEGIN { if (b > 0) printf "figure %s %.2f x\n", n, a / b }'
	return 0
}
case " $BENCH_IMPLS " in *" wireguard-go "*) has_go=1 ;; *) has_go=0 ;; esac
case " $BENCH_IMPLS " in *" wgd "*) has_wgd=1 ;; *) has_wgd=0 ;; esac
case " $BENCH_IMPLS " in *" kharness "*) has_kh=1 ;; *) has_kh=0 ;; esac
if [ "$has_wgd" = 1 ] && [ "$has_go" = 1 ]; then
	ratio tunnel_vs_wireguard_go_ratio "$(median wgd 2)" "$(median wireguard-go 2)"
	ratio tunnel_cpu_per_gb_vs_wireguard_go_ratio "$(median wgd 3)" "$(median wireguard-go 3)"
fi
if [ "$has_kh" = 1 ] && [ "$has_go" = 1 ]; then
	ratio tunnel_kharness_vs_wireguard_go_ratio "$(median kharness 2)" "$(median wireguard-go 2)"
fi
if [ "$has_kh" = 1 ] && [ "$has_wgd" = 1 ]; then
	ratio tunnel_kharness_vs_wgd_ratio "$(median kharness 2)" "$(median wgd 2)"
fi

#!/bin/sh
# tests/netns/wgquick.sh: Debian's wg-quick driving wgd.  Namespace q runs
# `WG_QUICK_USERSPACE_IMPLEMENTATION=wgd wg-quick up IF.conf` (Address,
# ListenPort, a peer whose AllowedIPs make wg-quick add a route); the peer
# is wireguard-go in namespace s, which also holds 10.56.0.1 on lo behind
# the tunnel.  q pings 10.55.0.1 and 10.56.0.1 through it, s pings q;
# then `wg-quick down` removes the interface and leaves no wgd process.
#
# Environment: WGD, CI=true, WT_KEEP=1, WT_VERBOSE=1.
#
# SPDX-License-Identifier: MIT OR Apache-2.0

WT_LIB_FILE=${WT_LIB_FILE:-$0}
. "$(dirname -- "$WT_LIB_FILE")/lib.sh"

need_impls() {
	for _i in "$@"; do
		_why=$(wt_impl_ok "$_i") || skip "$_why"
	done
}

# quick NS up|down FILE: wg-quick with wgd as the userspace implementation.
quick() {
	nsx "$1" env WG_QUICK_USERSPACE_IMPLEMENTATION="$WGD" \
	    WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 \
	    LOG_LEVEL="${LOG_LEVEL:-error}" timeout 20 wg-quick "$2" "$3" \
	    > "$WT_DIR/quick.$2" 2>&1
}

# wgd_pids NS IF: pids of wgd processes (serving IF) in NS.
wgd_pids() {
	for _p in $(ip netns pids "$(ns "$1")" 2> /dev/null); do
		_c=$(tr '\0' ' ' < "/proc/$_p/cmdline" 2> /dev/null) || continue
		case "$_c" in "$WGD "*) echo "$_p" ;; esac
	done
	pgrep -f -x "$WGD $2"
}

t_wgquick() {
	need_impls wgd wireguard-go
	ns_add q s
	veth q qs s sq
	addr q qs 172.29.0.2/24
	addr s sq 172.29.0.1/24
	WGS=$(wg_ifname s)
	WGQ=$(wg_ifname q)
	wg_key q
	wg_up wireguard-go s "$WGS" s 10.55.0.1/24
	addr s lo 10.56.0.1/32
	wg_peer s "$WGS" q - 10.55.0.2/32

	(umask 077 && cat > "$WT_DIR/$WGQ.conf") <<CONF
[Interface]
PrivateKey = $(cat "$WT_DIR/q.key")
Address = 10.55.0.2/24
ListenPort = $WG_PORT
MTU = 1400

[Peer]
PublicKey = $(wg_pub s)
Endpoint = 172.29.0.1:$WG_PORT
AllowedIPs = 10.55.0.0/24, 10.56.0.0/24
PersistentKeepalive = 25
CONF
	quick q up "$WT_DIR/$WGQ.conf" ||
	    fail "wg-quick up: $(tail -n 5 "$WT_DIR/quick.up")"
	sed 's/^/#   /' "$WT_DIR/quick.up"
	# Track the daemon wg-quick started, so the cleanup trap stops it.
	pids=$(wgd_pids q "$WGQ" | sort -u)
	[ -n "$pids" ] || fail "no wgd process after wg-quick up (kernel WireGuard used?)"
	for p in $pids; do wt_track_pid "$p"; done
	grep -q 'userspace' "$WT_DIR/quick.up" ||
	    wt_log "note: wg-quick did not say it falls back to userspace"
	[ -S "$WT_SOCKDIR/$WGQ.sock" ] || fail "no UAPI socket $WT_SOCKDIR/$WGQ.sock"
	nsx q ip route show dev "$WGQ" | grep -q '^10\.56\.0\.0/24' ||
	    fail "wg-quick added no route to 10.56.0.0/24: $(nsx q ip route show dev "$WGQ")"
	mtu=$(nsx q cat "/sys/class/net/$WGQ/mtu")
	[ "$mtu" = 1400 ] || fail "MTU is $mtu, not 1400"
	port=$(nsx q wg show "$WGQ" listen-port)
	[ "$port" = "$WG_PORT" ] || fail "listen port is $port"

	wt_ping q 10.55.0.1 10 || fail "q cannot ping 10.55.0.1 through the tunnel"
	nsq q ping -n -q -c 3 -i 0.2 -W 2 10.56.0.1
	nsq s ping -n -q -c 3 -i 0.2 -W 2 10.55.0.2
	wg_wait_handshake q "$WGQ" 5 || fail "no handshake on q"
	ka=$(nsx q wg show "$WGQ" persistent-keepalive | awk '{ print $2 }')
	[ "$ka" = 25 ] || fail "persistent keepalive is '$ka'"
	wt_log "wgd pid $pids; pings through; routes: $(nsx q ip route show dev "$WGQ" | tr '\n' ';')"

	quick q down "$WT_DIR/$WGQ.conf" ||
	    fail "wg-quick down: $(tail -n 5 "$WT_DIR/quick.down")"
	sed 's/^/#   /' "$WT_DIR/quick.down"
	nsx q ip link show "$WGQ" > /dev/null 2>&1 && fail "$WGQ still exists after wg-quick down"
	n=0
	while [ -n "$(wgd_pids q "$WGQ")" ]; do
		[ "$n" -ge 50 ] && fail "wgd still running 5 s after wg-quick down: $(wgd_pids q "$WGQ" | tr '\n' ' ')"
		sleep 0.1
		n=$((n + 1))
	done
	wt_log "wgd gone $((n * 100)) ms after wg-quick down"
	[ -e "$WT_SOCKDIR/$WGQ.sock" ] && fail "the UAPI socket is left behind"
	return 0
}

[ "${WT_WGQUICK_NORUN:-0}" = 1 ] && return 0

wt_need_root
wt_trap
wt_ensure ip wg wg-quick wireguard-go ping timeout pgrep || {
	if wt_is_ci; then
		echo "not ok - prerequisites"
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "# SKIP: missing prerequisites"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}

echo "# wg-quick tests, run $WT_ID (wgd: $WGD)"
run_test "wg-quick up/down with wgd, peer wireguard-go" t_wgquick
wt_summary

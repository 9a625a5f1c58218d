#!/bin/sh
# Smoke test of wgd (needs root): two network namespaces joined by a veth
# pair; first wgd against wireguard-go, then wgd on both ends. Pings through
# the tunnel both ways, checks that a port in use fails a set with nothing
# changed, and that wgd exits (removing its socket) on SIGTERM and when its
# interface is deleted. Prints PASS or FAIL; cleans up after itself.
#
#   sh tools/wgd/tests/smoke.sh            (uses target/debug/wgd)
#   WGD=/path/to/wgd WGGO=wireguard-go sh tools/wgd/tests/smoke.sh
set -u

here=$(cd "$(dirname "$0")" && pwd)
WGD=${WGD:-$here/../../../target/debug/wgd}
WGGO=${WGGO:-wireguard-go}
NS1=wgds1-$$
NS2=wgds2-$$
IF1=wgds1-$$
IF2=wgds2-$$
SOCKDIR=/var/run/wireguard
umask 077
TMP=$(mktemp -d)
PIDS=""

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	ip netns pids "$NS1" 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns pids "$NS2" 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns del "$NS1" 2>/dev/null
	ip netns del "$NS2" 2>/dev/null
	rm -f "$SOCKDIR/$IF1.sock" "$SOCKDIR/$IF2.sock"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "FAIL: $*"
	for f in "$TMP"/*.log; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done
	exit 1
}

# wait_for TIMEOUT_TENTHS COMMAND...: polls until COMMAND succeeds.
wait_for() {
	n=$1; shift
	while [ "$n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 0; }
[ -x "$WGD" ] || fail "no wgd binary at $WGD (cargo build -p wgd)"
command -v wg >/dev/null || fail "wg not installed"

ip netns add "$NS1" || fail "ip netns add"
ip netns add "$NS2" || fail "ip netns add"
ip link add veth1-$$ netns "$NS1" type veth peer name veth2-$$ netns "$NS2" || fail "veth"
ip -n "$NS1" addr add 10.99.0.1/24 dev veth1-$$
ip -n "$NS2" addr add 10.99.0.2/24 dev veth2-$$
for ns in "$NS1" "$NS2"; do ip -n "$ns" link set lo up; done
ip -n "$NS1" link set veth1-$$ up
ip -n "$NS2" link set veth2-$$ up

wg genkey >"$TMP/k1"; wg pubkey <"$TMP/k1" >"$TMP/p1"
wg genkey >"$TMP/k2"; wg pubkey <"$TMP/k2" >"$TMP/p2"

# configure NS IF KEY PORT PEERPUB PEERTUNIP PEERENDPOINT OWNTUNIP
configure() {
	ip netns exec "$1" wg set "$2" private-key "$3" listen-port "$4" \
		peer "$(cat "$5")" allowed-ips "$6/32" endpoint "$7" || return 1
	ip -n "$1" addr add "$8/24" dev "$2" || return 1
	ip -n "$1" link set "$2" up
}

ping_both() {
	ip netns exec "$NS1" ping -c 3 -i 0.2 -W 2 10.100.0.2 >"$TMP/ping12" 2>&1 ||
		{ cat "$TMP/ping12"; return 1; }
	ip netns exec "$NS2" ping -c 3 -i 0.2 -W 2 10.100.0.1 >"$TMP/ping21" 2>&1 ||
		{ cat "$TMP/ping21"; return 1; }
	grep -h 'packets transmitted' "$TMP/ping12" "$TMP/ping21"
}

start_wgd_fg() { # NS IF
	ip netns exec "$1" "$WGD" -f "$2" >"$TMP/wgd-$2.log" 2>&1 &
	PIDS="$PIDS $!"
	wait_for 50 test -S "$SOCKDIR/$2.sock" || fail "wgd did not open $SOCKDIR/$2.sock"
}

echo "== wgd ($NS1) <-> wireguard-go ($NS2)"
start_wgd_fg "$NS1" "$IF1"
[ "$(ip -n "$NS1" -o link show "$IF1" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')" = 1420 ] ||
	fail "MTU of $IF1 is not 1420"
WG_PROCESS_FOREGROUND=1 ip netns exec "$NS2" "$WGGO" "$IF2" >"$TMP/wggo.log" 2>&1 &
GOPID=$!
PIDS="$PIDS $GOPID"
wait_for 50 test -S "$SOCKDIR/$IF2.sock" || fail "wireguard-go did not start"
configure "$NS1" "$IF1" "$TMP/k1" 51820 "$TMP/p2" 10.100.0.2 10.99.0.2:51821 10.100.0.1 ||
	fail "configuring wgd"
configure "$NS2" "$IF2" "$TMP/k2" 51821 "$TMP/p1" 10.100.0.1 10.99.0.1:51820 10.100.0.2 ||
	fail "configuring wireguard-go"
ping_both || fail "ping wgd <-> wireguard-go"
ip netns exec "$NS1" wg show "$IF1" latest-handshakes | grep -qv '	0$' ||
	fail "wgd reports no handshake"

echo "== a set on a port in use fails and changes nothing"
ip netns exec "$NS1" "$WGD" -f "${IF1}x" >"$TMP/wgd-x.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 50 test -S "$SOCKDIR/${IF1}x.sock" || fail "second wgd did not start"
ip netns exec "$NS1" wg set "${IF1}x" listen-port 40000 || fail "set port 40000"
if ip netns exec "$NS1" wg set "$IF1" listen-port 40000 private-key "$TMP/k2" 2>"$TMP/inuse"; then
	fail "set with a port in use succeeded"
fi
grep -qi 'address already in use\|in use' "$TMP/inuse" || { cat "$TMP/inuse"; fail "wrong error for a port in use"; }
[ "$(ip netns exec "$NS1" wg show "$IF1" listen-port)" = 51820 ] || fail "port changed"
[ "$(ip netns exec "$NS1" wg show "$IF1" public-key)" = "$(cat "$TMP/p1")" ] || fail "key changed"
ip -n "$NS1" link del "${IF1}x"
wait_for 50 sh -c "! test -e $SOCKDIR/${IF1}x.sock" || fail "wgd did not exit when its interface was deleted"
echo "exit on interface deletion: ok"

echo "== wgd ($NS1) <-> wgd ($NS2, detached)"
kill "$GOPID"
wait "$GOPID" 2>/dev/null
wait_for 50 sh -c "! ip -n $NS2 link show $IF2" || fail "wireguard-go did not stop"
ip netns exec "$NS2" "$WGD" "$IF2" >"$TMP/wgd-detach.log" 2>&1 || fail "detached wgd exited non-zero"
test -S "$SOCKDIR/$IF2.sock" || fail "detached wgd has no socket once its parent returned"
configure "$NS2" "$IF2" "$TMP/k2" 51821 "$TMP/p1" 10.100.0.1 10.99.0.1:51820 10.100.0.2 ||
	fail "configuring detached wgd"
# The peer restarted with the same key: drop its old session by removing
# and re-adding it (this also exercises peer removal).
ip netns exec "$NS1" wg set "$IF1" peer "$(cat "$TMP/p2")" remove || fail "peer remove"
[ -z "$(ip netns exec "$NS1" wg show "$IF1" peers)" ] || fail "peer not removed"
ip netns exec "$NS1" wg set "$IF1" peer "$(cat "$TMP/p2")" allowed-ips 10.100.0.2/32 \
	endpoint 10.99.0.2:51821 || fail "peer re-add"
ping_both || fail "ping wgd <-> wgd"
ip netns exec "$NS2" wg show "$IF2" transfer | grep -q . || fail "no transfer counters"

echo "== shutdown on SIGTERM"
for ns in "$NS1" "$NS2"; do ip netns pids "$ns" | xargs -r kill; done
wait_for 50 sh -c "! test -e $SOCKDIR/$IF1.sock && ! test -e $SOCKDIR/$IF2.sock" ||
	fail "sockets not removed on SIGTERM"
wait_for 50 sh -c "! ip -n $NS1 link show $IF1 && ! ip -n $NS2 link show $IF2" ||
	fail "interfaces not removed on SIGTERM"

echo PASS

#!/bin/sh
# tests/netns/demo.sh (`make demo`): the seed's site-to-site network in
# network namespaces, for a newcomer: the kernel module's own code
# (kmod/if_wg.c in kharness, the userspace model of FreeBSD's kernel) on
# one router, wgd on the other.  Builds nothing (the Makefile builds them
# first); installs missing Debian tools when root.
# Everything is torn down at the end, also on Ctrl-C.
#
# Every `wg` command runs our wg (tools/wg, target/release/wg, or WG) when
# it is built, else Debian's.
#
# Environment: WGD (default target/release/wgd), IMPL1/IMPL2 (default
# kharness on vpnr1, wgd on vpnr2; wireguard-go works too), DEMO_PAUSE=1
# waits for Enter
# before tearing down, WT_KEEP=1 keeps logs and captures.
#
# SPDX-License-Identifier: MIT OR Apache-2.0

WT_LIB_FILE=${WT_LIB_FILE:-$0}
. "$(dirname -- "$WT_LIB_FILE")/lib.sh"

IMPL1=${IMPL1:-kharness}
IMPL2=${IMPL2:-wgd}

say() { printf '\n==> %s\n' "$*"; }
show() { printf '    $ %s\n' "$*"; }
indent() { sed 's/^/    /'; }
fail() {
	printf '\ndemo: FAILED: %s\n' "$*" >&2
	exit 1
}

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: network namespaces need root; try: sudo make demo" >&2
	exit 1
fi
for i in "$IMPL1" "$IMPL2"; do
	why=$(wt_impl_ok "$i") || fail "$why (run 'make demo', which builds it)"
done
wt_ensure ip wg tcpdump ping timeout || fail "missing tools (see above)"
OURWG=${WG:-$WT_ROOT/target/release/wg}
if [ -x "$OURWG" ]; then
	mkdir -p "$WT_DIR/bin" && ln -sf "$OURWG" "$WT_DIR/bin/wg" &&
	    PATH="$WT_DIR/bin:$PATH"
fi
wt_trap
trap 'printf "\ndemo: interrupted, tearing down\n"; exit 130' INT
trap 'exit 143' TERM

cat <<EOF
if_wg demo: WireGuard joining two sites over a public network, all inside
throw-away network namespaces (prefix $WT_PREFIX-).  "kharness" is the
FreeBSD kernel module's own code (kmod/if_wg.c and the Rust core's kernel
build) running in a userspace model of FreeBSD's kernel interfaces: a
model, not FreeBSD.  "wgd" is our userspace daemon.

        vpnh1 192.168.1.11                         vpnh2 192.168.2.11
          |  site 1                                  |  site 2
        vpnr1 172.31.1.11 ---- r1 (public) ---- 172.31.2.11 vpnr2
          \`======= WireGuard tunnel 192.168.222.0/24 ========'

r1 routes only the public addresses: the sites can talk only through
the tunnel.  vpnr1 runs $IMPL1, vpnr2 runs $IMPL2; `wg` is $(command -v wg).
EOF

say "Building the network (5 namespaces, veth pairs, bridges)"
seed_topology
echo "    the public network works, and site 1 cannot reach site 2 without a tunnel"

say "Starting $IMPL1 on vpnr1 and $IMPL2 on vpnr2, configured with wg(8)"
seed_site_to_site "$IMPL1" "$IMPL2"
show "wg set $WG1 private-key ... listen-port $WG_PORT peer <vpnr2> endpoint 172.31.2.11:$WG_PORT allowed-ips 192.168.222.2/32,192.168.2.0/24"

pub=$(cap_start r1 p1a public.pcap) || fail "cannot capture on r1"
site=$(cap_start vpnr2 brs2 site2.pcap) || fail "cannot capture on site 2"

say "Ping from vpnh1 (site 1) to vpnh2 (site 2), through the tunnel"
wt_ping vpnh1 192.168.2.11 10 || fail "no answer through the tunnel"
show "ping -c 3 -s 200 -p $PATTERN_HEX 192.168.2.11   # payload '$PATTERN_TEXT'"
nsx vpnh1 ping -n -c 3 -i 0.3 -W 5 -s 200 -p "$PATTERN_HEX" 192.168.2.11 2>&1 |
    grep -v '^PATTERN' | indent
wg_wait_handshake vpnr1 "$WG1" 5 || fail "no handshake"

say "wg show on vpnr1 ($IMPL1)"
nsx vpnr1 wg show "$WG1" | indent
say "wg show on vpnr2 ($IMPL2)"
nsx vpnr2 wg show "$WG2" | indent

cap_stop "$pub"
cap_stop "$site"

say "Proof that the wire is encrypted"
n_all=$(cap_count public.pcap ip)
n_wg=$(cap_count public.pcap udp and src port "$WG_PORT" and dst port "$WG_PORT")
echo "    on r1 (the public network): $n_all IPv4 packets, $n_wg of them WireGuard UDP $WG_PORT->$WG_PORT:"
tcpdump -n -r "$WT_DIR/public.pcap" ip 2> /dev/null | head -n 4 | indent
if cap_has public.pcap "$PATTERN_TEXT"; then
	fail "the payload '$PATTERN_TEXT' crossed r1 in the clear"
fi
echo "    the payload '$PATTERN_TEXT' appears 0 times in r1's capture"
if cap_has site2.pcap "$PATTERN_TEXT"; then
	echo "    ...while inside site 2 (after decryption) the same ping is plain text:"
	tcpdump -n -A -r "$WT_DIR/site2.pcap" icmp 2> /dev/null |
	    grep -m 1 -o -F "$PATTERN_TEXT$PATTERN_TEXT$PATTERN_TEXT" | indent
fi
[ "$n_all" -eq "$n_wg" ] || fail "r1 saw $((n_all - n_wg)) IPv4 packets that are not WireGuard"

if [ "${DEMO_PAUSE:-0}" = 1 ] && [ -t 0 ]; then
	say "The network is up: try 'ip netns exec $(ns vpnh1) ping 192.168.2.11'. Enter to tear down."
	read -r _
fi

say "Tearing down (daemons stopped, namespaces deleted)"
wt_teardown
echo
echo "demo: OK: $IMPL1 <-> $IMPL2 site-to-site tunnel, encrypted on the wire"

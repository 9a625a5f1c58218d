#!/bin/sh
# tests/netns/offload.sh: bulk TCP through wgd's offloads (issue 13), byte
# for byte.  Namespaces a and b, a tunnel over a veth carrying IPv4 and
# IPv6; 24 MB of random bytes go a -> b and b -> a over TCP inside the
# tunnel, IPv4 then IPv6, and the receiver's SHA-256 must equal the
# sender's.  With wgd on a sending end the kernel hands it TSO
# super-packets that wgd cuts; with wgd on a receiving end it merges the
# segments before the TUN write: a wrong cut or merge that still carries
# good checksums (wgd computes them) shows up here and not in iperf3.
# Also through b to a host c behind it (b forwards: the super-packets wgd
# writes into b's TUN are cut again by the kernel on the way to c).
# Then UDP sent with UDP_SEGMENT inside the tunnel (USO super-packets from
# the TUN): every datagram that arrives must be whole and unchanged, and
# most must arrive.
#
# Environment: PAIRS (IMPL_A:IMPL_B, default "wgd:wireguard-go
# wireguard-go:wgd wgd:wgd"), WGD_OFFLOAD (passed to wgd), WGD, CI=true,
# WT_KEEP=1, WT_VERBOSE=1.
#
# SPDX-License-Identifier: MIT OR Apache-2.0

WT_LIB_FILE=${WT_LIB_FILE:-$0}
. "$(dirname -- "$WT_LIB_FILE")/lib.sh"

PAIRS=${PAIRS:-"wgd:wireguard-go wireguard-go:wgd wgd:wgd"}
SIZE_MB=${SIZE_MB:-24}

v6_on() {
	nsq "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=0
	nsq "$1" sysctl -qw net.ipv6.conf.default.disable_ipv6=0
	nsq "$1" sysctl -qw net.ipv6.conf.lo.disable_ipv6=0
}

# transfer FROM TO DSTADDR: SIZE_MB random bytes over TCP, checked.
transfer() {
	_port=$((5300 + WT_TESTNO))
	_fam=AF_INET
	case "$3" in *:*) _fam=AF_INET6 ;; esac
	wt_bg "recv-$1-$2.out" "$2" timeout 60 python3 -c '
import hashlib, socket, sys
s = socket.socket(getattr(socket, sys.argv[1]), socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[2], int(sys.argv[3])))
s.listen(1)
c, _ = s.accept()
h = hashlib.sha256()
n = 0
while True:
    b = c.recv(1 << 20)
    if not b:
        break
    h.update(b)
    n += len(b)
print(n, h.hexdigest())
' "$_fam" "$3" "$_port" > /dev/null
	_n=0
	until nsx "$2" ss -Hltn 2> /dev/null | grep -q ":$_port "; do
		[ "$_n" -ge 50 ] && fail "receiver in $2 did not listen"
		sleep 0.1
		_n=$((_n + 1))
	done
	_sent=$(nsx "$1" timeout 60 python3 -c '
import hashlib, os, socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
h = hashlib.sha256()
total = int(sys.argv[3]) << 20
n = 0
while n < total:
    # Odd sizes, so writes do not line up with segments.
    b = os.urandom(min(200003, total - n))
    s.sendall(b)
    h.update(b)
    n += len(b)
s.shutdown(socket.SHUT_WR)
s.recv(1)
print(n, h.hexdigest())
' "$3" "$_port" "$SIZE_MB") || fail "sending from $1 to $3 failed"
	_t=0
	while [ ! -s "$WT_DIR/recv-$1-$2.out" ]; do
		[ "$_t" -ge 100 ] && fail "receiver in $2 did not finish"
		sleep 0.1
		_t=$((_t + 1))
	done
	_got=$(cat "$WT_DIR/recv-$1-$2.out")
	[ "$_sent" = "$_got" ] || fail "$1 -> $3: sent '$_sent', received '$_got'"
	wt_vlog "$1 -> $3: $_got"
	rm -f "$WT_DIR/recv-$1-$2.out"
}

# udp_gso FROM TO DSTADDR: 2000 datagrams of 1000 bytes sent as 50-segment
# UDP_SEGMENT writes; the receiver checks each one's bytes.
udp_gso() {
	_port=$((5400 + WT_TESTNO))
	_fam=AF_INET
	case "$3" in *:*) _fam=AF_INET6 ;; esac
	wt_bg "udp-$1-$2.out" "$2" timeout 30 python3 -c '
import hashlib, socket, sys
s = socket.socket(getattr(socket, sys.argv[1]), socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((sys.argv[2], int(sys.argv[3])))
s.settimeout(3)
good = bad = 0
try:
    while good + bad < 2000:
        d = s.recv(65536)
        seq = int.from_bytes(d[:4], "big")
        want = seq.to_bytes(4, "big") + hashlib.sha256(d[:4]).digest() * 32
        if d == want[:1000] and len(d) == 1000:
            good += 1
        else:
            bad += 1
except socket.timeout:
    pass
print(good, bad)
' "$_fam" "$3" "$_port" > /dev/null
	sleep 0.5
	nsx "$1" timeout 30 python3 -c '
import hashlib, socket, sys, time
s = socket.socket(getattr(socket, sys.argv[1]), socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_UDP, 103, 1000)  # UDP_SEGMENT
for burst in range(40):
    buf = b""
    for i in range(50):
        h = (burst * 50 + i).to_bytes(4, "big")
        buf += (h + hashlib.sha256(h).digest() * 32)[:1000]
    s.sendto(buf, (sys.argv[2], int(sys.argv[3])))
    time.sleep(0.002)
' "$_fam" "$3" "$_port" || fail "UDP_SEGMENT send from $1 to $3 failed"
	_t=0
	while [ ! -s "$WT_DIR/udp-$1-$2.out" ]; do
		[ "$_t" -ge 100 ] && fail "UDP receiver in $2 did not finish"
		sleep 0.1
		_t=$((_t + 1))
	done
	read -r _good _bad < "$WT_DIR/udp-$1-$2.out"
	[ "$_bad" = 0 ] || fail "$1 -> $3: $_bad of $((_good + _bad)) UDP datagrams damaged"
	[ "$_good" -ge 1800 ] || fail "$1 -> $3: only $_good of 2000 UDP datagrams arrived"
	wt_vlog "$1 -> $3: $_good of 2000 UDP_SEGMENT datagrams arrived whole"
	rm -f "$WT_DIR/udp-$1-$2.out"
}

t_offload() {
	for _i in "$1" "$2"; do
		_why=$(wt_impl_ok "$_i") || skip "$_why"
	done
	ns_add a b c
	v6_on a
	v6_on b
	veth a ab b ba
	veth b bc c cb
	addr a ab 10.99.0.1/24
	addr b ba 10.99.0.2/24
	addr b bc 10.97.0.1/24
	addr c cb 10.97.0.2/24
	route c default via 10.97.0.1
	ns_forward b
	WGA=$(wg_ifname a)
	WGB=$(wg_ifname b)
	wg_up "$1" a "$WGA" a 10.98.0.1/24
	wg_up "$2" b "$WGB" b 10.98.0.2/24
	nsq a sysctl -qw "net.ipv6.conf.$WGA.disable_ipv6=0"
	nsq b sysctl -qw "net.ipv6.conf.$WGB.disable_ipv6=0"
	addr a "$WGA" fd98::1/64 nodad
	addr b "$WGB" fd98::2/64 nodad
	wg_peer a "$WGA" b "10.99.0.2:$WG_PORT" 10.98.0.2/32,fd98::2/128,10.97.0.0/24
	wg_peer b "$WGB" a "10.99.0.1:$WG_PORT" 10.98.0.1/32,fd98::1/128
	route a 10.97.0.0/24 dev "$WGA"
	route c 10.98.0.0/24 via 10.97.0.1
	wt_ping a 10.98.0.2 10 || fail "no tunnel"
	wt_ping a 10.97.0.2 5 || fail "a cannot reach c through b"
	transfer a b 10.98.0.2
	transfer b a 10.98.0.1
	transfer a b fd98::2
	transfer b a fd98::1
	transfer a c 10.97.0.2
	transfer c a 10.98.0.1
	udp_gso a b 10.98.0.2
	udp_gso b a fd98::1
}

wt_need_root
wt_trap
wt_ensure ip wg ping python3 ss timeout || {
	if wt_is_ci; then
		echo "not ok - prerequisites"
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "# SKIP: missing prerequisites"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}

echo "# bulk TCP through the offloads, run $WT_ID (WGD_OFFLOAD=${WGD_OFFLOAD:-default})"
for pair in $PAIRS; do
	run_test "offload a=${pair%%:*} b=${pair#*:}" t_offload "${pair%%:*}" "${pair#*:}"
done
wt_summary

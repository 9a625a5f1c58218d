#!/usr/libexec/atf-sh
#
# if_wg in Rust: a tunnel between two VNET jails over an epair.
#
# SPDX-License-Identifier: MIT OR Apache-2.0

. "$(atf_get_srcdir)/wg.subr"

# tunnel_check ENDPOINT: pings both ways over IPv4 and IPv6 inside the
# tunnel made by wg_mktunnel wgt_t1 wgt_t2, then reads wgt_t1's view of its
# peer back through wg(8); the peer must be at ENDPOINT.
tunnel_check()
{
	local dump

	# The first echo may wait for the handshake.
	wg_ping wgt_t1 169.254.222.2 10 ||
	    atf_fail "no answer from 169.254.222.2 through the tunnel"
	atf_check -o ignore jexec wgt_t1 ping -c 3 -t 5 169.254.222.2
	atf_check -o ignore jexec wgt_t2 ping -c 3 -t 5 169.254.222.1
	atf_check -o ignore jexec wgt_t1 ping -6 -c 3 -t 5 fd00:222::2
	atf_check -o ignore jexec wgt_t2 ping -6 -c 3 -t 5 fd00:222::1
	# Close to the MTU (1420 - 20 - 8) and more than one mbuf.
	atf_check -o ignore jexec wgt_t1 ping -c 2 -t 5 -s 1392 169.254.222.2

	wg_wait_handshake wgt_t1 "${WGT_IF1}" "$(wg_pub wgt_t2)" 5 ||
	    atf_fail "no handshake time on ${WGT_IF1}"
	wg_wait_handshake wgt_t2 "${WGT_IF2}" "$(wg_pub wgt_t1)" 5 ||
	    atf_fail "no handshake time on ${WGT_IF2}"

	# The peer line of the dump: public-key preshared-key endpoint
	# allowed-ips latest-handshake transfer-rx transfer-tx keepalive.
	dump=$(jexec wgt_t1 wg show "${WGT_IF1}" dump | sed -n 2p)
	echo "${dump}" | awk -F '\t' -v k="$(wg_pub wgt_t2)" -v e="$1" '
	    NF != 8 { print "fields: " NF; bad = 1 }
	    $1 != k { print "public key: " $1; bad = 1 }
	    $2 != "(none)" { print "preshared key: " $2; bad = 1 }
	    $3 != e { print "endpoint: " $3 " != " e; bad = 1 }
	    $4 !~ /169\.254\.222\.2\/32/ || $4 !~ /fd00:222::2\/128/ {
		print "allowed ips: " $4; bad = 1 }
	    $5 + 0 <= 0 { print "latest handshake: " $5; bad = 1 }
	    $6 + 0 <= 0 || $7 + 0 <= 0 { print "transfer: " $6 " " $7; bad = 1 }
	    $8 != "off" { print "keepalive: " $8; bad = 1 }
	    END { exit bad }' >&2 ||
	    atf_fail "unexpected peer line in wg show dump: ${dump}"
}

atf_test_case "tunnel_v4" "cleanup"
tunnel_v4_head()
{
	atf_set descr 'A wg tunnel between two VNET jails over an IPv4 epair: pings both ways (IPv4 and IPv6 inside), handshake time and transfer counters in wg show dump'
	atf_set require.user root
	atf_set require.progs wg
	atf_set timeout 120
}

tunnel_v4_body()
{
	wg_init
	wg_mktunnel wgt_t1 wgt_t2 192.0.2.1 192.0.2.2 24
	tunnel_check "192.0.2.2:${WG_PORT}"
}

tunnel_v4_cleanup()
{
	vnet_cleanup
}

atf_test_case "tunnel_v6" "cleanup"
tunnel_v6_head()
{
	atf_set descr 'A wg tunnel between two VNET jails over an IPv6 epair (IPv6 endpoints)'
	atf_set require.user root
	atf_set require.progs wg
	atf_set timeout 120
}

tunnel_v6_body()
{
	wg_init
	wg_mktunnel wgt_t1 wgt_t2 2001:db8:2::1 2001:db8:2::2 64
	tunnel_check "[2001:db8:2::2]:${WG_PORT}"
}

tunnel_v6_cleanup()
{
	vnet_cleanup
}

atf_test_case "tunnel_bpf" "cleanup"
tunnel_bpf_head()
{
	atf_set descr 'bpf(4) on a wg interface sees the inner packets (DLT_NULL) both ways; the epair carries only WireGuard UDP'
	atf_set require.user root
	atf_set require.progs "wg tcpdump"
	atf_set timeout 120
}

tunnel_bpf_body()
{
	local inner outer

	wg_init
	wg_mktunnel wgt_t1 wgt_t2
	wg_ping wgt_t1 169.254.222.2 10 ||
	    atf_fail "no answer from 169.254.222.2 through the tunnel"

	inner=$(wg_capture_start wgt_t2 "${WGT_IF2}" inner.pcap) ||
	    atf_fail "cannot capture on ${WGT_IF2}"
	outer=$(wg_capture_start wgt_t2 "${WGT_EPAIR}b" outer.pcap) ||
	    atf_fail "cannot capture on ${WGT_EPAIR}b"
	atf_check -o ignore jexec wgt_t1 ping -c 3 -t 5 169.254.222.2
	wg_capture_stop "${inner}"
	wg_capture_stop "${outer}"

	atf_check -o ignore -e match:"link-type NULL" \
	    tcpdump -n -r inner.pcap -c 1
	# Three echo requests in, three replies out.
	[ "$(wg_capture_count inner.pcap icmp)" -ge 6 ] ||
	    atf_fail "bpf on ${WGT_IF2} missed echo requests or replies"
	[ "$(wg_capture_count outer.pcap icmp)" -eq 0 ] ||
	    atf_fail "ICMP in the clear on ${WGT_EPAIR}b"
	[ "$(wg_capture_count outer.pcap udp port "${WG_PORT}")" -ge 6 ] ||
	    atf_fail "too few WireGuard datagrams on ${WGT_EPAIR}b"
}

tunnel_bpf_cleanup()
{
	vnet_cleanup
}

atf_init_test_cases()
{
	atf_add_test_case "tunnel_v4"
	atf_add_test_case "tunnel_v6"
	atf_add_test_case "tunnel_bpf"
}

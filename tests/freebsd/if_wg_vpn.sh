#!/usr/libexec/atf-sh
#
# if_wg in Rust: the five-jail VPN network.
#
#                       r1 (public router)
#        172.31.1.1 (EP_P1a)      bridge BR_P2 172.31.2.1 (member EP_P2a)
#               |                              |
#        172.31.1.11 (EP_P1b)          172.31.2.11 (EP_P2b)
#             vpnr1  ==== wg 192.168.222.x ====  vpnr2   (site routers)
#        192.168.1.1 (EP_S1a)      bridge BR_S2 192.168.2.1 (member EP_S2a)
#               |                              |
#        192.168.1.11 (EP_S1b)         192.168.2.11 (EP_S2b)
#             vpnh1                          vpnh2      (site hosts)
#
# r1 routes only 172.31.1.0/24 and 172.31.2.0/24: the sites reach each
# other through WireGuard or not at all.  For the roaming host, vpnh2's
# wire (EP_S2a) is moved from vpnr2's bridge BR_S2 to r1's bridge BR_P2,
# and vpnh2 readdresses to 172.31.2.111.
#
# SPDX-License-Identifier: MIT OR Apache-2.0

. "$(atf_get_srcdir)/wg.subr"

# ASCII payload that ping(8) repeats through its packets (-p takes hex).
PATTERN_TEXT='wg_payload_leak!'
PATTERN_HEX=77675f7061796c6f61645f6c65616b21

# jx JAIL ARGS...: runs a configuration command in a jail, failing the
# test with the command in the message if it fails.
jx()
{
	local jail

	jail=$1
	shift
	jexec "wgt_${jail}" "$@" > /dev/null 2> jx.err ||
	    atf_fail "in ${jail}: $*: $(cat jx.err)"
}

vpn_setup()
{
	wg_init
	kldload -n if_bridge > /dev/null 2>&1

	EP_P1=$(vnet_mkepair) || atf_fail "cannot create an epair"
	EP_P2=$(vnet_mkepair) || atf_fail "cannot create an epair"
	EP_S1=$(vnet_mkepair) || atf_fail "cannot create an epair"
	EP_S2=$(vnet_mkepair) || atf_fail "cannot create an epair"
	vnet_mkjail wgt_r1 "${EP_P1}a" "${EP_P2}a"
	vnet_mkjail wgt_vpnr1 "${EP_P1}b" "${EP_S1}a"
	vnet_mkjail wgt_vpnr2 "${EP_P2}b" "${EP_S2}a"
	vnet_mkjail wgt_vpnh1 "${EP_S1}b"
	vnet_mkjail wgt_vpnh2 "${EP_S2}b"

	# r1: the public router.
	jx r1 ifconfig "${EP_P1}a" inet 172.31.1.1/24 up
	BR_P2=$(jexec wgt_r1 ifconfig bridge create) ||
	    atf_fail "cannot create a bridge in r1"
	jx r1 ifconfig "${EP_P2}a" up
	jx r1 ifconfig "${BR_P2}" addm "${EP_P2}a" up
	jx r1 ifconfig "${BR_P2}" inet 172.31.2.1/24
	jx r1 sysctl net.inet.ip.forwarding=1

	# The site routers.
	jx vpnr1 ifconfig "${EP_P1}b" inet 172.31.1.11/24 up
	jx vpnr1 ifconfig "${EP_S1}a" inet 192.168.1.1/24 up
	jx vpnr1 route add default 172.31.1.1
	jx vpnr1 sysctl net.inet.ip.forwarding=1

	jx vpnr2 ifconfig "${EP_P2}b" inet 172.31.2.11/24 up
	BR_S2=$(jexec wgt_vpnr2 ifconfig bridge create) ||
	    atf_fail "cannot create a bridge in vpnr2"
	jx vpnr2 ifconfig "${EP_S2}a" up
	jx vpnr2 ifconfig "${BR_S2}" addm "${EP_S2}a" up
	jx vpnr2 ifconfig "${BR_S2}" inet 192.168.2.1/24
	jx vpnr2 route add default 172.31.2.1
	jx vpnr2 sysctl net.inet.ip.forwarding=1

	# The site hosts.
	jx vpnh1 ifconfig "${EP_S1}b" inet 192.168.1.11/24 up
	jx vpnh1 route add default 192.168.1.1
	jx vpnh2 ifconfig "${EP_S2}b" inet 192.168.2.11/24 up
	jx vpnh2 route add default 192.168.2.1

	# The public network works; the sites cannot see each other.
	wg_ping wgt_vpnr1 172.31.2.11 5 || atf_fail "vpnr1 cannot reach vpnr2"
	wg_ping wgt_vpnh1 192.168.1.1 5 || atf_fail "vpnh1 cannot reach vpnr1"
	wg_ping wgt_vpnh2 192.168.2.1 5 || atf_fail "vpnh2 cannot reach vpnr2"
	atf_check -s not-exit:0 -o ignore -e ignore \
	    jexec wgt_vpnh1 ping -c 1 -t 2 192.168.2.11

	wg_mkkey vpnr1
	wg_mkkey vpnr2
	wg_mkkey vpnh2
}

# vpn_wg JAIL ADDRESS: wg0 in JAIL with key JAIL, port WG_PORT, ADDRESS.
vpn_wg()
{
	atf_check -o inline:"wg0\n" jexec "wgt_$1" ifconfig wg create
	wg_setup "wgt_$1" wg0 "$1" "${WG_PORT}"
	jx "$1" ifconfig wg0 inet "$2" up
}

# Remote access: vpnr2 is only a NAT box (pf); vpnh2 runs a WireGuard
# client, 192.168.222.211/32, reaching site 1 through vpnr1.
vpn_remote_access()
{
	if [ ! -c /dev/pf ]; then
		kldload -n pf > /dev/null 2>&1 || atf_skip "pf(4) is not available"
	fi
	printf 'nat on %s inet from 192.168.2.0/24 to any -> (%s)\n' \
	    "${EP_P2}b" "${EP_P2}b" | jexec wgt_vpnr2 pfctl -f - ||
	    atf_fail "cannot load the NAT rule in vpnr2"
	atf_check -o ignore -e ignore jexec wgt_vpnr2 pfctl -e
	# The NAT works before any WireGuard.
	wg_ping wgt_vpnh2 172.31.1.11 5 ||
	    atf_fail "vpnh2 cannot reach vpnr1 through the NAT"

	vpn_wg vpnr1 192.168.222.1/24
	wg_addpeer wgt_vpnr1 wg0 vpnh2 - 192.168.222.211/32
	vpn_wg vpnh2 192.168.222.211/32
	wg_addpeer wgt_vpnh2 wg0 vpnr1 "172.31.1.11:${WG_PORT}" \
	    192.168.222.0/24,192.168.1.0/24
	jx vpnh2 route add -net 192.168.1.0/24 -interface wg0

	wg_ping wgt_vpnh2 192.168.1.11 10 ||
	    atf_fail "vpnh2 cannot reach vpnh1 through the tunnel"
	atf_check -o ignore jexec wgt_vpnh2 ping -c 3 -t 5 192.168.1.11
	# vpnh1 reaches the client through vpnr1 and the NAT mapping.
	atf_check -o ignore jexec wgt_vpnh1 ping -c 3 -t 5 192.168.222.211
	# The server sees the client at the NAT's public address.
	wg_wait_endpoint wgt_vpnr1 wg0 "$(wg_pub vpnh2)" \
	    '^172\.31\.2\.11:[0-9]+$' 10 ||
	    atf_fail "vpnr1 does not hold vpnh2's NATed endpoint"
	atf_check -o match:"192\.168\.2\.11:${WG_PORT}" \
	    jexec wgt_vpnr2 pfctl -ss
}

atf_test_case "site_to_site" "cleanup"
site_to_site_head()
{
	atf_set descr 'Five jails: vpnh1 and vpnh2 talk through the vpnr1-vpnr2 tunnel; on r1, only UDP port 51820 and never the payload'
	atf_set require.user root
	atf_set require.progs "wg tcpdump"
	atf_set timeout 240
}

site_to_site_body()
{
	local pub site n

	vpn_setup
	vpn_wg vpnr1 192.168.222.1/24
	vpn_wg vpnr2 192.168.222.2/24
	wg_addpeer wgt_vpnr1 wg0 vpnr2 "172.31.2.11:${WG_PORT}" \
	    192.168.222.2/32,192.168.2.0/24
	wg_addpeer wgt_vpnr2 wg0 vpnr1 "172.31.1.11:${WG_PORT}" \
	    192.168.222.1/32,192.168.1.0/24
	jx vpnr1 route add -net 192.168.2.0/24 -interface wg0
	jx vpnr2 route add -net 192.168.1.0/24 -interface wg0

	pub=$(wg_capture_start wgt_r1 "${EP_P1}a" public.pcap) ||
	    atf_fail "cannot capture in r1"
	site=$(wg_capture_start wgt_vpnr1 "${EP_S1}a" site.pcap) ||
	    atf_fail "cannot capture in vpnr1"

	wg_ping wgt_vpnh1 192.168.2.11 10 ||
	    atf_fail "vpnh1 cannot reach vpnh2 through the tunnel"
	atf_check -o ignore jexec wgt_vpnh1 ping -c 3 -t 5 -s 200 \
	    -p "${PATTERN_HEX}" 192.168.2.11
	atf_check -o ignore jexec wgt_vpnh2 ping -c 3 -t 5 -s 200 \
	    -p "${PATTERN_HEX}" 192.168.1.11
	atf_check -o ignore jexec wgt_vpnr1 ping -c 1 -t 5 192.168.222.2
	wg_capture_stop "${pub}"
	wg_capture_stop "${site}"

	# The capture method sees the payload where it is in the clear...
	grep -a -F -q "${PATTERN_TEXT}" site.pcap ||
	    atf_fail "the payload pattern is not in the clear on site 1"
	# ...and r1 never sees it: only WireGuard datagrams, 51820 to 51820.
	if grep -a -F -q "${PATTERN_TEXT}" public.pcap; then
		atf_fail "the payload crossed r1 in the clear"
	fi
	n=$(wg_capture_count public.pcap ip and not \
	    \( udp and src port "${WG_PORT}" and dst port "${WG_PORT}" \))
	[ "${n}" -eq 0 ] || {
		tcpdump -n -r public.pcap ip and not udp port "${WG_PORT}" >&2
		atf_fail "${n} IPv4 packets other than WireGuard on r1"
	}
	n=$(wg_capture_count public.pcap udp port "${WG_PORT}")
	[ "${n}" -ge 14 ] || atf_fail "only ${n} WireGuard datagrams on r1"
}

site_to_site_cleanup()
{
	vnet_cleanup
}

atf_test_case "remote_access_nat" "cleanup"
remote_access_nat_head()
{
	atf_set descr 'Five jails: vpnr2 is a pf NAT box, vpnh2 a WireGuard client (192.168.222.211/32) reaching 192.168.1.11 through vpnr1; vpnr1 holds the NATed endpoint'
	atf_set require.user root
	atf_set require.progs "wg pfctl"
	atf_set timeout 240
}

remote_access_nat_body()
{
	vpn_setup
	vpn_remote_access
}

remote_access_nat_cleanup()
{
	vnet_cleanup
}

# roam_public: vpnh2's wire leaves vpnr2's site bridge for r1's public
# bridge; vpnh2 becomes 172.31.2.111, routed by r1.
roam_public()
{
	jexec wgt_vpnr2 ifconfig "${BR_S2}" deletem "${EP_S2}a" > /dev/null 2>&1
	atf_check ifconfig "${EP_S2}a" -vnet wgt_vpnr2
	atf_check ifconfig "${EP_S2}a" vnet wgt_r1
	jx r1 ifconfig "${EP_S2}a" up
	jx r1 ifconfig "${BR_P2}" addm "${EP_S2}a"
	jx vpnh2 ifconfig "${EP_S2}b" inet 192.168.2.11 -alias
	jx vpnh2 ifconfig "${EP_S2}b" inet 172.31.2.111/24 alias
	jexec wgt_vpnh2 route delete default > /dev/null 2>&1
	jx vpnh2 route add default 172.31.2.1
}

# roam_nat: and back behind vpnr2's NAT.
roam_nat()
{
	jexec wgt_r1 ifconfig "${BR_P2}" deletem "${EP_S2}a" > /dev/null 2>&1
	atf_check ifconfig "${EP_S2}a" -vnet wgt_r1
	atf_check ifconfig "${EP_S2}a" vnet wgt_vpnr2
	jx vpnr2 ifconfig "${EP_S2}a" up
	jx vpnr2 ifconfig "${BR_S2}" addm "${EP_S2}a"
	jx vpnh2 ifconfig "${EP_S2}b" inet 172.31.2.111 -alias
	jx vpnh2 ifconfig "${EP_S2}b" inet 192.168.2.11/24 alias
	jexec wgt_vpnh2 route delete default > /dev/null 2>&1
	jx vpnh2 route add default 192.168.2.1
}

atf_test_case "roaming" "cleanup"
roaming_head()
{
	atf_set descr 'Five jails: the client vpnh2 moves out of the NAT onto the public segment (172.31.2.111) and back, twice, while pinging; vpnr1 follows its endpoint each time'
	atf_set require.user root
	atf_set require.progs "wg pfctl"
	atf_set timeout 300
}

roaming_body()
{
	local pinger client round

	vpn_setup
	vpn_remote_access
	client=$(wg_pub vpnh2)

	# A steady stream through the tunnel during the moves (bounded: at
	# most 80 s).
	pinger=$(wg_bg roam.ping jexec wgt_vpnh2 ping -i 0.2 -c 400 192.168.1.11)

	round=1
	while [ "${round}" -le 2 ]; do
		roam_public
		wg_wait_endpoint wgt_vpnr1 wg0 "${client}" \
		    "^172\.31\.2\.111:${WG_PORT}\$" 20 ||
		    atf_fail "round ${round}: vpnr1 did not follow vpnh2 to 172.31.2.111"
		wg_ping wgt_vpnh2 192.168.1.11 5 ||
		    atf_fail "round ${round}: no tunnel from 172.31.2.111"
		atf_check -o ignore jexec wgt_vpnh1 ping -c 2 -t 5 192.168.222.211

		roam_nat
		wg_wait_endpoint wgt_vpnr1 wg0 "${client}" \
		    '^172\.31\.2\.11:[0-9]+$' 20 ||
		    atf_fail "round ${round}: vpnr1 did not follow vpnh2 back behind the NAT"
		wg_ping wgt_vpnh2 192.168.1.11 5 ||
		    atf_fail "round ${round}: no tunnel from behind the NAT"
		atf_check -o ignore jexec wgt_vpnh1 ping -c 2 -t 5 192.168.222.211
		round=$((round + 1))
	done

	# SIGINFO makes ping(8) print "received/sent packets received" on
	# stderr (in roam.ping); then stop it.
	kill -INFO "${pinger}" 2>/dev/null
	sleep 1
	kill "${pinger}" 2>/dev/null
	wg_wait_pid "${pinger}" 10 || atf_fail "the background ping did not stop"
	tr '\r' '\n' < roam.ping | grep -Eq "^[1-9][0-9]*/[0-9]+ packets received" ||
	    atf_fail "the background ping got no answer: $(tail -c 300 roam.ping)"
}

roaming_cleanup()
{
	vnet_cleanup
}

atf_init_test_cases()
{
	atf_add_test_case "site_to_site"
	atf_add_test_case "remote_access_nat"
	atf_add_test_case "roaming"
}

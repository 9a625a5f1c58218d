#!/usr/libexec/atf-sh
#
# if_wg in Rust: what FreeBSD's own if_wg(4) does and ours must too:
# ifconfig's tunnelfib, and ICMP unreachables for packets no peer takes.
#
# SPDX-License-Identifier: MIT OR Apache-2.0

. "$(atf_get_srcdir)/wg.subr"

# fib_need N: at least N FIBs (net.fibs may be raised at run time).
fib_need()
{
	if [ "$(sysctl -n net.fibs)" -lt "$1" ]; then
		sysctl net.fibs="$1" >/dev/null 2>&1 ||
		    atf_skip "needs net.fibs >= $1"
	fi
	[ "$(sysctl -n net.fibs)" -ge "$1" ] || atf_skip "needs net.fibs >= $1"
}

# tunfib_is IFNAME N: ifconfig shows tunnelfib N (no line for 0).
tunfib_is()
{
	local fib

	fib=$(ifconfig "$1" |
	    awk '$1 == "tunnelfib:" { f = $2 } END { print f + 0 }')
	[ "${fib}" = "$2" ] || atf_fail "$1: tunnelfib ${fib}, expected $2"
}

atf_test_case "tunnelfib_config" "cleanup"
tunnelfib_config_head()
{
	atf_set descr 'ifconfig wgN tunnelfib: the creating process FIB at first, settable, checked, and no part of the wg configuration'
	atf_set require.user root
	atf_set require.progs "wg setfib"
	atf_set timeout 60
}

tunnelfib_config_body()
{
	local ifname ifname2 fibs conf

	wg_init
	fib_need 2
	fibs=$(sysctl -n net.fibs)
	wg_mkkey k1
	ifname=$(wg_mkif -) || atf_fail "cannot create a wg interface"
	wg_setup - "${ifname}" k1 "${WG_PORT}"
	tunfib_is "${ifname}" 0
	conf=$(wg showconf "${ifname}")

	atf_check ifconfig "${ifname}" tunnelfib 1
	tunfib_is "${ifname}" 1
	# Up with its sockets, and down again: the FIB stays.
	atf_check ifconfig "${ifname}" up
	atf_check ifconfig "${ifname}" down
	tunfib_is "${ifname}" 1
	# Past the last FIB: refused (ifconfig warns), nothing changes.
	atf_check -s ignore -e match:"SIOCSTUNFIB" ifconfig "${ifname}" tunnelfib "${fibs}"
	tunfib_is "${ifname}" 1
	atf_check -o inline:"${conf}\n" wg showconf "${ifname}"
	atf_check ifconfig "${ifname}" tunnelfib 0
	tunfib_is "${ifname}" 0

	# Created by a process in FIB 1: the tunnel's FIB is 1, as setfib(1)
	# gives a socket the FIB of the process that makes it.
	ifname2=$(setfib 1 ifconfig wg create) ||
	    atf_fail "setfib 1 ifconfig wg create"
	echo "${ifname2}" >> created_interfaces.lst
	tunfib_is "${ifname2}" 1
}

tunnelfib_config_cleanup()
{
	vnet_cleanup
}

atf_test_case "tunnelfib_route" "cleanup"
tunnelfib_route_head()
{
	atf_set descr 'The tunnel follows its tunnelfib: with the underlay only in FIB 1 there is no handshake from FIB 0 and one from FIB 1; decapsulated packets are answered in the interface FIB'
	atf_set require.user root
	atf_set require.progs wg
	atf_set timeout 120
}

tunnelfib_route_body()
{
	local epair if1 if2

	wg_init
	vnet_init
	fib_need 2
	epair=$(vnet_mkepair) || atf_fail "cannot create an epair"
	vnet_mkjail wgf1 "${epair}a"
	vnet_mkjail wgf2 "${epair}b"
	# wgf1 reaches 192.0.2.0/24 only in FIB 1: the epair's FIB, where
	# its address's route goes (net.add_addr_allfibs is 0 by default).
	[ "$(jexec wgf1 sysctl -n net.add_addr_allfibs)" = 0 ] ||
	    atf_skip "net.add_addr_allfibs is not 0"
	atf_check jexec wgf1 ifconfig "${epair}a" fib 1
	atf_check jexec wgf1 ifconfig "${epair}a" inet 192.0.2.1/24 up
	atf_check jexec wgf2 ifconfig "${epair}b" inet 192.0.2.2/24 up
	atf_check -s not-exit:0 -o ignore -e ignore \
	    jexec wgf1 ping -c 1 -t 2 192.0.2.2
	atf_check -o ignore jexec wgf1 setfib 1 ping -c 1 -t 2 192.0.2.2

	wg_mkkey wgf1
	wg_mkkey wgf2
	if1=$(wg_mkif wgf1) || atf_fail "cannot create wg in wgf1"
	if2=$(wg_mkif wgf2) || atf_fail "cannot create wg in wgf2"
	wg_setup wgf1 "${if1}" wgf1 "${WG_PORT}"
	wg_setup wgf2 "${if2}" wgf2 "${WG_PORT}"
	wg_addpeer wgf1 "${if1}" wgf2 "192.0.2.2:${WG_PORT}" 169.254.222.2/32
	wg_addpeer wgf2 "${if2}" wgf1 "192.0.2.1:${WG_PORT}" 169.254.222.1/32
	atf_check jexec wgf1 ifconfig "${if1}" inet 169.254.222.1/24 up
	atf_check jexec wgf2 ifconfig "${if2}" inet 169.254.222.2/24 up

	# FIB 0: the initiation has no route out.
	if wg_ping wgf1 169.254.222.2 2; then
		atf_fail "the tunnel worked through FIB 0, which has no underlay"
	fi
	atf_check jexec wgf1 ifconfig "${if1}" tunnelfib 1
	wg_ping wgf1 169.254.222.2 10 ||
	    atf_fail "no tunnel with tunnelfib 1"
	# From wgf2: wgf1 answers in its interface's FIB (0), not FIB 1.
	atf_check -o ignore jexec wgf2 ping -c 3 -t 5 169.254.222.1
	wg_wait_handshake wgf1 "${if1}" "$(wg_pub wgf2)" 5 ||
	    atf_fail "no handshake time on ${if1}"
}

tunnelfib_route_cleanup()
{
	vnet_cleanup
}

atf_test_case "unreachable" "cleanup"
unreachable_head()
{
	atf_set descr 'A packet to an address no peer allows, or to a peer with no endpoint, gets ICMP host unreachable (ICMPv6 address unreachable) at once'
	atf_set require.user root
	atf_set require.progs wg
	atf_set timeout 120
}

unreachable_body()
{
	local before after

	wg_init
	vnet_init
	wg_mktunnel wgt_t1 wgt_t2
	wg_mkkey nobody
	wg_addpeer wgt_t1 "${WGT_IF1}" nobody - \
	    "169.254.222.3/32,fd00:222::3/128"
	wg_ping wgt_t1 169.254.222.2 10 ||
	    atf_fail "no answer from 169.254.222.2 through the tunnel"

	before=$(jexec wgt_t1 netstat -I "${WGT_IF1}" -n |
	    awk 'NR == 2 { print $(NF - 1) }')
	# ping prints the ICMP error it gets back on stdout (the failed
	# sendto, if any, goes to stderr).
	atf_check -s not-exit:0 -e ignore \
	    -o match:"Destination Host Unreachable" \
	    jexec wgt_t1 ping -c 1 -t 3 169.254.222.77
	atf_check -s not-exit:0 -e ignore \
	    -o match:"Destination Host Unreachable" \
	    jexec wgt_t1 ping -c 1 -t 3 169.254.222.3
	atf_check -s not-exit:0 -e ignore -o match:"Address unreachable" \
	    jexec wgt_t1 ping -6 -c 1 fd00:222::77
	atf_check -s not-exit:0 -e ignore -o match:"Address unreachable" \
	    jexec wgt_t1 ping -6 -c 1 fd00:222::3
	after=$(jexec wgt_t1 netstat -I "${WGT_IF1}" -n |
	    awk 'NR == 2 { print $(NF - 1) }')
	[ "$((after - before))" -ge 4 ] ||
	    atf_fail "Oerrs on ${WGT_IF1} went from ${before} to ${after}"
	# The tunnel still carries what it should.
	atf_check -o ignore jexec wgt_t1 ping -c 1 -t 3 169.254.222.2
}

unreachable_cleanup()
{
	vnet_cleanup
}

atf_init_test_cases()
{
	atf_add_test_case "tunnelfib_config"
	atf_add_test_case "tunnelfib_route"
	atf_add_test_case "unreachable"
}

#!/usr/libexec/atf-sh
#
# if_wg in Rust: unloading the module while interfaces are alive.
#
# Expected behaviour (if_wg(4), docs/DESIGN.md section 3): `kldunload if_wg`
# succeeds even with interfaces in the host and in VNET jails, up and
# passing traffic.  The module destroys every wg interface in every VNET,
# waits for its callouts, tasks and in-flight packets, and only then frees
# its memory.  Afterwards no wg interface and no wg cloner is left
# anywhere, the jails and their other interfaces are untouched, and the
# module loads again and works.  (A panic here shows up as a host that
# reboots; the test cannot see it, the console can.)
#
# Because the unload destroys every wg interface of the machine, the test
# is skipped when wg interfaces it did not create exist in the host or in
# any running jail.
#
# SPDX-License-Identifier: MIT OR Apache-2.0

. "$(atf_get_srcdir)/wg.subr"

# Skips unless no wg interface exists anywhere (host and jails).
unload_require_idle()
{
	local jid

	if [ -n "$(wg_ifaces -)" ]; then
		atf_skip "the host has wg interfaces ($(wg_ifaces - | xargs)); unloading would destroy them"
	fi
	for jid in $(jls jid); do
		if [ -n "$(jexec "${jid}" ifconfig -g wg 2>/dev/null)" ]; then
			atf_skip "jail ${jid} has wg interfaces; unloading would destroy them"
		fi
	done
}

atf_test_case "unload_live" "cleanup"
unload_live_head()
{
	atf_set descr 'kldunload if_wg with interfaces alive in the host and in two VNET jails, traffic running: it succeeds, every wg interface is gone, the jails live on, and the module loads and works again'
	atf_set require.user root
	atf_set require.progs wg
	atf_set timeout 180
}

unload_live_body()
{
	local path h1 h2 pinger i

	wg_init
	unload_require_idle
	path=$(wg_loaded_path)
	[ -n "${path}" ] || atf_fail "cannot tell where if_wg.ko was loaded from"
	echo "${path}" > kmod_path

	# Two jails with a tunnel and a steady stream of pings through it.
	wg_mktunnel wgt_ul1 wgt_ul2
	wg_ping wgt_ul1 169.254.222.2 10 ||
	    atf_fail "no answer through the tunnel before the unload"
	pinger=$(wg_bg ping.out jexec wgt_ul1 ping -i 0.05 -c 1200 169.254.222.2)
	# A second interface in a jail, renamed, bound but idle.
	atf_check -o inline:"wg1\n" jexec wgt_ul2 ifconfig wg create
	atf_check -o inline:"wgidle\n" jexec wgt_ul2 ifconfig wg1 name wgidle
	atf_check jexec wgt_ul2 wg set wgidle listen-port 51821
	atf_check jexec wgt_ul2 ifconfig wgidle up

	# Host interfaces: one up and bound with a peer, one bare.
	wg_mkkey host
	h1=$(wg_mkif -) || atf_fail "cannot create a wg interface in the host"
	h2=$(wg_mkif -) || atf_fail "cannot create a wg interface in the host"
	wg_setup - "${h1}" host 0
	# Its handshake attempts go to the discard port on the loopback.
	wg_addpeer - "${h1}" wgt_ul1 127.0.0.1:9 10.98.0.0/16 \
	    persistent-keepalive 1
	atf_check ifconfig "${h1}" up

	# Traffic flows while the background ping runs.
	atf_check -o ignore jexec wgt_ul2 ping -c 2 -t 5 169.254.222.1
	kill -0 "${pinger}" || atf_fail "the background ping is not running"

	atf_check kldunload if_wg
	atf_check -s not-exit:0 -e ignore kldstat -n if_wg.ko

	# Every wg interface and cloner is gone, in the host and in the jails.
	atf_check -o empty ifconfig -g wg
	atf_check -s not-exit:0 -e ignore ifconfig "${h1}"
	atf_check -s not-exit:0 -e ignore ifconfig "${h2}"
	for i in wgt_ul1 wgt_ul2; do
		atf_check -o empty jexec "${i}" ifconfig -g wg
		atf_check -o not-match:"(^| )wg( |$)" jexec "${i}" ifconfig -C
	done
	# The jails and their epair ends are still there and still work.
	atf_check -o ignore jexec wgt_ul1 ifconfig "${WGT_EPAIR}a"
	atf_check -o ignore jexec wgt_ul2 ifconfig "${WGT_EPAIR}b"
	atf_check -o ignore jexec wgt_ul1 ping -c 1 -t 5 192.0.2.2
	# The pinger now fails to send; stop it.
	kill "${pinger}" 2>/dev/null
	wg_wait_pid "${pinger}" 10 || atf_fail "ping did not stop"

	# The module loads again, from the same file, and works.
	atf_check kldload "${path}"
	wg_load_module
	atf_check -o inline:"wg0\n" jexec wgt_ul1 ifconfig wg create
	atf_check jexec wgt_ul1 wg set wg0 listen-port "${WG_PORT}" \
	    private-key "$(wg_key wgt_ul1)"
	atf_check -o inline:"$(wg_pub wgt_ul1)\n" \
	    jexec wgt_ul1 wg show wg0 public-key
	atf_check jexec wgt_ul1 ifconfig wg0 destroy
}

unload_live_cleanup()
{
	vnet_cleanup
	# Leave the module loaded, as it was before the test.
	if ! kldstat -n if_wg.ko >/dev/null 2>&1 && [ -s kmod_path ]; then
		kldload "$(cat kmod_path)"
	fi
}

atf_test_case "unload_reload_cycles" "cleanup"
unload_reload_cycles_head()
{
	atf_set descr 'Load, create interfaces in a jail and the host, unload: ten times over'
	atf_set require.user root
	atf_set require.progs wg
	atf_set timeout 180
}

unload_reload_cycles_body()
{
	local path i

	wg_init
	unload_require_idle
	path=$(wg_loaded_path)
	[ -n "${path}" ] || atf_fail "cannot tell where if_wg.ko was loaded from"
	echo "${path}" > kmod_path
	vnet_mkjail wgt_cyc
	wg_mkkey cyc

	i=0
	while [ "${i}" -lt 10 ]; do
		kldstat -n if_wg.ko >/dev/null 2>&1 ||
		    atf_check kldload "${path}"
		atf_check -o inline:"wg0\n" jexec wgt_cyc ifconfig wg create
		atf_check jexec wgt_cyc wg set wg0 listen-port "${WG_PORT}" \
		    private-key "$(wg_key cyc)"
		atf_check jexec wgt_cyc ifconfig wg0 inet 10.97.0.1/24 up
		wg_mkif - > /dev/null || atf_fail "cannot create wg in the host"
		atf_check kldunload if_wg
		atf_check -o empty jexec wgt_cyc ifconfig -g wg
		atf_check -o empty ifconfig -g wg
		i=$((i + 1))
	done
}

unload_reload_cycles_cleanup()
{
	vnet_cleanup
	if ! kldstat -n if_wg.ko >/dev/null 2>&1 && [ -s kmod_path ]; then
		kldload "$(cat kmod_path)"
	fi
}

atf_init_test_cases()
{
	atf_add_test_case "unload_live"
	atf_add_test_case "unload_reload_cycles"
}

#!/usr/libexec/atf-sh
#
# if_wg in Rust: wg interfaces and VNET jails.  The cloner is attached per
# VNET, so a jail creates, renames and destroys its own interfaces with its
# own unit numbers; interfaces move between VNETs with ifconfig vnet; a
# jail's removal destroys what it created and sends the rest home.
#
# SPDX-License-Identifier: MIT OR Apache-2.0

. "$(atf_get_srcdir)/wg.subr"

# The sorted members of group wg in JAIL ("-": the host), on one line.
ifaces_line()
{
	wg_ifaces "$1" | sort | xargs
}

atf_test_case "jail_create_rename_destroy" "cleanup"
jail_create_rename_destroy_head()
{
	atf_set descr 'Inside a VNET jail: create wg0, check its ifnet, rename it, configure it, destroy it while busy; then remove the jail with a live interface in it'
	atf_set require.user root
	atf_set require.progs wg
	atf_set timeout 120
}

jail_create_rename_destroy_body()
{
	local pinger

	wg_init
	ifaces_line - > host_before
	vnet_mkjail wgt_crd

	# A fresh VNET has its own unit numbers, whatever the host has.
	atf_check -o inline:"wg0\n" jexec wgt_crd ifconfig wg create
	atf_check -o match:"mtu 1420" -o match:"groups:.* wg( |$)" \
	    jexec wgt_crd ifconfig wg0
	atf_check -o not-match:"[<,]UP[,>]" -o match:"[<,]NOARP[,>]" \
	    jexec wgt_crd ifconfig wg0
	atf_check -o inline:"wg0\n" jexec wgt_crd ifconfig -g wg
	atf_check -o inline:"wg0\n" jexec wgt_crd wg show interfaces

	# Rename: the group membership, and so wg(8), follow the new name.
	atf_check -o inline:"wgfoo\n" jexec wgt_crd ifconfig wg0 name wgfoo
	atf_check -s not-exit:0 -e ignore jexec wgt_crd ifconfig wg0
	atf_check -o match:"groups:.* wg( |$)" jexec wgt_crd ifconfig wgfoo
	atf_check -o inline:"wgfoo\n" jexec wgt_crd wg show interfaces

	wg_mkkey crd
	wg_mkkey crdpeer
	wg_setup wgt_crd wgfoo crd "${WG_PORT}"
	atf_check -o inline:"$(wg_pub crd)\n" jexec wgt_crd wg show wgfoo public-key
	atf_check -o inline:"${WG_PORT}\n" jexec wgt_crd wg show wgfoo listen-port
	atf_check jexec wgt_crd ifconfig wgfoo mtu 1380
	atf_check -o match:"mtu 1380" jexec wgt_crd ifconfig wgfoo

	# Busy at destruction: up, addressed, a peer whose endpoint cannot be
	# reached, packets staged for it and handshakes being retried.
	wg_addpeer wgt_crd wgfoo crdpeer 198.51.100.1:51820 10.99.0.2/32
	atf_check jexec wgt_crd ifconfig wgfoo inet 10.99.0.1/24 up
	atf_check -o match:"[<,]UP[,>]" jexec wgt_crd ifconfig wgfoo
	pinger=$(wg_bg ping.out jexec wgt_crd ping -i 0.1 -c 50 10.99.0.2)
	sleep 1
	atf_check jexec wgt_crd ifconfig wgfoo destroy
	atf_check -s not-exit:0 -e ignore jexec wgt_crd ifconfig wgfoo
	atf_check -o empty jexec wgt_crd ifconfig -g wg
	atf_check -o empty jexec wgt_crd wg show interfaces
	wg_wait_pid "${pinger}" 15 ||
	    atf_fail "ping still running after its interface was destroyed"

	# The unit is free again; explicit units work.
	atf_check -o inline:"wg0\n" jexec wgt_crd ifconfig wg create
	atf_check jexec wgt_crd ifconfig wg3 create
	atf_check -s not-exit:0 -e ignore jexec wgt_crd ifconfig wg3 create
	[ "$(ifaces_line wgt_crd)" = "wg0 wg3" ] ||
	    atf_fail "group wg in the jail: $(ifaces_line wgt_crd)"

	# Removing the jail with live, bound, configured interfaces destroys
	# them and lets the jail go away for good (no dying jail left).
	wg_setup wgt_crd wg0 crd "${WG_PORT}"
	wg_addpeer wgt_crd wg0 crdpeer 198.51.100.1:51820 10.99.0.2/32
	atf_check jexec wgt_crd ifconfig wg0 inet 10.99.0.1/24 up
	atf_check -s ignore -o ignore -e ignore \
	    jexec wgt_crd ping -c 2 -t 2 10.99.0.2
	atf_check -o ignore -e ignore jail -r wgt_crd
	vnet_jail_gone wgt_crd 10 ||
	    atf_fail "wgt_crd is still dying 10 s after jail -r"
	ifaces_line - > host_after
	atf_check -o file:host_before cat host_after
}

jail_create_rename_destroy_cleanup()
{
	vnet_cleanup
}

atf_test_case "units" "cleanup"
units_head()
{
	atf_set descr 'Unit numbers are per VNET: two jails and the host each have their own wg0, configured independently'
	atf_set require.user root
	atf_set require.progs wg
}

units_body()
{
	local host_made

	wg_init
	vnet_mkjail wgt_u1
	vnet_mkjail wgt_u2
	wg_mkkey u1
	wg_mkkey u2
	wg_mkkey uh

	# The host's wg0: made here unless the host has one (then it is only
	# looked at, never changed).
	host_made=no
	if ! ifconfig wg0 >/dev/null 2>&1; then
		atf_check ifconfig wg0 create
		echo wg0 >> created_interfaces.lst
		host_made=yes
	fi

	atf_check -o inline:"wg0\n" jexec wgt_u1 ifconfig wg create
	atf_check -o inline:"wg0\n" jexec wgt_u2 ifconfig wg create
	atf_check jexec wgt_u1 ifconfig wg9 create
	atf_check -s not-exit:0 -e ignore jexec wgt_u2 ifconfig wg9
	atf_check -s not-exit:0 -e ignore jexec wgt_u1 ifconfig wg9 create
	atf_check jexec wgt_u2 ifconfig wg9 create
	[ "$(jexec wgt_u1 wg show interfaces | xargs -n 1 | sort | xargs)" = \
	    "wg0 wg9" ] || atf_fail "wg show interfaces in wgt_u1"

	# Same name, same port, different VNETs: both bind.
	wg_setup wgt_u1 wg0 u1 "${WG_PORT}"
	wg_setup wgt_u2 wg0 u2 "${WG_PORT}"
	atf_check jexec wgt_u1 ifconfig wg0 up
	atf_check jexec wgt_u2 ifconfig wg0 up
	if [ "${host_made}" = yes ]; then
		atf_check wg set wg0 private-key "$(wg_key uh)"
		atf_check -o inline:"$(wg_pub uh)\n" wg show wg0 public-key
	fi
	atf_check -o inline:"$(wg_pub u1)\n" jexec wgt_u1 wg show wg0 public-key
	atf_check -o inline:"$(wg_pub u2)\n" jexec wgt_u2 wg show wg0 public-key

	# Destroying wgt_u1's wg0 leaves the other two alone.
	atf_check jexec wgt_u1 ifconfig wg0 destroy
	atf_check -o inline:"$(wg_pub u2)\n" jexec wgt_u2 wg show wg0 public-key
	atf_check -o match:"[<,]UP[,>]" jexec wgt_u2 ifconfig wg0
	if [ "${host_made}" = yes ]; then
		atf_check -o inline:"$(wg_pub uh)\n" wg show wg0 public-key
	else
		atf_check -o ignore ifconfig wg0
	fi

	# Each VNET hands out its own lowest free unit.
	atf_check -o inline:"wg0\n" jexec wgt_u1 ifconfig wg create
	atf_check -o inline:"wg1\n" jexec wgt_u2 ifconfig wg create
}

units_cleanup()
{
	vnet_cleanup
}

atf_test_case "vnet_move" "cleanup"
vnet_move_head()
{
	atf_set descr 'Move configured wg interfaces from the host into jails (ifconfig vnet) and back (-vnet): configuration intact, traffic flows, the UDP sockets stay in the VNET that created the interfaces; a removed jail sends them home'
	atf_set require.user root
	atf_set require.progs wg
	atf_set timeout 120
}

vnet_move_body()
{
	local a b

	wg_init
	vnet_mkjail wgt_m1
	vnet_mkjail wgt_m2
	wg_mkkey ma
	wg_mkkey mb

	a=$(wg_mkif -) || atf_fail "cannot create a wg interface in the host"
	b=$(wg_mkif -) || atf_fail "cannot create a wg interface in the host"
	wg_setup - "${a}" ma 12345
	wg_setup - "${b}" mb 12346
	# 127.0.0.1 is the host's loopback: the sockets are created in the
	# host's VNET, which made the interfaces, wherever they are moved.
	wg_addpeer - "${a}" mb 127.0.0.1:12346 169.254.223.2/32 \
	    persistent-keepalive 25
	wg_addpeer - "${b}" ma 127.0.0.1:12345 169.254.223.1/32
	wg showconf "${a}" > a.conf || atf_fail "wg showconf ${a}"
	wg showconf "${b}" > b.conf || atf_fail "wg showconf ${b}"

	atf_check ifconfig "${a}" vnet wgt_m1
	atf_check ifconfig "${b}" vnet wgt_m2
	atf_check -s not-exit:0 -e ignore ifconfig "${a}"
	atf_check -o match:"groups:.* wg( |$)" jexec wgt_m1 ifconfig "${a}"
	atf_check -o inline:"${a}\n" jexec wgt_m1 wg show interfaces
	atf_check -o file:a.conf jexec wgt_m1 wg showconf "${a}"
	atf_check -o file:b.conf jexec wgt_m2 wg showconf "${b}"

	atf_check jexec wgt_m1 ifconfig "${a}" inet 169.254.223.1/24 up
	atf_check jexec wgt_m2 ifconfig "${b}" inet 169.254.223.2/24 up
	wg_ping wgt_m1 169.254.223.2 10 ||
	    atf_fail "no answer through interfaces moved into jails"
	atf_check -o ignore jexec wgt_m2 ping -c 2 -t 5 169.254.223.1
	# The datagrams went through the host's stack, not the jails'.
	atf_check -o match:"[[:space:]]0 datagrams output" \
	    jexec wgt_m1 netstat -s -p udp
	atf_check -o match:"[[:space:]]0 datagrams output" \
	    jexec wgt_m2 netstat -s -p udp

	# Back to the host, configuration and all.
	atf_check ifconfig "${a}" -vnet wgt_m1
	atf_check -o empty jexec wgt_m1 ifconfig -g wg
	atf_check -o file:a.conf wg showconf "${a}"
	atf_check -o match:"groups:.* wg( |$)" ifconfig "${a}"

	# In again; removing the jail sends it home (it was made in the host).
	atf_check ifconfig "${a}" vnet wgt_m1
	atf_check -o ignore -e ignore jail -r wgt_m1
	vnet_jail_gone wgt_m1 10 || atf_fail "wgt_m1 is still dying"
	atf_check -o file:a.conf wg showconf "${a}"
}

vnet_move_cleanup()
{
	vnet_cleanup
}

atf_init_test_cases()
{
	atf_add_test_case "jail_create_rename_destroy"
	atf_add_test_case "units"
	atf_add_test_case "vnet_move"
}

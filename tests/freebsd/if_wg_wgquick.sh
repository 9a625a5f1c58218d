#!/usr/libexec/atf-sh
#
# if_wg in Rust: tools/wg-quick/wg-quick and tools/rc.d/wireguard on a
# real host.  Everything runs inside VNET jails (path "/"), so the host's
# interfaces and routes are not touched; the service case writes
# /etc/rc.conf.d/wireguard for its duration (and skips if one exists).
#
# SPDX-License-Identifier: MIT OR Apache-2.0

. "$(atf_get_srcdir)/wg.subr"

# The scripts under test: kyua variables "wgquick" and "rcd", else this
# repository's copies.
wgq_path()
{
	atf_config_get wgquick "$(atf_get_srcdir)/../../tools/wg-quick/wg-quick"
}

rcd_path()
{
	atf_config_get rcd "$(atf_get_srcdir)/../../tools/rc.d/wireguard"
}

wgq_require()
{
	[ -f "$(wgq_path)" ] ||
	    atf_skip "no wg-quick at $(wgq_path); pass -v test_suites.if_wg.wgquick=/path/to/wg-quick"
}

# wgq JAIL ARGS...: wg-quick inside JAIL, as service(8) would run it
# (a clean environment with the usual PATH).
wgq()
{
	local jail

	jail=$1
	shift
	jexec "${jail}" env -i HOME=/ \
	    PATH=/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin \
	    /bin/sh "$(wgq_path)" "$@"
}

# quick_setup: jails wgt_q1 and wgt_q2 over an epair (192.0.2.1/24 and
# 192.0.2.2/24); wgt_q2 has a wg interface set up by hand with the
# tunnel addresses 169.254.223.2/24 and fd00:223::2/64 and wgt_q1's key
# "q1" as its peer (169.254.223.1/32, fd00:223::1/128).  Sets QS_EPAIR
# and QS_IF2.
quick_setup()
{
	wg_init
	wgq_require
	QS_EPAIR=$(vnet_mkepair) || atf_fail "cannot create an epair"
	vnet_mkjail wgt_q1 "${QS_EPAIR}a"
	vnet_mkjail wgt_q2 "${QS_EPAIR}b"
	atf_check jexec wgt_q1 ifconfig "${QS_EPAIR}a" inet 192.0.2.1/24 up
	atf_check jexec wgt_q2 ifconfig "${QS_EPAIR}b" inet 192.0.2.2/24 up
	wg_mkkey q1
	wg_mkkey q2
	QS_IF2=$(wg_mkif wgt_q2) || atf_fail "cannot create wg in wgt_q2"
	wg_setup wgt_q2 "${QS_IF2}" q2 "${WG_PORT}"
	wg_addpeer wgt_q2 "${QS_IF2}" q1 - "169.254.223.1/32,fd00:223::1/128"
	atf_check jexec wgt_q2 ifconfig "${QS_IF2}" inet 169.254.223.2/24 up
	atf_check jexec wgt_q2 ifconfig "${QS_IF2}" inet6 fd00:223::2/64 no_dad
}

# quick_conf FILE ALLOWEDIPS [EXTRA-INTERFACE-LINES...]: a wg-quick file
# for wgt_q1 whose peer is wgt_q2.
quick_conf()
{
	local file aips

	file=$1
	aips=$2
	shift 2
	(
		umask 077
		{
			echo "[Interface]"
			echo "PrivateKey = $(cat q1.key)"
			echo "ListenPort = ${WG_PORT}"
			echo "Address = 169.254.223.1/24, fd00:223::1/64"
			for line in "$@"; do
				echo "${line}"
			done
			echo ""
			echo "[Peer]"
			echo "PublicKey = $(wg_pub q2)"
			echo "Endpoint = 192.0.2.2:${WG_PORT}"
			echo "AllowedIPs = ${aips}"
		} > "${file}"
	)
}

# no_procs JAIL: no wg-quick and no route monitor process runs in JAIL.
no_procs()
{
	local jid

	jid=$(jls -j "$1" jid) || atf_fail "no jail $1"
	atf_check -s exit:1 -o empty pgrep -j "${jid}" -f "wg-quick"
	atf_check -s exit:1 -o empty pgrep -j "${jid}" -f "route -n monitor"
	atf_check -s exit:1 -o empty pgrep -j "${jid}" -f "route monitor"
}

# no_leftovers JAIL IFNAME: the interface is gone and no_procs holds.
no_leftovers()
{
	atf_check -s not-exit:0 -o ignore -e ignore jexec "$1" ifconfig "$2"
	no_procs "$1"
}

atf_test_case "wgquick_up_down" "cleanup"
wgquick_up_down_head()
{
	atf_set descr 'wg-quick up: interface, addresses, MTU 1500-80, routes for allowed IPs, PostUp with %i, a ping through the tunnel; strip; down leaves no interface and no process'
	atf_set require.user root
	atf_set require.progs wg
	atf_set timeout 120
}

wgquick_up_down_body()
{
	local conf

	quick_setup
	conf="${PWD}/wg0.conf"
	quick_conf "${conf}" "169.254.223.2/32, fd00:223::2/128, 10.77.0.0/16" \
	    "PostUp = touch ${PWD}/postup.%i" \
	    "PostDown = touch ${PWD}/postdown.%i"

	atf_check -o ignore -e match:'^\[#\] ifconfig wg0 create$' \
	    wgq wgt_q1 up "${conf}"
	atf_check -o match:'mtu 1420' jexec wgt_q1 ifconfig wg0
	atf_check -o match:'inet 169\.254\.223\.1 netmask 0xffffff00' \
	    jexec wgt_q1 ifconfig wg0 inet
	atf_check -o match:'inet6 fd00:223::1 prefixlen 64' \
	    jexec wgt_q1 ifconfig wg0 inet6
	atf_check -o inline:"$(wg_pub q1)\n" jexec wgt_q1 wg show wg0 public-key
	atf_check -o match:'interface: wg0' \
	    jexec wgt_q1 route -n get -inet 10.77.1.1
	[ -f postup.wg0 ] || atf_fail "PostUp did not run with %i = wg0"

	wg_ping wgt_q1 169.254.223.2 10 ||
	    atf_fail "no answer from 169.254.223.2 through the tunnel"
	atf_check -o ignore jexec wgt_q1 ping -6 -c 2 -t 5 fd00:223::2

	# strip: the file without Address and the hooks, a blank line last.
	printf '%s\n' "[Interface]" "PrivateKey = $(cat q1.key)" \
	    "ListenPort = ${WG_PORT}" "" "[Peer]" "PublicKey = $(wg_pub q2)" \
	    "Endpoint = 192.0.2.2:${WG_PORT}" \
	    "AllowedIPs = 169.254.223.2/32, fd00:223::2/128, 10.77.0.0/16" "" \
	    > strip.expected
	atf_check -o file:strip.expected wgq wgt_q1 strip "${conf}"

	# A second up fails and changes nothing.
	atf_check -s exit:1 -o ignore -e match:"\`wg0' already exists" \
	    wgq wgt_q1 up "${conf}"

	atf_check -o ignore -e match:'^\[#\] ifconfig wg0 destroy$' \
	    wgq wgt_q1 down "${conf}"
	[ -f postdown.wg0 ] || atf_fail "PostDown did not run"
	no_leftovers wgt_q1 wg0
	atf_check -s exit:1 -o ignore -e match:"is not a WireGuard interface" \
	    wgq wgt_q1 down "${conf}"
}

wgquick_up_down_cleanup()
{
	vnet_cleanup
}

atf_test_case "wgquick_default_route" "cleanup"
wgquick_default_route_head()
{
	atf_set descr 'wg-quick with AllowedIPs 0.0.0.0/0: the /1 halves through the tunnel, a host route to the endpoint through the default gateway, traffic to another network through the tunnel; down removes the endpoint route and leaves no route monitor'
	atf_set require.user root
	atf_set require.progs wg
	atf_set timeout 120
}

wgquick_default_route_body()
{
	local conf

	quick_setup
	# wgt_q1's default gateway is another address of wgt_q2's, so that
	# the endpoint's host route is told apart from the connected one.
	atf_check jexec wgt_q2 ifconfig "${QS_EPAIR}b" inet 192.0.2.254/32 alias
	atf_check -o ignore jexec wgt_q1 route add -inet default 192.0.2.254
	# wgt_q2 answers for 10.77.0.1 behind its tunnel end.
	atf_check jexec wgt_q2 ifconfig lo0 inet 10.77.0.1/32 alias
	conf="${PWD}/wg0.conf"
	quick_conf "${conf}" "0.0.0.0/0"

	atf_check -o ignore -e ignore wgq wgt_q1 up "${conf}"
	atf_check -o match:'interface: wg0' \
	    jexec wgt_q1 route -n get -inet 10.77.0.1
	atf_check -o match:'interface: wg0' \
	    jexec wgt_q1 route -n get -inet 203.0.113.1
	atf_check -o match:'gateway: 192\.0\.2\.254' \
	    -o match:"interface: ${QS_EPAIR}a" \
	    jexec wgt_q1 route -n get -inet 192.0.2.2
	atf_check -o match:'^0\.0\.0\.0/1 ' -o match:'^128\.0\.0\.0/1 ' \
	    -o match:'^192\.0\.2\.2 +192\.0\.2\.254 +UGHS' \
	    jexec wgt_q1 netstat -rn -f inet
	wg_ping wgt_q1 10.77.0.1 10 ||
	    atf_fail "no answer from 10.77.0.1 through the default route"
	# Nothing was left running to watch the routing table.
	no_procs wgt_q1

	atf_check -o ignore -e ignore wgq wgt_q1 down "${conf}"
	no_leftovers wgt_q1 wg0
	atf_check -o not-match:'^192\.0\.2\.2 +192\.0\.2\.254 +UGHS' \
	    -o not-match:'^0\.0\.0\.0/1 ' jexec wgt_q1 netstat -rn -f inet
	# The underlying network still works.
	atf_check -o ignore jexec wgt_q1 ping -c 1 -t 5 192.0.2.2
}

wgquick_default_route_cleanup()
{
	vnet_cleanup
}

atf_test_case "wgquick_saveconfig" "cleanup"
wgquick_saveconfig_head()
{
	atf_set descr 'SaveConfig = true: a peer and an address added at run time are in the file (mode 0600) after down, with the wg-quick keys, and the file brings them back up'
	atf_set require.user root
	atf_set require.progs wg
	atf_set timeout 120
}

wgquick_saveconfig_body()
{
	local conf

	quick_setup
	wg_mkkey q3
	conf="${PWD}/wgsave.conf"
	quick_conf "${conf}" "169.254.223.2/32" "SaveConfig = true" \
	    "MTU = 1300" "PostUp = true %i"

	atf_check -o ignore -e match:'ifconfig wg create name wgsave' \
	    wgq wgt_q1 up "${conf}"
	atf_check jexec wgt_q1 wg set wgsave peer "$(wg_pub q3)" \
	    allowed-ips 10.99.0.1/32
	atf_check jexec wgt_q1 ifconfig wgsave inet 169.254.224.1/24 alias
	atf_check -o ignore -e match:'^\[#\] wg showconf wgsave$' \
	    wgq wgt_q1 down "${conf}"
	no_leftovers wgt_q1 wgsave

	atf_check -o inline:"600\n" stat -f %Lp "${conf}"
	atf_check -o match:'^SaveConfig = true$' -o match:'^MTU = 1300$' \
	    -o match:'^PostUp = true %i$' \
	    -o match:'^Address = 169\.254\.223\.1/24$' \
	    -o match:'^Address = 169\.254\.224\.1/24$' \
	    -o match:'^Address = fd00:223::1/64$' \
	    -o match:"^PublicKey = $(wg_pub q3)\$" \
	    -o match:'^AllowedIPs = 10\.99\.0\.1/32$' \
	    cat "${conf}"

	atf_check -o ignore -e ignore wgq wgt_q1 up "${conf}"
	atf_check -o match:"$(wg_pub q3)" jexec wgt_q1 wg show wgsave peers
	atf_check -o match:'inet 169\.254\.224\.1 ' jexec wgt_q1 ifconfig wgsave
	atf_check -o ignore -e ignore wgq wgt_q1 down "${conf}"
}

wgquick_saveconfig_cleanup()
{
	vnet_cleanup
}

atf_test_case "service_start_stop" "cleanup"
service_start_stop_head()
{
	atf_set descr 'rc.d/wireguard configured with sysrc in a temporary /etc/rc.conf.d/wireguard: start in a jail, ping through the tunnel, status, restart, stop; then no wg-quick or route monitor process and no interface'
	atf_set require.user root
	atf_set require.progs wg sysrc pgrep
	atf_set timeout 180
}

# rcd JAIL ARG: the service script inside JAIL, run as service(8) runs it.
rcd()
{
	jexec "$1" env -i HOME=/ \
	    PATH=/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin \
	    /bin/sh "$(rcd_path)" "$2"
}

service_start_stop_body()
{
	local conf

	[ -f "$(rcd_path)" ] ||
	    atf_skip "no rc.d script at $(rcd_path); pass -v test_suites.if_wg.rcd=/path/to/wireguard"
	if [ -e /etc/rc.conf.d/wireguard ]; then
		atf_skip "/etc/rc.conf.d/wireguard exists; not overwriting it"
	fi
	quick_setup
	conf="${PWD}/wgsvc.conf"
	quick_conf "${conf}" "169.254.223.2/32"

	if [ ! -d /etc/rc.conf.d ]; then
		mkdir /etc/rc.conf.d || atf_fail "cannot create /etc/rc.conf.d"
		touch created_rc_conf_d
	fi
	touch created_rc_conf_file /etc/rc.conf.d/wireguard
	atf_check -o ignore sysrc -f /etc/rc.conf.d/wireguard \
	    wireguard_enable=YES wireguard_interfaces="${conf}" \
	    wireguard_wg_quick="$(wgq_path)"

	atf_check -o match:'Starting WireGuard interface wgsvc' -e ignore \
	    rcd wgt_q1 start
	wg_ping wgt_q1 169.254.223.2 10 ||
	    atf_fail "no answer from 169.254.223.2 through the service's tunnel"
	atf_check -o match:'interface: wgsvc' rcd wgt_q1 status
	# Nothing runs between start and stop.
	no_procs wgt_q1

	atf_check -o ignore -e ignore rcd wgt_q1 restart
	wg_ping wgt_q1 169.254.223.2 10 || atf_fail "no tunnel after restart"

	atf_check -o match:'Stopping WireGuard interface wgsvc' -e ignore \
	    rcd wgt_q1 stop
	no_leftovers wgt_q1 wgsvc
	atf_check -s exit:1 -o match:'wgsvc is not running' rcd wgt_q1 status

	# Disabled: start does nothing.
	atf_check -o ignore sysrc -f /etc/rc.conf.d/wireguard wireguard_enable=NO
	atf_check -o match:'Cannot' rcd wgt_q1 start
	atf_check -s not-exit:0 -o ignore -e ignore jexec wgt_q1 ifconfig wgsvc
}

service_start_stop_cleanup()
{
	if [ -f created_rc_conf_file ]; then
		rm -f /etc/rc.conf.d/wireguard
	fi
	if [ -f created_rc_conf_d ]; then
		rmdir /etc/rc.conf.d 2>/dev/null
	fi
	vnet_cleanup
}

atf_init_test_cases()
{
	atf_add_test_case "wgquick_up_down"
	atf_add_test_case "wgquick_default_route"
	atf_add_test_case "wgquick_saveconfig"
	atf_add_test_case "service_start_stop"
}

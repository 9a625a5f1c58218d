#!/usr/libexec/atf-sh
#
# if_wg in Rust: configuration round trips through wg(8), that is through
# SIOCSWG/SIOCGWG and their nvlists: setconf/showconf, the dump format,
# secrets hidden from unprivileged callers, bad input refused with the
# configuration left as it was.
#
# SPDX-License-Identifier: MIT OR Apache-2.0

. "$(atf_get_srcdir)/wg.subr"

# config_make JAIL: a jail with an unconfigured wg0 and keys own, p1, p2,
# p3 and a preshared key p1.psk; full.conf is a complete configuration and
# expected.conf what showconf must print for it (host bits of an allowed
# IP cleared).
config_make()
{
	vnet_mkjail "$1"
	atf_check -o inline:"wg0\n" jexec "$1" ifconfig wg create
	wg_mkkey own
	wg_mkkey p1
	wg_mkkey p2
	wg_mkkey p3
	wg_mkpsk p1
	config_write full.conf 10.4.4.4/24
	config_write expected.conf 10.4.4.0/24
}

# config_write FILE PREFIX: the full configuration, with PREFIX among p1's
# allowed IPs.
config_write()
{
	cat > "$1" <<EOF
[Interface]
PrivateKey = $(cat own.key)
ListenPort = ${WG_PORT}
FwMark = 0x2a

[Peer]
PublicKey = $(wg_pub p1)
PresharedKey = $(cat p1.psk)
Endpoint = 192.0.2.1:${WG_PORT}
AllowedIPs = 10.1.0.0/16, fd00:1::/64, $2
PersistentKeepalive = 25

[Peer]
PublicKey = $(wg_pub p2)
Endpoint = [2001:db8::2]:4242
AllowedIPs = 10.2.0.1/32
EOF
}

# config_same JAIL FILE: the interface's showconf equals FILE, order aside.
config_same()
{
	jexec "$1" wg showconf wg0 > shown.conf ||
	    atf_fail "wg showconf wg0 failed"
	wg_canon "$2" > want.canon
	wg_canon shown.conf > got.canon
	if ! cmp -s want.canon got.canon; then
		diff -u want.canon got.canon >&2
		atf_fail "wg showconf wg0 differs from $2"
	fi
}

atf_test_case "setconf_showconf" "cleanup"
setconf_showconf_head()
{
	atf_set descr 'wg setconf then showconf gives the configuration back (keys, port, user cookie as FwMark, endpoints v4 and v6, allowed IPs masked, keepalive); showconf is a fixed point; wg show dump fields; replace-peers, addconf and peer removal'
	atf_set require.user root
	atf_set require.progs wg
}

setconf_showconf_body()
{
	wg_init
	config_make wgt_cfg

	# wg(8) warns about the host bits of 10.4.4.4/24 on stderr.
	atf_check -e ignore jexec wgt_cfg wg setconf wg0 "${PWD}/full.conf"
	config_same wgt_cfg expected.conf
	cp shown.conf shown0.conf

	# What showconf prints, set on a second interface, shows the same.
	atf_check -o inline:"wg1\n" jexec wgt_cfg ifconfig wg create
	atf_check jexec wgt_cfg wg setconf wg1 "${PWD}/shown0.conf"
	jexec wgt_cfg wg showconf wg1 > shown1.conf
	wg_canon shown0.conf > c0
	wg_canon shown1.conf > c1
	atf_check -o file:c0 cat c1

	atf_check -o inline:"$(wg_pub own)\n" jexec wgt_cfg wg show wg0 public-key
	atf_check -o inline:"$(cat own.key)\n" jexec wgt_cfg wg show wg0 private-key
	atf_check -o inline:"${WG_PORT}\n" jexec wgt_cfg wg show wg0 listen-port
	atf_check -o inline:"0x2a\n" jexec wgt_cfg wg show wg0 fwmark

	# The dump, field by field.  The interface is down: no handshake and
	# nothing received (tx is not checked: a keepalive or handshake the
	# peer's new keepalive asked for may be counted).
	jexec wgt_cfg wg show wg0 dump > dump || atf_fail "wg show wg0 dump"
	awk -F '\t' -v priv="$(cat own.key)" -v pub="$(wg_pub own)" \
	    -v p1="$(wg_pub p1)" -v psk="$(cat p1.psk)" -v p2="$(wg_pub p2)" \
	    -v port="${WG_PORT}" '
	function bad(what) { print "line " NR ": " what ": " $0; failed = 1 }
	NR == 1 {
		if (NF != 4) bad("interface fields")
		if ($1 != priv) bad("private key")
		if ($2 != pub) bad("public key")
		if ($3 != port) bad("listen port")
		if ($4 != "0x2a") bad("fwmark")
		next
	}
	NF != 8 { bad("peer fields"); next }
	{ peers++ }
	$5 != "0" || $6 != "0" { bad("handshake or rx") }
	$1 == p1 {
		seen1 = 1
		if ($2 != psk) bad("preshared key")
		if ($3 != "192.0.2.1:" port) bad("endpoint")
		n = split($4, a, ",")
		if (n != 4) bad("allowed ips count")
		for (i = 1; i <= n; i++) got[a[i]] = 1
		if (!got["10.1.0.0/16"] || !got["fd00:1::/64"] ||
		    !got["10.4.4.0/24"] || !got["10.3.3.3/32"])
			bad("allowed ips")
		if ($8 != "25") bad("keepalive")
	}
	$1 == p2 {
		seen2 = 1
		if ($2 != "(none)") bad("preshared key")
		if ($3 != "[2001:db8::2]:4242") bad("endpoint")
		if ($4 != "10.2.0.1/32") bad("allowed ips")
		if ($8 != "off") bad("keepalive")
	}
	END {
		if (peers != 2 || !seen1 || !seen2) { print "peers"; failed = 1 }
		exit failed
	}' dump >&2 || atf_fail "unexpected wg show wg0 dump"

	# setconf replaces the peers; addconf adds to them.
	cat > p2only.conf <<EOF
[Interface]
PrivateKey = $(cat own.key)
ListenPort = ${WG_PORT}

[Peer]
PublicKey = $(wg_pub p2)
AllowedIPs = 10.2.0.1/32
EOF
	atf_check jexec wgt_cfg wg setconf wg0 "${PWD}/p2only.conf"
	atf_check -o inline:"$(wg_pub p2)\n" jexec wgt_cfg wg show wg0 peers
	atf_check -o inline:"off\n" jexec wgt_cfg wg show wg0 fwmark
	cat > p3.conf <<EOF
[Peer]
PublicKey = $(wg_pub p3)
AllowedIPs = 10.3.0.0/24
EOF
	atf_check jexec wgt_cfg wg addconf wg0 "${PWD}/p3.conf"
	[ "$(jexec wgt_cfg wg show wg0 peers | sort | xargs)" = \
	    "$(printf '%s\n%s\n' "$(wg_pub p2)" "$(wg_pub p3)" | sort | xargs)" ] ||
	    atf_fail "addconf did not add p3 next to p2"

	# Removal of a peer, and of all allowed IPs of a peer.
	atf_check jexec wgt_cfg wg set wg0 peer "$(wg_pub p2)" remove
	atf_check -o inline:"$(wg_pub p3)\n" jexec wgt_cfg wg show wg0 peers
	atf_check jexec wgt_cfg wg set wg0 peer "$(wg_pub p3)" allowed-ips ""
	atf_check -o inline:"$(wg_pub p3)\t(none)\n" \
	    jexec wgt_cfg wg show wg0 allowed-ips
}

setconf_showconf_cleanup()
{
	vnet_cleanup
}

atf_test_case "unprivileged" "cleanup"
unprivileged_head()
{
	atf_set descr 'An unprivileged user (nobody, in the jail) reads the public configuration but never the private or preshared keys, and cannot change anything'
	atf_set require.user root
	atf_set require.progs wg
}

unprivileged_body()
{
	wg_init
	config_make wgt_np
	atf_check -e ignore jexec wgt_np wg setconf wg0 "${PWD}/full.conf"

	# Root in the jail sees the secrets.
	atf_check -o inline:"$(cat own.key)\n" jexec wgt_np wg show wg0 private-key
	printf '%s\t%s\n%s\t(none)\n' "$(wg_pub p1)" "$(cat p1.psk)" \
	    "$(wg_pub p2)" | sort > psk.want
	jexec wgt_np wg show wg0 preshared-keys | sort > psk.got
	atf_check -o file:psk.want cat psk.got

	# nobody gets everything else.
	atf_check -o inline:"(none)\n" \
	    jexec -U nobody wgt_np wg show wg0 private-key
	atf_check -o inline:"$(wg_pub own)\n" \
	    jexec -U nobody wgt_np wg show wg0 public-key
	atf_check -o inline:"${WG_PORT}\n" \
	    jexec -U nobody wgt_np wg show wg0 listen-port
	printf '%s\t(none)\n%s\t(none)\n' "$(wg_pub p1)" "$(wg_pub p2)" |
	    sort > psk.want
	jexec -U nobody wgt_np wg show wg0 preshared-keys | sort > psk.got
	atf_check -o file:psk.want cat psk.got
	jexec -U nobody wgt_np wg show wg0 dump > np.dump ||
	    atf_fail "wg show wg0 dump as nobody"
	atf_check -s exit:1 grep -F "$(cat own.key)" np.dump
	atf_check -s exit:1 grep -F "$(cat p1.psk)" np.dump
	atf_check -o inline:"(none)\n" awk -F '\t' 'NR == 1 { print $1 }' np.dump
	atf_check -o inline:"$(wg_pub own)\n" \
	    awk -F '\t' 'NR == 1 { print $2 }' np.dump

	# showconf as nobody: the configuration without its secrets.
	jexec -U nobody wgt_np wg showconf wg0 > np.conf ||
	    atf_fail "wg showconf wg0 as nobody"
	atf_check -s exit:1 grep -E "^(PrivateKey|PresharedKey)" np.conf
	grep -Ev "^(PrivateKey|PresharedKey)" expected.conf > public.conf
	wg_canon public.conf > want.canon
	wg_canon np.conf > got.canon
	atf_check -o file:want.canon cat got.canon

	# nobody cannot set anything (EPERM), and nothing changes.
	atf_check -s not-exit:0 -e match:"not permitted" \
	    jexec -U nobody wgt_np wg set wg0 listen-port 1234
	atf_check -s not-exit:0 -e match:"not permitted" \
	    jexec -U nobody wgt_np wg set wg0 peer "$(wg_pub p1)" remove
	config_same wgt_np expected.conf
}

unprivileged_cleanup()
{
	vnet_cleanup
}

atf_test_case "bad_input" "cleanup"
bad_input_head()
{
	atf_set descr 'Bad values are refused with a non-zero exit and the configuration stays as it was'
	atf_set require.user root
	atf_set require.progs wg
}

bad_input_body()
{
	local p1

	wg_init
	config_make wgt_bad
	atf_check -e ignore jexec wgt_bad wg setconf wg0 "${PWD}/full.conf"
	p1=$(wg_pub p1)
	printf 'not a key\n' > junk.key

	atf_check -s not-exit:0 -e not-empty \
	    jexec wgt_bad wg set wg0 listen-port 70000
	atf_check -s not-exit:0 -e not-empty \
	    jexec wgt_bad wg set wg0 listen-port -1
	atf_check -s not-exit:0 -e not-empty \
	    jexec wgt_bad wg set wg0 fwmark 0x100000000
	atf_check -s not-exit:0 -e not-empty \
	    jexec wgt_bad wg set wg0 private-key "${PWD}/junk.key"
	atf_check -s not-exit:0 -e not-empty \
	    jexec wgt_bad wg set wg0 private-key "${PWD}/nonexistent.key"
	atf_check -s not-exit:0 -e not-empty \
	    jexec wgt_bad wg set wg0 peer not-a-key
	atf_check -s not-exit:0 -e not-empty \
	    jexec wgt_bad wg set wg0 peer "${p1}abc"
	atf_check -s not-exit:0 -e not-empty \
	    jexec wgt_bad wg set wg0 peer "${p1}" allowed-ips 10.0.0.0/33
	atf_check -s not-exit:0 -e not-empty \
	    jexec wgt_bad wg set wg0 peer "${p1}" allowed-ips fd00::/129
	atf_check -s not-exit:0 -e not-empty \
	    jexec wgt_bad wg set wg0 peer "${p1}" allowed-ips 300.1.1.1/32
	atf_check -s not-exit:0 -e not-empty \
	    jexec wgt_bad wg set wg0 peer "${p1}" persistent-keepalive 70000
	atf_check -s not-exit:0 -e not-empty \
	    jexec wgt_bad wg set wg0 peer "${p1}" endpoint 192.0.2.1
	atf_check -s not-exit:0 -e not-empty \
	    jexec wgt_bad wg set wg0 peer "${p1}" preshared-key "${PWD}/junk.key"
	# A good change in front of a bad one: wg(8) parses the whole line
	# first, so neither is made.
	atf_check -s not-exit:0 -e not-empty \
	    jexec wgt_bad wg set wg0 listen-port 4000 peer "$(wg_pub p3)" \
	    allowed-ips 10.3.0.0/24 peer "${p1}" persistent-keepalive 99999
	config_same wgt_bad expected.conf

	printf '[Interface]\nListenPort = 4000\nBogus = 1\n' > bogus.conf
	atf_check -s not-exit:0 -e not-empty \
	    jexec wgt_bad wg setconf wg0 "${PWD}/bogus.conf"
	printf '[Interface]\nListenPort = 4000\n[Peer]\nAllowedIPs = 10.0.0.0/8\n' \
	    > nokey.conf
	atf_check -s not-exit:0 -e not-empty \
	    jexec wgt_bad wg setconf wg0 "${PWD}/nokey.conf"
	atf_check -s not-exit:0 -e not-empty \
	    jexec wgt_bad wg setconf wg0 "${PWD}/nonexistent.conf"
	atf_check -s not-exit:0 -e not-empty \
	    jexec wgt_bad wg set wg9 listen-port 4000
	config_same wgt_bad expected.conf
}

bad_input_cleanup()
{
	vnet_cleanup
}

atf_test_case "set_atomic" "cleanup"
set_atomic_head()
{
	atf_set descr 'A SIOCSWG the kernel refuses (a peer endpoint with port 0, which wg(8) passes on) changes nothing: not the port, not the new peer, not even the peers replace-peers would have removed (FreeBSD applies such a request in part)'
	atf_set require.user root
	atf_set require.progs wg
}

set_atomic_body()
{
	wg_init
	wg_require_ours
	config_make wgt_atom
	atf_check -e ignore jexec wgt_atom wg setconf wg0 "${PWD}/full.conf"
	atf_check jexec wgt_atom ifconfig wg0 up

	# setconf sends replace-peers, the port and every peer in one request;
	# the last peer's endpoint is refused.
	sed "s/^ListenPort = .*/ListenPort = 4000/" full.conf > refused.conf
	cat >> refused.conf <<EOF

[Peer]
PublicKey = $(wg_pub p3)
Endpoint = 192.0.2.3:0
AllowedIPs = 10.3.0.0/24
EOF
	atf_check -s not-exit:0 -e match:"Invalid argument" \
	    jexec wgt_atom wg setconf wg0 "${PWD}/refused.conf"
	config_same wgt_atom expected.conf

	# The same through wg set: a good port and peer, then the bad one.
	atf_check -s not-exit:0 -e match:"Invalid argument" \
	    jexec wgt_atom wg set wg0 listen-port 4000 \
	    peer "$(wg_pub p3)" allowed-ips 10.3.0.0/24 \
	    peer "$(wg_pub p2)" endpoint 192.0.2.3:0
	config_same wgt_atom expected.conf
	atf_check -o inline:"${WG_PORT}\n" jexec wgt_atom wg show wg0 listen-port
}

set_atomic_cleanup()
{
	vnet_cleanup
}

atf_test_case "set_port_in_use" "cleanup"
set_port_in_use_head()
{
	atf_set descr 'A SIOCSWG whose new listen port is in use fails with EADDRINUSE and changes nothing; the interface keeps serving its old port'
	atf_set require.user root
	atf_set require.progs wg
}

set_port_in_use_body()
{
	wg_init
	wg_require_ours
	config_make wgt_port
	atf_check -e ignore jexec wgt_port wg setconf wg0 "${PWD}/full.conf"
	atf_check jexec wgt_port ifconfig wg0 up

	# wg1 holds port 51999 (bound: up, with a port).
	atf_check -o inline:"wg1\n" jexec wgt_port ifconfig wg create
	atf_check jexec wgt_port wg set wg1 listen-port 51999 \
	    private-key "$(wg_key p3)"
	atf_check jexec wgt_port ifconfig wg1 up

	# The same configuration with that port and a third peer: one request
	# with replace-peers, the new port and all peers.
	sed "s/^ListenPort = .*/ListenPort = 51999/" full.conf > busy.conf
	cat >> busy.conf <<EOF

[Peer]
PublicKey = $(wg_pub p3)
AllowedIPs = 10.3.0.0/24
EOF
	atf_check -s not-exit:0 -e match:"in use" \
	    jexec wgt_port wg setconf wg0 "${PWD}/busy.conf"
	config_same wgt_port expected.conf

	atf_check -s not-exit:0 -e match:"in use" \
	    jexec wgt_port wg set wg0 listen-port 51999 \
	    peer "$(wg_pub p3)" allowed-ips 10.3.0.0/24
	config_same wgt_port expected.conf
	# wg0 still holds its port: nothing else may bind it.
	atf_check -s not-exit:0 -e match:"in use" \
	    jexec wgt_port wg set wg1 listen-port "${WG_PORT}"
	atf_check -o inline:"51999\n" jexec wgt_port wg show wg1 listen-port
}

set_port_in_use_cleanup()
{
	vnet_cleanup
}

atf_test_case "allowedips_remove" "cleanup"
allowedips_remove_head()
{
	atf_set descr 'wg set ... allowed-ips -PREFIX (nvlist flags bit 0) removes one allowed IP and keeps the rest'
	atf_set require.user root
	atf_set require.progs wg
}

allowedips_remove_body()
{
	local p1

	wg_init
	wg_require_ours
	config_make wgt_aip
	atf_check -e ignore jexec wgt_aip wg setconf wg0 "${PWD}/full.conf"
	p1=$(wg_pub p1)

	if ! jexec wgt_aip wg set wg0 peer "${p1}" allowed-ips -10.1.0.0/16 \
	    2> rm.err; then
		if grep -q "parse" rm.err; then
			atf_skip "this wg(8) has no incremental allowed-ips (+/-)"
		fi
		atf_fail "wg set allowed-ips -10.1.0.0/16: $(cat rm.err)"
	fi
	[ "$(wg_field wgt_aip wg0 allowed-ips "${p1}" | xargs -n 1 | sort | xargs)" = \
	    "10.3.3.3/32 10.4.4.0/24 fd00:1::/64" ] ||
	    atf_fail "allowed ips after removal: $(wg_field wgt_aip wg0 allowed-ips "${p1}")"
	# Adding one with + keeps the others too; removing one absent is fine.
	atf_check jexec wgt_aip wg set wg0 peer "${p1}" allowed-ips +10.5.0.0/16,-10.6.0.0/16
	[ "$(wg_field wgt_aip wg0 allowed-ips "${p1}" | xargs -n 1 | sort | xargs)" = \
	    "10.3.3.3/32 10.4.4.0/24 10.5.0.0/16 fd00:1::/64" ] ||
	    atf_fail "allowed ips after adding: $(wg_field wgt_aip wg0 allowed-ips "${p1}")"
}

allowedips_remove_cleanup()
{
	vnet_cleanup
}

atf_test_case "peer_own_key" "cleanup"
peer_own_key_head()
{
	atf_set descr 'A peer with the interface'\''s own public key is ignored; setting the private key of an existing peer removes that peer (FreeBSD semantics)'
	atf_set require.user root
	atf_set require.progs wg
}

peer_own_key_body()
{
	wg_init
	vnet_mkjail wgt_own
	wg_mkkey own
	wg_mkkey p1
	atf_check -o inline:"wg0\n" jexec wgt_own ifconfig wg create
	wg_setup wgt_own wg0 own "${WG_PORT}"

	atf_check jexec wgt_own wg set wg0 peer "$(wg_pub own)" \
	    allowed-ips 10.0.0.1/32
	atf_check -o empty jexec wgt_own wg show wg0 peers

	wg_addpeer wgt_own wg0 p1 - 10.0.0.2/32
	atf_check -o inline:"$(wg_pub p1)\n" jexec wgt_own wg show wg0 peers
	atf_check jexec wgt_own wg set wg0 private-key "$(wg_key p1)"
	atf_check -o inline:"$(wg_pub p1)\n" jexec wgt_own wg show wg0 public-key
	atf_check -o empty jexec wgt_own wg show wg0 peers
}

peer_own_key_cleanup()
{
	vnet_cleanup
}

atf_init_test_cases()
{
	atf_add_test_case "setconf_showconf"
	atf_add_test_case "unprivileged"
	atf_add_test_case "bad_input"
	atf_add_test_case "set_atomic"
	atf_add_test_case "set_port_in_use"
	atf_add_test_case "allowedips_remove"
	atf_add_test_case "peer_own_key"
}

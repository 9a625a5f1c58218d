#!/bin/sh
# Linux tests of the FreeBSD wg-quick (tools/wg-quick/wg-quick) and rc.d
# script (tools/rc.d/wireguard): they run under /bin/sh with PATH pointing
# at stub ifconfig, route, netstat, wg, resolvconf, kldstat and kldload
# (stubs/ here), which log their argv and keep a little state, and check
# the commands issued, the files written and the messages printed.
#
# Each case gets its own $STUB_DIR; configuration files are passed by
# absolute path, which wg-quick accepts, so nothing outside the work
# directory is read or written.
#
# Prints one line per failure and closes with "tools: N passed, M failed";
# exits non-zero if anything failed.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "${here}/../.." && pwd)
WGQ="${top}/tools/wg-quick/wg-quick"
RCD="${top}/tools/rc.d/wireguard"
STUBS="${here}/stubs"
work=$(mktemp -d "${TMPDIR:-/tmp}/wg-tools-test.XXXXXX") || exit 2
trap 'rm -rf "${work}"' EXIT
passed=0
failed=0
casename=
ncase=0

ok() { passed=$((passed + 1)); }
ko() { failed=$((failed + 1)); echo "FAIL: ${casename}: $*"; }

# begin NAME: a fresh stub state and configuration directory.
begin()
{
	casename=$1
	ncase=$((ncase + 1))
	C="${work}/${ncase}"
	mkdir -p "${C}/etc"
	STUB_DIR="${C}/stub"
	export STUB_DIR
	unset STUB_GW4 STUB_GW6 STUB_MTU_em0 STUB_MTU_em1 STUB_VIA_EM1 \
	    STUB_FAIL WG_QUICK_USERSPACE_IMPLEMENTATION
	STUB_KLD=if_wg
	export STUB_KLD
}

# conf NAME: writes stdin to $C/etc/NAME.conf (mode 0600).
conf()
{
	cat > "${C}/etc/$1.conf"
	chmod 600 "${C}/etc/$1.conf"
}

# wgq ARGS...: runs wg-quick with the stubs; output in $C/out, $C/err,
# exit status in $RC.
wgq()
{
	PATH="${STUBS}:${PATH}" sh "${WGQ}" "$@" > "${C}/out" 2> "${C}/err"
	RC=$?
}

# The commands that change something, from the stub log (queries such as
# `ifconfig wg0', `route -n get' and `wg show' left out); then emptied.
changes()
{
	[ -f "${STUB_DIR}/log" ] || return 0
	grep -Ev '^(ifconfig [^ ]+|ifconfig -f .*|route -n get .*|netstat .*|wg show .*|wg showconf .*|kldstat .*|resolvconf -l .*)$' \
	    "${STUB_DIR}/log"
	: > "${STUB_DIR}/log"
}

# same WHAT FILE: FILE equals stdin.
same()
{
	cat > "${C}/want"
	if diff -u "${C}/want" "$2" > "${C}/diff" 2>&1; then
		ok
	else
		ko "$1 differs (- expected, + actual):"
		sed 's/^/    /' "${C}/diff"
	fi
}

expect_changes()
{
	changes > "${C}/changes"
	same "commands" "${C}/changes"
}

expect_rc()
{
	if [ "${RC}" -eq "$1" ]; then ok; else
		ko "exit status ${RC}, wanted $1; stderr: $(cat "${C}/err")"
	fi
}

expect_fail()
{
	if [ "${RC}" -ne 0 ]; then ok; else ko "exit status 0, wanted a failure"; fi
}

# err_has TEXT: stderr has a line equal to TEXT.
err_has()
{
	if grep -Fqx -- "$1" "${C}/err"; then ok; else
		ko "stderr lacks '$1'; it is: $(cat "${C}/err")"
	fi
}

err_lacks()
{
	if grep -Fq -- "$1" "${C}/err"; then
		ko "stderr has '$1': $(cat "${C}/err")"
	else
		ok
	fi
}

# no_interface NAME: the stubs hold no such interface any more.
no_interface()
{
	if [ -e "${STUB_DIR}/if/$1" ]; then ko "interface $1 left behind"; else ok; fi
}

# routes_are: the stub routing table (destination and interface or
# gateway, sorted) equals stdin.
routes_are()
{
	sort "${STUB_DIR}/routes" > "${C}/routes.sorted"
	same "routing table" "${C}/routes.sorted"
}

# trace_matches: the "[#] " lines on stderr that are not hooks are the
# changes the stubs saw, in order (what users see is what was done).
trace_matches()
{
	sed -n 's/^\[#\] //p' "${C}/err" | grep -v '^echo ' |
	    grep -v '^wg showconf ' > "${C}/trace"
	grep -Ev '^(ifconfig [^ ]+|ifconfig -f .*|route -n get .*|netstat .*|wg show .*|wg showconf .*|kldstat .*|resolvconf -l .*)$' \
	    "${STUB_DIR}/log" > "${C}/logged"
	if diff -u "${C}/logged" "${C}/trace" > "${C}/diff"; then ok; else
		ko "the [#] trace is not what was run:"
		sed 's/^/    /' "${C}/diff"
	fi
}

KEY1=yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=
PUB1=xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
PUB2=TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=
PUB3=gN65BkIKy1eCE9pP1wdc8ROUtkHLF2PfAqYdyYBz6EA=

for f in "${here}"/cases/*.sh; do
	[ -f "${f}" ] || continue
	# shellcheck disable=SC1090
	. "${f}"
done

# The shipped scripts parse as POSIX sh (/bin/sh is dash on Debian: no
# bashisms), whatever the cases above exercised.
for script in tools/wg-quick/wg-quick tools/rc.d/wireguard; do
	casename="sh -n ${script}"
	if out=$(sh -n "${top}/${script}" 2>&1); then ok; else ko "${out}"; fi
done

# The manual page: mandoc's warnings and errors (its style notes are
# about pages of FreeBSD that Linux lacks).
if command -v mandoc > /dev/null 2>&1; then
	casename="wg-quick.8"
	if out=$(mandoc -Tlint -Wwarning "${top}/tools/wg-quick/wg-quick.8" 2>&1); then
		ok
	else
		ko "mandoc -Tlint: ${out}"
	fi
fi

echo "tools: ${passed} passed, ${failed} failed"
[ "${failed}" -eq 0 ]

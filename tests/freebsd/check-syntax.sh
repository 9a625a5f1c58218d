#!/bin/sh
# Static checks of the FreeBSD-host tests, run by `make test` on Linux,
# where the tests themselves cannot run (they need FreeBSD 14, VNET jails
# and the module loaded; see README.md here).
#
# - `sh -n` on every *.sh and *.subr file here (with /bin/sh: dash on
#   Debian, so no bashisms);
# - every test program is executable, starts with #!/usr/libexec/atf-sh
#   and is listed in the Kyuafile, and every program the Kyuafile lists
#   exists;
# - in every program, each atf_test_case has a body, a head with
#   require.user root, a cleanup function when it declares one, and is
#   added in atf_init_test_cases (and nothing else is added).
#
# Prints one line per failure and closes with "syntax: N passed, M failed";
# exits non-zero if anything failed.
set -u

here=$(cd "$(dirname "$0")" && pwd)
cd "${here}" || exit 2
passed=0
failed=0

ok() { passed=$((passed + 1)); }
ko() { failed=$((failed + 1)); echo "FAIL: $*"; }

for f in *.sh *.subr; do
	[ -f "${f}" ] || continue
	if err=$(sh -n "${f}" 2>&1); then
		ok
	else
		ko "sh -n ${f}: ${err}"
	fi
done

programs=$(sed -n 's/^atf_test_program{name="\([^"]*\)".*/\1/p' Kyuafile | tr '\n' ' ')
for p in ${programs}; do
	if [ -f "${p}" ]; then ok; else ko "Kyuafile lists ${p}, which does not exist"; fi
done

for f in if_wg_*.sh; do
	[ -f "${f}" ] || continue
	if echo " ${programs} " | grep -q " ${f} "; then
		ok
	else
		ko "${f} is not listed in the Kyuafile"
	fi
	if [ -x "${f}" ] && [ "$(head -n 1 "${f}")" = "#!/usr/libexec/atf-sh" ]; then
		ok
	else
		ko "${f} must be executable and start with #!/usr/libexec/atf-sh"
	fi
	problems=$(awk '
	    /^atf_test_case / {
		n = $2; gsub(/"/, "", n); cases[n] = 1
		if ($3 ~ /cleanup/) wantcleanup[n] = 1
	    }
	    /^[a-z0-9_]+_(head|body|cleanup)\(\)/ {
		f = $1; sub(/\(\).*/, "", f); defined[f] = 1; cur = f
	    }
	    /atf_set require\.user root/ { rootok[cur] = 1 }
	    /^[ \t]*atf_add_test_case / {
		n = $2; gsub(/"/, "", n); added[n] = 1
	    }
	    END {
		for (n in cases) {
			if (!((n "_body") in defined)) print n ": no body"
			if (!((n "_head") in defined)) print n ": no head"
			else if (!((n "_head") in rootok))
				print n ": head lacks require.user root"
			if ((n in wantcleanup) && !((n "_cleanup") in defined))
				print n ": declares cleanup but has none"
			if (!(n in added)) print n ": not added in atf_init_test_cases"
		}
		for (n in added) if (!(n in cases)) print n ": added but not declared"
	    }' "${f}")
	if [ -z "${problems}" ]; then
		ok
	else
		ko "${f}: $(echo "${problems}" | tr '\n' ';')"
	fi
done

echo "syntax: ${passed} passed, ${failed} failed"
[ "${failed}" -eq 0 ]

#!/bin/sh
# The tests of the defects of issue 15 fixed in kmod/if_wg.c: in-process
# tests of the module in kharness (kpi/t_defects.c), each in a network
# namespace of its own (unshare -n, loopback only, no TUN device), with
# one CPU so that the module has one taskqueue.  Closes with
# "N passed, M failed"; exits non-zero on a failure.  Needs root.
#
#   sh kmod/harness/tests/defects.sh [NAME...]
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
KHARNESS=${KHARNESS:-$top/target/kharness/asan/kharness}
passed=0
failed=0

tests=${*:-hsq-down hsq-admit get-null get-race jumbo set-atomic stock-first rx-nesting}
for t in $tests; do
	out=$(KH_NO_TUN=1 KH_NCPUS=1 timeout 120 unshare -n sh -c \
	    'ip link set lo up && exec "$0" test "defect-$1"' \
	    "$KHARNESS" "$t" 2>&1)
	rc=$?
	echo "$out" | grep -e 'FAIL' -e 'kharness: [0-9]* reads' \
	    -e 'panic' -e 'ERROR' | head -n 20 | sed 's/^/# /'
	if [ "$rc" -eq 0 ]; then
		echo "ok - defect-$t"
		passed=$((passed + 1))
	else
		echo "not ok - defect-$t (exit $rc)"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

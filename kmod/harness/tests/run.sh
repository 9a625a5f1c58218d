#!/bin/sh
# make kharness-test: the harness's own tests, then the kernel module's
# code in it: planted contract violations that the model must stop,
# in-process lifecycle tests, and the seed network in namespaces with
# kharness against wireguard-go, wgd and itself (IPv4 and IPv6).  Closes
# with "N passed, M failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
KHARNESS=${KHARNESS:-$top/target/kharness/asan/kharness}
export KHARNESS
passed=0
failed=0

# result NAME STATUS
result() {
	if [ "$2" -eq 0 ]; then
		echo "ok - $1"
		passed=$((passed + 1))
	else
		echo "not ok - $1"
		failed=$((failed + 1))
	fi
}

# The mbuf model's own test (its last line: "N passed, M failed").
out=$(sh "$here/build-t_mbuf.sh" 2>&1)
rc=$?
echo "$out" | tail -n 3 | sed 's/^/# /'
result "mbuf model (t_mbuf)" "$rc"

# The seed network with the module's code on either end (tests/netns).
for script in seed.sh ipv6.sh; do
	out=$(PAIRS="kharness:wireguard-go wireguard-go:kharness kharness:wgd kharness:kharness" \
	    sh "$top/tests/netns/$script" 2>&1)
	rc=$?
	echo "$out" | grep -e '^ok' -e '^not ok' -e '^#' | sed 's/^/# /'
	p=$(echo "$out" | tail -n 1 | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1/p')
	f=$(echo "$out" | tail -n 1 | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\2/p')
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-1}))
	[ "$rc" -eq 0 ] || [ "${f:-1}" -gt 0 ] || failed=$((failed + 1))
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

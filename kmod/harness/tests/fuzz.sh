#!/bin/sh
# The ioctl fuzz target (kpi/fuzz_ioctl.c) for SECONDS (default 30), from
# seeds it writes itself; prints executions and exits non-zero on a
# finding (the input is kept in the artifact directory, printed).
#
# usage: sh kmod/harness/tests/fuzz.sh [SECONDS]
set -u
here=$(cd "$(dirname "$0")" && pwd)
FUZZ=${FUZZ:-$here/../../../target/kharness/fuzz/fuzz-ioctl}
secs=${1:-30}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/corpus" "$dir/artifacts"
KH_NO_TUN=1 KH_FUZZ_SEEDS="$dir/corpus" "$FUZZ" > /dev/null 2>&1 || {
	echo "fuzz-ioctl: cannot write its seeds"
	exit 1
}
KH_NO_TUN=1 "$FUZZ" -max_total_time="$secs" -max_len=4096 \
    -artifact_prefix="$dir/artifacts/" "$dir/corpus" > "$dir/log" 2>&1
rc=$?
grep -E '^#[0-9]+[[:space:]]*DONE' "$dir/log" | sed 's/^/# /'
if [ "$rc" -ne 0 ]; then
	grep -A 20 -e PANIC -e ERROR "$dir/log" | head -n 40 | sed 's/^/# /'
	for a in "$dir"/artifacts/*; do
		[ -e "$a" ] || continue
		mkdir -p target/kharness/fuzz-findings
		cp "$a" target/kharness/fuzz-findings/
		echo "# finding kept in target/kharness/fuzz-findings/$(basename "$a")"
	done
	exit 1
fi
exit 0

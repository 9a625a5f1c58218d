#!/bin/sh
# Runs the cargo fuzz targets of fuzz/ for a time each.
#
#   scripts/fuzz.sh SECONDS [TARGET...]     (default: every target)
#
# Builds the targets (nightly, debug assertions and overflow checks), writes
# the deterministic seeds into fuzz/corpus/TARGET, runs each target alone
# (-jobs=1) for SECONDS, and prints per target
#   fuzz TARGET: N executions, M crashes
#   figure fuzz_TARGET_execs N execs
# Runs one target at a time (the machine is shared); in-process, so the
# fuzzer's log is fuzz/artifacts/TARGET.log. Exits non-zero if a target
# crashed, after printing the artifact and the command that reproduces it.
# Installs cargo-fuzz when it is missing.
set -eu

usage() {
	echo "usage: $0 SECONDS [receive|nvlist|uapi|allowedips|aead ...]" >&2
	exit 2
}
[ $# -ge 1 ] || usage
secs=$1
shift
case $secs in '' | *[!0-9]*) usage ;; esac
targets=${*:-receive nvlist uapi allowedips aead}

root=$(cd "$(dirname "$0")/.." && pwd)
fuzz=$root/fuzz
cd "$root"

# cargo fuzz wants a nightly compiler. A machine that has none and cannot
# fetch one builds with the stable one told to accept nightly flags (enough
# without a sanitizer).
tc=nightly
if ! rustup run nightly rustc --version >/dev/null 2>&1 &&
	! rustup toolchain install nightly --profile minimal; then
	echo "fuzz: no nightly toolchain; using stable with RUSTC_BOOTSTRAP=1" >&2
	tc=stable
	export RUSTC_BOOTSTRAP=1
fi
if ! cargo "+$tc" fuzz --version >/dev/null 2>&1; then
	cargo "+$tc" install cargo-fuzz --locked
fi

# Release with debug assertions and overflow checks (fuzz/Cargo.toml).
# The core forbids unsafe code: panics and overflow checks find its bugs,
# and without the address sanitizer the crypto runs several times faster.
# FUZZ_SANITIZER=address brings it back (it also checks the dependencies).
# FUZZ_TRACE_COMPARES=0 drops comparison tracing: receive spends most of its
# time in traced X25519 arithmetic the fuzzer cannot learn from anyway, but
# the nvlist and UAPI parsers need it to find sizes and keys.
set -- -O --sanitizer "${FUZZ_SANITIZER:-none}"
[ "${FUZZ_TRACE_COMPARES:-1}" = 0 ] && set -- "$@" --no-trace-compares
# FUZZ_FEATURES=fast-x25519 for long receive campaigns (fuzz/Cargo.toml).
[ -n "${FUZZ_FEATURES:-}" ] && set -- "$@" --features "$FUZZ_FEATURES"
cargo "+$tc" fuzz build "$@"
host=$(rustc "+$tc" -vV | sed -n 's/^host: //p')
bindir=${CARGO_TARGET_DIR:-$fuzz/target}/$host/release

WG_FUZZ_SEED_DIR=$fuzz/corpus "$bindir/receive"

failed=0
for t in $targets; do
	[ -x "$bindir/$t" ] || {
		echo "fuzz: no target $t" >&2
		exit 2
	}
	corpus=$fuzz/corpus/$t
	artifacts=$fuzz/artifacts/$t
	mkdir -p "$corpus" "$artifacts"
	log=$fuzz/artifacts/$t.log
	before=$(ls "$artifacts" | wc -l)
	rc=0
	"$bindir/$t" "$corpus" \
		-max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	execs=${execs:-0}
	crashes=$(($(ls "$artifacts" | wc -l) - before))
	if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
		crashes=1 # died without an artifact (e.g. a sanitizer abort at exit)
	fi
	echo "fuzz $t: $execs executions, $crashes crashes"
	echo "figure fuzz_${t}_execs $execs execs"
	if [ "$crashes" -ne 0 ]; then
		failed=1
		echo "fuzz $t: FAILED (exit $rc), log $log" >&2
		grep -E 'panicked|ERROR: |SUMMARY' "$log" | head -n 5 >&2 || true
		for a in $(ls -t "$artifacts" | head -n "$crashes"); do
			echo "  artifact: $artifacts/$a" >&2
			echo "  reproduce: (cd $fuzz && WG_FUZZ_FRESH=1 cargo +$tc fuzz run -O --sanitizer "${FUZZ_SANITIZER:-none}" $t $artifacts/$a)" >&2
		done
	fi
done
exit $failed

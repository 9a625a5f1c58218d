#!/bin/sh
# Runs every cargo test suite of `make test` once and closes with one
# summary line, "N passed, M failed", over all of them: the core with the
# portable crypto the kernel uses (alone, so no other crate's features
# reach it), then the rest of the workspace, then the simulation's seeds.
set -u
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# The simulation runs a few thousand seeds only in a release build (a
# debug build is ~60x slower and runs a dozen): about a minute here.
for cmd in "cargo test -p wg-core --features uapi" "cargo test --workspace --exclude wg-core" "env WG_SIM_SEEDS=3000 cargo test --release -p wg-sim"; do
	echo "== $cmd"
	if ! { $cmd 2>&1; echo "rc=$?" >"$log.rc"; } | tee -a "$log"; then
		status=1
	fi
	grep -q '^rc=0$' "$log.rc" || status=1
done
rm -f "$log.rc"
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit $status

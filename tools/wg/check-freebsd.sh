#!/bin/sh
# tools/wg/check-freebsd.sh: type-checks `wg` (crate wg-tool, tests
# included) for FreeBSD amd64 and arm64 on a Linux machine, so that the
# code behind #[cfg(target_os = "freebsd")] (the SIOCGWG/SIOCSWG and
# SIOCGIFGMEMB ioctls) compiles before it ever meets a FreeBSD host.
#
# Nothing is linked and nothing runs: FreeBSD's std is rebuilt from the
# toolchain's library sources (-Zbuild-std) and only checked. Takes about
# a minute the first time (std for two targets), seconds after.
#
# Needs a toolchain with the library sources, by default Debian's
# /usr/bin/{cargo,rustc} with rust-web-src (as kbuild/build-kernel-lib.sh);
# skips with a message (exit 0) when there is none, fails (exit 1) when the
# code does not check. Warnings count as errors.
#
# Environment (optional):
#   CHECK_CARGO, CHECK_RUSTC   the toolchain [/usr/bin/cargo, /usr/bin/rustc]
#   CHECK_TARGETS              [x86_64-unknown-freebsd aarch64-unknown-freebsd]
#   CHECK_TARGET_DIR           [<repo>/target/freebsd-check]
#
# SPDX-License-Identifier: MIT OR Apache-2.0
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
cargo=${CHECK_CARGO:-/usr/bin/cargo}
rustc=${CHECK_RUSTC:-/usr/bin/rustc}
targets=${CHECK_TARGETS:-x86_64-unknown-freebsd aarch64-unknown-freebsd}
target_dir=${CHECK_TARGET_DIR:-$root/target/freebsd-check}

skip() {
	echo "check-freebsd: SKIP: $*"
	exit 0
}

[ -x "$cargo" ] || command -v "$cargo" > /dev/null 2>&1 || skip "no $cargo"
sysroot=$("$rustc" --print sysroot 2> /dev/null) || skip "$rustc does not run"
[ -d "$sysroot/lib/rustlib/src/rust/library/std" ] ||
	skip "$rustc has no library sources under $sysroot/lib/rustlib/src" \
		"(Debian: apt-get install rust-web-src)"

# Only our flags: the caller's must not turn the check into something else.
unset CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_BUILD_TARGET
export RUSTC_BOOTSTRAP=1 # -Z flags on a stable toolchain (Debian's)
export RUSTC="$rustc" CARGO_TARGET_DIR="$target_dir" RUSTFLAGS="-D warnings"

set --
for t in $targets; do
	set -- "$@" --target "$t"
done
echo "check-freebsd: cargo check -p wg-tool --all-targets for $targets" \
	"($("$rustc" --version), std from $sysroot/lib/rustlib/src)"
cd "$root"
start=$(date +%s)
if ! "$cargo" check --locked -p wg-tool --all-targets "$@" \
	-Zbuild-std=std,panic_abort; then
	echo "check-freebsd: FAILED: wg-tool does not check for $targets" >&2
	exit 1
fi
echo "check-freebsd: ok ($(($(date +%s) - start)) s)"

#!/bin/sh
# Builds the Rust core of if_wg.ko for the FreeBSD amd64 (or arm64) kernel: crate
# wg-ffi as a staticlib, `--no-default-features --features kernel` (no std,
# no ring, no aws-lc), with core and alloc rebuilt (-Zbuild-std) for the
# target spec kbuild/x86_64-ifwg-kernel.json: kernel code model, static
# relocations, no red zone, soft-float, frame pointers, PLT calls,
# panic=abort. Prints the path of libwg_ffi.a on stdout; cargo talks on
# stderr.
#
# Why a target spec and not x86_64-unknown-none: the spec carries the code
# generation a kernel module needs, and its name lacks "-none", for which
# compiler_builtins' build script forces its own memcpy/memset/memmove/
# memcmp/bcmp/strlen (weak, and then localised into the module). With this
# spec the object leaves memcpy & co. undefined and the kernel's are used
# (kbuild/audit.py lists them).
#
# Environment (all optional):
#   KBUILD_CARGO, KBUILD_RUSTC, KBUILD_RUSTDOC
#                      toolchain with the library sources (rust-src); by
#                      default Debian's /usr/bin/{cargo,rustc,rustdoc}
#                      (rustc-web, cargo-web, rust-web-src), not a rustup
#                      stable first in PATH. On FreeBSD: a nightly with
#                      rust-src, e.g. KBUILD_CARGO="cargo +nightly".
#   KBUILD_TARGET_DIR  cargo target directory [<repo>/target/kernel]
#   KBUILD_OPT_LEVEL   2 (default) or s
#   KBUILD_SIMD        amd64: 1 links the vector ChaCha20-Poly1305
#                      (crate wg-aead, built alone for the hard-float target
#                      kbuild/x86_64-ifwg-kernel-simd.json) and builds wg-ffi
#                      with feature kernel-simd, which calls the shim's
#                      wg_host_fpu_enter/leave (default); 0: the portable
#                      code only (the shim's wg_host_fpu_* then go unused)
#   KBUILD_ARCH        amd64 (default) or arm64: kbuild/aarch64-ifwg-kernel.json,
#                      FreeBSD arm64's kernel code generation (no FP/SIMD
#                      registers, as kern.mk's -mgeneral-regs-only; small code
#                      model; static relocations; soft-float ABI)
#   KBUILD_LD, KBUILD_OBJCOPY, KBUILD_NM, KBUILD_AR
#                      tools for the step below; amd64: binutils [ld, objcopy,
#                      nm, ar]; arm64: the ziglang wheel's ld.lld and ar, and
#                      LLVM's objcopy and nm [python3 -m ziglang ld.lld,
#                      llvm-objcopy, llvm-nm, python3 -m ziglang ar] (Debian's
#                      binutils know x86 only)
#
# One interface: cargo's archive also carries compiler_builtins, whose
# libm defines C names (log, exp, sin, floor, ...) as weak hidden
# functions. Linked beside the shim, such a name captures the shim's own
# call to the kernel's function of that name: the shim's log(9) call went
# to libm's log(double), and every message of the core was lost. So the
# library handed to the module link (the same libwg_ffi.a path, replaced
# after cargo) holds one object: `ld -r` of what the wg_core_* exports
# need, with every global but wg_core_* made local. It can resolve nothing
# but wg_core_* for the shim; kbuild/audit.py --shim-object checks the .ko.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
arch=${KBUILD_ARCH:-amd64}
case $arch in
amd64)
	target=x86_64-ifwg-kernel ld_emul=elf_x86_64
	def_ld=ld def_objcopy=objcopy def_nm=nm def_ar=ar
	;;
arm64)
	target=aarch64-ifwg-kernel ld_emul=aarch64elf
	def_ld="python3 -m ziglang ld.lld" def_objcopy=llvm-objcopy
	def_nm=llvm-nm def_ar="python3 -m ziglang ar"
	# Debian's llvm-14 has only the versioned names.
	command -v llvm-objcopy >/dev/null 2>&1 || def_objcopy=llvm-objcopy-14
	command -v llvm-nm >/dev/null 2>&1 || def_nm=llvm-nm-14
	;;
*)
	echo "build-kernel-lib: KBUILD_ARCH=$arch: amd64 or arm64" >&2
	exit 2
	;;
esac
spec=$root/kbuild/$target.json
target_dir=${KBUILD_TARGET_DIR:-$root/target/kernel}
case $target_dir in
/*) ;;
*) target_dir=$(pwd)/$target_dir ;; # cargo runs from $root below
esac

pick() { # pick NAME DEFAULT: /usr/bin/NAME when it exists, else NAME in PATH
	if [ -x "/usr/bin/$1" ]; then echo "/usr/bin/$1"; else echo "$1"; fi
}
cargo=${KBUILD_CARGO:-$(pick cargo)}
rustc=${KBUILD_RUSTC:-$(pick rustc)}
rustdoc=${KBUILD_RUSTDOC:-$(pick rustdoc)}

sysroot=$("$rustc" --print sysroot) || {
	echo "build-kernel-lib: $rustc does not run" >&2
	exit 1
}
if [ ! -d "$sysroot/lib/rustlib/src/rust/library/core" ]; then
	echo "build-kernel-lib: $rustc has no library sources under" \
		"$sysroot/lib/rustlib/src (Debian: apt-get install rust-web-src;" \
		"rustup: rustup component add rust-src)" >&2
	exit 1
fi

# The toolchain's own flags only: nothing from the caller's environment may
# change code generation (CARGO_ENCODED_RUSTFLAGS would win over RUSTFLAGS).
unset CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_BUILD_TARGET
export RUSTC_BOOTSTRAP=1 # -Z flags on a stable toolchain (Debian's)
export RUSTC="$rustc" RUSTDOC="$rustdoc" CARGO_TARGET_DIR="$target_dir"
# Portable crypto only: no AVX2/SSE backends, selected at run time by
# cpufeatures, in the kernel (cfg names of chacha20 0.9, poly1305 0.8,
# curve25519-dalek 4, which Cargo.lock pins). -Zemit-stack-sizes: a
# .stack_sizes section, which the audit reads (link_elf_obj ignores it).
export RUSTFLAGS="-Zemit-stack-sizes --cfg chacha20_force_soft --cfg poly1305_force_soft --cfg curve25519_dalek_backend=\"serial\""
# arm64: kern.mk's -mbranch-protection=standard (BTI landing pads, PAC on
# return addresses), as the shim; the spec reserves x18 (the kernel's
# per-CPU pointer, kern.mk's -ffixed-x18) and has no FP/SIMD.
if [ "$arch" = arm64 ]; then
	RUSTFLAGS="$RUSTFLAGS -Zbranch-protection=bti,pac-ret"
fi
# The release profile, pinned here whatever the workspace's says: fat LTO
# drops what the module does not call (without it curve25519-dalek's table
# builders, with frames of up to 500 KB, stay in) and keeps frames small.
export CARGO_PROFILE_RELEASE_OPT_LEVEL="${KBUILD_OPT_LEVEL:-2}"
export CARGO_PROFILE_RELEASE_LTO=fat
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
export CARGO_PROFILE_RELEASE_PANIC=abort
export CARGO_PROFILE_RELEASE_DEBUG=1
export CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=false
export CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=false
export CARGO_PROFILE_RELEASE_INCREMENTAL=false

simd=${KBUILD_SIMD:-1}
[ "$arch" = amd64 ] || simd=0
features=kernel
[ "$simd" = 1 ] && features=kernel,kernel-simd

cd "$root"
# `cargo rustc --crate-type staticlib`: wg-ffi is also an rlib, and cargo
# runs no LTO for a crate with an rlib output.
# shellcheck disable=SC2086 # KBUILD_CARGO may carry "+nightly"
$cargo rustc --locked --release \
	-Zbuild-std=core,alloc -Zjson-target-spec --target "$spec" \
	-p wg-ffi --no-default-features --features $features \
	--crate-type staticlib >&2

lib=$target_dir/$target/release/libwg_ffi.a
[ -f "$lib" ] || {
	echo "build-kernel-lib: cargo succeeded but $lib is missing" >&2
	exit 1
}

# (Unquoted below: a tool may be a command with arguments.)
ld=${KBUILD_LD:-$def_ld}
objcopy=${KBUILD_OBJCOPY:-$def_objcopy}
nm=${KBUILD_NM:-$def_nm}
ar=${KBUILD_AR:-$def_ar}
# The exports, from the crate's own member (binutils' nm reads no symbols
# from compiler_builtins' member; it does not need to).
# shellcheck disable=SC2086
exports=$($nm -g --defined-only "$lib" 2>/dev/null |
	awk '$2 ~ /^[TW]$/ && $3 ~ /^wg_core_/ { print $3 }' | sort -u)
if [ -z "$exports" ]; then
	echo "build-kernel-lib: no wg_core_* function in $lib" >&2
	exit 1
fi
tmp=$(mktemp -d "$target_dir/$target/release/.kmod-core.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
undef=
for e in $exports; do undef="$undef -u $e"; done

# The vector object: crate wg-aead alone for the hard-float kernel target
# (AVX2; kernel code model, static relocations, no red zone, as the core),
# its AVX2 backends chosen at compile time. It is its own `ld -r`
# object with every global but its two entry points made local (its copy
# of core and compiler_builtins then clash with nothing, and its code
# cannot be reached but through wg_aead_simd_seal/open, which the core
# calls only inside FPU sections). Like the core's spec, the target's name
# lacks "-none", so compiler_builtins brings no memcpy/memset: the
# kernel's are used (the audit lists the undefined names).
simd_obj=
if [ "$simd" = 1 ]; then
	simd_target=x86_64-ifwg-kernel-simd
	# shellcheck disable=SC2086
	RUSTFLAGS="-Zemit-stack-sizes --cfg chacha20_force_avx2" \
	$cargo rustc --locked --release \
		-Zbuild-std=core -Zjson-target-spec \
		--target "$root/kbuild/$simd_target.json" \
		-p wg-aead --features kernel --crate-type staticlib >&2
	simd_lib=$target_dir/$simd_target/release/libwg_aead.a
	# shellcheck disable=SC2086
	$ld -m $ld_emul -r -d -u wg_aead_simd_seal -u wg_aead_simd_open \
		-o "$tmp/wg_aead.full.o" "$simd_lib"
	# shellcheck disable=SC2086
	$objcopy --wildcard --keep-global-symbol='wg_aead_simd_*' \
		--remove-section=.llvmbc --remove-section=.llvmcmd \
		"$tmp/wg_aead.full.o" "$tmp/wg_aead.o"
	simd_obj=$tmp/wg_aead.o
fi
# shellcheck disable=SC2086 # one -u per export; simd_obj may be empty
$ld -m $ld_emul -r -d $undef -o "$tmp/wg_core.full.o" "$lib" $simd_obj
# .llvmbc/.llvmcmd: compiler_builtins' embedded bitcode, never loaded.
# shellcheck disable=SC2086
$objcopy --wildcard --keep-global-symbol='wg_core_*' \
	--remove-section=.llvmbc --remove-section=.llvmcmd \
	"$tmp/wg_core.full.o" "$tmp/wg_core.o"
# shellcheck disable=SC2086
(cd "$tmp" && $ar rcs libwg_ffi.a wg_core.o)
# A new file, not a write through cargo's hard link into deps/: cargo puts
# its own archive back at its next build, and this runs again.
mv -f "$tmp/libwg_ffi.a" "$lib"
echo "$lib"

#!/bin/sh
# Compiles kmod/if_wg.c on Linux, without FreeBSD, the way bsd.kmod.mk
# would on amd64: kernel flags of sys/conf/kern.mk and kmod.mk, the
# opt_*.h files a module build generates when there is no kernel build
# directory (sys/conf/config.mk), against the FreeBSD kernel headers that
# the PyPI `ziglang` wheel carries and the ck headers of Debian's
# libck-dev.  Any warning fails it.
#
# Two compilers: gcc (or $CC) writes OUTDIR/if_wg.o, the object the .ko
# is linked from; then clang, FreeBSD's own compiler, as the wheel ships
# it (zig cc), targeting FreeBSD and checking kernel printf formats as
# kern.mk does, writes OUTDIR/if_wg.clang.o (WG_CHECK_CLANG=0 skips it).
#
# usage: sh kmod/check-compile.sh OUTDIR
#
# Overrides: CC (default gcc), ZIG_LIBC (the wheel's lib/libc/include),
# CK_INCLUDE (default /usr/include), WG_CHECK_CLANG (default 1),
# KMOD_ARCH (amd64, the default, or arm64).
#
# KMOD_ARCH=arm64: clang only (Debian's gcc targets x86), -target
# aarch64-unknown-freebsd, against the wheel's aarch64-freebsd-none
# headers, with kern.mk's arm64 flags: -mgeneral-regs-only (no FP/SIMD
# register, the kernel does not save them outside fpu_kern_enter),
# -ffixed-x18 (the per-CPU pointer), -mbranch-protection=standard (BTI and
# PAC), -mno-outline-atomics (no libgcc atomics helpers in the kernel);
# writes OUTDIR/if_wg.clang.o.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: sh kmod/check-compile.sh OUTDIR" >&2
	exit 2
fi
out=$1
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
CC=${CC:-gcc}
CK_INCLUDE=${CK_INCLUDE:-/usr/include}

# (Not ZIG_LIBC: zig itself reads that variable.)
if [ -z "${FREEBSD_INCLUDE:-}" ]; then
	zig=$(python3 -c 'import ziglang, os; print(os.path.dirname(ziglang.__file__))' 2>/dev/null) || {
		echo "check-compile: the PyPI package ziglang is missing" >&2
		exit 1
	}
	FREEBSD_INCLUDE=$zig/lib/libc/include
fi
arch=${KMOD_ARCH:-amd64}
case $arch in
amd64) fbsd_md=$FREEBSD_INCLUDE/x86_64-freebsd-none zig_arch=x86_64 ;;
arm64) fbsd_md=$FREEBSD_INCLUDE/aarch64-freebsd-none zig_arch=aarch64 ;;
*)
	echo "check-compile: KMOD_ARCH=$arch: amd64 or arm64" >&2
	exit 2
	;;
esac
fbsd_mi=$FREEBSD_INCLUDE/generic-freebsd
if [ ! -f "$fbsd_mi/sys/mbuf.h" ] || [ ! -d "$fbsd_md/machine" ]; then
	echo "check-compile: no FreeBSD headers under $FREEBSD_INCLUDE" >&2
	exit 1
fi
# Which FreeBSD the headers are: zig 0.15 ships FreeBSD 14.0's (the newest
# P_OSREL is 14.x, and osreldate.h, which newvers.sh writes from the
# tree's COPYRIGHT, says 1992-2023: only 14.0 was released that year),
# zig 0.16 and later FreeBSD 15's. zig's header patches leave
# __FreeBSD_version to the compiler, so it is defined here: 14.0-RELEASE's
# for 14.0's headers, the oldest release the module supports (if_wg.4).
if grep -q 'P_OSREL.*15[0-9][0-9][0-9][0-9][0-9]' "$fbsd_mi/sys/param.h"; then
	fbsd_major=15 fbsd_version=1500500 fbsd_target=$zig_arch-freebsd.15.0
else
	fbsd_major=14 fbsd_version=1400097 fbsd_target=$zig_arch-freebsd.14.0
fi
if [ ! -f "$CK_INCLUDE/ck_epoch.h" ]; then
	echo "check-compile: ck headers missing (apt-get install libck-dev)" >&2
	exit 1
fi

mkdir -p "$out/ck"
# Only the ck headers, not the rest of Linux's /usr/include: the kernel
# build has them in sys/contrib/ck/include.
for f in "$CK_INCLUDE"/ck_*.h; do
	ln -sf "$f" "$out/ck/"
done
for d in gcc spinlock; do
	[ -d "$CK_INCLUDE/$d" ] && ln -sfn "$CK_INCLUDE/$d" "$out/ck/$d"
done

# What sys/conf/config.mk writes for a module built without KERNBUILDDIR
# (and what kmod.mk passes with -include opt_global.h).
printf '#define SMP 1\n#define MAC 1\n#define VIMAGE 1\n' >"$out/opt_global.h"
printf '#define INET 1\n#define TCP_OFFLOAD 1\n' >"$out/opt_inet.h"
printf '#define INET6 1\n' >"$out/opt_inet6.h"

# gcc on Linux predefines Linux and defaults to PIE; the FreeBSD compiler
# predefines FreeBSD and builds kernel code without PIC.
target="-U__linux__ -U__linux -Ulinux -U__gnu_linux__
    -D__FreeBSD__=$fbsd_major -D__FreeBSD_version=$fbsd_version"

# kmod.mk + kern.mk for amd64, minus their -Wno-error=... relaxations and
# clang's -D__printf__=__freebsd_kprintf__ (Debian's gcc lacks that format
# attribute; plain printf checking applies instead).
common="-O2 -pipe -fno-strict-aliasing -Werror -D_KERNEL -DKLD_MODULE
    -nostdinc -include $out/opt_global.h -fno-common"
warn="-Wall -Wnested-externs -Wstrict-prototypes
    -Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wundef
    -Wmissing-include-dirs -fdiagnostics-show-option -Wswitch"
cflags="$common -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer
    -fno-pic -mcmodel=kernel -mno-red-zone -mno-mmx -mno-sse -msoft-float
    -fno-asynchronous-unwind-tables -ffreestanding -fwrapv -fstack-protector
    -mno-aes -mno-avx -std=gnu99 $warn"

includes="-I$out -I$top/sys -I$fbsd_md -I$fbsd_mi -I$out/ck"

if [ "$arch" = arm64 ]; then
	# kern.mk's aarch64 block and its common flags. zig cc drops
	# -mgeneral-regs-only and -ffixed-x18 (the audit caught q0-q1 copies
	# in the shim): its -mcpu features are what keep FP/SIMD out and x18
	# reserved. kmod.mk links arm64 modules as shared objects (ld
	# -Bshareable), so the code is PIC (kernel data through the GOT:
	# GLOB_DAT, which arm64's link_elf accepts).
	cflags="$common -fPIC -mgeneral-regs-only -ffixed-x18
	    -mbranch-protection=standard -mno-outline-atomics
	    -fno-asynchronous-unwind-tables -ffreestanding -fwrapv
	    -fstack-protector -std=gnu99 $warn"
	set -x
	# shellcheck disable=SC2086
	python3 -m ziglang cc -target $fbsd_target -mcpu=generic+reserve_x18-neon-fp_armv8 \
	    -fstack-size-section -D__printf__=__freebsd_kprintf__ \
	    -Wno-unused-command-line-argument \
	    $cflags $includes -c "$here/if_wg.c" -o "$out/if_wg.clang.o"
	exit 0
fi

set -x
# shellcheck disable=SC2086
$CC $target $cflags $includes -c "$here/if_wg.c" -o "$out/if_wg.o"
if [ "${WG_CHECK_CLANG:-1}" != 0 ]; then
	# shellcheck disable=SC2086
	# zig cc drops -mno-sse and -msoft-float; its -mcpu feature list
	# is what keeps SIMD and x87 out (kbuild/audit.py checks the result).
	# -fstack-size-section: LLVM's own frame sizes for the audit's call
	# chains, in .stack_sizes (not loaded: link_elf_obj skips sections
	# without SHF_ALLOC); bsd.kmod.mk's build does without.
	python3 -m ziglang cc -target $fbsd_target \
	    -mcpu=baseline-mmx-sse-sse2+soft_float -fstack-size-section \
	    -D__printf__=__freebsd_kprintf__ \
	    -Wno-unused-command-line-argument \
	    $cflags $includes -c "$here/if_wg.c" -o "$out/if_wg.clang.o"
fi

#!/bin/sh
# Builds kharness: kmod/if_wg.c unchanged and the model of FreeBSD's kernel
# (kpi/), both against FreeBSD 14's kernel headers (those of `make
# check-freebsd`), with the core's kernel staticlib (the library if_wg.ko
# links), localised into one object as kmod.mk localises a module; then
# the Linux host layer (host/) and the program's entry.
#
# usage: sh kmod/harness/build.sh OUTDIR KERNEL_LIB [asan|tsan|fuzz|none]
#
# fuzz: clang with libFuzzer (kpi/fuzz_ioctl.c is the target), ASan and
# UBSan; the program is libFuzzer's.
#
# KH_SHIM=FILE builds another version of the shim (a checkout's, a
# mutant's) in place of kmod/if_wg.c.
#
# The module is compiled as for a kernel with INVARIANTS (opt_global.h),
# as a debug kernel's modules are: its assertions (sx_assert,
# NET_EPOCH_ASSERT...) are real.  Lock calls are functions anyway: a
# KLD_MODULE always has LOCK_DEBUG (sys/_lock.h).
set -eu

if [ $# -lt 2 ]; then
	echo "usage: sh kmod/harness/build.sh OUTDIR KERNEL_LIB [asan|tsan|none]" >&2
	exit 2
fi
out=$1
lib=$2
san=${3:-asan}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
CC=${CC:-gcc}
FBSD14_INCLUDE=${FBSD14_INCLUDE:-$HOME/.cache/if_wg/freebsd14-include}
CK_INCLUDE=${CK_INCLUDE:-/usr/include}
fbsd_md=$FBSD14_INCLUDE/x86_64-freebsd-none
fbsd_mi=$FBSD14_INCLUDE/generic-freebsd
[ -f "$fbsd_mi/sys/mbuf.h" ] || {
	echo "kharness: no FreeBSD 14 headers at $FBSD14_INCLUDE (make deps)" >&2
	exit 1
}
[ -f "$lib" ] || {
	echo "kharness: no kernel staticlib at $lib (make kernel-lib)" >&2
	exit 1
}

tsaninc=
case $san in
asan) sanflags="-fsanitize=address,undefined -fno-sanitize-recover=all" ;;
tsan)
	sanflags="-fsanitize=thread"
	# atomic(9) as C11 atomics, which TSan sees (tsan/machine/atomic.h).
	tsaninc="-I$here/tsan"
	;;
fuzz)
	CC=${FUZZ_CC:-clang-14}
	sanflags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
	;;
none) sanflags="" ;;
*) echo "kharness: sanitizer $san?" >&2; exit 2 ;;
esac

mkdir -p "$out/ck" "$out/kpi"
for f in "$CK_INCLUDE"/ck_*.h; do ln -sf "$f" "$out/ck/"; done
for d in gcc spinlock; do
	[ -d "$CK_INCLUDE/$d" ] && ln -sfn "$CK_INCLUDE/$d" "$out/ck/$d"
done
printf '#define SMP 1\n#define MAC 1\n#define VIMAGE 1\n#define INVARIANTS 1\n#define INVARIANT_SUPPORT 1\n' >"$out/opt_global.h"
printf '#define INET 1\n#define TCP_OFFLOAD 1\n' >"$out/opt_inet.h"
printf '#define INET6 1\n' >"$out/opt_inet6.h"

# FreeBSD's world: its headers only (-nostdinc), its predefines, no PIE
# (the kernel staticlib's code model wants a low, fixed address).
fbsd="-O1 -g -fno-omit-frame-pointer -fno-pie -fno-pic $sanflags
    -U__linux__ -U__linux -Ulinux -U__gnu_linux__
    -D__FreeBSD__=14 -D__FreeBSD_version=1403000
    -D_KERNEL -DKLD_MODULE -nostdinc -include $out/opt_global.h
    -ffreestanding -std=gnu99 -fno-strict-aliasing -fwrapv
    -Wall -Werror -Wno-unused-function -Wno-unknown-warning-option
    -I$out -I$top/sys -I$top/kmod $tsaninc -I$fbsd_md -I$fbsd_mi -I$out/ck"

set -x
# shellcheck disable=SC2086
$CC $fbsd -c "${KH_SHIM:-$top/kmod/if_wg.c}" -o "$out/if_wg.o"
objs="$out/if_wg.o"
for src in "$here"/kpi/*.c; do
	o=$out/kpi/$(basename "$src" .c).o
	# shellcheck disable=SC2086
	$CC $fbsd -c "$src" -o "$o"
	objs="$objs $o"
done
# One object, as kmod.mk links a module: `ld -r`, members of the archive
# that are needed, then every global but the entry localised, so that
# the kernel's malloc, free, printf, log... never meet libc's.
# shellcheck disable=SC2086
ld -r -o "$out/kworld.o" $objs "$lib"
objcopy --keep-global-symbol=kh_main \
    --keep-global-symbol=LLVMFuzzerTestOneInput \
    --keep-global-symbol=LLVMFuzzerInitialize \
    "$out/kworld.o" "$out/kworld-local.o"

# Linux's world.
# shellcheck disable=SC2086
$CC -O1 -g -fno-omit-frame-pointer -fno-pie $sanflags -Wall -Werror \
    -c "$here/host/host_linux.c" -o "$out/host_linux.o"
if [ "$san" = fuzz ]; then
	# shellcheck disable=SC2086
	$CC -no-pie -fsanitize=fuzzer,address,undefined -o "$out/fuzz-ioctl" \
	    "$out/host_linux.o" "$out/kworld-local.o" -lpthread
	exit 0
fi
# shellcheck disable=SC2086
$CC -O1 -g -fno-pie $sanflags -Wall -Werror \
    -c "$here/host/main_linux.c" -o "$out/main_linux.o"
# shellcheck disable=SC2086
$CC -no-pie $sanflags -o "$out/kharness" "$out/main_linux.o" \
    "$out/host_linux.o" "$out/kworld-local.o" -lpthread

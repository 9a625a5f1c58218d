#!/bin/sh
# Builds and runs the standalone test of the mbuf(9) model
# (kpi/kern_mbuf.c) under AddressSanitizer and UBSan: the model and the
# test in the FreeBSD header world (the flags of kmod/check-compile.sh,
# minus its code generation options, plus the sanitizers), the host layer
# in Linux's: the model's own host/host_linux.c, and tests/t_mbuf_host.c
# for the forked children of the planted violations.  The last line is
# "N passed, M failed"; the exit status is non-zero on any failure,
# warning or sanitizer report.
#
# usage: sh kmod/harness/tests/build-t_mbuf.sh [WORKDIR]
#
# Overrides: CC (default gcc), FREEBSD_INCLUDE (default
# ~/.cache/if_wg/freebsd14-include), CK_INCLUDE (default /usr/include).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
harness=$(cd "$here/.." && pwd)
top=$(cd "$harness/../.." && pwd)
CC=${CC:-gcc}
CK_INCLUDE=${CK_INCLUDE:-/usr/include}
FREEBSD_INCLUDE=${FREEBSD_INCLUDE:-$HOME/.cache/if_wg/freebsd14-include}
if [ ! -f "$FREEBSD_INCLUDE/generic-freebsd/sys/mbuf.h" ]; then
	echo "build-t_mbuf: no FreeBSD headers under $FREEBSD_INCLUDE" >&2
	exit 1
fi

if [ $# -ge 1 ]; then
	out=$1
	mkdir -p "$out"
else
	out=$(mktemp -d "${TMPDIR:-/tmp}/t_mbuf.XXXXXX")
	trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out/ck"
for f in "$CK_INCLUDE"/ck_*.h; do
	[ -e "$f" ] && ln -sf "$f" "$out/ck/"
done
for d in gcc spinlock; do
	[ -d "$CK_INCLUDE/$d" ] && ln -sfn "$CK_INCLUDE/$d" "$out/ck/$d"
done
printf '#define SMP 1\n#define MAC 1\n#define VIMAGE 1\n' >"$out/opt_global.h"
printf '#define INET 1\n' >"$out/opt_inet.h"
printf '#define INET6 1\n' >"$out/opt_inet6.h"

san="-fsanitize=address,undefined -fno-omit-frame-pointer"
fbsd="-O1 -g $san -U__linux__ -U__linux -Ulinux -U__gnu_linux__
    -D__FreeBSD__=14 -D__FreeBSD_version=1403000 -D_KERNEL -DKLD_MODULE
    -nostdinc -include $out/opt_global.h -ffreestanding -fno-builtin
    -std=gnu99 -fno-strict-aliasing -fwrapv -Wall -Wno-unused-function
    -Werror
    -I $out -I $top/sys -I $FREEBSD_INCLUDE/x86_64-freebsd-none
    -I $FREEBSD_INCLUDE/generic-freebsd -I $out/ck -I $harness/kpi"

# A build failure is a failed test too, with the same last line.
# shellcheck disable=SC2086
if ! { $CC $fbsd -c "$harness/kpi/kern_mbuf.c" -o "$out/kern_mbuf.o" &&
    $CC $fbsd -c "$here/t_mbuf_stubs.c" -o "$out/t_mbuf_stubs.o" &&
    $CC $fbsd -c "$here/t_mbuf.c" -o "$out/t_mbuf.o" &&
    $CC -O1 -g $san -Wall -Werror -c "$here/t_mbuf_host.c" \
    -o "$out/t_mbuf_host.o" &&
    $CC -O1 -g $san -Wall -Werror -c "$harness/host/host_linux.c" \
    -o "$out/host_linux.o" &&
    $CC $san -o "$out/t_mbuf" "$out/t_mbuf.o" "$out/kern_mbuf.o" \
    "$out/t_mbuf_stubs.o" "$out/t_mbuf_host.o" "$out/host_linux.o" \
    -lpthread; }; then
	echo "build-t_mbuf: the build failed" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

# Any sanitizer report fails the run (the children's are captured).
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
    "$out/t_mbuf" 2>"$out/t_mbuf.err" >"$out/t_mbuf.out" && st=0 || st=$?
cat "$out/t_mbuf.err" >&2
if grep -q "runtime error\|ERROR: AddressSanitizer\|ERROR: LeakSanitizer" \
    "$out/t_mbuf.err"; then
	echo "build-t_mbuf: sanitizer report" >&2
	[ "$st" -ne 0 ] || st=1
fi
# The summary line last, whatever the test printed before it.
grep -v "passed, .* failed$" "$out/t_mbuf.out" || true
if ! grep "passed, .* failed$" "$out/t_mbuf.out"; then
	echo "0 passed, 1 failed"
	[ "$st" -ne 0 ] || st=1
fi
exit "$st"

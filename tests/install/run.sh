#!/bin/sh
# scripts/install.sh on Linux, into a temporary DESTDIR: every file of the
# FreeBSD tree (the module in /boot/modules, wg and wg-quick in
# PREFIX/bin, the rc.d service, the manual pages in man4 and man8) is
# there with FreeBSD's mode (555 programs and the module, 444 manual
# pages, 755 directories) and, as root, root's ownership; `deinstall`
# leaves DESTDIR empty. Then the same through `make install` and `make
# deinstall` (GNU make; the BSDmakefile's targets call the same script).
#
# The module and wg are the built ones when they exist
# (target/kmod/if_wg.ko from make check-freebsd, target/release/wg),
# stand-ins otherwise: this tests the installation, not the build.
#
# Prints one line per failure and closes with "install: N passed, M failed";
# exits non-zero if anything failed.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/wg-install-test.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
ko() { failed=$((failed + 1)); echo "FAIL: $*"; }

KO=$top/target/kmod/if_wg.ko
WG=$top/target/release/wg
if [ ! -f "$KO" ]; then
	KO=$work/if_wg.ko
	printf 'stand-in module\n' >"$KO"
fi
if [ ! -f "$WG" ]; then
	WG=$work/wg
	printf '#!/bin/sh\n' >"$WG"
fi
export KO WG

if [ "$(id -u)" -eq 0 ]; then
	if grep -q '^wheel:' /etc/group; then want_owner=root:wheel; else want_owner=root:root; fi
else
	want_owner=$(id -un):$(id -gn)
fi

# check_tree DESTDIR PREFIX LABEL: every file, its mode, owner and content.
check_tree() {
	d=$1 p=$2 label=$3
	while read -r mode path src; do
		f=$d$path
		if [ ! -f "$f" ]; then
			ko "$label: $path not installed"
			continue
		fi
		got=$(stat -c '%a %U:%G' "$f")
		if [ "$got" = "$mode $want_owner" ]; then ok; else ko "$label: $path is $got, want $mode $want_owner"; fi
		if cmp -s "$src" "$f"; then ok; else ko "$label: $path differs from $src"; fi
	done <<LIST
555 /boot/modules/if_wg.ko $KO
555 $p/bin/wg $WG
555 $p/bin/wg-quick $top/tools/wg-quick/wg-quick
555 $p/etc/rc.d/wireguard $top/tools/rc.d/wireguard
444 $p/share/man/man4/if_wg.4 $top/kmod/if_wg.4
444 $p/share/man/man8/wg.8 $top/tools/wg/wg.8
444 $p/share/man/man8/wg-quick.8 $top/tools/wg-quick/wg-quick.8
LIST
	# Nothing else, and the directories 755.
	n=$(find "$d" -type f | wc -l)
	if [ "$n" -eq 7 ]; then ok; else ko "$label: $n files installed, want 7: $(find "$d" -type f)"; fi
	bad=$(find "$d" -mindepth 1 -type d ! -perm 755)
	if [ -z "$bad" ]; then ok; else ko "$label: directories not 755: $bad"; fi
}

check_empty() {
	d=$1 label=$2
	left=$(find "$d" -mindepth 1)
	if [ -z "$left" ]; then ok; else ko "$label: deinstall left $left"; fi
	if [ -d "$d" ]; then ok; else ko "$label: deinstall removed DESTDIR itself"; fi
}

# 1. The script, PREFIX /usr/local.
dest=$work/dest1
mkdir "$dest"
if DESTDIR=$dest PREFIX=/usr/local sh "$top/scripts/install.sh" install >"$work/out" 2>&1; then ok; else ko "install failed: $(cat "$work/out")"; fi
check_tree "$dest" /usr/local script
# Installing again over the tree is fine (an upgrade).
if DESTDIR=$dest PREFIX=/usr/local sh "$top/scripts/install.sh" install >"$work/out" 2>&1; then ok; else ko "second install failed: $(cat "$work/out")"; fi
check_tree "$dest" /usr/local "script again"
if DESTDIR=$dest PREFIX=/usr/local sh "$top/scripts/install.sh" deinstall >"$work/out" 2>&1; then ok; else ko "deinstall failed: $(cat "$work/out")"; fi
check_empty "$dest" script
# deinstall of nothing is not an error.
if DESTDIR=$dest PREFIX=/usr/local sh "$top/scripts/install.sh" deinstall >"$work/out" 2>&1; then ok; else ko "second deinstall failed: $(cat "$work/out")"; fi

# 2. Another PREFIX, and files already in DESTDIR that are not ours stay.
dest=$work/dest2
mkdir -p "$dest/usr/pkg/bin"
echo keep >"$dest/usr/pkg/bin/other"
DESTDIR=$dest PREFIX=/usr/pkg sh "$top/scripts/install.sh" install >"$work/out" 2>&1 || ko "install PREFIX=/usr/pkg failed: $(cat "$work/out")"
if [ -f "$dest/usr/pkg/bin/wg" ] && [ -f "$dest/usr/pkg/share/man/man8/wg.8" ] && [ -f "$dest/boot/modules/if_wg.ko" ]; then ok; else ko "PREFIX=/usr/pkg: files not under it"; fi
DESTDIR=$dest PREFIX=/usr/pkg sh "$top/scripts/install.sh" deinstall >"$work/out" 2>&1 || ko "deinstall PREFIX=/usr/pkg failed"
if [ "$(find "$dest" -type f)" = "$dest/usr/pkg/bin/other" ]; then ok; else ko "PREFIX=/usr/pkg: deinstall touched others' files or left ours: $(find "$dest")"; fi

# 3. A missing source: nothing is installed.
dest=$work/dest3
mkdir "$dest"
if DESTDIR=$dest WG=$work/no-such-wg sh "$top/scripts/install.sh" install >"$work/out" 2>&1; then
	ko "install without wg succeeded"
else
	ok
fi
if grep -q "no-such-wg is missing" "$work/out"; then ok; else ko "missing wg: no message: $(cat "$work/out")"; fi
if [ -z "$(find "$dest" -mindepth 1)" ]; then ok; else ko "missing wg: half installed: $(find "$dest")"; fi

# 4. make install / make deinstall (GNU make), with the built files: the
# targets' recipes only (INSTALL_NOBUILD=1 skips the builds they
# depend on, which make check-freebsd and make build test).
dest=$work/dest4
mkdir "$dest"
if make -s -C "$top" install DESTDIR="$dest" PREFIX=/usr/local INSTALL_NOBUILD=1 \
	KO="$KO" WG="$WG" >"$work/out" 2>&1; then ok; else ko "make install failed: $(cat "$work/out")"; fi
check_tree "$dest" /usr/local "make install"
if make -s -C "$top" deinstall DESTDIR="$dest" PREFIX=/usr/local INSTALL_NOBUILD=1 >"$work/out" 2>&1; then ok; else ko "make deinstall failed: $(cat "$work/out")"; fi
check_empty "$dest" "make deinstall"

# 5. The BSDmakefile calls the same script for install and deinstall.
for t in install deinstall; do
	if sed -n "/^$t:/,/^\$/p" "$top/BSDmakefile" | grep -q "scripts/install.sh $t"; then ok; else ko "BSDmakefile: $t does not run scripts/install.sh $t"; fi
done

echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

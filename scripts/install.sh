#!/bin/sh
# Installs (or removes) what the project puts on a FreeBSD system, the way
# bsd.kmod.mk and the ports tree would: the module in /boot/modules (a
# module outside the base system; kld(4) searches it), the tools, the
# rc.d service and the manual pages under PREFIX.
#
#	sh scripts/install.sh install	[copies the files]
#	sh scripts/install.sh deinstall	[removes them, and the directories
#					 it made under DESTDIR once empty]
#	sh scripts/install.sh list	[the tree: mode path]
#
# Environment:
#   DESTDIR   staging root [empty: the running system]
#   PREFIX    [/usr/local]
#   KMODDIR   [/boot/modules]
#   KO        the module to install [target/kmod/if_wg.ko; on FreeBSD
#             the BSDmakefile passes kmod/if_wg.ko]
#   WG        the wg binary [target/release/wg]
#   INSTALL   install(1) [install]
#
# Modes are FreeBSD's: BINMODE 555 for the module (KMODMODE), programs
# and scripts, MANMODE 444 for manual pages, 755 for directories. As root
# the files are owned by root:wheel (BINOWN, BINGRP), root:root where no
# group wheel exists (Linux); otherwise by the caller, as a staging build.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/usr/local}
KMODDIR=${KMODDIR:-/boot/modules}
DESTDIR=${DESTDIR:-}
KO=${KO:-$top/target/kmod/if_wg.ko}
WG=${WG:-$top/target/release/wg}
INSTALL=${INSTALL:-install}

# The file list, in one place: mode, installed path, source.
files() {
	cat <<EOF
555 $KMODDIR/if_wg.ko $KO
555 $PREFIX/bin/wg $WG
555 $PREFIX/bin/wg-quick $top/tools/wg-quick/wg-quick
555 $PREFIX/etc/rc.d/wireguard $top/tools/rc.d/wireguard
444 $PREFIX/share/man/man4/if_wg.4 $top/kmod/if_wg.4
444 $PREFIX/share/man/man8/wg.8 $top/tools/wg/wg.8
444 $PREFIX/share/man/man8/wg-quick.8 $top/tools/wg-quick/wg-quick.8
EOF
}

owner=
if [ "$(id -u)" -eq 0 ]; then
	if grep -q '^wheel:' /etc/group 2>/dev/null; then
		owner="-o root -g wheel"
	else
		owner="-o root -g root"
	fi
fi

usage() {
	echo "usage: sh scripts/install.sh install|deinstall|list" >&2
	exit 2
}

[ $# -eq 1 ] || usage

case $1 in
list)
	files | while read -r mode path _src; do
		echo "$mode $path"
	done
	;;
install)
	# Every source first: nothing is half installed for a missing one.
	missing=0
	while read -r _mode _path src; do
		if [ ! -f "$src" ]; then
			echo "install: $src is missing (build it first: make check-freebsd" \
			    "for the module, make build for wg)" >&2
			missing=1
		fi
	done <<EOF
$(files)
EOF
	[ $missing -eq 0 ] || exit 1
	files | while read -r mode path src; do
		dir=$(dirname "$path")
		# shellcheck disable=SC2086 # owner: none or -o U -g G
		$INSTALL -d -m 755 $owner "$DESTDIR$dir"
		# shellcheck disable=SC2086
		$INSTALL -m "$mode" $owner "$src" "$DESTDIR$path"
		echo "$DESTDIR$path"
	done
	# As bsd.kmod.mk: the module directory's linker.hints, on FreeBSD.
	if command -v kldxref >/dev/null 2>&1; then
		kldxref "$DESTDIR$KMODDIR"
	fi
	;;
deinstall)
	files | while read -r _mode path _src; do
		rm -f "$DESTDIR$path"
	done
	if command -v kldxref >/dev/null 2>&1 && [ -d "$DESTDIR$KMODDIR" ]; then
		kldxref "$DESTDIR$KMODDIR"
		# kldxref leaves no hints for a directory without modules;
		# an empty staged one goes below.
		if [ -n "$DESTDIR" ]; then
			left=
			for f in "$DESTDIR$KMODDIR"/*; do
				[ -e "$f" ] && [ "${f##*/}" != linker.hints ] && left=1
			done
			[ -n "$left" ] || rm -f "$DESTDIR$KMODDIR/linker.hints"
		fi
	fi
	# Under a DESTDIR, the directories this made go too once empty (up
	# to DESTDIR itself, which stays); on the running system /boot/modules
	# and PREFIX's directories are the system's, and stay.
	if [ -n "$DESTDIR" ]; then
		files | while read -r _mode path _src; do
			dir=$(dirname "$path")
			while [ "$dir" != / ] && [ "$dir" != . ]; do
				rmdir "$DESTDIR$dir" 2>/dev/null || break
				dir=$(dirname "$dir")
			done
		done
	fi
	;;
*)
	usage
	;;
esac

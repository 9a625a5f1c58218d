#!/bin/sh
# Installs what `make test` and `make bench` need on a fresh Debian 12
# machine, and nothing when it is all there already.
set -eu

if ! command -v dpkg-query >/dev/null 2>&1; then
	# Not Debian (FreeBSD building the module, say): nothing is installed
	# here; README.md lists what such a host needs.
	command -v cargo >/dev/null 2>&1 || {
		echo "deps: cargo not found; install Rust first" >&2
		exit 1
	}
	exit 0
fi

need_pkgs=""
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }

# libclang: bindgen's freshness test parses sys/wg_host.h with it.
# gcc/make: the C driver of the ABI test and ring's build.
# rustc-web, cargo-web, rust-web-src: /usr/bin/cargo and rustc with the
# library sources, for the kernel build's -Zbuild-std (kbuild/).
# binutils: ld, objcopy, objdump for the kernel audit.
# libck-dev: the ck headers FreeBSD's kernel headers include (kmod/).
# clang-14, libclang-rt-14-dev: libFuzzer for kharness's ioctl fuzz target;
# llvm-14: llvm-objdump, llvm-objcopy, llvm-nm for the arm64 module audit.
# The network-namespace tests and the demo (tests/netns/): wireguard-go and
# wg to run against, ping, tcpdump, nftables, iperf3, ip.
# mandoc: lints the manual pages (tools/wg/wg.8, tools/wg-quick/wg-quick.8).
for p in libclang-dev gcc make binutils rustc-web cargo-web rust-web-src libck-dev clang-14 libclang-rt-14-dev llvm-14 \
    wireguard-go wireguard-tools iputils-ping tcpdump nftables iperf3 iproute2 mandoc; do
	have_pkg "$p" || need_pkgs="$need_pkgs $p"
done
python3 -m pip --version >/dev/null 2>&1 || need_pkgs="$need_pkgs python3-pip"

if [ -n "$need_pkgs" ]; then
	echo "deps: installing$need_pkgs" >&2
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need_pkgs >/dev/null
fi

# FreeBSD's kernel headers (for kmod/ and the audit) come with the ziglang
# wheel, which carries FreeBSD's /usr/include with its _KERNEL parts.
if ! python3 -c "import ziglang" >/dev/null 2>&1; then
	echo "deps: installing ziglang (pip)" >&2
	python3 -m pip install --quiet ziglang ||
		python3 -m pip install --quiet --user --break-system-packages ziglang
fi

# FreeBSD 14's kernel headers: the ziglang 0.15 wheel carries those (later
# wheels carry FreeBSD 15's). Only its headers are kept, outside the tree.
fbsd14=${FBSD14_INCLUDE:-$HOME/.cache/if_wg/freebsd14-include}
if [ ! -f "$fbsd14/generic-freebsd/sys/mbuf.h" ]; then
	echo "deps: fetching FreeBSD 14 headers (ziglang 0.15.2 wheel)" >&2
	tmp=$(mktemp -d)
	python3 -m pip download --quiet --no-deps --only-binary=:all: \
	    ziglang==0.15.2 -d "$tmp"
	python3 - "$tmp" "$fbsd14" <<'EOF_PY'
import glob, os, shutil, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
(wheel,) = glob.glob(os.path.join(src, "ziglang-*.whl"))
part = dst + ".part"
shutil.rmtree(part, ignore_errors=True)
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        for d in ("generic-freebsd", "x86_64-freebsd-none"):
            key = "/lib/libc/include/" + d + "/"
            if key in name and not name.endswith("/"):
                out = os.path.join(part, d, name.split(key, 1)[1])
                os.makedirs(os.path.dirname(out), exist_ok=True)
                with open(out, "wb") as f:
                    f.write(z.read(name))
shutil.rmtree(dst, ignore_errors=True)
os.rename(part, dst)
EOF_PY
	rm -rf "$tmp"
fi

if ! command -v cargo >/dev/null 2>&1; then
	echo "deps: cargo not found; install Rust (rustup) first" >&2
	exit 1
fi
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
	echo "deps: cargo fmt and cargo clippy are required (rustup component add rustfmt clippy)" >&2
	exit 1
fi

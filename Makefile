# if_wg in Rust: top-level entry points on Linux (GNU make). `make test` is
# what CI runs. On FreeBSD, make reads BSDmakefile: it builds and loads
# if_wg.ko.

CARGO ?= cargo

.PHONY: all deps build test test-core test-rust lint fmt bench bindings demo clean check-freebsd \
	bench-tunnel test-netns sim fuzz

all: build

deps:
	@sh scripts/deps.sh

build: deps
	$(CARGO) build --workspace --release

# Every test that exists: formatting, lints, the FreeBSD build and audit,
# the namespace tests, the kernel module's code in kharness (its own
# tests, the module's, TSan, ioctl fuzzing, the seed network), the core
# with its portable crypto, then the whole workspace (userspace AEAD,
# boringtun interop, the C ABI driver, the bindings freshness check).
test: deps lint check-freebsd test-netns kharness-test test-install
	@sh tests/freebsd/check-syntax.sh
	@sh tests/tools/run.sh
	@sh scripts/run-tests.sh
	@sh scripts/fuzz.sh 5

test-core: deps
	$(CARGO) test -p wg-core --features uapi

test-rust: deps
	$(CARGO) test --workspace

lint:
	python3 scripts/check-paths.py
	$(CARGO) fmt --all -- --check
	$(CARGO) fmt --all --manifest-path fuzz/Cargo.toml -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(MAKE) lint-kernel

# The kernel tier that runs on Linux: the audit's own tests; the kernel
# build of the core, linked as kmod.mk links a module and audited; the shim
# compiled with -Werror against FreeBSD's kernel headers, linked with the
# core into if_wg.ko, and that audited too (undefined symbols, relocations,
# FPU use, stack frames).
check-freebsd: deps test-audit audit-core audit-ko check-freebsd-arm64
	@sh tools/wg/check-freebsd.sh

fmt:
	$(CARGO) fmt --all
	$(CARGO) fmt --all --manifest-path fuzz/Cargo.toml

# Printed figures (docs/DESIGN.md section 6), not timed tests.
bench: deps
	$(CARGO) bench -p wg-interop-tests --bench core
	$(CARGO) bench -p wg-interop-tests --bench flood
	$(CARGO) test --release -p wg-core --features uapi --test limits -- --ignored --nocapture

# The deterministic simulation (rust/sim): SEEDS scenarios of 2 to 50
# devices on a faulty virtual network, invariants checked at every step;
# prints seeds/s and every failing seed with its replay command. FAMILY
# (classic, load, stale, giveup) keeps only that kind of scenario.
SEEDS ?= 10000
FAMILY ?=
sim:
	$(CARGO) run --release -p wg-sim --bin sim -- --seeds $(SEEDS) $(if $(FAMILY),--family $(FAMILY))

# cargo fuzz (fuzz/): each target for FUZZ_SECONDS, one after another;
# prints executions and crashes per target, fails on a crash. `make test`
# runs them for 5 s each. FUZZ_TRACE_COMPARES=0 speeds up `receive`.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?=
fuzz:
	@sh scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Regenerates the committed Rust side of sys/wg_host.h.
bindings: deps
	WG_BLESS=1 $(CARGO) test -p wg-ffi --test bindings

# The product running: the seed's site-to-site network in namespaces with
# the kernel module's code (in kharness) on one router and wgd on the
# other, wg show, a ping through the tunnel, proof the wire is encrypted;
# torn down at the end (and on Ctrl-C).
demo: deps kharness
	@sh tests/netns/demo.sh

# iperf3 through wgd, wireguard-go and the kernel module's code in kharness
# (built without sanitizers), same run, 3 rounds: medians of Mbit/s and
# CPU s/GB, ratios to wireguard-go.
bench-tunnel: deps kharness
	$(CARGO) build --release -p wgd
	sh kmod/harness/build.sh $(KHARNESS_OUT)/none $(KERNEL_LIB) none
	@sh tests/netns/bench-tunnel.sh

# The seed's network in namespaces: wgd against wireguard-go, both ways,
# and against itself (site-to-site, remote access through NAT, roaming);
# IPv6 inside and outside the tunnel; wg-quick driving wgd; hostile
# datagrams, handshake floods and malformed UAPI requests; our wg against
# Debian's on live devices (show output, config operations, errors); the
# seed scenarios and IPv6 once more with wgd's offloads off (WGD_OFFLOAD=0);
# ICMP unreachables; bulk TCP through wgd's offloads, checked byte for byte.
test-netns: deps
	$(CARGO) build --release -p wgd -p wg-tool
	@sh tests/netns/seed.sh
	@sh tests/netns/ipv6.sh
	@WGD_OFFLOAD=0 PAIRS=wgd:wireguard-go sh tests/netns/seed.sh
	@WGD_OFFLOAD=0 PAIRS=wgd:wireguard-go sh tests/netns/ipv6.sh
	@sh tests/netns/unreachable.sh
	@sh tests/netns/offload.sh
	@sh tests/netns/wgquick.sh
	@sh tests/netns/hostile.sh
	@sh tests/netns/flood-recovery.sh
	@sh tests/netns/wgtool.sh

clean:
	$(CARGO) clean

# Audit against FreeBSD 14's kernel headers, the release the module targets.
AUDIT_KERNEL_HEADERS = $(FBSD14_INCLUDE)/generic-freebsd $(FBSD14_INCLUDE)/x86_64-freebsd-none
include kbuild/kbuild.mk
include kmod/check.mk
include kmod/harness/harness.mk

# The FreeBSD tree, staged or installed (scripts/install.sh): /boot/modules/
# if_wg.ko, PREFIX/bin/wg and wg-quick, PREFIX/etc/rc.d/wireguard, the
# manual pages in PREFIX/share/man/man4 and man8, with FreeBSD's modes and
# owners. `make install DESTDIR=/tmp/stage PREFIX=/usr/local`; `make
# deinstall` with the same variables removes them. The module is the one
# check-freebsd links (target/kmod/if_wg.ko), wg the release build;
# INSTALL_NOBUILD=1 installs what is there without building it.
.PHONY: install deinstall wg-release test-install
install: $(if $(INSTALL_NOBUILD),,kmod-ko wg-release)
	DESTDIR="$(DESTDIR)" PREFIX="$(or $(PREFIX),/usr/local)" sh scripts/install.sh install

deinstall:
	DESTDIR="$(DESTDIR)" PREFIX="$(or $(PREFIX),/usr/local)" sh scripts/install.sh deinstall

wg-release: deps
	$(CARGO) build --release -p wg-tool

# scripts/install.sh and make install/deinstall into a temporary DESTDIR.
test-install:
	@sh tests/install/run.sh

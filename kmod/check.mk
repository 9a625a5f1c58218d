# Included by the top Makefile (GNU make, on Linux): the shim compiled
# against FreeBSD's kernel headers (kmod/check-compile.sh), linked with the
# core's kernel staticlib into if_wg.ko as kmod.mk links a module on amd64,
# and the result audited (kbuild/audit.py: undefined symbols, relocations,
# FPU use, stack frames, the kernel names the shim leaves undefined). Needs kbuild/kbuild.mk included first.

KMOD_OUT ?= target/kmod
KMOD_KO = $(KMOD_OUT)/if_wg.ko
# FreeBSD 14's headers (scripts/deps.sh unpacks them from the ziglang 0.15
# wheel); the installed ziglang carries FreeBSD 15's. The module is built
# and audited against 14's, and the shim must also compile against 15's.
FBSD14_INCLUDE ?= $(HOME)/.cache/if_wg/freebsd14-include

KMOD_KO_ARM64 = $(KMOD_OUT)/arm64/if_wg.ko

.PHONY: check-kmod-compile kmod-ko audit-ko kmod-headers-14.0 \
	check-kmod-compile-arm64 kmod-ko-arm64 audit-ko-arm64 check-freebsd-arm64

check-kmod-compile: $(KBUILD_DEPS)
	FREEBSD_INCLUDE=$(FBSD14_INCLUDE) sh kmod/check-compile.sh $(KMOD_OUT)
	sh kmod/check-compile.sh $(KMOD_OUT)/freebsd15

# The module is linked from the clang object, compiled for the FreeBSD
# target: gcc here targets Linux, whose kernel code model reads the stack
# protector's canary from %gs:40, which on FreeBSD is per-CPU data. gcc's
# compile is a second, stricter set of warnings, never linked.
#
# kmod.mk: `ld -r -d` of the objects (from the archive only the members the
# shim needs), then every defined global made local (kmod_syms.awk with no
# EXPORT_SYMS): the kernel finds the module through its linker sets, not
# through symbols. Debug information and LLVM's embedded bitcode are never
# loaded; they go.
kmod-ko: check-kmod-compile kernel-lib
	$(KBUILD_LD) -m elf_x86_64 -r -d -o $(KMOD_KO).full $(KMOD_OUT)/if_wg.clang.o $(KERNEL_LIB)
	$(KBUILD_OBJCOPY) --strip-debug --remove-section=.llvmbc --remove-section=.llvmcmd \
		--wildcard --keep-global-symbol='__if_wg_exports_nothing__' \
		$(KMOD_KO).full $(KMOD_KO)
	@rm -f $(KMOD_KO).full

# FreeBSD 14.0's headers: if_wg.4 names 14.0 as the oldest release, on
# the strength of [a] (every kernel symbol the .ko uses is declared in
# these headers). osreldate.h carries the tree's COPYRIGHT years, and
# 14.0 is the only 14 release of 2023 (14.1 came in 2024).
kmod-headers-14.0:
	@grep -q '1992-2023 The FreeBSD Project' $(FBSD14_INCLUDE)/generic-freebsd/osreldate.h || { \
		echo "audit-ko: $(FBSD14_INCLUDE) is not FreeBSD 14.0's headers; if_wg.4 names 14.0" \
		"as the oldest release, so the symbol audit must run against 14.0's" >&2; exit 1; }
	@echo "audit-ko: kernel symbols checked against FreeBSD 14.0's headers ($(FBSD14_INCLUDE))"

# --shim-object: every name the shim leaves to the kernel must still be
# undefined in the .ko (nothing linked beside the shim may capture one, as
# compiler_builtins' libm `log` once took the shim's log(9) calls); the
# core's exports must be defined.
audit-ko: kmod-ko audit-headers-check kmod-headers-14.0
	$(AUDIT) --shim-object $(KMOD_OUT)/if_wg.clang.o \
		--core-export '$(KERNEL_CORE_EXPORTS)' $(KMOD_KO)

# arm64: the shim compiled by the wheel's clang for aarch64-freebsd with
# kern.mk's arm64 flags (KMOD_ARCH=arm64 kmod/check-compile.sh), against
# the wheel's FreeBSD 15 aarch64 headers (FreeBSD 14's aarch64 headers are
# not unpacked by scripts/deps.sh), linked with the arm64 core as kmod.mk
# links a module where __KLD_SHARED=yes: `ld -r -d` into if_wg.kld, every
# defined global made local (kmod_syms.awk, no EXPORT_SYMS), then `ld
# -Bshareable -znotext -znorelro` into if_wg.ko, debug information
# stripped. The audit reads the .ko: its dynamic relocations are what
# arm64's link_elf applies.
check-kmod-compile-arm64: $(KBUILD_DEPS)
	KMOD_ARCH=arm64 sh kmod/check-compile.sh $(KMOD_OUT)/arm64

kmod-ko-arm64: check-kmod-compile-arm64 kernel-lib-arm64
	$(KBUILD_LD_ARM64) -m aarch64elf -r -d -o $(KMOD_OUT)/arm64/if_wg.kld.full \
		$(KMOD_OUT)/arm64/if_wg.clang.o $(KERNEL_LIB_ARM64)
	$(KBUILD_OBJCOPY_ARM64) --remove-section=.llvmbc --remove-section=.llvmcmd \
		--wildcard --keep-global-symbol='__if_wg_exports_nothing__' \
		$(KMOD_OUT)/arm64/if_wg.kld.full $(KMOD_OUT)/arm64/if_wg.kld
	$(KBUILD_LD_ARM64) -m aarch64elf -Bshareable -z notext -z norelro -d --build-id=sha1 \
		-o $(KMOD_KO_ARM64).full $(KMOD_OUT)/arm64/if_wg.kld
	$(KBUILD_OBJCOPY_ARM64) --strip-debug $(KMOD_KO_ARM64).full $(KMOD_KO_ARM64)
	@rm -f $(KMOD_KO_ARM64).full $(KMOD_OUT)/arm64/if_wg.kld.full

audit-ko-arm64: kmod-ko-arm64
	@test -n "$(AUDIT_KERNEL_HEADERS_ARM64)" || { \
		echo "audit-ko-arm64: no FreeBSD aarch64 headers: pip install ziglang" >&2; exit 2; }
	$(AUDIT_ARM64) --shim-object $(KMOD_OUT)/arm64/if_wg.clang.o \
		--core-export '$(KERNEL_CORE_EXPORTS)' $(KMOD_KO_ARM64)

# What `make check-freebsd` adds for arm64: the core alone and the module.
check-freebsd-arm64: audit-core-arm64 audit-ko-arm64

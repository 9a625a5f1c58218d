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

.PHONY: check-kmod-compile kmod-ko audit-ko kmod-headers-14.0

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

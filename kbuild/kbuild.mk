# kbuild/kbuild.mk: the kernel build of the Rust core and the audit of what
# kldload will load. Included by the top Makefile (paths are relative to
# the repository root).
#
#   make kernel-lib     libwg_ffi.a for the amd64 kernel (kbuild/build-kernel-lib.sh)
#   make kernel-lib-arm64, audit-core-arm64
#                       the same for the arm64 kernel (kbuild/aarch64-ifwg-kernel.json)
#   make audit-core     that library alone, linked and localised as kmod.mk
#                       links a module, audited (kbuild/audit.py)
#   make audit-object AUDIT_OBJECT=path/to/if_wg.ko
#                       the same audit of any object, e.g. the final module
#   make test-audit     the audit's own tests (planted violations)
#   make lint-kernel    clippy over the kernel feature (src/kernel.rs)

CARGO ?= cargo
KBUILD_PYTHON ?= python3
KBUILD_LD ?= ld
KBUILD_OBJCOPY ?= objcopy
KBUILD_TARGET_DIR ?= target/kernel
# The top Makefile's `deps` (scripts/deps.sh); empty when used alone.
KBUILD_DEPS ?= deps

# What build-kernel-lib.sh prints, and the core alone as a module object.
KERNEL_LIB = $(KBUILD_TARGET_DIR)/x86_64-ifwg-kernel/release/libwg_ffi.a
KERNEL_CORE_OBJ = $(KBUILD_TARGET_DIR)/wg_core.o
# Globals the core object keeps (the C ABI of sys/wg_core.h); kmod.mk's
# kmod_syms.awk makes every other defined global local.
KERNEL_CORE_EXPORTS ?= wg_core_*

# FreeBSD headers: the ones the `ziglang` PyPI package ships (pip install
# ziglang); on FreeBSD, point AUDIT_KERNEL_HEADERS at /usr/src/sys instead.
# sys/ is the project's own: wg_host_* are the shim's, declared there.
ZIGLANG_DIR := $(shell $(KBUILD_PYTHON) -c "import ziglang,os;print(os.path.dirname(ziglang.__file__))" 2>/dev/null)
AUDIT_KERNEL_HEADERS ?= $(if $(ZIGLANG_DIR),$(ZIGLANG_DIR)/lib/libc/include/generic-freebsd $(ZIGLANG_DIR)/lib/libc/include/x86_64-freebsd-none)
AUDIT_HEADERS ?= $(AUDIT_KERNEL_HEADERS) sys
AUDIT_STACK_LIMIT ?= 2048
# The deepest call chain from an entry point: half of amd64's 16 KiB kernel
# stack (KSTACK_PAGES 4), the rest left to the kernel's own frames above
# and below (the NIC's interrupt thread, netisr, a tunnel beneath).
AUDIT_DEPTH_LIMIT ?= 8192
AUDIT_FLAGS ?= $(addprefix --headers ,$(AUDIT_HEADERS)) \
	--allow-undefined kbuild/undefined-allow.txt \
	--fpu-allow kbuild/fpu-allow.txt \
	--stack-limit $(AUDIT_STACK_LIMIT) \
	--max-depth $(AUDIT_DEPTH_LIMIT) \
	--recursion-allow kbuild/recursion-allow.txt
AUDIT = $(KBUILD_PYTHON) kbuild/audit.py $(AUDIT_FLAGS)

# arm64 (kbuild/aarch64-ifwg-kernel.json): no binutils for aarch64 on
# Debian; the ziglang wheel's ld.lld and ar, LLVM's objcopy, nm and objdump
# (package llvm-14, which clang-14 recommends, or llvm).
KERNEL_LIB_ARM64 = $(KBUILD_TARGET_DIR)/aarch64-ifwg-kernel/release/libwg_ffi.a
KBUILD_LD_ARM64 ?= $(KBUILD_PYTHON) -m ziglang ld.lld
# (Debian's `llvm` package has the unversioned names, llvm-14 the -14 ones.)
KBUILD_OBJCOPY_ARM64 ?= $(firstword $(shell command -v llvm-objcopy llvm-objcopy-14 2>/dev/null) llvm-objcopy)
KBUILD_NM_ARM64 ?= $(firstword $(shell command -v llvm-nm llvm-nm-14 2>/dev/null) llvm-nm)
ZIGLANG_FREEBSD_ARM64 = $(if $(ZIGLANG_DIR),$(ZIGLANG_DIR)/lib/libc/include/generic-freebsd $(ZIGLANG_DIR)/lib/libc/include/aarch64-freebsd-none)
AUDIT_KERNEL_HEADERS_ARM64 ?= $(ZIGLANG_FREEBSD_ARM64)
AUDIT_ARM64 = $(KBUILD_PYTHON) kbuild/audit.py $(addprefix --headers ,$(AUDIT_KERNEL_HEADERS_ARM64) sys) \
	--allow-undefined kbuild/undefined-allow.txt \
	--fpu-allow kbuild/fpu-allow-arm64.txt \
	--stack-limit $(AUDIT_STACK_LIMIT) \
	--max-depth $(AUDIT_DEPTH_LIMIT) \
	--recursion-allow kbuild/recursion-allow.txt

.PHONY: kernel-lib audit-core audit-object test-audit lint-kernel audit-headers-check \
	kernel-lib-arm64 audit-core-arm64

kernel-lib: $(KBUILD_DEPS)
	@KBUILD_TARGET_DIR="$(abspath $(KBUILD_TARGET_DIR))" sh kbuild/build-kernel-lib.sh

# As kmod.mk on amd64: `ld -r` (direct linking, no shared object), every
# global but the exports localised (objcopy -L, here by wildcard), debug
# information stripped. build-kernel-lib.sh already made the archive one
# object (what the wg_core_* exports need, every other global local), so
# --whole-archive takes exactly what the module's link takes.
audit-core: kernel-lib audit-headers-check
	$(KBUILD_LD) -m elf_x86_64 -r -d --whole-archive $(KERNEL_LIB) --no-whole-archive \
		-o $(KERNEL_CORE_OBJ).full
	$(KBUILD_OBJCOPY) --strip-debug --remove-section=.llvmbc --remove-section=.llvmcmd --wildcard \
		--keep-global-symbol='$(KERNEL_CORE_EXPORTS)' \
		$(KERNEL_CORE_OBJ).full $(KERNEL_CORE_OBJ)
	@rm -f $(KERNEL_CORE_OBJ).full
	$(AUDIT) $(KERNEL_CORE_OBJ)

kernel-lib-arm64: $(KBUILD_DEPS)
	@KBUILD_ARCH=arm64 KBUILD_TARGET_DIR="$(abspath $(KBUILD_TARGET_DIR))" \
		KBUILD_NM="$(KBUILD_NM_ARM64)" KBUILD_OBJCOPY="$(KBUILD_OBJCOPY_ARM64)" \
		sh kbuild/build-kernel-lib.sh

# The arm64 core alone, `ld -r` and localised as above (a relocatable:
# the audit judges its relocations by what kmod.mk's `ld -Bshareable`
# makes of them).
audit-core-arm64: kernel-lib-arm64
	$(KBUILD_LD_ARM64) -m aarch64elf -r -d --whole-archive $(KERNEL_LIB_ARM64) --no-whole-archive \
		-o $(KERNEL_CORE_OBJ:.o=.arm64.o).full
	$(KBUILD_OBJCOPY_ARM64) --strip-debug --remove-section=.llvmbc --remove-section=.llvmcmd --wildcard \
		--keep-global-symbol='$(KERNEL_CORE_EXPORTS)' \
		$(KERNEL_CORE_OBJ:.o=.arm64.o).full $(KERNEL_CORE_OBJ:.o=.arm64.o)
	@rm -f $(KERNEL_CORE_OBJ:.o=.arm64.o).full
	$(AUDIT_ARM64) $(KERNEL_CORE_OBJ:.o=.arm64.o)

audit-object: audit-headers-check
	@test -n "$(AUDIT_OBJECT)" || { echo "audit-object: set AUDIT_OBJECT=path/to/object" >&2; exit 2; }
	$(AUDIT) $(AUDIT_OBJECT)

audit-headers-check:
	@test -n "$(AUDIT_KERNEL_HEADERS)" || { \
		echo "audit: no FreeBSD headers: pip install ziglang, or set AUDIT_KERNEL_HEADERS" >&2; \
		exit 2; }

test-audit: $(KBUILD_DEPS)
	PYTHONDONTWRITEBYTECODE=1 $(KBUILD_PYTHON) -m unittest kbuild/test_audit.py

# The kernel feature's code (global allocator, panic handler, the vector
# AEAD's registration) is compiled out of the std build that `make lint`
# checks. Host target with panic=abort, in its own target directory so
# that the usual dev builds keep their artifacts.
lint-kernel:
	$(CARGO) clippy -p wg-ffi --no-default-features --features kernel,kernel-simd \
		--config 'profile.dev.panic="abort"' --target-dir target/kernel-lint -- -D warnings

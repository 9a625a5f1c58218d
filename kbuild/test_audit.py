#!/usr/bin/env python3
"""kbuild/audit.py catches what it is for: each test builds a tiny object
with gcc or as (amd64) or zig cc and the wheel's ld.lld (arm64), plants one
violation (or none) and runs the audit on it as `make audit-core` does, as
a separate process.

    python3 -m unittest kbuild/test_audit.py
    python3 kbuild/test_audit.py
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
AUDIT = os.path.join(HERE, "audit.py")

# What a FreeBSD kernel header would declare, for these tests.
KERNEL_HEADER = """\
#include <stddef.h>
void	*memcpy(void * to, const void * from, size_t len);
void	kernel_fn(void);
void	kernel_fill(char *buf);
extern int kernel_var;
/* A macro is no symbol the kernel exports. */
#define	macro_only(x)	kernel_fn()
"""

# gcc flags close to a kernel module's: no PIC, kernel code model, no red
# zone, no SSE, no unwind tables.
KFLAGS = ["-O2", "-ffreestanding", "-fno-pic", "-mcmodel=kernel", "-mno-red-zone",
          "-mno-mmx", "-mno-sse", "-mno-sse2", "-mno-avx", "-fno-stack-protector",
          "-fno-asynchronous-unwind-tables", "-fno-common"]


@unittest.skipUnless(shutil.which("gcc") and shutil.which("objdump"), "needs gcc and binutils")
class AuditTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kbuild-audit-test-")
        cls.headers = os.path.join(cls.tmp, "include")
        os.makedirs(os.path.join(cls.headers, "sys"))
        with open(os.path.join(cls.headers, "sys", "kern.h"), "w") as f:
            f.write(KERNEL_HEADER)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def build(self, name, source, lang="c", flags=None):
        src = os.path.join(self.tmp, f"{name}.{lang}")
        obj = os.path.join(self.tmp, f"{name}.o")
        with open(src, "w") as f:
            f.write(textwrap.dedent(source))
        cmd = ["gcc", "-c", "-I", self.headers, "-o", obj, src]
        if lang == "c":
            cmd[2:2] = KFLAGS if flags is None else flags
        subprocess.run(cmd, check=True)
        return obj

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text))
        return path

    def audit(self, obj, *extra):
        p = subprocess.run([sys.executable, AUDIT, obj, "--headers", self.headers, *extra],
                           capture_output=True, text=True)
        return p.returncode, p.stdout + p.stderr

    def assertPasses(self, obj, *extra):
        rc, out = self.audit(obj, *extra)
        self.assertEqual(rc, 0, out)
        self.assertIn("== OK", out)
        return out

    def assertFails(self, obj, check, what, *extra):
        rc, out = self.audit(obj, *extra)
        self.assertEqual(rc, 1, out)
        self.assertIn("== FAIL", out)
        failures = out.split("== FAIL", 1)[1]
        self.assertIn(check, failures, out)
        self.assertIn(what, failures, out)
        return out

    CLEAN = """\
        #include <sys/kern.h>
        int counter;
        int
        clean(char *dst, const char *src, unsigned long n)
        {
            char small[64];
            kernel_fill(small);
            memcpy(dst, src, n);
            kernel_fn();
            return kernel_var + counter + small[3];
        }
        """

    # --- a clean object ------------------------------------------------------

    def test_clean_object_passes(self):
        out = self.assertPasses(self.build("clean", self.CLEAN))
        self.assertRegex(out, r"kernel_fn\s+GLOBAL\s+declared in include/sys/kern.h")
        self.assertRegex(out, r"R_X86_64_PLT32\s+\d+\s+ok")
        self.assertIn("none outside the allowlist", out)

    def test_debug_relocations_are_not_judged(self):
        # -g brings R_X86_64_32 in .debug_*: link_elf_obj skips those tables.
        obj = self.build("debug", self.CLEAN, flags=KFLAGS + ["-g"])
        out = self.assertPasses(obj)
        self.assertIn("not loaded, not judged", out)
        self.assertIn(".debug_*", out)

    # --- [a] undefined symbols ---------------------------------------------

    UNDECLARED = """\
        void mystery_fn(void);
        void f(void) { mystery_fn(); }
        """

    def test_undeclared_symbol_fails(self):
        self.assertFails(self.build("undeclared", self.UNDECLARED),
                         "[a] undefined symbol mystery_fn", "declared in no header")

    def test_macro_is_not_a_declaration(self):
        obj = self.build("macro", """\
            void macro_only(int);
            void f(void) { macro_only(1); }
            """)
        self.assertFails(obj, "[a] undefined symbol macro_only", "declared in no header")

    def test_allowlist_with_reason_passes(self):
        allow = self.write("allow.txt", """\
            # comment
            mystery_fn	provided by the shim, see kmod/
            """)
        self.assertPasses(self.build("undeclared2", self.UNDECLARED),
                          "--allow-undefined", allow)

    def test_allowlist_without_reason_is_an_error(self):
        allow = self.write("allow-bad.txt", "mystery_fn\n")
        rc, out = self.audit(self.build("undeclared3", self.UNDECLARED),
                             "--allow-undefined", allow)
        self.assertEqual(rc, 2, out)
        self.assertIn("has no reason", out)

    def test_undefined_weak_fails_even_when_declared(self):
        obj = self.build("weak", """\
            #include <sys/kern.h>
            #pragma weak kernel_fn
            void f(void) { if (kernel_fn) kernel_fn(); }
            """)
        self.assertFails(obj, "[a] undefined symbol kernel_fn", "undefined weak")

    def test_linker_set_bounds_pass_only_with_their_section(self):
        # As sys/linker_set.h does: weak __start_set_X/__stop_set_X, which
        # link_elf_obj binds to the bounds of the module's set_X section.
        src = """\
            #include <sys/kern.h>
            extern void *__start_set_demo[] __attribute__((weak));
            extern void *__stop_set_demo[] __attribute__((weak));
            %s
            long f(void) { return __stop_set_demo - __start_set_demo; }
            """
        with_set = self.build("set", src % (
            'static void *entry __attribute__((section("set_demo"), used)) = 0;'))
        self.assertPasses(with_set)
        without = self.build("noset", src % "")
        self.assertFails(without, "[a] undefined symbol __start_set_demo", "undefined weak")

    # --- [b] relocations ---------------------------------------------------

    def test_gotpcrel_fails(self):
        # PIC code reaches an extern through the GOT: kldload rejects it.
        obj = self.build("pic", """\
            #include <sys/kern.h>
            int f(void) { return kernel_var; }
            """, flags=["-O2", "-fPIC", "-fno-asynchronous-unwind-tables"])
        self.assertFails(obj, "[b]", "GOTPCREL")

    def test_abs32_in_text_fails(self):
        # -mcmodel=small non-PIC: R_X86_64_32 in .text, not in amd64's set.
        obj = self.build("abs32", """\
            #include <sys/kern.h>
            int *f(void) { return &kernel_var; }
            """, flags=["-O2", "-fno-pic", "-mcmodel=small", "-fno-asynchronous-unwind-tables"])
        self.assertFails(obj, "[b]", "R_X86_64_32 relocations")

    # --- [c] FPU / SIMD ----------------------------------------------------

    SSE = """\
        .text
        .globl  sse_copy
        .type   sse_copy, @function
        sse_copy:
            movaps  (%rsi), %xmm0
            movaps  %xmm0, (%rdi)
            ret
        .size   sse_copy, .-sse_copy
        .section .note.GNU-stack,"",@progbits
        """

    def test_sse_fails(self):
        obj = self.build("sse", self.SSE, lang="s")
        self.assertFails(obj, "[c]", "sse_copy")

    def test_x87_and_avx_fail(self):
        obj = self.build("x87", """\
            .text
            .globl  x87
            x87:
                fldz
                fstpt   (%rdi)
                ret
            .globl  avx
            avx:
                vzeroupper
                ret
            .section .note.GNU-stack,"",@progbits
            """, lang="s")
        out = self.assertFails(obj, "[c] 2 functions", "x87")
        self.assertIn("VIOLATION avx", out)

    def test_fpu_allowlist_passes(self):
        allow = self.write("fpu-allow.txt", "# under fpu_kern_enter\nsse_*\n")
        self.assertPasses(self.build("sse2", self.SSE, lang="s"), "--fpu-allow", allow)

    # The rule is exact both ways: a vector instruction planted beside the
    # listed vector code is caught, and an entry that names no function with
    # one (gone, or no longer vector code) fails too.
    LISTED_AND_PLANTED = """\
        .text
        .globl  wg_aead_simd_seal
        .type   wg_aead_simd_seal, @function
        wg_aead_simd_seal:
            vpxor   %ymm0, %ymm0, %ymm0
            vzeroupper
            ret
        .size   wg_aead_simd_seal, .-wg_aead_simd_seal
        .globl  planted
        .type   planted, @function
        planted:
            pxor    %xmm1, %xmm1
            ret
        .size   planted, .-planted
        .globl  scalar
        .type   scalar, @function
        scalar:
            xorl    %eax, %eax
            ret
        .size   scalar, .-scalar
        .section .note.GNU-stack,"",@progbits
        """

    def test_fpu_planted_outside_the_list_fails(self):
        allow = self.write("fpu-allow.txt", "wg_aead_simd_seal\n")
        obj = self.build("planted", self.LISTED_AND_PLANTED, lang="s")
        out = self.assertFails(obj, "[c] 1 functions use FPU/SIMD", "planted", "--fpu-allow", allow)
        self.assertNotIn("VIOLATION wg_aead_simd_seal", out)

    def test_fpu_stale_entry_fails(self):
        allow = self.write("fpu-allow.txt", "wg_aead_simd_seal\nplanted\nwg_aead_simd_gone\n")
        obj = self.build("stale", self.LISTED_AND_PLANTED, lang="s")
        out = self.assertFails(obj, "[c] 1 fpu-allow entries", "wg_aead_simd_gone",
                               "--fpu-allow", allow)
        self.assertIn("STALE fpu-allow entry wg_aead_simd_gone", out)

    def test_fpu_entry_for_scalar_code_fails(self):
        allow = self.write("fpu-allow.txt", "wg_aead_simd_seal\nplanted\nscalar\n")
        obj = self.build("scalar", self.LISTED_AND_PLANTED, lang="s")
        self.assertFails(obj, "[c] 1 fpu-allow entries", "scalar", "--fpu-allow", allow)

    def test_fpu_list_names_rust_functions_without_crate_hash(self):
        # v0 mangling of wg_aead[1234567890abcdef]::avx2::gen
        name = "_RNvNtCs4riAIYGJsUx_7wg_aead4avx23gen"
        allow = self.write("fpu-allow.txt", "wg_aead::avx2::gen\n")
        obj = self.build("rustname", f"""\
            .text
            .globl  {name}
            .type   {name}, @function
            {name}:
                vpxor   %ymm0, %ymm0, %ymm0
                ret
            .size   {name}, .-{name}
            .section .note.GNU-stack,"",@progbits
            """, lang="s")
        self.assertPasses(obj, "--fpu-allow", allow)

    # --- [d] stack frames --------------------------------------------------

    BIG = """\
        #include <sys/kern.h>
        void
        big_frame(void)
        {
            char buf[4096];
            kernel_fill(buf);
        }
        """

    def test_big_frame_fails(self):
        out = self.assertFails(self.build("big", self.BIG), "[d] stack frame of", "big_frame")
        self.assertRegex(out, r"\b4(1[0-9][0-9])\s+prologue\s+big_frame")

    def test_stack_limit_option(self):
        self.assertPasses(self.build("big2", self.BIG), "--stack-limit", "8192")

    def test_stack_clash_probes_are_summed(self):
        # gcc probes page by page: sub $0x1000,%rsp; orq $0,(%rsp); ...
        obj = self.build("probed", self.BIG.replace("4096", "20000"),
                         flags=KFLAGS + ["-fstack-clash-protection"])
        out = self.assertFails(obj, "[d] stack frame of", "big_frame")
        self.assertRegex(out, r"\b200[0-9][0-9]\s+prologue\s+big_frame")

    def test_llvm_probe_loop_is_measured(self):
        # LLVM's inline probing of a 12 KiB frame: %r11 bounds the loop.
        obj = self.build("llvmprobe", """\
            .text
            .globl  probed
            probed:
                push    %rbp
                mov     %rsp, %rbp
                mov     %rsp, %r11
                sub     $0x3000, %r11
            1:  sub     $0x1000, %rsp
                movq    $0, (%rsp)
                cmp     %r11, %rsp
                jne     1b
                sub     $0x40, %rsp
                call    kernel_fn
                leave
                ret
            .section .note.GNU-stack,"",@progbits
            """, lang="s")
        out = self.assertFails(obj, "[d] stack frame of 12368 bytes", "probed")

    def test_probestack_helper_is_not_a_frame(self):
        # A helper that probes for its caller (as __rust_probestack) moves
        # %rsp in a loop: no frame of its own worth failing.
        obj = self.build("probestack", """\
            .text
            .globl  probestack
            probestack:
                push    %rbp
                mov     %rsp, %rbp
                mov     %rax, %r11
                cmp     $0x1000, %r11
                jbe     2f
            1:  sub     $0x1000, %rsp
                test    %rsp, 8(%rsp)
                sub     $0x1000, %r11
                cmp     $0x1000, %r11
                ja      1b
            2:  sub     %r11, %rsp
                test    %rsp, 8(%rsp)
                add     %rax, %rsp
                leave
                ret
            .section .note.GNU-stack,"",@progbits
            """, lang="s")
        out = self.assertPasses(obj)
        self.assertRegex(out, r"\s16\s+prologue\s+\+dynamic probestack")

    def test_stack_sizes_section_is_read(self):
        # LLVM's -Zemit-stack-sizes / -fstack-size-section record: a small
        # prologue, but the section says 5000 bytes.
        obj = self.build("stacksizes", """\
            .section .text.sized,"ax",@progbits
            .globl  sized
            .type   sized, @function
            sized:
                push    %rbp
                mov     %rsp, %rbp
                pop     %rbp
                ret
            .size   sized, .-sized
            .section .stack_sizes,"o",@progbits,.text.sized
                .quad   sized
                .uleb128 5000
            .section .note.GNU-stack,"",@progbits
            """, lang="s")
        out = self.assertFails(obj, "[d] stack frame of 5008 bytes", "sized")
        self.assertRegex(out, r"5008\s+stack_sizes\s+sized")
        self.assertIn("R_X86_64_64", out)  # the .stack_sizes table, not judged

    # --- [e] kernel names the shim leaves undefined ------------------------

    SHIM = """\
        #include <sys/kern.h>
        void log(int, const char *, ...);
        int wg_core_step(int);
        void
        shim_log(const char *msg)
        {
            log(3, "%s", msg);
            kernel_fn();
        }
        int shim_step(int x) { return wg_core_step(x); }
        """
    # The Rust staticlib's side: its export, and compiler_builtins' libm
    # `log(double)`, weak and hidden in its own section, as Rust emits it.
    CORE_WITH_LIBM = """\
        .section .text.log,"ax",@progbits
        .weak   log
        .hidden log
        .type   log, @function
        log:
            ret
        .size   log, .-log
        .text
        .globl  wg_core_step
        .type   wg_core_step, @function
        wg_core_step:
            lea     1(%rdi), %eax
            ret
        .size   wg_core_step, .-wg_core_step
        .section .note.GNU-stack,"",@progbits
        """

    def link(self, name, *objs):
        out = os.path.join(self.tmp, f"{name}.ko")
        subprocess.run(["ld", "-m", "elf_x86_64", "-r", "-d", "-o", out, *objs], check=True)
        # As kmod.mk: every defined global made local.
        subprocess.run(["objcopy", "--wildcard", "--keep-global-symbol=__nothing__", out],
                       check=True)
        return out

    def test_shim_name_captured_by_the_core_fails(self):
        # log(9) bound to libm's log(double): the shim's call never leaves
        # the module, and [a] sees nothing undefined to complain about.
        shim = self.build("shim", self.SHIM)
        ko = self.link("captured", shim, self.build("corelibm", self.CORE_WITH_LIBM, lang="s"))
        allow = self.write("allow-log.txt", "log\tthe kernel's log(9)\n")
        self.assertPasses(ko, "--allow-undefined", allow)  # without the check
        out = self.assertFails(ko, "[e] log", "bound inside the object",
                               "--shim-object", shim, "--core-export", "wg_core_*",
                               "--allow-undefined", allow)
        self.assertRegex(out, r"VIOLATION log: defined in this object \(LOCAL in \.text")
        self.assertNotIn("[e] kernel_fn", out.split("== FAIL", 1)[1])

    def test_shim_names_left_to_the_kernel_pass(self):
        shim = self.build("shim2", self.SHIM)
        core = self.build("core", "int wg_core_step(int x) { return x + 1; }\n")
        ko = self.link("kept", shim, core)
        allow = self.write("allow-log2.txt", "log\tthe kernel's log(9)\n")
        out = self.assertPasses(ko, "--shim-object", shim, "--core-export", "wg_core_*",
                                "--allow-undefined", allow)
        self.assertIn("none captured", out)

    def test_missing_core_export_fails(self):
        shim = self.build("shim3", self.SHIM)
        ko = self.link("noexport", shim)
        allow = self.write("allow-log3.txt", "log\tthe kernel's log(9)\nwg_core_step\tx\n")
        self.assertFails(ko, "[e] wg_core_step", "nothing in the object defines it",
                         "--shim-object", shim, "--core-export", "wg_core_*",
                         "--allow-undefined", allow)

    # --- [f] call chains -----------------------------------------------------

    # Four frames of ~2.5 KiB, each under --stack-limit 4096, that call one
    # another: ~10 KiB from chain_entry, over the 8 KiB default.
    DEEP = """\
        #include <sys/kern.h>
        #define FRAME(name, next) \\
            __attribute__((noinline)) int name(int n) \\
            { char buf[2500]; kernel_fill(buf); return next + buf[n]; }
        FRAME(chain_d, 0)
        FRAME(chain_c, chain_d(n))
        FRAME(chain_b, chain_c(n))
        FRAME(chain_entry, chain_b(n))
        """
    CYCLE = """\
        #include <sys/kern.h>
        __attribute__((noinline)) int pong(int n);
        __attribute__((noinline)) int
        ping(int n)
        {
            char buf[64];
            kernel_fill(buf);
            return n > 0 ? pong(n - 1) + buf[1] : 0;
        }
        __attribute__((noinline)) int
        pong(int n)
        {
            char buf[64];
            kernel_fill(buf);
            return n > 0 ? ping(n - 1) + buf[2] : 0;
        }
        static int (*const entry)(int) __attribute__((used)) = ping;
        """

    def test_deep_call_chain_fails(self):
        obj = self.build("deep", self.DEEP)
        out = self.assertFails(obj, "[f] call chain of", "chain_entry",
                               "--stack-limit", "4096")
        self.assertRegex(out, r"\b1\d{4}\s+chain_entry: 4 frames")
        for name in ("chain_b", "chain_c", "chain_d"):
            self.assertRegex(out, r"\s25\d\d\s+" + name)
        self.assertNotIn("[d]", out.split("== FAIL", 1)[1])

    def test_max_depth_option(self):
        out = self.assertPasses(self.build("deep2", self.DEEP), "--stack-limit", "4096",
                                "--max-depth", "16384")
        self.assertIn("limit 16384 bytes", out)

    def test_recursion_fails(self):
        out = self.assertFails(self.build("cycle", self.CYCLE), "[f] recursion", "ping")
        self.assertRegex(out, r"VIOLATION recursion: (ping > pong > ping|pong > ping > pong)")

    def test_bounded_recursion_allowlist(self):
        allow = self.write("rec-allow.txt", "# bounded\nping\t10\tn <= 10\npong\t10\tn <= 10\n")
        out = self.assertPasses(self.build("cycle2", self.CYCLE), "--recursion-allow", allow)
        self.assertRegex(out, r"recursion allowed, counted as 10 levels of \d+ bytes")
        # Ten trips around a cycle of two ~100-byte frames: over 1 KiB.
        m = re.search(r"^\s+(\d+)\s+ping: ", out, re.M)
        self.assertTrue(m and int(m.group(1)) > 1500, out)

    def test_address_taken_shim_functions_are_the_entries(self):
        # With --shim-object, the entry points are the shim's functions the
        # kernel gets a pointer to, not its other globals.
        shim = self.build("shimdeep", self.DEEP + """\
            int other(int n) { return n; }
            static int (*const handler)(int) __attribute__((used)) = chain_c;
            """)
        out = self.assertPasses(shim, "--stack-limit", "4096", "--shim-object", shim)
        self.assertIn("from 1 entry points (the shim's functions whose address is taken)", out)
        self.assertRegex(out, r"\b5\d{3}\s+chain_c: 2 frames")

    # --- input errors --------------------------------------------------------

    def test_not_an_object_is_an_error(self):
        path = self.write("notelf.o", "hello\n")
        rc, out = self.audit(path)
        self.assertEqual(rc, 2, out)
        self.assertIn("not an ELF file", out)



# --- arm64 -------------------------------------------------------------------

def _zig():
    try:
        import ziglang  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-m", "ziglang"]


def _llvm_objdump():
    for name in ["llvm-objdump"] + [f"llvm-objdump-{v}" for v in range(22, 13, -1)]:
        if shutil.which(name):
            return name
    return None


# kern.mk's arm64 code generation as zig cc takes it: no FP/SIMD, x18
# reserved (its -mcpu features; zig drops -mgeneral-regs-only and
# -ffixed-x18), PIC as for kmod.mk's shared modules.
A64_CPU = "-mcpu=generic+reserve_x18-neon-fp_armv8"
A64FLAGS = ["-O2", "-ffreestanding", "-fPIC", "-fno-stack-protector",
            "-fno-asynchronous-unwind-tables", "-fno-common", "-fstack-size-section"]


@unittest.skipUnless(_zig() and _llvm_objdump(),
                     "arm64 audit tests skipped: need the ziglang wheel (pip install ziglang: "
                     "zig cc, ld.lld) and llvm-objdump (Debian: llvm-14)")
class Arm64AuditTest(unittest.TestCase):
    """The arm64 rules, on aarch64 objects built by zig cc and linked by
    the wheel's ld.lld as kmod.mk links an arm64 module (ld -r, then ld
    -Bshareable): one planted violation of each rule."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kbuild-audit-arm64-")
        cls.headers = os.path.join(cls.tmp, "include")
        os.makedirs(os.path.join(cls.headers, "sys"))
        with open(os.path.join(cls.headers, "sys", "kern.h"), "w") as f:
            f.write(KERNEL_HEADER)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def compile(self, name, source, cpu=A64_CPU):
        src = os.path.join(self.tmp, f"{name}.c")
        obj = os.path.join(self.tmp, f"{name}.o")
        with open(src, "w") as f:
            f.write(textwrap.dedent(source))
        subprocess.run(_zig() + ["cc", "-target", "aarch64-freebsd", cpu, *A64FLAGS,
                                 "-I", self.headers, "-c", "-o", obj, src], check=True)
        return obj

    def module(self, name, source, cpu=A64_CPU):
        """The object as kmod.mk makes an arm64 .ko: ld -r -d, ld -Bshareable."""
        obj = self.compile(name, source, cpu)
        kld = os.path.join(self.tmp, f"{name}.kld")
        ko = os.path.join(self.tmp, f"{name}.ko")
        ld = _zig() + ["ld.lld", "-m", "aarch64elf"]
        subprocess.run(ld + ["-r", "-d", "-o", kld, obj], check=True)
        subprocess.run(ld + ["-Bshareable", "-z", "notext", "-z", "norelro", "-d",
                             "-o", ko, kld], check=True)
        return ko

    def audit(self, obj, *extra):
        p = subprocess.run([sys.executable, AUDIT, obj, "--headers", self.headers,
                            "--objdump-aarch64", _llvm_objdump(), *extra],
                           capture_output=True, text=True)
        return p.returncode, p.stdout + p.stderr

    def assertPasses(self, obj, *extra):
        rc, out = self.audit(obj, *extra)
        self.assertEqual(rc, 0, out)
        self.assertIn("== OK", out)
        return out

    def assertFails(self, obj, check, what, *extra):
        rc, out = self.audit(obj, *extra)
        self.assertEqual(rc, 1, out)
        failures = out.split("== FAIL", 1)[1]
        self.assertIn(check, failures, out)
        self.assertIn(what, failures, out)
        return out

    CLEAN = AuditTest.CLEAN

    def test_arm64_clean_module_passes(self):
        out = self.assertPasses(self.module("clean", self.CLEAN))
        self.assertIn("ELF64 AArch64 shared object", out)
        self.assertRegex(out, r"kernel_fn\s+GLOBAL\s+declared in include/sys/kern.h")
        self.assertRegex(out, r"R_AARCH64_JUMP_SLOT\s+\d+\s+ok")
        self.assertRegex(out, r"R_AARCH64_GLOB_DAT\s+\d+\s+ok")
        self.assertIn("none outside the allowlist", out)
        self.assertIn("x18 (the per-CPU pointer) written: nowhere", out)
        self.assertRegex(out, r"\d+\s+stack_sizes\s+clean")

    def test_arm64_clean_relocatable_passes(self):
        out = self.assertPasses(self.compile("cleanrel", self.CLEAN))
        self.assertIn("ELF64 AArch64 relocatable", out)
        self.assertRegex(out, r"R_AARCH64_CALL26\s+\d+\s+ok")

    # [a]
    def test_arm64_undeclared_symbol_fails(self):
        ko = self.module("undecl", """\
            extern void not_in_the_kernel(void);
            void f(void) { not_in_the_kernel(); }
            """)
        self.assertFails(ko, "[a] undefined symbol not_in_the_kernel", "declared in no header")

    # [b]
    def test_arm64_tls_dynamic_relocation_fails(self):
        # Thread-local storage: a TLSDESC relocation, which link_elf does
        # not apply ("kldload: unexpected relocation type").
        ko = self.module("tls", """\
            __thread int per_thread;
            int f(void) { return per_thread; }
            """)
        self.assertFails(ko, "[b]", "R_AARCH64_TLSDESC relocations (arm64 link_elf accepts only")

    def test_arm64_abs32_in_relocatable_fails(self):
        # A 32-bit absolute address of a kernel symbol: no dynamic form.
        obj = self.compile("abs32", """\
            #include <sys/kern.h>
            __asm__(".data\\n.globl p32\\np32: .word kernel_var\\n.text\\n");
            """)
        self.assertFails(obj, "[b]", "R_AARCH64_ABS32 relocations")

    # [c]
    def test_arm64_fp_simd_fails(self):
        ko = self.module("fp", """\
            double scale(double a, double b) { return a * b; }
            """, cpu="-mcpu=generic")
        self.assertFails(ko, "[c]", "scale")

    def test_arm64_fpu_allowlist_passes(self):
        ko = self.module("fpok", """\
            double under_fpu_kern(double a, double b) { return a * b; }
            """, cpu="-mcpu=generic")
        allow = os.path.join(self.tmp, "fpu-allow.txt")
        with open(allow, "w") as f:
            f.write("under_fpu_kern\n")
        self.assertPasses(ko, "--fpu-allow", allow)

    def test_arm64_x18_write_fails(self):
        ko = self.module("x18", """\
            void clobber(void) { __asm__ volatile("mov x18, #0"); }
            """)
        self.assertFails(ko, "[c]", "write x18")

    # [d]
    def test_arm64_big_frame_fails(self):
        ko = self.module("big", """\
            #include <sys/kern.h>
            void big(void) { char buf[4096]; kernel_fill(buf); }
            """)
        out = self.assertFails(ko, "[d] stack frame of", "big")
        self.assertRegex(out, r"4\d{3}\s+stack_sizes\s+big\s+VIOLATION")

    # [f]
    def test_arm64_deep_call_chain_fails(self):
        ko = self.module("deep", """\
            #include <sys/kern.h>
            static __attribute__((noinline)) void leaf(void) { char b[1900]; kernel_fill(b); }
            static __attribute__((noinline)) void mid(void) { char b[1900]; kernel_fill(b); leaf(); kernel_fill(b); }
            void top(void) { char b[1900]; kernel_fill(b); mid(); kernel_fill(b); }
            """)
        out = self.assertFails(ko, "[f] call chain of", "top", "--max-depth", "4096")
        self.assertRegex(out, r"top: 3 frames")


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
"""Audits an amd64 or arm64 ELF object meant for FreeBSD's kldload.

The object is what the kernel linker loads: if_wg.ko itself, or the Rust
core alone (`ld -r` of libwg_ffi.a, localised as kmod.mk localises a
module). The machine comes from the ELF header. On amd64 a module is a
relocatable (ET_REL, link_elf_obj); on arm64 kmod.mk links it as a shared
object (`ld -Bshareable` of the `ld -r` output, loaded by link_elf), and
the rules follow (ARM64 below). The checks, each printed in full, then one
verdict line:

  [a] undefined symbols: each must be declared in a header under one of the
      --headers directories (the kernel's, and the project's sys/ for the
      wg_host_* services the shim provides), or be listed with a reason in
      --allow-undefined. Undefined weak symbols fail (link_elf_obj: "Weak
      symbols not supported"), except __start_<s>/__stop_<s> of a section
      <s> the object has: link_elf_obj binds those to the section's bounds
      (link_elf_fix_link_set), which is how linker sets (SYSINIT,
      MODULE_DEPEND, VNET_SYSINIT...) are found in a module.
  [b] relocation types in loaded (SHF_ALLOC) sections: only those amd64's
      elf_reloc_internal (sys/amd64/amd64/elf_machdep.c) applies. Tables of
      unloaded sections (.debug_*, .stack_sizes) are skipped by
      link_elf_obj, and are counted here but not judged.
  [c] no x87/MMX/SSE/AVX instruction or register outside functions listed
      in --fpu-allow (code that runs between fpu_kern_enter/leave), and
      every entry there names a function that has one (exact both ways).
  [d] the largest stack frames, from LLVM's .stack_sizes section when the
      object has one (-Zemit-stack-sizes) and from the prologues otherwise;
      any frame over --stack-limit bytes fails.
  [e] with --shim-object (the shim's own object, before the module link):
      every symbol the shim leaves undefined is still undefined in the
      audited object, or defined by a shim object, or is one of the core's
      exports (--core-export patterns, which must be defined). Anything
      else means a
      definition linked in beside the shim (the Rust staticlib, its
      compiler_builtins and libm) captured a name the shim meant for the
      kernel: ld binds the call to it and kldload never sees the name (a
      weak hidden `log(double)` took the shim's call to log(9) once).
  [f] the deepest call chain from each entry point, frames ([d]) summed
      along direct calls (a tail call's frame replaces its caller's);
      over --max-depth bytes fails. Entry points: with --shim-object, the
      shim's functions whose address is taken (what the kernel calls
      through pointers: ifnet methods, the UDP tunnel callback, tasks,
      callouts, the cloner, the module handler); otherwise the global
      functions and every address-taken one. The core's indirect calls
      may reach any of its address-taken functions; the shim's go to the
      kernel, whose frames (and calls into it) are not counted: hence the
      margin below the 16 KiB stack. A cycle (recursion) fails unless each
      of its functions is in --recursion-allow with a level bound, which
      is then counted. Audit a whole module with --shim-object: without
      it the shim's indirect calls (to the kernel) are also sent to every
      address-taken function, the shim's own among them, and close cycles
      that do not exist (wg_clone_create > wg_core_dev_create > ...).

ARM64 (EM_AARCH64): [b] on the shared .ko, its dynamic relocations must
be of the types arm64's elf_reloc_internal (sys/arm64/arm64/elf_machdep.c)
applies: NONE, ABS64, GLOB_DAT, JUMP_SLOT, RELATIVE, IRELATIVE; on a
relocatable (the core alone, before the module link), its relocations in
loaded sections must be ones `ld -Bshareable` resolves inside the module
or turns into those (no TLS, no absolute 32/16-bit data, no MOVW
absolutes). [c] no FP/SIMD register (v/q/d/s/h/b0-31, fpcr, fpsr) outside
--fpu-allow: kern.mk builds with -mgeneral-regs-only and the kernel saves
them only in fpu_kern_enter; and no write to x18, the kernel's per-CPU
pointer (kern.mk's -ffixed-x18). [d]/[f] as above from .stack_sizes (LLVM's
sizes include the saved x29/x30, nothing is added) or the prologue (`stp
x29, x30, [sp, #-N]!`, `sub sp, sp, #N`); calls are bl/b, indirect calls
blr/br, an address taken is a data relocation or an adrp+add pair. The
disassembler is llvm-objdump (--objdump-aarch64, or OBJDUMP_AARCH64;
Debian's binutils know x86 only).

Exit status: 0 clean, 1 violations, 2 could not audit (bad input, tool
missing). Only python3's standard library and binutils' objdump are used;
the ELF tables are read directly.
"""

import argparse
import bisect
import fnmatch
import os
import re
import struct
import subprocess
import sys
from collections import Counter, defaultdict

# --- ELF ------------------------------------------------------------------

EM_X86_64 = 62
EM_AARCH64 = 183
ET_REL, ET_DYN = 1, 3
SHT_SYMTAB, SHT_RELA, SHT_REL, SHT_DYNSYM = 2, 4, 9, 11
SHF_ALLOC = 0x2
SHN_UNDEF, SHN_ABS, SHN_COMMON, SHN_XINDEX = 0, 0xFFF1, 0xFFF2, 0xFFFF
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_FUNC, STT_SECTION = 2, 3

# R_X86_64_* numbers and names (the psABI's).
X86_64_RELOCS = {
    0: "R_X86_64_NONE", 1: "R_X86_64_64", 2: "R_X86_64_PC32",
    3: "R_X86_64_GOT32", 4: "R_X86_64_PLT32", 5: "R_X86_64_COPY",
    6: "R_X86_64_GLOB_DAT", 7: "R_X86_64_JUMP_SLOT", 8: "R_X86_64_RELATIVE",
    9: "R_X86_64_GOTPCREL", 10: "R_X86_64_32", 11: "R_X86_64_32S",
    12: "R_X86_64_16", 13: "R_X86_64_PC16", 14: "R_X86_64_8",
    15: "R_X86_64_PC8", 16: "R_X86_64_DTPMOD64", 17: "R_X86_64_DTPOFF64",
    18: "R_X86_64_TPOFF64", 19: "R_X86_64_TLSGD", 20: "R_X86_64_TLSLD",
    21: "R_X86_64_DTPOFF32", 22: "R_X86_64_GOTTPOFF", 23: "R_X86_64_TPOFF32",
    24: "R_X86_64_PC64", 25: "R_X86_64_GOTOFF64", 26: "R_X86_64_GOTPC32",
    27: "R_X86_64_GOT64", 28: "R_X86_64_GOTPCREL64", 29: "R_X86_64_GOTPC64",
    30: "R_X86_64_GOTPLT64", 31: "R_X86_64_PLTOFF64", 32: "R_X86_64_SIZE32",
    33: "R_X86_64_SIZE64", 34: "R_X86_64_GOTPC32_TLSDESC",
    35: "R_X86_64_TLSDESC_CALL", 36: "R_X86_64_TLSDESC",
    37: "R_X86_64_IRELATIVE", 38: "R_X86_64_RELATIVE64",
    41: "R_X86_64_GOTPCRELX", 42: "R_X86_64_REX_GOTPCRELX",
}

# What amd64 elf_reloc_internal() handles; anything else makes kldload fail
# with "unexpected relocation type" (R_X86_64_COPY: "unexpected R_COPY").
AMD64_KLD_ACCEPTED = {0, 1, 2, 4, 11, 6, 7, 8, 37}


# R_AARCH64_* numbers and names (ELF for the Arm 64-bit Architecture).
AARCH64_RELOCS = {
    0: "R_AARCH64_NONE", 257: "R_AARCH64_ABS64", 258: "R_AARCH64_ABS32",
    259: "R_AARCH64_ABS16", 260: "R_AARCH64_PREL64", 261: "R_AARCH64_PREL32",
    262: "R_AARCH64_PREL16", 263: "R_AARCH64_MOVW_UABS_G0",
    264: "R_AARCH64_MOVW_UABS_G0_NC", 265: "R_AARCH64_MOVW_UABS_G1",
    266: "R_AARCH64_MOVW_UABS_G1_NC", 267: "R_AARCH64_MOVW_UABS_G2",
    268: "R_AARCH64_MOVW_UABS_G2_NC", 269: "R_AARCH64_MOVW_UABS_G3",
    273: "R_AARCH64_LD_PREL_LO19", 274: "R_AARCH64_ADR_PREL_LO21",
    275: "R_AARCH64_ADR_PREL_PG_HI21", 276: "R_AARCH64_ADR_PREL_PG_HI21_NC",
    277: "R_AARCH64_ADD_ABS_LO12_NC", 278: "R_AARCH64_LDST8_ABS_LO12_NC",
    279: "R_AARCH64_TSTBR14", 280: "R_AARCH64_CONDBR19", 282: "R_AARCH64_JUMP26",
    283: "R_AARCH64_CALL26", 284: "R_AARCH64_LDST16_ABS_LO12_NC",
    285: "R_AARCH64_LDST32_ABS_LO12_NC", 286: "R_AARCH64_LDST64_ABS_LO12_NC",
    299: "R_AARCH64_LDST128_ABS_LO12_NC", 309: "R_AARCH64_GOTREL64",
    311: "R_AARCH64_ADR_GOT_PAGE", 312: "R_AARCH64_LD64_GOT_LO12_NC",
    1024: "R_AARCH64_COPY", 1025: "R_AARCH64_GLOB_DAT", 1026: "R_AARCH64_JUMP_SLOT",
    1027: "R_AARCH64_RELATIVE", 1028: "R_AARCH64_TLS_DTPMOD64",
    1029: "R_AARCH64_TLS_DTPREL64", 1030: "R_AARCH64_TLS_TPREL64",
    1031: "R_AARCH64_TLSDESC", 1032: "R_AARCH64_IRELATIVE",
}
AARCH64_RELOCS.update({t: f"R_AARCH64_TLS*({t})" for t in range(512, 571)
                       if t not in AARCH64_RELOCS})

# What arm64's elf_reloc_internal() applies to a module (link_elf, a shared
# object); anything else: "kldload: unexpected relocation type".
ARM64_KLD_ACCEPTED = {0, 257, 1025, 1026, 1027, 1032}
# In a relocatable (before kmod.mk's `ld -Bshareable`): what that link
# resolves inside the module (PC-relative, calls through the PLT, GOT
# entries) or turns into the accepted dynamic types (ABS64: RELATIVE or
# ABS64). Not TLS (the kernel has none), not ABS32/ABS16/MOVW_UABS (no
# dynamic form on arm64), not COPY.
ARM64_LINK_RESOLVED = {0, 257, 260, 261, 262, 273, 274, 275, 276, 277, 278, 279, 280,
                       282, 283, 284, 285, 286, 299, 311, 312}


class AuditError(Exception):
    """The object could not be audited (as opposed to failing the audit)."""


class Section:
    __slots__ = ("index", "name", "type", "flags", "addr", "offset", "size", "link",
                 "info", "entsize")


class Symbol:
    __slots__ = ("index", "name", "value", "size", "bind", "type", "shndx")


class Elf:
    """Just enough of an ELF64 little-endian relocatable for the audit."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = data = f.read()
        if data[:4] != b"\x7fELF":
            raise AuditError(f"{path}: not an ELF file")
        if data[4] != 2 or data[5] != 1:
            raise AuditError(f"{path}: not ELF64 little-endian")
        (self.e_type, self.e_machine) = struct.unpack_from("<HH", data, 16)
        (e_shoff,) = struct.unpack_from("<Q", data, 0x28)
        e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", data, 0x3A)
        if e_shnum == 0 and e_shoff:
            # More than 0xff00 sections: the count lives in section 0.
            (e_shnum,) = struct.unpack_from("<Q", data, e_shoff + 0x20)
        if e_shstrndx == SHN_XINDEX:
            (e_shstrndx,) = struct.unpack_from("<I", data, e_shoff + 0x28)
        self.sections = []
        for i in range(e_shnum):
            o = e_shoff + i * e_shentsize
            s = Section()
            (s.name, s.type, s.flags, s.addr, s.offset, s.size, s.link, s.info,
             _align, s.entsize) = struct.unpack_from("<IIQQQQIIQQ", data, o)
            s.index = i
            self.sections.append(s)
        shstr = self.sections[e_shstrndx]
        for s in self.sections:
            s.name = self._str(shstr, s.name)
        self.symbols = self._symbols()
        # A linked object's dynamic relocations index .dynsym.
        dyn = [s for s in self.sections if s.type == SHT_DYNSYM]
        self.dynsyms = self._read_symbols(dyn[0]) if dyn else []

    def reloc_symbols(self, relsec):
        """The symbol table a relocation section indexes (sh_link)."""
        if relsec.link < len(self.sections) and self.sections[relsec.link].type == SHT_DYNSYM:
            return self.dynsyms
        return self.symbols

    @property
    def arm64(self):
        return self.e_machine == EM_AARCH64

    def section_at(self, addr):
        """The loaded section holding a (linked object's) address."""
        for s in self.sections:
            if s.flags & SHF_ALLOC and s.addr <= addr < s.addr + max(s.size, 1):
                return s
        return None

    def _str(self, strsec, off):
        start = strsec.offset + off
        end = self.data.index(b"\0", start)
        return self.data[start:end].decode("utf-8", "replace")

    def _symbols(self):
        tabs = [s for s in self.sections if s.type == SHT_SYMTAB]
        if len(tabs) != 1:
            # link_elf_obj: "Only allow one symbol table for now".
            raise AuditError(f"expected one symbol table, found {len(tabs)}")
        return self._read_symbols(tabs[0])

    def _read_symbols(self, tab):
        strsec = self.sections[tab.link]
        out = []
        for i in range(tab.size // 24):
            name, info, _other, shndx, value, size = struct.unpack_from(
                "<IBBHQQ", self.data, tab.offset + i * 24)
            sym = Symbol()
            sym.index = i
            sym.name = self._str(strsec, name) if name else ""
            sym.value, sym.size, sym.shndx = value, size, shndx
            sym.bind, sym.type = info >> 4, info & 0xF
            if sym.type == STT_SECTION and not sym.name and shndx < len(self.sections):
                sym.name = self.sections[shndx].name
            out.append(sym)
        return out

    def relocations(self, sec):
        """(offset, type, symbol index, addend) of a REL/RELA section."""
        data = self.data
        if sec.type == SHT_RELA:
            for o in range(sec.offset, sec.offset + sec.size, 24):
                off, info, addend = struct.unpack_from("<QQq", data, o)
                yield off, info & 0xFFFFFFFF, info >> 32, addend
        else:
            for o in range(sec.offset, sec.offset + sec.size, 16):
                off, info = struct.unpack_from("<QQ", data, o)
                yield off, info & 0xFFFFFFFF, info >> 32, None

    def contents(self, sec):
        return self.data[sec.offset:sec.offset + sec.size]


# --- helpers ---------------------------------------------------------------

def demangle(names):
    """Mangled -> readable, through c++filt (Rust v0 and legacy, C++)."""
    names = sorted(set(names))
    if not names:
        return {}
    try:
        out = subprocess.run(["c++filt"], input="\n".join(names) + "\n",
                             capture_output=True, text=True, check=True).stdout
        res = out.split("\n")
        if len(res) >= len(names):
            return dict(zip(names, res))
    except (OSError, subprocess.CalledProcessError):
        pass
    return {n: n for n in names}


def short(name, width=110):
    return name if len(name) <= width else name[:width - 3] + "..."


def read_list(path, need_reason):
    """Lines of `name [reason]`; '#' starts a comment. Returns {name: reason}."""
    entries = {}
    if not path:
        return entries
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip() if not need_reason else line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 1)
            reason = parts[1].strip() if len(parts) > 1 else ""
            if need_reason and not reason:
                raise AuditError(f"{path}:{n}: '{parts[0]}' has no reason")
            entries[parts[0]] = reason
    return entries


# --- [a] undefined symbols ---------------------------------------------------

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_PREPROC = re.compile(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", re.M)


def header_declarations(names, dirs):
    """{name: header path} for names declared as a function or an object.

    A name counts as declared where, outside comments and preprocessor
    lines (so a macro such as `#define bcmp(...) memcmp(...)` does not
    count), it is followed by `(`, `[` or `;`: a prototype, an array or an
    `extern` object. A heuristic, but one that a symbol the kernel does not
    have will not pass by accident."""
    found = {}
    if not names or not dirs:
        return found
    pat = re.compile(r"(?<![\w.>$])(" + "|".join(map(re.escape, sorted(names)))
                     + r")\s*[(\[;]")
    quick = [n.encode() for n in names]
    for d in dirs:
        for root, subdirs, files in os.walk(d):
            subdirs.sort()
            for fn in sorted(files):
                if not fn.endswith(".h"):
                    continue
                path = os.path.join(root, fn)
                try:
                    with open(path, "rb") as f:
                        raw = f.read()
                except OSError:
                    continue
                if not any(q in raw for q in quick):
                    continue
                text = raw.decode("utf-8", "replace")
                text = _PREPROC.sub("", _COMMENT.sub(" ", text))
                for m in pat.finditer(text):
                    found.setdefault(m.group(1), []).append(path)
    # Name the most telling header: a kernel one (sys/) first, then the
    # shortest path.
    return {n: min(ps, key=lambda p: ("/sys/" not in p, len(p), p))
            for n, ps in found.items()}


def check_undefined(elf, args, report, fail):
    und = [s for s in elf.symbols[1:] if s.shndx == SHN_UNDEF and s.name
           and s.type != STT_SECTION]
    commons = [s for s in elf.symbols[1:] if s.shndx == SHN_COMMON]
    allow = read_list(args.allow_undefined, need_reason=True)
    names = {s.name for s in und}
    decl = header_declarations(names - set(allow), args.headers)
    report(f"-- [a] undefined symbols: {len(und)}"
           f" (headers: {len(args.headers)} dirs; allowlist: {len(allow)} entries)")
    width = max([len(s.name) for s in und] + [10])
    section_names = {sec.name for sec in elf.sections}
    for s in sorted(und, key=lambda s: s.name):
        bind = {STB_GLOBAL: "GLOBAL", STB_WEAK: "WEAK", STB_LOCAL: "LOCAL"}.get(s.bind, str(s.bind))
        bounds = linker_set_section(s.name)
        if bounds is not None and bounds in section_names:
            why, bad = f"bound by link_elf_obj to section {bounds}", False
        elif s.bind == STB_WEAK:
            why, bad = "VIOLATION: undefined weak (link_elf_obj cannot resolve it)", True
        elif s.bind == STB_LOCAL:
            why, bad = "VIOLATION: undefined local symbol", True
        elif s.name in decl:
            why, bad = "declared in " + rel_header(decl[s.name], args.headers), False
        elif s.name in allow:
            why, bad = "allowlisted: " + allow[s.name], False
        else:
            why, bad = "VIOLATION: declared in no header given, not allowlisted", True
        report(f"   {s.name:<{width}}  {bind:<6}  {why}")
        if bad:
            fail(f"[a] undefined symbol {s.name}: {why.split(': ', 1)[1]}")
    for s in commons:
        report(f"   {s.name}  COMMON  VIOLATION: common symbol (build with -fno-common)")
        fail(f"[a] common symbol {s.name}")
    unused = sorted(set(allow) - names)
    if unused:
        report(f"   (allowlist entries not needed by this object: {', '.join(unused)})")
    exported = sorted(s.name for s in elf.symbols[1:]
                      if s.shndx not in (SHN_UNDEF, SHN_COMMON) and s.bind != STB_LOCAL
                      and s.type != STT_SECTION)
    report(f"   defined globals: {len(exported)}"
           + (": " + " ".join(exported) if len(exported) <= 40 else " (more than 40, not listed)"))


def linker_set_section(name):
    """The section whose bounds a __start_/__stop_ symbol names, if any."""
    for prefix in ("__start_", "__stop_"):
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix):]
    return None


def rel_header(path, dirs):
    for d in dirs:
        d = os.path.abspath(d)
        p = os.path.abspath(path)
        if p.startswith(d + os.sep):
            return os.path.join(os.path.basename(d), os.path.relpath(p, d))
    return path


# --- [b] relocations ---------------------------------------------------------

def check_relocations(elf, args, report, fail):
    if elf.arm64:
        names = AARCH64_RELOCS
        if elf.e_type == ET_DYN:
            accepted, who = ARM64_KLD_ACCEPTED, "arm64 link_elf accepts only"
        else:
            accepted, who = ARM64_LINK_RESOLVED, "ld -Bshareable makes into what arm64 link_elf accepts only"
        prefix = 10
    else:
        names, accepted, who, prefix = X86_64_RELOCS, AMD64_KLD_ACCEPTED, "amd64 link_elf_obj accepts only", 9
    loaded, skipped = Counter(), Counter()
    skipped_secs = set()
    examples = defaultdict(list)
    for sec in elf.sections:
        if sec.type not in (SHT_RELA, SHT_REL):
            continue
        target = elf.sections[sec.info]
        is_loaded = bool(target.flags & SHF_ALLOC)
        if elf.e_type == ET_DYN:
            # .rela.dyn, .rela.plt: what the kernel linker applies.
            is_loaded = bool(sec.flags & SHF_ALLOC)
            target = sec
        for off, rtype, symi, _addend in elf.relocations(sec):
            if is_loaded:
                loaded[rtype] += 1
                if rtype not in accepted and len(examples[rtype]) < args.examples:
                    syms = elf.reloc_symbols(sec)
                    sym = syms[symi].name if symi < len(syms) else f"#{symi}"
                    examples[rtype].append(f"{target.name}+{off:#x} -> {sym}")
            else:
                skipped[rtype] += 1
                skipped_secs.add(re.sub(r"^(\.debug)_.*", r"\1_*", target.name))
    report(f"-- [b] relocation types in loaded sections: {sum(loaded.values())} relocations")
    for rtype, n in sorted(loaded.items()):
        name = names.get(rtype, f"type {rtype}")
        ok = rtype in accepted
        report(f"   {name:<24} {n:>7}  {'ok' if ok else 'VIOLATION: kldload rejects it'}")
        if not ok:
            for e in examples[rtype]:
                report(f"      at {short(e)}")
            fail(f"[b] {n} {name} relocations ({who} "
                 + ", ".join(names[t][prefix:] for t in sorted(accepted)) + ")")
    if skipped:
        kinds = ", ".join(f"{names.get(t, t)} {n}" for t, n in sorted(skipped.items()))
        report(f"   not loaded, not judged: {sum(skipped.values())} relocations of "
               f"{', '.join(sorted(skipped_secs))} ({kinds})")


# --- disassembly -------------------------------------------------------------

_FUNC = re.compile(r"^([0-9a-f]+) <(.+)>:$")
_INSN = re.compile(r"^\s*([0-9a-f]+):\s*\t(.*)$")
_SECTION = re.compile(r"^Disassembly of section (.+):$")
_PREFIXES = {"cs", "ds", "es", "fs", "gs", "ss", "data16", "data32", "addr32",
             "lock", "rep", "repz", "repe", "repnz", "repne", "notrack", "bnd",
             "xacquire", "xrelease", "rex", "rex.w", "rex.r", "rex.x", "rex.b"}


class Func:
    __slots__ = ("section", "addr", "name", "insns")

    def __init__(self, section, addr, name):
        self.section, self.addr, self.name, self.insns = section, addr, name, []


def aarch64_objdump(args):
    """llvm-objdump for arm64 (binutils' objdump on Debian is x86 only)."""
    if args.objdump_aarch64:
        return args.objdump_aarch64
    for name in ["llvm-objdump"] + [f"llvm-objdump-{v}" for v in range(22, 13, -1)]:
        found = shutil_which(name)
        if found:
            return found
    raise AuditError("arm64 object: llvm-objdump not found (Debian: apt-get install llvm-14)")


def shutil_which(name):
    import shutil
    return shutil.which(name)


def disassemble(path, objdump, arm64=False):
    try:
        out = subprocess.run([objdump, "-d", "-w", "--no-show-raw-insn", path],
                             capture_output=True, text=True, check=True).stdout
    except FileNotFoundError:
        raise AuditError(f"{objdump} not found (binutils)")
    except subprocess.CalledProcessError as e:
        raise AuditError(f"objdump failed: {e.stderr.strip()}")
    funcs, section, cur = [], None, None
    for line in out.splitlines():
        m = _INSN.match(line)
        if m and cur is not None:
            text = (m.group(2).split("//", 1)[0] if arm64 else m.group(2).split("#", 1)[0]).strip()
            toks = text.split(None, 1)
            while toks and toks[0].lower() in _PREFIXES:
                toks = toks[1].split(None, 1) if len(toks) > 1 else []
            if toks:
                cur.insns.append((int(m.group(1), 16), toks[0], toks[1] if len(toks) > 1 else "", text))
            continue
        m = _FUNC.match(line)
        if m:
            cur = Func(section, int(m.group(1), 16), m.group(2))
            funcs.append(cur)
            continue
        m = _SECTION.match(line)
        if m:
            section, cur = m.group(1), None
    return funcs


# --- [c] FPU / SIMD ----------------------------------------------------------

_FPU_REG = re.compile(r"%(?:[xyz]mm\d+|mm\d|st\b|st\(\d\)|k[0-7]\b|mxcsr)")
_FPU_MNEMONIC = re.compile(
    r"^(?:f\w+|emms|femms|ldmxcsr|stmxcsr|vldmxcsr|vstmxcsr|vzeroupper|vzeroall"
    r"|xsave\w*|xrstor\w*|kmov\w|kand\w+|kor\w+|kxor\w+|knot\w|kshift\w+|ktest\w|kortest\w)$")


# arm64: the FP/SIMD registers under their every name, and the FP
# control/status registers (mrs/msr). Symbol annotations (<...>) are
# dropped first: a function may be called d0.
_A64_FPU_REG = re.compile(r"(?<![\w.])(?:[vqdshb](?:[12]?[0-9]|3[01])(?:\.\w+)?|fpcr|fpsr)\b", re.I)
_ANNOT = re.compile(r"<[^>]*>")


def fpu_use(insn, arm64=False):
    mnemonic, operands = insn[1], insn[2]
    if arm64:
        return bool(_A64_FPU_REG.search(_ANNOT.sub("", operands)))
    return bool(_FPU_REG.search(operands) or _FPU_MNEMONIC.match(mnemonic.lower()))


# Rust v0 demangling names each crate with a hash ("wg_aead[33b81ae34485d7db]")
# that changes with the compiler and the crate's metadata; the allowlist
# names functions without it.
_CRATE_HASH = re.compile(r"\[[0-9a-f]{16}\]")


def fpu_names(f, names):
    """The names an allowlist entry may match: symbol, demangled, unhashed."""
    demangled = names.get(f.name, "")
    return [f.name, demangled, _CRATE_HASH.sub("", demangled)]


def check_fpu(funcs, names, args, report, fail, arm64=False):
    allow = read_list(args.fpu_allow, need_reason=False)

    def entries_of(f):
        return [p for p in allow if any(fnmatch.fnmatchcase(n, p) for n in fpu_names(f, names))]

    # Exact both ways: every function with an FPU/SIMD instruction is
    # listed, and every entry names at least one such function (an entry
    # left over from code that is gone, or that no longer uses vector
    # registers, would silently allow whatever next takes its name).
    hits = []
    allowed_hits = 0
    used = set()
    for f in funcs:
        bad = [i for i in f.insns if fpu_use(i, arm64)]
        if not bad:
            continue
        matched = entries_of(f)
        if matched:
            used.update(matched)
            allowed_hits += 1
            continue
        hits.append((f, bad))
    stale = [p for p in allow if p not in used]
    ninsn = sum(len(f.insns) for f in funcs)
    report(f"-- [c] FPU/SIMD instructions: {len(funcs)} functions, {ninsn} instructions, "
           f"fpu_kern allowlist: {len(allow)} entries")
    if allowed_hits:
        report(f"   {allowed_hits} allowlisted functions use FPU/SIMD (between fpu_kern_enter/leave)")
    if not hits:
        report("   none outside the allowlist")
    for f, bad in hits[:args.examples * 4]:
        report(f"   VIOLATION {short(names.get(f.name, f.name))}: {len(bad)} instructions,"
               f" first at {f.section}+{bad[0][0]:#x}: {bad[0][3]}")
    if arm64:
        check_x18(funcs, names, args, report, fail)
    if hits:
        if len(hits) > args.examples * 4:
            report(f"   ... and {len(hits) - args.examples * 4} more functions")
        fail(f"[c] {len(hits)} functions use FPU/SIMD outside fpu_kern_enter "
             f"(first: {short(names.get(hits[0][0].name, hits[0][0].name), 80)})")
    for p in stale:
        report(f"   STALE fpu-allow entry {p}: no function with FPU/SIMD instructions has that name")
    if stale:
        fail(f"[c] {len(stale)} fpu-allow entries name no function with FPU/SIMD "
             f"instructions (first: {stale[0]})")


_A64_NOT_WRITING = ("st", "cmp", "cmn", "tst", "cb", "tb", "ccm", "prfm", "br", "blr",
                    "ret", "msr", "at", "dc", "ic", "tlbi", "sys")


def check_x18(funcs, names, args, report, fail):
    """arm64: x18 is the kernel's per-CPU pointer (kern.mk -ffixed-x18);
    code that writes it (as a destination register) breaks curthread and
    PCPU_GET for everything it calls and returns to."""
    hits = []
    for f in funcs:
        for insn in f.insns:
            regs = _ANNOT.sub("", insn[2]).split(",")
            if (regs and regs[0].strip() in ("x18", "w18")
                    and not insn[1].lower().startswith(_A64_NOT_WRITING)):
                hits.append((f, insn))
                break
    report(f"   x18 (the per-CPU pointer) written: {len(hits) or 'nowhere'}")
    for f, insn in hits[:args.examples * 4]:
        report(f"   VIOLATION {short(names.get(f.name, f.name))} writes x18 at "
               f"{f.section}+{insn[0]:#x}: {insn[3]}")
    if hits:
        fail(f"[c] {len(hits)} functions write x18, the kernel's per-CPU pointer (first: "
             f"{short(names.get(hits[0][0].name, hits[0][0].name), 80)})")


# --- [d] stack frames --------------------------------------------------------

def _imm(operands):
    m = re.match(r"\$(-?0x[0-9a-f]+|-?\d+),", operands)
    if not m:
        return None
    v = int(m.group(1), 0)
    return v - (1 << 64) if v >= 1 << 63 else v


def prologue_frame(f):
    """Bytes below the caller's stack pointer, return address included,
    from the prologue: pushes, `sub $N,%rsp` (LLVM writes small ones as
    `add $-N,%rsp`), inline stack probes (a loop bounded by a register set
    to %rsp - N, LLVM's and gcc's, or unrolled `sub $0x1000,%rsp`). The prologue may come after an early
    exit (shrink-wrapping), so it is the first run of stack adjustments,
    not the first instructions. Returns (bytes, dynamic)."""
    insns = f.insns
    dynamic = any(m == "sub" and ops.endswith(",%rsp") and not ops.startswith("$")
                  for _, m, ops, _t in insns)
    # Loops: a `sub $N,%rsp` inside one is a probing step (bounded by a
    # register, as in __rust_probestack), never a prologue.
    loops = []
    for addr, m, ops, _t in insns:
        if m.startswith("j"):
            t = re.match(r"([0-9a-f]+) <", ops)
            if t and int(t.group(1), 16) <= addr:
                loops.append((int(t.group(1), 16), addr))

    def in_loop(addr):
        return any(lo <= addr <= hi for lo, hi in loops)

    best = 0
    i = 0
    n = len(insns)
    while i < n:
        _, m, ops, _t = insns[i]
        if not (m.startswith("push") or _SP_COPY.match(ops) or _SP_LEA.match(ops)
                or (_is_rsp_alloc(m, ops) and not in_loop(insns[i][0]))):
            i += 1
            continue
        total, in_probe, sp_copy, gap = 0, False, None, 0
        while i < n and gap <= 3:
            addr, m, ops, _t = insns[i]
            i += 1
            lea = _SP_LEA.match(ops) if m.startswith("lea") else None
            if m.startswith("push") and not ops.startswith("$"):
                total += 8 if not m.endswith("w") else 2
                gap = 0
            elif ops == "%rsp,%rbp" and m.startswith("mov"):
                gap = 0
            elif m.startswith("mov") and _SP_COPY.match(ops):
                sp_copy, gap = _SP_COPY.match(ops).group(1), 0
            elif (sp_copy and m.startswith("sub") and ops.endswith("," + sp_copy)
                  and _imm(ops) is not None):
                # LLVM's inline probe loop: %r11 = %rsp - N, then %rsp steps
                # down a page at a time to %r11.
                total += _imm(ops)
                in_probe = True
            elif lea:
                # gcc's -fstack-clash-protection loop: lea -N(%rsp),%r11.
                total += int(lea.group(1), 0)
                in_probe = True
            elif in_probe:
                if m.startswith("j"):
                    in_probe = False
            elif _is_rsp_alloc(m, ops) and in_loop(addr):
                gap += 1
            elif _is_rsp_alloc(m, ops):
                v = _imm(ops)
                total += v if m.startswith("sub") else -v
                gap = 0
            elif m.startswith(("call", "ret", "jmp", "j")):
                break
            else:
                gap += 1
        best = max(best, total)
    return best + 8, dynamic


_A64_PRE = re.compile(r"\[sp, #-(\d+|0x[0-9a-f]+)\]!$")
_A64_SUB = re.compile(r"^sp, sp, #(\d+|0x[0-9a-f]+)(?:, lsl #(\d+))?$")


def prologue_frame_arm64(f):
    """Bytes below the caller's stack pointer from an arm64 prologue:
    pre-indexed stores (`stp x29, x30, [sp, #-N]!`) and `sub sp, sp, #N`
    (with `lsl #12` for large ones), the first run of them (after a
    shrink-wrapped early exit, too). The saved x30 is inside the frame.
    Returns (bytes, dynamic)."""
    dynamic = any(m == "sub" and ops.startswith("sp, sp, ") and "#" not in ops
                  for _, m, ops, _t in f.insns)
    best = total = gap = 0
    for _a, m, ops, _t in f.insns:
        pre = _A64_PRE.search(ops) if m.startswith(("stp", "str")) else None
        sub = _A64_SUB.match(ops) if m == "sub" else None
        if pre:
            total += int(pre.group(1), 0)
            gap = 0
        elif sub:
            total += int(sub.group(1), 0) << int(sub.group(2) or 0)
            gap = 0
        elif total:
            gap += 1
            if gap > 4 or m in ("ret", "bl", "b", "blr", "br"):
                best, total, gap = max(best, total), 0, 0
    return max(best, total), dynamic


_SP_COPY = re.compile(r"^%rsp,(%r\w+)$")
_SP_LEA = re.compile(r"^-(0x[0-9a-f]+|\d+)\(%rsp\),%r11$")


def _is_rsp_alloc(m, ops):
    if not ops.endswith(",%rsp"):
        return False
    v = _imm(ops)
    if v is None:
        return False
    return (m.startswith("sub") and v > 0) or (m.startswith("add") and v < 0)


def _uleb(data, pos):
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos


def stack_sizes(elf):
    """{(section name, address): bytes} from .stack_sizes sections: each
    entry is an 8-byte function address (a relocation against the function
    or its section) and a ULEB128 size. LLVM's size excludes the return
    address; it is added here, as in prologue_frame."""
    out = {}
    for sec in elf.sections:
        if sec.name != ".stack_sizes":
            continue
        rel = {}
        for r in elf.sections:
            if r.type in (SHT_RELA, SHT_REL) and r.info == sec.index:
                for off, _t, symi, addend in elf.relocations(r):
                    rel[off] = (symi, addend)
        data = elf.contents(sec)
        pos = 0
        while pos + 8 <= len(data):
            (addr,) = struct.unpack_from("<Q", data, pos)
            size, nxt = _uleb(data, pos + 8)
            ra = 0 if elf.arm64 else 8
            if pos in rel:
                symi, addend = rel[pos]
                sym = elf.symbols[symi]
                value = sym.value + (addend if addend is not None else addr)
                if sym.shndx < len(elf.sections):
                    out[(elf.sections[sym.shndx].name, value)] = size + ra
            elif elf.e_type == ET_DYN and elf.section_at(addr) is not None:
                # A linked object: the address is final.
                out[(elf.section_at(addr).name, addr)] = size + ra
            pos = nxt
    return out


def frames(elf, funcs):
    """[(bytes, source, dynamic)] of each function of funcs, and the number
    of functions .stack_sizes measured."""
    measured = stack_sizes(elf)
    out = []
    for f in funcs:
        pro, dynamic = prologue_frame_arm64(f) if elf.arm64 else prologue_frame(f)
        llvm = measured.get((f.section, f.addr))
        size = max(pro, llvm or 0)
        src = "stack_sizes" if llvm is not None and llvm >= pro else "prologue"
        out.append((size, src, dynamic))
    return out, len(measured)


def check_stack(elf, funcs, names, args, report, fail, sizes=None):
    if sizes is None:
        sizes = frames(elf, funcs)
    fr, nmeasured = sizes
    rows = [(size, src, dynamic, f) for (size, src, dynamic), f in zip(fr, funcs)]
    rows.sort(key=lambda r: (-r[0], r[3].name))
    src_note = (f".stack_sizes for {nmeasured} functions, prologues for the rest"
                if nmeasured else "prologues (no .stack_sizes section)")
    report(f"-- [d] largest stack frames (limit {args.stack_limit} bytes, "
           f"{'saved x29/x30' if elf.arm64 else 'return address'} included;"
           f" from {src_note})")
    for size, src, dynamic, f in rows[:args.top]:
        flag = "  VIOLATION" if size > args.stack_limit else ""
        dyn = " +dynamic" if dynamic else ""
        report(f"   {size:>7}  {src:<11}{dyn} {short(names.get(f.name, f.name))}{flag}")
    over = [r for r in rows if r[0] > args.stack_limit]
    for size, _src, _d, f in over[args.top:]:
        report(f"   {size:>7}  {short(names.get(f.name, f.name))}  VIOLATION")
    dyn = [r for r in rows if r[2]]
    if dyn:
        report(f"   {len(dyn)} functions also adjust the stack pointer by a register (alloca/VLA):"
               f" {', '.join(short(names.get(r[3].name, r[3].name), 60) for r in dyn[:5])}")
    for size, _src, _d, f in over:
        fail(f"[d] stack frame of {size} bytes > {args.stack_limit}: "
             f"{short(names.get(f.name, f.name), 90)}")


# --- [f] call chains -----------------------------------------------------------

SHF_EXECINSTR = 0x4
# Sections whose relocations name functions without taking their address
# for a call: unwind tables and the like (never loaded as code pointers).
_NOT_POINTERS = re.compile(r"^\.(eh_frame|gcc_except_table|stack_sizes)")
_TARGET = re.compile(r"^([0-9a-f]+) <")
_A64_TARGET = re.compile(r"^0x([0-9a-f]+)\b")


class CallGraph:
    """Direct calls between the object's functions, from its disassembly
    (calls within one section, which need no relocation) and its
    relocations (calls across sections, and to undefined symbols).

    calls[i]: callees of funcs[i] (indices) reached by `call`; tails[i]:
    by a jump out of the function (a tail call: the callee's frame replaces
    the caller's); externals[i]: undefined symbols it calls; indirect[i]:
    its `call *...` count. taken: functions whose address is taken (a
    relocation to their start that is not a call or jump)."""

    def __init__(self, elf, funcs):
        self.funcs = funcs
        n = len(funcs)
        self.calls = [set() for _ in range(n)]
        self.tails = [set() for _ in range(n)]
        self.externals = [set() for _ in range(n)]
        self.indirect = [0] * n
        self.taken = set()
        self.by_section = defaultdict(list)
        for i, f in enumerate(funcs):
            if f.insns:
                self.by_section[f.section].append((f.addr, f.insns[-1][0], i))
        for lst in self.by_section.values():
            lst.sort()
        self.starts = {(f.section, f.addr): i for i, f in enumerate(funcs)}
        self.arm64 = elf.arm64
        relocs = defaultdict(list)
        if elf.e_type == ET_DYN:
            # A linked (shared) object: no relocations in code; data
            # pointers to functions are its dynamic relocations.
            for sec in elf.sections:
                if sec.type not in (SHT_RELA, SHT_REL) or not sec.flags & SHF_ALLOC:
                    continue
                for _off, rtype, symi, addend in elf.relocations(sec):
                    if rtype in (1027, 8):  # RELATIVE: the addend is the address
                        at = elf.section_at(addend or 0)
                        i = self.func_at(at.name, addend) if at is not None else None
                        if i is not None and funcs[i].addr == addend:
                            self.taken.add(i)
                    elif symi < len(elf.reloc_symbols(sec)) and symi:
                        sym = elf.reloc_symbols(sec)[symi]
                        at = elf.section_at(sym.value) if sym.shndx != SHN_UNDEF else None
                        i = self.func_at(at.name, sym.value) if at is not None else None
                        if i is not None and funcs[i].addr == sym.value:
                            self.taken.add(i)
        for sec in elf.sections:
            if (sec.type not in (SHT_RELA, SHT_REL) or sec.info >= len(elf.sections)
                    or elf.e_type == ET_DYN):
                continue
            target = elf.sections[sec.info]
            if not target.flags & SHF_ALLOC:
                continue
            rs = list(elf.relocations(sec))
            if target.flags & SHF_EXECINSTR:
                relocs[target.name].extend(rs)
            elif not _NOT_POINTERS.match(target.name):
                for _off, rtype, symi, addend in rs:
                    i = self._resolve(elf, rtype, symi, addend, 0)
                    if isinstance(i, int) and self._is_start(i, elf, symi, addend, rtype, 0):
                        self.taken.add(i)
        if self.arm64:
            # A linked object has no relocations in its code: every
            # section of functions is read.
            for secname in self.by_section:
                relocs.setdefault(secname, [])
        for secname, rs in relocs.items():
            rs.sort()
            self._code(elf, secname, rs)

    def func_at(self, section, addr):
        lst = self.by_section.get(section)
        if not lst:
            return None
        k = bisect.bisect_right(lst, (addr, float("inf"), 0)) - 1
        if k >= 0 and lst[k][0] <= addr <= lst[k][1]:
            return lst[k][2]
        return None

    def _resolve(self, elf, rtype, symi, addend, pc_adjust):
        """A relocation's target: a function index, an undefined symbol's
        name, or None (data, or nothing known)."""
        if symi >= len(elf.symbols):
            return None
        sym = elf.symbols[symi]
        if sym.shndx == SHN_UNDEF:
            return sym.name or None
        if sym.shndx >= len(elf.sections):
            return None
        addr = sym.value + (addend or 0) + (pc_adjust if rtype in (2, 4) else 0)
        return self.func_at(elf.sections[sym.shndx].name, addr)

    def _is_start(self, i, elf, symi, addend, rtype, pc_adjust):
        sym = elf.symbols[symi]
        addr = sym.value + (addend or 0) + (pc_adjust if rtype in (2, 4) else 0)
        return self.funcs[i].addr == addr

    def _code(self, elf, secname, rs):
        offs = [r[0] for r in rs]
        for i, f in ((i, self.funcs[i]) for _a, _e, i in self.by_section.get(secname, [])):
            insns = f.insns
            if self.arm64:
                self._code_arm64(elf, secname, i, f, rs, offs)
                continue
            for k, (addr, m, ops, _t) in enumerate(insns):
                end = insns[k + 1][0] if k + 1 < len(insns) else addr + 16
                lo = bisect.bisect_left(offs, addr)
                hi = bisect.bisect_left(offs, end)
                mine = rs[lo:hi]
                is_call = m.startswith("call")
                is_jump = m.startswith("j")
                if (is_call or is_jump) and ops.startswith("*"):
                    if is_call:
                        self.indirect[i] += 1
                    continue
                if is_call or is_jump:
                    if mine:
                        off, rtype, symi, addend = mine[0]
                        t = self._resolve(elf, rtype, symi, addend, end - off)
                    else:
                        mt = _TARGET.match(ops)
                        t = self.func_at(secname, int(mt.group(1), 16)) if mt else None
                    if t is None or t == i and is_jump:
                        continue
                    if isinstance(t, str):
                        self.externals[i].add(t)
                    elif is_call:
                        self.calls[i].add(t)
                    else:
                        self.tails[i].add(t)
                    continue
                for off, rtype, symi, addend in mine:
                    t = self._resolve(elf, rtype, symi, addend, end - off)
                    if isinstance(t, int) and self._is_start(t, elf, symi, addend, rtype, end - off):
                        self.taken.add(t)

    def _code_arm64(self, elf, secname, i, f, rs, offs):
        """bl (call), b and b.cond (jump; out of the function: a tail
        call), blr (indirect call), br (indirect jump); an address taken
        is a relocation to a function's start (relocatable) or an adrp+add
        pair that computes it (linked object)."""
        pages = {}
        for addr, m, ops, _t in f.insns:
            lo = bisect.bisect_left(offs, addr)
            hi = bisect.bisect_left(offs, addr + 4)
            mine = rs[lo:hi]
            if m in ("bl", "blr", "blraa", "blrab", "blraaz", "blrabz"):
                pages.clear()  # x0-x18 do not survive a call
            if m in ("blr", "blraa", "blrab", "blraaz", "blrabz"):
                self.indirect[i] += 1
                continue
            if m in ("br", "braa", "brab", "braaz", "brabz", "ret", "retaa", "retab"):
                continue
            is_call = m == "bl"
            is_jump = m == "b" or m.startswith("b.")
            if is_call or is_jump:
                t = None
                if mine:
                    off, rtype, symi, addend = mine[0]
                    t = self._resolve(elf, rtype, symi, addend, 0)
                else:
                    mt = _A64_TARGET.match(ops)
                    if mt:
                        t = self.func_at(secname, int(mt.group(1), 16))
                        if t is not None and self.funcs[t].name.endswith("@plt"):
                            t = self.funcs[t].name[:-4]
                if t is None or t == i and is_jump:
                    continue
                if isinstance(t, str):
                    self.externals[i].add(t)
                elif is_call:
                    self.calls[i].add(t)
                else:
                    self.tails[i].add(t)
                continue
            for off, rtype, symi, addend in mine:
                t = self._resolve(elf, rtype, symi, addend, 0)
                if isinstance(t, int) and self._is_start(t, elf, symi, addend, rtype, 0):
                    self.taken.add(t)
            if mine:
                continue
            regs = [r.strip() for r in _ANNOT.sub("", ops).split(",")]
            if m == "adrp" and len(regs) == 2:
                try:
                    pages[regs[0]] = int(regs[1], 16)
                except ValueError:
                    pages.pop(regs[0], None)
            elif m == "add" and len(regs) == 3 and regs[1] in pages and regs[2].startswith("#"):
                target = pages[regs[1]] + int(regs[2][1:], 0)
                at = elf.section_at(target)
                t = self.func_at(at.name, target) if at is not None else None
                if t is not None and self.funcs[t].addr == target:
                    self.taken.add(t)
            elif regs and regs[0] in pages:
                pages.pop(regs[0], None)

    def sccs(self, roots):
        """Strongly connected components reachable from roots, callees
        before callers (Tarjan's, without recursion)."""
        index, low, on, stack, out = {}, {}, set(), [], []
        counter = 0
        for root in roots:
            if root in index:
                continue
            work = [(root, None)]
            while work:
                v, it = work.pop()
                if it is None:
                    index[v] = low[v] = counter
                    counter += 1
                    stack.append(v)
                    on.add(v)
                    it = iter(sorted(self.calls[v] | self.tails[v]))
                pushed = False
                for w in it:
                    if w not in index:
                        work.append((v, it))
                        work.append((w, None))
                        pushed = True
                        break
                    if w in on:
                        low[v] = min(low[v], index[w])
                if pushed:
                    continue
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    out.append(comp)
        return out


def _cycle(graph, comp):
    """One cycle through the component's first member, as a list."""
    members = set(comp)
    start = min(comp)
    prev = {start: None}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph.calls[v] | graph.tails[v]):
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w in members and w not in prev:
                prev[w] = v
                queue.append(w)
    return [start, start]


def read_recursion_allow(path):
    """`pattern<TAB>levels<TAB>reason` lines (tabs: demangled names have
    spaces): {pattern: (levels, reason)}."""
    out = {}
    if not path:
        return out
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = [p.strip() for p in re.split(r"\t+", line, 2)]
            if len(parts) < 3 or not parts[1].isdigit() or int(parts[1]) < 1 or not parts[2]:
                raise AuditError(f"{path}:{n}: want `pattern<TAB>levels<TAB>reason`")
            out[parts[0]] = (int(parts[1]), parts[2])
    return out


def _display(name, names, width=70):
    return short(re.sub(r"\[[0-9a-f]{16}\]", "", names.get(name, name)), width)


def check_depth(elf, funcs, names, sizes, args, report, fail):
    graph = CallGraph(elf, funcs)
    fr = sizes[0]
    if args.shim_object:
        shim_funcs = set()
        for p in args.shim_object:
            shim_funcs |= {s.name for s in Elf(p).symbols
                           if s.type == STT_FUNC and s.shndx != SHN_UNDEF}
        entries = sorted(i for i in graph.taken if funcs[i].name in shim_funcs)
        what = "the shim's functions whose address is taken"
        # The shim's indirect calls go to the kernel (ifnet methods,
        # callbacks); the core's go to the core's own address-taken
        # functions (trait objects: the host's locks, the RNG, fmt).
        targets = sorted(graph.taken - set(entries))
        callers = [i for i, f in enumerate(funcs) if f.name not in shim_funcs]
    else:
        exported = {s.name for s in elf.symbols[1:] if s.type == STT_FUNC
                    and s.shndx not in (SHN_UNDEF, SHN_COMMON) and s.bind != STB_LOCAL}
        entries = sorted(graph.taken | {i for i, f in enumerate(funcs) if f.name in exported})
        what = "global functions and functions whose address is taken"
        targets = sorted(graph.taken)
        callers = range(len(funcs))
    # An indirect call may reach any of targets: edges to each.
    for i in callers:
        if graph.indirect[i]:
            graph.calls[i].update(t for t in targets if t != i)
    allow = read_recursion_allow(args.recursion_allow)

    def allowed_levels(v):
        n = funcs[v].name
        readable = re.sub(r"\[[0-9a-f]{16}\]", "", names.get(n, n))
        return max((lv for pat, (lv, _r) in allow.items()
                    if fnmatch.fnmatchcase(n, pat) or fnmatch.fnmatchcase(readable, pat)),
                   default=None)

    comps = graph.sccs(entries)
    comp_of = {v: k for k, comp in enumerate(comps) for v in comp}
    depth, nxt, recursive, extra = {}, {}, {}, {}
    for k, comp in enumerate(comps):
        if len(comp) > 1 or any(v in graph.calls[v] for v in comp):
            levels = [allowed_levels(v) for v in comp]
            cyc = _cycle(graph, comp)
            weight = sum(fr[x][0] for x in cyc[:-1])
            ok = all(lv is not None for lv in levels)
            recursive[k] = (cyc, max(levels) if ok else None, weight)
            for v in comp:
                extra[v] = (max(levels) - 1) * weight if ok else 0
        for v in comp:
            best, step = fr[v][0], None
            for w in graph.calls[v]:
                if comp_of[w] != k and fr[v][0] + depth[w] > best:
                    best, step = fr[v][0] + depth[w], w
            for w in graph.tails[v]:
                if comp_of[w] != k and depth[w] > best:
                    best, step = depth[w], w
            depth[v], nxt[v] = best + extra.get(v, 0), step

    def reach(v):
        seen, todo, found = {v}, [v], set()
        while todo:
            x = todo.pop()
            if comp_of[x] in recursive:
                found.add(comp_of[x])
            for w in graph.calls[x] | graph.tails[x]:
                if w not in seen:
                    seen.add(w)
                    todo.append(w)
        return seen, found

    report(f"-- [f] deepest call chains from {len(entries)} entry points ({what}); "
           f"limit {args.max_depth} bytes, frames summed with return addresses; "
           f"calls into the kernel not followed, the core's indirect calls to each function "
           f"of the core whose address is taken ({len(targets)})")
    rows = sorted(entries, key=lambda v: (-depth[v], funcs[v].name))
    listed = rows if args.shim_object else rows[:args.top]
    bad_cycles = set()
    for v in rows:
        seen, cycles = reach(v)
        bad_cycles |= cycles
        over = depth[v] > args.max_depth
        if v not in listed and not over:
            continue
        flag = "  VIOLATION" if over else ""
        unbounded = [k for k in cycles if recursive[k][1] is None]
        rec = "  (unbounded recursion below)" if unbounded else ""
        path, x = [], v
        while x is not None:
            path.append(x)
            x = nxt[x]
        report(f"   {depth[v]:>7}  {_display(funcs[v].name, names)}: {len(path)} frames"
               + rec + flag)
        prev = None
        for x in path:
            tail = " (tail call)" if prev is not None and x in graph.tails[prev] else ""
            rec_x = (f" (recursing: +{extra[x]} for {recursive[comp_of[x]][1]} levels)"
                     if extra.get(x) else "")
            report(f"            {fr[x][0]:>6}  {_display(funcs[x].name, names)}{tail}{rec_x}")
            prev = x
        ext = sorted(graph.externals[path[-1]])
        if ext:
            report(f"                    then the kernel: {', '.join(ext[:6])}"
                   + (" ..." if len(ext) > 6 else ""))
        if over:
            fail(f"[f] call chain of {depth[v]} bytes > {args.max_depth} from "
                 f"{_display(funcs[v].name, names, 60)}")
    if len(rows) > len(listed):
        report(f"   ({len(rows) - len(listed)} more entry points, none over the limit)")
    for k in sorted(bad_cycles, key=lambda k: recursive[k][1] is not None):
        cyc, levels, weight = recursive[k]
        text = " > ".join(_display(funcs[x].name, names, 50) for x in cyc)
        if levels is None:
            report(f"   VIOLATION recursion: {text}")
            fail(f"[f] recursion, no bound on the stack: {short(text, 140)}")
        else:
            report(f"   recursion allowed, counted as {levels} levels of {weight} bytes: {text}")



# --- [e] kernel names the shim leaves undefined ------------------------------

def undefined_names(elf):
    return {s.name for s in elf.symbols[1:] if s.shndx == SHN_UNDEF and s.name
            and s.type != STT_SECTION and s.bind != STB_LOCAL}


def defined_global_names(elf):
    return {s.name for s in elf.symbols[1:]
            if s.shndx not in (SHN_UNDEF, SHN_COMMON) and s.name
            and s.type != STT_SECTION and s.bind != STB_LOCAL}


def check_shim_names(elf, args, report, fail):
    shims = [Elf(p) for p in args.shim_object]
    wanted, own = set(), set()
    for shim in shims:
        wanted |= undefined_names(shim)
        own |= defined_global_names(shim)
    wanted -= own
    exports = {n for n in wanted if any(fnmatch.fnmatchcase(n, p) for p in args.core_export)}
    wanted -= exports
    still = undefined_names(elf)
    defined = defaultdict(list)
    for s in elf.symbols[1:]:
        if s.name in wanted and s.shndx != SHN_UNDEF and s.type != STT_SECTION:
            bind = {STB_GLOBAL: "GLOBAL", STB_WEAK: "WEAK", STB_LOCAL: "LOCAL"}.get(s.bind, str(s.bind))
            where = (elf.sections[s.shndx].name if s.shndx < len(elf.sections)
                     else {SHN_ABS: "ABS", SHN_COMMON: "COMMON"}.get(s.shndx, f"#{s.shndx}"))
            defined[s.name].append(f"{bind} in {where}")
    # A shared module (arm64): ld defines __start_<s>/__stop_<s> of each
    # section <s> it has, and link_elf's lookup_set finds a linker set
    # through them in the module itself.
    section_names = {sec.name for sec in elf.sections}
    bounds = {n for n in wanted if elf.e_type == ET_DYN and n not in still
              and linker_set_section(n) in section_names}
    captured = sorted(n for n in wanted if n not in still and n not in bounds)
    report(f"-- [e] names the shim leaves to the kernel: {len(wanted)} undefined in "
           f"{', '.join(os.path.basename(p) for p in args.shim_object)}"
           f" (and {len(exports)} core exports), {len(wanted) - len(captured)} still undefined here")
    for n in sorted(exports & still):
        report(f"   VIOLATION {n}: a core export the shim calls, left undefined")
        fail(f"[e] {n}: the shim calls it as the core's, but nothing in the object defines it")
    if bounds:
        report(f"   {len(bounds)} linker-set bounds defined by ld for their sections "
               "(link_elf's lookup_set reads them): " + ", ".join(sorted(bounds)))
    if not captured:
        report("   none captured by what was linked beside the shim")
    for n in captured:
        how = "; ".join(defined[n]) if n in defined else "no symbol of that name left"
        report(f"   VIOLATION {n}: defined in this object ({how}), not the kernel's")
        fail(f"[e] {n}: the shim's reference is bound inside the object ({how}), "
             "not left to the kernel")


# --- main --------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("object", help="ELF relocatable object (.ko, or an ld -r of the core)")
    ap.add_argument("--headers", action="append", default=[], metavar="DIR",
                    help="directory of headers declaring what the kernel provides (repeatable)")
    ap.add_argument("--allow-undefined", metavar="FILE",
                    help="undefined symbols allowed without a header: `name reason` a line")
    ap.add_argument("--fpu-allow", metavar="FILE",
                    help="functions (names or fnmatch patterns, mangled or demangled) that run "
                         "under fpu_kern_enter, one a line")
    ap.add_argument("--stack-limit", type=int, default=2048, metavar="BYTES",
                    help="largest stack frame allowed (default 2048)")
    ap.add_argument("--max-depth", type=int, default=8192, metavar="BYTES",
                    help="deepest call chain allowed from an entry point (default 8192, "
                         "half the 16 KiB kernel stack)")
    ap.add_argument("--recursion-allow", metavar="FILE",
                    help="recursion known to be bounded: `pattern levels reason` a line; a "
                         "cycle of matching functions counts as that many trips around it")
    ap.add_argument("--shim-object", action="append", default=[], metavar="OBJ",
                    help="the shim's object before the module link: every symbol it leaves "
                         "undefined must stay undefined (repeatable)")
    ap.add_argument("--core-export", action="append", default=[], metavar="PATTERN",
                    help="with --shim-object: names (fnmatch) the shim takes from the core, "
                         "which must be defined, e.g. 'wg_core_*' (repeatable)")
    ap.add_argument("--top", type=int, default=10, help="frames listed (default 10)")
    ap.add_argument("--examples", type=int, default=5, help="examples shown per violation")
    ap.add_argument("--objdump", default=os.environ.get("OBJDUMP", "objdump"))
    ap.add_argument("--objdump-aarch64", default=os.environ.get("OBJDUMP_AARCH64"),
                    help="disassembler for arm64 objects (default: llvm-objdump in PATH)")
    args = ap.parse_args(argv)

    for d in args.headers:
        if not os.path.isdir(d):
            print(f"audit: --headers {d}: not a directory", file=sys.stderr)
            return 2

    violations = []
    lines = []

    def report(s):
        lines.append(s)
        print(s)

    try:
        elf = Elf(args.object)
        if elf.e_machine == EM_X86_64:
            if elf.e_type != ET_REL:
                raise AuditError("not a relocatable object (amd64 modules are ET_REL)")
            kind = "x86-64 relocatable"
        elif elf.e_machine == EM_AARCH64:
            if elf.e_type not in (ET_REL, ET_DYN):
                raise AuditError("neither relocatable nor shared (arm64 modules are ET_DYN)")
            kind = "AArch64 " + ("relocatable" if elf.e_type == ET_REL else "shared object")
        else:
            raise AuditError(f"machine {elf.e_machine}: only x86-64 and AArch64 are audited")
        ntext = sum(1 for s in elf.sections if s.flags & SHF_ALLOC)
        report(f"== kbuild audit: {args.object} (ELF64 {kind}, "
               f"{len(elf.sections)} sections, {ntext} loaded, {len(elf.symbols)} symbols)")
        check_undefined(elf, args, report, violations.append)
        check_relocations(elf, args, report, violations.append)
        if elf.arm64:
            funcs = disassemble(args.object, aarch64_objdump(args), arm64=True)
        else:
            funcs = disassemble(args.object, args.objdump)
        names = demangle(f.name for f in funcs)
        check_fpu(funcs, names, args, report, violations.append, elf.arm64)
        sizes = frames(elf, funcs)
        check_stack(elf, funcs, names, args, report, violations.append, sizes)
        if args.shim_object:
            check_shim_names(elf, args, report, violations.append)
        check_depth(elf, funcs, names, sizes, args, report, violations.append)
    except (AuditError, OSError) as e:
        print(f"audit: cannot audit {args.object}: {e}", file=sys.stderr)
        return 2

    if violations:
        print(f"== FAIL: {len(violations)} violations")
        for v in violations:
            print(f"   - {v}")
        return 1
    print("== OK: undefined symbols, relocations, FPU use, stack frames and call chains pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())

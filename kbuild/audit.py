#!/usr/bin/env python3
"""Audits an amd64 ELF relocatable object meant for FreeBSD's kldload.

The object is what link_elf_obj loads: if_wg.ko itself, or the Rust core
alone (`ld -r` of libwg_ffi.a, localised as kmod.mk localises a module).
Four checks, each printed in full, then one verdict line:

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
      in --fpu-allow (code that runs between fpu_kern_enter/leave).
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

Exit status: 0 clean, 1 violations, 2 could not audit (bad input, tool
missing). Only python3's standard library and binutils' objdump are used;
the ELF tables are read directly.
"""

import argparse
import fnmatch
import os
import re
import struct
import subprocess
import sys
from collections import Counter, defaultdict

# --- ELF ------------------------------------------------------------------

EM_X86_64 = 62
ET_REL = 1
SHT_SYMTAB, SHT_RELA, SHT_REL = 2, 4, 9
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


class AuditError(Exception):
    """The object could not be audited (as opposed to failing the audit)."""


class Section:
    __slots__ = ("index", "name", "type", "flags", "offset", "size", "link",
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
            (s.name, s.type, s.flags, _addr, s.offset, s.size, s.link, s.info,
             _align, s.entsize) = struct.unpack_from("<IIQQQQIIQQ", data, o)
            s.index = i
            self.sections.append(s)
        shstr = self.sections[e_shstrndx]
        for s in self.sections:
            s.name = self._str(shstr, s.name)
        self.symbols = self._symbols()

    def _str(self, strsec, off):
        start = strsec.offset + off
        end = self.data.index(b"\0", start)
        return self.data[start:end].decode("utf-8", "replace")

    def _symbols(self):
        tabs = [s for s in self.sections if s.type == SHT_SYMTAB]
        if len(tabs) != 1:
            # link_elf_obj: "Only allow one symbol table for now".
            raise AuditError(f"expected one symbol table, found {len(tabs)}")
        tab = tabs[0]
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
    if elf.e_machine != EM_X86_64:
        raise AuditError("only amd64 (EM_X86_64) objects are audited so far")
    loaded, skipped = Counter(), Counter()
    skipped_secs = set()
    examples = defaultdict(list)
    for sec in elf.sections:
        if sec.type not in (SHT_RELA, SHT_REL):
            continue
        target = elf.sections[sec.info]
        is_loaded = bool(target.flags & SHF_ALLOC)
        for off, rtype, symi, _addend in elf.relocations(sec):
            if is_loaded:
                loaded[rtype] += 1
                if rtype not in AMD64_KLD_ACCEPTED and len(examples[rtype]) < args.examples:
                    sym = elf.symbols[symi].name if symi < len(elf.symbols) else f"#{symi}"
                    examples[rtype].append(f"{target.name}+{off:#x} -> {sym}")
            else:
                skipped[rtype] += 1
                skipped_secs.add(re.sub(r"^(\.debug)_.*", r"\1_*", target.name))
    report(f"-- [b] relocation types in loaded sections: {sum(loaded.values())} relocations")
    for rtype, n in sorted(loaded.items()):
        name = X86_64_RELOCS.get(rtype, f"type {rtype}")
        ok = rtype in AMD64_KLD_ACCEPTED
        report(f"   {name:<24} {n:>7}  {'ok' if ok else 'VIOLATION: kldload rejects it'}")
        if not ok:
            for e in examples[rtype]:
                report(f"      at {short(e)}")
            fail(f"[b] {n} {name} relocations (amd64 link_elf_obj accepts only "
                 + ", ".join(X86_64_RELOCS[t][9:] for t in sorted(AMD64_KLD_ACCEPTED)) + ")")
    if skipped:
        kinds = ", ".join(f"{X86_64_RELOCS.get(t, t)} {n}" for t, n in sorted(skipped.items()))
        report(f"   not loaded, not judged: {sum(skipped.values())} relocations of "
               f"{', '.join(sorted(skipped_secs))} ({kinds})")


# --- disassembly -------------------------------------------------------------

_FUNC = re.compile(r"^([0-9a-f]+) <(.+)>:$")
_INSN = re.compile(r"^\s*([0-9a-f]+):\t(.*)$")
_SECTION = re.compile(r"^Disassembly of section (.+):$")
_PREFIXES = {"cs", "ds", "es", "fs", "gs", "ss", "data16", "data32", "addr32",
             "lock", "rep", "repz", "repe", "repnz", "repne", "notrack", "bnd",
             "xacquire", "xrelease", "rex", "rex.w", "rex.r", "rex.x", "rex.b"}


class Func:
    __slots__ = ("section", "addr", "name", "insns")

    def __init__(self, section, addr, name):
        self.section, self.addr, self.name, self.insns = section, addr, name, []


def disassemble(path, objdump):
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
            text = m.group(2).split("#", 1)[0].strip()
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


def fpu_use(insn):
    mnemonic, operands = insn[1], insn[2]
    return bool(_FPU_REG.search(operands) or _FPU_MNEMONIC.match(mnemonic.lower()))


def check_fpu(funcs, names, args, report, fail):
    allow = read_list(args.fpu_allow, need_reason=False)

    def allowed(f):
        return any(fnmatch.fnmatchcase(f.name, p) or fnmatch.fnmatchcase(names.get(f.name, ""), p)
                   for p in allow)

    hits = []
    allowed_hits = 0
    for f in funcs:
        bad = [i for i in f.insns if fpu_use(i)]
        if not bad:
            continue
        if allowed(f):
            allowed_hits += 1
            continue
        hits.append((f, bad))
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
    if hits:
        if len(hits) > args.examples * 4:
            report(f"   ... and {len(hits) - args.examples * 4} more functions")
        fail(f"[c] {len(hits)} functions use FPU/SIMD outside fpu_kern_enter "
             f"(first: {short(names.get(hits[0][0].name, hits[0][0].name), 80)})")


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
            if pos in rel:
                symi, addend = rel[pos]
                sym = elf.symbols[symi]
                value = sym.value + (addend if addend is not None else addr)
                if sym.shndx < len(elf.sections):
                    out[(elf.sections[sym.shndx].name, value)] = size + 8
            pos = nxt
    return out


def check_stack(elf, funcs, names, args, report, fail):
    measured = stack_sizes(elf)
    rows = []
    for f in funcs:
        pro, dynamic = prologue_frame(f)
        llvm = measured.get((f.section, f.addr))
        size = max(pro, llvm or 0)
        src = "stack_sizes" if llvm is not None and llvm >= pro else "prologue"
        rows.append((size, src, dynamic, f))
    rows.sort(key=lambda r: (-r[0], r[3].name))
    src_note = (f".stack_sizes for {len(measured)} functions, prologues for the rest"
                if measured else "prologues (no .stack_sizes section)")
    report(f"-- [d] largest stack frames (limit {args.stack_limit} bytes, return address included;"
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
        report(f"   {len(dyn)} functions also adjust %rsp by a register (alloca/VLA):"
               f" {', '.join(short(names.get(r[3].name, r[3].name), 60) for r in dyn[:5])}")
    for size, _src, _d, f in over:
        fail(f"[d] stack frame of {size} bytes > {args.stack_limit}: "
             f"{short(names.get(f.name, f.name), 90)}")


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
    captured = sorted(n for n in wanted if n not in still)
    report(f"-- [e] names the shim leaves to the kernel: {len(wanted)} undefined in "
           f"{', '.join(os.path.basename(p) for p in args.shim_object)}"
           f" (and {len(exports)} core exports), {len(wanted) - len(captured)} still undefined here")
    for n in sorted(exports & still):
        report(f"   VIOLATION {n}: a core export the shim calls, left undefined")
        fail(f"[e] {n}: the shim calls it as the core's, but nothing in the object defines it")
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
    ap.add_argument("--shim-object", action="append", default=[], metavar="OBJ",
                    help="the shim's object before the module link: every symbol it leaves "
                         "undefined must stay undefined (repeatable)")
    ap.add_argument("--core-export", action="append", default=[], metavar="PATTERN",
                    help="with --shim-object: names (fnmatch) the shim takes from the core, "
                         "which must be defined, e.g. 'wg_core_*' (repeatable)")
    ap.add_argument("--top", type=int, default=10, help="frames listed (default 10)")
    ap.add_argument("--examples", type=int, default=5, help="examples shown per violation")
    ap.add_argument("--objdump", default=os.environ.get("OBJDUMP", "objdump"))
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
        if elf.e_type != ET_REL:
            raise AuditError("not a relocatable object (amd64 modules are ET_REL)")
        if elf.e_machine != EM_X86_64:
            raise AuditError("not an x86-64 object")
        ntext = sum(1 for s in elf.sections if s.flags & SHF_ALLOC)
        report(f"== kbuild audit: {args.object} (ELF64 x86-64 relocatable, "
               f"{len(elf.sections)} sections, {ntext} loaded, {len(elf.symbols)} symbols)")
        check_undefined(elf, args, report, violations.append)
        check_relocations(elf, args, report, violations.append)
        funcs = disassemble(args.object, args.objdump)
        names = demangle(f.name for f in funcs)
        check_fpu(funcs, names, args, report, violations.append)
        check_stack(elf, funcs, names, args, report, violations.append)
        if args.shim_object:
            check_shim_names(elf, args, report, violations.append)
    except (AuditError, OSError) as e:
        print(f"audit: cannot audit {args.object}: {e}", file=sys.stderr)
        return 2

    if violations:
        print(f"== FAIL: {len(violations)} violations")
        for v in violations:
            print(f"   - {v}")
        return 1
    print("== OK: undefined symbols, relocations, FPU use and stack frames pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Every file path the tree cites in comments and docs exists.

Scans the files git tracks for paths that start with one of the
repository's top directories (rust/, kmod/, tools/, tests/, kbuild/,
scripts/, docs/, fuzz/, and sys/wg_*.h; FreeBSD's own sys/... and
tests/sys/... paths are not ours) and end in a file extension, and resolves
each relative to the root, to the citing file's directory or one of its
parents, or, in a layout listing, to the last top-level directory listed
above it. The design document is cited as docs/DESIGN.md: a bare DESIGN.md
is an error, and every "DESIGN.md section N" must name a heading "## N.".

Prints each unresolved citation as FILE:LINE: PATH and exits 1 if any.
"""
import os
import re
import subprocess
import sys

TOPS = "rust|kmod|tools|tests|kbuild|scripts|docs|fuzz|sys"
EXTS = "rs|c|h|sh|py|md|mk|toml|json|txt|subr|4|8|conf"
PATH = re.compile(
    r"(?<![\w./-])((?:%s)/[\w.+-]+(?:/[\w.+-]+)*\.(?:%s))\b" % (TOPS, EXTS))
LAYOUT_DIR = re.compile(r"^([\w.-]+(?:/[\w.-]+)*/)\s")
BARE_DESIGN = re.compile(r"(?<![\w/.-])DESIGN\.md")
SECTION = re.compile(r"DESIGN\.md,? section (\d+)")


def ours(path):
    if path.startswith("tests/sys/"):
        return False
    return not path.startswith("sys/") or path.startswith("sys/wg_")


def resolves(root, citing, path, layout_dir):
    if os.path.exists(os.path.join(root, path)):
        return True
    d = os.path.dirname(citing)
    while d:
        if os.path.exists(os.path.join(root, d, path)):
            return True
        d = os.path.dirname(d)
    return bool(layout_dir) and os.path.exists(
        os.path.join(root, layout_dir, path))


def main():
    root = subprocess.check_output(
        ["git", "rev-parse", "--show-toplevel"], text=True).strip()
    files = subprocess.check_output(
        ["git", "ls-files"], cwd=root, text=True).split("\n")
    design = os.path.join(root, "docs", "DESIGN.md")
    sections = set()
    if os.path.exists(design):
        with open(design, encoding="utf-8") as f:
            sections = set(re.findall(r"^## (\d+)\.", f.read(), re.M))
    bad = []
    for rel in files:
        if not rel or rel.startswith("target/"):
            continue
        try:
            with open(os.path.join(root, rel), encoding="utf-8") as f:
                lines = f.read().splitlines()
        except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
            continue
        layout_dir = None
        for n, line in enumerate(lines, 1):
            m = LAYOUT_DIR.match(line)
            if m:
                layout_dir = m.group(1)
            for m in PATH.finditer(line):
                path = m.group(1)
                if ours(path) and not resolves(root, rel, path, layout_dir):
                    bad.append("%s:%d: %s" % (rel, n, path))
            if rel != "scripts/check-paths.py":
                for m in BARE_DESIGN.finditer(line):
                    bad.append("%s:%d: DESIGN.md (cite docs/DESIGN.md)" %
                               (rel, n))
                for m in SECTION.finditer(line):
                    if m.group(1) not in sections:
                        bad.append("%s:%d: docs/DESIGN.md has no section %s"
                                   % (rel, n, m.group(1)))
    for b in bad:
        print(b)
    print("paths: %d unresolved citation(s)" % len(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

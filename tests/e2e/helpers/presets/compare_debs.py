#!/usr/bin/env python3
"""Check that a preset image holds its packages' files unchanged.

Usage: compare_debs.py [--merged-usr | --split-usr] ROOTFS DEBTREE

DEBTREE is the packages' data (dpkg-deb -x of each listed .deb into one
directory, derived packages left out). Each file and symlink of DEBTREE, its
path moved to merged /usr (bin, sbin, lib, lib64, lib32, libx32 -> usr/...;
the default) or left where it is (--split-usr, bookworm), must be in ROOTFS with the same bytes, permission bits and link target, except
what distill strips on purpose: /usr/share/doc (but each package's
copyright), /usr/share/man, /usr/share/info, /usr/share/lintian. Prints one
line per difference and exits 1 if there is any; prints a summary line.
"""
import hashlib
import os
import re
import stat
import sys

MERGED = ("bin", "sbin", "lib", "lib64", "lib32", "libx32")
STRIPPED = re.compile(r"^usr/share/(man|info|lintian)/|^usr/share/doc/[^/]+/(?!copyright$)")
# Replaced by generated files of the same path (checked elsewhere).
GENERATED = {"usr/lib/os-release"}


def merged(path):
    head, _, rest = path.partition("/")
    return "usr/" + path if head in MERGED and rest else path


def unchanged(path):
    return path


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    args = sys.argv[1:]
    place = merged
    if args and args[0] in ("--merged-usr", "--split-usr"):
        place = merged if args.pop(0) == "--merged-usr" else unchanged
    if len(args) != 2:
        sys.exit(__doc__)
    root, debs = args
    problems, checked, stripped = [], 0, 0
    for dirpath, dirnames, filenames in os.walk(debs):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            src = os.path.join(dirpath, name)
            rel = os.path.relpath(src, debs)
            dst_rel = place(rel)
            if STRIPPED.search(dst_rel) or dst_rel in GENERATED:
                stripped += 1
                continue
            dst = os.path.join(root, dst_rel)
            s = os.lstat(src)
            try:
                d = os.lstat(dst)
            except FileNotFoundError:
                problems.append(f"missing: /{dst_rel}")
                continue
            checked += 1
            if stat.S_ISLNK(s.st_mode):
                if not stat.S_ISLNK(d.st_mode):
                    problems.append(f"not a symlink: /{dst_rel}")
                elif os.readlink(src) != os.readlink(dst):
                    problems.append(f"symlink target: /{dst_rel}: {os.readlink(dst)} (package: {os.readlink(src)})")
                continue
            if not stat.S_ISREG(d.st_mode):
                problems.append(f"not a regular file: /{dst_rel}")
                continue
            if stat.S_IMODE(s.st_mode) != stat.S_IMODE(d.st_mode):
                problems.append(f"mode: /{dst_rel}: {stat.S_IMODE(d.st_mode):04o} (package: {stat.S_IMODE(s.st_mode):04o})")
            if s.st_size != d.st_size or digest(src) != digest(dst):
                problems.append(f"content: /{dst_rel}: {d.st_size} bytes (package: {s.st_size})")
    for p in problems[:40]:
        print(p)
    if len(problems) > 40:
        print(f"... and {len(problems) - 40} more")
    print(f"{checked} package files compared, {stripped} stripped or generated, {len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

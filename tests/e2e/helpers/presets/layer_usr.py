#!/usr/bin/env python3
"""Check each layer tar of a preset image against the suite's /usr layout.

Usage: layer_usr.py --merged-usr | --split-usr LAYER.tar[.gz]...

--merged-usr (trixie): no layer has an entry below bin, sbin, lib, lib32,
lib64 or libx32, and an entry of one of those names is a symlink to usr/NAME.
Reading the layers, not the unpacked tree, matters: a later layer's symlink
would hide an earlier layer's /lib/x from a check of the merged tree, and
runtimes that apply layers differently would see it.
--split-usr (bookworm): those names are never symlinks (the packages' real
directories, as Debian 12 and distroless's debian12 images have them).
Prints one line per problem and exits 1 if there is any.
"""
import sys
import tarfile

TOP = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


def problems_of(layer, merged):
    with tarfile.open(layer, "r:*") as tar:
        for entry in tar:
            name = entry.name.lstrip("./").rstrip("/")
            head, _, rest = name.partition("/")
            if head not in TOP:
                continue
            if merged and rest:
                yield f"{layer}: /{name} is below /{head}, a merged-/usr symlink"
            elif merged and not (entry.issym() and entry.linkname == "usr/" + head):
                yield f"{layer}: /{name} is not the symlink usr/{head}"
            elif not merged and not rest and entry.issym():
                yield f"{layer}: /{name} is a symlink ({entry.linkname}) in a split-/usr image"


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("--merged-usr", "--split-usr"):
        sys.exit(__doc__)
    merged = sys.argv[1] == "--merged-usr"
    problems = [p for layer in sys.argv[2:] for p in problems_of(layer, merged)]
    for p in problems[:40]:
        print(p)
    print(f"{len(sys.argv) - 2} layers read, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

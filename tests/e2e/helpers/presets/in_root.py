#!/usr/bin/env python3
"""in_root.py ROOT PATH: the host path of PATH inside the tree ROOT, every
symlink followed as the container would follow it (absolute targets from
ROOT, '..' never above ROOT). Exit 1 on a symlink loop.

Needed because a test that reads an unpacked image on the host cannot
follow an absolute symlink such as ppc64el's /lib64/ld64.so.2 ->
/lib/powerpc64le-linux-gnu/ld64.so.2: the host would read its own /lib."""
import os
import sys


def resolve(root, path):
    parts = [p for p in path.split("/") if p]
    cur = []
    hops = 0
    while parts:
        p = parts.pop(0)
        if p == ".":
            continue
        if p == "..":
            if cur:
                cur.pop()
            continue
        host = os.path.join(root, *cur, p)
        if os.path.islink(host):
            hops += 1
            if hops > 40:
                sys.exit(f"in_root.py: too many symlinks resolving {path} in {root}")
            target = os.readlink(host)
            if target.startswith("/"):
                cur = []
            parts = [x for x in target.split("/") if x] + parts
            continue
        cur.append(p)
    return os.path.join(root, *cur)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(resolve(sys.argv[1], sys.argv[2]))

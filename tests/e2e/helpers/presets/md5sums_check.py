#!/usr/bin/env python3
"""Compare an image's status.d/NAME.md5sums with the .deb's, in one process.

Usage: md5sums_check.py ROOTFS DEB_MD5SUMS IMAGE_MD5SUMS

Prints one line per finding, each starting with its kind:
  added PATH     a line of the image's md5sums that the .deb's lacks
  present PATH   a line the image leaves out, for a file the image holds
  bad PATH       a listed file in the image whose md5 differs
                 (usr/lib/os-release: replaced by the generated one)
  absent N       how many listed files the image does not hold (stripped)
"""
import hashlib
import os
import sys


def lines(path):
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        return {line.rstrip("\n") for line in f if line.strip()}


def md5(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    root, deb_path, img_path = sys.argv[1:4]
    deb, img = lines(deb_path), lines(img_path)
    for line in sorted(img - deb):
        print("added", line)
    for line in sorted(deb - img):
        rel = line.split("  ", 1)[1]
        if os.path.isfile(os.path.join(root, rel)):
            print("present", "/" + rel)
    absent = 0
    for line in sorted(img):
        digest, rel = line.split("  ", 1)
        full = os.path.join(root, rel)
        if not os.path.lexists(full):
            absent += 1
        elif rel != "usr/lib/os-release" and os.path.isfile(full) and md5(full) != digest:
            print("bad", "/" + rel)
    print("absent", absent)


if __name__ == "__main__":
    main()

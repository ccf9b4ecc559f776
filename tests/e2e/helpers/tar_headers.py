#!/usr/bin/env python3
"""Dump the raw headers of a layer tar (gzip, zstd or plain), one line each.

Usage: tar_headers.py LAYER

Reads the 512-byte headers itself instead of through tarfile, which hides
the format (GNU 'L' long names, ustar vs GNU magic, pax 'x' records). Prints
for every header:
  TYPEFLAG MAGIC MTIME UID:GID UNAME:GNAME NAME [| pax KEY=VALUE; ...]
MAGIC is "posix" for ustar\\0 + "00" (what POSIX pax and ustar write) and
"gnu" for "ustar  \\0". Exits 1 on a malformed archive.
"""
import gzip
import io
import subprocess
import sys


def payload(path):
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] == b"\x1f\x8b":
        return gzip.open(path, "rb").read()
    if head == b"\x28\xb5\x2f\xfd":
        return subprocess.run(["zstd", "-dcq", path], check=True, stdout=subprocess.PIPE).stdout
    return open(path, "rb").read()


def field(block, start, length):
    return block[start:start + length].split(b"\0", 1)[0].decode("utf-8", "replace")


def octal(block, start, length):
    text = field(block, start, length).strip()
    return int(text, 8) if text else 0


def pax_records(data):
    out, rest = [], data
    while rest:
        size_text, _, _ = rest.partition(b" ")
        size = int(size_text)
        record, rest = rest[:size], rest[size:]
        key, _, value = record[len(size_text) + 1:-1].partition(b"=")
        shown = value.decode("utf-8", "replace") if key != b"SCHILY.xattr.security.capability" else value.hex()
        out.append(f"{key.decode()}={shown}")
    return out


def main():
    data = payload(sys.argv[1])
    stream = io.BytesIO(data)
    while True:
        block = stream.read(512)
        if len(block) < 512:
            sys.exit("truncated archive")
        if block == b"\0" * 512:
            break
        typeflag = chr(block[156]) if block[156] else "0"
        magic = block[257:265]
        kind = {b"ustar\x0000": "posix", b"ustar  \x00": "gnu"}.get(magic, repr(magic))
        size = octal(block, 124, 12)
        name = field(block, 0, 100)
        prefix = field(block, 345, 155) if kind == "posix" else ""
        if prefix:
            name = prefix + "/" + name
        body = stream.read((size + 511) // 512 * 512)[:size]
        line = f"{typeflag} {kind} {octal(block, 136, 12)} {octal(block, 108, 8)}:{octal(block, 116, 8)} " \
               f"{field(block, 265, 32)}:{field(block, 297, 32)} {name}"
        if typeflag in "xg":
            line += " | pax " + "; ".join(pax_records(body))
        print(line)


if __name__ == "__main__":
    main()

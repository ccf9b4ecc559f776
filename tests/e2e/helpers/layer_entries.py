#!/usr/bin/env python3
"""What each layer of an image, and each .deb, holds: for the layering and
strip tests. Read with Python's tarfile, not with distill.

  layer_entries.py layers LAYOUT MANIFEST_DIGEST > LAYERS.json
      {"layers": [{"digest", "createdBy", "entries": {PATH: ENTRY}}]}, the
      manifest's layers in order (createdBy from the config's history)
  layer_entries.py deb DEB > DEB.json
      {"package", "entries": {PATH: ENTRY}} of the .deb's data.tar, paths as
      an image holds them on merged /usr (no "./", no trailing "/",
      bin/ sbin/ lib*/ moved under usr/)
  layer_entries.py compare-deb LAYERS.json DEB.json CLASSES
      the layer whose createdBy names the package must hold every entry of
      the .deb outside the strip CLASSES (comma separated, "" for none) as
      it is (type, mode, owner, bytes, link target), none inside them, and
      nothing else but its status.d files and their parents (checked for a
      layer of one package). One line per difference; exit 1 if any.
  layer_entries.py stripped LAYERS.json CLASSES
      every entry, in any layer, that the CLASSES should have dropped; exit
      1 if any.

ENTRY: {"type": file|dir|symlink|hardlink|other, "mode": "0644", "uid",
"gid", "size", "sha256" (files), "target" (links)}.

The strip classes as docs/formats.md states them, written here without
looking at distill's code: docs drops /usr/share/doc below each package's
directory except its copyright file; man, info and lintian drop everything
below /usr/share/man, /usr/share/info, /usr/share/lintian; locales drops
everything below /usr/share/locale except C.UTF-8.
"""
import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile

MERGED = ("bin", "sbin", "lib", "lib64", "lib32", "libx32")
CLASSES = {
    "docs": re.compile(r"^usr/share/doc/[^/]+/(?!copyright$)"),
    "man": re.compile(r"^usr/share/man/"),
    "info": re.compile(r"^usr/share/info/"),
    "lintian": re.compile(r"^usr/share/lintian/"),
    "locales": re.compile(r"^usr/share/locale/(?!C\.UTF-8(/|$))"),
}
TYPES = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink",
         tarfile.LNKTYPE: "hardlink"}


def image_path(name, merged_usr):
    name = re.sub(r"^\./", "", name).rstrip("/")
    while name.startswith("./"):
        name = name[2:]
    head = name.split("/", 1)[0]
    if merged_usr and head in MERGED:
        name = "usr/" + name
    return name


def entries_of(tar, merged_usr):
    out = {}
    for m in tar:
        path = image_path(m.name, merged_usr)
        if path in ("", "."):
            continue
        e = {"type": TYPES.get(m.type, "other"), "mode": "%04o" % (m.mode & 0o7777), "uid": m.uid, "gid": m.gid}
        if m.isreg():
            data = tar.extractfile(m).read()
            e["size"] = len(data)
            e["sha256"] = hashlib.sha256(data).hexdigest()
        elif m.issym():
            e["target"] = m.linkname
        elif m.islnk():
            e["target"] = image_path(m.linkname, merged_usr)
        out[path] = e
    return out


def blob(layout, digest):
    return "%s/blobs/sha256/%s" % (layout, digest.split(":", 1)[1])


def cmd_layers(layout, manifest_digest):
    with open(blob(layout, manifest_digest)) as f:
        manifest = json.load(f)
    with open(blob(layout, manifest["config"]["digest"])) as f:
        config = json.load(f)
    history = [h.get("created_by", "") for h in config.get("history", []) if not h.get("empty_layer")]
    layers = []
    for i, layer in enumerate(manifest["layers"]):
        with tarfile.open(blob(layout, layer["digest"]), "r:*") as tar:
            entries = entries_of(tar, merged_usr=False)
        layers.append({"digest": layer["digest"], "createdBy": history[i] if i < len(history) else "",
                       "entries": entries})
    json.dump({"layers": layers}, sys.stdout, sort_keys=True)


def cmd_deb(deb):
    package = subprocess.run(["dpkg-deb", "-f", deb, "Package"], check=True, capture_output=True,
                             text=True).stdout.strip()
    tar_bytes = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tar:
        entries = entries_of(tar, merged_usr=True)
    json.dump({"package": package, "entries": entries}, sys.stdout, sort_keys=True)


def packages_in(created_by):
    """"distill: package a 1.0 b 2.0" -> ["a", "b"]."""
    prefix = "distill: package "
    if not created_by.startswith(prefix):
        return []
    words = created_by[len(prefix):].split(" ")
    return words[0::2]


def classes_of(text):
    names = [c for c in text.split(",") if c]
    for c in names:
        if c not in CLASSES:
            sys.exit("unknown strip class %r" % c)
    return names


def stripped_by(path, classes):
    return [c for c in classes if CLASSES[c].search(path)]


def cmd_compare_deb(layers_file, deb_file, classes_text):
    classes = classes_of(classes_text)
    with open(layers_file) as f:
        layers = json.load(f)["layers"]
    with open(deb_file) as f:
        deb = json.load(f)
    package = deb["package"]
    found = [l for l in layers if package in packages_in(l["createdBy"])]
    if len(found) != 1:
        print("%s: %d layers name the package (want 1)" % (package, len(found)))
        return 1
    layer = found[0]["entries"]
    problems, kept, dropped = [], 0, 0
    for path, want in sorted(deb["entries"].items()):
        got = layer.get(path)
        why = stripped_by(path, classes)
        if why:
            dropped += 1
            if got is not None:
                problems.append("%s: /%s is in its layer, but strip class %s should drop it" % (package, path, why[0]))
            continue
        kept += 1
        if got is None:
            problems.append("%s: /%s (%s) is missing from its layer" % (package, path, want["type"]))
        elif got != want:
            problems.append("%s: /%s differs: package %s, layer %s" % (package, path, json.dumps(want, sort_keys=True),
                                                                     json.dumps(got, sort_keys=True)))
    allowed = {"var", "var/lib", "var/lib/dpkg", "var/lib/dpkg/status.d", "var/lib/dpkg/status.d/" + package,
               "var/lib/dpkg/status.d/%s.md5sums" % package}
    if len(packages_in(found[0]["createdBy"])) == 1:  # a merged layer holds its other packages' files too
        for path in sorted(set(layer) - set(deb["entries"]) - allowed):
            problems.append("%s: its layer has /%s, which the package does not ship" % (package, path))
    for p in problems:
        print(p)
    print("%s: %d entries as in the package, %d stripped" % (package, kept, dropped), file=sys.stderr)
    return 1 if problems else 0


def cmd_stripped(layers_file, classes_text):
    classes = classes_of(classes_text)
    with open(layers_file) as f:
        layers = json.load(f)["layers"]
    bad = 0
    for i, layer in enumerate(layers):
        for path in sorted(layer["entries"]):
            why = stripped_by(path, classes)
            if why:
                print("layer %d (%s): /%s should be stripped (%s)" % (i, layer["createdBy"], path, why[0]))
                bad += 1
    return 1 if bad else 0


def main():
    args = sys.argv[1:]
    if args[:1] == ["layers"] and len(args) == 3:
        return cmd_layers(args[1], args[2])
    if args[:1] == ["deb"] and len(args) == 2:
        return cmd_deb(args[1])
    if args[:1] == ["compare-deb"] and len(args) == 4:
        return cmd_compare_deb(args[1], args[2], args[3])
    if args[:1] == ["stripped"] and len(args) == 3:
        return cmd_stripped(args[1], args[2])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main() or 0)

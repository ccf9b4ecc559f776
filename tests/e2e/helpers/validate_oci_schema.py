#!/usr/bin/env python3
"""Validates JSON documents against the OCI image-spec JSON schemas.

usage: validate_oci_schema.py SCHEMA_DIR KIND FILE [KIND FILE ...]
KIND: manifest | config | index | layout | descriptor

The schemas are draft-04 with relative $refs ("defs.json#/...") and no network
access: every schema file is preloaded into the resolver's store under its
"id" and under the name it has relative to every base URL in use.
"""
import json
import os
import sys

import jsonschema

KINDS = {
    "manifest": "image-manifest-schema.json",
    "config": "config-schema.json",
    "index": "image-index-schema.json",
    "layout": "image-layout-schema.json",
    "descriptor": "content-descriptor.json",
}


def load_store(schema_dir):
    schemas = {}
    for name in os.listdir(schema_dir):
        if name.endswith(".json"):
            with open(os.path.join(schema_dir, name)) as f:
                schemas[name] = json.load(f)
    # Every "id", nested ones too, opens a resolution scope: a relative
    # "$ref": "defs.json#..." may be resolved against any of them.
    bases = {"file://" + os.path.abspath(schema_dir) + "/"}

    def collect(node):
        if isinstance(node, dict):
            for key in ("id", "$id"):
                if isinstance(node.get(key), str) and "://" in node[key]:
                    sid = node[key].rstrip("#")
                    bases.add(sid.rsplit("/", 1)[0] + "/")
                    bases.add(sid + "/")
            for v in node.values():
                collect(v)
        elif isinstance(node, list):
            for v in node:
                collect(v)

    for s in schemas.values():
        collect(s)
    store = {}
    for name, s in schemas.items():
        for base in bases:
            store[base + name] = s
        sid = s.get("id") or s.get("$id")
        if sid:
            store[sid] = s
            store[sid.rstrip("#")] = s
    return schemas, store


def main():
    if len(sys.argv) < 4 or len(sys.argv) % 2 != 0:
        print(__doc__, file=sys.stderr)
        return 2
    schema_dir = sys.argv[1]
    schemas, store = load_store(schema_dir)
    bad = 0
    for kind, path in zip(sys.argv[2::2], sys.argv[3::2]):
        schema = schemas[KINDS[kind]]
        resolver = jsonschema.RefResolver(base_uri=schema.get("id", ""), referrer=schema, store=store)
        validator = jsonschema.Draft4Validator(schema, resolver=resolver,
                                               format_checker=jsonschema.FormatChecker())
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            print(f"INVALID {kind} {path}: not readable JSON: {e}")
            bad += 1
            continue
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            bad += 1
            for e in errors:
                where = "/".join(str(p) for p in e.path) or "(top)"
                print(f"INVALID {kind} {path}: at {where}: {e.message}")
        else:
            print(f"ok {kind} {path}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

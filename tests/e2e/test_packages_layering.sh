#!/usr/bin/env bash
# Package layers and strip classes, from the local signed mirror (curl, sed,
# gzip, ca-certificates, libc-bin and their dependencies, one lockfile for
# every build), each layer read with Python's tarfile and each .deb with
# dpkg-deb:
#   - by default one layer per package, in name order, then one final
#     "generated" layer that alone holds the generated files (merged-/usr
#     links, ld.so.cache, the CA bundle); each package's status.d files are
#     in its own layer;
#   - layering: {max-layers: N} (2, 3, 10): exactly N layers; the package
#     layers are the repeated merge of the two groups with the smallest
#     sums of .deb sizes (an oracle written here); an unmerged package keeps
#     the default build's diff_id, a merged layer holds exactly its
#     packages' entries (later packages win); the 4 largest packages stay
#     alone with 10; the generated layer is the same; the unpacked trees
#     (umoci) are the same as without layering; a rebuild without cache
#     gives the same digest; skopeo reads them. A files layer counts too;
#     a max-layers that leaves no layer for the packages, 0, 1, 128, -3,
#     2.5, a word, a list or a misspelt key is refused naming the spec, line
#     and field, with nothing written;
#   - the default strip leaves no file below /usr/share/doc (but every
#     copyright file, byte for byte), /usr/share/man, /usr/share/info,
#     /usr/share/lintian or /usr/share/locale, in any layer; everything else
#     of every .deb is in its layer as it is (C.UTF-8 locale included);
#     strip: [] keeps every entry of every .deb as it is; strip: [docs]
#     drops only the docs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_mirror.sh"
need_root
need skopeo umoci jq dpkg-deb sha256sum
mirror_start

PKGS=(curl sed gzip ca-certificates libc-bin)
ALL_CLASSES=docs,man,info,lintian,locales
OUT=$T/out
mkdir -p "$OUT"

# le ARGS...: tests/e2e/helpers/layer_entries.py (per-layer and per-.deb listings).
le() { "$PYTHON" "$E2E_DIR/helpers/layer_entries.py" "$@"; }

# spec_for NAME EXTRA: $T/NAME/image.yaml with PKGS, the YAML EXTRA and the
# shared lockfile (layering and strip are not lock inputs).
spec_for() {
  local dir=$T/$1
  SPEC_EXTRA=$2 pkg_spec "$dir/image.yaml" amd64 "${PKGS[@]}"
  if [ -f "$T/lock.json" ]; then cp "$T/lock.json" "$dir/image.lock.json"; fi
  echo "$dir/image.yaml"
}

# build NAME EXTRA [ARGS...]: builds spec_for NAME EXTRA into oci:$OUT/NAME:1;
# $T/NAME.build.json is distill's report, $T/NAME.layers.json the layers'
# entries; sets DIGEST.
build() {
  local name=$1 extra=$2 spec
  shift 2
  spec=$(spec_for "$name" "$extra")
  distill_build "$spec" "oci:$OUT/$name:1" --format json "$@" >"$T/$name.build.json"
  DIGEST=$(jq_file "$T/$name.build.json" .digest)
  le layers "$OUT/$name" "$DIGEST" >"$T/$name.layers.json" || fail "cannot read the layers of $name"
}

# created_by NAME: the createdBy of each layer (from the config), one a line.
created_by() { jq -r '.layers[].createdBy' "$T/$1.layers.json"; }

# tree LAYOUT OUTFILE: umoci unpack, then every path with type, mode, owner,
# size, link target and sha256 (the merged view a runtime sees).
tree() {
  local bundle=$T/bundle.${1##*/}
  rm -rf "$bundle"
  umoci unpack --image "$1:1" "$bundle" >"$T/umoci.log" 2>&1 || fail "umoci unpack $1:1 failed" "$(cat "$T/umoci.log")"
  (
    cd "$bundle/rootfs" || exit 1
    find . -printf '%p %y %m %U %G %s %l\n' | LC_ALL=C sort
    find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
  ) >"$2"
  rm -rf "$bundle"
}

step "lock: the packages every build uses"
LOCKSPEC=$(spec_for lock "")
run_expect 0 "$DISTILL" lock "$LOCKSPEC"
cp "$(lockfile_of "$LOCKSPEC")" "$T/lock.json"
NPKG=$(jq_file "$T/lock.json" '.architectures.amd64.packages | length')
jq -r '.architectures.amd64.packages[] | "distill: package \(.name) \(.version)"' "$T/lock.json" >"$T/lock.layers"
[ "$NPKG" -gt 20 ] || fail "expected more than 20 packages in the closure of ${PKGS[*]}, got $NPKG"
note "$NPKG packages"
# The .debs, from the mirror's pool, as tarfile reads them.
mkdir -p "$T/debs"
while IFS=$'\t' read -r name filename sha; do
  deb=$MIRROR_DIR/$filename
  assert_eq "sha256:$sha" "$(sha256 "$deb")" "the pool's $filename is the locked one"
  le deb "$deb" >"$T/debs/$name.json" || fail "cannot read $deb"
done < <(jq -r '.architectures.amd64.packages[] | [.name, .filename, (.sha256 | sub("^sha256:"; ""))] | @tsv' "$T/lock.json")

step "default: one layer per package in name order, then the generated layer"
build plain ""
PLAIN=$DIGEST
created_by plain >"$T/plain.created"
assert_eq "$NPKG" "$(grep -c '^distill: package ' "$T/plain.created")" "package layers of the default build"
assert_eq "$(LC_ALL=C sort "$T/lock.layers")" "$(grep '^distill: package ' "$T/plain.created")" \
  "package layers in name order, one per locked package"
assert_eq "distill: generated files" "$(tail -n1 "$T/plain.created")" "the last layer"
assert_eq "$((NPKG + 1))" "$(wc -l <"$T/plain.created")" "layers of the default build"
jq -r '.images[0].layers[] | "\(.size) \(.createdBy)"' "$T/plain.build.json" >"$T/plain.sizes"

# check_generated NAME: the last layer holds the generated files (and their
# parent directories) and nothing else; no other layer has any of them;
# each package's status.d files are in the layer that names the package.
check_generated() {
  local name=$1
  jq -r '.layers[-1].entries | to_entries[] | "\(.key) \(.value.type) \(.value.target // "")"' "$T/$name.layers.json" >"$T/$name.generated"
  assert_eq "bin symlink usr/bin
etc dir 
etc/ld.so.cache file 
etc/ssl dir 
etc/ssl/certs dir 
etc/ssl/certs/ca-certificates.crt file 
lib symlink usr/lib
lib64 symlink usr/lib64
sbin symlink usr/sbin" "$(cat "$T/$name.generated")" "[$name] the generated layer's entries"
  local elsewhere
  elsewhere=$(jq -r '.layers[-1].entries as $g | .layers[:-1][] | .createdBy as $c | .entries | to_entries[]
      | select($g[.key] and $g[.key].type != "dir") | "\(.key) in \($c)"' "$T/$name.layers.json")
  assert_eq "" "$elsewhere" "[$name] generated files in layers other than the last"
  local misplaced
  misplaced=$(jq -r '.layers[] | .createdBy as $c
      | ($c | if startswith("distill: package ") then ltrimstr("distill: package ") | split(" ") | [.[range(0; length; 2)]] else [] end) as $pk
      | .entries | keys[] | select(test("^var/lib/dpkg/status.d/[^/]+$"))
      | (sub("^var/lib/dpkg/status.d/"; "") | sub("\\.md5sums$"; "")) as $p
      | select(any($pk[]; . == $p) | not) | "status.d/\($p) in \($c)"' "$T/$name.layers.json")
  assert_eq "" "$misplaced" "[$name] status.d files outside their package's layer"
  assert_eq "$NPKG" "$(jq -r '[.layers[].entries | keys[] | select(test("^var/lib/dpkg/status.d/[^/]+$")) | select(endswith(".md5sums") | not)] | length' "$T/$name.layers.json")" \
    "[$name] status.d files, one per package"
}
check_generated plain

step "the .debs really hold what the strip classes drop"
# Otherwise the strip checks below would pass on nothing.
jq -s '{layers: [.[] | {createdBy: .package, entries: .entries}]}' "$T"/debs/*.json >"$T/debs.layers.json"
for class in docs man info lintian locales; do
  le stripped "$T/debs.layers.json" "$class" >"$T/debs.$class" || true
  n=$(wc -l <"$T/debs.$class")
  note "$class: $n entries in the .debs"
  [ "$n" -gt 0 ] || fail "no .deb of ${PKGS[*]} and their dependencies has an entry of strip class $class"
done
jq -r '.entries | keys[] | select(test("^usr/share/doc/[^/]+/copyright$"))' "$T"/debs/*.json | LC_ALL=C sort >"$T/deb.copyrights"
note "$(wc -l <"$T/deb.copyrights") copyright files in the .debs"

step "default strip: no docs, man, info, lintian or locale files in any layer"
le stripped "$T/plain.layers.json" "$ALL_CLASSES" >"$T/plain.stripped" ||
  fail "the default build keeps files its strip classes drop" "$(head -n 30 "$T/plain.stripped")"
# What is left of the class roots are directories, empty but for /usr/share/doc/PKG.
jq -r '.layers[].entries | to_entries[] | select(.key | test("^usr/share/(man|info|lintian|locale)$")) | select(.value.type != "dir") | .key' \
  "$T/plain.layers.json" >"$T/plain.roots"
assert_eq "" "$(cat "$T/plain.roots")" "class roots that are not directories"
jq -r '.layers[].entries | keys[] | select(test("^usr/share/doc/[^/]+/copyright$"))' "$T/plain.layers.json" | LC_ALL=C sort >"$T/plain.copyrights"
assert_eq "$(cat "$T/deb.copyrights")" "$(cat "$T/plain.copyrights")" "copyright files kept by the default strip"
# Each package's layer holds the rest of its .deb as it is: copyright
# files byte for byte, libc-bin's C.UTF-8 locale, hardlinks, modes, owners.
: >"$T/plain.compare"
for f in "$T"/debs/*.json; do
  le compare-deb "$T/plain.layers.json" "$f" "$ALL_CLASSES" >>"$T/plain.compare" 2>>"$T/plain.compare.log" || true
done
[ ! -s "$T/plain.compare" ] || fail "package layers of the default build differ from their .debs" "$(head -n 30 "$T/plain.compare")"
assert_eq "$NPKG" "$(grep -c ' entries as in the package' "$T/plain.compare.log")" "packages compared with their .debs"
for f in LC_CTYPE LC_COLLATE LC_MESSAGES/SYS_LC_MESSAGES; do
  assert_eq file "$(jq -r --arg p "usr/lib/locale/C.utf8/$f" '[.layers[].entries[$p].type // empty] | join(",")' "$T/plain.layers.json")" \
    "the C.UTF-8 locale's $f (kept by the default strip)"
done

step "strip: [] keeps every entry of every .deb as it is"
build keep "strip: []"
KEEP=$DIGEST
: >"$T/keep.compare"
for f in "$T"/debs/*.json; do
  le compare-deb "$T/keep.layers.json" "$f" "" >>"$T/keep.compare" 2>>"$T/keep.compare.log" || true
done
[ ! -s "$T/keep.compare" ] || fail "package layers of strip: [] differ from their .debs" "$(head -n 30 "$T/keep.compare")"
assert_eq "$NPKG" "$(grep -c ' entries as in the package' "$T/keep.compare.log")" "packages compared with their .debs"
! le stripped "$T/keep.layers.json" "$ALL_CLASSES" >/dev/null || fail "strip: [] kept no file of any strip class"
check_generated keep

step "strip: [docs] drops the docs only"
build docs "strip: [docs]"
: >"$T/docs.compare"
for f in "$T"/debs/*.json; do
  le compare-deb "$T/docs.layers.json" "$f" docs >>"$T/docs.compare" 2>>"$T/docs.compare.log" || true
done
[ ! -s "$T/docs.compare" ] || fail "package layers of strip: [docs] differ from their .debs" "$(head -n 30 "$T/docs.compare")"
assert_eq "$NPKG" "$(grep -c ' entries as in the package' "$T/docs.compare.log")" "packages compared with their .debs"
assert_ne "$PLAIN" "$KEEP" "digests of the default strip and strip: []"
assert_ne "$KEEP" "$DIGEST" "digests of strip: [] and strip: [docs]"

# expected_groups PACKAGE_LAYERS: the package layers max-layers should give,
# as createdBy lines: one group per package (name order), and while there
# are more than PACKAGE_LAYERS groups, the two with the smallest sums of
# .deb sizes (the earlier on a tie) become one, in the place of the earlier;
# a group lists its packages in name order.
expected_groups() {
  jq -c '[.architectures.amd64.packages[] | {n: "\(.name) \(.version)", s: .size}]' "$T/lock.json" | "$PYTHON" -c '
import json, sys
want = int(sys.argv[1])
pkgs = sorted(json.load(sys.stdin), key=lambda p: p["n"].split(" ")[0].encode())
groups = [([i], p["s"]) for i, p in enumerate(pkgs)]
while len(groups) > want:
    a, b = sorted(sorted(range(len(groups)), key=lambda i: (groups[i][1], i))[:2])
    groups[a] = (sorted(groups[a][0] + groups[b][0]), groups[a][1] + groups[b][1])
    del groups[b]
for members, _ in groups:
    print("distill: package " + " ".join(pkgs[i]["n"] for i in members))
' "$1"
}

# check_layering NAME N PACKAGE_LAYERS: the build NAME (max-layers: N) has
# exactly N layers: the expected package groups, then the generated layer
# (as in the default build), then the files layer if any; a single-package
# layer has the default build's diff_id, a merged one exactly the entries of
# its packages' default layers (later packages win); skopeo reads it.
check_layering() {
  local name=$1 n=$2 groups=$3
  assert_eq "$n" "$(jq -r '.images[0].layers | length' "$T/$name.build.json")" "[$name] layers with max-layers: $n"
  expected_groups "$groups" >"$T/$name.want"
  assert_eq "$(cat "$T/$name.want")" "$(created_by "$name" | grep '^distill: package ')" "[$name] the package layers (the smallest merged first)"
  assert_eq "distill: generated files" "$(created_by "$name" | sed -n "$((groups + 1))p")" "[$name] the layer after the packages"
  assert_eq "$(jq -r '.images[0].layers[-1].diffID' "$T/plain.build.json")" \
    "$(jq -r --argjson i "$groups" '.images[0].layers[$i].diffID' "$T/$name.build.json")" "[$name] diff_id of the generated layer"
  local i=0 created diff
  while IFS= read -r created; do
    if [ "$(wc -w <<<"$created")" = 4 ]; then
      diff=$(jq -r --arg c "$created" '.images[0].layers[] | select(.createdBy == $c) | .diffID' "$T/plain.build.json")
      assert_eq "$diff" "$(jq -r --argjson i $i '.images[0].layers[$i].diffID' "$T/$name.build.json")" "[$name] diff_id of the unmerged layer '$created'"
    fi
    i=$((i + 1))
  done <"$T/$name.want"
  "$PYTHON" - "$T/plain.layers.json" "$T/$name.layers.json" "$groups" >"$T/$name.merged" <<'PY' || fail "[$name] merged layers differ from their packages' layers" "$(head -n 30 "$T/$name.merged")"
import json, sys
plain = {l["createdBy"].split(" ")[2]: l["entries"] for l in json.load(open(sys.argv[1]))["layers"][:-1]}
merged = json.load(open(sys.argv[2]))["layers"][:int(sys.argv[3])]
bad = 0
for layer in merged:
    names = layer["createdBy"].split(" ")[2::2]
    want = {}
    for name in names:
        want.update(plain[name])
    for path in sorted(set(want) | set(layer["entries"])):
        if want.get(path) != layer["entries"].get(path):
            print("%s: /%s: want %s, got %s" % (layer["createdBy"][:80], path, want.get(path), layer["entries"].get(path)))
            bad += 1
sys.exit(1 if bad else 0)
PY
  skopeo inspect "oci:$OUT/$name:1" >"$T/$name.skopeo" 2>"$T/skopeo.err" || fail "[$name] skopeo inspect failed" "$(cat "$T/skopeo.err")"
  assert_jq "$T/$name.skopeo" .Digest "$(jq_file "$T/$name.build.json" .digest)" "[$name] skopeo's digest"
  assert_jq "$T/$name.skopeo" '.Layers | length' "$n" "[$name] skopeo's layers"
}

step "layering: {max-layers: N} merges the smallest packages"
tree "$OUT/plain" "$T/plain.tree"
for n in 2 3 10; do
  build "max$n" "layering: {max-layers: $n}"
  check_layering "max$n" "$n" "$((n - 1))"
  check_generated "max$n"
  tree "$OUT/max$n" "$T/max$n.tree"
  cmp -s "$T/plain.tree" "$T/max$n.tree" || fail "[max$n] the unpacked tree differs from the default build's" "$(diff "$T/plain.tree" "$T/max$n.tree" | head -n 20)"
done
# The largest packages (by .deb size, the measure merging uses) keep their
# own layers with 10 layers. Merging evens the layers out, so a package
# stays alone only while it outweighs the merged groups: 4 do here.
jq -r '.architectures.amd64.packages | sort_by(-.size) | .[:4][] | "distill: package \(.name) \(.version)"' "$T/lock.json" >"$T/largest"
while IFS= read -r created; do
  created_by max10 | grep -qxF "$created" || fail "one of the 4 largest packages shares a layer with max-layers: 10: $created" "$(created_by max10)"
done <"$T/largest"
note "alone with max-layers 10: $(cut -d' ' -f3 "$T/largest" | tr '\n' ' ')"

step "max-layers: the same image again, from an empty cache"
distill_build "$(spec_for max3 "layering: {max-layers: 3}")" "oci:$OUT/max3-again:1" --format json --no-cache >"$T/max3-again.build.json"
assert_jq "$T/max3-again.build.json" .digest "$(jq_file "$T/max3.build.json" .digest)" "digest of the max-layers: 3 image rebuilt with --no-cache"
assert_eq "" "$(jq -r '.images[0].layers[] | select(.reused) | .createdBy' "$T/max3-again.build.json")" "layers reused by a --no-cache build"

step "max-layers counts the files layer"
build files3 "layering: {max-layers: 3}
files: [{dst: /etc/motd, content: \"hi\\n\"}]"
check_layering files3 3 1
assert_eq "distill build: files and paths" "$(created_by files3 | tail -n1)" "the last layer of files3"

# bad_layering NAME LINE FIELD PART EXTRA: a spec with EXTRA is refused with
# exit 1 naming SPEC:LINE: and FIELD, with PART in the message, nothing on
# stdout and nothing at the destination.
bad_layering() {
  local name=$1 line=$2 field=$3 part=$4 extra=$5 spec
  spec=$(spec_for "bad-$name" "$extra")
  mkdir -p "$T/bad-$name/out"
  run_expect 1 "$DISTILL" build "$spec" -o "oci:$T/bad-$name/out/img:1"
  assert_contains "$RUN_ERR" "distill: error: $spec:$line:" "[$name] the message names the spec and line $line"
  assert_contains "$RUN_ERR" ": $field" "[$name] the message names the field"
  assert_contains "$RUN_ERR" "$part" "[$name] the message explains the mistake"
  assert_eq "" "$RUN_OUT" "[$name] nothing on stdout"
  assert_dir_empty "$T/bad-$name/out" "[$name] nothing may be written"
}

step "max-layers: values it cannot take are refused"
# pkg_spec writes contents: (2 lines) and archs: before EXTRA.
L=5
bad_layering zero $L:24 layering.max-layers '"0" is not a number of layers from 2 to 127' "layering: {max-layers: 0}"
bad_layering one $L:24 layering.max-layers '"1" is not a number of layers from 2 to 127' "layering: {max-layers: 1}"
bad_layering too-many $L:24 layering.max-layers '"128" is not a number of layers from 2 to 127' "layering: {max-layers: 128}"
bad_layering negative $L:24 layering.max-layers '"-3" is not a number of layers from 2 to 127' "layering: {max-layers: -3}"
bad_layering word $L:24 layering.max-layers '"three" is not a number of layers from 2 to 127' "layering: {max-layers: three}"
bad_layering fraction $L:24 layering.max-layers '"2.5" is not a number of layers from 2 to 127' "layering: {max-layers: 2.5}"
bad_layering list $L:24 layering.max-layers "" "layering: {max-layers: [3]}"
bad_layering unknown-key $L:12 layering.max-layer "unknown key" "layering: {max-layer: 3}"
# Two layers cannot hold packages, generated files and files.
bad_layering no-room $L:24 layering.max-layers "at least 3" "layering: {max-layers: 2}
files: [{dst: /etc/motd, content: \"hi\\n\"}]"

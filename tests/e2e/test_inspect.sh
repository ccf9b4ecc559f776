#!/usr/bin/env bash
# `distill inspect` on each transport, text and json: the expected files with
# modes, owners, link targets and capabilities; layers, manifest and config
# digests and sizes that agree with skopeo's. Damaged archives are refused:
# a blob that does not match its digest (exit 1, "does not match its digest")
# and a member that escapes the archive ("../evil"), with nothing written
# outside.
. "$(dirname "$0")/lib.sh"
need skopeo jq tar setcap
compile_probe "$T/probe"
make_full_fixture "$T/spec" "$T/probe"
setcap cap_net_bind_service+ep "$T/spec/src/server"
OUT=$T/out
mkdir -p "$OUT"

distill_build "$T/spec/image.yaml" "oci:$OUT/layout:1.0" --format json >"$T/build.json"
distill_build "$T/spec/image.yaml" "oci-archive:$OUT/image.tar:1.0" -q >/dev/null
distill_build "$T/spec/image.yaml" "docker-archive:$OUT/docker.tar:example/app:1.0" -q >/dev/null
DIGEST=$(jq_file "$T/build.json" .digest)
PROBE_SIZE=$(stat -c %s "$T/probe")

# path type mode uid:gid size target xattrs
EXPECTED_FILES="/app directory 0755 0:0 - - -
/app/current symlink 0777 0:0 - server -
/app/server file 0755 65532:65532 $PROBE_SIZE - security.capability
/app/server-hardlink hardlink - - - /app/server -
/data directory 0750 65532:65532 - - -
/etc directory 0755 0:0 - - -
/etc/app.conf file 0640 0:65532 22 - -
/srv directory 0755 0:0 - - -
/srv/tree directory 0755 0:0 - - -
/srv/tree/a.txt file 0644 0:0 6 - -
/srv/tree/b-hardlink.txt hardlink - - - /srv/tree/a.txt -
/srv/tree/public directory 1777 0:0 - - -
/srv/tree/setuid file 4755 0:0 15 - -
/srv/tree/sub directory 0750 0:0 - - -
/srv/tree/sub/link-to-a symlink 0777 0:0 - ../a.txt -
/srv/tree/sub/run.sh file 0700 0:0 19 - -
/tmp directory 1777 0:0 - - -
/usr directory 0755 0:0 - - -
/usr/bin directory 0755 0:0 - - -
/usr/bin/app symlink 0777 0:0 - /app/server -"

# files_table JSON: the files of an inspect report in the form above.
# (A hardlink's own mode and owner are checked separately below.)
files_table() {
  jq_file "$1" '.files[] | [.path, .type,
    (if .type == "hardlink" then "-" else .mode end),
    (if .type == "hardlink" then "-" else "\(.uid):\(.gid)" end),
    (if .size == null then "-" else (.size | tostring) end),
    (.target // "-"),
    (if .xattrs == null then "-" else (.xattrs | join(",")) end)] | join(" ")'
}

# skopeo's view of an OCI image: raw manifest and config.
skopeo inspect --raw "oci:$OUT/layout:1.0" >"$T/sk.manifest" 2>"$T/sk.err" || fail "skopeo inspect --raw failed" "$(cat "$T/sk.err")"
skopeo inspect --config --raw "oci:$OUT/layout:1.0" >"$T/sk.config" 2>"$T/sk.err" || fail "skopeo --config failed" "$(cat "$T/sk.err")"
SK_MANIFEST_DIGEST=$(skopeo inspect --format '{{.Digest}}' "oci:$OUT/layout:1.0")
SK_LAYERS=$(jq -c '[.layers[] | {digest, size, mediaType}]' "$T/sk.manifest")
SK_CONFIG_DIGEST=$(jq -r .config.digest "$T/sk.manifest")
SK_DIFF_IDS=$(jq -c .rootfs.diff_ids "$T/sk.config")

check_common() { # JSON REF
  local j=$1 ref=$2
  assert_jq "$j" .reference "$ref"
  assert_eq "$EXPECTED_FILES" "$(files_table "$j")" "inspect --format json files of $ref"
  assert_jq "$j" .configDigest "$SK_CONFIG_DIGEST" "config digest of $ref vs skopeo"
  assert_jq "$j" '.config | tojson' "$(jq -c . "$T/sk.config")" "config of $ref vs skopeo --config"
  assert_jq "$j" '[.layers[].diffID] | tojson' "$SK_DIFF_IDS" "layer diffIDs of $ref vs skopeo's config"
  assert_jq "$j" '[.files[].layer] | unique | tojson' '[0]' "every file comes from layer 0"
}

inspect_json() { # REF OUTFILE [ARGS...]
  local ref=$1 out=$2
  shift 2
  "$DISTILL" inspect "$ref" --format json "$@" >"$out" 2>"$T/inspect.err" ||
    fail "distill inspect $ref --format json failed" "$(cat "$T/inspect.err")"
}

check_text() { # REF
  local ref=$1 text
  text=$("$DISTILL" inspect "$ref" 2>"$T/inspect.err") || fail "distill inspect $ref failed" "$(cat "$T/inspect.err")"
  text+=$'\n' # (the patterns below end lines with \n)
  assert_contains "$text" "Image:     $ref" "text header of $ref"
  assert_contains "$text" "Config:    $SK_CONFIG_DIGEST" "text: config digest of $ref"
  assert_contains "$text" "Platform:  linux/amd64" "text: platform of $ref"
  assert_contains "$text" "Created:   1970-01-01T00:00:00Z" "text: created of $ref"
  assert_matches "$text" $'\n  User +65532:65532\n' "text: user of $ref"
  assert_matches "$text" $'\n  WorkingDir +/app\n' "text: workdir of $ref"
  assert_matches "$text" $'\n  Entrypoint +\\["/app/server"\\]\n' "text: entrypoint of $ref"
  assert_contains "$text" "$(jq -r '.layers[0].digest' "$T/sk.manifest")" "text: layer digest of $ref"
  assert_matches "$text" $'\n  drwxr-x--- 65532:65532 +/data/\n' "text: /data of $ref"
  assert_matches "$text" $'\n  -rwxr-xr-x 65532:65532 +'"$PROBE_SIZE"$'  /app/server \\[security.capability\\]\n' "text: /app/server of $ref"
  assert_matches "$text" $'\n  -rwsr-xr-x 0:0 +15  /srv/tree/setuid\n' "text: setuid file of $ref"
  assert_matches "$text" $'\n  drwxrwxrwt 0:0 +/tmp/\n' "text: sticky /tmp of $ref"
  assert_matches "$text" $'\n  lrwxrwxrwx 0:0 +/usr/bin/app -> /app/server\n' "text: symlink of $ref"
  assert_matches "$text" $'  /srv/tree/b-hardlink.txt link to /srv/tree/a.txt\n' "text: hardlink of $ref"
  local no_files
  no_files=$("$DISTILL" inspect "$ref" --no-files 2>"$T/inspect.err") || fail "inspect --no-files $ref failed" "$(cat "$T/inspect.err")"
  assert_not_contains "$no_files" "Files:" "--no-files leaves out the files"
  assert_contains "$no_files" "Layers:" "--no-files keeps the layers"
}

step "inspect oci:"
REF="oci:$OUT/layout:1.0"
inspect_json "$REF" "$T/oci.json"
check_common "$T/oci.json" "$REF"
assert_jq "$T/oci.json" .manifest.digest "$SK_MANIFEST_DIGEST" "manifest digest vs skopeo"
assert_jq "$T/oci.json" .manifest.digest "$DIGEST" "manifest digest vs the build's"
assert_jq "$T/oci.json" .manifest.size "$(stat -c %s "$(blob_path "$OUT/layout" "$DIGEST")")" "manifest size"
assert_jq "$T/oci.json" '[.layers[] | {digest, size, mediaType}] | tojson' "$SK_LAYERS" "layers vs skopeo --raw"
check_text "$REF"
inspect_json "oci:$OUT/layout" "$T/oci-untagged.json" --no-files
assert_jq "$T/oci-untagged.json" .files null "--no-files: no files in json"
assert_jq "$T/oci-untagged.json" .manifest.digest "$DIGEST" "the only image of an untagged oci: reference"

step "inspect oci-archive:"
REF="oci-archive:$OUT/image.tar:1.0"
inspect_json "$REF" "$T/ocia.json"
check_common "$T/ocia.json" "$REF"
assert_jq "$T/ocia.json" .manifest.digest "$(skopeo inspect --format '{{.Digest}}' "$REF")" "manifest digest vs skopeo"
assert_jq "$T/ocia.json" '[.layers[] | {digest, size, mediaType}] | tojson' \
  "$(skopeo inspect --raw "$REF" | jq -c '[.layers[] | {digest, size, mediaType}]')" "layers vs skopeo --raw"
check_text "$REF"

step "inspect docker-archive:"
REF="docker-archive:$OUT/docker.tar:example/app:1.0"
inspect_json "$REF" "$T/dock.json"
check_common "$T/dock.json" "$REF"
# skopeo presents a docker-archive's layers by their diff_id; distill shows
# the blob the archive holds, with its real digest and size.
skopeo inspect --raw "$REF" >"$T/sk.dock" 2>"$T/sk.err" || fail "skopeo inspect --raw $REF failed" "$(cat "$T/sk.err")"
assert_jq "$T/dock.json" '[.layers[].diffID] | tojson' "$(jq -c '[.layers[].digest]' "$T/sk.dock")" "diffIDs vs skopeo's docker-archive layers"
mkdir "$T/x-dock"
tar -xf "$OUT/docker.tar" -C "$T/x-dock"
LAYER_MEMBER=$(jq -r '.[0].Layers[0]' "$T/x-dock/manifest.json")
assert_jq "$T/dock.json" '.layers[0].digest' "$(sha256 "$T/x-dock/$LAYER_MEMBER")" "layer digest = sha256 of the archive's layer file"
assert_jq "$T/dock.json" '.layers[0].size' "$(stat -c %s "$T/x-dock/$LAYER_MEMBER")" "layer size = size of the archive's layer file"
check_text "$REF"
# The archive's layer is gzip-compressed: the media type must say so, as
# skopeo's does (application/vnd.docker.image.rootfs.diff.tar.gzip).
soft "docker-archive layer media type" assert_jq "$T/dock.json" '.layers[0].mediaType' \
  "$(jq -r '.layers[0].mediaType' "$T/sk.dock")" "media type of the docker-archive's gzip layer (expected: skopeo's)"
inspect_json "docker-archive:$OUT/docker.tar" "$T/dock-untagged.json" --no-files
assert_jq "$T/dock-untagged.json" .configDigest "$SK_CONFIG_DIGEST" "the only image of an untagged docker-archive reference"

step "inspect of a multi-platform image"
sed 's/^archs: .*/archs: [amd64, arm64]/' "$T/spec/image.yaml" >"$T/spec/multi.yaml"
distill_build "$T/spec/multi.yaml" "oci:$OUT/multi:1.0" --format json >"$T/multi-build.json"
assert_jq "$T/multi-build.json" .mediaType application/vnd.oci.image.index.v1+json "two platforms: the top is an index"
inspect_json "oci:$OUT/multi:1.0" "$T/arm.json" --arch arm64 --no-files
assert_jq "$T/arm.json" '.config.architecture + "/" + .config.variant' arm64/v8
assert_jq "$T/arm.json" .manifest.digest "$(jq_file "$T/multi-build.json" '.images[] | select(.platform == "linux/arm64/v8") | .manifest')"
inspect_json "oci:$OUT/multi:1.0" "$T/amd.json" --arch amd64 --no-files
assert_jq "$T/amd.json" .config.architecture amd64
run_expect 1 "$DISTILL" inspect "oci:$OUT/multi:1.0" --arch s390x
assert_contains "$RUN_ERR" "linux/s390x" "asking for a platform the index lacks"

step "inspect of missing things"
run_expect 1 "$DISTILL" inspect "oci:$OUT/layout:2.0"
assert_contains "$RUN_ERR" '"2.0"' "an unknown tag is named"
run_expect 1 "$DISTILL" inspect "oci:$T/nowhere:1.0"
assert_contains "$RUN_ERR" "$T/nowhere" "a missing layout is named"
run_expect 1 "$DISTILL" inspect "oci-archive:$T/nowhere.tar"
run_expect 2 "$DISTILL" inspect "bogus:$OUT/layout"

step "a tampered blob is refused"
# tamper ARCHIVE OUT MEMBER: copy of ARCHIVE with one byte of MEMBER flipped.
tamper() {
  "$PYTHON" - "$@" <<'EOF'
import io, sys, tarfile
src, dst, name = sys.argv[1:4]
with tarfile.open(src) as tin, tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as tout:
    found = False
    for m in tin.getmembers():
        data = tin.extractfile(m).read() if m.isfile() else None
        if m.name.rstrip("/") == name:
            b = bytearray(data)
            b[len(b) // 2] ^= 0x01
            data = bytes(b)
            found = True
        tout.addfile(m, io.BytesIO(data) if data is not None else None)
    if not found:
        sys.exit("no member " + name)
EOF
}
MANIFEST_HEX=${DIGEST#sha256:}
LAYER_HEX=$(jq_file "$T/oci.json" '.layers[0].digest')
LAYER_HEX=${LAYER_HEX#sha256:}
CONFIG_HEX=${SK_CONFIG_DIGEST#sha256:}
for hex in "$LAYER_HEX" "$CONFIG_HEX" "$MANIFEST_HEX"; do
  for kind in oci-archive docker-archive; do
    src=$OUT/image.tar
    [ $kind = oci-archive ] || src=$OUT/docker.tar
    tamper "$src" "$T/tampered.tar" "blobs/sha256/$hex"
    run_expect 1 env DISTILL_CACHE_DIR="$T/cache-tamper-$kind-${hex:0:8}" "$DISTILL" inspect "$kind:$T/tampered.tar"
    assert_contains "$RUN_ERR" "does not match its digest" "$kind with a flipped byte in blobs/sha256/${hex:0:12}"
    assert_contains "$RUN_ERR" "blobs/sha256/$hex" "the message names the damaged member"
  done
done
# The same in an oci: directory.
cp -a "$OUT/layout" "$T/tampered-layout"
printf 'X' | dd of="$T/tampered-layout/blobs/sha256/$LAYER_HEX" bs=1 seek=100 conv=notrunc status=none
run_expect 1 "$DISTILL" inspect "oci:$T/tampered-layout:1.0"
assert_contains "$RUN_ERR" "does not match its digest" "oci: layout with a damaged layer"
# A tampered archive must not poison the cache that later reads use.
CACHE=$T/cache-shared
tamper "$OUT/image.tar" "$T/tampered.tar" "blobs/sha256/$LAYER_HEX"
run_expect 1 env DISTILL_CACHE_DIR="$CACHE" "$DISTILL" inspect "oci-archive:$T/tampered.tar"
run_expect 0 env DISTILL_CACHE_DIR="$CACHE" "$DISTILL" inspect "oci-archive:$OUT/image.tar" --format json
assert_eq "$EXPECTED_FILES" "$(files_table "$T/last.out")" "a good archive read after a tampered one"

step "an archive member that escapes is refused, nothing written outside"
# evil ARCHIVE OUT MEMBER_NAME: ARCHIVE with an extra first member.
evil() {
  "$PYTHON" - "$@" <<'EOF'
import io, sys, tarfile
src, dst, name = sys.argv[1:4]
with tarfile.open(src) as tin, tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as tout:
    payload = b"pwned\n"
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    info.mode = 0o644
    tout.addfile(info, io.BytesIO(payload))
    for m in tin.getmembers():
        tout.addfile(m, tin.extractfile(m) if m.isfile() else None)
EOF
}
mkdir -p "$T/esc/work/deep"
for kind in oci-archive docker-archive; do
  src=$OUT/image.tar
  [ $kind = oci-archive ] || src=$OUT/docker.tar
  for name in ../evil ../../evil blobs/sha256/../../../evil; do
    evil "$src" "$T/esc/work/deep/evil.tar" "$name"
    (cd "$T/esc/work/deep" && run_expect 1 env DISTILL_CACHE_DIR="$T/esc/cache" "$DISTILL" inspect "$kind:evil.tar")
    RUN_ERR=$(cat "$T/last.err")
    assert_contains "$RUN_ERR" "escapes the archive" "$kind with a member named $name"
    assert_contains "$RUN_ERR" "$name" "the message names the member $name"
    LEAK=$(find "$T" -name evil)
    assert_eq "" "$LEAK" "nothing named evil may be written"
    assert_absent "$T/../evil" "nothing named evil beside the test's directory"
  done
done

step "a hardlink entry carries its target's mode and owner"
# An extractor (Docker, containers/storage) applies a hardlink entry's mode
# and owner to the inode it shares with its target: they must be the
# target's, or extracting the image changes the target.
check_hardlink_headers() { # JSON
  local entries targets
  entries=$(jq_file "$1" '[.files[] | select(.type == "hardlink") | "\(.path) \(.mode) \(.uid):\(.gid)"] | join("\n")')
  targets=$(jq_file "$1" '(.files | map({key: .path, value: .}) | from_entries) as $by |
    [.files[] | select(.type == "hardlink") | "\(.path) \($by[.target].mode) \($by[.target].uid):\($by[.target].gid)"] | join("\n")')
  assert_eq "$targets" "$entries" "hardlink entries' mode and owner must be their targets' (path mode uid:gid)"
}
soft "hardlink headers (oci:)" check_hardlink_headers "$T/oci.json"
soft "hardlink headers (docker-archive:)" check_hardlink_headers "$T/dock.json"

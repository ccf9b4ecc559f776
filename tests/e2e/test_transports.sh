#!/usr/bin/env bash
# One spec with every feature, built to each transport (oci:, oci-archive:,
# docker-archive:). skopeo must accept every result; the layouts must follow
# the OCI image-spec JSON schemas; digests, sizes and diff_ids must add up;
# the image config must hold every setting of the spec; a zstd build must
# carry the zstd media type and be accepted by skopeo and umoci.
. "$(dirname "$0")/lib.sh"
need skopeo umoci jq tar gzip zstd sha256sum

compile_probe "$T/probe"
make_full_fixture "$T/spec" "$T/probe"
SPEC=$T/spec/image.yaml
OUT=$T/out
mkdir -p "$OUT"

GZIP_LAYER=application/vnd.oci.image.layer.v1.tar+gzip
ZSTD_LAYER=application/vnd.oci.image.layer.v1.tar+zstd
MANIFEST_TYPE=application/vnd.oci.image.manifest.v1+json
INDEX_TYPE=application/vnd.oci.image.index.v1+json
CONFIG_TYPE=application/vnd.oci.image.config.v1+json
EXPECTED_ENV='["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","LANG=C.UTF-8","APP_MODE=production"]'

# check_config FILE CREATED: the image config (as skopeo --config prints it).
check_config() {
  local f=$1 created=$2
  assert_jq "$f" '.created' "$created" "config created"
  assert_jq "$f" '.architecture + "/" + .os' "amd64/linux"
  assert_jq "$f" '.config.Entrypoint | tojson' '["/app/server"]'
  assert_jq "$f" '.config.Cmd | tojson' '["--port","8080"]'
  assert_jq "$f" '.config.Env | tojson' "$EXPECTED_ENV" "Env: PATH first, then the spec's variables in the order written"
  assert_jq "$f" '.config.User' "65532:65532"
  assert_jq "$f" '.config.WorkingDir' "/app"
  assert_jq "$f" '.config.ExposedPorts | tojson' '{"53/udp":{},"8080/tcp":{}}'
  assert_jq "$f" '.config.Volumes | tojson' '{"/data":{}}'
  assert_jq "$f" '.config.StopSignal' "SIGTERM"
  assert_jq "$f" '.config.Labels | tojson' '{"org.example.team":"payments","org.opencontainers.image.title":"e2e-full"}'
  assert_jq "$f" '.rootfs.type' "layers"
  assert_jq "$f" '.rootfs.diff_ids | length' "1"
  assert_jq "$f" '[.history[].created] | unique | tojson' "[\"$created\"]" "history timestamps"
}

# check_layout DIR DIGEST REF_NAME CONTAINERD_NAME LAYER_TYPE: an OCI layout
# (a directory, or an extracted archive) holding exactly one tagged image.
check_layout() {
  local dir=$1 digest=$2 ref_name=$3 containerd_name=$4 layer_type=$5
  assert_exists "$dir/oci-layout"
  assert_eq '{"imageLayoutVersion":"1.0.0"}' "$(jq -c . "$dir/oci-layout")" "oci-layout content"
  assert_jq "$dir/index.json" '.schemaVersion' 2
  assert_jq "$dir/index.json" '.mediaType' "$INDEX_TYPE"
  assert_jq "$dir/index.json" '.manifests | length' 1
  assert_jq "$dir/index.json" '.manifests[0].digest' "$digest" "index.json points at the built manifest"
  assert_jq "$dir/index.json" '.manifests[0].mediaType' "$MANIFEST_TYPE"
  assert_jq "$dir/index.json" '.manifests[0].platform | "\(.os)/\(.architecture)"' "linux/amd64"
  assert_jq "$dir/index.json" '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$ref_name"
  assert_jq "$dir/index.json" '.manifests[0].annotations["io.containerd.image.name"]' "$containerd_name"

  # Every blob is stored under its own digest.
  local blob n=0
  for blob in "$dir"/blobs/sha256/*; do
    assert_eq "sha256:${blob##*/}" "$(sha256 "$blob")" "blob content must hash to its file name"
    n=$((n + 1))
  done
  assert_eq 3 "$n" "blobs in the layout (manifest, config, one layer)"

  local manifest config layer
  manifest=$(blob_path "$dir" "$digest")
  assert_exists "$manifest" "the manifest blob"
  assert_jq "$dir/index.json" '.manifests[0].size' "$(stat -c %s "$manifest")" "manifest size in index.json"
  assert_jq "$manifest" '.schemaVersion' 2
  assert_jq "$manifest" '.mediaType' "$MANIFEST_TYPE"
  assert_jq "$manifest" '.config.mediaType' "$CONFIG_TYPE"
  assert_jq "$manifest" '.annotations["org.opencontainers.image.source"]' "https://example.com/payments"
  assert_jq "$manifest" '.layers | length' 1
  assert_jq "$manifest" '.layers[0].mediaType' "$layer_type"
  config=$(blob_path "$dir" "$(jq_file "$manifest" .config.digest)")
  layer=$(blob_path "$dir" "$(jq_file "$manifest" '.layers[0].digest')")
  assert_jq "$manifest" '.config.size' "$(stat -c %s "$config")" "config size in the manifest"
  assert_jq "$manifest" '.layers[0].size' "$(stat -c %s "$layer")" "layer size in the manifest"

  validate_schema layout "$dir/oci-layout" index "$dir/index.json" manifest "$manifest" config "$config"

  # The layer decompresses, and its tar hashes to the config's diff_id.
  local diff_id
  case $layer_type in
    "$ZSTD_LAYER")
      zstd -q -t "$layer" || fail "zstd layer does not decompress: $layer"
      diff_id="sha256:$(zstd -q -dc "$layer" | sha256sum | cut -d' ' -f1)" ;;
    "$GZIP_LAYER")
      gzip -t "$layer" || fail "gzip layer does not decompress: $layer"
      diff_id="sha256:$(gzip -dc "$layer" | sha256sum | cut -d' ' -f1)" ;;
    *)
      tar -tf "$layer" >/dev/null || fail "uncompressed layer is not a tar: $layer"
      diff_id=$(sha256 "$layer") ;;
  esac
  # Every member of the layer is a clean relative path.
  local names
  names=$(case $layer_type in "$ZSTD_LAYER") zstd -q -dc "$layer" ;; "$GZIP_LAYER") gzip -dc "$layer" ;; *) cat "$layer" ;; esac | tar -tf -)
  assert_not_contains "$names" "./" "layer member names must not start with ./"
  assert_contains "$names" "app/server" "layer lists app/server"
  assert_jq "$config" '.rootfs.diff_ids[0]' "$diff_id" "diff_id is the sha256 of the uncompressed layer"
}

# check_skopeo LABEL REF DIGEST RAW_MANIFEST RAW_CONFIG: skopeo reads the
# image; its outputs are kept in $T/sk.LABEL.{json,raw,config,rawconfig}.
check_skopeo() {
  local tag=$1 ref=$2 digest=$3 raw_manifest=$4 raw_config=$5
  skopeo inspect "$ref" >"$T/sk.$tag.json" 2>"$T/sk.err" || fail "skopeo inspect $ref failed" "$(cat "$T/sk.err")"
  skopeo inspect --raw "$ref" >"$T/sk.$tag.raw" 2>"$T/sk.err" || fail "skopeo inspect --raw $ref failed" "$(cat "$T/sk.err")"
  skopeo inspect --config "$ref" >"$T/sk.$tag.config" 2>"$T/sk.err" || fail "skopeo inspect --config $ref failed" "$(cat "$T/sk.err")"
  skopeo inspect --config --raw "$ref" >"$T/sk.$tag.rawconfig" 2>"$T/sk.err" ||
    fail "skopeo inspect --config --raw $ref failed" "$(cat "$T/sk.err")"
  assert_jq "$T/sk.$tag.json" '.Architecture + "/" + .Os' "amd64/linux" "skopeo inspect $ref"
  assert_jq "$T/sk.$tag.json" '.Created' "1970-01-01T00:00:00Z" "skopeo inspect $ref"
  assert_jq "$T/sk.$tag.json" '.Env | tojson' "$EXPECTED_ENV" "skopeo inspect $ref"
  assert_jq "$T/sk.$tag.json" '.Labels["org.example.team"]' "payments" "skopeo inspect $ref"
  assert_jq "$T/sk.$tag.json" '.Layers | length' 1 "skopeo inspect $ref"
  check_config "$T/sk.$tag.config" "1970-01-01T00:00:00Z"
  assert_same_bytes "$raw_config" "$T/sk.$tag.rawconfig" "skopeo --config --raw of $ref must be the config blob"
  if [ -n "$digest" ]; then
    assert_jq "$T/sk.$tag.json" '.Digest' "$digest" "skopeo's digest of $ref"
    assert_same_bytes "$raw_manifest" "$T/sk.$tag.raw" "skopeo --raw of $ref must be the manifest blob"
  fi
}

step "oci: destination (json report)"
distill_build "$SPEC" "oci:$OUT/layout:1.0" --format json >"$T/oci.json"
DIGEST=$(jq_file "$T/oci.json" .digest)
assert_matches "$DIGEST" '^sha256:[0-9a-f]{64}$' "json .digest"
assert_jq "$T/oci.json" .destination "oci:$OUT/layout:1.0"
assert_jq "$T/oci.json" .mediaType "$MANIFEST_TYPE"
assert_jq "$T/oci.json" '.images | length' 1
assert_jq "$T/oci.json" '.images[0].platform' linux/amd64
assert_jq "$T/oci.json" '.images[0].manifest' "$DIGEST" "a one-platform image: the top digest is the manifest"
assert_jq "$T/oci.json" '.images[0].layers | length' 1
assert_jq "$T/oci.json" '.images[0].layers[0].mediaType' "$GZIP_LAYER"
assert_jq "$T/oci.json" '.images[0].layers[0].reused' false "first build with an empty cache"
check_layout "$OUT/layout" "$DIGEST" 1.0 localhost/layout:1.0 "$GZIP_LAYER"
MANIFEST_BLOB=$(blob_path "$OUT/layout" "$DIGEST")
CONFIG_BLOB=$(blob_path "$OUT/layout" "$(jq_file "$MANIFEST_BLOB" .config.digest)")
assert_jq "$T/oci.json" '.images[0].config' "sha256:${CONFIG_BLOB##*/}"
assert_jq "$T/oci.json" '.images[0].layers[0].digest' "$(jq_file "$MANIFEST_BLOB" '.layers[0].digest')"
assert_jq "$T/oci.json" '.images[0].layers[0].size' "$(jq_file "$MANIFEST_BLOB" '.layers[0].size')"
assert_jq "$T/oci.json" '.images[0].layers[0].diffID' "$(jq_file "$CONFIG_BLOB" '.rootfs.diff_ids[0]')"
check_config "$CONFIG_BLOB" "1970-01-01T00:00:00Z"
check_skopeo oci "oci:$OUT/layout:1.0" "$DIGEST" "$MANIFEST_BLOB" "$CONFIG_BLOB"

step "text report"
TEXT=$(distill_build "$SPEC" "oci:$OUT/text:1.0")
assert_eq "oci:$OUT/text:1.0 $DIGEST" "$TEXT" "text stdout is 'DEST DIGEST'"

step "untagged oci: is tagged latest"
distill_build "$SPEC" "oci:$OUT/untagged" -q >/dev/null
check_layout "$OUT/untagged" "$DIGEST" latest localhost/untagged:latest "$GZIP_LAYER"
skopeo inspect "oci:$OUT/untagged:latest" >/dev/null 2>"$T/sk.err" || fail "skopeo cannot read oci:$OUT/untagged:latest" "$(cat "$T/sk.err")"

step "oci-archive: destination"
distill_build "$SPEC" "oci-archive:$OUT/image.tar:1.0" --format json >"$T/ocia.json"
assert_jq "$T/ocia.json" .digest "$DIGEST" "the same spec gives the same manifest in every transport"
assert_jq "$T/ocia.json" .destination "oci-archive:$OUT/image.tar:1.0"
mkdir "$T/x-ocia"
tar -xf "$OUT/image.tar" -C "$T/x-ocia"
EXPECTED_MEMBERS=$( (printf '%s\n' blobs/ blobs/sha256/ index.json oci-layout; ls "$T/x-ocia/blobs/sha256" | sed 's#^#blobs/sha256/#') | sort | paste -sd' ')
assert_eq "$EXPECTED_MEMBERS" "$(tar -tf "$OUT/image.tar" | sort | paste -sd' ')" "oci-archive members"
check_layout "$T/x-ocia" "$DIGEST" 1.0 localhost/image:1.0 "$GZIP_LAYER"
check_skopeo ocia-tag "oci-archive:$OUT/image.tar:1.0" "$DIGEST" "$MANIFEST_BLOB" "$CONFIG_BLOB"
check_skopeo ocia "oci-archive:$OUT/image.tar" "$DIGEST" "$MANIFEST_BLOB" "$CONFIG_BLOB"

step "docker-archive: destination"
distill_build "$SPEC" "docker-archive:$OUT/docker.tar:example/app:1.0" --format json >"$T/dock.json"
assert_jq "$T/dock.json" .digest "$DIGEST"
mkdir "$T/x-dock"
tar -xf "$OUT/docker.tar" -C "$T/x-dock"
check_layout "$T/x-dock" "$DIGEST" 1.0 docker.io/example/app:1.0 "$GZIP_LAYER"
LAYER_HEX=$(jq_file "$MANIFEST_BLOB" '.layers[0].digest')
LAYER_HEX=${LAYER_HEX#sha256:}
assert_jq "$T/x-dock/manifest.json" 'tojson' \
  "[{\"Config\":\"blobs/sha256/${CONFIG_BLOB##*/}\",\"Layers\":[\"blobs/sha256/$LAYER_HEX\"],\"RepoTags\":[\"example/app:1.0\"]}]" \
  "docker-archive manifest.json"
# The legacy repositories file: the name and tag, mapped to the top layer.
TOP_DIFF_ID=$(jq_file "$CONFIG_BLOB" '.rootfs.diff_ids[-1]')
assert_jq "$T/x-dock/repositories" 'tojson' "{\"example/app\":{\"1.0\":\"${TOP_DIFF_ID#sha256:}\"}}" \
  "docker-archive repositories"
# skopeo converts a docker-archive to a Docker schema 2 manifest of its own:
# its digest differs; the config must be ours byte for byte.
check_skopeo dock "docker-archive:$OUT/docker.tar" "" "" "$CONFIG_BLOB"
check_skopeo dock-tag "docker-archive:$OUT/docker.tar:example/app:1.0" "" "" "$CONFIG_BLOB"
SK_RAW=$T/sk.dock-tag.raw
assert_jq "$SK_RAW" '.config.digest' "sha256:${CONFIG_BLOB##*/}" "skopeo's docker manifest names our config"
assert_jq "$SK_RAW" '.layers[0].digest' "$(jq_file "$CONFIG_BLOB" '.rootfs.diff_ids[0]')" "skopeo's docker-archive layer is our diff_id"

step "docker-archive without a name"
distill_build "$SPEC" "docker-archive:$OUT/noname.tar" -q >/dev/null
mkdir "$T/x-noname"
tar -xf "$OUT/noname.tar" -C "$T/x-noname"
assert_jq "$T/x-noname/manifest.json" '.[0].RepoTags' null "an unnamed docker-archive has no RepoTags"
[ ! -e "$T/x-noname/repositories" ] || fail "an unnamed docker-archive has a repositories file" "$(cat "$T/x-noname/repositories")"
skopeo inspect "docker-archive:$OUT/noname.tar" >/dev/null 2>"$T/sk.err" || fail "skopeo cannot read an unnamed docker-archive" "$(cat "$T/sk.err")"

step "SOURCE_DATE_EPOCH sets created and every mtime"
SOURCE_DATE_EPOCH=1700000000 distill_build "$SPEC" "oci:$OUT/epoch:1.0" --format json >"$T/epoch.json"
EPOCH_DIGEST=$(jq_file "$T/epoch.json" .digest)
assert_ne "$DIGEST" "$EPOCH_DIGEST" "another SOURCE_DATE_EPOCH must give another digest"
skopeo inspect --config "oci:$OUT/epoch:1.0" >"$T/epoch.config" 2>"$T/sk.err" || fail "skopeo --config failed" "$(cat "$T/sk.err")"
check_config "$T/epoch.config" "2023-11-14T22:13:20Z"
EPOCH_LAYER=$(blob_path "$OUT/epoch" "$(jq_file "$(blob_path "$OUT/epoch" "$EPOCH_DIGEST")" '.layers[0].digest')")
MTIMES=$(gzip -dc "$EPOCH_LAYER" | "$PYTHON" -c '
import sys, tarfile
t = tarfile.open(fileobj=sys.stdin.buffer, mode="r|")
print(" ".join(sorted({str(int(m.mtime)) for m in t})))')
assert_eq 1700000000 "$MTIMES" "every layer entry's mtime is SOURCE_DATE_EPOCH"
DEFAULT_LAYER=$(blob_path "$OUT/layout" "$(jq_file "$MANIFEST_BLOB" '.layers[0].digest')")
MTIMES=$(gzip -dc "$DEFAULT_LAYER" | "$PYTHON" -c '
import sys, tarfile
t = tarfile.open(fileobj=sys.stdin.buffer, mode="r|")
print(" ".join(sorted({str(int(m.mtime)) for m in t})))')
assert_eq 0 "$MTIMES" "without SOURCE_DATE_EPOCH every mtime is 0"
SOURCE_DATE_EPOCH=1700000000 distill_build "$SPEC" "oci-archive:$OUT/epoch.tar:1.0" -q >/dev/null
MTIMES=$("$PYTHON" -c '
import sys, tarfile
print(" ".join(sorted({str(int(m.mtime)) for m in tarfile.open(sys.argv[1])})))' "$OUT/epoch.tar")
assert_eq 1700000000 "$MTIMES" "the archive members' mtimes are SOURCE_DATE_EPOCH too"

step "zstd compression"
distill_build "$SPEC" "oci:$OUT/zstd:1.0" --compression zstd --format json >"$T/zstd.json"
ZSTD_DIGEST=$(jq_file "$T/zstd.json" .digest)
assert_jq "$T/zstd.json" '.images[0].layers[0].mediaType' "$ZSTD_LAYER"
check_layout "$OUT/zstd" "$ZSTD_DIGEST" 1.0 localhost/zstd:1.0 "$ZSTD_LAYER"
ZSTD_MANIFEST=$(blob_path "$OUT/zstd" "$ZSTD_DIGEST")
ZSTD_CONFIG=$(blob_path "$OUT/zstd" "$(jq_file "$ZSTD_MANIFEST" .config.digest)")
check_skopeo zstd "oci:$OUT/zstd:1.0" "$ZSTD_DIGEST" "$ZSTD_MANIFEST" "$ZSTD_CONFIG"
assert_jq "$T/sk.zstd.raw" '.layers[0].mediaType' "$ZSTD_LAYER" "skopeo --raw: zstd layer media type"
assert_same_bytes "$CONFIG_BLOB" "$ZSTD_CONFIG" "compression must not change the config (same diff_ids)"
# skopeo copy reads every blob and checks it against its digest.
skopeo copy -q "oci:$OUT/zstd:1.0" "oci:$T/zstd-copy:1.0" >/dev/null 2>"$T/sk.err" ||
  fail "skopeo copy of the zstd image failed" "$(cat "$T/sk.err")"
skopeo copy -q "oci:$OUT/layout:1.0" "oci:$T/gzip-copy:1.0" >/dev/null 2>"$T/sk.err" ||
  fail "skopeo copy of the gzip image failed" "$(cat "$T/sk.err")"
# umoci: the layout, its tag and the image's history are accepted. (umoci
# 0.4.x cannot unpack zstd layers at all; test_umoci.sh unpacks gzip ones.)
TAGS=$(umoci ls --layout "$OUT/zstd" 2>"$T/um.err") || fail "umoci ls rejects the zstd layout" "$(cat "$T/um.err")"
assert_eq 1.0 "$TAGS" "umoci ls of the zstd layout"
umoci stat --image "$OUT/zstd:1.0" --json >"$T/um.json" 2>"$T/um.err" || fail "umoci stat rejects the zstd image" "$(cat "$T/um.err")"
assert_jq "$T/um.json" '.history[0].layer.mediaType' "$ZSTD_LAYER" "umoci stat"
assert_jq "$T/um.json" '.history[0].diff_id' "$(jq_file "$ZSTD_CONFIG" '.rootfs.diff_ids[0]')" "umoci stat"
umoci stat --image "$OUT/layout:1.0" --json >"$T/um.json" 2>"$T/um.err" || fail "umoci stat rejects the gzip image" "$(cat "$T/um.err")"
assert_jq "$T/um.json" '.history[0].layer.mediaType' "$GZIP_LAYER" "umoci stat"

step "zstd with a level"
distill_build "$SPEC" "oci:$OUT/zstd19:1.0" --compression zstd:19 --format json >"$T/zstd19.json"
ZSTD19_MANIFEST=$(blob_path "$OUT/zstd19" "$(jq_file "$T/zstd19.json" .digest)")
ZSTD19_CONFIG=$(blob_path "$OUT/zstd19" "$(jq_file "$ZSTD19_MANIFEST" .config.digest)")
assert_same_bytes "$ZSTD_CONFIG" "$ZSTD19_CONFIG" "zstd:19 must not change the config (same diff_ids)"
ZSTD_DEFAULT_LAYER=$(jq_file "$ZSTD_MANIFEST" '.layers[0].digest')
ZSTD19_LAYER=$(jq_file "$ZSTD19_MANIFEST" '.layers[0].digest')
[ "$ZSTD_DEFAULT_LAYER" != "$ZSTD19_LAYER" ] || fail "zstd:19 gave the same layer bytes as the default level" "$ZSTD19_LAYER"
ZSTD19_BLOB=$(blob_path "$OUT/zstd19" "$ZSTD19_LAYER")
[ "$(zstd -dcq "$ZSTD19_BLOB" | sha256sum | cut -d' ' -f1)" = "$(jq_file "$ZSTD_CONFIG" '.rootfs.diff_ids[0]' | cut -d: -f2)" ] ||
  fail "the zstd:19 layer does not decompress (zstd CLI) to the config's diff_id"

step "uncompressed layers"
distill_build "$SPEC" "oci:$OUT/none:1.0" --compression none --format json >"$T/none.json"
check_layout "$OUT/none" "$(jq_file "$T/none.json" .digest)" 1.0 localhost/none:1.0 application/vnd.oci.image.layer.v1.tar

step "an existing layout gains tags; rebuilding a tag replaces it"
L=$OUT/layout # holds 1.0 (the full spec)
sed 's/e2e-full/e2e-second/' "$SPEC" >"$T/spec/second.yaml"
distill_build "$T/spec/second.yaml" "oci:$L:2.0" --format json >"$T/second.json"
SECOND=$(jq_file "$T/second.json" .digest)
assert_ne "$DIGEST" "$SECOND" "another label, another manifest"
assert_jq "$L/index.json" '[.manifests[] | .annotations["org.opencontainers.image.ref.name"] + "=" + .digest] | sort | join(" ")' \
  "1.0=$DIGEST 2.0=$SECOND" "index.json lists both tags"
validate_schema index "$L/index.json"
for tag in 1.0 2.0; do
  skopeo inspect "oci:$L:$tag" >"$T/sk.tag.json" 2>"$T/sk.err" || fail "skopeo cannot read oci:$L:$tag" "$(cat "$T/sk.err")"
done
assert_jq "$T/sk.tag.json" '.Labels["org.opencontainers.image.title"]' e2e-second "tag 2.0 is the second image"
distill_build "$T/spec/second.yaml" "oci:$L:1.0" -q >/dev/null
assert_jq "$L/index.json" '[.manifests[] | .annotations["org.opencontainers.image.ref.name"] + "=" + .digest] | sort | join(" ")' \
  "1.0=$SECOND 2.0=$SECOND" "rebuilding tag 1.0 replaces its entry"
skopeo inspect "oci:$L:1.0" >"$T/sk.tag.json" 2>"$T/sk.err" || fail "skopeo cannot read oci:$L:1.0" "$(cat "$T/sk.err")"
assert_jq "$T/sk.tag.json" '.Labels["org.opencontainers.image.title"]' e2e-second "tag 1.0 now names the second image"

step "an empty directory counts as a new layout"
mkdir "$OUT/empty"
distill_build "$SPEC" "oci:$OUT/empty:1.0" -q >/dev/null
check_layout "$OUT/empty" "$DIGEST" 1.0 localhost/empty:1.0 "$GZIP_LAYER"

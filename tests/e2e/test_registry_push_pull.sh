#!/usr/bin/env bash
# distill push, pull, copy, inspect and build -o docker:// against the distribution
# registry (Debian docker-registry 2.8): one with TLS from a test CA and
# htpasswd auth, one plain HTTP. skopeo and podman judge what distill pushes;
# distill pulls what skopeo pushes. Digests and bytes must survive every
# trip; an unchanged re-push uploads nothing; a second repository gets its
# blobs by cross-repository mount; errors (wrong password, plain HTTP without
# --tls-verify=false, unknown CA) are clear and never show the password.
#
# Each check runs on its own (soft), so one run shows every failure.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_registry.sh"
need_root
need skopeo podman runc jq curl sha256sum findmnt
registry_start

compile_probe "$T/probe"
mkdir -p "$T/spec"
cp "$T/probe" "$T/spec/probe"
cat >"$T/spec/image.yaml" <<'EOF'
# e2e registry image: the static probe as entrypoint.
files:
  - src: probe
    dst: /app/probe
    mode: "0755"
  - dst: /etc/e2e-registry
    content: |
      pushed by distill
entrypoint: [/app/probe]
cmd: [--hello, "two words"]
env: {APP_MODE: registry, LANG: C.UTF-8}
workdir: /app
labels: {org.opencontainers.image.title: e2e-registry}
archs: [amd64]
EOF
sed 's/^archs: .*/archs: [amd64, arm64]/' "$T/spec/image.yaml" >"$T/spec/multi.yaml"
sed 's/pushed by distill/pushed by skopeo/' "$T/spec/image.yaml" >"$T/spec/skopeo.yaml"

step "build the images (oci:)"
distill_build "$T/spec/image.yaml" "oci:$T/src:1.0" --format json >"$T/src.json"
DIGEST=$(jq_file "$T/src.json" .digest)
SRC_MANIFEST=$(blob_path "$T/src" "$DIGEST")
CONFIG=$(jq_file "$SRC_MANIFEST" .config.digest)
LAYERS=$(jq_file "$SRC_MANIFEST" '.layers[].digest' | paste -sd' ')
# shellcheck disable=SC2206
BLOBS=($CONFIG $LAYERS)
note "image $DIGEST: config $CONFIG, layers $LAYERS"

TLS=(--cert-dir "$REG_CERT_DIR" --creds "$REG_USER:$REG_PASS")
SK=(--cert-dir "$REG_CERT_DIR" --creds "$REG_USER:$REG_PASS")
SK_SRC=(--src-cert-dir "$REG_CERT_DIR" --src-creds "$REG_USER:$REG_PASS")
SK_DEST=(--dest-cert-dir "$REG_CERT_DIR" --dest-creds "$REG_USER:$REG_PASS")

# skopeo_ok NAME ARGS...: skopeo must succeed; output in $T/sk.NAME.
skopeo_ok() {
  local name=$1
  shift
  skopeo "$@" >"$T/sk.$name" 2>"$T/sk.$name.err" || fail "skopeo $* failed" "$(cat "$T/sk.$name.err")"
}

# check_remote ADDR REPO:TAG DIGEST RAW_FILE SKOPEO_ARGS...: the registry
# serves the manifest DIGEST under the tag, byte for byte RAW_FILE.
check_remote() {
  local addr=$1 ref=$2 digest=$3 raw=$4
  shift 4
  skopeo_ok inspect inspect "$@" "docker://$addr/$ref"
  assert_jq "$T/sk.inspect" .Digest "$digest" "skopeo inspect docker://$addr/$ref"
  skopeo_ok raw inspect --raw "$@" "docker://$addr/$ref"
  assert_same_bytes "$raw" "$T/sk.raw" "the registry must hold the manifest bytes distill pushed ($ref)"
}

# ------------------------------------------------------------------ checks

push_tls() {
  dist_ok push push "oci:$T/src:1.0" "docker://$REG_TLS/e2e/probe:1.0" "${TLS[@]}" --format json
  assert_jq "$DIST_OUTS/push.out" .digest "$DIGEST" "push --format json .digest"
  json_has_all "$DIST_OUTS/push.out" pushed "${BLOBS[@]}"
  json_has_all "$DIST_OUTS/push.out" skipped
  json_has_all "$DIST_OUTS/push.out" mounted
  assert_eq "$DIGEST" "$(reg_manifest_digest "https://$REG_TLS" e2e/probe 1.0 --cacert "$REG_CA" -u "$REG_USER:$REG_PASS")" \
    "the registry's Docker-Content-Digest for e2e/probe:1.0"
  check_remote "$REG_TLS" e2e/probe:1.0 "$DIGEST" "$SRC_MANIFEST" "${SK[@]}"
  assert_jq "$T/sk.inspect" '.Labels["org.opencontainers.image.title"]' e2e-registry "skopeo inspect: labels"
  skopeo_ok config inspect --config "${SK[@]}" "docker://$REG_TLS/e2e/probe:1.0"
  assert_jq "$T/sk.config" '.config.Entrypoint | tojson' '["/app/probe"]' "skopeo inspect --config: entrypoint"
  # skopeo copy reads every blob back and checks its digest.
  skopeo_ok copy copy -q "${SK_SRC[@]}" "docker://$REG_TLS/e2e/probe:1.0" "oci:$T/skback:1.0"
  assert_eq "$DIGEST" "$(layout_tag_digest "$T/skback" 1.0)" "skopeo copy docker:// -> oci: keeps the manifest digest"
  assert_image_identical "$T/src" "$T/skback" "$DIGEST"
  # By digest too.
  skopeo_ok inspect-digest inspect "${SK[@]}" "docker://$REG_TLS/e2e/probe@$DIGEST"
  assert_jq "$T/sk.inspect-digest" .Digest "$DIGEST" "skopeo inspect by digest"
}

podman_setup

podman_pull_run() {
  dist_ok push-podman push "oci:$T/src:1.0" "docker://$REG_TLS/e2e/podman:1.0" "${TLS[@]}"
  "${PODMAN[@]}" pull --cert-dir "$REG_CERT_DIR" --creds "$REG_USER:$REG_PASS" "$REG_TLS/e2e/podman:1.0" >"$T/pm.pull" 2>"$T/pm.err" ||
    fail "podman pull of what distill pushed failed" "$(cat "$T/pm.err")"
  "${PODMAN[@]}" image inspect "$REG_TLS/e2e/podman:1.0" >"$T/pm.inspect" 2>"$T/pm.err" || fail "podman image inspect failed" "$(cat "$T/pm.err")"
  assert_jq "$T/pm.inspect" '.[0].Id' "${CONFIG#sha256:}" "podman's image ID is the config digest"
  assert_jq "$T/pm.inspect" '.[0].Digest' "$DIGEST" "podman's image digest is the manifest digest"
  "${PODMAN[@]}" run --rm --ulimit nofile=20000:20000 --ulimit nproc=20000:20000 "$REG_TLS/e2e/podman:1.0" >"$T/pm.run" 2>"$T/pm.err" ||
    fail "podman run of the pulled image failed" "$(cat "$T/pm.err")" "stdout: $(cat "$T/pm.run")"
  assert_eq "uid=0
gid=0
cwd=/app
argc=3
argv[0]=/app/probe
argv[1]=--hello
argv[2]=two words
env:APP_MODE=registry
env:LANG=C.UTF-8
env:PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "$(cat "$T/pm.run")" "what the pushed program saw inside the container"
}

skopeo_push_distill_pull() {
  distill_build "$T/spec/skopeo.yaml" "oci:$T/sksrc:1.0" -q >/dev/null
  local d
  d=$(layout_tag_digest "$T/sksrc" 1.0)
  skopeo_ok push copy -q "${SK_DEST[@]}" "oci:$T/sksrc:1.0" "docker://$REG_TLS/e2e/fromskopeo:1.0"
  dist_ok pull pull "docker://$REG_TLS/e2e/fromskopeo:1.0" "oci:$T/pulled:1.0" "${TLS[@]}"
  assert_eq "$d" "$(layout_tag_digest "$T/pulled" 1.0)" "distill pull: the tag's digest in the pulled layout"
  assert_image_identical "$T/sksrc" "$T/pulled" "$d"
  assert_eq "$(ls "$T/sksrc/blobs/sha256" | sort | paste -sd' ')" "$(ls "$T/pulled/blobs/sha256" | sort | paste -sd' ')" \
    "the pulled layout holds exactly the image's blobs"
  validate_schema layout "$T/pulled/oci-layout" index "$T/pulled/index.json" manifest "$(blob_path "$T/pulled" "$d")"
  skopeo_ok inspect-pulled inspect "oci:$T/pulled:1.0"
  assert_jq "$T/sk.inspect-pulled" .Digest "$d" "skopeo reads the pulled layout"

  # By digest, into a second tag of the same layout.
  dist_ok pull-digest pull "docker://$REG_TLS/e2e/fromskopeo@$d" "oci:$T/pulled:bydigest" "${TLS[@]}"
  assert_eq "$d" "$(layout_tag_digest "$T/pulled" bydigest)" "pull by digest"
  assert_eq "$d" "$(layout_tag_digest "$T/pulled" 1.0)" "pulling a second tag keeps the first"
}

# A Docker v2s2 image (skopeo --format v2s2) pulled into oci: must stay
# readable by the peers (c/image 5.22 reads only OCI media types from an
# index.json) with the same config bytes and layers; whether distill keeps
# the Docker manifest (and its digest) or converts it is its choice.
pull_docker_v2s2() {
  distill_build "$T/spec/skopeo.yaml" "oci:$T/sksrc2:1.0" -q >/dev/null
  local d cfg
  d=$(layout_tag_digest "$T/sksrc2" 1.0)
  cfg=$(jq_file "$(blob_path "$T/sksrc2" "$d")" .config.digest)
  skopeo_ok push-v2s2 copy -q --format v2s2 "${SK_DEST[@]}" "oci:$T/sksrc2:1.0" "docker://$REG_TLS/e2e/fromskopeo:v2s2"
  skopeo_ok raw-v2s2 inspect --raw "${SK[@]}" "docker://$REG_TLS/e2e/fromskopeo:v2s2"
  assert_jq "$T/sk.raw-v2s2" .mediaType application/vnd.docker.distribution.manifest.v2+json "skopeo pushed a Docker v2s2 manifest"
  dist_ok pull-v2s2 pull "docker://$REG_TLS/e2e/fromskopeo:v2s2" "oci:$T/pulled-v2s2:1.0" "${TLS[@]}"
  local got
  got=$(layout_tag_digest "$T/pulled-v2s2" 1.0)
  [ -n "$got" ] || fail "the pulled layout has no tag 1.0" "$(cat "$T/pulled-v2s2/index.json")"
  assert_same_bytes "$(blob_path "$T/sksrc2" "$cfg")" "$(blob_path "$T/pulled-v2s2" "$cfg")" "the pulled v2s2 image's config"
  assert_jq "$(blob_path "$T/pulled-v2s2" "$got")" '[.layers[].digest] | join(" ")' "$(jq_file "$T/sk.raw-v2s2" '[.layers[].digest] | join(" ")')" \
    "the pulled v2s2 image's layers"
  skopeo_ok inspect-v2s2 inspect --config --raw "oci:$T/pulled-v2s2:1.0"
  assert_same_bytes "$(blob_path "$T/sksrc2" "$cfg")" "$T/sk.inspect-v2s2" "skopeo reads the pulled v2s2 image from the oci: layout"
  skopeo_ok copy-v2s2 copy -q "oci:$T/pulled-v2s2:1.0" "oci:$T/v2s2-check:1.0"
}

multi_arch() {
  distill_build "$T/spec/multi.yaml" "oci:$T/multi:1.0" --format json >"$T/multi.json"
  local idx
  idx=$(jq_file "$T/multi.json" .digest)
  assert_jq "$T/multi.json" .mediaType application/vnd.oci.image.index.v1+json "a two-arch build is an index"
  dist_ok push-multi push "oci:$T/multi:1.0" "docker://$REG_TLS/e2e/multi:1.0" "${TLS[@]}" --format json
  assert_jq "$DIST_OUTS/push-multi.out" .digest "$idx" "push of the index: .digest"
  skopeo_ok raw-multi inspect --raw "${SK[@]}" "docker://$REG_TLS/e2e/multi:1.0"
  assert_same_bytes "$(blob_path "$T/multi" "$idx")" "$T/sk.raw-multi" "skopeo inspect --raw shows the pushed index"
  assert_jq "$T/sk.raw-multi" '[.manifests[].platform.architecture] | join(",")' amd64,arm64 "the index's platforms"
  local m
  for m in $(jq -r '.manifests[].digest' "$T/sk.raw-multi"); do
    skopeo_ok raw-child inspect --raw "${SK[@]}" "docker://$REG_TLS/e2e/multi@$m"
    assert_same_bytes "$(blob_path "$T/multi" "$m")" "$T/sk.raw-child" "child manifest $m in the registry"
  done
  skopeo_ok copy-all copy -q --all "${SK_SRC[@]}" "docker://$REG_TLS/e2e/multi:1.0" "oci:$T/multi-sk:1.0"
  assert_image_identical "$T/multi" "$T/multi-sk" "$idx"
  dist_ok pull-multi pull "docker://$REG_TLS/e2e/multi:1.0" "oci:$T/multi-pulled:1.0" "${TLS[@]}"
  assert_eq "$idx" "$(layout_tag_digest "$T/multi-pulled" 1.0)" "a pulled index keeps its digest"
  assert_image_identical "$T/multi" "$T/multi-pulled" "$idx"
}

# distill inspect docker:// reads what the layout read shows (config,
# layers, merged file tree); --no-files downloads no layer; --arch picks a
# platform from an index; an unknown tag is a clear failure.
inspect_remote() {
  "$DISTILL" inspect "oci:$T/src:1.0" --format json -q >"$T/inspect.local.json" 2>"$T/inspect.err" ||
    fail "distill inspect of the local layout failed" "$(cat "$T/inspect.err")"
  dist_ok inspect-remote inspect "docker://$REG_TLS/e2e/probe:1.0" "${TLS[@]}" --format json -q
  assert_jq "$DIST_OUTS/inspect-remote.out" .reference "docker://$REG_TLS/e2e/probe:1.0" "inspect docker://: reference"
  assert_jq "$DIST_OUTS/inspect-remote.out" .manifest.digest "$DIGEST" "inspect docker://: manifest digest"
  # The manifest's descriptor in the layout also carries index.json's tag
  # annotations and platform; the registry's tag has neither.
  local same='del(.reference, .manifest.annotations, .manifest.platform)'
  assert_eq "$(jq -S "$same" "$T/inspect.local.json")" "$(jq -S "$same" "$DIST_OUTS/inspect-remote.out")" \
    "inspect docker:// against inspect oci: of the image pushed (config, layers, files)"
  [ "$(jq '.files | length' "$DIST_OUTS/inspect-remote.out")" -gt 3 ] || fail "inspect docker:// lists no file tree"
  DISTILL_CACHE_DIR=$T/inspect-cache dist_ok inspect-nofiles inspect "docker://$REG_TLS/e2e/probe:1.0" "${TLS[@]}" --no-files --format json -q
  assert_jq "$DIST_OUTS/inspect-nofiles.out" .configDigest "$CONFIG" "inspect --no-files: config digest"
  assert_jq "$DIST_OUTS/inspect-nofiles.out" '[.layers[].digest] | join(" ")' "$LAYERS" "inspect --no-files: layers"
  [ -f "$T/inspect-cache/blobs/sha256/${CONFIG#sha256:}" ] || fail "inspect --no-files did not keep the config in its cache"
  local l
  for l in $LAYERS; do assert_absent "$T/inspect-cache/blobs/sha256/${l#sha256:}" "layer $l in the cache of inspect --no-files (not downloaded)"; done
  dist_ok inspect-multi inspect "docker://$REG_TLS/e2e/multi:1.0" "${TLS[@]}" --arch arm64 --format json -q
  "$DISTILL" inspect "oci:$T/multi:1.0" --arch arm64 --format json -q >"$T/inspect.multi.json" 2>"$T/inspect.err" ||
    fail "distill inspect --arch arm64 of the local index failed" "$(cat "$T/inspect.err")"
  assert_jq "$DIST_OUTS/inspect-multi.out" .config.architecture arm64 "inspect docker:// --arch arm64 of an index"
  assert_eq "$(jq -S "$same" "$T/inspect.multi.json")" "$(jq -S "$same" "$DIST_OUTS/inspect-multi.out")" \
    "inspect docker:// --arch arm64 against the local index's arm64 image"
  dist_fail inspect-missing inspect "docker://$REG_TLS/e2e/probe:no-such-tag" "${TLS[@]}"
  assert_contains "$DIST_ERR" "e2e/probe:no-such-tag does not exist (manifest unknown)" "inspect of a tag the registry lacks"
}

repush_unchanged() {
  dist_ok repush-first push "oci:$T/src:1.0" "docker://$REG_TLS/e2e/repush:1.0" "${TLS[@]}" --format json
  local mark
  mark=$(reg_log_mark "$REG_TLS_LOG")
  dist_ok repush push "oci:$T/src:1.0" "docker://$REG_TLS/e2e/repush:1.0" "${TLS[@]}" --format json
  assert_jq "$DIST_OUTS/repush.out" .digest "$DIGEST" "re-push .digest"
  assert_jq "$DIST_OUTS/repush.out" '.pushed | tojson' '[]' "an unchanged re-push uploads nothing (.pushed)"
  json_has_all "$DIST_OUTS/repush.out" skipped "${BLOBS[@]}"
  assert_jq "$DIST_OUTS/repush.out" '.mounted | length' 0 "an unchanged re-push mounts nothing"
  assert_eq "" "$(reg_blob_writes "$REG_TLS_LOG" "$mark")" "the registry saw no blob upload (POST/PATCH/PUT .../blobs/uploads/) for the re-push"
  check_remote "$REG_TLS" e2e/repush:1.0 "$DIGEST" "$SRC_MANIFEST" "${SK[@]}"
  # The multi-arch index too.
  if [ -d "$T/multi" ]; then
    dist_ok repush-multi-first push "oci:$T/multi:1.0" "docker://$REG_TLS/e2e/repush-multi:1.0" "${TLS[@]}" --format json
    mark=$(reg_log_mark "$REG_TLS_LOG")
    dist_ok repush-multi push "oci:$T/multi:1.0" "docker://$REG_TLS/e2e/repush-multi:1.0" "${TLS[@]}" --format json
    assert_jq "$DIST_OUTS/repush-multi.out" '.pushed | tojson' '[]' "an unchanged re-push of an index uploads nothing"
    assert_eq "" "$(reg_blob_writes "$REG_TLS_LOG" "$mark")" "no blob upload for the re-push of the index"
  fi
}

build_push() {
  dist_ok build-push build "$T/spec/image.yaml" -o "docker://$REG_TLS/e2e/built:1.0" "${TLS[@]}" --format json
  assert_jq "$DIST_OUTS/build-push.out" .digest "$DIGEST" "build -o docker:// gives the digest of the same spec built to oci:"
  check_remote "$REG_TLS" e2e/built:1.0 "$DIGEST" "$SRC_MANIFEST" "${SK[@]}"
  skopeo_ok copy-built copy -q "${SK_SRC[@]}" "docker://$REG_TLS/e2e/built:1.0" "oci:$T/built-back:1.0"
  assert_image_identical "$T/src" "$T/built-back" "$DIGEST"
  # A multi-arch build straight to the registry.
  dist_ok build-push-multi build "$T/spec/multi.yaml" -o "docker://$REG_TLS/e2e/built-multi:1.0" "${TLS[@]}" --format json
  skopeo_ok raw-bm inspect --raw "${SK[@]}" "docker://$REG_TLS/e2e/built-multi:1.0"
  assert_jq "$T/sk.raw-bm" .mediaType application/vnd.oci.image.index.v1+json "build -o docker:// of two archs pushes an index"
  assert_eq "$(jq_file "$DIST_OUTS/build-push-multi.out" .digest)" "$(sha256 "$T/sk.raw-bm")" "the index digest build printed"
}

wrong_password() {
  local wrong
  wrong="Wr0ng-$(reg_rand 20)"
  dist_fail wrong-push push "oci:$T/src:1.0" "docker://$REG_TLS/e2e/wrong:1.0" --cert-dir "$REG_CERT_DIR" --creds "$REG_USER:$wrong"
  assert_matches "$DIST_ERR" '([Uu]nauthori[sz]ed|[Aa]uthenticat|[Cc]redential|401|[Dd]enied|[Pp]assword)' "wrong password: the error says it is about authentication"
  assert_contains "$DIST_ERR" "$REG_TLS" "wrong password: the error names the registry"
  assert_no_secret "$wrong" "$DIST_OUTS/wrong-push.out" "$DIST_OUTS/wrong-push.err"
  if skopeo inspect "${SK[@]}" "docker://$REG_TLS/e2e/wrong:1.0" >/dev/null 2>&1; then fail "a push with a wrong password created e2e/wrong:1.0"; fi

  dist_fail wrong-pull pull "docker://$REG_TLS/e2e/wrong:1.0" "oci:$T/wrong-pull:1.0" --cert-dir "$REG_CERT_DIR" --creds "$REG_USER:$wrong"
  assert_matches "$DIST_ERR" '([Uu]nauthori[sz]ed|[Aa]uthenticat|[Cc]redential|401|[Dd]enied|[Pp]assword)' "wrong password (pull): an authentication error"
  assert_no_secret "$wrong" "$DIST_OUTS/wrong-pull.out" "$DIST_OUTS/wrong-pull.err"
  assert_absent "$T/wrong-pull" "a failed pull writes nothing"

  dist_fail nocreds-push push "oci:$T/src:1.0" "docker://$REG_TLS/e2e/wrong:1.0" --cert-dir "$REG_CERT_DIR"
  assert_matches "$DIST_ERR" '([Uu]nauthori[sz]ed|[Aa]uthenticat|[Cc]redential|401|[Dd]enied|log ?in)' "no credentials: an authentication error"
}

plain_http() {
  dist_ok plain-push push "oci:$T/src:1.0" "docker://$REG_PLAIN/e2e/plain:1.0" --tls-verify=false --format json
  assert_jq "$DIST_OUTS/plain-push.out" .digest "$DIGEST"
  check_remote "$REG_PLAIN" e2e/plain:1.0 "$DIGEST" "$SRC_MANIFEST" --tls-verify=false
  dist_ok plain-pull pull "docker://$REG_PLAIN/e2e/plain:1.0" "oci:$T/plain-pulled:1.0" --tls-verify=false
  assert_image_identical "$T/src" "$T/plain-pulled" "$DIGEST"

  dist_fail plain-strict push "oci:$T/src:1.0" "docker://$REG_PLAIN/e2e/plain:strict"
  assert_matches "$DIST_ERR" '([Tt][Ll][Ss]|HTTPS|https|SSL|ssl|[Cc]ertificate|handshake|tls-verify)' \
    "a plain-HTTP registry without --tls-verify=false: the error says TLS/HTTPS failed"
  assert_contains "$DIST_ERR" "$REG_PLAIN" "the error names the registry"
  if skopeo inspect --tls-verify=false "docker://$REG_PLAIN/e2e/plain:strict" >/dev/null 2>&1; then
    fail "distill fell back to plain HTTP without --tls-verify=false"
  fi
}

tls_verify() {
  dist_fail tls-noca push "oci:$T/src:1.0" "docker://$REG_TLS/e2e/tls:noca" --creds "$REG_USER:$REG_PASS"
  assert_matches "$DIST_ERR" '([Cc]ertificate|x509|[Vv]erif|[Tt][Ll][Ss]|SSL|[Ii]ssuer)' "unknown CA: the error says the certificate did not verify"
  assert_contains "$DIST_ERR" "$REG_TLS" "unknown CA: the error names the registry"
  dist_ok tls-noverify push "oci:$T/src:1.0" "docker://$REG_TLS/e2e/tls:noverify" --creds "$REG_USER:$REG_PASS" --tls-verify=false
  check_remote "$REG_TLS" e2e/tls:noverify "$DIGEST" "$SRC_MANIFEST" "${SK[@]}"
  # --cert-dir takes any *.crt in it, as podman and skopeo do.
  mkdir -p "$T/certs-other"
  cp "$REG_CA" "$T/certs-other/my-test-ca.crt"
  dist_ok tls-othername push "oci:$T/src:1.0" "docker://$REG_TLS/e2e/tls:othername" --cert-dir "$T/certs-other" --creds "$REG_USER:$REG_PASS"
  check_remote "$REG_TLS" e2e/tls:othername "$DIGEST" "$SRC_MANIFEST" "${SK[@]}"
}

cross_repo_mount() {
  dist_ok mount-a push "oci:$T/src:1.0" "docker://$REG_TLS/e2e/mount-a:1.0" "${TLS[@]}" --format json
  local mark l
  mark=$(reg_log_mark "$REG_TLS_LOG")
  dist_ok mount-b push "oci:$T/src:1.0" "docker://$REG_TLS/e2e/mount-b:1.0" "${TLS[@]}" --format json
  # shellcheck disable=SC2086
  json_has_all "$DIST_OUTS/mount-b.out" mounted $LAYERS
  assert_jq "$DIST_OUTS/mount-b.out" '.pushed | tojson' '[]' "a push whose blobs are in another repository of the registry uploads nothing"
  reg_log_since "$REG_TLS_LOG" "$mark" >"$T/mount-b.log"
  grep -Eq '^POST /v2/e2e/mount-b/blobs/uploads/\?[^ ]*mount=sha256(:|%3A)[0-9a-f]{64}[^ ]* 201$' "$T/mount-b.log" ||
    fail "the registry log shows no cross-repository mount (POST ...?mount= answered 201)" "$(cat "$T/mount-b.log")"
  for l in $LAYERS; do
    if grep -Eq "^PUT /v2/e2e/mount-b/blobs/uploads/[^ ]*digest=sha256(:|%3A)${l#sha256:}" "$T/mount-b.log"; then
      fail "layer $l was uploaded again instead of mounted" "$(cat "$T/mount-b.log")"
    fi
  done
  check_remote "$REG_TLS" e2e/mount-b:1.0 "$DIGEST" "$SRC_MANIFEST" "${SK[@]}"

  # copy between two repositories of one registry mounts too.
  mark=$(reg_log_mark "$REG_TLS_LOG")
  dist_ok mount-copy copy "docker://$REG_TLS/e2e/mount-a:1.0" "docker://$REG_TLS/e2e/mount-c:1.0" "${TLS[@]}" --format json
  # shellcheck disable=SC2086
  json_has_all "$DIST_OUTS/mount-copy.out" mounted $LAYERS
  reg_log_since "$REG_TLS_LOG" "$mark" >"$T/mount-c.log"
  grep -Eq '^POST /v2/e2e/mount-c/blobs/uploads/\?[^ ]*mount=sha256(:|%3A)[0-9a-f]{64}[^ ]*from=e2e(/|%2F)mount-a[^ ]* 201$|^POST /v2/e2e/mount-c/blobs/uploads/\?[^ ]*from=e2e(/|%2F)mount-a[^ ]*mount=[^ ]* 201$' "$T/mount-c.log" ||
    fail "copy between repositories: no POST ...?mount=...&from=e2e/mount-a answered 201" "$(cat "$T/mount-c.log")"
  check_remote "$REG_TLS" e2e/mount-c:1.0 "$DIGEST" "$SRC_MANIFEST" "${SK[@]}"
}

copy_transports() {
  dist_ok push-copysrc push "oci:$T/src:1.0" "docker://$REG_TLS/e2e/copysrc:1.0" "${TLS[@]}"
  dist_ok copy-ocia copy "docker://$REG_TLS/e2e/copysrc:1.0" "oci-archive:$T/copied.tar:1.0" "${TLS[@]}"
  skopeo_ok ocia inspect "oci-archive:$T/copied.tar:1.0"
  assert_jq "$T/sk.ocia" .Digest "$DIGEST" "docker:// -> oci-archive: keeps the digest"
  dist_ok copy-dockera copy "docker://$REG_TLS/e2e/copysrc:1.0" "docker-archive:$T/copied-docker.tar:e2e/copy:1.0" "${TLS[@]}"
  skopeo_ok dockera inspect --config --raw "docker-archive:$T/copied-docker.tar:e2e/copy:1.0"
  assert_same_bytes "$(blob_path "$T/src" "$CONFIG")" "$T/sk.dockera" "docker:// -> docker-archive: keeps the config bytes"
  dist_ok copy-back copy "oci-archive:$T/copied.tar:1.0" "docker://$REG_TLS/e2e/copyback:1.0" "${TLS[@]}"
  check_remote "$REG_TLS" e2e/copyback:1.0 "$DIGEST" "$SRC_MANIFEST" "${SK[@]}"
  dist_ok copy-local copy "oci:$T/src:1.0" "oci:$T/copied-layout:2.0"
  assert_eq "$DIGEST" "$(layout_tag_digest "$T/copied-layout" 2.0)" "oci: -> oci: copy"
  assert_image_identical "$T/src" "$T/copied-layout" "$DIGEST"
  dist_ok pull-dockera pull "docker://$REG_TLS/e2e/copysrc:1.0" "docker-archive:$T/pulled-docker.tar:e2e/pulled:1.0" "${TLS[@]}"
  skopeo_ok pdockera inspect --config --raw "docker-archive:$T/pulled-docker.tar:e2e/pulled:1.0"
  assert_same_bytes "$(blob_path "$T/src" "$CONFIG")" "$T/sk.pdockera" "pull to docker-archive: keeps the config bytes"
}

step "push to the TLS + htpasswd registry; skopeo reads it back"
soft push_tls push_tls
step "podman pulls and runs what distill pushed"
soft podman_pull_run podman_pull_run
step "distill pulls what skopeo pushed"
soft skopeo_push_distill_pull skopeo_push_distill_pull
step "distill pulls a Docker v2s2 image into oci: that skopeo can read"
soft pull_docker_v2s2 pull_docker_v2s2
step "multi-arch index: push and pull whole"
soft multi_arch multi_arch
step "distill inspect docker://"
soft inspect_remote inspect_remote
step "an unchanged re-push uploads no blob"
soft repush_unchanged repush_unchanged
step "distill build -o docker://"
soft build_push build_push
step "wrong password, no credentials"
soft wrong_password wrong_password
step "plain-HTTP registry: --tls-verify=false"
soft plain_http plain_http
step "TLS: unknown CA, --tls-verify=false, --cert-dir with any *.crt"
soft tls_verify tls_verify
step "cross-repository mount"
soft cross_repo_mount cross_repo_mount
step "copy between transports"
soft copy_transports copy_transports

step "the password never appears in distill's output, errors, cache or the registry logs"
# shellcheck disable=SC2046
assert_no_secret "$REG_PASS" $(find "$DIST_OUTS" "$DISTILL_CACHE_DIR" -type f 2>/dev/null) "$REG_TLS_LOG" "$REG_PLAIN_LOG"
assert_no_secret "$(printf '%s' "$REG_USER:$REG_PASS" | base64 -w0)" $(find "$DIST_OUTS" -type f) "$REG_TLS_LOG"

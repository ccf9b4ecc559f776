#!/usr/bin/env bash
# distill against an unreliable registry: a fault proxy in front of the
# plain-HTTP docker-registry resets connections (before and after the
# registry acted), answers 500/503/429 (Retry-After 0 or 1) and cuts
# response bodies short, about 20% of requests in all (at most 3 faults in a
# row on one request). 20 pushes of distinct images and 20 pulls must all
# finish with the right digests, checked behind the proxy with skopeo. A
# proxy that flips one bit of every blob body must make a pull fail with a
# digest error that writes nothing at the destination, leaves an existing
# layout as it was, and leaves no bad blob in distill's cache.
#
# E2E_FAULT_SEED=N repeats a run's fault sequence (it is printed); the
# proxy's log ($T/registry/faults.log) lists every fault it injected.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_registry.sh"
need skopeo jq sha256sum
registry_start
SEED=${E2E_FAULT_SEED:-$((RANDOM * 32768 + RANDOM))}
note "fault seed: $SEED (E2E_FAULT_SEED=$SEED repeats it)"
fault_proxy_start faults "$REG_PLAIN" --seed "$SEED" --reset 0.05 --reset-after 0.05 --status 0.05 --truncate 0.05 --max-consecutive 3
FAULTS=$FAULT_PROXY
FAULTS_LOG=$FAULT_LOG
fault_proxy_start flip "$REG_PLAIN" --seed "$SEED" --flip 1.0
FLIP=$FAULT_PROXY
FLIP_LOG=$FAULT_LOG
fault_proxy_start flip-layer "$REG_PLAIN" --seed "$SEED" --flip 1.0 --flip-min-bytes 100000
FLIP_LAYER=$FAULT_PROXY
N=${E2E_FAULT_ROUNDS:-20}
PLAIN=(--tls-verify=false)

step "build $N distinct images (a 256 KiB incompressible file each, so bodies are cut mid-stream)"
mkdir -p "$T/spec"
head -c 262144 /dev/urandom >"$T/spec/big.bin"
for i in $(seq 1 "$N"); do
  cat >"$T/spec/image-$i.yaml" <<EOF
files:
  - src: big.bin
    dst: /data/big.bin
  - dst: /data/id
    content: "image $i"
archs: [amd64]
EOF
  distill_build "$T/spec/image-$i.yaml" "oci:$T/imgs:$i" -q >/dev/null
done
declare -A WANT
for i in $(seq 1 "$N"); do WANT[$i]=$(layout_tag_digest "$T/imgs" "$i"); done
assert_eq "$N" "$(printf '%s\n' "${WANT[@]}" | sort -u | wc -l)" "the $N images are distinct"

# count_faults LOG FROM_LINE: "kind=N ..." for the faults after FROM_LINE.
count_faults() {
  tail -n +"$(($2 + 1))" "$1" | sed -n 's/.* fault=\([a-z-]*[a-z]\).*/\1/p' | sort | uniq -c | awk '{ printf "%s%s=%s", sep, $2, $1; sep=" " }'
}

push_one() {
  local i=$1
  dist_ok "push-$i" push "oci:$T/imgs:$i" "docker://$FAULTS/e2e/faults:$i" "${PLAIN[@]}" --format json
  assert_jq "$DIST_OUTS/push-$i.out" .digest "${WANT[$i]}" "push $i through the fault proxy: .digest"
  # Behind the proxy: the registry serves exactly that image, every blob
  # readable and matching its digest (skopeo copy checks them).
  skopeo inspect "${PLAIN[@]}" "docker://$REG_PLAIN/e2e/faults:$i" >"$T/sk.$i" 2>"$T/sk.err" ||
    fail "skopeo cannot inspect e2e/faults:$i after the push" "$(cat "$T/sk.err")"
  assert_jq "$T/sk.$i" .Digest "${WANT[$i]}" "the registry's digest of e2e/faults:$i"
  skopeo copy -q --src-tls-verify=false "docker://$REG_PLAIN/e2e/faults:$i" "oci:$T/verify:$i" >/dev/null 2>"$T/sk.err" ||
    fail "skopeo cannot copy e2e/faults:$i back (a blob is wrong or missing)" "$(cat "$T/sk.err")"
  assert_image_identical "$T/imgs" "$T/verify" "${WANT[$i]}"
}

pull_one() {
  local i=$1
  # A cache of its own: the blobs must come through the proxy.
  DISTILL_CACHE_DIR=$T/pullcache/$i dist_ok "pull-$i" pull "docker://$FAULTS/e2e/faults:$i" "oci:$T/pulled/$i:1" "${PLAIN[@]}"
  assert_eq "${WANT[$i]}" "$(layout_tag_digest "$T/pulled/$i" 1)" "pull $i through the fault proxy: the tag's digest"
  assert_image_identical "$T/imgs" "$T/pulled/$i" "${WANT[$i]}"
}

step "$N pushes through the fault proxy"
mark=$(reg_log_mark "$FAULTS_LOG")
t0=$SECONDS
for i in $(seq 1 "$N"); do soft "push-$i" push_one "$i"; done
note "pushes: $((SECONDS - t0)) s; faults injected: $(count_faults "$FAULTS_LOG" "$mark")"
PUSH_FAULTS=$(count_faults "$FAULTS_LOG" "$mark")

step "$N pulls through the fault proxy"
mark=$(reg_log_mark "$FAULTS_LOG")
t0=$SECONDS
mkdir -p "$T/pulled"
for i in $(seq 1 "$N"); do soft "pull-$i" pull_one "$i"; done
note "pulls: $((SECONDS - t0)) s; faults injected: $(count_faults "$FAULTS_LOG" "$mark")"
PULL_FAULTS=$(count_faults "$FAULTS_LOG" "$mark")
blob_gets=$(tail -n +"$((mark + 1))" "$FAULTS_LOG" | grep -c ' GET /v2/.*/blobs/sha256:' || true)
[ "$blob_gets" -ge "$N" ] || fail "the pulls fetched only $blob_gets blobs through the proxy (expected at least $N)"

step "the proxy really injected every kind of fault"
check_fault_kinds() {
  local what=$1 counts=$2 kind
  for kind in reset reset-after status truncate; do
    [[ " $counts" =~ \ $kind= ]] || fail "no '$kind' fault was injected during the $what: the run proves less than it should" \
      "faults: ${counts:-none}" "(another E2E_FAULT_SEED, or more rounds, would)"
  done
}
soft fault_kinds_pushes check_fault_kinds pushes "$PUSH_FAULTS"
soft fault_kinds_pulls check_fault_kinds pulls "$PULL_FAULTS"

# ------------------------------------------------------------------ corrupted bodies

flip_fresh_dest() {
  DISTILL_CACHE_DIR=$T/flipcache dist "flip-pull" pull "docker://$FLIP/e2e/faults:1" "oci:$T/flipdest:1" "${PLAIN[@]}"
  [ "$DIST_RC" != 0 ] || fail "a pull of corrupted blobs succeeded" "stdout: $DIST_OUT" "stderr: $DIST_ERR"
  assert_eq 1 "$DIST_RC" "exit status of a pull with a corrupted blob"
  assert_absent "$T/flipdest" "a failed pull writes nothing at its destination"
  grep -q 'fault=flip' "$FLIP_LOG" || fail "the flip proxy flipped nothing (harness problem)" "$(tail -n 20 "$FLIP_LOG")"
  local msg=$DIST_ERR
  DISTILL_CACHE_DIR=$T/flipcache dist "flip-archive" pull "docker://$FLIP/e2e/faults:1" "oci-archive:$T/flip.tar:1" "${PLAIN[@]}"
  assert_eq 1 "$DIST_RC" "exit status of a pull to oci-archive: with a corrupted blob"
  assert_absent "$T/flip.tar" "a failed pull to oci-archive: leaves no file"
  # Nothing bad stayed in the cache: the same cache pulls right from the registry.
  DISTILL_CACHE_DIR=$T/flipcache dist_ok "after-flip" pull "docker://$REG_PLAIN/e2e/faults:1" "oci:$T/afterflip:1" "${PLAIN[@]}"
  assert_image_identical "$T/imgs" "$T/afterflip" "${WANT[1]}"
  assert_matches "$msg" '(does not match|[Dd]igest|[Mm]ismatch)' "the error says the blob's digest does not match"
}

flip_existing_layout() {
  mkdir -p "$T/existing"
  distill_build "$T/spec/image-2.yaml" "oci:$T/existing:old" -q >/dev/null
  local before
  before=$(cd "$T/existing" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
  DISTILL_CACHE_DIR=$T/flipcache2 dist "flip-existing" pull "docker://$FLIP/e2e/faults:1" "oci:$T/existing:new" "${PLAIN[@]}"
  assert_eq 1 "$DIST_RC" "exit status of a corrupted pull into an existing layout"
  assert_eq "$before" "$(cd "$T/existing" && find . -type f -print0 | sort -z | xargs -0 sha256sum)" \
    "a failed pull leaves an existing layout exactly as it was"
  assert_matches "$DIST_ERR" '(does not match|[Dd]igest|[Mm]ismatch)' "the error says the blob's digest does not match"
}

# Only the 256 KiB layer is corrupted (the config and manifest arrive
# intact): the check must hold for a blob streamed in many pieces too.
flip_layer_only() {
  DISTILL_CACHE_DIR=$T/flipcache3 dist "flip-layer" pull "docker://$FLIP_LAYER/e2e/faults:1" "oci:$T/flip-layer:1" "${PLAIN[@]}"
  assert_eq 1 "$DIST_RC" "exit status of a pull whose layer is corrupted"
  assert_absent "$T/flip-layer" "a failed pull writes nothing at its destination"
  grep -q 'fault=flip' "$REG_DIR/flip-layer.log" || fail "the flip-layer proxy flipped nothing (harness problem)" "$(tail -n 20 "$REG_DIR/flip-layer.log")"
  assert_contains "$DIST_ERR" "$(jq_file "$(blob_path "$T/imgs" "${WANT[1]}")" '.layers[0].digest')" "the error names the corrupted layer"
  assert_matches "$DIST_ERR" '(does not match|[Dd]igest|[Mm]ismatch)' "the error says the blob's digest does not match"
}

# inspect docker:// checks what it downloads too: a corrupted layer fails
# it, naming the layer; --no-files needs no layer and works.
inspect_flipped_layer() {
  local layer
  layer=$(jq_file "$(blob_path "$T/imgs" "${WANT[1]}")" '.layers[0].digest')
  DISTILL_CACHE_DIR=$T/flipcache4 dist "flip-inspect" inspect "docker://$FLIP_LAYER/e2e/faults:1" "${PLAIN[@]}"
  assert_eq 1 "$DIST_RC" "exit status of inspect docker:// whose layer is corrupted"
  assert_contains "$DIST_ERR" "$layer" "inspect's error names the corrupted layer"
  assert_matches "$DIST_ERR" '(does not match|[Dd]igest|[Mm]ismatch)' "inspect's error says the blob's digest does not match"
  assert_absent "$T/flipcache4/blobs/sha256/${layer#sha256:}" "the corrupted layer in inspect's cache"
  DISTILL_CACHE_DIR=$T/flipcache4 dist_ok "flip-inspect-nofiles" inspect "docker://$FLIP_LAYER/e2e/faults:1" --no-files --format json "${PLAIN[@]}"
  assert_jq "$DIST_OUTS/flip-inspect-nofiles.out" .manifest.digest "${WANT[1]}" "inspect --no-files through the flipping proxy"
}

step "a blob body with one flipped bit: the pull fails and writes nothing"
soft flip_fresh_dest flip_fresh_dest
soft flip_layer_only flip_layer_only
soft flip_existing_layout flip_existing_layout
soft inspect_flipped_layer inspect_flipped_layer

step "the proxy never made the registry accept a wrong blob"
# The registry checks every blob it is given against its digest; any
# DIGEST_INVALID answer would mean a body reached it changed.
if grep -q 'DIGEST_INVALID\|digest did not match' "$REG_PLAIN_LOG"; then
  fail "the registry saw a blob whose content did not match its digest" "$(grep -m3 'DIGEST_INVALID\|digest did not match' "$REG_PLAIN_LOG")"
fi

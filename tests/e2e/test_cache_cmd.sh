#!/usr/bin/env bash
# distill cache info | prune:
#   - info counts and sizes what the cache directory holds (checked with
#     find), in text and JSON;
#   - prune --max-size drops the least recently used blobs first: a blob a
#     later build reused stays, an older one goes, with the action records
#     that named it; --dry-run removes nothing; a rebuild after a prune
#     reuses what stayed (same inode) and rebuilds what went (same digest);
#   - prune --all empties the cache, removes a killed build's temporaries,
#     and the next build gives the same digest;
#   - prune refuses while a distill holds the cache (its shared lock), and
#     a build waits while a prune holds it;
#   - DISTILL_CACHE_MAX_SIZE: a build that leaves the cache larger prunes it
#     to 90% (the least recently used first), and says so; a bad value is a
#     usage error before anything is built;
#   - usage errors: no --max-size or --all, both, a size that is not one.
. "$(dirname "$0")/lib.sh"
need jq flock find

CACHE=$DISTILL_CACHE_DIR
OUT=$T/out
mkdir -p "$OUT" "$T/a" "$T/b"
head -c 3M /dev/urandom >"$T/a/data.bin"
head -c 3M /dev/urandom >"$T/b/data.bin"
printf 'files:\n  - {src: data.bin, dst: /data.bin}\ncmd: [a]\n' >"$T/a/image.yaml"
printf 'files:\n  - {src: data.bin, dst: /data.bin}\ncmd: [b]\n' >"$T/b/image.yaml"

# build NAME SPEC_DIR: builds into oci:$OUT/NAME; the layer digest in LAYER.
build() {
  "$DISTILL" build "$T/$2/image.yaml" -o "oci:$OUT/$1:1" --format json -q >"$T/$1.json" 2>"$T/$1.err" ||
    fail "distill build ($1) failed" "$(cat "$T/$1.err")"
  LAYER=$(jq -r '.images[0].layers[0].digest' "$T/$1.json")
}
blob() { echo "$CACHE/blobs/sha256/${1#sha256:}"; }
# info_json: distill cache info --format json into $T/info.json.
info_json() {
  "$DISTILL" cache info --format json >"$T/info.json" 2>"$T/info.err" || fail "distill cache info failed" "$(cat "$T/info.err")"
}
count_files() { find "$1" -mindepth 1 -maxdepth 1 -type f | wc -l; }
sum_bytes() { find "$1" -mindepth 1 -maxdepth 1 -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }

step "info: what the cache holds"
build a1 a
A_LAYER=$LAYER A_DIGEST=$(jq -r .digest "$T/a1.json")
# Read once more now, so that a relatime mount will not move the atime on
# the next read: only distill's own record of the use can.
build a1b a
sleep 0.05
build b1 b
B_LAYER=$LAYER B_DIGEST=$(jq -r .digest "$T/b1.json")
info_json
assert_jq "$T/info.json" .root "$CACHE" "cache root"
assert_jq "$T/info.json" .blobs.count "$(count_files "$CACHE/blobs/sha256")" "blob count"
assert_jq "$T/info.json" .blobs.bytes "$(sum_bytes "$CACHE/blobs/sha256")" "blob bytes"
assert_jq "$T/info.json" .actions.count "$(count_files "$CACHE/actions")" "action count"
assert_jq "$T/info.json" .bytes "$(($(sum_bytes "$CACHE/blobs/sha256") + $(sum_bytes "$CACHE/actions") + $(jq .temporary.bytes "$T/info.json")))" "total bytes"
"$DISTILL" cache info >"$T/info.txt" 2>&1 || fail "distill cache info (text) failed" "$(cat "$T/info.txt")"
assert_contains "$(cat "$T/info.txt")" "cache: $CACHE" "text info names the cache"
assert_matches "$(cat "$T/info.txt")" "blobs +$(jq .blobs.count "$T/info.json") " "text info counts the blobs"

step "prune --max-size: the least recently used blobs go first"
sleep 0.05
build a2 a # reuses a's layer: distill records the use, so a's blobs are now the most recent
assert_eq "$A_LAYER" "$LAYER" "a's layer, rebuilt"
A_INODE=$(stat -c %i "$(blob "$A_LAYER")")
ACTIONS_BEFORE=$(count_files "$CACHE/actions")
BLOBS_BEFORE=$(count_files "$CACHE/blobs/sha256")
# Room for a's blobs and the records, not for b's 3 MB layer too.
LIMIT=$(( $(stat -c %s "$(blob "$A_LAYER")") + 1024 * 1024 ))
"$DISTILL" cache prune --max-size "$LIMIT" --dry-run --format json >"$T/dry.json" 2>"$T/dry.err" || fail "prune --dry-run failed" "$(cat "$T/dry.err")"
assert_jq "$T/dry.json" .dryRun true "dry run reported"
[ "$(jq .removed.blobs "$T/dry.json")" -ge 1 ] || fail "--dry-run would remove no blob with --max-size $LIMIT" "$(cat "$T/dry.json")"
assert_eq "$BLOBS_BEFORE" "$(count_files "$CACHE/blobs/sha256")" "blobs after --dry-run"
assert_eq "$ACTIONS_BEFORE" "$(count_files "$CACHE/actions")" "action records after --dry-run"
"$DISTILL" cache prune --max-size "$LIMIT" --format json >"$T/prune.json" 2>"$T/prune.err" || fail "prune --max-size failed" "$(cat "$T/prune.err")"
assert_jq "$T/prune.json" .removed.blobs "$(jq .removed.blobs "$T/dry.json")" "blobs removed = what --dry-run said"
[ -f "$(blob "$A_LAYER")" ] || fail "a's layer blob (used last) was pruned"
assert_absent "$(blob "$B_LAYER")" "b's layer blob (used before a's rebuild) after prune --max-size $LIMIT"
[ "$(jq .remaining.bytes "$T/prune.json")" -le "$LIMIT" ] || fail "the cache holds more than --max-size after the prune" "$(cat "$T/prune.json")"
grep -rlF "${B_LAYER#sha256:}" "$CACHE/actions" >"$T/b-actions" || true
assert_eq "" "$(cat "$T/b-actions")" "action records naming b's pruned layer"
[ "$(count_files "$CACHE/actions")" -lt "$ACTIONS_BEFORE" ] || fail "no action record was removed with b's layer"

step "after the prune: a is reused, b is rebuilt the same"
build a3 a
assert_eq "$A_INODE" "$(stat -c %i "$(blob "$A_LAYER")")" "inode of a's layer blob after a rebuild (reused, not recompressed)"
build b2 b
assert_eq "$B_LAYER" "$LAYER" "b's layer, rebuilt after its blob was pruned"
assert_jq "$T/b2.json" .digest "$B_DIGEST" "b's image digest, rebuilt"

step "prune --all: an empty cache, leftovers included; the next build is the same"
mkdir -p "$CACHE/tmp/deb-killed" && head -c 1000 /dev/zero >"$CACHE/tmp/deb-killed/payload"
"$DISTILL" cache prune --all >"$T/all.txt" 2>&1 || fail "prune --all failed" "$(cat "$T/all.txt")"
assert_matches "$(cat "$T/all.txt")" '^removed [0-9]+ blobs .* and 1 temporaries from ' "prune --all's summary"
info_json
assert_jq "$T/info.json" '[.blobs.count, .actions.count, .temporary.count] | join(" ")' "0 0 0" "the cache after prune --all"
build a4 a
assert_jq "$T/a4.json" .digest "$A_DIGEST" "a's image digest from an empty cache"

step "prune refuses while a distill holds the cache; a build waits for a prune"
flock -o -s "$CACHE/lock" sleep 30 &  # -o: the lock is flock's, gone when it is killed
HOLDER=$!
defer "kill $HOLDER 2>/dev/null || true"
sleep 0.3
BLOBS_BEFORE=$(count_files "$CACHE/blobs/sha256")
rc=0
"$DISTILL" cache prune --all >"$T/busy.out" 2>"$T/busy.err" || rc=$?
assert_eq 1 "$rc" "exit status of prune while the cache is in use"
assert_contains "$(cat "$T/busy.err")" "is in use by a running distill; prune it when that ends" "prune's message while the cache is in use"
assert_eq "$BLOBS_BEFORE" "$(count_files "$CACHE/blobs/sha256")" "blobs after the refused prune"
kill "$HOLDER"; wait "$HOLDER" 2>/dev/null || true
flock -o -x "$CACHE/lock" sleep 2 &
HOLDER=$!
sleep 0.3
start=$(date +%s%N)
build a5 a
waited=$(( ($(date +%s%N) - start) / 1000000 ))
wait "$HOLDER" 2>/dev/null || true
[ "$waited" -ge 1500 ] || fail "a build ran in $waited ms while a prune held the cache exclusively (it should wait)"
assert_jq "$T/a5.json" .digest "$A_DIGEST" "a's digest after waiting for the prune"

step "DISTILL_CACHE_MAX_SIZE: a build that fills the cache prunes it to 90%"
"$DISTILL" cache prune --all -q >/dev/null 2>&1 || fail "prune --all failed"
build a6 a
sleep 0.05
MAX=$(( 5 * 1024 * 1024 ))  # a's 3 MB layer and b's do not both fit
DISTILL_CACHE_MAX_SIZE=5M "$DISTILL" build "$T/b/image.yaml" -o "oci:$OUT/b3:1" --format json >"$T/b3.json" 2>"$T/b3.err" ||
  fail "distill build with DISTILL_CACHE_MAX_SIZE=5M failed" "$(cat "$T/b3.err")"
assert_matches "$(cat "$T/b3.err")" 'distill: the cache was over DISTILL_CACHE_MAX_SIZE=5M: removed [0-9]+ least recently used blobs' \
  "the build's message about pruning"
assert_absent "$(blob "$A_LAYER")" "a's layer blob (least recently used) after the build of b over DISTILL_CACHE_MAX_SIZE"
[ -f "$(blob "$B_LAYER")" ] || fail "the layer the build just made was pruned"
info_json
[ "$(jq .bytes "$T/info.json")" -le $((MAX / 10 * 9)) ] || fail "the cache holds more than 90% of DISTILL_CACHE_MAX_SIZE" "$(cat "$T/info.json")"
rc=0
DISTILL_CACHE_MAX_SIZE=lots "$DISTILL" build "$T/b/image.yaml" -o "oci:$OUT/b4:1" >"$T/b4.out" 2>"$T/b4.err" || rc=$?
assert_eq 2 "$rc" "exit status with DISTILL_CACHE_MAX_SIZE=lots"
assert_contains "$(cat "$T/b4.err")" 'DISTILL_CACHE_MAX_SIZE: "lots" is not a size' "message for DISTILL_CACHE_MAX_SIZE=lots"
assert_absent "$OUT/b4" "the destination of a build refused for its DISTILL_CACHE_MAX_SIZE"

step "usage errors"
prune_usage() { # WANT_MESSAGE ARGS...
  local want=$1 rc=0
  shift
  "$DISTILL" cache prune "$@" >"$T/usage.out" 2>"$T/usage.err" || rc=$?
  assert_eq 2 "$rc" "exit status of distill cache prune $*"
  assert_contains "$(cat "$T/usage.err")" "$want" "message of distill cache prune $*"
}
prune_usage "say what to prune: --max-size SIZE (least recently used first) or --all"
prune_usage "say what to prune" --all --max-size 1G
prune_usage '--max-size: "5X" is not a size' --max-size 5X
prune_usage '--max-size: "G" is not a size' --max-size G

#!/usr/bin/env bash
# A rebuild whose layer inputs did not change does not compress them again,
# judged from outside distill rather than from its own `reused` flag: the
# CPU time distill uses (user + system) and the cache's layer blob, whose
# inode and mtime a new compression would replace (blobs are written under
# a temporary name and renamed). A config-only change reuses the layer too;
# changing the file's bytes is the positive control: it costs the CPU of a
# compression and gives a new layer.
. "$(dirname "$0")/lib.sh"
need jq stat

mkdir -p "$T/spec"
head -c 200M /dev/urandom >"$T/spec/big.bin"
printf 'files:\n  - {src: big.bin, dst: /data/big.bin}\ncmd: [one]\n' >"$T/spec/image.yaml"
OUT=$T/out
mkdir -p "$OUT"

# build_cpu NAME: builds into oci:$OUT/layout:NAME (one layout: blobs it
# holds already are not copied again); CPU seconds (user + system,
# distill and its threads) in CPU, the layer's digest in LAYER.
build_cpu() {
  local TIMEFORMAT='%U %S' t
  { t=$( { time "$DISTILL" build "$T/spec/image.yaml" -o "oci:$OUT/layout:$1" --format json -q >"$T/$1.json" 2>"$T/$1.err"; } 2>&1 ); } ||
    fail "distill build ($1) failed" "$(cat "$T/$1.err")"
  CPU=$(awk '{ printf "%.2f", $1 + $2 }' <<<"$t")
  LAYER=$(jq -r '.images[0].layers[0].digest' "$T/$1.json")
  note "$1: $CPU CPU seconds, layer $LAYER"
}
blob_identity() { stat -c '%i %Y.%y' "$DISTILL_CACHE_DIR/blobs/sha256/${1#sha256:}"; }
# less_than A B: A < B (decimals)
less_than() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

step "first build: compresses 200 MB"
build_cpu first
FIRST_CPU=$CPU FIRST_LAYER=$LAYER
BLOB=$(blob_identity "$LAYER")
less_than 0.5 "$FIRST_CPU" || fail "the first build took only $FIRST_CPU CPU seconds for 200 MB: the measure cannot tell a compression"

step "rebuild, nothing changed: no compression"
sleep 1.1 # a rewritten blob would get another mtime
build_cpu again
assert_eq "$FIRST_LAYER" "$LAYER" "layer of the rebuild"
assert_eq "$BLOB" "$(blob_identity "$LAYER")" "inode and mtime of the cached layer blob after the rebuild"
less_than "$CPU" "$(awk -v f="$FIRST_CPU" 'BEGIN { print f / 4 }')" ||
  fail "the rebuild used $CPU CPU seconds, the first build $FIRST_CPU: it compressed the layer again"

step "config-only change: the layer is reused"
sed -i 's/cmd: \[one\]/cmd: [two]/' "$T/spec/image.yaml"
build_cpu config
assert_eq "$FIRST_LAYER" "$LAYER" "layer after a config-only change"
assert_eq "$BLOB" "$(blob_identity "$LAYER")" "the cached layer blob after a config-only change"
less_than "$CPU" "$(awk -v f="$FIRST_CPU" 'BEGIN { print f / 4 }')" ||
  fail "the config-only rebuild used $CPU CPU seconds, the first build $FIRST_CPU"
assert_ne "$(jq -r .digest "$T/first.json")" "$(jq -r .digest "$T/config.json")" "image digest after the config change"

step "positive control: other bytes, same size, are compressed"
printf 'X' | dd of="$T/spec/big.bin" bs=1 seek=1000 conv=notrunc status=none
build_cpu changed
assert_ne "$FIRST_LAYER" "$LAYER" "layer after the file's bytes changed"
less_than "$(awk -v f="$FIRST_CPU" 'BEGIN { print f / 2 }')" "$CPU" ||
  fail "the build after a content change used $CPU CPU seconds, the first $FIRST_CPU: the measure does not see compressions"

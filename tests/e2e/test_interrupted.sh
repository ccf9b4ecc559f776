#!/usr/bin/env bash
# A build stopped half-way leaves nothing half-written: Ctrl-C (SIGINT) or
# SIGTERM while the layer is compressed, or while the oci-archive is written,
# ends distill with 130 or 143, a message, no destination and no temporary
# file beside it or in the cache; an existing layout keeps its bytes. After
# SIGKILL (no cleanup possible) there is still no destination, every blob
# the cache holds hashes to its name, the next build removes the killed
# one's temporaries from the cache and gives the digest of an uninterrupted
# build in a fresh cache; a killed archive write leaves a temporary beside
# the archive, which the next build to it removes (not a younger one).
. "$(dirname "$0")/lib.sh"
need jq sha256sum skopeo

# A 400 MB file of random bytes: a few seconds of compression on 2 cores,
# room to interrupt.
mkdir -p "$T/spec"
head -c 400M /dev/urandom >"$T/spec/big.bin"
printf 'files:\n  - {src: big.bin, dst: /data/big.bin}\n  - {dst: /etc/app.conf, content: "x = 1\\n"}\n' >"$T/spec/image.yaml"
OUT=$T/out
mkdir -p "$OUT"

# start_build DEST: distill build in the background; PID in BUILD_PID.
start_build() {
  # A shell's background job starts with SIGINT ignored, which distill
  # respects (as nohup's SIGHUP): give it the default, as a terminal would.
  env --default-signal=INT "$DISTILL" build "$T/spec/image.yaml" -o "$1" >"$T/build.out" 2>"$T/build.err" &
  BUILD_PID=$!
}

# wait_for WHAT CMD...: polls CMD (every 20 ms, 60 s at most) until it
# succeeds; fails if the build ended first.
wait_for() {
  local what=$1 i
  shift
  for i in $(seq 3000); do
    if "$@"; then return 0; fi
    kill -0 "$BUILD_PID" 2>/dev/null || fail "the build ended before $what" "$(cat "$T/build.err")"
    sleep 0.02
  done
  fail "no $what within 60 s" "$(cat "$T/build.err")"
}
# A temporary blob of the layer, being written in the cache.
layer_in_progress() { [ -n "$(find "$DISTILL_CACHE_DIR/tmp" -type f -size +1M 2>/dev/null | head -n1)" ]; }
# The archive's temporary file beside the destination.
archive_in_progress() { compgen -G "$OUT/image.tar.tmp-*" >/dev/null; }

# stop_build SIGNAL STATUS: sends SIGNAL, waits, checks the exit status.
stop_build() {
  kill "-$1" "$BUILD_PID"
  local rc=0
  wait "$BUILD_PID" || rc=$?
  assert_eq "$2" "$rc" "exit status of distill build after SIG$1"
}

# no_leftovers: nothing temporary in the output directory or the cache.
no_leftovers() {
  local left
  left=$(find "$OUT" "$DISTILL_CACHE_DIR" \( -name '*.tmp-*' -o -name '.*.distill-*' \) 2>/dev/null)
  assert_eq "" "$left" "temporary files left after the interrupted build"
  left=$(find "$DISTILL_CACHE_DIR/tmp" -mindepth 1 2>/dev/null)
  assert_eq "" "$left" "entries left in the cache's tmp directory"
}

step "SIGINT while the layer is compressed"
start_build "oci:$OUT/layout:1"
wait_for "a layer being written in the cache" layer_in_progress
stop_build INT 130
assert_contains "$(cat "$T/build.err")" "distill: interrupted (SIGINT); temporary files removed" "the message"
assert_absent "$OUT/layout" "the destination of the interrupted build"
no_leftovers

step "SIGTERM while the layer is compressed"
start_build "oci-archive:$OUT/image.tar:1"
wait_for "a layer being written in the cache" layer_in_progress
stop_build TERM 143
assert_absent "$OUT/image.tar" "the destination of the interrupted build"
no_leftovers

step "SIGINT while the oci-archive is written (the layer is cached)"
distill_build "$T/spec/image.yaml" "oci:$OUT/layout:1" -q >/dev/null
start_build "oci-archive:$OUT/image.tar:1"
wait_for "the archive's temporary file" archive_in_progress
stop_build INT 130
assert_absent "$OUT/image.tar" "the archive of the interrupted build"
no_leftovers

step "SIGINT while adding a tag to an existing layout: it keeps its bytes"
sed -i 's/x = 1/x = 2/' "$T/spec/image.yaml"
head -c 1M /dev/urandom >>"$T/spec/big.bin" # a new layer, so the build takes time
before=$(cd "$OUT/layout" && find . -type f -printf '%p %s\n' | LC_ALL=C sort; sha256sum index.json)
start_build "oci:$OUT/layout:2"
wait_for "a layer being written in the cache" layer_in_progress
stop_build INT 130
assert_eq "$before" "$(cd "$OUT/layout" && find . -type f -printf '%p %s\n' | LC_ALL=C sort; sha256sum index.json)" \
  "the existing layout after an interrupted build into it"
skopeo inspect "oci:$OUT/layout:1" >/dev/null 2>"$T/skopeo.err" || fail "skopeo cannot read the layout's tag 1 any more" "$(cat "$T/skopeo.err")"
no_leftovers

step "an inherited SIG_IGN stays: nohup's SIGHUP does not stop the build"
nohup "$DISTILL" build "$T/spec/image.yaml" -o "oci:$OUT/nohup:1" -q >"$T/build.out" 2>"$T/build.err" &
BUILD_PID=$!
wait_for "a layer being written in the cache" layer_in_progress
kill -HUP "$BUILD_PID"
rc=0
wait "$BUILD_PID" || rc=$?
assert_eq 0 "$rc" "exit status of a nohup'ed build sent SIGHUP"
skopeo inspect "oci:$OUT/nohup:1" >/dev/null 2>"$T/skopeo.err" || fail "the nohup'ed build's image" "$(cat "$T/skopeo.err")"
no_leftovers

step "SIGKILL: no destination, only whole blobs in the cache, the next build is right"
head -c 1M /dev/urandom >>"$T/spec/big.bin" # a layer not in the cache yet
start_build "oci:$OUT/killed:1"
wait_for "a layer being written in the cache" layer_in_progress
stop_build KILL 137
assert_absent "$OUT/killed" "the destination of the killed build"
bad=$(cd "$DISTILL_CACHE_DIR" && find . -path ./tmp -prune -o -type f -path '*/sha256/*' -print | while read -r f; do
  [ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || echo "$f"
done)
assert_eq "" "$bad" "cache blobs whose bytes do not hash to their name after SIGKILL"
left=$(find "$DISTILL_CACHE_DIR/tmp" -mindepth 1 -maxdepth 1)
[ -n "$left" ] || fail "the killed build left nothing in the cache's tmp: the step did not kill it while writing"
note "after SIGKILL the cache's tmp holds: $(basename -a $left | tr '\n' ' ')"
# The next distill removes them once they are a minute old and no live
# process holds their lock (a younger one may be a build starting now).
find "$DISTILL_CACHE_DIR/tmp" -mindepth 1 -maxdepth 1 -exec touch -h -d '-2 minutes' {} +
distill_build "$T/spec/image.yaml" "oci:$OUT/killed:1" --format json -q >"$T/after.json"
for f in $left; do assert_absent "$f" "a killed build's temporary, after the next build"; done
DISTILL_CACHE_DIR=$T/fresh-cache distill_build "$T/spec/image.yaml" "oci:$OUT/fresh:1" --format json -q >"$T/fresh.json"
assert_eq "$(jq -r .digest "$T/fresh.json")" "$(jq -r .digest "$T/after.json")" "digest after a killed build vs in a fresh cache"

step "SIGKILL while the oci-archive is written: the next build to it removes the leftover beside it"
rm -f "$OUT"/image.tar*
start_build "oci-archive:$OUT/image.tar:1"
wait_for "the archive's temporary file" archive_in_progress
stop_build KILL 137
assert_absent "$OUT/image.tar" "the archive of the killed build"
left=$(compgen -G "$OUT/image.tar.tmp-*" || true)
[ -n "$left" ] || fail "the killed archive build left no temporary beside it: the step did not kill it while writing"
touch -d '-2 minutes' $left
# Another build's temporary beside it, as young as a build starting now: kept.
printf x >"$OUT/image.tar.tmp-young"
distill_build "$T/spec/image.yaml" "oci-archive:$OUT/image.tar:1" -q >/dev/null
for f in $left; do assert_absent "$f" "the killed build's temporary, after the next build to the same archive"; done
[ -f "$OUT/image.tar.tmp-young" ] || fail "a temporary younger than a minute was removed (it may be another build's)"
skopeo inspect "oci-archive:$OUT/image.tar:1" >/dev/null 2>"$T/skopeo.err" || fail "the rebuilt archive" "$(cat "$T/skopeo.err")"

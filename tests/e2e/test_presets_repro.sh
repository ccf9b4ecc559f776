#!/usr/bin/env bash
# Every distroless preset in every variant (amd64; MIRROR_SUITE=bookworm:
# test_presets_repro_bookworm.sh) builds to the same
# digest twice from the local mirror: pass A (umask 022, TZ=UTC, default
# jobs, fresh cache, one output directory) and pass B (umask 077,
# TZ=Pacific/Chatham, DISTILL_JOBS=1, another fresh cache, another output
# directory and working directory). A third pass reuses A's warm cache. A
# spec "from: preset:python3" with a file is built from two copies of its
# directory (other mtimes and owners) too. On a mismatch the layers that
# differ are named.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_mirror.sh"
. "$(dirname "$0")/helpers/presets/lib.sh"
need_root
need jq cmp
assert_eq "+1345" "$(TZ=Pacific/Chatham date -d 2024-01-15 +%z)" "TZ=Pacific/Chatham must take effect (is tzdata installed?)"
presets_mirror_start amd64

# The app spec, twice: b has other owners and mtimes.
mkdir -p "$T/app-a"
cp "$PRESETS_HELPERS/check.py" "$T/app-a/check.py"
chmod 0644 "$T/app-a/check.py"
cat >"$T/app-a/image.yaml" <<'EOF'
from: preset:python3
files:
  - {src: check.py, dst: /app/check.py}
cmd: [/app/check.py]
env: {APP_MODE: repro}
EOF
cp -a "$T/app-a" "$T/app-b"
chown -R 1234:1234 "$T/app-b"
find "$T/app-b" -exec touch -h -d '2001-02-03 04:05:06' {} +

# build_pass LABEL OUTDIR: every preset x variant and the app, with the
# caller's environment; writes "NAME DIGEST CONFIG" lines to $T/LABEL.digests
# and each JSON report to $T/LABEL.NAME.json.
build_pass() {
  local label=$1 out=$2 p v
  mkdir -p "$out"
  : >"$T/$label.digests"
  for p in "${PRESETS[@]}"; do
    for v in "${VARIANTS[@]}"; do
      preset_build "$p:$v" "oci:$out/$p-$v:t" --arch amd64 >"$T/$label.$p-$v.json"
      jq -r --arg n "$p:$v" '"\($n) \(.digest) \(.images[0].config)"' "$T/$label.$p-$v.json" >>"$T/$label.digests"
    done
  done
  spec_build "$T/app-$3/image.yaml" "oci:$out/app:t" --arch amd64 >"$T/$label.app.json"
  jq -r '"app \(.digest) \(.images[0].config)"' "$T/$label.app.json" >>"$T/$label.digests"
}

# compare A B: every digest equal; else the differing layers, by createdBy.
compare() {
  local a=$1 b=$2
  if ! diff -u "$T/$a.digests" "$T/$b.digests" >"$T/diff.out"; then
    local details=() name
    while read -r name _; do
      local f=${name/:/-}
      details+=("$name: layers that differ:")
      details+=("$(diff <(jq -r '.images[0].layers[] | "\(.createdBy) \(.digest)"' "$T/$a.$f.json") \
        <(jq -r '.images[0].layers[] | "\(.createdBy) \(.digest)"' "$T/$b.$f.json") || true)")
    done < <(diff <(cat "$T/$a.digests") <(cat "$T/$b.digests") | sed -n 's/^< //p')
    fail "builds $a and $b give different digests" "$(cat "$T/diff.out")" "${details[@]}"
  fi
}

tstep "pass A: umask 022, TZ=UTC, fresh cache"
mkdir -p "$T/a"
(
  cd "$T/a" || exit 1
  umask 022
  export TZ=UTC DISTILL_CACHE_DIR=$T/cache-a
  build_pass A "$T/a/out" a
)
note "$(wc -l <"$T/A.digests") images"

tstep "pass B: umask 077, TZ=Pacific/Chatham, DISTILL_JOBS=1, fresh cache, another directory"
mkdir -p "$T/b/x/y"
(
  cd / || exit 1
  umask 077
  export TZ=Pacific/Chatham DISTILL_JOBS=1 DISTILL_CACHE_DIR=$T/cache-b
  build_pass B "$T/b/x/y/out" b
)
compare A B

tstep "pass C: A's warm cache, another output directory"
(
  umask 022
  export DISTILL_CACHE_DIR=$T/cache-a
  build_pass C "$T/c" a
)
compare A C

tstep "the layouts of A and B hold the same manifest and config bytes"
while read -r name digest config; do
  f=${name/:/-}
  [ "$name" = app ] && f=app
  cmp -s "$(blob_path "$T/a/out/$f" "$digest")" "$(blob_path "$T/b/x/y/out/$f" "$digest")" ||
    fail "manifest blob of $name differs between A and B"
  cmp -s "$(blob_path "$T/a/out/$f" "$config")" "$(blob_path "$T/b/x/y/out/$f" "$config")" ||
    fail "config blob of $name differs between A and B"
done <"$T/A.digests"
note "$(sort -u -k2,2 "$T/A.digests" | wc -l) distinct digests over $(wc -l <"$T/A.digests") images"
# Each preset x variant is its own image.
assert_eq "$(wc -l <"$T/A.digests")" "$(cut -d' ' -f2 "$T/A.digests" | sort -u | wc -l)" "every preset and variant has its own digest"

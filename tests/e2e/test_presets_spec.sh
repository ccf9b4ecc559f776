#!/usr/bin/env bash
# Specs built on a preset ("from: preset:NAME[:VARIANT]"), from the local
# mirror (amd64):
#   - added packages are resolved on top of the preset's listed packages
#     (which count as installed: no second copy, nothing they would pull)
#   - `distill lock` of such a spec pins the same packages as the build, the
#     build then accepts that lockfile and gives the same digest
#   - `distill why` explains a preset package as the preset's
#   - the spec's config overrides the preset's (env by name, user, workdir,
#     entrypoint), and from: keeps the variant's settings
#   - an unknown preset or variant is a usage error (exit 2) naming the choices
#   - the added program runs (podman)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_mirror.sh"
. "$(dirname "$0")/helpers/presets/lib.sh"
need_root
need jq
presets_mirror_start amd64
podman_setup
OUT=$PM/out
mkdir -p "$OUT" "$T/sq" "$T/cfg"
M=(--mirror "$MIRROR_URL" --keyring "$MIRROR_KEYRING")

cat >"$T/sq/image.yaml" <<'EOF'
from: preset:python3
contents:
  packages: [sqlite3]
EOF
PY_PKGS=$(preset_packages python3)

tstep "from: preset:python3 + packages [sqlite3]: build"
spec_build "$T/sq/image.yaml" "oci:$OUT/sq:t" --arch amd64 >"$T/sq.json"
SQ_DIGEST=$(jq_file "$T/sq.json" .digest)
jq -r '.images[0].layers[].createdBy | select(startswith("distill: package ")) | sub("^distill: package "; "") | sub(" .*"; "")' \
  "$T/sq.json" | LC_ALL=C sort >"$T/sq.pkgs"
# The preset's 38 and sqlite3; its other dependencies are the preset's
# (libsqlite3-0, libreadline8t64, ...), so nothing else, not readline-common.
assert_eq "$(printf '%s\nsqlite3\n' "$PY_PKGS" | LC_ALL=C sort)" "$(cat "$T/sq.pkgs")" "packages of from: preset:python3 + sqlite3"
soft "the spec's image keeps the python3 preset's config" eval '
  "$DISTILL" inspect "oci:$OUT/sq:t" --no-files --format json -q >"$T/sq.inspect.json"
  assert_jq "$T/sq.inspect.json" ".config.config.Entrypoint | tojson" "[\"/usr/bin/python3.13\"]" "entrypoint"
  assert_jq "$T/sq.inspect.json" ".config.config.Env | tojson" "$(preset_env python3 latest)" "env"'

run_sqlite() {
  prun 0 --entrypoint /usr/bin/sqlite3 "oci:$OUT/sq:t" :memory: 'select 6 * 7;'
  assert_eq 42 "$RUN_OUT" "sqlite3 added to the python3 preset runs"
}
soft "podman: the added sqlite3 runs" run_sqlite

tstep "distill lock of the from: preset spec"
lock_check() {
  run_expect 0 "$DISTILL" lock "$T/sq/image.yaml" "${M[@]}"
  local lock=$T/sq/image.lock.json
  [ -f "$lock" ] || fail "distill lock wrote no $lock" "stderr: $RUN_ERR"
  jq -r '.architectures.amd64.packages[].name' "$lock" | LC_ALL=C sort -u >"$T/lock.pkgs"
  assert_eq "$(cat "$T/sq.pkgs")" "$(cat "$T/lock.pkgs")" \
    "packages pinned by 'distill lock' for from: preset:python3 + sqlite3 (= the build's, with the preset's)"
}
soft "distill lock pins the preset's packages too" lock_check
build_with_lock() {
  [ -f "$T/sq/image.lock.json" ] || fail "no lockfile to build with"
  spec_build "$T/sq/image.yaml" "oci:$OUT/sq-locked:t" --arch amd64 >"$T/sq-locked.json"
  assert_jq "$T/sq-locked.json" .digest "$SQ_DIGEST" "digest of the build that uses the lockfile of 'distill lock'"
}
soft "the build accepts the lockfile of distill lock" build_with_lock
rm -f "$T/sq/image.lock.json"
update_lock() {
  spec_build "$T/sq/image.yaml" "oci:$OUT/sq-update:t" --arch amd64 --update-lock >"$T/sq-update.json"
  assert_jq "$T/sq-update.json" .digest "$SQ_DIGEST" "digest with --update-lock"
  jq -r '.architectures.amd64.packages[].name' "$T/sq/image.lock.json" | LC_ALL=C sort -u >"$T/lock2.pkgs"
  assert_eq "$(cat "$T/sq.pkgs")" "$(cat "$T/lock2.pkgs")" "packages in the lockfile written by build --update-lock"
  spec_build "$T/sq/image.yaml" "oci:$OUT/sq-relock:t" --arch amd64 >"$T/sq-relock.json"
  assert_jq "$T/sq-relock.json" .digest "$SQ_DIGEST" "digest of a build with that lockfile"
}
soft "build --update-lock writes the preset's packages" update_lock
rm -f "$T/sq/image.lock.json"

tstep "distill why on a from: preset spec"
why_check() { # PACKAGE
  run_expect 0 "$DISTILL" why "$1" "$T/sq/image.yaml" "${M[@]}" --arch amd64
  assert_not_contains "$RUN_OUT" "not in the image" "distill why $1 (a package the python3 preset lists)"
  assert_contains "$RUN_OUT" "preset:python3" "distill why $1 names the preset that lists it"
}
soft "why libpython3.13-stdlib" why_check libpython3.13-stdlib
soft "why libreadline8t64" why_check libreadline8t64
why_added() {
  run_expect 0 "$DISTILL" why sqlite3 "$T/sq/image.yaml" "${M[@]}" --arch amd64
  assert_contains "$RUN_OUT" "sqlite3" "distill why sqlite3"
  assert_contains "$RUN_OUT" "image.yaml" "distill why sqlite3 names the spec that asks for it"
}
soft "why sqlite3" why_added

tstep "the spec's config overrides the preset's"
cat >"$T/cfg/image.yaml" <<'EOF'
from: preset:python3:debug-nonroot
env: {LANG: en_US.UTF-8, APP_MODE: x}
workdir: /tmp
entrypoint: [/usr/bin/python3.13, -I]
EOF
config_override() {
  spec_build "$T/cfg/image.yaml" "oci:$OUT/cfg:t" --arch amd64 >/dev/null
  "$DISTILL" inspect "oci:$OUT/cfg:t" --no-files --format json -q >"$T/cfg.json"
  assert_jq "$T/cfg.json" '.config.config.Env | tojson' \
    '["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/busybox","SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt","LANG=en_US.UTF-8","APP_MODE=x"]' \
    "env of from: preset:python3:debug-nonroot + env (LANG replaced in place, APP_MODE added)"
  assert_jq "$T/cfg.json" '.config.config.User' 65532 "user of the debug-nonroot variant is kept"
  assert_jq "$T/cfg.json" '.config.config.WorkingDir' /tmp "workdir from the spec"
  assert_jq "$T/cfg.json" '.config.config.Entrypoint | tojson' '["/usr/bin/python3.13","-I"]' "entrypoint from the spec"
  "$DISTILL" inspect "oci:$OUT/cfg:t" --format json -q >"$T/cfg-files.json"
  assert_eq "file" "$(jq -r '.files[] | select(.path == "/busybox/busybox") | .type' "$T/cfg-files.json")" "the debug variant's busybox in the spec's image"
  prun 0 "oci:$OUT/cfg:t" -c 'import os; print(os.getuid(), os.getcwd(), os.environ["LANG"], os.environ["APP_MODE"])'
  assert_eq "65532 /tmp en_US.UTF-8 x" "$RUN_OUT" "what python sees in the spec's image"
}
soft "config overrides" config_override

tstep "unknown presets and variants are usage errors"
bad_preset() { # FROM WANT_IN_MESSAGE
  mkdir -p "$T/bad"
  printf 'from: %s\n' "$1" >"$T/bad/image.yaml"
  run_expect 2 "$DISTILL" build "$T/bad/image.yaml" -o "oci:$OUT/bad:t" "${M[@]}"
  assert_contains "$RUN_ERR" "$2" "message for from: $1"
}
soft "from: preset:nope" bad_preset preset:nope "unknown preset"
soft "from: preset:python3:fast" bad_preset preset:python3:fast "unknown preset variant"
soft "--preset python4" eval '
  run_expect 2 "$DISTILL" build --preset python4 -o "oci:$OUT/bad:t" "${M[@]}"
  assert_contains "$RUN_ERR" "static, base-nossl, base, cc, python3, java or nodejs" "the choices are named"'
soft "--preset java:debug-root" eval '
  run_expect 2 "$DISTILL" build --preset java:debug-root -o "oci:$OUT/bad:t" "${M[@]}"
  assert_contains "$RUN_ERR" "latest, nonroot, debug or debug-nonroot" "the variants are named"'

# shellcheck shell=bash
# Harness for distill's end-to-end tests. Source it first thing:
#   . "$(dirname "$0")/lib.sh"
# It gives each test a private temp dir ($T), a private distill cache, loud
# assertions that print what was expected and what came instead, `fail`,
# and cleanup hooks (`defer CMD`) that run on every exit.
#
# Environment:
#   DISTILL        the binary under test (default: build/distill in the repo)
#   E2E_KEEP_TMP=1 keep the temp dir of a test for a post-mortem
set -Eeuo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$E2E_DIR/../.." && pwd)
# A wrapper (test_presets_bookworm.sh) that execs another test names itself in E2E_TEST_NAME.
TEST_NAME=${E2E_TEST_NAME:-$(basename "${BASH_SOURCE[1]:-$0}" .sh)}

# ---------------------------------------------------------------- reporting

if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then
  _RED=$'\033[31m' _GREEN=$'\033[32m' _BOLD=$'\033[1m' _OFF=$'\033[0m'
else
  _RED='' _GREEN='' _BOLD='' _OFF=''
fi

# Where the test called us: the stack frames outside this file, innermost
# first ("test_x.sh:39 <- test_x.sh:120").
_where() {
  local i out=
  for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
    if [ "${BASH_SOURCE[$i]}" != "${BASH_SOURCE[0]}" ]; then
      out+="${out:+ <- }${BASH_SOURCE[$i]##*/}:${BASH_LINENO[$((i - 1))]}"
    fi
  done
  echo "${out:-?}"
}

# fail MESSAGE [DETAIL...]: print loudly and end the test with status 1.
fail() {
  local where
  where=$(_where)
  {
    echo
    echo "${_RED}${_BOLD}FAIL${_OFF} [$TEST_NAME] at $where: $1"
    shift
    local line
    for line in "$@"; do printf '%s\n' "$line" | sed 's/^/    /'; done
  } >&2
  _FAILED_LOUDLY=1
  exit 1
}

step() { echo "${_BOLD}--- $*${_OFF}" >&2; }
note() { echo "    $*" >&2; }

_ERR_LEVEL=0
_on_err() {
  local rc=$? cmd=$BASH_COMMAND
  # Only the test's own shell (or a `soft` check's) reports: command
  # substitutions propagate their status to it.
  if [ "$BASH_SUBSHELL" = "$_ERR_LEVEL" ] && [ -z "${_FAILED_LOUDLY:-}" ]; then
    echo "${_RED}${_BOLD}FAIL${_OFF} [$TEST_NAME] command exited $rc at $(_where): $cmd" >&2
    _FAILED_LOUDLY=1
  fi
}
trap _on_err ERR

_SOFT_FAILURES=()
# soft NAME CMD...: run one independent check (usually a function) in a
# subshell. Its failure is reported at once and fails the test when it ends,
# but the checks after it still run, so one run shows every failure.
soft() {
  local name=$1 rc=0
  shift
  trap - ERR
  set +e
  (
    set -e
    _ERR_LEVEL=$BASH_SUBSHELL
    trap _on_err ERR
    "$@"
  )
  rc=$?
  set -e
  trap _on_err ERR
  if [ $rc != 0 ]; then
    _SOFT_FAILURES+=("$name")
    echo "    (check '$name' failed; going on with the next checks)" >&2
  fi
  return 0
}

# ---------------------------------------------------------------- cleanup

_DEFERRED=()
# defer CMD: run CMD (a string, eval'd) when the test exits, last first.
defer() { _DEFERRED+=("$1"); }

_on_exit() {
  local rc=$? i
  trap - ERR
  set +e
  for ((i = ${#_DEFERRED[@]} - 1; i >= 0; i--)); do eval "${_DEFERRED[$i]}"; done
  if [ -n "${T:-}" ] && [ -d "$T" ]; then
    if [ "${E2E_KEEP_TMP:-}" = 1 ] || { [ $rc != 0 ] && [ "${E2E_KEEP_TMP:-}" = failed ]; }; then
      echo "    (kept $T)" >&2
    else
      rm -rf "$T"
    fi
  fi
  if [ $rc = 0 ] && [ ${#_SOFT_FAILURES[@]} != 0 ]; then
    echo "${_RED}${_BOLD}FAIL${_OFF} [$TEST_NAME] failed checks: ${_SOFT_FAILURES[*]}" >&2
    _FAILED_LOUDLY=1
    rc=1
  fi
  if [ $rc = 0 ]; then
    echo "${_GREEN}PASS${_OFF} $TEST_NAME" >&2
  else
    [ -n "${_FAILED_LOUDLY:-}" ] || echo "${_RED}${_BOLD}FAIL${_OFF} [$TEST_NAME] exited with status $rc" >&2
    echo "${_RED}FAIL${_OFF} $TEST_NAME" >&2
  fi
  exit $rc
}
trap _on_exit EXIT
# A timeout (run-all.sh) or ^C still runs the cleanup above.
trap 'exit 143' TERM
trap 'exit 130' INT

# ---------------------------------------------------------------- environment

# need TOOL...: every peer tool must be present; a missing one fails the test.
need() {
  local t missing=()
  for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
  [ ${#missing[@]} = 0 ] ||
    fail "required tool(s) not installed: ${missing[*]}" "run scripts/install-deps.sh (as root) to install the test peers"
}

need_root() {
  [ "$(id -u)" = 0 ] || fail "this test must run as root (it does in CI)"
}

DISTILL=${DISTILL:-build/distill}
if [ "${DISTILL#/}" = "$DISTILL" ]; then
  if [ -x "$PWD/$DISTILL" ] && [ "$DISTILL" != build/distill ]; then DISTILL=$PWD/$DISTILL; else DISTILL=$REPO_ROOT/$DISTILL; fi
fi
[ -x "$DISTILL" ] || fail "distill binary not found or not executable: $DISTILL" \
  "build it: cmake -S . -B build -G Ninja && ninja -C build, or set DISTILL=/path/to/distill"
export DISTILL

# Tests run a private copy of the binary: it stays the same for the whole
# test even if the build tree is rebuilt meanwhile, and an unprivileged user
# can run it whatever the permissions of the checkout.
_copy_distill() {
  mkdir -p "$T/bin"
  cp "$DISTILL" "$T/bin/distill"
  chmod 0755 "$T/bin" "$T/bin/distill"
  "$T/bin/distill" --version >/dev/null 2>&1 || fail "$DISTILL does not run (--version failed)"
  export DISTILL_UNDER_TEST=$DISTILL # (the original, for messages)
  DISTILL=$T/bin/distill
}

# The Debian python3 has python3-jsonschema; a pyenv python first on PATH may not.
PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi

# One private, world-traversable temp dir per test (unprivileged builds use it too).
T=$(mktemp -d "${TMPDIR:-/tmp}/distill-e2e.$TEST_NAME.XXXXXX")
chmod 0755 "$T"
# A private cache: tests never touch the user's, and never see each other's.
_copy_distill
export DISTILL_CACHE_DIR=$T/cache
unset SOURCE_DATE_EPOCH XDG_CACHE_HOME DISTILL_JOBS
export NO_COLOR=1 LC_ALL=C.UTF-8 TZ=UTC
umask 022

# ---------------------------------------------------------------- podman

# podman_setup: a private podman store in a short lower-case directory
# ($PM): podman refuses a runroot longer than 50 characters, and names an
# oci:PATH image after its path, which must then be lower-case, so the oci:
# layouts a test runs go below $PM too. World-traversable, so the container
# user reaches the image files. Removed when the test ends. Sets PODMAN
# (array) with runc (crun cannot run on this host's hybrid cgroups).
podman_setup() {
  need podman runc findmnt
  PM=$(mktemp -d /tmp/e2e-pm.XXXXXX)
  if [ "$PM" != "${PM,,}" ]; then
    mv -T "$PM" "${PM,,}" || fail "cannot rename $PM to ${PM,,}"
    PM=${PM,,}
  fi
  chmod 0755 "$PM"
  PODMAN=(podman --root "$PM/root" --runroot "$PM/run" --tmpdir "$PM/tmp" --runtime runc --events-backend file)
  defer _podman_cleanup
}
_podman_cleanup() {
  "${PODMAN[@]}" rm -a -f >/dev/null 2>&1
  "${PODMAN[@]}" rmi -a -f >/dev/null 2>&1
  local m
  findmnt -rn -o TARGET | grep -F "$PM/" | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$PM"
}

# prun EXPECTED_RC IMAGE_AND_ARGS...: podman run --rm with the brief's
# ulimits; stdout in $T/run.out (and $RUN_OUT), stderr in $T/run.err. Fails
# unless the exit status is EXPECTED_RC.
prun() {
  local want=$1 rc=0
  shift
  "${PODMAN[@]}" run --rm --ulimit nofile=20000:20000 --ulimit nproc=20000:20000 "$@" \
    >"$T/run.out" 2>"$T/run.err" || rc=$?
  # shellcheck disable=SC2034 # for the caller
  RUN_OUT=$(cat "$T/run.out")
  if [ "$rc" != "$want" ]; then
    fail "podman run exited $rc, expected $want" "command: podman run --rm --ulimit nofile=20000:20000 --ulimit nproc=20000:20000 $*" \
      "stdout:" "$(_show "$T/run.out")" "stderr:" "$(grep -vE '^(Getting image source signatures|Copying (blob|config)|Writing manifest|Storing signatures)' "$T/run.err" | head -n 40)"
  fi
}

# ---------------------------------------------------------------- assertions

# show FILE: indented contents for failure details (first 60 lines).
_show() { if [ -s "$1" ]; then head -n 60 "$1"; else echo "(empty)"; fi; }

assert_eq() { # EXPECTED ACTUAL [WHAT]
  [ "$1" == "$2" ] || fail "${3:-values differ}" "expected: $1" "got:      $2"
}

assert_ne() { # UNEXPECTED ACTUAL [WHAT]
  [ "$1" != "$2" ] || fail "${3:-values should differ}" "both are: $1"
}

assert_contains() { # HAYSTACK NEEDLE [WHAT]
  [[ "$1" == *"$2"* ]] || fail "${3:-text lacks an expected part}" "expected to contain: $2" "got: $1"
}

assert_not_contains() { # HAYSTACK NEEDLE [WHAT]
  [[ "$1" != *"$2"* ]] || fail "${3:-text has an unexpected part}" "expected NOT to contain: $2" "got: $1"
}

assert_matches() { # TEXT ERE [WHAT]
  [[ "$1" =~ $2 ]] || fail "${3:-text does not match}" "expected to match: $2" "got: $1"
}

assert_exists() { # PATH [WHAT]
  [ -e "$1" ] || [ -L "$1" ] || fail "${2:-expected path is missing}" "expected to exist: $1"
}

assert_absent() { # PATH [WHAT]
  if [ -e "$1" ] || [ -L "$1" ]; then
    fail "${2:-path should not exist}" "expected absent: $1" "got: $(ls -ld "$1")"
  fi
}

assert_same_bytes() { # FILE1 FILE2 [WHAT]
  cmp "$1" "$2" >/dev/null 2>&1 ||
    fail "${3:-files differ}" "expected identical: $1" "and:                $2" "cmp: $(cmp "$1" "$2" 2>&1 || true)" \
      "sizes: $(stat -c %s "$1" "$2" 2>&1 | tr '\n' ' ')"
}

assert_dir_empty() { # DIR [WHAT]
  local left
  left=$(ls -A "$1")
  [ -z "$left" ] || fail "${2:-directory should be empty}" "expected nothing in $1" "got: $(ls -la "$1")"
}

# run_expect RC CMD...: runs CMD, keeps stdout in $RUN_OUT and stderr in
# $RUN_ERR (and files $T/last.out, $T/last.err), and fails unless it exits RC.
run_expect() {
  local want=$1
  shift
  local rc=0
  "$@" >"$T/last.out" 2>"$T/last.err" || rc=$?
  # shellcheck disable=SC2034 # for the caller
  RUN_OUT=$(cat "$T/last.out")
  # shellcheck disable=SC2034 # for the caller
  RUN_ERR=$(cat "$T/last.err")
  if [ "$rc" != "$want" ]; then
    fail "expected exit status $want, got $rc" "command: $*" "stdout:" "$(_show "$T/last.out")" \
      "stderr:" "$(_show "$T/last.err")"
  fi
}

# jq_file FILE FILTER: jq -r with a failure that names the file.
jq_file() {
  jq -r "$2" "$1" 2>"$T/jq.err" || fail "jq could not evaluate '$2' on $1" "$(cat "$T/jq.err")" "file: $(head -c 2000 "$1")"
}

assert_jq() { # FILE FILTER EXPECTED [WHAT]
  local got
  got=$(jq_file "$1" "$2")
  [ "$got" == "$3" ] || fail "${4:-JSON value differs} ($2 in ${1##*/})" "expected: $3" "got:      $got"
}

# ---------------------------------------------------------------- helpers

# distill_build SPEC DEST [ARGS...]: a build that must succeed; prints stdout.
distill_build() {
  local spec=$1 dest=$2
  shift 2
  local rc=0
  "$DISTILL" build "$spec" -o "$dest" "$@" >"$T/build.out" 2>"$T/build.err" || rc=$?
  [ $rc = 0 ] || fail "distill build failed with status $rc" "command: $DISTILL build $spec -o $dest $*" \
    "stderr:" "$(_show "$T/build.err")"
  cat "$T/build.out"
}

# sha256 FILE -> "sha256:<hex>"
sha256() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }

# blob_path LAYOUT_DIR DIGEST
blob_path() { echo "$1/blobs/sha256/${2#sha256:}"; }

# compile_probe OUT: the static test program that prints what a container sees.
compile_probe() {
  need gcc
  gcc -static -O2 -o "$1" "$E2E_DIR/helpers/probe.c" 2>"$T/gcc.err" ||
    fail "cannot compile the static probe (is glibc's static libc installed?)" "$(cat "$T/gcc.err")"
}

# validate_schema SCHEMA FILE [SCHEMA FILE...]: JSON Schema validation with
# the OCI image-spec schemas (manifest|config|index|layout).
OCI_SCHEMA_DIR=${OCI_SCHEMA_DIR:-/usr/share/gocode/src/github.com/opencontainers/image-spec/schema}
validate_schema() {
  [ -f "$OCI_SCHEMA_DIR/image-manifest-schema.json" ] ||
    fail "OCI image-spec schemas not found in $OCI_SCHEMA_DIR" "install golang-github-opencontainers-image-spec-dev"
  "$PYTHON" -c 'import jsonschema' 2>/dev/null ||
    fail "$PYTHON has no jsonschema module" "install python3-jsonschema"
  PYTHONWARNINGS=ignore "$PYTHON" "$E2E_DIR/helpers/validate_oci_schema.py" "$OCI_SCHEMA_DIR" "$@" >"$T/schema.out" 2>&1 ||
    fail "OCI schema validation failed" "$(cat "$T/schema.out")"
}

# make_full_fixture DIR SERVER_BINARY: a spec using every files:/paths:/config
# feature, with its sources beside it (modes set explicitly, so copies with
# cp -a build the same image). Layout of the resulting image:
#   /app/server          SERVER_BINARY, 0755 65532:65532
#   /app/server-hardlink hardlink -> /app/server (paths:)
#   /app/current         symlink -> server (a host symlink given as src)
#   /srv/tree/...        a host directory, recursively (host modes, 0:0):
#       a.txt 0644, b-hardlink.txt (hardlink of a.txt), setuid 4755,
#       public/ 1777, sub/ 0750, sub/run.sh 0700, sub/link-to-a -> ../a.txt
#   /etc/app.conf        inline content, 0640 0:65532
#   /data                directory 0750 65532:65532 (paths:)
#   /tmp                 directory 1777 (paths:)
#   /usr/bin/app         symlink -> /app/server (paths:)
#   /app /etc /srv /usr /usr/bin   synthesized parents 0755 0:0
make_full_fixture() {
  local dir=$1 server=$2
  mkdir -p "$dir/src/tree/sub" "$dir/src/tree/public"
  cp "$server" "$dir/src/server"
  chmod 0755 "$dir/src/server"
  ln -s server "$dir/src/current"
  printf 'alpha\n' >"$dir/src/tree/a.txt"
  chmod 0644 "$dir/src/tree/a.txt"
  ln "$dir/src/tree/a.txt" "$dir/src/tree/b-hardlink.txt"
  printf 'setuid payload\n' >"$dir/src/tree/setuid"
  chmod 4755 "$dir/src/tree/setuid"
  printf '#!/bin/sh\necho run\n' >"$dir/src/tree/sub/run.sh"
  chmod 0700 "$dir/src/tree/sub/run.sh"
  ln -s ../a.txt "$dir/src/tree/sub/link-to-a"
  chmod 0755 "$dir/src" "$dir/src/tree"
  chmod 0750 "$dir/src/tree/sub"
  chmod 1777 "$dir/src/tree/public"
  cat >"$dir/image.yaml" <<'EOF'
# e2e fixture: every feature of files:, paths: and the image config.
files:
  - src: src/server
    dst: /app/server
    mode: "0755"
    owner: "65532:65532"
  - src: src/tree
    dst: /srv/tree
  - src: src/current
    dst: /app/current
  - dst: /etc/app.conf
    content: |
      listen = 0.0.0.0:8080
    mode: "0640"
    owner: "0:65532"
paths:
  - {path: /data, type: directory, mode: "0750", owner: "65532:65532"}
  - {path: /usr/bin/app, type: symlink, target: /app/server}
  - {path: /app/server-hardlink, type: hardlink, target: /app/server}
  - {path: /tmp, type: directory, mode: "1777"}
entrypoint: [/app/server]
cmd: [--port, "8080"]
env: {LANG: C.UTF-8, APP_MODE: production}
user: "65532:65532"
workdir: /app
ports: [8080/tcp, 53/udp]
volumes: [/data]
stop-signal: SIGTERM
labels: {org.example.team: payments, org.opencontainers.image.title: e2e-full}
annotations: {org.opencontainers.image.source: "https://example.com/payments"}
archs: [amd64]
EOF
}

# restore_modes FROM TO: give every non-symlink under TO the mode of its twin
# under FROM (chown clears setuid bits; this puts them back).
restore_modes() {
  local from=$1 to=$2 mode path
  while IFS=' ' read -r mode path; do
    chmod "$mode" "$to/$path"
  done < <(cd "$from" && find . ! -type l -printf '%m %p\n')
}

# shellcheck shell=bash
# Registries for distill's end-to-end registry tests: the Debian
# `docker-registry` package (distribution 2.8), a throwaway test CA, a token
# server and a fault-injecting proxy. Source it right after lib.sh:
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/lib_registry.sh"
#   registry_start          # the TLS+htpasswd registry and the plain one
#   registry_token_start    # (optional) a registry with token auth
#   fault_proxy_start NAME UPSTREAM [--reset R ...]   # (optional)
#
# Every server runs on a free 127.0.0.1 port with its storage and logs in the
# test's temp dir, and is stopped when the test exits. Missing packages
# (docker-registry, apache2-utils, openssl, curl) are installed with apt-get
# when the test runs as root; otherwise the test fails and names them.
#
# Sourcing it also gives the test a private HOME and XDG_RUNTIME_DIR and
# unsets REGISTRY_AUTH_FILE, DOCKER_CONFIG, DOCKER_AUTH_CONFIG and
# XDG_CONFIG_HOME, so no credentials of the user are read or written.
#
# After registry_start:
#   REG_TLS        127.0.0.1:PORT  TLS (test CA) + htpasswd (bcrypt) auth
#   REG_PLAIN      127.0.0.1:PORT  plain HTTP, no auth
#   REG_CA         the test CA's certificate (PEM)
#   REG_CERT_DIR   a directory holding only ca.crt (for --cert-dir)
#   REG_USER       tester, with push and pull everywhere
#   REG_PASS       its random password
#   REG_USER2 REG_PASS2   a second htpasswd user whose password holds
#                  ':', spaces and shell/JSON metacharacters
#   REG_TLS_LOG REG_PLAIN_LOG   the registries' logs (access log included:
#                  one "METHOD PATH HTTP/1.1" STATUS line per request)
#   REG_TLS_STORAGE REG_PLAIN_STORAGE   their storage directories
# After registry_token_start:
#   REG_TOKEN      127.0.0.1:PORT  TLS + token auth (realm on TOKEN_REALM)
#   TOKEN_REALM    https://127.0.0.1:PORT/token (TLS, same test CA)
#   TOKEN_LOG      the token server's log (scopes asked and granted)
#   REG_TOKEN_LOG  the registry's log
#   REG_RO_USER REG_RO_PASS   a user granted pull only
#   (REG_USER / REG_PASS get pull, push and delete there too)
# After fault_proxy_start NAME ...: FAULT_PROXY (127.0.0.1:PORT) and
# FAULT_LOG ($T/registry/NAME.log).

REG_HELPERS=$E2E_DIR/helpers/registry
REG_DIR=$T/registry
mkdir -p "$REG_DIR"

# ---------------------------------------------------------------- packages

_registry_install() {
  local want=() t pkg
  for t in docker-registry:docker-registry htpasswd:apache2-utils openssl:openssl curl:curl; do
    if [ "${t%%:*}" = docker-registry ]; then
      [ -x /usr/bin/docker-registry ] || want+=("${t#*:}")
    else
      command -v "${t%%:*}" >/dev/null 2>&1 || want+=("${t#*:}")
    fi
  done
  [ ${#want[@]} = 0 ] && return 0
  [ "$(id -u)" = 0 ] || fail "missing packages for the registry tests: ${want[*]}" "install them: apt-get install ${want[*]}"
  note "installing ${want[*]} (apt-get)"
  {
    flock -w 600 9 || fail "could not lock /tmp/distill-e2e-apt.lock"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >"$T/apt.log" 2>&1; then
      apt-get update -qq >>"$T/apt.log" 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >>"$T/apt.log" 2>&1 ||
        fail "apt-get install ${want[*]} failed" "$(tail -n 20 "$T/apt.log")"
    fi
  } 9>/tmp/distill-e2e-apt.lock
  for pkg in "${want[@]}"; do note "installed $pkg"; done
}
_registry_install
need openssl htpasswd curl jq "$PYTHON" flock
[ -x /usr/bin/docker-registry ] || fail "/usr/bin/docker-registry is missing" "apt-get install docker-registry"

# ---------------------------------------------------------------- isolation

export HOME=$T/home
export XDG_RUNTIME_DIR=$T/xdg-run
mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
chmod 0700 "$XDG_RUNTIME_DIR"
unset REGISTRY_AUTH_FILE DOCKER_CONFIG DOCKER_AUTH_CONFIG XDG_CONFIG_HOME

# ---------------------------------------------------------------- helpers

# _reg_stop PID: TERM, then KILL after 5 s.
_reg_stop() {
  local pid=$1 i
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

# _free_port: a port nobody listens on now (the caller retries if it is
# taken before it binds).
_free_port() {
  "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# _wait_port_file FILE PID WHAT LOG: waits up to 15 s for FILE (a helper's
# port), failing if PID dies first.
_wait_port_file() {
  local file=$1 pid=$2 what=$3 log=$4 i
  for i in $(seq 1 150); do
    [ -s "$file" ] && return 0
    kill -0 "$pid" 2>/dev/null || fail "$what exited before it was ready" "$(tail -n 30 "$log" 2>/dev/null)"
    sleep 0.1
  done
  fail "$what did not start within 15 s" "$(tail -n 30 "$log" 2>/dev/null)"
}

# reg_rand N: N random alphanumeric characters.
reg_rand() { openssl rand -base64 $(($1 * 2)) | tr -dc 'A-Za-z0-9' | head -c "$1"; }

# ---------------------------------------------------------------- test CA

# registry_ca: a throwaway CA and a server certificate for 127.0.0.1 and
# localhost (SANs), signed by it. Sets REG_CA, REG_CERT_DIR, REG_SERVER_CRT,
# REG_SERVER_KEY.
registry_ca() {
  local d=$REG_DIR/ca
  [ -f "$d/server.crt" ] && return 0
  mkdir -p "$d"
  {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 2 \
      -keyout "$d/ca.key" -out "$d/ca.crt" -subj "/CN=distill e2e test CA $(reg_rand 6)" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign &&
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
        -keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=127.0.0.1" &&
      printf '%s\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature,keyEncipherment' \
        'extendedKeyUsage=serverAuth' 'subjectAltName=IP:127.0.0.1,DNS:localhost' >"$d/server.ext" &&
      openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -sha256 -days 2 \
        -extfile "$d/server.ext" -out "$d/server.crt"
  } >"$d/openssl.log" 2>&1 || fail "cannot create the test CA and server certificate" "$(cat "$d/openssl.log")"
  openssl verify -CAfile "$d/ca.crt" "$d/server.crt" >/dev/null 2>&1 || fail "the test server certificate does not verify"
  REG_CA=$d/ca.crt
  REG_SERVER_CRT=$d/server.crt
  REG_SERVER_KEY=$d/server.key
  REG_CERT_DIR=$REG_DIR/certs.d
  mkdir -p "$REG_CERT_DIR"
  cp "$REG_CA" "$REG_CERT_DIR/ca.crt"
  export REG_CA REG_CERT_DIR
}

# ---------------------------------------------------------------- registries

# _registry_serve NAME SCHEME AUTH_YAML: starts one registry on a free port
# with storage $REG_DIR/NAME.storage and log $REG_DIR/NAME.log. SCHEME is
# https (the test CA's server certificate) or http. Sets _REG_ADDR.
_registry_serve() {
  local name=$1 scheme=$2 auth=$3 try port cfg log pid code i tls=
  cfg=$REG_DIR/$name.yml
  log=$REG_DIR/$name.log
  if [ "$scheme" = https ]; then
    tls="  tls:
    certificate: $REG_SERVER_CRT
    key: $REG_SERVER_KEY"
  fi
  for try in 1 2 3 4 5; do
    port=$(_free_port)
    cat >"$cfg" <<EOF
version: 0.1
log:
  level: info
  formatter: text
  fields: {service: registry, instance: $name}
storage:
  filesystem:
    rootdirectory: $REG_DIR/$name.storage
  delete:
    enabled: true
  maintenance:
    uploadpurging: {enabled: false}
http:
  addr: 127.0.0.1:$port
  secret: $(openssl rand -hex 16)
  headers:
    X-Content-Type-Options: [nosniff]
$tls
$auth
EOF
    : >"$log"
    /usr/bin/docker-registry serve "$cfg" >>"$log" 2>&1 </dev/null &
    pid=$!
    defer "_reg_stop $pid"
    for i in $(seq 1 150); do
      if ! kill -0 "$pid" 2>/dev/null; then
        grep -q 'address already in use' "$log" && continue 2
        fail "docker-registry ($name) exited at start" "config: $cfg" "$(tail -n 30 "$log")"
      fi
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "${REG_CA:-/dev/null}" "$scheme://127.0.0.1:$port/v2/" || true)
      case $code in
        200 | 401)
          _REG_ADDR=127.0.0.1:$port
          note "registry $name: $scheme://$_REG_ADDR (log $log)"
          return 0 ;;
      esac
      sleep 0.1
    done
    fail "docker-registry ($name) did not answer /v2/ within 15 s (last status '$code')" "$(tail -n 30 "$log")"
  done
  fail "docker-registry ($name): no free port after 5 tries" "$(tail -n 30 "$log")"
}

# registry_start: the TLS + htpasswd registry and the plain-HTTP one.
registry_start() {
  registry_ca
  REG_USER=tester
  REG_PASS=$(reg_rand 24)
  REG_USER2=tester2
  REG_PASS2="p:w d\"'\$x\\&!#{}$(reg_rand 8)"
  printf '%s' "$REG_PASS" | htpasswd -B -i -c "$REG_DIR/htpasswd" "$REG_USER" >/dev/null 2>"$T/htpasswd.err" ||
    fail "htpasswd failed" "$(cat "$T/htpasswd.err")"
  printf '%s' "$REG_PASS2" | htpasswd -B -i "$REG_DIR/htpasswd" "$REG_USER2" >/dev/null 2>"$T/htpasswd.err" ||
    fail "htpasswd failed" "$(cat "$T/htpasswd.err")"
  _registry_serve tls https "auth:
  htpasswd:
    realm: distill-e2e
    path: $REG_DIR/htpasswd"
  REG_TLS=$_REG_ADDR
  REG_TLS_LOG=$REG_DIR/tls.log
  REG_TLS_STORAGE=$REG_DIR/tls.storage
  _registry_serve plain http ""
  REG_PLAIN=$_REG_ADDR
  REG_PLAIN_LOG=$REG_DIR/plain.log
  REG_PLAIN_STORAGE=$REG_DIR/plain.storage
  export REG_TLS REG_PLAIN REG_USER REG_PASS REG_USER2 REG_PASS2 REG_TLS_LOG REG_PLAIN_LOG REG_TLS_STORAGE REG_PLAIN_STORAGE
  # The harness itself must work: skopeo reaches both.
  curl -s -o /dev/null -w '%{http_code}' --cacert "$REG_CA" -u "$REG_USER:$REG_PASS" "https://$REG_TLS/v2/" >"$T/ping" 2>&1 || true
  assert_eq 200 "$(cat "$T/ping")" "the TLS registry accepts tester's password (harness check)"
}

# registry_token_start: a token server (TLS, test CA) and a TLS registry
# that trusts its tokens.
registry_token_start() {
  registry_ca
  [ -n "${REG_USER:-}" ] || { REG_USER=tester; REG_PASS=$(reg_rand 24); }
  REG_RO_USER=reader
  REG_RO_PASS=$(reg_rand 24)
  local d=$REG_DIR/token pid
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 -keyout "$d/sign.key" -out "$d/sign.crt" \
    -subj "/CN=distill e2e token signer" >"$d/openssl.log" 2>&1 || fail "cannot create the token signing key" "$(cat "$d/openssl.log")"
  REG_USER=$REG_USER REG_PASS=$REG_PASS REG_RO_USER=$REG_RO_USER REG_RO_PASS=$REG_RO_PASS "$PYTHON" -c '
import json, os, sys
json.dump({os.environ["REG_USER"]: {"password": os.environ["REG_PASS"], "actions": ["pull", "push", "delete"]},
           os.environ["REG_RO_USER"]: {"password": os.environ["REG_RO_PASS"], "actions": ["pull"]}},
          open(sys.argv[1], "w"))' "$d/users.json"
  chmod 0600 "$d/users.json"
  TOKEN_LOG=$d/token.log
  : >"$TOKEN_LOG"
  "$PYTHON" "$REG_HELPERS/token_server.py" --port-file "$d/port" --tls-cert "$REG_SERVER_CRT" --tls-key "$REG_SERVER_KEY" \
    --sign-key "$d/sign.key" --sign-cert "$d/sign.crt" --issuer distill-e2e-issuer --service distill-e2e-registry \
    --users "$d/users.json" --log "$TOKEN_LOG" >"$d/stderr.log" 2>&1 </dev/null &
  pid=$!
  defer "_reg_stop $pid"
  _wait_port_file "$d/port" "$pid" "the token server" "$d/stderr.log"
  TOKEN_REALM=https://127.0.0.1:$(cat "$d/port")/token
  _registry_serve token https "auth:
  token:
    realm: $TOKEN_REALM
    service: distill-e2e-registry
    issuer: distill-e2e-issuer
    rootcertbundle: $d/sign.crt"
  REG_TOKEN=$_REG_ADDR
  REG_TOKEN_LOG=$REG_DIR/token.log
  export REG_TOKEN TOKEN_REALM TOKEN_LOG REG_TOKEN_LOG REG_RO_USER REG_RO_PASS REG_USER REG_PASS
  # Harness check: the challenge names our realm, and a token works.
  curl -s -D "$T/chal.h" -o /dev/null --cacert "$REG_CA" "https://$REG_TOKEN/v2/" || true
  assert_contains "$(cat "$T/chal.h")" "Bearer realm=\"$TOKEN_REALM\"" "the token registry's challenge (harness check)"
  local tok
  tok=$(curl -s --cacert "$REG_CA" -u "$REG_USER:$REG_PASS" "$TOKEN_REALM?service=distill-e2e-registry&scope=repository:harness/check:pull" | jq -r .token)
  assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$REG_CA" -H "Authorization: Bearer $tok" "https://$REG_TOKEN/v2/")" \
    "the token registry accepts the token server's tokens (harness check; see $REG_TOKEN_LOG)"
}

# fault_proxy_start NAME UPSTREAM [fault_proxy.py options...]: a fault
# proxy in front of UPSTREAM (a plain-HTTP registry). Sets FAULT_PROXY and
# FAULT_LOG.
fault_proxy_start() {
  local name=$1 upstream=$2 pid
  shift 2
  FAULT_LOG=$REG_DIR/$name.log
  : >"$FAULT_LOG"
  rm -f "$REG_DIR/$name.port"
  "$PYTHON" "$REG_HELPERS/fault_proxy.py" --port-file "$REG_DIR/$name.port" --upstream "$upstream" --log "$FAULT_LOG" "$@" \
    >"$REG_DIR/$name.stderr" 2>&1 </dev/null &
  pid=$!
  defer "_reg_stop $pid"
  _wait_port_file "$REG_DIR/$name.port" "$pid" "the fault proxy $name" "$REG_DIR/$name.stderr"
  FAULT_PROXY=127.0.0.1:$(cat "$REG_DIR/$name.port")
  note "fault proxy $name: http://$FAULT_PROXY -> $upstream $* (log $FAULT_LOG)"
}

# ---------------------------------------------------------------- access logs

# reg_log_mark LOG: the number of lines in LOG now (for reg_log_since).
reg_log_mark() { wc -l <"$1" | tr -d ' '; }

# reg_log_since LOG MARK: the access-log lines ("METHOD PATH" STATUS) added
# after MARK, as "METHOD PATH STATUS".
reg_log_since() {
  tail -n +"$(($2 + 1))" "$1" | sed -nE 's/.*"(GET|HEAD|POST|PUT|PATCH|DELETE) ([^ ]+) HTTP\/[0-9.]+" ([0-9]{3}) .*/\1 \2 \3/p'
}

# reg_blob_writes LOG MARK: access-log lines after MARK that write blobs
# (POST, PATCH or PUT on /v2/.../blobs/uploads/).
reg_blob_writes() { reg_log_since "$1" "$2" | grep -E '^(POST|PATCH|PUT) /v2/.+/blobs/uploads/' || true; }

# reg_manifest_digest ADDR REPO REF [CURL_ARGS...]: the registry's
# Docker-Content-Digest for a manifest (HEAD).
reg_manifest_digest() {
  local addr=$1 repo=$2 ref=$3
  shift 3
  curl -s -I "$@" \
    -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json' \
    "$addr/v2/$repo/manifests/$ref" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p'
}

# assert_no_secret SECRET FILE...: SECRET appears in none of the FILEs
# (missing files are skipped). The failure shows the lines, SECRET masked.
assert_no_secret() {
  local secret=$1 f
  shift
  [ -n "$secret" ] || fail "assert_no_secret: empty secret"
  for f in "$@"; do
    [ -f "$f" ] || continue
    if grep -aqF -- "$secret" "$f"; then
      fail "a secret appears in $f" "$(grep -naF -- "$secret" "$f" | head -n 3 |
        SECRET=$secret "$PYTHON" -c 'import os, sys; sys.stdout.write(sys.stdin.read().replace(os.environ["SECRET"], "<SECRET>"))')"
    fi
  done
}

# ---------------------------------------------------------------- running distill

# dist NAME ARGS...: runs distill ARGS (under a timeout of DIST_TIMEOUT
# seconds, default 300) with stdout in $T/out/NAME.out and stderr in
# $T/out/NAME.err (all kept, for the secret checks), and sets DIST_RC,
# DIST_OUT and DIST_ERR. Never fails by itself.
DIST_OUTS=$T/out
mkdir -p "$DIST_OUTS"
dist() {
  local name=$1
  shift
  DIST_RC=0
  timeout --kill-after=10 "${DIST_TIMEOUT:-300}" "$DISTILL" "$@" >"$DIST_OUTS/$name.out" 2>"$DIST_OUTS/$name.err" <"${_DIST_IN:-/dev/null}" || DIST_RC=$?
  # shellcheck disable=SC2034 # for the caller
  DIST_OUT=$(cat "$DIST_OUTS/$name.out")
  # shellcheck disable=SC2034 # for the caller
  DIST_ERR=$(cat "$DIST_OUTS/$name.err")
  [ "$DIST_RC" != 124 ] || fail "distill $1 timed out after ${DIST_TIMEOUT:-300}s" "command: distill $*" "stderr:" "$(_show "$DIST_OUTS/$name.err")"
}

# dist_in INPUT CMD NAME ARGS...: CMD (dist, dist_ok or dist_fail) with
# INPUT (a string, given as is) on distill's standard input.
dist_in() {
  local input=$1 cmd=$2
  shift 2
  printf '%s' "$input" >"$T/dist.stdin"
  _DIST_IN=$T/dist.stdin "$cmd" "$@"
  rm -f "$T/dist.stdin"
}

# dist_ok NAME ARGS...: dist, and it must exit 0.
dist_ok() {
  local name=$1
  dist "$@"
  shift
  [ "$DIST_RC" = 0 ] || fail "distill $1 failed with status $DIST_RC" "command: distill $*" "stdout:" "$(_show "$DIST_OUTS/$name.out")" \
    "stderr:" "$(_show "$DIST_OUTS/$name.err")"
}

# dist_fail NAME ARGS...: dist, and it must exit 1 (a failure, not a usage
# error or a crash) with a message on stderr.
dist_fail() {
  local name=$1
  dist "$@"
  shift
  [ "$DIST_RC" = 1 ] || fail "distill $1 should fail with status 1, got $DIST_RC" "command: distill $*" \
    "stdout:" "$(_show "$DIST_OUTS/$name.out")" "stderr:" "$(_show "$DIST_OUTS/$name.err")"
  [ -n "$DIST_ERR" ] || fail "distill $1 failed without a message on stderr" "command: distill $*"
}

# ---------------------------------------------------------------- layouts

# layout_tag_digest DIR TAG: the digest index.json gives TAG.
layout_tag_digest() {
  jq -r --arg t "$2" '[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest] | join(" ")' "$1/index.json"
}

# image_blobs DIR DIGEST: every blob digest the manifest or index DIGEST of
# the layout DIR reaches (itself included), sorted.
image_blobs() {
  local dir=$1 d=$2 f m
  f=$(blob_path "$dir" "$d")
  [ -f "$f" ] || fail "blob $d is missing in $dir"
  {
    echo "$d"
    if [ "$(jq -r '.manifests | type' "$f")" = array ]; then
      for m in $(jq -r '.manifests[].digest' "$f"); do image_blobs "$dir" "$m"; done
    else
      jq -r '.config.digest, .layers[].digest' "$f"
    fi
  } | sort -u
}

# assert_image_identical SRC_DIR DST_DIR DIGEST: the image DIGEST reaches
# the same blobs in both layouts, byte for byte, and every one hashes to its
# name.
assert_image_identical() {
  local src=$1 dst=$2 d=$3 b
  assert_eq "$(image_blobs "$src" "$d" | paste -sd' ')" "$(image_blobs "$dst" "$d" | paste -sd' ')" "blobs of $d in ${dst##*/} against ${src##*/}"
  for b in $(image_blobs "$src" "$d"); do
    assert_same_bytes "$(blob_path "$src" "$b")" "$(blob_path "$dst" "$b")" "blob $b"
    assert_eq "$b" "$(sha256 "$(blob_path "$dst" "$b")")" "blob content must hash to its name in $dst"
  done
}

# json_has_all FILE FIELD DIGEST...: each DIGEST is in the array .FIELD.
json_has_all() {
  local f=$1 field=$2 d
  shift 2
  jq -e ".$field | type == \"array\"" "$f" >/dev/null 2>&1 || fail "--format json lacks the array .$field" "got: $(head -c 2000 "$f")"
  for d in "$@"; do
    jq -e --arg d "$d" ".$field | index(\$d) != null" "$f" >/dev/null ||
      fail "$d is not in .$field of ${f##*/}" "got: $(jq -c . "$f" 2>/dev/null || head -c 2000 "$f")"
  done
}

#!/usr/bin/env bash
# Registry credentials: the Docker token flow (a token server that signs
# RS256 JWTs for a docker-registry with `auth: token`), a read-only user
# whose push is refused with an error naming the missing push access,
# ~/.docker/config.json (auths, credHelpers, credsStore with a
# docker-credential-test helper on PATH), $DOCKER_CONFIG, $REGISTRY_AUTH_FILE,
# ${XDG_RUNTIME_DIR}/containers/auth.json, --authfile, namespaced auth.json
# keys, --creds over stored credentials, and distill login/logout round trips.
# No password (nor its base64 form) may appear in anything distill prints.
#
# Each check runs on its own (soft), so one run shows every failure.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_registry.sh"
need skopeo jq curl base64
registry_start
registry_token_start

mkdir -p "$T/spec"
cat >"$T/spec/image.yaml" <<'EOF'
files:
  - dst: /etc/e2e-auth
    content: |
      credentials test
archs: [amd64]
EOF
distill_build "$T/spec/image.yaml" "oci:$T/src:1.0" --format json >"$T/src.json"
DIGEST=$(jq_file "$T/src.json" .digest)

AUTH_B64=$(printf '%s' "$REG_USER:$REG_PASS" | base64 -w0)
RO_B64=$(printf '%s' "$REG_RO_USER:$REG_RO_PASS" | base64 -w0)
AUTH2_B64=$(printf '%s' "$REG_USER2:$REG_PASS2" | base64 -w0)
WRONG_PASS="Wr0ng-$(reg_rand 20)"
WRONG_B64=$(printf '%s' "$REG_USER:$WRONG_PASS" | base64 -w0)
CD=(--cert-dir "$REG_CERT_DIR")
SK=(--cert-dir "$REG_CERT_DIR" --creds "$REG_USER:$REG_PASS")
AUTH_RE='([Uu]nauthori[sz]ed|[Aa]uthenticat|[Cc]redential|401|[Dd]enied|[Pp]assword|log ?in)'

# remote_digest ADDR REF: the digest skopeo sees (as tester), or "".
remote_digest() {
  skopeo inspect "${SK[@]}" "docker://$1/$2" 2>/dev/null | jq -r .Digest 2>/dev/null || true
}

# write_auths FILE HOST=B64...: a config.json / auth.json with these auths.
write_auths() {
  local f=$1 kv json='{}'
  shift
  for kv in "$@"; do
    json=$(jq -c --arg k "${kv%%=*}" --arg v "${kv#*=}" '.auths[$k] = {auth: $v}' <<<"$json")
  done
  mkdir -p "$(dirname "$f")"
  printf '%s\n' "$json" >"$f"
}

# push_ok NAME REPO:TAG ARGS...: distill push of the test image must work,
# and the registry then serves it (checked with skopeo).
push_ok() {
  local name=$1 ref=$2 addr=${REG_ADDR:-$REG_TLS}
  shift 2
  dist_ok "$name" push "oci:$T/src:1.0" "docker://$addr/$ref" "${CD[@]}" "$@"
  assert_eq "$DIGEST" "$(remote_digest "$addr" "$ref")" "after distill push ($name), the registry serves $ref"
}

# push_refused NAME REPO:TAG ARGS...: distill push must fail (status 1) with
# an authentication error.
push_refused() {
  local name=$1 ref=$2 addr=${REG_ADDR:-$REG_TLS}
  shift 2
  dist_fail "$name" push "oci:$T/src:1.0" "docker://$addr/$ref" "${CD[@]}" "$@"
  assert_matches "$DIST_ERR" "$AUTH_RE" "$name: an authentication error"
  assert_eq "" "$(remote_digest "$addr" "$ref")" "$name: nothing was pushed to $ref"
}

# ------------------------------------------------------------------ token flow

token_flow() {
  local mark
  mark=$(reg_log_mark "$TOKEN_LOG")
  REG_ADDR=$REG_TOKEN push_ok token-push e2e/tok:1.0 --creds "$REG_USER:$REG_PASS"
  tail -n +"$((mark + 1))" "$TOKEN_LOG" >"$T/token-push.log"
  grep -Eq "user=$REG_USER .*-> 200 granted=.*repository:e2e/tok:([a-z]+,)*push" "$T/token-push.log" ||
    fail "the token server granted no push on e2e/tok to $REG_USER during the push" "$(cat "$T/token-push.log")"
  note "token requests for one push: $(wc -l <"$T/token-push.log")"

  dist_ok token-pull pull "docker://$REG_TOKEN/e2e/tok:1.0" "oci:$T/tok-pulled:1.0" "${CD[@]}" --creds "$REG_RO_USER:$REG_RO_PASS"
  assert_eq "$DIGEST" "$(layout_tag_digest "$T/tok-pulled" 1.0)" "the read-only user pulls through the token flow"
  assert_image_identical "$T/src" "$T/tok-pulled" "$DIGEST"
}

token_read_only_push() {
  REG_ADDR=$REG_TOKEN push_ok token-push-ro-setup e2e/tok:1.0 --creds "$REG_USER:$REG_PASS"
  dist_fail token-ro push "oci:$T/src:1.0" "docker://$REG_TOKEN/e2e/tok:ro" "${CD[@]}" --creds "$REG_RO_USER:$REG_RO_PASS"
  assert_contains "$DIST_ERR" push "the read-only user's refused push: the error names the push access"
  assert_matches "$DIST_ERR" '([Dd]enied|[Ii]nsufficient|[Ss]cope|[Pp]ermission|not allowed|[Ff]orbidden)' "the error says access was not granted"
  assert_contains "$DIST_ERR" e2e/tok "the error names the repository"
  assert_eq "" "$(REG_ADDR=$REG_TOKEN; remote_digest "$REG_TOKEN" e2e/tok:ro)" "the read-only user pushed nothing"
  grep -Eq "user=$REG_RO_USER .*scopes=.*e2e/tok:[a-z,]*push.* -> 200 granted=repository:e2e/tok:pull( |$)" "$TOKEN_LOG" ||
    fail "the token server log should show the read-only user asking for push and getting pull only" "$(cat "$TOKEN_LOG")"
}

token_wrong_password() {
  dist_fail token-wrong push "oci:$T/src:1.0" "docker://$REG_TOKEN/e2e/tok:wrong" "${CD[@]}" --creds "$REG_USER:$WRONG_PASS"
  assert_matches "$DIST_ERR" "$AUTH_RE" "token flow, wrong password: an authentication error"
  grep -q "user=$REG_USER .*-> 401" "$TOKEN_LOG" || fail "the token server did not refuse the wrong password" "$(cat "$TOKEN_LOG")"
  dist_fail token-anon pull "docker://$REG_TOKEN/e2e/tok:1.0" "oci:$T/tok-anon:1.0" "${CD[@]}"
  assert_matches "$DIST_ERR" "$AUTH_RE" "token flow, no credentials: an authentication error"
  assert_absent "$T/tok-anon" "a refused pull writes nothing"
}

# ------------------------------------------------------------------ stored credentials

docker_config() {
  write_auths "$HOME/.docker/config.json" "$REG_TLS=$AUTH_B64" "$REG_TOKEN=$AUTH_B64"
  push_ok dockercfg-push e2e/cfg:1.0
  dist_ok dockercfg-pull pull "docker://$REG_TLS/e2e/cfg:1.0" "oci:$T/cfg-pulled:1.0" "${CD[@]}"
  assert_eq "$DIGEST" "$(layout_tag_digest "$T/cfg-pulled" 1.0)" "pull with ~/.docker/config.json credentials"
  REG_ADDR=$REG_TOKEN push_ok dockercfg-token e2e/cfg:1.0
  rm -f "$HOME/.docker/config.json"

  write_auths "$T/dockercfg/config.json" "$REG_TLS=$AUTH_B64"
  DOCKER_CONFIG=$T/dockercfg push_ok dockercfg-env e2e/cfg:env
  # Without it, the same push is refused (nothing else holds credentials).
  push_refused dockercfg-none e2e/cfg:none
}

CREDBIN=$T/credbin
mkdir -p "$CREDBIN"
printf '%s' "$REG_USER" >"$CREDBIN/user"
printf '%s' "$REG_PASS" >"$CREDBIN/secret"
# docker-credential-test: answers get for the test registries (logged to
# $CREDBIN/calls, the server URL only), "not found" for anything else.
cat >"$CREDBIN/docker-credential-test" <<EOF
#!/bin/sh
here=\$(dirname "\$0")
action=\$1
url=\$(cat)
echo "\$action \$url" >>"\$here/calls"
case \$action in
  get)
    case \$url in
      *"$REG_TLS"* | *"$REG_TOKEN"*)
        jq -nc --arg url "\$url" --rawfile u "\$here/user" --rawfile s "\$here/secret" '{ServerURL: \$url, Username: \$u, Secret: \$s}'
        exit 0 ;;
    esac
    echo "credentials not found in native keychain"
    exit 1 ;;
  *) echo "action \$action not supported by this test helper"; exit 1 ;;
esac
EOF
# docker-credential-empty: never has anything.
printf '#!/bin/sh\ncat >/dev/null\necho "credentials not found in native keychain"\nexit 1\n' >"$CREDBIN/docker-credential-empty"
chmod 0755 "$CREDBIN"/docker-credential-*

cred_helpers() {
  local cfg=$HOME/.docker/config.json
  mkdir -p "$HOME/.docker"
  jq -n --arg h "$REG_TLS" '{credHelpers: {($h): "test"}}' >"$cfg"
  : >"$CREDBIN/calls"
  PATH=$CREDBIN:$PATH push_ok credhelper-push e2e/helper:1.0
  grep -q "^get .*$REG_TLS" "$CREDBIN/calls" || fail "docker-credential-test was not asked (get) for $REG_TLS" "calls: $(cat "$CREDBIN/calls")"

  jq -n '{credsStore: "test"}' >"$cfg"
  : >"$CREDBIN/calls"
  PATH=$CREDBIN:$PATH REG_ADDR=$REG_TOKEN push_ok credsstore-token e2e/helper:1.0
  grep -q "^get .*$REG_TOKEN" "$CREDBIN/calls" || fail "credsStore: docker-credential-test was not asked for $REG_TOKEN" "calls: $(cat "$CREDBIN/calls")"

  # A helper without credentials for the registry: an authentication error,
  # not a crash.
  jq -n --arg h "$REG_TLS" '{credHelpers: {($h): "empty"}}' >"$cfg"
  PATH=$CREDBIN:$PATH push_refused credhelper-empty e2e/helper:empty
  # A helper missing from PATH: the error names it.
  jq -n --arg h "$REG_TLS" '{credHelpers: {($h): "absent"}}' >"$cfg"
  dist_fail credhelper-absent push "oci:$T/src:1.0" "docker://$REG_TLS/e2e/helper:absent" "${CD[@]}"
  assert_contains "$DIST_ERR" docker-credential-absent "a missing credential helper is named"
  rm -f "$cfg"
}

auth_files() {
  write_auths "$T/regauth.json" "$REG_TLS=$AUTH_B64"
  REGISTRY_AUTH_FILE=$T/regauth.json push_ok registry-auth-file e2e/files:regauth
  push_ok authfile-flag e2e/files:flag --authfile "$T/regauth.json"
  write_auths "$XDG_RUNTIME_DIR/containers/auth.json" "$REG_TLS=$AUTH_B64"
  push_ok xdg-auth e2e/files:xdg
  rm -f "$XDG_RUNTIME_DIR/containers/auth.json"

  # The password with ':', quotes, spaces and backslash, from a file.
  write_auths "$T/auth2.json" "$REG_TLS=$AUTH2_B64"
  push_ok authfile-special e2e/files:special --authfile "$T/auth2.json"
  push_ok creds-special e2e/files:special-creds --creds "$REG_USER2:$REG_PASS2"

  # --creds wins over stored (wrong) credentials.
  write_auths "$HOME/.docker/config.json" "$REG_TLS=$WRONG_B64"
  push_ok creds-over-config e2e/files:creds --creds "$REG_USER:$REG_PASS"
  push_refused wrong-config e2e/files:wrongcfg
  rm -f "$HOME/.docker/config.json"

  # Namespaced keys (containers-auth.json): the most specific one matches.
  write_auths "$T/ns.json" "$REG_TLS=$WRONG_B64" "$REG_TLS/e2e/ns=$AUTH_B64"
  push_ok authfile-namespaced e2e/ns/img:1.0 --authfile "$T/ns.json"
  push_refused authfile-namespaced-other e2e/other:1.0 --authfile "$T/ns.json"
}

# ------------------------------------------------------------------ login / logout

login_logout() {
  local f=$T/login/auth.json
  dist_in "$REG_PASS" dist_ok login-file login "$REG_TLS" -u "$REG_USER" --password-stdin --authfile "$f" "${CD[@]}"
  assert_exists "$f" "login --authfile writes the file"
  assert_eq 600 "$(stat -c %a "$f")" "the authfile's mode"
  assert_jq "$f" ".auths[\"$REG_TLS\"].auth" "$AUTH_B64" "login stores base64(user:password) under the registry's host:port"
  push_ok login-push e2e/login:1.0 --authfile "$f"
  dist_ok logout-file logout "$REG_TLS" --authfile "$f"
  assert_jq "$f" ".auths[\"$REG_TLS\"] // \"gone\"" gone "logout removes the entry"
  push_refused after-logout e2e/login:after --authfile "$f"

  # A wrong password: refused by the registry, nothing stored.
  dist_in "$WRONG_PASS" dist_fail login-wrong login "$REG_TLS" -u "$REG_USER" --password-stdin --authfile "$T/login/wrong.json" "${CD[@]}"
  assert_matches "$DIST_ERR" "$AUTH_RE" "login with a wrong password"
  assert_absent "$T/login/wrong.json" "a refused login stores nothing"

  # The default file: ${XDG_RUNTIME_DIR}/containers/auth.json, as podman.
  # The password ends in a newline, as `echo` gives it; it is not part of it.
  dist_in "$REG_PASS2"$'\n' dist_ok login-default login "$REG_TLS" -u "$REG_USER2" --password-stdin "${CD[@]}"
  assert_jq "$XDG_RUNTIME_DIR/containers/auth.json" ".auths[\"$REG_TLS\"].auth" "$AUTH2_B64" \
    "login without --authfile writes \${XDG_RUNTIME_DIR}/containers/auth.json (trailing newline of the password dropped)"
  push_ok login-default-push e2e/login:default
  dist_ok logout-default logout "$REG_TLS"
  push_refused after-logout-default e2e/login:after-default

  # REGISTRY_AUTH_FILE is where login writes when it is set.
  REGISTRY_AUTH_FILE=$T/login/env.json dist_in "$REG_PASS" dist_ok login-env login "$REG_TLS" -u "$REG_USER" --password-stdin "${CD[@]}"
  assert_jq "$T/login/env.json" ".auths[\"$REG_TLS\"].auth" "$AUTH_B64" "login writes \$REGISTRY_AUTH_FILE"

  # Login to the token registry goes through the token flow.
  dist_in "$REG_PASS" dist_ok login-token login "$REG_TOKEN" -u "$REG_USER" --password-stdin --authfile "$f" "${CD[@]}"
  REG_ADDR=$REG_TOKEN push_ok login-token-push e2e/login:token --authfile "$f"
  dist_in "$WRONG_PASS" dist_fail login-token-wrong login "$REG_TOKEN" -u "$REG_USER" --password-stdin --authfile "$T/login/wrong-token.json" "${CD[@]}"
  assert_absent "$T/login/wrong-token.json" "a refused token login stores nothing"
}

step "token flow: push and pull"
soft token_flow token_flow
step "token flow: the read-only user cannot push"
soft token_read_only_push token_read_only_push
step "token flow: wrong password, anonymous"
soft token_wrong_password token_wrong_password
step "~/.docker/config.json and \$DOCKER_CONFIG"
soft docker_config docker_config
step "credential helpers (credHelpers, credsStore)"
soft cred_helpers cred_helpers
step "REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR auth.json, --authfile, namespaced keys, --creds first"
soft auth_files auth_files
step "login / logout"
soft login_logout login_logout

step "no secret in anything distill printed or its cache"
# shellcheck disable=SC2046
FILES=$(find "$DIST_OUTS" "$DISTILL_CACHE_DIR" -type f 2>/dev/null)
for secret in "$REG_PASS" "$REG_RO_PASS" "$REG_PASS2" "$WRONG_PASS" "$AUTH_B64" "$RO_B64" "$AUTH2_B64" "$WRONG_B64"; do
  # shellcheck disable=SC2086
  assert_no_secret "$secret" $FILES "$REG_TLS_LOG" "$REG_TOKEN_LOG" "$TOKEN_LOG"
done

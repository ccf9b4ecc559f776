#!/usr/bin/env bash
# A private Docker engine (vfs storage, no networking) loads distill's
# docker-archive and runs it: entrypoint, cmd, env, user and workdir take
# effect, so does the entrypoint's file capability (security.capability), run arguments replace cmd, and `docker image inspect` shows the
# spec's settings. The engine and its directories are removed afterwards.
. "$(dirname "$0")/lib.sh"
need_root
need dockerd docker jq findmnt
compile_probe "$T/probe"
make_full_fixture "$T/spec" "$T/probe"
# The entrypoint carries a file capability (the security.capability xattr,
# a SCHILY.xattr record in the layer): run as 65532, it gets the capability.
need setcap
setcap cap_net_bind_service+ep "$T/spec/src/server"
OUT=$T/out
mkdir -p "$OUT"

# The engine's socket path must stay short (unix sockets: 108 bytes).
DK=$(mktemp -d /tmp/e2e-dk.XXXXXX)
SOCK=$DK/docker.sock
export DOCKER_CONFIG=$DK/client-config # never touch ~/.docker
DOCKER=(docker -H "unix://$SOCK")
DOCKERD_PID=
stop_docker() {
  if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    kill -TERM "$DOCKERD_PID"
    local i
    for ((i = 0; i < 30; i++)); do
      kill -0 "$DOCKERD_PID" 2>/dev/null || break
      sleep 1
    done
    kill -KILL "$DOCKERD_PID" 2>/dev/null
    wait "$DOCKERD_PID" 2>/dev/null
  fi
  local m
  findmnt -rn -o TARGET | grep -F "$DK/" | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$DK"
}
defer stop_docker

step "start a private dockerd"
dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
  --host "unix://$SOCK" --data-root "$DK/docker-root" --exec-root "$DK/docker-exec" \
  --pidfile "$DK/docker.pid" >"$DK/dockerd.log" 2>&1 &
DOCKERD_PID=$!
READY=
for ((i = 0; i < 60; i++)); do
  if "${DOCKER[@]}" info >/dev/null 2>&1; then
    READY=1
    break
  fi
  kill -0 "$DOCKERD_PID" 2>/dev/null || fail "dockerd exited while starting" "$(tail -n 30 "$DK/dockerd.log")"
  sleep 1
done
[ -n "$READY" ] || fail "dockerd did not answer within 60 s" "$(tail -n 30 "$DK/dockerd.log")"
note "dockerd $("${DOCKER[@]}" version --format '{{.Server.Version}}') is up"

# The main image leaves out the paths: hardlink to the entrypoint; the last
# step runs the full fixture with it.
sed '/server-hardlink/d' "$T/spec/image.yaml" >"$T/spec/main.yaml"
step "build"
distill_build "$T/spec/main.yaml" "docker-archive:$OUT/docker.tar:example/app:1.0" --format json >"$T/build.json"
distill_build "$T/spec/main.yaml" "docker-archive:$OUT/noname.tar" -q >/dev/null
distill_build "$T/spec/image.yaml" "docker-archive:$OUT/full.tar:example/full:1.0" -q >/dev/null
CONFIG_DIGEST=$(jq_file "$T/build.json" '.images[0].config')
DIFF_ID=$(jq_file "$T/build.json" '.images[0].layers[0].diffID')

docker_run() { # IMAGE [ARGS...]: its stdout goes to $T/run.out
  "${DOCKER[@]}" run --rm --network none "$@" >"$T/run.out" 2>"$T/run.err" ||
    fail "docker run $* failed" "$(cat "$T/run.err")" "stdout: $(cat "$T/run.out")"
}

# check_run ARG...: the probe's output shows the spec's settings and these argv.
check_run() {
  local expected="uid=65532
gid=65532
cwd=/app
argc=$(($# + 1))
argv[0]=/app/server"
  local i=1 a
  for a in "$@"; do
    expected+=$'\n'"argv[$i]=$a"
    i=$((i + 1))
  done
  expected+="
env:APP_MODE=production
env:LANG=C.UTF-8
env:PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  assert_eq "$expected" "$(cat "$T/run.out")" "what the program saw inside the container"
}

step "docker load -i the docker-archive"
"${DOCKER[@]}" load -i "$OUT/docker.tar" >"$T/load.out" 2>"$T/load.err" ||
  fail "docker load failed" "$(cat "$T/load.err")" "dockerd log:" "$(tail -n 20 "$DK/dockerd.log")"
assert_contains "$(cat "$T/load.out")" "Loaded image: example/app:1.0" "docker load output"

step "docker run"
docker_run example/app:1.0
check_run --port 8080
step "docker run: the entrypoint's file capability takes effect"
# CAP_NET_BIND_SERVICE is bit 10; Docker's default set has it, so only the
# file capability can raise it for user 65532.
docker_run example/app:1.0 caps
assert_eq "capeff=0000000000000400" "$(cat "$T/run.out")" "effective capabilities of /app/server as 65532 (docker)"
# Without it in the bounding set, the kernel refuses to exec a file whose
# capability it cannot grant: the xattr is there.
rc=0
"${DOCKER[@]}" run --rm --network none --cap-drop NET_BIND_SERVICE example/app:1.0 caps >"$T/run.out" 2>"$T/run.err" || rc=$?
assert_ne 0 "$rc" "exit status of the entrypoint with --cap-drop NET_BIND_SERVICE (docker)"
assert_contains "$(cat "$T/run.err")" "operation not permitted" "exec of a file capability outside the bounding set (docker)"
step "docker run with arguments (they replace cmd)"
docker_run example/app:1.0 extra "two words"
check_run extra "two words"

step "docker image inspect"
"${DOCKER[@]}" image inspect example/app:1.0 >"$T/inspect.json" 2>"$T/inspect.err" ||
  fail "docker image inspect failed" "$(cat "$T/inspect.err")"
I=$T/inspect.json
assert_jq "$I" '.[0].Id' "$CONFIG_DIGEST" "the image ID is the config digest"
assert_jq "$I" '.[0].RepoTags | tojson' '["example/app:1.0"]'
assert_jq "$I" '.[0].Config.Entrypoint | tojson' '["/app/server"]'
assert_jq "$I" '.[0].Config.Cmd | tojson' '["--port","8080"]'
assert_jq "$I" '.[0].Config.User' 65532:65532
assert_jq "$I" '.[0].Config.WorkingDir' /app
assert_jq "$I" '.[0].Config.Env | tojson' \
  '["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","LANG=C.UTF-8","APP_MODE=production"]'
assert_jq "$I" '.[0].Config.ExposedPorts | keys | tojson' '["53/udp","8080/tcp"]'
assert_jq "$I" '.[0].Config.Volumes | keys | tojson' '["/data"]'
assert_jq "$I" '.[0].Config.StopSignal' SIGTERM
assert_jq "$I" '.[0].Config.Labels["org.example.team"]' payments
assert_jq "$I" '.[0].Architecture + "/" + .[0].Os' amd64/linux
assert_jq "$I" '.[0].Created' 1970-01-01T00:00:00Z
assert_jq "$I" '.[0].RootFS.Layers | tojson' "[\"$DIFF_ID\"]"

step "an unnamed docker-archive loads by ID"
"${DOCKER[@]}" load -i "$OUT/noname.tar" >"$T/load.out" 2>"$T/load.err" || fail "docker load of an unnamed archive failed" "$(cat "$T/load.err")"
assert_contains "$(cat "$T/load.out")" "$CONFIG_DIGEST" "docker load names the image by its config digest"
docker_run "$CONFIG_DIGEST" one
check_run one

step "a paths: hardlink to the entrypoint keeps the entrypoint's mode and owner"
# /app/server-hardlink shares /app/server's inode; Docker applies the
# hardlink entry's tar header (mode, owner) to it, so that header must carry
# the file's 0755 65532:65532, or the entrypoint is no longer executable.
"${DOCKER[@]}" load -i "$OUT/full.tar" >"$T/load.out" 2>"$T/load.err" || fail "docker load failed" "$(cat "$T/load.err")"
docker_run example/full:1.0
check_run --port 8080

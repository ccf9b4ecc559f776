#!/usr/bin/env bash
# podman (with runc) runs what distill builds, from oci: directly and after
# `podman load` of the oci-archive and the docker-archive: the entrypoint,
# cmd, env, user and workdir of the spec and the entrypoint's file
# capability take effect, and arguments given to
# `podman run` replace cmd. A zstd image runs too. podman uses a private
# store in a temp dir of its own, removed afterwards.
. "$(dirname "$0")/lib.sh"
need_root
need podman runc jq findmnt
compile_probe "$T/probe"
make_full_fixture "$T/spec" "$T/probe"
# The entrypoint carries a file capability (the security.capability xattr,
# a SCHILY.xattr record in the layer): run as 65532, it gets the capability.
need setcap
setcap cap_net_bind_service+ep "$T/spec/src/server"

podman_setup

OUT=$PM/out
mkdir -p "$OUT"

# The main image leaves out the paths: hardlink to the entrypoint; the last
# step runs the full fixture with it.
sed '/server-hardlink/d' "$T/spec/image.yaml" >"$T/spec/main.yaml"
step "build"
distill_build "$T/spec/main.yaml" "oci:$OUT/layout:1.0" --format json >"$T/oci.json"
distill_build "$T/spec/main.yaml" "oci-archive:$OUT/image.tar:1.0" -q >/dev/null
distill_build "$T/spec/main.yaml" "docker-archive:$OUT/docker.tar:example/app:1.0" -q >/dev/null
distill_build "$T/spec/main.yaml" "oci:$OUT/zstd:1.0" --compression zstd -q >/dev/null
distill_build "$T/spec/image.yaml" "oci:$OUT/full:1.0" -q >/dev/null
CONFIG_DIGEST=$(jq_file "$T/oci.json" '.images[0].config')

podman_run() { # IMAGE [ARGS...]: runs the image; its stdout goes to $T/run.out
  "${PODMAN[@]}" run --rm --ulimit nofile=20000:20000 --ulimit nproc=20000:20000 "$@" >"$T/run.out" 2>"$T/run.err" ||
    fail "podman run $* failed" "$(cat "$T/run.err")" "stdout: $(cat "$T/run.out")"
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

step "podman run oci:DIR:TAG"
podman_run "oci:$OUT/layout:1.0"
check_run --port 8080
step "podman run: the entrypoint's file capability takes effect"
# CAP_NET_BIND_SERVICE is bit 10; podman's default set has it, so only the
# file capability can raise it for user 65532.
podman_run "oci:$OUT/layout:1.0" caps
assert_eq "capeff=0000000000000400" "$(cat "$T/run.out")" "effective capabilities of /app/server as 65532 (podman)"
# Without it in the bounding set, the kernel refuses to exec a file whose
# capability it cannot grant: the xattr is there.
rc=0
"${PODMAN[@]}" run --rm --ulimit nofile=20000:20000 --ulimit nproc=20000:20000 --cap-drop NET_BIND_SERVICE "oci:$OUT/layout:1.0" caps >"$T/run.out" 2>"$T/run.err" || rc=$?
assert_ne 0 "$rc" "exit status of the entrypoint with --cap-drop NET_BIND_SERVICE (podman)"
assert_contains "$(cat "$T/run.err")" "operation not permitted" "exec of a file capability outside the bounding set (podman)"
step "podman run oci:DIR:TAG with arguments (they replace cmd)"
podman_run "oci:$OUT/layout:1.0" extra "two words"
check_run extra "two words"

step "podman load -i the oci-archive"
"${PODMAN[@]}" load -i "$OUT/image.tar" >"$T/load.out" 2>"$T/load.err" || fail "podman load of the oci-archive failed" "$(cat "$T/load.err")"
NAME=$(sed -En 's/^Loaded image(\(s\))?: //p' "$T/load.out" | head -n1)
assert_ne "" "$NAME" "podman load names the loaded image ($(cat "$T/load.out"))"
assert_eq "localhost/image:1.0" "$NAME" "name podman gives the oci-archive's image (io.containerd.image.name)"
podman_run "$NAME"
check_run --port 8080
podman_run "$NAME" --flag
check_run --flag

step "podman load -i the docker-archive"
"${PODMAN[@]}" load -i "$OUT/docker.tar" >"$T/load.out" 2>"$T/load.err" || fail "podman load of the docker-archive failed" "$(cat "$T/load.err")"
assert_contains "$(cat "$T/load.out")" "example/app:1.0" "podman load of the docker-archive"
podman_run example/app:1.0
check_run --port 8080
podman_run example/app:1.0 a b c
check_run a b c

step "podman image inspect"
"${PODMAN[@]}" image inspect example/app:1.0 >"$T/pinspect.json" 2>"$T/pi.err" || fail "podman image inspect failed" "$(cat "$T/pi.err")"
assert_jq "$T/pinspect.json" '.[0].Id' "${CONFIG_DIGEST#sha256:}" "podman's image ID is the config digest"
assert_jq "$T/pinspect.json" '.[0].Config.User' 65532:65532
assert_jq "$T/pinspect.json" '.[0].Config.WorkingDir' /app
assert_jq "$T/pinspect.json" '.[0].Config.Entrypoint | tojson' '["/app/server"]'
assert_jq "$T/pinspect.json" '.[0].Config.Cmd | tojson' '["--port","8080"]'
assert_jq "$T/pinspect.json" '.[0].Config.StopSignal' SIGTERM

step "podman run a zstd image"
podman_run "oci:$OUT/zstd:1.0"
check_run --port 8080

step "a paths: hardlink to the entrypoint keeps the entrypoint's mode and owner"
# /app/server-hardlink shares /app/server's inode. The extractor applies the
# hardlink entry's tar header to that inode, so the header must carry the
# file's mode 0755 and owner 65532:65532, or /app/server stops being
# executable.
podman_run "oci:$OUT/full:1.0"
check_run --port 8080

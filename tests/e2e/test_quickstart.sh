#!/usr/bin/env bash
# The README's quick start, as a user runs it: its first command (checked to
# be ./scripts/quickstart.sh) installs the dependencies, builds distill,
# builds examples/hello into an image and runs it with podman. The program's
# output shows the spec took effect: user 65532, workdir /home/nonroot, env,
# cmd, the inline message file. In CI distill is already built, so this adds
# only the example's build and run.
. "$(dirname "$0")/lib.sh"
need_root
need podman runc gcc

step "the README's quick start names scripts/quickstart.sh and scripts/test.sh"
block=$(awk '/^```sh$/ { inside = 1; next } inside && /^```$/ { exit } inside' "$REPO_ROOT/README.md")
assert_eq 2 "$(grep -c . <<<"$block")" "commands in the README's quick start block"
assert_matches "$(sed -n 1p <<<"$block")" '^\./scripts/quickstart\.sh( |$)' "the quick start's first command"
assert_matches "$(sed -n 2p <<<"$block")" '^\./scripts/test\.sh( |$)' "the quick start's second command"

step "./scripts/quickstart.sh"
rc=0
(cd "$REPO_ROOT" && ./scripts/quickstart.sh) >"$T/quickstart.out" 2>"$T/quickstart.err" || rc=$?
[ $rc = 0 ] || fail "./scripts/quickstart.sh failed with status $rc" "stdout: $(tail -n 20 "$T/quickstart.out")" \
  "stderr: $(tail -n 30 "$T/quickstart.err")"

step "the example ran in its container"
got=$(sed -n '/^hello from distill$/,$p' "$T/quickstart.out")
assert_eq "hello from distill
uid=65532 gid=65532 cwd=/home/nonroot
GREETING=hi
arg1=--greet
arg2=world
message: this image holds no shell, no package manager, only this program" "$got" \
  "what examples/hello printed under podman (the end of quickstart.sh's output)"
# inspect's summary came before the run: the image has the example's config.
assert_contains "$(cat "$T/quickstart.out")" "/usr/bin/hello" "distill inspect's summary in the quick start's output"

#!/usr/bin/env bash
# Mistakes are reported, never built: each case must exit with the right
# status (1 failure, 2 usage error), name the spec file, the line and the
# field on stderr, and leave NOTHING at the destination: no directory, no
# file, no temporary file beside it. A failed build into an existing layout
# leaves its index.json as it was.
. "$(dirname "$0")/lib.sh"
need_root
need runuser jq mkfifo skopeo

UNPRIV=nobody
id "$UNPRIV" >/dev/null 2>&1 || fail "user $UNPRIV does not exist"
UNPRIV_HOME=$T/home-unpriv
mkdir -p "$UNPRIV_HOME"
chown "$UNPRIV" "$UNPRIV_HOME"

# A source file the good parts of the specs can use.
mkdir -p "$T/shared"
printf 'payload\n' >"$T/shared/file.txt"

N=0
# spec_case NAME RC LINE FIELD MESSAGE_PART <<'EOF' ... EOF
# The spec (stdin) is built to each transport in turn; every run must exit
# RC with "SPEC:LINE:", ": FIELD" (when not empty; a prefix of the field
# path) and MESSAGE_PART on stderr, and leave the destination's directory
# empty. file.txt beside the spec is a readable source.
spec_case() {
  local name=$1
  N=$((N + 1))
  local dir=$T/cases/$N-$name
  mkdir -p "$dir/out"
  cat >"$dir/image.yaml"
  soft "$name" _spec_case "$dir" "$@"
}
_spec_case() {
  local dir=$1 name=$2 rc=$3 line=$4 field=$5 part=$6
  ln -s "$T/shared/file.txt" "$dir/file.txt"
  local dest
  for dest in "oci:$dir/out/img:1.0" "oci-archive:$dir/out/img.tar:1.0" "docker-archive:$dir/out/img.tar:example/img:1.0"; do
    run_expect "$rc" "$DISTILL" build "$dir/image.yaml" -o "$dest"
    assert_contains "$RUN_ERR" "distill: error: " "[$name] the message starts with 'distill: error:'"
    if [ -n "$line" ]; then
      assert_contains "$RUN_ERR" "$dir/image.yaml:$line:" "[$name] stderr names the spec file and line $line"
    else
      assert_contains "$RUN_ERR" "$dir/image.yaml" "[$name] stderr names the spec file"
    fi
    [ -z "$field" ] || assert_contains "$RUN_ERR" ": $field" "[$name] stderr names the field $field"
    assert_contains "$RUN_ERR" "$part" "[$name] the message explains the mistake"
    assert_not_contains "$RUN_ERR" "internal error" "[$name] a spec mistake is not an internal error"
    assert_eq "" "$RUN_OUT" "[$name] nothing on stdout"
    assert_dir_empty "$dir/out" "[$name] nothing may be written for $dest"
  done
  note "ok: $name"
}

step "spec mistakes"
spec_case missing-source 1 3 'files[0].src' "does not exist" <<'EOF'
files:
  - dst: /app/server
    src: does-not-exist.bin
    mode: "0755"
EOF

spec_case mode-999 1 5 'files[0].mode' '"999" is not a file mode' <<'EOF'
files:
  - src: file.txt
    dst: /app/file.txt
    owner: "65532:65532"
    mode: "999"
EOF

spec_case mode-rwx 1 5 'paths[0].mode' '"rwx" is not a file mode' <<'EOF'
files:
  - {src: file.txt, dst: /app/file.txt}
paths:
  - path: /data
    mode: rwx
    type: directory
EOF

spec_case mode-too-big 1 4 'files[0].mode' 'is not a file mode' <<'EOF'
files:
  - dst: /etc/app.conf
    content: "x"
    mode: "017777"
EOF

spec_case owner-names 1 4 'files[0].owner' '"root:root" is not an owner' <<'EOF'
files:
  - dst: /etc/app.conf
    content: "x"
    owner: "root:root"
EOF

spec_case owner-negative 1 5 'paths[0].owner' '"-1" is not an owner' <<'EOF'
paths:
  - path: /data
    type: directory
    mode: "0750"
    owner: "-1"
EOF

spec_case dst-dotdot 1 3 'files[0].dst' 'contains ".."' <<'EOF'
files:
  - src: file.txt
    dst: /app/../../etc/passwd
EOF

spec_case dst-relative 1 4 'files[1].dst' 'must be an absolute path' <<'EOF'
files:
  - {src: file.txt, dst: /app/ok.txt}
  - src: file.txt
    dst: app/file.txt
EOF

spec_case dst-duplicate 1 5 'files[1].dst' 'is already provided by' <<'EOF'
files:
  - src: file.txt
    dst: /a
  - content: "second"
    dst: /a
EOF

spec_case dst-duplicate-host-files 1 3 'files[1]' '/a is already provided by' <<'EOF'
files:
  - {src: file.txt, dst: /a}
  - {src: file.txt, dst: /a}
EOF

spec_case path-duplicates-file 1 4 'paths[0]' 'is already provided by' <<'EOF'
files:
  - {src: file.txt, dst: /data}
paths:
  - {path: /data, type: directory}
EOF

spec_case unknown-top-key 1 4 'colour' 'unknown key' <<'EOF'
files:
  - src: file.txt
    dst: /a
colour: blue
EOF

spec_case unknown-file-key 1 4 'files[0].colour' 'unknown key' <<'EOF'
files:
  - src: file.txt
    dst: /a
    colour: blue
EOF

spec_case malformed-indent 1 4 '' 'malformed YAML' <<'EOF'
files:
  - dst: /a
    content: x
   mode: "0644"
EOF

spec_case malformed-flow 1 3 '' 'malformed YAML' <<'EOF'
files:
  - {dst: /a, content: x
  - {dst: /b, content: y}
EOF

# A double-quoted string that is never closed: the YAML is malformed, even
# when the quote runs to the end of the file.
spec_case malformed-unclosed-quote 1 3 '' 'malformed YAML' <<'EOF'
files:
  - dst: /etc/app.conf
    content: "listen = 0.0.0.0:8080
EOF

# app: mistakes point at the app's place; a missing program is found before
# anything is fetched or built.
spec_case app-unknown-key 1 4 'app.colour' 'unknown key' <<'EOF'
files: [{src: file.txt, dst: /a}]
app:
  program: build/server
  colour: red
EOF
spec_case app-missing-program 1 3 'app.program' 'build/server does not exist' <<'EOF'
files: [{src: file.txt, dst: /a}]
app:
  program: build/server
EOF

spec_case unknown-strip-class 1 3 'strip[1]' 'not a strip class' <<'EOF'
files:
  - {src: file.txt, dst: /a}
strip: [docs, pictures]
EOF

spec_case from-unknown-base 1 1 'from' 'write scratch, preset:NAME' <<'EOF'
from: ftp://example.com/base.tar
EOF

spec_case hardlink-dangling 1 4 'paths[0].target' 'is not a regular file in this image' <<'EOF'
files:
  - {src: file.txt, dst: /a}
paths:
  - {path: /b, type: hardlink, target: /not/in/the/image}
EOF

spec_case hardlink-to-directory 1 4 'paths[1].target' 'is not a regular file in this image' <<'EOF'
paths:
  - {path: /data, type: directory}
  - path: /link
    target: /data
    type: hardlink
EOF

spec_case parent-is-file 1 3 'files[1]' 'to be a directory' <<'EOF'
files:
  - {src: file.txt, dst: /app}
  - {src: file.txt, dst: /app/file.txt}
EOF

mkfifo "$T/shared/fifo"
spec_case fifo-source 1 2 'files[0].src' 'FIFO' <<EOF
files:
  - {src: $T/shared/fifo, dst: /fifo}
EOF

step "a destination that cannot be written"
D=$T/dest
mkdir -p "$D"
cat >"$D/image.yaml" <<EOF
files:
  - {src: $T/shared/file.txt, dst: /app/file.txt}
EOF
chmod 0755 "$T/shared" "$T/shared/file.txt"

# dest_case RC MESSAGE_PART DEST [AS_USER]: exit RC, the message names DEST.
dest_case() {
  local rc=$1 part=$2 dest=$3 user=${4:-}
  if [ -n "$user" ]; then
    run_expect "$rc" runuser -u "$user" -- env -i PATH=/usr/bin:/bin HOME="$UNPRIV_HOME" NO_COLOR=1 \
      "$DISTILL" build "$D/image.yaml" -o "$dest"
  else
    run_expect "$rc" "$DISTILL" build "$D/image.yaml" -o "$dest"
  fi
  assert_contains "$RUN_ERR" "distill: error: " "message prefix"
  assert_contains "$RUN_ERR" "$dest" "the message names the destination $dest"
  assert_contains "$RUN_ERR" "$part" "the message explains why $dest cannot be written"
  assert_not_contains "$RUN_ERR" "internal error" "not an internal error"
}

mkdir "$D/readonly"
chmod 0555 "$D/readonly"
for dest in "oci:$D/readonly/img:1.0" "oci-archive:$D/readonly/img.tar" "docker-archive:$D/readonly/img.tar:example/img:1.0"; do
  dest_case 1 "Permission denied" "$dest" "$UNPRIV"
  assert_dir_empty "$D/readonly" "nothing may be written into the read-only directory"
done
for dest in "oci:$D/no/such/dir/img:1.0" "oci-archive:$D/no/such/dir/img.tar" "docker-archive:$D/no/such/dir/img.tar"; do
  dest_case 1 "does not exist" "$dest"
  assert_absent "$D/no" "distill must not create missing parent directories"
done

step "an existing directory that is not an OCI layout"
mkdir "$D/notlayout"
printf 'keep me\n' >"$D/notlayout/precious.txt"
dest_case 1 "not an OCI layout" "oci:$D/notlayout:1.0"
assert_eq "precious.txt" "$(ls -A "$D/notlayout")" "the directory's contents stay untouched"
assert_eq "keep me" "$(cat "$D/notlayout/precious.txt")" "the file in it stays untouched"
mkdir "$D/afile-parent"
printf 'x' >"$D/afile-parent/layout"
dest_case 1 "not a directory" "oci:$D/afile-parent/layout:1.0"
assert_eq "layout" "$(ls -A "$D/afile-parent")" "nothing beside the file"
mkdir -p "$D/dir-as-archive/img.tar"
dest_case 1 "is a directory" "oci-archive:$D/dir-as-archive/img.tar:1.0"
assert_dir_empty "$D/dir-as-archive/img.tar" "a directory in the archive's place stays empty"

step "usage errors (exit 2)"
mkdir "$D/usage"
usage_case() { # MESSAGE_PART ARGS...
  local part=$1
  shift
  run_expect 2 "$DISTILL" build "$D/image.yaml" "$@"
  assert_contains "$RUN_ERR" "distill: error: " "message prefix"
  assert_contains "$RUN_ERR" "$part" "usage error message"
  assert_dir_empty "$D/usage" "a usage error writes nothing"
}
usage_case 'unknown transport "foo"' -o "foo:$D/usage/img"
usage_case 'unknown transport "dir"' -o "dir:$D/usage/img"
usage_case 'has no transport' -o "$D/usage/img"
usage_case 'is not a repository name' -o "docker://example.com/Bad_Repo:1"
usage_case 'unknown algorithm "brotli"' -o "oci:$D/usage/img" --compression brotli
usage_case 'must be a number from 1 to 12' -o "oci:$D/usage/img" --compression gzip:99
usage_case 'must be a number from 1 to' -o "oci:$D/usage/img" --compression zstd:0
usage_case 'takes no level' -o "oci:$D/usage/img" --compression none:3
usage_case 'format' -o "oci:$D/usage/img" --format yaml
usage_case 'not a valid image name' -o "docker-archive:$D/usage/img.tar:Upper/Case:1"
usage_case 'ends with an empty tag' -o "oci:$D/usage/img:"
SOURCE_DATE_EPOCH=yesterday usage_case 'SOURCE_DATE_EPOCH' -o "oci:$D/usage/img"
SOURCE_DATE_EPOCH=-5 usage_case 'SOURCE_DATE_EPOCH' -o "oci:$D/usage/img"
run_expect 2 "$DISTILL" build "$D/image.yaml"
assert_contains "$RUN_ERR" "output" "a missing -o is a usage error naming --output"
run_expect 2 "$DISTILL" frobnicate
run_expect 2 "$DISTILL"

step "a multi-platform spec cannot go to a docker-archive"
cat >"$D/multi.yaml" <<EOF
files:
  - {src: $T/shared/file.txt, dst: /app/file.txt}
archs: [amd64, arm64]
EOF
mkdir "$D/multi"
run_expect 2 "$DISTILL" build "$D/multi.yaml" -o "docker-archive:$D/multi/img.tar"
assert_contains "$RUN_ERR" "docker-archive holds one platform"
assert_dir_empty "$D/multi" "no archive and no temporary file after the refusal"

step "a failed build into an existing layout leaves its index.json unchanged"
L=$D/layout
distill_build "$D/image.yaml" "oci:$L:1.0" -q >/dev/null
cp "$L/index.json" "$T/index.before"
BLOBS_BEFORE=$(ls "$L/blobs/sha256")
layout_unchanged() { # WHAT
  assert_same_bytes "$T/index.before" "$L/index.json" "index.json after $1"
  assert_eq "blobs index.json oci-layout" "$(ls -A "$L" | paste -sd' ')" "no temporary file in the layout after $1"
  local stray
  stray=$(find "$L/blobs" -name '*.tmp*' -o -name '.*')
  assert_eq "" "$stray" "no temporary blob after $1"
  skopeo inspect "oci:$L:1.0" >/dev/null 2>"$T/sk.err" || fail "the layout is no longer readable after $1" "$(cat "$T/sk.err")"
}
# A spec mistake.
cat >"$D/bad.yaml" <<EOF
files:
  - {src: $T/shared/file.txt, dst: /app/file.txt, mode: "999"}
EOF
run_expect 1 "$DISTILL" build "$D/bad.yaml" -o "oci:$L:2.0"
layout_unchanged "a spec mistake"
assert_eq "$BLOBS_BEFORE" "$(ls "$L/blobs/sha256")" "no blob added by a spec mistake"
# A missing source.
cat >"$D/missing.yaml" <<EOF
files:
  - {src: $T/shared/nope.txt, dst: /app/file.txt}
EOF
run_expect 1 "$DISTILL" build "$D/missing.yaml" -o "oci:$L:1.0"
layout_unchanged "a missing source"
# A failure in the middle of writing: the cache holds a corrupt copy of a
# layer the layout does not have yet, so copying it in must fail.
cat >"$D/other.yaml" <<EOF
files:
  - {src: $T/shared/file.txt, dst: /other/file.txt}
EOF
export DISTILL_CACHE_DIR=$T/cache-corrupt
distill_build "$D/other.yaml" "oci:$T/other-layout:1.0" --format json >"$T/other.json"
OTHER_LAYER=$(jq_file "$T/other.json" '.images[0].layers[0].digest')
printf 'corruption' >>"$DISTILL_CACHE_DIR/blobs/sha256/${OTHER_LAYER#sha256:}"
run_expect 1 "$DISTILL" build "$D/other.yaml" -o "oci:$L:1.0"
assert_contains "$RUN_ERR" "does not match its digest" "a corrupt cached layer is detected"
layout_unchanged "a corrupt cached layer"
assert_absent "$(blob_path "$L" "$OTHER_LAYER")" "the corrupt layer must not land in the layout"
# The same corrupt cache into a new oci: directory or an archive: nothing left.
mkdir "$D/after-corrupt"
for dest in "oci:$D/after-corrupt/img:1.0" "oci-archive:$D/after-corrupt/img.tar:1.0" "docker-archive:$D/after-corrupt/img.tar"; do
  run_expect 1 "$DISTILL" build "$D/other.yaml" -o "$dest"
  assert_contains "$RUN_ERR" "does not match its digest" "a corrupt cached layer is detected ($dest)"
  assert_dir_empty "$D/after-corrupt" "nothing left after a failed write to $dest"
done

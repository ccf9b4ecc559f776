#!/usr/bin/env bash
# The same spec and inputs give the same bytes, whoever builds them and
# wherever: three copies of the spec and its sources (cp -a; the copies get
# other host owners and mtimes), built as root with umask 022 and TZ=UTC, as
# root with umask 077 and TZ=Asia/Kolkata, and as an unprivileged user with
# umask 027, each with a fresh cache, to every transport. Manifest digests
# must be identical (distill's and skopeo's), archives byte-identical; a warm
# cache reuses the layer and gives the same digest; DISTILL_JOBS changes
# nothing for gzip and zstd on a multi-MB input cut into several shards.
. "$(dirname "$0")/lib.sh"
need_root
need runuser skopeo jq cmp diff gzip zstd
assert_eq "+0530" "$(TZ=Asia/Kolkata date +%z)" "TZ=Asia/Kolkata must take effect (is tzdata installed?)"
compile_probe "$T/probe"
make_full_fixture "$T/a" "$T/probe"

# Copies: b has other host owners and mtimes, c belongs to the unprivileged
# user (so it can read every source). chown clears setuid bits: modes are
# put back from a.
cp -a "$T/a" "$T/b"
cp -a "$T/a" "$T/c"
chown -R -h 1234:1234 "$T/b"
find "$T/b" -exec touch -h -d '2001-02-03 04:05:06' {} +
restore_modes "$T/a" "$T/b"
UNPRIV=nobody
id "$UNPRIV" >/dev/null 2>&1 || fail "user $UNPRIV does not exist"
UNPRIV_GROUP=$(id -gn "$UNPRIV")
chown -R -h "$UNPRIV:$UNPRIV_GROUP" "$T/c"
restore_modes "$T/a" "$T/c"
assert_eq "$(cd "$T/a" && find . ! -type l -printf '%m %P\n' | sort)" \
  "$(cd "$T/c" && find . ! -type l -printf '%m %P\n' | sort)" "the copies keep the sources' modes"

mkdir -p "$T/outA" "$T/outB" "$T/outC" "$T/home-c"
chown "$UNPRIV:$UNPRIV_GROUP" "$T/outC" "$T/home-c"

# build_all LABEL SPEC OUTDIR: to the three transports; json reports in $T/LABEL.*.json.
DESTS=("oci:%s/layout:1.0" "oci-archive:%s/image.tar:1.0" "docker-archive:%s/docker.tar:example/app:1.0")
KINDS=(oci ocia dock)

step "build A: root, umask 022, TZ=UTC, fresh cache"
for i in 0 1 2; do
  # shellcheck disable=SC2059
  dest=$(printf "${DESTS[$i]}" "$T/outA")
  (umask 022 && TZ=UTC DISTILL_CACHE_DIR=$T/cacheA distill_build "$T/a/image.yaml" "$dest" --format json) >"$T/A.${KINDS[$i]}.json"
done

step "build B: root, umask 077, TZ=Asia/Kolkata, fresh cache"
for i in 0 1 2; do
  # shellcheck disable=SC2059
  dest=$(printf "${DESTS[$i]}" "$T/outB")
  (umask 077 && TZ=Asia/Kolkata DISTILL_CACHE_DIR=$T/cacheB distill_build "$T/b/image.yaml" "$dest" --format json) >"$T/B.${KINDS[$i]}.json"
done

step "build C: $UNPRIV, umask 027, its own XDG_CACHE_HOME"
for i in 0 1 2; do
  # shellcheck disable=SC2059
  dest=$(printf "${DESTS[$i]}" "$T/outC")
  rc=0
  runuser -u "$UNPRIV" -- env -i PATH=/usr/bin:/bin HOME="$T/home-c" XDG_CACHE_HOME="$T/home-c/xdg" TZ=America/Los_Angeles \
    sh -c 'umask 027 && exec "$@"' sh "$DISTILL" build "$T/c/image.yaml" -o "$dest" --format json \
    >"$T/C.${KINDS[$i]}.json" 2>"$T/C.err" || rc=$?
  [ $rc = 0 ] || fail "the unprivileged build to $dest failed with status $rc" "$(cat "$T/C.err")"
done
assert_exists "$T/home-c/xdg/distill/blobs/sha256" "the unprivileged build's cache is \$XDG_CACHE_HOME/distill"
assert_eq "$UNPRIV" "$(stat -c %U "$T/outC/image.tar")" "owner of the unprivileged build's archive"

step "identical digests"
DIGEST=$(jq_file "$T/A.oci.json" .digest)
assert_matches "$DIGEST" '^sha256:[0-9a-f]{64}$'
for who in A B C; do
  for kind in "${KINDS[@]}"; do
    assert_jq "$T/$who.$kind.json" .digest "$DIGEST" "build $who to $kind: manifest digest"
  done
  # Each user's first build (to oci:) starts from an empty cache; the next
  # two reuse its layer.
  assert_jq "$T/$who.oci.json" '.images[0].layers[0].reused' false "build $who to oci: with a fresh cache builds the layer"
  for kind in ocia dock; do
    assert_jq "$T/$who.$kind.json" '.images[0].layers[0].reused' true "build $who to $kind reuses the layer of its oci: build"
  done
done

step "skopeo sees the same digests"
for who in A B C; do
  for ref in "oci:$T/out$who/layout:1.0" "oci-archive:$T/out$who/image.tar:1.0"; do
    got=$(skopeo inspect --format '{{.Digest}}' "$ref" 2>"$T/sk.err") || fail "skopeo inspect $ref failed" "$(cat "$T/sk.err")"
    assert_eq "$DIGEST" "$got" "skopeo's digest of $ref"
  done
  got=$(skopeo inspect --format '{{.Digest}}' "docker-archive:$T/out$who/docker.tar" 2>"$T/sk.err") ||
    fail "skopeo inspect of the docker-archive failed" "$(cat "$T/sk.err")"
  eval "SKOPEO_DOCKER_$who=\$got"
done
assert_eq "$SKOPEO_DOCKER_A" "$SKOPEO_DOCKER_B" "skopeo's docker-archive digest, builds A and B"
assert_eq "$SKOPEO_DOCKER_A" "$SKOPEO_DOCKER_C" "skopeo's docker-archive digest, builds A and C"

step "byte-identical archives and layouts"
for who in B C; do
  assert_same_bytes "$T/outA/image.tar" "$T/out$who/image.tar" "oci-archive of builds A and $who"
  assert_same_bytes "$T/outA/docker.tar" "$T/out$who/docker.tar" "docker-archive of builds A and $who"
  diff -r "$T/outA/layout" "$T/out$who/layout" >"$T/diff.out" 2>&1 ||
    fail "oci: layouts of builds A and $who differ" "$(head -n 20 "$T/diff.out")"
done

step "a warm cache reuses the layer and gives the same digest"
DISTILL_CACHE_DIR=$T/cacheA distill_build "$T/a/image.yaml" "oci:$T/outA/warm:1.0" --format json >"$T/warm.json"
assert_jq "$T/warm.json" '.images[0].layers[0].reused' true "second build with the same cache"
assert_jq "$T/warm.json" .digest "$DIGEST" "warm-cache build"
mkdir "$T/outA/warm-archive" # same file name: the name annotations come from it
DISTILL_CACHE_DIR=$T/cacheA distill_build "$T/a/image.yaml" "oci-archive:$T/outA/warm-archive/image.tar:1.0" --format json >"$T/warm2.json"
assert_jq "$T/warm2.json" '.images[0].layers[0].reused' true "second build with the same cache"
assert_same_bytes "$T/outA/image.tar" "$T/outA/warm-archive/image.tar" "oci-archive from a warm cache"
DISTILL_CACHE_DIR=$T/cacheA distill_build "$T/a/image.yaml" "oci:$T/outA/nocache:1.0" --no-cache --format json >"$T/nocache.json"
assert_jq "$T/nocache.json" '.images[0].layers[0].reused' false "--no-cache rebuilds the layer"
assert_jq "$T/nocache.json" .digest "$DIGEST" "--no-cache build"

step "the digest does follow the inputs"
SOURCE_DATE_EPOCH=1 distill_build "$T/a/image.yaml" "oci:$T/outA/epoch1:1.0" --format json >"$T/epoch1.json"
assert_ne "$DIGEST" "$(jq_file "$T/epoch1.json" .digest)" "another SOURCE_DATE_EPOCH"
printf 'beta\n' >"$T/a/src/tree/a.txt"
distill_build "$T/a/image.yaml" "oci:$T/outA/changed:1.0" --format json >"$T/changed.json"
assert_ne "$DIGEST" "$(jq_file "$T/changed.json" .digest)" "a changed source file"
assert_jq "$T/changed.json" '.images[0].layers[0].reused' false "a changed source file must not reuse the cached layer"
chmod 0600 "$T/a/src/tree/a.txt"
distill_build "$T/a/image.yaml" "oci:$T/outA/chmod:1.0" --format json >"$T/chmod.json"
assert_ne "$(jq_file "$T/changed.json" .digest)" "$(jq_file "$T/chmod.json" .digest)" "a changed source mode"

step "DISTILL_JOBS does not change the bytes (multi-MB input)"
mkdir -p "$T/big"
# 48 MiB of moderately compressible text: 48 gzip shards of 1 MiB, and
# several zstd jobs.
"$PYTHON" - "$T/big/data.txt" <<'EOF'
import random, sys
rng = random.Random(42)
words = [("%x" % rng.getrandbits(24)) for _ in range(5000)]
with open(sys.argv[1], "w") as f:
    size = 0
    while size < 48 << 20:
        line = " ".join(rng.choice(words) for _ in range(16)) + "\n"
        f.write(line)
        size += len(line)
EOF
cat >"$T/big/image.yaml" <<'EOF'
files:
  - {src: data.txt, dst: /data/big.txt, mode: "0644"}
EOF
for comp in gzip zstd; do
  for jobs in 1 4; do
    DISTILL_JOBS=$jobs distill_build "$T/big/image.yaml" "oci:$T/big/$comp-$jobs:1.0" --compression "$comp" --no-cache --format json \
      >"$T/big.$comp.$jobs.json"
  done
  DISTILL_JOBS=2 distill_build "$T/big/image.yaml" "oci-archive:$T/big/$comp-2.tar:1.0" --compression "$comp" --no-cache --format json \
    >"$T/big.$comp.2.json"
  for jobs in 1 4 2; do
    assert_jq "$T/big.$comp.$jobs.json" '.images[0].layers[0].reused' false "--no-cache"
  done
  assert_eq "$(jq_file "$T/big.$comp.1.json" .digest)" "$(jq_file "$T/big.$comp.4.json" .digest)" "$comp: DISTILL_JOBS=1 vs 4"
  assert_eq "$(jq_file "$T/big.$comp.1.json" .digest)" "$(jq_file "$T/big.$comp.2.json" .digest)" "$comp: DISTILL_JOBS=1 vs 2"
  # (index.json differs: its image name comes from the directory name.)
  diff -r "$T/big/$comp-1/blobs" "$T/big/$comp-4/blobs" >"$T/diff.out" 2>&1 ||
    fail "$comp: blobs for DISTILL_JOBS=1 and 4 differ" "$(head "$T/diff.out")"
done
assert_ne "$(jq_file "$T/big.gzip.1.json" .digest)" "$(jq_file "$T/big.zstd.1.json" .digest)" "gzip and zstd images differ"

# The premise: the gzip layer really is several shards (gzip members), and
# every one of them decompresses to the input.
GZ_LAYER=$(blob_path "$T/big/gzip-4" "$(jq_file "$T/big.gzip.4.json" '.images[0].layers[0].digest')")
MEMBERS=$("$PYTHON" - "$GZ_LAYER" <<'EOF'
import sys, zlib
data = open(sys.argv[1], "rb").read()
members = 0
while data:
    d = zlib.decompressobj(31)
    d.decompress(data)
    if not d.eof:
        sys.exit("truncated gzip member")
    data = d.unused_data
    members += 1
print(members)
EOF
)
[ "$MEMBERS" -ge 8 ] || fail "the gzip layer should be cut into several shards" "gzip members: $MEMBERS"
note "gzip layer: $MEMBERS members"
DIFF_ID=$(jq_file "$T/big.gzip.4.json" '.images[0].layers[0].diffID')
assert_eq "$DIFF_ID" "sha256:$(gzip -dc "$GZ_LAYER" | sha256sum | cut -d' ' -f1)" "the multi-member gzip layer decompresses to its diff_id"
ZS_LAYER=$(blob_path "$T/big/zstd-4" "$(jq_file "$T/big.zstd.4.json" '.images[0].layers[0].digest')")
assert_eq "$DIFF_ID" "sha256:$(zstd -q -dc "$ZS_LAYER" | sha256sum | cut -d' ' -f1)" "the zstd layer decompresses to the same tar"

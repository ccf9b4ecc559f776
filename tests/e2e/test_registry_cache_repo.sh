#!/usr/bin/env bash
# --cache-repo: two machines' worth of layer sharing through a registry.
#   - machine A (an empty local cache) builds the curl package set from the
#     local signed mirror with --cache-repo and stores every layer there;
#   - machine B (another empty local cache) builds the same spec: every
#     package layer comes from the cache repository (counters: hits equal
#     to the package layers, no misses, nothing stored) and the image digest
#     is A's;
#   - the cache entries are real images: skopeo inspects one;
#   - an unreachable cache repository is a warning, not a failure.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_mirror.sh"
. "$(dirname "$0")/lib_registry.sh"
need_root
need skopeo jq
mirror_start
registry_start

cat >"$T/image.yaml" <<SPEC
contents:
  repositories: ["deb [signed-by=$MIRROR_KEYRING] $MIRROR_URL trixie main"]
  packages: [curl, "!debconf"]
entrypoint: [/usr/bin/curl]
SPEC

build() { # CACHE_DIR OUT
  "$DISTILL" build "$T/image.yaml" -o "oci:$2:1" --cache-dir "$1" --cache-repo "docker://$REG_PLAIN/distill-cache" \
    --tls-verify=false --format json -q
}

step "machine A: empty cache, fills the cache repository"
build "$T/cache-a" "$T/out-a" >"$T/a.json" || fail "build A failed"
packages=$(jq '[.images[0].layers[] | select(.createdBy | startswith("distill: package"))] | length' "$T/a.json")
[ "$packages" -gt 10 ] || fail "expected the curl set's package layers, got $packages"
assert_eq "0" "$(jq .cacheRepo.hits "$T/a.json")" "A finds nothing in an empty cache repository"
stored=$(jq .cacheRepo.stored "$T/a.json")
[ "$stored" -ge "$packages" ] || fail "A stored $stored layers, fewer than its $packages package layers"

step "machine B: another empty cache, rebuilds no package layer"
build "$T/cache-b" "$T/out-b" >"$T/b.json" || fail "build B failed"
assert_eq "0" "$(jq .cacheRepo.misses "$T/b.json")" "B misses nothing"
assert_eq "0" "$(jq .cacheRepo.stored "$T/b.json")" "B builds and stores nothing"
hits=$(jq .cacheRepo.hits "$T/b.json")
[ "$hits" -ge "$packages" ] || fail "B had $hits cache hits for $packages package layers"
assert_eq "$(jq -r .digest "$T/a.json")" "$(jq -r .digest "$T/b.json")" "the same image on both machines"

step "cache entries are images skopeo reads"
tag=$(skopeo list-tags --tls-verify=false "docker://$REG_PLAIN/distill-cache" | jq -r '.Tags[0]')
assert_matches "$tag" '^layer-[0-9a-f]{64}$' "cache tags name the input key"
skopeo inspect --tls-verify=false "docker://$REG_PLAIN/distill-cache:$tag" >/dev/null || fail "skopeo cannot read $tag"

step "an unreachable cache repository only warns"
"$DISTILL" build "$T/image.yaml" -o "oci:$T/out-c:1" --cache-dir "$T/cache-c" \
  --cache-repo "docker://127.0.0.1:9/nowhere" --tls-verify=false -q >"$T/c.out" 2>"$T/c.err" ||
  fail "a build with an unreachable cache repository failed" "$(cat "$T/c.err")"
assert_contains "$(cat "$T/c.err")" "warning" "the unreachable cache repository is reported"
echo "PASS test_registry_cache_repo"

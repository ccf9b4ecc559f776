#!/usr/bin/env bash
# An image of Debian packages, built from the local signed mirror with a
# lockfile: the curl set (curl and its 33 dependencies).
#   - `distill build` uses the lockfile: one layer per locked package; the
#     .debs are fetched over kept-alive connections (a few, not one each);
#     podman (runc) runs curl --version from it; skopeo inspects it and umoci
#     unpacks it;
#   - the unpacked tree holds /var/lib/dpkg/status.d/NAME (+ NAME.md5sums)
#     for every locked package, with its name and version, and no
#     /var/lib/dpkg/status; the files match the packages' md5sums; /bin,
#     /sbin, /lib, /lib64 are only the merged-/usr symlinks, in every layer;
#   - a spec edited after its lock is refused (a message that says what to
#     do, nothing written, lockfile untouched); --update-lock locks again
#     (apt's choice; the kept InRelease revalidated with a 304) and builds;
#   - a second build reuses every layer and gives the same digest; so does a
#     build from a copy in another directory with another umask and TZ and an
#     empty cache.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_mirror.sh"
need_root
need podman runc skopeo umoci jq tar gzip findmnt md5sum
mirror_start

podman_setup
OUT=$PM/out
mkdir -p "$OUT"

D=$T/curl
SPEC=$D/image.yaml
LOCK=$D/image.lock.json
SPEC_EXTRA='entrypoint: [/usr/bin/curl]' pkg_spec "$SPEC" amd64 curl

step "distill lock"
run_expect 0 "$DISTILL" lock "$SPEC"
assert_exists "$LOCK"
N=$(jq_file "$LOCK" '.architectures.amd64.packages | length')
oracle amd64 curl >"$T/apt.curl.txt"
assert_eq "$(cat "$T/apt.curl.txt")" "$(locked_set "$LOCK" amd64)" "the locked curl set is apt's"
CURL_VERSION=$(jq_file "$LOCK" '.architectures.amd64.packages[] | select(.name == "curl") | .version')
note "$N packages, curl $CURL_VERSION"

step "distill build with the lockfile"
served_before=$(wc -l <"$T/mirror.port.log")
distill_build "$SPEC" "oci:$OUT/curl:1" --format json >"$T/b1.json"
assert_contains "$(cat "$T/build.err")" "reading $LOCK" "the build reads the lockfile"
DIGEST=$(jq_file "$T/b1.json" .digest)
assert_matches "$DIGEST" '^sha256:[0-9a-f]{64}$'
# One layer per locked package, named after it, none reused from an empty cache.
jq -r '.architectures.amd64.packages[] | "distill: package \(.name) \(.version)"' "$LOCK" | LC_ALL=C sort >"$T/want.layers"
jq -r '.images[0].layers[].createdBy | select(startswith("distill: package "))' "$T/b1.json" | LC_ALL=C sort >"$T/got.layers"
assert_eq "$(cat "$T/want.layers")" "$(cat "$T/got.layers")" "one layer per locked package (createdBy)"
assert_eq "" "$(jq -r '.images[0].layers[] | select(.reused) | .createdBy' "$T/b1.json")" "layers reused by a build with an empty cache"
for sha in $(jq -r '.architectures.amd64.packages[].sha256' "$LOCK"); do
  assert_exists "$DISTILL_CACHE_DIR/blobs/sha256/$sha" "downloaded .deb $sha in the cache"
done
# The .debs come over kept-alive connections (one per download thread),
# not one connection each: the mirror logs each request's client port.
tail -n +"$((served_before + 1))" "$T/mirror.port.log" | awk '$2 ~ /^\/pool\/.*\.deb$/' >"$T/deb-requests"
deb_requests=$(wc -l <"$T/deb-requests")
deb_connections=$(awk '{ print $6 }' "$T/deb-requests" | sort -u | wc -l)
note "$deb_requests .deb requests over $deb_connections connections"
assert_eq "$N" "$deb_requests" "one request per locked .deb"
[ $((deb_connections * 3)) -le "$deb_requests" ] ||
  fail "the .debs took $deb_connections connections for $deb_requests requests: connections are not kept alive"

step "podman runs curl --version"
"${PODMAN[@]}" run --rm --ulimit nofile=20000:20000 --ulimit nproc=20000:20000 "oci:$OUT/curl:1" --version \
  >"$T/run.out" 2>"$T/run.err" || fail "podman run oci:$OUT/curl:1 --version failed" "$(cat "$T/run.err")" "stdout: $(cat "$T/run.out")"
UPSTREAM=${CURL_VERSION#*:}
UPSTREAM=${UPSTREAM%-*}
assert_matches "$(head -n1 "$T/run.out")" "^curl ${UPSTREAM//./\\.} \(x86_64-pc-linux-gnu\) libcurl/" "first line of curl --version"
assert_contains "$(cat "$T/run.out")" "$CURL_VERSION" "curl --version names the Debian version"
assert_contains "$(cat "$T/run.out")" "OpenSSL/" "curl --version lists its TLS library"

step "skopeo inspect"
skopeo inspect "oci:$OUT/curl:1" >"$T/sk.json" 2>"$T/sk.err" || fail "skopeo inspect failed" "$(cat "$T/sk.err")"
skopeo inspect --config "oci:$OUT/curl:1" >"$T/sk.config" 2>"$T/sk.err" || fail "skopeo inspect --config failed" "$(cat "$T/sk.err")"
assert_jq "$T/sk.json" .Digest "$DIGEST"
assert_jq "$T/sk.json" '.Architecture + "/" + .Os' amd64/linux
assert_jq "$T/sk.json" '.Layers | length' "$(jq_file "$T/b1.json" '.images[0].layers | length')"
assert_jq "$T/sk.config" '.config.Entrypoint | tojson' '["/usr/bin/curl"]'

step "umoci unpack"
umoci unpack --image "$OUT/curl:1" "$T/bundle" >"$T/umoci.log" 2>&1 || fail "umoci unpack failed" "$(cat "$T/umoci.log")"
R=$T/bundle/rootfs
assert_exists "$R/var/lib/dpkg/status.d/curl"
assert_exists "$R/var/lib/dpkg/status.d/curl.md5sums"
assert_absent "$R/var/lib/dpkg/status" "distroless images keep status.d/, not a dpkg status file"
[ -x "$R/usr/bin/curl" ] || fail "usr/bin/curl is not an executable file in the image"
while IFS=$'\t' read -r name version arch; do
  f=$R/var/lib/dpkg/status.d/$name
  assert_exists "$f" "status.d file of locked package $name"
  assert_eq "Package: $name" "$(grep -m1 '^Package: ' "$f")" "status.d/$name Package"
  assert_eq "Version: $version" "$(grep -m1 '^Version: ' "$f")" "status.d/$name Version"
  assert_eq "Architecture: $arch" "$(grep -m1 '^Architecture: ' "$f")" "status.d/$name Architecture"
done < <(jq -r '.architectures.amd64.packages[] | [.name, .version, .architecture] | @tsv' "$LOCK")
assert_eq "$N" "$(find "$R/var/lib/dpkg/status.d" -type f ! -name '*.md5sums' | wc -l)" "status.d files (one per locked package, no more)"
for d in bin sbin lib lib64; do
  assert_eq "usr/$d" "$(readlink "$R/$d")" "/$d is the merged-/usr symlink"
done
# Every file the packages' md5sums list is there with its content; only
# documentation-like paths may be left out.
: >"$T/md5.bad"
: >"$T/md5.missing"
checked=0
for sums in "$R"/var/lib/dpkg/status.d/*.md5sums; do
  while read -r md5 path; do
    if [ -e "$R/$path" ] || [ -L "$R/$path" ]; then
      [ "$(md5sum <"$R/$path" | cut -d' ' -f1)" = "$md5" ] || echo "${sums##*/}: $path" >>"$T/md5.bad"
      checked=$((checked + 1))
    else
      case $path in
        usr/share/doc/* | usr/share/man/* | usr/share/info/* | usr/share/locale/* | usr/share/lintian/*) ;;
        *) echo "${sums##*/}: $path" >>"$T/md5.missing" ;;
      esac
    fi
  done <"$sums"
done
[ ! -s "$T/md5.bad" ] || fail "files whose content differs from the package's md5sums" "$(head -n 20 "$T/md5.bad")"
[ ! -s "$T/md5.missing" ] || fail "files of the packages missing from the image" "$(head -n 20 "$T/md5.missing")"
[ "$checked" -gt 100 ] || fail "expected more than 100 package files checked against md5sums, got $checked"
note "$checked files match their md5sums"

# In the layers themselves: bin, sbin, lib, lib64 appear only as the
# top-level symlinks (one layer), never as directories or with members.
MANIFEST=$(blob_path "$OUT/curl" "$DIGEST")
: >"$T/members"
for l in $(jq -r '.layers[].digest' "$MANIFEST"); do
  tar -tvzf "$(blob_path "$OUT/curl" "$l")" >>"$T/members" || fail "layer $l is not a gzip tar"
done
bad=$(awk '{ n = $6; sub(/^\.?\//, "", n); if (n ~ /^(bin|sbin|lib|lib64)(\/|$)/) print }' "$T/members" |
  grep -vE '^l[^ ]+ +[^ ]+ +0 [^ ]+ [^ ]+ (bin|sbin|lib|lib64) -> usr/(bin|sbin|lib|lib64)$' || true)
assert_eq "" "$bad" "layer members under /bin, /sbin, /lib or /lib64 other than the merged-/usr symlinks"
assert_eq 4 "$(grep -cE ' (bin|sbin|lib|lib64) -> usr/' "$T/members")" "the four merged-/usr symlinks, once each"
assert_eq "" "$(awk '{ print $6 }' "$T/members" | grep -E '^(\./|/)' || true)" "layer member names must be relative, without ./"
assert_eq "" "$(awk '$6 == "var/lib/dpkg/status"' "$T/members")" "no layer carries var/lib/dpkg/status"

step "a spec changed since its lock is refused without --update-lock"
E=$T/edited
cp -a "$D" "$E"
cp "$E/image.lock.json" "$T/lock.before"
sed -i 's/^  packages: .*/  packages: ["curl", "ca-certificates"]/' "$E/image.yaml"
run_expect 1 "$DISTILL" build "$E/image.yaml" -o "oci:$OUT/edited:1"
assert_contains "$RUN_ERR" "$E/image.yaml changed since $E/image.lock.json" "the message names the spec and its lockfile"
assert_contains "$RUN_ERR" "distill lock" "the message says how to refresh the lock"
assert_contains "$RUN_ERR" "--update-lock" "the message names --update-lock"
assert_absent "$OUT/edited" "a refused build writes nothing at the destination"
assert_same_bytes "$T/lock.before" "$E/image.lock.json" "a refused build leaves the lockfile alone"
# Also for archs and repositories.
cp "$D/image.yaml" "$E/image.yaml"
sed -i 's/^archs: .*/archs: [amd64, arm64]/' "$E/image.yaml"
run_expect 1 "$DISTILL" build "$E/image.yaml" -o "oci:$OUT/edited:1"
assert_contains "$RUN_ERR" "changed since" "archs changed since the lock"
assert_absent "$OUT/edited"
cp "$D/image.yaml" "$E/image.yaml"
sed -i 's/^  packages: .*/  packages: ["curl", "ca-certificates"]/' "$E/image.yaml"

step "--update-lock locks again and builds"
served_before=$(wc -l <"$T/mirror.port.log")
distill_build "$E/image.yaml" "oci:$OUT/edited:1" --update-lock --format json >"$T/b-edited.json"
# The InRelease kept from the first lock is only revalidated, as apt does.
assert_eq "304" "$(tail -n +"$((served_before + 1))" "$T/mirror.port.log" | awk '$2 == "/dists/trixie/InRelease" { print $3 }')" \
  "the InRelease of a suite the cache has seen is asked for conditionally (304)"
assert_exists "$OUT/edited/index.json" "the --update-lock build wrote the image"
assert_ne "$(jq -r .inputs "$T/lock.before")" "$(jq_file "$E/image.lock.json" .inputs)" "the lockfile's inputs after --update-lock"
oracle amd64 curl ca-certificates >"$T/apt.edited.txt"
assert_eq "$(cat "$T/apt.edited.txt")" "$(locked_set "$E/image.lock.json" amd64)" "the refreshed lock is apt's choice for curl + ca-certificates"
assert_contains "$(jq -r '.images[0].layers[].createdBy' "$T/b-edited.json")" "distill: package ca-certificates " "a layer for the added package"
# And the refreshed lock is then used as it is.
cp "$E/image.lock.json" "$T/lock.updated"
distill_build "$E/image.yaml" "oci:$OUT/edited2:1" --format json >"$T/b-edited2.json"
assert_same_bytes "$T/lock.updated" "$E/image.lock.json" "a build with a current lockfile leaves it alone"
assert_jq "$T/b-edited2.json" .digest "$(jq_file "$T/b-edited.json" .digest)" "same image from the refreshed lockfile"

step "a second build reuses every layer and gives the same digest"
distill_build "$SPEC" "oci:$OUT/again:1" --format json >"$T/b2.json"
assert_jq "$T/b2.json" .digest "$DIGEST" "digest of a second build"
assert_eq "" "$(jq -r '.images[0].layers[] | select(.reused | not) | .createdBy' "$T/b2.json")" "layers not reused by the second build"
distill_build "$SPEC" "oci:$OUT/curl:1" --format json >"$T/b3.json"
assert_jq "$T/b3.json" .digest "$DIGEST" "digest of a rebuild into the same layout and tag"

step "another directory, umask 077, another TZ, an empty cache: same digest"
mkdir -p "$T/elsewhere/deeper"
cp -a "$D" "$T/elsewhere/deeper/spec"
(
  cd "$T/elsewhere"
  umask 077
  TZ=Pacific/Chatham DISTILL_CACHE_DIR=$T/cache-fresh "$DISTILL" build deeper/spec/image.yaml -o "oci:$OUT/elsewhere:1" --format json >"$T/b4.json" 2>"$T/b4.err"
) || fail "the build in another directory failed" "$(cat "$T/b4.err")"
assert_jq "$T/b4.json" .digest "$DIGEST" "digest of a build elsewhere with an empty cache, umask 077 and TZ=Pacific/Chatham"
assert_eq "" "$(jq -r '.images[0].layers[] | select(.createdBy | startswith("distill: package ")) | select(.reused) | .createdBy' "$T/b4.json")" \
  "package layers reused from an empty cache"
(
  cd /
  umask 000
  TZ=America/St_Johns DISTILL_CACHE_DIR=$T/cache-fresh2 "$DISTILL" build "$T/elsewhere/deeper/spec/image.yaml" -o "oci:$OUT/elsewhere2:1" --format json >"$T/b5.json" 2>"$T/b5.err"
) || fail "the build with umask 000 failed" "$(cat "$T/b5.err")"
assert_jq "$T/b5.json" .digest "$DIGEST" "digest of a build with umask 000, TZ=America/St_Johns and an empty cache"

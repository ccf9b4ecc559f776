#!/usr/bin/env bash
# Hostile or broken repositories and impossible requests. Each must end
# distill with exit status 1 and a message that names what is wrong (the
# file, the package, the field), and write nothing: no lockfile (an existing
# one is left as it was), nothing at the build's destination, no bad blob in
# the cache. Tampered mirrors are private copies of the local mirror, served
# on ports of their own:
#   - InRelease changed by one character after signing; Release changed with
#     no InRelease (Release.gpg path);
#   - Packages.gz replaced (sha256 and size differ from the signed Release),
#     and Packages.xz on a mirror whose Release lists only it;
#   - a .deb of the pool changed (same size), truncated, or missing;
#   - the wrong keyring, by signed-by and by contents.keyring; no keyring at
#     all where the default Debian keyring cannot verify the mirror;
#   - an expired Release (refused; accepted with --allow-expired);
#   - a properly signed index with a path-traversal Filename, and a signed
#     Release without SHA256 sums;
#   - a signed Release of another suite (Suite/Codename bookworm served as
#     trixie: a downgrade, which apt reports as "Conflicting distribution");
#   - .debs listed in a signed index with their true sha256 whose data.tar
#     leaves the root (../), hardlinks out of the root, or makes a device;
#   - an unknown package, an unsatisfiable pin.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_mirror.sh"
need jq cmp python3
mirror_start

# new_case NAME [PACKAGE...]: a case directory with a spec (REPO_URL,
# REPO_KEYRING, SPEC_BODY override), an empty destination parent and a
# distill cache of its own (a blob cached by an earlier case would hide a
# tampered download). Sets C (its directory), CS (spec), CL (lockfile), CD
# (destination dir).
new_case() {
  local name=$1
  shift
  C=$T/case-$name
  export DISTILL_CACHE_DIR=$C/cache
  CS=$C/image.yaml
  CL=$C/image.lock.json
  CD=$C/dest/image
  mkdir -p "$C/dest"
  if [ -n "${SPEC_BODY:-}" ]; then
    printf '%s\n' "$SPEC_BODY" >"$CS"
  else
    pkg_spec "$CS" amd64 "${@:-curl}"
  fi
}

# check_message TEXT NEEDLE...: the error names every NEEDLE, is one
# "distill: error:" line, and is no crash.
check_message() {
  local text=$1
  shift
  assert_contains "$text" "distill: error: " "distill's error line"
  assert_not_contains "$text" "internal error" "an error message, not a crash"
  local n
  for n in "$@"; do assert_contains "$text" "$n" "the message must name '$n'"; done
}

# lock_fails NEEDLE...: distill lock of the case's spec exits 1 and writes no
# lockfile (or leaves an existing one as it was).
lock_fails() {
  local before=
  if [ -e "$CL" ]; then before=$C/lock.before; cp "$CL" "$before"; fi
  run_expect 1 "$DISTILL" lock "$CS"
  check_message "$RUN_ERR" "$@"
  printf '%s\n' "$RUN_ERR" | grep 'distill: error' | sed "s|^|    [${C##*/case-} lock] |" >&2
  if [ -n "$before" ]; then
    assert_same_bytes "$before" "$CL" "a failed lock must leave the existing lockfile as it was"
  else
    assert_absent "$CL" "a failed lock must write no lockfile"
  fi
  assert_eq "" "$(find "$C" -mindepth 1 -maxdepth 1 \( -name '.*' -o -name '*.tmp*' \))" "temporary files left beside the spec"
}

# build_fails [ARGS...] -- NEEDLE...: distill build exits 1; nothing at or
# beside the destination.
build_fails() {
  local args=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
  shift
  run_expect 1 "$DISTILL" build "$CS" -o "oci:$CD:1" ${args[@]+"${args[@]}"}
  check_message "$RUN_ERR" "$@"
  assert_absent "$CD" "a failed build must write nothing at the destination"
  assert_dir_empty "$C/dest" "a failed build must leave nothing beside the destination"
}

# flip_byte FILE OFFSET: change one byte (same size).
flip_byte() {
  python3 - "$1" "$2" <<'EOF'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0x20]))
EOF
}

# files_with_sha CACHE SIZE SHA: prints files in CACHE of SIZE bytes whose
# sha256 is SHA.
files_with_sha() {
  find "$1" -type f -size "$2c" -print0 | xargs -0 -r sha256sum | awk -v s="$3" '$1 == s { print $2 }'
}

step "InRelease changed by one character after signing"
inrelease_altered() {
  local m=$T/m-inrelease
  mirror_copy "$m"
  sed -i 's/^Description: distill test mirror/Description: distill test mirrox/' "$m/dists/trixie/InRelease"
  assert_eq 1 "$(cmp -l "$MIRROR_DIR/dists/trixie/InRelease" "$m/dists/trixie/InRelease" | wc -l)" "bytes changed in InRelease"
  mirror_serve "$m" m-inrelease
  REPO_URL=$SERVED_URL new_case inrelease
  lock_fails "$SERVED_URL trixie InRelease" "signature"
  build_fails -- "InRelease" "signature"
  # An existing lockfile stays as it was.
  REPO_URL=$SERVED_URL pkg_spec "$CS" amd64 curl
  printf '{"lockfileVersion":1,"inputs":"sha256:%064d","architectures":{}}\n' 0 >"$CL"
  lock_fails "InRelease" "signature"
}
soft "InRelease altered" inrelease_altered

step "no InRelease: Release.gpg verifies Release; a changed Release is refused"
release_gpg() {
  local m=$T/m-release
  mirror_copy "$m"
  rm "$m/dists/trixie/InRelease"
  mirror_serve "$m" m-release
  local url=$SERVED_URL
  # Unchanged: accepted, with the same packages as from InRelease.
  REPO_URL=$url new_case release-ok
  run_expect 0 "$DISTILL" lock "$CS"
  oracle amd64 curl >"$C/apt.txt"
  assert_eq "$(cat "$C/apt.txt")" "$(locked_set "$CL" amd64)" "curl locked from a Release + Release.gpg mirror"
  # Changed by one character: refused.
  sed -i 's/^Description: distill test mirror/Description: distill test mirrox/' "$m/dists/trixie/Release"
  REPO_URL=$url new_case release-altered
  lock_fails "$url trixie Release" "signature"
}
soft "Release altered" release_gpg

step "Packages.gz / Packages.xz replaced (sha256 and size differ from the signed Release)"
# replace_index DIR NAME COMPRESSOR: serves a tampered NAME (Packages.gz or
# Packages.xz) of the copy DIR under its plain path and under the by-hash
# path of the signed sha256 (which distill uses with Acquire-By-Hash: yes).
# Sets OLD (the signed sha256) and NEW (the served one).
replace_index() {
  local b=$1/dists/trixie/main/binary-amd64 name=$2
  OLD=$(sha256sum <"$b/$name" | cut -d' ' -f1)
  # A plausible attack: a newer curl version offered (and one more line).
  sed 's/^Package: curl$/Package: curl\nX-Injected: yes/' "$b/Packages" | $3 >"$b/$name.new"
  NEW=$(sha256sum <"$b/$name.new" | cut -d' ' -f1)
  assert_ne "$OLD" "$NEW"
  cp "$b/$name.new" "$b/$name"
  cp "$b/$name.new" "$b/by-hash/SHA256/$OLD"
  rm "$b/$name.new"
}
packages_replaced() {
  # distill reads Packages.gz where the Release lists it (decoding gzip is
  # faster than the download it adds).
  local m=$T/m-packages
  mirror_copy "$m"
  replace_index "$m" Packages.gz "gzip -9n"
  mirror_serve "$m" m-packages
  REPO_URL=$SERVED_URL new_case packages
  lock_fails "main/binary-amd64/Packages.gz" "sha256" "$OLD"
  build_fails -- "Packages.gz" "sha256"
  assert_eq "" "$(find "$DISTILL_CACHE_DIR" -type f -name "$NEW")" "the tampered index must not stay in the cache as a blob"
}
soft "Packages.gz replaced" packages_replaced
packages_xz_only() {
  # A mirror whose signed Release lists only Packages.xz: distill reads it
  # (the same packages as from Packages.gz) and refuses a replaced one.
  local m=$T/m-xz-only
  mirror_copy "$m"
  RELEASE_FILTER='/Packages\.gz$/d' mirror_resign "$m"
  if grep -q 'Packages\.gz$' "$m/dists/trixie/Release"; then fail "the xz-only Release still lists Packages.gz"; fi
  mirror_serve "$m" m-xz-only
  local url=$SERVED_URL
  REPO_URL=$url new_case xz-only
  run_expect 0 "$DISTILL" lock "$CS"
  oracle amd64 curl >"$C/apt.txt"
  assert_eq "$(cat "$C/apt.txt")" "$(locked_set "$CL" amd64)" "curl locked from a mirror with only Packages.xz"
  replace_index "$m" Packages.xz "xz -6e -T1"
  REPO_URL=$url new_case xz-replaced
  lock_fails "main/binary-amd64/Packages.xz" "sha256" "$OLD"
  build_fails -- "Packages.xz" "sha256"
  assert_eq "" "$(find "$DISTILL_CACHE_DIR" -type f -name "$NEW")" "the tampered index must not stay in the cache as a blob"
}
soft "Packages.xz replaced on an xz-only mirror" packages_xz_only

step "a .deb of the pool changed (same size), truncated, missing"
deb_corrupt() {
  local m=$T/m-deb
  mirror_copy "$m"
  mirror_serve "$m" m-deb
  local url=$SERVED_URL
  REPO_URL=$url new_case deb-corrupt
  run_expect 0 "$DISTILL" lock "$CS"
  local name=libssl3t64 version file sha size
  version=$(jq_file "$CL" ".architectures.amd64.packages[] | select(.name == \"$name\") | .version")
  file=$(jq_file "$CL" ".architectures.amd64.packages[] | select(.name == \"$name\") | .filename")
  sha=$(jq_file "$CL" ".architectures.amd64.packages[] | select(.name == \"$name\") | .sha256")
  size=$(stat -c %s "$m/$file")
  flip_byte "$m/$file" $((size / 2))
  assert_eq "$size" "$(stat -c %s "$m/$file")" "the changed .deb keeps its size"
  local bad
  bad=$(sha256sum "$m/$file" | cut -d' ' -f1)
  assert_ne "$sha" "$bad"
  local cache=$C/cache
  DISTILL_CACHE_DIR=$cache build_fails -- "$name $version" "sha256" "$file"
  assert_absent "$cache/blobs/sha256/$sha" "no blob under the expected digest of the corrupt .deb"
  assert_eq "" "$(files_with_sha "$cache" "$size" "$bad")" "the corrupt download must not stay in the cache"
  # The mirror repaired, the same cache builds: nothing bad was kept.
  cp -p "$MIRROR_DIR/$file" "$m/$file"
  DISTILL_CACHE_DIR=$cache run_expect 0 "$DISTILL" build "$CS" -o "oci:$CD:1"
  assert_exists "$cache/blobs/sha256/$sha" "the good .deb in the cache after the repair"
  rm -rf "$CD"
  # Changed in the cache after a good download: the layer that reads it
  # (rebuilt with --no-cache) finds out and names the file to delete.
  cp -p "$cache/blobs/sha256/$sha" "$C/good.deb"
  flip_byte "$cache/blobs/sha256/$sha" $((size / 2))
  DISTILL_CACHE_DIR=$cache build_fails --no-cache -- "$name $version" "does not match its sha256" \
    "$cache/blobs/sha256/$sha"
  cp -p "$C/good.deb" "$cache/blobs/sha256/$sha"

  # Truncated: size and sha256 differ.
  head -c $((size - 1000)) "$MIRROR_DIR/$file" >"$m/$file"
  DISTILL_CACHE_DIR=$C/cache2 build_fails -- "$name $version" "$file"
  assert_absent "$C/cache2/blobs/sha256/$sha"
  # Missing: HTTP 404.
  rm "$m/$file"
  DISTILL_CACHE_DIR=$C/cache3 build_fails -- "$name $version" "404"
  cp -p "$MIRROR_DIR/$file" "$m/$file"
}
soft ".deb corrupt" deb_corrupt

step "the wrong keyring"
wrong_keyring() {
  REPO_KEYRING=$WRONG_KEYRING new_case wrong-signed-by
  lock_fails "InRelease" "signature" "$WRONG_KEYRING"
  build_fails -- "InRelease" "$WRONG_KEYRING"
  SPEC_BODY="contents:
  repositories: [\"deb $MIRROR_URL trixie main\"]
  keyring: [$WRONG_KEYRING]
  packages: [curl]
archs: [amd64]" new_case wrong-contents-keyring
  lock_fails "InRelease" "signature" "$WRONG_KEYRING"
}
soft "wrong keyring" wrong_keyring

step "no keyring: the default Debian keyring does not verify the mirror"
no_keyring() {
  SPEC_BODY="contents:
  repositories: [\"deb $MIRROR_URL trixie main\"]
  packages: [curl]
archs: [amd64]" new_case no-keyring
  if [ -f /usr/share/keyrings/debian-archive-keyring.gpg ]; then
    lock_fails "$MIRROR_URL trixie InRelease" "signature" "/usr/share/keyrings/debian-archive-keyring.gpg"
  else
    lock_fails "$MIRROR_URL trixie InRelease" "keyring"
  fi
  build_fails -- "InRelease"
}
soft "no keyring" no_keyring

step "an expired Release"
expired() {
  mirror_expired_start
  REPO_URL=$EXPIRED_URL REPO_KEYRING=$EXPIRED_KEYRING new_case expired
  lock_fails "$EXPIRED_URL trixie" "Valid-Until" "expired" "--allow-expired"
  build_fails -- "Valid-Until" "expired"
  run_expect 0 "$DISTILL" lock "$CS" --allow-expired
  assert_exists "$CL" "distill lock --allow-expired writes the lockfile"
  oracle amd64 curl >"$C/apt.txt"
  assert_eq "$(cat "$C/apt.txt")" "$(locked_set "$CL" amd64)" "curl locked from the expired mirror with --allow-expired"
  # The lockfile pins the files: the build downloads them by sha256.
  run_expect 0 "$DISTILL" build "$CS" -o "oci:$CD:1"
  rm -rf "$CD" "$CL"
  run_expect 0 "$DISTILL" build "$CS" -o "oci:$CD:1" --allow-expired
}
soft "expired" expired

step "a signed index with a path-traversal Filename"
unsafe_filename() {
  local m=$T/m-traversal
  mirror_copy "$m"
  sed -i 's#^Filename: pool/main/c/curl/curl_#Filename: pool/../../../../../../tmp/e2e-evil/curl_#' \
    "$m/dists/trixie/main/binary-amd64/Packages"
  grep -q '^Filename: pool/\.\./' "$m/dists/trixie/main/binary-amd64/Packages" || fail "the Filename edit did not apply"
  mirror_resign "$m"
  mirror_serve "$m" m-traversal
  REPO_URL=$SERVED_URL new_case traversal
  lock_fails "curl" "Filename"
  build_fails -- "curl" "Filename"
}
soft "unsafe Filename" unsafe_filename

step "a signed Release without SHA256 sums"
no_sha256() {
  local m=$T/m-nosha
  mirror_copy "$m"
  # shellcheck disable=SC2016 # a sed script
  RELEASE_FILTER='/^SHA256:/,$d' mirror_resign "$m"
  grep -q '^MD5Sum:' "$m/dists/trixie/Release" || fail "the re-signed Release lost its MD5Sum section"
  mirror_serve "$m" m-nosha
  REPO_URL=$SERVED_URL new_case no-sha256
  lock_fails "SHA256"
}
soft "Release without SHA256" no_sha256

step "an unknown package"
unknown() {
  new_case unknown curl no-such-package-e2e
  lock_fails "no-such-package-e2e"
  build_fails -- "no-such-package-e2e"
  new_case unknown-excluded curl '!no-such-package-e2e'
  lock_fails "no-such-package-e2e"
}
soft "unknown package" unknown

step "an unsatisfiable pin"
bad_pin() {
  new_case pin curl=0.0.1
  local offered
  offered=$(index_versions "$MIRROR_DIR" amd64 curl)
  [ -n "$offered" ] || fail "curl is not in the mirror's index"
  # shellcheck disable=SC2086 # one needle per offered version
  lock_fails "curl" "0.0.1" $offered
  build_fails -- "curl" "0.0.1"
}
soft "unsatisfiable pin" bad_pin

step "a signed Release of another suite (bookworm served as trixie)"
other_suite() {
  local m=$T/m-suite
  mkdir -p "$m"
  cp -a "$MIRROR_DIR/dists" "$m/"
  sed -i 's/^Suite: trixie$/Suite: bookworm/; s/^Codename: trixie$/Codename: bookworm/' "$m/dists/trixie/Release"
  mirror_resign "$m"
  grep -q '^Codename: bookworm$' "$m/dists/trixie/InRelease" || fail "the re-signed InRelease does not say bookworm"
  mirror_serve "$m" m-suite
  REPO_URL=$SERVED_URL new_case other-suite
  lock_fails "trixie" "bookworm"
}
soft "Release of another suite" other_suite

# make_deb OUT NAME KIND: a .deb whose data.tar is hostile:
#   traversal  a file ./../../../../tmp/e2e-distill-escape-$$
#   hardlink   ./usr/bin/e2e-link, a hardlink to ../../../../etc/passwd
#   device     ./dev/e2e-null, a character device 1:3
make_deb() {
  python3 - "$1" "$2" "$3" "/tmp/e2e-distill-escape-$$" <<'PY'
import io, sys, tarfile
out, name, kind, escape = sys.argv[1:5]

def tar(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for info, data in members:
            info.mtime = 0
            if data is not None:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            else:
                t.addfile(info)
    return buf.getvalue()

def entry(path, kind, **kw):
    i = tarfile.TarInfo(path)
    i.type = kind
    for k, v in kw.items():
        setattr(i, k, v)
    return i

control = ("Package: %s\nVersion: 1\nArchitecture: amd64\nMaintainer: e2e <e2e@example.invalid>\n"
           "Installed-Size: 1\nDescription: hostile test package\n" % name).encode()
ctl = tar([(entry("./", tarfile.DIRTYPE, mode=0o755), None), (entry("./control", tarfile.REGTYPE, mode=0o644), control)])
members = [(entry("./", tarfile.DIRTYPE, mode=0o755), None), (entry("./usr/", tarfile.DIRTYPE, mode=0o755), None),
           (entry("./usr/bin/", tarfile.DIRTYPE, mode=0o755), None),
           (entry("./usr/bin/e2e-ok", tarfile.REGTYPE, mode=0o755), b"#!/bin/sh\n")]
if kind == "traversal":
    members.append((entry("./../../../.." + escape, tarfile.REGTYPE, mode=0o644), b"escaped\n"))
elif kind == "hardlink":
    members.append((entry("./usr/bin/e2e-link", tarfile.LNKTYPE, linkname="../../../../etc/passwd", mode=0o644), None))
elif kind == "device":
    members.append((entry("./dev/", tarfile.DIRTYPE, mode=0o755), None))
    members.append((entry("./dev/e2e-null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666), None))
data = tar(members)

def ar_member(name, data):
    head = "%-16s%-12d%-6d%-6d%-8o%-10d`\n" % (name, 0, 0, 0, 0o100644, len(data))
    return head.encode() + data + (b"\n" if len(data) % 2 else b"")

with open(out, "wb") as f:
    f.write(b"!<arch>\n" + ar_member("debian-binary", b"2.0\n") + ar_member("control.tar", ctl) + ar_member("data.tar", data))
PY
}

step "signed .debs whose contents leave the root or make devices"
hostile_debs() {
  local m=$T/m-debs kind name deb sha size
  mkdir -p "$m/pool/main/e"
  cp -a "$MIRROR_DIR/dists" "$m/"
  for kind in traversal hardlink device; do
    name=e2e-evil-$kind
    deb=pool/main/e/${name}_1_amd64.deb
    make_deb "$m/$deb" "$name" "$kind"
    sha=$(sha256sum "$m/$deb" | cut -d' ' -f1)
    size=$(stat -c %s "$m/$deb")
    printf 'Package: %s\nVersion: 1\nArchitecture: amd64\nMaintainer: e2e <e2e@example.invalid>\nInstalled-Size: 1\nPriority: optional\nSection: misc\nFilename: %s\nSize: %s\nSHA256: %s\nDescription: hostile test package\n\n' \
      "$name" "$deb" "$size" "$sha" >>"$m/dists/trixie/main/binary-amd64/Packages"
  done
  mirror_resign "$m"
  mirror_serve "$m" m-debs
  local url=$SERVED_URL
  for kind in traversal hardlink device; do
    name=e2e-evil-$kind
    REPO_URL=$url new_case "deb-$kind" "$name"
    run_expect 0 "$DISTILL" lock "$CS"
    case $kind in
      traversal) build_fails -- "$name 1" "leaves the root" ;;
      hardlink) build_fails -- "$name 1" "leaves the root" ;;
      device) build_fails -- "$name 1" "device" ;;
    esac
    printf '%s\n' "$RUN_ERR" | grep 'distill: error' | sed "s|^|    [$kind build] |" >&2
  done
  assert_absent "/tmp/e2e-distill-escape-$$" "a path outside the root must never be written"
  # Relative to distill's cache or the spec, ../../../../tmp/... lands in /tmp.
  find /tmp -xdev -name "e2e-distill-escape-$$" 2>/dev/null | head -n 3 >"$T/escaped"
  assert_eq "" "$(cat "$T/escaped")" "files written outside the root by a hostile .deb"
}
soft "hostile .debs" hostile_debs

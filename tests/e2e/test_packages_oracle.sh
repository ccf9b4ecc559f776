#!/usr/bin/env bash
# distill's package solver against apt's: for every package set of
# tests/mirror (DM_PACKAGE_SETS, amd64 and, where the mirror has their
# closure, arm64), plus python3 with !debconf, exclusions, pins and
# name:ARCH requests, `distill lock` on a spec that points only at the local
# signed mirror must pin exactly the name:arch=version set that
# `apt-get install --simulate --no-install-recommends` picks there
# (tests/mirror/apt-oracle.sh; arch as in the Packages file, "all" for
# arch-independent packages). Each locked entry must carry the URL, size and
# sha256 of the mirror's record. Also: locking twice gives byte-identical
# lockfiles; the repository written as a one-line entry, with
# contents.keyring, an armored keyring, deb822 text or a YAML mapping gives the
# same lockfile; a two-architecture lock gives each architecture the apt set
# and the same versions to common packages; `distill why` prints a chain from
# a deep dependency up to a requested package (text and json) and exits 1
# for a package that is not in the image; a request whose every package is
# excluded still locks its architecture (no packages) and builds.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_mirror.sh"
need jq
mirror_start

# Cases: NAME ARCH PACKAGE...
CASES=()
while read -r name archs pkgs; do
  for a in ${archs//,/ }; do CASES+=("$name $a $pkgs"); done
done < <(. "$MIRROR_SCRIPTS/lib.sh" && dm_sets)
[ ${#CASES[@]} -ge 15 ] || fail "tests/mirror/lib.sh lists fewer package sets than expected" "${CASES[@]}"
LIBC_VERSION=$(index_versions "$MIRROR_DIR" amd64 libc6 | head -n1)
[ -n "$LIBC_VERSION" ] || fail "libc6 is not in the mirror's amd64 index"
CASES+=(
  "python3-nodebconf amd64 python3.13-minimal libpython3.13-stdlib ca-certificates !debconf"
  "python3-nodebconf arm64 python3.13-minimal libpython3.13-stdlib ca-certificates !debconf"
  "python3-full-nodebconf amd64 python3 !debconf"
  "curl-nolibc amd64 curl !libc6"
  "curl-nolibssl amd64 curl !libssl3t64"
  "git-noperl amd64 git !perl-base"
  "perl-excluded amd64 perl-base !perl-base"
  "redis-noc amd64 redis-server !libc6 !libssl3t64"
  "curl-archqual amd64 curl:amd64"
  "busybox-archqual arm64 busybox-static:arm64"
  "tzdata-archall amd64 base-files tzdata:all"
  "curl-pinned-libc amd64 libc6=$LIBC_VERSION curl"
  "union amd64 nginx curl git sqlite3"
)

# check_lock_records LOCKFILE ARCH: every entry is the mirror's record
# (filename, size, sha256, architecture) and its URL is the mirror's.
check_lock_records() {
  local lock=$1 arch=$2 bad
  index_tsv "$MIRROR_DIR" "$arch" >"$T/index.$arch.tsv"
  jq -r --arg a "$arch" '.architectures[$a].packages[] |
      [.name, .version, .architecture, .filename, (.size | tostring), .sha256] | @tsv' "$lock" |
    LC_ALL=C sort >"$T/lock.$arch.tsv"
  bad=$(LC_ALL=C comm -23 "$T/lock.$arch.tsv" "$T/index.$arch.tsv")
  [ -z "$bad" ] || fail "lockfile entries ($arch) that are not records of the mirror's index (name version arch filename size sha256)" \
    "$bad" "the index has:" "$(awk -F '\t' 'NR == FNR { n[$1] = 1; next } n[$1]' <(printf '%s\n' "$bad") "$T/index.$arch.tsv" | head -n 20)"
  bad=$(jq -r --arg a "$arch" --arg m "$MIRROR_URL/" '.architectures[$a].packages[] | select(.url != $m + .filename) |
      "\(.name): \(.url)"' "$lock")
  assert_eq "" "$bad" "lockfile URLs ($arch) must be the mirror URL + Filename"
}

# one_case NAME ARCH PACKAGE...: distill lock == apt oracle.
one_case() {
  local name=$1 arch=$2
  shift 2
  local dir=$T/sets/$name.$arch spec
  spec=$dir/image.yaml
  pkg_spec "$spec" "$arch" "$@"
  run_expect 0 "$DISTILL" lock "$spec"
  local lock
  lock=$(lockfile_of "$spec")
  assert_exists "$lock" "distill lock writes the lockfile beside the spec"
  assert_jq "$lock" '.lockfileVersion' 1
  assert_jq "$lock" '.architectures | keys | join(",")' "$arch" "architectures of the lockfile"
  locked_set "$lock" "$arch" >"$dir/distill.txt"
  oracle "$arch" "$@" >"$dir/apt.txt"
  if ! cmp -s "$dir/apt.txt" "$dir/distill.txt"; then
    fail "[$name/$arch: $*] distill's lock differs from apt's choice" \
      "apt ($(wc -l <"$dir/apt.txt") packages) vs distill ($(wc -l <"$dir/distill.txt") packages):" \
      "$(diff -u --label apt --label distill "$dir/apt.txt" "$dir/distill.txt" | tail -n +3)"
  fi
  # Excluded packages are listed as such, never locked.
  local p ex=()
  for p in "$@"; do [ "${p#!}" = "$p" ] || ex+=("${p#!}"); done
  assert_eq "$(printf '%s\n' ${ex[@]+"${ex[@]}"} | LC_ALL=C sort | sed '/^$/d')" \
    "$(jq -r --arg a "$arch" '.architectures[$a].excluded[]' "$lock" | LC_ALL=C sort)" "excluded list of $name/$arch"
  check_lock_records "$lock" "$arch"
  # Byte-identical when locked again; --format json prints the same document.
  cp "$lock" "$dir/first.lock.json"
  run_expect 0 "$DISTILL" lock "$spec" --format json
  assert_same_bytes "$dir/first.lock.json" "$lock" "[$name/$arch] a second distill lock must give a byte-identical lockfile"
  assert_eq "$(jq -S . "$lock")" "$(jq -S . "$T/last.out")" "[$name/$arch] lock --format json prints the lockfile"
  note "$name/$arch: $(wc -l <"$dir/distill.txt") packages, same as apt"
}

step "distill lock vs apt on ${#CASES[@]} requests"
for c in "${CASES[@]}"; do
  # shellcheck disable=SC2086 # word splitting of the case line is intended
  soft "oracle: $c" one_case $c
done

step "the repository written five ways gives the same lockfile"
repo_forms() {
  local d=$T/forms
  mkdir -p "$d"
  pkg_spec "$d/oneline.yaml" amd64 curl ca-certificates
  cat >"$d/keyring.yaml" <<EOF
contents:
  repositories: ["deb $MIRROR_URL trixie main"]
  keyring: [$MIRROR_KEYRING]
  packages: [curl, ca-certificates]
archs: [amd64]
EOF
  cat >"$d/armored.yaml" <<EOF
contents:
  repositories: ["deb [signed-by=$MIRROR_KEYRING_ASC] $MIRROR_URL trixie main"]
  packages: [curl, ca-certificates]
archs: [amd64]
EOF
  cat >"$d/deb822.yaml" <<EOF
contents:
  repositories:
    - |
      Types: deb
      URIs: $MIRROR_URL
      Suites: trixie
      Components: main
      Signed-By: $MIRROR_KEYRING
  packages: [curl, ca-certificates]
archs: [amd64]
EOF
  cat >"$d/mapping.yaml" <<EOF
contents:
  repositories:
    - Types: deb
      URIs: $MIRROR_URL
      Suites: trixie
      Components: [main]
      Signed-By: $MIRROR_KEYRING
  packages: [curl, ca-certificates]
archs: [amd64]
EOF
  local f
  for f in oneline keyring armored deb822 mapping; do
    run_expect 0 "$DISTILL" lock "$d/$f.yaml"
  done
  oracle amd64 curl ca-certificates >"$d/apt.txt"
  locked_set "$d/oneline.lock.json" amd64 >"$d/distill.txt"
  assert_eq "$(cat "$d/apt.txt")" "$(cat "$d/distill.txt")" "curl + ca-certificates: distill vs apt"
  for f in keyring armored deb822 mapping; do
    assert_same_bytes "$d/oneline.lock.json" "$d/$f.lock.json" "the $f form of the repository must give the lockfile of the one-line form"
  done
}
soft "repository forms" repo_forms

step "two architectures in one lock"
multi_arch() {
  local name=$1
  shift
  local d=$T/multi/$name spec
  spec=$d/image.yaml
  pkg_spec "$spec" amd64,arm64 "$@"
  run_expect 0 "$DISTILL" lock "$spec"
  local lock=$d/image.lock.json a
  assert_jq "$lock" '.architectures | keys | join(",")' "amd64,arm64"
  for a in amd64 arm64; do
    oracle "$a" "$@" >"$d/apt.$a.txt"
    locked_set "$lock" "$a" >"$d/distill.$a.txt"
    cmp -s "$d/apt.$a.txt" "$d/distill.$a.txt" ||
      fail "[$name, archs amd64+arm64] the $a part differs from apt's choice for $a" \
        "$(diff -u --label apt --label distill "$d/apt.$a.txt" "$d/distill.$a.txt" | tail -n +3)"
    check_lock_records "$lock" "$a"
    # Only packages of that architecture (or all) in its list.
    assert_eq "" "$(jq -r --arg a "$a" '.architectures[$a].packages[] | select(.architecture != $a and .architecture != "all") | .name' "$lock")" \
      "packages of another architecture in the $a list"
  done
  # Common packages: the same version on both.
  local differ
  differ=$(jq -r '(.architectures.amd64.packages | map({(.name): .version}) | add) as $x |
      .architectures.arm64.packages[] | select($x[.name] != null and $x[.name] != .version) |
      "\(.name): amd64 \($x[.name]) arm64 \(.version)"' "$lock")
  assert_eq "" "$differ" "[$name] versions of packages common to amd64 and arm64"
  local common
  common=$(comm -12 <(sed 's/:[^=]*=/=/' "$d/distill.amd64.txt") <(sed 's/:[^=]*=/=/' "$d/distill.arm64.txt") | wc -l)
  [ "$common" -ge 5 ] || [ "$name" = busybox ] || fail "[$name] expected the two architectures to share packages, got $common"
  cp "$lock" "$d/first.json"
  run_expect 0 "$DISTILL" lock "$spec"
  assert_same_bytes "$d/first.json" "$lock" "[$name] a second two-architecture lock must be byte-identical"
}
soft "multi-arch python3" multi_arch python3 python3.13-minimal libpython3.13-stdlib ca-certificates '!debconf'
soft "multi-arch base" multi_arch base base-files netbase tzdata media-types libc6 libssl3t64 ca-certificates
soft "multi-arch cc" multi_arch cc libgcc-s1 libgomp1 libstdc++6

step "distill why"
why_checks() {
  local d=$T/why spec lock
  spec=$d/image.yaml
  pkg_spec "$spec" amd64,arm64 python3.13-minimal libpython3.13-stdlib ca-certificates '!debconf'
  run_expect 0 "$DISTILL" lock "$spec"
  lock=$d/image.lock.json
  # The deepest package by the lockfile's neededBy links (parents' names).
  local deep
  deep=$(jq -r '.architectures.amd64.packages | map({(.name): (.neededBy | split(" ")[0])}) | add | . as $p |
      [keys[] | . as $n | {n: $n, d: ([limit(50; $n | recurse(if $p[.] == "requested" then empty else $p[.] end))] | length)}] |
      max_by(.d) | "\(.n) \(.d)"' "$lock")
  local pkg=${deep% *} depth=${deep#* }
  [ "$depth" -ge 3 ] || fail "expected a dependency at least 3 links deep in the python3 set, the deepest is $deep"
  note "deepest: $pkg ($depth packages in its chain)"

  run_expect 0 "$DISTILL" why "$pkg" "$spec"
  local text=$RUN_OUT
  assert_eq "$depth" "$(printf '%s\n' "$text" | wc -l)" "lines of distill why $pkg (one per package of the chain)"
  assert_matches "$(printf '%s\n' "$text" | head -n1)" "^$pkg [^ ]+ is needed by " "first line of distill why $pkg"
  local last top
  last=$(printf '%s\n' "$text" | tail -n1)
  top=${last#"${last%%[! ]*}"}
  top=${top%% *}
  assert_contains "$last" "(requested in $spec)" "the chain of distill why $pkg ends in a requested package"
  [[ " python3.13-minimal libpython3.13-stdlib ca-certificates " == *" $top "* ]] ||
    fail "distill why $pkg ends in $top, which is not requested by the spec" "$text"

  run_expect 0 "$DISTILL" why "$pkg" "$spec" --format json
  printf '%s\n' "$RUN_OUT" >"$d/why.json"
  assert_jq "$d/why.json" .package "$pkg"
  assert_jq "$d/why.json" .arch amd64
  assert_jq "$d/why.json" .installed true
  assert_jq "$d/why.json" .excluded false
  assert_jq "$d/why.json" '.chain | length' "$depth"
  assert_jq "$d/why.json" '.chain[0].package' "$pkg"
  assert_jq "$d/why.json" '.chain[-1].neededBy' ""
  assert_jq "$d/why.json" '.chain[-1].package' "$top"
  # Each link names the next one, with the versions of the lockfile.
  # shellcheck disable=SC2016 # jq variables
  assert_jq "$d/why.json" '[range(0; (.chain | length) - 1) as $i | .chain[$i].neededBy == .chain[$i + 1].package] | all' true \
    "every chain link's neededBy is the next package"
  assert_jq "$d/why.json" '[.chain[] | .via | test("^(Depends|Pre-Depends): ") or . == ""] | all' true "every link says Depends or Pre-Depends"
  local versions
  versions=$(jq -r '.architectures.amd64.packages | map({(.name): .version}) | add' "$lock")
  assert_eq true "$(jq --argjson v "$versions" '[.chain[] | $v[.package] == .version] | all' "$d/why.json")" \
    "chain versions are the locked versions"

  run_expect 0 "$DISTILL" why "$pkg" "$spec" --arch arm64 --format json
  printf '%s\n' "$RUN_OUT" >"$d/why.arm64.json"
  assert_jq "$d/why.arm64.json" .arch arm64
  assert_jq "$d/why.arm64.json" '.chain[-1].neededBy' ""

  # Not in the image: exit 1 and say so.
  run_expect 1 "$DISTILL" why curl "$spec"
  assert_contains "$RUN_OUT$RUN_ERR" "curl is not in the image" "distill why of a package that is not in the image"
  run_expect 1 "$DISTILL" why curl "$spec" --format json
  printf '%s\n' "$RUN_OUT" >"$d/why.absent.json"
  assert_jq "$d/why.absent.json" .installed false
  assert_jq "$d/why.absent.json" '.chain | length' 0
  # Excluded: exit 1, and the message says it is excluded.
  run_expect 1 "$DISTILL" why debconf "$spec"
  assert_contains "$RUN_OUT$RUN_ERR" "excluded" "distill why of an excluded package"
  run_expect 1 "$DISTILL" why debconf "$spec" --format json
  printf '%s\n' "$RUN_OUT" >"$d/why.excluded.json"
  assert_jq "$d/why.excluded.json" .excluded true
  # A requested package: a one-line chain.
  run_expect 0 "$DISTILL" why ca-certificates "$spec"
  assert_eq "1" "$(printf '%s\n' "$RUN_OUT" | wc -l)" "distill why of a requested package"
  assert_contains "$RUN_OUT" "(requested in $spec)"
}
soft "why" why_checks

step "a request that excludes everything it would install"
all_excluded() {
  local d=$T/all-excluded
  pkg_spec "$d/image.yaml" amd64 perl-base '!perl-base'
  oracle amd64 perl-base '!perl-base' >"$d/apt.txt"
  assert_eq "" "$(cat "$d/apt.txt")" "apt installs nothing for perl-base !perl-base"
  run_expect 0 "$DISTILL" lock "$d/image.yaml"
  # The architecture is still locked: no packages, perl-base excluded.
  assert_jq "$d/image.lock.json" '.architectures | tojson' '{"amd64":{"excluded":["perl-base"],"packages":[]}}' \
    "lockfile of a request whose only package is excluded"
  run_expect 0 "$DISTILL" build "$d/image.yaml" -o "oci:$d/out:1"
  assert_exists "$d/out/index.json" "the image of a spec that installs no package"
}
soft "everything excluded" all_excluded

#!/usr/bin/env bash
# distill's solver against apt's on small synthetic dependency graphs, where
# the real package sets do not reach: alternatives (a later alternative that
# is requested, pulled in by a sibling, conflicting, broken or too old),
# virtual packages with one or several providers (Priority, index order),
# versioned Provides, Multi-Arch and :any, several versions of a package,
# pins (name=VERSION), exclusions (!name), conflicts and Breaks.
#
# The records are appended to a copy of the local mirror's amd64 index,
# which is signed again with the mirror's key (no .debs: only `distill lock`
# runs). For each request apt-oracle.sh gives apt's choice: distill lock must
# pick the same name:arch=version set; where apt finds no solution, distill
# must fail too (exit 1, naming the package it cannot install).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_mirror.sh"
need jq
mirror_start

# rec NAME VERSION [FIELD...]: one Packages record (ARCH, PRIO override).
rec() {
  local n=$1 v=$2 f
  shift 2
  printf 'Package: %s\nVersion: %s\nArchitecture: %s\nPriority: %s\nSection: misc\n' "$n" "$v" "${ARCH:-amd64}" "${PRIO:-optional}"
  printf 'Maintainer: distill e2e <e2e@example.invalid>\nInstalled-Size: 1\n'
  for f in "$@"; do printf '%s\n' "$f"; done
  printf 'Filename: pool/main/s/%s/%s_%s_%s.deb\nSize: 1000\nSHA256: %s\nDescription: synthetic package %s\n\n' \
    "$n" "$n" "$v" "${ARCH:-amd64}" "$(printf '%s %s' "$n" "$v" | sha256sum | cut -d' ' -f1)" "$n"
}

synthetic_records() {
  # A requested package satisfies an alternative of another request
  # (apt marks every request before it resolves dependencies).
  rec s1-a 1 "Depends: s1-x | s1-b"
  rec s1-b 1
  rec s1-x 1
  # The second alternative is also a plain dependency: apt keeps the first.
  rec s2-a 1 "Depends: s2-x | s2-y, s2-y"
  rec s2-x 1
  rec s2-y 1
  # Several providers of a virtual package, same Priority.
  rec s3-a 1 "Depends: s3-v"
  rec s3-pa 1 "Provides: s3-v"
  rec s3-pc 1 "Provides: s3-v"
  rec s3-pb 1 "Provides: s3-v"
  rec s4-pc 1 "Provides: s4-v"
  rec s4-pa 1 "Provides: s4-v"
  rec s4-pb 1 "Provides: s4-v"
  rec s4-a 1 "Depends: s4-v"
  # Providers of different Priority.
  PRIO=extra rec s5-p1 1 "Provides: s5-v"
  PRIO=important rec s5-p2 1 "Provides: s5-v"
  rec s5-a 1 "Depends: s5-v"
  # The first alternative conflicts with a later dependency.
  rec s6-a 1 "Depends: s6-x | s6-y, s6-b"
  rec s6-b 1 "Conflicts: s6-x"
  rec s6-x 1
  rec s6-y 1
  # Versioned Provides.
  rec s7-a 1 "Depends: s7-v (>= 2)"
  rec s7-p1 1 "Provides: s7-v (= 1)"
  rec s7-p2 1 "Provides: s7-v (= 3)"
  # The real package is too old; a provider has the version.
  rec s8-a 1 "Depends: s8-r (>= 2)"
  rec s8-r 1
  rec s8-p 1 "Provides: s8-r (= 2)"
  # :any on Multi-Arch: allowed (fine) and foreign (not satisfiable).
  rec s9-a 1 "Depends: s9-py:any"
  rec s9-py 1 "Multi-Arch: allowed"
  rec s9-b 1 "Depends: s9-f:any"
  rec s9-f 1 "Multi-Arch: foreign"
  # A virtual first alternative, with one provider or two.
  rec s10-a 1 "Depends: s10-v | s10-real"
  rec s10-real 1
  rec s10-p 1 "Provides: s10-v"
  rec s11-a 1 "Depends: s11-v | s11-real"
  rec s11-real 1
  rec s11-p1 1 "Provides: s11-v"
  rec s11-p2 1 "Provides: s11-v"
  # Diamond with an alternative.
  rec s12-a 1 "Depends: s12-b, s12-c"
  rec s12-b 1 "Depends: s12-x | s12-y"
  rec s12-c 1 "Depends: s12-y"
  rec s12-x 1
  rec s12-y 1
  # A dependency that conflicts with its parent.
  rec s13-a 1 "Depends: s13-b"
  rec s13-b 1 "Conflicts: s13-a"
  # Several versions: the candidate is the highest.
  rec s14-a 1 "Depends: s14-lib (>= 2)"
  rec s14-lib 1
  rec s14-lib 3
  rec s14-lib 2
  # The candidate is too new for an upper bound (apt's classic solver
  # does not fall back to an older version) - and with a pin it works.
  rec s15-a 1 "Depends: s15-lib (<< 3)"
  rec s15-lib 2
  rec s15-lib 3
  rec s16-a 1 "Depends: s16-b (= 1)"
  rec s16-b 2
  rec s16-b 1
  # An arch-all package in the middle of the chain.
  rec s17-a 1 "Depends: s17-b"
  ARCH=all rec s17-b 1 "Depends: s17-c"
  rec s17-c 1 "Multi-Arch: same"
  # The first alternative cannot be installed (its dependency is missing).
  rec s18-a 1 "Depends: s18-x | s18-y"
  rec s18-x 1 "Depends: s18-missing"
  rec s18-y 1
  # The first alternative's candidate is too old.
  rec s19-a 1 "Depends: s19-x (>= 5) | s19-y"
  rec s19-x 1
  rec s19-y 1
  # Request order matters to apt when no request satisfies the other.
  rec s20-a 1 "Depends: s20-x | s20-y"
  rec s20-b 1 "Depends: s20-y"
  rec s20-x 1
  rec s20-y 1
  # A provider pulled in through a sibling's dependency.
  rec s21-a 1 "Depends: s21-x, s21-y"
  rec s21-x 1 "Depends: s21-v"
  rec s21-y 1 "Provides: s21-v"
  rec s21-z 1 "Provides: s21-v"
  # Breaks against the parent.
  rec s22-a 1 "Depends: s22-x"
  rec s22-x 1 "Breaks: s22-a (<< 2)"
  # The first alternative conflicts with the parent.
  rec s23-a 1 "Depends: s23-lib"
  rec s23-lib 1 "Depends: s23-new | s23-old"
  rec s23-new 1 "Conflicts: s23-a"
  rec s23-old 1
  # Pre-Depends and an excluded provider.
  rec s24-a 1 "Pre-Depends: s24-b" "Depends: s24-v"
  rec s24-b 1
  rec s24-p 1 "Provides: s24-v"
}

step "a signed copy of the mirror's index with synthetic packages"
SYN=$T/synthetic
mkdir -p "$SYN"
cp -a "$MIRROR_DIR/dists" "$SYN/"
synthetic_records >>"$SYN/dists/trixie/main/binary-amd64/Packages"
mirror_resign "$SYN"
mirror_serve "$SYN" synthetic
SYN_URL=$SERVED_URL

# solver_case NAME PACKAGE...: distill lock agrees with apt.
solver_case() {
  local name=$1
  shift
  local d=$T/cases/$name rc=0
  mkdir -p "$d"
  REPO_URL=$SYN_URL pkg_spec "$d/image.yaml" amd64 "$@"
  "$MIRROR_SCRIPTS/apt-oracle.sh" --mirror "$SYN_URL" --keyring "$MIRROR_KEYRING" --arch amd64 "$@" \
    >"$d/apt.raw" 2>"$d/apt.err" || rc=$?
  if [ $rc = 0 ]; then
    LC_ALL=C sort -u "$d/apt.raw" >"$d/apt.txt"
    run_expect 0 "$DISTILL" lock "$d/image.yaml"
    locked_set "$d/image.lock.json" amd64 >"$d/distill.txt"
    cmp -s "$d/apt.txt" "$d/distill.txt" ||
      fail "[$name: $*] distill's lock differs from apt's choice" \
        "$(diff -u --label apt --label distill "$d/apt.txt" "$d/distill.txt" | tail -n +3)"
    note "$name [$*]: $(tr '\n' ' ' <"$d/distill.txt")"
  elif [ $rc = 1 ]; then
    # apt finds no solution: neither may distill.
    local out
    rc=0
    "$DISTILL" lock "$d/image.yaml" >"$d/distill.out" 2>"$d/distill.err" || rc=$?
    if [ $rc = 0 ]; then
      fail "[$name: $*] apt finds no solution, but distill locked one" \
        "apt: $(grep -E '^(E|W):' "$d/apt.err" | head -n 3)" "distill: $(locked_set "$d/image.lock.json" amd64 | tr '\n' ' ')"
    fi
    out=$(cat "$d/distill.err")
    assert_eq 1 "$rc" "[$name] exit status of distill lock when there is no solution"
    assert_contains "$out" "distill: error: " "[$name] distill's message"
    assert_not_contains "$out" "internal error" "[$name] an error message, not a crash"
    assert_contains "$out" "${1#!}" "[$name] the message names the request"
    assert_absent "$d/image.lock.json" "[$name] no lockfile without a solution"
    note "$name [$*]: no solution (apt and distill)"
  else
    fail "[$name] apt-oracle.sh failed ($rc)" "$(cat "$d/apt.err")"
  fi
}

step "distill lock vs apt on synthetic graphs"
soft "requested alternative (request order a, b)" solver_case requested-alt-ab s1-a s1-b
soft "requested alternative (request order b, a)" solver_case requested-alt-ba s1-b s1-a
soft "alternative also a sibling dependency" solver_case alt-sibling s2-a
soft "three providers, index order pa pc pb" solver_case providers-1 s3-a
soft "three providers, index order pc pa pb" solver_case providers-2 s4-a
soft "providers of different Priority" solver_case providers-priority s5-a
soft "first alternative conflicts with a later dependency" solver_case alt-conflict s6-a
soft "versioned Provides" solver_case versioned-provides s7-a
soft "real package too old, a provider has the version" solver_case provider-version s8-a
soft ":any on Multi-Arch: allowed" solver_case any-allowed s9-a
soft ":any on Multi-Arch: foreign" solver_case any-foreign s9-b
soft "virtual first alternative, one provider" solver_case alt-virtual-1 s10-a
soft "virtual first alternative, two providers" solver_case alt-virtual-2 s11-a
soft "diamond with an alternative" solver_case diamond s12-a
soft "dependency conflicts with its parent" solver_case conflict-parent s13-a
soft "several versions, candidate highest" solver_case versions s14-a
soft "candidate too new for an upper bound" solver_case upper-bound s15-a
soft "upper bound met by a pin" solver_case upper-bound-pinned s15-a s15-lib=2
soft "exact version not the candidate" solver_case exact-version s16-a
soft "exact version met by a pin" solver_case exact-version-pinned s16-a s16-b=1
soft "arch-all package in the chain" solver_case arch-all s17-a
soft "first alternative uninstallable" solver_case alt-broken s18-a
soft "first alternative too old" solver_case alt-too-old s19-a
soft "request order a, b (no mutual satisfaction)" solver_case order-ab s20-a s20-b
soft "request order b, a" solver_case order-ba s20-b s20-a
soft "provider through a sibling" solver_case provider-sibling s21-a
soft "Breaks against the parent" solver_case breaks-parent s22-a
soft "first alternative conflicts with an ancestor" solver_case alt-conflict-ancestor s23-a
soft "excluded first alternative" solver_case excluded-alt s20-a '!s20-x'
soft "excluded provider satisfies a virtual" solver_case excluded-provider s24-a '!s24-p'
soft "excluded package pulled in by nothing else" solver_case excluded-dep s12-a '!s12-y'
soft "virtual request, several providers" solver_case virtual-request s3-v
soft "virtual request, one provider" solver_case virtual-request-1 s10-v

#!/usr/bin/env bash
# The oracle for distill's solver tests: what would apt install?
#
# In a fresh private apt root (see lib.sh: no host config, keys, sources or
# dpkg status) whose only source is
#     deb [signed-by=KEYRING arch=ARCH] URL SUITE main
# runs `apt-get update`, then, against an empty dpkg status,
#     apt-get install --simulate --no-install-recommends PACKAGE...
# and prints the packages of the `Inst` lines, sorted, one per line:
#     name:arch=version           (arch as apt prints it: "all" for arch-all)
#
# PACKAGE follows distill's spec syntax:
#   name            candidate version
#   name=VERSION    that version (apt's own syntax)
#   name:ARCH       that architecture (ARCH is added to APT::Architectures
#                   and to the source's arch= list when it is not --arch)
#   !name[:ARCH][=VERSION]
#                   exclusion: "counts as installed, never unpacked". A dpkg
#                   status stanza (Status: install ok installed) is written for
#                   it with Package, Version, Architecture, Multi-Arch,
#                   Provides, Essential, Priority, Section taken from the
#                   mirror's record (the candidate, or VERSION), and the
#                   mirror's entries of it are pinned to -1 so that apt keeps
#                   the "installed" one (see the comment below). Its Depends,
#                   Pre-Depends, Conflicts and Breaks are left out, so apt sees
#                   it as an installed, satisfied leaf: it satisfies
#                   dependencies on it (and on what it Provides) and its own
#                   dependencies are not pulled in. It never appears in the
#                   output. (With its Depends kept in the stanza, apt refuses
#                   the whole request with "Unmet dependencies", even with
#                   --fix-broken, unless they happen to be installed too:
#                   see README.md.)
#
# Essential packages: with an empty dpkg status, `apt-get install` does NOT
# add Essential: yes (or Priority: required) packages by itself; they appear
# only when reached through Depends/Pre-Depends (details in README.md).
#
# Usage: apt-oracle.sh --mirror URL --keyring FILE --arch ARCH [--suite SUITE]
#                      [--keep-root DIR] [-v] PACKAGE...
#   --keep-root DIR  build the apt root in DIR and keep it (for debugging)
#   -v               copy apt's output to stderr
# Exit status: 0 on success, 1 when apt fails (unresolvable, unknown package,
# bad signature, expired Release...), 2 on bad usage.
set -euo pipefail
# shellcheck source=lib.sh disable=SC1091
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
bad_usage() { echo "$(dm_prog): $*" >&2; echo "see $(dm_prog) --help" >&2; exit 2; }

mirror="" keyring="" arch="" suite="$DISTILL_TEST_SUITE" keep_root="" verbose=0
args=()
while [ $# -gt 0 ]; do
    case $1 in
        --mirror) [ $# -ge 2 ] || bad_usage "--mirror needs a value"; mirror=$2; shift 2 ;;
        --keyring) [ $# -ge 2 ] || bad_usage "--keyring needs a value"; keyring=$2; shift 2 ;;
        --arch) [ $# -ge 2 ] || bad_usage "--arch needs a value"; arch=$2; shift 2 ;;
        --suite) [ $# -ge 2 ] || bad_usage "--suite needs a value"; suite=$2; shift 2 ;;
        --keep-root) [ $# -ge 2 ] || bad_usage "--keep-root needs a value"; keep_root=$2; shift 2 ;;
        -v|--verbose) verbose=1; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; args+=("$@"); break ;;
        -*) bad_usage "unknown option: $1" ;;
        *) args+=("$1"); shift ;;
    esac
done
[ -n "$mirror" ] || bad_usage "--mirror URL is required"
[ -n "$keyring" ] || bad_usage "--keyring FILE is required"
[ -n "$arch" ] || bad_usage "--arch ARCH is required"
[ ${#args[@]} -gt 0 ] || bad_usage "no PACKAGE given"
[ -r "$keyring" ] || dm_die "keyring not readable: $keyring"
keyring="$(cd "$(dirname "$keyring")" && pwd)/$(basename "$keyring")"
dm_need apt-get
dm_need apt-cache

# --- parse package arguments -------------------------------------------------
installs=() excludes=() archs=("$arch")
add_arch() {
    local a=$1 x
    case $a in all|any|native) return ;; esac
    for x in "${archs[@]}"; do [ "$x" = "$a" ] && return; done
    archs+=("$a")
}
for p in "${args[@]}"; do
    spec=${p#!}
    name=${spec%%=*}; name=${name%%:*}
    [[ $name =~ ^[a-z0-9][a-z0-9+.-]+$ ]] || dm_die "bad package name in '$p'"
    nv=${spec%%=*}
    if [[ $nv == *:* ]]; then add_arch "${nv#*:}"; fi
    if [ "$p" != "$spec" ]; then excludes+=("$spec"); else installs+=("$spec"); fi
done

# --- private apt root --------------------------------------------------------
if [ -n "$keep_root" ]; then
    root=$keep_root
    rm -rf "$root"
    mkdir -p "$root"
    root=$(cd "$root" && pwd)
else
    root=$(mktemp -d "${TMPDIR:-/tmp}/distill-apt-oracle.XXXXXX")
    trap 'rm -rf "$root"' EXIT
fi
dm_apt_root "$root" "${archs[*]}"
archlist=$(IFS=,; echo "${archs[*]}")
printf 'deb [signed-by=%s arch=%s] %s %s main\n' "$keyring" "$archlist" "${mirror%/}" "$suite" \
    > "$root/etc/apt/sources.list"

log="$root/apt.log"
run_apt() {   # run_apt OUTFILE CMD...: fails on apt errors or warnings
    local out=$1; shift
    local rc=0
    dm_apt "$root" "$@" > "$out" 2>&1 || rc=$?
    cat "$out" >> "$log"
    if [ "$verbose" = 1 ]; then cat "$out" >&2; fi
    if [ $rc -ne 0 ] || grep -qE '^(E|W|Err):' "$out"; then
        [ "$verbose" = 1 ] || grep -E '^(E|W|Err):' "$out" >&2 || cat "$out" >&2
        return 1
    fi
}
run_apt "$root/update.out" apt-get update ||
    dm_die "apt-get update failed for $mirror $suite (arch $archlist)"

# --- exclusions: mark as installed ---------------------------------------------
# The status stanza lacks Depends etc., so apt's version hash (over
# Installed-Size, Depends, Pre-Depends, Conflicts, Breaks, Replaces) differs
# from the mirror's record of the same version: apt would then see two
# entries of one version, make the mirror's the candidate and could "upgrade"
# (reinstall) the excluded package, pulling in its dependencies. A pin of -1
# on the mirror's entries keeps the installed (excluded) one as the candidate.
inrel=$(find "$root/var/lib/apt/lists" -maxdepth 1 -name '*_InRelease' | sed -n 1p)
codename=""
if [ -n "$inrel" ]; then codename=$(sed -n 's/^Codename: //p' "$inrel" | sed -n 1p); fi
[ -n "$codename" ] || codename=$suite
excluded_ids=()
for spec in ${excludes[@]+"${excludes[@]}"}; do
    run_apt "$root/show.out" apt-cache show --no-all-versions "$spec" ||
        dm_die "excluded package '!$spec' is not in the mirror"
    awk -v RS= -F '\n' 'NR == 1 {
        n = split("Package Essential Protected Priority Section Architecture Multi-Arch Version Provides", want, " ")
        for (i = 1; i <= NF; i++) {
            p = index($i, ":"); if (p == 0 || $i ~ /^[ \t]/) continue
            k = substr($i, 1, p - 1); f[k] = $i
            # keep continuation lines (multi-line fields) with their field
            for (j = i + 1; j <= NF && $j ~ /^[ \t]/; j++) f[k] = f[k] "\n" $j
        }
        print f["Package"]; print "Status: install ok installed"
        for (i = 2; i <= n; i++) if (want[i] in f) print f[want[i]]
        print ""
    }' "$root/show.out" >> "$root/var/lib/dpkg/status"
    xname=$(awk -v RS= -F '\n' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i ~ /^Package: /) print substr($i, 10) }' "$root/show.out")
    xarch=$(awk -v RS= -F '\n' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i ~ /^Architecture: /) print substr($i, 15) }' "$root/show.out")
    excluded_ids+=("$xname:$xarch")
    pinname=$xname
    [ "$xarch" = all ] || pinname="$xname:$xarch"
    printf 'Package: %s\nPin: release n=%s\nPin-Priority: -1\n\n' "$pinname" "$codename" \
        >> "$root/etc/apt/preferences.d/distill-exclusions"
done

# --- the simulation ------------------------------------------------------------
if [ ${#installs[@]} -eq 0 ]; then exit 0; fi
run_apt "$root/sim.out" apt-get install --simulate --no-install-recommends "${installs[@]}" ||
    dm_die "apt cannot install: ${installs[*]}${excludes[*]:+ (excluded: ${excludes[*]})}"
if grep -qE '^(Remv|Inst [^ ]+ \[)' "$root/sim.out"; then
    grep -E '^(Remv|Inst [^ ]+ \[)' "$root/sim.out" >&2
    dm_die "apt wants to remove or change an excluded package; the request conflicts with an exclusion"
fi
dm_inst_lines < "$root/sim.out" |
    awk -v ex="${excluded_ids[*]+${excluded_ids[*]}}" '
        BEGIN { n = split(ex, e, " "); for (i = 1; i <= n; i++) skip[e[i]] = 1 }
        { id = $0; sub(/=.*/, "", id); if (!(id in skip)) print }'

#!/usr/bin/env bash
# Downloads the real Debian .debs that distill's tests need (suite
# DISTILL_TEST_SUITE: trixie by default, or bookworm) into
#   ${DISTILL_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/distill-test}/debs/SUITE/
# and records each package set's dependency closure in
#   .../closures/SUITE/SET.ARCH.list   (sorted `name:arch=version` lines;
#   SET "extra" is DM_EXTRA_FETCH from lib.sh: debconf; "all" is the union)
#
# The closure is computed by apt itself: a private apt root (see lib.sh) with
# an empty dpkg status and only the upstream SUITE main suite, then
# `apt-get install --simulate --no-install-recommends SET` (the Inst lines) and
# `apt-get install --download-only --no-install-recommends SET`. Depends and
# Pre-Depends are followed; Recommends/Suggests are not. apt does not add
# Essential or Priority: required packages on its own in `install` (see
# README.md). Indexes are verified by apt against the real Debian archive
# keyring; every cached .deb is then checked against the SHA256 and Size of
# that signed index (a bad file is deleted and fetched again). Files already
# in the cache are not downloaded again. Cached .debs that are in no closure
# any more (e.g. superseded by a point release) are deleted unless --no-prune
# (or --arch names fewer than all the suite's architectures).
#
# Usage: fetch-debs.sh [--arch amd64,arm64] [--no-prune] [--offline]
#   --arch     default: the suite's architectures (lib.sh: DM_SUITE_ARCHS)
#   --offline  no apt-get update: reuse the indexes of the last run (fails if
#              there are none, or if a .deb would have to be downloaded)
# Env:   DISTILL_TEST_UPSTREAM  mirror base URL (default: from host apt sources)
#        DISTILL_TEST_CACHE     cache root
set -euo pipefail
# shellcheck source=lib.sh disable=SC1091
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

archs=$DM_SUITE_ARCHS
prune=1
offline=0
while [ $# -gt 0 ]; do
    case $1 in
        --arch) [ $# -ge 2 ] || dm_die "--arch needs a value"; archs=$2; shift 2 ;;
        --arch=*) archs=${1#*=}; shift ;;
        --no-prune) prune=0; shift ;;
        --offline) offline=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) dm_die "unknown argument: $1 (see --help)" ;;
    esac
done
archs=${archs//,/ }
if [ "$archs" != "${DM_SUITE_ARCHS//,/ }" ] && [ "$prune" = 1 ]; then
    prune=0   # a partial run must not delete the other architectures' files
fi

dm_need apt-get
dm_need apt-cache
dm_need gpgv
dm_need sha256sum
[ -r "$DEBIAN_ARCHIVE_KEYRING" ] || dm_die "Debian archive keyring not found: $DEBIAN_ARCHIVE_KEYRING (install debian-archive-keyring)"

suite=$DISTILL_TEST_SUITE
start=$(date +%s)
upstream=$(dm_upstream_url)
debdir="$DISTILL_TEST_CACHE_DIR/debs/$suite"
closdir="$DISTILL_TEST_CACHE_DIR/closures/$suite"
logdir="$DISTILL_TEST_CACHE_DIR/logs"
mkdir -p "$debdir" "$closdir" "$logdir"
dm_log "cache: $DISTILL_TEST_CACHE_DIR"
dm_log "upstream: $upstream ($suite main)"

# The test sets plus a pseudo-set "extra" (DM_EXTRA_FETCH, e.g. debconf).
fetch_sets() { dm_sets; echo "extra $DM_SUITE_ARCHS $DM_EXTRA_FETCH"; }

before_files=$(find "$debdir" -maxdepth 1 -name '*.deb' | wc -l)
keepfile="$DISTILL_TEST_CACHE_DIR/apt/keep.list"   # file names in some closure
mkdir -p "${keepfile%/*}"
: > "$keepfile"

# verify_cache ROOT LISTFILE DELETE_BAD: checks every package of LISTFILE
# (name:arch=version lines) against the signed index. Prints the number of
# missing/bad files. With DELETE_BAD=1 bad files are removed.
verify_cache() {
    local root=$1 list=$2 delete_bad=$3 specs=() line name ver
    while IFS= read -r line; do
        name=${line%%:*}; ver=${line#*=}
        specs+=("$name=$ver")
    done < "$list"
    [ ${#specs[@]} -gt 0 ] || { echo 0; return; }
    dm_apt "$root" apt-cache show "${specs[@]}" |
        awk -v RS= -F '\n' '{
            p = v = a = s = h = ""
            for (i = 1; i <= NF; i++) {
                if ($i ~ /^Package: /) p = substr($i, 10)
                else if ($i ~ /^Version: /) v = substr($i, 10)
                else if ($i ~ /^Architecture: /) a = substr($i, 15)
                else if ($i ~ /^Size: /) s = substr($i, 7)
                else if ($i ~ /^SHA256: /) h = substr($i, 9)
            }
            gsub(/:/, "%3a", v)
            if (p != "") print p "_" v "_" a ".deb", s, h
        }' | sort -u > "$root/expected"
    [ "$(wc -l < "$root/expected")" -eq "$(wc -l < "$list")" ] ||
        dm_die "apt-cache show returned $(wc -l < "$root/expected") records for $(wc -l < "$list") packages of $list"
    local bad=0 f size hash
    while read -r f size hash; do
        if [ ! -f "$debdir/$f" ]; then bad=$((bad + 1)); continue; fi
        if [ "$(stat -c %s "$debdir/$f")" != "$size" ] ||
           [ "$(sha256sum < "$debdir/$f" | cut -d' ' -f1)" != "$hash" ]; then
            bad=$((bad + 1))
            if [ "$delete_bad" = 1 ]; then
                dm_log "cached $f does not match the signed index; deleting"
                rm -f "$debdir/$f"
            else
                dm_log "$f does not match the signed index (size $size, sha256 $hash)"
            fi
        fi
    done < "$root/expected"
    echo "$bad"
}

for arch in $archs; do
    root="$DISTILL_TEST_CACHE_DIR/apt/$suite-$arch"
    dm_apt_root "$root" "$arch" "$debdir"
    printf 'deb [signed-by=%s arch=%s] %s %s main\n' \
        "$DEBIAN_ARCHIVE_KEYRING" "$arch" "$upstream" "$suite" > "$root/etc/apt/sources.list"
    if [ "$offline" = 1 ]; then
        dm_log "[$arch] --offline: using the indexes of the last run"
    else
        dm_log "[$arch] apt-get update"
        update_ok=1
        dm_apt "$root" apt-get update > "$logdir/update-$arch.log" 2>&1 || update_ok=0
        if grep -qE '^(E|W|Err):' "$logdir/update-$arch.log"; then update_ok=0; fi
        if [ "$update_ok" = 0 ]; then
            cat "$logdir/update-$arch.log" >&2
            dm_die "[$arch] apt-get update of $upstream $suite failed (does this mirror serve $suite? set DISTILL_TEST_UPSTREAM to override)"
        fi
    fi
    # Release facts, for the record (no host names).
    inrel=$(find "$root/var/lib/apt/lists" -maxdepth 1 -name "*_dists_${suite}_InRelease" | sed -n 1p)
    if [ -n "$inrel" ]; then
        grep -E '^(Origin|Label|Suite|Version|Codename|Date|Valid-Until):' "$inrel" \
            > "$closdir/upstream-release.txt" || true
    fi

    # The closures are recomputed only when the signed index or the set
    # definitions changed since the last run (stamp), or a list is missing.
    [ -n "$inrel" ] || dm_die "[$arch] no signed $suite index in $root (with --offline: run once without it first)"
    stamp=$( { cat "$inrel"; fetch_sets; apt-get --version | sed -n 1p; } | sha256sum | cut -d' ' -f1)
    reuse=0
    if [ -f "$closdir/stamp.$arch" ] && [ "$(cat "$closdir/stamp.$arch")" = "$stamp" ]; then
        reuse=1
        while read -r sname sarchs _; do
            case ",$sarchs," in *",$arch,"*) [ -s "$closdir/$sname.$arch.list" ] || reuse=0 ;; esac
        done < <(fetch_sets)
    fi
    rm -f "$closdir/stamp.$arch"

    union="$root/union.list"
    : > "$union"
    while read -r sname sarchs pkgs; do
        case ",$sarchs," in *",$arch,"*) ;; *) continue ;; esac
        # shellcheck disable=SC2086
        set -- $pkgs
        out="$closdir/$sname.$arch.list"
        if [ "$reuse" = 1 ]; then
            cat "$out" >> "$union"
            continue
        fi
        if ! dm_apt "$root" apt-get install --simulate --no-install-recommends "$@" > "$root/sim.out" 2>&1; then
            cat "$root/sim.out" >&2
            dm_die "[$arch] apt could not resolve set '$sname': $*"
        fi
        dm_inst_lines < "$root/sim.out" > "$out"
        [ -s "$out" ] || dm_die "[$arch] empty closure for set '$sname'"
        cat "$out" >> "$union"
        dm_log "[$arch] set $sname: $(wc -l < "$out") packages -> ${out#"$DISTILL_TEST_CACHE_DIR"/}"
    done < <(fetch_sets)
    sort -u -o "$union" "$union"
    cp "$union" "$closdir/all.$arch.list"
    if [ "$reuse" = 1 ]; then
        dm_log "[$arch] index unchanged since the last run: closures reused from ${closdir#"$DISTILL_TEST_CACHE_DIR"/}"
    fi

    bad=$(verify_cache "$root" "$union" 1)
    cut -d' ' -f1 "$root/expected" >> "$keepfile"
    dm_log "[$arch] $(wc -l < "$union") packages in all closures, $bad to download"
    if [ "$bad" -gt 0 ] && [ "$offline" = 1 ]; then
        dm_die "[$arch] --offline, but $bad .debs are missing from the cache"
    fi
    if [ "$bad" -gt 0 ]; then
        while read -r sname sarchs pkgs; do
            case ",$sarchs," in *",$arch,"*) ;; *) continue ;; esac
            # shellcheck disable=SC2086
            set -- $pkgs
            if ! dm_apt "$root" apt-get install --download-only -y --no-install-recommends "$@" \
                    > "$logdir/download-$sname-$arch.log" 2>&1; then
                cat "$logdir/download-$sname-$arch.log" >&2
                dm_die "[$arch] download of set '$sname' failed"
            fi
            b=$(sed -nE 's/^Fetched ([0-9.]+ [kMG]?B) .*/\1/p' "$logdir/download-$sname-$arch.log")
            if [ -n "$b" ]; then dm_log "[$arch] set $sname: fetched $b"; fi
        done < <(fetch_sets)
        bad=$(verify_cache "$root" "$union" 0)
        [ "$bad" -eq 0 ] || dm_die "[$arch] $bad cached .debs missing or not matching the signed index after download"
    fi
    printf '%s\n' "$stamp" > "$closdir/stamp.$arch"
    dm_log "[$arch] all $(wc -l < "$union") .debs present and verified"
done

if [ "$prune" = 1 ]; then
    pruned=0
    declare -A keep=()
    while IFS= read -r f; do keep[$f]=1; done < "$keepfile"
    while IFS= read -r f; do
        b=${f##*/}
        if [ -z "${keep[$b]:-}" ]; then rm -f "$f"; pruned=$((pruned + 1)); fi
    done < <(find "$debdir" -maxdepth 1 -name '*.deb')
    [ "$pruned" -eq 0 ] || dm_log "pruned $pruned .debs that are in no closure any more"
fi
rm -rf "$debdir/partial"/* 2>/dev/null || true

after_files=$(find "$debdir" -maxdepth 1 -name '*.deb' | wc -l)
total=$(find "$debdir" -maxdepth 1 -name '*.deb' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
end=$(date +%s)
dm_log "done: $after_files .debs ($(dm_human "$total")) in $debdir; $((after_files - before_files)) more than before; $((end - start)) s"

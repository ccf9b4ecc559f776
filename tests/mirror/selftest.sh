#!/usr/bin/env bash
# Self-test of the Debian fixtures: fetch (unless --no-fetch), build the mirror
# in OUTDIR (default /tmp/distill-mirror), serve it, and check:
#   - gpgv accepts InRelease and Release.gpg with keyring.gpg, not with
#     wrong-keyring.gpg;
#   - apt (private root, signed-by=keyring.gpg) accepts the mirror and fetches
#     indexes by hash; rejects it with wrong-keyring.gpg; rejects an --expired
#     build of it;
#   - for every package set and architecture, apt-oracle.sh on the LOCAL mirror
#     gives exactly the closure that apt computed against the upstream mirror
#     (closures/trixie/SET.ARCH.list), and python3 with !debconf gives that
#     closure minus debconf;
#   - the HTTP server answers Range requests with 206.
# Oracle outputs are written to OUTDIR.oracle/SET.ARCH.list.
# Ends with a "N passed, N failed" line; exit status 1 if anything failed.
#
# Usage: selftest.sh [--no-fetch] [OUTDIR]
set -euo pipefail
# shellcheck source=lib.sh disable=SC1091
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
here=$DISTILL_MIRROR_DIR

fetch=1
outdir=/tmp/distill-mirror
while [ $# -gt 0 ]; do
    case $1 in
        --no-fetch) fetch=0; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) dm_die "unknown option: $1" ;;
        *) outdir=$1; shift ;;
    esac
done

passed=0 failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else fail "$what"; fi; }
check_not() { local what=$1; shift; if "$@" >/dev/null 2>&1; then fail "$what"; else ok "$what"; fi; }

t0=$(date +%s)
if [ "$fetch" = 1 ]; then "$here/fetch-debs.sh"; fi
t1=$(date +%s)
"$here/make-mirror.sh" "$outdir"
"$here/make-mirror.sh" --expired "$outdir.expired"
t2=$(date +%s)

work=$(mktemp -d "${TMPDIR:-/tmp}/distill-mirror-selftest.XXXXXX")
cleanup() {
    "$here/stop.sh" "$work/port" >/dev/null 2>&1 || true
    "$here/stop.sh" "$work/port-expired" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
url=$("$here/serve.sh" "$outdir" "$work/port")
url_expired=$("$here/serve.sh" "$outdir.expired" "$work/port-expired")
key="$outdir/keyring.gpg"
wrong="$outdir/wrong-keyring.gpg"
dist="$outdir/dists/$DISTILL_TEST_SUITE"

check "gpgv accepts InRelease" gpgv --keyring "$key" "$dist/InRelease"
check "gpgv accepts Release.gpg" gpgv --keyring "$key" "$dist/Release.gpg" "$dist/Release"
check_not "gpgv rejects InRelease with wrong-keyring.gpg" gpgv --keyring "$wrong" "$dist/InRelease"

# apt accepts the mirror with signed-by, and uses by-hash.
root="$work/aptroot"
dm_apt_root "$root" amd64
printf 'deb [signed-by=%s] %s %s main\n' "$key" "$url" "$DISTILL_TEST_SUITE" > "$root/etc/apt/sources.list"
if dm_apt "$root" apt-get update > "$work/update.out" 2>&1 && ! grep -qE '^(E|W|Err):' "$work/update.out"; then
    ok "apt-get update accepts the mirror (signed-by=keyring.gpg)"
else
    fail "apt-get update accepts the mirror"; cat "$work/update.out"
fi
check "apt fetched Packages by hash" grep -q ' /dists/[^ ]*/by-hash/SHA256/[0-9a-f]* 200 ' "$work/port.log"
check "apt-get download of a .deb from the mirror" \
    sh -c "cd '$work' && APT_CONFIG='$root/apt.conf' apt-get download -q busybox-static"
check_not "apt-oracle rejects the mirror with wrong-keyring.gpg" \
    "$here/apt-oracle.sh" --mirror "$url" --keyring "$wrong" --arch amd64 libc6
check_not "apt-oracle rejects the --expired mirror" \
    "$here/apt-oracle.sh" --mirror "$url_expired" --keyring "$outdir.expired/keyring.gpg" --arch amd64 libc6

# Range support.
deb=$(cd "$outdir" && find pool -name 'busybox-static_*_amd64.deb' | sed -n 1p)
code=$(python3 - "$url/$deb" <<'EOF'
import sys, urllib.request
req = urllib.request.Request(sys.argv[1], headers={"Range": "bytes=10-19"})
with urllib.request.urlopen(req) as r:
    body = r.read()
    print(r.status, len(body), r.headers.get("Content-Range", "").split("/")[0])
EOF
)
if [ "$code" = "206 10 bytes 10-19" ]; then ok "Range GET answered 206"; else fail "Range GET answered '$code'"; fi

# Oracle against the local mirror == closure computed upstream.
closdir="$DISTILL_TEST_CACHE_DIR/closures/$DISTILL_TEST_SUITE"
odir="$outdir.oracle"
mkdir -p "$odir"
t3=$(date +%s)
while read -r sname sarchs pkgs; do
    for arch in ${sarchs//,/ }; do
        # shellcheck disable=SC2086
        if "$here/apt-oracle.sh" --mirror "$url" --keyring "$key" --arch "$arch" $pkgs > "$odir/$sname.$arch.list"; then
            n=$(wc -l < "$odir/$sname.$arch.list")
            if [ -f "$closdir/$sname.$arch.list" ] &&
               diff "$odir/$sname.$arch.list" "$closdir/$sname.$arch.list" > "$work/diff"; then
                ok "oracle $sname $arch: $n packages, same as upstream"
            else
                fail "oracle $sname $arch: $n packages, differs from upstream closure"; cat "$work/diff" || true
            fi
        else
            fail "oracle $sname $arch: apt failed"
        fi
    done
done < <(dm_sets)

python3_pkgs=$(dm_sets | awk '$1 == "python3" { $1 = $2 = ""; print }')
python3_archs=$(dm_sets | awk '$1 == "python3" { print $2 }')
for arch in ${python3_archs//,/ }; do
    # shellcheck disable=SC2086
    if "$here/apt-oracle.sh" --mirror "$url" --keyring "$key" --arch "$arch" $python3_pkgs '!debconf' \
            > "$odir/python3-no-debconf.$arch.list"; then
        n=$(wc -l < "$odir/python3-no-debconf.$arch.list")
        if diff "$odir/python3-no-debconf.$arch.list" <(grep -v '^debconf:' "$odir/python3.$arch.list") > "$work/diff"; then
            ok "oracle python3 !debconf $arch: $n packages (python3 set minus debconf)"
        else
            fail "oracle python3 !debconf $arch: $n packages, unexpected"; cat "$work/diff" || true
        fi
    else
        fail "oracle python3 !debconf $arch: apt failed"
    fi
done
t4=$(date +%s)

echo "times: fetch $((t1 - t0)) s, make-mirror (x2) $((t2 - t1)) s, oracle runs $((t4 - t3)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

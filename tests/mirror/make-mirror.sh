#!/usr/bin/env bash
# Builds a local, signed Debian repository from the .debs cached by
# fetch-debs.sh:
#   OUTDIR/pool/main/<prefix>/<source>/<name>_<version-without-epoch>_<arch>.deb
#   OUTDIR/dists/SUITE/main/binary-ARCH (lib.sh: DM_SUITE_ARCHS)/Packages{,.gz,.xz}, Release
#   OUTDIR/dists/SUITE/main/binary-*/by-hash/SHA256/<sha256>   (Packages*)
#   OUTDIR/dists/SUITE/{Release,InRelease,Release.gpg}
#   OUTDIR/keyring.gpg        binary public keyring (gpgv --keyring, signed-by)
#   OUTDIR/keyring.asc        the same key, armored
#   OUTDIR/wrong-keyring.gpg  an unrelated key (for wrong-key tests)
#
# Packages indexes come from `apt-ftparchive packages` per architecture;
# Architecture: all packages appear in both binary-* indexes, as in Debian.
# Release hash sections come from `apt-ftparchive release` (MD5Sum, SHA256,
# as Debian); the header is: Origin Debian, Label Debian, Suite SUITE,
# Codename SUITE (DISTILL_TEST_SUITE, default trixie), Date now, Valid-Until now+10 days, Acquire-By-Hash yes,
# Architectures: the suite's (trixie: amd64 arm64 armhf; bookworm: amd64 s390x ppc64el), Components main.
#
# The signing keys (throwaway, no passphrase) live outside OUTDIR, in
#   $DISTILL_TEST_CACHE/mirror-keys/<hash of OUTDIR's absolute path>/
# so they are reused when the same OUTDIR is rebuilt, and never served.
#
# Usage: make-mirror.sh [--expired] [--new-key] OUTDIR
#   --expired   Date now-20 days, Valid-Until now-10 days (apt rejects it)
#   --new-key   throw away the cached keys for OUTDIR and make new ones
# Env:  DISTILL_TEST_KEY_ALGO  rsa3072 (default; Debian's archive keys are RSA)
#                              or ed25519
set -euo pipefail
# shellcheck source=lib.sh disable=SC1091
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

expired=0
newkey=0
outdir=""
while [ $# -gt 0 ]; do
    case $1 in
        --expired) expired=1; shift ;;
        --new-key) newkey=1; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) dm_die "unknown option: $1 (see --help)" ;;
        *) [ -z "$outdir" ] || dm_die "only one OUTDIR allowed"; outdir=$1; shift ;;
    esac
done
[ -n "$outdir" ] || { usage >&2; exit 2; }

dm_need apt-ftparchive apt-utils
dm_need gpg gnupg
dm_need gpgv gpgv
dm_need xz xz-utils
dm_need gzip
dm_need sha256sum

suite=$DISTILL_TEST_SUITE
archs=${DM_SUITE_ARCHS//,/ }
algo=${DISTILL_TEST_KEY_ALGO:-rsa3072}
case $algo in rsa3072|rsa4096|ed25519) ;; *) dm_die "DISTILL_TEST_KEY_ALGO must be rsa3072, rsa4096 or ed25519" ;; esac
debdir="$DISTILL_TEST_CACHE_DIR/debs/$suite"
start=$(date +%s)

shopt -s nullglob
debs=("$debdir"/*.deb)
shopt -u nullglob
[ ${#debs[@]} -gt 0 ] || dm_die "no .debs in $debdir: run tests/mirror/fetch-debs.sh first"

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

# --- pool -------------------------------------------------------------------
declare -A want=()
copied=0
# One apt-ftparchive pass over the cache gives every .deb's control fields
# (much faster than one dpkg-deb per file).
apt-ftparchive packages "$debdir" 2> "$outdir/.ftparchive.err" |
    awk -v RS= -F '\n' '{
        p = v = a = s = f = ""
        for (i = 1; i <= NF; i++) {
            if ($i ~ /^Package: /) p = substr($i, 10)
            else if ($i ~ /^Version: /) v = substr($i, 10)
            else if ($i ~ /^Architecture: /) a = substr($i, 15)
            else if ($i ~ /^Source: /) { s = substr($i, 9); sub(/ .*/, "", s) }
            else if ($i ~ /^Filename: /) f = substr($i, 11)
        }
        if (s == "") s = p
        print p, v, a, s, f
    }' > "$outdir/.debs.list" || { cat "$outdir/.ftparchive.err" >&2; dm_die "apt-ftparchive cannot read $debdir"; }
rm -f "$outdir/.ftparchive.err"
[ "$(wc -l < "$outdir/.debs.list")" -eq ${#debs[@]} ] ||
    dm_die "apt-ftparchive listed $(wc -l < "$outdir/.debs.list") of ${#debs[@]} .debs in $debdir"
while read -r pkg ver arch src deb; do
    case $src in lib?*) prefix=${src:0:4} ;; *) prefix=${src:0:1} ;; esac
    rel="pool/main/$prefix/$src/${pkg}_${ver#*:}_${arch}.deb"
    [ -z "${want[$rel]:-}" ] || dm_die "two cached .debs map to $rel"
    want[$rel]=1
    dest="$outdir/$rel"
    # A copy, not a link: tests may corrupt pool files. Same size and mtime
    # (cp -p) means unchanged: a test that rewrites a pool file changes its
    # mtime, and the next make-mirror.sh restores it.
    if [ -f "$dest" ] && [ "$(stat -c '%s %Y' "$deb")" = "$(stat -c '%s %Y' "$dest")" ]; then
        continue
    fi
    mkdir -p "${dest%/*}"
    cp -p "$deb" "$dest.tmp" && mv -f "$dest.tmp" "$dest"
    copied=$((copied + 1))
done < "$outdir/.debs.list"
rm -f "$outdir/.debs.list"
stale=0
if [ -d "$outdir/pool" ]; then
    while IFS= read -r f; do
        rel=${f#"$outdir"/}
        if [ -z "${want[$rel]:-}" ]; then rm -f "$f"; stale=$((stale + 1)); fi
    done < <(find "$outdir/pool" -type f)
    find "$outdir/pool" -mindepth 1 -type d -empty -delete
fi
dm_log "pool: ${#want[@]} .debs ($copied copied, $stale stale removed)"

# --- indexes ----------------------------------------------------------------
dist="$outdir/dists/$suite"
rm -f "$dist/Release" "$dist/InRelease" "$dist/Release.gpg"
ftp_opts=(-o APT::FTPArchive::MD5=true -o APT::FTPArchive::SHA1=false
          -o APT::FTPArchive::SHA256=true -o APT::FTPArchive::SHA512=false)
for arch in $archs; do
    bdir="$dist/main/binary-$arch"
    rm -rf "$bdir"
    mkdir -p "$bdir/by-hash/SHA256"
    (cd "$outdir" && apt-ftparchive "${ftp_opts[@]}" --arch "$arch" packages pool/main) \
        > "$bdir/Packages" 2> "$bdir/.ftparchive.err" || { cat "$bdir/.ftparchive.err" >&2; dm_die "apt-ftparchive packages failed for $arch"; }
    if grep -q . "$bdir/.ftparchive.err"; then cat "$bdir/.ftparchive.err" >&2; fi
    rm -f "$bdir/.ftparchive.err"
    n=$(grep -c '^Package: ' "$bdir/Packages" || true)
    [ "$n" -gt 0 ] || dm_die "binary-$arch/Packages is empty"
    gzip -9n < "$bdir/Packages" > "$bdir/Packages.gz"
    xz -6e -T1 < "$bdir/Packages" > "$bdir/Packages.xz"
    printf 'Archive: %s\nOrigin: Debian\nLabel: Debian\nAcquire-By-Hash: yes\nComponent: main\nArchitecture: %s\n' \
        "$suite" "$arch" > "$bdir/Release"
    for f in Packages Packages.gz Packages.xz; do
        h=$(sha256sum < "$bdir/$f" | cut -d' ' -f1)
        cp "$bdir/$f" "$bdir/by-hash/SHA256/$h"
    done
    dm_log "binary-$arch: $n packages"
done

# --- Release ----------------------------------------------------------------
now=$(date +%s)
if [ "$expired" = 1 ]; then
    date_t=$((now - 20 * 86400)); valid_t=$((now - 10 * 86400))
else
    date_t=$now; valid_t=$((now + 10 * 86400))
fi
rfc() { LC_ALL=C date -u -d "@$1" '+%a, %d %b %Y %H:%M:%S UTC'; }
{
    printf 'Origin: Debian\nLabel: Debian\nSuite: %s\nCodename: %s\n' "$suite" "$suite"
    printf 'Date: %s\nValid-Until: %s\n' "$(rfc "$date_t")" "$(rfc "$valid_t")"
    printf 'Acquire-By-Hash: yes\nArchitectures: %s\nComponents: main\n' "$archs"
    printf 'Description: distill test mirror: a subset of Debian %s main\n' "$suite"
    (cd "$outdir" && apt-ftparchive "${ftp_opts[@]}" release "dists/$suite") | grep -v '^Date: '
} > "$dist/Release.new"
grep -q '^SHA256:' "$dist/Release.new" || dm_die "apt-ftparchive release produced no SHA256 section"
mv "$dist/Release.new" "$dist/Release"

# --- keys and signatures -----------------------------------------------------
keyroot="$DISTILL_TEST_CACHE_DIR/mirror-keys/$(printf '%s' "$outdir" | sha256sum | cut -c1-16)"
[ "$newkey" = 0 ] || rm -rf "$keyroot"
mkdir -p "$keyroot"
printf '%s\n' "$outdir" > "$keyroot/outdir"
homes=()
kill_agents() { local h; for h in "${homes[@]}"; do GNUPGHOME=$h gpgconf --kill gpg-agent >/dev/null 2>&1 || true; done; }
trap kill_agents EXIT

# ensure_key NAME UID: prints the fingerprint of the key in $keyroot/NAME.
ensure_key() {
    local home="$keyroot/$1" uid=$2 fpr
    homes+=("$home")
    if [ ! -f "$home/.done" ]; then
        rm -rf "$home"
        mkdir -p "$home" && chmod 700 "$home"
        GNUPGHOME=$home gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
            --quick-generate-key "$uid" "$algo" sign never >/dev/null 2>&1 ||
            dm_die "gpg key generation failed in $home"
        touch "$home/.done"
    fi
    fpr=$(GNUPGHOME=$home gpg --batch --with-colons --list-secret-keys 2>/dev/null | awk -F: '/^fpr:/ { print $10; exit }')
    [ -n "$fpr" ] || dm_die "no secret key in $home (try --new-key)"
    printf '%s\n' "$fpr"
}
fpr=$(ensure_key signing "distill test archive signing key")
wrongfpr=$(ensure_key wrong "distill test unrelated key")
homes=("$keyroot/signing" "$keyroot/wrong")

sign_home="$keyroot/signing"
GNUPGHOME=$sign_home gpg --batch --quiet --yes --pinentry-mode loopback --passphrase '' \
    --local-user "$fpr" --digest-algo SHA256 --clearsign -o "$dist/InRelease" "$dist/Release"
GNUPGHOME=$sign_home gpg --batch --quiet --yes --pinentry-mode loopback --passphrase '' \
    --local-user "$fpr" --digest-algo SHA256 --armor --detach-sign -o "$dist/Release.gpg" "$dist/Release"
GNUPGHOME=$sign_home gpg --batch --export "$fpr" > "$outdir/keyring.gpg"
GNUPGHOME=$sign_home gpg --batch --export --armor "$fpr" > "$outdir/keyring.asc"
GNUPGHOME="$keyroot/wrong" gpg --batch --export "$wrongfpr" > "$outdir/wrong-keyring.gpg"

# Self-check of the signature chain.
gpgv --keyring "$outdir/keyring.gpg" "$dist/InRelease" >/dev/null 2>&1 ||
    dm_die "gpgv does not accept InRelease with keyring.gpg"
gpgv --keyring "$outdir/keyring.gpg" "$dist/Release.gpg" "$dist/Release" >/dev/null 2>&1 ||
    dm_die "gpgv does not accept Release.gpg with keyring.gpg"
if gpgv --keyring "$outdir/wrong-keyring.gpg" "$dist/InRelease" >/dev/null 2>&1; then
    dm_die "InRelease verifies with wrong-keyring.gpg: keys are not distinct"
fi

size=$(du -sb "$outdir" | cut -f1)
dm_log "signed by $algo key $fpr$( [ "$expired" = 1 ] && echo ' (EXPIRED Release)')"
dm_log "done: $outdir ($(dm_human "$size")) in $(( $(date +%s) - start )) s"

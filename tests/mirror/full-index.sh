#!/usr/bin/env bash
# full-index.sh MIRROR DEST: makes DEST a signed trixie mirror with the .debs
# of the local test mirror MIRROR (its pool, symlinked) and Debian's full
# trixie amd64 index: the upstream Packages that fetch-debs.sh keeps in its
# apt state, published as Packages, Packages.gz and Packages.xz as Debian's
# mirrors do. The Release is signed by a new key; DEST/keyring.gpg verifies
# it. Prints the number of packages in the index.
#
# The compressed indexes are kept by the index's digest in
# ${XDG_CACHE_HOME:-~/.cache}/distill-bench/full-index (xz -6 of 56 MB is
# slow on 2 cores). Exit status 3 when fetch-debs.sh has left no upstream
# index (run it first); 1 on any other failure. Used by bench/apps.sh and
# bench/resolve_download.sh.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# = 2 ] || { echo "usage: $0 MIRROR DEST" >&2; exit 2; }
src=$(cd "$1" && pwd) || dm_die "no mirror at $1"
dest=$2
[ -d "$src/pool" ] || dm_die "$src is not a mirror (no pool/)"
dm_need apt-ftparchive apt-utils
dm_need gpg gnupg
dm_need xz xz-utils

index=$(find "$DISTILL_TEST_CACHE_DIR/apt/trixie-amd64/var/lib/apt/lists" -maxdepth 1 -type f \
  -name '*_dists_trixie_main_binary-amd64_Packages' 2>/dev/null | head -n1)
if [ -z "$index" ]; then
  dm_log "no upstream trixie Packages index in $DISTILL_TEST_CACHE_DIR/apt (run tests/mirror/fetch-debs.sh)"
  exit 3
fi

cache=${XDG_CACHE_HOME:-$HOME/.cache}/distill-bench/full-index
mkdir -p "$cache"
sum=$(sha256sum "$index" | cut -d' ' -f1)
if [ ! -s "$cache/Packages-$sum.xz" ]; then
  dm_log "compressing the index with xz -6 (once; kept in $cache)"
  xz -T0 -6 -c "$index" >"$cache/Packages-$sum.xz.tmp" && mv "$cache/Packages-$sum.xz.tmp" "$cache/Packages-$sum.xz"
fi
if [ ! -s "$cache/Packages-$sum.gz" ]; then
  gzip -9n <"$index" >"$cache/Packages-$sum.gz.tmp" && mv "$cache/Packages-$sum.gz.tmp" "$cache/Packages-$sum.gz"
fi
find "$cache" -name 'Packages-*' ! -name "Packages-$sum.*" -delete

rm -rf "$dest"
b=$dest/dists/trixie/main/binary-amd64
mkdir -p "$b"
ln -s "$src/pool" "$dest/pool"
cp "$index" "$b/Packages"
cp "$cache/Packages-$sum.gz" "$b/Packages.gz"
cp "$cache/Packages-$sum.xz" "$b/Packages.xz"
(cd "$dest/dists/trixie" && apt-ftparchive -o APT::FTPArchive::Release::Origin=Debian \
  -o APT::FTPArchive::Release::Label=Debian -o APT::FTPArchive::Release::Suite=trixie \
  -o APT::FTPArchive::Release::Codename=trixie -o APT::FTPArchive::Release::Architectures=amd64 \
  -o APT::FTPArchive::Release::Components=main release .) >"$dest/Release.new" ||
  dm_die "apt-ftparchive release failed"
mv "$dest/Release.new" "$dest/dists/trixie/Release"

home=$(mktemp -d /tmp/full-index-gpg.XXXXXX)
trap 'GNUPGHOME=$home gpgconf --kill gpg-agent >/dev/null 2>&1 || true; rm -rf "$home"' EXIT
GNUPGHOME=$home gpg --batch --passphrase '' --quick-generate-key "distill full-index mirror <bench@invalid>" \
  rsa3072 sign never >"$home/log" 2>&1 || { cat "$home/log" >&2; dm_die "gpg --quick-generate-key failed"; }
GNUPGHOME=$home gpg --batch --digest-algo SHA256 --clearsign -o "$dest/dists/trixie/InRelease" \
  "$dest/dists/trixie/Release" >>"$home/log" 2>&1 || { cat "$home/log" >&2; dm_die "gpg --clearsign failed"; }
GNUPGHOME=$home gpg --batch --export >"$dest/keyring.gpg" 2>>"$home/log"
chmod 0644 "$dest/keyring.gpg"
grep -c '^Package: ' "$index"

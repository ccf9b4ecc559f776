# shellcheck shell=bash
# The local signed Debian mirror (tests/mirror/) for distill's end-to-end
# package tests. Source it right after lib.sh:
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/lib_mirror.sh"
#   mirror_start
#
# MIRROR_SUITE (default trixie; bookworm) selects the suite, set before
# mirror_start.
#
# mirror_start fetches the test .debs (tests/mirror/fetch-debs.sh, cached),
# builds the signed mirror (make-mirror.sh) once per content into
# $DISTILL_TEST_CACHE/e2e-mirrors/ and serves it on a free loopback port for
# this test; the server is stopped when the test exits. It sets:
#   MIRROR_DIR          the mirror's directory: shared between tests, never
#                       modify it (use mirror_copy for a tampered copy)
#   MIRROR_URL          http://127.0.0.1:PORT
#   MIRROR_KEYRING      binary keyring that verifies the mirror
#   MIRROR_KEYRING_ASC  the same key, armored
#   WRONG_KEYRING       an unrelated key
#   MIRROR_SIGNING_HOME the signing key's GnuPG home (for mirror_resign)
# mirror_expired_start does the same for a mirror built with --expired and
# sets EXPIRED_DIR, EXPIRED_URL, EXPIRED_KEYRING.
#
# Other helpers: mirror_copy, mirror_serve, mirror_resign (re-sign an edited
# copy with the mirror's key), pkg_spec, lockfile_of, locked_set, oracle,
# packages_field, index_versions, index_tsv.
#
# Every test works alone: what is missing is built on demand. Tests of one
# run share the built mirror (it is keyed by the .debs, the mirror scripts
# and the key algorithm, and rebuilt when its Valid-Until comes near).
#
# Environment:
#   DISTILL_TEST_CACHE     cache root of tests/mirror (default as there:
#                          ${XDG_CACHE_HOME:-$HOME/.cache}/distill-test)
#   E2E_MIRROR_FETCH       auto (default: run fetch-debs.sh unless it ran in
#                          the last hour with the same package sets), always,
#                          or never (use the cache as it is)

MIRROR_SCRIPTS=$REPO_ROOT/tests/mirror
MIRROR_SUITE=${MIRROR_SUITE:-trixie}
case $MIRROR_SUITE in trixie | bookworm) ;; *) fail "MIRROR_SUITE must be trixie or bookworm (got '$MIRROR_SUITE')" ;; esac
# fetch-debs.sh and make-mirror.sh read the suite from here.
export DISTILL_TEST_SUITE=$MIRROR_SUITE

# lib.sh unsets XDG_CACHE_HOME for distill; the fixtures' cache follows the
# value the test was started with.
if [ -z "${DISTILL_TEST_CACHE:-}" ]; then
  _xdg=$(tr '\0' '\n' </proc/$$/environ 2>/dev/null | sed -n 's/^XDG_CACHE_HOME=//p' | head -n1 || true)
  DISTILL_TEST_CACHE=${_xdg:-$HOME/.cache}/distill-test
  unset _xdg
fi
export DISTILL_TEST_CACHE
E2E_MIRRORS=$DISTILL_TEST_CACHE/e2e-mirrors

need apt-get apt-ftparchive gpg gpgv xz gzip python3 setsid flock sha256sum jq

# _mirror_lock: serialize fixture preparation between concurrent tests.
_mirror_lock() {
  mkdir -p "$E2E_MIRRORS"
  exec {_MIRROR_LOCK_FD}>"$E2E_MIRRORS/.lock"
  flock -w 900 "$_MIRROR_LOCK_FD" || fail "could not lock $E2E_MIRRORS/.lock within 15 minutes"
}
_mirror_unlock() { exec {_MIRROR_LOCK_FD}>&-; }

# _mirror_fetch: the .debs of the package sets, in the fixtures' cache.
_mirror_fetch() {
  local mode=${E2E_MIRROR_FETCH:-auto} stamp=$E2E_MIRRORS/fetched.$MIRROR_SUITE.stamp
  local debdir=$DISTILL_TEST_CACHE/debs/$MIRROR_SUITE want
  # The package sets and the fetch script: a change means a new fetch.
  want=$(cat "$MIRROR_SCRIPTS/lib.sh" "$MIRROR_SCRIPTS/fetch-debs.sh" | sha256sum | cut -d' ' -f1)
  case $mode in
    never)
      compgen -G "$debdir/*.deb" >/dev/null || fail "E2E_MIRROR_FETCH=never but $debdir holds no .debs"
      return 0 ;;
    auto)
      if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -n "$(find "$stamp" -mmin -60 2>/dev/null)" ] &&
        compgen -G "$debdir/*.deb" >/dev/null; then
        return 0
      fi ;;
    always) ;;
    *) fail "E2E_MIRROR_FETCH must be auto, always or never (got '$mode')" ;;
  esac
  note "fetching the test .debs (tests/mirror/fetch-debs.sh)"
  if ! "$MIRROR_SCRIPTS/fetch-debs.sh" >"$T/fetch-debs.log" 2>&1; then
    # No network: the last indexes and .debs may still be enough.
    if ! "$MIRROR_SCRIPTS/fetch-debs.sh" --offline >>"$T/fetch-debs.log" 2>&1; then
      fail "tests/mirror/fetch-debs.sh failed (online and --offline)" "$(tail -n 30 "$T/fetch-debs.log")"
    fi
    note "fetch-debs.sh failed online; using the cached .debs (--offline)"
  fi
  echo "$want" >"$stamp"
}

# _mirror_key VARIANT: the content key of a built mirror.
_mirror_key() {
  {
    echo "variant=$1 algo=${DISTILL_TEST_KEY_ALGO:-rsa3072} suite=$MIRROR_SUITE"
    (cd "$DISTILL_TEST_CACHE/debs/$MIRROR_SUITE" && find . -maxdepth 1 -name '*.deb' -printf '%f %s %T@\n' | LC_ALL=C sort)
    cat "$MIRROR_SCRIPTS/make-mirror.sh" "$MIRROR_SCRIPTS/lib.sh"
  } | sha256sum | cut -c1-16
}

# _mirror_usable DIR VARIANT: built completely, signature good, not about to
# expire (normal variant).
_mirror_usable() {
  local dir=$1 variant=$2 until
  [ -f "$dir/.e2e-ready" ] && [ -f "$dir/dists/$MIRROR_SUITE/InRelease" ] || return 1
  gpgv --keyring "$dir/keyring.gpg" "$dir/dists/$MIRROR_SUITE/InRelease" >/dev/null 2>&1 || return 1
  if [ "$variant" = normal ]; then
    until=$(sed -n 's/^Valid-Until: //p' "$dir/dists/$MIRROR_SUITE/Release" | head -n1)
    [ -n "$until" ] || return 1
    [ "$(date -u -d "$until" +%s)" -gt $(($(date +%s) + 2 * 86400)) ] || return 1
  fi
}

# _mirror_prepare VARIANT: sets MIRROR_PREPARED to the directory of a built
# mirror (VARIANT normal or expired).
_mirror_prepare() {
  local variant=$1 key dir old
  _mirror_lock
  _mirror_fetch
  key=$(_mirror_key "$variant")
  dir=$E2E_MIRRORS/$MIRROR_SUITE-$variant-$key
  if ! _mirror_usable "$dir" "$variant"; then
    note "building the $variant test mirror in $dir"
    rm -rf "$dir"
    local flags=()
    [ "$variant" = expired ] && flags=(--expired)
    "$MIRROR_SCRIPTS/make-mirror.sh" "${flags[@]}" "$dir" >"$T/make-mirror.$variant.log" 2>&1 ||
      fail "tests/mirror/make-mirror.sh ${flags[*]} $dir failed" "$(tail -n 30 "$T/make-mirror.$variant.log")"
    touch "$dir/.e2e-ready"
    # Mirrors of older contents are of no more use (138 MiB each).
    for old in "$E2E_MIRRORS/$MIRROR_SUITE-$variant"-* "$E2E_MIRRORS/$variant"-*; do
      [ "$old" = "$dir" ] || [ ! -d "$old" ] || rm -rf "$old"
    done
  fi
  _mirror_unlock
  MIRROR_PREPARED=$dir
}

# Servers are listed in $T/mirror-servers (a file, since `soft` checks run in
# subshells whose own `defer`s would be lost) and all stopped when the test
# exits.
_mirror_stop_all() {
  local portfile
  [ -f "$T/mirror-servers" ] || return 0
  while IFS= read -r portfile; do
    "$MIRROR_SCRIPTS/stop.sh" "$portfile" >/dev/null 2>&1 || true
  done <"$T/mirror-servers"
}
defer _mirror_stop_all

# mirror_serve DIR NAME: serves DIR on a free loopback port until the test
# ends and sets SERVED_URL. NAME must be unique in the test. The request log
# is $T/NAME.port.log.
mirror_serve() {
  local dir=$1 name=$2 rc=0
  echo "$T/$name.port" >>"$T/mirror-servers"
  "$MIRROR_SCRIPTS/serve.sh" "$dir" "$T/$name.port" >"$T/$name.url" 2>"$T/$name.serve.err" || rc=$?
  [ $rc = 0 ] || fail "tests/mirror/serve.sh $dir failed" "$(cat "$T/$name.serve.err")"
  SERVED_URL=$(cat "$T/$name.url")
}

mirror_start() {
  _mirror_prepare normal
  MIRROR_DIR=$MIRROR_PREPARED
  mirror_serve "$MIRROR_DIR" mirror
  MIRROR_URL=$SERVED_URL
  MIRROR_KEYRING=$MIRROR_DIR/keyring.gpg
  MIRROR_KEYRING_ASC=$MIRROR_DIR/keyring.asc
  WRONG_KEYRING=$MIRROR_DIR/wrong-keyring.gpg
  MIRROR_SIGNING_HOME=$DISTILL_TEST_CACHE/mirror-keys/$(printf '%s' "$MIRROR_DIR" | sha256sum | cut -c1-16)/signing
  export MIRROR_DIR MIRROR_URL MIRROR_KEYRING MIRROR_KEYRING_ASC WRONG_KEYRING MIRROR_SIGNING_HOME
  note "mirror: $MIRROR_URL ($MIRROR_DIR)"
}

mirror_expired_start() {
  _mirror_prepare expired
  EXPIRED_DIR=$MIRROR_PREPARED
  mirror_serve "$EXPIRED_DIR" expired
  EXPIRED_URL=$SERVED_URL
  EXPIRED_KEYRING=$EXPIRED_DIR/keyring.gpg
  export EXPIRED_DIR EXPIRED_URL EXPIRED_KEYRING
  note "expired mirror: $EXPIRED_URL ($EXPIRED_DIR)"
}

# mirror_copy DEST: a private copy of the mirror (no hardlinks into the
# shared one), to tamper with.
mirror_copy() {
  rm -rf "$1"
  cp -a "$MIRROR_DIR" "$1" || fail "cannot copy $MIRROR_DIR to $1"
}

# mirror_resign DIR: after Packages files of the copy DIR were edited,
# recompress them (.gz, .xz, by-hash), rewrite dists/$MIRROR_SUITE/Release's hash
# sections (MD5Sum and SHA256, as make-mirror.sh) and sign Release and
# InRelease again with the mirror's own key, so that only the edit differs.
# RELEASE_FILTER (a sed script, optional) is applied to the new Release
# before signing.
mirror_resign() {
  local dir=$1 dist=$1/dists/$MIRROR_SUITE arch b f h home
  for arch in amd64 arm64; do
    b=$dist/main/binary-$arch
    rm -rf "$b/by-hash"
    mkdir -p "$b/by-hash/SHA256"
    gzip -9n <"$b/Packages" >"$b/Packages.gz"
    xz -6e -T1 <"$b/Packages" >"$b/Packages.xz"
    for f in Packages Packages.gz Packages.xz; do
      h=$(sha256sum <"$b/$f" | cut -d' ' -f1)
      cp "$b/$f" "$b/by-hash/SHA256/$h"
    done
  done
  local header
  header=$(sed '/^MD5Sum:/,$d' "$dist/Release")
  rm -f "$dist/Release" "$dist/InRelease" "$dist/Release.gpg"
  {
    printf '%s\n' "$header"
    (cd "$dir" && apt-ftparchive -o APT::FTPArchive::MD5=true -o APT::FTPArchive::SHA1=false \
      -o APT::FTPArchive::SHA256=true -o APT::FTPArchive::SHA512=false release dists/$MIRROR_SUITE) |
      sed -n '/^MD5Sum:/,$p'
  } >"$T/Release.new" || fail "cannot rewrite $dist/Release"
  if [ -n "${RELEASE_FILTER:-}" ]; then sed -i -e "$RELEASE_FILTER" "$T/Release.new"; fi
  mv "$T/Release.new" "$dist/Release"
  [ -d "$MIRROR_SIGNING_HOME" ] || fail "the mirror's signing key is not in $MIRROR_SIGNING_HOME"
  # A private copy of the key's home: its own agent, stopped at once.
  home=$(mktemp -d /tmp/e2e-gpg.XXXXXX)
  cp -a "$MIRROR_SIGNING_HOME/." "$home/"
  chmod 700 "$home"
  rm -f "$home"/S.* "$home"/*.lock
  local signed=0
  if GNUPGHOME=$home gpg --batch --quiet --yes --pinentry-mode loopback --passphrase '' --digest-algo SHA256 \
    --clearsign -o "$dist/InRelease" "$dist/Release" 2>"$T/sign.err" &&
    GNUPGHOME=$home gpg --batch --quiet --yes --pinentry-mode loopback --passphrase '' --digest-algo SHA256 \
      --armor --detach-sign -o "$dist/Release.gpg" "$dist/Release" 2>>"$T/sign.err"; then
    signed=1
  fi
  GNUPGHOME=$home gpgconf --kill gpg-agent >/dev/null 2>&1 || true
  rm -rf "$home"
  [ $signed = 1 ] || fail "cannot sign $dist/Release" "$(cat "$T/sign.err")"
  gpgv --keyring "$MIRROR_KEYRING" "$dist/InRelease" >/dev/null 2>&1 || fail "the re-signed InRelease of $dir does not verify"
}

# pkg_spec FILE ARCHS PACKAGE... : a spec whose only repository is the local
# mirror (signed-by its keyring), with these packages and archs (comma
# separated). REPO_URL and REPO_KEYRING override the mirror and keyring;
# SPEC_EXTRA is appended as it is (e.g. "entrypoint: [/usr/bin/curl]").
pkg_spec() {
  local file=$1 archs=$2
  shift 2
  mkdir -p "$(dirname "$file")"
  {
    echo "contents:"
    echo "  repositories: [\"deb [signed-by=${REPO_KEYRING:-$MIRROR_KEYRING}] ${REPO_URL:-$MIRROR_URL} $MIRROR_SUITE main\"]"
    echo "  packages: $(printf '%s\n' "$@" | jq -R . | jq -sc .)"
    echo "archs: [${archs//,/, }]"
    if [ -n "${SPEC_EXTRA:-}" ]; then printf '%s\n' "$SPEC_EXTRA"; fi
  } >"$file"
}

# lockfile_of SPEC: the lockfile distill writes for SPEC.
lockfile_of() { local s=${1%.yaml}; echo "${s%.yml}.lock.json"; }

# locked_set LOCKFILE ARCH: the lockfile's packages as sorted, unique
# name:arch=version lines (arch as in the Packages file: "all" for arch-all),
# the oracle's format.
locked_set() {
  jq -r --arg a "$2" '.architectures[$a].packages[] | "\(.name):\(.architecture)=\(.version)"' "$1" |
    LC_ALL=C sort -u
}

# oracle ARCH PACKAGE... >FILE: what apt-get install --simulate picks on the
# mirror, as sorted name:arch=version lines (tests/mirror/apt-oracle.sh).
# Redirect it to a file (a failure in $(...) would not end the test).
oracle() {
  local arch=$1 rc=0
  shift
  "$MIRROR_SCRIPTS/apt-oracle.sh" --mirror "$MIRROR_URL" --keyring "$MIRROR_KEYRING" --arch "$arch" "$@" \
    >"$T/oracle.out" 2>"$T/oracle.err" || rc=$?
  [ $rc = 0 ] || fail "the apt oracle failed for $arch: $*" "$(cat "$T/oracle.err")"
  LC_ALL=C sort -u "$T/oracle.out"
}

# packages_field DIR ARCH NAME VERSION FIELD: a field of a package record in
# the mirror's binary-ARCH/Packages.
packages_field() {
  awk -v RS= -F '\n' -v n="$3" -v v="$4" -v f="$5" '{
      p = ver = val = ""
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^Package: /) p = substr($i, 10)
        else if ($i ~ /^Version: /) ver = substr($i, 10)
        else if (index($i, f ": ") == 1) val = substr($i, length(f) + 3)
      }
      if (p == n && ver == v) { print val; exit }
    }' "$1/dists/$MIRROR_SUITE/main/binary-$2/Packages"
}

# index_versions DIR ARCH NAME: the versions of NAME in the mirror's
# binary-ARCH/Packages, one per line.
index_versions() {
  awk -v RS= -F '\n' -v n="$3" '{
      p = v = ""
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^Package: /) p = substr($i, 10)
        else if ($i ~ /^Version: /) v = substr($i, 10)
      }
      if (p == n) print v
    }' "$1/dists/$MIRROR_SUITE/main/binary-$2/Packages"
}

# index_tsv DIR ARCH: the mirror's binary-ARCH/Packages as sorted lines
# "name TAB version TAB architecture TAB filename TAB size TAB sha256".
index_tsv() {
  awk -v RS= -F '\n' '{
      delete f
      for (i = 1; i <= NF; i++) {
        p = index($i, ": ")
        if (p > 1 && $i !~ /^[ \t]/) f[substr($i, 1, p - 1)] = substr($i, p + 2)
      }
      print f["Package"] "\t" f["Version"] "\t" f["Architecture"] "\t" f["Filename"] "\t" f["Size"] "\t" f["SHA256"]
    }' "$1/dists/$MIRROR_SUITE/main/binary-$2/Packages" | LC_ALL=C sort
}

# shellcheck shell=bash disable=SC2034
# Shared helpers for the Debian test-fixture scripts in tests/mirror/.
# Source it; do not execute it. Callers run with `set -euo pipefail`.
#
# Nothing here names a mirror host: the upstream Debian mirror is read at run
# time from DISTILL_TEST_UPSTREAM or from the host's apt sources.

if [ -n "${DISTILL_MIRROR_LIB_LOADED:-}" ]; then return 0; fi
DISTILL_MIRROR_LIB_LOADED=1

DISTILL_MIRROR_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Cache shared by all scripts (kept between runs).
DISTILL_TEST_CACHE_DIR="${DISTILL_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/distill-test}"
# The real Debian archive keyring, used to verify what is fetched upstream.
DEBIAN_ARCHIVE_KEYRING="${DISTILL_TEST_DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}"
# Suite the fixtures are built from and published as.
DISTILL_TEST_SUITE="${DISTILL_TEST_SUITE:-trixie}"

dm_prog() { basename "$0"; }
dm_log() { printf '%s: %s\n' "$(dm_prog)" "$*" >&2; }
dm_die() { printf '%s: error: %s\n' "$(dm_prog)" "$*" >&2; exit 1; }

# dm_need CMD [PACKAGE]: fail clearly when a tool is missing. apt-ftparchive
# (package apt-utils) is installed on demand when running as root, unless
# DISTILL_TEST_NO_INSTALL=1.
dm_need() {
    local cmd=$1 pkg=${2:-}
    command -v "$cmd" >/dev/null 2>&1 && return 0
    if [ -n "$pkg" ] && [ "$(id -u)" = 0 ] && [ "${DISTILL_TEST_NO_INSTALL:-0}" != 1 ]; then
        dm_log "$cmd not found; installing Debian package $pkg"
        if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$pkg" >&2 \
            || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$pkg" >&2; }; then
            command -v "$cmd" >/dev/null 2>&1 && return 0
        fi
    fi
    dm_die "required command '$cmd' not found${pkg:+ (install the Debian package '$pkg')}"
}

# ---------------------------------------------------------------------------
# Upstream mirror discovery
# ---------------------------------------------------------------------------

# Debian release names and aliases that count as "a Debian suite". Suites with
# a suffix (-updates, -security, -backports, -proposed-updates) do not: the
# mirror base URL is taken from a stanza/line that carries a plain suite.
DM_DEBIAN_SUITES="buzz rex bo hamm slink potato woody sarge etch lenny squeeze wheezy jessie stretch buster bullseye bookworm trixie forky duke sid oldoldstable oldstable stable testing unstable"

# Prints the upstream Debian mirror base URL (no trailing slash).
#   1. DISTILL_TEST_UPSTREAM, if set.
#   2. The host's apt sources, in apt's own reading order: sources.list, then
#      sources.list.d/*.list and *.sources sorted by name. First match wins:
#      - one-line `deb [opts] URI SUITE COMPONENT...` whose SUITE is a Debian
#        suite and whose signed-by= (if given) is a Debian archive keyring;
#      - deb822 stanza (Enabled not "no", Types has "deb") whose Suites include
#        a Debian suite and whose Signed-By (if given) is a Debian archive
#        keyring (a path named debian-archive-*); the first of its URIs.
#   Only http:// and https:// URIs are accepted.
dm_upstream_url() {
    if [ -n "${DISTILL_TEST_UPSTREAM:-}" ]; then
        printf '%s\n' "${DISTILL_TEST_UPSTREAM%/}"
        return 0
    fi
    local etc=${DISTILL_TEST_APT_ETC:-/etc/apt}
    local files=() f url
    [ -f "$etc/sources.list" ] && files+=("$etc/sources.list")
    if [ -d "$etc/sources.list.d" ]; then
        while IFS= read -r f; do files+=("$f"); done < <(
            find "$etc/sources.list.d" -maxdepth 1 -type f \( -name '*.list' -o -name '*.sources' \) | LC_ALL=C sort)
    fi
    for f in "${files[@]}"; do
        [ -r "$f" ] || continue
        case $f in
            *.sources) url=$(dm__parse_deb822 "$f") ;;
            *) url=$(dm__parse_oneline "$f") ;;
        esac
        if [ -n "$url" ]; then
            printf '%s\n' "${url%/}"
            return 0
        fi
    done
    dm_die "no Debian mirror found in $etc/sources.list{,.d/} (need a 'deb' entry for a plain Debian suite signed by a Debian archive keyring); set DISTILL_TEST_UPSTREAM=<mirror base URL>"
}

dm__parse_oneline() {
    awk -v suites="$DM_DEBIAN_SUITES" '
    BEGIN { n = split(suites, s, " "); for (i = 1; i <= n; i++) ok[s[i]] = 1 }
    {
        sub(/#.*/, "")
        if ($1 != "deb") next
        line = $0; sub(/^[ \t]*deb[ \t]+/, "", line)
        opts = ""
        if (line ~ /^\[/) {
            opts = line; sub(/\].*/, "", opts); sub(/^\[/, "", opts)
            sub(/^\[[^]]*\][ \t]*/, "", line)
        }
        split(line, w, /[ \t]+/)
        uri = w[1]; suite = w[2]
        if (uri !~ /^https?:\/\//) next
        if (!(suite in ok)) next
        if (opts ~ /signed-by=/) {
            sb = opts; sub(/.*signed-by=/, "", sb); sub(/[ \t].*/, "", sb)
            if (sb !~ /(^|\/)debian-archive-[^\/]*$/) next
        }
        print uri; exit
    }' "$1"
}

dm__parse_deb822() {
    awk -v suites="$DM_DEBIAN_SUITES" '
    BEGIN { RS = ""; FS = "\n"; n = split(suites, s, " "); for (i = 1; i <= n; i++) ok[s[i]] = 1 }
    {
        delete fld; key = ""
        for (i = 1; i <= NF; i++) {
            l = $i
            if (l ~ /^#/) continue
            if (l ~ /^[ \t]/) { if (key != "") fld[key] = fld[key] "\n" l; continue }
            p = index(l, ":"); if (p == 0) continue
            key = tolower(substr(l, 1, p - 1)); v = substr(l, p + 1)
            gsub(/^[ \t]+|[ \t]+$/, "", v); fld[key] = v
        }
        if (tolower(fld["enabled"]) == "no") next
        if ((" " fld["types"] " ") !~ /[ \t]deb[ \t]/) next
        good = 0; m = split(fld["suites"], su, /[ \t]+/)
        for (i = 1; i <= m; i++) if (su[i] in ok) good = 1
        if (!good) next
        if ("signed-by" in fld) {
            sb = fld["signed-by"]
            if (sb ~ /\n/) next               # inline key block: not the archive keyring file
            if (sb !~ /(^|\/)debian-archive-[^\/ ]*$/) next
        }
        m = split(fld["uris"], u, /[ \t]+/)
        for (i = 1; i <= m; i++) if (u[i] ~ /^https?:\/\//) { print u[i]; exit }
    }' "$1"
}

# ---------------------------------------------------------------------------
# Private apt roots
# ---------------------------------------------------------------------------

# dm_apt_root ROOT ARCHS [ARCHIVES_DIR]
#   Creates (or refreshes the config of) a private apt root under ROOT that
#   shares nothing with the host's apt: own config (APT_CONFIG=ROOT/apt.conf,
#   with Dir::Etc::main/parts pointing at an empty file/dir so the host's
#   /etc/apt/apt.conf{,.d} are never read), own sources, own trusted keys
#   (none: repositories must carry signed-by), own lists, cache, logs and an
#   empty dpkg status. ARCHS is a space/comma separated list; the first is the
#   native architecture. ARCHIVES_DIR defaults to ROOT/var/cache/apt/archives.
#   Sources go into ROOT/etc/apt/sources.list (caller writes it).
#   Run apt with: APT_CONFIG="ROOT/apt.conf" apt-get ...   (or dm_apt ROOT ...)
dm_apt_root() {
    local root=$1 archs=$2 archives=${3:-}
    case $root in /*) ;; *) root="$PWD/$root" ;; esac
    [ -n "$archives" ] || archives="$root/var/cache/apt/archives"
    case $archives in /*) ;; *) archives="$PWD/$archives" ;; esac
    case "$root$archives" in *'"'*|*'\'*) dm_die "path must not contain quotes or backslashes: $root" ;; esac
    mkdir -p "$root/etc/apt/apt.conf.d" "$root/etc/apt/preferences.d" \
        "$root/etc/apt/sources.list.d" "$root/etc/apt/trusted.gpg.d" \
        "$root/etc/apt/auth.conf.d" "$root/var/lib/apt/lists/partial" \
        "$root/var/cache/apt" "$archives/partial" "$root/var/lib/dpkg" \
        "$root/var/log/apt"
    : > "$root/etc/apt/apt.conf"           # Dir::Etc::main: empty on purpose
    [ -e "$root/var/lib/dpkg/status" ] || : > "$root/var/lib/dpkg/status"
    [ -e "$root/etc/apt/sources.list" ] || : > "$root/etc/apt/sources.list"

    local native a archlist=""
    archs=${archs//,/ }
    native=${archs%% *}
    for a in $archs; do archlist+="\"$a\"; "; done

    cat > "$root/apt.conf" <<EOF
// Private apt configuration written by tests/mirror/lib.sh. Independent of
// the host: host apt.conf, apt.conf.d, sources, trusted keys, preferences,
// auth and dpkg status are never read.
Dir::Etc "$root/etc/apt/";
Dir::Etc::main "apt.conf";
Dir::Etc::parts "apt.conf.d/";
Dir::Etc::sourcelist "sources.list";
Dir::Etc::sourceparts "sources.list.d/";
Dir::Etc::preferences "preferences";
Dir::Etc::preferencesparts "preferences.d/";
Dir::Etc::trusted "trusted.gpg";
Dir::Etc::trustedparts "trusted.gpg.d/";
Dir::Etc::netrc "auth.conf";
Dir::Etc::netrcparts "auth.conf.d/";
Dir::State "$root/var/lib/apt/";
Dir::State::lists "lists/";
Dir::State::extended_states "extended_states";
Dir::State::status "$root/var/lib/dpkg/status";
Dir::Cache "$root/var/cache/apt/";
Dir::Cache::archives "$archives/";
Dir::Log "$root/var/log/apt/";
APT::Architecture "$native";
APT::Architectures { $archlist};
APT::Install-Recommends "false";
APT::Install-Suggests "false";
APT::Get::AllowUnauthenticated "false";
APT::Keep-Downloaded-Packages "true";
APT::Sandbox::User "$(id -un)";
Acquire::AllowInsecureRepositories "false";
Acquire::AllowDowngradeToInsecureRepositories "false";
Acquire::AllowWeakRepositories "false";
Acquire::Check-Valid-Until "true";
Acquire::Check-Date "true";
Acquire::Languages "none";
Acquire::PDiffs "false";
Acquire::Retries "3";
pkgCacheGen::Essential "all";
EOF
}

# dm_apt ROOT CMD ARGS...: run an apt command inside the private root.
dm_apt() {
    local root=$1; shift
    APT_CONFIG="$root/apt.conf" LC_ALL=C "$@"
}

# dm_human BYTES
dm_human() {
    awk -v b="$1" 'BEGIN { split("B KiB MiB GiB TiB", u, " "); i = 1
        while (b >= 1024 && i < 5) { b /= 1024; i++ }
        printf (i == 1 ? "%d %s\n" : "%.1f %s\n"), b, u[i] }'
}

# ---------------------------------------------------------------------------
# Package sets used by distill's tests
# ---------------------------------------------------------------------------

# One set per line: NAME ARCHS PACKAGE...   (ARCHS comma separated)
# The python3 set's closure contains debconf (via ca-certificates); the tests
# also resolve it with "!debconf" (exclusion), and debconf is always fetched.
# presets, presets-amd64: every package of distill's distroless presets
# (src/build/presets.cc, trixie; tests/e2e/test_presets*.sh), amd64 for all
# of them, arm64 for static..python3 and their debug variants (busybox-static).
# armhf: the static and base presets and busybox-static for 32-bit arm
# (distroless's "arm"; tests/e2e/test_presets_armhf.sh). s390x and ppc64el
# are tested on bookworm (below): the mirror these tests were written
# against did not serve trixie's current point release for them (HTTP 404).
# minbase: Debian's Essential: yes and Priority: required packages of trixie
# (what `mmdebstrap --variant=minbase` installs; bench/presets.sh).
DM_PACKAGE_SETS='
python3       amd64,arm64 python3.13-minimal libpython3.13-stdlib ca-certificates
java          amd64       openjdk-21-jre-headless
nodejs        amd64       nodejs
redis         amd64       redis-server
nginx         amd64       nginx
curl          amd64       curl
base          amd64,arm64 base-files netbase tzdata media-types libc6 libssl3t64 ca-certificates
cc            amd64,arm64 libgcc-s1 libgomp1 libstdc++6
busybox       amd64,arm64 busybox-static
git           amd64       git
sqlite3       amd64       sqlite3
openssl       amd64       openssl
perl          amd64       perl-base
python3-full  amd64       python3
presets       amd64,arm64 base-files netbase tzdata tzdata-legacy media-types ca-certificates libc6 libssl3t64 libzstd1 zlib1g libgomp1 libstdc++6 libgcc-s1 gcc-14-base libbz2-1.0 libdb5.3t64 libexpat1 liblzma5 libsqlite3-0 libuuid1 libncursesw6 libtinfo6 libcom-err2 libcrypt1 libc-bin libgssapi-krb5-2 libk5crypto3 libkeyutils1 libkrb5-3 libkrb5support0 libnsl2 libreadline8t64 libtirpc3t64 libffi8 libpython3.13-minimal libpython3.13-stdlib python3.13-minimal python3.13-venv busybox-static
presets-amd64 amd64       libjpeg62-turbo liblcms2-2 libfreetype6 fonts-dejavu-core fontconfig-config libfontconfig1 libbrotli1 libpng16-16t64 openjdk-21-jre-headless nodejs
armhf         armhf       base-files netbase tzdata tzdata-legacy media-types ca-certificates libc6 libssl3t64 libzstd1 zlib1g busybox-static
minbase       amd64       apt base-files base-passwd bash bsdutils coreutils dash debconf debianutils diffutils dpkg findutils grep gzip hostname init-system-helpers libc-bin libpam-modules libpam-modules-bin libpam-runtime login login.defs mawk mount ncurses-base ncurses-bin passwd perl-base sed sysvinit-utils tar tzdata util-linux
'
# bookworm (Debian 12): the presets' packages there (src/build/presets.cc,
# the bookworm branch; tests/e2e/test_presets_bookworm.sh), amd64; arm64 and
# armhf are exercised on trixie. big-end: the static and base presets,
# busybox-static and libc-bin (its static ldconfig reads the images' caches
# under qemu) for s390x (big-endian) and ppc64el
# (tests/e2e/test_presets_s390x_ppc64le.sh).
DM_PACKAGE_SETS_BOOKWORM='
big-end       s390x,ppc64el base-files netbase tzdata media-types ca-certificates libc6 libssl3 libc-bin busybox-static
presets       amd64       base-files netbase tzdata media-types ca-certificates libc6 libssl3 libgomp1 libstdc++6 libgcc-s1 gcc-12-base libbz2-1.0 libdb5.3 libexpat1 liblzma5 libsqlite3-0 libuuid1 libncursesw6 libtinfo6 python3-distutils zlib1g libcom-err2 libcrypt1 libgssapi-krb5-2 libk5crypto3 libkeyutils1 libkrb5-3 libkrb5support0 libnsl2 libreadline8 libtirpc3 libffi8 libpython3.11-minimal libpython3.11-stdlib python3.11-minimal libc-bin busybox-static
presets-amd64 amd64       libjpeg62-turbo liblcms2-2 libfreetype6 fonts-dejavu-core fontconfig-config libfontconfig1 libbrotli1 libpng16-16 libharfbuzz0b libgraphite2-3 libpcre2-8-0 libglib2.0-0 openjdk-17-jre-headless nodejs
'
# The architectures fetched and published for the suite.
DM_SUITE_ARCHS='amd64,arm64,armhf'
if [ "$DISTILL_TEST_SUITE" = bookworm ]; then
    DM_PACKAGE_SETS=$DM_PACKAGE_SETS_BOOKWORM
    DM_SUITE_ARCHS='amd64,s390x,ppc64el'
fi
# Packages fetched in addition to the sets (for every architecture fetched).
DM_EXTRA_FETCH='debconf'

# dm_sets: prints the set table without blank lines.
dm_sets() { printf '%s\n' "$DM_PACKAGE_SETS" | awk 'NF >= 3'; }

# dm_inst_lines: reads `apt-get --simulate` output on stdin and prints the
# packages it would install as sorted `name:arch=version` lines (arch as apt
# prints it in brackets: "all" for Architecture: all packages).
dm_inst_lines() {
    sed -nE 's/^Inst ([^ ]+) (\[[^]]*\] )?\(([^ ]+) .*\[([^]]+)\]\).*$/\1 \3 \4/p' |
        awk '{ n = $1; sub(/:.*/, "", n); print n ":" $3 "=" $2 }' | LC_ALL=C sort -u
}

# dm_deb_filename NAME VERSION ARCH: the file name apt gives a downloaded .deb
# (':' in the version, i.e. the epoch separator, is written as %3a).
dm_deb_filename() { printf '%s_%s_%s.deb\n' "$1" "${2//:/%3a}" "$3"; }

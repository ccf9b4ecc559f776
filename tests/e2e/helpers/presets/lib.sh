# shellcheck shell=bash
# Shared by tests/e2e/test_presets*.sh: the local mirror with the presets'
# packages, distroless's expected package lists and config (reference:
# distroless.md §3-§5), preset builds, the structure checks of a built
# preset image, and a private podman store. Source it after lib.sh and
# lib_mirror.sh:
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/lib_mirror.sh"
#   . "$(dirname "$0")/helpers/presets/lib.sh"

PRESETS_HELPERS=$E2E_DIR/helpers/presets
PRESETS=(static base-nossl base cc python3 java nodejs)
# shellcheck disable=SC2034 # used by the tests
VARIANTS=(latest nonroot debug debug-nonroot)

# ------------------------------------------------------------ expectations

# The suite (lib_mirror.sh: MIRROR_SUITE, trixie or bookworm) decides the
# expectations below.
PRESET_SUITE=$MIRROR_SUITE

# Distroless's package lists for debian13 (distroless.md §3; tzdata-legacy
# since PR #2018) and the historical debian12 ones, with distill's choices
# where distroless uses non-Debian content: java is Debian's
# openjdk-21-jre-headless (bookworm: openjdk-17), nodejs is Debian's nodejs
# with its dependency closure; bookworm's python3 adds libc-bin, as trixie's
# (find_library needs /sbin/ldconfig). ca-certificates is the derived
# package (bundle only) in every image.
if [ "$PRESET_SUITE" = bookworm ]; then
_P_STATIC="base-files netbase tzdata media-types ca-certificates"
_P_BASE_NOSSL="$_P_STATIC libc6"
_P_BASE="$_P_BASE_NOSSL libssl3"
_P_CC="$_P_BASE libgomp1 libstdc++6 libgcc-s1 gcc-12-base"
_P_PYTHON3="$_P_CC libbz2-1.0 libdb5.3 libexpat1 liblzma5 libsqlite3-0 libuuid1 libncursesw6 libtinfo6
  python3-distutils zlib1g libcom-err2 libcrypt1 libc-bin libgssapi-krb5-2 libk5crypto3 libkeyutils1 libkrb5-3
  libkrb5support0 libnsl2 libreadline8 libtirpc3 libffi8 libpython3.11-minimal libpython3.11-stdlib python3.11-minimal"
_P_JAVA="$_P_BASE_NOSSL zlib1g libjpeg62-turbo liblcms2-2 libfreetype6 fonts-dejavu-core fontconfig-config libexpat1
  libfontconfig1 libuuid1 libbrotli1 libcrypt1 libstdc++6 libgcc-s1 gcc-12-base libpng16-16 libbz2-1.0
  libharfbuzz0b libgraphite2-3 libpcre2-8-0 libglib2.0-0 libc-bin openjdk-17-jre-headless"
_P_NODEJS="$_P_CC nodejs"
# The interpreter and JVM the presets hold.
PRESET_PYTHON=python3.11
PRESET_JAVA_MAJOR=17
PRESET_SUITE_NUMBER=12
else
_P_STATIC="base-files netbase tzdata tzdata-legacy media-types ca-certificates"
_P_BASE_NOSSL="$_P_STATIC libc6"
_P_BASE="$_P_BASE_NOSSL libssl3t64 libzstd1 zlib1g"
_P_CC="$_P_BASE libgomp1 libstdc++6 libgcc-s1 gcc-14-base"
_P_PYTHON3="$_P_CC libbz2-1.0 libdb5.3t64 libexpat1 liblzma5 libsqlite3-0 libuuid1 libncursesw6 libtinfo6
  libcom-err2 libcrypt1 libc-bin libgssapi-krb5-2 libk5crypto3 libkeyutils1 libkrb5-3 libkrb5support0 libnsl2
  libreadline8t64 libtirpc3t64 libffi8 libpython3.13-minimal libpython3.13-stdlib python3.13-minimal python3.13-venv"
_P_JAVA="$_P_BASE_NOSSL zlib1g libjpeg62-turbo liblcms2-2 libfreetype6 fonts-dejavu-core fontconfig-config libexpat1
  libfontconfig1 libuuid1 libbrotli1 libcrypt1 libstdc++6 libgcc-s1 gcc-14-base libpng16-16t64 libbz2-1.0
  libc-bin openjdk-21-jre-headless"
_P_NODEJS="$_P_CC nodejs"
PRESET_PYTHON=python3.13
PRESET_JAVA_MAJOR=21
PRESET_SUITE_NUMBER=13
fi
# Trixie and later are merged-/usr; bookworm keeps /bin, /lib... apart.
PRESET_MERGED_USR=1
[ "$PRESET_SUITE" = bookworm ] && PRESET_MERGED_USR=0

# preset_packages NAME: the expected packages, sorted, one a line. For nodejs
# these are only the listed ones; its closure adds more.
preset_packages() {
  local v
  case $1 in
    static) v=$_P_STATIC ;; base-nossl) v=$_P_BASE_NOSSL ;; base) v=$_P_BASE ;; cc) v=$_P_CC ;;
    python3) v=$_P_PYTHON3 ;; java) v=$_P_JAVA ;; nodejs) v=$_P_NODEJS ;;
    *) fail "preset_packages: unknown preset $1" ;;
  esac
  printf '%s\n' $v | LC_ALL=C sort -u
}

# Packages a distroless image must never hold (shells, package managers,
# what would bring them in).
FORBIDDEN_PACKAGES="bash dash busybox busybox-static coreutils dpkg apt debconf perl-base util-linux login passwd"
# Basenames of executables a non-debug image must not hold anywhere.
FORBIDDEN_BINARIES="sh bash dash rbash ash busybox apt apt-get apt-cache apt-config apt-key apt-mark dpkg dpkg-deb
  dpkg-query dpkg-divert dpkg-split dpkg-trigger dpkg-statoverride"

# preset_entrypoint NAME VARIANT: the config Entrypoint as compact JSON
# (distroless.md §5; nodejs is Debian's, at /usr/bin/node).
preset_entrypoint() {
  case $1 in
    python3) echo "[\"/usr/bin/$PRESET_PYTHON\"]" ;;
    java) echo '["/usr/bin/java","-jar"]' ;;
    nodejs) echo '["/usr/bin/node"]' ;;
    *) case $2 in debug | debug-nonroot) echo '["/busybox/sh"]' ;; *) echo null ;; esac ;;
  esac
}

# preset_env NAME VARIANT: the config Env as compact JSON.
preset_env() {
  local path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  case $2 in debug | debug-nonroot) path+=:/busybox ;; esac
  local env="[\"PATH=$path\",\"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt\""
  case $1 in python3 | java) env+=',"LANG=C.UTF-8"' ;; esac
  echo "$env]"
}

# preset_loader ARCH (OCI name): the glibc ELF interpreter programs name.
preset_loader() {
  case $1 in
    amd64) echo /lib64/ld-linux-x86-64.so.2 ;;
    arm64) echo /lib/ld-linux-aarch64.so.1 ;;
    arm) echo /lib/ld-linux-armhf.so.3 ;;
    s390x) echo /lib/ld64.so.1 ;;
    ppc64le) echo /lib64/ld64.so.2 ;;
    *) fail "preset_loader: no loader known for $1" ;;
  esac
}

# in_root ROOT PATH: the host path of PATH in the unpacked tree ROOT, its
# symlinks (absolute ones too) followed inside ROOT.
in_root() { "$PYTHON" "$PRESETS_HELPERS/in_root.py" "$1" "$2"; }

# ORACLE_LDCONFIG[ARCH]: a static ldconfig of a foreign ARCH (run through
# qemu's binfmt_misc handler), set by the tests that have one.
declare -A ORACLE_LDCONFIG=()

preset_user() { case $1 in nonroot | debug-nonroot) echo 65532 ;; *) echo 0 ;; esac; }
preset_workdir() { case $1 in nonroot | debug-nonroot) echo /home/nonroot ;; *) echo / ;; esac; }
is_debug() { case $1 in debug | debug-nonroot) return 0 ;; *) return 1 ;; esac; }

EXPECTED_PASSWD='root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin'
EXPECTED_GROUP='root:x:0:
nobody:x:65534:
tty:x:5:
staff:x:50:
nonroot:x:65532:'
EXPECTED_NSSWITCH='# /etc/nsswitch.conf
#
# Example configuration of GNU Name Service Switch functionality.
# If you have the `glibc-doc-reference'"'"' and `info'"'"' packages installed, try:
# `info libc "Name Service Switch"'"'"' for information about this file.

passwd:         compat
group:          compat
shadow:         compat
gshadow:        files

hosts:          files dns
networks:       files

protocols:      db files
services:       db files
ethers:         db files
rpc:            db files

netgroup:       nis'
EXPECTED_OS_RELEASE='PRETTY_NAME="Distroless"
NAME="Debian GNU/Linux"
ID="debian"
VERSION_ID="'$PRESET_SUITE_NUMBER'"
VERSION="Debian GNU/Linux '"$PRESET_SUITE_NUMBER ($PRESET_SUITE)"'"
HOME_URL="https://github.com/GoogleContainerTools/distroless"
SUPPORT_URL="https://github.com/GoogleContainerTools/distroless/blob/master/README.md"
BUG_REPORT_URL="https://github.com/GoogleContainerTools/distroless/issues/new"'

# ------------------------------------------------------------ mirror

# presets_mirror_start ARCH...: mirror_start, making sure the fixtures'
# cache holds the presets' package sets of tests/mirror/lib.sh (fetched
# again when their closures are missing or older than the set table), and
# that the mirror's index has every listed package for each ARCH.
presets_mirror_start() {
  local clos=$DISTILL_TEST_CACHE/closures/$PRESET_SUITE f lists=(presets.amd64 presets-amd64.amd64)
  [ "$PRESET_SUITE" = bookworm ] || lists+=(presets.arm64)
  for f in "${lists[@]/#/$clos/}"; do
    f=$f.list
    if [ ! -s "$f" ] || [ "$f" -ot "$MIRROR_SCRIPTS/lib.sh" ]; then
      note "the presets' package sets are not fetched yet: running fetch-debs.sh"
      # shellcheck disable=SC2034 # read by lib_mirror.sh's mirror_start
      E2E_MIRROR_FETCH=always
      break
    fi
  done
  mirror_start
  local arch name missing=() names
  for arch in "$@"; do
    names=$(sed -n 's/^Package: //p' "$MIRROR_DIR/dists/$PRESET_SUITE/main/binary-$arch/Packages" | sort -u)
    for name in $(for p in "${PRESETS[@]}"; do
      if [ "$arch" = amd64 ] || [[ $p != java && $p != nodejs ]]; then preset_packages "$p"; fi
    done | sort -u) busybox-static; do
      grep -qxF "$name" <<<"$names" || missing+=("$name:$arch")
    done
  done
  [ ${#missing[@]} = 0 ] || fail "the local mirror lacks packages of the presets: ${missing[*]}" \
    "the package sets 'presets' and 'presets-amd64' of tests/mirror/lib.sh should bring them"
}

# ------------------------------------------------------------ builds

# preset_build PRESET[:VARIANT] DEST [ARGS...]: distill build --preset from
# the local mirror; must succeed. The JSON report goes to stdout.
preset_build() {
  local preset=$1 dest=$2 rc=0
  shift 2
  "$DISTILL" build --preset "$preset" --suite "$PRESET_SUITE" -o "$dest" --mirror "$MIRROR_URL" --keyring "$MIRROR_KEYRING" \
    --format json -q "$@" >"$T/build.out" 2>"$T/build.err" || rc=$?
  [ $rc = 0 ] || fail "distill build --preset $preset failed with status $rc" \
    "command: distill build --preset $preset --suite $PRESET_SUITE -o $dest --mirror $MIRROR_URL --keyring $MIRROR_KEYRING --format json -q $*" \
    "stderr:" "$(_show "$T/build.err")"
  cat "$T/build.out"
}

# spec_build SPEC DEST [ARGS...]: a spec (from: preset:...) from the mirror.
spec_build() {
  local spec=$1 dest=$2
  shift 2
  distill_build "$spec" "$dest" --suite "$PRESET_SUITE" --mirror "$MIRROR_URL" --keyring "$MIRROR_KEYRING" --format json -q "$@"
}

# ------------------------------------------------------------ structure

# check_preset_structure NAME VARIANT LAYOUT:TAG ARCH: the checks of a built
# preset image, from `distill inspect --format json` and a `umoci unpack`
# of it (as root: real owners). Independent checks run with `soft`, so one
# call reports every failure of the image.
check_preset_structure() {
  local name=$1 variant=$2 ref=$3 arch=$4
  local id=$name:$variant/$arch
  local dir=${ref%:*}
  CS_JSON=$T/inspect.$name-$variant-$arch.json
  "$DISTILL" inspect "oci:$ref" --arch "$arch" --format json -q >"$CS_JSON" 2>"$T/inspect.err" ||
    fail "distill inspect oci:$ref failed ($id)" "$(cat "$T/inspect.err")"
  CS_MANIFEST=$T/manifest.$name-$variant-$arch.json
  local mdigest
  mdigest=$(jq -r --arg a "$arch" '.manifests[] | select(.mediaType == "application/vnd.oci.image.index.v1+json" | not)
      | select((.platform.architecture // $a) == $a) | .digest' "$dir/index.json" | head -n1)
  if [ -z "$mdigest" ] || [ "$mdigest" = null ]; then
    # A multi-platform layout: the index.json points to an index.
    local idx
    idx=$(jq -r '.manifests[0].digest' "$dir/index.json")
    mdigest=$(jq -r --arg a "$arch" '.manifests[] | select(.platform.architecture == $a) | .digest' "$(blob_path "$dir" "$idx")")
  fi
  cp "$(blob_path "$dir" "$mdigest")" "$CS_MANIFEST"
  CS_ROOT=$T/bundle.$name-$variant-$arch/rootfs
  rm -rf "${CS_ROOT%/rootfs}"
  umoci unpack --image "$ref" "${CS_ROOT%/rootfs}" >"$T/umoci.log" 2>&1 ||
    fail "umoci unpack --image $ref failed ($id)" "$(_show "$T/umoci.log")"
  CS_NAME=$name CS_VARIANT=$variant CS_ARCH=$arch CS_ID=$id CS_DIR=$dir
  soft "$id config" _cs_config
  # A nonroot variant differs from its root twin (checked before it) only in
  # the config: the same layers, so the tree checks need not run twice.
  local twin=
  case $variant in nonroot) twin=latest ;; debug-nonroot) twin=debug ;; esac
  if [ -n "$twin" ] && [ -f "$T/inspect.$name-$twin-$arch.json" ]; then
    local ours theirs
    ours=$(jq -c '[.layers[].digest]' "$CS_JSON")
    theirs=$(jq -c '[.layers[].digest]' "$T/inspect.$name-$twin-$arch.json")
    if [ "$ours" = "$theirs" ]; then
      note "$id: the layers of $name:$twin (tree checked there)"
      rm -rf "${CS_ROOT%/rootfs}"
      return 0
    fi
    soft "$id layers = $name:$twin's" fail "$id's layers differ from $name:$twin's: a variant should change the config only" \
      "$id: $ours" "$name:$twin: $theirs"
  fi
  soft "$id inspect listing = unpacked tree" _cs_listing
  if [ "$variant" = latest ] && [ -n "${MIRROR_DIR:-}" ]; then
    soft "$id package files unchanged" _cs_contents
  fi
  soft "$id generated files" _cs_generated
  if [ "$PRESET_MERGED_USR" = 1 ]; then
    soft "$id merged /usr" _cs_merged_usr
  else
    soft "$id split /usr" _cs_split_usr
  fi
  soft "$id /usr layout of every layer" _cs_layers_usr
  soft "$id dpkg metadata" _cs_status_d
  soft "$id no setuid or setgid" _cs_no_setid
  if is_debug "$variant"; then
    soft "$id busybox" _cs_busybox
  else
    soft "$id no shell or package manager" _cs_no_shell
  fi
  case $name in
    java) soft "$id java" _cs_java ;;
    python3) soft "$id python3" _cs_python3 ;;
  esac
  rm -rf "${CS_ROOT%/rootfs}"
}

# distill inspect's file list is the tree umoci unpacks: same paths,
# types, modes, owners and symlink targets.
_cs_listing() {
  local theirs ours
  ours=$(jq -r '.files[] | "\(.path | ltrimstr("/")) \({"file": "f", "directory": "d", "symlink": "l"}[.type] // .type) \(.mode | ltrimstr("0") | ltrimstr("0") | ltrimstr("0")) \(.uid):\(.gid) \(.target // "")"' "$CS_JSON" |
    sed 's/ $//' | LC_ALL=C sort)
  theirs=$(cd "$CS_ROOT" && find . -mindepth 1 -printf '%P %y %m %U:%G %l\n' | sed 's/ $//' | LC_ALL=C sort)
  if [ "$ours" != "$theirs" ]; then
    fail "distill inspect's file list of $CS_ID differs from the tree umoci unpacks" \
      "$(diff <(echo "$ours") <(echo "$theirs") | head -n 30)" "(< inspect, > umoci)"
  fi
}

# The listed packages' files are in the image unchanged (bytes, modes,
# symlink targets; merged /usr), except the docs distill strips; the status.d
# records are the .debs' control and md5sums members verbatim.
_cs_contents() {
  local tree=$T/debtree.$CS_NAME-$CS_ARCH name version arch deb
  rm -rf "$tree"
  mkdir -p "$tree"
  MD5_LISTED_ABSENT=0
  while read -r name; do
    version=$(sed -n 's/^Version: //p' "$CS_ROOT/var/lib/dpkg/status.d/$name")
    arch=$(sed -n 's/^Architecture: //p' "$CS_ROOT/var/lib/dpkg/status.d/$name")
    deb=$(find "$MIRROR_DIR/pool" -name "${name}_${version#*:}_${arch}.deb" | head -n1)
    [ -n "$deb" ] || fail "$CS_ID: no .deb for $name $version $arch in the mirror"
    dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./control >"$T/control"
    cmp -s "$T/control" "$CS_ROOT/var/lib/dpkg/status.d/$name" ||
      fail "$CS_ID: status.d/$name is not the .deb's control file verbatim" \
        "$(diff "$T/control" "$CS_ROOT/var/lib/dpkg/status.d/$name" | head -n 10)"
    dpkg-deb --ctrl-tarfile "$deb" | tar -t >"$T/ctrl.list"
    if grep -qx './md5sums' "$T/ctrl.list"; then
      dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./md5sums >"$T/md5sums"
      _cs_md5sums "$name" "$T/md5sums" "$CS_ROOT/var/lib/dpkg/status.d/$name.md5sums"
    fi
    case $CS_NAME:$name in *:ca-certificates | *:busybox-static | java:libc-bin) continue ;; esac  # derived
    dpkg-deb -x "$deb" "$tree"
  done < <(find "$CS_ROOT/var/lib/dpkg/status.d" -maxdepth 1 -type f ! -name '*.md5sums' -printf '%f\n' | LC_ALL=C sort)
  local layout=--merged-usr
  [ "$PRESET_MERGED_USR" = 1 ] || layout=--split-usr
  [ "$MD5_LISTED_ABSENT" = 0 ] || note "$CS_ID: the md5sums list $MD5_LISTED_ABSENT files the image does not hold (stripped)"
  "$PYTHON" "$PRESETS_HELPERS/compare_debs.py" "$layout" "$CS_ROOT" "$tree" >"$T/compare.out" 2>&1 ||
    fail "$CS_ID: package files differ from the .debs" "$(cat "$T/compare.out")"
  note "$CS_ID: $(tail -n1 "$T/compare.out")"
  rm -rf "$tree"
}

# _cs_md5sums NAME DEB_MD5SUMS IMAGE_MD5SUMS: the image's md5sums are the
# .deb's lines (distroless copies them verbatim; distill may leave out the
# lines of files it strips): no line changed or added, only lines of files
# absent from the image left out, and every listed file that is present has
# that md5.
_cs_md5sums() {
  local name=$1 out
  out=$("$PYTHON" "$PRESETS_HELPERS/md5sums_check.py" "$CS_ROOT" "$2" "$3") ||
    fail "$CS_ID: md5sums_check.py failed for $name"
  assert_eq "" "$(sed -n 's/^added //p' <<<"$out")" "$CS_ID: lines of status.d/$name.md5sums that are not in the .deb's md5sums"
  assert_eq "" "$(sed -n 's/^present //p' <<<"$out")" "$CS_ID: files in the image whose lines status.d/$name.md5sums leaves out"
  case $name in
    ca-certificates) ;; # derived: its files are not the package's
    *) assert_eq "" "$(sed -n 's/^bad //p' <<<"$out")" "$CS_ID: files whose md5 is not the one in status.d/$name.md5sums" ;;
  esac
  MD5_LISTED_ABSENT=$((MD5_LISTED_ABSENT + $(sed -n 's/^absent //p' <<<"$out")))
}

_cs_file() { jq -c --arg p "$1" '.files[] | select(.path == $p)' "$CS_JSON"; }

_cs_config() {
  local c=$CS_JSON
  assert_jq "$c" '.config.config.User' "$(preset_user "$CS_VARIANT")" "User of $CS_ID"
  assert_jq "$c" '.config.config.WorkingDir' "$(preset_workdir "$CS_VARIANT")" "WorkingDir of $CS_ID"
  assert_jq "$c" '.config.config.Env | tojson' "$(preset_env "$CS_NAME" "$CS_VARIANT")" "Env of $CS_ID"
  assert_jq "$c" '.config.config.Entrypoint | tojson' "$(preset_entrypoint "$CS_NAME" "$CS_VARIANT")" "Entrypoint of $CS_ID"
  assert_jq "$c" '.config.config.Cmd | tojson' null "Cmd of $CS_ID (distroless sets none)"
  assert_jq "$c" '.config.architecture' "$CS_ARCH" "architecture of $CS_ID"
  assert_jq "$c" '.config.os' linux "os of $CS_ID"
  assert_jq "$c" '.config.created' 1970-01-01T00:00:00Z "created of $CS_ID"
  assert_jq "$CS_MANIFEST" '.annotations["org.opencontainers.image.source"]' \
    https://github.com/GoogleContainerTools/distroless "manifest annotation of $CS_ID"
}

# _cs_entry PATH "TYPE MODE UID:GID" [WHAT]: type, mode and owner of a path
# in the inspect listing and in the unpacked rootfs.
_cs_entry() {
  local got
  got=$(_cs_file "$1" | jq -r '"\(.type) \(.mode) \(.uid):\(.gid)"')
  assert_eq "$2" "$got" "${3:-$1} in distill inspect's listing of $CS_ID"
  got=$(stat -c '%F %a %u:%g' "$CS_ROOT$1" 2>&1 | sed 's/^directory/directory/; s/^regular file/file/; s/^regular empty file/file/; s/^symbolic link/symlink/')
  local want=$2
  # stat prints modes without leading zeros.
  want=$(awk '{ m = $2; sub(/^0+/, "", m); print $1, m, $3 }' <<<"$want")
  assert_eq "$want" "$got" "${3:-$1} in the unpacked rootfs of $CS_ID"
}

_cs_generated() {
  local R=$CS_ROOT
  assert_eq "$EXPECTED_PASSWD" "$(cat "$R/etc/passwd")" "/etc/passwd of $CS_ID (distroless.md §4.2)"
  assert_eq "$(printf '%s\n' "$EXPECTED_PASSWD" | sha256sum)" "$(sha256sum <"$R/etc/passwd")" "/etc/passwd bytes (final newline) of $CS_ID"
  assert_eq "$(printf '%s\n' "$EXPECTED_GROUP" | sha256sum)" "$(sha256sum <"$R/etc/group")" \
    "/etc/group of $CS_ID (distroless.md §4.3): $(cat -A "$R/etc/group" | tr '\n' ' ')"
  assert_eq "$(printf '%s\n' "$EXPECTED_OS_RELEASE" | sha256sum)" "$(sha256sum <"$R/usr/lib/os-release")" \
    "/usr/lib/os-release of $CS_ID (distroless.md §4.7): $(cat "$R/usr/lib/os-release")"
  _cs_entry /usr/lib/os-release "file 0555 0:0"
  _cs_entry /etc/passwd "file 0644 0:0"
  _cs_entry /etc/group "file 0644 0:0"
  _cs_entry /etc/nsswitch.conf "file 0644 0:0"
  [ -L "$R/etc/os-release" ] || fail "/etc/os-release of $CS_ID is not a symlink" "$(ls -l "$R/etc/os-release" 2>&1)"
  case $(readlink "$R/etc/os-release") in
    ../usr/lib/os-release | /usr/lib/os-release) ;;
    *) fail "/etc/os-release of $CS_ID must point to /usr/lib/os-release" "got: $(readlink "$R/etc/os-release")" ;;
  esac
  _cs_entry /tmp "directory 1777 0:0"
  _cs_entry /root "directory 0700 0:0"
  _cs_entry /home "directory 0755 0:0"
  _cs_entry /home/nonroot "directory 0700 65532:65532"
  assert_eq "$(printf '%s\n' "$EXPECTED_NSSWITCH" | sha256sum)" "$(sha256sum <"$R/etc/nsswitch.conf")" \
    "/etc/nsswitch.conf of $CS_ID (distroless.md §4.6): $(diff <(printf '%s\n' "$EXPECTED_NSSWITCH") "$R/etc/nsswitch.conf" | head -n 10)"
  # No maintainer scripts ran: no /etc/localtime or /etc/timezone (UTC).
  assert_absent "$R/etc/localtime" "$CS_ID must have no /etc/localtime (tzdata's postinst does not run)"
  assert_absent "$R/etc/timezone" "$CS_ID must have no /etc/timezone"
  # CA bundle: derived from ca-certificates, mode 0555, > 100 certificates.
  _cs_entry /etc/ssl/certs/ca-certificates.crt "file 0555 0:0"
  local n
  n=$(grep -c 'BEGIN CERTIFICATE' "$R/etc/ssl/certs/ca-certificates.crt" || true)
  [ "$n" -gt 100 ] || fail "$CS_ID's CA bundle holds $n certificates, expected > 100"
  # Only the bundle: not the package's certificate tree (distroless.md §4.8).
  [ ! -e "$R/usr/share/ca-certificates" ] || fail "$CS_ID holds /usr/share/ca-certificates (distroless keeps only the bundle)"
  # No /etc/shadow, no nologin binary (distroless.md §4.2).
  assert_absent "$R/etc/shadow" "$CS_ID must have no /etc/shadow"
  # tzdata is whole (zoneinfo), with no /etc/localtime (no maintainer scripts).
  [ -f "$R/usr/share/zoneinfo/Europe/Paris" ] || fail "$CS_ID lacks /usr/share/zoneinfo/Europe/Paris (tzdata)"
  [ -e "$R/usr/share/zoneinfo/US/Eastern" ] || fail "$CS_ID lacks /usr/share/zoneinfo/US/Eastern (tzdata-legacy; in bookworm, tzdata)"
  # ld.so.cache where there is a libc, never in static.
  if [ "$CS_NAME" = static ]; then
    assert_absent "$R/etc/ld.so.cache" "static ($CS_ID) has no libc, hence no /etc/ld.so.cache"
  else
    [ -s "$R/etc/ld.so.cache" ] || fail "$CS_ID has libc6 but no /etc/ld.so.cache"
    assert_eq "glibc-ld.so.cache1.1" "$(head -c 20 "$R/etc/ld.so.cache")" "/etc/ld.so.cache format of $CS_ID"
    # Oracle: glibc's ldconfig of the image's architecture (the host's, or
    # the test's ORACLE_LDCONFIG[ARCH], run through qemu) run on the
    # unpacked tree finds the same libraries (paths may differ: /lib vs
    # /usr/lib, both valid merged /usr), and reads the image's cache, which
    # it would refuse in the wrong byte order.
    local ldconfig=
    if [ "$CS_ARCH" = "$(dpkg --print-architecture 2>/dev/null)" ] && [ -x /sbin/ldconfig ]; then
      ldconfig=/sbin/ldconfig
    elif [ -n "${ORACLE_LDCONFIG[$CS_ARCH]:-}" ]; then
      ldconfig=${ORACLE_LDCONFIG[$CS_ARCH]}
    fi
    if [ -n "$ldconfig" ]; then
      "$ldconfig" -r "$R" -C /tmp/.oracle-ld.so.cache -X 2>"$T/ldconfig.err" ||
        fail "$ldconfig -r failed on $CS_ID's tree" "$(cat "$T/ldconfig.err")"
      local ours theirs
      theirs=$("$ldconfig" -p -C "$R/tmp/.oracle-ld.so.cache" | awk '/=>/ { print $1, $2 }' | LC_ALL=C sort)
      ours=$("$ldconfig" -p -C "$R/etc/ld.so.cache" 2>&1 | awk '/=>/ { print $1, $2 } !/=>|libs found/' | LC_ALL=C sort)
      rm -f "$R/tmp/.oracle-ld.so.cache" "$R/var/cache/ldconfig/aux-cache"
      [ -n "$theirs" ] || fail "$ldconfig -r found no libraries in $CS_ID's tree"
      assert_eq "$theirs" "$ours" "libraries in $CS_ID's /etc/ld.so.cache vs $ldconfig -r on its tree"
    fi
  fi
  # Every package's copyright is there (distroless.md §4.13), through
  # /usr/share/doc/<pkg> symlinks too, unless such a symlink points to a
  # package that the preset does not list (as python3.13-venv -> python3.13).
  local p d t
  while read -r p; do
    d=$R/usr/share/doc/$p
    if [ -L "$d" ]; then
      t=$(readlink "$d")
      case $t in /*) d=$R$t ;; *) d=$R/usr/share/doc/$t ;; esac
      [ -e "$d" ] || continue
    fi
    [ -f "$d/copyright" ] || fail "$CS_ID: /usr/share/doc/$p/copyright is missing"
  done < <(find "$R/var/lib/dpkg/status.d" -maxdepth 1 -type f ! -name '*.md5sums' -printf '%f\n')
}

# Each layer tar on its own (layer_usr.py), for the suite's layout.
_cs_layers_usr() {
  local layers=() d layout=--merged-usr
  [ "$PRESET_MERGED_USR" = 1 ] || layout=--split-usr
  for d in $(jq -r '.layers[].digest' "$CS_MANIFEST"); do layers+=("$(blob_path "$CS_DIR" "$d")"); done
  [ ${#layers[@]} -gt 0 ] || fail "$CS_ID: no layers in its manifest"
  "$PYTHON" "$PRESETS_HELPERS/layer_usr.py" "$layout" "${layers[@]}" >"$T/layer_usr.out" 2>&1 ||
    fail "$CS_ID: layers against the $PRESET_SUITE /usr layout ($layout)" "$(cat "$T/layer_usr.out")"
}

# bookworm: /bin, /sbin, /lib and /lib64 are the packages' directories, as
# in Debian 12 (distroless.md: debian12 keeps the split layout).
_cs_split_usr() {
  local d want
  local loader
  loader=$(preset_loader "$CS_ARCH")
  for d in bin sbin lib lib64; do
    want=directory
    # base-files ships /bin /sbin /lib; libc6 adds /lib64 where its loader
    # is there (amd64, ppc64le).
    [ "$d" = lib64 ] && { [ "$CS_NAME" = static ] || [[ $loader != /lib64/* ]]; } && want=""
    assert_eq "$want" "$(_cs_file "/$d" | jq -r '.type')" "/$d of $CS_ID (split /usr: the packages' directory)"
  done
  if [ "$CS_NAME" != static ]; then
    [ -L "$CS_ROOT$loader" ] || [ -f "$CS_ROOT$loader" ] || fail "$CS_ID: no $loader (the ELF interpreter)"
    [ -f "$(in_root "$CS_ROOT" "$loader")" ] || fail "$CS_ID: $loader does not resolve to a file in the image"
    local usr_copies
    usr_copies=$(jq -r '.files[].path | select(test("^/usr/(bin|sbin|lib|lib64)$"))' "$CS_JSON" | while read -r d; do
      [ "$(_cs_file "$d" | jq -r .type)" = directory ] || echo "$d"
    done)
    assert_eq "" "$usr_copies" "/usr/bin /usr/sbin /usr/lib /usr/lib64 that are not directories in $CS_ID"
  fi
}

_cs_merged_usr() {
  local d want_dirs=(bin lib sbin)
  [ "$CS_ARCH" = amd64 ] && want_dirs+=(lib64)
  for d in "${want_dirs[@]}"; do
    assert_eq "symlink usr/$d" "$(_cs_file "/$d" | jq -r '"\(.type) \(.target)"')" "/$d of $CS_ID"
    assert_eq "usr/$d" "$(readlink "$CS_ROOT/$d")" "/$d in the unpacked rootfs of $CS_ID"
  done
  local under
  under=$(jq -r '.files[].path | select(test("^/(bin|sbin|lib|lib32|lib64|libx32)/"))' "$CS_JSON" | sed -n 1,20p)
  assert_eq "" "$under" "entries below /bin /sbin /lib /lib64 in $CS_ID (merged /usr: only the symlinks)"
  local other
  other=$(jq -r '.files[] | select(.path | test("^/(lib32|libx32)$")) | .path' "$CS_JSON")
  assert_eq "" "$other" "/lib32 /libx32 in $CS_ID"
  # The dynamic loader is reachable through the symlinks.
  if [ "$CS_NAME" != static ]; then
    local loader
    loader=$(preset_loader "$CS_ARCH")
    [ -f "$(in_root "$CS_ROOT" "$loader")" ] || fail "$CS_ID: $loader does not resolve to a file in the image"
  fi
}

_cs_status_d() {
  local R=$CS_ROOT sd=$CS_ROOT/var/lib/dpkg/status.d
  assert_absent "$R/var/lib/dpkg/status" "$CS_ID must have no /var/lib/dpkg/status (status.d only)"
  assert_absent "$R/var/lib/dpkg/info" "$CS_ID must have no /var/lib/dpkg/info"
  [ -d "$sd" ] || fail "$CS_ID has no /var/lib/dpkg/status.d"
  local got want p
  got=$(cd "$sd" && find . -maxdepth 1 -type f ! -name '*.md5sums' -printf '%f\n' | LC_ALL=C sort)
  want=$(preset_packages "$CS_NAME")
  # Debug variants: busybox-static has its status.d too (distroless's has
  # none; scanners should see every package an image holds).
  if is_debug "$CS_VARIANT"; then want=$(printf '%s\nbusybox-static\n' "$want" | LC_ALL=C sort -u); fi
  if [ "$CS_NAME" = nodejs ]; then
    local lacking
    lacking=$(LC_ALL=C comm -23 <(echo "$want") <(echo "$got"))
    assert_eq "" "$lacking" "listed packages without status.d in $CS_ID"
    for p in $FORBIDDEN_PACKAGES; do
      if is_debug "$CS_VARIANT" && [ "$p" = busybox-static ]; then continue; fi
      if grep -qxF "$p" <<<"$got"; then fail "$CS_ID holds package $p (nodejs's closure must bring no shell, dpkg or debconf)"; fi
    done
  else
    assert_eq "$want" "$got" "packages (status.d entries) of $CS_ID vs distroless's list (distroless.md §3)"
  fi
  # Each has its md5sums, and its control record names the package.
  for p in $got; do
    [ -s "$sd/$p.md5sums" ] || fail "$CS_ID: /var/lib/dpkg/status.d/$p.md5sums missing or empty"
    assert_eq "Package: $p" "$(head -n1 "$sd/$p")" "first line of status.d/$p in $CS_ID"
    grep -q '^Version: ' "$sd/$p" || fail "$CS_ID: status.d/$p has no Version field"
    if grep -q '^Status: ' "$sd/$p"; then fail "$CS_ID: status.d/$p has a Status: line (distroless: control verbatim)"; fi
  done
  # Every package layer's version is the version in its status.d record.
  local line name version
  while read -r line; do
    name=${line%% *}
    version=${line#* }
    [ -f "$sd/$name" ] || fail "$CS_ID: layer 'distill: package $line' has no status.d/$name"
    assert_eq "Version: $version" "$(grep '^Version: ' "$sd/$name")" "status.d/$name version vs its layer in $CS_ID"
  done < <(jq -r '.config.history[].created_by | select(startswith("distill: package ")) | sub("^distill: package "; "")' "$CS_JSON")
}

_cs_no_setid() {
  local bad
  bad=$(jq -r '.files[] | select(.type != "directory" and (.mode | length) == 4 and ((.mode[0:1] | tonumber) % 8) >= 2) | "\(.mode) \(.path)"' "$CS_JSON")
  assert_eq "" "$bad" "setuid/setgid files in $CS_ID (inspect)"
  bad=$(cd "$CS_ROOT" && find . -xdev ! -type d -perm /6000 -printf '%m %p\n')
  assert_eq "" "$bad" "setuid/setgid files in the unpacked rootfs of $CS_ID"
}

_cs_no_shell() {
  local names bad
  names=$(printf '"%s",' $FORBIDDEN_BINARIES)
  bad=$(jq -r "[${names%,}] as \$bad | .files[] | select(.type != \"directory\") | select((.path | split(\"/\") | last) as \$b | \$bad | index(\$b)) | .path" "$CS_JSON")
  assert_eq "" "$bad" "shells, busybox, apt or dpkg binaries in $CS_ID"
  local p
  for p in /bin/sh /usr/bin/sh /busybox; do
    [ ! -e "$CS_ROOT$p" ] && [ ! -L "$CS_ROOT$p" ] || fail "$CS_ID holds $p"
  done
}

_cs_busybox() {
  _cs_entry /busybox/busybox "file 0755 0:0"
  assert_eq "symlink /busybox/busybox" "$(_cs_file /busybox/sh | jq -r '"\(.type) \(.target)"')" "/busybox/sh of $CS_ID"
  # Statically linked (it must run in static, which has no libc).
  local interp
  interp=$(file -b "$CS_ROOT/busybox/busybox" 2>/dev/null || true)
  assert_not_contains "$interp" "dynamically linked" "/busybox/busybox of $CS_ID must be static"
  # Only in /busybox: nothing on the default PATH.
  [ ! -e "$CS_ROOT/bin/sh" ] && [ ! -L "$CS_ROOT/bin/sh" ] || fail "$CS_ID (debug) holds /bin/sh; busybox belongs in /busybox only"
}

_cs_java() {
  local target
  target=$(_cs_file /usr/bin/java | jq -r '"\(.type) \(.target)"')
  local jvm=/usr/lib/jvm/java-$PRESET_JAVA_MAJOR-openjdk-$CS_ARCH
  assert_eq "symlink $jvm/bin/java" "$target" "/usr/bin/java of $CS_ID"
  [ -x "$CS_ROOT$jvm/bin/java" ] || fail "$CS_ID: /usr/bin/java's target is missing"
  _cs_entry /etc/ssl/certs/java/cacerts "file 0555 0:0"
  # libc-bin is derived: its C.UTF-8 locale (LANG) and nothing else.
  [ -f "$CS_ROOT/usr/lib/locale/C.utf8/LC_CTYPE" ] || fail "$CS_ID lacks the C.UTF-8 locale (/usr/lib/locale/C.utf8)"
  local tools
  tools=$(jq -r '.files[] | select(.type != "directory") | .path | select(test("/(ldconfig|ldd|locale|localedef|iconv|getconf)$"))' "$CS_JSON")
  assert_eq "" "$tools" "libc-bin tools in $CS_ID (java takes only its C.UTF-8 locale)"
  assert_eq feedfeed "$(head -c 4 "$CS_ROOT/etc/ssl/certs/java/cacerts" | od -An -tx1 | tr -d ' \n')" "JKS magic of /etc/ssl/certs/java/cacerts in $CS_ID"
  # The JRE's own trust store is the keystore (Debian's symlink).
  local sec=$jvm/lib/security/cacerts
  [ -L "$CS_ROOT$sec" ] || fail "$CS_ID: $sec is not a symlink" "$(ls -l "$CS_ROOT$sec" 2>&1)"
  assert_eq /etc/ssl/certs/java/cacerts "$(readlink "$CS_ROOT$sec")" "$sec of $CS_ID"
}

_cs_python3() {
  local py=$PRESET_PYTHON
  assert_eq "symlink /usr/bin/$py" "$(_cs_file /usr/bin/python3 | jq -r '"\(.type) \(.target)"')" "/usr/bin/python3 of $CS_ID"
  assert_eq "symlink /usr/bin/$py" "$(_cs_file /usr/bin/python | jq -r '"\(.type) \(.target)"')" "/usr/bin/python of $CS_ID"
  [ -x "$CS_ROOT/usr/bin/$py" ] || fail "$CS_ID has no /usr/bin/$py"
  [ -f "$CS_ROOT/usr/lib/$py/venv/__init__.py" ] || fail "$CS_ID lacks the venv module"
  # trixie's python3.13-venv brings ensurepip (the wheels are not listed, as
  # in distroless); bookworm's list has no venv package.
  if [ "$PRESET_SUITE" = trixie ]; then
    [ -f "$CS_ROOT/usr/lib/$py/ensurepip/__init__.py" ] || fail "$CS_ID lacks ensurepip (python3.13-venv)"
  fi
}

# tstep TITLE: step, with the seconds since the test started.
tstep() { step "$* [${SECONDS}s]"; }

# qemu_enable NAME: 0 when programs of qemu's NAME (aarch64, arm) run here
# through binfmt_misc, else 1 with QEMU_WHY set. Installs qemu-user-static
# if it is missing and registers qemu-NAME-static if no handler is there:
# through update-binfmts when it knows the entry, else with the magic and
# mask of qemu-user-static's own /usr/lib/binfmt.d entry, but the static
# interpreter itself and the F flag (opened now, so it works inside
# containers, where the entry's P wrapper path does not exist).
qemu_enable() {
  local q=$1 bm=/proc/sys/fs/binfmt_misc
  local conf=/usr/lib/binfmt.d/qemu-$1.conf entry=/proc/sys/fs/binfmt_misc/qemu-$1
  QEMU_WHY=
  if ! command -v "qemu-$q-static" >/dev/null 2>&1; then
    note "installing qemu-user-static (apt-get)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-user-static >"$T/apt.log" 2>&1; then
      apt-get update -q >>"$T/apt.log" 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-user-static >>"$T/apt.log" 2>&1 || {
        QEMU_WHY="apt-get install qemu-user-static failed: $(tail -n 3 "$T/apt.log" | tr '\n' ' ')"
        return 1
      }
    fi
  fi
  if [ -e "$entry" ]; then
    grep -qx enabled "$entry" || echo 1 >"$entry" 2>/dev/null || true
  else
    if [ ! -e "$bm/register" ]; then
      mount -t binfmt_misc binfmt_misc "$bm" 2>"$T/mount.err" || {
        QEMU_WHY="binfmt_misc is not mounted and cannot be: $(cat "$T/mount.err")"
        return 1
      }
    fi
    if command -v update-binfmts >/dev/null 2>&1; then
      update-binfmts --enable "qemu-$q" >"$T/binfmt.log" 2>&1 || true
    fi
    if [ ! -e "$entry" ]; then
      [ -r "$conf" ] || { QEMU_WHY="no $conf to take qemu-$q's magic from"; return 1; }
      sed -E "s#:[^:]*:[A-Z]*\$#:/usr/bin/qemu-$q-static:FP#" "$conf" | tr -d '\n' >"$bm/register" 2>"$T/register.err" || true
    fi
  fi
  if [ ! -e "$entry" ] || ! grep -qx enabled "$entry"; then
    QEMU_WHY="qemu-$q could not be registered in $bm ($(cat "$T/binfmt.log" "$T/register.err" 2>/dev/null | tr '\n' ' '))"
    return 1
  fi
  if ! grep -q '^flags: .*F' "$entry"; then
    QEMU_WHY="qemu-$q is registered without the F flag: its interpreter is not reachable inside containers"
    return 1
  fi
  note "qemu-$q: $(sed -n 's/^interpreter //p' "$entry"), flags $(sed -n 's/^flags: //p' "$entry")"
}

#!/usr/bin/env bash
# Resolve + download benchmark: distill against mmdebstrap and apt-get.
#
# The python3 set (python3.13-minimal libpython3.13-stdlib ca-certificates,
# debconf excluded) from the local signed Debian mirror of tests/mirror,
# served on the loopback interface, with cold caches every run:
#
#   distill      `distill lock` (Release, signature, index, solver) plus the
#                download phase of `distill build` (the .debs, verified by
#                sha256 into the store), as distill reports it on stderr; the
#                whole lock + build (layers and OCI layout too) is shown beside
#   mmdebstrap   `mmdebstrap --variant=extract --include=<the 3 packages>`
#                (apt-get update, apt's resolution, download, extraction)
#   apt-get      `apt-get update` + `apt-get download <the resolved list>` in
#                a private apt root
#
# With --full-index the mirror's index is Debian's whole trixie main amd64
# Packages (69,000 packages, as Packages.gz and Packages.xz like Debian's
# mirrors; tests/mirror/full-index.sh) over the same pool: what every tool
# pays to read a real index, the network aside.
#
# Prints best-of-N seconds per tool and the ratios distill / peer; the goal is
# a ratio below 1 (distill faster than both). Exits 0 whatever the numbers;
# --check exits 1 on a MISS. Needs root (mmdebstrap builds as root). Installs
# nothing. See bench/README.md.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
mirror_scripts=$repo/tests/mirror

usage() {
  cat <<EOF
Usage: $0 [options]

  --runs N        timed runs per tool, interleaved; the fastest counts (default 3)
  --distill PATH  the distill binary (default: $repo/build/distill)
  --mirror-dir D  where the local mirror is built (default:
                  \${DISTILL_TEST_CACHE:-~/.cache/distill-test}/bench-mirror)
  --workdir DIR   outputs, caches and apt roots (default: a temp dir, removed at exit)
  --full-index    serve Debian's full trixie index (kept by fetch-debs.sh) over
                  the same pool instead of the test mirror's small one
  --check         exit 1 if a goal is missed (default: always exit 0)
  -h, --help      this text
EOF
}

runs=3
distill="$repo/build/distill"
mirror_dir=""
workdir=""
check=0
full_index=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    --runs=*) runs=${1#*=}; shift ;;
    --distill) distill=${2:?--distill needs a path}; shift 2 ;;
    --mirror-dir) mirror_dir=${2:?--mirror-dir needs a directory}; shift 2 ;;
    --workdir) workdir=${2:?--workdir needs a directory}; shift 2 ;;
    --check) check=1; shift ;;
    --full-index) full_index=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "resolve_download: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
die() { echo "resolve_download: $*" >&2; exit 2; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive number, not '$runs'"
[ "$(id -u)" = 0 ] || die "run it as root: mmdebstrap needs root (or unshare) to build its tree"
[ "${BASH_VERSINFO[0]}" -ge 5 ] || die "needs bash 5 or newer (for \$EPOCHREALTIME)"
missing=()
for t in mmdebstrap:mmdebstrap apt-get:apt apt-ftparchive:apt-utils gpg:gnupg gpgv:gpgv jq:jq python3:python3 \
  xz:xz-utils setsid:util-linux; do
  command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}")
done
[ ${#missing[@]} = 0 ] || die "missing tools; install the Debian packages: apt-get install ${missing[*]}"
[ -x "$distill" ] || die "no distill binary at $distill; build it first:
  cmake -S . -B build -G Ninja && ninja -C build"
distill=$(cd "$(dirname "$distill")" && pwd)/$(basename "$distill")

# shellcheck source=../tests/mirror/lib.sh disable=SC1091
. "$mirror_scripts/lib.sh"
cache=$DISTILL_TEST_CACHE_DIR
[ -n "$mirror_dir" ] || mirror_dir=$cache/bench-mirror
if [ -z "$workdir" ]; then
  workdir=$(mktemp -d "${TMPDIR:-/tmp}/distill-bench-rd.XXXXXX")
  remove_workdir=1
else
  mkdir -p "$workdir"
  workdir=$(cd "$workdir" && pwd)
  remove_workdir=0
fi
portfile=$workdir/mirror.port
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  "$mirror_scripts/stop.sh" "$portfile" >/dev/null 2>&1 || true
  if [ "$remove_workdir" = 1 ]; then rm -rf "$workdir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s\n' "$*" >&2; }

# --- the mirror (not timed) ----------------------------------------------------
log "preparing the local mirror in $mirror_dir (tests/mirror: fetch-debs.sh, make-mirror.sh)"
"$mirror_scripts/fetch-debs.sh" >"$workdir/fetch.log" 2>&1 ||
  "$mirror_scripts/fetch-debs.sh" --offline >>"$workdir/fetch.log" 2>&1 ||
  { tail -n 20 "$workdir/fetch.log" >&2; die "tests/mirror/fetch-debs.sh failed"; }
"$mirror_scripts/make-mirror.sh" "$mirror_dir" >"$workdir/make-mirror.log" 2>&1 ||
  { tail -n 20 "$workdir/make-mirror.log" >&2; die "tests/mirror/make-mirror.sh failed"; }
mirror_dir=$(cd "$mirror_dir" && pwd)
if [ "$full_index" = 1 ]; then
  rc=0
  n_index=$("$mirror_scripts/full-index.sh" "$mirror_dir" "$workdir/full-mirror" 2>"$workdir/full-index.err") || rc=$?
  [ $rc = 0 ] || { cat "$workdir/full-index.err" >&2; die "tests/mirror/full-index.sh failed (exit $rc)"; }
  mirror_dir=$workdir/full-mirror
  log "serving the full trixie index ($n_index packages) over the test mirror's pool"
fi
url=$("$mirror_scripts/serve.sh" "$mirror_dir" "$portfile" 2>"$workdir/serve.err") ||
  { cat "$workdir/serve.err" >&2; die "tests/mirror/serve.sh failed"; }
keyring=$mirror_dir/keyring.gpg
log "mirror: $url"

request=(python3.13-minimal libpython3.13-stdlib ca-certificates)
spec_text() {
  cat <<EOF
contents:
  repositories: ["deb [signed-by=$keyring] $url trixie main"]
  packages: [python3.13-minimal, libpython3.13-stdlib, ca-certificates, "!debconf"]
archs: [amd64]
EOF
}

# The resolved list (for apt-get download), from one untimed lock; checked
# against apt's own resolution.
mkdir -p "$workdir/probe"
spec_text >"$workdir/probe/image.yaml"
"$distill" lock "$workdir/probe/image.yaml" --cache-dir "$workdir/probe/cache" -q >/dev/null 2>"$workdir/probe/err" ||
  { cat "$workdir/probe/err" >&2; die "distill lock failed on the mirror"; }
lock=$workdir/probe/image.lock.json
mapfile -t resolved < <(jq -r '.architectures.amd64.packages[] | "\(.name)=\(.version)"' "$lock")
n_pkgs=${#resolved[@]}
bytes=$(jq '[.architectures.amd64.packages[].size] | add' "$lock")
"$mirror_scripts/apt-oracle.sh" --mirror "$url" --keyring "$keyring" --arch amd64 "${request[@]}" '!debconf' \
  >"$workdir/probe/apt.txt" 2>"$workdir/probe/apt.err" || { cat "$workdir/probe/apt.err" >&2; die "apt-oracle.sh failed"; }
jq -r '.architectures.amd64.packages[] | "\(.name):\(.architecture)=\(.version)"' "$lock" | sort >"$workdir/probe/distill.txt"
cmp -s "$workdir/probe/apt.txt" "$workdir/probe/distill.txt" ||
  log "WARNING: distill's resolution differs from apt's: $(diff "$workdir/probe/apt.txt" "$workdir/probe/distill.txt" | tr '\n' ' ')"
log "the set: ${request[*]} !debconf -> $n_pkgs packages, $(dm_human "$bytes")"

: >"$workdir/apt-empty.conf"   # mmdebstrap: no host apt.conf(.d) settings

# --- timing helpers ---------------------------------------------------------------
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# Requests and bytes the server logged since line $1 of its log.
served() { tail -n +"$(($1 + 1))" "$portfile.log" | awk '{ n++; if ($4 ~ /^[0-9]+$/) b += $4 } END { printf "%d %d", n, b }'; }
log_lines() { if [ -f "$portfile.log" ]; then wc -l <"$portfile.log"; else echo 0; fi; }

declare -A best=() detail=()
record() { # TOOL SECONDS DETAIL
  if [ -z "${best[$1]:-}" ] || awk -v a="$2" -v b="${best[$1]}" 'BEGIN { exit !(a < b) }'; then
    best[$1]=$2
    detail[$1]=$3
  fi
}

run_distill() {
  local d=$workdir/run-distill.$1 t0 t1 t2 dl start req
  rm -rf "$d"
  mkdir -p "$d"
  spec_text >"$d/image.yaml"
  start=$(log_lines)
  t0=$(now)
  "$distill" lock "$d/image.yaml" --cache-dir "$d/cache" >"$d/lock.out" 2>"$d/lock.err" ||
    { cat "$d/lock.err" >&2; die "distill lock failed"; }
  t1=$(now)
  "$distill" build "$d/image.yaml" -o "oci:$d/out:x" --cache-dir "$d/cache" >"$d/build.out" 2>"$d/build.err" ||
    { cat "$d/build.err" >&2; die "distill build failed"; }
  t2=$(now)
  req=$(served "$start")
  # "distill: downloading 26 packages: 16.1 MB (0.09s)"
  dl=$(sed -n 's/^distill: downloading [0-9]* packages: .*(\([0-9.]*\)s)$/\1/p' "$d/build.err" | tail -n1)
  [ -n "$dl" ] || die "no download phase time in distill build's stderr (see $d/build.err)"
  local lock_s build_s rd
  lock_s=$(elapsed "$t0" "$t1")
  build_s=$(elapsed "$t1" "$t2")
  rd=$(awk -v a="$lock_s" -v b="$dl" 'BEGIN { printf "%.3f", a + b }')
  [ "$(jq '.architectures.amd64.packages | length' "$d/image.lock.json")" = "$n_pkgs" ] || die "distill locked another set"
  printf '  run %d  distill      lock %6.3f s + download %6.3f s = %6.3f s   (whole lock + build %6.3f s; %s requests, %s)\n' \
    "$1" "$lock_s" "$dl" "$rd" "$(elapsed "$t0" "$t2")" "${req% *}" "$(dm_human "${req#* }")"
  record distill "$rd" "lock $lock_s s + download $dl s"
  record distill-build "$(elapsed "$t0" "$t2")" "lock $lock_s s + build $build_s s"
  rm -rf "$d"
}

run_mmdebstrap() {
  local d=$workdir/run-mmdebstrap.$1 t0 t1 start req
  rm -rf "$d"
  mkdir -p "$d"
  start=$(log_lines)
  t0=$(now)
  APT_CONFIG=$workdir/apt-empty.conf mmdebstrap --quiet --variant=extract --architectures=amd64 \
    --include="$(IFS=,; echo "${request[*]}")" --keyring="$keyring" \
    trixie "$d/root" "deb $url trixie main" >"$d/out" 2>"$d/err" ||
    { tail -n 30 "$d/err" >&2; die "mmdebstrap failed"; }
  t1=$(now)
  req=$(served "$start")
  [ -x "$d/root/usr/bin/python3.13" ] || die "mmdebstrap's tree has no usr/bin/python3.13"
  local s
  s=$(elapsed "$t0" "$t1")
  printf '  run %d  mmdebstrap   %6.3f s   (%s requests, %s)\n' "$1" "$s" "${req% *}" "$(dm_human "${req#* }")"
  record mmdebstrap "$s" "update + resolve + download + extract"
  rm -rf "$d"
}

run_apt() {
  local d=$workdir/run-apt.$1 t0 t1 t2 start req
  rm -rf "$d"
  dm_apt_root "$d" amd64
  printf 'deb [signed-by=%s arch=amd64] %s trixie main\n' "$keyring" "$url" >"$d/etc/apt/sources.list"
  mkdir -p "$d/dl"
  start=$(log_lines)
  t0=$(now)
  dm_apt "$d" apt-get -q update >"$d/update.out" 2>&1 || { cat "$d/update.out" >&2; die "apt-get update failed"; }
  t1=$(now)
  (cd "$d/dl" && dm_apt "$d" apt-get -q download "${resolved[@]}") >"$d/download.out" 2>&1 ||
    { cat "$d/download.out" >&2; die "apt-get download failed"; }
  t2=$(now)
  req=$(served "$start")
  ! grep -qE '^(E|W|Err):' "$d/update.out" "$d/download.out" || die "apt reported errors: $(grep -hE '^(E|W|Err):' "$d/update.out" "$d/download.out")"
  [ "$(find "$d/dl" -name '*.deb' | wc -l)" = "$n_pkgs" ] || die "apt-get download fetched $(find "$d/dl" -name '*.deb' | wc -l) of $n_pkgs .debs"
  local s
  s=$(elapsed "$t0" "$t2")
  printf '  run %d  apt-get      update %6.3f s + download %6.3f s = %6.3f s   (%s requests, %s)\n' \
    "$1" "$(elapsed "$t0" "$t1")" "$(elapsed "$t1" "$t2")" "$s" "${req% *}" "$(dm_human "${req#* }")"
  record apt-get "$s" "update $(elapsed "$t0" "$t1") s + download $(elapsed "$t1" "$t2") s"
  rm -rf "$d"
}

# --- the runs -------------------------------------------------------------------
echo "resolve + download of: ${request[*]} !debconf ($n_pkgs packages, $(dm_human "$bytes")) from $url"
echo "machine: $(nproc) CPUs, $(uname -sr); $("$distill" --version); $(mmdebstrap --version); $(apt-get --version | head -n1)"
echo "cold every run: a new distill cache, a new mmdebstrap target, a new apt root"
for i in $(seq 1 "$runs"); do
  run_distill "$i"
  run_mmdebstrap "$i"
  run_apt "$i"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "best of $runs (wall seconds):"
printf '  %-28s %8s   %s\n' "tool" "seconds" "what"
printf '  %-28s %8s   %s\n' "distill (lock + download)" "${best[distill]}" "${detail[distill]}"
printf '  %-28s %8s   %s\n' "distill (lock + whole build)" "${best[distill-build]}" "${detail[distill-build]}"
printf '  %-28s %8s   %s\n' "mmdebstrap --variant=extract" "${best[mmdebstrap]}" "${detail[mmdebstrap]}"
printf '  %-28s %8s   %s\n' "apt-get update + download" "${best[apt-get]}" "${detail[apt-get]}"
echo
echo "goals (distill / peer, lower is faster; goal < 1.00):"
missed=0
for peer in mmdebstrap apt-get; do
  r=$(ratio "${best[distill]}" "${best[$peer]}")
  verdict=PASS
  awk -v r="$r" 'BEGIN { exit !(r < 1) }' || { verdict=MISS; missed=1; }
  printf '  distill / %-11s %5s  %s   (lock + whole build: %s)\n' "$peer" "$r" "$verdict" "$(ratio "${best[distill-build]}" "${best[$peer]}")"
done
if [ "$check" = 1 ] && [ "$missed" = 1 ]; then exit 1; fi
exit 0

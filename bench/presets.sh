#!/usr/bin/env bash
# Preset benchmark: distill's distroless presets against the classic ways of
# making the same content, from the same local signed Debian mirror
# (tests/mirror), in the same run.
#
# Size, for each preset (latest variant, amd64): the compressed size of
# distill's image (its layers, at the default gzip:5) against
#   (a) the same package set packed unchanged, one gzip layer per .deb
#       (distroless's method: `dpkg-deb --fsys-tarfile x.deb | gzip -6`,
#       summed over the image's packages), and
#   (b) `mmdebstrap --variant=minbase trixie` as a tarball, gzip -6.
# Time, for python3: distill cold (fresh cache) and warm (second run) against
#   `mmdebstrap --variant=extract --include=<python3's packages>` plus
#   `podman import` of the tarball; and a rebuild where only the config
#   changes (a spec `from: preset:python3` whose env var changes).
# Goals, printed as PASS/MISS:
#   every preset smaller than (a)
#   distill cold >= 5x faster than the mmdebstrap route
#   config-only rebuild < 100 ms
#
# Exits 0 whatever the numbers (it is a benchmark); --check exits 1 on a MISS.
# See bench/README.md.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

usage() {
  cat <<EOF
Usage: $0 [options]

  --runs N        timed runs of each cold/warm build; the best counts (default 3)
  --config-runs N config-only rebuilds timed; the median counts (default 11)
  --distill PATH  the distill binary (default: $repo/build/distill)
  --workdir DIR   where outputs, caches and tarballs go (default: a new temp
                  dir under \${TMPDIR:-/tmp}, removed at exit)
  --mirror URL    use this mirror (with --keyring) instead of building and
                  serving the local test mirror of tests/mirror
  --keyring FILE  the keyring that verifies --mirror
  --no-fetch      do not run tests/mirror/fetch-debs.sh (use its cache as it is)
  --check         exit 1 if any goal is missed (default: always exit 0)
  -h, --help      this text
EOF
}

runs=3
config_runs=11
distill="$repo/build/distill"
workdir=""
mirror_url=""
keyring=""
fetch=1
check=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    --runs=*) runs=${1#*=}; shift ;;
    --config-runs) config_runs=${2:?--config-runs needs a number}; shift 2 ;;
    --config-runs=*) config_runs=${1#*=}; shift ;;
    --distill) distill=${2:?--distill needs a path}; shift 2 ;;
    --distill=*) distill=${1#*=}; shift ;;
    --workdir) workdir=${2:?--workdir needs a directory}; shift 2 ;;
    --workdir=*) workdir=${1#*=}; shift ;;
    --mirror) mirror_url=${2:?--mirror needs a URL}; shift 2 ;;
    --mirror=*) mirror_url=${1#*=}; shift ;;
    --keyring) keyring=${2:?--keyring needs a file}; shift 2 ;;
    --keyring=*) keyring=${1#*=}; shift ;;
    --no-fetch) fetch=0; shift ;;
    --check) check=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "presets bench: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
die() { echo "presets bench: $*" >&2; exit 2; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive number, not '$runs'"
[[ "$config_runs" =~ ^[1-9][0-9]*$ ]] || die "--config-runs must be a positive number, not '$config_runs'"
{ [ -n "$mirror_url" ] && [ -n "$keyring" ]; } || { [ -z "$mirror_url" ] && [ -z "$keyring" ]; } ||
  die "--mirror and --keyring go together"
[ "${BASH_VERSINFO[0]}" -ge 5 ] || die "needs bash 5 or newer (for \$EPOCHREALTIME)"

# ---------------------------------------------------------------- prerequisites
missing=()
for t in mmdebstrap podman dpkg-deb gzip jq; do
  command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
  die "missing tools (this script installs nothing): ${missing[*]}
  install with: apt-get install mmdebstrap podman dpkg gzip jq"
fi
if [ -n "$mirror_url" ] && ! command -v curl >/dev/null 2>&1; then die "--mirror needs curl"; fi
[ -x "$distill" ] || die "no distill binary at $distill; build it first:
  cd $repo && cmake -S . -B build -G Ninja && ninja -C build"
[ "$(id -u)" = 0 ] || echo "note: not root: mmdebstrap runs in unshare mode and podman rootless" >&2

# --------------------------------------------------------------------- workdir
if [ -n "$workdir" ]; then
  mkdir -p "$workdir"
  work=$(mktemp -d "$workdir/distill-presets-bench.XXXXXX")
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/distill-presets-bench.XXXXXX")
fi
# apt (inside mmdebstrap) reads the keyring as the _apt user.
chmod 0755 "$work"
# podman wants a short, lower-case store path.
pm=$(mktemp -d /tmp/pb-pm.XXXXXX)
if [ "$pm" != "${pm,,}" ]; then mv -T "$pm" "${pm,,}"; pm=${pm,,}; fi
PODMAN=(podman --root "$pm/root" --runroot "$pm/run" --tmpdir "$pm/tmp" --events-backend file)
served_port=""
cleanup() {
  set +e
  "${PODMAN[@]}" rmi -a -f >/dev/null 2>&1
  local m
  findmnt -rn -o TARGET 2>/dev/null | grep -F "$pm/" | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$pm"
  if [ -n "$served_port" ]; then "$repo/tests/mirror/stop.sh" "$served_port" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cp "$distill" "$work/distill"   # the same binary all along, whatever happens to the build tree
distill=$work/distill

ms_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }
fmt_mb() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1048576 }'; }
fmt_s() { awk -v m="$1" 'BEGIN { printf "%.2f", m / 1000 }'; }

# ---------------------------------------------------------------- the mirror
if [ -z "$mirror_url" ]; then
  echo "Preparing the local signed mirror (tests/mirror) ..."
  if [ $fetch = 1 ]; then
    "$repo/tests/mirror/fetch-debs.sh" >"$work/fetch.log" 2>&1 ||
      "$repo/tests/mirror/fetch-debs.sh" --offline >>"$work/fetch.log" 2>&1 ||
      { tail -n 20 "$work/fetch.log" >&2; die "tests/mirror/fetch-debs.sh failed"; }
  fi
  "$repo/tests/mirror/make-mirror.sh" "$work/mirror" >"$work/make-mirror.log" 2>&1 ||
    { tail -n 20 "$work/make-mirror.log" >&2; die "tests/mirror/make-mirror.sh failed"; }
  served_port=$work/mirror.port
  mirror_url=$("$repo/tests/mirror/serve.sh" "$work/mirror" "$served_port" 2>/dev/null) || die "tests/mirror/serve.sh failed"
  keyring=$work/mirror/keyring.gpg
  mirror_dir=$work/mirror
else
  mirror_dir=""
fi
echo "  mirror: $mirror_url"
MIRROR_ARGS=(--mirror "$mirror_url" --keyring "$keyring")
SOURCE="deb [signed-by=$keyring] $mirror_url trixie main"
mm_mode=root
[ "$(id -u)" = 0 ] || mm_mode=unshare

echo "Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr)"
echo "distill: $("$distill" --version 2>&1 | head -n1)"
echo

# ---------------------------------------------------------------- sizes
PRESETS=(static base-nossl base cc python3 java nodejs)
mkdir -p "$work/out" "$work/gz"
size_fail=0
declare -A DIST_SIZE PACKED_SIZE NPKG
# packed_size NAME VERSION: gzip -6 size of the .deb's data.tar (cached per file)
deb_file() {
  local name=$1 version=${2#*:}
  local f
  f=$(find "${mirror_dir:-/nonexistent}/pool" "$DEB_CACHE" -name "${name}_${version}_amd64.deb" -o -name "${name}_${version}_all.deb" 2>/dev/null | head -n1)
  if [ -z "$f" ]; then
    # A mirror given with --mirror: download the .deb from its pool.
    local path
    path=$(awk -v RS= -F '\n' -v n="$name" -v v="$2" '{
        p = ver = fn = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Package: /) p = substr($i, 10)
          else if ($i ~ /^Version: /) ver = substr($i, 10)
          else if ($i ~ /^Filename: /) fn = substr($i, 11)
        }
        if (p == n && ver == v) { print fn; exit }
      }' "$work/Packages")
    [ -n "$path" ] || die "package $name $2 is not in the mirror's index"
    f=$DEB_CACHE/${path##*/}
    curl -fsS -o "$f" "$mirror_url/$path" || die "cannot download $mirror_url/$path"
  fi
  echo "$f"
}
DEB_CACHE=$work/debs
mkdir -p "$DEB_CACHE"
if [ -z "$mirror_dir" ]; then
  curl -fsS "$mirror_url/dists/trixie/main/binary-amd64/Packages.gz" | gzip -dc >"$work/Packages" ||
    die "cannot read the mirror's amd64 Packages index"
fi
packed_size() {
  local f=$1 key
  key=$work/gz/$(basename "$f").size
  if [ ! -f "$key" ]; then
    dpkg-deb --fsys-tarfile "$f" | gzip -6 -n | wc -c >"$key"
  fi
  cat "$key"
}

echo "Building every preset (latest, amd64) and packing its .debs unchanged ..."
for p in "${PRESETS[@]}"; do
  "$distill" build --preset "$p" --arch amd64 -o "oci:$work/out/$p:latest" "${MIRROR_ARGS[@]}" \
    --cache-dir "$work/cache-size" --format json -q >"$work/size.$p.json" 2>"$work/size.$p.err" ||
    { cat "$work/size.$p.err" >&2; die "distill build --preset $p failed"; }
  DIST_SIZE[$p]=$(jq '[.images[0].layers[].size] | add' "$work/size.$p.json")
  # The image's packages, from its layers ("distill: package NAME VERSION").
  jq -r '.images[0].layers[].createdBy | select(startswith("distill: package ")) | sub("^distill: package "; "")' \
    "$work/size.$p.json" >"$work/pkgs.$p"
  total=0 n=0
  while read -r name version; do
    f=$(deb_file "$name" "$version")
    s=$(packed_size "$f")
    total=$((total + s))
    n=$((n + 1))
  done <"$work/pkgs.$p"
  PACKED_SIZE[$p]=$total
  NPKG[$p]=$n
done

echo "mmdebstrap --variant=minbase trixie (tarball, gzip -6) ..."
t0=$EPOCHREALTIME
mmdebstrap --variant=minbase --mode="$mm_mode" --keyring="$keyring" trixie "$work/minbase.tar" "$SOURCE" \
  >"$work/minbase.log" 2>&1 || { tail -n 20 "$work/minbase.log" >&2; die "mmdebstrap --variant=minbase failed"; }
minbase_ms=$(ms_since "$t0")
minbase_gz=$(gzip -6 -n <"$work/minbase.tar" | wc -c)
minbase_pkgs=$(tar -xOf "$work/minbase.tar" ./var/lib/dpkg/status 2>/dev/null | grep -c '^Package: ' || echo '?')
rm -f "$work/minbase.tar"

echo
echo "== Compressed size (gzip -6; latest variant, amd64)"
printf '%-11s %5s %12s %14s %8s %12s  %s\n' preset debs "distill MB" "unchanged MB" ratio "vs minbase" "goal: < unchanged"
for p in "${PRESETS[@]}"; do
  d=${DIST_SIZE[$p]} u=${PACKED_SIZE[$p]}
  verdict=PASS
  [ "$d" -lt "$u" ] || { verdict=MISS; size_fail=1; }
  printf '%-11s %5s %12s %14s %8s %12s  %s\n' "$p" "${NPKG[$p]}" "$(fmt_mb "$d")" "$(fmt_mb "$u")" \
    "$(awk -v a="$d" -v b="$u" 'BEGIN { printf "%.3f", a / b }')" \
    "$(awk -v a="$d" -v b="$minbase_gz" 'BEGIN { printf "%.3f", a / b }')" "$verdict"
done
printf '%-11s %5s %12s   (mmdebstrap --variant=minbase trixie, %s packages, made in %s s)\n' \
  minbase - "$(fmt_mb "$minbase_gz")" "$minbase_pkgs" "$(fmt_s "$minbase_ms")"
echo "  ratio = distill / unchanged packing; vs minbase = distill / minbase tarball"

# ---------------------------------------------------------------- time: python3
PY_PKGS=$(jq -r '.images[0].layers[].createdBy | select(startswith("distill: package ")) | sub("^distill: package "; "") | sub(" .*"; "")' \
  "$work/size.python3.json" | paste -sd, -)

echo
echo "Timing python3 ($runs runs each, best counts) ..."
best_cold="" best_warm="" best_mm="" best_mm_extract="" best_import=""
min() { if [ -z "$1" ] || [ "$2" -lt "$1" ]; then echo "$2"; else echo "$1"; fi; }
for ((r = 1; r <= runs; r++)); do
  # distill cold: fresh cache, fresh output.
  rm -rf "$work/cache-cold" "$work/cold"
  mkdir -p "$work/cold"
  t0=$EPOCHREALTIME
  "$distill" build --preset python3 --arch amd64 -o "oci:$work/cold/py:latest" "${MIRROR_ARGS[@]}" \
    --cache-dir "$work/cache-cold" -q >/dev/null 2>"$work/cold.err" || { cat "$work/cold.err" >&2; die "cold build failed"; }
  ms=$(ms_since "$t0")
  best_cold=$(min "$best_cold" "$ms")
  # distill warm: the same cache, a new output directory.
  rm -rf "$work/warm"
  mkdir -p "$work/warm"
  t0=$EPOCHREALTIME
  "$distill" build --preset python3 --arch amd64 -o "oci:$work/warm/py:latest" "${MIRROR_ARGS[@]}" \
    --cache-dir "$work/cache-cold" -q >/dev/null 2>"$work/warm.err" || { cat "$work/warm.err" >&2; die "warm build failed"; }
  ms=$(ms_since "$t0")
  best_warm=$(min "$best_warm" "$ms")
  # mmdebstrap --variant=extract + podman import.
  rm -f "$work/py-extract.tar"
  "${PODMAN[@]}" rmi -a -f >/dev/null 2>&1 || true
  t0=$EPOCHREALTIME
  mmdebstrap --variant=extract --mode="$mm_mode" --include="$PY_PKGS" --keyring="$keyring" trixie \
    "$work/py-extract.tar" "$SOURCE" >"$work/extract.log" 2>&1 ||
    { tail -n 20 "$work/extract.log" >&2; die "mmdebstrap --variant=extract failed"; }
  ms_extract=$(ms_since "$t0")
  t1=$EPOCHREALTIME
  "${PODMAN[@]}" import -q "$work/py-extract.tar" localhost/py-extract:latest >/dev/null 2>"$work/import.err" ||
    { cat "$work/import.err" >&2; die "podman import failed"; }
  ms_import=$(ms_since "$t1")
  ms=$(ms_since "$t0")
  if [ -z "$best_mm" ] || [ "$ms" -lt "$best_mm" ]; then best_mm=$ms best_mm_extract=$ms_extract best_import=$ms_import; fi
done
# (extract runs no dpkg: count the packages by their /usr/share/doc dirs)
extract_pkgs=$(tar -tf "$work/py-extract.tar" | grep -cE '^\./usr/share/doc/[^/]+/?$' || true)
extract_mb=$(fmt_mb "$(stat -c %s "$work/py-extract.tar")")
rm -f "$work/py-extract.tar"

# ---------------------------------------------------------------- config-only rebuild
echo "Timing config-only rebuilds ($config_runs runs, median counts) ..."
mkdir -p "$work/app"
write_app() {
  cat >"$work/app/image.yaml" <<EOF
from: preset:python3
env: {APP_GREETING: "$1"}
EOF
}
write_app warmup
"$distill" build "$work/app/image.yaml" --arch amd64 -o "oci:$work/app/out:latest" "${MIRROR_ARGS[@]}" \
  --cache-dir "$work/cache-cold" -q >/dev/null 2>"$work/app.err" || { cat "$work/app.err" >&2; die "app build failed"; }
times=()
digests=()
for ((r = 1; r <= config_runs; r++)); do
  write_app "value $r"
  t0=$EPOCHREALTIME
  "$distill" build "$work/app/image.yaml" --arch amd64 -o "oci:$work/app/out:latest" "${MIRROR_ARGS[@]}" \
    --cache-dir "$work/cache-cold" -q --format json >"$work/app.json" 2>"$work/app.err" ||
    { cat "$work/app.err" >&2; die "config-only rebuild failed"; }
  times+=("$(ms_since "$t0")")
  digests+=("$(jq -r .digest "$work/app.json")")
done
config_median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
config_best=$(printf '%s\n' "${times[@]}" | sort -n | head -n1)
distinct=$(printf '%s\n' "${digests[@]}" | sort -u | wc -l)
reused=$(jq '[.images[0].layers[] | select(.reused)] | length' "$work/app.json")
nlayers=$(jq '.images[0].layers | length' "$work/app.json")

# ---------------------------------------------------------------- report
echo
echo "== python3 build time (amd64, from the same local mirror)"
printf '%-52s %9s\n' "route" "seconds"
printf '%-52s %9s\n' "distill cold (fresh cache, new output)" "$(fmt_s "$best_cold")"
printf '%-52s %9s\n' "distill warm (second run, new output)" "$(fmt_s "$best_warm")"
printf '%-52s %9s\n' "mmdebstrap --variant=extract + podman import" "$(fmt_s "$best_mm")"
printf '%-52s %9s\n' "  of which mmdebstrap (~$extract_pkgs packages, $extract_mb MB tar)" "$(fmt_s "$best_mm_extract")"
printf '%-52s %9s\n' "  of which podman import" "$(fmt_s "$best_import")"
printf '%-52s %9s\n' "distill config-only rebuild (median of $config_runs)" "$(fmt_s "$config_median")"
printf '%-52s %9s\n' "distill config-only rebuild (best)" "$(fmt_s "$config_best")"
echo "  config-only rebuilds: $distinct distinct digests over $config_runs env values; $reused of $nlayers layers reused"

cold_ratio=$(awk -v a="$best_mm" -v b="$best_cold" 'BEGIN { printf "%.2f", a / b }')
warm_ratio=$(awk -v a="$best_mm" -v b="$best_warm" 'BEGIN { printf "%.2f", a / b }')
echo
echo "== Goals"
fails=0
goal() { # VERDICT TEXT
  echo "  $1  $2"
  [ "$1" = PASS ] || fails=$((fails + 1))
}
goal "$([ $size_fail = 0 ] && echo PASS || echo MISS)" "every preset smaller than its packages packed unchanged (one gzip -6 layer per .deb)"
goal "$(awk -v r="$cold_ratio" 'BEGIN { print (r >= 5 ? "PASS" : "MISS") }')" \
  "python3 cold build >= 5x faster than mmdebstrap --variant=extract + podman import: ${cold_ratio}x (warm: ${warm_ratio}x)"
goal "$([ "$config_median" -lt 100 ] && echo PASS || echo MISS)" "config-only rebuild < 100 ms: $config_median ms (median)"
goal "$([ "$distinct" = "$config_runs" ] && echo PASS || echo MISS)" "each config change gives a new digest ($distinct of $config_runs)"
if [ $check = 1 ] && [ $fails -gt 0 ]; then exit 1; fi
exit 0

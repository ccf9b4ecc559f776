#!/usr/bin/env bash
# Layer throughput benchmark: distill against pigz and zstd on one tree.
#
# Packs a ~250 MB tree of real system files into one layer with
# `distill build --no-cache` (gzip and zstd) and compares it, in the same run,
# with `tar | pigz` and `tar | zstd` on the same tree. Prints best-of-N wall
# time, MB/s and peak RSS for each, the compressed sizes, and the goals:
#
#   distill gzip throughput / pigz throughput  >= 1.0
#   distill zstd throughput / zstd throughput  >= 0.9
#   distill peak RSS                           <  100 MB
#   distill cores used (CPU s / wall s)        >= 0.7 x nproc
#
# Exits 0 whatever the numbers (it is a benchmark); --check exits 1 on a MISS.
# Installs nothing. See bench/README.md.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

usage() {
  cat <<EOF
Usage: $0 [options]

  --runs N        timed runs per tool; the best (fastest) counts (default 3)
  --size MB       size of the generated tree in MB of file content (default 250)
  --tree DIR      tree to pack; generated there if DIR is missing or was made
                  by this script (default: \${XDG_CACHE_HOME:-~/.cache}/distill-bench/tree)
                  a non-empty DIR not made by this script is used as it is
  --fresh         regenerate the tree even if a cached one fits
  --distill PATH  the distill binary (default: $repo/build/distill)
  --workdir DIR   where outputs, distill's cache and the peers' files go
                  (default: a new temp dir under \${TMPDIR:-/tmp}, removed at exit)
  --wait-idle S   before each timed run, wait up to S seconds for the machine
                  to be idle (other load under 10% of the CPUs; default 0: don't wait)
  --no-phases     skip the extra untimed distill runs that print phase timings
  --check         exit 1 if any goal is missed (default: always exit 0)
  -h, --help      this text
EOF
}

runs=3
size_mb=250
tree=""
fresh=0
distill="$repo/build/distill"
workdir=""
check=0
phases=1
wait_idle=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    --runs=*) runs=${1#*=}; shift ;;
    --size) size_mb=${2:?--size needs a number of MB}; shift 2 ;;
    --size=*) size_mb=${1#*=}; shift ;;
    --tree) tree=${2:?--tree needs a directory}; shift 2 ;;
    --tree=*) tree=${1#*=}; shift ;;
    --fresh) fresh=1; shift ;;
    --distill) distill=${2:?--distill needs a path}; shift 2 ;;
    --distill=*) distill=${1#*=}; shift ;;
    --workdir) workdir=${2:?--workdir needs a directory}; shift 2 ;;
    --workdir=*) workdir=${1#*=}; shift ;;
    --wait-idle) wait_idle=${2:?--wait-idle needs a number of seconds}; shift 2 ;;
    --wait-idle=*) wait_idle=${1#*=}; shift ;;
    --no-phases) phases=0; shift ;;
    --check) check=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "layer_throughput: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "layer_throughput: --runs must be a positive number, not '$runs'" >&2; exit 2; }
[[ "$wait_idle" =~ ^[0-9]+$ ]] || { echo "layer_throughput: --wait-idle must be a number of seconds, not '$wait_idle'" >&2; exit 2; }
[[ "$size_mb" =~ ^[1-9][0-9]*$ ]] || { echo "layer_throughput: --size must be a positive number of MB, not '$size_mb'" >&2; exit 2; }

die() { echo "layer_throughput: $*" >&2; exit 2; }
# shellcheck source=lib.sh
. "$here/lib.sh"

# ---------------------------------------------------------------- prerequisites
missing=()
command -v pigz >/dev/null 2>&1 || missing+=("pigz (Debian package: pigz)")
command -v zstd >/dev/null 2>&1 || missing+=("zstd (Debian package: zstd)")
[ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1 ||
  missing+=("GNU time at /usr/bin/time (Debian package: time)")
command -v tar >/dev/null 2>&1 || missing+=("tar (Debian package: tar)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "layer_throughput: missing tools; this script installs nothing:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  echo "  install with: apt-get install pigz zstd time   (or: scripts/install-deps.sh)" >&2
  exit 2
fi
[ -x "$distill" ] || die "no distill binary at $distill; build it first:
  cd $repo && cmake -S . -B build -G Ninja && ninja -C build
or point --distill at one"
[ "${BASH_VERSINFO[0]}" -ge 5 ] || die "needs bash 5 or newer (for \$EPOCHREALTIME)"

ncpu=$(nproc)

# ------------------------------------------------------------------------ tree
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/distill-bench"
[ -n "$tree" ] || tree="$cache_root/tree"
tree=$(realpath -m -- "$tree")   # the spec reads relative paths from its own directory

# Picks real files from system directories, spread over each one (a byte-
# proportional systematic sample in path order, not just the first files),
# so the tree mixes ELF libraries, executables, text, locale and icon data.
make_tree() {
  local dest=$1 target=$2
  local partial="$dest.partial.$$"
  local list="$partial.list"
  rm -rf "$partial"
  mkdir -p "$partial"
  : >"$list"
  local sources=(/usr/lib/x86_64-linux-gnu /usr/share /usr/lib /usr/bin)
  local present=()
  local s
  for s in "${sources[@]}"; do [ -d "$s" ] && present+=("$s"); done
  [ ${#present[@]} -gt 0 ] || die "none of ${sources[*]} exists; give a tree with --tree DIR"
  local remaining=$target i=0 n=${#present[@]} taken
  for s in "${present[@]}"; do
    local quota=$((remaining / (n - i)))
    local prune=()
    # /usr/lib/x86_64-linux-gnu is its own source; don't take it twice.
    [ "$s" = /usr/lib ] && prune=(-path /usr/lib/x86_64-linux-gnu -prune -o)
    # Regular readable files of 1 byte .. 32 MiB (no single file dominates).
    taken=$(find "$s" -xdev "${prune[@]}" -type f -readable -size +0c -size -32M -printf '%s\t%p\n' 2>/dev/null |
      sort -t $'\t' -k2,2 |
      awk -F '\t' -v quota="$quota" -v list="$list" '
        { size[NR] = $1; path[NR] = $2; total += $1 }
        END {
          f = total > quota ? quota / total : 1
          for (j = 1; j <= NR; j++) {
            acc += size[j] * f
            # take it when that keeps the running total nearest the target
            if (taken + size[j] / 2 <= acc) { print path[j] >> list; taken += size[j] }
          }
          printf "%.0f\n", taken
        }')
    remaining=$((remaining - taken))
    i=$((i + 1))
  done
  copy_listed "$list" "$partial"
  rm -f "$list"
  rm -rf "$dest"
  mv "$partial" "$dest"
}

cached_tree "$tree" "$size_mb" "$fresh" "tree of real files" make_tree

in_bytes=$(tree_bytes "$tree")
n_files=$(find "$tree" -type f | wc -l)
n_dirs=$(find "$tree" -type d | wc -l)
n_links=$(find "$tree" -type l | wc -l)
[ "$in_bytes" -gt 0 ] || die "the tree $tree holds no file content"
in_mb=$(awk -v b="$in_bytes" 'BEGIN { printf "%.1f", b / 1e6 }')

# --------------------------------------------------------------------- workdir
if [ -n "$workdir" ]; then
  mkdir -p "$workdir"
  work=$(mktemp -d "$workdir/distill-bench.XXXXXX")
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/distill-bench.XXXXXX")
fi
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# Single-quoted YAML scalar: any path, with ' doubled.
cat >"$work/spec.yaml" <<EOF
files:
  - src: '${tree//\'/\'\'}'
    dst: /data
EOF

# ---------------------------------------------------------------- warm caches
# Into a pipe, not straight to /dev/null: GNU tar notices an archive on
# /dev/null and then skips reading the files' contents.
echo "Warming the page cache ..."
tar -C "$tree" -cf - . | cat >/dev/null

echo
echo "tree:     $tree"
echo "content:  $in_mb MB in $n_files files ($n_dirs directories, $n_links symlinks)"
echo "host:     $ncpu cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown))"
if [ -n "${DISTILL_JOBS:-}" ]; then distill_threads="DISTILL_JOBS=$DISTILL_JOBS (from the environment)"
else distill_threads="its default, one per core = $ncpu"; fi
echo "threads:  distill $distill_threads; pigz -p$ncpu; zstd -T$ncpu (nproc)"
echo "versions: $("$distill" --version 2>/dev/null | head -n1); $(pigz --version 2>&1 | head -n1); $(zstd --version 2>/dev/null | head -n1 | sed 's/^\*\*\* //; s/, by.*//')"
echo "workdir:  $work (outputs, distill cache and peer files; same filesystem for all)"
echo "runs:     best of $runs per tool, tools interleaved"
echo

# ------------------------------------------------------------------ the tools
# Each command writes its output under $work/out-<tool>; it is removed
# before the next run so every run writes to a fresh place.
tools=(distill-gzip pigz distill-zstd zstd)
declare -A label=(
  [distill-gzip]="distill gzip:6"
  [pigz]="tar | pigz -6 -p$ncpu"
  [distill-zstd]="distill zstd:3"
  [zstd]="tar | zstd -3 -T$ncpu"
)

run_tool() {  # tool out_dir cache_dir -> runs it once, quietly
  local tool=$1 out=$2 cache=$3
  case "$tool" in
    # stdout (the image reference) is not wanted; errors go to stderr.
    # gzip:6 (not the default, 5) to compare at pigz's level.
    distill-gzip) "$distill" build "$work/spec.yaml" -o "oci:$out/image:x" --compression gzip:6 --no-cache -q --cache-dir "$cache" >/dev/null ;;
    distill-zstd) "$distill" build "$work/spec.yaml" -o "oci:$out/image:x" --compression zstd:3 --no-cache -q --cache-dir "$cache" >/dev/null ;;
    pigz) tar -C "$tree" -cf - . | pigz -p"$ncpu" -6 >"$out/layer.tar.gz" ;;
    zstd) tar -C "$tree" -cf - . | zstd -3 -T"$ncpu" -q >"$out/layer.tar.zst" ;;
  esac
}
export -f run_tool
export distill work tree ncpu

declare -A best_s best_cpu best_noisy peak_kb out_bytes
for tool in "${tools[@]}"; do best_s[$tool]=""; peak_kb[$tool]=0; done

steal0=$(steal_ticks)
timed0=$EPOCHREALTIME
other_total=0
noisy_runs=0

for ((r = 1; r <= runs; r++)); do
  for tool in "${tools[@]}"; do
    out="$work/out-$tool"
    cache="$work/cache-$tool"
    rm -rf "$out" "$cache"
    mkdir -p "$out"
    sync
    wait_for_idle
    busy0=$(busy_ticks)
    t0=$EPOCHREALTIME
    # %M: the peak RSS of the largest single process (for a pipeline, of
    # tar or the compressor, whichever is larger), in KiB; %U %S: CPU
    # seconds of all its processes.
    if ! /usr/bin/time -f '%M %U %S' -o "$work/rss" \
      bash -o pipefail -c 'run_tool "$@"' _ "$tool" "$out" "$cache" 2>"$work/stderr"; then
      echo "layer_throughput: ${label[$tool]} failed:" >&2
      cat "$work/stderr" >&2
      exit 2
    fi
    t1=$EPOCHREALTIME
    busy1=$(busy_ticks)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    read -r kb usr sys < <(tail -n1 "$work/rss")
    cpu=$(awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    other=$(awk -v a="$busy0" -v b="$busy1" -v hz="$hz" -v c="$cpu" 'BEGIN { o = (b - a) / hz - c; printf "%.2f", o < 0 ? 0 : o }')
    other_total=$(awk -v a="$other_total" -v b="$other" 'BEGIN { printf "%.2f", a + b }')
    note="" noisy=0
    # More than 10% of the machine's capacity went to something else.
    if awk -v o="$other" -v s="$secs" -v n="$ncpu" 'BEGIN { exit !(o > 0.1 * s * n) }'; then
      note="  <- other load"
      noisy=1
      noisy_runs=$((noisy_runs + 1))
    fi
    printf '  run %d/%d  %-22s %7.2f s  %6.2f CPU s  %6.1f MB RSS  (other load %.2f CPU s)%s\n' "$r" "$runs" \
      "${label[$tool]}" "$secs" "$cpu" "$(awk -v k="$kb" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }')" "$other" "$note"
    if [ -z "${best_s[$tool]}" ] || awk -v a="$secs" -v b="${best_s[$tool]}" 'BEGIN { exit !(a < b) }'; then
      best_s[$tool]=$secs
      best_cpu[$tool]=$cpu
      best_noisy[$tool]=$noisy
    fi
    [ "$kb" -gt "${peak_kb[$tool]}" ] && peak_kb[$tool]=$kb
  done
done

steal_s=$(awk -v a="$steal0" -v b="$(steal_ticks)" -v hz="$(getconf CLK_TCK 2>/dev/null || echo 100)" \
  'BEGIN { printf "%.2f", (b - a) / hz }')
timed_s=$(awk -v a="$timed0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')

# Compressed sizes (from the last run): the layer is the largest blob.
for tool in "${tools[@]}"; do
  out="$work/out-$tool"
  case "$tool" in
    distill-*) out_bytes[$tool]=$(find "$out/image/blobs/sha256" -type f -printf '%s\n' | sort -n | tail -n1) ;;
    *) out_bytes[$tool]=$(find "$out" -type f -printf '%s\n' | head -n1) ;;
  esac
done

# ------------------------------------------------------------------- sanity
# The layers must hold the tree: as many files (and hard links) as the peers'.
layer_of() { find "$work/out-$1/image/blobs/sha256" -type f -printf '%s %p\n' | sort -n | tail -n1 | cut -d' ' -f2-; }
count_files() { tar -tvf - | grep -c '^[-h]' || true; }
sane=1
for pair in "distill-gzip:pigz -dc" "distill-zstd:zstd -dcq"; do
  tool=${pair%%:*}
  n=$(${pair#*:} "$(layer_of "$tool")" | count_files)
  if [ "$n" != "$n_files" ]; then
    echo "layer_throughput: SANITY FAIL: ${label[$tool]} layer holds $n files, the tree $n_files" >&2
    sane=0
  fi
done

# ------------------------------------------------------------------ phases
if [ $phases = 1 ]; then
  echo
  echo "distill phase timings (one extra untimed run each; stderr is a file, so distill prints phases):"
  for c in gzip:6 zstd:3; do
    rm -rf "$work/phases-out" "$work/phases-cache"
    mkdir -p "$work/phases-out"
    sync
    wait_for_idle
    "$distill" build "$work/spec.yaml" -o "oci:$work/phases-out/image:x" --compression "$c" --no-cache \
      --cache-dir "$work/phases-cache" >/dev/null 2>"$work/phases.txt" || { cat "$work/phases.txt" >&2; exit 2; }
    echo "  [$c]"
    sed 's/^/    /' "$work/phases.txt"
  done
fi

# ------------------------------------------------------------------- report
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
mbps() { awk -v b="$in_bytes" -v s="$1" 'BEGIN { printf "%.1f", b / 1e6 / s }'; }
kb_mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }'; }

echo
echo "Results: $in_mb MB input, best of $runs (MB = 10^6 bytes; RSS is the peak of the largest process)"
printf '  %-22s %9s %9s %8s %12s %10s %7s\n' tool seconds MB/s "CPU s" "peak RSS MB" "output MB" ratio
for tool in "${tools[@]}"; do
  printf '  %-22s %9.2f %9s %8s %12s %10s %6.2fx\n' "${label[$tool]}" "${best_s[$tool]}" "$(mbps "${best_s[$tool]}")" "${best_cpu[$tool]}" \
    "$(kb_mb "${peak_kb[$tool]}")" "$(mb "${out_bytes[$tool]}")" \
    "$(awk -v a="$in_bytes" -v b="${out_bytes[$tool]}" 'BEGIN { printf "%.3f", a / b }')"
done

echo "  (seconds: wall time of the fastest run; CPU s: user+sys of that run; ratio: input/output)"
printf '  during the %s s of timed runs: %s CPU s used by other processes, %s s stolen by the hypervisor\n' \
  "$timed_s" "$other_total" "$steal_s"
if [ $noisy_runs -gt 0 ] || awk -v s="$steal_s" -v t="$timed_s" -v n="$ncpu" 'BEGIN { exit !(s > 0.02 * t * n) }'; then
  echo "  WARNING: noisy machine ($noisy_runs of $((runs * ${#tools[@]})) runs shared the CPUs with other load);"
  echo "           the best-of-$runs times may still be skewed: rerun when the machine is idle, or raise --runs"
fi

echo
echo "Compressed sizes (bytes):"
printf '  gzip: distill layer %12d   pigz %12d   (distill/pigz %.3f)\n' "${out_bytes[distill-gzip]}" "${out_bytes[pigz]}" \
  "$(awk -v a="${out_bytes[distill-gzip]}" -v b="${out_bytes[pigz]}" 'BEGIN { printf "%.4f", a / b }')"
printf '  zstd: distill layer %12d   zstd %12d   (distill/zstd %.3f)\n' "${out_bytes[distill-zstd]}" "${out_bytes[zstd]}" \
  "$(awk -v a="${out_bytes[distill-zstd]}" -v b="${out_bytes[zstd]}" 'BEGIN { printf "%.4f", a / b }')"

misses=0
verdict() {  # name value goal op(ge|lt) unit [tools whose best run it compares]
  local ok t noisy=""
  for t in "${@:6}"; do [ "${best_noisy[$t]}" = 1 ] && noisy="  [noisy: a best run shared the CPUs]"; done
  if [ "$4" = ge ]; then ok=$(awk -v v="$2" -v g="$3" 'BEGIN { print (v >= g) }')
  else ok=$(awk -v v="$2" -v g="$3" 'BEGIN { print (v < g) }'); fi
  local mark=PASS
  [ "$ok" = 1 ] || { mark=MISS; misses=$((misses + 1)); }
  printf '  %-4s  %-44s %8s%-3s  (goal %s %s%s)%s\n' "$mark" "$1" "$2" "$5" "$([ "$4" = ge ] && echo '>=' || echo '<')" "$3" "$5" "$noisy"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo
echo "Goals:"
# throughput ratio = peer time / distill time (same input bytes)
verdict "distill gzip throughput / pigz throughput" "$(ratio "${best_s[pigz]}" "${best_s[distill-gzip]}")" 1.0 ge "" distill-gzip pigz
verdict "distill zstd throughput / zstd throughput" "$(ratio "${best_s[zstd]}" "${best_s[distill-zstd]}")" 0.9 ge "" distill-zstd zstd
# Cores used: CPU seconds per wall second of the fastest run. Compression
# must use all cores (issue: "compression uses all cores"); 70% of them
# leaves room for the serial walk and tar framing.
cores_goal=$(awk -v n="$ncpu" 'BEGIN { printf "%.2f", 0.7 * n }')
verdict "distill gzip cores used (CPU s / s)" "$(ratio "${best_cpu[distill-gzip]}" "${best_s[distill-gzip]}")" "$cores_goal" ge "" distill-gzip
verdict "distill zstd cores used (CPU s / s)" "$(ratio "${best_cpu[distill-zstd]}" "${best_s[distill-zstd]}")" "$cores_goal" ge "" distill-zstd
verdict "distill peak RSS, gzip" "$(kb_mb "${peak_kb[distill-gzip]}")" 100 lt " MB"
verdict "distill peak RSS, zstd" "$(kb_mb "${peak_kb[distill-zstd]}")" 100 lt " MB"
if [ $sane = 0 ]; then
  echo "  FAIL  sanity: a distill layer does not hold the tree (see above)"
  misses=$((misses + 1))
fi

echo
if [ $misses = 0 ]; then
  echo "All goals met."
else
  echo "$misses goal(s) MISSED."
fi
if [ $sane = 0 ]; then exit 1; fi
if [ $check = 1 ] && [ $misses -gt 0 ]; then exit 1; fi
exit 0

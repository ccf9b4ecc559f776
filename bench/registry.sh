#!/usr/bin/env bash
# Registry benchmark: distill push / pull against skopeo on one image.
#
# Builds a ~100 MB image of real files (a python3 installation tree) with
# distill into an OCI layout, starts a local plain-HTTP docker-registry on
# 127.0.0.1, and times, best of N, interleaved run by run:
#
#   push       distill push oci:SRC docker://REG/bench/distill-RUN:1
#              skopeo copy  oci:SRC docker://REG/bench/skopeo-RUN:1
#              (a new empty registry on a new port for every run, and a
#              fresh distill cache: every blob is uploaded, nothing mounted)
#   pull       distill pull docker://REG/bench/distill-1:1 oci:NEW
#              skopeo copy  docker://REG/bench/skopeo-1:1 oci:NEW
#              (a fresh destination and distill cache each run)
#   re-push    distill push / skopeo copy of the same image to the same
#              repository again (every blob already there; distill with the
#              cache of the push that put it there)
#   re-push, cold cache   the same with a new, empty distill cache
#
# and prints wall seconds, MB/s, CPU seconds and peak RSS, with the ratio
# skopeo seconds / distill seconds per operation (goal: >= 1.0, at least as
# fast as skopeo). Exits 0 whatever the numbers; --check exits 1 on a MISS.
# Installs nothing. See bench/README.md.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

usage() {
  cat <<EOF
Usage: $0 [options]

  --runs N        timed runs per tool and operation; the fastest counts (default 3)
  --size MB       size of the image's file content in MB (default 100)
  --tree DIR      the tree to put in the image; generated there if DIR is
                  missing or was made by this script
                  (default: \${XDG_CACHE_HOME:-~/.cache}/distill-bench/registry-tree)
  --fresh         regenerate the tree even if a cached one fits
  --distill PATH  the distill binary (default: $repo/build/distill)
  --workdir DIR   where the layouts, caches and the registry's storage go
                  (default: a new temp dir under \${TMPDIR:-/tmp}, removed at exit)
  --wait-idle S   before each timed run, wait up to S seconds for the machine
                  to be idle (default 0: don't wait)
  --check         exit 1 if any goal is missed (default: always exit 0)
  -h, --help      this text
EOF
}

runs=3
size_mb=100
tree=""
fresh=0
distill="$repo/build/distill"
workdir=""
check=0
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
    --check) check=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "registry bench: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "registry bench: --runs must be a positive number, not '$runs'" >&2; exit 2; }
[[ "$wait_idle" =~ ^[0-9]+$ ]] || { echo "registry bench: --wait-idle must be a number of seconds, not '$wait_idle'" >&2; exit 2; }
[[ "$size_mb" =~ ^[1-9][0-9]*$ ]] || { echo "registry bench: --size must be a positive number of MB, not '$size_mb'" >&2; exit 2; }

die() { echo "registry bench: $*" >&2; exit 2; }
# shellcheck source=lib.sh
. "$here/lib.sh"

# ---------------------------------------------------------------- prerequisites
missing=()
[ -x /usr/bin/docker-registry ] || missing+=("docker-registry (Debian package: docker-registry)")
command -v skopeo >/dev/null 2>&1 || missing+=("skopeo (Debian package: skopeo)")
command -v curl >/dev/null 2>&1 || missing+=("curl (Debian package: curl)")
command -v jq >/dev/null 2>&1 || missing+=("jq (Debian package: jq)")
command -v python3 >/dev/null 2>&1 || missing+=("python3 (Debian package: python3)")
[ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1 ||
  missing+=("GNU time at /usr/bin/time (Debian package: time)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "registry bench: missing tools; this script installs nothing:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  echo "  install with: apt-get install docker-registry skopeo curl jq python3 time" >&2
  exit 2
fi
[ -x "$distill" ] || die "no distill binary at $distill; build it first:
  cd $repo && cmake -S . -B build -G Ninja && ninja -C build
or point --distill at one"
[ "${BASH_VERSINFO[0]}" -ge 5 ] || die "needs bash 5 or newer (for \$EPOCHREALTIME)"
"$distill" push --help >/dev/null 2>&1 || die "$distill has no push command (a distill without registry support)"
distill=$(realpath "$distill")
ncpu=$(nproc)

# ------------------------------------------------------------------------ tree
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/distill-bench"
[ -n "$tree" ] || tree="$cache_root/registry-tree"
tree=$(realpath -m -- "$tree")

# A python3 installation (the stdlib with its .pyc, dist-packages), in path
# order, until the target size; topped up from /usr/share if the host's
# python trees are smaller.
make_tree() {
  local dest=$1 target=$2 partial="$1.partial.$$"
  local list="$partial.list" s present=()
  rm -rf "$partial"
  mkdir -p "$partial"
  for s in /usr/lib/python3.* /usr/lib/python3 /usr/share; do [ -d "$s" ] && present+=("$s"); done
  [ ${#present[@]} -gt 0 ] || die "no /usr/lib/python3* nor /usr/share; give a tree with --tree DIR"
  find "${present[@]}" -xdev -type f -readable -size +0c -size -32M -printf '%s\t%p\n' 2>/dev/null |
    awk -F '\t' -v t="$target" '!seen[$2]++ && sum < t { print $2; sum += $1 }' >"$list"
  copy_listed "$list" "$partial"
  rm -f "$list"
  rm -rf "$dest"
  mv "$partial" "$dest"
}
cached_tree "$tree" "$size_mb" "$fresh" "python3-like tree of real files" make_tree
in_bytes=$(tree_bytes "$tree")
n_files=$(find "$tree" -type f | wc -l)

# --------------------------------------------------------------------- workdir
if [ -n "$workdir" ]; then
  mkdir -p "$workdir"
  work=$(mktemp -d "$workdir/distill-bench-registry.XXXXXX")
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/distill-bench-registry.XXXXXX")
fi
reg_pid=""
cleanup() {
  if [ -n "$reg_pid" ]; then kill "$reg_pid" 2>/dev/null || true; wait "$reg_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# -------------------------------------------------------------------- registry
reg_no=0
stop_registry() {
  [ -n "$reg_pid" ] || return 0
  kill "$reg_pid" 2>/dev/null || true
  wait "$reg_pid" 2>/dev/null || true
  reg_pid=""
  rm -rf "$work/registry"
}
# start_registry: a new registry with empty storage on a new port (sets REG).
start_registry() {
  local port i code
  stop_registry
  reg_no=$((reg_no + 1))
  for _ in 1 2 3 4 5; do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat >"$work/registry.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $work/registry}
  maintenance: {uploadpurging: {enabled: false}}
http: {addr: 127.0.0.1:$port, secret: $(python3 -c 'import secrets; print(secrets.token_hex(16))')}
EOF
    /usr/bin/docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 </dev/null &
    reg_pid=$!
    for i in $(seq 1 100); do
      kill -0 "$reg_pid" 2>/dev/null || break
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/v2/" || true)
      if [ "$code" = 200 ]; then REG=127.0.0.1:$port; export REG; return 0; fi
      sleep 0.1
    done
    kill "$reg_pid" 2>/dev/null || true
    wait "$reg_pid" 2>/dev/null || true
    reg_pid=""
    grep -q 'address already in use' "$work/registry.log" || break
  done
  die "docker-registry did not start: $(tail -n 5 "$work/registry.log")"
}

# ------------------------------------------------------------------- the image
cat >"$work/spec.yaml" <<EOF
files:
  - src: '${tree//\'/\'\'}'
    dst: /usr/lib/python3
archs: [amd64]
EOF
echo "Building the image (distill build, gzip) ..."
"$distill" build "$work/spec.yaml" -o "oci:$work/src:1" --format json --cache-dir "$work/build-cache" >"$work/build.json" 2>"$work/build.err" ||
  die "distill build failed: $(cat "$work/build.err")"
digest=$(jq -r .digest "$work/build.json")
img_bytes=$(find "$work/src/blobs" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f\n", s }')
n_blobs=$(find "$work/src/blobs/sha256" -type f | wc -l)
img_mb=$(awk -v b="$img_bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
# Page cache warm for every tool.
cat "$work"/src/blobs/sha256/* >/dev/null

echo
echo "tree:     $tree ($(awk -v b="$in_bytes" 'BEGIN { printf "%.1f", b / 1e6 }') MB in $n_files files)"
echo "image:    $digest: $img_mb MB in $n_blobs blobs (compressed, as pushed)"
echo "registry: docker-registry $(/usr/bin/docker-registry --version 2>/dev/null | awk '{ print $3 }'), plain HTTP on 127.0.0.1, storage in $work"
echo "host:     $ncpu cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown))"
echo "versions: $("$distill" --version 2>/dev/null | head -n1); $(skopeo --version)"
echo "runs:     best of $runs per tool and operation, tools interleaved"
echo

# ------------------------------------------------------------------ the tools
ops=(push pull repush repushcold)
tools=(distill skopeo)
declare -A oplabel=([push]="push (empty registry)" [pull]="pull (to a new oci: dir)" [repush]="re-push (unchanged)" [repushcold]="re-push, cold distill cache")

run_one() { # op tool run -> runs it once, quietly
  local op=$1 tool=$2 r=$3 cache=$work/cache-$2-$1-$3
  case "$op:$tool" in
    push:distill) DISTILL_CACHE_DIR=$cache "$distill" push "oci:$work/src:1" "docker://$REG/bench/distill-$r:1" --tls-verify=false -q ;;
    push:skopeo) skopeo copy -q --dest-tls-verify=false "oci:$work/src:1" "docker://$REG/bench/skopeo-$r:1" ;;
    pull:distill) DISTILL_CACHE_DIR=$cache "$distill" pull "docker://$REG/bench/distill-1:1" "oci:$work/pull-distill-$r:1" --tls-verify=false -q ;;
    pull:skopeo) skopeo copy -q --src-tls-verify=false "docker://$REG/bench/skopeo-1:1" "oci:$work/pull-skopeo-$r:1" ;;
    seed:distill) DISTILL_CACHE_DIR=$work/cache-seed "$distill" push "oci:$work/src:1" "docker://$REG/bench/distill-1:1" --tls-verify=false -q ;;
    seed:skopeo) skopeo copy -q --dest-tls-verify=false "oci:$work/src:1" "docker://$REG/bench/skopeo-1:1" ;;
    # The cache of the push that put the image there, as a user who pushed
    # before has it (skopeo keeps its blob-info cache too).
    repush:distill) DISTILL_CACHE_DIR=$work/cache-seed "$distill" push "oci:$work/src:1" "docker://$REG/bench/distill-1:1" --tls-verify=false -q ;;
    repush:skopeo | repushcold:skopeo) skopeo copy -q --dest-tls-verify=false "oci:$work/src:1" "docker://$REG/bench/skopeo-1:1" ;;
    repushcold:distill) DISTILL_CACHE_DIR=$cache "$distill" push "oci:$work/src:1" "docker://$REG/bench/distill-1:1" --tls-verify=false -q ;;
  esac
}
export -f run_one
export distill work

# utime + stime of the registry process (fields 14 and 15 of its stat; the
# command name in field 2 has no spaces here).
reg_ticks() { awk '{ print $14 + $15 }' "/proc/$reg_pid/stat" 2>/dev/null || echo 0; }
declare -A best_s best_cpu best_noisy peak_kb
for op in "${ops[@]}"; do
  for tool in "${tools[@]}"; do best_s[$op:$tool]=""; peak_kb[$op:$tool]=0; best_noisy[$op:$tool]=0; done
done
noisy_runs=0

# Seeds the registry for the pull and re-push rows (untimed): the image in
# bench/distill-1 (pushed by distill) and bench/skopeo-1 (by skopeo).
seed_registry() {
  start_registry
  for tool in "${tools[@]}"; do
    bash -c 'run_one "$@"' _ seed "$tool" 1 >/dev/null 2>"$work/stderr" || { cat "$work/stderr" >&2; die "seeding the registry with $tool failed"; }
  done
}

for op in "${ops[@]}"; do
  if [ "$op" != push ] && [ -z "${seeded:-}" ]; then seed_registry; seeded=1; fi
  for ((r = 1; r <= runs; r++)); do
    for tool in "${tools[@]}"; do
      # Every push goes to a new, empty registry on a new port: nothing to
      # mount or skip, for distill (which remembers where it pushed) or for
      # skopeo (whose blob-info cache in /var/lib/containers/cache does too).
      [ "$op" != push ] || start_registry
      sync
      wait_for_idle
      busy0=$(busy_ticks)
      reg0=$(reg_ticks)
      t0=$EPOCHREALTIME
      if ! /usr/bin/time -f '%M %U %S' -o "$work/rss" bash -c 'run_one "$@"' _ "$op" "$tool" "$r" >/dev/null 2>"$work/stderr"; then
        echo "registry bench: $tool $op failed:" >&2
        cat "$work/stderr" >&2
        exit 2
      fi
      t1=$EPOCHREALTIME
      busy1=$(busy_ticks)
      reg1=$(reg_ticks)
      secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
      read -r kb usr sys < <(tail -n1 "$work/rss")
      cpu=$(awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
      # The registry's CPU is part of the job (shown apart); "other" is the
      # machine's busy time beyond the tool and the registry.
      regcpu=$(awk -v a="$reg0" -v b="$reg1" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz }')
      other=$(awk -v a="$busy0" -v b="$busy1" -v hz="$hz" -v c="$cpu" -v r="$regcpu" 'BEGIN { o = (b - a) / hz - c - r; printf "%.2f", o < 0 ? 0 : o }')
      note=""
      noisy=0
      if awk -v o="$other" -v s="$secs" -v n="$ncpu" 'BEGIN { exit !(o > 0.1 * s * n + 0.05) }'; then
        note="  <- other load"
        noisy=1
        noisy_runs=$((noisy_runs + 1))
      fi
      printf '  %-30s run %d/%d  %-8s %7.2f s  %6.2f CPU s  %6.1f MB RSS  (registry %.2f CPU s, other load %.2f)%s\n' "${oplabel[$op]}" "$r" "$runs" \
        "$tool" "$secs" "$cpu" "$(awk -v k="$kb" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }')" "$regcpu" "$other" "$note"
      if [ -z "${best_s[$op:$tool]}" ] || awk -v a="$secs" -v b="${best_s[$op:$tool]}" 'BEGIN { exit !(a < b) }'; then
        best_s[$op:$tool]=$secs
        best_cpu[$op:$tool]=$cpu
        best_noisy[$op:$tool]=$noisy
      fi
      [ "$kb" -gt "${peak_kb[$op:$tool]}" ] && peak_kb[$op:$tool]=$kb
    done
  done
done

# ------------------------------------------------------------------- sanity
# What distill pushed is the image, and what it pulled is the image.
sane=1
got=$(skopeo inspect --tls-verify=false "docker://$REG/bench/distill-1:1" 2>/dev/null | jq -r .Digest || true)
if [ "$got" != "$digest" ]; then echo "registry bench: SANITY FAIL: bench/distill-1:1 is '$got', not $digest" >&2; sane=0; fi
for r in $(seq 1 "$runs"); do
  got=$(jq -r '.manifests[0].digest' "$work/pull-distill-$r/index.json" 2>/dev/null || true)
  if [ "$got" != "$digest" ]; then echo "registry bench: SANITY FAIL: distill's pull $r holds '$got', not $digest" >&2; sane=0; fi
  n=$(find "$work/pull-distill-$r/blobs/sha256" -type f 2>/dev/null | wc -l)
  if [ "$n" != "$n_blobs" ]; then echo "registry bench: SANITY FAIL: distill's pull $r holds $n blobs, not $n_blobs" >&2; sane=0; fi
done
for f in "$work"/pull-distill-1/blobs/sha256/*; do
  [ "sha256:$(sha256sum "$f" | cut -d' ' -f1)" = "sha256:${f##*/}" ] || { echo "registry bench: SANITY FAIL: $f does not hash to its name" >&2; sane=0; }
done

# ------------------------------------------------------------------- report
echo
echo "Results: image of $img_mb MB (compressed blobs), best of $runs (MB = 10^6 bytes)"
printf '  %-30s %-8s %9s %9s %8s %12s\n' operation tool seconds MB/s "CPU s" "peak RSS MB"
for op in "${ops[@]}"; do
  for tool in "${tools[@]}"; do
    printf '  %-30s %-8s %9.2f %9s %8s %12s\n' "${oplabel[$op]}" "$tool" "${best_s[$op:$tool]}" \
      "$(awk -v b="$img_bytes" -v s="${best_s[$op:$tool]}" 'BEGIN { printf "%.1f", b / 1e6 / s }')" "${best_cpu[$op:$tool]}" \
      "$(awk -v k="${peak_kb[$op:$tool]}" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }')"
  done
done
echo "  (seconds: wall time of the fastest run; MB/s: image MB / seconds, also for the re-push, which moves almost nothing)"
[ $noisy_runs = 0 ] || echo "  WARNING: $noisy_runs runs may have shared the CPUs with other load; rerun on an idle machine or raise --runs"

misses=0
echo
echo "Goals (skopeo seconds / distill seconds, at least as fast as skopeo):"
for op in "${ops[@]}"; do
  ratio=$(awk -v a="${best_s[$op:skopeo]}" -v b="${best_s[$op:distill]}" 'BEGIN { printf "%.2f", a / b }')
  noisy=""
  [ "${best_noisy[$op:distill]}${best_noisy[$op:skopeo]}" = 00 ] || noisy="  [noisy]"
  if [ "$op" = repushcold ]; then
    printf '  %-4s  %-30s %6sx  (no goal: the cost of hashing the layout without a cache)%s\n' info "${oplabel[$op]}" "$ratio" "$noisy"
    continue
  fi
  mark=PASS
  awk -v v="$ratio" 'BEGIN { exit !(v >= 1.0) }' || { mark=MISS; misses=$((misses + 1)); }
  printf '  %-4s  %-30s %6sx  (goal >= 1.00x)%s\n' "$mark" "${oplabel[$op]}" "$ratio" "$noisy"
done

if [ $sane = 0 ]; then
  echo "registry bench: the sanity checks failed (see above): the numbers mean nothing" >&2
  exit 1
fi
if [ $check = 1 ] && [ $misses -gt 0 ]; then exit 1; fi
exit 0

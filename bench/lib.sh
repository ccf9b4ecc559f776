# shellcheck shell=bash
# Helpers the bench scripts share: a cached tree of real files to pack, and
# the machine-noise measures (other load, hypervisor steal, waiting for an
# idle machine). Source it; the caller defines die() (its own message prefix)
# and, for wait_for_idle, the variables wait_idle (seconds, 0: don't wait)
# and ncpu.

# ------------------------------------------------------------------ the tree

tree_bytes() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f\n", s }'; }

# copy_listed LIST DEST: copies the host files LIST names (absolute paths,
# one per line) under DEST. tar keeps modes, leaves symlinked parents out
# (only files are listed) and keeps hard links between listed files.
copy_listed() {
  tar -C / --no-recursion --null -cf - -T <(sed 's|^/||' "$1" | tr '\n' '\0') 2>/dev/null | tar -C "$2" -xf -
}

# cached_tree TREE SIZE_MB FRESH WHAT MAKE: makes sure TREE holds about
# SIZE_MB MB of files. A tree this script made (a stamp file beside it, so
# that it is not packed with it) is reused at the same size and remade by
# `MAKE DEST BYTES` when missing, resized or FRESH is 1; a non-empty
# directory not made here is used as it is (and never deleted).
cached_tree() {
  local tree=$1 size_mb=$2 fresh=$3 what=$4 make=$5
  local stamp="$tree.distill-bench" want="size_mb=$size_mb" t0
  if [ -f "$stamp" ] || [ ! -e "$tree" ] || [ -z "$(ls -A "$tree" 2>/dev/null)" ]; then
    if [ "$fresh" = 1 ] || [ ! -d "$tree" ] || [ "$(head -n1 "$stamp" 2>/dev/null)" != "$want" ]; then
      echo "Generating a ${size_mb} MB $what in $tree ..."
      mkdir -p "$(dirname "$tree")"
      rm -f "$stamp"
      t0=$EPOCHREALTIME
      "$make" "$tree" $((size_mb * 1000 * 1000))
      printf '%s\nmade=%s\n' "$want" "$(date -u +%FT%TZ)" >"$stamp"
      echo "  done in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
    else
      echo "Reusing the cached tree in $tree (--fresh to regenerate)"
    fi
  else
    [ "$fresh" = 0 ] || die "--fresh: $tree was not made by this script (no $stamp); refusing to delete it"
    echo "Using the tree in $tree as it is"
  fi
  [ -d "$tree" ] || die "$tree is not a directory"
}

# ------------------------------------------------------------------- noise
# CPU time the whole machine spent busy (user+nice+system+irq+softirq in
# /proc/stat) beyond what the measured tool used is other load, e.g. a
# build in another container; time stolen by the hypervisor (steal) is lost
# too. Either one means numbers to take with salt.

hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat 2>/dev/null || echo 0; }
steal_ticks() { awk '/^cpu / { print $9 + 0 }' /proc/stat 2>/dev/null || echo 0; }

# Waits (at most $wait_idle seconds) until half a second passes in which the
# machine is busy less than 10% of its $ncpu CPUs.
wait_for_idle() {
  [ "$wait_idle" -gt 0 ] || return 0
  local start=$EPOCHREALTIME a b
  while :; do
    a=$(busy_ticks); sleep 0.5; b=$(busy_ticks)
    awk -v d="$((b - a))" -v hz="$hz" -v n="$ncpu" 'BEGIN { exit !(d / hz < 0.1 * 0.5 * n) }' && return 0
    if awk -v s="$start" -v now="$EPOCHREALTIME" -v m="$wait_idle" 'BEGIN { exit !(now - s >= m) }'; then
      echo "  (machine still busy after ${wait_idle}s of waiting; measuring anyway)"
      return 0
    fi
  done
}

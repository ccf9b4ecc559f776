#!/usr/bin/env bash
# Runs distill's end-to-end tests one after another and prints a summary.
#   tests/e2e/run-all.sh                 every tests/e2e/test_*.sh
#   tests/e2e/run-all.sh inspect umoci   only test_inspect.sh and test_umoci.sh
# Environment: DISTILL (the binary, default build/distill), E2E_TIMEOUT
# (seconds per test, default 900), E2E_LOG_DIR (keep each test's log there),
# E2E_KEEP_TMP=1|failed (keep the tests' temp dirs).
# Exits 0 only if every test ran and passed. Needs root, as CI runs it.
set -euo pipefail
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TIMEOUT=${E2E_TIMEOUT:-900}
LOG_DIR=${E2E_LOG_DIR:-}
if [ -z "$LOG_DIR" ]; then
  LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/distill-e2e-logs.XXXXXX")
  trap 'rm -rf "$LOG_DIR"' EXIT
fi
mkdir -p "$LOG_DIR"

tests=()
if [ $# -gt 0 ]; then
  for name in "$@"; do
    name=${name%.sh}
    name=${name#test_}
    [ -f "$E2E_DIR/test_$name.sh" ] || { echo "run-all: no test named $name ($E2E_DIR/test_$name.sh)" >&2; exit 2; }
    tests+=("$E2E_DIR/test_$name.sh")
  done
else
  for t in "$E2E_DIR"/test_*.sh; do [ -f "$t" ] && tests+=("$t"); done
fi
if [ ${#tests[@]} = 0 ]; then
  echo "run-all: no tests found in $E2E_DIR" >&2
  exit 1
fi
command -v timeout >/dev/null || { echo "run-all: 'timeout' (coreutils) is missing" >&2; exit 1; }

passed=0 failed=0 summary=() failed_names=()
start_all=$(date +%s)
for t in "${tests[@]}"; do
  name=$(basename "$t" .sh)
  echo "=== $name"
  start=$(date +%s)
  set +e
  timeout --kill-after=20 "$TIMEOUT" bash "$t" </dev/null 2>&1 | tee "$LOG_DIR/$name.log"
  rc=${PIPESTATUS[0]}
  set -e
  secs=$(($(date +%s) - start))
  if [ "$rc" = 0 ]; then
    passed=$((passed + 1))
    summary+=("$(printf '  PASS  %-22s %4ss' "$name" "$secs")")
  else
    failed=$((failed + 1))
    failed_names+=("$name")
    why="exit status $rc"
    [ "$rc" = 124 ] && why="timed out after ${TIMEOUT}s"
    summary+=("$(printf '  FAIL  %-22s %4ss  (%s)' "$name" "$secs" "$why")")
  fi
done

echo
echo "=== e2e summary ($(($(date +%s) - start_all))s)"
printf '%s\n' "${summary[@]}"
if [ $failed -gt 0 ]; then
  echo
  echo "Failures (the first FAIL line of each log):"
  for name in "${failed_names[@]}"; do
    echo "  $name: $(grep -m1 'FAIL \[' "$LOG_DIR/$name.log" | sed 's/^ *//' | cut -c1-300 || true)"
  done
fi
echo
echo "e2e: $passed passed, $failed failed"
[ $failed = 0 ]

#!/usr/bin/env bash
#===- utils/run-tests.sh - every test, with one summary line at the end ---===#
#
# Runs the whole lit suite (FileCheck tests and the GoogleTest unit tests) on
# the release build, then again on the AddressSanitizer + UBSan build, where
# the bad-input tests prove that no malformed input crashes or reads out of
# bounds. Ends in "N passed, N failed, N skipped" over both runs.
#
# Usage: utils/run-tests.sh RELEASE_BUILD_DIR [SANITIZER_BUILD_DIR]
#
#===----------------------------------------------------------------------===#
set -uo pipefail

LIT=${LIT:-/usr/lib/llvm-22/bin/lit}
LIT_ARGS=${LIT_ARGS:--sv}
passed=0 failed=0 skipped=0 status=0

run_suite() {
  local label=$1 dir=$2 log
  log=$(mktemp)
  echo "== $label: $dir/test"
  # shellcheck disable=SC2086
  "$LIT" $LIT_ARGS "$dir/test" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  [[ $rc -ne 0 ]] && status=1
  local count
  count() { grep -E "^ *$1 *: *[0-9]+" "$log" | awk -F: '{s += $2} END {print s + 0}'; }
  passed=$((passed + $(count Passed) + $(count "Expectedly Failed")))
  failed=$((failed + $(count Failed) + $(count "Unexpectedly Passed") + $(count "Unresolved") + $(count "Timed Out")))
  skipped=$((skipped + $(count Unsupported) + $(count Skipped) + $(count Excluded)))
  # A suite that stopped before its summary still counts as a failure.
  grep -q "Total Discovered Tests" "$log" || { status=1; failed=$((failed + 1)); }
  rm -f "$log"
}

run_suite "release build" "$1"
if [[ $# -ge 2 ]]; then
  run_suite "ASan+UBSan build" "$2"
fi
echo
echo "llm-opt tests: $passed passed, $failed failed, $skipped skipped"
exit $status

#!/usr/bin/env bash
# Tests: each package's own tests/ in its own pytest run, then the cross-package tests in tests/.
# A run that collects no tests (pytest exit code 5) counts as passed; any other failure fails the script
# after all runs have been tried.  Extra arguments go to every pytest run (e.g. -x, -m "not slow").
set -uo pipefail
cd "$(dirname "$0")/.."
failed=()
run() {
    local label=$1; shift
    echo "=== pytest ${label}"
    uv run --frozen pytest "$@"
    local rc=$?
    if [[ $rc -ne 0 && $rc -ne 5 ]]; then
        failed+=("${label} (exit ${rc})")
    fi
}
for dir in packages/*/tests; do
    run "${dir}" "${dir}" "$@"
done
run tests tests "$@"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "all test runs passed"

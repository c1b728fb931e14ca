#!/usr/bin/env bash
# The test command: format lint, a warning-free build, the Swift test suites, the official-SDK interop tests, and the
# offline checks of the deploy files.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh

echo "== swift format lint --strict"
swift format lint --strict --parallel --recursive Package.swift Sources Tests

echo "== swift build (no warnings in our code)"
log=$(mktemp)
swift build --build-tests 2>&1 | tee "$log" | grep -E "error:|warning:|Build complete" | grep -v "^warning: '" || true
if grep -E "^$PWD/(Sources|Tests)/.*(warning|error):" "$log"; then
    echo "test.sh: the build has warnings or errors in our code (above)" >&2
    exit 1
fi
grep -q "Build complete" "$log" || { tail -40 "$log"; exit 1; }

echo "== swift test"
swift test --skip-build 2>&1 | tee "$log" | grep -E "✘|recorded an issue|Test run with|error:" || true
grep -q "✘\|recorded an issue\|error:" "$log" && { echo "test.sh: swift test failed" >&2; exit 1; }
grep -q "Test run with .* passed" "$log" || { tail -40 "$log"; exit 1; }

echo "== interop with the official SDKs"
venv=$(cd "${SCIM_ROTATOR_VENV:-.venv}" && pwd)
binary="$PWD/.build/debug/scim-rotator"
for script in scripts/interop/*_sdk.py; do
    (cd scripts/interop && "$venv/bin/python" "$(basename "$script")" "$binary")
done
echo "== deploy files (systemd-analyze, kubernetes-validate, hadolint)"
scripts/check-deploy.sh "$binary"
echo "test.sh: all passed"

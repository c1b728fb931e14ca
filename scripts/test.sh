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

echo "== PostgreSQL test cluster (scripts/postgres-cluster.sh)"
pg_json=$(scripts/postgres-cluster.sh start)
pg_field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$pg_json" "$1"; }
pg_dir=$(pg_field dir)
moto_dir=""
cleanup() {
    scripts/postgres-cluster.sh stop "$pg_dir" >/dev/null 2>&1 || true
    if [ -n "$moto_dir" ]; then
        local pid
        # Started in a subshell ($(start_moto)): not children to `wait` for, so poll until they are gone.
        for pid in $(cat "$moto_dir/pids"); do
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
        done
        rm -rf "$moto_dir"
    fi
}
trap cleanup EXIT
echo "PostgreSQL $(pg_field version) on port $(pg_field port), started in $(pg_field total_ms) ms"
# The tests' PostgreSQL cases: the owner and daemon roles of database scim, a superuser that creates a database per
# test, and their passwords (a libpq password file, never in a URL).
PGPASSFILE=$(pg_field pgpassfile)
SCIM_ROTATOR_TEST_POSTGRES_URL=$(pg_field owner_url)
SCIM_ROTATOR_TEST_POSTGRES_DAEMON_URL=$(pg_field daemon_url)
SCIM_ROTATOR_TEST_POSTGRES_ADMIN_URL=$(pg_field superuser_url)
export PGPASSFILE SCIM_ROTATOR_TEST_POSTGRES_URL SCIM_ROTATOR_TEST_POSTGRES_DAEMON_URL SCIM_ROTATOR_TEST_POSTGRES_ADMIN_URL

echo "== moto_server (the AWS emulator the AWS sinks are tested against)"
venv=$(cd "${SCIM_ROTATOR_VENV:-.venv}" && pwd)
if [ ! -x "$venv/bin/moto_server" ]; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/interop/requirements.txt
fi
# start_moto: a moto_server on a free loopback port, ready (GET /moto-api/ answers); prints its URL.
start_moto() {
    local port log pid
    port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    log="$moto_dir/$port.log"
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    pid=$!
    echo "$pid" >>"$moto_dir/pids"
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "test.sh: moto_server exited" >&2; return 1; }
        if "$venv/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
            "http://127.0.0.1:$port/moto-api/" 2>/dev/null; then
            echo "http://127.0.0.1:$port"
            return 0
        fi
        sleep 0.1
    done
    cat "$log" >&2
    echo "test.sh: moto_server not ready on port $port" >&2
    return 1
}
moto_dir=$(mktemp -d)
# One server for the sinks' cases; one that a single case switches to IAM mode (every signature checked).
SCIM_ROTATOR_TEST_MOTO_URL=$(start_moto)
SCIM_ROTATOR_TEST_MOTO_IAM_URL=$(start_moto)
export SCIM_ROTATOR_TEST_MOTO_URL SCIM_ROTATOR_TEST_MOTO_IAM_URL
echo "moto_server $("$venv/bin/python" -c 'import moto; print(moto.__version__)') at $SCIM_ROTATOR_TEST_MOTO_URL and $SCIM_ROTATOR_TEST_MOTO_IAM_URL"

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

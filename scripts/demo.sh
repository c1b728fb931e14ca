#!/usr/bin/env bash
# The quick start's first command: installs the system packages `swift run` needs when they are missing
# (libsqlite3-dev, libcurl4-openssl-dev), then runs `scim-rotator demo` with any arguments given
# (e.g. `scripts/demo.sh --help`, `scripts/demo.sh --policies my-policies`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --system-only
exec swift run scim-rotator demo "$@"

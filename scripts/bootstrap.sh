#!/usr/bin/env bash
# Installs what scim-rotator needs beyond the Swift toolchain, when it is missing:
#   - the system packages libsqlite3-dev (GRDB), libcurl4-openssl-dev (URLSession on Linux) and postgresql (the
#     tests' private PostgreSQL server, scripts/postgres-cluster.sh), via apt-get;
#   - a Python venv in .venv with the official cloud SDKs the interop tests drive the emulator with.
# Safe to run again: it only installs what is absent. `--system-only` skips the venv (what `swift run` needs).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for package in libsqlite3-dev libcurl4-openssl-dev postgresql; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    # The tests run private clusters only: the package must not create and start its own `main` cluster on 5432.
    $sudo mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.d/scim-rotator-tests.conf >/dev/null
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[ "${1:-}" = "--system-only" ] && exit 0

venv="${SCIM_ROTATOR_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import tencentcloud.organization, alibabacloud_cloudsso20210515, volcenginesdkcloudidentity' 2>/dev/null; then
    echo "bootstrap: creating $venv with the official SDKs"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/interop/requirements.txt
fi

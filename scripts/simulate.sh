#!/usr/bin/env bash
# The deterministic simulation with more seeds than CI runs, or one seed replayed.
#   scripts/simulate.sh --seeds 5000              seeds 1..5000 (CI runs 200)
#   scripts/simulate.sh --seeds 1000 --first 7001 seeds 7001..8000
#   scripts/simulate.sh --seed 42                 replays seed 42 and prints its log
#   --steps N                                     steps per seed (default 40, as in CI)
# A failing seed prints its schedule, step by step, and the invariant it broke; the same seed reproduces it exactly.
set -euo pipefail
cd "$(dirname "$0")/.."
while [ $# -gt 0 ]; do
    case "$1" in
        --seeds) export SCIM_ROTATOR_SIMULATION_SEEDS="$2"; shift 2 ;;
        --first) export SCIM_ROTATOR_SIMULATION_FIRST="$2"; shift 2 ;;
        --seed) export SCIM_ROTATOR_SIMULATION_SEED="$2"; export SCIM_ROTATOR_SIMULATION_VERBOSE=1; shift 2 ;;
        --steps) export SCIM_ROTATOR_SIMULATION_STEPS="$2"; shift 2 ;;
        -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
        *) echo "simulate.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
swift build --build-tests 2>&1 | grep -E "error:|Build complete" || true
swift test --skip-build --filter "RotationEngineTests.SimulationTests" 2>&1 | grep -E "simulation:|VIOLATION|^  |✘|✔ Test run" 

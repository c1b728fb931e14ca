#!/usr/bin/env bash
# Formats every Swift file in place with the toolchain's swift-format and the committed .swift-format.
set -euo pipefail
cd "$(dirname "$0")/.."
swift format format --parallel --in-place --recursive Package.swift Sources Tests
swift format lint --strict --parallel --recursive Package.swift Sources Tests

#!/usr/bin/env bash
# Installs the dependencies, builds everything and runs every test: lit (IR),
# GoogleTest, the libtorch reference tests, and the GPU tests (which skip,
# saying so, where no GPU is visible).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/tools/setup.sh"
"$root/tools/build.sh"
build="${ATTN_BUILD_DIR:-$root/build}"
jobs="$(nproc)"
ctest --test-dir "$build" --output-on-failure -j "$jobs"

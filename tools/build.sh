#!/usr/bin/env bash
# Configures and builds attn in ./build (Ninja, ccache). Extra arguments are
# passed to ninja (targets). ATTN_BUILD_DIR: another build folder;
# ATTN_SANITIZE: sanitizers for a new one (e.g. address,undefined).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${ATTN_BUILD_DIR:-$root/build}"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DATTN_SANITIZE="${ATTN_SANITIZE:-}"
fi
cmake --build "$build" -- "$@"

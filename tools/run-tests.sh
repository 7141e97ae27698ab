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
# A sanitizer build (README, "Sanitizers") shares LLVM's allocators with
# Debian's uninstrumented libMLIR: their slabs, poisoned by our instrumented
# inline code, are then written by libMLIR's (a false use-after-poison), so
# manual poisoning is off; LeakSanitizer's tracer cannot stop the OpenMP
# threads of the CPU models at exit, so leak checks are off. Every other
# ASan and UBSan check stays.
if grep -q '^ATTN_SANITIZE:STRING=.' "$build/CMakeCache.txt" 2>/dev/null; then
  export ASAN_OPTIONS="${ASAN_OPTIONS:-allow_user_poisoning=0:detect_leaks=0}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
fi
ctest --test-dir "$build" --output-on-failure -j "$jobs"

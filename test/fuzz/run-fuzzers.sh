#!/usr/bin/env bash
# Builds attn's libFuzzer targets with Debian's clang++ (-fsanitize=fuzzer,
# address,undefined; undefined behaviour aborts) from their sources and runs
# each from its seed corpus with its dictionary:
#   run-fuzzers.sh SRC OUT [RUNS [SECONDS]]
# RUNS executions per target (default 20000), stopping early after SECONDS
# (default 120). A crash leaves its input in OUT/<target>/crash-* and fails.
# Exits 77 (ctest: skipped) where clang++ cannot build a fuzzer.
set -euo pipefail
src="$1"
out="$2"
runs="${3:-20000}"
seconds="${4:-120}"
cxx="${ATTN_FUZZ_CXX:-clang++}"
mkdir -p "$out"
probe="$out/probe.cpp"
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char *, unsigned long) { return 0; }' > "$probe"
if ! command -v "$cxx" > /dev/null ||
   ! "$cxx" -fsanitize=fuzzer "$probe" -o "$out/probe" 2> /dev/null; then
  echo "fuzz: skipped: $cxx cannot build a libFuzzer target (Debian's clang)"
  exit 77
fi
llvm="/usr/lib/llvm-22"
flags=(-std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=all -fno-sanitize=vptr)
build() { # name, then compiler arguments
  local name="$1"
  shift
  echo "fuzz: building $name"
  "$cxx" "${flags[@]}" "$@" -o "$out/fuzz-$name"
}
build signature -I"$src/runtime/include" "$src/test/fuzz/FuzzSignature.cpp" \
  "$src/runtime/lib/Library.cpp" "$src/runtime/lib/Device.cpp" -ldl
build listops -I"$src/frontend/include" -I"$src/dialect/include" \
  "$src/test/fuzz/FuzzListOps.cpp" "$src/frontend/lib/Data/ListOps.cpp" \
  "$src/dialect/lib/Support/Random.cpp"
build spec -fno-rtti -I"$src/frontend/include" $("$llvm/bin/llvm-config" --cppflags) \
  "$src/test/fuzz/FuzzModelSpec.cpp" "$src/frontend/lib/ModelSpec.cpp" \
  -L"$llvm/lib" -lLLVM -Wl,-rpath,"$llvm/lib"

status=0
for name in signature listops spec; do
  # New inputs go to a copy: the seeds in the repository stay as they are.
  corpus="$out/$name/corpus"
  rm -rf "$out/$name"
  mkdir -p "$corpus"
  cp "$src/test/fuzz/corpus/$name/"* "$corpus/"
  echo "fuzz: running $name ($runs executions at most, ${seconds} s at most)"
  if ! (cd "$out/$name" && "$out/fuzz-$name" -runs="$runs" \
          -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
          -dict="$src/test/fuzz/$name.dict" "$corpus" 2>&1 |
          grep -E "^(#[0-9]+\s+DONE|==|SUMMARY|stat::number_of_executed_units|artifact_prefix|Test unit written)" ); then
    :
  fi
  if ls "$out/$name"/crash-* "$out/$name"/leak-* "$out/$name"/timeout-* \
       > /dev/null 2>&1; then
    echo "fuzz: $name FAILED: $(ls "$out/$name"/crash-* "$out/$name"/leak-* "$out/$name"/timeout-* 2> /dev/null)"
    status=1
  fi
done
exit $status

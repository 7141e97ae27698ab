#!/usr/bin/env bash
# Builds attn's libFuzzer targets with Debian's clang++ (-fsanitize=fuzzer,
# address,undefined; undefined behaviour aborts) from their sources and runs
# each from its seed corpus with its dictionary:
#   run-fuzzers.sh SRC BUILD OUT [RUNS [SECONDS [TARGETS]]]
# RUNS executions per target (default 20000), stopping early after SECONDS
# (default 120); TARGETS: a space-separated subset of "signature listops
# spec ir". The ir target compiles the dialect and the passes with its
# coverage instrumentation (objects kept in OUT/ir-objects; BUILD gives
# their TableGen output). A crash leaves its input in OUT/<target>/crash-*
# and fails. Exits 77 (ctest: skipped) where clang++ cannot build a fuzzer.
set -euo pipefail
src="$1"
build="$2"
out="$3"
runs="${4:-20000}"
seconds="${5:-120}"
targets="${6:-signature listops spec ir}"
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
common=(-std=c++17 -g -O1 -fno-sanitize-recover=all -fno-sanitize=vptr)
flags=("${common[@]}" -fsanitize=fuzzer,address,undefined)
# The dialect and passes as the ir target sees them (LLVM's defines, the
# TableGen output in BUILD).
mlir=(-fno-rtti $("$llvm/bin/llvm-config" --cppflags)
      -I"$src/dialect/include" -I"$build/dialect/include"
      -I"$src/passes/include" -I"$build/passes/include")
build() { # name, then compiler arguments
  local name="$1"
  shift
  echo "fuzz: building $name"
  "$cxx" "${flags[@]}" "$@" -o "$out/fuzz-$name"
}
wanted() { [[ " $targets " == *" $1 "* ]]; }
wanted signature &&
build signature -I"$src/runtime/include" "$src/test/fuzz/FuzzSignature.cpp" \
  "$src/runtime/lib/Library.cpp" "$src/runtime/lib/Device.cpp" -ldl
wanted listops &&
build listops -I"$src/frontend/include" -I"$src/dialect/include" \
  "$src/test/fuzz/FuzzListOps.cpp" "$src/frontend/lib/Data/ListOps.cpp" \
  "$src/dialect/lib/Support/Random.cpp"
wanted spec &&
build spec -fno-rtti -I"$src/frontend/include" $("$llvm/bin/llvm-config" --cppflags) \
  "$src/test/fuzz/FuzzModelSpec.cpp" "$src/frontend/lib/ModelSpec.cpp" \
  -L"$llvm/lib" -lLLVM -Wl,-rpath,"$llvm/lib"
if wanted ir; then
  # The dialect and the passes, instrumented: each object rebuilt when its
  # source or any attn header is newer.
  objects="$out/ir-objects"
  mkdir -p "$objects"
  irflags=("${common[@]}" -fsanitize=fuzzer-no-link,address,undefined
           "${mlir[@]}")
  newest_header=$(find "$src/dialect/include" "$src/passes/include" \
                    "$build/dialect/include" "$build/passes/include" \
                    -type f -printf '%T@\n' | sort -n | tail -1)
  sources=("$src"/dialect/lib/IR/*.cpp "$src"/dialect/lib/Support/Random.cpp
           "$src"/passes/lib/Transforms/*.cpp "$src"/passes/lib/Conversion/*.cpp
           "$src"/passes/lib/Pipelines/*.cpp)
  list=()
  for source in "${sources[@]}"; do
    object="$objects/$(basename "$(dirname "$source")")-$(basename "$source" .cpp).o"
    list+=("$object")
    if [ ! -f "$object" ] || [ "$source" -nt "$object" ] ||
       [ "$(stat -c %Y "$object")" -lt "${newest_header%.*}" ]; then
      echo "fuzz: compiling $(basename "$source")"
      "$cxx" "${irflags[@]}" -c "$source" -o "$object"
    fi
  done
  build ir "${mlir[@]}" "$src/test/fuzz/FuzzIR.cpp" "${list[@]}" \
    -L"$llvm/lib" -lMLIR -lLLVM -Wl,-rpath,"$llvm/lib"
fi

# LLVM's allocator slabs are poisoned by instrumented inline code and
# written by Debian's uninstrumented libMLIR (tools/run-tests.sh says more):
# manual poisoning off, every other check on.
export ASAN_OPTIONS="${ASAN_OPTIONS:-allow_user_poisoning=0}"
status=0
for name in $targets; do
  # New inputs go to a copy: the seeds in the repository stay as they are.
  # Seeds the repository has elsewhere are taken from there: the example
  # specs, the loader's LRA sample, every lit split and example module.
  corpus="$out/$name/corpus"
  rm -rf "$out/$name"
  mkdir -p "$corpus"
  case "$name" in
    ir) python3 "$src/test/fuzz/seed-ir.py" "$src" "$corpus" ;;
    spec) cp "$src"/examples/*.json "$src"/examples/listops/*.json "$corpus/" ;;
    listops) cp "$src/test/frontend/Inputs/listops_lra_sample.tsv" "$corpus/" ;;
  esac
  if [ -d "$src/test/fuzz/corpus/$name" ]; then
    cp "$src/test/fuzz/corpus/$name/"* "$corpus/"
  fi
  echo "fuzz: running $name ($runs executions at most, ${seconds} s at most)"
  # libFuzzer exits 0 when its runs or its time are done; anything else
  # (a finding, or a target that cannot start) fails the test.
  rc=0
  (cd "$out/$name" && "$out/fuzz-$name" -runs="$runs" \
      -max_total_time="$seconds" -max_len=16384 -print_final_stats=1 \
      -dict="$src/test/fuzz/$name.dict" "$corpus" > "$out/$name.log" 2>&1) ||
    rc=$?
  grep -E "^(#[0-9]+\s+DONE|==|SUMMARY|stat::number_of_executed_units|artifact_prefix|Test unit written)" \
    "$out/$name.log" || true
  if [ "$rc" -ne 0 ]; then
    echo "fuzz: $name FAILED (exit status $rc; log $out/$name.log): $(ls "$out/$name"/crash-* "$out/$name"/leak-* "$out/$name"/timeout-* 2> /dev/null)"
    tail -20 "$out/$name.log"
    status=1
  fi
done
exit $status

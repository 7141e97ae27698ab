#!/usr/bin/env bash
# Runs attn's libFuzzer targets (built with the project, target `fuzzers`:
# test/fuzz/CMakeLists.txt) from their seed corpora with their dictionaries:
#   run-fuzzers.sh SRC FUZZERS OUT [RUNS [SECONDS [TARGETS]]]
# SRC: the source tree (seeds, dictionaries); FUZZERS: the folder holding
# fuzz-NAME (build/test/fuzz); OUT: where corpora and logs go. RUNS
# executions per target (default 20000), stopping early after SECONDS
# (default 120); TARGETS: a space-separated subset of "signature listops
# spec ir ir-gpu" (ir-gpu: fuzz-ir with ATTN_FUZZ_PIPELINE=gpu, the inputs
# through --lower-to-gpu; ir's seeds and dictionary). A crash leaves its
# input in OUT/<target>/crash-* and fails.
# Exits 77 (ctest: skipped) where the fuzzers were not built, saying why
# (ATTN_FUZZ_SKIP_REASON, set by the build's configure step).
set -euo pipefail
src="$1"
fuzzers="$2"
out="$3"
runs="${4:-20000}"
seconds="${5:-120}"
targets="${6:-signature listops spec ir ir-gpu}"
if [ -n "${ATTN_FUZZ_SKIP_REASON:-}" ]; then
  echo "fuzz: skipped: the fuzzers were not built: $ATTN_FUZZ_SKIP_REASON"
  exit 77
fi
# A target's kind: the name of its fuzzer (fuzz-KIND), dictionary and
# seeds (ir-gpu is ir's, through the other pipeline).
kind() { echo "${1%-gpu}"; }
for name in $targets; do
  if [ ! -x "$fuzzers/fuzz-$(kind "$name")" ]; then
    echo "fuzz: $fuzzers/fuzz-$(kind "$name") is missing: build the target fuzzers (ninja -C build fuzzers)"
    exit 1
  fi
done
mkdir -p "$out"

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
    # Whole models through the GPU pipeline take seconds each (sanitized):
    # the lowerings' own splits, not the examples.
    ir-gpu) python3 "$src/test/fuzz/seed-ir.py" "$src" "$corpus" 4096 ;;
    spec) cp "$src"/examples/*.json "$src"/examples/listops/*.json "$corpus/" ;;
    listops) cp "$src/test/frontend/Inputs/listops_lra_sample.tsv" "$corpus/" ;;
  esac
  if [ -d "$src/test/fuzz/corpus/$(kind "$name")" ]; then
    cp "$src/test/fuzz/corpus/$(kind "$name")/"* "$corpus/"
  fi
  if [ "$name" = ir ]; then
    # The upstream crashes FuzzIR.cpp skips (test/fuzz/upstream), each run
    # once: a form its filter lets through again fails here, named.
    if ! (cd "$out/$name" && "$fuzzers/fuzz-ir" "$src"/test/fuzz/upstream/*.mlir.txt \
          > "$out/ir-upstream.log" 2>&1); then
      echo "fuzz: ir: FuzzIR.cpp's filter let an upstream crash through:"
      grep -E "^(Running:|SUMMARY)" "$out/ir-upstream.log" | tail -2 || true
      status=1
    fi
  fi
  echo "fuzz: running $name ($runs executions at most, ${seconds} s at most)"
  # libFuzzer exits 0 when its runs or its time are done; anything else
  # (a finding, or a target that cannot start) fails the test.
  rc=0
  pipeline=cpu
  [ "$name" = ir-gpu ] && pipeline=gpu
  (cd "$out/$name" && ATTN_FUZZ_PIPELINE=$pipeline "$fuzzers/fuzz-$(kind "$name")" \
      -runs="$runs" -max_total_time="$seconds" -max_len=16384 \
      -print_final_stats=1 -dict="$src/test/fuzz/$(kind "$name").dict" \
      "$corpus" > "$out/$name.log" 2>&1) ||
    rc=$?
  grep -E "^(#[0-9]+\s+DONE|==|SUMMARY|stat::number_of_executed_units|artifact_prefix|Test unit written)" \
    "$out/$name.log" || true
  if [ "$rc" -ne 0 ]; then
    # The finding and its whole log kept where the next run does not clear
    # them (it starts each target's directory afresh).
    kept="$out/findings/$name-$(date +%Y%m%d-%H%M%S)"
    mkdir -p "$kept"
    cp "$out/$name.log" "$kept/"
    cp "$out/$name"/crash-* "$out/$name"/leak-* "$out/$name"/timeout-* \
      "$kept/" 2> /dev/null || true
    echo "fuzz: $name FAILED (exit status $rc; log and input kept in $kept): $(ls "$kept")"
    # The report's first frames (where attn's code is, if anywhere), then
    # the tail.
    grep -m 40 -E "^(==|SUMMARY|    #[0-9]+ )" "$out/$name.log" || true
    tail -20 "$out/$name.log"
    status=1
  fi
done
exit $status

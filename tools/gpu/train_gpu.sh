#!/usr/bin/env bash
# Training steps measured on the GPU machine, before and after a change,
# next to the anchors' torch.compile step from the same call
# (tools/attn-bench/NOTES.md records what they gave):
#
#   train_gpu.sh prepare BUILD OUT [BEFORE_BUILD]   (here, where MLIR is)
#       compiles the training steps below with BUILD's attn-compile into
#       OUT/runs/NAME-after (and with BEFORE_BUILD's, a build of the commit
#       to compare with, into NAME-before), and
#       copies attn-train, listops-gen, libattnrt, the specs and the
#       anchors' model_step.py (../shared/anchors beside the repository)
#       into OUT; $AFTER_FLAGS and $BEFORE_FLAGS (words) are more
#       attn-compile flags for each side (attn-train --compile-flag), so
#       that BEFORE_BUILD may be BUILD itself with other lowering options
#       (a step whose two sides compile to the same libraries keeps only
#       'after', so that the run does not time it twice over)
#   train_gpu.sh run OUT                            (on the GPU machine)
#       runs 100 steps of each, before and after alternating twice, on
#       `listops-gen --seed 0 --train 8000`; the bf16 step's kernel
#       profile (ATTN_PROFILE); model_step.py; then a table: each run's
#       seconds for the 100 steps (attn-train's `seconds`: the steps alone),
#       its training and validation loss at step 100. $OUT (default
#       OUT/out) gets the profile and model_step.py's output, logs/ each
#       run's log. torch.compile's step moves between calls and machines
#       (8.0-11.6 ms on H100s in one session): compare within a call.
#
# $LISTOPS_FLAGS (words) are more listops-gen flags for `run`'s data, e.g.
# "--min-length 1950 --max-length 2000": batches whose sequences are all
# nearly N long, so that attn's step (whose attention stops at each
# sequence's length) does the work of the anchor's, which attends all N.
#
# Steps: Hybrid-BERT-Mini in bf16 (examples/hybrid-bert-mini.json with
# "dtype": "bf16", what the issue's benchmark compares with
# torch.compile) and in f32, Linear-BERT-Mini in f32; B = 24, N = 2048.
# $SPECS (words of hbm-bf16 hbm-f32 lbm-f32; all three by default) picks
# the steps: `prepare` compiles those, `run` runs those of them prepared.
set -uo pipefail
known="hbm-bf16 hbm-f32 lbm-f32"
read -ra specs <<< "${SPECS:-$known}"
for s in "${specs[@]}"; do
  [[ " $known " == *" $s "* ]] || {
    echo "train_gpu: no step '$s' (SPECS: $known)"; exit 2; }
done
flags=(--target gpu --steps 100 --eval-every 100 --eval-batches 8 --seed 0)
mode=${1:-}
if [ "$mode" = prepare ]; then
  [ $# -ge 3 ] || { echo "usage: train_gpu.sh prepare BUILD OUT [BEFORE_BUILD]"; exit 2; }
  build=$(realpath "$2")
  out=$3
  before=${4:+$(realpath "$4")}
  src=$(dirname "$(dirname "$(dirname "$(realpath "$0")")")")
  anchor="$src/../shared/anchors/model_step.py"
  mkdir -p "$out/bin" "$out/lib" "$out/specs" "$out/runs"
  cp "$build/tools/attn-train/attn-train" "$build/tools/listops-gen/listops-gen" "$out/bin/"
  cp "$build/runtime/libattnrt.so" "$out/lib/"
  cp "$src/tools/gpu/train_gpu.sh" "$out/"
  if [ -f "$anchor" ]; then cp "$anchor" "$out/"; else echo "no $anchor: run will skip the anchor"; fi
  sed 's/"pool": "cls"/"dtype": "bf16", "pool": "cls"/' "$src/examples/hybrid-bert-mini.json" > "$out/specs/hbm-bf16.json"
  cp "$src/examples/hybrid-bert-mini.json" "$out/specs/hbm-f32.json"
  cp "$src/examples/linear-bert-mini.json" "$out/specs/lbm-f32.json"
  for s in "${specs[@]}"; do
    for side in after before; do
      compiler=$build
      side_flags=${AFTER_FLAGS:-}
      if [ $side = before ]; then
        [ -n "$before" ] || continue
        compiler=$before side_flags=${BEFORE_FLAGS:-}
      fi
      extra=()
      for f in $side_flags; do extra+=(--compile-flag "$f"); done
      # The spec is imported by BEFORE_BUILD's attn-import where it has
      # one, else by BUILD's.
      importer=$compiler/tools/attn-import/attn-import
      [ -x "$importer" ] || importer=$build/tools/attn-import/attn-import
      echo "compiling $s ($side)"
      "$out/bin/attn-train" "$out/specs/$s.json" "${flags[@]}" --data none \
        --out "$out/runs/$s-$side" --compile-only \
        --attn-compile "$compiler/tools/attn-compile/attn-compile" \
        --attn-import "$importer" "${extra[@]}" > /dev/null || exit 1
    done
    # Where the two sides compiled the same libraries (lowering options
    # that do not touch this model), one side is timed, not both.
    if [ -d "$out/runs/$s-before" ] &&
        cmp -s "$out/runs/$s-before/train.so" "$out/runs/$s-after/train.so" &&
        cmp -s "$out/runs/$s-before/eval.so" "$out/runs/$s-after/eval.so"; then
      rm -rf "$out/runs/$s-before"
      echo "$s: the same libraries before and after; only 'after' runs"
    fi
  done
  echo "prepared $out"
  exit 0
fi
[ "$mode" = run ] && [ $# -ge 2 ] || {
  echo "usage: train_gpu.sh prepare BUILD OUT [BEFORE_BUILD] | run OUT"; exit 2; }
cd "$2" || exit 1
export LD_LIBRARY_PATH=$PWD/lib:${LD_LIBRARY_PATH:-}
# $OUT (the device tool's folder that comes back) gets the profile and the
# anchor's output; each run's log stays in logs/.
O=${OUT:-$PWD/out}
mkdir -p "$O" logs
nvidia-smi -L || { echo "train_gpu: no GPU is visible (nvidia-smi)"; exit 77; }
read -ra listops_flags <<< "${LISTOPS_FLAGS:-}"
bin/listops-gen --out data --seed 0 --train 8000 --val 200 --test 200 \
  "${listops_flags[@]}" > /dev/null 2>&1 || {
  echo "train_gpu: listops-gen failed"; exit 1; }
status=0
results=()
one() { # NAME LIBRARIES: 100 steps from a fresh copy of LIBRARIES' folder
  rm -rf "runs/$1"; mkdir -p "runs/$1"
  cp "runs/$2"/{train.so,eval.so,ranks.txt} "runs/$1/"
  if ! bin/attn-train "specs/${2%-*}.json" "${flags[@]}" --data data --out "runs/$1" \
      --no-compile > "logs/$1.log" 2>&1; then
    echo "$1: attn-train failed (its log: logs/$1.log)"; tail -3 "logs/$1.log"; status=1; return
  fi
  local train val
  train=$(grep '"train"' "runs/$1/metrics.jsonl" | tail -1)
  val=$(grep '"val"' "runs/$1/metrics.jsonl" | tail -1)
  results+=("$(python3 -c 'import json, sys
t, v = json.loads(sys.argv[2]), json.loads(sys.argv[3])
print("{:22s} {:8.3f} {:8.2f} {:10.5f} {:10.5f}".format(
    sys.argv[1], t["seconds"], t["seconds"] * 10, t["loss"], v["loss"]))' \
    "$1" "$train" "$val")")
}
for round in 1 2; do
  for s in "${specs[@]}"; do
    for side in before after; do
      [ -d "runs/$s-$side" ] && one "$s-$side-$round" "$s-$side"
    done
  done
done
if [ -d runs/hbm-bf16-after ]; then
  echo "== the bf16 step's kernel profile (after)"
  rm -rf runs/hbm-bf16-profile; mkdir -p runs/hbm-bf16-profile
  cp runs/hbm-bf16-after/{train.so,eval.so,ranks.txt} runs/hbm-bf16-profile/
  ATTN_PROFILE="$O/profile-bf16.txt" bin/attn-train specs/hbm-bf16.json "${flags[@]}" --data data \
    --out runs/hbm-bf16-profile --no-compile > /dev/null 2>&1
  head -24 "$O/profile-bf16.txt" 2>/dev/null
fi
if [ -f model_step.py ]; then
  echo "== the anchors' model_step.py (the same call)"
  python3 model_step.py 2>&1 | tee "$O/model_step.txt" | tail -8
fi
echo
echo "training steps, 100 of them (B = 24, N = 2048)"
printf "%-22s %8s %8s %10s %10s\n" run seconds "ms/step" "train loss" "val loss"
printf "%s\n" "${results[@]}"
exit $status

#!/usr/bin/env bash
# The main job: installs the dependencies, builds attn, compiles the example
# hybrid encoder (Hybrid-BERT-Mini: BigBird, linear, BigBird, linear) to a
# shared library for the CPU, then trains a ListOps model with attn-train,
# saying what it did at each step.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/tools/setup.sh"
"$root/tools/build.sh"
build="${ATTN_BUILD_DIR:-$root/build}"
out="$build/main"
mkdir -p "$out"

spec="$root/examples/hybrid-bert-mini.json"
echo "== import: $spec"
"$build/tools/attn-import/attn-import" "$spec" -o "$out/hybrid-bert-mini.mlir"
"$build/tools/attn-opt/attn-opt" "$out/hybrid-bert-mini.mlir" -o /dev/null
layers=$(grep -oE 'attn\.layer\.[a-z]+ ' "$out/hybrid-bert-mini.mlir" | sed 's/attn.layer.//' | tr -d ' ' | paste -sd, -)
params=$(grep -o 'attn.param = ' "$out/hybrid-bert-mini.mlir" | wc -l)
echo "   verified: layers [$layers], $params parameter tensors -> $out/hybrid-bert-mini.mlir"
echo "== compile: attn-compile --target cpu (the whole forward pass, tiled and vectorized)"
start=$(date +%s)
"$build/tools/attn-compile/attn-compile" "$out/hybrid-bert-mini.mlir" -o "$out/hybrid-bert-mini.so"
symbols=$(nm -D --defined-only "$out/hybrid-bert-mini.so" | grep -c ' T ')
echo "   $out/hybrid-bert-mini.so: $symbols exported functions, $(( $(date +%s) - start )) s"

# Training. With a GPU visible: Hybrid-BERT-Mini itself on LRA-sized ListOps
# (96k/2k/2k examples, lengths up to 2000), compiled for the GPU by
# attn-train, for ATTN_MAIN_MINUTES minutes (default 20). Without one: a
# small preset of the same hybrid (examples/listops/hybrid-tiny.json:
# BigBird, linear, BigBird, linear at width 64, sequences of 128) on a short
# generated ListOps set -- reverse mode through both attention kernels,
# AdamW in the compiled step, checkpoints, validation -- in a few minutes
# on two cores.
if nvidia-smi -L >/dev/null 2>&1; then
  gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
  minutes="${ATTN_MAIN_MINUTES:-20}"
  echo "== train: Hybrid-BERT-Mini on the GPU ($gpu), $minutes minutes"
  data="$out/listops"
  [ -f "$data/basic_test.tsv" ] ||
    "$build/tools/listops-gen/listops-gen" --out "$data" --seed 0 2>/dev/null
  echo "   data: $data (ListOps as LRA generates it: 96000 train, 2000 validation, 2000 test)"
  run="$out/run-hybrid-bert-mini"
  rm -rf "$run"
  "$build/tools/attn-train/attn-train" "$spec" --data "$data" --out "$run" \
    --target gpu --steps 20000 --eval-every 400 --eval-batches 40 --lr 5e-4 \
    --warmup 500 --seed 0 --max-minutes "$minutes"
else
  echo "== train: the hybrid encoder's CPU preset examples/listops/hybrid-tiny.json"
  data="$out/listops-small"
  "$build/tools/listops-gen/listops-gen" --out "$data" --train 6000 --val 500 \
    --test 500 --min-length 10 --max-length 120 --seed 0 2>/dev/null
  echo "   data: $data (ListOps, lengths 11-119: 6000 train, 500 validation, 500 test)"
  run="$out/run-hybrid-tiny"
  rm -rf "$run"
  "$build/tools/attn-train/attn-train" "$root/examples/listops/hybrid-tiny.json" \
    --data "$data" --out "$run" --steps 240 --eval-every 60 --lr 3e-3 \
    --warmup 30 --seed 0
fi
echo "== evaluate: the best checkpoint on the test split"
"$build/tools/attn-train/attn-train" evaluate "$run/best.safetensors" \
  --data "$data/basic_test.tsv"
echo "   metrics: $run/metrics.jsonl, curves: $run/curves.png, checkpoints: $run/{best,last}.safetensors"

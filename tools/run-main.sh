#!/usr/bin/env bash
# The main job: installs the dependencies, builds attn, and compiles the
# example hybrid encoder (Hybrid-BERT-Mini: BigBird, linear, BigBird, linear)
# to a shared library for the CPU, saying what it did at each step.
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
echo "== training is not built yet: the job stops after compiling."

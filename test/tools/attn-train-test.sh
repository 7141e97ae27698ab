#!/usr/bin/env bash
# attn-train end to end on a small generated ListOps set: it learns (the
# loss falls, validation accuracy ends above the majority class), a run
# split in two by --stop-at-step ends in the same checkpoint as an
# uninterrupted one, `evaluate` scores the test split, bad input stops
# with a message naming the file and line, leaving the checkpoints intact,
# and data-parallel runs asked for where they cannot run are refused.
#   attn-train-test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
train="$build/tools/attn-train/attn-train"
model="$src/examples/listops/bag-of-tokens.mlir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$build/tools/listops-gen/listops-gen" --out "$tmp/data" --train 1500 \
  --val 300 --test 300 --min-length 10 --max-length 120 --seed 3 2>/dev/null
common=(--data "$tmp/data" --steps 90 --eval-every 30 --lr 3e-3 --warmup 10 --seed 5)

"$train" "$model" "${common[@]}" --out "$tmp/whole" > "$tmp/whole.log"
"$train" "$model" "${common[@]}" --out "$tmp/split" --stop-at-step 40 > "$tmp/split1.log"
grep -q "stopped at step 40" "$tmp/split1.log"
"$train" "$model" "${common[@]}" --out "$tmp/split" > "$tmp/split2.log"
grep -q "resuming from .* at step 40" "$tmp/split2.log"
cmp "$tmp/whole/last.safetensors" "$tmp/split/last.safetensors" || {
  echo "FAIL: a resumed run ends elsewhere than an uninterrupted one"; exit 1; }

python3 - "$tmp/whole/metrics.jsonl" "$tmp/data/basic_val.tsv" <<'PY'
import collections, json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
train = [r for r in rows if r["split"] == "train"]
val = [r for r in rows if r["split"] == "val"]
labels = [l.split("\t")[1].strip() for l in open(sys.argv[2]).readlines()[1:]]
majority = collections.Counter(labels).most_common(1)[0][1] / len(labels)
print(f"train loss {train[0]['loss']:.3f} -> {train[-1]['loss']:.3f}; "
      f"validation accuracy {val[-1]['accuracy']:.3f} (majority {majority:.3f})")
assert train[-1]["loss"] < train[0]["loss"] - 0.1, "the loss did not fall"
assert val[-1]["accuracy"] > majority + 0.03, "no better than the majority class"
PY

# The curves, drawn by gnuplot (tools/setup.sh installs it), and drawn
# again by `curves` from the metrics alone.
test -s "$tmp/whole/curves.png" || { echo "FAIL: no curves.png"; exit 1; }
mkdir "$tmp/copied"
cp "$tmp/whole/metrics.jsonl" "$tmp/copied/"
"$train" curves "$tmp/copied" > "$tmp/curves.log"
test -s "$tmp/copied/curves.png" || {
  echo "FAIL: attn-train curves drew nothing:"; cat "$tmp/curves.log"; exit 1; }
if "$train" curves "$tmp/data" > "$tmp/nocurves.log" 2>&1; then
  echo "FAIL: curves of a folder without metrics"; exit 1
fi
grep -q "no metrics.jsonl in" "$tmp/nocurves.log"
"$train" evaluate "$tmp/whole/best.safetensors" --data "$tmp/data/basic_test.tsv" \
  > "$tmp/eval.log"
grep -q "300 examples" "$tmp/eval.log"
# ... showing its progress over the batches.
grep -q "evaluating: batch [0-9]*/[0-9]*" "$tmp/eval.log" || {
  echo "FAIL: evaluate shows no progress:"; cat "$tmp/eval.log"; exit 1; }

# Bad input: a malformed line, a label outside the classes.
cp -r "$tmp/data" "$tmp/bad"
printf '( [MAX 2 3 ] )\t3\nnot a line\n' >> "$tmp/bad/basic_train.tsv"
if "$train" "$model" --data "$tmp/bad" --steps 90 --eval-every 30 --lr 3e-3 \
    --warmup 10 --seed 5 --out "$tmp/whole" > "$tmp/bad.log" 2>&1; then
  echo "FAIL: a malformed TSV line was accepted"; exit 1
fi
grep -q "basic_train.tsv:1503" "$tmp/bad.log" || {
  echo "FAIL: the error does not name the file and line:"; cat "$tmp/bad.log"; exit 1; }
cmp "$tmp/whole/last.safetensors" "$tmp/split/last.safetensors" || {
  echo "FAIL: a failed run changed the checkpoint"; exit 1; }
# A compiler that fails: the training step's compile is named (the two
# libraries compile at once; both are waited for first).
if "$train" "$model" "${common[@]}" --out "$tmp/nocompiler" \
    --attn-compile /bin/false > "$tmp/nocompiler.log" 2>&1; then
  echo "FAIL: a failing compiler was not reported"; exit 1
fi
grep -q "compiling the training step failed (exit 1)" "$tmp/nocompiler.log" || {
  echo "FAIL: the failed compile is not named:"; cat "$tmp/nocompiler.log"; exit 1; }
# --compile-flag reaches attn-compile: a flag it does not know fails the
# compile, whose command attn-train names. (The two compiles' own messages
# may interleave: they run at once.)
if "$train" "$model" "${common[@]}" --out "$tmp/badflag" \
    --compile-flag --no-such-flag > "$tmp/badflag.log" 2>&1; then
  echo "FAIL: an unknown attn-compile flag was accepted"; exit 1
fi
grep -q "attn-train: error: compiling the training step failed (exit 1): .* '--no-such-flag' " "$tmp/badflag.log" || {
  echo "FAIL: --compile-flag did not reach attn-compile:"; cat "$tmp/badflag.log"; exit 1; }
# A checkpoint of another run is refused.
if "$train" "$model" "${common[@]}" --seed 6 --out "$tmp/whole" > "$tmp/other.log" 2>&1; then
  echo "FAIL: resumed another run's checkpoint"; exit 1
fi
grep -q "is from another run" "$tmp/other.log"
# Logits the loop cannot read (bf16) are refused before any step.
sed -e 's/-> (tensor<f32>, tensor<32x10xf32>)/-> (tensor<f32>, tensor<32x10xbf16>)/' \
    -e 's/return %loss, %logits : tensor<f32>, tensor<32x10xf32>/%half = attn.cast %logits : tensor<32x10xf32> to tensor<32x10xbf16>\n  return %loss, %half : tensor<f32>, tensor<32x10xbf16>/' \
    "$model" > "$tmp/bf16-logits.mlir"
if "$train" "$tmp/bf16-logits.mlir" "${common[@]}" --out "$tmp/bf16" > "$tmp/bf16.log" 2>&1; then
  echo "FAIL: bf16 logits were accepted"; exit 1
fi
grep -q "forward must return its loss and logits in f32" "$tmp/bf16.log" || {
  echo "FAIL: bf16 logits were refused for another reason:"; cat "$tmp/bf16.log"; exit 1; }

# Compiled ahead (--compile-only, as for a machine without MLIR), trained
# with --no-compile; RUN/ranks.txt says for how many ranks.
"$train" "$model" "${common[@]}" --out "$tmp/ahead" --compile-only > "$tmp/ahead.log"
test -s "$tmp/ahead/train.so" && test -s "$tmp/ahead/eval.so" || {
  echo "FAIL: --compile-only compiled nothing:"; cat "$tmp/ahead.log"; exit 1; }
test "$(cat "$tmp/ahead/ranks.txt")" = 1
test ! -e "$tmp/ahead/metrics.jsonl"
"$train" "$model" "${common[@]}" --out "$tmp/ahead" --no-compile --stop-at-step 5 > "$tmp/ahead2.log"
grep -q "stopped at step 5" "$tmp/ahead2.log"
# The schedule and AdamW are constants of the compiled step: --no-compile
# with other settings is refused (naming them), the checkpoint untouched.
cp "$tmp/ahead/last.safetensors" "$tmp/ahead-last.safetensors"
if "$train" "$model" "${common[@]/3e-3/5e-3}" --out "$tmp/ahead" --no-compile \
    > "$tmp/ahead3.log" 2>&1; then
  echo "FAIL: trained with another learning rate than the library's"; exit 1
fi
grep -q "was compiled with other optimizer settings: lr=0.003 (this run: 0.005)" \
  "$tmp/ahead3.log" || { echo "FAIL: unexpected message:"; cat "$tmp/ahead3.log"; exit 1; }
cmp "$tmp/ahead/last.safetensors" "$tmp/ahead-last.safetensors"

# --length-step: batches of similar lengths padded to multiples of 64 (the
# short lists here take the library compiled for 64 tokens, the rest the
# spec's 128), one set of parameters (a learned position table of 128
# rows); a run split in two still ends where an uninterrupted one does, and
# evaluate scores with the same libraries.
spec="$src/test/tools/Inputs/ssm-tiny.json"
steps=(--data "$tmp/data" --steps 24 --eval-every 12 --lr 3e-3 --seed 5 --length-step 64)
"$train" "$spec" "${steps[@]}" --out "$tmp/lwhole" > "$tmp/lwhole.log"
grep -q "steps of 16 x up to 128 tokens (multiples of 64)" "$tmp/lwhole.log"
test "$(cat "$tmp/lwhole/lengths.txt")" = "64 64"
test -s "$tmp/lwhole/train-64.so" && test -s "$tmp/lwhole/eval-64.so"
"$train" "$spec" "${steps[@]}" --out "$tmp/lsplit" --stop-at-step 10 > "$tmp/lsplit1.log"
"$train" "$spec" "${steps[@]}" --out "$tmp/lsplit" --no-compile > "$tmp/lsplit2.log"
grep -q "resuming from .* at step 10" "$tmp/lsplit2.log"
cmp "$tmp/lwhole/last.safetensors" "$tmp/lsplit/last.safetensors" || {
  echo "FAIL: a resumed --length-step run ends elsewhere"; exit 1; }
"$train" evaluate "$tmp/lwhole/best.safetensors" --data "$tmp/data/basic_test.tsv" \
  > "$tmp/leval.log"
grep -q "300 examples" "$tmp/leval.log"
# ... and the libraries or checkpoints of another step are refused.
if "$train" "$spec" "${steps[@]/64/32}" --out "$tmp/lsplit" --no-compile \
    > "$tmp/lother.log" 2>&1; then
  echo "FAIL: trained with another --length-step's libraries"; exit 1
fi
grep -q "holds libraries compiled with --length-step 64, this run asks for 32" "$tmp/lother.log"
if "$train" "$model" "${common[@]}" --out "$tmp/lmlir" --length-step 64 \
    > "$tmp/lmlir.log" 2>&1; then
  echo "FAIL: --length-step with a .mlir model"; exit 1
fi
grep -q "it needs a .json model" "$tmp/lmlir.log"

# Batch norms: their running statistics are buffers that the run keeps
# (moved from their initial zeros and ones), checkpoints, resumes with, and
# that evaluation normalises with.
bn="$src/test/tools/Inputs/ssm-batch-norm-tiny.json"
"$train" "$bn" "${steps[@]}" --out "$tmp/bwhole" > "$tmp/bwhole.log"
"$train" "$bn" "${steps[@]}" --out "$tmp/bsplit" --stop-at-step 10 > "$tmp/bsplit1.log"
"$train" "$bn" "${steps[@]}" --out "$tmp/bsplit" --no-compile > "$tmp/bsplit2.log"
cmp "$tmp/bwhole/last.safetensors" "$tmp/bsplit/last.safetensors" || {
  echo "FAIL: a resumed batch-norm run ends elsewhere"; exit 1; }
python3 - "$tmp/bwhole/last.safetensors" <<'PY'
import json, struct, sys
data = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n])
def values(name):
    begin, end = header[name]["data_offsets"]
    raw = data[8 + n + begin:8 + n + end]
    return struct.unpack(f"<{len(raw) // 4}f", raw)
for layer in (0, 1):
    mean = values(f"layers.{layer}.ln1.running_mean")
    var = values(f"layers.{layer}.ln1.running_var")
    assert len(mean) == len(var) == 16, (len(mean), len(var))
    assert any(abs(m) > 1e-4 for m in mean), f"layer {layer}: mean never moved"
    assert any(abs(v - 1) > 1e-4 for v in var), f"layer {layer}: var never moved"
    assert all(v > 0 for v in var), f"layer {layer}: a variance <= 0"
assert not any(k.startswith("optimizer.m.layers.0.ln1.running") for k in header), \
    "the optimizer keeps moments of a buffer"
PY
"$train" evaluate "$tmp/bwhole/best.safetensors" --data "$tmp/data/basic_test.tsv" \
  > "$tmp/beval.log"
grep -q "300 examples" "$tmp/beval.log"

# Data-parallel runs are on GPUs: asked for on the CPU, refused before
# anything runs, with what to do.
expect_error() { # expected message, then the command
  local message="$1"
  shift
  if "$@" > "$tmp/dp.log" 2>&1; then
    echo "FAIL: accepted: $*"; exit 1
  fi
  grep -qF -- "$message" "$tmp/dp.log" || {
    echo "FAIL: '$*' did not say '$message':"; cat "$tmp/dp.log"; exit 1; }
}
expect_error "--gpus 2 trains on GPUs: it needs --target gpu" \
  "$train" "$model" "${common[@]}" --out "$tmp/dp" --gpus 2
expect_error "--chip names a GPU: it needs --target gpu" \
  "$train" "$model" "${common[@]}" --out "$tmp/dp" --chip sm_80
expect_error "a data-parallel run (WORLD_SIZE=2) trains on GPUs: it needs --target gpu" \
  env WORLD_SIZE=2 RANK=1 "$train" "$model" "${common[@]}" --out "$tmp/ahead" --no-compile
expect_error "RANK=2 is not an integer in [0, 1]" \
  env WORLD_SIZE=2 RANK=2 "$train" "$model" "${common[@]}" --out "$tmp/ahead" --no-compile
expect_error "WORLD_SIZE=two is not an integer" \
  env WORLD_SIZE=two "$train" "$model" "${common[@]}" --out "$tmp/ahead" --no-compile
expect_error "--exchange must be f32 or bf16, got 'f16'" \
  "$train" "$model" "${common[@]}" --out "$tmp/dp" --exchange f16
# Libraries compiled for one rank are refused by a run of two, which would
# otherwise train each rank on its own gradients.
expect_error "ahead/train.so was compiled for 1 ranks, this run has 2" \
  env WORLD_SIZE=2 RANK=1 "$train" "$model" "${common[@]}" --out "$tmp/ahead" \
  --no-compile --target gpu
rm "$tmp/ahead/ranks.txt"
expect_error "ahead/train.so does not average its gradients over ranks" \
  env WORLD_SIZE=2 RANK=1 "$train" "$model" "${common[@]}" --out "$tmp/ahead" \
  --no-compile --target gpu

# --recalibrate-batches: batch norms' statistics measured afresh before each
# validation. At a rate of 1e-12 (below f32's rounding of every parameter:
# they do not move) and with a training split of one batch, every step sees
# the same batch statistics s: 300 steps of running averages
# (momentum 0.1) converge to s (0.9^300 ~ 2e-14), and recalibrating over 3
# batches (three epochs' shuffles of the split) after one step has to give s
# as well.
"$build/tools/listops-gen/listops-gen" --out "$tmp/one" --train 16 --val 16 \
  --test 16 --min-length 10 --max-length 120 --seed 4 2>/dev/null
frozen=(--data "$tmp/one" --steps 300 --eval-every 300 --lr 1e-12 --seed 5 --length-step 64)
"$train" "$bn" "${frozen[@]}" --out "$tmp/ema" > "$tmp/ema.log"
mkdir "$tmp/precise"
cp "$tmp"/ema/*.so "$tmp/ema/lengths.txt" "$tmp/ema/ranks.txt" "$tmp/precise/"
"$train" "$bn" "${frozen[@]}" --out "$tmp/precise" --no-compile --stop-at-step 1 \
  --recalibrate-batches 3 > "$tmp/precise.log"
grep -q "statistics measured on 3 training batches" "$tmp/precise.log"
python3 - "$tmp/ema/last.safetensors" "$tmp/precise/last.safetensors" <<'PY'
import json, struct, sys
def buffers(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, t in header.items():
        if "running" in name:
            begin, end = t["data_offsets"]
            raw = data[8 + n + begin:8 + n + end]
            out[name] = struct.unpack(f"<{len(raw) // 4}f", raw)
    return out
ema, precise = buffers(sys.argv[1]), buffers(sys.argv[2])
assert sorted(ema) == sorted(precise) and len(ema) == 4, sorted(precise)
for name in ema:
    for a, b in zip(ema[name], precise[name]):
        assert abs(a - b) <= 1e-5 * (1 + abs(a)), f"{name}: {a} (running) vs {b} (recalibrated)"
    assert any(abs(a - (1 if "var" in name else 0)) > 1e-3 for a in ema[name]), \
        f"{name} never moved"
PY
# A recalibrating run resumed from its checkpoint ends where an
# uninterrupted one does (the batches measured are a function of the seed
# and the step).
"$train" "$bn" "${steps[@]}" --recalibrate-batches 2 --out "$tmp/rwhole" > "$tmp/rwhole.log"
"$train" "$bn" "${steps[@]}" --recalibrate-batches 2 --out "$tmp/rsplit" \
  --stop-at-step 12 > "$tmp/rsplit1.log"
"$train" "$bn" "${steps[@]}" --recalibrate-batches 2 --out "$tmp/rsplit" \
  --no-compile > "$tmp/rsplit2.log"
cmp "$tmp/rwhole/last.safetensors" "$tmp/rsplit/last.safetensors" || {
  echo "FAIL: a resumed recalibrating run ends elsewhere"; exit 1; }
# evaluate recalibrates a checkpoint the same way (its statistics are s
# already, so the scores do not move) ...
"$train" evaluate "$tmp/ema/last.safetensors" --data "$tmp/one/basic_val.tsv" \
  > "$tmp/ema-eval.log"
"$train" evaluate "$tmp/ema/last.safetensors" --data "$tmp/one/basic_val.tsv" \
  --recalibrate-batches 2 --recalibrate-data "$tmp/one/basic_train.tsv" \
  > "$tmp/precise-eval.log"
grep -q "statistics measured on 2 batches of .*basic_train.tsv" "$tmp/precise-eval.log"
diff <(grep "examples, loss" "$tmp/ema-eval.log") \
  <(grep "examples, loss" "$tmp/precise-eval.log") || {
  echo "FAIL: recalibrated statistics score otherwise than converged ones"; exit 1; }
# ... and refuses what it cannot do.
expect_error "evaluate recalibrates with --recalibrate-batches N and --recalibrate-data FILE.tsv together" \
  "$train" evaluate "$tmp/ema/last.safetensors" --data "$tmp/one/basic_val.tsv" \
  --recalibrate-batches 2
expect_error "--recalibrate-batches: the model has no running statistics (batch norms) to recalibrate" \
  "$train" "$model" "${common[@]}" --out "$tmp/ahead" --no-compile --recalibrate-batches 2
echo "attn-train: 1 passed, 0 failed"

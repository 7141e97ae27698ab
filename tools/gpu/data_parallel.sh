#!/usr/bin/env bash
# Data-parallel training checked and measured on a machine with 2 GPUs
# (docs/training.md, "Several GPUs"):
#
#   data_parallel.sh prepare BUILD OUT   (here, where MLIR is) compiles the
#       runs below into OUT/runs and copies attn-train, listops-gen,
#       libattnrt and the specs into OUT
#   data_parallel.sh run OUT             (on the GPU machine) runs them,
#       printing what the closing notes cite; logs and metrics in $OUT
#
# Runs: Hybrid-BERT-Mini without dropout in f32 on 1 and on 2 GPUs from the
# same seed (the first moments after one step, i.e. the averaged
# gradients, compared; then the loss curves over 300 steps), the same model
# in bf16 as the repository trains it for throughput at the same global
# batch (24) on 1 and 2 GPUs (and with the gradients exchanged in bf16),
# the exchange in the kernel profile, a rank
# killed (the launcher names it, the checkpoint survives, the run resumes on
# 1 GPU), and a rank hung (the other stops within --collective-timeout).
set -uo pipefail
mode=$1
if [ "$mode" = prepare ]; then
  build=$(realpath "$2")
  out=$3
  src=$(dirname "$(dirname "$(dirname "$(realpath "$0")")")")
  mkdir -p "$out/bin" "$out/lib" "$out/specs" "$out/runs"
  cp "$build/tools/attn-train/attn-train" "$build/tools/listops-gen/listops-gen" "$out/bin/"
  cp "$build/runtime/libattnrt.so" "$out/lib/"
  cp "$src/tools/gpu/data_parallel.sh" "$src/tools/gpu/data_parallel_compare.py" "$out/"
  sed 's/"dropout": 0.1/"dropout": 0.0/' "$src/examples/hybrid-bert-mini.json" > "$out/specs/hybrid-nodrop.json"
  sed 's/"pool": "cls"/"dtype": "bf16", "pool": "cls"/' "$src/examples/hybrid-bert-mini.json" > "$out/specs/hybrid-bf16.json"
  T="$out/bin/attn-train"
  eq=(--steps 300 --lr 5e-4 --warmup 50 --seed 0 --target gpu --data none --compile-only
      --attn-compile "$build/tools/attn-compile/attn-compile" --attn-import "$build/tools/attn-import/attn-import")
  tp=(--steps 400 --lr 5e-4 --warmup 50 --seed 0 --target gpu --data none --compile-only
      --attn-compile "$build/tools/attn-compile/attn-compile" --attn-import "$build/tools/attn-import/attn-import")
  "$T" "$out/specs/hybrid-nodrop.json" "${eq[@]}" --out "$out/runs/eq1" > /dev/null &&
  "$T" "$out/specs/hybrid-nodrop.json" "${eq[@]}" --out "$out/runs/eq2" --gpus 2 > /dev/null &&
  "$T" "$out/specs/hybrid-bf16.json" "${tp[@]}" --out "$out/runs/tp1" > /dev/null &&
  "$T" "$out/specs/hybrid-bf16.json" "${tp[@]}" --out "$out/runs/tp2" --gpus 2 > /dev/null &&
  "$T" "$out/specs/hybrid-bf16.json" "${tp[@]}" --out "$out/runs/tp2b" --gpus 2 --exchange bf16 > /dev/null || exit 1
  echo "prepared $out"
  exit 0
fi
[ "$mode" = run ] || { echo "usage: data_parallel.sh prepare BUILD OUT | run OUT"; exit 2; }
cd "$2" || exit 1
export LD_LIBRARY_PATH=$PWD/lib:${LD_LIBRARY_PATH:-}
T=$PWD/bin/attn-train
O=${OUT:-$PWD/out}
mkdir -p "$O"
nvidia-smi -L
[ "$(nvidia-smi -L | wc -l)" -ge 2 ] || { echo "data_parallel: needs 2 GPUs"; exit 77; }
nvidia-smi topo -m | head -4
bin/listops-gen --out data --seed 0 > /dev/null 2>&1 || exit 1
eq=(--steps 300 --eval-every 100 --eval-batches 20 --lr 5e-4 --warmup 50 --seed 0 --target gpu --data data --no-compile)
tp=(--steps 400 --eval-every 100 --eval-batches 5 --lr 5e-4 --warmup 50 --seed 0 --target gpu --data data --no-compile)
compare="python3 $PWD/data_parallel_compare.py"
fresh() { # a run's folder anew with the libraries of another
  rm -rf "runs/$1"; mkdir -p "runs/$1"; cp runs/"$2"/{train.so,eval.so,ranks.txt} "runs/$1/"
}
echo "== one step on 1 GPU and on 2 (dropout 0, f32): the averaged gradients"
fresh e1 eq1; fresh e2 eq2
$T specs/hybrid-nodrop.json "${eq[@]}" --out runs/e1 --stop-at-step 1 > "$O/e1-step1.log" 2>&1
NCCL_DEBUG=INFO $T specs/hybrid-nodrop.json "${eq[@]}" --out runs/e2 --stop-at-step 1 --gpus 2 > "$O/e2-step1.log" 2>&1
echo "2 GPUs, step 1: exit $?"
grep -E "ranks joined|via (P2P|SHM|NET)|NCCL INFO (comm|Channel 00)" "$O/e2-step1.log" | head -6
cp runs/e1/last.safetensors runs/e1-step1.safetensors; cp runs/e2/last.safetensors runs/e2-step1.safetensors
$compare ckpt runs/e1-step1.safetensors runs/e2-step1.safetensors optimizer.m.
echo "== 300 steps each"
$T specs/hybrid-nodrop.json "${eq[@]}" --out runs/e1 > "$O/e1.log" 2>&1; echo "1 GPU: exit $?"
$T specs/hybrid-nodrop.json "${eq[@]}" --out runs/e2 --gpus 2 > "$O/e2.log" 2>&1; echo "2 GPUs: exit $?"
tail -3 "$O/e2.log"
$compare metrics runs/e1/metrics.jsonl runs/e2/metrics.jsonl
$compare ckpt runs/e1/last.safetensors runs/e2/last.safetensors layers.
cp runs/e1/metrics.jsonl "$O/e1-metrics.jsonl"; cp runs/e2/metrics.jsonl "$O/e2-metrics.jsonl"
echo "== throughput: Hybrid-BERT-Mini in bf16, global batch 24, 400 steps"
fresh t1 tp1; fresh t2 tp2
$T specs/hybrid-bf16.json "${tp[@]}" --out runs/t1 > "$O/t1.log" 2>&1; echo "1 GPU: exit $?"
$T specs/hybrid-bf16.json "${tp[@]}" --out runs/t2 --gpus 2 > "$O/t2.log" 2>&1; echo "2 GPUs: exit $?"
$compare metrics runs/t1/metrics.jsonl runs/t2/metrics.jsonl
$compare rate runs/t1/metrics.jsonl runs/t2/metrics.jsonl
cp runs/t1/metrics.jsonl "$O/t1-metrics.jsonl"; cp runs/t2/metrics.jsonl "$O/t2-metrics.jsonl"
grep "gradient exchange" "$O/t2.log"
echo "== the same, gradients exchanged in bf16"
fresh t2b tp2b
$T specs/hybrid-bf16.json "${tp[@]}" --out runs/t2b --gpus 2 > "$O/t2b.log" 2>&1; echo "2 GPUs, bf16 exchange: exit $?"
$compare rate runs/t1/metrics.jsonl runs/t2b/metrics.jsonl
$compare metrics runs/t2/metrics.jsonl runs/t2b/metrics.jsonl | tail -2
echo "== the exchange in the kernel profile (2 GPUs, 60 steps)"
fresh p2 tp2
ATTN_PROFILE=1 $T specs/hybrid-bf16.json "${tp[@]}" --out runs/p2 --gpus 2 --stop-at-step 60 > "$O/p2.log" 2>&1
grep -E "attn profile|nccl all-reduce|running forward_train_step" "$O/p2.log" | head -8
echo "== a rank killed"
fresh k tp2
(start=$(date +%s); $T specs/hybrid-bf16.json "${tp[@]}" --eval-every 50 --out runs/k --gpus 2 > "$O/kill.log" 2>&1; echo "the run: exit $? after $(( $(date +%s) - start )) s" >> "$O/kill.log") &
s=-1; for i in $(seq 1 90); do sleep 1; s=$(cut -d' ' -f1 runs/k/ranks/1 2>/dev/null || echo -1); [ "${s:--1}" -ge 120 ] && break; done
pid=$(awk '{print $5}' runs/k/ranks/1); echo "killing rank 1 (pid $pid) after its step $s"; kill -9 "$pid"; wait
tail -4 "$O/kill.log"
ls -l runs/k/last.safetensors
echo "== resumed on 1 GPU"
cp runs/tp1/{train.so,eval.so,ranks.txt} runs/k/
$T specs/hybrid-bf16.json "${tp[@]}" --eval-every 50 --out runs/k --stop-at-step 200 > "$O/resume.log" 2>&1; echo "resumed: exit $?"
grep -E "resuming|stopped" "$O/resume.log"
$compare metrics runs/k/metrics.jsonl runs/t1/metrics.jsonl | head -8
echo "== a rank hung (SIGSTOP), --collective-timeout 20"
fresh h tp2
(start=$(date +%s); $T specs/hybrid-bf16.json "${tp[@]}" --out runs/h --gpus 2 --collective-timeout 20 > "$O/hang.log" 2>&1; echo "the run: exit $? after $(( $(date +%s) - start )) s" >> "$O/hang.log") &
s=-1; for i in $(seq 1 90); do sleep 1; s=$(cut -d' ' -f1 runs/h/ranks/1 2>/dev/null || echo -1); [ "${s:--1}" -ge 60 ] && break; done
pid=$(awk '{print $5}' runs/h/ranks/1); echo "stopping rank 1 (pid $pid) after its step $s at $(date +%T)"; kill -STOP "$pid"; wait
tail -9 "$O/hang.log"

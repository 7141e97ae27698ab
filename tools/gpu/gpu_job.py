#!/usr/bin/env python3
"""The GPU job: every GPU check and benchmark in one call on the GPU machine.

  gpu_job.py prepare BUILD OUT [ANCHORS]   (here, where MLIR is) compiles
      the check and benchmark cases of kernels_gpu.py into OUT/cases and
      attn-bench's GPU libraries into OUT/bench, and copies libattnrt and
      the anchors' kernels script (default: ../shared/anchors/kernels.py
      beside the repository) into OUT
  gpu_job.py run OUT                        (on the GPU machine, in the
      repository) runs kernels_gpu.py (checks against PyTorch in float64,
      then its benchmark), attn-bench --target gpu on the libraries in
      OUT/bench (checks against libtorch in float64, then whole-call
      timings) and the anchors script, and prints a short table last: attn
      next to FlexAttention, SDPA and eager linear attention from the same
      run.

attn-bench needs libtorch. Where the one it was built with is missing (the
GPU machine has PyTorch but not Debian's libtorch), `run` builds attn-bench
from its sources against the PyTorch installation's libtorch first.
"""
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BENCH_SOURCES = ["tools/attn-bench/attn-bench.cpp",
                 "tools/attn-bench/CpuBench.cpp",
                 "tools/attn-bench/GpuBench.cpp",
                 "dialect/lib/Support/Random.cpp"]


def sh(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def prepare(build, out, anchors=None):
    anchors = anchors or os.path.join(ROOT, "..", "shared", "anchors",
                                      "kernels.py")
    os.makedirs(os.path.join(out, "runtime"), exist_ok=True)
    shutil.copy(os.path.join(build, "runtime", "libattnrt.so"),
                os.path.join(out, "runtime"))
    shutil.copy(anchors, os.path.join(out, "anchors_kernels.py"))
    sh([sys.executable, os.path.join(ROOT, "tools", "gpu", "kernels_gpu.py"),
        "prepare", build, os.path.join(out, "cases")])
    bench = os.path.join(build, "tools", "attn-bench", "attn-bench")
    sh([bench, "--target", "gpu", "--kernels", os.path.join(out, "bench"),
        "--compile-only"])
    shutil.copy(bench, os.path.join(out, "attn-bench"))
    return 0


def runnable(binary):
    return os.path.exists(binary) and subprocess.run(
        [binary, "--help"], capture_output=True).returncode == 0


def build_bench(out):
    """attn-bench against this machine's PyTorch libtorch."""
    import torch
    from torch.utils import cpp_extension
    binary = os.path.join(out, "attn-bench-local")
    abi = int(torch._C._GLIBCXX_USE_CXX11_ABI)
    flags = ["-O2", "-std=c++17", f"-D_GLIBCXX_USE_CXX11_ABI={abi}",
             '-DATTN_COMPILE="attn-compile"', "-Itools/attn-bench",
             "-Iruntime/include", "-Idialect/include"] + [
        f"-I{p}" for p in cpp_extension.include_paths()]
    objects = []
    jobs = []
    for src in BENCH_SOURCES:
        obj = os.path.join(out, os.path.basename(src) + ".o")
        objects.append(obj)
        jobs.append(subprocess.Popen(["g++", *flags, "-c", src, "-o", obj],
                                     cwd=ROOT))
    if any(j.wait() for j in jobs):
        raise SystemExit("gpu_job: building attn-bench failed")
    libs = cpp_extension.library_paths()
    runtime = os.path.abspath(os.path.join(out, "runtime"))
    sh(["g++", *objects, "-o", binary, f"-L{runtime}", "-lattnrt",
        *[f"-L{p}" for p in libs], "-ltorch", "-ltorch_cpu", "-lc10",
        f"-Wl,-rpath,{runtime}:{':'.join(libs)}"], cwd=ROOT)
    return binary


def anchor_rows(text):
    """The anchors script's last table: impl -> {N: (fwd ms, fwd TF/s)}."""
    rows = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 7 and parts[1].isdigit():
            rows.setdefault(parts[0], {})[int(parts[1])] = (
                float(parts[3]), float(parts[4]))
    return rows


def run(out):
    out = os.path.abspath(out)
    status = 0
    print("== kernels_gpu.py: checks, then kernel benchmarks", flush=True)
    status |= subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "gpu", "kernels_gpu.py"),
         "run", out, os.path.join(out, "cases")]).returncode
    print("== attn-bench --target gpu", flush=True)
    bench = os.path.join(out, "attn-bench")
    if not runnable(bench):
        print("attn-bench's libtorch is not here: building it against "
              "PyTorch's", flush=True)
        bench = build_bench(out)
    result = os.path.join(out, "bench.json")
    status |= subprocess.run([bench, "--target", "gpu", "--kernels",
                              os.path.join(out, "bench"), "--json",
                              result]).returncode
    print("== anchors", flush=True)
    anchors = subprocess.run([sys.executable,
                              os.path.join(out, "anchors_kernels.py")],
                             capture_output=True, text=True)
    print(anchors.stdout, anchors.stderr[-2000:], flush=True)
    theirs = anchor_rows(anchors.stdout)
    ours = json.load(open(result)) if os.path.exists(result) else []
    by_case = {(r["case"], r["n"]): r for r in ours}
    print("\nattn (attn-bench, whole calls) next to the anchors, same run; "
          "TF/s useful")
    print(f"{'case':12s} {'N':>6s} {'attn ms':>8s} {'TF/s':>7s}  "
          f"{'anchor':18s} {'ms':>8s} {'TF/s':>7s} {'attn/anchor':>11s}")
    pairs = {"bigbird128": "flex-bigbird-bs128", "bigbird64":
             "flex-bigbird-bs128", "dense": "sdpa-dense",
             "linear": "linear-eager"}
    for r in ours:
        name = pairs[r["case"]]
        ms, tf = theirs.get(name, {}).get(r["n"], (float("nan"),) * 2)
        ratio = (ms / r["attn_ms"] if r["case"] == "linear"
                 else r["tflops"] / tf if tf == tf else float("nan"))
        extra = ""
        if r["case"] == "bigbird64" and ("bigbird128", r["n"]) in by_case:
            extra = (f"  {r['tflops'] / by_case[('bigbird128', r['n'])]['tflops']:.2f}"
                     " of bigbird128")
        print(f"{r['case']:12s} {r['n']:6d} {r['attn_ms']:8.3f} "
              f"{r['tflops']:7.1f}  {name:18s} {ms:8.3f} {tf:7.1f} "
              f"{ratio:10.2f}x{extra}")
    print("(linear: the anchor's time over attn's; the others: TF/s ratios)")
    return status


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "prepare":
        sys.exit(prepare(*sys.argv[2:5]))
    if len(sys.argv) == 3 and sys.argv[1] == "run":
        sys.exit(run(sys.argv[2]))
    sys.exit(__doc__)

#!/usr/bin/env python3
"""Checks whole compiled models on the GPU against the same models compiled
for the CPU.

  model_gpu.py prepare BUILD OUT [MODEL...]   (here) compiles
                      examples/MODEL.mlir (default: every example model) with
                      attn-compile for the CPU and for the GPU into OUT, and
                      copies the CPU libraries' OpenMP runtime beside them
  model_gpu.py prepare-gpu BUILD OUT [MODEL...]  the GPU libraries only
  model_gpu.py run BUILD OUT [MODEL...]       (on the GPU machine) calls each
                      model's forward function on fresh random inputs and
                      parameters (drawn as each parameter's initialisation
                      says, perturbed so that nothing is special) on both
                      targets and compares every result; prints a table last
  model_gpu.py compare BUILD BEFORE AFTER [MODEL...]
                      (on the GPU machine) the GPU libraries of two
                      compilers (prepare-gpu into BEFORE and AFTER) on the
                      same fresh inputs: AFTER's results checked against
                      BEFORE's, both timed in the same run (the CPU build
                      takes minutes per model there)

The CPU pipeline's kernels are checked against libtorch in float64 by the
reference tests; this check carries that to the GPU pipeline end to end
(embedding, layer norm, projections, dropout, every attention kind, the SSM,
pooling, cross-entropy). f32 results must agree within 1e-4 (relative).
"""
import ctypes
import math
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "..", "..", "examples")
MODELS = ["bert-mini", "linear-bert-mini", "bigbird-mini", "hybrid-bert-mini",
          "spade-mini"]
OPENMP = "/usr/lib/llvm-22/lib/libomp.so.5"
TOLERANCE = 1e-4


def prepare(build, out, models, targets=("cpu", "gpu")):
    os.makedirs(out, exist_ok=True)
    for m in models or MODELS:
        for target in targets:
            print(f"compiling {m} for the {target}", flush=True)
            subprocess.run([f"{build}/tools/attn-compile/attn-compile",
                            os.path.join(EXAMPLES, m + ".mlir"), "-o",
                            os.path.join(out, f"{m}.{target}.so"),
                            "--target", target], check=True)
    shutil.copy(OPENMP, out)


def signature(lib, fn):
    """[(role, name, dtype, shape or None for a scalar, init)] of `fn`."""
    sig = getattr(lib, "attn_signature_" + fn)
    sig.restype = ctypes.c_char_p
    items = []
    for line in sig().decode().splitlines():
        w = line.split()
        if w[0] not in ("arg", "result"):
            continue
        role, name, dtype, shape = (w[1], w[2], w[3], w[4]) if w[0] == "arg" \
            else ("result", w[1], w[2], w[3])
        dims = None if shape == "scalar" else \
            [int(d) for d in shape.strip("[]").split(",") if d]
        items.append((role, name, dtype, dims, w[5] if len(w) > 5 else ""))
    return items


def parameter(init, shape, torch):
    """A draw of a parameter as `init` says, perturbed."""
    r = lambda: torch.randn(*shape)
    if init.startswith("normal:"):
        return float(init.split(":")[1]) * r()
    if init == "zeros":
        return 0.02 * r()
    if init == "ones":
        return 1 + 0.02 * r()
    if init == "s4d_log_a_real":
        return math.log(0.5) + 0.1 * r()
    if init == "s4d_a_imag":
        return math.pi * torch.arange(shape[-1]).expand(*shape) + 0.1 * r()
    if init == "s4d_log_dt":
        return math.log(1e-3) + torch.rand(*shape) * (math.log(1e-1) -
                                                      math.log(1e-3))
    if init == "s4d_c":
        return r()
    raise ValueError(f"no draw for the initialisation {init!r}")


def inputs(items, torch):
    """Fresh inputs: token ids below the embedding's rows, lengths in the
    upper half of the sequence, labels below the logits' width."""
    shapes = {name: dims for _, name, _, dims, _ in items}
    vocab = shapes["embed.tokens"][0]
    # The logits: forward's second result (after the loss; buffers follow).
    classes = [d for role, _, _, d, _ in items if role == "result"][1][-1]
    args = []
    for role, name, dtype, dims, init in items:
        if role == "result":
            continue
        if role in ("param", "buffer"):
            args.append(parameter(init, dims, torch).float())
        elif name == "ids":
            args.append(torch.randint(0, vocab, dims, dtype=torch.int32))
        elif name == "lengths":
            n = shapes["ids"][1]
            args.append(torch.randint(n // 2, n + 1, dims, dtype=torch.int32))
        elif name == "labels":
            args.append(torch.randint(0, classes, dims, dtype=torch.int32))
        elif name == "seed":
            args.append(int.from_bytes(os.urandom(4), "little"))
        else:
            raise ValueError(f"no draw for the input {name!r}")
    return args


def call(lib, fn, args, results, sync):
    """fn(args..., results...) through attn_call_fn; seconds taken."""
    keep = []
    slots = []
    for a in args + results:
        if isinstance(a, int):
            keep.append(ctypes.c_int64(a))
            slots.append(ctypes.cast(ctypes.pointer(keep[-1]), ctypes.c_void_p))
        else:
            slots.append(ctypes.c_void_p(a.data_ptr()))
    array = (ctypes.c_void_p * len(slots))(*[s.value for s in slots])
    entry = getattr(lib, "attn_call_" + fn)
    entry.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    start = time.perf_counter()
    entry(array)
    sync()
    return time.perf_counter() - start


def load_runtime(build, out):
    ctypes.CDLL(os.path.join(out, os.path.basename(OPENMP)),
                mode=ctypes.RTLD_GLOBAL)
    ctypes.CDLL(os.path.join(build, "runtime", "libattnrt.so"),
                mode=ctypes.RTLD_GLOBAL)


def check(model, name, err, failures):
    ok = err < TOLERANCE and err == err
    print(f"check {model} {name:10s} rel err {err:.2e} "
          f"(< {TOLERANCE:g}) {'ok' if ok else 'FAILED'}", flush=True)
    return failures + (not ok)


def rel_err(out, ref):
    return ((out.cpu().double() - ref.cpu().double()).norm() /
            ref.cpu().double().norm()).item()


def run(build, out, only=()):
    import torch
    load_runtime(build, out)
    print("device:", torch.cuda.get_device_name(), "torch", torch.__version__)
    torch.manual_seed(int.from_bytes(os.urandom(4), "little"))
    rows, failures = [], 0
    for m in MODELS:
        cpu_path = os.path.join(out, f"{m}.cpu.so")
        if (only and m not in only) or not os.path.exists(cpu_path):
            continue
        cpu = ctypes.CDLL(cpu_path)
        gpu = ctypes.CDLL(os.path.join(out, f"{m}.gpu.so"))
        items = signature(cpu, "forward")
        args = inputs(items, torch)
        results = [(name, dims) for role, name, _, dims, _ in items
                   if role == "result"]
        host_out = [torch.empty(d) for _, d in results]
        cpu_s = call(cpu, "forward", args, host_out, lambda: None)
        dev_args = [a if isinstance(a, int) else a.cuda() for a in args]
        dev_out = [torch.empty(d, device="cuda") for _, d in results]
        print(f"{m}: cpu {cpu_s * 1e3:.1f} ms", flush=True)
        call(gpu, "forward", dev_args, dev_out, torch.cuda.synchronize)
        gpu_s = sorted(call(gpu, "forward", dev_args, dev_out,
                            torch.cuda.synchronize) for _ in range(3))[1]
        for (name, _), h, d in zip(results, host_out, dev_out):
            failures = check(m, name, rel_err(d, h), failures)
        rows.append((m, cpu_s * 1e3, gpu_s * 1e3))
    print(f"{'model forward (f32)':24s} {'cpu ms':>9s} {'gpu ms':>9s}")
    for m, c, g in rows:
        print(f"{m:24s} {c:9.1f} {g:9.1f}")
    return 1 if failures else 0


def compare(build, before, after, only=()):
    import torch
    load_runtime(build, before)
    print("device:", torch.cuda.get_device_name(), "torch", torch.__version__)
    torch.manual_seed(int.from_bytes(os.urandom(4), "little"))
    rows, failures = [], 0
    for m in MODELS:
        paths = [os.path.join(d, f"{m}.gpu.so") for d in (before, after)]
        if (only and m not in only) or not all(map(os.path.exists, paths)):
            continue
        libs = [ctypes.CDLL(p) for p in paths]
        items = signature(libs[0], "forward")
        args = [a if isinstance(a, int) else a.cuda()
                for a in inputs(items, torch)]
        results = [dims for role, _, _, dims, _ in items if role == "result"]
        outs = [[torch.empty(d, device="cuda") for d in results]
                for _ in libs]
        times = [[], []]
        for _ in range(6):  # the first of each is a warm-up
            for i, lib in enumerate(libs):
                times[i].append(call(lib, "forward", args, outs[i],
                                     torch.cuda.synchronize))
        names = [name for role, name, _, _, _ in items if role == "result"]
        for name, ref, new in zip(names, outs[0], outs[1]):
            failures = check(m, name, rel_err(new, ref), failures)
        rows.append((m, *(sorted(t[1:])[2] * 1e3 for t in times)))
    print(f"{'model forward (f32, GPU)':24s} {'before ms':>10s} "
          f"{'after ms':>10s}")
    for m, b, a in rows:
        print(f"{m:24s} {b:10.1f} {a:10.1f}")
    return 1 if failures else 0


if __name__ == "__main__":
    modes = ("prepare", "prepare-gpu", "run", "compare")
    if len(sys.argv) < 4 or sys.argv[1] not in modes or (
            sys.argv[1] == "compare" and len(sys.argv) < 5):
        sys.exit(__doc__)
    mode, build, out = sys.argv[1:4]
    if mode == "prepare":
        sys.exit(prepare(build, out, sys.argv[4:]))
    if mode == "prepare-gpu":
        sys.exit(prepare(build, out, sys.argv[4:], targets=("gpu",)))
    if mode == "compare":
        sys.exit(compare(build, out, sys.argv[4], sys.argv[5:]))
    sys.exit(run(build, out, sys.argv[4:]))

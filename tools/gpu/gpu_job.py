#!/usr/bin/env python3
"""The GPU job: every GPU check and benchmark in one call on the GPU machine.

  gpu_job.py prepare BUILD OUT [ANCHORS]   (here, where MLIR is) compiles
      the modules of the `gpu` ctest label's reference tests into
      OUT/tests/libraries (running those tests, which skip here), the check
      and benchmark cases of kernels_gpu.py into OUT/cases and attn-bench's
      GPU libraries into OUT/bench (their kernels' registers and spills in
      OUT/bench/kernel-resources.txt), and copies libattnrt, GoogleTest's
      sources and the anchors' kernels script (default:
      ../shared/anchors/kernels.py beside the repository) into OUT
  gpu_job.py prepare-tests BUILD OUT [PROGRAM ...]
                                           (here) only the tests' part of
      prepare (and libattnrt): the `gpu` label's programs, or those named
      (e.g. GradientReferenceTest), for `tests` and `memcheck`
  gpu_job.py tests OUT                      (on the GPU machine) those
      tests on the libraries compiled ahead; their counts
  gpu_job.py memcheck OUT                   (on the GPU machine) the same
      under compute-sanitizer's memcheck, one program at a time: each
      one's test counts and the sanitizer's error count (its report in
      OUT/tests/PROGRAM.memcheck.txt); an access out of bounds ends the
      program's CUDA context, so the tests after it fail too
  gpu_job.py run OUT                        (on the GPU machine, in the
      repository) runs the `gpu` label's tests on the libraries compiled
      ahead (checks against libtorch in float64), kernels_gpu.py (checks
      against PyTorch in float64, then its benchmark), attn-bench --target
      gpu on the libraries in OUT/bench (checks, then whole-call timings),
      FlexAttention on attn's BigBird masks (flex_same_mask.py), SDPA with
      is_causal for the causal cases (sdpa_reference.py) and the anchors
      script, and prints a short table last: the tests' counts, then attn
      next to FlexAttention, SDPA and eager linear attention from the same
      run.

The reference tests and attn-bench need libtorch; the GPU machine has
PyTorch's but not Debian's, nor MLIR. So `run` builds the `gpu` label's test
programs (with GoogleTest) from their sources against PyTorch's libtorch,
and attn-bench too where the one built here cannot run; the tests then take
their modules from OUT/tests/libraries (ATTN_TEST_LIBRARIES) instead of
compiling them.
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
# The `gpu` label: these programs built with ATTN_TEST_GPU, each on the
# shared sources below (test/reference/CMakeLists.txt).
GPU_TESTS = ["SdpaReferenceTest", "LinearSsmReferenceTest",
             "EncoderReferenceTest", "GradientReferenceTest"]
TEST_SOURCES = ["test/reference/Harness.cpp", "test/reference/References.cpp",
                "dialect/lib/Support/Random.cpp"]
GTEST = "/usr/src/googletest/googletest"


def sh(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def toolkit_of(build):
    """The CUDA toolkit the build's gpu twins compile with (CMakeCache)."""
    for line in open(os.path.join(build, "CMakeCache.txt")):
        if line.startswith("ATTN_PTXAS:"):
            ptxas = line.split("=", 1)[1].strip()
            return os.path.dirname(os.path.dirname(ptxas))
    raise SystemExit("gpu_job: the build found no ptxas: nothing compiles "
                     "for the GPU")


def prepare_tests(build, out, programs=None):
    """The gpu twins' modules compiled ahead (of `programs`, default every
    one of the label), and what building them needs."""
    programs = programs or GPU_TESTS
    tests = os.path.join(out, "tests")
    cache = os.path.join(tests, "cache")
    shutil.rmtree(tests, ignore_errors=True)
    env = dict(os.environ, ATTN_TEST_CACHE=cache)
    for name in programs:
        # Without a GPU every test compiles its module, then skips.
        sh([os.path.join(build, "test", "reference", name + "Gpu"),
            "--gtest_brief=1"], env=env, stdout=subprocess.DEVNULL)
    (stamp,) = os.listdir(cache)  # one compiler, one folder
    os.rename(os.path.join(cache, stamp), os.path.join(tests, "libraries"))
    os.rmdir(cache)
    for part in ("include", "src"):
        shutil.copytree(os.path.join(GTEST, part),
                        os.path.join(tests, "gtest", part))
    json.dump({"cuda_toolkit": toolkit_of(build), "programs": programs},
              open(os.path.join(tests, "config.json"), "w"))


def prepare_only_tests(build, out, programs):
    """`prepare-tests`: libattnrt and the tests of `programs` (every one of
    the label where none is named), nothing else of `prepare`."""
    os.makedirs(os.path.join(out, "runtime"), exist_ok=True)
    shutil.copy(os.path.join(build, "runtime", "libattnrt.so"),
                os.path.join(out, "runtime"))
    unknown = [p for p in programs if p not in GPU_TESTS]
    if unknown:
        sys.exit(f"gpu_job.py: not a program of the gpu label: "
                 f"{', '.join(unknown)} (they are {', '.join(GPU_TESTS)})")
    prepare_tests(build, out, programs)
    return 0


def prepare(build, out, anchors=None):
    anchors = anchors or os.path.join(ROOT, "..", "shared", "anchors",
                                      "kernels.py")
    os.makedirs(os.path.join(out, "runtime"), exist_ok=True)
    shutil.copy(os.path.join(build, "runtime", "libattnrt.so"),
                os.path.join(out, "runtime"))
    shutil.copy(anchors, os.path.join(out, "anchors_kernels.py"))
    prepare_tests(build, out)
    sh([sys.executable, os.path.join(ROOT, "tools", "gpu", "kernels_gpu.py"),
        "prepare", build, os.path.join(out, "cases")])
    bench = os.path.join(build, "tools", "attn-bench", "attn-bench")
    sh([bench, "--target", "gpu", "--kernels", os.path.join(out, "bench"),
        "--compile-only"])
    shutil.copy(bench, os.path.join(out, "attn-bench"))
    write_kernel_resources(os.path.join(out, "bench"))
    return 0


def write_kernel_resources(bench_dir):
    """attn-bench's kernels' registers, stack frames, static shared memory
    and machine instructions (kernel_resources.py) into
    BENCH_DIR/kernel-resources.txt, and those with a stack frame (spills)
    printed."""
    sys.path.insert(0, os.path.join(ROOT, "tools", "gpu"))
    import kernel_resources
    rows = []
    for f in sorted(os.listdir(bench_dir)):
        if f.endswith(".so"):
            rows += kernel_resources.library_resources(
                os.path.join(bench_dir, f)) or []
    path = os.path.join(bench_dir, "kernel-resources.txt")
    with open(path, "w") as out:
        out.write("\n".join([kernel_resources.HEADER] +
                            [kernel_resources.row_text(k, r)
                             for k, r in rows]) + "\n")
    # Functions the kernels call (the division slow path, say) have no
    # register count of their own, and their frames are used only when
    # called.
    kernels = [(k, r) for k, r in rows if "registers" in r]
    spilling = [(k, r) for k, r in kernels if r.get("frame", 0)]
    print(f"attn-bench's kernels: {len(kernels)}, with a stack frame "
          f"(spills): {len(spilling)} ({path})")
    for k, r in spilling:
        print("  " + kernel_resources.row_text(k, r))


def runnable(binary):
    return os.path.exists(binary) and subprocess.run(
        [binary, "--help"], capture_output=True).returncode == 0


def compile_objects(objdir, sources, flags):
    """Each source compiled in parallel into objdir; the objects' paths."""
    os.makedirs(objdir, exist_ok=True)
    objects, jobs = [], []
    for src in sources:
        obj = os.path.join(objdir, os.path.basename(src) + ".o")
        objects.append(obj)
        jobs.append(subprocess.Popen(["g++", *flags, "-c", src, "-o", obj],
                                     cwd=ROOT))
    if any(j.wait() for j in jobs):
        raise SystemExit("gpu_job: compiling failed (above)")
    return objects


def torch_flags():
    import torch
    from torch.utils import cpp_extension
    abi = int(torch._C._GLIBCXX_USE_CXX11_ABI)
    return ["-O2", "-std=c++17", f"-D_GLIBCXX_USE_CXX11_ABI={abi}",
            "-Iruntime/include", "-Idialect/include"] + [
        f"-I{p}" for p in cpp_extension.include_paths()]


def link_torch(out, objects, binary):
    """`objects` linked with libattnrt and this machine's PyTorch libtorch."""
    from torch.utils import cpp_extension
    libs = cpp_extension.library_paths()
    runtime = os.path.abspath(os.path.join(out, "runtime"))
    sh(["g++", *objects, "-o", binary, f"-L{runtime}", "-lattnrt",
        *[f"-L{p}" for p in libs], "-ltorch", "-ltorch_cpu", "-lc10",
        "-lpthread", f"-Wl,-rpath,{runtime}:{':'.join(libs)}"], cwd=ROOT)
    return binary


def build_bench(out):
    """attn-bench against this machine's PyTorch libtorch."""
    flags = torch_flags() + ['-DATTN_COMPILE="attn-compile"',
                             "-Itools/attn-bench"]
    objects = compile_objects(os.path.join(out, "obj"), BENCH_SOURCES, flags)
    return link_torch(out, objects, os.path.join(out, "attn-bench-local"))


def build_tests(out):
    """The `gpu` label's programs (those prepared) against this machine's
    PyTorch libtorch, configured as the build that compiled their modules
    was; returns their paths."""
    tests = os.path.join(out, "tests")
    config = json.load(open(os.path.join(tests, "config.json")))
    programs = config.get("programs", GPU_TESTS)
    gtest = os.path.abspath(os.path.join(tests, "gtest"))
    flags = torch_flags() + [
        f"-I{gtest}", f"-I{gtest}/include", "-Itest/reference",
        "-DATTN_TEST_GPU=1",
        f'-DATTN_CUDA_TOOLKIT="{config["cuda_toolkit"]}"',
        '-DATTN_COMPILE="attn-compile"',
        f'-DATTN_TEST_CACHE="{os.path.join(tests, "cache")}"']
    objdir = os.path.join(tests, "obj")
    common = compile_objects(
        objdir, TEST_SOURCES + [f"{gtest}/src/gtest-all.cc",
                                f"{gtest}/src/gtest_main.cc"], flags)
    mains = compile_objects(objdir, [f"test/reference/{name}.cpp"
                                     for name in programs], flags)
    return [link_torch(out, common + [main], os.path.join(tests, name))
            for name, main in zip(programs, mains)]


def test_counts(report):
    """(passed, failed, skipped) of a GoogleTest JSON report; a program
    that wrote none (it crashed) counts as one failure."""
    if not os.path.exists(report):
        return [0, 1, 0]
    counts = [0, 0, 0]
    for suite in json.load(open(report))["testsuites"]:
        for test in suite["testsuite"]:
            if test.get("failures"):
                counts[1] += 1
            elif test.get("result") == "SKIPPED":
                counts[2] += 1
            else:
                counts[0] += 1
    return counts


def run_tests(out):
    """The prepared tests; (passed, failed, skipped) summed."""
    tests = os.path.join(out, "tests")
    env = dict(os.environ,
               ATTN_TEST_LIBRARIES=os.path.join(tests, "libraries"))
    counts = [0, 0, 0]
    for binary in build_tests(out):
        report = binary + ".json"
        if os.path.exists(report):
            os.remove(report)
        subprocess.run([binary, f"--gtest_output=json:{report}"], env=env)
        counts = [a + b for a, b in zip(counts, test_counts(report))]
    return counts


def memcheck(out):
    """The prepared tests under compute-sanitizer's memcheck, a program at a
    time: 0 where every test passed and no access was reported."""
    tests = os.path.join(out, "tests")
    env = dict(os.environ,
               ATTN_TEST_LIBRARIES=os.path.join(tests, "libraries"))
    status = 0
    for binary in build_tests(out):
        name = os.path.basename(binary)
        report, log = binary + ".json", binary + ".memcheck.txt"
        if os.path.exists(report):
            os.remove(report)
        with open(log, "w") as f:
            subprocess.run(["compute-sanitizer", "--tool", "memcheck",
                            "--print-limit", "20", binary,
                            f"--gtest_output=json:{report}"],
                           env=env, stdout=f, stderr=subprocess.STDOUT)
        errors = "?"
        for line in open(log, errors="replace"):
            if "ERROR SUMMARY:" in line:
                errors = line.split("ERROR SUMMARY:")[1].split()[0]
        passed, failed, skipped = test_counts(report)
        print(f"{name}: {passed} passed, {failed} failed, {skipped} skipped; "
              f"memcheck errors: {errors} ({log})", flush=True)
        status |= int(failed + skipped > 0 or errors != "0")
    return status


def anchor_rows(text):
    """The anchors script's last table: impl -> {N: (fwd ms, fwd TF/s)},
    and impl + "-fb" -> {N: (fwd+bwd ms, fwd+bwd TF/s)}."""
    rows = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 7 and parts[1].isdigit():
            n = int(parts[1])
            rows.setdefault(parts[0], {})[n] = (float(parts[3]),
                                                float(parts[4]))
            rows.setdefault(parts[0] + "-fb", {})[n] = (float(parts[5]),
                                                        float(parts[6]))
    return rows


def run(out):
    out = os.path.abspath(out)
    print("== the gpu label: reference tests against libtorch (float64)",
          flush=True)
    passed, failed, skipped = run_tests(out)
    # On the GPU machine a skip means a test could not run: a failure here.
    status = int(failed + skipped > 0)
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
    masks = os.path.join(out, "block-masks")
    status |= subprocess.run([bench, "--target", "gpu", "--kernels",
                              os.path.join(out, "bench"), "--json",
                              result, "--block-masks", masks]).returncode
    print("== FlexAttention on attn's own BigBird masks", flush=True)
    same = os.path.join(out, "flex-same-mask.json")
    subprocess.run([sys.executable,
                    os.path.join(ROOT, "tools", "gpu", "flex_same_mask.py"),
                    masks, same])
    print("== SDPA is_causal (the causal cases' reference)", flush=True)
    causal = os.path.join(out, "sdpa-causal.json")
    lengths = sorted({r["n"] for r in (json.load(open(result))
                                       if os.path.exists(result) else [])
                      if r["case"].startswith("causal")})
    if lengths:
        subprocess.run([sys.executable,
                        os.path.join(ROOT, "tools", "gpu",
                                     "sdpa_reference.py"),
                        causal] + [str(n) for n in lengths])
    print("== anchors", flush=True)
    anchors = subprocess.run([sys.executable,
                              os.path.join(out, "anchors_kernels.py")],
                             capture_output=True, text=True)
    print(anchors.stdout, anchors.stderr[-2000:], flush=True)
    theirs = anchor_rows(anchors.stdout)
    ours = json.load(open(result)) if os.path.exists(result) else []
    by_case = {(r["case"], r["n"]): r for r in ours}
    print(f"\ngpu label (reference tests): {passed} passed, {failed} failed,"
          f" {skipped} skipped")
    print("attn (attn-bench, whole calls) next to the anchors, same run; "
          "TF/s useful")
    print(f"{'case':22s} {'N':>6s} {'attn ms':>8s} {'TF/s':>7s}  "
          f"{'anchor':18s} {'ms':>8s} {'TF/s':>7s} {'attn/anchor':>11s}")
    pairs = {"bigbird128": "flex-bigbird-bs128", "bigbird64":
             "flex-bigbird-bs128", "dense": "sdpa-dense",
             "linear": "linear-eager",
             "bigbird128-fb": "flex-bigbird-bs128-fb",
             "dense-fb": "sdpa-dense-fb"}
    for r in ours:
        # The soft-capped cases have no anchor doing their work: they are
        # compared in the same-mask table below, with Flex's score_mod.
        if r["case"] not in pairs:
            continue
        name = pairs[r["case"]]
        ms, tf = theirs.get(name, {}).get(r["n"], (float("nan"),) * 2)
        ratio = (ms / r["attn_ms"] if r["case"] == "linear"
                 else r["tflops"] / tf if tf == tf else float("nan"))
        extra = ""
        if r["case"] == "bigbird64" and ("bigbird128", r["n"]) in by_case:
            extra = (f"  {r['tflops'] / by_case[('bigbird128', r['n'])]['tflops']:.2f}"
                     " of bigbird128")
        print(f"{r['case']:22s} {r['n']:6d} {r['attn_ms']:8.3f} "
              f"{r['tflops']:7.1f}  {name:18s} {ms:8.3f} {tf:7.1f} "
              f"{ratio:10.2f}x{extra}")
    print("(linear: the anchor's time over attn's; the others: TF/s ratios)")
    if os.path.exists(causal):
        sdpa = {r["n"]: r for r in json.load(open(causal))
                if r["mask"] == "causal"}
        print("\ncausal: SDPA's (is_causal) time over attn's")
        print(f"{'case':22s} {'N':>6s} {'attn ms':>8s} {'sdpa ms':>8s} "
              f"{'sdpa/attn':>9s}")
        for r in ours:
            s = sdpa.get(r["n"]) if r["case"].startswith("causal") else None
            if not s:
                continue
            ms = s["fb_ms" if r["case"].endswith("-fb") else "fwd_ms"]
            print(f"{r['case']:22s} {r['n']:6d} {r['attn_ms']:8.3f} "
                  f"{ms:8.3f} {ms / r['attn_ms']:8.2f}x")
    if os.path.exists(same):
        flex_rows = {(r["block"], r["n"]): r for r in json.load(open(same))}
        print("\nthe same mask (attn's kept blocks, random ones included): "
              "FlexAttention's time over attn's")
        print(f"{'case':22s} {'N':>6s} {'attn ms':>8s} {'flex ms':>8s} "
              f"{'flex/attn':>9s}")
        for r in ours:
            block = {"bigbird128": 128, "bigbird128-fb": 128,
                     "bigbird128-softcap": 128, "bigbird128-softcap-fb": 128,
                     "bigbird64": 64}.get(r["case"])
            f = flex_rows.get((block, r["n"]))
            if not f:
                continue
            key = ("softcap_" if "-softcap" in r["case"] else "") + (
                "fb_ms" if r["case"].endswith("-fb") else "fwd_ms")
            ms = f[key]
            print(f"{r['case']:22s} {r['n']:6d} {r['attn_ms']:8.3f} "
                  f"{ms:8.3f} {ms / r['attn_ms']:8.2f}x")
    return status


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "prepare":
        sys.exit(prepare(*sys.argv[2:5]))
    if len(sys.argv) >= 4 and sys.argv[1] == "prepare-tests":
        sys.exit(prepare_only_tests(sys.argv[2], sys.argv[3], sys.argv[4:]))
    if len(sys.argv) == 3 and sys.argv[1] == "tests":
        passed, failed, skipped = run_tests(sys.argv[2])
        print(f"gpu tests: {passed} passed, {failed} failed, "
              f"{skipped} skipped")
        sys.exit(int(failed + skipped > 0))
    if len(sys.argv) == 3 and sys.argv[1] == "memcheck":
        sys.exit(memcheck(sys.argv[2]))
    if len(sys.argv) == 3 and sys.argv[1] == "run":
        sys.exit(run(sys.argv[2]))
    sys.exit(__doc__)

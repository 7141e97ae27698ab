//===- attn-bench.cpp - compiled attention, checked and timed -------------===//
//
//   attn-bench --target cpu [--lengths 1024,4096,16384] [--runs N]
//              [--json FILE] [--attn-compile PATH]
//              [--mask FILE [--mask-type TYPE]]
//   attn-bench --target gpu [--lengths ...] [--runs N] [--json FILE]
//              [--cases bigbird128,bigbird64,dense,causal,linear,
//              bigbird128-fb,dense-fb,causal-fb,bigbird128-softcap,
//              bigbird128-softcap-fb]
//              [--kernels DIR [--compile-only]] [--attn-compile PATH]
//              [--block-masks DIR] [--head-dim 64|128]
//   both: [--compile-flag F]... -- one more attn-compile flag for every
//         library, after the library's own (so that --compile-flag
//         --warp-rows=32 overrides a case's 16 rows a warp)
//
// cpu: BigBird attention (CpuBench.cpp) compiled for the CPU against
// libtorch's attention with the same mask, both timed here. --mask FILE
// takes any mask instead (attn IR lines defining %m, of type --mask-type):
// a pattern of a project of its own is benchmarked with that project's
// compiler as --attn-compile; libtorch's mask is the pattern's predicate,
// materialized by the same compiled library (attn.materialize_mask).
// gpu: the anchors' shapes (GpuBench.cpp) compiled for the GPU, each checked
// against libtorch in float64 on fresh inputs, then timed; the PyTorch side
// (FlexAttention, SDPA, eager linear attention) is the anchors script, run
// in the same job. --kernels keeps the compiled libraries in DIR and uses
// those already there; with --compile-only it stops after compiling, so that
// a machine without a GPU (or without attn-compile) can do either half.
//
//===----------------------------------------------------------------------===//

#include "Bench.h"

#include "attn/Support/Random.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace attn::bench {

void die(const std::string &msg) {
  std::fprintf(stderr, "attn-bench: error: %s\n", msg.c_str());
  std::exit(1);
}

double medianMs(int runs, const std::function<void()> &f,
                const std::function<void()> &before, int minRuns) {
  f(); // warm up
  std::vector<double> ms;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0;; ++i) {
    if (before)
      before();
    auto t0 = std::chrono::steady_clock::now();
    f();
    auto t1 = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    double elapsed = std::chrono::duration<double>(t1 - start).count();
    if (runs > 0 ? i + 1 >= runs : (i + 1 >= minRuns && elapsed > 2.0))
      break;
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

std::string BigBird::ir() const {
  std::string b = std::to_string(block), m = "!attn.mask<block = " + b + ">";
  std::ostringstream os;
  os << "  %w = attn.mask.window radius 1 block " << b << "\n"
     << "  %g = attn.mask.global first 1 last 1 block " << b << "\n"
     << "  %r = attn.mask.random_blocks count " << random << " block " << b
     << " seed " << seed << " exclude_global 1 exclude_window 1\n"
     << "  %m = attn.mask.union %w, %g, %r : " << m << ", " << m << ", " << m
     << "\n";
  return os.str();
}

torch::Tensor BigBird::blocks(int64_t n) const {
  int64_t nb = (n + block - 1) / block;
  auto rows =
      attn::randomBlockRows({random, static_cast<uint64_t>(seed), 1, 1}, nb);
  torch::Tensor kept = torch::zeros({nb, nb}, torch::kBool);
  auto acc = kept.accessor<bool, 2>();
  for (int64_t i = 0; i < nb; ++i)
    for (int64_t j = 0; j < nb; ++j)
      acc[i][j] = std::abs(i - j) <= 1 || i == 0 || j == 0 || i == nb - 1 ||
                  j == nb - 1 ||
                  std::find(rows[i].begin(), rows[i].end(), j) != rows[i].end();
  return kept;
}

torch::Tensor BigBird::mask(int64_t n) const {
  using torch::indexing::Slice;
  return blocks(n)
      .repeat_interleave(block, 0)
      .repeat_interleave(block, 1)
      .index({Slice(0, n), Slice(0, n)});
}

std::string tensorType(const std::vector<int64_t> &shape,
                       const std::string &elem) {
  std::string t = "tensor<";
  for (int64_t d : shape)
    t += std::to_string(d) + "x";
  return t + elem + ">";
}

void compile(const Options &o, const std::string &mlir, const std::string &so,
             const std::string &flags) {
  std::string cmd = o.compiler + " " + mlir + " -o " + so + " " + flags;
  for (const std::string &flag : o.compileFlags)
    cmd += " " + flag;
  if (std::system(cmd.c_str()) != 0)
    die("attn-compile failed: " + cmd);
}

} // namespace attn::bench

namespace {

using attn::bench::die;
using attn::bench::Options;

const char *kUsage =
    "usage: attn-bench --target cpu|gpu [--lengths 1024,4096,16384] "
    "[--runs N] [--json FILE] [--attn-compile PATH]\n"
    "                  [--compile-flag F]... (one attn-compile flag each,\n"
    "                  after each library's own)\n"
    "       cpu only: [--mask FILE [--mask-type TYPE]]\n"
    "       gpu only: [--cases bigbird128,bigbird64,dense,causal,linear,"
    "bigbird128-fb,dense-fb,causal-fb,\n"
    "                  bigbird128-softcap,bigbird128-softcap-fb]\n"
    "                 [--kernels DIR] [--compile-only] [--block-masks DIR]\n"
    "                 [--head-dim 64|128] (D of every case; 64 by default)\n";

std::vector<std::string> split(const std::string &list) {
  std::vector<std::string> items;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty())
      items.push_back(item);
  return items;
}

Options parse(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      size_t eq = a.find('=');
      if (eq != std::string::npos)
        return a.substr(eq + 1);
      if (i + 1 >= argc)
        die(a + " needs a value");
      return argv[++i];
    };
    auto is = [&](const char *name) {
      return a == name || a.rfind(std::string(name) + "=", 0) == 0;
    };
    if (a == "-h" || a == "--help") {
      std::printf("%s", kUsage);
      std::exit(0);
    } else if (is("--target")) {
      o.target = value();
    } else if (is("--lengths")) {
      o.lengths.clear();
      for (const std::string &n : split(value())) {
        char *end = nullptr;
        long long v = std::strtoll(n.c_str(), &end, 10);
        if (*end || v <= 0)
          die("--lengths takes positive integers, got '" + n + "'");
        o.lengths.push_back(v);
      }
    } else if (is("--runs")) {
      o.runs = std::stoi(value());
    } else if (is("--json")) {
      o.json = value();
    } else if (is("--attn-compile")) {
      o.compiler = value();
    } else if (is("--compile-flag")) {
      o.compileFlags.push_back(value());
    } else if (is("--cases")) {
      o.cases = split(value());
    } else if (is("--head-dim")) {
      std::string d = value();
      if (d != "64" && d != "128")
        die("--head-dim takes 64 or 128, got '" + d + "'");
      o.headDim = std::stoll(d);
    } else if (is("--kernels")) {
      o.kernels = value();
    } else if (is("--block-masks")) {
      o.blockMasks = value();
    } else if (is("--mask-type")) {
      o.maskType = value();
    } else if (is("--mask")) {
      o.maskFile = value();
    } else if (a == "--compile-only") {
      o.compileOnly = true;
    } else {
      die("unknown option " + a + "\n" + kUsage);
    }
  }
  if (o.target != "cpu" && o.target != "gpu")
    die("--target takes cpu or gpu, got '" + o.target + "'");
  if (o.target == "cpu" &&
      (!o.cases.empty() || !o.kernels.empty() || o.compileOnly ||
       !o.blockMasks.empty() || o.headDim != 64))
    die("--cases, --kernels, --compile-only, --block-masks and --head-dim "
        "are for --target gpu");
  if (o.target == "gpu" && !o.maskFile.empty())
    die("--mask is for --target cpu");
  if (o.compileOnly && o.kernels.empty())
    die("--compile-only needs --kernels DIR to keep the libraries in");
  return o;
}

} // namespace

int main(int argc, char **argv) {
  Options opts = parse(argc, argv);
  return opts.target == "gpu" ? attn::bench::runGpu(opts)
                              : attn::bench::runCpu(opts);
}

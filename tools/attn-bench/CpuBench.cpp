//===- CpuBench.cpp - attn-bench --target cpu -----------------------------===//
//
// BigBird attention (block 64, window of 3 blocks, 2 global blocks -- the
// first and the last --, 3 random blocks), or the mask of --mask, B=1, H=4,
// D=64, fp32. For each
// length: the compiled kernel (attn-compile, all cores through OpenMP) and
// libtorch's attention with the same mask materialized (all cores), both on
// the same fresh random inputs, checked against each other before timing.
// Reports medians, the ratio, useful GFLOP/s (4 B H N^2 D density / time)
// and the compiled kernel's peak-memory growth, measured before libtorch
// allocates anything.
//
//===----------------------------------------------------------------------===//

#include "Bench.h"

#include "attn/Runtime/Library.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace attn::bench {
namespace {

constexpr int64_t kBatch = 1, kHeads = 4, kDim = 64;
const BigBird kMask{/*block=*/64, /*random=*/3, /*seed=*/17};

/// The mask under test: BigBird's, or the user's (--mask).
struct MaskUnderTest {
  std::string name, ir, type;
  bool custom;
};

MaskUnderTest maskUnderTest(const Options &opts) {
  if (opts.maskFile.empty())
    return {"BigBird attention", kMask.ir(), "!attn.mask<block = 64>", false};
  std::ifstream in(opts.maskFile);
  if (!in)
    die("cannot read --mask " + opts.maskFile);
  std::stringstream text;
  text << in.rdbuf();
  return {"Attention with the mask of " + opts.maskFile, text.str(),
          opts.maskType, true};
}

/// The attention at length n, and for a user's mask the mask itself as an
/// n x n tensor of 0/1 (the pattern's predicate, for libtorch).
std::string functions(const MaskUnderTest &m, int64_t n) {
  std::string t = tensorType({kBatch, kHeads, n, kDim}, "f32");
  std::string f = "func.func @attend_" + std::to_string(n) + "(%q: " + t +
                  ", %k: " + t + ", %v: " + t + ") -> " + t + " {\n" + m.ir +
                  "\n  %o = attn.sdpa %q, %k, %v mask %m : " + t + ", " + t +
                  ", " + t + ", " + m.type + " -> " + t +
                  "\n  return %o : " + t + "\n}\n";
  if (m.custom) {
    std::string d = tensorType({n, n}, "i8");
    f += "func.func @mask_" + std::to_string(n) + "() -> " + d + " {\n" + m.ir +
         "\n  %d = attn.materialize_mask %m : " + m.type + " -> " + d +
         "\n  return %d : " + d + "\n}\n";
  }
  return f;
}

double peakRssMiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0)
      return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

struct Row {
  int64_t n;
  double density, attnMs, torchMs, attnMemMiB, maxError;
};

} // namespace

int runCpu(const Options &opts) {
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  torch::set_num_threads(threads);

  // One library with a kernel per length.
  MaskUnderTest maskUnderTest = attn::bench::maskUnderTest(opts);
  std::string module;
  for (int64_t n : opts.lengths)
    module += functions(maskUnderTest, n);
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("attn-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "bench.mlir") << module;
  std::fprintf(stderr, "attn-bench: compiling %zu kernels\n",
               opts.lengths.size());
  compile(opts, (dir / "bench.mlir").string(), (dir / "bench.so").string());
  std::string error;
  auto lib = attn::rt::Library::open((dir / "bench.so").string(), &error);
  if (!lib)
    die(error);

  std::vector<Row> rows;
  torch::manual_seed(1234);
  // First the compiled kernels alone, so that their memory is measured
  // before libtorch's dense masks exist.
  std::vector<std::vector<torch::Tensor>> inputs;
  for (int64_t n : opts.lengths) {
    std::vector<torch::Tensor> in;
    for (int i = 0; i < 3; ++i)
      in.push_back(torch::randn({kBatch, kHeads, n, kDim}));
    torch::Tensor out = torch::empty({kBatch, kHeads, n, kDim});
    auto run = [&] {
      std::vector<attn::rt::TensorRef> args;
      for (auto &t : in)
        args.push_back(
            {attn::rt::DType::F32, {kBatch, kHeads, n, kDim}, t.data_ptr()});
      if (!lib->call("attend_" + std::to_string(n), args,
                     {{attn::rt::DType::F32,
                       {kBatch, kHeads, n, kDim},
                       out.data_ptr()}},
                     &error))
        die(error);
    };
    double before = peakRssMiB();
    std::fprintf(stderr, "attn-bench: compiled kernel, N=%lld\n", (long long)n);
    Row row{n, 0, 0, 0, 0, 0};
    row.attnMs = medianMs(opts.runs, run);
    row.attnMemMiB = peakRssMiB() - before;
    rows.push_back(row);
    in.push_back(out);
    inputs.push_back(in);
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    int64_t n = rows[i].n;
    std::fprintf(stderr, "attn-bench: libtorch, N=%lld\n", (long long)n);
    torch::Tensor mask;
    if (maskUnderTest.custom) {
      mask = torch::empty({n, n}, torch::kInt8);
      if (!lib->call("mask_" + std::to_string(n), {},
                     {{attn::rt::DType::I8, {n, n}, mask.data_ptr()}}, &error))
        die(error);
      mask = mask.to(torch::kBool);
    } else {
      mask = kMask.mask(n);
    }
    rows[i].density = mask.to(torch::kFloat64).mean().item<double>();
    const auto &in = inputs[i];
    double scale = 1.0 / std::sqrt(double(kDim));
    torch::Tensor ref;
    auto run = [&] {
      torch::NoGradGuard guard;
      torch::Tensor s = torch::matmul(in[0], in[1].transpose(-1, -2)) * scale;
      s.masked_fill_(mask.logical_not(),
                     -std::numeric_limits<float>::infinity());
      ref = torch::matmul(torch::softmax(s, -1), in[2]);
    };
    rows[i].torchMs = medianMs(opts.runs, run);
    // Correct first: the two agree on these inputs.
    rows[i].maxError = ((in[3] - ref).norm() / ref.norm()).item<double>();
    if (!(rows[i].maxError < 1e-4))
      die("compiled kernel and libtorch disagree at N=" + std::to_string(n) +
          ": relative error " + std::to_string(rows[i].maxError));
  }

  std::printf("\n%s, CPU, fp32, B=%lld H=%lld D=%lld%s, %u threads; "
              "medians\n",
              maskUnderTest.name.c_str(), (long long)kBatch, (long long)kHeads,
              (long long)kDim, maskUnderTest.custom ? "" : ", block 64",
              threads);
  std::printf("%8s %8s %12s %12s %8s %12s %14s %10s\n", "N", "density",
              "attn ms", "libtorch ms", "ratio", "attn GFLOP/s",
              "attn peak MiB", "rel.err");
  for (const Row &r : rows) {
    double flops = 4.0 * kBatch * kHeads * double(r.n) * r.n * kDim * r.density;
    std::printf("%8lld %8.3f %12.2f %12.2f %7.2fx %12.1f %14.1f %10.1e\n",
                (long long)r.n, r.density, r.attnMs, r.torchMs,
                r.torchMs / r.attnMs, flops / (r.attnMs * 1e6), r.attnMemMiB,
                r.maxError);
  }
  if (!opts.json.empty()) {
    std::ofstream js(opts.json);
    js << "[\n";
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row &r = rows[i];
      js << "  {\"n\": " << r.n << ", \"density\": " << r.density
         << ", \"attn_ms\": " << r.attnMs << ", \"torch_ms\": " << r.torchMs
         << ", \"attn_peak_mib\": " << r.attnMemMiB << "}"
         << (i + 1 < rows.size() ? ",\n" : "\n");
    }
    js << "]\n";
  }
  std::filesystem::remove_all(dir);
  return 0;
}

} // namespace attn::bench

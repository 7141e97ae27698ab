//===- attn-bench.cpp - compiled attention vs. libtorch, timed ------------===//
//
//   attn-bench --target cpu [--lengths 1024,4096,16384] [--runs N]
//              [--json FILE] [--attn-compile PATH]
//
// BigBird attention (block 64, window of 3 blocks, 2 global blocks -- the
// first and the last --, 3 random blocks), B=1, H=4, D=64, fp32. For each
// length: the compiled kernel (attn-compile, all cores through OpenMP) and
// libtorch's attention with the same mask materialized (all cores), both on
// the same fresh random inputs, checked against each other before timing.
// Reports medians, the ratio, useful GFLOP/s (4 B H N^2 D density / time)
// and the compiled kernel's peak-memory growth, measured before libtorch
// allocates anything.
//
//===----------------------------------------------------------------------===//

#include "attn/Runtime/Library.h"
#include "attn/Support/Random.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int64_t kBatch = 1, kHeads = 4, kDim = 64, kBlock = 64;
constexpr int64_t kRandom = 3, kSeed = 17;

struct Options {
  std::string target = "cpu";
  std::vector<int64_t> lengths{1024, 4096, 16384};
  int runs = 0; // 0: as many as fit in about two seconds, at least 3
  std::string json;
  std::string compiler = ATTN_COMPILE;
};

[[noreturn]] void die(const std::string &msg) {
  std::fprintf(stderr, "attn-bench: error: %s\n", msg.c_str());
  std::exit(1);
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
    auto starts = [&](const char *p) { return a.rfind(p, 0) == 0; };
    if (a == "-h" || a == "--help") {
      std::printf("usage: attn-bench --target cpu [--lengths 1024,4096,16384] "
                  "[--runs N] [--json FILE] [--attn-compile PATH]\n");
      std::exit(0);
    } else if (starts("--target")) {
      o.target = value();
    } else if (starts("--lengths")) {
      o.lengths.clear();
      std::stringstream ss(value());
      std::string n;
      while (std::getline(ss, n, ','))
        o.lengths.push_back(std::stoll(n));
    } else if (starts("--runs")) {
      o.runs = std::stoi(value());
    } else if (starts("--json")) {
      o.json = value();
    } else if (starts("--attn-compile")) {
      o.compiler = value();
    } else {
      die("unknown option " + a);
    }
  }
  if (o.target != "cpu")
    die("--target " + o.target + " is not available in this build (cpu)");
  return o;
}

std::string tensorType(int64_t n) {
  return "tensor<" + std::to_string(kBatch) + "x" + std::to_string(kHeads) +
         "x" + std::to_string(n) + "x" + std::to_string(kDim) + "xf32>";
}

std::string bigbirdFunction(int64_t n) {
  std::string t = tensorType(n), m = "!attn.mask<block = 64>";
  std::ostringstream os;
  os << "func.func @bigbird_" << n << "(%q: " << t << ", %k: " << t
     << ", %v: " << t << ") -> " << t << " {\n"
     << "  %w = attn.mask.window radius 1 block 64\n"
     << "  %g = attn.mask.global first 1 last 1 block 64\n"
     << "  %r = attn.mask.random_blocks count " << kRandom << " block 64 seed "
     << kSeed << " exclude_global 1 exclude_window 1\n"
     << "  %m = attn.mask.union %w, %g, %r : " << m << ", " << m << ", " << m
     << "\n  %o = attn.sdpa %q, %k, %v mask %m : " << t << ", " << t << ", "
     << t << ", " << m << " -> " << t << "\n  return %o : " << t << "\n}\n";
  return os.str();
}

/// The same mask, by its definition.
torch::Tensor bigbirdMask(int64_t n) {
  int64_t nb = (n + kBlock - 1) / kBlock;
  auto rows = attn::randomBlockRows({kRandom, kSeed, 1, 1}, nb);
  torch::Tensor blocks = torch::zeros({nb, nb}, torch::kBool);
  auto acc = blocks.accessor<bool, 2>();
  for (int64_t i = 0; i < nb; ++i)
    for (int64_t j = 0; j < nb; ++j)
      acc[i][j] = std::abs(i - j) <= 1 || i == 0 || j == 0 || i == nb - 1 ||
                  j == nb - 1 ||
                  std::find(rows[i].begin(), rows[i].end(), j) != rows[i].end();
  return blocks.repeat_interleave(kBlock, 0).repeat_interleave(kBlock, 1).index(
      {torch::indexing::Slice(0, n), torch::indexing::Slice(0, n)});
}

double peakRssMiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0)
      return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

template <class F> double medianMs(int runs, F &&f) {
  f(); // warm up
  std::vector<double> ms;
  auto start = std::chrono::steady_clock::now();
  int target = runs;
  for (int i = 0;; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    auto t1 = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    double elapsed = std::chrono::duration<double>(t1 - start).count();
    if (target > 0 ? i + 1 >= target : (i + 1 >= 3 && elapsed > 2.0))
      break;
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

struct Row {
  int64_t n;
  double density, attnMs, torchMs, attnMemMiB, maxError;
  int runs;
};

} // namespace

int main(int argc, char **argv) {
  Options opts = parse(argc, argv);
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  torch::set_num_threads(threads);

  // One library with a kernel per length.
  std::string module;
  for (int64_t n : opts.lengths)
    module += bigbirdFunction(n);
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("attn-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "bench.mlir") << module;
  std::string cmd = opts.compiler + " " + (dir / "bench.mlir").string() +
                    " -o " + (dir / "bench.so").string();
  std::fprintf(stderr, "attn-bench: compiling %zu kernels\n",
               opts.lengths.size());
  if (std::system(cmd.c_str()) != 0)
    die("attn-compile failed: " + cmd);
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
      std::vector<attn::rt::HostTensor> args;
      for (auto &t : in)
        args.push_back(
            {attn::rt::DType::F32, {kBatch, kHeads, n, kDim}, t.data_ptr()});
      if (!lib->call("bigbird_" + std::to_string(n), args,
                     {{attn::rt::DType::F32,
                       {kBatch, kHeads, n, kDim},
                       out.data_ptr()}},
                     &error))
        die(error);
    };
    double before = peakRssMiB();
    std::fprintf(stderr, "attn-bench: compiled kernel, N=%lld\n", (long long)n);
    Row row{n, 0, 0, 0, 0, 0, 0};
    row.attnMs = medianMs(opts.runs, run);
    row.attnMemMiB = peakRssMiB() - before;
    rows.push_back(row);
    in.push_back(out);
    inputs.push_back(in);
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    int64_t n = rows[i].n;
    std::fprintf(stderr, "attn-bench: libtorch, N=%lld\n", (long long)n);
    torch::Tensor mask = bigbirdMask(n);
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

  std::printf("\nBigBird attention, CPU, fp32, B=%lld H=%lld D=%lld, block 64, "
              "%u threads; medians\n",
              (long long)kBatch, (long long)kHeads, (long long)kDim, threads);
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

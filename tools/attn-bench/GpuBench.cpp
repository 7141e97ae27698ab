//===- GpuBench.cpp - attn-bench --target gpu -----------------------------===//
//
// The shapes of the anchors' kernels script: B=4, H=16, D=64 (or
// --head-dim 128), bf16, N in --lengths. Cases (each its own library,
// compiled with the fastest tile shapes measured, NOTES.md; at D = 128 every
// forward in warps of 16 rows and softmax attention in key tiles of 64):
//   bigbird128  BigBird, 128-token blocks  (128x128 tiles, warps of 32 rows)
//   bigbird64   BigBird, 64-token blocks   (64x64 tiles, warps of 16 rows)
//   dense       attn.sdpa without a mask   (128x128 tiles, warps of 16 rows)
//   causal      attn.sdpa, attn.mask.causal (128x128 tiles, warps of 16 rows)
//   linear      attn.linear, elu + 1       (output tiles of 128 rows)
//   bigbird128-fb, dense-fb, causal-fb   forward and backward in one call:
//               attn.sdpa and its attn.sdpa_grad (dQ, dK, dV of <dO, O>),
//               the forward saving the log-sum-exp the gradient reads
//   bigbird128-softcap, bigbird128-softcap-fb   bigbird128 and its -fb with
//               a score region, soft-capping at 2: 2 tanh(s / 2)
// BigBird: a window of one block either side, the first and last blocks
// global, 3 random blocks per row (seed 1).
//
// Every case is first checked on fresh random inputs: the output rows of a
// fresh random sample of queries against libtorch in float64 (relative
// error under 2e-2), then timed: the median of the whole call (it returns
// when its kernels are done), L2 flushed before each run as the anchors'
// timer does. Useful TFLOP/s as DESIGN.md section 7 counts them:
// 4 B H D x (kept query-key pairs) for attention, 4 B H N D^2 for linear
// attention, 3.5 times the forward's for forward and backward (as the
// anchors count them). The -fb cases check dQ's rows of the sampled
// queries, and at N <= 4096 dK and dV of the first (batch, head), against
// libtorch autograd in float64. --block-masks DIR writes each BigBird
// case's kept blocks (tools/gpu/flex_same_mask.py runs FlexAttention on
// them: the same work).
//
//===----------------------------------------------------------------------===//

#include "Bench.h"

#include "attn/Runtime/Device.h"
#include "attn/Runtime/Library.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <unistd.h>

namespace attn::bench {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kBatch = 4, kHeads = 16;
/// Query rows whose output is checked, drawn afresh per case.
constexpr int64_t kCheckedRows = 32;
constexpr double kTolerance = 2e-2; // bf16 inputs and outputs
/// Larger than the H100's 50 MB L2.
constexpr size_t kFlushBytes = size_t(256) << 20;

struct GpuCase {
  const char *name;
  int64_t block; ///< BigBird's block; 0: no mask
  bool linear;
  int64_t blockQ, blockK, warpRows;
  bool backward = false;
  double softcap = 0; ///< the score region's cap c: c tanh(s / c); 0: none
  bool causal = false; ///< attn.mask.causal (key j kept for queries i >= j)
};

/// The gradient's tiles of the forward + backward cases: smaller than the
/// forward's (in the forward's 128 x 128 and 32 rows a warp the gradient's
/// kernels took 255 registers with spills: tools/attn-bench/NOTES.md,
/// session 40).
constexpr const char *kGradTiles =
    " --grad-block-q=64 --grad-block-k=64 --grad-warp-rows=16";

const GpuCase kCases[] = {
    {"bigbird128", 128, false, 128, 128, 32},
    {"bigbird64", 64, false, 64, 64, 16},
    // Dense and causal attention in 16 rows a warp: two consumer warpgroups
    // a tile, which the default lowering specialises, overlaps and makes
    // persistent (docs/lowering.md); BigBird at 128 keeps 32, its fastest.
    {"dense", 0, false, 128, 128, 16},
    {"causal", 0, false, 128, 128, 16, false, 0, true},
    {"linear", 0, true, 128, 64, 16},
    {"bigbird128-fb", 128, false, 128, 128, 32, true},
    {"dense-fb", 0, false, 128, 128, 16, true},
    {"causal-fb", 0, false, 128, 128, 16, true, 0, true},
    {"bigbird128-softcap", 128, false, 128, 128, 32, false, 2.0},
    {"bigbird128-softcap-fb", 128, false, 128, 128, 32, true, 2.0},
};

/// The case's attn-compile tile flags at head dimension d. Above 64: 16
/// rows a warp, since two row tiles a warp of 128-wide accumulators do not
/// fit (BigBird at block 128 and D = 128 in 32 rows a warp: 255 registers
/// and a 1.3-1.6 KB stack frame; in 16, two consumer warpgroups of 168 and
/// none). The key tiles are the case's at both head dims: the overlapped
/// forward's rings of 128 keys and values fit a block's shared memory at
/// D = 128 (AttentionTiles.h).
std::string tileFlags(const GpuCase &c, int64_t d) {
  return "--block-q=" + std::to_string(c.blockQ) +
         " --block-k=" + std::to_string(c.blockK) +
         " --warp-rows=" + std::to_string(d > 64 ? 16 : c.warpRows);
}

BigBird maskOf(const GpuCase &c) { return {c.block, 3, 1}; }

/// The case's mask: attn IR defining %m, and its type (both empty where
/// the case has none).
struct MaskIR {
  std::string ir, type;
};
MaskIR maskIR(const GpuCase &c) {
  if (c.block)
    return {maskOf(c).ir(),
            "!attn.mask<block = " + std::to_string(c.block) + ">"};
  if (c.causal)
    return {"  %m = attn.mask.causal\n", "!attn.mask"};
  return {};
}

/// The case's library and function names carry D where it is not 64, so
/// that libraries of both head dimensions can share a --kernels directory.
std::string libraryName(const GpuCase &c, int64_t d) {
  return std::string(c.name) + (d == 64 ? "" : "-d" + std::to_string(d));
}

std::string functionName(const GpuCase &c, int64_t n, int64_t d) {
  std::string name = libraryName(c, d) + "_" + std::to_string(n);
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

std::string function(const GpuCase &c, int64_t n, int64_t d) {
  std::string t = tensorType({kBatch, kHeads, n, d}, "bf16");
  std::string operands = t + ", " + t + ", " + t;
  std::string name = "func.func @" + functionName(c, n, d) + "(%q: " + t +
                     ", %k: " + t + ", %v: " + t;
  if (c.linear)
    return name + ") -> " + t + " {\n" +
           "  %f = attn.feature_map.elu_plus_one\n"
           "  %o = attn.linear %q, %k, %v feature_map %f : " +
           operands + " -> " + t + "\n  return %o : " + t + "\n}\n";
  // attn.sdpa, under the case's mask where it has one.
  MaskIR m = maskIR(c);
  std::string mask = m.type.empty() ? "" : " mask %m";
  std::string maskType = m.type.empty() ? "" : ", " + m.type;
  std::string score;
  if (c.softcap)
    score = " score {\n"
            "  ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):\n"
            "    %cap = arith.constant " +
            std::to_string(c.softcap) +
            " : f32\n"
            "    %x = arith.divf %s, %cap : f32\n"
            "    %t = math.tanh %x : f32\n"
            "    %y = arith.mulf %t, %cap : f32\n"
            "    attn.yield %y : f32\n  }";
  std::string body = m.ir + "  %o = attn.sdpa %q, %k, %v" + mask + score +
                     " : " + operands + maskType + " -> " + t + "\n";
  if (!c.backward)
    return name + ") -> " + t + " {\n" + body + "  return %o : " + t +
           "\n}\n";
  return name + ", %do: " + t + ") -> (" + operands + ") {\n" + body +
         "  %grad:3 = attn.sdpa_grad %q, %k, %v, %o, %do" + mask + score +
         " : " + operands + ", " + t + maskType + "\n" +
         "  return %grad#0, %grad#1, %grad#2 : " + operands + "\n}\n";
}

/// Device memory, freed with its owner.
struct DeviceBuffer {
  void *ptr = nullptr;
  size_t bytes = 0;
  explicit DeviceBuffer(size_t n) : ptr(rt::deviceAlloc(n)), bytes(n) {
    if (!ptr)
      die("cannot allocate " + std::to_string(n) +
          " bytes of device memory: " + rt::takeGpuError().value_or("?"));
  }
  ~DeviceBuffer() { rt::deviceFree(ptr); }
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
};

/// Kept (query, key) pairs of the case's mask: BigBird's blocks clipped at
/// n, the causal triangle, or all.
double keptPairs(const GpuCase &c, int64_t n) {
  if (c.causal)
    return double(n) * (n + 1) / 2;
  if (!c.block)
    return double(n) * n;
  torch::Tensor kept = maskOf(c).blocks(n).to(torch::kFloat64);
  int64_t nb = kept.size(0);
  torch::Tensor extent = torch::full({nb}, double(c.block), torch::kFloat64);
  extent[nb - 1] = double(n - (nb - 1) * c.block);
  return extent.dot(kept.mv(extent)).item<double>();
}

/// softmax(qs k^T / sqrt(D)) v on float64 [B, H, ., D], the rows `rows`
/// of the queries being qs, under the case's mask.
torch::Tensor attend(const GpuCase &c, const torch::Tensor &qs,
                     const torch::Tensor &k, const torch::Tensor &v,
                     const torch::Tensor &rows);

/// The output rows `rows` of case `c` on float64 inputs [B, H, N, D]:
/// [B, H, rows, D].
torch::Tensor reference(const GpuCase &c, const torch::Tensor &q,
                        const torch::Tensor &k, const torch::Tensor &v,
                        const torch::Tensor &rows) {
  torch::NoGradGuard guard;
  return attend(c, q.index_select(2, rows), k, v, rows);
}

torch::Tensor attend(const GpuCase &c, const torch::Tensor &qs,
                     const torch::Tensor &k, const torch::Tensor &v,
                     const torch::Tensor &rows) {
  if (c.linear) {
    auto phi = [](const torch::Tensor &x) { return torch::elu(x) + 1; };
    torch::Tensor fk = phi(k), fq = phi(qs);
    torch::Tensor state = torch::matmul(fk.transpose(-1, -2), v); // [B,H,D,D]
    torch::Tensor norm = fk.sum(2).unsqueeze(-1);                 // [B,H,D,1]
    return torch::matmul(fq, state) / torch::matmul(fq, norm);
  }
  int64_t n = k.size(2);
  torch::Tensor keep;
  if (c.block) {
    torch::Tensor blocks = maskOf(c).blocks(n);
    keep = blocks.index_select(0, torch::floor_divide(rows, c.block))
               .repeat_interleave(c.block, 1)
               .narrow(1, 0, n);
  } else if (c.causal) {
    keep = torch::arange(n, torch::kLong).unsqueeze(0) <= rows.unsqueeze(1);
  }
  std::vector<torch::Tensor> out;
  // A batch entry at a time: the scores of every head are [H, rows, N].
  for (int64_t b = 0; b < qs.size(0); ++b) {
    torch::Tensor s = torch::matmul(qs[b], k[b].transpose(-1, -2)) /
                      std::sqrt(double(qs.size(3)));
    if (c.softcap)
      s = c.softcap * torch::tanh(s / c.softcap);
    if (keep.defined())
      s.masked_fill_(keep.logical_not(),
                     -std::numeric_limits<double>::infinity());
    out.push_back(torch::matmul(torch::softmax(s, -1), v[b]));
  }
  return torch::stack(out);
}

/// BigBird's kept blocks of case `c` at length n as text, for a reference
/// that runs the same mask: DIR/bigbird<block>-<n>.txt, a line "block B n
/// N", then a line of 0s and 1s per query block (1: the key block kept).
void writeBlockMask(const std::string &dir, const GpuCase &c, int64_t n) {
  fs::create_directories(dir);
  fs::path file = fs::path(dir) / ("bigbird" + std::to_string(c.block) + "-" +
                                   std::to_string(n) + ".txt");
  torch::Tensor kept = maskOf(c).blocks(n).to(torch::kBool).contiguous();
  std::ofstream os(file);
  os << "block " << c.block << " n " << n << "\n";
  auto a = kept.accessor<bool, 2>();
  for (int64_t i = 0; i < kept.size(0); ++i) {
    for (int64_t j = 0; j < kept.size(1); ++j)
      os << (a[i][j] ? '1' : '0');
    os << "\n";
  }
  if (!os)
    die("cannot write " + file.string());
}

struct Row {
  std::string name;
  int64_t n;
  double density, ms, tflops, error;
};

} // namespace

int runGpu(const Options &opts) {
  const int64_t d = opts.headDim;
  std::vector<const GpuCase *> cases;
  for (const GpuCase &c : kCases)
    if (opts.cases.empty() || std::find(opts.cases.begin(), opts.cases.end(),
                                        c.name) != opts.cases.end())
      cases.push_back(&c);
  for (const std::string &name : opts.cases)
    if (std::none_of(std::begin(kCases), std::end(kCases),
                     [&](const GpuCase &c) { return name == c.name; })) {
      std::string known;
      for (const GpuCase &c : kCases)
        known += (known.empty() ? "" : ", ") + std::string(c.name);
      die("unknown case '" + name + "' (" + known + ")");
    }

  // The libraries: compiled into a temporary directory, or kept in (and,
  // unless --compile-only, taken from) --kernels.
  bool temporary = opts.kernels.empty();
  fs::path dir = temporary ? fs::temp_directory_path() /
                                 ("attn-bench-" + std::to_string(getpid()))
                           : fs::path(opts.kernels);
  fs::create_directories(dir);
  for (const GpuCase *c : cases) {
    fs::path so = dir / (libraryName(*c, d) + ".so");
    if (!temporary && !opts.compileOnly && fs::exists(so))
      continue;
    fs::path mlir = dir / (libraryName(*c, d) + ".mlir");
    std::ofstream os(mlir);
    for (int64_t n : opts.lengths)
      os << function(*c, n, d);
    os.close();
    std::fprintf(stderr,
                 "attn-bench: compiling %s for D = %lld, N = %zu lengths\n",
                 c->name, (long long)d, opts.lengths.size());
    compile(opts, mlir.string(), so.string(),
            "--target gpu " + tileFlags(*c, d) +
                (c->backward ? kGradTiles : ""));
  }
  if (opts.compileOnly) {
    std::printf("attn-bench: libraries in %s\n", dir.c_str());
    return 0;
  }
  std::string why;
  if (!rt::gpuAvailable(&why))
    die("no GPU to run on: " + why +
        " (--kernels DIR --compile-only compiles without one)");

  unsigned seed = std::random_device{}();
  torch::manual_seed(seed);
  DeviceBuffer flush(kFlushBytes);
  auto flushL2 = [&] {
    if (!rt::deviceZero(flush.ptr, flush.bytes))
      die(rt::takeGpuError().value_or("cannot flush L2"));
  };
  std::vector<Row> rows;
  for (const GpuCase *c : cases) {
    std::string error;
    fs::path so = dir / (libraryName(*c, d) + ".so");
    auto lib = rt::Library::open(so.string(), &error);
    if (!lib)
      die(error);
    for (int64_t n : opts.lengths) {
      std::string fn = functionName(*c, n, d);
      if (!lib->signature(fn))
        die(so.string() + " has no function " + fn +
            "; compile the libraries for these --lengths (--compile-only)");
      std::fprintf(stderr, "attn-bench: %s, N=%lld\n", c->name, (long long)n);
      // Fresh inputs: bf16 from standard normals.
      std::vector<torch::Tensor> in;
      std::vector<std::unique_ptr<DeviceBuffer>> buffers;
      std::vector<void *> slots;
      // q, k, v (and dO), then the outputs (dQ, dK, dV).
      const int inputs = c->backward ? 4 : 3, outputs = c->backward ? 3 : 1;
      for (int i = 0; i < inputs + outputs; ++i) {
        torch::Tensor t =
            i < inputs
                ? torch::randn({kBatch, kHeads, n, d}).to(torch::kBFloat16)
                : torch::empty({kBatch, kHeads, n, d}, torch::kBFloat16);
        size_t bytes = t.numel() * t.element_size();
        buffers.push_back(std::make_unique<DeviceBuffer>(bytes));
        if (i < inputs &&
            !rt::copyToDevice(buffers.back()->ptr, t.data_ptr(), bytes))
          die(rt::takeGpuError().value_or("cannot copy an input"));
        slots.push_back(buffers.back()->ptr);
        in.push_back(t);
      }
      auto call = [&] {
        if (!lib->callRaw(fn, slots.data(), &error))
          die(error);
      };
      call();
      for (int i = inputs; i < inputs + outputs; ++i)
        if (!rt::copyToHost(in[i].data_ptr(), buffers[i]->ptr,
                            in[i].numel() * in[i].element_size()))
          die(rt::takeGpuError().value_or("cannot copy an output"));
      torch::Tensor &out = in[inputs];

      // Correct first.
      torch::Tensor checked =
          std::get<0>(torch::randperm(n, torch::kLong)
                          .narrow(0, 0, std::min(n, kCheckedRows))
                          .sort());
      auto relative = [](const torch::Tensor &got, const torch::Tensor &ref) {
        return ((got.to(torch::kFloat64) - ref).norm() / ref.norm())
            .item<double>();
      };
      torch::Tensor q64 = in[0].to(torch::kFloat64),
                    k64 = in[1].to(torch::kFloat64),
                    v64 = in[2].to(torch::kFloat64);
      double err;
      if (!c->backward) {
        err = relative(out.index_select(2, checked),
                       reference(*c, q64, k64, v64, checked));
      } else {
        // dQ's row i depends on query i alone: autograd through the rows.
        torch::Tensor dO = in[3].to(torch::kFloat64);
        torch::Tensor qs = q64.index_select(2, checked).requires_grad_();
        (attend(*c, qs, k64, v64, checked) * dO.index_select(2, checked))
            .sum()
            .backward();
        err = relative(out.index_select(2, checked), qs.grad());
        if (n <= 4096) {
          // dK and dV of the first (batch, head): every query.
          auto first = [](const torch::Tensor &t) {
            return t.narrow(0, 0, 1).narrow(1, 0, 1);
          };
          torch::Tensor q0 = first(q64).clone().requires_grad_(),
                        k0 = first(k64).clone().requires_grad_(),
                        v0 = first(v64).clone().requires_grad_();
          (attend(*c, q0, k0, v0, torch::arange(n, torch::kLong)) * first(dO))
              .sum()
              .backward();
          err = std::max({err, relative(first(in[5]), k0.grad()),
                          relative(first(in[6]), v0.grad())});
        }
      }
      if (!(err < kTolerance))
        die(fn + " disagrees with libtorch (float64): relative error " +
            std::to_string(err) + " on the rows of " +
            std::to_string(checked.numel()) + " random queries (seed " +
            std::to_string(seed) + ")");

      if (c->block && !opts.blockMasks.empty())
        writeBlockMask(opts.blockMasks, *c, n);
      double ms = medianMs(opts.runs, call, flushL2, /*minRuns=*/10);
      double pairs = keptPairs(*c, n);
      double flop = c->linear ? 4.0 * kBatch * kHeads * n * double(d) * d
                              : 4.0 * kBatch * kHeads * d * pairs;
      if (c->backward)
        flop *= 3.5;
      rows.push_back({c->name, n, c->linear ? NAN : pairs / (double(n) * n), ms,
                      flop / ms / 1e9, err});
    }
  }

  std::printf("\nattn on the GPU, bf16, B=%lld H=%lld D=%lld; whole calls, "
              "medians, L2 flushed before each (inputs seed %u)\n",
              (long long)kBatch, (long long)kHeads, (long long)d, seed);
  std::printf("%-22s %6s %8s %10s %10s %10s\n", "case", "N", "density", "ms",
              "TFLOP/s", "rel.err");
  for (const Row &r : rows)
    std::printf("%-22s %6lld %8.3f %10.3f %10.1f %10.1e\n", r.name.c_str(),
                (long long)r.n, r.density, r.ms, r.tflops, r.error);
  if (!opts.json.empty()) {
    std::ofstream js(opts.json);
    js << "[\n";
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row &r = rows[i];
      js << "  {\"case\": \"" << r.name << "\", \"d\": " << d
         << ", \"n\": " << r.n << ", \"density\": "
         << (std::isnan(r.density) ? std::string("null")
                                   : std::to_string(r.density))
         << ", \"attn_ms\": " << r.ms << ", \"tflops\": " << r.tflops
         << ", \"rel_err\": " << r.error << "}"
         << (i + 1 < rows.size() ? ",\n" : "\n");
    }
    js << "]\n";
  }
  if (temporary)
    fs::remove_all(dir);
  return 0;
}

} // namespace attn::bench

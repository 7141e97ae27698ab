//===- Bench.h - what attn-bench's targets share --------------------------===//
//
// Options, failure, timing and the BigBird mask (IR and definition) of
// attn-bench's CPU and GPU benchmarks.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TOOLS_BENCH_H
#define ATTN_TOOLS_BENCH_H

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace attn::bench {

struct Options {
  std::string target = "cpu";
  std::vector<int64_t> lengths{1024, 4096, 16384};
  int runs = 0; // 0: as many as fit in about two seconds, at least 3
  std::string json;
  std::string compiler = ATTN_COMPILE;
  /// More of attn-compile's flags (--compile-flag), after each library's
  /// own, so that one given both ways is the user's (--warp-rows=16).
  std::vector<std::string> compileFlags;
  // GPU: which cases, where their libraries are, whether to stop after
  // compiling them.
  std::vector<std::string> cases;
  /// GPU: the head dimension D of every case (64 or 128).
  int64_t headDim = 64;
  std::string kernels;
  bool compileOnly = false;
  // GPU: where to write each BigBird case's kept blocks, for comparisons
  // that run the same mask (empty: nowhere).
  std::string blockMasks;
  // CPU: a mask of the user's instead of BigBird's -- attn IR lines
  // defining %m (any pattern the --attn-compile tool knows) -- and its type.
  std::string maskFile;
  std::string maskType = "!attn.mask";
};

[[noreturn]] void die(const std::string &msg);

/// Median wall time of `f` in ms over `runs` calls (0: as many as fit in
/// about two seconds, at least `minRuns`), after one warm-up call;
/// `before` runs ahead of each call, untimed.
double medianMs(int runs, const std::function<void()> &f,
                const std::function<void()> &before = {}, int minRuns = 3);

/// BigBird's mask with `block`-token blocks: a window of one block either
/// side, the first and last blocks global, `random` random blocks per row
/// (the compiler's generator with `seed`, sparing global and window
/// blocks).
struct BigBird {
  int64_t block, random, seed;

  /// `%m` of type `!attn.mask<block = B>` as attn IR lines.
  std::string ir() const;
  /// Which key blocks each query block keeps: [blocks, blocks] of bool.
  torch::Tensor blocks(int64_t n) const;
  /// Which keys each query row keeps: [n, n] of bool.
  torch::Tensor mask(int64_t n) const;
};

/// "tensor<BxHxNxDxT>".
std::string tensorType(const std::vector<int64_t> &shape,
                       const std::string &elem);

/// Runs attn-compile on `mlir` with `flags`; dies saying so on failure.
void compile(const Options &o, const std::string &mlir, const std::string &so,
             const std::string &flags = "");

int runCpu(const Options &o);
int runGpu(const Options &o);

} // namespace attn::bench

#endif // ATTN_TOOLS_BENCH_H

//===- Random.h - Seeded randomness shared by compiler and references -----===//
//
// Everything in attn that is "random" (BigBird's random blocks, FAVOR+
// projections, parameter initialisation, dropout streams) is a deterministic
// function of a seed computed here. This header has no MLIR dependency so that
// the libtorch reference tests and the runtime can reproduce exactly what the
// compiler tabulated.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_SUPPORT_RANDOM_H
#define ATTN_SUPPORT_RANDOM_H

#include <cstdint>
#include <optional>
#include <vector>

namespace attn {

/// SplitMix64: a small, fast, well-mixed generator whose output is the same on
/// every platform (unlike std::*_distribution).
class SplitMix64 {
public:
  explicit SplitMix64(uint64_t seed) : state(seed) {}
  uint64_t next();
  /// Uniform in [0, bound) without modulo bias; bound > 0.
  uint64_t below(uint64_t bound);
  /// Uniform double in [0, 1).
  double uniform();
  /// Standard normal (Box-Muller).
  double normal();

private:
  uint64_t state;
};

/// Mixes several words into one seed (order-sensitive).
uint64_t mixSeed(uint64_t a, uint64_t b, uint64_t c = 0);

/// BigBird-style random key blocks. Row i (a query block) receives `count`
/// distinct key blocks drawn uniformly, without replacement, from the
/// candidates: blocks that are not global (the first and last
/// `excludeGlobal` blocks) and, when excludeWindow >= 0, not within
/// `excludeWindow` blocks of i. Global rows receive none, as in BigBird: they
/// already attend everywhere. When fewer candidates exist, all are taken.
struct RandomBlockSpec {
  int64_t count = 0;
  uint64_t seed = 0;
  int64_t excludeGlobal = 0;
  int64_t excludeWindow = -1;
};

/// The sorted key blocks drawn for query block `row` of `numBlocks`.
std::vector<int64_t> randomBlockRow(const RandomBlockSpec &spec,
                                    int64_t numBlocks, int64_t row);

/// Every row: rows[i] == randomBlockRow(spec, numBlocks, i).
std::vector<std::vector<int64_t>> randomBlockRows(const RandomBlockSpec &spec,
                                                  int64_t numBlocks);

/// FAVOR+ positive orthogonal random features (Choromanski et al., 2021):
/// a `features` x `dim` matrix (row-major) whose rows come in blocks of `dim`
/// mutually orthogonal directions, each row scaled by the norm of an
/// independent standard Gaussian vector so that rows are marginally N(0, I).
std::vector<double> orthogonalRandomFeatures(int64_t features, int64_t dim,
                                             uint64_t seed);

/// Dropout's keep decision for element `index` of the op with stream number
/// `stream`: keep when the top 24 bits of a SplitMix64-style hash of (seed,
/// stream, index), as a fraction of 2^24, are at least `rate` in f32.
/// Compiled code computes the same hash in integer arithmetic and compares
/// it with the same threshold (attn-convert-encoder-to-linalg), so checks
/// and backward passes can reproduce every decision.
uint64_t dropoutHash(uint64_t seed, uint64_t stream, uint64_t index);
/// The hashes kept at `rate`: those at least the result (unsigned), or none
/// where the rate rounds to 1 in f32. top 24 bits / 2^24 >= rate is top >=
/// rate 2^24 (both exact), so top >= ceil(rate 2^24), so hash >= that times
/// 2^40: one comparison for the decision.
std::optional<uint64_t> dropoutKeepThreshold(double rate);
inline bool dropoutKeep(uint64_t seed, uint64_t stream, uint64_t index,
                        double rate) {
  std::optional<uint64_t> threshold = dropoutKeepThreshold(rate);
  return threshold && dropoutHash(seed, stream, index) >= *threshold;
}

/// The constants of dropoutHash, for code generators.
constexpr uint64_t kDropoutSeedMul = 0x9E3779B97F4A7C15ull;
constexpr uint64_t kDropoutStreamMul = 0xD6E8FEB86659FD93ull;
constexpr uint64_t kDropoutMix1 = 0xBF58476D1CE4E5B9ull;
constexpr uint64_t kDropoutMix2 = 0x94D049BB133111EBull;

} // namespace attn

#endif // ATTN_SUPPORT_RANDOM_H

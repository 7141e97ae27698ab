//===- Random.cpp - Seeded randomness shared by compiler and references ---===//

#include "attn/Support/Random.h"

#include <algorithm>
#include <cmath>

namespace attn {

uint64_t SplitMix64::next() {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t SplitMix64::below(uint64_t bound) {
  // Rejection sampling on the top of the range removes modulo bias.
  uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t x;
  do {
    x = next();
  } while (x >= limit);
  return x % bound;
}

double SplitMix64::uniform() { return (next() >> 11) * 0x1.0p-53; }

double SplitMix64::normal() {
  double u1;
  do {
    u1 = uniform();
  } while (u1 <= 0.0);
  double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

uint64_t mixSeed(uint64_t a, uint64_t b, uint64_t c) {
  SplitMix64 g(a);
  uint64_t h = g.next() ^ (b * 0xD6E8FEB86659FD93ull);
  SplitMix64 g2(h);
  return g2.next() ^ (c * 0xA0761D6478BD642Full);
}

std::vector<int64_t> randomBlockRow(const RandomBlockSpec &spec,
                                    int64_t numBlocks, int64_t row) {
  auto isGlobal = [&](int64_t j) {
    return j < spec.excludeGlobal || j >= numBlocks - spec.excludeGlobal;
  };
  if (row < 0 || row >= numBlocks || isGlobal(row))
    return {};
  std::vector<int64_t> candidates;
  candidates.reserve(numBlocks);
  for (int64_t j = 0; j < numBlocks; ++j) {
    if (isGlobal(j))
      continue;
    if (spec.excludeWindow >= 0 && std::abs(row - j) <= spec.excludeWindow)
      continue;
    candidates.push_back(j);
  }
  SplitMix64 rng(mixSeed(spec.seed, static_cast<uint64_t>(row)));
  int64_t take = std::min<int64_t>(spec.count, candidates.size());
  // Partial Fisher-Yates: the first `take` entries are a uniform sample.
  for (int64_t t = 0; t < take; ++t) {
    int64_t pick = t + static_cast<int64_t>(rng.below(candidates.size() - t));
    std::swap(candidates[t], candidates[pick]);
  }
  candidates.resize(take);
  std::sort(candidates.begin(), candidates.end());
  return candidates;
}

std::vector<std::vector<int64_t>> randomBlockRows(const RandomBlockSpec &spec,
                                                  int64_t numBlocks) {
  std::vector<std::vector<int64_t>> rows(numBlocks);
  for (int64_t i = 0; i < numBlocks; ++i)
    rows[i] = randomBlockRow(spec, numBlocks, i);
  return rows;
}

std::vector<double> orthogonalRandomFeatures(int64_t features, int64_t dim,
                                             uint64_t seed) {
  SplitMix64 rng(mixSeed(seed, 0x0F1A7u));
  std::vector<double> out(static_cast<size_t>(features * dim));
  std::vector<double> block(static_cast<size_t>(dim * dim));
  for (int64_t start = 0; start < features; start += dim) {
    // Orthonormal rows by modified Gram-Schmidt on a Gaussian matrix.
    for (double &x : block)
      x = rng.normal();
    for (int64_t r = 0; r < dim; ++r) {
      double *row = &block[r * dim];
      for (int64_t p = 0; p < r; ++p) {
        const double *prev = &block[p * dim];
        double dot = 0;
        for (int64_t c = 0; c < dim; ++c)
          dot += row[c] * prev[c];
        for (int64_t c = 0; c < dim; ++c)
          row[c] -= dot * prev[c];
      }
      double norm = 0;
      for (int64_t c = 0; c < dim; ++c)
        norm += row[c] * row[c];
      norm = std::sqrt(norm);
      for (int64_t c = 0; c < dim; ++c)
        row[c] /= norm;
    }
    int64_t rowsHere = std::min(dim, features - start);
    for (int64_t r = 0; r < rowsHere; ++r) {
      // Chi-distributed length: the norm of an independent Gaussian vector.
      double len = 0;
      for (int64_t c = 0; c < dim; ++c) {
        double g = rng.normal();
        len += g * g;
      }
      len = std::sqrt(len);
      for (int64_t c = 0; c < dim; ++c)
        out[(start + r) * dim + c] = block[r * dim + c] * len;
    }
  }
  return out;
}

std::optional<uint64_t> dropoutKeepThreshold(double rate) {
  auto top = static_cast<uint64_t>(
      std::ceil(static_cast<double>(static_cast<float>(rate)) * 0x1.0p24));
  if (top >= (uint64_t(1) << 24))
    return std::nullopt;
  return top << 40;
}

uint64_t dropoutHash(uint64_t seed, uint64_t stream, uint64_t index) {
  uint64_t h = seed * kDropoutSeedMul ^ stream * kDropoutStreamMul ^ index;
  h ^= h >> 30;
  h *= kDropoutMix1;
  h ^= h >> 27;
  h *= kDropoutMix2;
  h ^= h >> 31;
  return h;
}

} // namespace attn

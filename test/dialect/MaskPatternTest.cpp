//===- MaskPatternTest.cpp - tile classification vs. element predicates --===//
//
// For every pattern and combinator: each tile's classification must agree
// with the element predicate on every pair of the tile -- a full tile all
// kept, an empty one none, a partial one both -- for every sequence length
// from 1 to 300 and tiles of 16, 32, 64 and 128 (so lengths that are not
// multiples of the tile are covered). Each predicate is also checked against
// an independent statement of the pattern's definition written here.
//
//===----------------------------------------------------------------------===//

#include "MaskPatternCheck.h"

#include <gtest/gtest.h>

#include <set>

using namespace mlir;
using namespace mlir::attn;
using ::attn::test::MaskCase;
using ::attn::test::paddingLengths;
using ::attn::test::ParsedCase;

namespace {

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t absDiff(int64_t a, int64_t b) { return a > b ? a - b : b - a; }

bool bigbirdRandom(int64_t q, int64_t k, int64_t n, int64_t block,
                   int64_t count, uint64_t seed, int64_t g, int64_t w) {
  ::attn::RandomBlockSpec spec{count, seed, g, w};
  std::vector<int64_t> row =
      ::attn::randomBlockRow(spec, ceilDiv(n, block), q / block);
  return std::find(row.begin(), row.end(), k / block) != row.end();
}

const MaskCase kCases[] = {
    {"full",
     "%m0 = attn.mask.full\n"
     "%m = attn.mask.intersect %m0, %m0 : !attn.mask, !attn.mask",
     [](int64_t, int64_t, int64_t, int64_t) { return true; }},
    {"causal",
     "%m0 = attn.mask.causal\n"
     "%m1 = attn.mask.full\n"
     "%m = attn.mask.intersect %m0, %m1 : !attn.mask, !attn.mask",
     [](int64_t, int64_t q, int64_t k, int64_t) { return k <= q; }},
    {"window_element", "%m = attn.mask.window radius 5",
     [](int64_t, int64_t q, int64_t k, int64_t) { return absDiff(q, k) <= 5; }},
    {"window_element_zero", "%m = attn.mask.window radius 0",
     [](int64_t, int64_t q, int64_t k, int64_t) { return q == k; }},
    {"window_block", "%m = attn.mask.window radius 1 block 16",
     [](int64_t, int64_t q, int64_t k, int64_t) {
       return absDiff(q / 16, k / 16) <= 1;
     }},
    {"window_block_wide", "%m = attn.mask.window radius 2 block 32",
     [](int64_t, int64_t q, int64_t k, int64_t) {
       return absDiff(q / 32, k / 32) <= 2;
     }},
    {"global_tokens", "%m = attn.mask.global first 3 last 2",
     [](int64_t, int64_t q, int64_t k, int64_t n) {
       auto g = [&](int64_t i) { return i < 3 || i >= n - 2; };
       return g(q) || g(k);
     }},
    {"global_blocks", "%m = attn.mask.global first 1 last 1 block 16",
     [](int64_t, int64_t q, int64_t k, int64_t n) {
       int64_t nb = ceilDiv(n, 16);
       auto g = [&](int64_t i) { return i / 16 < 1 || i / 16 >= nb - 1; };
       return g(q) || g(k);
     }},
    {"global_first_only", "%m = attn.mask.global first 2 block 32",
     [](int64_t, int64_t q, int64_t k, int64_t) {
       return q / 32 < 2 || k / 32 < 2;
     }},
    {"random_blocks",
     "%m = attn.mask.random_blocks count 3 block 16 seed 42 exclude_global 1 "
     "exclude_window 1",
     [](int64_t, int64_t q, int64_t k, int64_t n) {
       return bigbirdRandom(q, k, n, 16, 3, 42, 1, 1);
     }},
    {"random_blocks_plain",
     "%m = attn.mask.random_blocks count 2 block 32 seed 7",
     [](int64_t, int64_t q, int64_t k, int64_t n) {
       return bigbirdRandom(q, k, n, 32, 2, 7, 0, -1);
     }},
    {"chunk", "%m = attn.mask.chunk size 24",
     [](int64_t, int64_t q, int64_t k, int64_t) { return q / 24 == k / 24; }},
    {"chunk_small", "%m = attn.mask.chunk size 5",
     [](int64_t, int64_t q, int64_t k, int64_t) { return q / 5 == k / 5; }},
    {"dilated_window", "%m = attn.mask.dilated_window radius 4 dilation 3",
     [](int64_t, int64_t q, int64_t k, int64_t) {
       return absDiff(q, k) <= 12 && absDiff(q, k) % 3 == 0;
     }},
    {"strided", "%m = attn.mask.strided stride 7",
     [](int64_t, int64_t q, int64_t k, int64_t) {
       return absDiff(q, k) % 7 == 0;
     }},
    {"key_padding", "%m = attn.mask.key_padding %len : tensor<4xi32>",
     [](int64_t b, int64_t, int64_t k, int64_t n) {
       return k < paddingLengths(n)[b];
     }},
    {"bigbird",
     "%w = attn.mask.window radius 1 block 16\n"
     "%g = attn.mask.global first 1 last 1 block 16\n"
     "%r = attn.mask.random_blocks count 2 block 16 seed 3 exclude_global 1 "
     "exclude_window 1\n"
     "%m = attn.mask.union %w, %g, %r : !attn.mask<block = 16>, "
     "!attn.mask<block = 16>, !attn.mask<block = 16>",
     [](int64_t, int64_t q, int64_t k, int64_t n) {
       int64_t nb = ceilDiv(n, 16);
       auto g = [&](int64_t i) { return i / 16 < 1 || i / 16 >= nb - 1; };
       return absDiff(q / 16, k / 16) <= 1 || g(q) || g(k) ||
              bigbirdRandom(q, k, n, 16, 2, 3, 1, 1);
     }},
    {"union_partials_cover",
     // Two partial halves whose union is everything: exactness needs more
     // than the operands' kinds.
     "%a = attn.mask.causal\n"
     "%b = attn.mask.expr {\n"
     "^bb0(%q: index, %k: index, %n: index):\n"
     "  %t = arith.cmpi uge, %k, %q : index\n"
     "  attn.yield %t : i1\n"
     "}\n"
     "%m = attn.mask.union %a, %b : !attn.mask, !attn.mask",
     [](int64_t, int64_t, int64_t, int64_t) { return true; }},
    {"intersect_partials_disjoint",
     "%a = attn.mask.chunk size 8\n"
     "%b = attn.mask.expr {\n"
     "^bb0(%q: index, %k: index, %n: index):\n"
     "  %c8 = arith.constant 8 : index\n"
     "  %qc = arith.divui %q, %c8 : index\n"
     "  %kc = arith.divui %k, %c8 : index\n"
     "  %t = arith.cmpi ne, %qc, %kc : index\n"
     "  attn.yield %t : i1\n"
     "}\n"
     "%m = attn.mask.intersect %a, %b : !attn.mask, !attn.mask",
     [](int64_t, int64_t, int64_t, int64_t) { return false; }},
    {"difference_window_causal",
     "%a = attn.mask.window radius 9\n"
     "%b = attn.mask.causal\n"
     "%m = attn.mask.difference %a, %b : !attn.mask, !attn.mask",
     [](int64_t, int64_t q, int64_t k, int64_t) {
       return absDiff(q, k) <= 9 && k > q;
     }},
    {"difference_full_strided",
     "%a = attn.mask.full\n"
     "%b = attn.mask.strided stride 2\n"
     "%m = attn.mask.difference %a, %b : !attn.mask, !attn.mask",
     [](int64_t, int64_t q, int64_t k, int64_t) {
       return absDiff(q, k) % 2 == 1;
     }},
    {"nested",
     "%w = attn.mask.window radius 20\n"
     "%s = attn.mask.strided stride 50\n"
     "%u = attn.mask.union %w, %s : !attn.mask, !attn.mask\n"
     "%c = attn.mask.causal\n"
     "%m = attn.mask.intersect %u, %c : !attn.mask, !attn.mask",
     [](int64_t, int64_t q, int64_t k, int64_t) {
       return (absDiff(q, k) <= 20 || absDiff(q, k) % 50 == 0) && k <= q;
     }},
    {"bigbird_padded",
     "%w = attn.mask.window radius 1 block 16\n"
     "%g = attn.mask.global first 1 last 1 block 16\n"
     "%u = attn.mask.union %w, %g : !attn.mask<block = 16>, "
     "!attn.mask<block = 16>\n"
     "%p = attn.mask.key_padding %len : tensor<4xi32>\n"
     "%m = attn.mask.intersect %u, %p : !attn.mask<block = 16>, !attn.mask",
     [](int64_t b, int64_t q, int64_t k, int64_t n) {
       int64_t nb = ceilDiv(n, 16);
       auto g = [&](int64_t i) { return i / 16 < 1 || i / 16 >= nb - 1; };
       return (absDiff(q / 16, k / 16) <= 1 || g(q) || g(k)) &&
              k < paddingLengths(n)[b];
     }},
    {"padded_difference",
     "%c = attn.mask.chunk size 40\n"
     "%p = attn.mask.key_padding %len : tensor<4xi32>\n"
     "%i = attn.mask.intersect %c, %p : !attn.mask, !attn.mask\n"
     "%d = attn.mask.dilated_window radius 2 dilation 4\n"
     "%m = attn.mask.difference %i, %d : !attn.mask, !attn.mask",
     [](int64_t b, int64_t q, int64_t k, int64_t n) {
       bool dil = absDiff(q, k) <= 8 && absDiff(q, k) % 4 == 0;
       return q / 40 == k / 40 && k < paddingLengths(n)[b] && !dil;
     }},
    {"expr_band",
     "%m = attn.mask.expr {\n"
     "^bb0(%q: index, %k: index, %n: index):\n"
     "  %c3 = arith.constant 3 : index\n"
     "  %lo = arith.subi %q, %c3 : index\n"
     "  %a = arith.cmpi sge, %k, %lo : index\n"
     "  %b = arith.cmpi sle, %k, %q : index\n"
     "  %t = arith.andi %a, %b : i1\n"
     "  attn.yield %t : i1\n"
     "}",
     [](int64_t, int64_t q, int64_t k, int64_t) {
       return k >= q - 3 && k <= q;
     }},
    {"expr_uses_length",
     "%m = attn.mask.expr {\n"
     "^bb0(%q: index, %k: index, %n: index):\n"
     "  %c2 = arith.constant 2 : index\n"
     "  %h = arith.divui %n, %c2 : index\n"
     "  %a = arith.cmpi ult, %q, %h : index\n"
     "  %b = arith.cmpi ult, %k, %h : index\n"
     "  %t = arith.xori %a, %b : i1\n"
     "  %f = arith.constant true\n"
     "  %r = arith.xori %t, %f : i1\n"
     "  attn.yield %r : i1\n"
     "}",
     [](int64_t, int64_t q, int64_t k, int64_t n) {
       return (q < n / 2) == (k < n / 2);
     }},
};

class MaskPatternTest : public ::testing::TestWithParam<MaskCase> {};

TEST_P(MaskPatternTest, ClassificationMatchesPredicate) {
  ::attn::test::checkMaskCase(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Patterns, MaskPatternTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<MaskCase> &info) {
                           return std::string(info.param.name);
                         });

TEST(MaskPatternInterface, StaticnessAndKeyLimits) {
  ParsedCase parsed(kCases[22]); // bigbird_padded
  ASSERT_TRUE(parsed.pattern);
  EXPECT_FALSE(parsed.pattern.hasStaticClassification());
  struct : RuntimeData {
    int64_t lookup(Value, int64_t index) const override {
      return paddingLengths(100)[index];
    }
  } lengths;
  for (int64_t b = 0; b < 4; ++b) {
    MaskContext ctx{100, b, &lengths};
    EXPECT_EQ(parsed.pattern.evaluateKeyLimit(ctx), paddingLengths(100)[b]);
  }
  ParsedCase bigbird(kCases[16]);
  ASSERT_TRUE(bigbird.pattern);
  EXPECT_TRUE(bigbird.pattern.hasStaticClassification());
  EXPECT_EQ(bigbird.pattern.evaluateKeyLimit(MaskContext{100, 0, nullptr}),
            std::nullopt);
}

TEST(RandomBlocks, RowsAreDistinctSortedAndExcludeWindowAndGlobals) {
  ::attn::RandomBlockSpec spec{3, 1234, 1, 1};
  for (int64_t nb = 1; nb <= 64; ++nb) {
    auto rows = ::attn::randomBlockRows(spec, nb);
    for (int64_t i = 0; i < nb; ++i) {
      const auto &row = rows[i];
      if (i < 1 || i >= nb - 1) {
        EXPECT_TRUE(row.empty()) << "global row " << i << " of " << nb;
        continue;
      }
      int64_t candidates = 0;
      for (int64_t j = 1; j < nb - 1; ++j)
        candidates += absDiff(i, j) > 1;
      EXPECT_EQ(static_cast<int64_t>(row.size()),
                std::min<int64_t>(3, candidates));
      EXPECT_TRUE(std::is_sorted(row.begin(), row.end()));
      EXPECT_EQ(std::set<int64_t>(row.begin(), row.end()).size(), row.size());
      for (int64_t j : row) {
        EXPECT_GT(absDiff(i, j), 1);
        EXPECT_TRUE(j >= 1 && j < nb - 1);
      }
    }
  }
}

TEST(RandomBlocks, DrawIsUniformOverCandidates) {
  // Over many rows and seeds, every candidate offset is drawn about equally.
  const int64_t nb = 12;
  std::vector<int64_t> hits(nb, 0);
  const int trials = 20000;
  for (int s = 0; s < trials; ++s) {
    ::attn::RandomBlockSpec spec{2, static_cast<uint64_t>(s), 0, -1};
    for (int64_t j : ::attn::randomBlockRow(spec, nb, 5))
      ++hits[j];
  }
  double expected = 2.0 * trials / nb;
  for (int64_t j = 0; j < nb; ++j)
    EXPECT_NEAR(hits[j], expected, 0.05 * expected) << "block " << j;
}

} // namespace

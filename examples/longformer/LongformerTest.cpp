//===- LongformerTest.cpp - the out-of-tree pattern passes the same check -===//

#include "LongformerOps.h"
#include "MaskPatternCheck.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace {
using ::attn::test::MaskCase;

void extend(mlir::DialectRegistry &registry) {
  mlir::attn::examples::registerLongformerExtension(registry);
}

bool longformer(int64_t q, int64_t k, int64_t radius, int64_t dilation,
                std::initializer_list<int64_t> globals) {
  for (int64_t g : globals)
    if (q == g || k == g)
      return true;
  int64_t d = std::llabs(q - k);
  return d <= radius * dilation && d % dilation == 0;
}

const MaskCase kCases[] = {
    {"window_and_globals",
     "%m = attn.mask.longformer radius 6 dilation 1 globals [0, 17, 64]",
     [](int64_t, int64_t q, int64_t k, int64_t) {
       return longformer(q, k, 6, 1, {0, 17, 64});
     }},
    {"dilated", "%m = attn.mask.longformer radius 3 dilation 4 globals [5]",
     [](int64_t, int64_t q, int64_t k, int64_t) {
       return longformer(q, k, 3, 4, {5});
     }},
    {"no_globals", "%m = attn.mask.longformer radius 20 dilation 2 globals []",
     [](int64_t, int64_t q, int64_t k, int64_t) {
       return longformer(q, k, 20, 2, {});
     }},
    {"dense_globals",
     "%m = attn.mask.longformer radius 0 dilation 1 globals [0, 1, 2, 3, 4, 5, "
     "6, 7]",
     [](int64_t, int64_t q, int64_t k, int64_t) {
       return longformer(q, k, 0, 1, {0, 1, 2, 3, 4, 5, 6, 7});
     }},
    {"combined_with_builtins",
     "%l = attn.mask.longformer radius 2 dilation 3 globals [9]\n"
     "%p = attn.mask.key_padding %len : tensor<4xi32>\n"
     "%m = attn.mask.intersect %l, %p : !attn.mask, !attn.mask",
     [](int64_t b, int64_t q, int64_t k, int64_t n) {
       return longformer(q, k, 2, 3, {9}) &&
              k < ::attn::test::paddingLengths(n)[b];
     }},
};

class LongformerTest : public ::testing::TestWithParam<MaskCase> {};

TEST_P(LongformerTest, ClassificationMatchesPredicate) {
  ::attn::test::checkMaskCase(GetParam(), extend);
}

INSTANTIATE_TEST_SUITE_P(Longformer, LongformerTest,
                         ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<MaskCase> &info) {
                           return std::string(info.param.name);
                         });
} // namespace

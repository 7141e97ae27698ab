//===- TensorMapTest.cpp - mgpuTensorMap's checks, without a GPU ----------===//
//
// What mgpuTensorMap (docs/runtime.md, "Tensor maps") refuses before it
// asks the driver: each refusal returns 0 and records an error naming the
// problem. (The maps it makes are checked on the GPU, by the reference
// suite SdpaGradientBf16TensorCopies.)
//
//===----------------------------------------------------------------------===//

#include "attn/Runtime/Device.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

extern "C" std::int64_t mgpuTensorMap(void *address, int32_t element,
                                      int32_t rank, const std::int64_t *dims,
                                      int32_t swizzle);

namespace {

/// The error recorded by the call that just failed.
std::string lastError() { return attn::rt::takeGpuError().value_or(""); }

// A [100, 64] bf16 buffer, boxes of [32, 64]: sizes, strides, box.
const std::int64_t kDims[] = {100, 64, 64, 1, 32, 64};

TEST(TensorMap, RefusesUnknownElementsRanksAndSwizzles) {
  attn::rt::takeGpuError();
  EXPECT_EQ(mgpuTensorMap(nullptr, /*element=*/7, 2, kDims, 128), 0);
  EXPECT_NE(lastError().find("element code 7"), std::string::npos);
  EXPECT_EQ(mgpuTensorMap(nullptr, 1, /*rank=*/6, kDims, 128), 0);
  EXPECT_NE(lastError().find("rank 6"), std::string::npos);
  EXPECT_EQ(mgpuTensorMap(nullptr, 1, 2, kDims, /*swizzle=*/16), 0);
  EXPECT_NE(lastError().find("swizzle 16"), std::string::npos);
}

TEST(TensorMap, RefusesAStridedInnermostDimension) {
  attn::rt::takeGpuError();
  const std::int64_t strided[] = {100, 64, 128, 2, 32, 64};
  EXPECT_EQ(mgpuTensorMap(nullptr, 1, 2, strided, 128), 0);
  std::string error = lastError();
  EXPECT_NE(error.find("innermost dimension must be contiguous"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("sizes [100, 64], strides [128, 2], box [32, 64]"),
            std::string::npos)
      << error;
}

} // namespace

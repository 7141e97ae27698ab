//===- Harness.h - compiling attn modules and checking them against libtorch
//===//
#ifndef ATTN_TEST_REFERENCE_HARNESS_H
#define ATTN_TEST_REFERENCE_HARNESS_H

#include "attn/Runtime/Library.h"

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace attn::test {

/// Writes `source` to a temporary file, compiles it with attn-compile
/// (extra flags in `flags`) and loads the library. Fails the current test
/// on error.
std::unique_ptr<rt::Library> compileModule(const std::string &name,
                                           const std::string &source,
                                           const std::string &flags = "");

/// A fresh seed for every check, printed by gtest when the check fails.
uint64_t freshSeed();

/// ||out - ref|| / ||ref|| in float64; +inf when either has a NaN or inf.
double relativeError(const torch::Tensor &out, const torch::Tensor &ref);

/// "tensor<2x4x128x64xf32>"
std::string tensorType(const std::vector<int64_t> &shape,
                       const std::string &elem = "f32");

/// Calls `function` with float32/int32 CPU tensors (contiguous) and returns
/// the results as tensors shaped by the signature.
std::vector<torch::Tensor> call(const rt::Library &lib,
                                const std::string &function,
                                const std::vector<torch::Tensor> &args);

} // namespace attn::test

#endif // ATTN_TEST_REFERENCE_HARNESS_H

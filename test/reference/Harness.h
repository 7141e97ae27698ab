//===- Harness.h - compiling attn modules and checking them against libtorch
//===//
#ifndef ATTN_TEST_REFERENCE_HARNESS_H
#define ATTN_TEST_REFERENCE_HARNESS_H

#include "attn/Runtime/Device.h"
#include "attn/Runtime/Library.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace attn::test {

/// Writes `source` to a temporary file and compiles it with attn-compile
/// (extra flags in `flags`), once per (source, flags, compiler), into the
/// cache (ATTN_TEST_CACHE in the environment, else the build's); returns the
/// library's path. With ATTN_TEST_LIBRARIES=DIR in the environment, takes
/// the library from DIR (compiled ahead where MLIR is, for the GPU machine)
/// and never compiles. Fails the current test on error.
std::optional<std::string> compileLibrary(const std::string &name,
                                          const std::string &source,
                                          const std::string &flags = "");

/// How many compileLibrary calls of this process failed.
int &compileFailures();

/// compileLibrary, then the library loaded.
std::unique_ptr<rt::Library> compileModule(const std::string &name,
                                           const std::string &source,
                                           const std::string &flags = "");

/// A fresh seed for every check, printed when the check fails; the
/// environment's ATTN_TEST_SEED instead, to reproduce one.
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

/// `source` compiled for the target this test binary checks: the CPU, or,
/// built with ATTN_TEST_GPU (the `gpu` twins), the GPU. The GPU library is
/// compiled wherever the CUDA toolkit was found (the GPU pipeline is
/// exercised there), but loaded (its kernels with it) only where a GPU is
/// visible: nullptr otherwise, and ATTN_SKIP_WITHOUT_TARGET skips the tests.
/// `flags` are attn-compile's, for either target.
inline std::unique_ptr<rt::Library>
compileForTarget(const std::string &name, const std::string &source,
                 const std::string &flags = "") {
#ifdef ATTN_TEST_GPU
  if (std::string(ATTN_CUDA_TOOLKIT).empty())
    return nullptr;
  std::string gpuFlags = "--target gpu --cuda-toolkit=" ATTN_CUDA_TOOLKIT +
                         std::string(" ") + flags;
  if (!rt::gpuAvailable()) {
    compileLibrary(name + "_gpu", source, gpuFlags);
    return nullptr;
  }
  return compileModule(name + "_gpu", source, gpuFlags);
#else
  return compileModule(name, source, flags);
#endif
}

} // namespace attn::test

/// In a test's SetUp: skips the `gpu` twins, saying why, where no CUDA
/// toolkit was found or no GPU is visible -- unless their module failed to
/// compile, which fails the test (a skip would hide it from ctest); nothing
/// on the CPU.
#ifdef ATTN_TEST_GPU
#define ATTN_SKIP_WITHOUT_TARGET()                                             \
  do {                                                                         \
    if (std::string(ATTN_CUDA_TOOLKIT).empty())                                \
      GTEST_SKIP() << "no CUDA toolkit (ptxas) was found when attn was "       \
                      "configured: nothing to compile the GPU checks with";    \
    ASSERT_EQ(attn::test::compileFailures(), 0)                                \
        << "the module did not compile for the GPU (above)";                   \
    std::string whyNot;                                                        \
    if (!attn::rt::gpuAvailable(&whyNot))                                      \
      GTEST_SKIP() << "no GPU visible: " << whyNot;                            \
  } while (0)
#else
#define ATTN_SKIP_WITHOUT_TARGET()                                             \
  do {                                                                         \
  } while (0)
#endif

namespace attn::test {

/// A fixture that skips the gpu twins without a GPU and seeds libtorch's
/// generator afresh for every test (freshSeed), printing the seed when the
/// test fails so that ATTN_TEST_SEED can replay it.
class SeededTest : public ::testing::Test {
protected:
  void SetUp() override {
    ATTN_SKIP_WITHOUT_TARGET();
    seed = freshSeed();
    ::testing::Test::RecordProperty("seed", std::to_string(seed));
    torch::manual_seed(seed);
  }
  void TearDown() override {
    if (HasFailure())
      std::cerr << "replay with ATTN_TEST_SEED=" << seed << "\n";
  }
  uint64_t seed = 0;
};

} // namespace attn::test

#endif // ATTN_TEST_REFERENCE_HARNESS_H

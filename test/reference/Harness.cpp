//===- Harness.cpp - compiling attn modules and checking them against libtorch
//===//

#include "Harness.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <filesystem>
#include <fstream>
#include <random>

namespace attn::test {

/// FNV-1a, to name cached libraries.
static uint64_t hashText(const std::string &text, uint64_t h) {
  for (unsigned char c : text)
    h = (h ^ c) * 1099511628211ull;
  return h;
}

int &compileFailures() {
  static int failures = 0;
  return failures;
}

/// "name-0123456789abcdef.so": the library of `source` compiled with `flags`.
static std::string libraryName(const std::string &name,
                               const std::string &source,
                               const std::string &flags) {
  uint64_t h = hashText(source + "\n" + flags, 1469598103934665603ull);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
  return name + "-" + hex + ".so";
}

std::optional<std::string> compileLibrary(const std::string &name,
                                          const std::string &source,
                                          const std::string &flags) {
  std::string file = libraryName(name, source, flags);
  // Libraries compiled ahead, on a machine with MLIR, for one without it
  // (tools/gpu/gpu_job.py): taken as they are, never compiled here.
  if (const char *ahead = std::getenv("ATTN_TEST_LIBRARIES")) {
    std::filesystem::path so = std::filesystem::path(ahead) / file;
    if (std::filesystem::exists(so))
      return so.string();
    ADD_FAILURE() << "no library " << file << " for module '" << name
                  << "' in ATTN_TEST_LIBRARIES=" << ahead
                  << " (compiled ahead from other sources or flags?)";
    compileFailures() += 1;
    return std::nullopt;
  }
  // ctest runs every test in its own process: the library is compiled once
  // per (source, flags, compiler) and shared through a cache, a folder per
  // build of the compiler.
  auto stamp =
      std::filesystem::last_write_time(ATTN_COMPILE).time_since_epoch().count();
  const char *cache = std::getenv("ATTN_TEST_CACHE");
  std::filesystem::path dir =
      std::filesystem::path(cache ? cache : ATTN_TEST_CACHE) /
      std::to_string(stamp);
  std::filesystem::create_directories(dir);
  std::filesystem::path so = dir / file;
  if (!std::filesystem::exists(so)) {
    std::string unique = "." + std::to_string(getpid());
    std::filesystem::path mlir = dir / (file + unique + ".mlir"),
                          tmp = dir / (file + unique + ".so"),
                          log = dir / (file + unique + ".log");
    std::ofstream(mlir) << source;
    std::string cmd = std::string(ATTN_COMPILE) + " " + mlir.string() + " -o " +
                      tmp.string() + " " + flags + " > " + log.string() +
                      " 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      std::ifstream in(log);
      std::string text((std::istreambuf_iterator<char>(in)), {});
      ADD_FAILURE() << "attn-compile failed on " << mlir << ":\n" << text;
      compileFailures() += 1;
      return std::nullopt;
    }
    std::filesystem::rename(tmp, so); // atomic: readers see all or nothing
    std::filesystem::remove(mlir);
    std::filesystem::remove(log);
  }
  return so.string();
}

std::unique_ptr<rt::Library> compileModule(const std::string &name,
                                           const std::string &source,
                                           const std::string &flags) {
  std::optional<std::string> so = compileLibrary(name, source, flags);
  if (!so)
    return nullptr;
  std::string error;
  std::unique_ptr<rt::Library> lib = rt::Library::open(*so, &error);
  if (!lib)
    ADD_FAILURE() << error;
  return lib;
}

uint64_t freshSeed() {
  // ATTN_TEST_SEED reproduces a failure: every check then draws from it.
  if (const char *fixed = std::getenv("ATTN_TEST_SEED"))
    return std::stoull(fixed);
  static std::random_device device;
  return (uint64_t(device()) << 32) | device();
}

double relativeError(const torch::Tensor &out, const torch::Tensor &ref) {
  torch::Tensor o = out.to(torch::kFloat64), r = ref.to(torch::kFloat64);
  if (!torch::isfinite(o).all().item<bool>() ||
      !torch::isfinite(r).all().item<bool>())
    return std::numeric_limits<double>::infinity();
  double norm = r.norm().item<double>();
  double diff = (o - r).norm().item<double>();
  return norm == 0 ? diff : diff / norm;
}

std::string tensorType(const std::vector<int64_t> &shape,
                       const std::string &elem) {
  std::string s = "tensor<";
  for (int64_t d : shape)
    s += std::to_string(d) + "x";
  return s + elem + ">";
}

static rt::DType dtypeOf(const torch::Tensor &t) {
  switch (t.scalar_type()) {
  case torch::kFloat32:
    return rt::DType::F32;
  case torch::kFloat64:
    return rt::DType::F64;
  case torch::kInt32:
    return rt::DType::I32;
  case torch::kInt64:
    return rt::DType::I64;
  case torch::kBFloat16:
    return rt::DType::BF16;
  case torch::kInt8:
    return rt::DType::I8;
  default:
    ADD_FAILURE() << "unsupported tensor type";
    return rt::DType::F32;
  }
}

static torch::ScalarType scalarTypeOf(rt::DType t) {
  switch (t) {
  case rt::DType::F32:
    return torch::kFloat32;
  case rt::DType::F64:
    return torch::kFloat64;
  case rt::DType::I32:
    return torch::kInt32;
  case rt::DType::I64:
    return torch::kInt64;
  case rt::DType::BF16:
    return torch::kBFloat16;
  case rt::DType::F16:
    return torch::kFloat16;
  case rt::DType::I8:
    return torch::kInt8;
  }
  return torch::kFloat32;
}

std::vector<torch::Tensor> call(const rt::Library &lib,
                                const std::string &function,
                                const std::vector<torch::Tensor> &args) {
  const rt::Signature *sig = lib.signature(function);
  if (!sig) {
    ADD_FAILURE() << "no function " << function << " in " << lib.path();
    return {};
  }
  std::vector<torch::Tensor> keep;
  std::vector<rt::TensorRef> in, out;
  for (const torch::Tensor &a : args) {
    torch::Tensor c = a.contiguous();
    keep.push_back(c);
    in.push_back({dtypeOf(c),
                  std::vector<int64_t>(c.sizes().begin(), c.sizes().end()),
                  c.data_ptr()});
  }
  std::vector<torch::Tensor> results;
  for (const rt::TensorSpec &r : sig->results) {
    // A result the function never writes shows: NaN, or the most negative
    // integer for integer results.
    torch::ScalarType type = scalarTypeOf(r.dtype);
    torch::Scalar unwritten =
        type == torch::kInt8 ? torch::Scalar(std::numeric_limits<int8_t>::min())
        : torch::isIntegralType(type, /*includeBool=*/false)
            ? torch::Scalar(std::numeric_limits<int32_t>::min())
            : torch::Scalar(std::nan(""));
    torch::Tensor t =
        torch::full(r.shape, unwritten, torch::TensorOptions().dtype(type));
    results.push_back(t);
    out.push_back({r.dtype, r.shape, t.data_ptr()});
  }
  std::string error;
  if (!lib.call(function, in, out, &error))
    ADD_FAILURE() << error;
  return results;
}

} // namespace attn::test

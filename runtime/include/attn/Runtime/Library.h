//===- Library.h - loading and calling compiled attn libraries ---*- C++
//-*-===//
//
// A library made by attn-compile exports, for each public function f,
// attn_signature_f (what its arguments and results are) and attn_call_f (a
// call through an array of pointers); attn_functions lists them. This is the
// host side of that ABI: open a library, read signatures, check tensors
// against them and call. Errors name the library, the function and what did
// not match.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_LIBRARY_H
#define ATTN_RUNTIME_LIBRARY_H

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace attn::rt {

enum class DType { F32, BF16, F16, F64, I32, I64, I8 };

size_t dtypeSize(DType t);
const char *dtypeName(DType t);
std::optional<DType> parseDType(const std::string &name);

/// One argument or result of a compiled function.
struct TensorSpec {
  std::string kind; ///< "input", "param", "buffer", "state" (optimizer) or
                    ///< "result"
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape; ///< empty for 0-d tensors and scalars
  bool scalar = false;        ///< passed by value, not as a buffer
  std::string init;           ///< parameters: how to initialise

  int64_t numel() const;
  size_t bytes() const { return numel() * dtypeSize(dtype); }
  /// "f32 [24,2048]" or "i64 scalar"
  std::string describe() const;
};

struct Signature {
  std::string function;
  std::string target = "cpu"; ///< "gpu": buffers are device memory
  std::vector<TensorSpec> args, results;
  /// A training step's optimizer and schedule as compiled into it (the
  /// signature's "optimizer" line: lr, warmup, total-steps, decay, ...);
  /// empty for other functions and for libraries from before the line.
  std::map<std::string, std::string> optimizer;

  /// Parses the text of attn_signature_<f> (format in attn-compile.cpp).
  static std::optional<Signature> parse(const std::string &text,
                                        std::string *error);
  const TensorSpec *findArg(const std::string &name) const;
};

/// The memory holding one argument or result: host memory, or -- for a
/// GPU function only -- device memory that the caller keeps there
/// (`onDevice`), which the call uses in place.
struct TensorRef {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  void *data = nullptr;
  bool onDevice = false;
};

class Library {
public:
  /// Opens `path`, reads every function's signature.
  static std::unique_ptr<Library> open(const std::string &path,
                                       std::string *error);
  ~Library();
  Library(const Library &) = delete;
  Library &operator=(const Library &) = delete;

  const std::string &path() const { return libPath; }
  const std::vector<Signature> &signatures() const { return sigs; }
  const Signature *signature(const std::string &function) const;

  /// Calls `function` after checking every tensor's dtype and shape against
  /// its signature (scalars: dtype only). For a GPU function the host
  /// buffers are copied to the device and the host results back; tensors
  /// on the device are used where they are.
  bool call(const std::string &function, const std::vector<TensorRef> &args,
            const std::vector<TensorRef> &results, std::string *error) const;

  /// Calls attn_call_<function> with `slots` as they are (for a GPU
  /// function: device pointers) and waits for the device; no checks.
  bool callRaw(const std::string &function, void **slots,
               std::string *error) const;

private:
  Library() = default;
  std::string libPath;
  void *handle = nullptr;
  std::vector<Signature> sigs;
  std::vector<void (*)(void **)> entries;
};

} // namespace attn::rt

#endif // ATTN_RUNTIME_LIBRARY_H

//===- Library.cpp - loading and calling compiled attn libraries ----------===//

#include "attn/Runtime/Library.h"
#include "attn/Runtime/Device.h"

#include <chrono>

#include <dlfcn.h>

#include <sstream>

namespace attn::rt {

size_t dtypeSize(DType t) {
  switch (t) {
  case DType::F32:
  case DType::I32:
    return 4;
  case DType::BF16:
  case DType::F16:
    return 2;
  case DType::F64:
  case DType::I64:
    return 8;
  case DType::I8:
    return 1;
  }
  return 0;
}

const char *dtypeName(DType t) {
  switch (t) {
  case DType::F32:
    return "f32";
  case DType::BF16:
    return "bf16";
  case DType::F16:
    return "f16";
  case DType::F64:
    return "f64";
  case DType::I32:
    return "i32";
  case DType::I64:
    return "i64";
  case DType::I8:
    return "i8";
  }
  return "?";
}

std::optional<DType> parseDType(const std::string &name) {
  for (DType t : {DType::F32, DType::BF16, DType::F16, DType::F64, DType::I32,
                  DType::I64, DType::I8})
    if (name == dtypeName(t))
      return t;
  return std::nullopt;
}

int64_t TensorSpec::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

static std::string formatShape(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string TensorSpec::describe() const {
  return std::string(dtypeName(dtype)) + " " +
         (scalar ? std::string("scalar") : formatShape(shape));
}

std::optional<Signature> Signature::parse(const std::string &text,
                                          std::string *error) {
  std::istringstream in(text);
  std::string line;
  Signature sig;
  int lineNo = 0;
  auto fail = [&](const std::string &what) {
    if (error)
      *error = "signature line " + std::to_string(lineNo) + ": " + what +
               " ('" + line + "')";
    return std::nullopt;
  };
  while (std::getline(in, line)) {
    ++lineNo;
    std::istringstream words(line);
    std::string head;
    words >> head;
    if (head.empty())
      continue;
    if (lineNo == 1) {
      std::string version;
      words >> version;
      if (head != "attn-signature" || version != "1")
        return fail("expected 'attn-signature 1'");
      continue;
    }
    if (head == "function") {
      words >> sig.function;
      continue;
    }
    if (head == "target") {
      words >> sig.target;
      if (sig.target != "cpu" && sig.target != "gpu")
        return fail("expected 'target cpu' or 'target gpu'");
      continue;
    }
    if (head == "optimizer") {
      for (std::string pair; words >> pair;) {
        size_t eq = pair.find('=');
        if (eq == 0 || eq == std::string::npos || eq + 1 == pair.size())
          return fail("expected key=value, got '" + pair + "'");
        sig.optimizer[pair.substr(0, eq)] = pair.substr(eq + 1);
      }
      continue;
    }
    if (head != "arg" && head != "result")
      return fail("unknown entry");
    TensorSpec spec;
    if (head == "arg")
      words >> spec.kind;
    else
      spec.kind = "result";
    std::string dtype, shape;
    words >> spec.name >> dtype >> shape;
    std::optional<DType> t = parseDType(dtype);
    if (!t)
      return fail("unknown dtype '" + dtype + "'");
    spec.dtype = *t;
    if (shape == "scalar") {
      spec.scalar = true;
    } else if (shape.size() >= 2 && shape.front() == '[' &&
               shape.back() == ']') {
      // Dimensions are decimal, non-negative, and the tensor's size in bytes
      // must fit: a buffer of that size is allocated and copied.
      std::string inner = shape.substr(1, shape.size() - 2);
      constexpr int64_t kMaxBytes = int64_t(1) << 48;
      int64_t bytes = static_cast<int64_t>(dtypeSize(spec.dtype));
      size_t at = 0;
      while (!inner.empty() && at <= inner.size()) {
        size_t comma = inner.find(',', at);
        std::string d = inner.substr(
            at, comma == std::string::npos ? std::string::npos : comma - at);
        if (d.empty() || d.size() > 15 ||
            d.find_first_not_of("0123456789") != std::string::npos)
          return fail("malformed dimension '" + d + "' in shape '" + shape +
                      "'");
        int64_t dim = std::stoll(d);
        if (dim != 0 && bytes > kMaxBytes / dim)
          return fail("shape '" + shape + "' is larger than 2^48 bytes");
        bytes *= dim;
        spec.shape.push_back(dim);
        if (comma == std::string::npos)
          break;
        at = comma + 1;
      }
    } else {
      return fail("malformed shape '" + shape + "'");
    }
    words >> spec.init;
    (head == "arg" ? sig.args : sig.results).push_back(spec);
  }
  if (sig.function.empty())
    return fail("no function name");
  return sig;
}

const TensorSpec *Signature::findArg(const std::string &name) const {
  for (const TensorSpec &s : args)
    if (s.name == name)
      return &s;
  return nullptr;
}

std::unique_ptr<Library> Library::open(const std::string &path,
                                       std::string *error) {
  auto fail = [&](const std::string &what) -> std::unique_ptr<Library> {
    if (error)
      *error = "library " + path + ": " + what;
    return nullptr;
  };
  takeGpuError();
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    return fail(std::string("cannot load: ") + dlerror());
  // GPU libraries load their kernels as they are opened.
  if (std::optional<std::string> gpu = takeGpuError()) {
    dlclose(handle);
    return fail("cannot load its GPU kernels: " + *gpu);
  }
  std::unique_ptr<Library> lib(new Library());
  lib->libPath = path;
  lib->handle = handle;
  using Getter = const char *(*)();
  auto functions = reinterpret_cast<Getter>(dlsym(handle, "attn_functions"));
  if (!functions)
    return fail("missing symbol attn_functions (not made by attn-compile?)");
  const char *list = functions();
  if (!list)
    return fail("attn_functions returned no list");
  std::istringstream names(list);
  std::string name;
  while (std::getline(names, name)) {
    if (name.empty())
      continue;
    auto sigFn = reinterpret_cast<Getter>(
        dlsym(handle, ("attn_signature_" + name).c_str()));
    auto call = reinterpret_cast<void (*)(void **)>(
        dlsym(handle, ("attn_call_" + name).c_str()));
    if (!sigFn)
      return fail("missing symbol attn_signature_" + name);
    if (!call)
      return fail("missing symbol attn_call_" + name);
    const char *text = sigFn();
    if (!text)
      return fail("attn_signature_" + name + " returned no signature");
    std::string why;
    std::optional<Signature> sig = Signature::parse(text, &why);
    if (!sig)
      return fail("function " + name + ": " + why);
    lib->sigs.push_back(*sig);
    lib->entries.push_back(call);
  }
  return lib;
}

Library::~Library() {
  if (handle)
    dlclose(handle);
}

const Signature *Library::signature(const std::string &function) const {
  for (const Signature &s : sigs)
    if (s.function == function)
      return &s;
  return nullptr;
}

bool Library::call(const std::string &function,
                   const std::vector<TensorRef> &args,
                   const std::vector<TensorRef> &results,
                   std::string *error) const {
  auto fail = [&](const std::string &what) {
    if (error)
      *error = "library " + libPath + ", function " + function + ": " + what;
    return false;
  };
  size_t index = 0;
  for (; index < sigs.size() && sigs[index].function != function; ++index)
    ;
  if (index == sigs.size())
    return fail("no such function");
  const Signature &sig = sigs[index];
  if (args.size() != sig.args.size() || results.size() != sig.results.size())
    return fail("expects " + std::to_string(sig.args.size()) +
                " arguments and " + std::to_string(sig.results.size()) +
                " results, got " + std::to_string(args.size()) + " and " +
                std::to_string(results.size()));
  std::vector<void *> pointers;
  auto check = [&](const TensorSpec &spec, const TensorRef &t, size_t i,
                   const char *what) {
    std::string label =
        std::string(what) + " " + std::to_string(i) + " (" + spec.name + ")";
    if (!t.data)
      return fail(label + " has no data");
    if (t.dtype != spec.dtype)
      return fail(label + " has dtype " + dtypeName(t.dtype) + ", expected " +
                  dtypeName(spec.dtype));
    if (!spec.scalar && t.shape != spec.shape)
      return fail(label + " has shape " + formatShape(t.shape) + ", expected " +
                  formatShape(spec.shape));
    if (t.onDevice && (spec.scalar || sig.target != "gpu"))
      return fail(label + " is in device memory, but " +
                  (spec.scalar ? std::string("a scalar is passed by value")
                               : "the function runs on the " + sig.target));
    pointers.push_back(t.data);
    return true;
  };
  for (size_t i = 0; i < args.size(); ++i)
    if (!check(sig.args[i], args[i], i, "argument"))
      return false;
  for (size_t i = 0; i < results.size(); ++i)
    if (!check(sig.results[i], results[i], i, "result"))
      return false;
  if (sig.target != "gpu") {
    entries[index](pointers.data());
    return true;
  }

  // Kernels read and write device memory: stage every buffer.
  takeGpuError();
  std::vector<void *> device(pointers.size(), nullptr);
  auto release = [&] {
    for (void *p : device)
      deviceFree(p);
  };
  auto gpuFail = [&](const std::string &what) {
    std::optional<std::string> why = takeGpuError();
    release();
    return fail(what + (why ? ": " + *why : ""));
  };
  auto onDevice = [&](size_t i) {
    return i < args.size() ? args[i].onDevice
                           : results[i - args.size()].onDevice;
  };
  for (size_t i = 0; i < pointers.size(); ++i) {
    bool isArg = i < args.size();
    const TensorSpec &spec = isArg ? sig.args[i] : sig.results[i - args.size()];
    if (spec.scalar || onDevice(i))
      continue;
    device[i] = deviceAlloc(spec.bytes());
    if (!device[i])
      return gpuFail("cannot allocate device memory for " + spec.name);
    if (isArg && !copyToDevice(device[i], pointers[i], spec.bytes()))
      return gpuFail("cannot copy " + spec.name + " to the device");
  }
  // attn_call_f reads a buffer's address from each slot: for device buffers
  // (staged here, or the caller's) the slot holds the device pointer itself.
  std::vector<void *> slots(pointers.size());
  for (size_t i = 0; i < pointers.size(); ++i)
    slots[i] = device[i] ? device[i] : pointers[i];
  auto t0 = std::chrono::steady_clock::now();
  entries[index](slots.data());
  if (!deviceSynchronize() || takeGpuError().has_value())
    return gpuFail("running on the GPU failed");
  if (profiling())
    profileHostWork("running " + function + " (launches and kernels)",
                    std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - t0)
                        .count());
  for (size_t i = args.size(); i < pointers.size(); ++i)
    if (device[i] && !copyToHost(pointers[i], device[i],
                                 sig.results[i - args.size()].bytes()))
      return gpuFail("cannot copy " + sig.results[i - args.size()].name +
                     " from the device");
  release();
  return true;
}

bool Library::callRaw(const std::string &function, void **slots,
                      std::string *error) const {
  for (size_t i = 0; i < sigs.size(); ++i) {
    if (sigs[i].function != function)
      continue;
    takeGpuError();
    entries[i](slots);
    if (sigs[i].target == "gpu" &&
        (!deviceSynchronize() || takeGpuError().has_value())) {
      if (error)
        *error = "library " + libPath + ", function " + function +
                 ": running on the GPU failed";
      return false;
    }
    return true;
  }
  if (error)
    *error =
        "library " + libPath + ", function " + function + ": no such function";
  return false;
}

} // namespace attn::rt

//===- Device.cpp - mgpu* entry points on the CUDA driver API -------------===//
//
// The driver API is declared here (the few types and functions used, as in
// cuda.h) and resolved from libcuda.so.1 at first use: libattnrt builds
// without the CUDA toolkit and loads without a driver.
//
//===----------------------------------------------------------------------===//

#include "attn/Runtime/Device.h"
#include "DeviceInternal.h"
#include "attn/Runtime/Collective.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace {

using CUresult = int;
using CUdevice = int;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;
using CUdeviceptr = unsigned long long;
using CUmemoryPool = struct CUmemPoolHandle_st *;
using CUmemPool_attribute = int;
using cuuint64_t = std::uint64_t;
constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUmemPool_attribute CU_MEMPOOL_ATTR_RELEASE_THRESHOLD = 4;

struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuGetErrorName)(CUresult, const char **);
  CUresult (*cuGetErrorString)(CUresult, const char **);
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, CUstream, void **,
                             void **);
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamDestroy)(CUstream);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuStreamWaitEvent)(CUstream, CUevent, unsigned);
  CUresult (*cuEventCreate)(CUevent *, unsigned);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventElapsedTime)(float *, CUevent, CUevent);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemAllocAsync)(CUdeviceptr *, size_t, CUstream);
  CUresult (*cuMemFreeAsync)(CUdeviceptr, CUstream);
  CUresult (*cuDeviceGetDefaultMemPool)(CUmemoryPool *, CUdevice);
  CUresult (*cuMemPoolSetAttribute)(CUmemoryPool, CUmemPool_attribute, void *);
  CUresult (*cuMemcpyAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemcpy)(CUdeviceptr, CUdeviceptr, size_t);
  CUresult (*cuMemsetD32Async)(CUdeviceptr, unsigned, size_t, CUstream);
  CUresult (*cuMemsetD16Async)(CUdeviceptr, unsigned short, size_t, CUstream);
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
  CUresult (*cuFuncGetAttribute)(int *, int, CUfunction);
  // Resolved where the driver has it (12.0 and later); only mgpuTensorMap
  // needs it.
  CUresult (*cuTensorMapEncodeTiled)(void *, int, std::uint32_t, void *,
                                     const cuuint64_t *, const cuuint64_t *,
                                     const std::uint32_t *,
                                     const std::uint32_t *, int, int, int, int);
};

std::mutex mutex;
std::string firstError;
/// A kernel looked up: its name, and the bytes of shared memory it declares
/// statically, which count with a launch's dynamic bytes against the 48 KiB
/// a kernel may use without opting in.
struct Kernel {
  std::string name;
  int staticShared = 0;
};
std::map<CUfunction, Kernel> kernels;

void record(const std::string &message) {
  std::fprintf(stderr, "attn runtime: %s\n", message.c_str());
  std::lock_guard<std::mutex> lock(mutex);
  if (firstError.empty())
    firstError = message;
}

/// Scratch buffers come from the device's default pool (cuMemAllocAsync);
/// by default it returns its memory to the system whenever a stream is
/// waited for, so every call would map its buffers anew. Keep it.
template <class Check>
bool keepPoolMemory(Driver &d, CUdevice device, Check check) {
  CUmemoryPool pool;
  cuuint64_t keep = ~cuuint64_t(0);
  return check(d.cuDeviceGetDefaultMemPool(&pool, device),
               "cuDeviceGetDefaultMemPool") &&
         check(d.cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                                       &keep),
               "cuMemPoolSetAttribute(release threshold)");
}

/// The driver with a current context, or nullptr (and why, once).
Driver *driver(std::string *why = nullptr) {
  static Driver d;
  static std::string failure;
  static bool ready = [] {
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
    if (!lib) {
      failure = std::string("cannot open the CUDA driver (libcuda.so.1): ") +
                dlerror();
      return false;
    }
    attn::rt::SymbolResolver symbols(lib, "the CUDA driver");
    auto get = [&](auto &fn, const char *name) { symbols.get(fn, name); };
    get(d.cuInit, "cuInit");
    get(d.cuDeviceGet, "cuDeviceGet");
    get(d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
    get(d.cuCtxSetCurrent, "cuCtxSetCurrent");
    get(d.cuCtxSynchronize, "cuCtxSynchronize");
    get(d.cuGetErrorName, "cuGetErrorName");
    get(d.cuGetErrorString, "cuGetErrorString");
    get(d.cuModuleLoadData, "cuModuleLoadData");
    get(d.cuModuleUnload, "cuModuleUnload");
    get(d.cuModuleGetFunction, "cuModuleGetFunction");
    get(d.cuLaunchKernel, "cuLaunchKernel");
    get(d.cuStreamCreate, "cuStreamCreate");
    get(d.cuStreamDestroy, "cuStreamDestroy_v2");
    get(d.cuStreamSynchronize, "cuStreamSynchronize");
    get(d.cuStreamWaitEvent, "cuStreamWaitEvent");
    get(d.cuEventCreate, "cuEventCreate");
    get(d.cuEventDestroy, "cuEventDestroy_v2");
    get(d.cuEventSynchronize, "cuEventSynchronize");
    get(d.cuEventRecord, "cuEventRecord");
    // Only the kernel profile (ATTN_PROFILE) uses it; older drivers name
    // it without the suffix.
    d.cuEventElapsedTime = reinterpret_cast<decltype(d.cuEventElapsedTime)>(
        dlsym(lib, "cuEventElapsedTime_v2"));
    if (!d.cuEventElapsedTime)
      d.cuEventElapsedTime = reinterpret_cast<decltype(d.cuEventElapsedTime)>(
          dlsym(lib, "cuEventElapsedTime"));
    get(d.cuMemAlloc, "cuMemAlloc_v2");
    get(d.cuMemFree, "cuMemFree_v2");
    get(d.cuMemAllocAsync, "cuMemAllocAsync");
    get(d.cuMemFreeAsync, "cuMemFreeAsync");
    get(d.cuDeviceGetDefaultMemPool, "cuDeviceGetDefaultMemPool");
    get(d.cuMemPoolSetAttribute, "cuMemPoolSetAttribute");
    get(d.cuMemcpyAsync, "cuMemcpyAsync");
    get(d.cuMemcpy, "cuMemcpy");
    get(d.cuMemsetD32Async, "cuMemsetD32Async");
    get(d.cuMemsetD16Async, "cuMemsetD16Async");
    get(d.cuFuncSetAttribute, "cuFuncSetAttribute");
    get(d.cuFuncGetAttribute, "cuFuncGetAttribute");
    d.cuTensorMapEncodeTiled =
        reinterpret_cast<decltype(d.cuTensorMapEncodeTiled)>(
            dlsym(lib, "cuTensorMapEncodeTiled"));
    if (!symbols.ok()) {
      failure = symbols.failure();
      return false;
    }
    auto check = [&](CUresult r, const char *what) {
      if (r == CUDA_SUCCESS)
        return true;
      const char *name = "?", *text = "?";
      d.cuGetErrorName(r, &name);
      d.cuGetErrorString(r, &text);
      failure = std::string(what) + " failed: " + name + ": " + text;
      return false;
    };
    CUdevice device;
    CUcontext context;
    return check(d.cuInit(0), "cuInit") &&
           check(d.cuDeviceGet(&device, 0), "cuDeviceGet(0)") &&
           check(d.cuDevicePrimaryCtxRetain(&context, device),
                 "cuDevicePrimaryCtxRetain") &&
           check(d.cuCtxSetCurrent(context), "cuCtxSetCurrent") &&
           keepPoolMemory(d, device, check);
  }();
  if (!ready) {
    if (why)
      *why = failure;
    return nullptr;
  }
  // Threads other than the first need the context made current.
  thread_local bool current = false;
  if (!current) {
    CUdevice device;
    CUcontext context;
    if (d.cuDeviceGet(&device, 0) == CUDA_SUCCESS &&
        d.cuDevicePrimaryCtxRetain(&context, device) == CUDA_SUCCESS)
      d.cuCtxSetCurrent(context);
    current = true;
  }
  return &d;
}

/// Runs `call` on the driver for `caller` (an entry point of libattnrt),
/// `callName` being the driver function it calls. On failure -- no driver,
/// or an error from the call -- records it with what was being done,
/// `doing()`, which is only built then: these run on every launch.
template <class Call, class Doing>
bool drive(const char *caller, const char *callName, Doing doing, Call call) {
  std::string why;
  Driver *d = driver(&why);
  if (!d) {
    record(std::string(caller) + ": " + why + " (while " +
           std::string(doing()) + ")");
    return false;
  }
  CUresult r = call(*d);
  if (r == CUDA_SUCCESS)
    return true;
  const char *name = "?", *text = "?";
  d->cuGetErrorName(r, &name);
  d->cuGetErrorString(r, &text);
  record(std::string(caller) + ": " + callName + " failed with " + name + " (" +
         text + ") while " + std::string(doing()));
  return false;
}

/// What is being done, when it needs no formatting.
auto says(const char *doing) {
  return [doing] { return doing; };
}

std::string functionName(CUfunction f) {
  std::lock_guard<std::mutex> lock(mutex);
  auto it = kernels.find(f);
  return it == kernels.end() ? "?" : it->second.name;
}

int staticSharedBytes(CUfunction f) {
  std::lock_guard<std::mutex> lock(mutex);
  auto it = kernels.find(f);
  return it == kernels.end() ? 0 : it->second.staticShared;
}

/// The kernel profile (docs/runtime.md), on from the start when
/// ATTN_PROFILE is set (to 1, or to a file to write the report to at exit)
/// or from startProfile(): each launch is bracketed by two timing events on
/// its stream, read once the stream has been waited for (the launches are
/// not serialised); the report is a table per kernel -- total time, calls,
/// mean, the last launch's grid -- and the time libattnrt spent on the host
/// in allocations and copies.
class Profile {
public:
  /// The profile while it is on, else nullptr.
  static Profile *get() {
    Profile &p = instance();
    return p.on ? &p : nullptr;
  }
  static Profile &instance() {
    static Profile p;
    return p;
  }
  void start() { on = true; }

  /// Records `start` on `stream` before a launch; `launched` after it.
  CUevent start(Driver &d, CUstream stream) {
    if (!d.cuEventElapsedTime)
      return nullptr;
    CUevent e = nullptr;
    if (d.cuEventCreate(&e, 0) != CUDA_SUCCESS)
      return nullptr;
    d.cuEventRecord(e, stream);
    return e;
  }
  void launched(Driver &d, CUfunction f, CUstream stream, CUevent begin,
                std::string shape, std::string name = "") {
    if (!begin)
      return;
    CUevent end = nullptr;
    if (d.cuEventCreate(&end, 0) != CUDA_SUCCESS) {
      d.cuEventDestroy(begin);
      return;
    }
    d.cuEventRecord(end, stream);
    std::lock_guard<std::mutex> lock(profileMutex);
    pending.push_back({f, begin, end, std::move(shape), std::move(name)});
  }
  /// Reads the launches' times (their streams have been waited for).
  void resolve(Driver &d) {
    std::vector<Launch> done;
    {
      std::lock_guard<std::mutex> lock(profileMutex);
      done.swap(pending);
    }
    for (Launch &l : done) {
      float ms = 0;
      if (d.cuEventSynchronize(l.end) == CUDA_SUCCESS &&
          d.cuEventElapsedTime(&ms, l.begin, l.end) == CUDA_SUCCESS) {
        std::string name = l.function ? functionName(l.function) : l.name;
        std::lock_guard<std::mutex> lock(profileMutex);
        Totals &t = kernels[name];
        t.ms += ms;
        ++t.calls;
        t.shape = l.shape;
      }
      d.cuEventDestroy(l.begin);
      d.cuEventDestroy(l.end);
    }
  }
  /// Host-side work timed on the host: copies, allocations.
  void host(const std::string &what, double ms) {
    std::lock_guard<std::mutex> lock(profileMutex);
    Totals &t = hostWork[what];
    t.ms += ms;
    ++t.calls;
  }

  std::string report() {
    if (Driver *d = driver())
      resolve(*d);
    std::lock_guard<std::mutex> lock(profileMutex);
    std::string text;
    char line[512];
    auto table = [&](const char *title,
                     const std::map<std::string, Totals> &rows,
                     bool withShape) {
      std::vector<std::pair<std::string, Totals>> sorted(rows.begin(),
                                                         rows.end());
      std::stable_sort(sorted.begin(), sorted.end(), [](auto &a, auto &b) {
        return a.second.ms > b.second.ms;
      });
      double total = 0;
      for (auto &[name, t] : sorted)
        total += t.ms;
      std::snprintf(line, sizeof line, "attn profile: %s, %.3f ms in all\n",
                    title, total);
      text += line;
      std::snprintf(line, sizeof line, "%12s %6s %8s %11s  %s\n", "total ms",
                    "%", "calls", "mean us",
                    withShape ? "kernel  grid / block / shared bytes" : "");
      text += line;
      for (auto &[name, t] : sorted) {
        std::snprintf(line, sizeof line, "%12.3f %6.2f %8ld %11.2f  ", t.ms,
                      total > 0 ? 100 * t.ms / total : 0.0, t.calls,
                      1000 * t.ms / t.calls);
        text += line + name + (withShape ? "  " + t.shape : "") + "\n";
      }
    };
    table("kernels", kernels, true);
    table("host work of libattnrt", hostWork, false);
    return text;
  }

  ~Profile() {
    if (!atExit)
      return;
    std::string text = report();
    std::FILE *out = path.empty() ? stderr : std::fopen(path.c_str(), "w");
    if (!out) {
      std::fprintf(stderr, "attn runtime: cannot write the profile to %s\n",
                   path.c_str());
      return;
    }
    std::fputs(text.c_str(), out);
    if (out != stderr)
      std::fclose(out);
  }

private:
  Profile() {
    const char *env = std::getenv("ATTN_PROFILE");
    if (env && *env && std::string(env) != "0") {
      on = atExit = true;
      if (std::string(env) != "1")
        path = env;
    }
  }
  /// A kernel launch, or device work of libattnrt's own (no function,
  /// reported under `name`).
  struct Launch {
    CUfunction function;
    CUevent begin, end;
    std::string shape, name;
  };
  struct Totals {
    double ms = 0;
    long calls = 0;
    std::string shape;
  };
  std::atomic<bool> on{false};
  bool atExit = false;
  std::string path;
  std::mutex profileMutex;
  std::vector<Launch> pending;
  std::map<std::string, Totals> kernels, hostWork;
};

/// Times `work` into the profile under `what`, when profiling.
template <class Work> auto hostTimed(const char *what, Work work) {
  Profile *p = Profile::get();
  if (!p)
    return work();
  auto t0 = std::chrono::steady_clock::now();
  auto result = work();
  p->host(what, std::chrono::duration<double, std::milli>(
                    std::chrono::steady_clock::now() - t0)
                    .count());
  return result;
}

} // namespace

// Defined below with the rest of the mgpu* ABI; libattnrt's own device
// work (Collective.cpp) goes through them too.
extern "C" {
CUstream mgpuStreamCreate();
void mgpuStreamSynchronize(CUstream stream);
CUevent mgpuEventCreate();
void mgpuEventRecord(CUevent event, CUstream stream);
void mgpuStreamWaitEvent(CUstream stream, CUevent event);
void mgpuMemcpy(void *dst, void *src, size_t bytes, CUstream stream);
}

namespace attn::rt {

bool gpuAvailable(std::string *why) { return driver(why) != nullptr; }

std::optional<std::string> takeGpuError() {
  std::lock_guard<std::mutex> lock(mutex);
  if (firstError.empty())
    return std::nullopt;
  std::string e = std::move(firstError);
  firstError.clear();
  return e;
}

void startProfile() { Profile::instance().start(); }

bool profiling() { return Profile::get() != nullptr; }

std::string profileReport() { return Profile::instance().report(); }

void profileHostWork(const std::string &what, double ms) {
  if (Profile *p = Profile::get())
    p->host(what, ms);
}

void *profileDeviceWorkBegin(void *stream) {
  Profile *profile = Profile::get();
  Driver *d = driver();
  return profile && d ? profile->start(*d, static_cast<CUstream>(stream))
                      : nullptr;
}

void profileDeviceWorkEnd(void *begin, void *stream, const std::string &name,
                          const std::string &detail) {
  Profile *profile = Profile::get();
  Driver *d = driver();
  if (profile && d && begin)
    profile->launched(*d, nullptr, static_cast<CUstream>(stream),
                      static_cast<CUevent>(begin), detail, name);
}

void *streamCreate() { return mgpuStreamCreate(); }
void streamSynchronize(void *stream) {
  mgpuStreamSynchronize(static_cast<CUstream>(stream));
}
void *eventCreate() { return mgpuEventCreate(); }
void eventRecord(void *event, void *stream) {
  mgpuEventRecord(static_cast<CUevent>(event), static_cast<CUstream>(stream));
}
void streamWaitEvent(void *stream, void *event) {
  mgpuStreamWaitEvent(static_cast<CUstream>(stream),
                      static_cast<CUevent>(event));
}
void copyAsync(void *dst, const void *src, size_t bytes, void *stream) {
  mgpuMemcpy(dst, const_cast<void *>(src), bytes,
             static_cast<CUstream>(stream));
}
void recordGpuError(const std::string &message) { record(message); }

void *deviceAlloc(size_t bytes) {
  CUdeviceptr p = 0;
  if (!hostTimed("device allocations", [&] {
        return drive(
            "deviceAlloc", "cuMemAlloc",
            [&] { return "allocating " + std::to_string(bytes) + " bytes"; },
            [&](Driver &d) { return d.cuMemAlloc(&p, bytes ? bytes : 1); });
      }))
    return nullptr;
  return reinterpret_cast<void *>(p);
}

void deviceFree(void *ptr) {
  if (ptr)
    hostTimed("device frees", [&] {
      return drive("deviceFree", "cuMemFree", says("freeing device memory"),
                   [&](Driver &d) {
                     return d.cuMemFree(reinterpret_cast<CUdeviceptr>(ptr));
                   });
    });
}

static bool copy(const char *caller, void *dst, const void *src, size_t bytes) {
  return drive(
      caller, "cuMemcpy",
      [&] { return "copying " + std::to_string(bytes) + " bytes"; },
      [&](Driver &d) {
        return d.cuMemcpy(reinterpret_cast<CUdeviceptr>(dst),
                          reinterpret_cast<CUdeviceptr>(src), bytes);
      });
}

bool copyToDevice(void *dst, const void *src, size_t bytes) {
  return hostTimed("copies to the device",
                   [&] { return copy("copyToDevice", dst, src, bytes); });
}
bool copyToHost(void *dst, const void *src, size_t bytes) {
  return hostTimed("copies to the host",
                   [&] { return copy("copyToHost", dst, src, bytes); });
}

bool deviceSynchronize() {
  return drive("deviceSynchronize", "cuCtxSynchronize",
               says("waiting for the device"), [](Driver &d) {
                 CUresult r = d.cuCtxSynchronize();
                 if (Profile *profile = Profile::get())
                   profile->resolve(d);
                 return r;
               });
}

bool deviceZero(void *ptr, size_t bytes) {
  return drive(
             "deviceZero", "cuMemsetD32Async",
             [&] { return "zeroing " + std::to_string(bytes) + " bytes"; },
             [&](Driver &d) {
               return d.cuMemsetD32Async(reinterpret_cast<CUdeviceptr>(ptr), 0,
                                         bytes / 4, nullptr);
             }) &&
         deviceSynchronize();
}

} // namespace attn::rt

//===----------------------------------------------------------------------===//
// The mgpu* ABI of MLIR's GPU-to-LLVM lowering.
//===----------------------------------------------------------------------===//

namespace {
/// Streams that compiled calls are done with. Each call creates a stream
/// and destroys it before it returns; creating and destroying one costs
/// more than a short kernel, so they are kept for the next call. A stream
/// taken again with work still queued on it only orders the new work after
/// that work.
std::vector<CUstream> idleStreams;
} // namespace

extern "C" {

CUmodule mgpuModuleLoad(void *data, size_t size) {
  CUmodule module = nullptr;
  if (!drive(
          "mgpuModuleLoad", "cuModuleLoadData",
          [&] {
            return "loading a GPU module of " + std::to_string(size) + " bytes";
          },
          [&](Driver &d) { return d.cuModuleLoadData(&module, data); }))
    return nullptr;
  return module;
}

CUmodule mgpuModuleLoadJIT(void *data, int optLevel, size_t size) {
  // PTX is JIT-compiled by cuModuleLoadData as well.
  (void)optLevel;
  return mgpuModuleLoad(data, size);
}

void mgpuModuleUnload(CUmodule module) {
  if (!module)
    return;
  drive("mgpuModuleUnload", "cuModuleUnload", says("unloading a GPU module"),
        [&](Driver &d) {
          CUresult r = d.cuModuleUnload(module);
          // At process exit the driver may be shut down first; it has
          // freed the module then.
          constexpr CUresult CUDA_ERROR_DEINITIALIZED = 4;
          return r == CUDA_ERROR_DEINITIALIZED ? CUDA_SUCCESS : r;
        });
}

CUfunction mgpuModuleGetFunction(CUmodule module, const char *name) {
  auto doing = [&] { return std::string("looking up kernel '") + name + "'"; };
  if (!module) {
    record("mgpuModuleGetFunction: no module (it failed to load) while " +
           doing());
    return nullptr;
  }
  CUfunction f = nullptr;
  if (!drive(
          "mgpuModuleGetFunction", "cuModuleGetFunction", doing,
          [&](Driver &d) { return d.cuModuleGetFunction(&f, module, name); }))
    return nullptr;
  // Looked up before every launch: the name and the static shared memory
  // are stored once.
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (kernels.count(f))
      return f;
  }
  constexpr int kSharedSizeBytes = 1; // CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES
  int staticShared = 0;
  if (!drive("mgpuModuleGetFunction", "cuFuncGetAttribute", doing,
             [&](Driver &d) {
               return d.cuFuncGetAttribute(&staticShared, kSharedSizeBytes, f);
             }))
    return nullptr;
  std::lock_guard<std::mutex> lock(mutex);
  kernels.try_emplace(f, Kernel{name, staticShared});
  return f;
}

void mgpuLaunchKernel(CUfunction function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t smem, CUstream stream,
                      void **params, void **extra, size_t /*paramsCount*/) {
  if (!function) {
    record("mgpuLaunchKernel: no kernel (its lookup failed); launch skipped");
    return;
  }
  auto doing = [&] {
    return "launching kernel '" + functionName(function) + "' on grid (" +
           std::to_string(gridX) + "," + std::to_string(gridY) + "," +
           std::to_string(gridZ) + "), block (" + std::to_string(blockX) + "," +
           std::to_string(blockY) + "," + std::to_string(blockZ) + "), " +
           std::to_string(smem) + " bytes shared";
  };
  // Beyond 48 KiB of shared memory, its static and dynamic bytes together,
  // a kernel must opt in to its dynamic bytes.
  constexpr int kMaxDynamicSharedMemory = 8;
  if (smem > 0 && smem + staticSharedBytes(function) > 48 * 1024 &&
      !drive("mgpuLaunchKernel", "cuFuncSetAttribute", doing, [&](Driver &d) {
        return d.cuFuncSetAttribute(function, kMaxDynamicSharedMemory, smem);
      }))
    return;
  Profile *profile = Profile::get();
  drive("mgpuLaunchKernel", "cuLaunchKernel", doing, [&](Driver &d) {
    CUevent begin = profile ? profile->start(d, stream) : nullptr;
    CUresult r = d.cuLaunchKernel(function, gridX, gridY, gridZ, blockX, blockY,
                                  blockZ, smem, stream, params, extra);
    if (begin)
      profile->launched(
          d, function, stream, begin,
          "(" + std::to_string(gridX) + "," + std::to_string(gridY) + "," +
              std::to_string(gridZ) + ") / (" + std::to_string(blockX) + "," +
              std::to_string(blockY) + "," + std::to_string(blockZ) + ") / " +
              std::to_string(smem));
    return r;
  });
}

CUstream mgpuStreamCreate() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!idleStreams.empty()) {
      CUstream s = idleStreams.back();
      idleStreams.pop_back();
      return s;
    }
  }
  CUstream s = nullptr;
  drive("mgpuStreamCreate", "cuStreamCreate", says("creating a stream"),
        [&](Driver &d) {
          return d.cuStreamCreate(&s, /*CU_STREAM_NON_BLOCKING=*/1);
        });
  return s;
}

void mgpuStreamDestroy(CUstream stream) {
  if (!stream)
    return;
  std::lock_guard<std::mutex> lock(mutex);
  idleStreams.push_back(stream);
}

void mgpuStreamSynchronize(CUstream stream) {
  drive("mgpuStreamSynchronize", "cuStreamSynchronize",
        says("waiting for a stream (kernels run on it)"), [&](Driver &d) {
          CUresult r = d.cuStreamSynchronize(stream);
          if (Profile *profile = Profile::get())
            profile->resolve(d);
          return r;
        });
}

void mgpuStreamWaitEvent(CUstream stream, CUevent event) {
  drive("mgpuStreamWaitEvent", "cuStreamWaitEvent",
        says("ordering a stream after an event"),
        [&](Driver &d) { return d.cuStreamWaitEvent(stream, event, 0); });
}

CUevent mgpuEventCreate() {
  CUevent e = nullptr;
  drive("mgpuEventCreate", "cuEventCreate", says("creating an event"),
        [&](Driver &d) {
          return d.cuEventCreate(&e, /*CU_EVENT_DISABLE_TIMING=*/2);
        });
  return e;
}

void mgpuEventDestroy(CUevent event) {
  if (event)
    drive("mgpuEventDestroy", "cuEventDestroy", says("destroying an event"),
          [&](Driver &d) { return d.cuEventDestroy(event); });
}

void mgpuEventSynchronize(CUevent event) {
  drive("mgpuEventSynchronize", "cuEventSynchronize",
        says("waiting for an event"),
        [&](Driver &d) { return d.cuEventSynchronize(event); });
}

void mgpuEventRecord(CUevent event, CUstream stream) {
  drive("mgpuEventRecord", "cuEventRecord", says("recording an event"),
        [&](Driver &d) { return d.cuEventRecord(event, stream); });
}

// A compiled function's scratch buffers: ordered with its launches on its
// stream (which is waited for before it returns), from the driver's pool.
void *mgpuMemAlloc(uint64_t bytes, CUstream stream, bool isHostShared) {
  if (isHostShared) {
    record("mgpuMemAlloc: host-shared allocations are not supported");
    return nullptr;
  }
  CUdeviceptr p = 0;
  if (!drive(
          "mgpuMemAlloc", "cuMemAllocAsync",
          [&] { return "allocating " + std::to_string(bytes) + " bytes"; },
          [&](Driver &d) {
            return d.cuMemAllocAsync(&p, bytes ? bytes : 1, stream);
          }))
    return nullptr;
  return reinterpret_cast<void *>(p);
}

void mgpuMemFree(void *ptr, CUstream stream) {
  if (ptr)
    drive("mgpuMemFree", "cuMemFreeAsync", says("freeing device memory"),
          [&](Driver &d) {
            return d.cuMemFreeAsync(reinterpret_cast<CUdeviceptr>(ptr), stream);
          });
}

void mgpuMemcpy(void *dst, void *src, size_t bytes, CUstream stream) {
  drive(
      "mgpuMemcpy", "cuMemcpyAsync",
      [&] { return "copying " + std::to_string(bytes) + " bytes"; },
      [&](Driver &d) {
        return d.cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(dst),
                               reinterpret_cast<CUdeviceptr>(src), bytes,
                               stream);
      });
}

void mgpuMemset32(void *dst, unsigned value, size_t count, CUstream stream) {
  drive(
      "mgpuMemset32", "cuMemsetD32Async",
      [&] { return "setting " + std::to_string(count) + " words"; },
      [&](Driver &d) {
        return d.cuMemsetD32Async(reinterpret_cast<CUdeviceptr>(dst), value,
                                  count, stream);
      });
}

void mgpuMemset16(void *dst, unsigned short value, size_t count,
                  CUstream stream) {
  drive(
      "mgpuMemset16", "cuMemsetD16Async",
      [&] { return "setting " + std::to_string(count) + " half-words"; },
      [&](Driver &d) {
        return d.cuMemsetD16Async(reinterpret_cast<CUdeviceptr>(dst), value,
                                  count, stream);
      });
}

void mgpuSetDefaultDevice(int32_t device) {
  if (device != 0)
    record("mgpuSetDefaultDevice: only device 0 is used");
}

} // extern "C"

namespace {
/// The tensor maps mgpuTensorMap has made, by what they describe, and the
/// device memory they lie in: slabs of kMapsPerSlab maps, taken in order.
struct TensorMaps {
  static constexpr size_t kMapBytes = 128, kMapsPerSlab = 512;
  /// More distinct maps than this (a program whose buffers keep moving):
  /// the device is synchronised and the maps made anew.
  static constexpr size_t kMaxMaps = 1 << 16;
  std::map<std::vector<std::int64_t>, CUdeviceptr> made;
  std::vector<CUdeviceptr> slabs;
  size_t used = 0; // maps placed, over all slabs
};
TensorMaps tensorMaps;
std::mutex tensorMapMutex;

/// CUtensorMapDataType of the element codes of docs/runtime.md.
int tensorMapDataType(int32_t element) {
  using attn::rt::CollectiveElement;
  switch (static_cast<CollectiveElement>(element)) {
  case CollectiveElement::F32:
    return 7; // FLOAT32
  case CollectiveElement::BF16:
    return 9; // BFLOAT16
  case CollectiveElement::F16:
    return 6; // FLOAT16
  case CollectiveElement::F64:
    return 8; // FLOAT64
  }
  return -1;
}
} // namespace

extern "C" {

/// docs/runtime.md: the device address of a tensor map of the buffer at
/// `address` (its element at index 0 of every dimension), `rank`
/// dimensions, `dims` = rank sizes, rank strides (in elements) and rank box
/// sizes, each outermost first; 0 (and the error recorded) where it cannot
/// be made.
std::int64_t mgpuTensorMap(void *address, int32_t element, int32_t rank,
                           const std::int64_t *dims, int32_t swizzle) {
  const int type = tensorMapDataType(element);
  const int64_t elementBytes =
      static_cast<int64_t>(attn::rt::collectiveElementSize(element));
  auto describe = [&] {
    std::string text = "a tensor map of the buffer at " +
                       std::to_string(reinterpret_cast<uintptr_t>(address)) +
                       ", sizes [";
    for (int part = 0; part < 3; ++part) {
      for (int i = 0; i < rank; ++i)
        text += (i ? ", " : "") + std::to_string(dims[part * rank + i]);
      text += part == 0 ? "], strides [" : part == 1 ? "], box [" : "]";
    }
    return text + ", swizzle " + std::to_string(swizzle) + " bytes";
  };
  if (type < 0 || rank < 1 || rank > 5 ||
      !(swizzle == 0 || swizzle == 32 || swizzle == 64 || swizzle == 128)) {
    record("mgpuTensorMap: element code " + std::to_string(element) +
           ", rank " + std::to_string(rank) + " or swizzle " +
           std::to_string(swizzle) + " not supported");
    return 0;
  }
  std::vector<std::int64_t> key{reinterpret_cast<std::int64_t>(address),
                                element, rank, swizzle};
  key.insert(key.end(), dims, dims + 3 * rank);
  std::lock_guard<std::mutex> lock(tensorMapMutex);
  TensorMaps &maps = tensorMaps;
  if (auto it = maps.made.find(key); it != maps.made.end())
    return static_cast<std::int64_t>(it->second);

  // CUDA lists dimensions innermost first, strides in bytes without the
  // innermost (its elements are adjacent).
  cuuint64_t sizes[5], strides[5];
  std::uint32_t box[5], elementStrides[5];
  for (int i = 0; i < rank; ++i) {
    int from = rank - 1 - i;
    sizes[i] = static_cast<cuuint64_t>(dims[from]);
    strides[i] = static_cast<cuuint64_t>(dims[rank + from] * elementBytes);
    box[i] = static_cast<std::uint32_t>(dims[2 * rank + from]);
    elementStrides[i] = 1;
  }
  if (dims[2 * rank - 1] != 1) {
    record("mgpuTensorMap: the innermost dimension must be contiguous, in " +
           describe());
    return 0;
  }
  const int swizzleKind = swizzle == 0    ? 0
                          : swizzle == 32 ? 1
                          : swizzle == 64 ? 2
                                          : 3;
  alignas(64) unsigned char map[TensorMaps::kMapBytes];
  constexpr int kInterleaveNone = 0, kL2Promotion128B = 2, kOobZeros = 0;
  if (!drive("mgpuTensorMap", "cuTensorMapEncodeTiled", describe,
             [&](Driver &d) -> CUresult {
               constexpr CUresult CUDA_ERROR_NOT_SUPPORTED = 801;
               if (!d.cuTensorMapEncodeTiled)
                 return CUDA_ERROR_NOT_SUPPORTED;
               return d.cuTensorMapEncodeTiled(
                   map, type, static_cast<std::uint32_t>(rank), address, sizes,
                   strides + 1, box, elementStrides, kInterleaveNone,
                   swizzleKind, kL2Promotion128B, kOobZeros);
             }))
    return 0;

  if (maps.used == TensorMaps::kMaxMaps) {
    // Kernels in flight may still read the maps about to be overwritten.
    if (!drive("mgpuTensorMap", "cuCtxSynchronize",
               says("reusing the tensor maps' memory"),
               [](Driver &d) { return d.cuCtxSynchronize(); }))
      return 0;
    maps.made.clear();
    maps.used = 0;
  }
  size_t slab = maps.used / TensorMaps::kMapsPerSlab;
  if (slab == maps.slabs.size()) {
    CUdeviceptr memory = 0;
    if (!drive("mgpuTensorMap", "cuMemAlloc",
               says("allocating device memory for tensor maps"),
               [&](Driver &d) {
                 return d.cuMemAlloc(&memory, TensorMaps::kMapBytes *
                                                  TensorMaps::kMapsPerSlab);
               }))
      return 0;
    maps.slabs.push_back(memory);
  }
  CUdeviceptr at =
      maps.slabs[slab] +
      TensorMaps::kMapBytes * (maps.used % TensorMaps::kMapsPerSlab);
  // A synchronous copy: the launch that reads the map comes after it.
  if (!drive("mgpuTensorMap", "cuMemcpy", describe, [&](Driver &d) {
        return d.cuMemcpy(at, reinterpret_cast<CUdeviceptr>(map),
                          TensorMaps::kMapBytes);
      }))
    return 0;
  ++maps.used;
  maps.made.emplace(std::move(key), at);
  return static_cast<std::int64_t>(at);
}

} // extern "C"

//===- DeviceInternal.h - what Collective.cpp needs of Device.cpp -*- C++
//-*-===//
#ifndef ATTN_RUNTIME_DEVICEINTERNAL_H
#define ATTN_RUNTIME_DEVICEINTERNAL_H

#include <cstddef>
#include <dlfcn.h>
#include <string>
#include <type_traits>

namespace attn::rt {

/// Resolves the functions of a library opened with dlopen (the CUDA driver,
/// NCCL), declared here rather than taken from their headers: `get(fn,
/// name)` sets fn, and the first name missing is kept, as "`library` lacks
/// name", for failure().
class SymbolResolver {
public:
  SymbolResolver(void *lib, std::string library)
      : lib(lib), library(std::move(library)) {}
  template <typename Fn> void get(Fn &fn, const char *name) {
    fn = reinterpret_cast<Fn>(dlsym(lib, name));
    if (!fn && missing.empty())
      missing = library + " lacks " + name;
  }
  bool ok() const { return missing.empty(); }
  const std::string &failure() const { return missing; }

private:
  void *lib;
  std::string library, missing;
};

/// Brackets device work on `stream` that is not a kernel launch (an NCCL
/// bucket) for the kernel profile: begin returns a token (nullptr when the
/// profile is off) that end takes; the work is reported under `name`, with
/// `detail` where kernels show their grid.
void *profileDeviceWorkBegin(void *stream);
void profileDeviceWorkEnd(void *begin, void *stream, const std::string &name,
                          const std::string &detail);

/// Streams and events of the driver for libattnrt's own device work; a
/// failure is recorded as the mgpu* functions' are (takeGpuError).
void *streamCreate();
void streamSynchronize(void *stream);
void *eventCreate();
void eventRecord(void *event, void *stream);
void streamWaitEvent(void *stream, void *event);
void copyAsync(void *dst, const void *src, size_t bytes, void *stream);
/// Records a failure of libattnrt's own (printed, and kept for
/// takeGpuError).
void recordGpuError(const std::string &message);

} // namespace attn::rt

#endif // ATTN_RUNTIME_DEVICEINTERNAL_H

//===- Device.h - the GPU side of libattnrt ---------------------*- C++ -*-===//
//
// Code compiled with --lower-to-gpu calls the mgpu* functions (module load,
// kernel lookup and launch, streams, events, allocation, copies), which
// libattnrt implements on the CUDA driver API. The driver (libcuda.so.1) is
// opened on first use, so that libattnrt itself loads on machines without
// one; the context is the primary context of device 0.
//
// A failing driver call is reported on stderr with the mgpu function, the
// driver call, the CUDA error and what was being done, and kept: the first
// failure since the last takeGpuError() is returned by it. Calls after a
// failure that depend on it do nothing.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_DEVICE_H
#define ATTN_RUNTIME_DEVICE_H

#include <cstddef>
#include <optional>
#include <string>

namespace attn::rt {

/// Whether a CUDA device can be used; `why` says why not.
bool gpuAvailable(std::string *why = nullptr);

/// The first GPU failure since the last call, if any; clears it.
std::optional<std::string> takeGpuError();

/// Device memory (nullptr and a recorded error on failure).
void *deviceAlloc(size_t bytes);
void deviceFree(void *ptr);
bool copyToDevice(void *dst, const void *src, size_t bytes);
bool copyToHost(void *dst, const void *src, size_t bytes);
bool deviceSynchronize();
/// Zeroes the first bytes / 4 words of `ptr` and waits for it.
bool deviceZero(void *ptr, size_t bytes);

/// The kernel profile (docs/runtime.md): every kernel launch timed on the
/// device, summed per kernel name. On from the start when ATTN_PROFILE is
/// set (to 1: the report goes to stderr at exit; to a path: it is written
/// there), or from startProfile().
void startProfile();
bool profiling();
/// Host-side work timed by the caller, reported under `what`.
void profileHostWork(const std::string &what, double ms);
/// The report so far: kernels by total time, then libattnrt's host work.
std::string profileReport();

} // namespace attn::rt

#endif // ATTN_RUNTIME_DEVICE_H

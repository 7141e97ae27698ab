//===- Collective.cpp - gradient all-reduces over NCCL --------------------===//
//
// NCCL's API is declared here (the few types and functions used, as in
// nccl.h 2.x, whose ABI is stable) and resolved from libnccl.so.2 when a rank
// joins a run: libattnrt builds without NCCL's headers and loads without
// the library.
//
//===----------------------------------------------------------------------===//

#include "attn/Runtime/Collective.h"
#include "DeviceInternal.h"
#include "attn/Runtime/Device.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <unistd.h>

using namespace attn::rt;

namespace {

using ncclResult_t = int;
using ncclComm_t = struct ncclComm *;
using ncclDataType_t = int;
using ncclRedOp_t = int;
struct ncclUniqueId {
  char internal[128];
};
constexpr ncclResult_t ncclSuccess = 0, ncclInProgress = 7;
constexpr ncclRedOp_t ncclSum = 0, ncclAvg = 4;
constexpr ncclDataType_t ncclFloat16 = 6, ncclFloat32 = 7, ncclFloat64 = 8,
                         ncclBfloat16 = 9;

struct Nccl {
  ncclResult_t (*getUniqueId)(ncclUniqueId *);
  ncclResult_t (*commInitRank)(ncclComm_t *, int, ncclUniqueId, int);
  ncclResult_t (*commDestroy)(ncclComm_t);
  ncclResult_t (*commAbort)(ncclComm_t);
  ncclResult_t (*commGetAsyncError)(ncclComm_t, ncclResult_t *);
  ncclResult_t (*allReduce)(const void *, void *, size_t, ncclDataType_t,
                            ncclRedOp_t, ncclComm_t, void *);
  ncclResult_t (*groupStart)();
  ncclResult_t (*groupEnd)();
  const char *(*getErrorString)(ncclResult_t);
  ncclResult_t (*getVersion)(int *);
};

/// NCCL, opened on first use, or nullptr (and why).
Nccl *nccl(std::string *why) {
  static Nccl n;
  static std::string failure;
  static bool ready = [] {
    void *lib = dlopen("libnccl.so.2", RTLD_NOW | RTLD_GLOBAL);
    if (!lib) {
      failure = std::string("cannot open NCCL (libnccl.so.2): ") + dlerror();
      return false;
    }
    SymbolResolver symbols(lib, "NCCL");
    auto get = [&](auto &fn, const char *name) { symbols.get(fn, name); };
    get(n.getUniqueId, "ncclGetUniqueId");
    get(n.commInitRank, "ncclCommInitRank");
    get(n.commDestroy, "ncclCommDestroy");
    get(n.commAbort, "ncclCommAbort");
    get(n.commGetAsyncError, "ncclCommGetAsyncError");
    get(n.allReduce, "ncclAllReduce");
    get(n.groupStart, "ncclGroupStart");
    get(n.groupEnd, "ncclGroupEnd");
    get(n.getErrorString, "ncclGetErrorString");
    get(n.getVersion, "ncclGetVersion");
    failure = symbols.failure();
    return symbols.ok();
  }();
  if (!ready && why)
    *why = failure;
  return ready ? &n : nullptr;
}

std::optional<ncclDataType_t> ncclType(int32_t element) {
  switch (static_cast<CollectiveElement>(element)) {
  case CollectiveElement::F32:
    return ncclFloat32;
  case CollectiveElement::BF16:
    return ncclBfloat16;
  case CollectiveElement::F16:
    return ncclFloat16;
  case CollectiveElement::F64:
    return ncclFloat64;
  }
  return std::nullopt;
}

/// The run this process has joined.
struct Run {
  std::mutex mutex;
  std::atomic<ncclComm_t> comm{nullptr};
  std::atomic<bool> aborted{false}; ///< abortRun: no exchange any more
  Nccl *api = nullptr;
  int rank = 0, world = 1;
  void *stream = nullptr;       ///< the exchange's own stream
  void *produced = nullptr;     ///< on the compute stream: a bucket is ready
  void *exchanged = nullptr;    ///< on the exchange stream: all issued done
  bool issuedSinceWait = false; ///< a bucket went out since the last wait
  ReduceBuckets buckets{bucketBytes()};
  CollectiveStats stats;
  void *scratch = nullptr; ///< allReduceSum's device buffer
  size_t scratchBytes = 0;
};

Run &theRun() {
  static Run run;
  return run;
}

std::string describe(Nccl *api, ncclResult_t r) {
  return std::to_string(r) + " (" + (api ? api->getErrorString(r) : "?") + ")";
}

/// Issues one bucket on the exchange stream after what `stream` has queued.
void issue(Run &run, const std::vector<PendingReduce> &bucket, void *stream) {
  eventRecord(run.produced, stream);
  streamWaitEvent(run.stream, run.produced);
  size_t bytes = 0;
  for (const PendingReduce &r : bucket)
    bytes += r.bytes();
  void *timing = profileDeviceWorkBegin(run.stream);
  ncclResult_t result = run.api->groupStart();
  for (const PendingReduce &r : bucket) {
    if (result != ncclSuccess)
      break;
    result = run.api->allReduce(r.in, r.out, r.count, *ncclType(r.element),
                                ncclAvg, run.comm.load(), run.stream);
  }
  ncclResult_t ended = run.api->groupEnd();
  if (result == ncclSuccess)
    result = ended;
  profileDeviceWorkEnd(timing, run.stream, "nccl all-reduce (gradients)",
                       std::to_string(bucket.size()) + " tensors / " +
                           std::to_string(bytes) + " bytes");
  if (result != ncclSuccess)
    recordGpuError("mgpuAllReduceStart: an NCCL all-reduce of " +
                   std::to_string(bucket.size()) + " tensors (" +
                   std::to_string(bytes) +
                   " bytes) failed: " + describe(run.api, result));
  ++run.stats.buckets;
  run.issuedSinceWait = true;
}

} // namespace

namespace attn::rt {

size_t collectiveElementSize(int32_t code) {
  switch (static_cast<CollectiveElement>(code)) {
  case CollectiveElement::F32:
    return 4;
  case CollectiveElement::BF16:
  case CollectiveElement::F16:
    return 2;
  case CollectiveElement::F64:
    return 8;
  }
  return 0;
}

std::vector<PendingReduce> ReduceBuckets::add(const PendingReduce &r) {
  pending.push_back(r);
  queued += r.bytes();
  if (queued < bucketBytes)
    return {};
  return drain();
}

std::vector<PendingReduce> ReduceBuckets::drain() {
  std::vector<PendingReduce> bucket;
  bucket.swap(pending);
  queued = 0;
  return bucket;
}

size_t bucketBytes() {
  static size_t bytes = [] {
    const char *env = std::getenv("ATTN_BUCKET_MB");
    double mb = env && *env ? std::strtod(env, nullptr) : 4.0;
    return mb > 0 ? size_t(mb * 1024 * 1024) : size_t(0);
  }();
  return bytes;
}

bool joinRun(int rank, int world, const std::string &idFile,
             double timeoutSeconds, std::string *error) {
  auto fail = [&](const std::string &why) {
    if (error)
      *error = "rank " + std::to_string(rank) + " of " + std::to_string(world) +
               ": " + why;
    return false;
  };
  Run &run = theRun();
  if (run.comm.load())
    return fail("this process has joined a run already");
  if (world < 1 || rank < 0 || rank >= world)
    return fail("the rank must be in [0, world size)");
  if (world == 1)
    return true;
  if (rank == 0 && access(idFile.c_str(), F_OK) == 0)
    return fail(idFile + " exists: it is from an earlier launch (remove it; "
                         "the other ranks would read it)");
  std::string why;
  if (!gpuAvailable(&why))
    return fail("no GPU: " + why);
  Nccl *api = nccl(&why);
  if (!api)
    return fail(why);

  ncclUniqueId id;
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::duration<double>(timeoutSeconds);
  if (rank == 0) {
    ncclResult_t r = api->getUniqueId(&id);
    if (r != ncclSuccess)
      return fail("ncclGetUniqueId failed: " + describe(api, r));
    std::string tmp = idFile + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary);
      out.write(id.internal, sizeof id.internal);
      if (!out.flush())
        return fail("cannot write " + tmp);
    }
    if (std::rename(tmp.c_str(), idFile.c_str()) != 0)
      return fail("cannot rename " + tmp + " to " + idFile);
  } else {
    for (;;) {
      std::ifstream in(idFile, std::ios::binary);
      if (in && in.read(id.internal, sizeof id.internal))
        break;
      if (std::chrono::steady_clock::now() > deadline)
        return fail("rank 0 did not publish the run's id in " + idFile +
                    " within " + std::to_string(int(timeoutSeconds)) + " s");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // ncclCommInitRank waits for every rank: bound it, since a rank that
  // never comes would hold the others forever.
  std::mutex m;
  std::condition_variable joined;
  bool done = false;
  std::thread guard([&] {
    std::unique_lock<std::mutex> lock(m);
    if (!joined.wait_until(lock, deadline, [&] { return done; })) {
      std::fprintf(stderr,
                   "attn runtime: rank %d: the run's %d ranks did not all "
                   "join within %.0f s (NCCL's communicator set-up); "
                   "stopping\n",
                   rank, world, timeoutSeconds);
      std::_Exit(3);
    }
  });
  ncclComm_t comm = nullptr;
  ncclResult_t r = api->commInitRank(&comm, world, id, rank);
  {
    std::lock_guard<std::mutex> lock(m);
    done = true;
  }
  joined.notify_all();
  guard.join();
  if (r != ncclSuccess)
    return fail("ncclCommInitRank failed: " + describe(api, r));
  // Every rank has read the id (the set-up needed them all): the file goes,
  // so that the next launch of the same run publishes a fresh one.
  if (rank == 0)
    std::remove(idFile.c_str());

  std::lock_guard<std::mutex> lock(run.mutex);
  run.api = api;
  run.rank = rank;
  run.world = world;
  run.stream = streamCreate();
  run.produced = eventCreate();
  run.exchanged = eventCreate();
  run.comm.store(comm);
  if (auto e = takeGpuError())
    return fail("setting up the exchange's stream: " + *e);
  return true;
}

RankInfo runRank() {
  Run &run = theRun();
  return {run.rank, run.world};
}

bool allReduceSum(double *values, size_t count, std::string *error) {
  Run &run = theRun();
  if (!run.comm.load() || count == 0)
    return true;
  std::lock_guard<std::mutex> lock(run.mutex);
  size_t bytes = count * sizeof(double);
  if (run.scratchBytes < bytes) { // kept: attn-train sums every step
    deviceFree(run.scratch);
    run.scratch = deviceAlloc(bytes);
    run.scratchBytes = run.scratch ? bytes : 0;
  }
  void *buffer = run.scratch;
  bool ok = buffer && copyToDevice(buffer, values, bytes);
  ncclResult_t r = ncclSuccess;
  if (ok) {
    r = run.api->allReduce(buffer, buffer, count, ncclFloat64, ncclSum,
                           run.comm.load(), run.stream);
    streamSynchronize(run.stream);
    ok = r == ncclSuccess && copyToHost(values, buffer, bytes);
  }
  std::optional<std::string> gpu = takeGpuError();
  if (ok && !gpu)
    return true;
  if (error)
    *error = r != ncclSuccess ? "ncclAllReduce failed: " + describe(run.api, r)
                              : gpu.value_or("summing over the ranks failed");
  return false;
}

std::optional<std::string> collectiveError() {
  Run &run = theRun();
  ncclComm_t comm = run.comm.load();
  if (!comm)
    return std::nullopt;
  ncclResult_t async = ncclSuccess;
  ncclResult_t r = run.api->commGetAsyncError(comm, &async);
  if (r != ncclSuccess)
    return "ncclCommGetAsyncError failed: " + describe(run.api, r);
  if (async != ncclSuccess && async != ncclInProgress)
    return "NCCL reports " + describe(run.api, async);
  return std::nullopt;
}

void abortRun() {
  Run &run = theRun();
  run.aborted = true;
  if (ncclComm_t comm = run.comm.exchange(nullptr))
    run.api->commAbort(comm);
}

void leaveRun() {
  Run &run = theRun();
  std::lock_guard<std::mutex> lock(run.mutex);
  ncclComm_t comm = run.comm.exchange(nullptr);
  if (!comm)
    return;
  streamSynchronize(run.stream);
  run.api->commDestroy(comm);
  deviceFree(run.scratch);
  run.scratch = nullptr;
  run.scratchBytes = 0;
  run.world = 1;
  run.rank = 0;
}

CollectiveStats takeCollectiveStats() {
  Run &run = theRun();
  std::lock_guard<std::mutex> lock(run.mutex);
  CollectiveStats s = run.stats;
  run.stats = {};
  return s;
}

} // namespace attn::rt

//===----------------------------------------------------------------------===//
// The entry points of compiled code (attn.buffer.all_reduce_start / wait)
//===----------------------------------------------------------------------===//

extern "C" {

void mgpuAllReduceStart(void *in, void *out, int64_t count, int32_t element,
                        void *stream) {
  size_t size = collectiveElementSize(element);
  if (size == 0 || count < 0) {
    recordGpuError("mgpuAllReduceStart: element code " +
                   std::to_string(element) + ", count " +
                   std::to_string(count) + " is not an all-reduce");
    return;
  }
  Run &run = theRun();
  if (run.aborted) {
    recordGpuError("mgpuAllReduceStart: the run was aborted (abortRun)");
    return;
  }
  if (!run.comm.load()) { // one rank: the mean is the input
    if (in != out)
      copyAsync(out, in, size_t(count) * size, stream);
    return;
  }
  std::lock_guard<std::mutex> lock(run.mutex);
  PendingReduce r{in, out, size_t(count), element};
  ++run.stats.starts;
  run.stats.bytes += int64_t(r.bytes());
  std::vector<PendingReduce> bucket = run.buckets.add(r);
  if (!bucket.empty())
    issue(run, bucket, stream);
}

void mgpuAllReduceWait(void *stream) {
  Run &run = theRun();
  if (!run.comm.load())
    return;
  std::lock_guard<std::mutex> lock(run.mutex);
  std::vector<PendingReduce> rest = run.buckets.drain();
  if (!rest.empty())
    issue(run, rest, stream);
  if (!run.issuedSinceWait)
    return;
  eventRecord(run.exchanged, run.stream);
  streamWaitEvent(stream, run.exchanged);
  run.issuedSinceWait = false;
}

} // extern "C"

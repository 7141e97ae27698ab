//===- Collective.h - the ranks of a data-parallel run ----------*- C++ -*-===//
//
// A data-parallel run is one process per GPU (a rank), each calling the same
// compiled training step on its shard of every batch. The step averages its
// gradients through two entry points that the compiled code calls on its
// stream (attn.buffer.all_reduce_start / wait; docs/runtime.md):
//
//   mgpuAllReduceStart(in, out, count, element, stream)
//   mgpuAllReduceWait(stream)
//
// Before a rank joins a run (or in a run of one) a start copies `in` to
// `out` and a wait does nothing. In a run they are NCCL all-reduces
// (ncclAvg) on a stream of their own: starts are gathered into buckets of
// at least bucketBytes(), each bucket issued as one NCCL group once the
// compute stream has produced it, so that early gradients are exchanged
// while the backward goes on; a wait issues what is left and orders the
// compute stream after all of it.
//
// NCCL (libnccl.so.2) is opened when a rank joins, so that libattnrt builds
// and loads without it.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_COLLECTIVE_H
#define ATTN_RUNTIME_COLLECTIVE_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace attn::rt {

/// mgpuAllReduceStart's element codes (the compiler's, docs/runtime.md).
enum class CollectiveElement : int32_t { F32 = 0, BF16 = 1, F16 = 2, F64 = 3 };
/// Bytes of one element, 0 for an unknown code.
size_t collectiveElementSize(int32_t code);

/// One started all-reduce.
struct PendingReduce {
  const void *in = nullptr;
  void *out = nullptr;
  size_t count = 0;
  int32_t element = 0;
  size_t bytes() const { return count * collectiveElementSize(element); }
};

/// Gathers starts into buckets: a bucket is issued when its bytes reach the
/// bucket size (or at a wait). Pure logic, without GPU or NCCL.
class ReduceBuckets {
public:
  explicit ReduceBuckets(size_t bucketBytes) : bucketBytes(bucketBytes) {}
  /// Queues `r`; returns the bucket to issue now if it is full (in start
  /// order), else nothing.
  std::vector<PendingReduce> add(const PendingReduce &r);
  /// Whatever is queued, in start order (a wait issues it).
  std::vector<PendingReduce> drain();
  size_t queuedBytes() const { return queued; }

private:
  size_t bucketBytes, queued = 0;
  std::vector<PendingReduce> pending;
};

/// This process's place in a run.
struct RankInfo {
  int rank = 0, world = 1;
};

/// Joins the run of `world` ranks as `rank`: rank 0 makes NCCL's unique id
/// and writes it to `idFile` (atomically; the file must not exist), the
/// others wait for that file to appear; then all build the communicator,
/// and rank 0 removes the file. Gives up after
/// `timeoutSeconds` (a rank that never came). Uses the GPU the driver's
/// device 0 is (CUDA_VISIBLE_DEVICES selects it per process).
bool joinRun(int rank, int world, const std::string &idFile,
             double timeoutSeconds, std::string *error);
/// The run joined (rank 0 of 1 before joining).
RankInfo runRank();
/// Sums `values` over the ranks, in place (blocking; metrics, evaluation).
bool allReduceSum(double *values, size_t count, std::string *error);
/// NCCL's asynchronous error of the communicator, if it has one (a peer that
/// died, a network failure).
std::optional<std::string> collectiveError();
/// Aborts the communicator: collectives in flight or later return, so that
/// a rank blocked on a lost peer can stop. Safe from another thread.
void abortRun();
/// Leaves the run (destroys the communicator after finishing its work).
void leaveRun();

/// Bucket size (default 4 MiB; ATTN_BUCKET_MB overrides).
size_t bucketBytes();

/// What the gradient exchange did since the last call (and resets it). The
/// buckets' device time is in the kernel profile (ATTN_PROFILE), as
/// "nccl all-reduce".
struct CollectiveStats {
  int64_t starts = 0, buckets = 0, bytes = 0;
};
CollectiveStats takeCollectiveStats();

} // namespace attn::rt

#endif // ATTN_RUNTIME_COLLECTIVE_H

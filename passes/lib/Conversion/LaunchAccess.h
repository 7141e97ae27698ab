//===- LaunchAccess.h - what host-level ops read and write ------*- C++ -*-===//
//
// The buffers a top-level op of a GPU function (a gpu.launch with its body,
// an allocation, a memset, a release) reads and writes, told apart by their
// roots. attn-schedule-launches orders ops by it and attn-merge-launches
// decides which launches may run as one. And which of attention's tiles a
// launch runs. Internal to the conversion passes.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_CONVERSION_LAUNCHACCESS_H
#define ATTN_CONVERSION_LAUNCHACCESS_H

#include "mlir/IR/Operation.h"

#include "llvm/ADT/SetVector.h"

#include <array>
#include <optional>

namespace mlir::attn {

/// The buffer a memref value is a view of, followed through view-like ops:
/// an allocation, or an argument of a public function (distinct buffers by
/// the library ABI). Null for anything else (a global, a private function's
/// argument, which a caller may alias): its accesses cannot be told apart.
Value rootOf(Value v);

/// The buffers an op (with everything inside it) reads and writes; freeing
/// a buffer counts as writing it.
struct Access {
  llvm::SetVector<Value> reads, writes;

  /// Whether one of the two writes what the other reads or writes: they
  /// cannot trade places, nor run side by side.
  bool conflictsWith(const Access &o) const;
  void add(const Access &o);
};

/// What `op` reads and writes outside itself; nullopt where an effect is
/// unknown or names no buffer.
std::optional<Access> accessOf(Operation *op);

/// Whether every effect of `op` is a release (gpu.dealloc, memref.dealloc).
bool onlyFrees(Operation *op);

/// The grid of a synchronous launch (no async dependencies or token) whose
/// sizes are constants: blocks along x, y and z; nullopt otherwise. Both
/// passes move or merge only such launches.
std::optional<std::array<int64_t, 3>> constantSyncGrid(Operation *launch);

/// The blocks of `root` (itself included) outside every gpu.launch's body:
/// where host-level ops and launches stand.
SmallVector<Block *> hostBlocks(Operation *root);

/// Which of attention's tile ops a gpu.launch runs (their predicate and
/// score regions are theirs, not counted): the forward's (softmax_step,
/// softmax_finalize), the gradient's (softmax_grad_step), and whether it
/// runs any other op of the attn dialect. attn-persist-launches chooses
/// launches by it; attn-convert-softmax-tiles-to-gpu gives a producer ring
/// only to a launch that runs softmax tiles alone (it lowers them all).
struct AttentionTiles {
  bool forward = false, gradient = false, other = false;

  /// Softmax tiles and nothing else of the dialect.
  bool onlySoftmax() const { return !other; }
};
AttentionTiles attentionTilesOf(Operation *launch);

} // namespace mlir::attn

#endif // ATTN_CONVERSION_LAUNCHACCESS_H

//===- WarpgroupMma.h - sm_90a's warpgroup MMA ------------------*- C++ -*-===//
//
// The pieces a lowering needs to put a product on Hopper's warpgroup MMA
// (wgmma.mma_async, sm_90a): operand tiles in shared memory in the
// 128-byte swizzled layout the instruction's matrix descriptors describe,
// the descriptors themselves, and the instruction with its fence, commit
// and wait. Where lanes hold which accumulator is MmaLayout::wgmmaM64K16's
// table; the byte placement is SharedLayout's. Internal to the conversion
// passes.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_CONVERSION_WARPGROUPMMA_H
#define ATTN_CONVERSION_WARPGROUPMMA_H

#include "GPUTiles.h"

namespace mlir::attn::gpu_tiles {

/// The threads of a warpgroup: four consecutive warps, the first a
/// multiple of four.
constexpr int64_t kWarpgroupThreads = 4 * kWarpLanes;
/// The M and K of one wgmma.mma_async with 16-bit operands.
constexpr int64_t kWgmmaM = 64, kWgmmaK = 16;
/// Swizzled tiles start at multiples of the swizzle pattern's span (eight
/// rows of 128 bytes): the descriptors' base offset is then 0.
constexpr int64_t kSwizzledTileAlignment = 1024;
/// What a staging buffer of swizzled tiles asks for beyond them, so that
/// they can start at kSwizzledTileAlignment (alignmentPadding) wherever
/// attn-allocate-shared-memory places it: at a multiple of 16 bytes.
constexpr int64_t kSwizzledTileSlack = kSwizzledTileAlignment - 16;

/// Whether the chip `op`'s module is compiled for (attn.target) has
/// warpgroup MMA: sm_90a (the "a" features of compute capability 9.0).
bool hasWarpgroupMma(Operation *op);

/// Whether attention's launch `launch` (its threads the consumers', before
/// attn-specialize-warps adds the producer's) may take a producer
/// warpgroup where warp specialisation is asked for, and with it the
/// persistent form: on warpgroup MMA, in whole warpgroups -- for the
/// forward (`forward`), two or more. With one (BigBird's 64-row tiles) the
/// specialised, overlapped and persistent forward ran 25-30% slower than
/// the plain one on sm_90a (one H100, attn-bench's bigbird64 at N = 4096
/// and 16384): the producer's threads double the block's, and fewer blocks
/// share a multiprocessor. The gradient's launches (64 x 64 tiles: one
/// warpgroup) may take one.
bool takesProducer(gpu::LaunchOp launch, bool forward);

/// The shared-memory address (in the .shared window, as i64) of
/// `memref`'s first element.
Value sharedAddress(OpBuilder &b, Location loc, Value memref);

/// A byte offset that puts the shared address `address` (i64) at the next
/// multiple of kSwizzledTileAlignment: allocate that much more, and view
/// the tiles from there.
Value alignmentPadding(ScalarEmitter &e, Value address);

/// acc += A B for one warpgroup: wgmma.mma_async.m64nNk16 with f32
/// accumulators (`acc`: this thread's N / 2 of them, in MmaLayout::
/// wgmmaM64K16(n)'s order), A and B 16-bit of type `elem` in shared
/// memory, described by `descA` and `descB`, each K-major or, where
/// `aMnMajor` / `bMnMajor`, MN-major (the instruction's transposes).
/// Issued, not waited for: fence before (warpgroupFence), commit and wait
/// after.
SmallVector<Value> warpgroupMma(OpBuilder &b, Location loc, ValueRange acc,
                                Value descA, Value descB, int64_t n, Type elem,
                                bool aMnMajor, bool bMnMajor);
/// acc += A B as warpgroupMma, A from registers: each warp's 16 rows of
/// A's 64 (warp w of the warpgroup rows 16 w to 16 w + 15) in `a`, the
/// four packed registers of mma.sync.m16n8k16's A fragment (MmaLayout::
/// wgmmaM64K16's A table), B in shared memory described by `descB`.
SmallVector<Value> warpgroupMmaRegisterA(OpBuilder &b, Location loc,
                                         ValueRange acc, ValueRange a,
                                         Value descB, int64_t n, Type elem,
                                         bool bMnMajor);
/// `values` (f32) passed through an empty volatile inline-asm statement
/// that claims to read and write them: their uses cannot move above it,
/// nor their definitions below. After a wgmma.wait this keeps LLVM from
/// reading an accumulator (a copy, a spill) before the wait that makes it
/// valid; before the wgmma.fence, from writing one after it.
SmallVector<Value> pinRegisters(OpBuilder &b, Location loc, ValueRange values);
/// `value` (i64) passed through an empty volatile inline-asm statement
/// that claims to read and write it: a copy of its own at each use, which
/// LLVM neither hoists out of a loop nor shares with another use, so what
/// is computed from it stays where it is used (SwizzledTile::descriptor).
Value pinRegister(OpBuilder &b, Location loc, Value value);
/// wgmma.fence: orders the accumulators' registers written by other
/// instructions before the wgmma that read them.
void warpgroupFence(OpBuilder &b, Location loc);
/// Commits the wgmma issued so far as one group and waits until at most
/// `pending` groups are in flight.
void warpgroupCommitAndWait(OpBuilder &b, Location loc, int64_t pending);
/// Commits the wgmma issued since the last commit as one group (an empty
/// group where there are none).
void warpgroupCommit(OpBuilder &b, Location loc);
/// Waits until at most the newest `pending` committed groups are in flight.
void warpgroupWait(OpBuilder &b, Location loc, int64_t pending);
/// fence.proxy.async.shared::cta: shared memory this thread wrote (by
/// ordinary stores or cp.async) is seen by the async proxy, which wgmma
/// reads through; then a barrier.
void fenceSharedForAsyncProxy(OpBuilder &b, Location loc);
/// fence.proxy.async.shared::cta alone, for a thread whose shared-memory
/// writes are complete (a cp.async group waited for) before the barrier
/// that makes them the block's.
void fenceProxyAsyncShared(OpBuilder &b, Location loc);

} // namespace mlir::attn::gpu_tiles

#endif // ATTN_CONVERSION_WARPGROUPMMA_H

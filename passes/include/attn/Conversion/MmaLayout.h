//===- MmaLayout.h - tensor-core fragment layouts as data -------*- C++ -*-===//
//
// Which thread holds which element of a tensor-core operand, as a table
// rather than as index arithmetic inside the lowerings. Thread i of the
// instruction's threads (a warp for mma.sync, a warpgroup of four warps for
// wgmma) is lane l = i % 32 of warp w = i / 32; l is 4 g + t: g = l / 4 its
// group (0-7), t = l % 4 its place in the group. Element e of its fragment
// is (row, column)
//   (w rowPerWarp + g rowPerGroup + t rowPerThread + rowOf[e],
//    g colPerGroup + t colPerThread + colOf[e])
// of the operand (PTX ISA, "Matrix Fragments for mma.m16n8k16", "...
// mma.m16n8k8" and "Register Fragments and Shared Memory Matrix Layouts"
// for wgmma); consecutive elements are packed into 32-bit registers.
// Everything the lowerings need beyond that -- the rows of an accumulator
// a lane holds, the lanes that share a row (for row maxima and sums by
// shuffles), and which registers of an accumulator become the A operand of
// the next product (P in P V) -- is derived from the tables here, so that a
// new shape is a new table.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_CONVERSION_MMALAYOUT_H
#define ATTN_CONVERSION_MMALAYOUT_H

#include "llvm/ADT/SmallVector.h"

#include <array>
#include <cstdint>
#include <optional>

namespace mlir::attn {

/// An operand held in registers. An operand the instruction reads from
/// shared memory (wgmma's B, through a matrix descriptor) has no register
/// table: no elements.
struct FragmentLayout {
  int64_t rows, cols;
  int64_t rowPerGroup, rowPerThread, colPerGroup, colPerThread;
  llvm::SmallVector<int64_t, 8> rowOf, colOf;
  int64_t elementsPerRegister;
  /// The threads that hold the operand together, and the rows each warp of
  /// them starts at past the previous one's.
  int64_t threads = 32, rowPerWarp = 0;

  int64_t numElements() const { return rowOf.size(); }
  int64_t numRegisters() const { return numElements() / elementsPerRegister; }
  /// Thread `thread`'s element `e`: (row, column).
  std::array<int64_t, 2> at(int64_t thread, int64_t e) const {
    int64_t w = thread / 32, g = thread % 32 / 4, t = thread % 4;
    return {w * rowPerWarp + g * rowPerGroup + t * rowPerThread + rowOf[e],
            g * colPerGroup + t * colPerThread + colOf[e]};
  }
  /// The distinct row offsets of a lane's elements, ascending: the rows a
  /// lane holds, relative to its first.
  llvm::SmallVector<int64_t, 4> rowSlots() const;
  /// The elements of the lane's row slot `slot` (see rowSlots), in column
  /// order.
  llvm::SmallVector<int64_t, 4> elementsOfRowSlot(int64_t slot) const;
  /// The lane masks x such that lanes l and l ^ x of a warp hold the same
  /// rows for every l: a row's values are reduced by xor shuffles over
  /// these (a row never spans warps). None for an operand without a
  /// register table.
  llvm::SmallVector<int32_t, 4> rowSharingShuffles() const;
};

/// One tensor-core shape: D[m, n] = A[m, k] B[k, n] + C[m, n].
struct MmaLayout {
  int64_t m, n, k;
  FragmentLayout a, b, c;

  /// mma.sync.m16n8k16 with bf16 or f16 operands, f32 accumulators.
  static const MmaLayout &m16n8k16();
  /// mma.sync.m16n8k8 with tf32 operands, f32 accumulators.
  static const MmaLayout &m16n8k8();
  /// m16n8k8 with K taken in another order: the instruction's k = t and
  /// t + 4 hold the operands' columns (A) and rows (B) 2 t and 2 t + 1, in
  /// both operands alike, so that the sum over K is the same. A then holds
  /// what the accumulators hold (columns 2 t, 2 t + 1 of rows g, g + 8):
  /// P becomes P V's A operand in place (accumulatorAsA), and a lane's two
  /// elements of a row lie side by side (one 8-byte load). The f32
  /// attention's products (3xTF32) use it.
  static const MmaLayout &m16n8k8PairedK();
  /// wgmma.mma_async.m64nNk16 (sm_90a) with bf16 or f16 operands, A in
  /// registers, B in shared memory, f32 accumulators; `n` a multiple of 8
  /// from 8 to 256. A warpgroup's warp w holds rows 16 w to 16 w + 15 of A
  /// and C, each as mma.sync.m16n8k16 would (C: one m16n8 tile every 8
  /// columns).
  static MmaLayout wgmmaM64K16(int64_t n);

  /// Accumulators become the next product's A operand without moving
  /// between lanes where the same thread holds the same (row, column) in
  /// both: A's k-slice `slice` (columns slice k to slice k + k - 1 of the
  /// accumulators, which are tiles of `n` columns side by side) is read
  /// from registers the thread has. For each A register: (the accumulator
  /// tile, the thread's row slot in it, its register-sized run of that row
  /// slot's elements). mma.sync's k-slice spans k / n tiles; wgmma's tile
  /// spans n / k slices. None where the layouts do not line up.
  struct AccumulatorRegister {
    int64_t tile, rowSlot, run;
  };
  std::optional<llvm::SmallVector<AccumulatorRegister, 4>>
  accumulatorAsA(int64_t slice = 0) const;
};

} // namespace mlir::attn

#endif // ATTN_CONVERSION_MMALAYOUT_H

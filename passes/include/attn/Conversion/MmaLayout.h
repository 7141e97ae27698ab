//===- MmaLayout.h - mma.sync fragment layouts as data ----------*- C++ -*-===//
//
// Which lane of a warp holds which element of an mma.sync operand, as a
// table rather than as index arithmetic inside the lowerings. Lane l is
// 4 g + t: g = l / 4 its group (0-7), t = l % 4 its place in the group.
// Element e of its fragment is (row, column)
//   (g rowPerGroup + t rowPerThread + rowOf[e],
//    g colPerGroup + t colPerThread + colOf[e])
// of the operand (PTX ISA, "Matrix Fragments for mma.m16n8k16" and
// "... mma.m16n8k8"); consecutive elements are packed into 32-bit
// registers. Everything the lowerings need beyond that -- the rows of an
// accumulator a lane holds, the lanes that share a row (for row maxima and
// sums by shuffles), and which registers of an accumulator become the A
// operand of the next product (P in P V) -- is derived from the tables
// here, so that a new shape (wgmma's m64nNk16) is a new table.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_CONVERSION_MMALAYOUT_H
#define ATTN_CONVERSION_MMALAYOUT_H

#include "llvm/ADT/SmallVector.h"

#include <array>
#include <cstdint>
#include <optional>

namespace mlir::attn {

struct FragmentLayout {
  int64_t rows, cols;
  int64_t rowPerGroup, rowPerThread, colPerGroup, colPerThread;
  llvm::SmallVector<int64_t, 8> rowOf, colOf;
  int64_t elementsPerRegister;

  int64_t numElements() const { return rowOf.size(); }
  int64_t numRegisters() const { return numElements() / elementsPerRegister; }
  /// Lane `lane`'s element `e`: (row, column).
  std::array<int64_t, 2> at(int64_t lane, int64_t e) const {
    int64_t g = lane / 4, t = lane % 4;
    return {g * rowPerGroup + t * rowPerThread + rowOf[e],
            g * colPerGroup + t * colPerThread + colOf[e]};
  }
  /// The distinct row offsets of a lane's elements, ascending: the rows a
  /// lane holds, relative to its first.
  llvm::SmallVector<int64_t, 4> rowSlots() const;
  /// The elements of the lane's row slot `slot` (see rowSlots), in column
  /// order.
  llvm::SmallVector<int64_t, 4> elementsOfRowSlot(int64_t slot) const;
  /// The lane masks x such that lanes l and l ^ x hold the same rows for
  /// every l: a row's values are reduced by xor shuffles over these.
  llvm::SmallVector<int32_t, 4> rowSharingShuffles() const;
};

/// One mma.sync shape: D[m, n] = A[m, k] B[k, n] + C[m, n].
struct MmaLayout {
  int64_t m, n, k;
  FragmentLayout a, b, c;

  /// mma.sync.m16n8k16 with bf16 or f16 operands, f32 accumulators.
  static const MmaLayout &m16n8k16();
  /// mma.sync.m16n8k8 with tf32 operands, f32 accumulators.
  static const MmaLayout &m16n8k8();

  /// Accumulators become the next product's A operand without moving
  /// between lanes where A's k-slice of `k` columns is `k / n` accumulator
  /// tiles side by side and every A register's elements are a lane's
  /// elements of one of them. For each A register: (the accumulator tile
  /// within the k-slice, the lane's row slot in it, its register-sized run
  /// of that row slot's elements). None where the layouts do not line up.
  struct AccumulatorRegister {
    int64_t tile, rowSlot, run;
  };
  std::optional<llvm::SmallVector<AccumulatorRegister, 4>>
  accumulatorAsA() const;
};

} // namespace mlir::attn

#endif // ATTN_CONVERSION_MMALAYOUT_H

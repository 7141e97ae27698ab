//===- MmaLayout.cpp - tensor-core fragment layouts as data ---------------===//

#include "attn/Conversion/MmaLayout.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/Sequence.h"

#include <cassert>

using namespace mlir::attn;

llvm::SmallVector<int64_t, 4> FragmentLayout::rowSlots() const {
  llvm::SmallVector<int64_t, 4> slots(rowOf.begin(), rowOf.end());
  llvm::sort(slots);
  slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
  return slots;
}

llvm::SmallVector<int64_t, 4>
FragmentLayout::elementsOfRowSlot(int64_t slot) const {
  int64_t row = rowSlots()[slot];
  llvm::SmallVector<int64_t, 4> elements;
  for (int64_t e = 0; e < numElements(); ++e)
    if (rowOf[e] == row)
      elements.push_back(e);
  llvm::stable_sort(elements,
                    [&](int64_t x, int64_t y) { return colOf[x] < colOf[y]; });
  return elements;
}

llvm::SmallVector<int32_t, 4> FragmentLayout::rowSharingShuffles() const {
  llvm::SmallVector<int32_t, 4> masks;
  if (numElements() == 0)
    return masks;
  for (int32_t x = 1; x < 32; x <<= 1)
    if (llvm::all_of(llvm::seq<int64_t>(0, threads), [&](int64_t lane) {
          return at(lane, 0)[0] == at(lane ^ x, 0)[0];
        }))
      masks.push_back(x);
  return masks;
}

const MmaLayout &MmaLayout::m16n8k16() {
  static const MmaLayout layout{
      16,
      8,
      16,
      // A: registers (g, 2t), (g + 8, 2t), (g, 2t + 8), (g + 8, 2t + 8).
      {16, 16, 1, 0, 0, 2, {0, 0, 8, 8, 0, 0, 8, 8}, {0, 1, 0, 1, 8, 9, 8, 9},
       2},
      // B (k x n): registers (2t, g), (2t + 8, g).
      {16, 8, 0, 2, 1, 0, {0, 1, 8, 9}, {0, 0, 0, 0}, 2},
      // C: (g, 2t + {0, 1}), (g + 8, 2t + {0, 1}), one f32 a register.
      {16, 8, 1, 0, 0, 2, {0, 0, 8, 8}, {0, 1, 0, 1}, 1}};
  return layout;
}

const MmaLayout &MmaLayout::m16n8k8() {
  static const MmaLayout layout{
      16,
      8,
      8,
      // A: (g, t), (g + 8, t), (g, t + 4), (g + 8, t + 4).
      {16, 8, 1, 0, 0, 1, {0, 8, 0, 8}, {0, 0, 4, 4}, 1},
      // B (k x n): (t, g), (t + 4, g).
      {8, 8, 0, 1, 1, 0, {0, 4}, {0, 0}, 1},
      {16, 8, 1, 0, 0, 2, {0, 0, 8, 8}, {0, 1, 0, 1}, 1}};
  return layout;
}

const MmaLayout &MmaLayout::m16n8k8PairedK() {
  static const MmaLayout layout{
      16,
      8,
      8,
      // A: (g, 2t), (g + 8, 2t), (g, 2t + 1), (g + 8, 2t + 1).
      {16, 8, 1, 0, 0, 2, {0, 8, 0, 8}, {0, 0, 1, 1}, 1},
      // B (k x n): (2t, g), (2t + 1, g).
      {8, 8, 0, 2, 1, 0, {0, 1}, {0, 0}, 1},
      m16n8k8().c};
  return layout;
}

MmaLayout MmaLayout::wgmmaM64K16(int64_t n) {
  assert(n % 8 == 0 && n >= 8 && n <= 256 && "wgmma's n: 8 to 256 by 8");
  // A: as mma.sync.m16n8k16's in each warp's 16 rows.
  FragmentLayout a = m16n8k16().a;
  a.rows = 64;
  a.threads = 128;
  a.rowPerWarp = 16;
  // B: from shared memory.
  FragmentLayout b{16, n, 0, 0, 0, 0, {}, {}, 2, 128, 0};
  // C: m16n8k16's accumulator tile every 8 columns of the warp's rows.
  const FragmentLayout &tile = m16n8k16().c;
  FragmentLayout c = tile;
  c.rows = 64;
  c.cols = n;
  c.threads = 128;
  c.rowPerWarp = 16;
  c.rowOf.clear();
  c.colOf.clear();
  for (int64_t i = 0; i < n / 2; ++i) {
    int64_t e = i % tile.numElements();
    c.rowOf.push_back(tile.rowOf[e]);
    c.colOf.push_back(tile.cols * (i / tile.numElements()) + tile.colOf[e]);
  }
  return {64, n, 16, std::move(a), std::move(b), std::move(c)};
}

std::optional<llvm::SmallVector<MmaLayout::AccumulatorRegister, 4>>
MmaLayout::accumulatorAsA(int64_t slice) const {
  // The same threads must hold the same rows and columns (up to the tile).
  if ((k % n && n % k) || a.threads != c.threads ||
      a.rowPerWarp != c.rowPerWarp || a.rowPerGroup != c.rowPerGroup ||
      a.rowPerThread != c.rowPerThread || a.colPerGroup != c.colPerGroup ||
      a.colPerThread != c.colPerThread)
    return std::nullopt;
  llvm::SmallVector<int64_t, 4> slots = c.rowSlots();
  llvm::SmallVector<AccumulatorRegister, 4> out;
  const int64_t width = a.elementsPerRegister;
  for (int64_t r = 0; r < a.numRegisters(); ++r) {
    int64_t first = r * width;
    const int64_t *slot = llvm::find(slots, a.rowOf[first]);
    if (slot == slots.end())
      return std::nullopt;
    int64_t slotIndex = slot - slots.begin();
    llvm::SmallVector<int64_t, 4> elements = c.elementsOfRowSlot(slotIndex);
    // The accumulators' column of A's element: its tile and its column in
    // the tile.
    auto column = [&](int64_t e) { return slice * k + a.colOf[e]; };
    int64_t tile = column(first) / n;
    // Where the register's first element sits among the slot's elements.
    const int64_t *at = llvm::find_if(
        elements, [&](int64_t e) { return c.colOf[e] == column(first) % n; });
    int64_t position = at - elements.begin();
    if (at == elements.end() || position % width ||
        position + width > static_cast<int64_t>(elements.size()))
      return std::nullopt;
    for (int64_t i = 0; i < width; ++i)
      if (a.rowOf[first + i] != a.rowOf[first] ||
          column(first + i) / n != tile ||
          c.colOf[elements[position + i]] != column(first + i) % n)
        return std::nullopt;
    out.push_back({tile, slotIndex, position / width});
  }
  return out;
}

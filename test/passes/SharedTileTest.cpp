//===- SharedTileTest.cpp - swizzled tiles' IR against SharedLayout -------===//
//
// SwizzledTile emits where each 16-byte run of a staged tile lies as IR;
// SharedLayout states the hardware's swizzle modes as plain functions
// (checked against the PTX ISA in SharedLayoutTest). Here the IR is built on
// constants, folded, and compared with those functions for every run of
// each tile shape the lowerings stage -- wgmma's 128-byte rows and the
// narrower rows only ldmatrix reads -- and the property the layout is for
// is checked: the eight rows of one ldmatrix phase start in eight different
// groups of banks.
//
//===----------------------------------------------------------------------===//

#include "FoldedIR.h"

#include <set>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_tiles;

namespace {

/// Attention's staged tiles (64 or 128 rows of head dims of 32 to 128, and
/// each warp's 16 or 32 query rows), linear attention's (128 keys of a
/// 16-feature slice and of the values, 16 own keys), and the warpgroup
/// products' operand tiles; widths that are not powers of two too.
const SwizzledTile kTiles[] = {{128, 64}, {64, 128},  {64, 256}, {256, 64},
                               {64, 64},  {128, 128}, {32, 64},  {16, 64},
                               {64, 32},  {16, 32},   {128, 16}, {16, 16},
                               {64, 48},  {16, 96},   {32, 8},   {100, 64}};

/// The runs of `tile`: every row, every 8 columns.
std::vector<std::pair<int64_t, int64_t>> runsOf(const SwizzledTile &tile) {
  std::vector<std::pair<int64_t, int64_t>> runs;
  for (int64_t row = 0; row < tile.rows; ++row)
    for (int64_t col = 0; col < tile.cols; col += 8)
      runs.push_back({row, col});
  return runs;
}

/// SwizzledTile::runOffset of every run of `tile`, folded.
std::vector<int64_t> runOffsets(const SwizzledTile &tile) {
  std::vector<std::pair<int64_t, int64_t>> runs = runsOf(tile);
  return foldToConstants([&](ScalarEmitter &e) {
    SmallVector<Value> v;
    for (auto [row, col] : runs)
      v.push_back(tile.runOffset(e, e.idx(row), e.idx(col)));
    return v;
  });
}

TEST(SharedTile, BlocksAndModes) {
  EXPECT_EQ((SwizzledTile{64, 128}.blockCols()), 64);
  EXPECT_EQ((SwizzledTile{64, 128}.mode()), Swizzle::Bytes128);
  EXPECT_EQ((SwizzledTile{64, 32}.mode()), Swizzle::Bytes64);
  EXPECT_EQ((SwizzledTile{64, 96}.blockCols()), 32);
  EXPECT_EQ((SwizzledTile{128, 16}.mode()), Swizzle::Bytes32);
  EXPECT_EQ((SwizzledTile{64, 48}.blockCols()), 16);
  EXPECT_EQ((SwizzledTile{32, 8}.mode()), Swizzle::None);
}

TEST(SharedTile, RunOffsetsAreSharedLayoutsSwizzle) {
  for (const SwizzledTile &tile : kTiles) {
    std::vector<std::pair<int64_t, int64_t>> runs = runsOf(tile);
    std::vector<int64_t> offsets = runOffsets(tile);
    ASSERT_EQ(offsets.size(), runs.size());
    const int64_t block = tile.blockCols(), bytesPerRow = block * 2;
    EXPECT_EQ(bytesPerRow, rowBytes(tile.mode())) << "a row is one mode's row";
    std::set<int64_t> distinct;
    for (size_t i = 0; i < runs.size(); ++i) {
      auto [row, col] = runs[i];
      // Each block of columns is rows of rowBytes, one after another.
      int64_t unswizzled = row * bytesPerRow + col % block * 2;
      EXPECT_EQ(offsets[i], col / block * tile.rows * bytesPerRow +
                                swizzledOffset(unswizzled, tile.mode()))
          << "tile " << tile.rows << " x " << tile.cols << ", row " << row
          << ", column " << col;
      distinct.insert(offsets[i]);
    }
    // Every run has bytes of its own inside the tile.
    EXPECT_EQ(distinct.size(), runs.size());
    EXPECT_GE(*distinct.begin(), 0);
    EXPECT_LT(*distinct.rbegin(), tile.bytes());
  }
}

TEST(SharedTile, LdmatrixPhasesAreFreeOfBankConflicts) {
  // One phase of ldmatrix reads one 8 x 8 matrix: the runs at one column of
  // eight rows from a multiple of 8. Their banks are distinct where the
  // runs' 16-byte groups of banks, (offset / 16) mod 8, are -- wherever the
  // tile starts, at any multiple of 16 bytes, which shifts them all alike.
  for (const SwizzledTile &tile : kTiles) {
    if (tile.blockCols() == 8)
      continue; // 16-byte rows: eight rows span 128 bytes unswizzled.
    std::vector<int64_t> offsets = runOffsets(tile);
    const int64_t runsPerRow = tile.cols / 8;
    for (int64_t row0 = 0; row0 + 8 <= tile.rows; row0 += 8)
      for (int64_t run = 0; run < runsPerRow; ++run) {
        std::set<int64_t> groups;
        for (int64_t r = row0; r < row0 + 8; ++r)
          groups.insert(offsets[r * runsPerRow + run] / 16 % 8);
        EXPECT_EQ(groups.size(), 8u)
            << "tile " << tile.rows << " x " << tile.cols << ", rows from "
            << row0 << ", column " << run * 8;
      }
  }
}

TEST(SharedTile, IndicesOfASwizzledViewAreItsRunOffsets) {
  Scratch ir;
  ir.ctx.loadDialect<memref::MemRefDialect>();
  auto type = MemRefType::get({32, 48}, ir.b.getBF16Type());
  Value memref = memref::AllocaOp::create(ir.b, ir.loc, type);
  SharedTile tile = SharedTile::of(memref, TileLayout::Swizzled);
  ASSERT_TRUE(tile.swizzled.has_value());
  EXPECT_EQ(tile.swizzled->rows, 32);
  EXPECT_EQ(tile.swizzled->cols, 48);
  std::vector<int64_t> offsets = runOffsets(*tile.swizzled);
  // Elements: their run's offset in elements, plus their place in the run.
  std::vector<std::pair<int64_t, int64_t>> elements;
  for (int64_t row = 0; row < 32; row += 3)
    for (int64_t col = 0; col < 48; col += 2)
      elements.push_back({row, col});
  std::vector<int64_t> runIndices = foldToConstants([&](ScalarEmitter &e) {
    SmallVector<Value> v;
    for (auto [row, col] : elements)
      if (col % 8 == 0)
        v.push_back(tile.runIndices(e, e.idx(row), e.idx(col))[0]);
    return v;
  });
  std::vector<int64_t> elementIndices = foldToConstants([&](ScalarEmitter &e) {
    SmallVector<Value> v;
    for (auto [row, col] : elements)
      v.push_back(tile.elementIndices(e, e.idx(row), e.idx(col))[0]);
    return v;
  });
  size_t run = 0;
  for (size_t i = 0; i < elements.size(); ++i) {
    auto [row, col] = elements[i];
    int64_t offset = offsets[row * 6 + col / 8] / 2;
    EXPECT_EQ(elementIndices[i], offset + col % 8);
    if (col % 8 == 0) {
      EXPECT_EQ(runIndices[run++], offset);
    }
  }
}

} // namespace

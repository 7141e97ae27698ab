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

#include "attn/Conversion/MmaLayout.h"

#include <map>
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

namespace {

/// Shared-memory wavefronts of one warp-wide load whose lane l reads
/// `words` consecutive 32-bit words from word address addr[l]: 32 banks of
/// one word each, a wavefront serving one address per bank; 8-byte loads a
/// half-warp at a time.
int64_t wavefronts(const std::vector<int64_t> &addr, int64_t words) {
  const int64_t group = words == 1 ? 32 : 16;
  int64_t total = 0;
  for (int64_t first = 0; first < 32; first += group) {
    std::map<int64_t, std::set<int64_t>> byBank;
    for (int64_t l = first; l < first + group; ++l)
      for (int64_t w = 0; w < words; ++w)
        byBank[(addr[l] + w) % 32].insert(addr[l] + w);
    int64_t most = 0;
    for (auto &[bank, addresses] : byBank)
      most = std::max<int64_t>(most, addresses.size());
    total += most;
  }
  return total;
}

/// The loads of fragment `f` from an f32 tile of `rowWords` words a row, at
/// its element (row, col) or, `transposed`, (col, row), as
/// WarpEmitter::loadFragment issues them -- one a lane's element, or one
/// 8-byte load for two elements side by side in a row, the first at an
/// even column -- each as its (wavefronts, the fewest it could take).
std::vector<std::pair<int64_t, int64_t>>
fragmentLoads(const FragmentLayout &f, bool transposed, int64_t rowWords) {
  auto at = [&](int64_t lane, int64_t e) {
    std::array<int64_t, 2> rc = f.at(lane, e);
    if (transposed)
      std::swap(rc[0], rc[1]);
    return rc;
  };
  std::vector<std::pair<int64_t, int64_t>> loads;
  std::vector<bool> done(f.numElements());
  for (int64_t e = 0; e < f.numElements(); ++e) {
    if (done[e])
      continue;
    // The element right of e in every lane's row, e at an even column.
    int64_t next = -1;
    for (int64_t x = 0; x < f.numElements() && next < 0; ++x) {
      bool right = !done[x] && x != e;
      for (int64_t lane = 0; lane < 32 && right; ++lane)
        right = at(lane, e)[1] % 2 == 0 && at(lane, x)[0] == at(lane, e)[0] &&
                at(lane, x)[1] == at(lane, e)[1] + 1;
      if (right)
        next = x;
    }
    std::vector<int64_t> addr;
    for (int64_t lane = 0; lane < 32; ++lane)
      addr.push_back(at(lane, e)[0] * rowWords + at(lane, e)[1]);
    const int64_t words = next < 0 ? 1 : 2;
    loads.push_back({wavefronts(addr, words), words});
    done[e] = true;
    if (next >= 0)
      done[next] = true;
  }
  return loads;
}

/// The most wavefronts any of a fragment's loads takes over the fewest it
/// could, from a tile of `rowWords` words a row: 1 where every load is free
/// of bank conflicts.
int64_t conflictDegree(const FragmentLayout &f, bool transposed,
                       int64_t rowWords) {
  int64_t degree = 0;
  for (auto [taken, fewest] : fragmentLoads(f, transposed, rowWords))
    degree = std::max(degree, taken / fewest);
  return degree;
}

} // namespace

TEST(SharedTile, PaddedF32FragmentsAreFreeOfBankConflicts) {
  const MmaLayout &mma = MmaLayout::m16n8k8PairedK();
  // Read down the columns: B of a row-major [K, N] tile (V, linear
  // attention's state), A of a transposed one (linear attention's K^T):
  // lanes (2 t + i, g), one word each.
  // Read along the rows: A of a row-major tile (Q), B of a transposed one
  // (K as Q K^T's B): lanes (g, 2 t + i), a pair each.
  struct Read {
    const FragmentLayout &f;
    bool transposed, downColumns;
  } reads[] = {{mma.b, false, true},
               {mma.a, true, true},
               {mma.a, false, false},
               {mma.b, true, false}};
  Scratch ir;
  auto rowWords = [&](TileLayout layout, int64_t cols) {
    return cols + paddedRowElements(layout, ir.b.getF32Type());
  };
  for (int64_t cols = 16; cols <= 128; cols += 16)
    for (const Read &r : reads) {
      TileLayout mine =
          r.downColumns ? TileLayout::PaddedForColumns : TileLayout::Padded;
      TileLayout other =
          r.downColumns ? TileLayout::Padded : TileLayout::PaddedForColumns;
      EXPECT_EQ(conflictDegree(r.f, r.transposed, rowWords(mine, cols)), 1)
          << cols << " columns, read " << (r.downColumns ? "down" : "along");
      // The other padding would not do: why each read has its own.
      EXPECT_EQ(conflictDegree(r.f, r.transposed, rowWords(other, cols)), 2)
          << cols << " columns, read " << (r.downColumns ? "down" : "along");
    }
  // 16-bit tiles are padded alike for ldmatrix whichever way they are read.
  for (TileLayout layout : {TileLayout::Padded, TileLayout::PaddedForColumns})
    EXPECT_EQ(paddedRowElements(layout, ir.b.getBF16Type()), 8);
}

//===- SharedLayoutTest.cpp - swizzled shared-memory tiles ----------------===//
//
// Each swizzle against the hardware's XOR of row bits into chunk bits, the
// property it exists for (the eight rows one ldmatrix phase reads fall in
// eight different groups of banks), and wgmma's descriptor bit by bit.

#include "attn/Conversion/SharedLayout.h"

#include "llvm/ADT/STLFunctionalExtras.h"

#include <gtest/gtest.h>

#include <set>

using namespace mlir::attn;

namespace {

const Swizzle kModes[] = {Swizzle::None, Swizzle::Bytes32, Swizzle::Bytes64,
                          Swizzle::Bytes128};

TEST(SharedLayout, RowsAndPatterns) {
  EXPECT_EQ(rowBytes(Swizzle::None), 16);
  EXPECT_EQ(rowBytes(Swizzle::Bytes32), 32);
  EXPECT_EQ(rowBytes(Swizzle::Bytes64), 64);
  EXPECT_EQ(rowBytes(Swizzle::Bytes128), 128);
  EXPECT_EQ(atomBytes(Swizzle::Bytes128), 1024);
}

TEST(SharedLayout, SwizzleMovesWholeChunksWithinEachPattern) {
  for (Swizzle mode : kModes) {
    const int64_t atom = atomBytes(mode);
    std::set<int64_t> seen;
    for (int64_t o = 0; o < 4 * atom; ++o) {
      int64_t s = swizzledOffset(o, mode);
      // A chunk's 16 bytes stay together and in order, in the same pattern.
      EXPECT_EQ(s % 16, o % 16);
      EXPECT_EQ(s / atom, o / atom);
      EXPECT_TRUE(seen.insert(s).second) << "offset " << o << " collides";
    }
  }
}

TEST(SharedLayout, ChunkOfRowIsXoredWithRowBits) {
  for (int64_t row = 0; row < 16; ++row)
    for (int64_t chunk = 0; chunk < 8; ++chunk) {
      // 128 bytes a row: chunk c of row r at c ^ (r mod 8).
      EXPECT_EQ(swizzledOffset(128 * row + 16 * chunk, Swizzle::Bytes128),
                128 * row + 16 * (chunk ^ (row % 8)));
      // 64 bytes a row: c ^ ((r / 2) mod 4); 32 bytes: c ^ ((r / 4) mod 2).
      if (chunk < 4) {
        EXPECT_EQ(swizzledOffset(64 * row + 16 * chunk, Swizzle::Bytes64),
                  64 * row + 16 * (chunk ^ ((row / 2) % 4)));
      }
      if (chunk < 2) {
        EXPECT_EQ(swizzledOffset(32 * row + 16 * chunk, Swizzle::Bytes32),
                  32 * row + 16 * (chunk ^ ((row / 4) % 2)));
      }
    }
}

/// Whether eight rows' 16-byte pieces, the row r's at `offsetOfRow(r)`,
/// fall in eight different groups of four banks (32 banks of 4 bytes: a
/// conflict-free phase of ldmatrix, or of a 16-byte store by eight threads).
bool conflictFree(llvm::function_ref<int64_t(int64_t)> offsetOfRow) {
  std::set<int64_t> groups;
  for (int64_t r = 0; r < 8; ++r)
    groups.insert(offsetOfRow(r) / 16 % 8);
  return groups.size() == 8;
}

TEST(SharedLayout, EightRowsOfAChunkAreConflictFree) {
  for (Swizzle mode : {Swizzle::Bytes32, Swizzle::Bytes64, Swizzle::Bytes128})
    for (int64_t first = 0; first < 32; first += 8)
      for (int64_t chunk = 0; chunk < rowBytes(mode) / 16; ++chunk)
        EXPECT_TRUE(conflictFree([&](int64_t r) {
          return swizzledOffset((first + r) * rowBytes(mode) + 16 * chunk,
                                mode);
        })) << "mode "
            << static_cast<int>(mode) << " rows " << first << " chunk "
            << chunk;
}

TEST(SharedLayout, PlainRowsOf128BytesConflictAndPaddedOnesDoNot) {
  // What the swizzle is for: eight plain 128-byte rows (64 bf16) start in
  // the same banks; today's kernels pad each row by 16 bytes instead.
  EXPECT_FALSE(conflictFree([](int64_t r) { return r * 128; }));
  EXPECT_TRUE(conflictFree([](int64_t r) { return r * (128 + 16); }));
}

TEST(SharedLayout, WgmmaDescriptorFields) {
  // A 128-byte-swizzled tile at 0x400, leading byte offset 16, stride
  // byte offset 1024 (eight rows of 128 bytes).
  uint64_t d = wgmmaDescriptor(0x400, 16, 1024, Swizzle::Bytes128);
  EXPECT_EQ(d & 0x3FFF, 0x40u);
  EXPECT_EQ((d >> 16) & 0x3FFF, 1u);
  EXPECT_EQ((d >> 32) & 0x3FFF, 64u);
  EXPECT_EQ((d >> 49) & 0x7, 0u);
  EXPECT_EQ(d >> 62, 1u);
  EXPECT_EQ(d, 0x40ull | (1ull << 16) | (64ull << 32) | (1ull << 62));
  // Only the address's low 18 bits are encoded (shared addresses).
  EXPECT_EQ(wgmmaDescriptor(0x40400, 16, 1024, Swizzle::Bytes128), d);
  // The swizzle codes and the base offset.
  EXPECT_EQ(wgmmaDescriptor(0, 0, 0, Swizzle::None), 0u);
  EXPECT_EQ(wgmmaDescriptor(0, 0, 0, Swizzle::Bytes64) >> 62, 2u);
  EXPECT_EQ(wgmmaDescriptor(0, 0, 0, Swizzle::Bytes32) >> 62, 3u);
  EXPECT_EQ(wgmmaDescriptor(0, 0, 0, Swizzle::Bytes128, 5) >> 49,
            5u | (1u << 13));
  // The fields do not overlap: all of them at their largest.
  uint64_t full =
      wgmmaDescriptor(0x3FFF0, 0x3FFF0, 0x3FFF0, Swizzle::Bytes32, 7);
  EXPECT_EQ(full, 0x3FFFull | (0x3FFFull << 16) | (0x3FFFull << 32) |
                      (7ull << 49) | (3ull << 62));
}

} // namespace

//===- MmaLayoutTest.cpp - the tensor-core fragment tables and what they give //
//
// Each table against the PTX ISA's description of its fragments, element
// by element for every lane, then the derived facts the lowerings use.

#include "attn/Conversion/MmaLayout.h"

#include "llvm/ADT/STLExtras.h"

#include <gtest/gtest.h>

#include <set>

using namespace mlir::attn;

namespace {

using Coordinates = std::array<int64_t, 2>;

/// Every (row, column) of the operand is held by exactly one (thread,
/// element): the table is a bijection onto the operand.
void expectCoversOnce(const FragmentLayout &f) {
  std::set<Coordinates> seen;
  for (int64_t lane = 0; lane < f.threads; ++lane)
    for (int64_t e = 0; e < f.numElements(); ++e) {
      Coordinates at = f.at(lane, e);
      EXPECT_GE(at[0], 0);
      EXPECT_LT(at[0], f.rows);
      EXPECT_GE(at[1], 0);
      EXPECT_LT(at[1], f.cols);
      EXPECT_TRUE(seen.insert(at).second)
          << "lane " << lane << " element " << e << " repeats (" << at[0]
          << ", " << at[1] << ")";
    }
  EXPECT_EQ(static_cast<int64_t>(seen.size()), f.rows * f.cols);
}

TEST(MmaLayout, M16n8k16MatchesThePtxIsa) {
  const MmaLayout &l = MmaLayout::m16n8k16();
  for (int64_t lane = 0; lane < 32; ++lane) {
    int64_t g = lane / 4, t = lane % 4;
    for (int64_t i = 0; i < 8; ++i) {
      // a_i: row g + 8 ((i / 2) % 2), column 2 t + i % 2 + 8 (i / 4).
      Coordinates a{g + 8 * ((i / 2) % 2), 2 * t + i % 2 + 8 * (i / 4)};
      EXPECT_EQ(l.a.at(lane, i), a) << "A lane " << lane << " element " << i;
    }
    for (int64_t i = 0; i < 4; ++i) {
      // b_i: row (k) 2 t + i % 2 + 8 (i / 2), column g.
      Coordinates b{2 * t + i % 2 + 8 * (i / 2), g};
      EXPECT_EQ(l.b.at(lane, i), b) << "B lane " << lane << " element " << i;
      // c_i: row g + 8 (i / 2), column 2 t + i % 2.
      Coordinates c{g + 8 * (i / 2), 2 * t + i % 2};
      EXPECT_EQ(l.c.at(lane, i), c) << "C lane " << lane << " element " << i;
    }
  }
  expectCoversOnce(l.a);
  expectCoversOnce(l.b);
  expectCoversOnce(l.c);
}

TEST(MmaLayout, M16n8k8MatchesThePtxIsa) {
  const MmaLayout &l = MmaLayout::m16n8k8();
  for (int64_t lane = 0; lane < 32; ++lane) {
    int64_t g = lane / 4, t = lane % 4;
    for (int64_t i = 0; i < 4; ++i) {
      Coordinates a{g + 8 * (i % 2), t + 4 * (i / 2)};
      EXPECT_EQ(l.a.at(lane, i), a) << "A lane " << lane << " element " << i;
    }
    for (int64_t i = 0; i < 2; ++i) {
      Coordinates b{t + 4 * i, g};
      EXPECT_EQ(l.b.at(lane, i), b) << "B lane " << lane << " element " << i;
    }
  }
  expectCoversOnce(l.a);
  expectCoversOnce(l.b);
  expectCoversOnce(l.c);
}

TEST(MmaLayout, AccumulatorRowsAndTheLanesThatShareThem) {
  const FragmentLayout &c = MmaLayout::m16n8k16().c;
  EXPECT_EQ(c.rowSlots(), (llvm::SmallVector<int64_t, 4>{0, 8}));
  EXPECT_EQ(c.elementsOfRowSlot(0), (llvm::SmallVector<int64_t, 4>{0, 1}));
  EXPECT_EQ(c.elementsOfRowSlot(1), (llvm::SmallVector<int64_t, 4>{2, 3}));
  // The four lanes of a group hold a row: xor 1 and 2 stay in the group.
  EXPECT_EQ(c.rowSharingShuffles(), (llvm::SmallVector<int32_t, 4>{1, 2}));
  // B's columns are shared by the lanes of a place t across groups.
  EXPECT_EQ(MmaLayout::m16n8k16().b.rowSharingShuffles(),
            (llvm::SmallVector<int32_t, 4>{4, 8, 16}));
}

/// Each A register of k-slice `slice` derived from the accumulators holds
/// exactly the values that A's table puts there: check by coordinates, for
/// every thread.
void expectAccumulatorAsAMoves(const MmaLayout &l, int64_t slice = 0) {
  std::optional<llvm::SmallVector<MmaLayout::AccumulatorRegister, 4>> regs =
      l.accumulatorAsA(slice);
  ASSERT_TRUE(regs.has_value());
  ASSERT_EQ(static_cast<int64_t>(regs->size()), l.a.numRegisters());
  int64_t width = l.a.elementsPerRegister;
  for (int64_t thread = 0; thread < l.a.threads; ++thread)
    for (auto [r, reg] : llvm::enumerate(*regs)) {
      llvm::SmallVector<int64_t, 4> slot = l.c.elementsOfRowSlot(reg.rowSlot);
      for (int64_t i = 0; i < width; ++i) {
        Coordinates fromC = l.c.at(thread, slot[reg.run * width + i]);
        fromC[1] += reg.tile * l.n;
        Coordinates inA = l.a.at(thread, r * width + i);
        inA[1] += slice * l.k;
        EXPECT_EQ(fromC, inA)
            << "thread " << thread << " register " << r << " slice " << slice;
      }
    }
}

TEST(MmaLayout, AccumulatorsBecomeTheNextAOperandInPlace) {
  const MmaLayout &l = MmaLayout::m16n8k16();
  expectAccumulatorAsAMoves(l);
  // The mapping the softmax's P V had by hand: registers (row slot, tile)
  // (0, 0), (1, 0), (0, 1), (1, 1).
  auto regs = *l.accumulatorAsA();
  int64_t expected[4][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}};
  for (int64_t r = 0; r < 4; ++r) {
    EXPECT_EQ(regs[r].rowSlot, expected[r][0]);
    EXPECT_EQ(regs[r].tile, expected[r][1]);
    EXPECT_EQ(regs[r].run, 0);
  }
}

TEST(MmaLayout, Tf32AccumulatorsAreNotAnAOperand) {
  // m16n8k8's A holds columns t and t + 4, its accumulators 2 t and
  // 2 t + 1: values would have to move between lanes.
  EXPECT_FALSE(MmaLayout::m16n8k8().accumulatorAsA().has_value());
}

TEST(MmaLayout, PairedKIsM16n8k8WithKInPairs) {
  // The instruction's k = t (element 0, 1 of A; 0 of B) and k = t + 4
  // (elements 2, 3; 1) hold K's 2 t and 2 t + 1 in both operands: each
  // lane's A and B elements take the same K, so A B is unchanged.
  const MmaLayout &plain = MmaLayout::m16n8k8();
  const MmaLayout &l = MmaLayout::m16n8k8PairedK();
  auto pairedK = [](int64_t k) { return k < 4 ? 2 * k : 2 * (k - 4) + 1; };
  for (int64_t lane = 0; lane < 32; ++lane) {
    for (int64_t i = 0; i < 4; ++i) {
      Coordinates a = plain.a.at(lane, i);
      EXPECT_EQ(l.a.at(lane, i), (Coordinates{a[0], pairedK(a[1])}))
          << "A lane " << lane << " element " << i;
    }
    for (int64_t i = 0; i < 2; ++i) {
      Coordinates b = plain.b.at(lane, i);
      EXPECT_EQ(l.b.at(lane, i), (Coordinates{pairedK(b[0]), b[1]}))
          << "B lane " << lane << " element " << i;
    }
  }
  expectCoversOnce(l.a);
  expectCoversOnce(l.b);
  EXPECT_EQ(l.c.rowSharingShuffles(), plain.c.rowSharingShuffles());
  // P from S in place: A register r is (row slot, run) (0, 0), (1, 0),
  // (0, 1), (1, 1) of the one accumulator tile of its k-slice.
  expectAccumulatorAsAMoves(l);
  expectAccumulatorAsAMoves(l, /*slice=*/3);
  auto regs = *l.accumulatorAsA();
  int64_t expected[4][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}};
  for (int64_t r = 0; r < 4; ++r) {
    EXPECT_EQ(regs[r].tile, 0);
    EXPECT_EQ(regs[r].rowSlot, expected[r][0]);
    EXPECT_EQ(regs[r].run, expected[r][1]);
  }
}

TEST(MmaLayout, WgmmaM64K16MatchesThePtxIsa) {
  for (int64_t n : {8, 64, 128, 256}) {
    MmaLayout l = MmaLayout::wgmmaM64K16(n);
    EXPECT_EQ(l.c.numElements(), n / 2);
    for (int64_t thread = 0; thread < 128; ++thread) {
      int64_t w = thread / 32, g = thread % 32 / 4, t = thread % 4;
      // d_i: row 16 w + g + 8 ((i / 2) % 2), column 8 (i / 4) + 2 t + i % 2.
      for (int64_t i = 0; i < n / 2; ++i) {
        Coordinates c{16 * w + g + 8 * ((i / 2) % 2),
                      8 * (i / 4) + 2 * t + i % 2};
        EXPECT_EQ(l.c.at(thread, i), c)
            << "n " << n << " C thread " << thread << " element " << i;
      }
      // a_i: row 16 w + g + 8 ((i / 2) % 2), column 2 t + i % 2 + 8 (i / 4).
      for (int64_t i = 0; i < 8; ++i) {
        Coordinates a{16 * w + g + 8 * ((i / 2) % 2),
                      2 * t + i % 2 + 8 * (i / 4)};
        EXPECT_EQ(l.a.at(thread, i), a)
            << "n " << n << " A thread " << thread << " element " << i;
      }
    }
    expectCoversOnce(l.a);
    expectCoversOnce(l.c);
    // B is read from shared memory: no register table.
    EXPECT_EQ(l.b.numElements(), 0);
    EXPECT_TRUE(l.b.rowSharingShuffles().empty());
    // A row stays in its warp's group of four lanes, as with mma.sync.
    EXPECT_EQ(l.c.rowSharingShuffles(), (llvm::SmallVector<int32_t, 4>{1, 2}));
  }
}

TEST(MmaLayout, WgmmaAccumulatorsBecomeTheNextAOperandInPlace) {
  // P V after S = Q K^T, both m64nNk16: each k-slice of 16 keys of P is two
  // of S's 8-column runs, in the registers the thread holds already.
  MmaLayout l = MmaLayout::wgmmaM64K16(64);
  for (int64_t slice = 0; slice < 4; ++slice)
    expectAccumulatorAsAMoves(l, slice);
  auto regs = *l.accumulatorAsA(1);
  int64_t expected[4][2] = {{0, 2}, {1, 2}, {0, 3}, {1, 3}};
  for (int64_t r = 0; r < 4; ++r) {
    EXPECT_EQ(regs[r].tile, 0);
    EXPECT_EQ(regs[r].rowSlot, expected[r][0]);
    EXPECT_EQ(regs[r].run, expected[r][1]);
  }
  // mma.sync's k-slices past the first name tiles past the first.
  expectAccumulatorAsAMoves(MmaLayout::m16n8k16(), 3);
}

} // namespace

//===- WarpgroupMmaTest.cpp - the swizzled tiles' IR against SharedLayout -===//
//
// SwizzledTile emits the matrix descriptors of a wgmma operand tile as IR;
// SharedLayout states them as plain functions (checked against the PTX ISA
// in SharedLayoutTest). Here the IR is built on constants, folded, and
// compared with those functions for every warpgroup's descriptor of every K
// slice of each tile shape the products use (the tiles' byte placement:
// SharedTileTest). The inline PTX of the form with A in registers is
// checked against its operands' order.
//
//===----------------------------------------------------------------------===//

#include "WarpgroupMma.h"
#include "FoldedIR.h"

#include "attn/Conversion/SharedLayout.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

#include <gtest/gtest.h>

#include <set>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_tiles;

namespace {

/// The tiles of the warpgroup products: A [M, K] and Bᵀ [N, K] (K-major),
/// Aᵀ [K, M] and B [K, N] (MN-major), 128 x 64 steps of K.
/// Attention's staged tiles: 64 or 128 rows of a head dim of 64 or 128,
/// read K-major (S = X C^T) and MN-major (acc += A C).
const SwizzledTile kTiles[] = {
    {128, 64, true}, {64, 128, false}, {64, 256, false}, {256, 64, true},
    {64, 64, true},  {64, 64, false},  {128, 128, true}, {128, 128, false}};

TEST(WarpgroupMma, DescriptorsAreSharedLayoutsDescriptors) {
  const int64_t base = 5 * kSwizzledTileAlignment;
  for (const SwizzledTile &tile : kTiles) {
    // The operand's M or N runs along the rows (K-major) or the columns.
    const int64_t extent = tile.kMajor ? tile.rows : tile.cols;
    const int64_t k = tile.kMajor ? tile.cols : tile.rows;
    std::vector<std::pair<int64_t, int64_t>> cases;
    // K-major descriptors start at any group of eight rows (attention's
    // gradient takes its staged rows 32 at a time), MN-major ones at a
    // block of 64 columns.
    for (int64_t mn0 = 0; mn0 < extent; mn0 += tile.kMajor ? 8 : kWgmmaM)
      for (int64_t slice = 0; slice < k / kWgmmaK; ++slice)
        cases.push_back({mn0, slice});
    std::vector<int64_t> descriptors = foldToConstants([&](ScalarEmitter &e) {
      SmallVector<Value> v;
      Value address =
          arith::ConstantOp::create(e.b, e.loc, e.b.getI64IntegerAttr(base));
      for (auto [mn0, slice] : cases)
        v.push_back(tile.descriptor(e, address, e.idx(mn0), slice));
      return v;
    });
    ASSERT_EQ(descriptors.size(), cases.size());
    for (size_t i = 0; i < cases.size(); ++i) {
      auto [mn0, slice] = cases[i];
      int64_t k0 = slice * kWgmmaK;
      uint64_t want =
          tile.kMajor
              // K-major: the wgmma's first row, 32 bytes a K slice into
              // it; groups of eight rows 1024 bytes apart.
              ? wgmmaDescriptor(base + mn0 * SwizzledTile::kRowBytes +
                                    k0 / SwizzledTile::kBlockCols * tile.rows *
                                        SwizzledTile::kRowBytes +
                                    k0 % SwizzledTile::kBlockCols * 2,
                                16, 8 * SwizzledTile::kRowBytes,
                                Swizzle::Bytes128)
              // MN-major: its block of 64 columns, 16 rows of K a slice;
              // blocks a block apart, groups of eight K rows 1024 apart.
              : wgmmaDescriptor(base +
                                    mn0 / SwizzledTile::kBlockCols * tile.rows *
                                        SwizzledTile::kRowBytes +
                                    k0 * SwizzledTile::kRowBytes,
                                tile.rows * SwizzledTile::kRowBytes,
                                8 * SwizzledTile::kRowBytes, Swizzle::Bytes128);
      EXPECT_EQ(static_cast<uint64_t>(descriptors[i]), want)
          << "tile " << tile.rows << " x " << tile.cols << ", from " << mn0
          << ", slice " << slice;
    }
  }
}

// Each K slice's descriptor of a tile wider than one 64-column block is
// one pinned descriptor of its tile and rows plus the slice's offset:
// however many slices a loop reads, one value a tile stays live across it
// (SwizzledTile::descriptor says why); a tile of one block has no pin.
TEST(WarpgroupMma, SlicesShareOnePinnedDescriptor) {
  Scratch ir;
  OpBuilder &b = ir.b;
  auto fn = func::FuncOp::create(b, ir.loc, "f",
                                 b.getFunctionType({b.getI64Type()}, {}));
  b.setInsertionPointToStart(fn.addEntryBlock());
  ScalarEmitter e{b, ir.loc};
  Value address = fn.getArgument(0);
  SmallVector<Value> v;
  // 128 x 128: 8 slices of K either way; 128 x 64: 4 K-major, 8 MN-major.
  for (const SwizzledTile &tile :
       {SwizzledTile{128, 128, true}, SwizzledTile{128, 128, false},
        SwizzledTile{128, 64, true}, SwizzledTile{128, 64, false}}) {
    int64_t slices = (tile.kMajor ? tile.cols : tile.rows) / kWgmmaK;
    for (int64_t slice = 0; slice < slices; ++slice)
      v.push_back(tile.descriptor(
          e, address, e.idx(tile.kMajor ? 64 : tile.cols - kWgmmaM), slice));
  }
  func::ReturnOp::create(b, ir.loc, v);
  fn.setFunctionType(
      b.getFunctionType({b.getI64Type()}, ValueRange(v).getTypes()));
  PassManager pm(&ir.ctx);
  pm.addPass(createCSEPass());
  pm.addPass(createCanonicalizerPass());
  ASSERT_TRUE(succeeded(pm.run(ir.module)));
  std::set<Operation *> pinned;
  int64_t pins = 0;
  fn.walk([&](LLVM::InlineAsmOp pin) {
    ++pins;
    pinned.insert(pin.getOperands()[0].getDefiningOp());
  });
  // A pin at each use of the wide tiles (side effects: neither shared nor
  // hoisted), two pinned values: the K-major and the MN-major tile's first
  // slice.
  EXPECT_EQ(pins, 16);
  EXPECT_EQ(pinned.size(), 2u);
}

/// warpgroupMmaRegisterA's inline PTX: the accumulators' operand numbers
/// tied to the outputs, A's four registers, B's descriptor and the
/// register scale-d reads, in the order the constraints give them.
TEST(WarpgroupMma, RegisterAOperandsAreNumberedAsConstrained) {
  struct Case {
    int64_t n;
    bool bf16, bMnMajor;
    const char *ptx, *constraints;
  };
  // Outputs, the tied accumulators, A, the descriptor, scale-d.
  const Case cases[] = {
      {16, true, false,
       "{\n.reg .pred p;\nsetp.ne.b32 p, $21, 0;\n"
       "wgmma.mma_async.sync.aligned.m64n16k16.f32.bf16.bf16 "
       "{$0, $1, $2, $3, $4, $5, $6, $7}, {$16, $17, $18, $19}, $20, p, 1, "
       "1, 0;\n}\n",
       "=f,=f,=f,=f,=f,=f,=f,=f,0,1,2,3,4,5,6,7,r,r,r,r,l,r"},
      {8, false, true,
       "{\n.reg .pred p;\nsetp.ne.b32 p, $13, 0;\n"
       "wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 "
       "{$0, $1, $2, $3}, {$8, $9, $10, $11}, $12, p, 1, 1, 1;\n}\n",
       "=f,=f,=f,=f,0,1,2,3,r,r,r,r,l,r"}};
  for (const Case &c : cases) {
    Scratch ir;
    OpBuilder &b = ir.b;
    Location loc = ir.loc;
    auto f32 = [&](double v) {
      return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
    };
    auto i32 = [&](int32_t v) {
      return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
    };
    SmallVector<Value> acc, a;
    for (int64_t i = 0; i < c.n / 2; ++i)
      acc.push_back(f32(i));
    for (int32_t i = 0; i < 4; ++i)
      a.push_back(i32(i));
    Value desc = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(7));
    Type elem = c.bf16 ? Type(b.getBF16Type()) : Type(b.getF16Type());
    SmallVector<Value> out =
        warpgroupMmaRegisterA(b, loc, acc, a, desc, c.n, elem, c.bMnMajor);
    ASSERT_EQ(static_cast<int64_t>(out.size()), c.n / 2);
    auto asmOp = out.front()
                     .getDefiningOp()
                     ->getOperand(0)
                     .getDefiningOp<LLVM::InlineAsmOp>();
    ASSERT_TRUE(asmOp);
    EXPECT_EQ(asmOp.getAsmString().str(), c.ptx);
    EXPECT_EQ(asmOp.getConstraints().str(), c.constraints);
    ASSERT_EQ(asmOp.getNumOperands(), static_cast<unsigned>(c.n / 2 + 6));
    EXPECT_EQ(asmOp.getOperand(c.n / 2 + 4), desc);
    EXPECT_EQ(getConstantIntValue(asmOp.getOperand(c.n / 2 + 5)), 1);
  }
}

} // namespace

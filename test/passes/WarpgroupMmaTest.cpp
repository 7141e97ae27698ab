//===- WarpgroupMmaTest.cpp - the swizzled tiles' IR against SharedLayout -===//
//
// SwizzledTile emits the byte placement of a wgmma operand tile and its
// matrix descriptors as IR; SharedLayout states them as plain functions
// (checked against the PTX ISA in SharedLayoutTest). Here the IR is built
// on constants, folded, and compared with those functions for every row
// and 16-byte run of each tile shape the products use, and for every
// warpgroup's descriptor of every K slice. The inline PTX of the form with
// A in registers is checked against its operands' order.
//
//===----------------------------------------------------------------------===//

#include "WarpgroupMma.h"

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

/// A module to build IR in, the builder at its end; erased when done.
struct Scratch {
  MLIRContext ctx;
  OpBuilder b{&ctx};
  Location loc = b.getUnknownLoc();
  ModuleOp module = ModuleOp::create(loc);

  Scratch() {
    ctx.loadDialect<arith::ArithDialect, func::FuncDialect,
                    LLVM::LLVMDialect>();
    b.setInsertionPointToEnd(module.getBody());
  }
  ~Scratch() { module->erase(); }
};

/// Builds `emit`'s values in a function that returns them, folds it, and
/// returns the constants it folded to.
std::vector<int64_t>
foldToConstants(function_ref<SmallVector<Value>(ScalarEmitter &)> emit) {
  Scratch ir;
  OpBuilder &b = ir.b;
  Location loc = ir.loc;
  auto fn = func::FuncOp::create(b, loc, "f", b.getFunctionType({}, {}));
  b.setInsertionPointToStart(fn.addEntryBlock());
  ScalarEmitter e{b, loc};
  SmallVector<Value> values = emit(e);
  func::ReturnOp::create(b, loc, values);
  fn.setFunctionType(b.getFunctionType({}, ValueRange(values).getTypes()));
  PassManager pm(&ir.ctx);
  pm.addPass(createCanonicalizerPass());
  EXPECT_TRUE(succeeded(pm.run(ir.module)));
  std::vector<int64_t> constants;
  auto ret = cast<func::ReturnOp>(fn.getBody().front().getTerminator());
  for (Value v : ret.getOperands()) {
    std::optional<int64_t> c = getConstantIntValue(v);
    EXPECT_TRUE(c.has_value()) << "did not fold to a constant";
    constants.push_back(c.value_or(-1));
  }
  return constants;
}

/// The tiles of the warpgroup products: A [M, K] and Bᵀ [N, K] (K-major),
/// Aᵀ [K, M] and B [K, N] (MN-major), 128 x 64 steps of K.
/// Attention's staged tiles: 64 or 128 rows of a head dim of 64 or 128,
/// read K-major (S = X C^T) and MN-major (acc += A C).
const SwizzledTile kTiles[] = {
    {128, 64, true}, {64, 128, false}, {64, 256, false}, {256, 64, true},
    {64, 64, true},  {64, 64, false},  {128, 128, true}, {128, 128, false}};

TEST(WarpgroupMma, RunOffsetsAreSharedLayoutsSwizzle) {
  for (const SwizzledTile &tile : kTiles) {
    std::vector<std::pair<int64_t, int64_t>> runs;
    for (int64_t row = 0; row < tile.rows; ++row)
      for (int64_t col = 0; col < tile.cols; col += 8)
        runs.push_back({row, col});
    std::vector<int64_t> offsets = foldToConstants([&](ScalarEmitter &e) {
      SmallVector<Value> v;
      for (auto [row, col] : runs)
        v.push_back(tile.runOffset(e, e.idx(row), e.idx(col)));
      return v;
    });
    ASSERT_EQ(offsets.size(), runs.size());
    std::set<int64_t> distinct;
    for (size_t i = 0; i < runs.size(); ++i) {
      auto [row, col] = runs[i];
      // Each block of 64 columns is rows of 128 bytes, one after another.
      int64_t block = col / SwizzledTile::kBlockCols;
      int64_t unswizzled =
          row * SwizzledTile::kRowBytes + col % SwizzledTile::kBlockCols * 2;
      EXPECT_EQ(offsets[i], block * tile.rows * SwizzledTile::kRowBytes +
                                swizzledOffset(unswizzled, Swizzle::Bytes128))
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

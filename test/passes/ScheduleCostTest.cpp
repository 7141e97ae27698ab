//===- ScheduleCostTest.cpp - scheduling costs what the mask keeps --------===//
//
// attn-schedule-blocks classifies only the key tiles that meet a mask's key
// ranges, so a window over 2^22 tokens (65536 query tiles, three kept tiles
// each) schedules in a fraction of a second where asking about every tile
// pair (2^32 of them) took minutes; attn.mask.expr is decided by interval
// reasoning, so a band of 65536 tokens no longer enumerates 2^32 pairs
// (102 s before). The bounds are loose (a sanitizer build is slower); the
// schedules are checked for what they must list.
//
//===----------------------------------------------------------------------===//

#include "attn/IR/AttnOps.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

using namespace mlir;
using namespace mlir::attn;

namespace {
/// Schedules `mask` (ops ending in %m) over n tokens in 64 x 64 tiles;
/// returns the schedule and the seconds it took.
std::pair<ScheduleAttr, double> schedule(MLIRContext &context,
                                         const std::string &mask, int64_t n) {
  std::string t = "tensor<1x1x" + std::to_string(n) + "x16xf32>";
  std::string src = "func.func @f(%q: " + t + ") -> " + t + " {\n" + mask +
                    "\n  %o = attn.sdpa %q, %q, %q mask %m : " + t + ", " + t +
                    ", " + t + ", !attn.mask -> " + t + "\n  return %o : " + t +
                    "\n}\n";
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(src, &context);
  EXPECT_TRUE(module);
  if (!module)
    return {};
  PassManager pm(&context);
  pm.nest<func::FuncOp>().addPass(createScheduleBlocks());
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(succeeded(pm.run(*module)));
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  ScheduleAttr result;
  module->walk([&](SdpaOp op) { result = op.getScheduleAttr(); });
  return {result, seconds};
}

class ScheduleCost : public ::testing::Test {
protected:
  ScheduleCost() {
    DialectRegistry registry;
    registry.insert<AttnDialect, arith::ArithDialect, func::FuncDialect,
                    tensor::TensorDialect>();
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }
  MLIRContext context;
};

/// Query tile i of a band |q - k| <= 64 in 64 x 64 tiles keeps key tiles
/// i-1 (partial), i (full), i+1 (partial), clipped at the ends.
void expectBand(ScheduleAttr s) {
  ASSERT_TRUE(s);
  int64_t rows = s.getNumQueryTiles();
  ArrayRef<int32_t> full = s.getFullBlocks().asArrayRef();
  ArrayRef<int32_t> partial = s.getPartialBlocks().asArrayRef();
  ASSERT_EQ(full.size(), size_t(rows));
  ASSERT_EQ(partial.size(), size_t(2 * rows - 2));
  for (int64_t i : {int64_t(0), int64_t(1), rows / 2, rows - 1}) {
    EXPECT_EQ(full[s.getFullOffsets()[i]], i);
    ArrayRef<int32_t> row =
        partial.slice(s.getPartialOffsets()[i],
                      s.getPartialOffsets()[i + 1] - s.getPartialOffsets()[i]);
    std::vector<int32_t> want;
    if (i > 0)
      want.push_back(i - 1);
    if (i + 1 < rows)
      want.push_back(i + 1);
    EXPECT_EQ(std::vector<int32_t>(row.begin(), row.end()), want);
  }
}
} // namespace

TEST_F(ScheduleCost, WindowOverFourMillionTokens) {
  auto [s, seconds] =
      schedule(context, "  %m = attn.mask.window radius 64", int64_t(1) << 22);
  expectBand(s);
  EXPECT_LT(seconds, 10.0);
  RecordProperty("seconds", std::to_string(seconds));
}

TEST_F(ScheduleCost, ExprBandOver65536Tokens) {
  auto [s, seconds] = schedule(context, R"(
  %m = attn.mask.expr {
  ^bb0(%i: index, %j: index, %n: index):
    %d = arith.subi %i, %j : index
    %c = arith.constant 64 : index
    %a = arith.cmpi sle, %d, %c : index
    %nc = arith.constant -64 : index
    %b = arith.cmpi sge, %d, %nc : index
    %k = arith.andi %a, %b : i1
    attn.yield %k : i1
  })",
                               65536);
  expectBand(s);
  EXPECT_LT(seconds, 10.0);
  RecordProperty("seconds", std::to_string(seconds));
}

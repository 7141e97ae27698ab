//===- FoldedIR.h - IR built on constants and folded, for unit tests ------===//
//
// The conversion passes' helpers emit index arithmetic as IR. Their unit
// tests build that IR on constants in a scratch module, fold it, and compare
// the constants with the plain functions the helpers implement.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TEST_PASSES_FOLDEDIR_H
#define ATTN_TEST_PASSES_FOLDEDIR_H

#include "GPUTiles.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

#include <gtest/gtest.h>

#include <vector>

namespace mlir::attn::gpu_tiles {

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
inline std::vector<int64_t>
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
  // Pinned values (pinRegister: an empty inline-asm statement that reads
  // and writes its operand) are their operand, which folding cannot see.
  fn.walk([](LLVM::InlineAsmOp pin) {
    if (pin.getAsmString().empty() && pin.getNumResults() == 1 &&
        pin.getOperands().size() == 1 &&
        pin.getResult(0).getType() == pin.getOperands()[0].getType()) {
      pin.getResult(0).replaceAllUsesWith(pin.getOperands()[0]);
      pin.erase();
    }
  });
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

} // namespace mlir::attn::gpu_tiles

#endif // ATTN_TEST_PASSES_FOLDEDIR_H

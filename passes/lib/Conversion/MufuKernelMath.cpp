//===- MufuKernelMath.cpp - exp2 and reciprocals as one MUFU instruction --===//
//
// An online softmax computes P = exp2(S - m) for every score it keeps, and
// a GELU's erfc form two exponentials and a reciprocal per element: in
// kernels whose other work per element is a few FMAs, the three or four
// instructions that __nv_exp2f and rcp.approx.f32 take (a scaling on
// either side of the MUFU instruction, which keeps subnormals) are a
// share of the issue slots. ex2.approx.ftz and rcp.approx.ftz are the
// MUFU instruction alone; what they flush to zero (results and inputs
// below 2^-126) is a probability or an exponential too small to change a
// sum it joins.
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/Passes.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Matchers.h"

namespace mlir::attn {
#define GEN_PASS_DEF_MUFUKERNELMATH
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {

/// `op` (one f32 operand and result) as a call of the NVVM intrinsic
/// `name` on `operand`.
void replaceByIntrinsic(Operation *op, StringRef name, Value operand) {
  OpBuilder b(op);
  auto call =
      LLVM::CallIntrinsicOp::create(b, op->getLoc(), op->getResult(0).getType(),
                                    b.getStringAttr(name), ValueRange{operand});
  op->getResult(0).replaceAllUsesWith(call.getResult(0));
  op->erase();
}

struct MufuKernelMathPass
    : public mlir::attn::impl::MufuKernelMathBase<MufuKernelMathPass> {
  void runOnOperation() override {
    SmallVector<Operation *> exps, reciprocals;
    getOperation().walk([&](Operation *op) {
      if (op->getNumResults() != 1 || !op->getResult(0).getType().isF32())
        return;
      if (isa<math::Exp2Op>(op)) {
        exps.push_back(op);
      } else if (auto div = dyn_cast<arith::DivFOp>(op)) {
        if (bitEnumContainsAll(div.getFastmath(), arith::FastMathFlags::afn) &&
            matchPattern(div.getLhs(), m_OneFloat()))
          reciprocals.push_back(op);
      }
    });
    for (Operation *op : exps)
      replaceByIntrinsic(op, "llvm.nvvm.ex2.approx.ftz.f", op->getOperand(0));
    for (Operation *op : reciprocals)
      replaceByIntrinsic(op, "llvm.nvvm.rcp.approx.ftz.f", op->getOperand(1));
  }
};

} // namespace

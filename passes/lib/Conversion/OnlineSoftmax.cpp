//===- OnlineSoftmax.cpp - the online-softmax step, written once ----------===//

#include "attn/Conversion/OnlineSoftmax.h"
#include "attn/IR/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/IRMapping.h"

#include <limits>

using namespace mlir;
using namespace mlir::attn;

namespace {
Value f32(OpBuilder &b, Location loc, double v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}
} // namespace

Value mlir::attn::emitExp(OpBuilder &b, Location loc, Value x, ExpBase base) {
  if (base == ExpBase::Two)
    return math::Exp2Op::create(b, loc, x);
  return math::ExpOp::create(b, loc, x);
}

void mlir::attn::emitOnlineSoftmaxStep(OpBuilder &b, Location loc,
                                       SoftmaxRows &rows) {
  const double inf = std::numeric_limits<double>::infinity();
  SmallVector<Value> alpha, newMax, newSum;
  for (int64_t r = 0; r < rows.numRows(); ++r) {
    Value m = rows.max(b, loc, r);
    Value grown = arith::MaxNumFOp::create(b, loc, m, rows.scoreMax(b, loc, r));
    Value none = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                       grown, f32(b, loc, -inf));
    Value base = arith::SelectOp::create(b, loc, none, f32(b, loc, 0), grown);
    alpha.push_back(
        emitExp(b, loc, arith::SubFOp::create(b, loc, m, base),
                rows.expBase()));
    Value l = rows.sum(b, loc, r);
    Value added = rows.exponentiate(b, loc, r, base);
    newMax.push_back(grown);
    newSum.push_back(math::FmaOp::create(b, loc, l, alpha.back(), added));
  }
  rows.accumulate(b, loc, alpha);
  for (int64_t r = 0; r < rows.numRows(); ++r) {
    rows.setMax(b, loc, r, newMax[r]);
    rows.setSum(b, loc, r, newSum[r]);
  }
}

Value mlir::attn::emitInverseSum(OpBuilder &b, Location loc, Value sum) {
  Value any = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, sum,
                                    f32(b, loc, 0));
  return arith::SelectOp::create(
      b, loc, any, arith::DivFOp::create(b, loc, f32(b, loc, 1), sum),
      f32(b, loc, 0));
}

Value mlir::attn::emitLogSumExp(OpBuilder &b, Location loc, Value max,
                                Value sum, ExpBase base) {
  Value any = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, sum,
                                    f32(b, loc, 0));
  Value lse;
  if (base == ExpBase::Two)
    lse = arith::MulFOp::create(
        b, loc,
        arith::AddFOp::create(b, loc, max, math::Log2Op::create(b, loc, sum)),
        f32(b, loc, 0.6931471805599453)); // ln 2
  else
    lse = arith::AddFOp::create(b, loc, max, math::LogOp::create(b, loc, sum));
  return arith::SelectOp::create(
      b, loc, any, lse, f32(b, loc, std::numeric_limits<double>::infinity()));
}

Value mlir::attn::emitKeptAt(OpBuilder &b, Location loc, SoftmaxStepOp op,
                             Value row, Value key) {
  if (op.getPredicate().empty())
    return nullptr;
  Block &pred = op.getPredicate().front();
  IRMapping map;
  map.map(pred.getArgument(0),
          arith::AddIOp::create(b, loc, op.getQueryOffset(), row));
  map.map(pred.getArgument(1),
          arith::AddIOp::create(b, loc, op.getKeyOffset(), key));
  for (Operation &inner : pred.without_terminator())
    b.clone(inner, map);
  return map.lookupOrDefault(pred.getTerminator()->getOperand(0));
}

//===- ScoreMod.cpp - score-modification regions: checks, clones, slopes --===//

#include "attn/IR/ScoreMod.h"
#include "attn/IR/AttnOps.h"
#include "attn/IR/Tangents.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;
using namespace mlir::attn;

bool mlir::attn::isScoreModOp(Operation *op) {
  if (!isa<arith::ArithDialect, math::MathDialect>(op->getDialect()) ||
      op->getNumResults() != 1 || !BodyTangents::hasRule(op))
    return false;
  // Scalars only: every form applies the region to one pair at a time.
  auto scalar = [](Type t) { return t.isIntOrIndexOrFloat(); };
  return llvm::all_of(op->getOperandTypes(), scalar) &&
         llvm::all_of(op->getResultTypes(), scalar);
}

LogicalResult mlir::attn::verifyScoreRegion(Operation *op, Region &region,
                                            unsigned numIndices,
                                            StringRef signature) {
  if (region.empty())
    return success();
  if (!region.hasOneBlock())
    return op->emitOpError("score region must have one block");
  Block &body = region.front();
  bool argsOk = body.getNumArguments() == numIndices + 1 &&
                body.getArgument(0).getType().isF32();
  for (unsigned i = 1; argsOk && i <= numIndices; ++i)
    argsOk = body.getArgument(i).getType().isIndex();
  if (!argsOk)
    return op->emitOpError("score region must take ") << signature;
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield || yield.getValues().size() != 1 ||
      !yield.getValues()[0].getType().isF32())
    return op->emitOpError("score region must end with 'attn.yield' of an "
                           "f32");
  for (Operation &inner : body.without_terminator())
    if (!isScoreModOp(&inner))
      return inner.emitOpError(
          "is not allowed in a score region: it may hold scalar arith and "
          "math ops whose float results have a derivative rule (addf, subf, "
          "mulf, divf, negf, the max and min ops, select, exp, log, sqrt, "
          "tanh, absf; constants and conversions from integers)");
  return success();
}

/// The region cloned at `b` for score `s` and `indices`; with `withSlope`,
/// also the result's derivative in `s` (BodyTangents over the clone).
static ScoreWithSlope cloneScoreRegion(OpBuilder &b, Location loc,
                                       Region &region, Value s,
                                       ValueRange indices, bool withSlope) {
  Block &body = region.front();
  IRMapping map;
  map.map(body.getArgument(0), s);
  for (auto [arg, index] :
       llvm::zip_equal(body.getArguments().drop_front(), indices))
    map.map(arg, index);
  BodyTangents tangents(b, loc);
  if (withSlope)
    tangents.seed(s);
  for (Operation &op : body.without_terminator()) {
    Operation *copy = b.clone(op, map);
    // The verifier admits only ops with a rule.
    if (withSlope && failed(tangents.visit(copy)))
      llvm_unreachable("a score region op without a derivative rule");
  }
  Value result = map.lookupOrDefault(body.getTerminator()->getOperand(0));
  if (!withSlope)
    return {result, Value()};
  Value slope = tangents.of(result);
  if (!slope)
    slope = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
  return {result, slope};
}

Value mlir::attn::emitScoreMod(OpBuilder &b, Location loc, Region &region,
                               Value s, ValueRange indices) {
  return cloneScoreRegion(b, loc, region, s, indices, /*withSlope=*/false)
      .score;
}

ScoreWithSlope mlir::attn::emitScoreModWithSlope(OpBuilder &b, Location loc,
                                                 Region &region, Value s,
                                                 ValueRange indices) {
  return cloneScoreRegion(b, loc, region, s, indices, /*withSlope=*/true);
}

void mlir::attn::bindScoreRegion(OpBuilder &b, Location loc, Region &from,
                                 Region &to, Value batch, Value head) {
  Type index = b.getIndexType();
  OpBuilder::InsertionGuard guard(b);
  Block *block =
      b.createBlock(&to, {}, {b.getF32Type(), index, index}, {loc, loc, loc});
  Block &body = from.front();
  IRMapping map;
  map.map(body.getArgument(0), block->getArgument(0));
  map.map(body.getArgument(1), batch);
  map.map(body.getArgument(2), head);
  map.map(body.getArgument(3), block->getArgument(1));
  map.map(body.getArgument(4), block->getArgument(2));
  for (Operation &op : body)
    b.clone(op, map);
}

//===- MaskExpr.cpp - attn.mask.expr: a pattern given by a region ---------===//
//
// The region is inlined into partial tiles as it is, and interpreted to
// classify tiles (PredicateProgram): by interval reasoning over a tile's
// ranges of q and k, halving where the ranges do not decide, so that a
// mostly-empty pattern costs what it keeps. The interpreter covers the
// integer arith ops; the verifier accepts exactly the ops it covers, so every
// verified region can be classified.
//
//===----------------------------------------------------------------------===//

#include "PredicateProgram.h"
#include "attn/IR/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;
using namespace mlir::attn;
using mlir::attn::detail::PredicateProgram;

namespace {
/// The region compiled once for repeated evaluation: inputs (q, k, n).
PredicateProgram compile(ExprMaskOp op) {
  Block &body = op.getBody().front();
  SmallVector<Value> inputs(body.getArguments());
  std::optional<PredicateProgram> program =
      PredicateProgram::compile(body, body.getTerminator()->getIterator(),
                                inputs, body.getTerminator()->getOperand(0));
  assert(program && "the verifier admits interpretable regions only");
  return std::move(*program);
}

using Interval = PredicateProgram::Interval;

/// Decides tile `t` by interval reasoning over its ranges of q and k,
/// halving the longer side where the ranges do not decide: a pair alone is
/// always decided, so this is exact; a band or a few blocks take
/// O(perimeter x log) range evaluations instead of one per pair.
TileKind classifyByHalving(PredicateProgram &program, int64_t n,
                           const TileRange &t) {
  std::optional<bool> all =
      program.decide({Interval{t.qBegin, t.qEnd - 1},
                      Interval{t.kBegin, t.kEnd - 1}, Interval{n, n}});
  if (all)
    return *all ? TileKind::Full : TileKind::Empty;
  TileRange lo = t, hi = t;
  if (t.qEnd - t.qBegin >= t.kEnd - t.kBegin) {
    lo.qEnd = hi.qBegin = t.qBegin + (t.qEnd - t.qBegin) / 2;
  } else {
    lo.kEnd = hi.kBegin = t.kBegin + (t.kEnd - t.kBegin) / 2;
  }
  TileKind first = classifyByHalving(program, n, lo);
  if (first == TileKind::Partial)
    return TileKind::Partial;
  TileKind second = classifyByHalving(program, n, hi);
  return first == second ? first : TileKind::Partial;
}

/// Appends to `ranges` the keys in [kBegin, kEnd) that queries in
/// [qBegin, qEnd) may keep: ranges the intervals do not prove empty, halved
/// down to kGranule keys.
void appendKeyRanges(PredicateProgram &program, int64_t n, int64_t qBegin,
                     int64_t qEnd, int64_t kBegin, int64_t kEnd,
                     KeyRanges &ranges) {
  constexpr int64_t kGranule = 16;
  std::optional<bool> all = program.decide(
      {Interval{qBegin, qEnd - 1}, Interval{kBegin, kEnd - 1}, Interval{n, n}});
  if (all && !*all)
    return;
  if ((all && *all) || kEnd - kBegin <= kGranule) {
    ranges.push_back({kBegin, kEnd});
    return;
  }
  int64_t mid = kBegin + (kEnd - kBegin) / 2;
  appendKeyRanges(program, n, qBegin, qEnd, kBegin, mid, ranges);
  appendKeyRanges(program, n, qBegin, qEnd, mid, kEnd, ranges);
}
} // namespace

TileKind ExprMaskOp::classifyTile(const MaskContext &ctx, const TileRange &t) {
  PredicateProgram program = compile(*this);
  return classifyByHalving(program, ctx.seqLen, t);
}

KeyRanges ExprMaskOp::keyRanges(const MaskContext &ctx, int64_t qBegin,
                                int64_t qEnd) {
  PredicateProgram program = compile(*this);
  KeyRanges ranges;
  appendKeyRanges(program, ctx.seqLen, qBegin, qEnd, 0, ctx.seqLen, ranges);
  return ranges;
}

bool ExprMaskOp::evaluate(const MaskContext &ctx, int64_t q, int64_t k) {
  return *compile(*this).run({q, k, ctx.seqLen});
}

Value ExprMaskOp::buildPredicate(PredicateBuilder &pb, Value q, Value k) {
  Block &body = getBody().front();
  IRMapping map;
  map.map(body.getArgument(0), q);
  map.map(body.getArgument(1), k);
  map.map(body.getArgument(2), pb.seqLen);
  for (Operation &op : body.without_terminator())
    pb.builder.clone(op, map);
  return map.lookup(body.getTerminator()->getOperand(0));
}

LogicalResult ExprMaskOp::verifyRegions() {
  Block &body = getBody().front();
  if (body.getNumArguments() != 3 ||
      !llvm::all_of(body.getArgumentTypes(),
                    [](Type t) { return t.isIndex(); }))
    return emitOpError("region must take (q: index, k: index, n: index), got ")
           << body.getNumArguments() << " argument(s)";
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield || yield.getValues().size() != 1 ||
      !yield.getValues()[0].getType().isInteger(1))
    return emitOpError("region must end with 'attn.yield' of a single i1");
  for (Operation &op : body.without_terminator()) {
    if (!detail::isInterpretableArith(&op))
      return op.emitOpError("is not allowed in an attn.mask.expr region; only "
                            "integer arith ops can be evaluated to classify "
                            "tiles");
    // The classifier evaluates in 64-bit slots.
    for (Type type : llvm::concat<const Type>(op.getOperandTypes(),
                                              op.getResultTypes()))
      if (type.isInteger() && type.getIntOrFloatBitWidth() > 64)
        return op.emitOpError("computes with ")
               << type
               << "; an attn.mask.expr region takes integers of at most 64 "
                  "bits and index";
  }
  return success();
}

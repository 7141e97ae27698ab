//===- OnlineSoftmax.cpp - the online-softmax step, written once ----------===//

#include "attn/Conversion/OnlineSoftmax.h"
#include "attn/IR/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

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

/// The absolute (query, key) indices of a softmax tile op's tile-relative
/// (row, key): what its predicate and score regions receive.
template <typename TileOp>
static SmallVector<Value, 2> absoluteIndices(OpBuilder &b, Location loc,
                                             TileOp op, Value row, Value key) {
  return {arith::AddIOp::create(b, loc, op.getQueryOffset(), row),
          arith::AddIOp::create(b, loc, op.getKeyOffset(), key)};
}

/// The predicate `region` cloned at `b` for absolute (query, key).
static Value keptAt(OpBuilder &b, Location loc, Region &region,
                    ArrayRef<Value> indices) {
  Block &pred = region.front();
  IRMapping map;
  map.map(pred.getArguments(), indices);
  for (Operation &inner : pred.without_terminator())
    b.clone(inner, map);
  return map.lookupOrDefault(pred.getTerminator()->getOperand(0));
}

/// emitKeptAt of either softmax tile op (both have the predicate region
/// and the offsets).
template <typename TileOp>
static Value keptAtOf(OpBuilder &b, Location loc, TileOp op, Value row,
                      Value key) {
  if (op.getPredicate().empty())
    return nullptr;
  return keptAt(b, loc, op.getPredicate(),
                absoluteIndices(b, loc, op, row, key));
}

Value mlir::attn::emitKeptAt(OpBuilder &b, Location loc, SoftmaxStepOp op,
                             Value row, Value key) {
  return keptAtOf(b, loc, op, row, key);
}

Value mlir::attn::emitKeptAt(OpBuilder &b, Location loc, SoftmaxGradStepOp op,
                             Value row, Value key) {
  return keptAtOf(b, loc, op, row, key);
}

Value mlir::attn::emitScoreAt(OpBuilder &b, Location loc, SoftmaxStepOp op,
                              Value s, Value row, Value key) {
  if (op.getScore().empty())
    return s;
  return emitScoreMod(b, loc, op.getScore(), s,
                      absoluteIndices(b, loc, op, row, key));
}

ScoreWithSlope mlir::attn::emitScoreAt(OpBuilder &b, Location loc,
                                       SoftmaxGradStepOp op, Value s, Value row,
                                       Value key) {
  if (op.getScore().empty())
    return {s, Value()};
  return emitScoreModWithSlope(b, loc, op.getScore(), s,
                               absoluteIndices(b, loc, op, row, key));
}

ScoreGradient mlir::attn::emitScoreGradient(OpBuilder &b, Location loc,
                                            Value score, Value lse, Value dp,
                                            Value delta, double scale,
                                            ExpBase base, Value slope) {
  Value p = emitScoreProbability(b, loc, score, lse, base);
  return {p,
          emitScoreGradientOfProbability(b, loc, p, dp, delta, scale, slope)};
}

Value mlir::attn::emitScoreProbability(OpBuilder &b, Location loc, Value score,
                                       Value lse, ExpBase base) {
  return emitExp(b, loc, arith::SubFOp::create(b, loc, score, lse), base);
}

Value mlir::attn::emitScoreGradientOfProbability(OpBuilder &b, Location loc,
                                                 Value p, Value dp, Value delta,
                                                 double scale, Value slope) {
  Value ds = arith::MulFOp::create(b, loc, p,
                                   arith::SubFOp::create(b, loc, dp, delta));
  if (slope)
    ds = arith::MulFOp::create(b, loc, ds, slope);
  return arith::MulFOp::create(b, loc, ds, f32(b, loc, scale));
}

LogicalResult mlir::attn::lowerSoftmaxGradStepByRows(SoftmaxGradStepOp op,
                                                     RewriterBase &b) {
  Location loc = op.getLoc();
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(op);
  auto qType = cast<MemRefType>(op.getQuery().getType());
  auto vType = cast<MemRefType>(op.getValue().getType());
  if (qType.isDynamicDim(1) || vType.isDynamicDim(1))
    return op.emitOpError("needs static head dims to lower a row at a time");
  Type f32Type = b.getF32Type();
  auto qRow = VectorType::get({qType.getDimSize(1)}, f32Type);
  auto vRow = VectorType::get({vType.getDimSize(1)}, f32Type);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  const double scale = op.getScale().convertToDouble();

  // Row `row` of a 2-D buffer as an f32 vector, and back.
  auto loadRow = [&](Value buffer, Value row, VectorType type) -> Value {
    Type stored = cast<MemRefType>(buffer.getType()).getElementType();
    Value vec = vector::LoadOp::create(b, loc, type.clone(stored), buffer,
                                       ValueRange{row, zero});
    return stored == f32Type ? vec : arith::ExtFOp::create(b, loc, type, vec);
  };
  auto storeRow = [&](Value vec, Value buffer, Value row) {
    vector::StoreOp::create(b, loc, vec, buffer, ValueRange{row, zero});
  };
  auto dot = [&](Value x, Value y) -> Value {
    return vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD,
                                       arith::MulFOp::create(b, loc, x, y),
                                       arith::FastMathFlags::reassoc);
  };
  // acc + factor * row
  auto axpy = [&](Value acc, Value factor, Value row) -> Value {
    return vector::FMAOp::create(
        b, loc, vector::BroadcastOp::create(b, loc, row.getType(), factor), row,
        acc);
  };
  auto scalar = [&](Value buffer, Value i) -> Value {
    return memref::LoadOp::create(b, loc, buffer, ValueRange{i});
  };
  // A pair's rows: query i and its output gradient, key j and its value.
  struct PairRows {
    Value q, dO, k, v;
  };
  // The pair (i, j): its rows, p and ds, updating `accs` where it is kept.
  auto pair = [&](Value i, Value j, ValueRange accs,
                  function_ref<SmallVector<Value>(const PairRows &,
                                                  ScoreGradient, ValueRange)>
                      update) -> SmallVector<Value> {
    auto compute = [&]() -> SmallVector<Value> {
      PairRows rows{loadRow(op.getQuery(), i, qRow),
                    loadRow(op.getOutGrad(), i, vRow),
                    loadRow(op.getKey(), j, qRow),
                    loadRow(op.getValue(), j, vRow)};
      ScoreWithSlope s =
          emitScoreAt(b, loc, op,
                      arith::MulFOp::create(b, loc, dot(rows.q, rows.k),
                                            f32(b, loc, scale)),
                      i, j);
      return update(rows,
                    emitScoreGradient(b, loc, s.score, scalar(op.getLse(), i),
                                      dot(rows.dO, rows.v),
                                      scalar(op.getDelta(), i), scale,
                                      ExpBase::E, s.slope),
                    accs);
    };
    Value kept = emitKeptAt(b, loc, op, i, j);
    if (!kept)
      return compute();
    auto ifOp = scf::IfOp::create(b, loc, accs.getTypes(), kept,
                                  /*withElseRegion=*/true);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    scf::YieldOp::create(b, loc, compute());
    b.setInsertionPointToStart(ifOp.elseBlock());
    scf::YieldOp::create(b, loc, accs);
    return SmallVector<Value>(ifOp.getResults());
  };
  // for (outer rows) { accs = acc rows; for (inner rows) accs = ...; store }
  auto nest = [&](Value outerRows, Value innerRows, ArrayRef<Value> buffers,
                  ArrayRef<VectorType> types,
                  function_ref<SmallVector<Value>(Value, Value, ValueRange)>
                      body) {
    auto outer = scf::ForOp::create(b, loc, zero, outerRows, one);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(outer.getBody());
    Value r = outer.getInductionVar();
    SmallVector<Value> init;
    for (auto [buffer, type] : llvm::zip(buffers, types))
      init.push_back(loadRow(buffer, r, type));
    auto inner = scf::ForOp::create(
        b, loc, zero, innerRows, one, init,
        [&](OpBuilder &, Location, Value c, ValueRange accs) {
          scf::YieldOp::create(b, loc, body(r, c, accs));
        });
    for (auto [buffer, acc] : llvm::zip(buffers, inner.getResults()))
      storeRow(acc, buffer, r);
  };
  Value mq = memref::DimOp::create(b, loc, op.getQuery(), 0);
  Value mk = memref::DimOp::create(b, loc, op.getKey(), 0);
  // The fused form's query_grad[i] += ds k_j (k_j the pair's key row,
  // loaded already), added an element at a time: other instances add to
  // the same rows.
  auto addToQueryGrad = [&](Value i, Value k, Value ds) {
    Value terms = arith::MulFOp::create(
        b, loc, vector::BroadcastOp::create(b, loc, k.getType(), ds), k);
    auto columns = scf::ForOp::create(
        b, loc, zero,
        arith::ConstantIndexOp::create(b, loc, qRow.getNumElements()), one);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(columns.getBody());
    Value c = columns.getInductionVar();
    memref::AtomicRMWOp::create(
        b, loc, arith::AtomicRMWKind::addf,
        vector::ExtractOp::create(b, loc, terms, ArrayRef<OpFoldResult>{c}),
        op.getQueryGrad(), ValueRange{i, c});
  };
  if (op.accumulatesKeys()) {
    nest(mk, mq, {op.getKeyGrad(), op.getValueGrad()}, {qRow, vRow},
         [&](Value j, Value i, ValueRange accs) {
           return pair(i, j, accs,
                       [&](const PairRows &rows, ScoreGradient g,
                           ValueRange acc) {
                         if (op.fusesQueryGrad())
                           addToQueryGrad(i, rows.k, g.ds);
                         return SmallVector<Value>{
                             axpy(acc[0], g.ds, rows.q),
                             axpy(acc[1], g.p, rows.dO)};
                       });
         });
  } else {
    nest(mq, mk, {op.getQueryGrad()}, {qRow},
         [&](Value i, Value j, ValueRange accs) {
           return pair(i, j, accs,
                       [&](const PairRows &rows, ScoreGradient g,
                           ValueRange acc) {
                         return SmallVector<Value>{axpy(acc[0], g.ds, rows.k)};
                       });
         });
  }
  b.eraseOp(op);
  return success();
}

//===- Gradients.cpp - vector-Jacobian products of attn and upstream ops --===//
//
// Each op's buildVjp states its derivative once, as IR on tensors: its own
// gradient op where the forward is a fused computation (layer norm, GELU,
// pooling, the loss, the embedding lookup, softmax attention), otherwise the
// forward's ops and structural linalg/tensor ops (a projection's input
// gradient is a projection by the transposed weight; its weight gradient a
// product; its bias gradient a sum; linear attention's gradient a sequence
// of linalg.generics). attn-generate-backward knows no op by name.
//
//===----------------------------------------------------------------------===//

#include "attn/IR/Gradients.h"
#include "attn/IR/AttnOps.h"
#include "attn/IR/Tangents.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::attn;

namespace {

RankedTensorType tensorTypeOf(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// Structural tensor ops the products are written with.
struct TensorBuilder {
  OpBuilder &b;
  Location loc;

  Value zeros(RankedTensorType type) { return buildZeros(b, loc, type); }
  Value transpose(Value x, ArrayRef<int64_t> permutation) {
    auto type = tensorTypeOf(x);
    SmallVector<int64_t> shape;
    for (int64_t p : permutation)
      shape.push_back(type.getDimSize(p));
    Value init = tensor::EmptyOp::create(b, loc, shape, type.getElementType());
    return linalg::TransposeOp::create(b, loc, x, init, permutation)
        .getResult()[0];
  }
  /// The type sums and products of `elem` accumulate in: f32 for the
  /// 16-bit types, whose own precision would lose most terms of a long sum.
  Type accumulator(Type elem) {
    return cast<FloatType>(elem).getWidth() < 32 ? b.getF32Type() : elem;
  }
  /// The sum of `x` over `dims`, accumulated in f32 for 16-bit types.
  Value sum(Value x, ArrayRef<int64_t> dims) {
    auto type = tensorTypeOf(x);
    Type acc = accumulator(type.getElementType());
    SmallVector<int64_t> shape;
    for (auto [i, extent] : llvm::enumerate(type.getShape()))
      if (!llvm::is_contained(dims, int64_t(i)))
        shape.push_back(extent);
    Value init = zeros(RankedTensorType::get(shape, acc));
    Value total = linalg::ReduceOp::create(
                      b, loc, ValueRange{x}, ValueRange{init}, dims,
                      [&](OpBuilder &nb, Location l, ValueRange args) {
                        Value term = args[0];
                        if (term.getType() != acc)
                          term = arith::ExtFOp::create(nb, l, acc, term);
                        Value s = arith::AddFOp::create(nb, l, term, args[1]);
                        linalg::YieldOp::create(nb, l, s);
                      })
                      .getResult(0);
    return CastOp::castTo(b, loc, total, type.getElementType());
  }
  /// [d0, ..., dk] -> [d0 * ... * dk-1, dk]; 2-D values as they are.
  Value rows(Value x) {
    auto type = tensorTypeOf(x);
    if (type.getRank() == 2)
      return x;
    ReassociationIndices leading;
    int64_t count = 1;
    for (int64_t i = 0; i + 1 < type.getRank(); ++i) {
      leading.push_back(i);
      count *= type.getDimSize(i);
    }
    return tensor::CollapseShapeOp::create(
        b, loc,
        RankedTensorType::get({count, type.getShape().back()},
                              type.getElementType()),
        x, SmallVector<ReassociationIndices>{leading, {type.getRank() - 1}});
  }
  /// a [M, K] x b [K, N] -> [M, N], accumulated in f32 for 16-bit types
  /// (on tensor cores, the product's C).
  Value matmul(Value lhs, Value rhs) {
    auto l = tensorTypeOf(lhs), r = tensorTypeOf(rhs);
    Value init = zeros(RankedTensorType::get({l.getDimSize(0), r.getDimSize(1)},
                                             accumulator(l.getElementType())));
    Value product =
        linalg::MatmulOp::create(b, loc, ValueRange{lhs, rhs}, ValueRange{init})
            .getResult(0);
    return CastOp::castTo(b, loc, product, l.getElementType());
  }
  // f32 tensors and linalg.generics over named loop dimensions (linear
  // attention's gradient).
  AffineMap map(unsigned dims, ArrayRef<unsigned> results) {
    SmallVector<AffineExpr> exprs;
    for (unsigned r : results)
      exprs.push_back(b.getAffineDimExpr(r));
    return AffineMap::get(dims, 0, exprs, b.getContext());
  }
  Value empty(ArrayRef<int64_t> shape) {
    return tensor::EmptyOp::create(b, loc, shape, b.getF32Type());
  }
  Value zeros(ArrayRef<int64_t> shape) {
    return zeros(RankedTensorType::get(shape, b.getF32Type()));
  }
  Value cst(double v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }
  /// One result over `dims` loop dimensions; those in `reductions` are
  /// reduced into `init` (its map is the last of `maps`).
  Value run(ValueRange ins, Value init, ArrayRef<AffineMap> maps, unsigned dims,
            ArrayRef<unsigned> reductions,
            function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
    SmallVector<utils::IteratorType> its(dims, utils::IteratorType::parallel);
    for (unsigned r : reductions)
      its[r] = utils::IteratorType::reduction;
    return linalg::GenericOp::create(
               b, loc, TypeRange{init.getType()}, ins, ValueRange{init}, maps,
               its,
               [&](OpBuilder &nb, Location l, ValueRange a) {
                 linalg::YieldOp::create(nb, l, body(nb, l, a));
               })
        .getResult(0);
  }
};

/// acc + x * y: the body of a product summed into its output (ins x, y;
/// the accumulator last).
Value productSum(OpBuilder &b, Location l, ValueRange a) {
  return arith::AddFOp::create(b, l, a.back(),
                               arith::MulFOp::create(b, l, a[0], a[1]));
}

/// Checks that an op with one result was given its cotangent.
LogicalResult singleResultGrad(Operation *op, ArrayRef<Value> resultGrads) {
  if (resultGrads.size() != 1 || !resultGrads[0])
    return op->emitOpError("buildVjp needs the cotangent of its result");
  return success();
}

} // namespace

Value mlir::attn::buildFilled(OpBuilder &b, Location loc, RankedTensorType type,
                              double value) {
  Value empty =
      tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
  Value scalar = arith::ConstantOp::create(
      b, loc, b.getFloatAttr(type.getElementType(), value));
  return linalg::FillOp::create(b, loc, scalar, empty).getResult(0);
}

Value mlir::attn::buildAdd(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  auto type = tensorTypeOf(lhs);
  Value init =
      tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
  return linalg::AddOp::create(b, loc, ValueRange{lhs, rhs}, ValueRange{init})
      .getResult(0);
}

//===----------------------------------------------------------------------===//
// attn encoder ops
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                                    ArrayRef<bool> wanted,
                                    SmallVectorImpl<Value> &operandGrads) {
  if (failed(singleResultGrad(*this, resultGrads)))
    return failure();
  operandGrads.push_back(Value()); // ids
  operandGrads.push_back(
      wanted[1] ? EmbeddingGradOp::create(b, getLoc(), getTable().getType(),
                                          getIds(), resultGrads[0])
                      .getResult()
                : Value());
  return success();
}

LogicalResult CastOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                               ArrayRef<bool> wanted,
                               SmallVectorImpl<Value> &operandGrads) {
  if (failed(singleResultGrad(*this, resultGrads)))
    return failure();
  // The cast's derivative is one: the cotangent, in the operand's type.
  operandGrads.push_back(wanted[0]
                             ? castTo(b, getLoc(), resultGrads[0],
                                      tensorTypeOf(getInput()).getElementType())
                             : Value());
  return success();
}

LogicalResult AddPositionsOp::buildVjp(OpBuilder &b,
                                       ArrayRef<Value> resultGrads,
                                       ArrayRef<bool> wanted,
                                       SmallVectorImpl<Value> &operandGrads) {
  if (failed(singleResultGrad(*this, resultGrads)))
    return failure();
  Value dy = resultGrads[0];
  operandGrads.push_back(wanted[0] ? dy : Value());
  if (!wanted[1]) {
    operandGrads.push_back(Value());
    return success();
  }
  // Positions the sequence does not reach get zeros.
  TensorBuilder tb{b, getLoc()};
  Value used = tb.sum(dy, {0});
  auto tableType = tensorTypeOf(getTable());
  if (tensorTypeOf(used).getShape() != tableType.getShape()) {
    SmallVector<OpFoldResult> offsets(2, b.getIndexAttr(0));
    SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
    SmallVector<OpFoldResult> sizes;
    for (int64_t extent : tensorTypeOf(used).getShape())
      sizes.push_back(b.getIndexAttr(extent));
    used = tensor::InsertSliceOp::create(b, getLoc(), used, tb.zeros(tableType),
                                         offsets, sizes, strides);
  }
  operandGrads.push_back(used);
  return success();
}

LogicalResult LayerNormOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                                    ArrayRef<bool> wanted,
                                    SmallVectorImpl<Value> &operandGrads) {
  if (failed(singleResultGrad(*this, resultGrads)))
    return failure();
  auto grad = LayerNormGradOp::create(b, getLoc(), getInput(), getGamma(),
                                      resultGrads[0], getEpsilonAttr());
  operandGrads.push_back(wanted[0] ? grad.getInputGrad() : Value());
  operandGrads.push_back(wanted[1] ? grad.getGammaGrad() : Value());
  operandGrads.push_back(wanted[2] ? grad.getBetaGrad() : Value());
  return success();
}

LogicalResult BatchNormOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                                    ArrayRef<bool> wanted,
                                    SmallVectorImpl<Value> &operandGrads) {
  // The statistics feed running averages, which are not trained.
  if (resultGrads.size() != 3 || resultGrads[1] || resultGrads[2])
    return emitOpError("reverse mode differentiates the normalised result "
                       "only, not the batch statistics");
  if (getEvaluation() && resultGrads[0])
    return emitOpError("reverse mode differentiates the training form only "
                       "(`evaluation` normalises with running statistics)");
  if (!resultGrads[0]) {
    operandGrads.append(getNumOperands(), Value());
    return success();
  }
  auto grad =
      BatchNormGradOp::create(b, getLoc(), getInput(), getGamma(),
                              resultGrads[0], getLengths(), getEpsilonAttr());
  operandGrads.push_back(wanted[0] ? grad.getInputGrad() : Value());
  operandGrads.push_back(wanted[1] ? grad.getGammaGrad() : Value());
  operandGrads.push_back(wanted[2] ? grad.getBetaGrad() : Value());
  // None for the lengths and the running statistics.
  operandGrads.resize(getNumOperands(), Value());
  return success();
}

LogicalResult ProjectOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                                  ArrayRef<bool> wanted,
                                  SmallVectorImpl<Value> &operandGrads) {
  if (failed(singleResultGrad(*this, resultGrads)))
    return failure();
  TensorBuilder tb{b, getLoc()};
  Value dy = resultGrads[0];
  // dx = dy W^T, itself a projection.
  operandGrads.push_back(
      wanted[0] ? ProjectOp::create(b, getLoc(), getInput().getType(), dy,
                                    tb.transpose(getWeight(), {1, 0}), Value())
                      .getResult()
                : Value());
  // dW = x^T dy over every leading position; db = the sum of dy over them.
  Value dyRows = tb.rows(dy);
  operandGrads.push_back(
      wanted[1] ? tb.matmul(tb.transpose(tb.rows(getInput()), {1, 0}), dyRows)
                : Value());
  if (getBias())
    operandGrads.push_back(wanted[2] ? tb.sum(dyRows, {0}) : Value());
  return success();
}

LogicalResult GeluOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                               ArrayRef<bool> wanted,
                               SmallVectorImpl<Value> &operandGrads) {
  if (failed(singleResultGrad(*this, resultGrads)))
    return failure();
  operandGrads.push_back(wanted[0] ? GeluGradOp::create(b, getLoc(), getInput(),
                                                        resultGrads[0],
                                                        getApproximate())
                                         .getResult()
                                   : Value());
  return success();
}

LogicalResult DropoutOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                                  ArrayRef<bool> wanted,
                                  SmallVectorImpl<Value> &operandGrads) {
  if (failed(singleResultGrad(*this, resultGrads)))
    return failure();
  // Dropout is linear in its input with the mask its seed and stream give:
  // the same dropout of the cotangent regenerates that mask.
  operandGrads.push_back(
      wanted[0] ? DropoutOp::create(b, getLoc(), resultGrads[0], getSeed(),
                                    getRateAttr(), getStreamAttr())
                      .getResult()
                : Value());
  operandGrads.push_back(Value()); // seed
  return success();
}

LogicalResult PoolOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                               ArrayRef<bool> wanted,
                               SmallVectorImpl<Value> &operandGrads) {
  if (failed(singleResultGrad(*this, resultGrads)))
    return failure();
  operandGrads.push_back(
      wanted[0] ? PoolGradOp::create(b, getLoc(), getInput().getType(),
                                     resultGrads[0], getKind(), getLengths())
                      .getResult()
                : Value());
  if (getLengths())
    operandGrads.push_back(Value());
  return success();
}

LogicalResult CrossEntropyOp::buildVjp(OpBuilder &b,
                                       ArrayRef<Value> resultGrads,
                                       ArrayRef<bool> wanted,
                                       SmallVectorImpl<Value> &operandGrads) {
  if (failed(singleResultGrad(*this, resultGrads)))
    return failure();
  operandGrads.push_back(
      wanted[0] ? CrossEntropyGradOp::create(b, getLoc(), getLogits(),
                                             getLabels(), resultGrads[0])
                      .getResult()
                : Value());
  operandGrads.push_back(Value()); // labels
  return success();
}

//===----------------------------------------------------------------------===//
// attn.sdpa
//===----------------------------------------------------------------------===//

// One fused gradient op under the same mask, scale and schedule: it
// recomputes the attention weights from Q, K and its own statistics rather
// than storing them.
LogicalResult SdpaOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                               ArrayRef<bool> wanted,
                               SmallVectorImpl<Value> &operandGrads) {
  if (failed(singleResultGrad(*this, resultGrads)))
    return failure();
  auto grad = SdpaGradOp::create(
      b, getLoc(), getQuery().getType(), getKey().getType(),
      getValue().getType(), getQuery(), getKey(), getValue(), getResult(),
      resultGrads[0], getMask(), getScaleAttr(), getScheduleAttr());
  // The same score region: the gradient differentiates it per pair.
  IRMapping none;
  getScore().cloneInto(&grad.getScore(), none);
  operandGrads.push_back(wanted[0] ? grad.getQueryGrad() : Value());
  operandGrads.push_back(wanted[1] ? grad.getKeyGrad() : Value());
  operandGrads.push_back(wanted[2] ? grad.getValueGrad() : Value());
  if (getMask())
    operandGrads.push_back(Value());
  return success();
}

//===----------------------------------------------------------------------===//
// attn.ssm
//===----------------------------------------------------------------------===//

// One fused gradient op: the input's adjoint convolution and every
// parameter's gradient come from scans of the same coefficients.
LogicalResult SsmOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                              ArrayRef<bool> wanted,
                              SmallVectorImpl<Value> &operandGrads) {
  if (failed(singleResultGrad(*this, resultGrads)))
    return failure();
  Type params = getLogAReal().getType(), c = getCReal().getType();
  auto grad = SsmGradOp::create(
      b, getLoc(), getInput().getType(), params, params, params, params, c, c,
      getLogDt().getType(), getInput(), resultGrads[0], getLogAReal(),
      getAImag(), getBReal(), getBImag(), getCReal(), getCImag(), getLogDt(),
      getLengths(), getBidirectional());
  for (auto [i, g] : llvm::enumerate(grad.getResults()))
    operandGrads.push_back(wanted[i] ? g : Value());
  if (getLengths())
    operandGrads.push_back(Value());
  return success();
}

//===----------------------------------------------------------------------===//
// attn.linear (non-causal)
//===----------------------------------------------------------------------===//

namespace {

/// Whether key `index` (a linalg index) lies below the batch entry's
/// length (an i32/i64 value).
Value keyKept(OpBuilder &b, Location l, Value index, Value length) {
  Value limit = arith::IndexCastOp::create(b, l, b.getIndexType(), length);
  return arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, index, limit);
}

/// phi applied to rows X [B, H, L, D] -> [B, H, L, F]: the rows at or past
/// `lengths[b]` (when given) are zero. Keeps what the backward needs.
struct MappedRows {
  Value phi;        ///< [B, H, L, F]
  Value projected;  ///< Y = P (s X) [B, H, L, F] (projections only)
  Value halfSqNorm; ///< |s X|^2 / 2 [B, H, L] (projections only)
};

MappedRows applyFeatureMap(TensorBuilder &g, FeatureMap phi, Value x,
                           Value projection, double scale, Value lengths) {
  auto t = tensorTypeOf(x);
  int64_t bs = t.getDimSize(0), hs = t.getDimSize(1), ls = t.getDimSize(2),
          ds = t.getDimSize(3), fs = phi.getFeatureDim(ds);
  MappedRows rows;
  SmallVector<Value> ins;
  SmallVector<AffineMap> maps;
  if (projection) {
    // (b, h, l, f, d): Y = sum_d s x_d P[f, d]
    rows.projected = g.run(
        ValueRange{x, projection}, g.zeros({bs, hs, ls, fs}),
        {g.map(5, {0, 1, 2, 4}), g.map(5, {3, 4}), g.map(5, {0, 1, 2, 3})}, 5,
        {4}, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value sx = arith::MulFOp::create(b, l, a[0], g.cst(scale));
          return arith::AddFOp::create(b, l, a[2],
                                       arith::MulFOp::create(b, l, sx, a[1]));
        });
    rows.halfSqNorm =
        g.run(ValueRange{x}, g.zeros({bs, hs, ls}),
              {g.map(4, {0, 1, 2, 3}), g.map(4, {0, 1, 2})}, 4, {3},
              [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                Value sx = arith::MulFOp::create(b, l, a[0], g.cst(scale));
                Value half = arith::MulFOp::create(
                    b, l, arith::MulFOp::create(b, l, sx, sx), g.cst(0.5));
                return arith::AddFOp::create(b, l, a[1], half);
              });
    ins = {rows.projected, rows.halfSqNorm};
    maps = {g.map(4, {0, 1, 2, 3}), g.map(4, {0, 1, 2})};
  } else {
    ins = {x};
    maps = {g.map(4, {0, 1, 2, 3})};
  }
  if (lengths) {
    ins.push_back(lengths);
    maps.push_back(g.map(4, {0}));
  }
  maps.push_back(g.map(4, {0, 1, 2, 3}));
  bool projected = bool(projection);
  rows.phi =
      g.run(ins, g.empty({bs, hs, ls, fs}), maps, 4, {},
            [&](OpBuilder &b, Location l, ValueRange a) -> Value {
              Value y = a[0];
              if (!projected && scale != 1.0)
                y = arith::MulFOp::create(b, l, y, g.cst(scale));
              Value v = phi.emitBody(b, l, y, projected ? a[1] : Value());
              if (!lengths)
                return v;
              Value kept = keyKept(b, l, linalg::IndexOp::create(b, l, 2),
                                   a[projected ? 2 : 1]);
              return arith::SelectOp::create(b, l, kept, v, g.cst(0.0));
            });
  return rows;
}

/// The cotangent of X [B, H, L, D] from that of phi(X) [B, H, L, F].
Value featureMapBackward(TensorBuilder &g, FeatureMap phi, Value x,
                         const MappedRows &rows, Value dphi, Value projection,
                         double scale) {
  auto t = tensorTypeOf(x);
  int64_t bs = t.getDimSize(0), hs = t.getDimSize(1), ls = t.getDimSize(2),
          ds = t.getDimSize(3), fs = phi.getFeatureDim(ds);
  AffineMap all = g.map(4, {0, 1, 2, 3}), rowMap = g.map(4, {0, 1, 2});
  if (!projection)
    return g.run(ValueRange{x, dphi}, g.empty({bs, hs, ls, ds}),
                 {all, all, all}, 4, {},
                 [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                   return arith::MulFOp::create(
                       b, l, a[1], buildFeatureSlope(b, l, phi, a[0], scale));
                 });
  // With y = P (s x) and h = |s x|^2 / 2:
  //   dx = s P^T (dphi * dbody/dy) + s^2 x sum_f dphi * dbody/dh
  Value alongY =
      g.run(ValueRange{rows.projected, rows.halfSqNorm, dphi},
            g.empty({bs, hs, ls, fs}), {all, rowMap, all, all}, 4, {},
            [&](OpBuilder &b, Location l, ValueRange a) -> Value {
              return arith::MulFOp::create(
                  b, l, a[2], phi.emitBodyDerivatives(b, l, a[0], a[1]).first);
            });
  Value alongH =
      g.run(ValueRange{rows.projected, rows.halfSqNorm, dphi},
            g.zeros({bs, hs, ls}), {all, rowMap, all, rowMap}, 4, {3},
            [&](OpBuilder &b, Location l, ValueRange a) -> Value {
              Value d = arith::MulFOp::create(
                  b, l, a[2], phi.emitBodyDerivatives(b, l, a[0], a[1]).second);
              return arith::AddFOp::create(b, l, a[3], d);
            });
  // (b, h, l, d, f)
  Value throughP =
      g.run(ValueRange{alongY, projection}, g.zeros({bs, hs, ls, ds}),
            {g.map(5, {0, 1, 2, 4}), g.map(5, {4, 3}), g.map(5, {0, 1, 2, 3})},
            5, {4}, productSum);
  return g.run(ValueRange{throughP, x, alongH}, g.empty({bs, hs, ls, ds}),
               {all, all, rowMap, all}, 4, {},
               [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                 Value first = arith::MulFOp::create(b, l, a[0], g.cst(scale));
                 Value second = arith::MulFOp::create(
                     b, l, arith::MulFOp::create(b, l, a[1], a[2]),
                     g.cst(scale * scale));
                 return arith::AddFOp::create(b, l, first, second);
               });
}

/// Linear attention's cotangent terms of its output out = num / den, over
/// any leading dimensions (dO, out [..., E]; den [...]): g = dO / den and
/// c = -(dO . out) / den, both zero where den is zero (as the output is).
struct OutputTerms {
  Value g, c;
};

OutputTerms outputTerms(TensorBuilder &g, Value dOut, Value out, Value den) {
  ArrayRef<int64_t> shape = tensorTypeOf(dOut).getShape();
  unsigned rank = shape.size();
  SmallVector<unsigned> all, leading;
  for (unsigned d = 0; d < rank; ++d) {
    all.push_back(d);
    if (d + 1 < rank)
      leading.push_back(d);
  }
  auto overDen = [&](OpBuilder &b, Location l, Value x, Value d) -> Value {
    Value nonzero =
        arith::CmpFOp::create(b, l, arith::CmpFPredicate::ONE, d, g.cst(0.0));
    return arith::SelectOp::create(
        b, l, nonzero, arith::DivFOp::create(b, l, x, d), g.cst(0.0));
  };
  AffineMap rows = g.map(rank, leading), elems = g.map(rank, all);
  Value dotOut = g.run(ValueRange{dOut, out}, g.zeros(shape.drop_back()),
                       {elems, elems, rows}, rank, {rank - 1}, productSum);
  OutputTerms t;
  t.g = g.run(ValueRange{dOut, den}, g.empty(shape), {elems, rows, elems}, rank,
              {}, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                return overDen(b, l, a[0], a[1]);
              });
  AffineMap same = g.map(rank - 1, leading);
  t.c = g.run(ValueRange{dotOut, den}, g.empty(shape.drop_back()),
              {same, same, same}, rank - 1, {},
              [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                return arith::NegFOp::create(b, l, overDen(b, l, a[0], a[1]));
              });
  return t;
}

/// The cotangents of phi(Q), phi(K) [B, H, N, F] and V [B, H, N, E] of
/// causal linear attention (key j seen by queries i >= j), in chunks of C
/// positions so that memory stays linear in N: with a_ij = phi(q_i).phi(k_j)
/// for j <= i, g_i = dO_i / den_i and c_i = -(dO_i . out_i) / den_i,
///   w_ij = g_i . v_j + c_i,  dphi(q_i) = sum_{j<=i} w_ij phi(k_j),
///   dphi(k_j) = sum_{i>=j} w_ij phi(q_i),  dv_j = sum_{i>=j} a_ij g_i.
/// Pairs in one chunk are summed as C x C blocks; pairs across chunks
/// through the states of the chunks before (S = sum phi(k) v^T, z = sum
/// phi(k)) and after (T = sum phi(q) g^T, t = sum c phi(q)) each chunk,
/// summed over chunk indices (nc x nc, nc = N / C). Padding rows past N (to
/// a whole chunk) are zeros: they add nothing and are cut off at the end.
struct LinearCotangents {
  Value phiQuery, phiKey, value;
};

LinearCotangents causalLinearCotangents(TensorBuilder &g, Value phiQ,
                                        Value phiK, Value v, Value out,
                                        Value dOut) {
  OpBuilder &b = g.b;
  Location loc = g.loc;
  auto qType = tensorTypeOf(phiQ);
  int64_t bs = qType.getDimSize(0), hs = qType.getDimSize(1),
          ns = qType.getDimSize(2), fs = qType.getDimSize(3),
          es = tensorTypeOf(v).getDimSize(3);
  // Chunks of 64 positions (one chunk below that): the C x C blocks stay
  // small, the chunk-index sums (nc^2) too.
  constexpr int64_t kChunk = 64;
  int64_t cs = std::min(ns, kChunk), nc = (ns + cs - 1) / cs, padded = nc * cs;
  // [B, H, N, X] -> [B, H, nc, C, X], zeros past N.
  auto chunked = [&](Value x) {
    int64_t xs = tensorTypeOf(x).getDimSize(3);
    if (padded != ns) {
      SmallVector<OpFoldResult> offsets(4, b.getIndexAttr(0)),
          strides(4, b.getIndexAttr(1));
      SmallVector<OpFoldResult> sizes{b.getIndexAttr(bs), b.getIndexAttr(hs),
                                      b.getIndexAttr(ns), b.getIndexAttr(xs)};
      x = tensor::InsertSliceOp::create(
          b, loc, x, g.zeros({bs, hs, padded, xs}), offsets, sizes, strides);
    }
    return tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({bs, hs, nc, cs, xs}, b.getF32Type()), x,
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}, {4}});
  };
  // [B, H, nc, C, X] -> [B, H, N, X].
  auto unchunked = [&](Value x) -> Value {
    int64_t xs = tensorTypeOf(x).getDimSize(4);
    Value flat = tensor::CollapseShapeOp::create(
        b, loc, RankedTensorType::get({bs, hs, padded, xs}, b.getF32Type()), x,
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}, {4}});
    if (padded == ns)
      return flat;
    SmallVector<OpFoldResult> offsets(4, b.getIndexAttr(0)),
        strides(4, b.getIndexAttr(1));
    SmallVector<OpFoldResult> sizes{b.getIndexAttr(bs), b.getIndexAttr(hs),
                                    b.getIndexAttr(ns), b.getIndexAttr(xs)};
    return tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({bs, hs, ns, xs}, b.getF32Type()), flat,
        offsets, sizes, strides);
  };
  Value q = chunked(phiQ), k = chunked(phiK), vc = chunked(v), o = chunked(out),
        dO = chunked(dOut);
  auto index = [](OpBuilder &b, Location l, unsigned dim) -> Value {
    return linalg::IndexOp::create(b, l, dim);
  };
  auto cmp = [](OpBuilder &b, Location l, arith::CmpIPredicate p, Value x,
                Value y) -> Value {
    return arith::CmpIOp::create(b, l, p, x, y);
  };
  // acc + x * y where dims i `p` j hold, else acc.
  auto productSumWhere = [&](unsigned i, arith::CmpIPredicate p, unsigned j) {
    return [&g, &index, &cmp, i, p, j](OpBuilder &b, Location l,
                                       ValueRange a) -> Value {
      Value term = arith::MulFOp::create(b, l, a[0], a[1]);
      term = arith::SelectOp::create(
          b, l, cmp(b, l, p, index(b, l, j), index(b, l, i)), term, g.cst(0.0));
      return arith::AddFOp::create(b, l, a.back(), term);
    };
  };
  // acc + x where the chunk index in dim `other` is before (ult) or after
  // (ugt) the chunk's own (dim 2): the states of the other chunks.
  auto sumOfChunks = [&](Value perChunk, arith::CmpIPredicate p) {
    auto t = tensorTypeOf(perChunk);
    unsigned rank = t.getRank(), dims = rank + 1, other = rank;
    SmallVector<unsigned> in{0, 1, other};
    SmallVector<unsigned> result{0, 1, 2};
    for (unsigned d = 3; d < rank; ++d) {
      in.push_back(d);
      result.push_back(d);
    }
    return g.run(ValueRange{perChunk}, g.zeros(t.getShape()),
                 {g.map(dims, in), g.map(dims, result)}, dims, {other},
                 [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                   Value take =
                       cmp(b, l, p, index(b, l, other), index(b, l, 2));
                   return arith::AddFOp::create(
                       b, l, a[1],
                       arith::SelectOp::create(b, l, take, a[0], g.cst(0.0)));
                 });
  };
  using P = arith::CmpIPredicate;

  // Each chunk's own sums of phi(k) v^T [B, H, nc, F, E] and phi(k)
  // [B, H, nc, F], then those of the chunks before it.
  Value keyValue = g.run(ValueRange{k, vc}, g.zeros({bs, hs, nc, fs, es}),
                         {g.map(6, {0, 1, 2, 5, 3}), g.map(6, {0, 1, 2, 5, 4}),
                          g.map(6, {0, 1, 2, 3, 4})},
                         6, {5}, productSum);
  Value keySum =
      g.run(ValueRange{k}, g.zeros({bs, hs, nc, fs}),
            {g.map(5, {0, 1, 2, 4, 3}), g.map(5, {0, 1, 2, 3})}, 5, {4},
            [&](OpBuilder &b, Location l, ValueRange a) -> Value {
              return arith::AddFOp::create(b, l, a[1], a[0]);
            });
  Value stateBefore = sumOfChunks(keyValue, P::ult);
  Value normBefore = sumOfChunks(keySum, P::ult);
  // a [B, H, nc, C(query t), C(key t')] for t' <= t.
  Value a = g.run(ValueRange{q, k}, g.zeros({bs, hs, nc, cs, cs}),
                  {g.map(6, {0, 1, 2, 3, 5}), g.map(6, {0, 1, 2, 4, 5}),
                   g.map(6, {0, 1, 2, 3, 4})},
                  6, {5}, productSumWhere(3, P::ule, 4));
  // den [B, H, nc, C] = sum_t' a + phi(q) . z(before).
  Value den = g.run(ValueRange{a}, g.zeros({bs, hs, nc, cs}),
                    {g.map(5, {0, 1, 2, 3, 4}), g.map(5, {0, 1, 2, 3})}, 5, {4},
                    [&](OpBuilder &b, Location l, ValueRange x) -> Value {
                      return arith::AddFOp::create(b, l, x[1], x[0]);
                    });
  den = g.run(ValueRange{q, normBefore}, den,
              {g.map(5, {0, 1, 2, 3, 4}), g.map(5, {0, 1, 2, 4}),
               g.map(5, {0, 1, 2, 3})},
              5, {4}, productSum);
  auto [gOut, cDen] = outputTerms(g, dO, o, den);
  // w [B, H, nc, C(t), C(t')] = g_t . v_t' + c_t for t' <= t.
  Value w = g.run(ValueRange{gOut, vc}, g.zeros({bs, hs, nc, cs, cs}),
                  {g.map(6, {0, 1, 2, 3, 5}), g.map(6, {0, 1, 2, 4, 5}),
                   g.map(6, {0, 1, 2, 3, 4})},
                  6, {5}, productSum);
  w = g.run(
      ValueRange{cDen}, w, {g.map(5, {0, 1, 2, 3}), g.map(5, {0, 1, 2, 3, 4})},
      5, {}, [&](OpBuilder &b, Location l, ValueRange x) -> Value {
        Value kept = cmp(b, l, P::ule, index(b, l, 4), index(b, l, 3));
        return arith::SelectOp::create(
            b, l, kept, arith::AddFOp::create(b, l, x[1], x[0]), g.cst(0.0));
      });

  // dphi(q_t) = sum_t' w phi(k_t') + S(before) g_t + c_t z(before).
  Value dQ = g.run(ValueRange{w, k}, g.zeros({bs, hs, nc, cs, fs}),
                   {g.map(6, {0, 1, 2, 3, 5}), g.map(6, {0, 1, 2, 5, 4}),
                    g.map(6, {0, 1, 2, 3, 4})},
                   6, {5}, productSum);
  dQ = g.run(ValueRange{gOut, stateBefore}, dQ,
             {g.map(6, {0, 1, 2, 3, 5}), g.map(6, {0, 1, 2, 4, 5}),
              g.map(6, {0, 1, 2, 3, 4})},
             6, {5}, productSum);
  dQ = g.run(ValueRange{cDen, normBefore}, dQ,
             {g.map(5, {0, 1, 2, 3}), g.map(5, {0, 1, 2, 4}),
              g.map(5, {0, 1, 2, 3, 4})},
             5, {}, productSum);

  // The chunks after each one: T = sum phi(q) g^T, t = sum c phi(q).
  Value queryGrad = g.run(ValueRange{q, gOut}, g.zeros({bs, hs, nc, fs, es}),
                          {g.map(6, {0, 1, 2, 5, 3}), g.map(6, {0, 1, 2, 5, 4}),
                           g.map(6, {0, 1, 2, 3, 4})},
                          6, {5}, productSum);
  Value queryC = g.run(ValueRange{cDen, q}, g.zeros({bs, hs, nc, fs}),
                       {g.map(5, {0, 1, 2, 4}), g.map(5, {0, 1, 2, 4, 3}),
                        g.map(5, {0, 1, 2, 3})},
                       5, {4}, productSum);
  Value stateAfter = sumOfChunks(queryGrad, P::ugt);
  Value normAfter = sumOfChunks(queryC, P::ugt);

  // dphi(k_t') = sum_t w phi(q_t) + T(after) v_t' + t(after).
  Value dK = g.run(ValueRange{w, q}, g.zeros({bs, hs, nc, cs, fs}),
                   {g.map(6, {0, 1, 2, 5, 3}), g.map(6, {0, 1, 2, 5, 4}),
                    g.map(6, {0, 1, 2, 3, 4})},
                   6, {5}, productSum);
  dK = g.run(ValueRange{vc, stateAfter}, dK,
             {g.map(6, {0, 1, 2, 3, 5}), g.map(6, {0, 1, 2, 4, 5}),
              g.map(6, {0, 1, 2, 3, 4})},
             6, {5}, productSum);
  dK = g.run(ValueRange{normAfter}, dK,
             {g.map(5, {0, 1, 2, 4}), g.map(5, {0, 1, 2, 3, 4})}, 5, {},
             [&](OpBuilder &b, Location l, ValueRange x) -> Value {
               return arith::AddFOp::create(b, l, x[1], x[0]);
             });
  // dv_t' = sum_t a g_t + T(after)^T phi(k_t').
  Value dV = g.run(ValueRange{a, gOut}, g.zeros({bs, hs, nc, cs, es}),
                   {g.map(6, {0, 1, 2, 5, 3}), g.map(6, {0, 1, 2, 5, 4}),
                    g.map(6, {0, 1, 2, 3, 4})},
                   6, {5}, productSum);
  dV = g.run(ValueRange{k, stateAfter}, dV,
             {g.map(6, {0, 1, 2, 3, 5}), g.map(6, {0, 1, 2, 5, 4}),
              g.map(6, {0, 1, 2, 3, 4})},
             6, {5}, productSum);
  return {unchunked(dQ), unchunked(dK), unchunked(dV)};
}

} // namespace

Value mlir::attn::buildFeatureSlope(OpBuilder &b, Location loc, FeatureMap map,
                                    Value x, double scale) {
  if (scale == 1.0)
    return map.emitBodyDerivatives(b, loc, x, Value()).first;
  Type type = x.getType();
  Type elem = getElementTypeOrSelf(type);
  TypedAttr attr = b.getFloatAttr(elem, scale);
  if (auto shaped = dyn_cast<ShapedType>(type))
    attr = SplatElementsAttr::get(shaped, attr);
  Value s = arith::ConstantOp::create(b, loc, type, attr);
  Value y = arith::MulFOp::create(b, loc, x, s);
  Value slope = map.emitBodyDerivatives(b, loc, y, Value()).first;
  return arith::MulFOp::create(b, loc, slope, s);
}

// out = num / den with num = phi(Q) S, den = phi(Q) z, S = phi(K)^T V,
// z = sum_j phi(k_j) (kept keys only). With g = dO / den and
// c = -(dO . out) / den (zero where den is zero, as the output is):
//   dphi(Q) = g S^T + c z^T,   dS = phi(Q)^T g,   dz = phi(Q)^T c,
//   dphi(K) = V dS^T + dz (kept keys),   dV = phi(K) dS,
// then through the feature map. Every sum is a linalg.generic over
// (batch, head, ...): linear in the sequence length, as the forward. The
// causal form sums the same terms chunk by chunk (causalLinearCotangents).
FailureOr<SmallVector<Value, 3>>
mlir::attn::decomposeLinearGrad(OpBuilder &b, LinearGradOp op) {
  for (Value v : {op.getQuery(), op.getKey(), op.getValue()})
    if (!tensorTypeOf(v).hasStaticShape())
      return op.emitOpError("needs static shapes");
  auto phi = op.getFeatureMap().getDefiningOp<FeatureMap>();
  if (!phi)
    return op.emitOpError("needs the feature map's op");
  Location loc = op.getLoc();
  TensorBuilder g{b, loc};
  // The gradient is computed in f32: bf16 and f16 operands are widened
  // here and their cotangents rounded back at the end.
  // The conversions are elementwise generics, not attn.cast: attn-tile
  // decomposes the op after attn-convert-encoder-to-linalg has lowered
  // the casts.
  auto convert = [&](Value x, Type elem) -> Value {
    auto type = tensorTypeOf(x);
    if (type.getElementType() == elem)
      return x;
    unsigned rank = type.getRank();
    Value init = tensor::EmptyOp::create(b, loc, type.getShape(), elem);
    AffineMap id = b.getMultiDimIdentityMap(rank);
    return linalg::GenericOp::create(
               b, loc, TypeRange{init.getType()}, ValueRange{x},
               ValueRange{init}, ArrayRef<AffineMap>{id, id},
               SmallVector<utils::IteratorType>(rank,
                                                utils::IteratorType::parallel),
               [&](OpBuilder &nb, Location l, ValueRange a) {
                 Value v =
                     cast<FloatType>(elem).getWidth() >
                             cast<FloatType>(a[0].getType()).getWidth()
                         ? arith::ExtFOp::create(nb, l, elem, a[0]).getResult()
                         : arith::TruncFOp::create(nb, l, elem, a[0])
                               .getResult();
                 linalg::YieldOp::create(nb, l, v);
               })
        .getResult(0);
  };
  auto widen = [&](Value x) { return convert(x, b.getF32Type()); };
  auto narrow = [&](Value grad, Value like) {
    return convert(grad, tensorTypeOf(like).getElementType());
  };
  Value query = widen(op.getQuery()), key = widen(op.getKey()),
        v = widen(op.getValue()), out = widen(op.getOutput()),
        dOut = widen(op.getOutputGrad());
  auto qType = tensorTypeOf(op.getQuery());
  int64_t bs = qType.getDimSize(0), hs = qType.getDimSize(1),
          ns = qType.getDimSize(2), ds = qType.getDimSize(3);
  int64_t ms = tensorTypeOf(op.getKey()).getDimSize(2),
          es = tensorTypeOf(op.getValue()).getDimSize(3);
  int64_t fs = phi.getFeatureDim(ds);
  double scale = phi.getInputScale(ds);
  Value projection;
  if (phi.hasProjection()) {
    std::vector<double> p = phi.getProjection(ds);
    SmallVector<float> values(p.begin(), p.end());
    auto type = RankedTensorType::get({fs, ds}, b.getF32Type());
    projection = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(type, ArrayRef<float>(values)));
  }
  Value lengths = op.getKeyLengths();
  MappedRows q = applyFeatureMap(g, phi, query, projection, scale, Value());
  MappedRows k = applyFeatureMap(g, phi, key, projection, scale, lengths);
  Value dPhiQ, dPhiK, dValue;
  if (op.getCausal()) {
    LinearCotangents c = causalLinearCotangents(g, q.phi, k.phi, v, out, dOut);
    dPhiQ = c.phiQuery;
    dValue = c.value; // phi(K) = 0 on masked keys: so is their dV
    dPhiK = c.phiKey;
  } else {

    // S [B, H, F, E] over (b, h, f, e, m); z [B, H, F] over (b, h, f, m).
    Value state = g.run(ValueRange{k.phi, v}, g.zeros({bs, hs, fs, es}),
                        {g.map(5, {0, 1, 4, 2}), g.map(5, {0, 1, 4, 3}),
                         g.map(5, {0, 1, 2, 3})},
                        5, {4}, productSum);
    Value norm = g.run(ValueRange{k.phi}, g.zeros({bs, hs, fs}),
                       {g.map(4, {0, 1, 3, 2}), g.map(4, {0, 1, 2})}, 4, {3},
                       [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                         return arith::AddFOp::create(b, l, a[1], a[0]);
                       });
    // den [B, H, N] over (b, h, n, f).
    Value den = g.run(
        ValueRange{q.phi, norm}, g.zeros({bs, hs, ns}),
        {g.map(4, {0, 1, 2, 3}), g.map(4, {0, 1, 3}), g.map(4, {0, 1, 2})}, 4,
        {3}, productSum);
    auto [gOut, cDen] = outputTerms(g, dOut, out, den);

    // dphi(Q) [B, H, N, F] = c z^T + g S^T over (b, h, n, f, e).
    dPhiQ = g.run(
        ValueRange{cDen, norm}, g.empty({bs, hs, ns, fs}),
        {g.map(4, {0, 1, 2}), g.map(4, {0, 1, 3}), g.map(4, {0, 1, 2, 3})}, 4,
        {}, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          return arith::MulFOp::create(b, l, a[0], a[1]);
        });
    dPhiQ = g.run(ValueRange{gOut, state}, dPhiQ,
                  {g.map(5, {0, 1, 2, 4}), g.map(5, {0, 1, 3, 4}),
                   g.map(5, {0, 1, 2, 3})},
                  5, {4}, productSum);
    // dS [B, H, F, E] over (b, h, f, e, n); dz [B, H, F] over (b, h, f, n).
    Value dState = g.run(ValueRange{q.phi, gOut}, g.zeros({bs, hs, fs, es}),
                         {g.map(5, {0, 1, 4, 2}), g.map(5, {0, 1, 4, 3}),
                          g.map(5, {0, 1, 2, 3})},
                         5, {4}, productSum);
    Value dNorm = g.run(
        ValueRange{q.phi, cDen}, g.zeros({bs, hs, fs}),
        {g.map(4, {0, 1, 3, 2}), g.map(4, {0, 1, 3}), g.map(4, {0, 1, 2})}, 4,
        {3}, productSum);
    // dphi(K) [B, H, M, F] = (dz + V dS^T) on kept keys: dz broadcast,
    // plus the product over (b, h, m, f, e) -- a plain product (on tensor
    // cores on the GPU) -- then the masked keys' rows set to zero.
    dPhiK = g.run(ValueRange{dNorm}, g.empty({bs, hs, ms, fs}),
                  {g.map(4, {0, 1, 3}), g.map(4, {0, 1, 2, 3})}, 4, {},
                  [&](OpBuilder &, Location, ValueRange a) { return a[0]; });
    dPhiK = g.run(ValueRange{v, dState}, dPhiK,
                  {g.map(5, {0, 1, 2, 4}), g.map(5, {0, 1, 3, 4}),
                   g.map(5, {0, 1, 2, 3})},
                  5, {4}, productSum);
    // dV [B, H, M, E] = phi(K) dS over (b, h, m, e, f): masked keys have
    // phi(K) = 0.
    dValue = g.run(ValueRange{k.phi, dState}, g.zeros({bs, hs, ms, es}),
                   {g.map(5, {0, 1, 2, 4}), g.map(5, {0, 1, 4, 3}),
                    g.map(5, {0, 1, 2, 3})},
                   5, {4}, productSum);
  }

  // Masked keys get no gradient through phi(K).
  if (lengths)
    dPhiK =
        g.run(ValueRange{dPhiK, lengths}, g.empty({bs, hs, ms, fs}),
              {g.map(4, {0, 1, 2, 3}), g.map(4, {0}), g.map(4, {0, 1, 2, 3})},
              4, {}, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                Value kept =
                    keyKept(b, l, linalg::IndexOp::create(b, l, 2), a[1]);
                return arith::SelectOp::create(b, l, kept, a[0], g.cst(0.0));
              });
  // Only the cotangents that are used: reverse mode asks for all three.
  SmallVector<Value, 3> grads(3);
  if (!op.getQueryGrad().use_empty())
    grads[0] =
        narrow(featureMapBackward(g, phi, query, q, dPhiQ, projection, scale),
               op.getQuery());
  if (!op.getKeyGrad().use_empty())
    grads[1] =
        narrow(featureMapBackward(g, phi, key, k, dPhiK, projection, scale),
               op.getKey());
  if (!op.getValueGrad().use_empty())
    grads[2] = narrow(dValue, op.getValue());
  return grads;
}

// Reverse mode of attn.linear is its gradient op; attn-tile lowers that
// (tiled, or through decomposeLinearGrad).
LogicalResult LinearOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                                 ArrayRef<bool> wanted,
                                 SmallVectorImpl<Value> &operandGrads) {
  if (failed(singleResultGrad(*this, resultGrads)))
    return failure();
  for (Value v : {getQuery(), getKey(), getValue()})
    if (!tensorTypeOf(v).hasStaticShape())
      return emitOpError("reverse mode of linear attention needs static "
                         "shapes");
  auto grad = LinearGradOp::create(
      b, getLoc(), getQuery().getType(), getKey().getType(),
      getValue().getType(), getQuery(), getKey(), getValue(), getFeatureMap(),
      getKeyLengths(), getResult(), resultGrads[0], getCausal());
  operandGrads.push_back(wanted[0] ? grad.getQueryGrad() : Value());
  operandGrads.push_back(wanted[1] ? grad.getKeyGrad() : Value());
  operandGrads.push_back(wanted[2] ? grad.getValueGrad() : Value());
  operandGrads.push_back(Value()); // feature map
  if (getKeyLengths())
    operandGrads.push_back(Value());
  return success();
}

//===----------------------------------------------------------------------===//
// Upstream ops, as external models
//===----------------------------------------------------------------------===//

namespace {

/// linalg.add: both addends receive the cotangent.
struct AddVjp : public Differentiable::ExternalModel<AddVjp, linalg::AddOp> {
  LogicalResult buildVjp(Operation *op, OpBuilder &b,
                         ArrayRef<Value> resultGrads, ArrayRef<bool> wanted,
                         SmallVectorImpl<Value> &operandGrads) const {
    if (failed(singleResultGrad(op, resultGrads)))
      return failure();
    auto add = cast<linalg::AddOp>(op);
    for (OpOperand &operand : op->getOpOperands()) {
      bool input = add.isDpsInput(&operand);
      operandGrads.push_back(input && wanted[operand.getOperandNumber()]
                                 ? resultGrads[0]
                                 : Value());
    }
    return success();
  }
};

/// linalg.transpose: the cotangent transposed back.
struct TransposeVjp
    : public Differentiable::ExternalModel<TransposeVjp, linalg::TransposeOp> {
  LogicalResult buildVjp(Operation *op, OpBuilder &b,
                         ArrayRef<Value> resultGrads, ArrayRef<bool> wanted,
                         SmallVectorImpl<Value> &operandGrads) const {
    if (failed(singleResultGrad(op, resultGrads)))
      return failure();
    auto transpose = cast<linalg::TransposeOp>(op);
    ArrayRef<int64_t> perm = transpose.getPermutation();
    SmallVector<int64_t> inverse(perm.size());
    for (auto [i, p] : llvm::enumerate(perm))
      inverse[p] = i;
    TensorBuilder tb{b, op->getLoc()};
    operandGrads.push_back(wanted[0] ? tb.transpose(resultGrads[0], inverse)
                                     : Value());
    operandGrads.push_back(Value()); // init
    return success();
  }
};

/// tensor.expand_shape and tensor.collapse_shape: the inverse reshape.
template <typename ReshapeOp, typename InverseOp>
struct ReshapeVjp
    : public Differentiable::ExternalModel<ReshapeVjp<ReshapeOp, InverseOp>,
                                           ReshapeOp> {
  LogicalResult buildVjp(Operation *op, OpBuilder &b,
                         ArrayRef<Value> resultGrads, ArrayRef<bool> wanted,
                         SmallVectorImpl<Value> &operandGrads) const {
    if (failed(singleResultGrad(op, resultGrads)))
      return failure();
    auto reshape = cast<ReshapeOp>(op);
    if (!reshape.getSrcType().hasStaticShape())
      return op->emitOpError("reverse mode needs static shapes");
    operandGrads.push_back(
        wanted[0] ? InverseOp::create(b, op->getLoc(), reshape.getSrcType(),
                                      resultGrads[0],
                                      reshape.getReassociationIndices())
                        .getResult()
                  : Value());
    // Dynamic output sizes of an expand_shape, if any.
    while (operandGrads.size() < op->getNumOperands())
      operandGrads.push_back(Value());
    return success();
  }
};

/// tensor.extract_slice: the cotangent placed in zeros where the slice was.
struct ExtractSliceVjp
    : public Differentiable::ExternalModel<ExtractSliceVjp,
                                           tensor::ExtractSliceOp> {
  LogicalResult buildVjp(Operation *op, OpBuilder &b,
                         ArrayRef<Value> resultGrads, ArrayRef<bool> wanted,
                         SmallVectorImpl<Value> &operandGrads) const {
    if (failed(singleResultGrad(op, resultGrads)))
      return failure();
    auto slice = cast<tensor::ExtractSliceOp>(op);
    if (!slice.getSourceType().hasStaticShape() || op->getNumOperands() != 1)
      return op->emitOpError(
          "reverse mode needs static shapes, offsets and sizes");
    TensorBuilder tb{b, op->getLoc()};
    operandGrads.push_back(
        wanted[0]
            ? tensor::InsertSliceOp::create(
                  b, op->getLoc(), resultGrads[0],
                  tb.zeros(slice.getSourceType()), slice.getMixedOffsets(),
                  slice.getMixedSizes(), slice.getMixedStrides())
                  .getResult()
            : Value());
    return success();
  }
};

/// An elementwise linalg.generic (all loops parallel, one result under a
/// permutation map, inputs under projected permutations, the output's
/// initial value unread), such as y + d x with d broadcast: for each wanted
/// input, a generic that runs the body and its derivative in that input at
/// every point and sums cotangent times derivative into the input's shape
/// (over the loops its map leaves out: broadcasts become sums).
struct GenericVjp
    : public Differentiable::ExternalModel<GenericVjp, linalg::GenericOp> {
  LogicalResult buildVjp(Operation *op, OpBuilder &b,
                         ArrayRef<Value> resultGrads, ArrayRef<bool> wanted,
                         SmallVectorImpl<Value> &operandGrads) const {
    if (failed(singleResultGrad(op, resultGrads)))
      return failure();
    auto generic = cast<linalg::GenericOp>(op);
    Location loc = op->getLoc();
    if (generic.getNumDpsInits() != 1 ||
        generic.getNumReductionLoops() != 0 ||
        !generic.getMatchingIndexingMap(generic.getDpsInitOperand(0))
             .isPermutation() ||
        !llvm::all_of(generic.getIndexingMapsArray(),
                      [](AffineMap m) { return m.isProjectedPermutation(); }))
      return op->emitOpError(
          "reverse mode differentiates elementwise generics only: one "
          "result under a permutation map, parallel loops, inputs under "
          "projected permutations");
    Block *body = generic.getBody();
    if (!generic.getMatchingBlockArgument(generic.getDpsInitOperand(0))
             .use_empty())
      return op->emitOpError("reverse mode: the body reads its output's "
                             "initial value");
    const unsigned numInputs = generic.getNumDpsInputs();
    AffineMap outMap =
        generic.getMatchingIndexingMap(generic.getDpsInitOperand(0));
    for (OpOperand *input : generic.getDpsInputOperands()) {
      unsigned i = input->getOperandNumber();
      auto type = dyn_cast<RankedTensorType>(input->get().getType());
      if (!wanted[i] || !type) {
        operandGrads.push_back(Value());
        continue;
      }
      AffineMap inMap = generic.getMatchingIndexingMap(input);
      SmallVector<utils::IteratorType> iterators(
          generic.getNumLoops(), utils::IteratorType::reduction);
      for (AffineExpr e : inMap.getResults())
        iterators[cast<AffineDimExpr>(e).getPosition()] =
            utils::IteratorType::parallel;
      // Broadcasts become sums: a 16-bit input's accumulate in f32.
      TensorBuilder tb{b, loc};
      bool sums = llvm::is_contained(iterators, utils::IteratorType::reduction);
      Type acc =
          sums ? tb.accumulator(type.getElementType()) : type.getElementType();
      SmallVector<Value> ins(generic.getDpsInputs());
      ins.push_back(resultGrads[0]);
      SmallVector<AffineMap> maps;
      for (OpOperand *in : generic.getDpsInputOperands())
        maps.push_back(generic.getMatchingIndexingMap(in));
      maps.push_back(outMap);
      maps.push_back(inMap);
      LogicalResult status = success();
      auto grad = linalg::GenericOp::create(
          b, loc, TypeRange{type.clone(acc)}, ins,
          ValueRange{buildZeros(b, loc, type.clone(acc))}, maps, iterators,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            IRMapping mapping;
            for (unsigned k = 0; k < numInputs; ++k)
              mapping.map(body->getArgument(k), args[k]);
            BodyTangents tangents(nb, l);
            tangents.seed(args[input->getOperandNumber()]);
            Value yielded;
            for (Operation &bodyOp : body->getOperations()) {
              if (auto yield = dyn_cast<linalg::YieldOp>(bodyOp)) {
                yielded = mapping.lookup(yield.getOperand(0));
                break;
              }
              Operation *clone = nb.clone(bodyOp, mapping);
              if (failed(tangents.visit(clone)))
                status = failure();
            }
            Value sum = args.back();
            if (Value t = yielded ? tangents.of(yielded) : Value()) {
              Value term = arith::MulFOp::create(nb, l, args[numInputs], t);
              if (term.getType() != acc)
                term = arith::ExtFOp::create(nb, l, acc, term);
              sum = arith::AddFOp::create(nb, l, sum, term);
            }
            linalg::YieldOp::create(nb, l, sum);
          });
      if (failed(status))
        return failure();
      operandGrads.push_back(
          CastOp::castTo(b, loc, grad.getResult(0), type.getElementType()));
    }
    operandGrads.push_back(Value()); // init
    return success();
  }
};

} // namespace

void mlir::attn::registerVjpExternalModels(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, linalg::LinalgDialect *) {
    linalg::AddOp::attachInterface<AddVjp>(*ctx);
    linalg::TransposeOp::attachInterface<TransposeVjp>(*ctx);
    linalg::GenericOp::attachInterface<GenericVjp>(*ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, tensor::TensorDialect *) {
    tensor::ExpandShapeOp::attachInterface<
        ReshapeVjp<tensor::ExpandShapeOp, tensor::CollapseShapeOp>>(*ctx);
    tensor::CollapseShapeOp::attachInterface<
        ReshapeVjp<tensor::CollapseShapeOp, tensor::ExpandShapeOp>>(*ctx);
    tensor::ExtractSliceOp::attachInterface<ExtractSliceVjp>(*ctx);
  });
}

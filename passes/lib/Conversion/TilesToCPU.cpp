//===- TilesToCPU.cpp - attn tile ops to vector code for the CPU ----------===//
//
// Each tile op becomes loops with vector operations W lanes wide along a
// contiguous dimension, with register blocking:
//
//  softmax_step: K is transposed into scratch (W x W vector transposes) so
//    that S = scale * Q K^T is computed for R query rows by 2W keys at a time
//    (per head-dim element: 2 key loads, R broadcasts, 2R FMAs); masked keys
//    become -inf; statistics are per row; P V accumulates R rows by up to 4
//    vectors of the value dimension per key.
//  softmax_finalize: acc / sum per row, vectorized along the value dimension.
//  linear_state / linear_output: phi is applied to a tile of keys or queries
//    into scratch (the feature map's body emitted on vectors), then the small
//    matrix products are register blocked like P V.
//  ssm_scan: the recurrence is vectorized across the channel group, modes in
//    an inner loop, the state in scratch.
//
// Rows are processed in groups of R; the last group repeats the last row
// instead of branching (a repeated row reads the same state and stores the
// same result). Scratch lives in an alloca scope around each op.
//
//===----------------------------------------------------------------------===//

#include "OpLowering.h"
#include "attn/Conversion/OnlineSoftmax.h"
#include "attn/Conversion/Passes.h"
#include "attn/IR/Gradients.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/TypeSwitch.h"

#include <limits>

namespace mlir::attn {
#define GEN_PASS_DEF_CONVERTTILESTOCPU
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

/// Builder helpers for one op's lowering.
struct VecEmitter {
  OpBuilder &b;
  Location loc;
  int64_t width;

  Type f32() { return b.getF32Type(); }
  VectorType vec() { return VectorType::get({width}, f32()); }
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value cst(double v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }
  Value splat(double v) {
    return arith::ConstantOp::create(
        b, loc, vec(), SplatElementsAttr::get(vec(), b.getF32FloatAttr(v)));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value min(Value x, Value y) { return arith::MinSIOp::create(b, loc, x, y); }
  Value addf(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value mulf(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value subf(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value maxf(Value x, Value y) {
    return arith::MaximumFOp::create(b, loc, x, y);
  }
  Value fma(Value x, Value y, Value acc) {
    return vector::FMAOp::create(b, loc, x, y, acc);
  }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, loc, c, x, y);
  }
  Value ceilTo(Value x, int64_t m) {
    Value q = arith::CeilDivUIOp::create(b, loc, x, idx(m));
    return mul(q, idx(m));
  }
  Value dim(Value memref, unsigned i) {
    auto type = cast<MemRefType>(memref.getType());
    if (!type.isDynamicDim(i))
      return idx(type.getDimSize(i));
    return memref::DimOp::create(b, loc, memref, i);
  }

  /// A scalar load, converted to f32.
  Value loadF32(Value memref, ValueRange indices) {
    Value v = memref::LoadOp::create(b, loc, memref, indices);
    return toF32(v);
  }
  Value toF32(Value v) {
    if (v.getType() == f32())
      return v;
    return arith::ExtFOp::create(b, loc, f32(), v);
  }
  Value fromF32(Value v, Type elem) {
    if (elem == f32())
      return v;
    Type t = isa<VectorType>(v.getType()) ? Type(VectorType::get({width}, elem))
                                          : elem;
    return arith::TruncFOp::create(b, loc, t, v);
  }
  /// A vector load of `width` contiguous elements, converted to f32.
  Value loadVec(Value memref, ValueRange indices) {
    Type elem = cast<MemRefType>(memref.getType()).getElementType();
    Value v = vector::LoadOp::create(b, loc, VectorType::get({width}, elem),
                                     memref, indices);
    if (elem == f32())
      return v;
    return arith::ExtFOp::create(b, loc, vec(), v);
  }
  void storeVec(Value v, Value memref, ValueRange indices) {
    Type elem = cast<MemRefType>(memref.getType()).getElementType();
    vector::StoreOp::create(b, loc, fromF32(v, elem), memref, indices);
  }
  Value bcast(Value scalar) {
    return vector::BroadcastOp::create(b, loc, vec(), scalar);
  }
  Value reduce(vector::CombiningKind kind, Value v) {
    return vector::ReductionOp::create(b, loc, kind, v);
  }
  /// Lanes [0, count) set (count clamped to [0, width]).
  Value prefixMask(Value count) {
    return vector::CreateMaskOp::create(
        b, loc, VectorType::get({width}, b.getI1Type()), ValueRange{count});
  }

  /// for (i = lb; i < ub; i += step) body(i), with iter_args.
  SmallVector<Value>
  loop(Value lb, Value ub, int64_t step, ValueRange init,
       function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    auto forOp = scf::ForOp::create(
        b, loc, lb, ub, idx(step), init,
        [&](OpBuilder &nb, Location l, Value iv, ValueRange args) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(nb.getInsertionBlock());
          SmallVector<Value> next = body(iv, args);
          scf::YieldOp::create(b, loc, next);
        });
    return SmallVector<Value>(forOp.getResults());
  }
  void loop(Value lb, Value ub, int64_t step, function_ref<void(Value)> body) {
    loop(lb, ub, step, ValueRange{}, [&](Value iv, ValueRange) {
      body(iv);
      return SmallVector<Value>{};
    });
  }

  Value scratch(ArrayRef<int64_t> shape, ValueRange dynamic) {
    return memref::AllocaOp::create(b, loc, MemRefType::get(shape, f32()),
                                    dynamic,
                                    /*alignment=*/b.getI64IntegerAttr(64));
  }
};

/// Runs `body` inside a memref.alloca_scope so that scratch is freed when
/// the op's code is done (the ops sit inside loops).
void inAllocaScope(OpBuilder &b, Location loc, function_ref<void()> body) {
  auto scope = memref::AllocaScopeOp::create(b, loc, TypeRange{});
  Block *block = b.createBlock(&scope.getBodyRegion());
  b.setInsertionPointToStart(block);
  body();
  memref::AllocaScopeReturnOp::create(b, loc, ValueRange{});
  b.setInsertionPointAfter(scope);
}

/// The rows of a group, repeating the last valid row past the end.
SmallVector<Value> groupRows(VecEmitter &e, Value first, int64_t count,
                             Value rows) {
  Value last = e.sub(rows, e.idx(1));
  SmallVector<Value> out;
  for (int64_t r = 0; r < count; ++r)
    out.push_back(e.min(e.add(first, e.idx(r)), last));
  return out;
}

/// dst[d][j] = src[j][d] for j < rows: W x W blocks through vector
/// transposes; `src` is [rows, D] with D a multiple of W, `dst` [D, >= rows
/// rounded up to W]. Rows past the end repeat the last row.
void transposeInto(VecEmitter &e, Value src, Value rows, int64_t depth,
                   Value dst) {
  int64_t w = e.width;
  auto blockType = VectorType::get({w, w}, e.f32());
  e.loop(e.idx(0), rows, w, [&](Value j0) {
    SmallVector<Value> jRows = groupRows(e, j0, w, rows);
    for (int64_t d0 = 0; d0 < depth; d0 += w) {
      Value block = arith::ConstantOp::create(
          e.b, e.loc, blockType,
          SplatElementsAttr::get(blockType, e.b.getF32FloatAttr(0)));
      for (int64_t i = 0; i < w; ++i)
        block = vector::InsertOp::create(e.b, e.loc,
                                         e.loadVec(src, {jRows[i], e.idx(d0)}),
                                         block, ArrayRef<int64_t>{i});
      Value t = vector::TransposeOp::create(e.b, e.loc, block,
                                            ArrayRef<int64_t>{1, 0});
      for (int64_t i = 0; i < w; ++i)
        vector::StoreOp::create(
            e.b, e.loc,
            vector::ExtractOp::create(e.b, e.loc, t, ArrayRef<int64_t>{i}), dst,
            ValueRange{e.idx(d0 + i), j0});
    }
  });
}

//===----------------------------------------------------------------------===//
// softmax_step
//===----------------------------------------------------------------------===//

struct Blocking {
  int64_t rows;   // R: query rows per group
  int64_t keyVec; // key vectors per S block
  int64_t outVec; // value-dimension vectors per accumulator block
};

Blocking blockingFor(int64_t width) {
  // 32 registers at 16 lanes (AVX-512), 16 at 8 lanes (AVX2).
  if (width >= 16)
    return {4, 2, 4};
  return {2, 2, 4};
}

/// The CPU form's rows: a group of R query rows (the last repeated past
/// the tile's end), their scores in scratch rows [R, keys rounded up to the
/// width] with dropped ones at -inf, their statistics in the op's buffers,
/// their accumulator updated by blocks of the value dimension.
class ScratchRows final : public SoftmaxRows {
public:
  ScratchRows(VecEmitter &e, SoftmaxStepOp op, ArrayRef<Value> rows, Value s,
              Value keys, Value paddedKeys, Blocking blk)
      : e(e), op(op), rows(rows), s(s), keys(keys), paddedKeys(paddedKeys),
        blk(blk) {}

  int64_t numRows() const override { return blk.rows; }
  Value max(OpBuilder &b, Location loc, int64_t r) override {
    return memref::LoadOp::create(b, loc, op.getMax(), rows[r]);
  }
  Value sum(OpBuilder &b, Location loc, int64_t r) override {
    return memref::LoadOp::create(b, loc, op.getSum(), rows[r]);
  }
  void setMax(OpBuilder &b, Location loc, int64_t r, Value m) override {
    memref::StoreOp::create(b, loc, m, op.getMax(), rows[r]);
  }
  void setSum(OpBuilder &b, Location loc, int64_t r, Value l) override {
    memref::StoreOp::create(b, loc, l, op.getSum(), rows[r]);
  }
  Value scoreMax(OpBuilder &b, Location loc, int64_t r) override {
    Value mx = e.loop(e.idx(0), paddedKeys, e.width, {e.splat(kNegInf)},
                      [&](Value j, ValueRange args) {
                        return SmallVector<Value>{e.maxf(args[0], scores(r, j))};
                      })[0];
    return e.reduce(vector::CombiningKind::MAXIMUMF, mx);
  }
  Value exponentiate(OpBuilder &b, Location loc, int64_t r,
                     Value base) override {
    Value baseV = e.bcast(base);
    Value sumV = e.loop(
        e.idx(0), paddedKeys, e.width, {e.splat(0)},
        [&](Value j, ValueRange args) {
          Value sv = scores(r, j);
          // Explicit zeros: the polynomial exp need not map -inf to 0.
          Value dropped = arith::CmpFOp::create(
              b, loc, arith::CmpFPredicate::OEQ, sv, e.splat(kNegInf));
          Value p = e.select(dropped, e.splat(0),
                             emitExp(b, loc, e.subf(sv, baseV), ExpBase::E));
          vector::StoreOp::create(b, loc, p, s, ValueRange{e.idx(r), j});
          return SmallVector<Value>{e.addf(args[0], p)};
        })[0];
    return e.reduce(vector::CombiningKind::ADD, sumV);
  }
  /// acc = alpha acc + P V, by blocks of up to blk.outVec vectors of the
  /// value dimension, the block's accumulators in registers across keys.
  void accumulate(OpBuilder &b, Location loc, ArrayRef<Value> alpha) override {
    const int64_t width = e.width;
    const int64_t dv = cast<MemRefType>(op.getValue().getType()).getDimSize(1);
    for (int64_t c0 = 0; c0 < dv; c0 += blk.outVec * width) {
      int64_t nvec = std::min(blk.outVec, (dv - c0) / width);
      SmallVector<Value> init;
      for (int64_t r = 0; r < blk.rows; ++r)
        for (int64_t c = 0; c < nvec; ++c)
          init.push_back(
              e.mulf(vector::LoadOp::create(
                         b, loc, e.vec(), op.getAcc(),
                         ValueRange{rows[r], e.idx(c0 + c * width)}),
                     e.bcast(alpha[r])));
      SmallVector<Value> acc =
          e.loop(e.idx(0), keys, 1, init, [&](Value j, ValueRange args) {
            SmallVector<Value> vv, next(args);
            for (int64_t c = 0; c < nvec; ++c)
              vv.push_back(
                  e.loadVec(op.getValue(), {j, e.idx(c0 + c * width)}));
            for (int64_t r = 0; r < blk.rows; ++r) {
              Value p = e.bcast(
                  memref::LoadOp::create(b, loc, s, ValueRange{e.idx(r), j}));
              for (int64_t c = 0; c < nvec; ++c)
                next[r * nvec + c] = e.fma(p, vv[c], next[r * nvec + c]);
            }
            return next;
          });
      for (int64_t r = 0; r < blk.rows; ++r)
        for (int64_t c = 0; c < nvec; ++c)
          vector::StoreOp::create(b, loc, acc[r * nvec + c], op.getAcc(),
                                  ValueRange{rows[r], e.idx(c0 + c * width)});
    }
  }

private:
  Value scores(int64_t r, Value j) {
    return vector::LoadOp::create(e.b, e.loc, e.vec(), s,
                                  ValueRange{e.idx(r), j});
  }

  VecEmitter &e;
  SoftmaxStepOp op;
  ArrayRef<Value> rows;
  Value s, keys, paddedKeys;
  Blocking blk;
};

LogicalResult lowerSoftmaxStep(SoftmaxStepOp op, RewriterBase &b, int64_t width) {
  b.setInsertionPoint(op);
  Location loc = op.getLoc();
  VecEmitter e{b, loc, width};
  const int64_t depth = cast<MemRefType>(op.getKey().getType()).getDimSize(1);
  const int64_t dv = cast<MemRefType>(op.getValue().getType()).getDimSize(1);
  if (ShapedType::isDynamic(depth) || ShapedType::isDynamic(dv) ||
      depth % width || dv % width)
    return op.emitOpError() << "the CPU lowering needs head dims that are "
                               "multiples of the vector width "
                            << width << ", got " << depth << " and " << dv;
  Blocking blk = blockingFor(width);
  const int64_t keyBlock = blk.keyVec * width;
  const double scale = op.getScale().convertToDouble();

  inAllocaScope(b, loc, [&] {
    Value mq = e.dim(op.getQuery(), 0), mk = e.dim(op.getKey(), 0);
    Value mkPad = e.ceilTo(mk, keyBlock);
    Value kt = e.scratch({depth, ShapedType::kDynamic}, {mkPad});
    transposeInto(e, op.getKey(), mk, depth, kt);
    Value s = e.scratch({blk.rows, ShapedType::kDynamic}, {mkPad});

    e.loop(e.idx(0), mq, blk.rows, [&](Value i0) {
      SmallVector<Value> rows = groupRows(e, i0, blk.rows, mq);
      // S = scale * Q K^T, keys past mk at -inf.
      e.loop(e.idx(0), mkPad, keyBlock, [&](Value j0) {
        SmallVector<Value> acc(blk.rows * blk.keyVec, e.splat(0));
        for (int64_t d = 0; d < depth; ++d) {
          SmallVector<Value> kv;
          for (int64_t c = 0; c < blk.keyVec; ++c)
            kv.push_back(vector::LoadOp::create(
                b, loc, e.vec(), kt,
                ValueRange{e.idx(d), e.add(j0, e.idx(c * width))}));
          for (int64_t r = 0; r < blk.rows; ++r) {
            Value qb = e.bcast(e.loadF32(op.getQuery(), {rows[r], e.idx(d)}));
            for (int64_t c = 0; c < blk.keyVec; ++c)
              acc[r * blk.keyVec + c] =
                  e.fma(qb, kv[c], acc[r * blk.keyVec + c]);
          }
        }
        for (int64_t c = 0; c < blk.keyVec; ++c) {
          Value j = e.add(j0, e.idx(c * width));
          Value valid = e.prefixMask(e.sub(mk, j));
          for (int64_t r = 0; r < blk.rows; ++r) {
            Value scaled = e.mulf(acc[r * blk.keyVec + c], e.splat(scale));
            vector::StoreOp::create(b, loc,
                                    e.select(valid, scaled, e.splat(kNegInf)),
                                    s, ValueRange{e.idx(r), j});
          }
        }
      });
      // The score region and the mask's predicate (of a partial tile), per
      // element.
      if (!op.getPredicate().empty() || !op.getScore().empty()) {
        for (int64_t r = 0; r < blk.rows; ++r) {
          e.loop(e.idx(0), mk, 1, [&](Value j) {
            Value score = emitScoreAt(
                b, loc, op,
                memref::LoadOp::create(b, loc, s, ValueRange{e.idx(r), j}),
                rows[r], j);
            if (Value kept = emitKeptAt(b, loc, op, rows[r], j))
              score = e.select(kept, score, e.cst(kNegInf));
            memref::StoreOp::create(b, loc, score, s, ValueRange{e.idx(r), j});
          });
        }
      }
      // Statistics and the accumulator; S becomes P in place.
      ScratchRows group(e, op, rows, s, mk, mkPad, blk);
      emitOnlineSoftmaxStep(b, loc, group);
    });
  });
  b.eraseOp(op);
  return success();
}

//===----------------------------------------------------------------------===//
// softmax_finalize
//===----------------------------------------------------------------------===//

LogicalResult lowerSoftmaxFinalize(SoftmaxFinalizeOp op, RewriterBase &b,
                                   int64_t width) {
  b.setInsertionPoint(op);
  VecEmitter e{b, op.getLoc(), width};
  const int64_t dv = cast<MemRefType>(op.getAcc().getType()).getDimSize(1);
  if (ShapedType::isDynamic(dv) || dv % width)
    return op.emitOpError() << "the CPU lowering needs a value dim that is a "
                               "multiple of the vector width "
                            << width;
  e.loop(e.idx(0), e.dim(op.getAcc(), 0), 1, [&](Value i) {
    Value l = memref::LoadOp::create(b, e.loc, op.getSum(), i);
    if (op.getLse())
      memref::StoreOp::create(
          b, e.loc,
          emitLogSumExp(b, e.loc,
                        memref::LoadOp::create(b, e.loc, op.getMax(), i), l),
          op.getLse(), i);
    Value invV = e.bcast(emitInverseSum(b, e.loc, l));
    for (int64_t c = 0; c < dv; c += width) {
      Value a = vector::LoadOp::create(b, e.loc, e.vec(), op.getAcc(),
                                       ValueRange{i, e.idx(c)});
      e.storeVec(e.mulf(a, invV), op.getOutput(), {i, e.idx(c)});
    }
  });
  b.eraseOp(op);
  return success();
}

//===----------------------------------------------------------------------===//
// linear_state, linear_output
//===----------------------------------------------------------------------===//

/// phi of `rows` rows of `x` [rows, D] into `phi` [>= rows, F], rows past
/// the end repeating the last one.
void applyFeatureMap(VecEmitter &e, FeatureMap map, Value x, Value rows,
                     Value projection, Value phi) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  const int64_t depth = cast<MemRefType>(x.getType()).getDimSize(1);
  const int64_t features = cast<MemRefType>(phi.getType()).getDimSize(1);
  const double s = map.getInputScale(depth);
  e.loop(e.idx(0), rows, 1, [&](Value i) {
    if (!projection) {
      for (int64_t f = 0; f < features; f += e.width) {
        Value y = e.mulf(e.loadVec(x, {i, e.idx(f)}), e.splat(s));
        e.storeVec(map.emitBody(b, loc, y, Value()), phi, {i, e.idx(f)});
      }
      return;
    }
    // h = |s x|^2 / 2; y = P (s x), one feature per dot product.
    Value sq = e.splat(0);
    for (int64_t d = 0; d < depth; d += e.width) {
      Value xv = e.mulf(e.loadVec(x, {i, e.idx(d)}), e.splat(s));
      sq = e.fma(xv, xv, sq);
    }
    Value half = e.mulf(e.reduce(vector::CombiningKind::ADD, sq), e.cst(0.5));
    e.loop(e.idx(0), e.idx(features), 1, [&](Value f) {
      Value dot = e.splat(0);
      for (int64_t d = 0; d < depth; d += e.width) {
        Value xv = e.mulf(e.loadVec(x, {i, e.idx(d)}), e.splat(s));
        Value pv = vector::LoadOp::create(b, loc, e.vec(), projection,
                                          ValueRange{f, e.idx(d)});
        dot = e.fma(xv, pv, dot);
      }
      Value y = e.reduce(vector::CombiningKind::ADD, dot);
      memref::StoreOp::create(b, loc, map.emitBody(b, loc, y, half), phi,
                              ValueRange{i, f});
    });
  });
}

/// out[r][:] (+)= sum_j a[r][j] m[j][:] for `rows` rows of `a` [rows, n]
/// and m [n, C]; with `init` the accumulators start from `init` rows (or
/// from out itself when init == out), else from zero.
void blockedProduct(VecEmitter &e, Value a, Value rows, Value n, Value m,
                    Value init, Value out) {
  const int64_t cols = cast<MemRefType>(m.getType()).getDimSize(1);
  Blocking blk = blockingFor(e.width);
  e.loop(e.idx(0), rows, blk.rows, [&](Value i0) {
    SmallVector<Value> r = groupRows(e, i0, blk.rows, rows);
    for (int64_t c0 = 0; c0 < cols; c0 += blk.outVec * e.width) {
      int64_t nvec = std::min(blk.outVec, (cols - c0) / e.width);
      SmallVector<Value> acc;
      for (int64_t rr = 0; rr < blk.rows; ++rr)
        for (int64_t c = 0; c < nvec; ++c)
          acc.push_back(init ? e.loadVec(init, {r[rr], e.idx(c0 + c * e.width)})
                             : e.splat(0));
      acc = e.loop(e.idx(0), n, 1, acc, [&](Value j, ValueRange args) {
        SmallVector<Value> next(args), mv;
        for (int64_t c = 0; c < nvec; ++c)
          mv.push_back(e.loadVec(m, {j, e.idx(c0 + c * e.width)}));
        for (int64_t rr = 0; rr < blk.rows; ++rr) {
          Value av = e.bcast(e.loadF32(a, {r[rr], j}));
          for (int64_t c = 0; c < nvec; ++c)
            next[rr * nvec + c] = e.fma(av, mv[c], next[rr * nvec + c]);
        }
        return next;
      });
      for (int64_t rr = 0; rr < blk.rows; ++rr)
        for (int64_t c = 0; c < nvec; ++c)
          e.storeVec(acc[rr * nvec + c], out, {r[rr], e.idx(c0 + c * e.width)});
    }
  });
}

LogicalResult checkWidths(Operation *op, ArrayRef<Value> memrefs,
                          int64_t width) {
  for (Value v : memrefs) {
    if (!v)
      continue;
    int64_t cols = cast<MemRefType>(v.getType()).getDimSize(1);
    if (ShapedType::isDynamic(cols) || cols % width)
      return op->emitOpError() << "the CPU lowering needs inner dimensions "
                                  "that are multiples of the vector width "
                               << width << ", got " << cols;
  }
  return success();
}

/// The feature maps' vector code takes whole vectors of features: a count
/// that is not a multiple of the width would lose the last ones (FAVOR+
/// with 24 features on 16 lanes gave a wrong result without a word).
LogicalResult checkFeatures(Operation *op, int64_t features, int64_t width) {
  if (ShapedType::isDynamic(features) || features % width)
    return op->emitOpError() << "the CPU lowering needs a feature count that "
                                "is a multiple of the vector width "
                             << width << ", got " << features;
  return success();
}

/// The transpose of `m` [R, C] (f32, C static; R rows, static or not)
/// into scratch [C, R].
Value transposed(VecEmitter &e, Value m, Value rows) {
  auto type = cast<MemRefType>(m.getType());
  const int64_t r = type.getDimSize(0), cols = type.getDimSize(1);
  Value t = ShapedType::isDynamic(r) ? e.scratch({cols, r}, {rows})
                                     : e.scratch({cols, r}, {});
  e.loop(e.idx(0), rows, 1, [&](Value i) {
    e.loop(e.idx(0), e.idx(cols), 1, [&](Value c) {
      Value x = memref::LoadOp::create(e.b, e.loc, m, ValueRange{i, c});
      memref::StoreOp::create(e.b, e.loc, x, t, ValueRange{c, i});
    });
  });
  return t;
}

/// phi'(x) for a vector of an elementwise map's inputs of head dim `depth`.
Value featureSlope(VecEmitter &e, FeatureMap map, Value x, int64_t depth) {
  return buildFeatureSlope(e.b, e.loc, map, x, map.getInputScale(depth));
}

/// state += phi(K)^T V and norm += sum_j phi(k_j) (sum_j w_j phi(k_j) with
/// `weights` w) for the first `mk` rows of `key` and `value` (inside an
/// alloca scope); with `atomic`, each sum is added to the state atomically.
void addToState(VecEmitter &e, FeatureMap map, Value key, Value value,
                Value projection, Value mk, Value state, Value norm,
                Value weights, bool atomic) {
  OpBuilder &b = e.b;
  const int64_t features = cast<MemRefType>(state.getType()).getDimSize(0);
  const int64_t dv = cast<MemRefType>(state.getType()).getDimSize(1);
  // phi(K)^T as [F, mk]: phi into [mk, F] scratch, then per feature row.
  Value phi = e.scratch({ShapedType::kDynamic, features}, {mk});
  applyFeatureMap(e, map, key, mk, projection, phi);
  Value phiT = transposed(e, phi, mk);
  // Atomic: the sums in scratch first, then each added to the state.
  auto addTo = [&](Value x, Value memref, ValueRange at) {
    memref::AtomicRMWOp::create(b, e.loc, arith::AtomicRMWKind::addf, x,
                                memref, at);
  };
  Value sums = atomic ? e.scratch({features, dv}, {}) : state;
  blockedProduct(e, phiT, e.idx(features), mk, value, atomic ? Value() : state,
                 sums);
  if (atomic)
    e.loop(e.idx(0), e.idx(features), 1, [&](Value f) {
      e.loop(e.idx(0), e.idx(dv), 1, [&](Value c) {
        addTo(memref::LoadOp::create(b, e.loc, sums, ValueRange{f, c}), state,
              {f, c});
      });
    });
  // norm += sum_j phi(k_j), or sum_j w_j phi(k_j)
  e.loop(e.idx(0), e.idx(features), 1, [&](Value f) {
    Value init =
        atomic ? e.cst(0) : memref::LoadOp::create(b, e.loc, norm, f).getResult();
    Value total =
        e.loop(e.idx(0), mk, 1, {init}, [&](Value j, ValueRange args) {
          Value v = memref::LoadOp::create(b, e.loc, phiT, ValueRange{f, j});
          if (weights)
            v = e.mulf(v, memref::LoadOp::create(b, e.loc, weights, j));
          return SmallVector<Value>{e.addf(args[0], v)};
        })[0];
    if (atomic)
      addTo(total, norm, {f});
    else
      memref::StoreOp::create(b, e.loc, total, norm, f);
  });
}

LogicalResult lowerLinearState(LinearStateOp op, RewriterBase &b, int64_t width) {
  auto map = op.getFeatureMap().getDefiningOp<FeatureMap>();
  if (!map)
    return op.emitOpError("feature map must come from a feature map op");
  if (failed(checkWidths(op, {op.getKey(), op.getValue(), op.getState()},
                         width)) ||
      failed(checkFeatures(
          op, cast<MemRefType>(op.getState().getType()).getDimSize(0), width)))
    return failure();
  b.setInsertionPoint(op);
  VecEmitter e{b, op.getLoc(), width};
  inAllocaScope(b, e.loc, [&] {
    addToState(e, map, op.getKey(), op.getValue(), op.getProjection(),
               e.dim(op.getKey(), 0), op.getState(), op.getNorm(),
               op.getWeights(), op.getAtomic());
  });
  b.eraseOp(op);
  return success();
}

/// A running state, stored into prefix[c] before chunk c's keys are added.
LogicalResult lowerLinearPrefix(LinearPrefixOp op, RewriterBase &b, int64_t width) {
  auto map = op.getFeatureMap().getDefiningOp<FeatureMap>();
  if (!map)
    return op.emitOpError("feature map must come from a feature map op");
  if (failed(checkWidths(op, {op.getKey(), op.getValue()}, width)) ||
      failed(checkFeatures(
          op, cast<MemRefType>(op.getPrefix().getType()).getDimSize(1), width)))
    return failure();
  b.setInsertionPoint(op);
  Location loc = op.getLoc();
  VecEmitter e{b, loc, width};
  auto prefixType = cast<MemRefType>(op.getPrefix().getType());
  const int64_t features = prefixType.getDimSize(1);
  const int64_t dv = prefixType.getDimSize(2);
  const int64_t chunk = static_cast<int64_t>(op.getChunk());
  Value key = op.getKey(), value = op.getValue();
  inAllocaScope(b, loc, [&] {
    Value state = e.scratch({features, dv}, {});
    Value norm = e.scratch({features}, {});
    e.loop(e.idx(0), e.idx(features), 1, [&](Value f) {
      for (int64_t d = 0; d < dv; d += width)
        e.storeVec(e.splat(0), state, {f, e.idx(d)});
      memref::StoreOp::create(b, loc, e.cst(0), norm, f);
    });
    Value mk = e.dim(key, 0);
    e.loop(e.idx(0), e.dim(op.getPrefix(), 0), 1, [&](Value c) {
      e.loop(e.idx(0), e.idx(features), 1, [&](Value f) {
        for (int64_t d = 0; d < dv; d += width)
          e.storeVec(e.loadVec(state, {f, e.idx(d)}), op.getPrefix(),
                     {c, f, e.idx(d)});
        memref::StoreOp::create(
            b, loc, memref::LoadOp::create(b, loc, norm, f).getResult(),
            op.getPrefixNorm(), ValueRange{c, f});
      });
      Value k0 = e.mul(c, e.idx(chunk));
      Value kn = arith::MaxSIOp::create(
          b, loc, e.min(e.idx(chunk), e.sub(mk, k0)), e.idx(0));
      auto rows = [&](Value x) -> Value {
        SmallVector<OpFoldResult> offsets{k0, b.getIndexAttr(0)},
            sizes{kn, b.getIndexAttr(cast<MemRefType>(x.getType())
                                          .getDimSize(1))},
            strides(2, b.getIndexAttr(1));
        return memref::SubViewOp::create(b, loc, x, offsets, sizes, strides);
      };
      inAllocaScope(b, loc, [&] {
        addToState(e, map, rows(key), rows(value), op.getProjection(), kn,
                   state, norm, /*weights=*/Value(), /*atomic=*/false);
      });
    });
  });
  b.eraseOp(op);
  return success();
}

LogicalResult lowerLinearOutput(LinearOutputOp op, RewriterBase &b, int64_t width) {
  auto map = op.getFeatureMap().getDefiningOp<FeatureMap>();
  if (!map)
    return op.emitOpError("feature map must come from a feature map op");
  if (failed(checkWidths(op,
                         {op.getQuery(), op.getState(), op.getOutput(),
                          op.getKey(), op.getValue()},
                         width)) ||
      failed(checkFeatures(
          op, cast<MemRefType>(op.getState().getType()).getDimSize(0), width)))
    return failure();
  b.setInsertionPoint(op);
  Location loc = op.getLoc();
  VecEmitter e{b, loc, width};
  const int64_t features =
      cast<MemRefType>(op.getState().getType()).getDimSize(0);
  const int64_t dv = cast<MemRefType>(op.getState().getType()).getDimSize(1);
  inAllocaScope(b, loc, [&] {
    Value mq = e.dim(op.getQuery(), 0);
    Value phiQ = e.scratch({ShapedType::kDynamic, features}, {mq});
    applyFeatureMap(e, map, op.getQuery(), mq, op.getProjection(), phiQ);
    // numerator = phi(Q) S, denominator = phi(Q) z
    Value num = e.scratch({ShapedType::kDynamic, dv}, {mq});
    blockedProduct(e, phiQ, mq, e.idx(features), op.getState(), Value(), num);
    Value den = e.scratch({ShapedType::kDynamic}, {mq});
    e.loop(e.idx(0), mq, 1, [&](Value i) {
      Value dot = e.splat(0);
      for (int64_t f = 0; f < features; f += width) {
        Value pv = vector::LoadOp::create(b, loc, e.vec(), phiQ,
                                          ValueRange{i, e.idx(f)});
        Value zv = vector::LoadOp::create(b, loc, e.vec(), op.getNorm(),
                                          ValueRange{e.idx(f)});
        dot = e.fma(pv, zv, dot);
      }
      memref::StoreOp::create(b, loc, e.reduce(vector::CombiningKind::ADD, dot),
                              den, i);
    });
    if (op.getKey()) {
      // Intra-tile causal part: a_ij = phi(q_i) . phi(k_j) for j <= i +
      // diagonal.
      Value mk = e.dim(op.getKey(), 0);
      Value shift = op.getDiagonal();
      Value phiK = e.scratch({ShapedType::kDynamic, features}, {mk});
      applyFeatureMap(e, map, op.getKey(), mk, op.getProjection(), phiK);
      Value a =
          e.scratch({ShapedType::kDynamic, ShapedType::kDynamic}, {mq, mk});
      e.loop(e.idx(0), mq, 1, [&](Value i) {
        Value last = e.add(i, shift);
        Value rowSum =
            e.loop(e.idx(0), mk, 1, {e.cst(0)}, [&](Value j, ValueRange args) {
              Value dot = e.splat(0);
              for (int64_t f = 0; f < features; f += width) {
                Value qv = vector::LoadOp::create(b, loc, e.vec(), phiQ,
                                                  ValueRange{i, e.idx(f)});
                Value kv = vector::LoadOp::create(b, loc, e.vec(), phiK,
                                                  ValueRange{j, e.idx(f)});
                dot = e.fma(qv, kv, dot);
              }
              Value causal = arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::ule, j, last);
              Value aij = e.select(
                  causal, e.reduce(vector::CombiningKind::ADD, dot), e.cst(0));
              memref::StoreOp::create(b, loc, aij, a, ValueRange{i, j});
              return SmallVector<Value>{e.addf(args[0], aij)};
            })[0];
        Value d = memref::LoadOp::create(b, loc, den, i);
        memref::StoreOp::create(b, loc, e.addf(d, rowSum), den, i);
      });
      blockedProduct(e, a, mq, mk, op.getValue(), num, num);
    }
    e.loop(e.idx(0), mq, 1, [&](Value i) {
      Value d = memref::LoadOp::create(b, loc, den, i);
      Value nonzero =
          arith::CmpFOp::create(b, loc, arith::CmpFPredicate::ONE, d, e.cst(0));
      Value inv = e.bcast(e.select(
          nonzero, arith::DivFOp::create(b, loc, e.cst(1), d), e.cst(0)));
      for (int64_t c = 0; c < dv; c += width) {
        Value nv = vector::LoadOp::create(b, loc, e.vec(), num,
                                          ValueRange{i, e.idx(c)});
        e.storeVec(e.mulf(nv, inv), op.getOutput(), {i, e.idx(c)});
      }
    });
  });
  b.eraseOp(op);
  return success();
}

/// Per row: den = phi(q) . z, u = dO . out, g = dO / den and c = -u / den
/// (zero where den is), then query_grad = (S g + c z) * phi'(q), scaled_grad
/// = g, norm_weights = c.
LogicalResult lowerLinearQueryGrad(LinearQueryGradOp op, RewriterBase &b,
                                   int64_t width) {
  auto map = op.getFeatureMap().getDefiningOp<FeatureMap>();
  const int64_t features =
      cast<MemRefType>(op.getState().getType()).getDimSize(0);
  if (failed(checkWidths(op,
                         {op.getQuery(), op.getOutput(), op.getOutputGrad(),
                          op.getState(), op.getQueryGrad(), op.getScaledGrad()},
                         width)) ||
      failed(checkFeatures(op, features, width)))
    return failure();
  b.setInsertionPoint(op);
  Location loc = op.getLoc();
  VecEmitter e{b, loc, width};
  const int64_t dv = cast<MemRefType>(op.getState().getType()).getDimSize(1);
  Value query = op.getQuery(), norm = op.getNorm(), c = op.getNormWeights();
  inAllocaScope(b, loc, [&] {
    Value mq = e.dim(query, 0);
    Value phiQ = e.scratch({ShapedType::kDynamic, features}, {mq});
    applyFeatureMap(e, map, query, mq, Value(), phiQ);
    Value g = e.scratch({ShapedType::kDynamic, dv}, {mq});
    e.loop(e.idx(0), mq, 1, [&](Value i) {
      Value den = e.splat(0), u = e.splat(0);
      for (int64_t f = 0; f < features; f += width)
        den = e.fma(e.loadVec(phiQ, {i, e.idx(f)}), e.loadVec(norm, {e.idx(f)}),
                    den);
      for (int64_t d = 0; d < dv; d += width)
        u = e.fma(e.loadVec(op.getOutputGrad(), {i, e.idx(d)}),
                  e.loadVec(op.getOutput(), {i, e.idx(d)}), u);
      Value d = e.reduce(vector::CombiningKind::ADD, den);
      Value nonzero =
          arith::CmpFOp::create(b, loc, arith::CmpFPredicate::ONE, d, e.cst(0));
      Value inv = e.select(nonzero, arith::DivFOp::create(b, loc, e.cst(1), d),
                           e.cst(0));
      Value ci = arith::NegFOp::create(
          b, loc, e.mulf(e.reduce(vector::CombiningKind::ADD, u), inv));
      memref::StoreOp::create(b, loc, ci, c, i);
      for (int64_t col = 0; col < dv; col += width) {
        Value gv = e.mulf(e.loadVec(op.getOutputGrad(), {i, e.idx(col)}),
                          e.bcast(inv));
        e.storeVec(gv, g, {i, e.idx(col)});
        e.storeVec(gv, op.getScaledGrad(), {i, e.idx(col)});
      }
    });
    // dphi = g S^T + c z^T, then times phi'(q).
    Value dphi = e.scratch({ShapedType::kDynamic, features}, {mq});
    blockedProduct(e, g, mq, e.idx(dv),
                   transposed(e, op.getState(), e.idx(features)), Value(),
                   dphi);
    e.loop(e.idx(0), mq, 1, [&](Value i) {
      Value ci = e.bcast(memref::LoadOp::create(b, loc, c, i));
      for (int64_t f = 0; f < features; f += width) {
        Value x = e.fma(ci, e.loadVec(norm, {e.idx(f)}),
                        e.loadVec(dphi, {i, e.idx(f)}));
        Value slope =
            featureSlope(e, map, e.loadVec(query, {i, e.idx(f)}), features);
        e.storeVec(e.mulf(x, slope), op.getQueryGrad(), {i, e.idx(f)});
      }
    });
  });
  b.eraseOp(op);
  return success();
}

/// Per key: key_grad = (dS v + dz) * phi'(k), value_grad = dS^T phi(k).
LogicalResult lowerLinearKeyGrad(LinearKeyGradOp op, RewriterBase &b,
                                 int64_t width) {
  auto map = op.getFeatureMap().getDefiningOp<FeatureMap>();
  Value stateGrad = op.getStateGrad(), key = op.getKey();
  const int64_t features = cast<MemRefType>(stateGrad.getType()).getDimSize(0);
  const int64_t dv = cast<MemRefType>(stateGrad.getType()).getDimSize(1);
  if (failed(checkWidths(
          op,
          {key, op.getValue(), stateGrad, op.getKeyGrad(), op.getValueGrad()},
          width)) ||
      failed(checkFeatures(op, features, width)))
    return failure();
  b.setInsertionPoint(op);
  Location loc = op.getLoc();
  VecEmitter e{b, loc, width};
  inAllocaScope(b, loc, [&] {
    Value mk = e.dim(key, 0);
    Value phiK = e.scratch({ShapedType::kDynamic, features}, {mk});
    applyFeatureMap(e, map, key, mk, Value(), phiK);
    blockedProduct(e, phiK, mk, e.idx(features), stateGrad, Value(),
                   op.getValueGrad());
    Value dphi = e.scratch({ShapedType::kDynamic, features}, {mk});
    blockedProduct(e, op.getValue(), mk, e.idx(dv),
                   transposed(e, stateGrad, e.idx(features)), Value(), dphi);
    e.loop(e.idx(0), mk, 1, [&](Value j) {
      for (int64_t f = 0; f < features; f += width) {
        Value x = e.addf(e.loadVec(dphi, {j, e.idx(f)}),
                         e.loadVec(op.getNormGrad(), {e.idx(f)}));
        Value slope =
            featureSlope(e, map, e.loadVec(key, {j, e.idx(f)}), features);
        e.storeVec(e.mulf(x, slope), op.getKeyGrad(), {j, e.idx(f)});
      }
    });
  });
  b.eraseOp(op);
  return success();
}

//===----------------------------------------------------------------------===//
// ssm_scan
//===----------------------------------------------------------------------===//

LogicalResult lowerSsmScan(SsmScanOp op, RewriterBase &b, int64_t width) {
  auto inType = cast<MemRefType>(op.getInput().getType());
  if (!inType.getElementType().isF32())
    return op.emitOpError("the CPU scan computes on f32 inputs");
  const int64_t state =
      cast<MemRefType>(op.getAbarReal().getType()).getDimSize(1);
  if (ShapedType::isDynamic(state))
    return op.emitOpError("the CPU scan needs a static state size");
  b.setInsertionPoint(op);
  Location loc = op.getLoc();
  VecEmitter e{b, loc, width};
  const bool reverse = op.getReverse(), accumulate = op.getAccumulate();
  Value output = op.getOutput();
  Value length = e.dim(op.getInput(), 0);
  Value channels = e.dim(op.getInput(), 1);
  // Passes of `width` channels, a channel per lane.
  e.loop(e.idx(0), channels, width, [&](Value c0) {
    inAllocaScope(b, loc, [&] {
      Value count = e.min(e.sub(channels, c0), e.idx(width));
      Value lanes = e.prefixMask(count);
      // [C, S] of this pass's channels transposed to [S, W] (zero past
      // them), and back.
      auto toLanes = [&](Value src, Value dst) {
        e.loop(e.idx(0), e.idx(state), 1, [&](Value n) {
          e.loop(e.idx(0), e.idx(width), 1, [&](Value ch) {
            Value inRange = arith::CmpIOp::create(
                b, loc, arith::CmpIPredicate::ult, ch, count);
            auto ifOp = scf::IfOp::create(b, loc, TypeRange{e.f32()}, inRange,
                                          /*withElse=*/true);
            {
              OpBuilder::InsertionGuard g(b);
              b.setInsertionPointToStart(ifOp.thenBlock());
              scf::YieldOp::create(
                  b, loc,
                  memref::LoadOp::create(b, loc, src,
                                         ValueRange{e.add(c0, ch), n})
                      .getResult());
              b.setInsertionPointToStart(ifOp.elseBlock());
              scf::YieldOp::create(b, loc, e.cst(0));
            }
            memref::StoreOp::create(b, loc, ifOp.getResult(0), dst,
                                    ValueRange{n, ch});
          });
        });
      };
      auto fromLanes = [&](Value src, Value dst) {
        e.loop(e.idx(0), e.idx(state), 1, [&](Value n) {
          e.loop(e.idx(0), count, 1, [&](Value ch) {
            memref::StoreOp::create(
                b, loc, memref::LoadOp::create(b, loc, src, ValueRange{n, ch}),
                dst, ValueRange{e.add(c0, ch), n});
          });
        });
      };
      SmallVector<Value> coeffs;
      for (Value c :
           {op.getAbarReal(), op.getAbarImag(), op.getWReal(), op.getWImag()}) {
        coeffs.push_back(e.scratch({state, width}, {}));
        toLanes(c, coeffs.back());
      }
      Value xRe = e.scratch({state, width}, {}),
            xIm = e.scratch({state, width}, {});
      if (op.getInitReal()) {
        toLanes(op.getInitReal(), xRe);
        toLanes(op.getInitImag(), xIm);
      } else {
        e.loop(e.idx(0), e.idx(state), 1, [&](Value n) {
          vector::StoreOp::create(b, loc, e.splat(0), xRe,
                                  ValueRange{n, e.idx(0)});
          vector::StoreOp::create(b, loc, e.splat(0), xIm,
                                  ValueRange{n, e.idx(0)});
        });
      }
      e.loop(e.idx(0), length, 1, [&](Value step) {
        Value t = reverse ? e.sub(e.sub(length, e.idx(1)), step) : step;
        Value pass = e.splat(0);
        Value u = vector::MaskedLoadOp::create(b, loc, e.vec(), op.getInput(),
                                               ValueRange{t, c0}, lanes, pass);
        // forward: x = Abar x + W u, y = 2 Re sum x
        // reverse: y = 2 Re sum r, then r = Abar r + W u
        Value y = e.loop(
            e.idx(0), e.idx(state), 1, {e.splat(0)},
            [&](Value n, ValueRange args) {
              auto ld = [&](Value m) {
                return vector::LoadOp::create(b, loc, e.vec(), m,
                                              ValueRange{n, e.idx(0)})
                    .getResult();
              };
              Value ar = ld(coeffs[0]), ai = ld(coeffs[1]), wr = ld(coeffs[2]),
                    wi = ld(coeffs[3]);
              Value xr = ld(xRe), xi = ld(xIm);
              Value nr = e.fma(wr, u, e.subf(e.mulf(ar, xr), e.mulf(ai, xi)));
              Value ni = e.fma(wi, u, e.fma(ar, xi, e.mulf(ai, xr)));
              vector::StoreOp::create(b, loc, nr, xRe, ValueRange{n, e.idx(0)});
              vector::StoreOp::create(b, loc, ni, xIm, ValueRange{n, e.idx(0)});
              return SmallVector<Value>{e.addf(args[0], reverse ? xr : nr)};
            })[0];
        if (!output)
          return;
        Value out = e.mulf(y, e.splat(2));
        if (accumulate)
          out = e.addf(out, vector::MaskedLoadOp::create(
                                b, loc, e.vec(), output, ValueRange{t, c0},
                                lanes, pass));
        vector::MaskedStoreOp::create(b, loc, output, ValueRange{t, c0}, lanes,
                                      out);
      });
      if (op.getStateReal()) {
        fromLanes(xRe, op.getStateReal());
        fromLanes(xIm, op.getStateImag());
      }
    });
  });
  b.eraseOp(op);
  return success();
}

//===----------------------------------------------------------------------===//
// ssm_carry
//===----------------------------------------------------------------------===//

/// Scalar loops: K x C x S complex multiply-adds, next to the scans' L x C x
/// S.
LogicalResult lowerSsmCarry(SsmCarryOp op, RewriterBase &b) {
  b.setInsertionPoint(op);
  Location loc = op.getLoc();
  VecEmitter e{b, loc, /*width=*/1};
  Value re = op.getStatesReal(), im = op.getStatesImag();
  Value chunks = e.dim(re, 0);
  e.loop(e.idx(0), e.dim(re, 1), 1, [&](Value c) {
    e.loop(e.idx(0), e.dim(re, 2), 1, [&](Value n) {
      auto load = [&](Value m, ValueRange at) {
        return memref::LoadOp::create(b, loc, m, at).getResult();
      };
      Value mr = load(op.getMultiplierReal(), {c, n});
      Value mi = load(op.getMultiplierImag(), {c, n});
      e.loop(
          e.idx(0), chunks, 1, {e.cst(0), e.cst(0)},
          [&](Value step, ValueRange carry) {
            Value k =
                op.getReverse() ? e.sub(e.sub(chunks, e.idx(1)), step) : step;
            Value sr = load(re, {k, c, n}), si = load(im, {k, c, n});
            memref::StoreOp::create(b, loc, carry[0], re, ValueRange{k, c, n});
            memref::StoreOp::create(b, loc, carry[1], im, ValueRange{k, c, n});
            // carry = M carry + s
            Value cr =
                e.addf(e.subf(e.mulf(mr, carry[0]), e.mulf(mi, carry[1])), sr);
            Value ci =
                e.addf(e.addf(e.mulf(mr, carry[1]), e.mulf(mi, carry[0])), si);
            return SmallVector<Value>{cr, ci};
          });
    });
  });
  b.eraseOp(op);
  return success();
}

//===----------------------------------------------------------------------===//
// ssm_adjoint
//===----------------------------------------------------------------------===//

// Each (channel, mode) walks the rows against the scan's direction with
// its carried values as loop arguments.
LogicalResult lowerSsmAdjoint(SsmAdjointOp op, RewriterBase &b) {
  b.setInsertionPoint(op);
  Location loc = op.getLoc();
  VecEmitter e{b, loc, /*width=*/1};
  Value rows = e.dim(op.getInput(), 0);
  e.loop(e.idx(0), e.dim(op.getAbarReal(), 0), 1, [&](Value c) {
    e.loop(e.idx(0), e.dim(op.getAbarReal(), 1), 1, [&](Value n) {
      Value ar = e.loadF32(op.getAbarReal(), {c, n});
      Value ai = e.loadF32(op.getAbarImag(), {c, n});
      SmallVector<Value> init(SsmAdjointOp::kCarried, e.cst(0));
      SmallVector<Value> sums = e.loop(
          e.idx(0), rows, 1, init, [&](Value step, ValueRange carried) {
            // Against the scan: a forward scan's adjoint runs backwards.
            Value t = op.getReverse() ? step
                                      : e.sub(e.sub(rows, e.idx(1)), step);
            Value u = e.loadF32(op.getInput(), {t, c});
            Value g = e.loadF32(op.getOutputGrad(), {t, c});
            return op.buildStep(b, loc, ar, ai, u, g, carried);
          });
      Value outs[] = {op.getPReal(), op.getPImag(), op.getQReal(),
                      op.getQImag()};
      for (auto [i, out] : llvm::enumerate(outs))
        memref::StoreOp::create(b, loc, e.fromF32(sums[4 + i], b.getF32Type()),
                                out, ValueRange{c, n});
    });
  });
  b.eraseOp(op);
  return success();
}

} // namespace

void mlir::attn::populateTilesToCPUPatterns(RewritePatternSet &patterns,
                                            int64_t width) {
  addLowering(patterns, [=](SoftmaxStepOp op, RewriterBase &b) {
    return lowerSoftmaxStep(op, b, width);
  });
  addLowering(patterns, [=](SoftmaxFinalizeOp op, RewriterBase &b) {
    return lowerSoftmaxFinalize(op, b, width);
  });
  addLowering(patterns, [=](LinearStateOp op, RewriterBase &b) {
    return lowerLinearState(op, b, width);
  });
  addLowering(patterns, [=](LinearPrefixOp op, RewriterBase &b) {
    return lowerLinearPrefix(op, b, width);
  });
  addLowering(patterns, [=](LinearOutputOp op, RewriterBase &b) {
    return lowerLinearOutput(op, b, width);
  });
  addLowering(patterns, [=](LinearQueryGradOp op, RewriterBase &b) {
    return lowerLinearQueryGrad(op, b, width);
  });
  addLowering(patterns, [=](LinearKeyGradOp op, RewriterBase &b) {
    return lowerLinearKeyGrad(op, b, width);
  });
  addLowering(patterns, [=](SsmScanOp op, RewriterBase &b) {
    return lowerSsmScan(op, b, width);
  });
  addLowering(patterns, lowerSoftmaxGradStepByRows);
  addLowering(patterns, lowerSsmCarry);
  addLowering(patterns, lowerSsmAdjoint);
}

namespace {

struct ConvertTilesToCPUPass
    : public mlir::attn::impl::ConvertTilesToCPUBase<ConvertTilesToCPUPass> {
  using ConvertTilesToCPUBase::ConvertTilesToCPUBase;

  // Options are checked when the pipeline starts, also where no function
  // would use them.
  LogicalResult initialize(MLIRContext *context) override {
    if (vectorWidth != 8 && vectorWidth != 16)
      return emitError(UnknownLoc::get(context))
             << "attn-convert-tiles-to-cpu: vector-width must be 8 or 16, got "
             << static_cast<int64_t>(vectorWidth);
    return success();
  }

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateTilesToCPUPatterns(patterns, vectorWidth);
    if (failed(applyLowerings(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace

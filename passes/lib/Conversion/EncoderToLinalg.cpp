//===- EncoderToLinalg.cpp - encoder ops to linalg on tensors -------------===//
//
// Statistics (layer norm moments, softmax of the loss, pooled sums) and
// matrix products accumulate in f32 whatever the storage type.
//
//===----------------------------------------------------------------------===//

#include "OpLowering.h"
#include "attn/Conversion/Passes.h"
#include "attn/Support/Random.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/Matchers.h"

#include <cmath>
#include <limits>

namespace mlir::attn {
#define GEN_PASS_DEF_CONVERTENCODERTOLINALG
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

using BodyFn =
    function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)>;

struct LinalgEmitter {
  OpBuilder &b;
  Location loc;

  Type f32() { return b.getF32Type(); }
  Value empty(ArrayRef<int64_t> shape, Type elem) {
    return tensor::EmptyOp::create(b, loc, shape, elem);
  }
  Value filled(ArrayRef<int64_t> shape, Type elem, double value) {
    Value v = arith::ConstantOp::create(b, loc, b.getFloatAttr(elem, value));
    return linalg::FillOp::create(b, loc, v, empty(shape, elem)).getResult(0);
  }
  AffineMap map(unsigned dims, ArrayRef<unsigned> results) {
    SmallVector<AffineExpr> exprs;
    for (unsigned r : results)
      exprs.push_back(b.getAffineDimExpr(r));
    return AffineMap::get(dims, 0, exprs, b.getContext());
  }
  /// Every dim but the last.
  AffineMap leading(unsigned dims) {
    SmallVector<unsigned> results;
    for (unsigned i = 0; i + 1 < dims; ++i)
      results.push_back(i);
    return map(dims, results);
  }
  AffineMap identity(unsigned dims) {
    return AffineMap::getMultiDimIdentityMap(dims, b.getContext());
  }
  /// All dims but the last are parallel; the last one is `lastKind`.
  SmallVector<utils::IteratorType> iterators(unsigned dims,
                                             bool lastIsReduction) {
    SmallVector<utils::IteratorType> it(dims, utils::IteratorType::parallel);
    if (lastIsReduction)
      it.back() = utils::IteratorType::reduction;
    return it;
  }
  /// `x` with its leading dimensions (all, with `keepLast` false) as one:
  /// [d0, ..., dk] -> [d0 * ... * dk-1, dk], or [d0 * ... * dk].
  Value collapseLeading(Value x, bool keepLast) {
    auto type = cast<RankedTensorType>(x.getType());
    unsigned kept = keepLast ? 1 : 0;
    if (type.getRank() == kept + 1)
      return x;
    ReassociationIndices leading;
    int64_t count = 1;
    for (unsigned i = 0; i + kept < type.getRank(); ++i) {
      leading.push_back(i);
      count *= type.getDimSize(i);
    }
    SmallVector<ReassociationIndices> reassoc{leading};
    SmallVector<int64_t> shape{count};
    if (keepLast) {
      reassoc.push_back({type.getRank() - 1});
      shape.push_back(type.getShape().back());
    }
    return tensor::CollapseShapeOp::create(
        b, loc, RankedTensorType::get(shape, type.getElementType()), x,
        reassoc);
  }
  ValueRange generic(ValueRange ins, ValueRange outs, ArrayRef<AffineMap> maps,
                     ArrayRef<utils::IteratorType> its, BodyFn body) {
    SmallVector<Type> types;
    for (Value o : outs)
      types.push_back(o.getType());
    auto op = linalg::GenericOp::create(
        b, loc, types, ins, outs, maps, its,
        [&](OpBuilder &nb, Location l, ValueRange args) {
          linalg::YieldOp::create(nb, l, body(nb, l, args));
        });
    return op.getResults();
  }
};

Value toF32(OpBuilder &b, Location loc, Value v) {
  if (v.getType().isF32())
    return v;
  if (cast<FloatType>(v.getType()).getWidth() < 32)
    return arith::ExtFOp::create(b, loc, b.getF32Type(), v);
  return arith::TruncFOp::create(b, loc, b.getF32Type(), v);
}
Value fromF32(OpBuilder &b, Location loc, Value v, Type elem) {
  if (elem.isF32())
    return v;
  if (cast<FloatType>(elem).getWidth() < 32)
    return arith::TruncFOp::create(b, loc, elem, v);
  return arith::ExtFOp::create(b, loc, elem, v);
}
Value fcst(OpBuilder &b, Location loc, double v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}

RankedTensorType typeOf(Value v) { return cast<RankedTensorType>(v.getType()); }

//===----------------------------------------------------------------------===//

/// An id as a row of a table of `vocab` rows: out-of-range ids are clamped
/// rather than read out of bounds.
Value clampedId(OpBuilder &b, Location l, Value id, int64_t vocab) {
  Value index = arith::IndexCastOp::create(b, l, b.getIndexType(), id);
  Value zero = arith::ConstantIndexOp::create(b, l, 0);
  Value last = arith::ConstantIndexOp::create(b, l, vocab - 1);
  return arith::MinSIOp::create(b, l,
                                arith::MaxSIOp::create(b, l, index, zero), last);
}

Value lowerEmbedding(LinalgEmitter &e, EmbeddingOp op) {
  auto out = typeOf(op.getResult());
  Value table = op.getTable();
  int64_t vocab = typeOf(table).getDimSize(0);
  return e.generic(
      op.getIds(), e.empty(out.getShape(), out.getElementType()),
      {e.map(3, {0, 1}), e.identity(3)}, e.iterators(3, false),
      [&](OpBuilder &b, Location l, ValueRange args) -> SmallVector<Value> {
        Value id = clampedId(b, l, args[0], vocab);
        Value d = linalg::IndexOp::create(b, l, 2);
        return {tensor::ExtractOp::create(b, l, table, ValueRange{id, d})};
      })[0];
}

Value lowerAddPositions(LinalgEmitter &e, AddPositionsOp op) {
  auto type = typeOf(op.getInput());
  int64_t n = type.getDimSize(1), d = type.getDimSize(2);
  SmallVector<OpFoldResult> offsets{e.b.getIndexAttr(0), e.b.getIndexAttr(0)},
      sizes{e.b.getIndexAttr(n), e.b.getIndexAttr(d)},
      strides{e.b.getIndexAttr(1), e.b.getIndexAttr(1)};
  Value table = tensor::ExtractSliceOp::create(
      e.b, e.loc, RankedTensorType::get({n, d}, type.getElementType()),
      op.getTable(), offsets, sizes, strides);
  return e.generic(
      ValueRange{op.getInput(), table},
      e.empty(type.getShape(), type.getElementType()),
      {e.identity(3), e.map(3, {1, 2}), e.identity(3)}, e.iterators(3, false),
      [&](OpBuilder &b, Location l, ValueRange args) -> SmallVector<Value> {
        return {arith::AddFOp::create(b, l, args[0], args[1])};
      })[0];
}

/// Per-row sums of x and of (x - mean)^2 over the last dimension, in f32.
std::pair<Value, Value> layerNormStatistics(LinalgEmitter &e, Value input) {
  auto type = typeOf(input);
  unsigned rank = type.getRank();
  SmallVector<int64_t> lead(type.getShape().drop_back());
  AffineMap all = e.identity(rank), leadMap = e.leading(rank);
  double width = type.getShape().back();
  Value sum = e.generic(
      input, e.filled(lead, e.f32(), 0.0), {all, leadMap},
      e.iterators(rank, true),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        return {arith::AddFOp::create(b, l, toF32(b, l, a[0]), a[1])};
      })[0];
  Value sq = e.generic(
      ValueRange{input, sum}, e.filled(lead, e.f32(), 0.0),
      {all, leadMap, leadMap}, e.iterators(rank, true),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value mean = arith::DivFOp::create(b, l, a[1], fcst(b, l, width));
        Value d = arith::SubFOp::create(b, l, toF32(b, l, a[0]), mean);
        return {arith::AddFOp::create(b, l, arith::MulFOp::create(b, l, d, d),
                                      a[2])};
      })[0];
  return {sum, sq};
}

/// The normalised x and 1 / sqrt(var + eps) from x and the statistics of
/// its `n` values (n an f32 value).
std::pair<Value, Value> normalise(OpBuilder &b, Location l, Value x, Value sum,
                                  Value sq, Value n, double eps) {
  Value mean = arith::DivFOp::create(b, l, sum, n);
  Value var = arith::DivFOp::create(b, l, sq, n);
  Value inv = math::RsqrtOp::create(
      b, l, arith::AddFOp::create(b, l, var, fcst(b, l, eps)));
  Value centred = arith::SubFOp::create(b, l, toF32(b, l, x), mean);
  return {arith::MulFOp::create(b, l, centred, inv), inv};
}
/// The same for a row of `width` values.
std::pair<Value, Value> normalise(OpBuilder &b, Location l, Value x, Value sum,
                                  Value sq, double width, double eps) {
  return normalise(b, l, x, sum, sq, fcst(b, l, width), eps);
}

Value lowerLayerNorm(LinalgEmitter &e, LayerNormOp op) {
  auto type = typeOf(op.getInput());
  unsigned rank = type.getRank();
  AffineMap all = e.identity(rank), leadMap = e.leading(rank),
            lastMap = e.map(rank, {rank - 1});
  double width = type.getShape().back();
  double eps = op.getEpsilon().convertToDouble();
  auto [sum, sq] = layerNormStatistics(e, op.getInput());
  return e.generic(
      ValueRange{op.getInput(), sum, sq, op.getGamma(), op.getBeta()},
      e.empty(type.getShape(), type.getElementType()),
      {all, leadMap, leadMap, lastMap, lastMap, all}, e.iterators(rank, false),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value y = normalise(b, l, a[0], a[1], a[2], width, eps).first;
        y = arith::MulFOp::create(b, l, y, toF32(b, l, a[3]));
        y = arith::AddFOp::create(b, l, y, toF32(b, l, a[4]));
        return {fromF32(b, l, y, a[5].getType())};
      })[0];
}

/// attn.batch_norm's per-channel statistics over the real tokens of x
/// [B, N, D], in f32: the sum of x, the count of real tokens (at least 1)
/// and the sum of (x - mean)^2. Without lengths every token is real.
struct BatchStatistics {
  Value sum, count, sq;
};

/// The real tokens of x [B, N, ...] with `lengths` as an f32 mask [B, N]:
/// 1 where n < lengths[b], 0 past it; null without lengths (every token
/// real). The sums over tokens read it rather than comparing linalg.index
/// with the length, so that attn-map-loops-to-gpu may split them along the
/// sequence (only D outputs: a thread per channel would walk B x N tokens
/// alone), which it cannot for a body that asks for that dimension's index.
Value realTokenMask(LinalgEmitter &e, Value input, Value lengths) {
  if (!lengths)
    return {};
  auto type = typeOf(input);
  int64_t batch = type.getDimSize(0), seq = type.getDimSize(1);
  return e.generic(
      lengths, e.empty({batch, seq}, e.f32()), {e.map(2, {0}), e.identity(2)},
      e.iterators(2, false),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value pos = linalg::IndexOp::create(b, l, 1);
        Value len = arith::IndexCastOp::create(b, l, b.getIndexType(), a[0]);
        Value real =
            arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, pos, len);
        return {arith::SelectOp::create(b, l, real, fcst(b, l, 1.0),
                                        fcst(b, l, 0.0))};
      })[0];
}

/// Whether the token of a generic's point is real, given its element of
/// the mask (null: always).
Value isRealToken(OpBuilder &b, Location l, Value maskElement) {
  if (!maskElement)
    return arith::ConstantIntOp::create(b, l, 1, 1);
  return arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, maskElement,
                               fcst(b, l, 0.5));
}

/// Reductions over (b, n), channels parallel.
SmallVector<utils::IteratorType> overTokens() {
  return {utils::IteratorType::reduction, utils::IteratorType::reduction,
          utils::IteratorType::parallel};
}

/// `ins` (each with its map), then the mask when there is one, as a
/// generic's inputs over (b, n, d): the body finds the mask's element last
/// among them.
std::pair<SmallVector<Value>, SmallVector<AffineMap>>
withMask(LinalgEmitter &e, ArrayRef<Value> ins, ArrayRef<AffineMap> maps,
         Value mask) {
  SmallVector<Value> allIns(ins);
  SmallVector<AffineMap> allMaps(maps);
  if (mask) {
    allIns.push_back(mask);
    allMaps.push_back(e.map(3, {0, 1}));
  }
  return {allIns, allMaps};
}

/// acc + (real ? term : 0): a sum over the real tokens in the form the GPU
/// mapping splits (the running sum read by its addition alone).
Value addIfReal(OpBuilder &b, Location l, Value acc, Value real, Value term) {
  return arith::AddFOp::create(
      b, l, acc, arith::SelectOp::create(b, l, real, term, fcst(b, l, 0.0)));
}

BatchStatistics batchNormStatistics(LinalgEmitter &e, Value input, Value mask) {
  int64_t width = typeOf(input).getDimSize(2);
  AffineMap all = e.identity(3), channel = e.map(3, {2});
  Value zeros = e.filled({width}, e.f32(), 0.0);
  auto [ins, maps] = withMask(e, {input}, {all}, mask);
  maps.append({channel, channel});
  ValueRange sums = e.generic(
      ins, ValueRange{zeros, zeros}, maps, overTokens(),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value real = isRealToken(b, l, mask ? a[1] : Value());
        ValueRange acc = a.take_back(2);
        Value x = addIfReal(b, l, acc[0], real, toF32(b, l, a[0]));
        return {x, addIfReal(b, l, acc[1], real, fcst(b, l, 1.0))};
      });
  // At least one token, so that an all-padding batch divides by 1.
  Value count = e.generic(
      sums[1], e.empty({width}, e.f32()), {e.identity(1), e.identity(1)},
      {utils::IteratorType::parallel},
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        return {arith::MaximumFOp::create(b, l, a[0], fcst(b, l, 1.0))};
      })[0];
  auto [sqIns, sqMaps] =
      withMask(e, {input, sums[0], count}, {all, channel, channel}, mask);
  sqMaps.push_back(channel);
  Value sq = e.generic(
      sqIns, e.filled({width}, e.f32(), 0.0), sqMaps, overTokens(),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value real = isRealToken(b, l, mask ? a[3] : Value());
        Value mean = arith::DivFOp::create(b, l, a[1], a[2]);
        Value d = arith::SubFOp::create(b, l, toF32(b, l, a[0]), mean);
        return {
            addIfReal(b, l, a.back(), real, arith::MulFOp::create(b, l, d, d))};
      })[0];
  return {sums[0], count, sq};
}

Value lowerProject(LinalgEmitter &e, ProjectOp op) {
  auto out = typeOf(op.getResult());
  Value x = e.collapseLeading(op.getInput(), /*keepLast=*/true);
  int64_t rows = typeOf(x).getDimSize(0),
          dout = typeOf(op.getWeight()).getDimSize(1);
  Value acc =
      linalg::MatmulOp::create(e.b, e.loc, ValueRange{x, op.getWeight()},
                               ValueRange{e.filled({rows, dout}, e.f32(), 0.0)})
          .getResult(0);
  SmallVector<Value> ins{acc};
  SmallVector<AffineMap> maps{e.identity(2)};
  if (op.getBias()) {
    ins.push_back(op.getBias());
    maps.push_back(e.map(2, {1}));
  }
  maps.push_back(e.identity(2));
  Value y = e.generic(
      ins, e.empty({rows, dout}, out.getElementType()), maps,
      e.iterators(2, false),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value v = a[0];
        if (op.getBias())
          v = arith::AddFOp::create(b, l, v, toF32(b, l, a[1]));
        return {fromF32(b, l, v, a.back().getType())};
      })[0];
  // Back to the input's leading dimensions, as collapseLeading folded them.
  if (x != op.getInput())
    y = tensor::ExpandShapeOp::create(
        e.b, e.loc, out, y,
        x.getDefiningOp<tensor::CollapseShapeOp>().getReassociationIndices());
  return y;
}

/// An elementwise map over a tensor, computed in f32.
Value elementwise(
    LinalgEmitter &e, Value input,
    function_ref<Value(OpBuilder &, Location, Value, ArrayRef<Value>)> fn) {
  auto type = typeOf(input);
  unsigned rank = type.getRank();
  return e.generic(
      input, e.empty(type.getShape(), type.getElementType()),
      {e.identity(rank), e.identity(rank)}, e.iterators(rank, false),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        SmallVector<Value> indices;
        for (unsigned i = 0; i < rank; ++i)
          indices.push_back(linalg::IndexOp::create(b, l, i));
        Value y = fn(b, l, toF32(b, l, a[0]), indices);
        return {fromF32(b, l, y, a[1].getType())};
      })[0];
}

/// The standard normal distribution at x (f32): its CDF Phi(x) and its
/// density phi(x), an exact GELU's x Phi(x) and derivative Phi + x phi.
/// From erfc(z) = t exp(-z^2 + P(t)), z = |x| / sqrt(2), t = 1 / (1 + z /
/// 2), P of degree 9 (Numerical Recipes' erfcc: relative error under
/// 1.2e-7 for every z >= 0), with exp(-z^2) shared by phi; Phi(x) =
/// erfc(z) / 2 for x < 0, 1 - erfc(z) / 2 otherwise. Evaluated in f32,
/// with exp2's argument carrying its rounding, Phi and phi are good to
/// 1e-5 of their value for |x| < 9 -- in the left tail too, where
/// 0.5 (1 + erf(x / sqrt(2))) loses Phi to the sum's cancellation (with
/// math.erf on the CPU, GELU was off by up to 2.9e-3 of its value from x =
/// -2.6 leftwards). One approximate reciprocal and two exp2
/// (each one instruction after attn-mufu-kernel-math), products and sums
/// that may fuse into FMAs: the bf16 FFN's GELU gradient, run as its
/// product's epilogue, takes 27 PTX instructions an element where
/// libdevice's erff and expf made it 53, and the kernel 130 us where it
/// took 150 (an H200; tools/attn-bench/NOTES.md, session 54).
struct StandardNormal {
  Value cdf, pdf;
};
StandardNormal standardNormal(OpBuilder &b, Location l, Value x) {
  constexpr arith::FastMathFlags fm = arith::FastMathFlags::contract;
  auto mul = [&](Value a, Value c) {
    return arith::MulFOp::create(b, l, a, c, fm).getResult();
  };
  auto add = [&](Value a, Value c) {
    return arith::AddFOp::create(b, l, a, c, fm).getResult();
  };
  // Exponentials as exp2 (exp(v) = exp2(v log2(e))): one instruction on the
  // GPU.
  auto exp2 = [&](Value v) {
    return math::Exp2Op::create(b, l, v).getResult();
  };
  // t = 1 / (1 + z / 2), z = |x| / sqrt(2).
  Value t = arith::DivFOp::create(
      b, l, fcst(b, l, 1.0),
      add(mul(math::AbsFOp::create(b, l, x), fcst(b, l, 0.5 * M_SQRT1_2)),
          fcst(b, l, 1.0)),
      fm | arith::FastMathFlags::afn);
  static constexpr double kP[] = {
      -1.26551223, 1.00002368,  0.37409196, 0.09678418,  -0.18628806,
      0.27886807,  -1.13520398, 1.48851587, -0.82215223, 0.17087277};
  Value p = fcst(b, l, kP[9]);
  for (int i = 8; i >= 0; --i)
    p = add(mul(t, p), fcst(b, l, kP[i]));
  // exp(-z^2) = exp(-x^2 / 2)
  Value gauss = exp2(mul(mul(x, x), fcst(b, l, -0.5 * M_LOG2E)));
  // Phi(-|x|) = erfc(z) / 2 = t exp(-z^2) exp(P(t) - ln 2).
  Value halfExpP = exp2(add(mul(p, fcst(b, l, M_LOG2E)), fcst(b, l, -1.0)));
  Value tail = mul(mul(t, gauss), halfExpP);
  Value nonNegative = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGE, x,
                                            fcst(b, l, 0.0));
  Value cdf = arith::SelectOp::create(
      b, l, nonNegative, arith::SubFOp::create(b, l, fcst(b, l, 1.0), tail, fm),
      tail);
  return {cdf, mul(gauss, fcst(b, l, 0.5 * M_2_SQRTPI * M_SQRT1_2))};
}

Value lowerGelu(LinalgEmitter &e, GeluOp op) {
  bool approximate = op.getApproximate();
  return elementwise(
      e, op.getInput(),
      [&](OpBuilder &b, Location l, Value x, ArrayRef<Value>) -> Value {
        if (!approximate)
          return arith::MulFOp::create(b, l, x, standardNormal(b, l, x).cdf);
        // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        Value half = arith::MulFOp::create(b, l, x, fcst(b, l, 0.5));
        Value x3 =
            arith::MulFOp::create(b, l, x, arith::MulFOp::create(b, l, x, x));
        Value t = arith::AddFOp::create(
            b, l, x, arith::MulFOp::create(b, l, x3, fcst(b, l, 0.044715)));
        Value inner = math::TanhOp::create(
            b, l,
            arith::MulFOp::create(b, l, t, fcst(b, l, std::sqrt(2.0 / M_PI))));
        Value onePlus = arith::AddFOp::create(b, l, inner, fcst(b, l, 1.0));
        return arith::MulFOp::create(b, l, half, onePlus);
      });
}

/// attn::dropoutHash in i64 arithmetic.
Value dropoutHash(OpBuilder &b, Location l, Value seed, int64_t stream,
                  Value index) {
  auto c = [&](uint64_t v) {
    return arith::ConstantOp::create(
        b, l, b.getI64IntegerAttr(static_cast<int64_t>(v)));
  };
  auto mix = [&](Value h, int64_t shift, uint64_t mul) {
    Value x = arith::XOrIOp::create(b, l, h,
                                    arith::ShRUIOp::create(b, l, h, c(shift)));
    return mul ? arith::MulIOp::create(b, l, x, c(mul)).getResult() : x;
  };
  Value h = arith::XOrIOp::create(
      b, l, arith::MulIOp::create(b, l, seed, c(::attn::kDropoutSeedMul)),
      c(static_cast<uint64_t>(stream) * ::attn::kDropoutStreamMul));
  h = arith::XOrIOp::create(b, l, h, index);
  h = mix(h, 30, ::attn::kDropoutMix1);
  h = mix(h, 27, ::attn::kDropoutMix2);
  return mix(h, 31, 0);
}

Value lowerDropout(LinalgEmitter &e, DropoutOp op) {
  double rate = op.getRate().convertToDouble();
  if (rate == 0.0)
    return op.getInput();
  ArrayRef<int64_t> shape = typeOf(op.getInput()).getShape();
  int64_t stream = op.getStream();
  // One unsigned comparison of the hash per element (attn::dropoutKeep's
  // rule), in place of a shift, a u64 -> f32 conversion, a product and a
  // float comparison: a dropout's mask is most of the work of the
  // epilogues it is fused into on the GPU. A rate that rounds to 1 in f32
  // keeps nothing.
  std::optional<uint64_t> threshold = ::attn::dropoutKeepThreshold(rate);
  return elementwise(
      e, op.getInput(),
      [&](OpBuilder &b, Location l, Value x, ArrayRef<Value> indices) -> Value {
        if (!threshold)
          return fcst(b, l, 0.0);
        // Row-major linear index of the element.
        Value linear = arith::ConstantIndexOp::create(b, l, 0);
        for (auto [i, idx] : llvm::enumerate(indices))
          linear = arith::AddIOp::create(
              b, l,
              arith::MulIOp::create(
                  b, l, linear, arith::ConstantIndexOp::create(b, l, shape[i])),
              idx);
        Value index = arith::IndexCastOp::create(b, l, b.getI64Type(), linear);
        Value h = dropoutHash(b, l, op.getSeed(), stream, index);
        Value keep = arith::CmpIOp::create(
            b, l, arith::CmpIPredicate::uge, h,
            arith::ConstantOp::create(
                b, l, b.getI64IntegerAttr(static_cast<int64_t>(*threshold))));
        Value scaled =
            arith::MulFOp::create(b, l, x, fcst(b, l, 1.0 / (1.0 - rate)));
        return arith::SelectOp::create(b, l, keep, scaled, fcst(b, l, 0.0));
      });
}

Value lowerPool(LinalgEmitter &e, PoolOp op) {
  auto in = typeOf(op.getInput());
  auto out = typeOf(op.getResult());
  int64_t batch = in.getDimSize(0), n = in.getDimSize(1), d = in.getDimSize(2);
  if (op.getKind() == PoolKind::cls) {
    SmallVector<OpFoldResult> offsets(3, e.b.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes{e.b.getIndexAttr(batch),
                                    e.b.getIndexAttr(1), e.b.getIndexAttr(d)};
    SmallVector<OpFoldResult> strides(3, e.b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(e.b, e.loc, out, op.getInput(),
                                          offsets, sizes, strides);
  }
  // Sum over n (only n < lengths[b] when given), in f32, then divide.
  Value lengths = op.getLengths();
  SmallVector<Value> ins{op.getInput()};
  SmallVector<AffineMap> maps{e.map(3, {0, 2, 1})};
  if (lengths) {
    ins.push_back(lengths);
    maps.push_back(e.map(3, {0}));
  }
  maps.push_back(e.map(3, {0, 1}));
  Value sum = e.generic(
      ins, e.filled({batch, d}, e.f32(), 0.0), maps, e.iterators(3, true),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value x = toF32(b, l, a[0]);
        Value acc = a.back();
        Value added = arith::AddFOp::create(b, l, acc, x);
        if (!lengths)
          return {added};
        Value pos = linalg::IndexOp::create(b, l, 2);
        Value len = arith::IndexCastOp::create(b, l, b.getIndexType(), a[1]);
        Value inside =
            arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, pos, len);
        return {arith::SelectOp::create(b, l, inside, added, acc)};
      })[0];
  SmallVector<Value> divIns{sum};
  SmallVector<AffineMap> divMaps{e.identity(2)};
  if (lengths) {
    divIns.push_back(lengths);
    divMaps.push_back(e.map(2, {0}));
  }
  divMaps.push_back(e.identity(2));
  return e.generic(
      divIns, e.empty({batch, d}, out.getElementType()), divMaps,
      e.iterators(2, false),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value count = fcst(b, l, double(n));
        if (lengths) {
          Value len = arith::SIToFPOp::create(b, l, b.getF32Type(), a[1]);
          count = arith::MaximumFOp::create(b, l, len, fcst(b, l, 1.0));
        }
        Value mean = arith::DivFOp::create(b, l, a[0], count);
        return {fromF32(b, l, mean, a.back().getType())};
      })[0];
}

/// Per row of logits [B, C]: the maximum and the sum of exp(x - max), f32.
std::pair<Value, Value> softmaxStatistics(LinalgEmitter &e, Value x) {
  int64_t batch = typeOf(x).getDimSize(0);
  Value rowMax = e.generic(
      x, e.filled({batch}, e.f32(), -std::numeric_limits<double>::infinity()),
      {e.identity(2), e.map(2, {0})}, e.iterators(2, true),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        return {arith::MaximumFOp::create(b, l, toF32(b, l, a[0]), a[1])};
      })[0];
  Value sumExp = e.generic(
      ValueRange{x, rowMax}, e.filled({batch}, e.f32(), 0.0),
      {e.identity(2), e.map(2, {0}), e.map(2, {0})}, e.iterators(2, true),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value d = arith::SubFOp::create(b, l, toF32(b, l, a[0]), a[1]);
        return {
            arith::AddFOp::create(b, l, math::ExpOp::create(b, l, d), a[2])};
      })[0];
  return {rowMax, sumExp};
}

/// Whether a label counts (>= 0), and the label clamped to [0, classes).
std::pair<Value, Value> labelIndex(OpBuilder &b, Location l, Value label,
                                   int64_t classes) {
  Value index = arith::IndexCastOp::create(b, l, b.getIndexType(), label);
  Value zero = arith::ConstantIndexOp::create(b, l, 0);
  Value valid =
      arith::CmpIOp::create(b, l, arith::CmpIPredicate::sge, index, zero);
  Value clamped = arith::MinSIOp::create(
      b, l, arith::MaxSIOp::create(b, l, index, zero),
      arith::ConstantIndexOp::create(b, l, classes - 1));
  return {valid, clamped};
}

Value lowerCrossEntropy(LinalgEmitter &e, CrossEntropyOp op) {
  auto logits = typeOf(op.getLogits());
  Type resultElem = typeOf(op.getResult()).getElementType();
  Value x = op.getLogits();
  auto [rowMax, sumExp] = softmaxStatistics(e, x);
  int64_t classes = logits.getDimSize(1);
  // Per row: loss and whether the row counts; then sums over rows.
  Value zero = e.filled({}, e.f32(), 0.0);
  ValueRange totals = e.generic(
      ValueRange{rowMax, sumExp, op.getLabels()}, ValueRange{zero, zero},
      {e.map(1, {0}), e.map(1, {0}), e.map(1, {0}),
       AffineMap::get(1, 0, {}, e.b.getContext()),
       AffineMap::get(1, 0, {}, e.b.getContext())},
      {utils::IteratorType::reduction},
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        auto [valid, clamped] = labelIndex(b, l, a[2], classes);
        Value row = linalg::IndexOp::create(b, l, 0);
        Value xl = toF32(
            b, l, tensor::ExtractOp::create(b, l, x, ValueRange{row, clamped}));
        Value lse =
            arith::AddFOp::create(b, l, a[0], math::LogOp::create(b, l, a[1]));
        Value loss = arith::SubFOp::create(b, l, lse, xl);
        Value f0 = fcst(b, l, 0.0), f1 = fcst(b, l, 1.0);
        return {arith::AddFOp::create(
                    b, l, a[3], arith::SelectOp::create(b, l, valid, loss, f0)),
                arith::AddFOp::create(
                    b, l, a[4], arith::SelectOp::create(b, l, valid, f1, f0))};
      });
  return e.generic(
      ValueRange{totals[0], totals[1]}, e.empty({}, resultElem),
      {AffineMap::get(0, 0, {}, e.b.getContext()),
       AffineMap::get(0, 0, {}, e.b.getContext()),
       AffineMap::get(0, 0, {}, e.b.getContext())},
      {}, [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value any = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, a[1],
                                          fcst(b, l, 0.0));
        Value mean = arith::DivFOp::create(
            b, l, a[0], arith::MaximumFOp::create(b, l, a[1], fcst(b, l, 1.0)));
        Value v = arith::SelectOp::create(b, l, any, mean, fcst(b, l, 0.0));
        return {fromF32(b, l, v, a[2].getType())};
      })[0];
}

//===----------------------------------------------------------------------===//
// Gradient ops
//===----------------------------------------------------------------------===//

/// `x` (f32) converted to `elem` elementwise; `x` itself when f32.
Value convertTo(LinalgEmitter &e, Value x, Type elem) {
  auto type = typeOf(x);
  if (type.getElementType() == elem)
    return x;
  unsigned rank = type.getRank();
  return e.generic(
      x, e.empty(type.getShape(), elem), {e.identity(rank), e.identity(rank)},
      e.iterators(rank, false),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        return {fromF32(b, l, a[0], elem)};
      })[0];
}

Value lowerCast(LinalgEmitter &e, CastOp op) {
  auto type = typeOf(op.getInput());
  Type elem = typeOf(op.getResult()).getElementType();
  unsigned rank = type.getRank();
  return e.generic(
      op.getInput(), e.empty(type.getShape(), elem),
      {e.identity(rank), e.identity(rank)}, e.iterators(rank, false),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        // One rounding, also between f64 and the 16-bit types; bf16 and
        // f16 convert through f32, which holds both exactly.
        unsigned to = cast<FloatType>(elem).getWidth(),
                 from = cast<FloatType>(a[0].getType()).getWidth();
        if (to > from)
          return {arith::ExtFOp::create(b, l, elem, a[0])};
        Value x = to == from ? toF32(b, l, a[0]) : a[0];
        return {arith::TruncFOp::create(b, l, elem, x)};
      })[0];
}

/// The mask's predicate at every (q, k): what partial tiles run, as a
/// dense tensor of 0/1.
Value lowerMaterializeMask(LinalgEmitter &e, MaterializeMaskOp op) {
  auto type = typeOf(op.getResult());
  int64_t n = type.getDimSize(0);
  MaskPattern pattern = getMaskPattern(op.getMask());
  return e.generic(
      ValueRange{}, e.empty(type.getShape(), type.getElementType()),
      {e.identity(2)}, e.iterators(2, false),
      [&](OpBuilder &b, Location l, ValueRange) -> SmallVector<Value> {
        Value q = linalg::IndexOp::create(b, l, 0);
        Value k = linalg::IndexOp::create(b, l, 1);
        // Static masks only (the verifier): no batch entry to read.
        PredicateBuilder pb(b, l, arith::ConstantIndexOp::create(b, l, 0),
                            arith::ConstantIndexOp::create(b, l, n), n);
        Value kept = pattern.buildPredicate(pb, q, k);
        if (type.getElementType().isInteger(1))
          return {kept};
        return {arith::ExtUIOp::create(b, l, type.getElementType(), kept)};
      })[0];
}

/// dTable = H g over the T = B N positions, H [V, T] the ids one-hot
/// (H[v, t] = 1 where position t's clamped id is v): a product, which the
/// GPU runs on tensor cores reading g once, where summing g per row v
/// would read it V times.
Value lowerEmbeddingGrad(LinalgEmitter &e, EmbeddingGradOp op) {
  auto out = typeOf(op.getResult());
  int64_t vocab = out.getDimSize(0), width = out.getDimSize(1);
  Value ids = e.collapseLeading(op.getIds(), /*keepLast=*/false);
  Value grad = e.collapseLeading(op.getGrad(), /*keepLast=*/true);
  int64_t tokens = typeOf(ids).getDimSize(0);
  Type elem = typeOf(grad).getElementType();
  Value oneHot = e.generic(
      ValueRange{ids}, e.empty({vocab, tokens}, elem),
      {e.map(2, {1}), e.identity(2)}, e.iterators(2, false),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value id = clampedId(b, l, a[0], vocab);
        Value row = linalg::IndexOp::create(b, l, 0);
        Value hit =
            arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, id, row);
        return {arith::SelectOp::create(
            b, l, hit, arith::ConstantOp::create(b, l, b.getFloatAttr(elem, 1)),
            arith::ConstantOp::create(b, l, b.getFloatAttr(elem, 0)))};
      })[0];
  Value sum = linalg::MatmulOp::create(
                  e.b, e.loc, ValueRange{oneHot, grad},
                  ValueRange{e.filled({vocab, width}, e.f32(), 0.0)})
                  .getResult(0);
  return convertTo(e, sum, out.getElementType());
}

SmallVector<Value> lowerLayerNormGrad(LinalgEmitter &e, LayerNormGradOp op) {
  auto type = typeOf(op.getInput());
  unsigned rank = type.getRank();
  SmallVector<int64_t> lead(type.getShape().drop_back());
  int64_t width = type.getShape().back();
  AffineMap all = e.identity(rank), leadMap = e.leading(rank),
            lastMap = e.map(rank, {rank - 1});
  double eps = op.getEpsilon().convertToDouble();
  auto stats = layerNormStatistics(e, op.getInput());
  Value sum = stats.first, sq = stats.second;
  // Per row: sum(g) and sum(g xhat), g = grad * gamma.
  Value zeroRows = e.filled(lead, e.f32(), 0.0);
  ValueRange rowSums = e.generic(
      ValueRange{op.getInput(), sum, sq, op.getGamma(), op.getGrad()},
      ValueRange{zeroRows, zeroRows},
      {all, leadMap, leadMap, lastMap, all, leadMap, leadMap},
      e.iterators(rank, true),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value xhat = normalise(b, l, a[0], a[1], a[2], width, eps).first;
        Value g = arith::MulFOp::create(b, l, toF32(b, l, a[4]),
                                        toF32(b, l, a[3]));
        return {arith::AddFOp::create(b, l, a[5], g),
                arith::AddFOp::create(
                    b, l, a[6], arith::MulFOp::create(b, l, g, xhat))};
      });
  Value inputGrad = e.generic(
      ValueRange{op.getInput(), sum, sq, op.getGamma(), op.getGrad(),
                 rowSums[0], rowSums[1]},
      e.empty(type.getShape(), type.getElementType()),
      {all, leadMap, leadMap, lastMap, all, leadMap, leadMap, all},
      e.iterators(rank, false),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        auto [xhat, inv] = normalise(b, l, a[0], a[1], a[2], width, eps);
        Value n = fcst(b, l, double(width));
        Value g = arith::MulFOp::create(b, l, toF32(b, l, a[4]),
                                        toF32(b, l, a[3]));
        Value meanG = arith::DivFOp::create(b, l, a[5], n);
        Value meanGx = arith::DivFOp::create(b, l, a[6], n);
        Value d = arith::SubFOp::create(
            b, l, arith::SubFOp::create(b, l, g, meanG),
            arith::MulFOp::create(b, l, xhat, meanGx));
        return {fromF32(b, l, arith::MulFOp::create(b, l, d, inv),
                        a[7].getType())};
      })[0];
  // gamma_grad and beta_grad: sums over the leading dims, last dim parallel.
  SmallVector<utils::IteratorType> its(rank, utils::IteratorType::reduction);
  its.back() = utils::IteratorType::parallel;
  Value zeroWidth = e.filled({width}, e.f32(), 0.0);
  ValueRange paramSums = e.generic(
      ValueRange{op.getInput(), sum, sq, op.getGrad()},
      ValueRange{zeroWidth, zeroWidth},
      {all, leadMap, leadMap, all, lastMap, lastMap}, its,
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value xhat = normalise(b, l, a[0], a[1], a[2], width, eps).first;
        Value dy = toF32(b, l, a[3]);
        return {arith::AddFOp::create(b, l, a[4],
                                      arith::MulFOp::create(b, l, dy, xhat)),
                arith::AddFOp::create(b, l, a[5], dy)};
      });
  Type paramElem = typeOf(op.getGamma()).getElementType();
  return {inputGrad, convertTo(e, paramSums[0], paramElem),
          convertTo(e, paramSums[1], paramElem)};
}

/// What attn.batch_norm's two lowerings share: x [B, N, D], its lengths,
/// the batch's statistics, and generics over x's points that read them.
struct BatchNormLowering {
  /// A body's view of one point (b, n, d).
  struct Point {
    Value xhat, inv; // (x - mean) / sqrt(var + eps), 1 / sqrt(var + eps)
    Value count;     // the real tokens, f32
    Value real;      // whether this token is one
    ValueRange extra, outs;
  };
  using PointBody =
      function_ref<SmallVector<Value>(OpBuilder &, Location, const Point &)>;

  BatchNormLowering(LinalgEmitter &e, Value input, Value lengths, double eps)
      : e(e), input(input), mask(realTokenMask(e, input, lengths)), eps(eps),
        st(batchNormStatistics(e, input, mask)), all(e.identity(3)),
        channel(e.map(3, {2})) {}

  /// A generic over x's points (iterators `its`) reading x, the statistics,
  /// `extra` through `extraMaps` and the lengths, writing `outs` through
  /// `outMaps`.
  ValueRange overPoints(ArrayRef<Value> extra, ArrayRef<AffineMap> extraMaps,
                        ValueRange outs, ArrayRef<AffineMap> outMaps,
                        ArrayRef<utils::IteratorType> its, PointBody body) {
    SmallVector<Value> ins{input, st.sum, st.count, st.sq};
    SmallVector<AffineMap> maps{all, channel, channel, channel};
    llvm::append_range(ins, extra);
    llvm::append_range(maps, extraMaps);
    auto [allIns, allMaps] = withMask(e, ins, maps, mask);
    llvm::append_range(allMaps, outMaps);
    size_t extras = extra.size();
    return e.generic(
        allIns, outs, allMaps, its,
        [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
          Point p;
          std::tie(p.xhat, p.inv) =
              normalise(b, l, a[0], a[1], a[3], a[2], eps);
          p.count = a[2];
          p.real = isRealToken(b, l, mask ? a[4 + extras] : Value());
          p.extra = a.slice(4, extras);
          p.outs = a.take_back(outs.size());
          return body(b, l, p);
        });
  }

  LinalgEmitter &e;
  Value input;
  Value mask; // realTokenMask's; null without lengths
  double eps;
  BatchStatistics st;
  AffineMap all, channel;
};

/// Batch norm's output at one point: xhat * gamma + beta (in f32) at a
/// real token, 0 at padding, as `type`.
Value normalisedOutput(OpBuilder &b, Location l, Value xhat, Value gamma,
                       Value beta, Value real, Type type) {
  Value v = arith::AddFOp::create(
      b, l, arith::MulFOp::create(b, l, xhat, toF32(b, l, gamma)),
      toF32(b, l, beta));
  v = arith::SelectOp::create(b, l, real, v, fcst(b, l, 0.0));
  return fromF32(b, l, v, type);
}

/// attn.batch_norm's evaluation form: x normalised with the running
/// statistics, in f32, 0 at padding; the statistics returned unchanged.
SmallVector<Value> lowerBatchNormEvaluation(LinalgEmitter &e, BatchNormOp op) {
  auto type = typeOf(op.getInput());
  double eps = op.getEpsilon().convertToDouble();
  Value mask = realTokenMask(e, op.getInput(), op.getLengths());
  AffineMap all = e.identity(3), channel = e.map(3, {2});
  auto [ins, maps] =
      withMask(e,
               {op.getInput(), op.getRunningMean(), op.getRunningVariance(),
                op.getGamma(), op.getBeta()},
               {all, channel, channel, channel, channel}, mask);
  maps.push_back(all);
  Value y = e.generic(
      ins, e.empty(type.getShape(), type.getElementType()), maps,
      e.iterators(3, false),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value inv = math::RsqrtOp::create(
            b, l,
            arith::AddFOp::create(b, l, toF32(b, l, a[2]), fcst(b, l, eps)));
        Value xhat = arith::MulFOp::create(
            b, l,
            arith::SubFOp::create(b, l, toF32(b, l, a[0]), toF32(b, l, a[1])),
            inv);
        return {normalisedOutput(b, l, xhat, a[3], a[4],
                                 isRealToken(b, l, mask ? a[5] : Value()),
                                 a.back().getType())};
      })[0];
  return {y, op.getRunningMean(), op.getRunningVariance()};
}

SmallVector<Value> lowerBatchNorm(LinalgEmitter &e, BatchNormOp op) {
  if (op.getEvaluation())
    return lowerBatchNormEvaluation(e, op);
  auto type = typeOf(op.getInput());
  BatchNormLowering bn(e, op.getInput(), op.getLengths(),
                       op.getEpsilon().convertToDouble());
  Value y = bn.overPoints(
      {op.getGamma(), op.getBeta()}, {bn.channel, bn.channel},
      e.empty(type.getShape(), type.getElementType()), {bn.all},
      e.iterators(3, false),
      [&](OpBuilder &b, Location l,
          const BatchNormLowering::Point &p) -> SmallVector<Value> {
        return {normalisedOutput(b, l, p.xhat, p.extra[0], p.extra[1], p.real,
                                 p.outs[0].getType())};
      })[0];
  // The batch's statistics, or the running ones moved towards them.
  Type statElem = typeOf(op.getMean()).getElementType();
  Value statOut = e.empty({type.getDimSize(2)}, statElem);
  SmallVector<Value> ins{bn.st.sum, bn.st.count, bn.st.sq};
  bool running = op.getRunningMean() != nullptr;
  if (running)
    llvm::append_range(
        ins, ValueRange{op.getRunningMean(), op.getRunningVariance()});
  double momentum = op.getMomentum().convertToDouble();
  ValueRange stats = e.generic(
      ins, ValueRange{statOut, statOut},
      SmallVector<AffineMap>(ins.size() + 2, e.identity(1)),
      {utils::IteratorType::parallel},
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        // The unbiased estimate divides by T - 1, at least 1.
        Value divisor = a[1];
        if (op.getUnbiased()) {
          Value one = fcst(b, l, 1.0);
          divisor = arith::MaximumFOp::create(
              b, l, arith::SubFOp::create(b, l, a[1], one), one);
        }
        Value mean = arith::DivFOp::create(b, l, a[0], a[1]);
        Value var = arith::DivFOp::create(b, l, a[2], divisor);
        if (running) {
          // (1 - momentum) running + momentum batch, one op after another.
          auto moved = [&](Value old, Value batch) -> Value {
            Value kept = arith::MulFOp::create(b, l, fcst(b, l, 1 - momentum),
                                               toF32(b, l, old));
            Value added =
                arith::MulFOp::create(b, l, fcst(b, l, momentum), batch);
            return arith::AddFOp::create(b, l, kept, added);
          };
          mean = moved(a[3], mean);
          var = moved(a[4], var);
        }
        return {fromF32(b, l, mean, statElem), fromF32(b, l, var, statElem)};
      });
  return {y, stats[0], stats[1]};
}

SmallVector<Value> lowerBatchNormGrad(LinalgEmitter &e, BatchNormGradOp op) {
  auto type = typeOf(op.getInput());
  BatchNormLowering bn(e, op.getInput(), op.getLengths(),
                       op.getEpsilon().convertToDouble());
  // Per channel over the real tokens: sum(dy) and sum(dy xhat).
  Value zeros = e.filled({type.getDimSize(2)}, e.f32(), 0.0);
  ValueRange sums = bn.overPoints(
      {op.getGrad()}, {bn.all}, ValueRange{zeros, zeros},
      {bn.channel, bn.channel}, overTokens(),
      [&](OpBuilder &b, Location l,
          const BatchNormLowering::Point &p) -> SmallVector<Value> {
        Value dy = toF32(b, l, p.extra[0]);
        Value s1 = addIfReal(b, l, p.outs[0], p.real, dy);
        return {s1, addIfReal(b, l, p.outs[1], p.real,
                              arith::MulFOp::create(b, l, dy, p.xhat))};
      });
  Value inputGrad = bn.overPoints(
      {op.getGrad(), op.getGamma(), sums[0], sums[1]},
      {bn.all, bn.channel, bn.channel, bn.channel},
      e.empty(type.getShape(), type.getElementType()), {bn.all},
      e.iterators(3, false),
      [&](OpBuilder &b, Location l,
          const BatchNormLowering::Point &p) -> SmallVector<Value> {
        Value meanDy = arith::DivFOp::create(b, l, p.extra[2], p.count);
        Value meanDyXhat = arith::DivFOp::create(b, l, p.extra[3], p.count);
        Value d = arith::SubFOp::create(
            b, l, arith::SubFOp::create(b, l, toF32(b, l, p.extra[0]), meanDy),
            arith::MulFOp::create(b, l, p.xhat, meanDyXhat));
        Value dx =
            arith::MulFOp::create(b, l, arith::MulFOp::create(b, l, d, p.inv),
                                  toF32(b, l, p.extra[1]));
        dx = arith::SelectOp::create(b, l, p.real, dx, fcst(b, l, 0.0));
        return {fromF32(b, l, dx, p.outs[0].getType())};
      })[0];
  Type paramElem = typeOf(op.getGamma()).getElementType();
  return {inputGrad, convertTo(e, sums[1], paramElem),
          convertTo(e, sums[0], paramElem)};
}

Value lowerGeluGrad(LinalgEmitter &e, GeluGradOp op) {
  auto type = typeOf(op.getInput());
  unsigned rank = type.getRank();
  bool approximate = op.getApproximate();
  return e.generic(
      ValueRange{op.getInput(), op.getGrad()},
      e.empty(type.getShape(), type.getElementType()),
      {e.identity(rank), e.identity(rank), e.identity(rank)},
      e.iterators(rank, false),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value x = toF32(b, l, a[0]);
        Value slope;
        if (approximate) {
          Value half = fcst(b, l, 0.5), one = fcst(b, l, 1.0);
          Value xx = arith::MulFOp::create(b, l, x, x);
          // d/dx 0.5 x (1 + t), t = tanh(k (x + c x^3)):
          //   0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2)
          double k = std::sqrt(2.0 / M_PI), c = 0.044715;
          Value inner = arith::MulFOp::create(
              b, l, fcst(b, l, k),
              arith::AddFOp::create(
                  b, l, x,
                  arith::MulFOp::create(
                      b, l, fcst(b, l, c),
                      arith::MulFOp::create(b, l, xx, x))));
          Value t = math::TanhOp::create(b, l, inner);
          Value dInner = arith::MulFOp::create(
              b, l, fcst(b, l, k),
              arith::AddFOp::create(
                  b, l, one,
                  arith::MulFOp::create(b, l, fcst(b, l, 3 * c), xx)));
          Value sech2 = arith::SubFOp::create(
              b, l, one, arith::MulFOp::create(b, l, t, t));
          Value left = arith::MulFOp::create(
              b, l, half, arith::AddFOp::create(b, l, one, t));
          Value right = arith::MulFOp::create(
              b, l, arith::MulFOp::create(b, l, half, x),
              arith::MulFOp::create(b, l, sech2, dInner));
          slope = arith::AddFOp::create(b, l, left, right);
        } else {
          // Phi(x) + x phi(x)
          StandardNormal normal = standardNormal(b, l, x);
          constexpr arith::FastMathFlags fm = arith::FastMathFlags::contract;
          slope = arith::AddFOp::create(
              b, l, normal.cdf, arith::MulFOp::create(b, l, x, normal.pdf, fm),
              fm);
        }
        Value dx = arith::MulFOp::create(b, l, toF32(b, l, a[1]), slope);
        return {fromF32(b, l, dx, a[2].getType())};
      })[0];
}

Value lowerPoolGrad(LinalgEmitter &e, PoolGradOp op) {
  auto out = typeOf(op.getResult());
  int64_t n = out.getDimSize(1);
  bool cls = op.getKind() == PoolKind::cls;
  Value lengths = op.getLengths();
  SmallVector<Value> ins{op.getGrad()};
  SmallVector<AffineMap> maps{e.map(3, {0, 2})};
  if (lengths) {
    ins.push_back(lengths);
    maps.push_back(e.map(3, {0}));
  }
  maps.push_back(e.identity(3));
  return e.generic(
      ins, e.empty(out.getShape(), out.getElementType()), maps,
      e.iterators(3, false),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value pos = linalg::IndexOp::create(b, l, 1);
        Value g = toF32(b, l, a[0]);
        Value inside, value;
        if (cls) {
          inside = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, pos,
                                         arith::ConstantIndexOp::create(b, l,
                                                                        0));
          value = g;
        } else {
          // As the forward: positions below the length, count at least 1.
          Value count = fcst(b, l, double(n));
          Value limit = arith::ConstantIndexOp::create(b, l, n);
          if (lengths) {
            count = arith::MaximumFOp::create(
                b, l, arith::SIToFPOp::create(b, l, b.getF32Type(), a[1]),
                fcst(b, l, 1.0));
            limit = arith::IndexCastOp::create(b, l, b.getIndexType(), a[1]);
          }
          inside = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, pos,
                                         limit);
          value = arith::DivFOp::create(b, l, g, count);
        }
        Value dx = arith::SelectOp::create(b, l, inside, value, fcst(b, l, 0));
        return {fromF32(b, l, dx, a.back().getType())};
      })[0];
}

Value lowerCrossEntropyGrad(LinalgEmitter &e, CrossEntropyGradOp op) {
  auto logits = typeOf(op.getLogits());
  int64_t classes = logits.getDimSize(1);
  Value x = op.getLogits();
  auto stats = softmaxStatistics(e, x);
  MLIRContext *ctx = e.b.getContext();
  Value counted = e.generic(
      op.getLabels(), e.filled({}, e.f32(), 0.0),
      {e.map(1, {0}), AffineMap::get(1, 0, {}, ctx)},
      {utils::IteratorType::reduction},
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value valid = labelIndex(b, l, a[0], classes).first;
        Value add = arith::SelectOp::create(b, l, valid, fcst(b, l, 1.0),
                                            fcst(b, l, 0.0));
        return {arith::AddFOp::create(b, l, a[1], add)};
      })[0];
  AffineMap scalar = AffineMap::get(2, 0, {}, ctx);
  return e.generic(
      ValueRange{x, stats.first, stats.second, op.getLabels(), counted,
                 op.getGrad()},
      e.empty(logits.getShape(), logits.getElementType()),
      {e.identity(2), e.map(2, {0}), e.map(2, {0}), e.map(2, {0}), scalar,
       scalar, e.identity(2)},
      e.iterators(2, false),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        auto [valid, label] = labelIndex(b, l, a[3], classes);
        Value p = arith::DivFOp::create(
            b, l,
            math::ExpOp::create(
                b, l, arith::SubFOp::create(b, l, toF32(b, l, a[0]), a[1])),
            a[2]);
        Value column = linalg::IndexOp::create(b, l, 1);
        Value isLabel = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq,
                                              column, label);
        Value target = arith::SelectOp::create(b, l, isLabel, fcst(b, l, 1.0),
                                               fcst(b, l, 0.0));
        Value scale = arith::DivFOp::create(
            b, l, toF32(b, l, a[5]),
            arith::MaximumFOp::create(b, l, a[4], fcst(b, l, 1.0)));
        Value d = arith::MulFOp::create(
            b, l, arith::SubFOp::create(b, l, p, target), scale);
        d = arith::SelectOp::create(b, l, valid, d, fcst(b, l, 0.0));
        return {fromF32(b, l, d, a[6].getType())};
      })[0];
}

//===----------------------------------------------------------------------===//
// Optimizer ops
//===----------------------------------------------------------------------===//

Value lowerLrSchedule(LinalgEmitter &e, LrScheduleOp op) {
  MLIRContext *ctx = e.b.getContext();
  AffineMap none = AffineMap::get(0, 0, {}, ctx);
  double peak = op.getPeak().convertToDouble();
  double warmup = double(op.getWarmup()), total = double(op.getTotal());
  double final = peak * op.getFinal().convertToDouble();
  DecayKind decay = op.getDecay();
  return e.generic(
      op.getStep(), e.empty({}, e.f32()), {none, none}, {},
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value t = arith::SIToFPOp::create(b, l, b.getF32Type(), a[0]);
        Value rising = arith::MulFOp::create(b, l, fcst(b, l, peak / warmup),
                                             t);
        Value progress = arith::DivFOp::create(
            b, l, arith::SubFOp::create(b, l, t, fcst(b, l, warmup)),
            fcst(b, l, std::max(total - warmup, 1.0)));
        progress = arith::MinimumFOp::create(
            b, l, arith::MaximumFOp::create(b, l, progress, fcst(b, l, 0.0)),
            fcst(b, l, 1.0));
        Value falling = fcst(b, l, peak);
        if (decay == DecayKind::linear) {
          falling = arith::AddFOp::create(
              b, l, fcst(b, l, peak),
              arith::MulFOp::create(b, l, fcst(b, l, final - peak),
                                    progress));
        } else if (decay == DecayKind::cosine) {
          Value c = math::CosOp::create(
              b, l, arith::MulFOp::create(b, l, fcst(b, l, M_PI), progress));
          Value w = arith::MulFOp::create(
              b, l, fcst(b, l, 0.5), arith::AddFOp::create(b, l, fcst(b, l, 1.0), c));
          falling = arith::AddFOp::create(
              b, l, fcst(b, l, final),
              arith::MulFOp::create(b, l, fcst(b, l, peak - final), w));
        }
        Value warming = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLE,
                                              t, fcst(b, l, warmup));
        return {arith::SelectOp::create(b, l, warming, rising, falling)};
      })[0];
}

Value lowerGlobalNorm(LinalgEmitter &e, GlobalNormOp op) {
  MLIRContext *ctx = e.b.getContext();
  // Each tensor's sum of squares on its own (independent reductions, which
  // the GPU runs side by side: attn-merge-launches), then their sum's root.
  SmallVector<Value> sums;
  for (Value x : op.getInputs()) {
    unsigned rank = typeOf(x).getRank();
    SmallVector<utils::IteratorType> its(rank, utils::IteratorType::reduction);
    sums.push_back(e.generic(
        x, e.filled({}, e.f32(), 0.0),
        {e.identity(rank), AffineMap::get(rank, 0, {}, ctx)}, its,
        [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
          Value v = toF32(b, l, a[0]);
          return {arith::AddFOp::create(b, l, a[1],
                                        arith::MulFOp::create(b, l, v, v))};
        })[0]);
  }
  AffineMap none = AffineMap::get(0, 0, {}, ctx);
  SmallVector<AffineMap> maps(sums.size() + 1, none);
  return e.generic(
      sums, e.empty({}, e.f32()), maps, {},
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value total = a[0];
        for (Value s : a.drop_front().drop_back())
          total = arith::AddFOp::create(b, l, total, s);
        return {math::SqrtOp::create(b, l, total)};
      })[0];
}

SmallVector<Value> lowerAdamW(LinalgEmitter &e, AdamWOp op) {
  auto type = typeOf(op.getParam());
  unsigned rank = type.getRank();
  AffineMap all = e.identity(rank);
  AffineMap scalar = AffineMap::get(rank, 0, {}, e.b.getContext());
  double beta1 = op.getBeta1().convertToDouble(),
         beta2 = op.getBeta2().convertToDouble(),
         eps = op.getEpsilon().convertToDouble(),
         decay = op.getWeightDecay().convertToDouble(),
         maxNorm = op.getMaxNorm().convertToDouble();
  SmallVector<Value> outs;
  for (int i = 0; i < 3; ++i)
    outs.push_back(e.empty(type.getShape(), type.getElementType()));
  ValueRange results = e.generic(
      ValueRange{op.getParam(), op.getGrad(), op.getFirstMoment(),
                 op.getSecondMoment(), op.getLr(), op.getStep(), op.getNorm()},
      outs, {all, all, all, all, scalar, scalar, scalar, all, all, all},
      e.iterators(rank, false),
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value one = fcst(b, l, 1.0);
        Value g = a[1];
        if (maxNorm > 0) {
          Value c = arith::DivFOp::create(
              b, l, fcst(b, l, maxNorm),
              arith::AddFOp::create(b, l, a[6], fcst(b, l, 1e-6)));
          g = arith::MulFOp::create(b, l, g,
                                    arith::MinimumFOp::create(b, l, c, one));
        }
        Value lr = a[4];
        if (double scale = op.getLrScale().convertToDouble(); scale != 1.0)
          lr = arith::MulFOp::create(b, l, lr, fcst(b, l, scale));
        Value t = arith::SIToFPOp::create(b, l, b.getF32Type(), a[5]);
        // 1 - beta^t as 1 - exp(t ln beta).
        auto correction = [&](double beta) -> Value {
          if (beta == 0.0)
            return one;
          Value power = math::ExpOp::create(
              b, l, arith::MulFOp::create(b, l, t, fcst(b, l, std::log(beta))));
          return arith::SubFOp::create(b, l, one, power);
        };
        Value p = arith::MulFOp::create(
            b, l, a[0],
            arith::SubFOp::create(
                b, l, one, arith::MulFOp::create(b, l, lr, fcst(b, l, decay))));
        Value m = arith::AddFOp::create(
            b, l, arith::MulFOp::create(b, l, fcst(b, l, beta1), a[2]),
            arith::MulFOp::create(b, l, fcst(b, l, 1 - beta1), g));
        Value v = arith::AddFOp::create(
            b, l, arith::MulFOp::create(b, l, fcst(b, l, beta2), a[3]),
            arith::MulFOp::create(b, l, fcst(b, l, 1 - beta2),
                                  arith::MulFOp::create(b, l, g, g)));
        Value mHat = arith::DivFOp::create(b, l, m, correction(beta1));
        Value vHat = arith::DivFOp::create(b, l, v, correction(beta2));
        Value denom = arith::AddFOp::create(b, l, math::SqrtOp::create(b, l, vHat),
                                            fcst(b, l, eps));
        p = arith::SubFOp::create(
            b, l, p,
            arith::MulFOp::create(b, l, lr,
                                  arith::DivFOp::create(b, l, mHat, denom)));
        return {p, m, v};
      });
  return {results[0], results[1], results[2]};
}

/// The results of a lowering that gives one value or several.
SmallVector<Value> resultsOf(Value v) { return {v}; }
SmallVector<Value> resultsOf(SmallVector<Value> v) { return v; }

/// Adds `lower`, a function (LinalgEmitter &, SomeOp) -> its results, as
/// SomeOp's pattern: the results replace the op, whose operands must have
/// static shapes.
template <typename Lower>
void addEncoderLowering(RewritePatternSet &patterns, Lower lower) {
  using Op = typename llvm::function_traits<Lower>::template arg_t<1>;
  addLowering(
      patterns, [lower](Op op, RewriterBase &rewriter) -> LogicalResult {
        for (Type t : op->getOperandTypes())
          if (auto r = dyn_cast<RankedTensorType>(t); r && !r.hasStaticShape())
            return op->emitOpError(
                "attn-convert-encoder-to-linalg needs static shapes");
        rewriter.setInsertionPoint(op);
        LinalgEmitter e{rewriter, op->getLoc()};
        rewriter.replaceOp(op, resultsOf(lower(e, op)));
        return success();
      });
}

} // namespace

void mlir::attn::populateEncoderToLinalgPatterns(RewritePatternSet &patterns) {
  addEncoderLowering(patterns, lowerCast);
  addEncoderLowering(patterns, lowerMaterializeMask);
  addEncoderLowering(patterns, lowerEmbedding);
  addEncoderLowering(patterns, lowerAddPositions);
  addEncoderLowering(patterns, lowerLayerNorm);
  addEncoderLowering(patterns, lowerBatchNorm);
  addEncoderLowering(patterns, lowerProject);
  addEncoderLowering(patterns, lowerGelu);
  addEncoderLowering(patterns, lowerDropout);
  addEncoderLowering(patterns, lowerPool);
  addEncoderLowering(patterns, lowerCrossEntropy);
  addEncoderLowering(patterns, lowerEmbeddingGrad);
  addEncoderLowering(patterns, lowerLayerNormGrad);
  addEncoderLowering(patterns, lowerBatchNormGrad);
  addEncoderLowering(patterns, lowerGeluGrad);
  addEncoderLowering(patterns, lowerPoolGrad);
  addEncoderLowering(patterns, lowerCrossEntropyGrad);
  addEncoderLowering(patterns, lowerLrSchedule);
  addEncoderLowering(patterns, lowerGlobalNorm);
  addEncoderLowering(patterns, lowerAdamW);
}

namespace {
/// Whether `a` and `b` are fresh fills of one value: each a linalg.fill of
/// the same constant into a tensor.empty of the same type, used once.
bool sameFreshFill(Value a, Value b) {
  auto fa = a.getDefiningOp<linalg::FillOp>(),
       fb = b.getDefiningOp<linalg::FillOp>();
  if (!fa || !fb || a.getType() != b.getType() || !a.hasOneUse() ||
      !b.hasOneUse())
    return false;
  Attribute va, vb;
  return matchPattern(fa.getInputs()[0], m_Constant(&va)) &&
         matchPattern(fb.getInputs()[0], m_Constant(&vb)) && va == vb &&
         fa.getOutputs()[0].getDefiningOp<tensor::EmptyOp>() &&
         fb.getOutputs()[0].getDefiningOp<tensor::EmptyOp>();
}

/// Replaces each reduction that an earlier one, which dominates it,
/// computes already: the same inputs, the same maps and body, its inits
/// fresh fills of the same values. A layer norm's gradient takes only its
/// input and computes the statistics again, which the forward computed
/// (two passes over the input per layer norm of a training step). Not
/// general CSE, which would also merge the fills: one-shot bufferization
/// then copies the shared fill for each op that writes into it.
void reuseEquivalentReductions(func::FuncOp fn) {
  SmallVector<linalg::GenericOp> reductions;
  fn.walk([&](linalg::GenericOp op) {
    if (op.hasPureTensorSemantics() && op.getNumReductionLoops() > 0 &&
        llvm::all_of(op.getDpsInits(),
                     [](Value init) { return sameFreshFill(init, init); }))
      reductions.push_back(op);
  });
  DominanceInfo dominance(fn);
  SmallVector<linalg::GenericOp> kept;
  for (linalg::GenericOp op : reductions) {
    auto equivalent = [&](linalg::GenericOp earlier) {
      if (earlier.getNumDpsInputs() != op.getNumDpsInputs() ||
          earlier.getNumDpsInits() != op.getNumDpsInits() ||
          !dominance.properlyDominates(earlier.getOperation(),
                                       op.getOperation()))
        return false;
      // Values inside the bodies that the comparison found equivalent.
      DenseMap<Value, Value> same;
      DenseSet<Value> inits(op.getDpsInits().begin(), op.getDpsInits().end());
      return OperationEquivalence::isEquivalentTo(
          earlier, op,
          [&](Value a, Value b) {
            return success(a == b || same.lookup(a) == b ||
                           (inits.contains(b) && sameFreshFill(a, b)));
          },
          [&](Value a, Value b) { same[a] = b; },
          OperationEquivalence::IgnoreLocations);
    };
    auto earlier = llvm::find_if(kept, equivalent);
    if (earlier == kept.end()) {
      kept.push_back(op);
      continue;
    }
    SmallVector<Value> inits(op.getDpsInits());
    op->replaceAllUsesWith(earlier->getOperation()->getResults());
    op->erase();
    for (Value init : inits) {
      auto fill = init.getDefiningOp<linalg::FillOp>();
      Value empty = fill.getOutputs()[0];
      fill->erase();
      if (empty.use_empty())
        empty.getDefiningOp()->erase();
    }
  }
}

struct ConvertEncoderToLinalgPass
    : public mlir::attn::impl::ConvertEncoderToLinalgBase<
          ConvertEncoderToLinalgPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateEncoderToLinalgPatterns(patterns);
    if (failed(applyLowerings(getOperation(), std::move(patterns))))
      return signalPassFailure();
    reuseEquivalentReductions(getOperation());
  }
};
} // namespace

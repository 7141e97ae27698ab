//===- ExpandLayers.cpp - encoder layers into attn primitives -------------===//
//
// Post-LN layers as in BERT:
//   attention layers:  x1 = LN(x + drop(W_o attn(W_q x, W_k x, W_v x)))
//   ssm layer:         x1 = LN(x + drop(W_o drop(gelu(ssm(x) + d x))))
//     with `glu`:      x1 = LN(x + drop((W_o s) * sigmoid(W_g s))),
//                      s = drop(gelu(ssm(x) + d x)) (biases left out here)
//   spade layer:       x1 = LN(x + drop(W_m [gelu(ssm(x) + d x); attn(x)]))
//   then               y = LN(x1 + drop(W_2 gelu(W_1 x1)))
// (without the last line where the layer has `feed_forward = false`)
// or, with `prenorm`, each sublayer f on the normed stream, the residual
// stream itself never normed: x1 = x + f(LN(x)), y = x1 + g(LN(x1)) (the
// model norms the last layer's output). With `norm = batch` each LN is a
// batch norm (attn.batch_norm) whose running statistics the layer returns
// updated, or -- in evaluation -- one that normalises with them.
// The attention of each kind is attn.sdpa under the kind's mask (BigBird:
// the union of its window, global and random blocks), or attn.linear with
// the kind's feature map; key padding masks keys past each entry's length.
//
//===----------------------------------------------------------------------===//

#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

namespace mlir::attn {
#define GEN_PASS_DEF_EXPANDLAYERS
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// The layer's parameters by schema name.
class ParamMap {
public:
  ParamMap(ArrayRef<ParamSpec> specs, OperandRange values) {
    for (auto [spec, value] : llvm::zip(specs, values))
      byName[spec.name] = value;
  }
  Value operator[](StringRef name) const {
    Value v = byName.lookup(name);
    assert(v && "unknown parameter name");
    return v;
  }

private:
  llvm::StringMap<Value> byName;
};

struct LayerBuilder {
  OpBuilder &b;
  Location loc;
  Value lengths; // may be null
  Value seed;    // may be null: no dropout
  double dropoutRate;
  int64_t &stream;
  bool prenorm;
  NormKind normKind;
  bool evaluation;
  const ParamMap &buffers;
  /// Each buffer's value after the layer, by name: what norm() made of it.
  llvm::StringMap<Value> updated;

  RankedTensorType type(Value v) { return cast<RankedTensorType>(v.getType()); }

  Value project(Value x, Value w, Value bias) {
    auto xt = type(x);
    SmallVector<int64_t> shape(xt.getShape());
    shape.back() = type(w).getDimSize(1);
    return ProjectOp::create(
        b, loc, RankedTensorType::get(shape, xt.getElementType()), x, w, bias);
  }
  Value add(Value x, Value y) {
    auto t = type(x);
    Value init =
        tensor::EmptyOp::create(b, loc, t.getShape(), t.getElementType());
    return linalg::AddOp::create(b, loc, ValueRange{x, y}, ValueRange{init})
        .getResult(0);
  }
  Value dropout(Value x) {
    if (!seed || dropoutRate == 0.0)
      return x;
    return DropoutOp::create(b, loc, x, seed, b.getF64FloatAttr(dropoutRate),
                             b.getI64IntegerAttr(stream++));
  }
  /// The norm `name` (ln1, ln2) of x with its gain and shift in `p`: layer
  /// norm (BERT's epsilon), or batch norm (BatchNorm1d's epsilon, momentum
  /// and unbiased running variance) on the buffers' running statistics --
  /// in training with the batch's statistics, the running ones moved as the
  /// buffers' updates; in evaluation with the running ones, unchanged.
  Value norm(Value x, const ParamMap &p, StringRef name) {
    Value gamma = p[(name + ".gamma").str()], beta = p[(name + ".beta").str()];
    if (normKind == NormKind::layer)
      return LayerNormOp::create(b, loc, x, gamma, beta,
                                 b.getF64FloatAttr(1e-12));
    std::string meanName = (name + ".running_mean").str(),
                varName = (name + ".running_var").str();
    Value mean = buffers[meanName], var = buffers[varName];
    auto bn = BatchNormOp::create(
        b, loc, x.getType(), mean.getType(), mean.getType(), x, gamma, beta,
        lengths, mean, var, b.getF64FloatAttr(1e-5), b.getF64FloatAttr(0.1),
        /*unbiased=*/b.getUnitAttr(),
        evaluation ? b.getUnitAttr() : UnitAttr());
    updated[meanName] = bn.getMean();
    updated[varName] = bn.getVariance();
    return bn.getResult();
  }
  Value gelu(Value x) { return GeluOp::create(b, loc, x, false); }
  /// A linalg.generic computing, at every point of `like`'s shape, `body`
  /// of the inputs read through `maps` (one per input; the result's is the
  /// identity).
  Value pointwise(Value like, ValueRange inputs, ArrayRef<AffineMap> maps,
                  function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
    auto t = type(like);
    Value init =
        tensor::EmptyOp::create(b, loc, t.getShape(), t.getElementType());
    SmallVector<AffineMap> all(maps);
    all.push_back(
        AffineMap::getMultiDimIdentityMap(t.getRank(), b.getContext()));
    return linalg::GenericOp::create(
               b, loc, TypeRange{t}, inputs, ValueRange{init}, all,
               SmallVector<utils::IteratorType>(t.getRank(),
                                                utils::IteratorType::parallel),
               [&](OpBuilder &nb, Location l, ValueRange a) {
                 linalg::YieldOp::create(nb, l, body(nb, l, a));
               })
        .getResult(0);
  }
  /// y * sigmoid(g) = y * (0.5 + 0.5 tanh(g / 2)): a GLU's gating, in ops
  /// reverse mode differentiates. Not y / (1 + exp(-g)): past g = -88
  /// exp(-g) is inf in f32, and its derivative's inf * 0 a NaN gradient
  /// (trained at S4's rate 0.01 a gate reached it within 300 steps).
  Value gate(Value y, Value g) {
    AffineMap id =
        AffineMap::getMultiDimIdentityMap(type(y).getRank(), b.getContext());
    Type elem = type(y).getElementType();
    return pointwise(y, {y, g}, {id, id},
                     [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                       Value half = arith::ConstantOp::create(
                           nb, l, nb.getFloatAttr(elem, 0.5));
                       Value t = math::TanhOp::create(
                           nb, l, arith::MulFOp::create(nb, l, half, a[1]));
                       Value sigmoid = arith::AddFOp::create(
                           nb, l, half, arith::MulFOp::create(nb, l, half, t));
                       return arith::MulFOp::create(nb, l, a[0], sigmoid);
                     });
  }
  /// Sublayer `f` on the residual stream x with its norm `name` (ln1,
  /// ln2): LN(x + f(x)) post-LN, x + f(LN(x)) pre-LN.
  Value residual(Value x, const ParamMap &p, StringRef name,
                 function_ref<Value(Value)> f) {
    if (prenorm)
      return add(x, f(norm(x, p, name)));
    return norm(add(x, f(x)), p, name);
  }

  /// [B, N, D] -> [B, H, N, D/H]
  Value splitHeads(Value x, int64_t heads) {
    auto t = type(x);
    int64_t bsz = t.getDimSize(0), n = t.getDimSize(1), d = t.getDimSize(2);
    Value e = tensor::ExpandShapeOp::create(
        b, loc,
        RankedTensorType::get({bsz, n, heads, d / heads}, t.getElementType()),
        x, SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
    Value init = tensor::EmptyOp::create(b, loc, {bsz, heads, n, d / heads},
                                         t.getElementType());
    return linalg::TransposeOp::create(b, loc, e, init,
                                       ArrayRef<int64_t>{0, 2, 1, 3})
        .getResult()[0];
  }
  /// [B, H, N, Dh] -> [B, N, H * Dh]
  Value mergeHeads(Value x) {
    auto t = type(x);
    int64_t bsz = t.getDimSize(0), h = t.getDimSize(1), n = t.getDimSize(2),
            dh = t.getDimSize(3);
    Value init =
        tensor::EmptyOp::create(b, loc, {bsz, n, h, dh}, t.getElementType());
    Value tr = linalg::TransposeOp::create(b, loc, x, init,
                                           ArrayRef<int64_t>{0, 2, 1, 3})
                   .getResult()[0];
    return tensor::CollapseShapeOp::create(
        b, loc, RankedTensorType::get({bsz, n, h * dh}, t.getElementType()), tr,
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
  }

  /// Intersects `mask` with key padding when the layer has lengths.
  Value withPadding(Value mask) {
    if (!lengths)
      return mask;
    Value pad = KeyPaddingMaskOp::create(b, loc, lengths);
    if (!mask)
      return pad;
    return IntersectMaskOp::create(b, loc, ValueRange{mask, pad});
  }

  /// The attention of a layer: projections, heads, kernel, merge, W_o.
  Value attention(Value x, const ParamMap &p, int64_t heads,
                  function_ref<Value(Value, Value, Value)> kernel) {
    Value q = splitHeads(project(x, p["attn.wq"], p["attn.bq"]), heads);
    Value k = splitHeads(project(x, p["attn.wk"], p["attn.bk"]), heads);
    Value v = splitHeads(project(x, p["attn.wv"], p["attn.bv"]), heads);
    return project(mergeHeads(kernel(q, k, v)), p["attn.wo"], p["attn.bo"]);
  }
  Value sdpa(Value q, Value k, Value v, Value mask) {
    mask = withPadding(mask);
    return SdpaOp::create(b, loc, q.getType(), q, k, v, mask, FloatAttr(),
                          ScheduleAttr());
  }

  Value toF32(Value v) { return CastOp::castTo(b, loc, v, b.getF32Type()); }

  /// gelu(ssm(x) + d x). The scan runs in f32 whatever x's type: a
  /// recurrence over thousands of steps in bf16 would lose the state.
  Value ssmBranch(Value x, const ParamMap &p, bool bidirectional) {
    // The casts one after another, in operand order (not a call's
    // arguments, whose order of evaluation C++ leaves open).
    SmallVector<Value, 8> in{toF32(x)};
    for (StringRef name :
         {"ssm.log_a_real", "ssm.a_imag", "ssm.b_real", "ssm.b_imag",
          "ssm.c_real", "ssm.c_imag", "ssm.log_dt"})
      in.push_back(toF32(p[name]));
    Value y = SsmOp::create(b, loc, in[0].getType(), in[0], in[1], in[2], in[3],
                            in[4], in[5], in[6], in[7], lengths, bidirectional);
    y = CastOp::castTo(b, loc, y, type(x).getElementType());
    MLIRContext *ctx = b.getContext();
    AffineMap id = AffineMap::getMultiDimIdentityMap(3, ctx);
    AffineMap channel = AffineMap::get(3, 0, {getAffineDimExpr(2, ctx)}, ctx);
    Value skip =
        pointwise(x, {y, x, p["ssm.d"]}, {id, id, channel},
                  [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                    Value dx = arith::MulFOp::create(nb, l, a[2], a[1]);
                    return arith::AddFOp::create(nb, l, a[0], dx);
                  });
    return gelu(skip);
  }

  /// y = LN(x1 + drop(W_2 gelu(W_1 x1))), or its pre-LN form.
  Value feedForward(Value x1, const ParamMap &p) {
    return residual(x1, p, "ln2", [&](Value h) {
      h = gelu(project(h, p["ffn.w1"], p["ffn.b1"]));
      return dropout(project(h, p["ffn.w2"], p["ffn.b2"]));
    });
  }
};

Value expandAttentionLayer(LayerBuilder &lb, Operation *op, Value x,
                           const ParamMap &p, int64_t heads) {
  OpBuilder &b = lb.b;
  Location loc = lb.loc;
  auto kernel = [&](Value q, Value k, Value v) -> Value {
    return TypeSwitch<Operation *, Value>(op)
        .Case([&](FullLayerOp) { return lb.sdpa(q, k, v, Value()); })
        .Case([&](WindowLayerOp o) {
          IntegerAttr block = o.getBlockAttr();
          return lb.sdpa(
              q, k, v, WindowMaskOp::create(b, loc, o.getRadiusAttr(), block));
        })
        .Case([&](ChunkLayerOp o) {
          return lb.sdpa(q, k, v, ChunkMaskOp::create(b, loc, o.getSizeAttr()));
        })
        .Case([&](BigBirdLayerOp o) {
          SmallVector<Value> parts;
          parts.push_back(WindowMaskOp::create(b, loc, o.getWindowAttr(),
                                               o.getBlockAttr()));
          if (o.getGlobal() > 0)
            parts.push_back(GlobalMaskOp::create(b, loc, o.getGlobalAttr(),
                                                 o.getGlobalAttr(),
                                                 o.getBlockAttr()));
          if (o.getRandom() > 0)
            parts.push_back(RandomBlocksMaskOp::create(
                b, loc, o.getRandomAttr(), o.getBlockAttr(),
                o.getSeedBlocksAttr(), o.getGlobalAttr(), o.getWindowAttr()));
          Value mask = parts.size() == 1
                           ? parts[0]
                           : UnionMaskOp::create(b, loc, parts).getResult();
          return lb.sdpa(q, k, v, mask);
        })
        .Case([&](LinearLayerOp o) -> Value {
          Value map;
          switch (o.getFeatureMap()) {
          case FeatureMapKind::elu_plus_one:
            map = EluPlusOneFeatureMapOp::create(b, loc);
            break;
          case FeatureMapKind::relu:
            map = ReluFeatureMapOp::create(b, loc);
            break;
          case FeatureMapKind::identity:
            map = IdentityFeatureMapOp::create(b, loc);
            break;
          case FeatureMapKind::favor:
            map = FavorFeatureMapOp::create(b, loc, o.getFeaturesAttr(),
                                            o.getSeedFeaturesAttr());
            break;
          }
          // A feature map with a projection (FAVOR+'s) applies it in f32
          // only: its kernel runs in f32 under a bf16 model.
          if (!cast<FeatureMap>(map.getDefiningOp()).hasProjection())
            return LinearOp::create(b, loc, q.getType(), q, k, v, map,
                                    lb.lengths, o.getCausal());
          Value q32 = lb.toF32(q);
          Value k32 = lb.toF32(k);
          Value v32 = lb.toF32(v);
          Value out = LinearOp::create(b, loc, q32.getType(), q32, k32, v32,
                                       map, lb.lengths, o.getCausal());
          return CastOp::castTo(b, loc, out, lb.type(q).getElementType());
        });
  };
  return lb.residual(x, p, "ln1", [&](Value h) {
    return lb.dropout(lb.attention(h, p, heads, kernel));
  });
}

Value expandSsmLayer(LayerBuilder &lb, SsmLayerOp op, Value x,
                     const ParamMap &p) {
  return lb.residual(x, p, "ln1", [&](Value h) {
    Value s = lb.dropout(lb.ssmBranch(h, p, op.getBidirectional()));
    Value y = lb.project(s, p["out.w"], p["out.b"]);
    if (op.getGlu())
      y = lb.gate(y, lb.project(s, p["gate.w"], p["gate.b"]));
    return lb.dropout(y);
  });
}

Value expandSpadeLayer(LayerBuilder &lb, SpadeLayerOp op, Value x,
                       const ParamMap &p) {
  OpBuilder &b = lb.b;
  Location loc = lb.loc;
  int64_t d = lb.type(x).getDimSize(2);
  return lb.residual(x, p, "ln1", [&](Value h) {
    Value s = lb.ssmBranch(h, p, op.getBidirectional());
    Value a = lb.attention(h, p, op.getHeads(), [&](Value q, Value k, Value v) {
      Value mask =
          op.getLocal() == LocalKind::window
              ? WindowMaskOp::create(b, loc, op.getLocalSizeAttr(),
                                     IntegerAttr())
                    .getResult()
              : ChunkMaskOp::create(b, loc, op.getLocalSizeAttr()).getResult();
      return lb.sdpa(q, k, v, mask);
    });
    // W_m [s; a] = W_m[:D] s + W_m[D:] a: no concatenation needed.
    Value w = p["merge.w"];
    auto half = [&](int64_t row0) -> Value {
      SmallVector<OpFoldResult> offsets{b.getIndexAttr(row0),
                                        b.getIndexAttr(0)};
      SmallVector<OpFoldResult> sizes{b.getIndexAttr(d), b.getIndexAttr(d)};
      SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
      return tensor::ExtractSliceOp::create(
          b, loc, RankedTensorType::get({d, d}, lb.type(w).getElementType()), w,
          offsets, sizes, strides);
    };
    Value fromSsm = lb.project(s, half(0), p["merge.b"]);
    Value fromAttention = lb.project(a, half(d), Value());
    return lb.dropout(lb.add(fromSsm, fromAttention));
  });
}

struct ExpandLayersPass
    : public mlir::attn::impl::ExpandLayersBase<ExpandLayersPass> {
  using Base::Base;

  void runOnOperation() override {
    // Streams continue after any dropout already in the function.
    int64_t stream = 0;
    getOperation().walk([&](DropoutOp op) {
      stream = std::max<int64_t>(stream, op.getStream() + 1);
    });
    SmallVector<Operation *> layers;
    getOperation().walk([&](EncoderLayer layer) { layers.push_back(layer); });
    for (Operation *op : layers) {
      OpBuilder b(op);
      auto layer = cast<EncoderLayer>(op);
      Value x = op->getOperand(0);
      using Operands = std::tuple<OperandRange, OperandRange, Value, Value,
                                  double, bool, bool, NormKind>;
      auto operands = [&](auto o) {
        return std::make_tuple(o.getParams(), o.getBuffers(), o.getLengths(),
                               o.getSeed(), o.getDropout().convertToDouble(),
                               o.getPrenorm(), o.getFeedForward(), o.getNorm());
      };
      auto [params, bufferValues, lengths, seed, rate, prenorm, feedForward,
            normKind] =
          TypeSwitch<Operation *, Operands>(op)
              .Case<FullLayerOp, WindowLayerOp, ChunkLayerOp, BigBirdLayerOp,
                    LinearLayerOp, SsmLayerOp, SpadeLayerOp>(
                  [&](auto o) { return operands(o); })
              .Default([](Operation *) -> Operands {
                llvm_unreachable("every EncoderLayer op is listed above");
              });
      ParamMap p(layer.getParamSpecs(), params);
      ParamMap buffers(layer.getBufferSpecs(), bufferValues);
      LayerBuilder lb{b,       op->getLoc(), lengths,    seed,    rate, stream,
                      prenorm, normKind,     evaluation, buffers, {}};
      Value y =
          TypeSwitch<Operation *, Value>(op)
              .Case([&](SsmLayerOp o) { return expandSsmLayer(lb, o, x, p); })
              .Case(
                  [&](SpadeLayerOp o) { return expandSpadeLayer(lb, o, x, p); })
              .Default([&](Operation *o) {
                int64_t heads = o->getAttrOfType<IntegerAttr>("heads").getInt();
                return expandAttentionLayer(lb, o, x, p, heads);
              });
      if (feedForward)
        y = lb.feedForward(y, p);
      op->getResult(0).replaceAllUsesWith(y);
      for (auto [spec, result] :
           llvm::zip(layer.getBufferSpecs(), op->getResults().drop_front())) {
        Value after = lb.updated.lookup(spec.name);
        assert(after && "every buffer is some norm's running statistic");
        result.replaceAllUsesWith(after);
      }
      op->erase();
    }
  }
};

} // namespace

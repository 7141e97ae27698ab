//===- TilesToGPU.cpp - attn tile ops to scalar code per GPU thread -------===//
//
// The thread-per-row form of attention on the GPU: attn-tile (with
// rows-per-instance 1) gives every thread its own query row, its own f32
// statistics and accumulator, and the same key tiles as the rest of its
// block. Here each softmax_step becomes, per row, one loop over the tile's
// keys doing the online-softmax update per key:
//
//   s = scale * q.k_j   (skipped where the predicate drops the pair)
//   if s > m: acc *= exp(m - s); l *= exp(m - s); m = s
//   p = exp(s - m); l += p; acc += p v_j
//
// Threads of a warp read the same key and value elements at the same time
// (one broadcast load per warp). This is the CUDA-core kernel; tensor-core
// kernels lower the same tile ops per warp.
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::attn {
#define GEN_PASS_DEF_CONVERTTILESTOGPU
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

struct ScalarEmitter {
  OpBuilder &b;
  Location loc;

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value cst(double v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }
  Value dim(Value memref, unsigned i) {
    return memref::DimOp::create(b, loc, memref, i);
  }
  /// memref[indices] as f32.
  Value load(Value memref, ValueRange indices) {
    Value v = memref::LoadOp::create(b, loc, memref, indices);
    if (v.getType().isF32())
      return v;
    return arith::ExtFOp::create(b, loc, b.getF32Type(), v);
  }
  /// Stores an f32 into memref[indices], converted to its element type.
  void store(Value v, Value memref, ValueRange indices) {
    Type elem = cast<MemRefType>(memref.getType()).getElementType();
    if (elem != v.getType())
      v = arith::TruncFOp::create(b, loc, elem, v);
    memref::StoreOp::create(b, loc, v, memref, indices);
  }
  /// for (i = lb; i < ub; ++i) with iter_args; returns the loop's results.
  ValueRange loop(Value lb, Value ub, ValueRange init,
                  function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    auto forOp = scf::ForOp::create(
        b, loc, lb, ub, idx(1), init,
        [&](OpBuilder &nested, Location l, Value i, ValueRange args) {
          scf::YieldOp::create(nested, l, body(i, args));
        });
    return forOp.getResults();
  }
};

LogicalResult lowerSoftmaxStep(SoftmaxStepOp op) {
  OpBuilder b(op);
  ScalarEmitter e{b, op.getLoc()};
  Location loc = op.getLoc();
  Value q = op.getQuery(), k = op.getKey(), v = op.getValue();
  Value acc = op.getAcc();
  Value mq = e.dim(q, 0), mk = e.dim(k, 0), d = e.dim(q, 1), dv = e.dim(v, 1);
  Value scale = e.cst(op.getScale().convertToDouble());
  Block *pred =
      op.getPredicate().empty() ? nullptr : &op.getPredicate().front();

  e.loop(e.idx(0), mq, {}, [&](Value i, ValueRange) {
    Value m0 = e.load(op.getMax(), i), l0 = e.load(op.getSum(), i);
    ValueRange stats =
        e.loop(e.idx(0), mk, {m0, l0}, [&](Value j, ValueRange ml) {
          Value dot =
              e.loop(e.idx(0), d, {e.cst(0.0)}, [&](Value c, ValueRange sum) {
                Value prod = arith::MulFOp::create(b, loc, e.load(q, {i, c}),
                                                   e.load(k, {j, c}));
                return SmallVector<Value>{
                    arith::AddFOp::create(b, loc, sum[0], prod)};
              })[0];
          Value s = arith::MulFOp::create(b, loc, dot, scale);
          Value kept;
          if (pred) {
            IRMapping map;
            map.map(pred->getArgument(0),
                    arith::AddIOp::create(b, loc, op.getQueryOffset(), i));
            map.map(pred->getArgument(1),
                    arith::AddIOp::create(b, loc, op.getKeyOffset(), j));
            for (Operation &inner : pred->without_terminator())
              b.clone(inner, map);
            kept = map.lookupOrDefault(pred->getTerminator()->getOperand(0));
          }
          // A dropped pair leaves the statistics as they were.
          auto update = [&](OpBuilder &, Location) -> SmallVector<Value> {
            Value m = ml[0], l = ml[1];
            Value grows =
                arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, s, m);
            auto rescale = scf::IfOp::create(
                b, loc, grows,
                [&](OpBuilder &, Location) {
                  Value c = math::ExpOp::create(
                      b, loc, arith::SubFOp::create(b, loc, m, s));
                  e.loop(e.idx(0), dv, {}, [&](Value x, ValueRange) {
                    e.store(
                        arith::MulFOp::create(b, loc, e.load(acc, {i, x}), c),
                        acc, {i, x});
                    return SmallVector<Value>{};
                  });
                  scf::YieldOp::create(
                      b, loc,
                      ValueRange{s, arith::MulFOp::create(b, loc, l, c)});
                },
                [&](OpBuilder &, Location) {
                  scf::YieldOp::create(b, loc, ValueRange{m, l});
                });
            Value mNew = rescale.getResult(0);
            Value p = math::ExpOp::create(
                b, loc, arith::SubFOp::create(b, loc, s, mNew));
            e.loop(e.idx(0), dv, {}, [&](Value x, ValueRange) {
              Value add = arith::MulFOp::create(b, loc, p, e.load(v, {j, x}));
              e.store(arith::AddFOp::create(b, loc, e.load(acc, {i, x}), add),
                      acc, {i, x});
              return SmallVector<Value>{};
            });
            return {mNew,
                    arith::AddFOp::create(b, loc, rescale.getResult(1), p)};
          };
          if (!pred)
            return update(b, loc);
          auto ifKept = scf::IfOp::create(
              b, loc, kept,
              [&](OpBuilder &nb, Location l) {
                scf::YieldOp::create(b, l, update(nb, l));
              },
              [&](OpBuilder &, Location l) { scf::YieldOp::create(b, l, ml); });
          return SmallVector<Value>(ifKept.getResults());
        });
    e.store(stats[0], op.getMax(), i);
    e.store(stats[1], op.getSum(), i);
    return SmallVector<Value>{};
  });
  op.erase();
  return success();
}

LogicalResult lowerSoftmaxFinalize(SoftmaxFinalizeOp op) {
  OpBuilder b(op);
  ScalarEmitter e{b, op.getLoc()};
  Location loc = op.getLoc();
  Value acc = op.getAcc(), out = op.getOutput();
  e.loop(e.idx(0), e.dim(out, 0), {}, [&](Value i, ValueRange) {
    Value l = e.load(op.getSum(), i);
    // Rows with no kept key (l = 0) are zeros.
    Value any =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, l, e.cst(0));
    Value inv = arith::SelectOp::create(
        b, loc, any, arith::DivFOp::create(b, loc, e.cst(1.0), l), e.cst(0.0));
    e.loop(e.idx(0), e.dim(out, 1), {}, [&](Value x, ValueRange) {
      e.store(arith::MulFOp::create(b, loc, e.load(acc, {i, x}), inv), out,
              {i, x});
      return SmallVector<Value>{};
    });
    return SmallVector<Value>{};
  });
  op.erase();
  return success();
}

struct ConvertTilesToGPUPass
    : public mlir::attn::impl::ConvertTilesToGPUBase<ConvertTilesToGPUPass> {
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<SoftmaxStepOp, SoftmaxFinalizeOp, LinearStateOp, LinearOutputOp,
              SsmScanOp>(op))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      LogicalResult r =
          TypeSwitch<Operation *, LogicalResult>(op)
              .Case([](SoftmaxStepOp o) { return lowerSoftmaxStep(o); })
              .Case([](SoftmaxFinalizeOp o) { return lowerSoftmaxFinalize(o); })
              .Default([](Operation *o) {
                return o->emitOpError(
                    "is not mapped to the GPU yet (the GPU pipeline lowers "
                    "softmax attention; linear attention and the SSM run on "
                    "the CPU pipeline)");
              });
      if (failed(r))
        return signalPassFailure();
    }
  }
};

} // namespace

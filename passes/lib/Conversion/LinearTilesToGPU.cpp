//===- LinearTilesToGPU.cpp - linear-attention tile ops on the GPU --------===//
//
// attn-tile's GPU form of linear attention (Tile.cpp) gives each warp of the
// reduction a slice of the state's rows (features) for all its keys, and
// each warp of the output a group of query rows; the causal form's
// reduction (linear_prefix) stores the state at every chunk boundary, and
// its output adds the chunk's own keys. Each op is lowered in one of two
// forms:
//
// - tensor cores (bf16/f16 inputs, or f32 ones in 3xTF32 as the softmax
//   attention's; an elementwise feature map, 16-feature slices, head dims
//   multiples of 16, the op reached by the whole block). The products are
//   mma.sync m16n8k16, or for f32 m16n8k8PairedK, each f32 operand split
//   into two TF32 parts (WarpEmitter::mma); the fragments are read by
//   WarpEmitter::aFragmentAt and bFragmentPair (ldmatrix of 16-bit tiles,
//   loadFragment of f32 ones), as every other tensor-core lowering's.
//     linear_state, linear_prefix: chunks of keys (chunkKeys) are staged in
//     shared memory by cp.async over two stages (the value rows by the
//     block, each warp its key columns), the next chunk on its way while
//     this one is computed (pipelineCopies). phi is applied to the A fragments
//     of K^T, then state += phi(K)^T V on tensor cores into f32
//     accumulators that stay in registers over all chunks; the normaliser
//     is summed from the same fragments in f32. linear_state adds the sums
//     to the state once, at the end; linear_prefix stores them at each
//     chunk boundary it passes.
//     linear_output: the block stores the state in shared memory as the
//     inputs' type once; per warp phi(Q) (A fragments of its 16 or 32
//     query rows) times the state on tensor cores, phi(q) . z in f32 from
//     the same fragments, and each row written once. The causal form's own
//     keys, 16 at a time through two stages of the warp's shared memory:
//     phi(Q) phi(K)^T on tensor cores, masked past the diagonal, its row
//     sums into the normaliser and its product with V (as a flash kernel's
//     P V) into the accumulators.
// - per lane (anything else: projections, head dims not multiples of 16,
//   unaligned rows): scalar loops. The reductions' lanes own (feature,
//   column group) pairs, each key's phi computed once for the group's sums
//   in registers (perLaneReductions); the output's lanes own its elements,
//   phi(Q) staged once in shared memory (OutputScratch).
//
//===----------------------------------------------------------------------===//

#include "GPUTiles.h"
#include "OpLowering.h"
#include "attn/Conversion/Passes.h"
#include "attn/IR/Gradients.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

namespace mlir::attn {
#define GEN_PASS_DEF_CONVERTLINEARTILESTOGPU
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_tiles;

namespace {

/// Keys per chunk of the tensor-core linear_state: 128 of 16-bit inputs,
/// 64 of f32, so that a stage takes about as much shared memory (at 4
/// warps and 64 value columns, 43008 bytes of bf16, 37888 of f32).
int64_t chunkKeys(Type elem) { return elem.isF32() ? 64 : 128; }
/// Features per warp of the tensor-core linear_state: the rows of an
/// mma.sync accumulator.
constexpr int64_t kSliceFeatures = kMmaRows;
/// Keys per step of the causal output's own keys: one k-step of mma.sync.
constexpr int64_t kMmaKeys = 16;
/// The staged tiles' layouts, by how their fragments are read: ldmatrix
/// reads every 16-bit one (both are Padded's for them); a warp loads f32
/// fragments along the rows of the causal output's own keys (B^T) and down
/// the columns of the rest (V and the state as B, the reduction's keys as
/// the A operand K^T), which PaddedForColumns keeps in distinct banks.
constexpr TileLayout kRowReads = TileLayout::Padded;
constexpr TileLayout kColumnReads = TileLayout::PaddedForColumns;

int64_t staticDim(Value memref, unsigned i) {
  return cast<MemRefType>(memref.getType()).getDimSize(i);
}

/// phi of row `row` of `x`, feature `f`, in f32 (scalar form).
Value phiAt(ScalarEmitter &e, FeatureMap map, Value x, Value projection,
            Value row, Value f) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  int64_t depth = staticDim(x, 1);
  Value s = e.cst(map.getInputScale(depth));
  if (!projection)
    return map.emitBody(
        b, loc, arith::MulFOp::create(b, loc, e.load(x, {row, f}), s), Value());
  // y = P (s x), h = |s x|^2 / 2.
  ValueRange sums = e.loop(
      e.idx(0), e.idx(depth), {e.cst(0), e.cst(0)},
      [&](Value d, ValueRange acc) {
        Value xs = arith::MulFOp::create(b, loc, e.load(x, {row, d}), s);
        return SmallVector<Value>{
            math::FmaOp::create(b, loc, e.load(projection, {f, d}), xs, acc[0]),
            math::FmaOp::create(b, loc, xs, xs, acc[1])};
      });
  return map.emitBody(b, loc, sums[0],
                      arith::MulFOp::create(b, loc, sums[1], e.cst(0.5)));
}

/// for (i = first; i < ub; i += step), without results.
void strided(ScalarEmitter &e, Value first, Value ub, Value step,
             function_ref<void(Value)> body) {
  scf::ForOp::create(e.b, e.loc, first, ub, step, ValueRange{},
                     [&](OpBuilder &nested, Location l, Value i, ValueRange) {
                       body(i);
                       scf::YieldOp::create(nested, l);
                     });
}

//===----------------------------------------------------------------------===//
// Per-lane form
//===----------------------------------------------------------------------===//

/// Value columns a lane of the per-lane reductions sums at once (its
/// loop-carried registers): phi(k_j)_f is computed once per key for each
/// such group of the state's row f.
constexpr int64_t kLaneColumns = 64;

/// One lane's share of a per-lane reduction: feature `f` and the value
/// columns [col0, col0 + width) of the state's row f (those < `columns`),
/// plus, in the first group (`first`), the normaliser's element f.
struct LaneSums {
  Value f, col0, first;
  int64_t width;
};

/// The per-lane reductions over keys. Each lane owns (feature, group of
/// kLaneColumns value columns) pairs, strided over the warp's lanes, and
/// `body(pair, addKeys)` reduces one: addKeys(j0, j1, sums) adds keys
/// [j0, j1) to the pair's running sums (its `width` state columns, then
/// the normaliser's: of w_j phi(k_j) with `weights` w), each key's phi
/// computed once -- where a lane owning state elements would compute
/// phi(k_j)_f once per column (a projection's phi is a dot product over the
/// head dim).
using AddKeys =
    function_ref<SmallVector<Value>(Value j0, Value j1, ValueRange sums)>;
void perLaneReductions(ScalarEmitter &e, FeatureMap map, Value k, Value v,
                       Value p, Value weights, Value features,
                       int64_t staticFeatures, Value columns,
                       function_ref<void(const LaneSums &, AddKeys)> body) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  int64_t staticColumns = staticDim(v, 1);
  int64_t width = ShapedType::isDynamic(staticColumns)
                      ? kLaneColumns
                      : std::min(kLaneColumns, staticColumns);
  // Fewer features than lanes (a projection's 16-feature slice): narrower
  // groups, so that every lane has a pair (phi then computed once per
  // group), at least 8 columns each.
  if (staticFeatures > 0 && staticFeatures < kWarpLanes &&
      !ShapedType::isDynamic(staticColumns))
    width = std::min(width, std::max<int64_t>(
                                std::min<int64_t>(8, width),
                                llvm::divideCeil(staticColumns,
                                                 kWarpLanes / staticFeatures)));
  Value groups = arith::CeilDivUIOp::create(b, loc, columns, e.idx(width));
  Value lane = gpu::LaneIdOp::create(b, loc, IntegerAttr());
  Value last = arith::SubIOp::create(b, loc, columns, e.idx(1));
  strided(
      e, lane, arith::MulIOp::create(b, loc, features, groups),
      e.idx(kWarpLanes), [&](Value x) {
        LaneSums pair{arith::DivUIOp::create(b, loc, x, groups),
                      arith::MulIOp::create(
                          b, loc, arith::RemUIOp::create(b, loc, x, groups),
                          e.idx(width)),
                      Value(), width};
        pair.first = e.cmp(arith::CmpIPredicate::eq, pair.col0, e.idx(0));
        auto addKeys = [&](Value j0, Value j1, ValueRange sums) {
          return SmallVector<Value>(
              e.loop(j0, j1, sums, [&](Value j, ValueRange acc) {
                Value phi = phiAt(e, map, k, p, j, pair.f);
                SmallVector<Value> next;
                for (int64_t t = 0; t < width; ++t) {
                  // Columns past the end read the last one; their sums
                  // are never stored.
                  Value c =
                      arith::MinUIOp::create(b, loc, e.add(pair.col0, t), last);
                  next.push_back(math::FmaOp::create(
                      b, loc, phi, e.load(v, {j, c}), acc[t]));
                }
                Value term = weights ? e.mulf(phi, e.load(weights, {j})) : phi;
                next.push_back(arith::AddFOp::create(b, loc, acc[width], term));
                return next;
              }));
        };
        body(pair, addKeys);
      });
}

/// `store(sum, c)` for each of `pair`'s columns c inside the state.
void forLaneColumns(ScalarEmitter &e, const LaneSums &pair, Value columns,
                    ValueRange sums, function_ref<void(Value, Value)> store) {
  for (int64_t t = 0; t < pair.width; ++t) {
    Value c = e.add(pair.col0, t);
    e.ifThen(e.cmp(arith::CmpIPredicate::ult, c, columns),
             [&] { store(sums[t], c); });
  }
}

void lowerStatePerLane(LinearStateOp op, FeatureMap map) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  ScalarEmitter e{b, loc};
  Value k = op.getKey(), v = op.getValue(), p = op.getProjection();
  Value state = op.getState(), norm = op.getNorm();
  Value mk = e.dim(k, 0), columns = e.dim(state, 1);
  // Earlier writes of the state by the warp's lanes (a fill runs on every
  // lane) are done before any lane adds to it.
  NVVM::SyncWarpOp::create(
      b, loc, arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(-1)));
  // x[at] += the sum over the keys.
  auto accumulate = [&](Value sum, Value x, ValueRange at) {
    if (op.getAtomic())
      memref::AtomicRMWOp::create(b, loc, arith::AtomicRMWKind::addf, sum, x,
                                  at);
    else
      e.store(arith::AddFOp::create(b, loc, e.load(x, at), sum), x, at);
  };
  perLaneReductions(
      e, map, k, v, p, op.getWeights(), e.dim(state, 0), staticDim(state, 0),
      columns, [&](const LaneSums &pair, AddKeys addKeys) {
        SmallVector<Value> sums = addKeys(
            e.idx(0), mk, SmallVector<Value>(pair.width + 1, e.cst(0.0)));
        forLaneColumns(e, pair, columns, sums, [&](Value sum, Value c) {
          accumulate(sum, state, {pair.f, c});
        });
        e.ifThen(pair.first, [&] { accumulate(sums.back(), norm, {pair.f}); });
      });
}

/// prefix[c] and prefix_norm[c] as running sums, stored before chunk c's
/// keys are added: each lane owns (feature, column group) pairs, as in
/// lowerStatePerLane.
void lowerPrefixPerLane(LinearPrefixOp op, FeatureMap map) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  ScalarEmitter e{b, loc};
  Value k = op.getKey(), v = op.getValue(), p = op.getProjection();
  Value prefix = op.getPrefix(), prefixNorm = op.getPrefixNorm();
  Value mk = e.dim(k, 0), chunks = e.dim(prefix, 0);
  Value columns = e.dim(prefix, 2);
  Value chunk = e.idx(static_cast<int64_t>(op.getChunk()));
  perLaneReductions(
      e, map, k, v, p, /*weights=*/Value(), e.dim(prefix, 1),
      staticDim(prefix, 1), columns,
      [&](const LaneSums &pair, AddKeys addKeys) {
        e.loop(e.idx(0), chunks, SmallVector<Value>(pair.width + 1, e.cst(0.0)),
               [&](Value c, ValueRange running) {
                 forLaneColumns(e, pair, columns, running,
                                [&](Value sum, Value col) {
                                  e.store(sum, prefix, {c, pair.f, col});
                                });
                 e.ifThen(pair.first, [&] {
                   e.store(running.back(), prefixNorm, {c, pair.f});
                 });
                 Value k0 = arith::MulIOp::create(b, loc, c, chunk);
                 Value k1 = arith::MaxSIOp::create(
                     b, loc, k0,
                     arith::MinSIOp::create(b, loc, e.add(k0, chunk), mk));
                 return addKeys(k0, k1, running);
               });
      });
}

/// Where the per-lane output keeps, per warp, phi(Q) of its rows [R, F]
/// and, in the causal form, the weights of its own keys A [R, Rk] and
/// (`phiKeys`) phi(K) of those keys [Rk, F] (f32, a staging buffer of the
/// block's shared memory, `warps` such parts).
struct OutputScratch {
  int64_t rows, keys, features, warps;
  bool phiKeys;
  int64_t bytesPerWarp() const {
    return 4 *
           (rows * features + rows * keys + (phiKeys ? keys * features : 0));
  }
};

/// The scratch the per-lane output `op` can use: static bounds on its rows,
/// keys and features, small enough for shared memory -- with phi(K) where
/// that fits too.
std::optional<OutputScratch> outputScratchFor(LinearOutputOp op,
                                              int64_t warps) {
  std::optional<int64_t> rows = rowBound(op.getQuery()),
                         keys = op.getKey() ? rowBound(op.getKey())
                                            : std::optional<int64_t>(0);
  int64_t features = staticDim(op.getState(), 0);
  if (!rows || !keys || ShapedType::isDynamic(features))
    return std::nullopt;
  // A projection's phi is a dot product over the head dim: staging phi(K)
  // saves one for every (row, own key) pair, worth a block's shared memory
  // of up to 100 KB (as the host's products take).
  constexpr int64_t kMaxScratchBytes = 32 * 1024,
                    kMaxProjectionScratchBytes = 100 * 1024;
  for (bool phiKeys : {*keys > 0, false}) {
    OutputScratch s{*rows, *keys, features, warps, phiKeys};
    int64_t cap = phiKeys && op.getProjection() ? kMaxProjectionScratchBytes
                                                : kMaxScratchBytes;
    if (warps * s.bytesPerWarp() <= cap)
      return s;
  }
  return std::nullopt;
}

/// With `scratch`: phi(q_i) computed once per (row, feature), and in the
/// causal form phi(k_j) once per (key, feature) and each own key's weight
/// once per (row, key), in shared memory, instead of in the loops of every
/// output element (where a projection's phi is a dot product over the head
/// dim, each computed once per output column).
LogicalResult lowerOutputPerLane(LinearOutputOp op, FeatureMap map,
                                 OutputScratch *scratch = nullptr) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  ScalarEmitter e{b, loc};
  Value q = op.getQuery(), p = op.getProjection(), out = op.getOutput();
  Value state = op.getState(), norm = op.getNorm();
  Value k = op.getKey(), v = op.getValue();
  Value lane = gpu::LaneIdOp::create(b, loc, IntegerAttr());
  Value warp = e.idx(kWarpLanes);
  Value dv = e.dim(out, 1), features = e.dim(state, 0);
  Value elements = arith::MulIOp::create(b, loc, e.dim(out, 0), dv);
  auto syncWarp = [&] {
    NVVM::SyncWarpOp::create(
        b, loc, arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(-1)));
  };
  // The state may have been written by other lanes of the warp.
  syncWarp();
  // The causal form: row i weighs its own keys j <= i + shift.
  Value shift = op.getDiagonal();
  Value phiQ, weights;
  if (scratch) {
    Value block = allocateShared(op->getParentOfType<gpu::LaunchOp>(),
                                 scratch->warps * scratch->bytesPerWarp());
    Value warpIndex = arith::DivUIOp::create(
        b, loc, gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x), warp);
    Value at = arith::MulIOp::create(b, loc, warpIndex,
                                     e.idx(scratch->bytesPerWarp()));
    int64_t offset = 0;
    auto part = [&](int64_t rows, int64_t cols) {
      Value view = sharedView(
          b, loc, block, {rows, cols}, b.getF32Type(),
          offset ? arith::AddIOp::create(b, loc, at, e.idx(offset)).getResult()
                 : at);
      offset += 4 * rows * cols;
      return view;
    };
    // phi of `x`'s rows into `into` [rows of x, features].
    auto stagePhi = [&](Value x, Value into) {
      strided(e, lane, arith::MulIOp::create(b, loc, e.dim(x, 0), features),
              warp, [&](Value at) {
                Value i = arith::DivUIOp::create(b, loc, at, features);
                Value f = arith::RemUIOp::create(b, loc, at, features);
                e.store(phiAt(e, map, x, p, i, f), into, {i, f});
              });
    };
    phiQ = part(scratch->rows, scratch->features);
    stagePhi(q, phiQ);
    if (k) {
      weights = part(scratch->rows, scratch->keys);
      Value phiK;
      if (scratch->phiKeys) {
        phiK = part(scratch->keys, scratch->features);
        stagePhi(k, phiK);
      }
      syncWarp();
      // A[i, j] = phi(q_i) . phi(k_j) for j <= i + shift (the rest is
      // never read).
      Value rows = e.dim(q, 0), keys = e.dim(k, 0);
      strided(
          e, lane, arith::MulIOp::create(b, loc, rows, keys), warp,
          [&](Value x) {
            Value i = arith::DivUIOp::create(b, loc, x, keys);
            Value j = arith::RemUIOp::create(b, loc, x, keys);
            e.ifThen(e.cmp(arith::CmpIPredicate::ule, j, e.add(i, shift)), [&] {
              Value a = e.loop(
                  e.idx(0), features, {e.cst(0)}, [&](Value f, ValueRange dot) {
                    return SmallVector<Value>{math::FmaOp::create(
                        b, loc, e.load(phiQ, {i, f}),
                        phiK ? e.load(phiK, {j, f}) : phiAt(e, map, k, p, j, f),
                        dot[0])};
                  })[0];
              e.store(a, weights, {i, j});
            });
          });
    }
    syncWarp();
  }
  auto phiOfQuery = [&](Value i, Value f) {
    return phiQ ? e.load(phiQ, {i, f}) : phiAt(e, map, q, p, i, f);
  };
  strided(e, lane, elements, warp, [&](Value x) {
    Value i = arith::DivUIOp::create(b, loc, x, dv);
    Value c = arith::RemUIOp::create(b, loc, x, dv);
    SmallVector<Value> sums(e.loop(
        e.idx(0), features, {e.cst(0), e.cst(0)}, [&](Value f, ValueRange acc) {
          Value phi = phiOfQuery(i, f);
          return SmallVector<Value>{
              math::FmaOp::create(b, loc, phi, e.load(state, {f, c}), acc[0]),
              math::FmaOp::create(b, loc, phi, e.load(norm, {f}), acc[1])};
        }));
    if (k) {
      // The tile's own keys j <= i + shift: a = phi(q_i) . phi(k_j) weighs
      // v_j.
      Value last = arith::MinSIOp::create(
          b, loc, e.add(e.add(i, shift), 1), e.dim(k, 0));
      ValueRange own =
          e.loop(e.idx(0), last, sums, [&](Value j, ValueRange acc) {
            Value a =
                weights
                    ? e.load(weights, {i, j})
                    : e.loop(e.idx(0), features, {e.cst(0)},
                             [&](Value f, ValueRange dot) {
                               return SmallVector<Value>{math::FmaOp::create(
                                   b, loc, phiOfQuery(i, f),
                                   phiAt(e, map, k, p, j, f), dot[0])};
                             })[0];
            return SmallVector<Value>{
                math::FmaOp::create(b, loc, a, e.load(v, {j, c}), acc[0]),
                arith::AddFOp::create(b, loc, acc[1], a)};
          });
      sums.assign(own.begin(), own.end());
    }
    // Zeros where the normaliser is 0.
    Value nonzero = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::ONE,
                                          sums[1], e.cst(0));
    Value ratio = arith::DivFOp::create(b, loc, sums[0], sums[1]);
    e.store(arith::SelectOp::create(b, loc, nonzero, ratio, e.cst(0)), out,
            {i, c});
  });
  return success();
}

//===----------------------------------------------------------------------===//
// Tensor-core form
//===----------------------------------------------------------------------===//

/// The inputs' element type where `op`'s operands fit the tensor-core form.
std::optional<Type> tensorCoreElement(Operation *op, FeatureMap map,
                                      ArrayRef<Value> tiles,
                                      ArrayRef<Value> uniform) {
  if (map.hasProjection())
    return std::nullopt;
  // f32 in 3xTF32 (WarpEmitter::splitsTf32).
  Type elem = cast<MemRefType>(tiles[0].getType()).getElementType();
  if (!(elem.isBF16() || elem.isF16() || elem.isF32()))
    return std::nullopt;
  for (Value t : tiles) {
    auto type = cast<MemRefType>(t.getType());
    if (type.getElementType() != elem || type.isDynamicDim(1) ||
        type.getDimSize(1) % 16 || !hasAlignedRows(t))
      return std::nullopt;
  }
  auto launch = op->getParentOfType<gpu::LaunchOp>();
  if (!getConstantIntValue(launch.getBlockSizeX()) ||
      !reachedByWholeBlock(op, launch) ||
      !llvm::all_of(uniform, [&](Value v) { return isUniform(v, launch); }))
    return std::nullopt;
  return elem;
}

std::optional<Type> tensorCoreElement(LinearStateOp op, FeatureMap map) {
  auto state = cast<MemRefType>(op.getState().getType());
  if (!state.hasStaticShape() || state.getDimSize(0) != kSliceFeatures)
    return std::nullopt;
  // Every warp stages the same value rows for the whole block.
  return tensorCoreElement(op, map, {op.getKey(), op.getValue()},
                           {op.getValue()});
}

std::optional<Type> tensorCoreElement(LinearPrefixOp op, FeatureMap map) {
  auto prefix = cast<MemRefType>(op.getPrefix().getType());
  if (prefix.getDimSize(1) != kSliceFeatures || prefix.isDynamicDim(2) ||
      op.getChunk() % 16)
    return std::nullopt;
  return tensorCoreElement(op, map, {op.getKey(), op.getValue()},
                           {op.getValue()});
}

std::optional<Type> tensorCoreElement(LinearOutputOp op, FeatureMap map) {
  auto state = cast<MemRefType>(op.getState().getType());
  std::optional<int64_t> rows = rowBound(op.getQuery());
  if (!state.hasStaticShape() || !rows || *rows > kMaxWarpRows ||
      state.getDimSize(0) % 16 || state.getDimSize(1) % 16)
    return std::nullopt;
  SmallVector<Value> tiles{op.getQuery(), op.getOutput()};
  if (op.getKey())
    tiles.append({op.getKey(), op.getValue()});
  // The block stages the state once for all its warps.
  return tensorCoreElement(op, map, tiles, {op.getState(), op.getNorm()});
}

/// Shared memory of one stage of the tensor-core linear_state: the value
/// rows, then each warp's key columns.
int64_t stageBytes(int64_t dv, int64_t warps, Type elem) {
  const int64_t chunk = chunkKeys(elem);
  return SharedTile::bytes(chunk, dv, elem, kColumnReads) +
         warps * SharedTile::bytes(chunk, kSliceFeatures, elem, kColumnReads);
}

/// phi of each f32 value of an operand's registers (WarpEmitter::
/// operandValues), for inputs of `depth` columns: the values, in f32.
SmallVector<Value, 4> phiOfValues(WarpEmitter &e, FeatureMap map, int64_t depth,
                                  ArrayRef<Value> regs) {
  double scale = map.getInputScale(depth);
  SmallVector<Value, 4> out;
  for (Value x : e.operandValues(regs)) {
    if (scale != 1.0)
      x = e.mulf(x, e.cst(scale));
    out.push_back(map.emitBody(e.b, e.loc, x, Value()));
  }
  return out;
}

/// phi of an operand's registers, as its registers again (a register at a
/// time).
SmallVector<Value, 4> phiOfRegisters(WarpEmitter &e, FeatureMap map,
                                     int64_t depth, ArrayRef<Value> regs) {
  SmallVector<Value, 4> out;
  for (Value reg : regs)
    out.push_back(e.operandRegisters(phiOfValues(e, map, depth, reg))[0]);
  return out;
}

/// The reduction of linear_state (`op` a LinearStateOp: the sums added to
/// the state at the end) or of linear_prefix (a LinearPrefixOp: the sums so
/// far stored at every chunk boundary, then the totals in the chunks past
/// the keys), in named steps: the staging buffers and the first chunk on
/// its way, the loop over the keys' chunks (each chunk's phi(K)^T V and
/// phi(K)'s sums on tensor cores while the next chunk lands), and the
/// results.
class LinearReductionLowering {
public:
  LinearReductionLowering(Operation *op, Value k, Value v, FeatureMap map,
                          Type elem, int64_t threads)
      : op(op), prefixOp(dyn_cast<LinearPrefixOp>(op)),
        weights(isa<LinearStateOp>(op) ? cast<LinearStateOp>(op).getWeights()
                                       : Value()),
        k(k), v(v), map(map), elem(elem), threads(threads), b(op),
        loc(op->getLoc()), e(b, loc, elem), chunk(chunkKeys(elem)),
        dv(staticDim(v, 1)), dTiles(dv / 8),
        stage(stageBytes(dv, threads / kWarpLanes, elem)),
        valueBytes(SharedTile::bytes(chunk, dv, elem, kColumnReads)),
        sliceBytes(
            SharedTile::bytes(chunk, kSliceFeatures, elem, kColumnReads)) {}

  void run() {
    allocateStages();
    scf::ForOp loop = reduceChunks();
    SmallVector<SmallVector<Value, 4>> totals(dTiles);
    for (int64_t n = 0; n < dTiles; ++n)
      totals[n].assign(loop.getResults().begin() + 4 * n,
                       loop.getResults().begin() + 4 * n + 4);
    if (prefixOp)
      storeTrailingPrefixes(loop, totals);
    else
      addIntoState(loop, totals);
  }

private:
  /// The two stages (chunk t + 1 lands in one while t is reduced in the
  /// other) and this lane's ldmatrix addresses (16-bit inputs).
  void allocateStages() {
    tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    warp = arith::DivUIOp::create(b, loc, tid, e.idx(kWarpLanes));
    mk = e.dim(k, 0);
    chunks = arith::CeilDivUIOp::create(b, loc, mk, e.idx(chunk));
    stages = allocateShared(op->getParentOfType<gpu::LaunchOp>(), 2 * stage);
    if (prefixOp) {
      prefixChunk = e.idx(static_cast<int64_t>(prefixOp.getChunk()));
      prefixChunks = e.dim(prefixOp.getPrefix(), 0);
    }
  }

  /// The loop over the chunks, pipelined (pipelineCopies: chunk t + 1's
  /// copies in flight while chunk t is reduced). Loop-carried: the
  /// accumulator fragments (rows fragRow, fragRow + 8 of the slice; 4 per 8
  /// value columns), then the lane's partial sums of phi for its two
  /// features.
  scf::ForOp reduceChunks() {
    SmallVector<Value> init(4 * dTiles + 2, e.cst(0.0));
    auto loop = scf::ForOp::create(b, loc, e.idx(0), chunks, e.idx(1), init);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value t = loop.getInductionVar();
    SmallVector<Value> carried(loop.getRegionIterArgs());
    CopyStage copies =
        emitCopyStage(b, loc, CopyScope::Block, [&] { copyChunk(t); });
    gpu::BarrierOp::create(b, loc);
    auto [keys, values] = tiles(t);
    // Keys past the end are zeros in shared memory, but phi(0) need not be.
    Value valid = arith::SubIOp::create(b, loc, mk, e.mul(t, chunk));

    SmallVector<SmallVector<Value, 4>> acc(dTiles);
    for (int64_t n = 0; n < dTiles; ++n)
      acc[n].assign(carried.begin() + 4 * n, carried.begin() + 4 * n + 4);
    Value sums[2] = {carried[4 * dTiles], carried[4 * dTiles + 1]};
    // One k-step of the product a step: 16 keys, or 8 in 3xTF32.
    const int64_t k = e.layout.k;
    for (int64_t ks = 0; ks < chunk / k; ++ks) {
      if (prefixOp) {
        // Key k ks of this chunk at a prefix chunk's boundary: the sums so
        // far are its state.
        Value first = e.add(e.mul(t, chunk), k * ks);
        Value c = arith::DivUIOp::create(b, loc, first, prefixChunk);
        Value boundary = e.andi(
            e.cmp(arith::CmpIPredicate::eq,
                  arith::RemUIOp::create(b, loc, first, prefixChunk),
                  e.idx(0)),
            e.lt(c, prefixChunks));
        e.ifThen(boundary, [&] { storePrefix(c, acc, sums); });
      }
      // A = phi(K)^T: element i of the fragment is a key (column) of a
      // feature (row) of the slice, as A's layout places it; A's lanes
      // hold their columns where the accumulator's do (fragCol), in both
      // shapes. Each register's values are summed first (the pair's
      // sum, then the row slot's running sum), weighted where the op has
      // weights (each of the lane's keys' weight loaded once a k-step).
      const FragmentLayout &fa = e.layout.a;
      SmallVector<Value, 4> a =
          e.aFragmentAt(keys, 0, k * ks, /*transposed=*/true);
      SmallVector<int64_t, 4> slots = e.layout.c.rowSlots();
      llvm::SmallDenseMap<int64_t, Value> weightOfColumn;
      auto weightAt = [&](int64_t col, Value key) {
        Value &w = weightOfColumn[col];
        if (!w)
          w = e.load(weights, {arith::MinUIOp::create(
                                  b, loc, e.add(e.mul(t, chunk), key),
                                  e.sub(mk, e.idx(1)))});
        return w;
      };
      for (int64_t r = 0; r < fa.numRegisters(); ++r) {
        SmallVector<Value, 4> x = phiOfValues(e, map, kSliceFeatures, a[r]);
        const int64_t first = r * fa.elementsPerRegister;
        Value inRegister;
        for (auto [i, xi] : llvm::enumerate(x)) {
          const int64_t col = k * ks + fa.colOf[first + i];
          Value key = e.add(e.fragCol, col);
          xi = e.select(e.lt(key, valid), xi, e.cst(0.0));
          Value term = weights ? e.mulf(xi, weightAt(col, key)) : xi;
          inRegister = inRegister ? e.addf(inRegister, term) : term;
        }
        Value &sum = sums[llvm::find(slots, fa.rowOf[first]) - slots.begin()];
        sum = e.addf(sum, inRegister);
        a[r] = e.operandRegisters(x)[0];
      }
      e.mmaSharedB(a, values, k * ks, acc);
    }
    SmallVector<Value> next;
    for (auto &tile : acc)
      next.append(tile.begin(), tile.end());
    next.append({sums[0], sums[1]});
    scf::YieldOp::create(b, loc, next);
    FailureOr<scf::ForOp> pipelined =
        pipelineCopies(loop, copies, CopyScope::Block);
    return succeeded(pipelined) ? *pipelined : loop;
  }

  /// linear_prefix's chunks that start past the last staged key: the
  /// totals.
  void storeTrailingPrefixes(scf::ForOp loop,
                             ArrayRef<SmallVector<Value, 4>> totals) {
    Value past =
        arith::CeilDivUIOp::create(b, loc, e.mul(chunks, chunk), prefixChunk);
    strided(e, past, prefixChunks, e.idx(1), [&](Value c) {
      storePrefix(c, totals,
                  {loop.getResult(4 * dTiles), loop.getResult(4 * dTiles + 1)});
    });
  }

  /// linear_state's state += acc, norm += the four lanes' sums of each
  /// feature.
  void addIntoState(scf::ForOp loop, ArrayRef<SmallVector<Value, 4>> totals) {
    auto stateOp = cast<LinearStateOp>(op);
    Value state = stateOp.getState(), norm = stateOp.getNorm();
    auto add = [&](Value x, Value memref, ValueRange at) {
      if (stateOp.getAtomic()) {
        memref::AtomicRMWOp::create(b, loc, arith::AtomicRMWKind::addf, x,
                                    memref, at);
        return;
      }
      Value old = memref::LoadOp::create(b, loc, memref, at);
      memref::StoreOp::create(b, loc, arith::AddFOp::create(b, loc, old, x),
                              memref, at);
    };
    for (int64_t h = 0; h < e.rowSlots(); ++h) {
      SmallVector<int64_t, 4> pair = e.layout.c.elementsOfRowSlot(h);
      Value row = e.accRow(0, pair[0]);
      for (int64_t n = 0; n < dTiles; ++n)
        for (int64_t i : pair)
          add(totals[n][i], state, {row, e.accCol(n, i)});
      Value sum = e.rowReduce(loop.getResult(4 * dTiles + h), false);
      Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                          e.fragCol, e.idx(0));
      scf::IfOp::create(b, loc, first, [&](OpBuilder &, Location) {
        add(sum, norm, row);
        scf::YieldOp::create(b, loc);
      });
    }
  }

  /// Chunk t's key and value tiles in its stage: the value rows, then this
  /// warp's key columns.
  std::pair<SharedTile, SharedTile> tiles(Value t) {
    Value offset = e.mul(arith::RemUIOp::create(b, loc, t, e.idx(2)), stage);
    SharedTile values =
        SharedTile::at(b, loc, stages, offset, chunk, dv, elem, kColumnReads);
    SharedTile keys = SharedTile::at(
        b, loc, stages,
        e.add(e.add(offset, valueBytes), e.mul(warp, sliceBytes)), chunk,
        kSliceFeatures, elem, kColumnReads);
    return std::pair{keys, values};
  }
  /// Chunk t's copies: its value rows by the block, the warp's key columns
  /// by its lanes.
  void copyChunk(Value t) {
    Value first = e.mul(t, chunk);
    Value count = arith::MinSIOp::create(
        b, loc, e.idx(chunk), arith::SubIOp::create(b, loc, mk, first));
    auto [keys, values] = tiles(t);
    stageTile(e, rowView(b, loc, v, first, count), values, chunk, dv, tid,
              threads);
    stageTile(e, rowView(b, loc, k, first, count), keys, chunk, kSliceFeatures,
              e.lane, kWarpLanes);
  }
  /// prefix[c] = the accumulators, prefix_norm[c] = the four lanes' sums of
  /// each feature (every lane takes part in the shuffles).
  void storePrefix(Value c, ArrayRef<SmallVector<Value, 4>> acc,
                   ArrayRef<Value> sums) {
    for (int64_t h = 0; h < e.rowSlots(); ++h) {
      SmallVector<int64_t, 4> pair = e.layout.c.elementsOfRowSlot(h);
      Value row = e.accRow(0, pair[0]);
      for (int64_t n = 0; n < dTiles; ++n)
        e.storePair(acc[n][pair[0]], acc[n][pair[1]], prefixOp.getPrefix(),
                    {c, row, e.accCol(n, pair[0])});
      Value sum = e.rowReduce(sums[h], false);
      e.ifThen(e.cmp(arith::CmpIPredicate::eq, e.fragCol, e.idx(0)), [&] {
        memref::StoreOp::create(b, loc, sum, prefixOp.getPrefixNorm(),
                                ValueRange{c, row});
      });
    }
  }

  Operation *op;
  LinearPrefixOp prefixOp;
  /// linear_state's weights of the keys, if any.
  Value weights;
  Value k, v;
  FeatureMap map;
  Type elem;
  const int64_t threads;
  OpBuilder b;
  Location loc;
  WarpEmitter e;
  const int64_t chunk, dv, dTiles, stage, valueBytes, sliceBytes;
  // allocateStages
  Value tid, warp, mk, chunks, stages, prefixChunk, prefixChunks;
};

/// Shared memory of the tensor-core linear_output: the state as the inputs'
/// type, and (causal form) each warp's two stages of its own keys and
/// values, two staging buffers.
int64_t outputStateBytes(int64_t features, int64_t dv, Type elem) {
  return SharedTile::bytes(features, dv, elem, kColumnReads);
}
int64_t ownKeyStageBytes(int64_t depth, int64_t dv, Type elem) {
  return SharedTile::bytes(kMmaKeys, depth, elem, kRowReads) +
         SharedTile::bytes(kMmaKeys, dv, elem, kColumnReads);
}

/// The causal form's own keys on tensor cores, kMmaKeys at a time through
/// two stages of the warp's shared memory (cp.async, pipelineCopies: the
/// next tile on its way while one is computed). Per
/// tile, a = phi(Q) phi(K)^T by mma.sync with phi applied to K's fragments,
/// zero past the diagonal (j <= i + diagonal) and past the keys; the row
/// sums of a are added to the normalisers, and a (packed as A fragments,
/// as a flash kernel's P) times V to the accumulators.
struct OwnKeyTiles {
  LinearOutputOp op;
  WarpEmitter &e;
  int64_t depth, dv;
  Value stages, base, mk, tiles;

  OwnKeyTiles(LinearOutputOp op, WarpEmitter &e, int64_t warps)
      : op(op), e(e), depth(staticDim(op.getKey(), 1)),
        dv(staticDim(op.getValue(), 1)) {
    OpBuilder &b = e.b;
    const int64_t warpBytes = 2 * ownKeyStageBytes(depth, dv, e.elem);
    stages =
        allocateShared(op->getParentOfType<gpu::LaunchOp>(), warps * warpBytes);
    base = e.mul(e.warpOfBlock(), warpBytes);
    mk = e.dim(op.getKey(), 0);
    tiles = arith::CeilDivUIOp::create(b, e.loc, mk, e.idx(kMmaKeys));
  }

  /// Tile t's stage: its keys and values.
  std::pair<SharedTile, SharedTile> stage(Value t) {
    OpBuilder &b = e.b;
    Value at = e.add(base, e.mul(arith::RemUIOp::create(b, e.loc, t, e.idx(2)),
                                 ownKeyStageBytes(depth, dv, e.elem)));
    SharedTile keys = SharedTile::at(b, e.loc, stages, at, kMmaKeys, depth,
                                     e.elem, kRowReads);
    SharedTile values = SharedTile::at(
        b, e.loc, stages,
        e.add(at, SharedTile::bytes(kMmaKeys, depth, e.elem, kRowReads)),
        kMmaKeys, dv, e.elem, kColumnReads);
    return {keys, values};
  }

  /// Tile t's copies, by the warp's lanes.
  void copyTile(Value t) {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    Value first = e.mul(t, kMmaKeys);
    Value count =
        arith::MinSIOp::create(b, loc, e.idx(kMmaKeys), e.sub(mk, first));
    auto [keys, values] = stage(t);
    stageTile(e, rowView(b, loc, op.getKey(), first, count), keys, kMmaKeys,
              depth, e.lane, kWarpLanes);
    stageTile(e, rowView(b, loc, op.getValue(), first, count), values, kMmaKeys,
              dv, e.lane, kWarpLanes);
  }

  void addTo(FeatureMap map, const RowFragments &phiQ,
             SmallVector<SmallVector<Value, 4>> &acc,
             SmallVector<Value> &den) {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    const int64_t mTiles = static_cast<int64_t>(phiQ.size()) / 2;
    Value shift = op.getDiagonal();

    SmallVector<Value> init;
    for (auto &tile : acc)
      init.append(tile.begin(), tile.end());
    init.append(den.begin(), den.end());
    auto loop = scf::ForOp::create(b, loc, e.idx(0), tiles, e.idx(1), init);
    CopyStage copies;
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value t = loop.getInductionVar();
      copies = emitCopyStage(b, loc, CopyScope::Warp, [&] { copyTile(t); });
      synchronize(b, loc, CopyScope::Warp);
      Value first = e.mul(t, kMmaKeys);
      SmallVector<Value> carried(loop.getRegionIterArgs());
      auto [keys, values] = stage(t);

      // a = phi(Q) phi(K)^T: per 16-row tile, two 8-key tiles. K's rows as
      // B fragments of keys [0, 8) and [8, 16), phi applied: for 16-bit
      // inputs one ldmatrix (not transposed) a k-step of 16; f32 values
      // (K^T's, so transposed) a k-step of 8.
      const int64_t k = e.layout.k;
      SmallVector<SmallVector<Value, 4>> a(
          2 * mTiles, SmallVector<Value, 4>(4, e.cst(0.0)));
      for (int64_t ks = 0; ks < depth / k; ++ks) {
        std::array<SmallVector<Value, 4>, 2> keyTiles =
            e.bFragmentPair(keys, k * ks, 0, /*nByK=*/true);
        for (SmallVector<Value, 4> &regs : keyTiles)
          regs = phiOfRegisters(e, map, depth, regs);
        for (int64_t mt = 0; mt < mTiles; ++mt) {
          SmallVector<Value, 4> qa = aFragment(phiQ, mt, ks, e.layout);
          for (int64_t nt = 0; nt < 2; ++nt)
            a[2 * mt + nt] = e.mma(qa, keyTiles[nt], a[2 * mt + nt]);
        }
      }
      // Element r of 8-key tile nt: its row and key from the accumulator's
      // layout (keys from `first`); each row's sum in its row slot.
      const FragmentLayout &fc = e.layout.c;
      SmallVector<int64_t, 4> slots = fc.rowSlots();
      SmallVector<Value> nextDen(carried.end() - 2 * mTiles, carried.end());
      for (int64_t mt = 0; mt < mTiles; ++mt) {
        for (int64_t nt = 0; nt < 2; ++nt) {
          for (int64_t r = 0; r < fc.numElements(); ++r) {
            Value row = e.accRow(mt, r);
            Value key = e.add(e.add(first, e.fragCol),
                              e.layout.n * nt + fc.colOf[r]);
            Value kept = e.andi(e.lt(key, mk),
                                e.cmp(arith::CmpIPredicate::sle, key,
                                      e.add(row, shift)));
            Value x = e.select(kept, a[2 * mt + nt][r], e.cst(0.0));
            a[2 * mt + nt][r] = x;
            int64_t slot = llvm::find(slots, fc.rowOf[r]) - slots.begin();
            Value &sum = nextDen[slots.size() * mt + slot];
            sum = e.addf(sum, x);
          }
        }
      }
      // a (as a flash kernel's P) times V, a k-step (k / n key tiles) at a
      // time.
      SmallVector<SmallVector<Value, 4>> nextAcc(acc.size());
      for (size_t i = 0; i < acc.size(); ++i)
        nextAcc[i].assign(carried.begin() + 4 * i, carried.begin() + 4 * i + 4);
      const int64_t tilesPerStep = k / e.layout.n;
      for (int64_t ks = 0; ks < kMmaKeys / k; ++ks) {
        SmallVector<SmallVector<Value, 4>> p;
        for (int64_t mt = 0; mt < mTiles; ++mt)
          p.push_back(accumulatorsAsA(
              e, ArrayRef(a).slice(2 * mt + tilesPerStep * ks, tilesPerStep)));
        e.mmaSharedB(p, values, k * ks, nextAcc);
      }
      SmallVector<Value> next;
      for (auto &tile : nextAcc)
        next.append(tile.begin(), tile.end());
      next.append(nextDen.begin(), nextDen.end());
      scf::YieldOp::create(b, loc, next);
    }
    // b is past the loop (its insertion point the op's), and so past what
    // pipelineCopies puts after it.
    if (FailureOr<scf::ForOp> pipelined =
            pipelineCopies(loop, copies, CopyScope::Warp);
        succeeded(pipelined))
      loop = *pipelined;
    for (size_t i = 0; i < acc.size(); ++i)
      acc[i].assign(loop.getResults().begin() + 4 * i,
                    loop.getResults().begin() + 4 * i + 4);
    for (size_t h = 0; h < den.size(); ++h)
      den[h] = loop.getResult(4 * acc.size() + h);
  }
};

/// The state [F, Dv] (f32 or `e.elem`) as `e.elem` in shared memory, once
/// for the block, read by every warp's products; `allocateMore` allocates
/// what else the op stages between the state's buffer and the copy (the
/// buffers keep that order).
SharedTile stageState(WarpEmitter &e, gpu::LaunchOp launch, Value state,
                      int64_t threads,
                      function_ref<void()> allocateMore = nullptr) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Type elem = e.elem;
  const int64_t features = staticDim(state, 0), dv = staticDim(state, 1);
  SharedTile shared = SharedTile::at(
      b, loc, allocateShared(launch, outputStateBytes(features, dv, elem)),
      e.idx(0), features, dv, elem, kColumnReads);
  Value sharedRuns = shared.runMemref(b, loc);
  gpu::BarrierOp::create(b, loc);
  if (allocateMore)
    allocateMore();
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Type stateElem = cast<MemRefType>(state.getType()).getElementType();
  strided(e, tid, e.idx(features * dv / 2), e.idx(threads), [&](Value i) {
    Value f = arith::DivUIOp::create(b, loc, i, e.idx(dv / 2));
    Value c = e.mul(arith::RemUIOp::create(b, loc, i, e.idx(dv / 2)), 2);
    Value pair = vector::LoadOp::create(
        b, loc, VectorType::get({2}, stateElem), state, ValueRange{f, c},
        /*nontemporal=*/false, e.pairAlignment(stateElem));
    if (stateElem != elem)
      pair = arith::TruncFOp::create(b, loc, VectorType::get({2}, elem), pair);
    vector::StoreOp::create(b, loc, pair, sharedRuns,
                            shared.elementIndices(e, f, c));
  });
  gpu::BarrierOp::create(b, loc);
  return shared;
}

void lowerOutputOnTensorCores(LinearOutputOp op, FeatureMap map, Type elem,
                              int64_t threads,
                              DenseMap<Value, RowFragments> &queries) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  WarpEmitter e(b, loc, elem);
  Value state = op.getState(), norm = op.getNorm(), out = op.getOutput();
  const int64_t features = staticDim(state, 0), dv = staticDim(state, 1);
  const int64_t dTiles = dv / 8;
  auto launch = op->getParentOfType<gpu::LaunchOp>();
  const RowFragments &q = queryFragments(op.getQuery(), elem, launch, queries);

  std::optional<OwnKeyTiles> own;
  SharedTile shared = stageState(e, launch, state, threads, [&] {
    if (op.getKey())
      own.emplace(op, e, threads / kWarpLanes);
  });

  // phi(Q) as A fragments; phi(q) . z per row from the same registers:
  // register j of a row (RowFragments) holds run j % runs of the features
  // of column tile j / runs that the lane holds (the pair, or one value
  // of it a register).
  RowFragments rows = q;
  const int64_t halves = static_cast<int64_t>(rows.size());
  SmallVector<Value> den(halves, e.cst(0.0));
  SmallVector<int64_t, 4> slotElements = e.layout.c.elementsOfRowSlot(0);
  const int64_t perRegister = e.layout.a.elementsPerRegister;
  const int64_t runs = static_cast<int64_t>(slotElements.size()) / perRegister;
  for (int64_t j = 0; j < features / e.layout.n * runs; ++j) {
    SmallVector<Value, 2> z;
    for (int64_t i = 0; i < perRegister; ++i)
      z.push_back(memref::LoadOp::create(
          b, loc, norm,
          e.accCol(j / runs, slotElements[j % runs * perRegister + i])));
    for (int64_t h = 0; h < halves; ++h) {
      SmallVector<Value, 4> x = phiOfValues(e, map, features, rows[h][j]);
      for (auto [xi, zi] : llvm::zip_equal(x, z))
        den[h] = math::FmaOp::create(b, loc, xi, zi, den[h]);
      rows[h][j] = e.operandRegisters(x)[0];
    }
  }
  const int64_t mTiles = halves / 2;
  SmallVector<SmallVector<Value, 4>> acc(mTiles * dTiles,
                                         SmallVector<Value, 4>(4, e.cst(0.0)));
  const int64_t k = e.layout.k;
  for (int64_t ks = 0; ks < features / k; ++ks) {
    SmallVector<SmallVector<Value, 4>> a;
    for (int64_t mt = 0; mt < mTiles; ++mt)
      a.push_back(aFragment(rows, mt, ks, e.layout));
    e.mmaSharedB(a, shared, k * ks, acc);
  }
  if (own)
    own->addTo(map, rows, acc, den);

  Value mq = e.dim(out, 0);
  for (int64_t h = 0; h < halves; ++h) {
    Value d = e.rowReduce(den[h], false);
    // Zeros where the normaliser is 0.
    Value nonzero =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::ONE, d, e.cst(0));
    Value inv = e.select(nonzero, arith::DivFOp::create(b, loc, e.cst(1.0), d),
                         e.cst(0.0));
    const int64_t slots = e.rowSlots();
    SmallVector<int64_t, 4> pair = e.layout.c.elementsOfRowSlot(h % slots);
    Value row = e.accRow(h / slots, pair[0]);
    scf::IfOp::create(b, loc, e.lt(row, mq), [&](OpBuilder &, Location) {
      for (int64_t n = 0; n < dTiles; ++n) {
        ArrayRef<Value> tile = acc[(h / slots) * dTiles + n];
        Value x = e.mulf(tile[pair[0]], inv), y = e.mulf(tile[pair[1]], inv);
        e.storePair(x, y, out, {row, e.accCol(n, pair[0])});
      }
      scf::YieldOp::create(b, loc);
    });
  }
}

/// What every linear tile op's lowering needs of where it is: its feature
/// map (from a feature map op) and the threads of its block (in a
/// gpu.launch, as attn-map-loops-to-gpu puts it).
struct LinearTileContext {
  FeatureMap map;
  int64_t threads;
};
FailureOr<LinearTileContext> contextOf(Operation *op, Value featureMap) {
  auto launch = op->getParentOfType<gpu::LaunchOp>();
  if (!launch)
    return op->emitOpError("is not in a gpu.launch: attn-map-loops-to-gpu "
                           "(lanes-per-iteration=32) maps tile loops to "
                           "warps first");
  auto map = featureMap.getDefiningOp<FeatureMap>();
  if (!map)
    return op->emitOpError("feature map must come from a feature map op");
  std::optional<int64_t> threads = getConstantIntValue(launch.getBlockSizeX());
  if (!threads)
    return op->emitOpError("needs its gpu.launch's block size as a constant");
  return LinearTileContext{map, *threads};
}

/// A reduction (linear_state, linear_prefix) on tensor cores where it fits,
/// else per lane (`perLane`).
template <typename Reduction>
LogicalResult lowerReduction(Reduction op, RewriterBase &rewriter,
                             function_ref<void(FeatureMap)> perLane) {
  FailureOr<LinearTileContext> at = contextOf(op, op.getFeatureMap());
  if (failed(at))
    return failure();
  if (std::optional<Type> elem = tensorCoreElement(op, at->map))
    LinearReductionLowering(op, op.getKey(), op.getValue(), at->map, *elem,
                            at->threads)
        .run();
  else
    perLane(at->map);
  rewriter.eraseOp(op);
  return success();
}

//===----------------------------------------------------------------------===//
// The gradient's tile ops (tensor cores only)
//===----------------------------------------------------------------------===//

/// A warp's view of row fragments (RowFragments: registers laid out like
/// accumulator tiles) and of the accumulator tiles of its products: which
/// row a row slot is, which columns a tile's elements are, and the f32
/// values a row slot holds of a tile.
struct WarpRows {
  WarpEmitter &e;
  const int64_t slots, perRegister, runs;
  SmallVector<int64_t, 4> slotElements;

  explicit WarpRows(WarpEmitter &e)
      : e(e), slots(e.rowSlots()), perRegister(e.layout.a.elementsPerRegister),
        runs(static_cast<int64_t>(e.layout.c.elementsOfRowSlot(0).size()) /
             e.layout.a.elementsPerRegister),
        slotElements(e.layout.c.elementsOfRowSlot(0)) {}

  /// The accumulator elements of row slot h (of RowFragments' numbering)
  /// in a tile, in column order.
  SmallVector<int64_t, 4> pair(int64_t h) const {
    return e.layout.c.elementsOfRowSlot(h % slots);
  }
  Value row(int64_t h) { return e.accRow(h / slots, pair(h)[0]); }
  /// The column of element `i` (in column order) of 8-column tile n.
  Value col(int64_t n, int64_t i) { return e.accCol(n, slotElements[i]); }
  /// The lane's elements of a vector of `tiles` 8-column tiles (a
  /// normaliser or its cotangent), per tile n in column order: loaded once
  /// for all of the warp's rows.
  SmallVector<SmallVector<Value, 4>> columnsOf(Value vector, int64_t tiles) {
    SmallVector<SmallVector<Value, 4>> out(tiles);
    for (int64_t n = 0; n < tiles; ++n)
      for (int64_t i = 0; i < static_cast<int64_t>(slotElements.size()); ++i)
        out[n].push_back(memref::LoadOp::create(e.b, e.loc, vector, col(n, i)));
    return out;
  }
  /// The f32 values row slot `row` holds of 8-column tile n, in column
  /// order.
  SmallVector<Value, 4> values(ArrayRef<Value> row, int64_t n) {
    SmallVector<Value, 4> out;
    for (int64_t r = 0; r < runs; ++r)
      llvm::append_range(out, e.operandValues(row[n * runs + r]));
    return out;
  }
  /// body(h, row) under `row < rows` for each of the `halves` row slots.
  void forRowsBelow(Value rows, int64_t halves,
                    function_ref<void(int64_t, Value)> body) {
    for (int64_t h = 0; h < halves; ++h) {
      Value r = row(h);
      scf::IfOp::create(e.b, e.loc, e.lt(r, rows), [&](OpBuilder &, Location) {
        body(h, r);
        scf::YieldOp::create(e.b, e.loc);
      });
    }
  }
  /// dphi(i) * phi'(x_i) for the two elements i of a row slot in feature
  /// tile n (`x` the inputs' values there), stored as a pair at row `r`.
  void storeThroughSlope(FeatureMap map, int64_t depth, ArrayRef<Value> x,
                         function_ref<Value(int64_t)> dphi, Value out, Value r,
                         int64_t n);
  /// Accumulator tile n of the row tile of row slot h: its elements of the
  /// slot, in column order.
  SmallVector<Value, 4> accValues(ArrayRef<SmallVector<Value, 4>> acc,
                                  int64_t tiles, int64_t h, int64_t n) {
    SmallVector<Value, 4> out;
    for (int64_t i : pair(h))
      out.push_back(acc[(h / slots) * tiles + n][i]);
    return out;
  }
};

void WarpRows::storeThroughSlope(FeatureMap map, int64_t depth,
                                 ArrayRef<Value> x,
                                 function_ref<Value(int64_t)> dphi, Value out,
                                 Value r, int64_t n) {
  SmallVector<Value, 2> grad;
  for (int64_t i = 0; i < 2; ++i)
    grad.push_back(
        e.mulf(dphi(i), buildFeatureSlope(e.b, e.loc, map, x[i],
                                          map.getInputScale(depth))));
  e.storePair(grad[0], grad[1], out, {r, col(n, 0)});
}

/// acc[m][n] += A B^T or A B over all of A's depth, B the staged state
/// (`nByK`: its rows are B's columns), A the rows' fragments: `tiles`
/// 8-column tiles per row tile.
SmallVector<SmallVector<Value, 4>>
productWithState(WarpEmitter &e, const RowFragments &a, int64_t depth,
                 const SharedTile &state, int64_t tiles, bool nByK) {
  const int64_t mTiles = static_cast<int64_t>(a.size()) / e.rowSlots();
  SmallVector<SmallVector<Value, 4>> acc(mTiles * tiles,
                                         SmallVector<Value, 4>(4, e.cst(0.0)));
  for (int64_t ks = 0; ks < depth / e.layout.k; ++ks) {
    SmallVector<SmallVector<Value, 4>> frags;
    for (int64_t mt = 0; mt < mTiles; ++mt)
      frags.push_back(aFragment(a, mt, ks, e.layout));
    e.mmaSharedB(frags, state, e.layout.k * ks, acc, Value(), nByK);
  }
  return acc;
}

/// Per warp (its 16 or 32 rows as fragments): phi(Q) and den = phi(q) . z,
/// u = dO . out in f32 from the rows' registers; acc = dO S^T on tensor
/// cores (the state staged once for the block); then per element
/// query_grad = (acc - u z) / den * phi'(q), scaled_grad = dO / den, and
/// per row norm_weights = c = -u / den.
void lowerQueryGradOnTensorCores(LinearQueryGradOp op, FeatureMap map,
                                 Type elem, int64_t threads,
                                 DenseMap<Value, RowFragments> &rowsCache) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  WarpEmitter e(b, loc, elem);
  WarpRows w(e);
  Value state = op.getState(), norm = op.getNorm();
  const int64_t features = staticDim(state, 0), dv = staticDim(state, 1);
  auto launch = op->getParentOfType<gpu::LaunchOp>();
  const RowFragments &q =
      queryFragments(op.getQuery(), elem, launch, rowsCache);
  const RowFragments &dO =
      queryFragments(op.getOutputGrad(), elem, launch, rowsCache);
  const RowFragments &out =
      queryFragments(op.getOutput(), elem, launch, rowsCache);
  SharedTile shared = stageState(e, launch, state, threads);

  const int64_t halves = static_cast<int64_t>(q.size());
  const int64_t fTiles = features / e.layout.n, dTiles = dv / e.layout.n;
  SmallVector<SmallVector<Value, 4>> z = w.columnsOf(norm, fTiles);
  // Per row slot: 1 / den and u = dO . out, reduced over the lanes that
  // share the row.
  SmallVector<Value> inv(halves), u(halves);
  for (int64_t h = 0; h < halves; ++h) {
    Value den = e.cst(0.0), dot = e.cst(0.0);
    for (int64_t n = 0; n < fTiles; ++n) {
      SmallVector<Value, 4> x = phiOfValues(
          e, map, features, ArrayRef<Value>(q[h]).slice(n * w.runs, w.runs));
      for (auto [xi, zi] : llvm::zip_equal(x, z[n]))
        den = e.fma(xi, zi, den);
    }
    for (int64_t n = 0; n < dTiles; ++n)
      for (auto [g, o] :
           llvm::zip_equal(w.values(dO[h], n), w.values(out[h], n)))
        dot = e.fma(g, o, dot);
    Value d = e.rowReduce(den, false);
    Value nonzero =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::ONE, d, e.cst(0));
    inv[h] = e.select(nonzero, arith::DivFOp::create(b, loc, e.cst(1.0), d),
                      e.cst(0.0));
    u[h] = e.rowReduce(dot, false);
  }

  // acc = dO S^T: the state's rows are B's columns.
  SmallVector<SmallVector<Value, 4>> acc =
      productWithState(e, dO, dv, shared, fTiles, /*nByK=*/true);
  w.forRowsBelow(e.dim(op.getQuery(), 0), halves, [&](int64_t h, Value row) {
    for (int64_t n = 0; n < fTiles; ++n) {
      SmallVector<Value, 4> a = w.accValues(acc, fTiles, h, n);
      w.storeThroughSlope(
          map, features, w.values(q[h], n),
          [&](int64_t i) {
            return e.mulf(
                arith::SubFOp::create(b, loc, a[i], e.mulf(u[h], z[n][i])),
                inv[h]);
          },
          op.getQueryGrad(), row, n);
    }
    for (int64_t n = 0; n < dTiles; ++n) {
      SmallVector<Value, 4> g = w.values(dO[h], n);
      e.storePair(e.mulf(g[0], inv[h]), e.mulf(g[1], inv[h]),
                  op.getScaledGrad(), {row, w.col(n, 0)});
    }
    // One of the lanes that share the row stores its c.
    e.ifThen(e.cmp(arith::CmpIPredicate::eq, e.fragCol, e.idx(0)), [&] {
      memref::StoreOp::create(
          b, loc, arith::NegFOp::create(b, loc, e.mulf(u[h], inv[h])),
          op.getNormWeights(), row);
    });
  });
}

/// Per warp (its 16 or 32 keys as fragments): value_grad = phi(K) dS and
/// acc = V dS^T on tensor cores (dS staged once for the block), then
/// key_grad = (acc + dz) * phi'(k) per element.
void lowerKeyGradOnTensorCores(LinearKeyGradOp op, FeatureMap map, Type elem,
                               int64_t threads,
                               DenseMap<Value, RowFragments> &rowsCache) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  WarpEmitter e(b, loc, elem);
  WarpRows w(e);
  Value stateGrad = op.getStateGrad();
  const int64_t features = staticDim(stateGrad, 0),
                dv = staticDim(stateGrad, 1);
  auto launch = op->getParentOfType<gpu::LaunchOp>();
  const RowFragments &k = queryFragments(op.getKey(), elem, launch, rowsCache);
  const RowFragments &v =
      queryFragments(op.getValue(), elem, launch, rowsCache);
  SharedTile shared = stageState(e, launch, stateGrad, threads);
  const int64_t halves = static_cast<int64_t>(k.size());
  const int64_t fTiles = features / e.layout.n, dTiles = dv / e.layout.n;

  RowFragments phiK = k;
  for (SmallVector<Value> &row : phiK)
    for (Value &reg : row)
      reg = phiOfRegisters(e, map, features, reg)[0];
  SmallVector<SmallVector<Value, 4>> valueGrad =
      productWithState(e, phiK, features, shared, dTiles, /*nByK=*/false);
  SmallVector<SmallVector<Value, 4>> acc =
      productWithState(e, v, dv, shared, fTiles, /*nByK=*/true);
  SmallVector<SmallVector<Value, 4>> dz = w.columnsOf(op.getNormGrad(), fTiles);
  w.forRowsBelow(e.dim(op.getKey(), 0), halves, [&](int64_t h, Value row) {
    for (int64_t n = 0; n < dTiles; ++n) {
      SmallVector<Value, 4> x = w.accValues(valueGrad, dTiles, h, n);
      e.storePair(x[0], x[1], op.getValueGrad(), {row, w.col(n, 0)});
    }
    for (int64_t n = 0; n < fTiles; ++n) {
      SmallVector<Value, 4> a = w.accValues(acc, fTiles, h, n);
      w.storeThroughSlope(
          map, features, w.values(k[h], n),
          [&](int64_t i) { return e.addf(a[i], dz[n][i]); }, op.getKeyGrad(),
          row, n);
    }
  });
}

std::optional<Type> tensorCoreElement(LinearQueryGradOp op, FeatureMap map) {
  std::optional<int64_t> rows = rowBound(op.getQuery());
  if (!rows || *rows > kMaxWarpRows)
    return std::nullopt;
  return tensorCoreElement(op, map,
                           {op.getQuery(), op.getOutput(), op.getOutputGrad(),
                            op.getQueryGrad(), op.getScaledGrad()},
                           {op.getState(), op.getNorm()});
}

std::optional<Type> tensorCoreElement(LinearKeyGradOp op, FeatureMap map) {
  std::optional<int64_t> rows = rowBound(op.getKey());
  if (!rows || *rows > kMaxWarpRows)
    return std::nullopt;
  return tensorCoreElement(
      op, map, {op.getKey(), op.getValue(), op.getKeyGrad(), op.getValueGrad()},
      {op.getStateGrad(), op.getNormGrad()});
}

/// A gradient tile op on tensor cores; it has no per-lane form (attn-tile
/// gives shapes without one to decomposeLinearGrad's generics instead).
template <typename GradOp>
LogicalResult
lowerGradient(GradOp op, RewriterBase &rewriter,
              function_ref<void(FeatureMap, Type, int64_t)> onTensorCores) {
  FailureOr<LinearTileContext> at = contextOf(op, op.getFeatureMap());
  if (failed(at))
    return failure();
  std::optional<Type> elem = tensorCoreElement(op, at->map);
  if (!elem)
    return op.emitOpError(
        "has no GPU form for these operands: it takes bf16, f16 or f32 "
        "tiles of at most 32 rows, head dims multiples of 16, rows aligned, "
        "reached by the whole block");
  onTensorCores(at->map, *elem, at->threads);
  rewriter.eraseOp(op);
  return success();
}

} // namespace

void mlir::attn::populateLinearTilesToGPUPatterns(RewritePatternSet &patterns) {
  addLowering(patterns, [](LinearStateOp op, RewriterBase &rewriter) {
    return lowerReduction(op, rewriter,
                          [&](FeatureMap map) { lowerStatePerLane(op, map); });
  });
  addLowering(patterns, [](LinearPrefixOp op, RewriterBase &rewriter) {
    return lowerReduction(op, rewriter,
                          [&](FeatureMap map) { lowerPrefixPerLane(op, map); });
  });
  // The query tiles' fragments, loaded once where outputs share a tile.
  auto queries = std::make_shared<DenseMap<Value, RowFragments>>();
  addLowering(
      patterns,
      [queries](LinearOutputOp op, RewriterBase &rewriter) -> LogicalResult {
        FailureOr<LinearTileContext> at = contextOf(op, op.getFeatureMap());
        if (failed(at))
          return failure();
        if (std::optional<Type> elem = tensorCoreElement(op, at->map)) {
          lowerOutputOnTensorCores(op, at->map, *elem, at->threads, *queries);
        } else {
          std::optional<OutputScratch> scratch =
              outputScratchFor(op, at->threads / kWarpLanes);
          if (failed(lowerOutputPerLane(op, at->map,
                                        scratch ? &*scratch : nullptr)))
            return failure();
        }
        rewriter.eraseOp(op);
        return success();
      });
  addLowering(
      patterns, [queries](LinearQueryGradOp op, RewriterBase &rewriter) {
        return lowerGradient(
            op, rewriter, [&](FeatureMap map, Type elem, int64_t threads) {
              lowerQueryGradOnTensorCores(op, map, elem, threads, *queries);
            });
      });
  addLowering(patterns, [queries](LinearKeyGradOp op, RewriterBase &rewriter) {
    return lowerGradient(
        op, rewriter, [&](FeatureMap map, Type elem, int64_t threads) {
          lowerKeyGradOnTensorCores(op, map, elem, threads, *queries);
        });
  });
}

namespace {

/// The linear-attention tile ops of a function's kernels; their shared
/// memory is staging buffers (allocateShared), placed by
/// attn-allocate-shared-memory.
struct ConvertLinearTilesToGPUPass
    : public mlir::attn::impl::ConvertLinearTilesToGPUBase<
          ConvertLinearTilesToGPUPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateLinearTilesToGPUPatterns(patterns);
    if (failed(applyLowerings(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

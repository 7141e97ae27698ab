//===- Tile.cpp - attention kernels into loops over tiles -----------------===//
//
// attn.sdpa, attn.linear and attn.ssm become loops over tiles whose bodies
// are attn.tile.* ops on memrefs. The kernels' tensors cross to buffers with
// bufferization.to_buffer and back with bufferization.to_tensor, so the rest
// of the function bufferizes as usual.
//
//===----------------------------------------------------------------------===//

#include "attn/Transforms/Passes.h"
#include "attn/Transforms/SsmScanLayout.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/MathExtras.h"

#include <limits>
#include <numeric>

namespace mlir::attn {
#define GEN_PASS_DEF_TILE
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// Small builder state shared by the rewrites.
struct Emitter {
  OpBuilder &b;
  Location loc;

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value f32(double v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }
  Value mul(Value x, int64_t c) {
    return arith::MulIOp::create(b, loc, x, idx(c));
  }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value min(Value x, Value y) { return arith::MinSIOp::create(b, loc, x, y); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }

  /// buffer[lead..., row0 : row0 + rows, col0 : col0 + cols] as a rank-2
  /// view; leading dimensions are dropped.
  Value view2D(Value buffer, ValueRange lead, Value row0, OpFoldResult rows,
               OpFoldResult col0, OpFoldResult cols, unsigned rowDim,
               unsigned colDim) {
    auto type = cast<MemRefType>(buffer.getType());
    int64_t rank = type.getRank();
    // Constant values become attributes, so the view's type is as static as
    // the sizes are.
    auto fold = [](OpFoldResult r) {
      return isa<Value>(r) ? getAsOpFoldResult(cast<Value>(r)) : r;
    };
    rows = fold(rows);
    cols = fold(cols);
    col0 = fold(col0);
    SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)),
        sizes(rank, b.getIndexAttr(1)), strides(rank, b.getIndexAttr(1));
    unsigned next = 0;
    for (int64_t d = 0; d < rank; ++d) {
      if (d == rowDim) {
        offsets[d] = row0;
        sizes[d] = rows;
      } else if (d == colDim) {
        offsets[d] = col0;
        sizes[d] = cols;
      } else {
        offsets[d] = lead[next++];
      }
    }
    SmallVector<int64_t> shape;
    for (OpFoldResult s : {rows, cols})
      shape.push_back(getConstantIntValue(s).value_or(ShapedType::kDynamic));
    auto viewType = memref::SubViewOp::inferRankReducedResultType(
        shape, type, offsets, sizes, strides);
    return memref::SubViewOp::create(b, loc, cast<MemRefType>(viewType), buffer,
                                     offsets, sizes, strides);
  }

  /// buffer[lead..., rest...] of `restSizes`, the lead dimensions dropped.
  Value view(Value buffer, ValueRange lead, ArrayRef<OpFoldResult> rest,
             ArrayRef<OpFoldResult> restSizes) {
    SmallVector<OpFoldResult> offsets(getAsOpFoldResult(lead)),
        sizes(lead.size(), b.getIndexAttr(1));
    offsets.append(rest.begin(), rest.end());
    sizes.append(restSizes.begin(), restSizes.end());
    SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
    SmallVector<int64_t> shape;
    for (OpFoldResult size : restSizes)
      shape.push_back(getConstantIntValue(size).value_or(ShapedType::kDynamic));
    auto type = memref::SubViewOp::inferRankReducedResultType(
        shape, cast<MemRefType>(buffer.getType()), offsets, sizes, strides);
    return memref::SubViewOp::create(b, loc, cast<MemRefType>(type), buffer,
                                     offsets, sizes, strides);
  }

  /// A row-major view [row0 : row0 + rows, :] of a rank-2 buffer.
  Value rows(Value buffer, Value row0, Value count) {
    auto type = cast<MemRefType>(buffer.getType());
    return view2D(buffer, {}, row0, count, b.getIndexAttr(0),
                  b.getIndexAttr(type.getDimSize(1)), 0, 1);
  }

  /// The first `count` entries of a rank-1 buffer.
  Value prefix(Value buffer, Value count) {
    SmallVector<OpFoldResult> offsets{b.getIndexAttr(0)}, sizes{count},
        strides{b.getIndexAttr(1)};
    return memref::SubViewOp::create(b, loc, buffer, offsets, sizes, strides);
  }

  Value toBuffer(Value tensor) {
    auto type = cast<RankedTensorType>(tensor.getType());
    return bufferization::ToBufferOp::create(
        b, loc, MemRefType::get(type.getShape(), type.getElementType()), tensor,
        /*read_only=*/true);
  }

  Value toTensor(Value buffer, Type tensorType) {
    return bufferization::ToTensorOp::create(b, loc, tensorType, buffer,
                                             /*restrict=*/true,
                                             /*writable=*/true);
  }

  void fill(Value buffer, double value) {
    Type elem = cast<MemRefType>(buffer.getType()).getElementType();
    Value v = arith::ConstantOp::create(b, loc, b.getFloatAttr(elem, value));
    linalg::FillOp::create(b, loc, v, buffer);
  }

  /// Element `i` of a constant i32 table, as an index.
  Value load(Value table, Value i) {
    Value v = memref::LoadOp::create(b, loc, table, i);
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  }
};

/// Creates `memref.global` constants, uniquely named, and reads them.
class Globals {
public:
  explicit Globals(ModuleOp module) : module(module), symbols(module) {}

  Value get(OpBuilder &b, Location loc, StringRef name,
            DenseElementsAttr value) {
    auto type = MemRefType::get(value.getType().getShape(),
                                value.getType().getElementType());
    memref::GlobalOp global;
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(module.getBody());
      global = memref::GlobalOp::create(b, loc, name,
                                        b.getStringAttr("private"), type, value,
                                        /*constant=*/true,
                                        /*alignment=*/b.getI64IntegerAttr(64));
    }
    symbols.insert(global); // renames on collision
    return memref::GetGlobalOp::create(b, loc, type, global.getSymName());
  }

  Value table(OpBuilder &b, Location loc, StringRef name,
              ArrayRef<int32_t> values) {
    SmallVector<int32_t> data(values);
    if (data.empty())
      data.push_back(0); // never read: its offsets are all 0
    auto type = RankedTensorType::get({static_cast<int64_t>(data.size())},
                                      b.getI32Type());
    return get(b, loc, name, DenseIntElementsAttr::get(type, data));
  }

private:
  ModuleOp module;
  SymbolTable symbols;
};

/// Builds the body of a loop created with its terminator in place.
template <class LoopOp> void atBodyEnd(OpBuilder &b, LoopOp loop) {
  b.setInsertionPoint(loop.getBody()->getTerminator());
}

int64_t dimOf(Value v, unsigned i) {
  return cast<ShapedType>(v.getType()).getDimSize(i);
}

/// A dimension of a buffer as an index value.
Value extent(Emitter &e, Value buffer, unsigned i) {
  int64_t d = dimOf(buffer, i);
  if (!ShapedType::isDynamic(d))
    return e.idx(d);
  return memref::DimOp::create(e.b, e.loc, buffer, i);
}

/// Per-batch key limit of a key-lengths tensor: min(n, lengths[b]).
Value keyLimitFromLengths(Emitter &e, Value lengths, Value batch, Value n) {
  Value len = tensor::ExtractOp::create(e.b, e.loc, lengths, batch);
  Value l = arith::IndexCastOp::create(e.b, e.loc, e.b.getIndexType(), len);
  return e.min(n, arith::MaxSIOp::create(e.b, e.loc, l, e.idx(0)));
}

//===----------------------------------------------------------------------===//
// attn.sdpa
//===----------------------------------------------------------------------===//

/// The keys batch entry `bIdx` may keep: `nk`, or less where the mask has a
/// runtime key limit (key padding).
Value keyLimitFor(Emitter &e, MaskPattern pattern, Value bIdx, Value nk) {
  if (pattern)
    if (Value limit = pattern.buildKeyLimit(e.b, e.loc, bIdx))
      return e.min(nk, arith::MaxSIOp::create(e.b, e.loc, limit, e.idx(0)));
  return nk;
}

/// Emits the loop over one list of the schedule (full or partial tiles) of
/// query tile `qTile`, clipping each key tile to `keyLimit`.
void emitKeyTileLoop(Emitter &e, Value offsets, Value blocks, Value qTile,
                     int64_t bk, Value keyLimit,
                     function_ref<void(Value k0, Value kn)> body) {
  Value begin = e.load(offsets, qTile);
  Value end = e.load(offsets, e.add(qTile, e.idx(1)));
  auto loop = scf::ForOp::create(e.b, e.loc, begin, end, e.idx(1));
  atBodyEnd(e.b, loop);
  Value k0 = e.mul(e.load(blocks, loop.getInductionVar()), bk);
  Value kn = e.min(e.idx(bk), e.sub(keyLimit, k0));
  Value any = arith::CmpIOp::create(e.b, e.loc, arith::CmpIPredicate::sgt, kn,
                                    e.idx(0));
  auto ifOp = scf::IfOp::create(e.b, e.loc, any, /*withElse=*/false);
  e.b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  body(k0, kn);
  e.b.setInsertionPointAfter(loop);
}

/// The query tiles of `schedule` by the number of key tiles they visit,
/// most first (ties in order); empty when they all visit as many.
SmallVector<int32_t> heaviestFirst(ScheduleAttr schedule) {
  ArrayRef<int32_t> full = schedule.getFullOffsets().asArrayRef(),
                    partial = schedule.getPartialOffsets().asArrayRef();
  const int64_t tiles = static_cast<int64_t>(full.size()) - 1;
  SmallVector<int32_t> visits(tiles);
  for (int64_t i = 0; i < tiles; ++i)
    visits[i] = full[i + 1] - full[i] + partial[i + 1] - partial[i];
  if (llvm::all_equal(visits))
    return {};
  SmallVector<int32_t> order(tiles);
  std::iota(order.begin(), order.end(), 0);
  llvm::stable_sort(
      order, [&](int32_t a, int32_t b) { return visits[a] > visits[b]; });
  return order;
}

LogicalResult tileSdpa(SdpaOp op, Globals &globals, int64_t defaultBQ,
                       int64_t defaultBK, int64_t rowsPerInstance,
                       int64_t scalarRowsPerInstance) {
  OpBuilder b(op);
  Emitter e{b, op.getLoc()};
  Location loc = op.getLoc();
  auto qType = cast<RankedTensorType>(op.getQuery().getType());
  for (unsigned d : {0u, 1u, 3u})
    if (qType.isDynamicDim(d) || ShapedType::isDynamic(dimOf(op.getValue(), 3)))
      return op.emitOpError("attn-tile needs static batch, heads and head "
                            "dims");
  ScheduleAttr schedule = op.getScheduleAttr();
  if (op.getMask() && !schedule)
    return op.emitOpError("has a mask but no schedule; run "
                          "attn-schedule-blocks first");
  const int64_t batch = qType.getDimSize(0), heads = qType.getDimSize(1);
  const int64_t bq = schedule ? schedule.getBlockQ() : defaultBQ;
  const int64_t bk = schedule ? schedule.getBlockK() : defaultBK;
  const int64_t dv = dimOf(op.getValue(), 3);
  // Attention in element types without a tensor-core form (the GPU's are
  // bf16 and f16) runs a row per lane there: scalar-rows-per-instance rows,
  // where they divide the tile.
  Type elem = qType.getElementType();
  if (rowsPerInstance > 0 && scalarRowsPerInstance > 0 && !elem.isBF16() &&
      !elem.isF16() && bq % std::min(scalarRowsPerInstance, bq) == 0)
    rowsPerInstance = scalarRowsPerInstance;
  // Rows of a query tile handled by one instance of the inner loop; the whole
  // tile when there is no inner loop.
  const int64_t rows =
      rowsPerInstance > 0 && rowsPerInstance < bq ? rowsPerInstance : bq;
  if (bq % rows != 0)
    return op.emitOpError("attn-tile's rows-per-instance (")
           << rows << ") must divide the query tile (" << bq << ")";

  Value q = e.toBuffer(op.getQuery()), k = e.toBuffer(op.getKey()),
        v = e.toBuffer(op.getValue());
  Value n = extent(e, q, 2), nk = extent(e, k, 2);
  auto resultType = cast<RankedTensorType>(op.getType());
  auto outType =
      MemRefType::get(resultType.getShape(), resultType.getElementType());
  SmallVector<Value> dynSizes;
  if (outType.isDynamicDim(2))
    dynSizes.push_back(n);
  Value out = memref::AllocOp::create(b, loc, outType, dynSizes,
                                      b.getI64IntegerAttr(64));

  // Without a schedule every key tile is visited as full.
  Value fullOffsets, fullBlocks, partialOffsets, partialBlocks;
  if (schedule && !schedule.getFullBlocks().empty()) {
    fullOffsets = globals.table(b, loc, "__attn_full_offsets",
                                schedule.getFullOffsets().asArrayRef());
    fullBlocks = globals.table(b, loc, "__attn_full_blocks",
                               schedule.getFullBlocks().asArrayRef());
  }
  if (schedule && !schedule.getPartialBlocks().empty()) {
    partialOffsets = globals.table(b, loc, "__attn_partial_offsets",
                                   schedule.getPartialOffsets().asArrayRef());
    partialBlocks = globals.table(b, loc, "__attn_partial_blocks",
                                  schedule.getPartialBlocks().asArrayRef());
  }
  auto tilesOf = [&](Value extent, int64_t block) -> OpFoldResult {
    if (std::optional<int64_t> c = getConstantIntValue(extent))
      return b.getIndexAttr(llvm::divideCeil(*c, block));
    return arith::CeilDivUIOp::create(b, loc, extent, e.idx(block)).getResult();
  };
  OpFoldResult numQTiles = tilesOf(n, bq);
  Value numKTiles = getValueOrCreateConstantIndexOp(b, loc, tilesOf(nk, bk));
  MaskPattern pattern =
      op.getMask() ? getMaskPattern(op.getMask()) : MaskPattern();
  std::optional<int64_t> staticN =
      ShapedType::isDynamic(qType.getDimSize(2))
          ? std::nullopt
          : std::optional<int64_t>(qType.getDimSize(2));

  // The GPU form visits query tiles heaviest first when their schedules
  // differ (BigBird's global rows visit every key tile): blocks start in
  // the grid's order, so a heavy tile left to the end would run alone after
  // the rest (the longest-first rule). Its loop is (rank, batch, head), the
  // rank slowest, and a table gives the query tile of each rank.
  SmallVector<int32_t> order = rowsPerInstance > 0 && schedule
                                   ? heaviestFirst(schedule)
                                   : SmallVector<int32_t>();
  SmallVector<OpFoldResult> bounds{b.getIndexAttr(batch), b.getIndexAttr(heads),
                                   numQTiles};
  if (!order.empty())
    std::rotate(bounds.begin(), bounds.begin() + 2, bounds.end());
  auto forall =
      scf::ForallOp::create(b, loc, bounds, ValueRange{}, std::nullopt);
  atBodyEnd(b, forall);
  Value bIdx = forall.getInductionVar(0), hIdx = forall.getInductionVar(1),
        qTile = forall.getInductionVar(2);
  if (!order.empty()) {
    Value table = globals.table(b, loc, "__attn_query_order", order);
    bIdx = forall.getInductionVar(1);
    hIdx = forall.getInductionVar(2);
    qTile = e.load(table, forall.getInductionVar(0));
  }
  Value q0 = e.mul(qTile, bq);
  if (rows < bq) {
    // Row groups of the tile: the same key tiles, independent rows.
    auto inner = scf::ForallOp::create(
        b, loc, SmallVector<OpFoldResult>{b.getIndexAttr(bq / rows)},
        ValueRange{}, std::nullopt);
    atBodyEnd(b, inner);
    q0 = e.add(q0, e.mul(inner.getInductionVar(0), rows));
  }
  // Clipped at the end of the sequence; a row group may lie past it.
  Value qn = e.min(e.idx(rows), e.sub(n, q0));
  if (rows < bq)
    qn = arith::MaxSIOp::create(b, loc, qn, e.idx(0));
  Value qView = e.view2D(q, {bIdx, hIdx}, q0, qn, b.getIndexAttr(0),
                         b.getIndexAttr(dimOf(q, 3)), 2, 3);

  // Running statistics and accumulator of these query rows, in f32.
  Type f32 = b.getF32Type();
  Value maxBuf = memref::AllocaOp::create(b, loc, MemRefType::get({rows}, f32));
  Value sumBuf = memref::AllocaOp::create(b, loc, MemRefType::get({rows}, f32));
  Value accBuf =
      memref::AllocaOp::create(b, loc, MemRefType::get({rows, dv}, f32));
  Value maxV = e.prefix(maxBuf, qn), sumV = e.prefix(sumBuf, qn),
        accV = e.rows(accBuf, e.idx(0), qn);
  e.fill(maxV, -std::numeric_limits<double>::infinity());
  e.fill(sumV, 0.0);
  e.fill(accV, 0.0);

  Value keyLimit = keyLimitFor(e, pattern, bIdx, nk);
  FloatAttr scale = b.getF64FloatAttr(op.getEffectiveScale());

  auto step = [&](Value k0, Value kn, bool partial) {
    Value kView = e.view2D(k, {bIdx, hIdx}, k0, kn, b.getIndexAttr(0),
                           b.getIndexAttr(dimOf(k, 3)), 2, 3);
    Value vView = e.view2D(v, {bIdx, hIdx}, k0, kn, b.getIndexAttr(0),
                           b.getIndexAttr(dv), 2, 3);
    auto stepOp = SoftmaxStepOp::create(b, loc, qView, kView, vView, maxV, sumV,
                                        accV, q0, k0, scale);
    if (!partial)
      return success();
    Block *block =
        b.createBlock(&stepOp.getPredicate(), {},
                      {b.getIndexType(), b.getIndexType()}, {loc, loc});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(block);
    PredicateBuilder pb(b, loc, bIdx, n, staticN);
    Value kept = pattern.buildPredicate(pb, block->getArgument(0),
                                        block->getArgument(1));
    if (!kept)
      return failure();
    YieldOp::create(b, loc, ValueRange{kept});
    return success();
  };

  LogicalResult status = success();
  if (schedule) {
    // A list that is empty for every query tile needs no loop.
    if (!schedule.getFullBlocks().empty())
      emitKeyTileLoop(e, fullOffsets, fullBlocks, qTile, bk, keyLimit,
                      [&](Value k0, Value kn) { (void)step(k0, kn, false); });
    if (!schedule.getPartialBlocks().empty())
      emitKeyTileLoop(e, partialOffsets, partialBlocks, qTile, bk, keyLimit,
                      [&](Value k0, Value kn) {
                        if (failed(step(k0, kn, true)))
                          status = failure();
                      });
  } else {
    auto loop = scf::ForOp::create(b, loc, e.idx(0), numKTiles, e.idx(1));
    atBodyEnd(b, loop);
    Value k0 = e.mul(loop.getInductionVar(), bk);
    (void)step(k0, e.min(e.idx(bk), e.sub(keyLimit, k0)), false);
    b.setInsertionPointAfter(loop);
  }
  if (failed(status))
    return op.emitOpError("its mask could not build its predicate");
  Value outView = e.view2D(out, {bIdx, hIdx}, q0, qn, b.getIndexAttr(0),
                           b.getIndexAttr(dv), 2, 3);
  SoftmaxFinalizeOp::create(b, loc, sumV, accV, outView);

  b.setInsertionPointAfter(forall);
  op.replaceAllUsesWith(e.toTensor(out, resultType));
  op.erase();
  return success();
}


//===----------------------------------------------------------------------===//
// attn.sdpa_grad (the CPU form)
//===----------------------------------------------------------------------===//

/// The transpose of one list of a schedule: for each key tile, the query
/// tiles whose list holds it, as (offsets [key tiles + 1], query tiles).
std::pair<SmallVector<int32_t>, SmallVector<int32_t>>
transposeScheduleList(ArrayRef<int32_t> offsets, ArrayRef<int32_t> blocks,
                      int64_t keyTiles) {
  SmallVector<SmallVector<int32_t>> byKey(keyTiles);
  for (int64_t qt = 0; qt + 1 < static_cast<int64_t>(offsets.size()); ++qt)
    for (int32_t t = offsets[qt]; t < offsets[qt + 1]; ++t)
      byKey[blocks[t]].push_back(static_cast<int32_t>(qt));
  SmallVector<int32_t> outOffsets{0}, tiles;
  for (const SmallVector<int32_t> &list : byKey) {
    tiles.append(list.begin(), list.end());
    outOffsets.push_back(static_cast<int32_t>(tiles.size()));
  }
  return {outOffsets, tiles};
}

/// Scalar loops for the gradient of softmax attention, in two nests over
/// the schedule (FlashAttention-2's backward, a row at a time):
///   forall (b, h, query tile) { for each row i:
///     its statistics over the kept keys -> lse_i; D_i = dO_i . out_i;
///     dQ_i = scale sum_j P_ij (dO_i . v_j - D_i) k_j }
///   forall (b, h, key tile) { for each key j: over the query tiles whose
///     schedule holds its tile (the schedule transposed), for each row i:
///     dV_j += P_ij dO_i;  dK_j += scale P_ij (dO_i . v_j - D_i) q_i }
/// with P_ij = exp(scale q_i . k_j - lse_i) where the mask keeps (i, j):
/// full tiles without the predicate, partial ones with it, keys below the
/// key limit. Each nest's instances write disjoint rows. The GPU form (warps
/// and tensor cores) is not built yet.
LogicalResult tileSdpaGrad(SdpaGradOp op, Globals &globals, int64_t defaultBQ,
                           int64_t defaultBK, bool gpuForm) {
  if (gpuForm)
    return op.emitOpError("has no GPU form yet: the gradient of softmax "
                          "attention runs on the CPU only for now");
  OpBuilder b(op);
  Emitter e{b, op.getLoc()};
  Location loc = op.getLoc();
  auto qType = cast<RankedTensorType>(op.getQuery().getType());
  auto vType = cast<RankedTensorType>(op.getValue().getType());
  if (!qType.hasStaticShape() || !vType.hasStaticShape() ||
      !qType.getElementType().isF32() || !vType.getElementType().isF32())
    return op.emitOpError("attn-tile's gradient of attention needs static "
                          "shapes and f32 (for now)");
  ScheduleAttr schedule = op.getScheduleAttr();
  if (op.getMask() && !schedule)
    return op.emitOpError("has a mask but no schedule; run "
                          "attn-schedule-blocks first");
  const int64_t batch = qType.getDimSize(0), heads = qType.getDimSize(1),
                n = qType.getDimSize(2), hd = qType.getDimSize(3),
                dv = vType.getDimSize(3);
  const int64_t bq = schedule ? schedule.getBlockQ() : defaultBQ;
  const int64_t bk = schedule ? schedule.getBlockK() : defaultBK;
  const int64_t queryTiles = llvm::divideCeil(n, bq),
                keyTiles = llvm::divideCeil(n, bk);
  const double scale = op.getEffectiveScale();
  MaskPattern pattern =
      op.getMask() ? getMaskPattern(op.getMask()) : MaskPattern();

  Value q = e.toBuffer(op.getQuery()), k = e.toBuffer(op.getKey()),
        v = e.toBuffer(op.getValue()), out = e.toBuffer(op.getOutput()),
        dOut = e.toBuffer(op.getOutputGrad());
  auto alloc = [&](ArrayRef<int64_t> shape) -> Value {
    Value buffer = memref::AllocOp::create(
        b, loc, MemRefType::get(shape, b.getF32Type()),
        b.getI64IntegerAttr(64));
    e.fill(buffer, 0.0);
    return buffer;
  };
  Value dq = alloc(qType.getShape()), dk = alloc(qType.getShape()),
        dvBuf = alloc(vType.getShape());
  Value lse = alloc({batch, heads, n}), delta = alloc({batch, heads, n});

  // The schedule's lists, and their transposes for the key-major nest.
  struct List {
    Value offsets, items;
    bool partial;
  };
  SmallVector<List> byQuery, byKey;
  if (schedule) {
    auto addList = [&](DenseI32ArrayAttr offsets, DenseI32ArrayAttr blocks,
                       bool partial, StringRef name) {
      if (blocks.empty())
        return;
      byQuery.push_back(
          {globals.table(b, loc, ("__attn_grad_" + name + "_offsets").str(),
                         offsets.asArrayRef()),
           globals.table(b, loc, ("__attn_grad_" + name + "_blocks").str(),
                         blocks.asArrayRef()),
           partial});
      auto [tOffsets, tTiles] = transposeScheduleList(
          offsets.asArrayRef(), blocks.asArrayRef(), keyTiles);
      byKey.push_back(
          {globals.table(b, loc, ("__attn_grad_" + name + "_t_offsets").str(),
                         tOffsets),
           globals.table(b, loc, ("__attn_grad_" + name + "_t_tiles").str(),
                         tTiles),
           partial});
    };
    addList(schedule.getFullOffsets(), schedule.getFullBlocks(), false,
            "full");
    addList(schedule.getPartialOffsets(), schedule.getPartialBlocks(), true,
            "partial");
  }

  auto forRange = [&](Value lo, Value hi, function_ref<void(Value)> body) {
    auto loop = scf::ForOp::create(b, loc, lo, hi, e.idx(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    body(loop.getInductionVar());
  };
  auto onlyIf = [&](Value condition, function_ref<void()> body) {
    auto ifOp = scf::IfOp::create(b, loc, condition, /*withElse=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    body();
  };
  auto forList = [&](const List &list, Value index,
                     function_ref<void(Value)> body) {
    forRange(e.load(list.offsets, index),
             e.load(list.offsets, e.add(index, e.idx(1))),
             [&](Value t) { body(e.load(list.items, t)); });
  };
  auto at = [&](Value buffer, Value bIdx, Value hIdx, Value row, Value col) {
    return memref::LoadOp::create(b, loc, buffer,
                                  ValueRange{bIdx, hIdx, row, col})
        .getResult();
  };
  // sum_c x[b, h, i, c] * y[b, h, j, c]
  auto dot = [&](Value x, Value i, Value y, Value j, int64_t len, Value bIdx,
                 Value hIdx) -> Value {
    auto loop = scf::ForOp::create(
        b, loc, e.idx(0), e.idx(len), e.idx(1), ValueRange{e.f32(0.0)},
        [&](OpBuilder &nb, Location l, Value c, ValueRange acc) {
          Value xv =
              memref::LoadOp::create(nb, l, x, ValueRange{bIdx, hIdx, i, c});
          Value yv =
              memref::LoadOp::create(nb, l, y, ValueRange{bIdx, hIdx, j, c});
          Value sum = arith::AddFOp::create(
              nb, l, acc[0], arith::MulFOp::create(nb, l, xv, yv));
          scf::YieldOp::create(nb, l, sum);
        });
    return loop.getResult(0);
  };
  // buffer[b, h, row, :] += factor * other[b, h, otherRow, :]
  auto axpy = [&](Value buffer, Value row, Value factor, Value other,
                  Value otherRow, int64_t len, Value bIdx, Value hIdx) {
    forRange(e.idx(0), e.idx(len), [&](Value c) {
      Value sum = arith::AddFOp::create(
          b, loc, at(buffer, bIdx, hIdx, row, c),
          arith::MulFOp::create(b, loc, factor,
                                at(other, bIdx, hIdx, otherRow, c)));
      memref::StoreOp::create(b, loc, sum, buffer,
                              ValueRange{bIdx, hIdx, row, c});
    });
  };
  auto kept = [&](Value bIdx, Value i, Value j) -> Value {
    PredicateBuilder pb(b, loc, bIdx, e.idx(n), n);
    return pattern.buildPredicate(pb, i, j);
  };
  auto score = [&](Value bIdx, Value hIdx, Value i, Value j) -> Value {
    return arith::MulFOp::create(b, loc, dot(q, i, k, j, hd, bIdx, hIdx),
                                 e.f32(scale));
  };
  // exp(s - lse_i) (0 for a row that keeps nothing: lse = +inf).
  auto weight = [&](Value s, Value rowLse) -> Value {
    return math::ExpOp::create(b, loc,
                               arith::SubFOp::create(b, loc, s, rowLse));
  };
  bool failedPredicate = false;
  // For every kept key j of row i of query tile qTile.
  auto forKeptKeys = [&](Value bIdx, Value qTile, Value i, Value limit,
                         function_ref<void(Value)> body) {
    if (!schedule) {
      forRange(e.idx(0), limit, body);
      return;
    }
    // The forward's loop over a list of key tiles, clipped at the limit.
    for (const List &list : byQuery)
      emitKeyTileLoop(e, list.offsets, list.items, qTile, bk, limit,
                      [&](Value k0, Value kn) {
                        forRange(e.idx(0), kn, [&](Value c) {
                          Value j = e.add(k0, c);
                          if (!list.partial)
                            return body(j);
                          Value keep = kept(bIdx, i, j);
                          if (!keep) {
                            failedPredicate = true;
                            return;
                          }
                          onlyIf(keep, [&] { body(j); });
                        });
                      });
  };

  // A parallel nest over (batch, head, tile).
  auto nest = [&](int64_t tiles, function_ref<void(Value, Value, Value)> body) {
    auto forall = scf::ForallOp::create(
        b, loc,
        SmallVector<OpFoldResult>{b.getIndexAttr(batch), b.getIndexAttr(heads),
                                  b.getIndexAttr(tiles)},
        ValueRange{}, std::nullopt);
    OpBuilder::InsertionGuard guard(b);
    atBodyEnd(b, forall);
    body(forall.getInductionVar(0), forall.getInductionVar(1),
         forall.getInductionVar(2));
  };

  // Nest 1: statistics, D and dQ, a query tile per instance.
  nest(queryTiles, [&](Value bIdx, Value hIdx, Value qTile) {
    Value limit = keyLimitFor(e, pattern, bIdx, e.idx(n));
    Value q0 = e.mul(qTile, bq);
    Value qn = e.min(e.idx(bq), e.sub(e.idx(n), q0));
    Value stats =
        memref::AllocaOp::create(b, loc, MemRefType::get({2}, b.getF32Type()));
    Value c0 = e.idx(0), c1 = e.idx(1);
    forRange(c0, qn, [&](Value r) {
      Value i = e.add(q0, r);
      memref::StoreOp::create(
          b, loc, e.f32(-std::numeric_limits<double>::infinity()), stats, c0);
      memref::StoreOp::create(b, loc, e.f32(0.0), stats, c1);
      forKeptKeys(bIdx, qTile, i, limit, [&](Value j) {
        Value s = score(bIdx, hIdx, i, j);
        Value m = memref::LoadOp::create(b, loc, stats, c0);
        Value l = memref::LoadOp::create(b, loc, stats, c1);
        Value mNew = arith::MaximumFOp::create(b, loc, m, s);
        Value lNew = arith::AddFOp::create(
            b, loc,
            arith::MulFOp::create(
                b, loc, l,
                math::ExpOp::create(b, loc,
                                    arith::SubFOp::create(b, loc, m, mNew))),
            weight(s, mNew));
        memref::StoreOp::create(b, loc, mNew, stats, c0);
        memref::StoreOp::create(b, loc, lNew, stats, c1);
      });
      Value m = memref::LoadOp::create(b, loc, stats, c0);
      Value l = memref::LoadOp::create(b, loc, stats, c1);
      Value any = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, l,
                                        e.f32(0.0));
      Value rowLse = arith::SelectOp::create(
          b, loc, any,
          arith::AddFOp::create(b, loc, m, math::LogOp::create(b, loc, l)),
          e.f32(std::numeric_limits<double>::infinity()));
      memref::StoreOp::create(b, loc, rowLse, lse, ValueRange{bIdx, hIdx, i});
      Value rowDelta = dot(dOut, i, out, i, dv, bIdx, hIdx);
      memref::StoreOp::create(b, loc, rowDelta, delta,
                              ValueRange{bIdx, hIdx, i});
      forKeptKeys(bIdx, qTile, i, limit, [&](Value j) {
        Value p = weight(score(bIdx, hIdx, i, j), rowLse);
        Value dp = dot(dOut, i, v, j, dv, bIdx, hIdx);
        Value ds = arith::MulFOp::create(
            b, loc,
            arith::MulFOp::create(b, loc, p,
                                  arith::SubFOp::create(b, loc, dp, rowDelta)),
            e.f32(scale));
        axpy(dq, i, ds, k, j, hd, bIdx, hIdx);
      });
    });
  });

  // Nest 2: dK and dV, a key tile per instance.
  nest(keyTiles, [&](Value bIdx, Value hIdx, Value kTile) {
    Value limit = keyLimitFor(e, pattern, bIdx, e.idx(n));
    Value k0 = e.mul(kTile, bk);
    Value kn = arith::MaxSIOp::create(
        b, loc, e.min(e.idx(bk), e.sub(limit, k0)), e.idx(0));
    forRange(e.idx(0), kn, [&](Value c) {
      Value j = e.add(k0, c);
      auto visitRows = [&](Value qt, bool partial) {
        Value i0 = e.mul(qt, bq);
        Value rows = e.min(e.idx(bq), e.sub(e.idx(n), i0));
        forRange(e.idx(0), rows, [&](Value r) {
          Value i = e.add(i0, r);
          auto contribute = [&] {
            Value rowLse = memref::LoadOp::create(b, loc, lse,
                                                  ValueRange{bIdx, hIdx, i});
            Value rowDelta = memref::LoadOp::create(
                b, loc, delta, ValueRange{bIdx, hIdx, i});
            Value p = weight(score(bIdx, hIdx, i, j), rowLse);
            axpy(dvBuf, j, p, dOut, i, dv, bIdx, hIdx);
            Value dp = dot(dOut, i, v, j, dv, bIdx, hIdx);
            Value ds = arith::MulFOp::create(
                b, loc,
                arith::MulFOp::create(
                    b, loc, p, arith::SubFOp::create(b, loc, dp, rowDelta)),
                e.f32(scale));
            axpy(dk, j, ds, q, i, hd, bIdx, hIdx);
          };
          if (!partial)
            return contribute();
          Value keep = kept(bIdx, i, j);
          if (!keep) {
            failedPredicate = true;
            return;
          }
          onlyIf(keep, contribute);
        });
      };
      if (!schedule) {
        forRange(e.idx(0), e.idx(queryTiles),
                 [&](Value qt) { visitRows(qt, false); });
        return;
      }
      for (const List &list : byKey)
        forList(list, kTile, [&](Value qt) { visitRows(qt, list.partial); });
    });
  });
  if (failedPredicate)
    return op.emitOpError("its mask could not build its predicate");

  op.getQueryGrad().replaceAllUsesWith(
      e.toTensor(dq, op.getQueryGrad().getType()));
  op.getKeyGrad().replaceAllUsesWith(e.toTensor(dk, op.getKeyGrad().getType()));
  op.getValueGrad().replaceAllUsesWith(
      e.toTensor(dvBuf, op.getValueGrad().getType()));
  op.erase();
  return success();
}

//===----------------------------------------------------------------------===//
// attn.linear
//===----------------------------------------------------------------------===//

/// Features of the state one instance of the GPU form's reduction owns:
/// the rows of an mma.sync accumulator.
constexpr int64_t kFeatureSlice = 16;
/// Blocks the GPU form's reduction aims at (about four per SM of an H100,
/// which has 132), reached by splitting the keys where batch x heads alone
/// fall short: a warp of the per-lane (f32) form walks its keys slowly.
constexpr int64_t kReductionBlocks = 512;
/// Keys per split at least: two chunks of the tensor-core reduction.
constexpr int64_t kMinKeysPerSplit = 256;

/// The GPU's form of non-causal linear attention (rows-per-instance > 0):
/// two loop nests whose inner instances are independent, so that they map
/// to blocks and warps, with the state [B, H, F, Dv] and the normaliser
/// [B, H, F] in buffers between them:
///   state, norm = 0
///   forall (b, h, split of the keys) { forall slice of kFeatureSlice
///     features { linear_state atomic(the split's keys, the slice) } }
///   forall (b, h, query tile) { forall rows-per-instance rows {
///     linear_output(the rows, state[b, h], norm[b, h]) } }
/// An elementwise feature map's slice of features is that of the key's
/// columns; a projection's is its rows.
///
/// Causal linear attention runs its chunks in parallel too, from the state
/// before each chunk -- a prefix over the chunks, [B, H, C, F, Dv] (bf16 or
/// f16 for such inputs, else f32) and [B, H, C, F] (f32), written whole by
/// the first nest:
///   forall (b, h) { forall slice of kFeatureSlice features {
///     linear_prefix(the keys' slice) every chunk into prefix[b, h, :, slice] } }
///   forall (b, h, chunk c) { forall rows-per-instance rows {
///     linear_output causal(the rows, the chunk's keys up to their last,
///                          diagonal: the rows' offset in the chunk,
///                          prefix[b, h, c]) } }
/// The chunk's keys are clipped at the key limit (key lengths); a group of
/// rows starting `skipped` rows into its chunk weighs keys j <= i + skipped.
void tileLinearForGPU(LinearOp op, Emitter &e, Value q, Value k, Value v,
                      Value out, Value projection, int64_t features,
                      int64_t blockQ, int64_t chunk, int64_t rows) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  const int64_t batch = dimOf(q, 0), heads = dimOf(q, 1), dv = dimOf(v, 3);
  Type f32 = b.getF32Type();
  auto align = b.getI64IntegerAttr(64);
  auto alloc = [&](ArrayRef<int64_t> shape, Type elem) {
    return memref::AllocOp::create(b, loc, MemRefType::get(shape, elem),
                                   ValueRange{}, align);
  };
  auto forall = [&](ArrayRef<OpFoldResult> bounds) {
    auto loop =
        scf::ForallOp::create(b, loc, bounds, ValueRange{}, std::nullopt);
    atBodyEnd(b, loop);
    return loop;
  };
  // An elementwise feature map's slice of the features is that of the
  // key's columns; a projection's is its rows.
  const int64_t slice =
      features % kFeatureSlice == 0 ? kFeatureSlice : features;
  auto keySlice = [&](Value bIdx, Value hIdx, Value k0, OpFoldResult kn,
                      Value f0) -> std::pair<Value, Value> {
    if (!projection)
      return {e.view2D(k, {bIdx, hIdx}, k0, kn, f0, b.getIndexAttr(slice), 2,
                       3),
              Value()};
    return {e.view2D(k, {bIdx, hIdx}, k0, kn, b.getIndexAttr(0),
                     b.getIndexAttr(dimOf(k, 3)), 2, 3),
            e.view2D(projection, {}, f0, b.getIndexAttr(slice),
                     b.getIndexAttr(0), b.getIndexAttr(dimOf(projection, 1)), 0,
                     1)};
  };
  auto rowsOf = [&](Value buffer, Value bIdx, Value hIdx, Value r0,
                    OpFoldResult count) {
    return e.view2D(buffer, {bIdx, hIdx}, r0, count, b.getIndexAttr(0),
                    b.getIndexAttr(dimOf(buffer, 3)), 2, 3);
  };
  auto index = [&](int64_t i) -> OpFoldResult { return b.getIndexAttr(i); };

  if (op.getCausal()) {
    const int64_t n = dimOf(q, 2), chunks = llvm::divideCeil(n, chunk);
    // The states as the inputs' type where it is narrower: the tensor-core
    // output rounds them to it anyway, and they are written and read once.
    Type inputs = cast<MemRefType>(q.getType()).getElementType();
    Value prefix = alloc({batch, heads, chunks, features, dv},
                         inputs.isF16() || inputs.isBF16() ? inputs : f32);
    Value prefixNorm = alloc({batch, heads, chunks, features}, f32);
    auto prefixes = forall({index(batch), index(heads)});
    Value bIdx = prefixes.getInductionVar(0),
          hIdx = prefixes.getInductionVar(1);
    auto slices = forall({index(features / slice)});
    // Inside the inner loops: the grid's part of the body may not read
    // memory.
    auto keyLimit = [&](Value bIdx) -> OpFoldResult {
      if (!op.getKeyLengths())
        return index(n);
      return keyLimitFromLengths(e, op.getKeyLengths(), bIdx, e.idx(n));
    };
    Value f0 = e.mul(slices.getInductionVar(0), slice);
    OpFoldResult keys0 = keyLimit(bIdx);
    auto [keys, sliceProjection] = keySlice(bIdx, hIdx, e.idx(0), keys0, f0);
    LinearPrefixOp::create(b, loc, keys, rowsOf(v, bIdx, hIdx, e.idx(0), keys0),
                           op.getFeatureMap(), sliceProjection,
                           e.view(prefix, {bIdx, hIdx},
                                  {index(0), f0, index(0)},
                                  {index(chunks), index(slice), index(dv)}),
                           e.view(prefixNorm, {bIdx, hIdx}, {index(0), f0},
                                  {index(chunks), index(slice)}),
                           b.getI64IntegerAttr(chunk));
    b.setInsertionPointAfter(prefixes);

    auto tiles = forall({index(batch), index(heads), index(chunks)});
    bIdx = tiles.getInductionVar(0);
    hIdx = tiles.getInductionVar(1);
    Value c = tiles.getInductionVar(2);
    Value c0 = e.mul(c, chunk);
    auto groups = forall({index(chunk / rows)});
    Value skipped = e.mul(groups.getInductionVar(0), rows);
    Value q0 = e.add(c0, skipped);
    // Clipped at the end of the sequence; a group may lie past it. Its keys
    // are the chunk's up to its last row, clipped at the key limit (at most
    // the chunk: the min bounds them for the lowerings).
    Value qn = arith::MaxSIOp::create(
        b, loc, e.min(e.idx(rows), e.sub(e.idx(n), q0)), e.idx(0));
    Value kn = e.min(e.idx(chunk), e.add(skipped, qn));
    if (op.getKeyLengths())
      kn = arith::MaxSIOp::create(
          b, loc,
          e.min(kn, e.sub(getValueOrCreateConstantIndexOp(b, loc,
                                                          keyLimit(bIdx)),
                          c0)),
          e.idx(0));
    LinearOutputOp::create(
        b, loc, rowsOf(q, bIdx, hIdx, q0, qn), rowsOf(k, bIdx, hIdx, c0, kn),
        rowsOf(v, bIdx, hIdx, c0, kn), skipped, op.getFeatureMap(), projection,
        e.view(prefix, {bIdx, hIdx, c}, {index(0), index(0)},
               {index(features), index(dv)}),
        e.view(prefixNorm, {bIdx, hIdx, c}, {index(0)}, {index(features)}),
        rowsOf(out, bIdx, hIdx, q0, qn));
    b.setInsertionPointAfter(tiles);
    return;
  }

  Value state = alloc({batch, heads, features, dv}, f32);
  Value norm = alloc({batch, heads, features}, f32);
  e.fill(state, 0.0);
  e.fill(norm, 0.0);
  auto stateOf = [&](Value bIdx, Value hIdx) {
    return e.view2D(state, {bIdx, hIdx}, e.idx(0), index(features), index(0),
                    index(dv), 2, 3);
  };
  auto normOf = [&](Value bIdx, Value hIdx, Value f0, int64_t count) {
    return e.view(norm, {bIdx, hIdx}, {f0}, {index(count)});
  };

  // The reduction, a split of the keys and a slice of the features per
  // instance.
  const int64_t nk = dimOf(k, 2);
  const int64_t splits = std::max<int64_t>(
      1, std::min<int64_t>(llvm::divideCeil(kReductionBlocks, batch * heads),
                           nk / kMinKeysPerSplit));
  const int64_t span = llvm::alignTo(llvm::divideCeil(nk, splits), 64);
  auto reduce = forall({index(batch), index(heads), index(splits)});
  Value bIdx = reduce.getInductionVar(0), hIdx = reduce.getInductionVar(1);
  Value k0 = e.mul(reduce.getInductionVar(2), span);
  auto slices = forall({index(features / slice)});
  // Inside the inner loop: the grid's part of the body may not read memory.
  Value keyLimit = e.idx(nk);
  if (op.getKeyLengths())
    keyLimit = keyLimitFromLengths(e, op.getKeyLengths(), bIdx, keyLimit);
  Value kn = arith::MaxSIOp::create(
      b, loc, e.min(e.idx(span), e.sub(keyLimit, k0)), e.idx(0));
  Value f0 = e.mul(slices.getInductionVar(0), slice);
  auto [keys, sliceProjection] = keySlice(bIdx, hIdx, k0, kn, f0);
  auto reduction = LinearStateOp::create(
      b, loc, keys, rowsOf(v, bIdx, hIdx, k0, kn), op.getFeatureMap(),
      sliceProjection,
      e.view2D(state, {bIdx, hIdx}, f0, index(slice), index(0), index(dv), 2,
               3),
      normOf(bIdx, hIdx, f0, slice));
  reduction.setAtomic(true);
  b.setInsertionPointAfter(reduce);

  // The output, rows-per-instance query rows per instance.
  const int64_t nq = dimOf(q, 2);
  auto tiles = forall(
      {index(batch), index(heads), index(llvm::divideCeil(nq, blockQ))});
  bIdx = tiles.getInductionVar(0);
  hIdx = tiles.getInductionVar(1);
  Value q0 = e.mul(tiles.getInductionVar(2), blockQ);
  auto groups = forall({index(blockQ / rows)});
  q0 = e.add(q0, e.mul(groups.getInductionVar(0), rows));
  // Clipped at the end of the sequence; a group may lie past it.
  Value qn = arith::MaxSIOp::create(
      b, loc, e.min(e.idx(rows), e.sub(e.idx(nq), q0)), e.idx(0));
  LinearOutputOp::create(b, loc, rowsOf(q, bIdx, hIdx, q0, qn), Value(),
                         Value(), Value(), op.getFeatureMap(), projection,
                         stateOf(bIdx, hIdx),
                         normOf(bIdx, hIdx, e.idx(0), features),
                         rowsOf(out, bIdx, hIdx, q0, qn));
  b.setInsertionPointAfter(tiles);
}

LogicalResult tileLinear(LinearOp op, Globals &globals, int64_t blockQ,
                         int64_t chunk, int64_t rowsPerInstance) {
  OpBuilder b(op);
  Emitter e{b, op.getLoc()};
  Location loc = op.getLoc();
  auto qType = cast<RankedTensorType>(op.getQuery().getType());
  if (!qType.hasStaticShape() ||
      !cast<ShapedType>(op.getKey().getType()).hasStaticShape() ||
      !cast<ShapedType>(op.getValue().getType()).hasStaticShape())
    return op.emitOpError("attn-tile needs static shapes for linear attention");
  auto featureMap = op.getFeatureMap().getDefiningOp<FeatureMap>();
  const int64_t batch = qType.getDimSize(0), heads = qType.getDimSize(1);
  const int64_t headDim = qType.getDimSize(3);
  const int64_t dv = dimOf(op.getValue(), 3);
  const int64_t features = featureMap.getFeatureDim(headDim);

  Value projection;
  if (featureMap.hasProjection()) {
    std::vector<double> p = featureMap.getProjection(headDim);
    SmallVector<float> data(p.begin(), p.end());
    Type elem = qType.getElementType();
    auto type = RankedTensorType::get({features, headDim}, b.getF32Type());
    DenseElementsAttr attr =
        DenseElementsAttr::get(type, ArrayRef<float>(data));
    if (!elem.isF32())
      return op.emitOpError("feature-map projections need f32 inputs on this "
                            "path");
    projection = globals.get(b, loc, "__attn_projection", attr);
  }

  Value q = e.toBuffer(op.getQuery()), k = e.toBuffer(op.getKey()),
        v = e.toBuffer(op.getValue());
  Value nq = e.idx(qType.getDimSize(2)), nk = e.idx(dimOf(k, 2));
  auto resultType = cast<RankedTensorType>(op.getType());
  Value out = memref::AllocOp::create(
      b, loc,
      MemRefType::get(resultType.getShape(), resultType.getElementType()),
      ValueRange{}, b.getI64IntegerAttr(64));

  if (rowsPerInstance > 0) {
    // The causal form's query tiles are its chunks.
    const int64_t tile = op.getCausal() ? chunk : blockQ;
    const int64_t rows = std::min(rowsPerInstance, tile);
    if (tile % rows != 0)
      return op.emitOpError("attn-tile's rows-per-instance (")
             << rows << ") must divide the query tile (" << tile << ")";
    tileLinearForGPU(op, e, q, k, v, out, projection, features, blockQ, chunk,
                     rows);
    op.replaceAllUsesWith(e.toTensor(out, resultType));
    op.erase();
    return success();
  }

  auto forall = scf::ForallOp::create(
      b, loc,
      SmallVector<OpFoldResult>{b.getIndexAttr(batch), b.getIndexAttr(heads)},
      ValueRange{}, std::nullopt);
  atBodyEnd(b, forall);
  Value bIdx = forall.getInductionVar(0), hIdx = forall.getInductionVar(1);
  Type f32 = b.getF32Type();
  Value state =
      memref::AllocaOp::create(b, loc, MemRefType::get({features, dv}, f32));
  Value norm =
      memref::AllocaOp::create(b, loc, MemRefType::get({features}, f32));
  e.fill(state, 0.0);
  e.fill(norm, 0.0);
  Value keyLimit = nk;
  if (op.getKeyLengths())
    keyLimit = keyLimitFromLengths(e, op.getKeyLengths(), bIdx, nk);

  auto view = [&](Value buffer, Value r0, Value rows) {
    return e.view2D(buffer, {bIdx, hIdx}, r0, rows, b.getIndexAttr(0),
                    b.getIndexAttr(dimOf(buffer, 3)), 2, 3);
  };
  auto addState = [&](Value k0, Value kn) {
    LinearStateOp::create(b, loc, view(k, k0, kn), view(v, k0, kn),
                          op.getFeatureMap(), projection, state, norm);
  };
  auto chunkLoop = [&](Value count, auto body) {
    auto loop = scf::ForOp::create(b, loc, e.idx(0), count, e.idx(chunk));
    atBodyEnd(b, loop);
    body(loop.getInductionVar());
    b.setInsertionPointAfter(loop);
  };

  if (!op.getCausal()) {
    chunkLoop(keyLimit, [&](Value k0) {
      addState(k0, e.min(e.idx(chunk), e.sub(keyLimit, k0)));
    });
    chunkLoop(nq, [&](Value q0) {
      Value qn = e.min(e.idx(chunk), e.sub(nq, q0));
      LinearOutputOp::create(b, loc, view(q, q0, qn), Value(), Value(),
                             Value(), op.getFeatureMap(), projection, state, norm,
                             view(out, q0, qn));
    });
  } else {
    // Chunkwise: the chunk's own keys causally, then add them to the state
    // (the keys clipped at the key limit).
    chunkLoop(nq, [&](Value c0) {
      Value cn = e.min(e.idx(chunk), e.sub(nq, c0));
      Value kn = arith::MaxSIOp::create(b, loc, e.min(cn, e.sub(keyLimit, c0)),
                                        e.idx(0));
      LinearOutputOp::create(b, loc, view(q, c0, cn), view(k, c0, kn),
                             view(v, c0, kn), e.idx(0), op.getFeatureMap(),
                             projection, state, norm, view(out, c0, cn));
      addState(c0, kn);
    });
  }
  b.setInsertionPointAfter(forall);
  op.replaceAllUsesWith(e.toTensor(out, resultType));
  op.erase();
  return success();
}

//===----------------------------------------------------------------------===//
// attn.ssm
//===----------------------------------------------------------------------===//

/// The discretised coefficients of an S4D layer, [H, S] each:
///   Abar = exp(dt A), W = C (Abar - 1) / A B, for C = c_real + i c_imag
/// (c_real, c_imag [H, S], or one direction of [2, H, S]); for a chunked
/// scan also Abar^T = exp(T dt A), which carries a state over a chunk of T
/// steps.
struct SsmCoefficients {
  Value abarRe, abarIm, wRe, wIm;
  Value chunkRe = {}, chunkIm = {};
};

SsmCoefficients discretize(Emitter &e, SsmOp op, std::optional<int64_t> dir,
                           int64_t chunk) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  auto aType = cast<RankedTensorType>(op.getLogAReal().getType());
  const int64_t channels = aType.getDimSize(0), state = aType.getDimSize(1);
  Type elem = aType.getElementType();
  auto slice = [&](Value c) -> Value {
    if (!dir)
      return c;
    SmallVector<OpFoldResult> offsets{b.getIndexAttr(*dir), b.getIndexAttr(0),
                                      b.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes{b.getIndexAttr(1), b.getIndexAttr(channels),
                                    b.getIndexAttr(state)};
    SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(b, loc, aType, c, offsets, sizes,
                                          strides);
  };
  Value cRe = slice(op.getCReal()), cIm = slice(op.getCImag());
  MLIRContext *ctx = b.getContext();
  AffineMap id = AffineMap::getMultiDimIdentityMap(2, ctx);
  AffineMap perChannel = AffineMap::get(2, 0, {getAffineDimExpr(0, ctx)}, ctx);
  Value init = tensor::EmptyOp::create(b, loc, aType.getShape(), elem);
  SmallVector<utils::IteratorType> par(2, utils::IteratorType::parallel);
  const unsigned results = chunk ? 6 : 4;
  SmallVector<Type> types(results, aType);
  SmallVector<Value> inits(results, init);
  SmallVector<AffineMap> maps(6, id);
  maps.push_back(perChannel);
  maps.append(results, id);
  auto generic = linalg::GenericOp::create(
      b, loc, types,
      ValueRange{op.getLogAReal(), op.getAImag(), op.getBReal(), op.getBImag(),
                 cRe, cIm, op.getLogDt()},
      inits, maps, par, [&](OpBuilder &nb, Location l, ValueRange args) {
        auto mulf = [&](Value x, Value y) {
          return arith::MulFOp::create(nb, l, x, y).getResult();
        };
        auto addf = [&](Value x, Value y) {
          return arith::AddFOp::create(nb, l, x, y).getResult();
        };
        auto subf = [&](Value x, Value y) {
          return arith::SubFOp::create(nb, l, x, y).getResult();
        };
        Value one =
            arith::ConstantOp::create(nb, l, nb.getFloatAttr(elem, 1.0));
        // A = -exp(log_a_real) + i a_imag, dt = exp(log_dt)
        Value aRe =
            arith::NegFOp::create(nb, l, math::ExpOp::create(nb, l, args[0]));
        Value aIm = args[1];
        Value dt = math::ExpOp::create(nb, l, args[6]);
        // Abar = exp(dt aRe) (cos(dt aIm) + i sin(dt aIm))
        Value mag = math::ExpOp::create(nb, l, mulf(dt, aRe));
        Value phase = mulf(dt, aIm);
        Value abRe = mulf(mag, math::CosOp::create(nb, l, phase));
        Value abIm = mulf(mag, math::SinOp::create(nb, l, phase));
        // (Abar - 1) / A
        Value nRe = subf(abRe, one), nIm = abIm;
        Value den = addf(mulf(aRe, aRe), mulf(aIm, aIm));
        Value qRe = arith::DivFOp::create(
            nb, l, addf(mulf(nRe, aRe), mulf(nIm, aIm)), den);
        Value qIm = arith::DivFOp::create(
            nb, l, subf(mulf(nIm, aRe), mulf(nRe, aIm)), den);
        // Bbar = q B; W = C Bbar
        Value bbRe = subf(mulf(qRe, args[2]), mulf(qIm, args[3]));
        Value bbIm = addf(mulf(qRe, args[3]), mulf(qIm, args[2]));
        Value wRe = subf(mulf(args[4], bbRe), mulf(args[5], bbIm));
        Value wIm = addf(mulf(args[4], bbIm), mulf(args[5], bbRe));
        SmallVector<Value> yielded{abRe, abIm, wRe, wIm};
        if (chunk) {
          // Abar^T = exp(T dt aRe) (cos(T dt aIm) + i sin(T dt aIm)): exact,
          // where T multiplications of Abar would round T times.
          Value steps = arith::ConstantOp::create(
              nb, l, nb.getFloatAttr(elem, static_cast<double>(chunk)));
          Value magT = math::ExpOp::create(nb, l, mulf(steps, mulf(dt, aRe)));
          Value phaseT = mulf(steps, phase);
          yielded.push_back(mulf(magT, math::CosOp::create(nb, l, phaseT)));
          yielded.push_back(mulf(magT, math::SinOp::create(nb, l, phaseT)));
        }
        linalg::YieldOp::create(nb, l, yielded);
      });
  SsmCoefficients c{generic.getResult(0), generic.getResult(1),
                    generic.getResult(2), generic.getResult(3)};
  if (chunk) {
    c.chunkRe = generic.getResult(4);
    c.chunkIm = generic.getResult(5);
  }
  return c;
}

LogicalResult tileSsm(SsmOp op, int64_t channelsPerScan, int64_t chunkOption,
                      bool gpuForm) {
  OpBuilder b(op);
  Emitter e{b, op.getLoc()};
  Location loc = op.getLoc();
  auto xType = cast<RankedTensorType>(op.getInput().getType());
  if (!xType.hasStaticShape())
    return op.emitOpError("attn-tile needs static shapes for the ssm");
  if (!xType.getElementType().isF32() ||
      !cast<ShapedType>(op.getLogAReal().getType()).getElementType().isF32())
    return op.emitOpError("the ssm scan computes in f32; got ")
           << xType.getElementType();
  const int64_t batch = xType.getDimSize(0), length = xType.getDimSize(1);
  if (channelsPerScan < 0)
    return op.emitOpError("ssm-channels must be positive, or 0 for a GPU "
                          "warp's worth; got ")
           << channelsPerScan;
  if (chunkOption < -1)
    return op.emitOpError("ssm-chunk must be positive, 0 (no chunks) or -1 "
                          "(chosen for the GPU); got ")
           << chunkOption;
  const int64_t channels = xType.getDimSize(2);
  const int64_t modes =
      cast<ShapedType>(op.getLogAReal().getType()).getDimSize(1);
  // 0: a group is what one warp of the GPU scan takes at once.
  const int64_t group = std::min(
      channelsPerScan ? channelsPerScan : ssmChannelsPerWarp(modes), channels);
  const int64_t groups = llvm::divideCeil(channels, group);
  int64_t chunk = chunkOption;
  if (chunk == -1)
    chunk = gpuForm ? ssmChunkLength(batch * groups, length) : 0;
  // A single chunk is the sequence: no states to carry.
  if (chunk >= length)
    chunk = 0;
  const int64_t chunks = chunk ? llvm::divideCeil(length, chunk) : 1;

  const bool bidirectional = op.getBidirectional();
  SmallVector<SsmCoefficients> dirs{discretize(
      e, op, bidirectional ? std::optional<int64_t>(0) : std::nullopt, chunk)};
  if (bidirectional)
    dirs.push_back(discretize(e, op, 1, chunk));
  for (SsmCoefficients &c : dirs) {
    for (Value *v :
         {&c.abarRe, &c.abarIm, &c.wRe, &c.wIm, &c.chunkRe, &c.chunkIm})
      if (*v)
        *v = e.toBuffer(*v);
  }

  Value x = e.toBuffer(op.getInput());
  auto alloc = [&](ArrayRef<int64_t> shape) -> Value {
    return memref::AllocOp::create(b, loc,
                                   MemRefType::get(shape, b.getF32Type()),
                                   ValueRange{}, b.getI64IntegerAttr(64));
  };
  Value out = alloc(xType.getShape());
  if (op.getLengths())
    e.fill(out, 0.0); // positions past a length stay zero

  // Instances: (batch entry, channel group), and with chunks the chunk.
  auto forall = [&](bool perChunk) {
    SmallVector<OpFoldResult> bounds{b.getIndexAttr(batch),
                                     b.getIndexAttr(groups)};
    if (perChunk)
      bounds.push_back(b.getIndexAttr(chunks));
    auto loop =
        scf::ForallOp::create(b, loc, bounds, ValueRange{}, std::nullopt);
    atBodyEnd(b, loop);
    return loop;
  };
  struct Instance {
    Value bIdx, c0, cn, row0, rows;
  };
  // Rows [k T, min((k + 1) T, len)) of the instance's chunk k (the whole
  // sequence without chunks), len the batch entry's length: none for
  // chunks wholly past it.
  auto instance = [&](scf::ForallOp loop, bool perChunk) {
    Instance in;
    in.bIdx = loop.getInductionVar(0);
    in.c0 = e.mul(loop.getInductionVar(1), group);
    in.cn = e.min(e.idx(group), e.sub(e.idx(channels), in.c0));
    Value len = e.idx(length);
    if (op.getLengths())
      len = keyLimitFromLengths(e, op.getLengths(), in.bIdx, len);
    if (!perChunk) {
      in.row0 = e.idx(0);
      in.rows = len;
      return in;
    }
    in.row0 = e.mul(loop.getInductionVar(2), chunk);
    in.rows = arith::MaxSIOp::create(
        b, loc, e.min(e.idx(chunk), e.sub(len, in.row0)), e.idx(0));
    return in;
  };
  auto seqView = [&](Value buffer, const Instance &in) {
    return e.view2D(buffer, {in.bIdx}, in.row0, in.rows, in.c0, in.cn, 1, 2);
  };
  auto coeffView = [&](Value buffer, const Instance &in) {
    return e.view2D(buffer, {}, in.c0, in.cn, b.getIndexAttr(0),
                    b.getIndexAttr(modes), 0, 1);
  };
  auto scan = [&](const Instance &in, const SsmCoefficients &c, bool reverse,
                  Value output, Value initRe, Value initIm, Value stateRe,
                  Value stateIm) {
    SsmScanOp::create(b, loc, seqView(x, in), coeffView(c.abarRe, in),
                      coeffView(c.abarIm, in), coeffView(c.wRe, in),
                      coeffView(c.wIm, in), initRe, initIm, output, stateRe,
                      stateIm, reverse, /*accumulate=*/reverse && output);
  };
  auto outView = [&](const Instance &in) { return seqView(out, in); };

  if (!chunk) {
    // One scan per direction over the whole sequence.
    scf::ForallOp loop = forall(false);
    Instance in = instance(loop, false);
    for (auto [d, c] : llvm::enumerate(dirs))
      scan(in, c, d == 1, outView(in), {}, {}, {}, {});
    b.setInsertionPointAfter(loop);
    op.replaceAllUsesWith(e.toTensor(out, xType));
    op.erase();
    return success();
  }

  // Chunked: every chunk's state from zero; the states carried over the
  // chunks, each replaced by the state its chunk is entered with; then
  // every chunk's output from that state. States [B, K, H, S] per
  // direction, a group's channels contiguous.
  SmallVector<std::pair<Value, Value>> states;
  for (size_t d = 0; d < dirs.size(); ++d)
    states.push_back({alloc({batch, chunks, channels, modes}),
                      alloc({batch, chunks, channels, modes})});
  auto stateView = [&](Value buffer, const Instance &in, Value k) {
    return e.view(buffer, {in.bIdx, k}, {in.c0, b.getIndexAttr(0)},
                  {in.cn, b.getIndexAttr(modes)});
  };
  {
    scf::ForallOp loop = forall(true);
    Instance in = instance(loop, true);
    Value k = loop.getInductionVar(2);
    for (auto [d, c] : llvm::enumerate(dirs))
      scan(in, c, d == 1, {}, {}, {}, stateView(states[d].first, in, k),
           stateView(states[d].second, in, k));
    b.setInsertionPointAfter(loop);
  }
  {
    scf::ForallOp loop = forall(false);
    Instance in = instance(loop, false);
    auto chunkStates = [&](Value buffer) {
      return e.view(buffer, {in.bIdx},
                    {b.getIndexAttr(0), in.c0, b.getIndexAttr(0)},
                    {b.getIndexAttr(chunks), in.cn, b.getIndexAttr(modes)});
    };
    for (auto [d, c] : llvm::enumerate(dirs))
      SsmCarryOp::create(b, loc, chunkStates(states[d].first),
                         chunkStates(states[d].second),
                         coeffView(c.chunkRe, in), coeffView(c.chunkIm, in),
                         /*reverse=*/d == 1);
    b.setInsertionPointAfter(loop);
  }
  {
    scf::ForallOp loop = forall(true);
    Instance in = instance(loop, true);
    Value k = loop.getInductionVar(2);
    for (auto [d, c] : llvm::enumerate(dirs))
      scan(in, c, d == 1, outView(in), stateView(states[d].first, in, k),
           stateView(states[d].second, in, k), {}, {});
    b.setInsertionPointAfter(loop);
  }
  op.replaceAllUsesWith(e.toTensor(out, xType));
  op.erase();
  return success();
}

struct TilePass : public mlir::attn::impl::TileBase<TilePass> {
  using TileBase::TileBase;

  // A module pass: kernels add constant tables and projections to the
  // module.
  void runOnOperation() override {
    ModuleOp module = getOperation();
    Globals globals(module);
    SmallVector<Operation *> kernels;
    module.walk([&](Operation *op) {
      if (isa<SdpaOp, SdpaGradOp, LinearOp, SsmOp>(op))
        kernels.push_back(op);
    });
    for (Operation *op : kernels) {
      LogicalResult r =
          TypeSwitch<Operation *, LogicalResult>(op)
              .Case([&](SdpaOp o) {
                return tileSdpa(o, globals, blockQ, blockK, rowsPerInstance,
                                scalarRowsPerInstance);
              })
              .Case([&](SdpaGradOp o) {
                return tileSdpaGrad(o, globals, blockQ, blockK,
                                    rowsPerInstance != 0);
              })
              .Case([&](LinearOp o) {
                return tileLinear(o, globals, blockQ, blockK, rowsPerInstance);
              })
              .Case([&](SsmOp o) {
                return tileSsm(o, channels, ssmChunk, rowsPerInstance != 0);
              });
      if (failed(r))
        return signalPassFailure();
    }
    if (rowsPerInstance != 0)
      markGPUMapping(module);
  }

  /// The GPU form's loops say what they become: the outer ones blocks (the
  /// last dimension blockIdx.x), those directly inside them warps. Mapped
  /// loops are not folded when they have a single iteration: a kernel of
  /// one block stays a kernel.
  static void markGPUMapping(ModuleOp module) {
    MLIRContext *ctx = module.getContext();
    auto dim = [](int64_t i) { return static_cast<gpu::MappingId>(i); };
    module.walk([&](scf::ForallOp outer) {
      if (outer->getParentOfType<scf::ForallOp>() || outer.getMapping())
        return;
      SmallVector<Attribute> blocks;
      for (int64_t d = outer.getRank() - 1; d >= 0; --d)
        blocks.push_back(gpu::GPUBlockMappingAttr::get(ctx, dim(d)));
      outer.setMappingAttr(ArrayAttr::get(ctx, blocks));
      for (Operation &op : outer.getBody()->without_terminator())
        if (auto inner = dyn_cast<scf::ForallOp>(op);
            inner && inner.getRank() == 1)
          inner.setMappingAttr(
              ArrayAttr::get(ctx, {gpu::GPUWarpMappingAttr::get(ctx, dim(0))}));
    });
  }
};

} // namespace

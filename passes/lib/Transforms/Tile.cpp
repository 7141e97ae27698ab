//===- Tile.cpp - attention kernels into loops over tiles -----------------===//
//
// attn.sdpa, attn.linear and attn.ssm become loops over tiles whose bodies
// are attn.tile.* ops on memrefs. The kernels' tensors cross to buffers with
// bufferization.to_buffer and back with bufferization.to_tensor, so the rest
// of the function bufferizes as usual.
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/OnlineSoftmax.h"
#include "attn/IR/Gradients.h"
#include "attn/IR/ScoreMod.h"
#include "attn/Pipelines/Pipelines.h"
#include "attn/Transforms/AttentionTiles.h"
#include "attn/Transforms/Passes.h"
#include "attn/Transforms/SsmScanLayout.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Utils/IndexingUtils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
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
    // The kept dimensions named, not inferred: where rows is 1 too, rank
    // reduction could keep a leading unit dimension instead.
    auto full = cast<MemRefType>(
        memref::SubViewOp::inferResultType(type, offsets, sizes, strides));
    auto [fullStrides, offset] = full.getStridesAndOffset();
    auto viewType = MemRefType::get(
        {full.getDimSize(rowDim), full.getDimSize(colDim)},
        full.getElementType(),
        StridedLayoutAttr::get(b.getContext(), offset,
                               {fullStrides[rowDim], fullStrides[colDim]}));
    return memref::SubViewOp::create(b, loc, viewType, buffer, offsets, sizes,
                                     strides);
  }

  /// buffer[lead..., rest...] of `restSizes`, the lead dimensions dropped.
  Value view(Value buffer, ValueRange lead, ArrayRef<OpFoldResult> rest,
             ArrayRef<OpFoldResult> restSizes) {
    SmallVector<OpFoldResult> offsets(getAsOpFoldResult(lead)),
        sizes(lead.size(), b.getIndexAttr(1));
    offsets.append(rest.begin(), rest.end());
    sizes.append(restSizes.begin(), restSizes.end());
    SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
    // The lead dimensions are the ones dropped, also where other sizes are
    // 1 too (which rank-reduction inference cannot tell apart).
    auto full = cast<MemRefType>(memref::SubViewOp::inferResultType(
        cast<MemRefType>(buffer.getType()), offsets, sizes, strides));
    auto [fullStrides, offset] = full.getStridesAndOffset();
    auto type = MemRefType::get(
        full.getShape().drop_front(lead.size()), full.getElementType(),
        StridedLayoutAttr::get(b.getContext(), offset,
                               ArrayRef(fullStrides).drop_front(lead.size())));
    return memref::SubViewOp::create(b, loc, type, buffer, offsets, sizes,
                                     strides);
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

  /// Whether a transpose keeps the last dimension last: a view of its input
  /// through it has contiguous rows, as the tile ops' loads need.
  static bool keepsRowsContiguous(linalg::TransposeOp transpose) {
    ArrayRef<int64_t> perm = transpose.getPermutation();
    return transpose.hasPureTensorSemantics() && !perm.empty() &&
           perm.back() == int64_t(perm.size()) - 1;
  }

  /// `tensor` as a buffer the kernel reads. A tensor a linalg.transpose
  /// makes that keeps the last dimension last (the heads' split, [B, N, H,
  /// D] to [B, H, N, D]) is the transpose's input seen transposed: a
  /// memref.transpose, a strided view whose rows are still contiguous, so
  /// the kernel reads the input where it lies and the transpose -- a pass
  /// over the whole operand -- goes when nothing else reads it.
  Value toBuffer(Value tensor) {
    if (auto transpose = tensor.getDefiningOp<linalg::TransposeOp>();
        transpose && keepsRowsContiguous(transpose))
      return memref::TransposeOp::create(
          b, loc, toBuffer(transpose.getInput()),
          AffineMapAttr::get(AffineMap::getPermutationMap(
              transpose.getPermutation(), b.getContext())));
    auto type = cast<RankedTensorType>(tensor.getType());
    return bufferization::ToBufferOp::create(
        b, loc, MemRefType::get(type.getShape(), type.getElementType()), tensor,
        /*read_only=*/true);
  }

  /// A kernel's result buffer: `view`, of the result's static `shape`, is
  /// what the kernel writes, `storage` the allocation beneath it. Where a
  /// transpose keeping the last dimension last reads the result (the heads'
  /// merge, [B, H, N, D] to [B, N, H, D]), the storage is laid out as the
  /// transpose's result and the view is its transpose back (memref.transpose,
  /// rows still contiguous): the kernel writes each row where the transpose
  /// would have put it, and resultTensor gives the result as the inverse
  /// transpose of the storage, which canonicalization cancels against the
  /// reader's transpose. Otherwise both are one allocation.
  struct Result {
    Value view, storage;
    SmallVector<int64_t> inverse; // view's dimension d is storage's inverse[d]
  };
  Result allocResult(Value result, ArrayRef<int64_t> shape, Type elem) {
    linalg::TransposeOp transpose;
    for (Operation *user : result.getUsers()) {
      auto t = dyn_cast<linalg::TransposeOp>(user);
      if (t && t.getInput() == result && keepsRowsContiguous(t)) {
        transpose = t;
        break;
      }
    }
    auto alloc = [&](ArrayRef<int64_t> dims) -> Value {
      return memref::AllocOp::create(b, loc, MemRefType::get(dims, elem),
                                     b.getI64IntegerAttr(64));
    };
    if (!transpose) {
      Value buffer = alloc(shape);
      return {buffer, buffer, {}};
    }
    ArrayRef<int64_t> perm = transpose.getPermutation();
    SmallVector<int64_t> inverse = invertPermutationVector(perm);
    Value storage = alloc(applyPermutation(shape, perm));
    Value view = memref::TransposeOp::create(
        b, loc, storage,
        AffineMapAttr::get(
            AffineMap::getPermutationMap(inverse, b.getContext())));
    return {view, storage, inverse};
  }

  /// The kernel's result as a tensor of `tensorType`, from allocResult's.
  Value resultTensor(const Result &r, Type tensorType) {
    if (r.inverse.empty())
      return toTensor(r.storage, tensorType);
    auto storageType = cast<MemRefType>(r.storage.getType());
    Value stored = toTensor(
        r.storage, RankedTensorType::get(storageType.getShape(),
                                         storageType.getElementType()));
    auto type = cast<RankedTensorType>(tensorType);
    Value init =
        tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
    return linalg::TransposeOp::create(b, loc, stored, init, r.inverse)
        ->getResult(0);
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

/// Rows of a warp's group in the tensor-core form of the attention
/// gradient where rows-per-instance does not give them: one mma.sync row
/// tile.
constexpr int64_t kGradWarpRows = 16;

/// What attention's forward and gradient tilings (attn.sdpa's and
/// attn.sdpa_grad's) read alike: the schedule (null without one), the
/// tiles -- the schedule's, or the pass's defaults without a schedule --
/// and the batch and heads.
struct AttentionTiles {
  ScheduleAttr schedule;
  int64_t bq = 0, bk = 0, batch = 0, heads = 0;

  template <class AttentionOp>
  LogicalResult readTiles(AttentionOp op, int64_t defaultBQ,
                          int64_t defaultBK) {
    schedule = op.getScheduleAttr();
    if (op.getMask() && !schedule)
      return op.emitOpError("has a mask but no schedule; run "
                            "attn-schedule-blocks first");
    bq = schedule ? schedule.getBlockQ() : defaultBQ;
    bk = schedule ? schedule.getBlockK() : defaultBK;
    auto qType = cast<ShapedType>(op.getQuery().getType());
    batch = qType.getDimSize(0);
    heads = qType.getDimSize(1);
    return success();
  }
};

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

/// How many tiles of the other side each tile visits in a schedule's
/// lists, given as their offsets arrays ([tiles + 1] each): its full and
/// partial tiles together.
SmallVector<int32_t> visitsOf(ArrayRef<ArrayRef<int32_t>> offsetLists) {
  SmallVector<int32_t> visits;
  for (ArrayRef<int32_t> offsets : offsetLists) {
    if (offsets.size() > visits.size() + 1)
      visits.resize(offsets.size() - 1, 0);
    for (size_t i = 0; i + 1 < offsets.size(); ++i)
      visits[i] += offsets[i + 1] - offsets[i];
  }
  return visits;
}

/// The tiles by their number of visits, most first (ties in order); empty
/// when they all visit as many.
SmallVector<int32_t> heaviestFirst(ArrayRef<int32_t> visits) {
  if (llvm::all_equal(visits))
    return {};
  SmallVector<int32_t> order(visits.size());
  std::iota(order.begin(), order.end(), 0);
  llvm::stable_sort(
      order, [&](int32_t a, int32_t b) { return visits[a] > visits[b]; });
  return order;
}

/// The query tiles of `schedule` heaviest first (its full and partial key
/// tiles together); empty when they all visit as many.
SmallVector<int32_t> queryTilesHeaviestFirst(ScheduleAttr schedule) {
  return heaviestFirst(visitsOf({schedule.getFullOffsets().asArrayRef(),
                                 schedule.getPartialOffsets().asArrayRef()}));
}

/// One instance of a parallel nest over (batch, head, tile).
struct TileInstance {
  scf::ForallOp forall;
  Value bIdx, hIdx, tile;
};

/// The parallel nest over (batch, head, tile) of attention's kernels, the
/// builder left at the end of its body. With an `order` (the GPU's
/// heaviest-first rule: blocks start in the grid's order, so a heavy tile
/// -- BigBird's global rows and columns visit every tile of the other
/// side -- left to the end would run alone after the rest), the loop is
/// (rank, batch, head), the rank slowest, and the table `orderName` gives
/// the tile of each rank.
TileInstance enterTileNest(Emitter &e, Globals &globals, int64_t batch,
                           int64_t heads, OpFoldResult tiles,
                           ArrayRef<int32_t> order, StringRef orderName) {
  OpBuilder &b = e.b;
  SmallVector<OpFoldResult> bounds{b.getIndexAttr(batch), b.getIndexAttr(heads),
                                   tiles};
  if (!order.empty())
    std::rotate(bounds.begin(), bounds.begin() + 2, bounds.end());
  auto forall =
      scf::ForallOp::create(b, e.loc, bounds, ValueRange{}, std::nullopt);
  atBodyEnd(b, forall);
  if (order.empty())
    return {forall, forall.getInductionVar(0), forall.getInductionVar(1),
            forall.getInductionVar(2)};
  Value table = globals.table(b, e.loc, orderName, order);
  return {forall, forall.getInductionVar(1), forall.getInductionVar(2),
          e.load(table, forall.getInductionVar(0))};
}

/// The attn.sdpa_grad ops that differentiate `op`: its result their
/// output, under the same operands, mask and scale.
SmallVector<SdpaGradOp> gradientsOf(SdpaOp op) {
  SmallVector<SdpaGradOp> grads;
  for (Operation *user : op.getResult().getUsers()) {
    auto grad = dyn_cast<SdpaGradOp>(user);
    if (grad && grad.getOutput() == op.getResult() &&
        grad.getQuery() == op.getQuery() && grad.getKey() == op.getKey() &&
        grad.getValue() == op.getValue() && grad.getMask() == op.getMask() &&
        grad.getEffectiveScale() == op.getEffectiveScale())
      grads.push_back(grad);
  }
  return grads;
}

/// Gives a tile op's empty predicate `region` the mask's predicate of
/// absolute (query, key) indices; fails where the mask cannot build it.
LogicalResult attachPredicate(OpBuilder &b, Location loc, Region &region,
                              MaskPattern pattern, Value bIdx, Value n,
                              std::optional<int64_t> staticN) {
  OpBuilder::InsertionGuard guard(b);
  Block *block = b.createBlock(
      &region, {}, {b.getIndexType(), b.getIndexType()}, {loc, loc});
  PredicateBuilder pb(b, loc, bIdx, n, staticN);
  Value kept =
      pattern.buildPredicate(pb, block->getArgument(0), block->getArgument(1));
  if (!kept)
    return failure();
  YieldOp::create(b, loc, ValueRange{kept});
  return success();
}

/// Tiles attn.sdpa: a forall over (batch, head, query tile) -- the query
/// tiles heaviest first on the GPU where their schedules differ -- and,
/// below a tile's rows-per-instance, over its row groups; each instance
/// runs attn.tile.softmax_step over its scheduled key tiles (full ones
/// without the predicate, partial ones with it, clipped at the key limit)
/// on running statistics and an accumulator of its rows in f32, then
/// attn.tile.softmax_finalize. `savedLse` receives, for each attn.sdpa_grad
/// of `op`, the [B, H, N] f32 buffer where the forward writes its rows'
/// log-sum-exp.
class SdpaTiling : AttentionTiles {
public:
  SdpaTiling(SdpaOp op, Globals &globals, int64_t rowsPerInstance,
             int64_t scalarRowsPerInstance)
      : op(op), globals(globals), b(op), loc(op.getLoc()), e{b, loc},
        rowsPerInstance(rowsPerInstance),
        scalarRowsPerInstance(scalarRowsPerInstance) {}

  LogicalResult run(int64_t defaultBQ, int64_t defaultBK,
                    DenseMap<Operation *, Value> &savedLse) {
    if (failed(readShapes(defaultBQ, defaultBK)))
      return failure();
    makeBuffers(savedLse);
    makeScheduleTables();
    enterQueryRows();
    makeRunningState();
    if (failed(emitKeyTileLoops()))
      return op.emitOpError("its mask could not build its predicate");
    Value outView = e.view2D(out, {bIdx, hIdx}, q0, qn, b.getIndexAttr(0),
                             b.getIndexAttr(dv), 2, 3);
    Value lseView;
    if (lse)
      lseView = e.view(lse, {bIdx, hIdx}, {q0}, {qn});
    SoftmaxFinalizeOp::create(b, loc, sumV, accV, outView, lse ? maxV : Value(),
                              lseView);
    b.setInsertionPointAfter(forall);
    op.replaceAllUsesWith(e.resultTensor(result, resultType));
    op.erase();
    return success();
  }

private:
  /// The shapes and tiles, and the rows an instance takes; an error where
  /// attn-tile cannot take op.
  LogicalResult readShapes(int64_t defaultBQ, int64_t defaultBK) {
    qType = cast<RankedTensorType>(op.getQuery().getType());
    for (unsigned d : {0u, 1u, 3u})
      if (qType.isDynamicDim(d) ||
          ShapedType::isDynamic(dimOf(op.getValue(), 3)))
        return op.emitOpError("attn-tile needs static batch, heads and head "
                              "dims");
    if (failed(readTiles(op, defaultBQ, defaultBK)))
      return failure();
    dv = dimOf(op.getValue(), 3);
    // f32 attention takes scalar-rows-per-instance rows where they divide
    // the tile: the GPU runs them as two row tiles in 3xTF32, or, where its
    // tiles do not fit tensor cores, a row per lane.
    Type elem = qType.getElementType();
    if (!elem.isF32() && !elem.isBF16() && !elem.isF16())
      return op.emitOpError("attn-tile lowers attention in f32, bf16 and "
                            "f16, got ")
             << elem;
    if (rowsPerInstance > 0 && scalarRowsPerInstance > 0 && !elem.isBF16() &&
        !elem.isF16() && bq % std::min(scalarRowsPerInstance, bq) == 0)
      rowsPerInstance = scalarRowsPerInstance;
    // Rows of a query tile handled by one instance of the inner loop; the
    // whole tile when there is no inner loop.
    rows = rowsPerInstance > 0 && rowsPerInstance < bq ? rowsPerInstance : bq;
    if (bq % rows != 0)
      return op.emitOpError("attn-tile's rows-per-instance (")
             << rows << ") must divide the query tile (" << bq << ")";
    return success();
  }

  /// The operands as buffers, the output, and the rows' log-sum-exp for
  /// gradients that would otherwise recompute it.
  void makeBuffers(DenseMap<Operation *, Value> &savedLse) {
    q = e.toBuffer(op.getQuery());
    k = e.toBuffer(op.getKey());
    v = e.toBuffer(op.getValue());
    n = extent(e, q, 2);
    nk = extent(e, k, 2);
    resultType = cast<RankedTensorType>(op.getType());
    if (resultType.hasStaticShape()) {
      result = e.allocResult(op.getResult(), resultType.getShape(),
                             resultType.getElementType());
    } else {
      // Only the sequence may be dynamic.
      auto outType =
          MemRefType::get(resultType.getShape(), resultType.getElementType());
      Value buffer = memref::AllocOp::create(b, loc, outType, ValueRange{n},
                                             b.getI64IntegerAttr(64));
      result = {buffer, buffer, {}};
    }
    out = result.view;
    SmallVector<SdpaGradOp> grads = gradientsOf(op);
    if (!grads.empty() && qType.hasStaticShape()) {
      lse = memref::AllocOp::create(
          b, loc,
          MemRefType::get(
              {qType.getDimSize(0), qType.getDimSize(1), qType.getDimSize(2)},
              b.getF32Type()),
          b.getI64IntegerAttr(64));
      for (SdpaGradOp grad : grads)
        savedLse[grad] = lse;
    }
  }

  /// The schedule's lists as tables (without a schedule every key tile is
  /// visited as full), the tile counts, the mask.
  void makeScheduleTables() {
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
      return arith::CeilDivUIOp::create(b, loc, extent, e.idx(block))
          .getResult();
    };
    numQTiles = tilesOf(n, bq);
    numKTiles = getValueOrCreateConstantIndexOp(b, loc, tilesOf(nk, bk));
    pattern = op.getMask() ? getMaskPattern(op.getMask()) : MaskPattern();
    staticN = ShapedType::isDynamic(qType.getDimSize(2))
                  ? std::nullopt
                  : std::optional<int64_t>(qType.getDimSize(2));
  }

  /// The forall over (batch, head, query tile) and, below rows-per-instance,
  /// its row groups; the builder left inside, at this instance's rows
  /// [q0, q0 + qn).
  /// The GPU form visits query tiles heaviest first where their schedules
  /// differ (`enterTileNest`).
  void enterQueryRows() {
    SmallVector<int32_t> order;
    if (rowsPerInstance > 0 && schedule)
      order = queryTilesHeaviestFirst(schedule);
    TileInstance instance = enterTileNest(e, globals, batch, heads, numQTiles,
                                          order, "__attn_query_order");
    forall = instance.forall;
    bIdx = instance.bIdx;
    hIdx = instance.hIdx;
    qTile = instance.tile;
    q0 = e.mul(qTile, bq);
    if (rows < bq) {
      // Row groups of the tile: the same key tiles, independent rows.
      auto inner = scf::ForallOp::create(
          b, loc, SmallVector<OpFoldResult>{b.getIndexAttr(bq / rows)},
          ValueRange{}, std::nullopt);
      atBodyEnd(b, inner);
      q0 = e.add(q0, e.mul(inner.getInductionVar(0), rows));
    }
    // Clipped at the end of the sequence; a row group may lie past it.
    qn = e.min(e.idx(rows), e.sub(n, q0));
    if (rows < bq)
      qn = arith::MaxSIOp::create(b, loc, qn, e.idx(0));
    qView = e.view2D(q, {bIdx, hIdx}, q0, qn, b.getIndexAttr(0),
                     b.getIndexAttr(dimOf(q, 3)), 2, 3);
  }

  /// Running statistics and accumulator of these query rows, in f32.
  void makeRunningState() {
    Type f32 = b.getF32Type();
    Value maxBuf =
        memref::AllocaOp::create(b, loc, MemRefType::get({rows}, f32));
    Value sumBuf =
        memref::AllocaOp::create(b, loc, MemRefType::get({rows}, f32));
    Value accBuf =
        memref::AllocaOp::create(b, loc, MemRefType::get({rows, dv}, f32));
    maxV = e.prefix(maxBuf, qn);
    sumV = e.prefix(sumBuf, qn);
    accV = e.rows(accBuf, e.idx(0), qn);
    e.fill(maxV, -std::numeric_limits<double>::infinity());
    e.fill(sumV, 0.0);
    e.fill(accV, 0.0);
  }

  /// The softmax steps over the scheduled key tiles (every key tile without
  /// a schedule), clipped at the key limit; fails where the mask cannot
  /// build a partial tile's predicate.
  LogicalResult emitKeyTileLoops() {
    Value keyLimit = keyLimitFor(e, pattern, bIdx, nk);
    scale = b.getF64FloatAttr(op.getEffectiveScale());
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
    return status;
  }

  /// attn.tile.softmax_step of these rows against key rows [k0, k0 + kn),
  /// with the mask's predicate where the tile is partial.
  LogicalResult step(Value k0, Value kn, bool partial) {
    Value kView = e.view2D(k, {bIdx, hIdx}, k0, kn, b.getIndexAttr(0),
                           b.getIndexAttr(dimOf(k, 3)), 2, 3);
    Value vView = e.view2D(v, {bIdx, hIdx}, k0, kn, b.getIndexAttr(0),
                           b.getIndexAttr(dv), 2, 3);
    auto stepOp = SoftmaxStepOp::create(b, loc, qView, kView, vView, maxV, sumV,
                                        accV, q0, k0, scale);
    if (!op.getScore().empty())
      bindScoreRegion(b, loc, op.getScore(), stepOp.getScore(), bIdx, hIdx);
    if (!partial)
      return success();
    return attachPredicate(b, loc, stepOp.getPredicate(), pattern, bIdx, n,
                           staticN);
  }

  SdpaOp op;
  Globals &globals;
  OpBuilder b;
  Location loc;
  Emitter e;
  int64_t rowsPerInstance;
  const int64_t scalarRowsPerInstance;

  // readShapes
  RankedTensorType qType;
  int64_t dv = 0, rows = 0;
  // makeBuffers
  Value q, k, v, n, nk, out, lse;
  Emitter::Result result; // out is its view
  RankedTensorType resultType;
  // makeScheduleTables
  Value fullOffsets, fullBlocks, partialOffsets, partialBlocks, numKTiles;
  OpFoldResult numQTiles;
  MaskPattern pattern;
  std::optional<int64_t> staticN;
  // enterQueryRows, makeRunningState, emitKeyTileLoops
  scf::ForallOp forall;
  Value bIdx, hIdx, qTile, q0, qn, qView, maxV, sumV, accV;
  FloatAttr scale;
};

//===----------------------------------------------------------------------===//
// attn.sdpa_grad
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

/// A row's running statistics in cells (memrefs of rank 0), one kept key's
/// score at a time: the online-softmax step without an accumulator, which
/// the gradient uses to recompute each row's log-sum-exp.
class CellStatistics final : public SoftmaxRows {
public:
  CellStatistics(Value maxCell, Value sumCell, Value score)
      : maxCell(maxCell), sumCell(sumCell), score(score) {}
  int64_t numRows() const override { return 1; }
  Value max(OpBuilder &b, Location loc, int64_t) override {
    return memref::LoadOp::create(b, loc, maxCell, ValueRange{});
  }
  Value sum(OpBuilder &b, Location loc, int64_t) override {
    return memref::LoadOp::create(b, loc, sumCell, ValueRange{});
  }
  void setMax(OpBuilder &b, Location loc, int64_t, Value m) override {
    memref::StoreOp::create(b, loc, m, maxCell, ValueRange{});
  }
  void setSum(OpBuilder &b, Location loc, int64_t, Value l) override {
    memref::StoreOp::create(b, loc, l, sumCell, ValueRange{});
  }
  Value scoreMax(OpBuilder &, Location, int64_t) override { return score; }
  Value exponentiate(OpBuilder &b, Location loc, int64_t,
                     Value base) override {
    return emitExp(b, loc, arith::SubFOp::create(b, loc, score, base),
                   ExpBase::E);
  }
  void accumulate(OpBuilder &, Location, ArrayRef<Value>) override {}

private:
  Value maxCell, sumCell, score;
};

/// The gradient of softmax attention in three nests over the schedule
/// (FlashAttention-2's backward):
///   forall (b, h, query tile) { each row i, q_i and dO_i held as vectors:
///     lse_i (the forward's, where it was tiled in the same module and
///     saved it; else from the statistics over the kept keys);
///     D_i = dO_i . out_i }
///   forall (b, h, query tile) { dQ_i = scale sum_j P_ij (dO_i . v_j - D_i) k_j
///     over its scheduled key tiles }
///   forall (b, h, key tile) { over the query tiles whose schedule holds its
///     tile (the schedule transposed):
///     dV_j += P_ij dO_i;  dK_j += scale P_ij (dO_i . v_j - D_i) q_i }
/// with P_ij = exp(scale q_i . k_j - lse_i) where the mask keeps (i, j):
/// full tiles without the predicate, partial ones with it, keys below the
/// key limit. Each row's (key's) results are written by its instance alone.
///
/// One algorithm for both targets: the second and third nests run
/// attn.tile.softmax_grad_step over groups of a tile's rows -- the whole
/// tile on the CPU; on the GPU a warp's rows where tensor cores take the
/// element type and shapes, else a thread's row. The first nest's rows are
/// a loop on the CPU and a thread each on the GPU (the inner scf.forall
/// mapped to #gpu.thread), their vectors in registers.
class SdpaGradTiling : AttentionTiles {
public:
  SdpaGradTiling(SdpaGradOp op, Globals &globals, int64_t rowsPerInstance,
                 Value savedLse, bool fusedQuery)
      : op(op), globals(globals), b(op), loc(op.getLoc()), e{b, loc},
        gpuForm(rowsPerInstance != 0), rowsPerInstance(rowsPerInstance),
        savedLse(savedLse), fused(fusedQuery) {}

  LogicalResult run(int64_t defaultBQ, int64_t defaultBK) {
    if (failed(readShapes(defaultBQ, defaultBK)))
      return failure();
    makeBuffers();
    makeScheduleLists();
    emitStatistics();
    if (fused) {
      // dQ's sums in f32 from zero, added to by every key tile's nest.
      e.fill(dqSums, 0.0);
    } else {
      emitQueryGradients();
    }
    emitKeyGradients();
    if (fused && dqSums != dq)
      linalg::CopyOp::create(b, loc, dqSums, dq);
    if (failedPredicate)
      return op.emitOpError("its mask could not build its predicate");
    op.getQueryGrad().replaceAllUsesWith(
        e.resultTensor(dqResult, op.getQueryGrad().getType()));
    op.getKeyGrad().replaceAllUsesWith(
        e.resultTensor(dkResult, op.getKeyGrad().getType()));
    op.getValueGrad().replaceAllUsesWith(
        e.resultTensor(dvResult, op.getValueGrad().getType()));
    op.erase();
    return success();
  }

private:
  /// One list of the schedule (full or partial tiles): offsets and items.
  struct List {
    Value offsets, items;
    bool partial;
  };
  /// The views of query rows [q0, q0 + qn) and of key rows [k0, k0 + kn).
  struct QueryRows {
    Value q, dOut, lse, delta, q0;
  };
  struct KeyRows {
    Value k, v, k0;
  };

  /// The shapes, tiles and forms; an error where attn-tile cannot take op.
  LogicalResult readShapes(int64_t defaultBQ, int64_t defaultBK) {
    auto qType = cast<RankedTensorType>(op.getQuery().getType());
    auto vType = cast<RankedTensorType>(op.getValue().getType());
    elem = qType.getElementType();
    if (!qType.hasStaticShape() || !vType.hasStaticShape() ||
        !isa<Float32Type, BFloat16Type, Float16Type>(elem) ||
        vType.getElementType() != elem)
      return op.emitOpError("attn-tile's gradient of attention needs static "
                            "shapes and one element type of f32, bf16 and "
                            "f16");
    if (failed(readTiles(op, defaultBQ, defaultBK)))
      return failure();
    n = qType.getDimSize(2);
    hd = qType.getDimSize(3);
    dv = vType.getDimSize(3);
    if (gpuForm && (bq > 1024 || bk > 1024))
      return op.emitOpError("the GPU's gradient of attention runs a thread "
                            "per row of a tile: tiles of at most 1024 rows, "
                            "got ")
             << bq << " x " << bk;
    queryTiles = llvm::divideCeil(n, bq);
    keyTiles = llvm::divideCeil(n, bk);
    scale = op.getEffectiveScale();
    pattern = op.getMask() ? getMaskPattern(op.getMask()) : MaskPattern();
    f32 = b.getF32Type();
    qRow = VectorType::get({hd}, f32);
    vRow = VectorType::get({dv}, f32);
    // A warp takes the rows per instance it was given (grad-rows-per-
    // instance, else the forward's: one or two 16-row tiles) where they
    // divide both tiles, so that each staged fragment feeds as many MMAs;
    // else one 16-row tile.
    warpRows = (rowsPerInstance == 16 || rowsPerInstance == 32) &&
                       bq % rowsPerInstance == 0 && bk % rowsPerInstance == 0
                   ? rowsPerInstance
                   : kGradWarpRows;
    tensorCores = gpuForm && hd % 16 == 0 && dv % 16 == 0 &&
                  bq % warpRows == 0 && bk % warpRows == 0;
    return success();
  }

  /// The operands as buffers; the gradients in the operands' element type
  /// (rows accumulate in f32); lse and D.
  void makeBuffers() {
    q = e.toBuffer(op.getQuery());
    k = e.toBuffer(op.getKey());
    v = e.toBuffer(op.getValue());
    out = e.toBuffer(op.getOutput());
    dOut = e.toBuffer(op.getOutputGrad());
    auto alloc = [&](ArrayRef<int64_t> shape, Type type) -> Value {
      return memref::AllocOp::create(b, loc, MemRefType::get(shape, type),
                                     b.getI64IntegerAttr(64));
    };
    auto qShape = cast<ShapedType>(op.getQuery().getType()).getShape();
    auto vShape = cast<ShapedType>(op.getValue().getType()).getShape();
    dqResult = e.allocResult(op.getQueryGrad(), qShape, elem);
    dkResult = e.allocResult(op.getKeyGrad(), qShape, elem);
    dvResult = e.allocResult(op.getValueGrad(), vShape, elem);
    dq = dqResult.view;
    dk = dkResult.view;
    dvBuf = dvResult.view;
    // The fused form's dQ: f32 sums (dQ itself where it is f32).
    dqSums = !fused || elem.isF32() ? dq : alloc(qShape, f32);
    // Every row of dQ, lse and D is written; dK and dV only below the key
    // limit, so they start at zero.
    e.fill(dkResult.storage, 0.0);
    e.fill(dvResult.storage, 0.0);
    // The rows' log-sum-exp: saved by the forward where it was tiled in the
    // same module, else recomputed here.
    lse = savedLse ? savedLse : alloc({batch, heads, n}, f32);
    delta = alloc({batch, heads, n}, f32);
  }

  /// The schedule's lists, and their transposes for the key-major nest;
  /// on the GPU, the orders of nests 2 and 3 (heaviest first).
  void makeScheduleLists() {
    if (!schedule)
      return;
    SmallVector<SmallVector<int32_t>> keyOffsets;
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
      keyOffsets.push_back(std::move(tOffsets));
    };
    addList(schedule.getFullOffsets(), schedule.getFullBlocks(), false,
            "full");
    addList(schedule.getPartialOffsets(), schedule.getPartialBlocks(), true,
            "partial");
    if (!gpuForm)
      return;
    queryOrder = queryTilesHeaviestFirst(schedule);
    keyOrder = heaviestFirst(visitsOf(
        SmallVector<ArrayRef<int32_t>>(keyOffsets.begin(), keyOffsets.end())));
  }

  /// Nest 1: each row's D = rowsum(dO * O), and its log-sum-exp where the
  /// forward did not save it: a query tile per instance.
  void emitStatistics() {
    nest(queryTiles, {}, "", [&](Value bIdx, Value hIdx, Value qTile) {
      Value limit = keyLimitFor(e, pattern, bIdx, e.idx(n));
      Value q0 = e.mul(qTile, bq);
      Value qn = e.min(e.idx(bq), e.sub(e.idx(n), q0));
      Value rowMax, rowSum;
      auto makeScratch = [&] {
        if (!savedLse) {
          rowMax = scratch(f32);
          rowSum = scratch(f32);
        }
      };
      forEachRow(bq, qn, makeScratch, [&](Value r) {
        Value i = e.add(q0, r);
        if (!savedLse) {
          Value qi = loadRow(q, bIdx, hIdx, i, qRow);
          set(rowMax, e.f32(-std::numeric_limits<double>::infinity()));
          set(rowSum, e.f32(0.0));
          forKeptKeys(bIdx, qTile, i, limit, [&](Value j) {
            Value s = scaledDot(qi, loadRow(k, bIdx, hIdx, j, qRow));
            if (!op.getScore().empty())
              s = emitScoreMod(b, loc, op.getScore(), s, {bIdx, hIdx, i, j});
            CellStatistics row(rowMax, rowSum, s);
            emitOnlineSoftmaxStep(b, loc, row);
          });
          memref::StoreOp::create(
              b, loc, emitLogSumExp(b, loc, get(rowMax), get(rowSum)), lse,
              ValueRange{bIdx, hIdx, i});
        }
        Value rowDelta = dot(loadRow(dOut, bIdx, hIdx, i, vRow),
                             loadRow(out, bIdx, hIdx, i, vRow));
        memref::StoreOp::create(b, loc, rowDelta, delta,
                                ValueRange{bIdx, hIdx, i});
      });
    });
  }

  /// Nest 2: dQ, a query tile per instance, over its scheduled key tiles.
  void emitQueryGradients() {
    nest(queryTiles, queryOrder, "__attn_grad_query_order",
         [&](Value bIdx, Value hIdx, Value qTile) {
           Value limit = keyLimitFor(e, pattern, bIdx, e.idx(n));
           forRowGroups(
               e.mul(qTile, bq), bq, e.idx(n),
               [&](Value q0, Value qn, int64_t rows) {
                 Value dqAcc = accumulator(rows, hd, qn);
                 QueryRows qr = queryRows(bIdx, hIdx, q0, qn);
                 auto step =
                     [&](bool partial) {
                       return [&, partial](Value k0, Value kn) {
                         gradStep(bIdx, hIdx, qr, keyRows(bIdx, hIdx, k0, kn),
                                  dqAcc, {}, {}, partial);
                       };
                     };
                 for (const List &list : byQuery)
                   emitKeyTileLoop(e, list.offsets, list.items, qTile, bk,
                                   limit, step(list.partial));
                 if (!schedule)
                   forRange(e.idx(0), e.idx(keyTiles), [&](Value kt) {
                     Value k0 = e.mul(kt, bk);
                     step(false)(k0, e.min(e.idx(bk), e.sub(limit, k0)));
                   });
                 linalg::CopyOp::create(b, loc, dqAcc,
                                        rowsOf(dq, bIdx, hIdx, q0, qn));
               });
         });
  }

  /// Nest 3: dK and dV, a key tile per instance, over the query tiles that
  /// see it (the transposed schedule).
  void emitKeyGradients() {
    nest(keyTiles, keyOrder, "__attn_grad_key_order",
         [&](Value bIdx, Value hIdx, Value kTile) {
           Value limit = keyLimitFor(e, pattern, bIdx, e.idx(n));
           forRowGroups(
               e.mul(kTile, bk), bk, limit,
               [&](Value k0, Value kn, int64_t rows) {
                 Value dkAcc = accumulator(rows, hd, kn),
                       dvAcc = accumulator(rows, dv, kn);
                 KeyRows kr = keyRows(bIdx, hIdx, k0, kn);
                 auto step = [&](bool partial) {
                   return [&, partial](Value q0, Value qn) {
                     gradStep(bIdx, hIdx, queryRows(bIdx, hIdx, q0, qn), kr,
                              fused ? rowsOf(dqSums, bIdx, hIdx, q0, qn)
                                    : Value(),
                              dkAcc, dvAcc, partial);
                   };
                 };
                 for (const List &list : byKey)
                   emitKeyTileLoop(e, list.offsets, list.items, kTile, bq,
                                   e.idx(n), step(list.partial));
                 if (!schedule)
                   forRange(e.idx(0), e.idx(queryTiles), [&](Value qt) {
                     Value q0 = e.mul(qt, bq);
                     step(false)(q0, e.min(e.idx(bq), e.sub(e.idx(n), q0)));
                   });
                 linalg::CopyOp::create(b, loc, dkAcc,
                                        rowsOf(dk, bIdx, hIdx, k0, kn));
                 linalg::CopyOp::create(b, loc, dvAcc,
                                        rowsOf(dvBuf, bIdx, hIdx, k0, kn));
               });
         });
  }

  // Loops and conditions.

  void forRange(Value lo, Value hi, function_ref<void(Value)> body) {
    auto loop = scf::ForOp::create(b, loc, lo, hi, e.idx(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    body(loop.getInductionVar());
  }
  void onlyIf(Value condition, function_ref<void()> body) {
    auto ifOp = scf::IfOp::create(b, loc, condition, /*withElse=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    body();
  }
  /// A parallel nest over (batch, head, tile), in `order` where it has one
  /// (`enterTileNest`).
  void nest(int64_t tiles, ArrayRef<int32_t> order, StringRef orderName,
            function_ref<void(Value, Value, Value)> body) {
    OpBuilder::InsertionGuard guard(b);
    TileInstance instance = enterTileNest(
        e, globals, batch, heads, b.getIndexAttr(tiles), order, orderName);
    body(instance.bIdx, instance.hIdx, instance.tile);
  }
  /// The first `count` of a tile's `tile` rows: a loop on the CPU, with the
  /// running values (`makeScratch`) made once for all; a thread each on the
  /// GPU, with its own.
  void forEachRow(int64_t tile, Value count, function_ref<void()> makeScratch,
                  function_ref<void(Value)> body) {
    if (!gpuForm) {
      makeScratch();
      forRange(e.idx(0), count, body);
      return;
    }
    auto threads = scf::ForallOp::create(
        b, loc, SmallVector<OpFoldResult>{b.getIndexAttr(tile)}, ValueRange{},
        b.getArrayAttr({gpu::GPUThreadMappingAttr::get(
            b.getContext(), gpu::MappingId::DimX)}));
    OpBuilder::InsertionGuard guard(b);
    atBodyEnd(b, threads);
    Value r = threads.getInductionVar(0);
    onlyIf(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, r, count),
           [&] {
             makeScratch();
             body(r);
           });
  }
  /// For every kept key j of row i of query tile qTile: the forward's loop
  /// over a list of key tiles, clipped at the limit.
  void forKeptKeys(Value bIdx, Value qTile, Value i, Value limit,
                   function_ref<void(Value)> body) {
    if (!schedule) {
      forRange(e.idx(0), limit, body);
      return;
    }
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
  }
  /// body(first row, row count, rows of the group's buffers) for the row
  /// groups of the tile whose rows start at `first`, clipped at `extent`.
  void forRowGroups(Value first, int64_t tile, Value extent,
                    function_ref<void(Value, Value, int64_t)> body) {
    if (!gpuForm)
      return body(first, e.min(e.idx(tile), e.sub(extent, first)), tile);
    if (!tensorCores)
      return forEachRow(tile, e.sub(extent, first), [] {},
                        [&](Value r) { body(e.add(first, r), e.idx(1), 1); });
    // Every warp takes part in the tile's block-wide staging, those past
    // the extent with no rows.
    auto warps = scf::ForallOp::create(
        b, loc, SmallVector<OpFoldResult>{b.getIndexAttr(tile / warpRows)},
        ValueRange{}, std::nullopt);
    OpBuilder::InsertionGuard guard(b);
    atBodyEnd(b, warps);
    Value r0 = e.add(first, e.mul(warps.getInductionVar(0), warpRows));
    body(r0,
         arith::MaxSIOp::create(
             b, loc, e.min(e.idx(warpRows), e.sub(extent, r0)), e.idx(0)),
         warpRows);
  }

  // A row as a vector (the first nest's).

  /// Row `row` of buffer[b, h] as an f32 vector (`type`), converted from
  /// the buffer's element type.
  Value loadRow(Value buffer, Value bIdx, Value hIdx, Value row,
                VectorType type) {
    Type stored = cast<MemRefType>(buffer.getType()).getElementType();
    Value vec = vector::LoadOp::create(b, loc, type.clone(stored), buffer,
                                       ValueRange{bIdx, hIdx, row, e.idx(0)});
    if (stored == type.getElementType())
      return vec;
    return arith::ExtFOp::create(b, loc, type, vec);
  }
  Value dot(Value x, Value y) {
    return vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD,
                                       arith::MulFOp::create(b, loc, x, y),
                                       arith::FastMathFlags::reassoc);
  }
  Value scaledDot(Value x, Value y) {
    return arith::MulFOp::create(b, loc, dot(x, y), e.f32(scale));
  }
  /// A running value of one row: memory that LLVM promotes to registers.
  Value scratch(Type type) {
    return memref::AllocaOp::create(b, loc, MemRefType::get({}, type));
  }
  Value get(Value cell) {
    return memref::LoadOp::create(b, loc, cell, ValueRange{});
  }
  void set(Value cell, Value value) {
    memref::StoreOp::create(b, loc, value, cell, ValueRange{});
  }
  Value kept(Value bIdx, Value i, Value j) {
    PredicateBuilder pb(b, loc, bIdx, e.idx(n), n);
    return pattern.buildPredicate(pb, i, j);
  }

  // Tiles as views (the gradient steps').

  /// A zeroed f32 accumulator of `rows` rows, and its first `count`.
  Value accumulator(int64_t rows, int64_t width, Value count) {
    Value buffer =
        memref::AllocaOp::create(b, loc, MemRefType::get({rows, width}, f32));
    Value view = e.rows(buffer, e.idx(0), count);
    e.fill(view, 0.0);
    return view;
  }
  Value rowsOf(Value buffer, Value bIdx, Value hIdx, Value first, Value count) {
    return e.view2D(buffer, {bIdx, hIdx}, first, count, b.getIndexAttr(0),
                    b.getIndexAttr(dimOf(buffer, 3)), 2, 3);
  }
  Value statsOf(Value buffer, Value bIdx, Value hIdx, Value first,
                Value count) {
    return e.view(buffer, {bIdx, hIdx}, {first}, {count});
  }
  QueryRows queryRows(Value bIdx, Value hIdx, Value q0, Value qn) {
    return QueryRows{rowsOf(q, bIdx, hIdx, q0, qn),
                     rowsOf(dOut, bIdx, hIdx, q0, qn),
                     statsOf(lse, bIdx, hIdx, q0, qn),
                     statsOf(delta, bIdx, hIdx, q0, qn), q0};
  }
  KeyRows keyRows(Value bIdx, Value hIdx, Value k0, Value kn) {
    return KeyRows{rowsOf(k, bIdx, hIdx, k0, kn), rowsOf(v, bIdx, hIdx, k0, kn),
                   k0};
  }
  /// attn.tile.softmax_grad_step of query rows `qr` against key rows `kr`,
  /// accumulating into the given accumulators; with the mask's predicate
  /// where the pair of tiles is partial.
  void gradStep(Value bIdx, Value hIdx, const QueryRows &qr, const KeyRows &kr,
                Value dqAcc, Value dkAcc, Value dvAcc, bool partial) {
    Value length = e.idx(n); // before the step: its region reads it
    auto step = SoftmaxGradStepOp::create(
        b, loc, qr.q, kr.k, kr.v, qr.dOut, qr.lse, qr.delta, dqAcc, dkAcc,
        dvAcc, qr.q0, kr.k0, b.getF64FloatAttr(scale));
    if (!op.getScore().empty())
      bindScoreRegion(b, loc, op.getScore(), step.getScore(), bIdx, hIdx);
    if (partial && failed(attachPredicate(b, loc, step.getPredicate(), pattern,
                                          bIdx, length, n)))
      failedPredicate = true;
  }

  SdpaGradOp op;
  Globals &globals;
  OpBuilder b;
  Location loc;
  Emitter e;
  const bool gpuForm;
  const int64_t rowsPerInstance;
  const Value savedLse;
  /// dQ by the key tiles' nest (grad-fused-query).
  const bool fused;

  // readShapes
  Type elem, f32;
  int64_t n = 0, hd = 0, dv = 0;
  int64_t queryTiles = 0, keyTiles = 0, warpRows = 0;
  double scale = 0;
  MaskPattern pattern;
  VectorType qRow, vRow;
  bool tensorCores = false;
  // makeBuffers, makeScheduleLists
  Value q, k, v, out, dOut, dq, dk, dvBuf, lse, delta;
  Value dqSums; // dQ's f32 sums in the fused form, else dq
  Emitter::Result dqResult, dkResult, dvResult; // dq, dk, dvBuf their views
  SmallVector<List> byQuery, byKey;
  /// The GPU's orders of the query and key tiles' nests: heaviest first
  /// where the tiles' visits differ, else empty (the tiles' own order).
  SmallVector<int32_t> queryOrder, keyOrder;
  bool failedPredicate = false;
};

//===----------------------------------------------------------------------===//
// attn.linear
//===----------------------------------------------------------------------===//

/// Features of the state one instance of the GPU form's reduction owns:
/// the rows of an mma.sync accumulator.
constexpr int64_t kFeatureSlice = 16;
/// Blocks the GPU form's reduction aims at per SM of the target, reached by
/// splitting the keys where batch x heads alone fall short: a warp of the
/// per-lane form (projections) walks its keys slowly. At most this many: a
/// split more would start a partial wave (on an H200, 9 splits of 64 (batch,
/// head) pairs took 1.11x the time of 8 at N = 16384).
constexpr int64_t kReductionBlocksPerMultiprocessor = 4;
/// Keys per split at least: two chunks of the tensor-core reduction.
constexpr int64_t kMinKeysPerSplit = 256;

/// Rows [r0, r0 + rn) of `buffer` [B, H, N, X] at (b, h), as [rn, X].
Value rowsOf(Emitter &e, Value buffer, Value bIdx, Value hIdx, Value r0,
             OpFoldResult count) {
  return e.view2D(buffer, {bIdx, hIdx}, r0, count, e.b.getIndexAttr(0),
                  e.b.getIndexAttr(dimOf(buffer, 3)), 2, 3);
}

/// state[b, h] of a state buffer [B, H, F, Dv], as [F, Dv].
Value stateOf(Emitter &e, Value state, Value bIdx, Value hIdx) {
  return rowsOf(e, state, bIdx, hIdx, e.idx(0),
                e.b.getIndexAttr(dimOf(state, 2)));
}

/// The GPU form's loops over the rows of `x` [B, H, N, ...], tiles of
/// `tile` rows on blocks and groups of `rows` on warps:
///   forall (b, h, tile) { forall group { body(b, h, r0, rn) } }
/// with rn clipped at N (a group may lie past it: rn = 0).
void forRowGroupsForGPU(
    Emitter &e, Value x, int64_t tile, int64_t rows,
    llvm::function_ref<void(Value, Value, Value, Value)> body) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  const int64_t n = dimOf(x, 2);
  auto tiles = scf::ForallOp::create(
      b, loc,
      ArrayRef<OpFoldResult>{b.getIndexAttr(dimOf(x, 0)),
                             b.getIndexAttr(dimOf(x, 1)),
                             b.getIndexAttr(llvm::divideCeil(n, tile))},
      ValueRange{}, std::nullopt);
  atBodyEnd(b, tiles);
  Value r0 = e.mul(tiles.getInductionVar(2), tile);
  auto groups = scf::ForallOp::create(
      b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(tile / rows)}, ValueRange{},
      std::nullopt);
  atBodyEnd(b, groups);
  r0 = e.add(r0, e.mul(groups.getInductionVar(0), rows));
  Value rn = arith::MaxSIOp::create(
      b, loc, e.min(e.idx(rows), e.sub(e.idx(n), r0)), e.idx(0));
  body(tiles.getInductionVar(0), tiles.getInductionVar(1), r0, rn);
  b.setInsertionPointAfter(tiles);
}

/// Keys [k0, k0 + kn) of `k` at (b, h) as a reduction's slice of
/// `slice` features from f0 reads them: an elementwise map's columns of the
/// slice, or a projection's whole rows with the projection's rows of the
/// slice (the second value; null without a projection).
std::pair<Value, Value> keySlice(Emitter &e, Value k, Value projection,
                                 int64_t slice, Value bIdx, Value hIdx,
                                 Value k0, OpFoldResult kn, Value f0) {
  OpBuilder &b = e.b;
  if (!projection)
    return {e.view2D(k, {bIdx, hIdx}, k0, kn, f0, b.getIndexAttr(slice), 2, 3),
            Value()};
  return {e.view2D(k, {bIdx, hIdx}, k0, kn, b.getIndexAttr(0),
                   b.getIndexAttr(dimOf(k, 3)), 2, 3),
          e.view2D(projection, {}, f0, b.getIndexAttr(slice), b.getIndexAttr(0),
                   b.getIndexAttr(dimOf(projection, 1)), 0, 1)};
}

/// The GPU form's non-causal reduction into state [B, H, F, Dv] and norm
/// [B, H, F] (f32, zero before): for every (b, h), the keys of `k` (and
/// rows of `v`, and of `weights` [B, H, N] where given: the norm's sum
/// weighted) below the key limit (`lengths`, or all of them), a split of
/// the keys and a slice of the features per instance:
///   forall (b, h, split of the keys) { forall slice of kFeatureSlice
///     features { linear_state atomic(the split's keys, the slice) } }
/// An elementwise feature map's slice of features is that of the key's
/// columns; a projection's is its rows.
void reduceStateForGPU(Operation *op, Emitter &e, Value k, Value v,
                       Value featureMap, Value projection, int64_t features,
                       Value lengths, Value state, Value norm, Value weights) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  const int64_t batch = dimOf(k, 0), heads = dimOf(k, 1), dv = dimOf(v, 3);
  const int64_t slice =
      features % kFeatureSlice == 0 ? kFeatureSlice : features;
  auto index = [&](int64_t i) -> OpFoldResult { return b.getIndexAttr(i); };
  const int64_t nk = dimOf(k, 2);
  const int64_t splits = std::max<int64_t>(
      1, std::min<int64_t>(kReductionBlocksPerMultiprocessor *
                               TargetAttr::lookup(op).getMultiprocessors() /
                               (batch * heads),
                           nk / kMinKeysPerSplit));
  const int64_t span = llvm::alignTo(llvm::divideCeil(nk, splits), 64);
  auto reduce = scf::ForallOp::create(
      b, loc, ArrayRef<OpFoldResult>{index(batch), index(heads), index(splits)},
      ValueRange{}, std::nullopt);
  atBodyEnd(b, reduce);
  Value bIdx = reduce.getInductionVar(0), hIdx = reduce.getInductionVar(1);
  Value k0 = e.mul(reduce.getInductionVar(2), span);
  auto slices = scf::ForallOp::create(
      b, loc, ArrayRef<OpFoldResult>{index(features / slice)}, ValueRange{},
      std::nullopt);
  atBodyEnd(b, slices);
  // Inside the inner loop: the grid's part of the body may not read memory.
  Value keyLimit = e.idx(nk);
  if (lengths)
    keyLimit = keyLimitFromLengths(e, lengths, bIdx, keyLimit);
  Value kn = arith::MaxSIOp::create(
      b, loc, e.min(e.idx(span), e.sub(keyLimit, k0)), e.idx(0));
  Value f0 = e.mul(slices.getInductionVar(0), slice);
  auto [keys, sliceProjection] =
      keySlice(e, k, projection, slice, bIdx, hIdx, k0, kn, f0);
  auto reduction = LinearStateOp::create(
      b, loc, keys,
      e.view2D(v, {bIdx, hIdx}, k0, kn, index(0), index(dv), 2, 3),
      weights ? e.view(weights, {bIdx, hIdx}, {k0}, {kn}) : Value(), featureMap,
      sliceProjection,
      e.view2D(state, {bIdx, hIdx}, f0, index(slice), index(0), index(dv), 2,
               3),
      e.view(norm, {bIdx, hIdx}, {f0}, {index(slice)}));
  reduction.setAtomic(true);
  b.setInsertionPointAfter(reduce);
}

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
  auto rowsOf = [&](Value buffer, Value bIdx, Value hIdx, Value r0,
                    OpFoldResult count) {
    return ::rowsOf(e, buffer, bIdx, hIdx, r0, count);
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
    auto [keys, sliceProjection] =
        keySlice(e, k, projection, slice, bIdx, hIdx, e.idx(0), keys0, f0);
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
    // are the chunk's up to its last row -- none for a group past the end,
    // whose `skipped` would reach past the sequence -- clipped at the key
    // limit (at most the chunk: the min bounds them for the lowerings).
    Value qn = arith::MaxSIOp::create(
        b, loc, e.min(e.idx(rows), e.sub(e.idx(n), q0)), e.idx(0));
    Value kn = e.min(e.idx(chunk),
                     arith::SelectOp::create(
                         b, loc,
                         arith::CmpIOp::create(
                             b, loc, arith::CmpIPredicate::sgt, qn, e.idx(0)),
                         e.add(skipped, qn), e.idx(0)));
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
  reduceStateForGPU(op, e, k, v, op.getFeatureMap(), projection, features,
                    op.getKeyLengths(), state, norm, /*weights=*/Value());

  // The output, rows-per-instance query rows per instance.
  forRowGroupsForGPU(
      e, q, blockQ, rows, [&](Value bIdx, Value hIdx, Value q0, Value qn) {
        LinearOutputOp::create(
            b, loc, rowsOf(q, bIdx, hIdx, q0, qn), Value(), Value(), Value(),
            op.getFeatureMap(), projection, stateOf(e, state, bIdx, hIdx),
            e.view(norm, {bIdx, hIdx}, {index(0)}, {index(features)}),
            rowsOf(out, bIdx, hIdx, q0, qn));
      });
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
  Emitter::Result result = e.allocResult(op.getResult(), resultType.getShape(),
                                         resultType.getElementType());
  Value out = result.view;

  if (rowsPerInstance > 0) {
    // The causal form's query tiles are its chunks.
    const int64_t tile = op.getCausal() ? chunk : blockQ;
    const int64_t rows = std::min(rowsPerInstance, tile);
    if (tile % rows != 0)
      return op.emitOpError("attn-tile's rows-per-instance (")
             << rows << ") must divide the query tile (" << tile << ")";
    tileLinearForGPU(op, e, q, k, v, out, projection, features, blockQ, chunk,
                     rows);
    op.replaceAllUsesWith(e.resultTensor(result, resultType));
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
    LinearStateOp::create(b, loc, view(k, k0, kn), view(v, k0, kn), Value(),
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
  op.replaceAllUsesWith(e.resultTensor(result, resultType));
  op.erase();
  return success();
}

//===----------------------------------------------------------------------===//
// attn.linear_grad
//===----------------------------------------------------------------------===//

/// Whether attn.linear_grad takes the tiled form: non-causal, an
/// elementwise feature map and static shapes, and on the GPU the shapes
/// that the gradient tile ops' tensor-core lowering takes (bf16, f16 or f32
/// inputs, head dims multiples of 16). Every other form is
/// decomposeLinearGrad's linalg.generics.
bool tilesLinearGrad(LinearGradOp op, bool gpu) {
  auto map = op.getFeatureMap().getDefiningOp<FeatureMap>();
  if (op.getCausal() || !map || map.hasProjection())
    return false;
  for (Value x : {op.getQuery(), op.getKey(), op.getValue()})
    if (!cast<ShapedType>(x.getType()).hasStaticShape())
      return false;
  if (!gpu)
    return true;
  Type elem = cast<ShapedType>(op.getQuery().getType()).getElementType();
  return (elem.isBF16() || elem.isF16() || elem.isF32()) &&
         dimOf(op.getQuery(), 3) % 16 == 0 && dimOf(op.getValue(), 3) % 16 == 0;
}

/// attn.linear_grad's tiled form: the forward's state recomputed, a pass
/// over the queries, the cotangent of the state summed as linear_state
/// sums the state, and a pass over the keys (attn.tile.linear_query_grad,
/// attn.tile.linear_key_grad). On the GPU (rows > 0), nests whose inner
/// instances map to blocks and warps, with [B, H, ...] buffers between
/// them:
///   S, z = 0;  reduceStateForGPU(K, V) into S, z
///   forall (b, h, query tile) { forall rows rows {
///     linear_query_grad(the rows, S[b, h], z[b, h]) into dQ, G, C } }
///   dS, dz = 0;  reduceStateForGPU(Q, G, weights C) into dS, dz
///   forall (b, h, key tile) { forall rows rows {
///     linear_key_grad(the rows below the key limit, dS[b, h], dz[b, h])
///       into dK, dV } }
/// with G [B, H, N, Dv] the scaled cotangents g (query's element type) and
/// C [B, H, N] (f32) the weights of phi(q_i) in dz. On the CPU, a loop per
/// (b, h) over chunks of `chunk` rows, each query chunk's g and c summed
/// into dS and dz as soon as they are written. Keys past the key limit get
/// zeros.
LogicalResult tileLinearGrad(LinearGradOp op, int64_t blockQ, int64_t chunk,
                             int64_t rowsPerInstance) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  if (!tilesLinearGrad(op, rowsPerInstance > 0)) {
    FailureOr<SmallVector<Value, 3>> grads = decomposeLinearGrad(b, op);
    if (failed(grads))
      return failure();
    for (auto [result, grad] : llvm::zip_equal(op.getResults(), *grads))
      if (grad)
        result.replaceAllUsesWith(grad);
    op.erase();
    return success();
  }
  Emitter e{b, loc};
  Value q = e.toBuffer(op.getQuery()), k = e.toBuffer(op.getKey()),
        v = e.toBuffer(op.getValue()), out = e.toBuffer(op.getOutput()),
        dOut = e.toBuffer(op.getOutputGrad());
  SmallVector<Emitter::Result, 3> results;
  for (Value r : op.getResults()) {
    auto type = cast<RankedTensorType>(r.getType());
    results.push_back(e.allocResult(r, type.getShape(), type.getElementType()));
  }
  Value dq = results[0].view, dk = results[1].view, dv = results[2].view;
  Value lengths = op.getKeyLengths(), map = op.getFeatureMap();
  // Keys past the key limit: zeros, written once before the passes.
  if (lengths) {
    e.fill(dk, 0.0);
    e.fill(dv, 0.0);
  }
  const int64_t batch = dimOf(q, 0), heads = dimOf(q, 1), nq = dimOf(q, 2),
                nk = dimOf(k, 2), features = dimOf(q, 3), dvs = dimOf(v, 3);
  Type f32 = b.getF32Type(),
       elem = cast<MemRefType>(q.getType()).getElementType();
  auto index = [&](int64_t i) -> OpFoldResult { return b.getIndexAttr(i); };

  if (rowsPerInstance > 0) {
    const int64_t rows = std::min(rowsPerInstance, blockQ);
    if (blockQ % rows != 0)
      return op.emitOpError("attn-tile's rows-per-instance (")
             << rows << ") must divide the query tile (" << blockQ << ")";
    auto alloc = [&](ArrayRef<int64_t> shape, Type type, bool zero) {
      Value buffer =
          memref::AllocOp::create(b, loc, MemRefType::get(shape, type),
                                  ValueRange{}, b.getI64IntegerAttr(64));
      if (zero)
        e.fill(buffer, 0.0);
      return buffer;
    };
    Value state = alloc({batch, heads, features, dvs}, f32, true),
          norm = alloc({batch, heads, features}, f32, true);
    reduceStateForGPU(op, e, k, v, map, Value(), features, lengths, state, norm,
                      /*weights=*/Value());
    Value scaled = alloc({batch, heads, nq, dvs}, elem, false),
          normWeights = alloc({batch, heads, nq}, f32, false);
    auto normAt = [&](Value buffer, Value bIdx, Value hIdx) {
      return e.view(buffer, {bIdx, hIdx}, {index(0)}, {index(features)});
    };
    forRowGroupsForGPU(
        e, q, blockQ, rows, [&](Value bIdx, Value hIdx, Value q0, Value qn) {
          auto rowsAt = [&](Value x) {
            return rowsOf(e, x, bIdx, hIdx, q0, qn);
          };
          LinearQueryGradOp::create(
              b, loc, rowsAt(q), rowsAt(out), rowsAt(dOut), map,
              stateOf(e, state, bIdx, hIdx), normAt(norm, bIdx, hIdx),
              rowsAt(dq), rowsAt(scaled),
              e.view(normWeights, {bIdx, hIdx}, {q0}, {qn}));
        });
    Value stateGrad = alloc({batch, heads, features, dvs}, f32, true),
          normGrad = alloc({batch, heads, features}, f32, true);
    reduceStateForGPU(op, e, q, scaled, map, Value(), features, Value(),
                      stateGrad, normGrad, normWeights);
    forRowGroupsForGPU(
        e, k, blockQ, rows, [&](Value bIdx, Value hIdx, Value k0, Value kn) {
          if (lengths) {
            Value limit = keyLimitFromLengths(e, lengths, bIdx, e.idx(nk));
            kn = arith::MaxSIOp::create(b, loc, e.min(kn, e.sub(limit, k0)),
                                        e.idx(0));
          }
          auto rowsAt = [&](Value x) {
            return rowsOf(e, x, bIdx, hIdx, k0, kn);
          };
          LinearKeyGradOp::create(b, loc, rowsAt(k), rowsAt(v), map,
                                  stateOf(e, stateGrad, bIdx, hIdx),
                                  normAt(normGrad, bIdx, hIdx), rowsAt(dk),
                                  rowsAt(dv));
        });
  } else {
    auto forall = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{index(batch), index(heads)},
        ValueRange{}, std::nullopt);
    atBodyEnd(b, forall);
    Value bIdx = forall.getInductionVar(0), hIdx = forall.getInductionVar(1);
    auto scratch = [&](ArrayRef<int64_t> shape, Type type, bool zero) {
      Value buffer =
          memref::AllocaOp::create(b, loc, MemRefType::get(shape, type));
      if (zero)
        e.fill(buffer, 0.0);
      return buffer;
    };
    Value state = scratch({features, dvs}, f32, true),
          norm = scratch({features}, f32, true),
          stateGrad = scratch({features, dvs}, f32, true),
          normGrad = scratch({features}, f32, true),
          scaled = scratch({chunk, dvs}, elem, false),
          normWeights = scratch({chunk}, f32, false);
    Value keyLimit = e.idx(nk);
    if (lengths)
      keyLimit = keyLimitFromLengths(e, lengths, bIdx, keyLimit);
    auto chunks = [&](Value count,
                      llvm::function_ref<void(Value, Value)> body) {
      auto loop = scf::ForOp::create(b, loc, e.idx(0), count, e.idx(chunk));
      atBodyEnd(b, loop);
      Value r0 = loop.getInductionVar();
      body(r0, e.min(e.idx(chunk), e.sub(count, r0)));
      b.setInsertionPointAfter(loop);
    };
    auto rowsAt = [&](Value x, Value r0, Value rn) {
      return rowsOf(e, x, bIdx, hIdx, r0, rn);
    };
    chunks(keyLimit, [&](Value k0, Value kn) {
      LinearStateOp::create(b, loc, rowsAt(k, k0, kn), rowsAt(v, k0, kn),
                            Value(), map, Value(), state, norm);
    });
    chunks(e.idx(nq), [&](Value q0, Value qn) {
      Value g = e.view2D(scaled, {}, e.idx(0), qn, index(0), index(dvs), 0, 1);
      Value c = e.view(normWeights, {}, {index(0)}, {qn});
      LinearQueryGradOp::create(b, loc, rowsAt(q, q0, qn), rowsAt(out, q0, qn),
                                rowsAt(dOut, q0, qn), map, state, norm,
                                rowsAt(dq, q0, qn), g, c);
      LinearStateOp::create(b, loc, rowsAt(q, q0, qn), g, c, map, Value(),
                            stateGrad, normGrad);
    });
    chunks(keyLimit, [&](Value k0, Value kn) {
      LinearKeyGradOp::create(b, loc, rowsAt(k, k0, kn), rowsAt(v, k0, kn), map,
                              stateGrad, normGrad, rowsAt(dk, k0, kn),
                              rowsAt(dv, k0, kn));
    });
    b.setInsertionPointAfter(forall);
  }
  for (auto [result, buffers] : llvm::zip_equal(op.getResults(), results))
    result.replaceAllUsesWith(e.resultTensor(buffers, result.getType()));
  op.erase();
  return success();
}

//===----------------------------------------------------------------------===//
// attn.ssm
//===----------------------------------------------------------------------===//

/// attn.ssm's parameters, as attn.ssm_grad has them too.
struct SsmParams {
  Value logAReal, aImag, bReal, bImag, cReal, cImag, logDt;

  template <typename SsmLike> static SsmParams of(SsmLike op) {
    return {op.getLogAReal(), op.getAImag(), op.getBReal(), op.getBImag(),
            op.getCReal(),    op.getCImag(), op.getLogDt()};
  }
};

/// One direction's C, [H, S]: C itself, or C[dir] of a bidirectional
/// [2, H, S].
Value directionOf(Emitter &e, Value c, std::optional<int64_t> dir) {
  if (!dir)
    return c;
  OpBuilder &b = e.b;
  auto type = cast<RankedTensorType>(c.getType());
  const int64_t channels = type.getDimSize(1), state = type.getDimSize(2);
  SmallVector<OpFoldResult> offsets{b.getIndexAttr(*dir), b.getIndexAttr(0),
                                    b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes{b.getIndexAttr(1), b.getIndexAttr(channels),
                                  b.getIndexAttr(state)};
  SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(
      b, e.loc,
      RankedTensorType::get({channels, state}, type.getElementType()), c,
      offsets, sizes, strides);
}

/// Complex arithmetic on (re, im) pairs of f32 scalars, for the bodies of
/// the SSM's elementwise generics.
struct Complex {
  Value re, im;
};
struct ComplexBuilder {
  OpBuilder &b;
  Location l;
  Value mulf(Value x, Value y) { return arith::MulFOp::create(b, l, x, y); }
  Value addf(Value x, Value y) { return arith::AddFOp::create(b, l, x, y); }
  Value subf(Value x, Value y) { return arith::SubFOp::create(b, l, x, y); }
  Value divf(Value x, Value y) { return arith::DivFOp::create(b, l, x, y); }
  Value negf(Value x) { return arith::NegFOp::create(b, l, x); }
  Value cst(double v) {
    return arith::ConstantOp::create(b, l, b.getF32FloatAttr(v));
  }
  Complex mul(Complex x, Complex y) {
    return {subf(mulf(x.re, y.re), mulf(x.im, y.im)),
            addf(mulf(x.re, y.im), mulf(x.im, y.re))};
  }
  Complex add(Complex x, Complex y) {
    return {addf(x.re, y.re), addf(x.im, y.im)};
  }
  Complex conj(Complex x) { return {x.re, negf(x.im)}; }
  Complex scale(Value s, Complex x) { return {mulf(s, x.re), mulf(s, x.im)}; }
  Complex div(Complex x, Complex y) {
    Value den = addf(mulf(y.re, y.re), mulf(y.im, y.im));
    return {divf(addf(mulf(x.re, y.re), mulf(x.im, y.im)), den),
            divf(subf(mulf(x.im, y.re), mulf(x.re, y.im)), den)};
  }

  /// S4D's discretisation of one (channel, mode), from its parameters:
  /// A = -exp(log_a_real) + i a_imag, dt = exp(log_dt), Abar = exp(dt A),
  /// q = (Abar - 1) / A (Bbar = q B).
  struct Discretised {
    Complex a, abar, q;
    Value dt;
  };
  Discretised discretise(Value logAReal, Value aImag, Value logDt) {
    Discretised d;
    d.a = {negf(math::ExpOp::create(b, l, logAReal)), aImag};
    d.dt = math::ExpOp::create(b, l, logDt);
    // Abar = exp(dt aRe) (cos(dt aIm) + i sin(dt aIm))
    Value mag = math::ExpOp::create(b, l, mulf(d.dt, d.a.re));
    Value phase = mulf(d.dt, d.a.im);
    d.abar = {mulf(mag, math::CosOp::create(b, l, phase)),
              mulf(mag, math::SinOp::create(b, l, phase))};
    d.q = div({subf(d.abar.re, cst(1.0)), d.abar.im}, d.a);
    return d;
  }
};

/// An elementwise linalg.generic over [H, S] tensors (a rank-1 input
/// [H] is read per channel) with `results` [H, S] results.
SmallVector<Value>
channelModeGeneric(Emitter &e, ValueRange ins, unsigned results,
                   function_ref<SmallVector<Value>(ComplexBuilder &,
                                                   ValueRange)>
                       body) {
  OpBuilder &b = e.b;
  MLIRContext *ctx = b.getContext();
  RankedTensorType type;
  for (Value v : ins)
    if (auto t = cast<RankedTensorType>(v.getType()); t.getRank() == 2)
      type = t;
  AffineMap id = AffineMap::getMultiDimIdentityMap(2, ctx);
  AffineMap perChannel = AffineMap::get(2, 0, {getAffineDimExpr(0, ctx)}, ctx);
  SmallVector<AffineMap> maps;
  for (Value v : ins)
    maps.push_back(cast<RankedTensorType>(v.getType()).getRank() == 1
                       ? perChannel
                       : id);
  maps.append(results, id);
  Value init = tensor::EmptyOp::create(b, e.loc, type.getShape(),
                                       type.getElementType());
  auto generic = linalg::GenericOp::create(
      b, e.loc, SmallVector<Type>(results, type), ins,
      SmallVector<Value>(results, init), maps,
      SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location l, ValueRange args) {
        ComplexBuilder cb{nb, l};
        linalg::YieldOp::create(nb, l, body(cb, args));
      });
  return generic.getResults();
}

/// factor * sum_n x[h, n] of an [H, S] tensor, [H].
Value sumModes(Emitter &e, Value x, double factor) {
  MLIRContext *ctx = e.b.getContext();
  auto type = cast<RankedTensorType>(x.getType());
  AffineMap id = AffineMap::getMultiDimIdentityMap(2, ctx);
  AffineMap perChannel = AffineMap::get(2, 0, {getAffineDimExpr(0, ctx)}, ctx);
  Value init = buildZeros(
      e.b, e.loc, RankedTensorType::get({type.getDimSize(0)}, e.b.getF32Type()));
  return linalg::GenericOp::create(
             e.b, e.loc, TypeRange{init.getType()}, ValueRange{x},
             ValueRange{init}, ArrayRef<AffineMap>{id, perChannel},
             {utils::IteratorType::parallel, utils::IteratorType::reduction},
             [&](OpBuilder &nb, Location l, ValueRange a) {
               ComplexBuilder cb{nb, l};
               Value v = factor == 1.0 ? a[0] : cb.mulf(cb.cst(factor), a[0]);
               linalg::YieldOp::create(nb, l, cb.addf(a[1], v));
             })
      .getResult(0);
}

/// The discretised coefficients of an S4D layer, [H, S] each:
///   Abar = exp(dt A), W = C (Abar - 1) / A B, for C = c_real + i c_imag
/// (c_real, c_imag [H, S], or one direction of [2, H, S]); for a chunked
/// scan also Abar^T = exp(T dt A), which carries a state over a chunk of T
/// steps.
struct SsmCoefficients {
  Value abarRe, abarIm, wRe, wIm;
  Value chunkRe = {}, chunkIm = {};
};

SsmCoefficients discretize(Emitter &e, const SsmParams &p,
                           std::optional<int64_t> dir, int64_t chunk) {
  Value cRe = directionOf(e, p.cReal, dir), cIm = directionOf(e, p.cImag, dir);
  SmallVector<Value> r = channelModeGeneric(
      e, {p.logAReal, p.aImag, p.bReal, p.bImag, cRe, cIm, p.logDt},
      chunk ? 6 : 4, [&](ComplexBuilder &cb, ValueRange args) {
        auto d = cb.discretise(args[0], args[1], args[6]);
        Complex w = cb.mul({args[4], args[5]},
                           cb.mul(d.q, Complex{args[2], args[3]}));
        SmallVector<Value> yielded{d.abar.re, d.abar.im, w.re, w.im};
        if (chunk) {
          // Abar^T = exp(T dt aRe) (cos(T dt aIm) + i sin(T dt aIm)): exact,
          // where T multiplications of Abar would round T times.
          Value steps = cb.cst(static_cast<double>(chunk));
          Value magT = math::ExpOp::create(
              cb.b, cb.l, cb.mulf(steps, cb.mulf(d.dt, d.a.re)));
          Value phaseT = cb.mulf(steps, cb.mulf(d.dt, d.a.im));
          yielded.push_back(
              cb.mulf(magT, math::CosOp::create(cb.b, cb.l, phaseT)));
          yielded.push_back(
              cb.mulf(magT, math::SinOp::create(cb.b, cb.l, phaseT)));
        }
        return yielded;
      });
  SsmCoefficients c{r[0], r[1], r[2], r[3]};
  if (chunk) {
    c.chunkRe = r[4];
    c.chunkIm = r[5];
  }
  return c;
}

/// One scan of the diagonal recurrence over every batch entry and channel
/// group of a [B, L, H] sequence: the input's rows [0, len - shift) (len
/// the entry's length), its outputs written, or added, at row + shift of
/// the output.
struct ScanSpec {
  SsmCoefficients c;
  bool reverse;
  bool accumulate;
  int64_t shift = 0;
};

/// How attn-tile splits an S4D layer's scans into instances: (batch entry,
/// channel group), and with chunks of `chunk` positions the chunk.
struct SsmInstances {
  Emitter &e;
  Value lengths; // or null
  int64_t batch, length, channels, modes, group, chunk, chunks;

  SsmInstances(Emitter &e, Value lengths, RankedTensorType xType, int64_t modes,
               int64_t group, int64_t chunk)
      : e(e), lengths(lengths), batch(xType.getDimSize(0)),
        length(xType.getDimSize(1)), channels(xType.getDimSize(2)),
        modes(modes), group(group), chunk(chunk),
        chunks(chunk ? llvm::divideCeil(length, chunk) : 1) {}

  /// Instances along the channels: groups of `group`.
  int64_t groups() const { return llvm::divideCeil(channels, group); }

  struct Instance {
    Value bIdx, c0, cn, row0, rows;
  };

  scf::ForallOp forall(bool perChunk) {
    OpBuilder &b = e.b;
    SmallVector<OpFoldResult> bounds{b.getIndexAttr(batch),
                                     b.getIndexAttr(groups())};
    if (perChunk)
      bounds.push_back(b.getIndexAttr(chunks));
    auto loop =
        scf::ForallOp::create(b, e.loc, bounds, ValueRange{}, std::nullopt);
    atBodyEnd(b, loop);
    return loop;
  }

  /// Rows [k T, min((k + 1) T, len - shift)) of the instance's chunk k (the
  /// whole sequence without chunks), len the batch entry's length: none for
  /// chunks wholly past it.
  Instance instance(scf::ForallOp loop, bool perChunk, int64_t shift = 0) {
    OpBuilder &b = e.b;
    Instance in;
    in.bIdx = loop.getInductionVar(0);
    in.c0 = e.mul(loop.getInductionVar(1), group);
    in.cn = e.min(e.idx(group), e.sub(e.idx(channels), in.c0));
    Value len = e.idx(length);
    if (lengths)
      len = keyLimitFromLengths(e, lengths, in.bIdx, len);
    if (shift)
      len = arith::MaxSIOp::create(b, e.loc, e.sub(len, e.idx(shift)),
                                   e.idx(0));
    if (!perChunk) {
      in.row0 = e.idx(0);
      in.rows = len;
      return in;
    }
    in.row0 = e.mul(loop.getInductionVar(2), chunk);
    in.rows = arith::MaxSIOp::create(
        b, e.loc, e.min(e.idx(chunk), e.sub(len, in.row0)), e.idx(0));
    return in;
  }

  /// The instance's rows of a [B, L, H] buffer, `shift` rows further.
  Value seqView(Value buffer, const Instance &in, int64_t shift = 0) {
    Value row0 = shift ? e.add(in.row0, e.idx(shift)) : in.row0;
    return e.view2D(buffer, {in.bIdx}, row0, in.rows, in.c0, in.cn, 1, 2);
  }
  /// The instance's channels of an [H, S] buffer.
  Value coeffView(Value buffer, const Instance &in) {
    return e.view2D(buffer, {}, in.c0, in.cn, e.b.getIndexAttr(0),
                    e.b.getIndexAttr(modes), 0, 1);
  }
  /// The instance's channels of a [B, ..., H, S] buffer at `lead`.
  Value stateView(Value buffer, const Instance &in, ValueRange lead) {
    return e.view(buffer, lead, {in.c0, e.b.getIndexAttr(0)},
                  {in.cn, e.b.getIndexAttr(modes)});
  }

  Value alloc(ArrayRef<int64_t> shape) {
    return memref::AllocOp::create(e.b, e.loc,
                                   MemRefType::get(shape, e.b.getF32Type()),
                                   ValueRange{}, e.b.getI64IntegerAttr(64));
  }

  /// Runs `scans` from `input` into `output` (buffers [B, L, H]): one scan
  /// per instance over the whole sequence, or, with chunks, every chunk's
  /// state from zero, the states carried over the chunks (each replaced by
  /// the state its chunk is entered with), then every chunk's output from
  /// that state.
  void run(Value input, Value output, ArrayRef<ScanSpec> scans) {
    OpBuilder &b = e.b;
    auto scan = [&](const Instance &in, const ScanSpec &s, Value out,
                    Value initRe, Value initIm, Value stateRe,
                    Value stateIm) {
      const SsmCoefficients &c = s.c;
      SsmScanOp::create(b, e.loc, seqView(input, in),
                        coeffView(c.abarRe, in), coeffView(c.abarIm, in),
                        coeffView(c.wRe, in), coeffView(c.wIm, in), initRe,
                        initIm, out, stateRe, stateIm, s.reverse,
                        /*accumulate=*/out && s.accumulate);
    };
    if (!chunk) {
      scf::ForallOp loop = forall(false);
      for (const ScanSpec &s : scans) {
        Instance in = instance(loop, false, s.shift);
        scan(in, s, seqView(output, in, s.shift), {}, {}, {}, {});
      }
      b.setInsertionPointAfter(loop);
      return;
    }
    // States [B, K, H, S] per scan, a group's channels contiguous.
    SmallVector<std::pair<Value, Value>> states;
    for (size_t i = 0; i < scans.size(); ++i)
      states.push_back({alloc({batch, chunks, channels, modes}),
                        alloc({batch, chunks, channels, modes})});
    {
      scf::ForallOp loop = forall(true);
      Value k = loop.getInductionVar(2);
      for (auto [i, s] : llvm::enumerate(scans)) {
        Instance in = instance(loop, true, s.shift);
        scan(in, s, {}, {}, {}, stateView(states[i].first, in, {in.bIdx, k}),
             stateView(states[i].second, in, {in.bIdx, k}));
      }
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
      for (auto [i, s] : llvm::enumerate(scans))
        SsmCarryOp::create(b, e.loc, chunkStates(states[i].first),
                           chunkStates(states[i].second),
                           coeffView(s.c.chunkRe, in),
                           coeffView(s.c.chunkIm, in), s.reverse);
      b.setInsertionPointAfter(loop);
    }
    // The outputs: one loop for all scans, or, where a scan writes rows
    // shifted from its chunk's, one per scan -- its last row is the next
    // chunk's first, which another instance may be adding to at once.
    const bool shifted =
        llvm::any_of(scans, [](const ScanSpec &s) { return s.shift != 0; });
    auto outputs = [&](ArrayRef<std::pair<size_t, ScanSpec>> group) {
      scf::ForallOp loop = forall(true);
      Value k = loop.getInductionVar(2);
      for (auto [i, s] : group) {
        Instance in = instance(loop, true, s.shift);
        scan(in, s, seqView(output, in, s.shift),
             stateView(states[i].first, in, {in.bIdx, k}),
             stateView(states[i].second, in, {in.bIdx, k}), {}, {});
      }
      b.setInsertionPointAfter(loop);
    };
    SmallVector<std::pair<size_t, ScanSpec>> all;
    for (auto [i, s] : llvm::enumerate(scans))
      all.push_back({i, s});
    if (!shifted)
      outputs(all);
    else
      for (auto &one : all)
        outputs(one);
  }
};

/// The checks and the instance geometry attn.ssm and attn.ssm_grad share.
template <typename SsmLike>
FailureOr<SsmInstances> planSsm(Emitter &e, SsmLike op,
                                int64_t channelsPerScan, int64_t chunkOption,
                                bool gpuForm) {
  auto xType = cast<RankedTensorType>(op.getInput().getType());
  if (!xType.hasStaticShape())
    return op.emitOpError("attn-tile needs static shapes for the ssm");
  if (!xType.getElementType().isF32() ||
      !cast<ShapedType>(op.getLogAReal().getType()).getElementType().isF32())
    return op.emitOpError("the ssm scan computes in f32; got ")
           << xType.getElementType();
  const int64_t batch = xType.getDimSize(0), length = xType.getDimSize(1);
  const int64_t channels = xType.getDimSize(2);
  const int64_t modes =
      cast<ShapedType>(op.getLogAReal().getType()).getDimSize(1);
  // 0: a group is what one warp of the GPU scan takes at once.
  const int64_t group = std::min(
      channelsPerScan ? channelsPerScan : ssmChannelsPerWarp(modes), channels);
  const int64_t groups = llvm::divideCeil(channels, group);
  int64_t chunk = chunkOption;
  if (chunk == -1)
    chunk = gpuForm ? ssmChunkLength(batch * groups, length,
                                     TargetAttr::lookup(op).getMultiprocessors())
                    : 0;
  // A single chunk is the sequence: no states to carry.
  if (chunk >= length)
    chunk = 0;
  return SsmInstances(e, op.getLengths(), xType, modes, group, chunk);
}

/// Each direction's coefficients, as buffers.
template <typename SsmLike>
SmallVector<SsmCoefficients> discretizeDirections(Emitter &e, SsmLike op,
                                                  int64_t chunk) {
  SsmParams p = SsmParams::of(op);
  const bool bidirectional = op.getBidirectional();
  SmallVector<SsmCoefficients> dirs{discretize(
      e, p, bidirectional ? std::optional<int64_t>(0) : std::nullopt, chunk)};
  if (bidirectional)
    dirs.push_back(discretize(e, p, 1, chunk));
  return dirs;
}

void toBuffers(Emitter &e, SsmCoefficients &c) {
  for (Value *v :
       {&c.abarRe, &c.abarIm, &c.wRe, &c.wIm, &c.chunkRe, &c.chunkIm})
    if (*v)
      *v = e.toBuffer(*v);
}

// y = the causal scan (x_t = Abar x_{t-1} + W u_t, y_t = 2 Re sum x_t),
// plus with `bidirectional` the anti-causal one of C[1], added.
LogicalResult tileSsm(SsmOp op, int64_t channelsPerScan, int64_t chunkOption,
                      bool gpuForm) {
  OpBuilder b(op);
  Emitter e{b, op.getLoc()};
  FailureOr<SsmInstances> plan =
      planSsm(e, op, channelsPerScan, chunkOption, gpuForm);
  if (failed(plan))
    return failure();
  SmallVector<SsmCoefficients> dirs = discretizeDirections(e, op, plan->chunk);
  for (SsmCoefficients &c : dirs)
    toBuffers(e, c);

  auto xType = cast<RankedTensorType>(op.getInput().getType());
  Value out = plan->alloc(xType.getShape());
  if (op.getLengths())
    e.fill(out, 0.0); // positions past a length stay zero
  SmallVector<ScanSpec> scans{{dirs[0], /*reverse=*/false,
                               /*accumulate=*/false}};
  if (dirs.size() == 2)
    scans.push_back({dirs[1], /*reverse=*/true, /*accumulate=*/true});
  plan->run(e.toBuffer(op.getInput()), out, scans);
  op.replaceAllUsesWith(e.toTensor(out, xType));
  op.erase();
  return success();
}

/// The SSM gradient's adjoint sums P and Q of `sums` (per batch entry and
/// direction, [B, H, S] each part) from the input `u`, the output
/// gradient `g` and each direction's Abar. The GPU form's adjoint
/// (`ownGroups`) lays fewer channels on a warp than its scans (8 modes a
/// lane, not 16): its own groups, so that a warp walks the rows once and
/// twice the warps share the work.
void runAdjoints(OpBuilder &b, Location loc, const SsmInstances &plan,
                 ArrayRef<SsmCoefficients> dirs, Value u, Value g,
                 ArrayRef<std::array<Value, 4>> sums, bool ownGroups) {
  SsmInstances adjoint = plan;
  if (ownGroups)
    adjoint.group =
        std::min(ssmAdjointChannelsPerWarp(plan.modes), plan.channels);
  scf::ForallOp loop = adjoint.forall(false);
  SsmInstances::Instance in = adjoint.instance(loop, false);
  for (auto [d, c] : llvm::enumerate(dirs)) {
    // (Structured bindings are not captured before C++20.)
    size_t dir = d;
    auto part = [&](unsigned i) {
      return adjoint.stateView(sums[dir][i], in, {in.bIdx});
    };
    SsmAdjointOp::create(b, loc, adjoint.seqView(u, in), adjoint.seqView(g, in),
                         adjoint.coeffView(c.abarRe, in),
                         adjoint.coeffView(c.abarIm, in), part(0), part(1),
                         part(2), part(3), /*reverse=*/d == 1);
  }
  b.setInsertionPointAfter(loop);
}

/// duTensor + K[0] g below each length (`kernel0` K[0] per channel).
Value addDirectTerm(OpBuilder &b, Location loc, SsmGradOp op, Value kernel0,
                    Value duTensor) {
  auto xType = cast<RankedTensorType>(duTensor.getType());
  MLIRContext *ctx = b.getContext();
  AffineMap id = AffineMap::getMultiDimIdentityMap(3, ctx);
  AffineMap perChannel = AffineMap::get(3, 0, {getAffineDimExpr(2, ctx)}, ctx);
  AffineMap perBatch = AffineMap::get(3, 0, {getAffineDimExpr(0, ctx)}, ctx);
  SmallVector<Value> ins{op.getOutputGrad(), kernel0};
  SmallVector<AffineMap> maps{id, perChannel};
  if (op.getLengths()) {
    ins.push_back(op.getLengths());
    maps.push_back(perBatch);
  }
  maps.push_back(id);
  Value lengths = op.getLengths();
  return linalg::GenericOp::create(
             b, loc, TypeRange{xType}, ins, ValueRange{duTensor}, maps,
             SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location l, ValueRange a) {
               ComplexBuilder cb{nb, l};
               Value sum = cb.addf(a.back(), cb.mulf(a[0], a[1]));
               if (lengths) {
                 Value t = linalg::IndexOp::create(nb, l, 1);
                 Value len =
                     arith::IndexCastOp::create(nb, l, nb.getIndexType(), a[2]);
                 Value kept = arith::CmpIOp::create(
                     nb, l, arith::CmpIPredicate::slt, t, len);
                 sum = arith::SelectOp::create(nb, l, kept, sum, a.back());
               }
               linalg::YieldOp::create(nb, l, sum);
             })
      .getResult(0);
}

/// The adjoint sums over the batch: [H, S] each.
SmallVector<Value> sumOverBatch(Emitter &e, ArrayRef<std::array<Value, 4>> sums,
                                int64_t batch, int64_t channels, int64_t modes,
                                RankedTensorType coeffType) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  MLIRContext *ctx = b.getContext();
  SmallVector<Value> ins;
  for (auto &parts : sums)
    for (Value p : parts)
      ins.push_back(e.toTensor(
          p, RankedTensorType::get({batch, channels, modes}, b.getF32Type())));
  Value init = buildZeros(b, loc, coeffType);
  AffineMap all = AffineMap::getMultiDimIdentityMap(3, ctx);
  AffineMap reduced = AffineMap::get(
      3, 0, {getAffineDimExpr(1, ctx), getAffineDimExpr(2, ctx)}, ctx);
  SmallVector<AffineMap> maps(ins.size(), all);
  maps.append(ins.size(), reduced);
  auto generic = linalg::GenericOp::create(
      b, loc, SmallVector<Type>(ins.size(), coeffType), ins,
      SmallVector<Value>(ins.size(), init), maps,
      {utils::IteratorType::reduction, utils::IteratorType::parallel,
       utils::IteratorType::parallel},
      [&](OpBuilder &nb, Location l, ValueRange a) {
        SmallVector<Value> acc;
        size_t n = a.size() / 2;
        for (size_t i = 0; i < n; ++i)
          acc.push_back(arith::AddFOp::create(nb, l, a[n + i], a[i]));
        linalg::YieldOp::create(nb, l, acc);
      });
  return SmallVector<Value>(generic.getResults());
}

/// The chain rule through the discretisation, per (channel, mode), from
/// the batch's sums (`summed`): with cotangents as (d/d re, d/d im) pairs,
/// w = x y gives dx = conj(y) dw.
SmallVector<Value> discretisationGradients(Emitter &e, const SsmParams &p,
                                           unsigned numDirs,
                                           ArrayRef<Value> summed) {
  SmallVector<Value> ins{p.logAReal, p.aImag, p.bReal, p.bImag, p.logDt};
  for (size_t d = 0; d < numDirs; ++d) {
    std::optional<int64_t> dir;
    if (numDirs == 2)
      dir = d;
    ins.push_back(directionOf(e, p.cReal, dir));
    ins.push_back(directionOf(e, p.cImag, dir));
  }
  ins.append(summed.begin(), summed.end());
  // Results: log_a_real, a_imag, b_real, b_imag, d(dt) dt, then C per
  // direction.
  return channelModeGeneric(
      e, ins, 5 + 2 * numDirs, [&](ComplexBuilder &cb, ValueRange a) {
        auto disc = cb.discretise(a[0], a[1], a[4]);
        Complex bIn{a[2], a[3]};
        Complex bbar = cb.mul(disc.q, bIn);
        Value two = cb.cst(2.0);
        Complex dBbar{cb.cst(0.0), cb.cst(0.0)};
        Complex dAbar{cb.cst(0.0), cb.cst(0.0)};
        SmallVector<Value> dC;
        for (unsigned d = 0; d < numDirs; ++d) {
          Complex c{a[5 + 2 * d], a[6 + 2 * d]};
          unsigned s = 5 + 2 * numDirs + 4 * d;
          Complex pSum{a[s], a[s + 1]}, qSum{a[s + 2], a[s + 3]};
          Complex dG = cb.conj(cb.scale(two, pSum));
          Complex gd = cb.mul(c, bbar);
          dAbar = cb.add(dAbar, cb.conj(cb.scale(two, cb.mul(gd, qSum))));
          Complex dc = cb.mul(cb.conj(bbar), dG);
          dC.push_back(dc.re);
          dC.push_back(dc.im);
          dBbar = cb.add(dBbar, cb.mul(cb.conj(c), dG));
        }
        // Bbar = q B; q = (Abar - 1) / A.
        Complex dB = cb.mul(cb.conj(disc.q), dBbar);
        Complex dq = cb.mul(cb.conj(bIn), dBbar);
        dAbar = cb.add(dAbar, cb.div(dq, cb.conj(disc.a)));
        Complex dA = cb.conj(cb.div(disc.q, disc.a));
        dA = cb.mul({cb.negf(dA.re), cb.negf(dA.im)}, dq);
        // Abar = exp(z), z = dt A.
        Complex dz = cb.mul(dAbar, cb.conj(disc.abar));
        dA = cb.add(dA, cb.scale(disc.dt, dz));
        Value dDt =
            cb.addf(cb.mulf(disc.a.re, dz.re), cb.mulf(disc.a.im, dz.im));
        // A = -exp(log_a_real) + i a_imag; dt = exp(log_dt).
        SmallVector<Value> out{cb.mulf(dA.re, disc.a.re), dA.im, dB.re, dB.im,
                               cb.mulf(dDt, disc.dt)};
        out.append(dC);
        return out;
      });
}

/// C's gradient part `part` (0 real, 1 imaginary): [H, S], or both
/// directions stacked as [2, H, S] (an elementwise generic that picks by
/// direction: both targets map those).
Value stackDirections(OpBuilder &b, Location loc, ArrayRef<Value> grads,
                      unsigned part, unsigned numDirs, Type cType) {
  if (numDirs == 1)
    return grads[5 + part];
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(cType);
  AffineMap all = AffineMap::getMultiDimIdentityMap(3, ctx);
  AffineMap channelMode = AffineMap::get(
      3, 0, {getAffineDimExpr(1, ctx), getAffineDimExpr(2, ctx)}, ctx);
  Value init =
      tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
  return linalg::GenericOp::create(
             b, loc, TypeRange{type},
             ValueRange{grads[5 + part], grads[7 + part]}, ValueRange{init},
             ArrayRef<AffineMap>{channelMode, channelMode, all},
             SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
             [](OpBuilder &nb, Location l, ValueRange a) {
               Value dir = linalg::IndexOp::create(nb, l, 0);
               Value zero = arith::ConstantIndexOp::create(nb, l, 0);
               Value first = arith::CmpIOp::create(
                   nb, l, arith::CmpIPredicate::eq, dir, zero);
               linalg::YieldOp::create(nb, l,
                                       ValueRange{arith::SelectOp::create(
                                           nb, l, first, a[0], a[1])});
             })
      .getResult(0);
}

// With g = dy and, per direction, a = Abar, G = W:
// - the input's gradient is the adjoint convolution, two scans of g per
//   direction's kernel run the other way: for the causal kernel
//   du_s = 2 Re sum_n sum_{t>=s} a^(t-s) G g_t, the reverse scan (which
//   leaves out t = s) with W = a G plus K[0] g_s, K[0] = 2 Re sum_n G; for
//   the anti-causal one du_s = 2 Re sum_n sum_{t<s} a^(s-t-1) G g_t, the
//   forward scan of W = G written one row later;
// - tile.ssm_adjoint gives each (batch entry, channel, mode) the sums P and
//   Q, so that dG = conj(2 P) and d(Abar) = conj(2 G Q), summed over the
//   batch and the directions;
// - the discretisation's chain rule takes those to the parameters.
LogicalResult tileSsmGrad(SsmGradOp op, int64_t channelsPerScan,
                          int64_t chunkOption, bool gpuForm) {
  OpBuilder b(op);
  Emitter e{b, op.getLoc()};
  Location loc = op.getLoc();
  FailureOr<SsmInstances> plan =
      planSsm(e, op, channelsPerScan, chunkOption, gpuForm);
  if (failed(plan))
    return failure();
  auto xType = cast<RankedTensorType>(op.getInput().getType());
  auto coeffType = cast<RankedTensorType>(op.getLogAReal().getType());
  const int64_t batch = plan->batch, channels = plan->channels,
                modes = plan->modes;
  SmallVector<SsmCoefficients> dirs =
      discretizeDirections(e, op, plan->chunk);

  // The causal kernel's reverse scan takes W = a G; K[0] per channel.
  SsmCoefficients causal = dirs[0];
  {
    SmallVector<Value> aw = channelModeGeneric(
        e, {dirs[0].abarRe, dirs[0].abarIm, dirs[0].wRe, dirs[0].wIm}, 2,
        [](ComplexBuilder &cb, ValueRange a) {
          Complex p = cb.mul({a[0], a[1]}, {a[2], a[3]});
          return SmallVector<Value>{p.re, p.im};
        });
    causal.wRe = aw[0];
    causal.wIm = aw[1];
  }
  Value kernel0 = sumModes(e, dirs[0].wRe, 2.0);
  toBuffers(e, causal);
  for (SsmCoefficients &c : dirs)
    toBuffers(e, c);

  // du: zero past each length; the anti-causal kernel's scan first (it
  // leaves row 0 alone), the causal one's added.
  Value u = e.toBuffer(op.getInput()), g = e.toBuffer(op.getOutputGrad());
  Value du = plan->alloc(xType.getShape());
  e.fill(du, 0.0);
  SmallVector<ScanSpec> scans;
  if (dirs.size() == 2)
    scans.push_back({dirs[1], /*reverse=*/false, /*accumulate=*/true,
                     /*shift=*/1});
  scans.push_back({causal, /*reverse=*/true, /*accumulate=*/true});
  plan->run(g, du, scans);

  // P and Q per (batch entry, direction), [B, H, S] each part.
  SmallVector<std::array<Value, 4>> sums;
  for (size_t d = 0; d < dirs.size(); ++d) {
    std::array<Value, 4> parts;
    for (Value &p : parts)
      p = plan->alloc({batch, channels, modes});
    sums.push_back(parts);
  }
  runAdjoints(b, loc, *plan, dirs, u, g, sums, gpuForm && !channelsPerScan);

  // du += K[0] g below each length.
  Value duTensor = addDirectTerm(b, loc, op, kernel0, e.toTensor(du, xType));

  // The sums over the batch, [H, S].
  SmallVector<Value> summed =
      sumOverBatch(e, sums, batch, channels, modes, coeffType);

  // The chain rule through the discretisation, per (channel, mode).
  SsmParams p = SsmParams::of(op);
  const unsigned numDirs = dirs.size();
  SmallVector<Value> grads = discretisationGradients(e, p, numDirs, summed);

  // d log_dt sums its modes.
  Value dLogDt = sumModes(e, grads[4], 1.0);

  op.getInputGrad().replaceAllUsesWith(duTensor);
  op.getLogARealGrad().replaceAllUsesWith(grads[0]);
  op.getAImagGrad().replaceAllUsesWith(grads[1]);
  op.getBRealGrad().replaceAllUsesWith(grads[2]);
  op.getBImagGrad().replaceAllUsesWith(grads[3]);
  op.getCRealGrad().replaceAllUsesWith(
      stackDirections(b, loc, grads, 0, numDirs, p.cReal.getType()));
  op.getCImagGrad().replaceAllUsesWith(
      stackDirections(b, loc, grads, 1, numDirs, p.cReal.getType()));
  op.getLogDtGrad().replaceAllUsesWith(dLogDt);
  op.erase();
  return success();
}

struct TilePass : public mlir::attn::impl::TileBase<TilePass> {
  using TileBase::TileBase;

  // A module pass: kernels add constant tables and projections to the
  // module.
  /// The options' ranges, checked before anything is tiled, so that a bad
  /// value fails even where no op would read it.
  LogicalResult checkOptions() {
    TileOptions o;
    o.blockQ = blockQ;
    o.blockK = blockK;
    o.gradBlockQ = gradBlockQ;
    o.gradBlockK = gradBlockK;
    o.gradRowsPerInstance = gradRowsPerInstance;
    o.gradFusedQuery = gradFusedQuery;
    o.channels = channels;
    o.ssmChunk = ssmChunk;
    o.rowsPerInstance = rowsPerInstance;
    o.scalarRowsPerInstance = scalarRowsPerInstance;
    if (std::optional<std::string> problem = checkTileOptions(o))
      return getOperation().emitError() << "attn-tile: " << *problem;
    return success();
  }

  /// An unmasked attn.sdpa's tile (a masked one's is its schedule's,
  /// attn-schedule-blocks'): block-q and block-k where given, the target's
  /// choice for the others (AttentionTiles.h), by the pairs each candidate's
  /// tiles cover -- the sequences rounded up to whole tiles. A dynamic
  /// length takes the first candidate.
  AttentionTile forwardTile(SdpaOp op) {
    auto q = cast<ShapedType>(op.getQuery().getType());
    auto k = cast<ShapedType>(op.getKey().getType());
    SmallVector<AttentionTile> candidates =
        forwardTileCandidates(op, {blockQ, blockK});
    int64_t nq = q.getDimSize(2), nk = k.getDimSize(2);
    if (ShapedType::isDynamic(nq) || ShapedType::isDynamic(nk))
      return candidates.front();
    SmallVector<double> work;
    for (AttentionTile t : candidates)
      work.push_back(double(llvm::alignTo(nq, t.q)) * llvm::alignTo(nk, t.k));
    return candidates[chooseTile(work)];
  }

  /// Linear attention's tile: block-q and block-k where given, else
  /// kBaseAttentionTile.
  AttentionTile linearTile() const {
    return withGiven({blockQ, blockK}, kBaseAttentionTile);
  }

  /// The gradient's rows per instance: its own where given, in the GPU
  /// form alone (rows-per-instance 0 is the CPU's).
  int64_t gradRows() const {
    return rowsPerInstance != 0 && gradRowsPerInstance != 0
               ? int64_t(gradRowsPerInstance)
               : int64_t(rowsPerInstance);
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(checkOptions()))
      return signalPassFailure();
    Globals globals(module);
    DenseMap<Operation *, Value> savedLse;
    SmallVector<Operation *> kernels;
    module.walk([&](Operation *op) {
      if (isa<SdpaOp, SdpaGradOp, LinearOp, LinearGradOp, SsmOp, SsmGradOp>(op))
        kernels.push_back(op);
    });
    for (Operation *op : kernels) {
      LogicalResult r =
          TypeSwitch<Operation *, LogicalResult>(op)
              .Case([&](SdpaOp o) {
                AttentionTile tile = forwardTile(o);
                return SdpaTiling(o, globals, rowsPerInstance,
                                  scalarRowsPerInstance)
                    .run(tile.q, tile.k, savedLse);
              })
              .Case([&](SdpaGradOp o) {
                AttentionTile tile =
                    gradientTile({blockQ, blockK}, {gradBlockQ, gradBlockK});
                return SdpaGradTiling(o, globals, gradRows(),
                                      savedLse.lookup(o), gradFusedQuery)
                    .run(tile.q, tile.k);
              })
              .Case([&](LinearOp o) {
                AttentionTile tile = linearTile();
                return tileLinear(o, globals, tile.q, tile.k, rowsPerInstance);
              })
              .Case([&](LinearGradOp o) {
                AttentionTile tile = linearTile();
                return tileLinearGrad(o, tile.q, tile.k, rowsPerInstance);
              })
              .Case([&](SsmOp o) {
                return tileSsm(o, channels, ssmChunk, rowsPerInstance != 0);
              })
              .Case([&](SsmGradOp o) {
                return tileSsmGrad(o, channels, ssmChunk,
                                   rowsPerInstance != 0);
              });
      if (failed(r))
        return signalPassFailure();
    }
    if (rowsPerInstance != 0)
      markGPUMapping(module);
  }

  /// The GPU form's loops say what they become: the outer ones blocks (the
  /// last dimension blockIdx.x), those directly inside them warps unless
  /// they are mapped already (a thread per row: attn.sdpa_grad). Mapped
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
            inner && inner.getRank() == 1 && !inner.getMapping())
          inner.setMappingAttr(
              ArrayAttr::get(ctx, {gpu::GPUWarpMappingAttr::get(ctx, dim(0))}));
    });
  }
};

} // namespace

std::optional<std::string> mlir::attn::checkTileOptions(const TileOptions &o) {
  auto outside = [](int64_t v, int64_t lo, int64_t hi) {
    return v < lo || v > hi;
  };
  std::string problem;
  llvm::raw_string_ostream os(problem);
  if (outside(o.blockQ, 0, kMaxBlockSize) ||
      outside(o.blockK, 0, kMaxBlockSize))
    os << "block-q and block-k must be in [0 (the target's choice), "
       << kMaxBlockSize << "], got " << o.blockQ << " and " << o.blockK;
  else if (outside(o.gradBlockQ, 0, kMaxBlockSize) ||
           outside(o.gradBlockK, 0, kMaxBlockSize) ||
           outside(o.gradRowsPerInstance, 0, kMaxBlockSize))
    os << "grad-block-q, grad-block-k and grad-rows-per-instance must be in "
          "[0, "
       << kMaxBlockSize << "], got " << o.gradBlockQ << ", " << o.gradBlockK
       << " and " << o.gradRowsPerInstance;
  else if (outside(o.rowsPerInstance, 0, kMaxBlockSize) ||
           outside(o.scalarRowsPerInstance, 0, kMaxBlockSize))
    os << "rows-per-instance and scalar-rows-per-instance must be in [0, "
       << kMaxBlockSize << "], got " << o.rowsPerInstance << " and "
       << o.scalarRowsPerInstance;
  else if (outside(o.channels, 0, kMaxBlockSize))
    os << "ssm-channels must be in [0, " << kMaxBlockSize << "], got "
       << o.channels;
  else if (o.ssmChunk < -1)
    os << "ssm-chunk must be positive, 0 (no chunks) or -1 (the target's "
          "choice), got "
       << o.ssmChunk;
  if (problem.empty())
    return std::nullopt;
  return problem;
}

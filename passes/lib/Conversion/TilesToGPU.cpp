//===- TilesToGPU.cpp - attn tile ops to code for one GPU warp ------------===//
//
// After attn-map-loops-to-gpu (a warp per row group), every tile op in a
// kernel is run by the 32 lanes of one warp, for that warp's row group.
// The row group's statistics and accumulator, which attn-tile allocates as
// [rows] and [rows, Dv] buffers, are first re-laid out as each lane's own
// part (its fragment), so that they are registers; then each op is lowered
// in one of two forms:
//
// - tensor cores (bf16/f16, groups of one or two 16-row tiles): the
//   accumulator fragment of each row tile is that of mma.sync.m16n8k16,
//   lane l owning rows l/4 and l/4 + 8 and columns 8j + 2(l%4) + {0,1}.
//   Each warp stages its query tile in shared memory once; softmax_step
//   stages the key and value tile there (the whole block, cp.async), then
//   per warp
//     S = Q K^T                 (ldmatrix, mma.sync; f32; every key
//                                fragment serves both row tiles)
//     m' = max(m, rowmax(S))    (the four lanes of a row by shuffles)
//     P = exp2(S c - m'), l = l exp2(m - m') + rowsum(P), acc = acc exp2(m -
//     m') + P V
//   with c = scale log2(e): the fragment's m is in that base-2 domain and
//   its l is the lane's partial sum; softmax_finalize adds the four partial
//   sums of a row and writes the row once. The key and value tiles are
//   staged first (stageForBlock, StageBlockTiles.cpp): in attn-tile's loop
//   over scheduled key tiles, the next tile's copies are in flight while
//   the current one is computed (a loop pipelined in two stages). On
//   sm_90a, in blocks of whole warpgroups with head dims of multiples of
//   64, the products are wgmma.mma_async instead (stagedReaderOf):
//   the staged tiles swizzled, each warp's A its own registers as above.
// - one row per lane (other element types): each softmax_step becomes the
//   per-key online-softmax loop for the lane's row, on CUDA cores, the
//   step of OnlineSoftmax.h over one key at a time:
//     s = scale * q.k_j   (skipped where the predicate drops the pair)
//     m' = max(m, s); alpha = exp(m - m'); p = exp(s - m')
//     l = alpha l + p; acc = alpha acc + p v_j; m = m'
//   For static head dims up to kMaxRegisterColumns the query row and the
//   accumulator are loaded into registers once per step and carried by
//   the key loop (alpha is 1 where the maximum does not grow: no branch);
//   otherwise they stay in memory, read and written once per key.
//
// Where lanes hold which fragment elements is MmaLayout's table; the
// online-softmax arithmetic of both forms is OnlineSoftmax.h's.
//
//===----------------------------------------------------------------------===//

#include "GPUTiles.h"
#include "WarpgroupMma.h"
#include "attn/Conversion/OnlineSoftmax.h"
#include "attn/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <limits>
#include <map>
#include <numeric>

namespace mlir::attn {
#define GEN_PASS_DEF_CONVERTSOFTMAXTILESTOGPU
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_tiles;

namespace mlir::attn::gpu_tiles {

std::optional<int64_t> upperBound(Value v) {
  if (std::optional<int64_t> c = getConstantIntValue(v))
    return c;
  if (auto min = v.getDefiningOp<arith::MinSIOp>()) {
    std::optional<int64_t> l = upperBound(min.getLhs()),
                           r = upperBound(min.getRhs());
    if (l && r)
      return std::min(*l, *r);
    return l ? l : r;
  }
  if (auto max = v.getDefiningOp<arith::MaxSIOp>()) {
    std::optional<int64_t> l = upperBound(max.getLhs()),
                           r = upperBound(max.getRhs());
    if (l && r)
      return std::max(*l, *r);
  }
  return std::nullopt;
}

std::optional<int64_t> rowBound(Value memref) {
  auto type = cast<MemRefType>(memref.getType());
  if (!type.isDynamicDim(0))
    return type.getDimSize(0);
  if (auto cast = memref.getDefiningOp<memref::CastOp>())
    return rowBound(cast.getSource());
  auto view = memref.getDefiningOp<memref::SubViewOp>();
  if (!view)
    return std::nullopt;
  llvm::SmallBitVector dropped = view.getDroppedDims();
  SmallVector<OpFoldResult> sizes = view.getMixedSizes();
  for (unsigned i = 0; i < sizes.size(); ++i) {
    if (dropped.test(i))
      continue;
    if (std::optional<int64_t> c = getConstantIntValue(sizes[i]))
      return c;
    return upperBound(cast<Value>(sizes[i]));
  }
  return std::nullopt;
}

bool isUniform(Value v, gpu::LaunchOp launch) {
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    if (!launch->isAncestor(arg.getOwner()->getParentOp()))
      return true;
    if (arg.getOwner() == &launch.getBody().front()) {
      gpu::KernelDim3 t = launch.getThreadIds();
      return v != t.x && v != t.y && v != t.z;
    }
    auto loop = dyn_cast<scf::ForOp>(arg.getOwner()->getParentOp());
    return loop && v == loop.getInductionVar() &&
           isUniform(loop.getLowerBound(), launch) &&
           isUniform(loop.getUpperBound(), launch) &&
           isUniform(loop.getStep(), launch);
  }
  Operation *def = v.getDefiningOp();
  if (!launch->isProperAncestor(def))
    return true;
  if (isa<gpu::ThreadIdOp, gpu::LaneIdOp>(def) || def->getNumRegions() != 0)
    return false;
  return llvm::all_of(def->getOperands(),
                      [&](Value o) { return isUniform(o, launch); });
}

bool reachedByWholeBlock(Operation *op, gpu::LaunchOp launch) {
  for (Operation *p = op->getParentOp(); p != launch; p = p->getParentOp()) {
    if (auto ifOp = dyn_cast<scf::IfOp>(p)) {
      if (!isUniform(ifOp.getCondition(), launch))
        return false;
    } else if (auto loop = dyn_cast<scf::ForOp>(p)) {
      if (!isUniform(loop.getLowerBound(), launch) ||
          !isUniform(loop.getUpperBound(), launch) ||
          !isUniform(loop.getStep(), launch))
        return false;
    } else {
      return false;
    }
  }
  return true;
}

int64_t elementBytes(Value memref) {
  return std::max<int64_t>(
      1, getElementTypeOrSelf(memref).getIntOrFloatBitWidth() / 8);
}

Value viewedBuffer(Value memref) {
  auto buffer = memref::skipViewLikeOps(cast<MemrefValue>(memref));
  while (auto transpose = buffer.getDefiningOp<memref::TransposeOp>())
    buffer = memref::skipViewLikeOps(cast<MemrefValue>(transpose.getIn()));
  return buffer;
}

int64_t bufferAlignment(Value memref) {
  int64_t element = elementBytes(memref);
  memref = viewedBuffer(memref);
  if (auto arg = dyn_cast<BlockArgument>(memref))
    return isa<FunctionOpInterface>(arg.getOwner()->getParentOp()) ? 256
                                                                   : element;
  Operation *def = memref.getDefiningOp();
  if (isa<memref::AllocOp, gpu::AllocOp>(def))
    return 256;
  if (auto get = dyn_cast<memref::GetGlobalOp>(def)) {
    auto global = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(
        get, get.getNameAttr());
    if (global && global.getAlignment())
      return std::max<int64_t>(element, *global.getAlignment());
  }
  return element;
}

/// A number `index` is known to be a multiple of (0: it is 0): a
/// constant, products and sums of such (how tiles' offsets are computed),
/// else 1.
static int64_t knownDivisor(OpFoldResult index, int depth = 0) {
  if (std::optional<int64_t> c = getConstantIntValue(index))
    return std::abs(*c);
  auto v = dyn_cast<Value>(index);
  if (!v || depth == 8)
    return 1;
  if (auto mul = v.getDefiningOp<arith::MulIOp>())
    return knownDivisor(mul.getLhs(), depth + 1) *
           knownDivisor(mul.getRhs(), depth + 1);
  if (auto add = v.getDefiningOp<arith::AddIOp>())
    return std::gcd(knownDivisor(add.getLhs(), depth + 1),
                    knownDivisor(add.getRhs(), depth + 1));
  return 1;
}

/// A view's element at `index` along a dimension of static `stride`, in
/// bytes from the view's start, as far as alignment goes: the stride times
/// what the index is known to be a multiple of.
static int64_t stepBytes(OpFoldResult index, int64_t stride, int64_t element) {
  return knownDivisor(index) * stride * element;
}

int64_t knownMultiple(Value memref, ArrayRef<OpFoldResult> indices) {
  auto type = cast<MemRefType>(memref.getType());
  int64_t element = elementBytes(memref);
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)))
    return element;
  int64_t g;
  if (!ShapedType::isDynamic(offset))
    g = std::gcd(bufferAlignment(memref), offset * element);
  else if (auto sub = memref.getDefiningOp<memref::SubViewOp>())
    g = knownMultiple(sub.getSource(), sub.getMixedOffsets());
  else if (auto cast = memref.getDefiningOp<memref::CastOp>())
    g = knownMultiple(cast.getSource(), {});
  else
    return element;
  for (auto [index, stride] : llvm::zip(indices, strides)) {
    if (ShapedType::isDynamic(stride))
      return element;
    g = std::gcd(g, stepBytes(index, stride, element));
  }
  return g;
}

bool hasAlignedRows(Value memref) {
  auto type = cast<MemRefType>(memref.getType());
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)))
    return false;
  return strides[1] == 1 && !ShapedType::isDynamic(strides[0]) &&
         strides[0] * elementBytes(memref) % 16 == 0 &&
         knownMultiple(memref, {}) % 16 == 0;
}

bool holdsRowsInRuns(MemRefType type, int64_t length) {
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)) ||
      strides.back() != 1 || ShapedType::isDynamic(offset) ||
      offset % length != 0)
    return false;
  return llvm::all_of(ArrayRef<int64_t>(strides).drop_back(), [&](int64_t s) {
    return !ShapedType::isDynamic(s) && s % length == 0;
  });
}

Value allocateShared(gpu::LaunchOp launch, int64_t bytes) {
  // After the buffers asked for before, so that they keep that order.
  Block &body = launch.getBody().front();
  auto it = body.begin();
  while (it != body.end() && isa<memref::AllocOp>(*it))
    ++it;
  OpBuilder b(&body, it);
  auto workgroup =
      gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  return memref::AllocOp::create(b, launch.getLoc(),
                                 MemRefType::get({bytes}, b.getI8Type(),
                                                 MemRefLayoutAttrInterface{},
                                                 workgroup));
}

int64_t sharedBytesOf(gpu::LaunchOp launch) {
  int64_t bytes = 0;
  for (Operation &op : launch.getBody().front()) {
    auto alloc = dyn_cast<memref::AllocOp>(op);
    if (!alloc)
      break;
    // attn-allocate-shared-memory's alignment of each buffer.
    bytes += llvm::alignTo(alloc.getType().getNumElements(), 16);
  }
  return bytes;
}

Value sharedView(OpBuilder &b, Location loc, Value buffer,
                 ArrayRef<int64_t> shape, Type elem, Value offset) {
  auto type = cast<MemRefType>(buffer.getType());
  return memref::ViewOp::create(b, loc,
                                MemRefType::get(shape, elem,
                                                MemRefLayoutAttrInterface{},
                                                type.getMemorySpace()),
                                buffer, offset, ValueRange{});
}

SmallVector<Value> stageTile(WarpEmitter &e, Value src, const SharedTile &dst,
                             int64_t rows, int64_t width, Value thread,
                             int64_t threads, Value dstRow0) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value runs = dst.runMemref(b, loc);
  Value srcRows = e.dim(src, 0);
  Value lastRow = arith::MaxSIOp::create(
      b, loc, arith::SubIOp::create(b, loc, srcRows, e.idx(1)), e.idx(0));
  // 16-byte runs: 8 16-bit elements or 4 f32.
  const int64_t run =
      16 * 8 / cast<MemRefType>(src.getType()).getElementTypeBitWidth();
  int64_t perRow = width / run, chunks = rows * perRow;
  auto token = nvgpu::DeviceAsyncTokenType::get(b.getContext());
  SmallVector<Value> copies;
  for (int64_t first = 0; first < chunks; first += threads) {
    Value chunk = e.add(thread, first);
    // The last round may have more threads than chunks: they repeat the
    // last chunk.
    if (first + threads > chunks)
      chunk = arith::MinUIOp::create(b, loc, chunk, e.idx(chunks - 1));
    Value row = arith::DivUIOp::create(b, loc, chunk, e.idx(perRow));
    Value col =
        e.mul(arith::RemUIOp::create(b, loc, chunk, e.idx(perRow)), run);
    Value inside = e.lt(row, srcRows);
    Value elements = e.select(inside, e.idx(run), e.idx(0));
    Value from = arith::MinSIOp::create(b, loc, row, lastRow);
    SmallVector<Value, 2> to =
        dst.runIndices(e, dstRow0 ? e.add(row, dstRow0) : row, col);
    copies.push_back(nvgpu::DeviceAsyncCopyOp::create(
        b, loc, token, runs, to, src, ValueRange{from, col},
        b.getIndexAttr(run), elements, b.getUnitAttr()));
  }
  return copies;
}

Value commitCopies(OpBuilder &b, Location loc, ValueRange copies) {
  return nvgpu::DeviceAsyncCreateGroupOp::create(
      b, loc, nvgpu::DeviceAsyncTokenType::get(b.getContext()), copies);
}

Value rowView(OpBuilder &b, Location loc, Value memref, Value row,
              Value count) {
  auto type = cast<MemRefType>(memref.getType());
  if (type.getRank() == 1)
    return memref::SubViewOp::create(b, loc, memref,
                                     ArrayRef<OpFoldResult>{row},
                                     ArrayRef<OpFoldResult>{count},
                                     ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
  OpFoldResult width = memref::getMixedSize(b, loc, memref, 1);
  return memref::SubViewOp::create(
      b, loc, memref, ArrayRef<OpFoldResult>{row, b.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{count, width},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
}

OpBuilder atDefinition(Value v, gpu::LaunchOp launch) {
  OpBuilder b(v.getContext());
  Operation *def = v.getDefiningOp();
  Block *owner = def ? def->getBlock() : cast<BlockArgument>(v).getOwner();
  if (!launch->isAncestor(owner->getParentOp()))
    b.setInsertionPointToStart(&launch.getBody().front());
  else if (def)
    b.setInsertionPointAfter(def);
  else
    b.setInsertionPointToStart(owner);
  return b;
}

const RowFragments &queryFragments(Value q, Type elem, gpu::LaunchOp launch,
                                   DenseMap<Value, RowFragments> &cache) {
  auto it = cache.find(q);
  if (it != cache.end())
    return it->second;
  OpBuilder b = atDefinition(q, launch);
  Location loc = q.getLoc();
  WarpEmitter e(b, loc, elem);
  int64_t d = cast<MemRefType>(q.getType()).getDimSize(1);
  Value rows = e.dim(q, 0);
  auto loadRow = [&](Value row) {
    auto ifOp = scf::IfOp::create(
        b, loc, e.lt(row, rows),
        [&](OpBuilder &, Location) {
          // The lane's pair of columns of each 8-column tile: one
          // register, or two where each holds an f32.
          SmallVector<Value> regs;
          for (int64_t j = 0; j < d / e.layout.n; ++j) {
            Value pair = vector::LoadOp::create(
                b, loc, VectorType::get({2}, elem), q,
                ValueRange{row, e.add(e.fragCol, e.layout.n * j)},
                /*nontemporal=*/false, e.pairAlignment(elem));
            if (e.splitsTf32())
              for (int64_t i = 0; i < 2; ++i)
                regs.push_back(vector::ExtractOp::create(b, loc, pair,
                                                         ArrayRef<int64_t>{i}));
            else
              regs.push_back(e.asRegister(pair));
          }
          scf::YieldOp::create(b, loc, regs);
        },
        [&](OpBuilder &, Location) {
          Value zero = e.splitsTf32() ? e.cst(0.0) : e.i32(0);
          scf::YieldOp::create(
              b, loc,
              SmallVector<Value>(d / e.layout.n * (e.splitsTf32() ? 2 : 1),
                                 zero));
        });
    return SmallVector<Value>(ifOp.getResults());
  };
  // Row slot h of tile m at RowFragments' index R m + h, as P's.
  RowFragments fragments;
  SmallVector<int64_t, 4> slots = e.layout.c.rowSlots();
  int64_t tiles = llvm::divideCeil(*rowBound(q), e.layout.m);
  for (int64_t m = 0; m < tiles; ++m)
    for (int64_t slot : slots)
      fragments.push_back(loadRow(e.add(e.fragRow, e.layout.m * m + slot)));
  return cache[q] = std::move(fragments);
}

} // namespace mlir::attn::gpu_tiles

namespace {

/// Head dims up to which the per-lane form keeps a row's query and
/// accumulator in registers (unrolled over their columns).
constexpr int64_t kMaxRegisterColumns = 128;

/// The per-lane form's row: one key at a time, its score s (finite: a
/// dropped key is skipped), m and l carried by the key loop, the
/// accumulator in registers (`accValues`) or in memory (row `row` of the
/// op's acc, read and written per key).
class KeyAtATime final : public SoftmaxRows {
public:
  KeyAtATime(ScalarEmitter &e, SoftmaxStepOp op, Value row, Value key,
             Value s, ValueRange state, bool inRegisters)
      : e(e), op(op), row(row), key(key), s(s), m(state[0]), l(state[1]) {
    if (inRegisters)
      accValues.assign(state.begin() + 2, state.end());
  }
  /// m, l and the accumulator's registers after the step.
  SmallVector<Value> state() const {
    SmallVector<Value> out{m, l};
    out.append(accValues);
    return out;
  }

  int64_t numRows() const override { return 1; }
  Value max(OpBuilder &, Location, int64_t) override { return m; }
  Value sum(OpBuilder &, Location, int64_t) override { return l; }
  void setMax(OpBuilder &, Location, int64_t, Value v) override { m = v; }
  void setSum(OpBuilder &, Location, int64_t, Value v) override { l = v; }
  Value scoreMax(OpBuilder &, Location, int64_t) override { return s; }
  Value exponentiate(OpBuilder &b, Location loc, int64_t,
                     Value base) override {
    return p = emitExp(b, loc, arith::SubFOp::create(b, loc, s, base),
                       ExpBase::E);
  }
  void accumulate(OpBuilder &, Location, ArrayRef<Value> alpha) override {
    Value v = op.getValue(), acc = op.getAcc();
    if (!accValues.empty()) {
      for (auto [x, a] : llvm::enumerate(accValues))
        a = e.fma(p, e.load(v, {key, e.idx(x)}), e.mulf(a, alpha[0]));
      return;
    }
    e.loop(e.idx(0), e.dim(v, 1), {}, [&](Value x, ValueRange) {
      e.store(e.fma(p, e.load(v, {key, x}), e.mulf(e.load(acc, {row, x}),
                                                   alpha[0])),
              acc, {row, x});
      return SmallVector<Value>{};
    });
  }

private:
  ScalarEmitter &e;
  SoftmaxStepOp op;
  Value row, key, s, m, l, p;
  SmallVector<Value> accValues;
};

/// softmax_step a row at a time, a key at a time. For static head dims up
/// to kMaxRegisterColumns the row's query and accumulator are registers
/// (loaded once, stored once; the key loop carries the accumulator);
/// otherwise both stay in memory.
LogicalResult lowerSoftmaxStep(SoftmaxStepOp op) {
  OpBuilder b(op);
  ScalarEmitter e{b, op.getLoc()};
  Location loc = op.getLoc();
  Value q = op.getQuery(), k = op.getKey(), acc = op.getAcc();
  int64_t d = cast<MemRefType>(q.getType()).getDimSize(1);
  int64_t dv = cast<MemRefType>(op.getValue().getType()).getDimSize(1);
  bool inRegisters = !ShapedType::isDynamic(d) && !ShapedType::isDynamic(dv) &&
                     d <= kMaxRegisterColumns && dv <= kMaxRegisterColumns;
  Value scale = e.cst(op.getScale().convertToDouble());
  e.loop(e.idx(0), e.dim(q, 0), {}, [&](Value i, ValueRange) {
    SmallVector<Value> query,
        init{e.load(op.getMax(), i), e.load(op.getSum(), i)};
    if (inRegisters) {
      for (int64_t c = 0; c < d; ++c)
        query.push_back(e.load(q, {i, e.idx(c)}));
      for (int64_t x = 0; x < dv; ++x)
        init.push_back(e.load(acc, {i, e.idx(x)}));
    }
    auto dot = [&](Value j) -> Value {
      if (inRegisters) {
        Value sum = e.cst(0.0);
        for (int64_t c = 0; c < d; ++c)
          sum = e.fma(query[c], e.load(k, {j, e.idx(c)}), sum);
        return sum;
      }
      return e.loop(e.idx(0), e.dim(q, 1), {e.cst(0.0)},
                    [&](Value c, ValueRange sum) {
                      return SmallVector<Value>{e.fma(
                          e.load(q, {i, c}), e.load(k, {j, c}), sum[0])};
                    })[0];
    };
    ValueRange state =
        e.loop(e.idx(0), e.dim(k, 0), init, [&](Value j, ValueRange old) {
          auto update = [&]() -> SmallVector<Value> {
            KeyAtATime row(e, op, i, j,
                           emitScoreAt(b, loc, op, e.mulf(dot(j), scale), i, j),
                           old, inRegisters);
            emitOnlineSoftmaxStep(b, loc, row);
            return row.state();
          };
          Value kept = emitKeptAt(b, loc, op, i, j);
          if (!kept)
            return update();
          // A dropped pair leaves the row as it was.
          auto ifKept = scf::IfOp::create(
              b, loc, kept,
              [&](OpBuilder &, Location l) {
                scf::YieldOp::create(b, l, update());
              },
              [&](OpBuilder &, Location l) {
                scf::YieldOp::create(b, l, old);
              });
          return SmallVector<Value>(ifKept.getResults());
        });
    e.store(state[0], op.getMax(), i);
    e.store(state[1], op.getSum(), i);
    for (int64_t x = 0; inRegisters && x < dv; ++x)
      e.store(state[2 + x], acc, {i, e.idx(x)});
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
    if (op.getLse())
      e.store(emitLogSumExp(b, loc, e.load(op.getMax(), i), l), op.getLse(), i);
    Value inv = emitInverseSum(b, loc, l);
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

//===----------------------------------------------------------------------===//
// Row groups and their fragments
//===----------------------------------------------------------------------===//

enum class Form { TensorCore, RowPerLane };

/// The alloca a tile-op operand views, through subviews and casts.
memref::AllocaOp stateBuffer(Value v) {
  while (true) {
    if (auto alloca = v.getDefiningOp<memref::AllocaOp>())
      return alloca;
    if (auto view = v.getDefiningOp<memref::SubViewOp>())
      v = view.getSource();
    else if (auto cast = v.getDefiningOp<memref::CastOp>())
      v = cast.getSource();
    else
      return {};
  }
}

/// The key-tile rows the tensor-core form stages, or nullopt where `op`
/// does not fit it.
std::optional<int64_t> tensorCoreKeyRows(SoftmaxStepOp op, int64_t rows,
                                         gpu::LaunchOp launch) {
  auto qType = cast<MemRefType>(op.getQuery().getType());
  auto kType = cast<MemRefType>(op.getKey().getType());
  auto vType = cast<MemRefType>(op.getValue().getType());
  Type elem = qType.getElementType();
  // f32 on tensor cores in 3xTF32 (WarpEmitter::splitsTf32).
  if (!(elem.isBF16() || elem.isF16() || elem.isF32()) ||
      kType.getElementType() != elem || vType.getElementType() != elem ||
      rows % kMmaRows || rows > kMaxWarpRows)
    return std::nullopt;
  std::optional<int64_t> queryRows = rowBound(op.getQuery());
  if (!queryRows || *queryRows > rows)
    return std::nullopt;
  int64_t d = qType.getDimSize(1), dv = vType.getDimSize(1);
  if (ShapedType::isDynamic(d) || ShapedType::isDynamic(dv) || d % 16 ||
      dv % 16 || kType.getDimSize(1) != d)
    return std::nullopt;
  if (!hasAlignedRows(op.getQuery()) || !hasAlignedRows(op.getKey()) ||
      !hasAlignedRows(op.getValue()))
    return std::nullopt;
  std::optional<int64_t> keys = rowBound(op.getKey());
  std::optional<int64_t> values = rowBound(op.getValue());
  if (!keys || !values || *keys <= 0 || *values > *keys || *keys % 16)
    return std::nullopt;
  if (!getConstantIntValue(launch.getBlockSizeX()) ||
      !reachedByWholeBlock(op, launch))
    return std::nullopt;
  return keys;
}

/// Tensor cores: where a lane keeps element i of 16-row tile m and 8-column
/// tile t of an accumulator `width` columns wide, in its registers (a
/// buffer of constant indices).
int64_t accumulatorIndex(int64_t m, int64_t t, int64_t i, int64_t width) {
  const MmaLayout &layout = MmaLayout::m16n8k16();
  return (m * (width / layout.n) + t) * layout.c.numElements() + i;
}

/// attn-tile's statistics and accumulator of one row group, and what they
/// become: each lane's part of them.
struct RowGroup {
  memref::AllocaOp max, sum, acc;
  Form form = Form::TensorCore;
  int64_t rows = 0, dv = 0;
  Value laneMax, laneSum, laneAcc;
  /// Where the accumulator is (re)set: after each of these ops.
  SmallVector<Operation *> accResets;

  /// The overlapped form (overlap-softmax): each step leaves its P V to the
  /// next step, or to the finalize. Its P (`keyRows` keys: p[r][n] at
  /// r nTiles + n, packed pairs), alpha by row slot, the value tile's
  /// shared address (i64), its stage of the values' ring (index), and
  /// whether a step has left one (i1); the value tiles' element type, and
  /// what releases a value stage.
  bool overlapped = false;
  int64_t keyRows = 0;
  Value lastP, lastAlpha, lastValues, lastStage, pending;
  Type valueElem;
  std::function<void(OpBuilder &, Location, Value)> release;

  int64_t accIndex(int64_t m, int64_t t, int64_t i) const {
    return accumulatorIndex(m, t, i, dv);
  }
  /// A staged value tile ([keyRows, dv], swizzled) as P V's B: MN-major.
  SwizzledTile valueTile() const {
    return SwizzledTile{keyRows, dv, /*kMajor=*/false};
  }
};

/// The lane's part of a row group's state, in the place of attn-tile's
/// buffers. Tensor cores, per 16-row tile m: statistics R m + h (the lane's
/// row slot h of the tile, R of them: FragmentRows' rows) and accumulator
/// registers accIndex(m, t, i); one row per lane: [1] and [1, Dv].
void allocateLaneState(RowGroup &g) {
  auto make = [&](memref::AllocaOp old, ArrayRef<int64_t> shape) -> Value {
    if (!old)
      return {};
    OpBuilder b(old);
    return memref::AllocaOp::create(b, old.getLoc(),
                                    MemRefType::get(shape, b.getF32Type()));
  };
  bool tc = g.form == Form::TensorCore;
  const MmaLayout &layout = MmaLayout::m16n8k16();
  int64_t tiles = g.rows / layout.m;
  int64_t statistics = tc ? tiles * layout.c.rowSlots().size() : 1;
  g.laneMax = make(g.max, {statistics});
  g.laneSum = make(g.sum, {statistics});
  g.laneAcc = tc ? make(g.acc, {g.accIndex(tiles, 0, 0)})
                 : make(g.acc, {1, g.dv});
}

/// Views, fills and tile ops of `buffer`, innermost first; fails on any
/// other use.
LogicalResult collectStateUses(Value buffer,
                               SmallVectorImpl<Operation *> &uses) {
  for (Operation *user : buffer.getUsers()) {
    if (isa<memref::SubViewOp, memref::CastOp>(user)) {
      if (failed(collectStateUses(user->getResult(0), uses)))
        return failure();
    } else if (!isa<linalg::FillOp, linalg::CopyOp, SoftmaxStepOp,
                   SoftmaxFinalizeOp, SoftmaxGradStepOp>(user)) {
      return user->emitOpError(
          "uses a softmax tile's statistics or accumulator; on the GPU only "
          "fills, copies out and attn tile ops may (they live in registers)");
    }
    uses.push_back(user);
  }
  return success();
}

/// Fills of attn-tile's buffer become fills of the lane's part; returns
/// the last op of each. The fills among `uses` are erased: nothing may
/// read them after.
SmallVector<Operation *> replaceFills(ArrayRef<Operation *> uses, Value lane,
                                      Form form) {
  SmallVector<Operation *> filled;
  for (Operation *use : uses) {
    auto fill = dyn_cast<linalg::FillOp>(use);
    if (!fill)
      continue;
    OpBuilder b(fill);
    Value value = fill.getInputs()[0];
    Operation *last = nullptr;
    if (form == Form::RowPerLane) {
      last = linalg::FillOp::create(b, fill.getLoc(), value, lane);
    } else {
      // Constant indices only, so that the fragment stays in registers.
      for (int64_t i = 0, e = cast<MemRefType>(lane.getType()).getDimSize(0);
           i < e; ++i)
        last = memref::StoreOp::create(
            b, fill.getLoc(), value, lane,
            ValueRange{arith::ConstantIndexOp::create(b, fill.getLoc(), i)});
    }
    filled.push_back(last);
    fill.erase();
  }
  return filled;
}

//===----------------------------------------------------------------------===//
// Tensor-core form
//===----------------------------------------------------------------------===//

/// The threads of the block that runs `op` (the tensor-core forms require
/// a static block size).
int64_t blockThreads(Operation *op) {
  return *getConstantIntValue(
      op->getParentOfType<gpu::LaunchOp>().getBlockSizeX());
}

/// The warps' own rows in shared memory (stagedOwnRows), by the warp's
/// view: each warp's padded tile, and the shared buffer that holds the
/// tiles of all the block's warps one after another; and the block's
/// swizzled tiles for warpgroup MMA's descriptors.
struct StagedQueries {
  DenseMap<Value, SharedTile> tiles;
  DenseMap<Value, Value> blocks;
  DenseMap<Value, SharedTile> warpgroupTiles;
  /// The block's query tiles that a producer copies (producer-queries:
  /// stageQueriesForProducer), by the warp's view.
  DenseMap<Value, SharedTile> fromProducer;
  /// A launch's shared buffers of the fused gradient: its dS^T tiles and,
  /// with bulk reductions, its dQ tile.
  struct FusedTiles {
    Value ds, dq;
    int64_t dsBytes = 0, dqBytes = 0;
  };
  DenseMap<Operation *, FusedTiles> fused;
};

/// Whether a softmax_grad_step's own rows `x` (a warp's 16) can be staged
/// for warpgroup MMA's descriptors (stagedOwnRows): its view defined where
/// the whole block runs, so that the block can meet at a barrier there.
bool stagesRowsForWarpgroups(Value x, int64_t rows, gpu::LaunchOp launch) {
  Operation *def = x.getDefiningOp();
  return rows == kMmaRows && def && launch->isProperAncestor(def) &&
         reachedByWholeBlock(def, launch);
}

/// The rows `x` this warp owns ([rows, d]: a step's queries, a gradient
/// step's own side) in shared memory, staged once where `x` is defined,
/// the block's warps' rows one after another in one buffer (rows past a
/// warp's end zeros), each warp copying its own (cp.async):
/// - for ldmatrix (`forWarpgroups` false), each warp's tile padded, and
///   the warp's own returned; its lanes then read rows other lanes copied
///   (a warp barrier). A step loads its A fragments from it: held in
///   registers for the whole key loop they would take 4 per 16 columns of
///   each 16-row tile, which 32-row groups cannot spare.
/// - for warpgroup MMA's descriptors (16 rows a warp: stagesRowsForWarpgroups),
///   one swizzled tile of the block's rows, returned whole: warp w's rows at
///   16 w, so warpgroup g's 64 from 64 g, in the order m64 gives its four
///   warps their rows, and a K-major descriptor makes them the A operand
///   with no register holding A. The copies are fenced for the async proxy
///   and the block meets at a barrier.
SharedTile stagedOwnRows(Value x, Type elem, int64_t rows, gpu::LaunchOp launch,
                         int64_t threads, StagedQueries &staged,
                         bool forWarpgroups) {
  DenseMap<Value, SharedTile> &cache =
      forWarpgroups ? staged.warpgroupTiles : staged.tiles;
  if (auto it = cache.find(x); it != cache.end())
    return it->second;
  OpBuilder b = atDefinition(x, launch);
  Location loc = x.getLoc();
  WarpEmitter e(b, loc, elem);
  const int64_t d = cast<MemRefType>(x.getType()).getDimSize(1);
  const int64_t warps = threads / kWarpLanes;
  Value block, dstRow0;
  std::optional<SharedTile> tile;
  if (forWarpgroups) {
    assert(rows == kMmaRows && "one m64 row tile a warpgroup");
    block = allocateShared(launch, SharedTile::bytes(warps * rows, d, elem,
                                                     TileLayout::Swizzled) +
                                       kSwizzledTileSlack);
    tile = SharedTile::at(b, loc, block,
                          alignmentPadding(e, sharedAddress(b, loc, block)),
                          warps * rows, d, elem, TileLayout::Swizzled);
    dstRow0 = e.mul(e.warpOfBlock(), rows);
  } else {
    const int64_t bytes = SharedTile::bytes(rows, d, elem, TileLayout::Padded);
    block = allocateShared(launch, warps * bytes);
    tile = SharedTile::at(b, loc, block, e.mul(e.warpOfBlock(), bytes), rows,
                          d, elem, TileLayout::Padded);
  }
  Value copied = commitCopies(
      b, loc, stageTile(e, x, *tile, rows, d, e.lane, kWarpLanes, dstRow0));
  nvgpu::DeviceAsyncWaitOp::create(b, loc, copied, b.getI32IntegerAttr(0));
  if (forWarpgroups) {
    fenceSharedForAsyncProxy(b, loc);
  } else {
    // Every lane reads rows that other lanes copied.
    NVVM::SyncWarpOp::create(b, loc, e.i32(-1));
    staged.blocks.try_emplace(x, block);
  }
  cache.try_emplace(x, *tile);
  return *tile;
}

/// The tensor-core form's rows: a lane's row slots of each 16-row tile
/// (row r = R m + h: slot h of row tile m, R = rowSlots(); for m16n8k16
/// rows fragRow and fragRow + 8), its scores of each in the slot's elements
/// of S's accumulator fragments of row tile m (`flat`: tile (m, n) at
/// E (m nTiles + n), E elements a tile), scaled into base 2 by `factor`;
/// the statistics in the lane's buffers, the sum this lane's part of its
/// row's; P as A's registers laid out as RowFragments (WarpEmitter::
/// operandRegisters: `elem` pairs, p[r][n] row r in key tile n; or, for f32,
/// each value, p[r][2 n + i]), which aFragment turns into P V's A operand.
class FragmentRows final : public SoftmaxRows {
public:
  FragmentRows(WarpEmitter &e, const RowGroup &g, ArrayRef<Value> flat,
               double factor, int64_t mTiles, int64_t nTiles)
      : p(e.rowSlots() * mTiles), e(e), g(g), flat(flat), factor(factor),
        nTiles(nTiles) {}

  /// acc = alpha acc + P V, given by the caller (it owns the staging).
  std::function<void(ArrayRef<Value>)> accumulateWith;
  RowFragments p;

  int64_t numRows() const override { return p.size(); }
  ExpBase expBase() const override { return ExpBase::Two; }
  Value max(OpBuilder &, Location, int64_t r) override {
    return e.loadLane(g.laneMax, r);
  }
  Value sum(OpBuilder &, Location, int64_t r) override {
    return e.loadLane(g.laneSum, r);
  }
  void setMax(OpBuilder &, Location, int64_t r, Value m) override {
    e.storeLane(m, g.laneMax, r);
  }
  void setSum(OpBuilder &, Location, int64_t r, Value l) override {
    e.storeLane(l, g.laneSum, r);
  }
  /// With a positive scale the row maximum of the dot products gives that
  /// of the scaled scores (otherwise `flat` is scaled and factor is 1).
  Value scoreMax(OpBuilder &b, Location loc, int64_t r) override {
    Value rowMax = e.cst(-std::numeric_limits<double>::infinity());
    for (int64_t n = 0; n < nTiles; ++n)
      for (Value x : elements(r, n))
        rowMax = arith::MaxNumFOp::create(b, loc, rowMax, x);
    return e.mulf(e.rowReduce(rowMax, true), e.cst(factor));
  }
  /// P as A's registers as soon as it is computed: the f32 scores die here.
  Value exponentiate(OpBuilder &b, Location loc, int64_t r,
                     Value base) override {
    Value negBase = arith::NegFOp::create(b, loc, base);
    Value rowSum = e.cst(0.0);
    for (int64_t n = 0; n < nTiles; ++n) {
      SmallVector<Value, 2> probs;
      for (Value x : elements(r, n)) {
        probs.push_back(emitExp(b, loc, e.fma(x, e.cst(factor), negBase),
                                ExpBase::Two));
        rowSum = e.addf(rowSum, probs.back());
      }
      llvm::append_range(p[r], e.operandRegisters(probs));
    }
    return rowSum;
  }
  void accumulate(OpBuilder &, Location, ArrayRef<Value> alpha) override {
    accumulateWith(alpha);
  }

private:
  /// This lane's scores of row r in key tile n, in column order.
  SmallVector<Value, 2> elements(int64_t r, int64_t n) const {
    int64_t slots = e.rowSlots(), count = e.layout.c.numElements();
    SmallVector<Value, 2> out;
    for (int64_t i : e.layout.c.elementsOfRowSlot(r % slots))
      out.push_back(flat[count * ((r / slots) * nTiles + n) + i]);
    return out;
  }

  WarpEmitter &e;
  const RowGroup &g;
  ArrayRef<Value> flat;
  double factor;
  int64_t nTiles;
};

/// body(mt, n, i, row, column) for each element i of each accumulator tile
/// (mt, n) of `s`, in order, with its row and column in the staged tile (s's
/// column tiles those from n0 on).
void forEachScore(
    WarpEmitter &e, const AccumulatorTiles &s, int64_t n0,
    function_ref<void(int64_t, int64_t, int64_t, Value, Value)> body) {
  for (int64_t mt = 0; mt < static_cast<int64_t>(s.size()); ++mt)
    for (int64_t n = 0; n < static_cast<int64_t>(s[mt].size()); ++n)
      for (int64_t i = 0; i < e.layout.c.numElements(); ++i)
        body(mt, n, i, e.accRow(mt, i), e.accCol(n0 + n, i));
}

/// S's elements with dropped pairs at -inf: columns at or past `columns`,
/// and where `kept` (the predicate at a tile-relative (row, column) of S;
/// only called where `hasPredicate`) says so. s's column tiles are those
/// from column tile n0 of the staged tile. flat[E (m nTiles + n) + i] is
/// element i of s[m][n] (E elements a tile; its row and column from the
/// accumulator's layout). The forward's S, and the gradient's in either
/// orientation.
SmallVector<Value> maskScores(WarpEmitter &e, const AccumulatorTiles &s,
                              int64_t n0, Value columns, bool hasPredicate,
                              function_ref<Value(Value, Value)> kept) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  const int64_t nTiles = s.front().size();
  Value negInf = e.cst(-std::numeric_limits<double>::infinity());
  auto masked = [&]() {
    SmallVector<Value> out;
    forEachScore(e, s, n0,
                 [&](int64_t mt, int64_t n, int64_t i, Value row, Value col) {
                   Value keep = e.lt(col, columns);
                   if (hasPredicate)
                     keep = e.andi(keep, kept(row, col));
                   out.push_back(e.select(keep, s[mt][n][i], negInf));
                 });
    return out;
  };
  if (hasPredicate)
    return masked();
  // Without a predicate only a clipped tile has columns to drop.
  auto ifOp = scf::IfOp::create(
      b, loc, e.lt(columns, e.idx((n0 + nTiles) * e.layout.n)),
      [&](OpBuilder &, Location) { scf::YieldOp::create(b, loc, masked()); },
      [&](OpBuilder &, Location) {
        SmallVector<Value> all;
        for (auto &row : s)
          for (auto &tile : row)
            all.append(tile.begin(), tile.end());
        scf::YieldOp::create(b, loc, all);
      });
  return SmallVector<Value>(ifOp.getResults());
}

/// Brings the scores into the base-2 domain of FragmentRows: returns the
/// factor its maximum and exponentials apply (`scale` log2(e), `scale` what
/// the scores still lack: the op's scale, or 1 for scores through a score
/// region). With a positive scale the row maximum of the unscaled scores
/// gives that of the scaled ones; otherwise the scores are scaled first and
/// the factor is 1.
double toBaseTwo(WarpEmitter &e, double scale, MutableArrayRef<Value> flat) {
  const double factor = scale * 1.4426950408889634; // scale * log2(e)
  if (scale > 0)
    return factor;
  for (Value &x : flat)
    x = e.mulf(x, e.cst(factor));
  return 1.0;
}

/// A tile stageForBlock staged for the whole block, as the tensor-core
/// products read it: by ldmatrix per warp for mma.sync, or by warpgroup
/// MMA, where each warp's rows are its own 16 of the instruction's 64 and
/// the four warps of a warpgroup read the tile once.
struct StagedTile {
  SharedTile tile; // stagedTileOf's
  StagedReader reader;

  bool onWarpgroups() const { return reader == StagedReader::WarpgroupMma; }
  /// The swizzled tile as a product's B: K-major where its rows run along
  /// N (C in X C^T), MN-major where they run along K (B in A B).
  SwizzledTile swizzled(bool kMajor) const {
    SwizzledTile t = *tile.swizzled;
    t.kMajor = kMajor;
    return t;
  }
};

/// What reads a tensor-core step's staged tiles: warpgroup MMA where the
/// target has it (sm_90a), the block is whole warpgroups, and each
/// product's N fits one instruction (up to 256: the head dims of `query`
/// and `value`, and S's columns, `sColumns`), the staged rows whole
/// 128-byte swizzled rows (head dims multiples of 64 16-bit elements);
/// ldmatrix for mma.sync elsewhere.
StagedReader stagedReaderOf(Operation *op, Value query, Value value,
                            int64_t sColumns) {
  auto fits = [](int64_t n) { return n <= 256; };
  auto whole = [&](Value v) {
    int64_t d = cast<MemRefType>(v.getType()).getDimSize(1);
    return d % SwizzledTile::kBlockCols == 0 && fits(d);
  };
  bool warpgroups = hasWarpgroupMma(op) &&
                    !getElementTypeOrSelf(query).isF32() &&
                    blockThreads(op) % kWarpgroupThreads == 0 && whole(query) &&
                    whole(value) && fits(sColumns);
  return warpgroups ? StagedReader::WarpgroupMma : StagedReader::Ldmatrix;
}

/// A warpgroup's f32 accumulators of one m64nNk16 (MmaLayout::
/// wgmmaM64K16(n)'s C: register i is element i % E of the 8-column tile
/// i / E, E elements an mma.sync accumulator tile) as AccumulatorTiles'
/// row of tiles, and back.
SmallVector<SmallVector<Value, 4>> asTiles(WarpEmitter &e, ArrayRef<Value> r) {
  const int64_t elements = e.layout.c.numElements();
  SmallVector<SmallVector<Value, 4>> tiles;
  for (int64_t t = 0; t < static_cast<int64_t>(r.size()) / elements; ++t)
    tiles.emplace_back(r.slice(t * elements, elements));
  return tiles;
}

/// This warp's A fragments of X ([rows, depth] in shared memory) for
/// warpgroup MMA, by ldmatrix: a[ks][mt] for 16 columns of depth ks of
/// 16-row tile mt.
using FragmentsByDepth = SmallVector<SmallVector<SmallVector<Value, 4>>>;
FragmentsByDepth loadRowFragments(WarpEmitter &e, const SharedTile &x,
                                  int64_t mTiles, int64_t depth) {
  FragmentsByDepth a(depth / kWgmmaK);
  for (int64_t ks = 0; ks < depth / kWgmmaK; ++ks)
    for (int64_t mt = 0; mt < mTiles; ++mt)
      a[ks].push_back(e.aFragmentAt(x, kMmaRows * mt, kWgmmaK * ks,
                                    /*transposed=*/false));
  return a;
}

/// A warpgroup MMA's accumulators by 16-row tile (each an m64nNk16's C, in
/// its order), in flight from their issue until a wait.
using WarpgroupAccumulators = SmallVector<SmallVector<Value>>;

/// Issues X C^T for the row tiles of `a` (loadRowFragments') and nTiles
/// 8-row tiles of the swizzled staged C from row `row0` on, one
/// wgmma.mma_async a row tile and 16 columns of depth, C K-major, and
/// commits them as one group.
WarpgroupAccumulators issueRowsByStagedRows(WarpEmitter &e,
                                            const FragmentsByDepth &a,
                                            const StagedTile &c, int64_t nTiles,
                                            int64_t row0) {
  OpBuilder &b = e.b;
  const int64_t n = nTiles * e.layout.n;
  SwizzledTile tile = c.swizzled(/*kMajor=*/true);
  Value base = sharedAddress(b, e.loc, c.tile.memref);
  WarpgroupAccumulators acc(a.front().size(),
                            SmallVector<Value>(n / 2, e.cst(0.0)));
  warpgroupFence(b, e.loc);
  for (auto [ks, fragments] : llvm::enumerate(a)) {
    Value desc = tile.descriptor(e, base, e.idx(row0), ks);
    for (auto [mt, fragment] : llvm::enumerate(fragments))
      acc[mt] = warpgroupMmaRegisterA(b, e.loc, acc[mt], fragment, desc, n,
                                      e.elem, /*bMnMajor=*/false);
  }
  warpgroupCommit(b, e.loc);
  return acc;
}

/// issueRowsByStagedRows with the warps' rows from the block's tile `x`
/// (stagedOwnRows for warpgroups, `depth` columns) through K-major descriptors,
/// this warp's warpgroup's 64 rows: one 16-row tile a warp, no register
/// holding A.
WarpgroupAccumulators issueWarpgroupRowsByStagedRows(WarpEmitter &e,
                                                     const SharedTile &x,
                                                     int64_t depth,
                                                     const StagedTile &c,
                                                     int64_t nTiles,
                                                     int64_t row0) {
  OpBuilder &b = e.b;
  const int64_t n = nTiles * e.layout.n;
  SwizzledTile cTile = c.swizzled(/*kMajor=*/true);
  Value cBase = sharedAddress(b, e.loc, c.tile.memref);
  Value xBase = sharedAddress(b, e.loc, x.memref);
  Value xRow0 = e.mul(arith::DivUIOp::create(b, e.loc, e.warpOfBlock(),
                                             e.idx(kWarpgroupThreads /
                                                   kWarpLanes)),
                      kWgmmaM);
  WarpgroupAccumulators acc(1, SmallVector<Value>(n / 2, e.cst(0.0)));
  warpgroupFence(b, e.loc);
  for (int64_t ks = 0; ks < depth / kWgmmaK; ++ks)
    acc[0] = warpgroupMma(b, e.loc, acc[0],
                          x.swizzled->descriptor(e, xBase, xRow0, ks),
                          cTile.descriptor(e, cBase, e.idx(row0), ks), n,
                          e.elem, /*aMnMajor=*/false, /*bMnMajor=*/false);
  warpgroupCommit(b, e.loc);
  return acc;
}

/// X C^T issued on warpgroup MMA and committed, not waited for: X, this
/// warp's staged rows, through K-major descriptors of the block's tile where
/// `xByDescriptor` (stagedOwnRows for warpgroups:
/// issueWarpgroupRowsByStagedRows), else its mTiles row tiles' A fragments by
/// ldmatrix (issueRowsByStagedRows).
WarpgroupAccumulators
issueStagedRowsByStagedRows(WarpEmitter &e, const SharedTile &x,
                            bool xByDescriptor, int64_t mTiles, int64_t depth,
                            const StagedTile &c, int64_t nTiles, int64_t row0) {
  if (xByDescriptor)
    return issueWarpgroupRowsByStagedRows(e, x, depth, c, nTiles, row0);
  return issueRowsByStagedRows(e, loadRowFragments(e, x, mTiles, depth), c,
                               nTiles, row0);
}

/// The accumulators of a wait that has returned, pinned (pinRegisters), so
/// that nothing reads them before the wait.
void pinAccumulators(WarpEmitter &e, WarpgroupAccumulators &acc) {
  for (SmallVector<Value> &regs : acc)
    regs = pinRegisters(e.b, e.loc, regs);
}

/// Accumulators waited for, pinned, as AccumulatorTiles.
AccumulatorTiles waitedTiles(WarpEmitter &e, WarpgroupAccumulators acc) {
  pinAccumulators(e, acc);
  AccumulatorTiles out;
  for (ArrayRef<Value> r : acc)
    out.push_back(asTiles(e, r));
  return out;
}

/// X C^T for this warp's mTiles 16-row tiles of X ([rows, depth] in shared
/// memory, the A fragments by ldmatrix) and nTiles 8-row tiles of the
/// staged C from row `row0` on: mma.sync (WarpEmitter::mmaRowsByRows) or,
/// C swizzled, warpgroup MMA (issueStagedRowsByStagedRows: X through a
/// descriptor where `xByDescriptor`, else from the fragments' registers),
/// C K-major.
AccumulatorTiles rowsByStagedRows(WarpEmitter &e, const SharedTile &x,
                                  const StagedTile &c, int64_t mTiles,
                                  int64_t nTiles, int64_t depth, int64_t row0,
                                  bool xByDescriptor) {
  if (!c.onWarpgroups())
    return e.mmaRowsByRows(x, c.tile, mTiles, nTiles, depth, row0);
  WarpgroupAccumulators acc = issueStagedRowsByStagedRows(
      e, x, xByDescriptor, mTiles, depth, c, nTiles, row0);
  warpgroupWait(e.b, e.loc, 0);
  return waitedTiles(e, std::move(acc));
}

/// The accumulator registers `lane` of mTiles 16-row tiles and `width`
/// columns, by row tile in warpgroup MMA's order (the lane's buffer is
/// those rows one after another).
WarpgroupAccumulators loadAccumulators(WarpEmitter &e, Value lane,
                                       int64_t mTiles, int64_t width) {
  const int64_t tiles = width / e.layout.n, count = e.layout.c.numElements();
  WarpgroupAccumulators acc(mTiles);
  for (int64_t mt = 0; mt < mTiles; ++mt)
    for (int64_t t = 0; t < tiles; ++t)
      for (int64_t i = 0; i < count; ++i)
        acc[mt].push_back(e.loadLane(lane, accumulatorIndex(mt, t, i, width)));
  return acc;
}

void storeAccumulators(WarpEmitter &e, const WarpgroupAccumulators &acc,
                       Value lane, int64_t width) {
  const int64_t tiles = width / e.layout.n, count = e.layout.c.numElements();
  for (auto [mt, regs] : llvm::enumerate(acc))
    for (int64_t t = 0; t < tiles; ++t)
      for (int64_t i = 0; i < count; ++i)
        e.storeLane(regs[t * count + i], lane,
                    accumulatorIndex(mt, t, i, width));
}

/// acc *= alpha, alpha per row slot (FragmentRows' rows); nothing where
/// alpha is empty.
void scaleRows(WarpEmitter &e, WarpgroupAccumulators &acc,
               ArrayRef<Value> alpha) {
  if (alpha.empty())
    return;
  const FragmentLayout &c = e.layout.c;
  SmallVector<int64_t, 4> slotOf(c.numElements());
  for (int64_t h = 0; h < e.rowSlots(); ++h)
    for (int64_t i : c.elementsOfRowSlot(h))
      slotOf[i] = h;
  for (auto [mt, regs] : llvm::enumerate(acc))
    for (auto [j, x] : llvm::enumerate(regs))
      x = e.mulf(x, alpha[e.rowSlots() * mt + slotOf[j % c.numElements()]]);
}

/// Issues acc += A B on warpgroup MMA (see accumulateProduct), B the
/// swizzled MN-major `tile` at shared address `base`, and commits it as
/// one group; returns the accumulators, in flight.
WarpgroupAccumulators issueProduct(WarpEmitter &e, WarpgroupAccumulators acc,
                                   int64_t width, const RowFragments &a,
                                   int64_t depth, const SwizzledTile &tile,
                                   Value base, int64_t bRow0) {
  OpBuilder &b = e.b;
  warpgroupFence(b, e.loc);
  // A's columns [16 kk, 16 kk + 16): its 8-column tiles 2 kk and 2 kk + 1.
  for (int64_t kk = 0; kk < depth / kWgmmaK; ++kk) {
    Value desc = tile.descriptor(e, base, e.idx(0), bRow0 / kWgmmaK + kk);
    for (auto [mt, regs] : llvm::enumerate(acc))
      regs = warpgroupMmaRegisterA(b, e.loc, regs, aFragment(a, mt, kk), desc,
                                   width, e.elem, /*bMnMajor=*/true);
  }
  warpgroupCommit(b, e.loc);
  return acc;
}

/// accumulateProduct's warpgroup form (bTile on warpgroups), issued and
/// committed as one group, not waited for: the accumulators in flight, for
/// storeWaitedAccumulation after a wait that covers them.
WarpgroupAccumulators
issueAccumulation(WarpEmitter &e, Value lane, int64_t mTiles, int64_t width,
                  const RowFragments &a, int64_t depth, const StagedTile &bTile,
                  ArrayRef<Value> alpha, int64_t bRow0 = 0) {
  assert(bTile.onWarpgroups() && "the mma.sync form is not asynchronous");
  WarpgroupAccumulators acc = loadAccumulators(e, lane, mTiles, width);
  scaleRows(e, acc, alpha);
  return issueProduct(e, std::move(acc), width, a, depth,
                      bTile.swizzled(/*kMajor=*/false),
                      sharedAddress(e.b, e.loc, bTile.tile.memref), bRow0);
}

/// Accumulators of issueAccumulation, their wait returned: pinned, then
/// stored to the lane's registers `lane`.
void storeWaitedAccumulation(WarpEmitter &e, WarpgroupAccumulators acc,
                             Value lane, int64_t width) {
  pinAccumulators(e, acc);
  storeAccumulators(e, acc, lane, width);
}

/// acc = alpha acc + A B for the accumulator registers `lane` of mTiles
/// 16-row tiles and `width` columns: A's rows as RowFragments (from
/// accumulators: P from S) over `depth` columns, B [depth, width] row-major
/// from row `bRow0` on, the staged tile `bTile` (mma.sync, or one
/// wgmma.mma_async a row tile and 16 rows of B, B MN-major) or, padded, any
/// tile in shared memory. alpha per row slot (FragmentRows' rows), or 1
/// where empty.
void accumulateProduct(WarpEmitter &e, Value lane, int64_t mTiles,
                       int64_t width, const RowFragments &a, int64_t depth,
                       const StagedTile &bTile, ArrayRef<Value> alpha,
                       int64_t bRow0 = 0) {
  if (bTile.onWarpgroups()) {
    WarpgroupAccumulators acc = issueAccumulation(e, lane, mTiles, width, a,
                                                  depth, bTile, alpha, bRow0);
    warpgroupWait(e.b, e.loc, 0);
    storeWaitedAccumulation(e, std::move(acc), lane, width);
    return;
  }
  WarpgroupAccumulators acc = loadAccumulators(e, lane, mTiles, width);
  scaleRows(e, acc, alpha);
  SmallVector<SmallVector<Value, 4>> tiles;
  for (ArrayRef<Value> regs : acc)
    llvm::append_range(tiles, asTiles(e, regs));
  // A's columns [k kk, k kk + k): its 8-column tiles from k kk / 8 on.
  const int64_t k = e.layout.k;
  for (int64_t kk = 0; kk < depth / k; ++kk) {
    SmallVector<SmallVector<Value, 4>> aTiles;
    for (int64_t mt = 0; mt < mTiles; ++mt)
      aTiles.push_back(aFragment(a, mt, kk, e.layout));
    e.mmaSharedB(aTiles, bTile.tile, bRow0 + k * kk, tiles);
  }
  const int64_t perRowTile = width / e.layout.n;
  for (auto [mt, regs] : llvm::enumerate(acc)) {
    regs.clear();
    for (int64_t t = 0; t < perRowTile; ++t)
      llvm::append_range(regs, tiles[mt * perRowTile + t]);
  }
  storeAccumulators(e, acc, lane, width);
}

/// acc = alpha acc + P V for a row group's accumulator registers, V the
/// staged value tile.
void accumulateValues(WarpEmitter &e, const RowGroup &g, const RowFragments &p,
                      const StagedTile &values, int64_t nTiles,
                      ArrayRef<Value> alpha) {
  accumulateProduct(e, g.laneAcc, g.rows / e.layout.m, g.dv, p,
                    nTiles * e.layout.n, values, alpha);
}

/// body(mt, slot, row) for each row slot of the lane in `rows` rows of
/// accumulator tiles: 16-row tile mt, its slot `slot` (FragmentRows' row
/// R mt + slot), `row` the slot's row within the group.
void forEachRowSlot(WarpEmitter &e, int64_t rows,
                    function_ref<void(int64_t, int64_t, Value)> body) {
  for (int64_t mt = 0; mt < rows / e.layout.m; ++mt)
    for (int64_t slot = 0; slot < e.rowSlots(); ++slot)
      body(mt, slot, e.accRow(mt, e.layout.c.elementsOfRowSlot(slot)[0]));
}

/// Stores row slot `slot` of 16-row tile `mt` of the accumulator registers
/// `lane` (`width` columns) as row `row` of `out`, times `factor` where
/// given: each 8-column tile's pair of columns.
void storeRowSlot(WarpEmitter &e, Value lane, int64_t mt, int64_t slot,
                  int64_t width, Value out, Value row, Value factor) {
  SmallVector<int64_t, 4> elements = e.layout.c.elementsOfRowSlot(slot);
  assert(elements.size() == 2 && "a pair of a row an 8-column tile");
  for (int64_t t = 0; t < width / e.layout.n; ++t) {
    Value x = e.loadLane(lane, accumulatorIndex(mt, t, elements[0], width));
    Value y = e.loadLane(lane, accumulatorIndex(mt, t, elements[1], width));
    if (factor) {
      x = e.mulf(x, factor);
      y = e.mulf(y, factor);
    }
    e.storePair(x, y, out, {row, e.accCol(t, elements[0])});
  }
}

/// S of a tensor-core softmax_step as FragmentRows takes it: the score
/// region applied, dropped pairs at -inf, in base 2 by the returned
/// factor (toBaseTwo).
std::pair<SmallVector<Value>, double> scoresOf(WarpEmitter &e, SoftmaxStepOp op,
                                               AccumulatorTiles &s) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  // The score region before the mask, which then drops what it must.
  double unapplied = op.getScale().convertToDouble();
  if (!op.getScore().empty()) {
    Value scale = e.cst(unapplied);
    forEachScore(e, s, /*n0=*/0,
                 [&](int64_t mt, int64_t n, int64_t i, Value row, Value key) {
                   s[mt][n][i] = emitScoreAt(
                       b, loc, op, e.mulf(s[mt][n][i], scale), row, key);
                 });
    unapplied = 1.0;
  }
  SmallVector<Value> flat = maskScores(
      e, s, /*n0=*/0, e.dim(op.getKey(), 0), !op.getPredicate().empty(),
      [&](Value row, Value key) { return emitKeptAt(b, loc, op, row, key); });
  double factor = toBaseTwo(e, unapplied, flat);
  return {std::move(flat), factor};
}

/// What both tensor-core forms of a softmax_step start from: the op, an
/// emitter at it, its staged key and value tiles (stageForBlock) and this
/// warp's staged queries, mTiles 16-row tiles against nTiles 8-key tiles.
/// The queries are read through a descriptor of the block's swizzled tile
/// on warpgroup MMA with 16 rows a warp, in the form that is not
/// overlapped: without a producer the registers it frees set how many
/// blocks a multiprocessor holds (BigBird at block 64, sm_90a: 113 -> 96
/// registers, room for five blocks instead of four by registers alone,
/// 5-6% faster). The overlapped form runs one block of fixed registers
/// (setmaxnreg): its queries by descriptor where the producer copies them
/// (producer-queries: StagedQueries::fromProducer), else as ldmatrix
/// fragments of each warp's own rows -- staged by the warps for a
/// descriptor, its 128-row tiles were 1-4% slower and its 192-row tiles
/// 2-4% (session 59).
struct TensorCoreStep {
  TensorCoreStep(const StagedOp &staged, const RowGroup &g, int64_t keyRows,
                 int64_t threads, StagedQueries &queries, bool overlapped)
      : op(cast<SoftmaxStepOp>(staged.op)), b(op), loc(op.getLoc()),
        elem(cast<MemRefType>(op.getQuery().getType()).getElementType()),
        e(b, loc, elem),
        d(cast<MemRefType>(op.getQuery().getType()).getDimSize(1)),
        mTiles(g.rows / e.layout.m),
        nTiles(keyRows / e.layout.n), keys{stagedTileOf(staged, op.getKey()),
                                           staged.reader},
        values{stagedTileOf(staged, op.getValue()), staged.reader},
        queriesByDescriptor(
            queries.fromProducer.contains(op.getQuery()) ||
            (!overlapped && keys.onWarpgroups() &&
             stagesRowsForWarpgroups(op.getQuery(), g.rows,
                                     op->getParentOfType<gpu::LaunchOp>()))),
        queries(queryTileOf(op, elem, g.rows, threads, queries,
                            queriesByDescriptor)) {}

  /// The producer's tile of the block's queries, else this warp's staged
  /// rows (stagedOwnRows).
  static SharedTile queryTileOf(SoftmaxStepOp op, Type elem, int64_t rows,
                                int64_t threads, StagedQueries &queries,
                                bool byDescriptor) {
    if (auto it = queries.fromProducer.find(op.getQuery());
        it != queries.fromProducer.end())
      return it->second;
    return stagedOwnRows(op.getQuery(), elem, rows,
                         op->getParentOfType<gpu::LaunchOp>(), threads, queries,
                         byDescriptor);
  }

  /// S = Q K^T issued and committed, not waited for: Q by a descriptor of
  /// the block's swizzled query tile (queriesByDescriptor: no registers
  /// hold Q while S is in flight), else Q's fragments loaded from the
  /// warp's tile.
  WarpgroupAccumulators issueScores() {
    return issueStagedRowsByStagedRows(e, queries, queriesByDescriptor, mTiles,
                                       d, keys, nTiles, /*row0=*/0);
  }

  SoftmaxStepOp op;
  OpBuilder b;
  Location loc;
  Type elem;
  WarpEmitter e;
  int64_t d, mTiles, nTiles;
  StagedTile keys, values;
  bool queriesByDescriptor;
  SharedTile queries;
};

/// softmax_step on tensor cores, for one warp's row group, its key and
/// value tiles staged (stageForBlock): S = Q K^T, mask S, bring it to base
/// 2, then the online-softmax step over the fragments, whose accumulation
/// is acc = alpha acc + P V.
void lowerStepOnTensorCores(const StagedOp &staged, const RowGroup &g,
                            int64_t keyRows, int64_t threads,
                            StagedQueries &queries) {
  TensorCoreStep t(staged, g, keyRows, threads, queries, /*overlapped=*/false);
  WarpEmitter &e = t.e;
  AccumulatorTiles s =
      rowsByStagedRows(e, t.queries, t.keys, t.mTiles, t.nTiles, t.d,
                       /*row0=*/0, t.queriesByDescriptor);
  auto [flat, factor] = scoresOf(e, t.op, s);
  FragmentRows rows(e, g, flat, factor, t.mTiles, t.nTiles);
  rows.accumulateWith = [&](ArrayRef<Value> alpha) {
    waitForLastStaged(t.b, t.loc, staged);
    accumulateValues(e, g, rows.p, t.values, t.nTiles, alpha);
  };
  emitOnlineSoftmaxStep(t.b, t.loc, rows);
  for (const RingStage &stage : staged.stages)
    stage.giveBack(t.b, t.loc);
  t.op.erase();
}

/// acc = alpha acc + P V for the step a row group's overlapped form left
/// (RowGroup::lastP ...), issued and committed, not waited for; a step
/// that left nothing left P = 0 and alpha = 1, and V `fallback` (an
/// address of a staged value tile, which the product then reads to add
/// nothing).
WarpgroupAccumulators issueLastValues(WarpEmitter &e, const RowGroup &g,
                                      Value fallback) {
  const int64_t mTiles = g.rows / e.layout.m, nTiles = g.keyRows / e.layout.n;
  RowFragments p(e.rowSlots() * mTiles);
  for (auto [r, row] : llvm::enumerate(p))
    for (int64_t n = 0; n < nTiles; ++n)
      row.push_back(e.loadLane(g.lastP, r * nTiles + n));
  SmallVector<Value> alpha;
  for (int64_t r = 0; r < e.rowSlots() * mTiles; ++r)
    alpha.push_back(e.loadLane(g.lastAlpha, r));
  Value address = e.loadLane(g.lastValues, 0);
  if (fallback)
    address = e.select(e.loadLane(g.pending, 0), address, fallback);
  WarpgroupAccumulators acc = loadAccumulators(e, g.laneAcc, mTiles, g.dv);
  scaleRows(e, acc, alpha);
  return issueProduct(e, std::move(acc), g.dv, p, g.keyRows, g.valueTile(),
                      address, /*bRow0=*/0);
}

/// The overlapped form of a tensor-core softmax_step (overlap-softmax, its
/// stages the lowering's to release): S = Q K^T issued, then the last
/// step's P V; the wait for S alone and the keys' stage released, this
/// step's softmax while that P V runs (it reads no accumulator), the wait
/// for the P V, the last step's value stage released; this step's P,
/// alpha, value tile and value stage left for the next step or the
/// finalize. FlashAttention-3's overlap of the softmax with the products
/// within a warpgroup.
void lowerStepOverlapped(const StagedOp &staged, RowGroup &g, int64_t threads,
                         StagedQueries &queries) {
  TensorCoreStep t(staged, g, g.keyRows, threads, queries, /*overlapped=*/true);
  WarpEmitter &e = t.e;
  OpBuilder &b = t.b;
  Location loc = t.loc;
  Value valueAddress = sharedAddress(b, loc, t.values.tile.memref);

  const RingStage &keyStage = staged.stages[0], &valueStage = staged.stages[1];
  WarpgroupAccumulators scores = t.issueScores();
  WarpgroupAccumulators acc = issueLastValues(e, g, valueAddress);
  warpgroupWait(b, loc, 1);
  // S is done with the keys: where they have a ring of their own, the
  // producer may fill their stage while this step's softmax and the last
  // step's P V run (in a ring shared with the values, the values' release
  // gives the stage back).
  keyStage.giveBack(b, loc);
  AccumulatorTiles s = waitedTiles(e, std::move(scores));
  auto [flat, factor] = scoresOf(e, t.op, s);
  FragmentRows rows(e, g, flat, factor, t.mTiles, t.nTiles);
  SmallVector<Value> alpha;
  rows.accumulateWith = [&](ArrayRef<Value> a) {
    alpha.assign(a.begin(), a.end());
  };
  emitOnlineSoftmaxStep(b, loc, rows);
  warpgroupWait(b, loc, 0);
  pinAccumulators(e, acc);
  storeAccumulators(e, acc, g.laneAcc, g.dv);
  e.ifThen(e.loadLane(g.pending, 0),
           [&] { g.release(b, loc, e.loadLane(g.lastStage, 0)); });
  for (auto [r, row] : llvm::enumerate(rows.p))
    for (auto [n, pair] : llvm::enumerate(row))
      e.storeLane(pair, g.lastP, r * t.nTiles + n);
  for (auto [r, a] : llvm::enumerate(alpha))
    e.storeLane(a, g.lastAlpha, r);
  e.storeLane(valueAddress, g.lastValues, 0);
  e.storeLane(valueStage.stage, g.lastStage, 0);
  e.storeLane(arith::ConstantOp::create(b, loc, b.getBoolAttr(true)), g.pending,
              0);
  t.op.erase();
}

/// The overlapped form's state of a row group, beside its accumulator, set
/// wherever the accumulator is: nothing left (P 0, alpha 1).
void allocateLastStep(RowGroup &g) {
  OpBuilder b(g.laneAcc.getDefiningOp());
  b.setInsertionPointAfter(g.laneAcc.getDefiningOp());
  Location loc = g.acc.getLoc();
  const int64_t slots =
      MmaLayout::m16n8k16().c.rowSlots().size() * (g.rows / kMmaRows);
  const int64_t nTiles = g.keyRows / MmaLayout::m16n8k16().n;
  auto make = [&](int64_t n, Type t) {
    return memref::AllocaOp::create(b, loc, MemRefType::get({n}, t))
        .getResult();
  };
  g.lastP = make(slots * nTiles, b.getI32Type());
  g.lastAlpha = make(slots, b.getF32Type());
  g.lastValues = make(1, b.getI64Type());
  g.lastStage = make(1, b.getIndexType());
  g.pending = make(1, b.getI1Type());
  for (Operation *reset : g.accResets) {
    OpBuilder at(reset->getContext());
    at.setInsertionPointAfter(reset);
    ScalarEmitter e{at, reset->getLoc()};
    auto fill = [&](Value buffer, Value value) {
      for (int64_t i = 0, n = cast<MemRefType>(buffer.getType()).getDimSize(0);
           i < n; ++i)
        memref::StoreOp::create(at, e.loc, value, buffer, e.idx(i));
    };
    fill(g.lastP, e.i32(0));
    fill(g.lastAlpha,
         arith::ConstantOp::create(at, e.loc, at.getF32FloatAttr(1.0)));
    fill(g.lastValues,
         arith::ConstantOp::create(at, e.loc, at.getI64IntegerAttr(0)));
    fill(g.lastStage, e.idx(0));
    fill(g.pending,
         arith::ConstantOp::create(at, e.loc, at.getBoolAttr(false)));
  }
}

void lowerFinalizeOnTensorCores(SoftmaxFinalizeOp op, const RowGroup &g) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value out = op.getOutput();
  Type outElem = cast<MemRefType>(out.getType()).getElementType();
  WarpEmitter e(b, loc, outElem);
  if (g.overlapped) {
    // The last step's P V, and its stage back to the producer.
    WarpEmitter pe(b, loc, g.valueElem);
    pe.ifThen(pe.loadLane(g.pending, 0), [&] {
      WarpgroupAccumulators acc = issueLastValues(pe, g, Value());
      warpgroupWait(b, loc, 0);
      pinAccumulators(pe, acc);
      storeAccumulators(pe, acc, g.laneAcc, g.dv);
      g.release(b, loc, pe.loadLane(g.lastStage, 0));
    });
  }
  Value mq = e.dim(out, 0);
  forEachRowSlot(e, g.rows, [&](int64_t mt, int64_t slot, Value row) {
    const int64_t r = e.rowSlots() * mt + slot;
    Value l = e.rowReduce(e.loadLane(g.laneSum, r), false);
    Value inv = emitInverseSum(b, loc, l);
    if (op.getLse()) {
      // The row's maximum is the same in each of its lanes (FragmentRows
      // reduces it across them); the first lane of the row writes.
      Value lse = emitLogSumExp(b, loc, e.loadLane(g.laneMax, r), l,
                                ExpBase::Two);
      Value first = e.cmp(arith::CmpIPredicate::eq, e.fragCol, e.idx(0));
      e.ifThen(e.andi(first, e.lt(row, mq)),
               [&] { e.store(lse, op.getLse(), {row}); });
    }
    e.ifThen(e.lt(row, mq), [&] {
      storeRowSlot(e, g.laneAcc, mt, slot, g.dv, out, row, inv);
    });
  });
  op.erase();
}

//===----------------------------------------------------------------------===//
// The gradient's tensor-core form
//===----------------------------------------------------------------------===//

/// Rows of the staged side a tensor-core softmax_grad_step takes at a time:
/// S and dP of a chunk are live together, 2 x 4 registers per 8 columns of
/// each 16-row tile, beside the accumulators: 32 -- twice as many where
/// there is one accumulator (the query form, dQ) and the products are
/// warpgroup MMA, whose N is the chunk: wider instructions, half the waits
/// (on the H200 3-4% off dense and BigBird forward + backward; dQ's kernel
/// 110 -> 138 registers at D = 64, 32 rows a warp). The key form's dK and
/// dV leave no room for it.
int64_t gradChunkRows(bool keyForm, bool onWarpgroups) {
  constexpr int64_t rows = 32;
  return !keyForm && onWarpgroups ? 2 * rows : rows;
}

/// A softmax_grad_step's f32 accumulator of one warp's rows (attn-tile's
/// [rows, width] buffer) and the lane's registers it becomes.
struct GradAccumulator {
  memref::AllocaOp buffer;
  int64_t rows = 0, width = 0;
  Value lane;
};

/// A softmax_grad_step's two sides: the warp's own rows (the queries and
/// their output gradients in the query form, the keys and values in the
/// key form) and the tile staged for the whole block (the other two).
struct GradSides {
  OpOperand *rowsA, *rowsB, *stagedA, *stagedB;
};
GradSides sidesOf(SoftmaxGradStepOp op) {
  if (op.accumulatesKeys())
    return {&op.getKeyMutable(), &op.getValueMutable(), &op.getQueryMutable(),
            &op.getOutGradMutable()};
  return {&op.getQueryMutable(), &op.getOutGradMutable(), &op.getKeyMutable(),
          &op.getValueMutable()};
}

/// The rows of the side a softmax_grad_step stages for the whole block
/// (the keys of the query form, the queries of the key form), or an error
/// where the tensor-core form does not take `op`.
FailureOr<int64_t> tensorCoreColumnRows(SoftmaxGradStepOp op, int64_t rows,
                                        gpu::LaunchOp launch) {
  auto fail = [&](const Twine &why) {
    return op.emitOpError("has no tensor-core form on the GPU: ") << why;
  };
  Type elem = cast<MemRefType>(op.getQuery().getType()).getElementType();
  if (!(elem.isBF16() || elem.isF16() || elem.isF32()))
    return fail("its element type is not bf16, f16 or f32");
  for (Value v : {op.getKey(), op.getValue(), op.getOutGrad()})
    if (cast<MemRefType>(v.getType()).getElementType() != elem)
      return fail("its operands differ in element type");
  int64_t d = cast<MemRefType>(op.getQuery().getType()).getDimSize(1);
  int64_t dv = cast<MemRefType>(op.getValue().getType()).getDimSize(1);
  if (ShapedType::isDynamic(d) || ShapedType::isDynamic(dv) || d % 16 ||
      dv % 16)
    return fail("head dims must be static multiples of 16");
  if (rows % kMmaRows || rows > kMaxWarpRows)
    return fail("a warp's rows must be one or two 16-row tiles");
  for (Value v : {op.getQuery(), op.getKey(), op.getValue(), op.getOutGrad()})
    if (!hasAlignedRows(v))
      return fail("rows must be 16-byte aligned");
  std::optional<int64_t> columns = rowBound(sidesOf(op).stagedA->get());
  if (!columns || *columns <= 0 || *columns % 16)
    return fail("the staged tile's rows must have a static bound, a "
                "multiple of 16");
  if (!getConstantIntValue(launch.getBlockSizeX()) ||
      !reachedByWholeBlock(op, launch))
    return fail("every thread of the block must reach it (it stages tiles "
                "for the whole block)");
  return *columns;
}

/// The global address (i64) of row `row` of the rank-2 `memref`.
Value globalRowAddress(ScalarEmitter &e, Value memref, Value row) {
  auto meta = memref::ExtractStridedMetadataOp::create(e.b, e.loc, memref);
  Value base =
      memref::ExtractAlignedPointerAsIndexOp::create(e.b, e.loc, memref);
  Value element =
      e.add(meta.getOffset(),
            arith::MulIOp::create(e.b, e.loc, row, meta.getStrides()[0]));
  Value bytes =
      arith::MulIOp::create(e.b, e.loc, element, e.idx(elementBytes(memref)));
  return arith::IndexCastOp::create(e.b, e.loc, e.b.getI64Type(),
                                    e.add(base, bytes));
}

/// Whether the fused form adds dQ by bulk reductions (sm_90a's TMA) rather
/// than by atomic additions.
bool addsQueryGradInBulk(Operation *op) { return hasWarpgroupMma(op); }

/// The fused form's query_grad += dS K for one chunk of the staged queries
/// (the step's chunk `chunk`, `row0` on, `tiles` 8-column tiles of S^T):
/// each warp stores its dS^T (`ds`: its rows' keys by the chunk's queries,
/// accumulator tiles (mt, cn) at E (mt tiles + cn)) into the block's dS^T
/// tile in shared memory; after a barrier the warps multiply the whole of
/// it (dS, by ldmatrix.trans) by the block's keys (their staged tiles one
/// after another: B [keys, d]), in units of 16 queries by 16 columns of
/// dQ. Those are added to query_grad, which other key tiles add to too:
///   - on sm_90a, by bulk reductions: the units into the chunk's dQ tile in
///     shared memory, a barrier, then a lane of the first warp a row,
///     `cp.reduce.async.bulk .add.f32` of the row into query_grad's. The
///     two barriers order every reuse of the two tiles;
///   - elsewhere, element by element with atomic additions, two dS^T tiles
///     alternating by chunk (and a barrier after a step's odd last chunk),
///     so that no warp writes one that another still reads.
void addQueryGradOfChunk(WarpEmitter &e, SoftmaxGradStepOp op,
                         ArrayRef<Value> ds, int64_t mTiles, int64_t tiles,
                         int64_t chunkTiles, int64_t row0, int64_t chunk,
                         int64_t threads, StagedQueries &staged) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  auto launch = op->getParentOfType<gpu::LaunchOp>();
  const FragmentLayout &c = e.layout.c;
  const int64_t warps = threads / kWarpLanes;
  const int64_t rows = mTiles * e.layout.m;
  const int64_t keys = warps * rows, queries = tiles * e.layout.n;
  const int64_t chunkQueries = chunkTiles * e.layout.n;
  const int64_t d = cast<MemRefType>(op.getKey().getType()).getDimSize(1);
  const bool bulk = addsQueryGradInBulk(op);
  Type f32 = b.getF32Type();
  // Room for a whole chunk; a last, shorter chunk uses the start.
  const int64_t dsBytes = SharedTile::bytes(keys, chunkQueries, e.elem,
                                            TileLayout::PaddedForColumns);
  const int64_t dqBytes =
      bulk ? SharedTile::bytes(chunkQueries, d, f32, TileLayout::Padded) : 0;
  // With bulk reductions the chunk's two barriers order every reuse of
  // one tile of each; without, the dS^T tiles alternate.
  const int64_t tilesEach = bulk ? 1 : 2;
  StagedQueries::FusedTiles &buffers = staged.fused[launch];
  if (!buffers.ds || buffers.dsBytes != dsBytes || buffers.dqBytes != dqBytes) {
    buffers.ds = allocateShared(launch, tilesEach * dsBytes);
    buffers.dq = bulk ? allocateShared(launch, dqBytes) : Value();
    buffers.dsBytes = dsBytes;
    buffers.dqBytes = dqBytes;
    if (bulk) {
      // Every bulk reduction done before the block's shared memory goes.
      OpBuilder end(launch.getBody().back().getTerminator());
      NVVM::CpAsyncBulkWaitGroupOp::create(end, loc, 0, UnitAttr());
    }
  }
  const int64_t parity = bulk ? 0 : chunk % 2;
  if (bulk)
    // The last chunk's reductions have read the dQ tile this one writes
    // (they were issued before this chunk's S and dP: seldom a wait). The
    // first warp's lanes issued them; its barrier below holds the others.
    NVVM::CpAsyncBulkWaitGroupOp::create(b, loc, 0, b.getUnitAttr());
  SharedTile dsT =
      SharedTile::at(b, loc, buffers.ds, e.idx(parity * dsBytes), keys, queries,
                     e.elem, TileLayout::PaddedForColumns);
  Value warp = e.warpOfBlock();
  Value warpRow0 = e.mul(warp, rows);
  // Stores an accumulator tile's values at (row, col) of `memref`,
  // converted to its element type: a lane's pair of each row slot, as the
  // copies out of the accumulators (storeRowSlot) store them; row and col
  // give an element's place.
  const int64_t count = c.numElements();
  auto storeFragment = [&](ArrayRef<Value> values, Value memref,
                           function_ref<Value(int64_t)> row,
                           function_ref<Value(int64_t)> col) {
    for (int64_t h = 0; h < e.rowSlots(); ++h) {
      SmallVector<int64_t, 4> pair = c.elementsOfRowSlot(h);
      assert(pair.size() == 2 && "a pair of a row an 8-column tile");
      e.storePair(values[pair[0]], values[pair[1]], memref,
                  {row(pair[0]), col(pair[0])});
    }
  };
  for (int64_t mt = 0; mt < mTiles; ++mt)
    for (int64_t cn = 0; cn < tiles; ++cn)
      storeFragment(
          ds.slice(count * (mt * tiles + cn), count), dsT.memref,
          [&](int64_t i) { return e.add(warpRow0, e.accRow(mt, i)); },
          [&](int64_t i) { return e.accCol(cn, i); });
  gpu::BarrierOp::create(b, loc);

  // dQ[the chunk's queries, d] = dS K over the block's keys, A = dS from
  // dS^T, B the keys' rows: in units of 16 queries by 16 columns (two
  // 8-column tiles: mmaSharedB reads B two at a time), unit u = 16-row tile
  // u / (d / 16) and column pair u % (d / 16), warp w taking units w, w +
  // warps, ...
  SharedTile keyRows =
      SharedTile::at(b, loc, staged.blocks.lookup(op.getKey()), e.idx(0), keys,
                     d, e.elem, TileLayout::Padded);
  const int64_t pairsOfColumns = d / (2 * e.layout.n);
  const int64_t units = queries / e.layout.m * pairsOfColumns;
  Value queryGrad = op.getQueryGrad();
  Value queryCount = e.dim(queryGrad, 0);
  SharedTile dq = bulk
                      ? SharedTile::at(b, loc, buffers.dq, e.idx(0),
                                       chunkQueries, d, f32, TileLayout::Padded)
                      : SharedTile(Value());
  for (int64_t u0 = 0; u0 < units; u0 += warps) {
    Value unit = e.add(warp, u0);
    auto inUnit = [&] {
      Value qRow0 =
          e.mul(arith::DivUIOp::create(b, loc, unit, e.idx(pairsOfColumns)),
                e.layout.m);
      Value col0 =
          e.mul(arith::RemUIOp::create(b, loc, unit, e.idx(pairsOfColumns)),
                2 * e.layout.n);
      SmallVector<SmallVector<Value, 4>> acc(
          2, SmallVector<Value, 4>(count, e.cst(0.0)));
      for (int64_t k0 = 0; k0 < keys; k0 += e.layout.k)
        e.mmaSharedB({e.aFragmentAt(dsT, TileOrigin(qRow0), k0,
                                    /*transposed=*/true)},
                     keyRows, k0, acc, col0);
      for (int64_t t = 0; t < 2; ++t) {
        auto row = [&](int64_t i) { return e.add(qRow0, e.accRow(0, i)); };
        auto col = [&](int64_t i) { return e.add(col0, e.accCol(t, i)); };
        if (bulk) {
          storeFragment(acc[t], dq.memref, row, col);
          continue;
        }
        for (int64_t i = 0; i < count; ++i) {
          Value r = e.add(row(i), row0);
          e.ifThen(e.lt(r, queryCount), [&] {
            memref::AtomicRMWOp::create(b, loc, arith::AtomicRMWKind::addf,
                                        acc[t][i], queryGrad,
                                        ValueRange{r, col(i)});
          });
        }
      }
    };
    if (u0 + warps <= units)
      inUnit();
    else
      e.ifThen(e.lt(unit, e.idx(units)), inUnit);
  }
  if (!bulk)
    return;
  // The tile's writes visible to the bulk copies' (async) proxy, then to
  // the first warp.
  fenceProxyAsyncShared(b, loc);
  gpu::BarrierOp::create(b, loc);
  Value row = e.add(e.lane, row0);
  Value issues =
      e.andi(e.andi(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                          warp, e.idx(0)),
                    e.lt(e.lane, e.idx(queries))),
             e.lt(row, queryCount));
  e.ifThen(issues, [&] {
    const int64_t rowBytes = (d + paddedRowElements(TileLayout::Padded, f32)) *
                             elementBytes(dq.memref);
    Value source = arith::AddIOp::create(
        b, loc, sharedAddress(b, loc, dq.memref),
        arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                   e.mul(e.lane, rowBytes)));
    LLVM::InlineAsmOp::create(
        b, loc, /*res=*/Type(),
        ValueRange{globalRowAddress(e, queryGrad, row), source,
                   e.i32(d * elementBytes(queryGrad))},
        "cp.reduce.async.bulk.global.shared::cta.bulk_group.add.f32 [$0], "
        "[$1], $2;",
        "l,l,r", /*has_side_effects=*/true, /*is_align_stack=*/false,
        LLVM::TailCallKind::None, /*asm_dialect=*/nullptr,
        /*operand_attrs=*/nullptr);
    NVVM::CpAsyncBulkCommitGroupOp::create(b, loc);
  });
}

/// softmax_grad_step on tensor cores, for one warp's rows R (the queries
/// of the query form, the keys of the key form) against the block's staged
/// tile C of the other side, with X = (query, out_grad) or (key, value):
///   S  = X_1 C_1^T, dP = X_2 C_2^T        (mmaRowsByRows)
///   P, dS from S, dP, the queries' lse and D  (emitScoreGradient, base 2;
///                                          0 where the pair is dropped)
///   dQ += dS K  |  dV += P^T dO, dK += dS^T Q   (accumulateProduct)
/// In the key form S and dP are transposed (rows keys, columns queries),
/// so that the products' A operands are again accumulator fragments.
void lowerGradStepOnTensorCores(const StagedOp &stagedOp,
                                ArrayRef<GradAccumulator *> accs,
                                int64_t columnRows, int64_t threads,
                                StagedQueries &staged, bool deferProducts) {
  auto op = cast<SoftmaxGradStepOp>(stagedOp.op);
  OpBuilder b(op);
  Location loc = op.getLoc();
  const bool keyForm = op.accumulatesKeys();
  GradSides sides = sidesOf(op);
  Value rowsA = sides.rowsA->get(), rowsB = sides.rowsB->get();
  Type elem = cast<MemRefType>(rowsA.getType()).getElementType();
  WarpEmitter e(b, loc, elem);
  const int64_t d = cast<MemRefType>(op.getQuery().getType()).getDimSize(1);
  const int64_t dv = cast<MemRefType>(op.getValue().getType()).getDimSize(1);
  const int64_t rows = accs.front()->rows;
  const int64_t mTiles = rows / e.layout.m, nTiles = columnRows / e.layout.n;
  auto launch = op->getParentOfType<gpu::LaunchOp>();

  StagedTile stagedA{stagedTileOf(stagedOp, sides.stagedA->get()),
                     stagedOp.reader},
      stagedB{stagedTileOf(stagedOp, sides.stagedB->get()), stagedOp.reader};
  // The warps' own rows: on warpgroup MMA, where each warp has one 16-row
  // tile, one block-wide tile that descriptors read as S's and dP's A (no
  // registers for A, which lets both products be in flight at once and the
  // kernels still fit three blocks a multiprocessor); else each warp's
  // tile, A's fragments loaded from it by ldmatrix. The fused form
  // multiplies by the block's padded key rows.
  const bool ownRowsByDescriptor =
      stagedA.onWarpgroups() && !op.fusesQueryGrad() &&
      stagesRowsForWarpgroups(rowsA, rows, launch) &&
      stagesRowsForWarpgroups(rowsB, rows, launch);
  auto ownRows = [&](Value x) {
    return stagedOwnRows(x, elem, rows, launch, threads, staged,
                         ownRowsByDescriptor);
  };
  SharedTile xA = ownRows(rowsA), xB = ownRows(rowsB);

  // The queries' statistics, per row (query form) or column (key form):
  // lse in base 2, +inf past the tile's queries (p = 0 there), and D.
  const double log2e = 1.4426950408889634;
  Value queries = e.dim(op.getQuery(), 0);
  std::map<std::pair<int64_t, int64_t>, std::pair<Value, Value>> statistics;
  auto statisticsOf = [&](int64_t tile, int64_t offset, Value query) {
    auto [it, fresh] = statistics.try_emplace({tile, offset});
    if (fresh) {
      auto ifOp = scf::IfOp::create(
          b, loc, e.lt(query, queries),
          [&](OpBuilder &, Location) {
            scf::YieldOp::create(
                b, loc,
                ValueRange{e.mulf(e.load(op.getLse(), {query}), e.cst(log2e)),
                           e.load(op.getDelta(), {query})});
          },
          [&](OpBuilder &, Location) {
            scf::YieldOp::create(
                b, loc,
                ValueRange{e.cst(std::numeric_limits<double>::infinity()),
                           e.cst(0.0)});
          });
      it->second = {ifOp.getResult(0), ifOp.getResult(1)};
    }
    return it->second;
  };
  const double scale = op.getScale().convertToDouble();
  Value columns = e.dim(sides.stagedA->get(), 0);
  const FragmentLayout &c = e.layout.c;

  // A chunk of the staged side's rows at a time (gradChunkRows), so that
  // S and dP fit the registers beside the accumulators: the products'
  // depth is the chunk's rows of the staged tiles.
  const int64_t chunkTiles = std::min<int64_t>(
      nTiles, gradChunkRows(keyForm, stagedA.onWarpgroups()) / 8);
  const int64_t chunks = llvm::divideCeil(nTiles, chunkTiles);
  // A score region's slopes are live beside S and dP: with one, the
  // statistics are loaded once S is there and S is waited for before dP is
  // issued (so the soft-capped key kernel keeps to the 168 registers that
  // three blocks of 128 threads a multiprocessor allow). Without one, the
  // statistics are loaded first, their loads in flight while the products
  // run, and on warpgroup MMA S and dP are both issued before S alone is
  // waited for, so that P's exponentials run while the dP product does.
  const bool scored = !op.getScore().empty();
  const bool onWarpgroups = stagedA.onWarpgroups();
  const bool bothInFlight = onWarpgroups && !scored;
  // The accumulations (dV and dK, or dQ) left in flight until the next
  // chunk's first wait, on warpgroup MMA, where the caller says so: where
  // no step of the launch has a predicate or a score region. In a launch
  // with one, their accumulators live across S and dP took the causal key
  // kernel from 167 registers to 180 (two blocks a multiprocessor instead
  // of three: 11-14% slower on an H100); dense and BigBird gain 1-3%.
  deferProducts = deferProducts && bothInFlight;
  WarpgroupAccumulators dvInFlight, gradInFlight;
  auto storeInFlight = [&] {
    if (!dvInFlight.empty())
      storeWaitedAccumulation(e, std::move(dvInFlight), accs[1]->lane, dv);
    if (!gradInFlight.empty())
      storeWaitedAccumulation(e, std::move(gradInFlight), accs[0]->lane, d);
    dvInFlight.clear();
    gradInFlight.clear();
  };
  for (int64_t n0 = 0; n0 < nTiles; n0 += chunkTiles) {
    const int64_t row0 = n0 * e.layout.n;
    const int64_t tiles = std::min(chunkTiles, nTiles - n0);
    // (lse, D) of element i of tile (mt, cn) at E (mt tiles + cn) + i.
    SmallVector<std::pair<Value, Value>> chunkStatistics;
    auto loadStatistics = [&] {
      for (int64_t mt = 0; mt < mTiles; ++mt)
        for (int64_t cn = 0; cn < tiles; ++cn)
          for (int64_t i = 0; i < c.numElements(); ++i)
            chunkStatistics.push_back(
                keyForm
                    ? statisticsOf(n0 + cn, c.colOf[i], e.accCol(n0 + cn, i))
                    : statisticsOf(mt, c.rowOf[i], e.accRow(mt, i)));
    };
    if (!scored)
      loadStatistics();
    AccumulatorTiles s, dp;
    WarpgroupAccumulators dpInFlight;
    if (onWarpgroups) {
      auto issue = [&](const SharedTile &x, int64_t depth,
                       const StagedTile &other) {
        return issueStagedRowsByStagedRows(e, x, ownRowsByDescriptor, mTiles,
                                           depth, other, tiles, row0);
      };
      WarpgroupAccumulators sInFlight = issue(xA, d, stagedA);
      if (!bothInFlight) {
        // Nothing is in flight here: deferProducts needs bothInFlight.
        warpgroupWait(b, loc, /*pending=*/0);
        s = waitedTiles(e, std::move(sInFlight));
      }
      if (n0 == 0) // the second staged tile may still be on its way
        waitForLastStaged(b, loc, stagedOp);
      dpInFlight = issue(xB, dv, stagedB);
      if (bothInFlight) {
        warpgroupWait(b, loc, /*pending=*/1);
        storeInFlight();
        s = waitedTiles(e, std::move(sInFlight));
      }
    } else {
      s = rowsByStagedRows(e, xA, stagedA, mTiles, tiles, d, row0,
                           /*xByDescriptor=*/false);
      if (n0 == 0)
        waitForLastStaged(b, loc, stagedOp);
      dp = rowsByStagedRows(e, xB, stagedB, mTiles, tiles, dv, row0,
                            /*xByDescriptor=*/false);
    }
    // Scores in base 2 (through the score region, whose slopes scale dS),
    // dropped pairs at -inf: p = 0 and ds = 0 there.
    AccumulatorTiles slopes;
    if (!scored) {
      for (auto &rowTiles : s)
        for (auto &tile : rowTiles)
          for (Value &x : tile)
            x = e.mulf(x, e.cst(scale * log2e));
    } else {
      slopes = s;
      forEachScore(e, s, n0,
                   [&](int64_t mt, int64_t n, int64_t i, Value row, Value col) {
                     Value scaled = e.mulf(s[mt][n][i], e.cst(scale));
                     ScoreWithSlope m =
                         keyForm ? emitScoreAt(b, loc, op, scaled, col, row)
                                 : emitScoreAt(b, loc, op, scaled, row, col);
                     s[mt][n][i] = e.mulf(m.score, e.cst(log2e));
                     slopes[mt][n][i] = m.slope;
                   });
    }
    SmallVector<Value> flat = maskScores(
        e, s, n0, columns, !op.getPredicate().empty(),
        [&](Value row, Value col) {
          return keyForm ? emitKeptAt(b, loc, op, col, row)
                         : emitKeptAt(b, loc, op, row, col);
        });
    // P (in flat's order), then dS once dP is there.
    if (scored)
      loadStatistics();
    SmallVector<Value> probabilities;
    for (auto [score, statistics] : llvm::zip_equal(flat, chunkStatistics))
      probabilities.push_back(
          emitScoreProbability(b, loc, score, statistics.first, ExpBase::Two));
    if (onWarpgroups) {
      warpgroupWait(b, loc, /*pending=*/0);
      dp = waitedTiles(e, std::move(dpInFlight));
    }
    RowFragments pRows(e.rowSlots() * mTiles), dsRows(e.rowSlots() * mTiles);
    SmallVector<Value> dsValues; // the fused form's: tile (mt, cn) at
                                 // E (mt tiles + cn)
    for (int64_t mt = 0; mt < mTiles; ++mt)
      for (int64_t cn = 0; cn < tiles; ++cn) {
        SmallVector<Value, 4> p(c.numElements()), ds(c.numElements());
        for (int64_t i = 0; i < c.numElements(); ++i) {
          const int64_t at = c.numElements() * (mt * tiles + cn) + i;
          p[i] = probabilities[at];
          ds[i] = emitScoreGradientOfProbability(
              b, loc, p[i], dp[mt][cn][i], chunkStatistics[at].second, scale,
              slopes.empty() ? Value() : slopes[mt][cn][i]);
        }
        if (op.fusesQueryGrad())
          llvm::append_range(dsValues, ds);
        for (int64_t h = 0; h < e.rowSlots(); ++h) {
          SmallVector<int64_t, 4> pair = c.elementsOfRowSlot(h);
          llvm::append_range(pRows[e.rowSlots() * mt + h],
                             e.operandRegisters({p[pair[0]], p[pair[1]]}));
          llvm::append_range(dsRows[e.rowSlots() * mt + h],
                             e.operandRegisters({ds[pair[0]], ds[pair[1]]}));
        }
      }
    const int64_t depth = tiles * e.layout.n;
    if (onWarpgroups) {
      // The key form's two products issued together; left in flight until
      // the next chunk's first wait (or the step's end).
      if (keyForm)
        dvInFlight = issueAccumulation(e, accs[1]->lane, mTiles, dv, pRows,
                                       depth, stagedB, {}, row0);
      gradInFlight = issueAccumulation(e, accs[0]->lane, mTiles, d, dsRows,
                                       depth, stagedA, {}, row0);
      if (!deferProducts) {
        warpgroupWait(b, loc, /*pending=*/0);
        storeInFlight();
      }
    } else {
      if (keyForm)
        accumulateProduct(e, accs[1]->lane, mTiles, dv, pRows, depth, stagedB,
                          {}, row0);
      accumulateProduct(e, accs[0]->lane, mTiles, d, dsRows, depth, stagedA, {},
                        row0);
    }
    if (op.fusesQueryGrad())
      addQueryGradOfChunk(e, op, dsValues, mTiles, tiles, chunkTiles, row0,
                          n0 / chunkTiles, threads, staged);
  }
  if (!dvInFlight.empty() || !gradInFlight.empty()) {
    warpgroupWait(b, loc, /*pending=*/0);
    storeInFlight();
  }
  // With an odd number of chunks, the next step's first chunk writes the
  // dS^T tile this step's last one read: every warp has read it first
  // (with bulk reductions, the barrier before them has seen to it).
  if (op.fusesQueryGrad() && chunks % 2 && !addsQueryGradInBulk(op))
    gpu::BarrierOp::create(b, loc);
  op.erase();
}

/// A fill of a thread's accumulator row, or its copy out (converted to
/// the output's element type): whole-row vector loads and stores.
void lowerAccumulatorRowUse(Operation *use) {
  OpBuilder b(use);
  Location loc = use->getLoc();
  ScalarEmitter e{b, loc};
  Value out = use->getOperand(1);
  auto outType = cast<MemRefType>(out.getType());
  auto row = VectorType::get({outType.getDimSize(1)}, outType.getElementType());
  e.loop(e.idx(0), e.dim(out, 0), {}, [&](Value r, ValueRange) {
    Value v;
    if (auto fill = dyn_cast<linalg::FillOp>(use)) {
      v = vector::BroadcastOp::create(b, loc, row, fill.getInputs()[0]);
    } else {
      Value in = use->getOperand(0);
      auto inType = cast<MemRefType>(in.getType());
      v = vector::LoadOp::create(b, loc, row.clone(inType.getElementType()), in,
                                 ValueRange{r, e.idx(0)});
      if (inType.getElementType() != outType.getElementType())
        v = arith::TruncFOp::create(b, loc, row, v);
    }
    vector::StoreOp::create(b, loc, v, out, ValueRange{r, e.idx(0)});
    return SmallVector<Value>{};
  });
  use->erase();
}

/// A copy out of a gradient accumulator: its rows [0, rows of `copy`'s
/// output) stored from the lane's registers, converted to the output's
/// element type.
void lowerAccumulatorCopy(linalg::CopyOp copy, const GradAccumulator &acc) {
  OpBuilder b(copy);
  Value out = copy.getOutputs()[0];
  WarpEmitter e(b, copy.getLoc(),
                cast<MemRefType>(out.getType()).getElementType());
  Value count = e.dim(out, 0);
  forEachRowSlot(e, acc.rows, [&](int64_t mt, int64_t slot, Value row) {
    e.ifThen(e.lt(row, count), [&] {
      storeRowSlot(e, acc.lane, mt, slot, acc.width, out, row, Value());
    });
  });
  copy.erase();
}

//===----------------------------------------------------------------------===//
// Row-per-lane form
//===----------------------------------------------------------------------===//

/// Lane l's row of a row group (none past the group's rows): its offset
/// and count (0 or 1).
std::pair<Value, Value> laneRow(OpBuilder &b, Location loc, Value rows) {
  ScalarEmitter e{b, loc};
  Value lane = gpu::LaneIdOp::create(b, loc, IntegerAttr());
  Value has =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, lane, rows);
  return {arith::MinUIOp::create(b, loc, lane, rows),
          arith::SelectOp::create(b, loc, has, e.idx(1), e.idx(0))};
}


LogicalResult lowerStepPerLane(SoftmaxStepOp op, const RowGroup &g) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto [row, count] =
      laneRow(b, loc, memref::DimOp::create(b, loc, op.getQuery(), 0));
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  auto step = SoftmaxStepOp::create(
      b, loc, rowView(b, loc, op.getQuery(), row, count), op.getKey(),
      op.getValue(), rowView(b, loc, g.laneMax, zero, count),
      rowView(b, loc, g.laneSum, zero, count),
      rowView(b, loc, g.laneAcc, zero, count),
      arith::AddIOp::create(b, loc, op.getQueryOffset(), row),
      op.getKeyOffset(), op.getScaleAttr());
  step.getPredicate().takeBody(op.getPredicate());
  step.getScore().takeBody(op.getScore());
  op.erase();
  return lowerSoftmaxStep(step);
}

LogicalResult lowerFinalizePerLane(SoftmaxFinalizeOp op, const RowGroup &g) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto [row, count] =
      laneRow(b, loc, memref::DimOp::create(b, loc, op.getOutput(), 0));
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value max, lse;
  if (op.getLse()) {
    max = rowView(b, loc, g.laneMax, zero, count);
    lse = rowView(b, loc, op.getLse(), row, count);
  }
  auto finalize =
      SoftmaxFinalizeOp::create(b, loc, rowView(b, loc, g.laneSum, zero, count),
                                rowView(b, loc, g.laneAcc, zero, count),
                                rowView(b, loc, op.getOutput(), row, count),
                                max, lse);
  op.erase();
  return lowerSoftmaxFinalize(finalize);
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

struct ConvertSoftmaxTilesToGPUPass
    : public mlir::attn::impl::ConvertSoftmaxTilesToGPUBase<
          ConvertSoftmaxTilesToGPUPass> {
  using ConvertSoftmaxTilesToGPUBase::ConvertSoftmaxTilesToGPUBase;
  /// The launches' producer rings (warp-specialize).
  ProducerRings rings;

  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    rings.clear();
    if (std::optional<std::string> problem = checkSoftmaxTilesToGPUOptions(
            tensorCopies, warpSpecialize, overlapSoftmax, producerQueries)) {
      fn.emitError() << *problem;
      return signalPassFailure();
    }
    SmallVector<SoftmaxStepOp> steps;
    SmallVector<SoftmaxFinalizeOp> finalizes;
    SmallVector<SoftmaxGradStepOp> gradSteps;
    WalkResult walk = fn.walk([&](Operation *op) {
      if (!isa<SoftmaxStepOp, SoftmaxFinalizeOp, SoftmaxGradStepOp>(op))
        return WalkResult::advance();
      if (!op->getParentOfType<gpu::LaunchOp>()) {
        op->emitOpError("is not in a gpu.launch: attn-map-loops-to-gpu "
                        "(lanes-per-iteration=32) maps tile loops to warps "
                        "first");
        return WalkResult::interrupt();
      }
      if (auto step = dyn_cast<SoftmaxStepOp>(op))
        steps.push_back(step);
      else if (auto grad = dyn_cast<SoftmaxGradStepOp>(op))
        gradSteps.push_back(grad);
      else
        finalizes.push_back(cast<SoftmaxFinalizeOp>(op));
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();

    // Row groups, keyed by their accumulator buffer.
    llvm::MapVector<Operation *, RowGroup> groups;
    auto groupOf = [&](Operation *op, Value max, Value sum,
                       Value acc) -> RowGroup * {
      memref::AllocaOp m = max ? stateBuffer(max) : memref::AllocaOp();
      memref::AllocaOp l = stateBuffer(sum), a = stateBuffer(acc);
      auto launch = op->getParentOfType<gpu::LaunchOp>();
      auto inKernel = [&](memref::AllocaOp x) {
        return x && launch->isProperAncestor(x) && x.getType().hasStaticShape();
      };
      if ((max && !inKernel(m)) || !inKernel(l) || !inKernel(a)) {
        op->emitOpError("needs its statistics and accumulator in static "
                        "buffers of its kernel (attn-tile's)");
        return nullptr;
      }
      RowGroup &g = groups[a];
      if (!g.acc) {
        g.acc = a;
        g.sum = l;
        g.rows = a.getType().getDimSize(0);
        g.dv = a.getType().getDimSize(1);
      }
      if (m && !g.max)
        g.max = m;
      if (g.sum != l || (m && g.max != m)) {
        op->emitOpError("shares its accumulator but not its statistics with "
                        "another tile op");
        return nullptr;
      }
      return &g;
    };
    DenseMap<Operation *, int64_t> keyRows;
    for (SoftmaxStepOp step : steps) {
      RowGroup *g = groupOf(step, step.getMax(), step.getSum(), step.getAcc());
      if (!g)
        return signalPassFailure();
      std::optional<int64_t> rows = tensorCoreKeyRows(
          step, g->rows, step->getParentOfType<gpu::LaunchOp>());
      if (rows)
        keyRows[step] = *rows;
      else
        g->form = Form::RowPerLane;
    }
    for (SoftmaxFinalizeOp finalize : finalizes) {
      RowGroup *g = groupOf(finalize, finalize.getMax(), finalize.getSum(),
                            finalize.getAcc());
      if (!g)
        return signalPassFailure();
      if (!g->max)
        g->form = Form::RowPerLane;
    }

    SmallVector<Operation *> oldState;
    for (auto &[key, g] : groups) {
      if (g.form == Form::RowPerLane && g.rows > kWarpLanes) {
        g.acc.emitOpError("is a row group of ")
            << g.rows << " rows; one warp holds at most " << kWarpLanes
            << " rows (attn-tile rows-per-instance)";
        return signalPassFailure();
      }
      allocateLaneState(g);
      for (auto [old, lane] :
           {std::pair{g.max, g.laneMax}, std::pair{g.sum, g.laneSum},
            std::pair{g.acc, g.laneAcc}}) {
        if (!old)
          continue;
        SmallVector<Operation *> uses;
        if (failed(collectStateUses(old, uses)))
          return signalPassFailure();
        SmallVector<Operation *> filled = replaceFills(uses, lane, g.form);
        if (old == g.acc)
          g.accResets = std::move(filled);
        oldState.push_back(old);
      }
    }

    // Shared memory is asked for as staging buffers (allocateShared), placed
    // by attn-allocate-shared-memory.
    // Tensor-core steps first have their key and value tiles staged
    // (stageForBlock), which may pipeline the loop around them.
    SmallVector<std::pair<StagedOp, int64_t>> tcSteps;
    StagedQueries queries;
    for (SoftmaxStepOp step : steps) {
      const RowGroup &g = groups[stateBuffer(step.getAcc())];
      if (g.form == Form::RowPerLane) {
        if (failed(lowerStepPerLane(step, g)))
          return signalPassFailure();
        continue;
      }
      int64_t rows = keyRows[step];
      StagedReader reader =
          stagedReaderOf(step, step.getQuery(), step.getValue(), rows);
      const bool producer =
          warpSpecialize &&
          takesProducer(step->getParentOfType<gpu::LaunchOp>(),
                        /*forward=*/true);
      // The overlapped form gives the keys' stage back within the step, the
      // values' a step later (lowerStepOverlapped).
      SmallVector<int64_t> heldSteps;
      if (overlapSoftmax && reader == StagedReader::WarpgroupMma)
        heldSteps = {0, 1};
      tcSteps.push_back(
          {stageForBlock(step,
                         {step.getKeyMutable().getOperandNumber(),
                          step.getValueMutable().getOperandNumber()},
                         rows, blockThreads(step), reader,
                         /*tensorCopies=*/tensorCopies == "all" ||
                             tensorCopies == "forward" ||
                             (tensorCopies == "auto" && producer),
                         producer ? &rings : nullptr, heldSteps,
                         // V is read down its columns (P V's B).
                         /*downColumns=*/{false, true}),
           rows});
    }
    // The overlapped form where every step of a group leaves its stage to
    // its lowering, over key tiles of one size, and a finalize flushes it.
    for (SoftmaxFinalizeOp finalize : finalizes)
      groups[stateBuffer(finalize.getAcc())].overlapped = true;
    for (auto [staged, rows] : tcSteps) {
      auto step = cast<SoftmaxStepOp>(staged.op);
      RowGroup &g = groups[stateBuffer(step.getAcc())];
      g.overlapped = g.overlapped && !staged.stages.empty() &&
                     (!g.keyRows || g.keyRows == rows);
      g.keyRows = rows;
      g.valueElem = getElementTypeOrSelf(step.getValue());
      if (!staged.stages.empty())
        g.release = staged.stages[1].release;
    }
    for (auto &[key, g] : groups) {
      g.overlapped = g.overlapped && g.form == Form::TensorCore && g.keyRows;
      if (g.overlapped)
        allocateLastStep(g);
    }
    // An overlapped group's queries, one view for all its steps, by the
    // producer that copies its keys and values -- where its key tiles are
    // wider than a warpgroup's 64 query rows: over 64-key tiles (head dim
    // 128) it was 1-2% slower on the H200, over 128-key tiles 0.4-3.5%
    // faster (tools/attn-bench/NOTES.md, session 61; why, not profiled).
    if (producerQueries)
      for (SoftmaxFinalizeOp finalize : finalizes) {
        memref::AllocaOp state = stateBuffer(finalize.getAcc());
        const RowGroup &g = groups[state];
        if (!g.overlapped || g.keyRows <= kWgmmaM)
          continue;
        SmallVector<Value> views;
        for (auto [staged, rows] : tcSteps)
          if (auto step = cast<SoftmaxStepOp>(staged.op);
              stateBuffer(step.getAcc()) == state)
            views.push_back(step.getQuery());
        if (views.empty() || !llvm::all_equal(views))
          continue;
        if (std::optional<SharedTile> tile = stageQueriesForProducer(
                views.front(), g.rows, finalize, blockThreads(finalize)))
          queries.fromProducer.try_emplace(views.front(), *tile);
      }
    if (failed(lowerGradSteps(gradSteps, queries, oldState)))
      return signalPassFailure();
    for (auto [staged, rows] : tcSteps) {
      auto step = cast<SoftmaxStepOp>(staged.op);
      RowGroup &g = groups[stateBuffer(step.getAcc())];
      if (g.overlapped)
        lowerStepOverlapped(staged, g, blockThreads(step), queries);
      else
        lowerStepOnTensorCores(staged, g, rows, blockThreads(step), queries);
    }
    for (SoftmaxFinalizeOp finalize : finalizes) {
      const RowGroup &g = groups[stateBuffer(finalize.getAcc())];
      if (g.form == Form::RowPerLane) {
        if (failed(lowerFinalizePerLane(finalize, g)))
          return signalPassFailure();
      } else {
        lowerFinalizeOnTensorCores(finalize, g);
      }
    }

    // attn-tile's buffers and their views are dead now.
    std::function<void(Operation *)> eraseWithViews = [&](Operation *op) {
      for (Operation *user : llvm::make_early_inc_range(op->getUsers()))
        eraseWithViews(user);
      op->erase();
    };
    for (Operation *old : oldState)
      eraseWithViews(old);
  }

  /// softmax_grad_steps: a thread's row a row at a time; a warp's rows on
  /// tensor cores, their accumulators in the lanes' registers.
  /// attn-tile's accumulators go to `oldState`.
  LogicalResult lowerGradSteps(ArrayRef<SoftmaxGradStepOp> gradSteps,
                               StagedQueries &queries,
                               SmallVectorImpl<Operation *> &oldState) {
    llvm::MapVector<Operation *, GradAccumulator> accumulators;
    llvm::SmallPtrSet<Operation *, 8> rowAccumulators;
    SmallVector<Operation *> rowUses;
    struct TensorCoreStep {
      StagedOp staged;
      SmallVector<Operation *, 2> accs;
      int64_t columnRows;
    };
    SmallVector<TensorCoreStep> tcSteps;
    for (SoftmaxGradStepOp op : gradSteps) {
      SmallVector<Value, 2> buffers =
          op.accumulatesKeys()
              ? SmallVector<Value, 2>{op.getKeyGrad(), op.getValueGrad()}
              : SmallVector<Value, 2>{op.getQueryGrad()};
      SmallVector<Operation *, 2> accs;
      for (Value v : buffers) {
        memref::AllocaOp a = stateBuffer(v);
        if (!a || !a.getType().hasStaticShape())
          return op.emitOpError("needs its accumulators in static buffers of "
                                "its kernel (attn-tile's)");
        accs.push_back(a);
      }
      int64_t rows = cast<memref::AllocaOp>(accs[0]).getType().getDimSize(0);
      if (rows == 1) {
        for (Operation *a : accs) {
          SmallVector<Operation *> uses;
          if (rowAccumulators.insert(a).second &&
              failed(collectStateUses(a->getResult(0), uses)))
            return failure();
          for (Operation *use : uses)
            if (isa<linalg::FillOp, linalg::CopyOp>(use))
              rowUses.push_back(use);
        }
        IRRewriter rewriter(op);
        if (failed(lowerSoftmaxGradStepByRows(op, rewriter)))
          return failure();
        continue;
      }
      auto launch = op->getParentOfType<gpu::LaunchOp>();
      FailureOr<int64_t> columnRows = tensorCoreColumnRows(op, rows, launch);
      if (failed(columnRows))
        return failure();
      GradSides sides = sidesOf(op);
      // S's columns on warpgroup MMA: a chunk of the staged rows.
      StagedOp stagedOp = stageForBlock(
          op,
          {sides.stagedA->getOperandNumber(),
           sides.stagedB->getOperandNumber()},
          *columnRows, blockThreads(op),
          stagedReaderOf(
              op, op.getQuery(), op.getValue(),
              std::min(*columnRows, gradChunkRows(op.accumulatesKeys(),
                                                  /*onWarpgroups=*/true))),
          /*tensorCopies=*/tensorCopies == "all" || tensorCopies == "gradient",
          warpSpecialize ? &rings : nullptr);
      op = cast<SoftmaxGradStepOp>(stagedOp.op);
      for (Operation *a : accs) {
        GradAccumulator &acc = accumulators[a];
        if (!acc.buffer) {
          acc.buffer = cast<memref::AllocaOp>(a);
          acc.rows = acc.buffer.getType().getDimSize(0);
          acc.width = acc.buffer.getType().getDimSize(1);
          OpBuilder b(a);
          acc.lane = memref::AllocaOp::create(
              b, a->getLoc(),
              MemRefType::get({accumulatorIndex(acc.rows / kMmaRows, 0, 0,
                                                acc.width)},
                              b.getF32Type()));
        }
      }
      tcSteps.push_back({stagedOp, accs, *columnRows});
    }
    // Fills and copies of the accumulators become the lanes' registers'.
    SmallVector<std::pair<linalg::CopyOp, GradAccumulator *>> copies;
    for (auto &[key, acc] : accumulators) {
      SmallVector<Operation *> uses;
      if (failed(collectStateUses(acc.buffer, uses)))
        return failure();
      // The copies first: replaceFills erases the fills among `uses`.
      for (Operation *use : uses)
        if (auto copy = dyn_cast<linalg::CopyOp>(use))
          copies.push_back({copy, &acc});
      replaceFills(uses, acc.lane, Form::TensorCore);
      oldState.push_back(acc.buffer);
    }
    // The launches whose steps may leave their accumulations in flight
    // across chunks: those none of whose steps has a predicate or a score
    // region (lowerGradStepOnTensorCores, `deferProducts`).
    llvm::SmallPtrSet<Operation *, 4> withRegions;
    for (TensorCoreStep &step : tcSteps) {
      auto op = cast<SoftmaxGradStepOp>(step.staged.op);
      if (!op.getPredicate().empty() || !op.getScore().empty())
        withRegions.insert(op->getParentOfType<gpu::LaunchOp>());
    }
    for (TensorCoreStep &step : tcSteps) {
      SmallVector<GradAccumulator *, 2> accs;
      for (Operation *a : step.accs)
        accs.push_back(&accumulators[a]);
      lowerGradStepOnTensorCores(
          step.staged, accs, step.columnRows, blockThreads(step.staged.op),
          queries,
          /*deferProducts=*/
          !withRegions.contains(
              step.staged.op->getParentOfType<gpu::LaunchOp>()));
    }
    for (auto [copy, acc] : copies)
      lowerAccumulatorCopy(copy, *acc);
    // A thread's accumulator row is one vector: filled and copied out
    // whole, so that it stays in registers.
    for (Operation *use : rowUses)
      lowerAccumulatorRowUse(use);
    return success();
  }
};

} // namespace

std::optional<std::string> mlir::attn::checkSoftmaxTilesToGPUOptions(
    StringRef tensorCopies, bool warpSpecialize, bool overlapSoftmax,
    bool producerQueries) {
  if (!llvm::is_contained({"off", "auto", "forward", "gradient", "all"},
                          tensorCopies))
    return "tensor-copies must be off, auto, forward, gradient or all, got '" +
           tensorCopies.str() + "'";
  if (warpSpecialize && tensorCopies == "off")
    return std::string("warp-specialize needs tensor-copies auto, forward, "
                       "gradient or all (the producer issues tensor copies)");
  if (overlapSoftmax && !warpSpecialize)
    return std::string("overlap-softmax needs warp-specialize (its P V a "
                       "step late holds a stage of the producer's ring)");
  if (producerQueries && !overlapSoftmax)
    return std::string("producer-queries needs overlap-softmax (its producer "
                       "copies the overlapped steps' queries)");
  return std::nullopt;
}

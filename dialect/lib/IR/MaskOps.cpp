//===- MaskOps.cpp - mask patterns: classification, predicates, verifiers -===//
//
// Each pattern states its element predicate once, as a template over an
// integer "arithmetic" (NumArith evaluates it, IRArith emits it as arith IR),
// so the predicate that checks use and the one that kernels run cannot drift
// apart. Tile classification is analytic and exact, pattern by pattern;
// combinators fall back to enumerating a tile only when their operands'
// kinds cannot decide it.
//
//===----------------------------------------------------------------------===//

#include "VerifyUtils.h"
#include "attn/IR/AttnOps.h"
#include "attn/IR/MaskArith.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::attn;

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

StringRef mlir::attn::stringifyTileKind(TileKind kind) {
  switch (kind) {
  case TileKind::Empty:
    return "empty";
  case TileKind::Partial:
    return "partial";
  case TileKind::Full:
    return "full";
  }
  llvm_unreachable("unknown tile kind");
}

RuntimeData::~RuntimeData() = default;
PredicateBuilder::~PredicateBuilder() = default;

Value PredicateBuilder::lookupTable(ArrayRef<int32_t> data,
                                    ArrayRef<int64_t> shape,
                                    ValueRange indices) {
  auto type = RankedTensorType::get(shape, builder.getI32Type());
  auto table = arith::ConstantOp::create(builder, loc,
                                         DenseIntElementsAttr::get(type, data));
  Value elem = tensor::ExtractOp::create(builder, loc, table, indices);
  return arith::IndexCastOp::create(builder, loc, builder.getIndexType(), elem);
}

Value PredicateBuilder::readRuntime(Value operand, Value index) {
  Value elem = tensor::ExtractOp::create(builder, loc, operand, index);
  return arith::IndexCastOp::create(builder, loc, builder.getIndexType(), elem);
}

MaskPattern mlir::attn::getMaskPattern(Value mask) {
  if (Operation *def = mask.getDefiningOp())
    return dyn_cast<MaskPattern>(def);
  return {};
}

TileKind mlir::attn::classifyByEnumeration(MaskPattern pattern,
                                           const MaskContext &ctx,
                                           const TileRange &tile) {
  bool anyKept = false, anyMasked = false;
  for (int64_t q = tile.qBegin; q < tile.qEnd; ++q) {
    for (int64_t k = tile.kBegin; k < tile.kEnd; ++k) {
      if (pattern.evaluate(ctx, q, k))
        anyKept = true;
      else
        anyMasked = true;
      if (anyKept && anyMasked)
        return TileKind::Partial;
    }
  }
  return anyKept ? TileKind::Full : TileKind::Empty;
}

KeyRanges mlir::attn::normalizeKeyRanges(KeyRanges ranges, int64_t seqLen) {
  for (KeyRange &r : ranges)
    r = {std::max<int64_t>(r.begin, 0), std::min(r.end, seqLen)};
  llvm::erase_if(ranges, [](const KeyRange &r) { return r.begin >= r.end; });
  llvm::sort(ranges, [](const KeyRange &x, const KeyRange &y) {
    return x.begin < y.begin;
  });
  KeyRanges merged;
  for (const KeyRange &r : ranges) {
    if (!merged.empty() && r.begin <= merged.back().end)
      merged.back().end = std::max(merged.back().end, r.end);
    else
      merged.push_back(r);
  }
  return merged;
}

KeyRanges mlir::attn::uniteKeyRanges(ArrayRef<KeyRange> a,
                                     ArrayRef<KeyRange> b) {
  KeyRanges all(a.begin(), a.end());
  all.append(b.begin(), b.end());
  // Both lists lie inside [0, seqLen) already: no clipping needed.
  return normalizeKeyRanges(std::move(all), kUnboundedDifference);
}

KeyRanges mlir::attn::intersectKeyRanges(ArrayRef<KeyRange> a,
                                         ArrayRef<KeyRange> b) {
  KeyRanges result;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    int64_t begin = std::max(a[i].begin, b[j].begin);
    int64_t end = std::min(a[i].end, b[j].end);
    if (begin < end)
      result.push_back({begin, end});
    (a[i].end < b[j].end ? i : j)++;
  }
  return result;
}

/// Each `(name, value)` at most kMaxMaskExtent (VerifyUtils.h).
static LogicalResult
verifyAtMostLimit(Operation *op,
                  std::initializer_list<std::pair<StringRef, int64_t>> values) {
  for (auto [name, value] : values)
    if (value > mlir::attn::detail::kMaxMaskExtent)
      return op->emitOpError()
             << name << " must be at most " << mlir::attn::detail::kMaxMaskExtent
             << " (2^31 - 1), got " << value;
  return success();
}

static LogicalResult verifyBlock(Operation *op, std::optional<int64_t> block,
                                 StringRef what = "block size") {
  if (block && (*block <= 0 || !llvm::isPowerOf2_64(*block)))
    return op->emitOpError()
           << what << " must be a positive power of two, got " << *block;
  if (block)
    return verifyAtMostLimit(op, {{what, *block}});
  return success();
}

//===----------------------------------------------------------------------===//
// full, causal
//===----------------------------------------------------------------------===//

template <class A> static typename A::B fullPredicate(A &a) {
  return a.truth(true);
}

TileKind FullMaskOp::classifyTile(const MaskContext &, const TileRange &) {
  return TileKind::Full;
}
bool FullMaskOp::evaluate(const MaskContext &, int64_t, int64_t) {
  return true;
}
Value FullMaskOp::buildPredicate(PredicateBuilder &pb, Value, Value) {
  IRArith a{pb.builder, pb.loc};
  return fullPredicate(a);
}

template <class A>
static typename A::B causalPredicate(A &a, typename A::I q, typename A::I k) {
  return a.le(k, q);
}
TileKind CausalMaskOp::classifyTile(const MaskContext &, const TileRange &t) {
  return classifyDifferences(t, 0, kUnboundedDifference, 1);
}
KeyRanges CausalMaskOp::keyRanges(const MaskContext &, int64_t, int64_t qEnd) {
  return {{0, qEnd}};
}
bool CausalMaskOp::evaluate(const MaskContext &, int64_t q, int64_t k) {
  NumArith a;
  return causalPredicate(a, q, k);
}
Value CausalMaskOp::buildPredicate(PredicateBuilder &pb, Value q, Value k) {
  IRArith a{pb.builder, pb.loc};
  return causalPredicate(a, q, k);
}

//===----------------------------------------------------------------------===//
// window
//===----------------------------------------------------------------------===//

namespace {
template <class A>
typename A::B windowPredicate(WindowMaskOp op, A &a, typename A::I q,
                              typename A::I k) {
  if (std::optional<int64_t> block = op.getBlock()) {
    q = a.div(q, *block);
    k = a.div(k, *block);
  }
  return withinRadius(a, a.sub(q, k), op.getRadius());
}
} // namespace

TileKind WindowMaskOp::classifyTile(const MaskContext &, const TileRange &t) {
  int64_t r = getRadius();
  return classifyDifferences(inUnits(t, getBlock().value_or(1)), -r, r, 1);
}
KeyRanges WindowMaskOp::keyRanges(const MaskContext &, int64_t qBegin,
                                  int64_t qEnd) {
  int64_t r = getRadius(), unit = getBlock().value_or(1);
  // Key blocks within r of the query blocks [qBegin / unit, (qEnd-1) / unit].
  return {{(qBegin / unit - r) * unit, ((qEnd - 1) / unit + r + 1) * unit}};
}
bool WindowMaskOp::evaluate(const MaskContext &, int64_t q, int64_t k) {
  NumArith a;
  return windowPredicate(*this, a, q, k);
}
Value WindowMaskOp::buildPredicate(PredicateBuilder &pb, Value q, Value k) {
  IRArith a{pb.builder, pb.loc};
  return windowPredicate(*this, a, q, k);
}
LogicalResult WindowMaskOp::verify() {
  if (getRadius() < 0)
    return emitOpError() << "radius must be non-negative, got " << getRadius();
  if (failed(verifyAtMostLimit(*this, {{"radius", getRadius()}})))
    return failure();
  return verifyBlock(*this, getBlock());
}

//===----------------------------------------------------------------------===//
// global
//===----------------------------------------------------------------------===//

namespace {
/// Global positions: [0, first) and [last, n), in elements.
struct GlobalBounds {
  int64_t first, last;
};
GlobalBounds globalBounds(GlobalMaskOp op, int64_t n) {
  int64_t unit = op.getBlock().value_or(1);
  int64_t last = op.getBlock() ? (ceilDiv(n, unit) - op.getLast()) * unit
                               : n - op.getLast();
  return {op.getFirst() * unit, last};
}

template <class A>
typename A::B globalPredicate(GlobalMaskOp op, A &a, typename A::I q,
                              typename A::I k, typename A::I n) {
  int64_t unit = op.getBlock().value_or(1);
  typename A::I first = a.cst(op.getFirst() * unit);
  typename A::I last =
      op.getBlock()
          ? a.mul(a.sub(a.ceilDiv(n, unit), a.cst(op.getLast())), unit)
          : a.sub(n, a.cst(op.getLast()));
  auto isGlobal = [&](typename A::I i) {
    return a.either(a.lt(i, first), a.le(last, i));
  };
  return a.either(isGlobal(q), isGlobal(k));
}
} // namespace

TileKind GlobalMaskOp::classifyTile(const MaskContext &ctx,
                                    const TileRange &t) {
  GlobalBounds g = globalBounds(*this, ctx.seqLen);
  auto anyGlobal = [&](int64_t b, int64_t e) {
    return b < g.first || e > g.last;
  };
  // [b, e) lies in [0, first) u [last, n) iff it misses [first, last).
  auto allGlobal = [&](int64_t b, int64_t e) {
    return std::max(b, g.first) >= std::min(e, g.last);
  };
  if (allGlobal(t.qBegin, t.qEnd) || allGlobal(t.kBegin, t.kEnd))
    return TileKind::Full;
  if (!anyGlobal(t.qBegin, t.qEnd) && !anyGlobal(t.kBegin, t.kEnd))
    return TileKind::Empty;
  return TileKind::Partial;
}
KeyRanges GlobalMaskOp::keyRanges(const MaskContext &ctx, int64_t qBegin,
                                  int64_t qEnd) {
  GlobalBounds g = globalBounds(*this, ctx.seqLen);
  if (qBegin < g.first || qEnd > g.last)
    return {{0, ctx.seqLen}}; // a global query row keeps every key
  return {{0, g.first}, {g.last, ctx.seqLen}};
}
bool GlobalMaskOp::evaluate(const MaskContext &ctx, int64_t q, int64_t k) {
  NumArith a;
  return globalPredicate(*this, a, q, k, ctx.seqLen);
}
Value GlobalMaskOp::buildPredicate(PredicateBuilder &pb, Value q, Value k) {
  IRArith a{pb.builder, pb.loc};
  return globalPredicate(*this, a, q, k, pb.seqLen);
}
LogicalResult GlobalMaskOp::verify() {
  if (getFirst() < 0 || getLast() < 0)
    return emitOpError() << "global counts must be non-negative, got first "
                         << getFirst() << " and last " << getLast();
  if (failed(verifyAtMostLimit(
          *this, {{"first", getFirst()}, {"last", getLast()}})))
    return failure();
  if (getFirst() + getLast() == 0)
    return emitOpError("needs at least one global token or block "
                       "(first or last must be positive)");
  return verifyBlock(*this, getBlock());
}

//===----------------------------------------------------------------------===//
// random_blocks
//===----------------------------------------------------------------------===//

::attn::RandomBlockSpec RandomBlocksMaskOp::getSpec() {
  ::attn::RandomBlockSpec spec;
  spec.count = getCount();
  spec.seed = static_cast<uint64_t>(getSeed());
  spec.excludeGlobal = getExcludeGlobal();
  spec.excludeWindow = getExcludeWindow();
  return spec;
}

TileKind RandomBlocksMaskOp::classifyTile(const MaskContext &ctx,
                                          const TileRange &t) {
  int64_t numBlocks = ceilDiv(ctx.seqLen, getBlock());
  TileRange b = inUnits(t, getBlock());
  int64_t kept = 0;
  for (int64_t row = b.qBegin; row < b.qEnd; ++row)
    for (int64_t col : ::attn::randomBlockRow(getSpec(), numBlocks, row))
      kept += col >= b.kBegin && col < b.kEnd;
  if (kept == 0)
    return TileKind::Empty;
  if (kept == (b.qEnd - b.qBegin) * (b.kEnd - b.kBegin))
    return TileKind::Full;
  return TileKind::Partial;
}
KeyRanges RandomBlocksMaskOp::keyRanges(const MaskContext &ctx, int64_t qBegin,
                                        int64_t qEnd) {
  int64_t block = getBlock(), numBlocks = ceilDiv(ctx.seqLen, block);
  KeyRanges ranges;
  for (int64_t row = qBegin / block; row <= (qEnd - 1) / block; ++row)
    for (int64_t col : ::attn::randomBlockRow(getSpec(), numBlocks, row))
      ranges.push_back({col * block, (col + 1) * block});
  return ranges;
}
bool RandomBlocksMaskOp::evaluate(const MaskContext &ctx, int64_t q,
                                  int64_t k) {
  int64_t numBlocks = ceilDiv(ctx.seqLen, getBlock());
  std::vector<int64_t> row =
      ::attn::randomBlockRow(getSpec(), numBlocks, q / getBlock());
  return std::binary_search(row.begin(), row.end(), k / getBlock());
}
Value RandomBlocksMaskOp::buildPredicate(PredicateBuilder &pb, Value q,
                                         Value k) {
  IRArith a{pb.builder, pb.loc};
  if (!pb.staticSeqLen) {
    emitOpError("random blocks are drawn at compile time and need a static "
                "sequence length");
    return {};
  }
  int64_t numBlocks = ceilDiv(*pb.staticSeqLen, getBlock());
  int64_t width = getCount();
  // Rows padded with -1 to `count` entries: (q block, slot) -> key block.
  std::vector<int32_t> table(numBlocks * width, -1);
  for (int64_t i = 0; i < numBlocks; ++i) {
    std::vector<int64_t> row = ::attn::randomBlockRow(getSpec(), numBlocks, i);
    std::copy(row.begin(), row.end(), table.begin() + i * width);
  }
  Value qb = a.div(q, getBlock()), kb = a.div(k, getBlock());
  Value kept = a.truth(false);
  for (int64_t slot = 0; slot < width; ++slot) {
    Value entry = pb.lookupTable(table, {numBlocks, width}, {qb, a.cst(slot)});
    kept = a.either(kept, a.eq(entry, kb));
  }
  return kept;
}
LogicalResult RandomBlocksMaskOp::verify() {
  if (getCount() <= 0)
    return emitOpError() << "count must be positive, got " << getCount();
  if (getExcludeGlobal() < 0)
    return emitOpError() << "exclude_global must be non-negative, got "
                         << getExcludeGlobal();
  if (getExcludeWindow() < -1)
    return emitOpError() << "exclude_window must be -1 (none) or a radius, got "
                         << getExcludeWindow();
  if (failed(verifyAtMostLimit(*this,
                               {{"count", getCount()},
                                {"exclude_global", getExcludeGlobal()},
                                {"exclude_window", getExcludeWindow()}})))
    return failure();
  return verifyBlock(*this, getBlock());
}

//===----------------------------------------------------------------------===//
// chunk, dilated_window, strided
//===----------------------------------------------------------------------===//

namespace {
template <class A>
typename A::B chunkPredicate(ChunkMaskOp op, A &a, typename A::I q,
                             typename A::I k) {
  return a.eq(a.div(q, op.getSize()), a.div(k, op.getSize()));
}
template <class A>
typename A::B dilatedPredicate(DilatedWindowMaskOp op, A &a, typename A::I q,
                               typename A::I k) {
  typename A::I d = a.sub(q, k);
  return a.both(withinRadius(a, d, op.getRadius() * op.getDilation()),
                a.eq(a.rem(d, op.getDilation()), a.cst(0)));
}
template <class A>
typename A::B stridedPredicate(StridedMaskOp op, A &a, typename A::I q,
                               typename A::I k) {
  return a.eq(a.rem(a.sub(q, k), op.getStride()), a.cst(0));
}
} // namespace

TileKind ChunkMaskOp::classifyTile(const MaskContext &, const TileRange &t) {
  TileRange c = inUnits(t, getSize());
  if (c.qEnd <= c.kBegin || c.kEnd <= c.qBegin)
    return TileKind::Empty;
  if (c.qEnd - c.qBegin == 1 && c.kEnd - c.kBegin == 1)
    return TileKind::Full; // one shared chunk
  return TileKind::Partial;
}
KeyRanges ChunkMaskOp::keyRanges(const MaskContext &, int64_t qBegin,
                                 int64_t qEnd) {
  int64_t size = getSize();
  return {{qBegin / size * size, ((qEnd - 1) / size + 1) * size}};
}
bool ChunkMaskOp::evaluate(const MaskContext &, int64_t q, int64_t k) {
  NumArith a;
  return chunkPredicate(*this, a, q, k);
}
Value ChunkMaskOp::buildPredicate(PredicateBuilder &pb, Value q, Value k) {
  IRArith a{pb.builder, pb.loc};
  return chunkPredicate(*this, a, q, k);
}
LogicalResult ChunkMaskOp::verify() {
  if (getSize() <= 0)
    return emitOpError() << "chunk size must be positive, got " << getSize();
  return verifyAtMostLimit(*this, {{"chunk size", getSize()}});
}

TileKind DilatedWindowMaskOp::classifyTile(const MaskContext &,
                                           const TileRange &t) {
  int64_t reach = getRadius() * getDilation();
  return classifyDifferences(t, -reach, reach, getDilation());
}
KeyRanges DilatedWindowMaskOp::keyRanges(const MaskContext &, int64_t qBegin,
                                         int64_t qEnd) {
  int64_t reach = getRadius() * getDilation();
  return differenceKeyRanges(qBegin, qEnd, -reach, reach);
}
bool DilatedWindowMaskOp::evaluate(const MaskContext &, int64_t q, int64_t k) {
  NumArith a;
  return dilatedPredicate(*this, a, q, k);
}
Value DilatedWindowMaskOp::buildPredicate(PredicateBuilder &pb, Value q,
                                          Value k) {
  IRArith a{pb.builder, pb.loc};
  return dilatedPredicate(*this, a, q, k);
}
LogicalResult DilatedWindowMaskOp::verify() {
  if (getRadius() < 0)
    return emitOpError() << "radius must be non-negative, got " << getRadius();
  if (getDilation() <= 0)
    return emitOpError() << "dilation must be positive, got " << getDilation();
  return verifyAtMostLimit(
      *this, {{"radius", getRadius()}, {"dilation", getDilation()}});
}

TileKind StridedMaskOp::classifyTile(const MaskContext &, const TileRange &t) {
  return classifyDifferences(t, -kUnboundedDifference, kUnboundedDifference,
                             getStride());
}
bool StridedMaskOp::evaluate(const MaskContext &, int64_t q, int64_t k) {
  NumArith a;
  return stridedPredicate(*this, a, q, k);
}
Value StridedMaskOp::buildPredicate(PredicateBuilder &pb, Value q, Value k) {
  IRArith a{pb.builder, pb.loc};
  return stridedPredicate(*this, a, q, k);
}
LogicalResult StridedMaskOp::verify() {
  if (getStride() <= 0)
    return emitOpError() << "stride must be positive, got " << getStride();
  return verifyAtMostLimit(*this, {{"stride", getStride()}});
}

//===----------------------------------------------------------------------===//
// key_padding
//===----------------------------------------------------------------------===//

TileKind KeyPaddingMaskOp::classifyTile(const MaskContext &ctx,
                                        const TileRange &t) {
  if (!ctx.runtime)
    return TileKind::Full; // within the key limit
  int64_t limit = ctx.runtime->lookup(getLengths(), ctx.batch);
  if (t.kEnd <= limit)
    return TileKind::Full;
  if (t.kBegin >= limit)
    return TileKind::Empty;
  return TileKind::Partial;
}
bool KeyPaddingMaskOp::evaluate(const MaskContext &ctx, int64_t, int64_t k) {
  return !ctx.runtime || k < ctx.runtime->lookup(getLengths(), ctx.batch);
}
Value KeyPaddingMaskOp::buildPredicate(PredicateBuilder &pb, Value, Value k) {
  IRArith a{pb.builder, pb.loc};
  return a.lt(k, pb.readRuntime(getLengths(), pb.batch));
}
bool KeyPaddingMaskOp::hasStaticClassification() { return false; }
Value KeyPaddingMaskOp::buildKeyLimit(OpBuilder &builder, Location loc,
                                      Value batch) {
  PredicateBuilder pb(builder, loc, batch, Value(), std::nullopt);
  return pb.readRuntime(getLengths(), batch);
}
std::optional<int64_t>
KeyPaddingMaskOp::evaluateKeyLimit(const MaskContext &ctx) {
  return ctx.runtime->lookup(getLengths(), ctx.batch);
}

//===----------------------------------------------------------------------===//
// union, intersect, difference
//===----------------------------------------------------------------------===//

/// The common geometry of `masks`, or an error naming the conflict.
static FailureOr<int64_t> commonBlock(std::optional<Location> loc,
                                      TypeRange masks, StringRef opName) {
  int64_t block = 0;
  for (auto [i, type] : llvm::enumerate(masks)) {
    // Inferring the result type runs before the operands' types are
    // verified: a non-mask operand is reported here.
    auto mask = dyn_cast<MaskType>(type);
    if (!mask) {
      if (loc)
        mlir::emitError(*loc) << "'" << opName << "' operand #" << i
                              << " must be a mask, got " << type;
      return failure();
    }
    int64_t b = mask.getBlock();
    if (b == 0)
      continue;
    if (block != 0 && b != block) {
      if (loc)
        mlir::emitError(*loc)
            << "'" << opName
            << "' combines masks of different geometry: "
               "block "
            << block << " and block " << b << " (operand #" << i << ")";
      return failure();
    }
    block = b;
  }
  return block;
}

/// Combinators are evaluated as trees (classifyTile, evaluate and
/// buildPredicate recurse into every operand), so a mask that shares
/// sub-masks unfolds to as many ops as it has paths: at most this many.
constexpr int64_t kMaxUnfoldedMask = 4096;

SmallVector<Operation *> mlir::attn::detail::maskProducers(Operation *op) {
  SmallVector<Operation *> ops;
  for (Value v : op->getOperands())
    if (isa<MaskType>(v.getType()))
      if (Operation *producer = v.getDefiningOp())
        ops.push_back(producer);
  return ops;
}

/// The number of mask ops `op` unfolds to, counted once per DAG node
/// (saturating past kMaxUnfoldedMask), without recursion; std::nullopt when
/// the mask ops form a cycle (an operand defined later, which the dominance
/// check rejects only after op verifiers ran: walking it never ended).
static std::optional<int64_t> unfoldedSize(Operation *op) {
  llvm::DenseMap<Operation *, int64_t> size;
  llvm::DenseSet<Operation *> expanding;
  SmallVector<std::pair<Operation *, bool>> stack{{op, false}};
  while (!stack.empty()) {
    auto [cur, expanded] = stack.pop_back_val();
    if (size.count(cur))
      continue;
    if (!expanded) {
      // Still being expanded below on the stack: reached from itself.
      if (!expanding.insert(cur).second)
        return std::nullopt;
      stack.push_back({cur, true});
      for (Operation *p : mlir::attn::detail::maskProducers(cur))
        if (!size.count(p))
          stack.push_back({p, false});
      continue;
    }
    int64_t total = 1;
    for (Operation *p : mlir::attn::detail::maskProducers(cur))
      total = std::min(total + size.lookup(p), kMaxUnfoldedMask + 1);
    size[cur] = total;
    expanding.erase(cur);
  }
  return size.lookup(op);
}

static LogicalResult verifyOperandsArePatterns(Operation *op) {
  std::optional<int64_t> unfolded = unfoldedSize(op);
  if (!unfolded)
    return op->emitOpError("its mask operands form a cycle");
  if (*unfolded > kMaxUnfoldedMask)
    return op->emitOpError()
           << "unfolds to more than " << kMaxUnfoldedMask
           << " mask ops: its operands share sub-masks along too many paths, "
              "each of which is classified and built separately";
  for (auto [i, mask] : llvm::enumerate(op->getOperands()))
    if (!getMaskPattern(mask))
      return op->emitOpError()
             << "operand #" << i << " is not produced by a mask pattern op";
  return success();
}

/// Runtime-dependent masks compose only where a key limit does.
static LogicalResult verifyStaticOperand(Operation *op, unsigned index,
                                         StringRef where) {
  MaskPattern pattern = getMaskPattern(op->getOperand(index));
  if (pattern && !pattern.hasStaticClassification())
    return op->emitOpError()
           << "operand #" << index << " depends on runtime data (key padding), "
           << "which cannot be " << where
           << "; intersect it with the rest of the mask instead";
  return success();
}

/// The operands' key ranges, normalized, folded with `combine` from `init`.
static KeyRanges combineKeyRanges(ValueRange masks, const MaskContext &ctx,
                                  int64_t qBegin, int64_t qEnd, KeyRanges init,
                                  KeyRanges (*combine)(ArrayRef<KeyRange>,
                                                       ArrayRef<KeyRange>)) {
  KeyRanges ranges = std::move(init);
  for (Value mask : masks)
    ranges = combine(ranges, normalizeKeyRanges(getMaskPattern(mask).keyRanges(
                                                    ctx, qBegin, qEnd),
                                                ctx.seqLen));
  return ranges;
}

TileKind UnionMaskOp::classifyTile(const MaskContext &ctx, const TileRange &t) {
  int partial = 0;
  for (Value mask : getMasks()) {
    TileKind kind = getMaskPattern(mask).classifyTile(ctx, t);
    if (kind == TileKind::Full)
      return TileKind::Full;
    partial += kind == TileKind::Partial;
  }
  if (partial == 0)
    return TileKind::Empty;
  if (partial == 1)
    return TileKind::Partial;
  // Several partial operands may still cover the tile together.
  return classifyByEnumeration(*this, ctx, t);
}
KeyRanges UnionMaskOp::keyRanges(const MaskContext &ctx, int64_t qBegin,
                                 int64_t qEnd) {
  return combineKeyRanges(getMasks(), ctx, qBegin, qEnd, {}, uniteKeyRanges);
}
bool UnionMaskOp::evaluate(const MaskContext &ctx, int64_t q, int64_t k) {
  return llvm::any_of(getMasks(), [&](Value m) {
    return getMaskPattern(m).evaluate(ctx, q, k);
  });
}
Value UnionMaskOp::buildPredicate(PredicateBuilder &pb, Value q, Value k) {
  Value result;
  for (Value mask : getMasks()) {
    Value p = getMaskPattern(mask).buildPredicate(pb, q, k);
    if (!p)
      return {};
    result = result ? arith::OrIOp::create(pb.builder, pb.loc, result, p) : p;
  }
  return result;
}
LogicalResult UnionMaskOp::verify() {
  if (getMasks().size() < 2)
    return emitOpError() << "needs at least two masks, got "
                         << getMasks().size();
  if (failed(verifyOperandsArePatterns(*this)))
    return failure();
  for (unsigned i = 0, e = getMasks().size(); i < e; ++i)
    if (failed(verifyStaticOperand(*this, i, "united with another mask")))
      return failure();
  return success();
}
LogicalResult UnionMaskOp::inferReturnTypes(MLIRContext *ctx,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &types) {
  FailureOr<int64_t> block =
      commonBlock(loc, adaptor.getMasks().getTypes(), getOperationName());
  if (failed(block))
    return failure();
  types.push_back(MaskType::get(ctx, *block));
  return success();
}

TileKind IntersectMaskOp::classifyTile(const MaskContext &ctx,
                                       const TileRange &t) {
  int partial = 0;
  for (Value mask : getMasks()) {
    TileKind kind = getMaskPattern(mask).classifyTile(ctx, t);
    if (kind == TileKind::Empty)
      return TileKind::Empty;
    partial += kind == TileKind::Partial;
  }
  if (partial == 0)
    return TileKind::Full;
  if (partial == 1)
    return TileKind::Partial;
  // Several partial operands may still be disjoint on the tile.
  return classifyByEnumeration(*this, ctx, t);
}
KeyRanges IntersectMaskOp::keyRanges(const MaskContext &ctx, int64_t qBegin,
                                     int64_t qEnd) {
  return combineKeyRanges(getMasks(), ctx, qBegin, qEnd, {{0, ctx.seqLen}},
                          intersectKeyRanges);
}
bool IntersectMaskOp::evaluate(const MaskContext &ctx, int64_t q, int64_t k) {
  return llvm::all_of(getMasks(), [&](Value m) {
    return getMaskPattern(m).evaluate(ctx, q, k);
  });
}
Value IntersectMaskOp::buildPredicate(PredicateBuilder &pb, Value q, Value k) {
  Value result;
  for (Value mask : getMasks()) {
    Value p = getMaskPattern(mask).buildPredicate(pb, q, k);
    if (!p)
      return {};
    result = result ? arith::AndIOp::create(pb.builder, pb.loc, result, p) : p;
  }
  return result;
}
bool IntersectMaskOp::hasStaticClassification() {
  return llvm::all_of(getMasks(), [](Value m) {
    return getMaskPattern(m).hasStaticClassification();
  });
}
Value IntersectMaskOp::buildKeyLimit(OpBuilder &builder, Location loc,
                                     Value batch) {
  Value limit;
  for (Value mask : getMasks()) {
    Value l = getMaskPattern(mask).buildKeyLimit(builder, loc, batch);
    if (l)
      limit = limit ? arith::MinSIOp::create(builder, loc, limit, l) : l;
  }
  return limit;
}
std::optional<int64_t>
IntersectMaskOp::evaluateKeyLimit(const MaskContext &ctx) {
  std::optional<int64_t> limit;
  for (Value mask : getMasks())
    if (std::optional<int64_t> l = getMaskPattern(mask).evaluateKeyLimit(ctx))
      limit = limit ? std::min(*limit, *l) : *l;
  return limit;
}
LogicalResult IntersectMaskOp::verify() {
  if (getMasks().size() < 2)
    return emitOpError() << "needs at least two masks, got "
                         << getMasks().size();
  return verifyOperandsArePatterns(*this);
}
LogicalResult IntersectMaskOp::inferReturnTypes(MLIRContext *ctx,
                                                std::optional<Location> loc,
                                                Adaptor adaptor,
                                                SmallVectorImpl<Type> &types) {
  FailureOr<int64_t> block =
      commonBlock(loc, adaptor.getMasks().getTypes(), getOperationName());
  if (failed(block))
    return failure();
  types.push_back(MaskType::get(ctx, *block));
  return success();
}

TileKind DifferenceMaskOp::classifyTile(const MaskContext &ctx,
                                        const TileRange &t) {
  TileKind lhs = getMaskPattern(getLhs()).classifyTile(ctx, t);
  TileKind rhs = getMaskPattern(getRhs()).classifyTile(ctx, t);
  if (lhs == TileKind::Empty || rhs == TileKind::Full)
    return TileKind::Empty;
  if (rhs == TileKind::Empty)
    return lhs;
  if (lhs == TileKind::Full)
    return TileKind::Partial; // rhs is partial
  return classifyByEnumeration(*this, ctx, t);
}
KeyRanges DifferenceMaskOp::keyRanges(const MaskContext &ctx, int64_t qBegin,
                                      int64_t qEnd) {
  return getMaskPattern(getLhs()).keyRanges(ctx, qBegin, qEnd);
}
bool DifferenceMaskOp::evaluate(const MaskContext &ctx, int64_t q, int64_t k) {
  return getMaskPattern(getLhs()).evaluate(ctx, q, k) &&
         !getMaskPattern(getRhs()).evaluate(ctx, q, k);
}
Value DifferenceMaskOp::buildPredicate(PredicateBuilder &pb, Value q, Value k) {
  Value lhs = getMaskPattern(getLhs()).buildPredicate(pb, q, k);
  Value rhs = getMaskPattern(getRhs()).buildPredicate(pb, q, k);
  if (!lhs || !rhs)
    return {};
  IRArith a{pb.builder, pb.loc};
  return a.both(lhs, a.negate(rhs));
}
bool DifferenceMaskOp::hasStaticClassification() {
  return getMaskPattern(getLhs()).hasStaticClassification();
}
Value DifferenceMaskOp::buildKeyLimit(OpBuilder &builder, Location loc,
                                      Value batch) {
  return getMaskPattern(getLhs()).buildKeyLimit(builder, loc, batch);
}
std::optional<int64_t>
DifferenceMaskOp::evaluateKeyLimit(const MaskContext &ctx) {
  return getMaskPattern(getLhs()).evaluateKeyLimit(ctx);
}
LogicalResult DifferenceMaskOp::verify() {
  if (failed(verifyOperandsArePatterns(*this)))
    return failure();
  return verifyStaticOperand(*this, 1, "subtracted from a mask");
}
LogicalResult DifferenceMaskOp::inferReturnTypes(MLIRContext *ctx,
                                                 std::optional<Location> loc,
                                                 Adaptor adaptor,
                                                 SmallVectorImpl<Type> &types) {
  FailureOr<int64_t> block = commonBlock(
      loc, TypeRange{adaptor.getLhs().getType(), adaptor.getRhs().getType()},
      getOperationName());
  if (failed(block))
    return failure();
  types.push_back(MaskType::get(ctx, *block));
  return success();
}

//===----------------------------------------------------------------------===//
// materialize_mask
//===----------------------------------------------------------------------===//

LogicalResult MaterializeMaskOp::verify() {
  MaskPattern pattern = getMaskPattern(getMask());
  if (!pattern)
    return emitOpError("mask is not produced by a mask pattern op");
  if (!pattern.hasStaticClassification())
    return emitOpError("mask depends on runtime data (key padding), which a "
                       "dense n x n tensor cannot hold");
  auto type = cast<RankedTensorType>(getResult().getType());
  if (!type.hasStaticShape() || type.getDimSize(0) != type.getDimSize(1))
    return emitOpError("result must be a static square tensor (n x n), got ")
           << type;
  return verifyAtMostLimit(*this, {{"sequence length", type.getDimSize(0)}});
}

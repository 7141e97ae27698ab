//===- LongformerOps.cpp - a sparsity pattern from outside the dialect ---===//
//
// Everything a pattern author writes: exact tile classification, the keys a
// query range may keep, the element predicate (stated once for C++ and IR
// with MaskArith.h), a verifier and the registration. The result type is
// inferred by Attn_MaskOp.
//
//===----------------------------------------------------------------------===//

#include "LongformerOps.h"

#include "attn/IR/MaskArith.h"

#include "mlir/IR/DialectImplementation.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::attn;

#define GET_OP_CLASSES
#include "LongformerOps.cpp.inc"

namespace {
/// Number of global positions in [begin, end) (globals are sorted).
int64_t globalsIn(ArrayRef<int64_t> globals, int64_t begin, int64_t end) {
  return std::lower_bound(globals.begin(), globals.end(), end) -
         std::lower_bound(globals.begin(), globals.end(), begin);
}
} // namespace

TileKind LongformerMaskOp::classifyTile(const MaskContext &ctx,
                                        const TileRange &t) {
  ArrayRef<int64_t> g = getGlobals();
  int64_t rows = t.qEnd - t.qBegin, cols = t.kEnd - t.kBegin;
  int64_t globalRows = globalsIn(g, t.qBegin, t.qEnd);
  int64_t globalCols = globalsIn(g, t.kBegin, t.kEnd);
  // The dilated window alone is a predicate of q - k (MaskArith.h).
  int64_t reach = getRadius() * getDilation();
  TileKind window = classifyDifferences(t, -reach, reach, getDilation());
  if (window == TileKind::Full || globalRows == rows || globalCols == cols)
    return TileKind::Full;
  if (globalRows == 0 && globalCols == 0)
    return window;
  if (window == TileKind::Empty)
    return TileKind::Partial; // some, not all, rows or columns are global
  // A partial window and some global rows or columns may still cover the
  // tile together: decide by enumeration.
  return classifyByEnumeration(*this, ctx, t);
}

KeyRanges LongformerMaskOp::keyRanges(const MaskContext &ctx, int64_t qBegin,
                                      int64_t qEnd) {
  ArrayRef<int64_t> g = getGlobals();
  if (globalsIn(g, qBegin, qEnd) > 0)
    return {{0, ctx.seqLen}}; // a global query keeps every key
  // The window's band, and the global keys.
  int64_t reach = getRadius() * getDilation();
  KeyRanges ranges = differenceKeyRanges(qBegin, qEnd, -reach, reach);
  for (int64_t pos : g)
    ranges.push_back({pos, pos + 1});
  return ranges;
}

namespace {
/// The predicate, stated once for evaluation and for IR (MaskArith.h).
template <class A>
typename A::B longformerPredicate(LongformerMaskOp op, A &a, typename A::I q,
                                  typename A::I k) {
  typename A::I d = a.sub(q, k);
  typename A::B kept =
      a.both(withinRadius(a, d, op.getRadius() * op.getDilation()),
             a.eq(a.rem(d, op.getDilation()), a.cst(0)));
  for (int64_t pos : op.getGlobals())
    kept = a.either(kept, a.either(a.eq(q, a.cst(pos)), a.eq(k, a.cst(pos))));
  return kept;
}
} // namespace

bool LongformerMaskOp::evaluate(const MaskContext &, int64_t q, int64_t k) {
  NumArith a;
  return longformerPredicate(*this, a, q, k);
}

Value LongformerMaskOp::buildPredicate(PredicateBuilder &pb, Value q, Value k) {
  IRArith a{pb.builder, pb.loc};
  return longformerPredicate(*this, a, q, k);
}

LogicalResult LongformerMaskOp::verify() {
  if (getRadius() < 0)
    return emitOpError() << "radius must be non-negative, got " << getRadius();
  if (getDilation() <= 0)
    return emitOpError() << "dilation must be positive, got " << getDilation();
  ArrayRef<int64_t> g = getGlobals();
  for (size_t i = 0; i < g.size(); ++i)
    if (g[i] < 0 || (i > 0 && g[i] <= g[i - 1]))
      return emitOpError("global positions must be non-negative and strictly "
                         "increasing");
  return success();
}

void mlir::attn::examples::registerLongformerExtension(
    DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *, AttnDialect *dialect) {
    dialect->addPatternOps<LongformerMaskOp>();
  });
}

//===- LongformerOps.cpp - a sparsity pattern from outside the dialect ---===//
//
// Everything a pattern author writes: exact tile classification, the element
// predicate (as C++ and as IR), a verifier and the registration.
//
//===----------------------------------------------------------------------===//

#include "LongformerOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/DialectImplementation.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::attn;

#define GET_OP_CLASSES
#include "LongformerOps.cpp.inc"

namespace {
int64_t floorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

/// Number of global positions in [begin, end) (globals are sorted).
int64_t globalsIn(ArrayRef<int64_t> globals, int64_t begin, int64_t end) {
  return std::lower_bound(globals.begin(), globals.end(), end) -
         std::lower_bound(globals.begin(), globals.end(), begin);
}

/// The dilated window alone: a predicate of d = q - k, and every d between
/// the tile's extreme differences occurs in the tile.
TileKind classifyWindow(int64_t radius, int64_t dilation, const TileRange &t) {
  int64_t lo = t.qBegin - (t.kEnd - 1), hi = (t.qEnd - 1) - t.kBegin;
  int64_t reach = radius * dilation;
  int64_t a = std::max(lo, -reach), b = std::min(hi, reach);
  bool any = a <= b && floorDiv(b, dilation) * dilation >= a;
  if (!any)
    return TileKind::Empty;
  bool all = lo >= -reach && hi <= reach && (dilation == 1 || lo == hi);
  return all ? TileKind::Full : TileKind::Partial;
}
} // namespace

TileKind LongformerMaskOp::classifyTile(const MaskContext &ctx,
                                        const TileRange &t) {
  ArrayRef<int64_t> g = getGlobals();
  int64_t rows = t.qEnd - t.qBegin, cols = t.kEnd - t.kBegin;
  int64_t globalRows = globalsIn(g, t.qBegin, t.qEnd);
  int64_t globalCols = globalsIn(g, t.kBegin, t.kEnd);
  TileKind window = classifyWindow(getRadius(), getDilation(), t);
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

bool LongformerMaskOp::evaluate(const MaskContext &, int64_t q, int64_t k) {
  ArrayRef<int64_t> g = getGlobals();
  if (std::binary_search(g.begin(), g.end(), q) ||
      std::binary_search(g.begin(), g.end(), k))
    return true;
  int64_t d = q - k;
  return std::abs(d) <= getRadius() * getDilation() && d % getDilation() == 0;
}

Value LongformerMaskOp::buildPredicate(PredicateBuilder &pb, Value q, Value k) {
  OpBuilder &b = pb.builder;
  Location loc = pb.loc;
  auto cst = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto cmp = [&](arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  };
  using P = arith::CmpIPredicate;
  Value d = arith::SubIOp::create(b, loc, q, k);
  int64_t reach = getRadius() * getDilation();
  Value inReach = arith::AndIOp::create(b, loc, cmp(P::sle, d, cst(reach)),
                                        cmp(P::sge, d, cst(-reach)));
  Value aligned =
      cmp(P::eq, arith::RemSIOp::create(b, loc, d, cst(getDilation())), cst(0));
  Value kept = arith::AndIOp::create(b, loc, inReach, aligned);
  for (int64_t pos : getGlobals()) {
    Value global = arith::OrIOp::create(b, loc, cmp(P::eq, q, cst(pos)),
                                        cmp(P::eq, k, cst(pos)));
    kept = arith::OrIOp::create(b, loc, kept, global);
  }
  return kept;
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

LogicalResult LongformerMaskOp::inferReturnTypes(MLIRContext *ctx,
                                                 std::optional<Location>,
                                                 Adaptor,
                                                 SmallVectorImpl<Type> &types) {
  types.push_back(MaskType::get(ctx));
  return success();
}

void mlir::attn::examples::registerLongformerExtension(
    DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *, AttnDialect *dialect) {
    dialect->addPatternOps<LongformerMaskOp>();
  });
}

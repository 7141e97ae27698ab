//===- FaultyMaskOps.cpp - a pattern that answers wrongly, on purpose ----===//

#include "FaultyMaskOps.h"

#include "attn/IR/MaskArith.h"

#include "mlir/IR/DialectImplementation.h"

using namespace mlir;
using namespace mlir::attn;

#define GET_OP_CLASSES
#include "FaultyMaskOps.cpp.inc"

namespace {
template <class A>
typename A::B windowPredicate(A &a, typename A::I q, typename A::I k,
                              int64_t radius) {
  return withinRadius(a, a.sub(q, k), radius);
}
} // namespace

TileKind FaultyWindowMaskOp::classifyTile(const MaskContext &,
                                          const TileRange &t) {
  int64_t r = getRadius();
  TileKind kind = classifyDifferences(t, -r, r, 1);
  // The fault: a tile the band crosses called full.
  if (getFault() == "class" && kind == TileKind::Partial)
    return TileKind::Full;
  return kind;
}

KeyRanges FaultyWindowMaskOp::keyRanges(const MaskContext &, int64_t qBegin,
                                        int64_t qEnd) {
  int64_t r = getRadius();
  // The fault: the keys before the query range left out.
  if (getFault() == "ranges")
    return differenceKeyRanges(qBegin, qEnd, -r, 0);
  return differenceKeyRanges(qBegin, qEnd, -r, r);
}

bool FaultyWindowMaskOp::evaluate(const MaskContext &, int64_t q, int64_t k) {
  NumArith a;
  return windowPredicate(a, q, k, getRadius());
}

Value FaultyWindowMaskOp::buildPredicate(PredicateBuilder &pb, Value q,
                                         Value k) {
  IRArith a{pb.builder, pb.loc};
  // The fault: the IR's window one wider than the definition.
  int64_t radius = getRadius() + (getFault() == "predicate" ? 1 : 0);
  return windowPredicate(a, q, k, radius);
}

LogicalResult FaultyWindowMaskOp::verify() {
  if (getRadius() < 0 || getRadius() > (int64_t(1) << 30))
    return emitOpError("radius must be in [0, 2^30]");
  if (!llvm::is_contained({"none", "class", "ranges", "predicate"}, getFault()))
    return emitOpError("fault must be none, class, ranges or predicate");
  return success();
}

void ::attn::test::registerFaultyMaskExtension(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *, AttnDialect *dialect) {
    dialect->addPatternOps<FaultyWindowMaskOp>();
  });
}

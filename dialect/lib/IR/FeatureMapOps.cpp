//===- FeatureMapOps.cpp - feature maps for kernelized attention ---------===//

#include "attn/IR/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;

/// A scalar constant, or a splat when the body is emitted on vectors.
static Value floatConstant(OpBuilder &b, Location loc, Type type, double v) {
  if (auto shaped = dyn_cast<ShapedType>(type))
    return arith::ConstantOp::create(
        b, loc, type,
        SplatElementsAttr::get(shaped,
                               b.getFloatAttr(shaped.getElementType(), v)));
  return arith::ConstantOp::create(b, loc, type, b.getFloatAttr(type, v));
}

/// The slope of a map that is the identity (plus a constant) for y > 0:
/// 1 there, `otherwise` elsewhere.
static Value slopeOneAbove0(OpBuilder &b, Location loc, Value y,
                            Value otherwise) {
  Type t = y.getType();
  Value positive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, y,
                                         floatConstant(b, loc, t, 0.0));
  return arith::SelectOp::create(b, loc, positive,
                                 floatConstant(b, loc, t, 1.0), otherwise);
}

// elu(x) + 1 = x + 1 for x > 0, exp(x) otherwise.
Value EluPlusOneFeatureMapOp::emitBody(OpBuilder &b, Location loc, Value y,
                                       Value) {
  Type t = y.getType();
  Value zero = floatConstant(b, loc, t, 0.0),
        one = floatConstant(b, loc, t, 1.0);
  Value positive =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, y, zero);
  Value shifted = arith::AddFOp::create(b, loc, y, one);
  Value exp = math::ExpOp::create(b, loc, y);
  return arith::SelectOp::create(b, loc, positive, shifted, exp);
}
double EluPlusOneFeatureMapOp::evaluateBody(double y, double) {
  return y > 0 ? y + 1 : std::exp(y);
}
std::pair<Value, Value>
EluPlusOneFeatureMapOp::emitBodyDerivatives(OpBuilder &b, Location loc,
                                            Value y, Value) {
  return {slopeOneAbove0(b, loc, y, math::ExpOp::create(b, loc, y)), Value()};
}

Value ReluFeatureMapOp::emitBody(OpBuilder &b, Location loc, Value y, Value) {
  return arith::MaximumFOp::create(b, loc, y,
                                   floatConstant(b, loc, y.getType(), 0.0));
}
double ReluFeatureMapOp::evaluateBody(double y, double) {
  return y > 0 ? y : 0.0;
}
std::pair<Value, Value> ReluFeatureMapOp::emitBodyDerivatives(OpBuilder &b,
                                                              Location loc,
                                                              Value y, Value) {
  return {slopeOneAbove0(b, loc, y, floatConstant(b, loc, y.getType(), 0.0)),
          Value()};
}

Value IdentityFeatureMapOp::emitBody(OpBuilder &, Location, Value y, Value) {
  return y;
}
double IdentityFeatureMapOp::evaluateBody(double y, double) { return y; }
std::pair<Value, Value>
IdentityFeatureMapOp::emitBodyDerivatives(OpBuilder &b, Location loc, Value y,
                                          Value) {
  return {floatConstant(b, loc, y.getType(), 1.0), Value()};
}

int64_t FavorFeatureMapOp::getFeatureDim(int64_t) { return getFeatures(); }
bool FavorFeatureMapOp::hasProjection() { return true; }
std::vector<double> FavorFeatureMapOp::getProjection(int64_t headDim) {
  return ::attn::orthogonalRandomFeatures(getFeatures(), headDim,
                                          static_cast<uint64_t>(getSeed()));
}
double FavorFeatureMapOp::getInputScale(int64_t headDim) {
  return std::pow(static_cast<double>(headDim), -0.25);
}
// exp(y - |x'|^2 / 2) / sqrt(m)
Value FavorFeatureMapOp::emitBody(OpBuilder &b, Location loc, Value y,
                                  Value halfSqNorm) {
  Value shifted = arith::SubFOp::create(b, loc, y, halfSqNorm);
  Value exp = math::ExpOp::create(b, loc, shifted);
  double norm = 1.0 / std::sqrt(static_cast<double>(getFeatures()));
  return arith::MulFOp::create(b, loc, exp,
                               floatConstant(b, loc, y.getType(), norm));
}
// d/dy = phi, d/dh = -phi.
std::pair<Value, Value>
FavorFeatureMapOp::emitBodyDerivatives(OpBuilder &b, Location loc, Value y,
                                       Value halfSqNorm) {
  Value phi = emitBody(b, loc, y, halfSqNorm);
  return {phi, arith::NegFOp::create(b, loc, phi)};
}
double FavorFeatureMapOp::evaluateBody(double y, double halfSqNorm) {
  return std::exp(y - halfSqNorm) /
         std::sqrt(static_cast<double>(getFeatures()));
}
LogicalResult FavorFeatureMapOp::verify() {
  if (getFeatures() <= 0)
    return emitOpError() << "number of features must be positive, got "
                         << getFeatures();
  // The projection (features x head dim) is a constant in the module.
  constexpr int64_t kMaxFeatures = 65536;
  if (getFeatures() > kMaxFeatures)
    return emitOpError() << "number of features must be at most "
                         << kMaxFeatures << ", got " << getFeatures();
  return success();
}

//===- Tangents.cpp - forward-mode derivatives of scalar bodies -----------===//

#include "attn/IR/Tangents.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::attn;

bool BodyTangents::hasRule(Operation *op) {
  if (llvm::none_of(op->getResultTypes(),
                    [](Type t) { return isa<FloatType>(t); }))
    return true;
  return isa<arith::AddFOp, arith::SubFOp, arith::MulFOp, arith::DivFOp,
             arith::NegFOp, arith::MaximumFOp, arith::MinimumFOp,
             arith::MaxNumFOp, arith::MinNumFOp, arith::SelectOp, math::ExpOp,
             math::LogOp, math::SqrtOp, math::TanhOp, math::AbsFOp,
             // Constants and conversions from integers: no tangent.
             arith::ConstantOp, arith::SIToFPOp, arith::UIToFPOp>(op);
}

LogicalResult BodyTangents::visit(Operation *op) {
  auto d = [&](Value v) { return tangents.lookup(v); };
  // Ops whose operands carry no tangent, and ops without float results
  // (comparisons, integer arithmetic), carry none.
  if (llvm::none_of(op->getOperands(), [&](Value v) { return bool(d(v)); }) ||
      llvm::none_of(op->getResultTypes(),
                    [](Type t) { return isa<FloatType>(t); }))
    return success();
  Type type = op->getResult(0).getType();
  auto in = [&](unsigned i) { return op->getOperand(i); };
  auto dIn = [&](unsigned i) { return d(op->getOperand(i)); };
  Value result = op->getResult(0);
  // d max(x, y) and d min(x, y): the tangent of the operand chosen.
  auto chosen = [&](arith::CmpFPredicate firstWhen) -> Value {
    Value zero = constant(type, 0.0);
    Value dx = dIn(0), dy = dIn(1);
    Value first = arith::CmpFOp::create(b, loc, firstWhen, in(0), in(1));
    return arith::SelectOp::create(b, loc, first, dx ? dx : zero,
                                   dy ? dy : zero);
  };
  FailureOr<Value> t =
      llvm::TypeSwitch<Operation *, FailureOr<Value>>(op)
          .Case([&](arith::AddFOp) { return plus(dIn(0), dIn(1)); })
          .Case([&](arith::SubFOp) { return plus(dIn(0), negate(dIn(1))); })
          .Case([&](arith::MulFOp) {
            return plus(times(dIn(0), in(1)), times(dIn(1), in(0)));
          })
          .Case([&](arith::DivFOp) -> Value {
            // (da - (a / b) db) / b
            Value num = plus(dIn(0), negate(times(dIn(1), result)));
            return arith::DivFOp::create(b, loc, num, in(1));
          })
          .Case([&](arith::NegFOp) { return negate(dIn(0)); })
          .Case<arith::MaximumFOp, arith::MaxNumFOp>(
              [&](Operation *) { return chosen(arith::CmpFPredicate::OGE); })
          .Case<arith::MinimumFOp, arith::MinNumFOp>(
              [&](Operation *) { return chosen(arith::CmpFPredicate::OLE); })
          .Case([&](arith::SelectOp sel) -> FailureOr<Value> {
            if (d(sel.getCondition()))
              return op->emitOpError("reverse mode: a select's condition "
                                     "varies");
            Value zero = constant(type, 0.0);
            Value x = d(sel.getTrueValue()), y = d(sel.getFalseValue());
            return arith::SelectOp::create(b, loc, sel.getCondition(),
                                           x ? x : zero, y ? y : zero)
                .getResult();
          })
          .Case([&](math::ExpOp) { return times(dIn(0), result); })
          .Case([&](math::LogOp) -> Value {
            return arith::DivFOp::create(b, loc, dIn(0), in(0));
          })
          .Case([&](math::SqrtOp) -> Value {
            // dx / (2 sqrt x)
            return arith::DivFOp::create(
                b, loc, dIn(0),
                arith::MulFOp::create(b, loc, constant(type, 2.0), result));
          })
          .Case([&](math::TanhOp) {
            // (1 - tanh^2 x) dx
            return times(dIn(0),
                         arith::SubFOp::create(
                             b, loc, constant(type, 1.0),
                             arith::MulFOp::create(b, loc, result, result)));
          })
          .Case([&](math::AbsFOp) -> Value {
            Value negative = arith::CmpFOp::create(
                b, loc, arith::CmpFPredicate::OLT, in(0), constant(type, 0.0));
            return arith::SelectOp::create(b, loc, negative, negate(dIn(0)),
                                           dIn(0));
          })
          .Default([&](Operation *) -> FailureOr<Value> {
            return op->emitOpError(
                "has no derivative rule (addf, subf, mulf, divf, negf, the "
                "max and min ops, select, exp, log, sqrt, tanh and absf have "
                "one)");
          });
  if (failed(t))
    return failure();
  tangents[result] = *t;
  return success();
}

Value BodyTangents::constant(Type type, double v) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(type, v));
}

Value BodyTangents::plus(Value x, Value y) {
  if (!x || !y)
    return x ? x : y;
  return arith::AddFOp::create(b, loc, x, y);
}

Value BodyTangents::times(Value dx, Value y) {
  return dx ? arith::MulFOp::create(b, loc, dx, y).getResult() : Value();
}

Value BodyTangents::negate(Value x) {
  return x ? arith::NegFOp::create(b, loc, x).getResult() : Value();
}

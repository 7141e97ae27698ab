//===- PredicateProgram.cpp - evaluating predicate IR ---------------------===//

#include "PredicateProgram.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::detail;

namespace {
using Opcode = PredicateProgram::Opcode;

unsigned bitWidth(Type type) {
  return type.isIndex() ? 64 : type.getIntOrFloatBitWidth();
}

int64_t normalize(uint64_t v, unsigned width) {
  if (width >= 64)
    return static_cast<int64_t>(v);
  uint64_t mask = (uint64_t(1) << width) - 1;
  v &= mask;
  if (v >> (width - 1))
    v |= ~mask;
  return static_cast<int64_t>(v);
}
uint64_t zext(int64_t v, unsigned width) {
  return width >= 64 ? static_cast<uint64_t>(v)
                     : static_cast<uint64_t>(v) & ((uint64_t(1) << width) - 1);
}

std::optional<Opcode> arithOpcodeOf(Operation *op) {
  return llvm::TypeSwitch<Operation *, std::optional<Opcode>>(op)
      .Case([](arith::ConstantOp c) -> std::optional<Opcode> {
        if (isa<IntegerAttr>(c.getValue()))
          return Opcode::Const;
        return std::nullopt;
      })
      .Case([](arith::AddIOp) { return Opcode::Add; })
      .Case([](arith::SubIOp) { return Opcode::Sub; })
      .Case([](arith::MulIOp) { return Opcode::Mul; })
      .Case([](arith::DivSIOp) { return Opcode::DivS; })
      .Case([](arith::DivUIOp) { return Opcode::DivU; })
      .Case([](arith::CeilDivSIOp) { return Opcode::CeilDivS; })
      .Case([](arith::CeilDivUIOp) { return Opcode::CeilDivU; })
      .Case([](arith::FloorDivSIOp) { return Opcode::FloorDivS; })
      .Case([](arith::RemSIOp) { return Opcode::RemS; })
      .Case([](arith::RemUIOp) { return Opcode::RemU; })
      .Case([](arith::MinSIOp) { return Opcode::MinS; })
      .Case([](arith::MaxSIOp) { return Opcode::MaxS; })
      .Case([](arith::MinUIOp) { return Opcode::MinU; })
      .Case([](arith::MaxUIOp) { return Opcode::MaxU; })
      .Case([](arith::AndIOp) { return Opcode::And; })
      .Case([](arith::OrIOp) { return Opcode::Or; })
      .Case([](arith::XOrIOp) { return Opcode::Xor; })
      .Case([](arith::ShLIOp) { return Opcode::Shl; })
      .Case([](arith::ShRSIOp) { return Opcode::ShrS; })
      .Case([](arith::ShRUIOp) { return Opcode::ShrU; })
      .Case([](arith::CmpIOp) { return Opcode::Cmp; })
      .Case([](arith::SelectOp) { return Opcode::Select; })
      .Case<arith::IndexCastOp, arith::ExtSIOp, arith::TruncIOp>(
          [](Operation *) { return Opcode::Ext; })
      .Case<arith::IndexCastUIOp, arith::ExtUIOp>(
          [](Operation *) { return Opcode::ExtU; })
      .Default([](Operation *) { return std::nullopt; });
}

bool isIntegerScalar(Type type) { return type.isIntOrIndex(); }
} // namespace

bool mlir::attn::detail::isInterpretableArith(Operation *op) {
  return arithOpcodeOf(op) && op->getNumResults() == 1 &&
         isIntegerScalar(op->getResult(0).getType());
}

std::optional<PredicateProgram>
PredicateProgram::compile(Block &block, Block::iterator end,
                          ArrayRef<Value> inputs, Value result,
                          Operation **unsupported) {
  PredicateProgram p;
  llvm::DenseMap<Value, int32_t> slotOf;
  llvm::DenseMap<Value, int32_t> tableOf, externalOf;
  int32_t numSlots = 0;
  for (Value input : inputs)
    slotOf[input] = numSlots++;
  p.numInputs = inputs.size();
  auto fail = [&](Operation *op) -> std::optional<PredicateProgram> {
    if (unsupported)
      *unsupported = op;
    return std::nullopt;
  };
  for (Operation &op : llvm::make_range(block.begin(), end)) {
    if (op.getNumResults() != 1)
      return fail(&op);
    Value out = op.getResult(0);
    Instr in{Opcode::Const, 64, 0, {}};
    if (std::optional<Opcode> code = arithOpcodeOf(&op)) {
      if (!isIntegerScalar(out.getType()))
        return fail(&op);
      in.opcode = *code;
      in.width = bitWidth(out.getType());
      for (Value operand : op.getOperands()) {
        auto it = slotOf.find(operand);
        if (it == slotOf.end())
          return fail(&op);
        in.args.push_back(it->second);
      }
      if (op.getNumOperands() > 0)
        in.srcWidth = bitWidth(op.getOperand(0).getType());
      if (auto cst = dyn_cast<arith::ConstantOp>(op))
        in.imm = cast<IntegerAttr>(cst.getValue()).getValue().getSExtValue();
      if (auto cmp = dyn_cast<arith::CmpIOp>(op))
        in.imm = static_cast<int64_t>(cmp.getPredicate());
    } else if (auto cst = dyn_cast<arith::ConstantOp>(op)) {
      // A constant integer tensor: a table.
      auto dense = dyn_cast<DenseIntElementsAttr>(cst.getValue());
      if (!dense)
        return fail(&op);
      std::vector<int64_t> data;
      for (const APInt &v : dense.getValues<APInt>())
        data.push_back(v.getSExtValue());
      auto shape = cast<ShapedType>(dense.getType()).getShape();
      tableOf[out] = p.tables.size();
      p.tables.push_back({std::move(data), {shape.begin(), shape.end()}});
      continue;
    } else if (auto extract = dyn_cast<tensor::ExtractOp>(op)) {
      if (!isIntegerScalar(out.getType()))
        return fail(&op);
      in.width = bitWidth(out.getType());
      for (Value index : extract.getIndices()) {
        auto it = slotOf.find(index);
        if (it == slotOf.end())
          return fail(&op);
        in.args.push_back(it->second);
      }
      Value source = extract.getTensor();
      if (auto table = tableOf.find(source); table != tableOf.end()) {
        in.opcode = Opcode::TableLookup;
        in.imm = table->second;
      } else if (source.getParentBlock() != &block &&
                 extract.getIndices().size() == 1) {
        // A runtime operand, defined outside the predicate.
        auto [it, inserted] = externalOf.try_emplace(source, 0);
        if (inserted) {
          it->second = p.externals.size();
          p.externals.push_back(source);
        }
        in.opcode = Opcode::RuntimeLookup;
        in.imm = it->second;
      } else {
        return fail(&op);
      }
    } else {
      return fail(&op);
    }
    in.dst = numSlots;
    slotOf[out] = numSlots++;
    p.program.push_back(std::move(in));
  }
  auto it = slotOf.find(result);
  if (it == slotOf.end())
    return fail(result.getDefiningOp());
  p.result = it->second;
  p.slots.resize(numSlots);
  return p;
}

std::optional<bool> PredicateProgram::run(ArrayRef<int64_t> inputs,
                                          const RuntimeData *runtime) {
  assert(inputs.size() == numInputs && "one value per input");
  std::copy(inputs.begin(), inputs.end(), slots.begin());
  bool missing = false;
  for (const Instr &in : program) {
    slots[in.dst] = normalize(execute(in, runtime, missing), in.width);
    if (missing)
      return std::nullopt;
  }
  return slots[result] != 0;
}

uint64_t PredicateProgram::execute(const Instr &in, const RuntimeData *runtime,
                                   bool &missing) {
  auto arg = [&](unsigned i) { return slots[in.args[i]]; };
  int64_t a = in.args.size() > 0 ? arg(0) : 0;
  int64_t b = in.args.size() > 1 ? arg(1) : 0;
  uint64_t ua = zext(a, in.srcWidth), ub = zext(b, in.srcWidth);
  // Division by zero and INT64_MIN / -1 are undefined in arith (poison);
  // here they give 0 and INT64_MIN (wrapping), never a trap.
  auto neg = [](int64_t x) {
    return static_cast<int64_t>(0 - static_cast<uint64_t>(x));
  };
  auto safeDiv = [&](int64_t x, int64_t y) -> int64_t {
    return y == 0 ? 0 : y == -1 ? neg(x) : x / y;
  };
  auto safeRem = [](int64_t x, int64_t y) -> int64_t {
    return y == 0 || y == -1 ? 0 : x % y;
  };
  auto floorDiv = [&](int64_t x, int64_t y) -> int64_t {
    int64_t d = safeDiv(x, y);
    return (safeRem(x, y) != 0 && ((x < 0) != (y < 0))) ? d - 1 : d;
  };
  switch (in.opcode) {
  case Opcode::Const:
    return in.imm;
  case Opcode::Add:
    return ua + ub;
  case Opcode::Sub:
    return ua - ub;
  case Opcode::Mul:
    return ua * ub;
  case Opcode::DivS:
    return safeDiv(a, b);
  case Opcode::DivU:
    return ub == 0 ? 0 : ua / ub;
  case Opcode::CeilDivS:
    return neg(floorDiv(neg(a), b));
  case Opcode::CeilDivU:
    return ub == 0 ? 0 : (ua + ub - 1) / ub;
  case Opcode::FloorDivS:
    return floorDiv(a, b);
  case Opcode::RemS:
    return safeRem(a, b);
  case Opcode::RemU:
    return ub == 0 ? 0 : ua % ub;
  case Opcode::MinS:
    return std::min(a, b);
  case Opcode::MaxS:
    return std::max(a, b);
  case Opcode::MinU:
    return std::min(ua, ub);
  case Opcode::MaxU:
    return std::max(ua, ub);
  case Opcode::And:
    return ua & ub;
  case Opcode::Or:
    return ua | ub;
  case Opcode::Xor:
    return ua ^ ub;
  case Opcode::Shl:
    return ub >= 64 ? 0 : ua << ub;
  case Opcode::ShrS:
    return ub >= 64 ? (a < 0 ? -1 : 0) : a >> ub;
  case Opcode::ShrU:
    return ub >= 64 ? 0 : ua >> ub;
  case Opcode::Ext:
    return a;
  case Opcode::ExtU:
    return ua;
  case Opcode::Select:
    return arg(0) ? arg(1) : arg(2);
  case Opcode::Cmp:
    switch (static_cast<arith::CmpIPredicate>(in.imm)) {
    case arith::CmpIPredicate::eq:
      return ua == ub;
    case arith::CmpIPredicate::ne:
      return ua != ub;
    case arith::CmpIPredicate::slt:
      return a < b;
    case arith::CmpIPredicate::sle:
      return a <= b;
    case arith::CmpIPredicate::sgt:
      return a > b;
    case arith::CmpIPredicate::sge:
      return a >= b;
    case arith::CmpIPredicate::ult:
      return ua < ub;
    case arith::CmpIPredicate::ule:
      return ua <= ub;
    case arith::CmpIPredicate::ugt:
      return ua > ub;
    case arith::CmpIPredicate::uge:
      return ua >= ub;
    }
    break;
  case Opcode::TableLookup: {
    const auto &[data, shape] = tables[in.imm];
    int64_t flat = 0;
    for (auto [i, extent] : llvm::enumerate(shape)) {
      int64_t index = arg(i);
      // Out of bounds is undefined in tensor.extract; here it reads 0.
      if (index < 0 || index >= extent)
        return 0;
      flat = flat * extent + index;
    }
    return data[flat];
  }
  case Opcode::RuntimeLookup:
    if (!runtime) {
      missing = true;
      return 0;
    }
    return runtime->lookup(externals[in.imm], a);
  }
  llvm_unreachable("unknown opcode");
}

//===----------------------------------------------------------------------===//
// Interval reasoning
//===----------------------------------------------------------------------===//

namespace {
using Interval = PredicateProgram::Interval;

/// Every value of a `width`-bit slot (sign-extended).
Interval anything(unsigned width) {
  if (width >= 64)
    return {INT64_MIN, INT64_MAX};
  int64_t half = int64_t(1) << (width - 1);
  return {-half, half - 1};
}
bool fits(const Interval &r, unsigned width) {
  Interval all = anything(width);
  return r.lo >= all.lo && r.hi <= all.hi;
}
/// The hull of candidate values computed without overflow, or anything.
Interval hull(std::initializer_list<std::optional<int64_t>> values,
              unsigned width) {
  Interval r{INT64_MAX, INT64_MIN};
  for (const std::optional<int64_t> &v : values) {
    if (!v)
      return anything(width);
    r = {std::min(r.lo, *v), std::max(r.hi, *v)};
  }
  return fits(r, width) ? r : anything(width);
}
std::optional<int64_t> checkedAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    return std::nullopt;
  return r;
}
std::optional<int64_t> checkedSub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r))
    return std::nullopt;
  return r;
}
std::optional<int64_t> checkedMul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r))
    return std::nullopt;
  return r;
}
bool isPoint(const Interval &r) { return r.lo == r.hi; }
bool nonNegative(const Interval &r) { return r.lo >= 0; }
/// i1 slots hold 0 (false) or -1 (true).
Interval truthRange(bool canBeTrue, bool canBeFalse) {
  return {canBeTrue ? -1 : 0, canBeFalse ? 0 : -1};
}
} // namespace

PredicateProgram::Interval PredicateProgram::executeRange(const Instr &in) {
  auto arg = [&](unsigned i) { return ranges[in.args[i]]; };
  Interval all = anything(in.width);
  // Points are computed exactly, by the scalar semantics.
  bool points =
      llvm::all_of(in.args, [&](int32_t s) { return isPoint(ranges[s]); });
  if (points && in.opcode != Opcode::TableLookup &&
      in.opcode != Opcode::RuntimeLookup) {
    for (int32_t s : in.args)
      slots[s] = ranges[s].lo;
    bool missing = false;
    int64_t v = normalize(execute(in, nullptr, missing), in.width);
    return {v, v};
  }
  switch (in.opcode) {
  case Opcode::Add: {
    Interval a = arg(0), b = arg(1);
    return hull({checkedAdd(a.lo, b.lo), checkedAdd(a.hi, b.hi)}, in.width);
  }
  case Opcode::Sub: {
    Interval a = arg(0), b = arg(1);
    return hull({checkedSub(a.lo, b.hi), checkedSub(a.hi, b.lo)}, in.width);
  }
  case Opcode::Mul: {
    Interval a = arg(0), b = arg(1);
    return hull({checkedMul(a.lo, b.lo), checkedMul(a.lo, b.hi),
                 checkedMul(a.hi, b.lo), checkedMul(a.hi, b.hi)},
                in.width);
  }
  case Opcode::DivS:
  case Opcode::FloorDivS:
  case Opcode::CeilDivS:
  case Opcode::DivU:
  case Opcode::CeilDivU: {
    // Monotone in the dividend for a constant positive divisor (unsigned
    // forms: when the dividend is non-negative too).
    Interval a = arg(0), d = arg(1);
    bool unsignedForm =
        in.opcode == Opcode::DivU || in.opcode == Opcode::CeilDivU;
    if (!isPoint(d) || d.lo <= 0 || (unsignedForm && !nonNegative(a)))
      return all;
    auto at = [&](int64_t x) {
      slots[in.args[0]] = x;
      slots[in.args[1]] = d.lo;
      bool missing = false;
      return normalize(execute(in, nullptr, missing), in.width);
    };
    return {at(a.lo), at(a.hi)};
  }
  case Opcode::RemS:
  case Opcode::RemU: {
    Interval a = arg(0), d = arg(1);
    if (!isPoint(d) || d.lo <= 0 ||
        (in.opcode == Opcode::RemU && !nonNegative(a)))
      return all;
    int64_t c = d.lo;
    // Within one period the remainder is monotone.
    if (nonNegative(a) && a.lo / c == a.hi / c)
      return {a.lo % c, a.hi % c};
    if (a.hi <= 0 && a.lo / c == a.hi / c)
      return {a.lo % c, a.hi % c};
    if (nonNegative(a))
      return {0, c - 1};
    if (a.hi <= 0)
      return {-(c - 1), 0};
    return {-(c - 1), c - 1};
  }
  case Opcode::MinS:
  case Opcode::MaxS:
  case Opcode::MinU:
  case Opcode::MaxU: {
    // Unsigned order agrees with signed order on non-negative values.
    bool isUnsigned = in.opcode == Opcode::MinU || in.opcode == Opcode::MaxU;
    if (isUnsigned && (!nonNegative(arg(0)) || !nonNegative(arg(1))))
      return all;
    if (in.opcode == Opcode::MinS || in.opcode == Opcode::MinU)
      return {std::min(arg(0).lo, arg(1).lo), std::min(arg(0).hi, arg(1).hi)};
    return {std::max(arg(0).lo, arg(1).lo), std::max(arg(0).hi, arg(1).hi)};
  }
  case Opcode::And:
  case Opcode::Or:
    if (in.width == 1) {
      // i1: false is 0, true is -1.
      Interval a = arg(0), b = arg(1);
      bool aTrue = a.lo == -1, aFalse = a.hi == 0;
      bool bTrue = b.lo == -1, bFalse = b.hi == 0;
      if (in.opcode == Opcode::And)
        return truthRange(aTrue && bTrue, aFalse || bFalse);
      return truthRange(aTrue || bTrue, aFalse && bFalse);
    }
    if (in.opcode == Opcode::And && nonNegative(arg(0)) && nonNegative(arg(1)))
      return {0, std::min(arg(0).hi, arg(1).hi)};
    return all;
  case Opcode::Xor:
    if (in.width == 1 && (isPoint(arg(0)) || isPoint(arg(1)))) {
      // Negation (xor with a known value) maps a range of truths over.
      Interval known = isPoint(arg(0)) ? arg(0) : arg(1);
      Interval other = isPoint(arg(0)) ? arg(1) : arg(0);
      if (known.lo == 0)
        return other;
      return truthRange(other.hi == 0, other.lo == -1);
    }
    return all;
  case Opcode::ShrS:
  case Opcode::ShrU: {
    Interval a = arg(0), s = arg(1);
    if (!isPoint(s) || s.lo < 0 || s.lo >= 64 ||
        (in.opcode == Opcode::ShrU && !nonNegative(a)))
      return all;
    return {a.lo >> s.lo, a.hi >> s.lo};
  }
  case Opcode::Shl:
    return all;
  case Opcode::Cmp: {
    Interval a = arg(0), b = arg(1);
    auto pred = static_cast<arith::CmpIPredicate>(in.imm);
    bool isUnsigned = pred == arith::CmpIPredicate::ult ||
                      pred == arith::CmpIPredicate::ule ||
                      pred == arith::CmpIPredicate::ugt ||
                      pred == arith::CmpIPredicate::uge;
    // Unsigned order agrees with signed order on non-negative values.
    if (isUnsigned && (!nonNegative(a) || !nonNegative(b)))
      return truthRange(true, true);
    auto less = [&](Interval x, Interval y, bool orEqual) {
      bool always = orEqual ? x.hi <= y.lo : x.hi < y.lo;
      bool never = orEqual ? x.lo > y.hi : x.lo >= y.hi;
      return truthRange(!never, !always);
    };
    switch (pred) {
    case arith::CmpIPredicate::eq:
    case arith::CmpIPredicate::ne: {
      bool disjoint = a.hi < b.lo || b.hi < a.lo;
      bool equal = isPoint(a) && isPoint(b) && a.lo == b.lo;
      Interval eq = truthRange(!disjoint, !equal);
      return pred == arith::CmpIPredicate::eq
                 ? eq
                 : truthRange(eq.hi == 0, eq.lo == -1);
    }
    case arith::CmpIPredicate::slt:
    case arith::CmpIPredicate::ult:
      return less(a, b, false);
    case arith::CmpIPredicate::sle:
    case arith::CmpIPredicate::ule:
      return less(a, b, true);
    case arith::CmpIPredicate::sgt:
    case arith::CmpIPredicate::ugt:
      return less(b, a, false);
    case arith::CmpIPredicate::sge:
    case arith::CmpIPredicate::uge:
      return less(b, a, true);
    }
    return truthRange(true, true);
  }
  case Opcode::Select: {
    Interval c = arg(0), t = arg(1), f = arg(2);
    if (c.lo == -1)
      return t;
    if (c.hi == 0)
      return f;
    return {std::min(t.lo, f.lo), std::max(t.hi, f.hi)};
  }
  case Opcode::Ext: {
    // Sign extension keeps the range; truncation keeps it when it fits.
    Interval a = arg(0);
    return fits(a, in.width) ? a : all;
  }
  case Opcode::ExtU: {
    Interval a = arg(0);
    return nonNegative(a) && fits(a, in.width) ? a : all;
  }
  case Opcode::Const:
  case Opcode::TableLookup:
  case Opcode::RuntimeLookup:
    return all;
  }
  llvm_unreachable("unknown opcode");
}

std::optional<bool> PredicateProgram::decide(ArrayRef<Interval> inputs) {
  assert(inputs.size() == numInputs && "one range per input");
  ranges.assign(slots.size(), Interval{0, 0});
  std::copy(inputs.begin(), inputs.end(), ranges.begin());
  for (const Instr &in : program)
    ranges[in.dst] = executeRange(in);
  Interval r = ranges[result];
  if (r.lo == r.hi)
    return r.lo != 0;
  // An i1 result is 0 or -1; a wider one is true where non-zero.
  if (r.lo > 0 || r.hi < 0)
    return true;
  return std::nullopt;
}

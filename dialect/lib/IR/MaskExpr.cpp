//===- MaskExpr.cpp - attn.mask.expr: a pattern given by a region ---------===//
//
// The region is inlined into partial tiles as it is, and interpreted to
// classify tiles. The interpreter covers the integer arith ops; the verifier
// accepts exactly the ops it covers, so every verified region can be
// classified.
//
//===----------------------------------------------------------------------===//

#include "attn/IR/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::attn;

namespace {
enum class Opcode : uint8_t {
  Const,
  Add,
  Sub,
  Mul,
  DivS,
  DivU,
  CeilDivS,
  CeilDivU,
  FloorDivS,
  RemS,
  RemU,
  MinS,
  MaxS,
  MinU,
  MaxU,
  And,
  Or,
  Xor,
  Shl,
  ShrS,
  ShrU,
  Cmp,
  Select,
  Ext, // index_cast, extsi, extui, trunci: re-normalise to the result width
  ExtU,
};

/// One instruction of a region compiled to slots. Every slot holds its value
/// truncated to its bit width and sign-extended to 64 bits.
struct Instr {
  Opcode opcode;
  unsigned width; // of the result
  int32_t dst, a = -1, b = -1, c = -1;
  int64_t imm = 0; // constant value or cmpi predicate
  unsigned srcWidth = 64;
};

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

std::optional<Opcode> opcodeOf(Operation *op) {
  return llvm::TypeSwitch<Operation *, std::optional<Opcode>>(op)
      .Case([](arith::ConstantOp) { return Opcode::Const; })
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

/// The region of an attn.mask.expr, compiled once for repeated evaluation.
class ExprProgram {
public:
  explicit ExprProgram(ExprMaskOp op) {
    Block &body = op.getBody().front();
    for (BlockArgument arg : body.getArguments())
      slotOf[arg] = numSlots++;
    for (Operation &op : body.without_terminator()) {
      Instr in{*opcodeOf(&op), bitWidth(op.getResult(0).getType()), 0};
      auto slot = [&](unsigned i) { return slotOf.lookup(op.getOperand(i)); };
      if (op.getNumOperands() > 0)
        in.a = slot(0);
      if (op.getNumOperands() > 1)
        in.b = slot(1);
      if (op.getNumOperands() > 2)
        in.c = slot(2);
      if (op.getNumOperands() > 0)
        in.srcWidth = bitWidth(op.getOperand(0).getType());
      if (auto cst = dyn_cast<arith::ConstantOp>(op))
        in.imm = cast<IntegerAttr>(cst.getValue()).getValue().getSExtValue();
      if (auto cmp = dyn_cast<arith::CmpIOp>(op))
        in.imm = static_cast<int64_t>(cmp.getPredicate());
      in.dst = numSlots;
      slotOf[op.getResult(0)] = numSlots++;
      program.push_back(in);
    }
    result = slotOf.lookup(body.getTerminator()->getOperand(0));
    slots.resize(numSlots);
  }

  bool operator()(int64_t q, int64_t k, int64_t n) {
    slots[0] = q;
    slots[1] = k;
    slots[2] = n;
    for (const Instr &in : program)
      slots[in.dst] = normalize(execute(in), in.width);
    return slots[result] != 0;
  }

private:
  uint64_t execute(const Instr &in) {
    int64_t a = in.a >= 0 ? slots[in.a] : 0, b = in.b >= 0 ? slots[in.b] : 0;
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
      return slots[in.a] ? slots[in.b] : slots[in.c];
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
    }
    llvm_unreachable("unknown opcode");
  }

  llvm::DenseMap<Value, int32_t> slotOf;
  std::vector<Instr> program;
  std::vector<int64_t> slots;
  int32_t numSlots = 0;
  int32_t result = 0;
};
} // namespace

TileKind ExprMaskOp::classifyTile(const MaskContext &ctx, const TileRange &t) {
  ExprProgram eval(*this);
  bool anyKept = false, anyMasked = false;
  for (int64_t q = t.qBegin; q < t.qEnd; ++q) {
    for (int64_t k = t.kBegin; k < t.kEnd; ++k) {
      (eval(q, k, ctx.seqLen) ? anyKept : anyMasked) = true;
      if (anyKept && anyMasked)
        return TileKind::Partial;
    }
  }
  return anyKept ? TileKind::Full : TileKind::Empty;
}

bool ExprMaskOp::evaluate(const MaskContext &ctx, int64_t q, int64_t k) {
  return ExprProgram(*this)(q, k, ctx.seqLen);
}

Value ExprMaskOp::buildPredicate(PredicateBuilder &pb, Value q, Value k) {
  Block &body = getBody().front();
  IRMapping map;
  map.map(body.getArgument(0), q);
  map.map(body.getArgument(1), k);
  map.map(body.getArgument(2), pb.seqLen);
  for (Operation &op : body.without_terminator())
    pb.builder.clone(op, map);
  return map.lookup(body.getTerminator()->getOperand(0));
}

LogicalResult ExprMaskOp::verifyRegions() {
  Block &body = getBody().front();
  if (body.getNumArguments() != 3 ||
      !llvm::all_of(body.getArgumentTypes(),
                    [](Type t) { return t.isIndex(); }))
    return emitOpError("region must take (q: index, k: index, n: index), got ")
           << body.getNumArguments() << " argument(s)";
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield || yield.getValues().size() != 1 ||
      !yield.getValues()[0].getType().isInteger(1))
    return emitOpError("region must end with 'attn.yield' of a single i1");
  for (Operation &op : body.without_terminator()) {
    if (!opcodeOf(&op) || op.getNumResults() != 1 ||
        !op.getResult(0).getType().isIntOrIndex())
      return op.emitOpError("is not allowed in an attn.mask.expr region; only "
                            "integer arith ops can be evaluated to classify "
                            "tiles");
    // The classifier evaluates in 64-bit slots.
    for (Type type : llvm::concat<const Type>(op.getOperandTypes(),
                                              op.getResultTypes()))
      if (type.isInteger() && type.getIntOrFloatBitWidth() > 64)
        return op.emitOpError("computes with ")
               << type
               << "; an attn.mask.expr region takes integers of at most 64 "
                  "bits and index";
  }
  return success();
}

LogicalResult ExprMaskOp::inferReturnTypes(MLIRContext *ctx,
                                           std::optional<Location>, Adaptor,
                                           SmallVectorImpl<Type> &types) {
  types.push_back(MaskType::get(ctx));
  return success();
}

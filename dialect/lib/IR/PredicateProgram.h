//===- PredicateProgram.h - evaluating predicate IR -------------*- C++ -*-===//
//
// A straight-line block of integer arith ops (and tensor.extract from
// constant tables or runtime operands) compiled once to slots and run on
// numbers: how attn.mask.expr regions are classified, and how mask checks
// compare a pattern's buildPredicate IR with its evaluate.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_LIB_IR_PREDICATEPROGRAM_H
#define ATTN_LIB_IR_PREDICATEPROGRAM_H

#include "attn/IR/MaskPattern.h"

#include "mlir/IR/Block.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>
#include <vector>

namespace mlir::attn::detail {

/// Whether `op` is one the program can run without tables or runtime data
/// (the ops an attn.mask.expr region may contain).
bool isInterpretableArith(Operation *op);

class PredicateProgram {
public:
  /// Compiles the ops of `block` before `end` (null: all of them) that
  /// compute `result` from `inputs`. Fails naming the first op it cannot
  /// run in `*unsupported`.
  static std::optional<PredicateProgram>
  compile(Block &block, Block::iterator end, ArrayRef<Value> inputs,
          Value result, Operation **unsupported = nullptr);

  /// The predicate for `inputs` (in compile's order). Reads of runtime
  /// operands ask `runtime`; std::nullopt when the program reads one and
  /// `runtime` is null.
  std::optional<bool> run(ArrayRef<int64_t> inputs,
                          const RuntimeData *runtime = nullptr);

  /// A closed range of values, lo <= hi.
  struct Interval {
    int64_t lo, hi;
  };
  /// Interval reasoning: true when the predicate holds for every choice of
  /// inputs in the given ranges, false when for none, std::nullopt when the
  /// ranges do not decide it (or the program reads tables or runtime data).
  /// Sound, not complete: ops whose ranges might wrap give "anything".
  std::optional<bool> decide(ArrayRef<Interval> inputs);

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
    TableLookup,  // tensor.extract from a constant table (imm: its index)
    RuntimeLookup // tensor.extract from a runtime operand (imm: its index)
  };

  /// One instruction. Every slot holds its value truncated to its bit width
  /// and sign-extended to 64 bits.
  struct Instr {
    Opcode opcode;
    unsigned width; // of the result
    int32_t dst;
    SmallVector<int32_t, 3> args;
    int64_t imm = 0; // constant value, cmpi predicate, table or operand index
    unsigned srcWidth = 64;
  };

private:
  PredicateProgram() = default;
  uint64_t execute(const Instr &in, const RuntimeData *runtime, bool &missing);
  Interval executeRange(const Instr &in);

  std::vector<Instr> program;
  std::vector<int64_t> slots;
  std::vector<Interval> ranges;
  /// Constant tables (tensor.extract sources), row-major, with their shapes.
  std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> tables;
  /// Runtime operands read (RuntimeData::lookup's first argument).
  std::vector<Value> externals;
  unsigned numInputs = 0;
  int32_t result = 0;
};

} // namespace mlir::attn::detail

#endif // ATTN_LIB_IR_PREDICATEPROGRAM_H

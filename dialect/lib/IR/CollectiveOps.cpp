//===- CollectiveOps.cpp - all-reduce starts and waits --------------------===//

#include "attn/IR/Collectives.h"

#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace mlir::attn;

#define GET_OP_CLASSES
#include "attn/IR/AttnCollectiveOps.cpp.inc"

namespace mlir::attn {
void registerCollectiveOps(AttnDialect &dialect);
} // namespace mlir::attn

void mlir::attn::registerCollectiveOps(AttnDialect &dialect) {
  dialect.addPatternOps<
#define GET_OP_LIST
#include "attn/IR/AttnCollectiveOps.cpp.inc"
      >();
}

LogicalResult AllReduceStartOp::verify() {
  // A start's value exists only through a wait: another user would read a
  // tensor that is still being averaged.
  for (Operation *user : getResult().getUsers())
    if (!isa<AllReduceWaitOp>(user))
      return emitOpError("result is used by '")
             << user->getName()
             << "': only attn.all_reduce_wait may use it (the average is not "
                "there before the wait)";
  // Its buffer becomes the wait's result buffer: one wait owns it.
  if (!getResult().use_empty() && !getResult().hasOneUse())
    return emitOpError("result has several uses: one attn.all_reduce_wait "
                       "takes it");
  return success();
}

LogicalResult AllReduceWaitOp::inferReturnTypes(
    MLIRContext *, std::optional<Location>, ValueRange operands, DictionaryAttr,
    OpaqueProperties, RegionRange, SmallVectorImpl<Type> &inferred) {
  for (Value v : operands)
    inferred.push_back(v.getType());
  return success();
}

LogicalResult AllReduceWaitOp::verify() {
  if (getInputs().empty())
    return emitOpError("waits for nothing: it needs at least one operand");
  for (auto [i, input] : llvm::enumerate(getInputs())) {
    auto start = input.getDefiningOp<AllReduceStartOp>();
    if (!start)
      return emitOpError("operand #")
             << i << " is not the result of an attn.all_reduce_start";
    // Lowered, the start's buffer is allocated where the start is and read
    // by the wait: one block holds both (the training step's body does).
    if (start->getBlock() != getOperation()->getBlock())
      return emitOpError("operand #")
             << i << " is started in another block: a start and its wait "
             << "must be in one block";
  }
  return success();
}

LogicalResult BufferAllReduceStartOp::verify() {
  if (getInput().getType() != getOutput().getType())
    return emitOpError("input ")
           << getInput().getType() << " and output " << getOutput().getType()
           << " differ: the average has its input's type";
  return success();
}

LogicalResult BufferAllReduceWaitOp::verify() {
  if (getInputs().size() != getOutputs().size())
    return emitOpError("has ")
           << getInputs().size() << " inputs and " << getOutputs().size()
           << " outputs: each start's input and output are listed in pairs";
  for (auto [i, pair] : llvm::enumerate(llvm::zip(getInputs(), getOutputs())))
    if (std::get<0>(pair).getType() != std::get<1>(pair).getType())
      return emitOpError("pair #")
             << i << ": input " << std::get<0>(pair).getType() << " and output "
             << std::get<1>(pair).getType() << " differ";
  return success();
}

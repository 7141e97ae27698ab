//===- AttnMaskBase.td - what a sparsity pattern op derives from -*- tablegen -*-===//
//
// A new sparsity pattern is an op deriving from Attn_MaskOp, in any ODS file
// that includes this one (examples/longformer does so outside dialect/), that
// implements the MaskPattern methods and is registered with
// AttnDialect::addPatternOps. Nothing downstream changes. attn/IR/MaskArith.h
// has the helpers that state a predicate once for evaluation and for IR.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_MASK_BASE_TD
#define ATTN_MASK_BASE_TD

include "attn/IR/AttnBase.td"
include "attn/IR/AttnTypes.td"
include "attn/IR/AttnInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

// `overrides` names the MaskPattern methods with defaults that an op
// implements itself (keyRanges, hasStaticClassification, buildKeyLimit,
// evaluateKeyLimit).
class Attn_MaskOp<string mnemonic, list<Trait> traits = [],
                  list<string> overrides = []>
    : Attn_Op<"mask." # mnemonic, !listconcat([Pure, InferTypeOpAdaptor,
        DeclareOpInterfaceMethods<MaskPatternInterface, overrides>], traits)> {
  let results = (outs Attn_MaskType:$result);
  // The result's geometry as a C++ expression over `adaptor` (the op's
  // attributes): its block, 0 for an element-granular mask. The generated
  // inferReturnTypes returns !attn.mask of that block. An op that infers its
  // type otherwise (a combinator, from its operands) sets this to "" and
  // defines inferReturnTypes itself.
  string resultBlock = "0";
  let extraClassDefinition = !if(!empty(resultBlock), "", !strconcat([{
    ::llvm::LogicalResult $cppClass::inferReturnTypes(
        ::mlir::MLIRContext *context, ::std::optional<::mlir::Location>,
        Adaptor adaptor, ::llvm::SmallVectorImpl<::mlir::Type> &types) {
      (void)adaptor;
      types.push_back(::mlir::attn::MaskType::get(context, }], resultBlock,
      [{));
      return ::mlir::success();
    }
  }]));
}

#endif // ATTN_MASK_BASE_TD

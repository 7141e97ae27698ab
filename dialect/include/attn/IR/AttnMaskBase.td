//===- AttnMaskBase.td - what a sparsity pattern op derives from -*- tablegen -*-===//
//
// A new sparsity pattern is an op deriving from Attn_MaskOp, in any ODS file
// that includes this one (examples/longformer does so outside dialect/), that
// implements the MaskPattern methods and is registered with
// AttnDialect::addPatternOps. Nothing downstream changes.
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
// implements itself.
class Attn_MaskOp<string mnemonic, list<Trait> traits = [],
                  list<string> overrides = []>
    : Attn_Op<"mask." # mnemonic, !listconcat([Pure, InferTypeOpAdaptor,
        DeclareOpInterfaceMethods<MaskPatternInterface, overrides>], traits)> {
  let results = (outs Attn_MaskType:$result);
}

#endif // ATTN_MASK_BASE_TD

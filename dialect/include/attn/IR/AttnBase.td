//===- AttnBase.td - attn dialect definition --------------*- tablegen -*-===//
#ifndef ATTN_BASE_TD
#define ATTN_BASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Attn_Dialect : Dialect {
  let name = "attn";
  let cppNamespace = "::mlir::attn";
  let summary = "Attention patterns as mask, feature-map and kernel primitives";
  let description = [{
    The attn dialect describes attention layers as three families of
    primitives: masks (which query/key pairs interact), feature maps (for
    kernelized attention) and kernels (softmax attention, linear attention,
    state-space scans), plus the encoder pieces and layer ops a model is built
    from. Masks implement the MaskPattern interface, which is all the rest of
    the compiler knows about them.
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  // `attn.target` on a module must be an #attn.target.
  let hasOperationAttrVerify = 1;
  // gpu: the buffer collectives' async tokens (AttnCollectiveOps.td).
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
  let extraClassDeclaration = [{
    /// Registers pattern ops defined outside this library, from a dialect
    /// extension (see examples/longformer).
    template <typename... OpTys>
    void addPatternOps() {
      addOperations<OpTys...>();
    }
  }];
}

class Attn_Op<string mnemonic, list<Trait> traits = []>
    : Op<Attn_Dialect, mnemonic, traits>;

// A signed 64-bit integer attribute (I64Attr reads back as uint64_t, which
// would hide negative values from verifiers).
def Attn_IntAttr : TypedSignlessIntegerAttrBase<I64, "int64_t",
    "64-bit integer attribute"> {
  let convertFromStorage = "$_self.getValue().getSExtValue()";
}

#endif // ATTN_BASE_TD

//===- AttnTypes.td - attn types and attributes -----------*- tablegen -*-===//
#ifndef ATTN_TYPES_TD
#define ATTN_TYPES_TD

include "attn/IR/AttnBase.td"

def Attn_MaskType : TypeDef<Attn_Dialect, "Mask"> {
  let mnemonic = "mask";
  let summary = "a set of interacting (query, key) pairs";
  let description = [{
    The value of a mask op: a predicate over (batch, query index, key index,
    sequence length). `block` is the mask's geometry: 0 for masks defined per
    element, or the token block size of a block-granular pattern (BigBird's
    random blocks, block windows). Combinators accept operands whose block
    sizes agree or are element-granular.

    Syntax: `!attn.mask` or `!attn.mask<block = 64>`.
  }];
  let parameters = (ins DefaultValuedParameter<"int64_t", "0">:$block);
  let hasCustomAssemblyFormat = 1;
  let skipDefaultBuilders = 1;
  let builders = [TypeBuilder<(ins CArg<"int64_t", "0">:$block), [{
    return $_get($_ctxt, block);
  }]>];
  let extraClassDeclaration = [{
    bool isBlockGranular() const { return getBlock() != 0; }
  }];
}

def Attn_FeatureMapType : TypeDef<Attn_Dialect, "FeatureMap"> {
  let mnemonic = "feature_map";
  let summary = "a feature map for kernelized attention";
}

def Attn_PoolKind : I32EnumAttr<"PoolKind", "how a sequence is pooled", [
    I32EnumAttrCase<"cls", 0>, I32EnumAttrCase<"mean", 1>]> {
  let cppNamespace = "::mlir::attn";
  let genSpecializedAttr = 0;
}
def Attn_PoolKindAttr : EnumAttr<Attn_Dialect, Attn_PoolKind, "pool_kind">;

def Attn_FeatureMapKind : I32EnumAttr<"FeatureMapKind",
    "feature map of a linear-attention layer", [
    I32EnumAttrCase<"elu_plus_one", 0>, I32EnumAttrCase<"relu", 1>,
    I32EnumAttrCase<"identity", 2>, I32EnumAttrCase<"favor", 3>]> {
  let cppNamespace = "::mlir::attn";
  let genSpecializedAttr = 0;
}
def Attn_FeatureMapKindAttr
    : EnumAttr<Attn_Dialect, Attn_FeatureMapKind, "feature_map_kind">;

def Attn_LocalKind : I32EnumAttr<"LocalKind",
    "local attention of a SPADE layer", [
    I32EnumAttrCase<"window", 0>, I32EnumAttrCase<"chunk", 1>]> {
  let cppNamespace = "::mlir::attn";
  let genSpecializedAttr = 0;
}
def Attn_LocalKindAttr : EnumAttr<Attn_Dialect, Attn_LocalKind, "local_kind">;

#endif // ATTN_TYPES_TD

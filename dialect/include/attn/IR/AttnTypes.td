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

def Attn_ScheduleAttr : AttrDef<Attn_Dialect, "Schedule"> {
  let mnemonic = "schedule";
  let summary = "which key tiles each query tile visits, and how";
  let description = [{
    The result of attn-schedule-blocks for one attn.sdpa: tiles of `block_q`
    queries by `block_k` keys over a sequence of `seq_len`. Query tile i
    visits key tiles full_blocks[full_offsets[i] .. full_offsets[i+1]]
    without evaluating the mask, and partial_blocks[partial_offsets[i] ..
    partial_offsets[i+1]] evaluating it per element (CSR layout; offsets have
    ceil(seq_len / block_q) + 1 entries). Tiles in neither list are empty and
    never visited. Runtime-dependent masks are scheduled within their key
    limit; the kernel clips each tile to the limit.
  }];
  let parameters = (ins "int64_t":$block_q, "int64_t":$block_k,
                        "int64_t":$seq_len,
                        "::mlir::DenseI32ArrayAttr":$full_offsets,
                        "::mlir::DenseI32ArrayAttr":$full_blocks,
                        "::mlir::DenseI32ArrayAttr":$partial_offsets,
                        "::mlir::DenseI32ArrayAttr":$partial_blocks);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getNumQueryTiles() const {
      return (getSeqLen() + getBlockQ() - 1) / getBlockQ();
    }
    int64_t getNumKeyTiles() const {
      return (getSeqLen() + getBlockK() - 1) / getBlockK();
    }
    /// Fraction of (query tile, key tile) pairs visited.
    double getTileDensity() const;
  }];
}

def Attn_TargetAttr : AttrDef<Attn_Dialect, "Target"> {
  let mnemonic = "target";
  let summary = "the GPU a module is compiled for";
  let description = [{
    Set on the module as `attn.target` by attn-set-target (the first pass of
    --lower-to-gpu). Tiling and conversion consult it instead of constants
    of one chip: `chip` is the CUDA architecture (sm_80, sm_90a, ...), the
    instruction set the kernels may use; `multiprocessors` is the number of
    SMs to fill (132 on an H100 SXM or H200), which sizes the grids of the
    reductions and scans that split work to occupy the GPU. Modules without
    it are tiled for TargetAttr::getDefault.
  }];
  let parameters = (ins StringRefParameter<"CUDA architecture">:$chip,
                        "int64_t":$multiprocessors);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The module attribute's name.
    static constexpr ::llvm::StringLiteral kAttrName = "attn.target";
    /// The target of `op`'s module, or the default (an H100/H200: sm_90a,
    /// 132 SMs) where the module has none.
    static TargetAttr lookup(::mlir::Operation *op);
    static TargetAttr getDefault(::mlir::MLIRContext *context);
    /// Whether the chip has warpgroup MMA, the tensor memory accelerator
    /// and setmaxnreg: sm_90a (the "a" features of compute capability 9.0).
    bool hasWarpgroupMma() const { return getChip() == "sm_90a"; }
    /// The most shared memory a block may use (static and dynamic, bytes):
    /// 227 KB on compute capability 9.0 and 10.x, 163 KB on 8.0 and 8.7,
    /// 99 KB on the others (8.6, 8.9, 12.x; CUDA's programming guide,
    /// "Technical Specifications per Compute Capability").
    int64_t getSharedMemoryPerBlock() const;
    /// What is wrong with these parameters (the verifier's message), or
    /// nothing.
    static std::string check(::llvm::StringRef chip, int64_t multiprocessors);
  }];
}

def Attn_PoolKind : I32EnumAttr<"PoolKind", "how a sequence is pooled", [
    I32EnumAttrCase<"cls", 0>, I32EnumAttrCase<"mean", 1>]> {
  let cppNamespace = "::mlir::attn";
  let genSpecializedAttr = 0;
}
def Attn_PoolKindAttr : EnumAttr<Attn_Dialect, Attn_PoolKind, "pool_kind">;

def Attn_DecayKind : I32EnumAttr<"DecayKind",
    "how the learning rate falls after its warmup", [
    I32EnumAttrCase<"constant", 0>, I32EnumAttrCase<"linear", 1>,
    I32EnumAttrCase<"cosine", 2>]> {
  let cppNamespace = "::mlir::attn";
  let genSpecializedAttr = 0;
}
def Attn_DecayKindAttr : EnumAttr<Attn_Dialect, Attn_DecayKind, "decay_kind">;

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

def Attn_NormKind : I32EnumAttr<"NormKind",
    "the norms of an encoder layer", [
    I32EnumAttrCase<"layer", 0>, I32EnumAttrCase<"batch", 1>]> {
  let cppNamespace = "::mlir::attn";
  let genSpecializedAttr = 0;
}
def Attn_NormKindAttr : EnumAttr<Attn_Dialect, Attn_NormKind, "norm_kind">;

#endif // ATTN_TYPES_TD

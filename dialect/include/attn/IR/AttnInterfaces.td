//===- AttnInterfaces.td - MaskPattern and FeatureMap -----*- tablegen -*-===//
#ifndef ATTN_INTERFACES_TD
#define ATTN_INTERFACES_TD

include "mlir/IR/OpBase.td"

def MaskPatternInterface : OpInterface<"MaskPattern"> {
  let cppNamespace = "::mlir::attn";
  let description = [{
    The only thing the compiler knows about a sparsity pattern. A pattern op
    answers four questions:
      * how a (query range) x (key range) tile is classified -- empty, full or
        partial -- for a sequence length, analytically, without materialising
        an N x N mask (classifyTile);
      * what the element predicate is, as IR, for use inside partial tiles
        (buildPredicate), and as plain C++ for checks (evaluate);
      * which keys a range of queries may keep at all (keyRanges), so that
        scheduling visits what is kept rather than every tile;
      * whether classification depends on static facts only
        (hasStaticClassification), or on runtime data such as key-padding
        lengths.

    Runtime data. Asked with MaskContext::runtime set, a runtime-dependent
    pattern answers exactly for that batch entry. Asked without it, it
    describes the mask *within its key limit*: every key below
    buildKeyLimit(batch) counts as kept, and callers apply the limit
    themselves (tiles at or past it are empty, a tile straddling it is
    partial). Verifiers make this sound by allowing runtime-dependent masks
    only where a key limit composes: under intersections and on the left of a
    difference.
  }];
  let methods = [
    InterfaceMethod<[{
        Classifies the tile `tile` (half-open ranges, clipped to ctx.seqLen).
        The answer is exact: Full means every pair is kept, Empty none, and
        Partial that both kinds occur.
      }], "::mlir::attn::TileKind", "classifyTile",
      (ins "const ::mlir::attn::MaskContext &":$ctx,
           "const ::mlir::attn::TileRange &":$tile)>,
    InterfaceMethod<[{
        Whether the pair (q, k) is kept, by the definition of the pattern.
      }], "bool", "evaluate",
      (ins "const ::mlir::attn::MaskContext &":$ctx, "int64_t":$q,
           "int64_t":$k)>,
    InterfaceMethod<[{
        Builds the element predicate as an i1 for index values q and k (and
        the batch and sequence length held by `pb`).
      }], "::mlir::Value", "buildPredicate",
      (ins "::mlir::attn::PredicateBuilder &":$pb, "::mlir::Value":$q,
           "::mlir::Value":$k)>,
    InterfaceMethod<[{
        The keys that queries in [qBegin, qEnd) may keep: ranges of key
        positions outside which every pair of those queries is dropped (for
        runtime-dependent masks: within the key limit, as classifyTile). The
        answer may over-approximate -- keys inside a range may be dropped --
        but never leaves out a kept pair: attn-schedule-blocks classifies only
        the tiles that meet a range and drops the rest as empty. Ranges may
        overlap, be unsorted or reach past [0, seqLen); callers normalize
        them (normalizeKeyRanges). The default, every key, is always sound; a
        pattern whose kept keys lie near the diagonal or in a few columns
        answers with those, so that scheduling costs what the mask keeps,
        not N^2 tiles.
      }], "::mlir::attn::KeyRanges", "keyRanges",
      (ins "const ::mlir::attn::MaskContext &":$ctx, "int64_t":$qBegin,
           "int64_t":$qEnd), [{}], [{
        return {{0, ctx.seqLen}};
      }]>,
    InterfaceMethod<[{
        True when classification needs no runtime data.
      }], "bool", "hasStaticClassification", (ins), [{}], [{
        return true;
      }]>,
    InterfaceMethod<[{
        For runtime-dependent masks: builds the number of keys (an index) that
        may be kept for `batch`; keys at or past it are masked. Returns a null
        value when the mask keeps keys up to the sequence length.
      }], "::mlir::Value", "buildKeyLimit",
      (ins "::mlir::OpBuilder &":$builder, "::mlir::Location":$loc,
           "::mlir::Value":$batch), [{}], [{
        return {};
      }]>,
    InterfaceMethod<[{
        For runtime-dependent masks: the key limit of batch entry `batch`
        given runtime data; std::nullopt when the mask has none.
      }], "std::optional<int64_t>", "evaluateKeyLimit",
      (ins "const ::mlir::attn::MaskContext &":$ctx), [{}], [{
        return std::nullopt;
      }]>,
  ];
  let extraSharedClassDeclaration = [{
    /// The mask's geometry (0 for element-granular masks).
    int64_t getMaskBlock() {
      return ::llvm::cast<::mlir::attn::MaskType>(
          $_op->getResult(0).getType()).getBlock();
    }
  }];
}

def FeatureMapInterface : OpInterface<"FeatureMap"> {
  let cppNamespace = "::mlir::attn";
  let description = [{
    A feature map phi for kernelized attention, applied to each query and key
    row x of head dimension d:
        phi(x)_j = body(y_j, h)   where y = P (s x), h = |s x|^2 / 2
    with an optional projection P (features x d, e.g. FAVOR+'s random
    features), an input scale s and an elementwise body. Maps without a
    projection are elementwise (y = x). The body is emitted as scalar IR so
    that the map fuses into the prologue of the consuming kernel.
  }];
  let methods = [
    InterfaceMethod<"Number of features for head dimension `headDim`.",
      "int64_t", "getFeatureDim", (ins "int64_t":$headDim), [{}], [{
        return headDim;
      }]>,
    InterfaceMethod<"Whether phi projects its input first.",
      "bool", "hasProjection", (ins), [{}], [{ return false; }]>,
    InterfaceMethod<[{
        The projection P, row-major (features x headDim); empty when the map
        has none.
      }], "std::vector<double>", "getProjection", (ins "int64_t":$headDim),
      [{}], [{ return {}; }]>,
    InterfaceMethod<"Scale s applied to inputs before projecting.",
      "double", "getInputScale", (ins "int64_t":$headDim), [{}], [{
        return 1.0;
      }]>,
    InterfaceMethod<[{
        Emits body(y, h) for float scalars or vectors of the same type;
        `halfSqNorm` is null for maps without a projection.
      }], "::mlir::Value", "emitBody",
      (ins "::mlir::OpBuilder &":$builder, "::mlir::Location":$loc,
           "::mlir::Value":$y, "::mlir::Value":$halfSqNorm)>,
    InterfaceMethod<"The body in double precision, for checks.",
      "double", "evaluateBody", (ins "double":$y, "double":$halfSqNorm)>,
    InterfaceMethod<[{
        Emits the body's partial derivatives (d body / d y, d body / d
        halfSqNorm) at (y, halfSqNorm), for reverse mode; the second is null
        for maps without a projection.
      }], "std::pair<::mlir::Value, ::mlir::Value>", "emitBodyDerivatives",
      (ins "::mlir::OpBuilder &":$builder, "::mlir::Location":$loc,
           "::mlir::Value":$y, "::mlir::Value":$halfSqNorm)>,
  ];
}

def EncoderLayerInterface : OpInterface<"EncoderLayer"> {
  let cppNamespace = "::mlir::attn";
  let description = [{
    An encoder layer: x [B, N, D] -> [B, N, D] with its parameters as
    operands, in the order its parameter schema gives. The schema (names,
    shapes in terms of the model width D, FFN width F and SSM state S, and
    initialisation) is shared by the verifier, attn-expand-layers, the model
    builder and the runtime.
  }];
  let methods = [
    InterfaceMethod<"The parameter schema of this layer.",
      "::llvm::ArrayRef<::mlir::attn::ParamSpec>", "getParamSpecs">,
    InterfaceMethod<[{
        The schema of this layer's buffers: state it reads and returns
        updated, which the optimizer does not train (batch norm's running
        statistics).
      }], "::llvm::ArrayRef<::mlir::attn::ParamSpec>", "getBufferSpecs",
      (ins), [{}], [{
        return ::mlir::attn::layerBuffers(
            $_op.getNorm() == ::mlir::attn::NormKind::batch,
            $_op.getFeedForward());
      }]>,
  ];
}

def DifferentiableInterface : OpInterface<"Differentiable"> {
  let cppNamespace = "::mlir::attn";
  let description = [{
    An op that reverse mode (attn-generate-backward) can differentiate: it
    builds its vector-Jacobian product as IR -- attn ops (its own `*_grad`
    op where the forward is a fused computation) and structural linalg and
    tensor ops (sums, transposes, products, slices) on tensors.

    Upstream ops that the attn pipelines produce before differentiation
    (linalg.add, linalg.transpose, tensor reshapes and slices) implement it
    as external models, registered by attn::registerVjpExternalModels.
  }];
  let methods = [
    InterfaceMethod<[{
        Builds, at the builder's insertion point, the cotangent of every
        operand `wanted` names, given the cotangents of the results
        (`resultGrads[i]` is null where result i has none: it counts as
        zero; at least one is set). Appends one value per operand to
        `operandGrads`: the operand's cotangent, with the operand's type, or
        null where it was not wanted or the operand is not differentiable
        (integers, seeds, masks). Emits an error and fails when the op
        cannot be differentiated in this form.
      }], "::mlir::LogicalResult", "buildVjp",
      (ins "::mlir::OpBuilder &":$builder,
           "::llvm::ArrayRef<::mlir::Value>":$resultGrads,
           "::llvm::ArrayRef<bool>":$wanted,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$operandGrads)>,
  ];
}

// Reverse mode builds the op's vector-Jacobian product (Gradients.cpp).
def Attn_Differentiable : DeclareOpInterfaceMethods<DifferentiableInterface>;

#endif // ATTN_INTERFACES_TD

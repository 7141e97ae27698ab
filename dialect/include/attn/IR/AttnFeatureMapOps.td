//===- AttnFeatureMapOps.td - feature maps ----------------*- tablegen -*-===//
#ifndef ATTN_FEATURE_MAP_OPS_TD
#define ATTN_FEATURE_MAP_OPS_TD

include "attn/IR/AttnBase.td"
include "attn/IR/AttnTypes.td"
include "attn/IR/AttnInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

class Attn_FeatureMapOp<string mnemonic, list<string> overrides = []>
    : Attn_Op<"feature_map." # mnemonic, [Pure,
        DeclareOpInterfaceMethods<FeatureMapInterface,
          !listconcat(["evaluateBody", "emitBodyDerivatives"], overrides)>]> {
  let results = (outs Attn_FeatureMapType:$result);
  let assemblyFormat = "attr-dict";
}

def Attn_EluPlusOneFeatureMapOp : Attn_FeatureMapOp<"elu_plus_one"> {
  let summary = "phi(x) = elu(x) + 1 (Katharopoulos et al., 2020)";
}

def Attn_ReluFeatureMapOp : Attn_FeatureMapOp<"relu"> {
  let summary = "phi(x) = max(x, 0)";
}

def Attn_IdentityFeatureMapOp : Attn_FeatureMapOp<"identity"> {
  let summary = "phi(x) = x";
}

def Attn_FavorFeatureMapOp : Attn_FeatureMapOp<"favor", [
    "getFeatureDim", "hasProjection", "getProjection", "getInputScale"]> {
  let summary = "FAVOR+ positive orthogonal random features (Performer)";
  let description = [{
    phi(x) = exp(W x' - |x'|^2 / 2) / sqrt(m) with x' = x / d^(1/4), where W
    is an m x d matrix of positive orthogonal random features drawn from
    `seed` (attn::orthogonalRandomFeatures) and m = `features`.
  }];
  let arguments = (ins Attn_IntAttr:$features, Attn_IntAttr:$seed);
  let assemblyFormat = "`features` $features `seed` $seed attr-dict";
  let hasVerifier = 1;
}

#endif // ATTN_FEATURE_MAP_OPS_TD

//===- AttnOps.td - all attn ops --------------------------*- tablegen -*-===//
#ifndef ATTN_OPS_TD
#define ATTN_OPS_TD

include "attn/IR/AttnMaskOps.td"
include "attn/IR/AttnFeatureMapOps.td"
include "attn/IR/AttnKernelOps.td"
include "attn/IR/AttnEncoderOps.td"
include "attn/IR/AttnGradientOps.td"
include "attn/IR/AttnOptimizerOps.td"
include "attn/IR/AttnLayerOps.td"
include "attn/IR/AttnTileOps.td"

#endif // ATTN_OPS_TD

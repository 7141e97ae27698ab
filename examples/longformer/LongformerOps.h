//===- LongformerOps.h - a sparsity pattern from outside the dialect -*- C++
//-*-===//
#ifndef ATTN_EXAMPLES_LONGFORMER_OPS_H
#define ATTN_EXAMPLES_LONGFORMER_OPS_H

#include "attn/IR/AttnOps.h"

#define GET_OP_CLASSES
#include "LongformerOps.h.inc"

namespace mlir::attn::examples {
/// Adds attn.mask.longformer to the attn dialect wherever it is loaded.
void registerLongformerExtension(DialectRegistry &registry);
} // namespace mlir::attn::examples

#endif // ATTN_EXAMPLES_LONGFORMER_OPS_H

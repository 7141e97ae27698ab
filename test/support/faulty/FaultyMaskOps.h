//===- FaultyMaskOps.h - a pattern that answers wrongly, on purpose -*- C++
//-*-===//
#ifndef ATTN_TEST_FAULTY_MASK_OPS_H
#define ATTN_TEST_FAULTY_MASK_OPS_H

#include "attn/IR/AttnOps.h"

#define GET_OP_CLASSES
#include "FaultyMaskOps.h.inc"

namespace attn::test {
/// Adds attn.mask.faulty_window to the attn dialect wherever it is loaded.
void registerFaultyMaskExtension(mlir::DialectRegistry &registry);
} // namespace attn::test

#endif // ATTN_TEST_FAULTY_MASK_OPS_H

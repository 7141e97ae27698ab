//===- AttnOpsGen.cpp - generated op definitions -------------------------===//
//
// The generated op classes live in one translation unit; the ops' hand-written
// methods are in MaskOps.cpp, FeatureMapOps.cpp, KernelOps.cpp and
// LayerOps.cpp.
//
//===----------------------------------------------------------------------===//

#include "attn/IR/AttnOps.h"

#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace mlir::attn;

#define GET_OP_CLASSES
#include "attn/IR/AttnOps.cpp.inc"

//===- Collectives.h - the ops where the ranks of a run meet ----*- C++ -*-===//
//
// attn.all_reduce_start / attn.all_reduce_wait and their buffer forms
// (AttnCollectiveOps.td says what each means).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_IR_COLLECTIVES_H
#define ATTN_IR_COLLECTIVES_H

#include "attn/IR/AttnDialect.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "attn/IR/AttnCollectiveOps.h.inc"

#endif // ATTN_IR_COLLECTIVES_H

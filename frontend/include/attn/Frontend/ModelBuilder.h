//===- ModelBuilder.h - model specs to attn IR ---------------------*- C++
//-*-===//
#ifndef ATTN_FRONTEND_MODELBUILDER_H
#define ATTN_FRONTEND_MODELBUILDER_H

#include "attn/Frontend/ModelSpec.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::attn {

/// Names of the argument attributes that describe a model function's
/// interface to the runtime.
constexpr llvm::StringLiteral kInputAttr = "attn.input"; // ids, lengths, ...
constexpr llvm::StringLiteral kParamAttr = "attn.param"; // parameter name
constexpr llvm::StringLiteral kInitAttr = "attn.init";   // initialisation
constexpr llvm::StringLiteral kBufferAttr = "attn.buffer"; // buffer name

/// Builds `func.func @forward` for `spec` at the end of `module`:
///   (ids: [B, N] i32, lengths: [B] i32, labels: [B] i32, seed: i64,
///    parameters..., buffers...) -> (loss: f32, logits: [B, C], buffers...)
/// Every parameter argument carries its name and initialisation, as every
/// buffer (state the model updates but does not train: batch norms'
/// running statistics, `layers.<i>.ln1.running_mean`, ...) does; the
/// buffers come back updated, as results `buffer.<name>`; positions 0
/// of `ids` is the CLS token when `pool` is "cls". N is `length` where it is
/// given (in [1, seq_len]: batches padded to less than the spec's length);
/// the parameters do not depend on it -- the position table keeps seq_len
/// rows, of which the first N are added -- so models built for several
/// lengths share one set of parameters.
func::FuncOp buildModel(ModuleOp module, const ::attn::ModelSpec &spec,
                        int64_t length = 0);

} // namespace mlir::attn

#endif // ATTN_FRONTEND_MODELBUILDER_H

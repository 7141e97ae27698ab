//===- AttnOptimizerOps.td - the optimizer step as IR ------*- tablegen -*-===//
//
// What attn-generate-train-step builds after a gradient function: the
// learning rate of the step, the gradients' global norm, and AdamW. All
// arithmetic is f32 (master weights and optimizer state are f32).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_OPTIMIZER_OPS_TD
#define ATTN_OPTIMIZER_OPS_TD

include "attn/IR/AttnBase.td"
include "attn/IR/AttnTypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

// 0-d tensors, buildable so that the assembly format need not spell them.
def Attn_StepTensor : 0DTensorOf<[I64]>,
    BuildableType<"::mlir::RankedTensorType::get({}, $_builder.getI64Type())">;
def Attn_F32Scalar : 0DTensorOf<[F32]>,
    BuildableType<"::mlir::RankedTensorType::get({}, $_builder.getF32Type())">;

def Attn_LrScheduleOp : Attn_Op<"lr_schedule", [Pure]> {
  let summary = "the learning rate at a step: linear warmup, then a decay";
  let description = [{
    For step t (counted from 1): peak * t / warmup while t <= warmup; then,
    with p = (t - warmup) / (total - warmup) clamped to [0, 1] and
    f = peak * final (the final fraction of the peak):
      constant: peak;  linear: peak + (f - peak) p;
      cosine: f + (peak - f) (1 + cos(pi p)) / 2.
  }];
  let arguments = (ins Attn_StepTensor:$step, F64Attr:$peak,
                       DefaultValuedAttr<Attn_IntAttr, "0">:$warmup,
                       Attn_IntAttr:$total, Attn_DecayKindAttr:$decay,
                       DefaultValuedAttr<F64Attr, "0.0">:$final);
  let results = (outs Attn_F32Scalar:$result);
  let assemblyFormat = [{
    $step `peak` $peak (`warmup` $warmup^)? `total` $total `decay` $decay
    (`final` $final^)? attr-dict
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// What is wrong with a schedule's parameters, or "" (the verifier's
    /// checks, for options that become them: attn-generate-train-step).
    static std::string checkParameters(double peak, int64_t warmup,
                                       int64_t total, double final);
  }];
}

def Attn_GlobalNormOp : Attn_Op<"global_norm", [Pure]> {
  let summary = "the Euclidean norm of several tensors taken together";
  let description = [{
    sqrt of the sum of squares of every element of every operand, summed
    in f32.
  }];
  let arguments = (ins Variadic<Attn_FloatTensor>:$inputs);
  let results = (outs Attn_F32Scalar:$result);
  let assemblyFormat = [{ $inputs attr-dict `:` type($inputs) }];
  let hasVerifier = 1;
}

def Attn_AdamWOp : Attn_Op<"adamw", [Pure,
    AllTypesMatch<["param", "grad", "first_moment", "second_moment",
                   "new_param", "new_first_moment", "new_second_moment"]>]> {
  let summary = "one AdamW update of a parameter (decoupled weight decay)";
  let description = [{
    As torch.optim.AdamW after clipping by global norm (PyTorch's
    clip_grad_norm_): with g = grad * c, c = min(1, max_norm / (norm +
    1e-6)) (c = 1 when max_norm is 0), lr (the schedule's rate times
    `lr_scale`) and step t (counted from 1):
      p' = p (1 - lr weight_decay)
      m' = beta1 m + (1 - beta1) g
      v' = beta2 v + (1 - beta2) g^2
      p' = p' - lr (m' / (1 - beta1^t)) / (sqrt(v' / (1 - beta2^t)) + eps)
  }];
  let arguments = (ins Attn_FloatTensor:$param, Attn_FloatTensor:$grad,
                       Attn_FloatTensor:$first_moment,
                       Attn_FloatTensor:$second_moment,
                       Attn_F32Scalar:$lr, Attn_StepTensor:$step,
                       Attn_F32Scalar:$norm,
                       DefaultValuedAttr<F64Attr, "0.9">:$beta1,
                       DefaultValuedAttr<F64Attr, "0.999">:$beta2,
                       DefaultValuedAttr<F64Attr, "1e-8">:$epsilon,
                       DefaultValuedAttr<F64Attr, "0.01">:$weight_decay,
                       DefaultValuedAttr<F64Attr, "0.0">:$max_norm,
                       DefaultValuedAttr<F64Attr, "1.0">:$lr_scale);
  let results = (outs Attn_FloatTensor:$new_param,
                      Attn_FloatTensor:$new_first_moment,
                      Attn_FloatTensor:$new_second_moment);
  let assemblyFormat = [{
    $param `,` $grad `,` $first_moment `,` $second_moment `lr` $lr `step`
    $step `norm` $norm attr-dict `:` type($param)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// What is wrong with the update's hyperparameters, or "" (the
    /// verifier's checks, for options that become them).
    static std::string checkHyperparameters(double beta1, double beta2,
                                            double epsilon, double weightDecay,
                                            double maxNorm, double lrScale);
  }];
}

#endif // ATTN_OPTIMIZER_OPS_TD

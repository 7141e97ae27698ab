//===- GradientReferenceTest.cpp - reverse mode vs. libtorch autograd -----===//
//
// Every differentiable encoder op, and a small encoder through a
// classifier and the loss, compiled with attn-compile --backward
// (attn-generate-backward): the gradients of f_grad against libtorch
// autograd on the float64 references, on fresh random inputs; the model's
// gradients also against finite differences of its compiled forward; and
// its compiled training steps (attn-generate-train-step) against
// torch::optim::AdamW, with gradient clipping and the same schedule, on the
// same gradients (one parameter in a group of its own weight decay and
// rate).
//
// Functions whose first result is not a loss take its cotangent as their
// last argument, so that every op is checked against y.backward(dy) with a
// random dy.
//
//===----------------------------------------------------------------------===//

#include "Harness.h"
#include "References.h"

#include "attn/Support/Random.h"

#include <cstring>
#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>

using namespace attn::test;
using namespace torch::indexing;

namespace {

constexpr int64_t B = 2, N = 50, D = 32, V = 18;
const std::vector<int64_t> kLengths{N, 31};

const char *kGradientModule = R"mlir(
func.func @embedding(%ids: tensor<2x50xi32>, %t: tensor<18x32xf32> {attn.param = "t"}) -> tensor<2x50x32xf32> {
  %e = attn.embedding %ids, %t : tensor<2x50xi32>, tensor<18x32xf32> -> tensor<2x50x32xf32>
  return %e : tensor<2x50x32xf32>
}
func.func @add_positions(%x: tensor<2x50x32xf32> {attn.param = "x"}, %t: tensor<64x32xf32> {attn.param = "t"}) -> tensor<2x50x32xf32> {
  %y = attn.add_positions %x, %t : tensor<2x50x32xf32>, tensor<64x32xf32>
  return %y : tensor<2x50x32xf32>
}
func.func @layer_norm(%x: tensor<2x50x32xf32> {attn.param = "x"}, %g: tensor<32xf32> {attn.param = "g"}, %b: tensor<32xf32> {attn.param = "b"}) -> tensor<2x50x32xf32> {
  %y = attn.layer_norm %x, %g, %b epsilon 1.0e-5 : tensor<2x50x32xf32>, tensor<32xf32>
  return %y : tensor<2x50x32xf32>
}
func.func @batch_norm(%x: tensor<2x50x32xf32> {attn.param = "x"}, %g: tensor<32xf32> {attn.param = "g"}, %b: tensor<32xf32> {attn.param = "b"}, %len: tensor<2xi32>) -> tensor<2x50x32xf32> {
  %y, %mean, %var = attn.batch_norm %x, %g, %b lengths %len : tensor<2xi32> : tensor<2x50x32xf32>, tensor<32xf32> -> tensor<32xf32>
  return %y : tensor<2x50x32xf32>
}
func.func @project(%x: tensor<3x45x70xf32> {attn.param = "x"}, %w: tensor<70x130xf32> {attn.param = "w"}, %b: tensor<130xf32> {attn.param = "b"}) -> tensor<3x45x130xf32> {
  %y = attn.project %x, %w, %b : tensor<3x45x70xf32>, tensor<70x130xf32>, tensor<130xf32> -> tensor<3x45x130xf32>
  return %y : tensor<3x45x130xf32>
}
func.func @project_many_tokens(%x: tensor<4x1000x70xf32> {attn.param = "x"}, %w: tensor<70x96xf32> {attn.param = "w"}, %b: tensor<96xf32> {attn.param = "b"}) -> tensor<4x1000x96xf32> {
  %y = attn.project %x, %w, %b : tensor<4x1000x70xf32>, tensor<70x96xf32>, tensor<96xf32> -> tensor<4x1000x96xf32>
  return %y : tensor<4x1000x96xf32>
}
func.func @project_no_bias(%x: tensor<7x32xf32> {attn.param = "x"}, %w: tensor<32x10xf32> {attn.param = "w"}) -> tensor<7x10xf32> {
  %y = attn.project %x, %w : tensor<7x32xf32>, tensor<32x10xf32> -> tensor<7x10xf32>
  return %y : tensor<7x10xf32>
}
func.func @gelu(%x: tensor<2x50x32xf32> {attn.param = "x"}) -> tensor<2x50x32xf32> {
  %y = attn.gelu %x : tensor<2x50x32xf32>
  return %y : tensor<2x50x32xf32>
}
func.func @gelu_approximate(%x: tensor<2x50x32xf32> {attn.param = "x"}) -> tensor<2x50x32xf32> {
  %y = attn.gelu %x approximate : tensor<2x50x32xf32>
  return %y : tensor<2x50x32xf32>
}
func.func @dropout(%x: tensor<2x50x32xf32> {attn.param = "x"}, %seed: i64) -> tensor<2x50x32xf32> {
  %y = attn.dropout %x, %seed rate 0.25 stream 7 : tensor<2x50x32xf32>
  return %y : tensor<2x50x32xf32>
}
func.func @pool_cls(%x: tensor<2x50x32xf32> {attn.param = "x"}) -> tensor<2x32xf32> {
  %y = attn.pool cls %x : tensor<2x50x32xf32> -> tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}
func.func @pool_mean(%x: tensor<2x50x32xf32> {attn.param = "x"}, %len: tensor<2xi32>) -> tensor<2x32xf32> {
  %y = attn.pool mean %x lengths %len : tensor<2x50x32xf32>, tensor<2xi32> -> tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}
func.func @cross_entropy(%x: tensor<5x10xf32> {attn.param = "x"}, %l: tensor<5xi32>) -> tensor<f32> {
  %y = attn.cross_entropy %x, %l : tensor<5x10xf32>, tensor<5xi32> -> tensor<f32>
  return %y : tensor<f32>
}
func.func @linear_elu(%q: tensor<2x2x50x16xf32> {attn.param = "q"}, %k: tensor<2x2x50x16xf32> {attn.param = "k"}, %v: tensor<2x2x50x16xf32> {attn.param = "v"}, %len: tensor<2xi32>) -> tensor<2x2x50x16xf32> {
  %f = attn.feature_map.elu_plus_one
  %o = attn.linear %q, %k, %v feature_map %f key_lengths %len : tensor<2xi32> : tensor<2x2x50x16xf32>, tensor<2x2x50x16xf32>, tensor<2x2x50x16xf32> -> tensor<2x2x50x16xf32>
  return %o : tensor<2x2x50x16xf32>
}
func.func @linear_causal_elu(%q: tensor<2x2x150x16xf32> {attn.param = "q"}, %k: tensor<2x2x150x16xf32> {attn.param = "k"}, %v: tensor<2x2x150x16xf32> {attn.param = "v"}, %len: tensor<2xi32>) -> tensor<2x2x150x16xf32> {
  %f = attn.feature_map.elu_plus_one
  %o = attn.linear %q, %k, %v feature_map %f key_lengths %len : tensor<2xi32> causal : tensor<2x2x150x16xf32>, tensor<2x2x150x16xf32>, tensor<2x2x150x16xf32> -> tensor<2x2x150x16xf32>
  return %o : tensor<2x2x150x16xf32>
}
func.func @linear_causal_short(%q: tensor<2x2x50x16xf32> {attn.param = "q"}, %k: tensor<2x2x50x16xf32> {attn.param = "k"}, %v: tensor<2x2x50x16xf32> {attn.param = "v"}) -> tensor<2x2x50x16xf32> {
  %f = attn.feature_map.elu_plus_one
  %o = attn.linear %q, %k, %v feature_map %f causal : tensor<2x2x50x16xf32>, tensor<2x2x50x16xf32>, tensor<2x2x50x16xf32> -> tensor<2x2x50x16xf32>
  return %o : tensor<2x2x50x16xf32>
}
func.func @linear_relu(%q: tensor<2x2x50x16xf32> {attn.param = "q"}, %k: tensor<2x2x50x16xf32> {attn.param = "k"}, %v: tensor<2x2x50x16xf32> {attn.param = "v"}) -> tensor<2x2x50x16xf32> {
  %f = attn.feature_map.relu
  %o = attn.linear %q, %k, %v feature_map %f : tensor<2x2x50x16xf32>, tensor<2x2x50x16xf32>, tensor<2x2x50x16xf32> -> tensor<2x2x50x16xf32>
  return %o : tensor<2x2x50x16xf32>
}
func.func @elementwise_generic(%x: tensor<2x50x32xf32> {attn.param = "x"}, %d: tensor<32xf32> {attn.param = "d"}, %z: tensor<50x32xf32> {attn.param = "z"}) -> tensor<2x50x32xf32> {
  %init = tensor.empty() : tensor<2x50x32xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(b, t, c) -> (b, t, c)>, affine_map<(b, t, c) -> (c)>, affine_map<(b, t, c) -> (t, c)>, affine_map<(b, t, c) -> (b, t, c)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x, %d, %z : tensor<2x50x32xf32>, tensor<32xf32>, tensor<50x32xf32>) outs(%init : tensor<2x50x32xf32>) {
  ^bb0(%xv: f32, %dv: f32, %zv: f32, %o: f32):
    %one = arith.constant 1.0 : f32
    %zero = arith.constant 0.0 : f32
    %dx = arith.mulf %dv, %xv : f32
    %e = math.exp %zv : f32
    %dd = arith.mulf %dv, %dv : f32
    %den = arith.addf %one, %dd : f32
    %q = arith.divf %e, %den : f32
    %s = arith.subf %dx, %q : f32
    %pos = arith.cmpf ogt, %xv, %zero : f32
    %n = arith.negf %xv : f32
    %r = arith.select %pos, %s, %n : f32
    linalg.yield %r : f32
  } -> tensor<2x50x32xf32>
  return %y : tensor<2x50x32xf32>
}
func.func @shared_operand(%x: tensor<2x50x32xf32> {attn.param = "x"}) -> tensor<2x50x32xf32> {
  %g = attn.gelu %x : tensor<2x50x32xf32>
  %init = tensor.empty() : tensor<2x50x32xf32>
  %y = linalg.add ins(%g, %x : tensor<2x50x32xf32>, tensor<2x50x32xf32>) outs(%init : tensor<2x50x32xf32>) -> tensor<2x50x32xf32>
  return %y : tensor<2x50x32xf32>
}
)mlir";

/// Ops that compute in f32 only: a bf16 model runs its SSM scans and
/// FAVOR+ kernels in f32 (attn-expand-layers casts around them).
const char *kF32GradientModule = R"mlir(
func.func @linear_favor(%q: tensor<2x2x50x16xf32> {attn.param = "q"}, %k: tensor<2x2x50x16xf32> {attn.param = "k"}, %v: tensor<2x2x50x16xf32> {attn.param = "v"}, %len: tensor<2xi32>) -> tensor<2x2x50x16xf32> {
  %f = attn.feature_map.favor features 32 seed 7
  %o = attn.linear %q, %k, %v feature_map %f key_lengths %len : tensor<2xi32> : tensor<2x2x50x16xf32>, tensor<2x2x50x16xf32>, tensor<2x2x50x16xf32> -> tensor<2x2x50x16xf32>
  return %o : tensor<2x2x50x16xf32>
}
func.func @linear_causal_favor(%q: tensor<2x2x130x16xf32> {attn.param = "q"}, %k: tensor<2x2x130x16xf32> {attn.param = "k"}, %v: tensor<2x2x130x16xf32> {attn.param = "v"}, %len: tensor<2xi32>) -> tensor<2x2x130x16xf32> {
  %f = attn.feature_map.favor features 32 seed 7
  %o = attn.linear %q, %k, %v feature_map %f key_lengths %len : tensor<2xi32> causal : tensor<2x2x130x16xf32>, tensor<2x2x130x16xf32>, tensor<2x2x130x16xf32> -> tensor<2x2x130x16xf32>
  return %o : tensor<2x2x130x16xf32>
}
func.func @ssm_causal(%x: tensor<2x50x12xf32> {attn.param = "x"}, %ar: tensor<12x8xf32> {attn.param = "ar"}, %ai: tensor<12x8xf32> {attn.param = "ai"}, %br: tensor<12x8xf32> {attn.param = "br"}, %bi: tensor<12x8xf32> {attn.param = "bi"}, %cr: tensor<12x8xf32> {attn.param = "cr"}, %ci: tensor<12x8xf32> {attn.param = "ci"}, %dt: tensor<12xf32> {attn.param = "dt"}, %len: tensor<2xi32>) -> tensor<2x50x12xf32> {
  %y = attn.ssm %x A(%ar, %ai) B(%br, %bi) C(%cr, %ci) log_dt(%dt) lengths %len : tensor<2xi32> : tensor<2x50x12xf32>, tensor<12x8xf32>, tensor<12x8xf32>, tensor<12xf32>
  return %y : tensor<2x50x12xf32>
}
func.func @ssm_bidirectional(%x: tensor<2x50x12xf32> {attn.param = "x"}, %ar: tensor<12x8xf32> {attn.param = "ar"}, %ai: tensor<12x8xf32> {attn.param = "ai"}, %br: tensor<12x8xf32> {attn.param = "br"}, %bi: tensor<12x8xf32> {attn.param = "bi"}, %cr: tensor<2x12x8xf32> {attn.param = "cr"}, %ci: tensor<2x12x8xf32> {attn.param = "ci"}, %dt: tensor<12xf32> {attn.param = "dt"}, %len: tensor<2xi32>) -> tensor<2x50x12xf32> {
  %y = attn.ssm %x A(%ar, %ai) B(%br, %bi) C(%cr, %ci) log_dt(%dt) lengths %len : tensor<2xi32> bidirectional : tensor<2x50x12xf32>, tensor<12x8xf32>, tensor<2x12x8xf32>, tensor<12xf32>
  return %y : tensor<2x50x12xf32>
}
func.func @ssm_bidirectional_50_modes(%x: tensor<2x50x12xf32> {attn.param = "x"}, %ar: tensor<12x50xf32> {attn.param = "ar"}, %ai: tensor<12x50xf32> {attn.param = "ai"}, %br: tensor<12x50xf32> {attn.param = "br"}, %bi: tensor<12x50xf32> {attn.param = "bi"}, %cr: tensor<2x12x50xf32> {attn.param = "cr"}, %ci: tensor<2x12x50xf32> {attn.param = "ci"}, %dt: tensor<12xf32> {attn.param = "dt"}, %len: tensor<2xi32>) -> tensor<2x50x12xf32> {
  %y = attn.ssm %x A(%ar, %ai) B(%br, %bi) C(%cr, %ci) log_dt(%dt) lengths %len : tensor<2xi32> bidirectional : tensor<2x50x12xf32>, tensor<12x50xf32>, tensor<2x12x50xf32>, tensor<12xf32>
  return %y : tensor<2x50x12xf32>
}
)mlir";

/// An encoder without attention: embedding, positions, norm, dropout, a
/// residual feed-forward block, mean pooling over lengths, a classifier and
/// the loss -- every differentiable op and a shared value.
/// The model's signature: its inputs, then its f32 parameters (b1 with its
/// own weight decay and rate).
const std::string kModelSignature = R"mlir(
func.func @model(%ids: tensor<2x50xi32>, %len: tensor<2xi32>, %labels: tensor<2xi32>, %seed: i64,
                 %emb: tensor<18x32xf32> {attn.param = "embed"}, %pos: tensor<64x32xf32> {attn.param = "pos"},
                 %g: tensor<32xf32> {attn.param = "ln.gamma"}, %b: tensor<32xf32> {attn.param = "ln.beta"},
                 %w1: tensor<32x48xf32> {attn.param = "w1"}, %b1: tensor<48xf32> {attn.param = "b1", attn.weight_decay = 0.0 : f64, attn.lr_scale = 0.5 : f64},
                 %w2: tensor<48x32xf32> {attn.param = "w2"}, %b2: tensor<32xf32> {attn.param = "b2"},
                 %wc: tensor<32x10xf32> {attn.param = "wc"}, %bc: tensor<10xf32> {attn.param = "bc"})
    -> (tensor<f32>, tensor<2x10xf32>) {
)mlir";
const std::string kModelModule = kModelSignature + R"mlir(
  %e = attn.embedding %ids, %emb : tensor<2x50xi32>, tensor<18x32xf32> -> tensor<2x50x32xf32>
  %p = attn.add_positions %e, %pos : tensor<2x50x32xf32>, tensor<64x32xf32>
  %n = attn.layer_norm %p, %g, %b epsilon 1.0e-5 : tensor<2x50x32xf32>, tensor<32xf32>
  %d = attn.dropout %n, %seed rate 0.1 : tensor<2x50x32xf32>
  %h = attn.project %d, %w1, %b1 : tensor<2x50x32xf32>, tensor<32x48xf32>, tensor<48xf32> -> tensor<2x50x48xf32>
  %a = attn.gelu %h : tensor<2x50x48xf32>
  %o = attn.project %a, %w2, %b2 : tensor<2x50x48xf32>, tensor<48x32xf32>, tensor<32xf32> -> tensor<2x50x32xf32>
  %init = tensor.empty() : tensor<2x50x32xf32>
  %r = linalg.add ins(%d, %o : tensor<2x50x32xf32>, tensor<2x50x32xf32>) outs(%init : tensor<2x50x32xf32>) -> tensor<2x50x32xf32>
  %pool = attn.pool mean %r lengths %len : tensor<2x50x32xf32>, tensor<2xi32> -> tensor<2x32xf32>
  %logits = attn.project %pool, %wc, %bc : tensor<2x32xf32>, tensor<32x10xf32>, tensor<10xf32> -> tensor<2x10xf32>
  %l = attn.cross_entropy %logits, %labels : tensor<2x10xf32>, tensor<2xi32> -> tensor<f32>
  return %l, %logits : tensor<f32>, tensor<2x10xf32>
}
)mlir";

/// kModelModule in mixed precision, as attn-import builds a bf16 model: f32
/// parameters (the optimizer's masters) cast to bf16, every op in bf16,
/// the logits cast to f32 for the loss.
const std::string kMixedModelModule = kModelSignature + R"mlir(
  %emb16 = attn.cast %emb : tensor<18x32xf32> to tensor<18x32xbf16>
  %pos16 = attn.cast %pos : tensor<64x32xf32> to tensor<64x32xbf16>
  %g16 = attn.cast %g : tensor<32xf32> to tensor<32xbf16>
  %b16 = attn.cast %b : tensor<32xf32> to tensor<32xbf16>
  %w116 = attn.cast %w1 : tensor<32x48xf32> to tensor<32x48xbf16>
  %b116 = attn.cast %b1 : tensor<48xf32> to tensor<48xbf16>
  %w216 = attn.cast %w2 : tensor<48x32xf32> to tensor<48x32xbf16>
  %b216 = attn.cast %b2 : tensor<32xf32> to tensor<32xbf16>
  %wc16 = attn.cast %wc : tensor<32x10xf32> to tensor<32x10xbf16>
  %bc16 = attn.cast %bc : tensor<10xf32> to tensor<10xbf16>
  %e = attn.embedding %ids, %emb16 : tensor<2x50xi32>, tensor<18x32xbf16> -> tensor<2x50x32xbf16>
  %p = attn.add_positions %e, %pos16 : tensor<2x50x32xbf16>, tensor<64x32xbf16>
  %n = attn.layer_norm %p, %g16, %b16 epsilon 1.0e-5 : tensor<2x50x32xbf16>, tensor<32xbf16>
  %d = attn.dropout %n, %seed rate 0.1 : tensor<2x50x32xbf16>
  %h = attn.project %d, %w116, %b116 : tensor<2x50x32xbf16>, tensor<32x48xbf16>, tensor<48xbf16> -> tensor<2x50x48xbf16>
  %a = attn.gelu %h : tensor<2x50x48xbf16>
  %o = attn.project %a, %w216, %b216 : tensor<2x50x48xbf16>, tensor<48x32xbf16>, tensor<32xbf16> -> tensor<2x50x32xbf16>
  %init = tensor.empty() : tensor<2x50x32xbf16>
  %r = linalg.add ins(%d, %o : tensor<2x50x32xbf16>, tensor<2x50x32xbf16>) outs(%init : tensor<2x50x32xbf16>) -> tensor<2x50x32xbf16>
  %pool = attn.pool mean %r lengths %len : tensor<2x50x32xbf16>, tensor<2xi32> -> tensor<2x32xbf16>
  %logits16 = attn.project %pool, %wc16, %bc16 : tensor<2x32xbf16>, tensor<32x10xbf16>, tensor<10xbf16> -> tensor<2x10xbf16>
  %logits = attn.cast %logits16 : tensor<2x10xbf16> to tensor<2x10xf32>
  %l = attn.cross_entropy %logits, %labels : tensor<2x10xf32>, tensor<2xi32> -> tensor<f32>
  return %l, %logits : tensor<f32>, tensor<2x10xf32>
}
)mlir";

torch::Tensor lengthsTensor() {
  return torch::tensor(kLengths).to(torch::kInt32);
}

/// A float64 leaf that autograd tracks.
torch::Tensor leaf(torch::Tensor t) {
  return t.to(torch::kFloat64).detach().requires_grad_(true);
}

std::vector<torch::Tensor> f32(const std::vector<torch::Tensor> &ts) {
  std::vector<torch::Tensor> out;
  for (const torch::Tensor &t : ts)
    out.push_back(t.detach().to(torch::kFloat32).contiguous());
  return out;
}

/// f'(0) of a function of one step t, evaluated in f32 code. A difference
/// quotient of f32 code carries the function's rounding divided by the
/// step as well as the step's truncation error, and which one dominates
/// depends on the direction: an SSM's log dt scales the phases of
/// exp(dt A l) over the whole sequence, so its quotient needs a small step,
/// while along most parameters the rounding needs a large one. So the
/// fourth-order central difference (truncation O(h^4)) is taken at
/// h = 0.04, 0.02, ..., 0.0025, and the step halved while that brings the
/// estimates closer together. Measured over 60 draws of every layer case
/// and the model on the CPU, the worst error used half the bound of
/// expectMatchesFiniteDifferences (the pre-LN SSM's A, rounding) and all
/// others a seventh; at a fixed h = 0.02 the log dt of the same layer
/// failed it about once in 300 draws.
double derivativeAtZero(const std::function<double(double)> &f) {
  std::vector<double> estimates;
  for (double h = 0.04; h > 0.002; h /= 2)
    estimates.push_back((f(-2 * h) - 8 * f(-h) + 8 * f(h) - f(2 * h)) /
                        (12 * h));
  // Halving the step shrinks the truncation error 16-fold and doubles the
  // rounding's: while successive estimates close in, truncation dominates.
  size_t best = 0;
  while (best + 2 < estimates.size() &&
         std::abs(estimates[best + 1] - estimates[best + 2]) <
             std::abs(estimates[best] - estimates[best + 1]))
    ++best;
  return estimates[best];
}

/// Checks `gradient` (a tensor per tensor of `point`) against finite
/// differences of `value`, a function of the point computed by f32 code:
/// one tensor at a time, along two random unit directions in it, the
/// derivative of `value` (derivativeAtZero) against <gradient_i, u>.
///
/// The bound is 2% of the tensor's own derivative scale -- the larger of
/// |<gradient_i, u>| and |gradient_i| / sqrt(numel_i), the size that inner
/// product has over random u -- plus, for the rounding of `value`, which
/// does not shrink with one tensor's gradient, 0.1% of the whole gradient's
/// scale and 1e-4 (a loss whose gradient is below its own f32 rounding
/// over the step, as a saturated cross-entropy's, measures 0). A tensor at
/// a time, so that a wrong gradient of a small parameter is not hidden
/// behind a large one's. Halving one tensor's gradient (any tensor whose
/// gradient is not zero) failed the check in most draws: in every draw for
/// most tensors, in two of three for the least sensitive.
void expectMatchesFiniteDifferences(
    const std::vector<torch::Tensor> &point,
    const std::vector<torch::Tensor> &gradient,
    const std::function<double(const std::vector<torch::Tensor> &)> &value,
    const std::string &what) {
  ASSERT_EQ(point.size(), gradient.size()) << what;
  std::vector<double> scale;
  double wholeScale = 0;
  for (const torch::Tensor &g : gradient) {
    scale.push_back(g.to(torch::kFloat64).norm().item<double>() /
                    std::sqrt(double(g.numel())));
    wholeScale += scale.back() * scale.back();
  }
  wholeScale = std::sqrt(wholeScale);
  for (size_t i = 0; i < point.size(); ++i) {
    for (int trial = 0; trial < 2; ++trial) {
      torch::Tensor u = torch::randn(point[i].sizes(), torch::kFloat64);
      u /= u.norm();
      double predicted =
          (gradient[i].to(torch::kFloat64) * u).sum().item<double>();
      double measured = derivativeAtZero([&](double t) {
        std::vector<torch::Tensor> moved = point;
        moved[i] = point[i] + t * u;
        return value(moved);
      });
      EXPECT_NEAR(measured, predicted,
                  2e-2 * std::max(std::abs(predicted), scale[i]) +
                      1e-3 * wholeScale + 1e-4)
          << what << ", tensor " << i << " (" << point[i].sizes()
          << "), direction " << trial;
    }
  }
}

/// The element type a suite's functions compute in. bf16 suites check
/// mixed precision's pieces: the ops in bf16 (their sums and products
/// accumulating in f32), against float64 autograd on bf16-representable
/// inputs, within bf16's tolerance.
enum class Precision { F32, BF16 };

std::string precisionName(const ::testing::TestParamInfo<Precision> &info) {
  return info.param == Precision::BF16 ? "bf16" : "f32";
}
// How gtest prints the parameter in test listings.
void PrintTo(Precision p, std::ostream *os) {
  *os << (p == Precision::BF16 ? "bf16" : "f32");
}

/// `module` with every f32 made bf16 but the scalar losses (tensor<f32>).
std::string inBf16(std::string module) {
  const std::string loss = "tensor<f32>", kept = "tensor<@loss@>";
  auto replaceAll = [&](const std::string &from, const std::string &to) {
    for (size_t at = module.find(from); at != std::string::npos;
         at = module.find(from, at + to.size()))
      module.replace(at, from.size(), to);
  };
  replaceAll(loss, kept);
  replaceAll("f32", "bf16");
  replaceAll(kept, loss);
  return module;
}

/// Checks f_grad of a library against autograd in one precision.
class GradientCheck : public SeededTest {
public:
  /// A float64 leaf that autograd tracks, of a value the precision holds
  /// exactly (bf16 suites round it), so the reference sees what the
  /// library sees.
  torch::Tensor leaf(torch::Tensor t) const {
    if (precision == Precision::BF16)
      t = t.to(torch::kBFloat16);
    return ::leaf(t);
  }
  /// Tensors as the library's arguments in the precision.
  std::vector<torch::Tensor>
  inputs(const std::vector<torch::Tensor> &ts) const {
    std::vector<torch::Tensor> out;
    for (const torch::Tensor &t : ts)
      out.push_back(t.detach().to(dtype()).contiguous());
    return out;
  }

  /// Calls fn_grad with `args`, then the cotangent `dy` of `ref` (none for
  /// a loss); checks the output against `ref` and the gradient of each
  /// leaf in `leaves` (in parameter order) against autograd's.
  void check(const std::string &fn, const std::vector<torch::Tensor> &args,
             const std::vector<torch::Tensor> &leaves, torch::Tensor ref) {
    ASSERT_TRUE(library);
    std::vector<torch::Tensor> callArgs = args;
    torch::Tensor dy;
    if (ref.dim() > 0) {
      dy = torch::randn(ref.sizes(), torch::kFloat64).to(dtype());
      callArgs.push_back(dy);
      ref.backward(dy.to(torch::kFloat64));
    } else {
      ref.backward();
    }
    std::vector<torch::Tensor> out = call(*library, fn + "_grad", callArgs);
    ASSERT_EQ(out.size(), 1 + leaves.size()) << fn;
    double err = relativeError(out[0], ref.detach());
    EXPECT_LT(err, tolerance()) << fn << ": output's relative error " << err;
    for (size_t i = 0; i < leaves.size(); ++i) {
      ASSERT_TRUE(leaves[i].grad().defined()) << fn << " leaf " << i;
      double gerr = relativeError(out[1 + i], leaves[i].grad());
      EXPECT_LT(gerr, tolerance())
          << fn << ": gradient " << i << "'s relative error " << gerr;
    }
  }

protected:
  torch::ScalarType dtype() const {
    return precision == Precision::BF16 ? torch::kBFloat16 : torch::kFloat32;
  }
  /// Relative errors: f32's, and bf16's (inputs, outputs and gradients
  /// stored in bf16, 2^-8 apart).
  double tolerance() const {
    return precision == Precision::BF16 ? 3e-2 : 1e-4;
  }

  Precision precision = Precision::F32;
  attn::rt::Library *library = nullptr;
};

/// f_grad checks of `*Module` in f32 and in bf16 (inBf16), compiled as
/// `Name` and `Name`_bf16 with `Flags`.
template <const char *Name, const char *const *Module, const char *Flags>
class PrecisionSuite : public GradientCheck,
                       public ::testing::WithParamInterface<Precision> {
public:
  static void SetUpTestSuite() {
    f32Library = compileForTarget(Name, *Module, Flags);
    bf16Library =
        compileForTarget(std::string(Name) + "_bf16", inBf16(*Module), Flags);
  }
  static void TearDownTestSuite() {
    f32Library.reset();
    bf16Library.reset();
  }
  void SetUp() override {
    GradientCheck::SetUp();
    precision = GetParam();
    library = (precision == Precision::BF16 ? bf16Library : f32Library).get();
  }
  static std::unique_ptr<attn::rt::Library> f32Library, bf16Library;
};
template <const char *Name, const char *const *Module, const char *Flags>
std::unique_ptr<attn::rt::Library>
    PrecisionSuite<Name, Module, Flags>::f32Library;
template <const char *Name, const char *const *Module, const char *Flags>
std::unique_ptr<attn::rt::Library>
    PrecisionSuite<Name, Module, Flags>::bf16Library;

constexpr char kGradientName[] = "gradient_reference",
               kBackward[] = "--backward";
/// Every op in f32 and in bf16.
using Gradients = PrecisionSuite<kGradientName, &kGradientModule, kBackward>;
INSTANTIATE_TEST_SUITE_P(Precisions, Gradients,
                         ::testing::Values(Precision::F32, Precision::BF16),
                         precisionName);

/// The ops that compute in f32 only, compiled as `Name` with `Flags`.
template <const char *Name, const char *Flags>
class F32Suite : public GradientCheck {
public:
  static void SetUpTestSuite() {
    f32Library = compileForTarget(Name, kF32GradientModule, Flags);
  }
  static void TearDownTestSuite() { f32Library.reset(); }
  void SetUp() override {
    GradientCheck::SetUp();
    library = f32Library.get();
  }
  static std::unique_ptr<attn::rt::Library> f32Library;
};
template <const char *Name, const char *Flags>
std::unique_ptr<attn::rt::Library> F32Suite<Name, Flags>::f32Library;

constexpr char kF32Name[] = "gradient_reference_f32";
using F32Gradients = F32Suite<kF32Name, kBackward>;

TEST_P(Gradients, Embedding) {
  torch::Tensor ids = torch::randint(0, V, {B, N}).to(torch::kInt32);
  torch::Tensor t = leaf(torch::randn({V, D}));
  check("embedding", {ids, inputs({t})[0]}, {t},
        t.index({ids.to(torch::kLong)}));
}

TEST_P(Gradients, AddPositionsLeavesUnusedPositionsAtZero) {
  torch::Tensor x = leaf(torch::randn({B, N, D}));
  torch::Tensor t = leaf(torch::randn({64, D}));
  check("add_positions", inputs({x, t}), {x, t}, x + t.index({Slice(0, N)}));
}

TEST_P(Gradients, LayerNorm) {
  torch::Tensor x = leaf(3 * torch::randn({B, N, D}) + 1);
  torch::Tensor g = leaf(torch::randn({D})), b = leaf(torch::randn({D}));
  check("layer_norm", inputs({x, g, b}), {x, g, b},
        ref::layerNorm(x, g, b, 1e-5));
}

/// Statistics over the real tokens only (the second entry's padding is
/// left out), zeros at the padding: its gradient reaches no padded input.
TEST_P(Gradients, BatchNormOverRealTokens) {
  torch::Tensor x = leaf(3 * torch::randn({B, N, D}) + 1);
  torch::Tensor g = leaf(torch::randn({D})), b = leaf(torch::randn({D}));
  std::vector<torch::Tensor> args = inputs({x, g, b});
  args.push_back(lengthsTensor());
  check("batch_norm", args, {x, g, b},
        ref::batchNorm(x, g, b, lengthsTensor(), 1e-5));
}

TEST_P(Gradients, Project) {
  torch::Tensor x = leaf(torch::randn({3, 45, 70}));
  torch::Tensor w = leaf(torch::randn({70, 130})),
                b = leaf(torch::randn({130}));
  check("project", inputs({x, w, b}), {x, w, b}, ref::project(x, w, b));
}

// The weight's gradient sums over 4000 tokens into 2 x 2 tiles of 64: on
// the GPU its product splits K into 8 ranges (the last running past K).
TEST_P(Gradients, ProjectOverManyTokens) {
  torch::Tensor x = leaf(torch::randn({4, 1000, 70}));
  torch::Tensor w = leaf(torch::randn({70, 96})), b = leaf(torch::randn({96}));
  check("project_many_tokens", inputs({x, w, b}), {x, w, b},
        ref::project(x, w, b));
}

TEST_P(Gradients, ProjectWithoutBias) {
  torch::Tensor x = leaf(torch::randn({7, D})), w = leaf(torch::randn({D, 10}));
  check("project_no_bias", inputs({x, w}), {x, w}, ref::project(x, w));
}

TEST_P(Gradients, Gelu) {
  torch::Tensor x = leaf(3 * torch::randn({B, N, D}));
  check("gelu", inputs({x}), {x}, ref::gelu(x));
}

/// GELU and its slope (the gradient for a cotangent of 1) at every bf16
/// value x with 2^-6 <= |x| <= 10, against float64 by erfc (0.5 (1 + erf)
/// loses the left tail even in float64), element by element: in bf16
/// within one unit in the last place (2^-7 of the value: the f32
/// evaluation's own error, 1e-5 of it, is below bf16's rounding); in f32
/// within 1e-5 of the value and 1e-7 of the largest (the slope crosses
/// zero near x = -0.75, where its two terms cancel).
TEST_P(Gradients, GeluAtEveryBf16Point) {
  std::vector<float> points;
  for (uint32_t bits = 0; bits < 0x8000; ++bits) {
    uint32_t word = bits << 16;
    float v;
    std::memcpy(&v, &word, sizeof v);
    if (v >= 1.0f / 64 && v <= 10.0f) {
      points.push_back(v);
      points.push_back(-v);
    }
  }
  ASSERT_LE(points.size(), static_cast<size_t>(B * N * D));
  while (points.size() < static_cast<size_t>(B * N * D))
    points.push_back(points[points.size() % 97]);
  torch::Tensor x =
      leaf(torch::from_blob(points.data(), {B, N, D}, torch::kFloat32).clone());
  torch::Tensor x64 = x.detach();
  torch::Tensor cdf = 0.5 * torch::erfc(-x64 / std::sqrt(2.0));
  torch::Tensor pdf = torch::exp(-0.5 * x64 * x64) / std::sqrt(2 * M_PI);
  std::vector<torch::Tensor> args = inputs({x});
  args.push_back(torch::ones({B, N, D}, dtype()));
  std::vector<torch::Tensor> out = call(*library, "gelu_grad", args);
  ASSERT_EQ(out.size(), 2u);
  torch::Tensor at = x64.flatten();
  for (auto [got, want, what] :
       {std::tuple{out[0], x64 * cdf, "gelu"},
        std::tuple{out[1], cdf + x64 * pdf, "slope"}}) {
    torch::Tensor w = want.flatten();
    torch::Tensor err = (got.to(torch::kFloat64).flatten() - w).abs();
    torch::Tensor bound =
        precision == Precision::BF16
            ? std::pow(2.0, -7) * w.abs()
            : 1e-5 * w.abs() + 1e-7 * w.abs().max().item<double>();
    torch::Tensor over = (err > bound).nonzero().flatten();
    EXPECT_EQ(over.size(0), 0)
        << what << ": " << over.size(0)
        << " points out of bounds, the first at x = "
        << (over.size(0) ? at[over[0]].item<double>() : 0.0)
        << "; the largest error " << (err / bound).max().item<double>()
        << " of the bound";
  }
}

TEST_P(Gradients, GeluApproximate) {
  torch::Tensor x = leaf(3 * torch::randn({B, N, D}));
  check("gelu_approximate", inputs({x}), {x}, ref::gelu(x, true));
}

TEST_P(Gradients, DropoutRegeneratesItsMask) {
  torch::Tensor x = leaf(torch::randn({B, N, D}));
  int64_t seed = static_cast<int64_t>(freshSeed() >> 1);
  torch::Tensor keep = torch::zeros({B, N, D}, torch::kFloat64);
  auto acc = keep.accessor<double, 3>();
  for (int64_t i = 0; i < B * N * D; ++i)
    acc[i / (N * D)][(i / D) % N][i % D] =
        ::attn::dropoutKeep(seed, 7, i, 0.25);
  std::vector<torch::Tensor> args = inputs({x});
  args.push_back(torch::tensor({seed}));
  check("dropout", args, {x}, x * keep / 0.75);
}

TEST_P(Gradients, Pool) {
  torch::Tensor x = leaf(torch::randn({B, N, D}));
  check("pool_cls", inputs({x}), {x}, x.index({Slice(), 0}));
}

TEST_P(Gradients, PoolMeanOverLengths) {
  torch::Tensor x = leaf(torch::randn({B, N, D}));
  torch::Tensor mean =
      torch::stack({x[0].index({Slice(0, kLengths[0])}).mean(0),
                    x[1].index({Slice(0, kLengths[1])}).mean(0)});
  std::vector<torch::Tensor> args = inputs({x});
  args.push_back(lengthsTensor());
  check("pool_mean", args, {x}, mean);
}

TEST_P(Gradients, CrossEntropyIgnoresNegativeLabels) {
  torch::Tensor x = leaf(2 * torch::randn({5, 10}));
  torch::Tensor l = torch::tensor({3, 0, -1, 9, 5}).to(torch::kInt32);
  std::vector<torch::Tensor> args = inputs({x});
  args.push_back(l);
  check("cross_entropy", args, {x}, ref::crossEntropy(x, l));
}

/// Non-causal linear attention with key padding (keys at or past a batch
/// entry's length are left out), its float64 reference.
torch::Tensor linearReference(const std::string &map, const torch::Tensor &q,
                              const torch::Tensor &k, const torch::Tensor &v,
                              bool padded, int64_t features = 0,
                              int64_t seed = 0) {
  int64_t n = q.size(2);
  torch::Tensor keep =
      ref::denseMask(q.size(0), n, [&](int64_t b, int64_t, int64_t key) {
        return !padded || key < kLengths[b];
      });
  return ref::linearAttention(ref::featureMap(map, q, features, seed),
                              ref::featureMap(map, k, features, seed), v, keep);
}

/// Causal linear attention (key j seen by queries i >= j) with key padding
/// to `lengths`, its float64 reference.
torch::Tensor causalLinearReference(const std::string &map,
                                    const torch::Tensor &q,
                                    const torch::Tensor &k,
                                    const torch::Tensor &v,
                                    const std::vector<int64_t> &lengths,
                                    int64_t features = 0, int64_t seed = 0) {
  torch::Tensor keep = ref::denseMask(
      q.size(0), q.size(2), [&](int64_t b, int64_t query, int64_t key) {
        return key <= query && key < lengths[b];
      });
  return ref::linearAttention(ref::featureMap(map, q, features, seed),
                              ref::featureMap(map, k, features, seed), v, keep);
}

// 150 positions: two whole chunks of the backward's 64 and a part, so that
// pairs across chunks go through the chunk states and the padding of the
// last chunk is cut off; the second batch entry's keys end at 97.
TEST_P(Gradients, CausalLinearAttentionAcrossChunksWithKeyPadding) {
  torch::Tensor q = leaf(torch::randn({B, 2, 150, 16})),
                k = leaf(torch::randn({B, 2, 150, 16})),
                v = leaf(torch::randn({B, 2, 150, 16}));
  std::vector<torch::Tensor> args = inputs({q, k, v});
  std::vector<int64_t> lengths{150, 97};
  args.push_back(torch::tensor(lengths).to(torch::kInt32));
  check("linear_causal_elu", args, {q, k, v},
        causalLinearReference("elu_plus_one", q, k, v, lengths));
}

// Fewer positions than a chunk: one block.
TEST_P(Gradients, CausalLinearAttentionInOneChunk) {
  torch::Tensor q = leaf(torch::randn({B, 2, N, 16})),
                k = leaf(torch::randn({B, 2, N, 16})),
                v = leaf(torch::randn({B, 2, N, 16}));
  check("linear_causal_short", inputs({q, k, v}), {q, k, v},
        causalLinearReference("elu_plus_one", q, k, v, {N, N}));
}

TEST_P(Gradients, LinearAttentionEluPlusOneWithKeyPadding) {
  torch::Tensor q = leaf(torch::randn({B, 2, N, 16})),
                k = leaf(torch::randn({B, 2, N, 16})),
                v = leaf(torch::randn({B, 2, N, 16}));
  std::vector<torch::Tensor> args = inputs({q, k, v});
  args.push_back(lengthsTensor());
  check("linear_elu", args, {q, k, v},
        linearReference("elu_plus_one", q, k, v, true));
}

TEST_P(Gradients, LinearAttentionRelu) {
  // Positive-leaning inputs keep the normaliser away from zero.
  torch::Tensor q = leaf(torch::randn({B, 2, N, 16}) + 1),
                k = leaf(torch::randn({B, 2, N, 16}) + 1),
                v = leaf(torch::randn({B, 2, N, 16}));
  check("linear_relu", inputs({q, k, v}), {q, k, v},
        linearReference("relu", q, k, v, false));
}

TEST_F(F32Gradients, CausalLinearAttentionFavorWithKeyPadding) {
  torch::Tensor q = leaf(torch::randn({B, 2, 130, 16}) * 0.5),
                k = leaf(torch::randn({B, 2, 130, 16}) * 0.5),
                v = leaf(torch::randn({B, 2, 130, 16}));
  std::vector<torch::Tensor> args = inputs({q, k, v});
  std::vector<int64_t> lengths{130, 70};
  args.push_back(torch::tensor(lengths).to(torch::kInt32));
  check("linear_causal_favor", args, {q, k, v},
        causalLinearReference("favor", q, k, v, lengths, 32, 7));
}

TEST_F(F32Gradients, LinearAttentionFavorWithKeyPadding) {
  torch::Tensor q = leaf(torch::randn({B, 2, N, 16}) * 0.5),
                k = leaf(torch::randn({B, 2, N, 16}) * 0.5),
                v = leaf(torch::randn({B, 2, N, 16}));
  std::vector<torch::Tensor> args = inputs({q, k, v});
  args.push_back(lengthsTensor());
  check("linear_favor", args, {q, k, v},
        linearReference("favor", q, k, v, true, 32, 7));
}

TEST_P(Gradients, ElementwiseGenericWithBroadcasts) {
  torch::Tensor x = leaf(torch::randn({B, N, D}));
  torch::Tensor d = leaf(torch::randn({D}));
  torch::Tensor z = leaf(0.5 * torch::randn({N, D}));
  torch::Tensor s = d * x - torch::exp(z) / (1 + d * d);
  check("elementwise_generic", inputs({x, d, z}), {x, d, z},
        torch::where(x > 0, s, -x));
}

/// S4D with padding: every parameter and the input, as autograd through
/// the convolution form.
void checkSsmGradient(GradientCheck &t, const std::string &fn,
                      bool bidirectional, int64_t S = 8) {
  const int64_t H = 12;
  torch::Tensor n = torch::arange(S, torch::kFloat32).expand({H, S});
  std::vector<int64_t> cShape =
      bidirectional ? std::vector<int64_t>{2, H, S} : std::vector<int64_t>{H, S};
  std::vector<torch::Tensor> p{
      leaf(torch::randn({B, N, H})),
      leaf(std::log(0.5) + 0.1 * torch::randn({H, S})),
      leaf(M_PI * n + 0.1 * torch::randn({H, S})),
      leaf(1 + 0.1 * torch::randn({H, S})),
      leaf(0.1 * torch::randn({H, S})),
      leaf(torch::randn(cShape)),
      leaf(torch::randn(cShape)),
      leaf(std::log(1e-2) + torch::rand({H}) * (std::log(1.0) - std::log(1e-2))),
  };
  std::vector<torch::Tensor> args = t.inputs(p);
  args.push_back(lengthsTensor());
  ref::SsmParams params{p[1], p[2], p[3], p[4], p[5], p[6], p[7]};
  t.check(fn, args, p, ref::ssm(p[0], params, bidirectional, kLengths));
}

TEST_F(F32Gradients, SsmCausalWithPadding) {
  checkSsmGradient(*this, "ssm_causal", false);
}

TEST_F(F32Gradients, SsmBidirectionalWithPadding) {
  checkSsmGradient(*this, "ssm_bidirectional", true);
}

/// 50 modes: on the GPU the scan gives a channel 4 lanes of 13 modes (two
/// slots empty) in groups of 8 channels (the second group 4), the adjoint
/// 8 lanes of 7 (six empty) in passes of 4 channels.
TEST_F(F32Gradients, SsmBidirectionalWith50Modes) {
  checkSsmGradient(*this, "ssm_bidirectional_50_modes", true, 50);
}

/// The scans in chunks whose states are carried (the GPU form's way on
/// short batches), here with chunks of 7 rows that do not divide the
/// lengths.
constexpr char kChunkedName[] = "gradient_reference_chunked",
               kChunked[] = "--backward --ssm-chunk=7";
using ChunkedSsmGradients = F32Suite<kChunkedName, kChunked>;

TEST_F(ChunkedSsmGradients, Causal) {
  checkSsmGradient(*this, "ssm_causal", false);
}

TEST_F(ChunkedSsmGradients, Bidirectional) {
  checkSsmGradient(*this, "ssm_bidirectional", true);
}

TEST_P(Gradients, CotangentsThatMeetAreAdded) {
  torch::Tensor x = leaf(torch::randn({B, N, D}));
  check("shared_operand", inputs({x}), {x}, ref::gelu(x) + x);
}

//===----------------------------------------------------------------------===//
// The host products' opt-in forms
//===----------------------------------------------------------------------===//

/// A feed-forward block over 600 tokens (width 128, 256 inside), compiled
/// for a target of one multiprocessor with both of the host products'
/// opt-in forms (docs/lowering.md, "The host's products and sums"). In
/// bf16 on sm_90a two 128 x 128 tiles fill that target, so the products
/// take warpgroup tiles, and those of 5 to 10 tiles the persistent form,
/// whose one block walks every tile (partial ones at M = 600); the first
/// bias's gradient is summed in the epilogue of the GELU derivative's
/// product. (f32 products are 3xTF32, in neither form; on the CPU the
/// flags are left unused.)
const char *kProductFormsModule = R"mlir(
func.func @ffn(%x: tensor<2x300x128xf32> {attn.param = "x"}, %w1: tensor<128x256xf32> {attn.param = "w1"}, %b1: tensor<256xf32> {attn.param = "b1"}, %w2: tensor<256x128xf32> {attn.param = "w2"}, %b2: tensor<128xf32> {attn.param = "b2"}) -> tensor<2x300x128xf32> {
  %h = attn.project %x, %w1, %b1 : tensor<2x300x128xf32>, tensor<128x256xf32>, tensor<256xf32> -> tensor<2x300x256xf32>
  %g = attn.gelu %h : tensor<2x300x256xf32>
  %y = attn.project %g, %w2, %b2 : tensor<2x300x256xf32>, tensor<256x128xf32>, tensor<128xf32> -> tensor<2x300x128xf32>
  return %y : tensor<2x300x128xf32>
}
)mlir";
constexpr char kProductFormsName[] = "product_forms",
               kProductFormsFlags[] =
                   "--backward --multiprocessors=1 --persistent-products "
                   "--product-column-sums";
using ProductForms =
    PrecisionSuite<kProductFormsName, &kProductFormsModule, kProductFormsFlags>;
INSTANTIATE_TEST_SUITE_P(Precisions, ProductForms,
                         ::testing::Values(Precision::F32, Precision::BF16),
                         precisionName);

TEST_P(ProductForms, FeedForwardBlock) {
  torch::Tensor x = leaf(torch::randn({2, 300, 128}));
  torch::Tensor w1 = leaf(torch::randn({128, 256}) / std::sqrt(128.0)),
                b1 = leaf(torch::randn({256})),
                w2 = leaf(torch::randn({256, 128}) / std::sqrt(256.0)),
                b2 = leaf(torch::randn({128}));
  check("ffn", inputs({x, w1, b1, w2, b2}), {x, w1, b1, w2, b2},
        ref::project(ref::gelu(ref::project(x, w1, b1)), w2, b2));
}

//===----------------------------------------------------------------------===//
// A whole model
//===----------------------------------------------------------------------===//

struct ModelParams {
  std::vector<torch::Tensor> leaves; // float64, in the function's order
};

ModelParams modelParams() {
  std::vector<std::vector<int64_t>> shapes{
      {V, D}, {64, D}, {D}, {D}, {D, 48}, {48}, {48, D}, {D}, {D, 10}, {10}};
  ModelParams p;
  for (auto &shape : shapes)
    p.leaves.push_back(leaf(torch::randn(shape) * 0.5));
  return p;
}

/// The model in float64 with the same dropout mask.
torch::Tensor modelLoss(const std::vector<torch::Tensor> &p,
                        const torch::Tensor &ids, const torch::Tensor &labels,
                        int64_t seed) {
  torch::Tensor x =
      p[0].index({ids.to(torch::kLong)}) + p[1].index({Slice(0, N)});
  x = ref::layerNorm(x, p[2], p[3], 1e-5);
  torch::Tensor keep = torch::zeros({B, N, D}, torch::kFloat64);
  auto acc = keep.accessor<double, 3>();
  for (int64_t i = 0; i < B * N * D; ++i)
    acc[i / (N * D)][(i / D) % N][i % D] = ::attn::dropoutKeep(seed, 0, i, 0.1);
  x = x * keep / 0.9;
  torch::Tensor r =
      x + ref::project(ref::gelu(ref::project(x, p[4], p[5])), p[6], p[7]);
  torch::Tensor pooled =
      torch::stack({r[0].index({Slice(0, kLengths[0])}).mean(0),
                    r[1].index({Slice(0, kLengths[1])}).mean(0)});
  return ref::crossEntropy(ref::project(pooled, p[8], p[9]), labels);
}

class ModelGradients : public SeededTest {
public:
  static void SetUpTestSuite() {
    library = compileForTarget("gradient_model", kModelModule, "--backward");
  }
  static void TearDownTestSuite() { library.reset(); }
  static std::unique_ptr<attn::rt::Library> library;

  void SetUp() override {
    SeededTest::SetUp();
    if (IsSkipped() || HasFatalFailure())
      return;
    ids = torch::randint(0, V, {B, N}).to(torch::kInt32);
    labels = torch::randint(0, 10, {B}).to(torch::kInt32);
    dropoutSeed = static_cast<int64_t>(freshSeed() >> 1);
    params = modelParams();
  }
  std::vector<torch::Tensor> args(const std::vector<torch::Tensor> &p) {
    std::vector<torch::Tensor> a{ids, lengthsTensor(), labels,
                                 torch::tensor({dropoutSeed})};
    for (const torch::Tensor &t : f32(p))
      a.push_back(t);
    return a;
  }

  torch::Tensor ids, labels;
  int64_t dropoutSeed = 0;
  ModelParams params;
};
std::unique_ptr<attn::rt::Library> ModelGradients::library;

TEST_F(ModelGradients, MatchAutograd) {
  ASSERT_TRUE(library);
  torch::Tensor loss = modelLoss(params.leaves, ids, labels, dropoutSeed);
  loss.backward();
  std::vector<torch::Tensor> out =
      call(*library, "model_grad", args(params.leaves));
  ASSERT_EQ(out.size(), 2 + params.leaves.size());
  // The loss is logsumexp(logits) - logits[label]: where the model is
  // confidently right, a small difference of numbers of the logits' size,
  // which f32 rounds on that size. So the error is measured on it.
  double lossScale =
      std::max(loss.abs().item<double>(), out[1].abs().max().item<double>());
  EXPECT_LT(std::abs(out[0].item<double>() - loss.item<double>()),
            1e-5 * lossScale)
      << "loss " << out[0].item<double>() << ", reference "
      << loss.item<double>();
  for (size_t i = 0; i < params.leaves.size(); ++i) {
    double err = relativeError(out[2 + i], params.leaves[i].grad());
    EXPECT_LT(err, 1e-4) << "parameter " << i << ": relative error " << err;
  }
}

TEST_F(ModelGradients, MatchFiniteDifferencesOfTheForward) {
  ASSERT_TRUE(library);
  std::vector<torch::Tensor> out =
      call(*library, "model_grad", args(params.leaves));
  // The compiled forward's loss, differentiated numerically.
  std::vector<torch::Tensor> point;
  for (const torch::Tensor &leaf : params.leaves)
    point.push_back(leaf.detach());
  const std::vector<torch::Tensor> gradient(out.begin() + 2, out.end());
  expectMatchesFiniteDifferences(
      point, gradient,
      [&](const std::vector<torch::Tensor> &p) {
        return call(*library, "model", args(p))[0].item<double>();
      },
      "model");
}

//===----------------------------------------------------------------------===//
// Whole layers (attn-expand-layers: projections, heads split and merged,
// the attention under its mask and key padding, residuals, norms, the FFN)
// against finite differences of their compiled forward
//===----------------------------------------------------------------------===//

constexpr int64_t FF = 64, S = 8;

/// A layer parameter: its shape and how a plausible value is drawn.
struct LayerParam {
  enum Kind { Weight, Scale, LogAReal, AImag, LogDt } kind;
  std::vector<int64_t> shape;

  torch::Tensor draw() const {
    torch::Tensor t = torch::randn(shape, torch::kFloat64);
    switch (kind) {
    case Weight:
      return shape.size() == 2 ? t / std::sqrt(double(shape[0])) : t;
    case Scale:
      return 1 + 0.1 * t;
    case LogAReal:
      return std::log(0.5) + 0.1 * t;
    case AImag:
      return M_PI * torch::arange(S, torch::kFloat64).expand(shape) + 0.1 * t;
    case LogDt:
      return std::log(1e-2) + 0.5 * t;
    }
    return t;
  }
};
using P = LayerParam;

const std::vector<LayerParam> kAttentionParams{
    {P::Weight, {D, D}}, {P::Scale, {D}},      {P::Weight, {D, D}},
    {P::Scale, {D}},     {P::Weight, {D, D}},  {P::Scale, {D}},
    {P::Weight, {D, D}}, {P::Scale, {D}}};
const std::vector<LayerParam> kSsmParams{
    {P::LogAReal, {D, S}},  {P::AImag, {D, S}},     {P::Scale, {D, S}},
    {P::Weight, {D, S}},    {P::Weight, {2, D, S}}, {P::Weight, {2, D, S}},
    {P::LogDt, {D}},        {P::Scale, {D}}};
const std::vector<LayerParam> kNormParams{{P::Scale, {D}}, {P::Scale, {D}}};
const std::vector<LayerParam> kNormFfnParams{
    {P::Scale, {D}},      {P::Scale, {D}},  {P::Weight, {D, FF}},
    {P::Scale, {FF}},     {P::Weight, {FF, D}}, {P::Scale, {D}},
    {P::Scale, {D}},      {P::Scale, {D}}};

std::vector<LayerParam> concat(std::vector<std::vector<LayerParam>> parts) {
  std::vector<LayerParam> all;
  for (const auto &p : parts)
    all.insert(all.end(), p.begin(), p.end());
  return all;
}

struct LayerCase {
  std::string name, op, attrs;
  std::vector<LayerParam> params;
  /// `norm = batch`: its running statistics ([D] f32: mean, variance,
  /// ...), inputs that it returns updated after its output.
  size_t buffers = 0;
};

/// The buffers' part of a layer function: arguments, operands, types, and
/// the op's results as returned.
struct BufferText {
  std::string args, operands, types, results, resultTypes;
  BufferText(const LayerCase &c, const std::string &op) {
    std::string t = tensorType({D});
    for (size_t i = 0; i < c.buffers; ++i) {
      std::string n = std::to_string(i);
      args += ", %r" + n + ": " + t;
      operands += (i ? ", %r" : "%r") + n;
      types += (i ? ", " : "") + t;
      results += ", " + op + "#" + std::to_string(i + 1);
      resultTypes += ", " + t;
    }
    if (c.buffers) {
      operands = " buffers(" + operands + ")";
      types = " buffers(" + types + ") -> " + types;
    }
  }
  /// The op's results' name: "%y" or "%y:<count>".
  static std::string lhs(const LayerCase &c, const std::string &op) {
    return c.buffers ? op + ":" + std::to_string(1 + c.buffers) : op;
  }
  static std::string first(const LayerCase &c, const std::string &op) {
    return c.buffers ? op + "#0" : op;
  }
};

const std::vector<LayerCase> &layerCases() {
  static const std::vector<LayerCase> cases{
      {"linear", "linear", "{heads = 2}",
       concat({kAttentionParams, kNormFfnParams})},
      {"linear_causal", "linear", "{heads = 2, causal}",
       concat({kAttentionParams, kNormFfnParams})},
      {"bigbird", "bigbird",
       "{heads = 2, block = 16, window = 1, global = 1, random = 1, "
       "seed_blocks = 3}",
       concat({kAttentionParams, kNormFfnParams})},
      {"ssm", "ssm", "{bidirectional}",
       concat({kSsmParams,
               {{P::Weight, {D, D}}, {P::Scale, {D}}},
               kNormFfnParams})},
      {"ssm_prenorm", "ssm", "{bidirectional, prenorm}",
       concat({kSsmParams,
               {{P::Weight, {D, D}}, {P::Scale, {D}}},
               kNormFfnParams})},
      // S4's block: a gated output map, no feed-forward sublayer.
      {"ssm_glu", "ssm", "{bidirectional, glu, feed_forward = false}",
       concat({kSsmParams,
               {{P::Weight, {D, D}},
                {P::Scale, {D}},
                {P::Weight, {D, D}},
                {P::Scale, {D}}},
               kNormParams})},
      // ... with S4's batch norm: the batch's statistics over the real
      // tokens, its running mean and variance returned updated.
      {"ssm_glu_batch_norm", "ssm",
       "{bidirectional, glu, feed_forward = false, "
       "norm = #attn<norm_kind batch>}",
       concat({kSsmParams,
               {{P::Weight, {D, D}},
                {P::Scale, {D}},
                {P::Weight, {D, D}},
                {P::Scale, {D}}},
               kNormParams}),
       2},
      {"spade", "spade",
       "{heads = 2, local = #attn<local_kind chunk>, local_size = 16, "
       "bidirectional}",
       concat({kSsmParams,
               kAttentionParams,
               {{P::Weight, {2 * D, D}}, {P::Scale, {D}}},
               kNormFfnParams})},
  };
  return cases;
}

/// func.func @<name>(%x, %len, params..., buffers...) applying
/// attn.layer.<op>: its output, then its buffers updated.
std::string layerFunction(const LayerCase &c) {
  std::string x = tensorType({B, N, D});
  std::string f = "func.func @" + c.name + "(%x: " + x +
                  " {attn.param = \"x\"}, %len: tensor<2xi32>";
  std::string names, types;
  for (size_t i = 0; i < c.params.size(); ++i) {
    std::string t = tensorType(c.params[i].shape);
    f += ", %p" + std::to_string(i) + ": " + t + " {attn.param = \"p" +
         std::to_string(i) + "\"}";
    names += (i ? ", %p" : "%p") + std::to_string(i);
    types += (i ? ", " : "") + t;
  }
  BufferText buf(c, "%y");
  return f + buf.args + ") -> (" + x + buf.resultTypes + ") {\n  " +
         BufferText::lhs(c, "%y") + " = attn.layer." + c.op +
         " %x lengths %len params(" + names + ")" + buf.operands + " " +
         c.attrs + " : " + x + ", lengths tensor<2xi32>, params(" + types +
         ")" + buf.types + "\n  return " + BufferText::first(c, "%y") +
         buf.results + " : " + x + buf.resultTypes + "\n}\n";
}

/// layerFunction's mixed-precision twin, @<name>_bf16: its f32 arguments
/// cast to bf16, the layer in bf16, the output cast back to f32.
std::string mixedLayerFunction(const LayerCase &c) {
  std::string x = tensorType({B, N, D}), x16 = tensorType({B, N, D}, "bf16");
  std::string f = "func.func @" + c.name + "_bf16(%x: " + x +
                  " {attn.param = \"x\"}, %len: tensor<2xi32>";
  std::string casts = "  %x16 = attn.cast %x : " + x + " to " + x16 + "\n";
  std::string names, types;
  for (size_t i = 0; i < c.params.size(); ++i) {
    std::string n = std::to_string(i);
    std::string t = tensorType(c.params[i].shape),
                t16 = tensorType(c.params[i].shape, "bf16");
    f += ", %p" + n + ": " + t + " {attn.param = \"p" + n + "\"}";
    casts +=
        "  %h" + n + " = attn.cast %p" + n + " : " + t + " to " + t16 + "\n";
    names += (i ? ", %h" : "%h") + n;
    types += (i ? ", " : "") + t16;
  }
  BufferText buf(c, "%y16");
  return f + buf.args + ") -> (" + x + buf.resultTypes + ") {\n" + casts +
         "  " + BufferText::lhs(c, "%y16") + " = attn.layer." + c.op +
         " %x16 lengths %len params(" + names + ")" + buf.operands + " " +
         c.attrs + " : " + x16 + ", lengths tensor<2xi32>, params(" + types +
         ")" + buf.types + "\n  %y = attn.cast " +
         BufferText::first(c, "%y16") + " : " + x16 + " to " + x +
         "\n  return %y" + buf.results + " : " + x + buf.resultTypes + "\n}\n";
}

std::string layerModule() {
  std::string module;
  for (const LayerCase &c : layerCases())
    module += layerFunction(c) + mixedLayerFunction(c);
  return module;
}

class LayerGradients : public SeededTest {
public:
  static void SetUpTestSuite() {
    library = compileForTarget("gradient_layers", layerModule(), "--backward");
  }
  static void TearDownTestSuite() { library.reset(); }
  static std::unique_ptr<attn::rt::Library> library;

  static const LayerCase &caseNamed(const std::string &layer) {
    auto it = std::find_if(layerCases().begin(), layerCases().end(),
                           [&](const LayerCase &c) { return c.name == layer; });
    if (it == layerCases().end())
      throw std::runtime_error("no layer case " + layer);
    return *it;
  }
  /// theta: the input and every parameter of `layer`, of plausible scale.
  static std::vector<torch::Tensor> drawTheta(const std::string &layer) {
    std::vector<torch::Tensor> theta{torch::randn({B, N, D}, torch::kFloat64)};
    for (const LayerParam &p : caseNamed(layer).params)
      theta.push_back(p.draw());
    return theta;
  }
  /// A layer function's arguments: x, the lengths, the parameters (f32),
  /// then its buffers as a fresh model's (running means 0, variances 1).
  static std::vector<torch::Tensor>
  args(const std::vector<torch::Tensor> &values, const std::string &layer) {
    std::vector<torch::Tensor> a = f32({values[0]});
    a.push_back(lengthsTensor());
    for (size_t i = 1; i < values.size(); ++i)
      a.push_back(values[i].to(torch::kFloat32));
    for (size_t i = 0; i < caseNamed(layer).buffers; ++i)
      a.push_back(i % 2 ? torch::ones({D}) : torch::zeros({D}));
    return a;
  }

  /// <dy, layer(theta)>: the derivative of the compiled forward
  /// (expectMatchesFiniteDifferences) against layer_grad's gradient.
  void checkAgainstFiniteDifferences(const std::string &layer) {
    ASSERT_TRUE(library);
    std::vector<torch::Tensor> theta = drawTheta(layer);
    torch::Tensor dy = torch::randn({B, N, D}, torch::kFloat64);
    std::vector<torch::Tensor> gradArgs = args(theta, layer);
    gradArgs.push_back(dy.to(torch::kFloat32));
    std::vector<torch::Tensor> grads =
        call(*library, layer + "_grad", gradArgs);
    // The output, the updated buffers, then the gradients.
    size_t first = 1 + caseNamed(layer).buffers;
    ASSERT_EQ(grads.size(), first + theta.size());
    const std::vector<torch::Tensor> gradient(grads.begin() + first,
                                              grads.end());
    expectMatchesFiniteDifferences(
        theta, gradient,
        [&](const std::vector<torch::Tensor> &point) {
          torch::Tensor y = call(*library, layer, args(point, layer))[0];
          return (y.to(torch::kFloat64) * dy).sum().item<double>();
        },
        layer);
  }

  /// The layer in bf16 on f32 masters (<layer>_bf16) against the layer in
  /// f32 (checked against finite differences above), on the same
  /// bf16-representable input, parameters and cotangent: the output and
  /// every gradient within bf16's tolerance.
  void checkBf16AgainstF32(const std::string &layer) {
    ASSERT_TRUE(library);
    std::vector<torch::Tensor> theta = drawTheta(layer);
    for (torch::Tensor &t : theta)
      t = t.to(torch::kBFloat16).to(torch::kFloat64);
    torch::Tensor dy = torch::randn({B, N, D}).to(torch::kBFloat16);
    std::vector<torch::Tensor> gradArgs = args(theta, layer);
    gradArgs.push_back(dy.to(torch::kFloat32));
    std::vector<torch::Tensor> f32Grads =
        call(*library, layer + "_grad", gradArgs);
    std::vector<torch::Tensor> bf16Grads =
        call(*library, layer + "_bf16_grad", gradArgs);
    // The output, the updated buffers (f32 statistics of the bf16 stream),
    // then the gradients.
    size_t buffers = caseNamed(layer).buffers;
    ASSERT_EQ(f32Grads.size(), 1 + buffers + theta.size());
    ASSERT_EQ(bf16Grads.size(), f32Grads.size());
    // The key bias's gradient vanishes (softmax ignores a shift shared by
    // all keys): what either precision gives is rounding noise. Errors are
    // taken relative to the gradient, or to a twentieth of the largest
    // one where it is smaller.
    double largest = 0;
    for (size_t i = 1 + buffers; i < f32Grads.size(); ++i)
      largest = std::max(largest,
                         f32Grads[i].to(torch::kFloat64).norm().item<double>());
    for (size_t i = 0; i < f32Grads.size(); ++i) {
      EXPECT_EQ(bf16Grads[i].scalar_type(), torch::kFloat32);
      torch::Tensor want = f32Grads[i].to(torch::kFloat64);
      double scale =
          std::max(want.norm().item<double>(), i ? 5e-2 * largest : 0.0);
      double err =
          (bf16Grads[i].to(torch::kFloat64) - want).norm().item<double>() /
          scale;
      std::string what = i == 0 ? "output"
                         : i <= buffers
                             ? "buffer " + std::to_string(i - 1)
                             : "gradient " + std::to_string(i - 1 - buffers);
      EXPECT_LT(err, 3e-2) << layer << ", " << what << ": relative error "
                           << err;
    }
  }
};
std::unique_ptr<attn::rt::Library> LayerGradients::library;

TEST_F(LayerGradients, LinearLayerMatchesFiniteDifferences) {
  checkAgainstFiniteDifferences("linear");
}

TEST_F(LayerGradients, CausalLinearLayerMatchesFiniteDifferences) {
  checkAgainstFiniteDifferences("linear_causal");
}

TEST_F(LayerGradients, SsmLayerMatchesFiniteDifferences) {
  checkAgainstFiniteDifferences("ssm");
}

TEST_F(LayerGradients, PreLnSsmLayerMatchesFiniteDifferences) {
  checkAgainstFiniteDifferences("ssm_prenorm");
}

TEST_F(LayerGradients, GatedSsmLayerWithoutFfnMatchesFiniteDifferences) {
  checkAgainstFiniteDifferences("ssm_glu");
}

TEST_F(LayerGradients, BatchNormSsmLayerMatchesFiniteDifferences) {
  checkAgainstFiniteDifferences("ssm_glu_batch_norm");
}

TEST_F(LayerGradients, BigBirdLayerMatchesFiniteDifferences) {
  checkAgainstFiniteDifferences("bigbird");
}

TEST_F(LayerGradients, SpadeLayerMatchesFiniteDifferences) {
  checkAgainstFiniteDifferences("spade");
}

TEST_F(LayerGradients, LinearLayerInBf16MatchesF32) {
  checkBf16AgainstF32("linear");
}

TEST_F(LayerGradients, SsmLayerInBf16MatchesF32) { checkBf16AgainstF32("ssm"); }

TEST_F(LayerGradients, GatedSsmLayerWithoutFfnInBf16MatchesF32) {
  checkBf16AgainstF32("ssm_glu");
}

TEST_F(LayerGradients, BatchNormSsmLayerInBf16MatchesF32) {
  checkBf16AgainstF32("ssm_glu_batch_norm");
}

TEST_F(LayerGradients, BigBirdLayerInBf16MatchesF32) {
  checkBf16AgainstF32("bigbird");
}

TEST_F(LayerGradients, SpadeLayerInBf16MatchesF32) {
  checkBf16AgainstF32("spade");
}

//===----------------------------------------------------------------------===//
// Training steps: forward, backward and AdamW in one compiled call
//===----------------------------------------------------------------------===//

constexpr double kPeak = 0.01, kWeightDecay = 0.1, kMaxNorm = 0.5;
constexpr int64_t kWarmup = 2, kTotal = 6;

/// lr_schedule's definition: linear warmup, then cosine to 0 at kTotal.
double scheduledLr(int64_t t) {
  if (t <= kWarmup)
    return kPeak * t / kWarmup;
  double p = std::min(1.0, double(t - kWarmup) / (kTotal - kWarmup));
  return kPeak * 0.5 * (1 + std::cos(M_PI * p));
}

const char *kTrainFlags =
    "--train --optimizer=\"lr=0.01 warmup=2 total-steps=6 decay=cosine "
    "weight-decay=0.1 max-grad-norm=0.5\"";

class TrainSteps : public ModelGradients {
public:
  static void SetUpTestSuite() {
    library = compileForTarget("train_step_model", kModelModule, kTrainFlags);
  }
  static void TearDownTestSuite() { library.reset(); }
  static std::unique_ptr<attn::rt::Library> library;
};
std::unique_ptr<attn::rt::Library> TrainSteps::library;

/// Five compiled training steps of `library` against torch's AdamW on the
/// same gradients.
void checkTrainSteps(ModelGradients &m, const attn::rt::Library &library) {
  ModelParams &params = m.params;
  const torch::Tensor &ids = m.ids, &labels = m.labels;
  const int64_t dropoutSeed = m.dropoutSeed;
  size_t numParams = params.leaves.size();
  // attn's state: parameters, moments (zeros), steps taken (0).
  std::vector<torch::Tensor> state = f32(params.leaves);
  for (int i = 0; i < 2; ++i)
    for (const torch::Tensor &p : params.leaves)
      state.push_back(torch::zeros(p.sizes(), torch::kFloat32));
  state.push_back(torch::zeros({}, torch::kInt64));

  // torch follows attn's trajectory: at every step its parameters are
  // attn's and its gradients attn's (model_grad's, checked against autograd
  // above), so that only the optimizer is compared -- clipping, the
  // schedule, AdamW's moments and bias corrections -- not f32 against
  // float64 training, which drift apart.
  // b1 (parameter 5) has its own weight decay (0) and rate (half).
  constexpr size_t kOwn = 5;
  constexpr double kOwnLrScale = 0.5;
  std::vector<torch::Tensor> common;
  for (size_t i = 0; i < numParams; ++i)
    if (i != kOwn)
      common.push_back(params.leaves[i]);
  auto options = [](double decay) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(kPeak)
            .betas({0.9, 0.999})
            .eps(1e-8)
            .weight_decay(decay));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(common, options(kWeightDecay));
  groups.emplace_back(std::vector<torch::Tensor>{params.leaves[kOwn]},
                      options(0.0));
  torch::optim::AdamW adamw(groups);
  std::vector<torch::Tensor> inputs{ids, lengthsTensor(), labels,
                                    torch::tensor({dropoutSeed})};
  for (int64_t t = 1; t <= 5; ++t) {
    std::vector<torch::Tensor> gradArgs = inputs;
    gradArgs.insert(gradArgs.end(), state.begin(), state.begin() + numParams);
    std::vector<torch::Tensor> grads = call(library, "model_grad", gradArgs);
    ASSERT_EQ(grads.size(), 2 + numParams);

    std::vector<torch::Tensor> stepArgs = inputs;
    stepArgs.insert(stepArgs.end(), state.begin(), state.end());
    std::vector<torch::Tensor> out =
        call(library, "model_train_step", stepArgs);
    ASSERT_EQ(out.size(), 4 + 3 * numParams + 1);

    {
      torch::NoGradGuard noGrad;
      for (size_t i = 0; i < numParams; ++i)
        params.leaves[i].copy_(state[i]);
    }
    for (size_t i = 0; i < numParams; ++i)
      params.leaves[i].mutable_grad() = grads[2 + i].to(torch::kFloat64);
    double norm = torch::nn::utils::clip_grad_norm_(params.leaves, kMaxNorm);
    static_cast<torch::optim::AdamWOptions &>(adamw.param_groups()[0].options())
        .lr(scheduledLr(t));
    static_cast<torch::optim::AdamWOptions &>(adamw.param_groups()[1].options())
        .lr(kOwnLrScale * scheduledLr(t));
    adamw.step();

    EXPECT_LT(relativeError(out[0], grads[0]), 1e-6) << "step " << t;
    EXPECT_NEAR(out[2].item<double>(), norm, 1e-5 * norm) << "step " << t;
    EXPECT_NEAR(out[3].item<double>(), scheduledLr(t), 1e-8) << "step " << t;
    EXPECT_EQ(out.back().item<int64_t>(), t);
    for (size_t i = 0; i < numParams; ++i) {
      double err = relativeError(out[4 + i], params.leaves[i].detach());
      EXPECT_LT(err, 1e-5) << "step " << t << " parameter " << i
                           << ": relative error " << err;
    }
    state.assign(out.begin() + 4, out.end());
  }
}

TEST_F(TrainSteps, MatchTorchAdamWOnTheSameGradients) {
  ASSERT_TRUE(library);
  checkTrainSteps(*this, *library);
}

//===----------------------------------------------------------------------===//
// Mixed precision: the model in bf16 on f32 masters
//===----------------------------------------------------------------------===//

/// kMixedModelModule, compiled for training. Its parameters are drawn
/// bf16-representable, so that the casts leave them as they are and the
/// float64 reference computes on the values the library does.
class MixedPrecisionModel : public ModelGradients {
public:
  static void SetUpTestSuite() {
    library = compileForTarget("train_step_model_bf16", kMixedModelModule,
                               kTrainFlags);
  }
  static void TearDownTestSuite() { library.reset(); }
  static std::unique_ptr<attn::rt::Library> library;

  void SetUp() override {
    ModelGradients::SetUp();
    if (IsSkipped() || HasFatalFailure())
      return;
    // Half modelParams' scale keeps the softmax away from one-hot, where
    // the loss and its gradients are differences of nearly equal numbers
    // (bf16 keeps 8 bits of them).
    for (torch::Tensor &p : params.leaves)
      p = leaf((0.5 * p.detach()).to(torch::kBFloat16));
  }
};
std::unique_ptr<attn::rt::Library> MixedPrecisionModel::library;

// Every activation and product in bf16: within bf16's tolerance of
// float64 autograd; the gradients of the f32 masters come back in f32.
TEST_F(MixedPrecisionModel, GradientsMatchAutogradWithinBf16Tolerance) {
  ASSERT_TRUE(library);
  torch::Tensor loss = modelLoss(params.leaves, ids, labels, dropoutSeed);
  loss.backward();
  std::vector<torch::Tensor> out =
      call(*library, "model_grad", args(params.leaves));
  ASSERT_EQ(out.size(), 2 + params.leaves.size());
  EXPECT_EQ(out[1].scalar_type(), torch::kFloat32) << "logits";
  EXPECT_LT(relativeError(out[0], loss.detach()), 3e-2);
  for (size_t i = 0; i < params.leaves.size(); ++i) {
    EXPECT_EQ(out[2 + i].scalar_type(), torch::kFloat32) << "parameter " << i;
    double err = relativeError(out[2 + i], params.leaves[i].grad());
    EXPECT_LT(err, 3e-2) << "parameter " << i << ": relative error " << err;
  }
}

// AdamW on the f32 masters, its moments in f32, as torch's on the same
// (bf16-computed) gradients.
TEST_F(MixedPrecisionModel, TrainStepsUpdateF32MastersAsTorchAdamW) {
  ASSERT_TRUE(library);
  checkTrainSteps(*this, *library);
}

} // namespace

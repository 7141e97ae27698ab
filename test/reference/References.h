//===- References.h - float64 definitions of attn's computations --*- C++
//-*-===//
//
// Written from the ops' documented definitions with libtorch, independently
// of the compiler; every reference test compares against these.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TEST_REFERENCE_REFERENCES_H
#define ATTN_TEST_REFERENCE_REFERENCES_H

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

namespace attn::test::ref {

/// keep(b, q, k) for a batch of lengths; the mask as [B, 1, N, N] bools.
using KeepFn = std::function<bool(int64_t b, int64_t q, int64_t k)>;
torch::Tensor denseMask(int64_t batch, int64_t n, const KeepFn &keep);

/// A score modification: the scaled scores [B, H, N, N] in, new ones out.
using ScoreModFn = std::function<torch::Tensor(const torch::Tensor &)>;

/// Softmax attention under a [B, 1, N, N] mask; rows keeping nothing: 0.
/// With `scoreMod`, the softmax takes scoreMod(scale Q K^T).
torch::Tensor maskedAttention(const torch::Tensor &q, const torch::Tensor &k,
                              const torch::Tensor &v, const torch::Tensor &keep,
                              double scale, const ScoreModFn &scoreMod = {});

/// Feature maps: "elu_plus_one", "relu", "identity", "favor" (with m, seed).
torch::Tensor featureMap(const std::string &name, const torch::Tensor &x,
                         int64_t features = 0, int64_t seed = 0);

/// Linear attention with phi already applied; keys j kept by `keep` [B,1,N,N].
torch::Tensor linearAttention(const torch::Tensor &phiQ,
                              const torch::Tensor &phiK, const torch::Tensor &v,
                              const torch::Tensor &keep);

/// S4D parameters in attn.ssm's operand order.
struct SsmParams {
  torch::Tensor logAReal, aImag, bReal, bImag, cReal, cImag, logDt;
};
/// attn.ssm on x [B, L, H]; inputs at or past lengths[b] count as zero and
/// outputs there are zero.
torch::Tensor ssm(const torch::Tensor &x, const SsmParams &p,
                  bool bidirectional, const std::vector<int64_t> &lengths);

torch::Tensor layerNorm(const torch::Tensor &x, const torch::Tensor &gamma,
                        const torch::Tensor &beta, double eps);
/// attn.batch_norm's result on x [B, N, D]: per channel, the mean and
/// biased variance over the real tokens (n < lengths[b]), zeros at padding.
torch::Tensor batchNorm(const torch::Tensor &x, const torch::Tensor &gamma,
                        const torch::Tensor &beta, const torch::Tensor &lengths,
                        double eps);
torch::Tensor gelu(const torch::Tensor &x, bool approximate = false);
/// x [..., Din] w [Din, Dout] (+ bias)
torch::Tensor project(const torch::Tensor &x, const torch::Tensor &w,
                      const torch::Tensor &bias = {});
torch::Tensor splitHeads(const torch::Tensor &x, int64_t heads);
torch::Tensor mergeHeads(const torch::Tensor &x);
/// Mean cross-entropy over rows with label >= 0 (0 when none).
torch::Tensor crossEntropy(const torch::Tensor &logits,
                           const torch::Tensor &labels);

} // namespace attn::test::ref

#endif // ATTN_TEST_REFERENCE_REFERENCES_H

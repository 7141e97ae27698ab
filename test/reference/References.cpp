//===- References.cpp - float64 definitions of attn's computations --------===//

#include "References.h"

#include "attn/Support/Random.h"

#include <cmath>

namespace attn::test::ref {

namespace F = torch::nn::functional;
using namespace torch::indexing;

static torch::Tensor d64(const torch::Tensor &t) {
  return t.to(torch::kFloat64);
}

torch::Tensor denseMask(int64_t batch, int64_t n, const KeepFn &keep) {
  torch::Tensor mask = torch::zeros({batch, 1, n, n}, torch::kBool);
  auto acc = mask.accessor<bool, 4>();
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j)
        acc[b][0][i][j] = keep(b, i, j);
  return mask;
}

torch::Tensor maskedAttention(const torch::Tensor &q, const torch::Tensor &k,
                              const torch::Tensor &v, const torch::Tensor &keep,
                              double scale, const ScoreModFn &scoreMod) {
  torch::Tensor s = torch::matmul(d64(q), d64(k).transpose(-1, -2)) * scale;
  if (scoreMod)
    s = scoreMod(s);
  s = s.masked_fill(keep.logical_not(),
                    -std::numeric_limits<double>::infinity());
  torch::Tensor p = torch::nan_to_num(torch::softmax(s, -1), 0.0);
  return torch::matmul(p, d64(v));
}

torch::Tensor featureMap(const std::string &name, const torch::Tensor &x,
                         int64_t features, int64_t seed) {
  torch::Tensor x64 = d64(x);
  if (name == "elu_plus_one")
    return F::elu(x64) + 1;
  if (name == "relu")
    return torch::relu(x64);
  if (name == "identity")
    return x64;
  int64_t d = x.size(-1);
  std::vector<double> w = ::attn::orthogonalRandomFeatures(features, d, seed);
  torch::Tensor W =
      torch::from_blob(w.data(), {features, d}, torch::kFloat64).clone();
  torch::Tensor xs = x64 * std::pow(double(d), -0.25);
  torch::Tensor half = (xs * xs).sum(-1, true) / 2;
  return torch::exp(torch::matmul(xs, W.t()) - half) /
         std::sqrt(double(features));
}

torch::Tensor linearAttention(const torch::Tensor &phiQ,
                              const torch::Tensor &phiK, const torch::Tensor &v,
                              const torch::Tensor &keep) {
  torch::Tensor a =
      torch::matmul(phiQ, phiK.transpose(-1, -2)) * keep.to(torch::kFloat64);
  torch::Tensor num = torch::matmul(a, d64(v));
  torch::Tensor den = a.sum(-1, true);
  return torch::where(den != 0, num / den, torch::zeros_like(num));
}

torch::Tensor ssm(const torch::Tensor &xIn, const SsmParams &p,
                  bool bidirectional, const std::vector<int64_t> &lengths) {
  torch::Tensor x = d64(xIn);
  torch::Tensor A = torch::complex(-torch::exp(d64(p.logAReal)), d64(p.aImag));
  torch::Tensor B = torch::complex(d64(p.bReal), d64(p.bImag));
  torch::Tensor dt = torch::exp(d64(p.logDt)).unsqueeze(-1);
  torch::Tensor Abar = torch::exp(dt * A);
  torch::Tensor Bbar = (Abar - 1) / A * B;
  int64_t L = x.size(1);
  torch::Tensor powers = torch::arange(L, torch::kFloat64);
  torch::Tensor Apow = torch::exp(torch::log(Abar).unsqueeze(-1) * powers);
  auto kernel = [&](const torch::Tensor &cRe, const torch::Tensor &cIm) {
    torch::Tensor W = torch::complex(d64(cRe), d64(cIm)) * Bbar;
    return 2 * torch::real((W.unsqueeze(-1) * Apow).sum(1)); // [H, L]
  };
  torch::Tensor K0 =
      bidirectional ? kernel(p.cReal[0], p.cImag[0]) : kernel(p.cReal, p.cImag);
  torch::Tensor K1 =
      bidirectional ? kernel(p.cReal[1], p.cImag[1]) : torch::Tensor();
  torch::Tensor y = torch::zeros_like(x);
  for (int64_t b = 0; b < x.size(0); ++b) {
    int64_t len = lengths[b];
    torch::Tensor u = x[b].index({Slice(0, len)});
    for (int64_t t = 0; t < len; ++t) {
      torch::Tensor k0 = K0.index({Slice(), Slice(0, t + 1)}).flip(-1);
      torch::Tensor acc = (k0.t() * u.index({Slice(0, t + 1)})).sum(0);
      if (bidirectional && t + 1 < len) {
        torch::Tensor k1 = K1.index({Slice(), Slice(0, len - t - 1)});
        acc = acc + (k1.t() * u.index({Slice(t + 1, len)})).sum(0);
      }
      y[b][t] = acc;
    }
  }
  return y;
}

torch::Tensor layerNorm(const torch::Tensor &x, const torch::Tensor &gamma,
                        const torch::Tensor &beta, double eps) {
  torch::Tensor x64 = d64(x);
  torch::Tensor mean = x64.mean(-1, true);
  torch::Tensor var = (x64 - mean).pow(2).mean(-1, true);
  return (x64 - mean) / torch::sqrt(var + eps) * d64(gamma) + d64(beta);
}

torch::Tensor batchNorm(const torch::Tensor &x, const torch::Tensor &gamma,
                        const torch::Tensor &beta, const torch::Tensor &lengths,
                        double eps) {
  torch::Tensor x64 = d64(x);
  torch::Tensor real = (torch::arange(x.size(1)).unsqueeze(0) <
                        lengths.to(torch::kLong).unsqueeze(1))
                           .unsqueeze(-1)
                           .to(torch::kFloat64);
  torch::Tensor count = real.sum();
  torch::Tensor mean = (x64 * real).sum(torch::IntArrayRef{0, 1}) / count;
  torch::Tensor var =
      ((x64 - mean).pow(2) * real).sum(torch::IntArrayRef{0, 1}) / count;
  return ((x64 - mean) / torch::sqrt(var + eps) * d64(gamma) + d64(beta)) *
         real;
}

torch::Tensor gelu(const torch::Tensor &x, bool approximate) {
  torch::Tensor x64 = d64(x);
  if (approximate)
    return 0.5 * x64 *
           (1 +
            torch::tanh(std::sqrt(2.0 / M_PI) * (x64 + 0.044715 * x64.pow(3))));
  return 0.5 * x64 * (1 + torch::erf(x64 / std::sqrt(2.0)));
}

torch::Tensor project(const torch::Tensor &x, const torch::Tensor &w,
                      const torch::Tensor &bias) {
  torch::Tensor y = torch::matmul(d64(x), d64(w));
  return bias.defined() ? y + d64(bias) : y;
}

torch::Tensor splitHeads(const torch::Tensor &x, int64_t heads) {
  int64_t b = x.size(0), n = x.size(1), d = x.size(2);
  return x.reshape({b, n, heads, d / heads}).permute({0, 2, 1, 3});
}

torch::Tensor mergeHeads(const torch::Tensor &x) {
  int64_t b = x.size(0), h = x.size(1), n = x.size(2), dh = x.size(3);
  return x.permute({0, 2, 1, 3}).reshape({b, n, h * dh});
}

torch::Tensor crossEntropy(const torch::Tensor &logits,
                           const torch::Tensor &labels) {
  torch::Tensor lse = torch::logsumexp(d64(logits), -1);
  torch::Tensor valid = labels >= 0;
  torch::Tensor picked =
      d64(logits)
          .gather(1, labels.clamp_min(0).to(torch::kLong).unsqueeze(1))
          .squeeze(1);
  torch::Tensor loss =
      torch::where(valid, lse - picked, torch::zeros_like(lse));
  int64_t count = valid.sum().item<int64_t>();
  return count ? loss.sum() / double(count) : loss.sum() * 0.0;
}

} // namespace attn::test::ref

//===- EncoderReferenceTest.cpp - encoder ops and layers vs. libtorch -----===//
//
// The encoder pieces one by one, then every layer kind through
// attn-expand-layers: full, window, chunk, BigBird, linear, SSM and SPADE,
// each with key padding (entries of different lengths), against post-LN
// layers written with the float64 references.
//
//===----------------------------------------------------------------------===//

#include "Harness.h"
#include "References.h"

#include "attn/Support/Random.h"

#include <gtest/gtest.h>

using namespace attn::test;
using namespace torch::indexing;

namespace {

constexpr int64_t B = 2, N = 50, D = 32, Hd = 2, FF = 64, S = 4, V = 18;
const std::vector<int64_t> kLengths{N, 31};

torch::Tensor lengthsTensor() {
  return torch::tensor(kLengths).to(torch::kInt32);
}

//===----------------------------------------------------------------------===//
// Encoder ops
//===----------------------------------------------------------------------===//

const char *kEncoderModule = R"mlir(
func.func @embedding(%ids: tensor<2x50xi32>, %t: tensor<18x32xf32>) -> tensor<2x50x32xf32> {
  %e = attn.embedding %ids, %t : tensor<2x50xi32>, tensor<18x32xf32> -> tensor<2x50x32xf32>
  return %e : tensor<2x50x32xf32>
}
func.func @add_positions(%x: tensor<2x50x32xf32>, %t: tensor<64x32xf32>) -> tensor<2x50x32xf32> {
  %y = attn.add_positions %x, %t : tensor<2x50x32xf32>, tensor<64x32xf32>
  return %y : tensor<2x50x32xf32>
}
func.func @layer_norm(%x: tensor<2x50x32xf32>, %g: tensor<32xf32>, %b: tensor<32xf32>) -> tensor<2x50x32xf32> {
  %y = attn.layer_norm %x, %g, %b epsilon 1.0e-5 : tensor<2x50x32xf32>, tensor<32xf32>
  return %y : tensor<2x50x32xf32>
}
func.func @project(%x: tensor<2x50x32xf32>, %w: tensor<32x48xf32>, %b: tensor<48xf32>) -> tensor<2x50x48xf32> {
  %y = attn.project %x, %w, %b : tensor<2x50x32xf32>, tensor<32x48xf32>, tensor<48xf32> -> tensor<2x50x48xf32>
  return %y : tensor<2x50x48xf32>
}
func.func @project_no_bias(%x: tensor<7x32xf32>, %w: tensor<32x10xf32>) -> tensor<7x10xf32> {
  %y = attn.project %x, %w : tensor<7x32xf32>, tensor<32x10xf32> -> tensor<7x10xf32>
  return %y : tensor<7x10xf32>
}
func.func @project_awkward(%x: tensor<3x45x70xf32>, %w: tensor<70x130xf32>, %b: tensor<130xf32>) -> tensor<3x45x130xf32> {
  %y = attn.project %x, %w, %b : tensor<3x45x70xf32>, tensor<70x130xf32>, tensor<130xf32> -> tensor<3x45x130xf32>
  return %y : tensor<3x45x130xf32>
}
func.func @project_bf16_large(%x: tensor<5000x72xbf16>, %w: tensor<72x1000xbf16>) -> tensor<5000x1000xbf16> {
  %y = attn.project %x, %w : tensor<5000x72xbf16>, tensor<72x1000xbf16> -> tensor<5000x1000xbf16>
  return %y : tensor<5000x1000xbf16>
}
func.func @project_bf16(%x: tensor<45x70xbf16>, %w: tensor<70x130xbf16>) -> tensor<45x130xbf16> {
  %y = attn.project %x, %w : tensor<45x70xbf16>, tensor<70x130xbf16> -> tensor<45x130xbf16>
  return %y : tensor<45x130xbf16>
}
func.func @gelu(%x: tensor<2x50x32xf32>) -> tensor<2x50x32xf32> {
  %y = attn.gelu %x : tensor<2x50x32xf32>
  return %y : tensor<2x50x32xf32>
}
func.func @gelu_approximate(%x: tensor<2x50x32xf32>) -> tensor<2x50x32xf32> {
  %y = attn.gelu %x approximate : tensor<2x50x32xf32>
  return %y : tensor<2x50x32xf32>
}
func.func @dropout(%x: tensor<2x50x32xf32>, %seed: i64) -> tensor<2x50x32xf32> {
  %y = attn.dropout %x, %seed rate 0.25 stream 7 : tensor<2x50x32xf32>
  return %y : tensor<2x50x32xf32>
}
func.func @pool_cls(%x: tensor<2x50x32xf32>) -> tensor<2x32xf32> {
  %y = attn.pool cls %x : tensor<2x50x32xf32> -> tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}
func.func @pool_mean(%x: tensor<2x50x32xf32>, %len: tensor<2xi32>) -> tensor<2x32xf32> {
  %y = attn.pool mean %x lengths %len : tensor<2x50x32xf32>, tensor<2xi32> -> tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}
func.func @batch_norm_running(%x: tensor<2x50x32xf32>, %g: tensor<32xf32>, %b: tensor<32xf32>, %len: tensor<2xi32>, %rm: tensor<32xf32>, %rv: tensor<32xf32>) -> (tensor<2x50x32xf32>, tensor<32xf32>, tensor<32xf32>) {
  %y:3 = attn.batch_norm %x, %g, %b lengths %len : tensor<2xi32> running %rm, %rv : tensor<32xf32>, tensor<32xf32> {momentum = 0.25 : f64, unbiased} : tensor<2x50x32xf32>, tensor<32xf32> -> tensor<32xf32>
  return %y#0, %y#1, %y#2 : tensor<2x50x32xf32>, tensor<32xf32>, tensor<32xf32>
}
func.func @batch_norm_evaluation(%x: tensor<2x50x32xf32>, %g: tensor<32xf32>, %b: tensor<32xf32>, %len: tensor<2xi32>, %rm: tensor<32xf32>, %rv: tensor<32xf32>) -> (tensor<2x50x32xf32>, tensor<32xf32>, tensor<32xf32>) {
  %y:3 = attn.batch_norm %x, %g, %b lengths %len : tensor<2xi32> running %rm, %rv : tensor<32xf32>, tensor<32xf32> {evaluation, unbiased} : tensor<2x50x32xf32>, tensor<32xf32> -> tensor<32xf32>
  return %y#0, %y#1, %y#2 : tensor<2x50x32xf32>, tensor<32xf32>, tensor<32xf32>
}
func.func @cross_entropy(%x: tensor<5x10xf32>, %l: tensor<5xi32>) -> tensor<f32> {
  %y = attn.cross_entropy %x, %l : tensor<5x10xf32>, tensor<5xi32> -> tensor<f32>
  return %y : tensor<f32>
}
)mlir";

class EncoderOps : public SeededTest {
public:
  static void SetUpTestSuite() {
    library = compileForTarget("encoder_reference", kEncoderModule);
  }
  static void TearDownTestSuite() { library.reset(); }
  static std::unique_ptr<attn::rt::Library> library;
  /// f32 results within 1e-4 of the float64 reference; bf16 ones within
  /// their rounding.
  void check(const std::string &fn, const std::vector<torch::Tensor> &args,
             const torch::Tensor &ref) {
    ASSERT_TRUE(library);
    std::vector<torch::Tensor> out = call(*library, fn, args);
    ASSERT_EQ(out.size(), 1u);
    double err = relativeError(out[0], ref);
    double tolerance = out[0].scalar_type() == torch::kBFloat16 ? 2e-2 : 1e-4;
    EXPECT_LT(err, tolerance) << fn << ": relative error " << err;
  }
};
std::unique_ptr<attn::rt::Library> EncoderOps::library;

TEST_F(EncoderOps, Embedding) {
  torch::Tensor ids = torch::randint(0, V, {B, N}).to(torch::kInt32);
  torch::Tensor t = torch::randn({V, D});
  check("embedding", {ids, t}, t.index({ids.to(torch::kLong)}));
}

TEST_F(EncoderOps, AddPositions) {
  torch::Tensor x = torch::randn({B, N, D}), t = torch::randn({64, D});
  check("add_positions", {x, t}, x + t.index({Slice(0, N)}));
}

TEST_F(EncoderOps, LayerNorm) {
  torch::Tensor x = 3 * torch::randn({B, N, D}) + 1;
  torch::Tensor g = torch::randn({D}), b = torch::randn({D});
  check("layer_norm", {x, g, b}, ref::layerNorm(x, g, b, 1e-5));
}

TEST_F(EncoderOps, Project) {
  torch::Tensor x = torch::randn({B, N, D}), w = torch::randn({D, 48}),
                b = torch::randn({48});
  check("project", {x, w, b}, ref::project(x, w, b));
  torch::Tensor x2 = torch::randn({7, D}), w2 = torch::randn({D, 10});
  check("project_no_bias", {x2, w2}, ref::project(x2, w2));
  // No dimension a multiple of a tile (the GPU's 64 x 64 x 32), K over
  // several steps; values of mixed magnitudes.
  torch::Tensor x3 = torch::randn({3, 45, 70}) * torch::rand({3, 45, 1}) * 100,
                w3 = torch::randn({70, 130}), b3 = torch::randn({130});
  check("project_awkward", {x3, w3, b3}, ref::project(x3, w3, b3));
  // bf16 operands and result.
  torch::Tensor x4 = torch::randn({45, 70}).to(torch::kBFloat16),
                w4 = torch::randn({70, 130}).to(torch::kBFloat16);
  check("project_bf16", {x4, w4}, ref::project(x4, w4));
  // Large enough for the GPU's 128 x 128 tiles (40 x 8 of them), rows of
  // whole 16-byte runs (its cp.async stages), neither M, N nor K (72: the
  // last step of 32 half past K) a multiple of a tile.
  torch::Tensor x5 = torch::randn({5000, 72}).to(torch::kBFloat16),
                w5 = torch::randn({72, 1000}).to(torch::kBFloat16);
  check("project_bf16_large", {x5, w5}, ref::project(x5, w5));
}

TEST_F(EncoderOps, Gelu) {
  torch::Tensor x = 3 * torch::randn({B, N, D});
  check("gelu", {x}, ref::gelu(x));
  check("gelu_approximate", {x}, ref::gelu(x, true));
}

TEST_F(EncoderOps, DropoutKeepsWhatTheHashSays) {
  torch::Tensor x = torch::randn({B, N, D});
  int64_t seed = static_cast<int64_t>(freshSeed() >> 1);
  torch::Tensor keep = torch::zeros({B, N, D}, torch::kFloat64);
  auto acc = keep.accessor<double, 3>();
  int64_t kept = 0;
  for (int64_t i = 0; i < B * N * D; ++i) {
    bool k = ::attn::dropoutKeep(seed, 7, i, 0.25);
    acc[i / (N * D)][(i / D) % N][i % D] = k;
    kept += k;
  }
  // About three quarters kept: a few standard deviations of a binomial.
  EXPECT_NEAR(double(kept) / (B * N * D), 0.75, 0.04);
  check("dropout", {x, torch::tensor({seed})},
        x.to(torch::kFloat64) * keep / 0.75);
}

/// attn.batch_norm on running statistics (momentum 0.25, not the layers'
/// 0.1), in training and in evaluation, against libtorch's batch_norm over
/// the real tokens packed as [T, D]: the result (zeros at padding) and the
/// statistics it returns.
TEST_F(EncoderOps, BatchNormOnRunningStatistics) {
  ASSERT_TRUE(library);
  torch::Tensor x = 2 * torch::randn({B, N, D}) + 0.5;
  torch::Tensor g = torch::randn({D}), b = torch::randn({D});
  torch::Tensor rm = 0.3 * torch::randn({D}), rv = 0.5 + torch::rand({D});
  torch::Tensor real = torch::arange(N).unsqueeze(0) <
                       lengthsTensor().to(torch::kLong).unsqueeze(1);
  for (bool training : {true, false}) {
    std::string fn = training ? "batch_norm_running" : "batch_norm_evaluation";
    std::vector<torch::Tensor> out =
        call(*library, fn, {x, g, b, lengthsTensor(), rm, rv});
    ASSERT_EQ(out.size(), 3u) << fn;
    auto f64 = [](const torch::Tensor &t) { return t.to(torch::kFloat64); };
    // libtorch updates its running statistics in place.
    torch::Tensor mean = f64(rm).clone(), var = f64(rv).clone();
    torch::Tensor y = torch::batch_norm(
        f64(x).index({real}), f64(g), f64(b), mean, var, training,
        /*momentum=*/0.25, /*eps=*/1e-5, /*cudnn_enabled=*/false);
    torch::Tensor ref = torch::zeros({B, N, D}, torch::kFloat64);
    ref.index_put_({real}, y);
    double err = relativeError(out[0], ref);
    EXPECT_LT(err, 1e-4) << fn << ": result, relative error " << err;
    double meanErr = relativeError(out[1], mean),
           varErr = relativeError(out[2], var);
    EXPECT_LT(meanErr, 1e-5) << fn << ": mean, relative error " << meanErr;
    EXPECT_LT(varErr, 1e-5) << fn << ": variance, relative error " << varErr;
  }
}

TEST_F(EncoderOps, Pool) {
  torch::Tensor x = torch::randn({B, N, D});
  check("pool_cls", {x}, x.index({Slice(), 0}));
  torch::Tensor mean =
      torch::stack({x[0].index({Slice(0, kLengths[0])}).mean(0),
                    x[1].index({Slice(0, kLengths[1])}).mean(0)});
  check("pool_mean", {x, lengthsTensor()}, mean);
}

TEST_F(EncoderOps, CrossEntropyIgnoresNegativeLabels) {
  torch::Tensor x = 2 * torch::randn({5, 10});
  torch::Tensor l = torch::tensor({3, 0, -1, 9, 5}).to(torch::kInt32);
  check("cross_entropy", {x, l}, ref::crossEntropy(x, l));
}

//===----------------------------------------------------------------------===//
// Layers
//===----------------------------------------------------------------------===//

struct Param {
  std::string name;
  std::vector<int64_t> shape;
};

std::vector<Param> attentionParams() {
  return {{"attn.wq", {D, D}}, {"attn.bq", {D}},    {"attn.wk", {D, D}},
          {"attn.bk", {D}},    {"attn.wv", {D, D}}, {"attn.bv", {D}},
          {"attn.wo", {D, D}}, {"attn.bo", {D}}};
}
std::vector<Param> ssmParams(bool bidirectional) {
  std::vector<int64_t> c = bidirectional ? std::vector<int64_t>{2, D, S}
                                         : std::vector<int64_t>{D, S};
  return {{"ssm.log_a_real", {D, S}}, {"ssm.a_imag", {D, S}},
          {"ssm.b_real", {D, S}},     {"ssm.b_imag", {D, S}},
          {"ssm.c_real", c},          {"ssm.c_imag", c},
          {"ssm.log_dt", {D}},        {"ssm.d", {D}}};
}
std::vector<Param> normParams() {
  return {{"ln1.gamma", {D}}, {"ln1.beta", {D}}};
}
std::vector<Param> normFfnParams() {
  std::vector<Param> p = normParams();
  p.insert(p.end(), {{"ffn.w1", {D, FF}},
                     {"ffn.b1", {FF}},
                     {"ffn.w2", {FF, D}},
                     {"ffn.b2", {D}},
                     {"ln2.gamma", {D}},
                     {"ln2.beta", {D}}});
  return p;
}
std::vector<Param> concat(std::vector<std::vector<Param>> parts) {
  std::vector<Param> out;
  for (auto &p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

/// S4's block: the SSM, a gated output map, one norm, no FFN.
std::vector<Param> s4BlockParams() {
  return concat(
      {ssmParams(true),
       {{"out.w", {D, D}}, {"out.b", {D}}, {"gate.w", {D, D}}, {"gate.b", {D}}},
       normParams()});
}

struct LayerCase {
  const char *name;
  const char *op;    // attn.layer.<op>
  const char *attrs; // its attribute dictionary
  std::vector<Param> params;
  bool bidirectional;
  bool prenorm = false;    // `prenorm` among attrs: pre-LN
  bool feedForward = true; // `feed_forward = false` among attrs: no FFN
  std::vector<Param> buffers = {}; // `norm = batch`: running statistics
};

void PrintTo(const LayerCase &c, std::ostream *os) { *os << c.name; }

std::vector<LayerCase> layerCases() {
  auto attention = concat({attentionParams(), normFfnParams()});
  return {
      {"full", "full", "{heads = 2}", attention, false},
      {"window", "window", "{heads = 2, radius = 1, block = 16}", attention,
       false},
      {"chunk", "chunk", "{heads = 2, size = 16}", attention, false},
      {"bigbird", "bigbird",
       "{heads = 2, block = 16, window = 1, global = 1, random = 1, "
       "seed_blocks = 3}",
       attention, false},
      {"linear", "linear", "{heads = 2}", attention, false},
      {"ssm", "ssm", "{bidirectional}",
       concat({ssmParams(true),
               {{"out.w", {D, D}}, {"out.b", {D}}},
               normFfnParams()}),
       true},
      {"spade", "spade",
       "{heads = 2, local = #attn<local_kind chunk>, local_size = 16, "
       "bidirectional}",
       concat({ssmParams(true),
               attentionParams(),
               {{"merge.w", {2 * D, D}}, {"merge.b", {D}}},
               normFfnParams()}),
       true},
      {"window_prenorm", "window",
       "{heads = 2, radius = 1, block = 16, prenorm}", attention, false, true},
      {"ssm_prenorm", "ssm", "{bidirectional, prenorm}",
       concat({ssmParams(true),
               {{"out.w", {D, D}}, {"out.b", {D}}},
               normFfnParams()}),
       true, true},
      // S4's block: a gated output map, no feed-forward sublayer.
      {"ssm_glu", "ssm", "{bidirectional, glu, feed_forward = false}",
       s4BlockParams(), true, false, false},
      {"chunk_without_ffn", "chunk",
       "{heads = 2, size = 16, "
       "feed_forward = false}",
       concat({attentionParams(), normParams()}), false, false, false},
  };
}

/// func.func @<name>(%x, %len, params..., buffers...) -> (y, buffers...).
std::string layerFunction(const LayerCase &c) {
  std::string x = tensorType({B, N, D});
  std::string f = "func.func @" + std::string(c.name) + "(%x: " + x +
                  ", %len: tensor<2xi32>";
  auto list = [&](const std::vector<Param> &ps, const std::string &prefix,
                  std::string &names, std::string &types) {
    for (size_t i = 0; i < ps.size(); ++i) {
      std::string t = tensorType(ps[i].shape);
      f += ", %" + prefix + std::to_string(i) + ": " + t;
      names += (i ? ", %" : "%") + prefix + std::to_string(i);
      types += (i ? ", " : "") + t;
    }
  };
  std::string names, types, bufferNames, bufferTypes;
  list(c.params, "p", names, types);
  list(c.buffers, "r", bufferNames, bufferTypes);
  size_t results = 1 + c.buffers.size();
  std::string resultTypes = x, returned = results == 1 ? "%y" : "%y#0";
  for (size_t i = 1; i < results; ++i) {
    resultTypes += ", " + tensorType(c.buffers[i - 1].shape);
    returned += ", %y#" + std::to_string(i);
  }
  std::string lhs = results == 1 ? "%y" : "%y:" + std::to_string(results);
  std::string buffers =
      c.buffers.empty() ? "" : " buffers(" + bufferNames + ")";
  std::string bufferSignature =
      c.buffers.empty() ? ""
                        : " buffers(" + bufferTypes + ") -> " + bufferTypes;
  return f + ") -> (" + resultTypes + ") {\n  " + lhs + " = attn.layer." +
         c.op + " %x lengths %len params(" + names + ")" + buffers + " " +
         c.attrs + " : " + x + ", lengths tensor<2xi32>, params(" + types +
         ")" + bufferSignature + "\n  return " + returned + " : " +
         resultTypes + "\n}\n";
}

/// Parameters by name, of plausible scale.
std::map<std::string, torch::Tensor> randomParams(const LayerCase &c) {
  std::map<std::string, torch::Tensor> p;
  for (const Param &param : c.params) {
    torch::Tensor t = torch::randn(param.shape);
    const std::string &n = param.name;
    if (n.find("gamma") != std::string::npos)
      t = 1 + 0.1 * t;
    else if (n.find(".w") != std::string::npos)
      t = t / std::sqrt(double(param.shape[0]));
    else if (n == "ssm.log_a_real")
      t = std::log(0.5) + 0.1 * t;
    else if (n == "ssm.a_imag")
      t = M_PI * torch::arange(S, torch::kFloat32).expand({D, S}) + 0.1 * t;
    else if (n == "ssm.log_dt")
      t = std::log(1e-3) + torch::rand({D}) * (std::log(1e-1) - std::log(1e-3));
    else if (n == "ssm.b_real")
      t = 1 + 0.1 * t;
    else
      t = 0.1 * t;
    p[n] = t;
  }
  return p;
}

/// The norm `name` (ln1, ln2) of a layer's stream.
using NormFn =
    std::function<torch::Tensor(const torch::Tensor &, const std::string &)>;

/// The layer in float64, its norms `norm` (layer norms when null).
torch::Tensor referenceLayer(const LayerCase &c, const torch::Tensor &stream,
                             std::map<std::string, torch::Tensor> &p,
                             NormFn norm = nullptr) {
  std::string op = c.op;
  if (!norm)
    norm = [&](const torch::Tensor &t, const std::string &name) {
      return ref::layerNorm(t, p[name + ".gamma"], p[name + ".beta"], 1e-12);
    };
  // The sublayers' input: the stream, or pre-LN its norm.
  torch::Tensor x =
      c.prenorm ? norm(stream.to(torch::kFloat64), "ln1") : stream;
  auto pad = [&](int64_t b, int64_t, int64_t k) { return k < kLengths[b]; };
  auto attention = [&](const ref::KeepFn &keep) {
    torch::Tensor q =
        ref::splitHeads(ref::project(x, p["attn.wq"], p["attn.bq"]), Hd);
    torch::Tensor k =
        ref::splitHeads(ref::project(x, p["attn.wk"], p["attn.bk"]), Hd);
    torch::Tensor v =
        ref::splitHeads(ref::project(x, p["attn.wv"], p["attn.bv"]), Hd);
    torch::Tensor mask = ref::denseMask(B, N, keep);
    torch::Tensor a;
    if (op == "linear")
      a = ref::linearAttention(ref::featureMap("elu_plus_one", q),
                               ref::featureMap("elu_plus_one", k), v, mask);
    else
      a = ref::maskedAttention(q, k, v, mask, 1.0 / std::sqrt(double(D / Hd)));
    return ref::project(ref::mergeHeads(a), p["attn.wo"], p["attn.bo"]);
  };
  auto ssmBranch = [&]() {
    ref::SsmParams sp{p["ssm.log_a_real"], p["ssm.a_imag"], p["ssm.b_real"],
                      p["ssm.b_imag"],     p["ssm.c_real"], p["ssm.c_imag"],
                      p["ssm.log_dt"]};
    torch::Tensor y = ref::ssm(x, sp, c.bidirectional, kLengths);
    return ref::gelu(y +
                     x.to(torch::kFloat64) * p["ssm.d"].to(torch::kFloat64));
  };
  torch::Tensor o;
  if (op == "ssm") {
    torch::Tensor s = ssmBranch();
    o = ref::project(s, p["out.w"], p["out.b"]);
    if (p.count("gate.w"))
      o = o * torch::sigmoid(ref::project(s, p["gate.w"], p["gate.b"]));
  } else if (op == "spade") {
    torch::Tensor a = attention([&](int64_t b, int64_t q, int64_t k) {
      return q / 16 == k / 16 && pad(b, q, k);
    });
    torch::Tensor w = p["merge.w"];
    o = ref::project(ssmBranch(), w.index({Slice(0, D)}), p["merge.b"]) +
        ref::project(a, w.index({Slice(D, 2 * D)}));
  } else {
    o = attention([&](int64_t b, int64_t q, int64_t k) {
      auto blk = [](int64_t i) { return i / 16; };
      int64_t nb = (N + 15) / 16;
      bool kept = true;
      if (op == "window")
        kept = std::abs(blk(q) - blk(k)) <= 1;
      else if (op == "chunk")
        kept = q / 16 == k / 16;
      else if (op == "bigbird") {
        auto g = [&](int64_t i) { return blk(i) < 1 || blk(i) >= nb - 1; };
        auto row = ::attn::randomBlockRow({1, 3, 1, 1}, nb, blk(q));
        kept = std::abs(blk(q) - blk(k)) <= 1 || g(q) || g(k) ||
               std::find(row.begin(), row.end(), blk(k)) != row.end();
      }
      return kept && pad(b, q, k);
    });
  }
  auto ffn = [&](const torch::Tensor &h) {
    return ref::project(ref::gelu(ref::project(h, p["ffn.w1"], p["ffn.b1"])),
                        p["ffn.w2"], p["ffn.b2"]);
  };
  if (c.prenorm) {
    torch::Tensor x1 = stream.to(torch::kFloat64) + o;
    if (!c.feedForward)
      return x1;
    return x1 + ffn(norm(x1, "ln2"));
  }
  torch::Tensor x1 = norm(stream.to(torch::kFloat64) + o, "ln1");
  if (!c.feedForward)
    return x1;
  return norm(x1 + ffn(x1), "ln2");
}

class Layers : public ::testing::TestWithParam<LayerCase> {
public:
  static void SetUpTestSuite() {
    std::string module;
    for (const LayerCase &c : layerCases())
      module += layerFunction(c);
    library = compileForTarget("layer_reference", module);
  }
  void SetUp() override { ATTN_SKIP_WITHOUT_TARGET(); }
  static void TearDownTestSuite() { library.reset(); }
  static std::unique_ptr<attn::rt::Library> library;
};
std::unique_ptr<attn::rt::Library> Layers::library;

TEST_P(Layers, MatchFloat64) {
  ASSERT_TRUE(library);
  const LayerCase &c = GetParam();
  uint64_t seed = freshSeed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  torch::manual_seed(seed);
  torch::Tensor x = torch::randn({B, N, D});
  std::map<std::string, torch::Tensor> p = randomParams(c);
  std::vector<torch::Tensor> args{x, lengthsTensor()};
  for (const Param &param : c.params)
    args.push_back(p[param.name]);
  std::vector<torch::Tensor> out = call(*library, c.name, args);
  ASSERT_EQ(out.size(), 1u);
  // Positions past an entry's length are padding: compare the real ones.
  torch::Tensor ref = referenceLayer(c, x, p);
  for (int64_t b = 0; b < B; ++b) {
    double err = relativeError(out[0][b].index({Slice(0, kLengths[b])}),
                               ref[b].index({Slice(0, kLengths[b])}));
    EXPECT_LT(err, 1e-4) << c.name << " entry " << b << ": relative error "
                         << err;
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, Layers, ::testing::ValuesIn(layerCases()),
                         [](const auto &info) {
                           return std::string(info.param.name);
                         });

//===----------------------------------------------------------------------===//
// Layers with batch norms: the running statistics
//===----------------------------------------------------------------------===//

std::vector<LayerCase> batchNormLayerCases() {
  std::vector<Param> running{{"ln1.running_mean", {D}},
                             {"ln1.running_var", {D}}};
  std::vector<Param> bothRunning =
      concat({running, {{"ln2.running_mean", {D}}, {"ln2.running_var", {D}}}});
  return {
      // S4's block: batch norm, a gated output map, no feed-forward.
      {"ssm_batch_norm", "ssm",
       "{bidirectional, glu, feed_forward = false, "
       "norm = #attn<norm_kind batch>}",
       s4BlockParams(), true, false, false, running},
      {"chunk_batch_norm", "chunk",
       "{heads = 2, size = 16, norm = #attn<norm_kind batch>}",
       concat({attentionParams(), normFfnParams()}), false, false, true,
       bothRunning},
  };
}

/// A batch-norm layer in training (the batch's statistics; the running
/// ones updated) or compiled with --evaluation (the running statistics;
/// returned unchanged), against libtorch's batch_norm over the real tokens
/// with momentum 0.1: the output at real tokens, zeros at padding, and
/// every buffer after the layer.
class BatchNormLayers
    : public ::testing::TestWithParam<std::tuple<LayerCase, bool>> {
public:
  static void SetUpTestSuite() {
    std::string module;
    for (const LayerCase &c : batchNormLayerCases())
      module += layerFunction(c);
    training = compileForTarget("batch_norm_layers", module);
    evaluation =
        compileForTarget("batch_norm_layers_eval", module, "--evaluation");
  }
  void SetUp() override { ATTN_SKIP_WITHOUT_TARGET(); }
  static void TearDownTestSuite() {
    training.reset();
    evaluation.reset();
  }
  static std::unique_ptr<attn::rt::Library> training, evaluation;
};
std::unique_ptr<attn::rt::Library> BatchNormLayers::training,
    BatchNormLayers::evaluation;

TEST_P(BatchNormLayers, MatchFloat64) {
  auto [c, inTraining] = GetParam();
  const std::unique_ptr<attn::rt::Library> &library =
      inTraining ? training : evaluation;
  ASSERT_TRUE(library);
  uint64_t seed = freshSeed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  torch::manual_seed(seed);
  torch::Tensor x = torch::randn({B, N, D});
  std::map<std::string, torch::Tensor> p = randomParams(c);
  std::map<std::string, torch::Tensor> running;
  std::vector<torch::Tensor> args{x, lengthsTensor()};
  for (const Param &param : c.params)
    args.push_back(p[param.name]);
  for (const Param &buffer : c.buffers) {
    bool var = buffer.name.find("var") != std::string::npos;
    torch::Tensor t = var ? 0.5 + torch::rand({D}) : 0.3 * torch::randn({D});
    running[buffer.name] = t.to(torch::kFloat64);
    args.push_back(t);
  }
  std::vector<torch::Tensor> out = call(*library, c.name, args);
  ASSERT_EQ(out.size(), 1 + c.buffers.size());

  // libtorch's batch norm over the real tokens, packed as [T, D].
  torch::Tensor real = torch::arange(N).unsqueeze(0) <
                       lengthsTensor().to(torch::kLong).unsqueeze(1);
  NormFn norm = [&](const torch::Tensor &t, const std::string &name) {
    torch::Tensor t64 = t.to(torch::kFloat64);
    torch::Tensor y = torch::batch_norm(
        t64.index({real}), p[name + ".gamma"].to(torch::kFloat64),
        p[name + ".beta"].to(torch::kFloat64), running[name + ".running_mean"],
        running[name + ".running_var"], inTraining, /*momentum=*/0.1,
        /*eps=*/1e-5, /*cudnn_enabled=*/false);
    torch::Tensor full = torch::zeros_like(t64);
    full.index_put_({real}, y);
    return full;
  };
  torch::Tensor ref = referenceLayer(c, x, p, norm);
  double err = relativeError(out[0], ref);
  EXPECT_LT(err, 1e-4) << c.name << ": output (padding included), relative "
                       << "error " << err;
  for (size_t i = 0; i < c.buffers.size(); ++i) {
    const std::string &name = c.buffers[i].name;
    double bufferErr = relativeError(out[1 + i], running[name]);
    EXPECT_LT(bufferErr, 1e-5)
        << c.name << ": " << name << " after the layer, relative error "
        << bufferErr;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, BatchNormLayers,
    ::testing::Combine(::testing::ValuesIn(batchNormLayerCases()),
                       ::testing::Bool()),
    [](const auto &info) {
      return std::string(std::get<0>(info.param).name) +
             (std::get<1>(info.param) ? "_training" : "_evaluation");
    });

} // namespace

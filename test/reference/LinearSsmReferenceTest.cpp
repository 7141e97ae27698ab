//===- LinearSsmReferenceTest.cpp - attn.linear and attn.ssm vs. libtorch -===//
//
// Linear attention with every feature map, causal and not, with key
// padding; S4D uni- and bidirectional, with padding and with channel counts
// that are not multiples of the vector width. References are written from
// the ops' definitions in float64: phi(Q)(phi(K)^T V) / phi(Q) sum phi(K)
// (masked by j <= i when causal), and the SSM as the convolution with its
// kernel K[l] = 2 Re sum_n W_n Abar_n^l.
//
//===----------------------------------------------------------------------===//

#include "Harness.h"
#include "References.h"

#include "attn/Support/Random.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

using namespace attn::test;

namespace {

constexpr int64_t kBatch = 2, kHeads = 2;

//===----------------------------------------------------------------------===//
// Linear attention
//===----------------------------------------------------------------------===//

struct LinearCase {
  const char *name;
  int64_t n, d;
  const char *featureMap; // op text after attn.feature_map.
  bool causal, padded, positiveInputs;
};

void PrintTo(const LinearCase &c, std::ostream *os) { *os << c.name; }

const LinearCase kLinearCases[] = {
    {"elu_noncausal_padded", 200, 64, "elu_plus_one", false, true, false},
    {"relu_noncausal", 100, 32, "relu", false, false, false},
    {"identity_noncausal", 70, 32, "identity", false, false, true},
    {"elu_causal", 150, 64, "elu_plus_one", true, false, false},
    {"relu_causal_d128", 90, 128, "relu", true, false, false},
    {"favor_noncausal", 120, 64, "favor features 64 seed 11", false, true,
     false},
    {"favor_causal", 90, 32, "favor features 32 seed 3", true, false, false},
    {"elu_causal_padded", 150, 64, "elu_plus_one", true, true, false},
    {"elu_shorter_than_a_chunk", 20, 32, "elu_plus_one", false, false, false},
    // Several splits of the keys adding into one state (the GPU's
    // reduction), and a partial last chunk of keys.
    {"elu_noncausal_split_keys", 700, 64, "elu_plus_one", false, true, false},
    {"relu_causal_long", 333, 48, "relu", true, false, false},
    // A head dim that tensor cores do not take: the per-lane form.
    {"elu_causal_d24", 90, 24, "elu_plus_one", true, true, false},
};

torch::Tensor phi(const LinearCase &c, const torch::Tensor &x) {
  int64_t m = 0, seed = 0;
  if (std::sscanf(c.featureMap, "favor features %ld seed %ld", &m, &seed) == 2)
    return ref::featureMap("favor", x, m, seed);
  return ref::featureMap(c.featureMap, x);
}

torch::Tensor referenceLinear(const LinearCase &c, const torch::Tensor &q,
                              const torch::Tensor &k, const torch::Tensor &v,
                              const std::vector<int64_t> &lengths) {
  torch::Tensor keep =
      ref::denseMask(kBatch, c.n, [&](int64_t b, int64_t i, int64_t j) {
        return j < lengths[b] && (!c.causal || j <= i);
      });
  return ref::linearAttention(phi(c, q), phi(c, k), v, keep);
}

std::string linearFunction(const LinearCase &c) {
  std::string t = tensorType({kBatch, kHeads, c.n, c.d});
  return "func.func @" + std::string(c.name) + "(%q: " + t + ", %k: " + t +
         ", %v: " + t + ", %len: tensor<2xi32>) -> " + t + " {\n" +
         "  %f = attn.feature_map." + c.featureMap + "\n" +
         "  %o = attn.linear %q, %k, %v feature_map %f" +
         (c.padded ? " key_lengths %len : tensor<2xi32>" : "") +
         (c.causal ? " causal" : "") + " : " + t + ", " + t + ", " + t +
         " -> " + t + "\n  return %o : " + t + "\n}\n";
}

class LinearReference : public ::testing::TestWithParam<LinearCase> {
public:
  static void SetUpTestSuite() {
    std::string module;
    for (const LinearCase &c : kLinearCases)
      module += linearFunction(c);
    library = compileForTarget("linear_reference", module);
  }
  void SetUp() override { ATTN_SKIP_WITHOUT_TARGET(); }
  static void TearDownTestSuite() { library.reset(); }
  static std::unique_ptr<attn::rt::Library> library;
};
std::unique_ptr<attn::rt::Library> LinearReference::library;

TEST_P(LinearReference, MatchesFloat64) {
  ASSERT_TRUE(library);
  const LinearCase &c = GetParam();
  uint64_t seed = freshSeed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  torch::manual_seed(seed);
  auto input = [&]() {
    return c.positiveInputs ? torch::rand({kBatch, kHeads, c.n, c.d}) + 0.1
                            : torch::randn({kBatch, kHeads, c.n, c.d});
  };
  torch::Tensor q = input(), k = input(),
                v = torch::randn({kBatch, kHeads, c.n, c.d});
  std::vector<int64_t> lengths = c.padded
                                     ? std::vector<int64_t>{c.n, c.n / 3 + 1}
                                     : std::vector<int64_t>{c.n, c.n};
  torch::Tensor len = torch::tensor({lengths[0], lengths[1]}).to(torch::kInt32);
  std::vector<torch::Tensor> out = call(*library, c.name, {q, k, v, len});
  ASSERT_EQ(out.size(), 1u);
  double err = relativeError(out[0], referenceLinear(c, q, k, v, lengths));
  EXPECT_LT(err, 1e-4) << c.name << ": relative error " << err;
}

INSTANTIATE_TEST_SUITE_P(FeatureMaps, LinearReference,
                         ::testing::ValuesIn(kLinearCases),
                         [](const auto &info) {
                           return std::string(info.param.name);
                         });

//===----------------------------------------------------------------------===//
// S4D
//===----------------------------------------------------------------------===//

struct SsmCase {
  const char *name;
  int64_t length, channels, state;
  bool bidirectional, padded;
};

void PrintTo(const SsmCase &c, std::ostream *os) { *os << c.name; }

const SsmCase kSsmCases[] = {
    {"causal", 100, 16, 8, false, false},
    {"causal_padded_odd_channels", 130, 24, 16, false, true},
    {"bidirectional", 90, 16, 8, true, false},
    {"bidirectional_padded", 120, 40, 4, true, true},
};

std::string ssmFunction(const SsmCase &c) {
  std::string x = tensorType({kBatch, c.length, c.channels});
  std::string a = tensorType({c.channels, c.state});
  std::string cc = c.bidirectional ? tensorType({2, c.channels, c.state}) : a;
  std::string dt = tensorType({c.channels});
  return "func.func @" + std::string(c.name) + "(%x: " + x + ", %ar: " + a +
         ", %ai: " + a + ", %br: " + a + ", %bi: " + a + ", %cr: " + cc +
         ", %ci: " + cc + ", %dt: " + dt + ", %len: tensor<2xi32>) -> " + x +
         " {\n  %y = attn.ssm %x A(%ar, %ai) B(%br, %bi) C(%cr, %ci) "
         "log_dt(%dt)" +
         (c.padded ? " lengths %len : tensor<2xi32>" : "") +
         (c.bidirectional ? " bidirectional" : "") + " : " + x + ", " + a +
         ", " + cc + ", " + dt + "\n  return %y : " + x + "\n}\n";
}

/// attn.ssm against the convolution form in float64, on fresh S4D-Lin
/// parameters.
void checkSsm(const attn::rt::Library &library, const SsmCase &c) {
  uint64_t seed = freshSeed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  torch::manual_seed(seed);
  int64_t H = c.channels, S = c.state;
  // S4D-Lin initialisation, perturbed so that nothing is special.
  torch::Tensor n = torch::arange(S, torch::kFloat32).expand({H, S});
  std::vector<torch::Tensor> p{
      torch::randn({kBatch, c.length, H}),
      std::log(0.5) + 0.1 * torch::randn({H, S}),
      M_PI * n + 0.1 * torch::randn({H, S}),
      1 + 0.1 * torch::randn({H, S}),
      0.1 * torch::randn({H, S}),
      c.bidirectional ? torch::randn({2, H, S}) : torch::randn({H, S}),
      c.bidirectional ? torch::randn({2, H, S}) : torch::randn({H, S}),
      std::log(1e-3) + torch::rand({H}) * (std::log(1e-1) - std::log(1e-3)),
  };
  std::vector<int64_t> lengths =
      c.padded ? std::vector<int64_t>{c.length, c.length / 2}
               : std::vector<int64_t>{c.length, c.length};
  std::vector<torch::Tensor> args(p);
  args.push_back(torch::tensor({lengths[0], lengths[1]}).to(torch::kInt32));
  std::vector<torch::Tensor> out = call(library, c.name, args);
  ASSERT_EQ(out.size(), 1u);
  ref::SsmParams params{p[1], p[2], p[3], p[4], p[5], p[6], p[7]};
  double err =
      relativeError(out[0], ref::ssm(p[0], params, c.bidirectional, lengths));
  EXPECT_LT(err, 1e-4) << c.name << ": relative error " << err;
}

std::string ssmModule() {
  std::string module;
  for (const SsmCase &c : kSsmCases)
    module += ssmFunction(c);
  return module;
}

class SsmReference : public ::testing::TestWithParam<SsmCase> {
public:
  static void SetUpTestSuite() {
    library = compileForTarget("ssm_reference", ssmModule());
  }
  void SetUp() override { ATTN_SKIP_WITHOUT_TARGET(); }
  static void TearDownTestSuite() { library.reset(); }
  static std::unique_ptr<attn::rt::Library> library;
};
std::unique_ptr<attn::rt::Library> SsmReference::library;

TEST_P(SsmReference, MatchesFloat64) {
  ASSERT_TRUE(library);
  checkSsm(*library, GetParam());
}

INSTANTIATE_TEST_SUITE_P(S4D, SsmReference, ::testing::ValuesIn(kSsmCases),
                         [](const auto &info) {
                           return std::string(info.param.name);
                         });

// The chunked scan (chunk states, their carry, then each chunk's outputs
// from the state it is entered with), forced on either target: chunks of 7
// (many, none a multiple of the GPU's 8-step blocks; on the CPU with
// 8-lane vectors, so that a group of 16 channels takes two passes) and of
// 32; lengths that end inside a chunk, padded entries whose length does
// too.
struct SsmVariant {
  const char *name, *flags;
};
void PrintTo(const SsmVariant &v, std::ostream *os) { *os << v.flags; }

const SsmVariant kSsmVariants[] = {
    {"chunk7_w8", "--ssm-chunk=7 --vector-width=8"},
    {"chunk32", "--ssm-chunk=32"},
};

class SsmChunkedReference
    : public ::testing::TestWithParam<std::tuple<SsmVariant, SsmCase>> {
public:
  static void SetUpTestSuite() {
    for (const SsmVariant &v : kSsmVariants)
      libraries[v.name] =
          compileForTarget(std::string("ssm_") + v.name, ssmModule(), v.flags);
  }
  void SetUp() override { ATTN_SKIP_WITHOUT_TARGET(); }
  static void TearDownTestSuite() { libraries.clear(); }
  static std::map<std::string, std::unique_ptr<attn::rt::Library>> libraries;
};
std::map<std::string, std::unique_ptr<attn::rt::Library>>
    SsmChunkedReference::libraries;

TEST_P(SsmChunkedReference, MatchesFloat64) {
  auto [variant, c] = GetParam();
  ASSERT_TRUE(libraries[variant.name]);
  checkSsm(*libraries[variant.name], c);
}

INSTANTIATE_TEST_SUITE_P(S4D, SsmChunkedReference,
                         ::testing::Combine(::testing::ValuesIn(kSsmVariants),
                                            ::testing::ValuesIn(kSsmCases)),
                         [](const auto &info) {
                           return std::string(std::get<1>(info.param).name) +
                                  "_" + std::get<0>(info.param).name;
                         });

} // namespace

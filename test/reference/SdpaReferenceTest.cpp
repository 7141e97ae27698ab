//===- SdpaReferenceTest.cpp - compiled attn.sdpa vs. libtorch float64 ----===//
//
// Every mask pattern and combinator, lengths that are not multiples of the
// block, a length shorter than one block, batch entries with different
// padding lengths, fully masked rows (defined to produce zeros) and head
// dims 32, 64 and 128. The reference is dense masked softmax attention in
// float64 with the mask written out from each pattern's definition, here,
// independently of the compiler's.
//
// Built twice: for the CPU, and (ATTN_TEST_GPU, ctest label gpu) compiled
// with --target gpu and run on the GPU, skipping where none is visible.
//
//===----------------------------------------------------------------------===//

#include "Harness.h"
#include "References.h"

#include "attn/Runtime/Device.h"
#include "attn/Support/Random.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>

using namespace attn::test;

namespace {

constexpr int64_t kBatch = 2, kHeads = 2;

using MaskFn = std::function<bool(int64_t b, int64_t q, int64_t k, int64_t n,
                                  const std::vector<int64_t> &lengths)>;

struct SdpaCase {
  const char *name;
  int64_t n, d;
  const char *mask; // ops defining %m (may use %len); empty: no mask
  const char *maskType;
  MaskFn keep;
  std::vector<int64_t> (*lengths)(int64_t n);
  const char *score = "";        // attn.sdpa's score region; empty: none
  ref::ScoreModFn scoreMod = {}; // the same on the reference's scores
};

void PrintTo(const SdpaCase &c, std::ostream *os) { *os << c.name; }
/// Each instantiation's test names: the cases'.
std::string caseName(const ::testing::TestParamInfo<SdpaCase> &info) {
  return info.param.name;
}

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t absDiff(int64_t a, int64_t b) { return a > b ? a - b : b - a; }
std::vector<int64_t> fullLengths(int64_t n) { return {n, n}; }
std::vector<int64_t> mixedLengths(int64_t n) { return {n, n / 3 + 1}; }
std::vector<int64_t> emptyAndFull(int64_t n) { return {0, n}; }

bool randomBlock(int64_t q, int64_t k, int64_t n, int64_t block, int64_t count,
                 uint64_t seed, int64_t g, int64_t w) {
  auto row =
      ::attn::randomBlockRow({count, seed, g, w}, ceilDiv(n, block), q / block);
  return std::find(row.begin(), row.end(), k / block) != row.end();
}
bool globalBlocks(int64_t q, int64_t k, int64_t n, int64_t block, int64_t first,
                  int64_t last) {
  int64_t nb = ceilDiv(n, block);
  auto g = [&](int64_t i) {
    return i / block < first || i / block >= nb - last;
  };
  return g(q) || g(k);
}

// BigBird (window, global and random blocks of 64) under key padding.
constexpr const char *kBigBirdPadded =
    "%w = attn.mask.window radius 1 block 64\n"
    "%g = attn.mask.global first 1 last 1 block 64\n"
    "%r = attn.mask.random_blocks count 2 block 64 seed 9 exclude_global 1 "
    "exclude_window 1\n"
    "%u = attn.mask.union %w, %g, %r : !attn.mask<block = 64>, "
    "!attn.mask<block = 64>, !attn.mask<block = 64>\n"
    "%p = attn.mask.key_padding %len : tensor<2xi32>\n"
    "%m = attn.mask.intersect %u, %p : !attn.mask<block = 64>, !attn.mask";
bool bigBirdPadded(int64_t b, int64_t q, int64_t k, int64_t n,
                   const std::vector<int64_t> &len) {
  bool bigbird = absDiff(q / 64, k / 64) <= 1 ||
                 globalBlocks(q, k, n, 64, 1, 1) ||
                 randomBlock(q, k, n, 64, 2, 9, 1, 1);
  return bigbird && k < len[b];
}

// Score regions (their values named r_*: a region sees the function's
// names, the masks' among them).
// Soft-capping at 2: 2 tanh(s / 2).
constexpr const char *kSoftcapRegion =
    "^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):\n"
    "  %r_c = arith.constant 2.0 : f32\n"
    "  %r_x = arith.divf %s, %r_c : f32\n"
    "  %r_t = math.tanh %r_x : f32\n"
    "  %r_y = arith.mulf %r_t, %r_c : f32\n"
    "  attn.yield %r_y : f32\n";

// ALiBi with the slopes of two heads, 2^(-8 (h + 1) / 2) = exp(-4 ln 2
// (h + 1)), and a bias of 0.25 b per batch entry (so that b reaches the
// region too): s - slope_h |i - j| + 0.25 b.
constexpr const char *kAlibiRegion =
    "^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):\n"
    "  %r_one = arith.constant 1 : index\n"
    "  %r_h1 = arith.addi %h, %r_one : index\n"
    "  %r_h64 = arith.index_cast %r_h1 : index to i64\n"
    "  %r_hf = arith.sitofp %r_h64 : i64 to f32\n"
    "  %r_c = arith.constant -2.77258872 : f32\n"
    "  %r_e = arith.mulf %r_hf, %r_c : f32\n"
    "  %r_slope = math.exp %r_e : f32\n"
    "  %r_d = arith.subi %i, %j : index\n"
    "  %r_d64 = arith.index_cast %r_d : index to i64\n"
    "  %r_df = arith.sitofp %r_d64 : i64 to f32\n"
    "  %r_ad = math.absf %r_df : f32\n"
    "  %r_bias = arith.mulf %r_slope, %r_ad : f32\n"
    "  %r_r = arith.subf %s, %r_bias : f32\n"
    "  %r_b64 = arith.index_cast %b : index to i64\n"
    "  %r_bf = arith.sitofp %r_b64 : i64 to f32\n"
    "  %r_quarter = arith.constant 0.25 : f32\n"
    "  %r_bb = arith.mulf %r_bf, %r_quarter : f32\n"
    "  %r_y = arith.addf %r_r, %r_bb : f32\n"
    "  attn.yield %r_y : f32\n";
torch::Tensor alibi(const torch::Tensor &s) {
  const int64_t batch = s.size(0), heads = s.size(1), n = s.size(2);
  torch::Tensor i = torch::arange(n, torch::kFloat64);
  torch::Tensor distance = (i.unsqueeze(1) - i.unsqueeze(0)).abs();
  torch::Tensor slope =
      torch::exp(-2.77258872 * (torch::arange(heads, torch::kFloat64) + 1));
  torch::Tensor bias = 0.25 * torch::arange(batch, torch::kFloat64);
  return s - slope.view({1, heads, 1, 1}) * distance +
         bias.view({batch, 1, 1, 1});
}

// A region through log, exp, max and the sums: log(1 + exp(s)) +
// max(s, -0.5) / 4.
constexpr const char *kSoftplusRegion =
    "^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):\n"
    "  %r_one = arith.constant 1.0 : f32\n"
    "  %r_e = math.exp %s : f32\n"
    "  %r_e1 = arith.addf %r_e, %r_one : f32\n"
    "  %r_sp = math.log %r_e1 : f32\n"
    "  %r_floor = arith.constant -0.5 : f32\n"
    "  %r_m = arith.maximumf %s, %r_floor : f32\n"
    "  %r_quarter = arith.constant 0.25 : f32\n"
    "  %r_mq = arith.mulf %r_m, %r_quarter : f32\n"
    "  %r_y = arith.addf %r_sp, %r_mq : f32\n"
    "  attn.yield %r_y : f32\n";

const SdpaCase kCases[] = {
    {"dense", 200, 64, "", "", [](auto...) { return true; }, fullLengths},
    {"full_shorter_than_a_block", 37, 32, "%m = attn.mask.full", "!attn.mask",
     [](auto...) { return true; }, fullLengths},
    {"causal", 200, 64, "%m = attn.mask.causal", "!attn.mask",
     [](int64_t, int64_t q, int64_t k, int64_t, auto &) { return k <= q; },
     fullLengths},
    {"window_element", 150, 32, "%m = attn.mask.window radius 20", "!attn.mask",
     [](int64_t, int64_t q, int64_t k, int64_t, auto &) {
       return absDiff(q, k) <= 20;
     },
     fullLengths},
    {"window_block", 300, 64, "%m = attn.mask.window radius 1 block 64",
     "!attn.mask<block = 64>",
     [](int64_t, int64_t q, int64_t k, int64_t, auto &) {
       return absDiff(q / 64, k / 64) <= 1;
     },
     fullLengths},
    {"global_tokens", 130, 32, "%m = attn.mask.global first 3 last 2",
     "!attn.mask",
     [](int64_t, int64_t q, int64_t k, int64_t n, auto &) {
       auto g = [&](int64_t i) { return i < 3 || i >= n - 2; };
       return g(q) || g(k);
     },
     fullLengths},
    {"global_blocks_d128", 200, 128,
     "%m = attn.mask.global first 1 last 1 block 64", "!attn.mask<block = 64>",
     [](int64_t, int64_t q, int64_t k, int64_t n, auto &) {
       return globalBlocks(q, k, n, 64, 1, 1);
     },
     fullLengths},
    {"random_blocks", 256, 64,
     "%m = attn.mask.random_blocks count 2 block 32 seed 5",
     "!attn.mask<block = 32>",
     [](int64_t, int64_t q, int64_t k, int64_t n, auto &) {
       return randomBlock(q, k, n, 32, 2, 5, 0, -1);
     },
     fullLengths},
    {"chunk", 200, 32, "%m = attn.mask.chunk size 48", "!attn.mask",
     [](int64_t, int64_t q, int64_t k, int64_t, auto &) {
       return q / 48 == k / 48;
     },
     fullLengths},
    {"dilated_window", 120, 32,
     "%m = attn.mask.dilated_window radius 4 dilation 3", "!attn.mask",
     [](int64_t, int64_t q, int64_t k, int64_t, auto &) {
       return absDiff(q, k) <= 12 && absDiff(q, k) % 3 == 0;
     },
     fullLengths},
    {"strided", 100, 64, "%m = attn.mask.strided stride 16", "!attn.mask",
     [](int64_t, int64_t q, int64_t k, int64_t, auto &) {
       return absDiff(q, k) % 16 == 0;
     },
     fullLengths},
    {"key_padding", 180, 64, "%m = attn.mask.key_padding %len : tensor<2xi32>",
     "!attn.mask",
     [](int64_t b, int64_t, int64_t k, int64_t, auto &len) {
       return k < len[b];
     },
     mixedLengths},
    {"bigbird_padded", 333, 64, kBigBirdPadded, "!attn.mask<block = 64>",
     bigBirdPadded, mixedLengths},
    {"bigbird_d128_block128", 300, 128,
     "%w = attn.mask.window radius 1 block 128\n"
     "%g = attn.mask.global first 1 last 1 block 128\n"
     "%m = attn.mask.union %w, %g : !attn.mask<block = 128>, "
     "!attn.mask<block = 128>",
     "!attn.mask<block = 128>",
     [](int64_t, int64_t q, int64_t k, int64_t n, auto &) {
       return absDiff(q / 128, k / 128) <= 1 ||
              globalBlocks(q, k, n, 128, 1, 1);
     },
     fullLengths},
    {"difference", 150, 32,
     "%w = attn.mask.window radius 30\n"
     "%c = attn.mask.causal\n"
     "%m = attn.mask.difference %w, %c : !attn.mask, !attn.mask",
     "!attn.mask",
     [](int64_t, int64_t q, int64_t k, int64_t, auto &) {
       return absDiff(q, k) <= 30 && k > q;
     },
     fullLengths},
    {"expr", 90, 32,
     "%m = attn.mask.expr {\n"
     "^bb0(%q: index, %k: index, %n: index):\n"
     "  %c5 = arith.constant 5 : index\n"
     "  %lo = arith.subi %q, %c5 : index\n"
     "  %a = arith.cmpi sge, %k, %lo : index\n"
     "  %b = arith.cmpi sle, %k, %q : index\n"
     "  %t = arith.andi %a, %b : i1\n"
     "  attn.yield %t : i1\n"
     "}",
     "!attn.mask",
     [](int64_t, int64_t q, int64_t k, int64_t, auto &) {
       return k >= q - 5 && k <= q;
     },
     fullLengths},
    {"fully_masked_rows", 160, 64,
     // Rows at or past 100 keep nothing (and entry 0 has no keys at all).
     "%c = attn.mask.chunk size 32\n"
     "%e = attn.mask.expr {\n"
     "^bb0(%q: index, %k: index, %n: index):\n"
     "  %c100 = arith.constant 100 : index\n"
     "  %t = arith.cmpi ult, %q, %c100 : index\n"
     "  attn.yield %t : i1\n"
     "}\n"
     "%p = attn.mask.key_padding %len : tensor<2xi32>\n"
     "%m = attn.mask.intersect %c, %e, %p : !attn.mask, !attn.mask, !attn.mask",
     "!attn.mask",
     [](int64_t b, int64_t q, int64_t k, int64_t, auto &len) {
       return q / 32 == k / 32 && q < 100 && k < len[b];
     },
     emptyAndFull},
    // Score regions (attn/IR/ScoreMod.h), on full and partial tiles.
    {"softcap_causal", 200, 64, "%m = attn.mask.causal", "!attn.mask",
     [](int64_t, int64_t q, int64_t k, int64_t, auto &) { return k <= q; },
     fullLengths, kSoftcapRegion,
     [](const torch::Tensor &s) { return torch::tanh(s / 2.0) * 2.0; }},
    {"alibi_dense", 200, 32, "", "", [](auto...) { return true; }, fullLengths,
     kAlibiRegion, alibi},
    {"alibi_bigbird_padded", 333, 64, kBigBirdPadded, "!attn.mask<block = 64>",
     bigBirdPadded, mixedLengths, kAlibiRegion, alibi},
    {"softplus_floor", 150, 32, "%m = attn.mask.window radius 40", "!attn.mask",
     [](int64_t, int64_t q, int64_t k, int64_t, auto &) {
       return absDiff(q, k) <= 40;
     },
     fullLengths, kSoftplusRegion,
     [](const torch::Tensor &s) {
       return torch::log(torch::exp(s) + 1.0) +
              torch::maximum(s, torch::full_like(s, -0.5)) * 0.25;
     }},
};

/// The case as a function; with `params`, query, key and value are
/// parameters, so that attn-generate-backward differentiates them.
std::string functionFor(const SdpaCase &c, bool params = false,
                        const std::string &elem = "f32") {
  std::string t = tensorType({kBatch, kHeads, c.n, c.d}, elem);
  auto param = [&](const char *name) {
    return params ? " {attn.param = \"" + std::string(name) + "\"}"
                  : std::string();
  };
  // (%q and %k are taken by attn.mask.expr regions.)
  std::string f = "func.func @" + std::string(c.name) + "(%query: " + t +
                  param("q") + ", %key: " + t + param("k") + ", %value: " + t +
                  param("v") + ", %len: tensor<2xi32>) -> " + t + " {\n" +
                  c.mask + "\n";
  bool masked = c.mask[0] != '\0';
  std::string maskType = c.maskType;
  std::string score =
      c.score[0] ? " score {\n" + std::string(c.score) + "}" : std::string();
  f += "  %o = attn.sdpa %query, %key, %value" +
       std::string(masked ? " mask %m" : "") + score + " : " + t + ", " + t +
       ", " + t + (masked ? ", " + maskType : "") + " -> " + t +
       "\n  return %o : " + t + "\n}\n";
  return f;
}

torch::Tensor referenceSdpa(const SdpaCase &c, const torch::Tensor &q,
                            const torch::Tensor &k, const torch::Tensor &v,
                            const std::vector<int64_t> &lengths) {
  torch::Tensor keep =
      ref::denseMask(kBatch, c.n, [&](int64_t b, int64_t i, int64_t j) {
        return c.keep(b, i, j, c.n, lengths);
      });
  return ref::maskedAttention(q, k, v, keep, 1.0 / std::sqrt(double(c.d)),
                              c.scoreMod);
}

class SdpaReference : public ::testing::TestWithParam<SdpaCase> {
public:
  static void SetUpTestSuite() {
    std::string module;
    for (const SdpaCase &c : kCases)
      module += functionFor(c);
    library = compileForTarget("sdpa_reference", module);
  }
  void SetUp() override { ATTN_SKIP_WITHOUT_TARGET(); }
  static void TearDownTestSuite() { library.reset(); }
  static std::unique_ptr<attn::rt::Library> library;
};
std::unique_ptr<attn::rt::Library> SdpaReference::library;

TEST_P(SdpaReference, MatchesFloat64) {
  ASSERT_TRUE(library);
  const SdpaCase &c = GetParam();
  uint64_t seed = freshSeed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  torch::manual_seed(seed);
  torch::Tensor q = torch::randn({kBatch, kHeads, c.n, c.d});
  torch::Tensor k = torch::randn({kBatch, kHeads, c.n, c.d});
  torch::Tensor v = torch::randn({kBatch, kHeads, c.n, c.d});
  std::vector<int64_t> lengths = c.lengths(c.n);
  torch::Tensor len = torch::tensor({lengths[0], lengths[1]}).to(torch::kInt32);
  std::vector<torch::Tensor> out = call(*library, c.name, {q, k, v, len});
  ASSERT_EQ(out.size(), 1u);
  torch::Tensor ref = referenceSdpa(c, q, k, v, lengths);
  double err = relativeError(out[0], ref);
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", err);
  RecordProperty("relative_error", text);
  EXPECT_LT(err, 1e-4) << c.name << ": relative error " << err;
}

INSTANTIATE_TEST_SUITE_P(Masks, SdpaReference, ::testing::ValuesIn(kCases),
                         caseName);

/// attn.materialize_mask: each static case's mask as an n x n tensor of 0/1
/// (the predicate that partial tiles run, compiled), against the case's
/// definition on every pair.
bool isStaticMask(const SdpaCase &c) {
  return c.mask[0] != '\0' && !std::strstr(c.mask, "%len");
}

class MaterializedMask : public ::testing::TestWithParam<SdpaCase> {
public:
  static void SetUpTestSuite() {
    std::string module;
    for (const SdpaCase &c : kCases) {
      if (!isStaticMask(c))
        continue;
      std::string t = tensorType({c.n, c.n}, "i8");
      module += "func.func @" + std::string(c.name) + "_mask() -> " + t +
                " {\n" + c.mask +
                "\n  %d = attn.materialize_mask %m : " + c.maskType + " -> " +
                t + "\n  return %d : " + t + "\n}\n";
    }
    library = compileForTarget("materialized_mask", module);
  }
  void SetUp() override { ATTN_SKIP_WITHOUT_TARGET(); }
  static void TearDownTestSuite() { library.reset(); }
  static std::unique_ptr<attn::rt::Library> library;
};
std::unique_ptr<attn::rt::Library> MaterializedMask::library;

TEST_P(MaterializedMask, MatchesDefinition) {
  const SdpaCase &c = GetParam();
  ASSERT_TRUE(library);
  std::vector<torch::Tensor> out =
      call(*library, std::string(c.name) + "_mask", {});
  ASSERT_EQ(out.size(), 1u);
  auto got = out[0].accessor<int8_t, 2>();
  std::vector<int64_t> lengths = c.lengths(c.n);
  for (int64_t q = 0; q < c.n; ++q)
    for (int64_t k = 0; k < c.n; ++k)
      ASSERT_EQ(got[q][k], c.keep(0, q, k, c.n, lengths) ? 1 : 0)
          << c.name << " at q=" << q << " k=" << k;
}

/// The cases `keep` selects, for a suite instantiated on some of them.
std::vector<SdpaCase> casesWhere(bool (*keep)(const SdpaCase &)) {
  std::vector<SdpaCase> cases;
  for (const SdpaCase &c : kCases)
    if (keep(c))
      cases.push_back(c);
  return cases;
}

/// The cases with a mask that reads no runtime data.
std::vector<SdpaCase> staticMaskCases() { return casesWhere(isStaticMask); }

INSTANTIATE_TEST_SUITE_P(Masks, MaterializedMask,
                         ::testing::ValuesIn(staticMaskCases()), caseName);

#ifdef ATTN_TEST_GPU
/// libattnrt's kernel profile: each kernel of a compiled call reported by
/// the name attn-name-kernels gives it (function, place, kind), with its
/// launches counted, and the host's copies beside them.
TEST(KernelProfile, NamesAndCountsEachKernel) {
  const SdpaCase &c = kCases[0];
  std::unique_ptr<attn::rt::Library> library =
      compileForTarget("sdpa_profile", functionFor(c));
  ATTN_SKIP_WITHOUT_TARGET();
  ASSERT_TRUE(library);
  attn::rt::startProfile();
  torch::Tensor q = torch::randn({kBatch, kHeads, c.n, c.d});
  torch::Tensor len = torch::tensor({c.n, c.n}).to(torch::kInt32);
  for (int i = 0; i < 2; ++i)
    call(*library, c.name, {q, q, q, len});
  std::string report = attn::rt::profileReport();
  SCOPED_TRACE(report);
  std::string kernel = std::string(c.name) + "_0_softmax_step_softmax_finalize";
  size_t at = report.find(kernel);
  ASSERT_NE(at, std::string::npos);
  // "total ms  %  calls  mean us  name ...": the line's third column.
  size_t start = report.rfind('\n', at) + 1;
  double total = 0, share = 0;
  long calls = 0;
  ASSERT_EQ(std::sscanf(report.c_str() + start, "%lf %lf %ld", &total, &share,
                        &calls),
            3);
  EXPECT_EQ(calls, 2);
  EXPECT_GT(total, 0);
  EXPECT_NE(report.find("copies to the device"), std::string::npos);
}
#endif

/// A suite of gradient checks over the cases in `Cases` (a function
/// returning them), compiled in element type `Elem` once for the suite
/// with `Flags`: each case's f and f_grad (attn-generate-backward).
template <const char *Name, const char *Elem, std::vector<SdpaCase> (*Cases)(),
          const char *Flags>
class GradientSuite : public ::testing::TestWithParam<SdpaCase> {
public:
  static void SetUpTestSuite() {
    std::string module;
    for (const SdpaCase &c : Cases())
      module += functionFor(c, /*params=*/true, Elem);
    library =
        compileForTarget(Name, module, std::string("--backward ") + Flags);
  }
  void SetUp() override { ATTN_SKIP_WITHOUT_TARGET(); }
  static void TearDownTestSuite() { library.reset(); }
  static inline std::unique_ptr<attn::rt::Library> library;
};

std::vector<SdpaCase> allCases() {
  return std::vector<SdpaCase>(std::begin(kCases), std::end(kCases));
}
constexpr char kF32[] = "f32", kGradientName[] = "sdpa_gradient";
// Tiles of 32, so that every case has several query and key tiles.
constexpr char kSmallTiles[] = "--block-q 32 --block-k 32";

// The gradient of every case (attn.sdpa_grad): dQ, dK and
// dV of <dO, sdpa(q, k, v)> against libtorch autograd on the float64
// reference, fully masked rows and keys past the lengths included.
using SdpaGradient = GradientSuite<kGradientName, kF32, allCases, kSmallTiles>;

/// Calls `c`'s gradient function of `library` on fresh inputs in `dtype`
/// (float64 leaves rounded to it first, so that the reference sees what the
/// library sees) and compares out, dQ, dK and dV with libtorch autograd in
/// float64: relative errors below `tolerance`.
void expectGradientsMatch(attn::rt::Library &library, const SdpaCase &c,
                          torch::ScalarType dtype, double tolerance) {
  uint64_t seed = freshSeed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  torch::manual_seed(seed);
  auto input = [&] {
    return torch::randn({kBatch, kHeads, c.n, c.d}, torch::kFloat64)
        .to(dtype)
        .to(torch::kFloat64);
  };
  torch::Tensor q = input().requires_grad_(true),
                k = input().requires_grad_(true),
                v = input().requires_grad_(true), dOut = input();
  std::vector<int64_t> lengths = c.lengths(c.n);
  torch::Tensor len = torch::tensor({lengths[0], lengths[1]}).to(torch::kInt32);
  auto cast = [&](const torch::Tensor &t) { return t.detach().to(dtype); };
  std::vector<torch::Tensor> out =
      call(library, std::string(c.name) + "_grad",
           {cast(q), cast(k), cast(v), len, cast(dOut)});
  ASSERT_EQ(out.size(), 4u);
  torch::Tensor ref = referenceSdpa(c, q, k, v, lengths);
  ref.backward(dOut);
  EXPECT_LT(relativeError(out[0], ref.detach()), tolerance) << c.name;
  const char *names[] = {"query", "key", "value"};
  torch::Tensor grads[] = {q.grad(), k.grad(), v.grad()};
  for (int i = 0; i < 3; ++i) {
    double err = relativeError(out[1 + i], grads[i]);
    EXPECT_LT(err, tolerance)
        << c.name << ": " << names[i] << " gradient's relative error " << err;
  }
}

TEST_P(SdpaGradient, MatchesAutograd) {
  ASSERT_TRUE(library);
  expectGradientsMatch(*library, GetParam(), torch::kFloat32, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Masks, SdpaGradient, ::testing::ValuesIn(allCases()),
                         caseName);

// The same in bf16 for a few masks: the forward (on the GPU on tensor
// cores) saves each row's log-sum-exp, which the gradient reads; the
// gradients are stored in bf16. Inputs are rounded to bf16 first, so that
// the float64 reference sees what the library sees; the tolerance is
// bf16's (outputs and gradients rounded, P rounded before P V), far below
// what a wrong log-sum-exp gives (a factor on every weight).
bool inBf16Suite(const SdpaCase &c) {
  for (const char *name :
       {"dense", "causal", "global_blocks_d128", "key_padding",
        "bigbird_padded", "fully_masked_rows", "softcap_causal", "alibi_dense",
        "alibi_bigbird_padded", "softplus_floor"})
    if (std::string(c.name) == name)
      return true;
  return false;
}

std::vector<SdpaCase> bf16Cases() { return casesWhere(inBf16Suite); }
constexpr char kBf16[] = "bf16", kBf16GradientName[] = "sdpa_gradient_bf16";
using SdpaGradientBf16 =
    GradientSuite<kBf16GradientName, kBf16, bf16Cases, kSmallTiles>;

TEST_P(SdpaGradientBf16, MatchesAutograd) {
  ASSERT_TRUE(library);
  expectGradientsMatch(*library, GetParam(), torch::kBFloat16, 2e-2);
}

INSTANTIATE_TEST_SUITE_P(Masks, SdpaGradientBf16,
                         ::testing::ValuesIn(bf16Cases()), caseName);

// And with a warp per 32 rows (two mma.sync row tiles) in tiles of 64: on
// the GPU's tensor cores the gradient takes the staged side 32 rows at a
// time; the lengths are still awkward (not multiples of 64).
constexpr char kBf16Warp32Name[] = "sdpa_gradient_bf16_warp32",
               kWarp32Tiles[] = "--block-q 64 --block-k 64 --warp-rows 32";
using SdpaGradientBf16Warp32 =
    GradientSuite<kBf16Warp32Name, kBf16, bf16Cases, kWarp32Tiles>;

TEST_P(SdpaGradientBf16Warp32, MatchesAutograd) {
  ASSERT_TRUE(library);
  expectGradientsMatch(*library, GetParam(), torch::kBFloat16, 2e-2);
}

INSTANTIATE_TEST_SUITE_P(Masks, SdpaGradientBf16Warp32,
                         ::testing::ValuesIn(bf16Cases()), caseName);

// And with the gradient in tiles and warps of its own (grad-block-q/k,
// grad-warp-rows): the forward's tiles of 64 and 32 rows a warp, the
// gradient's of 32 and 16 rows a warp, reading the log-sum-exp the forward
// saved by row whatever the tiles.
constexpr char kBf16GradTilesName[] = "sdpa_gradient_bf16_grad_tiles",
               kGradTiles[] = "--block-q 64 --block-k 64 --warp-rows 32 "
                              "--grad-block-q 32 --grad-block-k 32 "
                              "--grad-warp-rows 16";
using SdpaGradientBf16GradTiles =
    GradientSuite<kBf16GradTilesName, kBf16, bf16Cases, kGradTiles>;

TEST_P(SdpaGradientBf16GradTiles, MatchesAutograd) {
  ASSERT_TRUE(library);
  expectGradientsMatch(*library, GetParam(), torch::kBFloat16, 2e-2);
}

INSTANTIATE_TEST_SUITE_P(Masks, SdpaGradientBf16GradTiles,
                         ::testing::ValuesIn(bf16Cases()), caseName);

// And with every staged tile copied by the tensor memory accelerator
// (--tensor-copies all: on sm_90a, the forward's key and value tiles and
// the gradient's staged side, clipped windows included; the CPU ignores
// it): the same awkward lengths, rows past a sequence's end read as zeros.
constexpr char kBf16TensorCopiesName[] = "sdpa_gradient_bf16_tensor_copies",
               kTensorCopies[] = "--block-q 64 --block-k 64 --warp-rows 32 "
                                 "--tensor-copies all";
using SdpaGradientBf16TensorCopies =
    GradientSuite<kBf16TensorCopiesName, kBf16, bf16Cases, kTensorCopies>;

TEST_P(SdpaGradientBf16TensorCopies, MatchesAutograd) {
  ASSERT_TRUE(library);
  expectGradientsMatch(*library, GetParam(), torch::kBFloat16, 2e-2);
}

INSTANTIATE_TEST_SUITE_P(Masks, SdpaGradientBf16TensorCopies,
                         ::testing::ValuesIn(bf16Cases()), caseName);

// And in 128-row forward tiles of 16 rows a warp (two warpgroups a block)
// with nothing else asked for: by default such a forward is
// warp-specialised (its tiles tensor-copied by a producer), overlapped and
// persistent; the gradient in 64 x 64 (one warpgroup) stays plain.
constexpr char kBf16TwoWarpgroupsName[] = "sdpa_gradient_bf16_two_warpgroups",
               kTwoWarpgroups[] = "--block-q 128 --block-k 64 --warp-rows 16 "
                                  "--grad-block-q 64 --grad-block-k 64";
using SdpaGradientBf16TwoWarpgroups =
    GradientSuite<kBf16TwoWarpgroupsName, kBf16, bf16Cases, kTwoWarpgroups>;

TEST_P(SdpaGradientBf16TwoWarpgroups, MatchesAutograd) {
  ASSERT_TRUE(library);
  expectGradientsMatch(*library, GetParam(), torch::kBFloat16, 2e-2);
}

INSTANTIATE_TEST_SUITE_P(Masks, SdpaGradientBf16TwoWarpgroups,
                         ::testing::ValuesIn(bf16Cases()), caseName);

// And with no tile flags at all: the target's choice (docs/lowering.md,
// "Attention's tiles") -- on sm_90a 128 x 128 forwards where the mask's
// work allows (dense, causal, key padding; D = 128 too), specialised,
// overlapped and persistent, 64 x 64 elsewhere and for the gradient; the
// CPU's 64 x 64.
constexpr char kBf16TargetTilesName[] = "sdpa_gradient_bf16_target_tiles",
               kTargetTiles[] = "";
using SdpaGradientBf16TargetTiles =
    GradientSuite<kBf16TargetTilesName, kBf16, bf16Cases, kTargetTiles>;

TEST_P(SdpaGradientBf16TargetTiles, MatchesAutograd) {
  ASSERT_TRUE(library);
  expectGradientsMatch(*library, GetParam(), torch::kBFloat16, 2e-2);
}

INSTANTIATE_TEST_SUITE_P(Masks, SdpaGradientBf16TargetTiles,
                         ::testing::ValuesIn(bf16Cases()), caseName);

// And the same forward unspecialised (--tensor-copies off, which turns
// warp-specialize, overlap-softmax and persistent-attention off with it):
// the block's cp.async, Q through a descriptor of the block's tile.
constexpr char kBf16UnspecializedName[] = "sdpa_gradient_bf16_unspecialized",
               kUnspecialized[] = "--block-q 128 --block-k 64 "
                                  "--warp-rows 16 --grad-block-q 64 "
                                  "--grad-block-k 64 --tensor-copies off";
using SdpaGradientBf16Unspecialized =
    GradientSuite<kBf16UnspecializedName, kBf16, bf16Cases, kUnspecialized>;

TEST_P(SdpaGradientBf16Unspecialized, MatchesAutograd) {
  ASSERT_TRUE(library);
  expectGradientsMatch(*library, GetParam(), torch::kBFloat16, 2e-2);
}

INSTANTIATE_TEST_SUITE_P(Masks, SdpaGradientBf16Unspecialized,
                         ::testing::ValuesIn(bf16Cases()), caseName);

// And with a producer warpgroup issuing those copies into a ring of stages
// while the launch's warpgroups compute (--warp-specialize: the key loops
// of the forward and the gradient, each launch 128 threads larger, the
// consumers' barriers named; the CPU ignores it). The tiles of attn-bench's
// warp-specialised kernels: the forward in 128 query rows of 16 a warp (two
// consumer warpgroups), the gradient in 64 x 64 (one).
constexpr char kBf16WarpSpecializedName[] =
    "sdpa_gradient_bf16_warp_specialized",
               kWarpSpecialized[] = "--block-q 128 --block-k 64 "
                                    "--warp-rows 16 --grad-block-q 64 "
                                    "--grad-block-k 64 --tensor-copies all "
                                    "--warp-specialize";
using SdpaGradientBf16WarpSpecialized =
    GradientSuite<kBf16WarpSpecializedName, kBf16, bf16Cases, kWarpSpecialized>;

TEST_P(SdpaGradientBf16WarpSpecialized, MatchesAutograd) {
  ASSERT_TRUE(library);
  expectGradientsMatch(*library, GetParam(), torch::kBFloat16, 2e-2);
}

INSTANTIATE_TEST_SUITE_P(Masks, SdpaGradientBf16WarpSpecialized,
                         ::testing::ValuesIn(bf16Cases()), caseName);

// And with each forward step's P V issued with the next step's S = Q K^T
// (--overlap-softmax: the softmax runs beside the last P V, which the
// finalize completes; the CPU ignores it), the forward warp-specialised as
// above and the gradient not (--tensor-copies forward: its tiles the
// block's cp.async); awkward lengths, so that the last step is a clipped
// tile.
constexpr char kBf16OverlapName[] = "sdpa_gradient_bf16_overlap_softmax",
               kOverlap[] = "--block-q 128 --block-k 64 --warp-rows 16 "
                            "--grad-block-q 64 --grad-block-k 64 "
                            "--tensor-copies forward --warp-specialize "
                            "--overlap-softmax";
using SdpaGradientBf16OverlapSoftmax =
    GradientSuite<kBf16OverlapName, kBf16, bf16Cases, kOverlap>;

TEST_P(SdpaGradientBf16OverlapSoftmax, MatchesAutograd) {
  ASSERT_TRUE(library);
  expectGradientsMatch(*library, GetParam(), torch::kBFloat16, 2e-2);
}

INSTANTIATE_TEST_SUITE_P(Masks, SdpaGradientBf16OverlapSoftmax,
                         ::testing::ValuesIn(bf16Cases()), caseName);

// And persistent (--persistent-attention: as many blocks as fit the
// multiprocessors, each walking tiles, the producer's ring and barriers set
// up once a block and carried from tile to tile), the forward overlapped
// and the gradient warp-specialised (--tensor-copies all), so that both
// kinds of launch walk tiles; the CPU ignores it.
constexpr char kBf16PersistentName[] = "sdpa_gradient_bf16_persistent",
               kPersistent[] = "--block-q 128 --block-k 64 --warp-rows 16 "
                               "--grad-block-q 64 --grad-block-k 64 "
                               "--tensor-copies all --warp-specialize "
                               "--overlap-softmax --persistent-attention";
using SdpaGradientBf16Persistent =
    GradientSuite<kBf16PersistentName, kBf16, bf16Cases, kPersistent>;

TEST_P(SdpaGradientBf16Persistent, MatchesAutograd) {
  ASSERT_TRUE(library);
  expectGradientsMatch(*library, GetParam(), torch::kBFloat16, 2e-2);
}

INSTANTIATE_TEST_SUITE_P(Masks, SdpaGradientBf16Persistent,
                         ::testing::ValuesIn(bf16Cases()), caseName);

// And with the producer copying each tile's queries too (--producer-queries,
// the default, asked for so that this suite keeps it: one swizzled tile of
// the block's rows in two slots, S = Q K^T through descriptors), in the
// target's tiles and its defaults otherwise (the forward overlapped and
// persistent, 128-key tiles where the head dim is 64); the grid sized for two
// multiprocessors (--multiprocessors 2), so that each block walks many
// tiles and both slots, and the producer's ring, go round several times.
// The CPU ignores both.
constexpr char kBf16ProducerQueriesName[] =
    "sdpa_gradient_bf16_producer_queries",
               kProducerQueries[] = "--producer-queries --multiprocessors 2";
using SdpaGradientBf16ProducerQueries =
    GradientSuite<kBf16ProducerQueriesName, kBf16, bf16Cases, kProducerQueries>;

TEST_P(SdpaGradientBf16ProducerQueries, MatchesAutograd) {
  ASSERT_TRUE(library);
  expectGradientsMatch(*library, GetParam(), torch::kBFloat16, 2e-2);
}

INSTANTIATE_TEST_SUITE_P(Masks, SdpaGradientBf16ProducerQueries,
                         ::testing::ValuesIn(bf16Cases()), caseName);

// And with the gradient in one nest over the key tiles (--grad-fused-query:
// each pair's dS K added to dQ's f32 sums -- atomics, or on sm_90a bulk
// reductions -- then converted): every case in f32 (the CPU's rows and the
// GPU's 3xTF32 tiles, one warp of 32 rows a key tile), and the bf16 cases
// in attn-bench's gradient tiles (64 x 64, four warps sharing dQ's units),
// on their own and with the gradient's key loop warp-specialised (its
// barriers named).
constexpr char kFusedQueryName[] = "sdpa_gradient_fused_query",
               kFusedQuery[] = "--block-q 32 --block-k 32 --grad-fused-query";
using SdpaGradientFusedQuery =
    GradientSuite<kFusedQueryName, kF32, allCases, kFusedQuery>;

TEST_P(SdpaGradientFusedQuery, MatchesAutograd) {
  ASSERT_TRUE(library);
  expectGradientsMatch(*library, GetParam(), torch::kFloat32, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Masks, SdpaGradientFusedQuery,
                         ::testing::ValuesIn(allCases()), caseName);

constexpr char kBf16FusedQueryName[] = "sdpa_gradient_bf16_fused_query",
               kBf16FusedQuery[] = "--block-q 64 --block-k 64 "
                                   "--grad-warp-rows 16 --grad-fused-query";
using SdpaGradientBf16FusedQuery =
    GradientSuite<kBf16FusedQueryName, kBf16, bf16Cases, kBf16FusedQuery>;

TEST_P(SdpaGradientBf16FusedQuery, MatchesAutograd) {
  ASSERT_TRUE(library);
  expectGradientsMatch(*library, GetParam(), torch::kBFloat16, 2e-2);
}

INSTANTIATE_TEST_SUITE_P(Masks, SdpaGradientBf16FusedQuery,
                         ::testing::ValuesIn(bf16Cases()), caseName);

constexpr char kBf16FusedSpecializedName[] =
    "sdpa_gradient_bf16_fused_query_specialized",
               kBf16FusedSpecialized[] =
                   "--block-q 128 --block-k 64 --warp-rows 16 "
                   "--grad-block-q 64 --grad-block-k 64 --tensor-copies all "
                   "--warp-specialize --grad-fused-query";
using SdpaGradientBf16FusedSpecialized =
    GradientSuite<kBf16FusedSpecializedName, kBf16, bf16Cases,
                  kBf16FusedSpecialized>;

TEST_P(SdpaGradientBf16FusedSpecialized, MatchesAutograd) {
  ASSERT_TRUE(library);
  expectGradientsMatch(*library, GetParam(), torch::kBFloat16, 2e-2);
}

INSTANTIATE_TEST_SUITE_P(Masks, SdpaGradientBf16FusedSpecialized,
                         ::testing::ValuesIn(bf16Cases()), caseName);

} // namespace

//===- MaskPatternCheck.cpp - checking a pattern's classification --------===//

#include "MaskPatternCheck.h"

#include "attn/IR/MaskCheck.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::attn;

namespace attn::test {

/// Every length up to kShortLengths, then longer ones of every residue
/// class that matters (a power of two, one past and one short of it, odd).
constexpr int64_t kShortLengths = 200;
constexpr int64_t kLongLengths[] = {257, 333, 1024, 2047};
/// Square power-of-two tiles, and tiles neither square nor a power of two.
constexpr std::pair<int64_t, int64_t> kTiles[] = {
    {16, 16}, {32, 32}, {64, 64}, {128, 128}, {48, 80}, {100, 36}, {7, 13}};

std::vector<int64_t> paddingLengths(int64_t n) {
  return {n, (n * 2) / 3, 1, 0};
}

namespace {
class Lengths : public RuntimeData {
public:
  explicit Lengths(int64_t n) : values(paddingLengths(n)) {}
  int64_t lookup(Value, int64_t index) const override { return values[index]; }
  std::vector<int64_t> values;
};

/// Kept-pair counts of a truth matrix over rectangles, in O(1).
class PrefixSums {
public:
  explicit PrefixSums(int64_t n) : n(n), sums((n + 1) * (n + 1), 0) {}
  void set(int64_t q, int64_t k) { sums[(q + 1) * (n + 1) + (k + 1)] = 1; }
  void finish() {
    for (int64_t q = 1; q <= n; ++q)
      for (int64_t k = 1; k <= n; ++k)
        sums[q * (n + 1) + k] += sums[(q - 1) * (n + 1) + k] +
                                 sums[q * (n + 1) + k - 1] -
                                 sums[(q - 1) * (n + 1) + k - 1];
  }
  int64_t count(const TileRange &t) const {
    auto at = [&](int64_t q, int64_t k) { return sums[q * (n + 1) + k]; };
    return at(t.qEnd, t.kEnd) - at(t.qBegin, t.kEnd) - at(t.qEnd, t.kBegin) +
           at(t.qBegin, t.kBegin);
  }

private:
  int64_t n;
  std::vector<int64_t> sums;
};
} // namespace

ParsedCase::ParsedCase(const MaskCase &c,
                       std::function<void(DialectRegistry &)> extend) {
  DialectRegistry registry;
  registry.insert<AttnDialect, arith::ArithDialect, func::FuncDialect,
                  tensor::TensorDialect>();
  if (extend)
    extend(registry);
  context.appendDialectRegistry(registry);
  context.loadAllAvailableDialects();
  std::string src = std::string("func.func @m(%len: tensor<4xi32>) {\n") +
                    c.body + "\n  return\n}\n";
  module = parseSourceString<ModuleOp>(src, &context);
  if (!module)
    return;
  auto fn = cast<func::FuncOp>(module->getBody()->front());
  Operation *last = fn.getBody().front().getTerminator()->getPrevNode();
  pattern = dyn_cast_or_null<MaskPattern>(last);
}

namespace {
/// The check at one length and batch entry.
void checkAt(const MaskCase &c, MaskPattern pattern, int64_t n, int64_t b,
             bool runtime) {
  Lengths lengths(n);
  MaskContext ctx{n, b, runtime ? &lengths : nullptr};
  std::string where = " at n=" + std::to_string(n) + " b=" + std::to_string(b);
  PrefixSums kept(n);
  std::vector<bool> keptPairs(n * n);
  for (int64_t q = 0; q < n; ++q) {
    for (int64_t k = 0; k < n; ++k) {
      bool value = pattern.evaluate(ctx, q, k);
      ASSERT_EQ(value, c.reference(b, q, k, n))
          << c.name << ": predicate disagrees with the definition" << where
          << " q=" << q << " k=" << k;
      keptPairs[q * n + k] = value;
      if (value)
        kept.set(q, k);
    }
  }
  kept.finish();
  // The IR that partial tiles run, interpreted, on every pair.
  MaskChecker checker(pattern, ctx);
  if (std::optional<MaskDefect> d =
          checker.checkPredicate({0, n, 0, n}, [&](int64_t q, int64_t k) {
            return bool(keptPairs[q * n + k]);
          }))
    FAIL() << c.name << ": '" << d->op->getName().getStringRef().str() << "' "
           << d->message;
  for (auto [bq, bk] : kTiles) {
    for (int64_t q0 = 0; q0 < n; q0 += bq) {
      int64_t q1 = std::min(q0 + bq, n);
      // No kept pair outside the key ranges.
      KeyRanges ranges = normalizeKeyRanges(pattern.keyRanges(ctx, q0, q1), n);
      int64_t k = 0;
      for (size_t r = 0; r <= ranges.size(); ++r) {
        int64_t gapEnd = r < ranges.size() ? ranges[r].begin : n;
        TileRange gap{q0, q1, k, gapEnd};
        ASSERT_TRUE(gapEnd <= k || kept.count(gap) == 0)
            << c.name << ": keyRanges for queries [" << q0 << ", " << q1
            << ") leave out keys [" << k << ", " << gapEnd << ") with "
            << kept.count(gap) << " kept pairs" << where;
        if (r < ranges.size())
          k = ranges[r].end;
      }
      for (int64_t k0 = 0; k0 < n; k0 += bk) {
        TileRange t{q0, q1, k0, std::min(k0 + bk, n)};
        int64_t count = kept.count(t);
        int64_t size = (t.qEnd - t.qBegin) * (t.kEnd - t.kBegin);
        TileKind expected = count == 0      ? TileKind::Empty
                            : count == size ? TileKind::Full
                                            : TileKind::Partial;
        TileKind actual = pattern.classifyTile(ctx, t);
        ASSERT_EQ(actual, expected)
            << c.name << ": tile q[" << t.qBegin << "," << t.qEnd << ") k["
            << t.kBegin << "," << t.kEnd << ")" << where << " classified "
            << stringifyTileKind(actual).str() << ", has " << count << " of "
            << size << " pairs kept";
        if (!runtime)
          continue;
        // Without runtime data the answer holds within the key limit; what
        // it claims there must be true.
        MaskContext noData{n, b, nullptr};
        int64_t limit = *pattern.evaluateKeyLimit(ctx);
        if (t.kEnd > limit)
          continue;
        TileKind within = pattern.classifyTile(noData, t);
        ASSERT_EQ(within, actual)
            << c.name << ": classification without runtime data differs "
            << "inside the key limit" << where;
      }
    }
  }
}
} // namespace

void checkMaskCase(const MaskCase &c,
                   std::function<void(DialectRegistry &)> extend) {
  ParsedCase parsed(c, extend);
  ASSERT_TRUE(parsed.module) << "case " << c.name << " does not parse";
  ASSERT_TRUE(parsed.pattern) << "case " << c.name << " has no pattern";
  MaskPattern pattern = parsed.pattern;
  bool runtime = !pattern.hasStaticClassification();
  std::vector<int64_t> lengths;
  for (int64_t n = 1; n <= kShortLengths; ++n)
    lengths.push_back(n);
  lengths.insert(lengths.end(), std::begin(kLongLengths),
                 std::end(kLongLengths));
  for (int64_t n : lengths) {
    for (int64_t b = 0; b < (runtime ? 4 : 1); ++b) {
      checkAt(c, pattern, n, b, runtime);
      if (::testing::Test::HasFatalFailure())
        return;
    }
  }
}

} // namespace attn::test

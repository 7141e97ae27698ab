//===- MaskCheck.cpp - checking a pattern's answers against its predicate -===//

#include "attn/IR/MaskCheck.h"

#include "PredicateProgram.h"
#include "VerifyUtils.h"

#include "llvm/Support/raw_ostream.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::attn;
using mlir::attn::detail::PredicateProgram;

/// A pattern's buildPredicate IR in a block of its own (inputs q, k, n,
/// batch), compiled for the interpreter.
struct MaskChecker::Predicate {
  std::unique_ptr<Block> block = std::make_unique<Block>();
  std::optional<PredicateProgram> program;
  /// Why the program could not be compiled, where it could not.
  std::string unsupported;
  ~Predicate() { block->dropAllReferences(); }
};

MaskChecker::MaskChecker(MaskPattern pattern, const MaskContext &ctx)
    : pattern(pattern), ctx(ctx) {}
MaskChecker::~MaskChecker() = default;

namespace {
std::string describeTile(const TileRange &t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "the tile of queries [" << t.qBegin << ", " << t.qEnd << ") and keys ["
     << t.kBegin << ", " << t.kEnd << ")";
  return s;
}

std::string describeContext(const MaskContext &ctx) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << " (sequence length " << ctx.seqLen;
  if (ctx.runtime)
    os << ", batch entry " << ctx.batch;
  os << ")";
  return s;
}

bool contains(ArrayRef<KeyRange> ranges, int64_t k) {
  auto it = llvm::upper_bound(
      ranges, k, [](int64_t key, const KeyRange &r) { return key < r.begin; });
  return it != ranges.begin() && k < std::prev(it)->end;
}

SmallVector<MaskPattern> operandPatterns(MaskPattern pattern) {
  SmallVector<MaskPattern> patterns;
  for (Operation *producer : mlir::attn::detail::maskProducers(pattern))
    if (auto p = dyn_cast<MaskPattern>(producer))
      patterns.push_back(p);
  return patterns;
}
} // namespace

MaskChecker::Predicate *MaskChecker::predicateOf(MaskPattern p) {
  std::unique_ptr<Predicate> &slot = predicates[p.getOperation()];
  if (slot)
    return slot.get();
  slot = std::make_unique<Predicate>();
  Block &block = *slot->block;
  Location loc = p->getLoc();
  Type index = IndexType::get(p->getContext());
  SmallVector<Value> inputs; // q, k, n, batch
  for (int i = 0; i < 4; ++i)
    inputs.push_back(block.addArgument(index, loc));
  // The block has no parent region to find the context through.
  OpBuilder builder(p->getContext());
  builder.setInsertionPointToEnd(&block);
  PredicateBuilder pb(builder, loc, inputs[3], inputs[2], ctx.seqLen);
  Value result = p.buildPredicate(pb, inputs[0], inputs[1]);
  if (!result) {
    slot->unsupported = "its buildPredicate failed";
    return slot.get();
  }
  Operation *bad = nullptr;
  slot->program =
      PredicateProgram::compile(block, block.end(), inputs, result, &bad);
  if (!slot->program)
    slot->unsupported =
        "its predicate uses '" +
        (bad ? bad->getName().getStringRef().str() : std::string("?")) +
        "', which the check cannot interpret";
  return slot.get();
}

std::optional<MaskDefect> MaskChecker::explainClass(MaskPattern p,
                                                    const TileRange &t) {
  TileKind claimed = p.classifyTile(ctx, t);
  TileKind actual = classifyByEnumeration(p, ctx, t);
  if (claimed == actual)
    return std::nullopt;
  for (MaskPattern operand : operandPatterns(p))
    if (std::optional<MaskDefect> d = explainClass(operand, t))
      return d;
  std::string msg;
  llvm::raw_string_ostream os(msg);
  os << "classifies " << describeTile(t) << " as " << stringifyTileKind(claimed)
     << ", but ";
  if (claimed == TileKind::Partial) {
    os << "every pair is " << (actual == TileKind::Full ? "kept" : "dropped");
  } else {
    bool wantKept = claimed == TileKind::Empty;
    for (int64_t q = t.qBegin; q < t.qEnd; ++q)
      for (int64_t k = t.kBegin; k < t.kEnd; ++k)
        if (p.evaluate(ctx, q, k) == wantKept) {
          os << "(q=" << q << ", k=" << k << ") is "
             << (wantKept ? "kept" : "dropped");
          return MaskDefect{p, msg + describeContext(ctx)};
        }
  }
  return MaskDefect{p, msg + describeContext(ctx)};
}

std::optional<MaskDefect> MaskChecker::checkClass(const TileRange &t) {
  return explainClass(pattern, t);
}

std::optional<MaskDefect> MaskChecker::explainKeyRanges(MaskPattern p,
                                                        int64_t qBegin,
                                                        int64_t qEnd, int64_t q,
                                                        int64_t k) {
  KeyRanges ranges =
      normalizeKeyRanges(p.keyRanges(ctx, qBegin, qEnd), ctx.seqLen);
  if (contains(ranges, k) || !p.evaluate(ctx, q, k))
    return std::nullopt;
  for (MaskPattern operand : operandPatterns(p))
    if (std::optional<MaskDefect> d =
            explainKeyRanges(operand, qBegin, qEnd, q, k))
      return d;
  std::string msg;
  llvm::raw_string_ostream os(msg);
  os << "leaves key " << k << " out of the keys that queries [" << qBegin
     << ", " << qEnd << ") may keep (keyRanges), but (q=" << q << ", k=" << k
     << ") is kept";
  return MaskDefect{p, msg + describeContext(ctx)};
}

std::optional<MaskDefect>
MaskChecker::checkKeyRanges(int64_t qBegin, int64_t qEnd,
                            ArrayRef<int64_t> queries) {
  KeyRanges ranges =
      normalizeKeyRanges(pattern.keyRanges(ctx, qBegin, qEnd), ctx.seqLen);
  for (int64_t q : queries)
    for (int64_t k = 0; k < ctx.seqLen; ++k)
      if (!contains(ranges, k) && pattern.evaluate(ctx, q, k))
        return explainKeyRanges(pattern, qBegin, qEnd, q, k);
  return std::nullopt;
}

std::optional<MaskDefect> MaskChecker::explainPredicate(MaskPattern p,
                                                        int64_t q, int64_t k) {
  Predicate *predicate = predicateOf(p);
  if (!predicate->program)
    return MaskDefect{p, predicate->unsupported};
  std::optional<bool> built =
      predicate->program->run({q, k, ctx.seqLen, ctx.batch}, ctx.runtime);
  bool defined = p.evaluate(ctx, q, k);
  if (!built || *built == defined)
    return std::nullopt;
  for (MaskPattern operand : operandPatterns(p))
    if (std::optional<MaskDefect> d = explainPredicate(operand, q, k))
      return d;
  std::string msg;
  llvm::raw_string_ostream os(msg);
  os << "builds a predicate that " << (*built ? "keeps" : "drops")
     << " (q=" << q << ", k=" << k << "), which its definition (evaluate) "
     << (defined ? "keeps" : "drops");
  return MaskDefect{p, msg + describeContext(ctx)};
}

std::optional<MaskDefect> MaskChecker::checkPredicate(
    const TileRange &t, llvm::function_ref<bool(int64_t, int64_t)> defined) {
  Predicate *predicate = predicateOf(pattern);
  if (!predicate->program)
    return MaskDefect{pattern, predicate->unsupported};
  for (int64_t q = t.qBegin; q < t.qEnd; ++q) {
    for (int64_t k = t.kBegin; k < t.kEnd; ++k) {
      std::optional<bool> built =
          predicate->program->run({q, k, ctx.seqLen, ctx.batch}, ctx.runtime);
      if (!built)
        return std::nullopt; // reads runtime data, and there is none
      if (*built != (defined ? defined(q, k) : pattern.evaluate(ctx, q, k)))
        return explainPredicate(pattern, q, k);
    }
  }
  return std::nullopt;
}

std::optional<MaskDefect> MaskChecker::checkSchedule(ScheduleAttr schedule,
                                                     int64_t maxPairs) {
  int64_t n = schedule.getSeqLen(), bq = schedule.getBlockQ(),
          bk = schedule.getBlockK();
  // The query rows to check against every key.
  SmallVector<int64_t> rows;
  int64_t budget = std::max<int64_t>(2, maxPairs / n);
  if (budget >= n) {
    for (int64_t q = 0; q < n; ++q)
      rows.push_back(q);
  } else {
    for (int64_t i = 0; i < budget; ++i)
      rows.push_back(i * (n - 1) / (budget - 1));
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  }
  auto tileAt = [&](int64_t i, int64_t j) {
    return TileRange{i * bq, std::min(n, (i + 1) * bq), j * bk,
                     std::min(n, (j + 1) * bk)};
  };
  auto listed = [&](DenseI32ArrayAttr offsets, DenseI32ArrayAttr blocks,
                    int64_t i) {
    return blocks.asArrayRef().slice(offsets[i], offsets[i + 1] - offsets[i]);
  };
  std::vector<TileKind> claimed(llvm::divideCeil(n, bk));
  for (size_t r = 0; r < rows.size();) {
    int64_t i = rows[r] / bq;
    TileRange queryTile = tileAt(i, 0);
    ArrayRef<int32_t> full =
        listed(schedule.getFullOffsets(), schedule.getFullBlocks(), i);
    ArrayRef<int32_t> partial =
        listed(schedule.getPartialOffsets(), schedule.getPartialBlocks(), i);
    // Every listed tile of this query tile, by all its pairs.
    std::fill(claimed.begin(), claimed.end(), TileKind::Empty);
    for (auto [list, kind] : {std::make_pair(full, TileKind::Full),
                              std::make_pair(partial, TileKind::Partial)}) {
      for (int32_t j : list) {
        claimed[j] = kind;
        TileRange t = tileAt(i, j);
        if (classifyByEnumeration(pattern, ctx, t) != kind) {
          if (std::optional<MaskDefect> d = explainClass(pattern, t))
            return d;
          return MaskDefect{pattern, "the schedule lists " + describeTile(t) +
                                         " as " +
                                         stringifyTileKind(kind).str() +
                                         ", which its pairs contradict" +
                                         describeContext(ctx)};
        }
        // Kernels run the predicate IR on partial tiles.
        if (kind == TileKind::Partial)
          if (std::optional<MaskDefect> d = checkPredicate(t))
            return d;
      }
    }
    // The chosen rows of this query tile against the keys it drops.
    KeyRanges ranges = normalizeKeyRanges(
        pattern.keyRanges(ctx, queryTile.qBegin, queryTile.qEnd), n);
    for (; r < rows.size() && rows[r] / bq == i; ++r) {
      int64_t q = rows[r];
      for (int64_t k = 0; k < n; ++k) {
        if (claimed[k / bk] != TileKind::Empty || !pattern.evaluate(ctx, q, k))
          continue;
        TileRange t = tileAt(i, k / bk);
        std::optional<MaskDefect> d =
            contains(ranges, k) ? explainClass(pattern, t)
                                : explainKeyRanges(pattern, queryTile.qBegin,
                                                   queryTile.qEnd, q, k);
        if (d)
          return d;
        return MaskDefect{pattern, "the schedule leaves out " +
                                       describeTile(t) +
                                       ", but (q=" + std::to_string(q) +
                                       ", k=" + std::to_string(k) +
                                       ") is kept" + describeContext(ctx)};
      }
    }
  }
  return std::nullopt;
}

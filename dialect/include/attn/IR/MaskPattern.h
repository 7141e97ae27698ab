//===- MaskPattern.h - what the compiler knows about a mask ---*- C++ -*-===//
//
// Plain data used by the MaskPattern op interface (AttnInterfaces.td): tile
// kinds, the facts classification depends on, and the builder that pattern
// ops emit their element predicates into.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_IR_MASKPATTERN_H
#define ATTN_IR_MASKPATTERN_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/SmallVector.h"
#include <cstdint>
#include <optional>

namespace mlir::attn {

/// How a tile of (query, key) pairs relates to a mask. The numeric values
/// are part of the schedule tables' encoding.
enum class TileKind : uint8_t { Empty = 0, Partial = 1, Full = 2 };

llvm::StringRef stringifyTileKind(TileKind kind);

/// Values of runtime operands (key-padding lengths) during checks.
class RuntimeData {
public:
  virtual ~RuntimeData();
  /// Element `index` of the rank-1 runtime tensor `operand`.
  virtual int64_t lookup(Value operand, int64_t index) const = 0;
};

/// What classification and evaluation depend on.
struct MaskContext {
  /// Sequence length n (queries and keys range over [0, n)).
  int64_t seqLen = 0;
  /// Batch entry, for runtime-dependent patterns.
  int64_t batch = 0;
  /// Runtime operands; null means "within the key limit" (see MaskPattern).
  const RuntimeData *runtime = nullptr;
};

/// A tile: half-open query and key ranges inside [0, seqLen), non-empty.
struct TileRange {
  int64_t qBegin, qEnd, kBegin, kEnd;
};

/// A half-open range of key positions.
struct KeyRange {
  int64_t begin, end;
  bool operator==(const KeyRange &o) const {
    return begin == o.begin && end == o.end;
  }
};

/// Key ranges as MaskPattern::keyRanges answers them. Normalized lists are
/// sorted, disjoint, non-empty, and no two touch.
using KeyRanges = llvm::SmallVector<KeyRange, 2>;

/// `ranges` clipped to [0, seqLen), sorted, with overlapping or touching
/// ranges merged.
KeyRanges normalizeKeyRanges(KeyRanges ranges, int64_t seqLen);
/// The union and the intersection of two normalized lists (normalized).
KeyRanges uniteKeyRanges(llvm::ArrayRef<KeyRange> a,
                         llvm::ArrayRef<KeyRange> b);
KeyRanges intersectKeyRanges(llvm::ArrayRef<KeyRange> a,
                             llvm::ArrayRef<KeyRange> b);

/// Where pattern ops emit their element predicates. Lowerings that work on
/// memrefs or inside GPU kernels override how tables and runtime operands
/// are read; the defaults work on tensors.
class PredicateBuilder {
public:
  PredicateBuilder(OpBuilder &builder, Location loc, Value batch, Value seqLen,
                   std::optional<int64_t> staticSeqLen)
      : builder(builder), loc(loc), batch(batch), seqLen(seqLen),
        staticSeqLen(staticSeqLen) {}
  virtual ~PredicateBuilder();

  /// Reads data[indices] (row-major `shape`) from a constant table, as an
  /// index value.
  virtual Value lookupTable(llvm::ArrayRef<int32_t> data,
                            llvm::ArrayRef<int64_t> shape, ValueRange indices);
  /// Reads element `index` of the rank-1 runtime tensor `operand` as index.
  virtual Value readRuntime(Value operand, Value index);

  OpBuilder &builder;
  Location loc;
  Value batch;
  Value seqLen;
  std::optional<int64_t> staticSeqLen;
};

class MaskPattern;

/// The MaskPattern of the op defining `mask`, or null when the value is not
/// produced by a pattern op (e.g. a block argument).
MaskPattern getMaskPattern(Value mask);

/// Classifies `tile` by evaluating every pair: the reference answer, and the
/// refinement combinators fall back to when their operands cannot decide.
TileKind classifyByEnumeration(MaskPattern pattern, const MaskContext &ctx,
                               const TileRange &tile);

} // namespace mlir::attn

#endif // ATTN_IR_MASKPATTERN_H

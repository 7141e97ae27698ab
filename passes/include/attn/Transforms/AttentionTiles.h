//===- AttentionTiles.h - attention's tiles, or the target's -*- C++ -*-===//
//
// Shared by attn-schedule-blocks (a masked attention's tiles are its
// schedule's) and attn-tile (unmasked attention, linear attention): block-q
// and block-k of 0 leave a tile dimension to the target (--lower-to-gpu's
// default), and both passes must resolve it alike.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TRANSFORMS_ATTENTIONTILES_H
#define ATTN_TRANSFORMS_ATTENTIONTILES_H

#include "attn/IR/AttnOps.h"

#include "mlir/IR/BuiltinTypes.h"

#include <cstdint>

namespace mlir::attn {

/// Query rows by keys of an attention tile.
struct AttentionTile {
  int64_t q = 0, k = 0;
  bool operator==(const AttentionTile &o) const { return q == o.q && k == o.k; }
};

/// The tile of every kernel the target has no better tile for, and of the
/// gradient: 64 x 64 (on warpgroup MMA too, its fastest gradient tile:
/// tools/attn-bench/NOTES.md, session 58).
constexpr AttentionTile kBaseAttentionTile{64, 64};

/// How much more work (query-key pairs visited) a preferred tile may do
/// than the least of the candidates and still be chosen: on sm_90a the
/// 128 x 128 forward ran 5% (causal) to 10% (dense) faster than 64 x 64 at
/// equal work (one H100, N = 4096, NOTES.md session 58), so it may not cost
/// more work than that.
constexpr double kTileWorkSlack = 1.05;

/// `given`'s dimensions where non-zero, the others `base`'s.
inline AttentionTile withGiven(AttentionTile given, AttentionTile base) {
  return {given.q ? given.q : base.q, given.k ? given.k : base.k};
}

/// The widest head (queries or values) that takes 128-row forward tiles on
/// warpgroup MMA: at 128 dimensions the overlapped form's rings (two
/// stages of 128 keys, three of 128 values, 32 KiB each) and the warps'
/// staged queries take 192 KiB of a block's 227; at 256, 128 x 128's
/// rings alone would take 320 KiB, and 128 x 64's with its queries
/// 228 KiB.
constexpr int64_t kMaxWideHeadDim = 128;

/// The tiles the forward `op` may take on its target (attn.target), in
/// order of preference: on warpgroup MMA (sm_90a) with 16-bit elements 128 rows
/// (two consumer warpgroups at 16 rows a warp, which --lower-to-gpu
/// specialises, overlaps and makes persistent) by 128 keys where a head
/// has at most kMaxWideHeadDim dimensions (queries or values), then
/// 64 x 64; elsewhere 64 x 64 alone. The given (non-zero) dimensions
/// of `given` replace the candidates'.
inline SmallVector<AttentionTile> forwardTileCandidates(SdpaOp op,
                                                        AttentionTile given) {
  TargetAttr target = TargetAttr::lookup(op);
  auto query = cast<ShapedType>(op.getQuery().getType());
  auto value = cast<ShapedType>(op.getValue().getType());
  Type element = query.getElementType();
  int64_t headDim = std::max(query.getDimSize(3), value.getDimSize(3));
  SmallVector<AttentionTile> candidates;
  auto add = [&](AttentionTile t) {
    t = withGiven(given, t);
    if (!llvm::is_contained(candidates, t))
      candidates.push_back(t);
  };
  if (target.hasWarpgroupMma() && (element.isBF16() || element.isF16()) &&
      headDim <= kMaxWideHeadDim)
    add({128, 128});
  add(kBaseAttentionTile);
  return candidates;
}

/// Which of the candidates to take, given each one's work (the query-key
/// pairs its tiles cover, `visitedPairs`, in the candidates' order): the
/// first within kTileWorkSlack of the least -- a larger tile where it does
/// not make the mask's work grow (a causal mask, BigBird with 128-token
/// blocks), a smaller one where it would (BigBird with 64-token blocks, a
/// short sequence).
inline size_t chooseTile(ArrayRef<double> visitedPairs) {
  double least = *llvm::min_element(visitedPairs);
  for (auto [i, work] : llvm::enumerate(visitedPairs))
    if (work <= least * kTileWorkSlack)
      return i;
  llvm_unreachable("the least work is within its own slack");
}

/// The gradient's tile: grad-block-q and grad-block-k where given, else the
/// forward's given block-q and block-k, else kBaseAttentionTile.
inline AttentionTile gradientTile(AttentionTile forward,
                                  AttentionTile gradient) {
  return withGiven(gradient, withGiven(forward, kBaseAttentionTile));
}

} // namespace mlir::attn

#endif // ATTN_TRANSFORMS_ATTENTIONTILES_H

//===- ScoreMod.h - score regions of softmax attention -------*- C++ -*-===//
//
// attn.sdpa, attn.sdpa_grad and the softmax tile ops may carry a `score`
// region that rewrites each kept pair's score before the softmax: soft-
// capping (c tanh(s / c)), ALiBi (s - slope_h |q - k|), relative biases
// computed from the indices. The region receives the scaled score s =
// scale q . k as f32 and the pair's indices, and yields the new f32 score:
//   attn.sdpa, attn.sdpa_grad:      (s: f32, b: index, h: index, q: index,
//                                    k: index) -> f32
//   attn.tile.softmax_step,
//   attn.tile.softmax_grad_step:    (s: f32, q: index, k: index) -> f32
// (attn-tile binds b and h of the tile ops' regions to its loops). Mask
// predicates decide which pairs exist; the region only changes their
// scores, so it must be finite wherever s is.
//
// The ops a region may hold are those whose derivative reverse mode knows
// (attn/IR/Tangents.h): the gradient multiplies each pair's dS by
// d(region)/ds, computed in forward mode while the region is cloned, so
// that every region that verifies also differentiates.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_IR_SCOREMOD_H
#define ATTN_IR_SCOREMOD_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/Region.h"

namespace mlir::attn {

/// Whether `op` may appear in a score region: a scalar arith or math op
/// whose derivative BodyTangents knows (attn/IR/Tangents.h) -- the float
/// ones add, sub, mul, div, neg, max, min, select, exp, log, sqrt, tanh,
/// absf, constants and conversions from integers; any without a float
/// result (the integer and index arithmetic of indices, comparisons).
bool isScoreModOp(Operation *op);

/// Checks a score region: empty, or one block taking f32 and then
/// `numIndices` index arguments, yielding one f32 with attn.yield, holding
/// only isScoreModOp ops. `signature` names the arguments for messages.
LogicalResult verifyScoreRegion(Operation *op, Region &region,
                                unsigned numIndices, StringRef signature);

/// The region's result for score `s` (f32) and `indices`, cloned at `b`.
/// Values the region uses from outside it are used as they are.
Value emitScoreMod(OpBuilder &b, Location loc, Region &region, Value s,
                   ValueRange indices);

/// The region's result and its derivative with respect to `s`, both f32.
struct ScoreWithSlope {
  Value score, slope;
};
ScoreWithSlope emitScoreModWithSlope(OpBuilder &b, Location loc, Region &region,
                                     Value s, ValueRange indices);

/// Fills the empty region `to` with attn.sdpa's region `from` as a tile
/// op's: (s, q, k), with `from`'s batch and head arguments bound to
/// `batch` and `head` (values that dominate the tile op).
void bindScoreRegion(OpBuilder &b, Location loc, Region &from, Region &to,
                     Value batch, Value head);

} // namespace mlir::attn

#endif // ATTN_IR_SCOREMOD_H

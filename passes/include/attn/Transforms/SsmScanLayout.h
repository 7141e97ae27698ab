//===- SsmScanLayout.h - an SSM's channels over a warp's lanes -*- C++ -*-===//
//
// Shared by attn-tile (which sizes the GPU form's channel groups) and the
// GPU lowering of tile.ssm_scan (which lays a group's modes over lanes).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TRANSFORMS_SSMSCANLAYOUT_H
#define ATTN_TRANSFORMS_SSMSCANLAYOUT_H

#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <cstdint>

namespace mlir::attn {

/// Lanes of a warp.
constexpr int64_t kScanWarpLanes = 32;
/// Modes per lane at most: their state and coefficients (6 f32 each) stay
/// in registers.
constexpr int64_t kScanMaxModesPerLane = 16;

/// Lanes that share one channel's `modes` modes: the smallest power of two
/// that leaves each at most kScanMaxModesPerLane (at most a warp).
inline int64_t ssmLanesPerChannel(int64_t modes) {
  return std::min<int64_t>(kScanWarpLanes, llvm::PowerOf2Ceil(llvm::divideCeil(
                                               modes, kScanMaxModesPerLane)));
}

/// Channels one warp scans at once.
inline int64_t ssmChannelsPerWarp(int64_t modes) {
  return kScanWarpLanes / ssmLanesPerChannel(modes);
}

} // namespace mlir::attn

#endif // ATTN_TRANSFORMS_SSMSCANLAYOUT_H

//===- SsmScanLayout.h - an SSM's channels over a warp's lanes -*- C++ -*-===//
//
// Shared by attn-tile (which sizes the GPU form's channel groups and
// chooses its chunks) and the GPU lowering of tile.ssm_scan (which lays a
// group's modes over lanes).
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
/// that leaves each at most `maxModesPerLane` (at most a warp).
inline int64_t
ssmLanesPerChannel(int64_t modes,
                   int64_t maxModesPerLane = kScanMaxModesPerLane) {
  return std::min<int64_t>(kScanWarpLanes, llvm::PowerOf2Ceil(llvm::divideCeil(
                                               modes, maxModesPerLane)));
}

/// Channels one warp scans at once.
inline int64_t ssmChannelsPerWarp(int64_t modes) {
  return kScanWarpLanes / ssmLanesPerChannel(modes);
}

/// Modes per lane at most in the gradient's adjoint pass: eight carried
/// values and the coefficient (two) a mode stay in registers (at 16 the
/// GPU form spills).
constexpr int64_t kAdjointMaxModesPerLane = 8;

/// Channels one warp of the adjoint pass takes at once: the GPU form's
/// adjoint instances are groups of this many, so that each warp walks the
/// rows once.
inline int64_t ssmAdjointChannelsPerWarp(int64_t modes) {
  return kScanWarpLanes / ssmLanesPerChannel(modes, kAdjointMaxModesPerLane);
}

/// The GPU form's scans, a warp each, walk the sequence at about 120 ns a
/// step whatever their number up to a few hundred (latency-bound below a
/// warp per scheduler); chunked, they do 1.8 times the work but keep the GPU
/// busy, at about 0.4 ns a step per scan. Measured on an H100: chunks win
/// 7.9x at 32 scans, 3.6x at 64, lose 0.8x at 384; chunks are used below
/// this many scans, short of the crossover, for the carry's cost.
constexpr int64_t kChunkBelowScans = 192;
/// Chunked instances to aim at, per SM: about a warp per scheduler (four);
/// fewer, longer chunks spread each warp's loads of coefficients and state
/// over more steps (4 x 132 = 528 beat 128 at 32 and 64 scans on an H100).
constexpr int64_t kChunkedScansPerMultiprocessor = 4;

/// The chunk length of the GPU form's scan of `length` positions by
/// `scans` warps (batch entries x channel groups) on a GPU of
/// `multiprocessors` SMs (attn.target): none (0) where there are scans
/// enough, else chunks of at least 64 positions (a power of two), enough of
/// them for about kChunkedScansPerMultiprocessor instances per SM.
inline int64_t ssmChunkLength(int64_t scans, int64_t length,
                              int64_t multiprocessors) {
  if (scans >= kChunkBelowScans)
    return 0;
  int64_t chunks = llvm::divideCeil(
      kChunkedScansPerMultiprocessor * multiprocessors, scans);
  return std::max<int64_t>(
      64, llvm::PowerOf2Ceil(llvm::divideCeil(length, chunks)));
}

} // namespace mlir::attn

#endif // ATTN_TRANSFORMS_SSMSCANLAYOUT_H

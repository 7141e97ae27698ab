//===- SharedLayout.h - swizzled shared-memory tiles as data ----*- C++ -*-===//
//
// How a tile's bytes are placed in shared memory, as a function rather than
// as padding chosen inside the lowerings. The hardware's swizzle modes
// (wgmma's matrix descriptors and TMA's tensor maps on sm_90a) store the
// 16-byte chunk c of a row at chunk c XOR (a few bits of the row), so that
// the eight rows one ldmatrix phase (or one wgmma core matrix) reads start in
// eight different groups of banks without padding the rows. The Hopper
// instructions need the swizzled forms (SwizzledTile in the conversions'
// GPUTiles.h emits them); tiles that only ldmatrix reads keep padded rows,
// which are cheaper to address (TileLayout there).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_CONVERSION_SHAREDLAYOUT_H
#define ATTN_CONVERSION_SHAREDLAYOUT_H

#include <cstdint>

namespace mlir::attn {

/// The swizzle of a row of `rowBytes(mode)` bytes: with byte offset o from a
/// base aligned to `atomBytes(mode)`, bits 4 .. 4 + b - 1 of o (the 16-byte
/// chunk) are XORed with bits 7 .. 7 + b - 1 (b = 3, 2, 1, 0 for 128-, 64-,
/// 32-byte and no swizzle; PTX ISA, "Shared Memory Matrix Layout" of wgmma
/// and the tensor map's CU_TENSOR_MAP_SWIZZLE_*). The rows of a tile are
/// `rowBytes` long and follow each other. Each mode's value is its b.
enum class Swizzle { None = 0, Bytes32 = 1, Bytes64 = 2, Bytes128 = 3 };

/// A row's length in bytes under `mode` (16 for None: one chunk).
int64_t rowBytes(Swizzle mode);
/// The bytes one swizzle pattern spans before it repeats: eight rows.
int64_t atomBytes(Swizzle mode);
/// Where the byte at unswizzled offset `offset` (row-major rows of
/// `rowBytes(mode)`) is stored.
int64_t swizzledOffset(int64_t offset, Swizzle mode);

/// wgmma's 64-bit shared-memory matrix descriptor (PTX ISA, "Matrix
/// Descriptor Format"): bits 0-13 the start address >> 4 (of its low 18
/// bits), 16-29 the leading dimension's byte offset >> 4, 32-45 the stride
/// dimension's byte offset >> 4, 49-51 the base offset (the start's row
/// within a swizzle pattern, where the pattern is not aligned), 62-63 the
/// swizzle (0 none, 1 128 bytes, 2 64 bytes, 3 32 bytes). Addresses and
/// offsets are multiples of 16 bytes.
uint64_t wgmmaDescriptor(uint32_t address, uint32_t leadingByteOffset,
                         uint32_t strideByteOffset, Swizzle mode,
                         uint32_t baseOffset = 0);

} // namespace mlir::attn

#endif // ATTN_CONVERSION_SHAREDLAYOUT_H

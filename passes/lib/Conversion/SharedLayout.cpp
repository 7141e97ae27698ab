//===- SharedLayout.cpp - swizzled shared-memory tiles as data ------------===//

#include "attn/Conversion/SharedLayout.h"

#include <cassert>

using namespace mlir::attn;

/// The number of chunk bits the mode XORs: its value.
static int64_t swizzleBits(Swizzle mode) { return static_cast<int64_t>(mode); }

int64_t mlir::attn::rowBytes(Swizzle mode) {
  return int64_t{16} << swizzleBits(mode);
}

int64_t mlir::attn::atomBytes(Swizzle mode) { return 8 * rowBytes(mode); }

int64_t mlir::attn::swizzledOffset(int64_t offset, Swizzle mode) {
  int64_t mask = (int64_t{1} << swizzleBits(mode)) - 1;
  return offset ^ (((offset >> 7) & mask) << 4);
}

uint64_t mlir::attn::wgmmaDescriptor(uint32_t address,
                                     uint32_t leadingByteOffset,
                                     uint32_t strideByteOffset, Swizzle mode,
                                     uint32_t baseOffset) {
  assert(address % 16 == 0 && leadingByteOffset % 16 == 0 &&
         strideByteOffset % 16 == 0 && "descriptor fields are in 16 bytes");
  assert(leadingByteOffset >> 4 < (1u << 14) &&
         strideByteOffset >> 4 < (1u << 14) && baseOffset < 8 &&
         "descriptor field out of range");
  // The descriptor's codes: 1, 2, 3 for 128, 64, 32 bytes; 0 for none.
  uint64_t bits = swizzleBits(mode), code = bits ? 4 - bits : 0;
  return (uint64_t{(address & 0x3FFFF) >> 4}) |
         (uint64_t{leadingByteOffset >> 4} << 16) |
         (uint64_t{strideByteOffset >> 4} << 32) |
         (uint64_t{baseOffset} << 49) | (code << 62);
}

//===- SharedLayout.cpp - swizzled shared-memory tiles as data ------------===//

#include "attn/Conversion/SharedLayout.h"

#include <cassert>

using namespace mlir::attn;

namespace {
/// The number of chunk bits the mode XORs.
int64_t swizzleBits(Swizzle mode) {
  switch (mode) {
  case Swizzle::None:
    return 0;
  case Swizzle::Bytes32:
    return 1;
  case Swizzle::Bytes64:
    return 2;
  case Swizzle::Bytes128:
    return 3;
  }
  return 0;
}
} // namespace

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
  uint64_t code = 0;
  switch (mode) {
  case Swizzle::None:
    code = 0;
    break;
  case Swizzle::Bytes128:
    code = 1;
    break;
  case Swizzle::Bytes64:
    code = 2;
    break;
  case Swizzle::Bytes32:
    code = 3;
    break;
  }
  return (uint64_t{(address & 0x3FFFF) >> 4}) |
         (uint64_t{leadingByteOffset >> 4} << 16) |
         (uint64_t{strideByteOffset >> 4} << 32) |
         (uint64_t{baseOffset} << 49) | (code << 62);
}

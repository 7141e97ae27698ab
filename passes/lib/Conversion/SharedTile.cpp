//===- SharedTile.cpp - tiles in shared memory, swizzled ------------------===//
//
// Where the elements of a staged tile lie in shared memory (SwizzledTile,
// SharedTile in GPUTiles.h): the placement SharedLayout states as plain
// functions, emitted as IR for the lowerings' copies and loads.
//
//===----------------------------------------------------------------------===//

#include "GPUTiles.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_tiles;

int64_t SwizzledTile::blockCols() const {
  assert(cols % 8 == 0 && "rows of whole 16-byte runs");
  int64_t block = kBlockCols;
  while (cols % block)
    block /= 2;
  return block;
}

Swizzle SwizzledTile::mode() const {
  switch (blockCols()) {
  case 64:
    return Swizzle::Bytes128;
  case 32:
    return Swizzle::Bytes64;
  case 16:
    return Swizzle::Bytes32;
  default:
    return Swizzle::None;
  }
}

Value SwizzledTile::runOffset(ScalarEmitter &e, Value row, Value col) const {
  auto c = [&](int64_t v) { return e.idx(v); };
  OpBuilder &b = e.b;
  Location loc = e.loc;
  const int64_t block = blockCols(), rowBytes = block * 2;
  Value blockOf = arith::DivUIOp::create(b, loc, col, c(block));
  Value chunk = arith::DivUIOp::create(
      b, loc, arith::RemUIOp::create(b, loc, col, c(block)), c(8));
  // The chunk XOR the row's 128-byte line among those of the pattern
  // (swizzledOffset on a tile that starts at a multiple of the pattern's
  // span): rows of 128 bytes are a line each, shorter rows share one.
  Value line = row;
  if (rowBytes < kRowBytes)
    line = arith::DivUIOp::create(b, loc, row, c(kRowBytes / rowBytes));
  Value swizzled = chunk;
  if (block > 8)
    swizzled = arith::XOrIOp::create(
        b, loc, chunk, arith::RemUIOp::create(b, loc, line, c(block / 8)));
  Value offset = arith::MulIOp::create(b, loc, blockOf, c(rows * rowBytes));
  offset = e.add(offset, arith::MulIOp::create(b, loc, row, c(rowBytes)));
  return e.add(offset, arith::MulIOp::create(b, loc, swizzled, c(16)));
}

int64_t SharedTile::bytes(int64_t rows, int64_t cols, Type elem,
                          TileLayout layout) {
  if (isPadded(layout))
    cols += paddedRowElements(layout, elem);
  return rows * cols * elem.getIntOrFloatBitWidth() / 8;
}

SharedTile SharedTile::at(OpBuilder &b, Location loc, Value buffer,
                          Value offset, int64_t rows, int64_t cols, Type elem,
                          TileLayout layout) {
  if (isPadded(layout))
    return sharedView(b, loc, buffer,
                      {rows, cols + paddedRowElements(layout, elem)}, elem,
                      offset);
  return of(sharedView(b, loc, buffer, {rows, cols}, elem, offset), layout);
}

SharedTile SharedTile::of(Value memref, TileLayout layout) {
  if (isPadded(layout))
    return memref;
  auto type = cast<MemRefType>(memref.getType());
  assert(type.getElementTypeBitWidth() == 16 && type.getLayout().isIdentity() &&
         "a swizzled tile is a [rows, cols] tile of 16-bit elements");
  return {memref, SwizzledTile{type.getDimSize(0), type.getDimSize(1)}};
}

Value SharedTile::runMemref(OpBuilder &b, Location loc) const {
  if (!swizzled)
    return memref;
  return memref::CollapseShapeOp::create(
      b, loc, memref, ArrayRef<ReassociationIndices>{{0, 1}});
}

SmallVector<Value, 2> SharedTile::runIndices(ScalarEmitter &e, Value row,
                                             Value col) const {
  if (!swizzled)
    return {row, col};
  return {arith::DivUIOp::create(e.b, e.loc, swizzled->runOffset(e, row, col),
                                 e.idx(2))};
}

SmallVector<Value, 2> SharedTile::elementIndices(ScalarEmitter &e, Value row,
                                                 Value col) const {
  if (!swizzled)
    return {row, col};
  Value within = arith::RemUIOp::create(e.b, e.loc, col, e.idx(8));
  Value run = runIndices(e, row, e.sub(col, within))[0];
  return {e.add(run, within)};
}

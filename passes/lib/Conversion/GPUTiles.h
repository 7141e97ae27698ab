//===- GPUTiles.h - shared pieces of the GPU tile-op lowerings --*- C++ -*-===//
//
// What the lowerings of attn's tile ops inside gpu.launch share: scalar and
// per-warp (mma.sync fragment) IR emitters, the uniformity checks that the
// block-wide forms need, and shared-memory staging by cp.async. Internal to
// the conversion passes.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_CONVERSION_GPUTILES_H
#define ATTN_CONVERSION_GPUTILES_H

#include "attn/Conversion/MmaLayout.h"
#include "attn/Conversion/SharedLayout.h"
#include "attn/IR/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"

#include <functional>
#include <optional>

namespace mlir::func {
class FuncOp;
} // namespace mlir::func

namespace mlir::attn::gpu_tiles {

constexpr int64_t kWarpLanes = 32;
/// Rows of an mma.sync.m16n8k16 accumulator: a warp's row group.
constexpr int64_t kMmaRows = 16;
/// Rows of a warp's row group in the tensor-core forms: two 16-row tiles,
/// sharing each B fragment loaded from shared memory (more would not fit
/// the registers).
constexpr int64_t kMaxWarpRows = 2 * kMmaRows;

struct ScalarEmitter {
  OpBuilder &b;
  Location loc;

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value i32(int64_t v) {
    return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
  }
  Value cst(double v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }
  Value dim(Value memref, unsigned i) {
    return memref::DimOp::create(b, loc, memref, i);
  }
  /// This thread's warp in its block: thread x / 32.
  Value warpOfBlock() {
    return arith::DivUIOp::create(
        b, loc, gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x),
        idx(kWarpLanes));
  }
  /// memref[indices] as f32.
  Value load(Value memref, ValueRange indices) {
    Value v = memref::LoadOp::create(b, loc, memref, indices);
    if (v.getType().isF32())
      return v;
    return arith::ExtFOp::create(b, loc, b.getF32Type(), v);
  }
  /// Stores an f32 into memref[indices], converted to its element type.
  void store(Value v, Value memref, ValueRange indices) {
    Type elem = cast<MemRefType>(memref.getType()).getElementType();
    if (elem != v.getType())
      v = arith::TruncFOp::create(b, loc, elem, v);
    memref::StoreOp::create(b, loc, v, memref, indices);
  }
  /// for (i = lb; i < ub; ++i) with iter_args; returns the loop's results.
  ValueRange loop(Value lb, Value ub, ValueRange init,
                  function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    auto forOp = scf::ForOp::create(
        b, loc, lb, ub, idx(1), init,
        [&](OpBuilder &nested, Location l, Value i, ValueRange args) {
          scf::YieldOp::create(nested, l, body(i, args));
        });
    return forOp.getResults();
  }
  Value add(Value a, int64_t c) {
    return c ? arith::AddIOp::create(b, loc, a, idx(c)).getResult() : a;
  }
  Value add(Value a, Value c) { return arith::AddIOp::create(b, loc, a, c); }
  Value sub(Value a, Value c) { return arith::SubIOp::create(b, loc, a, c); }
  Value cmp(arith::CmpIPredicate p, Value a, Value c) {
    return arith::CmpIOp::create(b, loc, p, a, c);
  }
  Value andi(Value a, Value c) { return arith::AndIOp::create(b, loc, a, c); }
  Value select(Value c, Value t, Value f) {
    return arith::SelectOp::create(b, loc, c, t, f);
  }
  Value addf(Value a, Value x) { return arith::AddFOp::create(b, loc, a, x); }
  Value mulf(Value a, Value x) { return arith::MulFOp::create(b, loc, a, x); }
  Value fma(Value a, Value x, Value c) {
    return math::FmaOp::create(b, loc, a, x, c);
  }
  /// if (cond) body(), without results.
  void ifThen(Value cond, function_ref<void()> body) {
    auto ifOp = scf::IfOp::create(b, loc, cond, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    body();
  }
};

/// An f32 operand fragment of 3xTF32 products: each value as big + small,
/// big its top 19 bits (a TF32, exact) and small = x - big (exact) cut to
/// a TF32 too, both as the i32 registers mma.sync takes. a b is then
/// big(a) big(b) + big(a) small(b) + small(a) big(b), the terms dropped
/// below f32's rounding (about 2^-22 of |a b|). An operand exact in TF32
/// (bf16, f16 widened) has no small parts.
struct Tf32Fragment {
  SmallVector<Value, 4> big, small;
};

/// The low mantissa bits that TF32 does not have.
constexpr int32_t kTf32Mask = static_cast<int32_t>(0xffffe000u);

/// `values` (f32) split into big and small TF32 parts; with `small` false,
/// the big parts alone (values exact in TF32).
inline Tf32Fragment splitTf32(ScalarEmitter &e, ArrayRef<Value> values,
                              bool small = true) {
  auto cut = [&](Value f) -> Value {
    Value bits = arith::BitcastOp::create(e.b, e.loc, e.b.getI32Type(), f);
    return arith::AndIOp::create(e.b, e.loc, bits, e.i32(kTf32Mask));
  };
  Tf32Fragment out;
  for (Value x : values) {
    Value big = cut(x);
    out.big.push_back(big);
    if (!small)
      continue;
    Value rest = arith::SubFOp::create(
        e.b, e.loc, x,
        arith::BitcastOp::create(e.b, e.loc, e.b.getF32Type(), big));
    out.small.push_back(cut(rest));
  }
  return out;
}

/// d = a b + c for one mma.sync.m16n8k`k` (A row-major, B column-major)
/// of `type` operands and f32 accumulators: d's four values.
inline SmallVector<Value, 4> mmaSync(OpBuilder &b, Location loc, int64_t k,
                                     NVVM::MMATypes type, ArrayRef<Value> a,
                                     ArrayRef<Value> bRegs, ArrayRef<Value> c) {
  Type f32 = b.getF32Type();
  auto result =
      LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
  Value d = NVVM::MmaOp::create(
      b, loc, result, a, bRegs, c, ArrayRef<int64_t>{16, 8, k}, std::nullopt,
      std::nullopt, std::array<NVVM::MMATypes, 2>{type, type},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  SmallVector<Value, 4> out;
  for (int64_t i = 0; i < 4; ++i)
    out.push_back(LLVM::ExtractValueOp::create(b, loc, d, i));
  return out;
}

/// d = a b + c for one mma.sync.m16n8k8 with TF32 operands (a: 4
/// registers, b: 2, c: 4 f32).
inline SmallVector<Value, 4> mmaTf32(OpBuilder &b, Location loc,
                                     ArrayRef<Value> a, ArrayRef<Value> bRegs,
                                     ArrayRef<Value> c) {
  return mmaSync(b, loc, 8, NVVM::MMATypes::tf32, a, bRegs, c);
}

/// c + a b for one m16n8k8 tile in 3xTF32: the small terms first (they are
/// the smaller addends), then big big; a term whose operand has no small
/// parts is not computed.
inline SmallVector<Value, 4> mma3xTf32(OpBuilder &b, Location loc,
                                       const Tf32Fragment &a,
                                       const Tf32Fragment &bFrag,
                                       ArrayRef<Value> c) {
  SmallVector<Value, 4> d(c);
  if (!a.small.empty())
    d = mmaTf32(b, loc, a.small, bFrag.big, d);
  if (!bFrag.small.empty())
    d = mmaTf32(b, loc, a.big, bFrag.small, d);
  return mmaTf32(b, loc, a.big, bFrag.big, d);
}

/// A tile of 16-bit elements in shared memory, its rows not padded but
/// swizzled (SharedLayout.h), so that the eight rows one ldmatrix phase or
/// one wgmma core matrix reads at a column start in eight different groups
/// of banks (TileLayout::Swizzled): `rows` rows of `cols` elements (the last
/// dimension of the operand as it lies in global memory along the columns), the
/// columns in blocks of blockCols() -- 64 where `cols` allows, else the largest
/// power of two that divides it -- block j holding columns blockCols() j to
/// blockCols() (j + 1) - 1 of every row, its rows one after the other, and
/// each row's 16-byte chunks swizzled in the mode of its bytes (mode():
/// Swizzle::Bytes128 for blocks of 64 columns, 64 bytes for 32, 32 for 16,
/// none for 8). ldmatrix reads any such tile (SharedTile); wgmma reads
/// tiles of 128-byte rows through matrix descriptors (WarpgroupMma.cpp),
/// `kMajor` saying which way: the columns run along the product's K (A as
/// [M, K], B^T as [N, K]), else the rows do (A^T as [K, M], B as [K, N]),
/// which wgmma reads transposed ("MN-major").
struct SwizzledTile {
  int64_t rows, cols;
  bool kMajor = true;

  /// The 128-byte mode's row and its columns, which wgmma's descriptors
  /// describe.
  static constexpr int64_t kRowBytes = 128, kBlockCols = 64;
  int64_t blockCols() const;
  Swizzle mode() const;
  int64_t bytes() const { return rows * cols * 2; }
  /// The byte offset of the 16-byte run at (row, col), col a multiple of 8.
  Value runOffset(ScalarEmitter &e, Value row, Value col) const;
  /// The matrix descriptor of the part of the tile one wgmma reads: the
  /// operand's M (or N) from `mn0` (a multiple of 64), K's 16-element slice
  /// `slice`; the tile at shared address `base` (i64, a multiple of
  /// kSwizzledTileAlignment, WarpgroupMma.h); blocks of kBlockCols. In a
  /// tile wider than one block, the first slice's descriptor pinned at
  /// this use (pinRegister) plus the slice's offset, so that one value a
  /// tile, not one a slice, is live across a loop.
  Value descriptor(ScalarEmitter &e, Value base, Value mn0,
                   int64_t slice) const;
};

/// How a staged tile's rows lie in shared memory, so that the lanes of one
/// fragment load -- the eight rows of one ldmatrix phase, one wgmma core
/// matrix, or a warp's 32-bit loads of an f32 fragment -- fall in
/// different banks.
enum class TileLayout {
  /// Rows padded (paddedRowElements), read at the view's indices: where
  /// ldmatrix reads the tile (mma.sync's operands, the A fragments of
  /// warpgroup MMA's register form), or a warp loads f32 fragments of it
  /// along its rows (WarpEmitter::loadFragment: A fragments of a
  /// row-major tile, B fragments of a transposed one). Each lane's
  /// addresses are then one base plus constants; over swizzled rows they
  /// are a base XOR constants, which ptxas keeps in registers of their own
  /// (the dense forward on mma.sync: 96 registers padded, 126 swizzled),
  /// and the dense forward ran 7-15% slower with them on the H200
  /// (tools/attn-bench/NOTES.md, session 39).
  Padded,
  /// Padded too, for f32 tiles a warp loads down their columns: B
  /// fragments of a row-major [K, N] tile, A fragments of a transposed
  /// one (m16n8k8PairedK's lanes at rows 2 t and 2 t + 1, column g).
  /// 16-bit tiles: as Padded (ldmatrix reads them).
  PaddedForColumns,
  /// SwizzledTile: where warpgroup MMA's descriptors read the tile.
  Swizzled,
};
/// Whether `layout` pads its rows (the view is the tile, read at its
/// indices).
inline bool isPadded(TileLayout layout) {
  return layout != TileLayout::Swizzled;
}
/// The padding of a padded row, in elements: 8 -- 16 bytes of 16-bit
/// elements; 32 bytes of f32, which puts the 8-byte pairs a half-warp loads
/// along rows (four rows of four pairs) in distinct banks -- except for f32
/// tiles loaded down their columns (PaddedForColumns): 4, so that rows
/// 2 t + i at column g (words (2 t + i) S + g for a row of S words, S a
/// multiple of 16 plus 4) fall in 32 distinct banks, where 8 (S a multiple
/// of 16 plus 8) puts rows t and t + 2 in the same ones.
/// SharedTileTest checks both by enumerating the lanes.
inline int64_t paddedRowElements(TileLayout layout, Type elem) {
  return layout == TileLayout::PaddedForColumns && elem.isF32() ? 4 : 8;
}

/// A 2-D tile in shared memory as fragments are loaded from it and copies
/// stored into it: a memref read at its indices (rows padded or not), or,
/// `swizzled`, a [rows, cols] memref of identity layout whose elements are
/// not at their indices but where the SwizzledTile places them.
struct SharedTile {
  Value memref;
  std::optional<SwizzledTile> swizzled;

  SharedTile(Value memref) : memref(memref) {}
  SharedTile(Value memref, SwizzledTile swizzled)
      : memref(memref), swizzled(swizzled) {}
  /// The bytes of a [rows, cols] tile of `elem` in `layout`.
  static int64_t bytes(int64_t rows, int64_t cols, Type elem,
                       TileLayout layout);
  /// The [rows, cols] tile of `elem` in `layout` at byte `offset` of the
  /// staging buffer `buffer` (padded: a [rows, cols + paddedRowElements]
  /// view).
  static SharedTile at(OpBuilder &b, Location loc, Value buffer, Value offset,
                       int64_t rows, int64_t cols, Type elem,
                       TileLayout layout);
  /// The tile staged as `memref` in `layout`: the view itself (padded), or
  /// the swizzled layout of its [rows, cols] (its static shape).
  static SharedTile of(Value memref, TileLayout layout);
  /// The memref that runs are read and written in (the tile seen as one
  /// dimension where swizzled) and the indices there of the 8-element run
  /// at (row, col), col a multiple of 8.
  Value runMemref(OpBuilder &b, Location loc) const;
  SmallVector<Value, 2> runIndices(ScalarEmitter &e, Value row,
                                   Value col) const;
  /// The same for the elements from (row, col) to the end of its run.
  SmallVector<Value, 2> elementIndices(ScalarEmitter &e, Value row,
                                       Value col) const;
};

/// A lane's coordinate along one dimension of a fragment laid out as a
/// FragmentLayout (MmaLayout.h): g perGroup + t perThread + offset (g the
/// lane's group, lane / 4, and t its place in it, lane % 4), added to
/// `base` where it is set. Terms that are zero are left out.
inline Value fragmentCoordinate(ScalarEmitter &e, Value g, Value t,
                                int64_t perGroup, int64_t perThread,
                                int64_t offset, Value base = Value()) {
  auto scaled = [&](Value v, int64_t c) -> Value {
    return c == 1 ? v : arith::MulIOp::create(e.b, e.loc, v, e.idx(c));
  };
  Value at;
  if (perGroup && perThread)
    at = e.add(e.add(scaled(g, perGroup), scaled(t, perThread)), offset);
  else if (perGroup || perThread)
    at = e.add(perGroup ? scaled(g, perGroup) : scaled(t, perThread), offset);
  else
    at = e.idx(offset);
  return base ? e.add(base, at) : at;
}

/// Where an operand tile starts along one dimension of a staged tile: a
/// lane-uniform index (none where only the constant counts) plus a
/// constant.
struct TileOrigin {
  Value base;
  int64_t offset = 0;
  TileOrigin(int64_t offset = 0) : offset(offset) {}
  TileOrigin(Value base, int64_t offset = 0) : base(base), offset(offset) {}
  TileOrigin plus(int64_t c) const { return {base, offset + c}; }
};

/// Emits code for one warp's mma.sync tiles: m16n8k16 for bf16 and f16
/// operands, m16n8k8PairedK for f32 ones, whose products are 3xTF32
/// (Tf32Fragment); where lanes hold which elements is `layout`'s
/// (MmaLayout.h). Both shapes' accumulators lie alike.
struct WarpEmitter : ScalarEmitter {
  Type elem; // bf16, f16 or f32
  const MmaLayout &layout;
  /// This lane's first row and column of an accumulator tile (and of an A
  /// tile, which the accumulator's layout matches), its group g (lane / 4)
  /// and its place t in the group (lane % 4).
  Value lane, fragRow, fragCol, group, thread;

  WarpEmitter(OpBuilder &b, Location loc, Type elem)
      : ScalarEmitter{b, loc}, elem(elem),
        layout(elem.isF32() ? MmaLayout::m16n8k8PairedK()
                            : MmaLayout::m16n8k16()) {
    lane = gpu::LaneIdOp::create(b, loc, IntegerAttr());
    group = arith::DivUIOp::create(b, loc, lane, idx(4));
    thread = arith::RemUIOp::create(b, loc, lane, idx(4));
    const FragmentLayout &c = layout.c;
    fragRow = fragmentCoordinate(*this, group, thread, c.rowPerGroup,
                                 c.rowPerThread, 0);
    fragCol = fragmentCoordinate(*this, group, thread, c.colPerGroup,
                                 c.colPerThread, 0);
  }
  /// Rows a lane holds in an accumulator tile, relative to fragRow.
  int64_t rowSlots() const { return layout.c.rowSlots().size(); }
  /// Element `i` of accumulator tile (mt, n): its row and column within a
  /// group of 16-row tiles and 8-column tiles.
  Value accRow(int64_t mt, int64_t i) {
    return add(fragRow, layout.m * mt + layout.c.rowOf[i]);
  }
  Value accCol(int64_t n, int64_t i) {
    return add(fragCol, layout.n * n + layout.c.colOf[i]);
  }

  Value mul(Value a, int64_t c) {
    if (c == 0)
      return idx(0);
    if (c == 1)
      return a;
    return arith::MulIOp::create(b, loc, a, idx(c));
  }
  Value lt(Value a, Value c) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, a, c);
  }
  /// Fragment pairs start at even columns of rows aligned to 8 elements.
  llvm::MaybeAlign pairAlignment(Type t) {
    return llvm::Align(2 * t.getIntOrFloatBitWidth() / 8);
  }
  /// An element pair as the i32 register mma.sync takes.
  Value asRegister(Value pair) {
    Value word = vector::BitCastOp::create(
        b, loc, VectorType::get({1}, b.getI32Type()), pair);
    return vector::ExtractOp::create(b, loc, word, ArrayRef<int64_t>{0});
  }
  /// Whether the products are 3xTF32 (f32 operands, one a register).
  bool splitsTf32() const { return elem.isF32(); }
  /// f32 values of an A or B fragment, in its element order (for A also
  /// consecutive elements of an accumulator's row slot), as the operand's
  /// registers: pairs packed as `elem` (pack), or one value a register
  /// where the products split them (3xTF32). Both operands of both shapes
  /// hold the same number of elements a register.
  SmallVector<Value, 4> operandRegisters(ArrayRef<Value> values) {
    if (layout.a.elementsPerRegister == 1)
      return SmallVector<Value, 4>(values);
    assert(values.size() % 2 == 0 && "pairs of values a register");
    SmallVector<Value, 4> regs;
    for (size_t i = 0; i < values.size(); i += 2)
      regs.push_back(pack(values[i], values[i + 1]));
    return regs;
  }
  /// operandRegisters' inverse: the f32 values of an operand's registers
  /// `regs`, in the fragment's element order (each register's pair
  /// widened, or the register itself where it holds one f32).
  SmallVector<Value, 4> operandValues(ArrayRef<Value> regs) {
    if (layout.a.elementsPerRegister == 1)
      return SmallVector<Value, 4>(regs);
    SmallVector<Value, 4> values;
    for (Value reg : regs) {
      Value pair = vector::BitCastOp::create(
          b, loc, VectorType::get({2}, elem),
          vector::BroadcastOp::create(
              b, loc, VectorType::get({1}, b.getI32Type()), reg));
      Value wide = arith::ExtFOp::create(
          b, loc, VectorType::get({2}, b.getF32Type()), pair);
      for (int64_t i = 0; i < 2; ++i)
        values.push_back(
            vector::ExtractOp::create(b, loc, wide, ArrayRef<int64_t>{i}));
    }
    return values;
  }
  /// Two f32 as a register of two `elem`.
  Value pack(Value x, Value y) {
    Value pair = vector::FromElementsOp::create(
        b, loc, VectorType::get({2}, b.getF32Type()), ValueRange{x, y});
    return asRegister(
        arith::TruncFOp::create(b, loc, VectorType::get({2}, elem), pair));
  }
  /// Stores two f32 as the element pair memref[indices] (converted to its
  /// element type): a fragment's two columns of a row.
  void storePair(Value x, Value y, Value memref, ValueRange indices) {
    Type to = cast<MemRefType>(memref.getType()).getElementType();
    Value pair = vector::FromElementsOp::create(
        b, loc, VectorType::get({2}, b.getF32Type()), ValueRange{x, y});
    if (!to.isF32())
      pair = arith::TruncFOp::create(b, loc, VectorType::get({2}, to), pair);
    vector::StoreOp::create(b, loc, pair, memref, indices,
                            /*nontemporal=*/false, pairAlignment(to));
  }
  /// This lane's (row, column) offsets for an ldmatrix.x4 that reads a
  /// 16x16 block as its quadrants in the order (rows 0-7, columns 0-7),
  /// (0-7, 8-15), (8-15, 0-7), (8-15, 8-15).
  std::pair<Value, Value> quadrantOffsets() {
    Value row = add(mul(arith::DivUIOp::create(b, loc, lane, idx(16)), 8),
                    arith::RemUIOp::create(b, loc, lane, idx(8)));
    Value col =
        mul(arith::RemUIOp::create(
                b, loc, arith::DivUIOp::create(b, loc, lane, idx(8)), idx(2)),
            8);
    return {row, col};
  }
  /// This lane's (row, column) offsets for an ldmatrix.x4 that reads a
  /// 16x16 block of a row-major A as its mma.sync A fragment: quadrants
  /// (rows 0-7, columns 0-7), (8-15, 0-7), (0-7, 8-15), (8-15, 8-15).
  std::pair<Value, Value> aFragmentOffsets() {
    return {arith::RemUIOp::create(b, loc, lane, idx(16)),
            mul(arith::DivUIOp::create(b, loc, lane, idx(16)), 8)};
  }
  /// ldmatrix.x4 at this lane's row address: four 8x8 matrices.
  SmallVector<Value, 4> ldmatrix(const SharedTile &smem, Value row, Value col,
                                 bool transpose) {
    Value m = nvgpu::LdMatrixOp::create(
        b, loc, VectorType::get({4, 2}, elem), smem.runMemref(b, loc),
        smem.runIndices(*this, row, col), transpose, 4);
    SmallVector<Value, 4> regs;
    for (int64_t i = 0; i < 4; ++i)
      regs.push_back(asRegister(
          vector::ExtractOp::create(b, loc, m, ArrayRef<int64_t>{i})));
    return regs;
  }
  /// This lane's elements of a fragment `f` of `layout` (f32 values, in
  /// f's element order) of the operand whose element (r, c) is
  /// smem[row0 + r][col0 + c], or smem[col0 + c][row0 + r] where
  /// `transposed`: `smem` a padded f32 tile. Elements side by side in a
  /// row of smem, the first at an even column, are loaded as one pair
  /// (the origins' bases are taken to keep pairs aligned, as their
  /// constants must).
  SmallVector<Value, 4> loadFragment(const SharedTile &smem,
                                     const FragmentLayout &f, TileOrigin row0,
                                     TileOrigin col0, bool transposed) {
    assert(!smem.swizzled && "32-bit fragments from padded tiles");
    struct Place {
      int64_t perGroup[2], perThread[2], offset[2];
      Value base[2];
    };
    auto place = [&](int64_t e) {
      Place p{{f.rowPerGroup, f.colPerGroup},
              {f.rowPerThread, f.colPerThread},
              {row0.offset + f.rowOf[e], col0.offset + f.colOf[e]},
              {row0.base, col0.base}};
      if (transposed) {
        for (int64_t *x : {p.perGroup, p.perThread, p.offset})
          std::swap(x[0], x[1]);
        std::swap(p.base[0], p.base[1]);
      }
      return p;
    };
    auto index = [&](const Place &p, int i) {
      return fragmentCoordinate(*this, group, thread, p.perGroup[i],
                                p.perThread[i], p.offset[i], p.base[i]);
    };
    SmallVector<Value, 4> out(f.numElements());
    for (int64_t e = 0; e < f.numElements(); ++e) {
      if (out[e])
        continue;
      Place p = place(e);
      SmallVector<Value, 2> at{index(p, 0), index(p, 1)};
      // The element right of e in smem, held by this lane too.
      int64_t next = -1;
      for (int64_t x = 0; x < f.numElements(); ++x) {
        Place q = place(x);
        if (!out[x] && x != e && q.offset[0] == p.offset[0] &&
            q.offset[1] == p.offset[1] + 1 &&
            llvm::equal(q.perGroup, p.perGroup) &&
            llvm::equal(q.perThread, p.perThread))
          next = x;
      }
      bool even = p.offset[1] % 2 == 0 && p.perGroup[1] % 2 == 0 &&
                  p.perThread[1] % 2 == 0;
      if (next < 0 || !even) {
        out[e] = memref::LoadOp::create(b, loc, smem.memref, at);
        continue;
      }
      Value pair = vector::LoadOp::create(
          b, loc, VectorType::get({2}, b.getF32Type()), smem.memref, at,
          /*nontemporal=*/false, llvm::MaybeAlign(8));
      out[e] = vector::ExtractOp::create(b, loc, pair, ArrayRef<int64_t>{0});
      out[next] = vector::ExtractOp::create(b, loc, pair, ArrayRef<int64_t>{1});
    }
    return out;
  }
  /// An operand fragment as the products take it: its registers, or where
  /// the products split f32 (splitsTf32), its TF32 parts, split once
  /// however many products read it.
  struct Operand {
    SmallVector<Value, 4> registers;
    Tf32Fragment parts;
  };
  Operand operand(ArrayRef<Value> registers) {
    Operand o;
    if (splitsTf32())
      o.parts = splitTf32(*this, registers);
    else
      o.registers.assign(registers.begin(), registers.end());
    return o;
  }
  /// c + a b for one tile of `layout`: m16n8k16 (a: 4 registers, b: 2,
  /// c: 4 f32), or where the products split f32 (splitsTf32), m16n8k8 in
  /// 3xTF32. Raw nvvm.mma.sync rather than nvgpu.mma.sync: the operands
  /// are already the packed 32-bit registers the instruction takes
  /// (ldmatrix results, pairs packed from accumulators), which nvgpu's
  /// vector operands would unpack and repack.
  SmallVector<Value, 4> mma(const Operand &a, const Operand &bOp,
                            ArrayRef<Value> c) {
    if (splitsTf32())
      return mma3xTf32(b, loc, a.parts, bOp.parts, c);
    NVVM::MMATypes ptx =
        elem.isBF16() ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
    // Registers hold element pairs as i32, which nvvm.mma.sync takes for
    // bf16; its f16 form takes them as vector<2xf16>.
    SmallVector<Value, 4> aOps(a.registers), bOps(bOp.registers);
    if (elem.isF16()) {
      auto pair = VectorType::get({2}, elem);
      for (Value &r : llvm::concat<Value>(aOps, bOps))
        r = LLVM::BitcastOp::create(b, loc, pair, r);
    }
    return mmaSync(b, loc, 16, ptx, aOps, bOps, c);
  }
  /// The same from a's and b's registers (f32 values where split).
  SmallVector<Value, 4> mma(ArrayRef<Value> a, ArrayRef<Value> bRegs,
                            ArrayRef<Value> c) {
    return mma(operand(a), operand(bRegs), c);
  }
  /// The sum (or max) of the lanes that share an accumulator row (the
  /// four of a group).
  Value rowReduce(Value v, bool max) {
    for (int32_t offset : layout.c.rowSharingShuffles()) {
      Value other = gpu::ShuffleOp::create(b, loc, v, offset, kWarpLanes,
                                           gpu::ShuffleMode::XOR)
                        .getShuffleResult();
      v = max ? arith::MaxNumFOp::create(b, loc, v, other).getResult()
              : arith::AddFOp::create(b, loc, v, other).getResult();
    }
    return v;
  }
  Value loadLane(Value buffer, int64_t i) {
    return memref::LoadOp::create(b, loc, buffer, ValueRange{idx(i)});
  }
  void storeLane(Value v, Value buffer, int64_t i) {
    memref::StoreOp::create(b, loc, v, buffer, ValueRange{idx(i)});
  }
  /// The A fragment of A's rows [m0, m0 + m) and depth [k0, k0 + k) (m,
  /// k: layout's), A staged row-major as [M, K] or, `transposed`, as A^T
  /// [K, M]. The instruction is the element type's: one ldmatrix.x4 of
  /// 16-bit tiles (with .trans for A^T: its quadrants (k 0-7, m 0-7),
  /// (0-7, 8-15), (8-15, 0-7), (8-15, 8-15) are A's (m 0-7, k 0-7),
  /// (8-15, 0-7), (0-7, 8-15), (8-15, 8-15)), loadFragment's loads of f32.
  SmallVector<Value, 4> aFragmentAt(const SharedTile &smem, TileOrigin m0,
                                    TileOrigin k0, bool transposed) {
    if (splitsTf32())
      return loadFragment(smem, layout.a, m0, k0, transposed);
    auto [row, col] = transposed ? quadrantOffsets() : aFragmentOffsets();
    return transposed
               ? ldmatrix(smem, at(row, k0), at(col, m0), /*transpose=*/true)
               : ldmatrix(smem, at(row, m0), at(col, k0), /*transpose=*/false);
  }
  /// The B fragments of the two 8-column tiles [n0, n0 + 8) and [n0 + 8,
  /// n0 + 16) at depth [k0, k0 + k), B staged row-major as [K, N] or, with
  /// `nByK`, as B^T [N, K] (rows that a product reads as B's columns: the
  /// keys of S = Q K^T, a weight read transposed). 16-bit tiles: one
  /// ldmatrix.x4 -- .trans of [K, N], lanes 8-15 and 24-31 addressing rows
  /// [8, 16); plain of [N, K], quadrants (n 0-7, k 0-7), (0-7, 8-15) for
  /// the first tile and (8-15, 0-7), (8-15, 8-15) for the second. f32:
  /// loadFragment, a tile at a time.
  std::array<SmallVector<Value, 4>, 2> bFragmentPair(const SharedTile &smem,
                                                     TileOrigin k0,
                                                     TileOrigin n0, bool nByK) {
    if (splitsTf32())
      return {loadFragment(smem, layout.b, k0, n0, nByK),
              loadFragment(smem, layout.b, k0, n0.plus(layout.n), nByK)};
    SmallVector<Value, 4> m;
    if (nByK) {
      auto [row, col] = quadrantOffsets();
      m = ldmatrix(smem, at(row, n0), at(col, k0), /*transpose=*/false);
    } else {
      Value eight = idx(8);
      Value row = add(
          mul(arith::RemUIOp::create(
                  b, loc, arith::DivUIOp::create(b, loc, lane, eight), idx(2)),
              8),
          arith::RemUIOp::create(b, loc, lane, eight));
      Value col = mul(arith::DivUIOp::create(b, loc, lane, idx(16)), 8);
      m = ldmatrix(smem, at(row, k0), at(col, n0), /*transpose=*/true);
    }
    return {SmallVector<Value, 4>{m[0], m[1]},
            SmallVector<Value, 4>{m[2], m[3]}};
  }
  /// A B^T for the 16 mTiles rows of A and the 8 nTiles rows of B from row
  /// `bRow0` on, both [rows, depth] row-major in shared memory: tile [m][n]
  /// the 16 x 8 accumulator of row tile m and column tile n. A k-step at a
  /// time, each fragment loaded (and split, in 3xTF32) once for all the
  /// products that read it.
  SmallVector<SmallVector<SmallVector<Value, 4>>>
  mmaRowsByRows(const SharedTile &aSmem, const SharedTile &bSmem,
                int64_t mTiles, int64_t nTiles, int64_t depth,
                int64_t bRow0 = 0) {
    assert(nTiles % 2 == 0 && "B's rows read two 8-row tiles at a time");
    SmallVector<SmallVector<SmallVector<Value, 4>>> acc(
        mTiles, SmallVector<SmallVector<Value, 4>>(
                    nTiles, SmallVector<Value, 4>(4, cst(0.0))));
    for (int64_t k0 = 0; k0 < depth; k0 += layout.k) {
      SmallVector<Operand> a;
      for (int64_t mt = 0; mt < mTiles; ++mt)
        a.push_back(operand(
            aFragmentAt(aSmem, layout.m * mt, k0, /*transposed=*/false)));
      for (int64_t np = 0; np < nTiles / 2; ++np) {
        auto pair = bFragmentPair(bSmem, k0, bRow0 + 2 * layout.n * np,
                                  /*nByK=*/true);
        Operand b0 = operand(pair[0]), b1 = operand(pair[1]);
        for (int64_t mt = 0; mt < mTiles; ++mt) {
          acc[mt][2 * np] = mma(a[mt], b0, acc[mt][2 * np]);
          acc[mt][2 * np + 1] = mma(a[mt], b1, acc[mt][2 * np + 1]);
        }
      }
    }
    return acc;
  }
  /// acc[m][n] += a[m] B[k0 : k0 + k, 8 n : 8 n + 8] for every 8-column
  /// tile n of `smem` and every 16-row tile m of A (`acc` holds a.size()
  /// runs of N / 8 tiles; `a` each row tile's A registers, f32 values
  /// where the products split them): one k-step of A B, each B fragment
  /// loaded once for all row tiles, two column tiles at a time
  /// (bFragmentPair; `nByK`: `smem` holds B^T). With `col0`, B's columns
  /// start there.
  void mmaSharedB(ArrayRef<SmallVector<Value, 4>> a, const SharedTile &smem,
                  int64_t k0, MutableArrayRef<SmallVector<Value, 4>> acc,
                  Value col0 = Value(), bool nByK = false) {
    SmallVector<Operand> aOps;
    for (ArrayRef<Value> fragment : a)
      aOps.push_back(operand(fragment));
    int64_t tiles = static_cast<int64_t>(acc.size() / a.size());
    assert(tiles % 2 == 0 && "B read two 8-column tiles at a time");
    for (int64_t np = 0; np < tiles / 2; ++np) {
      auto pair =
          bFragmentPair(smem, k0, TileOrigin(col0, 2 * layout.n * np), nByK);
      Operand b0 = operand(pair[0]), b1 = operand(pair[1]);
      for (size_t mt = 0; mt < a.size(); ++mt) {
        SmallVector<Value, 4> *tile = &acc[mt * tiles + 2 * np];
        tile[0] = mma(aOps[mt], b0, tile[0]);
        tile[1] = mma(aOps[mt], b1, tile[1]);
      }
    }
  }
  /// A lane's offset within a fragment plus a tile's origin.
  Value at(Value laneOffset, TileOrigin origin) {
    Value x = origin.base ? add(laneOffset, origin.base) : laneOffset;
    return add(x, origin.offset);
  }
};

/// Accumulator tiles: [row tile m][column tile n] -> the lane's elements.
using AccumulatorTiles = SmallVector<SmallVector<SmallVector<Value, 4>>>;

/// A row group's values as registers laid out like accumulator tiles:
/// rows[R m + h] is this lane's row slot h (row fragRow + rowOf of the
/// slot) of 16-row tile m, R = rowSlots(); its register j is run j % runs
/// of the slot's elements in 8-column tile j / runs (runs = 1 for
/// m16n8k16: the two columns fragCol + {0, 1} packed; 2 for
/// m16n8k8PairedK, a value each). P (from S's accumulators)
/// and the query tile are held this way.
using RowFragments = SmallVector<SmallVector<Value>>;

/// The A fragment of `layout` (m16n8k16, or m16n8k8PairedK) of columns
/// [k ks, k ks + k) of 16-row tile `mt`, without moving values between
/// lanes (MmaLayout::accumulatorAsA).
inline SmallVector<Value, 4>
aFragment(const RowFragments &rows, int64_t mt, int64_t ks,
          const MmaLayout &layout = MmaLayout::m16n8k16()) {
  const SmallVector<MmaLayout::AccumulatorRegister, 4> registers =
      *layout.accumulatorAsA();
  const int64_t slots = layout.c.rowSlots().size();
  const int64_t runs = layout.c.elementsOfRowSlot(0).size() /
                       layout.a.elementsPerRegister;
  SmallVector<Value, 4> out;
  for (const MmaLayout::AccumulatorRegister &r : registers)
    out.push_back(rows[slots * mt + r.rowSlot]
                      [(ks * (layout.k / layout.n) + r.tile) * runs + r.run]);
  return out;
}

/// The A fragment whose k-slice is the accumulator tiles `tiles` (k / n
/// of them side by side, one 16-row tile), packed as `e.elem` pairs: P from
/// S without moving values between lanes -- each row slot's pair of each
/// tile as RowFragments, then aFragment's mapping.
inline SmallVector<Value, 4>
accumulatorsAsA(WarpEmitter &e, ArrayRef<SmallVector<Value, 4>> tiles) {
  RowFragments rows(e.rowSlots());
  for (auto [h, row] : llvm::enumerate(rows)) {
    SmallVector<int64_t, 4> pair = e.layout.c.elementsOfRowSlot(h);
    for (ArrayRef<Value> tile : tiles)
      llvm::append_range(row,
                         e.operandRegisters({tile[pair[0]], tile[pair[1]]}));
  }
  return aFragment(rows, /*mt=*/0, /*ks=*/0, e.layout);
}

/// A static upper bound of an index: constants and min/max of bounded
/// values (how attn-tile clips tiles).
std::optional<int64_t> upperBound(Value v);
/// A static upper bound of a 2-D tile's row count.
std::optional<int64_t> rowBound(Value memref);
/// Whether `v` is the same in every thread of a block of `launch`.
bool isUniform(Value v, gpu::LaunchOp launch);
/// Whether every thread of the block reaches `op` the same number of times,
/// which block-wide barriers need.
bool reachedByWholeBlock(Operation *op, gpu::LaunchOp launch);
/// The size in bytes of `memref`'s element (at least 1).
int64_t elementBytes(Value memref);
/// The buffer `memref` views: view-like ops followed to their source, and
/// memref.transpose too (attn-tile reads the heads' split through one; it
/// is not a ViewLikeOpInterface).
Value viewedBuffer(Value memref);
/// The alignment in bytes known of the buffer `memref` views, views
/// followed to it: 256 for an allocation or a function's argument (device
/// allocations start at 256-byte multiples), a global's declared
/// alignment, else one element's size.
int64_t bufferAlignment(Value memref);
/// A byte count that `memref`'s element at `indices` is known to lie at a
/// multiple of (0: any): its view's start -- its buffer's alignment
/// (bufferAlignment) with its static offset, or through the subview that
/// made it, the source's element at the subview's offsets (through a cast,
/// the source's start) -- and each index's step (its stride times what the
/// index is known to be a multiple of: constants, and products and sums of
/// them with other values). One element's size where a stride or the start
/// is not known.
int64_t knownMultiple(Value memref, ArrayRef<OpFoldResult> indices);
/// 16-byte aligned rows (for cp.async, and 4-byte element pairs for the
/// fragments): unit column stride, a row stride of a multiple of 16 bytes,
/// and a start known to lie at a multiple of 16 bytes (knownMultiple).
bool hasAlignedRows(Value memref);
/// Whether `type` holds its rows in runs of `length` elements: unit stride
/// along its last dimension, a static offset and static other strides that
/// are multiples of `length`. An element at a multiple of `length` along
/// the last dimension then starts `length` contiguous elements that lie a
/// multiple of `length` elements from the buffer's start.
bool holdsRowsInRuns(MemRefType type, int64_t length);

/// A staging buffer of `bytes` bytes in the shared memory of `launch`: a
/// workgroup memref.alloc at the top of its body, which
/// attn-allocate-shared-memory gives its place (by liveness, sharing space
/// with buffers not live at the same time).
Value allocateShared(gpu::LaunchOp launch, int64_t bytes);
/// The bytes of the staging buffers asked for in `launch` so far, each
/// aligned as attn-allocate-shared-memory places it: at most what they
/// take (it may overlap buffers that are not live together).
int64_t sharedBytesOf(gpu::LaunchOp launch);
/// A [shape] tile of `elem` at byte `offset` of the staging buffer
/// `buffer`.
Value sharedView(OpBuilder &b, Location loc, Value buffer,
                 ArrayRef<int64_t> shape, Type elem, Value offset);
/// Asynchronous copy of `rows` x `width` elements of `src` (fewer rows
/// where it is clipped: zero-filled) into `dst`, 16 bytes per copy, by the
/// `threads` threads that run it, `thread` being this one's index among
/// them; returns the copies (not yet committed as a group). Row r of `src`
/// goes to row `dstRow0` + r of `dst` (r where dstRow0 is null).
SmallVector<Value> stageTile(WarpEmitter &e, Value src, const SharedTile &dst,
                             int64_t rows, int64_t width, Value thread,
                             int64_t threads, Value dstRow0 = Value());
/// Commits the copies issued so far by this thread as one group.
Value commitCopies(OpBuilder &b, Location loc, ValueRange copies = {});

/// The threads that share a staging buffer, and so synchronise around its
/// copies: the whole block (gpu.barrier) or one warp (bar.warp.sync).
enum class CopyScope { Block, Warp };
/// The synchronisation of `scope`'s threads.
void synchronize(OpBuilder &b, Location loc, CopyScope scope);

/// The copies of one iteration of a loop's body into its stage of a
/// staging buffer of `stages` stages, as pipelineCopies takes them: a
/// synchronisation (every thread of the scope done with what the copies
/// overwrite), an scf.if holding the copies (its condition true until
/// pipelineCopies predicates it), the group that commits them and a wait
/// until at most `stages` - 1 groups -- the iterations ahead -- are in
/// flight. The work on the copies follows them in the body, after the
/// synchronisation that gives them to the scope.
/// Copies by the tensor memory accelerator (CopyKind::Bulk) complete on
/// mbarriers, which the work waits for itself: their stage has no group and
/// no wait (`wait` null).
struct CopyStage {
  llvm::SetVector<Operation *> ops;
  nvgpu::DeviceAsyncWaitOp wait;
  int64_t stages;
};
/// How a stage's copies are made, and so how their completion is known.
enum class CopyKind {
  /// cp.async by the scope's threads, committed as a group an iteration.
  Async,
  /// cp.async.bulk.tensor, completing on mbarriers (CopyBarriers).
  Bulk,
};
/// Emits a CopyStage at `b`'s point, in a loop's body; `copies` builds the
/// copies with `b`, which is in the scf.if's body meanwhile.
CopyStage emitCopyStage(OpBuilder &b, Location loc, CopyScope scope,
                        function_ref<void()> copies, int64_t stages = 2,
                        CopyKind kind = CopyKind::Async);
/// Splits `loop` (whose body holds `stage`) by scf::pipelineForLoop into
/// the copies and the work `stage.stages` - 1 iterations behind them: the
/// copies of the iterations ahead in flight while iteration i works on its
/// own, each iteration in its stage of the buffer (stageOffset). After the
/// loop, nothing is in flight and `scope` is synchronised: its buffer is
/// free. `onKernelOp` sees each op of the pipelined loop's body. Where
/// pipelineForLoop declines, the loop is left as it was, each iteration
/// waiting for its own copies, and failure returned.
FailureOr<scf::ForOp>
pipelineCopies(scf::ForOp loop, CopyStage &stage, CopyScope scope,
               function_ref<void(Operation *)> onKernelOp = nullptr);
/// The stage that iteration `iv` of `loop` uses, of `stages`: its number
/// modulo `stages`.
Value stageIndex(ScalarEmitter &e, scf::ForOp loop, Value iv, int64_t stages);
/// The byte offset of the stage of a buffer of `stages` stages of `bytes`
/// each that iteration `iv` of `loop` uses: its number modulo `stages`.
Value stageOffset(ScalarEmitter &e, scf::ForOp loop, Value iv, int64_t stages,
                  int64_t bytes);

/// What reads the tiles stageForBlock stages, and so how they are laid
/// out.
enum class StagedReader {
  /// Each warp for mma.sync, by ldmatrix (16-bit elements) or by 32-bit
  /// loads (f32: WarpEmitter::loadFragment): TileLayout::Padded, or
  /// PaddedForColumns for a tile read down its columns.
  Ldmatrix,
  /// Warpgroup MMA's descriptors: TileLayout::Swizzled (K-major: the tile's
  /// rows one after the other), each tile at a multiple of
  /// kSwizzledTileAlignment (WarpgroupMma.h), rows of 64 columns, and the
  /// copies fenced for the async proxy, which wgmma reads through.
  WarpgroupMma,
};
/// The layout of the tiles staged for `reader`, read down their columns
/// where `downColumns` (B of a row-major tile, as V in P V).
TileLayout layoutFor(StagedReader reader, bool downColumns = false);
/// A stage of a producer's ring that a consumer has yet to give back: its
/// index, and what gives it back (each consumer thread's arrival on the
/// stage's empty barrier) -- null where the operand shares the stage with
/// one held longer, whose release gives it back.
struct RingStage {
  Value stage;
  std::function<void(OpBuilder &, Location, Value)> release;
  void giveBack(OpBuilder &b, Location loc) const {
    if (release)
      release(b, loc, stage);
  }
};
/// An op whose operands stageForBlock staged: `op` as it is after staging
/// (a clone where the loop around it was pipelined) and, where set, the
/// wait for its last staged operand's copies, still in flight where `op`
/// runs (waitForLastStaged emits it before that tile is read); the other
/// copies are complete and visible there.
struct StagedOp {
  Operation *op;
  StagedReader reader = StagedReader::Ldmatrix;
  std::function<void(OpBuilder &, Location)> waitForLast;
  /// Where the op's stages of a producer's rings are left for its lowering
  /// to release (stageForBlock's `heldSteps`): for each staged operand,
  /// in the order of stageForBlock's `numbers`, the stage it reads and what
  /// gives that stage back to the producer. Empty elsewhere: the stages are
  /// released after the op.
  SmallVector<RingStage> stages;
};
/// A ring of stages in shared memory that a producer warpgroup fills by
/// tensor copies while the launch's other threads, the consumers, work on
/// what it filled (stageForBlock's warp-specialised form): `stages`
/// stages of `stageBytes` each in `buffer`; in `barriers`, `stages`
/// mbarriers that complete when a stage's copies have landed ("full", the
/// producer's one arrival with their bytes) and then `stages` that
/// complete when every consumer thread is done with it ("empty"); `used`,
/// a word of each thread's, counts the stages it has gone through (the
/// producer's and the consumers' counts advance alike), so stage
/// `used % stages` is next and its phase's parity is `used / stages % 2`.
/// An op's staged operands share one ring where its stages take at most
/// half of a block's shared memory, else each has a ring of its own, so
/// that the consumers give back each tile as soon as they are done with it
/// -- the keys once S = Q K^T is done, the values a step later where P V
/// runs with the next step's products (`operand`: the first of the ring's
/// operands among the op's staged ones). A ring has two stages, and one
/// more for each step the consumers hold a stage past its op's
/// (stageForBlock's `heldSteps`), so that the producer fills one while they
/// hold the rest. A launch's loops over tiles of one size share the rings.
struct ProducerRing {
  gpu::LaunchOp launch;
  int64_t stageBytes, stages;
  size_t operand;
  Value buffer, barriers, used;
};
/// The rings of the launches a pass stages for producer warpgroups.
using ProducerRings = SmallVector<ProducerRing, 2>;

/// Stages the 2-D operands `numbers` of `op` (tiles of up to `rows` rows:
/// fewer where clipped, zero-filled) in shared memory for the whole block
/// of `threads` threads, and replaces each by a view of its copy (see
/// StageBlockTiles.cpp): in place, or, where `op` is the body of a loop
/// over a schedule's tiles that allows it, one iteration ahead in a
/// pipelined loop. Tiles for warpgroup MMA that are windows of a buffer
/// outside the launch are copied by the tensor memory accelerator where
/// `tensorCopies`, the rest by the block's cp.async. With `rings`, such
/// copies in a loop at the top of the launch go to a producer warpgroup
/// (rings of `rings`, one for the operands or one each, kProducerAttr,
/// kConsumerThreadsAttr: see attn-specialize-warps), where the launch holds
/// no tile ops but softmax's; with `heldSteps` (for each operand, how many
/// steps past the op's its stage is held: 0 where the op gives it back
/// itself) the op's lowering releases its stages (StagedOp::stages), not
/// the staging after the op. `downColumns` says which of the operands the
/// op's lowering reads only down their columns (layoutFor; empty: none).
StagedOp stageForBlock(Operation *op, ArrayRef<unsigned> numbers, int64_t rows,
                       int64_t threads,
                       StagedReader reader = StagedReader::Ldmatrix,
                       bool tensorCopies = true, ProducerRings *rings = nullptr,
                       ArrayRef<int64_t> heldSteps = {},
                       ArrayRef<bool> downColumns = {});
/// The queries of an overlapped forward row group (`query`, a warp's view of
/// `rows` = 16 rows, every step's of the group) copied by the producer
/// warpgroup that stageForBlock gave the group's key loops, instead of by
/// each warp: a block-wide swizzled tile of the block's rows, one tensor
/// copy a 64-column block, into two slots against full and empty mbarriers,
/// so that in a persistent launch the next tile's queries land while this
/// one's steps run. The consumers wait where `query` is defined and give
/// the slot back at `release` (the group's finalize, after every step has
/// read it); the producer issues the copy at the start of its first loop
/// after that definition. Returns the tile (read through warpgroup MMA's
/// descriptors), or nothing where the queries are not a window the tensor
/// memory accelerator can copy (as stageForBlock's tiles), their row
/// groups not one warp's 16 rows, no producer loop follows them, or the
/// two slots would not fit a block's shared memory beside the launch's
/// staging buffers (sharedBytesOf).
std::optional<SharedTile> stageQueriesForProducer(Value query, int64_t rows,
                                                  Operation *release,
                                                  int64_t threads);
/// Waits for `staged`'s last operand's copies, if still in flight, and
/// makes them visible to this thread's reads (cp.async: a wait, the async
/// proxy's fence and a block barrier; the tensor memory accelerator: a wait
/// on its mbarrier).
void waitForLastStaged(OpBuilder &b, Location loc, const StagedOp &staged);
/// The tile in shared memory that an operand of `staged`'s op views.
SharedTile stagedTileOf(const StagedOp &staged, Value operand);

/// Rows [row, row + count) of a 2-D `memref` (all its columns), or
/// elements of a 1-D one.
Value rowView(OpBuilder &b, Location loc, Value memref, Value row,
              Value count);

/// A builder right after `v` is defined, or at the start of `launch`'s body
/// where `v` comes from outside it: where per-tile work is hoisted to.
OpBuilder atDefinition(Value v, gpu::LaunchOp launch);

/// A tile of up to 16 m rows (m from its static row bound) as
/// RowFragments (bf16/f16 pairs, or f32 values), the A fragments of its
/// 16-row tiles; rows past the tile's end are zeros.
/// Loaded once where the tile is defined.
const RowFragments &queryFragments(Value q, Type elem, gpu::LaunchOp launch,
                                   DenseMap<Value, RowFragments> &cache);

} // namespace mlir::attn::gpu_tiles

#endif // ATTN_CONVERSION_GPUTILES_H

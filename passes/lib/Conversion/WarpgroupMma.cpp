//===- WarpgroupMma.cpp - sm_90a's warpgroup MMA from shared memory -------===//

#include "WarpgroupMma.h"

#include "attn/Conversion/SharedLayout.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_tiles;

bool gpu_tiles::hasWarpgroupMma(Operation *op) {
  return TargetAttr::lookup(op).hasWarpgroupMma();
}

bool gpu_tiles::takesProducer(gpu::LaunchOp launch, bool forward) {
  std::optional<int64_t> threads = getConstantIntValue(launch.getBlockSizeX());
  return hasWarpgroupMma(launch) && threads &&
         *threads % kWarpgroupThreads == 0 &&
         *threads >= (forward ? 2 : 1) * kWarpgroupThreads;
}

Value SwizzledTile::descriptor(ScalarEmitter &e, Value base, Value mn0,
                               int64_t slice) const {
  assert(blockCols() == kBlockCols && "rows of Swizzle::Bytes128");
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Type i64 = b.getI64Type();
  auto c64 = [&](int64_t v) {
    return arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(v));
  };
  Value mn = arith::IndexCastUIOp::create(b, loc, i64, mn0);
  // Where the wgmma's first row (K-major) or first K row's block
  // (MN-major) starts, and the strides the descriptor gives between its
  // 8 x 16-byte core matrices (PTX ISA, "Shared Memory Matrix Layout"):
  // K-major, eight rows of the tile apart along M/N (the stride byte
  // offset), K's slice 32 bytes into each swizzled row (the leading
  // byte offset unused); MN-major, eight rows (of K) apart along K, the
  // blocks of 64 M/N columns a block apart along M/N.
  Value start;
  int64_t sliceBytes;
  uint32_t leading, stride = 8 * kRowBytes;
  if (kMajor) {
    int64_t k0 = slice * kWgmmaK;
    start = arith::MulIOp::create(b, loc, mn, c64(kRowBytes));
    sliceBytes = k0 / kBlockCols * rows * kRowBytes + k0 % kBlockCols * 2;
    leading = 16;
  } else {
    start = arith::MulIOp::create(
        b, loc, arith::DivUIOp::create(b, loc, mn, c64(kBlockCols)),
        c64(rows * kRowBytes));
    sliceBytes = slice * kWgmmaK * kRowBytes;
    leading = static_cast<uint32_t>(rows * kRowBytes);
  }
  uint64_t fixed = wgmmaDescriptor(0, leading, stride, Swizzle::Bytes128);
  // The descriptor of the tile's data from `address`: the address field
  // (bits 4-17 of the address, at bits 0-13) and the fixed fields.
  auto descriptorAt = [&](Value address) -> Value {
    Value field = arith::ShRUIOp::create(
        b, loc, arith::AndIOp::create(b, loc, address, c64(0x3FFFF)), c64(4));
    return arith::OrIOp::create(b, loc, field,
                                c64(static_cast<int64_t>(fixed)));
  };
  // A tile of one 64-column block: each slice's own descriptor.
  if (cols <= kBlockCols)
    return descriptorAt(arith::AddIOp::create(
        b, loc, base, arith::AddIOp::create(b, loc, start, c64(sliceBytes))));
  // Wider tiles: the first slice's descriptor plus the slice's offset in
  // the address field (a shared address is below 2^18, so the 14-bit
  // field does not carry), added after an opaque copy of the first
  // (pinRegister). LLVM would otherwise hoist every (operand, slice)
  // descriptor of a loop-invariant tile out of the loop and keep them all
  // live across it: 56 64-bit values in the D = 128 gradient's key kernel,
  // which took 255 registers and spilled (pinned: 227, no spills). Pinned
  // at D = 64 too, the BigBird gradient's key kernel took 178 registers
  // instead of 168 (two blocks a multiprocessor instead of three) and ran
  // 9% slower, so tiles of one block keep a descriptor a slice
  // (docs/lowering.md, "Shared memory"; tools/attn-bench/NOTES.md,
  // session 63).
  Value own = pinRegister(
      b, loc, descriptorAt(arith::AddIOp::create(b, loc, base, start)));
  if (sliceBytes == 0)
    return own;
  assert(sliceBytes % 16 == 0 && "descriptors address 16-byte units");
  return arith::AddIOp::create(b, loc, own, c64(sliceBytes >> 4));
}

Value gpu_tiles::sharedAddress(OpBuilder &b, Location loc, Value memref) {
  Value pointer =
      memref::ExtractAlignedPointerAsIndexOp::create(b, loc, memref);
  return arith::IndexCastUIOp::create(b, loc, b.getI64Type(), pointer);
}

Value gpu_tiles::alignmentPadding(ScalarEmitter &e, Value address) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value mask = arith::ConstantOp::create(
      b, loc, b.getI64IntegerAttr(kSwizzledTileAlignment - 1));
  Value negated = arith::SubIOp::create(
      b, loc, arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0)),
      address);
  return arith::IndexCastUIOp::create(
      b, loc, b.getIndexType(), arith::AndIOp::create(b, loc, negated, mask));
}

SmallVector<Value> gpu_tiles::warpgroupMma(OpBuilder &b, Location loc,
                                           ValueRange acc, Value descA,
                                           Value descB, int64_t n, Type elem,
                                           bool aMnMajor, bool bMnMajor) {
  assert(static_cast<int64_t>(acc.size()) == n / 2 &&
         "m64nNk16's f32 accumulators: N / 2 a thread");
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  auto type =
      LLVM::LLVMStructType::getLiteral(ctx, SmallVector<Type>(n / 2, f32));
  // NVVM's op, not raw PTX of our own: convert-nvvm-to-llvm writes it as
  // inline PTX (LLVM 22 gives it no intrinsic), taking and returning the
  // accumulators as one struct of operands. Both operands come from shared
  // memory here, which is the form the op has.
  Value packed = LLVM::PoisonOp::create(b, loc, type);
  for (auto [i, v] : llvm::enumerate(acc))
    packed = LLVM::InsertValueOp::create(b, loc, packed, v, i);
  auto ptx = elem.isBF16() ? NVVM::WGMMATypes::bf16 : NVVM::WGMMATypes::f16;
  // K-major is A's "row" and B's "col"; MN-major the other (PTX's
  // imm-trans-a / imm-trans-b).
  Value d = NVVM::WgmmaMmaAsyncOp::create(
      b, loc, type, packed, descA, descB,
      NVVM::MMAShapeAttr::get(ctx, kWgmmaM, n, kWgmmaK), ptx, ptx,
      NVVM::WGMMATypes::f32, NVVM::WGMMAScaleOut::one, NVVM::WGMMAScaleIn::one,
      NVVM::WGMMAScaleIn::one,
      aMnMajor ? NVVM::MMALayout::col : NVVM::MMALayout::row,
      bMnMajor ? NVVM::MMALayout::row : NVVM::MMALayout::col,
      /*satfinite=*/nullptr);
  SmallVector<Value> out;
  for (int64_t i = 0; i < n / 2; ++i)
    out.push_back(LLVM::ExtractValueOp::create(b, loc, d, i));
  return out;
}

namespace {

/// An inline-asm statement with side effects whose first operands are the
/// f32 registers `tied`, each read and written in place (outputs "=f", the
/// inputs tied to them: "0", "1", ...), then `more` with the constraints
/// `moreConstraints` (each with its leading comma); the registers after
/// it. Operand $i of `ptx` is tied register i, $(tied + j) the j-th of
/// `more`.
SmallVector<Value> tiedF32Asm(OpBuilder &b, Location loc, StringRef ptx,
                              ValueRange tied, ValueRange more,
                              StringRef moreConstraints) {
  SmallVector<Type> types(tied.getTypes());
  assert(llvm::all_of(types, [](Type t) { return t.isF32(); }) &&
         "\"f\" constraints: f32 registers");
  std::string constraints;
  for (size_t i = 0; i < tied.size(); ++i)
    constraints += (i ? ",=f" : "=f");
  for (size_t i = 0; i < tied.size(); ++i)
    constraints += "," + std::to_string(i);
  constraints += moreConstraints;
  SmallVector<Value> operands(tied);
  operands.append(more.begin(), more.end());
  auto asmOp = LLVM::InlineAsmOp::create(
      b, loc, LLVM::LLVMStructType::getLiteral(b.getContext(), types), operands,
      ptx, constraints,
      /*has_side_effects=*/true, /*is_align_stack=*/false,
      LLVM::TailCallKind::None, /*asm_dialect=*/nullptr,
      /*operand_attrs=*/nullptr);
  SmallVector<Value> out;
  for (size_t i = 0; i < tied.size(); ++i)
    out.push_back(LLVM::ExtractValueOp::create(b, loc, asmOp.getResult(0), i));
  return out;
}

} // namespace

SmallVector<Value> gpu_tiles::warpgroupMmaRegisterA(OpBuilder &b, Location loc,
                                                    ValueRange acc,
                                                    ValueRange a, Value descB,
                                                    int64_t n, Type elem,
                                                    bool bMnMajor) {
  const int64_t outs = n / 2;
  assert(static_cast<int64_t>(acc.size()) == outs &&
         "m64nNk16's f32 accumulators: N / 2 a thread");
  assert(a.size() == 4 && "m64nNk16's 16-bit A: four registers a thread");
  // Raw PTX: LLVM 22's nvvm.wgmma.mma_async takes A only as a shared-memory
  // descriptor. The register form is the one that keeps P (and dS) where
  // the accumulators of S (and dP) left them, as mma.sync's A fragments.
  // Operands: the accumulators ($0 .. $outs-1, tied to the inputs of the
  // same numbers), A's registers, B's descriptor, then scale-d as a
  // register (PTX takes it as a predicate).
  std::string ptx;
  llvm::raw_string_ostream os(ptx);
  os << "{\n.reg .pred p;\nsetp.ne.b32 p, $" << 2 * outs + 5 << ", 0;\n"
     << "wgmma.mma_async.sync.aligned.m" << kWgmmaM << "n" << n << "k"
     << kWgmmaK << ".f32." << (elem.isBF16() ? "bf16.bf16" : "f16.f16") << " {";
  for (int64_t i = 0; i < outs; ++i)
    os << (i ? ", $" : "$") << i;
  os << "}, {";
  for (int64_t i = 0; i < 4; ++i)
    os << (i ? ", $" : "$") << 2 * outs + i;
  // imm-scale-a, imm-scale-b = 1; imm-trans-b: 1 for MN-major B.
  os << "}, $" << 2 * outs + 4 << ", p, 1, 1, " << (bMnMajor ? 1 : 0)
     << ";\n}\n";
  SmallVector<Value> more(a.begin(), a.end());
  more.push_back(descB);
  more.push_back(arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(1)));
  return tiedF32Asm(b, loc, ptx, acc, more, ",r,r,r,r,l,r");
}

SmallVector<Value> gpu_tiles::pinRegisters(OpBuilder &b, Location loc,
                                           ValueRange values) {
  return tiedF32Asm(b, loc, /*ptx=*/"", values, {}, "");
}

Value gpu_tiles::pinRegister(OpBuilder &b, Location loc, Value value) {
  assert(value.getType().isInteger(64) && "an \"l\" register");
  return LLVM::InlineAsmOp::create(
             b, loc, value.getType(), ValueRange{value}, /*asm_string=*/"",
             /*constraints=*/"=l,0",
             /*has_side_effects=*/true, /*is_align_stack=*/false,
             LLVM::TailCallKind::None, /*asm_dialect=*/nullptr,
             /*operand_attrs=*/nullptr)
      .getResult(0);
}

void gpu_tiles::warpgroupFence(OpBuilder &b, Location loc) {
  NVVM::WgmmaFenceAlignedOp::create(b, loc);
}

void gpu_tiles::warpgroupCommitAndWait(OpBuilder &b, Location loc,
                                       int64_t pending) {
  warpgroupCommit(b, loc);
  warpgroupWait(b, loc, pending);
}

void gpu_tiles::warpgroupCommit(OpBuilder &b, Location loc) {
  NVVM::WgmmaGroupSyncAlignedOp::create(b, loc);
}

void gpu_tiles::warpgroupWait(OpBuilder &b, Location loc, int64_t pending) {
  NVVM::WgmmaWaitGroupSyncOp::create(b, loc, pending);
}

void gpu_tiles::fenceProxyAsyncShared(OpBuilder &b, Location loc) {
  MLIRContext *ctx = b.getContext();
  NVVM::FenceProxyOp::create(
      b, loc, NVVM::ProxyKindAttr::get(ctx, NVVM::ProxyKind::async_shared),
      NVVM::SharedSpaceAttr::get(ctx, NVVM::SharedSpace::shared_cta));
}

void gpu_tiles::fenceSharedForAsyncProxy(OpBuilder &b, Location loc) {
  fenceProxyAsyncShared(b, loc);
  gpu::BarrierOp::create(b, loc);
}

//===- StageBlockTiles.cpp - a tile op's block-wide tiles in shared memory ===//
//
// The tensor-core forms of softmax_step and softmax_grad_step read one
// side's tiles (the forward's key and value tiles, the gradient's staged
// side) from shared memory, where the whole block copies them. Staging is a
// step of its own, taken before the op is lowered: the tiles are copied
// (cp.async) into a staging buffer and the op's operands replaced by views
// of the copies, so that the op reads them from workgroup memory. The
// tiles' rows are padded (ldmatrix) or swizzled (warpgroup MMA's
// descriptors), as the op's lowering asks (StagedReader, TileLayout).
//
// Where the op is the body of a loop over a schedule's tiles, the copies
// move out of the scf.ifs around it into a prefetch scf.if of their own,
// ahead of it in the loop, and scf::pipelineForLoop splits the loop into
// two stages: the copies of tile t + 1 (stage 0) are in flight while tile
// t is computed (stage 1), each in its own half of a double buffer.
// Elsewhere the tiles are staged where the op is. docs/lowering.md has the
// schedule of the stages and why dense attention's loop is not pipelined.
//
// With tensor copies and producer rings (warp-specialize), such a loop at
// the top of its launch gets a producer instead (stageForProducer): a loop
// of its own, before the launch's, that issues the copies into rings of
// stages (one for all the operands, or one each: ringGroups) against full
// and empty mbarriers, on a thread that attn-specialize-warps adds with its
// warpgroup; the launch's threads wait for each stage to be full and
// arrive on its empty barrier when done. The producer's queries
// (stageQueriesForProducer) take a ring of the same protocol.
//
// The pipelining itself (emitCopyStage, pipelineCopies) is shared with the
// lowerings that emit their own loops over staged tiles (linear
// attention's, the host products'): a loop written as if unpipelined, its
// copy stage marked.
//
//===----------------------------------------------------------------------===//

#include "GPUTiles.h"
#include "LaunchAccess.h"
#include "WarpgroupMma.h"
#include "attn/Conversion/Passes.h"

#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::attn::gpu_tiles {
namespace {

/// Whether the buffers `a` and `b` may share memory: an allocation is
/// distinct from every other buffer, a global from every other global.
bool mayAlias(Value a, Value b) {
  if (a == b)
    return true;
  auto isAllocation = [](Value v) {
    return isa_and_present<memref::AllocOp, memref::AllocaOp, gpu::AllocOp>(
        v.getDefiningOp());
  };
  if (isAllocation(a) || isAllocation(b))
    return false;
  auto ga = a.getDefiningOp<memref::GetGlobalOp>();
  auto gb = b.getDefiningOp<memref::GetGlobalOp>();
  if (ga && gb)
    return ga.getName() == gb.getName();
  return true;
}

/// Whether anything in `loop` may write a buffer that one of `read` views.
/// The synchronisation ops, which have no effects interface, write nothing.
bool writtenIn(scf::ForOp loop, ArrayRef<Value> read) {
  WalkResult walk = loop.getBody()->walk([&](Operation *op) {
    if (isa<gpu::BarrierOp, nvgpu::DeviceAsyncCreateGroupOp,
            nvgpu::DeviceAsyncWaitOp>(op))
      return WalkResult::advance();
    auto effects = dyn_cast<MemoryEffectOpInterface>(op);
    if (!effects)
      return op->hasTrait<OpTrait::HasRecursiveMemoryEffects>()
                 ? WalkResult::advance()
                 : WalkResult::interrupt();
    SmallVector<MemoryEffects::EffectInstance> instances;
    effects.getEffects(instances);
    for (const MemoryEffects::EffectInstance &e : instances) {
      if (!isa<MemoryEffects::Write>(e.getEffect()))
        continue;
      if (!e.getValue())
        return WalkResult::interrupt();
      // A written value that is not a memref is not told apart: written.
      for (Value buffer : read)
        if (!isa<MemrefValue>(e.getValue()) ||
            mayAlias(viewedBuffer(e.getValue()), buffer))
          return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return walk.wasInterrupted();
}

/// Whether `op` can run an iteration early: pure, or a read without
/// regions (of a buffer the loop does not write, which the caller checks).
bool runsEarly(Operation *op) {
  if (isPure(op))
    return true;
  auto effects = dyn_cast<MemoryEffectOpInterface>(op);
  return op->getNumRegions() == 0 &&
         (isMemoryEffectFree(op) ||
          (effects && effects.onlyHasEffect<MemoryEffects::Read>()));
}

/// A loop whose copies of `op`'s tiles can be issued one iteration ahead:
/// `op` lies in `loop` under `guards` (scf.ifs without results or else,
/// outermost first) and is the loop's only attn op; the loop carries no
/// values and its trip count is not a constant (unless `constantTrips`,
/// for copies that keep no addresses in registers); and `slice`, the ops in the
/// loop that compute the tiles and the guards' conditions, are in its body or
/// the guards' and can run an iteration early (runsEarly), reading only buffers
/// the loop does not write.
struct PipelinedLoop {
  scf::ForOp loop;
  SmallVector<scf::IfOp> guards;
  llvm::SmallPtrSet<Operation *, 16> slice;
};

std::optional<PipelinedLoop>
pipelinedLoopOf(Operation *op, ArrayRef<Value> tiles, bool constantTrips) {
  PipelinedLoop p;
  Operation *parent = op->getParentOp();
  while (auto guard = dyn_cast<scf::IfOp>(parent)) {
    if (guard.getNumResults() != 0 || !guard.getElseRegion().empty())
      return std::nullopt;
    p.guards.insert(p.guards.begin(), guard);
    parent = guard->getParentOp();
  }
  p.loop = dyn_cast<scf::ForOp>(parent);
  if (!p.loop || p.loop.getNumRegionIterArgs() != 0)
    return std::nullopt;
  // A loop of a constant trip count (dense attention's, over every key
  // tile) is not pipelined: its blocks do the same work, so the blocks
  // resident together hide each other's copies, and the double buffer and
  // the registers the pipeline keeps live cost one of them (on the H200,
  // dense bf16 at D = 64 fits 4 blocks an SM instead of 5 by its registers
  // and shared memory, and ran 11% slower pipelined at N = 16384). Loops
  // over a schedule's lists, whose trip counts vary from block to block,
  // keep the pipeline they had before staging was a step of its own.
  if (!constantTrips && getConstantIntValue(p.loop.getLowerBound()) &&
      getConstantIntValue(p.loop.getUpperBound()))
    return std::nullopt;
  // Pipelining clones the loop: no other attn op may be in it, whose
  // lowering would hold it.
  WalkResult others = p.loop.walk<WalkOrder::PreOrder>([&](Operation *o) {
    if (o == op)
      return WalkResult::skip();
    return isa<AttnDialect>(o->getDialect()) ? WalkResult::interrupt()
                                             : WalkResult::advance();
  });
  if (others.wasInterrupted())
    return std::nullopt;

  llvm::SmallPtrSet<Block *, 4> blocks{p.loop.getBody()};
  for (scf::IfOp guard : p.guards)
    blocks.insert(guard.thenBlock());
  SmallVector<Value> read;
  std::function<bool(Value)> collect = [&](Value v) {
    Operation *def = v.getDefiningOp();
    if (!def || !p.loop->isProperAncestor(def) || p.slice.contains(def))
      return true; // the induction variable, or defined outside the loop
    if (!blocks.contains(def->getBlock()) || !runsEarly(def))
      return false;
    p.slice.insert(def);
    if (!isMemoryEffectFree(def))
      for (Value operand : def->getOperands())
        if (auto memref = dyn_cast<MemrefValue>(operand))
          read.push_back(viewedBuffer(memref));
    return llvm::all_of(def->getOperands(), collect);
  };
  for (Value tile : tiles)
    if (!collect(tile))
      return std::nullopt;
  for (scf::IfOp guard : p.guards)
    if (!collect(guard.getCondition()))
      return std::nullopt;
  if (writtenIn(p.loop, read))
    return std::nullopt;
  return p;
}

/// A staged operand that the tensor memory accelerator can copy: `window`,
/// a unit-stride [rows, columns] subview of `buffer`, a buffer of 16-bit
/// elements (rank 2 to 5) defined outside the launch, so that its tensor
/// map can be made on the host, whose last two dimensions are the window's
/// rows and columns, its strides and start static multiples of 16 bytes.
/// A window of fewer than the staged rows must end where the buffer's rows
/// do, so that the copy's rows past it read as zeros, as cp.async's clipped
/// copies fill them.
struct BulkWindow {
  memref::SubViewOp window;
  Value buffer;
};

/// The most rows (elements along any dimension) of a tensor copy's box.
constexpr int64_t kMaxBoxRows = 256;

/// Whether `size` is min(`extent` - `offset`, `rows`) (attn-tile's
/// clipping of a tile at the end of a sequence), maybe clamped at 0.
bool clipsAtEnd(Value size, Value offset, int64_t extent, int64_t rows) {
  if (auto clamp = size.getDefiningOp<arith::MaxSIOp>())
    if (isConstantIntValue(clamp.getRhs(), 0))
      size = clamp.getLhs();
  auto min = size.getDefiningOp<arith::MinSIOp>();
  if (!min)
    return false;
  for (auto [bound, rest] : {std::pair{min.getLhs(), min.getRhs()},
                             std::pair{min.getRhs(), min.getLhs()}}) {
    auto left = rest.getDefiningOp<arith::SubIOp>();
    if (isConstantIntValue(bound, rows) && left && left.getRhs() == offset &&
        isConstantIntValue(left.getLhs(), extent))
      return true;
  }
  return false;
}

std::optional<BulkWindow> bulkWindowOf(Value tile, gpu::LaunchOp launch,
                                       int64_t rows) {
  auto window = tile.getDefiningOp<memref::SubViewOp>();
  if (!window || !window.hasUnitStride())
    return std::nullopt;
  Value buffer = window.getSource();
  if (launch.getBody().isAncestor(buffer.getParentRegion()))
    return std::nullopt;
  MemRefType type = window.getSourceType();
  const int64_t rank = type.getRank();
  if (rank < 2 || rank > 5 || type.getElementTypeBitWidth() != 16 ||
      cast<MemRefType>(tile.getType()).getRank() != 2)
    return std::nullopt;
  llvm::SmallBitVector dropped = window.getDroppedDims();
  if (dropped.test(rank - 2) || dropped.test(rank - 1))
    return std::nullopt;
  auto [strides, offset] = type.getStridesAndOffset();
  if (ShapedType::isDynamic(offset) || offset * 2 % 16 || strides.back() != 1 ||
      bufferAlignment(buffer) % 16)
    return std::nullopt;
  for (int64_t stride : ArrayRef(strides).drop_back())
    if (ShapedType::isDynamic(stride) || stride * 2 % 16)
      return std::nullopt;
  // Fewer rows than staged only where the buffer's end clips the window
  // (the buffer's rows a static count).
  OpFoldResult size = window.getMixedSizes()[rank - 2];
  if (!isConstantIntValue(size, rows)) {
    auto sizeValue = dyn_cast<Value>(size);
    auto offsetValue = dyn_cast<Value>(window.getMixedOffsets()[rank - 2]);
    if (type.isDynamicDim(rank - 2) || !sizeValue || !offsetValue ||
        !clipsAtEnd(sizeValue, offsetValue, type.getDimSize(rank - 2), rows))
      return std::nullopt;
  }
  return BulkWindow{window, buffer};
}

/// The mbarriers that a launch's tensor copies complete on, in a shared
/// buffer of their own: barrier k expects per phase `arrivals[k]` arrivals
/// (1 where it is the thread that issues the copies, with their bytes), set
/// up at the launch's start and invalidated at its end (so that no other
/// buffer shares their memory). Each thread keeps in `phases` (a word that
/// lives in a register) the parity of the phase it waits for next on
/// barrier k, in bit k.
struct CopyBarriers {
  Value buffer, phases;

  static CopyBarriers create(gpu::LaunchOp launch, ArrayRef<int64_t> arrivals);
  /// Barrier `index`'s address in the shared window.
  Value address(ScalarEmitter &e, Value index) const;
  /// Barrier `index`: `bytes` more to come, and this thread's arrival.
  void expect(ScalarEmitter &e, Value index, int64_t bytes) const;
  /// This thread's arrival on barrier `index`.
  void arrive(ScalarEmitter &e, Value index) const;
  /// Waits for barrier `index`'s next phase to complete.
  void wait(ScalarEmitter &e, Value index) const;
  /// Waits for the phase of barrier `index` of parity `parity` (i32) to
  /// complete; a barrier's phase before its first is complete: parity 1
  /// does not wait on a new barrier.
  void waitParity(ScalarEmitter &e, Value index, Value parity) const;
};

/// Whether this is the block's first thread, which issues the copies.
Value isFirstThread(ScalarEmitter &e) {
  return e.cmp(arith::CmpIPredicate::eq,
               gpu::ThreadIdOp::create(e.b, e.loc, gpu::Dimension::x),
               e.idx(0));
}

/// An mbarrier's bytes in shared memory.
constexpr int64_t kMbarrierBytes = 8;

CopyBarriers CopyBarriers::create(gpu::LaunchOp launch,
                                  ArrayRef<int64_t> arrivals) {
  CopyBarriers c;
  const int64_t count = arrivals.size();
  c.buffer = allocateShared(launch, kMbarrierBytes * count);
  Location loc = launch.getLoc();
  Block &body = launch.getBody().front();
  auto it = body.begin();
  while (isa<memref::AllocOp>(*it))
    ++it;
  OpBuilder b(&body, it);
  ScalarEmitter e{b, loc};
  c.phases =
      memref::AllocaOp::create(b, loc, MemRefType::get({1}, b.getI32Type()));
  memref::StoreOp::create(b, loc, e.i32(0), c.phases, e.idx(0));
  // Predicated rather than branched around: a branch here would move the
  // launch's other allocas out of its entry block, where LLVM keeps them
  // in registers.
  Value first = isFirstThread(e);
  for (int64_t k = 0; k < count; ++k)
    NVVM::MBarrierInitOp::create(b, loc, c.address(e, e.idx(k)),
                                 e.i32(arrivals[k]), first);
  // The barriers initialised before any thread uses them.
  NVVM::FenceMbarrierInitOp::create(b, loc);
  gpu::BarrierOp::create(b, loc);

  // No thread waits on them any more before their memory is given up.
  b.setInsertionPoint(launch.getBody().back().getTerminator());
  gpu::BarrierOp::create(b, loc);
  e.ifThen(isFirstThread(e), [&] {
    for (int64_t k = 0; k < count; ++k)
      NVVM::MBarrierInvalOp::create(b, loc, c.address(e, e.idx(k)));
  });
  return c;
}

Value CopyBarriers::address(ScalarEmitter &e, Value index) const {
  // The buffer's address taken at each use: each is an access of it to
  // attn-allocate-shared-memory, which keeps it live through all of them.
  OpBuilder &b = e.b;
  Value offset = arith::IndexCastUIOp::create(
      b, e.loc, b.getI64Type(),
      arith::MulIOp::create(b, e.loc, index, e.idx(kMbarrierBytes)));
  Value at =
      arith::AddIOp::create(b, e.loc, sharedAddress(b, e.loc, buffer), offset);
  return LLVM::IntToPtrOp::create(
      b, e.loc, LLVM::LLVMPointerType::get(b.getContext(), 3), at);
}

void CopyBarriers::expect(ScalarEmitter &e, Value index, int64_t bytes) const {
  NVVM::MBarrierArriveExpectTxOp::create(e.b, e.loc, Type(), address(e, index),
                                         e.i32(bytes), NVVM::MemScopeKind::CTA,
                                         /*relaxed=*/false, Value());
}

void CopyBarriers::arrive(ScalarEmitter &e, Value index) const {
  NVVM::MBarrierArriveOp::create(e.b, e.loc, Type(), address(e, index), Value(),
                                 NVVM::MemScopeKind::CTA,
                                 /*relaxed=*/false);
}

void CopyBarriers::waitParity(ScalarEmitter &e, Value index,
                              Value parity) const {
  // The suspend-time hint CUTLASS gives its waits (ns).
  NVVM::MBarrierTryWaitParityOp::create(e.b, e.loc, address(e, index), parity,
                                        e.i32(10000000));
}

void CopyBarriers::wait(ScalarEmitter &e, Value index) const {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value bit = arith::IndexCastUIOp::create(b, loc, b.getI32Type(), index);
  Value word = memref::LoadOp::create(b, loc, phases, e.idx(0));
  Value parity = arith::AndIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, word, bit), e.i32(1));
  waitParity(e, index, parity);
  Value flipped = arith::XOrIOp::create(
      b, loc, word, arith::ShLIOp::create(b, loc, e.i32(1), bit));
  memref::StoreOp::create(b, loc, flipped, phases, e.idx(0));
}

/// The tensor map of `w`'s buffer for boxes of [rows, 64] (the staged
/// tile's rows, one 128-byte swizzled column block), made before `launch`.
Value tensorMapOf(BulkWindow w, gpu::LaunchOp launch, int64_t rows) {
  OpBuilder b(launch);
  SmallVector<int64_t> box(w.window.getSourceType().getRank(), 1);
  box[box.size() - 2] = rows;
  box.back() = SwizzledTile::kBlockCols;
  return BufferTensorMapOp::create(b, launch.getLoc(), w.buffer, box,
                                   /*swizzle=*/SwizzledTile::kRowBytes);
}

/// The tensor copies of the window `window` (a BulkWindow's, or a copy of
/// it) into the swizzled tile `to` of `rows` x `width`, one box of a column
/// block each, through the tensor map at `map`, completing on `barrier`.
void copyBoxes(ScalarEmitter &e, memref::SubViewOp window, Value map,
               const SharedTile &to, int64_t rows, int64_t width,
               Value barrier) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  SmallVector<Value> offsets =
      getValueOrCreateConstantIndexOp(b, loc, window.getMixedOffsets());
  auto i32 = [&](Value v) {
    return arith::IndexCastUIOp::create(b, loc, b.getI32Type(), v).getResult();
  };
  assert(to.swizzled && "tensor copies fill swizzled tiles");
  Value tensorMap = LLVM::IntToPtrOp::create(
      b, loc, LLVM::LLVMPointerType::get(b.getContext()), map);
  Value start = sharedAddress(b, loc, to.memref);
  const int64_t block = SwizzledTile::kBlockCols;
  for (int64_t j = 0; j < width / block; ++j) {
    // The box's coordinates innermost first: column, row, then the
    // dimensions the window drops.
    SmallVector<Value> coordinates{i32(e.add(offsets.back(), j * block))};
    for (Value o : llvm::reverse(ArrayRef(offsets).drop_back()))
      coordinates.push_back(i32(o));
    // Column block j's first row, where the layout puts it.
    Value at = arith::AddIOp::create(
        b, loc, start,
        arith::IndexCastUIOp::create(
            b, loc, b.getI64Type(),
            to.swizzled->runOffset(e, e.idx(0), e.idx(j * block))));
    Value dst = LLVM::AddrSpaceCastOp::create(
        b, loc, LLVM::LLVMPointerType::get(b.getContext(), 7),
        LLVM::IntToPtrOp::create(
            b, loc, LLVM::LLVMPointerType::get(b.getContext(), 3), at));
    NVVM::CpAsyncBulkTensorGlobalToSharedClusterOp::create(
        b, loc, dst, tensorMap, coordinates, barrier, ValueRange{},
        /*multicastMask=*/Value(), /*l2CacheHint=*/Value(),
        NVVM::TMALoadMode::TILE, /*isCTAOnly=*/false,
        /*group=*/NVVM::CTAGroupKindAttr(), /*predicate=*/Value());
  }
}

/// What one stage holds: a tile of `rows` rows for each staged operand, of
/// its width, one after the other, in the reader's layout (layoutFor, by
/// which way the operand is read: `downColumns`, empty where none); for
/// warpgroup MMA each at a multiple of kSwizzledTileAlignment (its bytes a
/// multiple of it: rows a multiple of 8, widths of 64).
struct StagedShape {
  int64_t rows;
  SmallVector<int64_t> widths;
  Type elem;
  StagedReader reader;
  SmallVector<bool> downColumns;
  /// Where the tensor memory accelerator copies the tiles: each operand's
  /// tensor map (tensorMapOf); empty where the block copies them.
  SmallVector<Value> maps;

  bool bulk() const { return !maps.empty(); }
  /// The shape of the operands `operands` alone.
  StagedShape only(ArrayRef<size_t> operands) const {
    StagedShape some{rows, {}, elem, reader, {}, {}};
    for (size_t i : operands) {
      some.widths.push_back(widths[i]);
      if (!downColumns.empty())
        some.downColumns.push_back(downColumns[i]);
      if (bulk())
        some.maps.push_back(maps[i]);
    }
    return some;
  }

  bool forWarpgroups() const { return reader == StagedReader::WarpgroupMma; }
  TileLayout layout(size_t i) const {
    return layoutFor(reader, !downColumns.empty() && downColumns[i]);
  }
  int64_t tileBytes(size_t i) const {
    return SharedTile::bytes(rows, widths[i], elem, layout(i));
  }
  int64_t stageBytes() const {
    int64_t bytes = 0;
    for (size_t i = 0; i < widths.size(); ++i)
      bytes += tileBytes(i);
    return bytes;
  }
  /// The staging buffer for `stages` stages, in `launch`: warpgroup MMA's
  /// tiles get room to start at their alignment wherever it is placed.
  Value allocate(gpu::LaunchOp launch, int64_t stages) const {
    return allocateShared(launch,
                          stages * stageBytes() +
                              (forWarpgroups() ? kSwizzledTileSlack : 0));
  }
  /// The tiles of the stage at byte `offset` of `buffer`, as the op reads
  /// them (stagedTileOf).
  SmallVector<SharedTile> tiles(WarpEmitter &e, Value buffer,
                                Value offset) const {
    if (forWarpgroups())
      offset =
          e.add(offset, alignmentPadding(e, sharedAddress(e.b, e.loc, buffer)));
    SmallVector<SharedTile> out;
    for (size_t i = 0; i < widths.size(); ++i) {
      out.push_back(SharedTile::at(e.b, e.loc, buffer, offset, rows, widths[i],
                                   elem, layout(i)));
      offset = e.add(offset, tileBytes(i));
    }
    return out;
  }
  /// The block's copies of `tiles` into the stage at byte `offset` of
  /// `buffer`, `thread` of `threads`. With `groupEach`, each tile's copies
  /// are committed as a group of their own right after them (a commit takes
  /// every copy the thread issued before it), and the last group returned.
  Value copy(WarpEmitter &e, ValueRange tiles, Value buffer, Value offset,
             Value thread, int64_t threads, bool groupEach) const {
    Value group;
    for (auto [i, to] : llvm::enumerate(this->tiles(e, buffer, offset))) {
      SmallVector<Value> copies =
          stageTile(e, tiles[i], to, rows, widths[i], thread, threads);
      if (groupEach)
        group = commitCopies(e.b, e.loc, copies);
    }
    return group;
  }
  /// This thread's tensor copies of `tiles` (windows of the operands'
  /// buffers: BulkWindow's subviews, or copies of them) into the stage at
  /// byte `offset` of `buffer`, completing on `barriers`' barriers
  /// `indices`: one for all the tiles, or one each. Each barrier is told
  /// its bytes first, with the one arrival it waits for.
  void issueBulk(ScalarEmitter &e, ValueRange tiles, Value buffer, Value offset,
                 const CopyBarriers &barriers, ArrayRef<Value> indices) const {
    assert((indices.size() == 1 || indices.size() == tiles.size()) &&
           "one barrier, or one a tile");
    WarpEmitter we(e.b, e.loc, elem);
    SmallVector<SharedTile> to = this->tiles(we, buffer, offset);
    auto indexOf = [&](size_t i) {
      return indices.size() == 1 ? indices[0] : indices[i];
    };
    if (indices.size() == 1)
      barriers.expect(e, indices[0], stageBytes());
    else
      for (size_t i = 0; i < tiles.size(); ++i)
        barriers.expect(e, indices[i], tileBytes(i));
    for (size_t i = 0; i < tiles.size(); ++i)
      copyBoxes(e, tiles[i].getDefiningOp<memref::SubViewOp>(), maps[i], to[i],
                rows, widths[i], barriers.address(e, indexOf(i)));
  }
  /// issueBulk by the block's first thread.
  void copyBulk(ScalarEmitter &e, ValueRange tiles, Value buffer, Value offset,
                const CopyBarriers &barriers, ArrayRef<Value> indices) const {
    e.ifThen(isFirstThread(e),
             [&] { issueBulk(e, tiles, buffer, offset, barriers, indices); });
  }
  /// Between a wait for the copies and the barrier that gives them to the
  /// block: warpgroup MMA reads them through the async proxy.
  void fenceCopies(OpBuilder &b, Location loc) const {
    if (forWarpgroups())
      fenceProxyAsyncShared(b, loc);
  }
};

/// Replaces `op`'s operands `numbers` by their staged copies: each staged
/// tile's [rows of the operand, width].
void useStaged(Operation *op, ArrayRef<unsigned> numbers,
               ArrayRef<SharedTile> staged, WarpEmitter &e) {
  for (auto [number, copy] : llvm::zip(numbers, staged)) {
    Value view = copy.memref;
    Value tile = op->getOperand(number);
    OpFoldResult rows = memref::getMixedSize(e.b, e.loc, tile, 0);
    OpFoldResult width = memref::getMixedSize(e.b, e.loc, tile, 1);
    op->setOperand(
        number,
        memref::SubViewOp::create(
            e.b, e.loc, view,
            ArrayRef<OpFoldResult>{e.b.getIndexAttr(0), e.b.getIndexAttr(0)},
            ArrayRef<OpFoldResult>{rows, width},
            ArrayRef<OpFoldResult>{e.b.getIndexAttr(1), e.b.getIndexAttr(1)}));
  }
}

/// Staging at `op` itself: the block copies the tiles, each a group of its
/// own, waits for all but the last and synchronises, then `op` runs; the
/// wait for the last group is returned, for `op`'s lowering to emit where
/// it first reads that tile (so that its copies overlap the work on the
/// others).
/// Tensor copies: each tile on a barrier of its own, the last waited for
/// where the op first reads it.
StagedOp stageInPlace(Operation *op, ArrayRef<unsigned> numbers,
                      const StagedShape &shape, gpu::LaunchOp launch,
                      int64_t threads) {
  OpBuilder b(op);
  WarpEmitter e(b, op->getLoc(), shape.elem);
  Value buffer = shape.allocate(launch, 1);
  SmallVector<SharedTile> staged = shape.tiles(e, buffer, e.idx(0));
  SmallVector<Value> tiles;
  for (unsigned n : numbers)
    tiles.push_back(op->getOperand(n));
  // Every thread is done with the previous tile before it is overwritten.
  gpu::BarrierOp::create(b, e.loc);
  StagedOp result{op, shape.reader, {}};
  if (shape.bulk()) {
    CopyBarriers barriers =
        CopyBarriers::create(launch, SmallVector<int64_t>(tiles.size(), 1));
    SmallVector<Value> indices;
    for (size_t i = 0; i < tiles.size(); ++i)
      indices.push_back(e.idx(i));
    shape.copyBulk(e, tiles, buffer, e.idx(0), barriers, indices);
    for (size_t i = 0; i + 1 < tiles.size(); ++i)
      barriers.wait(e, indices[i]);
    const int64_t last = tiles.size() - 1;
    result.waitForLast = [barriers, last](OpBuilder &b, Location loc) {
      ScalarEmitter e{b, loc};
      barriers.wait(e, e.idx(last));
    };
  } else {
    Value tid = gpu::ThreadIdOp::create(b, e.loc, gpu::Dimension::x);
    Value last = shape.copy(e, tiles, buffer, e.idx(0), tid, threads,
                            /*groupEach=*/true);
    nvgpu::DeviceAsyncWaitOp::create(b, e.loc, last, b.getI32IntegerAttr(1));
    shape.fenceCopies(b, e.loc);
    gpu::BarrierOp::create(b, e.loc);
    result.waitForLast = [shape, last](OpBuilder &b, Location loc) {
      nvgpu::DeviceAsyncWaitOp::create(b, loc, last, b.getI32IntegerAttr(0));
      shape.fenceCopies(b, loc);
      gpu::BarrierOp::create(b, loc);
    };
  }
  useStaged(op, numbers, staged, e);
  return result;
}

/// Clones at `b`'s point what computes `p`'s tiles and the guards'
/// conditions (`p.slice`), and the guards themselves (new scf.ifs on the
/// cloned conditions, nested as they are), `map` taking the loop's values
/// to the clones'; leaves `b` in the innermost guard's body.
void cloneSliceAndGuards(OpBuilder &b, Location loc, const PipelinedLoop &p,
                         IRMapping &map) {
  auto cloneSlice = [&](Block *block) {
    for (Operation &o : block->without_terminator())
      if (p.slice.contains(&o))
        b.clone(o, map);
  };
  cloneSlice(scf::ForOp(p.loop).getBody());
  for (scf::IfOp guard : p.guards) {
    auto inner =
        scf::IfOp::create(b, loc, map.lookupOrDefault(guard.getCondition()),
                          /*withElseRegion=*/false);
    b.setInsertionPoint(inner.thenBlock()->getTerminator());
    cloneSlice(guard.thenBlock());
  }
}

/// Staging in a loop `p`, pipelined: see the file's comment. Returns the
/// op as it is in the pipelined loop (where pipelineForLoop declines, the
/// loop as it was, waiting for each tile's copies before using them).
Operation *stagePipelined(Operation *op, ArrayRef<unsigned> numbers,
                          const StagedShape &shape, PipelinedLoop &p,
                          gpu::LaunchOp launch, int64_t threads) {
  scf::ForOp loop = p.loop;
  Location loc = op->getLoc();
  const int64_t stage = shape.stageBytes();
  Value buffer = shape.allocate(launch, 2);
  Operation *outermost =
      p.guards.empty() ? op : p.guards.front().getOperation();

  // Stage 0, the prefetch: a copy of what computes the tiles (stage 1
  // keeps its own rather than taking stage 0's values through the loop,
  // which would hide from later folding what the op's tile is: a full
  // tile's rows are a constant where the guard implies them), the guards'
  // conditions and the copies, all in the copy stage's scf.if, which
  // pipelineCopies predicates (so that the copies' sizes fold as where they
  // are not pipelined).
  OpBuilder b(outermost);
  WarpEmitter e(b, loc, shape.elem);
  // Tensor copies: the stage's tiles on the stage's barrier.
  CopyBarriers barriers;
  if (shape.bulk())
    barriers = CopyBarriers::create(launch, {1, 1});
  CopyStage copies = emitCopyStage(
      b, loc, CopyScope::Block,
      [&] {
        IRMapping map;
        cloneSliceAndGuards(b, loc, p, map);
        SmallVector<Value> tiles;
        for (unsigned n : numbers)
          tiles.push_back(map.lookupOrDefault(op->getOperand(n)));
        Value offset = stageOffset(e, loop, loop.getInductionVar(), 2, stage);
        if (shape.bulk())
          shape.copyBulk(e, tiles, buffer, offset, barriers,
                         stageIndex(e, loop, loop.getInductionVar(), 2));
        else
          shape.copy(e, tiles, buffer, offset,
                     gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x),
                     threads,
                     /*groupEach=*/false);
      },
      /*stages=*/2, shape.bulk() ? CopyKind::Bulk : CopyKind::Async);
  // Stage 1: the tile t's copies visible to the block (or, copied by the
  // tensor memory accelerator, to each thread that waits for them), then
  // the op on them.
  if (shape.bulk()) {
    barriers.wait(e, stageIndex(e, loop, loop.getInductionVar(), 2));
  } else {
    shape.fenceCopies(b, loc);
    gpu::BarrierOp::create(b, loc);
  }
  OpBuilder at(op);
  WarpEmitter ae(at, loc, shape.elem);
  useStaged(
      op, numbers,
      shape.tiles(ae, buffer,
                  stageOffset(ae, loop, loop.getInductionVar(), 2, stage)),
      ae);

  Operation *staged = nullptr;
  FailureOr<scf::ForOp> pipelined =
      pipelineCopies(loop, copies, CopyScope::Block, [&](Operation *created) {
        created->walk([&](Operation *o) {
          if (o->getName() == op->getName())
            staged = o;
        });
      });
  return succeeded(pipelined) ? staged : op;
}

/// Where `ring` is at for this thread: the stage it uses next (index), the
/// parity of that stage's phase (i32), and its count of stages used.
struct RingPosition {
  Value stage, parity, used;
};

RingPosition positionIn(ScalarEmitter &e, const ProducerRing &ring) {
  OpBuilder &b = e.b;
  Value used = memref::LoadOp::create(b, e.loc, ring.used, e.idx(0));
  Value stages = e.i32(ring.stages);
  Value stage = arith::IndexCastUIOp::create(
      b, e.loc, b.getIndexType(),
      arith::RemUIOp::create(b, e.loc, used, stages));
  Value parity = arith::AndIOp::create(
      b, e.loc, arith::DivUIOp::create(b, e.loc, used, stages), e.i32(1));
  return {stage, parity, used};
}

/// This thread is done with the stage at `at`.
void advance(ScalarEmitter &e, const ProducerRing &ring, RingPosition at) {
  memref::StoreOp::create(e.b, e.loc,
                          arith::AddIOp::create(e.b, e.loc, at.used, e.i32(1)),
                          ring.used, e.idx(0));
}

/// `ring`'s barriers; no phase word, since a ring's threads derive each
/// stage's parity from their count of stages used (positionIn).
CopyBarriers barriersOf(const ProducerRing &ring) {
  return {ring.barriers, Value()};
}

/// A ring in `buffer` (room for `stages` stages of `stageBytes`) of
/// `launch`, for `consumers` threads: its barriers and the threads' count,
/// which starts at 0 with the barriers, before any thread uses them.
ProducerRing createRing(gpu::LaunchOp launch, int64_t stageBytes,
                        int64_t stages, size_t operand, int64_t consumers,
                        Value buffer) {
  SmallVector<int64_t> arrivals(stages, 1);
  arrivals.append(stages, consumers);
  CopyBarriers barriers = CopyBarriers::create(launch, arrivals);
  OpBuilder b(barriers.phases.getDefiningOp());
  ScalarEmitter e{b, launch.getLoc()};
  Value used =
      memref::AllocaOp::create(b, e.loc, MemRefType::get({1}, b.getI32Type()));
  memref::StoreOp::create(b, e.loc, e.i32(0), used, e.idx(0));
  return {launch, stageBytes, stages, operand, buffer, barriers.buffer, used};
}

/// The producer: the ring's next stage, once every consumer has given back
/// what it last read there (a new ring's stages are empty: the phase
/// before the first counts as complete). The copies into it complete on
/// its full barrier; advance after issuing them.
RingPosition waitForEmpty(ScalarEmitter &e, const ProducerRing &ring) {
  RingPosition next = positionIn(e, ring);
  barriersOf(ring).waitParity(
      e, e.add(next.stage, ring.stages),
      arith::XOrIOp::create(e.b, e.loc, next.parity, e.i32(1)).getResult());
  return next;
}

/// A consumer: the ring's next stage, once its copies have landed; advance
/// after reading it, giveBack when done with it.
RingPosition waitForFull(ScalarEmitter &e, const ProducerRing &ring) {
  RingPosition now = positionIn(e, ring);
  barriersOf(ring).waitParity(e, now.stage, now.parity);
  return now;
}

/// A consumer thread is done with `stage` of `ring`: its arrival on the
/// stage's empty barrier.
void giveBack(ScalarEmitter &e, const ProducerRing &ring, Value stage) {
  barriersOf(ring).arrive(e, e.add(stage, ring.stages));
}

/// The byte offset of `stage` in its ring's buffer.
Value ringOffset(ScalarEmitter &e, const ProducerRing &ring, Value stage) {
  return arith::MulIOp::create(e.b, e.loc, stage, e.idx(ring.stageBytes));
}

/// The ring of `launch` of `stages` stages for the operands from `operand`
/// on of ops staged as `shape` (the ring's operands), made where there is
/// none.
ProducerRing ringFor(ProducerRings &rings, gpu::LaunchOp launch,
                     const StagedShape &shape, size_t operand, int64_t stages,
                     int64_t consumers) {
  for (const ProducerRing &ring : rings)
    if (ring.launch == launch && ring.stageBytes == shape.stageBytes() &&
        ring.operand == operand && ring.stages == stages)
      return ring;
  rings.push_back(createRing(launch, shape.stageBytes(), stages, operand,
                             consumers, shape.allocate(launch, stages)));
  return rings.back();
}

/// Staged operands that share a producer's ring: their indices among the
/// op's, the one held longest past the op's step (whose release gives the
/// ring's stage back), and for how many steps.
struct RingGroup {
  SmallVector<size_t> operands;
  size_t longest = 0;
  int64_t held = 0;
};

/// Which of an op's staged operands share a ring: all of them where a
/// shared ring's stages (two, and one more for each step the longest-held
/// operand is held past the op's) take at most half of a block's shared
/// memory, leaving the rest to the queries and the launch's other buffers;
/// else a ring each, so that an operand held for fewer steps (the keys)
/// takes fewer stages. A shared ring saves each step a wait, an arrival and
/// a count per operand: on an H100 at D = 64 (128 x 128 tiles: three
/// shared stages of 32 KiB) the dense and causal forwards ran 0.6-6.6%
/// faster so than in a ring each (tools/attn-bench/NOTES.md, session 62).
/// At D = 128 three shared stages of 128 keys and values are 192 KiB,
/// which do not fit beside the queries.
SmallVector<RingGroup> ringGroups(const StagedShape &shape,
                                  ArrayRef<int64_t> heldSteps,
                                  gpu::LaunchOp launch) {
  auto heldOf = [&](size_t i) { return heldSteps.empty() ? 0 : heldSteps[i]; };
  auto groupOf = [&](ArrayRef<size_t> operands) {
    RingGroup g{SmallVector<size_t>(operands), operands.front(), 0};
    for (size_t i : operands)
      if (heldOf(i) > heldOf(g.longest))
        g.longest = i;
    g.held = heldOf(g.longest);
    return g;
  };
  const size_t operands = shape.widths.size();
  RingGroup all = groupOf(llvm::to_vector(llvm::seq<size_t>(0, operands)));
  if ((2 + all.held) * shape.stageBytes() <=
      TargetAttr::lookup(launch).getSharedMemoryPerBlock() / 2)
    return {all};
  SmallVector<RingGroup> groups;
  for (size_t i = 0; i < operands; ++i)
    groups.push_back(groupOf({i}));
  return groups;
}

/// Staging in a loop `p` at the top of `launch` for a producer warpgroup:
/// the producer (marked kProducerAttr, on the thread after the block's
/// `threads`, which attn-specialize-warps adds) runs a loop of its own over
/// the same tiles before the launch's loop -- the slice that computes the
/// tiles and the guards, then, for each tile, for each ring of the
/// operands (ringGroups) in turn, a wait for the ring's next stage to be
/// empty, the bytes to expect on the stage's full barrier and the copies.
/// In the launch's loop each consumer thread waits for each ring's stage
/// to be full, `op` reads them, and the thread arrives on each stage's
/// empty barrier -- or, with `heldSteps` (stageForBlock's), the op's
/// lowering does when it is done with each. A ring has two stages, and one
/// more for each step its operands' stage is held past the op's: the
/// producer fills one while the consumers hold the rest. No block barrier:
/// the producer can be a whole ring ahead.
StagedOp stageForProducer(Operation *op, ArrayRef<unsigned> numbers,
                          const StagedShape &shape, const PipelinedLoop &p,
                          gpu::LaunchOp launch, int64_t threads,
                          StagedReader reader, ProducerRings &rings,
                          ArrayRef<int64_t> heldSteps) {
  SmallVector<RingGroup> groups = ringGroups(shape, heldSteps, launch);
  SmallVector<StagedShape> shapes;
  SmallVector<ProducerRing> own;
  for (const RingGroup &group : groups) {
    shapes.push_back(shape.only(group.operands));
    own.push_back(ringFor(rings, launch, shapes.back(), group.operands.front(),
                          2 + group.held, threads));
  }
  scf::ForOp loop = p.loop;
  Location loc = op->getLoc();

  OpBuilder b(loop);
  WarpEmitter e(b, loc, shape.elem);
  auto producer = scf::IfOp::create(
      b, loc,
      e.cmp(arith::CmpIPredicate::eq,
            gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x), e.idx(threads)),
      /*withElseRegion=*/false);
  producer->setAttr(kProducerAttr, b.getUnitAttr());
  b.setInsertionPoint(producer.thenBlock()->getTerminator());
  auto copies = scf::ForOp::create(b, loc, loop.getLowerBound(),
                                   loop.getUpperBound(), loop.getStep());
  b.setInsertionPoint(copies.getBody()->getTerminator());
  IRMapping map;
  map.map(loop.getInductionVar(), copies.getInductionVar());
  cloneSliceAndGuards(b, loc, p, map);
  for (auto [group, ring, groupShape] : llvm::zip(groups, own, shapes)) {
    SmallVector<Value> tiles;
    for (size_t i : group.operands)
      tiles.push_back(map.lookupOrDefault(op->getOperand(numbers[i])));
    RingPosition next = waitForEmpty(e, ring);
    groupShape.issueBulk(e, tiles, ring.buffer, ringOffset(e, ring, next.stage),
                         barriersOf(ring), {next.stage});
    advance(e, ring, next);
  }

  OpBuilder at(op);
  WarpEmitter ae(at, loc, shape.elem);
  SmallVector<RingPosition> now;
  for (auto [group, ring, groupShape] : llvm::zip(groups, own, shapes)) {
    now.push_back(waitForFull(ae, ring));
    SmallVector<unsigned> staged;
    for (size_t i : group.operands)
      staged.push_back(numbers[i]);
    useStaged(op, staged,
              groupShape.tiles(ae, ring.buffer,
                               ringOffset(ae, ring, now.back().stage)),
              ae);
  }
  StagedOp staged{op, reader, {}, {}};
  if (!heldSteps.empty())
    staged.stages.resize(numbers.size());
  at.setInsertionPointAfter(op);
  for (auto [group, ring, position] : llvm::zip(groups, own, now)) {
    auto release = [of = ring](OpBuilder &b, Location loc, Value stage) {
      ScalarEmitter e{b, loc};
      giveBack(e, of, stage);
    };
    if (!heldSteps.empty()) {
      // The stage is given back by its operand held longest; the others'
      // releases do nothing.
      for (size_t i : group.operands)
        staged.stages[i].stage = position.stage;
      staged.stages[group.longest].release = release;
    } else {
      // op's lowering waits for its products before it returns: the stage
      // is read when the thread arrives.
      release(at, loc, position.stage);
    }
    advance(ae, ring, position);
  }
  launch->setAttr(kConsumerThreadsAttr, at.getI64IntegerAttr(threads));
  return staged;
}

/// What of `v`'s backward slice within a launch depends on the block's
/// thread index: the index itself (the launch's argument, or gpu.thread_id
/// ops), and the ops that depend on it, in order.
struct ThreadDependentSlice {
  SmallVector<Value> threadIndices;
  SmallVector<Operation *> ops;
};

/// `v`'s ThreadDependentSlice in `launch`; fails where one of its ops has
/// memory effects or regions (it could not be computed again for another
/// thread).
FailureOr<ThreadDependentSlice> threadDependentSlice(Value v,
                                                     gpu::LaunchOp launch) {
  SetVector<Operation *> slice;
  BackwardSliceOptions options;
  options.filter = [&](Operation *op) { return launch->isProperAncestor(op); };
  options.inclusive = true;
  if (failed(getBackwardSlice(v, &slice, options)))
    return failure();
  ThreadDependentSlice out{{launch.getThreadIds().x}, {}};
  DenseSet<Value> dependent{launch.getThreadIds().x};
  for (Operation *op : slice) {
    if (auto thread = dyn_cast<gpu::ThreadIdOp>(op)) {
      if (thread.getDimension() == gpu::Dimension::x) {
        out.threadIndices.push_back(thread);
        dependent.insert(thread);
      }
      continue;
    }
    if (llvm::none_of(op->getOperands(),
                      [&](Value o) { return dependent.contains(o); }))
      continue;
    if (op->getNumRegions() || !isMemoryEffectFree(op))
      return failure();
    dependent.insert(op->getResults().begin(), op->getResults().end());
    out.ops.push_back(op);
  }
  return out;
}

} // namespace

std::optional<SharedTile> stageQueriesForProducer(Value query, int64_t rows,
                                                  Operation *release,
                                                  int64_t threads) {
  auto launch = release->getParentOfType<gpu::LaunchOp>();
  Operation *def = query.getDefiningOp();
  auto type = cast<MemRefType>(query.getType());
  const int64_t d = type.getDimSize(1);
  const int64_t blockRows = threads / kWarpLanes * rows;
  if (!launch || rows != kMmaRows || !def ||
      def->getBlock() != release->getBlock() ||
      !def->isBeforeInBlock(release) || threads % kWarpgroupThreads ||
      blockRows > kMaxBoxRows || ShapedType::isDynamic(d) ||
      d % SwizzledTile::kBlockCols)
    return std::nullopt;
  std::optional<BulkWindow> window = bulkWindowOf(query, launch, rows);
  FailureOr<ThreadDependentSlice> perThread =
      threadDependentSlice(query, launch);
  // Each warp's rows follow from the thread index: the first warp's are
  // the block's first.
  if (!window || failed(perThread) || !llvm::is_contained(perThread->ops, def))
    return std::nullopt;
  // The producer's first loop of copies after the queries' definition.
  scf::IfOp producer;
  for (Operation *op = def->getNextNode(); op != release && !producer;
       op = op->getNextNode())
    if (op->hasAttr(kProducerAttr))
      producer = cast<scf::IfOp>(op);
  if (!producer)
    return std::nullopt;

  Location loc = release->getLoc();
  Type elem = type.getElementType();
  const int64_t tileBytes =
      SharedTile::bytes(blockRows, d, elem, TileLayout::Swizzled);
  constexpr int64_t kSlots = 2;
  // Where the slots and their barriers would not fit a block's shared
  // memory beside the launch's staging buffers (its rings), the warps keep
  // copying their own rows, which take half the slots' room.
  const int64_t slots = kSlots * tileBytes + kSwizzledTileSlack;
  const int64_t barrierBytes = kMbarrierBytes * 2 * kSlots;
  if (sharedBytesOf(launch) + slots + barrierBytes >
      TargetAttr::lookup(launch).getSharedMemoryPerBlock())
    return std::nullopt;
  ProducerRing ring = createRing(launch, tileBytes, kSlots, /*operand=*/0,
                                 threads, allocateShared(launch, slots));
  CopyBarriers barriers = barriersOf(ring);
  Value map = tensorMapOf(*window, launch, blockRows);
  auto slotTile = [&](WarpEmitter &e, Value slot) {
    Value offset =
        e.add(alignmentPadding(e, sharedAddress(e.b, loc, ring.buffer)),
              ringOffset(e, ring, slot));
    return SharedTile::at(e.b, loc, ring.buffer, offset, blockRows, d, elem,
                          TileLayout::Swizzled);
  };

  // The producer: the first warp's window (the block's rows start there,
  // the warps' rows one after another: attn-tile's row groups), for a slot
  // that every consumer has given back.
  OpBuilder pb = OpBuilder::atBlockBegin(producer.thenBlock());
  WarpEmitter pe(pb, loc, elem);
  IRMapping firstWarp;
  for (Value thread : perThread->threadIndices)
    firstWarp.map(thread, pe.idx(0));
  for (Operation *op : perThread->ops)
    pb.clone(*op, firstWarp);
  auto firstWindow =
      firstWarp.lookupOrDefault(query).getDefiningOp<memref::SubViewOp>();
  RingPosition next = waitForEmpty(pe, ring);
  barriers.expect(pe, next.stage, tileBytes);
  copyBoxes(pe, firstWindow, map, slotTile(pe, next.stage), blockRows, d,
            barriers.address(pe, next.stage));
  advance(pe, ring, next);

  // The consumers: wait where the queries are defined, give the slot back
  // at `release`.
  OpBuilder cb(def->getContext());
  cb.setInsertionPointAfter(def);
  WarpEmitter ce(cb, loc, elem);
  RingPosition now = waitForFull(ce, ring);
  SharedTile tile = slotTile(ce, now.stage);
  OpBuilder rb(release);
  ScalarEmitter re{rb, loc};
  giveBack(re, ring, now.stage);
  advance(re, ring, now);
  return tile;
}

namespace {

/// Whether `loop` is at the top of `launch`'s work: in the launch's body,
/// or in its persistent loop's over tiles (attn-persist-launches), where
/// the producer's ring, made before that loop, serves every tile.
bool atTopOf(Operation *loop, gpu::LaunchOp launch) {
  Operation *parent = loop->getParentOp();
  if (parent != launch.getOperation() && parent->hasAttr(kPersistentAttr))
    parent = parent->getParentOp();
  return parent == launch.getOperation();
}

} // namespace

StagedOp stageForBlock(Operation *op, ArrayRef<unsigned> numbers, int64_t rows,
                       int64_t threads, StagedReader reader, bool tensorCopies,
                       ProducerRings *rings, ArrayRef<int64_t> heldSteps,
                       ArrayRef<bool> downColumns) {
  auto launch = op->getParentOfType<gpu::LaunchOp>();
  assert((downColumns.empty() || downColumns.size() == numbers.size()) &&
         "a way of reading for each operand, or none");
  StagedShape shape{rows,
                    {},
                    getElementTypeOrSelf(op->getOperand(numbers[0])),
                    reader,
                    SmallVector<bool>(downColumns)};
  SmallVector<Value> tiles;
  for (unsigned n : numbers) {
    tiles.push_back(op->getOperand(n));
    shape.widths.push_back(
        cast<MemRefType>(op->getOperand(n).getType()).getDimSize(1));
  }
  // The tensor memory accelerator where warpgroup MMA reads every tile
  // (sm_90a, swizzled rows of 64 columns) and each is a window it can copy.
  if (tensorCopies && shape.forWarpgroups() && rows <= kMaxBoxRows) {
    SmallVector<BulkWindow> windows;
    for (Value tile : tiles)
      if (std::optional<BulkWindow> w = bulkWindowOf(tile, launch, rows))
        windows.push_back(*w);
    if (windows.size() == tiles.size())
      for (const BulkWindow &w : windows)
        shape.maps.push_back(tensorMapOf(w, launch, rows));
  }
  // Tensor copies keep no addresses in the threads' registers: a loop of a
  // constant trip count pipelines without costing a block.
  std::optional<PipelinedLoop> p =
      pipelinedLoopOf(op, tiles, /*constantTrips=*/shape.bulk());
  // A producer ring only where this conversion lowers every tile op of the
  // launch, so that the launch is whole after it.
  if (p && rings && shape.bulk() && threads % kWarpgroupThreads == 0 &&
      atTopOf(p->loop, launch) && attentionTilesOf(launch).onlySoftmax())
    return stageForProducer(op, numbers, shape, *p, launch, threads, reader,
                            *rings, heldSteps);
  if (p)
    return {
        stagePipelined(op, numbers, shape, *p, launch, threads), reader, {}};
  return stageInPlace(op, numbers, shape, launch, threads);
}

void waitForLastStaged(OpBuilder &b, Location loc, const StagedOp &staged) {
  if (staged.waitForLast)
    staged.waitForLast(b, loc);
}

TileLayout layoutFor(StagedReader reader, bool downColumns) {
  if (reader == StagedReader::WarpgroupMma)
    return TileLayout::Swizzled;
  return downColumns ? TileLayout::PaddedForColumns : TileLayout::Padded;
}

SharedTile stagedTileOf(const StagedOp &staged, Value operand) {
  return SharedTile::of(operand.getDefiningOp<memref::SubViewOp>().getSource(),
                        layoutFor(staged.reader));
}

void synchronize(OpBuilder &b, Location loc, CopyScope scope) {
  if (scope == CopyScope::Block) {
    gpu::BarrierOp::create(b, loc);
    return;
  }
  NVVM::SyncWarpOp::create(
      b, loc,
      arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(-1)).getResult());
}

CopyStage emitCopyStage(OpBuilder &b, Location loc, CopyScope scope,
                        function_ref<void()> copies, int64_t stages,
                        CopyKind kind) {
  Block *block = b.getInsertionBlock();
  Operation *before = b.getInsertionPoint() == block->begin()
                          ? nullptr
                          : &*std::prev(b.getInsertionPoint());
  // Every thread of the scope is done with iteration i - 1's stage before
  // the copies of iteration i + stages - 1 replace it.
  synchronize(b, loc, scope);
  // The condition outside the loop, where pipelineCopies will not move it.
  OpBuilder outside(block->getParentOp());
  auto prefetch = scf::IfOp::create(
      b, loc, arith::ConstantIntOp::create(outside, loc, 1, 1),
      /*withElseRegion=*/false);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(prefetch.thenBlock()->getTerminator());
    copies();
  }
  CopyStage stage;
  stage.stages = stages;
  // One group an iteration, so that waiting for all but the newest
  // stages - 1 waits for the iteration about to work. (Tensor copies
  // complete on their barriers instead.)
  if (kind == CopyKind::Async) {
    Value group = commitCopies(b, loc);
    stage.wait = nvgpu::DeviceAsyncWaitOp::create(
        b, loc, group, b.getI32IntegerAttr(static_cast<int32_t>(stages - 1)));
  }
  for (auto it = before ? std::next(before->getIterator()) : block->begin();
       it != b.getInsertionPoint(); ++it)
    stage.ops.insert(&*it);
  return stage;
}

Value stageIndex(ScalarEmitter &e, scf::ForOp loop, Value iv, int64_t stages) {
  Value n = arith::DivUIOp::create(e.b, e.loc, e.sub(iv, loop.getLowerBound()),
                                   loop.getStep());
  return arith::RemUIOp::create(e.b, e.loc, n, e.idx(stages));
}

Value stageOffset(ScalarEmitter &e, scf::ForOp loop, Value iv, int64_t stages,
                  int64_t bytes) {
  return arith::MulIOp::create(e.b, e.loc, stageIndex(e, loop, iv, stages),
                               e.idx(bytes));
}

namespace {

/// pipelineForLoop's predication of the copy stage in the loop's last
/// iteration (and, the trip count being dynamic, in the prologue): the
/// copies' scf.if takes the predicate into its condition; the
/// synchronisation runs as it is (every thread commits a group each
/// iteration, so that the wait's count stays right), and so do pure ops.
/// The stage holds nothing else.
Operation *predicateCopyStage(RewriterBase &rewriter, Operation *op,
                              Value pred) {
  if (isa<gpu::BarrierOp, NVVM::SyncWarpOp, nvgpu::DeviceAsyncCreateGroupOp,
          nvgpu::DeviceAsyncWaitOp>(op) ||
      isPure(op))
    return op;
  auto prefetch = dyn_cast<scf::IfOp>(op);
  if (!prefetch)
    return nullptr;
  rewriter.setInsertionPoint(prefetch);
  Value cond = arith::AndIOp::create(rewriter, prefetch.getLoc(),
                                     prefetch.getCondition(), pred);
  rewriter.modifyOpInPlace(
      prefetch, [&] { prefetch.getConditionMutable().assign(cond); });
  return prefetch;
}

} // namespace

FailureOr<scf::ForOp>
pipelineCopies(scf::ForOp loop, CopyStage &stage, CopyScope scope,
               function_ref<void(Operation *)> onKernelOp) {
  scf::PipeliningOption options;
  options.getScheduleFn =
      [&](scf::ForOp forOp,
          std::vector<std::pair<Operation *, unsigned>> &schedule) {
        for (Operation *o : stage.ops)
          schedule.push_back({o, 0});
        for (Operation &o : forOp.getBody()->without_terminator())
          if (!stage.ops.contains(&o))
            schedule.push_back({&o, static_cast<unsigned>(stage.stages - 1)});
      };
  options.peelEpilogue = false;
  options.supportDynamicLoops = true;
  options.predicateFn = predicateCopyStage;
  options.annotateFn = [&](Operation *created,
                           scf::PipeliningOption::PipelinerPart part,
                           unsigned) {
    if (onKernelOp && part == scf::PipeliningOption::PipelinerPart::Kernel)
      onKernelOp(created);
  };
  Location loc = loop.getLoc();
  IRRewriter rewriter(loop);
  FailureOr<scf::ForOp> pipelined =
      scf::pipelineForLoop(rewriter, loop, options);
  if (failed(pipelined)) {
    if (stage.wait)
      stage.wait.setNumGroups(0);
    return failure();
  }
  // Nothing in flight after the loop: the buffer is free again. (Tensor
  // copies are each waited for in their iteration.)
  OpBuilder after(pipelined->getOperation()->getBlock(),
                  std::next(Block::iterator(pipelined->getOperation())));
  if (stage.wait)
    nvgpu::DeviceAsyncWaitOp::create(after, loc, commitCopies(after, loc),
                                     after.getI32IntegerAttr(0));
  synchronize(after, loc, scope);
  return pipelined;
}

} // namespace mlir::attn::gpu_tiles

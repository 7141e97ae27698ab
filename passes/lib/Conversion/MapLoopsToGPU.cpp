//===- MapLoopsToGPU.cpp - attn-tile's loop nests to gpu.launch -----------===//
//
// attn-tile's loops are the GPU's grid: the outer scf.forall over (batch,
// head, query tile) indexes blocks and the inner one over row groups
// indexes threads, or warps (lanes-per-iteration=32) for the tile ops that
// are lowered per warp. Everything else in the outer body is per-tile
// bookkeeping without side effects (offsets, clipping), which every thread
// of the block computes for itself.
//
// The host's own linalg ops (the SSM's discretisation, encoder pieces) run
// on the GPU too: each becomes a grid of threads, one per point of its
// parallel dimensions (an elementwise op's thread a run of them, moved as
// vectors), each thread running the reductions as loops with its outputs
// in registers. Correct for every op whose outputs are indexed
// by parallel dimensions; dense products on tensor cores are
// attn-matmul-to-tensor-cores', which runs first.
//
// The host side of a function then only allocates, frees and copies
// buffers, and launches: those buffers are device memory.
//
//===----------------------------------------------------------------------===//

#include "GPUTiles.h"
#include "LaunchAccess.h"
#include "attn/Conversion/Passes.h"

#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::attn {
#define GEN_PASS_DEF_MAPLOOPSTOGPU
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;
using gpu_tiles::bufferAlignment;
using gpu_tiles::elementBytes;
using gpu_tiles::knownMultiple;

namespace {

constexpr int64_t kMaxThreads = 1024;
/// The most blocks along a grid's y and z dimensions.
constexpr int64_t kMaxGridYZ = 65535;
/// Threads per block of the grids that host linalg ops become.
constexpr int64_t kGridBlockThreads = 256;

/// Values the kernel may recompute instead of receiving: constants and the
/// addresses of constant tables (which then live in the GPU module).
bool isRematerializable(Operation *op) {
  return op && (op->hasTrait<OpTrait::ConstantLike>() ||
                isa<memref::GetGlobalOp>(op));
}

/// Whether `op` (with what it holds) has no effect but reading memory.
bool onlyReads(Operation *op) {
  std::optional<SmallVector<MemoryEffects::EffectInstance>> effects =
      getEffectsRecursively(op);
  return effects && llvm::all_of(*effects, [](const auto &effect) {
           return isa<MemoryEffects::Read>(effect.getEffect());
         });
}

/// The attn ops in `nest` (an attn-tile loop nest), each named once in
/// order without its dialect, joined by "_"; "loops" where there are none.
std::string tileOpsOf(scf::ForallOp nest) {
  SmallVector<StringRef> names;
  nest.walk([&](Operation *op) {
    if (op->getDialect() && op->getDialect()->getNamespace() == "attn") {
      StringRef name = op->getName().stripDialect();
      name.consume_front("tile.");
      if (name != "yield" && !llvm::is_contained(names, name))
        names.push_back(name);
    }
  });
  return names.empty() ? "loops" : llvm::join(names, "_");
}

/// The alignment in bytes known of `memref`'s element at `indices`, a
/// power of two of at least one element, at most 256.
int64_t accessAlignment(Value memref, ValueRange indices) {
  int64_t element = elementBytes(memref);
  int64_t g = knownMultiple(memref, getAsOpFoldResult(indices));
  int64_t power = g == 0 ? 256 : std::min<int64_t>(256, g & -g);
  return std::max(element, power);
}

/// The vector loads and stores of attn-tile's loop nests in `launch`
/// (rows of a tile: the attention gradient's D = rowsum(dO o O), a row of
/// 64 bf16 a thread) carry no alignment: LLVM takes an element's and moves
/// a row in 2-byte pieces. Each gets what its buffer and indices prove.
void alignVectorAccesses(gpu::LaunchOp launch) {
  auto align = [](auto access, VectorType vector) {
    if (access.getAlignment())
      return;
    // At most the vector's size (its largest power of two: alignments are
    // powers of two).
    int64_t bytes = static_cast<int64_t>(llvm::bit_floor(static_cast<uint64_t>(
        vector.getNumElements() * vector.getElementTypeBitWidth() / 8)));
    int64_t a =
        std::min(bytes, accessAlignment(access.getBase(), access.getIndices()));
    if (a > vector.getElementTypeBitWidth() / 8)
      access.setAlignmentAttr(
          IntegerAttr::get(IntegerType::get(access.getContext(), 64), a));
  };
  launch.walk([&](Operation *op) {
    if (auto load = dyn_cast<vector::LoadOp>(op))
      align(load, load.getVectorType());
    else if (auto store = dyn_cast<vector::StoreOp>(op))
      align(store, store.getVectorType());
  });
}

LogicalResult mapForall(scf::ForallOp outer, int64_t lanesPerIteration) {
  Location loc = outer.getLoc();
  if (!outer.isNormalized() || outer.getRank() > 3 ||
      !outer.getOutputs().empty())
    return outer.emitOpError("cannot be mapped to a GPU grid: it needs zero "
                             "lower bounds, unit steps, at most three "
                             "dimensions and no shared outputs");
  Block *body = outer.getBody();
  scf::ForallOp inner;
  for (Operation &op : body->without_terminator()) {
    if (auto f = dyn_cast<scf::ForallOp>(op)) {
      if (inner)
        return outer.emitOpError("has more than one inner loop to map to "
                                 "threads");
      inner = f;
    }
  }
  // An inner loop mapped to #gpu.thread takes a thread per iteration;
  // otherwise each iteration is lanes-per-iteration threads (a warp for the
  // per-warp tile ops). Without an inner loop the body is one iteration.
  if (inner && inner.getMapping() &&
      llvm::all_of(*inner.getMapping(), [](Attribute a) {
        return isa<gpu::GPUThreadMappingAttr>(a);
      }))
    lanesPerIteration = 1;
  int64_t threads = lanesPerIteration;
  if (inner) {
    ArrayRef<int64_t> ub = inner.getStaticUpperBound();
    if (!inner.isNormalized() || inner.getRank() != 1 ||
        ShapedType::isDynamic(ub[0]) ||
        ub[0] * lanesPerIteration > kMaxThreads || !inner.getOutputs().empty())
      return inner.emitOpError("cannot be mapped to GPU threads: it needs "
                               "one normalized dimension of at most ")
             << kMaxThreads / lanesPerIteration << " iterations of "
             << lanesPerIteration << " threads";
    threads = ub[0] * lanesPerIteration;
    // Every thread runs the rest of the outer body: it may read memory
    // (the query tile's entry of a table), not write it.
    for (Operation &op : body->without_terminator())
      if (&op != inner.getOperation() && !onlyReads(&op))
        return op.emitOpError("has side effects outside the loop mapped to "
                              "threads; every thread would repeat them");
  }

  // The last dimension is blockIdx.x (up to 2^31 - 1 blocks); the others
  // y and z, up to 65535.
  ArrayRef<int64_t> extents = outer.getStaticUpperBound();
  for (unsigned i = 0; i + 1 < extents.size(); ++i)
    if (!ShapedType::isDynamic(extents[i]) && extents[i] > kMaxGridYZ)
      return outer.emitOpError("cannot be mapped to a GPU grid: dimension ")
             << i << " has " << extents[i] << " iterations, more than the "
             << kMaxGridYZ << " blocks a grid's y and z dimensions take";

  OpBuilder b(outer);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<Value> bounds = outer.getUpperBound(b);
  SmallVector<Value> grid(3, one);
  // The last dimension varies fastest: blockIdx.x.
  for (unsigned i = 0; i < bounds.size(); ++i)
    grid[i] = bounds[bounds.size() - 1 - i];
  Value blockX = arith::ConstantIndexOp::create(b, loc, threads);
  auto launch = gpu::LaunchOp::create(b, loc, grid[0], grid[1], grid[2], blockX,
                                      one, one);
  launch->setAttr(kKernelKindAttr, b.getStringAttr(tileOpsOf(outer)));
  Block &kernel = launch.getBody().front();
  b.setInsertionPointToStart(&kernel);

  IRMapping map;
  SetVector<Value> above;
  getUsedValuesDefinedAbove(outer.getRegion(), above);
  for (Value v : above)
    if (isRematerializable(v.getDefiningOp()))
      map.map(v, b.clone(*v.getDefiningOp())->getResult(0));
  gpu::KernelDim3 blockIds = launch.getBlockIds();
  Value ids[3] = {blockIds.x, blockIds.y, blockIds.z};
  for (unsigned i = 0; i < outer.getRank(); ++i)
    map.map(outer.getInductionVar(outer.getRank() - 1 - i), ids[i]);
  for (Operation &op : body->without_terminator()) {
    if (&op != inner.getOperation()) {
      b.clone(op, map);
      continue;
    }
    Value iteration = launch.getThreadIds().x;
    if (lanesPerIteration != 1)
      iteration = arith::DivUIOp::create(
          b, loc, iteration,
          arith::ConstantIndexOp::create(b, loc, lanesPerIteration));
    map.map(inner.getInductionVar(0), iteration);
    for (Operation &nested : inner.getBody()->without_terminator())
      b.clone(nested, map);
  }
  gpu::TerminatorOp::create(b, loc);
  outer.erase();
  alignVectorAccesses(launch);
  return success();
}

/// A linalg.fill of a whole buffer: a memset on the device.
bool isWholeBufferFill(Operation *op) {
  auto fill = dyn_cast<linalg::FillOp>(op);
  return fill && fill.hasPureBufferSemantics() &&
         cast<MemRefType>(fill.getOutputs()[0].getType())
             .getLayout()
             .isIdentity();
}

/// A copy that a device memcpy can do: both sides contiguous.
bool isContiguousCopy(memref::CopyOp copy) {
  // Both sides start at their buffer's first element too: gpu.memcpy's
  // lowering (GPUToLLVM) passes the descriptor's aligned pointer without
  // its offset, so a copy into or out of a view that starts inside its
  // buffer (an insert_slice's rows) would touch the buffer's first rows.
  auto contiguous = [](Value v) {
    auto type = dyn_cast<MemRefType>(v.getType());
    int64_t offset = 0;
    SmallVector<int64_t> strides;
    return type && memref::isStaticShapeAndContiguousRowMajor(type) &&
           succeeded(type.getStridesAndOffset(strides, offset)) && offset == 0;
  };
  return contiguous(copy.getSource()) && contiguous(copy.getTarget());
}

/// The host's linalg ops (not inside attn-tile's loops); copies of strided
/// views (a slice, a CLS row) among them, as linalg.copy.
SmallVector<linalg::LinalgOp> hostLinalgOps(func::FuncOp fn) {
  SmallVector<linalg::LinalgOp> ops;
  fn.getBody().walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (isa<scf::ForallOp, gpu::LaunchOp>(op))
      return WalkResult::skip();
    if (auto copy = dyn_cast<memref::CopyOp>(op);
        copy && !isContiguousCopy(copy)) {
      OpBuilder b(copy);
      ops.push_back(linalg::CopyOp::create(b, copy.getLoc(), copy.getSource(),
                                           copy.getTarget()));
      copy.erase();
      return WalkResult::skip();
    }
    if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
        linalgOp && !isWholeBufferFill(op))
      ops.push_back(linalgOp);
    return WalkResult::advance();
  });
  return ops;
}

/// Points of the last two parallel dimensions one thread of a reduction's
/// grid takes (each at most this, a divisor of the dimension's static
/// size): their operands are loaded once per reduction step for all of
/// them -- a projection's thread loads 4 + 4 elements for 16 multiply-adds,
/// not 2 for 1 -- as long as the grid keeps gridThreads(op) threads.
constexpr int64_t kPointsPerThread = 4;

/// Threads a grid needs per multiprocessor of the target to keep it busy:
/// below gridThreads(op) in all, reductions take fewer points per thread
/// and long sums are split (a layer norm's row statistics over 49152 rows
/// ran on 3072 threads of 16 rows each, 1 ms, before).
constexpr int64_t kThreadsPerMultiprocessor = 512;

int64_t gridThreads(Operation *op) {
  return kThreadsPerMultiprocessor *
         TargetAttr::lookup(op).getMultiprocessors();
}

/// The largest power of two up to kPointsPerThread dividing `size` (1 when
/// it is dynamic).
int64_t coarsening(int64_t size) {
  int64_t c = kPointsPerThread;
  while (c > 1 && (ShapedType::isDynamic(size) || size % c != 0))
    c /= 2;
  return c;
}

/// `op`'s parallel dimensions in the order its first output's map names
/// them, any others before: the order a grid linearizes them in, the last
/// fastest. Consecutive threads then take consecutive elements of the
/// output whatever the loops' order -- a split sum's partials [S, N] over
/// loops (n, s) would otherwise put a thread per slice of one column side
/// by side, each reading its own rows, 2 of every 32 bytes a load brings.
SmallVector<unsigned> parallelInOutputOrder(linalg::LinalgOp op) {
  SmallVector<unsigned> parallel;
  for (auto [d, it] : llvm::enumerate(op.getIteratorTypesArray()))
    if (it == utils::IteratorType::parallel)
      parallel.push_back(d);
  if (op.getNumDpsInits() == 0)
    return parallel;
  AffineMap outMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  SmallVector<unsigned> named;
  for (AffineExpr r : outMap.getResults())
    if (auto dim = dyn_cast<AffineDimExpr>(r);
        dim && llvm::is_contained(parallel, dim.getPosition()) &&
        !llvm::is_contained(named, dim.getPosition()))
      named.push_back(dim.getPosition());
  SmallVector<unsigned> ordered;
  for (unsigned d : parallel)
    if (!llvm::is_contained(named, d))
      ordered.push_back(d);
  llvm::append_range(ordered, named);
  return ordered;
}

/// The indices of `operand`'s element at iteration point `ivs`.
SmallVector<Value> operandIndices(OpBuilder &b, Location loc,
                                  linalg::LinalgOp op, OpOperand &operand,
                                  ArrayRef<Value> ivs) {
  SmallVector<Value> indices;
  AffineMap map = op.getMatchingIndexingMap(&operand);
  for (unsigned r = 0; r < map.getNumResults(); ++r)
    indices.push_back(
        affine::AffineApplyOp::create(b, loc, map.getSubMap({r}), ivs));
  return indices;
}

/// `operand`'s element at `ivs`, or the operand itself where it is a
/// scalar.
Value loadOperand(OpBuilder &b, Location loc, linalg::LinalgOp op,
                  OpOperand &operand, ArrayRef<Value> ivs) {
  if (!isa<MemRefType>(operand.get().getType()))
    return operand.get();
  return memref::LoadOp::create(b, loc, operand.get(),
                                operandIndices(b, loc, op, operand, ivs));
}

/// From here on the launch's body runs only where `index < count`: an
/// scf.if followed by the body's terminator, the builder left inside it.
void guardLaunchBody(OpBuilder &b, Location loc, Value index, Value count) {
  auto inRange = scf::IfOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, index, count),
      /*withElseRegion=*/false);
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointToStart(inRange.thenBlock());
}

/// `index` of a grid over `dims` (the last fastest; the first takes what
/// remains, the index being below the grid's size) as a value per
/// dimension, into ivs[d]; `extent(d)` is dimension d's size.
void delinearize(OpBuilder &b, Location loc, Value index,
                 ArrayRef<unsigned> dims, function_ref<Value(unsigned)> extent,
                 MutableArrayRef<Value> ivs) {
  for (size_t k = dims.size(); k-- > 0;) {
    unsigned d = dims[k];
    if (k == 0) {
      ivs[d] = index;
      break;
    }
    ivs[d] = arith::RemUIOp::create(b, loc, index, extent(d));
    index = arith::DivUIOp::create(b, loc, index, extent(d));
  }
}

/// `op`'s body at iteration point `ivs` on the outputs' running values
/// `accs`, its inputs given by `input` (a loaded element, or a scalar
/// operand); returns the yielded values.
SmallVector<Value> clonePayload(OpBuilder &b, linalg::LinalgOp op,
                                ArrayRef<Value> ivs, ValueRange accs,
                                function_ref<Value(OpOperand *)> input) {
  Block &body = op->getRegion(0).front();
  IRMapping map;
  unsigned arg = 0;
  for (OpOperand *in : op.getDpsInputOperands())
    map.map(body.getArgument(arg++), input(in));
  for (Value a : accs)
    map.map(body.getArgument(arg++), a);
  for (Operation &nested : body.without_terminator()) {
    if (auto index = dyn_cast<linalg::IndexOp>(nested)) {
      map.map(index.getResult(), ivs[index.getDim()]);
      continue;
    }
    b.clone(nested, map);
  }
  SmallVector<Value> results;
  for (Value v : body.getTerminator()->getOperands())
    results.push_back(map.lookupOrDefault(v));
  return results;
}

/// An elementwise op's thread takes a run of consecutive points along its
/// fastest dimension and moves each operand lying along it as one vector:
/// one scalar load a thread moved 2 or 4 bytes, and the bf16 step's
/// elementwise kernels (12.6 M points, a thread each) reached 1.4-1.9 TB/s
/// of the H200's 4.8. A run holds at most kRunBytes of the narrowest such
/// operand and at most kMaxRunLength points.
constexpr int64_t kRunBytes = 16;
constexpr int64_t kMaxRunLength = 8;

/// Whether `operand` of `op` lies along dimension `d` in runs of `length`
/// aligned elements: a memref of whole-byte elements whose map's last
/// result is d (and no other names d), unit-stride in its last dimension,
/// its offset and other strides multiples of `length` (holdsRowsInRuns),
/// viewing a buffer aligned to a run (bufferAlignment). A run starting at a
/// multiple of `length` along d is then contiguous and aligned to its size (at
/// most 8 elements: 64 bytes).
bool liesInRuns(linalg::LinalgOp op, OpOperand &operand, unsigned d,
                int64_t length) {
  auto type = dyn_cast<MemRefType>(operand.get().getType());
  if (!type || type.getRank() == 0 || !type.getElementType().isIntOrFloat() ||
      type.getElementTypeBitWidth() % 8 != 0 ||
      bufferAlignment(operand.get()) <
          length * type.getElementTypeBitWidth() / 8)
    return false;
  AffineMap map = op.getMatchingIndexingMap(&operand);
  auto last = dyn_cast<AffineDimExpr>(map.getResults().back());
  if (!last || last.getPosition() != d ||
      llvm::any_of(map.getResults().drop_back(),
                   [&](AffineExpr e) { return e.isFunctionOfDim(d); }))
    return false;
  return gpu_tiles::holdsRowsInRuns(type, length);
}

/// The run length of an elementwise op along its fastest dimension `d`
/// (static size `size`): the longest power of two up to kMaxRunLength
/// points, kRunBytes of the narrowest operand lying along d, dividing
/// `size`, in whose runs some operand lies; 1 where none does.
int64_t runLength(linalg::LinalgOp op, unsigned d, int64_t size) {
  if (ShapedType::isDynamic(size))
    return 1;
  int64_t length = 1;
  for (OpOperand &operand : op->getOpOperands())
    if (liesInRuns(op, operand, d, 1))
      length = std::max(
          length,
          kRunBytes * 8 /
              static_cast<int64_t>(
                  getElementTypeOrSelf(operand.get()).getIntOrFloatBitWidth()));
  length = std::min(length, kMaxRunLength);
  for (; length > 1; length /= 2)
    if (size % length == 0 && llvm::any_of(op->getOpOperands(), [&](auto &o) {
          return liesInRuns(op, o, d, length);
        }))
      return length;
  return 1;
}

/// How many points of each of `op`'s loop dimensions a thread of its grid
/// takes (1 for reductions and most parallel dimensions): a run along the
/// fastest (runLength) where some operand lies along it in runs -- `run`
/// is then its length, else 1; with `reduces`, otherwise, the last two
/// parallel dimensions where the reduction reads an input that does not
/// vary along them (its element is then loaded once for all of them): a
/// projection's rows and columns, not a pooling's. Fewer (the outer
/// dimension's first) while the grid would have too few threads; with
/// dynamic sizes, as they are.
SmallVector<int64_t> pointsPerThread(linalg::LinalgOp op,
                                     ArrayRef<unsigned> parallel, bool reduces,
                                     int64_t &run) {
  SmallVector<int64_t> staticSizes = op.getStaticLoopRanges();
  SmallVector<int64_t> perThread(staticSizes.size(), 1);
  auto shared = [&](unsigned d) {
    return llvm::any_of(op.getDpsInputOperands(), [&](OpOperand *in) {
      return isa<MemRefType>(in->get().getType()) &&
             !op.getMatchingIndexingMap(in).isFunctionOfDim(d);
    });
  };
  const int64_t fastestRun =
      parallel.empty()
          ? 1
          : runLength(op, parallel.back(), staticSizes[parallel.back()]);
  const bool inRuns = !parallel.empty() && (!reduces || fastestRun > 1);
  if (reduces)
    for (size_t k = parallel.size(), last = 0; k-- > 0 && last < 2; ++last)
      if (shared(parallel[k]))
        perThread[parallel[k]] = coarsening(staticSizes[parallel[k]]);
  if (inRuns)
    perThread[parallel.back()] = fastestRun;
  if (llvm::none_of(parallel, [&](unsigned d) {
        return ShapedType::isDynamic(staticSizes[d]);
      })) {
    int64_t points = 1, taken = 1; // points in all, and per thread
    for (unsigned d : parallel) {
      points *= staticSizes[d];
      taken *= perThread[d];
    }
    const int64_t wanted = gridThreads(op);
    for (unsigned d : parallel)
      for (; perThread[d] > 1 && points / taken < wanted; taken /= 2)
        perThread[d] /= 2;
  }
  // A halved run is still a run (its operands' alignment divides it).
  run = inRuns ? perThread[parallel.back()] : 1;
  return perThread;
}

/// A thread's points of the grid: the first from its `id` over the
/// `parallel` dimensions (threadsAlong(d) threads along d, each taking
/// perThread[d] points), the others after it, the last dimension fastest.
/// Reduction dimensions are 0, for their loops to set.
SmallVector<SmallVector<Value>>
pointsOfThread(OpBuilder &b, Location loc, Value id,
               ArrayRef<unsigned> parallel, ArrayRef<int64_t> perThread,
               function_ref<Value(unsigned)> threadsAlong) {
  auto cst = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  SmallVector<Value> first(perThread.size(), cst(0));
  delinearize(b, loc, id, parallel, threadsAlong, first);
  for (unsigned d : parallel)
    if (perThread[d] != 1)
      first[d] = arith::MulIOp::create(b, loc, first[d], cst(perThread[d]));
  SmallVector<SmallVector<Value>> points{first};
  for (unsigned d : parallel) {
    SmallVector<Value> along{first[d]};
    for (int64_t i = 1; i < perThread[d]; ++i)
      along.push_back(arith::AddIOp::create(b, loc, first[d], cst(i)));
    SmallVector<SmallVector<Value>> more;
    for (const SmallVector<Value> &p : points)
      for (Value v : along) {
        more.push_back(p);
        more.back()[d] = v;
      }
    points = std::move(more);
  }
  return points;
}

/// A constant table a kernel reads (a host global: a feature map's
/// projection, say) is addressed inside the kernel, from the GPU module's
/// copy, not passed as a host pointer.
void addressGlobalsInKernel(gpu::LaunchOp launch) {
  SetVector<Value> above;
  getUsedValuesDefinedAbove(launch.getBody(), above);
  OpBuilder atStart = OpBuilder::atBlockBegin(&launch.getBody().front());
  for (Value v : above)
    if (isa_and_nonnull<memref::GetGlobalOp>(v.getDefiningOp())) {
      Value local = atStart.clone(*v.getDefiningOp())->getResult(0);
      v.replaceUsesWithIf(local, [&](OpOperand &use) {
        return launch->isProperAncestor(use.getOwner());
      });
    }
}

/// The fill that sets `op`'s output `out` before it, where its value can
/// start `op`'s sums instead of the memory it writes: a whole-buffer fill
/// of out's buffer (out covering all of it) that nothing else touches
/// between the fill and `op`, which writes every element of out (a
/// reduction's output) and reads none of its buffer as an input. A split
/// sum's partials and a row sum's outputs are zero-filled first: a memset
/// each, and each element read back once.
linalg::FillOp foldableFill(linalg::LinalgOp op, Value out) {
  Value root = mlir::attn::rootOf(out);
  auto type = dyn_cast<MemRefType>(out.getType());
  if (!root || !type || !type.hasStaticShape() ||
      cast<MemRefType>(root.getType()).getNumElements() !=
          type.getNumElements())
    return {};
  // An input of `op` in the same buffer would read the fill from memory.
  if (llvm::any_of(op.getDpsInputs(), [&](Value in) {
        return isa<MemRefType>(in.getType()) &&
               mlir::attn::rootOf(in) == root;
      }))
    return {};
  Block *block = op->getBlock();
  SmallVector<Operation *> users;
  SmallVector<Value> views{root};
  while (!views.empty()) {
    Value v = views.pop_back_val();
    for (Operation *user : v.getUsers()) {
      if (auto view = dyn_cast<ViewLikeOpInterface>(user);
          view && view.getViewSource() == v) {
        views.push_back(view->getResult(0));
        continue;
      }
      Operation *at = block->findAncestorOpInBlock(*user);
      if (!at)
        return {};
      users.push_back(at);
    }
  }
  linalg::FillOp fill;
  for (Operation *user : users)
    if (auto f = dyn_cast<linalg::FillOp>(user);
        f && isWholeBufferFill(f) && f->isBeforeInBlock(op) &&
        (!fill || fill->isBeforeInBlock(f)))
      fill = f;
  if (!fill || llvm::any_of(users, [&](Operation *user) {
        return user != op.getOperation() && user != fill.getOperation() &&
               fill->isBeforeInBlock(user) && user->isBeforeInBlock(op);
      }))
    return {};
  return fill;
}

/// foldableFill for each of `op`'s outputs (null where none folds).
SmallVector<linalg::FillOp> foldableFills(linalg::LinalgOp op) {
  return llvm::map_to_vector(op.getDpsInits(), [&](Value out) {
    return foldableFill(op, out);
  });
}

/// Erases the fills that folded into the ops mapped in their place.
void eraseFolded(ArrayRef<linalg::FillOp> fills) {
  for (linalg::FillOp fill : fills)
    if (fill)
      fill->erase();
}

/// `op` as a 1-D grid of kGridBlockThreads-thread blocks, one thread per
/// point of its parallel dimensions (linearized in the order its first
/// output names them, the last fastest) -- per run of points along its
/// fastest dimension where operands lie along it in runs (runLength);
/// else, with reductions, per R x C points of its last two parallel
/// dimensions (pointsPerThread).
/// Each thread loads its output elements once, runs the reduction
/// dimensions as loops carrying them in registers, and stores them once.
LogicalResult mapLinalgOp(linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics())
    return op->emitOpError("cannot be mapped to a GPU grid: it works on "
                           "tensors (bufferize first)");
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  for (OpOperand &out : op.getDpsInitsMutable())
    for (unsigned d = 0; d < iterators.size(); ++d)
      if (iterators[d] == utils::IteratorType::reduction &&
          op.getMatchingIndexingMap(&out).isFunctionOfDim(d))
        return op->emitOpError("cannot be mapped to a GPU grid: an output "
                               "is indexed by a reduction dimension");
  Location loc = op.getLoc();
  OpBuilder b(op);
  auto cst = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  SmallVector<unsigned> parallel = parallelInOutputOrder(op), reductions;
  for (unsigned d = 0; d < iterators.size(); ++d)
    if (iterators[d] == utils::IteratorType::reduction)
      reductions.push_back(d);
  // run: the points a thread takes along the fastest dimension, where
  // operands lying along it are moved a run at a time.
  int64_t run = 1;
  SmallVector<int64_t> perThread =
      pointsPerThread(op, parallel, !reductions.empty(), run);

  // Loop sizes (linalg's loops start at 0 with unit steps), and the product
  // of the parallel ones over the points per thread: the grid's threads.
  SmallVector<Value> sizes;
  for (Range r : op.createLoopRanges(b, loc))
    sizes.push_back(getValueOrCreateConstantIndexOp(b, loc, r.size));
  // Threads along parallel dimension d.
  auto threadsAlong = [&](unsigned d) -> Value {
    return perThread[d] == 1
               ? sizes[d]
               : arith::DivUIOp::create(b, loc, sizes[d], cst(perThread[d]));
  };
  Value total = cst(1);
  for (unsigned d : parallel)
    total = arith::MulIOp::create(b, loc, total, threadsAlong(d));
  Value threads = cst(kGridBlockThreads);
  Value blocks = arith::CeilDivUIOp::create(b, loc, total, threads);
  Value one = cst(1);
  auto launch =
      gpu::LaunchOp::create(b, loc, blocks, one, one, threads, one, one);
  launch->setAttr(kKernelKindAttr,
                  b.getStringAttr(op->getName().stripDialect()));
  b.setInsertionPointToStart(&launch.getBody().front());
  Value id = arith::AddIOp::create(
      b, loc,
      arith::MulIOp::create(b, loc, launch.getBlockIds().x,
                            launch.getBlockSizeX()),
      launch.getThreadIds().x);
  guardLaunchBody(b, loc, id, total);

  // This thread's points; reduction dimensions come from their loops.
  SmallVector<SmallVector<Value>> points =
      pointsOfThread(b, loc, id, parallel, perThread, threadsAlong);

  auto operandAt = [&](OpOperand &operand, ArrayRef<Value> ivs) {
    return operandIndices(b, loc, op, operand, ivs);
  };
  auto load = [&](OpOperand &operand, ArrayRef<Value> ivs) {
    return loadOperand(b, loc, op, operand, ivs);
  };
  // The runs: points[i] is element i % run of run i / run, the fastest
  // dimension being the last the points enumerate. The operands lying
  // along it in runs are moved a run at a time.
  auto inRuns = [&](OpOperand &operand) {
    return run > 1 && liesInRuns(op, operand, parallel.back(), run);
  };
  auto runType = [&](OpOperand &operand) {
    return VectorType::get({run}, getElementTypeOrSelf(operand.get()));
  };
  auto runAlignment = [&](OpOperand &operand) {
    return llvm::MaybeAlign(
        run * getElementTypeOrSelf(operand.get()).getIntOrFloatBitWidth() / 8);
  };
  DenseMap<std::pair<OpOperand *, size_t>, Value> runs;
  // Operand `operand`'s element at points[i], from its run where it lies in
  // runs (loaded once where it is first needed: the outputs' before the
  // reduction loops, the inputs' in their body), else loaded alone.
  auto element = [&](OpOperand &operand, size_t i) -> Value {
    if (!inRuns(operand))
      return load(operand, points[i]);
    Value &vector = runs[{&operand, i / run}];
    if (!vector)
      vector =
          vector::LoadOp::create(b, loc, runType(operand), operand.get(),
                                 operandAt(operand, points[i - i % run]),
                                 /*nontemporal=*/false, runAlignment(operand));
    return vector::ExtractOp::create(b, loc, vector, i % run);
  };
  // Outputs are indexed by parallel dimensions only: their elements are
  // addressed once, before the reduction loops. outs[p * numOuts + i] is
  // output i at point p.
  // A reduction's outputs start from their fill's value where it folds
  // (foldableFill), not from memory.
  const size_t numOuts = op.getNumDpsInits();
  SmallVector<linalg::FillOp> fills = reductions.empty()
                                          ? SmallVector<linalg::FillOp>(numOuts)
                                          : foldableFills(op);
  SmallVector<SmallVector<Value>> outAt;
  SmallVector<Value> outs;
  for (auto [i, p] : llvm::enumerate(points))
    for (auto [o, out] : llvm::enumerate(op.getDpsInitsMutable())) {
      outAt.push_back(operandAt(out, p));
      outs.push_back(fills[o] ? fills[o].getInputs()[0] : element(out, i));
    }

  // The payload at every point, on the outputs' running values; the loads
  // points share are made once (an operand not indexed by a dimension
  // reads the same element at every point along it).
  auto payload = [&](ValueRange acc) -> SmallVector<Value> {
    DenseMap<std::pair<OpOperand *, SmallVector<Value>>, Value> loaded;
    // The inputs' runs are loaded here, inside the loops: none loaded
    // before them is reused.
    runs.clear();
    SmallVector<Value> results;
    for (size_t i = 0; i < points.size(); ++i) {
      // (Not a structured binding: lambdas capture those only in C++20.)
      const SmallVector<Value> &p = points[i];
      auto input = [&](OpOperand *in) {
        AffineMap m = op.getMatchingIndexingMap(in);
        SmallVector<Value> key;
        for (unsigned d = 0; d < p.size(); ++d)
          if (m.isFunctionOfDim(d))
            key.push_back(p[d]);
        Value &v = loaded[{in, key}];
        if (!v)
          v = element(*in, i);
        return v;
      };
      llvm::append_range(
          results,
          clonePayload(b, op, p, acc.slice(i * numOuts, numOuts), input));
    }
    return results;
  };
  std::function<SmallVector<Value>(size_t, ValueRange)> reduce =
      [&](size_t k, ValueRange acc) -> SmallVector<Value> {
    if (k == reductions.size())
      return payload(acc);
    unsigned d = reductions[k];
    auto loop = scf::ForOp::create(b, loc, cst(0), sizes[d], cst(1), acc);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(loop.getBody());
    for (SmallVector<Value> &p : points)
      p[d] = loop.getInductionVar();
    scf::YieldOp::create(b, loc, reduce(k + 1, loop.getRegionIterArgs()));
    return loop.getResults();
  };
  SmallVector<Value> results = reduce(0, outs);
  for (auto [i, value] : llvm::enumerate(results)) {
    OpOperand &out = op.getDpsInitsMutable()[i % numOuts];
    size_t point = i / numOuts;
    if (!inRuns(out)) {
      memref::StoreOp::create(b, loc, value, out.get(), outAt[i]);
      continue;
    }
    // A run's values, stored at once after its last.
    if (point % run != static_cast<size_t>(run) - 1)
      continue;
    SmallVector<Value> values;
    for (int64_t j = 0; j < run; ++j)
      values.push_back(results[i - (run - 1 - j) * numOuts]);
    vector::StoreOp::create(
        b, loc, vector::FromElementsOp::create(b, loc, runType(out), values),
        out.get(), outAt[i - (run - 1) * numOuts], /*nontemporal=*/false,
        runAlignment(out));
  }
  op->erase();
  eraseFolded(fills);
  addressGlobalsInKernel(launch);
  return success();
}

/// A reduction with few output points and a long reduction (a bias's
/// gradient: 128 sums of 100k terms) would leave the grid a few hundred
/// threads, each walking the whole reduction. Such an op whose outputs
/// accumulate sums -- each yields `out + e`, e independent of the outputs
/// -- is split in two linalg ops over a partial-sum buffer, which
/// mapLinalgOp then maps as any other: its longest reduction dimension d
/// (extent E) as S slices of C = E / S, the first op running the slices
/// as a parallel dimension into partials [S, output...] from zero, the
/// second adding the S partials to each output. Deterministic: no atomics.
/// Split where the outputs' threads (a thread per run of outputs along the
/// fastest dimension, runLength) are fewer than gridThreads(op) and each
/// output sums at least kSplitAboveSteps terms, into the fewest slices
/// that give gridThreads(op) threads, each slice at least kMinSliceLength
/// long -- or, where an input's last dimension is the outputs' fastest
/// (threads side by side read it side by side), each thread's sum at least
/// kMinSliceLength terms, so that a slice may be one element of d when
/// other reduction dimensions give the terms: a layer norm's parameter
/// gradients over [B, N, D] take N slices, each summing B rows, threads
/// side by side reading a row's columns side by side. Where d is the last,
/// contiguous dimension of its inputs, the slices interleave instead (see
/// splitLongReduction).
constexpr int64_t kSplitAboveSteps = 1024;
constexpr int64_t kMinSliceLength = 16;

/// Whether every output's yielded value is `out + e` with e computed from
/// the inputs only.
bool accumulatesSums(linalg::LinalgOp op) {
  Block &body = op->getRegion(0).front();
  unsigned numInputs = op.getNumDpsInputs();
  auto readsOutputs = [&](Value v) {
    SetVector<Operation *> slice;
    BackwardSliceOptions options;
    options.inclusive = true;
    options.filter = [&](Operation *o) { return o->getBlock() == &body; };
    SmallVector<Value> roots{v};
    auto isOutputArg = [&](Value x) {
      auto arg = dyn_cast<BlockArgument>(x);
      return arg && arg.getOwner() == &body && arg.getArgNumber() >= numInputs;
    };
    if (isOutputArg(v))
      return true;
    if (Operation *def = v.getDefiningOp())
      if (def->getBlock() == &body) {
        (void)getBackwardSlice(def, &slice, options);
        for (Operation *o : slice)
          if (llvm::any_of(o->getOperands(), isOutputArg))
            return true;
      }
    return false;
  };
  for (auto [i, yielded] :
       llvm::enumerate(body.getTerminator()->getOperands())) {
    auto add = yielded.getDefiningOp<arith::AddFOp>();
    if (!add)
      return false;
    Value acc = body.getArgument(numInputs + i);
    Value other = add.getLhs() == acc   ? add.getRhs()
                  : add.getRhs() == acc ? add.getLhs()
                                        : Value();
    if (!other || readsOutputs(other))
      return false;
    // The output's running value is read by its sum only.
    if (!acc.hasOneUse())
      return false;
  }
  return op.getNumDpsInits() > 0;
}

/// `op` with each run of consecutive reduction dimensions collapsed into one
/// (its operands seen through memref.collapse_shape), where every operand
/// indexing a run has its dimensions side by side, in order, and lies
/// contiguously in memory; nullopt where there is no such run.
std::optional<linalg::LinalgOp> collapseReductionRuns(linalg::LinalgOp op) {
  if (!isa<linalg::GenericOp>(op))
    return std::nullopt;
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  SmallVector<ReassociationIndices> runs;
  for (int64_t d = 0, n = iterators.size(); d < n; ++d) {
    int64_t e = d;
    while (e < n && iterators[e] == utils::IteratorType::reduction)
      ++e;
    if (e - d > 1)
      runs.push_back(llvm::to_vector(llvm::seq<int64_t>(d, e)));
    d = std::max(d, e);
  }
  if (runs.empty() ||
      !linalg::areDimSequencesPreserved(op.getIndexingMapsArray(), runs))
    return std::nullopt;
  for (OpOperand &operand : op->getOpOperands()) {
    auto type = dyn_cast<MemRefType>(operand.get().getType());
    if (isa<ShapedType>(operand.get().getType()) &&
        (!type || !memref::isStaticShapeAndContiguousRowMajor(type)))
      return std::nullopt;
  }
  IRRewriter rewriter(op->getContext());
  rewriter.setInsertionPoint(op);
  FailureOr<linalg::CollapseResult> collapsed =
      linalg::collapseOpIterationDims(op, runs, rewriter);
  if (failed(collapsed))
    return std::nullopt;
  rewriter.eraseOp(op);
  return collapsed->collapsedOp;
}

/// Splits `op` as above where it pays; the two ops to map in its place, or
/// just `op`.
SmallVector<linalg::LinalgOp> splitLongReduction(linalg::LinalgOp op) {
  SmallVector<linalg::LinalgOp> same{op};
  if (!op.hasPureBufferSemantics() || op.getNumReductionLoops() == 0 ||
      !accumulatesSums(op))
    return same;
  // Reduction dimensions side by side in memory are one long one (a
  // gradient's squared norm over [256, 256]: 65536 terms), which slices
  // can take side by side. Split one at a time, each slice of the first
  // would walk whole rows of the second: 256 terms a thread, the threads
  // 16 rows apart (22 us for a 256 x 256 gradient's norm).
  if (std::optional<linalg::LinalgOp> collapsed = collapseReductionRuns(op))
    return splitLongReduction(*collapsed);
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  SmallVector<unsigned> parallel = parallelInOutputOrder(op);
  const int64_t run = parallel.empty() ? 1
                                       : runLength(op, parallel.back(),
                                                   ranges[parallel.back()]);
  int64_t points = 1, steps = 1, d = -1;
  for (auto [i, it] : llvm::enumerate(iterators)) {
    if (ShapedType::isDynamic(ranges[i]))
      return same;
    if (it == utils::IteratorType::parallel) {
      points *= ranges[i];
    } else {
      steps *= ranges[i];
      if (d < 0 || ranges[i] > ranges[d])
        d = i;
    }
  }
  const int64_t extent = ranges[d];
  const int64_t targetThreads = gridThreads(op);
  const int64_t threads = points / run;
  if (threads >= targetThreads || steps < kSplitAboveSteps)
    return same;
  // The body must not ask for d's index (it would need rewriting).
  bool indexesD = false;
  op->getRegion(0).walk([&](linalg::IndexOp index) {
    indexesD |= index.getDim() == static_cast<uint64_t>(d);
  });
  if (indexesD)
    return same;
  // The fewest slices that give the grid its threads, keeping each
  // thread's sum long.
  const bool inputsAlongOutputs =
      !parallel.empty() &&
      llvm::any_of(op.getDpsInputOperands(), [&](OpOperand *in) {
        return liesInRuns(op, *in, parallel.back(), 1);
      });
  const int64_t maxSlices =
      std::min(extent, (inputsAlongOutputs ? steps : extent) / kMinSliceLength);
  int64_t slices = 1;
  for (int64_t sl = 2; sl <= maxSlices; ++sl)
    if (extent % sl == 0) {
      slices = sl;
      if (threads * sl >= targetThreads)
        break;
    }
  if (slices == 1)
    return same;
  const int64_t sliceLength = extent / slices;

  OpBuilder b(op);
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  const unsigned loops = iterators.size();
  // Where d is the last, contiguous dimension of every input it indexes
  // and no input runs along the outputs, the slices interleave: slice s
  // takes terms s, s + S, s + 2S, ..., so that the threads of side-by-side
  // slices read side by side. Otherwise each slice is a block of C
  // consecutive terms (rows of a [rows, outputs] input, read side by side
  // along the outputs).
  const bool interleaved =
      !inputsAlongOutputs &&
      llvm::all_of(op.getDpsInputOperands(), [&](OpOperand *in) {
        AffineMap map = op.getMatchingIndexingMap(in);
        return !map.isFunctionOfDim(d) ||
               map.getResults().back() == getAffineDimExpr(d, ctx);
      });
  // The first op's loops: the original ones (d now within a slice), then
  // the slice s. Inputs indexed by d see that dimension as [S, C] (a view:
  // memref.expand_shape), indexed by (s, d) -- interleaved, as [C, S]
  // indexed by (d, s).
  AffineExpr s = getAffineDimExpr(loops, ctx);
  // Each input's expanded view: (position of d, groups, type), checked
  // before anything is built.
  struct Expansion {
    unsigned at;
    SmallVector<ReassociationIndices> groups;
    MemRefType type;
  };
  SmallVector<std::optional<Expansion>> expansions;
  for (OpOperand *in : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(in);
    auto type = dyn_cast<MemRefType>(in->get().getType());
    std::optional<unsigned> at =
        map.getResultPosition(getAffineDimExpr(d, ctx));
    if (!type || !at) {
      if (type && map.isFunctionOfDim(d))
        return same; // d inside an expression: left as it is
      expansions.push_back(std::nullopt);
      continue;
    }
    Expansion x{*at, {}, {}};
    SmallVector<int64_t> shape;
    for (unsigned r = 0, k = 0; r < type.getRank(); ++r) {
      if (r == *at) {
        x.groups.push_back({k, k + 1});
        if (interleaved)
          shape.append({sliceLength, slices});
        else
          shape.append({slices, sliceLength});
        k += 2;
      } else {
        x.groups.push_back({k++});
        shape.push_back(type.getDimSize(r));
      }
    }
    FailureOr<MemRefType> expandedType =
        memref::ExpandShapeOp::computeExpandedType(type, shape, x.groups);
    if (failed(expandedType))
      return same;
    x.type = *expandedType;
    expansions.push_back(x);
  }
  SmallVector<AffineMap> maps;
  SmallVector<Value> inputs;
  for (auto [in, x] : llvm::zip(op.getDpsInputOperands(), expansions)) {
    AffineMap map = op.getMatchingIndexingMap(in);
    if (!x) {
      inputs.push_back(in->get());
      maps.push_back(AffineMap::get(loops + 1, 0, map.getResults(), ctx));
      continue;
    }
    std::optional<unsigned> at = x->at;
    inputs.push_back(memref::ExpandShapeOp::create(b, loc, x->type,
                                                   in->get(), x->groups));
    SmallVector<AffineExpr> results;
    for (auto [r, e] : llvm::enumerate(map.getResults())) {
      if (r == *at && !interleaved)
        results.push_back(s);
      results.push_back(e);
      if (r == *at && interleaved)
        results.push_back(s);
    }
    maps.push_back(AffineMap::get(loops + 1, 0, results, ctx));
  }
  SmallVector<Value> partials;
  for (OpOperand &out : op.getDpsInitsMutable()) {
    auto type = cast<MemRefType>(out.get().getType());
    SmallVector<int64_t> shape{slices};
    llvm::append_range(shape, type.getShape());
    Value buffer = memref::AllocOp::create(
        b, loc, MemRefType::get(shape, type.getElementType()));
    Value zero = arith::ConstantOp::create(
        b, loc, b.getZeroAttr(type.getElementType()));
    linalg::FillOp::create(b, loc, zero, buffer);
    partials.push_back(buffer);
    AffineMap outMap = op.getMatchingIndexingMap(&out);
    SmallVector<AffineExpr> results{s};
    for (AffineExpr e : outMap.getResults())
      results.push_back(e);
    maps.push_back(AffineMap::get(loops + 1, 0, results, ctx));
  }
  SmallVector<utils::IteratorType> partialIterators = iterators;
  partialIterators.push_back(utils::IteratorType::parallel);
  auto partial = linalg::GenericOp::create(
      b, loc, TypeRange{}, inputs, partials, maps,
      partialIterators, [&](OpBuilder &nb, Location l, ValueRange args) {
        IRMapping mapping;
        Block &body = op->getRegion(0).front();
        mapping.map(body.getArguments(), args);
        for (Operation &nested : body.without_terminator())
          nb.clone(nested, mapping);
        SmallVector<Value> yielded;
        for (Value v : body.getTerminator()->getOperands())
          yielded.push_back(mapping.lookup(v));
        linalg::YieldOp::create(nb, l, yielded);
      });
  SmallVector<linalg::LinalgOp> result{partial};
  // The second: output += sum over s of the partials.
  for (auto [i, out] : llvm::enumerate(op.getDpsInits())) {
    auto type = cast<MemRefType>(out.getType());
    unsigned rank = type.getRank();
    AffineMap outMap = AffineMap::getMultiDimIdentityMap(rank, ctx);
    SmallVector<AffineExpr> in{getAffineDimExpr(rank, ctx)};
    for (unsigned r = 0; r < rank; ++r)
      in.push_back(getAffineDimExpr(r, ctx));
    SmallVector<utils::IteratorType> its(rank, utils::IteratorType::parallel);
    its.push_back(utils::IteratorType::reduction);
    auto sum = linalg::GenericOp::create(
        b, loc, TypeRange{}, ValueRange{partials[i]}, ValueRange{out},
        ArrayRef<AffineMap>{AffineMap::get(rank + 1, 0, in, ctx),
                            AffineMap::get(rank + 1, 0,
                                           outMap.getResults(), ctx)},
        its, [](OpBuilder &nb, Location l, ValueRange a) {
          linalg::YieldOp::create(
              nb, l, ValueRange{arith::AddFOp::create(nb, l, a[1], a[0])});
        });
    result.push_back(sum);
  }
  b.setInsertionPointAfter(result.back());
  for (Value partialBuffer : partials)
    memref::DeallocOp::create(b, loc, partialBuffer);
  op->erase();
  // The partial sums may still be few and long -- a whole matrix summed
  // into one number (a gradient's squared norm) leaves each slice of its
  // longest dimension the other dimensions' terms -- and so may the sums
  // of many slices' partials: split them again.
  SmallVector<linalg::LinalgOp> split;
  for (linalg::LinalgOp part : result)
    llvm::append_range(split, splitLongReduction(part));
  return split;
}

/// Row sums -- a layer norm's statistics, its gradient's sums of g and
/// g xhat: a sum over one reduction dimension that is the last, contiguous
/// dimension of the inputs it indexes -- take a warp per output point:
/// each lane sums every 32nd term, then the lanes' sums are added by
/// shuffles and lane 0 adds the total to the output. A thread per point
/// would walk its row alone, the warp's 32 rows apart: each load 2 or 4
/// of the 32 bytes it brings, a long dependent chain per thread (a layer
/// norm's statistics over [49152, 256] in bf16: 72 us). Where the inputs
/// that run along the row lie in runs (16 bytes of the widest, at most
/// 8 terms, dividing the row), each lane takes a run of consecutive terms
/// at a time as one vector load: a warp reads 512 contiguous bytes of a
/// bf16 row per load where it read 64. A sum along another dimension
/// takes a warp per point too where the points are few (their warps fit
/// in the grid): a split sum's last round.
constexpr int64_t kWarpLanes = 32;
/// Reductions at least this long take a warp per point.
constexpr int64_t kMinWarpSumLength = 2 * kWarpLanes;

/// The reduction dimension of `op` if it is a row sum as above: f32
/// outputs, and some input is a row per point (indexed by every parallel
/// dimension: a product's operands, each shared by the points along a
/// dimension, are mapLinalgOp's, which loads them once for several).
std::optional<unsigned> rowSumDimension(linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumReductionLoops() != 1 ||
      !accumulatesSums(op))
    return std::nullopt;
  for (Value out : op.getDpsInits())
    if (!cast<MemRefType>(out.getType()).getElementType().isF32())
      return std::nullopt;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (llvm::any_of(ranges, ShapedType::isDynamic))
    return std::nullopt;
  unsigned r = 0;
  for (auto [d, it] : llvm::enumerate(op.getIteratorTypesArray()))
    if (it == utils::IteratorType::reduction)
      r = d;
  if (ranges[r] < kMinWarpSumLength)
    return std::nullopt;
  // Every input indexed by r has it as an index alone, and one of them is
  // indexed by every parallel dimension too.
  SmallVector<unsigned> parallel = parallelInOutputOrder(op);
  bool rows = false, contiguous = true;
  for (OpOperand *in : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(in);
    if (!map.isFunctionOfDim(r))
      continue;
    std::optional<unsigned> at =
        map.getResultPosition(getAffineDimExpr(r, op.getContext()));
    if (!at)
      return std::nullopt;
    for (auto [i, e] : llvm::enumerate(map.getResults()))
      if (i != *at && e.isFunctionOfDim(r))
        return std::nullopt;
    contiguous &= *at + 1 == map.getNumResults();
    rows |= llvm::all_of(parallel,
                         [&](unsigned d) { return map.isFunctionOfDim(d); });
  }
  if (!rows)
    return std::nullopt;
  // Along another dimension than the last, a warp's lanes read 32 rows
  // apart. It still pays where the points are few enough that their warps
  // fit in the grid: a split sum's last round (a bias's gradient: 256 sums
  // of 192 partials, one block of threads each walking its 192 terms
  // 6.3 us; a warp each, 6 terms a lane).
  if (!contiguous) {
    int64_t points = 1;
    for (unsigned d : parallel)
      points *= ranges[d];
    if (points * kWarpLanes > gridThreads(op))
      return std::nullopt;
  }
  return r;
}

/// The run of consecutive terms a lane of a row sum over dimension `r`
/// (static extent `extent`) takes: 16 bytes of the widest input indexed
/// by r (each such input is read a run at a time as one vector, so none
/// loads more than 16 bytes at once), at most kMaxRunLength, halved until it
/// divides the row and every such input lies along r in runs of it; 1 where
/// none does.
int64_t rowRunLength(linalg::LinalgOp op, unsigned r, int64_t extent) {
  int64_t run = kMaxRunLength;
  SmallVector<OpOperand *> alongRow;
  for (OpOperand *in : op.getDpsInputOperands())
    if (op.getMatchingIndexingMap(in).isFunctionOfDim(r)) {
      alongRow.push_back(in);
      run = std::min<int64_t>(
          run, kRunBytes * 8 /
                   getElementTypeOrSelf(in->get()).getIntOrFloatBitWidth());
    }
  for (; run > 1; run /= 2)
    if (extent % run == 0 && llvm::all_of(alongRow, [&](OpOperand *in) {
          return liesInRuns(op, *in, r, run);
        }))
      return run;
  return 1;
}

/// The `run` consecutive elements of a row a lane takes at once, from
/// column `first` (dimension r) of point `ivs`: each element's iteration
/// point, and the inputs that `inRuns` picks (lying along the row in runs)
/// loaded as one vector each.
struct RowRun {
  SmallVector<SmallVector<Value>> at;
  DenseMap<OpOperand *, Value> vectors;

  RowRun(OpBuilder &b, Location loc, linalg::LinalgOp op, unsigned r,
         ArrayRef<Value> ivs, Value first, int64_t run,
         function_ref<bool(OpOperand &)> inRuns)
      : at(run, SmallVector<Value>(ivs)) {
    for (int64_t j = 0; j < run; ++j)
      at[j][r] = j ? arith::AddIOp::create(
                         b, loc, first,
                         arith::ConstantIndexOp::create(b, loc, j))
                         .getResult()
                   : first;
    for (OpOperand *in : op.getDpsInputOperands())
      if (inRuns(*in)) {
        Type elem = getElementTypeOrSelf(in->get());
        vectors[in] = vector::LoadOp::create(
            b, loc, VectorType::get({run}, elem), in->get(),
            operandIndices(b, loc, op, *in, at[0]), /*nontemporal=*/false,
            llvm::MaybeAlign(run * elem.getIntOrFloatBitWidth() / 8));
      }
  }

  /// Input `in`'s element j of the run: from its vector, else loaded.
  Value input(OpBuilder &b, Location loc, linalg::LinalgOp op, OpOperand *in,
              int64_t j) {
    if (Value vector = vectors.lookup(in))
      return vector::ExtractOp::create(b, loc, vector, j);
    return loadOperand(b, loc, op, *in, at[j]);
  }
};

/// A warp's sum of the row of row sum `op` (dimension r) at point `ivs`
/// (the other dimensions set), `lane` its lane: each lane adds its runs of
/// terms -- lane run, lane run + 32 run, ... (run 1: every 32nd term) --,
/// shuffles add the lanes' sums and lane 0 adds the total to each output.
void emitRowSum(OpBuilder &b, Location loc, linalg::LinalgOp op, unsigned r,
                ArrayRef<Value> ivs, Value lane, ArrayRef<linalg::FillOp> fills) {
  auto cst = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  const int64_t extent = op.getStaticLoopRanges()[r];
  const int64_t run = rowRunLength(op, r, extent);
  SmallVector<Value> zeros;
  for (OpOperand &out : op.getDpsInitsMutable()) {
    Type t = cast<MemRefType>(out.get().getType()).getElementType();
    zeros.push_back(arith::ConstantOp::create(b, loc, b.getZeroAttr(t)));
  }
  auto loop =
      scf::ForOp::create(b, loc, arith::MulIOp::create(b, loc, lane, cst(run)),
                         cst(extent), cst(kWarpLanes * run), zeros);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(loop.getBody());
    // The inputs along the row: one vector a run.
    RowRun terms(b, loc, op, r, ivs, loop.getInductionVar(), run,
                 [&](OpOperand &in) {
                   return run > 1 &&
                          op.getMatchingIndexingMap(&in).isFunctionOfDim(r);
                 });
    SmallVector<Value> acc(loop.getRegionIterArgs());
    for (int64_t j = 0; j < run; ++j)
      acc = clonePayload(b, op, terms.at[j], acc, [&](OpOperand *in) {
        return terms.input(b, loc, op, in, j);
      });
    scf::YieldOp::create(b, loc, acc);
  }
  SmallVector<Value> sums(loop.getResults());
  for (Value &sum : sums)
    for (int64_t offset = kWarpLanes / 2; offset > 0; offset /= 2) {
      Value other = gpu::ShuffleOp::create(b, loc, sum, offset, kWarpLanes,
                                           gpu::ShuffleMode::XOR)
                        .getShuffleResult();
      sum = arith::AddFOp::create(b, loc, sum, other);
    }
  auto first = scf::IfOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, cst(0)),
      /*withElseRegion=*/false);
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(first.thenBlock());
  for (auto [out, sum, folded] :
       llvm::zip(op.getDpsInitsMutable(), sums, fills)) {
    SmallVector<Value> indices = operandIndices(b, loc, op, out, ivs);
    linalg::FillOp fill = folded;
    Value old = fill ? fill.getInputs()[0]
                     : memref::LoadOp::create(b, loc, out.get(), indices)
                           .getResult();
    memref::StoreOp::create(b, loc, arith::AddFOp::create(b, loc, old, sum),
                            out.get(), indices);
  }
}

/// A launch of a warp per point of `points`, the builder left inside it
/// where the warp's point is below `points`; the point and lane indices.
std::pair<Value, Value> launchWarpPerPoint(OpBuilder &b, Location loc,
                                           int64_t points, StringRef kind) {
  auto cst = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  const int64_t warpsPerBlock = kGridBlockThreads / kWarpLanes;
  auto launch = gpu::LaunchOp::create(
      b, loc, cst(llvm::divideCeil(points, warpsPerBlock)), cst(1), cst(1),
      cst(kGridBlockThreads), cst(1), cst(1));
  launch->setAttr(kKernelKindAttr, b.getStringAttr(kind));
  b.setInsertionPointToStart(&launch.getBody().front());
  Value thread = arith::AddIOp::create(
      b, loc,
      arith::MulIOp::create(b, loc, launch.getBlockIds().x,
                            cst(kGridBlockThreads)),
      launch.getThreadIds().x);
  Value point = arith::DivUIOp::create(b, loc, thread, cst(kWarpLanes));
  Value lane = arith::RemUIOp::create(b, loc, thread, cst(kWarpLanes));
  guardLaunchBody(b, loc, point, cst(points));
  return {point, lane};
}

/// `point` as `op`'s iteration point along the row `r`: its parallel
/// dimensions but r from the index (in output order, the last fastest), the
/// others 0 (r is the lanes' to set).
SmallVector<Value> pointIvs(OpBuilder &b, Location loc, linalg::LinalgOp op,
                            unsigned r, Value point) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  auto cst = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  SmallVector<Value> ivs(ranges.size(), cst(0));
  SmallVector<unsigned> points = parallelInOutputOrder(op);
  llvm::erase(points, r);
  delinearize(
      b, loc, point, points, [&](unsigned d) { return cst(ranges[d]); }, ivs);
  return ivs;
}

/// Maps a row sum (rowSumDimension) as a warp per output point.
void mapRowSums(linalg::LinalgOp op, unsigned r) {
  Location loc = op.getLoc();
  OpBuilder b(op);
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  int64_t points = 1;
  for (unsigned d : parallelInOutputOrder(op))
    points *= ranges[d];
  SmallVector<linalg::FillOp> fills = foldableFills(op);
  auto [point, lane] = launchWarpPerPoint(b, loc, points, "row_sums");
  emitRowSum(b, loc, op, r, pointIvs(b, loc, op, r, point), lane, fills);
  op->erase();
  eraseFolded(fills);
}

/// A warp's lanes over the row of all-parallel `op` (its last dimension
/// r) at point `ivs`: each lane computes its runs of the row -- lane run,
/// lane run + 32 run, ... -- each operand lying along the row in runs
/// moved a run at a time (runLength), the others an element at a time.
void emitRowElementwise(OpBuilder &b, Location loc, linalg::LinalgOp op,
                        unsigned r, ArrayRef<Value> ivs, Value lane) {
  auto cst = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  const int64_t extent = op.getStaticLoopRanges()[r];
  const int64_t run = runLength(op, r, extent);
  auto inRuns = [&](OpOperand &operand) {
    return run > 1 && liesInRuns(op, operand, r, run);
  };
  auto loop = scf::ForOp::create(
      b, loc, arith::MulIOp::create(b, loc, lane, cst(run)), cst(extent),
      cst(kWarpLanes * run));
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(loop.getBody());
  RowRun elements(b, loc, op, r, ivs, loop.getInductionVar(), run, inRuns);
  ArrayRef<SmallVector<Value>> at = elements.at;
  Block &body = op->getRegion(0).front();
  const unsigned numInputs = op.getNumDpsInputs();
  SmallVector<SmallVector<Value>> results;
  for (int64_t j = 0; j < run; ++j) {
    // An output's element is read only where the body reads it.
    SmallVector<Value> outs;
    for (auto [i, out] : llvm::enumerate(op.getDpsInitsMutable()))
      outs.push_back(
          body.getArgument(numInputs + i).use_empty()
              ? arith::ConstantOp::create(
                    b, loc, b.getZeroAttr(getElementTypeOrSelf(out.get())))
                    .getResult()
              : loadOperand(b, loc, op, out, at[j]));
    results.push_back(clonePayload(b, op, at[j], outs, [&](OpOperand *in) {
      return elements.input(b, loc, op, in, j);
    }));
  }
  for (auto [i, out] : llvm::enumerate(op.getDpsInitsMutable())) {
    if (!inRuns(out)) {
      for (int64_t j = 0; j < run; ++j)
        memref::StoreOp::create(b, loc, results[j][i], out.get(),
                                operandIndices(b, loc, op, out, at[j]));
      continue;
    }
    SmallVector<Value> values;
    for (int64_t j = 0; j < run; ++j)
      values.push_back(results[j][i]);
    vector::StoreOp::create(
        b, loc,
        vector::FromElementsOp::create(
            b, loc,
            VectorType::get({run}, getElementTypeOrSelf(out.get())), values),
        out.get(), operandIndices(b, loc, op, out, at[0]),
        /*nontemporal=*/false,
        llvm::MaybeAlign(run *
                         getElementTypeOrSelf(out.get()).getIntOrFloatBitWidth() /
                         8));
  }
}

/// Row groups. A layer norm is two row sums over [49152, 256] (the mean,
/// then the squares about it) and an elementwise op reading both; its
/// gradient a row sum and an elementwise op. Each a kernel, each reads the
/// rows from memory again, and each pays a launch (the forward's three:
/// 12.2 + 9.7 + 12.7 us). Consecutive ops in row form over the same points
/// and row length run as one kernel of a warp per point instead, each op's
/// warp body after the one before, separated by a warp barrier
/// (bar.warp.sync, which orders the lanes' memory accesses): the later
/// ops read the rows from L1.
///
/// An op is in row form where its last loop dimension is the row and its
/// others the points, it is all-parallel (its outputs indexed by every
/// loop) or a row sum along that dimension, and each of its buffers is
/// indexed by every loop in order (a row per point), by the points in
/// order (a value per point) -- in both cases an identity-layout view,
/// whose element (p, c) is then the buffer's p * width + c, or p, however
/// the view shapes the points -- or by no point dimension (shared: a
/// layer norm's gamma, read only). The warp of point p then touches only
/// the rows and values of point p of every buffer that the group writes,
/// so nothing crosses warps.
enum class RowAccess { Row, Point, Shared };

/// How `op` (its last loop the row, the others the points) indexes buffer
/// `operand`: by all its loops in order (Row) or by the points in order
/// (Point), each through an identity-layout view, or by no point dimension
/// (Shared); nullopt for anything else.
std::optional<RowAccess> rowAccessOf(linalg::LinalgOp op, OpOperand &operand) {
  const unsigned n = op.getNumLoops();
  AffineMap map = op.getMatchingIndexingMap(&operand);
  AffineMap all = AffineMap::getMultiDimIdentityMap(n, op.getContext());
  if (map == all || map == all.dropResult(n - 1)) {
    if (!cast<MemRefType>(operand.get().getType()).getLayout().isIdentity())
      return std::nullopt;
    return map == all ? RowAccess::Row : RowAccess::Point;
  }
  for (unsigned d = 0; d + 1 < n; ++d)
    if (map.isFunctionOfDim(d))
      return std::nullopt;
  return RowAccess::Shared;
}

/// `op`'s row form: the points, the row length, and whether it is a row
/// sum; nullopt where it has none.
struct RowForm {
  int64_t points, width;
  bool sums;
};
std::optional<RowForm> rowFormOf(linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics() || !isa<linalg::GenericOp>(op))
    return std::nullopt;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  const unsigned n = ranges.size();
  if (n < 2 || llvm::any_of(ranges, ShapedType::isDynamic))
    return std::nullopt;
  const unsigned r = n - 1;
  const bool sums = op.getNumReductionLoops() > 0;
  if (sums && rowSumDimension(op) != r)
    return std::nullopt;
  // An elementwise op keeps every lane busy (its runs across the row at
  // least a warp's), as it would with a thread per run of its own.
  if (!sums && (op.getNumParallelLoops() != n ||
                runLength(op, r, ranges[r]) * kWarpLanes > ranges[r]))
    return std::nullopt;
  // Outputs: a value per point of a row sum, a row of an elementwise op.
  for (OpOperand &operand : op->getOpOperands()) {
    if (!isa<MemRefType>(operand.get().getType()))
      continue;
    std::optional<RowAccess> access = rowAccessOf(op, operand);
    if (!access || (op.isDpsInit(&operand) &&
                    *access != (sums ? RowAccess::Point : RowAccess::Row)))
      return std::nullopt;
  }
  return RowForm{ShapedType::getNumElements(ArrayRef(ranges).drop_back()),
                 ranges[r], sums};
}

/// The buffers of a row group so far: how its ops index each (by root),
/// and which they write.
struct RowGroupAccess {
  DenseMap<Value, RowAccess> kinds;
  DenseSet<Value> written;

  /// Adds `op`'s buffers; false (leaving this as it was) where a buffer
  /// would be indexed two ways, or a shared one written.
  bool add(linalg::LinalgOp op) {
    RowGroupAccess next = *this;
    for (OpOperand &operand : op->getOpOperands()) {
      if (!isa<MemRefType>(operand.get().getType()))
        continue;
      Value root = mlir::attn::rootOf(operand.get());
      std::optional<RowAccess> kind = rowAccessOf(op, operand);
      if (!root || !kind)
        return false;
      auto [it, fresh] = next.kinds.try_emplace(root, *kind);
      if (!fresh && it->second != *kind)
        return false;
      if (op.isDpsInit(&operand))
        next.written.insert(root);
    }
    for (auto [root, kind] : next.kinds)
      if (kind == RowAccess::Shared && next.written.contains(root))
        return false;
    *this = std::move(next);
    return true;
  }
};

/// Whether the ops between `a` and `b` (one block) let `a` move down to
/// `b`: allocations, pure ops (views, constants), and fills and releases
/// of buffers the group has not touched.
bool passesBetween(Operation *a, Operation *b, const RowGroupAccess &group) {
  if (a->getBlock() != b->getBlock())
    return false;
  for (Operation *op = a->getNextNode(); op && op != b; op = op->getNextNode()) {
    if (isPure(op) || isa<memref::AllocOp>(op))
      continue;
    Value buffer;
    if (auto fill = dyn_cast<linalg::FillOp>(op);
        fill && fill.hasPureBufferSemantics())
      buffer = fill.getOutputs()[0];
    else if (auto dealloc = dyn_cast<memref::DeallocOp>(op))
      buffer = dealloc.getMemref();
    Value root = buffer ? mlir::attn::rootOf(buffer) : Value();
    if (!root || group.kinds.contains(root))
      return false;
  }
  return true;
}

/// The end of the row group starting at ops[begin] (ops after it in program
/// order): begin + 1 where it has none.
size_t rowGroupEnd(ArrayRef<linalg::LinalgOp> ops, size_t begin) {
  std::optional<RowForm> form = rowFormOf(ops[begin]);
  RowGroupAccess group;
  if (!form || !group.add(ops[begin]))
    return begin + 1;
  bool sums = form->sums;
  size_t end = begin + 1;
  for (; end < ops.size(); ++end) {
    std::optional<RowForm> next = rowFormOf(ops[end]);
    if (!next || next->points != form->points ||
        next->width != form->width ||
        !passesBetween(ops[end - 1], ops[end], group) || !group.add(ops[end]))
      break;
    sums |= next->sums;
  }
  // Elementwise ops alone run as well a thread per run each.
  return sums ? end : begin + 1;
}

/// Maps a row group as one launch of a warp per point, where its last op
/// is: each op's warp body in turn, a warp barrier between.
void mapRowGroup(ArrayRef<linalg::LinalgOp> group) {
  linalg::LinalgOp last = group.back();
  Location loc = last.getLoc();
  OpBuilder b(last);
  auto [point, lane] = launchWarpPerPoint(
      b, loc, rowFormOf(group.front())->points, "row_group");
  Value everyLane = arith::ConstantIntOp::create(b, loc, -1, 32);
  SmallVector<linalg::FillOp> fills;
  for (auto [i, member] : llvm::enumerate(group)) {
    linalg::LinalgOp op = member;
    if (i)
      NVVM::SyncWarpOp::create(b, loc, everyLane);
    unsigned r = op.getNumLoops() - 1;
    SmallVector<Value> ivs = pointIvs(b, loc, op, r, point);
    if (op.getNumReductionLoops() > 0) {
      SmallVector<linalg::FillOp> opFills = foldableFills(op);
      emitRowSum(b, loc, op, r, ivs, lane, opFills);
      llvm::append_range(fills, opFills);
    } else {
      emitRowElementwise(b, loc, op, r, ivs, lane);
    }
  }
  for (linalg::LinalgOp op : group)
    op->erase();
  eraseFolded(fills);
}

/// Host code: buffers become device buffers, fills of whole buffers
/// memsets; nothing else may touch them.
LogicalResult moveHostMemoryToDevice(func::FuncOp fn) {
  SmallVector<Operation *> hostOps;
  // Kernel bodies are not host code: do not walk into launches. Nor into
  // the bodies of linalg ops (the whole-buffer fills left on the host),
  // which are erased with their op below.
  fn.getBody().walk<WalkOrder::PreOrder>([&](Operation *op) {
    hostOps.push_back(op);
    return isa<gpu::LaunchOp, linalg::LinalgOp>(op) ? WalkResult::skip()
                                                    : WalkResult::advance();
  });
  for (Operation *op : hostOps) {
    OpBuilder b(op);
    Location loc = op->getLoc();
    if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
      auto device = gpu::AllocOp::create(b, loc, alloc.getType(), Type(),
                                         ValueRange{}, alloc.getDynamicSizes(),
                                         alloc.getSymbolOperands(), false);
      alloc.replaceAllUsesWith(device.getMemref());
      alloc.erase();
    } else if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
      gpu::DeallocOp::create(b, loc, Type(), ValueRange{}, dealloc.getMemref());
      dealloc.erase();
    } else if (isWholeBufferFill(op)) {
      auto fill = cast<linalg::FillOp>(op);
      gpu::MemsetOp::create(b, loc, Type(), ValueRange{}, fill.getOutputs()[0],
                            fill.getInputs()[0]);
      fill.erase();
    } else if (auto copy = dyn_cast<memref::CopyOp>(op)) {
      gpu::MemcpyOp::create(b, loc, Type(), ValueRange{}, copy.getTarget(),
                            copy.getSource());
      copy.erase();
    } else if (!isa<gpu::LaunchOp, func::ReturnOp, memref::GetGlobalOp,
                    // Stream-ordered device work (attn's buffer all-reduces,
                    // say): already on the GPU.
                    gpu::AsyncOpInterface>(op) &&
               !isMemoryEffectFree(op)) {
      return op->emitOpError("is not mapped to the GPU yet: on the host it "
                             "would touch device memory");
    }
  }
  return success();
}

struct MapLoopsToGPUPass
    : public mlir::attn::impl::MapLoopsToGPUBase<MapLoopsToGPUPass> {
  using Base::Base;
  // Options are checked when the pipeline starts, also where no function
  // would use them.
  LogicalResult initialize(MLIRContext *context) override {
    if (lanesPerIteration < 1 || lanesPerIteration > kMaxThreads)
      return emitError(UnknownLoc::get(context))
             << "attn-map-loops-to-gpu: lanes-per-iteration must be in [1, "
             << kMaxThreads << "], got "
             << static_cast<int64_t>(lanesPerIteration);
    return success();
  }

  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    SmallVector<scf::ForallOp> loops;
    fn.walk([&](scf::ForallOp f) {
      if (!f->getParentOfType<scf::ForallOp>())
        loops.push_back(f);
    });
    for (scf::ForallOp loop : loops)
      if (failed(mapForall(loop, lanesPerIteration)))
        return signalPassFailure();
    SmallVector<linalg::LinalgOp> ops;
    for (linalg::LinalgOp host : hostLinalgOps(fn))
      llvm::append_range(ops, splitLongReduction(host));
    for (size_t i = 0; i < ops.size();) {
      if (size_t end = rowGroupEnd(ops, i); end - i > 1) {
        mapRowGroup(ArrayRef(ops).slice(i, end - i));
        i = end;
        continue;
      }
      linalg::LinalgOp op = ops[i++];
      if (std::optional<unsigned> r = rowSumDimension(op)) {
        mapRowSums(op, *r);
        continue;
      }
      if (failed(mapLinalgOp(op)))
        return signalPassFailure();
    }
    if (failed(moveHostMemoryToDevice(fn)))
      return signalPassFailure();
  }
};

} // namespace

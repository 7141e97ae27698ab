//===- MatmulToTensorCores.cpp - the host's dense products on tensor cores ===//
//
// A product of the host -- a linalg.matmul (an encoder's projections, the
// classifier, their gradients), C[M, N] += A[M, K] B[K, N] with C in f32,
// or a linalg.generic that is one over leading batch dimensions with A and
// B either way round (linear attention's gradient: phi(K)^T V per batch
// and head; matchContraction) -- becomes a gpu.launch of tensor-core
// tiles:
//
// - a block of 4 warps per 64 x 64 tile of C (and per matrix of the
//   batch, on grid z), each warp a 32 x 32 part of it as mma.sync
//   accumulators (f32, in registers from C's first value to its last);
//   16-bit products with enough 128 x 128 tiles to fill the machine take
//   those, in 8 warps of 64 x 32 (Tiling);
// - K in steps of tileK (32): the block stages A's [tileM, tileK] and B's
//   [tileK, tileN] tiles into shared memory as f32 (zeros past the
//   operands' ends, so any M, N, K), the next step's elements loaded into
//   registers while this step's products run;
// - operands both bf16 (or both f16): the tiles stay in their type in
//   shared memory and the products are mma.sync.m16n8k16, A's fragments
//   and B's (two column tiles at once, transposed) read by ldmatrix. Where
//   both operands' rows hold whole 16-byte runs the tiles are copied by
//   cp.async straight into kStages shared stages, the copies of the next
//   steps in flight while a step's products run (one group per step, a
//   wait for the oldest: the loop written unpipelined and split by
//   pipelineCopies, StageBlockTiles.cpp); otherwise they are staged through
//   registers one step ahead, in 16-byte runs where an operand's rows allow;
// - on sm_90a (the module's attn.target), the 128 x 128 tiles of products
//   copied by cp.async run on warpgroup MMA instead (kWarpgroupTiles):
//   each of two warpgroups computes a 64 x 128 half of C as
//   wgmma.mma_async.m64n128k16 reading both operands from shared memory,
//   whose tiles are 128-byte swizzled rows of the operand as it lies
//   (SwizzledTile, WarpgroupMma.h; K in steps of 64), A or B read
//   transposed by the instruction where it lies that way; the
//   accumulators lie as an mma.sync warp tile of 16 x 128 would, so the
//   fill, the epilogue and the split are the same code; with the pass's
//   `persistent` option (off by default: slower, measured), where such a
//   product's tiles are more than a wave, it is persistent
//   (persistentBlocks): a block a multiprocessor walks its tiles in one
//   pipelined loop over their steps, the next tile's copies in flight
//   during this one's epilogue;
// - otherwise the products in TF32 with f32 accuracy ("3xTF32"): an f32 x is
//   big + small, big its top 19 bits (a TF32, exact) and small = x - big
//   (exact) cut to a TF32 too; a b is then big(a) big(b) + big(a) small(b)
//   + small(a) big(b), the terms dropped below f32's rounding (about 2^-22
//   of |a b|). An operand of bf16 or f16 is exactly its big part: its
//   small term is not computed.
//
// An operand written by a 2-D linalg.transpose into a buffer of its own
// (a weight's gradient X^T dY, an input's dY W^T) is read transposed from
// the transpose's input instead: the tile is staged as it lies there
// ([K, M] for A, [N, K] for B) and the fragments taken from it the other
// way round (ldmatrix with and without .trans; swapped indices in TF32),
// so the transpose -- a pass over the whole operand -- is not run.
//
// C's producer and consumer come into the kernel where nothing else
// touches C: a linalg.fill of C before the product (a projection's zeros)
// becomes the accumulators' first value instead of a memset and a read,
// and an elementwise linalg.generic reading C after it (a projection's
// bias) runs on the accumulators, writing its own output; C is then never
// written at all. With the pass's `column-sums` option (on by default), a
// linalg.reduce summing the consumer's output over its rows (a bias's
// gradient) comes in too, where the epilogue goes through shared memory
// (ColumnSum): the kernel writes each tile's column sums, and the reduce
// adds those up.
// A lane's two elements of a row go out as one store where
// the destination's rows allow (even widths), with no bounds checks where
// the tiles divide M and N.
//
// Ops of other forms (other bodies or maps, non-f32 results, tensor
// semantics, dynamic sizes) are left as they are: attn-map-loops-to-gpu
// maps every linalg op to CUDA cores.
//
//===----------------------------------------------------------------------===//

#include "GPUTiles.h"
#include "WarpgroupMma.h"
#include "attn/Conversion/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::attn {
#define GEN_PASS_DEF_MATMULTOTENSORCORES
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_tiles;

namespace {

/// mma.sync.m16n8k8 tiles of a warp's part of C.
constexpr int64_t kMmaM = 16, kMmaN = 8, kMmaK = 8;

/// A block's tile of C, tileM x tileN, in warps of warpM x warpN, and the
/// steps of K, tileK each. `warpgroup`: the products are sm_90a's
/// wgmma.mma_async, a warpgroup of four warps issuing each; its
/// accumulators lie as mma.sync's of a 16-row warp tile would (MmaLayout::
/// wgmmaM64K16), so warpM x warpN is what each warp holds of them.
struct Tiling {
  int64_t tileM, tileN, warpM, warpN, tileK;
  bool warpgroup = false;
  int64_t warps() const { return (tileM / warpM) * (tileN / warpN); }
  int64_t threads() const { return warps() * kWarpLanes; }
  /// Accumulator tiles of a warp.
  int64_t rowTiles() const { return warpM / kMmaM; }
  int64_t colTiles() const { return warpN / kMmaN; }
};
/// Every product's: 4 warps of 32 x 32.
constexpr Tiling kSmallTiles{64, 64, 32, 32, 32};
/// Large 16-bit products' (an FFN's, a projection's over every token): 8
/// warps of 64 x 32, each staged element feeding twice the products; where
/// they still give every multiprocessor kBlocksPerSM blocks.
constexpr Tiling kLargeTiles{128, 128, 64, 32, 32};
/// The same on sm_90a with both operands copied by cp.async: two
/// warpgroups, each a 64 x 128 half of C as wgmma.m64n128k16, the operands'
/// tiles 128 bytes of K (or of M, N) wide in shared memory, swizzled
/// (SwizzledTile): steps of 64.
constexpr Tiling kWarpgroupTiles{128, 128, 16, 128, 64, /*warpgroup=*/true};
/// Shared rows padded so that a fragment's 32 lanes read 32 banks: A's
/// lanes (row g, column t) at g * (tileK + 4) + t, B's (row t, column g)
/// at t * (tileN + 8) + g.
constexpr int64_t kPadA = 4, kPadB = 8;
/// The same for 16-bit tiles read by ldmatrix: rows of 16-byte multiples
/// (40 and 72 elements) whose eight 16-byte row reads fall in distinct
/// banks.
constexpr int64_t kPackedPadA = 8, kPackedPadB = 8;
/// The most blocks along a grid's y dimension.
constexpr int64_t kMaxGridY = 65535;
/// Split K: a product whose C has fewer tiles than kBlocksPerSM blocks per
/// multiprocessor (a weight's gradient, X^T dY: 256 x 256 outputs summed
/// over 49152 tokens is 16 tiles) cuts K into a power-of-two number of
/// ranges, one per grid z, each keeping at least kMinStepsPerSplit steps.
constexpr int64_t kBlocksPerSM = 2;
/// Shared-memory stages of the products whose operands are copied by
/// cp.async: step i's tiles are computed on while steps i + 1 and i + 2
/// are in flight.
constexpr int64_t kStages = 3;
/// The least of K a split range keeps.
constexpr int64_t kMinKPerSplit = 256;
/// A persistent product's blocks a multiprocessor: its epilogue tile has
/// shared memory of its own beside the stages (the next tile's copies are
/// in flight while it is used), 168 KiB in all, which one block fits.
constexpr int64_t kPersistentBlocksPerSM = 1;
/// The warpgroup epilogue's C tile in shared memory: rows padded by 8 f32
/// so that a half-warp's 8-byte pair stores (4 rows, 4 pairs each) fall in
/// distinct banks; read back in runs of 16 bytes of the destination's type.
constexpr int64_t kEpiloguePad = 8, kEpilogueRunBytes = 16;

/// Whether `body` (of a linalg op with two inputs and one output) is
/// out + x y: the inputs, each possibly widened by arith.extf, multiplied
/// and added to the output, nothing else.
bool isProductSum(Block &body) {
  auto add = body.getTerminator()->getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add || body.getTerminator()->getNumOperands() != 1)
    return false;
  Value acc = body.getArgument(2);
  Value product = add.getLhs() == acc   ? add.getRhs()
                  : add.getRhs() == acc ? add.getLhs()
                                        : Value();
  auto mul = product ? product.getDefiningOp<arith::MulFOp>() : nullptr;
  if (!mul)
    return false;
  auto input = [&](Value v, unsigned i) {
    if (auto ext = v.getDefiningOp<arith::ExtFOp>())
      v = ext.getIn();
    return v == body.getArgument(i);
  };
  bool inputs = (input(mul.getLhs(), 0) && input(mul.getRhs(), 1)) ||
                (input(mul.getLhs(), 1) && input(mul.getRhs(), 0));
  // The multiply, the add, the yield and at most one widening per input.
  return inputs &&
         llvm::all_of(body,
                      [](Operation &op) {
                        return isa<arith::ExtFOp, arith::MulFOp, arith::AddFOp,
                                   linalg::YieldOp>(op);
                      }) &&
         body.getOperations().size() <= 5;
}

/// Whether every op strictly between `from` and `to` (one block, `from`
/// first) leaves existing memory alone: no effects, allocations, or one of
/// `notRun` (ops the rewrite removes).
bool leavesMemoryAlone(Operation *from, Operation *to,
                       ArrayRef<Operation *> notRun = {}) {
  if (from->getBlock() != to->getBlock() || !from->isBeforeInBlock(to))
    return false;
  for (Operation *op = from->getNextNode(); op != to; op = op->getNextNode())
    if (!isMemoryEffectFree(op) && !isa<memref::AllocOp>(op) &&
        !llvm::is_contained(notRun, op))
      return false;
  return true;
}

/// The fill of C that the product `op` reads (C's only writer before it),
/// or null. Between the two may lie only ops without effects, allocations
/// and the product's own operand transposes `notRun` (the kernel reads
/// their inputs instead: bufferization may put the fill of a result before
/// them).
linalg::FillOp producerFill(linalg::LinalgOp op, ArrayRef<Operation *> notRun) {
  Value c = op.getDpsInits()[0];
  for (Operation *user : c.getUsers()) {
    auto fill = dyn_cast<linalg::FillOp>(user);
    if (fill && fill.hasPureBufferSemantics() && fill.getOutputs()[0] == c &&
        leavesMemoryAlone(fill, op, notRun))
      return fill;
  }
  return nullptr;
}

/// The elementwise generic that reads C after the product and is C's only
/// other reader, C and its output being buffers of their own
/// (allocations): the kernel can compute it from the accumulators. Null
/// otherwise.
linalg::GenericOp elementwiseConsumer(linalg::LinalgOp op,
                                      linalg::FillOp fill) {
  Value c = op.getDpsInits()[0];
  if (!c.getDefiningOp<memref::AllocOp>())
    return nullptr;
  linalg::GenericOp consumer;
  for (Operation *user : c.getUsers()) {
    if (user == op || user == fill || isa<memref::DeallocOp>(user))
      continue;
    auto g = dyn_cast<linalg::GenericOp>(user);
    if (!g || consumer)
      return nullptr;
    consumer = g;
  }
  if (!consumer || !consumer.hasPureBufferSemantics() ||
      consumer.getNumLoops() != 2 || consumer.getNumParallelLoops() != 2 ||
      !leavesMemoryAlone(op, consumer) ||
      !llvm::all_of(consumer.getDpsInits(), [](Value init) {
        return init.getDefiningOp<memref::AllocOp>();
      }))
    return nullptr;
  for (OpOperand &operand : consumer->getOpOperands()) {
    AffineMap map = consumer.getMatchingIndexingMap(&operand);
    bool isC = operand.get() == c;
    if (isC && (consumer.isDpsInit(&operand) || !map.isIdentity()))
      return nullptr;
    if (!map.isProjectedPermutation() ||
        (consumer.isDpsInit(&operand) && !map.isIdentity()))
      return nullptr;
  }
  return consumer;
}

/// A product's operand as the kernel reads it: `memref`, or with
/// `transposed`, the operand is memref's transpose.
struct Operand {
  Value memref;
  bool transposed = false;
  linalg::TransposeOp transpose; // the one not run, to erase
};

/// Whether `op` writes no memory but allocations of the function's own
/// other than `kept` (a linalg op's outputs: C's fill, the other operand's
/// transpose).
bool writesOnlyOtherAllocations(Operation *op, Value kept) {
  if (isMemoryEffectFree(op) || isa<memref::AllocOp>(op))
    return true;
  auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
  return linalgOp && linalgOp.hasPureBufferSemantics() &&
         llvm::all_of(linalgOp.getDpsInits(), [&](Value init) {
           return init != kept && init.getDefiningOp<memref::AllocOp>();
         });
}

/// The buffer that `v` is a view of (through view-like ops), or `v`.
Value viewedBuffer(Value v) {
  while (auto view = v.getDefiningOp<ViewLikeOpInterface>())
    v = view.getViewSource();
  return v;
}

/// Whether `op` may write (or free) `buffer`, an allocation: an op with
/// memory effects that is not a linalg op on buffers may; a linalg op may
/// where one of its outputs is a view of `buffer` (another allocation or
/// an argument of the function is not).
bool mayWrite(Operation *op, Value buffer) {
  if (isMemoryEffectFree(op) || isa<memref::AllocOp>(op))
    return false;
  if (auto free = dyn_cast<memref::DeallocOp>(op))
    return viewedBuffer(free.getMemref()) == buffer;
  auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
  return !linalgOp || !linalgOp.hasPureBufferSemantics() ||
         llvm::any_of(linalgOp.getDpsInits(),
                      [&](Value init) { return viewedBuffer(init) == buffer; });
}

/// A sum down the columns of the consumer's output `output` ([M, N]) that
/// the kernel takes in: a linalg.reduce over dimension 0 into an f32 [N]
/// buffer whose body is init + g(in), g not reading init (a bias's
/// gradient: the column sums of the gradient the product's epilogue
/// writes), nothing between the consumer and it writing the output
/// (mayWrite).
struct ColumnSum {
  linalg::ReduceOp reduce;
  unsigned output = 0;
  explicit operator bool() const { return static_cast<bool>(reduce); }
};

/// The first such sum of one of `consumer`'s outputs; none where there is
/// none.
ColumnSum columnSumOf(linalg::GenericOp consumer) {
  for (auto [i, y] : llvm::enumerate(consumer.getDpsInits()))
    for (Operation *user : y.getUsers()) {
      auto reduce = dyn_cast<linalg::ReduceOp>(user);
      if (!reduce || reduce.getInputs().size() != 1 ||
          reduce.getInputs()[0] != y || reduce.getDimensions().size() != 1 ||
          reduce.getDimensions()[0] != 0 ||
          reduce->getBlock() != consumer->getBlock() ||
          !consumer->isBeforeInBlock(reduce))
        continue;
      auto type = cast<MemRefType>(reduce.getInits()[0].getType());
      Block &body = reduce.getRegion().front();
      BlockArgument init = body.getArgument(1);
      auto add =
          body.getTerminator()->getOperand(0).getDefiningOp<arith::AddFOp>();
      if (!type.getElementType().isF32() || !add || !init.hasOneUse() ||
          (add.getLhs() != init && add.getRhs() != init))
        continue;
      bool untouched = true;
      for (Operation *op = consumer->getNextNode(); op != reduce;
           op = op->getNextNode())
        untouched &= !mayWrite(op, y);
      if (untouched)
        return {reduce, static_cast<unsigned>(i)};
    }
  return {};
}

/// Input `i` of `op`: where a 2-D linalg.transpose writes it into an
/// allocation that nothing but the transpose writes and nothing but `op`
/// reads (besides its frees), and nothing between the two writes memory
/// but into other allocations, the transpose's input read transposed;
/// else the input as it is.
Operand operandOf(linalg::LinalgOp op, unsigned i) {
  Value v = op.getDpsInputs()[i];
  Operand plain{v};
  if (!v.getDefiningOp<memref::AllocOp>())
    return plain;
  linalg::TransposeOp transpose;
  for (Operation *user : v.getUsers()) {
    if (user == op || isa<memref::DeallocOp>(user))
      continue;
    auto t = dyn_cast<linalg::TransposeOp>(user);
    if (!t || transpose || t.getInit() != v)
      return plain;
    transpose = t;
  }
  if (!transpose || !transpose.hasPureBufferSemantics() ||
      transpose.getPermutation() != ArrayRef<int64_t>{1, 0} ||
      transpose->getBlock() != op->getBlock() ||
      !transpose->isBeforeInBlock(op))
    return plain;
  for (Operation *o = transpose->getNextNode(); o != op; o = o->getNextNode())
    if (!writesOnlyOtherAllocations(o, transpose.getInput()))
      return plain;
  return {transpose.getInput(), true, transpose};
}

/// Erases the transpose that `operand` replaced, and its buffer where
/// nothing else uses it.
void eraseTranspose(Operand operand) {
  if (!operand.transpose)
    return;
  Value buffer = operand.transpose.getInit();
  operand.transpose->erase();
  for (Operation *user : llvm::make_early_inc_range(buffer.getUsers()))
    if (isa<memref::DeallocOp>(user))
      user->erase();
  if (buffer.use_empty())
    buffer.getDefiningOp()->erase();
}

/// A product this pass puts on tensor cores: C[batch..., M, N] +=
/// A[batch..., M, K] B[batch..., K, N] over `batchRank` leading batch
/// dimensions (none for a linalg.matmul; linear attention's gradient has
/// two), A and B read as they lie: transposed, stored [.., K, M] and
/// [.., N, K]. Sizes are static and not 0: the kernel clamps its reads
/// into the operands.
struct Contraction {
  linalg::LinalgOp op;
  Operand a, b;
  unsigned batchRank = 0;
  int64_t batch = 1, m = 0, n = 0, k = 0;
};

/// A matrix of C in tiles: its row tiles by its column tiles.
struct TileGrid {
  int64_t rows, columns;
  int64_t count() const { return rows * columns; }
};
TileGrid tileGridOf(const Contraction &con, const Tiling &tiling) {
  return {static_cast<int64_t>(llvm::divideCeil(con.m, tiling.tileM)),
          static_cast<int64_t>(llvm::divideCeil(con.n, tiling.tileN))};
}

/// `op` as a Contraction: a linalg.matmul or a generic whose body is
/// out + x y (isProductSum), f32, bf16 or f16 inputs into an f32 output,
/// whose maps are batch dimensions then the matrices' (A's M and K in
/// either order, B's K and N, C's M then N), and, with batch dimensions,
/// whose buffers are contiguous. None otherwise.
std::optional<Contraction> matchContraction(linalg::LinalgOp op) {
  if (!isa<linalg::MatmulOp, linalg::GenericOp>(op) ||
      !op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || op->getParentOfType<gpu::LaunchOp>() ||
      op->getParentOfType<scf::ForallOp>())
    return std::nullopt;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  for (int64_t size : ranges)
    if (ShapedType::isDynamic(size) || size == 0)
      return std::nullopt;
  auto elem = [&](Value v) {
    auto type = dyn_cast<MemRefType>(v.getType());
    return type ? type.getElementType() : Type();
  };
  auto tf32Exact = [](Type t) {
    return t && (t.isF32() || t.isBF16() || t.isF16());
  };
  Value a = op.getDpsInputs()[0], b = op.getDpsInputs()[1],
        c = op.getDpsInits()[0];
  if (!tf32Exact(elem(a)) || !tf32Exact(elem(b)) || !elem(c).isF32() ||
      !isProductSum(*op.getBlock()))
    return std::nullopt;
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(op);
  if (failed(dims) || dims->m.size() != 1 || dims->n.size() != 1 ||
      dims->k.size() != 1)
    return std::nullopt;
  const unsigned m = dims->m[0], n = dims->n[0], k = dims->k[0];
  // Whether `map` is the batch dimensions, then `x` and `y`.
  auto is = [&](AffineMap map, unsigned x, unsigned y) {
    SmallVector<unsigned> want(dims->batch.begin(), dims->batch.end());
    want.append({x, y});
    if (map.getNumResults() != want.size())
      return false;
    for (auto [i, d] : llvm::enumerate(want))
      if (!map.getResult(i).isFunctionOfDim(d) ||
          !isa<AffineDimExpr>(map.getResult(i)))
        return false;
    return true;
  };
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (!is(maps[2], m, n))
    return std::nullopt;
  Contraction con{op, {}, {}, static_cast<unsigned>(dims->batch.size())};
  // Input i, whose matrix is [x, y] as the product reads it: as it lies,
  // transposed by its map, or neither.
  auto orient = [&](unsigned i, unsigned x,
                    unsigned y) -> std::optional<Operand> {
    Value v = op.getDpsInputs()[i];
    if (is(maps[i], x, y))
      return con.batchRank == 0 ? operandOf(op, i) : Operand{v};
    if (is(maps[i], y, x))
      return Operand{v, true};
    return std::nullopt;
  };
  std::optional<Operand> opA = orient(0, m, k), opB = orient(1, k, n);
  if (!opA || !opB)
    return std::nullopt;
  con.a = *opA;
  con.b = *opB;
  if (con.batchRank > 0)
    for (Value v : {a, b, c})
      if (!cast<MemRefType>(v.getType()).getLayout().isIdentity())
        return std::nullopt;
  for (unsigned d : dims->batch)
    con.batch *= ranges[d];
  con.m = ranges[m];
  con.n = ranges[n];
  con.k = ranges[k];
  // Grid y holds the column tiles where the rows come first: the small
  // tiles give the most of them.
  if (tileGridOf(con, kSmallTiles).columns > kMaxGridY || con.batch > kMaxGridY)
    return std::nullopt;
  return con;
}

/// The blocks a product's grid should have: kBlocksPerSM per
/// multiprocessor of the target.
int64_t blocksWanted(Operation *op) {
  return kBlocksPerSM * TargetAttr::lookup(op).getMultiprocessors();
}

/// How a contraction's grid splits K: into `splits` ranges (1: none) of
/// `stepsPerBlock` steps of the tiling's tileK (the last range may run
/// past K). Grid z runs the ranges, for each matrix of a batch (linear
/// attention's gradient: 96 products of 64 x 64 outputs over 2048 tokens
/// are 96 blocks without a split).
struct KSplit {
  int64_t splits, stepsPerBlock;
};
KSplit splitOf(const Contraction &con, const Tiling &tiling) {
  int64_t tiles = tileGridOf(con, tiling).count() * con.batch;
  int64_t steps = llvm::divideCeil(con.k, tiling.tileK);
  int64_t wanted = blocksWanted(con.op);
  int64_t splits = 1;
  // Doubling stops within an eighth of the blocks wanted: a grid just
  // short of one full wave runs as one, where twice the blocks would run
  // as two, each block half as long, with twice the partial sums to add.
  while (8 * tiles * splits < 7 * wanted &&
         steps / (2 * splits) * tiling.tileK >= kMinKPerSplit &&
         2 * splits * con.batch <= kMaxGridY)
    splits *= 2;
  return {splits, static_cast<int64_t>(llvm::divideCeil(steps, splits))};
}

/// The tiling of `con`: kLargeTiles where `packed` operands allow and
/// either its large tiles fill the grid (blocksWanted) or, K split as
/// splitOf would split it, they give every multiprocessor a block (a
/// weight's gradient, X^T dY over 49152 tokens, reads each operand half as
/// often in 128 x 128 tiles as in 64 x 64 ones); kSmallTiles otherwise.
/// Large tiles are kWarpgroupTiles where `warpgroup`: the target has
/// wgmma and both operands are copied by cp.async.
Tiling tilingOf(const Contraction &con, bool packed, bool warpgroup) {
  const Tiling &t = warpgroup ? kWarpgroupTiles : kLargeTiles;
  const TileGrid grid = tileGridOf(con, t);
  if (!packed || con.m < t.tileM || con.n < t.tileN || grid.columns > kMaxGridY)
    return kSmallTiles;
  int64_t tiles = grid.count() * con.batch;
  if (tiles >= blocksWanted(con.op))
    return t;
  int64_t splits = splitOf(con, t).splits;
  return splits > 1 && tiles * splits >=
                           TargetAttr::lookup(con.op).getMultiprocessors()
             ? t
             : kSmallTiles;
}

/// The blocks of `con`'s launch where it is persistent, else 0. A
/// warpgroup product of one matrix, K not split, whose tiles are more
/// than one wave of the other form's blocks (blocksWanted) runs
/// kPersistentBlocksPerSM blocks a multiprocessor, each taking tile
/// blockIdx.x and every gridDim.x-th after it: the copies of a block's
/// next tile are then in flight while it stores this one, where a block
/// of the other form starts its copies only after its launch.
int64_t persistentBlocks(const Contraction &con, const Tiling &tiling,
                         const TileGrid &grid, const KSplit &split) {
  if (!tiling.warpgroup || split.splits > 1 || con.batchRank > 0)
    return 0;
  if (grid.count() <= blocksWanted(con.op))
    return 0;
  return kPersistentBlocksPerSM *
         TargetAttr::lookup(con.op).getMultiprocessors();
}

struct MatmulEmitter : ScalarEmitter {
  Value divi(Value a, int64_t c) {
    return arith::DivUIOp::create(b, loc, a, idx(c));
  }
  Value remi(Value a, int64_t c) {
    return arith::RemUIOp::create(b, loc, a, idx(c));
  }
  Value muli(Value a, int64_t c) {
    return arith::MulIOp::create(b, loc, a, idx(c));
  }
  Value ult(Value a, Value c) { return cmp(arith::CmpIPredicate::ult, a, c); }
  /// memref[row, col] as f32 where (row, col) lies inside it, else 0; with
  /// `width` > 1, the run memref[row, col : col + width] as a vector of
  /// memref's type, or zeros (`cols` a multiple of `width`, `col` of a run's
  /// start). The address clamped into the operand, the value selected.
  Value loadOrZero(Value memref, Value row, Value col, Value rows, Value cols,
                   int64_t width = 1) {
    Value inside = andi(ult(row, rows), ult(col, cols));
    Value r = arith::MinUIOp::create(b, loc, row, sub(rows, idx(1)));
    Value c = arith::MinUIOp::create(b, loc, col, sub(cols, idx(width)));
    if (width == 1)
      return select(inside, load(memref, {r, c}), cst(0.0));
    Type elem = cast<MemRefType>(memref.getType()).getElementType();
    auto type = VectorType::get({width}, elem);
    Value run = vector::LoadOp::create(
        b, loc, type, memref, ValueRange{r, c}, /*nontemporal=*/false,
        llvm::MaybeAlign(width * elem.getIntOrFloatBitWidth() / 8));
    return select(inside, run,
                  arith::ConstantOp::create(
                      b, loc, type,
                      DenseElementsAttr::get(type, b.getFloatAttr(elem, 0.0))));
  }
};

/// One operand tile staged through shared memory: `rows` x `cols` of
/// `src` from (row0, col0), in runs of `width` elements along a row (1, or
/// 8 16-bit elements: 16 bytes), each thread taking the runs at
/// (thread / runs + i * threads / runs, width * (thread % runs)), runs =
/// cols / width, of the block's `threads`. With `swizzled`, the shared
/// tile is that SwizzledTile (of `rows` x `cols`) seen as one dimension of
/// elements; else a [rows, cols + padding] memref.
struct Stage {
  Value src, dst, srcRows, srcCols;
  int64_t rows, cols, width, threads;
  std::optional<SwizzledTile> swizzled = std::nullopt;

  int64_t runs() const { return cols / width; }
  int64_t perThread() const { return rows * runs() / threads; }
  /// This thread's runs of the tile at (row0, col0), in registers: f32
  /// scalars, or vectors of `width` in `src`'s type (zeros past its end,
  /// which holds whole runs: srcCols % width == 0).
  SmallVector<Value> load(MatmulEmitter &e, Value thread, Value row0,
                          Value col0) const {
    Value r = e.divi(thread, runs()), c = e.muli(e.remi(thread, runs()), width);
    SmallVector<Value> v;
    for (int64_t i = 0; i < perThread(); ++i) {
      Value row = e.add(row0, e.add(r, i * threads / runs()));
      Value col = e.add(col0, c);
      v.push_back(e.loadOrZero(src, row, col, srcRows, srcCols, width));
    }
    return v;
  }
  /// Asynchronous copies (cp.async, 16 bytes, bypassing L1) of this
  /// thread's runs of the tile at (row0, col0) straight into `tile`, a
  /// shared tile like dst; runs past src's end are zero-filled (width
  /// > 1: whole runs).
  SmallVector<Value> copy(MatmulEmitter &e, Value thread, Value row0,
                          Value col0, Value tile) const {
    Value r = e.divi(thread, runs()), c = e.muli(e.remi(thread, runs()), width);
    auto token = nvgpu::DeviceAsyncTokenType::get(e.b.getContext());
    SmallVector<Value> copies;
    for (int64_t i = 0; i < perThread(); ++i) {
      Value rowInTile = e.add(r, i * threads / runs());
      Value row = e.add(row0, rowInTile), col = e.add(col0, c);
      Value inside = e.andi(e.ult(row, srcRows), e.ult(col, srcCols));
      Value from =
          arith::MinUIOp::create(e.b, e.loc, row, e.sub(srcRows, e.idx(1)));
      Value at =
          arith::MinUIOp::create(e.b, e.loc, col, e.sub(srcCols, e.idx(width)));
      copies.push_back(nvgpu::DeviceAsyncCopyOp::create(
          e.b, e.loc, token, tile, tileIndices(e, rowInTile, c), src,
          ValueRange{from, at}, e.b.getIndexAttr(width),
          e.select(inside, e.idx(width), e.idx(0)), e.b.getUnitAttr()));
    }
    return copies;
  }
  /// Where the run at (row, col) of the tile lies in the shared tile.
  SmallVector<Value, 2> tileIndices(MatmulEmitter &e, Value row,
                                    Value col) const {
    if (!swizzled)
      return {row, col};
    return {e.divi(swizzled->runOffset(e, row, col), 2)};
  }
  /// Stores them into the shared tile, in its element type.
  void store(MatmulEmitter &e, Value thread, ArrayRef<Value> v) const {
    assert(!swizzled && "swizzled tiles are filled by cp.async (copy)");
    Value r = e.divi(thread, runs()), c = e.muli(e.remi(thread, runs()), width);
    for (int64_t i = 0; i < perThread(); ++i) {
      Value row = e.add(r, i * threads / runs());
      if (width == 1)
        e.store(v[i], dst, ValueRange{row, c});
      else
        vector::StoreOp::create(e.b, e.loc, v[i], dst, ValueRange{row, c},
                                /*nontemporal=*/false, llvm::MaybeAlign(16));
    }
  }
};

/// Whether `memref`'s rows split into aligned runs of `length` elements:
/// its last dimension a multiple of `length`, and its rows held in such
/// runs (holdsRowsInRuns; buffers start at 256-byte multiples).
bool splitsIntoRuns(Value memref, int64_t length) {
  auto type = cast<MemRefType>(memref.getType());
  int64_t width = type.getShape().back();
  return !ShapedType::isDynamic(width) && width % length == 0 &&
         holdsRowsInRuns(type, length);
}

/// Whether a 16-bit `memref` (2-D, or [batch, R, C]) can be read in runs
/// of 8 elements (16 bytes).
bool readsInRuns(Value memref) { return splitsIntoRuns(memref, 8); }

/// What the consumer reads for a run of `n` columns of `row` from `col`:
/// each block argument's value at each column, C's left empty (its sums
/// are the accumulators). An input that the columns index along its last
/// dimension, in runs as long that start aligned, is read once as a vector
/// (a GELU derivative's pre-activation, a residual); one that does not
/// depend on the column (a bias by row) once; any other an element at a
/// time.
SmallVector<SmallVector<Value>> consumerInputs(MatmulEmitter &e,
                                               linalg::GenericOp consumer,
                                               Value c, int64_t n, Value row,
                                               Value col) {
  auto indices = [&](AffineMap map, Value colI) {
    Value ij[2] = {row, colI};
    SmallVector<Value> v;
    for (unsigned r = 0; r < map.getNumResults(); ++r)
      v.push_back(ij[map.getDimPosition(r)]);
    return v;
  };
  AffineExpr colDim = getAffineDimExpr(1, consumer.getContext());
  Block &body = consumer->getRegion(0).front();
  SmallVector<SmallVector<Value>> args(body.getNumArguments());
  for (OpOperand &operand : consumer->getOpOperands()) {
    BlockArgument arg = body.getArgument(operand.getOperandNumber());
    SmallVector<Value> &values = args[arg.getArgNumber()];
    Value v = operand.get();
    auto type = dyn_cast<MemRefType>(v.getType());
    AffineMap map = consumer.getMatchingIndexingMap(&operand);
    if (v == c || arg.use_empty())
      continue;
    if (!type) {
      values.assign(n, v); // a scalar
    } else if (!map.isFunctionOfDim(1)) {
      values.assign(n,
                    memref::LoadOp::create(e.b, e.loc, v, indices(map, col)));
    } else if (n > 1 && map.getResults().back() == colDim &&
               llvm::count(map.getResults(), colDim) == 1 &&
               splitsIntoRuns(v, n) &&
               knownMultiple(v, {}) % (n * elementBytes(v)) == 0) {
      Value run = vector::LoadOp::create(
          e.b, e.loc, VectorType::get({n}, type.getElementType()), v,
          indices(map, col), /*nontemporal=*/false,
          llvm::MaybeAlign(n * elementBytes(v)));
      for (int64_t i = 0; i < n; ++i)
        values.push_back(vector::ExtractOp::create(e.b, e.loc, run, i));
    } else {
      for (int64_t i = 0; i < n; ++i)
        values.push_back(memref::LoadOp::create(
            e.b, e.loc, v, indices(map, i == 0 ? col : e.add(col, i))));
    }
  }
  return args;
}

/// The consumer's payload at (row, col + i) for each of C's elements
/// `sums[i]`, its other inputs `inputs` (consumerInputs'): the values it
/// yields there, for each of its outputs (results[output][i]).
SmallVector<SmallVector<Value>>
consumerValues(MatmulEmitter &e, linalg::GenericOp consumer, Value c,
               ArrayRef<SmallVector<Value>> inputs, ArrayRef<Value> sums,
               Value row, Value col) {
  Block &body = consumer->getRegion(0).front();
  SmallVector<SmallVector<Value>> results(consumer.getNumDpsInits());
  for (auto [i, sum] : llvm::enumerate(sums)) {
    IRMapping mapping;
    for (OpOperand &operand : consumer->getOpOperands()) {
      BlockArgument arg = body.getArgument(operand.getOperandNumber());
      if (operand.get() == c)
        mapping.map(arg, sum);
      else if (!inputs[arg.getArgNumber()].empty())
        mapping.map(arg, inputs[arg.getArgNumber()][i]);
    }
    Value colI = i == 0 ? col : e.add(col, i);
    for (Operation &nested : body.without_terminator()) {
      if (auto index = dyn_cast<linalg::IndexOp>(nested)) {
        mapping.map(index.getResult(), index.getDim() == 0 ? row : colI);
        continue;
      }
      e.b.clone(nested, mapping);
    }
    for (auto [output, yielded] :
         llvm::enumerate(body.getTerminator()->getOperands()))
      results[output].push_back(mapping.lookupOrDefault(yielded));
  }
  return results;
}

/// Whether `memref`'s rows hold C's elements in aligned pairs: an
/// accumulator's two registers of one row (columns 2t, 2t + 1) then go
/// out as one store.
bool holdsPairs(Value memref) { return splitsIntoRuns(memref, 2); }

/// C += the sum of `partials` [parts, C's shape...] (a linalg.generic,
/// which attn-map-loops-to-gpu maps), the partials freed: after a split
/// kernel, its ranges' sums; after a kernel that took in a column sum, its
/// row tiles' sums into the sum's init.
void addPartials(OpBuilder &b, Location loc, Value partials, Value c) {
  MLIRContext *ctx = b.getContext();
  const unsigned rank = cast<MemRefType>(c.getType()).getRank();
  SmallVector<AffineExpr> out, in{getAffineDimExpr(rank, ctx)};
  for (unsigned d = 0; d < rank; ++d)
    out.push_back(getAffineDimExpr(d, ctx));
  llvm::append_range(in, out);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  iterators.push_back(utils::IteratorType::reduction);
  linalg::GenericOp::create(
      b, loc, TypeRange{}, ValueRange{partials}, ValueRange{c},
      ArrayRef<AffineMap>{AffineMap::get(rank + 1, 0, in, ctx),
                          AffineMap::get(rank + 1, 0, out, ctx)},
      iterators, [](OpBuilder &nb, Location l, ValueRange args) {
        linalg::YieldOp::create(
            nb, l, ValueRange{arith::AddFOp::create(nb, l, args[1], args[0])});
      });
  memref::DeallocOp::create(b, loc, partials);
}

/// `memref` [batch..., R, C] (contiguous) as [batch, R, C].
Value collapseBatch(OpBuilder &b, Location loc, Value memref,
                    unsigned batchRank) {
  ReassociationIndices batch;
  for (unsigned d = 0; d < batchRank; ++d)
    batch.push_back(d);
  return memref::CollapseShapeOp::create(
      b, loc, memref,
      SmallVector<ReassociationIndices>{batch, {batchRank}, {batchRank + 1}});
}

/// Matrix `z` of a [batch, R, C] memref, as [R, C].
Value matrixOf(OpBuilder &b, Location loc, Value memref, Value z) {
  auto type = cast<MemRefType>(memref.getType());
  SmallVector<OpFoldResult> offsets{z, b.getIndexAttr(0), b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes{b.getIndexAttr(1),
                                  b.getIndexAttr(type.getDimSize(1)),
                                  b.getIndexAttr(type.getDimSize(2))};
  SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
  auto result = memref::SubViewOp::inferRankReducedResultType(
      {type.getDimSize(1), type.getDimSize(2)}, type, offsets, sizes, strides);
  return memref::SubViewOp::create(b, loc, cast<MemRefType>(result), memref,
                                   offsets, sizes, strides);
}

/// One contraction as a tensor-core kernel, in named steps: the plan
/// (tiles, K's split, the fill and elementwise consumer the kernel takes
/// in), the launch over C's tiles, this lane's coordinates and the staging
/// buffers, the accumulators' initial values, the loop over K's steps (the
/// tiles copied kStages ahead by cp.async, or staged through registers one
/// step ahead), the epilogue's stores, and the replaced ops erased.
class ContractionLowering {
public:
  ContractionLowering(const Contraction &con,
                      const MatmulToTensorCoresOptions &options)
      : con(con), op(con.op), c(op.getDpsInits()[0]),
        aElem(cast<MemRefType>(con.a.memref.getType()).getElementType()),
        bElem(cast<MemRefType>(con.b.memref.getType()).getElementType()),
        aSmall(aElem.isF32()), bSmall(bElem.isF32()),
        // Both operands 16-bit of one type: m16n8k16 on tiles of that type.
        packed(aElem == bElem && (aElem.isBF16() || aElem.isF16())),
        // 16-bit operands whose rows hold whole 16-byte runs are read in
        // runs (a batch's matrices start at multiples of theirs; collapsing
        // its dimensions keeps that).
        runA(packed && readsInRuns(con.a.memref) ? 8 : 1),
        runB(packed && readsInRuns(con.b.memref) ? 8 : 1),
        // Both read in runs: copied by cp.async into kStages shared stages,
        // the copies of the steps ahead in flight while a step's products
        // run; otherwise staged through registers, one step ahead.
        async(runA == 8 && runB == 8),
        // wgmma reads both operands from shared memory, copied there by
        // cp.async.
        tiling(tilingOf(con, packed, async && hasWarpgroupMma(op))),
        grid(tileGridOf(con, tiling)), split(splitOf(con, tiling)),
        persistent(options.persistent
                       ? persistentBlocks(con, tiling, grid, split)
                       : 0),
        batched(con.batchRank > 0), opA(con.a), opB(con.b), aT(opA.transposed),
        bT(opB.transposed),
        // A split product leaves C's fill and consumer where they are: its
        // blocks hold partial sums, added into C after it. A batched one's
        // consumer stays too (the kernel's consumers are 2-D).
        fill(split.splits == 1
                 ? producerFill(op, {con.a.transpose, con.b.transpose})
                 : nullptr),
        consumer(split.splits == 1 && !batched ? elementwiseConsumer(op, fill)
                                               : nullptr),
        // A sum down the columns of the consumer's output comes in with it
        // where the epilogue reads the tile back by rows.
        columnSum(options.columnSums && consumer &&
                          throughShared(consumer.getDpsInits())
                      ? columnSumOf(consumer)
                      : ColumnSum{}),
        // With a consumer, the kernel runs where it did: its output may be
        // allocated after the product.
        b(consumer ? consumer.getOperation() : op.getOperation()),
        e{{b, op.getLoc()}} {}

  void run() {
    launchOverTiles();
    placeLaneAndStages();
    if (persistent) {
      persistentLoop();
    } else {
      acc = initialSums();
      // This block's steps of K: all of them, or its range's (past K the
      // operands read as zeros).
      kBase = e.muli(zRange, split.stepsPerBlock * tiling.tileK);
      ValueRange sums = async ? loopWithCopies() : loopThroughRegisters();
      storeTile(sums);
    }
    finishLaunch();
    eraseReplaced();
  }

private:
  /// The operands as the kernel indexes them ([batch, R, C] when batched,
  /// each block taking its matrix z), the partial sums' buffer of a split
  /// product, and the launch: row tiles on x, whose limit (2^31 - 1) no M
  /// reaches; column tiles on y (at most 65535: N up to 4M); K's ranges, or
  /// the batch's matrices, on z. The warpgroup tiles put the column tiles
  /// on x instead (where the row tiles fit y): the blocks that read one
  /// row tile of A run together, so A comes from memory once and from L2
  /// for the other column tiles, where row tiles first read all of A again
  /// for each column tile.
  void launchOverTiles() {
    a = opA.memref;
    bm = opB.memref;
    cm = c;
    if (batched) {
      a = collapseBatch(b, e.loc, a, con.batchRank);
      bm = collapseBatch(b, e.loc, bm, con.batchRank);
      cm = collapseBatch(b, e.loc, c, con.batchRank);
    }
    m = e.idx(con.m);
    k = e.idx(con.k);
    n = e.idx(con.n);
    Value one = e.idx(1);
    // C as the partial sums are added into it: [M, N], or [batch, M, N].
    cWhole = cm;
    if (split.splits > 1) {
      auto type = cast<MemRefType>(cm.getType());
      SmallVector<int64_t> shape{split.splits};
      llvm::append_range(shape, type.getShape());
      partials = memref::AllocOp::create(
          b, e.loc, MemRefType::get(shape, type.getElementType()));
    }
    f32 = b.getF32Type();
    if (columnSum)
      columnPartials = memref::AllocOp::create(
          b, e.loc, MemRefType::get({grid.rows, con.n}, f32));
    tileElem = packed ? aElem : f32;
    stages = async ? kStages : 1;
    columnsFirst = tiling.warpgroup && grid.rows <= kMaxGridY;
    if (persistent)
      launch = gpu::LaunchOp::create(b, e.loc, e.idx(persistent), one, one,
                                     e.idx(tiling.threads()), one, one);
    else
      launch = gpu::LaunchOp::create(
          b, e.loc, e.idx(columnsFirst ? grid.columns : grid.rows),
          e.idx(columnsFirst ? grid.rows : grid.columns),
          e.idx(con.batch * split.splits), e.idx(tiling.threads()), one, one);
    launch->setAttr(kKernelKindAttr, b.getStringAttr("tensor_core_matmul"));
    // The tiling counts on kBlocksPerSM blocks a multiprocessor (a
    // persistent product's, on kPersistentBlocksPerSM): the registers of a
    // thread must leave room for them.
    launch->setAttr(kMinBlocksPerSMAttr,
                    b.getI64IntegerAttr(persistent ? kPersistentBlocksPerSM
                                                   : kBlocksPerSM));
    b.setInsertionPointToStart(&launch.getBody().front());
    // Grid z: the matrix of a batch, then K's range within it.
    Value z = launch.getBlockIds().z;
    const bool ranges = split.splits > 1;
    zRange = !ranges ? e.idx(0) : batched ? e.remi(z, split.splits) : z;
    if (batched)
      zMatrix = ranges ? e.divi(z, split.splits) : z;
    if (batched) {
      a = matrixOf(b, e.loc, a, zMatrix);
      bm = matrixOf(b, e.loc, bm, zMatrix);
      cm = matrixOf(b, e.loc, cm, zMatrix);
    }
  }

  /// This lane's coordinates in C's tile, and the shared stages of A's and
  /// B's tiles: A [tileM, tileK] (or A^T [tileK, tileM]), B [tileK,
  /// tileN] (or B^T [tileN, tileK]); the wgmma form's swizzled, the
  /// others' padded. Fragments read a tile of K columns
  /// as A's are read and one of K rows as B's are: their pads.
  void placeLaneAndStages() {
    const int64_t padA = packed ? kPackedPadA : kPadA,
                  padB = packed ? kPackedPadB : kPadB;
    const int64_t elemBytes = tileElem.getIntOrFloatBitWidth() / 8;
    const int64_t tileK = tiling.tileK;
    if (tiling.warpgroup) {
      // Swizzled rows, unpadded: each tile as it lies in global memory;
      // K along its columns for A and B^T.
      swizzledA = aT ? SwizzledTile{tileK, tileM(), false}
                     : SwizzledTile{tileM(), tileK, true};
      swizzledB = bT ? SwizzledTile{tileN(), tileK, true}
                     : SwizzledTile{tileK, tileN(), false};
      shapeA = {swizzledA->bytes() / elemBytes};
      shapeB = {swizzledB->bytes() / elemBytes};
    } else {
      shapeA = aT ? SmallVector<int64_t, 2>{tileK, tileM() + padB}
                  : SmallVector<int64_t, 2>{tileM(), tileK + padA};
      shapeB = bT ? SmallVector<int64_t, 2>{tileN(), tileK + padA}
                  : SmallVector<int64_t, 2>{tileK, tileN() + padB};
    }
    bytesA = llvm::product_of(shapeA) * elemBytes;
    bytesB = llvm::product_of(shapeB) * elemBytes;

    thread = launch.getThreadIds().x;
    Value warp = e.divi(thread, kWarpLanes), lane = e.remi(thread, kWarpLanes);
    g = e.divi(lane, 4);
    t = e.remi(lane, 4);
    if (!persistent) {
      Value rowTile =
          columnsFirst ? launch.getBlockIds().y : launch.getBlockIds().x;
      Value colTile =
          columnsFirst ? launch.getBlockIds().x : launch.getBlockIds().y;
      m0 = e.muli(rowTile, tileM());
      n0 = e.muli(colTile, tileN());
    }
    wm = e.muli(e.divi(warp, tileN() / tiling.warpN), tiling.warpM);
    wn = e.muli(e.remi(warp, tileN() / tiling.warpN), tiling.warpN);
    if (tiling.warpgroup) {
      // Room to start the stages at the swizzle pattern's alignment,
      // wherever the buffers are placed.
      bufferA = allocateShared(launch, stages * bytesA + kSwizzledTileSlack);
      bufferB = allocateShared(launch, stages * bytesB + kSwizzledTileSlack);
      startA = alignmentPadding(e, sharedAddress(b, e.loc, bufferA));
      startB = alignmentPadding(e, sharedAddress(b, e.loc, bufferB));
    } else {
      bufferA = allocateShared(launch, stages * bytesA);
      bufferB = allocateShared(launch, stages * bytesB);
      startA = startB = e.idx(0);
    }
    // The register-staged form's one stage.
    sharedA = async ? Value() : tileA(e.idx(0));
    sharedB = async ? Value() : tileB(e.idx(0));
    // The mma.sync 16-bit form's fragment reader.
    if (packed && !tiling.warpgroup)
      warpEmitter.emplace(b, e.loc, tileElem);
    const int64_t threads = tiling.threads();
    stageA = aT ? Stage{a, sharedA, k, m, tileK, tileM(), runA, threads}
                : Stage{a, sharedA, m, k, tileM(), tileK, runA, threads};
    stageB = bT ? Stage{bm, sharedB, n, k, tileN(), tileK, runB, threads}
                : Stage{bm, sharedB, k, n, tileK, tileN(), runB, threads};
    stageA.swizzled = swizzledA;
    stageB.swizzled = swizzledB;
  }

  /// The first values of the tile's (m0, n0) accumulator tiles, row tile
  /// major, 4 registers each: C's fill, or zeros (a split product's
  /// partial sums), or C's elements.
  SmallVector<Value> initialSums() {
    Value filled;
    if (fill) {
      filled = fill.getInputs()[0];
      if (!filled.getType().isF32())
        filled = arith::ExtFOp::create(b, e.loc, f32, filled);
    }
    SmallVector<Value> sums;
    for (int64_t mt = 0; mt < tiling.rowTiles(); ++mt)
      for (int64_t nt = 0; nt < tiling.colTiles(); ++nt)
        for (int64_t r = 0; r < 4; ++r) {
          auto [row, col] = cIndex(mt, nt, r);
          sums.push_back(filled     ? filled
                         : partials ? e.cst(0.0)
                                    : e.loadOrZero(cm, row, col, m, n));
        }
    return sums;
  }

  /// The persistent form's one loop: the block's tiles (blockIdx.x, then
  /// every gridDim.x-th), their steps of K one sequence of steps pipelined
  /// as loopWithCopies' are, step s being tile s / steps's step s % steps.
  /// The copies of a tile's first steps are so in flight while the tile
  /// before it is stored: its epilogue runs in the loop, at the tile's last
  /// step, and its shared tile lies beside the stages (their live ranges
  /// overlap). The accumulators take the tile's first values at its first
  /// step.
  void persistentLoop() {
    const int64_t steps = split.stepsPerBlock;
    Value block = launch.getBlockIds().x;
    // block < persistent <= tiles: every block has a tile.
    Value ownTiles = arith::CeilDivUIOp::create(
        b, e.loc, e.sub(e.idx(grid.count()), block), e.idx(persistent));
    SmallVector<Value> zeros(tiling.rowTiles() * tiling.colTiles() * 4,
                             e.cst(0.0));
    auto loop = scf::ForOp::create(b, e.loc, e.idx(0), e.muli(ownTiles, steps),
                                   e.idx(1), zeros);
    CopyStage copies;
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value s = loop.getInductionVar();
      auto tileOfStep = [&] {
        return e.add(block, e.muli(e.divi(s, steps), persistent));
      };
      copies = emitCopyStage(
          b, e.loc, CopyScope::Block,
          [&] {
            auto [rowStart, colStart] = tileOrigin(tileOfStep());
            copyTiles(e.remi(s, stages), e.muli(e.remi(s, steps), tiling.tileK),
                      rowStart, colStart);
          },
          stages);
      std::tie(m0, n0) = tileOrigin(tileOfStep());
      Value step = e.remi(s, steps);
      auto first =
          scf::IfOp::create(b, e.loc, loop.getResultTypes(),
                            e.cmp(arith::CmpIPredicate::eq, step, e.idx(0)),
                            /*withElseRegion=*/true);
      {
        OpBuilder::InsertionGuard inner(b);
        b.setInsertionPointToStart(first.thenBlock());
        scf::YieldOp::create(b, e.loc, initialSums());
        b.setInsertionPointToStart(first.elseBlock());
        scf::YieldOp::create(b, e.loc, loop.getRegionIterArgs());
      }
      SmallVector<Value> sums(first.getResults());
      // wgmma reads the copies through the async proxy.
      fenceSharedForAsyncProxy(b, e.loc);
      warpgroupProducts(sums, e.remi(s, stages));
      e.ifThen(e.cmp(arith::CmpIPredicate::eq, step, e.idx(steps - 1)),
               [&] { storeTile(sums); });
      scf::YieldOp::create(b, e.loc, sums);
    }
    (void)pipelineCopies(loop, copies, CopyScope::Block);
  }

  /// Where linear tile `tile` (columns first: consecutive blocks take one
  /// row tile of A) starts in C: (row, column).
  std::pair<Value, Value> tileOrigin(Value tile) {
    return {e.muli(e.divi(tile, grid.columns), tileM()),
            e.muli(e.remi(tile, grid.columns), tileN())};
  }

  /// The steps of K with their tiles copied by cp.async, kStages - 1 steps
  /// ahead of the products (pipelineCopies); returns the sums.
  ValueRange loopWithCopies() {
    auto loop = scf::ForOp::create(b, e.loc, e.idx(0),
                                   e.idx(split.stepsPerBlock), e.idx(1), acc);
    CopyStage copies;
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value step = loop.getInductionVar();
      copies = emitCopyStage(
          b, e.loc, CopyScope::Block, [&] { copyStep(step); }, stages);
      SmallVector<Value> next(loop.getRegionIterArgs());
      Value stage = e.remi(step, stages);
      if (tiling.warpgroup) {
        // wgmma reads the copies through the async proxy.
        fenceSharedForAsyncProxy(b, e.loc);
        warpgroupProducts(next, stage);
      } else {
        gpu::BarrierOp::create(b, e.loc);
        packedProducts(next, tileA(stage), tileB(stage));
      }
      scf::YieldOp::create(b, e.loc, next);
    }
    // No copy outlives the block.
    FailureOr<scf::ForOp> pipelined =
        pipelineCopies(loop, copies, CopyScope::Block);
    return succeeded(pipelined) ? pipelined->getResults() : loop.getResults();
  }

  /// The steps of K with their tiles staged through registers: step i
  /// stages the tile loaded in step i - 1 and loads step i + 1's; returns
  /// the sums.
  ValueRange loopThroughRegisters() {
    SmallVector<Value> first = loadA(kBase);
    llvm::append_range(first, loadB(kBase));
    size_t perA = stageA.perThread();
    SmallVector<Value> init(first);
    llvm::append_range(init, acc);
    ValueRange results = e.loop(
        e.idx(0), e.idx(split.stepsPerBlock), init,
        [&](Value step, ValueRange args) {
          SmallVector<Value> loaded(args.take_front(first.size()));
          stageA.store(e, thread, ArrayRef<Value>(loaded).take_front(perA));
          stageB.store(e, thread, ArrayRef<Value>(loaded).drop_front(perA));
          gpu::BarrierOp::create(b, e.loc);
          SmallVector<Value> next = loadA(kOf(e.add(step, 1)));
          llvm::append_range(next, loadB(kOf(e.add(step, 1))));
          SmallVector<Value> sums(args.drop_front(first.size()));
          if (packed)
            packedProducts(sums, sharedA, sharedB);
          else
            tf32Products(sums);
          // Every warp is done with the stage before it is overwritten.
          gpu::BarrierOp::create(b, e.loc);
          SmallVector<Value> yielded(next);
          llvm::append_range(yielded, sums);
          return yielded;
        });
    return results.drop_front(first.size());
  }

  /// The epilogue of the tile at (m0, n0): C's elements (through the
  /// consumer, if any) into the consumer's outputs, the partial sums, or C
  /// -- straight from the accumulators (storeFromRegisters), or, for the
  /// warpgroup tiles whose destinations' rows hold 16-byte runs (of one
  /// element type), through shared memory (storeThroughShared).
  void storeTile(ValueRange sums) {
    SmallVector<Value> dsts;
    if (consumer)
      llvm::append_range(dsts, consumer.getDpsInits());
    else
      dsts.push_back(partials ? partials : cm);
    if (throughShared(dsts))
      storeThroughShared(sums, dsts, epilogueRun(dsts[0]));
    else
      storeFromRegisters(sums, dsts);
  }
  /// The elements of `dst` that the epilogue through shared memory stores
  /// at once: 16 bytes' worth.
  static int64_t epilogueRun(Value dst) {
    Type elem = cast<MemRefType>(dst.getType()).getElementType();
    return kEpilogueRunBytes * 8 / elem.getIntOrFloatBitWidth();
  }
  /// Whether the epilogue into `dsts` goes through shared memory: warpgroup
  /// tiles, destinations of one element type whose rows hold its runs.
  bool throughShared(ValueRange dsts) const {
    Type dstElem = cast<MemRefType>(dsts[0].getType()).getElementType();
    const int64_t run = epilogueRun(dsts[0]);
    return tiling.warpgroup && con.n % run == 0 &&
           llvm::all_of(dsts, [&](Value dst) {
             return cast<MemRefType>(dst.getType()).getElementType() ==
                        dstElem &&
                    splitsIntoRuns(dst, run);
           });
  }

  /// The launch's end; a split product's partial sums are then added into
  /// C.
  void finishLaunch() {
    gpu::TerminatorOp::create(b, e.loc);
    if (partials) {
      b.setInsertionPointAfter(launch);
      addPartials(b, e.loc, partials, cWhole);
    }
  }

  /// Each lane's registers r and r + 1 of a tile are one row's columns 2t
  /// and 2t + 1: one store of the pair where the destination holds pairs
  /// (an even n: the pair is inside wherever its first column is), else
  /// one each.
  void storeFromRegisters(ValueRange sums, ArrayRef<Value> dsts) {
    const int64_t perStore = llvm::all_of(dsts, holdsPairs) ? 2 : 1;
    const int64_t colTiles = tiling.colTiles();
    for (int64_t mt = 0; mt < tiling.rowTiles(); ++mt)
      for (int64_t nt = 0; nt < colTiles; ++nt)
        for (int64_t r = 0; r < 4; r += perStore) {
          // (Not a structured binding: lambdas capture those only in C++20.)
          std::pair<Value, Value> index = cIndex(mt, nt, r);
          Value row = index.first, col = index.second;
          ValueRange sum = sums.slice((mt * colTiles + nt) * 4 + r, perStore);
          ifInside(row, col, [&] {
            for (auto [dst, values] :
                 llvm::zip(dsts, resultsAt(sum, row, col))) {
              if (perStore == 1) {
                memref::StoreOp::create(b, e.loc, values[0], dst,
                                        dstIndices(row, col));
                continue;
              }
              Type dstElem = cast<MemRefType>(dst.getType()).getElementType();
              auto type = VectorType::get({2}, dstElem);
              vector::StoreOp::create(
                  b, e.loc,
                  vector::FromElementsOp::create(b, e.loc, type, values), dst,
                  dstIndices(row, col), /*nontemporal=*/false,
                  llvm::MaybeAlign(2 * dstElem.getIntOrFloatBitWidth() / 8));
            }
          });
        }
  }

  /// The block's C tile through shared memory: the accumulators written as
  /// f32 pairs into a [tileM, tileN + kEpiloguePad] tile (sharing the
  /// operand stages' space, a barrier apart, where the allocator finds
  /// their uses apart in time: not in the persistent loop), then read back
  /// by rows, each thread `run` consecutive columns
  /// (16 bytes of the destination's type), the consumer applied and the
  /// run stored as one vector: a warp writes whole rows, where the
  /// fragments' pairs wrote 8 rows of 16 bytes each.
  void storeThroughShared(ValueRange sums, ArrayRef<Value> dsts, int64_t run) {
    const int64_t pitch = tileN() + kEpiloguePad;
    Value buffer = allocateShared(launch, tileM() * pitch * 4);
    Value tile = sharedView(b, e.loc, buffer, {tileM(), pitch}, f32, e.idx(0));
    // Every warpgroup is done with the stages this tile may overlap.
    gpu::BarrierOp::create(b, e.loc);
    const int64_t colTiles = tiling.colTiles();
    auto pairType = VectorType::get({2}, f32);
    for (int64_t mt = 0; mt < tiling.rowTiles(); ++mt)
      for (int64_t nt = 0; nt < colTiles; ++nt)
        for (int64_t r = 0; r < 4; r += 2) {
          std::pair<Value, Value> local = cLocal(mt, nt, r);
          ValueRange sum = sums.slice((mt * colTiles + nt) * 4 + r, 2);
          vector::StoreOp::create(
              b, e.loc, vector::FromElementsOp::create(b, e.loc, pairType, sum),
              tile, ValueRange{local.first, local.second},
              /*nontemporal=*/false, llvm::MaybeAlign(8));
        }
    gpu::BarrierOp::create(b, e.loc);
    const int64_t runsPerRow = tileN() / run;
    const int64_t rowsPerPass = tiling.threads() / runsPerRow;
    Type dstElem = cast<MemRefType>(dsts[0].getType()).getElementType();
    auto runType = VectorType::get({run}, dstElem);
    Value firstRow = e.divi(thread, runsPerRow);
    Value localCol = e.muli(e.remi(thread, runsPerRow), run);
    Value col = e.add(n0, localCol);
    const int64_t passes = tileM() / rowsPerPass;
    auto localRowOf = [&](int64_t pass) {
      return e.add(firstRow, pass * rowsPerPass);
    };
    // Where every run is inside C, the consumer's inputs of every pass are
    // read before any pass stores: the compiler cannot tell the stores from
    // those reads, so a pass's loads would otherwise wait for the stores of
    // the one before, and the epilogue for one pass's loads at a time.
    SmallVector<SmallVector<SmallVector<Value>>> inputsOfPass;
    if (consumer && wholeTiles())
      for (int64_t pass = 0; pass < passes; ++pass)
        inputsOfPass.push_back(consumerInputs(
            e, consumer, c, run, e.add(m0, localRowOf(pass)), col));
    // The column sum's terms of this thread's runs, added up over its
    // passes (columnSum).
    SmallVector<Value> columnTerms;
    if (columnSum)
      columnTerms.assign(run, e.cst(0.0));
    for (int64_t pass = 0; pass < passes; ++pass) {
      Value localRow = localRowOf(pass);
      Value row = e.add(m0, localRow);
      Value sumsOfRun =
          vector::LoadOp::create(b, e.loc, VectorType::get({run}, f32), tile,
                                 ValueRange{localRow, localCol},
                                 /*nontemporal=*/false, llvm::MaybeAlign(16));
      // N is a multiple of the run: a run is inside or outside whole.
      columnTerms = ifInsideAdding(row, col, columnTerms, [&] {
        SmallVector<Value> sums;
        for (int64_t i = 0; i < run; ++i)
          sums.push_back(vector::ExtractOp::create(b, e.loc, sumsOfRun, i));
        SmallVector<SmallVector<Value>> values =
            inputsOfPass.empty()
                ? resultsAt(sums, row, col)
                : consumerValues(e, consumer, c, inputsOfPass[pass], sums, row,
                                 col);
        for (auto [dst, runValues] : llvm::zip(dsts, values))
          vector::StoreOp::create(
              b, e.loc,
              vector::FromElementsOp::create(b, e.loc, runType, runValues), dst,
              dstIndices(row, col), /*nontemporal=*/false,
              llvm::MaybeAlign(kEpilogueRunBytes));
        if (!columnSum)
          return SmallVector<Value>();
        return addColumnTerms(columnTerms, values[columnSum.output]);
      });
    }
    if (columnSum)
      storeColumnSums(columnTerms, firstRow, localCol, rowsPerPass, run);
  }

  /// `terms` with the column sum's terms of `values` (a run of its
  /// output) added: the reduce's body, init + g(in), for each.
  SmallVector<Value> addColumnTerms(ArrayRef<Value> terms,
                                    ArrayRef<Value> values) {
    Block &body = columnSum.reduce.getRegion().front();
    SmallVector<Value> next;
    for (auto [term, value] : llvm::zip(terms, values)) {
      IRMapping mapping;
      mapping.map(body.getArgument(0), value);
      mapping.map(body.getArgument(1), term);
      for (Operation &nested : body.without_terminator())
        b.clone(nested, mapping);
      next.push_back(mapping.lookup(body.getTerminator()->getOperand(0)));
    }
    return next;
  }

  /// The tile's column sums into row m0 / tileM of columnPartials: each
  /// thread's `run` terms (of its rows firstRow + i rowsPerPass, columns
  /// localCol..) into a shared [rowsPerPass, tileN] f32 table, then each
  /// of the first tileN threads adds up one column of it.
  void storeColumnSums(ArrayRef<Value> terms, Value firstRow, Value localCol,
                       int64_t rowsPerPass, int64_t run) {
    assert(tiling.threads() >= tileN() && "a thread a column");
    Value table =
        sharedView(b, e.loc, allocateShared(launch, rowsPerPass * tileN() * 4),
                   {rowsPerPass, tileN()}, f32, e.idx(0));
    vector::StoreOp::create(b, e.loc,
                            vector::FromElementsOp::create(
                                b, e.loc, VectorType::get({run}, f32), terms),
                            table, ValueRange{firstRow, localCol},
                            /*nontemporal=*/false, llvm::MaybeAlign(16));
    gpu::BarrierOp::create(b, e.loc);
    Value col = e.add(n0, thread);
    e.ifThen(e.andi(e.ult(thread, e.idx(tileN())), e.ult(col, n)), [&] {
      Value total = e.cst(0.0);
      for (int64_t r = 0; r < rowsPerPass; ++r)
        total = e.addf(total, e.load(table, ValueRange{e.idx(r), thread}));
      e.store(total, columnPartials, ValueRange{e.divi(m0, tileM()), col});
    });
  }

  /// `store()` where (row, col) lies inside C (whole tiles: always),
  /// returning `terms` as `store` updates them, or as they were where the
  /// run lies outside.
  SmallVector<Value> ifInsideAdding(Value row, Value col, ArrayRef<Value> terms,
                                    function_ref<SmallVector<Value>()> store) {
    if (terms.empty()) {
      ifInside(row, col, [&] { (void)store(); });
      return {};
    }
    if (wholeTiles())
      return store();
    auto inside = scf::IfOp::create(b, e.loc, TypeRange(ValueRange(terms)),
                                    e.andi(e.ult(row, m), e.ult(col, n)),
                                    /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(inside.thenBlock());
      SmallVector<Value> next = store();
      scf::YieldOp::create(b, e.loc, next);
      b.setInsertionPointToStart(inside.elseBlock());
      scf::YieldOp::create(b, e.loc, terms);
    }
    return inside.getResults();
  }

  /// The product, its operands' transposes, C's fill and consumer (and C,
  /// where no one reads it now) are replaced by the kernel.
  void eraseReplaced() {
    op->erase();
    eraseTranspose(opA);
    if (opB.transpose != opA.transpose) // A^T A^T reads one transpose twice
      eraseTranspose(opB);
    if (fill)
      fill->erase();
    if (columnSum) {
      // The column sum adds up the tiles' partial sums instead.
      linalg::ReduceOp reduce = columnSum.reduce;
      OpBuilder rb(reduce);
      addPartials(rb, reduce.getLoc(), columnPartials, reduce.getInits()[0]);
      reduce->erase();
    }
    if (consumer) {
      // C is written by no one now: its buffer goes with its frees.
      consumer->erase();
      Operation *alloc = c.getDefiningOp();
      for (Operation *user : llvm::make_early_inc_range(c.getUsers()))
        if (isa<memref::DeallocOp>(user))
          user->erase();
      if (c.use_empty())
        alloc->erase();
    }
  }

  // The pieces the steps share.

  int64_t tileM() const { return tiling.tileM; }
  int64_t tileN() const { return tiling.tileN; }
  /// The tiles of stage `stage` (a step's index modulo `stages`).
  Value tileA(Value stage) {
    return sharedView(b, e.loc, bufferA, shapeA, tileElem,
                      e.add(startA, e.muli(stage, bytesA)));
  }
  Value tileB(Value stage) {
    return sharedView(b, e.loc, bufferB, shapeB, tileElem,
                      e.add(startB, e.muli(stage, bytesB)));
  }
  /// Where the tiles at K's element `k0` of C's tile at (rowStart,
  /// colStart) start in A and B as they lie: (row, column).
  std::pair<Value, Value> originA(Value k0, Value rowStart) {
    return aT ? std::pair{k0, rowStart} : std::pair{rowStart, k0};
  }
  std::pair<Value, Value> originB(Value k0, Value colStart) {
    return bT ? std::pair{colStart, k0} : std::pair{k0, colStart};
  }
  SmallVector<Value> loadA(Value k0) {
    auto [row0, col0] = originA(k0, m0);
    return stageA.load(e, thread, row0, col0);
  }
  SmallVector<Value> loadB(Value k0) {
    auto [row0, col0] = originB(k0, n0);
    return stageB.load(e, thread, row0, col0);
  }
  /// Step j's first element of K.
  Value kOf(Value j) { return e.add(kBase, e.muli(j, tiling.tileK)); }
  /// Step j's copies of its tiles into stage j % stages.
  void copyStep(Value j) { copyTiles(e.remi(j, stages), kOf(j), m0, n0); }
  /// The copies into stage `stage` of the tiles at K's element `k0` of the
  /// tile of C at (rowStart, colStart).
  void copyTiles(Value stage, Value k0, Value rowStart, Value colStart) {
    auto [rowA, colA] = originA(k0, rowStart);
    auto [rowB, colB] = originB(k0, colStart);
    stageA.copy(e, thread, rowA, colA, tileA(stage));
    stageB.copy(e, thread, rowB, colB, tileB(stage));
  }
  /// This lane's elements of C: accumulator tile (mt, nt) holds rows
  /// m0 + wm + 16 mt + g (+ 8 for registers 2, 3) and columns
  /// n0 + wn + 8 nt + 2 t (+ 1 for registers 1, 3).
  std::pair<Value, Value> cIndex(int64_t mt, int64_t nt, int64_t r) {
    std::pair<Value, Value> local = cLocal(mt, nt, r);
    return std::pair{e.add(m0, local.first), e.add(n0, local.second)};
  }
  /// The same within the block's tile.
  std::pair<Value, Value> cLocal(int64_t mt, int64_t nt, int64_t r) {
    return fragmentPlace(MmaLayout::m16n8k8().c, r, wm, kMmaM * mt, wn,
                         kMmaN * nt);
  }
  /// Where this lane's element r of a fragment laid out as `f` (MmaLayout.h)
  /// lies when the fragment starts at (row0 + rowOffset, col0 + colOffset)
  /// (fragmentCoordinate); row0 or col0 left out where null.
  std::pair<Value, Value> fragmentPlace(const FragmentLayout &f, int64_t r,
                                        Value row0, int64_t rowOffset,
                                        Value col0, int64_t colOffset) {
    return {fragmentCoordinate(e, g, t, f.rowPerGroup, f.rowPerThread,
                               rowOffset + f.rowOf[r], row0),
            fragmentCoordinate(e, g, t, f.colPerGroup, f.colPerThread,
                               colOffset + f.colOf[r], col0)};
  }
  /// Where C's element (row, col) goes in the epilogue's destination.
  SmallVector<Value> dstIndices(Value row, Value col) {
    if (partials && batched)
      return {zRange, zMatrix, row, col};
    if (partials)
      return {zRange, row, col};
    return {row, col};
  }
  /// What the epilogue stores for C's elements (row, col + i) whose sums
  /// are `sums`, for each destination: the consumer's values for each of
  /// its outputs, or the sums.
  SmallVector<SmallVector<Value>> resultsAt(ValueRange sums, Value row,
                                            Value col) {
    SmallVector<Value> values(sums);
    if (!consumer)
      return {values};
    return consumerValues(
        e, consumer, c, consumerInputs(e, consumer, c, values.size(), row, col),
        values, row, col);
  }
  /// Whether the tiles divide M and N: every tile lies inside C whole.
  bool wholeTiles() const {
    return con.m % tileM() == 0 && con.n % tileN() == 0;
  }
  /// `store()` where (row, col) lies inside C; whole tiles need no check.
  void ifInside(Value row, Value col, function_ref<void()> store) {
    if (wholeTiles())
      store();
    else
      e.ifThen(e.andi(e.ult(row, m), e.ult(col, n)), store);
  }
  /// One step's products on the staged tiles, into `sums` (C's accumulator
  /// tiles, row tile major, 4 registers each): m16n8k16 on 16-bit tiles.
  void packedProducts(MutableArrayRef<Value> sums, Value tileOfA,
                      Value tileOfB) {
    WarpEmitter &w = *warpEmitter;
    const int64_t rowTiles = tiling.rowTiles(), colTiles = tiling.colTiles();
    SmallVector<SmallVector<Value, 4>> tiles;
    for (int64_t i = 0; i < rowTiles * colTiles; ++i)
      tiles.emplace_back(sums.begin() + 4 * i, sums.begin() + 4 * i + 4);
    for (int64_t kk = 0; kk < tiling.tileK; kk += w.layout.k) {
      SmallVector<SmallVector<Value, 4>> aFrags;
      for (int64_t mt = 0; mt < rowTiles; ++mt) {
        aFrags.push_back(w.aFragmentAt(tileOfA, TileOrigin(wm, w.layout.m * mt),
                                       kk, /*transposed=*/aT));
      }
      w.mmaSharedB(aFrags, tileOfB, kk, tiles, wn, /*nByK=*/bT);
    }
    for (auto [i, tile] : llvm::enumerate(tiles))
      llvm::copy(tile, sums.begin() + 4 * i);
  }
  /// One step's products by wgmma on stage `stage`'s swizzled tiles, into
  /// `sums`: this thread's warpgroup takes C's rows 64 w .. 64 w + 63 of
  /// the tile, all its columns, one m64n128k16 per 16 of K, issued
  /// together and waited for before the step ends (the next step's copies
  /// overwrite a stage only after a barrier).
  void warpgroupProducts(MutableArrayRef<Value> sums, Value stage) {
    Value baseA = sharedAddress(b, e.loc, tileA(stage));
    Value baseB = sharedAddress(b, e.loc, tileB(stage));
    Value rows = e.muli(e.divi(thread, kWarpgroupThreads), kWgmmaM);
    SmallVector<Value> acc = pinRegisters(b, e.loc, sums);
    warpgroupFence(b, e.loc);
    for (int64_t slice = 0; slice < tiling.tileK / kWgmmaK; ++slice)
      acc = warpgroupMma(b, e.loc, acc,
                         swizzledA->descriptor(e, baseA, rows, slice),
                         swizzledB->descriptor(e, baseB, e.idx(0), slice),
                         tileN(), tileElem, /*aMnMajor=*/aT,
                         /*bMnMajor=*/!bT);
    warpgroupCommitAndWait(b, e.loc, /*pending=*/0);
    llvm::copy(pinRegisters(b, e.loc, acc), sums.begin());
  }
  /// Element (row, col) of A's or B's tile, wherever it lies.
  Value tileAt(Value tile, bool transposed, Value row, Value col) {
    return memref::LoadOp::create(b, e.loc, tile,
                                  transposed ? ValueRange{col, row}
                                             : ValueRange{row, col});
  }
  /// One step's products in 3xTF32 (f32 operands) on the register-staged
  /// tiles, into `sums`.
  void tf32Products(MutableArrayRef<Value> sums) {
    const MmaLayout &mma = MmaLayout::m16n8k8();
    const int64_t rowTiles = tiling.rowTiles(), colTiles = tiling.colTiles();
    auto fragment = [&](const FragmentLayout &f, Value tile, bool transposed,
                        Value row0, int64_t rowOffset, Value col0,
                        int64_t colOffset) {
      SmallVector<Value, 4> x;
      for (int64_t r = 0; r < f.numElements(); ++r) {
        auto [row, col] = fragmentPlace(f, r, row0, rowOffset, col0, colOffset);
        x.push_back(tileAt(tile, transposed, row, col));
      }
      return x;
    };
    for (int64_t kk = 0; kk < tiling.tileK; kk += mma.k) {
      SmallVector<Tf32Fragment> aParts;
      for (int64_t mt = 0; mt < rowTiles; ++mt)
        aParts.push_back(splitTf32(
            e, fragment(mma.a, sharedA, aT, wm, mma.m * mt, Value(), kk),
            aSmall));
      for (int64_t nt = 0; nt < colTiles; ++nt) {
        SmallVector<Value, 4> x =
            fragment(mma.b, sharedB, bT, Value(), kk, wn, mma.n * nt);
        Tf32Fragment bParts = splitTf32(e, x, bSmall);
        for (int64_t mt = 0; mt < rowTiles; ++mt) {
          MutableArrayRef<Value> tile(&sums[(mt * colTiles + nt) * 4], 4);
          llvm::copy(mma3xTf32(b, e.loc, aParts[mt], bParts,
                               SmallVector<Value>(tile.begin(), tile.end())),
                     tile.begin());
        }
      }
    }
  }

  // The plan.
  const Contraction &con;
  linalg::LinalgOp op;
  Value c;
  Type aElem, bElem;
  const bool aSmall, bSmall, packed;
  const int64_t runA, runB;
  const bool async;
  const Tiling tiling;
  /// C's tiles (a matrix's, where batched).
  const TileGrid grid;
  const KSplit split;
  /// The blocks of a persistent launch; 0: not persistent.
  const int64_t persistent;
  const bool batched;
  /// A^T or B^T: [K, M] and [N, K].
  const Operand &opA, &opB;
  const bool aT, bT;
  linalg::FillOp fill;
  linalg::GenericOp consumer;
  ColumnSum columnSum;
  OpBuilder b;
  MatmulEmitter e;
  // launchOverTiles
  Value a, bm, cm, cWhole, m, k, n, partials, zRange, zMatrix;
  /// The column sum's partial sums, a row a row tile of C.
  Value columnPartials;
  Type f32, tileElem;
  int64_t stages = 1;
  bool columnsFirst = false;
  gpu::LaunchOp launch;
  // placeLaneAndStages
  SmallVector<int64_t, 2> shapeA, shapeB;
  int64_t bytesA = 0, bytesB = 0;
  Value thread, g, t, m0, n0, wm, wn, bufferA, bufferB, sharedA, sharedB;
  /// Where the stages start in bufferA and bufferB.
  Value startA, startB;
  /// The wgmma form's tiles.
  std::optional<SwizzledTile> swizzledA, swizzledB;
  std::optional<WarpEmitter> warpEmitter;
  Stage stageA, stageB;
  // The non-persistent form's accumulators' first values.
  SmallVector<Value> acc;
  Value kBase;
};

struct MatmulToTensorCoresPass
    : public mlir::attn::impl::MatmulToTensorCoresBase<
          MatmulToTensorCoresPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<Contraction> contractions;
    getOperation().walk([&](linalg::LinalgOp op) {
      if (std::optional<Contraction> con = matchContraction(op))
        contractions.push_back(*con);
    });
    for (const Contraction &con : contractions)
      ContractionLowering(con, {persistent, columnSums}).run();
  }
};

} // namespace

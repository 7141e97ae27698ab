//===- FuseElementwise.cpp - chains of elementwise ops as one -------------===//
//
// Each elementwise op of an encoder (a dropout, a residual add, a GELU and
// its derivative, a cast) is a pass over memory of its own as
// attn-convert-encoder-to-linalg and attn-tile leave them; a chain of them
// reads and writes every intermediate. This pass makes each chain one
// linalg.generic, so that lowering gives it one kernel (or none, where it
// starts at a product's bias: attn-matmul-to-tensor-cores runs an
// elementwise consumer of C in the product's epilogue).
//
// Three kinds of rewrite, applied together to a fixed point:
// - elementwise named ops (linalg.add, ...) become linalg.generic, the form
//   linalg's fusion takes, and so do transposes that only elementwise ops
//   read (linear attention's gradient widening the heads' split to f32);
// - a reshape between two elementwise ops -- the encoder's [B, N, C] views
//   of a product's [B x N, C] -- moves past the op after it, whose
//   dimensions collapse to the reshape's source (linalg's folding of
//   reshapes by collapsing), so that the two meet;
// - a producer read only by its consumer is fused into it (linalg's
//   elementwise fusion); a product's epilogue op read by others too joins
//   an elementwise consumer as one op with both results.
// Then each product that one elementwise op alone reads is placed just
// before it, where the product's kernel can take it in.
//
// Every rewrite is limited to all-parallel ops and to operands read element
// for element: a reduction or a contraction keeps the form the conversions
// match, and a producer read broadcast (one element for many of the
// consumer) would be computed again for each of them. A fused op reads at
// most one product's result, the one whose epilogue it can be.
//
//===----------------------------------------------------------------------===//

#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::attn {
#define GEN_PASS_DEF_FUSEELEMENTWISE
#include "attn/Transforms/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {
bool allParallel(linalg::LinalgOp op) {
  return op.getNumLoops() == op.getNumParallelLoops();
}

/// A named op that computes each element of its output from the same
/// element of each input (linalg.add, linalg.mul, ...): identity maps
/// throughout, no loop but parallel ones.
bool isElementwiseNamedOp(linalg::LinalgOp op) {
  if (isa<linalg::GenericOp>(op) || !allParallel(op) ||
      !op.hasPureTensorSemantics() || op->getNumRegions() != 1)
    return false;
  return llvm::all_of(op.getIndexingMapsArray(),
                      [](AffineMap map) { return map.isIdentity(); });
}

/// A transpose that only all-parallel generics read: as a generic, its
/// readers take it in (each reads the transpose's input through a permuted
/// map). Transposes a product or a kernel reads stay: those read the
/// input as it lies themselves.
bool isTransposeOfElementwiseOps(linalg::LinalgOp op) {
  auto transpose = dyn_cast<linalg::TransposeOp>(op.getOperation());
  return transpose && transpose.hasPureTensorSemantics() &&
         llvm::all_of(transpose->getUsers(), [](Operation *user) {
           auto generic = dyn_cast<linalg::GenericOp>(user);
           return generic && allParallel(generic);
         });
}

struct GeneralizeElementwiseNamedOp
    : public OpInterfaceRewritePattern<linalg::LinalgOp> {
  using OpInterfaceRewritePattern::OpInterfaceRewritePattern;
  LogicalResult matchAndRewrite(linalg::LinalgOp op,
                                PatternRewriter &rewriter) const override {
    if (!isElementwiseNamedOp(op) && !isTransposeOfElementwiseOps(op))
      return failure();
    return linalg::generalizeNamedOp(rewriter, op);
  }
};

/// How many of `op`'s inputs are a product's result (a contraction's C).
unsigned productsRead(linalg::GenericOp op) {
  return llvm::count_if(op.getDpsInputs(), [](Value v) {
    auto def = v.getDefiningOp<linalg::LinalgOp>();
    return def && linalg::isaContractionOpInterface(def);
  });
}

/// The producer's result is read once, by an all-parallel consumer, element
/// for element, and the two together read at most one product's result.
/// A product hands C to one elementwise consumer in registers
/// (attn-matmul-to-tensor-cores); an op reading two products' results
/// would have both write C to memory in f32 -- the input gradients' sum of
/// three products, fused, read 150 MB of f32 where the three epilogues'
/// bf16 sums move 50 MB each.
bool fusesIntoConsumer(OpOperand *operand) {
  auto producer = operand->get().getDefiningOp<linalg::GenericOp>();
  auto consumer = dyn_cast<linalg::GenericOp>(operand->getOwner());
  if (!producer || !consumer || !allParallel(producer) ||
      !allParallel(consumer) || producer->getNumResults() != 1 ||
      !operand->get().hasOneUse() ||
      productsRead(producer) + productsRead(consumer) > 1)
    return false;
  return consumer.getMatchingIndexingMap(operand).isPermutation();
}

/// A product's epilogue op whose result others read too (the FFN's bias,
/// whose output the GELU reads and the backward keeps): fused into an
/// elementwise consumer that reads no product, as one op with both results
/// -- the consumer's, and the epilogue op's for its other readers, which
/// must all come after the consumer. The product's kernel then writes both
/// from its accumulators, and the consumer no longer reads the epilogue
/// op's output back.
struct FuseEpilogueKeepingItsResult
    : public OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(linalg::GenericOp consumer,
                                PatternRewriter &rewriter) const override {
    if (!allParallel(consumer) || productsRead(consumer) != 0)
      return failure();
    for (OpOperand *operand : consumer.getDpsInputOperands()) {
      auto producer = operand->get().getDefiningOp<linalg::GenericOp>();
      if (!producer || !allParallel(producer) ||
          producer->getNumResults() != 1 || productsRead(producer) != 1 ||
          operand->get().hasOneUse() ||
          !consumer.getMatchingIndexingMap(operand).isPermutation() ||
          !linalg::areElementwiseOpsFusable(operand) ||
          !llvm::all_of(operand->get().getUsers(), [&](Operation *user) {
            return user == consumer.getOperation() ||
                   (user->getBlock() == consumer->getBlock() &&
                    consumer->isBeforeInBlock(user));
          }))
        continue;
      FailureOr<linalg::ElementwiseOpFusionResult> fused =
          linalg::fuseElementwiseOps(rewriter, operand);
      if (failed(fused))
        return failure();
      for (auto [original, replacement] : fused->replacements)
        rewriter.replaceAllUsesWith(original, replacement);
      rewriter.eraseOp(consumer);
      rewriter.eraseOp(producer);
      return success();
    }
    return failure();
  }
};

/// A reshape moves past an all-parallel generic: the generic reading the
/// expanded value (`operand` its operand), or producing the collapsed one
/// (`operand` the collapse's).
bool foldsReshape(OpOperand *operand) {
  auto generic = dyn_cast<linalg::GenericOp>(operand->getOwner());
  if (!generic)
    generic = operand->get().getDefiningOp<linalg::GenericOp>();
  return generic && allParallel(generic);
}

/// Each product whose result one elementwise op alone reads moves to just
/// before that op: attn-matmul-to-tensor-cores runs such an op in the
/// product's epilogue only where nothing stands between them (a GELU's
/// derivative came after the weight gradient's product that the backward
/// puts between them, and the product wrote 200 MB of f32). What only the
/// product reads and the kernel takes in, likewise only where nothing
/// writes memory in between -- C's fill, an operand's transpose -- moves
/// with it. Moving a tensor op later past ops that do not use it changes
/// nothing else: its operands are defined before it already.
void placeProductsBeforeConsumers(func::FuncOp func) {
  SmallVector<std::pair<linalg::LinalgOp, linalg::GenericOp>> moves;
  func.walk([&](linalg::LinalgOp op) {
    if (!linalg::isaContractionOpInterface(op) || op->getNumResults() != 1 ||
        !op->getResult(0).hasOneUse())
      return;
    auto consumer =
        dyn_cast<linalg::GenericOp>(*op->getResult(0).getUsers().begin());
    if (consumer && allParallel(consumer) &&
        consumer->getBlock() == op->getBlock())
      moves.emplace_back(op, consumer);
  });
  for (auto [product, consumer] : moves) {
    product->moveBefore(consumer);
    for (Value operand : product->getOperands()) {
      Operation *def = operand.getDefiningOp();
      if (def && isa<linalg::FillOp, linalg::TransposeOp>(def) &&
          def->hasOneUse() && def->getBlock() == product->getBlock())
        def->moveBefore(product);
    }
  }
}

struct FuseElementwisePass
    : public mlir::attn::impl::FuseElementwiseBase<FuseElementwisePass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    patterns.add<GeneralizeElementwiseNamedOp, FuseEpilogueKeepingItsResult>(
        ctx);
    linalg::populateFoldReshapeOpsByCollapsingPatterns(patterns, foldsReshape);
    linalg::populateElementwiseOpsFusionPatterns(patterns, fusesIntoConsumer);
    tensor::CollapseShapeOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::ExpandShapeOp::getCanonicalizationPatterns(patterns, ctx);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) {
      getOperation().emitError("attn-fuse-elementwise: the fusions did not "
                               "reach a fixed point");
      return signalPassFailure();
    }
    placeProductsBeforeConsumers(getOperation());
  }
};
} // namespace

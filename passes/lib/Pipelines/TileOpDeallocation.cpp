//===- TileOpDeallocation.cpp - tile ops under buffer deallocation ------===//
//
// Ownership-based buffer deallocation runs between bufferization and the
// tile ops' lowering. It refuses ops with more than one region unless they
// describe their control flow (RegionBranchOpInterface); the softmax tile
// ops' regions (the mask's predicate, the score region) are not control
// flow but descriptions of a pair's computation, cloned by the lowering.
// The ops take buffers, allocate none and return none, so deallocation has
// nothing to do for them: their model says so.
//
//===----------------------------------------------------------------------===//

#include "attn/IR/AttnOps.h"
#include "attn/Pipelines/Pipelines.h"

#include "mlir/Dialect/Bufferization/IR/BufferDeallocationOpInterface.h"

using namespace mlir;
using namespace mlir::attn;

namespace {
template <typename TileOp>
struct TileOpDeallocation
    : public bufferization::BufferDeallocationOpInterface::ExternalModel<
          TileOpDeallocation<TileOp>, TileOp> {
  FailureOr<Operation *>
  process(Operation *op, bufferization::DeallocationState &,
          const bufferization::DeallocationOptions &) const {
    return op;
  }
};
} // namespace

void mlir::attn::registerTileOpDeallocationModels(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, AttnDialect *) {
    SoftmaxStepOp::attachInterface<TileOpDeallocation<SoftmaxStepOp>>(*ctx);
    SoftmaxGradStepOp::attachInterface<TileOpDeallocation<SoftmaxGradStepOp>>(
        *ctx);
  });
}

//===- PipelineCopiesTest.cpp - the copy-stage pipeline on its own
//---------===//
//
// emitCopyStage and pipelineCopies (StageBlockTiles.cpp) split a loop that
// is written unpipelined -- its copy stage, then the work on the copies --
// so that the copies run `stages` - 1 iterations ahead. Here a loop with a
// dynamic trip count and a carried value is built, pipelined for two and
// three stages, and the result's shape checked: the prologue's copy
// stages, the wait that leaves the iterations ahead in flight, the copies
// predicated in the loop, nothing in flight after it, and the loop's
// result in place of the old one's.
//
//===----------------------------------------------------------------------===//

#include "FoldedIR.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_tiles;

namespace {

struct Pipelined {
  int64_t prologueStages = 0; // copy stages (scf.if) before the loop
  int64_t loopWaitGroups = -1;
  bool loopCopiesPredicated = false;
  bool drainedAfter = false; // wait(0), then the barrier
  bool resultReplaced = false;
};

Pipelined pipelineALoop(int64_t stages, CopyScope scope) {
  Scratch ir;
  ir.ctx.loadDialect<scf::SCFDialect, gpu::GPUDialect, nvgpu::NVGPUDialect,
                     NVVM::NVVMDialect, memref::MemRefDialect>();
  OpBuilder &b = ir.b;
  Location loc = ir.loc;
  Type index = b.getIndexType();
  auto fn =
      func::FuncOp::create(b, loc, "f", b.getFunctionType({index}, {index}));
  b.setInsertionPointToStart(fn.addEntryBlock());
  ScalarEmitter e{b, loc};
  Value ub = fn.getArgument(0);
  auto loop =
      scf::ForOp::create(b, loc, e.idx(0), ub, e.idx(1), ValueRange{e.idx(0)});
  CopyStage copies;
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    // The copies: any ops; a barrier stands for them.
    copies = emitCopyStage(
        b, loc, scope, [&] { gpu::BarrierOp::create(b, loc); }, stages);
    synchronize(b, loc, scope);
    Value next = arith::AddIOp::create(b, loc, loop.getRegionIterArgs()[0],
                                       loop.getInductionVar());
    scf::YieldOp::create(b, loc, next);
  }
  func::ReturnOp::create(b, loc, loop.getResults());

  FailureOr<scf::ForOp> pipelined = pipelineCopies(loop, copies, scope);
  EXPECT_TRUE(succeeded(pipelined));
  Pipelined p;
  if (failed(pipelined))
    return p;
  Block &body = fn.getBody().front();
  for (Operation &op : body) {
    if (&op == pipelined->getOperation())
      break;
    p.prologueStages += isa<scf::IfOp>(op);
  }
  for (Operation &op : pipelined->getBody()->without_terminator()) {
    if (auto wait = dyn_cast<nvgpu::DeviceAsyncWaitOp>(op))
      p.loopWaitGroups = wait.getNumGroups().value_or(-1);
    if (auto copyIf = dyn_cast<scf::IfOp>(op))
      p.loopCopiesPredicated =
          copyIf.getCondition().getDefiningOp<arith::AndIOp>() != nullptr;
  }
  auto wait = dyn_cast<nvgpu::DeviceAsyncWaitOp>(
      pipelined->getOperation()->getNextNode()->getNextNode());
  Operation *sync = wait ? wait->getNextNode() : nullptr;
  if (scope == CopyScope::Warp && sync && isa<arith::ConstantOp>(sync))
    sync = sync->getNextNode();
  p.drainedAfter = wait && wait.getNumGroups() == 0 && sync &&
                   (scope == CopyScope::Block ? isa<gpu::BarrierOp>(sync)
                                              : isa<NVVM::SyncWarpOp>(sync));
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  p.resultReplaced =
      ret.getOperand(0).getDefiningOp() == pipelined->getOperation();
  return p;
}

TEST(PipelineCopies, TwoStagesForTheBlock) {
  Pipelined p = pipelineALoop(2, CopyScope::Block);
  EXPECT_EQ(p.prologueStages, 1);
  EXPECT_EQ(p.loopWaitGroups, 1);
  EXPECT_TRUE(p.loopCopiesPredicated);
  EXPECT_TRUE(p.drainedAfter);
  EXPECT_TRUE(p.resultReplaced);
}

TEST(PipelineCopies, ThreeStagesForAWarp) {
  Pipelined p = pipelineALoop(3, CopyScope::Warp);
  EXPECT_EQ(p.prologueStages, 2);
  EXPECT_EQ(p.loopWaitGroups, 2);
  EXPECT_TRUE(p.loopCopiesPredicated);
  EXPECT_TRUE(p.drainedAfter);
  EXPECT_TRUE(p.resultReplaced);
}

} // namespace

//===- ExpandBf16Conversions.cpp - bf16 casts as integer arithmetic -------===//
//
// On an x86 CPU without BF16 instructions (no AVX512-BF16) LLVM lowers a
// float -> bfloat truncation, and the rounding of bf16 arithmetic it does
// in f32 (an `fadd bfloat`: a bf16 model's sums), to calls of
// __truncsfbf2, which GCC 12's libgcc -- Debian 12's -- does not have: a
// CPU library of a bf16 model compiled on such a machine could not be
// loaded. Here bf16 arithmetic becomes f32 arithmetic between explicit
// casts (upstream's float emulation), and every cast integer arithmetic
// (upstream's bf16 expansion: round to nearest even, a NaN kept a quiet
// NaN): no runtime support needed, the same bits on every CPU.
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Transforms/DialectConversion.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::attn {
#define GEN_PASS_DEF_EXPANDBF16CONVERSIONS
#include "attn/Conversion/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {
struct ExpandBf16ConversionsPass
    : public mlir::attn::impl::ExpandBf16ConversionsBase<
          ExpandBf16ConversionsPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    // bf16 arithmetic as f32 arithmetic between casts.
    TypeConverter converter;
    arith::populateEmulateUnsupportedFloatsConversions(
        converter, {BFloat16Type::get(ctx)}, Float32Type::get(ctx));
    RewritePatternSet emulate(ctx);
    arith::populateEmulateUnsupportedFloatsPatterns(emulate, converter);
    ConversionTarget target(*ctx);
    arith::populateEmulateUnsupportedFloatsLegality(target, converter);
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    if (failed(
            applyPartialConversion(getOperation(), target, std::move(emulate))))
      return signalPassFailure();
    // The casts as integer arithmetic.
    RewritePatternSet patterns(ctx);
    arith::populateExpandBFloat16Patterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

//===- FuzzIR.cpp - libFuzzer target: attn IR through --lower-to-cpu -----===//
//
// Parses arbitrary text as a module, verifies it, and lowers what verifies
// through the CPU pipeline (attn-schedule-blocks, attn-tile, ... down to the
// LLVM dialect). Diagnostics are expected and swallowed; a crash, a trap or
// a sanitizer report is a finding. run-fuzzers.sh compiles the dialect and
// the passes with this target's coverage instrumentation.
//
//===----------------------------------------------------------------------===//

#include "attn/IR/AttnDialect.h"
#include "attn/Pipelines/Pipelines.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <cstdint>
#include <string>

using namespace mlir;

namespace {
const DialectRegistry &registry() {
  static DialectRegistry *r = [] {
    auto *registry = new DialectRegistry();
    registerAllDialects(*registry);
    registerAllExtensions(*registry);
    registry->insert<attn::AttnDialect>();
    return registry;
  }();
  return *r;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // Dialects load as the parser and the passes need them: loading all of
  // them for every input cost ~25 ms, most of an execution.
  MLIRContext context(registry(), MLIRContext::Threading::DISABLED);
  ScopedDiagnosticHandler quiet(&context,
                                [](Diagnostic &) { return success(); });
  // A copy with a terminating NUL, as every tool's buffer (a file's) has:
  // the lexer reads the terminator past the text, so parsing libFuzzer's
  // unterminated bytes in place reads past them (ASan: the input "f").
  std::string text(reinterpret_cast<const char *>(data), size);
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(text, ParserConfig(&context));
  if (!module)
    return 0;
  PassManager pm(&context);
  attn::CPUPipelineOptions options;
  attn::buildLowerToCPUPipeline(pm, options);
  (void)pm.run(*module);
  return 0;
}

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

#include <cctype>
#include <cstdint>
#include <string>

using namespace mlir;

namespace {
const DialectRegistry &registry() {
  static DialectRegistry *r = [] {
    auto *registry = new DialectRegistry();
    registerAllDialects(*registry);
    registerAllExtensions(*registry);
    attn::registerAttnDialectExtensions(*registry);
    return registry;
  }();
  return *r;
}
/// Whether `text` has a linalg.reduce / transpose / broadcast whose
/// `dimensions` or `permutation` list is not a list of integers: MLIR 22's
/// parsers of these upstream ops crash on one (SIGSEGV in
/// NamedAttrList::set after the list fails to parse; mlir-opt itself does,
/// test/fuzz/upstream/README.md). Skipped, so that the fuzzer looks for
/// attn's own faults.
bool hasUpstreamCrashingList(const std::string &text) {
  for (const char *op : {"linalg.reduce", "linalg.transpose",
                         "linalg.broadcast"}) {
    for (size_t at = text.find(op); at != std::string::npos;
         at = text.find(op, at + 1)) {
      size_t open = text.find('[', at);
      size_t line = text.find('\n', at);
      if (open == std::string::npos || open > line)
        continue; // the list is on the op's own line, or absent
      size_t close = text.find(']', open);
      if (close == std::string::npos || close > line)
        return true;
      std::string list = text.substr(open + 1, close - open - 1);
      for (char c : list)
        if (!std::isdigit(static_cast<unsigned char>(c)) && c != ',' &&
            c != ' ' && c != '-')
          return true;
    }
  }
  return false;
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
  if (hasUpstreamCrashingList(text))
    return 0;
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

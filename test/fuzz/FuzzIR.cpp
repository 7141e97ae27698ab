//===- FuzzIR.cpp - libFuzzer target: attn IR through a lowering ---------===//
//
// Parses arbitrary text as a module, verifies it, and lowers what verifies
// through the CPU pipeline (attn-schedule-blocks, attn-tile, ... down to the
// LLVM dialect) or, with ATTN_FUZZ_PIPELINE=gpu, the GPU pipeline (the
// kernels' tile conversions, staging, warp specialisation, ... down to
// host LLVM and the kernels as LLVM bitcode: format=llvm, no ptxas), its
// options drawn from the input's bytes.
// Diagnostics are expected and swallowed; a crash, a trap or a sanitizer
// report is a finding. The build (test/fuzz/CMakeLists.txt) compiles the
// dialect and the passes with this target's coverage instrumentation.
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
#include "mlir/Target/LLVMIR/Dialect/All.h"

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

using namespace mlir;

namespace {
const DialectRegistry &registry() {
  static DialectRegistry *r = [] {
    auto *registry = new DialectRegistry();
    registerAllDialects(*registry);
    registerAllExtensions(*registry);
    attn::registerAttnDialectExtensions(*registry);
    // The kernels' translation to LLVM IR (the GPU pipeline's last step).
    registerAllToLLVMIRTranslations(*registry);
    return registry;
  }();
  return *r;
}

/// Whether inputs go through --lower-to-gpu (ATTN_FUZZ_PIPELINE=gpu)
/// rather than --lower-to-cpu; read once.
bool lowersForGpu() {
  static const bool gpu = [] {
    const char *pipeline = std::getenv("ATTN_FUZZ_PIPELINE");
    return pipeline && std::string(pipeline) == "gpu";
  }();
  return gpu;
}

/// The first position at or after `i` that is not white space.
size_t skipSpace(const std::string &text, size_t i) {
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])))
    ++i;
  return i;
}

/// Whether `text` holds, from the `[` at `open`, a list the parsers read
/// whole: `[` integers separated by commas `]`, white space anywhere between
/// them, each integer an optional `-` and at most 18 digits (one that does
/// not fit in 64 bits fails too). Characters alone do not say it: `[ ,1, 0]`
/// fails to parse (and crashed; test/fuzz/upstream/README.md).
bool isIntegerList(const std::string &text, size_t open) {
  size_t i = skipSpace(text, open + 1);
  if (i < text.size() && text[i] == ']')
    return true;
  while (true) {
    if (i < text.size() && text[i] == '-')
      ++i;
    size_t digits = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])))
      ++i;
    if (i == digits || i - digits > 18)
      return false;
    i = skipSpace(text, i);
    if (i >= text.size())
      return false;
    if (text[i] == ']')
      return true;
    if (text[i] != ',')
      return false;
    i = skipSpace(text, i + 1);
  }
}

/// Whether `text` has a linalg.reduce / transpose / broadcast whose
/// `dimensions` or `permutation` list is not a list of integers
/// (`isIntegerList`) -- or is not there after its `=` --: MLIR 22's parsers
/// of these upstream ops crash on one (SIGSEGV in NamedAttrList::set after
/// the list fails to parse; mlir-opt itself does,
/// test/fuzz/upstream/README.md). Skipped, so that the fuzzer looks for
/// attn's own faults.
bool hasUpstreamCrashingList(const std::string &text) {
  auto space = [&](size_t i) { return skipSpace(text, i); };
  for (const char *op : {"linalg.reduce", "linalg.transpose",
                         "linalg.broadcast"}) {
    for (size_t at = text.find(op); at != std::string::npos;
         at = text.find(op, at + 1)) {
      // The next list keyword (the parser reads across lines; a later op's
      // list checked too only skips more); absent, nothing to check.
      size_t keyword = std::string::npos;
      for (const char *name : {"dimensions", "permutation"}) {
        size_t k = text.find(name, at);
        if (k != std::string::npos &&
            (keyword == std::string::npos || k + std::strlen(name) < keyword))
          keyword = k + std::strlen(name);
      }
      if (keyword == std::string::npos)
        continue;
      // `= [` integers `]`, possibly across lines as the parser reads it.
      // Without `=` the word is the op's own (on its line: a list that
      // cannot parse) or some other text's (a comment's, say).
      size_t i = space(keyword);
      if (i >= text.size() || text[i] != '=') {
        if (keyword < text.find('\n', at))
          return true;
        continue;
      }
      i = space(i + 1);
      if (i >= text.size() || text[i] != '[' || !isIntegerList(text, i))
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
  if (lowersForGpu()) {
    // The options from the input's bytes (FNV-1a), so that each input
    // lowers one way, again the same on replay: both chips' forms, both
    // row counts a warp, the tensor copies, warp specialisation and
    // overlapped steps of sm_90a, the host products' opt-in forms, and a
    // target of one multiprocessor (where small products already take
    // the large tiles and, past two of them, the persistent form).
    uint64_t hash = 14695981039346656037ull;
    for (size_t i = 0; i < size; ++i)
      hash = (hash ^ data[i]) * 1099511628211ull;
    attn::GPUPipelineOptions options;
    options.format = "llvm";
    options.chip = hash & 1 ? "sm_80" : "sm_90a";
    options.warpRows = hash & 2 ? 32 : 16;
    const int64_t copies = (hash >> 2) & 3;
    options.tensorCopies = copies ? "all" : "off";
    options.warpSpecialize = copies >= 2;
    options.overlapSoftmax = copies == 3;
    options.persistentProducts = (hash >> 4) & 1;
    options.productColumnSums = (hash >> 5) & 1;
    if ((hash >> 6) & 1)
      options.multiprocessors = 1;
    attn::buildLowerToGPUPipeline(pm, options);
  } else {
    attn::CPUPipelineOptions options;
    attn::buildLowerToCPUPipeline(pm, options);
  }
  (void)pm.run(*module);
  return 0;
}

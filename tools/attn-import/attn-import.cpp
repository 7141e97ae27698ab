//===- attn-import.cpp - model spec (JSON) to attn IR ---------------------===//
//
//   attn-import model.json [-o model.mlir] [--batch N]
//
// Reads a model spec and prints the module holding its @forward function.
// --batch compiles for another batch size than the spec's (attn-train: each
// rank of a data-parallel run takes its share of the spec's batch).
//
//===----------------------------------------------------------------------===//

#include "attn/Frontend/ModelBuilder.h"
#include "attn/IR/AttnDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

using namespace llvm;

/// --help lists these, not every LLVM backend's flags.
static cl::OptionCategory importOptions("Importing a model spec");
static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<spec.json>"),
                                      cl::Required, cl::cat(importOptions));
static cl::opt<std::string> outputFile("o", cl::desc("Output file"),
                                       cl::value_desc("filename"),
                                       cl::init("-"), cl::cat(importOptions));
static cl::opt<int64_t>
    batchOverride("batch",
                  cl::desc("Batch size to build for instead of the spec's"),
                  cl::value_desc("N"), cl::init(0), cl::cat(importOptions));

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(importOptions);
  cl::ParseCommandLineOptions(argc, argv,
                              "attn-import: model spec (JSON) to attn IR\n");
  auto fail = [](const Twine &msg) {
    WithColor::error(errs(), "attn-import") << msg << "\n";
    return 1;
  };
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFileOrSTDIN(inputFile);
  if (!buffer)
    return fail("cannot read " + inputFile + ": " +
                buffer.getError().message());
  Expected<::attn::ModelSpec> spec =
      ::attn::parseModelSpec((*buffer)->getBuffer(), inputFile);
  if (!spec)
    return fail(toString(spec.takeError()));
  if (batchOverride.getNumOccurrences()) {
    if (batchOverride < 1)
      return fail("--batch must be at least 1, got " +
                  Twine(static_cast<int64_t>(batchOverride)));
    spec->batch = batchOverride;
  }

  mlir::MLIRContext context;
  context.loadDialect<mlir::attn::AttnDialect, mlir::func::FuncDialect>();
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::ModuleOp::create(mlir::UnknownLoc::get(&context));
  mlir::attn::buildModel(*module, *spec);
  if (failed(mlir::verify(*module)))
    return fail("the model built from " + inputFile + " does not verify");

  std::string error;
  std::unique_ptr<ToolOutputFile> out =
      mlir::openOutputFile(outputFile, &error);
  if (!out)
    return fail(error);
  module->print(out->os());
  out->keep();
  return 0;
}

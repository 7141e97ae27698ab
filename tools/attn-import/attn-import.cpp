//===- attn-import.cpp - model spec (JSON) to attn IR ---------------------===//
//
//   attn-import model.json [-o model.mlir] [--ranks N] [--length L]
//
// Reads a model spec and prints the module holding its @forward function.
// --ranks builds it for one rank of a data-parallel run of N: its share of
// the spec's batch, which stays the run's global batch (attn-train --gpus).
// --length builds it for batches of L tokens (at most the spec's seq_len),
// with the same parameters (attn-train --length-step).
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
    ranks("ranks",
          cl::desc("Build for one rank of a data-parallel run of N ranks: "
                   "batch / N rows"),
          cl::value_desc("N"), cl::init(1), cl::cat(importOptions));
static cl::opt<int64_t>
    length("length",
           cl::desc("Build for batches of L tokens (at most the spec's "
                    "seq_len; 0: seq_len), the parameters unchanged"),
           cl::value_desc("L"), cl::init(0), cl::cat(importOptions));

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
  if (ranks < 1 || spec->batch % ranks != 0)
    return fail("--ranks " + Twine(static_cast<int64_t>(ranks)) +
                " does not divide the spec's batch " + Twine(spec->batch) +
                ": every rank takes an equal share of the global batch");
  spec->batch /= ranks;
  if (length < 0 || length > spec->seqLen)
    return fail("--length " + Twine(static_cast<int64_t>(length)) +
                " is outside [0, " + Twine(spec->seqLen) +
                "]: batches can be shorter than the spec's seq_len, not "
                "longer");

  mlir::MLIRContext context;
  context.loadDialect<mlir::attn::AttnDialect, mlir::func::FuncDialect>();
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::ModuleOp::create(mlir::UnknownLoc::get(&context));
  mlir::attn::buildModel(*module, *spec, length);
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

//===- AttnOptMain.cpp - the attn-opt driver, reusable --------------------===//

#include "AttnOptMain.h"

#include "attn/IR/AttnDialect.h"
#include "attn/Pipelines/Pipelines.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/CommandLine.h"

int mlir::attn::attnOptMain(int argc, char **argv, DialectRegistry &registry) {
  // Every option registered so far comes from libLLVM's and libMLIR's static
  // constructors: hundreds of backend flags (--amdgpu-..., --arm-...).
  // Hidden, --help shows what MlirOptMain registers from here on -- its
  // categories and the passes -- as mlir-opt means it to; --help-hidden
  // still lists them all.
  for (auto &entry : llvm::cl::getRegisteredOptions()) {
    StringRef name = entry.first;
    if (name != "help" && name != "help-list" && name != "version")
      entry.second->setHiddenFlag(llvm::cl::Hidden);
  }
  registerAllPasses();
  registerAttnPasses();
  registerAllDialects(registry);
  registerAllExtensions(registry);
  // gpu-module-to-binary translates kernels to LLVM IR.
  registerAllToLLVMIRTranslations(registry);
  registerAttnDialectExtensions(registry);
  return asMainReturnCode(
      MlirOptMain(argc, argv, "attn optimizer driver\n", registry));
}

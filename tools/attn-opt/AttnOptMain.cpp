//===- AttnOptMain.cpp - the attn-opt driver, reusable --------------------===//

#include "AttnOptMain.h"

#include "attn/IR/AttnDialect.h"
#include "attn/Pipelines/Pipelines.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int mlir::attn::attnOptMain(int argc, char **argv, DialectRegistry &registry) {
  registerAllPasses();
  registerAttnPasses();
  registerAllDialects(registry);
  registerAllExtensions(registry);
  // gpu-module-to-binary translates kernels to LLVM IR.
  registerAllToLLVMIRTranslations(registry);
  registry.insert<AttnDialect>();
  return asMainReturnCode(
      MlirOptMain(argc, argv, "attn optimizer driver\n", registry));
}

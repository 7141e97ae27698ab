//===- longformer-compile.cpp - attn-compile with the Longformer pattern --===//
//
// The whole of what a user adds to compile models that use a new pattern:
// one extension registered before the attn-compile main.
//
//===----------------------------------------------------------------------===//

#include "AttnCompileMain.h"
#include "LongformerOps.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::attn::examples::registerLongformerExtension(registry);
  return mlir::attn::attnCompileMain(argc, argv, registry);
}

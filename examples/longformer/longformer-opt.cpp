//===- longformer-opt.cpp - attn-opt with the Longformer pattern ----------===//
//
// The whole of what a user adds to the driver to use a new pattern: one
// extension registered before the usual attn-opt main.
//
//===----------------------------------------------------------------------===//

#include "AttnOptMain.h"
#include "LongformerOps.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::attn::examples::registerLongformerExtension(registry);
  return mlir::attn::attnOptMain(argc, argv, registry);
}

//===- attn-opt.cpp - the attn optimizer driver --------------------------===//
//
// mlir-opt with the attn dialect, its passes and pipelines, and the upstream
// dialects and passes the pipelines lower through.
//
//===----------------------------------------------------------------------===//

#include "AttnOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  return mlir::attn::attnOptMain(argc, argv, registry);
}

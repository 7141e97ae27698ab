//===- attn-compile.cpp - attn IR to a shared library ---------------------===//
//
// The driver is AttnCompileMain (AttnCompileMain.cpp); a project with its
// own dialect ops makes its own compiler the same way, registering them
// first (examples/longformer/longformer-compile.cpp).
//
//===----------------------------------------------------------------------===//

#include "AttnCompileMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  return mlir::attn::attnCompileMain(argc, argv, registry);
}

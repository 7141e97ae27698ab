//===- attn-faulty-opt.cpp - attn-opt with attn.mask.faulty_window -------===//

#include "AttnOptMain.h"
#include "FaultyMaskOps.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  attn::test::registerFaultyMaskExtension(registry);
  return mlir::attn::attnOptMain(argc, argv, registry);
}

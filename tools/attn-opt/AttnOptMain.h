//===- AttnOptMain.h - the attn-opt driver, reusable ------------*- C++ -*-===//
#ifndef ATTN_TOOLS_ATTNOPTMAIN_H
#define ATTN_TOOLS_ATTNOPTMAIN_H

#include "mlir/IR/DialectRegistry.h"

namespace mlir::attn {

/// Runs attn-opt: every attn and upstream dialect and pass, plus whatever the
/// caller put in `registry` (dialect extensions such as extra mask patterns).
int attnOptMain(int argc, char **argv, DialectRegistry &registry);

} // namespace mlir::attn

#endif // ATTN_TOOLS_ATTNOPTMAIN_H

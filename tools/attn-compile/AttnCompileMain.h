//===- AttnCompileMain.h - the attn-compile driver, reusable ----*- C++ -*-===//
#ifndef ATTN_TOOLS_ATTNCOMPILEMAIN_H
#define ATTN_TOOLS_ATTNCOMPILEMAIN_H

#include "mlir/IR/DialectRegistry.h"

namespace mlir::attn {

/// Runs attn-compile (attn IR to a shared library; `--help` lists its
/// options): every attn and upstream dialect, plus whatever the caller put in
/// `registry` (dialect extensions such as extra mask patterns). Messages
/// carry the name the tool was run as.
int attnCompileMain(int argc, char **argv, DialectRegistry &registry);

} // namespace mlir::attn

#endif // ATTN_TOOLS_ATTNCOMPILEMAIN_H

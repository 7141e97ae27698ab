// RUN: not attn-opt %s --split-input-file --attn-modules-to-binaries=format=ptx 2>&1 | FileCheck %s --check-prefix=FORMAT
// RUN: not attn-opt %s --split-input-file --attn-modules-to-binaries=format=isa 2>&1 | FileCheck %s --check-prefix=NOTARGET

// A format gpu-module-to-binary does not know is refused, naming those it
// knows.
// FORMAT: error: attn-modules-to-binaries: unknown format 'ptx' (expected bin, isa, fatbin or llvm)

// A module without a target cannot be serialized.
// NOTARGET: modules-to-binaries-invalid.mlir:[[# @LINE + 2]]:3: error: the module has no target attributes (gpu-nvvm-attach-target)
module attributes {gpu.container_module} {
  gpu.module @bare {
    llvm.func @bare() attributes {gpu.kernel, nvvm.kernel} {
      llvm.return
    }
  }
}

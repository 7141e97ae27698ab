// RUN: attn-opt %s --attn-modules-to-binaries=format=isa | FileCheck %s
// RUN: attn-opt %s --attn-modules-to-binaries=format=llvm | FileCheck %s --check-prefix=BITCODE

// Each module becomes a binary of the same name, in its place, with one
// object per target; the launches name them as before.
// CHECK-LABEL: func.func @two
// CHECK: gpu.launch_func @first::@first
// CHECK: gpu.launch_func @second::@second
// CHECK: gpu.binary @first [#gpu.object<#nvvm.target<chip = "sm_90a">
// CHECK-SAME: .target sm_90a
// CHECK-SAME: .entry first(
// CHECK-NOT: .entry second
// CHECK: gpu.binary @second [#gpu.object<#nvvm.target<chip = "sm_90a">
// CHECK-SAME: .target sm_90a
// CHECK-SAME: .entry second(
// CHECK-SAME: #gpu.object<#nvvm.target<chip = "sm_80">
// CHECK-SAME: .target sm_80
// CHECK-SAME: .entry second(
// CHECK-NOT: gpu.module
// BITCODE: gpu.binary @first [#gpu.object<#nvvm.target<chip = "sm_90a">, offload = "BC\C0\DE
// BITCODE: gpu.binary @second [#gpu.object<#nvvm.target<chip = "sm_90a">, offload = "BC\C0\DE
module attributes {gpu.container_module} {
  func.func @two() {
    %c1 = arith.constant 1 : index
    gpu.launch_func @first::@first blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
    gpu.launch_func @second::@second blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
    return
  }
  gpu.module @first [#nvvm.target<chip = "sm_90a">] {
    llvm.func @first() attributes {gpu.kernel, nvvm.kernel} {
      llvm.return
    }
  }
  gpu.module @second [#nvvm.target<chip = "sm_90a">, #nvvm.target<chip = "sm_80">] {
    llvm.func @second() attributes {gpu.kernel, nvvm.kernel} {
      llvm.return
    }
  }
}

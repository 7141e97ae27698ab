// RUN: attn-opt %s --attn-name-kernels | FileCheck %s

// Each launch is named <function>_<n>_<kind>, n counting the function's
// launches in order; the kind attribute is dropped.
// CHECK-LABEL: func.func @kinds
// CHECK: gpu.launch {{.*}} function(@kinds_0_matmul)
// CHECK-NOT: attn.kernel
// CHECK: gpu.launch {{.*}} function(@kinds_1_softmax_step_softmax_finalize)
// CHECK-NOT: attn.kernel
// CHECK: return
func.func @kinds() {
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1) {
    gpu.terminator
  } {attn.kernel = "matmul"}
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1) {
    gpu.terminator
  } {attn.kernel = "softmax_step_softmax_finalize"}
  return
}

// A launch without a kind is a "kernel"; counting starts again in each
// function.
// CHECK-LABEL: func.func @unknown
// CHECK: gpu.launch {{.*}} function(@unknown_0_kernel)
func.func @unknown() {
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1) {
    gpu.terminator
  }
  return
}

// A launch that has a kernel name keeps it, and still counts.
// CHECK-LABEL: func.func @named
// CHECK: gpu.launch {{.*}} function(@mine)
// CHECK: gpu.launch {{.*}} function(@named_1_generic)
func.func @named() {
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1)
             function(@mine) {
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1) {
    gpu.terminator
  } {attn.kernel = "generic"}
  return
}

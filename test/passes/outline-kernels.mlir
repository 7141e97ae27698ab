// RUN: attn-opt %s --split-input-file --attn-outline-kernels --verify-diagnostics | FileCheck %s

// A launch's blocks per multiprocessor reach its kernel as nvvm.minctasm,
// its registers a thread starts with as nvvm.maxnreg; a launch without the
// attributes leaves its kernel without them.
// CHECK-LABEL: func.func @hinted
// CHECK: gpu.launch_func @hinted_0_tensor_core_matmul::@hinted_0_tensor_core_matmul
// CHECK: gpu.launch_func @hinted_1_generic::@hinted_1_generic
// CHECK: gpu.func @hinted_0_tensor_core_matmul() kernel attributes {{{.*}}nvvm.minctasm = 2 : i32{{.*}}}
// CHECK: gpu.func @hinted_1_generic() kernel
// CHECK-NOT: nvvm.minctasm
// CHECK: gpu.func @hinted_2_attention() kernel attributes {{{.*}}nvvm.maxnreg = 128 : i32{{.*}}}
func.func @hinted() {
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1) {
    gpu.terminator
  } {function = @hinted_0_tensor_core_matmul, attn.min_blocks_per_sm = 2 : i64}
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1) {
    gpu.terminator
  } {function = @hinted_1_generic}
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1) {
    gpu.terminator
  } {function = @hinted_2_attention, attn.max_registers = 128 : i64}
  return
}

// -----

// The count is matched to the kernel by name: a launch without one is an
// error.
func.func @unnamed() {
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{has attn.min_blocks_per_sm but no kernel name: run attn-name-kernels first}}
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1) {
    gpu.terminator
  } {attn.min_blocks_per_sm = 2 : i64}
  return
}

// -----

func.func @unnamed_registers() {
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{has attn.max_registers but no kernel name: run attn-name-kernels first}}
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1) {
    gpu.terminator
  } {attn.max_registers = 128 : i64}
  return
}

// RUN: attn-opt %s --gpu-kernel-outlining --attn-dedup-kernels | FileCheck %s

// Kernels with the same code are one module, whichever function launches
// them: the second and fourth launches reuse the first's kernel with their
// own arguments; the third (another store) keeps its own.
// CHECK-LABEL: func.func @first
// CHECK: gpu.launch_func @first_0_generic::@first_0_generic {{.*}} args(%{{.*}} : f32, %arg0 : memref<4xf32>)
// CHECK: gpu.launch_func @first_0_generic::@first_0_generic {{.*}} args(%{{.*}} : f32, %arg1 : memref<4xf32>)
// CHECK: gpu.launch_func @first_2_generic::@first_2_generic
// CHECK: gpu.module @first_0_generic
// CHECK-NOT: gpu.module @first_1_generic
// CHECK: gpu.module @first_2_generic
// CHECK-LABEL: func.func @second
// CHECK: gpu.launch_func @first_0_generic::@first_0_generic {{.*}} args(%{{.*}} : f32, %arg0 : memref<4xf32>)
// A grid of another size is another kernel (known_grid_size differs).
// CHECK: gpu.launch_func @second_1_generic::@second_1_generic
// CHECK-NOT: gpu.module @second_0_generic
// CHECK: gpu.module @second_1_generic
func.func @first(%m: memref<4xf32>, %n: memref<4xf32>) {
  %c1 = arith.constant 1 : index
  %one = arith.constant 1.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1)
             function(@first_0_generic) {
    %c0 = arith.constant 0 : index
    memref.store %one, %m[%c0] : memref<4xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1)
             function(@first_1_generic) {
    %c0 = arith.constant 0 : index
    memref.store %one, %n[%c0] : memref<4xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1)
             function(@first_2_generic) {
    %c3 = arith.constant 3 : index
    memref.store %one, %n[%c3] : memref<4xf32>
    gpu.terminator
  }
  return
}

func.func @second(%m: memref<4xf32>) {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %one = arith.constant 1.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1)
             function(@second_0_generic) {
    %c0 = arith.constant 0 : index
    memref.store %one, %m[%c0] : memref<4xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c2, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%a = %c1, %b = %c1, %c = %c1)
             function(@second_1_generic) {
    %c0 = arith.constant 0 : index
    memref.store %one, %m[%c0] : memref<4xf32>
    gpu.terminator
  }
  return
}

// Modules for other targets hold other code, whatever their kernels say.
// RUN: attn-opt %s --split-input-file --attn-dedup-kernels | FileCheck %s --check-prefix=TARGETS
// -----
// TARGETS-LABEL: func.func @targets
// TARGETS: gpu.launch_func @sm90::@k
// TARGETS: gpu.launch_func @sm80::@k
// TARGETS: gpu.module @sm90
// TARGETS: gpu.module @sm80
module attributes {gpu.container_module} {
  func.func @targets() {
    %c1 = arith.constant 1 : index
    gpu.launch_func @sm90::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
    gpu.launch_func @sm80::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
    return
  }
  gpu.module @sm90 [#nvvm.target<chip = "sm_90a">] {
    gpu.func @k() kernel {
      gpu.return
    }
  }
  gpu.module @sm80 [#nvvm.target<chip = "sm_80">] {
    gpu.func @k() kernel {
      gpu.return
    }
  }
}

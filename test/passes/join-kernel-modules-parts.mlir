// RUN: attn-opt %s --split-input-file --attn-join-kernel-modules=parts=2 | FileCheck %s
// RUN: not attn-opt %s --split-input-file --attn-join-kernel-modules=parts=0 2>&1 | FileCheck %s --check-prefix=ZERO

// Two parts of about the same size, in ops (the modules' own ops counted):
// the largest module (@big, 7) goes to the first part, the next (@mid, 6)
// to the second, then each to the smaller part so far (@small, 4, to
// @mid's; @tiny, 3, to @big's). The parts are named in the order of their
// first modules; each holds its kernels in program order.
// CHECK-LABEL: func.func @deal
// CHECK: gpu.launch_func @kernels::@mid
// CHECK: gpu.launch_func @kernels_0::@big
// CHECK: gpu.launch_func @kernels::@small
// CHECK: gpu.launch_func @kernels_0::@tiny
// CHECK: gpu.module @kernels {
// CHECK: gpu.func @mid
// CHECK: gpu.func @small
// CHECK: gpu.module @kernels_0 {
// CHECK: gpu.func @big
// CHECK: gpu.func @tiny
// CHECK-NOT: gpu.module
// ZERO: parts must be at least 1
module attributes {gpu.container_module} {
  func.func @deal(%m: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @mid::@mid blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    gpu.launch_func @big::@big blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    gpu.launch_func @small::@small blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    gpu.launch_func @tiny::@tiny blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    return
  }
  gpu.module @mid {
    gpu.func @mid(%m: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %one = arith.constant 1.0 : f32
      memref.store %one, %m[%c0] : memref<4xf32>
      gpu.return
    }
  }
  gpu.module @big {
    gpu.func @big(%m: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %one = arith.constant 1.0 : f32
      %two = arith.addf %one, %one : f32
      memref.store %two, %m[%c0] : memref<4xf32>
      gpu.return
    }
  }
  gpu.module @small {
    gpu.func @small(%m: memref<4xf32>) kernel {
      %one = arith.constant 1.0 : f32
      gpu.return
    }
  }
  gpu.module @tiny {
    gpu.func @tiny(%m: memref<4xf32>) kernel {
      gpu.return
    }
  }
}

// -----

// One module and two parts: one part.
// CHECK-LABEL: func.func @one
// CHECK: gpu.launch_func @kernels::@only
// CHECK: gpu.module @kernels
// CHECK-NOT: gpu.module
module attributes {gpu.container_module} {
  func.func @one(%m: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @only::@only blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    return
  }
  gpu.module @only {
    gpu.func @only(%m: memref<4xf32>) kernel {
      gpu.return
    }
  }
}

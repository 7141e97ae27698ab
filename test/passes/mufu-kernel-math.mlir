// RUN: attn-opt %s --pass-pipeline="builtin.module(gpu.module(attn-mufu-kernel-math))" | FileCheck %s

// An f32 exp2 (an online softmax's P, a GELU's exponentials) becomes
// ex2.approx.ftz, one MUFU instruction.
// CHECK-LABEL: gpu.func @exp2_of_an_f32
// CHECK-SAME: (%[[X:.*]]: f32,
// CHECK: %[[E:.*]] = llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"(%[[X]]) : (f32) -> f32
// CHECK-NOT: math.exp2
// CHECK: memref.store %[[E]]

// 1 / y marked afn (a GELU's t = 1 / (1 + z / 2)) becomes rcp.approx.ftz.
// CHECK-LABEL: gpu.func @approximate_reciprocal
// CHECK-SAME: (%{{.*}}: f32, %[[Y:.*]]: f32,
// CHECK: %[[R:.*]] = llvm.call_intrinsic "llvm.nvvm.rcp.approx.ftz.f"(%[[Y]]) : (f32) -> f32
// CHECK-NOT: arith.divf
// CHECK: memref.store %[[R]]

// Left as they are: a division without afn, an afn division of another
// numerator, an exp2 of an f16, and math.exp (its argument scaled by
// log2(e) would round once more).
// CHECK-LABEL: gpu.func @exact_division_kept
// CHECK: arith.divf %{{.*}}, %{{.*}} : f32
// CHECK-NOT: llvm.call_intrinsic
// CHECK-LABEL: gpu.func @approximate_division_of_two_kept
// CHECK: arith.divf %{{.*}}, %{{.*}} fastmath<afn> : f32
// CHECK-NOT: llvm.call_intrinsic
// CHECK-LABEL: gpu.func @exp2_of_an_f16_kept
// CHECK: math.exp2 %{{.*}} : f16
// CHECK-NOT: llvm.call_intrinsic
// CHECK-LABEL: gpu.func @exp_kept
// CHECK: math.exp %{{.*}} : f32
// CHECK-NOT: llvm.call_intrinsic
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @exp2_of_an_f32(%x: f32, %p: memref<1xf32>) kernel {
      %c0 = arith.constant 0 : index
      %e = math.exp2 %x : f32
      memref.store %e, %p[%c0] : memref<1xf32>
      gpu.return
    }
    gpu.func @approximate_reciprocal(%x: f32, %y: f32, %p: memref<1xf32>) kernel {
      %c0 = arith.constant 0 : index
      %one = arith.constant 1.0 : f32
      %r = arith.divf %one, %y fastmath<contract,afn> : f32
      memref.store %r, %p[%c0] : memref<1xf32>
      gpu.return
    }
    gpu.func @exact_division_kept(%y: f32, %p: memref<1xf32>) kernel {
      %c0 = arith.constant 0 : index
      %one = arith.constant 1.0 : f32
      %r = arith.divf %one, %y : f32
      memref.store %r, %p[%c0] : memref<1xf32>
      gpu.return
    }
    gpu.func @approximate_division_of_two_kept(%y: f32, %p: memref<1xf32>) kernel {
      %c0 = arith.constant 0 : index
      %two = arith.constant 2.0 : f32
      %r = arith.divf %two, %y fastmath<afn> : f32
      memref.store %r, %p[%c0] : memref<1xf32>
      gpu.return
    }
    gpu.func @exp2_of_an_f16_kept(%x: f16, %p: memref<1xf16>) kernel {
      %c0 = arith.constant 0 : index
      %e = math.exp2 %x : f16
      memref.store %e, %p[%c0] : memref<1xf16>
      gpu.return
    }
    gpu.func @exp_kept(%x: f32, %p: memref<1xf32>) kernel {
      %c0 = arith.constant 0 : index
      %e = math.exp %x : f32
      memref.store %e, %p[%c0] : memref<1xf32>
      gpu.return
    }
  }
}

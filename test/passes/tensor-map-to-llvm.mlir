// attn.buffer.tensor_map on the host, through gpu-to-llvm (the attn
// dialect's ConvertToLLVMPatternInterface): a call of libattnrt's
// mgpuTensorMap with the buffer's element at index 0, the element code,
// the rank, one stack array of sizes, strides and box (outermost first, in
// the function's entry block) and the swizzle (docs/runtime.md).
// RUN: attn-opt %s --gpu-to-llvm | FileCheck %s

// CHECK: llvm.func @mgpuTensorMap(!llvm.ptr, i32, i32, !llvm.ptr, i32) -> i64
// CHECK-LABEL: llvm.func @map
// CHECK: %[[THREE_RANKS:.*]] = llvm.mlir.constant(12 : i64) : i64
// CHECK: %[[DIMS:.*]] = llvm.alloca %[[THREE_RANKS]] x i64
// CHECK: scf.for
// CHECK: %[[START:.*]] = llvm.getelementptr %{{.*}}[%{{.*}}] : (!llvm.ptr, i64) -> !llvm.ptr, bf16
// CHECK-COUNT-12: llvm.store %{{.*}}, %{{.*}} : i64, !llvm.ptr
// CHECK: %[[BF16:.*]] = llvm.mlir.constant(1 : i32) : i32
// CHECK-NEXT: %[[RANK:.*]] = llvm.mlir.constant(4 : i32) : i32
// CHECK-NEXT: %[[SWIZZLE:.*]] = llvm.mlir.constant(128 : i32) : i32
// CHECK-NEXT: llvm.call @mgpuTensorMap(%[[START]], %[[BF16]], %[[RANK]], %[[DIMS]], %[[SWIZZLE]]) : (!llvm.ptr, i32, i32, !llvm.ptr, i32) -> i64
func.func @map(%k: memref<2x4x100x64xbf16, strided<[25600, 64, 256, 1]>>, %n: index) -> i64 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %z = arith.constant 0 : i64
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %z) -> i64 {
    %m = attn.buffer.tensor_map %k box [1, 1, 128, 64] swizzle 128 : memref<2x4x100x64xbf16, strided<[25600, 64, 256, 1]>>
    %s = arith.addi %acc, %m : i64
    scf.yield %s : i64
  }
  return %r : i64
}

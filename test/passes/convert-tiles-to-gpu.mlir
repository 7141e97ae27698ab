// attn-convert-tiles-to-gpu on its own: which form each row group gets.
// RUN: attn-opt %s --split-input-file --attn-convert-tiles-to-gpu | FileCheck %s

// bf16, 16 rows, reached by every thread of the block: tensor cores, with
// the shared memory of a padded 32-key tile of K and V.
// CHECK-LABEL: func.func @tensor_cores
// CHECK: gpu.launch {{.*}} dynamic_shared_memory_size %c9216_i32
// CHECK-DAG: memref.alloca() : memref<2xf32>
// CHECK-DAG: memref.alloca() : memref<32xf32>
// CHECK: nvgpu.device_async_copy
// CHECK: nvvm.mma.sync
// CHECK-NOT: attn.tile
func.func @tensor_cores(%q: memref<16x64xbf16>, %k: memref<32x64xbf16>, %o: memref<16x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %m = memref.alloca() : memref<16xf32>
    %l = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x64xf32>
    linalg.fill ins(%ninf : f32) outs(%m : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%l : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x64xf32>)
    attn.tile.softmax_step %q, %k, %k into %m, %l, %acc offsets(%c0, %c0) scale 1.25e-01 : memref<16x64xbf16>, memref<32x64xbf16>, memref<32x64xbf16>, memref<16xf32>, memref<16x64xf32>
    attn.tile.softmax_finalize %l, %acc into %o : memref<16xf32>, memref<16x64xf32>, memref<16x64xbf16>
    gpu.terminator
  }
  return
}

// -----

// The same op under a branch that differs between threads cannot use the
// block's barriers: one row per lane, no shared memory.
// CHECK-LABEL: func.func @divergent
// CHECK-NOT: dynamic_shared_memory_size
// CHECK-DAG: memref.alloca() : memref<1xf32>
// CHECK-DAG: memref.alloca() : memref<1x64xf32>
// CHECK-NOT: nvvm.mma.sync
// CHECK: return
func.func @divergent(%q: memref<16x64xbf16>, %k: memref<32x64xbf16>, %o: memref<16x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %c128 = arith.constant 128 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %m = memref.alloca() : memref<16xf32>
    %l = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x64xf32>
    linalg.fill ins(%ninf : f32) outs(%m : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%l : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x64xf32>)
    %first = arith.cmpi ult, %tx, %c64 : index
    scf.if %first {
      attn.tile.softmax_step %q, %k, %k into %m, %l, %acc offsets(%c0, %c0) scale 1.25e-01 : memref<16x64xbf16>, memref<32x64xbf16>, memref<32x64xbf16>, memref<16xf32>, memref<16x64xf32>
    }
    attn.tile.softmax_finalize %l, %acc into %o : memref<16xf32>, memref<16x64xf32>, memref<16x64xbf16>
    gpu.terminator
  }
  return
}

// Linear attention's tiles go to tensor cores only where their rows are
// provably 16-byte aligned (cp.async copies 16 bytes): unit column stride,
// a row stride of a multiple of 16 bytes, and a start the alignment
// analysis proves -- through subviews, their offsets and casts, to a
// 256-byte aligned argument. Elsewhere the per-lane form. bf16 and f32.
// RUN: attn-opt %s --attn-convert-linear-tiles-to-gpu | FileCheck %s

// Subviews at the block's (batch, head) and a cast, as attn-tile and
// bufferization leave them: on tensor cores.
// CHECK-LABEL: func.func @through_subview_and_cast(
// CHECK: nvgpu.device_async_copy
func.func @through_subview_and_cast(%k: memref<2x2x50x16xbf16>, %v: memref<2x2x50x16xbf16>, %s: memref<2x2x16x16xf32>, %n: memref<2x2x16xf32>) {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c32 = arith.constant 32 : index
  %f = attn.feature_map.relu
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c2, %gz = %c2) threads(%tx, %ty, %tz) in (%wx = %c32, %wy = %c1, %wz = %c1) {
    %kt = memref.subview %k[%bz, %by, 0, 0] [1, 1, 50, 16] [1, 1, 1, 1] : memref<2x2x50x16xbf16> to memref<50x16xbf16, strided<[16, 1], offset: ?>>
    %kc = memref.cast %kt : memref<50x16xbf16, strided<[16, 1], offset: ?>> to memref<?x16xbf16, strided<[16, 1], offset: ?>>
    %vt = memref.subview %v[%bz, %by, 0, 0] [1, 1, 50, 16] [1, 1, 1, 1] : memref<2x2x50x16xbf16> to memref<50x16xbf16, strided<[16, 1], offset: ?>>
    %vc = memref.cast %vt : memref<50x16xbf16, strided<[16, 1], offset: ?>> to memref<?x16xbf16, strided<[16, 1], offset: ?>>
    %nt = memref.subview %n[%bz, %by, 0] [1, 1, 16] [1, 1, 1] : memref<2x2x16xf32> to memref<16xf32, strided<[1], offset: ?>>
    %st = memref.subview %s[%bz, %by, 0, 0] [1, 1, 16, 16] [1, 1, 1, 1] : memref<2x2x16x16xf32> to memref<16x16xf32, strided<[16, 1], offset: ?>>
    attn.tile.linear_state %kc, %vc feature_map %f into %st, %nt atomic : memref<?x16xbf16, strided<[16, 1], offset: ?>>, memref<?x16xbf16, strided<[16, 1], offset: ?>>, memref<16x16xf32, strided<[16, 1], offset: ?>>, memref<16xf32, strided<[1], offset: ?>>
    gpu.terminator
  }
  return
}

// The same with the keys starting 4 elements (8 bytes) into a row: the
// per-lane form, no 16-byte copies.
// CHECK-LABEL: func.func @start_off_by_eight_bytes(
// CHECK-NOT: nvgpu.device_async_copy
// CHECK: return
func.func @start_off_by_eight_bytes(%k: memref<50x16xbf16, strided<[16, 1], offset: 4>>, %v: memref<50x16xbf16>, %s: memref<16x16xf32>, %n: memref<16xf32>) {
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %f = attn.feature_map.relu
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%wx = %c32, %wy = %c1, %wz = %c1) {
    attn.tile.linear_state %k, %v feature_map %f into %s, %n atomic : memref<50x16xbf16, strided<[16, 1], offset: 4>>, memref<50x16xbf16>, memref<16x16xf32>, memref<16xf32>
    gpu.terminator
  }
  return
}

// f32 (3xTF32 on tensor cores) takes the same test: aligned rows on tensor
// cores, f32 fragments read from the staged tiles value by value.
// CHECK-LABEL: func.func @f32_aligned(
// CHECK: nvgpu.device_async_copy
// CHECK: memref.load {{.*}} : memref<64x20xf32, #gpu.address_space<workgroup>>
// CHECK: nvvm.mma.sync {{.*}} multiplicandAPtxType = #nvvm.mma_type<tf32>
func.func @f32_aligned(%k: memref<50x16xf32>, %v: memref<50x16xf32>, %s: memref<16x16xf32>, %n: memref<16xf32>) {
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %f = attn.feature_map.relu
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%wx = %c32, %wy = %c1, %wz = %c1) {
    attn.tile.linear_state %k, %v feature_map %f into %s, %n atomic : memref<50x16xf32>, memref<50x16xf32>, memref<16x16xf32>, memref<16xf32>
    gpu.terminator
  }
  return
}

// f32 keys starting 2 elements (8 bytes) into a row: the per-lane form.
// CHECK-LABEL: func.func @f32_start_off_by_eight_bytes(
// CHECK-NOT: nvgpu.device_async_copy
// CHECK-NOT: nvvm.mma.sync
// CHECK: return
func.func @f32_start_off_by_eight_bytes(%k: memref<50x16xf32, strided<[16, 1], offset: 2>>, %v: memref<50x16xf32>, %s: memref<16x16xf32>, %n: memref<16xf32>) {
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %f = attn.feature_map.relu
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%wx = %c32, %wy = %c1, %wz = %c1) {
    attn.tile.linear_state %k, %v feature_map %f into %s, %n atomic : memref<50x16xf32, strided<[16, 1], offset: 2>>, memref<50x16xf32>, memref<16x16xf32>, memref<16xf32>
    gpu.terminator
  }
  return
}

// The vector loads and stores of attn-tile's loop nests carry the
// alignment their buffers and indices prove (device buffers start at
// 256-byte multiples; a constant index adds its multiple of the stride,
// any other index the stride), at most the vector's size.
// RUN: attn-opt %s --attn-map-loops-to-gpu --canonicalize --cse | FileCheck %s

// The attention gradient's D = rowsum(dO o O): a thread per row of 64 bf16
// (128 bytes), read from the buffer directly and through a tile's subview.
// CHECK-LABEL: func.func @rows_of_a_tile(
// CHECK: gpu.launch
// CHECK:   vector.load %arg0[{{.*}}] {alignment = 128 : i64} : memref<2x4x512x64xbf16>, vector<64xbf16>
// CHECK:   vector.load %{{.*}}[{{.*}}] {alignment = 128 : i64} : memref<64x64xbf16, strided<[64, 1], offset: ?>>, vector<64xbf16>
// Half a row from a column that is not constant: nothing is known but the
// element's 2 bytes, so no alignment is set.
// CHECK:   vector.load %arg0[{{.*}}] : memref<2x4x512x64xbf16>, vector<32xbf16>
// A row of f32 at a constant column 4: 16 bytes.
// CHECK:   vector.store %{{.*}}, %arg2[{{.*}}] {alignment = 16 : i64} : memref<2x4x512x64xf32>, vector<8xf32>
// Three f32 (12 bytes) at column 0: 8, the largest power of two in them.
// CHECK:   vector.store %{{.*}}, %arg2[{{.*}}] {alignment = 8 : i64} : memref<2x4x512x64xf32>, vector<3xf32>
// CHECK: gpu.terminator
func.func @rows_of_a_tile(%x: memref<2x4x512x64xbf16>, %d: memref<2x4x512xf32>, %y: memref<2x4x512x64xf32>, %col: index) {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %c64 = arith.constant 64 : index
  scf.forall (%b, %h, %t) in (2, 4, 8) {
    %row0 = arith.muli %t, %c64 : index
    %tile = memref.subview %x[%b, %h, %row0, 0] [1, 1, 64, 64] [1, 1, 1, 1] : memref<2x4x512x64xbf16> to memref<64x64xbf16, strided<[64, 1], offset: ?>>
    scf.forall (%r) in (64) {
      %row = arith.addi %row0, %r : index
      %v = vector.load %x[%b, %h, %row, %c0] : memref<2x4x512x64xbf16>, vector<64xbf16>
      %w = vector.load %tile[%r, %c0] : memref<64x64xbf16, strided<[64, 1], offset: ?>>, vector<64xbf16>
      %u = vector.load %x[%b, %h, %row, %col] : memref<2x4x512x64xbf16>, vector<32xbf16>
      %vf = arith.extf %v : vector<64xbf16> to vector<64xf32>
      %wf = arith.extf %w : vector<64xbf16> to vector<64xf32>
      %uf = arith.extf %u : vector<32xbf16> to vector<32xf32>
      %p = arith.mulf %vf, %wf : vector<64xf32>
      %s = vector.reduction <add>, %p : vector<64xf32> into f32
      %s2 = vector.reduction <add>, %uf : vector<32xf32> into f32
      %t2 = arith.addf %s, %s2 : f32
      memref.store %t2, %d[%b, %h, %row] : memref<2x4x512xf32>
      %e = vector.extract_strided_slice %vf {offsets = [0], sizes = [8], strides = [1]} : vector<64xf32> to vector<8xf32>
      vector.store %e, %y[%b, %h, %row, %c4] : memref<2x4x512x64xf32>, vector<8xf32>
      %e3 = vector.extract_strided_slice %vf {offsets = [0], sizes = [3], strides = [1]} : vector<64xf32> to vector<3xf32>
      vector.store %e3, %y[%b, %h, %row, %c0] : memref<2x4x512x64xf32>, vector<3xf32>
    }
  }
  return
}

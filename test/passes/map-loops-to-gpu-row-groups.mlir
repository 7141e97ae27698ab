// RUN: attn-opt %s --attn-map-loops-to-gpu --canonicalize --cse --split-input-file | FileCheck %s

#rows = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#points = affine_map<(d0, d1, d2) -> (d0, d1)>
#row2 = affine_map<(d0, d1) -> (d0, d1)>
#point2 = affine_map<(d0, d1) -> (d0)>
#column2 = affine_map<(d0, d1) -> (d1)>

// A layer norm: the row sums of x and of its squares about the mean, then
// the normalisation, over [2, 8] and [16] views of the same rows: one launch
// of a warp per point (16), each op's warp body in turn, a warp barrier
// between; the rows read in runs of 8 bf16, the sums by shuffles, lane 0
// adding each total.
// CHECK-LABEL: func.func @layer_norm
// The sums' zero fills start them in registers: no memsets.
// CHECK: %[[SUM:.*]] = gpu.alloc () : memref<2x8xf32>
// CHECK-NOT: gpu.memset
// CHECK: %[[SQ:.*]] = gpu.alloc () : memref<2x8xf32>
// CHECK-NOT: gpu.memset
// CHECK: %[[XS:.*]] = memref.collapse_shape %arg0
// CHECK: %[[SUMS:.*]] = memref.collapse_shape %[[SUM]]
// CHECK: %[[SQS:.*]] = memref.collapse_shape %[[SQ]]
// CHECK: gpu.launch
// CHECK:   %[[POINT:.*]] = arith.divui %{{.*}}, %c32
// CHECK:   %[[LANE:.*]] = arith.remui %{{.*}}, %c32
// CHECK:   arith.cmpi ult, %[[POINT]], %c16
// CHECK:   %[[N:.*]] = arith.remui %[[POINT]], %c8
// CHECK:   %[[B:.*]] = arith.divui %[[POINT]], %c8
// CHECK:   %[[FIRST:.*]] = arith.muli %[[LANE]], %c8
// CHECK:   scf.for %[[C:.*]] = %[[FIRST]] to %c256 step %c256
// CHECK:     vector.load %arg0[%[[B]], %[[N]], %[[C]]] {{.*}} : memref<2x8x256xbf16>, vector<8xbf16>
// CHECK:   gpu.shuffle  xor
// CHECK:   memref.store %{{.*}}, %[[SUM]][%[[B]], %[[N]]]
// CHECK:   nvvm.bar.warp.sync
// CHECK:   scf.for %[[C:.*]] = %[[FIRST]] to %c256 step %c256
// CHECK:     vector.load %arg0[%[[B]], %[[N]], %[[C]]] {{.*}} : memref<2x8x256xbf16>, vector<8xbf16>
// CHECK:     memref.load %[[SUM]][%[[B]], %[[N]]]
// CHECK:   gpu.shuffle  xor
// CHECK:   memref.store %{{.*}}, %[[SQ]][%[[B]], %[[N]]]
// CHECK:   nvvm.bar.warp.sync
// CHECK:   scf.for %[[C:.*]] = %[[FIRST]] to %c256 step %c256
// CHECK:     vector.load %[[XS]][%[[POINT]], %[[C]]] {{.*}} : memref<16x256xbf16>, vector<8xbf16>
// CHECK:     vector.load %arg1[%[[C]]] {{.*}} : memref<256xbf16>, vector<8xbf16>
// CHECK:     memref.load %[[SUMS]][%[[POINT]]]
// CHECK:     memref.load %[[SQS]][%[[POINT]]]
// CHECK:     math.rsqrt
// CHECK:     vector.store %{{.*}}, %arg2[%[[POINT]], %[[C]]] {{.*}} : memref<16x256xbf16>, vector<8xbf16>
// CHECK: } {attn.kernel = "row_group"}
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @layer_norm(%x: memref<2x8x256xbf16>, %gamma: memref<256xbf16>, %y: memref<16x256xbf16>) {
  %zero = arith.constant 0.0 : f32
  %width = arith.constant 256.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %sum = memref.alloc() : memref<2x8xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<2x8xf32>)
  linalg.generic {indexing_maps = [#rows, #points], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<2x8x256xbf16>) outs(%sum : memref<2x8xf32>) {
  ^bb0(%a: bf16, %acc: f32):
    %f = arith.extf %a : bf16 to f32
    %t = arith.addf %f, %acc : f32
    linalg.yield %t : f32
  }
  %sq = memref.alloc() : memref<2x8xf32>
  linalg.fill ins(%zero : f32) outs(%sq : memref<2x8xf32>)
  linalg.generic {indexing_maps = [#rows, #points, #points], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %sum : memref<2x8x256xbf16>, memref<2x8xf32>) outs(%sq : memref<2x8xf32>) {
  ^bb0(%a: bf16, %s: f32, %acc: f32):
    %mean = arith.divf %s, %width : f32
    %f = arith.extf %a : bf16 to f32
    %d = arith.subf %f, %mean : f32
    %dd = arith.mulf %d, %d : f32
    %t = arith.addf %dd, %acc : f32
    linalg.yield %t : f32
  }
  %xs = memref.collapse_shape %x [[0, 1], [2]] : memref<2x8x256xbf16> into memref<16x256xbf16>
  %sums = memref.collapse_shape %sum [[0, 1]] : memref<2x8xf32> into memref<16xf32>
  %sqs = memref.collapse_shape %sq [[0, 1]] : memref<2x8xf32> into memref<16xf32>
  linalg.generic {indexing_maps = [#row2, #point2, #point2, #column2, #row2], iterator_types = ["parallel", "parallel"]}
      ins(%xs, %sums, %sqs, %gamma : memref<16x256xbf16>, memref<16xf32>, memref<16xf32>, memref<256xbf16>) outs(%y : memref<16x256xbf16>) {
  ^bb0(%a: bf16, %s: f32, %q: f32, %g: bf16, %out: bf16):
    %mean = arith.divf %s, %width : f32
    %var = arith.divf %q, %width : f32
    %ve = arith.addf %var, %eps : f32
    %inv = math.rsqrt %ve : f32
    %f = arith.extf %a : bf16 to f32
    %c = arith.subf %f, %mean : f32
    %n = arith.mulf %c, %inv : f32
    %gf = arith.extf %g : bf16 to f32
    %r = arith.mulf %n, %gf : f32
    %rb = arith.truncf %r : f32 to bf16
    linalg.yield %rb : bf16
  }
  memref.dealloc %sq : memref<2x8xf32>
  memref.dealloc %sum : memref<2x8xf32>
  return
}

// -----

#rows = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#points = affine_map<(d0, d1, d2) -> (d0, d1)>
#row2 = affine_map<(d0, d1) -> (d0, d1)>
#swapped = affine_map<(d0, d1) -> (d1, d0)>

// An op reading the sums' buffer as another point's (transposed) would read
// what another warp writes: no group, a launch each.
// CHECK-LABEL: func.func @other_points
// CHECK: } {attn.kernel = "row_sums"}
// CHECK: } {attn.kernel = "generic"}
// CHECK-NOT: row_group
func.func @other_points(%x: memref<16x16x256xf32>, %y: memref<16x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %sum = memref.alloc() : memref<16x16xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<16x16xf32>)
  linalg.generic {indexing_maps = [#rows, #points], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<16x16x256xf32>) outs(%sum : memref<16x16xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %t = arith.addf %a, %acc : f32
    linalg.yield %t : f32
  }
  linalg.generic {indexing_maps = [#swapped, #row2], iterator_types = ["parallel", "parallel"]}
      ins(%sum : memref<16x16xf32>) outs(%y : memref<16x16xf32>) {
  ^bb0(%s: f32, %out: f32):
    linalg.yield %s : f32
  }
  memref.dealloc %sum : memref<16x16xf32>
  return
}

// -----

#rows = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#points = affine_map<(d0, d1, d2) -> (d0, d1)>
#first_row = affine_map<(d0, d1, d2) -> (0, 0, d2)>

// A buffer every warp reads (its first row) written by a later op of the
// group would race with the warps still reading it: no group. Neither may
// an op between them touch the group's buffers (a copy into the rows).
// CHECK-LABEL: func.func @shared_written
// CHECK: } {attn.kernel = "row_sums"}
// CHECK: } {attn.kernel = "generic"}
// CHECK-NOT: row_group
// CHECK-LABEL: func.func @touched_between
// CHECK: } {attn.kernel = "row_sums"}
// CHECK: gpu.memcpy
// CHECK: } {attn.kernel = "row_sums"}
// CHECK-NOT: row_group
func.func @shared_written(%x: memref<4x16x256xf32>, %w: memref<4x16x256xf32>, %s: memref<4x16xf32>) {
  linalg.generic {indexing_maps = [#rows, #first_row, #points], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<4x16x256xf32>, memref<4x16x256xf32>) outs(%s : memref<4x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %t = arith.addf %m, %acc : f32
    linalg.yield %t : f32
  }
  linalg.generic {indexing_maps = [#rows, #rows], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x : memref<4x16x256xf32>) outs(%w : memref<4x16x256xf32>) {
  ^bb0(%a: f32, %out: f32):
    linalg.yield %a : f32
  }
  return
}
func.func @touched_between(%x: memref<4x16x256xf32>, %x2: memref<4x16x256xf32>, %s: memref<4x16xf32>, %t: memref<4x16xf32>) {
  linalg.generic {indexing_maps = [#rows, #points], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<4x16x256xf32>) outs(%s : memref<4x16xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %a, %acc : f32
    linalg.yield %r : f32
  }
  memref.copy %x2, %x : memref<4x16x256xf32> to memref<4x16x256xf32>
  linalg.generic {indexing_maps = [#rows, #points], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<4x16x256xf32>) outs(%t : memref<4x16xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %a, %acc : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#row2 = affine_map<(d0, d1) -> (d0, d1)>
#point2 = affine_map<(d0, d1) -> (d0)>

// Elementwise ops alone run as well a thread per run each: no group. Nor
// does an elementwise op whose runs cover fewer lanes than a warp's (64
// f32 a row: 16 runs of 4) join a row sum.
// CHECK-LABEL: func.func @elementwise_alone
// CHECK: } {attn.kernel = "generic"}
// CHECK: } {attn.kernel = "generic"}
// CHECK-NOT: row_group
// CHECK-LABEL: func.func @narrow_rows
// CHECK: } {attn.kernel = "row_sums"}
// CHECK: } {attn.kernel = "generic"}
// CHECK-NOT: row_group
func.func @elementwise_alone(%x: memref<16x256xf32>, %y: memref<16x256xf32>, %z: memref<16x256xf32>) {
  linalg.generic {indexing_maps = [#row2, #row2], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<16x256xf32>) outs(%y : memref<16x256xf32>) {
  ^bb0(%a: f32, %out: f32):
    %t = arith.addf %a, %a : f32
    linalg.yield %t : f32
  }
  linalg.generic {indexing_maps = [#row2, #row2], iterator_types = ["parallel", "parallel"]}
      ins(%y : memref<16x256xf32>) outs(%z : memref<16x256xf32>) {
  ^bb0(%a: f32, %out: f32):
    %t = arith.mulf %a, %a : f32
    linalg.yield %t : f32
  }
  return
}
func.func @narrow_rows(%x: memref<64x64xf32>, %s: memref<64xf32>, %y: memref<64x64xf32>) {
  linalg.generic {indexing_maps = [#row2, #point2], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<64x64xf32>) outs(%s : memref<64xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %t = arith.addf %a, %acc : f32
    linalg.yield %t : f32
  }
  linalg.generic {indexing_maps = [#row2, #point2, #row2], iterator_types = ["parallel", "parallel"]}
      ins(%x, %s : memref<64x64xf32>, memref<64xf32>) outs(%y : memref<64x64xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %t = arith.subf %a, %b : f32
    linalg.yield %t : f32
  }
  return
}

// -----

#row2 = affine_map<(d0, d1) -> (d0, d1)>
#point2 = affine_map<(d0, d1) -> (d0)>

// A sum's zero fill starts it in registers -- but not where the sum reads
// the filled buffer as an input too: that read needs the fill in memory.
// CHECK-LABEL: func.func @fill_folded
// CHECK-NOT: gpu.memset
// CHECK: } {attn.kernel = "row_sums"}
// CHECK-LABEL: func.func @fill_read_as_input
// CHECK: gpu.memset %arg1
// CHECK: } {attn.kernel = "row_sums"}
func.func @fill_folded(%x: memref<16x256xf32>, %s: memref<16xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%s : memref<16xf32>)
  linalg.generic {indexing_maps = [#row2, #point2], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<16x256xf32>) outs(%s : memref<16xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %t = arith.addf %a, %acc : f32
    linalg.yield %t : f32
  }
  return
}
func.func @fill_read_as_input(%x: memref<16x256xf32>, %s: memref<16xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%s : memref<16xf32>)
  linalg.generic {indexing_maps = [#row2, #point2, #point2], iterator_types = ["parallel", "reduction"]}
      ins(%x, %s : memref<16x256xf32>, memref<16xf32>) outs(%s : memref<16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %t = arith.addf %m, %acc : f32
    linalg.yield %t : f32
  }
  return
}

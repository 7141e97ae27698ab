// The host's linalg ops become grids of 256-thread blocks, one thread per
// point of their parallel dimensions (the output's last fastest; a run of
// points along it where operands lie along it, moved as vectors; a
// reduction's thread takes up to 4 x 4 points of its last two where an
// input does not vary along them), reductions as loops in each thread
// carrying the outputs in registers; a fill of a whole buffer is a memset.
// RUN: attn-opt %s --attn-map-loops-to-gpu --canonicalize --cse | FileCheck %s

#id = affine_map<(d0, d1) -> (d0, d1)>
#prs = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#pr = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-LABEL: func.func @elementwise(
// CHECK-DAG: %[[C10:.*]] = arith.constant 10 : index
// CHECK-DAG: %[[C256:.*]] = arith.constant 256 : index
// CHECK-DAG: %[[C2400:.*]] = arith.constant 2400 : index
// CHECK: gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C10]], {{.*}}) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C256]],
// CHECK:   %[[BASE:.*]] = arith.muli %[[BX]], %[[C256]]
// CHECK:   %[[ID:.*]] = arith.addi %[[BASE]], %[[TX]]
// CHECK:   %[[IN:.*]] = arith.cmpi ult, %[[ID]], %[[C2400]]
// CHECK:   scf.if %[[IN]] {
// CHECK:     %[[J:.*]] = arith.remui %[[ID]], %c100
// CHECK:     %[[I:.*]] = arith.divui %[[ID]], %c100
// CHECK:     memref.load %arg0[%[[I]], %[[J]]]
// CHECK:     math.exp
// CHECK:     memref.store {{.*}}, %arg1[%[[I]], %[[J]]]
// The launch says what it computes (attn-name-kernels names it so).
// CHECK: } {attn.kernel = "generic"}
func.func @elementwise(%x: memref<24x100xf32>, %y: memref<24x100xf32>) {
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<24x100xf32>) outs(%y : memref<24x100xf32>) {
  ^bb0(%a: f32, %b: f32):
    %e = math.exp %a : f32
    linalg.yield %e : f32
  }
  return
}
// A reduction whose inputs each miss a parallel dimension takes 4 x 4
// points per thread (the last two parallel dimensions: the columns a run
// of 4, B and C lying along them) while the grid keeps 512 threads per
// multiprocessor (132 without attn.target: 67584): 1024 x 1056 points on
// 67584 threads, each loading its 16 outputs once (four rows of 16
// bytes), then per step 4 elements of A (one per row) and one run of 4 of
// B for its 16 multiply-adds, carried in registers; stored once.
// CHECK-LABEL: func.func @matmul(
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %c264, {{.*}}) threads({{.*}}) in (%{{.*}} = %c256,
// CHECK:   arith.cmpi ult, %{{.*}}, %c67584
// CHECK-COUNT-4: vector.load %arg2{{.*}} : memref<1024x1056xf32>, vector<4xf32>
// CHECK:   scf.for %{{.*}} = %c0 to %c32 step %c1 iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) {
// CHECK:     memref.load %arg0
// CHECK:     vector.load %arg1{{.*}} : memref<32x1056xf32>, vector<4xf32>
// CHECK-COUNT-3: memref.load %arg0
// CHECK-NOT:   memref.load
// CHECK-NOT:   vector.load
// CHECK-NOT:   memref.store
// CHECK:       scf.yield
// CHECK-COUNT-4: vector.store %{{.*}}, %arg2{{.*}} : memref<1024x1056xf32>, vector<4xf32>
func.func @matmul(%a: memref<1024x32xf32>, %b: memref<32x1056xf32>, %c: memref<1024x1056xf32>) {
  linalg.matmul ins(%a, %b : memref<1024x32xf32>, memref<32x1056xf32>) outs(%c : memref<1024x1056xf32>)
  return
}
// Fewer points, fewer per thread: 64 x 16 outputs take one thread each
// (1024 threads, each loading 1 + 1 elements per step).
// CHECK-LABEL: func.func @small_matmul(
// CHECK:   arith.cmpi ult, %{{.*}}, %c1024
// CHECK:   scf.for %{{.*}} = %c0 to %c32 step %c1 iter_args({{.*}}) -> (f32) {
// CHECK-COUNT-2: memref.load %arg{{[01]}}
// CHECK-NOT:   memref.load
func.func @small_matmul(%a: memref<64x32xf32>, %b: memref<32x16xf32>, %c: memref<64x16xf32>) {
  linalg.matmul ins(%a, %b : memref<64x32xf32>, memref<32x16xf32>) outs(%c : memref<64x16xf32>)
  return
}
// No parallel dimension: one thread.
// CHECK-LABEL: func.func @sum(
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %c1, %{{.*}} = %c1, %{{.*}} = %c1) threads(%[[T:.*]], %{{.*}}, %{{.*}}) in
// CHECK:   arith.cmpi ult, %[[T]], %c1
// CHECK:   scf.for {{.*}} iter_args
// CHECK: } {attn.kernel = "reduce"}
func.func @sum(%x: memref<24xf32>, %s: memref<f32>) {
  linalg.reduce ins(%x : memref<24xf32>) outs(%s : memref<f32>) dimensions = [0]
    (%in: f32, %acc: f32) {
      %t = arith.addf %in, %acc : f32
      linalg.yield %t : f32
    }
  return
}
// Few outputs, a long sum (a bias's gradient: 128 sums of 50 x 2048)
// whose input lies along the outputs: its 2048 rows in 2048 slices of one
// (a view [50, 2048, 1, 128] of the input: each thread's sum keeps 50
// terms), partial sums [2048, 128] from zero in a grid of 131072 threads,
// each two columns (a run of two, halved from 4 to keep the grid's
// threads) walking 50 rows. Threads side by side take columns side by side:
// a warp's loads are 64 consecutive elements. The 2048 partials of each
// output are a long sum again: 128 slices of 16 (16384 threads), then
// a warp per output adds its 128.
// CHECK-LABEL: func.func @long_sum(
// CHECK: %[[VIEW:.*]] = memref.expand_shape %arg0 {{\[\[}}0], [1, 2], [3]] output_shape [50, 2048, 1, 128]
// CHECK: %[[PARTIAL:.*]] = gpu.alloc () : memref<2048x128xf32>
// The partials' zero fill starts the sums in registers: no memset, no load.
// CHECK-NOT: gpu.memset
// CHECK: gpu.launch
// CHECK:   %[[ID:.*]] = arith.addi
// CHECK:   arith.cmpi ult, %[[ID]], %c131072
// CHECK:   %[[PAIR:.*]] = arith.remui %[[ID]], %c64
// CHECK:   %[[SLICE:.*]] = arith.divui %[[ID]], %c64
// CHECK:   %[[COL:.*]] = arith.muli %[[PAIR]], %c2
// CHECK:   scf.for %[[I:.*]] = %c0{{.*}} to %c50 step %c1{{.*}} iter_args(%{{.*}} = %[[ZERO:cst[_0-9]*]], %{{.*}} = %[[ZERO]])
// CHECK:     vector.load %[[VIEW]][%[[I]], %[[SLICE]], %c0, %[[COL]]] {alignment = 8 : i64} : memref<50x2048x1x128xf32>, vector<2xf32>
// CHECK: %[[VIEW2:.*]] = memref.expand_shape %[[PARTIAL]] {{\[\[}}0, 1], [2]] output_shape [128, 16, 128]
// CHECK: %[[PARTIAL2:.*]] = gpu.alloc () : memref<128x128xf32>
// CHECK: gpu.launch
// CHECK:   arith.cmpi ult, %{{.*}}, %c16384
// CHECK:   scf.for %{{.*}} = %c0{{.*}} to %c16
// CHECK:     memref.load %[[VIEW2]]
// The last round's 128 sums of 128 partials: a warp each (few enough that
// their warps fit in the grid), its lanes 32 partials apart.
// CHECK: gpu.launch
// CHECK:   %[[POINT:.*]] = arith.divui %{{.*}}, %c32
// CHECK:   %[[LANE:.*]] = arith.remui %{{.*}}, %c32
// CHECK:   arith.cmpi ult, %[[POINT]], %c128
// CHECK:   scf.for %[[S:.*]] = %[[LANE]] to %c128 step %c32
// CHECK:     memref.load %[[PARTIAL2]][%[[S]], %[[POINT]]]
// CHECK:   gpu.shuffle  xor
// CHECK:   memref.store %{{.*}}, %arg1[%[[POINT]]]
// CHECK: } {attn.kernel = "row_sums"}
// CHECK: gpu.dealloc %[[PARTIAL2]]
// CHECK: gpu.dealloc %[[PARTIAL]]
func.func @long_sum(%dy: memref<50x2048x128xf32>, %out: memref<128xf32>) {
  linalg.reduce ins(%dy : memref<50x2048x128xf32>) outs(%out : memref<128xf32>) dimensions = [0, 1]
    (%in: f32, %acc: f32) {
      %s = arith.addf %in, %acc : f32
      linalg.yield %s : f32
    }
  return
}
// A whole matrix summed into one number (a gradient's squared norm): its
// two reduction dimensions lie side by side (memref.collapse_shape: 524288
// terms), in 32768 interleaved slices of 16 -- slice s takes terms s,
// s + 32768, ..., so that threads side by side read side by side -- then
// 2048 sums of 16 partials, 128 sums of 16, and a warp's sum of 128.
// CHECK-LABEL: func.func @squared_norm(
// CHECK: %[[FLAT:.*]] = memref.collapse_shape %arg0 {{\[\[}}0, 1]] : memref<2048x256xf32> into memref<524288xf32>
// CHECK: %[[VIEW:.*]] = memref.expand_shape %[[FLAT]] {{\[\[}}0, 1]] output_shape [16, 32768]
// CHECK: %[[P1:.*]] = gpu.alloc () : memref<32768xf32>
// CHECK: gpu.launch
// CHECK:   %[[T:.*]] = arith.addi
// CHECK:   arith.cmpi ult, %[[T]], %c32768
// CHECK:   scf.for %[[K:.*]] = %c0 to %c16
// CHECK:     memref.load %[[VIEW]][%[[K]], %[[T]]]
// CHECK:   memref.store %{{.*}}, %[[P1]][%[[T]]]
// CHECK: %[[VIEW1:.*]] = memref.expand_shape %[[P1]] {{\[\[}}0, 1]] output_shape [16, 2048]
// CHECK: %[[P2:.*]] = gpu.alloc () : memref<2048xf32>
// CHECK: gpu.launch
// CHECK:   memref.load %[[VIEW1]]
// CHECK: %[[VIEW2:.*]] = memref.expand_shape %[[P2]] {{\[\[}}0, 1]] output_shape [16, 128]
// CHECK: %[[P3:.*]] = gpu.alloc () : memref<128xf32>
// CHECK: gpu.launch
// CHECK:   memref.load %[[VIEW2]]
// CHECK: gpu.launch
// CHECK:   vector.load %[[P3]]{{.*}} : memref<128xf32>, vector<4xf32>
// CHECK:   gpu.shuffle
// CHECK:   memref.store %{{.*}}, %arg1[]
// CHECK: } {attn.kernel = "row_sums"}
// CHECK: gpu.dealloc %[[P3]]
// CHECK: gpu.dealloc %[[P2]]
// CHECK: gpu.dealloc %[[P1]]
func.func @squared_norm(%g: memref<2048x256xf32>, %s: memref<f32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> ()>], iterator_types = ["reduction", "reduction"]}
      ins(%g : memref<2048x256xf32>) outs(%s : memref<f32>) {
  ^bb0(%x: f32, %acc: f32):
    %sq = arith.mulf %x, %x : f32
    %t = arith.addf %acc, %sq : f32
    linalg.yield %t : f32
  }
  return
}
// A long reduction that is not a sum (a maximum) keeps one thread per
// output.
// CHECK-LABEL: func.func @long_max(
// CHECK-NOT: expand_shape
// CHECK: gpu.launch
// CHECK:   arith.cmpi ult, %{{.*}}, %c128
// CHECK:   scf.for %{{.*}} = %c0{{.*}} to %c50
// CHECK:     scf.for %{{.*}} = %c0{{.*}} to %c2048
func.func @long_max(%dy: memref<50x2048x128xf32>, %out: memref<128xf32>) {
  linalg.reduce ins(%dy : memref<50x2048x128xf32>) outs(%out : memref<128xf32>) dimensions = [0, 1]
    (%in: f32, %acc: f32) {
      %s = arith.maximumf %in, %acc : f32
      linalg.yield %s : f32
    }
  return
}
// Every parallel dimension is a thread, wherever it sits: 4 x 16 threads,
// each looping over the reduction between them.
// CHECK-LABEL: func.func @middle_reduction(
// CHECK: gpu.launch
// CHECK:   arith.cmpi ult, %{{.*}}, %c64
// CHECK:   %[[J:.*]] = arith.remui %{{.*}}, %c16
// CHECK:   %[[I:.*]] = arith.divui %{{.*}}, %c16
// CHECK:   scf.for %[[K:.*]] = %c0 to %c8 step %c1 iter_args
// CHECK:     memref.load %arg0[%[[I]], %[[K]], %[[J]]]
// CHECK-NOT: scf.for
// CHECK: gpu.terminator
func.func @middle_reduction(%x: memref<4x8x16xf32>, %y: memref<4x16xf32>) {
  linalg.generic {indexing_maps = [#prs, #pr], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%x : memref<4x8x16xf32>) outs(%y : memref<4x16xf32>) {
  ^bb0(%a: f32, %b: f32):
    %t = arith.addf %a, %b : f32
    linalg.yield %t : f32
  }
  return
}
// CHECK-LABEL: func.func @fills(
// CHECK: gpu.memset %arg0
// CHECK: gpu.launch
// CHECK:   memref.store %{{.*}}, %{{.*}} : memref<24x50xf32, strided<[100, 1]>>
func.func @fills(%x: memref<24x100xf32>) {
  %zero = arith.constant 0.0 : f32
  %sub = memref.subview %x[0, 0] [24, 50] [1, 1] : memref<24x100xf32> to memref<24x50xf32, strided<[100, 1]>>
  linalg.fill ins(%zero : f32) outs(%x : memref<24x100xf32>)
  linalg.fill ins(%zero : f32) outs(%sub : memref<24x50xf32, strided<[100, 1]>>)
  return
}

// A copy between contiguous buffers is a device memcpy; one from a strided
// view (a CLS row, a slice) a grid like any linalg op.
// CHECK-LABEL: func.func @copies(
// CHECK: gpu.memcpy %arg1, %arg0
// CHECK: gpu.launch
// CHECK:   memref.load %{{.*}}[%{{.*}}, %{{.*}}] : memref<4x32xf32, strided<[1600, 1]>>
// CHECK:   memref.store %{{.*}}, %arg2[%{{.*}}, %{{.*}}] : memref<4x32xf32>
func.func @copies(%x: memref<4x50x32xf32>, %y: memref<4x50x32xf32>, %cls: memref<4x32xf32>) {
  memref.copy %x, %y : memref<4x50x32xf32> to memref<4x50x32xf32>
  %row = memref.subview %x[0, 0, 0] [4, 1, 32] [1, 1, 1] : memref<4x50x32xf32> to memref<4x32xf32, strided<[1600, 1]>>
  memref.copy %row, %cls : memref<4x32xf32, strided<[1600, 1]>> to memref<4x32xf32>
  return
}

// A contiguous view that starts inside its buffer (the second half's rows,
// an insert_slice) is copied by a grid too: gpu.memcpy's lowering drops
// the view's offset.
// CHECK-LABEL: func.func @copy_into_rows(
// CHECK-NOT: gpu.memcpy
// CHECK: gpu.launch
// CHECK:   memref.store %{{.*}}, %{{.*}} : memref<4x4xf32, strided<[4, 1], offset: 16>>
func.func @copy_into_rows(%a: memref<8x4xf32>, %b: memref<4x4xf32>) {
  %rows = memref.subview %a[4, 0] [4, 4] [1, 1] : memref<8x4xf32> to memref<4x4xf32, strided<[4, 1], offset: 16>>
  memref.copy %b, %rows : memref<4x4xf32> to memref<4x4xf32, strided<[4, 1], offset: 16>>
  return
}

// A constant table a host linalg op reads (a host global) is addressed
// inside the kernel, from the GPU module's copy, not passed as a host
// pointer.
memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
// CHECK-LABEL: func.func @reads_a_global(
// CHECK-NOT: memref.get_global
// CHECK: gpu.launch
// CHECK:   %[[T:.*]] = memref.get_global @table : memref<4xf32>
// CHECK:   memref.load %[[T]]
func.func @reads_a_global(%y: memref<8x4xf32>) {
  %t = memref.get_global @table : memref<4xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%t : memref<4xf32>) outs(%y : memref<8x4xf32>) {
  ^bb0(%a: f32, %b: f32):
    linalg.yield %a : f32
  }
  return
}
// Row sums (a layer norm's statistics: the mean's sum and the squares'
// about it, over the contiguous last dimension): a warp per row, each
// lane summing runs of 4 terms (16 bytes of g, f32, the narrower-running
// input) 128 apart from zero -- X's and g's runs as one vector load each --
// the lanes' sums added by butterfly shuffles, lane 0 adding the total to
// the output.
#rows3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#lead3 = affine_map<(d0, d1, d2) -> (d0, d1)>
#last3 = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-LABEL: func.func @row_sums(
// CHECK-SAME: %[[X:[^:]*]]: memref<4x100x96xbf16>, %[[G:[^:]*]]: memref<96xf32>, %[[S:[^:]*]]: memref<4x100xf32>, %[[Q:[^:]*]]: memref<4x100xf32>
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %c50, %{{.*}} = %c1, %{{.*}} = %c1) threads({{.*}}) in (%{{.*}} = %c256,
// CHECK:   %[[T:.*]] = arith.addi
// CHECK:   %[[W:.*]] = arith.divui %[[T]], %c32
// CHECK:   %[[LANE:.*]] = arith.remui %[[T]], %c32
// CHECK:   arith.cmpi ult, %[[W]], %c400
// CHECK:   %[[N:.*]] = arith.remui %[[W]], %c100
// CHECK:   %[[B:.*]] = arith.divui %[[W]], %c100
// CHECK:   %[[FIRST:.*]] = arith.muli %[[LANE]], %c4
// CHECK:   %[[SUMS:.*]]:2 = scf.for %[[K:.*]] = %[[FIRST]] to %c96 step %c128 iter_args(%{{.*}} = %cst, %{{.*}} = %cst) -> (f32, f32)
// CHECK:     vector.load %[[X]][%[[B]], %[[N]], %[[K]]] {alignment = 8 : i64} : memref<4x100x96xbf16>, vector<4xbf16>
// CHECK:     vector.load %[[G]][%[[K]]] {alignment = 16 : i64} : memref<96xf32>, vector<4xf32>
// CHECK-NOT: memref.load %[[X]]
// CHECK:   %[[A0:.*]], %{{.*}} = gpu.shuffle  xor %[[SUMS]]#0, %c16_i32, %c32_i32 : f32
// CHECK:   %[[A1:.*]] = arith.addf %[[SUMS]]#0, %[[A0]]
// CHECK:   gpu.shuffle  xor %[[A1]], %c8_i32
// CHECK-COUNT-3: gpu.shuffle  xor
// CHECK:   gpu.shuffle  xor %[[SUMS]]#1, %c16_i32
// CHECK-COUNT-4: gpu.shuffle  xor
// CHECK-NOT: gpu.shuffle
// CHECK:   arith.cmpi eq, %[[LANE]], %c0
// CHECK:     memref.load %[[S]][%[[B]], %[[N]]]
// CHECK:     memref.store %{{.*}}, %[[S]][%[[B]], %[[N]]]
// CHECK:     memref.store %{{.*}}, %[[Q]][%[[B]], %[[N]]]
// CHECK: } {attn.kernel = "row_sums"}
func.func @row_sums(%x: memref<4x100x96xbf16>, %g: memref<96xf32>, %s: memref<4x100xf32>, %q: memref<4x100xf32>) {
  linalg.generic {indexing_maps = [#rows3, #last3, #lead3, #lead3], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %g : memref<4x100x96xbf16>, memref<96xf32>) outs(%s, %q : memref<4x100xf32>, memref<4x100xf32>) {
  ^bb0(%a: bf16, %w: f32, %acc: f32, %acc2: f32):
    %f = arith.extf %a : bf16 to f32
    %t = arith.mulf %f, %w : f32
    %sum = arith.addf %acc, %t : f32
    %sq = arith.mulf %t, %t : f32
    %sum2 = arith.addf %acc2, %sq : f32
    linalg.yield %sum, %sum2 : f32, f32
  }
  return
}
// Not row sums: a product's operands (neither is a row per point: each
// is shared along one output dimension); a bf16 output; a short row.
// CHECK-LABEL: func.func @not_row_sums(
// CHECK-NOT: row_sums
// CHECK-NOT: gpu.shuffle
// CHECK: return
func.func @not_row_sums(%a: memref<64x128xf32>, %b: memref<32x128xf32>, %c: memref<64x32xf32>, %x: memref<100x96xf32>, %y: memref<100xbf16>, %z: memref<100x48xf32>, %w: memref<100xf32>) {
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<64x128xf32>, memref<32x128xf32>) outs(%c : memref<64x32xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %t = arith.mulf %p, %q : f32
    %sum = arith.addf %acc, %t : f32
    linalg.yield %sum : f32
  }
  linalg.reduce ins(%x : memref<100x96xf32>) outs(%y : memref<100xbf16>) dimensions = [1]
    (%in: f32, %acc: bf16) {
      %t = arith.truncf %in : f32 to bf16
      %s = arith.addf %t, %acc : bf16
      linalg.yield %s : bf16
    }
  linalg.reduce ins(%z : memref<100x48xf32>) outs(%w : memref<100xf32>) dimensions = [1]
    (%in: f32, %acc: f32) {
      %s = arith.addf %in, %acc : f32
      linalg.yield %s : f32
    }
  return
}

// An op without reductions takes a run of consecutive points along its
// fastest dimension per thread -- as many as 16 bytes of its narrowest
// operand lying along it hold, at most 8, dividing that dimension -- and
// moves each operand lying along it in aligned runs as one vector. One
// multiprocessor here: a grid wants 512 threads, so runs shorten below
// 512 x 8 points.
// RUN: attn-opt %s --attn-map-loops-to-gpu --canonicalize --cse | FileCheck %s

#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
#row = affine_map<(d0, d1) -> (d0)>
module attributes {attn.target = #attn.target<chip = "sm_90a", multiprocessors = 1>} {

// A projection's bias in bf16: runs of 8 (16 bytes), 64 x 512 points on
// 4096 threads; the input, the bias and the output each one vector a run.
// CHECK-LABEL: func.func @bias_in_runs(
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %c16, {{.*}}) threads({{.*}}) in (%{{.*}} = %c256,
// CHECK:   %[[ID:.*]] = arith.addi
// CHECK:   arith.cmpi ult, %[[ID]], %c4096
// CHECK:   %[[R:.*]] = arith.remui %[[ID]], %c64
// CHECK:   %[[I:.*]] = arith.divui %[[ID]], %c64
// CHECK:   %[[J:.*]] = arith.muli %[[R]], %c8
// CHECK-NOT: memref.load
// CHECK:   %[[X:.*]] = vector.load %arg0[%[[I]], %[[J]]] {alignment = 16 : i64} : memref<64x512xbf16>, vector<8xbf16>
// CHECK:   %[[B:.*]] = vector.load %arg1[%[[J]]] {alignment = 16 : i64} : memref<512xbf16>, vector<8xbf16>
// CHECK-COUNT-8: arith.addf
// CHECK-NOT: memref.load
// CHECK:   %[[Y:.*]] = vector.from_elements {{.*}} : vector<8xbf16>
// CHECK:   vector.store %[[Y]], %arg2[%[[I]], %[[J]]] {alignment = 16 : i64} : memref<64x512xbf16>, vector<8xbf16>
// CHECK-NOT: memref.store
// CHECK: } {attn.kernel = "generic"}
func.func @bias_in_runs(%x: memref<64x512xbf16>, %b: memref<512xbf16>, %y: memref<64x512xbf16>) {
  linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %b : memref<64x512xbf16>, memref<512xbf16>) outs(%y : memref<64x512xbf16>) {
  ^bb0(%a: bf16, %c: bf16, %o: bf16):
    %s = arith.addf %a, %c : bf16
    linalg.yield %s : bf16
  }
  return
}

// The narrowest operand sets the run: an f32 input to a bf16 output takes
// runs of 8, the input read as 32 bytes; a row's statistic, the same for
// the whole run, is loaded once.
// CHECK-LABEL: func.func @narrowest_sets_the_run(
// CHECK: gpu.launch
// CHECK:   vector.load %arg0[{{.*}}] {alignment = 32 : i64} : memref<64x512xf32>, vector<8xf32>
// CHECK:   memref.load %arg1[
// CHECK-NOT: memref.load
// CHECK-COUNT-8: arith.truncf
// CHECK:   vector.store {{.*}} {alignment = 16 : i64} : memref<64x512xbf16>, vector<8xbf16>
func.func @narrowest_sets_the_run(%x: memref<64x512xf32>, %s: memref<64xf32>, %y: memref<64x512xbf16>) {
  linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %s : memref<64x512xf32>, memref<64xf32>) outs(%y : memref<64x512xbf16>) {
  ^bb0(%a: f32, %m: f32, %o: bf16):
    %d = arith.mulf %a, %m : f32
    %t = arith.truncf %d : f32 to bf16
    linalg.yield %t : bf16
  }
  return
}

// The heads' transpose [b, n, h, d] -> [b, h, n, d]: d is the fastest
// dimension of both sides, so both move in runs of 8.
// CHECK-LABEL: func.func @head_transpose(
// CHECK: gpu.launch
// CHECK:   %[[V:.*]] = vector.load %arg0[{{.*}}] {alignment = 16 : i64} : memref<2x64x4x64xbf16>, vector<8xbf16>
// CHECK:   vector.store %[[V]], %arg1[{{.*}}] {alignment = 16 : i64} : memref<2x4x64x64xbf16>, vector<8xbf16>
// CHECK: } {attn.kernel = "transpose"}
func.func @head_transpose(%x: memref<2x64x4x64xbf16>, %y: memref<2x4x64x64xbf16>) {
  linalg.transpose ins(%x : memref<2x64x4x64xbf16>) outs(%y : memref<2x4x64x64xbf16>) permutation = [0, 2, 1, 3]
  return
}

// A transpose of the last two dimensions: the input does not lie along the
// output's fastest dimension, so it is read an element at a time (8 loads
// a run); the output is still stored as one vector.
// CHECK-LABEL: func.func @matrix_transpose(
// CHECK: gpu.launch
// CHECK-COUNT-8: memref.load %arg0
// CHECK:   vector.store {{.*}}, %arg1[{{.*}}] {alignment = 16 : i64} : memref<512x64xbf16>, vector<8xbf16>
func.func @matrix_transpose(%x: memref<64x512xbf16>, %y: memref<512x64xbf16>) {
  linalg.transpose ins(%x : memref<64x512xbf16>) outs(%y : memref<512x64xbf16>) permutation = [1, 0]
  return
}

// A view starting 4 elements into its buffer is not aligned to runs of 8:
// it is read an element at a time, the output still in runs.
// CHECK-LABEL: func.func @unaligned_view(
// CHECK: gpu.launch
// CHECK-COUNT-8: memref.load %{{.*}} : memref<64x512xbf16, strided<[1024, 1], offset: 4>>
// CHECK:   vector.store {{.*}} : memref<64x512xbf16>, vector<8xbf16>
func.func @unaligned_view(%x: memref<64x1024xbf16>, %y: memref<64x512xbf16>) {
  %v = memref.subview %x[0, 4] [64, 512] [1, 1] : memref<64x1024xbf16> to memref<64x512xbf16, strided<[1024, 1], offset: 4>>
  linalg.copy ins(%v : memref<64x512xbf16, strided<[1024, 1], offset: 4>>) outs(%y : memref<64x512xbf16>)
  return
}

// A constant table starts where its global's alignment says: without one
// it is read an element at a time; declared 64-byte aligned, in runs.
memref.global "private" constant @unaligned_table : memref<512xf32> = dense<1.0>
memref.global "private" constant @aligned_table : memref<512xf32> = dense<1.0> {alignment = 64 : i64}
// CHECK-LABEL: func.func @tables(
// CHECK: gpu.launch
// CHECK:   %[[U:.*]] = memref.get_global @unaligned_table
// CHECK-COUNT-4: memref.load %[[U]]
// CHECK:   vector.store {{.*}} : memref<64x512xf32>, vector<4xf32>
// CHECK: gpu.launch
// CHECK:   %[[A:.*]] = memref.get_global @aligned_table
// CHECK:   vector.load %[[A]][{{.*}}] {alignment = 16 : i64} : memref<512xf32>, vector<4xf32>
// CHECK-NOT: memref.load
// CHECK:   vector.store {{.*}} : memref<64x512xf32>, vector<4xf32>
func.func @tables(%y: memref<64x512xf32>, %z: memref<64x512xf32>) {
  %u = memref.get_global @unaligned_table : memref<512xf32>
  %a = memref.get_global @aligned_table : memref<512xf32>
  linalg.generic {indexing_maps = [#col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%u : memref<512xf32>) outs(%y : memref<64x512xf32>) {
  ^bb0(%t: f32, %o: f32):
    linalg.yield %t : f32
  }
  linalg.generic {indexing_maps = [#col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<512xf32>) outs(%z : memref<64x512xf32>) {
  ^bb0(%t: f32, %o: f32):
    linalg.yield %t : f32
  }
  return
}

// Runs divide the fastest dimension: 100 takes runs of 4 (8 bytes of
// bf16); 99 none.
// CHECK-LABEL: func.func @runs_divide_the_dimension(
// CHECK: gpu.launch
// CHECK:   vector.load %arg0[{{.*}}] {alignment = 8 : i64} : memref<256x100xbf16>, vector<4xbf16>
// CHECK:   vector.store {{.*}} {alignment = 8 : i64} : memref<256x100xbf16>, vector<4xbf16>
// CHECK: gpu.launch
// CHECK-NOT: vector.
// CHECK:   memref.load %arg2
// CHECK:   memref.store
// CHECK: return
func.func @runs_divide_the_dimension(%x: memref<256x100xbf16>, %y: memref<256x100xbf16>, %z: memref<256x99xbf16>, %w: memref<256x99xbf16>) {
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<256x100xbf16>) outs(%y : memref<256x100xbf16>) {
  ^bb0(%a: bf16, %o: bf16):
    %n = arith.negf %a : bf16
    linalg.yield %n : bf16
  }
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%z : memref<256x99xbf16>) outs(%w : memref<256x99xbf16>) {
  ^bb0(%a: bf16, %o: bf16):
    %n = arith.negf %a : bf16
    linalg.yield %n : bf16
  }
  return
}

// Too few points for runs: 8 x 64 points are 512 threads already.
// CHECK-LABEL: func.func @too_few_points(
// CHECK: gpu.launch
// CHECK-NOT: vector.
// CHECK:   arith.cmpi ult, %{{.*}}, %c512
// CHECK:   memref.load %arg0
// CHECK:   memref.store
// CHECK: return
func.func @too_few_points(%x: memref<8x64xf32>, %y: memref<8x64xf32>) {
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<8x64xf32>) outs(%y : memref<8x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    %e = math.exp %a : f32
    linalg.yield %e : f32
  }
  return
}

// An output the payload reads (an accumulation) comes in as a run too.
// CHECK-LABEL: func.func @reads_its_output(
// CHECK: gpu.launch
// CHECK-DAG: vector.load %arg0[{{.*}}] {alignment = 16 : i64} : memref<32x1024xf32>, vector<4xf32>
// CHECK-DAG: vector.load %arg1[{{.*}}] {alignment = 16 : i64} : memref<32x1024xf32>, vector<4xf32>
// CHECK-NOT: memref.load
// CHECK:   vector.store {{.*}}, %arg1[{{.*}}] {alignment = 16 : i64} : memref<32x1024xf32>, vector<4xf32>
func.func @reads_its_output(%x: memref<32x1024xf32>, %y: memref<32x1024xf32>) {
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<32x1024xf32>) outs(%y : memref<32x1024xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %a, %o : f32
    linalg.yield %s : f32
  }
  return
}

}

// The host's products' two forms behind attn-matmul-to-tensor-cores'
// options (--lower-to-gpu's persistent-products and product-column-sums),
// on sm_90a (the default target): persistent warpgroup products (off by
// default), and a column sum of the epilogue's output summed in the
// epilogue (on by default: SUMS). With both off neither happens (NEITHER).
// RUN: attn-opt %s --attn-matmul-to-tensor-cores="persistent=1 column-sums=1" --attn-allocate-shared-memory --canonicalize --cse | FileCheck %s
// RUN: attn-opt %s --attn-matmul-to-tensor-cores --attn-allocate-shared-memory --canonicalize --cse | FileCheck %s --check-prefix=SUMS
// RUN: attn-opt %s --attn-matmul-to-tensor-cores="column-sums=0" --attn-allocate-shared-memory --canonicalize --cse | FileCheck %s --check-prefix=NEITHER

// More tiles than a wave of two blocks a multiprocessor (132 x 4 = 528 >
// 264): the persistent form. One block a multiprocessor (132, the target's
// multiprocessors), each taking tile blockIdx.x and every 132nd after it,
// columns first; one loop over its tiles' steps of K (4 a tile), the
// copies two steps ahead crossing into the next tile; the accumulators
// start at a tile's first step and are stored at its last, through the
// epilogue's tile, which lies beside the stages (69632 bytes of 169952)
// so that the next tile's copies do not overwrite it.
// CHECK-LABEL: func.func @persistent_tiles_bf16(
// CHECK: gpu.launch blocks(%[[BLOCK:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c132, %{{.*}} = %c1, %{{.*}} = %c1) threads({{.*}}) in (%{{.*}} = %c256, {{.*}} dynamic_shared_memory_size %c169952_i32
// CHECK: %[[EPI:.*]] = memref.view %{{.*}}[%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<69632xi8, #gpu.address_space<workgroup>>
// CHECK: %[[LEFT:.*]] = arith.subi %c528, %[[BLOCK]] : index
// CHECK: %[[OWN:.*]] = arith.ceildivui %[[LEFT]], %c132 : index
// CHECK: %[[STEPS:.*]] = arith.muli %[[OWN]], %c4 : index
// CHECK: scf.for %[[S:.*]] = %c0 to %[[STEPS]] step %c1 iter_args(
// CHECK:   %[[AHEAD:.*]] = arith.addi %[[S]], %c2 : index
// CHECK:   scf.if
// CHECK:     %[[AT:.*]] = arith.divui %[[AHEAD]], %c4 : index
// CHECK:     %[[NTH:.*]] = arith.muli %[[AT]], %c132 : index
// CHECK:     arith.addi %[[BLOCK]], %[[NTH]] : index
// CHECK:     nvgpu.device_async_copy
// CHECK:   nvgpu.device_async_wait %{{.*}} {numGroups = 2 : i32}
// CHECK:   %[[K:.*]] = arith.remui %[[S]], %c4 : index
// CHECK:   %[[FIRST:.*]] = arith.cmpi eq, %[[K]], %c0 : index
// CHECK:   arith.select %[[FIRST]], %cst
// CHECK:   nvvm.wgmma.fence.aligned
// CHECK-COUNT-4: nvvm.wgmma.mma_async
// CHECK:   nvvm.wgmma.wait.group.sync.aligned 0
// CHECK:   %[[LAST:.*]] = arith.cmpi eq, %[[K]], %c3 : index
// CHECK:   scf.if %[[LAST]] {
// CHECK:     memref.view %[[EPI]][%c0][] {{.*}} to memref<128x136xf32, #gpu.address_space<workgroup>>
// CHECK:     gpu.barrier
// CHECK-COUNT-32: vector.store %{{.*}} : memref<128x136xf32, #gpu.address_space<workgroup>>, vector<2xf32>
// CHECK:     gpu.barrier
// CHECK-COUNT-16: vector.store %{{.*}} {alignment = 16 : i64} : memref<16896x512xf32>, vector<4xf32>
// CHECK:   }
// CHECK:   scf.yield
// CHECK: nvgpu.device_async_wait %{{.*}} {numGroups = 0 : i32}
// CHECK: } {attn.kernel = "tensor_core_matmul", attn.min_blocks_per_sm = 1 : i64}
// Without the option: column tiles on x, row tiles on y, two blocks a
// multiprocessor, a loop over one tile's steps.
// SUMS-LABEL: func.func @persistent_tiles_bf16(
// SUMS: attn.min_blocks_per_sm = 2 : i64
// NEITHER-LABEL: func.func @persistent_tiles_bf16(
// NEITHER: gpu.launch blocks({{.*}}) in (%{{.*}} = %c4, %{{.*}} = %c132, %{{.*}} = %c1) threads({{.*}}) in (%{{.*}} = %c256, {{.*}} dynamic_shared_memory_size %c100320_i32
// NEITHER: scf.for %{{.*}} = %c0 to %c4 step %c1
// NEITHER: } {attn.kernel = "tensor_core_matmul", attn.min_blocks_per_sm = 2 : i64}
func.func @persistent_tiles_bf16(%a: memref<16896x256xbf16>, %b: memref<256x512xbf16>) -> memref<16896x512xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<16896x512xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<16896x512xf32>)
  linalg.matmul ins(%a, %b : memref<16896x256xbf16>, memref<256x512xbf16>) outs(%c : memref<16896x512xf32>)
  return %c : memref<16896x512xf32>
}

// A bias's gradient, the column sums of the consumer's output (a
// linalg.reduce over its rows), comes into the epilogue: each thread adds
// up the reduce's terms (its body, extf and addf) of its runs' rows as it
// stores them -- rows past M (16900) adding none -- then the block's
// threads' sums go through a shared [16, 128] table, each of 128 threads
// adds one column of it into the tile's row of a [133, 1024] buffer of
// partial sums, and a sum of those 133 rows (as a split product's ranges
// are added up) replaces the reduce of the 16900 of the output. The
// output is still stored for its other readers.
// Here in the persistent form (266 tiles).
// CHECK-LABEL: func.func @bias_gradient_in_epilogue(
// CHECK-DAG: %[[PARTIALS:.*]] = memref.alloc() : memref<133x1024xf32>
// CHECK-DAG: %[[DH:.*]] = memref.alloc() : memref<16900x1024xbf16>
// CHECK: gpu.launch {{.*}} dynamic_shared_memory_size %c178144_i32
// CHECK: scf.for
// CHECK: nvvm.wgmma.mma_async
// CHECK: %[[TERMS:.*]]:8 = scf.if %{{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32) {
// CHECK:   vector.store %{{.*}}, %[[DH]][%{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<16900x1024xbf16>, vector<8xbf16>
// CHECK-COUNT-8: arith.addf
// CHECK:   scf.yield
// CHECK: } else {
// CHECK:   scf.yield %cst, %cst, %cst, %cst, %cst, %cst, %cst, %cst
// CHECK: %[[TABLE:.*]] = memref.view {{.*}} to memref<16x128xf32, #gpu.address_space<workgroup>>
// CHECK: vector.store %{{.*}}, %[[TABLE]][%{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<16x128xf32, #gpu.address_space<workgroup>>, vector<8xf32>
// CHECK-NEXT: gpu.barrier
// CHECK: scf.if
// CHECK-COUNT-16: memref.load %[[TABLE]]
// CHECK: memref.store %{{.*}}, %[[PARTIALS]][%{{.*}}, %{{.*}}] : memref<133x1024xf32>
// CHECK: %[[DB:.*]] = memref.alloc() : memref<1024xf32>
// CHECK-NEXT: linalg.fill ins(%cst{{.*}} : f32) outs(%[[DB]] : memref<1024xf32>)
// CHECK-NEXT: linalg.generic {{{.*}} iterator_types = ["parallel", "reduction"]} ins(%[[PARTIALS]] : memref<133x1024xf32>) outs(%[[DB]] : memref<1024xf32>)
// CHECK: arith.addf
// CHECK: memref.dealloc %[[PARTIALS]]
// CHECK-NOT: linalg.reduce
// Column sums alone: the same sums in the other form's blocks (8 x 133 of
// them, two a multiprocessor), each storing its tile's row once.
// SUMS-LABEL: func.func @bias_gradient_in_epilogue(
// SUMS: %[[PARTIALS:.*]] = memref.alloc() : memref<133x1024xf32>
// SUMS: gpu.launch blocks({{.*}}) in (%{{.*}} = %c8, %{{.*}} = %c133, %{{.*}} = %c1)
// SUMS: memref<16x128xf32, #gpu.address_space<workgroup>>
// SUMS: memref.store %{{.*}}, %[[PARTIALS]][%{{.*}}, %{{.*}}] : memref<133x1024xf32>
// SUMS: attn.min_blocks_per_sm = 2 : i64
// SUMS: linalg.generic {{.*}} ins(%[[PARTIALS]] : memref<133x1024xf32>)
// With the option off the reduce reads the product's output.
// NEITHER-LABEL: func.func @bias_gradient_in_epilogue(
// NEITHER: %[[DH:.*]] = memref.alloc() : memref<16900x1024xbf16>
// NEITHER: gpu.launch
// NEITHER-NOT: memref<16x128xf32
// NEITHER: linalg.reduce ins(%[[DH]] : memref<16900x1024xbf16>) outs(%{{.*}} : memref<1024xf32>) dimensions = [0]
func.func @bias_gradient_in_epilogue(%dy: memref<16900x256xbf16>, %w: memref<256x1024xbf16>, %h: memref<16900x1024xbf16>) -> (memref<16900x1024xbf16>, memref<1024xf32>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<16900x1024xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<16900x1024xf32>)
  linalg.matmul ins(%dy, %w : memref<16900x256xbf16>, memref<256x1024xbf16>) outs(%c : memref<16900x1024xf32>)
  %dh = memref.alloc() : memref<16900x1024xbf16>
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%c, %h : memref<16900x1024xf32>, memref<16900x1024xbf16>) outs(%dh : memref<16900x1024xbf16>) {
  ^bb0(%s: f32, %x: bf16, %o: bf16):
    %xf = arith.extf %x : bf16 to f32
    %v = arith.mulf %s, %xf : f32
    %t = arith.truncf %v : f32 to bf16
    linalg.yield %t : bf16
  }
  memref.dealloc %c : memref<16900x1024xf32>
  %db = memref.alloc() : memref<1024xf32>
  linalg.fill ins(%zero : f32) outs(%db : memref<1024xf32>)
  linalg.reduce ins(%dh : memref<16900x1024xbf16>) outs(%db : memref<1024xf32>) dimensions = [0]
    (%in: bf16, %init: f32) {
      %e = arith.extf %in : bf16 to f32
      %a = arith.addf %e, %init : f32
      linalg.yield %a : f32
    }
  return %dh, %db : memref<16900x1024xbf16>, memref<1024xf32>
}

// Between the consumer and the reduce, an op that writes another buffer (an
// argument of the function) leaves the sum to the epilogue; one that writes
// a view of the output does not (the reduce must read what it wrote).
// CHECK-LABEL: func.func @column_sum_past_other_writes(
// SUMS-LABEL: func.func @column_sum_past_other_writes(
// SUMS: memref.alloc() : memref<132x256xf32>
// SUMS: gpu.launch
// SUMS: memref<16x128xf32, #gpu.address_space<workgroup>>
// SUMS: linalg.fill ins(%{{.*}} : f32) outs(%arg3 : memref<256xf32>)
// SUMS: linalg.generic {{.*}} ins(%{{.*}} : memref<132x256xf32>)
// NEITHER-LABEL: func.func @column_sum_past_other_writes(
// NEITHER-NOT: memref<132x256xf32>
// NEITHER: linalg.reduce ins(%{{.*}} : memref<16896x256xbf16>)
func.func @column_sum_past_other_writes(%dy: memref<16896x256xbf16>, %w: memref<256x256xbf16>, %h: memref<16896x256xbf16>, %other: memref<256xf32>) -> (memref<16896x256xbf16>, memref<256xf32>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<16896x256xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<16896x256xf32>)
  linalg.matmul ins(%dy, %w : memref<16896x256xbf16>, memref<256x256xbf16>) outs(%c : memref<16896x256xf32>)
  %dh = memref.alloc() : memref<16896x256xbf16>
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%c, %h : memref<16896x256xf32>, memref<16896x256xbf16>) outs(%dh : memref<16896x256xbf16>) {
  ^bb0(%s: f32, %x: bf16, %o: bf16):
    %xf = arith.extf %x : bf16 to f32
    %v = arith.mulf %s, %xf : f32
    %t = arith.truncf %v : f32 to bf16
    linalg.yield %t : bf16
  }
  memref.dealloc %c : memref<16896x256xf32>
  linalg.fill ins(%zero : f32) outs(%other : memref<256xf32>)
  %db = memref.alloc() : memref<256xf32>
  linalg.fill ins(%zero : f32) outs(%db : memref<256xf32>)
  linalg.reduce ins(%dh : memref<16896x256xbf16>) outs(%db : memref<256xf32>) dimensions = [0]
    (%in: bf16, %init: f32) {
      %e = arith.extf %in : bf16 to f32
      %a = arith.addf %e, %init : f32
      linalg.yield %a : f32
    }
  return %dh, %db : memref<16896x256xbf16>, memref<256xf32>
}

// SUMS-LABEL: func.func @column_sum_after_output_written(
// SUMS-NOT: memref<16x128xf32
// SUMS: linalg.reduce ins(%{{.*}} : memref<16896x256xbf16>)
func.func @column_sum_after_output_written(%dy: memref<16896x256xbf16>, %w: memref<256x256xbf16>) -> (memref<16896x256xbf16>, memref<256xf32>) {
  %zero = arith.constant 0.0 : f32
  %zero16 = arith.constant 0.0 : bf16
  %c = memref.alloc() : memref<16896x256xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<16896x256xf32>)
  linalg.matmul ins(%dy, %w : memref<16896x256xbf16>, memref<256x256xbf16>) outs(%c : memref<16896x256xf32>)
  %dh = memref.alloc() : memref<16896x256xbf16>
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<16896x256xf32>) outs(%dh : memref<16896x256xbf16>) {
  ^bb0(%s: f32, %o: bf16):
    %t = arith.truncf %s : f32 to bf16
    linalg.yield %t : bf16
  }
  memref.dealloc %c : memref<16896x256xf32>
  %rows = memref.subview %dh[0, 0] [8, 256] [1, 1] : memref<16896x256xbf16> to memref<8x256xbf16, strided<[256, 1]>>
  linalg.fill ins(%zero16 : bf16) outs(%rows : memref<8x256xbf16, strided<[256, 1]>>)
  %db = memref.alloc() : memref<256xf32>
  linalg.fill ins(%zero : f32) outs(%db : memref<256xf32>)
  linalg.reduce ins(%dh : memref<16896x256xbf16>) outs(%db : memref<256xf32>) dimensions = [0]
    (%in: bf16, %init: f32) {
      %e = arith.extf %in : bf16 to f32
      %a = arith.addf %e, %init : f32
      linalg.yield %a : f32
    }
  return %dh, %db : memref<16896x256xbf16>, memref<256xf32>
}

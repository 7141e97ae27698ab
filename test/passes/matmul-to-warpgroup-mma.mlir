// On sm_90a (the default target) a large 16-bit product whose operands are
// copied by cp.async runs on warpgroup MMA: two warpgroups per 128 x 128
// tile of C, each 64 x 128 as wgmma.mma_async.m64n128k16 from shared
// memory, K in steps of 64 through three stages of 128-byte swizzled tiles
// (16 KiB each operand, placed at a multiple of 1024 bytes at run time:
// 1008 bytes of slack a buffer), read by the descriptors as they lie --
// A transposed ("col") where a transpose wrote it, B transposed ("row")
// unless it was. Other products keep mma.sync (matmul-to-tensor-cores.mlir,
// compiled for sm_80).
// RUN: attn-opt %s --attn-matmul-to-tensor-cores --attn-allocate-shared-memory --canonicalize --cse | FileCheck %s

// A projection's product over many rows: A [M, K] as it lies (K-major), B
// [K, N] read transposed (N-major). Each step: the copies of two steps
// ahead, the wait for this one's, the async proxy's fence and a barrier,
// four products (one per 16 of K) issued and waited for, the accumulators
// pinned on both sides (pinRegisters).
// Column tiles on grid x, row tiles on y: the 8 blocks of one row tile of
// A run together.
// CHECK-LABEL: func.func @large_tiles_bf16(
// CHECK: gpu.launch blocks(%[[COLS:.*]], %[[ROWS:.*]], %{{.*}}) in (%{{.*}} = %c8, %{{.*}} = %c33, %{{.*}} = %c1) threads({{.*}}) in (%{{.*}} = %c256, {{.*}} dynamic_shared_memory_size %c100320_i32
// CHECK: %[[ABUF:.*]] = memref.view %{{.*}} to memref<50160xi8, #gpu.address_space<workgroup>>
// CHECK: %[[BBUF:.*]] = memref.view %{{.*}} to memref<50160xi8, #gpu.address_space<workgroup>>
// CHECK-DAG: arith.muli %[[ROWS]], %c128
// CHECK-DAG: arith.muli %[[COLS]], %c128
// CHECK: memref.extract_aligned_pointer_as_index %[[ABUF]]
// CHECK: memref.extract_aligned_pointer_as_index %[[BBUF]]
// CHECK: nvgpu.device_async_copy {{.*}} : memref<4224x256xbf16> to memref<8192xbf16, #gpu.address_space<workgroup>>
// CHECK: scf.for %{{.*}} = %c0 to %c4 step %c1 iter_args(
// CHECK:   gpu.barrier
// CHECK:   nvgpu.device_async_wait %{{.*}} {numGroups = 2 : i32}
// CHECK: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK-NEXT: gpu.barrier
// CHECK:   llvm.inline_asm has_side_effects "", "=f,{{.*}}" {{.*}} -> !llvm.struct<(f32,
// CHECK-NEXT: llvm.extractvalue
// CHECK:   nvvm.wgmma.fence.aligned
// CHECK-COUNT-4: nvvm.wgmma.mma_async {{.*}}, <m = 64, n = 128, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <row>]
// CHECK: nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK-NEXT: llvm.inline_asm has_side_effects "", "=f,{{.*}}"
// The epilogue through shared memory: after a barrier the 64 sums of a
// thread as 32 pairs into the [128, 136] f32 tile (over the stages), a
// barrier, then rows read back 4 columns a thread and stored as 16 bytes
// (whole tiles: no bounds checks).
// CHECK: nvgpu.device_async_wait %{{.*}} {numGroups = 0 : i32}
// CHECK: gpu.barrier
// CHECK-COUNT-32: vector.store %{{.*}}, %[[CT:.*]][%{{.*}}, %{{.*}}] {alignment = 8 : i64} : memref<128x136xf32, #gpu.address_space<workgroup>>, vector<2xf32>
// CHECK: gpu.barrier
// CHECK-NOT: scf.if
// CHECK-COUNT-16: vector.store %{{.*}}, %{{.*}} {alignment = 16 : i64} : memref<4224x1024xf32>, vector<4xf32>
// CHECK-NOT: nvvm.mma.sync
// CHECK: } {attn.kernel = "tensor_core_matmul", attn.min_blocks_per_sm = 2 : i64}
func.func @large_tiles_bf16(%a: memref<4224x256xbf16>, %b: memref<256x1024xbf16>) -> memref<4224x1024xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<4224x1024xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<4224x1024xf32>)
  linalg.matmul ins(%a, %b : memref<4224x256xbf16>, memref<256x1024xbf16>) outs(%c : memref<4224x1024xf32>)
  return %c : memref<4224x1024xf32>
}

// A projection with its bias (C's consumer, bf16 out): the epilogue reads
// 8 columns a thread from the shared tile, adds the bias (its 8 columns as
// one 16-byte load) and stores 16 bytes of bf16; M (16900) is not a
// multiple of the tile: each run checked.
// CHECK-LABEL: func.func @projection_bias_bf16(
// CHECK: %[[Y:.*]] = memref.alloc() : memref<16900x256xbf16>
// CHECK: gpu.launch
// CHECK: nvvm.wgmma.mma_async
// CHECK: gpu.barrier
// CHECK: scf.if
// CHECK: vector.load %arg2[%{{.*}}] {alignment = 16 : i64} : memref<256xbf16>, vector<8xbf16>
// CHECK-NOT: memref.load
// CHECK: vector.store %{{.*}}, %[[Y]][%{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<16900x256xbf16>, vector<8xbf16>
// CHECK: } {attn.kernel = "tensor_core_matmul"
func.func @projection_bias_bf16(%x: memref<16900x256xbf16>, %w: memref<256x256xbf16>, %bias: memref<256xbf16>) -> memref<16900x256xbf16> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<16900x256xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<16900x256xf32>)
  linalg.matmul ins(%x, %w : memref<16900x256xbf16>, memref<256x256xbf16>) outs(%c : memref<16900x256xf32>)
  %y = memref.alloc() : memref<16900x256xbf16>
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%c, %bias : memref<16900x256xf32>, memref<256xbf16>) outs(%y : memref<16900x256xbf16>) {
  ^bb0(%s: f32, %b: bf16, %o: bf16):
    %bf = arith.extf %b : bf16 to f32
    %v = arith.addf %s, %bf : f32
    %t = arith.truncf %v : f32 to bf16
    linalg.yield %t : bf16
  }
  memref.dealloc %c : memref<16900x256xf32>
  return %y : memref<16900x256xbf16>
}

// A consumer with a residual read along the rows (a fused dropout and
// residual add) and one read down the columns (its map transposed): the
// epilogue reads the residual's 8 columns of a run as one 16-byte load,
// the other an element at a time.
// CHECK-LABEL: func.func @residual_and_transposed_operand(
// CHECK: gpu.launch
// CHECK: nvvm.wgmma.mma_async
// CHECK: scf.if
// CHECK: vector.load %arg2[%{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<16900x256xbf16>, vector<8xbf16>
// CHECK-COUNT-8: memref.load %arg3
// CHECK: vector.store %{{.*}} {alignment = 16 : i64} : memref<16900x256xbf16>, vector<8xbf16>
// CHECK: } {attn.kernel = "tensor_core_matmul"
func.func @residual_and_transposed_operand(%x: memref<16900x256xbf16>, %w: memref<256x256xbf16>, %r: memref<16900x256xbf16>, %t: memref<256x16900xbf16>) -> memref<16900x256xbf16> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<16900x256xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<16900x256xf32>)
  linalg.matmul ins(%x, %w : memref<16900x256xbf16>, memref<256x256xbf16>) outs(%c : memref<16900x256xf32>)
  %y = memref.alloc() : memref<16900x256xbf16>
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%c, %r, %t : memref<16900x256xf32>, memref<16900x256xbf16>, memref<256x16900xbf16>) outs(%y : memref<16900x256xbf16>) {
  ^bb0(%s: f32, %a: bf16, %b: bf16, %o: bf16):
    %af = arith.extf %a : bf16 to f32
    %bf = arith.extf %b : bf16 to f32
    %v = arith.addf %s, %af : f32
    %u = arith.mulf %v, %bf : f32
    %q = arith.truncf %u : f32 to bf16
    linalg.yield %q : bf16
  }
  memref.dealloc %c : memref<16900x256xf32>
  return %y : memref<16900x256xbf16>
}

// Whole tiles (M = 132 x 128): the consumer's residual runs of all eight
// passes over the tile's rows are read before the first store, so that the
// loads need not wait for stores the compiler cannot tell apart from them.
// CHECK-LABEL: func.func @residual_whole_tiles(
// CHECK: nvvm.wgmma.mma_async
// CHECK: gpu.barrier
// CHECK-COUNT-8: vector.load %arg2[%{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<16896x256xbf16>, vector<8xbf16>
// CHECK-NOT: vector.load %arg2
// CHECK-COUNT-8: vector.store %{{.*}} {alignment = 16 : i64} : memref<16896x256xbf16>, vector<8xbf16>
// CHECK: } {attn.kernel = "tensor_core_matmul"
func.func @residual_whole_tiles(%x: memref<16896x256xbf16>, %w: memref<256x256xbf16>, %r: memref<16896x256xbf16>) -> memref<16896x256xbf16> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<16896x256xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<16896x256xf32>)
  linalg.matmul ins(%x, %w : memref<16896x256xbf16>, memref<256x256xbf16>) outs(%c : memref<16896x256xf32>)
  %y = memref.alloc() : memref<16896x256xbf16>
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%c, %r : memref<16896x256xf32>, memref<16896x256xbf16>) outs(%y : memref<16896x256xbf16>) {
  ^bb0(%s: f32, %a: bf16, %o: bf16):
    %af = arith.extf %a : bf16 to f32
    %v = arith.addf %s, %af : f32
    %q = arith.truncf %v : f32 to bf16
    linalg.yield %q : bf16
  }
  memref.dealloc %c : memref<16896x256xf32>
  return %y : memref<16896x256xbf16>
}

// A consumer with two outputs (the FFN's pre-activation and its GELU):
// the epilogue stores each run to both.
// CHECK-LABEL: func.func @two_outputs(
// CHECK: %[[H:.*]] = memref.alloc() : memref<16896x256xbf16>
// CHECK: %[[G:.*]] = memref.alloc() : memref<16896x256xbf16>
// CHECK: nvvm.wgmma.mma_async
// CHECK: math.erf
// CHECK: vector.store %{{.*}}, %[[H]][%{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<16896x256xbf16>, vector<8xbf16>
// CHECK: vector.store %{{.*}}, %[[G]][%{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<16896x256xbf16>, vector<8xbf16>
// CHECK: } {attn.kernel = "tensor_core_matmul"
func.func @two_outputs(%x: memref<16896x256xbf16>, %w: memref<256x256xbf16>) -> (memref<16896x256xbf16>, memref<16896x256xbf16>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<16896x256xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<16896x256xf32>)
  linalg.matmul ins(%x, %w : memref<16896x256xbf16>, memref<256x256xbf16>) outs(%c : memref<16896x256xf32>)
  %h = memref.alloc() : memref<16896x256xbf16>
  %g = memref.alloc() : memref<16896x256xbf16>
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<16896x256xf32>) outs(%h, %g : memref<16896x256xbf16>, memref<16896x256xbf16>) {
  ^bb0(%s: f32, %o: bf16, %p: bf16):
    %t = arith.truncf %s : f32 to bf16
    %e = math.erf %s : f32
    %u = arith.truncf %e : f32 to bf16
    linalg.yield %t, %u : bf16, bf16
  }
  memref.dealloc %c : memref<16896x256xf32>
  return %h, %g : memref<16896x256xbf16>, memref<16896x256xbf16>
}

// A weight's gradient X^T dY: A read from X as it lies ([K, M]: M-major,
// "col"), K split into 64 ranges (of 4 steps of 64) whose partial sums are
// added after the kernel.
// CHECK-LABEL: func.func @weight_gradient_bf16(
// CHECK: %[[P:.*]] = memref.alloc() : memref<64x256x256xf32>
// CHECK-NOT: linalg.transpose
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %c2, %{{.*}} = %c2, %{{.*}} = %c64) threads({{.*}}) in (%{{.*}} = %c256,
// CHECK: scf.for %{{.*}} = %c0 to %c4 step %c1
// CHECK-COUNT-4: nvvm.wgmma.mma_async {{.*}}, A[<bf16>, <one>, <col>], B[<bf16>, <one>, <row>]
// CHECK: vector.store %{{.*}}, %[[P]][%{{.*}}, %{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<64x256x256xf32>, vector<4xf32>
// CHECK: } {attn.kernel = "tensor_core_matmul", attn.min_blocks_per_sm = 2 : i64}
// CHECK: linalg.generic {{.*}} ins(%[[P]] : memref<64x256x256xf32>)
func.func @weight_gradient_bf16(%x: memref<16384x256xbf16>, %dy: memref<16384x256xbf16>) -> memref<256x256xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<256x256xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<256x256xf32>)
  %xt = memref.alloc() : memref<256x16384xbf16>
  linalg.transpose ins(%x : memref<16384x256xbf16>) outs(%xt : memref<256x16384xbf16>) permutation = [1, 0]
  linalg.matmul ins(%xt, %dy : memref<256x16384xbf16>, memref<16384x256xbf16>) outs(%c : memref<256x256xf32>)
  memref.dealloc %xt : memref<256x16384xbf16>
  return %c : memref<256x256xf32>
}

// The same over the training step's 49152 tokens: 64 ranges of 12 steps
// (256 blocks, within an eighth of two a multiprocessor on 132: one wave),
// not 128 of 6 (two waves, twice the partial sums).
// CHECK-LABEL: func.func @weight_gradient_one_wave(
// CHECK: %[[P:.*]] = memref.alloc() : memref<64x256x256xf32>
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %c2, %{{.*}} = %c2, %{{.*}} = %c64) threads({{.*}}) in (%{{.*}} = %c256,
// CHECK: scf.for %{{.*}} = %c0 to %c12 step %c1
// CHECK: linalg.generic {{.*}} ins(%[[P]] : memref<64x256x256xf32>)
func.func @weight_gradient_one_wave(%x: memref<49152x256xbf16>, %dy: memref<49152x256xbf16>) -> memref<256x256xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<256x256xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<256x256xf32>)
  %xt = memref.alloc() : memref<256x49152xbf16>
  linalg.transpose ins(%x : memref<49152x256xbf16>) outs(%xt : memref<256x49152xbf16>) permutation = [1, 0]
  linalg.matmul ins(%xt, %dy : memref<256x49152xbf16>, memref<49152x256xbf16>) outs(%c : memref<256x256xf32>)
  memref.dealloc %xt : memref<256x49152xbf16>
  return %c : memref<256x256xf32>
}

// An input's gradient dY W^T: B read from W as it lies ([N, K]: K-major,
// "col").
// CHECK-LABEL: func.func @input_gradient_bf16(
// CHECK-NOT: linalg.transpose
// CHECK: gpu.launch
// CHECK-COUNT-4: nvvm.wgmma.mma_async {{.*}}, A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>]
// CHECK: } {attn.kernel = "tensor_core_matmul"
func.func @input_gradient_bf16(%dy: memref<8192x1024xbf16>, %w: memref<256x1024xbf16>) -> memref<8192x256xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<8192x256xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<8192x256xf32>)
  %wt = memref.alloc() : memref<1024x256xbf16>
  linalg.transpose ins(%w : memref<256x1024xbf16>) outs(%wt : memref<1024x256xbf16>) permutation = [1, 0]
  linalg.matmul ins(%dy, %wt : memref<8192x1024xbf16>, memref<1024x256xbf16>) outs(%c : memref<8192x256xf32>)
  memref.dealloc %wt : memref<1024x256xbf16>
  return %c : memref<8192x256xf32>
}

// Operands whose rows are not whole 16-byte runs (K = 70) are staged
// through registers: mma.sync, as on sm_80.
// CHECK-LABEL: func.func @unaligned_rows_bf16(
// CHECK-NOT: nvvm.wgmma
// CHECK: nvvm.mma.sync {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK: } {attn.kernel = "tensor_core_matmul"
func.func @unaligned_rows_bf16(%a: memref<4224x70xbf16>, %b: memref<70x1024xbf16>) -> memref<4224x1024xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<4224x1024xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<4224x1024xf32>)
  linalg.matmul ins(%a, %b : memref<4224x70xbf16>, memref<70x1024xbf16>) outs(%c : memref<4224x1024xf32>)
  return %c : memref<4224x1024xf32>
}

// f32 operands stay 3xTF32 on mma.sync.
// CHECK-LABEL: func.func @large_f32(
// CHECK-NOT: nvvm.wgmma
// CHECK: nvvm.mma.sync {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 8>
// CHECK: } {attn.kernel = "tensor_core_matmul"
func.func @large_f32(%a: memref<4224x256xf32>, %b: memref<256x1024xf32>) -> memref<4224x1024xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<4224x1024xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<4224x1024xf32>)
  linalg.matmul ins(%a, %b : memref<4224x256xf32>, memref<256x1024xf32>) outs(%c : memref<4224x1024xf32>)
  return %c : memref<4224x1024xf32>
}

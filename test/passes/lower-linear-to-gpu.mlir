// Non-causal linear attention through each step of --lower-to-gpu, then the
// whole pipeline: bf16 with elu + 1 on tensor cores, f32 with FAVOR+'s
// projection per lane.
// RUN: attn-opt %s --attn-tile=rows-per-instance=16 --canonicalize | FileCheck %s --check-prefix=TILE
// RUN: attn-opt %s --attn-tile=rows-per-instance=16 --canonicalize --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --attn-map-loops-to-gpu=lanes-per-iteration=32 | FileCheck %s --check-prefix=MAP
// RUN: attn-opt %s --attn-tile=rows-per-instance=16 --canonicalize --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --buffer-results-to-out-params="hoist-static-allocs modify-public-functions" --attn-map-loops-to-gpu=lanes-per-iteration=32 --attn-convert-tiles-to-gpu | FileCheck %s --check-prefix=WARP
// RUN: attn-opt %s --lower-to-gpu="format=isa" | FileCheck %s --check-prefix=PTX
// RUN: %if ptxas %{ attn-opt %s --lower-to-gpu | FileCheck %s --check-prefix=CUBIN %}

// The GPU form: the state and normaliser zeroed in buffers, one reduction
// instance per (batch, head, split of the keys) and 16-feature slice (the
// slice of the keys' columns), atomic; then one output instance per 16
// query rows of each 64-row tile, reading the whole state.
// TILE-LABEL: func.func @linear_bf16(
// TILE: %[[STATE:.*]] = memref.alloc() {{.*}} : memref<1x2x64x64xf32>
// TILE: %[[NORM:.*]] = memref.alloc() {{.*}} : memref<1x2x64xf32>
// TILE: linalg.fill {{.*}} outs(%[[STATE]] :
// TILE: linalg.fill {{.*}} outs(%[[NORM]] :
// The loops are marked with what they become (blocks, warps), which keeps
// those of one iteration.
// TILE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 1) {
// TILE:   scf.forall (%{{.*}}) in (4) {
// TILE:     tensor.extract
// TILE:     attn.tile.linear_state {{.*}} atomic : memref<?x16xbf16, {{.*}}>, memref<?x64xbf16, {{.*}}>, memref<16x64xf32, {{.*}}>, memref<16xf32, {{.*}}>
// TILE:   } {mapping = [#gpu.warp<x>]}
// TILE: } {mapping = [#gpu.block<z>, #gpu.block<y>, #gpu.block<x>]}
// TILE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 2) {
// TILE:   scf.forall (%{{.*}}) in (4) {
// TILE:     arith.maxsi
// TILE:     attn.tile.linear_output {{.*}} : memref<?x64xbf16, {{.*}}>, memref<64x64xf32, {{.*}}>, memref<64xf32, {{.*}}>, memref<?x64xbf16, {{.*}}>
// A projection's slice of the features is its rows; 16 features are one
// slice, so one instance (warp) per block.
// TILE-LABEL: func.func @linear_f32(
// TILE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 1) {
// TILE:   scf.forall (%{{.*}}) in (1) {
// TILE:   attn.tile.linear_state {{.*}} projection {{.*}} atomic :
// TILE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 2) {
// TILE:   scf.forall (%{{.*}}) in (4) {
// TILE:     attn.tile.linear_output

// Zeroing a whole buffer is a memset on the host; a warp per slice (128
// threads), a warp per row group; a body without an inner loop is run by
// one warp.
// MAP-LABEL: func.func @linear_bf16(
// MAP: gpu.memset
// MAP: gpu.memset
// MAP: gpu.launch {{.*}} threads({{.*}}) in (%{{.*}} = %c128{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}})
// MAP: attn.tile.linear_state
// MAP: gpu.launch {{.*}} threads({{.*}}) in (%{{.*}} = %c128{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}})
// MAP: attn.tile.linear_output
// MAP-LABEL: func.func @linear_f32(
// MAP: gpu.launch {{.*}} threads({{.*}}) in (%{{.*}} = %c32{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}})
// MAP-NOT: scf.forall

// Tensor cores: the first chunk of keys staged before the loop (values
// block-wide, the warp's key columns), each iteration staging the next
// chunk, waiting for its own, applying phi to K^T's fragments and
// accumulating in loop-carried registers; the sums added atomically once.
// WARP-LABEL: func.func @linear_bf16(
// WARP: gpu.launch
// WARP: gpu.barrier
// WARP: nvgpu.device_async_copy {{.*}} : memref<?x64xbf16, {{.*}}> to memref<128x72xbf16, #gpu.address_space<workgroup>>
// WARP: nvgpu.device_async_copy {{.*}} : memref<?x16xbf16, {{.*}}> to memref<128x24xbf16, #gpu.address_space<workgroup>>
// WARP: nvgpu.device_async_create_group
// WARP: scf.for {{.*}} iter_args(
// WARP:   gpu.barrier
// WARP:   %[[NEXT:.*]] = nvgpu.device_async_create_group
// WARP:   nvgpu.device_async_wait %[[NEXT]] {numGroups = 1 : i32}
// WARP:   gpu.barrier
// WARP:   nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true} : memref<128x24xbf16, #gpu.address_space<workgroup>>
// WARP:   math.exp
// WARP:   nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true} : memref<128x72xbf16, #gpu.address_space<workgroup>>
// WARP:   nvvm.mma.sync
// WARP:   scf.yield
// WARP: nvgpu.device_async_wait %{{.*}} {numGroups = 0 : i32}
// WARP: memref.atomic_rmw addf {{.*}} : (f32, memref<16x64xf32, {{.*}}>) -> f32
// WARP: gpu.shuffle  xor
// WARP: memref.atomic_rmw addf {{.*}} : (f32, memref<16xf32, {{.*}}>) -> f32
// The output: the state staged block-wide as bf16, then phi(Q) S on tensor
// cores and each row written once.
// WARP: gpu.launch
// WARP: gpu.barrier
// WARP: scf.for %{{.*}} = %thread_id_x to %c2048 step %c128
// WARP:   vector.store {{.*}} : memref<64x72xbf16, #gpu.address_space<workgroup>>, vector<2xbf16>
// WARP: gpu.barrier
// WARP: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true} : memref<64x72xbf16, #gpu.address_space<workgroup>>
// WARP: nvvm.mma.sync
// WARP: gpu.shuffle  xor
// WARP: vector.store {{.*}} : memref<?x64xbf16, {{.*}}>, vector<2xbf16>
// WARP-NOT: attn.tile
// Per lane: the warp synchronized after the state's writers, each lane a
// share of the state's columns, added atomically.
// WARP-LABEL: func.func @linear_f32(
// WARP: gpu.launch
// WARP: nvvm.bar.warp.sync
// WARP: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c32
// WARP: memref.atomic_rmw addf
// WARP-NOT: nvvm.mma.sync
// WARP: gpu.launch
// WARP: memref.store
// WARP-NOT: attn.tile

// Two kernels on one stream, the buffers from the stream's pool and
// zeroed on it.
// PTX-LABEL: llvm.func @linear_bf16(
// PTX: %[[STREAM:.*]] = llvm.call @mgpuStreamCreate()
// PTX: llvm.call @mgpuMemAlloc({{.*}}, %[[STREAM]],
// PTX: llvm.call @mgpuMemset32({{.*}}, %[[STREAM]])
// PTX: gpu.launch_func <%[[STREAM]] : !llvm.ptr> @linear_bf16_kernel::@linear_bf16_kernel {{.*}} dynamic_shared_memory_size
// PTX: gpu.launch_func <%[[STREAM]] : !llvm.ptr> @linear_bf16_kernel_0::@linear_bf16_kernel {{.*}} dynamic_shared_memory_size
// PTX: llvm.call @mgpuMemFree({{.*}}, %[[STREAM]])
// PTX: llvm.call @mgpuStreamSynchronize(%[[STREAM]])
// PTX: gpu.binary @linear_bf16_kernel
// PTX-SAME: cp.async.cg.shared.global
// PTX-SAME: ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16
// PTX-SAME: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX-SAME: atom.global.add.f32
// PTX: gpu.binary @linear_bf16_kernel_0
// PTX-SAME: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32

// CUBIN: gpu.binary @linear_bf16_kernel [#gpu.object<#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">, {{.*}}bin = "\7FELF
// CUBIN: gpu.binary @linear_f32_kernel [#gpu.object<#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">, {{.*}}bin = "\7FELF

func.func @linear_bf16(%q: tensor<1x2x100x64xbf16>, %len: tensor<1xi32>) -> tensor<1x2x100x64xbf16> {
  %f = attn.feature_map.elu_plus_one
  %o = attn.linear %q, %q, %q feature_map %f key_lengths %len : tensor<1xi32> : tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16> -> tensor<1x2x100x64xbf16>
  return %o : tensor<1x2x100x64xbf16>
}

func.func @linear_f32(%q: tensor<1x2x100x32xf32>) -> tensor<1x2x100x32xf32> {
  %f = attn.feature_map.favor features 16 seed 1
  %o = attn.linear %q, %q, %q feature_map %f : tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32> -> tensor<1x2x100x32xf32>
  return %o : tensor<1x2x100x32xf32>
}

// Causal: the state carried from chunk to chunk, so one instance per
// (batch, head) walks its chunks of block-k (64) rows in order: the chunk's
// output (its own keys j <= i included), then its keys into the state.
// TILE-LABEL: func.func @linear_causal(
// TILE: linalg.fill {{.*}} outs(%[[STATE:.*]] : memref<2x2x64x64xf32>)
// TILE: linalg.fill {{.*}} outs(%[[NORM:.*]] : memref<2x2x64xf32>)
// TILE: scf.forall (%[[B:.*]], %[[H:.*]]) in (2, 2) {
// TILE-NEXT: scf.for %[[C:.*]] = %c0 to %c100 step %c64 {
// TILE: memref.subview %[[STATE]][%[[B]], %[[H]], 0, 0] [1, 1, 64, 64]
// TILE: attn.tile.linear_output {{.*}} causal(
// TILE: attn.tile.linear_state
// TILE-NOT: atomic
// TILE: }
// One warp per (batch, head); per lane, the warp synchronised before the
// output reads the state the other lanes wrote; phi(Q) of the chunk
// [64, 64] and its own keys' weights [64, 64] computed once into shared
// memory (32 KB), each after a warp sync; the own keys' loop bounded by the
// row (j <= i), and a sync again before the state is added to.
// WARP-LABEL: func.func @linear_causal(
// WARP: gpu.launch {{.*}} dynamic_shared_memory_size %c32768_i32
// WARP: scf.for
// WARP: nvvm.bar.warp.sync
// WARP: memref.view {{.*}} to memref<64x64xf32, #gpu.address_space<workgroup>>
// WARP: memref.view {{.*}} to memref<64x64xf32, #gpu.address_space<workgroup>>
// WARP: nvvm.bar.warp.sync
// WARP: arith.cmpi ule
// WARP: nvvm.bar.warp.sync
// WARP: arith.addi %{{.*}}, %c1
// WARP: arith.minsi
// WARP: scf.for
// WARP: memref.load {{.*}} : memref<64x64xf32, #gpu.address_space<workgroup>>
// WARP: nvvm.bar.warp.sync
// WARP-NOT: memref.atomic_rmw
// WARP-NOT: attn.tile
// WARP: return

func.func @linear_causal(%q: tensor<2x2x100x64xbf16>) -> tensor<2x2x100x64xbf16> {
  %f = attn.feature_map.elu_plus_one
  %o = attn.linear %q, %q, %q feature_map %f causal : tensor<2x2x100x64xbf16>, tensor<2x2x100x64xbf16>, tensor<2x2x100x64xbf16> -> tensor<2x2x100x64xbf16>
  return %o : tensor<2x2x100x64xbf16>
}

// The reduction splits the keys until batch x heads x splits reaches about
// 512 blocks, each split at least 256 keys: 1000 keys, 1 x 2 (batch, head)
// pairs, so 3 splits of 384 (a multiple of 64) keys.
// TILE-LABEL: func.func @linear_split(
// TILE: scf.forall (%{{.*}}, %{{.*}}, %[[SPLIT:.*]]) in (1, 2, 3) {
// TILE:   arith.muli %[[SPLIT]], %c384
// TILE:   attn.tile.linear_state {{.*}} atomic
func.func @linear_split(%q: tensor<1x2x1000x32xf32>) -> tensor<1x2x1000x32xf32> {
  %f = attn.feature_map.elu_plus_one
  %o = attn.linear %q, %q, %q feature_map %f : tensor<1x2x1000x32xf32>, tensor<1x2x1000x32xf32>, tensor<1x2x1000x32xf32> -> tensor<1x2x1000x32xf32>
  return %o : tensor<1x2x1000x32xf32>
}

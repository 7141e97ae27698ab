// Non-causal linear attention through each step of --lower-to-gpu, then the
// whole pipeline: bf16 with elu + 1 on tensor cores, f32 with elu + 1 on
// tensor cores in 3xTF32, f32 with FAVOR+'s projection per lane.
// RUN: attn-opt %s --attn-tile=rows-per-instance=16 --canonicalize | FileCheck %s --check-prefix=TILE
// RUN: attn-opt %s --attn-tile=rows-per-instance=16 --canonicalize --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --attn-map-loops-to-gpu=lanes-per-iteration=32 | FileCheck %s --check-prefix=MAP
// RUN: attn-opt %s --attn-tile=rows-per-instance=16 --canonicalize --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --buffer-results-to-out-params="hoist-static-allocs modify-public-functions" --attn-map-loops-to-gpu=lanes-per-iteration=32 --attn-convert-linear-tiles-to-gpu --attn-allocate-shared-memory | FileCheck %s --check-prefix=WARP
// RUN: attn-opt %s --lower-to-gpu="format=isa kernel-modules=1" | FileCheck %s --check-prefix=PTX
// RUN: %if ptxas %{ attn-opt %s --lower-to-gpu | FileCheck %s --check-prefix=CUBIN %}
// RUN: attn-opt %s --attn-set-target="multiprocessors=1" --attn-tile=rows-per-instance=16 --canonicalize | FileCheck %s --check-prefix=SMALL

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
// Per lane (FAVOR+): the warp synchronized after the state's writers; a
// projection's phi is a dot product over the head dim, computed once per
// key and feature for a group of 16 of the state's columns (the slice's
// 16 features in two column groups: a pair for each of the 32 lanes), the
// group's sums and the normaliser's carried in registers, then added
// atomically. The output stages phi(Q) of its 16 rows once ([16, 16] f32
// in shared memory) and reads it for every column.
// WARP-LABEL: func.func @linear_f32(
// WARP: gpu.launch
// WARP: nvvm.bar.warp.sync
// WARP: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c32
// WARP:   scf.for {{.*}} iter_args({{.*}}) -> ({{(f32, ){16,16}f32}}) {
// WARP:     scf.for {{.*}} -> (f32, f32) {
// WARP:     math.exp
// WARP-NOT: math.exp
// WARP-COUNT-16: memref.atomic_rmw addf {{.*}} : (f32, memref<16x32xf32
// WARP: memref.atomic_rmw addf {{.*}} : (f32, memref<16xf32
// WARP-NOT: nvvm.mma.sync
// WARP: gpu.launch
// WARP: memref.view {{.*}} to memref<16x16xf32, #gpu.address_space<workgroup>>
// WARP: math.exp
// WARP-NOT: math.exp
// WARP: memref.store
// WARP-NOT: attn.tile
// f32 on tensor cores: chunks of 64 keys (so that a stage takes what 128
// bf16 keys take), K^T's A fragments read value by value from the staged
// tile (a lane's elements of a feature lie in different rows), phi applied
// to each, the products m16n8k8 in 3xTF32 (three a tile); the output's
// query's pairs loaded where the tile is defined, the state staged as
// f32. Tiles read down their columns (the keys as K^T, V, the state) have
// rows padded by 4 f32, not 8 (TileLayout::PaddedForColumns).
// WARP-LABEL: func.func @linear_f32_elu(
// WARP: gpu.launch
// WARP: nvgpu.device_async_copy {{.*}} : memref<?x32xf32, {{.*}}> to memref<64x36xf32, #gpu.address_space<workgroup>>
// WARP: nvgpu.device_async_copy {{.*}} : memref<?x16xf32, {{.*}}> to memref<64x20xf32, #gpu.address_space<workgroup>>
// WARP: scf.for {{.*}} iter_args(
// WARP:   nvgpu.device_async_wait %{{.*}} {numGroups = 1 : i32}
// WARP:   memref.load {{.*}} : memref<64x20xf32, #gpu.address_space<workgroup>>
// WARP:   math.exp
// WARP:   memref.load {{.*}} : memref<64x36xf32, #gpu.address_space<workgroup>>
// WARP:   nvvm.mma.sync {{.*}} multiplicandAPtxType = #nvvm.mma_type<tf32>
// WARP-SAME: shape = #nvvm.shape<m = 16, n = 8, k = 8>
// WARP:   nvvm.mma.sync {{.*}} multiplicandAPtxType = #nvvm.mma_type<tf32>
// WARP:   nvvm.mma.sync {{.*}} multiplicandAPtxType = #nvvm.mma_type<tf32>
// WARP:   scf.yield
// WARP: memref.atomic_rmw addf {{.*}} : (f32, memref<16x32xf32, {{.*}}>) -> f32
// WARP: gpu.launch
// WARP: vector.load {{.*}} : memref<?x32xf32, {{.*}}>, vector<2xf32>
// WARP: vector.store {{.*}} : memref<32x36xf32, #gpu.address_space<workgroup>>, vector<2xf32>
// WARP: gpu.barrier
// WARP: memref.load {{.*}} : memref<32x36xf32, #gpu.address_space<workgroup>>
// WARP: nvvm.mma.sync {{.*}} multiplicandAPtxType = #nvvm.mma_type<tf32>
// WARP: vector.store {{.*}} : memref<?x32xf32, {{.*}}>, vector<2xf32>
// WARP-NOT: attn.tile

// Two kernels on one stream, the buffers from the stream's pool and
// zeroed on it.
// PTX-LABEL: llvm.func @linear_bf16(
// PTX: %[[STREAM:.*]] = llvm.call @mgpuStreamCreate()
// PTX: llvm.call @mgpuMemAlloc({{.*}}, %[[STREAM]],
// PTX: llvm.call @mgpuMemset32({{.*}}, %[[STREAM]])
// PTX: gpu.launch_func <%[[STREAM]] : !llvm.ptr> @kernels::@linear_bf16_0_linear_state {{.*}} dynamic_shared_memory_size
// PTX: gpu.launch_func <%[[STREAM]] : !llvm.ptr> @kernels::@linear_bf16_1_linear_output {{.*}} dynamic_shared_memory_size
// PTX: llvm.call @mgpuMemFree({{.*}}, %[[STREAM]])
// PTX: llvm.call @mgpuStreamSynchronize(%[[STREAM]])
// The file's kernels in one module (attn-join-kernel-modules with
// kernel-modules=1), in the order of their functions.
// PTX: gpu.binary @kernels
// PTX-SAME: .entry linear_bf16_0_linear_state(
// PTX-SAME: cp.async.cg.shared.global
// PTX-SAME: ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16
// PTX-SAME: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX-SAME: atom.global.add.f32
// PTX-SAME: .entry linear_bf16_1_linear_output(
// PTX-SAME: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX-SAME: .entry linear_f32_0_linear_state(
// PTX-SAME: .entry linear_f32_elu_0_linear_state(
// PTX-SAME: cp.async.cg.shared.global
// PTX-SAME: mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32
// PTX-SAME: .entry linear_f32_elu_1_linear_output(
// PTX-SAME: mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32
// PTX-NOT: gpu.binary

// By default the kernels are dealt into two modules, two cubins.
// CUBIN: gpu.binary @kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">, {{.*}}bin = "\7FELF
// CUBIN: gpu.binary @kernels_0 [#gpu.object<#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">, {{.*}}bin = "\7FELF
// CUBIN-NOT: gpu.binary

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

func.func @linear_f32_elu(%q: tensor<1x2x100x32xf32>, %len: tensor<1xi32>) -> tensor<1x2x100x32xf32> {
  %f = attn.feature_map.elu_plus_one
  %o = attn.linear %q, %q, %q feature_map %f key_lengths %len : tensor<1xi32> : tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32> -> tensor<1x2x100x32xf32>
  return %o : tensor<1x2x100x32xf32>
}

// Causal: the chunks (block-k, 64 rows) run in parallel from the state
// before each. First one instance per (batch, head) and 16-feature slice
// walks the keys and writes the state at every chunk boundary (as bf16, the
// inputs' type; no zeroing: every entry is written); then one instance per (batch, head, chunk) and
// 16 rows of it reads its chunk's state, with the chunk's keys up to its
// last row (at most 64; none for a group past the end of the sequence,
// which would otherwise read keys past it).
// TILE-LABEL: func.func @linear_causal(
// TILE-NOT: linalg.fill
// TILE: %[[PREFIX:.*]] = memref.alloc() {{.*}} : memref<2x2x2x64x64xbf16>
// TILE: %[[PNORM:.*]] = memref.alloc() {{.*}} : memref<2x2x2x64xf32>
// TILE: scf.forall (%{{.*}}, %{{.*}}) in (2, 2) {
// TILE:   scf.forall (%{{.*}}) in (4) {
// TILE:     attn.tile.linear_prefix {{.*}} every 64 into {{.*}} : memref<100x16xbf16, {{.*}}>, memref<100x64xbf16, {{.*}}>, memref<2x16x64xbf16, {{.*}}>, memref<2x16xf32, {{.*}}>
// TILE: scf.forall (%[[B:.*]], %[[H:.*]], %[[C:.*]]) in (2, 2, 2) {
// TILE:   %[[C0:.*]] = arith.muli %[[C]], %c64
// TILE:   scf.forall (%[[G:.*]]) in (4) {
// TILE:     %[[SKIP:.*]] = arith.muli %[[G]], %c16
// TILE:     %[[QN:.*]] = arith.maxsi
// TILE:     %[[UPTO:.*]] = arith.addi %[[SKIP]], %[[QN]]
// TILE:     %[[ROWS:.*]] = arith.cmpi sgt, %[[QN]], %c0
// TILE:     %[[KN0:.*]] = arith.select %[[ROWS]], %[[UPTO]], %c0
// TILE:     %[[KN:.*]] = arith.minsi %[[KN0]], %c64
// TILE:     memref.subview %[[PNORM]][%[[B]], %[[H]], %[[C]], 0] [1, 1, 1, 64]
// TILE:     memref.subview %[[PREFIX]][%[[B]], %[[H]], %[[C]], 0, 0] [1, 1, 1, 64, 64]
// TILE:     memref.subview %{{.*}}[%[[B]], %[[H]], %[[C0]], 0] [1, 1, %[[KN]], 64]
// TILE:     attn.tile.linear_output {{.*}} causal(%{{.*}}, %{{.*}} diagonal %[[SKIP]] :
// On tensor cores. The prefix: the state reduction's loop, storing its
// accumulators (bf16 pairs) and the normaliser's quad sums at each chunk
// boundary, then the totals in the chunks past the keys. The output: the
// chunk's state staged once per block (copied: it is bf16 already) and
// phi(Q) times it; then per warp its own keys 16 at a time through two
// stages of shared memory (9216 + 4 x 2 x 4608 bytes), pipelined: the
// first tile's copies before the loop, each iteration issuing the next
// tile's before waiting for its own: phi(Q) phi(K)^T with K's rows as B
// fragments, kept where j <= i + diagonal, times V. Nothing in flight
// after the loop.
// WARP-LABEL: func.func @linear_causal(
// WARP: gpu.launch
// WARP: scf.for
// WARP:   arith.remui %{{.*}}, %c64
// WARP:   scf.if
// WARP:     arith.truncf {{.*}} : vector<2xf32> to vector<2xbf16>
// WARP:     vector.store {{.*}} : memref<2x16x64xbf16, strided<[4096, 64, 1], offset: ?>>, vector<2xbf16>
// WARP:     gpu.shuffle xor
// WARP:     memref.store {{.*}} : memref<2x16xf32, strided<[64, 1], offset: ?>>
// WARP:   nvvm.mma.sync
// WARP: arith.ceildivui
// WARP: scf.for
// WARP:   vector.store {{.*}} : memref<2x16x64xbf16, strided<[4096, 64, 1], offset: ?>>, vector<2xbf16>
// WARP: gpu.launch {{.*}} dynamic_shared_memory_size %c46080_i32
// WARP: memref.view {{.*}} to memref<64x72xbf16, #gpu.address_space<workgroup>>
// WARP: gpu.barrier
// WARP: vector.load {{.*}} : memref<64x64xbf16, strided<[64, 1], offset: ?>>, vector<2xbf16>
// WARP-NOT: arith.truncf
// WARP: gpu.barrier
// WARP: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true} : memref<64x72xbf16
// WARP: nvvm.bar.warp.sync
// WARP: scf.if
// WARP:   nvgpu.device_async_copy {{.*}} to memref<16x72xbf16
// WARP: nvgpu.device_async_create_group
// WARP: scf.for
// WARP:   nvvm.bar.warp.sync
// WARP:   scf.if
// WARP:     nvgpu.device_async_copy {{.*}} to memref<16x72xbf16
// WARP:   nvgpu.device_async_wait %{{.*}} {numGroups = 1 : i32}
// WARP:   nvvm.bar.warp.sync
// WARP:   nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false} : memref<16x72xbf16
// WARP:   nvvm.mma.sync
// WARP:   arith.cmpi sle
// WARP:   nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true} : memref<16x72xbf16
// WARP:   nvvm.mma.sync
// WARP:   scf.yield
// WARP: nvgpu.device_async_wait %{{.*}} {numGroups = 0 : i32}
// WARP: nvvm.bar.warp.sync
// WARP-NOT: attn.tile
// WARP: return

func.func @linear_causal(%q: tensor<2x2x100x64xbf16>) -> tensor<2x2x100x64xbf16> {
  %f = attn.feature_map.elu_plus_one
  %o = attn.linear %q, %q, %q feature_map %f causal : tensor<2x2x100x64xbf16>, tensor<2x2x100x64xbf16>, tensor<2x2x100x64xbf16> -> tensor<2x2x100x64xbf16>
  return %o : tensor<2x2x100x64xbf16>
}

// Causal with key lengths: the prefix's keys end at the batch entry's
// length (its chunks past it hold the totals), and each group's own keys
// are clipped there too.
// TILE-LABEL: func.func @linear_causal_padded(
// TILE: scf.forall (%[[B:.*]], %{{.*}}) in (2, 2) {
// TILE:   scf.forall
// TILE:     %[[LEN:.*]] = tensor.extract %{{.*}}[%[[B]]]
// TILE:     attn.tile.linear_prefix
// TILE: scf.forall (%[[B2:.*]], %{{.*}}, %{{.*}}) in (2, 2, 2) {
// TILE:   scf.forall
// TILE:     tensor.extract %{{.*}}[%[[B2]]]
// TILE:     arith.subi
// TILE:     arith.minsi
// TILE:     arith.maxsi
// TILE:     attn.tile.linear_output {{.*}} causal(
func.func @linear_causal_padded(%q: tensor<2x2x100x64xbf16>, %len: tensor<2xi32>) -> tensor<2x2x100x64xbf16> {
  %f = attn.feature_map.elu_plus_one
  %o = attn.linear %q, %q, %q feature_map %f key_lengths %len : tensor<2xi32> causal : tensor<2x2x100x64xbf16>, tensor<2x2x100x64xbf16>, tensor<2x2x100x64xbf16> -> tensor<2x2x100x64xbf16>
  return %o : tensor<2x2x100x64xbf16>
}

// f32 causal on tensor cores (3xTF32): the prefix stores its f32
// accumulators as pairs at each chunk boundary; the output's own keys come
// as B fragments in pairs (a lane's two features of a key lie side by
// side), masked past the diagonal, and P V takes one 8-key tile a k-step.
// WARP-LABEL: func.func @linear_causal_f32(
// WARP: gpu.launch
// WARP: scf.for
// WARP:   scf.if
// WARP:     vector.store {{.*}} : memref<2x16x32xf32, strided<[1024, 32, 1], offset: ?>>, vector<2xf32>
// WARP:   memref.load {{.*}} : memref<64x20xf32, #gpu.address_space<workgroup>>
// WARP:   nvvm.mma.sync {{.*}} multiplicandAPtxType = #nvvm.mma_type<tf32>
// WARP: gpu.launch
// WARP: vector.store {{.*}} : memref<32x36xf32, #gpu.address_space<workgroup>>, vector<2xf32>
// WARP: scf.for
// WARP:   nvgpu.device_async_wait %{{.*}} {numGroups = 1 : i32}
// WARP:   vector.load {{.*}} : memref<16x40xf32, #gpu.address_space<workgroup>>, vector<2xf32>
// WARP:   nvvm.mma.sync {{.*}} multiplicandAPtxType = #nvvm.mma_type<tf32>
// WARP:   arith.cmpi sle
// WARP:   memref.load {{.*}} : memref<16x36xf32, #gpu.address_space<workgroup>>
// WARP:   nvvm.mma.sync {{.*}} multiplicandAPtxType = #nvvm.mma_type<tf32>
// WARP:   scf.yield
// WARP-NOT: attn.tile
// WARP: return
func.func @linear_causal_f32(%q: tensor<1x2x100x32xf32>) -> tensor<1x2x100x32xf32> {
  %f = attn.feature_map.elu_plus_one
  %o = attn.linear %q, %q, %q feature_map %f causal : tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32> -> tensor<1x2x100x32xf32>
  return %o : tensor<1x2x100x32xf32>
}

// f32 causal with a head dim that is not a multiple of 16, per lane: each
// lane a feature's row of the state (all 24 columns, and the normaliser's
// element) as 25 running sums, phi of each key computed once for all of
// them, stored before each chunk's keys; the output's own keys bounded by
// i + diagonal (the rows' offset in their chunk), phi(Q) staged once.
// WARP-LABEL: func.func @linear_causal_f32_d24(
// WARP: gpu.launch
// WARP: scf.for
// WARP:   scf.for %[[C:.*]] = {{.*}} iter_args({{.*}}) -> ({{(f32, ){24,24}f32}}) {
// WARP-COUNT-24: memref.store %{{.*}}, %{{.*}}[%[[C]], %{{.*}}, %{{.*}}] : memref<2x24x24xf32
// WARP:       memref.store %{{.*}}, %{{.*}}[%[[C]], %{{.*}}] : memref<2x24xf32
// WARP:       arith.muli %[[C]], %c64
// WARP:       math.exp
// WARP-NOT:   math.exp
// WARP: gpu.launch
// WARP: %[[SHIFT:.*]] = arith.muli %{{.*}}, %c16
// WARP: memref.view {{.*}} to memref<16x24xf32, #gpu.address_space<workgroup>>
// WARP: arith.cmpi ule
// WARP: %[[LAST:.*]] = arith.addi %{{.*}}, %[[SHIFT]]
// WARP: arith.addi %[[LAST]], %c1
// WARP-NOT: nvvm.mma.sync
// WARP-NOT: attn.tile
// WARP: return
func.func @linear_causal_f32_d24(%q: tensor<1x2x100x24xf32>) -> tensor<1x2x100x24xf32> {
  %f = attn.feature_map.elu_plus_one
  %o = attn.linear %q, %q, %q feature_map %f causal : tensor<1x2x100x24xf32>, tensor<1x2x100x24xf32>, tensor<1x2x100x24xf32> -> tensor<1x2x100x24xf32>
  return %o : tensor<1x2x100x24xf32>
}

// The reduction splits the keys while batch x heads x splits stays within
// four blocks per SM of attn.target (528 without one: 132 SMs), each split
// at least 256 keys: 1000 keys, 1 x 2 (batch, head) pairs, so 3 splits of
// 384 (a multiple of 64) keys. On a GPU of one SM, 2 splits of 512.
// TILE-LABEL: func.func @linear_split(
// TILE: scf.forall (%{{.*}}, %{{.*}}, %[[SPLIT:.*]]) in (1, 2, 3) {
// TILE:   arith.muli %[[SPLIT]], %c384
// TILE:   attn.tile.linear_state {{.*}} atomic
// SMALL-LABEL: func.func @linear_split(
// SMALL: scf.forall (%{{.*}}, %{{.*}}, %[[SPLIT:.*]]) in (1, 2, 2) {
// SMALL:   arith.muli %[[SPLIT]], %c512
func.func @linear_split(%q: tensor<1x2x1000x32xf32>) -> tensor<1x2x1000x32xf32> {
  %f = attn.feature_map.elu_plus_one
  %o = attn.linear %q, %q, %q feature_map %f : tensor<1x2x1000x32xf32>, tensor<1x2x1000x32xf32>, tensor<1x2x1000x32xf32> -> tensor<1x2x1000x32xf32>
  return %o : tensor<1x2x1000x32xf32>
}

// The gradient of softmax attention on the GPU: attn-tile's three nests with
// their rows (keys) mapped to threads, each row's vectors in registers;
// attn-map-loops-to-gpu gives each nest a grid of (tile, head, batch)
// blocks of a thread per row; the whole pipeline ends in PTX (the kernels
// in one module, kernel-modules=1, so in the order of their functions).
// RUN: attn-opt %s --attn-schedule-blocks="block-q=16 block-k=16" --attn-tile=rows-per-instance=16 | FileCheck %s --check-prefix=TILE
// RUN: attn-opt %s --attn-schedule-blocks="block-q=16 block-k=16" --attn-tile=rows-per-instance=16 --canonicalize --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --attn-map-loops-to-gpu=lanes-per-iteration=32 | FileCheck %s --check-prefix=MAP
// RUN: attn-opt %s --lower-to-gpu="format=isa kernel-modules=1" | FileCheck %s --check-prefix=PTX
// RUN: attn-opt %s --lower-to-gpu="format=isa chip=sm_80 kernel-modules=1" | FileCheck %s --check-prefix=SM80
// RUN: attn-opt %s --attn-schedule-blocks="block-q=64 block-k=64 grad-block-q=32 grad-block-k=32" --attn-tile="rows-per-instance=32 grad-rows-per-instance=16" | FileCheck %s --check-prefix=GRADTILES

// Nest 1 (query tiles): a thread per row, guarded past the sequence's end,
// with its running max and sum: the row's log-sum-exp and D.
// Nest 2 (query tiles): a thread per row, its dQ row an f32 accumulator of
// one row over the scheduled key tiles (softmax_grad_step's query form).
// Nest 3 (key tiles): a thread per key below the key limit, its dK and dV
// rows accumulated over the transposed schedule (the key form). dK and dV
// start at zero. Nests 2 and 3 visit their tiles heaviest first, the rank
// the grid's slowest dimension (under a causal mask the last query tile
// sees the most key tiles, the first key tile the most query tiles); nest
// 1's rows all cost the same.
// TILE-DAG: memref.global "private" constant @__attn_grad_query_order : memref<3xi32> = dense<[2, 1, 0]>
// TILE-DAG: memref.global "private" constant @__attn_grad_key_order : memref<3xi32> = dense<[0, 1, 2]>
// BigBird with global blocks first and last (@bigbird_grad below): those
// query tiles visit every key tile and those key tiles are seen by every
// query tile, so both nests start with them, then the window's middle
// tiles, which also meet both global columns (tiles of 16 rows, two per
// mask block of 32).
// TILE-DAG: memref.global "private" constant @__attn_grad_query_order{{.*}} : memref<12xi32> = dense<[0, 1, 10, 11, 4, 5, 6, 7, 2, 3, 8, 9]>
// TILE-DAG: memref.global "private" constant @__attn_grad_key_order{{.*}} : memref<12xi32> = dense<[0, 1, 10, 11, 4, 5, 6, 7, 2, 3, 8, 9]>
// TILE-LABEL: func.func @causal_grad
// TILE: linalg.fill
// TILE: linalg.fill
// TILE: memref.get_global @__attn_grad_partial_t_offsets
// TILE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 3) {
// TILE:   scf.forall (%[[ROW:.*]]) in (16) {
// TILE:     arith.cmpi slt, %[[ROW]]
// TILE:     memref.alloca() : memref<f32>
// TILE:     vector.reduction <add>, %{{.*}} fastmath<reassoc>
// TILE:     math.log
// TILE:   } {mapping = [#gpu.thread<x>]}
// TILE: } {mapping = [#gpu.block<z>, #gpu.block<y>, #gpu.block<x>]}
// TILE: scf.forall (%[[RANK:.*]], %{{.*}}, %{{.*}}) in (3, 1, 2) {
// TILE:   %[[ORDER:.*]] = memref.get_global @__attn_grad_query_order
// TILE:   memref.load %[[ORDER]][%[[RANK]]]
// TILE:   scf.forall (%{{.*}}) in (16) {
// TILE:     memref.alloca() : memref<1x24xf32>
// TILE:     attn.tile.softmax_grad_step {{.*}} query_grad
// TILE:     linalg.copy
// TILE:   } {mapping = [#gpu.thread<x>]}
// TILE: scf.forall (%[[RANK:.*]], %{{.*}}, %{{.*}}) in (3, 1, 2) {
// TILE:   %[[ORDER:.*]] = memref.get_global @__attn_grad_key_order
// TILE:   memref.load %[[ORDER]][%[[RANK]]]
// TILE:   scf.forall (%{{.*}}) in (16) {
// TILE:     memref.alloca() : memref<1x24xf32>
// TILE:     memref.alloca() : memref<1x24xf32>
// TILE:     attn.tile.softmax_grad_step {{.*}} key_grad
// TILE:     linalg.copy
// TILE:     linalg.copy
// TILE:   } {mapping = [#gpu.thread<x>]}

// A thread per row: blocks of 16 threads (the tile), not 16 warps.
// MAP-LABEL: func.func @causal_grad
// MAP: gpu.memset
// MAP: gpu.memset
// MAP: gpu.launch blocks({{.*}}) in ({{.*}} = %{{.*}}, {{.*}} = %{{.*}}, {{.*}} = %{{.*}}) threads({{.*}}) in (%{{.*}} = %c16{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}})
// MAP: gpu.launch blocks({{.*}}) in ({{.*}} = %{{.*}}, {{.*}} = %{{.*}}, {{.*}} = %{{.*}}) threads({{.*}}) in (%{{.*}} = %c16{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}})

// PTX-LABEL: .entry causal_grad_0_loops(
// PTX-SAME: .maxntid 64, 1, 1
// PTX-NOT: .local
// PTX-LABEL: .entry causal_grad_1_softmax_grad_step(
// PTX-NOT: .local
// PTX-LABEL: .entry causal_grad_2_softmax_grad_step(
// PTX-NOT: .local
func.func @causal_grad(%q: tensor<1x2x40x24xf32>, %dy: tensor<1x2x40x24xf32>) -> (tensor<1x2x40x24xf32>, tensor<1x2x40x24xf32>, tensor<1x2x40x24xf32>) {
  %m = attn.mask.causal
  %g:3 = attn.sdpa_grad %q, %q, %q, %q, %dy mask %m : tensor<1x2x40x24xf32>, tensor<1x2x40x24xf32>, tensor<1x2x40x24xf32>, tensor<1x2x40x24xf32>, !attn.mask
  return %g#0, %g#1, %g#2 : tensor<1x2x40x24xf32>, tensor<1x2x40x24xf32>, tensor<1x2x40x24xf32>
}

// In bf16 with head dims of multiples of 16, the dQ and dK/dV nests run a
// warp per 16 rows of the tile (here tiles of 16 rows: a warp; in the
// pipeline's tiles of 64, four) on tensor cores: the staged side's tiles
// (keys and values, or queries and output gradients) in shared memory for
// the whole block, S and dP by mma.sync, P and dS packed as the A operands
// of the products; the accumulators in registers, stored once.
// The gradient may take tiles and warps of its own (grad-block-q/k,
// grad-rows-per-instance): here the forward's 4 query tiles of 64 rows, a
// warp per 32 of them, and the gradient's 7 tiles of 32, a warp per 16.
// GRADTILES-LABEL: func.func @causal_grad_bf16
// GRADTILES: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (4, 1, 2) {
// GRADTILES:   scf.forall (%{{.*}}) in (2) {
// GRADTILES:     memref.alloca() : memref<32x64xf32>
// GRADTILES:     attn.tile.softmax_step
// GRADTILES: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (7, 1, 2) {
// GRADTILES:   scf.forall (%{{.*}}) in (2) {
// GRADTILES:     memref.alloca() : memref<16x64xf32>
// GRADTILES:     attn.tile.softmax_grad_step {{.*}} query_grad
// GRADTILES: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (7, 1, 2) {
// GRADTILES:   scf.forall (%{{.*}}) in (2) {
// GRADTILES:     attn.tile.softmax_grad_step {{.*}} key_grad

// TILE-LABEL: func.func @causal_grad_bf16
// TILE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 13) {
// TILE:   scf.forall (%{{.*}}) in (16) {
// TILE:   } {mapping = [#gpu.thread<x>]}
// TILE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (13, 1, 2) {
// TILE:   scf.forall (%{{.*}}) in (1) {
// TILE:     memref.alloca() : memref<16x64xf32>
// TILE:     attn.tile.softmax_grad_step {{.*}} query_grad
// TILE:   } {mapping = [#gpu.warp<x>]}
// TILE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (13, 1, 2) {
// TILE:   scf.forall (%{{.*}}) in (1) {
// TILE:     attn.tile.softmax_grad_step {{.*}} key_grad
// TILE:   } {mapping = [#gpu.warp<x>]}

// On sm_90a (the default target) the products are warpgroup MMA: the
// block's four warps a warpgroup, each warp's rows its own 16 of the
// instruction's 64. S and dP take A from the block's tile of the warps'
// own rows, staged once, and B from the staged tiles, both swizzled and
// K-major (both descriptors: `desc, desc, p, 1, 1, 0, 0`; 32 staged rows
// at a time in the key form, m64n32; 64 in the query form, whose one
// accumulator leaves the registers for it, m64n64). dQ, dV and dK take A
// from registers (P and dS where S's and dP's accumulators left them) and
// B MN-major (transposed, the last operand 1; m64n64). The copies are
// fenced for the async proxy before the barrier that publishes them.
// PTX-LABEL: .entry causal_grad_bf16_2_softmax_grad_step(
// PTX-SAME: .maxntid 128, 1, 1
// PTX-NOT: .local
// PTX-NOT: mma.sync
// PTX-NOT: m64n32k16
// PTX-DAG: fence.proxy.async.shared::cta
// PTX-DAG: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {{[^;]*}}, %rd{{[0-9]+}}, %rd{{[0-9]+}}, p, 1,  1, 0,  0;
// PTX-DAG: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {{[^;]*}}, p, 1, 1, 1;
// PTX-LABEL: .entry causal_grad_bf16_3_softmax_grad_step(
// PTX-SAME: .maxntid 128, 1, 1
// PTX-NOT: .local
// PTX-NOT: mma.sync
// PTX-DAG: wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16 {{[^;]*}}, %rd{{[0-9]+}}, %rd{{[0-9]+}}, p, 1,  1, 0,  0;
// PTX-DAG: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {{[^;]*}}, p, 1, 1, 1;

// On sm_80, mma.sync over ldmatrix fragments of padded tiles.
// SM80-LABEL: .entry causal_grad_bf16_2_softmax_grad_step(
// SM80-SAME: .maxntid 128, 1, 1
// SM80-NOT: .local
// SM80: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// SM80-LABEL: .entry causal_grad_bf16_3_softmax_grad_step(
// SM80-SAME: .maxntid 128, 1, 1
// SM80-NOT: .local
// SM80: ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16
// SM80: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
func.func @causal_grad_bf16(%q: tensor<1x2x200x64xbf16>, %dy: tensor<1x2x200x64xbf16>) -> (tensor<1x2x200x64xbf16>, tensor<1x2x200x64xbf16>, tensor<1x2x200x64xbf16>) {
  %m = attn.mask.causal
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x2x200x64xbf16>, tensor<1x2x200x64xbf16>, tensor<1x2x200x64xbf16>, !attn.mask -> tensor<1x2x200x64xbf16>
  %g:3 = attn.sdpa_grad %q, %q, %q, %o, %dy mask %m : tensor<1x2x200x64xbf16>, tensor<1x2x200x64xbf16>, tensor<1x2x200x64xbf16>, tensor<1x2x200x64xbf16>, !attn.mask
  return %g#0, %g#1, %g#2 : tensor<1x2x200x64xbf16>, tensor<1x2x200x64xbf16>, tensor<1x2x200x64xbf16>
}

// TILE-LABEL: func.func @bigbird_grad
// TILE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 12) {
// TILE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (12, 1, 2) {
// TILE:   memref.get_global @__attn_grad_query_order
// TILE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (12, 1, 2) {
// TILE:   memref.get_global @__attn_grad_key_order
func.func @bigbird_grad(%q: tensor<1x2x192x24xf32>, %dy: tensor<1x2x192x24xf32>) -> (tensor<1x2x192x24xf32>, tensor<1x2x192x24xf32>, tensor<1x2x192x24xf32>) {
  %w = attn.mask.window radius 1 block 32
  %g = attn.mask.global first 1 last 1 block 32
  %m = attn.mask.union %w, %g : !attn.mask<block = 32>, !attn.mask<block = 32>
  %g3:3 = attn.sdpa_grad %q, %q, %q, %q, %dy mask %m : tensor<1x2x192x24xf32>, tensor<1x2x192x24xf32>, tensor<1x2x192x24xf32>, tensor<1x2x192x24xf32>, !attn.mask<block = 32>
  return %g3#0, %g3#1, %g3#2 : tensor<1x2x192x24xf32>, tensor<1x2x192x24xf32>, tensor<1x2x192x24xf32>
}

// f32 of head dims that are multiples of 16 takes the tensor-core form in
// 3xTF32: each product's tile three mma.sync.m16n8k8 in TF32 (small x big,
// big x small, big x big), K in pairs (P and dS from S's and dP's
// accumulators in place), on every target.
// TILE-LABEL: func.func @causal_grad_f32
// TILE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in ({{.*}}, 1, 2) {
// TILE:   scf.forall (%{{.*}}) in ({{.*}}) {
// TILE:     memref.alloca() : memref<16x64xf32>
// TILE:     attn.tile.softmax_grad_step {{.*}} query_grad
// TILE:   } {mapping = [#gpu.warp<x>]}
// PTX-LABEL: .entry causal_grad_f32_1_softmax_grad_step(
// PTX-NOT: .local
// PTX-NOT: wgmma
// PTX-COUNT-3: mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32
// PTX-LABEL: .entry causal_grad_f32_2_softmax_grad_step(
// PTX-NOT: .local
// PTX-NOT: wgmma
// PTX-COUNT-3: mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32
func.func @causal_grad_f32(%q: tensor<1x2x200x64xf32>, %dy: tensor<1x2x200x64xf32>) -> (tensor<1x2x200x64xf32>, tensor<1x2x200x64xf32>, tensor<1x2x200x64xf32>) {
  %m = attn.mask.causal
  %g:3 = attn.sdpa_grad %q, %q, %q, %q, %dy mask %m : tensor<1x2x200x64xf32>, tensor<1x2x200x64xf32>, tensor<1x2x200x64xf32>, tensor<1x2x200x64xf32>, !attn.mask
  return %g#0, %g#1, %g#2 : tensor<1x2x200x64xf32>, tensor<1x2x200x64xf32>, tensor<1x2x200x64xf32>
}

// The gradient of softmax attention on the GPU: attn-tile's two nests with
// their rows (keys) mapped to threads, each row's vectors in registers;
// attn-map-loops-to-gpu gives each nest a grid of (tile, head, batch)
// blocks of a thread per row; the whole pipeline ends in PTX.
// RUN: attn-opt %s --attn-schedule-blocks="block-q=16 block-k=16" --attn-tile=rows-per-instance=16 | FileCheck %s --check-prefix=TILE
// RUN: attn-opt %s --attn-schedule-blocks="block-q=16 block-k=16" --attn-tile=rows-per-instance=16 --canonicalize --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --attn-map-loops-to-gpu=lanes-per-iteration=32 | FileCheck %s --check-prefix=MAP
// RUN: attn-opt %s --lower-to-gpu="format=isa" | FileCheck %s --check-prefix=PTX

// Nest 1 (query tiles): a thread per row, guarded past the sequence's end,
// with its running max, sum and dQ row; the row's statistics, then dQ.
// Nest 2 (key tiles): a thread per key below the key limit, its dK and dV
// rows accumulated over the transposed schedule. dK and dV start at zero.
// TILE-LABEL: func.func @causal_grad
// TILE: linalg.fill
// TILE: linalg.fill
// TILE: memref.get_global @__attn_grad_partial_t_offsets
// TILE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 3) {
// TILE:   scf.forall (%[[ROW:.*]]) in (16) {
// TILE:     arith.cmpi slt, %[[ROW]]
// TILE:     memref.alloca() : memref<vector<16xf32>>
// TILE:     vector.load
// TILE:     vector.reduction <add>, %{{.*}} fastmath<reassoc>
// TILE:     math.log
// TILE:     vector.fma
// TILE:   } {mapping = [#gpu.thread<x>]}
// TILE: } {mapping = [#gpu.block<z>, #gpu.block<y>, #gpu.block<x>]}
// TILE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 3) {
// TILE:   arith.maxsi
// TILE:   scf.forall (%[[KEY:.*]]) in (16) {
// TILE:     memref.alloca() : memref<vector<16xf32>>
// TILE:     memref.alloca() : memref<vector<16xf32>>
// TILE:     vector.fma
// TILE:     vector.fma
// TILE:   } {mapping = [#gpu.thread<x>]}

// A thread per row: blocks of 16 threads (the tile), not 16 warps.
// MAP-LABEL: func.func @causal_grad
// MAP: gpu.memset
// MAP: gpu.memset
// MAP: gpu.launch blocks({{.*}}) in ({{.*}} = %{{.*}}, {{.*}} = %{{.*}}, {{.*}} = %{{.*}}) threads({{.*}}) in (%{{.*}} = %c16{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}})
// MAP: gpu.launch blocks({{.*}}) in ({{.*}} = %{{.*}}, {{.*}} = %{{.*}}, {{.*}} = %{{.*}}) threads({{.*}}) in (%{{.*}} = %c16{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}})

// PTX-LABEL: gpu.binary @causal_grad_kernel
// PTX-SAME: .maxntid 64, 1, 1
// PTX-NOT: .local
// PTX-LABEL: gpu.binary @causal_grad_kernel_0
// PTX-NOT: .local
func.func @causal_grad(%q: tensor<1x2x40x16xf32>, %dy: tensor<1x2x40x16xf32>) -> (tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>) {
  %m = attn.mask.causal
  %g:3 = attn.sdpa_grad %q, %q, %q, %q, %dy mask %m : tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>, !attn.mask
  return %g#0, %g#1, %g#2 : tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>
}

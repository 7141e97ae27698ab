// attn-tile's grad-fused-query: attention's gradient in one nest over the key
// tiles, whose steps (softmax_grad_step's fused form) keep dK and dV and add
// each pair's dS K to dQ's f32 sums, zeroed first and converted last,
// instead of a second nest over the query tiles.
// RUN: attn-opt %s --split-input-file --attn-schedule-blocks="block-q=64 block-k=64" --attn-tile="rows-per-instance=16 grad-fused-query=1" | FileCheck %s --check-prefix=TILE
// RUN: attn-opt %s --split-input-file --attn-schedule-blocks="block-q=64 block-k=64" --attn-tile="grad-fused-query=1" --canonicalize --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --attn-convert-tiles-to-cpu | FileCheck %s --check-prefix=CPU
// RUN: attn-opt %s --split-input-file --lower-to-gpu="format=isa kernel-modules=1 grad-fused-query=1" | FileCheck %s --check-prefix=PTX
// RUN: attn-opt %s --split-input-file --lower-to-gpu="format=isa chip=sm_80 kernel-modules=1 grad-fused-query=1" | FileCheck %s --check-prefix=SM80

// Nest 1 (the rows' D), then the key tiles' nest alone: dQ's sums of f32
// zeroed before it, its steps' query_grad the query tile's rows of them,
// and dQ their conversion after it.
// TILE-LABEL: func.func @causal_grad_bf16
// TILE:      %[[SUMS:.*]] = memref.alloc() {{.*}} : memref<1x2x200x64xf32>
// TILE:      scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 4) {
// TILE:      linalg.fill ins(%{{.*}} : f32) outs(%[[SUMS]] : memref<1x2x200x64xf32>)
// TILE-NEXT: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (4, 1, 2) {
// TILE:        %[[ROWS:.*]] = memref.subview %[[SUMS]]
// TILE:        attn.tile.softmax_grad_step {{.*}} query_grad %[[ROWS]] : memref<?x64xf32, {{.*}}> key_grad
// TILE:        attn.tile.softmax_grad_step {{.*}} query_grad %[[ROWS]] : memref<?x64xf32, {{.*}}> key_grad {{.*}} where {
// TILE:      linalg.copy ins(%[[SUMS]] : memref<1x2x200x64xf32>) outs(%{{.*}} : memref<1x2x200x64xbf16>)
// TILE-NOT:  scf.forall
// TILE:      return

// On the CPU (a row at a time) each pair adds ds k_j to its query's row an
// element at a time, atomically: other key tiles add to the same rows.
// CPU-LABEL: func.func @causal_grad_bf16
// CPU:       memref.atomic_rmw addf %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}] : (f32, memref<?x64xf32, {{.*}}>) -> f32

// On the GPU: the key tiles' kernel stores each warp's dS^T in shared memory,
// meets the block at a barrier, and multiplies dS (ldmatrix.trans) by the
// block's keys in units of 16 queries by 16 columns of dQ. On sm_90a the
// units go into the chunk's dQ tile in shared memory, and after a fence for
// the async proxy and a barrier, a lane of the first warp a row adds the
// tile's rows to the sums by bulk reductions, each its own group; each chunk
// first waits for the last chunk's reductions to have read the tile
// (wait_group.read), and the kernel ends waiting for them all (wait_group
// 0; the module prints the tab before the 0 as \09). On sm_80 each element
// is added with an atomic. A kernel of its own converts the sums.
// PTX-LABEL: .entry causal_grad_bf16_2_softmax_grad_step
// PTX:       cp.async.bulk.wait_group.read
// PTX:       bar.sync
// PTX:       ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16
// PTX:       fence.proxy.async.shared::cta
// PTX:       bar.sync
// PTX:       cp.reduce.async.bulk.global.shared::cta.bulk_group.add.f32
// PTX:       cp.async.bulk.commit_group
// PTX:       cp.async.bulk.wait_group {{\\}}090;
// PTX-NOT:   atom.global.add.f32
// PTX-LABEL: .entry causal_grad_bf16_3_copy
// SM80-LABEL: .entry causal_grad_bf16_2_softmax_grad_step
// SM80:       ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16
// SM80:       atom.global.add.f32
// SM80-NOT:   cp.reduce.async.bulk
// SM80-LABEL: .entry causal_grad_bf16_3_copy
func.func @causal_grad_bf16(%q: tensor<1x2x200x64xbf16>, %dy: tensor<1x2x200x64xbf16>) -> (tensor<1x2x200x64xbf16>, tensor<1x2x200x64xbf16>, tensor<1x2x200x64xbf16>) {
  %m = attn.mask.causal
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x2x200x64xbf16>, tensor<1x2x200x64xbf16>, tensor<1x2x200x64xbf16>, !attn.mask -> tensor<1x2x200x64xbf16>
  %g:3 = attn.sdpa_grad %q, %q, %q, %o, %dy mask %m : tensor<1x2x200x64xbf16>, tensor<1x2x200x64xbf16>, tensor<1x2x200x64xbf16>, tensor<1x2x200x64xbf16>, !attn.mask
  return %g#0, %g#1, %g#2 : tensor<1x2x200x64xbf16>, tensor<1x2x200x64xbf16>, tensor<1x2x200x64xbf16>
}

// -----

// Head dim 32, four warps a key tile: the two units of a chunk (16 queries
// by 16 columns each) go to the first two warps; the others skip them.
// TILE-LABEL: func.func @causal_grad_d32
// TILE:       attn.tile.softmax_grad_step {{.*}} query_grad %{{.*}} : memref<?x32xf32, {{.*}}> key_grad
// TILE:       linalg.copy ins(%{{.*}} : memref<1x2x200x32xf32>) outs(%{{.*}} : memref<1x2x200x32xbf16>)
// CPU-LABEL: func.func @causal_grad_d32
// CPU:       memref.atomic_rmw addf
// PTX-LABEL: .entry causal_grad_d32_2_softmax_grad_step
// PTX:       cp.reduce.async.bulk.global.shared::cta.bulk_group.add.f32
// PTX-LABEL: .entry causal_grad_d32_3_copy
// SM80-LABEL: .entry causal_grad_d32_2_softmax_grad_step
func.func @causal_grad_d32(%q: tensor<1x2x200x32xbf16>, %dy: tensor<1x2x200x32xbf16>) -> (tensor<1x2x200x32xbf16>, tensor<1x2x200x32xbf16>, tensor<1x2x200x32xbf16>) {
  %m = attn.mask.causal
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x2x200x32xbf16>, tensor<1x2x200x32xbf16>, tensor<1x2x200x32xbf16>, !attn.mask -> tensor<1x2x200x32xbf16>
  %g:3 = attn.sdpa_grad %q, %q, %q, %o, %dy mask %m : tensor<1x2x200x32xbf16>, tensor<1x2x200x32xbf16>, tensor<1x2x200x32xbf16>, tensor<1x2x200x32xbf16>, !attn.mask
  return %g#0, %g#1, %g#2 : tensor<1x2x200x32xbf16>, tensor<1x2x200x32xbf16>, tensor<1x2x200x32xbf16>
}

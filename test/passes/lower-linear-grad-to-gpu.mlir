// Linear attention's gradient (attn.linear_grad) on the GPU: attn-tile's
// nests of tile ops, their tensor-core lowering, and the whole pipeline.
// RUN: attn-opt %s --attn-tile=rows-per-instance=16 --canonicalize | FileCheck %s --check-prefix=TILE
// RUN: attn-opt %s --attn-tile=rows-per-instance=16 --canonicalize --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --buffer-results-to-out-params="hoist-static-allocs modify-public-functions" --attn-map-loops-to-gpu=lanes-per-iteration=32 --attn-convert-linear-tiles-to-gpu --attn-allocate-shared-memory | FileCheck %s --check-prefix=WARP
// RUN: attn-opt %s --lower-to-gpu="format=isa kernel-modules=1" | FileCheck %s --check-prefix=PTX

// Four nests: the forward's state recomputed (atomic, per 16-feature
// slice), the query side per 16 rows (the scaled cotangents into a
// [B, H, N, Dv] buffer of the inputs' type, the norm's weights into a
// [B, H, N] f32 one), the state's and norm's cotangents summed from them as
// the state is (the norm's sum weighted), the key side per 16 keys clipped
// at the key limit. Keys past it are zeroed first.
// TILE-LABEL: func.func @linear_grad_bf16(
// TILE: linalg.fill {{.*}} outs(%{{.*}} : memref<1x2x100x64xbf16>)
// TILE: linalg.fill {{.*}} outs(%{{.*}} : memref<1x2x100x64xbf16>)
// TILE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 1) {
// TILE:   scf.forall (%{{.*}}) in (4) {
// TILE:     attn.tile.linear_state {{.*}} atomic : memref<?x16xbf16, {{.*}}>, memref<?x64xbf16, {{.*}}>
// TILE: %[[SCALED:.*]] = memref.alloc() {{.*}} : memref<1x2x100x64xbf16>
// TILE: %[[WEIGHTS:.*]] = memref.alloc() {{.*}} : memref<1x2x100xf32>
// TILE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 2) {
// TILE:   scf.forall (%{{.*}}) in (4) {
// TILE:     memref.subview %[[WEIGHTS]]
// TILE:     attn.tile.linear_query_grad {{.*}} : {{.*}}, memref<?xf32, strided<[1], offset: ?>>
// TILE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 1) {
// TILE:   scf.forall (%{{.*}}) in (4) {
// TILE:     memref.subview %[[WEIGHTS]]
// TILE:     attn.tile.linear_state {{.*}} weights %{{.*}} : memref<?xf32, {{.*}}> feature_map {{.*}} atomic : memref<?x16xbf16, {{.*}}>, memref<?x64xbf16, {{.*}}>
// TILE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 2) {
// TILE:   scf.forall (%{{.*}}) in (4) {
// TILE:     tensor.extract
// TILE:     attn.tile.linear_key_grad
// TILE-NOT: linalg.generic
func.func @linear_grad_bf16(%q: tensor<1x2x100x64xbf16>, %len: tensor<1xi32>, %o: tensor<1x2x100x64xbf16>, %do: tensor<1x2x100x64xbf16>) -> (tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16>) {
  %f = attn.feature_map.elu_plus_one
  %dq, %dk, %dv = attn.linear_grad %q, %q, %q feature_map %f key_lengths %len : tensor<1xi32> output %o, %do : tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16>
  return %dq, %dk, %dv : tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16>
}

// The query side: the state staged once for the block, dO S^T on tensor
// cores, each row's norm weight stored once; no atomics.
// WARP-LABEL: func.func @linear_grad_bf16(
// WARP: gpu.launch
// WARP: gpu.launch
// WARP-NOT: attn.tile.linear_query_grad
// WARP-NOT: memref.atomic_rmw
// WARP: nvvm.mma.sync
// WARP-NOT: memref.atomic_rmw
// WARP: memref.store %{{.*}} : memref<?xf32, strided<[1], offset: ?>>
// WARP-NOT: memref.atomic_rmw
// WARP: gpu.terminator
// The cotangents' reduction: each of a lane's keys' weight loaded once a
// step (the index clamped at the last key), times phi in the norm's sum.
// WARP: gpu.launch
// WARP: arith.minui
// WARP: memref.load %{{.*}} : memref<?xf32, strided<[1], offset: ?>>
// WARP: arith.mulf
// WARP: nvvm.mma.sync
// The key side: phi(K) dS and V dS^T, both on tensor cores.
// WARP: gpu.launch
// WARP-NOT: attn.tile
// WARP: nvvm.mma.sync
// WARP: nvvm.mma.sync

// f32 in 3xTF32, through the whole pipeline.
// PTX-LABEL: .entry linear_grad_f32_{{.*}}linear_query_grad(
// PTX: mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32
// PTX-NOT: atom.global
// PTX-LABEL: .entry linear_grad_f32_{{.*}}linear_state(
// PTX: atom.global.add.f32
// PTX-LABEL: .entry linear_grad_f32_{{.*}}linear_key_grad(
// PTX: mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32
func.func @linear_grad_f32(%q: tensor<1x2x100x32xf32>, %o: tensor<1x2x100x32xf32>, %do: tensor<1x2x100x32xf32>) -> (tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32>) {
  %f = attn.feature_map.elu_plus_one
  %dq, %dk, %dv = attn.linear_grad %q, %q, %q feature_map %f output %o, %do : tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32>
  return %dq, %dk, %dv : tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32>
}

// Head dims that are not multiples of 16 have no tensor-core form: the
// gradient is linalg.generics.
// TILE-LABEL: func.func @linear_grad_dim24(
// TILE-NOT: attn.tile
// TILE: linalg.generic
func.func @linear_grad_dim24(%q: tensor<1x2x100x24xf32>, %o: tensor<1x2x100x24xf32>, %do: tensor<1x2x100x24xf32>) -> (tensor<1x2x100x24xf32>, tensor<1x2x100x24xf32>, tensor<1x2x100x24xf32>) {
  %f = attn.feature_map.elu_plus_one
  %dq, %dk, %dv = attn.linear_grad %q, %q, %q feature_map %f output %o, %do : tensor<1x2x100x24xf32>, tensor<1x2x100x24xf32>, tensor<1x2x100x24xf32>, tensor<1x2x100x24xf32>
  return %dq, %dk, %dv : tensor<1x2x100x24xf32>, tensor<1x2x100x24xf32>, tensor<1x2x100x24xf32>
}

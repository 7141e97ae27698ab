// Each step of --lower-to-gpu on its own flag, then the whole pipeline.
// RUN: attn-opt %s --attn-schedule-blocks --attn-tile=rows-per-instance=1 | FileCheck %s --check-prefix=TILE
// RUN: attn-opt %s --attn-schedule-blocks --attn-tile=rows-per-instance=1 --canonicalize --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --buffer-results-to-out-params="hoist-static-allocs modify-public-functions" --attn-convert-tiles-to-gpu | FileCheck %s --check-prefix=TILES
// RUN: attn-opt %s --attn-schedule-blocks --attn-tile=rows-per-instance=1 --canonicalize --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --attn-convert-tiles-to-gpu --attn-map-loops-to-gpu | FileCheck %s --check-prefix=MAP
// RUN: attn-opt %s --lower-to-gpu="format=isa" | FileCheck %s --check-prefix=PTX
// RUN: %if ptxas %{ attn-opt %s --lower-to-gpu | FileCheck %s --check-prefix=CUBIN %}

// One thread per query row: an inner loop over the 64 rows of each query
// tile, each with its own statistics, clipped past the sequence's end.
// TILE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 2) {
// TILE:   scf.forall (%[[ROW:.*]]) in (64) {
// TILE:     arith.maxsi
// TILE:     memref.alloca() : memref<1xf32>
// TILE:     memref.alloca() : memref<1x32xf32>
// TILE:     attn.tile.softmax_step {{.*}} where {
// TILE:     attn.tile.softmax_finalize

// The tile ops become scalar loops: per key, the predicate, the dot
// product, the rescale when the maximum grows, the accumulation.
// TILES-NOT: attn.tile
// TILES: scf.for
// TILES: scf.if %{{.*}} -> (f32, f32)
// TILES: arith.cmpf ogt
// TILES: scf.if
// TILES: math.exp

// The outer loop indexes blocks (query tiles on x), the inner one threads;
// the schedule tables are read inside the kernel; the output is device
// memory.
// MAP: %[[OUT:.*]] = gpu.alloc () : memref<1x2x100x32xf32>
// MAP: gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c2{{.*}}, %{{.*}} = %c2{{.*}}, %{{.*}} = %c1{{.*}}) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c64{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}})
// MAP: memref.get_global @__attn_partial_offsets
// MAP: gpu.terminator
// MAP-NOT: scf.forall

// The host function keeps attn-compile's C ABI and launches the kernel.
// PTX: llvm.func @attend(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr)
// PTX: gpu.launch_func{{ +}}@attend_kernel::@attend_kernel blocks in
// PTX: gpu.binary @attend_kernel
// PTX-SAME: chip = "sm_90a"
// PTX-SAME: .target sm_90a
// PTX-SAME: .entry attend_kernel(

// CUBIN: gpu.binary @attend_kernel [#gpu.object<#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">, {{.*}}bin = "\7FELF

func.func @attend(%q: tensor<1x2x100x32xf32>, %len: tensor<1xi32>) -> tensor<1x2x100x32xf32> {
  %w = attn.mask.window radius 10
  %p = attn.mask.key_padding %len : tensor<1xi32>
  %m = attn.mask.intersect %w, %p : !attn.mask, !attn.mask
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32>, !attn.mask -> tensor<1x2x100x32xf32>
  return %o : tensor<1x2x100x32xf32>
}

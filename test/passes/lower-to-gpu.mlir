// Each step of --lower-to-gpu on its own flag, then the whole pipeline.
// RUN: attn-opt %s --attn-schedule-blocks --attn-tile=rows-per-instance=16 | FileCheck %s --check-prefix=TILE
// RUN: attn-opt %s --attn-schedule-blocks --attn-tile=rows-per-instance=16 | FileCheck %s --check-prefix=ORDER
// RUN: attn-opt %s --attn-schedule-blocks --attn-tile=rows-per-instance=16 --canonicalize --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --attn-map-loops-to-gpu=lanes-per-iteration=32 | FileCheck %s --check-prefix=MAP
// RUN: attn-opt %s --attn-set-target="chip=sm_80" --attn-schedule-blocks --attn-tile=rows-per-instance=16 --canonicalize --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --buffer-results-to-out-params="hoist-static-allocs modify-public-functions" --attn-map-loops-to-gpu=lanes-per-iteration=32 --attn-convert-tiles-to-gpu --attn-allocate-shared-memory | FileCheck %s --check-prefix=WARP
// RUN: attn-opt %s --attn-schedule-blocks --attn-tile=rows-per-instance=16 --canonicalize --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --buffer-results-to-out-params="hoist-static-allocs modify-public-functions" --attn-map-loops-to-gpu=lanes-per-iteration=32 --attn-convert-tiles-to-gpu --attn-allocate-shared-memory | FileCheck %s --check-prefix=WGMMA
// RUN: attn-opt %s --attn-schedule-blocks --attn-tile="rows-per-instance=16 scalar-rows-per-instance=32" | FileCheck %s --check-prefix=SCALAR
// RUN: attn-opt %s --lower-to-gpu="format=isa kernel-modules=1" | FileCheck %s --check-prefix=PTX
// RUN: attn-opt %s --lower-to-gpu="format=isa warp-rows=32 block-q=64 block-k=64 kernel-modules=1" | FileCheck %s --check-prefix=ROWS32
// RUN: attn-opt %s --lower-to-gpu="format=isa kernel-modules=1 block-q=128 tensor-copies=forward warp-specialize=1 overlap-softmax=1" | FileCheck %s --check-prefix=OVERLAP
// RUN: attn-opt %s --lower-to-gpu="format=isa kernel-modules=1 block-q=128" | FileCheck %s --check-prefix=OVERLAP
// RUN: attn-opt %s --lower-to-gpu="format=isa kernel-modules=1 block-q=128 producer-queries=0" | FileCheck %s --check-prefix=OWN-QUERIES
// RUN: %if ptxas %{ attn-opt %s --lower-to-gpu | FileCheck %s --check-prefix=CUBIN %}
// RUN: attn-opt %s --lower-to-gpu="format=llvm" | FileCheck %s --check-prefix=BITCODE

// A row group of 16 query rows per instance: an inner loop over the four
// groups of each 64-row query tile, each with its own statistics, clipped
// past the sequence's end.
// TILE-LABEL: func.func @attend(
// TILE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 2) {
// TILE:   scf.forall (%[[ROW:.*]]) in (4) {
// TILE:     arith.maxsi
// TILE:     memref.alloca() : memref<16xf32>
// TILE:     memref.alloca() : memref<16x32xf32>
// TILE:     attn.tile.softmax_step {{.*}} where {
// TILE:     attn.tile.softmax_finalize

// f32 tiles (a row per lane on the GPU) in groups of 32 rows, bf16 ones
// (tensor cores) of rows-per-instance.
// SCALAR-LABEL: func.func @attend(
// SCALAR: scf.forall (%{{.*}}) in (2) {
// SCALAR:   memref.alloca() : memref<32xf32>
// SCALAR-LABEL: func.func @attend_bf16(
// SCALAR: scf.forall (%{{.*}}) in (4) {
// SCALAR:   memref.alloca() : memref<16xf32>

// The outer loop indexes blocks (query tiles on x), the inner one warps:
// 4 x 32 threads, the row group being thread.x / 32; the schedule tables
// are read inside the kernel; the output is device memory.
// MAP-LABEL: func.func @attend(
// MAP: %[[OUT:.*]] = gpu.alloc () : memref<1x2x100x32xf32>
// MAP: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c2{{.*}}, %{{.*}} = %c2{{.*}}, %{{.*}} = %c1{{.*}}) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c128{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}})
// MAP: %[[GROUP:.*]] = arith.divui %[[TX]], %c32
// MAP: memref.get_global @__attn_partial_offsets
// MAP: gpu.terminator
// MAP: } {attn.kernel = "softmax_step_softmax_finalize"}
// MAP-NOT: scf.forall

// f32 runs on tensor cores in 3xTF32: mma.sync.m16n8k8 with K in pairs
// (MmaLayout::m16n8k8PairedK). Its staged tiles are padded f32 rows (32 + 8
// where read along their rows, 32 + 4 for V, read down its columns), copied in
// 16-byte runs of 4 elements: each warp's 16-row query tile (4 x 2560 bytes),
// then two stages of the 64-key K and V tiles (2 x (10240 + 9216)). Each lane
// loads its pair of a query or key row as one 8-byte load and splits every
// value into big and small TF32 parts; each 16 x 8 score tile takes three
// products a step of 8 columns (small x big, big x small, big x big). The row
// statistics by shuffles, P by exp2; then P V from P's registers in place, V's
// elements loaded one by one.
// WARP-LABEL: func.func @attend(
// WARP: gpu.launch {{.*}} dynamic_shared_memory_size %c49152_i32
// WARP: nvgpu.device_async_copy {{.*}}, 4, {{.*}} to memref<16x40xf32, #gpu.address_space<workgroup>>
// WARP: scf.for
// WARP: nvgpu.device_async_copy {{.*}}, 4, {{.*}} to memref<64x40xf32, #gpu.address_space<workgroup>>
// WARP: vector.load {{.*}} : memref<16x40xf32, #gpu.address_space<workgroup>>, vector<2xf32>
// WARP: arith.andi {{.*}}, %c-8192_i32
// WARP: vector.load {{.*}} : memref<64x40xf32, #gpu.address_space<workgroup>>, vector<2xf32>
// WARP: %[[S0:.*]] = nvvm.mma.sync A[%[[ASMALL:.*]]]  B[%[[BBIG:.*]]]  C[{{.*}}]  {{.*}}multiplicandAPtxType = #nvvm.mma_type<tf32>, multiplicandBPtxType = #nvvm.mma_type<tf32>, shape = #nvvm.shape<m = 16, n = 8, k = 8>}
// WARP: %[[S1:.*]] = nvvm.mma.sync A[%[[ABIG:.*]]]  B[%[[BSMALL:.*]]]  C[{{.*}}]  {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 8>}
// WARP: nvvm.mma.sync A[%[[ABIG]]]  B[%[[BBIG]]]  C[{{.*}}]  {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 8>}
// WARP: gpu.shuffle  xor
// WARP: math.exp2
// WARP: memref.load {{.*}} : memref<64x36xf32, #gpu.address_space<workgroup>>
// WARP-COUNT-3: nvvm.mma.sync {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 8>}
// WARP-NOT: attn.tile
// WARP: return

// bf16 runs on tensor cores (on sm_80: mma.sync): the launch gets shared memory (two staging
// buffers, live together, placed by attn-allocate-shared-memory) for two
// stages of a padded 64x(64+8) key and value tile, and each of its four
// warps' padded 16x(64+8) query tile, staged once by the warp (cp.async, waited
// for, the warp synchronised); the lane's fragments are registers
// (constant indices). The
// loop over scheduled key tiles is pipelined (scf::pipelineForLoop, two
// stages): the first tile's copies are issued before it (the table read
// and the copies under the loop's own trip test), each iteration issues
// the next tile's (cp.async, zero-filled past a tile's end, under the
// tile's condition and the iteration's) and waits for all but that newest
// group, then the block synchronises and the step runs on the tile before; S and PV are
// mma.sync over ldmatrix fragments (V transposed); the row maxima go across
// the lanes of a row; the output pairs are written once per row.
// WARP-LABEL: func.func @attend_bf16(
// WARP: gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c128{{.*}}, {{.*}}) dynamic_shared_memory_size %c46080_i32
// WARP: memref.view {{.*}} to memref<16x72xbf16, #gpu.address_space<workgroup>>
// WARP: nvgpu.device_async_copy {{.*}} : memref<?x64xbf16, strided<[64, 1], offset: ?>> to memref<16x72xbf16, #gpu.address_space<workgroup>>
// WARP: %[[QUERY:.*]] = nvgpu.device_async_create_group
// WARP-NEXT: nvgpu.device_async_wait %[[QUERY]] {numGroups = 0 : i32}
// WARP: nvvm.bar.warp.sync
// WARP-DAG: memref.alloca() : memref<2xf32>
// WARP-DAG: memref.alloca() : memref<32xf32>
// WARP: memref.store %{{.*}}, %{{.*}}[%c0{{.*}}] : memref<2xf32>
// WARP: %[[TRIPS:.*]] = arith.cmpi slt
// WARP: gpu.barrier
// WARP: %[[FIRST:.*]] = arith.andi %{{.*}}, %[[TRIPS]] : i1
// WARP: scf.if %[[FIRST]] {
// WARP: memref.load
// WARP: memref.view {{.*}} to memref<64x72xbf16, #gpu.address_space<workgroup>>
// WARP: nvgpu.device_async_copy {{.*}}, 8, %{{.*}} {bypassL1}
// WARP: %[[GROUP:.*]] = nvgpu.device_async_create_group
// WARP-NEXT: nvgpu.device_async_wait %[[GROUP]] {numGroups = 1 : i32}
// WARP-NEXT: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{[a-z0-9_]+}} {
// WARP: gpu.barrier
// WARP: scf.if
// WARP: nvgpu.device_async_copy
// WARP: %[[NEXT:.*]] = nvgpu.device_async_create_group
// WARP-NEXT: nvgpu.device_async_wait %[[NEXT]] {numGroups = 1 : i32}
// WARP: gpu.barrier
// WARP: scf.if
// WARP: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false}
// WARP: nvvm.mma.sync {{.*}} multiplicandAPtxType = #nvvm.mma_type<bf16>{{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>
// WARP: arith.cmpi sge
// WARP: gpu.shuffle  xor %{{.*}}, %{{.*}}, %{{.*}} : f32
// WARP: math.exp2
// WARP: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true}
// WARP: nvvm.mma.sync
// WARP: %[[LAST:.*]] = nvgpu.device_async_create_group
// WARP-NEXT: nvgpu.device_async_wait %[[LAST]] {numGroups = 0 : i32}
// WARP-NEXT: gpu.barrier
// WARP: gpu.shuffle  xor
// WARP: vector.store %{{.*}} : memref<?x64xbf16, strided<[64, 1], offset: ?>>, vector<2xbf16>
// WARP-NOT: attn.tile
// WARP: return

// On sm_90a (the default target) the block's four warps are a warpgroup
// and S = Q K^T and P V are warpgroup MMA: the block's query rows staged
// once, swizzled (one 64 x 64 tile, 8192 bytes and room to align it), the
// copies waited for, fenced for the async proxy and met at a barrier; the
// key and value tiles staged swizzled (two stages of 64 x 64 each, 16384
// bytes, and room to align them to 1024 bytes), each run of 8 copied to
// its swizzled place in the tile seen as one dimension; S with both
// operands through descriptors (Q and K K-major: no register holds Q),
// P V with P from S's accumulators and V through a descriptor
// (MN-major); no ldmatrix.
// WGMMA-LABEL: func.func @attend_bf16(
// WGMMA-NOT: nvgpu.ldmatrix
// WGMMA: memref.view {{.*}} to memref<33776xi8, #gpu.address_space<workgroup>>
// WGMMA: memref.view {{.*}} to memref<9200xi8, #gpu.address_space<workgroup>>
// WGMMA: nvgpu.device_async_copy {{.*}} to memref<4096xbf16, #gpu.address_space<workgroup>>
// WGMMA: %[[Q:.*]] = nvgpu.device_async_create_group
// WGMMA-NEXT: nvgpu.device_async_wait %[[Q]] {numGroups = 0 : i32}
// WGMMA-NEXT: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// WGMMA-NEXT: gpu.barrier
// WGMMA-NOT: nvgpu.ldmatrix
// WGMMA: scf.for
// WGMMA-NOT: nvgpu.ldmatrix
// WGMMA: memref.extract_aligned_pointer_as_index
// WGMMA: nvgpu.device_async_copy {{.*}} to memref<4096xbf16, #gpu.address_space<workgroup>>
// WGMMA: %[[NEXT:.*]] = nvgpu.device_async_create_group
// WGMMA-NEXT: nvgpu.device_async_wait %[[NEXT]] {numGroups = 1 : i32}
// WGMMA: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// WGMMA-NEXT: gpu.barrier
// WGMMA-NOT: nvgpu.ldmatrix
// WGMMA: nvvm.wgmma.fence.aligned
// WGMMA-COUNT-4: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>]
// WGMMA: nvvm.wgmma.commit.group.sync.aligned
// WGMMA-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// WGMMA-NOT: nvgpu.ldmatrix
// WGMMA: math.exp2
// WGMMA: nvvm.wgmma.fence.aligned
// WGMMA-COUNT-4: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {{[^;]*}}, p, 1, 1, 1;
// WGMMA-NOT: nvvm.mma.sync
// WGMMA: return

// The host functions keep attn-compile's C ABI and launch the kernels on a
// stream of their own, waited for before they return; PTX for sm_90a, every
// kernel in one module (attn-join-kernel-modules with kernel-modules=1); the
// bf16 one on tensor cores, with dynamic shared memory.
// PTX: llvm.func @attend(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr)
// PTX: %[[STREAM:.*]] = llvm.call @mgpuStreamCreate()
// PTX: gpu.launch_func <%[[STREAM]] : !llvm.ptr> @kernels::@attend_0_softmax_step_softmax_finalize blocks in
// PTX: llvm.call @mgpuStreamSynchronize(%[[STREAM]])
// PTX: llvm.call @mgpuStreamDestroy(%[[STREAM]])
// PTX: gpu.binary @kernels
// PTX-SAME: chip = "sm_90a"
// PTX-SAME: .target sm_90a
// PTX-SAME: .entry attend_0_softmax_step_softmax_finalize(
// PTX-SAME: .entry attend_bf16_0_softmax_step_softmax_finalize(
// PTX-SAME: cp.async.cg.shared.global
// PTX-SAME: fence.proxy.async.shared::cta
// PTX-SAME: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
// PTX: llvm.func @attend_bf16(
// PTX: gpu.launch_func <%{{.*}}> @kernels::@attend_bf16_0_softmax_step_softmax_finalize blocks in {{.*}} dynamic_shared_memory_size
// PTX-NOT: gpu.binary

// warp-rows=32: a 64-row query tile is two warps of 32 rows (64 threads).
// ROWS32: gpu.binary @kernels
// ROWS32-SAME: .entry attend_bf16_0_softmax_step_softmax_finalize(
// ROWS32-SAME: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// ROWS32: llvm.func @attend_bf16(
// ROWS32: %[[THREADS:.*]] = llvm.mlir.constant(64 : index) : i64
// ROWS32: gpu.launch_func {{.*}} @kernels::@attend_bf16_0_softmax_step_softmax_finalize blocks in ({{.*}}) threads in (%[[THREADS]],

// The overlapped form (by default, as with the flags that ask for it:
// heaviest_first's kernel in 128-row tiles: two
// consumer warpgroups and a producer, 384 threads, the consumers'
// registers raised by setmaxnreg) takes its queries from the producer
// (producer-queries, by default over its 128-key tiles): a tensor copy of
// the block's rows, which S = Q K^T reads through a descriptor -- no
// ldmatrix. With producer-queries=0 each warp copies its own rows and
// loads Q's A fragments by ldmatrix before S = Q K^T (OWN-QUERIES).
// OVERLAP: gpu.binary @kernels
// OVERLAP-SAME: .entry heaviest_first_0_softmax_step_softmax_finalize(
// OVERLAP-SAME: .maxntid 384
// OVERLAP-SAME: setmaxnreg.inc.sync.aligned.u32
// OVERLAP-NOT: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// OVERLAP-SAME: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
// OVERLAP-SAME: setmaxnreg.dec.sync.aligned.u32
// OWN-QUERIES: gpu.binary @kernels
// OWN-QUERIES-SAME: .entry heaviest_first_0_softmax_step_softmax_finalize(
// OWN-QUERIES-SAME: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// OWN-QUERIES-SAME: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16

// By default the kernels are dealt into two modules (kernel-modules=2),
// each its own cubin, serialized at once (attn-modules-to-binaries): the
// f32 kernel (the largest: its products are 3xTF32) alone in `kernels`,
// the other two in `kernels_0`.
// CUBIN: llvm.func @attend(
// CUBIN: gpu.launch_func {{.*}} @kernels::@attend_0_softmax_step_softmax_finalize blocks in
// CUBIN: gpu.binary @kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">, {{.*}}bin = "\7FELF
// CUBIN: llvm.func @attend_bf16(
// CUBIN: gpu.launch_func {{.*}} @kernels_0::@attend_bf16_0_softmax_step_softmax_finalize blocks in
// CUBIN: gpu.binary @kernels_0 [#gpu.object<#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">, {{.*}}bin = "\7FELF
// CUBIN: llvm.func @heaviest_first(
// CUBIN: gpu.launch_func {{.*}} @kernels_0::@heaviest_first_0_softmax_step_softmax_finalize blocks in
// CUBIN-NOT: gpu.binary

// format=llvm: the kernels as LLVM bitcode (each format the pipeline's
// check accepts is one attn-modules-to-binaries takes).
// BITCODE: gpu.binary @kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">, offload = "BC\C0\DE
// BITCODE: gpu.binary @kernels_0 [#gpu.object<#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">, offload = "BC\C0\DE
// BITCODE-NOT: gpu.binary

func.func @attend(%q: tensor<1x2x100x32xf32>, %len: tensor<1xi32>) -> tensor<1x2x100x32xf32> {
  %w = attn.mask.window radius 10
  %p = attn.mask.key_padding %len : tensor<1xi32>
  %m = attn.mask.intersect %w, %p : !attn.mask, !attn.mask
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32>, !attn.mask -> tensor<1x2x100x32xf32>
  return %o : tensor<1x2x100x32xf32>
}

func.func @attend_bf16(%q: tensor<1x2x100x64xbf16>, %len: tensor<1xi32>) -> tensor<1x2x100x64xbf16> {
  %w = attn.mask.window radius 10
  %p = attn.mask.key_padding %len : tensor<1xi32>
  %m = attn.mask.intersect %w, %p : !attn.mask, !attn.mask
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16>, !attn.mask -> tensor<1x2x100x64xbf16>
  return %o : tensor<1x2x100x64xbf16>
}

// Query tiles whose schedules differ are visited heaviest first: the loop
// is (rank, batch, head), the rank slowest (blockIdx.z), and a table gives
// the query tile of each rank -- the global rows 0 and 5 visit all six key
// tiles, rows 2 and 3 five, rows 1 and 4 four.
// ORDER: memref.global "private" constant @__attn_query_order : memref<6xi32> = dense<[0, 5, 2, 3, 1, 4]>
// ORDER-NOT: __attn_query_order
// ORDER-LABEL: func.func @attend(
// TILE-LABEL: func.func @heaviest_first(
// TILE: scf.forall (%[[RANK:.*]], %{{.*}}, %{{.*}}) in (6, 1, 2) {
// TILE:   %[[TABLE:.*]] = memref.get_global @__attn_query_order
// TILE:   memref.load %[[TABLE]][%[[RANK]]]
// TILE: {mapping = [#gpu.block<z>, #gpu.block<y>, #gpu.block<x>]}
// MAP-LABEL: func.func @heaviest_first(
// MAP: gpu.launch blocks(%{{.*}}, %{{.*}}, %[[Z:.*]]) in (%{{.*}} = %c2{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c6{{.*}})
// MAP: memref.get_global @__attn_query_order
// MAP: memref.load %{{.*}}[%[[Z]]] : memref<6xi32>
func.func @heaviest_first(%q: tensor<1x2x384x64xbf16>) -> tensor<1x2x384x64xbf16> {
  %w = attn.mask.window radius 1 block 64
  %g = attn.mask.global first 1 last 1 block 64
  %m = attn.mask.union %w, %g : !attn.mask<block = 64>, !attn.mask<block = 64>
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x2x384x64xbf16>, tensor<1x2x384x64xbf16>, tensor<1x2x384x64xbf16>, !attn.mask<block = 64> -> tensor<1x2x384x64xbf16>
  return %o : tensor<1x2x384x64xbf16>
}

// attn-convert-softmax-tiles-to-gpu on sm_90a (the default target): which
// staged tiles the tensor memory accelerator copies, and how.
// RUN: attn-opt %s --split-input-file --attn-convert-softmax-tiles-to-gpu="tensor-copies=all" | FileCheck %s
// RUN: attn-opt %s --split-input-file --attn-convert-softmax-tiles-to-gpu | FileCheck %s --check-prefix=OFF
// RUN: attn-opt %s --split-input-file --attn-convert-softmax-tiles-to-gpu="tensor-copies=gradient" | FileCheck %s --check-prefix=GRAD
// RUN: attn-opt %s --split-input-file --attn-convert-softmax-tiles-to-gpu="tensor-copies=forward" | FileCheck %s --check-prefix=FWD
// RUN: attn-opt %s --split-input-file --attn-convert-softmax-tiles-to-gpu="tensor-copies=all warp-specialize=1" | FileCheck %s --check-prefix=SPEC
// RUN: not attn-opt %s --split-input-file --attn-convert-softmax-tiles-to-gpu="tensor-copies=some" 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: attn-opt %s --split-input-file --attn-convert-softmax-tiles-to-gpu="tensor-copies=all warp-specialize=1 overlap-softmax=1" | FileCheck %s --check-prefix=OVER
// RUN: not attn-opt %s --split-input-file --attn-convert-softmax-tiles-to-gpu="tensor-copies=all overlap-softmax=1" 2>&1 | FileCheck %s --check-prefix=OVER-ALONE
// RUN: not attn-opt %s --split-input-file --attn-convert-softmax-tiles-to-gpu="warp-specialize=1" 2>&1 | FileCheck %s --check-prefix=SPEC-ALONE
// RUN: attn-opt %s --split-input-file --attn-convert-softmax-tiles-to-gpu="tensor-copies=auto warp-specialize=1 overlap-softmax=1" | FileCheck %s --check-prefix=AUTO
// RUN: attn-opt %s --split-input-file --attn-convert-softmax-tiles-to-gpu="tensor-copies=auto" | FileCheck %s --check-prefix=AUTO-ALONE
// RUN: attn-opt %s --split-input-file --attn-convert-softmax-tiles-to-gpu="tensor-copies=all warp-specialize=1 overlap-softmax=1 producer-queries=1" | FileCheck %s --check-prefix=QUERIES
// RUN: not attn-opt %s --split-input-file --attn-convert-softmax-tiles-to-gpu="tensor-copies=all warp-specialize=1 producer-queries=1" 2>&1 | FileCheck %s --check-prefix=QUERIES-ALONE
// BAD: tensor-copies must be off, auto, forward, gradient or all, got 'some'
// SPEC-ALONE: error: warp-specialize needs tensor-copies auto, forward, gradient or all

// By default (tensor-copies=off) every staged tile is cp.async's; with
// tensor-copies=gradient the forward's stay so; with =forward they do not.
// FWD-LABEL: func.func @in_place
// FWD-COUNT-2: attn.buffer.tensor_map
// FWD: nvvm.cp.async.bulk.tensor.shared.cluster.global
// GRAD-LABEL: func.func @in_place
// GRAD-NOT: attn.buffer.tensor_map
// GRAD: nvgpu.device_async_copy {{.*}} to memref<2048xbf16, #gpu.address_space<workgroup>>

// In place (the op in no loop): the key and value tiles are windows of 4-D
// buffers outside the launch, clipped where the sequence ends: a tensor map of each before the launch (boxes of 32 rows
// of 64 columns, 128-byte swizzle), two mbarriers set up by the first
// thread at the launch's start; after the barrier that frees the stage,
// the first thread expects each tile's 4096 bytes and
// issues one tensor copy per tile (coordinates innermost first: column,
// row, head, batch); every thread waits for the keys before S = Q K^T and
// for the values before P V (no cp.async of the tiles, no fence, no second
// barrier); the barriers invalidated at the launch's end.
// CHECK-LABEL: func.func @in_place
// CHECK: %[[KMAP:.*]] = attn.buffer.tensor_map %arg1 box [1, 1, 32, 64] swizzle 128 : memref<1x2x100x64xbf16>
// CHECK: %[[VMAP:.*]] = attn.buffer.tensor_map %arg2 box [1, 1, 32, 64] swizzle 128 : memref<1x2x100x64xbf16>
// CHECK: gpu.launch
// CHECK: %[[BARRIERS:.*]] = memref.alloc() : memref<16xi8, #gpu.address_space<workgroup>>
// CHECK: %[[FIRST:.*]] = arith.cmpi eq, %{{.*}}, %{{.*}} : index
// CHECK: nvvm.mbarrier.init %{{.*}}, %{{.*}}, predicate = %[[FIRST]]
// CHECK: nvvm.mbarrier.init %{{.*}}, %{{.*}}, predicate = %[[FIRST]]
// CHECK-NEXT: nvvm.fence.mbarrier.init
// CHECK-NEXT: gpu.barrier
// CHECK-NOT: scf.for
// CHECK: gpu.barrier
// CHECK: scf.if
// CHECK: nvvm.mbarrier.arrive.expect_tx %{{.*}}, %{{.*}} : !llvm.ptr<3>, i32
// CHECK: nvvm.mbarrier.arrive.expect_tx %{{.*}}, %{{.*}} : !llvm.ptr<3>, i32
// CHECK: %[[K:.*]] = llvm.inttoptr %[[KMAP]] : i64 to !llvm.ptr
// CHECK: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %[[K]], %{{.*}}, box[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] : !llvm.ptr<7>, !llvm.ptr
// CHECK: %[[V:.*]] = llvm.inttoptr %[[VMAP]] : i64 to !llvm.ptr
// CHECK: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %[[V]], %{{.*}}, box[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] : !llvm.ptr<7>, !llvm.ptr
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK-NOT: gpu.barrier
// CHECK: wgmma.mma_async.sync.aligned.m64n32k16
// CHECK: math.exp2
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK-NOT: gpu.barrier
// CHECK: wgmma.mma_async.sync.aligned.m64n64k16
// CHECK: gpu.barrier
// CHECK: nvvm.mbarrier.inval
// CHECK: nvvm.mbarrier.inval
// CHECK-NEXT: }
// CHECK-NEXT: gpu.terminator
// Staged in place (no loop), the copies stay with the block's first thread
// under warp-specialize too.
// With overlap-softmax too, nothing changes where there is no producer:
// the step waits for its P V itself.
// OVER-LABEL: func.func @in_place
// OVER-NOT: nvvm.wgmma.wait.group.sync.aligned 1
// OVER: gpu.terminator
// SPEC-LABEL: func.func @in_place
// SPEC-NOT: attn.producer
// SPEC: nvvm.cp.async.bulk.tensor
// SPEC: gpu.terminator
// SPEC-NEXT: {{^ *}}}{{$}}
// SPEC-NOT: attn.consumer_threads
// OFF-LABEL: func.func @in_place
// OFF-NOT: attn.buffer.tensor_map
// OFF-NOT: nvvm.mbarrier
// OFF: nvgpu.device_async_copy {{.*}} to memref<2048xbf16, #gpu.address_space<workgroup>>
// OFF-NOT: nvvm.cp.async.bulk
func.func @in_place(%q: memref<16x64xbf16>, %k: memref<1x2x100x64xbf16>, %v: memref<1x2x100x64xbf16>, %o: memref<16x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  %c100 = arith.constant 100 : index
  %c128 = arith.constant 128 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c2, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %m = memref.alloca() : memref<16xf32>
    %l = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x64xf32>
    linalg.fill ins(%ninf : f32) outs(%m : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%l : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x64xf32>)
    %k0 = arith.muli %bx, %c32 : index
    %left = arith.subi %c100, %k0 : index
    %rows = arith.minsi %left, %c32 : index
    %kt = memref.subview %k[0, %by, %k0, 0] [1, 1, %rows, 64] [1, 1, 1, 1] : memref<1x2x100x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
    %vt = memref.subview %v[0, %by, %k0, 0] [1, 1, %rows, 64] [1, 1, 1, 1] : memref<1x2x100x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
    attn.tile.softmax_step %q, %kt, %vt into %m, %l, %acc offsets(%c0, %k0) scale 1.25e-01 : memref<16x64xbf16>, memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<16xf32>, memref<16x64xf32>
    attn.tile.softmax_finalize %l, %acc into %o : memref<16xf32>, memref<16x64xf32>, memref<16x64xbf16>
    gpu.terminator
  }
  return
}

// -----

// Pipelined (a loop over a schedule's tiles; with tensor copies, loops of
// a constant trip count too, which hold no copy addresses in registers):
// two stages, each with its barrier; the copy stage (the barrier that
// frees its stage, then the predicated prefetch) has the first thread
// expect both tiles' 8192 bytes on the stage's barrier and issue both
// copies (in the prologue for the first tile, in the loop for the next);
// each iteration waits on its stage's barrier once, before S; no cp.async
// group is committed or waited for, after the loop either.
// CHECK-LABEL: func.func @pipelined
// CHECK-COUNT-2: attn.buffer.tensor_map
// CHECK: gpu.launch
// CHECK: memref.alloc() : memref<16xi8, #gpu.address_space<workgroup>>
// CHECK: scf.for
// CHECK: gpu.barrier
// CHECK: scf.if
// CHECK: scf.if
// CHECK: %[[BYTES:.*]] = arith.constant 8192 : i32
// CHECK: nvvm.mbarrier.arrive.expect_tx %{{.*}}, %[[BYTES]]
// CHECK-NOT: nvvm.mbarrier.arrive.expect_tx
// CHECK-COUNT-2: nvvm.cp.async.bulk.tensor.shared.cluster.global
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK: wgmma.mma_async.sync.aligned.m64n32k16
// CHECK-NOT: nvvm.mbarrier.try_wait.parity
// CHECK: wgmma.mma_async.sync.aligned.m64n64k16
// CHECK: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK-NOT: nvgpu.device_async
// CHECK: nvvm.mbarrier.inval
// With warp-specialize, the loop's copies go to a producer instead (the
// launch has two warpgroups: @one_warpgroup below has none): a loop
// of its own before the launch's, in an scf.if marked attn.producer on
// thread 256 (the one after the block's, which attn-specialize-warps
// adds), that waits for each stage of a two-stage ring to be empty (the
// parity flipped: a new barrier's previous phase counts as complete),
// expects its 8192 bytes on the stage's full barrier and issues both
// copies. Four barriers: two full (one arrival), two empty (the 256
// consumer threads'). The launch's loop waits for the stage to be full,
// computes, and each thread arrives on the stage's empty barrier; no block
// barrier in either loop.
// SPEC-LABEL: func.func @pipelined
// SPEC: gpu.launch
// SPEC-SAME: threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c256,
// SPEC: nvvm.mbarrier.init %{{.*}}, %c1_i32
// SPEC: nvvm.mbarrier.init %{{.*}}, %c1_i32
// SPEC: nvvm.mbarrier.init %{{.*}}, %c256_i32
// SPEC: nvvm.mbarrier.init %{{.*}}, %c256_i32
// SPEC: nvvm.fence.mbarrier.init
// SPEC-NEXT: gpu.barrier
// SPEC: %[[PRODUCER:.*]] = arith.cmpi eq, %{{.*}}, %c256{{.*}} : index
// SPEC: scf.if %[[PRODUCER]] {
// SPEC-NEXT: scf.for
// SPEC-NOT: gpu.barrier
// SPEC: %[[PARITY:.*]] = arith.andi
// SPEC: %[[FREE:.*]] = arith.xori %[[PARITY]], %c1_i32
// SPEC: nvvm.mbarrier.try_wait.parity %{{.*}}, %[[FREE]]
// SPEC: nvvm.mbarrier.arrive.expect_tx %{{.*}}, %c8192_i32
// SPEC-COUNT-2: nvvm.cp.async.bulk.tensor.shared.cluster.global
// SPEC: } {attn.producer}
// SPEC-NEXT: scf.for
// SPEC-NOT: gpu.barrier
// SPEC: nvvm.mbarrier.try_wait.parity
// SPEC-NOT: gpu.barrier
// SPEC: wgmma.mma_async.sync.aligned.m64n32k16
// SPEC-NOT: gpu.barrier
// SPEC: wgmma.mma_async.sync.aligned.m64n64k16
// SPEC: nvvm.wgmma.wait.group.sync.aligned 0
// SPEC-NOT: gpu.barrier
// SPEC: nvvm.mbarrier.arrive %{{.*}} : !llvm.ptr<3>
// SPEC: nvvm.mbarrier.inval
// SPEC: attn.consumer_threads = 256
// With overlap-softmax, a ring of three stages (six barriers); each step
// issues S = Q K^T (four m64n32k16, a group), then the last step's P V
// (two m64n64k16 over its 32 keys, P 0 and alpha 1 before the first
// step, its own group), waits for S alone, exponentiates while that P V
// runs, waits for it, and only then releases the last step's stage (where
// there was one); the finalize issues the last P V, waits and releases.
// OVER-LABEL: func.func @pipelined
// OVER-COUNT-3: nvvm.mbarrier.init %{{.*}}, %c1_i32
// OVER-COUNT-3: nvvm.mbarrier.init %{{.*}}, %c256_i32
// OVER-NOT: nvvm.mbarrier.init
// OVER: } {attn.producer}
// OVER-NEXT: scf.for
// OVER: nvvm.mbarrier.try_wait.parity
// OVER-COUNT-4: wgmma.mma_async.sync.aligned.m64n32k16
// OVER: nvvm.wgmma.commit.group.sync.aligned
// OVER: arith.mulf
// OVER: nvvm.wgmma.fence.aligned
// OVER-COUNT-2: wgmma.mma_async.sync.aligned.m64n64k16
// OVER: nvvm.wgmma.commit.group.sync.aligned
// OVER-NEXT: nvvm.wgmma.wait.group.sync.aligned 1
// OVER-NOT: nvvm.wgmma.wait
// OVER: math.exp2
// OVER-NOT: nvvm.mbarrier.arrive
// OVER: nvvm.wgmma.wait.group.sync.aligned 0
// OVER: scf.if
// OVER: memref.load {{.*}} : memref<1xindex>
// OVER: arith.addi %{{.*}}, %c3
// OVER: nvvm.mbarrier.arrive %{{.*}} : !llvm.ptr<3>
// OVER: }
// OVER-NOT: wgmma.mma_async
// OVER: scf.if
// OVER-COUNT-2: wgmma.mma_async.sync.aligned.m64n64k16
// OVER: nvvm.wgmma.commit.group.sync.aligned
// OVER-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// OVER: nvvm.mbarrier.arrive %{{.*}} : !llvm.ptr<3>
// OVER: nvvm.mbarrier.inval
// OVER-ALONE: error: overlap-softmax needs warp-specialize
func.func @pipelined(%q: memref<16x64xbf16>, %k: memref<1x2x100x64xbf16>, %v: memref<1x2x100x64xbf16>, %o: memref<16x64xbf16>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c32 = arith.constant 32 : index
  %c100 = arith.constant 100 : index
  %c128 = arith.constant 128 : index
  %c256 = arith.constant 256 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c2, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %m = memref.alloca() : memref<16xf32>
    %l = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x64xf32>
    linalg.fill ins(%ninf : f32) outs(%m : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%l : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x64xf32>)
    scf.for %t = %c0 to %n step %c1 {
      %k0 = arith.muli %t, %c32 : index
      %left = arith.subi %c100, %k0 : index
      %rows = arith.minsi %left, %c32 : index
      %kt = memref.subview %k[0, %by, %k0, 0] [1, 1, %rows, 64] [1, 1, 1, 1] : memref<1x2x100x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
      %vt = memref.subview %v[0, %by, %k0, 0] [1, 1, %rows, 64] [1, 1, 1, 1] : memref<1x2x100x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
      attn.tile.softmax_step %q, %kt, %vt into %m, %l, %acc offsets(%c0, %k0) scale 1.25e-01 : memref<16x64xbf16>, memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<16xf32>, memref<16x64xf32>
    }
    attn.tile.softmax_finalize %l, %acc into %o : memref<16xf32>, memref<16x64xf32>, memref<16x64xbf16>
    gpu.terminator
  }
  return
}

// -----

// A forward launch of one warpgroup (BigBird's 64-row tiles) gets no
// producer: its threads would double the block's, and the specialised
// forward ran 25-30% slower than this one. The
// loop stays pipelined on its tensor copies, as without warp-specialize.
// SPEC-LABEL: func.func @one_warpgroup
// SPEC: gpu.launch
// SPEC-SAME: threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c128,
// SPEC-NOT: attn.producer
// SPEC: nvvm.mbarrier.arrive.expect_tx %{{.*}}, %c8192_i32
// SPEC-NOT: attn.producer
// SPEC: wgmma.mma_async.sync.aligned.m64n32k16
// SPEC-NOT: attn.producer
// SPEC-NOT: attn.consumer_threads
// SPEC: return
// With tensor-copies=auto, the forward's tiles are tensor-copied only where
// a producer issues them: @pipelined's two warpgroups take one, this
// launch keeps the block's cp.async; without warp-specialize, no launch
// does.
// AUTO-LABEL: func.func @pipelined
// AUTO-COUNT-2: attn.buffer.tensor_map
// AUTO: } {attn.producer}
// AUTO-LABEL: func.func @one_warpgroup
// AUTO-NOT: attn.buffer.tensor_map
// AUTO-NOT: attn.producer
// AUTO: nvgpu.device_async_copy
// AUTO-NOT: attn.producer
// AUTO: return
// AUTO-ALONE-LABEL: func.func @pipelined
// AUTO-ALONE-NOT: attn.buffer.tensor_map
// AUTO-ALONE-NOT: attn.producer
// AUTO-ALONE: nvgpu.device_async_copy
// AUTO-ALONE: return
func.func @one_warpgroup(%q: memref<16x64xbf16>, %k: memref<1x2x100x64xbf16>, %v: memref<1x2x100x64xbf16>, %o: memref<16x64xbf16>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c32 = arith.constant 32 : index
  %c100 = arith.constant 100 : index
  %c128 = arith.constant 128 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c2, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %m = memref.alloca() : memref<16xf32>
    %l = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x64xf32>
    linalg.fill ins(%ninf : f32) outs(%m : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%l : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x64xf32>)
    scf.for %t = %c0 to %n step %c1 {
      %k0 = arith.muli %t, %c32 : index
      %left = arith.subi %c100, %k0 : index
      %rows = arith.minsi %left, %c32 : index
      %kt = memref.subview %k[0, %by, %k0, 0] [1, 1, %rows, 64] [1, 1, 1, 1] : memref<1x2x100x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
      %vt = memref.subview %v[0, %by, %k0, 0] [1, 1, %rows, 64] [1, 1, 1, 1] : memref<1x2x100x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
      attn.tile.softmax_step %q, %kt, %vt into %m, %l, %acc offsets(%c0, %k0) scale 1.25e-01 : memref<16x64xbf16>, memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<16xf32>, memref<16x64xf32>
    }
    attn.tile.softmax_finalize %l, %acc into %o : memref<16xf32>, memref<16x64xf32>, memref<16x64xbf16>
    gpu.terminator
  }
  return
}

// -----

// A step with a predicate (a causal diagonal tile): its region ends in
// attn.yield, which is the step's, so the launch still holds softmax tile
// ops only and its loop gets a producer.
// SPEC-LABEL: func.func @pipelined_predicate
// SPEC: scf.if
// SPEC: } {attn.producer}
// SPEC: attn.consumer_threads = 256
func.func @pipelined_predicate(%q: memref<16x64xbf16>, %k: memref<1x2x100x64xbf16>, %v: memref<1x2x100x64xbf16>, %o: memref<16x64xbf16>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c32 = arith.constant 32 : index
  %c100 = arith.constant 100 : index
  %c128 = arith.constant 128 : index
  %c256 = arith.constant 256 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c2, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %m = memref.alloca() : memref<16xf32>
    %l = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x64xf32>
    linalg.fill ins(%ninf : f32) outs(%m : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%l : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x64xf32>)
    scf.for %t = %c0 to %n step %c1 {
      %k0 = arith.muli %t, %c32 : index
      %left = arith.subi %c100, %k0 : index
      %rows = arith.minsi %left, %c32 : index
      %kt = memref.subview %k[0, %by, %k0, 0] [1, 1, %rows, 64] [1, 1, 1, 1] : memref<1x2x100x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
      %vt = memref.subview %v[0, %by, %k0, 0] [1, 1, %rows, 64] [1, 1, 1, 1] : memref<1x2x100x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
      attn.tile.softmax_step %q, %kt, %vt into %m, %l, %acc offsets(%c0, %k0) scale 1.25e-01 where {
      ^bb0(%i: index, %j: index):
        %keep = arith.cmpi uge, %i, %j : index
        attn.yield %keep : i1
      } : memref<16x64xbf16>, memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<16xf32>, memref<16x64xf32>
    }
    attn.tile.softmax_finalize %l, %acc into %o : memref<16xf32>, memref<16x64xf32>, memref<16x64xbf16>
    gpu.terminator
  }
  return
}
// -----

// A window that may end before the buffer's rows do (clipped at 90 of
// 100): the rows past it must read as zeros, which a tensor copy of the
// buffer would not give; cp.async, which fills them.
// CHECK-LABEL: func.func @clipped_early
// CHECK-NOT: attn.buffer.tensor_map
// CHECK-NOT: nvvm.cp.async.bulk
// CHECK: nvgpu.device_async_copy {{.*}} to memref<2048xbf16, #gpu.address_space<workgroup>>
func.func @clipped_early(%q: memref<16x64xbf16>, %k: memref<1x2x100x64xbf16>, %o: memref<16x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c32 = arith.constant 32 : index
  %c90 = arith.constant 90 : index
  %c128 = arith.constant 128 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c2, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %m = memref.alloca() : memref<16xf32>
    %l = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x64xf32>
    linalg.fill ins(%ninf : f32) outs(%m : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%l : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x64xf32>)
    scf.for %t = %c0 to %c3 step %c1 {
      %k0 = arith.muli %t, %c32 : index
      %left = arith.subi %c90, %k0 : index
      %rows = arith.minsi %left, %c32 : index
      %kt = memref.subview %k[0, %by, %k0, 0] [1, 1, %rows, 64] [1, 1, 1, 1] : memref<1x2x100x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
      attn.tile.softmax_step %q, %kt, %kt into %m, %l, %acc offsets(%c0, %k0) scale 1.25e-01 : memref<16x64xbf16>, memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<16xf32>, memref<16x64xf32>
    }
    attn.tile.softmax_finalize %l, %acc into %o : memref<16xf32>, memref<16x64xf32>, memref<16x64xbf16>
    gpu.terminator
  }
  return
}

// -----

// Windows of a buffer made inside the launch: no tensor map can be made
// for it on the host; cp.async.
// CHECK-LABEL: func.func @buffer_in_launch
// CHECK-NOT: attn.buffer.tensor_map
// CHECK-NOT: nvvm.cp.async.bulk
// CHECK: nvgpu.device_async_copy {{.*}} to memref<2048xbf16, #gpu.address_space<workgroup>>
func.func @buffer_in_launch(%q: memref<16x64xbf16>, %k: memref<1x2x100x64xbf16>, %o: memref<16x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c32 = arith.constant 32 : index
  %c128 = arith.constant 128 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c2, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %m = memref.alloca() : memref<16xf32>
    %l = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x64xf32>
    linalg.fill ins(%ninf : f32) outs(%m : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%l : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x64xf32>)
    %head = memref.subview %k[0, %by, 0, 0] [1, 1, 100, 64] [1, 1, 1, 1] : memref<1x2x100x64xbf16> to memref<100x64xbf16, strided<[64, 1], offset: ?>>
    %kt = memref.subview %head[%c0, 0] [32, 64] [1, 1] : memref<100x64xbf16, strided<[64, 1], offset: ?>> to memref<32x64xbf16, strided<[64, 1], offset: ?>>
    attn.tile.softmax_step %q, %kt, %kt into %m, %l, %acc offsets(%c0, %c0) scale 1.25e-01 : memref<16x64xbf16>, memref<32x64xbf16, strided<[64, 1], offset: ?>>, memref<32x64xbf16, strided<[64, 1], offset: ?>>, memref<16xf32>, memref<16x64xf32>
    attn.tile.softmax_finalize %l, %acc into %o : memref<16xf32>, memref<16x64xf32>, memref<16x64xbf16>
    gpu.terminator
  }
  return
}

// -----

// The gradient's key form: its staged queries and output gradients are
// windows of 4-D buffers; tensor copies under tensor-copies=gradient (and
// all), 64 rows a box.
// CHECK-LABEL: func.func @key_gradient
// CHECK-COUNT-2: attn.buffer.tensor_map %{{.*}} box [1, 1, 64, 64] swizzle 128
// CHECK: nvvm.cp.async.bulk.tensor.shared.cluster.global
// CHECK: nvvm.cp.async.bulk.tensor.shared.cluster.global
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK: wgmma.mma_async.sync.aligned.m64n32k16
// GRAD-LABEL: func.func @key_gradient
// GRAD-COUNT-2: attn.buffer.tensor_map %{{.*}} box [1, 1, 64, 64] swizzle 128
// GRAD: nvvm.cp.async.bulk.tensor.shared.cluster.global
// OFF-LABEL: func.func @key_gradient
// OFF-NOT: attn.buffer.tensor_map
// FWD-LABEL: func.func @key_gradient
// FWD-NOT: attn.buffer.tensor_map
// FWD: nvgpu.device_async_copy
func.func @key_gradient(%qb: memref<1x2x64x64xbf16>, %dob: memref<1x2x64x64xbf16>, %kv: memref<16x64xbf16>, %lse: memref<64xf32>, %dk: memref<16x64xbf16>, %dv: memref<16x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c128 = arith.constant 128 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c2, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %kacc = memref.alloca() : memref<16x64xf32>
    %vacc = memref.alloca() : memref<16x64xf32>
    linalg.fill ins(%zero : f32) outs(%kacc : memref<16x64xf32>)
    linalg.fill ins(%zero : f32) outs(%vacc : memref<16x64xf32>)
    %q = memref.subview %qb[0, %by, 0, 0] [1, 1, 64, 64] [1, 1, 1, 1] : memref<1x2x64x64xbf16> to memref<64x64xbf16, strided<[64, 1], offset: ?>>
    %do = memref.subview %dob[0, %by, 0, 0] [1, 1, 64, 64] [1, 1, 1, 1] : memref<1x2x64x64xbf16> to memref<64x64xbf16, strided<[64, 1], offset: ?>>
    attn.tile.softmax_grad_step %q, %kv, %kv, %do, %lse, %lse key_grad %kacc, %vacc : memref<16x64xf32>, memref<16x64xf32> offsets(%c0, %c0) scale 0.125 : memref<64x64xbf16, strided<[64, 1], offset: ?>>, memref<16x64xbf16>, memref<16x64xbf16>, memref<64x64xbf16, strided<[64, 1], offset: ?>>, memref<64xf32>, memref<64xf32>
    linalg.copy ins(%kacc : memref<16x64xf32>) outs(%dk : memref<16x64xbf16>)
    linalg.copy ins(%vacc : memref<16x64xf32>) outs(%dv : memref<16x64xbf16>)
    gpu.terminator
  }
  return
}

// -----

// With producer-queries, an overlapped group's queries -- each warp's 16
// rows of a window of a 4-D buffer, the warps' rows one after another --
// over key tiles of 128 rows are the producer's too: a tensor map of boxes of the block's 128 rows;
// four more barriers (two slots: full, one arrival; empty, the 256
// consumers'); at the start of the producer's loop, a wait for a slot
// every consumer gave back, its 16384 bytes expected and one copy from
// the first warp's row (the thread index taken as 0), then the keys and
// values as before. The consumers wait for the slot where the queries are
// defined, S = Q K^T reads them through a descriptor of the slot's 128 x 64
// tile (no cp.async, no ldmatrix), and each gives the slot back (an
// arrival, its count one more) before the finalize's last P V. Without
// producer-queries (OVER) each warp copies its rows (cp.async) and loads
// them by ldmatrix.
// QUERIES-LABEL: func.func @producer_queries
// QUERIES: attn.buffer.tensor_map %{{.*}} box [1, 1, 128, 64] swizzle 128
// QUERIES-COUNT-2: nvvm.mbarrier.init %{{.*}}, %c1_i32
// QUERIES-COUNT-2: nvvm.mbarrier.init %{{.*}}, %c256_i32
// QUERIES: memref.subview %arg0[0, %{{.*}}, %{{.*}}, 0] [1, 1, 16, 64]
// QUERIES-NOT: nvgpu.device_async_copy
// QUERIES: nvvm.mbarrier.try_wait.parity
// QUERIES: memref.view {{.*}} to memref<128x64xbf16, #gpu.address_space<workgroup>>
// QUERIES: %[[PRODUCER:.*]] = arith.cmpi eq, %{{.*}}, %c256{{.*}} : index
// QUERIES-NEXT: scf.if %[[PRODUCER]] {
// QUERIES: %[[WARP:.*]] = arith.divui %c0{{.*}}, %c32 : index
// QUERIES: %[[ROWS:.*]] = arith.muli %[[WARP]], %c16 : index
// QUERIES: %[[ROW0:.*]] = arith.addi %{{.*}}, %[[ROWS]] : index
// QUERIES: memref.subview %arg0[0, %{{.*}}, %[[ROW0]], 0] [1, 1, 16, 64]
// QUERIES: %[[FREE:.*]] = arith.xori %{{.*}}, %c1_i32
// QUERIES: nvvm.mbarrier.try_wait.parity %{{.*}}, %[[FREE]]
// QUERIES: nvvm.mbarrier.arrive.expect_tx %{{.*}}, %c16384_i32
// QUERIES-NOT: scf.for
// QUERIES: nvvm.cp.async.bulk.tensor.shared.cluster.global
// QUERIES-NOT: nvvm.cp.async.bulk.tensor.shared.cluster.global
// QUERIES: scf.for
// QUERIES: nvvm.mbarrier.arrive.expect_tx %{{.*}}, %c32768_i32
// QUERIES-COUNT-2: nvvm.cp.async.bulk.tensor.shared.cluster.global
// QUERIES: } {attn.producer}
// QUERIES-NEXT: scf.for
// QUERIES-NOT: nvgpu.ldmatrix
// QUERIES: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 128, k = 16>
// QUERIES-NOT: nvgpu.ldmatrix
// QUERIES: nvvm.mbarrier.arrive %{{.*}} : !llvm.ptr<3>
// QUERIES: nvvm.mbarrier.arrive %{{.*}} : !llvm.ptr<3>
// QUERIES-NEXT: arith.constant 0 : index
// QUERIES-NEXT: arith.constant 1 : i32
// QUERIES-NEXT: arith.addi %{{.*}}, %c1_i32
// QUERIES-NEXT: memref.store
// QUERIES: scf.if
// QUERIES: wgmma.mma_async.sync.aligned.m64n64k16
// QUERIES: nvvm.mbarrier.inval
// OVER-LABEL: func.func @producer_queries
// OVER: nvgpu.device_async_copy
// OVER: nvgpu.ldmatrix
// QUERIES-ALONE: error: producer-queries needs overlap-softmax
func.func @producer_queries(%qb: memref<1x2x256x64xbf16>, %k: memref<1x2x300x64xbf16>, %v: memref<1x2x300x64xbf16>, %o: memref<1x2x256x64xbf16>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c16 = arith.constant 16 : index
  %c32 = arith.constant 32 : index
  %c300 = arith.constant 300 : index
  %c128 = arith.constant 128 : index
  %c256 = arith.constant 256 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c2, %gy = %c2, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %row0 = arith.muli %bx, %c128 : index
    %warp = arith.divui %tx, %c32 : index
    %rows = arith.muli %warp, %c16 : index
    %q0 = arith.addi %row0, %rows : index
    %q = memref.subview %qb[0, %by, %q0, 0] [1, 1, 16, 64] [1, 1, 1, 1] : memref<1x2x256x64xbf16> to memref<16x64xbf16, strided<[64, 1], offset: ?>>
    %out = memref.subview %o[0, %by, %q0, 0] [1, 1, 16, 64] [1, 1, 1, 1] : memref<1x2x256x64xbf16> to memref<16x64xbf16, strided<[64, 1], offset: ?>>
    %m = memref.alloca() : memref<16xf32>
    %l = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x64xf32>
    linalg.fill ins(%ninf : f32) outs(%m : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%l : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x64xf32>)
    scf.for %t = %c0 to %n step %c1 {
      %k0 = arith.muli %t, %c128 : index
      %left = arith.subi %c300, %k0 : index
      %krows = arith.minsi %left, %c128 : index
      %kt = memref.subview %k[0, %by, %k0, 0] [1, 1, %krows, 64] [1, 1, 1, 1] : memref<1x2x300x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
      %vt = memref.subview %v[0, %by, %k0, 0] [1, 1, %krows, 64] [1, 1, 1, 1] : memref<1x2x300x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
      attn.tile.softmax_step %q, %kt, %vt into %m, %l, %acc offsets(%q0, %k0) scale 1.25e-01 : memref<16x64xbf16, strided<[64, 1], offset: ?>>, memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<16xf32>, memref<16x64xf32>
    }
    attn.tile.softmax_finalize %l, %acc into %out : memref<16xf32>, memref<16x64xf32>, memref<16x64xbf16, strided<[64, 1], offset: ?>>
    gpu.terminator
  }
  return
}

// -----

// At D = 128 over 128-key tiles, a shared ring's three stages of keys and
// values (192 KiB) would take more than half of a block's shared memory:
// the keys and the values take rings of their own (ringGroups). The
// values' has three stages (six barriers, 48 bytes: each is held a step
// past its own), the keys' two (four, 32 bytes), each stage 32 KiB, and
// the producer waits, expects and copies for each in turn. Each step gives
// the key stage back (its empty barrier: stage + 2, of the 32-byte
// buffer) as soon as S = Q K^T is waited for, before exponentiating, and
// the last step's value stage (stage + 3, of the 48-byte buffer) once its
// P V is; the finalize gives the last value stage back. The producer's
// query slots (64 KiB more) would not fit beside the rings' 160: the warps
// copy their own queries.
// OVER-LABEL: func.func @separate_rings
// OVER: memref.alloc() : memref<66544xi8, #gpu.address_space<workgroup>>
// OVER: memref.alloc() : memref<32xi8, #gpu.address_space<workgroup>>
// OVER: memref.alloc() : memref<99312xi8, #gpu.address_space<workgroup>>
// OVER: memref.alloc() : memref<48xi8, #gpu.address_space<workgroup>>
// OVER-COUNT-3: nvvm.mbarrier.init %{{.*}}, %c1_i32
// OVER-COUNT-3: nvvm.mbarrier.init %{{.*}}, %c256_i32
// OVER-NEXT: nvvm.fence.mbarrier.init
// OVER-COUNT-2: nvvm.mbarrier.init %{{.*}}, %c1_i32
// OVER-COUNT-2: nvvm.mbarrier.init %{{.*}}, %c256_i32
// OVER-NEXT: nvvm.fence.mbarrier.init
// OVER-NOT: nvvm.mbarrier.init
// OVER: scf.if
// OVER-NEXT: scf.for
// OVER: nvvm.mbarrier.try_wait.parity
// OVER: nvvm.mbarrier.arrive.expect_tx %{{.*}}, %c32768_i32
// OVER-COUNT-2: nvvm.cp.async.bulk.tensor.shared.cluster.global
// OVER: nvvm.mbarrier.try_wait.parity
// OVER: nvvm.mbarrier.arrive.expect_tx %{{.*}}, %c32768_i32
// OVER-COUNT-2: nvvm.cp.async.bulk.tensor.shared.cluster.global
// OVER: } {attn.producer}
// OVER-NEXT: scf.for
// OVER-COUNT-2: nvvm.mbarrier.try_wait.parity
// OVER: nvvm.wgmma.wait.group.sync.aligned 1
// OVER-NOT: nvvm.wgmma.wait
// OVER: arith.addi %{{.*}}, %c2{{.*}} : index
// OVER: memref.extract_aligned_pointer_as_index %{{.*}} : memref<32xi8,
// OVER: nvvm.mbarrier.arrive %{{.*}} : !llvm.ptr<3>
// OVER-NOT: nvvm.wgmma.wait
// OVER: math.exp2
// OVER-NOT: nvvm.mbarrier.arrive
// OVER: nvvm.wgmma.wait.group.sync.aligned 0
// OVER: scf.if
// OVER: arith.addi %{{.*}}, %c3{{.*}} : index
// OVER: memref.extract_aligned_pointer_as_index %{{.*}} : memref<48xi8,
// OVER: nvvm.mbarrier.arrive %{{.*}} : !llvm.ptr<3>
// OVER: scf.if
// OVER: nvvm.wgmma.wait.group.sync.aligned 0
// OVER: memref.extract_aligned_pointer_as_index %{{.*}} : memref<48xi8,
// OVER: nvvm.mbarrier.arrive %{{.*}} : !llvm.ptr<3>
// OVER: nvvm.mbarrier.inval
// QUERIES-LABEL: func.func @separate_rings
// QUERIES-NOT: attn.buffer.tensor_map %arg0
// QUERIES: nvgpu.device_async_copy
func.func @separate_rings(%qb: memref<1x2x256x128xbf16>, %k: memref<1x2x300x128xbf16>, %v: memref<1x2x300x128xbf16>, %o: memref<1x2x256x128xbf16>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c16 = arith.constant 16 : index
  %c32 = arith.constant 32 : index
  %c300 = arith.constant 300 : index
  %c128 = arith.constant 128 : index
  %c256 = arith.constant 256 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c2, %gy = %c2, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %row0 = arith.muli %bx, %c128 : index
    %warp = arith.divui %tx, %c32 : index
    %rows = arith.muli %warp, %c16 : index
    %q0 = arith.addi %row0, %rows : index
    %q = memref.subview %qb[0, %by, %q0, 0] [1, 1, 16, 128] [1, 1, 1, 1] : memref<1x2x256x128xbf16> to memref<16x128xbf16, strided<[128, 1], offset: ?>>
    %out = memref.subview %o[0, %by, %q0, 0] [1, 1, 16, 128] [1, 1, 1, 1] : memref<1x2x256x128xbf16> to memref<16x128xbf16, strided<[128, 1], offset: ?>>
    %m = memref.alloca() : memref<16xf32>
    %l = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x128xf32>
    linalg.fill ins(%ninf : f32) outs(%m : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%l : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x128xf32>)
    scf.for %t = %c0 to %n step %c1 {
      %k0 = arith.muli %t, %c128 : index
      %left = arith.subi %c300, %k0 : index
      %krows = arith.minsi %left, %c128 : index
      %kt = memref.subview %k[0, %by, %k0, 0] [1, 1, %krows, 128] [1, 1, 1, 1] : memref<1x2x300x128xbf16> to memref<?x128xbf16, strided<[128, 1], offset: ?>>
      %vt = memref.subview %v[0, %by, %k0, 0] [1, 1, %krows, 128] [1, 1, 1, 1] : memref<1x2x300x128xbf16> to memref<?x128xbf16, strided<[128, 1], offset: ?>>
      attn.tile.softmax_step %q, %kt, %vt into %m, %l, %acc offsets(%q0, %k0) scale 8.8e-02 : memref<16x128xbf16, strided<[128, 1], offset: ?>>, memref<?x128xbf16, strided<[128, 1], offset: ?>>, memref<?x128xbf16, strided<[128, 1], offset: ?>>, memref<16xf32>, memref<16x128xf32>
    }
    attn.tile.softmax_finalize %l, %acc into %out : memref<16xf32>, memref<16x128xf32>, memref<16x128xbf16, strided<[128, 1], offset: ?>>
    gpu.terminator
  }
  return
}

// -----

// Over key tiles of 64 rows or fewer (here 32), the warps keep copying
// their own queries: over 64-key tiles the producer's were slower on the
// H200 (tools/attn-bench/NOTES.md, session 61).
// QUERIES-LABEL: func.func @producer_queries_narrow_keys
// QUERIES-NOT: box [1, 1, 128, 64]
// QUERIES: nvgpu.device_async_copy
// QUERIES: nvgpu.ldmatrix
func.func @producer_queries_narrow_keys(%qb: memref<1x2x256x64xbf16>, %k: memref<1x2x100x64xbf16>, %v: memref<1x2x100x64xbf16>, %o: memref<1x2x256x64xbf16>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c16 = arith.constant 16 : index
  %c32 = arith.constant 32 : index
  %c100 = arith.constant 100 : index
  %c128 = arith.constant 128 : index
  %c256 = arith.constant 256 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c2, %gy = %c2, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %row0 = arith.muli %bx, %c128 : index
    %warp = arith.divui %tx, %c32 : index
    %rows = arith.muli %warp, %c16 : index
    %q0 = arith.addi %row0, %rows : index
    %q = memref.subview %qb[0, %by, %q0, 0] [1, 1, 16, 64] [1, 1, 1, 1] : memref<1x2x256x64xbf16> to memref<16x64xbf16, strided<[64, 1], offset: ?>>
    %out = memref.subview %o[0, %by, %q0, 0] [1, 1, 16, 64] [1, 1, 1, 1] : memref<1x2x256x64xbf16> to memref<16x64xbf16, strided<[64, 1], offset: ?>>
    %m = memref.alloca() : memref<16xf32>
    %l = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x64xf32>
    linalg.fill ins(%ninf : f32) outs(%m : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%l : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x64xf32>)
    scf.for %t = %c0 to %n step %c1 {
      %k0 = arith.muli %t, %c32 : index
      %left = arith.subi %c100, %k0 : index
      %krows = arith.minsi %left, %c32 : index
      %kt = memref.subview %k[0, %by, %k0, 0] [1, 1, %krows, 64] [1, 1, 1, 1] : memref<1x2x100x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
      %vt = memref.subview %v[0, %by, %k0, 0] [1, 1, %krows, 64] [1, 1, 1, 1] : memref<1x2x100x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
      attn.tile.softmax_step %q, %kt, %vt into %m, %l, %acc offsets(%q0, %k0) scale 1.25e-01 : memref<16x64xbf16, strided<[64, 1], offset: ?>>, memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<16xf32>, memref<16x64xf32>
    }
    attn.tile.softmax_finalize %l, %acc into %out : memref<16xf32>, memref<16x64xf32>, memref<16x64xbf16, strided<[64, 1], offset: ?>>
    gpu.terminator
  }
  return
}

// attn-convert-softmax-tiles-to-gpu on sm_90a (the default target): which
// tensor-core steps run their products on warpgroup MMA, and how their
// staged tiles are laid out for it.
// RUN: attn-opt %s --split-input-file --attn-convert-softmax-tiles-to-gpu | FileCheck %s

// A block of four warps (one warpgroup) and head dims of 64: the key and
// value tiles are staged swizzled (2 x 32 x 64 bf16, 8192 bytes, and 1008
// more to align them to 1024 bytes wherever the buffer lands), each run of
// 8 copied to its swizzled place in the tile seen as one dimension, keys
// and values each a group; the copies are fenced for the async proxy before
// the barriers that give them to the block. S = Q K^T: each warp's Q
// fragments by ldmatrix from its own staged rows, wgmma m64n32k16 with A
// from registers and K through a K-major descriptor, waited for before the
// softmax reads S; P V: P from S's accumulators, V MN-major (the last
// operand 1), after the values' copies are waited for and fenced.
// CHECK-LABEL: func.func @forward
// CHECK-DAG: memref.alloc() : memref<9200xi8, #gpu.address_space<workgroup>>
// CHECK-DAG: memref.alloc() : memref<9216xi8, #gpu.address_space<workgroup>>
// CHECK: memref.extract_aligned_pointer_as_index
// CHECK: nvgpu.device_async_copy {{.*}} to memref<2048xbf16, #gpu.address_space<workgroup>>
// CHECK: nvgpu.device_async_create_group
// CHECK: nvgpu.device_async_copy {{.*}} to memref<2048xbf16, #gpu.address_space<workgroup>>
// CHECK: %[[VALUES:.*]] = nvgpu.device_async_create_group
// CHECK-NEXT: nvgpu.device_async_wait %[[VALUES]] {numGroups = 1 : i32}
// CHECK-NEXT: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK-NEXT: gpu.barrier
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false}
// CHECK: nvvm.wgmma.fence.aligned
// CHECK-COUNT-4: wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16 {{[^;]*}}, p, 1, 1, 0;
// CHECK: nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK: math.exp2
// CHECK: nvgpu.device_async_wait %[[VALUES]] {numGroups = 0 : i32}
// CHECK-NEXT: nvvm.fence.proxy
// CHECK-NEXT: gpu.barrier
// CHECK: nvvm.wgmma.fence.aligned
// CHECK-COUNT-2: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {{[^;]*}}, p, 1, 1, 1;
// CHECK: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK-NOT: nvvm.mma.sync
// CHECK-NOT: attn.tile
func.func @forward(%q: memref<16x64xbf16>, %k: memref<32x64xbf16>, %o: memref<16x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %m = memref.alloca() : memref<16xf32>
    %l = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x64xf32>
    linalg.fill ins(%ninf : f32) outs(%m : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%l : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x64xf32>)
    attn.tile.softmax_step %q, %k, %k into %m, %l, %acc offsets(%c0, %c0) scale 1.25e-01 : memref<16x64xbf16>, memref<32x64xbf16>, memref<32x64xbf16>, memref<16xf32>, memref<16x64xf32>
    attn.tile.softmax_finalize %l, %acc into %o : memref<16xf32>, memref<16x64xf32>, memref<16x64xbf16>
    gpu.terminator
  }
  return
}

// -----

// Two warps are not a warpgroup: mma.sync, the tiles padded.
// CHECK-LABEL: func.func @two_warps
// CHECK: memref.alloc() : memref<9216xi8, #gpu.address_space<workgroup>>
// CHECK-NOT: nvvm.fence.proxy
// CHECK: nvvm.mma.sync
// CHECK-NOT: wgmma
func.func @two_warps(%q: memref<16x64xbf16>, %k: memref<32x64xbf16>, %o: memref<16x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    %m = memref.alloca() : memref<16xf32>
    %l = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x64xf32>
    linalg.fill ins(%ninf : f32) outs(%m : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%l : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x64xf32>)
    attn.tile.softmax_step %q, %k, %k into %m, %l, %acc offsets(%c0, %c0) scale 1.25e-01 : memref<16x64xbf16>, memref<32x64xbf16>, memref<32x64xbf16>, memref<16xf32>, memref<16x64xf32>
    attn.tile.softmax_finalize %l, %acc into %o : memref<16xf32>, memref<16x64xf32>, memref<16x64xbf16>
    gpu.terminator
  }
  return
}

// -----

// Head dims of 32 are half a swizzled row: mma.sync, the tiles padded.
// CHECK-LABEL: func.func @narrow_heads
// CHECK-NOT: nvvm.fence.proxy
// CHECK: nvvm.mma.sync
// CHECK-NOT: wgmma
func.func @narrow_heads(%q: memref<16x32xbf16>, %k: memref<32x32xbf16>, %o: memref<16x32xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %m = memref.alloca() : memref<16xf32>
    %l = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x32xf32>
    linalg.fill ins(%ninf : f32) outs(%m : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%l : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x32xf32>)
    attn.tile.softmax_step %q, %k, %k into %m, %l, %acc offsets(%c0, %c0) scale 1.25e-01 : memref<16x32xbf16>, memref<32x32xbf16>, memref<32x32xbf16>, memref<16xf32>, memref<16x32xf32>
    attn.tile.softmax_finalize %l, %acc into %o : memref<16xf32>, memref<16x32xf32>, memref<16x32xbf16>
    gpu.terminator
  }
  return
}

// -----

// A key tile of 272 rows: S's columns are more than one instruction's N
// (256), so mma.sync, the tiles padded.
// CHECK-LABEL: func.func @wide_key_tile
// CHECK-NOT: nvvm.fence.proxy
// CHECK: nvvm.mma.sync
// CHECK-NOT: wgmma
func.func @wide_key_tile(%q: memref<16x64xbf16>, %k: memref<272x64xbf16>, %o: memref<16x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %m = memref.alloca() : memref<16xf32>
    %l = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x64xf32>
    linalg.fill ins(%ninf : f32) outs(%m : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%l : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x64xf32>)
    attn.tile.softmax_step %q, %k, %k into %m, %l, %acc offsets(%c0, %c0) scale 1.25e-01 : memref<16x64xbf16>, memref<272x64xbf16>, memref<272x64xbf16>, memref<16xf32>, memref<16x64xf32>
    attn.tile.softmax_finalize %l, %acc into %o : memref<16xf32>, memref<16x64xf32>, memref<16x64xbf16>
    gpu.terminator
  }
  return
}

// -----

// The gradient's key form on a warpgroup: the warps' own rows (keys and
// values) staged once as one swizzled tile of the block's 64 rows, fenced
// for the async proxy and published by a barrier; the queries and output
// gradients staged swizzled; S^T = K Q^T and dP^T = V dO^T 32 staged rows
// at a time (m64n32k16, both operands by K-major descriptors), both issued
// before S alone is waited for, P's exponentials before dP's wait; then
// dV += P^T dO and dK += dS^T Q (m64n64k16, A from registers, B MN-major)
// issued together and left in flight: the second chunk's S and dP are
// issued before anything is waited for, and its `wait 1` retires the first
// chunk's accumulations with S. The step's end waits for the last ones;
// the accumulators stored once.
// CHECK-LABEL: func.func @key_gradient
// CHECK-DAG: memref.alloc() : memref<17392xi8, #gpu.address_space<workgroup>>
// CHECK-DAG: memref.alloc() : memref<9200xi8, #gpu.address_space<workgroup>>
// CHECK: nvgpu.device_async_wait %{{.*}} {numGroups = 0 : i32}
// CHECK-NEXT: nvvm.fence.proxy
// CHECK-NEXT: gpu.barrier
// CHECK: nvvm.fence.proxy
// CHECK-NEXT: gpu.barrier
// CHECK-COUNT-4: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 32, k = 16>
// CHECK-NOT: nvvm.wgmma.wait.group
// CHECK: nvvm.fence.proxy
// CHECK-NEXT: gpu.barrier
// CHECK-COUNT-4: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 32, k = 16>
// CHECK: nvvm.wgmma.wait.group.sync.aligned 1
// CHECK: math.exp2
// CHECK: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK-COUNT-2: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {{[^;]*}}, p, 1, 1, 1;
// CHECK-NOT: nvvm.wgmma.wait.group
// CHECK-COUNT-2: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {{[^;]*}}, p, 1, 1, 1;
// CHECK-NOT: nvvm.wgmma.wait.group
// CHECK-COUNT-8: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 32, k = 16>
// CHECK: nvvm.wgmma.wait.group.sync.aligned 1
// CHECK: math.exp2
// CHECK: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK-COUNT-4: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
// CHECK-NOT: nvvm.wgmma.mma_async
// CHECK: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK-NOT: nvvm.mma.sync
// CHECK: vector.store
// CHECK-NOT: attn.tile
func.func @key_gradient(%x: memref<64x64xbf16>, %lse: memref<64xf32>, %dk: memref<16x64xbf16>, %dv: memref<16x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %kacc = memref.alloca() : memref<16x64xf32>
    %vacc = memref.alloca() : memref<16x64xf32>
    linalg.fill ins(%zero : f32) outs(%kacc : memref<16x64xf32>)
    linalg.fill ins(%zero : f32) outs(%vacc : memref<16x64xf32>)
    %k = memref.subview %x[0, 0] [16, 64] [1, 1] : memref<64x64xbf16> to memref<16x64xbf16, strided<[64, 1]>>
    attn.tile.softmax_grad_step %x, %k, %k, %x, %lse, %lse key_grad %kacc, %vacc : memref<16x64xf32>, memref<16x64xf32> offsets(%c0, %c0) scale 0.125 : memref<64x64xbf16>, memref<16x64xbf16, strided<[64, 1]>>, memref<16x64xbf16, strided<[64, 1]>>, memref<64x64xbf16>, memref<64xf32>, memref<64xf32>
    linalg.copy ins(%kacc : memref<16x64xf32>) outs(%dk : memref<16x64xbf16>)
    linalg.copy ins(%vacc : memref<16x64xf32>) outs(%dv : memref<16x64xbf16>)
    gpu.terminator
  }
  return
}

// -----

// In a launch where a step has a predicate (here the causal one), each
// chunk waits for its dV and dK before the next chunk's S is issued: left in
// flight, their accumulators took the causal key kernel past the registers
// at which three blocks fit a multiprocessor.
// CHECK-LABEL: func.func @key_gradient_predicate
// CHECK-COUNT-4: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 32, k = 16>
// CHECK-COUNT-4: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 32, k = 16>
// CHECK-COUNT-4: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
// CHECK-NOT: nvvm.wgmma.mma_async
// CHECK: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 32, k = 16>
func.func @key_gradient_predicate(%x: memref<64x64xbf16>, %lse: memref<64xf32>, %dk: memref<16x64xbf16>, %dv: memref<16x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %kacc = memref.alloca() : memref<16x64xf32>
    %vacc = memref.alloca() : memref<16x64xf32>
    linalg.fill ins(%zero : f32) outs(%kacc : memref<16x64xf32>)
    linalg.fill ins(%zero : f32) outs(%vacc : memref<16x64xf32>)
    %k = memref.subview %x[0, 0] [16, 64] [1, 1] : memref<64x64xbf16> to memref<16x64xbf16, strided<[64, 1]>>
    attn.tile.softmax_grad_step %x, %k, %k, %x, %lse, %lse key_grad %kacc, %vacc : memref<16x64xf32>, memref<16x64xf32> offsets(%c0, %c0) scale 0.125 where {
    ^bb0(%i: index, %j: index):
      %kept = arith.cmpi sle, %j, %i : index
      attn.yield %kept : i1
    } : memref<64x64xbf16>, memref<16x64xbf16, strided<[64, 1]>>, memref<16x64xbf16, strided<[64, 1]>>, memref<64x64xbf16>, memref<64xf32>, memref<64xf32>
    linalg.copy ins(%kacc : memref<16x64xf32>) outs(%dk : memref<16x64xbf16>)
    linalg.copy ins(%vacc : memref<16x64xf32>) outs(%dv : memref<16x64xbf16>)
    gpu.terminator
  }
  return
}

// -----

// The key form at a head dim of 128: every tile is two 64-column blocks,
// so each wgmma's descriptors are the first slice's of their tile, passed
// through an empty volatile inline-asm statement at that use, plus the
// slice's offset (16-byte units: 2 a slice of K-major rows) -- not a
// descriptor a slice, which LLVM would hoist out of the loop and keep live
// across it. Eight slices of S (m64n32k16), then eight of dP.
// CHECK-LABEL: func.func @key_gradient_d128
// CHECK: llvm.inline_asm has_side_effects "", "=l,0"
// CHECK: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 32, k = 16>
// CHECK: %[[PINNED:.*]] = llvm.inline_asm has_side_effects "", "=l,0"
// CHECK-NEXT: %[[OFFSET:.*]] = arith.constant 2 : i64
// CHECK-NEXT: %[[SLICE:.*]] = arith.addi %[[PINNED]], %[[OFFSET]] : i64
// CHECK: nvvm.wgmma.mma_async %{{[0-9]+}}, %[[SLICE]], %{{[0-9]+}}, <m = 64, n = 32, k = 16>
// CHECK-COUNT-14: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 32, k = 16>
// CHECK-NOT: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 32, k = 16>
// CHECK: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
func.func @key_gradient_d128(%x: memref<64x128xbf16>, %lse: memref<64xf32>, %dk: memref<16x128xbf16>, %dv: memref<16x128xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %kacc = memref.alloca() : memref<16x128xf32>
    %vacc = memref.alloca() : memref<16x128xf32>
    linalg.fill ins(%zero : f32) outs(%kacc : memref<16x128xf32>)
    linalg.fill ins(%zero : f32) outs(%vacc : memref<16x128xf32>)
    %k = memref.subview %x[0, 0] [16, 128] [1, 1] : memref<64x128xbf16> to memref<16x128xbf16, strided<[128, 1]>>
    attn.tile.softmax_grad_step %x, %k, %k, %x, %lse, %lse key_grad %kacc, %vacc : memref<16x128xf32>, memref<16x128xf32> offsets(%c0, %c0) scale 0.125 : memref<64x128xbf16>, memref<16x128xbf16, strided<[128, 1]>>, memref<16x128xbf16, strided<[128, 1]>>, memref<64x128xbf16>, memref<64xf32>, memref<64xf32>
    linalg.copy ins(%kacc : memref<16x128xf32>) outs(%dk : memref<16x128xbf16>)
    linalg.copy ins(%vacc : memref<16x128xf32>) outs(%dv : memref<16x128xbf16>)
    gpu.terminator
  }
  return
}

// -----

// The key form with 32 rows a warp (two 16-row tiles): the warps' rows
// stay in each warp's padded tile, S's and dP's A fragments loaded from it
// by ldmatrix (the register form: `{A registers}, desc, p, 1, 1, 0`), and
// no block-wide tile of them is staged.
// CHECK-LABEL: func.func @key_gradient_two_row_tiles
// CHECK-NOT: nvvm.wgmma.mma_async
// CHECK: memref.view {{.*}} to memref<32x72xbf16, #gpu.address_space<workgroup>>
// CHECK-NOT: nvvm.wgmma.mma_async
// CHECK: nvgpu.ldmatrix {{.*}} memref<32x72xbf16
// CHECK-NOT: nvvm.wgmma.mma_async
// CHECK: wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16 {{[^;]*}}, p, 1, 1, 0;
// CHECK-NOT: nvvm.wgmma.mma_async
// CHECK: vector.store
func.func @key_gradient_two_row_tiles(%x: memref<64x64xbf16>, %lse: memref<64xf32>, %dk: memref<32x64xbf16>, %dv: memref<32x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %kacc = memref.alloca() : memref<32x64xf32>
    %vacc = memref.alloca() : memref<32x64xf32>
    linalg.fill ins(%zero : f32) outs(%kacc : memref<32x64xf32>)
    linalg.fill ins(%zero : f32) outs(%vacc : memref<32x64xf32>)
    %k = memref.subview %x[0, 0] [32, 64] [1, 1] : memref<64x64xbf16> to memref<32x64xbf16, strided<[64, 1]>>
    attn.tile.softmax_grad_step %x, %k, %k, %x, %lse, %lse key_grad %kacc, %vacc : memref<32x64xf32>, memref<32x64xf32> offsets(%c0, %c0) scale 0.125 : memref<64x64xbf16>, memref<32x64xbf16, strided<[64, 1]>>, memref<32x64xbf16, strided<[64, 1]>>, memref<64x64xbf16>, memref<64xf32>, memref<64xf32>
    linalg.copy ins(%kacc : memref<32x64xf32>) outs(%dk : memref<32x64xbf16>)
    linalg.copy ins(%vacc : memref<32x64xf32>) outs(%dv : memref<32x64xbf16>)
    gpu.terminator
  }
  return
}

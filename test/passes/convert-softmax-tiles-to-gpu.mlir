// attn-convert-softmax-tiles-to-gpu on its own: which form each row group gets.
// RUN: attn-opt %s --split-input-file --attn-set-target="chip=sm_80" --attn-convert-softmax-tiles-to-gpu | FileCheck %s
// RUN: attn-opt %s --split-input-file --attn-set-target="chip=sm_80" --attn-convert-softmax-tiles-to-gpu --attn-allocate-shared-memory | FileCheck %s --check-prefix=ALLOC

// bf16, 16 rows, reached by every thread of the block: tensor cores, with
// the shared memory of a padded 32-key tile of K and V (9216 bytes) and of
// each of the four warps' padded 16-row query tile (4 x 2304).
// The shared memory as two staging buffers, live together: 18432 bytes.
// CHECK-LABEL: func.func @tensor_cores
// CHECK: gpu.launch
// CHECK-DAG: memref.alloc() : memref<9216xi8, #gpu.address_space<workgroup>>
// CHECK-DAG: memref.alloc() : memref<9216xi8, #gpu.address_space<workgroup>>
// ALLOC-LABEL: func.func @tensor_cores
// ALLOC: gpu.launch {{.*}} dynamic_shared_memory_size %c18432_i32
// CHECK-DAG: memref.alloca() : memref<2xf32>
// CHECK-DAG: memref.alloca() : memref<32xf32>
// CHECK: nvgpu.device_async_copy
// CHECK: nvvm.mma.sync
// CHECK-NOT: attn.tile
func.func @tensor_cores(%q: memref<16x64xbf16>, %k: memref<32x64xbf16>, %o: memref<16x64xbf16>) {
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

// 32 rows (attn-tile rows-per-instance=32): two 16-row tiles on tensor
// cores, statistics of four fragment rows and 2 x 32 accumulator registers
// per lane; each query tile is in shared memory (4 warps x 32 x (64 + 8)
// after the 9216 bytes of K and V). Every key fragment loaded by ldmatrix
// feeds both row tiles' mma.sync, which take their A fragments from the
// staged query tile (ldmatrix, rows 0-15 then 16-31).
// CHECK-LABEL: func.func @tensor_cores_32_rows
// CHECK: gpu.launch
// CHECK: memref.alloc() : memref<18432xi8, #gpu.address_space<workgroup>>
// ALLOC-LABEL: func.func @tensor_cores_32_rows
// ALLOC: gpu.launch {{.*}} dynamic_shared_memory_size %c27648_i32
// CHECK: memref.view %{{.*}} : memref<18432xi8, #gpu.address_space<workgroup>> to memref<32x72xbf16, #gpu.address_space<workgroup>>
// CHECK: memref.alloc() : memref<9216xi8, #gpu.address_space<workgroup>>
// CHECK-DAG: memref.alloca() : memref<4xf32>
// CHECK-DAG: memref.alloca() : memref<64xf32>
// CHECK: %[[QA:.*]] = nvgpu.ldmatrix %[[QTILE:.*]][%{{.*}}, %{{.*}}] {numTiles = 4 : i32, transpose = false} : memref<32x72xbf16
// CHECK: %[[QB:.*]] = nvgpu.ldmatrix %[[QTILE]][%{{.*}}, %{{.*}}] {numTiles = 4 : i32, transpose = false} : memref<32x72xbf16
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false} : memref<32x72xbf16
// CHECK-NOT: nvgpu.ldmatrix
// CHECK: nvvm.mma.sync
// CHECK-NOT: nvgpu.ldmatrix
// CHECK: nvvm.mma.sync
// CHECK-NOT: nvgpu.ldmatrix
// CHECK: nvvm.mma.sync
// CHECK-NOT: nvgpu.ldmatrix
// CHECK: nvvm.mma.sync
// CHECK-NOT: attn.tile
func.func @tensor_cores_32_rows(%q: memref<32x64xbf16>, %k: memref<32x64xbf16>, %o: memref<32x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %m = memref.alloca() : memref<32xf32>
    %l = memref.alloca() : memref<32xf32>
    %acc = memref.alloca() : memref<32x64xf32>
    linalg.fill ins(%ninf : f32) outs(%m : memref<32xf32>)
    linalg.fill ins(%zero : f32) outs(%l : memref<32xf32>)
    linalg.fill ins(%zero : f32) outs(%acc : memref<32x64xf32>)
    attn.tile.softmax_step %q, %k, %k into %m, %l, %acc offsets(%c0, %c0) scale 1.25e-01 : memref<32x64xbf16>, memref<32x64xbf16>, memref<32x64xbf16>, memref<32xf32>, memref<32x64xf32>
    attn.tile.softmax_finalize %l, %acc into %o : memref<32xf32>, memref<32x64xf32>, memref<32x64xbf16>
    gpu.terminator
  }
  return
}

// -----

// The same op under a branch that differs between threads cannot use the
// block's barriers: one row per lane, no shared memory.
// CHECK-LABEL: func.func @divergent
// CHECK-NOT: dynamic_shared_memory_size
// CHECK-DAG: memref.alloca() : memref<1xf32>
// CHECK-DAG: memref.alloca() : memref<1x64xf32>
// CHECK-NOT: nvvm.mma.sync
// CHECK: return
func.func @divergent(%q: memref<16x64xbf16>, %k: memref<32x64xbf16>, %o: memref<16x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
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
    %first = arith.cmpi ult, %tx, %c64 : index
    scf.if %first {
      attn.tile.softmax_step %q, %k, %k into %m, %l, %acc offsets(%c0, %c0) scale 1.25e-01 : memref<16x64xbf16>, memref<32x64xbf16>, memref<32x64xbf16>, memref<16xf32>, memref<16x64xf32>
    }
    attn.tile.softmax_finalize %l, %acc into %o : memref<16xf32>, memref<16x64xf32>, memref<16x64xbf16>
    gpu.terminator
  }
  return
}

// -----

// The finalize with the running maximum also writes each row's
// log-sum-exp: on tensor cores from the base-2 maximum, (m + log2 l) ln 2,
// by the first lane of the row's four.
// CHECK-LABEL: func.func @tensor_cores_lse
// CHECK: nvvm.mma.sync
// CHECK: math.log2
// CHECK: arith.mulf %{{.*}}, %cst{{.*}} : f32
// CHECK: arith.cmpi eq
// CHECK: scf.if
// CHECK:   memref.store %{{.*}}, %{{.*}}[%{{.*}}] : memref<16xf32>
func.func @tensor_cores_lse(%q: memref<16x64xbf16>, %k: memref<32x64xbf16>, %o: memref<16x64xbf16>, %lse: memref<16xf32>) {
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
    attn.tile.softmax_finalize %l, %acc into %o log_sum_exp(%m) into %lse : memref<16xf32>, memref<16x64xf32>, memref<16x64xbf16>, memref<16xf32>, memref<16xf32>
    gpu.terminator
  }
  return
}

// -----

// f32 of a head dim that is not a multiple of 16 (no tensor-core form: a
// row per lane): the lane's row's log-sum-exp m + log l.
// CHECK-LABEL: func.func @per_lane_lse
// CHECK: gpu.lane_id
// CHECK: math.log
// CHECK: memref.store %{{.*}}, %{{.*}}[%{{.*}}] : memref<?xf32, strided<[1], offset: ?>>
func.func @per_lane_lse(%q: memref<16x24xf32>, %o: memref<16x24xf32>, %lse: memref<16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %m = memref.alloca() : memref<16xf32>
    %l = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x24xf32>
    linalg.fill ins(%ninf : f32) outs(%m : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%l : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x24xf32>)
    attn.tile.softmax_step %q, %q, %q into %m, %l, %acc offsets(%c0, %c0) scale 1.25e-01 : memref<16x24xf32>, memref<16x24xf32>, memref<16x24xf32>, memref<16xf32>, memref<16x24xf32>
    attn.tile.softmax_finalize %l, %acc into %o log_sum_exp(%m) into %lse : memref<16xf32>, memref<16x24xf32>, memref<16x24xf32>, memref<16xf32>, memref<16xf32>
    gpu.terminator
  }
  return
}

// -----

// f32 on tensor cores (3xTF32, 32 rows a warp as --lower-to-gpu tiles f32):
// the staged tiles are padded f32 rows, 64 + 8 for those read along their
// rows (K 64 x 72 x 4 bytes, each of the four warps' query tile 32 x 72 x
// 4), 64 + 4 for V, read down its columns (64 x 68 x 4); the statistics of
// four row slots, the accumulator of 2 x 32 registers a lane. Key
// fragments come two 8-key tiles at a time (bFragmentPair), each loaded as
// one pair and split once, and feed both row tiles' products; each product
// three mma.sync.m16n8k8 in TF32.
// CHECK-LABEL: func.func @tensor_cores_f32
// CHECK-DAG: memref.alloc() : memref<36864xi8, #gpu.address_space<workgroup>>
// CHECK-DAG: memref.alloc() : memref<35840xi8, #gpu.address_space<workgroup>>
// CHECK-DAG: memref.alloca() : memref<4xf32>
// CHECK-DAG: memref.alloca() : memref<64xf32>
// CHECK: vector.load %{{.*}} : memref<64x72xf32, #gpu.address_space<workgroup>>, vector<2xf32>
// CHECK: vector.load %{{.*}} : memref<64x72xf32, #gpu.address_space<workgroup>>, vector<2xf32>
// CHECK-NOT: vector.load
// CHECK-COUNT-12: nvvm.mma.sync {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 8>}
// CHECK-NEXT: llvm.extractvalue
// CHECK-NOT: nvvm.mma.sync
// CHECK: vector.load %{{.*}} : memref<64x72xf32, #gpu.address_space<workgroup>>, vector<2xf32>
// CHECK: math.exp2
// CHECK: memref.load %{{.*}} : memref<64x68xf32, #gpu.address_space<workgroup>>
// CHECK-NOT: attn.tile
// CHECK: return
func.func @tensor_cores_f32(%q: memref<32x64xf32>, %k: memref<64x64xf32>, %o: memref<32x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %m = memref.alloca() : memref<32xf32>
    %l = memref.alloca() : memref<32xf32>
    %acc = memref.alloca() : memref<32x64xf32>
    linalg.fill ins(%ninf : f32) outs(%m : memref<32xf32>)
    linalg.fill ins(%zero : f32) outs(%l : memref<32xf32>)
    linalg.fill ins(%zero : f32) outs(%acc : memref<32x64xf32>)
    attn.tile.softmax_step %q, %k, %k into %m, %l, %acc offsets(%c0, %c0) scale 1.25e-01 : memref<32x64xf32>, memref<64x64xf32>, memref<64x64xf32>, memref<32xf32>, memref<32x64xf32>
    attn.tile.softmax_finalize %l, %acc into %o : memref<32xf32>, memref<32x64xf32>, memref<32x64xf32>
    gpu.terminator
  }
  return
}

// -----

// A score region on tensor cores: S = Q K^T, then each of the lane's scores
// scaled and through the region (soft-capping) before the mask and the
// step; P V after.
// CHECK-LABEL: func.func @tensor_cores_score
// CHECK: nvvm.mma.sync
// CHECK: math.tanh
// CHECK: math.exp2
// CHECK: nvvm.mma.sync
// CHECK-NOT: attn.tile
func.func @tensor_cores_score(%q: memref<16x64xbf16>, %k: memref<32x64xbf16>, %o: memref<16x64xbf16>) {
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
    attn.tile.softmax_step %q, %k, %k into %m, %l, %acc offsets(%c0, %c0) scale 1.25e-01 score {
    ^bb0(%s: f32, %i: index, %j: index):
      %c = arith.constant 2.0 : f32
      %x = arith.divf %s, %c : f32
      %t = math.tanh %x : f32
      %y = arith.mulf %t, %c : f32
      attn.yield %y : f32
    } : memref<16x64xbf16>, memref<32x64xbf16>, memref<32x64xbf16>, memref<16xf32>, memref<16x64xf32>
    attn.tile.softmax_finalize %l, %acc into %o : memref<16xf32>, memref<16x64xf32>, memref<16x64xbf16>
    gpu.terminator
  }
  return
}

// -----

// f32 of head dim 24, a row per lane: the lane's score of each key through
// the region.
// CHECK-LABEL: func.func @per_lane_score
// CHECK: gpu.lane_id
// CHECK: scf.for
// CHECK:   math.tanh
// CHECK:   math.exp
func.func @per_lane_score(%q: memref<16x24xf32>, %o: memref<16x24xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %m = memref.alloca() : memref<16xf32>
    %l = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x24xf32>
    linalg.fill ins(%ninf : f32) outs(%m : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%l : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x24xf32>)
    attn.tile.softmax_step %q, %q, %q into %m, %l, %acc offsets(%c0, %c0) scale 1.25e-01 score {
    ^bb0(%s: f32, %i: index, %j: index):
      %t = math.tanh %s : f32
      attn.yield %t : f32
    } : memref<16x24xf32>, memref<16x24xf32>, memref<16x24xf32>, memref<16xf32>, memref<16x24xf32>
    attn.tile.softmax_finalize %l, %acc into %o : memref<16xf32>, memref<16x24xf32>, memref<16x24xf32>
    gpu.terminator
  }
  return
}

// -----

// A step alone in a loop over scheduled key tiles (the tile's index read
// from a table the loop does not write, the trip count not a constant) is
// staged one tile ahead: the loop is pipelined in two stages
// (scf::pipelineForLoop). Before it, the prefetch of the first tile (the
// table read, the tile's condition, the copies) under the loop's trip
// test; in it, the prefetch of the next tile under the iteration's test,
// all but the newest group waited for, the block synchronised, then the
// step on the tile before, from its half of the double buffer (2 x 9216
// bytes), the table read again for it (nothing is carried between the
// stages); after it, nothing left in flight. The step's key and value are
// views of their copies.
// CHECK-LABEL: func.func @pipelined_key_loop
// CHECK: memref.alloc() : memref<18432xi8, #gpu.address_space<workgroup>>
// CHECK: %[[TRIPS:.*]] = arith.cmpi slt
// CHECK: gpu.barrier
// CHECK: %[[FIRST:.*]] = arith.andi %{{.*}}, %[[TRIPS]] : i1
// CHECK: scf.if %[[FIRST]] {
// CHECK: memref.load %{{.*}} : memref<4xi32>
// CHECK: scf.if
// CHECK: nvgpu.device_async_copy
// CHECK: %[[G0:.*]] = nvgpu.device_async_create_group
// CHECK-NEXT: nvgpu.device_async_wait %[[G0]] {numGroups = 1 : i32}
// CHECK-NEXT: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{[a-z0-9_]+}} {
// CHECK: %[[NEXT:.*]] = arith.cmpi slt
// CHECK: gpu.barrier
// CHECK: %[[AHEAD:.*]] = arith.andi %{{.*}}, %[[NEXT]] : i1
// CHECK: scf.if %[[AHEAD]] {
// CHECK: memref.load %{{.*}} : memref<4xi32>
// CHECK: nvgpu.device_async_copy
// CHECK: %[[G:.*]] = nvgpu.device_async_create_group
// CHECK-NEXT: nvgpu.device_async_wait %[[G]] {numGroups = 1 : i32}
// CHECK: memref.load %{{.*}} : memref<4xi32>
// CHECK: gpu.barrier
// CHECK: scf.if
// CHECK: arith.remui %{{.*}}, %c2
// CHECK: memref.view {{.*}} to memref<32x72xbf16, #gpu.address_space<workgroup>>
// CHECK: nvgpu.ldmatrix
// CHECK: nvvm.mma.sync
// CHECK: scf.yield
// CHECK: %[[LAST:.*]] = nvgpu.device_async_create_group
// CHECK-NEXT: nvgpu.device_async_wait %[[LAST]] {numGroups = 0 : i32}
// CHECK-NEXT: gpu.barrier
// CHECK-NOT: attn.tile.softmax_step
func.func @pipelined_key_loop(%q: memref<16x64xbf16>, %k: memref<256x64xbf16>, %tiles: memref<4xi32>, %n: index, %o: memref<16x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %c128 = arith.constant 128 : index
  %c256 = arith.constant 256 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %m = memref.alloca() : memref<16xf32>
    %l = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x64xf32>
    linalg.fill ins(%ninf : f32) outs(%m : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%l : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x64xf32>)
    scf.for %t = %c0 to %n step %c1 {
      %i = memref.load %tiles[%t] : memref<4xi32>
      %ti = arith.index_cast %i : i32 to index
      %k0 = arith.muli %ti, %c32 : index
      %left = arith.subi %c256, %k0 : index
      %rows = arith.minsi %left, %c32 : index
      %some = arith.cmpi sgt, %rows, %c0 : index
      scf.if %some {
        %kt = memref.subview %k[%k0, 0] [%rows, 64] [1, 1] : memref<256x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
        attn.tile.softmax_step %q, %kt, %kt into %m, %l, %acc offsets(%c0, %k0) scale 1.25e-01 : memref<16x64xbf16>, memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<16xf32>, memref<16x64xf32>
      }
    }
    attn.tile.softmax_finalize %l, %acc into %o : memref<16xf32>, memref<16x64xf32>, memref<16x64xbf16>
    gpu.terminator
  }
  return
}

// -----

// The same loop writing the table it reads the tile's index from cannot
// read it an iteration early: the tiles are staged where the step is, in
// one buffer, the keys and the values each a group of their own, the keys
// waited for before S = Q K^T, the values (still on their way during it)
// before P V.
// CHECK-LABEL: func.func @key_loop_writes_its_table
// CHECK: memref.alloc() : memref<9216xi8, #gpu.address_space<workgroup>>
// CHECK: scf.for {{.*}} step %{{[a-z0-9_]+}} {
// CHECK: memref.store
// CHECK: scf.if
// CHECK: gpu.barrier
// CHECK: nvgpu.device_async_copy
// CHECK: nvgpu.device_async_create_group
// CHECK: nvgpu.device_async_copy
// CHECK: %[[VALUES:.*]] = nvgpu.device_async_create_group
// CHECK-NEXT: nvgpu.device_async_wait %[[VALUES]] {numGroups = 1 : i32}
// CHECK-NEXT: gpu.barrier
// CHECK: nvgpu.ldmatrix {{.*}} transpose = false
// CHECK: nvvm.mma.sync
// CHECK: nvgpu.device_async_wait %[[VALUES]] {numGroups = 0 : i32}
// CHECK-NEXT: gpu.barrier
// CHECK: nvgpu.ldmatrix {{.*}} transpose = true
// CHECK-NOT: nvgpu.device_async_wait
// CHECK: return
func.func @key_loop_writes_its_table(%q: memref<16x64xbf16>, %k: memref<256x64xbf16>, %tiles: memref<4xi32>, %n: index, %o: memref<16x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %c128 = arith.constant 128 : index
  %c256 = arith.constant 256 : index
  %c0_i32 = arith.constant 0 : i32
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %m = memref.alloca() : memref<16xf32>
    %l = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x64xf32>
    linalg.fill ins(%ninf : f32) outs(%m : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%l : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x64xf32>)
    scf.for %t = %c0 to %n step %c1 {
      %i = memref.load %tiles[%t] : memref<4xi32>
      memref.store %c0_i32, %tiles[%t] : memref<4xi32>
      %ti = arith.index_cast %i : i32 to index
      %k0 = arith.muli %ti, %c32 : index
      %left = arith.subi %c256, %k0 : index
      %rows = arith.minsi %left, %c32 : index
      %some = arith.cmpi sgt, %rows, %c0 : index
      scf.if %some {
        %kt = memref.subview %k[%k0, 0] [%rows, 64] [1, 1] : memref<256x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
        attn.tile.softmax_step %q, %kt, %kt into %m, %l, %acc offsets(%c0, %k0) scale 1.25e-01 : memref<16x64xbf16>, memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<16xf32>, memref<16x64xf32>
      }
    }
    attn.tile.softmax_finalize %l, %acc into %o : memref<16xf32>, memref<16x64xf32>, memref<16x64xbf16>
    gpu.terminator
  }
  return
}

// -----

// The same loop with a constant trip count (dense attention's, over every
// key tile) is not pipelined: blocks doing the same work hide each other's
// copies, and the double buffer would cost one of them. One buffer, keys
// and values each a group, staged where the step is.
// CHECK-LABEL: func.func @constant_trip_key_loop
// CHECK: memref.alloc() : memref<9216xi8, #gpu.address_space<workgroup>>
// CHECK-NOT: memref.alloc() : memref<18432xi8
// CHECK: scf.for {{.*}} step %{{[a-z0-9_]+}} {
// CHECK: scf.if
// CHECK: gpu.barrier
// CHECK: nvgpu.device_async_create_group
// CHECK: %[[VALUES:.*]] = nvgpu.device_async_create_group
// CHECK-NEXT: nvgpu.device_async_wait %[[VALUES]] {numGroups = 1 : i32}
func.func @constant_trip_key_loop(%q: memref<16x64xbf16>, %k: memref<256x64xbf16>, %tiles: memref<4xi32>, %n: index, %o: memref<16x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  %c128 = arith.constant 128 : index
  %c256 = arith.constant 256 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %m = memref.alloca() : memref<16xf32>
    %l = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x64xf32>
    linalg.fill ins(%ninf : f32) outs(%m : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%l : memref<16xf32>)
    linalg.fill ins(%zero : f32) outs(%acc : memref<16x64xf32>)
    scf.for %t = %c0 to %c4 step %c1 {
      %i = memref.load %tiles[%t] : memref<4xi32>
      %ti = arith.index_cast %i : i32 to index
      %k0 = arith.muli %ti, %c32 : index
      %left = arith.subi %c256, %k0 : index
      %rows = arith.minsi %left, %c32 : index
      %some = arith.cmpi sgt, %rows, %c0 : index
      scf.if %some {
        %kt = memref.subview %k[%k0, 0] [%rows, 64] [1, 1] : memref<256x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
        attn.tile.softmax_step %q, %kt, %kt into %m, %l, %acc offsets(%c0, %k0) scale 1.25e-01 : memref<16x64xbf16>, memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<16xf32>, memref<16x64xf32>
      }
    }
    attn.tile.softmax_finalize %l, %acc into %o : memref<16xf32>, memref<16x64xf32>, memref<16x64xbf16>
    gpu.terminator
  }
  return
}

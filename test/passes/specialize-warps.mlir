// attn-specialize-warps: a launch staged for a producer warpgroup
// (attn.consumer_threads, the producer's work in scf.ifs marked
// attn.producer) gets it.
// RUN: attn-opt %s --split-input-file --attn-specialize-warps --verify-diagnostics | FileCheck %s

// 128 consumers and a producer warpgroup: 256 threads. What every thread
// runs stays before the split -- the buffers, the mbarriers' set-up, the
// stores of the threads' words, the allocas, pure ops. Below the
// consumers' count the work (its barrier now a named barrier over the 128
// consumers) after setmaxnreg.inc to 232; the others give registers back
// (setmaxnreg.dec to 24), read the trip count again (a load of a buffer
// the launch does not write, cloned) and run the producer's loop. The
// tear-down after the split, on every thread. 256 threads at 128 registers
// a thread: two blocks a multiprocessor (attn.max_registers).
// CHECK-LABEL: func.func @split
// CHECK: %[[THREADS:.*]] = arith.constant 256 : index
// CHECK: gpu.launch
// CHECK-SAME: in (%{{.*}} = %[[THREADS]],
// CHECK: memref.alloc()
// CHECK: memref.alloca() : memref<1xi32>
// CHECK: memref.store
// CHECK: nvvm.mbarrier.init
// CHECK: nvvm.fence.mbarrier.init
// CHECK-NEXT: gpu.barrier
// CHECK: memref.alloca() : memref<1xf32>
// CHECK: %[[THREAD:.*]] = gpu.thread_id x
// CHECK: %[[CONSUMER:.*]] = arith.cmpi ult, %[[THREAD]], %c128
// CHECK: scf.if %[[CONSUMER]] {
// CHECK-NEXT: nvvm.setmaxregister increase 232
// CHECK-NEXT: %[[COUNT:.*]] = memref.load %arg0
// CHECK: nvvm.barrier id = %{{.*}} number_of_threads = %{{.*}}
// CHECK-NOT: attn.producer
// CHECK: scf.for %{{.*}} = %c0 to %[[COUNT]]
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK: } else {
// CHECK-NEXT: nvvm.setmaxregister decrease 24
// CHECK-NEXT: %[[AGAIN:.*]] = memref.load %arg0
// CHECK-NEXT: scf.if
// CHECK-NEXT: scf.for %{{.*}} = %c0 to %[[AGAIN]]
// CHECK: nvvm.mbarrier.arrive
// CHECK-NOT: nvvm.setmaxregister
// CHECK: gpu.barrier
// CHECK: nvvm.mbarrier.inval
// CHECK: gpu.terminator
// CHECK-NEXT: } {attn.max_registers = 128 : i64}
func.func @split(%n: memref<1xindex>, %out: memref<128xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %barriers = memref.alloc() : memref<8xi8, #gpu.address_space<workgroup>>
    %used = memref.alloca() : memref<1xi32>
    %zero = arith.constant 0 : i32
    %one = arith.constant 1 : i32
    memref.store %zero, %used[%c0] : memref<1xi32>
    %base = memref.extract_aligned_pointer_as_index %barriers : memref<8xi8, #gpu.address_space<workgroup>> -> index
    %address = arith.index_castui %base : index to i64
    %barrier = llvm.inttoptr %address : i64 to !llvm.ptr<3>
    %thread = gpu.thread_id x
    %first = arith.cmpi eq, %thread, %c0 : index
    nvvm.mbarrier.init %barrier, %one, predicate = %first : !llvm.ptr<3>, i32, i1
    nvvm.fence.mbarrier.init
    gpu.barrier
    %count = memref.load %n[%c0] : memref<1xindex>
    %acc = memref.alloca() : memref<1xf32>
    gpu.barrier
    %producer = arith.cmpi eq, %thread, %c128 : index
    scf.if %producer {
      scf.for %i = %c0 to %count step %c1 {
        nvvm.mbarrier.arrive %barrier : !llvm.ptr<3>
      }
    } {attn.producer}
    scf.for %i = %c0 to %count step %c1 {
      nvvm.mbarrier.try_wait.parity %barrier, %zero, %one : !llvm.ptr<3>, i32, i32
      %x = memref.load %acc[%c0] : memref<1xf32>
      memref.store %x, %out[%thread] : memref<128xf32>
    }
    gpu.barrier
    scf.if %first {
      nvvm.mbarrier.inval %barrier : !llvm.ptr<3>
    }
    gpu.terminator
  } {attn.consumer_threads = 128 : i64}
  return
}

// -----

// Two consumer warpgroups: 384 threads, one block a multiprocessor at 168
// registers a thread; the consumers take 240. The blocks a multiprocessor
// asked of the consumers' launch (attn.min_blocks_per_sm) are dropped:
// ptxas would bound the registers at the start by them, below what
// setmaxnreg.inc waits for.
// CHECK-LABEL: func.func @two_warpgroups
// CHECK: arith.constant 384 : index
// CHECK: nvvm.setmaxregister increase 240
// CHECK: nvvm.setmaxregister decrease 24
// CHECK: } {attn.max_registers = 168 : i64}
func.func @two_warpgroups() {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %barriers = memref.alloc() : memref<8xi8, #gpu.address_space<workgroup>>
    %one = arith.constant 1 : i32
    %base = memref.extract_aligned_pointer_as_index %barriers : memref<8xi8, #gpu.address_space<workgroup>> -> index
    %address = arith.index_castui %base : index to i64
    %barrier = llvm.inttoptr %address : i64 to !llvm.ptr<3>
    %thread = gpu.thread_id x
    %first = arith.cmpi eq, %thread, %c0 : index
    nvvm.mbarrier.init %barrier, %one, predicate = %first : !llvm.ptr<3>, i32, i1
    nvvm.fence.mbarrier.init
    gpu.barrier
    %producer = arith.cmpi eq, %thread, %c256 : index
    scf.if %producer {
      nvvm.mbarrier.arrive %barrier : !llvm.ptr<3>
    } {attn.producer}
    nvvm.mbarrier.try_wait.parity %barrier, %one, %one : !llvm.ptr<3>, i32, i32
    gpu.barrier
    scf.if %first {
      nvvm.mbarrier.inval %barrier : !llvm.ptr<3>
    }
    gpu.terminator
  } {attn.consumer_threads = 256 : i64, attn.min_blocks_per_sm = 3 : i64}
  return
}

// -----

// A persistent launch (attn-persist-launches) of 24 tiles: the producer
// ifs are in its loop over them. The consumers keep that loop, the producer
// gets one of its own with the same bounds, the tile's index computed again
// in it (what the producer's copies use of the work), and the producer if
// in it. One block of 384 threads fits a multiprocessor: the grid is
// min(24, 132 blocks) (attn.target's multiprocessors).
// CHECK-LABEL: func.func @persistent
// CHECK: %[[TOTAL:.*]] = arith.constant 24 : index
// CHECK: %[[FIT:.*]] = arith.constant 132 : index
// CHECK: %[[GRID:.*]] = arith.minui %[[TOTAL]], %[[FIT]] : index
// CHECK: gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%[[GX:.*]] = %[[GRID]],
// CHECK: scf.if %{{.*}} {
// CHECK-NEXT: nvvm.setmaxregister increase 240
// CHECK-NEXT: scf.for %{{.*}} = %[[BX]] to %[[TOTAL]] step %[[GX]] {
// CHECK-NOT: attn.producer
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK: } {attn.persistent}
// CHECK-NEXT: } else {
// CHECK-NEXT: nvvm.setmaxregister decrease 24
// CHECK-NEXT: scf.for %[[V:.*]] = %[[BX]] to %[[TOTAL]] step %[[GX]] {
// CHECK-NEXT: %[[TILE:.*]] = arith.remui %[[V]], %c4
// CHECK: scf.if
// CHECK-NEXT: scf.for %{{.*}} = %c0 to %[[TILE]]
// CHECK-NEXT: nvvm.mbarrier.arrive
// CHECK: gpu.barrier
// CHECK: nvvm.mbarrier.inval
func.func @persistent() {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c24 = arith.constant 24 : index
  %c256 = arith.constant 256 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c24, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %barriers = memref.alloc() : memref<8xi8, #gpu.address_space<workgroup>>
    %one = arith.constant 1 : i32
    %base = memref.extract_aligned_pointer_as_index %barriers : memref<8xi8, #gpu.address_space<workgroup>> -> index
    %address = arith.index_castui %base : index to i64
    %barrier = llvm.inttoptr %address : i64 to !llvm.ptr<3>
    %thread = gpu.thread_id x
    %first = arith.cmpi eq, %thread, %c0 : index
    nvvm.mbarrier.init %barrier, %one, predicate = %first : !llvm.ptr<3>, i32, i1
    nvvm.fence.mbarrier.init
    gpu.barrier
    scf.for %v = %bx to %c24 step %gx {
      %tile = arith.remui %v, %c4 : index
      %producer = arith.cmpi eq, %thread, %c256 : index
      scf.if %producer {
        scf.for %i = %c0 to %tile step %c1 {
          nvvm.mbarrier.arrive %barrier : !llvm.ptr<3>
        }
      } {attn.producer}
      scf.for %i = %c0 to %tile step %c1 {
        nvvm.mbarrier.try_wait.parity %barrier, %one, %one : !llvm.ptr<3>, i32, i32
      }
    } {attn.persistent}
    gpu.barrier
    scf.if %first {
      nvvm.mbarrier.inval %barrier : !llvm.ptr<3>
    }
    gpu.terminator
  } {attn.consumer_threads = 256 : i64}
  return
}

// -----

// The producer may only take what it can compute again: a load of a buffer
// that the launch writes is not.
func.func @not_clonable(%out: memref<128xindex>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %barriers = memref.alloc() : memref<8xi8, #gpu.address_space<workgroup>>
    %one = arith.constant 1 : i32
    %base = memref.extract_aligned_pointer_as_index %barriers : memref<8xi8, #gpu.address_space<workgroup>> -> index
    %address = arith.index_castui %base : index to i64
    %barrier = llvm.inttoptr %address : i64 to !llvm.ptr<3>
    %thread = gpu.thread_id x
    %first = arith.cmpi eq, %thread, %c0 : index
    nvvm.mbarrier.init %barrier, %one, predicate = %first : !llvm.ptr<3>, i32, i1
    nvvm.fence.mbarrier.init
    gpu.barrier
    memref.store %c1, %out[%thread] : memref<128xindex>
    // expected-error @+1 {{is used by the producer's copies but cannot run in the producer warpgroup (not free of memory effects, or not a read of a buffer the launch does not write)}}
    %count = memref.load %out[%c0] : memref<128xindex>
    %producer = arith.cmpi eq, %thread, %c128 : index
    scf.if %producer {
      scf.for %i = %c0 to %count step %c1 {
        nvvm.mbarrier.arrive %barrier : !llvm.ptr<3>
      }
    } {attn.producer}
    gpu.barrier
    scf.if %first {
      nvvm.mbarrier.inval %barrier : !llvm.ptr<3>
    }
    gpu.terminator
  } {attn.consumer_threads = 128 : i64}
  return
}

// -----

// Written through a view is written.
func.func @written_through_view(%out: memref<128xindex>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %barriers = memref.alloc() : memref<8xi8, #gpu.address_space<workgroup>>
    %one = arith.constant 1 : i32
    %base = memref.extract_aligned_pointer_as_index %barriers : memref<8xi8, #gpu.address_space<workgroup>> -> index
    %address = arith.index_castui %base : index to i64
    %barrier = llvm.inttoptr %address : i64 to !llvm.ptr<3>
    %thread = gpu.thread_id x
    %first = arith.cmpi eq, %thread, %c0 : index
    nvvm.mbarrier.init %barrier, %one, predicate = %first : !llvm.ptr<3>, i32, i1
    nvvm.fence.mbarrier.init
    gpu.barrier
    %half = memref.subview %out[64] [64] [1] : memref<128xindex> to memref<64xindex, strided<[1], offset: 64>>
    memref.store %c1, %half[%c0] : memref<64xindex, strided<[1], offset: 64>>
    // expected-error @+1 {{is used by the producer's copies but cannot run in the producer warpgroup}}
    %count = memref.load %out[%c0] : memref<128xindex>
    %producer = arith.cmpi eq, %thread, %c128 : index
    scf.if %producer {
      scf.for %i = %c0 to %count step %c1 {
        nvvm.mbarrier.arrive %barrier : !llvm.ptr<3>
      }
    } {attn.producer}
    gpu.barrier
    scf.if %first {
      nvvm.mbarrier.inval %barrier : !llvm.ptr<3>
    }
    gpu.terminator
  } {attn.consumer_threads = 128 : i64}
  return
}

// -----

// The consumers must be the launch's block.
func.func @wrong_block() {
  %c1 = arith.constant 1 : index
  %c96 = arith.constant 96 : index
  // expected-error @+1 {{has attn.consumer_threads but not a block of that many threads along x (whole warpgroups)}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c96, %sy = %c1, %sz = %c1) {
    gpu.terminator
  } {attn.consumer_threads = 128 : i64}
  return
}

// -----

// Without the mbarriers' tear-down there is nothing to split around.
func.func @no_teardown() {
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  // expected-error @+1 {{has attn.consumer_threads but no tear-down of its mbarriers (a barrier, then their invalidation)}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    gpu.barrier
    gpu.terminator
  } {attn.consumer_threads = 128 : i64}
  return
}

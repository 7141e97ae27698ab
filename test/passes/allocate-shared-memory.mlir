// RUN: attn-opt %s --split-input-file --attn-allocate-shared-memory -verify-diagnostics | FileCheck %s

// Two loops' stages, a barrier between them: one space, the larger's size.
// The query tiles live across both: their own space above it.
// CHECK-LABEL: func.func @sequential_loops
// The size: 4096 + 1000.
// CHECK: %[[SIZE:.*]] = arith.constant 5096 : i32
// CHECK: gpu.launch {{.*}} dynamic_shared_memory_size %[[SIZE]]
// CHECK-DAG: %[[A:.*]] = memref.view %{{.*}}[%c0{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<4096xi8, #gpu.address_space<workgroup>>
// CHECK-DAG: %[[B:.*]] = memref.view %{{.*}}[%c0{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<64x32xbf16, #gpu.address_space<workgroup>>
// CHECK-DAG: memref.view %{{.*}}[%c4096{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<1000xi8, #gpu.address_space<workgroup>>
// CHECK-NOT: memref.alloc
func.func @sequential_loops(%n: index, %x: f32, %i8: i8) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %stage1 = memref.alloc() : memref<4096xi8, #gpu.address_space<workgroup>>
    %stage2 = memref.alloc() : memref<64x32xbf16, #gpu.address_space<workgroup>>
    %queries = memref.alloc() : memref<1000xi8, #gpu.address_space<workgroup>>
    memref.store %i8, %queries[%c0] : memref<1000xi8, #gpu.address_space<workgroup>>
    scf.for %i = %c0 to %n step %c1 {
      %v = memref.view %stage1[%c0][] : memref<4096xi8, #gpu.address_space<workgroup>> to memref<16xf32, #gpu.address_space<workgroup>>
      memref.store %x, %v[%i] : memref<16xf32, #gpu.address_space<workgroup>>
    }
    gpu.barrier
    scf.for %i = %c0 to %n step %c1 {
      %y = memref.load %stage2[%i, %c0] : memref<64x32xbf16, #gpu.address_space<workgroup>>
      %q = memref.load %queries[%i] : memref<1000xi8, #gpu.address_space<workgroup>>
    }
    gpu.terminator
  }
  return
}

// -----

// Without a barrier between them, disjoint live ranges still take their
// own bytes: another warp may still read the first.
// CHECK-LABEL: func.func @no_barrier
// CHECK: arith.constant 356 : i32
// CHECK-DAG: memref.view %{{.*}}[%c0{{.*}}][] : {{.*}} to memref<256xi8, #gpu.address_space<workgroup>>
// CHECK-DAG: memref.view %{{.*}}[%c256{{.*}}][] : {{.*}} to memref<100xi8, #gpu.address_space<workgroup>>
func.func @no_barrier(%i8: i8) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %a = memref.alloc() : memref<256xi8, #gpu.address_space<workgroup>>
    %b = memref.alloc() : memref<100xi8, #gpu.address_space<workgroup>>
    memref.store %i8, %a[%c0] : memref<256xi8, #gpu.address_space<workgroup>>
    memref.store %i8, %b[%c0] : memref<100xi8, #gpu.address_space<workgroup>>
    gpu.terminator
  }
  return
}

// -----

// What a launch reserved by hand stays below the buffers (rounded up to
// 16 bytes), and the size grows to cover them.
// CHECK-LABEL: func.func @above_reserved
// CHECK: %[[SIZE:.*]] = arith.constant 176 : i32
// CHECK: dynamic_shared_memory_size %[[SIZE]]
// CHECK: memref.view %{{.*}}[%c112{{.*}}][] : {{.*}} to memref<64xi8, #gpu.address_space<workgroup>>
func.func @above_reserved(%i8: i8) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %reserved = arith.constant 100 : i32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) dynamic_shared_memory_size %reserved {
    %a = memref.alloc() : memref<64xi8, #gpu.address_space<workgroup>>
    memref.store %i8, %a[%c0] : memref<64xi8, #gpu.address_space<workgroup>>
    gpu.terminator
  }
  return
}

// -----

// A buffer used inside a loop is live through the whole loop: one used
// after a barrier in the loop's body still may not share its bytes.
// CHECK-LABEL: func.func @inside_one_loop
// CHECK-DAG: memref.view %{{.*}}[%c0{{.*}}][] : {{.*}} to memref<128xi8, #gpu.address_space<workgroup>>
// CHECK-DAG: memref.view %{{.*}}[%c128{{.*}}][] : {{.*}} to memref<128xi8, #gpu.address_space<workgroup>>
func.func @inside_one_loop(%n: index, %i8: i8) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %a = memref.alloc() : memref<128xi8, #gpu.address_space<workgroup>>
    %b = memref.alloc() : memref<128xi8, #gpu.address_space<workgroup>>
    scf.for %i = %c0 to %n step %c1 {
      memref.store %i8, %a[%i] : memref<128xi8, #gpu.address_space<workgroup>>
      gpu.barrier
      memref.store %i8, %b[%i] : memref<128xi8, #gpu.address_space<workgroup>>
    }
    gpu.terminator
  }
  return
}

// -----

func.func @nested_alloc(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    scf.for %i = %c0 to %n step %c1 {
      // expected-error @below {{a staging buffer in shared memory must be a statically shaped, identity-layout alloc at the top level of its gpu.launch}}
      %a = memref.alloc() : memref<128xi8, #gpu.address_space<workgroup>>
    }
    gpu.terminator
  }
  return
}

// -----

// The barrier at the top of the second loop's body comes before each of
// that loop's accesses (it dominates them): the stages share their bytes.
// CHECK-LABEL: func.func @barrier_in_loop
// CHECK: arith.constant 512 : i32
// CHECK-DAG: memref.view %{{.*}}[%c0{{.*}}][] : {{.*}} to memref<512xi8, #gpu.address_space<workgroup>>
// CHECK-DAG: memref.view %{{.*}}[%c0{{.*}}][] : {{.*}} to memref<256xi8, #gpu.address_space<workgroup>>
func.func @barrier_in_loop(%n: index, %i8: i8) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %a = memref.alloc() : memref<512xi8, #gpu.address_space<workgroup>>
    %b = memref.alloc() : memref<256xi8, #gpu.address_space<workgroup>>
    scf.for %i = %c0 to %n step %c1 {
      gpu.barrier
      memref.store %i8, %a[%i] : memref<512xi8, #gpu.address_space<workgroup>>
    }
    scf.for %i = %c0 to %n step %c1 {
      gpu.barrier
      memref.store %i8, %b[%i] : memref<256xi8, #gpu.address_space<workgroup>>
    }
    gpu.terminator
  }
  return
}

// -----

// A barrier in a branch does not order an access outside it: no sharing.
// CHECK-LABEL: func.func @barrier_in_branch
// CHECK: arith.constant 768 : i32
func.func @barrier_in_branch(%n: index, %c: i1, %i8: i8) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %a = memref.alloc() : memref<512xi8, #gpu.address_space<workgroup>>
    %b = memref.alloc() : memref<256xi8, #gpu.address_space<workgroup>>
    memref.store %i8, %a[%c0] : memref<512xi8, #gpu.address_space<workgroup>>
    scf.if %c {
      gpu.barrier
    }
    memref.store %i8, %b[%c0] : memref<256xi8, #gpu.address_space<workgroup>>
    gpu.terminator
  }
  return
}

// -----

// More than a block of the target may use (sm_90a, the default target:
// 227 KB, 232,448 bytes) is an error at the launch, each buffer noted.
func.func @over_the_limit(%x: i8) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{needs 232464 bytes of shared memory, more than a block of sm_90a may use (232448)}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    // expected-note @+1 {{196608 bytes at offset 0}}
    %ring = memref.alloc() : memref<196608xi8, #gpu.address_space<workgroup>>
    // expected-note @+1 {{35856 bytes at offset 196608}}
    %queries = memref.alloc() : memref<35856xi8, #gpu.address_space<workgroup>>
    memref.store %x, %ring[%c0] : memref<196608xi8, #gpu.address_space<workgroup>>
    memref.store %x, %queries[%c0] : memref<35856xi8, #gpu.address_space<workgroup>>
    gpu.terminator
  }
  return
}

// -----

// The same bytes fit exactly where they are the limit; sm_80's is 163 KB.
// CHECK-LABEL: func.func @at_the_limit
// CHECK: arith.constant 232448 : i32
func.func @at_the_limit(%x: i8) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %ring = memref.alloc() : memref<196608xi8, #gpu.address_space<workgroup>>
    %queries = memref.alloc() : memref<35840xi8, #gpu.address_space<workgroup>>
    memref.store %x, %ring[%c0] : memref<196608xi8, #gpu.address_space<workgroup>>
    memref.store %x, %queries[%c0] : memref<35840xi8, #gpu.address_space<workgroup>>
    gpu.terminator
  }
  return
}

// -----

module attributes {attn.target = #attn.target<chip = "sm_80", multiprocessors = 108>} {
  func.func @over_sm80(%x: i8) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    // expected-error @+1 {{needs 196608 bytes of shared memory, more than a block of sm_80 may use (166912)}}
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
      // expected-note @+1 {{196608 bytes at offset 0}}
      %ring = memref.alloc() : memref<196608xi8, #gpu.address_space<workgroup>>
      memref.store %x, %ring[%c0] : memref<196608xi8, #gpu.address_space<workgroup>>
      gpu.terminator
    }
    return
  }
}

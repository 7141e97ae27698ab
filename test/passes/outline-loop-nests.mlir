// RUN: attn-opt %s --split-input-file --attn-outline-loop-nests | FileCheck %s

// Each top-level loop becomes a call of a function of its own, internal and
// noinline in LLVM; constants and the view of a buffer are made again
// inside, the buffers passed.
// CHECK-LABEL: func.func @two_nests
// CHECK-SAME: (%[[A:.*]]: memref<8x4xf32>)
// CHECK: %[[T:.*]] = memref.alloc() : memref<8x4xf32>
// CHECK-NEXT: call @two_nests_loop_nest_0(%[[A]], %[[T]]) : (memref<8x4xf32>, memref<8x4xf32>) -> ()
// CHECK: call @two_nests_loop_nest_1(%[[T]], %[[A]]) : (memref<8x4xf32>, memref<8x4xf32>) -> ()
// CHECK-NEXT: memref.dealloc %[[T]]
// CHECK-NEXT: return
// CHECK: func.func private @two_nests_loop_nest_0(%[[A0:.*]]: memref<8x4xf32>, %[[T0:.*]]: memref<8x4xf32>)
// CHECK-SAME: attributes {llvm.linkage = #llvm.linkage<internal>, passthrough = ["noinline"]}
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[C8:.*]] = arith.constant 8 : index
// CHECK-DAG: %[[C1:.*]] = arith.constant 1 : index
// CHECK: scf.for %{{.*}} = %[[C0]] to %[[C8]] step %[[C1]]
// CHECK:   memref.load %[[A0]]
// CHECK:   memref.store %{{.*}}, %[[T0]]
// CHECK: return
// CHECK: func.func private @two_nests_loop_nest_1(%[[T1:.*]]: memref<8x4xf32>, %[[A1:.*]]: memref<8x4xf32>)
// CHECK: %[[V:.*]] = memref.subview %[[T1]][0, 1] [8, 2] [1, 1]
// CHECK: scf.for
// CHECK:   memref.load %[[V]]
// CHECK:   memref.store %{{.*}}, %[[A1]]
func.func @two_nests(%a: memref<8x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %t = memref.alloc() : memref<8x4xf32>
  scf.for %i = %c0 to %c8 step %c1 {
    %x = memref.load %a[%i, %c0] : memref<8x4xf32>
    memref.store %x, %t[%i, %c0] : memref<8x4xf32>
  }
  %v = memref.subview %t[0, 1] [8, 2] [1, 1]
      : memref<8x4xf32> to memref<8x2xf32, strided<[4, 1], offset: 1>>
  scf.for %i = %c0 to %c8 step %c1 {
    %x = memref.load %v[%i, %c0] : memref<8x2xf32, strided<[4, 1], offset: 1>>
    memref.store %x, %a[%i, %c1] : memref<8x4xf32>
  }
  memref.dealloc %t : memref<8x4xf32>
  return
}

// -----

// A function of one loop nest is that nest's function already.
// CHECK-LABEL: func.func @one_nest
// CHECK-NOT: call
// CHECK: scf.for
// CHECK-NOT: func.func private
func.func @one_nest(%a: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %zero = arith.constant 0.0 : f32
  scf.for %i = %c0 to %c8 step %c1 {
    memref.store %zero, %a[%i] : memref<8xf32>
  }
  return
}

// -----

// A loop's results are the function's; a loop inside an scf.if is outlined
// with it.
// CHECK-LABEL: func.func @results_and_ifs
// CHECK-SAME: (%[[A:.*]]: memref<8xf32>, %[[FLAG:.*]]: i1)
// CHECK: %[[SUM:.*]] = call @results_and_ifs_loop_nest_0(%[[A]]) : (memref<8xf32>) -> f32
// CHECK: call @results_and_ifs_loop_nest_1(%[[FLAG]], %[[A]]) : (i1, memref<8xf32>) -> ()
// CHECK: return %[[SUM]] : f32
// CHECK: func.func private @results_and_ifs_loop_nest_0(%{{.*}}: memref<8xf32>) -> f32
// CHECK: %[[R:.*]] = scf.for
// CHECK: return %[[R]] : f32
// CHECK: func.func private @results_and_ifs_loop_nest_1(%[[F:.*]]: i1, %{{.*}}: memref<8xf32>)
// CHECK: scf.if %[[F]]
// CHECK:   scf.for
func.func @results_and_ifs(%a: memref<8xf32>, %flag: i1) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %zero = arith.constant 0.0 : f32
  %sum = scf.for %i = %c0 to %c8 step %c1 iter_args(%s = %zero) -> f32 {
    %x = memref.load %a[%i] : memref<8xf32>
    %y = arith.addf %s, %x : f32
    scf.yield %y : f32
  }
  scf.if %flag {
    scf.for %i = %c0 to %c8 step %c1 {
      memref.store %zero, %a[%i] : memref<8xf32>
    }
  }
  return %sum : f32
}

// -----

// A loop that reads a memref of dynamic shape stays (it could not be passed
// as a bare pointer); so does an omp.parallel region, which the OpenMP
// translation outlines itself.
// CHECK-LABEL: func.func @kept
// CHECK: call @kept_loop_nest_0(%{{.*}}) : (memref<8xf32>) -> ()
// CHECK: omp.parallel
// CHECK: scf.for
// CHECK:   memref.store %{{.*}} : memref<?xf32>
// CHECK: return
// CHECK: func.func private @kept_loop_nest_0
// CHECK-NOT: func.func private
func.func @kept(%a: memref<8xf32>, %d: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %zero = arith.constant 0.0 : f32
  scf.for %i = %c0 to %c8 step %c1 {
    memref.store %zero, %a[%i] : memref<8xf32>
  }
  omp.parallel {
    omp.terminator
  }
  scf.for %i = %c0 to %c8 step %c1 {
    memref.store %zero, %d[%i] : memref<?xf32>
  }
  return
}

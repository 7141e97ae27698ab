// RUN: attn-opt %s --ownership-based-buffer-deallocation | FileCheck %s

// Ownership-based deallocation refuses ops of several regions that do not
// describe their control flow; the softmax tile ops' regions (the mask's
// predicate, the score region) describe a pair's computation, and the ops
// allocate and return nothing: their deallocation model leaves them as
// they are, and a buffer they use is freed after its last use.
// CHECK-LABEL: func.func @step_with_regions(
// CHECK:   %[[TRUE:.*]] = arith.constant true
// CHECK:   %[[ACC:.*]] = memref.alloc(%{{.*}}) : memref<?x32xf32>
// CHECK:   attn.tile.softmax_step {{.*}} into %{{.*}}, %{{.*}}, %[[ACC]] {{.*}} where {
// CHECK:     arith.cmpi ule
// CHECK:   } score {
// CHECK:     math.tanh
// CHECK:   attn.tile.softmax_finalize %{{.*}}, %[[ACC]] into
// CHECK:   %[[BASE:[^,]*]], {{.*}} = memref.extract_strided_metadata %[[ACC]]
// CHECK:   bufferization.dealloc ({{.*}}%[[BASE]] : {{.*}}) if ({{.*}}%[[TRUE]])
// CHECK-NEXT: return
func.func @step_with_regions(%q: memref<?x32xf32>, %m: memref<?xf32>, %i: index, %n: index) {
  %acc = memref.alloc(%n) : memref<?x32xf32>
  attn.tile.softmax_step %q, %q, %q into %m, %m, %acc offsets(%i, %i) scale 0.125 where {
  ^bb0(%qi: index, %ki: index):
    %t = arith.cmpi ule, %ki, %qi : index
    attn.yield %t : i1
  } score {
  ^bb0(%s: f32, %qi: index, %ki: index):
    %t = math.tanh %s : f32
    attn.yield %t : f32
  } : memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?xf32>, memref<?x32xf32>
  attn.tile.softmax_finalize %m, %acc into %q : memref<?xf32>, memref<?x32xf32>, memref<?x32xf32>
  return
}

// The gradient's step, with a score region, likewise.
// CHECK-LABEL: func.func @grad_step_with_score(
// CHECK:   %[[DQ:.*]] = memref.alloc(%{{.*}}) : memref<?x32xf32>
// CHECK:   attn.tile.softmax_grad_step {{.*}} query_grad %[[DQ]] {{.*}} score {
// CHECK:     math.tanh
// CHECK:   memref.copy %[[DQ]], %{{.*}}
// CHECK:   bufferization.dealloc
func.func @grad_step_with_score(%q: memref<?x32xf32>, %m: memref<?xf32>, %i: index, %n: index, %out: memref<?x32xf32>) {
  %dq = memref.alloc(%n) : memref<?x32xf32>
  attn.tile.softmax_grad_step %q, %q, %q, %q, %m, %m query_grad %dq : memref<?x32xf32> offsets(%i, %i) scale 0.125 score {
  ^bb0(%s: f32, %qi: index, %ki: index):
    %t = math.tanh %s : f32
    attn.yield %t : f32
  } : memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?xf32>, memref<?xf32>
  memref.copy %dq, %out : memref<?x32xf32> to memref<?x32xf32>
  return
}

// RUN: attn-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(attn-distinct-returned-buffers))" | FileCheck %s
// RUN: attn-opt %s -split-input-file --lower-to-cpu | FileCheck %s --check-prefix=CPU

// One buffer returned twice: the second position gets a copy of its own.
// CHECK-LABEL: func.func @twice
// CHECK: %[[A:.*]] = memref.alloc() : memref<4x8xf32>
// CHECK: %[[C:.*]] = memref.alloc() : memref<4x8xf32>
// CHECK: memref.copy %[[A]], %[[C]]
// CHECK: return %[[A]], %[[C]]
func.func @twice() -> (memref<4x8xf32>, memref<4x8xf32>) {
  %a = memref.alloc() : memref<4x8xf32>
  return %a, %a : memref<4x8xf32>, memref<4x8xf32>
}

// -----

// A view of a buffer returned already counts as that buffer; distinct
// buffers stay as they are.
// CHECK-LABEL: func.func @views
// CHECK: %[[A:.*]] = memref.alloc() : memref<4x8xf32>
// CHECK: %[[B:.*]] = memref.alloc() : memref<4x8xf32>
// CHECK: %[[V:.*]] = memref.cast %[[A]]
// CHECK: %[[C:.*]] = memref.alloc() : memref<4x8xf32>
// CHECK: memref.copy %[[V]], %[[C]]
// CHECK: %[[W:.*]] = memref.cast %[[C]] : memref<4x8xf32> to memref<4x8xf32, strided<[?, ?], offset: ?>>
// CHECK: return %[[A]], %[[B]], %[[W]]
func.func @views() -> (memref<4x8xf32>, memref<4x8xf32>, memref<4x8xf32, strided<[?, ?], offset: ?>>) {
  %a = memref.alloc() : memref<4x8xf32>
  %b = memref.alloc() : memref<4x8xf32>
  %v = memref.cast %a : memref<4x8xf32> to memref<4x8xf32, strided<[?, ?], offset: ?>>
  return %a, %b, %v : memref<4x8xf32>, memref<4x8xf32>, memref<4x8xf32, strided<[?, ?], offset: ?>>
}

// -----

// A tensor returned twice compiles (buffer-results-to-out-params crashed on
// the one buffer it became; found by the ir fuzzer): two out-parameters,
// the second filled by a copy.
// CPU-LABEL: llvm.func @tensor_twice
// CPU: llvm.return
func.func @tensor_twice(%x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %g = attn.gelu %x : tensor<4x8xf32>
  return %g, %g : tensor<4x8xf32>, tensor<4x8xf32>
}

// RUN: attn-opt %s | attn-opt | FileCheck %s
// RUN: attn-opt %s --mlir-print-op-generic | attn-opt | FileCheck %s

// CHECK-LABEL: func.func @tensors
// CHECK: %[[H:.*]] = attn.all_reduce_start %{{.*}} : tensor<16x10xf32>
// CHECK: %[[G:.*]] = attn.all_reduce_start %{{.*}} : tensor<10xbf16>
// CHECK: %{{.*}}:2 = attn.all_reduce_wait %[[H]], %[[G]] : tensor<16x10xf32>, tensor<10xbf16>
func.func @tensors(%w: tensor<16x10xf32>, %b: tensor<10xbf16>) -> (tensor<16x10xf32>, tensor<10xbf16>) {
  %h = attn.all_reduce_start %w : tensor<16x10xf32>
  %g = attn.all_reduce_start %b : tensor<10xbf16>
  %r:2 = attn.all_reduce_wait %h, %g : tensor<16x10xf32>, tensor<10xbf16>
  return %r#0, %r#1 : tensor<16x10xf32>, tensor<10xbf16>
}

// CHECK-LABEL: func.func @buffers
// CHECK: attn.buffer.all_reduce_start %{{.*}}, %{{.*}} : memref<16xf32>, memref<16xf32>
// CHECK: attn.buffer.all_reduce_wait ins(%{{.*}} : memref<16xf32>) outs(%{{.*}} : memref<16xf32>)
func.func @buffers(%a: memref<16xf32>, %b: memref<16xf32>) {
  attn.buffer.all_reduce_start %a, %b : memref<16xf32>, memref<16xf32>
  attn.buffer.all_reduce_wait ins(%a : memref<16xf32>) outs(%b : memref<16xf32>)
  return
}

// The buffer ops in stream order, as gpu-async-region leaves them.
// CHECK-LABEL: func.func @async_buffers
// CHECK-SAME: %{{.*}}: memref<16xf64>, %[[T0:.*]]: !gpu.async.token
// CHECK: %[[T1:.*]] = attn.buffer.all_reduce_start[%[[T0]]] %{{.*}}, %{{.*}} : memref<16xf64>, memref<16xf64> -> !gpu.async.token
// CHECK: %[[T2:.*]] = attn.buffer.all_reduce_wait[%[[T1]]] ins(%{{.*}} : memref<16xf64>) outs(%{{.*}} : memref<16xf64>) -> !gpu.async.token
// CHECK: gpu.wait [%[[T2]]]
func.func @async_buffers(%a: memref<16xf64>, %t0: !gpu.async.token) {
  %t1 = attn.buffer.all_reduce_start [%t0] %a, %a : memref<16xf64>, memref<16xf64> -> !gpu.async.token
  %t2 = attn.buffer.all_reduce_wait [%t1] ins(%a : memref<16xf64>) outs(%a : memref<16xf64>) -> !gpu.async.token
  gpu.wait [%t2]
  return
}

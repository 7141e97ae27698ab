// RUN: attn-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(attn-convert-collectives-to-buffers))" | FileCheck %s --check-prefix=BUF
// RUN: attn-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(attn-convert-collectives-to-buffers), one-shot-bufferize{bufferize-function-boundaries}, func.func(attn-convert-collectives-to-cpu))" | FileCheck %s --check-prefix=CPU
// RUN: attn-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(attn-convert-collectives-to-buffers), one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map}, func.func(attn-map-loops-to-gpu), func.func(gpu-async-region), gpu-to-llvm)" | FileCheck %s --check-prefix=GPU

// Each start copies its input into a buffer of its own and starts averaging
// it in place there; the wait names those buffers, and its results are them
// as tensors.
// BUF-LABEL: func.func @two
// BUF: %[[IN0:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<4x8xf32> to memref<4x8xf32>
// BUF: %[[B0:.*]] = memref.alloc() : memref<4x8xf32>
// BUF: memref.copy %[[IN0]], %[[B0]]
// BUF: attn.buffer.all_reduce_start %[[B0]], %[[B0]] : memref<4x8xf32>, memref<4x8xf32>
// BUF: %[[B1:.*]] = memref.alloc() : memref<8xbf16>
// BUF: attn.buffer.all_reduce_start %[[B1]], %[[B1]]
// BUF: attn.buffer.all_reduce_wait ins(%[[B0]], %[[B1]] : memref<4x8xf32>, memref<8xbf16>) outs(%[[B0]], %[[B1]] : memref<4x8xf32>, memref<8xbf16>)
// BUF: %[[T0:.*]] = bufferization.to_tensor %[[B0]] restrict writable
// BUF: %[[T1:.*]] = bufferization.to_tensor %[[B1]] restrict writable
// BUF: return %[[T0]], %[[T1]]
// BUF-NOT: attn.all_reduce
// One process on the CPU, whose average is the buffer as it is.
// CPU-LABEL: func.func @two
// CPU-NOT: attn.buffer
// CPU: return
// On the GPU, the runtime's entry points on the function's stream.
// GPU-LABEL: llvm.func @two
// GPU: %[[S:.*]] = llvm.call @mgpuStreamCreate()
// GPU: llvm.call @mgpuMemcpy(%{{.*}}, %{{.*}}, %{{.*}}, %[[S]])
// GPU: llvm.call @mgpuAllReduceStart(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[S]]) : (!llvm.ptr, !llvm.ptr, i64, i32, !llvm.ptr) -> ()
// GPU-NOT: mgpuStreamSynchronize
// GPU: llvm.call @mgpuMemcpy(%{{.*}}, %{{.*}}, %{{.*}}, %[[S]])
// GPU: llvm.call @mgpuAllReduceStart(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[S]])
// GPU-NOT: mgpuStreamSynchronize
// GPU: llvm.call @mgpuAllReduceWait(%[[S]]) : (!llvm.ptr) -> ()
// GPU: llvm.call @mgpuStreamSynchronize(%[[S]])
func.func @two(%a: tensor<4x8xf32>, %b: tensor<8xbf16>) -> (tensor<4x8xf32>, tensor<8xbf16>) {
  %h = attn.all_reduce_start %a : tensor<4x8xf32>
  %g = attn.all_reduce_start %b : tensor<8xbf16>
  %r:2 = attn.all_reduce_wait %h, %g : tensor<4x8xf32>, tensor<8xbf16>
  return %r#0, %r#1 : tensor<4x8xf32>, tensor<8xbf16>
}

// -----

// A start nothing waits for starts nothing.
// BUF-LABEL: func.func @unwaited
// BUF-NOT: attn.buffer
// BUF: return
func.func @unwaited(%a: tensor<4xf32>) {
  %h = attn.all_reduce_start %a : tensor<4xf32>
  return
}

// -----

// The element codes of mgpuAllReduceStart (docs/runtime.md): f32 0, bf16 1,
// f16 2, f64 3; the count is the buffer's elements.
// GPU-LABEL: llvm.func @codes
// GPU-DAG: %[[C24:.*]] = llvm.mlir.constant(24 : i64) : i64
// GPU-DAG: %[[F16:.*]] = llvm.mlir.constant(2 : i32) : i32
// GPU: llvm.call @mgpuAllReduceStart(%{{.*}}, %{{.*}}, %[[C24]], %[[F16]], %{{.*}})
func.func @codes(%a: tensor<4x6xf16>) -> tensor<4x6xf16> {
  %h = attn.all_reduce_start %a : tensor<4x6xf16>
  %r = attn.all_reduce_wait %h : tensor<4x6xf16>
  return %r : tensor<4x6xf16>
}

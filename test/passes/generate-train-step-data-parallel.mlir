// RUN: attn-opt %s --attn-generate-backward --attn-generate-train-step="data-parallel=true" | FileCheck %s
// RUN: attn-opt %s --attn-generate-backward --attn-generate-train-step | FileCheck %s --check-prefix=ONE
// RUN: attn-opt %s --attn-generate-backward --attn-generate-train-step="data-parallel=true exchange-bf16=true" | FileCheck %s --check-prefix=BF16
// RUN: not attn-opt %s --attn-generate-train-step="exchange-bf16=true" 2>&1 | FileCheck %s --check-prefix=ALONE
// RUN: attn-opt %s --attn-generate-backward --attn-generate-train-step="data-parallel=true" --lower-to-gpu="format=isa" | FileCheck %s --check-prefix=GPU
// RUN: attn-opt %s --attn-generate-backward --attn-generate-train-step="data-parallel=true" --lower-to-cpu | FileCheck %s --check-prefix=CPU

// Each gradient's average starts right after the op that finishes it (w's
// before b's is computed, so that b's work overlaps w's exchange); one wait
// before the optimizer, whose global norm and updates read the averages.
// CHECK-LABEL: func.func @loss_train_step(
// CHECK: %[[DW:.*]] = linalg.matmul
// CHECK-NEXT: %[[HW:.*]] = attn.all_reduce_start %[[DW]] : tensor<16x10xf32>
// CHECK: %[[DB:.*]] = linalg.reduce
// CHECK: %[[HB:.*]] = attn.all_reduce_start %[[DB]] : tensor<10xf32>
// CHECK: %[[AVG:.*]]:2 = attn.all_reduce_wait %[[HW]], %[[HB]] : tensor<16x10xf32>, tensor<10xf32>
// CHECK: %[[NORM:.*]] = attn.global_norm %[[AVG]]#0, %[[AVG]]#1
// CHECK: attn.adamw %{{.*}}, %[[AVG]]#0,
// CHECK: attn.adamw %{{.*}}, %[[AVG]]#1,
// exchange-bf16: each gradient rounded to bf16 for its exchange, the
// averages widened back before the optimizer.
// BF16-LABEL: func.func @loss_train_step(
// BF16: %[[DW:.*]] = linalg.matmul
// BF16-NEXT: %[[NW:.*]] = attn.cast %[[DW]] : tensor<16x10xf32> to tensor<16x10xbf16>
// BF16-NEXT: %[[HW:.*]] = attn.all_reduce_start %[[NW]] : tensor<16x10xbf16>
// BF16: %[[HB:.*]] = attn.all_reduce_start %{{.*}} : tensor<10xbf16>
// BF16: %[[AVG:.*]]:2 = attn.all_reduce_wait %[[HW]], %[[HB]] : tensor<16x10xbf16>, tensor<10xbf16>
// BF16-NEXT: %[[W:.*]] = attn.cast %[[AVG]]#0 : tensor<16x10xbf16> to tensor<16x10xf32>
// BF16-NEXT: %[[B:.*]] = attn.cast %[[AVG]]#1 : tensor<10xbf16> to tensor<10xf32>
// BF16: attn.global_norm %[[W]], %[[B]]
// ALONE: attn-generate-train-step: exchange-bf16 is the data-parallel exchange's type: it needs data-parallel
// Without the option the step is single-process: no collectives.
// ONE-LABEL: func.func @loss_train_step(
// ONE-NOT: attn.all_reduce
// ONE: return
func.func @loss(%w: tensor<16x10xf32> {attn.param = "w"}, %b: tensor<10xf32> {attn.param = "b"},
                %labels: tensor<2xi32>, %x: tensor<2x16xf32>) -> tensor<f32> {
  %logits = attn.project %x, %w, %b : tensor<2x16xf32>, tensor<16x10xf32>, tensor<10xf32> -> tensor<2x10xf32>
  %l = attn.cross_entropy %logits, %labels : tensor<2x10xf32>, tensor<2xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// Through the whole GPU pipeline: each start right after its gradient's
// kernel, on the step's one stream, with no host synchronisation until the
// end; the wait before the optimizer's kernels.
// GPU-LABEL: llvm.func @loss_train_step(
// GPU: %[[S:.*]] = llvm.call @mgpuStreamCreate()
// GPU: gpu.launch_func <%[[S]] : !llvm.ptr> @{{.*}}tensor_core_matmul
// GPU-NOT: mgpuStreamSynchronize
// GPU: llvm.call @mgpuAllReduceStart(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[S]])
// GPU-NOT: mgpuStreamSynchronize
// GPU: gpu.launch_func <%[[S]] : !llvm.ptr> @{{.*}}reduce
// GPU-NOT: mgpuStreamSynchronize
// GPU: llvm.call @mgpuAllReduceStart(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[S]])
// GPU-NOT: mgpuStreamSynchronize
// GPU: llvm.call @mgpuAllReduceWait(%[[S]])
// GPU-NOT: mgpuStreamSynchronize
// GPU: gpu.launch_func <%[[S]] : !llvm.ptr>
// GPU: llvm.call @mgpuStreamSynchronize(%[[S]])
// On the CPU the step is one process's: nothing of the exchange is left.
// CPU-LABEL: llvm.func @loss_train_step(
// CPU-NOT: AllReduce
// CPU-NOT: attn.buffer
// CPU: llvm.return

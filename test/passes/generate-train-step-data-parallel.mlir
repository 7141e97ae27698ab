// RUN: attn-opt %s --attn-generate-backward --attn-generate-train-step="data-parallel=true" | FileCheck %s
// RUN: attn-opt %s --attn-generate-backward --attn-generate-train-step | FileCheck %s --check-prefix=ONE

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

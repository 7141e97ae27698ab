// RUN: attn-opt %s --attn-generate-backward --attn-generate-train-step="lr=0.01 warmup=10 total-steps=100 decay=linear weight-decay=0.05 max-grad-norm=2.0" | FileCheck %s

// The training step of a loss: the state after the parameters (moments of
// each parameter, the step counter); the step counter advanced, the rate
// scheduled at the new step, the gradients' global norm, one AdamW update
// per parameter; f's results, grad_norm, lr, then the new state in the
// order of the arguments.
// CHECK-LABEL: func.func @loss_train_step(
// CHECK-SAME: %[[W:[a-z0-9]+]]: tensor<16x10xf32> {attn.param = "w"}, %[[B:[a-z0-9]+]]: tensor<10xf32> {attn.param = "b"}, %{{.*}}: tensor<2xi32>,
// CHECK-SAME: %[[MW:[a-z0-9]+]]: tensor<16x10xf32> {attn.state = "m.w"}, %[[MB:[a-z0-9]+]]: tensor<10xf32> {attn.state = "m.b"},
// CHECK-SAME: %[[VW:[a-z0-9]+]]: tensor<16x10xf32> {attn.state = "v.w"}, %[[VB:[a-z0-9]+]]: tensor<10xf32> {attn.state = "v.b"},
// CHECK-SAME: %[[STEP:[a-z0-9]+]]: tensor<i64> {attn.state = "step"})
// CHECK-SAME: -> (tensor<f32>, tensor<f32> {attn.output = "grad_norm"}, tensor<f32> {attn.output = "lr"},
// CHECK-SAME: tensor<16x10xf32> {attn.output = "param.w"}, tensor<10xf32> {attn.output = "param.b"},
// CHECK-SAME: tensor<16x10xf32> {attn.output = "m.w"}, tensor<10xf32> {attn.output = "m.b"},
// CHECK-SAME: tensor<16x10xf32> {attn.output = "v.w"}, tensor<10xf32> {attn.output = "v.b"}, tensor<i64> {attn.output = "step"})
// The settings compiled in, for a caller to check against its own.
// CHECK-SAME: attributes {attn.optimizer = {beta1 = 9.000000e-01 : f64, beta2 = 0.99899999999999999 : f64, decay = "linear", epsilon = 1.000000e-08 : f64, "final-lr" = 0.000000e+00 : f64, lr = 1.000000e-02 : f64, "max-grad-norm" = 2.000000e+00 : f64, "total-steps" = 100 : i64, warmup = 10 : i64, "weight-decay" = 5.000000e-02 : f64}}
// CHECK: %[[NEXT:.*]] = linalg.generic {{.*}} ins(%[[STEP]] : tensor<i64>)
// CHECK: arith.addi
// CHECK: %[[LR:.*]] = attn.lr_schedule %[[NEXT]] peak 1.000000e-02 warmup 10 total 100 decay  linear
// CHECK: %[[NORM:.*]] = attn.global_norm %[[DW:.*]], %[[DB:.*]] : tensor<16x10xf32>, tensor<10xf32>
// CHECK: %[[PW:.*]], %[[NMW:.*]], %[[NVW:.*]] = attn.adamw %[[W]], %[[DW]], %[[MW]], %[[VW]] lr %[[LR]] step %[[NEXT]] norm %[[NORM]] {max_norm = 2.000000e+00 : f64, weight_decay = 5.000000e-02 : f64} : tensor<16x10xf32>
// CHECK: %[[PB:.*]], %[[NMB:.*]], %[[NVB:.*]] = attn.adamw %[[B]], %[[DB]], %[[MB]], %[[VB]] lr %[[LR]] step %[[NEXT]] norm %[[NORM]]
// CHECK: return %{{.*}}, %[[NORM]], %[[LR]], %[[PW]], %[[PB]], %[[NMW]], %[[NMB]], %[[NVW]], %[[NVB]], %[[NEXT]]
func.func @loss(%w: tensor<16x10xf32> {attn.param = "w"}, %b: tensor<10xf32> {attn.param = "b"},
                %labels: tensor<2xi32>, %x: tensor<2x16xf32>) -> tensor<f32> {
  %logits = attn.project %x, %w, %b : tensor<2x16xf32>, tensor<16x10xf32>, tensor<10xf32> -> tensor<2x10xf32>
  %l = attn.cross_entropy %logits, %labels : tensor<2x10xf32>, tensor<2xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// A parameter's own weight decay and learning-rate factor (argument
// attributes the frontend writes, e.g. for an SSM's dynamics) override the
// pass's options for its update alone.
// CHECK-LABEL: func.func @per_parameter_train_step(
// CHECK: attn.adamw %{{.*}} lr %{{.*}} step %{{.*}} norm %{{.*}} {max_norm = 2.000000e+00 : f64, weight_decay = 5.000000e-02 : f64} : tensor<16x10xf32>
// CHECK: attn.adamw %{{.*}} lr %{{.*}} step %{{.*}} norm %{{.*}} {lr_scale = 1.000000e-01 : f64, max_norm = 2.000000e+00 : f64, weight_decay = 0.000000e+00 : f64} : tensor<10xf32>
func.func @per_parameter(%w: tensor<16x10xf32> {attn.param = "w"}, %b: tensor<10xf32> {attn.param = "b", attn.weight_decay = 0.0 : f64, attn.lr_scale = 0.1 : f64},
                %labels: tensor<2xi32>, %x: tensor<2x16xf32>) -> tensor<f32> {
  %logits = attn.project %x, %w, %b : tensor<2x16xf32>, tensor<16x10xf32>, tensor<10xf32> -> tensor<2x10xf32>
  %l = attn.cross_entropy %logits, %labels : tensor<2x10xf32>, tensor<2xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// Buffers (attn.buffer: state f updates itself, such as batch norms'
// running statistics) are not trained: no moments, no AdamW; f's result
// `buffer.<name>` becomes the buffer's new state, in argument order among
// the parameters', and leaves f's other results.
// CHECK-LABEL: func.func @with_buffer_train_step(
// CHECK-SAME: %[[W:[a-z0-9]+]]: tensor<16x10xf32> {attn.param = "w"}, %[[R:[a-z0-9]+]]: tensor<10xf32> {attn.buffer = "r"}, %[[B:[a-z0-9]+]]: tensor<10xf32> {attn.param = "b"},
// CHECK-SAME: {attn.state = "m.w"}, %{{.*}}: tensor<10xf32> {attn.state = "m.b"}, %{{.*}}: tensor<16x10xf32> {attn.state = "v.w"}, %{{.*}}: tensor<10xf32> {attn.state = "v.b"}, %{{.*}}: tensor<i64> {attn.state = "step"})
// CHECK-SAME: -> (tensor<f32>, tensor<f32> {attn.output = "grad_norm"}, tensor<f32> {attn.output = "lr"},
// CHECK-SAME: tensor<16x10xf32> {attn.output = "param.w"}, tensor<10xf32> {attn.output = "buffer.r"}, tensor<10xf32> {attn.output = "param.b"},
// CHECK-SAME: {attn.output = "m.w"}
// CHECK: %[[NEWR:.*]] = linalg.add ins(%[[R]], %[[R]]
// CHECK: attn.global_norm %{{.*}}, %{{.*}} : tensor<16x10xf32>, tensor<10xf32>
// CHECK: %[[PW:.*]], %{{.*}}, %{{.*}} = attn.adamw %[[W]]
// CHECK: %[[PB:.*]], %{{.*}}, %{{.*}} = attn.adamw %[[B]]
// CHECK-NOT: attn.adamw
// CHECK: return %{{.*}}, %{{.*}}, %{{.*}}, %[[PW]], %[[NEWR]], %[[PB]],
func.func @with_buffer(%w: tensor<16x10xf32> {attn.param = "w"}, %r: tensor<10xf32> {attn.buffer = "r"},
                       %b: tensor<10xf32> {attn.param = "b"},
                       %labels: tensor<2xi32>, %x: tensor<2x16xf32>) -> (tensor<f32>, tensor<10xf32> {attn.output = "buffer.r"}) {
  %logits = attn.project %x, %w, %b : tensor<2x16xf32>, tensor<16x10xf32>, tensor<10xf32> -> tensor<2x10xf32>
  %l = attn.cross_entropy %logits, %labels : tensor<2x10xf32>, tensor<2xi32> -> tensor<f32>
  %e = tensor.empty() : tensor<10xf32>
  %r2 = linalg.add ins(%r, %r : tensor<10xf32>, tensor<10xf32>) outs(%e : tensor<10xf32>) -> tensor<10xf32>
  return %l, %r2 : tensor<f32>, tensor<10xf32>
}

// RUN: attn-opt %s | attn-opt | FileCheck %s
// RUN: attn-opt %s --mlir-print-op-generic | attn-opt | FileCheck %s

// Every attn op, printed in its custom form and read back.

// CHECK-LABEL: func.func @masks
func.func @masks(%len: tensor<4xi32>) {
  // CHECK: attn.mask.full
  %full = attn.mask.full
  // CHECK: attn.mask.causal
  %causal = attn.mask.causal
  // CHECK: attn.mask.window radius 128{{$}}
  %w = attn.mask.window radius 128
  // CHECK: attn.mask.window radius 1 block 64
  %wb = attn.mask.window radius 1 block 64
  // CHECK: attn.mask.global first 2 last 1{{$}}
  %g = attn.mask.global first 2 last 1
  // CHECK: attn.mask.global last 1 block 64
  %gb = attn.mask.global last 1 block 64
  // CHECK: attn.mask.random_blocks count 3 block 64 seed 42 exclude_global 1 exclude_window 1
  %r = attn.mask.random_blocks count 3 block 64 seed 42 exclude_global 1 exclude_window 1
  // CHECK: attn.mask.random_blocks count 2 block 128 seed 0{{$}}
  %r2 = attn.mask.random_blocks count 2 block 128 seed 0
  // CHECK: attn.mask.chunk size 256
  %c = attn.mask.chunk size 256
  // CHECK: attn.mask.dilated_window radius 8 dilation 2
  %d = attn.mask.dilated_window radius 8 dilation 2
  // CHECK: attn.mask.strided stride 64
  %s = attn.mask.strided stride 64
  // CHECK: attn.mask.key_padding %{{.*}} : tensor<4xi32>
  %p = attn.mask.key_padding %len : tensor<4xi32>
  // CHECK: attn.mask.union %{{.*}}, %{{.*}}, %{{.*}} : !attn.mask<block = 64>, !attn.mask<block = 64>, !attn.mask<block = 64>
  %u = attn.mask.union %wb, %gb, %r : !attn.mask<block = 64>, !attn.mask<block = 64>, !attn.mask<block = 64>
  // CHECK: attn.mask.intersect %{{.*}}, %{{.*}} : !attn.mask<block = 64>, !attn.mask
  %i = attn.mask.intersect %u, %p : !attn.mask<block = 64>, !attn.mask
  // CHECK: attn.mask.difference %{{.*}}, %{{.*}} : !attn.mask, !attn.mask
  %df = attn.mask.difference %w, %causal : !attn.mask, !attn.mask
  // CHECK: attn.mask.expr {
  // CHECK-NEXT: ^bb0(%[[Q:.*]]: index, %[[K:.*]]: index, %{{.*}}: index):
  // CHECK-NEXT:   %[[T:.*]] = arith.cmpi ule, %[[K]], %[[Q]] : index
  // CHECK-NEXT:   attn.yield %[[T]] : i1
  // CHECK-NEXT: }
  %e = attn.mask.expr {
  ^bb0(%q: index, %k: index, %n: index):
    %t = arith.cmpi ule, %k, %q : index
    attn.yield %t : i1
  }
  return
}

// CHECK-LABEL: func.func @feature_maps
func.func @feature_maps() {
  // CHECK: attn.feature_map.elu_plus_one
  %a = attn.feature_map.elu_plus_one
  // CHECK: attn.feature_map.relu
  %b = attn.feature_map.relu
  // CHECK: attn.feature_map.identity
  %c = attn.feature_map.identity
  // CHECK: attn.feature_map.favor features 256 seed 7
  %d = attn.feature_map.favor features 256 seed 7
  return
}

// CHECK-LABEL: func.func @kernels
func.func @kernels(%q: tensor<2x4x?x64xbf16>, %x: tensor<2x128x16xf32>,
                   %a: tensor<16x32xf32>, %c2: tensor<2x16x32xf32>,
                   %dt: tensor<16xf32>) {
  // CHECK: attn.sdpa %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x4x?x64xbf16>, tensor<2x4x?x64xbf16>, tensor<2x4x?x64xbf16> -> tensor<2x4x?x64xbf16>
  %o = attn.sdpa %q, %q, %q : tensor<2x4x?x64xbf16>, tensor<2x4x?x64xbf16>, tensor<2x4x?x64xbf16> -> tensor<2x4x?x64xbf16>
  %m = attn.mask.window radius 1 block 64
  // CHECK: attn.sdpa %{{.*}}, %{{.*}}, %{{.*}} mask %{{.*}} scale 1.250000e-01 : {{.*}}, !attn.mask<block = 64> -> tensor<2x4x?x64xbf16>
  %om = attn.sdpa %q, %q, %q mask %m scale 0.125 : tensor<2x4x?x64xbf16>, tensor<2x4x?x64xbf16>, tensor<2x4x?x64xbf16>, !attn.mask<block = 64> -> tensor<2x4x?x64xbf16>
  %f = attn.feature_map.elu_plus_one
  // CHECK: attn.linear %{{.*}}, %{{.*}}, %{{.*}} feature_map %{{.*}} : {{.*}} -> tensor<2x4x?x64xbf16>
  %l = attn.linear %q, %q, %q feature_map %f : tensor<2x4x?x64xbf16>, tensor<2x4x?x64xbf16>, tensor<2x4x?x64xbf16> -> tensor<2x4x?x64xbf16>
  // CHECK: attn.linear %{{.*}}, %{{.*}}, %{{.*}} feature_map %{{.*}} causal :
  %lc = attn.linear %q, %q, %q feature_map %f causal : tensor<2x4x?x64xbf16>, tensor<2x4x?x64xbf16>, tensor<2x4x?x64xbf16> -> tensor<2x4x?x64xbf16>
  // CHECK: attn.linear_grad %{{.*}}, %{{.*}}, %{{.*}} feature_map %{{.*}} causal output %{{.*}}, %{{.*}} : tensor<2x4x?x64xbf16>, tensor<2x4x?x64xbf16>, tensor<2x4x?x64xbf16>, tensor<2x4x?x64xbf16>
  %gq, %gk, %gv = attn.linear_grad %q, %q, %q feature_map %f causal output %lc, %lc : tensor<2x4x?x64xbf16>, tensor<2x4x?x64xbf16>, tensor<2x4x?x64xbf16>, tensor<2x4x?x64xbf16>
  // CHECK: attn.ssm %{{.*}} A(%{{.*}}, %{{.*}}) B(%{{.*}}, %{{.*}}) C(%{{.*}}, %{{.*}}) log_dt(%{{.*}}) : tensor<2x128x16xf32>, tensor<16x32xf32>, tensor<16x32xf32>, tensor<16xf32>
  %s = attn.ssm %x A(%a, %a) B(%a, %a) C(%a, %a) log_dt(%dt) : tensor<2x128x16xf32>, tensor<16x32xf32>, tensor<16x32xf32>, tensor<16xf32>
  // CHECK: attn.ssm {{.*}} bidirectional : tensor<2x128x16xf32>, tensor<16x32xf32>, tensor<2x16x32xf32>, tensor<16xf32>
  %sb = attn.ssm %x A(%a, %a) B(%a, %a) C(%c2, %c2) log_dt(%dt) bidirectional : tensor<2x128x16xf32>, tensor<16x32xf32>, tensor<2x16x32xf32>, tensor<16xf32>
  // CHECK: attn.ssm_grad %{{.*}}, %{{.*}} A(%{{.*}}, %{{.*}}) B(%{{.*}}, %{{.*}}) C(%{{.*}}, %{{.*}}) log_dt(%{{.*}}) bidirectional : tensor<2x128x16xf32>, tensor<16x32xf32>, tensor<2x16x32xf32>, tensor<16xf32>
  %g:8 = attn.ssm_grad %x, %sb A(%a, %a) B(%a, %a) C(%c2, %c2) log_dt(%dt) bidirectional : tensor<2x128x16xf32>, tensor<16x32xf32>, tensor<2x16x32xf32>, tensor<16xf32>
  return
}

// CHECK-LABEL: func.func @encoder
func.func @encoder(%ids: tensor<8x100xi32>, %table: tensor<20x32xf32>,
                   %pos: tensor<128x32xf32>, %v: tensor<32xf32>,
                   %w: tensor<32x10xf32>, %b: tensor<10xf32>,
                   %len: tensor<8xi32>, %labels: tensor<8xi32>, %seed: i64) {
  // CHECK: attn.embedding %{{.*}}, %{{.*}} : tensor<8x100xi32>, tensor<20x32xf32> -> tensor<8x100x32xf32>
  %e = attn.embedding %ids, %table : tensor<8x100xi32>, tensor<20x32xf32> -> tensor<8x100x32xf32>
  // CHECK: attn.add_positions %{{.*}}, %{{.*}} : tensor<8x100x32xf32>, tensor<128x32xf32>
  %p = attn.add_positions %e, %pos : tensor<8x100x32xf32>, tensor<128x32xf32>
  // CHECK: attn.layer_norm %{{.*}}, %{{.*}}, %{{.*}} epsilon 1.000000e-05 : tensor<8x100x32xf32>, tensor<32xf32>
  %n = attn.layer_norm %p, %v, %v epsilon 1.0e-5 : tensor<8x100x32xf32>, tensor<32xf32>
  // CHECK: attn.layer_norm %{{.*}}, %{{.*}}, %{{.*}} : tensor<8x100x32xf32>, tensor<32xf32>
  %n2 = attn.layer_norm %p, %v, %v : tensor<8x100x32xf32>, tensor<32xf32>
  // CHECK: attn.batch_norm %{{.*}}, %{{.*}}, %{{.*}} lengths %{{.*}} : tensor<8xi32> : tensor<8x100x32xf32>, tensor<32xf32> -> tensor<32xf32>
  %bn, %bm, %bv = attn.batch_norm %p, %v, %v lengths %len : tensor<8xi32> : tensor<8x100x32xf32>, tensor<32xf32> -> tensor<32xf32>
  // CHECK: attn.batch_norm %{{.*}}, %{{.*}}, %{{.*}} epsilon 1.000000e-03 : tensor<8x100x32xf32>, tensor<32xf32> -> tensor<32xf32>
  %bn2, %bm2, %bv2 = attn.batch_norm %p, %v, %v epsilon 1.0e-3 : tensor<8x100x32xf32>, tensor<32xf32> -> tensor<32xf32>
  // CHECK: attn.batch_norm %{{.*}}, %{{.*}}, %{{.*}} lengths %{{.*}} : tensor<8xi32> running %{{.*}}, %{{.*}} : tensor<32xf32>, tensor<32xf32> {momentum = 2.000000e-01 : f64, unbiased} : tensor<8x100x32xf32>, tensor<32xf32> -> tensor<32xf32>
  %bn3:3 = attn.batch_norm %p, %v, %v lengths %len : tensor<8xi32> running %bm, %bv : tensor<32xf32>, tensor<32xf32> {momentum = 0.2 : f64, unbiased} : tensor<8x100x32xf32>, tensor<32xf32> -> tensor<32xf32>
  // CHECK: attn.batch_norm %{{.*}}, %{{.*}}, %{{.*}} running %{{.*}}, %{{.*}} : tensor<32xf32>, tensor<32xf32> {evaluation} : tensor<8x100x32xf32>, tensor<32xf32> -> tensor<32xf32>
  %bn4:3 = attn.batch_norm %p, %v, %v running %bm, %bv : tensor<32xf32>, tensor<32xf32> {evaluation} : tensor<8x100x32xf32>, tensor<32xf32> -> tensor<32xf32>
  // CHECK: attn.batch_norm_grad %{{.*}}, %{{.*}}, %{{.*}} lengths %{{.*}} : tensor<8xi32> : tensor<8x100x32xf32>, tensor<32xf32>
  %bg:3 = attn.batch_norm_grad %p, %v, %bn lengths %len : tensor<8xi32> : tensor<8x100x32xf32>, tensor<32xf32>
  // CHECK: attn.gelu %{{.*}} : tensor<8x100x32xf32>
  %g = attn.gelu %n : tensor<8x100x32xf32>
  // CHECK: attn.gelu %{{.*}} approximate : tensor<8x100x32xf32>
  %ga = attn.gelu %n approximate : tensor<8x100x32xf32>
  // CHECK: attn.dropout %{{.*}}, %{{.*}} rate 1.000000e-01 stream 3 : tensor<8x100x32xf32>
  %d = attn.dropout %g, %seed rate 0.1 stream 3 : tensor<8x100x32xf32>
  // CHECK: attn.pool mean %{{.*}} lengths %{{.*}} : tensor<8x100x32xf32>, tensor<8xi32> -> tensor<8x32xf32>
  %pm = attn.pool mean %d lengths %len : tensor<8x100x32xf32>, tensor<8xi32> -> tensor<8x32xf32>
  // CHECK: attn.pool cls %{{.*}} : tensor<8x100x32xf32> -> tensor<8x32xf32>
  %pc = attn.pool cls %d : tensor<8x100x32xf32> -> tensor<8x32xf32>
  // CHECK: attn.project %{{.*}}, %{{.*}}, %{{.*}} : tensor<8x32xf32>, tensor<32x10xf32>, tensor<10xf32> -> tensor<8x10xf32>
  %logits = attn.project %pc, %w, %b : tensor<8x32xf32>, tensor<32x10xf32>, tensor<10xf32> -> tensor<8x10xf32>
  // CHECK: attn.project %{{.*}}, %{{.*}} : tensor<8x100x32xf32>, tensor<32x10xf32> -> tensor<8x100x10xf32>
  %nb = attn.project %d, %w : tensor<8x100x32xf32>, tensor<32x10xf32> -> tensor<8x100x10xf32>
  // CHECK: attn.cross_entropy %{{.*}}, %{{.*}} : tensor<8x10xf32>, tensor<8xi32> -> tensor<f32>
  %loss = attn.cross_entropy %logits, %labels : tensor<8x10xf32>, tensor<8xi32> -> tensor<f32>
  // CHECK: attn.cast %{{.*}} : tensor<32x10xf32> to tensor<32x10xbf16>
  %w16 = attn.cast %w : tensor<32x10xf32> to tensor<32x10xbf16>
  return
}

// Layers with D = 8, F = 16, S = 4.
// CHECK-LABEL: func.func @layers
func.func @layers(%x: tensor<2x16x8xf32>, %len: tensor<2xi32>, %seed: i64,
                  %w: tensor<8x8xf32>, %b: tensor<8xf32>,
                  %w1: tensor<8x16xf32>, %b1: tensor<16xf32>,
                  %w2: tensor<16x8xf32>, %a: tensor<8x4xf32>,
                  %c2: tensor<2x8x4xf32>, %m: tensor<16x8xf32>) {
  // CHECK: attn.layer.full %{{.*}} params(%{{.*}}) {heads = 2 : i64} : tensor<2x16x8xf32>, params(tensor<8x8xf32>,
  %l0 = attn.layer.full %x params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2} : tensor<2x16x8xf32>, params(tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  // CHECK: attn.layer.window %{{.*}} lengths %{{.*}} seed %{{.*}} params(%{{.*}}) {block = 4 : i64, dropout = 0.000000e+00 : f64, heads = 2 : i64, radius = 1 : i64} : tensor<2x16x8xf32>, lengths tensor<2xi32>, params(
  %l1 = attn.layer.window %l0 lengths %len seed %seed params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2, radius = 1, block = 4, dropout = 0.0} : tensor<2x16x8xf32>, lengths tensor<2xi32>, params(tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  // CHECK: attn.layer.chunk %{{.*}} {heads = 2 : i64, size = 4 : i64}
  %l2 = attn.layer.chunk %l1 params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2, size = 4} : tensor<2x16x8xf32>, params(tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  // CHECK: attn.layer.bigbird %{{.*}} {block = 4 : i64, heads = 2 : i64, random = 2 : i64, seed_blocks = 5 : i64}
  %l3 = attn.layer.bigbird %l2 lengths %len params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2, block = 4, random = 2, seed_blocks = 5} : tensor<2x16x8xf32>, lengths tensor<2xi32>, params(tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  // CHECK: attn.layer.linear %{{.*}} {heads = 2 : i64}
  %l4 = attn.layer.linear %l3 params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2} : tensor<2x16x8xf32>, params(tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  // CHECK: attn.layer.linear %{{.*}} {causal, feature_map = #attn<feature_map_kind favor>, features = 16 : i64, heads = 2 : i64, seed_features = 3 : i64}
  %l5 = attn.layer.linear %l4 params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2, feature_map = #attn<feature_map_kind favor>, features = 16, seed_features = 3, causal} : tensor<2x16x8xf32>, params(tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  // CHECK: attn.layer.ssm %{{.*}} params(%{{.*}}) : tensor<2x16x8xf32>, params(tensor<8x4xf32>
  %l6 = attn.layer.ssm %l5 params(%a, %a, %a, %a, %a, %a, %b, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) : tensor<2x16x8xf32>, params(tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  // CHECK: attn.layer.spade %{{.*}} {bidirectional, heads = 2 : i64, local = #attn<local_kind chunk>, local_size = 8 : i64}
  %l7 = attn.layer.spade %l6 params(%a, %a, %a, %a, %c2, %c2, %b, %b, %w, %b, %w, %b, %w, %b, %w, %b, %m, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2, local = #attn<local_kind chunk>, local_size = 8, bidirectional} : tensor<2x16x8xf32>, params(tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return
}

// A layer with batch norms: its running statistics as buffers, returned
// updated.
// CHECK-LABEL: func.func @batch_norm_layer
func.func @batch_norm_layer(%x: tensor<2x16x8xf32>, %len: tensor<2xi32>,
                            %a: tensor<8x4xf32>, %b: tensor<8xf32>,
                            %w: tensor<8x8xf32>, %r: tensor<8xf32>) -> (tensor<2x16x8xf32>, tensor<8xf32>, tensor<8xf32>) {
  // CHECK: %{{.*}}:3 = attn.layer.ssm %{{.*}} lengths %{{.*}} params(%{{.*}}) buffers(%{{.*}}, %{{.*}}) {feed_forward = false, norm = #attn<norm_kind batch>} : tensor<2x16x8xf32>, lengths tensor<2xi32>, params({{.*}}) buffers(tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>, tensor<8xf32>
  %y:3 = attn.layer.ssm %x lengths %len params(%a, %a, %a, %a, %a, %a, %b, %b, %w, %b, %b, %b) buffers(%r, %r) {feed_forward = false, norm = #attn<norm_kind batch>} : tensor<2x16x8xf32>, lengths tensor<2xi32>, params(tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) buffers(tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>, tensor<8xf32>
  return %y#0, %y#1, %y#2 : tensor<2x16x8xf32>, tensor<8xf32>, tensor<8xf32>
}

// CHECK-LABEL: func.func @gradient_ops
func.func @gradient_ops(%ids: tensor<2x8xi32>, %dy: tensor<2x8x16xf32>,
                        %x: tensor<2x8x16xf32>, %g: tensor<16xf32>,
                        %dp: tensor<2x16xf32>, %len: tensor<2xi32>,
                        %logits: tensor<2x10xf32>, %labels: tensor<2xi32>,
                        %dl: tensor<f32>) {
  // CHECK: attn.embedding_grad %{{.*}}, %{{.*}} : tensor<2x8xi32>, tensor<2x8x16xf32> -> tensor<18x16xf32>
  %e = attn.embedding_grad %ids, %dy : tensor<2x8xi32>, tensor<2x8x16xf32> -> tensor<18x16xf32>
  // CHECK: attn.layer_norm_grad %{{.*}}, %{{.*}}, %{{.*}} epsilon 1.000000e-05 : tensor<2x8x16xf32>, tensor<16xf32>
  %n:3 = attn.layer_norm_grad %x, %g, %dy epsilon 1.0e-5 : tensor<2x8x16xf32>, tensor<16xf32>
  // CHECK: attn.gelu_grad %{{.*}}, %{{.*}} approximate : tensor<2x8x16xf32>
  %ge = attn.gelu_grad %x, %dy approximate : tensor<2x8x16xf32>
  // CHECK: attn.pool_grad  cls %{{.*}} : tensor<2x16xf32> -> tensor<2x8x16xf32>
  %pc = attn.pool_grad cls %dp : tensor<2x16xf32> -> tensor<2x8x16xf32>
  // CHECK: attn.pool_grad  mean %{{.*}} lengths %{{.*}} : tensor<2x16xf32>, tensor<2xi32> -> tensor<2x8x16xf32>
  %pm = attn.pool_grad mean %dp lengths %len : tensor<2x16xf32>, tensor<2xi32> -> tensor<2x8x16xf32>
  // CHECK: attn.cross_entropy_grad %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x10xf32>, tensor<2xi32>, tensor<f32>
  %c = attn.cross_entropy_grad %logits, %labels, %dl : tensor<2x10xf32>, tensor<2xi32>, tensor<f32>
  return
}

// CHECK-LABEL: func.func @optimizer_ops
func.func @optimizer_ops(%step: tensor<i64>, %p: tensor<4x8xf32>, %g: tensor<4x8xf32>,
                         %m: tensor<4x8xf32>, %v: tensor<4x8xf32>) {
  // CHECK: attn.lr_schedule %{{.*}} peak 1.000000e-03 warmup 100 total 1000 decay  cosine final 1.000000e-01
  %lr = attn.lr_schedule %step peak 1.0e-3 warmup 100 total 1000 decay cosine final 0.1
  // CHECK: attn.lr_schedule %{{.*}} peak 1.000000e-03 total 1000 decay  constant{{$}}
  %c = attn.lr_schedule %step peak 1.0e-3 total 1000 decay constant
  // CHECK: attn.global_norm %{{.*}}, %{{.*}} : tensor<4x8xf32>, tensor<4x8xf32>
  %n = attn.global_norm %g, %m : tensor<4x8xf32>, tensor<4x8xf32>
  // CHECK: attn.adamw %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} lr %{{.*}} step %{{.*}} norm %{{.*}} {max_norm = 1.000000e+00 : f64} : tensor<4x8xf32>
  %r:3 = attn.adamw %p, %g, %m, %v lr %lr step %step norm %n {max_norm = 1.0 : f64} : tensor<4x8xf32>
  return
}

// CHECK-LABEL: func.func @sdpa_grad
func.func @sdpa_grad(%q: tensor<2x4x128x64xf32>, %len: tensor<2xi32>) {
  %m = attn.mask.key_padding %len : tensor<2xi32>
  // CHECK: attn.sdpa_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} mask %{{.*}} scale 1.250000e-01 : tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, !attn.mask
  %g:3 = attn.sdpa_grad %q, %q, %q, %q, %q mask %m scale 0.125 : tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, !attn.mask
  return
}

// A score region (ALiBi-like: s - (h + 1) |q - k| / 16) on attn.sdpa and
// attn.sdpa_grad: (s, b, h, q, k) -> f32.
// CHECK-LABEL: func.func @score_regions
func.func @score_regions(%q: tensor<2x4x128x64xf32>) {
  // CHECK: attn.sdpa %{{.*}}, %{{.*}}, %{{.*}} score {
  // CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %{{.*}}: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
  // CHECK: math.absf
  // CHECK: attn.yield %{{.*}} : f32
  // CHECK-NEXT: } : tensor<2x4x128x64xf32>
  %o = attn.sdpa %q, %q, %q score {
  ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
    %d = arith.subi %i, %j : index
    %di = arith.index_cast %d : index to i64
    %df = arith.sitofp %di : i64 to f32
    %a = math.absf %df : f32
    %c1 = arith.constant 1 : index
    %h1 = arith.addi %h, %c1 : index
    %hi = arith.index_cast %h1 : index to i64
    %hf = arith.sitofp %hi : i64 to f32
    %c = arith.constant 0.0625 : f32
    %slope = arith.mulf %hf, %c : f32
    %bias = arith.mulf %slope, %a : f32
    %r = arith.subf %s, %bias : f32
    attn.yield %r : f32
  } : tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32> -> tensor<2x4x128x64xf32>
  // CHECK: attn.sdpa_grad {{.*}} scale 1.250000e-01 score {
  %g:3 = attn.sdpa_grad %q, %q, %q, %o, %q scale 0.125 score {
  ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
    %t = math.tanh %s : f32
    attn.yield %t : f32
  } : tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>
  return
}

// CHECK-LABEL: func.func @materialize_mask
func.func @materialize_mask() -> (tensor<64x64xi1>, tensor<64x64xi8>) {
  %m = attn.mask.window radius 2 block 16
  // CHECK: attn.materialize_mask %{{.*}} : !attn.mask<block = 16> -> tensor<64x64xi1>
  %a = attn.materialize_mask %m : !attn.mask<block = 16> -> tensor<64x64xi1>
  // CHECK: attn.materialize_mask %{{.*}} : !attn.mask<block = 16> -> tensor<64x64xi8>
  %b = attn.materialize_mask %m : !attn.mask<block = 16> -> tensor<64x64xi8>
  return %a, %b : tensor<64x64xi1>, tensor<64x64xi8>
}

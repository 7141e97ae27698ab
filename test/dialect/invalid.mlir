// RUN: attn-opt %s -split-input-file -verify-diagnostics

// One split per verifier message of the attn dialect.

// expected-error @below {{mask block size must be a positive power of two, got 48}}
func.func @f(%m: !attn.mask<block = 48>) { return }

// -----

func.func @f1() {
  // expected-error @below {{radius must be non-negative, got -1}}
  %m = attn.mask.window radius -1
  return
}

// -----

func.func @f2() {
  // expected-error @below {{block size must be a positive power of two, got 24}}
  %m = attn.mask.window radius 1 block 24
  return
}

// -----

func.func @f3() {
  // expected-error @below {{global counts must be non-negative, got first -1 and last 0}}
  %m = attn.mask.global first -1
  return
}

// -----

func.func @f4() {
  // expected-error @below {{needs at least one global token or block (first or last must be positive)}}
  %m = attn.mask.global block 64
  return
}

// -----

func.func @f5() {
  // expected-error @below {{block size must be a positive power of two, got 0}}
  %m = attn.mask.global first 1 block 0
  return
}

// -----

func.func @f6() {
  // expected-error @below {{count must be positive, got 0}}
  %m = attn.mask.random_blocks count 0 block 64 seed 1
  return
}

// -----

func.func @f7() {
  // expected-error @below {{exclude_global must be non-negative, got -2}}
  %m = attn.mask.random_blocks count 2 block 64 seed 1 exclude_global -2
  return
}

// -----

func.func @f8() {
  // expected-error @below {{exclude_window must be -1 (none) or a radius, got -3}}
  %m = attn.mask.random_blocks count 2 block 64 seed 1 exclude_window -3
  return
}

// -----

func.func @f9() {
  // expected-error @below {{block size must be a positive power of two, got 100}}
  %m = attn.mask.random_blocks count 2 block 100 seed 1
  return
}

// -----

func.func @f10() {
  // expected-error @below {{chunk size must be positive, got 0}}
  %m = attn.mask.chunk size 0
  return
}

// -----

func.func @f11() {
  // expected-error @below {{radius must be non-negative, got -4}}
  %m = attn.mask.dilated_window radius -4 dilation 2
  return
}

// -----

func.func @f12() {
  // expected-error @below {{dilation must be positive, got 0}}
  %m = attn.mask.dilated_window radius 4 dilation 0
  return
}

// -----

func.func @f13() {
  // expected-error @below {{stride must be positive, got -8}}
  %m = attn.mask.strided stride -8
  return
}

// -----

func.func @f14() {
  %a = attn.mask.causal
  // expected-error @below {{needs at least two masks, got 1}}
  %m = attn.mask.union %a : !attn.mask
  return
}

// -----

func.func @f15() {
  %a = attn.mask.causal
  // expected-error @below {{needs at least two masks, got 1}}
  %m = attn.mask.intersect %a : !attn.mask
  return
}

// -----

func.func @f16(%a: !attn.mask) {
  %b = attn.mask.causal
  // expected-error @below {{operand #0 is not produced by a mask pattern op}}
  %m = attn.mask.union %a, %b : !attn.mask, !attn.mask
  return
}

// -----

func.func @f17(%a: !attn.mask) {
  %b = attn.mask.causal
  // expected-error @below {{operand #1 is not produced by a mask pattern op}}
  %m = attn.mask.difference %b, %a : !attn.mask, !attn.mask
  return
}

// -----

func.func @f18(%len: tensor<4xi32>) {
  %p = attn.mask.key_padding %len : tensor<4xi32>
  %c = attn.mask.causal
  // expected-error @below {{operand #0 depends on runtime data (key padding), which cannot be united with another mask; intersect it with the rest of the mask instead}}
  %m = attn.mask.union %p, %c : !attn.mask, !attn.mask
  return
}

// -----

func.func @f19(%len: tensor<4xi32>) {
  %p = attn.mask.key_padding %len : tensor<4xi32>
  %c = attn.mask.causal
  // expected-error @below {{operand #1 depends on runtime data (key padding), which cannot be subtracted from a mask; intersect it with the rest of the mask instead}}
  %m = attn.mask.difference %c, %p : !attn.mask, !attn.mask
  return
}

// -----

func.func @f20() {
  %a = attn.mask.window radius 1 block 64
  %b = attn.mask.global first 1 block 128
  // expected-error @below {{'attn.mask.union' combines masks of different geometry: block 64 and block 128 (operand #1)}}
  %m = attn.mask.union %a, %b : !attn.mask<block = 64>, !attn.mask<block = 128>
  return
}

// -----

func.func @f21() {
  %a = attn.mask.window radius 1 block 64
  %c = attn.mask.causal
  %b = attn.mask.global first 1 block 32
  // expected-error @below {{'attn.mask.intersect' combines masks of different geometry: block 64 and block 32 (operand #2)}}
  %m = attn.mask.intersect %a, %c, %b : !attn.mask<block = 64>, !attn.mask, !attn.mask<block = 32>
  return
}

// -----

func.func @f22() {
  %a = attn.mask.window radius 1 block 64
  %b = attn.mask.global first 1 block 32
  // expected-error @below {{'attn.mask.difference' combines masks of different geometry: block 64 and block 32 (operand #1)}}
  %m = attn.mask.difference %a, %b : !attn.mask<block = 64>, !attn.mask<block = 32>
  return
}

// -----

// Operands that are not masks, reported when the result's type is inferred
// (before the operands' types are verified). Found by the ir fuzzer.
func.func @combinator_of_tensors(%x: tensor<8x32xf32>, %w: tensor<32x10xf32>) {
  // expected-error @below {{'attn.mask.intersect' operand #0 must be a mask, got 'tensor<8x32xf32>'}}
  attn.mask.intersect %x, %w : tensor<8x32xf32>, tensor<32x10xf32>
  return
}

// -----

func.func @combinator_of_a_tensor(%x: tensor<8x32xf32>) {
  %a = attn.mask.window radius 1 block 64
  // expected-error @below {{'attn.mask.union' operand #1 must be a mask, got 'tensor<8x32xf32>'}}
  %m = attn.mask.union %a, %x : !attn.mask<block = 64>, tensor<8x32xf32>
  return
}

// -----

func.func @f23() {
  // expected-error @below {{region must take (q: index, k: index, n: index), got 2 argument(s)}}
  %m = attn.mask.expr {
  ^bb0(%q: index, %k: index):
    %t = arith.cmpi ule, %k, %q : index
    attn.yield %t : i1
  }
  return
}

// -----

func.func @f24() {
  // expected-error @below {{region must take (q: index, k: index, n: index), got 3 argument(s)}}
  %m = attn.mask.expr {
  ^bb0(%q: index, %k: i32, %n: index):
    %t = arith.constant true
    attn.yield %t : i1
  }
  return
}

// -----

func.func @f25() {
  // expected-error @below {{region must end with 'attn.yield' of a single i1}}
  %m = attn.mask.expr {
  ^bb0(%q: index, %k: index, %n: index):
    attn.yield %q : index
  }
  return
}

// -----

func.func @f26() {
  %m = attn.mask.expr {
  ^bb0(%q: index, %k: index, %n: index):
    %i = arith.index_cast %q : index to i64
    // expected-error @below {{'arith.sitofp' op is not allowed in an attn.mask.expr region; only integer arith ops can be evaluated to classify tiles}}
    %g = arith.sitofp %i : i64 to f32
    %t = arith.constant true
    attn.yield %t : i1
  }
  return
}

// -----

func.func @f27() {
  %m = attn.mask.expr {
  ^bb0(%q: index, %k: index, %n: index):
    // expected-error @below {{'arith.constant' op is not allowed in an attn.mask.expr region; only integer arith ops can be evaluated to classify tiles}}
    %f = arith.constant 1.0 : f32
    %t = arith.constant true
    attn.yield %t : i1
  }
  return
}

// -----

func.func @f28() {
  // expected-error @below {{number of features must be positive, got 0}}
  %f = attn.feature_map.favor features 0 seed 1
  return
}

// -----

func.func @f29(%q: tensor<2x128x64xf32>) {
  // expected-error @below {{query must have rank 4 [batch, heads, seq, head_dim], got shape [2, 128, 64]}}
  %o = attn.sdpa %q, %q, %q : tensor<2x128x64xf32>, tensor<2x128x64xf32>, tensor<2x128x64xf32> -> tensor<2x128x64xf32>
  return
}

// -----

func.func @f30(%q: tensor<2x4x128x64xf32>, %k: tensor<2x4x128x64xf16>) {
  // expected-error @below {{key has element type 'f16', expected 'f32'}}
  %o = attn.sdpa %q, %k, %k : tensor<2x4x128x64xf32>, tensor<2x4x128x64xf16>, tensor<2x4x128x64xf16> -> tensor<2x4x128x64xf32>
  return
}

// -----

func.func @f31(%q: tensor<2x4x128x64xf32>, %k: tensor<2x8x128x64xf32>) {
  // expected-error @below {{heads differ between query, key and value: [2, 4, 128, 64], [2, 8, 128, 64], [2, 8, 128, 64]}}
  %o = attn.sdpa %q, %k, %k : tensor<2x4x128x64xf32>, tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32> -> tensor<2x4x128x64xf32>
  return
}

// -----

func.func @f32(%q: tensor<2x4x128x64xf32>, %k: tensor<3x4x128x64xf32>) {
  // expected-error @below {{batch differ between query, key and value: [2, 4, 128, 64], [3, 4, 128, 64], [3, 4, 128, 64]}}
  %o = attn.sdpa %q, %k, %k : tensor<2x4x128x64xf32>, tensor<3x4x128x64xf32>, tensor<3x4x128x64xf32> -> tensor<2x4x128x64xf32>
  return
}

// -----

func.func @f33(%q: tensor<2x4x128x64xf32>, %v: tensor<2x4x96x64xf32>) {
  // expected-error @below {{key and value sequence lengths differ (128 vs 96)}}
  %o = attn.sdpa %q, %q, %v : tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x96x64xf32> -> tensor<2x4x128x64xf32>
  return
}

// -----

func.func @f34(%q: tensor<2x4x128x64xf32>, %k: tensor<2x4x128x32xf32>) {
  // expected-error @below {{head dim mismatch: query has 64, key has 32}}
  %o = attn.sdpa %q, %k, %k : tensor<2x4x128x64xf32>, tensor<2x4x128x32xf32>, tensor<2x4x128x32xf32> -> tensor<2x4x128x32xf32>
  return
}

// -----

func.func @f35(%q: tensor<2x4x128x64xf32>) {
  // expected-error @below {{result has shape [2, 4, 128, 32], expected [2, 4, 128, 64]}}
  %o = attn.sdpa %q, %q, %q : tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32> -> tensor<2x4x128x32xf32>
  return
}

// -----

func.func @f36(%q: tensor<2x4x128x64xf32>) {
  // expected-error @below {{scale must be positive and finite, got -1}}
  %o = attn.sdpa %q, %q, %q scale -1.0 : tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32> -> tensor<2x4x128x64xf32>
  return
}

// -----

func.func @f37(%q: tensor<2x4x128x?xf32>) {
  // expected-error @below {{needs an explicit scale when the head dim is dynamic}}
  %o = attn.sdpa %q, %q, %q : tensor<2x4x128x?xf32>, tensor<2x4x128x?xf32>, tensor<2x4x128x?xf32> -> tensor<2x4x128x?xf32>
  return
}

// -----

func.func @f38(%q: tensor<2x4x128x64xf32>, %m: !attn.mask) {
  // expected-error @below {{mask must be produced by a mask pattern op}}
  %o = attn.sdpa %q, %q, %q mask %m : tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, !attn.mask -> tensor<2x4x128x64xf32>
  return
}

// -----

func.func @f39(%q: tensor<2x4x128x64xf32>, %k: tensor<2x4x64x64xf32>) {
  %m = attn.mask.causal
  // expected-error @below {{a mask needs self-attention, but the query length 128 differs from the key length 64}}
  %o = attn.sdpa %q, %k, %k mask %m : tensor<2x4x128x64xf32>, tensor<2x4x64x64xf32>, tensor<2x4x64x64xf32>, !attn.mask -> tensor<2x4x128x64xf32>
  return
}

// -----

func.func @f40(%q: tensor<2x4x128x64xf32>, %len: tensor<3xi32>) {
  %c = attn.mask.causal
  %p = attn.mask.key_padding %len : tensor<3xi32>
  %m = attn.mask.intersect %c, %p : !attn.mask, !attn.mask
  // expected-error @below {{key-padding lengths have 3 entries but the batch is 2}}
  %o = attn.sdpa %q, %q, %q mask %m : tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, !attn.mask -> tensor<2x4x128x64xf32>
  return
}

// -----

func.func @f41(%q: tensor<2x4x128x64xf32>, %f: !attn.feature_map) {
  // expected-error @below {{feature map must be produced by a feature map op}}
  %o = attn.linear %q, %q, %q feature_map %f : tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32> -> tensor<2x4x128x64xf32>
  return
}

// -----

func.func @f42(%q: tensor<2x4x128x64xf32>, %k: tensor<2x4x64x64xf32>) {
  %f = attn.feature_map.relu
  // expected-error @below {{causal linear attention needs equal query and key lengths, got 128 and 64}}
  %o = attn.linear %q, %k, %k feature_map %f causal : tensor<2x4x128x64xf32>, tensor<2x4x64x64xf32>, tensor<2x4x64x64xf32> -> tensor<2x4x128x64xf32>
  return
}

// -----

func.func @linear_grad_lengths(%q: tensor<2x4x128x64xf32>, %len: tensor<3xi32>) {
  %f = attn.feature_map.relu
  // expected-error @below {{key_lengths}}
  %a, %b, %c = attn.linear_grad %q, %q, %q feature_map %f key_lengths %len : tensor<3xi32> output %q, %q : tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>
  return
}

// -----

func.func @f44(%q: tensor<2x4x128x8xf32>, %v: tensor<2x4x128xf32>) {
  %f = attn.feature_map.relu
  // expected-error @below {{value must have rank 4 [batch, heads, seq, head_dim], got shape [2, 4, 128]}}
  %o = attn.linear %q, %q, %v feature_map %f : tensor<2x4x128x8xf32>, tensor<2x4x128x8xf32>, tensor<2x4x128xf32> -> tensor<2x4x128x8xf32>
  return
}

// -----

func.func @f44(%x: tensor<2x64xf32>, %a: tensor<16x8xf32>, %dt: tensor<16xf32>) {
  // expected-error @below {{input must have rank 3 [batch, seq, channels], got shape [2, 64]}}
  %y = attn.ssm %x A(%a, %a) B(%a, %a) C(%a, %a) log_dt(%dt) : tensor<2x64xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<16xf32>
  return
}

// -----

func.func @f45(%x: tensor<2x64x16xf32>, %a: tensor<12x8xf32>, %dt: tensor<16xf32>) {
  // expected-error @below {{A has shape [12, 8], expected [16, 8]}}
  %y = attn.ssm %x A(%a, %a) B(%a, %a) C(%a, %a) log_dt(%dt) : tensor<2x64x16xf32>, tensor<12x8xf32>, tensor<12x8xf32>, tensor<16xf32>
  return
}

// -----

func.func @f46(%x: tensor<2x64x16xf32>, %a: tensor<16x8xf32>, %c: tensor<16x8xf32>, %dt: tensor<16xf32>) {
  // expected-error @below {{C of a bidirectional ssm has shape [16, 8], expected [2, 16, 8]}}
  %y = attn.ssm %x A(%a, %a) B(%a, %a) C(%c, %c) log_dt(%dt) bidirectional : tensor<2x64x16xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<16xf32>
  return
}

// -----

func.func @f47(%x: tensor<2x64x16xf32>, %a: tensor<16x8xf32>, %c: tensor<16x4xf32>, %dt: tensor<16xf32>) {
  // expected-error @below {{C has shape [16, 4], expected [16, 8]}}
  %y = attn.ssm %x A(%a, %a) B(%a, %a) C(%c, %c) log_dt(%dt) : tensor<2x64x16xf32>, tensor<16x8xf32>, tensor<16x4xf32>, tensor<16xf32>
  return
}

// -----

func.func @f48(%x: tensor<2x64x16xf32>, %a: tensor<16x8xf32>, %dt: tensor<8xf32>) {
  // expected-error @below {{log_dt has shape [8], expected [16]}}
  %y = attn.ssm %x A(%a, %a) B(%a, %a) C(%a, %a) log_dt(%dt) : tensor<2x64x16xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<8xf32>
  return
}

// -----

func.func @f49(%x: tensor<2x64x16xf32>, %a: tensor<16x8xf16>, %dt: tensor<16xf32>) {
  // expected-error @below {{parameter has element type 'f16', expected 'f32'}}
  %y = attn.ssm %x A(%a, %a) B(%a, %a) C(%a, %a) log_dt(%dt) : tensor<2x64x16xf32>, tensor<16x8xf16>, tensor<16x8xf16>, tensor<16xf32>
  return
}

// -----

func.func @f50(%x: tensor<2x64x16xf32>, %a: tensor<16x8xf32>, %b: tensor<16x4xf32>, %dt: tensor<16xf32>) {
  // expected-error @below {{all of {log_a_real, a_imag, b_real, b_imag} have same type}}
  %y = "attn.ssm"(%x, %a, %a, %b, %b, %a, %a, %dt) : (tensor<2x64x16xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<16xf32>) -> tensor<2x64x16xf32>
  return
}

// -----

func.func @f51(%ids: tensor<8xi32>, %t: tensor<20x32xf32>) {
  // expected-error @below {{ids must have rank 2 [batch, seq], got shape [8]}}
  %e = attn.embedding %ids, %t : tensor<8xi32>, tensor<20x32xf32> -> tensor<8x32xf32>
  return
}

// -----

func.func @f52(%ids: tensor<8x10xi32>, %t: tensor<20xf32>) {
  // expected-error @below {{table must have rank 2 [vocab, width], got shape [20]}}
  %e = attn.embedding %ids, %t : tensor<8x10xi32>, tensor<20xf32> -> tensor<8x10x20xf32>
  return
}

// -----

func.func @f53(%ids: tensor<8x10xi32>, %t: tensor<20x32xf32>) {
  // expected-error @below {{result has shape [8, 10, 16], expected [8, 10, 32]}}
  %e = attn.embedding %ids, %t : tensor<8x10xi32>, tensor<20x32xf32> -> tensor<8x10x16xf32>
  return
}

// -----

func.func @f54(%ids: tensor<8x10xi32>, %t: tensor<20x32xf32>) {
  // expected-error @below {{result has element type 'f16', expected 'f32'}}
  %e = attn.embedding %ids, %t : tensor<8x10xi32>, tensor<20x32xf32> -> tensor<8x10x32xf16>
  return
}

// -----

func.func @f55(%x: tensor<8x10x32xf32>, %t: tensor<64x16xf32>) {
  // expected-error @below {{position table width 16 differs from the input width 32}}
  %e = attn.add_positions %x, %t : tensor<8x10x32xf32>, tensor<64x16xf32>
  return
}

// -----

func.func @f56(%x: tensor<8x100x32xf32>, %t: tensor<64x32xf32>) {
  // expected-error @below {{sequence length 100 exceeds the 64 learned positions}}
  %e = attn.add_positions %x, %t : tensor<8x100x32xf32>, tensor<64x32xf32>
  return
}

// -----

func.func @f57(%x: tensor<8x10x32xf32>, %t: tensor<64x32xf16>) {
  // expected-error @below {{table has element type 'f16', expected 'f32'}}
  %e = attn.add_positions %x, %t : tensor<8x10x32xf32>, tensor<64x32xf16>
  return
}

// -----

func.func @f58(%x: tensor<8x10xf32>, %t: tensor<64x32xf32>) {
  // expected-error @below {{input must have rank 3 [batch, seq, width], got shape [8, 10]}}
  %e = attn.add_positions %x, %t : tensor<8x10xf32>, tensor<64x32xf32>
  return
}

// -----

func.func @f59(%x: tensor<8x10x32xf32>, %g: tensor<16xf32>) {
  // expected-error @below {{gamma has shape [16], expected [32]}}
  %y = attn.layer_norm %x, %g, %g : tensor<8x10x32xf32>, tensor<16xf32>
  return
}

// -----

func.func @f60(%x: tensor<8x10x32xf32>, %g: tensor<32xf16>) {
  // expected-error @below {{gamma has element type 'f16', expected 'f32'}}
  %y = attn.layer_norm %x, %g, %g : tensor<8x10x32xf32>, tensor<32xf16>
  return
}

// -----

func.func @f61(%x: tensor<8x10x32xf32>, %g: tensor<32xf32>) {
  // expected-error @below {{epsilon must be positive and finite, got 0}}
  %y = attn.layer_norm %x, %g, %g epsilon 0.0 : tensor<8x10x32xf32>, tensor<32xf32>
  return
}

// -----

func.func @batch_norm_gamma(%x: tensor<8x10x32xf32>, %g: tensor<16xf32>) {
  // expected-error @below {{gamma has shape [16], expected [32]}}
  %y:3 = attn.batch_norm %x, %g, %g : tensor<8x10x32xf32>, tensor<16xf32> -> tensor<32xf32>
  return
}

// -----

func.func @batch_norm_lengths(%x: tensor<8x10x32xf32>, %g: tensor<32xf32>, %len: tensor<4xi32>) {
  // expected-error @below {{lengths has shape [4], expected [8]}}
  %y:3 = attn.batch_norm %x, %g, %g lengths %len : tensor<4xi32> : tensor<8x10x32xf32>, tensor<32xf32> -> tensor<32xf32>
  return
}

// -----

func.func @batch_norm_statistics(%x: tensor<8x10x32xf32>, %g: tensor<32xf32>) {
  // expected-error @below {{mean has shape [16], expected [32]}}
  %y:3 = attn.batch_norm %x, %g, %g : tensor<8x10x32xf32>, tensor<32xf32> -> tensor<16xf32>
  return
}

// -----

func.func @batch_norm_evaluation_without_running(%x: tensor<8x10x32xf32>, %g: tensor<32xf32>) {
  // expected-error @below {{`evaluation` normalises with running statistics: give them with `running`}}
  %y:3 = attn.batch_norm %x, %g, %g {evaluation} : tensor<8x10x32xf32>, tensor<32xf32> -> tensor<32xf32>
  return
}

// -----

func.func @batch_norm_running_type(%x: tensor<8x10x32xbf16>, %g: tensor<32xbf16>, %r: tensor<32xbf16>) {
  // expected-error @below {{running statistics must have the type of the statistics it returns, 'tensor<32xf32>', not 'tensor<32xbf16>'}}
  %y:3 = attn.batch_norm %x, %g, %g running %r, %r : tensor<32xbf16>, tensor<32xbf16> : tensor<8x10x32xbf16>, tensor<32xbf16> -> tensor<32xf32>
  return
}

// -----

func.func @batch_norm_momentum(%x: tensor<8x10x32xf32>, %g: tensor<32xf32>) {
  // expected-error @below {{momentum must be in (0, 1], not 0}}
  %y:3 = attn.batch_norm %x, %g, %g running %g, %g : tensor<32xf32>, tensor<32xf32> {momentum = 0.0 : f64} : tensor<8x10x32xf32>, tensor<32xf32> -> tensor<32xf32>
  return
}

// -----

func.func @batch_norm_grad_rank(%x: tensor<8x32xf32>, %g: tensor<32xf32>) {
  // expected-error @below {{input must have rank 3}}
  %y:3 = attn.batch_norm_grad %x, %g, %x : tensor<8x32xf32>, tensor<32xf32>
  return
}

// -----

func.func @f62(%x: tensor<f32>, %g: tensor<32xf32>) {
  // expected-error @below {{input must have rank at least 1}}
  %y = attn.layer_norm %x, %g, %g : tensor<f32>, tensor<32xf32>
  return
}

// -----

func.func @f63(%x: tensor<8x32xf32>, %w: tensor<32xf32>) {
  // expected-error @below {{weight must have rank 2 [in, out], got shape [32]}}
  %y = attn.project %x, %w : tensor<8x32xf32>, tensor<32xf32> -> tensor<8x32xf32>
  return
}

// -----

func.func @f64(%x: tensor<8x32xf32>, %w: tensor<16x10xf32>) {
  // expected-error @below {{input width 32 differs from the weight's input size 16}}
  %y = attn.project %x, %w : tensor<8x32xf32>, tensor<16x10xf32> -> tensor<8x10xf32>
  return
}

// -----

func.func @f65(%x: tensor<8x32xf32>, %w: tensor<32x10xf32>, %b: tensor<32xf32>) {
  // expected-error @below {{bias has shape [32], expected [10]}}
  %y = attn.project %x, %w, %b : tensor<8x32xf32>, tensor<32x10xf32>, tensor<32xf32> -> tensor<8x10xf32>
  return
}

// -----

func.func @f66(%x: tensor<8x32xf32>, %w: tensor<32x10xf32>) {
  // expected-error @below {{result has shape [8, 32], expected [8, 10]}}
  %y = attn.project %x, %w : tensor<8x32xf32>, tensor<32x10xf32> -> tensor<8x32xf32>
  return
}

// -----

func.func @f67(%x: tensor<f32>, %w: tensor<32x10xf32>) {
  // expected-error @below {{input must have rank at least 1}}
  %y = attn.project %x, %w : tensor<f32>, tensor<32x10xf32> -> tensor<10xf32>
  return
}

// -----

func.func @f68(%x: tensor<8x32xf32>, %w: tensor<32x10xbf16>) {
  // expected-error @below {{weight has element type 'bf16', expected 'f32'}}
  %y = attn.project %x, %w : tensor<8x32xf32>, tensor<32x10xbf16> -> tensor<8x10xf32>
  return
}

// -----

func.func @f69(%x: tensor<8x32xf32>, %s: i64) {
  // expected-error @below {{rate must be in [0, 1), got 1}}
  %y = attn.dropout %x, %s rate 1.0 : tensor<8x32xf32>
  return
}

// -----

func.func @f70(%x: tensor<8x10x32xf32>, %l: tensor<8xi32>) {
  // expected-error @below {{lengths are only meaningful for mean pooling}}
  %y = attn.pool cls %x lengths %l : tensor<8x10x32xf32>, tensor<8xi32> -> tensor<8x32xf32>
  return
}

// -----

func.func @f71(%x: tensor<8x10x32xf32>, %l: tensor<4xi32>) {
  // expected-error @below {{lengths has shape [4], expected [8]}}
  %y = attn.pool mean %x lengths %l : tensor<8x10x32xf32>, tensor<4xi32> -> tensor<8x32xf32>
  return
}

// -----

func.func @f72(%x: tensor<8x10x32xf32>) {
  // expected-error @below {{result has shape [8, 10], expected [8, 32]}}
  %y = attn.pool mean %x : tensor<8x10x32xf32> -> tensor<8x10xf32>
  return
}

// -----

func.func @f73(%x: tensor<8x10x32xf32>) {
  // expected-error @below {{result has element type 'f64', expected 'f32'}}
  %y = attn.pool mean %x : tensor<8x10x32xf32> -> tensor<8x32xf64>
  return
}

// -----

func.func @f74(%x: tensor<8x10xf32>) {
  // expected-error @below {{input must have rank 3 [batch, seq, width], got shape [8, 10]}}
  %y = attn.pool mean %x : tensor<8x10xf32> -> tensor<8x10xf32>
  return
}

// -----

func.func @f75(%x: tensor<8x10x2xf32>, %l: tensor<8xi32>) {
  // expected-error @below {{logits must have rank 2 [batch, classes], got shape [8, 10, 2]}}
  %y = attn.cross_entropy %x, %l : tensor<8x10x2xf32>, tensor<8xi32> -> tensor<f32>
  return
}

// -----

func.func @f76(%x: tensor<8x10xf32>, %l: tensor<4xi32>) {
  // expected-error @below {{labels has shape [4], expected [8]}}
  %y = attn.cross_entropy %x, %l : tensor<8x10xf32>, tensor<4xi32> -> tensor<f32>
  return
}

// -----

func.func @f78(%x: tensor<2x16x8xf32>, %w: tensor<8x8xf32>, %b: tensor<8xf32>, %w1: tensor<8x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x8xf32>) {
  // expected-error @below {{heads must be positive and divide the model width 8, got 3}}
  %y = attn.layer.full %x params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 3} : tensor<2x16x8xf32>, params(tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return
}

// -----

func.func @f79(%x: tensor<2x16x8xf32>, %w: tensor<8x8xf32>, %b: tensor<8xf32>, %w1: tensor<8x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x8xf32>) {
  // expected-error @below {{expects 16 parameters, got 3}}
  %y = attn.layer.full %x params(%w, %b, %w) {heads = 2} : tensor<2x16x8xf32>, params(tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>)
  return
}

// -----

func.func @f80(%x: tensor<2x16x8xf32>, %w: tensor<8x8xf32>, %b: tensor<8xf32>, %w1: tensor<8x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x8xf32>) {
  // expected-error @below {{parameter #3 (attn.bk) has shape [16], expected [8]}}
  %y = attn.layer.full %x params(%w, %b, %w, %b1, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2} : tensor<2x16x8xf32>, params(tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<16xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return
}

// -----

func.func @f81(%x: tensor<2x16x8xf32>, %w: tensor<8x8xf32>, %b: tensor<8xf32>, %w1: tensor<8x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x8xf32>, %h: tensor<8xf16>) {
  // expected-error @below {{parameter #1 (attn.bq) has element type 'f16', expected 'f32'}}
  %y = attn.layer.full %x params(%w, %h, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2} : tensor<2x16x8xf32>, params(tensor<8x8xf32>, tensor<8xf16>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return
}

// -----

func.func @f82(%x: tensor<2x16x8xf32>, %w: tensor<8x8xf32>, %b: tensor<8xf32>, %w1: tensor<8x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x8xf32>, %w2b: tensor<12x8xf32>) {
  // expected-error @below {{parameter #12 (ffn.w2) has shape [12, 8], expected [16, 8]}}
  %y = attn.layer.full %x params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2b, %b, %b, %b) {heads = 2} : tensor<2x16x8xf32>, params(tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<12x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return
}

// -----

func.func @f83(%x: tensor<2x16x?xf32>, %w: tensor<8x8xf32>, %b: tensor<8xf32>, %w1: tensor<8x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x8xf32>) {
  // expected-error @below {{model width (the input's last dimension) must be static}}
  %y = attn.layer.full %x params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2} : tensor<2x16x?xf32>, params(tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return
}

// -----

func.func @f84(%x: tensor<2x16x8xf32>, %w: tensor<8x8xf32>, %b: tensor<8xf32>, %w1: tensor<8x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x8xf32>, %len: tensor<3xi32>) {
  // expected-error @below {{lengths has shape [3], expected [2]}}
  %y = attn.layer.full %x lengths %len params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2} : tensor<2x16x8xf32>, lengths tensor<3xi32>, params(tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return
}

// -----

func.func @f85(%x: tensor<2x16x8xf32>, %w: tensor<8x8xf32>, %b: tensor<8xf32>, %w1: tensor<8x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x8xf32>) {
  // expected-error @below {{dropout must be in [0, 1), got 1.5}}
  %y = attn.layer.full %x params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2, dropout = 1.5} : tensor<2x16x8xf32>, params(tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return
}

// -----

func.func @f86(%x: tensor<2x16x8xf32>, %w: tensor<8x8xf32>, %b: tensor<8xf32>, %w1: tensor<8x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x8xf32>) {
  // expected-error @below {{radius must be non-negative, got -2}}
  %y = attn.layer.window %x params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2, radius = -2} : tensor<2x16x8xf32>, params(tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return
}

// -----

func.func @f87(%x: tensor<2x16x8xf32>, %w: tensor<8x8xf32>, %b: tensor<8xf32>, %w1: tensor<8x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x8xf32>) {
  // expected-error @below {{block size must be a positive power of two, got 6}}
  %y = attn.layer.window %x params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2, radius = 1, block = 6} : tensor<2x16x8xf32>, params(tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return
}

// -----

func.func @f88(%x: tensor<2x16x8xf32>, %w: tensor<8x8xf32>, %b: tensor<8xf32>, %w1: tensor<8x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x8xf32>) {
  // expected-error @below {{chunk size must be positive, got 0}}
  %y = attn.layer.chunk %x params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2, size = 0} : tensor<2x16x8xf32>, params(tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return
}

// -----

func.func @f89(%x: tensor<2x16x8xf32>, %w: tensor<8x8xf32>, %b: tensor<8xf32>, %w1: tensor<8x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x8xf32>) {
  // expected-error @below {{block size must be a positive power of two, got 12}}
  %y = attn.layer.bigbird %x params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2, block = 12} : tensor<2x16x8xf32>, params(tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return
}

// -----

func.func @f90(%x: tensor<2x16x8xf32>, %w: tensor<8x8xf32>, %b: tensor<8xf32>, %w1: tensor<8x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x8xf32>) {
  // expected-error @below {{window, global and random block counts must be non-negative, got 1, 1, -3}}
  %y = attn.layer.bigbird %x params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2, block = 4, random = -3} : tensor<2x16x8xf32>, params(tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return
}

// -----

func.func @f91(%x: tensor<2x16x8xf32>, %w: tensor<8x8xf32>, %b: tensor<8xf32>, %w1: tensor<8x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x8xf32>) {
  // expected-error @below {{the favor feature map needs 'features' and 'seed_features'}}
  %y = attn.layer.linear %x params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2, feature_map = #attn<feature_map_kind favor>} : tensor<2x16x8xf32>, params(tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return
}

// -----

func.func @f92(%x: tensor<2x16x8xf32>, %w: tensor<8x8xf32>, %b: tensor<8xf32>, %w1: tensor<8x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x8xf32>) {
  // expected-error @below {{'features' and 'seed_features' only apply to the favor feature map, not relu}}
  %y = attn.layer.linear %x params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2, feature_map = #attn<feature_map_kind relu>, features = 8} : tensor<2x16x8xf32>, params(tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return
}

// -----

func.func @f93(%x: tensor<2x16x8xf32>, %w: tensor<8x8xf32>, %b: tensor<8xf32>, %w1: tensor<8x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x8xf32>) {
  // expected-error @below {{features must be positive, got 0}}
  %y = attn.layer.linear %x params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2, feature_map = #attn<feature_map_kind favor>, features = 0, seed_features = 1} : tensor<2x16x8xf32>, params(tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return
}

// -----

func.func @f94(%x: tensor<2x16x8xf32>, %w: tensor<8x8xf32>, %b: tensor<8xf32>, %w1: tensor<8x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x8xf32>) {
  // expected-error @below {{local_size must be positive, got 0}}
  %y = attn.layer.spade %x params(%w) {heads = 2, local = #attn<local_kind window>, local_size = 0} : tensor<2x16x8xf32>, params(tensor<8x8xf32>)
  return
}

// -----

func.func @f95(%x: tensor<2x16x8xf32>, %a: tensor<8x4xf32>, %b: tensor<8xf32>, %w: tensor<8x8xf32>, %w1: tensor<8x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x8xf32>) {
  // expected-error @below {{parameter #4 (ssm.c_real) has shape [8, 4], expected [2, 8, 4]}}
  %y = attn.layer.ssm %x params(%a, %a, %a, %a, %a, %a, %b, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {bidirectional} : tensor<2x16x8xf32>, params(tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return
}

// -----

// With `glu` an SSM layer's schema has gate.w and gate.b after out.b:
// twenty parameters with the FFN.
func.func @ssm_glu_needs_gate(%x: tensor<2x16x8xf32>, %a: tensor<8x4xf32>, %c: tensor<2x8x4xf32>, %b: tensor<8xf32>, %w: tensor<8x8xf32>, %w1: tensor<8x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x8xf32>) {
  // expected-error @below {{expects 20 parameters, got 18}}
  %y = attn.layer.ssm %x params(%a, %a, %a, %a, %c, %c, %b, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {bidirectional, glu} : tensor<2x16x8xf32>, params(tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return
}

// -----

// Without its feed-forward sublayer a layer takes no ffn.* or ln2.*.
func.func @without_ffn_takes_fewer(%x: tensor<2x16x8xf32>, %w: tensor<8x8xf32>, %b: tensor<8xf32>, %w1: tensor<8x16xf32>, %b1: tensor<16xf32>, %w2: tensor<16x8xf32>) {
  // expected-error @below {{expects 10 parameters, got 16}}
  %y = attn.layer.full %x params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2, feed_forward = false} : tensor<2x16x8xf32>, params(tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x16xf32>, tensor<16xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return
}

// -----

func.func @embedding_grad_width(%ids: tensor<2x8xi32>, %dy: tensor<2x8x16xf32>) {
  // expected-error @below {{grad has shape [2, 8, 16], expected [2, 8, 32]}}
  %e = attn.embedding_grad %ids, %dy : tensor<2x8xi32>, tensor<2x8x16xf32> -> tensor<18x32xf32>
  return
}

// -----

func.func @embedding_grad_type(%ids: tensor<2x8xi32>, %dy: tensor<2x8x16xf32>) {
  // expected-error @below {{result has element type 'bf16', expected 'f32'}}
  %e = attn.embedding_grad %ids, %dy : tensor<2x8xi32>, tensor<2x8x16xf32> -> tensor<18x16xbf16>
  return
}

// -----

func.func @layer_norm_grad_gamma(%x: tensor<2x8x16xf32>, %g: tensor<8xf32>) {
  // expected-error @below {{gamma has shape [8], expected [16]}}
  %n:3 = attn.layer_norm_grad %x, %g, %x : tensor<2x8x16xf32>, tensor<8xf32>
  return
}

// -----

func.func @layer_norm_grad_epsilon(%x: tensor<2x8x16xf32>, %g: tensor<16xf32>) {
  // expected-error @below {{epsilon must be positive and finite, got 0}}
  %n:3 = attn.layer_norm_grad %x, %g, %x epsilon 0.0 : tensor<2x8x16xf32>, tensor<16xf32>
  return
}

// -----

func.func @pool_grad_batch(%dp: tensor<2x16xf32>) {
  // expected-error @below {{result has shape [3, 8, 16], expected [2, ?, 16]}}
  %p = attn.pool_grad cls %dp : tensor<2x16xf32> -> tensor<3x8x16xf32>
  return
}

// -----

func.func @pool_grad_cls_lengths(%dp: tensor<2x16xf32>, %len: tensor<2xi32>) {
  // expected-error @below {{lengths are only meaningful for mean pooling}}
  %p = attn.pool_grad cls %dp lengths %len : tensor<2x16xf32>, tensor<2xi32> -> tensor<2x8x16xf32>
  return
}

// -----

func.func @cross_entropy_grad_labels(%x: tensor<2x10xf32>, %l: tensor<3xi32>, %d: tensor<f32>) {
  // expected-error @below {{labels has shape [3], expected [2]}}
  %c = attn.cross_entropy_grad %x, %l, %d : tensor<2x10xf32>, tensor<3xi32>, tensor<f32>
  return
}

// -----

func.func @lr_schedule_peak(%step: tensor<i64>) {
  // expected-error @below {{peak learning rate must be positive and finite, got 0}}
  %lr = attn.lr_schedule %step peak 0.0 total 10 decay cosine
  return
}

// -----

func.func @lr_schedule_total(%step: tensor<i64>) {
  // expected-error @below {{total steps (10) must be at least the warmup (20)}}
  %lr = attn.lr_schedule %step peak 1.0e-3 warmup 20 total 10 decay linear
  return
}

// -----

func.func @lr_schedule_final(%step: tensor<i64>) {
  // expected-error @below {{final fraction must be in [0, 1], got 2}}
  %lr = attn.lr_schedule %step peak 1.0e-3 total 10 decay linear final 2.0
  return
}

// -----

func.func @adamw_beta(%p: tensor<4xf32>, %lr: tensor<f32>, %step: tensor<i64>) {
  // expected-error @below {{betas must be in [0, 1), got 1.000000e+00 and 9.990000e-01}}
  %r:3 = attn.adamw %p, %p, %p, %p lr %lr step %step norm %lr {beta1 = 1.0 : f64} : tensor<4xf32>
  return
}

// -----

func.func @adamw_max_norm(%p: tensor<4xf32>, %lr: tensor<f32>, %step: tensor<i64>) {
  // expected-error @below {{max_norm must be non-negative (0: no clipping), got -1}}
  %r:3 = attn.adamw %p, %p, %p, %p lr %lr step %step norm %lr {max_norm = -1.0 : f64} : tensor<4xf32>
  return
}

// -----

func.func @adamw_bf16(%p: tensor<4xbf16>, %lr: tensor<f32>, %step: tensor<i64>) {
  // expected-error @below {{updates f32 parameters (master weights are f32)}}
  %r:3 = attn.adamw %p, %p, %p, %p lr %lr step %step norm %lr : tensor<4xbf16>
  return
}

// -----

func.func @global_norm_empty() {
  // expected-error @below {{needs at least one tensor}}
  %n = "attn.global_norm"() : () -> tensor<f32>
  return
}

// -----

func.func @sdpa_grad_scale(%q: tensor<2x4x16x8xf32>) {
  // expected-error @below {{scale must be positive and finite, got -1}}
  %g:3 = attn.sdpa_grad %q, %q, %q, %q, %q scale -1.0 : tensor<2x4x16x8xf32>, tensor<2x4x16x8xf32>, tensor<2x4x16x8xf32>, tensor<2x4x16x8xf32>
  return
}

// -----

func.func @f96(%x: tensor<2x64x16xf32>, %a: tensor<16x8xf32>, %c: tensor<16x8xf32>, %dt: tensor<16xf32>) {
  // expected-error @below {{C of a bidirectional ssm has shape [16, 8], expected [2, 16, 8]}}
  %g:8 = attn.ssm_grad %x, %x A(%a, %a) B(%a, %a) C(%c, %c) log_dt(%dt) bidirectional : tensor<2x64x16xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<16xf32>
  return
}

// -----

func.func @adamw_lr_scale(%p: tensor<4xf32>, %lr: tensor<f32>, %step: tensor<i64>) {
  // expected-error @below {{lr_scale must be non-negative, got -1}}
  %r:3 = attn.adamw %p, %p, %p, %p lr %lr step %step norm %lr {lr_scale = -1.0 : f64} : tensor<4xf32>
  return
}

// -----

// expected-error @+1 {{target chip must be sm_80 or later (sm_<capability>[a]), got 'sm_75'}}
module attributes {attn.target = #attn.target<chip = "sm_75", multiprocessors = 40>} {}

// -----

// expected-error @+1 {{'attn.target' must be an #attn.target, got "sm_90a"}}
module attributes {attn.target = "sm_90a"} {}

// -----

// expected-error @+1 {{'attn.target' belongs on a module}}
func.func @target_on_a_function() attributes {attn.target = #attn.target<chip = "sm_90a", multiprocessors = 132>} {
  return
}

// -----

func.func @cast_changes_shape(%x: tensor<4xf32>) -> tensor<8xbf16> {
  // expected-error @+1 {{'attn.cast' op requires the same shape for all operands and results}}
  %y = attn.cast %x : tensor<4xf32> to tensor<8xbf16>
  return %y : tensor<8xbf16>
}

// -----

func.func @materialize_padding(%len: tensor<2xi32>) -> tensor<8x8xi8> {
  %m = attn.mask.key_padding %len : tensor<2xi32>
  // expected-error @+1 {{mask depends on runtime data (key padding), which a dense n x n tensor cannot hold}}
  %d = attn.materialize_mask %m : !attn.mask -> tensor<8x8xi8>
  return %d : tensor<8x8xi8>
}

// -----

func.func @materialize_not_square() -> tensor<8x9xi8> {
  %m = attn.mask.causal
  // expected-error @+1 {{result must be a static square tensor (n x n), got 'tensor<8x9xi8>'}}
  %d = attn.materialize_mask %m : !attn.mask -> tensor<8x9xi8>
  return %d : tensor<8x9xi8>
}

// -----

func.func @materialize_float() -> tensor<8x8xf32> {
  %m = attn.mask.causal
  // expected-error @+1 {{must be 2D tensor of 1-bit signless integer or 8-bit signless integer values}}
  %d = attn.materialize_mask %m : !attn.mask -> tensor<8x8xf32>
  return %d : tensor<8x8xf32>
}

// -----

func.func @score_arguments(%q: tensor<2x4x128x64xf32>) {
  // expected-error @below {{score region must take (s: f32, b: index, h: index, q: index, k: index)}}
  %o = attn.sdpa %q, %q, %q score {
  ^bb0(%s: f32, %i: index, %j: index):
    attn.yield %s : f32
  } : tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32> -> tensor<2x4x128x64xf32>
  return
}

// -----

func.func @score_yield(%q: tensor<2x4x128x64xf32>) {
  // expected-error @below {{score region must end with 'attn.yield' of an f32}}
  %o = attn.sdpa %q, %q, %q score {
  ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
    %t = arith.cmpi ule, %i, %j : index
    attn.yield %t : i1
  } : tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32> -> tensor<2x4x128x64xf32>
  return
}

// -----

func.func @score_op(%q: tensor<2x4x128x64xf32>) {
  %o = attn.sdpa %q, %q, %q score {
  ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
    // expected-error @below {{is not allowed in a score region}}
    %t = math.sin %s : f32
    attn.yield %t : f32
  } : tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32> -> tensor<2x4x128x64xf32>
  return
}

// -----

func.func @score_grad_arguments(%q: tensor<2x4x128x64xf32>) {
  // expected-error @below {{score region must take (s: f32, b: index, h: index, q: index, k: index)}}
  %g:3 = attn.sdpa_grad %q, %q, %q, %q, %q score {
  ^bb0(%s: f64, %b: index, %h: index, %i: index, %j: index):
    %t = arith.truncf %s : f64 to f32
    attn.yield %t : f32
  } : tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>, tensor<2x4x128x64xf32>
  return
}

// -----

// A batch-norm layer without feed-forward sublayer has two buffers: ln1's
// running mean and variance.
func.func @batch_norm_layer_needs_buffers(%x: tensor<2x16x8xf32>, %a: tensor<8x4xf32>, %b: tensor<8xf32>, %w: tensor<8x8xf32>) {
  // expected-error @below {{expects 2 buffers (its batch norms' running statistics), got 0}}
  %y = attn.layer.ssm %x params(%a, %a, %a, %a, %a, %a, %b, %b, %w, %b, %b, %b) {feed_forward = false, norm = #attn<norm_kind batch>} : tensor<2x16x8xf32>, params(tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
  return
}

// -----

// Running statistics are f32 whatever the layer computes in.
func.func @batch_norm_layer_buffers_f32(%x: tensor<2x16x8xbf16>, %a: tensor<8x4xbf16>, %b: tensor<8xbf16>, %w: tensor<8x8xbf16>) {
  // expected-error @below {{buffer #0 (ln1.running_mean) has type 'tensor<8xbf16>', expected f32 of shape [8]}}
  %y:3 = attn.layer.ssm %x params(%a, %a, %a, %a, %a, %a, %b, %b, %w, %b, %b, %b) buffers(%b, %b) {feed_forward = false, norm = #attn<norm_kind batch>} : tensor<2x16x8xbf16>, params(tensor<8x4xbf16>, tensor<8x4xbf16>, tensor<8x4xbf16>, tensor<8x4xbf16>, tensor<8x4xbf16>, tensor<8x4xbf16>, tensor<8xbf16>, tensor<8xbf16>, tensor<8x8xbf16>, tensor<8xbf16>, tensor<8xbf16>, tensor<8xbf16>) buffers(tensor<8xbf16>, tensor<8xbf16>) -> tensor<8xbf16>, tensor<8xbf16>
  return
}

// -----

// A layer-norm layer has no buffers.
func.func @layer_norm_layer_has_no_buffers(%x: tensor<2x16x8xf32>, %a: tensor<8x4xf32>, %b: tensor<8xf32>, %w: tensor<8x8xf32>) {
  // expected-error @below {{expects 0 buffers, got 1}}
  %y:2 = attn.layer.ssm %x params(%a, %a, %a, %a, %a, %a, %b, %b, %w, %b, %b, %b) buffers(%b) {feed_forward = false} : tensor<2x16x8xf32>, params(tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) buffers(tensor<8xf32>) -> tensor<8xf32>
  return
}

// -----

// The updated buffers have the buffers' types.
func.func @batch_norm_layer_updated_types(%x: tensor<2x16x8xf32>, %a: tensor<8x4xf32>, %b: tensor<8xf32>, %w: tensor<8x8xf32>) {
  // expected-error @below {{the updated buffers' types must be the buffers'}}
  %y:3 = attn.layer.ssm %x params(%a, %a, %a, %a, %a, %a, %b, %b, %w, %b, %b, %b) buffers(%b, %b) {feed_forward = false, norm = #attn<norm_kind batch>} : tensor<2x16x8xf32>, params(tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) buffers(tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>, tensor<4xf32>
  return
}

// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @f(%q: memref<?x32xf32>, %k: memref<?x16xf32>, %m: memref<?xf32>, %acc: memref<?x32xf32>, %i: index) {
  // expected-error @below {{query head dim (32) and key head dim (16) differ}}
  attn.tile.softmax_step %q, %k, %q into %m, %m, %acc offsets(%i, %i) scale 1.0 : memref<?x32xf32>, memref<?x16xf32>, memref<?x32xf32>, memref<?xf32>, memref<?x32xf32>
  return
}

// -----

func.func @f(%q: memref<?x32xf32>, %m: memref<?xf32>, %acc: memref<?x32xf16>, %i: index) {
  // expected-error @below {{acc must hold f32}}
  attn.tile.softmax_step %q, %q, %q into %m, %m, %acc offsets(%i, %i) scale 1.0 : memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?xf32>, memref<?x32xf16>
  return
}

// -----

func.func @f(%q: memref<?x32xf32>, %m: memref<?xf32>, %acc: memref<?x32xf32>, %i: index) {
  // expected-error @below {{predicate region must take (q: index, k: index)}}
  attn.tile.softmax_step %q, %q, %q into %m, %m, %acc offsets(%i, %i) scale 1.0 where {
  ^bb0(%a: index):
    %t = arith.constant true
    attn.yield %t : i1
  } : memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?xf32>, memref<?x32xf32>
  return
}

// -----

func.func @f(%q: memref<?x32xf32>, %m: memref<?xf32>, %acc: memref<?x32xf32>, %i: index) {
  // expected-error @below {{predicate region must end with 'attn.yield' of an i1}}
  attn.tile.softmax_step %q, %q, %q into %m, %m, %acc offsets(%i, %i) scale 1.0 where {
  ^bb0(%a: index, %b: index):
    attn.yield %a : index
  } : memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?xf32>, memref<?x32xf32>
  return
}

// -----

func.func @f(%m: memref<4xf32>, %acc: memref<8x32xf32>) {
  // expected-error @below {{sum rows (4) and acc rows (8) differ}}
  attn.tile.softmax_finalize %m, %acc into %acc : memref<4xf32>, memref<8x32xf32>, memref<8x32xf32>
  return
}

// -----

func.func @f(%k: memref<?x32xf32>, %s: memref<16x32xf32>, %z: memref<16xf32>) {
  %f = attn.feature_map.relu
  // expected-error @below {{head dim (32) and state rows (16) differ}}
  attn.tile.linear_state %k, %k feature_map %f into %s, %z : memref<?x32xf32>, memref<?x32xf32>, memref<16x32xf32>, memref<16xf32>
  return
}

// -----

func.func @f(%q: memref<?x32xf32>, %s: memref<32x32xf32>, %z: memref<32xf32>) {
  %f = attn.feature_map.relu
  // expected-error @below {{the causal form needs key, value and diagonal}}
  "attn.tile.linear_output"(%q, %q, %f, %s, %z, %q) {operandSegmentSizes = array<i32: 1, 1, 0, 0, 1, 0, 1, 1, 1>} : (memref<?x32xf32>, memref<?x32xf32>, !attn.feature_map, memref<32x32xf32>, memref<32xf32>, memref<?x32xf32>) -> ()
  return
}

// -----

func.func @f(%k: memref<?x32xf32>, %p: memref<4x16x32xf32>, %z: memref<3x16xf32>) {
  %f = attn.feature_map.relu
  // expected-error @below {{prefix chunks (4) and prefix_norm chunks (3) differ}}
  attn.tile.linear_prefix %k, %k feature_map %f every 64 into %p, %z : memref<?x32xf32>, memref<?x32xf32>, memref<4x16x32xf32>, memref<3x16xf32>
  return
}

// -----

func.func @f(%k: memref<?x32xf32>, %p: memref<4x32x32xbf16>, %z: memref<4x32xf32>) {
  %f = attn.feature_map.relu
  // expected-error @below {{prefix must hold f32}}
  attn.tile.linear_prefix %k, %k feature_map %f every 64 into %p, %z : memref<?x32xf32>, memref<?x32xf32>, memref<4x32x32xbf16>, memref<4x32xf32>
  return
}

// -----

func.func @f(%q: memref<?x32xbf16>, %s: memref<32x32xf16>, %z: memref<32xf32>) {
  %f = attn.feature_map.relu
  // expected-error @below {{state must hold f32}}
  attn.tile.linear_output %q feature_map %f from %s, %z into %q : memref<?x32xbf16>, memref<32x32xf16>, memref<32xf32>, memref<?x32xbf16>
  return
}

// -----

func.func @f(%k: memref<?x32xf32>, %p: memref<4x32x32xf32>, %z: memref<4x32xf32>) {
  %f = attn.feature_map.relu
  // expected-error @below {{'attn.tile.linear_prefix' op attribute 'chunk' failed to satisfy constraint}}
  attn.tile.linear_prefix %k, %k feature_map %f every 0 into %p, %z : memref<?x32xf32>, memref<?x32xf32>, memref<4x32x32xf32>, memref<4x32xf32>
  return
}

// -----

func.func @f(%u: memref<10x4xf32>, %a: memref<3x8xf32>) {
  // expected-error @below {{input channels (4) and coefficient rows (3) differ}}
  attn.tile.ssm_scan %u A(%a, %a) W(%a, %a) into %u : memref<10x4xf32> : memref<10x4xf32>, memref<3x8xf32>
  return
}

// -----

func.func @f(%u: memref<10x4xf32>, %a: memref<4x8xf32>) {
  // expected-error @below {{writes nothing: needs `into` an output, a `state`, or both}}
  attn.tile.ssm_scan %u A(%a, %a) W(%a, %a) : memref<10x4xf32>, memref<4x8xf32>
  return
}

// -----

func.func @f(%u: memref<10x4xf32>, %a: memref<4x8xf32>) {
  // expected-error @below {{accumulates into an output it does not have}}
  attn.tile.ssm_scan %u A(%a, %a) W(%a, %a) state(%a, %a : memref<4x8xf32>, memref<4x8xf32>) accumulate : memref<10x4xf32>, memref<4x8xf32>
  return
}

// -----

func.func @f(%u: memref<10x4xf32>, %a: memref<4x8xf32>, %s: memref<4x6xf32>) {
  // expected-error @below {{initial state modes (6) and coefficient modes (8) differ}}
  attn.tile.ssm_scan %u A(%a, %a) W(%a, %a) from(%s, %s : memref<4x6xf32>, memref<4x6xf32>) into %u : memref<10x4xf32> : memref<10x4xf32>, memref<4x8xf32>
  return
}

// -----

func.func @f(%s: memref<3x5x8xf32>, %a: memref<4x8xf32>) {
  // expected-error @below {{state channels (5) and multiplier rows (4) differ}}
  attn.tile.ssm_carry(%s, %s) by(%a, %a) : memref<3x5x8xf32>, memref<4x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x1x100x32xf32>) -> tensor<1x1x100x32xf32> {
  %m = attn.mask.causal
  // expected-error @below {{schedule's full_offsets must be 3 non-decreasing entries from 0 to 2}}
  %o = attn.sdpa %q, %q, %q mask %m {schedule = #attn.schedule<block_q = 64, block_k = 32, seq_len = 100, full_offsets = [0, 2], full_blocks = [0, 3], partial_offsets = [0, 0, 0], partial_blocks = []>} : tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>, !attn.mask -> tensor<1x1x100x32xf32>
  return %o : tensor<1x1x100x32xf32>
}

// -----

func.func @f(%q: tensor<1x1x100x32xf32>) -> tensor<1x1x100x32xf32> {
  %m = attn.mask.causal
  // expected-error @below {{schedule's partial_blocks must lie in [0, 4)}}
  %o = attn.sdpa %q, %q, %q mask %m {schedule = #attn.schedule<block_q = 64, block_k = 32, seq_len = 100, full_offsets = [0, 0, 0], full_blocks = [], partial_offsets = [0, 1, 1], partial_blocks = [4]>} : tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>, !attn.mask -> tensor<1x1x100x32xf32>
  return %o : tensor<1x1x100x32xf32>
}

// -----

func.func @f(%q: tensor<1x1x100x32xf32>) -> tensor<1x1x100x32xf32> {
  %m = attn.mask.causal
  // expected-error @below {{schedule needs block sizes and a length in [1, 2147483647], got block_q = 0, block_k = 32, seq_len = 100}}
  %o = attn.sdpa %q, %q, %q mask %m {schedule = #attn.schedule<block_q = 0, block_k = 32, seq_len = 100, full_offsets = [0], full_blocks = [], partial_offsets = [0], partial_blocks = []>} : tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>, !attn.mask -> tensor<1x1x100x32xf32>
  return %o : tensor<1x1x100x32xf32>
}

// -----

func.func @f(%u: memref<10x4xf32>, %g: memref<9x4xf32>, %a: memref<4x8xf32>) {
  // expected-error @below {{input length (10) and gradient length (9) differ}}
  attn.tile.ssm_adjoint %u, %g A(%a, %a) into(%a, %a, %a, %a) : memref<10x4xf32>, memref<9x4xf32>, memref<4x8xf32>
  return
}

// -----

func.func @f(%u: memref<10x4xf32>, %a: memref<3x8xf32>) {
  // expected-error @below {{input channels (4) and coefficient rows (3) differ}}
  attn.tile.ssm_adjoint %u, %u A(%a, %a) into(%a, %a, %a, %a) : memref<10x4xf32>, memref<10x4xf32>, memref<3x8xf32>
  return
}

// -----

func.func @f(%q: memref<?x32xf32>, %m: memref<?xf32>, %acc: memref<?x32xf32>, %i: index) {
  // expected-error @below {{accumulates query_grad (the query form), key_grad and value_grad (the key form), or all three (the fused form)}}
  attn.tile.softmax_grad_step %q, %q, %q, %q, %m, %m offsets(%i, %i) scale 1.0 : memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?xf32>, memref<?xf32>
  return
}

// -----

func.func @f(%q: memref<?x32xbf16>, %m: memref<?xf32>, %acc: memref<?x32xbf16>, %i: index) {
  // expected-error @below {{query_grad must hold f32}}
  attn.tile.softmax_grad_step %q, %q, %q, %q, %m, %m query_grad %acc : memref<?x32xbf16> offsets(%i, %i) scale 1.0 : memref<?x32xbf16>, memref<?x32xbf16>, memref<?x32xbf16>, memref<?x32xbf16>, memref<?xf32>, memref<?xf32>
  return
}

// -----

func.func @f(%q: memref<8x32xf32>, %m: memref<4xf32>, %acc: memref<8x32xf32>, %i: index) {
  // expected-error @below {{query rows (8) and lse rows (4) differ}}
  attn.tile.softmax_grad_step %q, %q, %q, %q, %m, %m query_grad %acc : memref<8x32xf32> offsets(%i, %i) scale 1.0 : memref<8x32xf32>, memref<8x32xf32>, memref<8x32xf32>, memref<8x32xf32>, memref<4xf32>, memref<4xf32>
  return
}

// -----

func.func @f(%q: memref<?x32xf32>, %m: memref<?xf32>, %acc: memref<?x32xf32>, %i: index) {
  // expected-error @below {{predicate region must end with 'attn.yield' of an i1}}
  attn.tile.softmax_grad_step %q, %q, %q, %q, %m, %m key_grad %acc, %acc : memref<?x32xf32>, memref<?x32xf32> offsets(%i, %i) scale 1.0 where {
  ^bb0(%a: index, %b: index):
    attn.yield %a : index
  } : memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?xf32>, memref<?xf32>
  return
}

// -----

func.func @score_arguments(%q: memref<?x32xf32>, %m: memref<?xf32>, %acc: memref<?x32xf32>, %i: index) {
  // expected-error @below {{score region must take (s: f32, q: index, k: index)}}
  attn.tile.softmax_step %q, %q, %q into %m, %m, %acc offsets(%i, %i) scale 1.0 score {
  ^bb0(%s: f32, %b: index, %h: index, %qi: index, %ki: index):
    attn.yield %s : f32
  } : memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?xf32>, memref<?x32xf32>
  return
}

// -----

func.func @score_vector(%q: memref<?x32xf32>, %m: memref<?xf32>, %acc: memref<?x32xf32>, %i: index) {
  attn.tile.softmax_grad_step %q, %q, %q, %q, %m, %m query_grad %acc : memref<?x32xf32> offsets(%i, %i) scale 1.0 score {
  ^bb0(%s: f32, %qi: index, %ki: index):
    // expected-error @below {{is not allowed in a score region}}
    %v = vector.broadcast %s : f32 to vector<4xf32>
    %r = vector.extract %v[0] : f32 from vector<4xf32>
    attn.yield %r : f32
  } : memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?xf32>, memref<?xf32>
  return
}

// -----

func.func @f(%k: memref<2x4x100x64xbf16>) -> i64 {
  // expected-error @below {{box has 2 dimensions; the source has 4}}
  %m = attn.buffer.tensor_map %k box [128, 64] swizzle 128 : memref<2x4x100x64xbf16>
  return %m : i64
}

// -----

func.func @f(%k: memref<100x64xbf16>) -> i64 {
  // expected-error @below {{box dimensions must lie in [1, 256], not 512}}
  %m = attn.buffer.tensor_map %k box [512, 64] swizzle 128 : memref<100x64xbf16>
  return %m : i64
}

// -----

func.func @f(%k: memref<100x64xbf16>) -> i64 {
  // expected-error @below {{swizzle must be 0, 32, 64 or 128 bytes, not 16}}
  %m = attn.buffer.tensor_map %k box [128, 64] swizzle 16 : memref<100x64xbf16>
  return %m : i64
}

// -----

func.func @f(%k: memref<100x64xbf16>) -> i64 {
  // expected-error @below {{the box's rows (6 bytes) must be whole 16-byte chunks}}
  %m = attn.buffer.tensor_map %k box [128, 3] swizzle 0 : memref<100x64xbf16>
  return %m : i64
}

// -----

func.func @f(%k: memref<100x128xbf16>) -> i64 {
  // expected-error @below {{the box's rows (256 bytes) exceed the swizzle's span (128 bytes)}}
  %m = attn.buffer.tensor_map %k box [128, 128] swizzle 128 : memref<100x128xbf16>
  return %m : i64
}

// -----

func.func @f(%k: memref<100x64xf32>) -> i64 {
  // expected-error @below {{operand #0 must be}}
  %m = attn.buffer.tensor_map %k box [128, 32] swizzle 128 : memref<100x64xf32>
  return %m : i64
}

// -----

func.func @query_grad_projection(%q: memref<?x32xf32>, %s: memref<16x32xf32>, %z: memref<16xf32>, %c: memref<?xf32>) {
  %f = attn.feature_map.favor features 16 seed 1
  // expected-error @below {{takes elementwise feature maps, not one with a projection}}
  attn.tile.linear_query_grad %q, %q, %q feature_map %f from %s, %z into %q, %q, %c : memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<16x32xf32>, memref<16xf32>, memref<?x32xf32>, memref<?x32xf32>, memref<?xf32>
  return
}

// -----

func.func @query_grad_norm_weights(%q: memref<8x32xf32>, %s: memref<32x32xf32>, %z: memref<32xf32>, %c: memref<16xf32>) {
  %f = attn.feature_map.relu
  // expected-error @below {{query rows (8) and norm_weights size (16) differ}}
  attn.tile.linear_query_grad %q, %q, %q feature_map %f from %s, %z into %q, %q, %c : memref<8x32xf32>, memref<8x32xf32>, memref<8x32xf32>, memref<32x32xf32>, memref<32xf32>, memref<8x32xf32>, memref<8x32xf32>, memref<16xf32>
  return
}

// -----

func.func @state_weights_size(%k: memref<8x32xf32>, %w: memref<16xf32>, %s: memref<32x32xf32>, %z: memref<32xf32>) {
  %f = attn.feature_map.relu
  // expected-error @below {{key rows (8) and weights size (16) differ}}
  attn.tile.linear_state %k, %k weights %w : memref<16xf32> feature_map %f into %s, %z : memref<8x32xf32>, memref<8x32xf32>, memref<32x32xf32>, memref<32xf32>
  return
}

// -----

func.func @state_weights_type(%k: memref<8x32xf32>, %w: memref<8xf64>, %s: memref<32x32xf32>, %z: memref<32xf32>) {
  %f = attn.feature_map.relu
  // expected-error @below {{weights must hold f32}}
  attn.tile.linear_state %k, %k weights %w : memref<8xf64> feature_map %f into %s, %z : memref<8x32xf32>, memref<8x32xf32>, memref<32x32xf32>, memref<32xf32>
  return
}

// -----

func.func @query_grad_types(%q: memref<?x32xf32>, %o: memref<?x32xbf16>, %s: memref<32x32xf32>, %z: memref<32xf32>, %c: memref<?xf32>) {
  %f = attn.feature_map.relu
  // expected-error @below {{needs one element type for query, output, output_grad, query_grad and scaled_grad}}
  attn.tile.linear_query_grad %q, %o, %o feature_map %f from %s, %z into %q, %o, %c : memref<?x32xf32>, memref<?x32xbf16>, memref<?x32xbf16>, memref<32x32xf32>, memref<32xf32>, memref<?x32xf32>, memref<?x32xbf16>, memref<?xf32>
  return
}

// -----

func.func @key_grad_columns(%k: memref<?x32xf32>, %v: memref<?x16xf32>, %s: memref<32x32xf32>, %z: memref<32xf32>) {
  %f = attn.feature_map.relu
  // expected-error @below {{state_grad columns (32) and value columns (16) differ}}
  attn.tile.linear_key_grad %k, %v feature_map %f from %s, %z into %k, %v : memref<?x32xf32>, memref<?x16xf32>, memref<32x32xf32>, memref<32xf32>, memref<?x32xf32>, memref<?x16xf32>
  return
}

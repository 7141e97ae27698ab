// RUN: attn-opt %s -split-input-file -verify-diagnostics

// Bad input that once compiled to wrong results, crashed or blew up: limits
// and checks in the verifiers, each naming the op, the parameter and the
// limit. One split per case.

// Mask parameters whose products would overflow int64 (#23).
func.func @global_block_overflows() {
  // expected-error @below {{block size must be at most 2147483647 (2^31 - 1), got 4611686018427387904}}
  %m = attn.mask.global first 2 block 4611686018427387904
  return
}

// -----

func.func @global_last_overflows() {
  // expected-error @below {{last must be at most 2147483647 (2^31 - 1), got 4611686018427387904}}
  %m = attn.mask.global last 4611686018427387904 block 64
  return
}

// -----

func.func @dilated_radius_overflows() {
  // expected-error @below {{radius must be at most 2147483647 (2^31 - 1), got 4611686018427387904}}
  %m = attn.mask.dilated_window radius 4611686018427387904 dilation 2
  return
}

// -----

func.func @chunk_overflows() {
  // expected-error @below {{chunk size must be at most 2147483647 (2^31 - 1), got 2147483648}}
  %m = attn.mask.chunk size 2147483648
  return
}

// -----

// Mask ops whose operands form a cycle (an operand defined later) are
// rejected by the op verifier, which dominance checking follows only
// afterwards: walking them never ended (#23, found by the ir fuzzer).
func.func @mask_cycle() {
  %u0 = attn.mask.causal
  // expected-error @below {{its mask operands form a cycle}}
  %u1 = attn.mask.union %u2, %u0 : !attn.mask, !attn.mask
  %u2 = attn.mask.union %u1, %u0 : !attn.mask, !attn.mask
  return
}

// -----

// A mask that shares sub-masks along exponentially many paths is
// rejected before anything walks it.
func.func @shared_sub_masks() {
  %u0 = attn.mask.causal
  %u1 = attn.mask.union %u0, %u0 : !attn.mask, !attn.mask
  %u2 = attn.mask.union %u1, %u1 : !attn.mask, !attn.mask
  %u3 = attn.mask.union %u2, %u2 : !attn.mask, !attn.mask
  %u4 = attn.mask.union %u3, %u3 : !attn.mask, !attn.mask
  %u5 = attn.mask.union %u4, %u4 : !attn.mask, !attn.mask
  %u6 = attn.mask.union %u5, %u5 : !attn.mask, !attn.mask
  %u7 = attn.mask.union %u6, %u6 : !attn.mask, !attn.mask
  %u8 = attn.mask.union %u7, %u7 : !attn.mask, !attn.mask
  %u9 = attn.mask.union %u8, %u8 : !attn.mask, !attn.mask
  %u10 = attn.mask.union %u9, %u9 : !attn.mask, !attn.mask
  %u11 = attn.mask.union %u10, %u10 : !attn.mask, !attn.mask
  // expected-error @below {{unfolds to more than 4096 mask ops}}
  %u12 = attn.mask.union %u11, %u11 : !attn.mask, !attn.mask
  return
}

// -----

// The classifier evaluates in 64-bit slots.
func.func @expr_wider_than_64_bits() {
  %m = attn.mask.expr {
  ^bb0(%i: index, %j: index, %n: index):
    // expected-error @below {{computes with 'i128'; an attn.mask.expr region takes integers of at most 64 bits and index}}
    %a = arith.constant 18446744073709551616 : i128
    %z = arith.constant 0 : i128
    %c = arith.cmpi eq, %a, %z : i128
    attn.yield %c : i1
  }
  return
}

// -----

// Schedules written in the input are checked against their op.
func.func @schedule_without_mask(%q: tensor<1x1x100x32xf32>) -> tensor<1x1x100x32xf32> {
  // expected-error @below {{has a schedule but no mask}}
  %o = attn.sdpa %q, %q, %q {schedule = #attn.schedule<block_q = 64, block_k = 64, seq_len = 100, full_offsets = [0, 2, 4], full_blocks = [0, 1, 0, 1], partial_offsets = [0, 0, 0], partial_blocks = []>} : tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32> -> tensor<1x1x100x32xf32>
  return %o : tensor<1x1x100x32xf32>
}

// -----

func.func @schedule_for_another_length(%q: tensor<1x1x100x32xf32>) -> tensor<1x1x100x32xf32> {
  %m = attn.mask.causal
  // expected-error @below {{its schedule is for sequences of 128, the query's length is 100}}
  %o = attn.sdpa %q, %q, %q mask %m {schedule = #attn.schedule<block_q = 64, block_k = 64, seq_len = 128, full_offsets = [0, 0, 1], full_blocks = [0], partial_offsets = [0, 1, 2], partial_blocks = [0, 1]>} : tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>, !attn.mask -> tensor<1x1x100x32xf32>
  return %o : tensor<1x1x100x32xf32>
}

// -----

func.func @schedule_lists_a_tile_twice(%q: tensor<1x1x100x32xf32>) -> tensor<1x1x100x32xf32> {
  %m = attn.mask.causal
  // expected-error @below {{schedule's query tile 1 lists its key tiles out of order or twice}}
  %o = attn.sdpa %q, %q, %q mask %m {schedule = #attn.schedule<block_q = 64, block_k = 64, seq_len = 100, full_offsets = [0, 0, 2], full_blocks = [0, 0], partial_offsets = [0, 1, 2], partial_blocks = [0, 1]>} : tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>, !attn.mask -> tensor<1x1x100x32xf32>
  return %o : tensor<1x1x100x32xf32>
}

// -----

func.func @schedule_full_and_partial(%q: tensor<1x1x100x32xf32>) -> tensor<1x1x100x32xf32> {
  %m = attn.mask.causal
  // expected-error @below {{schedule's query tile 0 lists key tile 0 as both full and partial}}
  %o = attn.sdpa %q, %q, %q mask %m {schedule = #attn.schedule<block_q = 64, block_k = 64, seq_len = 100, full_offsets = [0, 1, 2], full_blocks = [0, 0], partial_offsets = [0, 1, 2], partial_blocks = [0, 1]>} : tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>, !attn.mask -> tensor<1x1x100x32xf32>
  return %o : tensor<1x1x100x32xf32>
}

// -----

func.func @schedule_length_overflows(%q: tensor<1x1x100x32xf32>) -> tensor<1x1x100x32xf32> {
  %m = attn.mask.causal
  // expected-error @below {{schedule needs block sizes and a length in [1, 2147483647], got block_q = 64, block_k = 64, seq_len = 4611686018427387904}}
  %o = attn.sdpa %q, %q, %q mask %m {schedule = #attn.schedule<block_q = 64, block_k = 64, seq_len = 4611686018427387904, full_offsets = [], full_blocks = [], partial_offsets = [], partial_blocks = []>} : tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>, tensor<1x1x100x32xf32>, !attn.mask -> tensor<1x1x100x32xf32>
  return %o : tensor<1x1x100x32xf32>
}

// -----

// Sizes that lowerings would unroll or divide by.
func.func @head_dim_too_large(%q: tensor<1x1x8x2048xf32>) -> tensor<1x1x8x2048xf32> {
  // expected-error @below {{query/key head dim must be at most 1024, got 2048}}
  %o = attn.sdpa %q, %q, %q : tensor<1x1x8x2048xf32>, tensor<1x1x8x2048xf32>, tensor<1x1x8x2048xf32> -> tensor<1x1x8x2048xf32>
  return %o : tensor<1x1x8x2048xf32>
}

// -----

func.func @favor_features_too_many() {
  // expected-error @below {{number of features must be at most 65536, got 1099511627776}}
  %f = attn.feature_map.favor features 1099511627776 seed 0
  return
}

// -----

func.func @ssm_without_channels(%x: tensor<2x128x0xf32>, %a: tensor<0x32xf32>, %dt: tensor<0xf32>) {
  // expected-error @below {{needs a non-empty channels}}
  %s = attn.ssm %x A(%a, %a) B(%a, %a) C(%a, %a) log_dt(%dt) : tensor<2x128x0xf32>, tensor<0x32xf32>, tensor<0x32xf32>, tensor<0xf32>
  return
}

// -----

func.func @ssm_state_too_large(%x: tensor<2x128x4xf32>, %a: tensor<4x4096xf32>, %dt: tensor<4xf32>) {
  // expected-error @below {{state size must be at most 1024, got 4096}}
  %s = attn.ssm %x A(%a, %a) B(%a, %a) C(%a, %a) log_dt(%dt) : tensor<2x128x4xf32>, tensor<4x4096xf32>, tensor<4x4096xf32>, tensor<4xf32>
  return
}

// -----

func.func @layer_norm_infinite_epsilon(%x: tensor<2x8x16xf32>, %g: tensor<16xf32>) {
  // expected-error @below {{epsilon must be positive and finite, got INF}}
  %n = attn.layer_norm %x, %g, %g epsilon 0x7FF0000000000000 : tensor<2x8x16xf32>, tensor<16xf32>
  return
}

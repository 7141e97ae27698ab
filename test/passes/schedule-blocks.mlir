// RUN: attn-opt %s --attn-schedule-blocks --split-input-file -verify-diagnostics | FileCheck %s
// RUN: attn-opt %s --attn-schedule-blocks="block-q=128 block-k=32" --split-input-file -verify-diagnostics | FileCheck %s --check-prefix=SMALLK
// RUN: attn-opt %s --attn-schedule-blocks="grad-block-q=32 grad-block-k=16" --split-input-file -verify-diagnostics | FileCheck %s --check-prefix=GRAD

// BigBird's window and global blocks over 400 tokens (7 blocks of 64, the
// last one short): global rows 0 and 6 see everything; row i sees its
// window i-1..i+1 and the global columns 0 and 6. Only those tiles are
// listed; with tiles of the mask's block size all are full.
// CHECK-LABEL: func.func @bigbird
// CHECK: attn.sdpa {{.*}} {schedule = #attn.schedule<block_q = 64, block_k = 64, seq_len = 400,
// CHECK-SAME: full_offsets = [0, 7, 11, 16, 21, 26, 30, 37],
// CHECK-SAME: full_blocks = [0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 6, 0, 1, 2, 3, 6, 0, 2, 3, 4, 6, 0, 3, 4, 5, 6, 0, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6],
// CHECK-SAME: partial_offsets = [0, 0, 0, 0, 0, 0, 0, 0], partial_blocks = []>}
// Tiles of 128 queries span two mask blocks: some become partial.
// SMALLK-LABEL: func.func @bigbird
// SMALLK: #attn.schedule<block_q = 128, block_k = 32, seq_len = 400,
// SMALLK-SAME: full_offsets = [0, 7, 14, 21, 34],
// SMALLK-SAME: partial_offsets = [0, 6, 10, 12, 12], partial_blocks = [6, 7, 8, 9, 10, 11, 2, 3, 8, 9, 6, 7]>
func.func @bigbird(%q: tensor<1x2x400x32xf32>) -> tensor<1x2x400x32xf32> {
  %w = attn.mask.window radius 1 block 64
  %g = attn.mask.global first 1 last 1 block 64
  %m = attn.mask.union %w, %g : !attn.mask<block = 64>, !attn.mask<block = 64>
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x2x400x32xf32>, tensor<1x2x400x32xf32>, tensor<1x2x400x32xf32>, !attn.mask<block = 64> -> tensor<1x2x400x32xf32>
  return %o : tensor<1x2x400x32xf32>
}

// -----

// Causal: diagonal tiles are partial, tiles below it full, above it absent.
// CHECK-LABEL: func.func @causal
// CHECK: full_offsets = [0, 0, 1, 3], full_blocks = [0, 0, 1], partial_offsets = [0, 1, 2, 3], partial_blocks = [0, 1, 2]
func.func @causal(%q: tensor<1x1x150x32xf32>) -> tensor<1x1x150x32xf32> {
  %m = attn.mask.causal
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x1x150x32xf32>, tensor<1x1x150x32xf32>, tensor<1x1x150x32xf32>, !attn.mask -> tensor<1x1x150x32xf32>
  return %o : tensor<1x1x150x32xf32>
}

// -----

// Key padding is scheduled within its key limit: the tiles are those of the
// static part; kernels clip them per batch entry.
// CHECK-LABEL: func.func @padded
// CHECK: full_offsets = [0, 1, 2], full_blocks = [0, 1], partial_offsets = [0, 0, 0], partial_blocks = []
func.func @padded(%q: tensor<2x1x128x32xf32>, %len: tensor<2xi32>) -> tensor<2x1x128x32xf32> {
  %c = attn.mask.chunk size 64
  %p = attn.mask.key_padding %len : tensor<2xi32>
  %m = attn.mask.intersect %c, %p : !attn.mask, !attn.mask
  %o = attn.sdpa %q, %q, %q mask %m : tensor<2x1x128x32xf32>, tensor<2x1x128x32xf32>, tensor<2x1x128x32xf32>, !attn.mask -> tensor<2x1x128x32xf32>
  return %o : tensor<2x1x128x32xf32>
}

// -----

// The gradient visits the forward's pairs in tiles of its own where
// grad-block-q/k are given, else in the forward's.
// CHECK-LABEL: func.func @forward_and_gradient
// CHECK: attn.sdpa {{.*}}#attn.schedule<block_q = 64, block_k = 64, seq_len = 64,
// CHECK: attn.sdpa_grad {{.*}}#attn.schedule<block_q = 64, block_k = 64, seq_len = 64,
// GRAD-LABEL: func.func @forward_and_gradient
// GRAD: attn.sdpa {{.*}}#attn.schedule<block_q = 64, block_k = 64, seq_len = 64,
// GRAD: attn.sdpa_grad {{.*}}#attn.schedule<block_q = 32, block_k = 16, seq_len = 64,
// GRAD-SAME: full_offsets = [0, 0, 2], full_blocks = [0, 1], partial_offsets = [0, 2, 4], partial_blocks = [0, 1, 2, 3]>
func.func @forward_and_gradient(%q: tensor<1x1x64x32xf32>) -> tensor<1x1x64x32xf32> {
  %m = attn.mask.causal
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x1x64x32xf32>, tensor<1x1x64x32xf32>, tensor<1x1x64x32xf32>, !attn.mask -> tensor<1x1x64x32xf32>
  %g:3 = attn.sdpa_grad %q, %q, %q, %o, %q mask %m : tensor<1x1x64x32xf32>, tensor<1x1x64x32xf32>, tensor<1x1x64x32xf32>, tensor<1x1x64x32xf32>, !attn.mask
  return %g#0 : tensor<1x1x64x32xf32>
}

// -----

// Unmasked attention needs no schedule.
// CHECK-LABEL: func.func @dense
// CHECK-NOT: schedule
func.func @dense(%q: tensor<1x1x64x32xf32>) -> tensor<1x1x64x32xf32> {
  %o = attn.sdpa %q, %q, %q : tensor<1x1x64x32xf32>, tensor<1x1x64x32xf32>, tensor<1x1x64x32xf32> -> tensor<1x1x64x32xf32>
  return %o : tensor<1x1x64x32xf32>
}

// -----

func.func @dynamic(%q: tensor<1x1x?x32xf32>) -> tensor<1x1x?x32xf32> {
  %m = attn.mask.causal
  // expected-error @below {{needs a static sequence length to schedule its mask's tiles}}
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x1x?x32xf32>, tensor<1x1x?x32xf32>, tensor<1x1x?x32xf32>, !attn.mask -> tensor<1x1x?x32xf32>
  return %o : tensor<1x1x?x32xf32>
}

// -----

// A schedule written in the input is derived again at its own block sizes:
// the right one stays as it is (the pass's own block sizes do not matter).
// CHECK-LABEL: func.func @given_schedule
// CHECK: #attn.schedule<block_q = 32, block_k = 32, seq_len = 64, full_offsets = [0, 0, 1], full_blocks = [0], partial_offsets = [0, 1, 2], partial_blocks = [0, 1]>
func.func @given_schedule(%q: tensor<1x1x64x32xf32>) -> tensor<1x1x64x32xf32> {
  %m = attn.mask.causal
  %o = attn.sdpa %q, %q, %q mask %m {schedule = #attn.schedule<block_q = 32, block_k = 32, seq_len = 64, full_offsets = [0, 0, 1], full_blocks = [0], partial_offsets = [0, 1, 2], partial_blocks = [0, 1]>} : tensor<1x1x64x32xf32>, tensor<1x1x64x32xf32>, tensor<1x1x64x32xf32>, !attn.mask -> tensor<1x1x64x32xf32>
  return %o : tensor<1x1x64x32xf32>
}

// -----

// A wrong one (the causal diagonal listed as full: attended without its
// predicate) is an error naming the first tile that differs.
func.func @wrong_schedule(%q: tensor<1x1x64x32xf32>) -> tensor<1x1x64x32xf32> {
  %m = attn.mask.causal
  // expected-error @below {{its schedule disagrees with its mask: tile (0, 0) is listed as full, the mask classifies it partial}}
  %o = attn.sdpa %q, %q, %q mask %m {schedule = #attn.schedule<block_q = 32, block_k = 32, seq_len = 64, full_offsets = [0, 1, 3], full_blocks = [0, 0, 1], partial_offsets = [0, 0, 0], partial_blocks = []>} : tensor<1x1x64x32xf32>, tensor<1x1x64x32xf32>, tensor<1x1x64x32xf32>, !attn.mask -> tensor<1x1x64x32xf32>
  return %o : tensor<1x1x64x32xf32>
}

// -----

// The attn.mask.expr classifier on arith's undefined cases (INT64_MIN / -1,
// division by zero) gives a value, not a trap: every key kept here.
// CHECK-LABEL: func.func @expr_division_overflow
// CHECK: full_offsets = [0, 1], full_blocks = [0], partial_offsets = [0, 0], partial_blocks = []
func.func @expr_division_overflow(%q: tensor<1x1x64x32xf32>) -> tensor<1x1x64x32xf32> {
  %m = attn.mask.expr {
  ^bb0(%i: index, %j: index, %n: index):
    %min = arith.constant -9223372036854775808 : i64
    %m1 = arith.constant -1 : i64
    %z = arith.constant 0 : i64
    %a = arith.divsi %min, %m1 : i64
    %b = arith.remsi %min, %m1 : i64
    %c = arith.floordivsi %min, %m1 : i64
    %d = arith.ceildivsi %min, %m1 : i64
    %e = arith.divsi %min, %z : i64
    %s1 = arith.addi %a, %b : i64
    %s2 = arith.addi %c, %d : i64
    %s3 = arith.addi %s1, %s2 : i64
    %s4 = arith.addi %s3, %e : i64
    %keep = arith.cmpi ne, %s4, %m1 : i64
    attn.yield %keep : i1
  }
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x1x64x32xf32>, tensor<1x1x64x32xf32>, tensor<1x1x64x32xf32>, !attn.mask -> tensor<1x1x64x32xf32>
  return %o : tensor<1x1x64x32xf32>
}

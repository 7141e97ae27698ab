// RUN: attn-faulty-opt %s --attn-schedule-blocks="verify=true" --split-input-file -verify-diagnostics | FileCheck %s
// RUN: attn-faulty-opt %s --attn-schedule-blocks="verify=true verify-pairs=65536" --split-input-file -verify-diagnostics | FileCheck %s
// RUN: attn-faulty-opt %s --attn-schedule-blocks --split-input-file | FileCheck %s --check-prefix=PLAIN

// attn-schedule-blocks=verify checks each schedule against its mask's
// predicate by enumeration. attn.mask.faulty_window (test/support/faulty) is
// a window |q - k| <= radius whose classification, key ranges or predicate
// IR is wrong on purpose; the error names the op at fault, the tile and the
// pair. The second run samples rows (65536 pairs: 256 rows of a 256-token
// sequence are all of them; 16 rows of 4096) and finds the same faults.
// Without verify (the third run) every faulty pattern schedules silently:
// the check is what finds them.

// Patterns that answer right pass, shipped or not.
// CHECK-LABEL: func.func @right_patterns
// CHECK-COUNT-3: schedule = #attn.schedule
func.func @right_patterns(%q: tensor<1x1x256x16xf32>) -> tensor<1x1x256x16xf32> {
  %w = attn.mask.window radius 1 block 64
  %g = attn.mask.global first 1 last 1 block 64
  %r = attn.mask.random_blocks count 2 block 64 seed 7 exclude_global 1 exclude_window 1
  %big = attn.mask.union %w, %g, %r : !attn.mask<block = 64>, !attn.mask<block = 64>, !attn.mask<block = 64>
  %o = attn.sdpa %q, %q, %q mask %big : tensor<1x1x256x16xf32>, tensor<1x1x256x16xf32>, tensor<1x1x256x16xf32>, !attn.mask<block = 64> -> tensor<1x1x256x16xf32>
  %f = attn.mask.faulty_window radius 5 fault "none"
  %o2 = attn.sdpa %o, %o, %o mask %f : tensor<1x1x256x16xf32>, tensor<1x1x256x16xf32>, tensor<1x1x256x16xf32>, !attn.mask -> tensor<1x1x256x16xf32>
  %e = attn.mask.expr {
  ^bb0(%i: index, %j: index, %n: index):
    %d = arith.subi %i, %j : index
    %c7 = arith.constant 7 : index
    %r7 = arith.remsi %d, %c7 : index
    %c0 = arith.constant 0 : index
    %on = arith.cmpi eq, %r7, %c0 : index
    %c100 = arith.constant 100 : index
    %near = arith.cmpi ult, %d, %c100 : index
    %k = arith.andi %on, %near : i1
    attn.yield %k : i1
  }
  %o3 = attn.sdpa %o2, %o2, %o2 mask %e : tensor<1x1x256x16xf32>, tensor<1x1x256x16xf32>, tensor<1x1x256x16xf32>, !attn.mask -> tensor<1x1x256x16xf32>
  return %o3 : tensor<1x1x256x16xf32>
}

// -----

// A tile that the band crosses, called full.
// PLAIN-LABEL: func.func @wrong_class
// PLAIN: schedule = #attn.schedule
func.func @wrong_class(%q: tensor<1x1x256x16xf32>) -> tensor<1x1x256x16xf32> {
  // expected-error @+1 {{'attn.mask.faulty_window' classifies the tile of queries [0, 64) and keys [0, 64) as full, but (q=0, k=3) is dropped (sequence length 256)}}
  %m = attn.mask.faulty_window radius 2 fault "class"
  // expected-note @+1 {{in the schedule of this attention (attn-schedule-blocks=verify)}}
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x1x256x16xf32>, tensor<1x1x256x16xf32>, tensor<1x1x256x16xf32>, !attn.mask -> tensor<1x1x256x16xf32>
  return %o : tensor<1x1x256x16xf32>
}

// -----

// Key ranges that leave out the keys before a query tile: the tile below
// the diagonal is never classified, and dropped although it keeps pairs.
// PLAIN-LABEL: func.func @wrong_key_ranges
// PLAIN: schedule = #attn.schedule
func.func @wrong_key_ranges(%q: tensor<1x1x4096x16xf32>) -> tensor<1x1x4096x16xf32> {
  // expected-error-re @+1 {{'attn.mask.faulty_window' leaves key {{[0-9]+}} out of the keys that queries [{{[0-9]+}}, {{[0-9]+}}) may keep (keyRanges), but (q={{[0-9]+}}, k={{[0-9]+}}) is kept (sequence length 4096)}}
  %m = attn.mask.faulty_window radius 40 fault "ranges"
  // expected-note @+1 {{in the schedule of this attention}}
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x1x4096x16xf32>, tensor<1x1x4096x16xf32>, tensor<1x1x4096x16xf32>, !attn.mask -> tensor<1x1x4096x16xf32>
  return %o : tensor<1x1x4096x16xf32>
}

// -----

// Predicate IR one wider than the definition: partial tiles would keep
// pairs the mask drops.
// PLAIN-LABEL: func.func @wrong_predicate
// PLAIN: schedule = #attn.schedule
func.func @wrong_predicate(%q: tensor<1x1x256x16xf32>) -> tensor<1x1x256x16xf32> {
  // expected-error @+1 {{'attn.mask.faulty_window' builds a predicate that keeps (q=0, k=3), which its definition (evaluate) drops (sequence length 256)}}
  %m = attn.mask.faulty_window radius 2 fault "predicate"
  // expected-note @+1 {{in the schedule of this attention}}
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x1x256x16xf32>, tensor<1x1x256x16xf32>, tensor<1x1x256x16xf32>, !attn.mask -> tensor<1x1x256x16xf32>
  return %o : tensor<1x1x256x16xf32>
}

// -----

// Under a combinator the operand at fault is named, not the union.
func.func @wrong_operand(%q: tensor<1x1x256x16xf32>) -> tensor<1x1x256x16xf32> {
  %g = attn.mask.global first 1
  // expected-error @+1 {{'attn.mask.faulty_window' classifies the tile of queries [0, 64) and keys [0, 64) as full, but (q=0, k=3) is dropped}}
  %w = attn.mask.faulty_window radius 2 fault "class"
  %m = attn.mask.union %g, %w : !attn.mask, !attn.mask
  // expected-note @+1 {{in the schedule of this attention}}
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x1x256x16xf32>, tensor<1x1x256x16xf32>, tensor<1x1x256x16xf32>, !attn.mask -> tensor<1x1x256x16xf32>
  return %o : tensor<1x1x256x16xf32>
}

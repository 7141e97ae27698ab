// RUN: attn-opt %s --canonicalize --split-input-file | FileCheck %s

// attn.cast folds away where it changes nothing: to its own type, and a
// narrowing that undoes a widening (exact, so the value it started from).

// CHECK-LABEL: func.func @same_type
// CHECK-NOT: attn.cast
// CHECK: return %arg0
func.func @same_type(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = attn.cast %x : tensor<4xf32> to tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// CHECK-LABEL: func.func @widened_then_narrowed
// CHECK-NOT: attn.cast
// CHECK: return %arg0
func.func @widened_then_narrowed(%x: tensor<4xbf16>) -> tensor<4xbf16> {
  %w = attn.cast %x : tensor<4xbf16> to tensor<4xf32>
  %n = attn.cast %w : tensor<4xf32> to tensor<4xbf16>
  return %n : tensor<4xbf16>
}

// -----

// Rounding first loses bits: the pair stays.
// CHECK-LABEL: func.func @narrowed_then_widened
// CHECK: %[[N:.*]] = attn.cast %arg0 : tensor<4xf32> to tensor<4xbf16>
// CHECK: %[[W:.*]] = attn.cast %[[N]] : tensor<4xbf16> to tensor<4xf32>
// CHECK: return %[[W]]
func.func @narrowed_then_widened(%x: tensor<4xf32>) -> tensor<4xf32> {
  %n = attn.cast %x : tensor<4xf32> to tensor<4xbf16>
  %w = attn.cast %n : tensor<4xbf16> to tensor<4xf32>
  return %w : tensor<4xf32>
}

// The checked-in example parses and verifies, and is exactly what its spec
// imports to (so the two never drift apart).
// RUN: attn-opt %examples/spade-mini.mlir -o /dev/null
// RUN: attn-import %examples/spade-mini.json -o %t && diff %t %examples/spade-mini.mlir
// RUN: attn-opt %examples/spade-mini.mlir | FileCheck %s

// CHECK: func.func @forward(%{{.*}}: tensor<24x2048xi32> {attn.input = "ids"}
// CHECK: attn.embedding
// CHECK: attn.add_positions
// The S4D global layer at the bottom, block-window attention above.
// CHECK: attn.layer.spade {{.*}}{bidirectional, heads = 4 : i64, local = #attn<local_kind chunk>, local_size = 128 : i64} : tensor<24x2048x256xf32>, lengths tensor<24xi32>, params(tensor<256x32xf32>, tensor<256x32xf32>, tensor<256x32xf32>, tensor<256x32xf32>, tensor<2x256x32xf32>, tensor<2x256x32xf32>
// CHECK-COUNT-3: attn.layer.window {{.*}}{block = 64 : i64, heads = 4 : i64, radius = 1 : i64}

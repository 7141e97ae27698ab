// The checked-in example parses and verifies, and is exactly what its spec
// imports to (so the two never drift apart).
// RUN: attn-opt %examples/hybrid-bert-mini.mlir -o /dev/null
// RUN: attn-import %examples/hybrid-bert-mini.json -o %t && diff %t %examples/hybrid-bert-mini.mlir
// RUN: attn-opt %examples/hybrid-bert-mini.mlir | FileCheck %s

// CHECK: func.func @forward(%{{.*}}: tensor<24x2048xi32> {attn.input = "ids"}
// CHECK: attn.embedding
// CHECK: attn.add_positions
// BigBird, linear, BigBird, linear.
// CHECK: attn.layer.bigbird
// CHECK: attn.layer.linear
// CHECK: attn.layer.bigbird {{.*}}seed_blocks = 2
// CHECK: attn.layer.linear

// The checked-in example parses and verifies, and is exactly what its spec
// imports to (so the two never drift apart).
// RUN: attn-opt %examples/bigbird-mini.mlir -o /dev/null
// RUN: attn-import %examples/bigbird-mini.json -o %t && diff %t %examples/bigbird-mini.mlir
// RUN: attn-opt %examples/bigbird-mini.mlir | FileCheck %s

// CHECK: func.func @forward(%{{.*}}: tensor<24x2048xi32> {attn.input = "ids"}
// CHECK: attn.embedding
// CHECK: attn.add_positions
// CHECK: attn.layer.bigbird {{.*}}{block = 64 : i64, heads = 4 : i64, random = 4 : i64}
// CHECK: attn.layer.bigbird {{.*}}{block = 64 : i64, heads = 4 : i64, random = 4 : i64, seed_blocks = 1 : i64}

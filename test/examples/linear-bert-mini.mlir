// The checked-in example parses and verifies, and is exactly what its spec
// imports to (so the two never drift apart).
// RUN: attn-opt %examples/linear-bert-mini.mlir -o /dev/null
// RUN: attn-import %examples/linear-bert-mini.json -o %t && diff %t %examples/linear-bert-mini.mlir
// RUN: attn-opt %examples/linear-bert-mini.mlir | FileCheck %s

// CHECK: func.func @forward(%{{.*}}: tensor<24x2048xi32> {attn.input = "ids"}
// CHECK: attn.embedding
// CHECK: attn.add_positions
// CHECK-COUNT-4: attn.layer.linear {{.*}}{heads = 4 : i64}

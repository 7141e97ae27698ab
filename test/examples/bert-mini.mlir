// The checked-in example parses and verifies, and is exactly what its spec
// imports to (so the two never drift apart).
// RUN: attn-opt %examples/bert-mini.mlir -o /dev/null
// RUN: attn-import %examples/bert-mini.json -o %t && diff %t %examples/bert-mini.mlir
// RUN: attn-opt %examples/bert-mini.mlir | FileCheck %s

// CHECK: func.func @forward(%{{.*}}: tensor<24x2048xi32> {attn.input = "ids"}
// CHECK: attn.embedding
// CHECK: attn.add_positions
// CHECK-COUNT-4: attn.layer.full {{.*}}{heads = 4 : i64}
// CHECK: attn.pool cls
// CHECK: attn.cross_entropy
// CHECK: return %{{.*}}, %{{.*}} : tensor<f32>, tensor<24x10xf32>

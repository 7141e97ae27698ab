// RUN: attn-opt %s --split-input-file --attn-approximate-math | FileCheck %s --check-prefix=MATH
// RUN: attn-opt %s --split-input-file --attn-expand-memref-copies | FileCheck %s --check-prefix=COPY
// RUN: attn-opt %s --split-input-file --attn-inline-alloca-scopes | FileCheck %s --check-prefix=SCOPE
// RUN: attn-opt %s --split-input-file --attn-strip-dropout | FileCheck %s --check-prefix=DROP

// MATH-LABEL: func.func @exp
// MATH-NOT: math.exp
// MATH: arith.fptosi
// MATH: arith.shli
func.func @exp(%x: vector<16xf32>) -> vector<16xf32> {
  %y = math.exp %x : vector<16xf32>
  return %y : vector<16xf32>
}

// -----

// COPY-LABEL: func.func @copy
// COPY-NOT: memref.copy
// COPY: linalg.copy ins(%{{.*}} : memref<4x4xf32, strided<[8, 1]>>) outs(%{{.*}} : memref<4x4xf32>)
func.func @copy(%a: memref<4x4xf32, strided<[8, 1]>>, %b: memref<4x4xf32>) {
  memref.copy %a, %b : memref<4x4xf32, strided<[8, 1]>> to memref<4x4xf32>
  return
}

// -----

// SCOPE-LABEL: func.func @scope
// SCOPE-NOT: memref.alloca_scope
// SCOPE: %[[S:.*]] = llvm.intr.stacksave : !llvm.ptr
// SCOPE: memref.alloca
// SCOPE: llvm.intr.stackrestore %[[S]] : !llvm.ptr
func.func @scope(%n: index) {
  memref.alloca_scope {
    %a = memref.alloca(%n) : memref<?xf32>
    memref.alloca_scope.return
  }
  return
}

// -----

// DROP-LABEL: func.func @dropout
// DROP-NOT: attn.dropout
// DROP: attn.layer.full %{{.*}} seed %{{.*}} params({{.*}}) {dropout = 0.000000e+00 : f64, heads = 2 : i64}
// DROP: return %arg0
func.func @dropout(%x: tensor<2x8x16xf32>, %seed: i64, %w: tensor<16x16xf32>, %b: tensor<16xf32>, %w1: tensor<16x32xf32>, %b1: tensor<32xf32>, %w2: tensor<32x16xf32>) -> (tensor<2x8x16xf32>, tensor<2x8x16xf32>) {
  %y = attn.dropout %x, %seed rate 0.5 : tensor<2x8x16xf32>
  %z = attn.layer.full %y seed %seed params(%w, %b, %w, %b, %w, %b, %w, %b, %b, %b, %w1, %b1, %w2, %b, %b, %b) {heads = 2, dropout = 0.1} : tensor<2x8x16xf32>, params(tensor<16x16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16x32xf32>, tensor<32xf32>, tensor<32x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>)
  return %y, %z : tensor<2x8x16xf32>, tensor<2x8x16xf32>
}

// RUN: attn-opt %s --split-input-file --attn-approximate-math | FileCheck %s --check-prefix=MATH
// RUN: attn-opt %s --split-input-file --attn-expand-memref-copies | FileCheck %s --check-prefix=COPY
// RUN: attn-opt %s --split-input-file --attn-inline-alloca-scopes | FileCheck %s --check-prefix=SCOPE

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

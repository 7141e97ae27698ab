// RUN: attn-opt %s --lower-to-cpu | FileCheck %s
// RUN: attn-opt %s --lower-to-cpu="parallel=false vector-width=8" | FileCheck %s --check-prefix=SERIAL

// From the attention op to LLVM: a bare-pointer C ABI (the result as a
// trailing out-parameter), the tile loops on OpenMP threads, vector FMAs.
// CHECK: llvm.func @attend(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr)
// CHECK: omp.parallel
// CHECK: llvm.intr.fmuladd{{.*}} : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>
// SERIAL: llvm.func @attend(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr)
// SERIAL-NOT: omp.parallel
// SERIAL: vector<8xf32>
func.func @attend(%q: tensor<1x2x100x32xf32>, %len: tensor<1xi32>) -> tensor<1x2x100x32xf32> {
  %w = attn.mask.window radius 10
  %p = attn.mask.key_padding %len : tensor<1xi32>
  %m = attn.mask.intersect %w, %p : !attn.mask, !attn.mask
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32>, !attn.mask -> tensor<1x2x100x32xf32>
  return %o : tensor<1x2x100x32xf32>
}

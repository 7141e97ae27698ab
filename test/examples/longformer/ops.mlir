// RUN: longformer-opt %s | longformer-opt | FileCheck %s
// RUN: not attn-opt %s 2>&1 | FileCheck %s --check-prefix=UNREGISTERED

// The pattern is registered by its extension only: attn-opt, which does not
// link it, does not know it.
// UNREGISTERED: custom op 'attn.mask.longformer' is unknown

// CHECK-LABEL: func.func @longformer
func.func @longformer(%q: tensor<2x4x256x64xf32>, %len: tensor<2xi32>) -> tensor<2x4x256x64xf32> {
  // CHECK: attn.mask.longformer radius 64 dilation 1 globals [0, 17]
  %l = attn.mask.longformer radius 64 dilation 1 globals [0, 17]
  %p = attn.mask.key_padding %len : tensor<2xi32>
  // CHECK: attn.mask.intersect %{{.*}}, %{{.*}} : !attn.mask, !attn.mask
  %m = attn.mask.intersect %l, %p : !attn.mask, !attn.mask
  // CHECK: attn.sdpa {{.*}} mask
  %o = attn.sdpa %q, %q, %q mask %m : tensor<2x4x256x64xf32>, tensor<2x4x256x64xf32>, tensor<2x4x256x64xf32>, !attn.mask -> tensor<2x4x256x64xf32>
  return %o : tensor<2x4x256x64xf32>
}

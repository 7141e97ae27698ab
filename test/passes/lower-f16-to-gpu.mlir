// f16 attention on tensor cores: the same fragments as bf16 -- on sm_90a
// warpgroup MMA's f16 form, on sm_80 the element pairs handed to
// nvvm.mma.sync as vector<2xf16> (bf16 takes them as i32).
// RUN: attn-opt %s --lower-to-gpu="format=isa" | FileCheck %s
// RUN: attn-opt %s --lower-to-gpu="format=isa chip=sm_80" | FileCheck %s --check-prefix=SM80

// CHECK-LABEL: gpu.binary @kernels
// CHECK-SAME: .entry causal_f16_0_softmax_step_softmax_finalize(
// CHECK-SAME: wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16
// SM80-LABEL: gpu.binary @kernels
// SM80-SAME: .entry causal_f16_0_softmax_step_softmax_finalize(
// SM80-SAME: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
func.func @causal_f16(%q: tensor<1x2x128x64xf16>) -> tensor<1x2x128x64xf16> {
  %m = attn.mask.causal
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x2x128x64xf16>, tensor<1x2x128x64xf16>, tensor<1x2x128x64xf16>, !attn.mask -> tensor<1x2x128x64xf16>
  return %o : tensor<1x2x128x64xf16>
}

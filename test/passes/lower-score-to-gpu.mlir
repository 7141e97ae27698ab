// Attention with a score region, forward and gradient in bf16, through the
// whole GPU pipeline: the tensor-core forms of both, ending in PTX -- on
// sm_90a warpgroup MMA (A from registers), on sm_80 mma.sync.
// RUN: attn-opt %s --lower-to-gpu="format=isa" | FileCheck %s
// RUN: attn-opt %s --lower-to-gpu="format=isa chip=sm_80" | FileCheck %s --check-prefix=SM80
// RUN: attn-opt %s --lower-to-gpu="format=isa" | FileCheck %s --check-prefix=MUFU

// P = exp2(S - m) is ex2.approx.ftz alone (attn-mufu-kernel-math), the
// subnormal-keeping ex2.approx.f32 nowhere.
// MUFU-NOT: ex2.approx.f32

// CHECK: wgmma.mma_async.sync.aligned.m64n{{[0-9]+}}k16.f32.bf16.bf16 {{.*}}, {%r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}}, %rd
// CHECK: ex2.approx.ftz.f32
// SM80-NOT: wgmma
// SM80: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// SM80: ex2.approx.ftz.f32
func.func @softcap(%q: tensor<1x2x96x64xbf16>, %dy: tensor<1x2x96x64xbf16>) -> (tensor<1x2x96x64xbf16>, tensor<1x2x96x64xbf16>, tensor<1x2x96x64xbf16>, tensor<1x2x96x64xbf16>) {
  %m = attn.mask.causal
  %o = attn.sdpa %q, %q, %q mask %m score {
  ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
    %c = arith.constant 2.0 : f32
    %x = arith.divf %s, %c : f32
    %t = math.tanh %x : f32
    %y = arith.mulf %t, %c : f32
    attn.yield %y : f32
  } : tensor<1x2x96x64xbf16>, tensor<1x2x96x64xbf16>, tensor<1x2x96x64xbf16>, !attn.mask -> tensor<1x2x96x64xbf16>
  %g:3 = attn.sdpa_grad %q, %q, %q, %o, %dy mask %m score {
  ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
    %c = arith.constant 2.0 : f32
    %x = arith.divf %s, %c : f32
    %t = math.tanh %x : f32
    %y = arith.mulf %t, %c : f32
    attn.yield %y : f32
  } : tensor<1x2x96x64xbf16>, tensor<1x2x96x64xbf16>, tensor<1x2x96x64xbf16>, tensor<1x2x96x64xbf16>, !attn.mask
  return %o, %g#0, %g#1, %g#2 : tensor<1x2x96x64xbf16>, tensor<1x2x96x64xbf16>, tensor<1x2x96x64xbf16>, tensor<1x2x96x64xbf16>
}

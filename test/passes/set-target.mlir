// attn-set-target records the GPU on the module; out-of-range options fail.
// RUN: attn-opt %s --attn-set-target | FileCheck %s
// RUN: attn-opt %s --attn-set-target="chip=sm_80 multiprocessors=108" | FileCheck %s --check-prefix=A100
// RUN: not attn-opt %s --attn-set-target="chip=sm_70" 2>&1 | FileCheck %s --check-prefix=OLD
// RUN: not attn-opt %s --attn-set-target="multiprocessors=0" 2>&1 | FileCheck %s --check-prefix=NONE
// RUN: not attn-opt %s --lower-to-gpu="chip=gfx90a" 2>&1 | FileCheck %s --check-prefix=PIPELINE
// RUN: attn-opt %s --lower-to-gpu="format=isa multiprocessors=8" | FileCheck %s --check-prefix=LOWERED

// CHECK: module attributes {attn.target = #attn.target<chip = "sm_90a", multiprocessors = 132>}
// A100: module attributes {attn.target = #attn.target<chip = "sm_80", multiprocessors = 108>}
// OLD: error: attn-set-target: target chip must be sm_80 or later (sm_<capability>[a]), got 'sm_70'
// NONE: error: attn-set-target: target multiprocessors must be in [1, 4096], got 0
// PIPELINE: error: --lower-to-gpu: target chip must be sm_80 or later (sm_<capability>[a]), got 'gfx90a'
// LOWERED: module attributes {attn.target = #attn.target<chip = "sm_90a", multiprocessors = 8>
// LOWERED: llvm.func @add
func.func @add(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// A kernel whose staged tiles need more shared memory than a block of the
// target may use fails the compile (attn-allocate-shared-memory), not its
// launch: at D = 128, the overlapped forward's ring of three stages of 128
// keys and values and its 128 staged queries need 232,480 bytes, 32 more
// than sm_90a's 232,448. The target's own choice for that head dim, 128
// queries by 64 keys, fits.
// RUN: not attn-opt %s --lower-to-gpu="block-q=128 block-k=128 format=isa" 2>&1 | FileCheck %s --check-prefix=TOOBIG
// RUN: attn-opt %s --lower-to-gpu="format=isa kernel-modules=1" | FileCheck %s --check-prefix=CHOSEN

// TOOBIG: error: 'gpu.launch' op needs 232480 bytes of shared memory, more than a block of sm_90a may use (232448); smaller tiles (block-q, block-k) need less
// TOOBIG: note: 197616 bytes at offset 0

// CHOSEN: gpu.binary @kernels
// CHOSEN-SAME: .entry attend_d128_0_softmax_step_softmax_finalize(
// CHOSEN-SAME: .maxntid 384
// CHOSEN-SAME: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
// CHOSEN-SAME: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
func.func @attend_d128(%q: tensor<1x2x256x128xbf16>) -> tensor<1x2x256x128xbf16> {
  %o = attn.sdpa %q, %q, %q : tensor<1x2x256x128xbf16>, tensor<1x2x256x128xbf16>, tensor<1x2x256x128xbf16> -> tensor<1x2x256x128xbf16>
  return %o : tensor<1x2x256x128xbf16>
}

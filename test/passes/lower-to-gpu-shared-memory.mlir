// A kernel whose staged tiles need more shared memory than a block of the
// target may use fails the compile (attn-allocate-shared-memory), not its
// launch: at D = 256, the overlapped forward's rings of 128 values (three
// stages: each is held a step past its own, 197,616 bytes with the
// alignment slack) and 128 keys (two stages, 132,080 bytes) and its 128
// staged queries need 397,360 bytes, more than sm_90a's 232,448. At
// D = 128 the same tiles fit (attn-schedule-blocks' choice for that head
// dim: two consumer warpgroups and the producer's); at D = 256 the
// target's choice, 64 x 64 in one warpgroup, fits.
// RUN: not attn-opt %s --lower-to-gpu="block-q=128 block-k=128 format=isa" 2>&1 | FileCheck %s --check-prefix=TOOBIG
// RUN: attn-opt %s --lower-to-gpu="format=isa kernel-modules=1" | FileCheck %s --check-prefix=CHOSEN

// TOOBIG-NOT: error
// TOOBIG: error: 'gpu.launch' op needs 397360 bytes of shared memory, more than a block of sm_90a may use (232448); smaller tiles (block-q, block-k) need less
// TOOBIG: note: 197616 bytes at offset 0
// TOOBIG: note: 132080 bytes at offset 197616

// CHOSEN: gpu.binary @kernels
// CHOSEN-SAME: .entry attend_d128_0_softmax_step_softmax_finalize(
// CHOSEN-SAME: .maxntid 384
// CHOSEN-NOT: .entry
// CHOSEN-SAME: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// CHOSEN-SAME: .entry attend_d256_0_softmax_step_softmax_finalize(
// CHOSEN-SAME: .maxntid 128
// CHOSEN-SAME: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
// CHOSEN-SAME: wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16
func.func @attend_d128(%q: tensor<1x2x256x128xbf16>) -> tensor<1x2x256x128xbf16> {
  %o = attn.sdpa %q, %q, %q : tensor<1x2x256x128xbf16>, tensor<1x2x256x128xbf16>, tensor<1x2x256x128xbf16> -> tensor<1x2x256x128xbf16>
  return %o : tensor<1x2x256x128xbf16>
}

func.func @attend_d256(%q: tensor<1x2x256x256xbf16>) -> tensor<1x2x256x256xbf16> {
  %o = attn.sdpa %q, %q, %q : tensor<1x2x256x256xbf16>, tensor<1x2x256x256xbf16>, tensor<1x2x256x256xbf16> -> tensor<1x2x256x256xbf16>
  return %o : tensor<1x2x256x256xbf16>
}

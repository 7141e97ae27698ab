// block-q=0 and block-k=0 (--lower-to-gpu's default) leave attention's
// tiles to the target (passes/include/attn/Transforms/AttentionTiles.h): on
// sm_90a a 16-bit forward takes 128 x 128 where its tiles cover no more
// than 5% over the pairs of 64 x 64's, else 64 x 64; f32, sm_80 and the
// gradient take 64 x 64. attn-schedule-blocks chooses a masked attention's
// (its schedule), attn-tile an unmasked one's.
// RUN: attn-opt %s --attn-schedule-blocks="block-q=0 block-k=0" --split-input-file | FileCheck %s
// RUN: attn-opt %s --attn-set-target="chip=sm_80" --attn-schedule-blocks="block-q=0 block-k=0" --split-input-file | FileCheck %s --check-prefix=SM80
// RUN: attn-opt %s --attn-schedule-blocks="block-q=0 block-k=32" --split-input-file | FileCheck %s --check-prefix=GIVENK
// RUN: attn-opt %s --attn-schedule-blocks="block-q=0 block-k=0" --attn-tile="block-q=0 block-k=0 rows-per-instance=16" --split-input-file | FileCheck %s --check-prefix=TILE

// Causal: 128 x 128 covers 1.5% more pairs than 64 x 64 at N = 4096.
// CHECK-LABEL: func.func @causal_bf16
// CHECK: attn.sdpa {{.*}}#attn.schedule<block_q = 128, block_k = 128, seq_len = 4096,
// SM80-LABEL: func.func @causal_bf16
// SM80: attn.sdpa {{.*}}#attn.schedule<block_q = 64, block_k = 64, seq_len = 4096,
// A given dimension is kept; the other is chosen.
// GIVENK-LABEL: func.func @causal_bf16
// GIVENK: attn.sdpa {{.*}}#attn.schedule<block_q = 128, block_k = 32, seq_len = 4096,
func.func @causal_bf16(%q: tensor<1x1x4096x64xbf16>) -> tensor<1x1x4096x64xbf16> {
  %m = attn.mask.causal
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x1x4096x64xbf16>, tensor<1x1x4096x64xbf16>, tensor<1x1x4096x64xbf16>, !attn.mask -> tensor<1x1x4096x64xbf16>
  return %o : tensor<1x1x4096x64xbf16>
}

// -----

// A head of 128 dimensions takes 128 x 128 too (the overlapped form's
// rings of 128 keys and values fit a block's shared memory).
// CHECK-LABEL: func.func @causal_d128
// CHECK: attn.sdpa {{.*}}#attn.schedule<block_q = 128, block_k = 128, seq_len = 4096,
func.func @causal_d128(%q: tensor<1x1x4096x128xbf16>) -> tensor<1x1x4096x128xbf16> {
  %m = attn.mask.causal
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x1x4096x128xbf16>, tensor<1x1x4096x128xbf16>, tensor<1x1x4096x128xbf16>, !attn.mask -> tensor<1x1x4096x128xbf16>
  return %o : tensor<1x1x4096x128xbf16>
}

// -----

// A head of 256 dimensions: 64 x 64 (the overlapped form's rings and
// queries would not fit a block's shared memory in 128 x 128 or 128 x 64).
// CHECK-LABEL: func.func @causal_d256
// CHECK: attn.sdpa {{.*}}#attn.schedule<block_q = 64, block_k = 64, seq_len = 4096,
func.func @causal_d256(%q: tensor<1x1x4096x256xbf16>) -> tensor<1x1x4096x256xbf16> {
  %m = attn.mask.causal
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x1x4096x256xbf16>, tensor<1x1x4096x256xbf16>, tensor<1x1x4096x256xbf16>, !attn.mask -> tensor<1x1x4096x256xbf16>
  return %o : tensor<1x1x4096x256xbf16>
}

// -----

// A short sequence: one 128 x 128 tile covers four times 64 x 64's pairs.
// CHECK-LABEL: func.func @causal_short
// CHECK: attn.sdpa {{.*}}#attn.schedule<block_q = 64, block_k = 64, seq_len = 40,
func.func @causal_short(%q: tensor<1x1x40x64xbf16>) -> tensor<1x1x40x64xbf16> {
  %m = attn.mask.causal
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x1x40x64xbf16>, tensor<1x1x40x64xbf16>, tensor<1x1x40x64xbf16>, !attn.mask -> tensor<1x1x40x64xbf16>
  return %o : tensor<1x1x40x64xbf16>
}

// -----

// BigBird's window of 64-token blocks: in 128 x 128 tiles a query tile
// meets four blocks of keys either side where it kept three, so 64 x 64.
// CHECK-LABEL: func.func @window64
// CHECK: attn.sdpa {{.*}}#attn.schedule<block_q = 64, block_k = 64, seq_len = 1024,
func.func @window64(%q: tensor<1x1x1024x64xbf16>) -> tensor<1x1x1024x64xbf16> {
  %w = attn.mask.window radius 1 block 64
  %g = attn.mask.global first 1 last 1 block 64
  %m = attn.mask.union %w, %g : !attn.mask<block = 64>, !attn.mask<block = 64>
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x1x1024x64xbf16>, tensor<1x1x1024x64xbf16>, tensor<1x1x1024x64xbf16>, !attn.mask<block = 64> -> tensor<1x1x1024x64xbf16>
  return %o : tensor<1x1x1024x64xbf16>
}

// -----

// With 128-token blocks the same pairs either way: 128 x 128.
// CHECK-LABEL: func.func @window128
// CHECK: attn.sdpa {{.*}}#attn.schedule<block_q = 128, block_k = 128, seq_len = 1024,
func.func @window128(%q: tensor<1x1x1024x64xbf16>) -> tensor<1x1x1024x64xbf16> {
  %w = attn.mask.window radius 1 block 128
  %g = attn.mask.global first 1 last 1 block 128
  %m = attn.mask.union %w, %g : !attn.mask<block = 128>, !attn.mask<block = 128>
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x1x1024x64xbf16>, tensor<1x1x1024x64xbf16>, tensor<1x1x1024x64xbf16>, !attn.mask<block = 128> -> tensor<1x1x1024x64xbf16>
  return %o : tensor<1x1x1024x64xbf16>
}

// -----

// f32 attention (3xTF32 or a row per lane) keeps 64 x 64.
// CHECK-LABEL: func.func @causal_f32
// CHECK: attn.sdpa {{.*}}#attn.schedule<block_q = 64, block_k = 64, seq_len = 4096,
func.func @causal_f32(%q: tensor<1x1x4096x64xf32>) -> tensor<1x1x4096x64xf32> {
  %m = attn.mask.causal
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x1x4096x64xf32>, tensor<1x1x4096x64xf32>, tensor<1x1x4096x64xf32>, !attn.mask -> tensor<1x1x4096x64xf32>
  return %o : tensor<1x1x4096x64xf32>
}

// -----

// The gradient's tiles where the forward's are the target's: 64 x 64.
// CHECK-LABEL: func.func @gradient_bf16
// CHECK: attn.sdpa_grad {{.*}}#attn.schedule<block_q = 64, block_k = 64, seq_len = 4096,
func.func @gradient_bf16(%q: tensor<1x1x4096x64xbf16>) -> (tensor<1x1x4096x64xbf16>, tensor<1x1x4096x64xbf16>, tensor<1x1x4096x64xbf16>) {
  %m = attn.mask.causal
  %g:3 = attn.sdpa_grad %q, %q, %q, %q, %q mask %m : tensor<1x1x4096x64xbf16>, tensor<1x1x4096x64xbf16>, tensor<1x1x4096x64xbf16>, tensor<1x1x4096x64xbf16>, !attn.mask
  return %g#0, %g#1, %g#2 : tensor<1x1x4096x64xbf16>, tensor<1x1x4096x64xbf16>, tensor<1x1x4096x64xbf16>
}

// -----

// Unmasked attention is attn-tile's to choose, by the sequences rounded up
// to whole tiles: at N = 256, two query tiles of 128 rows (eight warps of
// 16); at N = 40, one of 64.
// TILE-LABEL: func.func @dense_bf16
// TILE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 1, 2) {
// TILE:   scf.forall (%{{.*}}) in (8) {
func.func @dense_bf16(%q: tensor<1x1x256x64xbf16>) -> tensor<1x1x256x64xbf16> {
  %o = attn.sdpa %q, %q, %q : tensor<1x1x256x64xbf16>, tensor<1x1x256x64xbf16>, tensor<1x1x256x64xbf16> -> tensor<1x1x256x64xbf16>
  return %o : tensor<1x1x256x64xbf16>
}

// -----

// TILE-LABEL: func.func @dense_short
// TILE: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 1, 1) {
// TILE:   scf.forall (%{{.*}}) in (4) {
func.func @dense_short(%q: tensor<1x1x40x64xbf16>) -> tensor<1x1x40x64xbf16> {
  %o = attn.sdpa %q, %q, %q : tensor<1x1x40x64xbf16>, tensor<1x1x40x64xbf16>, tensor<1x1x40x64xbf16> -> tensor<1x1x40x64xbf16>
  return %o : tensor<1x1x40x64xbf16>
}

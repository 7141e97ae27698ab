// The passes know the Longformer pattern only through MaskPattern: it is
// scheduled, tiled (its predicate inlined into partial tiles) and lowered to
// LLVM with no change to any of them.
// RUN: longformer-opt %s --attn-schedule-blocks | FileCheck %s --check-prefix=SCHED
// RUN: longformer-opt %s --attn-schedule-blocks --attn-tile | FileCheck %s --check-prefix=TILE
// RUN: longformer-opt %s --lower-to-cpu | FileCheck %s --check-prefix=CPU

// 256 tokens, tiles of 64. Token 0 is global: every tile of query rows
// 0..63 and of key column 0..63 is touched, none entirely. A window of 16
// reaches the neighbouring tiles across each boundary; query tiles 1 and 3
// miss the key tiles 3 and 1 respectively. No tile is full.
// SCHED: #attn.schedule<block_q = 64, block_k = 64, seq_len = 256,
// SCHED-SAME: full_offsets = [0, 0, 0, 0, 0], full_blocks = [],
// SCHED-SAME: partial_offsets = [0, 4, 7, 11, 14], partial_blocks = [0, 1, 2, 3, 0, 1, 2, 0, 1, 2, 3, 0, 2, 3]>

// TILE: attn.tile.softmax_step {{.*}} where {
// TILE: arith.remsi
// TILE: attn.yield

// CPU: llvm.func @attend(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr)
func.func @attend(%q: tensor<1x2x256x32xf32>) -> tensor<1x2x256x32xf32> {
  %m = attn.mask.longformer radius 16 dilation 1 globals [0]
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x2x256x32xf32>, tensor<1x2x256x32xf32>, tensor<1x2x256x32xf32>, !attn.mask -> tensor<1x2x256x32xf32>
  return %o : tensor<1x2x256x32xf32>
}

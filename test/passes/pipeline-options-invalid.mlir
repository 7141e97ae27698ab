// Pipeline and pass options out of range fail the tool (exit status not 0)
// with a message naming the option and its value as a number (#23: an
// unknown format printed an error and exited 0; block sizes printed as raw
// bytes).
// RUN: not attn-opt %s --lower-to-gpu="format=garbage" 2>&1 | FileCheck %s --check-prefix=FORMAT
// RUN: not attn-opt %s --lower-to-gpu="warp-rows=8" 2>&1 | FileCheck %s --check-prefix=WARP
// RUN: not attn-opt %s --lower-to-cpu="block-q=2147483647" 2>&1 | FileCheck %s --check-prefix=TILES
// RUN: not attn-opt %s --lower-to-cpu="block-q=0" 2>&1 | FileCheck %s --check-prefix=CPUTILES
// RUN: not attn-opt %s --attn-schedule-blocks="block-q=-8 block-k=64" 2>&1 | FileCheck %s --check-prefix=SCHEDULE
// RUN: not attn-opt %s --attn-map-loops-to-gpu="lanes-per-iteration=2048" 2>&1 | FileCheck %s --check-prefix=LANES
// RUN: not attn-opt %s --attn-convert-tiles-to-gpu="x=1" 2>&1 | FileCheck %s --check-prefix=CONVERT
// RUN: not attn-opt %s --lower-to-gpu="grad-warp-rows=8" 2>&1 | FileCheck %s --check-prefix=GRADWARP
// RUN: not attn-opt %s --lower-to-gpu="grad-block-k=4096" 2>&1 | FileCheck %s --check-prefix=GRADTILES
// RUN: not attn-opt %s --lower-to-cpu="grad-block-q=-8" 2>&1 | FileCheck %s --check-prefix=CPUGRADTILES
// RUN: not attn-opt %s --lower-to-gpu="tensor-copies=yes" 2>&1 | FileCheck %s --check-prefix=COPIES
// RUN: not attn-opt %s --lower-to-gpu="tensor-copies=off warp-specialize=1" 2>&1 | FileCheck %s --check-prefix=SPECIALIZE
// RUN: not attn-opt %s --lower-to-gpu="tensor-copies=off overlap-softmax=1" 2>&1 | FileCheck %s --check-prefix=OVERLAP
// RUN: not attn-opt %s --lower-to-gpu="warp-specialize=0 overlap-softmax=1" 2>&1 | FileCheck %s --check-prefix=OVERLAP
// RUN: not attn-opt %s --lower-to-gpu="tensor-copies=off persistent-attention=1" 2>&1 | FileCheck %s --check-prefix=PERSIST
// warp-specialize, overlap-softmax and persistent-attention are on by
// default and follow tensor-copies: turned off with it, no error.
// RUN: attn-opt %s --lower-to-gpu="tensor-copies=off format=isa" 2>&1 | FileCheck %s --check-prefix=OFF
// RUN: attn-opt %s --lower-to-gpu="warp-specialize=0 format=isa" 2>&1 | FileCheck %s --check-prefix=OFF
// RUN: not attn-opt %s --lower-to-cpu="ssm-chunk=-2" 2>&1 | FileCheck %s --check-prefix=CHUNK
// RUN: not attn-opt %s --lower-to-gpu="ssm-channels=2048" 2>&1 | FileCheck %s --check-prefix=CHANNELS
// RUN: not attn-opt %s --lower-to-gpu="kernel-modules=0" 2>&1 | FileCheck %s --check-prefix=MODULES

// FORMAT: error: --lower-to-gpu: format must be bin, isa, fatbin or llvm, got 'garbage'
// WARP: error: --lower-to-gpu: warp-rows must be 16 or 32, got 8
// TILES: error: --lower-to-cpu: block-q and block-k must be in [1, 1024], got 2147483647 and 64
// CPUTILES: error: --lower-to-cpu: block-q and block-k must be in [1, 1024], got 0 and 64
// SCHEDULE: error: attn-schedule-blocks: block sizes must be positive or 0 (the target's choice), got block-q=-8 block-k=64
// LANES: error: attn-map-loops-to-gpu: lanes-per-iteration must be in [1, 1024], got 2048
// CONVERT: error: --attn-convert-tiles-to-gpu takes no options
// COPIES: error: --lower-to-gpu: tensor-copies must be off, auto, forward, gradient or all, got 'yes'
// SPECIALIZE: error: --lower-to-gpu: warp-specialize needs tensor-copies auto, forward, gradient or all (the producer issues tensor copies)
// OVERLAP: error: --lower-to-gpu: overlap-softmax needs warp-specialize (its P V a step late holds a stage of the producer's ring)
// OFF-NOT: error
// OFF: gpu.binary
// PERSIST: error: --lower-to-gpu: persistent-attention needs warp-specialize (the producer's loop copies the next tile's keys)
// CHUNK: error: --lower-to-cpu: ssm-chunk must be positive, 0 (no chunks) or -1 (the target's choice), got -2
// CHANNELS: error: --lower-to-gpu: ssm-channels must be in [0, 1024], got 2048
// MODULES: error: --lower-to-gpu: kernel-modules must be at least 1, got 0
// GRADWARP: error: --lower-to-gpu: grad-warp-rows must be 16, 32 or 0 (warp-rows), got 8
// GRADTILES: error: --lower-to-gpu: the gradient's block-q and block-k must be in [1, 1024], got 64 and 4096
// CPUGRADTILES: error: --lower-to-cpu: the gradient's block-q and block-k must be in [1, 1024], got -8 and 64
func.func @causal(%q: tensor<1x1x40x16xf32>) -> tensor<1x1x40x16xf32> {
  %m = attn.mask.causal
  %o = attn.sdpa %q, %q, %q mask %m : tensor<1x1x40x16xf32>, tensor<1x1x40x16xf32>, tensor<1x1x40x16xf32>, !attn.mask -> tensor<1x1x40x16xf32>
  return %o : tensor<1x1x40x16xf32>
}

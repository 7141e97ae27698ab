// A pass's options are checked when the pipeline starts, also where nothing
// would use them: on a module without functions a function pass never runs,
// and attn-generate-train-step without a gradient function builds no op
// whose verifier would see them (#23: these exited 0).
// RUN: not attn-opt %s --attn-schedule-blocks="block-q=-1" 2>&1 | FileCheck %s --check-prefix=SCHEDULE
// RUN: not attn-opt %s --attn-schedule-blocks="verify-pairs=0" 2>&1 | FileCheck %s --check-prefix=PAIRS
// RUN: not attn-opt %s --attn-schedule-blocks="grad-block-k=-64" 2>&1 | FileCheck %s --check-prefix=GRADSCHEDULE
// RUN: not attn-opt %s --attn-convert-tiles-to-cpu="vector-width=3" 2>&1 | FileCheck %s --check-prefix=WIDTH
// RUN: not attn-opt %s --attn-map-loops-to-gpu="lanes-per-iteration=0" 2>&1 | FileCheck %s --check-prefix=LANES
// RUN: not attn-opt %s --attn-generate-train-step="lr=-1" 2>&1 | FileCheck %s --check-prefix=LR
// RUN: not attn-opt %s --attn-generate-train-step="warmup=10 total-steps=5" 2>&1 | FileCheck %s --check-prefix=STEPS
// RUN: not attn-opt %s --attn-generate-train-step="beta1=1" 2>&1 | FileCheck %s --check-prefix=BETA
// RUN: not attn-opt %s --attn-generate-train-step="decay=exp" 2>&1 | FileCheck %s --check-prefix=DECAY
// RUN: attn-opt %s --attn-schedule-blocks --attn-generate-train-step="lr=0.001" | FileCheck %s --check-prefix=VALID

// SCHEDULE: error: attn-schedule-blocks: block sizes must be positive or 0 (the target's choice), got block-q=-1 block-k=64
// PAIRS: error: attn-schedule-blocks: verify-pairs must be positive, got 0
// GRADSCHEDULE: error: attn-schedule-blocks: the gradient's block sizes must be positive or 0 (the forward's, or 64 where that is the target's), got grad-block-q=0 grad-block-k=-64
// WIDTH: error: attn-convert-tiles-to-cpu: vector-width must be 8 or 16, got 3
// LANES: error: attn-map-loops-to-gpu: lanes-per-iteration must be in [1, 1024], got 0
// LR: error: attn-generate-train-step: peak learning rate must be positive and finite, got -1
// STEPS: error: attn-generate-train-step: total steps (5) must be at least the warmup (10)
// BETA: error: attn-generate-train-step: betas must be in [0, 1), got 1
// DECAY: error: attn-generate-train-step: decay 'exp' is not one of constant, linear, cosine
// VALID: module {
module {
}

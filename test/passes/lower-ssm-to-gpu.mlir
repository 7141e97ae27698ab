// The SSM through each step of --lower-to-gpu: the discretisation a grid of
// threads, the scan a warp per (batch entry, 8 channels), each channel's 64
// modes over 4 lanes -- over the whole sequence (ssm-chunk=0), or chunked:
// a warp per (batch entry, 8 channels, chunk) for the chunk's state, one
// per (batch entry, 8 channels) to carry the states over the chunks, then
// one per chunk again for its outputs.
// RUN: attn-opt %s --attn-tile="rows-per-instance=16 ssm-channels=8 ssm-chunk=0" --canonicalize | FileCheck %s --check-prefix=TILE
// RUN: attn-opt %s --attn-tile="rows-per-instance=16 ssm-channels=8 ssm-chunk=0" --canonicalize --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --buffer-results-to-out-params="hoist-static-allocs modify-public-functions" --attn-map-loops-to-gpu=lanes-per-iteration=32 | FileCheck %s --check-prefix=MAP
// RUN: attn-opt %s --attn-tile="rows-per-instance=16 ssm-channels=8 ssm-chunk=0" --canonicalize --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --buffer-results-to-out-params="hoist-static-allocs modify-public-functions" --attn-map-loops-to-gpu=lanes-per-iteration=32 --attn-convert-ssm-tiles-to-gpu --canonicalize --cse | FileCheck %s --check-prefix=WARP
// RUN: attn-opt %s --attn-tile="rows-per-instance=16 ssm-channels=0 ssm-chunk=0" --canonicalize | FileCheck %s --check-prefix=GROUP
// RUN: attn-opt %s --attn-tile="rows-per-instance=16 ssm-channels=8 ssm-chunk=32" --canonicalize | FileCheck %s --check-prefix=CHUNK
// RUN: attn-opt %s --attn-tile="rows-per-instance=16 ssm-channels=8" --canonicalize | FileCheck %s --check-prefix=AUTO
// RUN: attn-opt %s --attn-tile="rows-per-instance=16 ssm-channels=8 ssm-chunk=32" --canonicalize --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --buffer-results-to-out-params="hoist-static-allocs modify-public-functions" --attn-map-loops-to-gpu=lanes-per-iteration=32 --attn-convert-ssm-tiles-to-gpu --canonicalize --cse | FileCheck %s --check-prefix=CWARP
// RUN: attn-opt %s --lower-to-gpu="format=isa" | FileCheck %s --check-prefix=PTX
// RUN: %if ptxas %{ attn-opt %s --lower-to-gpu | FileCheck %s --check-prefix=CUBIN %}

// The scan instances are marked as blocks; both directions in each.
// TILE-LABEL: func.func @ssm(
// TILE: linalg.generic
// TILE: linalg.generic
// TILE: scf.forall (%{{.*}}, %{{.*}}) in (2, 3) {
// TILE:   attn.tile.ssm_scan
// TILE:   attn.tile.ssm_scan {{.*}} reverse accumulate
// TILE: } {mapping = [#gpu.block<y>, #gpu.block<x>]}
// A scan of one instance stays a loop (a kernel of one block).
// TILE-LABEL: func.func @one_scan(
// TILE: scf.forall (%{{.*}}, %{{.*}}) in (1, 1) {
// TILE:   attn.tile.ssm_scan
// TILE: } {mapping = [#gpu.block<y>, #gpu.block<x>]}

// ssm-channels=0: groups of what a warp scans at once, 32 / k channels
// (k = 4 lanes for 64 modes, 2 for 32, 1 for 16).
// GROUP-LABEL: func.func @ssm(
// GROUP: scf.forall (%{{.*}}, %{{.*}}) in (2, 3) {
// GROUP-LABEL: func.func @one_scan(
// GROUP: scf.forall (%{{.*}}, %{{.*}}) in (1, 1) {
// GROUP-LABEL: func.func @modes_32(
// GROUP: scf.forall (%{{.*}}, %{{.*}}) in (2, 3) {
// GROUP:   arith.minsi %{{.*}}, %c16
// The gradient's adjoint pass takes 8 modes a lane, not 16: its own groups
// of 4 channels (6 for 24), each warp walking the rows once.
// GROUP-LABEL: func.func @ssm_grad(
// GROUP: scf.forall (%{{.*}}, %{{.*}}) in (2, 3) {
// GROUP:   attn.tile.ssm_scan
// GROUP: scf.forall (%{{.*}}, %{{.*}}) in (2, 6) {
// GROUP:   attn.tile.ssm_adjoint

// Chunks of 32: 4 per batch entry. The discretisation also gives Abar^32
// (a third exp, cos and sin); per direction states [B, K, H, S], real and
// imaginary. Each chunk's state from zero, both directions; the carry;
// each chunk's outputs from the state it is entered with.
// CHUNK-LABEL: func.func @ssm(
// CHUNK: %{{.*}}:6 = linalg.generic
// CHUNK:   math.exp
// CHUNK:   math.exp
// CHUNK:   math.exp
// CHUNK:   math.cos
// CHUNK:   math.sin
// CHUNK:   math.exp
// CHUNK:   math.cos
// CHUNK:   math.sin
// CHUNK: %{{.*}}:6 = linalg.generic
// CHUNK-COUNT-4: memref.alloc() {{.*}} : memref<2x4x24x64xf32>
// CHUNK: scf.forall (%[[B:.*]], %[[G:.*]], %[[K:.*]]) in (2, 3, 4) {
// CHUNK:   arith.muli %[[K]], %c32
// CHUNK:   attn.tile.ssm_scan {{.*}} state(%{{.*}}, %{{.*}} : memref<?x64xf32, {{.*}}>, memref<?x64xf32, {{.*}}>) :
// CHUNK:   attn.tile.ssm_scan {{.*}} state(%{{.*}}, %{{.*}} : memref<?x64xf32, {{.*}}>, memref<?x64xf32, {{.*}}>) reverse :
// CHUNK: } {mapping = [#gpu.block<z>, #gpu.block<y>, #gpu.block<x>]}
// CHUNK: scf.forall (%{{.*}}, %{{.*}}) in (2, 3) {
// CHUNK:   attn.tile.ssm_carry(%{{.*}}, %{{.*}}) by(%{{.*}}, %{{.*}}) : memref<4x?x64xf32, strided<[1536, 64, 1], offset: ?>>
// CHUNK:   attn.tile.ssm_carry(%{{.*}}, %{{.*}}) by(%{{.*}}, %{{.*}}) reverse :
// CHUNK: } {mapping = [#gpu.block<y>, #gpu.block<x>]}
// CHUNK: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (2, 3, 4) {
// CHUNK:   attn.tile.ssm_scan {{.*}} from(%{{.*}}, %{{.*}} : {{.*}}) into %{{.*}} : memref<?x?xf32, strided<[24, 1], offset: ?>> :
// CHUNK:   attn.tile.ssm_scan {{.*}} from(%{{.*}}, %{{.*}} : {{.*}}) into %{{.*}} : {{.*}} reverse accumulate :
// CHUNK: } {mapping = [#gpu.block<z>, #gpu.block<y>, #gpu.block<x>]}
// CHUNK-NOT: attn.tile.ssm
// CHUNK-LABEL: func.func @one_scan(

// By default the GPU form chunks where batch x groups scans are too few to
// keep the GPU busy: 2 x 3 here, chunks of 64 (the least); a sequence of
// no more than one chunk is scanned whole.
// AUTO-LABEL: func.func @ssm(
// AUTO: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (2, 3, 2) {
// AUTO: scf.forall (%{{.*}}, %{{.*}}) in (2, 3) {
// AUTO:   attn.tile.ssm_carry
// AUTO: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (2, 3, 2) {
// AUTO-LABEL: func.func @one_scan(
// AUTO-NOT: ssm_carry
// AUTO: scf.forall (%{{.*}}, %{{.*}}) in (1, 1) {
// AUTO: attn.tile.ssm_scan {{.*}} into
// AUTO-NOT: ssm_carry
// AUTO-LABEL: func.func @modes_32(

// The chunk's state: a scan without outputs (no shuffles), ending in the
// state kept per lane -- an empty chunk keeps its zeros -- then stored,
// each lane its 16 modes. The carry: a lane per (channel, mode), the
// chunks' states (4 here, so the block of 8 folds) replaced by the carried
// state from zero, in order, or backwards in reverse. The outputs: the
// scan from the loaded state, with shuffles.
// CWARP-LABEL: func.func @ssm(
// CWARP: gpu.launch blocks({{.*}}) in (%{{.*}} = %c4{{.*}}, %{{.*}} = %c3{{.*}}, %{{.*}} = %c2{{.*}}) threads({{.*}}) in (%{{.*}} = %c32{{.*}},
// CWARP:   %{{.*}}:32 = scf.if %{{.*}} -> (f32, {{.*}}) {
// CWARP-NOT: gpu.shuffle
// CWARP:     scf.yield %cst{{.*}}, %cst{{.*}}
// CWARP:   memref.store
// CWARP: gpu.launch blocks({{.*}}) in (%{{.*}} = %c3{{.*}}, %{{.*}} = %c2{{.*}}, %{{.*}} = %c1{{.*}}) threads({{.*}}) in (%{{.*}} = %c32{{.*}},
// CWARP:   gpu.lane_id
// CWARP:   scf.for %{{.*}} = %c0 to %{{.*}} step %c32 {
// CWARP:     memref.store %cst{{.*}}, %{{.*}}[%c0, {{.*}}] : memref<4x?x64xf32
// CWARP:     memref.store %{{.*}}, %{{.*}}[%c3, {{.*}}] : memref<4x?x64xf32
// CWARP:   scf.for %{{.*}} = %c0 to %{{.*}} step %c32 {
// CWARP:     memref.store %cst{{.*}}, %{{.*}}[%c3, {{.*}}] : memref<4x?x64xf32
// CWARP:     memref.store %{{.*}}, %{{.*}}[%c0, {{.*}}] : memref<4x?x64xf32
// CWARP: gpu.launch blocks({{.*}}) in (%{{.*}} = %c4{{.*}}, %{{.*}} = %c3{{.*}}, %{{.*}} = %c2{{.*}}) threads({{.*}}) in (%{{.*}} = %c32{{.*}},
// CWARP:   memref.load %{{.*}} : memref<?x64xf32
// CWARP:   gpu.shuffle xor
// CWARP-NOT: attn.tile.ssm
// CWARP-LABEL: func.func @one_scan(

// Discretisation: a thread per coefficient (24 x 64) per direction, in
// blocks of 256; the output zeroed by a memset (positions past a length);
// a warp per scan instance.
// MAP-LABEL: func.func @ssm(
// MAP: gpu.launch {{.*}} threads({{.*}}) in (%{{.*}} = %c256{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}})
// MAP:   arith.cmpi ult, %{{.*}}, %{{.*}} : index
// MAP:   scf.if
// MAP:     math.cos
// MAP: gpu.launch {{.*}} threads({{.*}}) in (%{{.*}} = %c256{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}})
// MAP: gpu.memset
// MAP: gpu.launch blocks({{.*}}) in (%{{.*}} = %c3{{.*}}, %{{.*}} = %c2{{.*}}, %{{.*}} = %c1{{.*}}) threads({{.*}}) in (%{{.*}} = %c32{{.*}},
// MAP:   attn.tile.ssm_scan
// MAP:   attn.tile.ssm_scan {{.*}} reverse accumulate
// MAP-LABEL: func.func @one_scan(
// MAP: gpu.launch blocks({{.*}}) in (%{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) threads({{.*}}) in (%{{.*}} = %c32{{.*}},
// MAP:   attn.tile.ssm_scan

// The scan: lane = 4 c + m holds modes m, m + 4, ... of channel c of each
// pass of 8 channels; 8 steps per iteration, the state (2 x 16) and the
// next 8 inputs carried; each step's sum over the 4 lanes by two xor
// shuffles, written by the first lane.
// WARP-LABEL: func.func @ssm(
// WARP: gpu.launch
// WARP: gpu.launch
// WARP: gpu.launch
// WARP:   %[[LANE:.*]] = gpu.lane_id
// WARP:   %[[SUB:.*]] = arith.remui %[[LANE]], %c4
// WARP:   arith.divui %[[LANE]], %c4
// WARP:   scf.for %{{.*}} = %c0 to %{{.*}} step %c8 {
// WARP:     scf.if
// WARP:       scf.for %{{.*}} = %c0 to %{{.*}} step %c8 iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) {
// WARP:         math.fma
// WARP:         gpu.shuffle xor %{{.*}}, %c2_i32, %c32_i32 : f32
// WARP:         gpu.shuffle xor %{{.*}}, %c1_i32, %c32_i32 : f32
// WARP:         arith.cmpi eq, %[[SUB]], %c0
// WARP:         scf.if
// WARP:           memref.store
// The reverse direction adds to the forward one's output.
// WARP:   scf.for %{{.*}} = %c0 to %{{.*}} step %c8 {
// WARP:       scf.for
// WARP:         scf.if
// WARP:           memref.load
// WARP:           arith.addf
// WARP:           memref.store
// WARP-NOT: attn.tile.ssm_scan

// The gradient's coefficient sums: the scan's layout at 8 modes a lane
// (lane = 8 c + m holds modes m, m + 8, ... of channel c of each pass of 4
// channels), 8 carried values a mode (64) and the next 8 rows' inputs and
// gradients (16) over the rows in blocks of 8; the step's products may
// contract into multiply-adds; each lane stores its modes' P and Q.
// WARP-LABEL: func.func @ssm_grad(
// WARP:   attn.kernel = "ssm_scan"
// WARP:   %[[LANE:.*]] = gpu.lane_id
// WARP:   arith.remui %[[LANE]], %c8
// WARP:   arith.divui %[[LANE]], %c8
// WARP:   scf.for %{{.*}} = %c0 to %{{.*}} step %c4 {
// WARP:     scf.if
// WARP:       scf.for %{{.*}} = %c0 to %{{.*}} step %c8 iter_args({{.*}}) -> ({{(f32, ){79}f32}}) {
// WARP:         arith.mulf %{{.*}}, %{{.*}} fastmath<contract> : f32
// WARP:         scf.yield
// WARP-COUNT-32: memref.store
// WARP:   attn.kernel = "ssm_adjoint"
// WARP-NOT: attn.tile.ssm_adjoint

// PTX-LABEL: gpu.binary
// PTX: shfl.sync.bfly
// PTX: fma.rn.f32

// CUBIN: llvm.func @ssm(
// CUBIN: gpu.launch_func
// CUBIN: gpu.binary @{{.*}} [#gpu.object<#nvvm.target<O = 3, chip = "sm_90a"{{.*}}bin = "\7FELF

func.func @ssm(%x: tensor<2x100x24xf32>, %a: tensor<24x64xf32>, %c: tensor<2x24x64xf32>, %dt: tensor<24xf32>, %len: tensor<2xi32>) -> tensor<2x100x24xf32> {
  %y = attn.ssm %x A(%a, %a) B(%a, %a) C(%c, %c) log_dt(%dt) lengths %len : tensor<2xi32> bidirectional : tensor<2x100x24xf32>, tensor<24x64xf32>, tensor<2x24x64xf32>, tensor<24xf32>
  return %y : tensor<2x100x24xf32>
}

func.func @one_scan(%x: tensor<1x10x8xf32>, %a: tensor<8x16xf32>, %dt: tensor<8xf32>) -> tensor<1x10x8xf32> {
  %y = attn.ssm %x A(%a, %a) B(%a, %a) C(%a, %a) log_dt(%dt) : tensor<1x10x8xf32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<8xf32>
  return %y : tensor<1x10x8xf32>
}

func.func @modes_32(%x: tensor<2x10x40xf32>, %a: tensor<40x32xf32>, %dt: tensor<40xf32>) -> tensor<2x10x40xf32> {
  %y = attn.ssm %x A(%a, %a) B(%a, %a) C(%a, %a) log_dt(%dt) : tensor<2x10x40xf32>, tensor<40x32xf32>, tensor<40x32xf32>, tensor<40xf32>
  return %y : tensor<2x10x40xf32>
}

func.func @ssm_grad(%x: tensor<2x100x24xf32>, %a: tensor<24x64xf32>, %c: tensor<2x24x64xf32>, %dt: tensor<24xf32>, %len: tensor<2xi32>) -> (tensor<2x100x24xf32>, tensor<24x64xf32>, tensor<24xf32>) {
  %g:8 = attn.ssm_grad %x, %x A(%a, %a) B(%a, %a) C(%c, %c) log_dt(%dt) lengths %len : tensor<2xi32> bidirectional : tensor<2x100x24xf32>, tensor<24x64xf32>, tensor<2x24x64xf32>, tensor<24xf32>
  return %g#0, %g#1, %g#7 : tensor<2x100x24xf32>, tensor<24x64xf32>, tensor<24xf32>
}

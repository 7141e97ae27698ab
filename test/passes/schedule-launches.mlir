// RUN: attn-opt %s --attn-schedule-launches="max-blocks=64" --split-input-file | FileCheck %s
// RUN: attn-opt %s --attn-schedule-launches="max-blocks=64" --attn-merge-launches="max-blocks=64" --split-input-file | FileCheck %s --check-prefix=MERGED

// Two chains of two launches each (a partial sum, then its total): each
// chain's first launch comes first, then each chain's second; the
// allocations and memsets they use come with the first level (they wait
// for no launch). Merged afterwards: one launch per level.
// CHECK-LABEL: func.func @chains
// CHECK: gpu.alloc
// CHECK: gpu.memset
// CHECK: gpu.launch
// CHECK: memref.store %{{.*}}, %[[PA:.*]][
// CHECK: gpu.alloc
// CHECK: gpu.memset
// CHECK: gpu.launch
// CHECK: memref.store %{{.*}}, %[[PB:.*]][
// CHECK: gpu.launch
// CHECK: memref.load %[[PA]]
// CHECK: memref.store %{{.*}}, %arg2[
// CHECK: gpu.launch
// CHECK: memref.load %[[PB]]
// CHECK: memref.store %{{.*}}, %arg3[
// CHECK: gpu.dealloc %[[PA]]
// CHECK: gpu.dealloc %[[PB]]
// CHECK: return
// MERGED-LABEL: func.func @chains
// MERGED-COUNT-2: } {attn.kernel = "merged_generic"}
// MERGED-NOT: gpu.launch
// MERGED: return
func.func @chains(%a: memref<256xf32>, %b: memref<256xf32>, %sa: memref<f32>, %sb: memref<f32>) {
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %zero = arith.constant 0.0 : f32
  %pa = gpu.alloc () : memref<256xf32>
  gpu.memset %pa, %zero : memref<256xf32>, f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<256xf32>
    memref.store %v, %pa[%tx] : memref<256xf32>
    gpu.terminator
  } {attn.kernel = "generic"}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %pa[%tx] : memref<256xf32>
    memref.store %v, %sa[] : memref<f32>
    gpu.terminator
  } {attn.kernel = "generic"}
  gpu.dealloc %pa : memref<256xf32>
  %pb = gpu.alloc () : memref<256xf32>
  gpu.memset %pb, %zero : memref<256xf32>, f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %b[%tx] : memref<256xf32>
    memref.store %v, %pb[%tx] : memref<256xf32>
    gpu.terminator
  } {attn.kernel = "generic"}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %pb[%tx] : memref<256xf32>
    memref.store %v, %sb[] : memref<f32>
    gpu.terminator
  } {attn.kernel = "generic"}
  gpu.dealloc %pb : memref<256xf32>
  return
}

// -----

// An op writing what an earlier launch reads waits for it (the memset of
// %a is level 1, with the launch after it that reads %a); the independent
// launch after them moves up to level 0.
// CHECK-LABEL: func.func @writer_after_reader
// CHECK: gpu.launch
// CHECK: memref.load %arg0
// CHECK: memref.store %{{.*}}, %arg1
// CHECK: gpu.launch
// CHECK: memref.load %arg3
// CHECK: memref.store %{{.*}}, %arg4
// CHECK: gpu.memset %arg0
// CHECK: gpu.launch
// CHECK: memref.load %arg0
// CHECK: memref.store %{{.*}}, %arg2
// CHECK: return
func.func @writer_after_reader(%a: memref<256xf32>, %b: memref<256xf32>, %c: memref<256xf32>, %d: memref<256xf32>, %e: memref<256xf32>) {
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<256xf32>
    memref.store %v, %b[%tx] : memref<256xf32>
    gpu.terminator
  }
  gpu.memset %a, %zero : memref<256xf32>, f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<256xf32>
    memref.store %v, %c[%tx] : memref<256xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %d[%tx] : memref<256xf32>
    memref.store %v, %e[%tx] : memref<256xf32>
    gpu.terminator
  }
  return
}

// -----

// A launch of more than max-blocks blocks ends a stretch: the launch after
// it, independent of the chain before it, stays after it (in one stretch
// it would move up beside the chain's first launch).
// CHECK-LABEL: func.func @large_launch_ends_stretch
// CHECK: gpu.launch
// CHECK: memref.store %{{.*}}, %arg1
// CHECK: gpu.launch
// CHECK: memref.store %{{.*}}, %arg2
// CHECK: gpu.launch
// CHECK: memref.store %{{.*}}, %arg4
// CHECK: gpu.launch
// CHECK: memref.store %{{.*}}, %arg3
// CHECK: return
func.func @large_launch_ends_stretch(%a: memref<256xf32>, %b: memref<256xf32>, %c: memref<256xf32>, %d: memref<256xf32>, %e: memref<256xf32>) {
  %c1 = arith.constant 1 : index
  %c65 = arith.constant 65 : index
  %c256 = arith.constant 256 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<256xf32>
    memref.store %v, %b[%tx] : memref<256xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %b[%tx] : memref<256xf32>
    memref.store %v, %c[%tx] : memref<256xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c65, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<256xf32>
    memref.store %v, %e[%tx] : memref<256xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<256xf32>
    memref.store %v, %d[%tx] : memref<256xf32>
    gpu.terminator
  }
  return
}

// -----

// So does an op whose effects are unknown (a call).
// CHECK-LABEL: func.func @call_ends_stretch
// CHECK: gpu.launch
// CHECK: memref.store %{{.*}}, %arg1
// CHECK: gpu.launch
// CHECK: memref.store %{{.*}}, %arg2
// CHECK: call @opaque
// CHECK: gpu.launch
// CHECK: memref.store %{{.*}}, %arg3
// CHECK: return
func.func private @opaque()
func.func @call_ends_stretch(%a: memref<256xf32>, %b: memref<256xf32>, %c: memref<256xf32>, %d: memref<256xf32>) {
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<256xf32>
    memref.store %v, %b[%tx] : memref<256xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %b[%tx] : memref<256xf32>
    memref.store %v, %c[%tx] : memref<256xf32>
    gpu.terminator
  }
  func.call @opaque() : () -> ()
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<256xf32>
    memref.store %v, %d[%tx] : memref<256xf32>
    gpu.terminator
  }
  return
}

// RUN: attn-opt %s --attn-merge-launches="max-blocks=64" --split-input-file | FileCheck %s

// Independent launches (one parameter's update each) become one launch of
// all their blocks: block b runs the body whose range holds it (found by
// branches on the range starts), with its block index shifted to that
// range and the grid size it had; the ops between them stay before it.
// CHECK-LABEL: func.func @independent
// CHECK: %subview = memref.subview
// CHECK: gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C3:.*]], %{{.*}} = %[[ONE:.*]], %{{.*}} = %[[ONE]]) threads
// CHECK: %[[BELOW:.*]] = arith.cmpi ult, %[[BX]], %[[START:.*]] : index
// CHECK: scf.if %[[BELOW]] {
// CHECK: arith.subi %[[BX]]
// CHECK: memref.load %arg0
// CHECK: memref.store %{{.*}}, %arg1
// CHECK: } else {
// CHECK: %[[SHIFTED:.*]] = arith.subi %[[BX]]
// CHECK: %[[GRID:.*]] = arith.constant 2 : index
// CHECK: arith.muli %[[SHIFTED]]
// CHECK: arith.index_cast %[[GRID]]
// CHECK: memref.store %{{.*}}, %subview
// CHECK: gpu.terminator
// CHECK-NEXT: } {attn.kernel = "merged_generic_fill"}
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @independent(%a: memref<256xf32>, %b: memref<256xf32>, %c: memref<512xf32>, %d: memref<8x64xf32>) {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c256 = arith.constant 256 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %i = arith.addi %tx, %bx : index
    %v = memref.load %a[%i] : memref<256xf32>
    memref.store %v, %b[%i] : memref<256xf32>
    gpu.terminator
  } {attn.kernel = "generic"}
  %flat = memref.collapse_shape %d [[0, 1]] : memref<8x64xf32> into memref<512xf32>
  %view = memref.subview %flat[0] [512] [1] : memref<512xf32> to memref<512xf32, strided<[1]>>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c2, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %o = arith.muli %bx, %sx : index
    %i = arith.addi %o, %tx : index
    %v = memref.load %c[%i] : memref<512xf32>
    %g = arith.index_cast %gx : index to i32
    %f = arith.sitofp %g : i32 to f32
    %w = arith.mulf %v, %f : f32
    memref.store %w, %view[%i] : memref<512xf32, strided<[1]>>
    gpu.terminator
  } {attn.kernel = "fill"}
  return
}

// -----

// The second launch reads what the first writes (through a view of the same
// buffer): they stay two launches.
// CHECK-LABEL: func.func @dependent
// CHECK-COUNT-2: gpu.launch
// CHECK-NOT: scf.if
func.func @dependent(%a: memref<256xf32>, %b: memref<256xf32>, %c: memref<256xf32>) {
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<256xf32>
    memref.store %v, %b[%tx] : memref<256xf32>
    gpu.terminator
  }
  %view = memref.subview %b[0] [256] [1] : memref<256xf32> to memref<256xf32, strided<[1]>>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %view[%tx] : memref<256xf32, strided<[1]>>
    memref.store %v, %c[%tx] : memref<256xf32>
    gpu.terminator
  }
  return
}

// -----

// An op between the launches writes what the first one reads: the first
// cannot move past it, and the run ends there. The third launch joins the
// second.
// CHECK-LABEL: func.func @written_between
// CHECK: gpu.launch
// CHECK-NOT: scf.if
// CHECK: gpu.memset
// CHECK: gpu.launch
// CHECK: scf.if
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @written_between(%a: memref<256xf32>, %b: memref<256xf32>, %c: memref<256xf32>, %d: memref<256xf32>) {
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
    %v = memref.load %a[%tx] : memref<256xf32>
    memref.store %v, %d[%tx] : memref<256xf32>
    gpu.terminator
  }
  return
}

// -----

// Left alone: launches of more than max-blocks blocks, of other block sizes,
// with shared memory, or with a two-dimensional grid.
// CHECK-LABEL: func.func @not_candidates
// CHECK-COUNT-5: gpu.launch
// CHECK-NOT: scf.if
func.func @not_candidates(%a: memref<256xf32>, %b: memref<256xf32>, %c: memref<256xf32>, %d: memref<256xf32>, %e: memref<256xf32>, %f: memref<256xf32>) {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c65 = arith.constant 65 : index
  %c128 = arith.constant 128 : index
  %c256 = arith.constant 256 : index
  %bytes = arith.constant 1024 : i32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<256xf32>
    memref.store %v, %b[%tx] : memref<256xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c65, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<256xf32>
    memref.store %v, %c[%tx] : memref<256xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<256xf32>
    memref.store %v, %d[%tx] : memref<256xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) dynamic_shared_memory_size %bytes {
    %v = memref.load %a[%tx] : memref<256xf32>
    memref.store %v, %e[%tx] : memref<256xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c2, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<256xf32>
    memref.store %v, %f[%tx] : memref<256xf32>
    gpu.terminator
  }
  return
}

// -----

// A buffer released between two launches of a run is released after the
// merged launch, which is where its last use now is.
// CHECK-LABEL: func.func @release_deferred
// CHECK: %[[TMP:.*]] = gpu.alloc
// CHECK: gpu.launch
// CHECK: scf.if
// CHECK: memref.store %{{.*}}, %[[TMP]]
// CHECK: gpu.terminator
// CHECK-NEXT: }
// CHECK-NEXT: gpu.dealloc %[[TMP]]
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @release_deferred(%a: memref<256xf32>, %b: memref<256xf32>) {
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %tmp = gpu.alloc () : memref<256xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<256xf32>
    memref.store %v, %tmp[%tx] : memref<256xf32>
    gpu.terminator
  }
  gpu.dealloc %tmp : memref<256xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<256xf32>
    memref.store %v, %b[%tx] : memref<256xf32>
    gpu.terminator
  }
  return
}

// -----

// A run ends before its kernel would take more than max-parameters values
// from outside (here 4: three launches of two buffers each make two runs).
// RUN: attn-opt %s --attn-merge-launches="max-parameters=4" --split-input-file | FileCheck %s --check-prefix=PARAMS
// PARAMS-LABEL: func.func @parameters
// PARAMS: gpu.launch
// PARAMS: scf.if
// PARAMS: gpu.launch
// PARAMS-NOT: scf.if
// PARAMS: return
func.func @parameters(%a: memref<256xf32>, %b: memref<256xf32>, %c: memref<256xf32>, %d: memref<256xf32>, %e: memref<256xf32>, %f: memref<256xf32>) {
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<256xf32>
    memref.store %v, %b[%tx] : memref<256xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %c[%tx] : memref<256xf32>
    memref.store %v, %d[%tx] : memref<256xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %v = memref.load %e[%tx] : memref<256xf32>
    memref.store %v, %f[%tx] : memref<256xf32>
    gpu.terminator
  }
  return
}

// -----

// A tensor copy reads the buffer its map describes: the launch that copies
// from %a stays apart from the one before it, which writes %a; the one
// after it, which writes %c (read by neither), joins it.
// CHECK-LABEL: func.func @tensor_copies
// CHECK: %[[MAP:.*]] = attn.buffer.tensor_map %arg0
// CHECK: gpu.launch
// CHECK: memref.store %{{.*}}, %arg0
// CHECK: gpu.terminator
// CHECK-NEXT: } {attn.kernel = "write"}
// CHECK: gpu.launch
// CHECK: scf.if
// CHECK: llvm.inttoptr %[[MAP]]
// CHECK: nvvm.cp.async.bulk.tensor.shared.cluster.global
// CHECK: } else {
// CHECK: memref.store %{{.*}}, %arg2
// CHECK: } {attn.kernel = "merged_copy_other"}
func.func @tensor_copies(%a: memref<1x64x64xbf16>, %b: memref<256xbf16>, %c: memref<256xf32>) {
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %zero = arith.constant 0.0 : bf16
  %fzero = arith.constant 0.0 : f32
  %map = attn.buffer.tensor_map %a box [1, 64, 64] swizzle 128 : memref<1x64x64xbf16>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %r = arith.divui %tx, %c256 : index
    memref.store %zero, %a[%bx, %r, %r] : memref<1x64x64xbf16>
    gpu.terminator
  } {attn.kernel = "write"}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %i = arith.constant 0 : i32
    %p = llvm.inttoptr %map : i64 to !llvm.ptr
    %s = llvm.mlir.zero : !llvm.ptr<7>
    %bar = llvm.mlir.zero : !llvm.ptr<3>
    nvvm.cp.async.bulk.tensor.shared.cluster.global %s, %p, %bar, box[%i, %i, %i] : !llvm.ptr<7>, !llvm.ptr
    gpu.terminator
  } {attn.kernel = "copy"}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    memref.store %fzero, %c[%tx] : memref<256xf32>
    gpu.terminator
  } {attn.kernel = "other"}
  return
}

// attn-persist-launches: attention's launches as a loop over the tiles of
// their grid, each block walking them from its index by the grid's size,
// every other row of tiles mirrored.
// RUN: attn-opt %s --split-input-file --attn-persist-launches | FileCheck %s
// RUN: attn-opt %s --split-input-file --attn-persist-launches=launches=gradient | FileCheck %s --check-prefix=GRAD
// RUN: not attn-opt %s --split-input-file --attn-persist-launches=launches=keys 2>&1 | FileCheck %s --check-prefix=BAD

// BAD: launches must be forward, gradient or all, not 'keys'

// The forward's launch of 4 query tiles x 2 heads x 3 batches: a grid of
// 24 blocks along x (shrunk later, by attn-specialize-warps), each block
// at s = blockIdx.x, blockIdx.x + gridDim.x, ... taking tile v = s on the
// loop's even iterations and on odd ones the tile mirrored within the
// iteration's gridDim.x tiles (fewer on the last): from the iteration's
// first tile s - blockIdx.x, v = min(first + gridDim.x, 24) - 1 -
// blockIdx.x. Tile v is block
// (v mod 4, v / 4 mod 2, v / 8) of the old grid; the work reads those in
// place of the block's indices. The row group's allocas stay before the
// loop; their fills are the tile's, in it. With launches=gradient the
// forward's launch is left as it is.
// CHECK-LABEL: func.func @forward
// CHECK-DAG: %[[X:.*]] = arith.constant 4 : index
// CHECK-DAG: %[[Y:.*]] = arith.constant 2 : index
// CHECK-DAG: %[[Z:.*]] = arith.constant 3 : index
// CHECK: %[[PLANE:.*]] = arith.muli %[[X]], %[[Y]] : index
// CHECK: %[[TOTAL:.*]] = arith.muli %[[PLANE]], %[[Z]] : index
// CHECK: %[[ONE:.*]] = arith.constant 1 : index
// CHECK: gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%[[GX:.*]] = %[[TOTAL]], %{{.*}} = %[[ONE]], %{{.*}} = %[[ONE]])
// CHECK-NEXT: memref.alloca() : memref<16xf32>
// CHECK-NEXT: memref.alloca() : memref<16xf32>
// CHECK-NEXT: memref.alloca() : memref<16x64xf32>
// CHECK-NEXT: scf.for %[[S:.*]] = %[[BX]] to %[[TOTAL]] step %[[GX]] {
// CHECK-NEXT: %[[FIRST:.*]] = arith.subi %[[S]], %[[BX]]
// CHECK-NEXT: %[[FIRST32:.*]] = arith.index_castui %[[FIRST]] : index to i32
// CHECK-NEXT: %[[GX32:.*]] = arith.index_castui %[[GX]] : index to i32
// CHECK-NEXT: %[[ROW:.*]] = arith.divui %[[FIRST32]], %[[GX32]] : i32
// CHECK-NEXT: %[[BIT:.*]] = arith.constant 1 : i32
// CHECK-NEXT: %[[PARITY:.*]] = arith.andi %[[ROW]], %[[BIT]]
// CHECK-NEXT: %[[ODD:.*]] = arith.cmpi eq, %[[PARITY]], %[[BIT]]
// CHECK-NEXT: %[[C1:.*]] = arith.constant 1 : index
// CHECK-NEXT: %[[NEXT:.*]] = arith.addi %[[FIRST]], %[[GX]]
// CHECK-NEXT: %[[END:.*]] = arith.minui %[[NEXT]], %[[TOTAL]]
// CHECK-NEXT: %[[LAST:.*]] = arith.subi %[[END]], %[[C1]]
// CHECK-NEXT: %[[MIRRORED:.*]] = arith.subi %[[LAST]], %[[BX]]
// CHECK-NEXT: %[[V:.*]] = arith.select %[[ODD]], %[[MIRRORED]], %[[S]]
// CHECK-NEXT: %[[TX:.*]] = arith.remui %[[V]], %[[X]]
// CHECK-NEXT: %[[VY:.*]] = arith.divui %[[V]], %[[X]]
// CHECK-NEXT: %[[TY:.*]] = arith.remui %[[VY]], %[[Y]]
// CHECK-NEXT: %[[TZ:.*]] = arith.divui %[[V]], %[[PLANE]]
// CHECK: arith.muli %[[TX]], %c128
// CHECK: memref.subview %arg0[%[[TZ]], %[[TY]],
// CHECK: linalg.fill
// CHECK: scf.for
// CHECK: attn.tile.softmax_step
// CHECK: attn.tile.softmax_finalize
// CHECK-NEXT: } {attn.persistent}
// CHECK-NEXT: gpu.terminator
// GRAD-LABEL: func.func @forward
// GRAD: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c4, %{{.*}} = %c2, %{{.*}} = %c3)
// GRAD-NOT: attn.persistent
func.func @forward(%q: memref<3x2x512x64xbf16>, %k: memref<3x2x512x64xbf16>, %v: memref<3x2x512x64xbf16>, %o: memref<3x2x512x64xbf16>) {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c256 = arith.constant 256 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c4, %gy = %c2, %gz = %c3) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %c0 = arith.constant 0 : index
    %c16 = arith.constant 16 : index
    %c128 = arith.constant 128 : index
    %c512 = arith.constant 512 : index
    %inf = arith.constant 0xFF800000 : f32
    %zero = arith.constant 0.000000e+00 : f32
    %tile0 = arith.muli %bx, %c128 : index
    %warp = arith.divui %tx, %c16 : index
    %warp0 = arith.muli %warp, %c16 : index
    %row0 = arith.addi %tile0, %warp0 : index
    %left = arith.subi %c512, %row0 : index
    %fewer = arith.minsi %left, %c16 : index
    %rows = arith.maxsi %fewer, %c0 : index
    %qt = memref.subview %q[%bz, %by, %row0, 0] [1, 1, %rows, 64] [1, 1, 1, 1] : memref<3x2x512x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
    %max = memref.alloca() : memref<16xf32>
    %sum = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x64xf32>
    %m = memref.subview %max[0] [%rows] [1] : memref<16xf32> to memref<?xf32, strided<[1]>>
    %l = memref.subview %sum[0] [%rows] [1] : memref<16xf32> to memref<?xf32, strided<[1]>>
    %a = memref.subview %acc[0, 0] [%rows, 64] [1, 1] : memref<16x64xf32> to memref<?x64xf32, strided<[64, 1]>>
    %ac = memref.cast %a : memref<?x64xf32, strided<[64, 1]>> to memref<?x64xf32, strided<[64, 1], offset: ?>>
    linalg.fill ins(%inf : f32) outs(%m : memref<?xf32, strided<[1]>>)
    linalg.fill ins(%zero : f32) outs(%l : memref<?xf32, strided<[1]>>)
    linalg.fill ins(%zero : f32) outs(%a : memref<?x64xf32, strided<[64, 1]>>)
    scf.for %j = %c0 to %c4 step %c1 {
      %k0 = arith.muli %j, %c128 : index
      %kt = memref.subview %k[%bz, %by, %k0, 0] [1, 1, 128, 64] [1, 1, 1, 1] : memref<3x2x512x64xbf16> to memref<128x64xbf16, strided<[64, 1], offset: ?>>
      %vt = memref.subview %v[%bz, %by, %k0, 0] [1, 1, 128, 64] [1, 1, 1, 1] : memref<3x2x512x64xbf16> to memref<128x64xbf16, strided<[64, 1], offset: ?>>
      attn.tile.softmax_step %qt, %kt, %vt into %m, %l, %ac offsets(%row0, %k0) scale 1.250000e-01 : memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<128x64xbf16, strided<[64, 1], offset: ?>>, memref<128x64xbf16, strided<[64, 1], offset: ?>>, memref<?xf32, strided<[1]>>, memref<?x64xf32, strided<[64, 1], offset: ?>>
    }
    %ot = memref.subview %o[%bz, %by, %row0, 0] [1, 1, %rows, 64] [1, 1, 1, 1] : memref<3x2x512x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
    attn.tile.softmax_finalize %l, %ac into %ot : memref<?xf32, strided<[1]>>, memref<?x64xf32, strided<[64, 1], offset: ?>>, memref<?x64xbf16, strided<[64, 1], offset: ?>>
    gpu.terminator
  }
  return
}

// -----

// A forward launch of one warpgroup (128 threads) is left as it is: it
// takes no producer (attn-convert-softmax-tiles-to-gpu), without which
// nothing set up once a launch is carried from tile to tile.
// CHECK-LABEL: func.func @one_warpgroup
// CHECK: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c4, %{{.*}} = %c2, %{{.*}} = %c3)
// CHECK-NOT: attn.persistent
// CHECK: return
func.func @one_warpgroup(%q: memref<3x2x512x64xbf16>, %k: memref<3x2x512x64xbf16>, %v: memref<3x2x512x64xbf16>, %o: memref<3x2x512x64xbf16>) {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c128 = arith.constant 128 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c4, %gy = %c2, %gz = %c3) threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    %c0 = arith.constant 0 : index
    %c16 = arith.constant 16 : index
    %c512 = arith.constant 512 : index
    %inf = arith.constant 0xFF800000 : f32
    %zero = arith.constant 0.000000e+00 : f32
    %tile0 = arith.muli %bx, %c128 : index
    %warp = arith.divui %tx, %c16 : index
    %warp0 = arith.muli %warp, %c16 : index
    %row0 = arith.addi %tile0, %warp0 : index
    %left = arith.subi %c512, %row0 : index
    %fewer = arith.minsi %left, %c16 : index
    %rows = arith.maxsi %fewer, %c0 : index
    %qt = memref.subview %q[%bz, %by, %row0, 0] [1, 1, %rows, 64] [1, 1, 1, 1] : memref<3x2x512x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
    %max = memref.alloca() : memref<16xf32>
    %sum = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x64xf32>
    %m = memref.subview %max[0] [%rows] [1] : memref<16xf32> to memref<?xf32, strided<[1]>>
    %l = memref.subview %sum[0] [%rows] [1] : memref<16xf32> to memref<?xf32, strided<[1]>>
    %a = memref.subview %acc[0, 0] [%rows, 64] [1, 1] : memref<16x64xf32> to memref<?x64xf32, strided<[64, 1]>>
    %ac = memref.cast %a : memref<?x64xf32, strided<[64, 1]>> to memref<?x64xf32, strided<[64, 1], offset: ?>>
    linalg.fill ins(%inf : f32) outs(%m : memref<?xf32, strided<[1]>>)
    linalg.fill ins(%zero : f32) outs(%l : memref<?xf32, strided<[1]>>)
    linalg.fill ins(%zero : f32) outs(%a : memref<?x64xf32, strided<[64, 1]>>)
    scf.for %j = %c0 to %c4 step %c1 {
      %k0 = arith.muli %j, %c128 : index
      %kt = memref.subview %k[%bz, %by, %k0, 0] [1, 1, 128, 64] [1, 1, 1, 1] : memref<3x2x512x64xbf16> to memref<128x64xbf16, strided<[64, 1], offset: ?>>
      %vt = memref.subview %v[%bz, %by, %k0, 0] [1, 1, 128, 64] [1, 1, 1, 1] : memref<3x2x512x64xbf16> to memref<128x64xbf16, strided<[64, 1], offset: ?>>
      attn.tile.softmax_step %qt, %kt, %vt into %m, %l, %ac offsets(%row0, %k0) scale 1.250000e-01 : memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<128x64xbf16, strided<[64, 1], offset: ?>>, memref<128x64xbf16, strided<[64, 1], offset: ?>>, memref<?xf32, strided<[1]>>, memref<?x64xf32, strided<[64, 1], offset: ?>>
    }
    %ot = memref.subview %o[%bz, %by, %row0, 0] [1, 1, %rows, 64] [1, 1, 1, 1] : memref<3x2x512x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
    attn.tile.softmax_finalize %l, %ac into %ot : memref<?xf32, strided<[1]>>, memref<?x64xf32, strided<[64, 1], offset: ?>>, memref<?x64xbf16, strided<[64, 1], offset: ?>>
    gpu.terminator
  }
  return
}

// -----

// Nor is one on a chip without warpgroup MMA (sm_80), which has no
// producers.
// CHECK-LABEL: func.func @forward_sm80
// CHECK: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c4, %{{.*}} = %c2, %{{.*}} = %c3)
// CHECK-NOT: attn.persistent
// CHECK: return
module attributes {attn.target = #attn.target<chip = "sm_80", multiprocessors = 108>} {
func.func @forward_sm80(%q: memref<3x2x512x64xbf16>, %k: memref<3x2x512x64xbf16>, %v: memref<3x2x512x64xbf16>, %o: memref<3x2x512x64xbf16>) {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c256 = arith.constant 256 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c4, %gy = %c2, %gz = %c3) threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %c0 = arith.constant 0 : index
    %c16 = arith.constant 16 : index
    %c128 = arith.constant 128 : index
    %c512 = arith.constant 512 : index
    %inf = arith.constant 0xFF800000 : f32
    %zero = arith.constant 0.000000e+00 : f32
    %tile0 = arith.muli %bx, %c128 : index
    %warp = arith.divui %tx, %c16 : index
    %warp0 = arith.muli %warp, %c16 : index
    %row0 = arith.addi %tile0, %warp0 : index
    %left = arith.subi %c512, %row0 : index
    %fewer = arith.minsi %left, %c16 : index
    %rows = arith.maxsi %fewer, %c0 : index
    %qt = memref.subview %q[%bz, %by, %row0, 0] [1, 1, %rows, 64] [1, 1, 1, 1] : memref<3x2x512x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
    %max = memref.alloca() : memref<16xf32>
    %sum = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x64xf32>
    %m = memref.subview %max[0] [%rows] [1] : memref<16xf32> to memref<?xf32, strided<[1]>>
    %l = memref.subview %sum[0] [%rows] [1] : memref<16xf32> to memref<?xf32, strided<[1]>>
    %a = memref.subview %acc[0, 0] [%rows, 64] [1, 1] : memref<16x64xf32> to memref<?x64xf32, strided<[64, 1]>>
    %ac = memref.cast %a : memref<?x64xf32, strided<[64, 1]>> to memref<?x64xf32, strided<[64, 1], offset: ?>>
    linalg.fill ins(%inf : f32) outs(%m : memref<?xf32, strided<[1]>>)
    linalg.fill ins(%zero : f32) outs(%l : memref<?xf32, strided<[1]>>)
    linalg.fill ins(%zero : f32) outs(%a : memref<?x64xf32, strided<[64, 1]>>)
    scf.for %j = %c0 to %c4 step %c1 {
      %k0 = arith.muli %j, %c128 : index
      %kt = memref.subview %k[%bz, %by, %k0, 0] [1, 1, 128, 64] [1, 1, 1, 1] : memref<3x2x512x64xbf16> to memref<128x64xbf16, strided<[64, 1], offset: ?>>
      %vt = memref.subview %v[%bz, %by, %k0, 0] [1, 1, 128, 64] [1, 1, 1, 1] : memref<3x2x512x64xbf16> to memref<128x64xbf16, strided<[64, 1], offset: ?>>
      attn.tile.softmax_step %qt, %kt, %vt into %m, %l, %ac offsets(%row0, %k0) scale 1.250000e-01 : memref<?x64xbf16, strided<[64, 1], offset: ?>>, memref<128x64xbf16, strided<[64, 1], offset: ?>>, memref<128x64xbf16, strided<[64, 1], offset: ?>>, memref<?xf32, strided<[1]>>, memref<?x64xf32, strided<[64, 1], offset: ?>>
    }
    %ot = memref.subview %o[%bz, %by, %row0, 0] [1, 1, %rows, 64] [1, 1, 1, 1] : memref<3x2x512x64xbf16> to memref<?x64xbf16, strided<[64, 1], offset: ?>>
    attn.tile.softmax_finalize %l, %ac into %ot : memref<?xf32, strided<[1]>>, memref<?x64xf32, strided<[64, 1], offset: ?>>, memref<?x64xbf16, strided<[64, 1], offset: ?>>
    gpu.terminator
  }
  return
}
}

// -----

// A launch of other work (here, no tile op at all) is left as it is.
// CHECK-LABEL: func.func @other
// CHECK: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c4, %{{.*}} = %c1, %{{.*}} = %c1)
// CHECK-NOT: attn.persistent
// CHECK: return
func.func @other(%out: memref<4xf32>) {
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c4, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %zero = arith.constant 0.000000e+00 : f32
    memref.store %zero, %out[%bx] : memref<4xf32>
    gpu.terminator
  }
  return
}

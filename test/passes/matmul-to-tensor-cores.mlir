// The host's products on tensor cores (linalg.matmul, and generics that
// are batched products: out + x y over batch dimensions): a 4-warp block per 64 x 64
// tile of C, K in steps of 32 through shared memory, mma.sync.m16n8k8 in
// TF32 -- three products per tile for f32 operands (3xTF32) -- or, where
// both operands are bf16 (or f16), mma.sync.m16n8k16 on 16-bit tiles.
// A fill of C before the product and an elementwise consumer after it run
// in the kernel; an operand that a transpose wrote is read transposed.
// Compiled for sm_80, which has no warpgroup MMA (sm_90a's large 16-bit
// tiles: matmul-to-warpgroup-mma.mlir).
// RUN: attn-opt %s --attn-set-target=chip=sm_80 --attn-matmul-to-tensor-cores --attn-allocate-shared-memory --canonicalize --cse | FileCheck %s

#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>

// A projection as attn-convert-encoder-to-linalg writes it, bufferized: C
// is zeros, the bias added by a generic into a buffer of its own.
// CHECK-LABEL: func.func @project(
// CHECK-SAME: %[[X:[^:]*]]: memref<135x70xf32>, %[[W:[^:]*]]: memref<70x130xf32>, %[[BIAS:[^:]*]]: memref<130xf32>
// CHECK-NOT: linalg.fill
// CHECK: %[[Y:.*]] = memref.alloc(){{.*}} : memref<135x130xf32>
// CHECK-NOT: memref.alloc
// CHECK: gpu.launch blocks(%[[BX:.*]], %[[BY:.*]], %{{.*}}) in (%{{.*}} = %c3, %{{.*}} = %c3, %{{.*}} = %c1) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c128, %{{.*}} = %c1, %{{.*}} = %c1) dynamic_shared_memory_size %c18432_i32
// CHECK:   %[[SMEM:.*]] = gpu.dynamic_shared_memory
// CHECK:   %[[ABUF:.*]] = memref.view %[[SMEM]][%c0][] {{.*}} to memref<9216xi8, #gpu.address_space<workgroup>>
// CHECK:   %[[BBUF:.*]] = memref.view %[[SMEM]][%c9216][] {{.*}} to memref<9216xi8, #gpu.address_space<workgroup>>
// CHECK:   %[[AS:.*]] = memref.view %[[ABUF]][%c0][] {{.*}} to memref<64x36xf32, #gpu.address_space<workgroup>>
// CHECK:   %[[BS:.*]] = memref.view %[[BBUF]][%c0][] {{.*}} to memref<32x72xf32, #gpu.address_space<workgroup>>
// CHECK-NOT: memref.load %[[Y]]
// The first K step's elements, 16 of A and 16 of B per thread.
// CHECK-COUNT-16: memref.load %[[X]]
// CHECK-COUNT-16: memref.load %[[W]]
// CHECK:   scf.for %{{.*}} = %c0 to %c3 step %c1 iter_args({{.*}}%{{.*}} = %cst, {{.*}}) -> (f32,
// CHECK-COUNT-16: memref.store %{{.*}}, %[[AS]]
// CHECK-COUNT-16: memref.store %{{.*}}, %[[BS]]
// CHECK:     gpu.barrier
// The next step's elements while this one's products run.
// CHECK-COUNT-16: memref.load %[[X]]
// CHECK-COUNT-16: memref.load %[[W]]
// Fragments split into TF32 parts: the top 19 bits, and the rest's.
// CHECK:     %[[BITS:.*]] = arith.bitcast %{{.*}} : f32 to i32
// CHECK:     %[[BIG:.*]] = arith.andi %[[BITS]], %c-8192_i32
// CHECK:     %[[BIGF:.*]] = arith.bitcast %[[BIG]] : i32 to f32
// CHECK:     arith.subf %{{.*}}, %[[BIGF]]
// Four k-steps of 8, each 2 x 4 tiles of three products.
// CHECK-COUNT-96: nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<tf32>, multiplicandBPtxType = #nvvm.mma_type<tf32>, shape = #nvvm.shape<m = 16, n = 8, k = 8>
// CHECK-NOT: nvvm.mma.sync
// CHECK:     gpu.barrier
// CHECK:     scf.yield
// The bias added to each accumulator, stored once into the output: a
// lane's two columns of a row as one pair (130 columns: pairs), the bias's
// two as one load, inside the output's bounds (135 rows are no whole
// number of tiles).
// CHECK:   scf.if
// CHECK:     %[[B:.*]] = vector.load %[[BIAS]][%{{.*}}] {alignment = 8 : i64} : memref<130xf32>, vector<2xf32>
// CHECK:     %[[B0:.*]] = vector.extract %[[B]][0]
// CHECK:     %[[B1:.*]] = vector.extract %[[B]][1]
// CHECK:     %[[V0:.*]] = arith.addf %{{.*}}, %[[B0]] : f32
// CHECK:     %[[V1:.*]] = arith.addf %{{.*}}, %[[B1]] : f32
// CHECK:     %[[PAIR:.*]] = vector.from_elements %[[V0]], %[[V1]] : vector<2xf32>
// CHECK:     vector.store %[[PAIR]], %[[Y]][{{.*}}] {alignment = 8 : i64} : memref<135x130xf32>, vector<2xf32>
// CHECK-COUNT-15: vector.store %{{.*}}, %[[Y]]
// CHECK-NOT: memref.store
// CHECK-NOT: vector.store
// CHECK:   gpu.terminator
// CHECK: } {attn.kernel = "tensor_core_matmul", attn.min_blocks_per_sm = 2 : i64}
// CHECK-NOT: linalg.
// CHECK-NOT: memref.dealloc
// CHECK: return %[[Y]]
func.func @project(%x: memref<135x70xf32>, %w: memref<70x130xf32>, %bias: memref<130xf32>) -> memref<135x130xf32> {
  %zero = arith.constant 0.0 : f32
  %acc = memref.alloc() : memref<135x130xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<135x130xf32>)
  linalg.matmul ins(%x, %w : memref<135x70xf32>, memref<70x130xf32>) outs(%acc : memref<135x130xf32>)
  %y = memref.alloc() : memref<135x130xf32>
  linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%acc, %bias : memref<135x130xf32>, memref<130xf32>) outs(%y : memref<135x130xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  }
  memref.dealloc %acc : memref<135x130xf32>
  return %y : memref<135x130xf32>
}

// C += A B on a C of the caller: read first, written last. Both operands
// bf16: the tiles stay bf16 in shared memory (64 x 40 and 32 x 72, rows of
// 16-byte multiples for ldmatrix), and each step of 32 is two k-steps of
// 16: ldmatrix of A's two row tiles, of B's two pairs of column tiles
// (transposed), and 2 x 4 m16n8k16 products. Both operands' rows hold whole
// 16-byte runs: they are copied by cp.async straight into three shared
// stages (29184 bytes), the loop pipelined by pipelineCopies: steps 0 and 1
// in flight before it, step i + 2 issued under the iteration's predicate
// (one group: two copies of A and two of B per thread, zeros past the
// ends) before waiting for step i's group; nothing in flight at the end.
// Row tiles go along x.
// CHECK-LABEL: func.func @accumulate_bf16(
// CHECK-SAME: %{{[^:]*}}: memref<200x48xbf16>, %{{[^:]*}}: memref<48x8xbf16>, %[[C:[^:]*]]: memref<200x8xf32>
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %c4, %{{.*}} = %c1, %{{.*}} = %c1) {{.*}} dynamic_shared_memory_size %c29184_i32
// CHECK-COUNT-32: memref.load %[[C]]
// CHECK: %[[A0:.*]] = memref.view {{.*}} to memref<64x40xbf16, #gpu.address_space<workgroup>>
// CHECK-COUNT-2: nvgpu.device_async_copy %arg0[{{.*}}], %[[A0]][{{.*}}], 8, %{{.*}} {bypassL1} : memref<200x48xbf16> to memref<64x40xbf16, #gpu.address_space<workgroup>>
// CHECK-COUNT-2: nvgpu.device_async_copy %arg1[{{.*}}], %{{.*}}, 8, %{{.*}} {bypassL1} : memref<48x8xbf16> to memref<32x72xbf16, #gpu.address_space<workgroup>>
// CHECK: nvgpu.device_async_create_group
// CHECK-COUNT-4: nvgpu.device_async_copy
// CHECK: nvgpu.device_async_create_group
// CHECK: scf.for
// CHECK:   gpu.barrier
// CHECK:   scf.if %{{[0-9]+}} {
// CHECK-COUNT-4: nvgpu.device_async_copy
// CHECK:   %[[AHEAD:.*]] = nvgpu.device_async_create_group
// CHECK:   nvgpu.device_async_wait %[[AHEAD]] {numGroups = 2 : i32}
// CHECK:   gpu.barrier
// CHECK-NOT: nvgpu.device_async_copy
// CHECK-COUNT-2: nvgpu.ldmatrix {{.*}}transpose = false
// CHECK: nvgpu.ldmatrix {{.*}}transpose = true
// CHECK-COUNT-4: nvvm.mma.sync {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK: nvgpu.ldmatrix {{.*}}transpose = true
// CHECK-COUNT-4: nvvm.mma.sync {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK-COUNT-2: nvgpu.ldmatrix
// CHECK-COUNT-8: nvvm.mma.sync
// CHECK-NOT: nvvm.mma.sync
// CHECK: scf.yield
// CHECK: nvgpu.device_async_wait %{{.*}} {numGroups = 0 : i32}
// CHECK-NEXT: gpu.barrier
// CHECK-COUNT-16: vector.store %{{.*}}, %[[C]][{{.*}}] {alignment = 8 : i64} : memref<200x8xf32>, vector<2xf32>
// CHECK-NOT: linalg.matmul
func.func @accumulate_bf16(%a: memref<200x48xbf16>, %b: memref<48x8xbf16>, %c: memref<200x8xf32>) {
  linalg.matmul ins(%a, %b : memref<200x48xbf16>, memref<48x8xbf16>) outs(%c : memref<200x8xf32>)
  return
}

// A's rows of 50 elements do not hold whole 16-byte runs: both tiles are
// staged through registers one step ahead (A element by element, B in
// runs), into one shared stage.
// CHECK-LABEL: func.func @accumulate_bf16_unaligned(
// CHECK: gpu.launch {{.*}} dynamic_shared_memory_size %c9728_i32
// CHECK-NOT: nvgpu.device_async_copy
// CHECK-DAG: %[[SA:.*]] = memref.view {{.*}} to memref<64x40xbf16, #gpu.address_space<workgroup>>
// CHECK-DAG: %[[SB:.*]] = memref.view {{.*}} to memref<32x72xbf16, #gpu.address_space<workgroup>>
// CHECK: vector.load %arg1[{{.*}}] {alignment = 16 : i64} : memref<50x16xbf16>, vector<8xbf16>
// CHECK: scf.for
// CHECK-COUNT-16: memref.store %{{.*}}, %[[SA]]
// CHECK: vector.store %{{.*}}, %[[SB]]
// CHECK: gpu.barrier
// CHECK: nvgpu.ldmatrix %[[SA]]
// CHECK: scf.yield
func.func @accumulate_bf16_unaligned(%a: memref<200x50xbf16>, %b: memref<50x16xbf16>, %c: memref<200x16xf32>) {
  linalg.matmul ins(%a, %b : memref<200x50xbf16>, memref<50x16xbf16>) outs(%c : memref<200x16xf32>)
  return
}

// The consumer stays a generic where memory is written between it and the
// product (it could read what was written); then C is stored.
// CHECK-LABEL: func.func @consumer_after_a_write(
// CHECK: %[[ACC:.*]] = memref.alloc()
// CHECK: gpu.launch
// 64 x 64: whole tiles, stored without bounds checks.
// CHECK: scf.for
// CHECK: scf.yield
// CHECK-NOT: scf.if
// CHECK: vector.store %{{.*}}, %[[ACC]][
// CHECK: gpu.terminator
// CHECK: memref.copy
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[ACC]], %{{.*}} : memref<64x64xf32>, memref<64xf32>)
func.func @consumer_after_a_write(%x: memref<64x64xf32>, %w: memref<64x64xf32>, %bias: memref<64xf32>, %other: memref<64xf32>, %y: memref<64x64xf32>) {
  %zero = arith.constant 0.0 : f32
  %acc = memref.alloc() : memref<64x64xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<64x64xf32>)
  linalg.matmul ins(%x, %w : memref<64x64xf32>, memref<64x64xf32>) outs(%acc : memref<64x64xf32>)
  memref.copy %other, %bias : memref<64xf32> to memref<64xf32>
  linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%acc, %bias : memref<64x64xf32>, memref<64xf32>) outs(%y : memref<64x64xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  }
  memref.dealloc %acc : memref<64x64xf32>
  return
}

// An odd number of columns holds no aligned pairs: each element is stored
// alone, inside C's bounds.
// CHECK-LABEL: func.func @odd_columns(
// CHECK: gpu.launch
// CHECK: scf.yield
// CHECK-NOT: vector.store
// CHECK: scf.if
// CHECK:   memref.store %{{.*}}, %arg2[{{.*}}] : memref<64x63xf32>
// CHECK-COUNT-31: memref.store %{{.*}}, %arg2
// CHECK-NOT: vector.store
// CHECK: gpu.terminator
func.func @odd_columns(%a: memref<64x64xf32>, %b: memref<64x63xf32>, %c: memref<64x63xf32>) {
  linalg.matmul ins(%a, %b : memref<64x64xf32>, memref<64x63xf32>) outs(%c : memref<64x63xf32>)
  return
}

// Left to attn-map-loops-to-gpu: a bf16 C; a dynamic size; a product on
// tensors.
// CHECK-LABEL: func.func @left_alone(
// CHECK-NOT: gpu.launch
// CHECK: linalg.matmul
// CHECK: linalg.matmul
// CHECK: linalg.matmul
func.func @left_alone(%a: memref<8x8xbf16>, %b: memref<8x8xbf16>, %c: memref<8x8xbf16>, %d: memref<?x8xf32>, %e: memref<8x8xf32>, %f: memref<?x8xf32>, %t: tensor<8x8xf32>) -> tensor<8x8xf32> {
  linalg.matmul ins(%a, %b : memref<8x8xbf16>, memref<8x8xbf16>) outs(%c : memref<8x8xbf16>)
  linalg.matmul ins(%d, %e : memref<?x8xf32>, memref<8x8xf32>) outs(%f : memref<?x8xf32>)
  %r = linalg.matmul ins(%t, %t : tensor<8x8xf32>, tensor<8x8xf32>) outs(%t : tensor<8x8xf32>) -> tensor<8x8xf32>
  return %r : tensor<8x8xf32>
}

// Few tiles of C over a long K (a weight's gradient): with the default
// target's 132 multiprocessors, 1 tile is split into 32 ranges of 8 steps,
// one per grid z, each block writing its partial tile; C keeps its fill,
// and a generic adds the partials into it.
// CHECK-LABEL: func.func @weight_gradient(
// CHECK:   %[[C:.*]] = memref.alloc() {{.*}}: memref<64x64xf32>
// CHECK:   linalg.fill ins(%{{.*}} : f32) outs(%[[C]] : memref<64x64xf32>)
// CHECK:   %[[P:.*]] = memref.alloc() : memref<32x64x64xf32>
// CHECK:   gpu.launch blocks(%{{.*}}, %{{.*}}, %[[Z:.*]]) in (%{{.*}} = %c1, %{{.*}} = %c1, %{{.*}} = %c32)
// CHECK:     %[[BASE:.*]] = arith.muli %[[Z]], %c256
// CHECK:     scf.for %{{.*}} = %c0 to %c8 step %c1
// CHECK-NOT:   memref.load %[[C]][
// CHECK:     vector.store %{{.*}}, %[[P]][%[[Z]], %{{.*}}, %{{.*}}] {alignment = 8 : i64} : memref<32x64x64xf32>, vector<2xf32>
// CHECK-NOT: store %{{.*}}, %[[C]][
// CHECK:   } {attn.kernel = "tensor_core_matmul", attn.min_blocks_per_sm = 2 : i64}
// CHECK:   linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[P]] : memref<32x64x64xf32>) outs(%[[C]] : memref<64x64xf32>)
// CHECK:     arith.addf
// CHECK:   memref.dealloc %[[P]]
func.func @weight_gradient(%x: memref<64x8192xf32>, %dy: memref<8192x64xf32>) -> memref<64x64xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<64x64xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<64x64xf32>)
  linalg.matmul ins(%x, %dy : memref<64x8192xf32>, memref<8192x64xf32>) outs(%c : memref<64x64xf32>)
  return %c : memref<64x64xf32>
}

// A weight's gradient as reverse mode writes it, X^T dY with X^T a
// transpose of its own: the kernel reads X itself, staging [32, 64] tiles
// of X^T as they lie in X (rows of 72: 16-byte multiples) and taking A's
// fragments by ldmatrix.trans; the transpose and its buffer are gone.
// CHECK-LABEL: func.func @weight_gradient_of_transpose(
// CHECK-SAME: %[[X:[^:]*]]: memref<8192x64xbf16>, %[[DY:[^:]*]]: memref<8192x64xbf16>
// CHECK-NOT: linalg.transpose
// CHECK-NOT: memref<64x8192xbf16>
// CHECK: gpu.launch
// CHECK-COUNT-2: nvgpu.device_async_copy %[[X]][{{.*}}], %{{.*}}[{{.*}}], 8, %{{.*}} {bypassL1} : memref<8192x64xbf16> to memref<32x72xbf16, #gpu.address_space<workgroup>>
// CHECK-COUNT-2: nvgpu.device_async_copy %[[DY]][{{.*}}], %{{.*}}[{{.*}}], 8, %{{.*}} {bypassL1} : memref<8192x64xbf16> to memref<32x72xbf16, #gpu.address_space<workgroup>>
// CHECK: scf.for
// CHECK: nvgpu.device_async_wait
// CHECK-COUNT-2: nvgpu.ldmatrix %{{.*}} {numTiles = 4 : i32, transpose = true} : memref<32x72xbf16
// CHECK: nvgpu.ldmatrix %{{.*}} {numTiles = 4 : i32, transpose = true} : memref<32x72xbf16
// CHECK: } {attn.kernel = "tensor_core_matmul", attn.min_blocks_per_sm = 2 : i64}
// CHECK-NOT: linalg.transpose
// CHECK-NOT: memref.dealloc %{{.*}} : memref<64x8192xbf16>
func.func @weight_gradient_of_transpose(%x: memref<8192x64xbf16>, %dy: memref<8192x64xbf16>) -> memref<64x64xf32> {
  %zero = arith.constant 0.0 : f32
  %xt = memref.alloc() : memref<64x8192xbf16>
  linalg.transpose ins(%x : memref<8192x64xbf16>) outs(%xt : memref<64x8192xbf16>) permutation = [1, 0]
  %c = memref.alloc() : memref<64x64xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<64x64xf32>)
  linalg.matmul ins(%xt, %dy : memref<64x8192xbf16>, memref<8192x64xbf16>) outs(%c : memref<64x64xf32>)
  memref.dealloc %xt : memref<64x8192xbf16>
  return %c : memref<64x64xf32>
}

// An input's gradient dY W^T with W^T a transpose: W's [64, 32] tiles
// (B^T, rows of K) staged as they lie, B's fragments by plain ldmatrix.
// CHECK-LABEL: func.func @input_gradient_of_transpose_bf16(
// CHECK-SAME: %[[DY:[^:]*]]: memref<100x48xbf16>, %[[W:[^:]*]]: memref<40x48xbf16>
// CHECK-NOT: linalg.transpose
// CHECK: gpu.launch
// CHECK: nvgpu.device_async_copy %[[W]][{{.*}}], %{{.*}}[{{.*}}], 8, %{{.*}} {bypassL1} : memref<40x48xbf16> to memref<64x40xbf16, #gpu.address_space<workgroup>>
// CHECK: scf.for
// CHECK: nvgpu.ldmatrix %{{.*}} {numTiles = 4 : i32, transpose = false} : memref<64x40xbf16
// CHECK: nvgpu.ldmatrix %{{.*}} {numTiles = 4 : i32, transpose = false} : memref<64x40xbf16
// CHECK: } {attn.kernel = "tensor_core_matmul", attn.min_blocks_per_sm = 2 : i64}
// CHECK-NOT: linalg.transpose
func.func @input_gradient_of_transpose_bf16(%dy: memref<100x48xbf16>, %w: memref<40x48xbf16>) -> memref<100x40xf32> {
  %zero = arith.constant 0.0 : f32
  %wt = memref.alloc() : memref<48x40xbf16>
  linalg.transpose ins(%w : memref<40x48xbf16>) outs(%wt : memref<48x40xbf16>) permutation = [1, 0]
  %c = memref.alloc() : memref<100x40xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<100x40xf32>)
  linalg.matmul ins(%dy, %wt : memref<100x48xbf16>, memref<48x40xbf16>) outs(%c : memref<100x40xf32>)
  memref.dealloc %wt : memref<48x40xbf16>
  return %c : memref<100x40xf32>
}

// The fill of C before the transpose of W (as bufferization orders a
// function that fills its result first): the transpose is not run (the
// kernel reads W), so nothing runs between the fill and the product, and
// the fill is the accumulators' first value; C is never read.
// CHECK-LABEL: func.func @fill_of_an_argument_before_a_transpose(
// CHECK-SAME: %[[C:[^:]*]]: memref<100x40xf32>
// CHECK-NOT: linalg.
// CHECK: gpu.launch
// CHECK-NOT: memref.load %[[C]]
// CHECK: } {attn.kernel = "tensor_core_matmul", attn.min_blocks_per_sm = 2 : i64}
// CHECK-NOT: linalg.
func.func @fill_of_an_argument_before_a_transpose(%dy: memref<100x48xbf16>, %w: memref<40x48xbf16>, %c: memref<100x40xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<100x40xf32>)
  %wt = memref.alloc() : memref<48x40xbf16>
  linalg.transpose ins(%w : memref<40x48xbf16>) outs(%wt : memref<48x40xbf16>) permutation = [1, 0]
  linalg.matmul ins(%dy, %wt : memref<100x48xbf16>, memref<48x40xbf16>) outs(%c : memref<100x40xf32>)
  memref.dealloc %wt : memref<48x40xbf16>
  return
}

// C an argument, and between its fill and the product an op that reads
// another argument, which may be C itself: the fill stays.
// CHECK-LABEL: func.func @fill_of_an_argument_then_a_read(
// CHECK-SAME: %[[C:[^:]*]]: memref<100x40xf32>
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[C]] : memref<100x40xf32>)
// CHECK: linalg.copy
// CHECK: gpu.launch
// CHECK: memref.load %[[C]]
// CHECK: } {attn.kernel = "tensor_core_matmul", attn.min_blocks_per_sm = 2 : i64}
func.func @fill_of_an_argument_then_a_read(%dy: memref<100x48xbf16>, %w: memref<48x40xbf16>, %c: memref<100x40xf32>, %other: memref<100x40xf32>) -> memref<100x40xf32> {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<100x40xf32>)
  %copy = memref.alloc() : memref<100x40xf32>
  linalg.copy ins(%other : memref<100x40xf32>) outs(%copy : memref<100x40xf32>)
  linalg.matmul ins(%dy, %w : memref<100x48xbf16>, memref<48x40xbf16>) outs(%c : memref<100x40xf32>)
  return %copy : memref<100x40xf32>
}

// An op between the fill and the product that reads C (a view of it):
// the fill runs where it is, and the kernel reads C. (Any op with effects
// between the two keeps the fill.)
// CHECK-LABEL: func.func @fill_read_before_the_product(
// CHECK: %[[C:.*]] = memref.alloc() {{.*}}: memref<100x40xf32>
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[C]] : memref<100x40xf32>)
// CHECK: linalg.copy
// CHECK: gpu.launch
// CHECK: memref.load %[[C]]
// CHECK: } {attn.kernel = "tensor_core_matmul", attn.min_blocks_per_sm = 2 : i64}
func.func @fill_read_before_the_product(%dy: memref<100x48xbf16>, %w: memref<48x40xbf16>, %row: memref<1x40xf32>) -> memref<100x40xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<100x40xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<100x40xf32>)
  %first = memref.subview %c[0, 0] [1, 40] [1, 1] : memref<100x40xf32> to memref<1x40xf32, strided<[40, 1]>>
  linalg.copy ins(%first : memref<1x40xf32, strided<[40, 1]>>) outs(%row : memref<1x40xf32>)
  linalg.matmul ins(%dy, %w : memref<100x48xbf16>, memref<48x40xbf16>) outs(%c : memref<100x40xf32>)
  return %c : memref<100x40xf32>
}

// Both operands transposes, f32 (3xTF32): the tiles as they lie, A^T
// [32, 72] and B^T [64, 36] (the pads that keep a fragment's lanes on
// distinct banks), the fragments' elements read with indices swapped.
// CHECK-LABEL: func.func @both_transposed_f32(
// CHECK-SAME: %[[X:[^:]*]]: memref<70x135xf32>, %[[W:[^:]*]]: memref<130x70xf32>
// CHECK-NOT: linalg.transpose
// CHECK: gpu.launch
// CHECK: %[[LANE:.*]] = arith.remui %{{.*}}, %c32 : index
// CHECK: %[[T:.*]] = arith.remui %[[LANE]], %c4 : index
// CHECK-DAG: %[[SA:.*]] = memref.view {{.*}} to memref<32x72xf32, #gpu.address_space<workgroup>>
// CHECK-DAG: %[[SB:.*]] = memref.view {{.*}} to memref<64x36xf32, #gpu.address_space<workgroup>>
// CHECK-COUNT-16: memref.load %[[X]]
// CHECK-COUNT-16: memref.load %[[W]]
// CHECK: scf.for
// CHECK: memref.load %[[SA]][%[[T]], %{{.*}}] : memref<32x72xf32, #gpu.address_space<workgroup>>
// CHECK: memref.load %[[SB]][%{{.*}}, %[[T]]] : memref<64x36xf32, #gpu.address_space<workgroup>>
// CHECK: } {attn.kernel = "tensor_core_matmul", attn.min_blocks_per_sm = 2 : i64}
// CHECK-NOT: linalg.transpose
func.func @both_transposed_f32(%x: memref<70x135xf32>, %w: memref<130x70xf32>) -> memref<135x130xf32> {
  %zero = arith.constant 0.0 : f32
  %xt = memref.alloc() : memref<135x70xf32>
  linalg.transpose ins(%x : memref<70x135xf32>) outs(%xt : memref<135x70xf32>) permutation = [1, 0]
  %wt = memref.alloc() : memref<70x130xf32>
  linalg.transpose ins(%w : memref<130x70xf32>) outs(%wt : memref<70x130xf32>) permutation = [1, 0]
  %c = memref.alloc() : memref<135x130xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<135x130xf32>)
  linalg.matmul ins(%xt, %wt : memref<135x70xf32>, memref<70x130xf32>) outs(%c : memref<135x130xf32>)
  memref.dealloc %xt : memref<135x70xf32>
  memref.dealloc %wt : memref<70x130xf32>
  return %c : memref<135x130xf32>
}

// Transposes that stay: one whose buffer something else reads too, and
// one whose input is written between it and the product.
// CHECK-LABEL: func.func @transposes_that_stay(
// CHECK: linalg.transpose
// CHECK: gpu.launch
// CHECK: linalg.transpose
// CHECK: memref.copy
// CHECK: gpu.launch
func.func @transposes_that_stay(%x: memref<64x64xf32>, %w: memref<64x64xf32>, %other: memref<64x64xf32>, %c: memref<64x64xf32>, %d: memref<64x64xf32>) -> memref<64x64xf32> {
  %xt = memref.alloc() : memref<64x64xf32>
  linalg.transpose ins(%x : memref<64x64xf32>) outs(%xt : memref<64x64xf32>) permutation = [1, 0]
  linalg.matmul ins(%xt, %w : memref<64x64xf32>, memref<64x64xf32>) outs(%c : memref<64x64xf32>)
  %wt = memref.alloc() : memref<64x64xf32>
  linalg.transpose ins(%w : memref<64x64xf32>) outs(%wt : memref<64x64xf32>) permutation = [1, 0]
  memref.copy %other, %w : memref<64x64xf32> to memref<64x64xf32>
  linalg.matmul ins(%x, %wt : memref<64x64xf32>, memref<64x64xf32>) outs(%d : memref<64x64xf32>)
  memref.dealloc %wt : memref<64x64xf32>
  return %xt : memref<64x64xf32>
}

// Batched contractions written as generics (linear attention's gradient):
// S[b, h] = phi(K)[b, h]^T V[b, h] over the keys is a product per (b, h),
// A stored transposed ([M, F]); the batch is grid z, each block taking its
// matrices by subviews of the operands collapsed to [B H, R, C] and all
// of K (too short to split: z is not a range of K here); C's fill is the
// accumulators' first value.
#k5 = affine_map<(b, h, f, e, m) -> (b, h, m, f)>
#v5 = affine_map<(b, h, f, e, m) -> (b, h, m, e)>
#s5 = affine_map<(b, h, f, e, m) -> (b, h, f, e)>
// CHECK-LABEL: func.func @batched_state(
// CHECK-SAME: %[[K:[^:]*]]: memref<2x3x100x32xf32>, %[[V:[^:]*]]: memref<2x3x100x40xf32>
// CHECK-NOT: linalg.fill
// CHECK: %[[S:.*]] = memref.alloc() : memref<2x3x32x40xf32>
// CHECK-DAG: %[[K3:.*]] = memref.collapse_shape %[[K]] {{\[\[}}0, 1], [2], [3]] : memref<2x3x100x32xf32> into memref<6x100x32xf32>
// CHECK-DAG: %[[V3:.*]] = memref.collapse_shape %[[V]] {{\[\[}}0, 1], [2], [3]]
// CHECK-DAG: %[[S3:.*]] = memref.collapse_shape %[[S]] {{\[\[}}0, 1], [2], [3]]
// CHECK: gpu.launch blocks(%{{.*}}, %{{.*}}, %[[Z:.*]]) in (%{{.*}} = %c1, %{{.*}} = %c1, %{{.*}} = %c6)
// CHECK-DAG: memref.subview %[[K3]][%[[Z]], 0, 0] [1, 100, 32] [1, 1, 1]
// CHECK-DAG: memref.subview %[[V3]][%[[Z]], 0, 0] [1, 100, 40] [1, 1, 1]
// CHECK-DAG: memref.subview %[[S3]][%[[Z]], 0, 0] [1, 32, 40] [1, 1, 1]
// CHECK-DAG: memref.view {{.*}} to memref<32x72xf32, #gpu.address_space<workgroup>>
// CHECK-NOT: arith.muli %[[Z]]
// CHECK: scf.for
// CHECK-NOT: arith.muli %[[Z]]
// CHECK: nvvm.mma.sync
// CHECK-NOT: arith.muli %[[Z]]
// CHECK: } {attn.kernel = "tensor_core_matmul", attn.min_blocks_per_sm = 2 : i64}
// CHECK-NOT: linalg.generic
func.func @batched_state(%k: memref<2x3x100x32xf32>, %v: memref<2x3x100x40xf32>) -> memref<2x3x32x40xf32> {
  %zero = arith.constant 0.0 : f32
  %s = memref.alloc() : memref<2x3x32x40xf32>
  linalg.fill ins(%zero : f32) outs(%s : memref<2x3x32x40xf32>)
  linalg.generic {indexing_maps = [#k5, #v5, #s5], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%k, %v : memref<2x3x100x32xf32>, memref<2x3x100x40xf32>) outs(%s : memref<2x3x32x40xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  return %s : memref<2x3x32x40xf32>
}

// Linear attention's state gradient at its size (24 x 4 matrices of 64 x
// 64 over 2048 tokens): 96 blocks would leave the machine idle, so each
// matrix's K splits in 4 ranges of 512 -- grid z is 384, block z the
// matrix z / 4 and the range z % 4 -- into partial sums [4, 96, 64, 64],
// added into the state after the kernel (whose fill is then a fill).
// CHECK-LABEL: func.func @batched_split(
// CHECK: %[[S:.*]] = memref.alloc() : memref<24x4x64x64xf32>
// CHECK: linalg.fill {{.*}} outs(%[[S]]
// CHECK: %[[S3:.*]] = memref.collapse_shape %[[S]] {{\[\[}}0, 1], [2], [3]]
// CHECK: %[[P:.*]] = memref.alloc() : memref<4x96x64x64xf32>
// CHECK: gpu.launch blocks(%{{.*}}, %{{.*}}, %[[Z:.*]]) in (%{{.*}} = %c1, %{{.*}} = %c1, %{{.*}} = %c384)
// CHECK-DAG: %[[RANGE:.*]] = arith.remui %[[Z]], %c4
// CHECK-DAG: %[[MATRIX:.*]] = arith.divui %[[Z]], %c4
// CHECK-DAG: memref.subview %{{.*}}[%[[MATRIX]], 0, 0] [1, 2048, 64] [1, 1, 1]
// CHECK-DAG: arith.muli %[[RANGE]], %c512
// CHECK: nvvm.mma.sync
// CHECK: vector.store %{{.*}}, %[[P]][%[[RANGE]], %[[MATRIX]], %{{.*}}, %{{.*}}] {alignment = 8 : i64} : memref<4x96x64x64xf32>, vector<2xf32>
// CHECK: } {attn.kernel = "tensor_core_matmul", attn.min_blocks_per_sm = 2 : i64}
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[P]] : memref<4x96x64x64xf32>) outs(%[[S3]] : memref<96x64x64xf32>)
// CHECK: memref.dealloc %[[P]]
func.func @batched_split(%k: memref<24x4x2048x64xf32>, %v: memref<24x4x2048x64xf32>) -> memref<24x4x64x64xf32> {
  %zero = arith.constant 0.0 : f32
  %s = memref.alloc() : memref<24x4x64x64xf32>
  linalg.fill ins(%zero : f32) outs(%s : memref<24x4x64x64xf32>)
  linalg.generic {indexing_maps = [#k5, #v5, #s5], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%k, %v : memref<24x4x2048x64xf32>, memref<24x4x2048x64xf32>) outs(%s : memref<24x4x64x64xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  return %s : memref<24x4x64x64xf32>
}

// dphi(Q) += g S^T: B stored transposed ([E, F] is S[b, h] as it lies),
// bf16 operands widened in the body: m16n8k16, B's fragments by plain
// ldmatrix, C read first (it holds the other term), the matrices' rows
// copied in 16-byte runs (each matrix starts at a multiple of its rows).
#g5 = affine_map<(b, h, n, f, e) -> (b, h, n, e)>
#st5 = affine_map<(b, h, n, f, e) -> (b, h, f, e)>
#q5 = affine_map<(b, h, n, f, e) -> (b, h, n, f)>
// CHECK-LABEL: func.func @batched_transposed_b(
// CHECK-SAME: %{{[^:]*}}: memref<2x3x100x64xbf16>, %{{[^:]*}}: memref<2x3x48x64xbf16>, %[[DQ:[^:]*]]: memref<2x3x100x48xf32>
// CHECK: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c2, %{{.*}} = %c1, %{{.*}} = %c6)
// CHECK: memref.load
// CHECK: nvgpu.device_async_copy {{.*}} : memref<100x64xbf16, strided<[64, 1], offset: ?>> to memref<64x40xbf16, #gpu.address_space<workgroup>>
// CHECK: scf.for
// CHECK: nvgpu.ldmatrix {{.*}}transpose = false
// CHECK: nvgpu.ldmatrix {{.*}}transpose = false
// CHECK: nvvm.mma.sync {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK: } {attn.kernel = "tensor_core_matmul", attn.min_blocks_per_sm = 2 : i64}
// CHECK-NOT: linalg.generic
func.func @batched_transposed_b(%g: memref<2x3x100x64xbf16>, %s: memref<2x3x48x64xbf16>, %dq: memref<2x3x100x48xf32>) {
  linalg.generic {indexing_maps = [#g5, #st5, #q5], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%g, %s : memref<2x3x100x64xbf16>, memref<2x3x48x64xbf16>) outs(%dq : memref<2x3x100x48xf32>) {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %xf = arith.extf %x : bf16 to f32
    %yf = arith.extf %y : bf16 to f32
    %p = arith.mulf %xf, %yf : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  return
}

// Generics that are not products for this pass: another op in the body;
// the batch dimension not leading in an operand; a sum without a product.
#kt5 = affine_map<(b, h, f, e, m) -> (h, b, m, f)>
#kr4 = affine_map<(b, h, f, m) -> (b, h, m, f)>
#z4 = affine_map<(b, h, f, m) -> (b, h, f)>
// CHECK-LABEL: func.func @generics_left_alone(
// CHECK-NOT: gpu.launch
// CHECK-COUNT-3: linalg.generic
func.func @generics_left_alone(%k: memref<2x3x100x32xf32>, %kt: memref<3x2x100x32xf32>, %v: memref<2x3x100x40xf32>, %s: memref<2x3x32x40xf32>, %z: memref<2x3x32xf32>) {
  linalg.generic {indexing_maps = [#k5, #v5, #s5], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%k, %v : memref<2x3x100x32xf32>, memref<2x3x100x40xf32>) outs(%s : memref<2x3x32x40xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %q = arith.mulf %p, %p : f32
    %sum = arith.addf %acc, %q : f32
    linalg.yield %sum : f32
  }
  linalg.generic {indexing_maps = [#kt5, #v5, #s5], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%kt, %v : memref<3x2x100x32xf32>, memref<2x3x100x40xf32>) outs(%s : memref<2x3x32x40xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  linalg.generic {indexing_maps = [#kr4, #z4], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%k : memref<2x3x100x32xf32>) outs(%z : memref<2x3x32xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %sum = arith.addf %acc, %x : f32
    linalg.yield %sum : f32
  }
  return
}

// A large bf16 product (264 tiles of 128 x 128, two blocks per
// multiprocessor of the default target's 132) takes 128 x 128 tiles of 8
// warps, each warp 64 x 32: four row tiles of A's fragments and two
// ldmatrix.x4.trans of B per k-step of 16, 16 m16n8k16 products; three
// stages of 128 x 40 and 32 x 136 (56832 bytes, past the 48 KiB a kernel
// gets without opting in, which the runtime does at launch).
// CHECK-LABEL: func.func @large_tiles_bf16(
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %c33, %{{.*}} = %c8, %{{.*}} = %c1) threads({{.*}}) in (%{{.*}} = %c256, {{.*}} dynamic_shared_memory_size %c56832_i32
// CHECK: scf.for
// CHECK-COUNT-4: nvgpu.ldmatrix %{{.*}} : memref<128x40xbf16
// CHECK-COUNT-2: nvgpu.ldmatrix %{{.*}}transpose = true} : memref<32x136xbf16
// CHECK-COUNT-16: nvvm.mma.sync {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK: } {attn.kernel = "tensor_core_matmul", attn.min_blocks_per_sm = 2 : i64}
func.func @large_tiles_bf16(%a: memref<4224x64xbf16>, %b: memref<64x1024xbf16>) -> memref<4224x1024xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<4224x1024xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<4224x1024xf32>)
  linalg.matmul ins(%a, %b : memref<4224x64xbf16>, memref<64x1024xbf16>) outs(%c : memref<4224x1024xf32>)
  return %c : memref<4224x1024xf32>
}

// A split bf16 product whose 128 x 128 tiles, K split, give every
// multiprocessor a block takes them: 256 x 256 outputs are 4 large tiles,
// and K's 512 steps split into 64 ranges of 8 make 256 blocks of the
// default target's 132 multiprocessors (each operand read half as often
// as in 64 x 64 tiles).
// CHECK-LABEL: func.func @large_tiles_split_bf16(
// CHECK: %[[P:.*]] = memref.alloc() : memref<64x256x256xf32>
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %c2, %{{.*}} = %c2, %{{.*}} = %c64) threads({{.*}}) in (%{{.*}} = %c256,
// CHECK: scf.for %{{.*}} = %c0 to %c8 step %c1
// CHECK-COUNT-16: nvvm.mma.sync {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK: } {attn.kernel = "tensor_core_matmul", attn.min_blocks_per_sm = 2 : i64}
// CHECK: linalg.generic {{.*}} ins(%[[P]] : memref<64x256x256xf32>)
func.func @large_tiles_split_bf16(%a: memref<256x16384xbf16>, %b: memref<16384x256xbf16>) -> memref<256x256xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<256x256xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<256x256xf32>)
  linalg.matmul ins(%a, %b : memref<256x16384xbf16>, memref<16384x256xbf16>) outs(%c : memref<256x256xf32>)
  return %c : memref<256x256xf32>
}

// The same with 128 x 128 outputs: one large tile in 64 ranges would give
// only 64 blocks; 64 x 64 tiles, 4 of them in 64 ranges, give 256.
// CHECK-LABEL: func.func @small_tiles_split_bf16(
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %c2, %{{.*}} = %c2, %{{.*}} = %c64) threads({{.*}}) in (%{{.*}} = %c128,
func.func @small_tiles_split_bf16(%a: memref<128x16384xbf16>, %b: memref<16384x128xbf16>) -> memref<128x128xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<128x128xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<128x128xf32>)
  linalg.matmul ins(%a, %b : memref<128x16384xbf16>, memref<16384x128xbf16>) outs(%c : memref<128x128xf32>)
  return %c : memref<128x128xf32>
}

// RUN: attn-opt %s --attn-tile --canonicalize | FileCheck %s

// The heads' split and merge as views: the kernel reads each operand that
// a transpose keeping the last dimension last makes from the transpose's
// input, through a memref.transpose (rows still contiguous), and writes its
// result into storage laid out as the reader's transpose wants it, through
// the transposed view of that storage; the result is the storage's inverse
// transpose, which cancels against the reader's (--canonicalize).
// CHECK-LABEL: func.func @heads_as_views
//  CHECK-SAME: (%[[X:.*]]: tensor<1x100x2x64xf32>)
//       CHECK:   %[[XB:.*]] = bufferization.to_buffer %[[X]] read_only
//       CHECK:   memref.transpose %[[XB]] (d0, d1, d2, d3) -> (d0, d2, d1, d3) : memref<1x100x2x64xf32> to memref<1x2x100x64xf32, strided<[12800, 64, 128, 1]>>
//       CHECK:   %[[STORE:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1x100x2x64xf32>
//       CHECK:   %[[VIEW:.*]] = memref.transpose %[[STORE]] (d0, d1, d2, d3) -> (d0, d2, d1, d3)
//       CHECK:   attn.tile.softmax_finalize
//       CHECK:   %[[OUT:.*]] = bufferization.to_tensor %[[STORE]] restrict writable
//   CHECK-NOT:   linalg.transpose
//       CHECK:   return %[[OUT]]
func.func @heads_as_views(%x: tensor<1x100x2x64xf32>) -> tensor<1x100x2x64xf32> {
  %e = tensor.empty() : tensor<1x2x100x64xf32>
  %q = linalg.transpose ins(%x : tensor<1x100x2x64xf32>) outs(%e : tensor<1x2x100x64xf32>) permutation = [0, 2, 1, 3]
  %o = attn.sdpa %q, %q, %q : tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32> -> tensor<1x2x100x64xf32>
  %e2 = tensor.empty() : tensor<1x100x2x64xf32>
  %y = linalg.transpose ins(%o : tensor<1x2x100x64xf32>) outs(%e2 : tensor<1x100x2x64xf32>) permutation = [0, 2, 1, 3]
  return %y : tensor<1x100x2x64xf32>
}

// RUN: attn-opt %s --attn-expand-bf16-conversions --split-input-file | FileCheck %s

// A truncation to bf16 becomes integer arithmetic: round to nearest even
// on the bits, a NaN kept quiet; no truncf (LLVM would call __truncsfbf2).
// CHECK-LABEL: func.func @truncate
// CHECK-NOT: arith.truncf
// CHECK: %[[NAN:.*]] = arith.cmpf une, %[[X:.*]], %[[X]] : f32
// CHECK: arith.bitcast %[[X]] : f32 to i32
// CHECK: arith.shrui
// CHECK: %[[BITS:.*]] = arith.select %[[NAN]], %{{.*}}, %{{.*}} : i16
// CHECK: arith.bitcast %[[BITS]] : i16 to bf16
// CHECK-NOT: arith.truncf
func.func @truncate(%x: f32) -> bf16 {
  %y = arith.truncf %x : f32 to bf16
  return %y : bf16
}

// -----

// Vectors too.
// CHECK-LABEL: func.func @truncate_vector
// CHECK-NOT: arith.truncf
// CHECK: arith.bitcast %{{.*}} : vector<8xi16> to vector<8xbf16>
func.func @truncate_vector(%x: vector<8xf32>) -> vector<8xbf16> {
  %y = arith.truncf %x : vector<8xf32> to vector<8xbf16>
  return %y : vector<8xbf16>
}

// -----

// An extension is the bits shifted up 16.
// CHECK-LABEL: func.func @extend
// CHECK-NOT: arith.extf
// CHECK: arith.bitcast %{{.*}} : bf16 to i16
// CHECK: arith.extui
// CHECK: arith.shli
// CHECK: arith.bitcast %{{.*}} : i32 to f32
func.func @extend(%x: bf16) -> f32 {
  %y = arith.extf %x : bf16 to f32
  return %y : f32
}

// -----

// bf16 arithmetic is done in f32, between casts that are integer
// arithmetic: no bf16 addf is left for LLVM to round by a libcall.
// CHECK-LABEL: func.func @add
// CHECK-NOT: arith.addf %{{.*}} : bf16
// CHECK: arith.shli
// CHECK: arith.shli
// CHECK: %[[SUM:.*]] = arith.addf %{{.*}}, %{{.*}} : f32
// CHECK: arith.bitcast %[[SUM]] : f32 to i32
// CHECK-NOT: arith.addf %{{.*}} : bf16
func.func @add(%x: bf16, %y: bf16) -> bf16 {
  %z = arith.addf %x, %y : bf16
  return %z : bf16
}

// -----

// Other casts stay.
// CHECK-LABEL: func.func @half
// CHECK: arith.truncf %{{.*}} : f32 to f16
func.func @half(%x: f32) -> f16 {
  %y = arith.truncf %x : f32 to f16
  return %y : f16
}

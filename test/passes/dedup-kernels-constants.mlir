// RUN: attn-opt %s --split-input-file --attn-dedup-kernels | FileCheck %s

// Kernels that differ only in an integer constant (a dropout's stream)
// are one kernel taking it as its last argument; each launch passes its
// own value. The float both kernels share stays in the kernel.
// CHECK-LABEL: func.func @seeds
// CHECK: %[[A:.*]] = arith.constant 7 : i64
// CHECK: gpu.launch_func @a::@a {{.*}} args(%arg0 : memref<4xi64>, %[[A]] : i64)
// CHECK: %[[B:.*]] = arith.constant 9 : i64
// CHECK: gpu.launch_func @a::@a {{.*}} args(%arg0 : memref<4xi64>, %[[B]] : i64)
// CHECK: %[[C:.*]] = arith.constant 7 : i64
// CHECK: gpu.launch_func @a::@a {{.*}} args(%arg0 : memref<4xi64>, %[[C]] : i64)
// CHECK: gpu.module @a
// CHECK: gpu.func @a(%[[M:.*]]: memref<4xi64>, %[[SEED:.*]]: i64) kernel
// CHECK-NOT: arith.constant {{.*}} : i64
// CHECK: arith.xori %{{.*}}, %[[SEED]] : i64
// CHECK-NOT: gpu.module @b
// CHECK-NOT: gpu.module @c
module attributes {gpu.container_module} {
  func.func @seeds(%m: memref<4xi64>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @a::@a blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xi64>)
    gpu.launch_func @b::@b blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xi64>)
    gpu.launch_func @c::@c blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xi64>)
    return
  }
  gpu.module @a {
    gpu.func @a(%m: memref<4xi64>) kernel {
      %c0 = arith.constant 0 : index
      %seed = arith.constant 7 : i64
      %x = memref.load %m[%c0] : memref<4xi64>
      %h = arith.xori %x, %seed : i64
      memref.store %h, %m[%c0] : memref<4xi64>
      gpu.return
    }
  }
  gpu.module @b {
    gpu.func @b(%m: memref<4xi64>) kernel {
      %c0 = arith.constant 0 : index
      %seed = arith.constant 9 : i64
      %x = memref.load %m[%c0] : memref<4xi64>
      %h = arith.xori %x, %seed : i64
      memref.store %h, %m[%c0] : memref<4xi64>
      gpu.return
    }
  }
  gpu.module @c {
    gpu.func @c(%m: memref<4xi64>) kernel {
      %c0 = arith.constant 0 : index
      %seed = arith.constant 7 : i64
      %x = memref.load %m[%c0] : memref<4xi64>
      %h = arith.xori %x, %seed : i64
      memref.store %h, %m[%c0] : memref<4xi64>
      gpu.return
    }
  }
}

// -----

// Two constants, each differing in one kernel of the set: both become
// arguments, in the kept kernel's order, and every launch passes both.
// CHECK-LABEL: func.func @two
// CHECK-DAG: %[[I1:.*]] = arith.constant 1 : i32
// CHECK-DAG: %[[F1:.*]] = arith.constant 5.000000e-01 : f32
// CHECK: gpu.launch_func @p::@p {{.*}} args(%arg0 : memref<4xf32>, %[[I1]] : i32, %[[F1]] : f32)
// CHECK-DAG: %[[I2:.*]] = arith.constant 2 : i32
// CHECK-DAG: %[[F2:.*]] = arith.constant 5.000000e-01 : f32
// CHECK: gpu.launch_func @p::@p {{.*}} args(%arg0 : memref<4xf32>, %[[I2]] : i32, %[[F2]] : f32)
// CHECK-DAG: %[[I3:.*]] = arith.constant 1 : i32
// CHECK-DAG: %[[F3:.*]] = arith.constant 2.500000e-01 : f32
// CHECK: gpu.launch_func @p::@p {{.*}} args(%arg0 : memref<4xf32>, %[[I3]] : i32, %[[F3]] : f32)
// CHECK: gpu.func @p(%{{.*}}: memref<4xf32>, %{{.*}}: i32, %{{.*}}: f32) kernel
// CHECK-NOT: gpu.module @q
// CHECK-NOT: gpu.module @r
module attributes {gpu.container_module} {
  func.func @two(%m: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @p::@p blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    gpu.launch_func @q::@q blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    gpu.launch_func @r::@r blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    return
  }
  gpu.module @p {
    gpu.func @p(%m: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %i = arith.constant 1 : i32
      %f = arith.constant 0.5 : f32
      %x = arith.sitofp %i : i32 to f32
      %y = arith.mulf %x, %f : f32
      memref.store %y, %m[%c0] : memref<4xf32>
      gpu.return
    }
  }
  gpu.module @q {
    gpu.func @q(%m: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %i = arith.constant 2 : i32
      %f = arith.constant 0.5 : f32
      %x = arith.sitofp %i : i32 to f32
      %y = arith.mulf %x, %f : f32
      memref.store %y, %m[%c0] : memref<4xf32>
      gpu.return
    }
  }
  gpu.module @r {
    gpu.func @r(%m: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %i = arith.constant 1 : i32
      %f = arith.constant 0.25 : f32
      %x = arith.sitofp %i : i32 to f32
      %y = arith.mulf %x, %f : f32
      memref.store %y, %m[%c0] : memref<4xf32>
      gpu.return
    }
  }
}

// -----

// Indices (an offset here) and booleans decide a kernel's structure:
// kernels differing in them stay apart, and keep their constants.
// CHECK-LABEL: func.func @structure
// CHECK: gpu.launch_func @i0::@i0 {{.*}} args(%arg0 : memref<4xi1>)
// CHECK: gpu.launch_func @i1::@i1 {{.*}} args(%arg0 : memref<4xi1>)
// CHECK: gpu.launch_func @t::@t {{.*}} args(%arg0 : memref<4xi1>)
// CHECK: gpu.launch_func @f::@f {{.*}} args(%arg0 : memref<4xi1>)
// CHECK: gpu.module @i0
// CHECK: gpu.module @i1
// CHECK: gpu.module @t
// CHECK: arith.constant true
// CHECK: gpu.module @f
// CHECK: arith.constant false
module attributes {gpu.container_module} {
  func.func @structure(%m: memref<4xi1>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @i0::@i0 blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xi1>)
    gpu.launch_func @i1::@i1 blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xi1>)
    gpu.launch_func @t::@t blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xi1>)
    gpu.launch_func @f::@f blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xi1>)
    return
  }
  gpu.module @i0 {
    gpu.func @i0(%m: memref<4xi1>) kernel {
      %c = arith.constant 0 : index
      %v = arith.constant true
      memref.store %v, %m[%c] : memref<4xi1>
      gpu.return
    }
  }
  gpu.module @i1 {
    gpu.func @i1(%m: memref<4xi1>) kernel {
      %c = arith.constant 1 : index
      %v = arith.constant true
      memref.store %v, %m[%c] : memref<4xi1>
      gpu.return
    }
  }
  gpu.module @t {
    gpu.func @t(%m: memref<4xi1>) kernel {
      %c = arith.constant 2 : index
      %v = arith.constant true
      memref.store %v, %m[%c] : memref<4xi1>
      gpu.return
    }
  }
  gpu.module @f {
    gpu.func @f(%m: memref<4xi1>) kernel {
      %c = arith.constant 2 : index
      %v = arith.constant false
      memref.store %v, %m[%c] : memref<4xi1>
      gpu.return
    }
  }
}

// -----

// A constant inside a loop differs: it becomes an argument all the same,
// used inside the loop; the loop's index bounds stay constants.
// CHECK-LABEL: func.func @nested
// CHECK: gpu.launch_func @l::@l {{.*}} args(%arg0 : memref<4xf32>, %{{.*}} : f32)
// CHECK: gpu.launch_func @l::@l {{.*}} args(%arg0 : memref<4xf32>, %{{.*}} : f32)
// CHECK: gpu.func @l(%[[M:.*]]: memref<4xf32>, %[[S:.*]]: f32) kernel
// CHECK: scf.for
// CHECK: memref.store %[[S]], %[[M]]
// CHECK-NOT: gpu.module @n
module attributes {gpu.container_module} {
  func.func @nested(%m: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @l::@l blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    gpu.launch_func @n::@n blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    return
  }
  gpu.module @l {
    gpu.func @l(%m: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %c4 = arith.constant 4 : index
      scf.for %i = %c0 to %c4 step %c1 {
        %s = arith.constant 3.0 : f32
        memref.store %s, %m[%i] : memref<4xf32>
      }
      gpu.return
    }
  }
  gpu.module @n {
    gpu.func @n(%m: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %c4 = arith.constant 4 : index
      scf.for %i = %c0 to %c4 step %c1 {
        %s = arith.constant 4.0 : f32
        memref.store %s, %m[%i] : memref<4xf32>
      }
      gpu.return
    }
  }
}

// -----

// A constant that differs in a function the kernel calls, not in the
// kernel: only a kernel takes arguments, so the modules stay apart.
// CHECK-LABEL: func.func @helper
// CHECK: gpu.launch_func @h1::@h1 {{.*}} args(%arg0 : memref<4xf32>)
// CHECK: gpu.launch_func @h2::@h2 {{.*}} args(%arg0 : memref<4xf32>)
// CHECK: gpu.module @h1
// CHECK: arith.constant 1.000000e+00 : f32
// CHECK: gpu.module @h2
// CHECK: arith.constant 2.000000e+00 : f32
module attributes {gpu.container_module} {
  func.func @helper(%m: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @h1::@h1 blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    gpu.launch_func @h2::@h2 blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    return
  }
  gpu.module @h1 {
    func.func private @value() -> f32 {
      %v = arith.constant 1.0 : f32
      return %v : f32
    }
    gpu.func @h1(%m: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %v = func.call @value() : () -> f32
      memref.store %v, %m[%c0] : memref<4xf32>
      gpu.return
    }
  }
  gpu.module @h2 {
    func.func private @value() -> f32 {
      %v = arith.constant 2.0 : f32
      return %v : f32
    }
    gpu.func @h2(%m: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %v = func.call @value() : () -> f32
      memref.store %v, %m[%c0] : memref<4xf32>
      gpu.return
    }
  }
}

// RUN: attn-opt %s --split-input-file --attn-join-kernel-modules | FileCheck %s

// Every kernel module moves into one, named `kernels`; launches follow.
// CHECK-LABEL: func.func @launches
// CHECK: gpu.launch_func @kernels::@first
// CHECK: gpu.launch_func @kernels::@second
// CHECK: gpu.launch_func @kernels::@first
// CHECK: gpu.module @kernels
// CHECK-DAG: gpu.func @first
// CHECK-DAG: gpu.func @second
// CHECK-NOT: gpu.module
module attributes {gpu.container_module} {
  func.func @launches(%m: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @first::@first blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    gpu.launch_func @second::@second blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    gpu.launch_func @first::@first blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    return
  }
  gpu.module @first {
    gpu.func @first(%m: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %one = arith.constant 1.0 : f32
      memref.store %one, %m[%c0] : memref<4xf32>
      gpu.return
    }
  }
  gpu.module @second {
    gpu.func @second(%m: memref<4xf32>) kernel {
      %c1 = arith.constant 1 : index
      %one = arith.constant 1.0 : f32
      memref.store %one, %m[%c1] : memref<4xf32>
      gpu.return
    }
  }
}

// -----

// A constant two kernels read, copied into both modules by the outlining,
// is kept once; another constant of the same name is renamed with its use.
// CHECK-LABEL: func.func @constants
// CHECK: gpu.launch_func @kernels::@reads_table
// CHECK: gpu.launch_func @kernels::@reads_table_too
// CHECK: gpu.launch_func @kernels::@reads_other
// CHECK: gpu.module @kernels
// CHECK: memref.global "private" constant @table : memref<2xi32> = dense<[1, 2]>
// CHECK-NOT: memref.global "private" constant @table :
// CHECK: gpu.func @reads_table(
// CHECK: memref.get_global @table :
// CHECK: gpu.func @reads_table_too(
// CHECK: memref.get_global @table :
// CHECK: memref.global "private" constant @table_0 : memref<2xi32> = dense<[3, 4]>
// CHECK: gpu.func @reads_other(
// CHECK: memref.get_global @table_0 :
module attributes {gpu.container_module} {
  func.func @constants(%m: memref<2xi32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @reads_table::@reads_table blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<2xi32>)
    gpu.launch_func @reads_table_too::@reads_table_too blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<2xi32>)
    gpu.launch_func @reads_other::@reads_other blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<2xi32>)
    return
  }
  gpu.module @reads_table {
    memref.global "private" constant @table : memref<2xi32> = dense<[1, 2]>
    gpu.func @reads_table(%m: memref<2xi32>) kernel {
      %t = memref.get_global @table : memref<2xi32>
      memref.copy %t, %m : memref<2xi32> to memref<2xi32>
      gpu.return
    }
  }
  gpu.module @reads_table_too {
    memref.global "private" constant @table : memref<2xi32> = dense<[1, 2]>
    gpu.func @reads_table_too(%m: memref<2xi32>) kernel {
      %t = memref.get_global @table : memref<2xi32>
      memref.copy %t, %m : memref<2xi32> to memref<2xi32>
      gpu.return
    }
  }
  gpu.module @reads_other {
    memref.global "private" constant @table : memref<2xi32> = dense<[3, 4]>
    gpu.func @reads_other(%m: memref<2xi32>) kernel {
      %t = memref.get_global @table : memref<2xi32>
      memref.copy %t, %m : memref<2xi32> to memref<2xi32>
      gpu.return
    }
  }
}

// -----

// Modules for different targets stay apart: one joined module per target,
// the second named `kernels_0`.
// CHECK-LABEL: func.func @targets
// CHECK: gpu.launch_func @kernels::@a
// CHECK: gpu.launch_func @kernels_0::@b
// CHECK: gpu.launch_func @kernels::@c
// CHECK: gpu.module @kernels [#nvvm.target<chip = "sm_90a">]
// CHECK: gpu.func @a
// CHECK: gpu.func @c
// CHECK: gpu.module @kernels_0 [#nvvm.target<chip = "sm_80">]
// CHECK: gpu.func @b
module attributes {gpu.container_module} {
  func.func @targets(%m: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @a::@a blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    gpu.launch_func @b::@b blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    gpu.launch_func @c::@c blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    return
  }
  gpu.module @a [#nvvm.target<chip = "sm_90a">] {
    gpu.func @a(%m: memref<4xf32>) kernel {
      gpu.return
    }
  }
  gpu.module @b [#nvvm.target<chip = "sm_80">] {
    gpu.func @b(%m: memref<4xf32>) kernel {
      gpu.return
    }
  }
  gpu.module @c [#nvvm.target<chip = "sm_90a">] {
    gpu.func @c(%m: memref<4xf32>) kernel {
      gpu.return
    }
  }
}

// -----

// Two kernels of one name (modules not named by attn-name-kernels): the
// second is renamed, and its launches with it.
// CHECK-LABEL: func.func @same_names
// CHECK: gpu.launch_func @kernels::@k blocks
// CHECK: gpu.launch_func @kernels::@k_0 blocks
// CHECK: gpu.module @kernels
// CHECK: gpu.func @k(
// CHECK: gpu.func @k_0(
module attributes {gpu.container_module} {
  func.func @same_names(%m: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @one::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    gpu.launch_func @two::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    return
  }
  gpu.module @one {
    gpu.func @k(%m: memref<4xf32>) kernel {
      gpu.return
    }
  }
  gpu.module @two {
    gpu.func @k(%m: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %one = arith.constant 1.0 : f32
      memref.store %one, %m[%c0] : memref<4xf32>
      gpu.return
    }
  }
}

// -----

// Modules already converted to NVVM, as --lower-to-gpu joins them: llvm.func
// kernels; the declaration and the dynamic shared memory both modules have
// are kept once.
// CHECK-LABEL: func.func @converted
// CHECK: gpu.launch_func @kernels::@exp_first
// CHECK: gpu.launch_func @kernels::@exp_second
// CHECK: gpu.module @kernels [#nvvm.target<chip = "sm_90a">]
// CHECK: llvm.mlir.global external @__dynamic_shmem__0
// CHECK: llvm.func @__nv_expf(f32) -> f32
// CHECK: llvm.func @exp_first
// CHECK-NOT: llvm.mlir.global
// CHECK-NOT: llvm.func @__nv_expf
// CHECK: llvm.func @exp_second
// CHECK-NOT: llvm.mlir.global
// CHECK-NOT: llvm.func @__nv_expf
module attributes {gpu.container_module} {
  func.func @converted(%p: !llvm.ptr) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @exp_first::@exp_first blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%p : !llvm.ptr)
    gpu.launch_func @exp_second::@exp_second blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%p : !llvm.ptr)
    return
  }
  gpu.module @exp_first [#nvvm.target<chip = "sm_90a">] {
    llvm.mlir.global external @__dynamic_shmem__0() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<0 x i8>
    llvm.func @__nv_expf(f32) -> f32
    llvm.func @exp_first(%p: !llvm.ptr) attributes {gpu.kernel, nvvm.kernel} {
      %x = llvm.load %p : !llvm.ptr -> f32
      %y = llvm.call @__nv_expf(%x) : (f32) -> f32
      llvm.store %y, %p : f32, !llvm.ptr
      llvm.return
    }
  }
  gpu.module @exp_second [#nvvm.target<chip = "sm_90a">] {
    llvm.mlir.global external @__dynamic_shmem__0() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<0 x i8>
    llvm.func @__nv_expf(f32) -> f32
    llvm.func @exp_second(%p: !llvm.ptr) attributes {gpu.kernel, nvvm.kernel} {
      %s = llvm.mlir.addressof @__dynamic_shmem__0 : !llvm.ptr<3>
      %x = llvm.load %p : !llvm.ptr -> f32
      %y = llvm.call @__nv_expf(%x) : (f32) -> f32
      llvm.store %y, %s : f32, !llvm.ptr<3>
      llvm.return
    }
  }
}

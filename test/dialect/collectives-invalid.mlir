// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @start_used_outside_wait(%w: tensor<16xf32>) -> tensor<16xf32> {
  // expected-error @below {{result is used by 'func.return': only attn.all_reduce_wait may use it}}
  %h = attn.all_reduce_start %w : tensor<16xf32>
  return %h : tensor<16xf32>
}

// -----

func.func @start_waited_twice(%w: tensor<16xf32>) -> (tensor<16xf32>, tensor<16xf32>) {
  // expected-error @below {{result has several uses: one attn.all_reduce_wait takes it}}
  %h = attn.all_reduce_start %w : tensor<16xf32>
  %a = attn.all_reduce_wait %h : tensor<16xf32>
  %b = attn.all_reduce_wait %h : tensor<16xf32>
  return %a, %b : tensor<16xf32>, tensor<16xf32>
}

// -----

func.func @wait_without_start(%w: tensor<16xf32>) -> tensor<16xf32> {
  // expected-error @below {{operand #0 is not the result of an attn.all_reduce_start}}
  %a = attn.all_reduce_wait %w : tensor<16xf32>
  return %a : tensor<16xf32>
}

// -----

func.func @start_in_another_block(%w: tensor<16xf32>, %c: i1) -> tensor<16xf32> {
  %h = scf.if %c -> tensor<16xf32> {
    // expected-error @below {{result is used by 'scf.yield': only attn.all_reduce_wait may use it}}
    %s = attn.all_reduce_start %w : tensor<16xf32>
    scf.yield %s : tensor<16xf32>
  } else {
    scf.yield %w : tensor<16xf32>
  }
  return %h : tensor<16xf32>
}

// -----

func.func @wait_in_another_block(%w: tensor<16xf32>, %c: i1) -> tensor<16xf32> {
  %s = attn.all_reduce_start %w : tensor<16xf32>
  %r = scf.if %c -> tensor<16xf32> {
    // expected-error @below {{operand #0 is started in another block: a start and its wait must be in one block}}
    %a = attn.all_reduce_wait %s : tensor<16xf32>
    scf.yield %a : tensor<16xf32>
  } else {
    scf.yield %w : tensor<16xf32>
  }
  return %r : tensor<16xf32>
}

// -----

func.func @wait_for_nothing() {
  // expected-error @below {{waits for nothing: it needs at least one operand}}
  "attn.all_reduce_wait"() : () -> ()
  return
}

// -----

func.func @dynamic_shape(%w: tensor<?xf32>) {
  // expected-error @below {{operand #0 must be statically shaped tensor}}
  %h = attn.all_reduce_start %w : tensor<?xf32>
  return
}

// -----

func.func @integer(%w: tensor<4xi32>) {
  // expected-error @below {{operand #0 must be statically shaped tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values}}
  %h = attn.all_reduce_start %w : tensor<4xi32>
  return
}

// -----

func.func @buffer_types_differ(%a: memref<16xf32>, %b: memref<8xf32>) {
  // expected-error @below {{input 'memref<16xf32>' and output 'memref<8xf32>' differ: the average has its input's type}}
  attn.buffer.all_reduce_start %a, %b : memref<16xf32>, memref<8xf32>
  return
}

// -----

func.func @buffer_wait_unpaired(%a: memref<16xf32>, %b: memref<16xf32>) {
  // expected-error @below {{has 2 inputs and 1 outputs: each start's input and output are listed in pairs}}
  attn.buffer.all_reduce_wait ins(%a, %b : memref<16xf32>, memref<16xf32>) outs(%a : memref<16xf32>)
  return
}

// -----

func.func @buffer_wait_pair_differs(%a: memref<16xf32>, %b: memref<16xbf16>) {
  // expected-error @below {{pair #0: input 'memref<16xf32>' and output 'memref<16xbf16>' differ}}
  attn.buffer.all_reduce_wait ins(%a : memref<16xf32>) outs(%b : memref<16xbf16>)
  return
}

//===- AttnCollectiveOps.td - collectives of data-parallel runs -*- tablegen -*-===//
//
// A data-parallel run executes the same compiled function in every process
// (a rank), each on its own shard of the batch. The ops here are the only
// places where ranks meet: attn-generate-train-step puts a start after each
// gradient and one wait before the optimizer reads them, so that the
// averaging of early gradients overlaps the rest of the backward. A function
// without them is single-process; with them, every rank must execute the
// same sequence of starts and waits (the same compiled code does).
//
// Tensor ops (attn.all_reduce_start / attn.all_reduce_wait) are what passes
// see; attn-convert-encoder-to-linalg turns them into the buffer ops
// (attn.buffer.*), which lower to the runtime's stream-ordered entry points
// on the GPU (docs/runtime.md: mgpuAllReduceStart / mgpuAllReduceWait) and to
// copies on the CPU, where a run is one process.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_COLLECTIVE_OPS_TD
#define ATTN_COLLECTIVE_OPS_TD

include "attn/IR/AttnBase.td"
include "mlir/Dialect/GPU/IR/GPUBase.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Attn_CollectiveTensor : StaticShapeTensorOf<[F16, BF16, F32, F64]>;
def Attn_CollectiveBuffer : StaticShapeMemRefOf<[F16, BF16, F32, F64]>;

def Attn_AllReduceStartOp : Attn_Op<"all_reduce_start",
    [Pure, SameOperandsAndResultType]> {
  let summary = "starts averaging a tensor over the ranks of a run";
  let description = [{
    The result is the element-wise mean of `input` over all ranks, once an
    `attn.all_reduce_wait` has it: the result may only be used by waits.
    With one rank the mean is the input.

    ```mlir
    %h = attn.all_reduce_start %grad : tensor<256x256xf32>
    ...
    %g = attn.all_reduce_wait %h : tensor<256x256xf32>
    ```
  }];
  let arguments = (ins Attn_CollectiveTensor:$input);
  let results = (outs Attn_CollectiveTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def Attn_AllReduceWaitOp : Attn_Op<"all_reduce_wait",
    [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "the averages that attn.all_reduce_start ops began";
  let description = [{
    Each result is its operand's value: the mean over the ranks of the
    input of the `attn.all_reduce_start` that defines the operand. One wait
    for several starts lets them all be in flight together.
  }];
  let arguments = (ins Variadic<Attn_CollectiveTensor>:$inputs);
  let results = (outs Variadic<Attn_CollectiveTensor>:$results);
  let assemblyFormat = "$inputs attr-dict `:` type($inputs)";
  let hasVerifier = 1;
}

def Attn_BufferAllReduceStartOp : Attn_Op<"buffer.all_reduce_start",
    [GPU_AsyncOpInterface]> {
  let summary = "starts averaging a buffer over the ranks into another";
  let description = [{
    Buffer form of attn.all_reduce_start: `output` receives the mean of
    `input` over the ranks by the time an attn.buffer.all_reduce_wait that
    names both has executed; until then neither may be touched. On the GPU
    it is stream-ordered like a kernel launch (`async` dependencies and
    token, threaded by gpu-async-region).
  }];
  let arguments = (ins Variadic<GPU_AsyncToken>:$asyncDependencies,
                       Arg<Attn_CollectiveBuffer, "", [MemRead]>:$input,
                       Arg<Attn_CollectiveBuffer, "", [MemWrite]>:$output);
  let results = (outs Optional<GPU_AsyncToken>:$asyncToken);
  let assemblyFormat = [{
    (`[` $asyncDependencies^ `]`)? $input `,` $output attr-dict
    `:` type($input) `,` type($output) (`->` type($asyncToken)^)?
  }];
  let hasVerifier = 1;
}

def Attn_BufferAllReduceWaitOp : Attn_Op<"buffer.all_reduce_wait",
    [AttrSizedOperandSegments, GPU_AsyncOpInterface]> {
  let summary = "waits for the buffer averages begun before it";
  let description = [{
    After it, each of `outputs` holds its mean and each of `inputs` (the
    starts' sources, listed so that nothing frees or overwrites them while
    they are read) may be reused.
  }];
  let arguments = (ins Variadic<GPU_AsyncToken>:$asyncDependencies,
                       Arg<Variadic<Attn_CollectiveBuffer>, "",
                           [MemRead]>:$inputs,
                       Arg<Variadic<Attn_CollectiveBuffer>, "",
                           [MemRead, MemWrite]>:$outputs);
  let results = (outs Optional<GPU_AsyncToken>:$asyncToken);
  let assemblyFormat = [{
    (`[` $asyncDependencies^ `]`)? `ins` `(` $inputs `:` type($inputs) `)`
    `outs` `(` $outputs `:` type($outputs) `)` attr-dict
    (`->` type($asyncToken)^)?
  }];
  let hasVerifier = 1;
}

#endif // ATTN_COLLECTIVE_OPS_TD

#!/usr/bin/env python3
"""torch.compile + FlexAttention's bf16 training step on attn's own masks.

The anchors' model_step.py times Hybrid-BERT-Mini with BigBird blocks of
128 (Flex's smallest on that build) and its own random blocks, and a
classifier of two layers; attn's spec (examples/hybrid-bert-mini.json)
has blocks of 64, each BigBird layer its own random blocks, and one
classifier layer: not the same work. This is the anchor's model made the
same as attn's: each BigBird layer attends by attn's schedule of that
layer (the key tiles attn-schedule-blocks keeps, 64 x 64, as a mask_mod
over Flex's blocks of 128, its smallest that compiles on the GPU
machine's build), and the classifier is one linear layer on the first
token. Run it in the same call as attn's step (train_gpu.sh run) and
model_step.py. One difference stays: train_gpu.sh trains attn on ListOps
batches (500 to 2000 real tokens, padded to 2048), whose padded keys
attn's attention kernels skip, where this step, like model_step.py's,
attends over all 2048 random tokens.

  model_step_same_mask.py prepare BUILD SPEC.json OUT.json   (here, where
      MLIR is) imports the spec with BUILD's attn-import, expands its
      layers and schedules their blocks with attn-opt, and writes each
      attention layer's kept (query tile, key tile) pairs
  model_step_same_mask.py run MASKS.json                      (on the GPU
      machine) times its bf16 training step (a do_bench median, as
      model_step.py)
"""
import json
import os
import re
import subprocess
import sys


def prepare(build, spec, out):
    imported = subprocess.run(
        [os.path.join(build, "tools/attn-import/attn-import"), spec],
        check=True, capture_output=True, text=True).stdout
    scheduled = subprocess.run(
        [os.path.join(build, "tools/attn-opt/attn-opt"), "-",
         "--pass-pipeline=builtin.module(func.func(attn-expand-layers,"
         "attn-schedule-blocks))"],
        input=imported, check=True, capture_output=True, text=True).stdout
    layers = []
    for m in re.finditer(r"#attn\.schedule<([^>]*)>", scheduled):
        fields = {k: v for k, v in re.findall(r"(\w+) = ([^=]*?)(?:, (?=\w+ =)|$)",
                                              m.group(1))}
        nums = {k: [int(x) for x in re.findall(r"-?\d+", fields[k])]
                for k in ("full_offsets", "full_blocks", "partial_offsets",
                          "partial_blocks")}
        block_q, block_k = int(fields["block_q"]), int(fields["block_k"])
        kept = []
        for kind in ("full", "partial"):
            offsets, blocks = nums[kind + "_offsets"], nums[kind + "_blocks"]
            for row in range(len(offsets) - 1):
                kept += [[row, b] for b in blocks[offsets[row]:offsets[row + 1]]]
        layers.append(dict(block_q=block_q, block_k=block_k, kept=kept))
    if not layers:
        sys.exit(f"model_step_same_mask: no scheduled attention in {spec}")
    with open(out, "w") as f:
        json.dump(dict(spec=json.load(open(spec)), layers=layers), f)
    print(f"{len(layers)} attention layers, kept tiles:",
          [len(l["kept"]) for l in layers])


def run(masks_file):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention
    from triton.testing import do_bench

    with open(masks_file) as f:
        masks = json.load(f)
    spec = masks["spec"]
    torch.manual_seed(0)
    dev = "cuda"
    B, N, D, H = spec["batch"], spec["seq_len"], spec["width"], spec["heads"]
    FF, V, C = spec["ffn"], spec["vocab"], spec["classes"]
    # Flex's blocks of 128, its default, attn's tiles a mask_mod over them
    # (partial wherever a block holds a dropped tile). Blocks of 64, attn's
    # tiles themselves, do not compile on the GPU machine's PyTorch 2.11:
    # BLOCK_SIZE=64 fails its block-size check, and with kernel_options
    # BLOCK_M, BLOCK_N (and BLOCK_M1, BLOCK_N2) of 64 Inductor finds no
    # kernel (tools/attn-bench/NOTES.md, session 54).
    bs = 128

    def block_mask(layer):
        tiles = torch.zeros(N // layer["block_q"] + 1, N // layer["block_k"] + 1,
                            dtype=torch.bool)
        for q, k in layer["kept"]:
            tiles[q, k] = True
        tiles = tiles.to(dev)
        bq, bk = layer["block_q"], layer["block_k"]

        def kept(b, h, qi, ki):
            return tiles[qi // bq, ki // bk]
        return create_block_mask(kept, None, None, N, N, device=dev,
                                 BLOCK_SIZE=bs)

    attention = iter(block_mask(l) for l in masks["layers"])

    class Layer(nn.Module):
        def __init__(s, kind):
            super().__init__()
            if kind not in ("bigbird", "linear"):
                sys.exit(f"model_step_same_mask: a '{kind}' layer: only "
                         "BigBird and linear layers, as model_step.py's")
            s.kind = kind
            s.mask = next(attention) if kind == "bigbird" else None
            s.qkv = nn.Linear(D, 3 * D)
            s.o = nn.Linear(D, D)
            s.n1 = nn.LayerNorm(D)
            s.n2 = nn.LayerNorm(D)
            s.f1 = nn.Linear(D, FF)
            s.f2 = nn.Linear(FF, D)
            s.dp = nn.Dropout(spec.get("dropout", 0.1))

        def attn(s, x):
            q, k, v = s.qkv(x).view(B, N, 3, H, D // H).permute(2, 0, 3, 1, 4)
            if s.kind == "linear":
                q, k = F.elu(q) + 1, F.elu(k) + 1
                kv = torch.einsum("bhnd,bhne->bhde", k, v)
                z = 1 / (torch.einsum("bhnd,bhd->bhn", q, k.sum(2)) + 1e-6)
                o = torch.einsum("bhnd,bhde,bhn->bhne", q, kv, z)
            else:
                o = flex_attention(q, k, v, block_mask=s.mask)
            return s.o(o.transpose(1, 2).reshape(B, N, D))

        def forward(s, x):
            x = s.n1(x + s.dp(s.attn(x)))
            return s.n2(x + s.dp(s.f2(F.gelu(s.f1(x)))))

    class Model(nn.Module):
        def __init__(s):
            super().__init__()
            s.emb = nn.Embedding(V, D)
            s.pos = nn.Embedding(N, D)
            s.layers = nn.ModuleList([Layer(l["kind"]) for l in spec["layers"]])
            s.head = nn.Linear(D, C)

        def forward(s, t):
            x = s.emb(t) + s.pos.weight[None]
            for l in s.layers:
                x = l(x)
            return s.head(x[:, 0])

    tok = torch.randint(0, V, (B, N), device=dev)
    lab = torch.randint(0, C, (B,), device=dev)
    model = torch.compile(Model().to(dev))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = F.cross_entropy(model(tok), lab)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    import time
    t0 = time.time()
    step()
    torch.cuda.synchronize()
    first = time.time() - t0
    ms = do_bench(step, warmup=100, rep=800, return_mode="median")
    density = [len(l["kept"]) * l["block_q"] * l["block_k"] / N / N
               for l in masks["layers"]]
    print(f"train compile+flex bf16, attn's masks, Flex blocks of {bs} "
          f"(densities "
          f"{', '.join(f'{d:.3f}' for d in density)})  first {first:6.1f} s"
          f"  {ms:9.2f} ms")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "prepare":
        prepare(*sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == "run":
        run(sys.argv[2])
    else:
        sys.exit(__doc__)

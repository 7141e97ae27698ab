#!/usr/bin/env python3
"""Checks and times attention kernels compiled with --target gpu.

Two halves, because the GPU machine has PyTorch but no MLIR:

  kernels_gpu.py prepare BUILD OUT [SUBSTRING]
                                     (here) writes the cases (or those whose
                                     name has SUBSTRING) as attn IR, compiles
                                     each with attn-compile --target gpu into
                                     OUT, with OUT/manifest.json
  kernels_gpu.py run BUILD OUT [SUBSTRING]
                                     (on the GPU machine) checks every case
                                     (or those whose name has SUBSTRING)
                                     against PyTorch in float64, then times
                                     the benchmark cases; prints a table last:
                                     the whole call (CUDA events; it returns
                                     when its kernels are done) and its
                                     kernels alone (CUPTI device times; each
                                     launch's share in the log above it)

attn.sdpa checks use masks whose definition is written out here (windows,
globals, chunks, causal, key padding and their combinations); the random
blocks of BigBird are checked by the CPU reference tests against the
compiler's own generator and appear here only in the timed cases. Useful
TFLOP/s count 4 * B * H * D * (kept query-key pairs), the pairs taken from
the schedule attn-schedule-blocks computes (every tile of a block-aligned
mask is full). attn.linear (elu + 1) counts 4 * B * H * N * D^2, as the
anchors script does for eager PyTorch (non-causal); its FAVOR+ cases (64
random features) are timed only, FAVOR+ being checked against libtorch in
float64 by the `gpu` label's LinearSsmReferenceTest. attn.ssm (S4D, f32) is
checked against its definition as a convolution (FFT, float64) and timed
next to eager PyTorch S4D (Vandermonde kernel, FFT convolution) in the same
run, as one scan over the sequence and chunked (--ssm-chunk). attn.project
(x @ w + b; tensor cores, 3xTF32 for f32) is checked against float64 and
timed next to cuBLAS (torch.addmm) in f32 and in TF32. The training
step's 16-bit products (C f32 = A B, A or B read transposed where a
linalg.transpose feeds them) are checked against float64 and timed next to
cuBLAS in bf16, each compiled three times: for sm_90a (warpgroup MMA),
for sm_90a with --persistent-products ("_persistent") and for sm_90
(mma.sync), so that the forms are checked and compared in one run; the
bf16 projections are compiled with and without --persistent-products.
"""
import json
import math
import os
import re
import subprocess
import sys

# (name, B, H, N, D, dtype, mask kind, block, with padding lengths[,
# compile options: block_q (default: the block), warp_rows (default 16)])
CHECKS = [
    ("dense_f32_n100_d32", 2, 2, 100, 32, "f32", "none", 64, False),
    ("window_pad_f32_n300_d64", 2, 2, 300, 64, "f32", "window", 64, True),
    ("causal_f32_n200_d128", 1, 2, 200, 128, "f32", "causal", 64, False),
    ("blocks_f32_n333_d64", 2, 2, 333, 64, "f32", "blocks", 64, False),
    ("chunk_pad_f32_n130_d64", 2, 1, 130, 64, "f32", "chunk", 64, True),
    ("short_f32_n17_d64", 2, 2, 17, 64, "f32", "window", 64, True),
    ("blocks_bf16_n1000_d64", 2, 4, 1000, 64, "bf16", "blocks", 64, False),
    ("blocks128_bf16_n1000_d128", 1, 4, 1000, 128, "bf16", "blocks", 128,
     False),
    ("dense_bf16_n512_d64", 1, 4, 512, 64, "bf16", "none", 64, False),
    ("window_pad_bf16_n300_d64", 2, 2, 300, 64, "bf16", "window", 64, True),
    ("causal_bf16_n200_d128", 1, 2, 200, 128, "bf16", "causal", 64, False),
    ("short_bf16_n17_d32", 2, 2, 17, 32, "bf16", "window", 64, True),
    ("chunk_pad_bf16_n130_d64", 2, 1, 130, 64, "bf16", "chunk", 128, True),
    ("dense_bf16_n1000_d32", 1, 2, 1000, 32, "bf16", "none", 128, False),
    ("blocks_bf16_n4100_d64", 1, 2, 4100, 64, "bf16", "blocks", 128, False),
    # Query tiles of 64 rows under key tiles of 128 (the benchmark's shape).
    ("window_pad_bf16_n300_d64_q64", 2, 2, 300, 64, "bf16", "window", 128,
     True, dict(block_q=64)),
    ("blocks_bf16_n1000_d64_q64", 2, 2, 1000, 64, "bf16", "blocks", 128,
     False, dict(block_q=64)),
    # Warps of 32 rows (two mma.sync row tiles).
    ("window_pad_bf16_n300_d64_w32", 2, 2, 300, 64, "bf16", "window", 128,
     True, dict(block_q=128, warp_rows=32)),
    ("blocks_bf16_n1000_d64_w32", 2, 2, 1000, 64, "bf16", "blocks", 64,
     False, dict(warp_rows=32)),
    ("causal_bf16_n200_d128_w32", 1, 2, 200, 128, "bf16", "causal", 64,
     False, dict(warp_rows=32)),
    ("short_bf16_n17_d32_w32", 2, 2, 17, 32, "bf16", "window", 64, True,
     dict(warp_rows=32)),
    ("dense_bf16_n1000_d32_w32", 1, 2, 1000, 32, "bf16", "none", 128, False,
     dict(warp_rows=32)),
    # 128-row query tiles over pairs of 64-token blocks (partial tiles).
    ("blocks64_bf16_n1000_d64_q128w32", 2, 2, 1000, 64, "bf16", "blocks", 64,
     False, dict(block_q=128, warp_rows=32)),
    # One tile: a kernel of a single block.
    ("one_tile_bf16_n40_d64", 1, 1, 40, 64, "bf16", "none", 64, False),
    # f16 on the same tensor-core path (nvvm.mma.sync takes its pairs as
    # vector<2xf16>, bf16's as i32).
    ("causal_f16_n200_d64", 1, 2, 200, 64, "f16", "causal", 64, False),
    ("window_pad_f16_n300_d64", 2, 2, 300, 64, "f16", "window", 64, True),
]
# Linear attention, elu + 1: (name, B, H, N, D, dtype, with padding lengths,
# block-q of the output pass[, options: warp_rows of the output pass
# (default 16), causal, block_k: the causal form's chunk (default 64)]).
LINEAR_CHECKS = [
    ("linear_f32_n100_d32", 2, 2, 100, 32, "f32", False, 64),
    ("linear_pad_f32_n300_d64", 2, 2, 300, 64, "f32", True, 64),
    ("linear_bf16_n1000_d64", 2, 4, 1000, 64, "bf16", False, 64),
    ("linear_pad_bf16_n300_d64", 2, 2, 300, 64, "bf16", True, 128),
    ("linear_bf16_n200_d128", 1, 2, 200, 128, "bf16", False, 64),
    ("linear_pad_bf16_n17_d32", 2, 2, 17, 32, "bf16", True, 64),
    ("linear_bf16_n4100_d64", 1, 2, 4100, 64, "bf16", False, 128),
    ("linear_pad_bf16_n300_d64_w32", 2, 2, 300, 64, "bf16", True, 128,
     dict(warp_rows=32)),
    ("linear_bf16_n1000_d128_w32", 1, 2, 1000, 128, "bf16", False, 64,
     dict(warp_rows=32)),
    # Causal: chunks of 64 (block-k) rows carrying the state.
    ("linear_causal_f32_n100_d32", 2, 2, 100, 32, "f32", False, 64,
     dict(causal=True)),
    ("linear_causal_bf16_n300_d64", 2, 2, 300, 64, "bf16", False, 64,
     dict(causal=True)),
    ("linear_causal_bf16_n17_d64", 1, 2, 17, 64, "bf16", False, 64,
     dict(causal=True)),
    # Chunk states at boundaries inside and past the reduction's staged
    # 128-key chunks, per lane and on tensor cores.
    ("linear_causal_f32_n300_d64", 2, 2, 300, 64, "f32", False, 64,
     dict(causal=True)),
    ("linear_causal_bf16_n1000_d32", 2, 2, 1000, 32, "bf16", False, 64,
     dict(causal=True)),
    ("linear_causal_bf16_n4100_d128_w32", 1, 2, 4100, 128, "bf16", False, 64,
     dict(causal=True, warp_rows=32)),
    ("linear_causal_bf16_n300_d64_k128", 2, 2, 300, 64, "bf16", False, 64,
     dict(causal=True, block_k=128)),
    # Key lengths: rows past them see every unpadded key, none after.
    ("linear_causal_pad_bf16_n300_d64", 2, 2, 300, 64, "bf16", True, 64,
     dict(causal=True)),
    ("linear_causal_pad_f32_n100_d32", 2, 2, 100, 32, "f32", True, 64,
     dict(causal=True)),
    ("linear_causal_pad_bf16_n40_d64", 2, 2, 40, 64, "bf16", True, 64,
     dict(causal=True)),
]
LINEAR_BENCH = [(f"linear_n{n}{s}", 4, 16, n, 64, "bf16", False, 128, o)
                for n in (1024, 4096, 16384)
                for s, o in (("", {}), ("_w32", dict(warp_rows=32)))] + [
] + [(f"linear_causal_n{n}{s}", 4, 16, n, 64, "bf16", False, 64,
       dict(causal=True, **o)) for n in (1024, 4096, 16384)
      for s, o in (("", {}), ("_k128_w32", dict(block_k=128, warp_rows=32)))
] + [
    # f32 (3xTF32 on tensor cores), the pipeline's default tiles.
    (f"linear{c}_f32_n{n}", 4, 16, n, 64, "f32", False, 64,
     dict(causal=bool(c))) for c in ("", "_causal") for n in (1024, 4096)
] + [
    # FAVOR+ (64 random features; f32 inputs): per lane. Timed only: its
    # projection is drawn by attn's generator, which the references here
    # do not have; the `gpu` label's LinearSsmReferenceTest checks FAVOR+
    # against libtorch in float64.
    (f"linear{c}_favor_f32_n{n}", 4, 16, n, 64, "f32", False, 64,
     dict(causal=bool(c), favor=64)) for c in ("", "_causal")
    for n in (1024, 4096)]
# The anchors' shapes: B=4, H=16, D=64, bf16; key tiles of the mask's block
# (128 or 64 for dense). Query tiles of 64 rows in four warps of 16 rows,
# and the faster shape of each: for 128-token blocks (and dense) 128 rows
# in four warps of 32; for 64-token blocks 64 rows in two warps of 32.
W16 = ("", dict(block_q=64))
BENCH = [(f"bigbird_bs{bs}_n{n}{s}", 4, 16, n, 64, "bf16", "bigbird", bs,
          False, o) for n in (1024, 4096, 16384)
         for bs, shapes in (
             (64, (W16, ("_w32", dict(block_q=64, warp_rows=32)))),
             (128, (W16, ("_q128w32", dict(block_q=128, warp_rows=32)))))
         for s, o in shapes] + [
    (f"dense_n{n}{s}", 4, 16, n, 64, "bf16", "none", bk, False, o)
    for n in (1024, 4096)
    for s, bk, o in (("", 128, dict(block_q=64)),
                     ("_q128w32", 128, dict(block_q=128, warp_rows=32)),
                     ("_k64q128w32", 64, dict(block_q=128, warp_rows=32)))] + [
    # f32 (3xTF32 on tensor cores), 32 rows a warp (attn-tile's
    # scalar-rows-per-instance): the pipeline's default tiles, 64 x 64, and
    # query tiles of 128 (four warps sharing each staged key tile).
    (f"{mask}_f32_n{n}{s}", 4, 16, n, 64, "f32", mask, 64, False,
     dict(block_q=bq, warp_rows=32)) for n in (1024, 4096)
    for mask in ("none", "bigbird") for s, bq in (("", 64), ("_q128", 128))]


# The SSM (S4D), f32: (name, B, L, H, S, bidirectional, with padding
# lengths[, chunk]): chunk as --ssm-chunk takes it, -1 (attn's choice: these
# small batches are chunked by 64 where longer than that) by default, 0 for
# one scan over the sequence.
SSM_CHECKS = [
    ("ssm_n100_h24_s64", 2, 100, 24, 64, False, False),
    ("ssm_bi_pad_n300_h20_s64", 2, 300, 20, 64, True, True),
    ("ssm_bi_n1000_h16_s16", 2, 1000, 16, 16, True, False),
    ("ssm_bi_pad_n500_h40_s32", 2, 500, 40, 32, True, True),
    ("ssm_pad_n77_h9_s100", 3, 77, 9, 100, False, True),
    ("ssm_bi_n1_h8_s64", 1, 1, 8, 64, True, False),
    ("ssm_bi_pad_n17_h40_s256", 2, 17, 40, 256, True, True),
    ("ssm_c0_bi_pad_n300_h20_s64", 2, 300, 20, 64, True, True, 0),
    ("ssm_c0_pad_n77_h9_s100", 3, 77, 9, 100, False, True, 0),
    ("ssm_c7_bi_pad_n300_h20_s64", 2, 300, 20, 64, True, True, 7),
    ("ssm_c5_bi_pad_n17_h40_s256", 2, 17, 40, 256, True, True, 5),
    ("ssm_c24_pad_n77_h9_s100", 3, 77, 9, 100, False, True, 24),
    ("ssm_c256_bi_pad_n2048_h40_s32", 3, 2048, 40, 32, True, True, 256),
]
# ListOps-sized S4D layers: batch 32, 2048 positions, width 256, 64 modes;
# spade-mini's (batch 24, 32 modes, bidirectional); and small batches of
# long sequences. attn's choice (no chunks for the first three: batch x
# channel groups scans are enough; chunks of 512 for the last two), and
# the other form.
SSM_BENCH = [("ssm_n2048", 32, 2048, 256, 64, False, False),
             ("ssm_c128_n2048", 32, 2048, 256, 64, False, False, 128),
             ("ssm_bi_n2048", 32, 2048, 256, 64, True, False),
             ("ssm_spade_bi_n2048", 24, 2048, 256, 32, True, False),
             ("ssm_spade_c128_bi_n2048", 24, 2048, 256, 32, True, False, 128),
             ("ssm_b1_n8192", 1, 8192, 256, 64, False, False),
             ("ssm_b1_c0_n8192", 1, 8192, 256, 64, False, False, 0),
             ("ssm_b1_c128_n8192", 1, 8192, 256, 64, False, False, 128),
             ("ssm_b4_bi_n4096_s32", 4, 4096, 256, 32, True, False),
             ("ssm_b4_c0_bi_n4096_s32", 4, 4096, 256, 32, True, False, 0)]

# Projections (attn.project, x @ w + b: the host's dense products, on
# tensor cores in 3xTF32 for f32): (name, leading dims of x, Din, Dout,
# dtype[, "gelu": attn.gelu after it, fused into the product's epilogue]).
PROJECT_CHECKS = [
    ("project_f32_m135_k70_n130", (3, 45), 70, 130, "f32"),
    ("project_f32_m7_k32_n10", (7,), 32, 10, "f32"),
    ("project_f32_m1000_k256_n1000", (4, 250), 256, 1000, "f32"),
    ("project_bf16_m135_k70_n130", (3, 45), 70, 130, "bf16"),
    # 133 x 8 warpgroup tiles, more than a wave (persistent in the
    # "_persistent" form), the bias (and GELU) in the epilogue; neither M
    # nor N a multiple of a tile.
    ("project_bf16_m16900_k256_n1000", (4, 4225), 256, 1000, "bf16"),
    ("project_gelu_bf16_m16900_k256_n1000", (4, 4225), 256, 1000, "bf16",
     "gelu"),
]
# ListOps-sized encoder products: 24 x 2048 rows, width 256, FFN 1024.
PROJECT_BENCH = [(f"project_m49152_k{k}_n{n}", (24, 2048), k, n, "f32")
                 for k, n in ((256, 256), (256, 1024), (1024, 256))]
# 16-bit products into f32, C = A B with A [M, K] (or its transpose, [K, M],
# read through a linalg.transpose: "t" in the name), B [K, N] (or [N, K]):
# (name, M, K, N, A transposed, B transposed, dtype). Each is compiled in
# every form of MATMUL_FORMS: (suffix, attn-compile flags).
MATMUL_FORMS = (("sm_90a", ["--chip=sm_90a"]),
                ("sm_90a_persistent", ["--chip=sm_90a",
                                       "--persistent-products"]),
                ("sm_90", ["--chip=sm_90"]))
# The bf16 projections' forms: the default and the persistent products.
PROJECT_FORMS = (("", []), ("_persistent", ["--persistent-products"]))
MATMUL_CHECKS = [
    # No size a multiple of a tile; K (72) past a step of 64 by 8.
    ("matmul_nn_m5000_k72_n1000", 5000, 72, 1000, False, False, "bf16"),
    ("matmul_tn_m5000_k200_n1000", 5000, 200, 1000, True, False, "bf16"),
    ("matmul_nt_m5000_k520_n1000", 5000, 520, 1000, False, True, "bf16"),
    ("matmul_tt_m3000_k136_n1500", 3000, 136, 1500, True, True, "bf16"),
    # Four tiles of C: K split over the grid, its ranges summed after.
    ("matmul_tn_m256_k20000_n192", 256, 20000, 192, True, False, "bf16"),
    ("matmul_nn_f16_m5000_k136_n520", 5000, 136, 520, False, False, "f16"),
]
# Hybrid-BERT-Mini's step at B=24, N=2048 (49152 tokens): the projections
# and FFN forward (nn), the weight gradients X^T dY (tn) and the input
# gradients dY W^T (nt).
MATMUL_BENCH = [
    ("matmul_nn_m49152_k256_n256", 49152, 256, 256, False, False, "bf16"),
    ("matmul_nn_m49152_k256_n1024", 49152, 256, 1024, False, False, "bf16"),
    ("matmul_nn_m49152_k1024_n256", 49152, 1024, 256, False, False, "bf16"),
    ("matmul_tn_m256_k49152_n256", 256, 49152, 256, True, False, "bf16"),
    ("matmul_tn_m256_k49152_n1024", 256, 49152, 1024, True, False, "bf16"),
    ("matmul_nt_m49152_k1024_n256", 49152, 1024, 256, False, True, "bf16"),
    ("matmul_nt_m49152_k256_n1024", 49152, 256, 1024, False, True, "bf16"),
    # An input gradient of one of Q, K, V's projections, and the three as
    # one product of width 768 (forward, input and weight gradients): what
    # fusing a layer's query, key and value projections would run instead
    # of three products each.
    ("matmul_nt_m49152_k256_n256", 49152, 256, 256, False, True, "bf16"),
    ("matmul_nn_m49152_k256_n768", 49152, 256, 768, False, False, "bf16"),
    ("matmul_nt_m49152_k768_n256", 49152, 768, 256, False, True, "bf16"),
    ("matmul_tn_m256_k49152_n768", 256, 49152, 768, True, False, "bf16"),
]
# Batched products over the tokens, as linear attention's gradient has
# them: S[b, h] = K[b, h]^T V[b, h] into f32 ([B, H, N, F] x [B, H, N, E] ->
# [B, H, F, E]): (name, B, H, N, F, E, dtype). Long enough sums split K
# over grid z for every matrix.
BATCHED_CHECKS = [
    ("batched_f32_b2h3_n2000_f64_e40", 2, 3, 2000, 64, 40, "f32"),
    ("batched_bf16_b24h4_n2048_f64_e64", 24, 4, 2048, 64, 64, "bf16"),
    ("batched_f32_b2h2_n100_f32_e32", 2, 2, 100, 32, 32, "f32"),
]
BATCHED_BENCH = [
    ("batched_f32_b24h4_n2048_f64_e64", 24, 4, 2048, 64, 64, "f32"),
]


def mask_ir(kind, block, padded, batch):
    if kind == "none":
        m = ""
    elif kind == "window":
        m = "  %m0 = attn.mask.window radius 20\n"
    elif kind == "causal":
        m = "  %m0 = attn.mask.causal\n"
    elif kind == "chunk":
        m = "  %m0 = attn.mask.chunk size 48\n"
    elif kind == "blocks":  # BigBird without its random blocks
        m = (f"  %w = attn.mask.window radius 1 block {block}\n"
             f"  %g = attn.mask.global first 1 last 1 block {block}\n"
             f"  %m0 = attn.mask.union %w, %g : !attn.mask<block = {block}>,"
             f" !attn.mask<block = {block}>\n")
    elif kind == "bigbird":
        m = (f"  %w = attn.mask.window radius 1 block {block}\n"
             f"  %g = attn.mask.global first 1 last 1 block {block}\n"
             f"  %r = attn.mask.random_blocks count 3 block {block} seed 1 "
             f"exclude_global 1 exclude_window 1\n"
             f"  %m0 = attn.mask.union %w, %g, %r : !attn.mask<block = {block}>,"
             f" !attn.mask<block = {block}>, !attn.mask<block = {block}>\n")
    else:
        raise ValueError(kind)
    if not m:
        return "", ""
    mtype = (f"!attn.mask<block = {block}>" if kind in ("blocks", "bigbird")
             else "!attn.mask")
    if padded:
        m += (f"  %p = attn.mask.key_padding %len : tensor<{batch}xi32>\n"
              f"  %m = attn.mask.intersect %m0, %p : {mtype}, !attn.mask\n")
        mtype = mtype if "block" in mtype else "!attn.mask"
        # An intersection takes its left operand's granularity.
    else:
        m = m.replace("%m0 =", "%m =")
    return m, mtype


def module_for(case):
    name, b, h, n, d, dt, kind, block, padded = case[:9]
    t = f"tensor<{b}x{h}x{n}x{d}x{dt}>"
    m, mtype = mask_ir(kind, block, padded, b)
    args = f"%query: {t}, %key: {t}, %value: {t}"
    if padded:
        args += f", %len: tensor<{b}xi32>"
    use = f" mask %m" if m else ""
    types = f"{t}, {t}, {t}" + (f", {mtype}" if m else "")
    return (f"func.func @{name}({args}) -> {t} {{\n{m}"
            f"  %o = attn.sdpa %query, %key, %value{use} : {types} -> {t}\n"
            f"  return %o : {t}\n}}\n")


def linear_module_for(case):
    name, b, h, n, d, dt, padded = case[:7]
    opts = case[8] if len(case) > 8 else {}
    causal = " causal" if opts.get("causal") else ""
    feature_map = (f"favor features {opts['favor']} seed 1"
                   if opts.get("favor") else "elu_plus_one")
    t = f"tensor<{b}x{h}x{n}x{d}x{dt}>"
    args = f"%query: {t}, %key: {t}, %value: {t}"
    lengths = ""
    if padded:
        args += f", %len: tensor<{b}xi32>"
        lengths = f" key_lengths %len : tensor<{b}xi32>"
    return (f"func.func @{name}({args}) -> {t} {{\n"
            f"  %f = attn.feature_map.{feature_map}\n"
            f"  %o = attn.linear %query, %key, %value feature_map %f{lengths}"
            f"{causal}"
            f" : {t}, {t}, {t} -> {t}\n"
            f"  return %o : {t}\n}}\n")


def ssm_module_for(case):
    name, b, n, h, st, bi, padded = case[:7]
    x = f"tensor<{b}x{n}x{h}xf32>"
    hs = f"tensor<{h}x{st}xf32>"
    cs = f"tensor<2x{h}x{st}xf32>" if bi else hs
    dt = f"tensor<{h}xf32>"
    args = (f"%x: {x}, %ar: {hs}, %ai: {hs}, %br: {hs}, %bi: {hs}, "
            f"%cr: {cs}, %ci: {cs}, %dt: {dt}")
    lengths = ""
    if padded:
        args += f", %len: tensor<{b}xi32>"
        lengths = f" lengths %len : tensor<{b}xi32>"
    return (f"func.func @{name}({args}) -> {x} {{\n"
            f"  %y = attn.ssm %x A(%ar, %ai) B(%br, %bi) C(%cr, %ci) "
            f"log_dt(%dt){lengths}{' bidirectional' if bi else ''} : "
            f"{x}, {hs}, {cs}, {dt}\n"
            f"  return %y : {x}\n}}\n")


def project_module_for(case):
    name, lead, din, dout, dt = case[:5]
    shape = "x".join(map(str, lead))
    x, y = f"tensor<{shape}x{din}x{dt}>", f"tensor<{shape}x{dout}x{dt}>"
    w, bias = f"tensor<{din}x{dout}x{dt}>", f"tensor<{dout}x{dt}>"
    lines = [f"func.func @{name}(%x: {x}, %w: {w}, %b: {bias}) -> {y} {{",
             f"  %y = attn.project %x, %w, %b : {x}, {w}, {bias} -> {y}"]
    result = "%y"
    if case[5:] == ("gelu",):
        lines.append(f"  %g = attn.gelu %y : {y}")
        result = "%g"
    return "\n".join(lines + [f"  return {result} : {y}", "}", ""])


def matmul_module_for(case):
    """C = A B in f32 from 16-bit operands, each transposed by a
    linalg.transpose into a buffer of its own where the case says so (the
    form a weight's or an input's gradient has); C's zeros first, so that
    nothing lies between a transpose and the product."""
    name, m, k, n, ta, tb, dt = case
    a = f"tensor<{k}x{m}x{dt}>" if ta else f"tensor<{m}x{k}x{dt}>"
    b = f"tensor<{n}x{k}x{dt}>" if tb else f"tensor<{k}x{n}x{dt}>"
    am, bm, c = f"tensor<{m}x{k}x{dt}>", f"tensor<{k}x{n}x{dt}>", \
        f"tensor<{m}x{n}xf32>"
    lines = [f"func.func @{name}(%a: {a}, %b: {b}) -> {c} {{",
             "  %zero = arith.constant 0.0 : f32",
             f"  %ce = tensor.empty() : {c}",
             f"  %c = linalg.fill ins(%zero : f32) outs(%ce : {c}) -> {c}"]
    for v, t, full, mat in (("a", ta, a, am), ("b", tb, b, bm)):
        if t:
            lines += [f"  %{v}e = tensor.empty() : {mat}",
                      f"  %{v}t = linalg.transpose ins(%{v} : {full}) "
                      f"outs(%{v}e : {mat}) permutation = [1, 0]"]
    av, bv = ("%at" if ta else "%a"), ("%bt" if tb else "%b")
    lines += [f"  %y = linalg.matmul ins({av}, {bv} : {am}, {bm}) "
              f"outs(%c : {c}) -> {c}",
              f"  return %y : {c}", "}"]
    return "\n".join(lines) + "\n"


def batched_module_for(case):
    """S[b, h] = K[b, h]^T V[b, h] as a linalg.generic over (b, h, f, e, n),
    C's zeros first."""
    name, b, h, n, f, e, dt = case
    k, v = f"tensor<{b}x{h}x{n}x{f}x{dt}>", f"tensor<{b}x{h}x{n}x{e}x{dt}>"
    st = f"tensor<{b}x{h}x{f}x{e}xf32>"
    widen = ("    %xw = arith.extf %x : bf16 to f32\n"
             "    %yw = arith.extf %y : bf16 to f32\n") if dt == "bf16" else ""
    xv, yv = ("%xw", "%yw") if dt == "bf16" else ("%x", "%y")
    return (
        "#k = affine_map<(b, h, f, e, n) -> (b, h, n, f)>\n"
        "#v = affine_map<(b, h, f, e, n) -> (b, h, n, e)>\n"
        "#s = affine_map<(b, h, f, e, n) -> (b, h, f, e)>\n"
        f"func.func @{name}(%k: {k}, %v: {v}) -> {st} {{\n"
        "  %zero = arith.constant 0.0 : f32\n"
        f"  %se = tensor.empty() : {st}\n"
        f"  %s0 = linalg.fill ins(%zero : f32) outs(%se : {st}) -> {st}\n"
        "  %s = linalg.generic {indexing_maps = [#k, #v, #s], iterator_types ="
        ' ["parallel", "parallel", "parallel", "parallel", "reduction"]}\n'
        f"      ins(%k, %v : {k}, {v}) outs(%s0 : {st}) {{\n"
        f"  ^bb0(%x: {dt}, %y: {dt}, %acc: f32):\n{widen}"
        f"    %p = arith.mulf {xv}, {yv} : f32\n"
        "    %t = arith.addf %acc, %p : f32\n"
        "    linalg.yield %t : f32\n"
        f"  }} -> {st}\n"
        f"  return %s : {st}\n}}\n")


def kept_pairs(build, path, case):
    """Kept (query, key) pairs per (batch, head), from the schedule."""
    name, b, h, n, d, dt, kind, block, padded = case[:9]
    if kind == "none":
        return n * n
    out = subprocess.run(
        [f"{build}/tools/attn-opt/attn-opt", path,
         f"--attn-schedule-blocks=block-q={block} block-k={block}"],
        check=True, capture_output=True, text=True).stdout
    full = re.search(r"full_blocks = \[([^\]]*)\]", out).group(1)
    partial = re.search(r"partial_blocks = \[([^\]]*)\]", out).group(1)
    assert not partial.strip(), "a block-aligned mask has only full tiles"
    q_tiles = math.ceil(n / block)
    # Tiles are block x block except at the end of the sequence.
    offsets = [int(x) for x in re.search(
        r"full_offsets = \[([^\]]*)\]", out).group(1).split(",")]
    blocks = [int(x) for x in full.split(",")] if full.strip() else []
    size = lambda t: min(block, n - t * block)
    pairs = 0
    for qt in range(q_tiles):
        for kt in blocks[offsets[qt]:offsets[qt + 1]]:
            pairs += size(qt) * size(kt)
    return pairs


def prepare(build, out, only=""):
    os.makedirs(out, exist_ok=True)
    manifest = []

    def compile_case(name, text, block_q, block_k, warp_rows, flags=()):
        path = os.path.join(out, name + ".mlir")
        with open(path, "w") as f:
            f.write(text)
        print(f"compiling {name}", flush=True)
        subprocess.run([f"{build}/tools/attn-compile/attn-compile", path,
                        "-o", os.path.join(out, name + ".so"), "--target",
                        "gpu", f"--block-q={block_q}", f"--block-k={block_k}",
                        f"--warp-rows={warp_rows}", *flags], check=True)
        return path

    for role, cases in (("check", CHECKS), ("bench", BENCH)):
        for case in (c for c in cases if only in c[0]):
            name, b, h, n, d, dt, kind, block, padded = case[:9]
            opts = case[9] if len(case) > 9 else {}
            block_q = opts.get("block_q", block)
            warp_rows = opts.get("warp_rows", 16)
            path = compile_case(name, module_for(case), block_q, block,
                                warp_rows)
            manifest.append(dict(op="sdpa", role=role, name=name, B=b, H=h,
                                 N=n, D=d, dtype=dt, mask=kind, block=block,
                                 block_q=block_q, warp_rows=warp_rows,
                                 padded=padded,
                                 pairs=kept_pairs(build, path, case)
                                 if role == "bench" else None))
    for role, cases in (("check", LINEAR_CHECKS), ("bench", LINEAR_BENCH)):
        for case in (c for c in cases if only in c[0]):
            name, b, h, n, d, dt, padded, block_q = case[:8]
            opts = case[8] if len(case) > 8 else {}
            warp_rows = opts.get("warp_rows", 16)
            compile_case(name, linear_module_for(case), block_q,
                         opts.get("block_k", 64), warp_rows)
            manifest.append(dict(op="linear", role=role, name=name, B=b, H=h,
                                 N=n, D=d, dtype=dt, block_q=block_q,
                                 warp_rows=warp_rows, padded=padded,
                                 causal=opts.get("causal", False),
                                 block_k=opts.get("block_k", 64)))
    for role, cases in (("check", SSM_CHECKS), ("bench", SSM_BENCH)):
        for case in (c for c in cases if only in c[0]):
            name, b, n, h, st, bi, padded = case[:7]
            chunk = case[7] if len(case) > 7 else -1
            compile_case(name, ssm_module_for(case), 64, 64, 16,
                         [f"--ssm-chunk={chunk}"])
            manifest.append(dict(op="ssm", role=role, name=name, B=b, N=n,
                                 H=h, S=st, bidirectional=bi, padded=padded,
                                 dtype="f32", chunk=chunk))
    for role, cases in (("check", PROJECT_CHECKS), ("bench", PROJECT_BENCH)):
        for case in (c for c in cases if only in c[0]):
            name, lead, din, dout, dt = case[:5]
            for form, flags in PROJECT_FORMS if dt == "bf16" else (("", []),):
                compiled = name + form
                compile_case(compiled,
                             project_module_for((compiled,) + case[1:]),
                             64, 64, 16, flags)
                manifest.append(dict(op="project", role=role, name=compiled,
                                     lead=list(lead), Din=din, Dout=dout,
                                     dtype=dt, padded=False,
                                     activation=(case[5:] or ("",))[0]))
    for role, cases in (("check", MATMUL_CHECKS), ("bench", MATMUL_BENCH)):
        for case in (c for c in cases if only in c[0]):
            name, m, k, n, ta, tb, dt = case
            for form, flags in MATMUL_FORMS:
                compiled = f"{name}_{form}"
                compile_case(compiled,
                             matmul_module_for((compiled,) + case[1:]),
                             64, 64, 16, flags)
                manifest.append(dict(op="matmul", role=role, name=compiled,
                                     M=m, K=k, N=n, ta=ta, tb=tb, form=form,
                                     dtype=dt, padded=False))
    for role, cases in (("check", BATCHED_CHECKS), ("bench", BATCHED_BENCH)):
        for case in (c for c in cases if only in c[0]):
            name, bb, hh, n, f, e, dt = case
            compile_case(name, batched_module_for(case), 64, 64, 16)
            manifest.append(dict(op="batched", role=role, name=name, B=bb,
                                 H=hh, N=n, F=f, E=e, dtype=dt,
                                 padded=False))
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


def reference_mask(c, lengths, torch, dev):
    n = c["N"]
    i = torch.arange(n, device=dev).view(n, 1)
    j = torch.arange(n, device=dev).view(1, n)
    kind, bs = c["mask"], c["block"]
    if kind == "none":
        keep = torch.ones(n, n, dtype=torch.bool, device=dev)
    elif kind == "window":
        keep = (i - j).abs() <= 20
    elif kind == "causal":
        keep = j <= i
    elif kind == "chunk":
        keep = (i // 48) == (j // 48)
    elif kind == "blocks":
        nb = math.ceil(n / bs)
        qb, kb = i // bs, j // bs
        keep = (((qb - kb).abs() <= 1) | (qb == 0) | (qb == nb - 1) |
                (kb == 0) | (kb == nb - 1))
    else:
        raise ValueError(kind)
    keep = keep.unsqueeze(0).expand(c["B"], n, n).clone()
    if lengths is not None:
        keep &= (j < lengths.view(-1, 1, 1))
    return keep.unsqueeze(1)  # [B, 1, N, N]


def linear_reference(q, k, v, lengths, causal, torch):
    """elu + 1 linear attention; zeros where the normaliser is 0 (every key
    padded)."""
    phi = lambda x: torch.nn.functional.elu(x) + 1
    fq, fk = phi(q), phi(k)
    if lengths is not None:
        j = torch.arange(k.shape[2], device=k.device).view(1, 1, -1, 1)
        fk = fk * (j < lengths.view(-1, 1, 1, 1))
    if causal:
        a = (fq @ fk.transpose(-1, -2)).tril()  # keys j <= i
        den = a.sum(-1, keepdim=True)
        num = a @ v
        return torch.where(den != 0, num / den, torch.zeros_like(num))
    num = torch.einsum("bhnd,bhde->bhne", fq,
                       torch.einsum("bhnd,bhne->bhde", fk, v))
    den = torch.einsum("bhnd,bhd->bhn", fq, fk.sum(2)).unsqueeze(-1)
    return torch.where(den != 0, num / den, torch.zeros_like(num))


def ssm_parameters(h, st, bi, torch, dev):
    """S4D-Lin initialisation, perturbed so that nothing is special; the
    order of the compiled function's parameters."""
    n = torch.arange(st, device=dev, dtype=torch.float32).expand(h, st)
    r = lambda *shape: torch.randn(*shape, device=dev)
    c_shape = (2, h, st) if bi else (h, st)
    return [math.log(0.5) + 0.1 * r(h, st), math.pi * n + 0.1 * r(h, st),
            1 + 0.1 * r(h, st), 0.1 * r(h, st), r(*c_shape), r(*c_shape),
            math.log(1e-3) + torch.rand(h, device=dev) *
            (math.log(1e-1) - math.log(1e-3))]


def ssm_kernels(p, n, bi, torch):
    """The convolution kernels K0 (and K1) [H, n] of attn.ssm's definition:
    K[l] = 2 Re sum_n C_n Bbar_n Abar_n^l."""
    log_a, a_im, b_re, b_im, c_re, c_im, log_dt = p
    a = torch.complex(-torch.exp(log_a), a_im)
    dt_a = torch.exp(log_dt).unsqueeze(-1) * a
    bbar = (torch.exp(dt_a) - 1) / a * torch.complex(b_re, b_im)
    powers = torch.exp(dt_a.unsqueeze(-1) *
                       torch.arange(n, device=a.device, dtype=log_a.dtype))
    kernel = lambda cr, ci: 2 * torch.einsum(
        "hs,hsl->hl", torch.complex(cr, ci) * bbar, powers).real
    if not bi:
        return kernel(c_re, c_im), None
    return kernel(c_re[0], c_im[0]), kernel(c_re[1], c_im[1])


def ssm_reference(x, p, lengths, bi, torch):
    """y_t = sum_{s<=t} K0[t-s] u_s (+ sum_{s>t} K1[s-t-1] u_s), inputs and
    outputs past a length zero; the convolutions by FFT in float64."""
    b, n, h = x.shape
    t = torch.arange(n, device=x.device).view(1, n, 1)
    keep = (t < lengths.view(-1, 1, 1)) if lengths is not None else None
    u = x * keep if keep is not None else x
    k0, k1 = ssm_kernels(p, n, bi, torch)
    conv = lambda sig, k: torch.fft.irfft(
        torch.fft.rfft(sig, 2 * n, dim=1) *
        torch.fft.rfft(k.t(), 2 * n, dim=0), 2 * n, dim=1)[:, :n]
    y = conv(u, k0)
    if bi:
        # The future, reversed: position t sees u_{t+1+j} through K1[j].
        shifted = torch.nn.functional.pad(k1, (1, 0))[:, :n]
        y = y + conv(u.flip(1), shifted).flip(1)
    return y * keep if keep is not None else y


def s4d_eager(x, p, bi, torch):
    """Eager PyTorch S4D as its reference implementation runs it (kernel by
    Vandermonde product, convolution by FFT on [B, H, L]), in f32, on our
    [B, L, H] layout."""
    n = x.shape[1]
    k0, k1 = ssm_kernels(p, n, bi, torch)
    k = (torch.nn.functional.pad(k0, (0, n)) +
         torch.nn.functional.pad(k1.flip(-1), (n, 0))) if bi else k0
    u = x.transpose(1, 2)
    y = torch.fft.irfft(torch.fft.rfft(u, 2 * n) * torch.fft.rfft(k, 2 * n),
                        2 * n)[..., :n]
    return y.transpose(1, 2)


def run(build, out, only=""):
    import ctypes
    import torch
    dev = "cuda"
    ctypes.CDLL(os.path.join(build, "runtime", "libattnrt.so"),
                mode=ctypes.RTLD_GLOBAL)
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    dtypes = {"f32": torch.float32, "bf16": torch.bfloat16,
              "f16": torch.float16}
    print("device:", torch.cuda.get_device_name(), "torch", torch.__version__)

    def bind(lib, name, tensors):
        """The compiled call on `tensors`, its arguments marshalled once."""
        fn = getattr(lib, "attn_call_" + name)
        fn.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
        slots = (ctypes.c_void_p * len(tensors))(
            *[t.data_ptr() for t in tensors])
        return lambda: fn(slots)

    # As triton.testing.do_bench (the anchors' timer) does: L2 is flushed
    # before each timed call, by writing a buffer larger than it.
    flush = torch.empty(256 * 1024 * 1024, dtype=torch.int8, device=dev)

    def device_ms(attn_call, name, reps=10):
        """Device time of one call's kernels and memsets (CUPTI), without
        the host's part of the call: the launches, the wait for the stream.
        Comparable to the anchors' asynchronous PyTorch calls."""
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(reps):
                flush.zero_()
                attn_call()
            torch.cuda.synchronize()
        events = sorted((e for e in prof.events()
                         if e.device_type.name == "CUDA" and
                         (e.name.startswith(name) or
                          e.name.startswith("Memset"))),
                        key=lambda e: e.time_range.start)
        # Each launch's share, in the log (the table has their sum): the
        # calls launch the same sequence, whose kernels share a name.
        per_call = len(events) // reps
        for i in range(per_call if per_call * reps == len(events) else 0):
            us = sum(e.device_time_total for e in events[i::per_call])
            print(f"  launch {i} {events[i].name} {us / reps / 1000:.3f} ms")
        return sum(e.device_time_total for e in events) / reps / 1000

    def median_ms(fn, reps=30):
        """Median of CUDA-event timings of fn() (for attn's calls: the whole
        call, which returns when its kernels are done), L2 flushed before
        each."""
        fn()  # warm-up
        times = []
        for _ in range(reps):
            flush.zero_()
            torch.cuda.synchronize()
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        return sorted(times)[len(times) // 2]

    project_rows = []

    def checked(name, out, ref, tol):
        """Prints `out`'s relative error against `ref`; 1 if it fails."""
        err = ((out.double() - ref).norm() / ref.norm()).item()
        ok = err < tol and not torch.isnan(out).any().item()
        print(f"check {name:34s} rel err {err:.2e} (< {tol:g}) "
              f"{'ok' if ok else 'FAILED'}", flush=True)
        return int(not ok)

    def project_case(c, lib, dt):
        """Checks or times one attn.project case; 1 if its check failed."""
        lead, din, dout = c["lead"], c["Din"], c["Dout"]
        # Rows of mixed magnitudes: sums that f32 must carry.
        x = (torch.randn(*lead, din, device=dev) *
             torch.rand(*lead, 1, device=dev) * 100).to(dt)
        w = torch.randn(din, dout, device=dev).to(dt)
        bias = torch.randn(dout, device=dev).to(dt)
        y = torch.empty(*lead, dout, device=dev, dtype=dt)
        attn_call = bind(lib, c["name"], [x, w, bias, y])
        if c["role"] == "check":
            attn_call()
            torch.cuda.synchronize()
            want = x.double() @ w.double() + bias.double()
            if c.get("activation") == "gelu":
                want = torch.nn.functional.gelu(want)
            return checked(c["name"], y, want,
                           1e-4 if c["dtype"] == "f32" else 2e-2)
        flop = 2.0 * math.prod(lead) * din * dout
        x2 = x.reshape(-1, din)
        ms = median_ms(attn_call)
        kernel_ms = device_ms(attn_call, c["name"])
        # cuBLAS in f32, then in TF32 (one term: about 1e-3 of f32's
        # accuracy), the same product with its bias.
        torch.backends.cuda.matmul.allow_tf32 = False
        f32_ms = median_ms(lambda: torch.addmm(bias, x2, w))
        torch.backends.cuda.matmul.allow_tf32 = True
        tf32_ms = median_ms(lambda: torch.addmm(bias, x2, w))
        torch.backends.cuda.matmul.allow_tf32 = False
        project_rows.append((f"{c['name']}", ms, kernel_ms, f32_ms, tf32_ms,
                             flop))
        print(f"bench {c['name']} {ms:.3f} ms", flush=True)
        return 0

    matmul_rows = []

    def matmul_case(c, lib, dt):
        """Checks or times one 16-bit product; 1 if its check failed."""
        m, k, n = c["M"], c["K"], c["N"]
        # Rows of A of mixed magnitudes: sums that f32 must carry.
        a = torch.randn(m, k, device=dev) * torch.rand(m, 1, device=dev) * 10
        b = torch.randn(k, n, device=dev)
        a, b = a.to(dt), b.to(dt)
        # The operands as the function takes them.
        a_in = a.t().contiguous() if c["ta"] else a
        b_in = b.t().contiguous() if c["tb"] else b
        y = torch.empty(m, n, device=dev, dtype=torch.float32)
        attn_call = bind(lib, c["name"], [a_in, b_in, y])
        if c["role"] == "check":
            attn_call()
            torch.cuda.synchronize()
            # Exact products of 16-bit values summed in f32.
            return checked(c["name"], y, a.double() @ b.double(), 1e-4)
        ms = median_ms(attn_call)
        kernel_ms = device_ms(attn_call, c["name"])
        # cuBLAS on the same operands as they lie (its output in their
        # type: half the bytes of attn's f32 C).
        at = a_in.t() if c["ta"] else a_in
        bt = b_in.t() if c["tb"] else b_in
        cublas_ms = median_ms(lambda: torch.matmul(at, bt))
        matmul_rows.append((c["name"], ms, kernel_ms, cublas_ms,
                            2.0 * m * k * n))
        print(f"bench {c['name']} {ms:.3f} ms", flush=True)
        return 0

    def batched_case(c, lib, dt):
        """Checks or times one batched product; 1 if its check failed."""
        k = torch.randn(c["B"], c["H"], c["N"], c["F"], device=dev).to(dt)
        v = torch.randn(c["B"], c["H"], c["N"], c["E"], device=dev).to(dt)
        s = torch.empty(c["B"], c["H"], c["F"], c["E"], device=dev)
        attn_call = bind(lib, c["name"], [k, v, s])
        if c["role"] == "check":
            attn_call()
            torch.cuda.synchronize()
            # f32 sums (3xTF32 for f32 operands).
            return checked(c["name"], s,
                           k.double().transpose(-1, -2) @ v.double(), 1e-4)
        ms = median_ms(attn_call)
        kernel_ms = device_ms(attn_call, c["name"])
        torch.backends.cuda.matmul.allow_tf32 = False
        cublas_ms = median_ms(lambda: torch.matmul(k.transpose(-1, -2), v))
        matmul_rows.append((c["name"] + " (cuBLAS f32)", ms, kernel_ms,
                            cublas_ms,
                            2.0 * c["B"] * c["H"] * c["N"] * c["F"] * c["E"]))
        print(f"bench {c['name']} {ms:.3f} ms", flush=True)
        return 0

    failures = 0
    rows = []
    ssm_rows = []
    for c in manifest:
        if only not in c["name"]:
            continue
        lib = ctypes.CDLL(os.path.join(out, c["name"] + ".so"))
        dt = dtypes[c["dtype"]]
        torch.manual_seed(int.from_bytes(os.urandom(4), "little"))
        if c["op"] == "project":
            failures += project_case(c, lib, dt)
            continue
        if c["op"] == "matmul":
            failures += matmul_case(c, lib, dt)
            continue
        if c["op"] == "batched":
            failures += batched_case(c, lib, dt)
            continue
        b, h, n = c["B"], c["H"], c["N"]
        lengths = None
        if c["padded"]:
            lengths = torch.tensor([n, n // 3 + 1][:b] + [n] * max(0, b - 2),
                                   dtype=torch.int32, device=dev)
            if n < 64:
                lengths[0] = 0  # a batch entry with every position padded
        if c["op"] == "ssm":
            x = torch.randn(b, n, h, device=dev)
            params = ssm_parameters(h, c["S"], c["bidirectional"], torch, dev)
            args = [x] + params
            o = torch.empty(b, n, h, device=dev)
        else:
            d = c["D"]
            q, k, v = (torch.randn(b, h, n, d, device=dev, dtype=dt)
                       for _ in range(3))
            args = [q, k, v]
            o = torch.empty(b, h, n, d, device=dev, dtype=dt)
        if lengths is not None:
            args.append(lengths)
        attn_call = bind(lib, c["name"], args + [o])
        if c["role"] == "check":
            attn_call()
            torch.cuda.synchronize()
            if c["op"] == "ssm":
                ref = ssm_reference(x.double(), [t.double() for t in params],
                                    lengths, c["bidirectional"], torch)
            elif c["op"] == "linear":
                q64, k64, v64 = (x.double() for x in (q, k, v))
                ref = linear_reference(q64, k64, v64, lengths, c["causal"],
                                       torch)
            else:
                q64, k64, v64 = (x.double() for x in (q, k, v))
                keep = reference_mask(c, lengths, torch, dev)
                s = (q64 @ k64.transpose(-1, -2)) / math.sqrt(d)
                s = s.masked_fill(~keep, float("-inf"))
                p = torch.softmax(s, -1).nan_to_num(0.0)  # fully masked: 0
                ref = p @ v64
            failures += checked(c["name"], o, ref,
                                1e-4 if c["dtype"] == "f32" else 2e-2)
            continue
        ms = median_ms(attn_call)
        kernel_ms = device_ms(attn_call, c["name"])
        if c["op"] == "ssm":
            eager = median_ms(lambda: s4d_eager(x, params, c["bidirectional"],
                                                torch))
            chunk = {-1: "auto", 0: "none"}.get(c["chunk"], str(c["chunk"]))
            ssm_rows.append((f"{c['name']} (B={b} H={h} S={c['S']}, "
                             f"chunk {chunk})", n, ms, kernel_ms, eager))
            print(f"bench {c['name']} {ms:.3f} ms", flush=True)
            continue
        if c["op"] == "linear":
            # The causal form's query tiles are its chunks of block-k.
            tile = (f"chunk {c['block_k']}" if c["causal"]
                    else f"block-q {c['block_q']}")
            label = f"{c['name']} ({tile}, w{c['warp_rows']})"
            flop, density = 4.0 * b * h * n * d * d, float("nan")
        else:
            label = (f"{c['name']} ({c['block_q']}x{c['block']}, "
                     f"w{c['warp_rows']})")
            flop, density = 4.0 * b * h * d * c["pairs"], c["pairs"] / (n * n)
        rows.append((label, n, density, ms, flop / ms / 1e9, kernel_ms,
                     flop / kernel_ms / 1e9))
        print(f"bench {c['name']} {ms:.3f} ms", flush=True)
    print(f"{'attn (tiles q x k, warp rows)':44s} {'N':>6s} {'dens':>6s} "
          f"{'call ms':>8s} {'TF/s':>7s} {'kern ms':>8s} {'TF/s':>7s}")
    for r in rows:
        print(f"{r[0]:44s} {r[1]:6d} {r[2]:6.3f} {r[3]:8.3f} {r[4]:7.1f} "
              f"{r[5]:8.3f} {r[6]:7.1f}")
    if ssm_rows:
        print(f"{'attn.ssm, f32':44s} {'N':>6s} {'call ms':>8s} "
              f"{'kern ms':>8s} {'eager ms':>8s} {'speedup':>7s}")
    for r in ssm_rows:
        print(f"{r[0]:44s} {r[1]:6d} {r[2]:8.3f} {r[3]:8.3f} {r[4]:8.3f} "
              f"{r[4] / r[2]:6.2f}x")
    if project_rows:
        print(f"{'attn.project, f32 (3xTF32), TF/s':36s} {'call ms':>8s} "
              f"{'TF/s':>6s} {'kern ms':>8s} {'TF/s':>6s} "
              f"{'cuBLAS f32':>10s} {'TF/s':>6s} {'TF32':>7s} {'TF/s':>6s}")
    for name, ms, kern, f32, tf32, flop in project_rows:
        tf = lambda t: flop / t / 1e9
        print(f"{name:36s} {ms:8.3f} {tf(ms):6.1f} {kern:8.3f} {tf(kern):6.1f}"
              f" {f32:10.3f} {tf(f32):6.1f} {tf32:7.3f} {tf(tf32):6.1f}")
    if matmul_rows:
        print(f"{'16-bit products into f32, TF/s':40s} {'call ms':>8s} "
              f"{'TF/s':>6s} {'kern ms':>8s} {'TF/s':>6s} "
              f"{'cuBLAS bf16':>11s} {'TF/s':>6s}")
    for name, ms, kern, cublas, flop in matmul_rows:
        tf = lambda t: flop / t / 1e9
        print(f"{name:40s} {ms:8.3f} {tf(ms):6.1f} {kern:8.3f} "
              f"{tf(kern):6.1f} {cublas:11.3f} {tf(cublas):6.1f}")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5) or sys.argv[1] not in ("prepare", "run"):
        sys.exit(__doc__)
    mode, build, out = sys.argv[1:4]
    sys.exit((prepare if mode == "prepare" else run)(build, out,
                                                     *sys.argv[4:]))

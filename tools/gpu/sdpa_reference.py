"""SDPA at attn-bench's shapes, dense and with is_causal: the reference for
its dense and causal cases at any head dimension (the anchors' kernels.py
times dense SDPA at D = 64 only, and has no causal row).

usage: sdpa_reference.py OUT.json [--head-dim D] N [N ...]

B=4, H=16, D=64 (or --head-dim), bf16, PyTorch's
scaled_dot_product_attention (its fastest backend on the machine), forward
and forward + backward, medians of do_bench as the anchors' script times
them. Writes [{"mask": "none" | "causal", "d", "n", "fwd_ms", "fb_ms"}] to
OUT.json and prints a line per row. Runs on the GPU machine.
"""

import json
import sys

import torch
import torch.nn.functional as F
from triton.testing import do_bench

B, H = 4, 16


def main(out, d, lengths):
    torch.manual_seed(0)
    results = []
    for n in lengths:
        q, k, v = (torch.randn(B, H, n, d, device="cuda", dtype=torch.bfloat16,
                               requires_grad=True) for _ in range(3))
        do = torch.randn_like(q)
        for mask in ("none", "causal"):
            def fwd():
                return F.scaled_dot_product_attention(
                    q, k, v, is_causal=mask == "causal")

            def fb():
                fwd().backward(do)

            row = {"mask": mask, "d": d, "n": n,
                   "fwd_ms": do_bench(fwd, return_mode="median"),
                   "fb_ms": do_bench(fb, return_mode="median")}
            results.append(row)
            print(f"sdpa {mask:6s} D={d} N={n}: fwd {row['fwd_ms']:.4f} ms, "
                  f"fwd+bwd {row['fb_ms']:.4f} ms", flush=True)
    with open(out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    args = sys.argv[1:]
    d = 64
    if len(args) >= 2 and args[1] == "--head-dim":
        d = int(args[2])
        del args[1:3]
    if len(args) < 2:
        sys.exit(__doc__)
    main(args[0], d, [int(n) for n in args[1:]])

"""SDPA with is_causal=True at attn-bench's shapes: the reference for its
causal cases, which the anchors' kernels.py has no row for.

usage: sdpa_causal.py OUT.json N [N ...]

B=4, H=16, D=64, bf16, PyTorch's scaled_dot_product_attention (its fastest
backend on the machine), forward and forward + backward, medians of
do_bench as the anchors' script times them. Writes [{"n", "fwd_ms",
"fb_ms"}] to OUT.json and prints a line per length. Runs on the GPU machine.
"""

import json
import sys

import torch
import torch.nn.functional as F
from triton.testing import do_bench

B, H, D = 4, 16, 64


def main(out, lengths):
    torch.manual_seed(0)
    results = []
    for n in lengths:
        q, k, v = (torch.randn(B, H, n, D, device="cuda", dtype=torch.bfloat16,
                               requires_grad=True) for _ in range(3))
        do = torch.randn_like(q)

        def fwd():
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)

        def fb():
            fwd().backward(do)

        row = {"n": n, "fwd_ms": do_bench(fwd, return_mode="median"),
               "fb_ms": do_bench(fb, return_mode="median")}
        results.append(row)
        print(f"sdpa is_causal N={n}: fwd {row['fwd_ms']:.4f} ms, fwd+bwd "
              f"{row['fb_ms']:.4f} ms", flush=True)
    with open(out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], [int(n) for n in sys.argv[2:]])

"""FlexAttention on attn's own BigBird masks: the same work as attn-bench.

usage: flex_same_mask.py MASK_DIR OUT.json [--head-dim D]

MASK_DIR holds attn-bench --block-masks files (bigbird<B>-<N>.txt: a line
"block B n N", then a line of 0/1 per query block). For each, FlexAttention
(torch.compile'd) runs that block mask -- kept blocks of attn's schedule,
random blocks included -- at attn-bench's shapes (B=4, H=16, D=64 or
--head-dim, bf16): forward, and forward + backward, medians of do_bench as
the anchors' script times them; then the same with a score_mod soft-capping
at 2 (attn-bench's -softcap cases). Writes [{"block", "d", "n", "fwd_ms",
"fb_ms", "softcap_fwd_ms", "softcap_fb_ms"}] to OUT.json and prints a
table. Runs on the GPU machine
(PyTorch with FlexAttention).
"""
import glob
import json
import os
import sys

import torch
from torch.nn.attention.flex_attention import create_block_mask, flex_attention
from triton.testing import do_bench

B, H = 4, 16
CAP = 2.0


def softcap(score, b, h, qi, ki):
    return CAP * torch.tanh(score / CAP)


def read(path):
    with open(path) as f:
        header = f.readline().split()
        block, n = int(header[1]), int(header[3])
        rows = [[c == "1" for c in line.strip()] for line in f if line.strip()]
    return block, n, torch.tensor(rows, dtype=torch.bool)


def main(mask_dir, out, D=64):
    torch.manual_seed(0)
    # Compiled for each mask's shapes. With torch.compile's default, the
    # second length seen recompiles for dynamic shapes: Flex on attn's
    # bs128 mask at N = 16384 measured 2.222 / 7.255 ms (forward / forward +
    # backward) read after N = 1024, and 1.596 / 5.301 ms read first
    # (tools/attn-bench/NOTES.md, session 39) -- the comparison depended on
    # the order the masks were read in.
    flex = torch.compile(flex_attention, dynamic=False)
    results = []
    for path in sorted(glob.glob(os.path.join(mask_dir, "bigbird*-*.txt"))):
        block, n, kept = read(path)
        kept = kept.cuda()

        def same_mask(b, h, qi, ki):
            return kept[qi // block, ki // block]

        q, k, v = (torch.randn(B, H, n, D, device="cuda", dtype=torch.bfloat16,
                               requires_grad=True) for _ in range(3))
        do = torch.randn_like(q)
        try:
            bm = create_block_mask(same_mask, None, None, n, n, device="cuda",
                                   BLOCK_SIZE=block)
            fwd = do_bench(lambda: flex(q, k, v, block_mask=bm),
                           return_mode="median")

            def fb():
                flex(q, k, v, block_mask=bm).backward(do)

            both = do_bench(fb, return_mode="median")
            capped = do_bench(
                lambda: flex(q, k, v, score_mod=softcap, block_mask=bm),
                return_mode="median")

            def capped_fb():
                flex(q, k, v, score_mod=softcap,
                     block_mask=bm).backward(do)

            capped_both = do_bench(capped_fb, return_mode="median")
        except Exception as e:  # e.g. block sizes this Flex cannot tile
            print(f"flex on attn's mask bs{block} N{n} failed: "
                  f"{type(e).__name__} {str(e)[:200]}", flush=True)
            continue
        density = kept.float().mean().item()
        results.append({"block": block, "d": D, "n": n, "density": density,
                        "fwd_ms": fwd, "fb_ms": both,
                        "softcap_fwd_ms": capped, "softcap_fb_ms": capped_both})
        print(f"flex on attn's mask bs{block} D={D} N{n}: density {density:.3f} "
              f"fwd {fwd:.3f} ms, fwd+bwd {both:.3f} ms; soft-capped "
              f"{capped:.3f} / {capped_both:.3f} ms", flush=True)
    json.dump(results, open(out, "w"), indent=1)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[3] == "--head-dim":
        main(sys.argv[1], sys.argv[2], int(sys.argv[4]))
    elif len(sys.argv) == 3:
        main(sys.argv[1], sys.argv[2])
    else:
        sys.exit(__doc__)

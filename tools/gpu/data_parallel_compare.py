"""Two runs of data_parallel.sh compared.

  ckpt A B PREFIX    relative difference of the tensors named PREFIX*
  metrics A B        the metrics.jsonl lines side by side
  rate A B           steady tokens/s of each (between the first and the
                     last training line) and B's over A's
"""
import json, sys
import torch
from safetensors.torch import load_file

def rel(a, b):
    return (float((a.double() - b.double()).norm()) /
            max(float(a.double().norm()), 1e-30))

def checkpoints(p1, p2, prefix):
    a, b = load_file(p1), load_file(p2)
    keys = sorted(k for k in a if k.startswith(prefix))
    worst = max((rel(a[k], b[k]), k) for k in keys)
    flat_a = torch.cat([a[k].double().flatten() for k in keys])
    flat_b = torch.cat([b[k].double().flatten() for k in keys])
    print(f"{prefix}*: {len(keys)} tensors, relative difference "
          f"{rel(flat_a, flat_b):.3e} over all, worst {worst[0]:.3e} ({worst[1]})")

def metrics(m1, m2):
    rows = lambda p: [json.loads(l) for l in open(p)]
    a, b = rows(m1), rows(m2)
    for x, y in zip(a, b):
        print(f"  {x['split']:5} step {int(x['step']):4}: loss {x['loss']:.5f} vs {y['loss']:.5f}"
              f" (diff {abs(x['loss'] - y['loss']):.2e}), accuracy {x['accuracy']:.4f} vs {y['accuracy']:.4f}"
              + (f", tokens/s {x['tokens_per_s']:.0f} vs {y['tokens_per_s']:.0f}" if 'tokens_per_s' in x else ""))

def rate(m1, m2):
    def steady(p):
        train = [json.loads(l) for l in open(p) if '"train"' in l]
        a, b = train[0], train[-1]
        return (b["step"] - a["step"]) / (b["seconds"] - a["seconds"])
    s1, s2 = steady(m1), steady(m2)
    print(f"steady steps/s {s1:.2f} vs {s2:.2f}: {s2 / s1:.3f}x "
          f"(scaling efficiency over 2 GPUs {s2 / s1 / 2:.1%} of ideal)")

{"ckpt": lambda: checkpoints(*sys.argv[2:5]),
 "metrics": lambda: metrics(*sys.argv[2:4]),
 "rate": lambda: rate(*sys.argv[2:4])}[sys.argv[1]]()

"""S4D on ListOps in PyTorch: the reference side of attn's ListOps runs.

usage: listops_reference.py --data DIR --out METRICS.jsonl [--preset s4|attn]
                            [overrides...]

Trains a stack of bidirectional S4D blocks on the LRA-format TSV files that
`listops-gen` writes (DIR/basic_{train,val,test}.tsv), tokenised as attn's
loader does (a <cls> first, parentheses dropped, 18 ids), batched as
`attn-train --length-step` does (batches of similar lengths, padded to a
multiple of the step), so that a curve from here and one from attn-train on
the same data can be read side by side. The SSM is attn.ssm's definition
(docs in AttnKernelOps.td): S complex modes, Abar = exp(dt A),
Bbar = (Abar - 1) / A B, K[l] = 2 Re(sum C Bbar Abar^l), S4's bidirectional
convention, inputs at and past a row's length zero; computed here as an FFT
convolution.

Presets (each flag below overrides one setting):
  s4    S4's published ListOps recipe: 8 post-norm blocks of width 128 with
        batch norm, an SSM of 32 modes (S4's d_state 64 counts a mode and
        its conjugate), GELU, then a linear map to 2 x width and a GLU; no
        feed-forward sublayer, no position table; AdamW at 0.01 (A and B at
        0.001, undecayed), weight decay 0.05, 1000 warmup steps, cosine decay
        over 80,000; PyTorch's default initialisation.
  attn  attn's `examples/listops/s4d.json` as attn-train trains it: 6 post-LN
        blocks of width 128 with a feed-forward sublayer of 256, 64 modes, a
        linear output map, learned positions, N(0, 0.02) weights; AdamW at
        0.002 (A and B at half), weight decay 0.05, gradient norm clipped to 1,
        cosine decay over 76,800 steps.

--embed-norm 1 adds the layer norm attn's models apply to the embeddings
(absent from both presets). --norm layer|batch|batch_masked picks the norm
(Norm below); with
batch_masked each evaluation also scores validation with the batch's own
statistics instead of the running ones.

Writes one JSON object per evaluation (step, seconds, train loss and
accuracy since the last evaluation, validation loss and accuracy) and, at
the end, the best validation checkpoint's test accuracy. Runs on the GPU
machine (PyTorch); stops after --minutes.
"""
import argparse
import copy
import json
import math
import random
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

TOKENS = ["<pad>", "<unk>", "<cls>", "[MIN", "[MAX", "[MED", "[SM", "]"] + [
    str(d) for d in range(10)]
PAD, CLS = 0, 2

PRESETS = {
    "s4": dict(layers=8, width=128, state=32, norm="batch", prenorm=False,
               glu=True, ffn=0, positions=False, embed_norm=False,
               init="default", lr=0.01,
               ssm_lr_scale=0.1, weight_decay=0.05, warmup=1000,
               total_steps=80000, max_grad_norm=0.0),
    "attn": dict(layers=6, width=128, state=64, norm="layer", prenorm=False,
                 glu=False, ffn=256, positions=True, embed_norm=False,
                 init="normal", lr=0.002,
                 ssm_lr_scale=0.5, weight_decay=0.05, warmup=1000,
                 total_steps=76800, max_grad_norm=1.0),
}


def load(path):
    """(ids, label) per line of an LRA ListOps TSV."""
    rows = []
    with open(path) as f:
        header = f.readline().rstrip("\n")
        assert header == "Source\tTarget", f"{path}: header {header!r}"
        for line in f:
            source, target = line.rstrip("\n").split("\t")
            ids = [CLS] + [TOKENS.index(t) for t in source.split()
                           if t not in ("(", ")")]
            rows.append((ids, int(target)))
    return rows


def batches(rows, size, step, rng, shuffle):
    """attn-train's batching: shuffled, sorted by length within windows of
    50 batches, the batches shuffled, each padded to a multiple of `step`."""
    order = list(range(len(rows)))
    if shuffle:
        rng.shuffle(order)
    window = size * 50
    for s in range(0, len(order), window):
        order[s:s + window] = sorted(order[s:s + window],
                                     key=lambda i: len(rows[i][0]))
    groups = [order[s:s + size] for s in range(0, len(order), size)]
    if shuffle:
        rng.shuffle(groups)
    for g in groups:
        longest = max(len(rows[i][0]) for i in g)
        length = (longest + step - 1) // step * step
        ids = torch.full((len(g), length), PAD, dtype=torch.long)
        lengths = torch.tensor([len(rows[i][0]) for i in g])
        for r, i in enumerate(g):
            ids[r, :len(rows[i][0])] = torch.tensor(rows[i][0])
        yield ids, lengths, torch.tensor([rows[i][1] for i in g])


class S4D(nn.Module):
    """attn.ssm, bidirectional, as an FFT convolution."""

    def __init__(self, width, state):
        super().__init__()
        self.log_a_real = nn.Parameter(torch.full((width, state),
                                                  math.log(0.5)))
        self.a_imag = nn.Parameter(math.pi * torch.arange(state).float()
                                   .repeat(width, 1))
        self.b_real = nn.Parameter(torch.ones(width, state))
        self.b_imag = nn.Parameter(torch.zeros(width, state))
        self.c_real = nn.Parameter(torch.randn(2, width, state) * 0.5 ** 0.5)
        self.c_imag = nn.Parameter(torch.randn(2, width, state) * 0.5 ** 0.5)
        self.log_dt = nn.Parameter(torch.rand(width) * (
            math.log(0.1) - math.log(0.001)) + math.log(0.001))
        self.d = nn.Parameter(torch.ones(width))

    def forward(self, u, mask):  # u [B, L, H], mask [B, L, 1]
        L = u.shape[1]
        a = torch.complex(-torch.exp(self.log_a_real), self.a_imag)
        dta = torch.exp(self.log_dt)[:, None] * a
        cb = torch.complex(self.c_real, self.c_imag) * (
            (torch.exp(dta) - 1) / a * torch.complex(self.b_real, self.b_imag))
        powers = torch.exp(dta[:, :, None] * torch.arange(L, device=u.device))
        k = 2 * torch.einsum("dhn,hnl->dhl", cb, powers).real  # [2, H, L]
        k = F.pad(k[0], (0, L)) + F.pad(k[1].flip(-1), (L, 0))
        u = (u * mask).transpose(1, 2)
        y = torch.fft.irfft(torch.fft.rfft(u, 2 * L) * torch.fft.rfft(k, 2 * L),
                            2 * L)[..., :L]
        return y.transpose(1, 2) * mask


class Norm(nn.Module):
    """layer: over channels, per position; batch: PyTorch's BatchNorm1d, per
    channel over the batch and every position, padding included (S4's);
    batch_masked: the same over real positions only, with running
    statistics for evaluation."""

    def __init__(self, kind, width):
        super().__init__()
        self.kind = kind
        # batch_masked in evaluation: the batch's statistics instead of the
        # running ones (what a model without running statistics would do).
        self.batch_statistics = False
        if kind == "layer":
            self.norm = nn.LayerNorm(width)
        elif kind == "batch":
            self.norm = nn.BatchNorm1d(width)
        else:
            self.weight = nn.Parameter(torch.ones(width))
            self.bias = nn.Parameter(torch.zeros(width))
            self.register_buffer("running_mean", torch.zeros(width))
            self.register_buffer("running_var", torch.ones(width))

    def forward(self, x, mask):
        if self.kind == "layer":
            return self.norm(x)
        if self.kind == "batch":
            return self.norm(x.transpose(1, 2)).transpose(1, 2)
        if self.training or self.batch_statistics:  # batch_masked
            n = mask.sum()
            mean = (x * mask).sum((0, 1)) / n
            var = (((x - mean) * mask) ** 2).sum((0, 1)) / n
            if self.training:
                with torch.no_grad():
                    self.running_mean.lerp_(mean, 0.1)
                    self.running_var.lerp_(var * n / (n - 1), 0.1)
        else:
            mean, var = self.running_mean, self.running_var
        return (x - mean) * torch.rsqrt(var + 1e-5) * self.weight + self.bias


class Block(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.a = a
        self.ssm = S4D(a.width, a.state)
        self.out = nn.Linear(a.width, (2 if a.glu else 1) * a.width)
        self.norm1 = Norm(a.norm, a.width)
        if a.ffn:
            self.ffn = nn.Sequential(nn.Linear(a.width, a.ffn), nn.GELU(),
                                     nn.Linear(a.ffn, a.width))
            self.norm2 = Norm(a.norm, a.width)
        self.drop = nn.Dropout(a.dropout)

    def residual(self, x, mask, norm, f):
        if self.a.prenorm:
            return x + f(norm(x, mask))
        return norm(x + f(x), mask)

    def mixer(self, h, mask):
        z = self.drop(F.gelu(self.ssm(h, mask) + self.ssm.d * h))
        z = self.out(z)
        return self.drop(F.glu(z, dim=-1) if self.a.glu else z)

    def forward(self, x, mask):
        x = self.residual(x, mask, self.norm1, lambda h: self.mixer(h, mask))
        if self.a.ffn:
            x = self.residual(x, mask, self.norm2,
                              lambda h: self.drop(self.ffn(h)))
        return x


class Model(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.embed = nn.Embedding(len(TOKENS), a.width)
        self.positions = (nn.Parameter(torch.zeros(2048, a.width))
                          if a.positions else None)
        # attn's models norm the embeddings (a layer norm) before layer 0.
        self.embed_norm = nn.LayerNorm(a.width) if a.embed_norm else None
        self.blocks = nn.ModuleList(Block(a) for _ in range(a.layers))
        self.final = Norm(a.norm, a.width) if a.prenorm else None
        self.head = nn.Linear(a.width, 10)
        self.drop = nn.Dropout(a.dropout)
        if a.init == "normal":  # BERT's: N(0, 0.02) weights, zero biases
            for m in self.modules():
                if isinstance(m, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(m.weight, std=0.02)
                if isinstance(m, nn.Linear):
                    nn.init.zeros_(m.bias)
            if self.positions is not None:
                nn.init.normal_(self.positions, std=0.02)

    def forward(self, ids, lengths):
        L = ids.shape[1]
        mask = (torch.arange(L, device=ids.device)[None, :] <
                lengths[:, None]).unsqueeze(-1).float()
        x = self.embed(ids)
        if self.positions is not None:
            x = x + self.positions[:L]
        if self.embed_norm is not None:
            x = self.embed_norm(x)
        x = self.drop(x)
        for b in self.blocks:
            x = b(x, mask)
        if self.final is not None:
            x = self.final(x, mask)
        pooled = (x * mask).sum(1) / lengths[:, None].float()
        return self.head(pooled)


def parameter_groups(model, a):
    """A and B at ssm_lr_scale, undecayed; the step size, the skip term,
    norms, biases and the position table undecayed; the rest decayed."""
    dynamics, undecayed, decayed = [], [], []
    for name, p in model.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if leaf in ("log_a_real", "a_imag", "b_real", "b_imag"):
            dynamics.append(p)
        elif (leaf in ("log_dt", "d", "bias", "positions") or "norm" in name):
            undecayed.append(p)
        else:
            decayed.append(p)
    return [dict(params=dynamics, lr_scale=a.ssm_lr_scale, weight_decay=0.0),
            dict(params=undecayed, lr_scale=1.0, weight_decay=0.0),
            dict(params=decayed, lr_scale=1.0, weight_decay=a.weight_decay)]


def rate(a, step):
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    t = min(1.0, (step - a.warmup) / max(1, a.total_steps - a.warmup))
    return a.lr * 0.5 * (1 + math.cos(math.pi * t))


@torch.no_grad()
def evaluate(model, rows, a, batch_statistics=False):
    for m in model.modules():
        if isinstance(m, Norm):
            m.batch_statistics = batch_statistics
    model.eval()
    loss = correct = 0.0
    for ids, lengths, labels in batches(rows, a.batch, a.length_step, None,
                                        False):
        logits = model(ids.cuda(), lengths.cuda())
        loss += F.cross_entropy(logits, labels.cuda(), reduction="sum").item()
        correct += (logits.argmax(-1).cpu() == labels).sum().item()
    model.train()
    for m in model.modules():
        if isinstance(m, Norm):
            m.batch_statistics = False
    return loss / len(rows), correct / len(rows)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--preset", choices=PRESETS, default="s4")
    for key, value in PRESETS["s4"].items():
        if isinstance(value, bool):
            p.add_argument("--" + key.replace("_", "-"),
                           type=lambda s: s in ("1", "true", "yes"))
        else:
            p.add_argument("--" + key.replace("_", "-"), type=type(value))
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--length-step", type=int, default=256)
    p.add_argument("--eval-every", type=int, default=1000)
    p.add_argument("--minutes", type=float, default=9.0)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    for key, value in PRESETS[a.preset].items():
        if getattr(a, key) is None:
            setattr(a, key, value)
    if a.norm not in ("layer", "batch", "batch_masked"):
        p.error(f"--norm: layer, batch or batch_masked, not {a.norm!r}")
    torch.manual_seed(a.seed)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    train = load(f"{a.data}/basic_train.tsv")
    val = load(f"{a.data}/basic_val.tsv")
    test = load(f"{a.data}/basic_test.tsv")
    model = Model(a).cuda()
    groups = parameter_groups(model, a)
    opt = torch.optim.AdamW(groups, lr=a.lr)
    out = open(a.out, "w")
    settings = {k: v for k, v in vars(a).items() if k not in ("data", "out")}
    settings["parameters"] = sum(q.numel() for q in model.parameters())
    out.write(json.dumps({"settings": settings}) + "\n")
    rng = random.Random(a.seed)
    start = time.time()
    step, best, best_state = 0, -1.0, None
    seen = correct = 0
    loss_sum = 0.0
    done = False
    while not done:
        for ids, lengths, labels in batches(train, a.batch, a.length_step,
                                            rng, True):
            ids, lengths, labels = ids.cuda(), lengths.cuda(), labels.cuda()
            for g in opt.param_groups:
                g["lr"] = rate(a, step) * g["lr_scale"]
            logits = model(ids, lengths)
            loss = F.cross_entropy(logits, labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if a.max_grad_norm > 0:
                nn.utils.clip_grad_norm_(model.parameters(), a.max_grad_norm)
            opt.step()
            step += 1
            seen += len(labels)
            loss_sum += loss.item() * len(labels)
            correct += (logits.argmax(-1) == labels).sum().item()
            over = time.time() - start > a.minutes * 60
            if step % a.eval_every == 0 or over or step >= a.total_steps:
                vloss, vacc = evaluate(model, val, a)
                if vacc > best:
                    best, best_state = vacc, copy.deepcopy(model.state_dict())
                record = dict(step=step, seconds=round(time.time() - start, 1),
                              lr=rate(a, step), train_loss=loss_sum / seen,
                              train_accuracy=correct / seen,
                              val_loss=vloss, val_accuracy=vacc)
                if a.norm == "batch_masked":
                    record["val_accuracy_batch_statistics"] = evaluate(
                        model, val, a, batch_statistics=True)[1]
                out.write(json.dumps(record) + "\n")
                out.flush()
                print(json.dumps(record), flush=True)
                seen = correct = 0
                loss_sum = 0.0
            if over or step >= a.total_steps:
                done = True
                break
    model.load_state_dict(best_state)
    tloss, tacc = evaluate(model, test, a)
    record = dict(best_val_accuracy=best, test_loss=tloss, test_accuracy=tacc,
                  steps=step)
    out.write(json.dumps(record) + "\n")
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()

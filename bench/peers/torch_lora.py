#!/usr/bin/python3
"""PyTorch eager peer of `attune bench --method lora|full`.

Trains the llama-100m benchmark shape (or another Llama shape given by flags) in plain PyTorch
eager mode, f32 on the CPU, as `attune bench` trains it: random tokens of batch x seq, the mean
next-token cross-entropy, gradient clipping at 1.0, AdamW (lr 1e-4, torch's defaults otherwise,
as Attune's adamw plugin) under a linear schedule, warm-up steps first and then the timed ones.
Prints one JSON line with the field names of Attune's bench line (tokens_per_second,
step_ms_median, peak_rss_mb, ...), and the f32 GEMM rate of the BLAS torch runs on.

The model is written here (no transformers or peft): a Llama decoder with RMSNorm, rotary
position embeddings, softmax attention with a causal mask, a SwiGLU MLP and the LM head tied to
the token embedding (or its own with --untied); weights from N(0, 0.02^2) and norms at one, as
transformers initialises a new model. LoRA follows PEFT and Attune's lora defaults: r 8, lora_alpha 8, no dropout, on q_proj and
v_proj; A from kaiming_uniform(a=sqrt(5)), B zero; the base frozen.

Run with a Python that has torch (Debian's is /usr/bin/python3):
    /usr/bin/python3 bench/peers/torch_lora.py --method lora --batch 4 --seq 256 --steps 2
"""

import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# Attune's lora defaults (plugins/lora LoraConfig.DEFAULTS and LoraMethod.DEFAULT_TARGETS for llama).
LORA_R = 8
LORA_ALPHA = 8.0
LORA_TARGETS = ("q_proj", "v_proj")
LR = 1e-4
MAX_GRAD_NORM = 1.0
INITIALIZER_RANGE = 0.02


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class LoraLinear(nn.Module):
    """A frozen Linear plus PEFT's low-rank update: y = W x + (alpha / r) * B A x."""

    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        self.lora_A = nn.Linear(base.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, base.out_features, bias=False)
        self.scaling = alpha / r
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.scaling


def rotary(head_dim, seq, theta=10000.0):
    """cos and sin [seq, head_dim] of the rotate-half rotary embedding, as transformers' Llama."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    freqs = torch.outer(torch.arange(seq, dtype=torch.float32), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, hidden, heads, kv_heads):
        super().__init__()
        self.heads = heads
        self.kv_heads = kv_heads
        self.head_dim = hidden // heads
        self.q_proj = nn.Linear(hidden, heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(heads * self.head_dim, hidden, bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)  # [b, heads, t, head_dim]
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)  # [b, kv_heads, t, head_dim]
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if self.kv_heads != self.heads:  # grouped-query attention: each key/value head serves heads / kv_heads query heads
            k = k.repeat_interleave(self.heads // self.kv_heads, dim=1)
            v = v.repeat_interleave(self.heads // self.kv_heads, dim=1)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim) + mask  # [b, heads, t, t]
        out = torch.softmax(scores, dim=-1) @ v  # [b, heads, t, head_dim]
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1))


class Mlp(nn.Module):
    def __init__(self, hidden, intermediate):
        super().__init__()
        self.gate_proj = nn.Linear(hidden, intermediate, bias=False)
        self.up_proj = nn.Linear(hidden, intermediate, bias=False)
        self.down_proj = nn.Linear(intermediate, hidden, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, hidden, intermediate, heads, kv_heads, eps):
        super().__init__()
        self.input_layernorm = RMSNorm(hidden, eps)
        self.self_attn = Attention(hidden, heads, kv_heads)
        self.post_attention_layernorm = RMSNorm(hidden, eps)
        self.mlp = Mlp(hidden, intermediate)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    def __init__(self, vocab, hidden, intermediate, layers, heads, kv_heads, tied=True, eps=1e-5):
        super().__init__()
        self.heads = heads
        self.embed_tokens = nn.Embedding(vocab, hidden)
        self.layers = nn.ModuleList(DecoderLayer(hidden, intermediate, heads, kv_heads, eps) for _ in range(layers))
        self.norm = RMSNorm(hidden, eps)
        self.lm_head = None if tied else nn.Linear(hidden, vocab, bias=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, mean=0.0, std=INITIALIZER_RANGE)

    def forward(self, ids):
        t = ids.shape[1]
        cos, sin = rotary(self.embed_tokens.weight.shape[1] // self.heads, t)
        mask = torch.full((t, t), float("-inf")).triu(1)  # [t, t]: a query sees its own and earlier positions
        h = self.embed_tokens(ids)  # [b, t, hidden]
        for layer in self.layers:
            h = layer(h, cos, sin, mask)
        head = self.embed_tokens.weight if self.lm_head is None else self.lm_head.weight
        return F.linear(self.norm(h), head)  # [b, t, vocab]


def apply_lora(model):
    for p in model.parameters():
        p.requires_grad_(False)
    for layer in model.layers:
        for name in LORA_TARGETS:
            setattr(layer.self_attn, name, LoraLinear(getattr(layer.self_attn, name), LORA_R, LORA_ALPHA))


def peak_rss_mb():
    """The process's high-water resident set in MiB: VmHWM, as Attune's bench reads it.

    getrusage's ru_maxrss is not used where /proc is: Linux carries it over an exec, so a script
    started by a large process (attune bench's JVM) would report its parent's peak.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux, bytes on macOS


def blas_libraries():
    """The BLAS libraries mapped into this process (torch's products run on one of them)."""
    try:
        with open("/proc/self/maps") as f:
            return sorted({line.split()[-1] for line in f if "blas" in line.rsplit("/", 1)[-1].lower()})
    except OSError:
        return []


def gemm_gflops():
    """GFLOP/s of an f32 product [512, 768] x [768, 768], best of 3 after one untimed: which BLAS torch got, in one number.

    Debian's python3-torch calls whatever libblas.so.3 points to; the reference BLAS there runs at
    about 1 GFLOP/s, a tuned one (OpenBLAS) at tens to hundreds.
    """
    a = torch.randn(512, 768)
    b = torch.randn(768, 768)
    a @ b
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2.0 * 512 * 768 * 768 / best / 1e9


def main(argv=None):
    p = argparse.ArgumentParser(description="PyTorch eager peer of attune bench --method lora|full: one JSON line of training throughput.")
    p.add_argument("--method", choices=("lora", "full"), default="lora")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--steps", type=int, default=5, help="timed steps (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first (default 1)")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="torch.set_num_threads (default: every core)")
    p.add_argument("--seed", type=int, default=0)
    # The llama-100m preset's shape; smaller ones for a quick check.
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--hidden", type=int, default=768)
    p.add_argument("--intermediate", type=int, default=2048)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--kv-heads", type=int, help="key/value heads (default: --heads)")
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--untied", action="store_true", help="an LM head of its own instead of the token embedding")
    a = p.parse_args(argv)
    a.kv_heads = a.heads if a.kv_heads is None else a.kv_heads
    for name in ("batch", "seq", "steps", "threads", "layers", "hidden", "intermediate", "heads", "kv_heads", "vocab"):
        if getattr(a, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if a.warmup < 0:
        p.error("--warmup must be >= 0")
    if a.hidden % a.heads or (a.hidden // a.heads) % 2:
        p.error(f"--hidden {a.hidden} must split into --heads {a.heads} heads of an even size")
    if a.heads % a.kv_heads:
        p.error(f"--heads {a.heads} must be a multiple of --kv-heads {a.kv_heads}")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = Llama(a.vocab, a.hidden, a.intermediate, a.layers, a.heads, a.kv_heads, tied=not a.untied)
    if a.method == "lora":
        apply_lora(model)
    model.train()
    trainable = [q for q in model.parameters() if q.requires_grad]
    total_steps = a.warmup + a.steps
    optimizer = torch.optim.AdamW(trainable, lr=LR)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.0, (total_steps - s) / total_steps))  # transformers' linear, no warm-up

    times = []
    loss = float("nan")
    for step in range(total_steps):
        ids = torch.randint(0, a.vocab, (a.batch, a.seq))  # [batch, seq]
        t0 = time.perf_counter()
        logits = model(ids)
        loss_t = F.cross_entropy(logits[:, :-1].reshape(-1, a.vocab), ids[:, 1:].reshape(-1))
        loss_t.backward()
        torch.nn.utils.clip_grad_norm_(trainable, MAX_GRAD_NORM)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        loss = loss_t.item()
        if step >= a.warmup:
            times.append(time.perf_counter() - t0)

    gemm = gemm_gflops()  # after training, so that its draws change nothing above
    times.sort()
    n = len(times)
    median = times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2
    print(json.dumps({
        "tokens_per_second": a.batch * a.seq / median,
        "step_ms_median": median * 1e3,
        "peak_rss_mb": peak_rss_mb(),
        "loss": loss,
        "parameters": sum(q.numel() for q in model.parameters()),
        "trained_parameters": sum(q.numel() for q in trainable),
        "method": a.method,
        "batch": a.batch,
        "seq": a.seq,
        "steps": a.steps,
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "gemm_gflops": gemm,
        "blas": blas_libraries(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""PyTorch eager peer of `attune bench --op embed`: sentence-transformers' encode, written by hand.

Runs what SentenceTransformer.encode runs for a BERT model directory, on token ids that Attune
computed with the directory's tokenizer.json (this Python needs only torch: no transformers,
tokenizers or safetensors modules): texts sorted longest first, batches of --batch-size padded to
their own longest text with an attention mask, transformers' BertModel forward in eager mode
(the path it takes on torch 1.13: scores = q k^T / sqrt(d) + mask, softmax, then the values),
the pooling of the directory's 1_Pooling/config.json ([CLS] or the mean over the mask), the L2
normalisation when modules.json has a Normalize module, rows put back in input order; under
torch.inference_mode() on --threads threads.

Its texts/s excludes tokenisation: the ids come from --ids, one JSON array per line. It writes
the embeddings of its last pass, f32 little-endian [texts, hidden] in input order, to
--embeddings-out, so that the caller can check it computed the same thing, and prints one JSON
line: texts_per_second, seconds_median, tokens, padded_tokens, threads, torch_version, and the
f32 GEMM rate and the BLAS libraries torch runs on.

    /usr/bin/python3 bench/peers/st_encode.py --model ~/.cache/attune/models/all-MiniLM-L6-v2 \\
        --ids ids.jsonl --embeddings-out peer.f32
"""

import argparse
import array
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_lora import blas_libraries, gemm_gflops, peak_rss_mb


def read_safetensors(path):
    """{name: f32 tensor} of one safetensors file: an 8-byte little-endian header length, a JSON header, raw data."""
    with open(path, "rb") as f:
        data = bytearray(f.read())  # writable, as torch.frombuffer wants
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = memoryview(data)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"{path}: {name} is {info['dtype']}; this peer reads F32 checkpoints")
        start, end = info["data_offsets"]
        t = torch.frombuffer(body[start:end], dtype=torch.float32) if end > start else torch.zeros(0)
        out[name] = t.reshape(info["shape"]).clone()  # its own storage: the file's bytes can go
    return out


def read_weights(model_dir):
    """Every tensor of the directory's model.safetensors (or its shards), without a leading 'bert.'."""
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    weights = {}
    for name in files:
        weights.update(read_safetensors(os.path.join(model_dir, name)))
    return {k[len("bert."):] if k.startswith("bert.") else k: v for k, v in weights.items()}


def sentence_pipeline(model_dir):
    """('cls' or 'mean', normalize?) from modules.json and the Pooling module's config.json; mean with L2 without modules.json."""
    modules_path = os.path.join(model_dir, "modules.json")
    if not os.path.exists(modules_path):
        return "mean", True
    with open(modules_path) as f:
        modules = json.load(f)
    pooling, normalize = "mean", False
    for m in modules:
        if m["type"].endswith(".Normalize"):
            normalize = True
        elif m["type"].endswith(".Pooling"):
            cfg_path = os.path.join(model_dir, m["path"], "config.json")
            if os.path.exists(cfg_path):
                with open(cfg_path) as f:
                    cfg = json.load(f)
                on = [k for k in ("pooling_mode_cls_token", "pooling_mode_mean_tokens") if cfg.get(k)]
                others = [k for k, v in cfg.items() if k.startswith("pooling_mode_") and v and k not in on]
                if len(on) > 1 or others:
                    raise SystemExit(f"{cfg_path}: pools with {on + others}; this peer computes one of [CLS] and the mean")
                pooling = "cls" if on == ["pooling_mode_cls_token"] else "mean"
    return pooling, normalize


class BertLayer(nn.Module):
    """transformers' BertLayer in eval mode (post-LN), attention as its eager path computes it."""

    def __init__(self, hidden, intermediate, heads, eps):
        super().__init__()
        self.heads = heads
        self.head_dim = hidden // heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.attention_output = nn.Linear(hidden, hidden)
        self.attention_norm = nn.LayerNorm(hidden, eps=eps)
        self.intermediate = nn.Linear(hidden, intermediate)
        self.output = nn.Linear(intermediate, hidden)
        self.output_norm = nn.LayerNorm(hidden, eps=eps)

    def split(self, x):
        b, t, _ = x.shape
        return x.view(b, t, self.heads, self.head_dim).permute(0, 2, 1, 3)  # [b, heads, t, head_dim]

    def forward(self, x, mask):
        b, t, h = x.shape
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim) + mask  # [b, heads, t, t]
        context = torch.matmul(torch.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).contiguous().view(b, t, h)
        a = self.attention_norm(self.attention_output(context) + x)
        return self.output_norm(self.output(F.gelu(self.intermediate(a))) + a)


class Bert(nn.Module):
    def __init__(self, config, weights):
        super().__init__()
        hidden, eps = config["hidden_size"], config.get("layer_norm_eps", 1e-12)
        if config.get("hidden_act", "gelu") != "gelu" or config.get("position_embedding_type", "absolute") != "absolute":
            raise SystemExit("config.json: this peer computes BERT with hidden_act gelu and absolute positions")
        self.word = weights["embeddings.word_embeddings.weight"]
        self.position = weights["embeddings.position_embeddings.weight"]
        self.token_type = weights["embeddings.token_type_embeddings.weight"]
        self.norm = nn.LayerNorm(hidden, eps=eps)
        self.layers = nn.ModuleList(BertLayer(hidden, config["intermediate_size"], config["num_attention_heads"], eps)
                                    for _ in range(config["num_hidden_layers"]))
        names = {"query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
                 "attention_output": "attention.output.dense", "attention_norm": "attention.output.LayerNorm",
                 "intermediate": "intermediate.dense", "output": "output.dense", "output_norm": "output.LayerNorm"}
        with torch.no_grad():
            self.norm.weight.copy_(weights["embeddings.LayerNorm.weight"])
            self.norm.bias.copy_(weights["embeddings.LayerNorm.bias"])
            for i, layer in enumerate(self.layers):
                for ours, theirs in names.items():
                    getattr(layer, ours).weight.copy_(weights[f"encoder.layer.{i}.{theirs}.weight"])
                    getattr(layer, ours).bias.copy_(weights[f"encoder.layer.{i}.{theirs}.bias"])

    def forward(self, ids, attention_mask):
        t = ids.shape[1]
        x = self.norm(F.embedding(ids, self.word) + self.token_type[0] + self.position[:t])  # [b, t, hidden]
        mask = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min  # [b, 1, 1, t], as get_extended_attention_mask
        for layer in self.layers:
            x = layer(x, mask)
        return x


def encode(model, ids, batch_size, pooling, normalize):
    """sentence-transformers' encode over ids: longest first, padded per batch, rows back in input order. Returns [texts, hidden] and padded tokens."""
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))  # stable: equal lengths keep input order
    out = torch.empty(len(ids), model.word.shape[1])
    padded = 0
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        t = len(ids[rows[0]])
        batch = torch.zeros(len(rows), t, dtype=torch.long)
        mask = torch.zeros(len(rows), t, dtype=torch.long)
        for k, r in enumerate(rows):
            batch[k, :len(ids[r])] = torch.tensor(ids[r])
            mask[k, :len(ids[r])] = 1
        padded += len(rows) * t
        h = model(batch, mask)  # [b, t, hidden]
        if pooling == "cls":
            e = h[:, 0]
        else:
            m = mask.unsqueeze(-1).to(h.dtype)
            e = (h * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)
        if normalize:
            e = F.normalize(e, p=2, dim=1)
        out[torch.tensor(rows)] = e
    return out, padded


def main(argv=None):
    p = argparse.ArgumentParser(description="PyTorch eager peer of attune bench --op embed: sentence-transformers' encode on given token ids.")
    p.add_argument("--model", required=True, help="a BERT sentence-transformers directory (config.json, model.safetensors, modules.json)")
    p.add_argument("--ids", required=True, help="token ids, one JSON array per text and line, in input order")
    p.add_argument("--embeddings-out", required=True, help="where the last pass's embeddings go: f32 little-endian [texts, hidden]")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3, help="timed passes over every text; the median is reported (default 3)")
    p.add_argument("--warmup", type=int, default=128, help="texts of the untimed pass first (default 128)")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="torch.set_num_threads (default: every core)")
    a = p.parse_args(argv)
    for name in ("batch_size", "repeats", "threads"):
        if getattr(a, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    with open(a.ids) as f:
        ids = [json.loads(line) for line in f if line.strip()]
    if not ids:
        p.error(f"{a.ids}: no texts")

    torch.set_num_threads(a.threads)
    with open(os.path.join(a.model, "config.json")) as f:
        config = json.load(f)
    pooling, normalize = sentence_pipeline(a.model)
    model = Bert(config, read_weights(a.model)).eval()

    times = []
    with torch.inference_mode():
        encode(model, ids[:max(a.warmup, 1)], a.batch_size, pooling, normalize)
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            embeddings, padded = encode(model, ids, a.batch_size, pooling, normalize)
            times.append(time.perf_counter() - t0)
    tmp = a.embeddings_out + ".tmp"
    values = array.array("f", embeddings.flatten().tolist())  # no numpy needed
    if sys.byteorder != "little":
        values.byteswap()
    with open(tmp, "wb") as f:
        f.write(values.tobytes())
    os.replace(tmp, a.embeddings_out)

    gemm = gemm_gflops()
    times.sort()
    n = len(times)
    median = times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2
    print(json.dumps({
        "texts_per_second": len(ids) / median,
        "seconds_median": median,
        "texts": len(ids),
        "tokens": sum(len(r) for r in ids),
        "padded_tokens": padded,
        "hidden": embeddings.shape[1],
        "pooling": pooling,
        "normalize": normalize,
        "batch_size": a.batch_size,
        "repeats": a.repeats,
        "threads": torch.get_num_threads(),
        "peak_rss_mb": peak_rss_mb(),
        "torch_version": torch.__version__,
        "gemm_gflops": gemm,
        "blas": blas_libraries(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""An independent forward pass of an exported model, in numpy only.

Reads model.safetensors and config.json from a model folder (written by `Cluster.Host export` or at the end of
`train`) and computes the logits of a token sequence in float64, routing every MoE layer as inference does: top-K of
s - q (BIP, QB), s + bias (Loss-Free) or s (top-K, Loss-Controlled) per token, exact ties to the lower expert, with
the saved q or bias and no re-solve. It doubles as documentation of the architecture for other frameworks.

    python3 tools/reference_forward.py MODEL_FOLDER 0 17 42 5 [--out logits.npy]
    python3 tools/reference_forward.py MODEL_FOLDER --list

Token ids are the model's compact ids (vocabulary.json maps them to GPT-2 ids). Without --out it prints the shape
and the last position's five most likely ids. --list reads model.safetensors alone and prints, as JSON, each
tensor's shape and first values, and the metadata.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np


def read_safetensors(path):
    """Returns ({name: float32 array}, metadata), checking every tensor's byte range against its shape."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: shorter than the 8-byte header length")
    (header_len,) = struct.unpack("<Q", data[:8])
    if 8 + header_len > len(data):
        raise ValueError(f"{path}: header length {header_len} runs past the file ({len(data)} bytes)")
    header = json.loads(data[8:8 + header_len].decode("utf-8"))
    body = memoryview(data)[8 + header_len:]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    spans = []
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            raise ValueError(f"{path}: {name} has dtype {entry['dtype']}, expected F32")
        begin, end = entry["data_offsets"]
        shape = tuple(entry["shape"])
        count = int(np.prod(shape)) if shape else 1
        if not (0 <= begin <= end <= len(body)) or end - begin != 4 * count:
            raise ValueError(f"{path}: {name} has byte range [{begin}, {end}) for shape {shape} in a body of {len(body)} bytes")
        spans.append((begin, end, name))
        tensors[name] = np.frombuffer(body[begin:end], dtype="<f4").reshape(shape)
    spans.sort()
    for (b0, e0, n0), (b1, _, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise ValueError(f"{path}: tensors {n0} and {n1} overlap")
    if spans and spans[-1][1] != len(body):
        raise ValueError(f"{path}: {len(body) - spans[-1][1]} bytes after the last tensor")
    return tensors, metadata


def rms_norm(x, weight, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def silu(x):
    return x / (1.0 + np.exp(-x))


def swiglu(x, w, prefix):
    """down(silu(gate(x)) * up(x)); a Linear's weight is [out, in]."""
    gate = x @ w[prefix + "gate.weight"].T
    up = x @ w[prefix + "up.weight"].T
    return (silu(gate) * up) @ w[prefix + "down.weight"].T


def rotary(x, theta):
    """x: [heads, time, head_dim]; features rotate in (first half, second half) pairs."""
    _, time, head_dim = x.shape
    half = head_dim // 2
    frequencies = theta ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    angles = np.outer(np.arange(time, dtype=np.float64), frequencies)
    cos, sin = np.cos(angles), np.sin(angles)
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1)


def attention(x, w, prefix, config):
    time, dim = x.shape
    heads = config["heads"]
    head_dim = dim // heads
    qkv = (x @ w[prefix + "qkv.weight"].T).reshape(time, 3, heads, head_dim).transpose(1, 2, 0, 3)  # [3, H, T, hd]
    q = rotary(qkv[0], config["rope_theta"])
    k = rotary(qkv[1], config["rope_theta"])
    v = qkv[2]
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(head_dim)
    scores = np.where(np.tril(np.ones((time, time), dtype=bool)), scores, -np.inf)
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    attended = (scores / scores.sum(axis=-1, keepdims=True)) @ v  # [H, T, hd]
    return attended.transpose(1, 0, 2).reshape(time, dim) @ w[prefix + "output.weight"].T


def moe(x, w, prefix, config):
    logits = x @ w[prefix + "gate.weight"].T
    if config["score_function"] == "softmax":
        scores = np.exp(logits - logits.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
    else:
        scores = 1.0 / (1.0 + np.exp(-logits))
    router = config["router"]
    if router in ("bip", "quantile_balancing"):
        ranking = scores - w[prefix + "router.q"]
    elif router == "loss_free":
        ranking = scores + w[prefix + "router.bias"]
    else:
        ranking = scores
    top_k = config["top_k"]
    chosen = np.argsort(-ranking, axis=-1, kind="stable")[:, :top_k]
    weights = np.take_along_axis(scores, chosen, axis=-1)
    if config["normalize_top_k"]:
        weights = weights / np.maximum(weights.sum(axis=-1, keepdims=True), 1e-20)
    out = np.zeros_like(x)
    for token in range(x.shape[0]):
        for slot in range(top_k):
            expert = f"{prefix}experts.{chosen[token, slot]}."
            out[token] += weights[token, slot] * swiglu(x[token:token + 1], w, expert)[0]
    if config["shared_expert"]:
        out += swiglu(x, w, prefix + "shared.")
    return out


def forward(folder, tokens):
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    if config.get("format_version") != 1:
        raise ValueError(f"{folder}: config.json format_version {config.get('format_version')}, this script reads 1")
    tensors, _ = read_safetensors(os.path.join(folder, "model.safetensors"))
    w = {name: value.astype(np.float64) for name, value in tensors.items()}
    if len(tokens) > config["context_length"]:
        raise ValueError(f"{len(tokens)} tokens exceed the context length {config['context_length']}")
    if any(t < 0 or t >= config["vocab_size"] for t in tokens):
        raise ValueError(f"token ids must lie in [0, {config['vocab_size']})")
    eps = config["norm_epsilon"]
    x = w["embedding.weight"][np.asarray(tokens)]
    for b in range(config["layers"]):
        p = f"blocks.{b}."
        x = x + attention(rms_norm(x, w[p + "attentionNorm.weight"], eps), w, p + "attention.", config)
        normed = rms_norm(x, w[p + "feedForwardNorm.weight"], eps)
        if b < config["dense_layers"]:
            x = x + swiglu(normed, w, p + "feedForward.")
        else:
            x = x + moe(normed, w, p + "feedForward.", config)
    return rms_norm(x, w["norm.weight"], eps) @ w["embedding.weight"].T


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("tokens", nargs="*", type=int)
    parser.add_argument("--out", help="write the logits [time, vocab] as float64 .npy here")
    parser.add_argument("--list", action="store_true", help="print each tensor's shape and first values as JSON")
    args = parser.parse_args()
    try:
        if args.list:
            tensors, metadata = read_safetensors(os.path.join(args.folder, "model.safetensors"))
            listing = {name: {"shape": list(t.shape), "first": t.reshape(-1)[:4].astype(float).tolist()} for name, t in tensors.items()}
            print(json.dumps({"metadata": metadata, "tensors": listing}))
            return 0
        if not args.tokens:
            parser.error("give token ids, or --list")
        logits = forward(args.folder, args.tokens)
    except (OSError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.out:
        np.save(args.out, logits)
    else:
        print(f"logits {logits.shape}; last position's top ids: {np.argsort(-logits[-1])[:5].tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Converts a PyTorch checkpoint (.pth) to safetensors for hrnet, or back.

usage: convert_pth_to_safetensors.py IN.pth OUT.safetensors        (.pth -> safetensors)
       convert_pth_to_safetensors.py --reverse IN.safetensors OUT.pth

Needs torch (Debian's python3-torch is enough: run with /usr/bin/python3). Accepts a bare state_dict
or a training checkpoint holding one under 'state_dict' / 'model'; strips DataParallel's 'module.'
prefix. Names and layouts are kept exactly as PyTorch has them (OIHW weights, 0-d int64
num_batches_tracked), which is what hrnet reads; hrnet's loader then reports missing, unexpected and
mis-shaped keys by name.
"""
import argparse
import json
import struct
import sys

import torch

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64", torch.int64: "I64"}


def state_dict_of(obj, path):
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    elif isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        sys.exit(f"{path}: not a state dict (a mapping of names to tensors)")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        if t.dtype not in DTYPES:
            sys.exit(f"tensor '{name}': dtype {t.dtype} is not supported (F32, F16, BF16, F64, I64)")
        data = t.view(torch.uint8).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    inv = {v: k for k, v in DTYPES.items()}
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        buf = bytearray(raw[8 + n + b:8 + n + end])
        dt = inv[e["dtype"]]
        if dt == torch.bfloat16:
            t = torch.frombuffer(buf, dtype=torch.int16).view(torch.bfloat16) if buf else torch.empty(0, dtype=dt)
        else:
            t = torch.frombuffer(buf, dtype=dt) if buf else torch.empty(0, dtype=dt)
        out[name] = t.reshape(e["shape"]).clone()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--reverse", action="store_true", help="safetensors -> .pth")
    a = ap.parse_args()
    if a.reverse:
        torch.save(read_safetensors(a.src), a.dst)
    else:
        sd = state_dict_of(torch.load(a.src, map_location="cpu"), a.src)
        write_safetensors(a.dst, sd, {"source": a.src, "format": "pt"})
    print(f"wrote {a.dst}")


if __name__ == "__main__":
    main()

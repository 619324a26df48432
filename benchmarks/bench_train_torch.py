#!/usr/bin/env python3
"""The bench_train workload in PyTorch, for a side-by-side comparison in the same run.

usage: /usr/bin/python3 benchmarks/bench_train_torch.py --cfg FILE [--batch N] [--size S] [--steps K]
           [--device cpu|cuda] [--compile] [--amp] [--bench build/bin/bench_train] [--json OUT]

Builds the same model (tests/models/reference_models.py, a re-implementation of the official code)
in channels_last, runs the same stand-in loss (masked MSE on each pose output / cross-entropy) with
Adam (pose) or SGD (classification), and reports img/s and peak memory. With --bench it first runs
our bench_train with the same arguments and prints the ratio. --amp (CUDA) uses autocast fp16 with a
GradScaler; --compile wraps the model in torch.compile.
"""
import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "models"))
import reference_models as rm  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cfg", required=True)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=None,
                    help="untimed steps (default 1 on the CPU, 2 on CUDA, as bench_train)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--amp", action="store_true")
    ap.add_argument("--bench", help="path to our bench_train, run first with the same arguments")
    ap.add_argument("--json")
    a = ap.parse_args()
    if a.warmup is None:
        a.warmup = 2 if a.device == "cuda" else 1
    if a.device == "cuda":
        # the same settings as ours: cuDNN algorithm search on, IEEE fp32 (no TF32) unless --amp
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count()))
    torch.set_num_threads(threads)  # the same CPU thread count as our run

    ours = None
    if a.bench:
        out = a.json + ".hrnet.json" if a.json else "/tmp/bench_train_hrnet.json"
        subprocess.run([a.bench, "--cfg", a.cfg, "--batch", str(a.batch), "--steps", str(a.steps), "--warmup",
                        str(a.warmup), "--device", a.device] + (["--size", str(a.size)] if a.size else []) +
                       ["--json", out], check=True,
                       env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
        ours = json.load(open(out))

    cfg = rm.load_config(a.cfg)
    pose = cfg["MODEL"]["NAME"] == "pose_higher_hrnet"
    size = a.size or (cfg["DATASET"]["INPUT_SIZE"] if pose else cfg["MODEL"]["IMAGE_SIZE"][0])
    dev = torch.device(a.device)
    model = rm.build_model(cfg).to(dev).to(memory_format=torch.channels_last).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3) if pose else torch.optim.SGD(
        model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4, nesterov=True)
    fwd = torch.compile(model) if a.compile else model
    scaler = torch.cuda.amp.GradScaler(enabled=a.amp)
    torch.manual_seed(0)
    x = torch.randn(a.batch, 3, size, size, device=dev).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 1000, (a.batch,), device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        ctx = torch.autocast(device_type=dev.type, dtype=torch.float16) if a.amp else contextlib.nullcontext()
        with ctx:
            outs = fwd(x)
            if pose:
                loss = sum(F.mse_loss(o.float(), torch.zeros_like(o, dtype=torch.float32)) for o in outs)
            else:
                loss = F.cross_entropy(outs.float(), labels)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    for _ in range(a.warmup):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    for _ in range(a.steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    secs = time.perf_counter() - t
    ips = a.batch * a.steps / secs
    peak = (torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    res = {"benchmark": "bench_train", "framework": "pytorch " + torch.__version__, "config": a.cfg,
           "device": a.device, "batch": a.batch, "input": size, "steps": a.steps, "compile": a.compile,
           "amp": a.amp, "threads": torch.get_num_threads(), "img_per_s": ips, "ms_per_step": 1e3 * secs / a.steps,
           "peak_mib": peak}
    print(f"pytorch: {ips:.2f} img/s, {1e3 * secs / a.steps:.1f} ms/step, peak {peak:.0f} MiB")
    if ours:
        res["hrnet"] = ours
        res["hrnet_over_pytorch_img_per_s"] = ours["img_per_s"] / ips
        print(f"hrnet / pytorch throughput: {ours['img_per_s'] / ips:.2f}x")
    if a.json:
        json.dump(res, open(a.json, "w"), indent=2)
        print("written", a.json)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Runs bench_cpu_ops's cases in PyTorch on the CPU (channels_last) and prints both side by side.

usage: /usr/bin/python3 benchmarks/bench_cpu_ops_torch.py --bench build/bin/bench_cpu_ops [--json OUT]

It runs our binary first (same machine, same moment), then the same shapes in PyTorch with the
same thread count, and reports time ratios (PyTorch / hrnet: > 1 means hrnet is faster).
Needs torch (Debian's python3-torch is enough).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F


def median_seconds(fn, reps):
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def torch_cases(reps):
    torch.manual_seed(0)
    out = {}
    n = 2
    for c, hw in [(32, 64), (64, 32), (128, 16), (256, 8)]:
        x = torch.randn(n, c, hw, hw).contiguous(memory_format=torch.channels_last).requires_grad_()
        w = torch.randn(c, c, 3, 3).contiguous(memory_format=torch.channels_last).requires_grad_()
        tag = f"conv3x3_c{c}_{hw}"
        with torch.no_grad():
            out[tag + "_fwd"] = median_seconds(lambda: F.conv2d(x, w, padding=1), reps)

        def fb():
            y = F.conv2d(x, w, padding=1)
            y.backward(torch.ones_like(y))
        out[tag + "_fwd_bwd"] = median_seconds(fb, reps)
    x0 = torch.randn(n, 32, 64, 64).contiguous(memory_format=torch.channels_last)
    xs = [torch.randn(n, 32, s, s).contiguous(memory_format=torch.channels_last) for s in (32, 16, 8)]
    with torch.no_grad():
        def separate():
            y = x0
            for f, t in zip((2, 4, 8), xs):
                y = y + F.interpolate(t, scale_factor=f, mode="nearest")
            return F.relu(y)
        out["fusion_node_separate"] = median_seconds(separate, reps)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", default="build/bin/bench_cpu_ops", help="path to bench_cpu_ops")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--json", help="write the comparison here")
    a = ap.parse_args()
    # same thread count on both sides: OMP_NUM_THREADS if set, else every core
    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count()))
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as d:
        ours_path = os.path.join(d, "ours.json")
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        subprocess.run([a.bench, "--json", ours_path, "--reps", str(a.reps)], check=True, stdout=subprocess.DEVNULL, env=env)
        ours = {c["name"]: c["seconds"] for c in json.load(open(ours_path))["cases"]}
    theirs = torch_cases(a.reps)
    rows = []
    print(f"{'case':28s} {'hrnet ms':>10s} {'torch ms':>10s} {'torch/hrnet':>12s}")
    for name, t in theirs.items():
        mine = ours.get(name if name != "fusion_node_separate" else "fusion_node_fused")
        label = name if name != "fusion_node_separate" else "fusion_node (ours fused)"
        ratio = t / mine
        rows.append({"case": label, "hrnet_seconds": mine, "torch_seconds": t, "torch_over_hrnet": ratio})
        print(f"{label:28s} {mine * 1e3:10.3f} {t * 1e3:10.3f} {ratio:12.2f}")
    result = {
        "benchmark": "bench_cpu_ops vs PyTorch CPU (channels_last)",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
        "reps": a.reps,
        "rows": rows,
    }
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
        print("written", a.json)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Prints bench_kernels (hrnet) and bench_kernels_torch.py (PyTorch) results side by side.

usage: python3 benchmarks/compare_kernels.py HRNET.json TORCH.json [--dtype D] [--only SUBSTRING]
           [--markdown] [--json OUT]

Rows are matched on (name, shape, dtype); torch/hrnet is PyTorch's median ms over hrnet's, so > 1
means hrnet is faster. The fusion_sum_relu rows compare hrnet's fused fusion-node kernel with
PyTorch's separate interpolate / add / relu (and their autograd backward) on the same tensors.
Rows present in one file only are listed at the end (hrnet's fusion_unfused rows have no PyTorch
counterpart). The summary gives geometric means of torch/hrnet per section and dtype, and checks
the element-wise kernels on large tensors against the target of 85% of the copy bandwidth.
Only the Python standard library is needed.
"""
import argparse
import json
import math
import sys

LARGE_SHAPE = "16x64x256x256"  # bench_kernels's large-tensor shape (beyond any L2 cache)
ELEMENTWISE = ("relu_fwd", "relu_bwd", "add2", "add4", "add_relu2", "accumulate", "cast_", "sum",
               "upsample_nearest_")
COPY_TARGET = 0.85


def load(path):
    with open(path) as f:
        d = json.load(f)
    for key in ("kernels", "cudnn"):
        d.setdefault(key, [])
    return d


def keyed(rows):
    return {(r["name"], r["shape"], r["dtype"]): r for r in rows}


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


class Table:
    def __init__(self, markdown):
        self.markdown = markdown

    def print(self, header, rows, widths):
        if self.markdown:
            print("| " + " | ".join(header) + " |")
            print("|" + "|".join("---" for _ in header) + "|")
            for r in rows:
                print("| " + " | ".join(r) + " |")
        else:
            line = lambda cells: " ".join(c.ljust(w) if i < 3 else c.rjust(w)
                                          for i, (c, w) in enumerate(zip(cells, widths)))
            print(line(header))
            for r in rows:
                print(line(r))
        print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="\n\n".join(__doc__.split("\n\n")[2:]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("hrnet", help="JSON written by bench_kernels --json")
    ap.add_argument("torch", help="JSON written by bench_kernels_torch.py --json")
    ap.add_argument("--dtype", help="only this dtype (float, half, bfloat16)")
    ap.add_argument("--only", default="", help="only rows whose name contains this")
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables")
    ap.add_argument("--json", help="also write the matched rows and the summary here")
    a = ap.parse_args()
    ours, theirs = load(a.hrnet), load(a.torch)

    for label, d in (("hrnet", ours), ("torch", theirs)):
        print(f"{label}: {d.get('framework', '?')} on {d.get('device', '?')}, {d.get('date', '?')}, "
              f"dtype {d.get('dtype', '?')}, copy {fmt(d.get('copy_bandwidth_gbs'), '.1f')} GB/s"
              + (", SMOKE shapes" if d.get("smoke") else ""))
    if ours.get("device") != theirs.get("device"):
        print("warning: the two files come from different devices; ratios mix hardware", file=sys.stderr)
    if ours.get("tf32") != theirs.get("tf32"):
        print("warning: TF32 differs between the two runs", file=sys.stderr)
    print()

    def wanted(key):
        name, _, dtype = key
        return (not a.dtype or dtype == a.dtype) and a.only in name

    table = Table(a.markdown)
    out = {"hrnet": a.hrnet, "torch": a.torch, "kernels": [], "cudnn": []}
    ratios = {}  # (section, dtype) -> [torch/hrnet]
    unmatched = {"hrnet": [], "torch": []}
    for section in ("kernels", "cudnn"):
        mine, other = keyed(ours[section]), keyed(theirs[section])
        rows = []
        for key, r in mine.items():
            if not wanted(key):
                continue
            t = other.get(key)
            if t is None:
                unmatched["hrnet"].append(key)
                continue
            ratio = t["ms"] / r["ms"] if r["ms"] > 0 else None
            ratios.setdefault((section, key[2]), []).append(ratio)
            rec = {"name": key[0], "shape": key[1], "dtype": key[2], "hrnet_ms": r["ms"], "torch_ms": t["ms"],
                   "torch_over_hrnet": ratio}
            if section == "kernels":
                rec.update(hrnet_gbs=r.get("gbs"), hrnet_fraction_of_copy=r.get("fraction_of_copy"),
                           torch_gbs=t.get("gbs"))
                rows.append([key[0], key[1], key[2], fmt(r["ms"], ".4f"), fmt(t["ms"], ".4f"), fmt(ratio, ".2f"),
                             fmt(r.get("gbs"), ".0f"), fmt(100 * (r.get("fraction_of_copy") or 0), ".0f") + "%",
                             fmt(t.get("gbs"), ".0f")])
            else:
                rec.update(hrnet_tflops=r.get("tflops"), torch_tflops=t.get("tflops"))
                rows.append([key[0], key[1], key[2], fmt(r["ms"], ".4f"), fmt(t["ms"], ".4f"), fmt(ratio, ".2f"),
                             fmt(r.get("tflops"), ".1f"), fmt(t.get("tflops"), ".1f")])
            out[section].append(rec)
        unmatched["torch"] += [k for k in other if wanted(k) and k not in mine]
        if not rows:
            continue
        if section == "kernels":
            print("Our kernels (GB/s: logical bytes read + written per second; %copy: of hrnet's copy bandwidth)")
            table.print(["name", "shape", "dtype", "hrnet ms", "torch ms", "torch/hrnet", "hrnet GB/s", "%copy",
                         "torch GB/s"], rows, [28, 26, 9, 10, 10, 11, 10, 6, 10])
        else:
            print("cuDNN convolutions and batch norm")
            table.print(["name", "shape", "dtype", "hrnet ms", "torch ms", "torch/hrnet", "hrnet TFLOP/s",
                         "torch TFLOP/s"], rows, [28, 26, 9, 10, 10, 11, 13, 13])

    print("Summary (geometric mean of torch/hrnet; > 1: hrnet faster)")
    summary = {}
    for (section, dtype), rs in sorted(ratios.items()):
        g = geomean(rs)
        summary[f"{section}/{dtype}"] = g
        print(f"  {section:8s} {dtype:9s} {g:6.2f}  over {len(rs)} rows")
    for direction in ("fwd", "bwd"):
        rs = [r["torch_over_hrnet"] for r in out["kernels"]
              if r["name"].startswith(f"fusion_sum_relu_{direction}/") and r["torch_over_hrnet"]]
        if rs:
            g = geomean(rs)
            summary[f"fusion_{direction}"] = g
            print(f"  fusion node {direction} (hrnet fused vs PyTorch separate ops): {g:.2f} over {len(rs)} rows, "
                  f"range {min(rs):.2f} to {max(rs):.2f}")
    large = [r for r in ours["kernels"] if r["shape"] == LARGE_SHAPE and r["name"].startswith(ELEMENTWISE)
             and wanted((r["name"], r["shape"], r["dtype"]))]
    if large:
        below = [r for r in large if (r.get("fraction_of_copy") or 0) < COPY_TARGET]
        print(f"  element-wise kernels on {LARGE_SHAPE}: {len(large) - len(below)} of {len(large)} at or above "
              f"{COPY_TARGET:.0%} of the copy bandwidth")
        for r in below:
            print(f"    below target: {r['name']} {r['dtype']} {r['fraction_of_copy']:.0%}")
        summary["large_below_target"] = [[r["name"], r["dtype"], r["fraction_of_copy"]] for r in below]
    for side, keys in unmatched.items():
        if keys:
            names = sorted({k[0] for k in keys})
            print(f"  only in {side}: {len(keys)} rows ({', '.join(names[:12])}{', ...' if len(names) > 12 else ''})")
    if a.json:
        out["summary"] = summary
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)
        print(f"written {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

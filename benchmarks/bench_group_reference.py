#!/usr/bin/env python3
"""Times the official grouping algorithm (tests/pose/reference_group.py: lib/core/group.py's
HeatmapParser.parse, ported step by step to numpy + munkres 1.1.4, the port the grouping fixtures
come from) on maps written by `bench_group --save_maps`, checks that hrnet's results on the same
maps are bit-identical, and, with --bench, times hrnet's parser in the same run for the ratio.

    build/bin/bench_group --only realistic:512 --what read_maps_once --reps 1 --save_maps /tmp/m.safetensors
    python3 benchmarks/bench_group_reference.py --maps /tmp/m.safetensors --bench build/bin/bench_group \
        --json benchmarks/results/group_reference_cpu_1thread_DATE.json

Needs numpy, safetensors and munkres 1.1.x (pip install munkres==1.1.4). One thread: hrnet's runs
get OMP_NUM_THREADS=1, and numpy does no multithreaded work here.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from safetensors import safe_open

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "infer"))
import reference_group as rg  # noqa: E402


def hrnet_rows(bench, case, whats, reps):
    """Medians of bench_group rows for one case, from its --json output."""
    out = {}
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for what in whats:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "r.json")
            subprocess.run([bench, "--only", case, "--what", what, "--reps", str(reps), "--json", path],
                           check=True, env=env, stdout=subprocess.DEVNULL)
            with open(path) as f:
                rows = json.load(f)["results"]
        out[what] = rows[0]["median_ms"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--maps", required=True, help="safetensors file from bench_group --save_maps")
    ap.add_argument("--reps", type=int, default=3, help="runs of the reference parser (median)")
    ap.add_argument("--bench", help="bench_group binary: time hrnet's parser before and after, in this run")
    ap.add_argument("--bench_reps", "--bench-reps", type=int, default=50,
                    help="--reps of each bench_group run (kebab-case --bench-reps also accepted)")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()

    with safe_open(a.maps, "np") as fh:
        f = {k: fh.get_tensor(k) for k in fh.keys()}
        case = (fh.metadata() or {}).get("case", "")
    det, tag = f["heatmaps"], f["tags"]
    J, H, W, T = tag.shape
    params = rg.Params(num_joints=J)

    whats = ["parse_with_summary", "parse_after_aggregate", "parse"]
    before = hrnet_rows(a.bench, case, whats, a.bench_reps) if a.bench else None

    times = []
    persons = scores = None
    for _ in range(a.reps):
        t0 = time.perf_counter()
        persons, scores = rg.parse(det, tag, params)
        times.append((time.perf_counter() - t0) * 1e3)
    persons = np.asarray(persons, dtype=np.float32)
    scores = np.asarray(scores, dtype=np.float32)
    identical = (persons.shape == f["persons"].shape and np.array_equal(persons, f["persons"])
                 and np.array_equal(scores, f["scores"]))

    after = hrnet_rows(a.bench, case, whats, a.bench_reps) if a.bench else None
    ref_ms = statistics.median(times)
    result = {
        "benchmark": "bench_group_reference",
        "case": case,
        "maps": {"joints": J, "height": H, "width": W, "tag_dim": T},
        "persons": int(persons.shape[0]),
        "reference": "tests/pose/reference_group.py (official group.py in numpy + munkres 1.1.4)",
        "reference_runs_ms": times,
        "reference_median_ms": ref_ms,
        "hrnet_results_identical": bool(identical),
    }
    print(f"{case}: reference parse (official algorithm, numpy) median {ref_ms:.1f} ms over {a.reps} runs; "
          f"{persons.shape[0]} persons; hrnet's results {'identical' if identical else 'DIFFER'}")
    if a.bench:
        hr = {w: (before[w] + after[w]) / 2 for w in whats}
        result["hrnet_median_ms"] = {w: {"before": before[w], "after": after[w], "mean": hr[w]} for w in whats}
        result["speedup"] = {w: ref_ms / hr[w] for w in whats}
        for w in whats:
            print(f"  hrnet {w:22s} {hr[w]:8.3f} ms (before {before[w]:.3f}, after {after[w]:.3f}): "
                  f"{ref_ms / hr[w]:7.1f}x faster")
    if a.json:
        with open(a.json, "w") as fo:
            json.dump(result, fo, indent=1)
            fo.write("\n")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""compare_runs.py BEFORE AFTER (the two OUT_DIRs of tests/train/reference_runs.sh): checkpoints byte-identical, CSV logs equal except timing columns,
console logs equal except timings. Exit 1 on any difference."""
import csv, hashlib, os, re, sys
A, B = sys.argv[1], sys.argv[2]
bad = 0
TIMING = {"img_per_s", "data_wait", "seconds"}
def md5(p): return hashlib.md5(open(p, "rb").read()).hexdigest()
for root, _, files in os.walk(A):
    for f in sorted(files):
        pa = os.path.join(root, f); rel = os.path.relpath(pa, A); pb = os.path.join(B, rel)
        if rel.startswith(("w16/tb", "w32/tb")): continue
        if not os.path.exists(pb): print("MISSING", rel); bad = 1; continue
        if f.endswith(".safetensors"):
            same = md5(pa) == md5(pb); print(("same   " if same else "DIFFER ") + rel); bad |= not same
        elif f.endswith(".csv"):
            ra = list(csv.DictReader(open(pa))); rb = list(csv.DictReader(open(pb)))
            strip = lambda rows: [{k: v for k, v in r.items() if k not in TIMING} for r in rows]
            same = strip(ra) == strip(rb); print(("same   " if same else "DIFFER ") + rel + " (timing columns aside)"); bad |= not same
        elif f.endswith(".log"):
            scrub = lambda s: re.sub(r"[0-9.]+ img/s|data [0-9]+%|ETA [0-9:?]+|in [0-9:]+|\([0-9.]+ images/s\)|[^ ]*/(?=w16|w32)", "T", s)
            la = scrub(open(pa).read()).splitlines(); lb = scrub(open(pb).read()).splitlines()
            same = la == lb
            print(("same   " if same else "DIFFER ") + rel + " (timings aside)"); bad |= not same
            if not same:
                import difflib; print("\n".join(list(difflib.unified_diff(la, lb, lineterm=""))[:20]))
sys.exit(bad)

"""Makes the Hungarian and grouping fixtures under tests/pose/data/.

    python3 -m pip install numpy munkres==1.1.4
    python3 tests/pose/make_group_fixtures.py

munkres_cases.json    cost matrices (ties, rectangular, group-style padded) and Munkres().compute
group_cases.json      grouping cases: map generator spec + parser parameters
group_expected.safetensors
                      per case: persons (P, J, 3+T) and scores from reference_group.parse, and
                      checksums of the generated maps (the C++ test regenerates the maps from the
                      spec and checks the checksums first, so a generator mismatch fails loudly)

The maps come from a counter-based splitmix64 generator and float32 +,-,*,/ only, so the C++ test
rebuilds them bit for bit instead of storing megabytes of floats (tests/pose/test_group.cpp holds
the C++ twin of make_maps).
"""
import json
import os
import sys

import numpy as np
from munkres import Munkres

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
import reference_group as rg  # noqa: E402
from safetensors_writer import write_safetensors  # noqa: E402

DATA = os.path.join(HERE, "data")
M64 = (1 << 64) - 1


def uniform(seed, n):
    """float32 draws i = 0..n-1 of stream `seed`: splitmix64(seed + (i + 1) * golden) >> 40, / 2^24."""
    with np.errstate(over="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(seed & M64) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / 16777216.0)


def fnv1a63(a):
    """FNV-1a 64 of the float32 little-endian bytes, top bit cleared (fits an int64)."""
    h = 0xCBF29CE484222325
    for b in np.ascontiguousarray(a, "<f4").tobytes():
        h = ((h ^ b) * 0x100000001B3) & M64
    return h & 0x7FFFFFFFFFFFFFFF


def make_maps(spec):
    J, H, W, T = spec["J"], spec["H"], spec["W"], spec["T"]
    seed = spec["seed"]
    f32 = np.float32
    det = uniform(seed, J * H * W).reshape(J, H, W) * f32(spec["noise"])
    tag = (uniform(seed + 1, J * H * W * T).reshape(J, H, W, T) - f32(0.5)) * f32(spec["bg_tag"])
    q = spec.get("quant", 0)
    if q:
        det = np.floor(det * f32(q)) / f32(q)
        tag = np.floor(tag * f32(q)) / f32(q)
    jit = uniform(seed + 2, J * H * W * T).reshape(J, H, W, T)
    for person in spec["people"]:
        ptag = np.array(person["tag"], np.float32)
        for k, j in enumerate(person["joints"]):
            if j is None:
                continue
            x, y, peak, r = int(j[0]), int(j[1]), f32(j[2]), int(j[3])
            for dy in range(-r, r + 1):
                for dx in range(-r, r + 1):
                    yy, xx = y + dy, x + dx
                    if not (0 <= yy < H and 0 <= xx < W):
                        continue
                    w = f32(1) - f32(dx * dx + dy * dy) / f32(r * r + 1)
                    if not w > 0:
                        continue
                    det[k, yy, xx] = max(det[k, yy, xx], peak * w)
                    tag[k, yy, xx, :] = ptag + (jit[k, yy, xx, :] - f32(0.5)) * f32(spec["tag_jitter"])
    return det.astype(np.float32), tag.astype(np.float32)


def people_spec(rng, n, J, H, W, T, spacing=1.5, missing=0.15, weak=0.5, radius=(2, 3), margin=2):
    people = []
    for p in range(n):
        tag = [round(float(p * spacing + 0.25 + 0.5 * t), 4) for t in range(T)]
        cx, cy = rng.integers(margin + 8, W - margin - 8), rng.integers(margin + 8, H - margin - 8)
        joints = []
        for k in range(J):
            x = int(np.clip(cx + rng.integers(-8, 9), margin, W - 1 - margin))
            y = int(np.clip(cy + rng.integers(-8, 9), margin, H - 1 - margin))
            r = int(rng.integers(radius[0], radius[1] + 1))
            if rng.random() < missing:
                # a weak response below the detection threshold (refine may pick it) or nothing
                joints.append([x, y, 0.06, r] if rng.random() < weak else None)
            else:
                joints.append([x, y, round(float(rng.uniform(0.3, 1.0)), 4), r])
        people.append({"tag": tag, "joints": joints})
    return people


def group_cases():
    rng = np.random.default_rng(20240611)
    cases = []
    cases.append(dict(name="people", J=17, H=96, W=128, T=2, seed=11, noise=0.04, bg_tag=6.0, tag_jitter=0.3,
                      people=people_spec(rng, 12, 17, 96, 128, 2), params={}))
    cases.append(dict(name="people_no_adjust_refine", J=17, H=96, W=128, T=2, seed=11, noise=0.04, bg_tag=6.0,
                      tag_jitter=0.3, people=cases[0]["people"], params={"adjust": False, "refine": False}))
    # More people than max_num_people, close tags: persons beyond the first 30 are never matched.
    cases.append(dict(name="crowd", J=17, H=64, W=56, T=2, seed=12, noise=0.05, bg_tag=3.0, tag_jitter=0.6,
                      people=people_spec(rng, 33, 17, 64, 56, 2, spacing=0.9, radius=(1, 2)), params={}))
    # Quantised noise: plateaus (ties survive NMS), equal costs, rounding of x.5 distances, key
    # collisions between new persons, refine ties.
    cases.append(dict(name="ties", J=17, H=24, W=20, T=2, seed=13, noise=1.0, bg_tag=3.0, tag_jitter=0.0, quant=4,
                      people=[], params={}))
    cases.append(dict(name="ties_no_val", J=17, H=24, W=20, T=2, seed=14, noise=1.0, bg_tag=3.0, tag_jitter=0.0,
                      quant=4, people=[], params={"use_detection_val": False}))
    cases.append(dict(name="single_tag_14", J=14, H=64, W=48, T=1, seed=15, noise=0.05, bg_tag=5.0, tag_jitter=0.2,
                      people=people_spec(rng, 8, 14, 64, 48, 1), params={
                          "detection_threshold": 0.2, "tag_threshold": 0.8, "ignore_too_much": True,
                          "max_num_people": 6, "joint_order": list(range(14))}))
    cases.append(dict(name="large", J=17, H=256, W=256, T=2, seed=16, noise=0.03, bg_tag=8.0, tag_jitter=0.3,
                      people=people_spec(rng, 30, 17, 256, 256, 2, spacing=1.7, radius=(3, 5), missing=0.2),
                      params={}))
    return cases


def make_params(c):
    p = dict(c["params"])
    kw = dict(num_joints=c["J"])
    for key in ("max_num_people", "detection_threshold", "tag_threshold", "use_detection_val", "ignore_too_much",
                "joint_order"):
        if key in p:
            kw[key] = p[key]
    return rg.Params(**kw), p.get("adjust", True), p.get("refine", True)


def munkres_cases():
    rng = np.random.default_rng(7)
    cases = []

    def add(name, m):
        m = [[float(v) for v in row] for row in m]
        pairs = Munkres().compute([row[:] for row in m])
        cases.append({"name": name, "rows": len(m), "cols": len(m[0]), "cost": [v for row in m for v in row],
                      "pairs": [[int(r), int(c)] for r, c in pairs]})

    for i in range(40):
        r, c = int(rng.integers(1, 8)), int(rng.integers(1, 8))
        add(f"int_ties_{i}", rng.integers(0, 3, size=(r, c)))
    for i in range(10):
        n = int(rng.integers(2, 7))
        add(f"all_equal_{i}", np.full((n, int(rng.integers(1, 8))), 5))
    for i in range(20):
        r, c = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        add(f"float_{i}", rng.standard_normal((r, c)) * 10)
    for i in range(20):
        # group.py style: round(dist) * 100 - val, padded with 1e10 columns when rows > cols
        r, c = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        dist = rng.integers(0, 6, size=(r, c)) * 0.5
        val = (rng.integers(1, 5, size=(r, 1)) * 0.2).astype(np.float32).astype(np.float64)
        m = np.round(dist) * 100 - val
        if r > c:
            m = np.concatenate((m, np.zeros((r, r - c)) + 1e10), axis=1)
        add(f"group_style_{i}", m)
    for i in range(4):
        add(f"big_int_{i}", rng.integers(0, 5, size=(30, 30)))
    add("big_rect", rng.integers(0, 4, size=(12, 30)))
    add("big_rect_t", rng.integers(0, 4, size=(30, 12)))
    return cases


def main():
    os.makedirs(DATA, exist_ok=True)
    with open(os.path.join(DATA, "munkres_cases.json"), "w") as f:
        json.dump(munkres_cases(), f, separators=(",", ":"))
    cases = group_cases()
    tensors = {}
    for c in cases:
        det, tag = make_maps(c)
        params, do_adjust, do_refine = make_params(c)
        persons, scores = rg.parse(det, tag, params, do_adjust, do_refine)
        n = c["name"]
        tensors[n + ".persons"] = np.asarray(persons, np.float32)
        tensors[n + ".scores"] = np.asarray(scores, np.float32).reshape(-1)
        tensors[n + ".checksum"] = np.array([fnv1a63(det), fnv1a63(tag)], np.int64)
        print(f"{n}: {persons.shape[0]} persons, filled joints {int((persons[..., 2] > 0).sum())}")
    with open(os.path.join(DATA, "group_cases.json"), "w") as f:
        json.dump(cases, f, separators=(",", ":"))
    write_safetensors(os.path.join(DATA, "group_expected.safetensors"), tensors,
                      {"generator": "tests/pose/make_group_fixtures.py", "munkres": "1.1.4"})


if __name__ == "__main__":
    main()

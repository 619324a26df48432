#!/usr/bin/env python3
"""The classification input pipeline in Python, timed on one thread, for bench_cls_pipeline.

    bench_cls_pipeline_torch.py --dir DIR [--reps 5] [--size 224] [--resize 256] [--what pil,cv2]
                                [--json FILE] [--seed 0]

Times, per image of DIR/*.JPEG (sorted), with one thread (torch.set_num_threads(1),
cv2.setNumThreads(1)) and the files in the page cache:

  pil_train  torchvision's pil_loader (Image.open(f).convert("RGB")) + RandomResizedCrop(size)
             + RandomHorizontalFlip() + ToTensor() + Normalize(mean, std)
  pil_eval   pil_loader + Resize(resize) + CenterCrop(size) + ToTensor() + Normalize(mean, std)
  cv2_train  cv2.imread(IMREAD_COLOR) + cvtColor(BGR2RGB) + torchvision's RandomResizedCrop
             parameters (scale (0.08, 1), ratio (3/4, 4/3), drawn with Python's random) + the crop +
             cv2.resize to size x size + cv2.flip with probability 1/2 + normalisation in float32
             numpy (HWC, like hrnet's output)
  cv2_eval   cv2.imread + cvtColor + cv2.resize of the short side to `resize` + centre crop +
             normalisation
  (cv2.resize uses INTER_AREA when shrinking, the antialiased choice closest to PIL's filter, and
  INTER_LINEAR when enlarging.)

Each case: one warm-up pass over the first 10 files, then --reps passes over all files; reported
images/s are the median and the best pass. Prints "RESULT <case> <median images/s> <best images/s>"
and "PASSES <case> <images/s of each pass>" lines (read by bench_cls_pipeline) and, with --json,
writes everything with the library versions.
A case whose modules are missing is reported as "MISSING <case> <why>" and in the JSON, not timed.
"""
import argparse
import glob
import json
import math
import os
import platform
import random
import sys
import time


def versions():
    v = {"python": platform.python_version(), "executable": sys.executable}
    for mod in ("torch", "torchvision", "PIL", "numpy", "cv2"):
        try:
            m = __import__(mod)
            v[mod] = getattr(m, "__version__", "?")
        except Exception as e:  # noqa: BLE001 (any import failure means "not available")
            v[mod] = None
            v[mod + "_missing"] = f"{type(e).__name__}: {e}"
    try:
        from PIL import features

        for feat in ("libjpeg_turbo", "jpg"):
            try:
                v["PIL_" + feat] = features.version(feat)
            except Exception:  # noqa: BLE001 (older Pillow lacks some feature names)
                pass
    except ImportError:
        pass
    return v


def rrc_params(height, width, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0)):
    """torchvision RandomResizedCrop.get_params with Python's random instead of torch's generator."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * random.uniform(scale[0], scale[1])
        aspect_ratio = math.exp(random.uniform(log_ratio[0], log_ratio[1]))
        w = int(round(math.sqrt(target_area * aspect_ratio)))
        h = int(round(math.sqrt(target_area / aspect_ratio)))
        if 0 < w <= width and 0 < h <= height:
            return random.randint(0, height - h), random.randint(0, width - w), h, w
    in_ratio = float(width) / float(height)
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def make_pil_cases(size, resize):
    import torch
    import torchvision.transforms as T
    from PIL import Image

    torch.set_num_threads(1)
    norm = T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    train = T.Compose([T.RandomResizedCrop(size), T.RandomHorizontalFlip(), T.ToTensor(), norm])
    evaluate = T.Compose([T.Resize(resize), T.CenterCrop(size), T.ToTensor(), norm])

    def pil_loader(path):  # torchvision.datasets.folder.pil_loader
        with open(path, "rb") as f:
            img = Image.open(f)
            return img.convert("RGB")

    return {"pil_train": lambda p: train(pil_loader(p)), "pil_eval": lambda p: evaluate(pil_loader(p))}


def make_cv2_cases(size, resize):
    import cv2
    import numpy as np

    cv2.setNumThreads(1)
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)

    def load(path):
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise RuntimeError(f"cv2 cannot read {path}")
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    def resized(img, w, h):
        shrink = w * h < img.shape[0] * img.shape[1]
        return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)

    def normalize(img):
        return (img.astype(np.float32) * np.float32(1.0 / 255.0) - mean) / std

    def train(path):
        img = load(path)
        i, j, h, w = rrc_params(img.shape[0], img.shape[1])
        out = resized(img[i:i + h, j:j + w], size, size)
        if random.random() < 0.5:
            out = cv2.flip(out, 1)
        return normalize(out)

    def evaluate(path):
        img = load(path)
        h, w = img.shape[:2]
        if w <= h:
            nw, nh = resize, int(resize * h / w)
        else:
            nh, nw = resize, int(resize * w / h)
        out = resized(img, nw, nh)
        top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
        return normalize(out[top:top + size, left:left + size])

    return {"cv2_train": train, "cv2_eval": evaluate}


def time_case(fn, files, reps):
    for p in files[:10]:
        fn(p)
    passes = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for p in files:
            fn(p)
        passes.append(time.perf_counter() - t0)
    rates = sorted(len(files) / t for t in passes)
    return {"images_per_s": rates[len(rates) // 2], "images_per_s_best": rates[-1],
            "pass_seconds": passes, "images": len(files)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--resize", type=int, default=256)
    ap.add_argument("--what", default="pil,cv2")
    ap.add_argument("--json")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    files = sorted(glob.glob(os.path.join(a.dir, "*.JPEG")))
    if not files:
        print(f"no *.JPEG files in {a.dir}", file=sys.stderr)
        return 2
    random.seed(a.seed)
    out = {"versions": versions(), "threads": 1, "reps": a.reps, "cases": {}, "missing": {}}
    makers = {"pil": (make_pil_cases, ("pil_train", "pil_eval")), "cv2": (make_cv2_cases, ("cv2_train", "cv2_eval"))}
    for what in a.what.split(","):
        make, names = makers[what]
        try:
            cases = make(a.size, a.resize)
        except Exception as e:  # noqa: BLE001 (a missing module or a broken install: report, do not time)
            for n in names:
                out["missing"][n] = f"{type(e).__name__}: {e}"
                print(f"MISSING {n} {type(e).__name__}: {e}")
            continue
        if what == "pil":
            import torch
            import torchvision

            torchvision.set_image_backend("PIL")
            out["torch_threads"] = torch.get_num_threads()
        for n, fn in cases.items():
            r = time_case(fn, files, a.reps)
            out["cases"][n] = r
            print(f"RESULT {n} {r['images_per_s']:.2f} {r['images_per_s_best']:.2f}")
            print(f"PASSES {n} " + " ".join(f"{len(files) / t:.3f}" for t in r["pass_seconds"]), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

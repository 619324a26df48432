#!/usr/bin/env python3
"""Oracles for tests/data/test_cls_data.cpp (the classification preprocessing).

    cls_transform_reference.py rrc CASES
        CASES: one line per call of RandomResizedCrop.get_params:
            H W top left h w | draw draw ...
        where a draw is u:<float> (a uniform draw in [0, 1)) or i:<n>:<v> (an integer drawn in [0, n)).
        Recomputes get_params' arithmetic (torchvision/transforms/transforms.py, scale (0.08, 1),
        ratio (3/4, 4/3)) with the uniforms taken from the draws and the offsets taken from the
        integer draws (their range n must be what torch.randint(0, n) would be given), and checks the
        result and that every draw was consumed. Prints "ok N" or the first mismatch (exit 1).
        torch draws its uniforms in float32; here they are doubles, as the C++ side draws them.

    cls_transform_reference.py resize DIR
        DIR/cases.txt: one line per case: NAME.png top left h w out_h out_w. For each, writes
        DIR/NAME.<k>.rgb (k = line number): Image.open(NAME.png).crop((left, top, left + w, top + h))
        .resize((out_w, out_h), Image.BILINEAR) as raw RGB bytes, which is what torchvision's
        resized_crop / resize do to PIL images. Exits 77 without Pillow.
"""
import math
import os
import sys


def get_params(height, width, draws, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0)):
    it = iter(draws)

    def uniform(lo, hi):
        kind, *rest = next(it).split(":")
        assert kind == "u", f"expected a uniform draw, got {kind}"
        return lo + (hi - lo) * float(rest[0])

    def randint(n):
        kind, *rest = next(it).split(":")
        assert kind == "i", f"expected an integer draw, got {kind}"
        assert int(rest[0]) == n, f"integer drawn in [0, {rest[0]}) but torch.randint(0, {n})"
        v = int(rest[1])
        assert 0 <= v < n
        return v

    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * uniform(scale[0], scale[1])
        aspect_ratio = math.exp(uniform(log_ratio[0], log_ratio[1]))
        w = int(round(math.sqrt(target_area * aspect_ratio)))
        h = int(round(math.sqrt(target_area / aspect_ratio)))
        if 0 < w <= width and 0 < h <= height:
            i = randint(height - h + 1)
            j = randint(width - w + 1)
            return (i, j, h, w), list(it)
    in_ratio = float(width) / float(height)
    if in_ratio < min(ratio):
        w = width
        h = int(round(w / min(ratio)))
    elif in_ratio > max(ratio):
        h = height
        w = int(round(h * max(ratio)))
    else:
        w = width
        h = height
    i = (height - h) // 2
    j = (width - w) // 2
    return (i, j, h, w), list(it)


def rrc(cases):
    n = 0
    with open(cases) as f:
        for line in f:
            if not line.strip():
                continue
            head, draws = line.split("|")
            H, W, *expected = map(int, head.split())
            got, left = get_params(H, W, draws.split())
            if got != tuple(expected) or left:
                print(f"mismatch for {H}x{W}: C++ {tuple(expected)}, reference {got}, unused draws {left}")
                return 1
            n += 1
    print(f"ok {n}")
    return 0


def resize(directory):
    try:
        from PIL import Image
    except ImportError as e:
        print(f"skipped: {e}")
        return 77
    with open(os.path.join(directory, "cases.txt")) as f:
        for k, line in enumerate(f):
            if not line.strip():
                continue
            name, top, left, h, w, out_h, out_w = line.split()
            top, left, h, w, out_h, out_w = map(int, (top, left, h, w, out_h, out_w))
            img = Image.open(os.path.join(directory, name)).convert("RGB")
            out = img.crop((left, top, left + w, top + h)).resize((out_w, out_h), Image.BILINEAR)
            with open(os.path.join(directory, f"{name}.{k}.rgb"), "wb") as o:
                o.write(out.tobytes())
    print("ok")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("rrc", "resize"):
        print(__doc__)
        sys.exit(2)
    sys.exit(rrc(sys.argv[2]) if sys.argv[1] == "rrc" else resize(sys.argv[2]))

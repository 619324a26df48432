#!/usr/bin/env python3
"""OpenCV's decoding of images, as the official HigherHRNet loader does it, for tests/data/test_image_io.cpp.

    cv2_reference.py OUT_DIR [IMAGE ...]

For every IMAGE, writes OUT_DIR/<name>.rgb: cv2.cvtColor(cv2.imread(IMAGE, cv2.IMREAD_COLOR |
cv2.IMREAD_IGNORE_ORIENTATION), cv2.COLOR_BGR2RGB) as raw bytes after a header of two little-endian
uint32 (height, width).

It also writes variants that exercise other decoder paths, each with its .rgb reference, derived
from the first IMAGE (or a generated picture): gray.jpg (1 component), progressive.jpg, s444.jpg
(no chroma subsampling), s422.jpg, rgb.png, gray.png, rgba.png, rgb16.png (16-bit). OUT_DIR/list.txt
names every file written (one per line, without the .rgb suffix).

Exits with 77 when numpy or OpenCV is missing (the test reports itself as skipped).
"""
import os
import struct
import sys

try:
    import cv2
    import numpy as np
except ImportError as e:  # pragma: no cover
    print(f"skipped: {e}")
    sys.exit(77)


def reference(path, out_dir, name):
    img = cv2.imread(path, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if img is None:
        raise SystemExit(f"cv2 could not read {path}")
    rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    with open(os.path.join(out_dir, name + ".rgb"), "wb") as f:
        f.write(struct.pack("<II", rgb.shape[0], rgb.shape[1]))
        f.write(np.ascontiguousarray(rgb).tobytes())


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    names = []
    for path in sys.argv[2:]:
        name = os.path.basename(path)
        reference(path, out_dir, name)
        names.append(name)

    if sys.argv[2:]:
        src = cv2.imread(sys.argv[2], cv2.IMREAD_COLOR)
    else:
        rng = np.random.default_rng(0)
        src = cv2.GaussianBlur(rng.integers(0, 256, (97, 131, 3), dtype=np.uint8), (5, 5), 0)
    src = src[:157, :211]  # odd sizes: partial MCUs at the right and bottom edges
    variants = {
        "gray.jpg": (cv2.cvtColor(src, cv2.COLOR_BGR2GRAY), [cv2.IMWRITE_JPEG_QUALITY, 90]),
        "progressive.jpg": (src, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1, cv2.IMWRITE_JPEG_QUALITY, 85]),
        "s444.jpg": (src, [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]),
        "s422.jpg": (src, [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422]),
        "rgb.png": (src, []),
        "gray.png": (cv2.cvtColor(src, cv2.COLOR_BGR2GRAY), []),
        "rgba.png": (np.dstack([src, np.arange(src.size // 3, dtype=np.uint32).reshape(src.shape[:2]).astype(np.uint8)]), []),
        "rgb16.png": (src.astype(np.uint16) * 256 + np.uint16(123), []),
    }
    for name, (img, params) in variants.items():
        path = os.path.join(out_dir, name)
        if not cv2.imwrite(path, img, params):
            raise SystemExit(f"cv2 could not write {path}")
        reference(path, out_dir, name)
        names.append(name)
    with open(os.path.join(out_dir, "list.txt"), "w") as f:
        f.write("\n".join(names) + "\n")


if __name__ == "__main__":
    main()

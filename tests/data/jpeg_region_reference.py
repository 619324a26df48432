#!/usr/bin/env python3
"""Pillow oracles for tests/data/test_jpeg_region.cpp.

    jpeg_region_reference.py convert DIR
        DIR/cases.txt: one file name per line. For each, writes DIR/NAME.rgb: the raw bytes of
        Image.open(NAME).convert("RGB") (what torchvision's ImageFolder loader returns), after a line
        "NAME MODE" on stdout (the mode PIL opened it in: CMYK, L, RGB).

    jpeg_region_reference.py resize_box DIR
        DIR/cases.txt: one line per case: NAME top left height width out_h out_w (the box may be
        fractional). For each, writes DIR/NAME.<k>.rgb (k = line number): the raw bytes of
        Image.open(NAME).convert("RGB").resize((out_w, out_h), Image.BILINEAR,
        box=(left, top, left + width, top + height)).

Exits 77 without Pillow. Prints the Pillow version.
"""
import os
import sys


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("convert", "resize_box"):
        print(__doc__)
        return 2
    try:
        import PIL
        from PIL import Image
    except ImportError as e:
        print(f"skipped: {e}")
        return 77
    print(f"Pillow {PIL.__version__}")
    directory = sys.argv[2]
    with open(os.path.join(directory, "cases.txt")) as f:
        lines = [line.split() for line in f if line.strip()]
    for k, parts in enumerate(lines):
        img = Image.open(os.path.join(directory, parts[0]))
        mode = img.mode
        img = img.convert("RGB")
        if sys.argv[1] == "convert":
            print(parts[0], mode)
            out, name = img, parts[0] + ".rgb"
        else:
            top, left, h, w = map(float, parts[1:5])
            out_h, out_w = int(parts[5]), int(parts[6])
            out = img.resize((out_w, out_h), Image.BILINEAR, box=(left, top, left + w, top + h))
            name = f"{parts[0]}.{k}.rgb"
        with open(os.path.join(directory, name), "wb") as o:
            o.write(out.tobytes())
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

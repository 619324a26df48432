#!/usr/bin/env python3
"""Writes the small JPEG fixtures of tests/data/images (committed; rerun only to recreate them):

  cmyk.jpg  16x8 CMYK JPEG (Adobe APP14, 4 components), as Pillow writes it.
  cmyk.rgb  Image.open("cmyk.jpg").convert("RGB").tobytes(): what decode_image must give for it
            (Pillow's CMYK conversion; test_jpeg_region.cpp). Rewritten from the existing cmyk.jpg
            when only --rgb is given.
  gray.jpg  16x8 single-component JPEG: decodes to three equal channels.

Needs Pillow.
"""
import os
import sys

from PIL import Image

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "images")
os.makedirs(here, exist_ok=True)


def write_cmyk_rgb():
    with Image.open(os.path.join(here, "cmyk.jpg")) as im:
        assert im.mode == "CMYK", im.mode
        rgb = im.convert("RGB").tobytes()
    with open(os.path.join(here, "cmyk.rgb"), "wb") as f:
        f.write(rgb)
    print(os.path.join(here, "cmyk.rgb"), len(rgb), "bytes")


if sys.argv[1:] == ["--rgb"]:
    write_cmyk_rgb()
    sys.exit(0)

cmyk = Image.new("CMYK", (16, 8))
gray = Image.new("L", (16, 8))
for y in range(8):
    for x in range(16):
        cmyk.putpixel((x, y), (x * 16, y * 32, 255 - x * 16, 40))
        gray.putpixel((x, y), (x * 16 + y * 8) % 256)
for name, img in (("cmyk.jpg", cmyk), ("gray.jpg", gray)):
    out = os.path.join(here, name)
    img.save(out, quality=90)
    print(out, os.path.getsize(out), "bytes")
write_cmyk_rgb()

#!/usr/bin/env python3
"""Writes the small JPEG fixtures of tests/data/images (committed; rerun only to recreate them):

  cmyk.jpg  16x8 CMYK JPEG (Adobe APP14, 4 components): decode_image must reject it clearly.
  gray.jpg  16x8 single-component JPEG: decodes to three equal channels.

Needs Pillow.
"""
import os

from PIL import Image

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
os.makedirs(here, exist_ok=True)

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

#!/usr/bin/env python3
"""Fixtures for tests/data/test_coco.cpp, computed with pycocotools (pip install pycocotools).

Writes tests/fixtures/data/coco_masks.json:
  rle_cases       random and edge-case masks: the uncompressed counts (pycocotools' own run order,
                  column-major) and the compressed counts string of mask.encode, and the area
  polygons        synthetic polygons (odd shapes, off-image and border-touching vertices, repeated
                  vertices, odd coordinate counts, sub-pixel shapes): frPyObjects + decode, per
                  polygon RLE strings, their merge and its area
  sample_anns     every annotation of the coco-sample: per-polygon RLE strings, merge and area
  sample_masks    the official HigherHRNet CocoKeypoints.get_mask for each sample image, as an RLE
                  string of the uint8 loss mask (1 = supervise) and its area
  synthetic       a small COCO-style keypoint file with crowd (uncompressed RLE) annotations,
                  unlabelled people (num_keypoints == 0) and an image without annotations, with the
                  official get_mask of each image
Run: python3 tests/data/make_coco_fixtures.py  (from the repository root)
"""
import json
import os

import numpy as np
import pycocotools.mask as mask_util
from pycocotools.coco import COCO

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "data", "coco_masks.json")
SAMPLE = os.path.join(HERE, "..", "..", "..", "shared", "data", "coco-sample")


def s(rle):
    c = rle["counts"]
    return c.decode("ascii") if isinstance(c, bytes) else c


def uncompressed(mask):
    """COCO's uncompressed counts, exactly as rleEncode (column-major, starting with zeros)."""
    flat = np.asfortranarray(mask).reshape(-1, order="F")
    counts, p, c = [], 0, 0
    for v in flat:
        if v != p:
            counts.append(c)
            c = 0
            p = v
        c += 1
    counts.append(c)
    return counts


def get_mask_official(coco, img_id):
    """HigherHRNet lib/dataset/COCOKeypoints.py get_mask, verbatim logic."""
    img_info = coco.loadImgs(img_id)[0]
    anno = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
    m = np.zeros((img_info["height"], img_info["width"]))
    for obj in anno:
        if obj["iscrowd"]:
            rle = mask_util.frPyObjects(obj["segmentation"], img_info["height"], img_info["width"])
            m += mask_util.decode(rle)
        elif obj["num_keypoints"] == 0:
            rles = mask_util.frPyObjects(obj["segmentation"], img_info["height"], img_info["width"])
            for rle in rles:
                m += mask_util.decode(rle)
    return m < 0.5


def mask_entry(mask):
    m8 = np.asfortranarray(mask.astype(np.uint8))
    rle = mask_util.encode(m8)
    return {"rle": s(rle), "area": int(mask_util.area(rle)), "h": int(m8.shape[0]), "w": int(m8.shape[1])}


def poly_entry(name, polys, h, w):
    rles = mask_util.frPyObjects(polys, h, w)
    merged = mask_util.merge(rles)
    dec = mask_util.decode(merged)
    return {
        "name": name, "h": h, "w": w, "polygons": polys,
        "rles": [s(r) for r in rles],
        "merged": s(merged), "area": int(mask_util.area(merged)),
        "decoded_sum": int(dec.sum()),
    }


def main():
    rng = np.random.RandomState(5)
    out = {}

    # --- RLE encode/decode cases -------------------------------------------------------------
    cases = []
    shapes = [(1, 1), (3, 7), (17, 11), (64, 48), (5, 1), (1, 9)]
    for h, w in shapes:
        for kind in ("zeros", "ones", "random", "blobs"):
            if kind == "zeros":
                m = np.zeros((h, w), np.uint8)
            elif kind == "ones":
                m = np.ones((h, w), np.uint8)
            elif kind == "random":
                m = (rng.rand(h, w) < 0.5).astype(np.uint8)
            else:
                m = np.zeros((h, w), np.uint8)
                for _ in range(3):
                    y0, x0 = rng.randint(0, h), rng.randint(0, w)
                    m[y0:y0 + rng.randint(1, h + 1), x0:x0 + rng.randint(1, w + 1)] = 1
            rle = mask_util.encode(np.asfortranarray(m))
            cases.append({"h": h, "w": w, "kind": kind, "rows": m.tolist(), "counts": uncompressed(m),
                          "rle": s(rle), "area": int(mask_util.area(rle))})
    # large runs: long counts, negative deltas in the string code
    h, w = 900, 1100
    big_counts = [0, 250000, 3, 700000 - 250003 - 7, 7, 12345, 1, 0]
    big_counts[-1] = h * w - sum(big_counts[:-1])
    big = mask_util.frPyObjects({"counts": big_counts, "size": [h, w]}, h, w)
    cases.append({"h": h, "w": w, "kind": "big", "counts": big_counts, "rle": s(big),
                  "area": int(mask_util.area(big))})
    out["rle_cases"] = cases

    # --- synthetic polygons ------------------------------------------------------------------
    polys = []
    polys.append(poly_entry("triangle", [[10.2, 3.7, 30.9, 25.1, 2.4, 28.6]], 32, 40))
    polys.append(poly_entry("concave_star", [[20, 2, 24.5, 14, 38, 15, 27, 23, 31, 37, 20, 29, 9, 37,
                                              13, 23, 2, 15, 15.5, 14]], 40, 41))
    polys.append(poly_entry("touches_borders", [[0, 0, 24.999, 0, 24.999, 18.999, 0, 18.999]], 19, 25))
    polys.append(poly_entry("beyond_borders", [[-5.3, -2.2, 30.7, 4.1, 22.2, 30.9, -3.1, 12.6]], 20, 24))
    polys.append(poly_entry("bow_tie", [[1, 1, 20, 15, 20, 1, 1, 15]], 17, 22))
    polys.append(poly_entry("repeated_vertices", [[3, 3, 3, 3, 15.5, 3, 15.5, 3, 15.5, 12.25, 3, 12.25,
                                                   3, 12.25]], 16, 18))
    polys.append(poly_entry("odd_length", [[2.5, 2.5, 12.5, 3.5, 7.5, 11.5, 99.0]], 14, 15))
    polys.append(poly_entry("sub_pixel", [[4.1, 4.1, 4.3, 4.1, 4.2, 4.35]], 9, 9))
    polys.append(poly_entry("thin_line", [[1, 5, 19, 5.2, 19, 5.3, 1, 5.1]], 10, 20))
    polys.append(poly_entry("two_parts", [[1, 1, 8, 1, 8, 8, 1, 8], [6.5, 6.5, 14.2, 7.1, 10.3, 13.9],
                                          [0.5, 12.0, 3.5, 12.0, 2.0, 14.7]], 16, 16))
    polys.append(poly_entry("half_pixel_grid", [[0.5, 0.5, 9.5, 0.5, 9.5, 9.5, 0.5, 9.5]], 11, 11))
    # later polygons of 2 or 4 coordinates (pycocotools accepts them after a first proper polygon)
    polys.append(poly_entry("short_later_polygons", [[1, 1, 8, 1, 8, 8], [3.3, 4.4], [2, 2, 5, 5], []], 10, 10))
    for i in range(12):
        h, w = int(rng.randint(5, 60)), int(rng.randint(5, 60))
        n = int(rng.randint(3, 14))
        pts = np.stack([rng.uniform(-4, w + 4, n), rng.uniform(-4, h + 4, n)], 1)
        pts = np.round(pts, 2)
        polys.append(poly_entry("random_%d" % i, [pts.reshape(-1).tolist()], h, w))
    out["polygons"] = polys
    # stress: many random polygons, coordinates on 0.1 / 0.5 / 0.001 grids (0.5 grids hit rounding ties)
    stress = []
    for i in range(240):
        h, w = int(rng.randint(1, 80)), int(rng.randint(1, 80))
        n = int(rng.randint(3, 20))
        pts = np.stack([rng.uniform(-3, w + 3, n), rng.uniform(-3, h + 3, n)], 1)
        grid = i % 3
        if grid == 0:
            pts = np.round(pts * 10) / 10
        elif grid == 1:
            pts = np.round(pts * 2) / 2
        else:
            pts = np.round(pts, 3)
        flat = pts.reshape(-1).tolist()
        stress.append({"h": h, "w": w, "xy": flat, "rle": s(mask_util.frPyObjects([flat], h, w)[0])})
    out["polygon_stress"] = stress

    # --- the coco-sample ---------------------------------------------------------------------
    ann_file = os.path.join(SAMPLE, "annotations", "person_keypoints_val2017.json")
    coco = COCO(ann_file)
    anns = []
    for ann in coco.loadAnns(sorted(coco.getAnnIds())):
        img = coco.loadImgs(ann["image_id"])[0]
        rles = mask_util.frPyObjects(ann["segmentation"], img["height"], img["width"])
        merged = mask_util.merge(rles)
        anns.append({"id": ann["id"], "image_id": ann["image_id"], "rles": [s(r) for r in rles],
                     "merged": s(merged), "area": int(mask_util.area(merged)),
                     "annToRLE": s(coco.annToRLE(ann))})
    out["sample_anns"] = anns
    masks = []
    for img_id in sorted(coco.getImgIds()):
        e = mask_entry(get_mask_official(coco, img_id))
        e["image_id"] = img_id
        masks.append(e)
    out["sample_masks"] = masks
    # official training filter: images with >= 1 annotation of any kind (getAnnIds(iscrowd=None))
    out["sample_kept_ids"] = [i for i in coco.getImgIds() if len(coco.getAnnIds(imgIds=i, iscrowd=None)) > 0]

    # --- synthetic dataset with crowds -------------------------------------------------------
    def crowd_counts(h, w, boxes):
        m = np.zeros((h, w), np.uint8)
        for y0, y1, x0, x1 in boxes:
            m[y0:y1, x0:x1] = 1
        return uncompressed(m)

    kp0 = [0] * 51
    kp1 = [0] * 51
    kp1[0:3] = [10, 12, 2]
    kp1[15:18] = [14, 20, 1]
    ds = {
        "images": [
            {"id": 1, "file_name": "a.jpg", "height": 30, "width": 40},
            {"id": 2, "file_name": "b.jpg", "height": 25, "width": 20},
            {"id": 3, "file_name": "c.jpg", "height": 10, "width": 10},
        ],
        "annotations": [
            {"id": 11, "image_id": 1, "category_id": 1, "iscrowd": 1, "num_keypoints": 0, "keypoints": kp0,
             "bbox": [3, 2, 10, 8], "area": 80.0,
             "segmentation": {"counts": crowd_counts(30, 40, [(2, 10, 3, 13), (20, 29, 30, 38)]), "size": [30, 40]}},
            {"id": 12, "image_id": 1, "category_id": 1, "iscrowd": 0, "num_keypoints": 0, "keypoints": kp0,
             "bbox": [5, 5, 10, 10], "area": 50.0,
             "segmentation": [[5.2, 5.1, 15.3, 6.4, 9.9, 14.8], [20.5, 2.5, 25.5, 2.5, 25.5, 7.5]]},
            {"id": 13, "image_id": 1, "category_id": 1, "iscrowd": 0, "num_keypoints": 2, "keypoints": kp1,
             "bbox": [8, 8, 12, 20], "area": 120.0,
             "segmentation": [[8, 8, 20, 8, 20, 28, 8, 28]]},
            {"id": 21, "image_id": 2, "category_id": 1, "iscrowd": 0, "num_keypoints": 2, "keypoints": kp1,
             "bbox": [1, 1, 15, 20], "area": 200.0,
             "segmentation": [[1, 1, 16, 1, 16, 21, 1, 21]]},
            {"id": 22, "image_id": 2, "category_id": 1, "iscrowd": 1, "num_keypoints": 0, "keypoints": kp0,
             "bbox": [0, 0, 20, 25], "area": 30.0,
             "segmentation": {"counts": crowd_counts(25, 20, [(0, 3, 0, 20), (22, 25, 17, 20)]), "size": [25, 20]}},
        ],
        "categories": [{"id": 1, "name": "person", "supercategory": "person"}],
    }
    tmp = OUT + ".tmp_synth.json"
    with open(tmp, "w") as f:
        json.dump(ds, f)
    scoco = COCO(tmp)
    os.remove(tmp)
    out["synthetic"] = {
        "dataset": ds,
        "kept_ids": [i for i in scoco.getImgIds() if len(scoco.getAnnIds(imgIds=i, iscrowd=None)) > 0],
        "masks": [dict(mask_entry(get_mask_official(scoco, i)), image_id=i) for i in sorted(scoco.getImgIds())],
        "crowd_rles": [{"id": a["id"], "rle": s(scoco.annToRLE(a)), "area": int(mask_util.area(scoco.annToRLE(a)))}
                       for a in ds["annotations"] if a["iscrowd"]],
    }

    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Checks a synthetic COCO pose dataset with pycocotools (tests/data/test_synthetic.cpp).

    check_pycocotools.py ROOT

For ROOT/annotations/person_keypoints_{train2017,val2017}.json: loads it with pycocotools.coco.COCO,
checks the person category (17 keypoint names, 19 skeleton limbs), every annotation's area against
pycocotools' own mask (annToMask), num_keypoints against the visibility flags, and that COCOeval
scores the ground truth, submitted as keypoint results, with AP = 1. Prints
"<split>: <n> images, <m> annotations" per split. Exits 77 when pycocotools is missing, 1 on a mismatch.
"""
import contextlib
import io
import os
import sys

try:
    import numpy as np
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
except ImportError as e:  # pragma: no cover
    print(f"skipped: {e}")
    sys.exit(77)


def check_split(root, split):
    path = os.path.join(root, "annotations", f"person_keypoints_{split}.json")
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(path)
    errors = []
    cats = coco.loadCats(coco.getCatIds())
    if len(cats) != 1 or cats[0]["name"] != "person" or len(cats[0]["keypoints"]) != 17 or len(cats[0]["skeleton"]) != 19:
        errors.append(f"unexpected categories {cats}")
    for img_id in coco.getImgIds():
        img = coco.imgs[img_id]
        if not os.path.isfile(os.path.join(root, split, img["file_name"])):
            errors.append(f"missing image file {img['file_name']}")
    results = []
    for ann in coco.loadAnns(coco.getAnnIds()):
        mask = coco.annToMask(ann)
        if int(mask.sum()) != ann["area"]:
            errors.append(f"annotation {ann['id']}: area {ann['area']} but pycocotools' mask has {int(mask.sum())} pixels")
        v = np.array(ann["keypoints"]).reshape(17, 3)[:, 2]
        if int((v > 0).sum()) != ann["num_keypoints"]:
            errors.append(f"annotation {ann['id']}: num_keypoints {ann['num_keypoints']} but {(v > 0).sum()} labelled")
        if ann["num_keypoints"] > 0:
            results.append({"image_id": ann["image_id"], "category_id": 1, "keypoints": ann["keypoints"], "score": 1.0})
    if results:
        with contextlib.redirect_stdout(io.StringIO()):
            dt = coco.loadRes(results)
            ev = COCOeval(coco, dt, "keypoints")
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        if abs(ev.stats[0] - 1.0) > 1e-9:
            errors.append(f"COCOeval of the ground truth against itself: AP {ev.stats[0]}, expected 1")
    print(f"{split}: {len(coco.getImgIds())} images, {len(coco.getAnnIds())} annotations")
    return errors


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    errors = []
    for split in ("train2017", "val2017"):
        errors += check_split(sys.argv[1], split)
    for e in errors:
        print("error:", e)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()

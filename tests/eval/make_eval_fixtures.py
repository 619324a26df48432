#!/usr/bin/env python3
"""Fixtures for tests/eval/test_coco_eval.cpp: expected COCO keypoint stats from pycocotools itself.

Every case is evaluated exactly as HigherHRNet does (COCO(gt).loadRes(results file), then
COCOeval(gt, dt, 'keypoints') evaluate / accumulate / summarize), optionally on a subset of images
(params.imgIds). Writes into tests/eval/data/:
  <case>_gt.json        random ground truth (not for coco_sample, which uses the shared real file)
  <case>_results.json   detections in the official results format
  <case>_expected.json  stats (10), the full precision [T,R,K,A] and recall [T,K,A] arrays flattened
                        in C order, the printed summary lines, numpy's iouThrs/recThrs, and the OKS
                        matrices of computeOks (rows: dt result indices in score order, cols: gt ids)

Cases:
  random_a     14 images, one category: crowd regions (with detections on them), unlabelled people
               (num_keypoints 0), small/medium/large people and areas exactly on the range bounds,
               jittered keypoints, duplicates, false positives, scores with ties, an image with 30
               detections (> maxDets 20), an image without gt but with detections, one without
               detections. Results without bbox: areas from the keypoint extent.
  random_b     30 images, three categories (3 has detections but no gt: -1, left out of the means), a result of
               an unlisted category, gt annotations of an unlisted image and category, a gt with
               id 0 and an exact detection (COCOeval reads the match as "unmatched": a false
               positive and a missed person), results WITH a bbox that differs
               from the keypoint extent (loadRes then takes the area from the bbox), evaluated on
               an unsorted subset of the images with a duplicate.
  random_c     40 images, scores quantized to 0.1 (ties across images decide the order);
               no OKS matrices.
  coco_sample  the real annotations of ../shared/data/coco-sample with detections made by
               perturbing the gt keypoints, plus false positives and detections on the unlabelled
               people.
Run: python3 tests/eval/make_eval_fixtures.py  (any directory)
"""
import contextlib
import io
import json
import os

import numpy as np
import pycocotools
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data")
SAMPLE_GT = os.path.join(HERE, "..", "..", "..", "shared", "data", "coco-sample", "annotations",
                         "person_keypoints_val2017.json")

# Rough standing person in a unit box (x, y), COCO joint order.
TEMPLATE = np.array([(0.50, 0.08), (0.46, 0.05), (0.54, 0.05), (0.42, 0.07), (0.58, 0.07),
                     (0.32, 0.22), (0.68, 0.22), (0.25, 0.40), (0.75, 0.40), (0.22, 0.56),
                     (0.78, 0.56), (0.38, 0.55), (0.62, 0.55), (0.38, 0.76), (0.62, 0.76),
                     (0.38, 0.97), (0.62, 0.97)])


def r2(x):
    return [round(float(v), 2) for v in x]


def make_person(rng, height, img_w, img_h, integer=True):
    w = 0.5 * height
    x0 = rng.uniform(-0.1 * w, max(1.0, img_w - 0.9 * w))
    y0 = rng.uniform(-0.1 * height, max(1.0, img_h - 0.9 * height))
    pts = np.stack([x0 + TEMPLATE[:, 0] * w, y0 + TEMPLATE[:, 1] * height], 1)
    pts += rng.normal(0, 0.03 * height, pts.shape)
    if integer:
        pts = np.round(pts)
    v = rng.choice([0, 1, 2], size=17, p=[0.2, 0.1, 0.7])
    kps = []
    for (x, y), vv in zip(pts, v):
        kps += [0, 0, 0] if vv == 0 else [float(x), float(y), int(vv)]
    bbox = [float(x0), float(y0), float(w), float(height)]
    area = float(w * height * rng.uniform(0.45, 0.7))
    return kps, int(np.count_nonzero(v)), bbox, area, pts


def zero_keypoint_person(rng, height, img_w, img_h):
    kps, _, bbox, area, pts = make_person(rng, height, img_w, img_h)
    return [0] * 51, 0, bbox, area, pts


def detection_near(rng, pts, height, level, img_id, cat=1, score=None):
    d = pts + rng.normal(0, level * height, pts.shape)
    kps = []
    for x, y in d:
        kps += [round(float(x), 2), round(float(y), 2), round(float(rng.uniform(0.05, 1.0)), 3)]
    if score is None:
        score = float(rng.uniform(0.05, 1.0))
    return {"image_id": img_id, "category_id": cat, "keypoints": kps, "score": score}


def random_case(seed, n_images, categories, quantize_scores):
    rng = np.random.default_rng(seed)
    images, anns, results = [], [], []
    ann_id = [100]

    def add_ann(img_id, cat, kps, nk, bbox, area, crowd=0):
        anns.append({"id": ann_id[0], "image_id": img_id, "category_id": cat, "keypoints": kps,
                     "num_keypoints": nk, "bbox": r2(bbox), "area": round(area, 2), "iscrowd": crowd})
        ann_id[0] += int(rng.integers(1, 5))

    def score():
        s = float(rng.uniform(0.05, 1.0))
        return round(s, 1) if quantize_scores or rng.uniform() < 0.3 else s

    img_ids = rng.choice(np.arange(1, 100000), size=n_images, replace=False).tolist()
    for n, img_id in enumerate(img_ids):
        W, H = int(rng.integers(320, 700)), int(rng.integers(240, 640))
        images.append({"id": int(img_id), "width": W, "height": H, "file_name": "%012d.jpg" % img_id})
        if n == 1:  # no gt, detections only
            for _ in range(3):
                _, _, _, _, pts = make_person(rng, rng.uniform(60, 300), W, H)
                results.append(detection_near(rng, pts, 100, 0.02, img_id, score=score()))
            continue
        people = []
        for _ in range(int(rng.integers(1, 7))):
            cat = int(rng.choice(categories)) if rng.uniform() < 0.8 else categories[0]
            height = float(rng.choice([rng.uniform(25, 55), rng.uniform(60, 180), rng.uniform(190, 420)]))
            kind = rng.uniform()
            if kind < 0.1:  # crowd region: no keypoints, a big box
                kps, nk, bbox, area, pts = zero_keypoint_person(rng, height * 1.5, W, H)
                bbox = [bbox[0], bbox[1], bbox[2] * 2.5, bbox[3]]
                add_ann(img_id, cat, kps, nk, bbox, area * 2.5, crowd=1)
                pts = pts.copy()
                pts[:, 0] = bbox[0] + (pts[:, 0] - bbox[0]) * 2.0
            elif kind < 0.2:  # unlabelled person
                kps, nk, bbox, area, pts = zero_keypoint_person(rng, height, W, H)
                add_ann(img_id, cat, kps, nk, bbox, area)
            else:
                kps, nk, bbox, area, pts = make_person(rng, height, W, H, integer=rng.uniform() < 0.7)
                if nk == 0:  # keep num_keypoints consistent with the flags, as COCO does
                    kps[2] = 2
                    kps[0], kps[1] = float(pts[0][0]), float(pts[0][1])
                    nk = 1
                u = rng.uniform()
                if u < 0.08:
                    area = 32.0 ** 2
                elif u < 0.16:
                    area = 96.0 ** 2
                add_ann(img_id, cat, kps, nk, bbox, area)
            people.append((cat, pts, height, kind))
        if n == 2:  # gt only
            continue
        for cat, pts, height, kind in people:
            if rng.uniform() < 0.85:
                level = float(rng.choice([0.005, 0.02, 0.05, 0.1, 0.3]))
                results.append(detection_near(rng, pts, height, level, img_id, cat, score()))
            if rng.uniform() < 0.25:  # duplicate, usually worse
                results.append(detection_near(rng, pts, height, 0.06, img_id, cat, score()))
        n_fp = 24 if n == 3 else int(rng.integers(0, 4))
        for _ in range(n_fp):
            _, _, _, _, pts = make_person(rng, rng.uniform(20, 400), W, H)
            if n == 3 and people and rng.uniform() < 0.5:
                cat, pts, height, _ = people[int(rng.integers(0, len(people)))]
                results.append(detection_near(rng, pts, height, 0.03, img_id, cat, score()))
            else:
                results.append(detection_near(rng, pts, 100, 0.0, img_id, int(rng.choice(categories)), score()))
    cats = [{"id": c, "name": "c%d" % c, "supercategory": "person"} for c in categories]
    return {"images": images, "annotations": anns, "categories": cats}, results


def evaluate(gt_file, res_file, img_ids=None):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_file)
        dt = gt.loadRes(res_file)
        E = COCOeval(gt, dt, "keypoints")
        E.params.useSegm = None
        if img_ids is not None:
            E.params.imgIds = img_ids
        E.evaluate()
        E.accumulate()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        E.summarize()
    p = E.eval["precision"][..., 0]  # [T,R,K,A]
    r = E.eval["recall"][..., 0]     # [T,K,A]
    ious = []
    for (img, cat), m in sorted(E.ious.items()):
        if len(m) == 0:
            continue
        dts = E._dts[img, cat]
        order = np.argsort([-d["score"] for d in dts], kind="mergesort")[: E.params.maxDets[-1]]
        ious.append({"image_id": int(img), "category_id": int(cat),
                     "dt_index": [int(dts[i]["id"]) - 1 for i in order],
                     "gt_id": [int(g["id"]) for g in E._gts[img, cat]],
                     "oks": np.asarray(m).tolist()})
    return {
        "pycocotools": pycocotools.__version__ if hasattr(pycocotools, "__version__") else "2.0.x",
        "numpy": np.__version__,
        "image_ids": None if img_ids is None else [int(i) for i in img_ids],
        "category_ids": [int(c) for c in E.params.catIds],
        "stats": [float(s) for s in E.stats],
        "precision": p.reshape(-1).tolist(),
        "recall": r.reshape(-1).tolist(),
        "lines": buf.getvalue(),
        "iou_thrs": [float(t) for t in E.params.iouThrs],
        "rec_thrs": [float(t) for t in E.params.recThrs],
        "ious": ious,
    }


def dump(obj, name):
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(obj, f, separators=(",", ":"))


def write_case(name, gt, results, img_ids=None, gt_file=None, with_ious=True):
    if gt_file is None:
        gt_file = os.path.join(OUT, name + "_gt.json")
        dump(gt, name + "_gt.json")
    dump(results, name + "_results.json")
    exp = evaluate(gt_file, os.path.join(OUT, name + "_results.json"), img_ids)
    if not with_ious:
        exp["ious"] = []
    dump(exp, name + "_expected.json")
    print(name, " ".join("%.4f" % s for s in exp["stats"]))


def main():
    os.makedirs(OUT, exist_ok=True)

    gt, res = random_case(1, 14, [1], False)
    write_case("random_a", gt, res)

    gt, res = random_case(2, 30, [1, 2, 3], False)
    rng = np.random.default_rng(22)
    gt["categories"] = gt["categories"][:3]
    gt["annotations"] = [a for a in gt["annotations"] if a["category_id"] != 3]
    imgs = [im["id"] for im in gt["images"]]
    for r in res:  # cat 3: detections only
        if rng.uniform() < 0.15:
            r["category_id"] = 3
    extra = dict(gt["annotations"][0])
    extra.update(id=999990, image_id=123456789)  # unlisted image
    gt["annotations"].append(extra)
    extra = dict(gt["annotations"][1])
    extra.update(id=999991, category_id=9)  # unlisted category
    gt["annotations"].append(extra)
    # id 0 on a person of an evaluated image, detected exactly with a high score
    for a in gt["annotations"]:
        if a["num_keypoints"] > 5 and a["image_id"] == imgs[4] and a["category_id"] == 1 and a["area"] > 1024:
            a["id"] = 0
            k = np.array(a["keypoints"], dtype=float).reshape(17, 3)
            k[:, 2] = 0.9
            res.append({"image_id": a["image_id"], "category_id": 1, "keypoints": k.reshape(-1).tolist(),
                        "score": 0.97})
            break
    res.append(dict(res[0], category_id=7))
    for r in res:
        k = np.array(r["keypoints"]).reshape(17, 3)
        x0, y0 = k[:, 0].min(), k[:, 1].min()
        w, h = k[:, 0].max() - x0, k[:, 1].max() - y0
        f = float(rng.choice([0.1, 0.8, 1.0, 10.0]))  # area x0.01 .. x100: other ranges
        r["bbox"] = r2([x0, y0, w * f, h * f])
    subset = [imgs[i] for i in [5, 0, 4, 9, 3, 0, 1, 7, 11, 28, 14, 15, 16, 18, 20, 21, 23, 25, 26, 2]]
    write_case("random_b", gt, res, img_ids=subset)

    gt, res = random_case(3, 40, [1], True)
    write_case("random_c", gt, res, with_ious=False)

    # the real coco-sample annotations
    with open(SAMPLE_GT) as f:
        sample = json.load(f)
    rng = np.random.default_rng(4)
    res = []
    for a in sample["annotations"]:
        k = np.array(a["keypoints"], dtype=float).reshape(17, 3)
        x, y, w, h = a["bbox"]
        if a["num_keypoints"] == 0:
            pts = np.stack([x + TEMPLATE[:, 0] * w, y + TEMPLATE[:, 1] * h], 1)
            res.append(detection_near(rng, pts, h, 0.05, a["image_id"], 1, float(rng.uniform(0.1, 0.9))))
            continue
        fill = np.stack([x + TEMPLATE[:, 0] * w, y + TEMPLATE[:, 1] * h], 1)
        pts = np.where(k[:, 2:3] > 0, k[:, :2], fill)
        for level in ([0.01, 0.04] if rng.uniform() < 0.3 else [float(rng.choice([0.005, 0.02, 0.05, 0.1]))]):
            res.append(detection_near(rng, pts, np.sqrt(a["area"]), level, a["image_id"], 1,
                                      round(float(rng.uniform(0.1, 1.0)), 2)))
    for im in sample["images"]:
        for _ in range(2):
            _, _, _, _, pts = make_person(rng, rng.uniform(40, 300), im["width"], im["height"])
            res.append(detection_near(rng, pts, 100, 0.0, im["id"], 1, round(float(rng.uniform(0.05, 0.6)), 2)))
    write_case("coco_sample", None, res, gt_file=SAMPLE_GT)


if __name__ == "__main__":
    main()

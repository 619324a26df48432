"""Makes tests/pose/data/scale_cases.json: the official multi-scale sizes, affine matrices, 8-bit
warps and final-prediction transforms (a port of HigherHRNet's lib/utils/transforms.py) for
several image sizes and scale lists.

    python3 -m pip install numpy opencv-python-headless
    python3 tests/pose/make_scale_fixtures.py

Per case: for every scale (processed in descending order, like valid.py) the resized size,
center and scale pair, the forward affine of resize_align_multi_scale (cv2.getAffineTransform,
as float64), a checksum of cv2.warpAffine's output for a deterministic test image, and for the
base size (scale 1) the inverse affine of get_final_preds with a few mapped points.
"""
import json
import os

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


# ---- the official functions (lib/utils/transforms.py), ported ----------------------------------
def get_3rd_point(a, b):
    direct = a - b
    return b + np.array([-direct[1], direct[0]], dtype=np.float32)


def get_dir(src_point, rot_rad):
    sn, cs = np.sin(rot_rad), np.cos(rot_rad)
    return [src_point[0] * cs - src_point[1] * sn, src_point[0] * sn + src_point[1] * cs]


def get_affine_transform(center, scale, rot, output_size, shift=np.array([0, 0], dtype=np.float32), inv=0):
    if not isinstance(scale, np.ndarray) and not isinstance(scale, list):
        scale = np.array([scale, scale])
    scale_tmp = scale * 200.0
    src_w = scale_tmp[0]
    dst_w = output_size[0]
    dst_h = output_size[1]
    rot_rad = np.pi * rot / 180
    src_dir = get_dir([0, src_w * -0.5], rot_rad)
    dst_dir = np.array([0, dst_w * -0.5], np.float32)
    src = np.zeros((3, 2), dtype=np.float32)
    dst = np.zeros((3, 2), dtype=np.float32)
    src[0, :] = center + scale_tmp * shift
    src[1, :] = center + src_dir + scale_tmp * shift
    dst[0, :] = [dst_w * 0.5, dst_h * 0.5]
    dst[1, :] = np.array([dst_w * 0.5, dst_h * 0.5]) + dst_dir
    src[2:, :] = get_3rd_point(src[0, :], src[1, :])
    dst[2:, :] = get_3rd_point(dst[0, :], dst[1, :])
    if inv:
        return cv2.getAffineTransform(np.float32(dst), np.float32(src))
    return cv2.getAffineTransform(np.float32(src), np.float32(dst))


def get_multi_scale_size(image, input_size, current_scale, min_scale):
    h, w, _ = image.shape
    center = np.array([int(w / 2.0 + 0.5), int(h / 2.0 + 0.5)])
    min_input_size = int((min_scale * input_size + 63) // 64 * 64)
    if w < h:
        w_resized = int(min_input_size * current_scale / min_scale)
        h_resized = int(int((min_input_size / w * h + 63) // 64 * 64) * current_scale / min_scale)
        scale_w = w / 200.0
        scale_h = h_resized / w_resized * w / 200.0
    else:
        h_resized = int(min_input_size * current_scale / min_scale)
        w_resized = int(int((min_input_size / h * w + 63) // 64 * 64) * current_scale / min_scale)
        scale_h = h / 200.0
        scale_w = w_resized / h_resized * h / 200.0
    return (w_resized, h_resized), center, np.array([scale_w, scale_h])


def resize_align_multi_scale(image, input_size, current_scale, min_scale):
    size_resized, center, scale = get_multi_scale_size(image, input_size, current_scale, min_scale)
    trans = get_affine_transform(center, scale, 0, size_resized)
    return cv2.warpAffine(image, trans, size_resized), center, scale, trans


def transform_preds(coords, center, scale, output_size):
    target_coords = coords.copy()
    trans = get_affine_transform(center, scale, 0, output_size, inv=1)
    for p in range(coords.shape[0]):
        pt = np.array([coords[p, 0], coords[p, 1], 1.]).T
        target_coords[p, 0:2] = np.dot(trans, pt)[:2]
    return target_coords, trans


# ---- test image and hashing (twins in tests/pose/test_inference.cpp) -------------------------
def test_image(h, w):
    """uint8 (h, w, 3): a smooth pattern plus splitmix64 noise, so bilinear weights matter."""
    i = np.arange(1, h * w * 3 + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(99) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    noise = (z >> np.uint64(58)).astype(np.int64).reshape(h, w, 3)  # 0..63
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    base = (xx * 3 + yy * 5)[:, :, None] + np.array([0, 40, 80])[None, None, :]
    return ((base + noise) % 256).astype(np.uint8)


def checksum(a):
    """sum_i byte_i * ((i + 1) * 0x9E3779B97F4A7C15) mod 2^64, as 16 hex digits."""
    b = np.ascontiguousarray(a).reshape(-1).astype(np.uint64)
    with np.errstate(over="ignore"):
        w = np.arange(1, b.size + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        return "%016x" % int(np.sum(b * w, dtype=np.uint64))


def main():
    cases = []
    specs = [((480, 640), 512, [1.0], True), ((640, 480), 512, [1.0], True), ((427, 640), 512, [1.0], False),
             ((333, 500), 512, [2.0, 1.0, 0.5], False), ((500, 333), 512, [0.5, 1.0, 2.0], False),
             ((512, 512), 512, [1.0], False), ((100, 1000), 512, [1.0, 0.75], False),
             ((37, 53), 64, [1.0, 1.5, 0.5], True), ((61, 17), 64, [1.0], True), ((1, 1), 64, [1.0], False),
             ((375, 500), 640, [1.0, 0.25], False), ((299, 301), 512, [1.0], False)]
    for (h, w), input_size, scales, with_warp in specs:
        image = test_image(h, w) if with_warp else np.zeros((h, w, 3), np.uint8)
        min_scale = min(scales)
        base_size, base_center, base_scale = get_multi_scale_size(image, input_size, 1.0, min_scale)
        per_scale = []
        for s in sorted(scales, reverse=True):
            size, center, scale = get_multi_scale_size(image, input_size, s, min_scale)
            entry = {"scale": s, "width": size[0], "height": size[1], "center": [int(c) for c in center],
                     "scale_wh": [float(v) for v in scale],
                     "affine": [float(v) for v in get_affine_transform(center, scale, 0, size).reshape(-1)]}
            if with_warp:
                warped, _, _, _ = resize_align_multi_scale(image, input_size, s, min_scale)
                entry["warp_checksum"] = checksum(warped)
            per_scale.append(entry)
        # get_final_preds on the base-size map with the last (smallest) scale's center and scale
        _, center, scale = get_multi_scale_size(image, input_size, min_scale, min_scale)
        rng = np.random.default_rng(h * 1000 + w)
        pts = np.concatenate([rng.uniform(0, base_size[0], (6, 1)), rng.uniform(0, base_size[1], (6, 1)),
                              rng.uniform(0, 1, (6, 1))], axis=1).astype(np.float32)
        mapped, inv = transform_preds(pts, center, scale, list(base_size))
        cases.append({"height": h, "width": w, "input_size": input_size, "scales": scales, "with_warp": with_warp,
                      "base": {"width": base_size[0], "height": base_size[1]}, "per_scale": per_scale,
                      "inverse_affine": [float(v) for v in inv.reshape(-1)],
                      "points": [[float(v) for v in p] for p in pts],
                      "mapped": [[float(v) for v in p] for p in mapped]})
    with open(os.path.join(HERE, "data", "scale_cases.json"), "w") as f:
        json.dump(cases, f, separators=(",", ":"))
    print(f"{len(cases)} cases, opencv {cv2.__version__}")


if __name__ == "__main__":
    main()

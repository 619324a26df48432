#!/usr/bin/env python3
"""Golden fixtures for tests/data/test_targets.cpp (HigherHRNet targets and augmentation).

The oracle is a verbatim re-implementation of the official HigherHRNet code
(lib/dataset/target_generators/target_generators.py: HeatmapGenerator, JointsGenerator;
lib/dataset/transforms/transforms.py: RandomAffineTransform, RandomHorizontalFlip) in numpy, with
cv2.warpAffine as the warp oracle.

Needs numpy and OpenCV's classic warp (opencv-python-headless 4.10; newer OpenCV releases rewrote
warpAffine and may differ by one grey level):

    python3 -m pip install opencv-python-headless==4.10.0.84
    python3 tests/data/make_target_fixtures.py

Writes tests/fixtures/data/targets_{heatmaps_128,heatmaps_256,affine,warp}.safetensors (deterministic). Heatmaps are stored sparsely
(flat index I64 + value F32 of every non-zero element) to keep the files small.
"""
import os
import sys

import cv2
import numpy as np
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import safetensors_writer  # noqa: E402  (the shared fixture writer)

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "data")

COCO_FLIP_INDEX = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def write_safetensors(filename, tensors, metadata=None):
    safetensors_writer.write_safetensors(os.path.join(OUT_DIR, filename), tensors, metadata)

# ---------------------------------------------------------------------------------------------
# Official code (HigherHRNet), verbatim up to formatting
# ---------------------------------------------------------------------------------------------
class HeatmapGenerator():
    def __init__(self, output_res, num_joints, sigma=-1):
        self.output_res = output_res
        self.num_joints = num_joints
        if sigma < 0:
            sigma = self.output_res / 64
        self.sigma = sigma
        size = 6 * sigma + 3
        x = np.arange(0, size, 1, float)
        y = x[:, np.newaxis]
        x0, y0 = 3 * sigma + 1, 3 * sigma + 1
        self.g = np.exp(- ((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma ** 2))

    def __call__(self, joints):
        hms = np.zeros((self.num_joints, self.output_res, self.output_res), dtype=np.float32)
        sigma = self.sigma
        for p in joints:
            for idx, pt in enumerate(p):
                if pt[2] > 0:
                    x, y = int(pt[0]), int(pt[1])
                    if x < 0 or y < 0 or x >= self.output_res or y >= self.output_res:
                        continue
                    ul = int(np.round(x - 3 * sigma - 1)), int(np.round(y - 3 * sigma - 1))
                    br = int(np.round(x + 3 * sigma + 2)), int(np.round(y + 3 * sigma + 2))
                    c, d = max(0, -ul[0]), min(br[0], self.output_res) - ul[0]
                    a, b = max(0, -ul[1]), min(br[1], self.output_res) - ul[1]
                    cc, dd = max(0, ul[0]), min(br[0], self.output_res)
                    aa, bb = max(0, ul[1]), min(br[1], self.output_res)
                    hms[idx, aa:bb, cc:dd] = np.maximum(hms[idx, aa:bb, cc:dd], self.g[a:b, c:d])
        return hms


class JointsGenerator():
    def __init__(self, max_num_people, num_joints, output_res, tag_per_joint):
        self.max_num_people = max_num_people
        self.num_joints = num_joints
        self.output_res = output_res
        self.tag_per_joint = tag_per_joint

    def __call__(self, joints):
        visible_nodes = np.zeros((self.max_num_people, self.num_joints, 2))
        output_res = self.output_res
        for i in range(len(joints)):
            tot = 0
            for idx, pt in enumerate(joints[i]):
                x, y = int(pt[0]), int(pt[1])
                if pt[2] > 0 and x >= 0 and y >= 0 and x < self.output_res and y < self.output_res:
                    if self.tag_per_joint:
                        visible_nodes[i][tot] = (idx * output_res ** 2 + y * output_res + x, 1)
                    else:
                        visible_nodes[i][tot] = (y * output_res + x, 1)
                    tot += 1
        return visible_nodes


def get_affine_matrix(center, scale, res, rot=0):
    """RandomAffineTransform._get_affine_matrix; res = (h, w)."""
    h = 200 * scale
    t = np.zeros((3, 3))
    t[0, 0] = float(res[1]) / h
    t[1, 1] = float(res[0]) / h
    t[0, 2] = res[1] * (-float(center[0]) / h + .5)
    t[1, 2] = res[0] * (-float(center[1]) / h + .5)
    t[2, 2] = 1
    if not rot == 0:
        rot = -rot  # To match direction of rotation from cropping
        rot_mat = np.zeros((3, 3))
        rot_rad = rot * np.pi / 180
        sn, cs = np.sin(rot_rad), np.cos(rot_rad)
        rot_mat[0, :2] = [cs, -sn]
        rot_mat[1, :2] = [sn, cs]
        rot_mat[2, 2] = 1
        t_mat = np.eye(3)
        t_mat[0, 2] = -res[1] / 2
        t_mat[1, 2] = -res[0] / 2
        t_inv = t_mat.copy()
        t_inv[:2, 2] *= -1
        t = np.dot(t_inv, np.dot(rot_mat, np.dot(t_mat, t)))
    return t


def affine_joints(joints, mat):
    joints = np.array(joints)
    shape = joints.shape
    joints = joints.reshape(-1, 2)
    return np.dot(np.concatenate((joints, joints[:, 0:1] * 0 + 1), axis=1), mat.T).reshape(shape)


def sample_affine(height, width, max_rotation=30, min_scale=0.75, max_scale=1.5, max_translate=40):
    """The random draws of RandomAffineTransform.__call__ (scale_type 'short')."""
    center = np.array((width / 2, height / 2))
    scale = min(height, width) / 200
    aug_scale = np.random.random() * (max_scale - min_scale) + min_scale
    scale *= aug_scale
    aug_rot = (np.random.random() * 2 - 1) * max_rotation
    dx = np.random.randint(-max_translate * scale, max_translate * scale)
    dy = np.random.randint(-max_translate * scale, max_translate * scale)
    center[0] += dx
    center[1] += dy
    return center, scale, aug_rot


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------
def people_joints(res):
    """3 people, (3, 17, 3) float64 in output pixels of `res`, with the edge cases of the rule."""
    rng = np.random.RandomState(5)
    j = np.zeros((3, 17, 3))
    # person 0: all visible (v=2), well inside, non-integer positions
    j[0, :, 0] = rng.uniform(0.2 * res, 0.8 * res, 17)
    j[0, :, 1] = rng.uniform(0.2 * res, 0.8 * res, 17)
    j[0, :, 2] = 2
    # person 1: a mix of occluded (v=1 counts), unlabelled (v=0), out of the image and borders
    j[1, :, 0] = rng.uniform(0, res, 17)
    j[1, :, 1] = rng.uniform(0, res, 17)
    j[1, :, 2] = 1
    j[1, 0] = (-0.5, 10.25, 1)          # int(-0.5) = 0: kept, at the left border
    j[1, 1] = (-1.0, 10.0, 2)           # x = -1: dropped
    j[1, 2] = (res - 0.01, 3.7, 2)      # int -> res-1: kept, window clipped right
    j[1, 3] = (res, 5.0, 2)             # x = res: dropped
    j[1, 4] = (20.5, res + 3.0, 2)      # y out: dropped
    j[1, 5] = (30.0, 40.0, 0)           # v = 0: dropped
    j[1, 6] = (2.9, 1.2, 2)             # window clipped top-left
    j[1, 7] = (res - 3.5, res - 0.5, 1)  # window clipped bottom-right
    j[1, 8] = (-30.0, -7.0, 2)          # far out: dropped
    # person 2: close to person 0 (windows overlap: max across people), some joints v=0
    j[2, :, 0] = j[0, :, 0] + rng.uniform(-4, 4, 17)
    j[2, :, 1] = j[0, :, 1] + rng.uniform(-4, 4, 17)
    j[2, :, 2] = np.where(rng.uniform(0, 1, 17) < 0.3, 0, 2)
    return j


def sparse(hms):
    flat = hms.reshape(-1)
    idx = np.nonzero(flat)[0]
    return idx.astype(np.int64), flat[idx].astype(np.float32)


def make_heatmaps():
    for res in (128, 256):
        joints = people_joints(res)
        hm = HeatmapGenerator(res, 17, 2)(joints)
        jg = JointsGenerator(30, 17, res, True)(joints).astype(np.int32)
        jg_notag = JointsGenerator(30, 17, res, False)(joints).astype(np.int32)
        idx, val = sparse(hm)
        write_safetensors(f"targets_heatmaps_{res}.safetensors", {
            "joints": joints, "hm_index": idx, "hm_value": val,
            "joints_list": jg, "joints_list_notag": jg_notag,
            "window": HeatmapGenerator(res, 17, 2).g,
        }, {"res": res, "sigma": 2, "num_joints": 17, "max_num_people": 30,
            "note": "heatmaps (17,res,res) float32 stored sparsely: flat index + value"})


def make_affine():
    np.random.seed(11)
    height, width = 45, 61
    img = np.random.randint(0, 256, (height, width, 3)).astype(np.uint8)
    # a smooth-ish image too (bilinear rounding is exercised on gradients, not only noise)
    yy, xx = np.mgrid[0:height, 0:width]
    img[:, :, 2] = ((xx * 4 + yy * 3) % 256).astype(np.uint8)
    mask = np.ones((height, width), dtype=bool)
    mask[10:25, 15:40] = False                     # a crowd region: not supervised
    mask[np.random.uniform(0, 1, (height, width)) < 0.05] = False
    joints = np.zeros((4, 17, 3))
    joints[:, :, 0] = np.random.uniform(-5, width + 5, (4, 17))
    joints[:, :, 1] = np.random.uniform(-5, height + 5, (4, 17))
    joints[:, :, 2] = np.random.randint(0, 3, (4, 17))

    tensors = {"mask": mask.astype(np.float32), "joints": joints}
    images = {"image": img.astype(np.float32)}
    # case 0: fixed parameters; cases 1..3: drawn like RandomAffineTransform
    cases = [(np.array((30.5, 20.0)), 0.3, 17.5)]
    for _ in range(3):
        cases.append(sample_affine(height, width))
    in_size, out_sizes = 48, (16, 32)
    for ci, (center, scale, rot) in enumerate(cases):
        p = f"case{ci}."
        tensors[p + "params"] = np.array([center[0], center[1], scale, rot], dtype=np.float64)
        for res in (128, 256, 512, in_size) + out_sizes:
            mat = get_affine_matrix(center, scale, (res, res), rot)[:2]
            tensors[p + f"mat{res}"] = mat
            tensors[p + f"joints{res}"] = np.concatenate(
                (affine_joints(joints[:, :, 0:2], mat), joints[:, :, 2:3]), axis=2)
        mat_in = get_affine_matrix(center, scale, (in_size, in_size), rot)[:2]
        warped = cv2.warpAffine(img, mat_in, (in_size, in_size))
        images[p + "image_warped"] = warped.astype(np.float32)
        if ci == 0:
            images[p + "image_warped_nearest"] = cv2.warpAffine(
                img, mat_in, (in_size, in_size), flags=cv2.INTER_NEAREST).astype(np.float32)
            images[p + "image_warped_f32"] = cv2.warpAffine(img.astype(np.float32), mat_in, (in_size, in_size))
            images[p + "image_warped_flipped"] = warped[:, ::-1].astype(np.float32)
        for res in out_sizes:
            mat = get_affine_matrix(center, scale, (res, res), rot)[:2]
            m = cv2.warpAffine((mask * 255).astype(np.uint8), mat, (res, res)) / 255
            tensors[p + f"mask{res}"] = (m > 0.5).astype(np.float32)
            # RandomHorizontalFlip on the transformed mask / joints (the flip branch taken)
            tensors[p + f"mask{res}_flipped"] = (tensors[p + f"mask{res}"][:, ::-1] - 0).astype(np.float32)
            jf = tensors[p + f"joints{res}"][:, COCO_FLIP_INDEX].copy()
            jf[:, :, 0] = res - jf[:, :, 0] - 1
            tensors[p + f"joints{res}_flipped"] = jf
    meta = {"cases": len(cases), "height": height, "width": width, "in_size": in_size,
            "out_sizes": ",".join(map(str, out_sizes)), "opencv": cv2.__version__}
    write_safetensors("targets_affine.safetensors", tensors, meta)
    write_safetensors("targets_warp.safetensors",
                      dict(images, **{k: v for k, v in tensors.items() if k.endswith("params") or "mat48" in k}), meta)


if __name__ == "__main__":
    make_heatmaps()
    make_affine()

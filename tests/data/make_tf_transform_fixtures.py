#!/usr/bin/env python3
"""Fixtures for tests/data/test_tf_transforms.cpp: the TF port's ImageNet preprocessing, run by
TensorFlow itself (yuanyuanli85/tf-hrnet utils/imagenet_preprocessing.py, re-stated below with the
same TF ops: _smallest_size_at_least, _aspect_preserving_resize, _central_crop,
_mean_image_subtraction, _resize_image = tf.compat.v1.image.resize_images(BILINEAR,
align_corners=False), and sample_distorted_bounding_box with the port's parameters).

    python3 -m pip install tensorflow-cpu        # tested with TensorFlow 2.21 (CPU)
    python3 tests/data/make_tf_transform_fixtures.py

Writes tests/data/tf_transforms/:
  img_<h>x<w>.png        synthetic grey-ish RGB images of odd sizes (PNG: the C++ test decodes the
                         very pixels TF was given; TF's own JPEG decoder is not involved)
  tf_transforms.safetensors
    resize/<case>/...    resize_images of a region of an image (upscale, downscale, identity, ...)
    eval/<case>/...      _aspect_preserving_resize + _central_crop + _mean_image_subtraction
    train/<case>/...     slice(crop) + flip_left_right + resize_images + _mean_image_subtraction
                         with the crop drawn by TF's sample_distorted_bounding_box
      each with `rows`, `cols` (I64: which output rows/columns are stored; large outputs keep
      every 7th and the last to stay small) and `values` (F32 [rows, cols, 3])
    aspect_sizes         I64 [n, 4]: h, w -> TF's (new_h, new_w) for short side 256
    stats/<config>/draws F32 [2000, 4]: TF's (offset_y, offset_x, height, width) of 2000 calls
      of sample_distorted_bounding_box; `image` [h, w], `boxes` [n, 4] (xmin, ymin, xmax, ymax),
      `options` [min_object_covered, aspect_min, aspect_max, area_min, area_max, max_attempts]
Deterministic: fixed numpy seeds and the stateless op with fixed seeds.
"""
import os
import sys

import numpy as np

try:
    import tensorflow as tf
except ImportError:
    sys.exit("needs tensorflow: python3 -m pip install tensorflow-cpu")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import safetensors_writer  # noqa: E402  (the shared fixture writer)

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tf_transforms")
MEANS = [123.68, 116.78, 103.94]

# ---------------------------------------------------------------------------------------------
# utils/imagenet_preprocessing.py (tf-hrnet), the same ops
# ---------------------------------------------------------------------------------------------


def _resize_image(image, height, width):
    return tf.compat.v1.image.resize_images(image, [height, width], method=tf.compat.v1.image.ResizeMethod.BILINEAR,
                                            align_corners=False)


def _smallest_size_at_least(height, width, resize_min):
    resize_min = tf.cast(resize_min, tf.float32)
    height, width = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    smaller_dim = tf.minimum(height, width)
    scale_ratio = resize_min / smaller_dim
    return tf.cast(height * scale_ratio, tf.int32), tf.cast(width * scale_ratio, tf.int32)


def _aspect_preserving_resize(image, resize_min):
    shape = tf.shape(image)
    new_height, new_width = _smallest_size_at_least(shape[0], shape[1], resize_min)
    return _resize_image(image, new_height, new_width)


def _central_crop(image, crop_height, crop_width):
    shape = tf.shape(image)
    crop_top = (shape[0] - crop_height) // 2
    crop_left = (shape[1] - crop_width) // 2
    return tf.slice(image, [crop_top, crop_left, 0], [crop_height, crop_width, -1])


def _mean_image_subtraction(image, means):
    return image - tf.expand_dims(tf.expand_dims(means, 0), 0)


_CALLS = [0]


def sample_box(image_hw, boxes_xyxy, min_object_covered=0.1, aspect_ratio_range=(0.75, 1.33), area_range=(0.05, 1.0),
               max_attempts=100):
    """One call of the op (the port's parameters by default); returns (y, x, h, w). The stateless
    variant runs the same kernel code (SampleDistortedBoundingBoxBaseOp) with a Philox stream fixed
    by the seed, so the fixtures are reproducible; the port's stateful op differs only in its seed."""
    b = np.asarray(boxes_xyxy, np.float32).reshape(-1, 4)
    bbox = tf.constant(b[:, [1, 0, 3, 2]].reshape(1, -1, 4))  # [ymin, xmin, ymax, xmax]
    _CALLS[0] += 1
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.constant([image_hw[0], image_hw[1], 3], tf.int32), bounding_boxes=bbox, seed=[20240611, _CALLS[0]],
        min_object_covered=min_object_covered, aspect_ratio_range=list(aspect_ratio_range), area_range=list(area_range),
        max_attempts=max_attempts, use_image_if_no_bounding_boxes=True)
    return int(begin[0]), int(begin[1]), int(size[0]), int(size[1])


# Dynamic shapes, as in the port's input pipeline (the decoded image's size is unknown to the graph).
@tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.uint8), tf.TensorSpec([], tf.int32),
                              tf.TensorSpec([], tf.int32)])
def eval_pipeline(image, size, resize_min):
    image = _aspect_preserving_resize(image, resize_min)
    image = _central_crop(image, size, size)
    return _mean_image_subtraction(image, MEANS)


@tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.uint8), tf.TensorSpec([4], tf.int32),
                              tf.TensorSpec([], tf.bool), tf.TensorSpec([], tf.int32)])
def train_pipeline(image, crop, flip, size):
    cropped = tf.slice(image, [crop[0], crop[1], 0], [crop[2], crop[3], -1])  # decode_and_crop_jpeg's window
    cropped = tf.cond(flip, lambda: tf.image.flip_left_right(cropped), lambda: cropped)
    return _mean_image_subtraction(_resize_image(cropped, size, size), MEANS)


@tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.uint8), tf.TensorSpec([2], tf.int32)])
def resize_pipeline(region, out_hw):
    return _resize_image(region, out_hw[0], out_hw[1])


# ---------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------


def make_image(h, w, seed):
    """Grey-ish content: smooth gradients and waves, a few hard-edged blocks, a little noise."""
    r = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = 128 + 50 * np.sin(x / (3 + w / 9.0) + r.uniform(0, 6)) * np.cos(y / (2 + h / 7.0) + r.uniform(0, 6))
    base += 30 * (x / max(w - 1, 1) - 0.5) - 20 * (y / max(h - 1, 1) - 0.5)
    img = np.repeat(base[:, :, None], 3, axis=2) + np.array([6.0, 0.0, -8.0])
    for _ in range(4):  # hard edges, some clipped at 0 and 255
        y0, x0 = r.randint(0, h), r.randint(0, w)
        img[y0:y0 + r.randint(1, h // 2 + 2), x0:x0 + r.randint(1, w // 2 + 2)] += r.uniform(-140, 140, 3)
    if h * w <= 100000:  # no noise on the large one: it keeps the PNG small
        img += r.randint(-2, 3, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def pick(n):
    """Stored rows/columns of an n-long output axis: all when small, else every 7th and the last."""
    return np.arange(n) if n <= 64 else np.array(sorted(set(range(0, n, 7)) | {n - 1}))


def store(tensors, key, out):
    out = np.asarray(out, np.float32)
    rows, cols = pick(out.shape[0]), pick(out.shape[1])
    tensors[key + "/rows"] = rows
    tensors[key + "/cols"] = cols
    tensors[key + "/values"] = out[np.ix_(rows, cols)].astype(np.float32)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    sizes = [(37, 53), (47, 61), (200, 300), (375, 500)]
    images = {}
    for i, (h, w) in enumerate(sizes):
        img = make_image(h, w, 100 + i)
        name = f"img_{h}x{w}"
        with open(os.path.join(OUT_DIR, name + ".png"), "wb") as f:
            f.write(tf.io.encode_png(img).numpy())
        # the PNG must hold exactly these pixels
        assert np.array_equal(tf.io.decode_png(tf.io.read_file(os.path.join(OUT_DIR, name + ".png"))).numpy(), img)
        images[name] = img
    t = {}

    # resize_images of a region: (image, top, left, h, w, out_h, out_w)
    resize_cases = {
        "up_full": ("img_37x53", 0, 0, 37, 53, 224, 224),
        "down_full": ("img_37x53", 0, 0, 37, 53, 20, 30),
        "mixed_region": ("img_37x53", 5, 7, 20, 31, 45, 13),
        "identity": ("img_37x53", 0, 0, 37, 53, 37, 53),
        "one_pixel_out": ("img_37x53", 2, 3, 30, 40, 1, 1),
        "one_row_out": ("img_37x53", 0, 0, 37, 53, 1, 60),
        "one_pixel_region": ("img_37x53", 3, 4, 1, 1, 5, 5),
        "near_same": ("img_200x300", 0, 0, 200, 300, 201, 299),
        "down_224": ("img_200x300", 0, 0, 200, 300, 224, 224),
        "up_region": ("img_200x300", 50, 60, 101, 77, 224, 224),
        "small": ("img_200x300", 13, 17, 150, 211, 64, 97),
        "down_big": ("img_375x500", 0, 0, 375, 500, 224, 224),
        "tall_region": ("img_375x500", 20, 400, 355, 100, 300, 41),
    }
    for key, (name, top, left, h, w, oh, ow) in resize_cases.items():
        region = images[name][top:top + h, left:left + w]
        out = resize_pipeline(tf.constant(region), tf.constant([oh, ow], tf.int32)).numpy()
        assert out.shape == (oh, ow, 3) and out.dtype == np.float32
        store(t, f"resize/{key}", out)
        t[f"resize/{key}/region"] = np.array([top, left, h, w, oh, ow])
        t[f"resize/{key}/image"] = np.array([images[name].shape[0], images[name].shape[1]])

    # eval: (image, size, resize)
    eval_cases = {"a": ("img_37x53", 224, 256), "b": ("img_47x61", 224, 256), "c": ("img_200x300", 224, 256),
                  "d": ("img_375x500", 224, 256), "a_small": ("img_37x53", 24, 32), "d_small": ("img_375x500", 24, 33)}
    for key, (name, size, resize) in eval_cases.items():
        out = eval_pipeline(tf.constant(images[name]), tf.constant(size), tf.constant(resize)).numpy()
        assert out.shape == (size, size, 3) and out.dtype == np.float32
        store(t, f"eval/{key}", out)
        t[f"eval/{key}/config"] = np.array([images[name].shape[0], images[name].shape[1], size, resize])

    # train: TF draws the crop (the port's parameters) for an image and a box; flip given
    train_cases = {"a_flip": ("img_37x53", [[0.1, 0.2, 0.7, 0.9]], True, 224),
                   "c_noflip": ("img_200x300", [[0.3, 0.2, 0.6, 0.5]], False, 224),
                   "d_flip": ("img_375x500", [], True, 224),
                   "c_small_flip": ("img_200x300", [[0.0, 0.0, 1.0, 1.0]], True, 32)}
    for key, (name, boxes, flip, size) in train_cases.items():
        img = images[name]
        crop = sample_box(img.shape[:2], boxes)
        out = train_pipeline(tf.constant(img), tf.constant(crop, tf.int32), tf.constant(flip), tf.constant(size)).numpy()
        store(t, f"train/{key}", out)
        t[f"train/{key}/config"] = np.array([img.shape[0], img.shape[1], *crop, int(flip), size])

    # _smallest_size_at_least over many sizes (short sides 1..700 plus large ones, both orientations)
    r = np.random.RandomState(7)
    hw = [(s, s + int(r.randint(0, 400))) for s in range(1, 701)] + [(int(r.randint(701, 5000)), int(r.randint(200, 5000)))
                                                                   for _ in range(300)]
    hw += [(b, a) for a, b in hw[::3]]
    hw = np.array(hw, np.int32)
    nh, nw = _smallest_size_at_least(tf.constant(hw[:, 0]), tf.constant(hw[:, 1]), 256)
    t["aspect_sizes"] = np.stack([hw[:, 0], hw[:, 1], nh.numpy(), nw.numpy()], axis=1)

    # sample_distorted_bounding_box, 2000 calls per configuration
    stats = {
        "no_box_200x300": ((200, 300), [], (0.1, 0.75, 1.33, 0.05, 1.0, 100)),
        "box_375x500": ((375, 500), [[0.3, 0.2, 0.6, 0.5]], (0.1, 0.75, 1.33, 0.05, 1.0, 100)),
        "small_box_37x53": ((37, 53), [[0.1, 0.1, 0.3, 0.25]], (0.5, 0.75, 1.33, 0.05, 1.0, 100)),
        "two_boxes_100x80": ((100, 80), [[0.0, 0.0, 0.2, 0.3], [0.5, 0.6, 0.9, 1.0]], (0.7, 0.5, 2.0, 0.3, 0.6, 10)),
        "corner_box_60x90": ((60, 90), [[0.05, 0.05, 0.2, 0.15]], (1.0, 0.75, 1.33, 0.05, 1.0, 20)),  # ~40% fallback
    }
    for key, (hw_, boxes, opt) in stats.items():
        draws = [sample_box(hw_, boxes, min_object_covered=opt[0], aspect_ratio_range=opt[1:3], area_range=opt[3:5],
                            max_attempts=opt[5]) for _ in range(2000)]
        d = np.array(draws, np.float32)
        t[f"stats/{key}/draws"] = d
        t[f"stats/{key}/image"] = np.array(hw_)
        t[f"stats/{key}/boxes"] = np.array(boxes, np.float32).reshape(-1, 4)
        t[f"stats/{key}/options"] = np.array(opt, np.float32)
        whole = np.mean((d[:, 2] == hw_[0]) & (d[:, 3] == hw_[1]))
        print(f"{key}: mean area fraction {np.mean(d[:, 2] * d[:, 3]) / (hw_[0] * hw_[1]):.4f}, "
              f"mean aspect {np.mean(d[:, 3] / d[:, 2]):.4f}, whole image {whole:.3f}")

    safetensors_writer.write_safetensors(os.path.join(OUT_DIR, "tf_transforms.safetensors"), t,
                                         {"tensorflow": tf.__version__, "numpy": np.__version__})


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the TFRecord fixtures of tests/io/test_tfrecord.cpp with TensorFlow itself.

    pip install tensorflow-cpu   # or tensorflow
    python3 tests/io/make_tfrecord_fixtures.py tests/io/data

Outputs (committed, a few KB):
  examples.tfrecord       records written by tf.io.TFRecordWriter from tf.train.Example messages:
                          an ImageNet-style record (a small JPEG from tf.io.encode_jpeg, 1-based label,
                          class text, two boxes), every feature kind with edge values (negative and
                          extreme int64s, -0/inf/nan/denormal floats, binary and empty bytes, empty
                          lists), an empty Example (a zero-length record), a key that is not ASCII and
                          a record whose length needs a multi-byte varint.
  examples.json           per record: byte offset, data length, masked CRCs, and every feature as
                          TensorFlow reads it back (tf.data.TFRecordDataset + tf.train.Example.FromString):
                          bytes as hex, floats as their float32 bit patterns, int64s as numbers.
"""
import json
import os
import struct
import sys

import numpy as np
import tensorflow as tf


def bytes_feature(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def float_feature(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))


def int64_feature(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def example(features):
    return tf.train.Example(features=tf.train.Features(feature=features))


def small_jpeg():
    y, x = np.mgrid[0:12, 0:16]
    img = np.stack([x * 16, y * 20, (x + y) * 9], axis=-1).astype(np.uint8)
    return tf.io.encode_jpeg(tf.constant(img), quality=90).numpy()


def records():
    jpeg = small_jpeg()
    yield example({  # as build_imagenet_data.py writes a training image
        "image/height": int64_feature([12]),
        "image/width": int64_feature([16]),
        "image/colorspace": bytes_feature([b"RGB"]),
        "image/channels": int64_feature([3]),
        "image/class/label": int64_feature([1]),
        "image/class/synset": bytes_feature([b"n01440764"]),
        "image/class/text": bytes_feature([b"tench, Tinca tinca"]),
        "image/object/bbox/xmin": float_feature([0.125, 0.5]),
        "image/object/bbox/xmax": float_feature([0.75, 1.0]),
        "image/object/bbox/ymin": float_feature([0.0, 0.25]),
        "image/object/bbox/ymax": float_feature([0.5, 0.875]),
        "image/object/bbox/label": int64_feature([1, 1]),
        "image/format": bytes_feature([b"JPEG"]),
        "image/filename": bytes_feature([b"n01440764_10026.JPEG"]),
        "image/encoded": bytes_feature([jpeg]),
    })
    yield example({  # a validation image: label 1000, no boxes
        "image/encoded": bytes_feature([jpeg[: len(jpeg) // 2]]),
        "image/class/label": int64_feature([1000]),
        "image/class/text": bytes_feature([b"toilet tissue, toilet paper, bathroom tissue"]),
    })
    yield example({  # every kind, edge values
        "ints": int64_feature([0, 1, -1, 127, 128, -128, 300, -300, 2**31, -(2**31), 2**40 + 7,
                               2**63 - 1, -(2**63)]),
        "floats": float_feature([0.0, -0.0, 1.5, -2.25, 3.4028234663852886e38, 1e-45, float("inf"),
                                 float("-inf"), float("nan"), 0.1]),
        "bytes": bytes_feature([b"", b"\x00\x01\xff", "h\u00e9llo".encode(), b"x" * 200]),
        "empty_bytes": bytes_feature([]),
        "empty_floats": float_feature([]),
        "empty_ints": int64_feature([]),
        "no_kind": tf.train.Feature(),
    })
    yield tf.train.Example()  # serializes to zero bytes
    yield example({"cl\u00e9/\u65e5\u672c": int64_feature([7])})
    yield example({"long": float_feature([float(i) / 7 for i in range(100)])})  # 2-byte length varints


def float_bits(v):
    return struct.unpack("<I", struct.pack("<f", v))[0]


def describe(ex):
    out = {}
    for key, feature in ex.features.feature.items():
        kind = feature.WhichOneof("kind")
        if kind == "bytes_list":
            out[key] = {"kind": kind, "hex": [v.hex() for v in feature.bytes_list.value]}
        elif kind == "float_list":
            out[key] = {"kind": kind, "bits": [float_bits(v) for v in feature.float_list.value]}
        elif kind == "int64_list":
            out[key] = {"kind": kind, "values": list(feature.int64_list.value)}
        else:
            out[key] = {"kind": "none"}
    return out


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "data")
    os.makedirs(out_dir, exist_ok=True)
    shard = os.path.join(out_dir, "examples.tfrecord")
    with tf.io.TFRecordWriter(shard) as w:
        for ex in records():
            w.write(ex.SerializeToString())

    # Read back with TensorFlow's reader and parser; the offsets come from the framing alone.
    raw = open(shard, "rb").read()
    expected = {"file_size": len(raw), "records": []}
    offset = 0
    for data in tf.data.TFRecordDataset(shard):
        data = data.numpy()
        (length,) = struct.unpack_from("<Q", raw, offset)
        assert length == len(data) and raw[offset + 12: offset + 12 + length] == data
        (length_crc,) = struct.unpack_from("<I", raw, offset + 8)
        (data_crc,) = struct.unpack_from("<I", raw, offset + 12 + length)
        expected["records"].append({
            "offset": offset, "length": length, "masked_length_crc": length_crc, "masked_data_crc": data_crc,
            "features": describe(tf.train.Example.FromString(data)),
        })
        offset += 16 + length
    assert offset == len(raw)
    # TensorFlow's own graph parser agrees on the ImageNet keys of the first record.
    first = tf.io.parse_single_example(next(iter(tf.data.TFRecordDataset(shard))), {
        "image/class/label": tf.io.FixedLenFeature([], tf.int64),
        "image/object/bbox/xmin": tf.io.VarLenFeature(tf.float32),
    })
    assert int(first["image/class/label"]) == 1
    assert list(first["image/object/bbox/xmin"].values.numpy()) == [0.125, 0.5]
    with open(os.path.join(out_dir, "examples.json"), "w") as f:
        f.write(json.dumps(expected, sort_keys=True, separators=(",", ":")).replace('{"features"', '\n{"features"'))
        f.write("\n")
    print(f"wrote {shard} ({len(raw)} bytes, {len(expected['records'])} records)")


if __name__ == "__main__":
    main()

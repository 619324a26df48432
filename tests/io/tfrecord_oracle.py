#!/usr/bin/env python3
"""Live oracle of tests/io/test_tfrecord.cpp, with the light `tfrecord` package (pip install tfrecord).

    tfrecord_oracle.py write SHARD JSON   writes records with tfrecord.TFRecordWriter and their
                                          features (as example_pb2 parses them back) to JSON
    tfrecord_oracle.py read SHARD JSON    reads SHARD (written by hrnet) with tfrecord's iterator and
                                          example_pb2, and writes the features it finds to JSON

JSON: {"records": [{"offset", "length", "features": {key: {"kind", "hex"|"bits"|"values"}}}]},
bytes as hex, floats as float32 bit patterns. Exit status 77 when the package is missing.
"""
import json
import struct
import sys

try:
    from tfrecord import example_pb2, reader
    from tfrecord.writer import TFRecordWriter
except ImportError as e:  # the C++ test reports itself as skipped
    print(f"tfrecord package not available: {e}")
    sys.exit(77)


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


def describe_shard(path):
    raw = open(path, "rb").read()
    records, offset = [], 0
    for data in reader.tfrecord_iterator(path):
        data = bytes(data)
        (length,) = struct.unpack_from("<Q", raw, offset)
        assert length == len(data), (offset, length, len(data))
        records.append({"offset": offset, "length": length,
                        "features": describe(example_pb2.Example.FromString(data))})
        offset += 16 + length
    assert offset == len(raw), (offset, len(raw))
    return {"records": records}


def write(path):
    w = TFRecordWriter(path)
    for i in range(5):
        w.write({
            "image/encoded": (bytes(range(i, 40 + 37 * i)) , "byte"),
            "image/class/label": (1 + 199 * i, "int"),
            "image/class/text": ([f"class {i}".encode()], "byte"),
            "image/object/bbox/xmin": ([0.1 * k for k in range(i)], "float"),
            "image/object/bbox/ymin": ([0.05 * k for k in range(i)], "float"),
            "image/object/bbox/xmax": ([0.5 + 0.1 * k for k in range(i)], "float"),
            "image/object/bbox/ymax": ([0.45 + 0.1 * k for k in range(i)], "float"),
            "big": ([-(2**63), 2**63 - 1, -i, i * 10**12], "int"),
        })
    w.close()


def main():
    mode, shard, out = sys.argv[1:4]
    if mode == "write":
        write(shard)
    elif mode != "read":
        sys.exit(f"unknown mode {mode}")
    with open(out, "w") as f:
        json.dump(describe_shard(shard), f)


if __name__ == "__main__":
    main()

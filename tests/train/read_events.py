#!/usr/bin/env python3
"""Reads TensorBoard event files with TensorBoard's own reader and prints them as JSON.

usage: read_events.py LOGDIR

Used by tests/train/test_logs.cpp to check hrnet::train::EventWriter against the real reader.
Needs only the `tensorboard` pip package (no TensorFlow). Exits 77 when it is not installed.

Output:
  {"files": [{"name": ..., "events": [{"wall_time", "step", "file_version"?, "values": [[tag, v]]}]}],
   "scalars": {tag: [[step, value, wall_time], ...]},   # legacy EventAccumulator (simple_value)
   "tensors": {tag: [[step, value, wall_time], ...]}}   # plugin accumulator: what the UI serves
Floats that JSON cannot hold are written as the strings "nan", "inf", "-inf".
"""
import json
import math
import os
import sys


def num(x):
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    logdir = sys.argv[1]
    try:
        from tensorboard.backend.event_processing import event_accumulator
        from tensorboard.backend.event_processing import plugin_event_accumulator
        from tensorboard.compat.proto import event_pb2
        from tensorboard.compat.tensorflow_stub import errors
        from tensorboard.compat.tensorflow_stub import pywrap_tensorflow
        from tensorboard.util import tensor_util
    except ImportError as e:
        print("skipped: python package tensorboard not importable (%s); "
              "install it with `python3 -m pip install tensorboard`" % e)
        return 77

    out = {"files": [], "scalars": {}, "tensors": {}}
    # Record by record with the pure-Python TFRecord reader. Its loaders swallow a CRC mismatch
    # as "truncated file", so iterate it directly: any data loss here is an error.
    for name in sorted(os.listdir(logdir)):
        if "tfevents" not in name:
            continue
        reader = pywrap_tensorflow.PyRecordReader_New(os.path.join(logdir, name))
        events = []
        while True:
            try:
                reader.GetNext()
            except errors.OutOfRangeError:
                break
            ev = event_pb2.Event.FromString(reader.record())
            e = {"wall_time": ev.wall_time, "step": ev.step,
                 "values": [[v.tag, num(v.simple_value)] for v in ev.summary.value]}
            if ev.HasField("file_version"):
                e["file_version"] = ev.file_version
            events.append(e)
        out["files"].append({"name": name, "events": events})

    acc = event_accumulator.EventAccumulator(logdir, size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    for tag in acc.Tags()["scalars"]:
        out["scalars"][tag] = [[s.step, num(s.value), s.wall_time] for s in acc.Scalars(tag)]

    pacc = plugin_event_accumulator.EventAccumulator(
        logdir, size_guidance={plugin_event_accumulator.TENSORS: 0})
    pacc.Reload()
    for tag in pacc.Tags()["tensors"]:
        out["tensors"][tag] = [[t.step, num(tensor_util.make_ndarray(t.tensor_proto).item()), t.wall_time]
                               for t in pacc.Tensors(tag)]

    json.dump(out, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Regenerates the committed seed corpora tests/fuzz/corpus/<target>/ (small: a few KB each):
#   - valid files from hrnet's own writers (make_fuzz_seeds: safetensors of every dtype, training
#     checkpoints before and after an Adam step, PNG/JPEG, RLE strings, tf.Examples, TFRecord shards,
#     COCO annotations with polygons, RLE and crowd regions, coco_eval ground truth and results);
#   - the test fixtures (tensors, experiment files, JPEGs, TFRecord shard, coco_eval data, cut down);
#   - make_synthetic's datasets (a COCO keypoint dataset and TFRecord shards, tiny);
#   - hand-made edge cases (empty, truncated, deep nesting, absurd sizes) made below.
# usage: tests/fuzz/make_corpus.sh BUILD_DIR   (a build with make_fuzz_seeds and make_synthetic, e.g. build-cpu)
# The crash files of tests/fuzz/crashes/ are never touched.
set -euo pipefail
build=${1:?usage: make_corpus.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
out=$here/corpus
seeds=$(find "$build" -name make_fuzz_seeds -type f -perm -u+x | head -n 1)
synth=$(find "$build" -name make_synthetic -type f -perm -u+x | head -n 1)
[ -n "$seeds" ] || { echo "make_corpus: no make_fuzz_seeds under $build (cmake --build $build --target make_fuzz_seeds)"; exit 1; }
[ -n "$synth" ] || { echo "make_corpus: no make_synthetic under $build (cmake --build $build --target make_synthetic)"; exit 1; }
py=${HRNET_PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rm -rf "$out"
mkdir -p "$out"
"$seeds" "$out"

# ---- fixtures ----
cp "$src"/tests/fixtures/data/{linear,relu,adam}.safetensors "$out/safetensors/"
mkdir -p "$out/experiment_yaml" "$out/tf_cfg"
cp "$src"/configs/coco/w32_512_adam_lr1e-3.yaml "$src"/configs/crowd_pose/w32_512_adam_lr1e-3_syncbn.yaml \
   "$src"/configs/imagenet/cls_hrnet_w18_small_v1_sgd_lr5e-2_wd1e-4_bs32_x100.yaml "$src"/configs/synthetic/*.yaml \
   "$out/experiment_yaml/"
cp "$src"/configs/imagenet/*.cfg "$src"/configs/synthetic/*.cfg "$out/tf_cfg/"
cp "$src"/tests/data/images/*.jpg "$out/jpeg/"
cp "$src"/tests/io/data/examples.tfrecord "$out/tfrecord/"

# ---- make_synthetic: a 2-image COCO keypoint dataset and 1-image-per-class TFRecord shards ----
"$synth" pose --output "$tmp/pose" --images 2 --val_images 1 --min_size 64 --max_size 64 --max_people 3 --seed 3 >/dev/null
cp "$tmp/pose/annotations/person_keypoints_train2017.json" "$out/coco_annotations/synthetic_train.json"
cp "$tmp/pose/annotations/person_keypoints_val2017.json" "$out/coco_annotations/synthetic_val.json"
cp "$(ls "$tmp"/pose/val2017/*.jpg | head -n 1)" "$out/jpeg/synthetic_64.jpg"
"$synth" cls --output "$tmp/cls" --format tfrecord --classes 2 --images 1 --val_images 1 --train_shards 1 \
  --val_shards 1 --min_size 16 --max_size 16 --quality 50 --seed 3 >/dev/null
cp "$(ls "$tmp"/cls/train-* | head -n 1)" "$out/tfrecord/synthetic_train.tfrecord"

# ---- cut-down fixtures and hand-made edge cases ----
"$py" - "$src" "$out" <<'PY'
import json, os, struct, sys
src, out = sys.argv[1], sys.argv[2]
def put(target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

# the records of the TFRecord fixtures, unframed, as tf.Example inputs
for name in ("examples.tfrecord", "synthetic_train.tfrecord"):
    b = open(os.path.join(out, "tfrecord", name), "rb").read()
    pos, i = 0, 0
    while pos + 12 <= len(b):
        (n,) = struct.unpack_from("<Q", b, pos)
        rec = b[pos + 12: pos + 12 + n]
        if len(rec) <= 4096: put("tf_example", "%s.%d.pb" % (name.split(".")[0], i), rec)
        pos += 16 + n
        i += 1

# coco_eval: three images of random_a, with their annotations and results
gt = json.load(open(os.path.join(src, "tests/eval/data/random_a_gt.json")))
ids = [im["id"] for im in gt["images"][:3]]
gt["images"] = gt["images"][:3]
gt["annotations"] = [a for a in gt["annotations"] if a["image_id"] in ids]
put("coco_ground_truth", "random_a_3_images.json", json.dumps(gt))
res = json.load(open(os.path.join(src, "tests/eval/data/random_a_results.json")))
put("coco_results", "random_a_3_images.json", json.dumps([r for r in res if r["image_id"] in ids][:6]))

deep = "[" * 600 + "]" * 600
for t in ("coco_annotations", "coco_results", "coco_ground_truth"):
    put(t, "empty", b"")
    put(t, "deep_nesting.json", deep)
    put(t, "number_overflow.json", '[{"image_id": 1e999}]')
    put(t, "nan.json", '[NaN]')
put("coco_results", "empty_array.json", "[]")
put("coco_results", "wrong_types.json", '[{"image_id":"1","category_id":1.5,"keypoints":{},"score":null}]')
put("coco_annotations", "huge_image.json", '{"images":[{"id":1,"file_name":"a","height":60000,"width":60000}],"annotations":[],"categories":[]}')
put("coco_annotations", "far_polygon.json", '{"images":[{"id":1,"file_name":"a","height":8,"width":8}],"annotations":[{"id":1,"image_id":1,"iscrowd":0,"num_keypoints":0,"segmentation":[[0,0,1e8,0,1e8,1e8]],"keypoints":[],"bbox":[0,0,1,1],"area":1}],"categories":[]}')
put("coco_ground_truth", "int_ids_out_of_range.json", '{"images":[{"id":9223372036854775808}],"annotations":[],"categories":[{"id":1}]}')

put("safetensors", "huge_header_len.safetensors", struct.pack("<Q", 2**63) + b"{}")
h = b'{"t":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904,0],"data_offsets":[0,0]}}'
put("safetensors", "overflowing_shape.safetensors", struct.pack("<Q", len(h)) + h)
h = b'{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}'
put("safetensors", "offsets_past_end.safetensors", struct.pack("<Q", len(h)) + h + b"\0" * 8)
put("safetensors", "empty", b"")
put("checkpoint", "empty", b"")
h = b'{"__metadata__":{"format":"hrnet-train-checkpoint-v1","epoch":"99999999999999999999","step":"x","seed":"-1"}}'
put("checkpoint", "bad_metadata.safetensors", struct.pack("<Q", len(h)) + h)

for t, ext in (("experiment_yaml", "yaml"), ("tf_cfg", "cfg")):
    put(t, "empty." + ext, b"")
    put(t, "nul." + ext, b"MODEL:\n  NAME: pose_higher_hrnet\x00\n")
put("experiment_yaml", "deep_nesting.yaml", "MODEL: " + "[" * 3000 + "]" * 3000 + "\n")
put("experiment_yaml", "minimal_pose.yaml", "MODEL:\n  NAME: pose_higher_hrnet\n")
put("experiment_yaml", "anchors.yaml", "A: &a [1, 2]\nMODEL: {NAME: cls_hrnet, IMAGE_SIZE: *a}\n")
put("experiment_yaml", "overflow.yaml", "MODEL:\n  NAME: pose_higher_hrnet\n  NUM_JOINTS: 2147483648\nTRAIN:\n  LR: 1e999\n")
put("tf_cfg", "no_sections.cfg", "image_size = 224\n")
put("tf_cfg", "bad_ints.cfg", "[COMMON]\nimage_size = 99999999999\n[NET]\nnum_stages = -1\n")

put("rle", "bad_chars", b"\x08\x00\x08\x00" + b"~~~~")
put("rle", "truncated", b"\x08\x00\x08\x00" + b"0_")
put("rle", "counts_too_long", b"\x02\x00\x02\x00" + b"9999")

put("png", "empty", b"")
put("png", "lying_chunk.png", b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0) + b"\0\0\0\0" + struct.pack(">I", 0x7ffff000) + b"IDAT" + b"\0" * 4)
put("png", "huge_ihdr.png", b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">IIBBBBB", 65535, 65535, 8, 2, 0, 0, 0) + b"\0\0\0\0")
put("jpeg", "empty", b"")
put("jpeg", "huge_sof.jpg", b"\xff\xd8\xff\xc0\x00\x11\x08\xff\xff\xff\xff\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01\xff\xd9")

put("tfrecord", "huge_length.tfrecord", struct.pack("<Q", 2**62) + b"\0" * 8)
put("tf_example", "deep_varint.pb", b"\x0a" + b"\xff" * 12)
PY

# the first half of each seed (truncation is the most common damage)
for dir in "$out"/*/; do
  for f in "$dir"*; do
    case $f in *.half) continue ;; esac
    n=$(stat -c %s "$f")
    [ "$n" -ge 16 ] && head -c $((n / 2)) "$f" > "$f.half"
  done
done
du -sh "$out"/* | sort -k2

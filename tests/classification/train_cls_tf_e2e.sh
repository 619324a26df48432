#!/usr/bin/env bash
# End to end on the CPU with the TF port's command line: make_synthetic cls --format tfrecord
# (4 classes in 2 + 1 shards, one grayscale and one CMYK JPEG), train_cls --net_cfg with the small
# synthetic .cfg. Checks: validation top-1 well above chance (25%); --eval_only on the output
# folder's checkpoint (and --weights FILE) equals the validation of the final epoch; a run of 2
# epochs resumed with --resume_training to 4 ends byte-identical to 4 epochs straight; a corrupt
# record is skipped with a warning naming the shard and offset and counted; a truncated shard stops
# with an error naming the shard and offset; the official command line reads the same shards.
#   train_cls_tf_e2e.sh BIN_DIR SOURCE_DIR
set -euo pipefail
bin=$1
src=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/hrnet_cls_tf_e2e.XXXXXX")
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=2  # a fixed thread count makes CPU runs bit-for-bit repeatable
cfg=$src/configs/synthetic/tf_hrnet_w8_small_64.cfg
fail() { echo "FAIL: $*"; exit 1; }

"$bin/make_synthetic" cls --output "$work/tf" --format tfrecord --classes 4 --images 32 --val_images 8 --seed 3
train() { "$bin/train_cls" --net_cfg "$cfg" --seed 5 --workers 2 --print_freq 100 "$@"; }

train --data_path "$work/tf" --output "$work/a" --max_epochs 4 | tee "$work/a.log" | grep -E "Accuracy@1|epoch .* done|best|labels|recipe|SGD"
grep -q "image/class/label as stored" "$work/a.log" || fail "the log does not state the label convention"
grep -q "(plain momentum" "$work/a.log" || fail "the TF port's optimizer is plain momentum SGD"
best=$(sed -n 's/^best validation top1 \([0-9.]*\)$/\1/p' "$work/a.log")
echo "best top-1: $best% (chance 25%)"
awk -v b="$best" 'BEGIN { exit !(b >= 60) }' || fail "top-1 $best% is not well above chance"

# --eval_only: the latest checkpoint of the output folder, then explicit weights
last=$(grep "Accuracy@1" "$work/a.log" | tail -1)
train --data_path "$work/tf" --output "$work/a" --eval_only | tee "$work/eval.log" | tail -4
[ "$(grep "Accuracy@1" "$work/eval.log")" = "$last" ] || fail "--eval_only differs from the last validation"
train --data_path "$work/tf" --eval_only=True --weights "$work/a/final_state.safetensors" > "$work/eval2.log"
[ "$(grep "Accuracy@1" "$work/eval2.log")" = "$last" ] || fail "--eval_only --weights differs from the last validation"

# --resume_training: 2 epochs, then continue to 4
train --data_path "$work/tf" --output "$work/b" --max_epochs 2 > "$work/b1.log"
train --data_path "$work/tf" --output "$work/b" --max_epochs 4 --resume_training > "$work/b2.log"
grep -q "=> resumed from" "$work/b2.log" || fail "the second run did not resume"
for f in final_state.safetensors checkpoint.safetensors model_best.safetensors; do
  cmp "$work/a/$f" "$work/b/$f" || fail "$f of the resumed run differs from the uninterrupted run"
done

# a corrupt record in a training shard: a warning naming the shard and offset, counted, training goes on
mkdir "$work/bad" && cp "$work/tf"/* "$work/bad/"
shard="$work/bad/train-00000-of-00002"
printf '\xff\xff\xff\xff' | dd of="$shard" bs=1 seek=200 conv=notrunc status=none  # inside the first record's data
train --data_path "$work/bad" --output "$work/c" --max_epochs 1 > "$work/c.log"
grep -q "warning: skipping tfrecord shard '$shard', record at byte offset 0" "$work/c.log" || fail "no warning naming the corrupt record"
# counted: one more than the clean run skipped in its first epoch (nothing, or undecodable images)
base=$(sed -n 's/^=> epoch 0 done.*, \([0-9]*\) images skipped;.*/\1/p' "$work/a.log")
grep -q "=> epoch 0 done.*, $(( ${base:-0} + 1 )) images skipped;" "$work/c.log" || fail "the skipped record is not counted in the epoch log"

# a truncated validation shard: an error naming the shard and the offset of the cut record
vshard="$work/bad/validation-00000-of-00001"
truncate -s -5 "$vshard"
if train --data_path "$work/bad" --output "$work/d" --max_epochs 1 > "$work/d.log" 2>&1; then fail "a truncated shard was accepted"; fi
grep -q "train_cls: error: tfrecord shard '$vshard', record at byte offset [0-9]*" "$work/d.log" || { cat "$work/d.log"; fail "the error does not name the shard and offset"; }

# the official command line on the same shards: label - 1 into 1000 logits
"$bin/train_cls" --cfg "$src/configs/synthetic/cls_hrnet_w18_small_32.yaml" --datadir "$work/tf" --output "$work/e" \
  --max_epochs 1 --seed 5 --workers 2 --print_freq 100 > "$work/e.log"
grep -q "image/class/label - 1, into 1000 logits" "$work/e.log" || fail "the official command line does not state its labels"
grep -q "Accuracy@1" "$work/e.log" || fail "the official command line did not validate on the shards"
echo "train_cls TF-port e2e: ok (best top-1 $best%, eval_only exact, resume byte-identical, bad records handled)"

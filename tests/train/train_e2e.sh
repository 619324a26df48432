#!/usr/bin/env bash
# train_pose end to end on a synthetic COCO-layout dataset:
#   1. a 3-epoch run writes checkpoint, final weights, CSV logs and TensorBoard events, and the
#      loss falls over a longer run;
#   2. resume equivalence: 2 epochs + resume to 3 gives bit-identical final weights, and so does
#      a run killed (SIGKILL) at a random moment after its first checkpoint and then resumed;
#   3. bad input: a corrupt JPEG is skipped with a warning naming it and the run goes on; a missing
#      annotation file, malformed JSON or a missing image stop the run with an error naming the file.
# usage: train_e2e.sh BIN_DIR SOURCE_DIR WORK_DIR
set -euo pipefail
bin=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
export OMP_NUM_THREADS=2  # bit-for-bit comparisons need a fixed thread count
cfg=$src/tests/train/data/micro.yaml
fail() { echo "FAIL: $*"; exit 1; }
train() { "$bin/train_pose" --cfg "$cfg" --datadir "$work/data" --seed 7 "$@"; }

"$bin/make_synthetic" pose --out "$work/data" --images 8 --val-images 2 --seed 1 > /dev/null

echo "== 1. a run writes its checkpoint and logs"
train --max_epochs 3 --output "$work/a" > "$work/a.log" 2>&1 || { cat "$work/a.log"; fail "run a"; }
for f in checkpoint.safetensors final_state.safetensors train_log.csv epoch_log.csv; do
  [ -s "$work/a/$f" ] || fail "missing $work/a/$f"
done
ls "$work/a/tb"/events.out.tfevents.* > /dev/null || fail "no TensorBoard event file"
grep -q "img/s" "$work/a.log" || fail "no progress line"
grep -q "ETA" "$work/a.log" || fail "no ETA in the progress line"
[ "$(wc -l < "$work/a/epoch_log.csv")" -eq 4 ] || fail "epoch_log.csv should have a header and 3 rows"
# the mean loss (column "loss") of the last epoch is below the first epoch's
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "loss") c = i } NR == 2 { first = $c } END { last = $c;
  printf "mean loss: first epoch %s, last epoch %s\n", first, last; exit !(last < first) }' "$work/a/epoch_log.csv" ||
  fail "the loss did not fall"

echo "== 2. resume: 2 epochs + 1 resumed epoch == 3 epochs straight"
train --max_epochs 2 --output "$work/b" > "$work/b1.log" 2>&1 || { cat "$work/b1.log"; fail "run b1"; }
train --max_epochs 3 --output "$work/b" --resume > "$work/b2.log" 2>&1 || { cat "$work/b2.log"; fail "run b2"; }
grep -q "resumed from" "$work/b2.log" || fail "run b2 did not resume"
cmp "$work/a/final_state.safetensors" "$work/b/final_state.safetensors" || fail "resumed weights differ"

echo "== 2b. killed at a random moment after the first checkpoint, then resumed"
train --max_epochs 3 --output "$work/c" > "$work/c1.log" 2>&1 &
pid=$!
while [ ! -e "$work/c/checkpoint.safetensors" ] && kill -0 "$pid" 2> /dev/null; do sleep 0.02; done
sleep "0.0$((RANDOM % 10))"
kill -9 "$pid" 2> /dev/null || true
wait "$pid" 2> /dev/null || true
if grep -q "saved final weights" "$work/c1.log"; then echo "(the run finished before the kill)"; else echo "(killed during the run)"; fi
ls "$work/c" | grep -q "\.tmp\." && echo "(a temporary file of the interrupted write is left; it is never read)"
train --max_epochs 3 --output "$work/c" > "$work/c2.log" 2>&1 || { cat "$work/c2.log"; fail "run c2"; }  # AUTO_RESUME
cmp "$work/a/final_state.safetensors" "$work/c/final_state.safetensors" || fail "weights after kill + resume differ"

echo "== 2c. --resume with no checkpoint is an error"
if train --max_epochs 1 --output "$work/none" --resume > "$work/d.log" 2>&1; then fail "--resume without checkpoint passed"; fi
grep -q "no checkpoint at" "$work/d.log" || { cat "$work/d.log"; fail "unclear --resume error"; }

echo "== 4. validation during training; valid_pose and infer_pose on the trained model"
train --max_epochs 1 --output "$work/v" --val_every 1 --val_images 2 > "$work/v.log" 2>&1 || { cat "$work/v.log"; fail "run v"; }
[ -s "$work/v/model_best.safetensors" ] || fail "no model_best.safetensors"
grep -q "Average Precision  (AP) @\[ IoU=0.50:0.95 | area=   all | maxDets= 20 \]" "$work/v.log" || fail "no AP in the log"
"$bin/valid_pose" --cfg "$cfg" --datadir "$work/data" --weights "$work/a/final_state.safetensors" \
  --results "$work/results.json" --json "$work/stats.json" > "$work/valid.log" 2>&1 || { cat "$work/valid.log"; fail "valid_pose"; }
grep -q "images/s" "$work/valid.log" || fail "valid_pose: no progress line"
grep -q "Average Recall     (AR) @\[ IoU=0.50:0.95 | area= large | maxDets= 20 \]" "$work/valid.log" || fail "valid_pose: no stats"
grep -q '"AP"' "$work/stats.json" || fail "valid_pose: no stats JSON"
[ -s "$work/results.json" ] || fail "valid_pose: no results JSON"
img=$(ls "$work/data/val2017" | head -1)
"$bin/infer_pose" --cfg "$cfg" --weights "$work/a/checkpoint.safetensors" --image "$work/data/val2017/$img" \
  --out "$work/pose.png" --json "$work/pose.json" > "$work/infer.log" 2>&1 || { cat "$work/infer.log"; fail "infer_pose"; }
[ "$(head -c 8 "$work/pose.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "infer_pose: no PNG"
grep -q '^\[' "$work/pose.json" || fail "infer_pose: no JSON array"

echo "== 3. bad input"
cp -r "$work/data" "$work/bad"
victim=$(ls "$work/bad/train2017" | head -1)
head -c 600 "$work/data/train2017/$victim" > "$work/bad/train2017/$victim"
"$bin/train_pose" --cfg "$cfg" --datadir "$work/bad" --max_epochs 1 --output "$work/e" > "$work/e.log" 2>&1 || { cat "$work/e.log"; fail "corrupt image stopped the run"; }
grep -q "warning: skipping .*$victim" "$work/e.log" || { cat "$work/e.log"; fail "no warning naming $victim"; }
grep -q "1 unreadable images were skipped" "$work/e.log" || fail "skipped images not counted"
expect_error() {  # expect_error NAME PATTERN: the run fails and stderr matches
  local name=$1 pattern=$2
  if "$bin/train_pose" --cfg "$cfg" --datadir "$work/$name" --max_epochs 1 --output "$work/o_$name" > "$work/$name.log" 2>&1; then
    fail "$name: the run should have failed"
  fi
  grep -q -- "$pattern" "$work/$name.log" || { cat "$work/$name.log"; fail "$name: error does not match '$pattern'"; }
}
cp -r "$work/data" "$work/noann" && rm "$work/noann/annotations/person_keypoints_train2017.json"
expect_error noann "person_keypoints_train2017.json"
cp -r "$work/data" "$work/badjson" && echo '{"images": [' > "$work/badjson/annotations/person_keypoints_train2017.json"
expect_error badjson "person_keypoints_train2017.json"
cp -r "$work/data" "$work/noimg" && rm "$work/noimg/train2017/$victim"
expect_error noimg "$victim"
for flag in --amp --dist "--device cuda --amp"; do
  # shellcheck disable=SC2086
  if "$bin/train_pose" --cfg "$cfg" --datadir "$work/data" $flag > "$work/flag.log" 2>&1; then fail "$flag should fail clearly"; fi
  grep -q "CUDA backend" "$work/flag.log" || { cat "$work/flag.log"; fail "$flag: unclear error"; }
done
# train_pose --device cuda: trains on a GPU (one epoch, loss logged); without one, a clear error.
if "$bin/train_pose" --cfg "$cfg" --datadir "$work/data" --device cuda --max_epochs 1 --output "$work/cuda" \
    > "$work/tcuda.log" 2>&1; then
  [ -s "$work/cuda/final_state.safetensors" ] || { cat "$work/tcuda.log"; fail "train_pose --device cuda: no weights"; }
  grep -q "mean loss" "$work/tcuda.log" || { cat "$work/tcuda.log"; fail "train_pose --device cuda: no epoch line"; }
else
  grep -q "no CUDA device is visible\|built without CUDA" "$work/tcuda.log" ||
    { cat "$work/tcuda.log"; fail "train_pose --device cuda: unclear error"; }
fi
# valid_pose --device cuda: evaluates on a GPU; without one (or without CUDA) a clear error, not a crash.
if "$bin/valid_pose" --cfg "$cfg" --datadir "$work/data" --weights "$work/a/final_state.safetensors" --device cuda \
    > "$work/vcuda.log" 2>&1; then
  grep -q "Average Recall" "$work/vcuda.log" || { cat "$work/vcuda.log"; fail "valid_pose --device cuda: no stats"; }
else
  grep -q "no CUDA device is visible\|built without CUDA" "$work/vcuda.log" ||
    { cat "$work/vcuda.log"; fail "valid_pose --device cuda: unclear error"; }
fi
echo "PASS"

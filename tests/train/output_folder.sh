#!/usr/bin/env bash
# The output folder of a training run (issue 18, "nothing lost"), with train_cls on a tiny TFRecord
# dataset (about 25 s per epoch on 2 cores):
#   1. an output folder that cannot be created (its parent is a file) is a clear error before training;
#   2. an output folder that cannot be written (read-only) is a clear error before training (needs a
#      non-root user, or root allowed to mount a read-only tmpfs; skipped otherwise);
#   3. a full disk during a checkpoint write, simulated by a file-size limit (ulimit -f) on the resumed
#      second epoch: the run ends with exit status 1 and a message naming the file, the checkpoint and
#      best weights of epoch 1 are left intact byte for byte, and no temporary file remains.
# usage: output_folder.sh BIN_DIR SOURCE_DIR WORK_DIR
set -uo pipefail
bin=$1 src=$(cd "$2" && pwd) work=$3
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }
cfg=$src/configs/synthetic/tf_hrnet_w8_small_64.cfg
"$bin/make_synthetic" cls --output "$work/data" --format tfrecord --classes 2 --images 2 --val_images 1 \
  --train_shards 1 --val_shards 1 --min_size 16 --max_size 24 > /dev/null || fail "make_synthetic"
train() { "$bin/train_cls" --net_cfg "$cfg" --data_path "$work/data" --batch_size 2 "$@"; }

# 1. the parent of the output folder is a file
: > "$work/a_file"
train --output "$work/a_file/run" --max_epochs 1 > "$work/1.log" 2>&1
rc=$?
[ $rc -eq 1 ] || { cat "$work/1.log"; fail "1: exit status $rc, expected 1"; }
grep -q "output folder $work/a_file/run cannot be created" "$work/1.log" || { cat "$work/1.log"; fail "1: no clear message"; }
grep -q "epoch 0 done" "$work/1.log" && fail "1: training started"
echo "ok 1: $(grep -o 'output folder.*cannot be created: [^[]*' "$work/1.log")"

# 2. a read-only output folder
mkdir -p "$work/ro"
ro_ready=0
if [ "$(id -u)" -ne 0 ]; then
  chmod a-w "$work/ro" && ro_ready=1
elif mount -t tmpfs -o ro,size=1m tmpfs "$work/ro" 2>/dev/null; then
  ro_ready=2
fi
if [ $ro_ready -gt 0 ]; then
  train --output "$work/ro" --max_epochs 1 > "$work/2.log" 2>&1
  rc=$?
  [ $ro_ready -eq 2 ] && umount "$work/ro"
  [ $ro_ready -eq 1 ] && chmod u+w "$work/ro"
  [ $rc -eq 1 ] || { cat "$work/2.log"; fail "2: exit status $rc, expected 1"; }
  grep -q "output folder $work/ro is not writable" "$work/2.log" || { cat "$work/2.log"; fail "2: no clear message"; }
  grep -q "epoch 0 done" "$work/2.log" && fail "2: training started"
  echo "ok 2: $(grep -o 'output folder.*not writable: [^[]*' "$work/2.log")"
else
  echo "skipped 2: root without permission to mount a read-only tmpfs"
fi

# 3. a full disk while the second epoch's checkpoint is written
run=$work/run
train --output "$run" --max_epochs 1 > "$work/3a.log" 2>&1 || { cat "$work/3a.log"; fail "3: the first epoch failed"; }
[ -f "$run/checkpoint.safetensors" ] || fail "3: no checkpoint after epoch 1"
mkdir -p "$work/before"
cp "$run"/*.safetensors "$work/before/"
# 20 MB per file: the logs fit, the 96 MB checkpoint and the 48 MB weights do not
(ulimit -f 20480 && train --output "$run" --max_epochs 2 --resume_training) > "$work/3b.log" 2>&1
rc=$?
[ $rc -eq 1 ] || { cat "$work/3b.log"; fail "3: exit status $rc, expected 1 (>= 128: killed by a signal)"; }
grep -q "File too large" "$work/3b.log" || { cat "$work/3b.log"; fail "3: no 'File too large' in the message"; }
grep -q "\.safetensors" "$work/3b.log" || { cat "$work/3b.log"; fail "3: the message does not name the file"; }
for f in "$work"/before/*.safetensors; do
  cmp -s "$f" "$run/$(basename "$f")" || fail "3: $(basename "$f") was changed or lost"
done
left=$(find "$run" -name '*.tmp.*')
[ -z "$left" ] || fail "3: temporary files left behind: $left"
echo "ok 3: $(grep -m1 -o '[^ ]*\.safetensors: write to .*File too large' "$work/3b.log" | cut -c1-200)"
echo "output folder checks passed"

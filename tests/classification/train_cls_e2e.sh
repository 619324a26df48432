#!/usr/bin/env bash
# End to end on the CPU: make_synthetic cls (4 classes, ImageFolder layout, one grayscale and one
# CMYK JPEG), train_cls with the small synthetic config; checks that validation top-1 rises well
# above chance (25%), that --testModel reproduces the last validation, and that a run stopped after
# 2 epochs and resumed to 4 writes byte-identical weights and checkpoint to an uninterrupted 4-epoch run.
#   train_cls_e2e.sh BIN_DIR SOURCE_DIR
set -euo pipefail
bin=$1
src=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/hrnet_cls_e2e.XXXXXX")
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=2  # a fixed thread count makes CPU runs bit-for-bit repeatable
cfg=$src/configs/synthetic/cls_hrnet_w18_small_32.yaml

"$bin/make_synthetic" cls --output "$work/data" --format folder --classes 4 --images 32 --val_images 8 --seed 3
train() { "$bin/train_cls" --cfg "$cfg" --datadir "$work/data" --seed 5 --print_freq 100 "$@"; }

train --output "$work/a" --max_epochs 4 | tee "$work/a.log" | grep -E "Accuracy@1|epoch .* done|best"
best=$(sed -n 's/^best validation top1 \([0-9.]*\)$/\1/p' "$work/a.log")
echo "best top-1: $best% (chance 25%)"
awk -v b="$best" 'BEGIN { exit !(b >= 60) }' || { echo "FAIL: top-1 $best% is not well above chance"; exit 1; }

# --testModel on the final weights equals the validation after the last epoch
last=$(grep "Accuracy@1" "$work/a.log" | tail -1)
train --testModel "$work/a/final_state.safetensors" | tee "$work/eval.log" | tail -4
[ "$(grep "Accuracy@1" "$work/eval.log")" = "$last" ] || { echo "FAIL: --testModel differs from the last validation"; exit 1; }

# resume: 2 epochs, then continue to 4 (TRAIN.RESUME: true picks the checkpoint up)
train --output "$work/b" --max_epochs 2 > "$work/b1.log"
train --output "$work/b" --max_epochs 4 > "$work/b2.log"
grep -q "=> resumed from" "$work/b2.log" || { echo "FAIL: the second run did not resume"; exit 1; }
for f in final_state.safetensors checkpoint.safetensors model_best.safetensors; do
  cmp "$work/a/$f" "$work/b/$f" || { echo "FAIL: $f of the resumed run differs from the uninterrupted run"; exit 1; }
done
# the options of both recipes: the fast decode and a per-step schedule run and say so; bad values name the flag
train --output "$work/c" --max_epochs 1 --decode fast --lr_schedule cosine --warmup_epochs 0.5 > "$work/c.log"
grep -q "training decodes the crop at a reduced DCT scale (--decode fast)" "$work/c.log" || { echo "FAIL: --decode fast not in effect"; exit 1; }
grep -q "cosine decay to 0 per step, linear warmup over 0.5 epochs" "$work/c.log" || { echo "FAIL: the schedule options are not in effect"; exit 1; }
grep -q "Accuracy@1" "$work/c.log" || { echo "FAIL: the fast-decode run did not validate"; exit 1; }
expect_error() {
  local phrase=$1
  shift
  if "$bin/train_cls" "$@" > "$work/err.log" 2>&1; then echo "FAIL: train_cls $* should have failed"; exit 1; fi
  grep -q -F -- "$phrase" "$work/err.log" || { cat "$work/err.log"; echo "FAIL: no '$phrase' in the error"; exit 1; }
}
expect_error "--decode must be exact or fast, got 'quick'" --cfg "$cfg" --datadir "$work/data" --decode quick
expect_error "--lr_schedule must be step or cosine, got 'linear'" --cfg "$cfg" --datadir "$work/data" --lr_schedule linear
expect_error "not both" --cfg "$cfg" --net_cfg "$src/configs/synthetic/tf_hrnet_w8_small_64.cfg" --datadir "$work/data"
expect_error "--dist / --enbl_multi_gpu: multi-GPU data parallel training is not implemented yet" --cfg "$cfg" --datadir "$work/data" --enbl_multi_gpu
echo "train_cls e2e: ok (best top-1 $best%, resume byte-identical)"

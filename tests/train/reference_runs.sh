#!/usr/bin/env bash
# Behaviour check for refactorings of the training code (not a ctest entry: about 4 minutes on 2
# cores). Trains the README's small config (2 epochs with validation, then resumed to 3) and the
# official W32-512 config (1 epoch, batch 2) on a 16-image synthetic set, one thread, fixed seeds.
# Run this one copy of the script (its configs/ and data) with the binaries before and after a
# change (the config's path is recorded in checkpoints), then compare_runs.py BEFORE AFTER: the
# checkpoints and weights must be byte-identical and the logs equal except for timings.
# usage: reference_runs.sh BIN_DIR OUT_DIR
set -euo pipefail
bin=$(cd "$1" && pwd) out=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out" && out=$(cd "$out" && pwd)
export OMP_NUM_THREADS=1
data=$out/../reference_runs_data
[ -d "$data" ] || "$bin/make_synthetic" pose --out "$data" --images 16 --seed 3 > /dev/null
w16=(--cfg "$src/configs/synthetic/higher_hrnet_w16_256.yaml" --datadir "$data" --output "$out/w16" --seed 5 --val_every 1 --print_freq 2)
"$bin/train_pose" "${w16[@]}" --max_epochs 2 > "$out/w16.log" 2>&1
"$bin/train_pose" "${w16[@]}" --max_epochs 3 --resume > "$out/w16_resume.log" 2>&1
"$bin/train_pose" --cfg "$src/configs/coco/w32_512_adam_lr1e-3.yaml" --datadir "$data" --output "$out/w32" --seed 7 \
    --max_epochs 1 --batch 2 --print_freq 1 --workers 1 > "$out/w32.log" 2>&1
echo "reference runs written to $out"

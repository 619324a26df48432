#!/usr/bin/env bash
# The release programs on hostile files (issue 18): each must fail with a clear message and a
# normal exit status, never a signal. Before the fix, 200 KB of nested brackets overflowed the
# stack of hrnet_forward --weights and coco_eval --dt (nlohmann's recursive dump() in a message).
# usage: hostile_inputs.sh WORK_DIR SOURCE_DIR HRNET_FORWARD COCO_EVAL [TRAIN_DEMO...]
set -uo pipefail
work=$1 src=$2 forward=$3 coco_eval=$4
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }

brackets() { head -c "$1" /dev/zero | tr '\0' "$2"; }  # N copies of one character

# expect_failure PHRASE PROGRAM ARGS...: exit status 1..125 (not a signal, not success), PHRASE in the output
expect_failure() {
  local phrase=$1
  shift
  "$@" > "$work/out.log" 2>&1
  local rc=$?
  [ "$rc" -ne 0 ] || { cat "$work/out.log"; fail "$(basename "$1"): succeeded on a hostile file"; }
  [ "$rc" -lt 126 ] || { cat "$work/out.log"; fail "$(basename "$1"): exit status $rc (a signal: crashed)"; }
  grep -q -F -- "$phrase" "$work/out.log" || { cat "$work/out.log"; fail "$(basename "$1"): no '$phrase' in the output"; }
  echo "ok: $(basename "$1") exits with $rc: $(grep -F -- "$phrase" "$work/out.log" | head -c 200)"
}

# a safetensors file whose header is {"t": [[[ ... ]]]} nested 100000 deep (200 KB)
header="{\"t\":$(brackets 100000 '[')$(brackets 100000 ']')}"
n=${#header}
{
  for i in 0 1 2 3 4 5 6 7; do printf "\\$(printf '%03o' $(((n >> (8 * i)) & 255)))"; done
  printf '%s' "$header"
} > "$work/deep.safetensors"
[ "$(stat -c %s "$work/deep.safetensors")" -eq $((n + 8)) ] || fail "could not write deep.safetensors"
expect_failure "$work/deep.safetensors: header is not valid JSON: nesting deeper than 512 levels" \
  "$forward" --cfg "$src/configs/coco/w32_512_adam_lr1e-3.yaml" --weights "$work/deep.safetensors"

# COCO results whose image_id is nested 100000 deep, and a ground truth with a nested image id
printf '[{"image_id": %s%s, "category_id": 1}]' "$(brackets 100000 '[')" "$(brackets 100000 ']')" > "$work/deep_results.json"
expect_failure "malformed JSON in results file $work/deep_results.json: nesting deeper than 512 levels" \
  "$coco_eval" --gt "$src/tests/eval/data/random_a_gt.json" --dt "$work/deep_results.json"
printf '{"images": [{"id": %s%s}], "categories": [], "annotations": []}' "$(brackets 100000 '[')" "$(brackets 100000 ']')" > "$work/deep_gt.json"
expect_failure "malformed JSON in ground-truth file $work/deep_gt.json: nesting deeper than 512 levels" \
  "$coco_eval" --gt "$work/deep_gt.json" --dt "$src/tests/eval/data/random_a_results.json"

# an experiment file with INT_MAX + 1 (std::stoi used to throw: "error: stoi")
sed 's/NUM_JOINTS: 17/NUM_JOINTS: 2147483648/' "$src/configs/coco/w32_512_adam_lr1e-3.yaml" > "$work/big.yaml"
expect_failure "$work/big.yaml: key 'DATASET.NUM_JOINTS' must be an integer, got '2147483648': out of range" \
  "$forward" --cfg "$work/big.yaml" --summary
echo "all hostile inputs rejected cleanly"

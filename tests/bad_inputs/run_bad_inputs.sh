#!/usr/bin/env bash
# The bad-input corpus (issue 18): every program of hrnet on bad invocations and bad files, from the
# table cases.txt. For each case: the program must not crash (no exit status >= 126, i.e. no
# signal and no core dump), must exit with the expected status, must print the expected fragment
# (which names the file or the flag), and must leave no file behind in the case's output folder.
# usage: run_bad_inputs.sh WORK_DIR SOURCE_DIR PROGRAM_PATH...   (programs by path; their base name
#        is the table's first column; rows of a program not given are reported as skipped)
set -uo pipefail
work=$1 src=$(cd "$2" && pwd)
shift 2
declare -A prog
for p in "$@"; do prog[$(basename "$p")]=$p; done
rm -rf "$work" && mkdir -p "$work/files"
F=$work/files

# ---- the bad files the table refers to as @NAME@ ----
brackets() { head -c "$1" /dev/zero | tr '\0' "$2"; }
u64le() { local n=$1 i; for i in 0 1 2 3 4 5 6 7; do printf "\\$(printf '%03o' $(((n >> (8 * i)) & 255)))"; done; }
: > "$F/empty.json"
printf '{"images": [' > "$F/truncated.json"
printf 'this is not JSON' > "$F/not_json.json"
printf '[%s%s]' "$(brackets 100000 '[')" "$(brackets 100000 ']')" > "$F/deep.json"
printf '[{"image_id": 1e999, "category_id": 1, "keypoints": [], "score": 1}]' > "$F/overflow_results.json"
printf '[{"image_id": 1, "category_id": 1, "keypoints": [1, 2], "score": 1}]' > "$F/short_keypoints.json"
printf '{"images": [{"id": 1, "height": 8, "width": 8}], "annotations": [], "categories": [{"id": 1}]}' > "$F/small_gt.json"
mkdir -p "$F/a_folder.json"
: > "$F/empty.safetensors"
{ u64le 1000000; printf '{"t":'; } > "$F/truncated.safetensors"
{ u64le 4611686018427387904; printf '{}'; } > "$F/huge_header.safetensors"
header="{\"t\":$(brackets 100000 '[')$(brackets 100000 ']')}"
{ u64le ${#header}; printf '%s' "$header"; } > "$F/deep.safetensors"
printf 'not an image' > "$F/garbage.jpg"
: > "$F/empty.jpg"
printf '\xff\xd8\xff\xc0\x00\x11\x08\xff\xff\xff\xff\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01\xff\xd9' > "$F/huge.jpg"
printf 'MODEL: [unclosed\n' > "$F/malformed.yaml"
printf 'MODEL:\n  NAME: resnet\n' > "$F/unknown_model.yaml"
sed 's/NUM_JOINTS: 17/NUM_JOINTS: 2147483648/' "$src/configs/coco/w32_512_adam_lr1e-3.yaml" > "$F/int_overflow.yaml"
{ cat "$src/configs/synthetic/higher_hrnet_w16_256.yaml"; printf '\nTRAIN_TYPO:\n  LR: 0.1\n'; } > "$F/unknown_key.yaml"
sed 's/^\( *\)LR: .*/\1LR: fast/' "$src/configs/synthetic/higher_hrnet_w16_256.yaml" > "$F/bad_lr.yaml"
printf '[COMMON]\nimage_size = not_a_number\n' > "$F/bad.cfg"
# a COCO-layout dataset whose annotation file is malformed, one whose file is missing
mkdir -p "$F/bad_dataset/annotations" "$F/bad_dataset/train2017" "$F/bad_dataset/val2017" "$F/no_annotations/train2017"
printf '{"images": [{"id": "one"}], "annotations": [], "categories": []}' > "$F/bad_dataset/annotations/person_keypoints_train2017.json"
cp "$F/bad_dataset/annotations/person_keypoints_train2017.json" "$F/bad_dataset/annotations/person_keypoints_val2017.json"
mkdir -p "$F/empty_dir"
# a TFRecord dataset with one corrupt shard
mkdir -p "$F/bad_tfrecord"
printf 'garbage that is not a record' > "$F/bad_tfrecord/train-00000-of-00001"
cp "$F/bad_tfrecord/train-00000-of-00001" "$F/bad_tfrecord/validation-00000-of-00001"

pass=0 failed=0 skipped=0 n=0
while IFS= read -r line || [ -n "$line" ]; do
  case $line in '' | '#'*) continue ;; esac
  n=$((n + 1))
  IFS='|' read -r p args want_rc want_msg <<< "$line"
  p=$(echo "$p" | xargs) want_rc=$(echo "$want_rc" | xargs)
  want_msg=$(echo "$want_msg" | sed 's/^ *//; s/ *$//')
  if [ -z "${prog[$p]:-}" ]; then
    echo "skip: $p (not built): $args"
    skipped=$((skipped + 1))
    continue
  fi
  out=$work/case$n
  mkdir -p "$out"
  expand() { local s=$1; s=${s//@F@/$F}; s=${s//@OUT@/$out}; s=${s//@SRC@/$src}; printf '%s' "$s"; }
  read -ra argv <<< "$(expand "$args")"
  want_msg=$(expand "$want_msg")
  (cd "$out" && "${prog[$p]}" "${argv[@]}") > "$work/case$n.log" 2>&1
  rc=$?
  problem=""
  if [ "$rc" -ge 126 ]; then problem="exit status $rc (a crash or a signal)"
  elif [ "$rc" != "$want_rc" ]; then problem="exit status $rc, expected $want_rc"
  elif ! grep -q -F -- "$want_msg" "$work/case$n.log"; then problem="no '$want_msg' in the output"
  else
    left=$(find "$out" -type f | head -n 5)
    [ -z "$left" ] || problem="files left behind: $left"
  fi
  if [ -n "$problem" ]; then
    echo "FAIL: case $n: $p $(expand "$args"): $problem"
    sed 's/^/    | /' "$work/case$n.log" | head -n 20
    failed=$((failed + 1))
  else
    echo "ok: case $n: $p (exit $rc): $(grep -F -- "$want_msg" "$work/case$n.log" | head -n 1 | cut -c1-160)"
    pass=$((pass + 1))
  fi
done < "$(dirname "$0")/cases.txt"
echo "bad inputs: $pass passed, $failed failed, $skipped skipped (programs not built)"
[ "$failed" -eq 0 ] && [ "$pass" -gt 0 ] && echo "all bad inputs rejected cleanly"
[ "$failed" -eq 0 ] && [ "$pass" -gt 0 ]

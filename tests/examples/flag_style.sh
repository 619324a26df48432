#!/usr/bin/env bash
# One flag style for every program: each --help shows only snake_case names (kebab-case spellings
# and --out are mentioned at most on one note line), and the old spellings still reach the same
# options: train_demo writes identical weights with --out and --output, and the pose programs name
# an option typed in kebab-case in their errors instead of calling it unknown.
# usage: flag_style.sh WORK_DIR PROGRAM...
set -uo pipefail
work=$1
shift
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }
declare -A bin
for p in "$@"; do bin[$(basename "$p")]=$p; done

for name in "${!bin[@]}"; do
  "${bin[$name]}" --help > "$work/$name.help" 2>&1 || fail "$name --help exited with $?"
  grep -q "usage: $name" "$work/$name.help" || fail "$name --help: no usage line"
  # the note line about accepted spellings is the one place an alias may appear
  stale=$(grep -v -e "kebab-case" -e "is accepted for" "$work/$name.help" | grep -o -E -- "--[a-z0-9]+-[a-z0-9-]+|--out\b" | sort -u)
  [ -z "$stale" ] || fail "$name --help shows non-primary flag names: $stale"
done

# expect_error NAME PHRASE ARGS...: the program fails and stderr names the option as typed
expect_error() {
  local name=$1 phrase=$2
  shift 2
  if "${bin[$name]}" "$@" > "$work/err.log" 2>&1; then fail "$name $*: should have failed"; fi
  grep -q -F -- "$phrase" "$work/err.log" || { cat "$work/err.log"; fail "$name $*: no '$phrase' in the error"; }
}
if [ -n "${bin[valid_pose]:-}" ]; then
  for f in --max-images --max_images; do expect_error valid_pose "$f needs an integer >= 1, got '0'" $f 0; done
  expect_error valid_pose "--no-flip is a switch" --no-flip=yes
  expect_error valid_pose "--no_flip is a switch" --no_flip=yes
fi
if [ -n "${bin[infer_pose]:-}" ]; then
  for f in --min-score --min_score; do expect_error infer_pose "$f needs a number, got 'x'" $f x; done
  for f in --out --output; do expect_error infer_pose "$f needs a value" $f; done
fi
if [ -n "${bin[train_pose]:-}" ]; then
  for f in --max-epochs --max_epochs --print-freq --print_freq; do expect_error train_pose "$f needs an integer" $f x; done
fi
if [ -n "${bin[bench_group]:-}" ]; then
  for f in --save-maps --save_maps; do expect_error bench_group "$f needs a value" $f; done
fi
if [ -n "${bin[train_demo]:-}" ]; then
  export OMP_NUM_THREADS=1
  "${bin[train_demo]}" --steps 2 --batch 2 --size 16 --seed 3 --out "$work/a" > "$work/a.log" 2>&1 || { cat "$work/a.log"; fail "train_demo --out"; }
  "${bin[train_demo]}" --steps 2 --batch 2 --size 16 --seed 3 --output "$work/b" > "$work/b.log" 2>&1 || { cat "$work/b.log"; fail "train_demo --output"; }
  cmp "$work/a/tiny_hrnet.safetensors" "$work/b/tiny_hrnet.safetensors" || fail "train_demo: --out and --output runs differ"
  expect_error train_demo "--size must be a multiple of 8" --size 20
fi
echo "PASS (${#bin[@]} programs)"

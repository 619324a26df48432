#!/usr/bin/env bash
# gpu_check.sh BUILD_DIR OUT_DIR [--quick]
#
# The first thing to run on a GPU: every CUDA test program, compute-sanitizer memcheck and racecheck
# on the small ones, bench_kernels (against the device's copy bandwidth, with the PyTorch rows when
# torch is importable) and bench_train in fp32 on HigherHRNet-W32 and HRNet-W32-C (with the PyTorch
# comparison when torch is importable). Logs and JSON files go to OUT_DIR; OUT_DIR/gpu_check.json
# summarises them. Each step has a time limit, so the whole script ends within about 8 minutes on an
# H100 (--quick: fewer benchmark samples, about 4 minutes).
#
# It runs on a build carried to another machine (one that has the NVIDIA driver and the CUDA
# libraries but none of the build machine's -dev packages):
#   ../shared/scripts/bundle-libs.sh BUILD_DIR   # on the build machine: copies the other .so files
#   benchmarks/gpu_check.sh BUILD_DIR OUT_DIR    # on the GPU machine, from the repository root
# The test programs find the repository's fixtures through HRNET_SOURCE_DIR / HRNET_FIXTURE_DIR,
# which this script sets to the repository it lives in; the CUDA libraries come from
# BUILD_DIR/lib, the system, or Python's NVIDIA wheels (found through python3 when present).
# Exit status: 0 when every step that ran passed, 1 otherwise; a step that could not run (no GPU,
# no compute-sanitizer, no torch) is reported as skipped with the reason.
set -uo pipefail
usage() { echo "usage: benchmarks/gpu_check.sh BUILD_DIR OUT_DIR [--quick]"; }
[ $# -ge 2 ] || { usage; exit 2; }
build=$(cd "$1" && pwd) || { echo "gpu_check: no build directory '$1'"; exit 2; }
mkdir -p "$2" || { echo "gpu_check: cannot create '$2'"; exit 2; }
out=$(cd "$2" && pwd)
quick=0
[ "${3:-}" = "--quick" ] && quick=1
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=$build/bin
[ -x "$bin/test_cuda" ] || { echo "gpu_check: $bin/test_cuda not found: build with CUDA (cmake --preset release) first"; exit 2; }

export HRNET_SOURCE_DIR=$repo HRNET_FIXTURE_DIR=$repo/tests/fixtures/data
# CUDA libraries: the bundle first, then Python's NVIDIA wheels, then whatever the system has.
libs=$build/lib
if command -v python3 > /dev/null; then
  wheel_libs=$(python3 -c 'import glob,os,nvidia; print(":".join(sorted({os.path.dirname(p) for d in nvidia.__path__ for p in glob.glob(d+"/*/lib/*.so*")})))' 2> /dev/null || true)
  [ -n "$wheel_libs" ] && libs=$libs:$wheel_libs
fi
export LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}

steps=$out/steps.tsv  # name, status, seconds, detail (tab-separated), turned into JSON at the end
: > "$steps"
failed=0
record() {  # record NAME STATUS SECONDS DETAIL
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4//$'\t'/ }" >> "$steps"
  printf 'gpu_check: %-28s %-8s %4ss  %s\n' "$1" "$2" "$3" "$4"
  [ "$2" = failed ] && failed=1
  return 0
}
# run NAME LIMIT_S LOG CMD...: runs CMD with a time limit, output to LOG; sets rc and secs.
run() {
  local name=$1 limit=$2 log=$3
  shift 3
  local t0=$SECONDS
  timeout --kill-after=10 "$limit" "$@" > "$log" 2>&1
  rc=$?
  secs=$((SECONDS - t0))
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && echo "gpu_check: $name stopped after its limit of ${limit}s" >> "$log"
  return 0
}

# ---- 0. the device ----------------------------------------------------------------------------------
if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > "$out/device.txt" 2>&1
else
  echo "nvidia-smi not found" > "$out/device.txt"
fi
lscpu | grep -E 'Model name|^CPU\(s\)' > "$out/host.txt" 2>&1 || true
run runtime 60 "$out/test_cuda.log" "$bin/test_cuda"
if [ $rc -eq 77 ]; then
  record runtime skipped $secs "$(tail -1 "$out/test_cuda.log")"
  echo "gpu_check: no usable GPU here; nothing else to run"
elif [ $rc -ne 0 ]; then
  record runtime failed $secs "exit $rc: $(tail -1 "$out/test_cuda.log")"
else
  record runtime passed $secs "$(head -1 "$out/device.txt")"
fi
gpu_ok=$([ $rc -eq 0 ] && echo 1 || echo 0)

# ---- 1. the CUDA test programs ---------------------------------------------------------------------
catch_summary() {  # the last Catch2 summary line of a log
  grep -E '^(All tests passed|test cases:)' "$1" | tail -1
}
if [ "$gpu_ok" = 1 ]; then
  for t in "$bin"/test_cuda_*; do
    [ -x "$t" ] || continue
    n=$(basename "$t")
    run "$n" 240 "$out/$n.log" "$t" --durations yes
    s=$(catch_summary "$out/$n.log")
    skipped=$(grep -c '^skipped: ' "$out/$n.log")
    if [ $rc -eq 0 ]; then record "$n" passed $secs "$s; $skipped cases printed skipped"
    else record "$n" failed $secs "exit $rc; ${s:-no summary}; see $n.log"; fi
  done
fi

# ---- 2. compute-sanitizer on the small programs ----------------------------------------------------
sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2> /dev/null | head -1)
if [ "$gpu_ok" = 1 ] && [ -n "$sanitizer" ]; then
  for tool in memcheck racecheck; do
    for n in test_cuda_elementwise test_cuda_loss_optim; do
      [ -x "$bin/$n" ] || continue
      # racecheck (shared-memory hazards, much slower) on the GPU cases only
      filter=()
      [ $tool = racecheck ] && filter=("[cuda]")
      run "$tool:$n" 150 "$out/$tool-$n.log" "$sanitizer" --tool $tool --error-exitcode 99 --print-limit 20 \
        "$bin/$n" "${filter[@]}"
      summary=$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/$tool-$n.log" | tail -1)
      if [ $rc -eq 0 ]; then record "$tool:$n" passed $secs "${summary:-no errors}"
      elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then record "$tool:$n" failed $secs "time limit reached (${summary:-no summary yet})"
      else record "$tool:$n" failed $secs "exit $rc: ${summary:-see log}"; fi
    done
  done
elif [ "$gpu_ok" = 1 ]; then
  record compute-sanitizer skipped 0 "compute-sanitizer not found"
fi

# ---- 3. bench_kernels ------------------------------------------------------------------------------
have_torch=0
command -v python3 > /dev/null && python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2> /dev/null && have_torch=1
iters=30
[ $quick = 1 ] && iters=8
if [ "$gpu_ok" = 1 ] && [ -x "$bin/bench_kernels" ]; then
  run bench_kernels 200 "$out/bench_kernels.log" "$bin/bench_kernels" --json "$out/bench_kernels.json" --iters $iters
  if [ $rc -eq 0 ]; then record bench_kernels passed $secs "$(grep -m1 -i 'copy' "$out/bench_kernels.log")"
  else record bench_kernels failed $secs "exit $rc; see bench_kernels.log"; fi
  if [ $have_torch = 1 ]; then
    run bench_kernels_torch 200 "$out/bench_kernels_torch.log" python3 "$repo/benchmarks/bench_kernels_torch.py" \
      --json "$out/bench_kernels_torch.json" --iters $iters
    if [ $rc -eq 0 ]; then
      record bench_kernels_torch passed $secs "PyTorch $(python3 -c 'import torch; print(torch.__version__)')"
      python3 "$repo/benchmarks/compare_kernels.py" "$out/bench_kernels.json" "$out/bench_kernels_torch.json" \
        > "$out/compare_kernels.txt" 2>&1 || true
    else record bench_kernels_torch failed $secs "exit $rc; see bench_kernels_torch.log"; fi
  else
    record bench_kernels_torch skipped 0 "torch with CUDA not importable"
  fi
fi

# ---- 4. bench_train, fp32 --------------------------------------------------------------------------
steps_n=10
[ $quick = 1 ] && steps_n=4
if [ "$gpu_ok" = 1 ] && [ -x "$bin/bench_train" ]; then
  for spec in "pose:configs/coco/w32_512_adam_lr1e-3.yaml:16" "cls:configs/imagenet/cls_hrnet_w32_sgd_lr5e-2_wd1e-4_bs32_x100.yaml:64"; do
    IFS=: read -r tag cfg batch <<< "$spec"
    [ -f "$repo/$cfg" ] || { record "bench_train:$tag" skipped 0 "$cfg not in this checkout"; continue; }
    args=(--cfg "$repo/$cfg" --batch "$batch" --steps $steps_n --device cuda)
    if [ $have_torch = 1 ]; then
      run "bench_train:$tag" 240 "$out/bench_train_$tag.log" python3 "$repo/benchmarks/bench_train_torch.py" "${args[@]}" \
        --bench "$bin/bench_train" --json "$out/bench_train_$tag.json"
    else
      run "bench_train:$tag" 240 "$out/bench_train_$tag.log" "$bin/bench_train" "${args[@]}" --json "$out/bench_train_$tag.json"
    fi
    if [ $rc -eq 0 ]; then record "bench_train:$tag" passed $secs "$(grep -iE 'img/s|ratio' "$out/bench_train_$tag.log" | tail -2 | tr '\n' ' ')"
    else record "bench_train:$tag" failed $secs "exit $rc; see bench_train_$tag.log"; fi
  done
fi

# ---- summary ---------------------------------------------------------------------------------------
summary=$out/gpu_check.json
if command -v python3 > /dev/null; then
  python3 - "$out" "$steps" "$summary" "$(git -C "$repo" rev-parse --short HEAD 2> /dev/null || echo unknown)" <<'EOF'
import json, os, sys, datetime
out, steps, summary, commit = sys.argv[1:5]
rows = []
for line in open(steps):
    name, status, secs, detail = (line.rstrip("\n").split("\t") + ["", "", "", ""])[:4]
    rows.append({"step": name, "status": status, "seconds": int(secs or 0), "detail": detail})
def read(name):
    p = os.path.join(out, name)
    return open(p).read().strip() if os.path.exists(p) else None
def load(name):
    p = os.path.join(out, name)
    try:
        return json.load(open(p)) if os.path.exists(p) else None
    except ValueError:
        return None
doc = {
    "what": "benchmarks/gpu_check.sh: CUDA tests, compute-sanitizer, bench_kernels, bench_train fp32",
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "commit": commit,
    "device": read("device.txt"),
    "host": read("host.txt"),
    "steps": rows,
    "passed": sum(r["status"] == "passed" for r in rows),
    "failed": sum(r["status"] == "failed" for r in rows),
    "skipped": sum(r["status"] == "skipped" for r in rows),
    "bench_train": {k: load(f"bench_train_{k}.json") for k in ("pose", "cls")},
    "compare_kernels": read("compare_kernels.txt"),
}
json.dump(doc, open(summary, "w"), indent=1)
EOF
else
  cp "$steps" "$out/gpu_check.tsv"
fi
echo "gpu_check: $(grep -c $'\tpassed\t' "$steps") passed, $(grep -c $'\tfailed\t' "$steps") failed, $(grep -c $'\tskipped\t' "$steps") skipped; summary in $summary"
exit $failed

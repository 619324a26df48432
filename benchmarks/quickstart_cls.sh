#!/usr/bin/env bash
# The README's classification quick start, measured (a benchmark, never a test): make_synthetic cls
# (4 classes, 32 training + 8 validation images per class), train_cls on
# configs/synthetic/cls_hrnet_w18_small_32.yaml for 4 epochs. Writes a JSON with the training wall
# and CPU time, the validation top-1 of every epoch, the CPU model, the thread count and the load.
#
#   benchmarks/quickstart_cls.sh [--bin DIR] [--work DIR] [--json FILE] [--threads N]
#
# Defaults as benchmarks/quickstart_pose.sh (JSON: benchmarks/results/quickstart_cls_cpu_<UTC date>.json).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin= work= json= threads=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "quickstart_cls.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if [[ -z $bin ]]; then
  if [[ -x $root/build/bin/train_cls ]]; then bin=$root/build/bin; else bin=$root/build-cpu/bin; fi
fi
for p in make_synthetic train_cls; do
  [[ -x $bin/$p ]] || { echo "quickstart_cls.sh: $bin/$p not found (build it, or pass --bin)" >&2; exit 2; }
done
cleanup=
if [[ -z $work ]]; then work=$(mktemp -d /tmp/hrnet_quickstart_cls.XXXXXX); cleanup=$work; fi
trap '[[ -n $cleanup ]] && rm -rf "$cleanup"' EXIT
mkdir -p "$work"
[[ -n $json ]] || json=$root/benchmarks/results/quickstart_cls_cpu_$(date -u +%F).json
export OMP_NUM_THREADS=$threads
now() { date +%s.%N; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

"$bin/make_synthetic" cls --output "$work/data" --format folder --classes 4 --images 32 --val_images 8 >&2
load0=$(load)
t0=$(now)
timer=()
[[ -x /usr/bin/time ]] && timer=(/usr/bin/time -f "%U %S" -o "$work/train.cpu")
"${timer[@]}" "$bin/train_cls" --cfg "$root/configs/synthetic/cls_hrnet_w18_small_32.yaml" --datadir "$work/data" \
  --output "$work/out" --max_epochs 4 | tee "$work/train.log" >&2
t1=$(now)

python3 - "$json" "$work" "$t0" "$t1" "$load0" "$(load)" "$threads" \
  "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" "$(nproc)" "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" <<'EOF'
import json, os, re, sys, datetime
out, work, t0, t1, load0, load1, threads, cpu, nproc, commit = sys.argv[1:]
log = open(os.path.join(work, "train.log")).read()
top1 = [float(x) for x in re.findall(r"Accuracy@1 ([0-9.]+)", log)]
best = re.findall(r"best validation top1 ([0-9.]+)", log)
cpu_file = os.path.join(work, "train.cpu")
r = {
    "what": "README classification quick start: make_synthetic cls --format folder --classes 4 --images 32 "
            "--val_images 8; train_cls --cfg configs/synthetic/cls_hrnet_w18_small_32.yaml --max_epochs 4",
    "date_utc": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
    "commit": commit, "cpu": cpu, "cpus": int(nproc), "omp_num_threads": int(threads),
    "load_avg_1_5_15": {"before_training": load0, "after_training": load1},
    "train_wall_s": round(float(t1) - float(t0), 1),
    "train_cpu_user_sys_s": [round(float(x), 1) for x in open(cpu_file).read().split()[-2:]] if os.path.exists(cpu_file) else None,
    "val_top1_by_epoch": top1,
    "best_val_top1": float(best[-1]) if best else None,
    "chance_top1": 25.0,
    "accuracy_lines": [l for l in log.splitlines() if "Accuracy@1" in l or "best validation" in l],
}
json.dump(r, open(out, "w"), indent=1)
print(f"train {r['train_wall_s']} s, top-1 by epoch {top1}, best {r['best_val_top1']} -> {out}")
EOF

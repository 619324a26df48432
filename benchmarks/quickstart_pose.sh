#!/usr/bin/env bash
# The README's quick start, end to end, measured (a benchmark, never a test): make_synthetic pose
# --quickstart, train_pose on configs/synthetic/quickstart_w16_64.yaml, valid_pose on the validation
# split, infer_pose on the README's example image. Writes a JSON with the training wall time, the
# final loss, the ten AP/AR numbers, the people found in the example image, the CPU model, the thread
# count and the machine load before and after, so that the README's claim stays measured.
#
#   benchmarks/quickstart_pose.sh [--bin DIR] [--work DIR] [--json FILE] [--threads N] [--overlay FILE]
#
#   --bin      folder of the programs (default: build/bin, else build-cpu/bin)
#   --work     scratch folder (default: a new temporary folder, removed at the end)
#   --json     result file (default: benchmarks/results/quickstart_pose_cpu_<UTC date>.json)
#   --threads  OMP_NUM_THREADS for the programs (default 2)
#   --overlay  also copy infer_pose's PNG there (the README's picture: docs/images/quickstart_infer.png)
# The commands are the README's, with the output folders under --work (a fresh training, not a
# resumed one). A PyTorch-free run: needs bash, python3 (standard library only) and lscpu.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin= work= json= overlay= threads=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --overlay) overlay=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "quickstart_pose.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if [[ -z $bin ]]; then
  if [[ -x $root/build/bin/train_pose ]]; then bin=$root/build/bin; else bin=$root/build-cpu/bin; fi
fi
for p in make_synthetic train_pose valid_pose infer_pose; do
  [[ -x $bin/$p ]] || { echo "quickstart_pose.sh: $bin/$p not found (build it, or pass --bin)" >&2; exit 2; }
done
cleanup=
if [[ -z $work ]]; then work=$(mktemp -d /tmp/hrnet_quickstart.XXXXXX); cleanup=$work; fi
trap '[[ -n $cleanup ]] && rm -rf "$cleanup"' EXIT
mkdir -p "$work"
[[ -n $json ]] || json=$root/benchmarks/results/quickstart_pose_cpu_$(date -u +%F).json
export OMP_NUM_THREADS=$threads

cfg=$root/configs/synthetic/quickstart_w16_64.yaml
data=$work/data/synthetic
out=$work/output
image=$data/val2017/000000000273.jpg  # the README's example image (validation image 17 of 32)
now() { date +%s.%N; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

echo "== make_synthetic" >&2
t0=$(now)
"$bin/make_synthetic" pose --quickstart --output "$data" --images 256 --val_images 32 | tee "$work/make.log" >&2
t1=$(now)
load_before=$(load)
echo "== train_pose (load $load_before)" >&2
# CPU seconds as well as wall time: on a shared machine the wall time grows with the load, the CPU
# time much less (user + sys over the thread count estimates the wall time on a quiet machine).
timer=()
[[ -x /usr/bin/time ]] && timer=(/usr/bin/time -f "%U %S" -o "$work/train.cpu")
"${timer[@]}" "$bin/train_pose" --cfg "$cfg" --datadir "$data" --output "$out" | tee "$work/train.log" >&2
t2=$(now)
load_after_train=$(load)
echo "== valid_pose" >&2
"$bin/valid_pose" --cfg "$cfg" --datadir "$data" --weights "$out/final_state.safetensors" --json "$work/stats.json" \
  | tee "$work/valid.log" >&2
t3=$(now)
echo "== infer_pose" >&2
"$bin/infer_pose" --cfg "$cfg" --weights "$out/final_state.safetensors" --image "$image" --output "$work/pose.png" \
  --json "$work/pose.json" | tee "$work/infer.log" >&2
t4=$(now)
[[ -z $overlay ]] || cp "$work/pose.png" "$overlay"

python3 - "$json" "$work" "$t0" "$t1" "$t2" "$t3" "$t4" "$load_before" "$load_after_train" "$(load)" "$threads" \
  "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" "$(nproc)" "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  "$image" <<'EOF'
import csv, json, re, sys, datetime, os
(out, work, t0, t1, t2, t3, t4, load0, load1, load2, threads, cpu, nproc, commit, image) = sys.argv[1:]
t0, t1, t2, t3, t4 = map(float, (t0, t1, t2, t3, t4))
epochs = list(csv.DictReader(open(os.path.join(work, "output", "epoch_log.csv"))))
stats = json.load(open(os.path.join(work, "stats.json")))
valid = open(os.path.join(work, "valid.log")).read()
people = json.load(open(os.path.join(work, "pose.json")))
anns = json.load(open(os.path.join(work, "data", "synthetic", "annotations", "person_keypoints_val2017.json")))
name = os.path.basename(image)
img_id = next(i["id"] for i in anns["images"] if i["file_name"] == name)
truth = sum(1 for a in anns["annotations"] if a["image_id"] == img_id and a["num_keypoints"] > 0)
r = {
    "what": "README quick start: make_synthetic pose --quickstart --images 256 --val_images 32; "
            "train_pose --cfg configs/synthetic/quickstart_w16_64.yaml; valid_pose; infer_pose",
    "date_utc": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
    "commit": commit,
    "cpu": cpu, "cpus": int(nproc), "omp_num_threads": int(threads),
    "load_avg_1_5_15": {"before_training": load0, "after_training": load1, "at_end": load2},
    "make_synthetic_s": round(t1 - t0, 2),
    "train_wall_s": round(t2 - t1, 1),
    "train_cpu_user_sys_s": ([round(float(x), 1) for x in open(os.path.join(work, "train.cpu")).read().split()[-2:]]
                             if os.path.exists(os.path.join(work, "train.cpu")) else None),
    "train_epochs": len(epochs),
    "train_steps": sum(int(e["steps"]) for e in epochs),
    "train_img_per_s_by_epoch": [round(float(e["img_per_s"]), 2) for e in epochs],
    "loss_by_epoch": [float(e["loss"]) for e in epochs],
    "final_loss": float(epochs[-1]["loss"]),
    "valid_wall_s": round(t3 - t2, 1),
    "infer_wall_s": round(t4 - t3, 1),
    "valid_stats": stats,
    "valid_lines": [l for l in valid.splitlines() if "Average" in l or "images in" in l],
    "example_image": name, "example_people_found": len(people), "example_people_labelled": truth,
    "example_scores": [round(p["score"], 3) for p in people],
}
ap = stats.get("AP") if isinstance(stats, dict) else None
json.dump(r, open(out, "w"), indent=1)
print(f"train {r['train_wall_s']} s ({r['train_steps']} steps), final loss {r['final_loss']:.5f}, "
      f"AP {ap}, example image: {len(people)} people found, {truth} labelled -> {out}")
EOF

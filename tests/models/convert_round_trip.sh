#!/usr/bin/env bash
# A PyTorch model built like the official code is saved as a .pth training checkpoint, converted
# with examples/tools/convert_pth_to_safetensors.py and loaded strictly by hrnet_forward.
# Exits 77 (reported as skipped) when torch is not installed.
set -euo pipefail
forward=$1 root=$2 work=$3
py=/usr/bin/python3
if ! $py -c "import torch, yaml" 2>/dev/null; then
  echo "skipped: torch/yaml for /usr/bin/python3 not installed (apt-get install python3-torch python3-yaml)"
  exit 77
fi
mkdir -p "$work"
cfg=$root/configs/imagenet/cls_hrnet_w18_small_v1_sgd_lr5e-2_wd1e-4_bs32_x100.yaml
$py - "$root" "$cfg" "$work/model.pth" <<'PY'
import sys, torch
sys.path.insert(0, sys.argv[1] + "/tests/models")
import reference_models as rm
m = rm.build_model(rm.load_config(sys.argv[2]))
torch.save({"epoch": 3, "state_dict": {"module." + k: v for k, v in m.state_dict().items()}}, sys.argv[3])
PY
$py "$root/examples/tools/convert_pth_to_safetensors.py" "$work/model.pth" "$work/model.safetensors"
"$forward" --cfg "$cfg" --weights "$work/model.safetensors" --summary | grep -q "params 13187464"
echo "converted checkpoint loads strictly"

"""Makes tests/pose/data/aggregate_expected.safetensors: HigherHRNet's multi-stage/flip/multi-scale
aggregation (lib/core/inference.py get_multi_stage_outputs + aggregate_results and the final steps
of tools/valid.py, ported with the cfg fields as arguments) run on a fake model.

    /usr/bin/python3 tests/pose/make_aggregate_fixtures.py     (needs torch and numpy)

The fake model and its inputs are defined by formulas that tests/pose/test_inference.cpp
reproduces: per scale s the input is x[c, y, x] = sin(0.3 y + 0.17 x (c + 1) + c) of size
(H_s, W_s), and the model returns two outputs built from shifted, strided copies of the input
(flip-asymmetric, so a wrong flip or channel permutation shows). Stored per case: the final
heatmaps (J, H, W) and tags (J, H, W, T) as per-channel sums (float64) and values at fixed
sampled positions.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
from safetensors_writer import write_safetensors  # noqa: E402

J = 17
COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def make_input(h, w):
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    v = np.sin(0.3 * y + 0.17 * x * (c + 1) + c).astype(np.float32)  # (h, w, 3)
    return torch.from_numpy(np.ascontiguousarray(v.transpose(2, 0, 1)))[None]


def f32(x):
    """A 0-d float32 tensor: keeps the arithmetic in float32 (the C++ twin uses float constants)."""
    return torch.tensor(float(np.float32(x)), dtype=torch.float32)


def fake_model(img):
    """out0 (1, 2J, H/4, W/4): w0[c] * img[c % 3, 4i + c % 4, min(4j + 1 + c % 3, W - 1)] + 0.01 j - 0.003 i + 0.01 c
    out1 (1, J, H/2, W/2): w1[c] * img[(c + 1) % 3, 2i + c % 2, min(2j + c % 2 + 1, W - 1)] - 0.002 j - 0.005 c
    with w0[c] = 0.5 + 0.03 c, w1[c] = 0.7 - 0.02 c, all in float32."""
    _, _, H, W = img.shape
    outs = []
    for n_ch, stride, fn in ((2 * J, 4, 0), (J, 2, 1)):
        h, w = H // stride, W // stride
        out = torch.empty(1, n_ch, h, w)
        i = torch.arange(h)[:, None]
        j = torch.arange(w)[None, :]
        for c in range(n_ch):
            if fn == 0:
                rows = (stride * i + c % 4).expand(h, w)
                cols = torch.clamp(stride * j + 1 + c % 3, max=W - 1).expand(h, w)
                src = img[0, c % 3][rows, cols]
                v = f32(0.5 + 0.03 * c) * src + f32(0.01) * j.float() - f32(0.003) * i.float() + f32(0.01 * c)
            else:
                rows = (stride * i + c % 2).expand(h, w)
                cols = torch.clamp(stride * j + c % 2 + 1, max=W - 1).expand(h, w)
                src = img[0, (c + 1) % 3][rows, cols]
                v = f32(0.7 - 0.02 * c) * src - f32(0.002) * j.float() - f32(0.005 * c)
            out[0, c] = v
        outs.append(out)
    return outs


def get_multi_stage_outputs(model, image, with_flip, project2image, size_projected, with_heatmaps=(True, True),
                            with_ae=(True, False), flip_index=COCO_FLIP):
    heatmaps_avg = 0
    num_heatmaps = 0
    heatmaps = []
    tags = []
    outputs = model(image)
    for i, output in enumerate(outputs):
        if len(outputs) > 1 and i != len(outputs) - 1:
            output = F.interpolate(output, size=(outputs[-1].size(2), outputs[-1].size(3)), mode="bilinear",
                                   align_corners=False)
        offset_feat = J
        if with_heatmaps[i]:
            heatmaps_avg += output[:, :J]
            num_heatmaps += 1
        if with_ae[i]:
            tags.append(output[:, offset_feat:])
    if num_heatmaps > 0:
        heatmaps.append(heatmaps_avg / num_heatmaps)
    if with_flip:
        heatmaps_avg = 0
        num_heatmaps = 0
        outputs_flip = model(torch.flip(image, [3]))
        for i in range(len(outputs_flip)):
            output = outputs_flip[i]
            if len(outputs_flip) > 1 and i != len(outputs_flip) - 1:
                output = F.interpolate(output, size=(outputs_flip[-1].size(2), outputs_flip[-1].size(3)),
                                       mode="bilinear", align_corners=False)
            output = torch.flip(output, [3])
            if with_heatmaps[i]:
                heatmaps_avg += output[:, :J][:, flip_index, :, :]
                num_heatmaps += 1
            if with_ae[i]:
                tags.append(output[:, J:])
                tags[-1] = tags[-1][:, flip_index, :, :]
        heatmaps.append(heatmaps_avg / num_heatmaps)
    if project2image and size_projected:
        heatmaps = [F.interpolate(h, size=(size_projected[1], size_projected[0]), mode="bilinear", align_corners=False)
                    for h in heatmaps]
        tags = [F.interpolate(t, size=(size_projected[1], size_projected[0]), mode="bilinear", align_corners=False)
                for t in tags]
    return heatmaps, tags


def aggregate_results(scale_factor, num_scales, flip, project2image, final_heatmaps, tags_list, heatmaps, tags):
    if scale_factor == 1 or num_scales == 1:
        if final_heatmaps is not None and not project2image:
            tags = [F.interpolate(t, size=(final_heatmaps.size(2), final_heatmaps.size(3)), mode="bilinear",
                                  align_corners=False) for t in tags]
        for t in tags:
            tags_list.append(torch.unsqueeze(t, dim=4))
    heatmaps_avg = (heatmaps[0] + heatmaps[1]) / 2.0 if flip else heatmaps[0]
    if final_heatmaps is None:
        final_heatmaps = heatmaps_avg
    elif project2image:
        final_heatmaps += heatmaps_avg
    else:
        final_heatmaps += F.interpolate(heatmaps_avg, size=(final_heatmaps.size(2), final_heatmaps.size(3)),
                                        mode="bilinear", align_corners=False)
    return final_heatmaps, tags_list


CASES = [
    # name, scales, flip, project2image, base (H, W)
    ("ms_flip_project", [2.0, 1.0, 0.5], True, True, (64, 96)),
    ("ms_flip_noproject", [0.5, 2.0, 1.0], True, False, (64, 96)),
    ("single_noflip", [1.0], False, True, (64, 128)),
    ("single_flip_scale2", [2.0], True, True, (64, 64)),
    ("two_noflip_noproject", [1.0, 1.5], False, False, (64, 64)),
]


def run_case(scales, flip, project, base):
    final, tags_list = None, []
    for s in sorted(scales, reverse=True):
        h, w = int(base[0] * s), int(base[1] * s)
        image = make_input(h, w)
        heatmaps, tags = get_multi_stage_outputs(fake_model, image, flip, project, (base[1], base[0]))
        final, tags_list = aggregate_results(s, len(scales), flip, project, final, tags_list, heatmaps, tags)
    final = final / float(len(scales))
    tags = torch.cat(tags_list, dim=4)
    return final[0].numpy(), tags[0].numpy()  # (J, H, W), (J, H, W, T)


def main():
    tensors = {}
    rng = np.random.default_rng(5)
    for name, scales, flip, project, base in CASES:
        heat, tags = run_case(scales, flip, project, base)
        n_h, n_t = heat.size, tags.size
        hi = np.sort(rng.choice(n_h, 400, replace=False))
        ti = np.sort(rng.choice(n_t, 400, replace=False))
        tensors[name + ".heat_shape"] = np.array(heat.shape, np.int64)
        tensors[name + ".tag_shape"] = np.array(tags.shape, np.int64)
        tensors[name + ".heat_sum"] = heat.astype(np.float64).reshape(J, -1).sum(axis=1)
        tensors[name + ".tag_sum"] = tags.astype(np.float64).reshape(J, -1).sum(axis=1)
        tensors[name + ".heat_idx"] = hi.astype(np.int64)
        tensors[name + ".heat_val"] = heat.reshape(-1)[hi].astype(np.float32)
        tensors[name + ".tag_idx"] = ti.astype(np.int64)
        tensors[name + ".tag_val"] = tags.reshape(-1)[ti].astype(np.float32)
        tensors[name + ".scales"] = np.array(scales, np.float64)
        tensors[name + ".flags"] = np.array([int(flip), int(project), base[0], base[1]], np.int64)
        print(name, heat.shape, tags.shape)
    write_safetensors(os.path.join(HERE, "data", "aggregate_expected.safetensors"), tensors,
                      {"generator": "tests/pose/make_aggregate_fixtures.py", "torch": torch.__version__})


if __name__ == "__main__":
    main()

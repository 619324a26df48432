#!/usr/bin/env python3
"""Whole-model golden fixtures and model-size table for the hrnet C++ tests.

Writes
  tests/fixtures/data/model_higherhrnet_w32.safetensors
  tests/fixtures/data/model_hrnet_w18c.safetensors
  tests/models/param_counts.json

The models are the PyTorch references of ``reference_models.py`` built from
the official configs in ``configs/``, with every parameter and buffer set by
``det_init.det_init_`` (which the C++ tests reproduce, so no weights are
stored). See tests/models/README.md for the tensor list.

Usage:  /usr/bin/python3 tests/models/make_model_fixtures.py [--counts-only]

Needs PyTorch (Debian's torch 1.13 under /usr/bin/python3), numpy and PyYAML;
not the safetensors package. Output is byte-identical on re-run.
"""

import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import det_init  # noqa: E402
import reference_models as rm  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import safetensors_writer  # noqa: E402  (the shared fixture writer)

REPO = os.path.normpath(os.path.join(HERE, '..', '..'))
CONFIGS = os.path.join(REPO, 'configs')
OUT_DIR = os.path.join(REPO, 'tests', 'fixtures', 'data')
COUNTS_JSON = os.path.join(HERE, 'param_counts.json')

POSE_CFG = 'configs/coco/w32_512_adam_lr1e-3.yaml'
CLS_CFG = 'configs/imagenet/cls_hrnet_w18_sgd_lr5e-2_wd1e-4_bs32_x100.yaml'

EVAL_SEED = 0        # torch.manual_seed for `input`
TRAIN_INPUT_SEED = 1  # torch.manual_seed for `train_input`
TRAIN_R_SEED = 2     # torch.manual_seed for `train_seed{k}` (drawn in k order)
GRAD_ROWS = 8        # leading rows stored for gradients too large to keep whole

# Numbers from the reference docs (shared/reference/higherhrnet.md section 2,
# hrnet_classification.md section 1.3):
#   (exact params, macs / 1e9 to the digits given, README "GFLOPs", divisor)
# The README "GFLOPs" are the same multiply-add count, divided by 1e9 in the
# HigherHRNet README (its get_model_summary prints the raw count) and by
# 1024**3 in the HRNet-Image-Classification README (its modelsummary.py
# divides by 1024**3).
G, GI = 1e9, 1024.0 ** 3
EXPECTED = {
    'coco/w32_512_adam_lr1e-3.yaml': (28645331, '47.864', '47.9', G),
    'coco/w32_640_adam_lr1e-3.yaml': (28645331, '74.788', '74.8', G),
    'coco/w48_640_adam_lr1e-3.yaml': (63827139, '154.305', '154.3', G),
    'imagenet/cls_hrnet_w18_small_v1_sgd_lr5e-2_wd1e-4_bs32_x100.yaml': (13187464, '1.6015', '1.49', GI),
    'imagenet/cls_hrnet_w18_small_v2_sgd_lr5e-2_wd1e-4_bs32_x100.yaml': (15597464, '2.5957', '2.42', GI),
    'imagenet/cls_hrnet_w18_sgd_lr5e-2_wd1e-4_bs32_x100.yaml': (21299004, '4.2835', '3.99', GI),
    'imagenet/cls_hrnet_w30_sgd_lr5e-2_wd1e-4_bs32_x100.yaml': (37712220, '8.1058', '7.55', GI),
    'imagenet/cls_hrnet_w32_sgd_lr5e-2_wd1e-4_bs32_x100.yaml': (41232680, '8.9211', '8.31', GI),
    'imagenet/cls_hrnet_w40_sgd_lr5e-2_wd1e-4_bs32_x100.yaml': (57557160, '12.692', '11.8', GI),
    'imagenet/cls_hrnet_w44_sgd_lr5e-2_wd1e-4_bs32_x100.yaml': (67064984, '14.883', '13.9', GI),
    'imagenet/cls_hrnet_w48_sgd_lr5e-2_wd1e-4_bs32_x100.yaml': (77469864, '17.278', '16.1', GI),
    'imagenet/cls_hrnet_w64_sgd_lr5e-2_wd1e-4_bs32_x100.yaml': (128059944, '28.895', '26.9', GI),
}


def _fmt_like(value, example):
    return '%.*f' % (len(example.split('.')[1]), value)


# --------------------------------------------------------------------------
# safetensors writer
# --------------------------------------------------------------------------



def write_safetensors(path, tensors, metadata):
    safetensors_writer.write_safetensors(path, tensors, metadata)

# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------

def as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def build(cfg_rel):
    cfg = rm.load_config(os.path.join(REPO, cfg_rel))
    model = rm.build_model(cfg)
    det_init.det_init_(model)
    return model


def model_fixture(filename, cfg_rel, full_grads, row_grads, params_to_store):
    tensors = {}
    meta = {
        'config': cfg_rel,
        'init': 'det_init (tests/models/det_init.py)',
        'generator': 'tests/models/make_model_fixtures.py',
        'input_seed': str(EVAL_SEED),
        'train_input_seed': str(TRAIN_INPUT_SEED),
        'train_seed_seed': str(TRAIN_R_SEED),
        'train_loss': 'sum_k sum(train_output{k} * train_seed{k})',
    }

    # -- eval mode, batch 1 ------------------------------------------------
    model = build(cfg_rel)
    for name in params_to_store:
        tensors['param.' + name] = model.state_dict()[name].clone()
    model.eval()
    torch.manual_seed(EVAL_SEED)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        outs = as_list(model(x))
    tensors['input'] = x
    for k, o in enumerate(outs):
        tensors['output%d' % k] = o

    # -- train mode, batch 2, fresh init, computed in float64 -----------------
    # Train-mode gradients of a deep net with batch statistics over few pixels are ill-conditioned:
    # float32 runs (PyTorch's or ours) differ from the exact values by ~1%. So the reference is
    # computed in float64 (from the same float32 weights, input and seeds) and stored rounded to
    # float32; the C++ test runs the same pass in double and compares tightly.
    model = build(cfg_rel).double()
    model.train()
    torch.manual_seed(TRAIN_INPUT_SEED)
    x = torch.randn(2, 3, 64, 64).double().requires_grad_(True)
    outs = as_list(model(x))
    torch.manual_seed(TRAIN_R_SEED)
    rs = [torch.randn(o.shape).double() for o in outs]
    loss = None
    for o, r in zip(outs, rs):
        term = (o * r).sum()
        loss = term if loss is None else loss + term
    loss.backward()

    f32 = lambda t: t.detach().float() if t.is_floating_point() else t.detach()
    tensors['train_input'] = f32(x)
    tensors['train_loss'] = f32(loss)
    tensors['train_grad_input'] = f32(x.grad)
    for k, (o, r) in enumerate(zip(outs, rs)):
        tensors['train_output%d' % k] = f32(o)
        tensors['train_seed%d' % k] = f32(r)
    params = dict(model.named_parameters())
    for name in full_grads:
        tensors['grad.' + name] = f32(params[name].grad)
    for name in row_grads:
        tensors['grad_rows.' + name] = f32(params[name].grad[:GRAD_ROWS])
    if row_grads:
        meta['grad_rows'] = str(GRAD_ROWS)
    meta['train_precision'] = 'float64 computation, stored as float32'
    buffers = dict(model.named_buffers())
    for name in ('bn1.running_mean', 'bn1.running_var', 'bn1.num_batches_tracked'):
        tensors['after.' + name] = f32(buffers[name])

    write_safetensors(os.path.join(OUT_DIR, filename), tensors, meta)


def make_fixtures():
    model_fixture(
        'model_higherhrnet_w32.safetensors', POSE_CFG,
        full_grads=['conv1.weight', 'bn1.weight', 'final_layers.0.weight',
                    'final_layers.1.bias', 'deconv_layers.0.0.0.weight'],
        row_grads=[],
        params_to_store=['conv1.weight', 'bn1.running_var',
                         'final_layers.1.bias'])
    model_fixture(
        'model_hrnet_w18c.safetensors', CLS_CFG,
        full_grads=['conv1.weight', 'classifier.bias',
                    'incre_modules.0.0.conv1.weight'],
        row_grads=['classifier.weight', 'final_layer.0.weight'],
        params_to_store=['conv1.weight', 'bn1.running_var', 'classifier.bias'])


# --------------------------------------------------------------------------
# parameter / multiply-add table
# --------------------------------------------------------------------------

def make_counts():
    rels = sorted(os.path.relpath(os.path.join(d, f), CONFIGS)
                  for d, _, fs in os.walk(CONFIGS) for f in fs
                  if f.endswith('.yaml'))
    rows, bad = [], []
    for rel in rels:
        s = rm.summarize_config(os.path.join(CONFIGS, rel))
        row = {'file': 'configs/' + rel, 'params': s['params'],
               'macs': s['macs'], 'input_size': s['input_size']}
        rows.append(row)
        note = ''
        if rel in EXPECTED:
            p, g, readme, div = EXPECTED[rel]
            if (s['params'] != p or _fmt_like(s['macs'] / G, g) != g
                    or _fmt_like(s['macs'] / div, readme) != readme):
                bad.append(rel)
                note = ('  MISMATCH (expected %d params, %s G, README %s)'
                        % (p, g, readme))
            else:
                note = '  ok (README %s %s)' % (readme, 'G' if div == G else 'Gi')
        print('%-70s %13s %17s %9.3f G %9.3f Gi%s'
              % (row['file'], '{:,}'.format(row['params']),
                 '{:,}'.format(row['macs']), row['macs'] / 1e9,
                 row['macs'] / 1024 ** 3, note))
    with open(COUNTS_JSON, 'w') as f:
        f.write('[\n' + ',\n'.join('  ' + json.dumps(r) for r in rows) + '\n]\n')
    print('wrote %s (%d configs)' % (os.path.relpath(COUNTS_JSON, REPO), len(rows)))
    if bad:
        raise SystemExit('reference model disagrees with the docs for: '
                         + ', '.join(bad))


def main():
    torch.set_num_threads(1)
    if '--counts-only' not in sys.argv[1:]:
        os.makedirs(OUT_DIR, exist_ok=True)
        make_fixtures()
    make_counts()


if __name__ == '__main__':
    main()

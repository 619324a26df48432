"""PyTorch reference models for the HRNet model zoo.

Two models, built from a parsed official YAML config (a plain nested dict, as
returned by ``yaml.safe_load``):

* ``PoseHigherResolutionNet`` -- HigherHRNet bottom-up pose network
  (upstream ``lib/models/pose_higher_hrnet.py``).
* ``HighResolutionNet`` -- HRNet ImageNet classifier
  (upstream ``lib/models/cls_hrnet.py``).

The module tree, and therefore every ``state_dict`` key and tensor shape, is
the same as in the official code, so official checkpoints load with
``strict=True`` and the C++ library can use the official names. The forward
passes follow the official evaluation order (fusion sums j = 0..n-1, in-place
ReLUs, ``out += residual``), which matters for bit-level comparisons.

This file is written for the hrnet test suite; it reproduces the structure of
the upstream MIT-licensed code (Microsoft, HRNet authors) from the facts in
the project's reference notes, not its text.

``get_model_summary`` counts parameters and multiply-adds in the convention
of the upstream ``get_model_summary`` helpers (see its docstring).

Run ``/usr/bin/python3 tests/models/reference_models.py [config.yaml ...]`` to
print the counts for configs.
"""

import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

BN_MOMENTUM = 0.1


# --------------------------------------------------------------------------
# config helpers
# --------------------------------------------------------------------------

def load_config(path):
    """Parse an official YAML experiment file into a nested dict."""
    import yaml
    with open(path, 'r') as f:
        return yaml.safe_load(f)


def input_size_of(cfg):
    """(H, W) the official code trains with: DATASET.INPUT_SIZE (square) for
    the pose model, MODEL.IMAGE_SIZE for classification."""
    name = cfg['MODEL']['NAME']
    if name == 'pose_higher_hrnet':
        s = int(cfg['DATASET']['INPUT_SIZE'])
        return [s, s]
    if name == 'cls_hrnet':
        w, h = cfg['MODEL']['IMAGE_SIZE']  # upstream order is [width, height]
        return [int(h), int(w)]
    raise ValueError('unknown MODEL.NAME %r' % name)


def build_model(cfg):
    name = cfg['MODEL']['NAME']
    if name == 'pose_higher_hrnet':
        return PoseHigherResolutionNet(cfg)
    if name == 'cls_hrnet':
        return HighResolutionNet(cfg)
    raise ValueError('unknown MODEL.NAME %r' % name)


# --------------------------------------------------------------------------
# blocks
# --------------------------------------------------------------------------

def conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride,
                     padding=1, bias=False)


def conv1x1_bn(in_planes, out_planes, stride=1):
    """Residual projection: ``downsample.0`` (conv) + ``downsample.1`` (BN)."""
    return nn.Sequential(
        nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride,
                  bias=False),
        nn.BatchNorm2d(out_planes, momentum=BN_MOMENTUM),
    )


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        out += shortcut
        return self.relu(out)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride,
                               padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, kernel_size=1,
                               bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion,
                                  momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        out += shortcut
        return self.relu(out)


BLOCKS = {'BASIC': BasicBlock, 'BOTTLENECK': Bottleneck}


def make_layer(block, inplanes, planes, num_blocks, stride=1):
    """A run of ``num_blocks`` blocks; only the first may project."""
    downsample = None
    if stride != 1 or inplanes != planes * block.expansion:
        downsample = conv1x1_bn(inplanes, planes * block.expansion, stride)
    layers = [block(inplanes, planes, stride, downsample)]
    inplanes = planes * block.expansion
    layers += [block(inplanes, planes) for _ in range(1, num_blocks)]
    return nn.Sequential(*layers)


class HighResolutionModule(nn.Module):
    """Parallel branches followed by the all-to-all fusion.

    ``fuse_layers[i][j]`` maps branch j to branch i: ``None`` for i == j;
    conv1x1 + BN + nearest upsample for j > i; a chain of (i - j) stride-2
    3x3 convs for j < i (BN + ReLU after all but the last, BN only after the
    last). With ``multi_scale_output=False`` only output 0 is fused.
    """

    def __init__(self, num_branches, block, num_blocks, num_inchannels,
                 num_channels, fuse_method, multi_scale_output=True):
        super().__init__()
        for what, seq in (('NUM_BLOCKS', num_blocks),
                          ('NUM_CHANNELS', num_channels),
                          ('NUM_INCHANNELS', num_inchannels)):
            if len(seq) != num_branches:
                raise ValueError('NUM_BRANCHES(%d) <> %s(%d)'
                                 % (num_branches, what, len(seq)))
        if fuse_method != 'SUM':
            raise ValueError('unsupported FUSE_METHOD %r' % fuse_method)
        self.num_inchannels = list(num_inchannels)
        self.fuse_method = fuse_method
        self.num_branches = num_branches
        self.multi_scale_output = multi_scale_output

        branches = []
        for b in range(num_branches):
            branches.append(make_layer(block, self.num_inchannels[b],
                                       num_channels[b], num_blocks[b]))
            self.num_inchannels[b] = num_channels[b] * block.expansion
        self.branches = nn.ModuleList(branches)
        self.fuse_layers = self._make_fuse_layers()
        self.relu = nn.ReLU(True)

    def _make_fuse_layers(self):
        n = self.num_branches
        if n == 1:
            return None
        ch = self.num_inchannels
        fuse_layers = []
        for i in range(n if self.multi_scale_output else 1):
            row = []
            for j in range(n):
                if j > i:
                    row.append(nn.Sequential(
                        nn.Conv2d(ch[j], ch[i], 1, 1, 0, bias=False),
                        nn.BatchNorm2d(ch[i]),
                        nn.Upsample(scale_factor=2 ** (j - i), mode='nearest')))
                elif j == i:
                    row.append(None)
                else:
                    chain = []
                    for k in range(i - j):
                        last = k == i - j - 1
                        cout = ch[i] if last else ch[j]
                        layers = [nn.Conv2d(ch[j], cout, 3, 2, 1, bias=False),
                                  nn.BatchNorm2d(cout)]
                        if not last:
                            layers.append(nn.ReLU(True))
                        chain.append(nn.Sequential(*layers))
                    row.append(nn.Sequential(*chain))
            fuse_layers.append(nn.ModuleList(row))
        return nn.ModuleList(fuse_layers)

    def get_num_inchannels(self):
        return self.num_inchannels

    def forward(self, x):
        if self.num_branches == 1:
            return [self.branches[0](x[0])]
        x = [self.branches[b](x[b]) for b in range(self.num_branches)]
        out = []
        for i in range(len(self.fuse_layers)):
            y = x[0] if i == 0 else self.fuse_layers[i][0](x[0])
            for j in range(1, self.num_branches):
                y = y + (x[j] if i == j else self.fuse_layers[i][j](x[j]))
            out.append(self.relu(y))
        return out


def make_transition(pre_channels, cur_channels):
    """``transition{k}``: identity (None), a 3x3 s1 width change for existing
    branches, or a chain of 3x3 s2 convs from the LAST existing branch for new
    branches (only the chain's last conv changes the width)."""
    layers = []
    n_pre = len(pre_channels)
    for i, cur in enumerate(cur_channels):
        if i < n_pre:
            if cur != pre_channels[i]:
                if i != n_pre - 1:
                    # The official forward feeds y_list[-1] into every
                    # non-None transition, so this cannot run there.
                    raise ValueError(
                        'config changes the width of branch %d (%d -> %d), '
                        'which is not the last branch; the official code '
                        'cannot run such a config' % (i, pre_channels[i], cur))
                layers.append(nn.Sequential(
                    nn.Conv2d(pre_channels[i], cur, 3, 1, 1, bias=False),
                    nn.BatchNorm2d(cur),
                    nn.ReLU(inplace=True)))
            else:
                layers.append(None)
        else:
            chain = []
            cin = pre_channels[-1]
            for k in range(i + 1 - n_pre):
                cout = cur if k == i - n_pre else cin
                chain.append(nn.Sequential(
                    nn.Conv2d(cin, cout, 3, 2, 1, bias=False),
                    nn.BatchNorm2d(cout),
                    nn.ReLU(inplace=True)))
            layers.append(nn.Sequential(*chain))
    return nn.ModuleList(layers)


def make_stage(stage_cfg, num_inchannels, multi_scale_output=True):
    """``stage{k}``: NUM_MODULES HighResolutionModules; when
    ``multi_scale_output`` is False only the last module fuses into branch 0
    alone."""
    block = BLOCKS[stage_cfg['BLOCK']]
    n_mod = stage_cfg['NUM_MODULES']
    modules = []
    for m in range(n_mod):
        multi = multi_scale_output or m != n_mod - 1
        modules.append(HighResolutionModule(
            stage_cfg['NUM_BRANCHES'], block, stage_cfg['NUM_BLOCKS'],
            num_inchannels, stage_cfg['NUM_CHANNELS'],
            stage_cfg['FUSE_METHOD'], multi))
        num_inchannels = modules[-1].get_num_inchannels()
    return nn.Sequential(*modules), num_inchannels


def stage_out_channels(stage_cfg):
    block = BLOCKS[stage_cfg['BLOCK']]
    return [c * block.expansion for c in stage_cfg['NUM_CHANNELS']]


def check_input_size(h, w, num_branches=4):
    """Official fusion upsamples by a scale factor, so the 1/4 map must be
    divisible by 2^(branches-1) (exactness note 8)."""
    for s in (h, w):
        q = -(-(-(-s // 2)) // 2)  # ceil(ceil(s / 2) / 2)
        if q % (2 ** (num_branches - 1)):
            raise ValueError('input size %d: ceil(ceil(%d/2)/2) = %d is not '
                             'divisible by %d' % (s, s, q, 2 ** (num_branches - 1)))


class _HRNetTrunk(nn.Module):
    """Stem, layer1 and stages 2-4 (shared by both models)."""

    def _build_trunk(self, extra, layer1_block, layer1_planes, layer1_blocks,
                     last_multi_scale):
        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=2, padding=1,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(64, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(64, 64, kernel_size=3, stride=2, padding=1,
                               bias=False)
        self.bn2 = nn.BatchNorm2d(64, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = make_layer(layer1_block, 64, layer1_planes, layer1_blocks)
        pre = [layer1_planes * layer1_block.expansion]

        self.stage2_cfg = extra['STAGE2']
        self.stage3_cfg = extra['STAGE3']
        self.stage4_cfg = extra['STAGE4']
        self.transition1 = make_transition(pre, stage_out_channels(self.stage2_cfg))
        self.stage2, pre = make_stage(self.stage2_cfg, stage_out_channels(self.stage2_cfg))
        self.transition2 = make_transition(pre, stage_out_channels(self.stage3_cfg))
        self.stage3, pre = make_stage(self.stage3_cfg, stage_out_channels(self.stage3_cfg))
        self.transition3 = make_transition(pre, stage_out_channels(self.stage4_cfg))
        self.stage4, pre = make_stage(self.stage4_cfg, stage_out_channels(self.stage4_cfg),
                                      multi_scale_output=last_multi_scale)
        return pre

    def _trunk(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        x = self.layer1(x)

        x_list = [x if t is None else t(x) for t in self.transition1]
        y_list = self.stage2(x_list)
        # New branches (and, in the official code, any non-None transition)
        # read the last branch.
        x_list = [y_list[i] if t is None else t(y_list[-1])
                  for i, t in enumerate(self.transition2)]
        y_list = self.stage3(x_list)
        x_list = [y_list[i] if t is None else t(y_list[-1])
                  for i, t in enumerate(self.transition3)]
        return self.stage4(x_list)


# --------------------------------------------------------------------------
# HigherHRNet
# --------------------------------------------------------------------------

DECONV_PADDING = {4: (1, 0), 3: (1, 1), 2: (0, 0)}


class PoseHigherResolutionNet(_HRNetTrunk):
    """HigherHRNet. ``forward`` returns the list of head outputs,
    ``[B x (J + tag) x H/4 x W/4, B x J' x H/2 x W/2, ...]``.

    Stage 1 is fixed (4 Bottlenecks of width 64); STEM_INPLANES is ignored.
    Head widths follow ``LOSS.WITH_AE_LOSS``.
    """

    def __init__(self, cfg):
        super().__init__()
        model = cfg['MODEL']
        extra = model['EXTRA']
        pre = self._build_trunk(extra, Bottleneck, 64, 4, last_multi_scale=False)
        self.final_layers = self._make_final_layers(cfg, pre[0])
        self.deconv_layers = self._make_deconv_layers(cfg, pre[0])
        self.num_deconvs = extra['DECONV']['NUM_DECONVS']
        self.deconv_config = extra['DECONV']
        self.pretrained_layers = extra.get('PRETRAINED_LAYERS', ['*'])

    @staticmethod
    def _head_channels(cfg, i):
        model = cfg['MODEL']
        dim_tag = model['NUM_JOINTS'] if model['TAG_PER_JOINT'] else 1
        with_ae = cfg['LOSS']['WITH_AE_LOSS'][i]
        return model['NUM_JOINTS'] + dim_tag if with_ae else model['NUM_JOINTS']

    def _make_final_layers(self, cfg, input_channels):
        extra = cfg['MODEL']['EXTRA']
        k = extra['FINAL_CONV_KERNEL']
        pad = 1 if k == 3 else 0
        deconv = extra['DECONV']
        widths = [input_channels] + [deconv['NUM_CHANNELS'][i]
                                     for i in range(deconv['NUM_DECONVS'])]
        return nn.ModuleList([
            nn.Conv2d(in_channels=w, out_channels=self._head_channels(cfg, i),
                      kernel_size=k, stride=1, padding=pad)
            for i, w in enumerate(widths)])

    def _make_deconv_layers(self, cfg, input_channels):
        deconv = cfg['MODEL']['EXTRA']['DECONV']
        layers_out = []
        for i in range(deconv['NUM_DECONVS']):
            if deconv['CAT_OUTPUT'][i]:
                input_channels += self._head_channels(cfg, i)
            cout = deconv['NUM_CHANNELS'][i]
            kernel = deconv['KERNEL_SIZE'][i]
            if kernel not in DECONV_PADDING:
                raise ValueError('unsupported DECONV.KERNEL_SIZE %r' % kernel)
            padding, output_padding = DECONV_PADDING[kernel]
            layers = [nn.Sequential(
                nn.ConvTranspose2d(in_channels=input_channels,
                                   out_channels=cout, kernel_size=kernel,
                                   stride=2, padding=padding,
                                   output_padding=output_padding, bias=False),
                nn.BatchNorm2d(cout, momentum=BN_MOMENTUM),
                nn.ReLU(inplace=True))]
            for _ in range(deconv['NUM_BASIC_BLOCKS']):
                layers.append(nn.Sequential(BasicBlock(cout, cout)))
            layers_out.append(nn.Sequential(*layers))
            input_channels = cout
        return nn.ModuleList(layers_out)

    def forward(self, x):
        y_list = self._trunk(x)
        outputs = []
        x = y_list[0]
        y = self.final_layers[0](x)
        outputs.append(y)
        for i in range(self.num_deconvs):
            if self.deconv_config['CAT_OUTPUT'][i]:
                x = torch.cat((x, y), 1)
            x = self.deconv_layers[i](x)
            y = self.final_layers[i + 1](x)
            outputs.append(y)
        return outputs


# --------------------------------------------------------------------------
# HRNet classification
# --------------------------------------------------------------------------

class HighResolutionNet(_HRNetTrunk):
    """HRNet-W*-C. ``forward`` returns B x 1000 logits (MODEL.NUM_CLASSES is
    ignored, as upstream)."""

    HEAD_CHANNELS = [32, 64, 128, 256]

    def __init__(self, cfg):
        super().__init__()
        extra = cfg['MODEL']['EXTRA']
        s1 = extra['STAGE1']
        pre = self._build_trunk(extra, BLOCKS[s1['BLOCK']], s1['NUM_CHANNELS'][0],
                                s1['NUM_BLOCKS'][0], last_multi_scale=True)
        if len(pre) != 4:
            raise ValueError('the classification head needs 4 branches')
        self.incre_modules, self.downsamp_modules, self.final_layer = \
            self._make_head(pre)
        self.classifier = nn.Linear(2048, 1000)

    def _make_head(self, pre_channels):
        hc = self.HEAD_CHANNELS
        exp = Bottleneck.expansion
        incre = nn.ModuleList([make_layer(Bottleneck, c, hc[i], 1)
                               for i, c in enumerate(pre_channels)])
        down = nn.ModuleList([
            nn.Sequential(
                nn.Conv2d(in_channels=hc[i] * exp, out_channels=hc[i + 1] * exp,
                          kernel_size=3, stride=2, padding=1),
                nn.BatchNorm2d(hc[i + 1] * exp, momentum=BN_MOMENTUM),
                nn.ReLU(inplace=True))
            for i in range(len(pre_channels) - 1)])
        final = nn.Sequential(
            nn.Conv2d(in_channels=hc[3] * exp, out_channels=2048, kernel_size=1,
                      stride=1, padding=0),
            nn.BatchNorm2d(2048, momentum=BN_MOMENTUM),
            nn.ReLU(inplace=True))
        return incre, down, final

    def forward(self, x):
        y_list = self._trunk(x)
        y = self.incre_modules[0](y_list[0])
        for i in range(len(self.downsamp_modules)):
            y = self.incre_modules[i + 1](y_list[i + 1]) + self.downsamp_modules[i](y)
        y = self.final_layer(y)
        # Full-map average pool (not flatten().mean(): differs by ~1e-7 rel).
        y = F.avg_pool2d(y, kernel_size=y.size()[2:]).view(y.size(0), -1)
        return self.classifier(y)


# --------------------------------------------------------------------------
# model summary
# --------------------------------------------------------------------------

def get_model_summary(model, input_size, device='meta'):
    """Parameter and multiply-add counts in the upstream ``get_model_summary``
    convention (HRNet-Image-Classification ``lib/utils/modelsummary.py``,
    HigherHRNet ``lib/utils/utils.py``):

    * params: every learnable parameter (conv weights and biases, BN gamma and
      beta, linear); BN running statistics are not counted;
    * macs: for every module whose class name contains "Conv" (Conv2d and
      ConvTranspose2d), ``weight.numel() * H_out * W_out``; for nn.Linear,
      ``output.numel() * in_features``; BN, ReLU, upsampling, additions,
      concatenation and pooling are not counted. Batch size 1.

    Upstream prints ``macs / 1024**3`` and labels it "GFLOPs".

    The forward runs on the meta device by default (shapes only, no compute);
    pass ``device='cpu'`` to run it for real.
    """
    h, w = input_size
    params = sum(p.numel() for p in model.parameters())
    macs = [0]

    def hook(module, inputs, output):
        name = module.__class__.__name__
        if 'Conv' in name and hasattr(module, 'weight'):
            macs[0] += module.weight.numel() * output.shape[2] * output.shape[3]
        elif isinstance(module, nn.Linear):
            macs[0] += output.numel() * inputs[0].shape[1]

    if device == 'meta':
        import copy
        model = copy.deepcopy(model).to('meta')
    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, h, w, device=device))
    finally:
        for hd in handles:
            hd.remove()
        model.train(was_training)
    return {'params': int(params), 'macs': int(macs[0])}


def summarize_config(path):
    cfg = load_config(path)
    size = input_size_of(cfg)
    check_input_size(*size)
    model = build_model(cfg)
    s = get_model_summary(model, size)
    s['input_size'] = size
    return s


if __name__ == '__main__':
    paths = sys.argv[1:]
    if not paths:
        here = os.path.dirname(os.path.abspath(__file__))
        root = os.path.normpath(os.path.join(here, '..', '..', 'configs'))
        paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(root)
                       for f in fs if f.endswith('.yaml'))
    for p in paths:
        s = summarize_config(p)
        print('%-70s params %13s  macs %17s  (%.3f G, %.3f Gi)  input %s'
              % (os.path.basename(p), '{:,}'.format(s['params']),
                 '{:,}'.format(s['macs']), s['macs'] / 1e9,
                 s['macs'] / 1024 ** 3, s['input_size']))

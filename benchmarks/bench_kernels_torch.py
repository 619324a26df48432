#!/usr/bin/env python3
"""Times bench_kernels's cases in PyTorch (eager, channels_last) and writes the same JSON schema.

usage: python3 benchmarks/bench_kernels_torch.py [--json FILE] [--dtype float|half|bfloat16|all]
           [--iters N] [--warmup N] [--only SUBSTRING] [--tf32] [--device cuda|cpu] [--smoke]

Same case names, shapes, byte counts and timing method as build/bin/bench_kernels (see its --help):
a device-to-device copy of 256 MiB first, then for each case --warmup untimed calls and --iters
samples of back-to-back calls (at least 1 ms per sample), timed with CUDA events; ms is the median
per-call time. Each case runs what PyTorch eager runs for the same work, including the extra
kernels and allocations that implies:
  - where the hrnet kernel accumulates into a gradient (+=), the PyTorch case adds into an existing
    tensor too (e.g. relu_bwd = threshold_backward + add_, upsample_nearest_bwd = aten backward +
    add_); fusion, masked_mse and batch-norm backward run through autograd (retain_graph), which
    accumulates into the leaves' .grad;
  - fusion_sum_relu_fwd/bwd is the HRNet fusion node as the official model computes it:
    y = x0; y = y + F.interpolate(xj, scale_factor=f, mode='nearest') (or + xj when f == 1); relu_
    (hrnet runs it as one fused kernel; its fusion_unfused rows have no PyTorch counterpart);
  - the optimizer steps use torch.optim.SGD / Adam with fused=True when this PyTorch offers it on
    the device, else foreach=True, over the 907 parameter tensors of HigherHRNet-W32;
  - cuDNN rows: F.conv2d / F.conv_transpose2d, aten.convolution_backward with one output selected
    (no accumulation), F.batch_norm(training=True) and its autograd backward.
The "bytes" of a row are hrnet's logical count for the same case, so "gbs" is an effective rate.
cudnn.benchmark is on; TF32 is off unless --tf32 (as bench_kernels). --smoke runs tiny shapes
(2 samples, 1 warm-up) as a functional check of this script, e.g. on the CPU with --device cpu; its
shapes do not match bench_kernels's. Compare the two JSON files with benchmarks/compare_kernels.py.
"""
import argparse
import datetime
import inspect
import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {"float": torch.float32, "half": torch.float16, "bfloat16": torch.bfloat16}
CL = torch.channels_last


class Shapes:
    """The shapes bench_kernels uses (HigherHRNet-W32 at 512, batch 12; HRNet-W32-C at 224, batch 128)."""

    def __init__(self, smoke):
        self.ch = (32, 64, 128, 256)
        if smoke:
            self.pose_n, self.res, self.cls_n, self.cls_res = 1, (16, 8, 4, 2), 2, (8, 4, 2, 1)
            self.large, self.gap_c = (1, 8, 32, 32), 64
        else:
            self.pose_n, self.res, self.cls_n, self.cls_res = 12, (128, 64, 32, 16), 128, (56, 28, 14, 7)
            self.large, self.gap_c = (16, 64, 256, 256), 2048  # 64 Mi elements, beyond any L2
        self.image = 4 * self.res[0]

    def branches(self):
        return [(self.pose_n, c, r, r) for c, r in zip(self.ch, self.res)]


def dims(shape):
    return "x".join(str(d) for d in shape)


def numel(shape):
    return math.prod(shape)


def higherhrnet_w32_param_shapes():
    """The parameter tensors of HigherHRNet-W32 (907 tensors, 28,645,331 values), in model order."""
    shapes = []

    def conv(co, ci, k, bias=False):
        shapes.append((co, ci, k, k))
        if bias:
            shapes.append((co,))

    def bn(c):
        shapes.extend([(c,), (c,)])

    conv(64, 3, 3); bn(64); conv(64, 64, 3); bn(64)  # stem
    inp = 64
    for b in range(4):  # layer1: Bottlenecks, 64 planes, expansion 4
        conv(64, inp, 1); bn(64); conv(64, 64, 3); bn(64); conv(256, 64, 1); bn(256)
        if b == 0:
            conv(256, inp, 1); bn(256)
        inp = 256
    pre = [256]
    for si, (modules, ch) in enumerate([(1, [32, 64]), (4, [32, 64, 128]), (3, [32, 64, 128, 256])]):
        for i, c in enumerate(ch):  # transition
            if i < len(pre):
                if c != pre[i]:
                    conv(c, pre[i], 3); bn(c)
            else:
                for j in range(i + 1 - len(pre)):
                    cout = c if j == i - len(pre) else pre[-1]
                    conv(cout, pre[-1], 3); bn(cout)
        for m in range(modules):
            for c in ch:  # 4 BasicBlocks per branch
                for _ in range(4):
                    conv(c, c, 3); bn(c); conv(c, c, 3); bn(c)
            outs = 1 if (si == 2 and m == modules - 1) else len(ch)  # the last module fuses into branch 0 only
            for i in range(outs):
                for j in range(len(ch)):
                    if j > i:
                        conv(ch[i], ch[j], 1); bn(ch[i])
                    elif j < i:
                        for k in range(i - j):
                            last = k == i - j - 1
                            conv(ch[i] if last else ch[j], ch[j], 3); bn(ch[i] if last else ch[j])
        pre = ch
    conv(34, 32, 1, bias=True)  # final_layers.0
    shapes.append((66, 32, 4, 4)); bn(32)  # deconv_layers.0: ConvTranspose2d(32 + 34 -> 32)
    for _ in range(4):
        conv(32, 32, 3); bn(32); conv(32, 32, 3); bn(32)
    conv(17, 32, 1, bias=True)  # final_layers.1
    return shapes


class Bench:
    def __init__(self, args, device):
        self.args, self.device = args, device
        self.cuda = device.type == "cuda"
        self.kernels, self.cudnn, self.failures = [], [], 0
        self.copy_gbs = self.copy_ms = self.copy_bytes = 0.0
        self.gen = torch.Generator(device="cpu").manual_seed(0)

    # ---- timing ----
    def _run(self, fn, k):
        if self.cuda:
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            for _ in range(k):
                fn()
            b.record()
            b.synchronize()
            return a.elapsed_time(b)
        t = time.perf_counter()
        for _ in range(k):
            fn()
        return (time.perf_counter() - t) * 1e3

    def time_ms(self, fn):
        for _ in range(self.args.warmup):
            fn()
        once = self._run(fn, 1)
        inner = min(1000, max(1, math.ceil(1.0 / max(once, 1e-4))))
        return statistics.median(self._run(fn, inner) / inner for _ in range(max(1, self.args.iters)))

    def measure_copy(self):
        n = 64 << 20  # 256 MiB of float
        a = torch.ones(n, device=self.device)
        b = torch.empty_like(a)
        self.copy_ms = self.time_ms(lambda: b.copy_(a))
        self.copy_bytes = 2.0 * a.numel() * a.element_size()
        self.copy_gbs = self.copy_bytes / (self.copy_ms * 1e-3) / 1e9
        print(f"device-to-device copy: {a.numel() * 4 / 2**20:.0f} MiB in {self.copy_ms:.4f} ms -> "
              f"{self.copy_gbs:.1f} GB/s (read + write)\n")
        del a, b

    # ---- cases ----
    def selected(self, name):
        return not self.args.only or self.args.only in name

    def kernel(self, name, shape, dtype, nbytes, setup):
        if not self.selected(name):
            return
        try:
            ms = self.time_ms(setup())
        except Exception as e:  # report and go on, as bench_kernels does
            return self._fail(name, shape, dtype, e)
        gbs = nbytes / (ms * 1e-3) / 1e9
        self.kernels.append({"name": name, "shape": shape, "dtype": dtype, "ms": ms, "bytes": int(nbytes),
                             "gbs": gbs, "fraction_of_copy": gbs / self.copy_gbs})
        print(f"{name:28s} {shape:26s} {dtype:9s} {ms:10.4f} ms {gbs:9.1f} GB/s "
              f"{100 * gbs / self.copy_gbs:6.1f}% of copy")

    def cudnn_case(self, name, shape, dtype, flops, nbytes, setup):
        if not self.selected(name):
            return
        try:
            ms = self.time_ms(setup())
        except Exception as e:
            return self._fail(name, shape, dtype, e)
        tflops = flops / (ms * 1e-3) / 1e12 if flops else None
        gbs = nbytes / (ms * 1e-3) / 1e9 if nbytes else None
        self.cudnn.append({"name": name, "shape": shape, "dtype": dtype, "ms": ms, "tflops": tflops,
                           "bytes": int(nbytes) if nbytes else None, "gbs": gbs})
        line = f"{name:28s} {shape:26s} {dtype:9s} {ms:10.4f} ms"
        if tflops:
            line += f" {tflops:8.1f} TFLOP/s"
        if gbs:
            line += f" {gbs:9.1f} GB/s"
        print(line)

    def _fail(self, name, shape, dtype, e):
        self.failures += 1
        print(f"bench_kernels_torch: {name} {shape} {dtype} failed: {type(e).__name__}: {e}", file=sys.stderr)

    def rand(self, shape, dtype, lo=-1.0, hi=1.0, requires_grad=False):
        t = torch.rand(shape, generator=self.gen, dtype=torch.float32) * (hi - lo) + lo
        t = t.to(device=self.device, dtype=dtype)
        if len(shape) == 4:
            t = t.contiguous(memory_format=CL)
        return t.requires_grad_(requires_grad)

    def empty(self, shape, dtype):
        return torch.empty(shape, device=self.device, dtype=dtype,
                           memory_format=CL if len(shape) == 4 else torch.contiguous_format)


def itemsize(T):
    return torch.tensor([], dtype=T).element_size()


def upsample_backward(dy, x_shape, f):
    out = list(dy.shape[2:])
    return torch.ops.aten.upsample_nearest2d_backward(dy, out, list(x_shape), float(f), float(f))


def elementwise_cases(b, S, dt):
    T, sz = DTYPES[dt], itemsize(DTYPES[dt])
    shapes = S.branches() + [S.large]
    for s in shapes:
        sh, n = dims(s), numel(s)
        b.kernel("relu_fwd", sh, dt, 2 * n * sz, lambda: (lambda x: lambda: torch.relu(x))(b.rand(s, T)))

        def relu_bwd():
            y, dy, dx = torch.relu(b.rand(s, T)), b.rand(s, T), b.rand(s, T)
            return lambda: dx.add_(torch.ops.aten.threshold_backward(dy, y, 0))
        b.kernel("relu_bwd", sh, dt, 4 * n * sz, relu_bwd)
        for k in (2, 4):
            def add(k=k):
                xs = [b.rand(s, T) for _ in range(k)]

                def f():
                    y = xs[0]
                    for x in xs[1:]:
                        y = y + x
                    return y
                return f
            b.kernel(f"add{k}", sh, dt, (k + 1) * n * sz, add)

        def add_relu():
            x0, x1 = b.rand(s, T), b.rand(s, T)
            return lambda: torch.relu_(x0 + x1)
        b.kernel("add_relu2", sh, dt, 3 * n * sz, add_relu)

        def accumulate():
            dy, dx = b.rand(s, T), b.rand(s, T)
            return lambda: dx.add_(dy)
        b.kernel("accumulate", sh, dt, 3 * n * sz, accumulate)
        if s in (shapes[0], S.large):
            if dt != "float":
                b.kernel(f"cast_float_to_{dt}", sh, dt, n * (4 + sz),
                         lambda: (lambda x: lambda: x.to(T))(b.rand(s, torch.float32)))
                b.kernel(f"cast_{dt}_to_float", sh, dt, n * (4 + sz),
                         lambda: (lambda x: lambda: x.to(torch.float32))(b.rand(s, T)))
            b.kernel("sum", sh, dt, n * sz + 4,
                     lambda: (lambda x: lambda: torch.sum(x, dtype=torch.float32))(b.rand(s, T)))


def upsample_cases(b, S, dt):
    T, sz = DTYPES[dt], itemsize(DTYPES[dt])
    n0, r0 = S.pose_n, S.res[0]
    cases = [((n0, 32, r0 // f, r0 // f), f) for f in (2, 4, 8)]
    L = S.large
    cases.append(((L[0], L[1], L[2] // 2, L[3] // 2), 2))
    for X, f in cases:
        Y = (X[0], X[1], X[2] * f, X[3] * f)
        nx, ny = numel(X), numel(Y)
        b.kernel(f"upsample_nearest_fwd_x{f}", dims(Y), dt, (nx + ny) * sz,
                 lambda: (lambda x: lambda: F.interpolate(x, scale_factor=f, mode="nearest"))(b.rand(X, T)))

        def bwd():
            dy, dx = b.rand(Y, T), b.rand(X, T)
            return lambda: dx.add_(upsample_backward(dy, X, f))
        b.kernel(f"upsample_nearest_bwd_x{f}", dims(Y), dt, (ny + 2 * nx) * sz, bwd)


def stage4_fusion_nodes(S):
    """Output branch i of an HRNet-W32 stage-4 module sums, for j = 0..3, C_i channels at branch j's
    resolution upsampled by 2^(j-i) (j > i, after the 1x1 conv + BN) or at branch i's resolution
    with factor 1 (identity, or the strided convs' output for j < i)."""
    nodes = []
    for i in range(4):
        c, r = S.ch[i], S.res[i]
        xs, fs = [], []
        for j in range(4):
            f = 2 ** (j - i) if j > i else 1
            xs.append((S.pose_n, c, r // f, r // f))
            fs.append(f)
        nodes.append((f"out{i}", (S.pose_n, c, r, r), xs, fs))
    return nodes


def fusion_forward(xs, fs):
    def term(x, f):
        return F.interpolate(x, scale_factor=f, mode="nearest") if f > 1 else x
    y = term(xs[0], fs[0])
    for x, f in zip(xs[1:], fs[1:]):
        y = y + term(x, f)
    return F.relu(y, inplace=True)


def fusion_cases(b, S, dt):
    T, sz = DTYPES[dt], itemsize(DTYPES[dt])
    for tag, Y, X, fs in stage4_fusion_nodes(S):
        ny, nx = numel(Y), sum(numel(x) for x in X)

        def fwd(X=X, fs=fs):
            xs = [b.rand(x, T) for x in X]
            return lambda: fusion_forward(xs, fs)
        b.kernel(f"fusion_sum_relu_fwd/{tag}", dims(Y), dt, (ny + nx) * sz, fwd)

        def bwd(X=X, fs=fs, Y=Y):
            xs = [b.rand(x, T, requires_grad=True) for x in X]
            y, dy = fusion_forward(xs, fs), b.rand(Y, T)
            return lambda: y.backward(dy, retain_graph=True)
        b.kernel(f"fusion_sum_relu_bwd/{tag}", dims(Y), dt, (2 * ny + 2 * nx) * sz, bwd)


def data_movement_cases(b, S, dt):
    T, sz = DTYPES[dt], itemsize(DTYPES[dt])
    N, R = S.pose_n, S.res[0]
    A, B, Y = (N, 32, R, R), (N, 34, R, R), (N, 66, R, R)
    ny = numel(Y)

    def cat_fwd():
        a, c = b.rand(A, T), b.rand(B, T)
        return lambda: torch.cat([a, c], dim=1)
    b.kernel("concat_fwd", dims(Y), dt, 2 * ny * sz, cat_fwd)

    def cat_bwd():
        dy, da, dc = b.rand(Y, T), b.rand(A, T), b.rand(B, T)

        def f():
            da.add_(dy[:, :32])
            dc.add_(dy[:, 32:])
        return f
    b.kernel("concat_bwd", dims(Y), dt, 3 * ny * sz, cat_bwd)

    X, Y = (N, 34, R, R), (N, 17, R, R)
    ny = numel(Y)
    b.kernel("slice_channels_fwd", dims(X), dt, 2 * ny * sz,
             lambda: (lambda x: lambda: x[:, 17:].contiguous(memory_format=CL))(b.rand(X, T)))

    def slice_bwd():
        dy, dx = b.rand(Y, T), b.rand(X, T)
        return lambda: dx[:, 17:].add_(dy)
    b.kernel("slice_channels_bwd", dims(X), dt, 3 * ny * sz, slice_bwd)

    X, Y = (N, 17, R, R), (N, 17, 2 * R, 2 * R)
    b.kernel("resize_bilinear_fwd", dims(Y), dt, (numel(X) + numel(Y)) * sz,
             lambda: (lambda x: lambda: F.interpolate(x, size=Y[2:], mode="bilinear", align_corners=False))(
                 b.rand(X, T)))

    X, Y = (S.cls_n, S.gap_c, 7, 7), (S.cls_n, S.gap_c)
    nx, ny = numel(X), numel(Y)
    b.kernel("global_avg_pool_fwd", dims(X), dt, (nx + ny) * sz,
             lambda: (lambda x: lambda: F.avg_pool2d(x, kernel_size=x.shape[2:]).flatten(1))(b.rand(X, T)))

    def gap_bwd():
        dy, dx = b.rand(Y, T), b.rand(X, T)
        return lambda: dx.add_(dy[:, :, None, None], alpha=1.0 / (X[2] * X[3]))
    b.kernel("global_avg_pool_bwd", dims(X), dt, (ny + 2 * nx) * sz, gap_bwd)

    for s in ((N, 3, S.image, S.image), (N, 34, R, R)):
        n = numel(s)

        def to_nhwc(s=s):
            a = b.rand(s, T).contiguous()  # NCHW
            return lambda: a.contiguous(memory_format=CL)
        b.kernel("nchw_to_nhwc", dims(s), dt, 2 * n * sz, to_nhwc)
        b.kernel("nhwc_to_nchw", dims(s), dt, 2 * n * sz,
                 lambda s=s: (lambda a: lambda: a.contiguous())(b.rand(s, T)))

    for r in (R, 2 * R):
        P, M = (N, 17, r, r), (N, 1, r, r)
        n, nm = numel(P), numel(M)

        def mse_fwd(P=P, M=M):
            p, g, m = b.rand(P, T), b.rand(P, T), b.rand(M, T, 0.0, 1.0)
            return lambda: ((p - g) ** 2 * m).mean()
        b.kernel("masked_mse_fwd", dims(P), dt, (2 * n + nm) * sz + 4, mse_fwd)

        def mse_bwd(P=P, M=M):
            p, g, m = b.rand(P, T, requires_grad=True), b.rand(P, T), b.rand(M, T, 0.0, 1.0)
            loss = ((p - g) ** 2 * m).mean()
            return lambda: loss.backward(retain_graph=True)
        b.kernel("masked_mse_bwd", dims(P), dt, (4 * n + nm) * sz + 4, mse_bwd)


def optimizer_impl(cls, device):
    """fused=True where this PyTorch has it for the device, else foreach=True."""
    params = inspect.signature(cls.__init__).parameters
    if device.type == "cuda" and "fused" in params:
        return {"fused": True}
    return {"foreach": True} if "foreach" in params else {}


def optimizer_cases(b, shapes):
    total = sum(numel(s) for s in shapes)
    sh = f"{total} params"
    impls = {}
    for name, cls, kw, nbytes in (
            ("sgd_step_multi", torch.optim.SGD, dict(lr=0.05, momentum=0.9, weight_decay=1e-4), 5 * total * 4),
            ("adam_step_multi", torch.optim.Adam, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8), 7 * total * 4)):
        if not b.selected(name):
            continue

        def setup(cls=cls, kw=kw, name=name):
            params = [torch.nn.Parameter(b.rand(s, torch.float32)) for s in shapes]
            for p in params:
                p.grad = b.rand(tuple(p.shape), torch.float32)
            impl = optimizer_impl(cls, b.device)
            try:
                opt = cls(params, **kw, **impl)
                opt.step()  # creates the momentum / moment buffers
            except (RuntimeError, TypeError, ValueError):  # fused not supported for this setup
                impl = {"foreach": True}
                opt = cls(params, **kw, **impl)
                opt.step()
            impls[name] = next(iter(impl), "for-loop")
            return opt.step
        b.kernel(name, sh, "float", nbytes, setup)
        for row in b.kernels:
            if row["name"] == name:
                row["impl"] = impls.get(name)
    return total, impls


def conv_cases(b, S, dt):
    T = DTYPES[dt]
    N = S.pose_n
    cases = [(N, 3, S.image, S.image, 64, 3, 2, False), (N, 64, S.image // 2, S.image // 2, 64, 3, 2, False)]
    for i in range(4):
        cases.append((N, S.ch[i], S.res[i], S.res[i], S.ch[i], 3, 1, False))
    for i in range(4):
        for j in range(i + 1, 4):
            cases.append((N, S.ch[j], S.res[j], S.res[j], S.ch[i], 1, 1, False))
    for j in range(3):
        cases.append((N, S.ch[j], S.res[j], S.res[j], S.ch[j + 1], 3, 2, False))
    cases.append((N, 32, S.res[0], S.res[0], 34, 1, 1, True))
    cases.append((N, 32, 2 * S.res[0], 2 * S.res[0], 17, 1, 1, True))
    for i in range(4):
        cases.append((S.cls_n, S.ch[i], S.cls_res[i], S.cls_res[i], S.ch[i], 3, 1, False))

    for n, ci, h, w, co, k, st, bias in cases:
        pad = k // 2
        ho, wo = (h + 2 * pad - k) // st + 1, (w + 2 * pad - k) // st + 1
        X, W, Y = (n, ci, h, w), (co, ci, k, k), (n, co, ho, wo)
        sh = f"{dims(X)}->{co} k{k} s{st}"
        kk = f"conv{k}x{k}"
        flops = 2.0 * n * ho * wo * co * ci * k * k

        def fwd(X=X, W=W, co=co, bias=bias, st=st, pad=pad):
            x, wt = b.rand(X, T), b.rand(W, T)
            bb = b.rand((co,), T) if bias else None
            return lambda: F.conv2d(x, wt, bb, stride=st, padding=pad)
        b.cudnn_case(kk + "_fwd", sh, dt, flops, 0, fwd)

        def bwd(mask, X=X, W=W, Y=Y, st=st, pad=pad):
            x, wt, dy = b.rand(X, T), b.rand(W, T), b.rand(Y, T)
            return lambda: torch.ops.aten.convolution_backward(dy, x, wt, None, [st, st], [pad, pad], [1, 1], False,
                                                               [0, 0], 1, mask)
        b.cudnn_case(kk + "_bwd_data", sh, dt, flops, 0, lambda: bwd([True, False, False]))
        b.cudnn_case(kk + "_bwd_weight", sh, dt, flops, 0, lambda: bwd([False, True, False]))

    # the deconv stage: ConvTranspose2d(32 + 34 -> 32, 4x4, stride 2, pad 1)
    ci, co, h, k, st, pad = 66, 32, S.res[0], 4, 2, 1
    X, W, Y = (N, ci, h, h), (ci, co, k, k), (N, co, 2 * h, 2 * h)
    sh = f"{dims(X)}->{co} k4 s2"
    flops = 2.0 * N * h * h * ci * co * k * k

    def tfwd():
        x, wt = b.rand(X, T), b.rand(W, T)
        return lambda: F.conv_transpose2d(x, wt, None, stride=st, padding=pad)
    b.cudnn_case("deconv4x4_fwd", sh, dt, flops, 0, tfwd)

    def tbwd(mask):
        x, wt, dy = b.rand(X, T), b.rand(W, T), b.rand(Y, T)
        return lambda: torch.ops.aten.convolution_backward(dy, x, wt, None, [st, st], [pad, pad], [1, 1], True,
                                                           [0, 0], 1, mask)
    b.cudnn_case("deconv4x4_bwd_data", sh, dt, flops, 0, lambda: tbwd([True, False, False]))
    b.cudnn_case("deconv4x4_bwd_weight", sh, dt, flops, 0, lambda: tbwd([False, True, False]))


def batch_norm_cases(b, S, dt):
    T, sz = DTYPES[dt], itemsize(DTYPES[dt])
    shapes = S.branches() + [(S.pose_n, 32, 2 * S.res[0], 2 * S.res[0])]
    shapes += [(S.cls_n, c, r, r) for c, r in zip(S.ch, S.cls_res)]
    for X in shapes:
        c, n = X[1], numel(X)

        def stats(c=c):  # fp32 whatever the activation type, as in hrnet and PyTorch AMP
            return (torch.ones(c, device=b.device), b.rand((c,), torch.float32), b.rand((c,), torch.float32),
                    torch.ones(c, device=b.device))

        def fwd(X=X, stats=stats):
            x = b.rand(X, T)
            gamma, beta, rm, rv = stats()
            return lambda: F.batch_norm(x, rm, rv, gamma, beta, training=True, momentum=0.1, eps=1e-5)
        b.cudnn_case("batch_norm_train_fwd", dims(X), dt, 0, 2 * n * sz, fwd)

        def bwd(X=X, stats=stats):
            x = b.rand(X, T, requires_grad=True)
            gamma, beta, rm, rv = stats()
            gamma.requires_grad_()
            beta.requires_grad_()
            y = F.batch_norm(x, rm, rv, gamma, beta, training=True, momentum=0.1, eps=1e-5)
            dy = b.rand(X, T)
            return lambda: y.backward(dy, retain_graph=True)
        b.cudnn_case("batch_norm_bwd", dims(X), dt, 0, 4 * n * sz, bwd)


def device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as f:
            return next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "cpu")
    except OSError:
        return "cpu"


def main():
    paragraphs = __doc__.split("\n\n")
    ap = argparse.ArgumentParser(description=paragraphs[0], epilog="\n\n".join(paragraphs[2:]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", help="write the results here (bench_kernels's schema)")
    ap.add_argument("--dtype", default="all", choices=["float", "half", "bfloat16", "all"],
                    help="default all (float only with --device cpu)")
    ap.add_argument("--iters", type=int, default=30, help="timed samples per case (default 30)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed calls per case before timing (default 5)")
    ap.add_argument("--only", default="", help="run only the cases whose name contains this")
    ap.add_argument("--tf32", action="store_true", help="allow TF32 for fp32 convolutions and matmuls")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--smoke", action="store_true", help="tiny shapes, 2 samples, 1 warm-up: a functional check")
    a = ap.parse_args()
    if a.smoke:
        a.iters, a.warmup = min(a.iters, 2), min(a.warmup, 1)
    if a.device == "cuda" and not torch.cuda.is_available():
        print("bench_kernels_torch: no CUDA device visible to PyTorch; this benchmark needs a GPU "
              "(--device cpu --smoke checks the script on the CPU)", file=sys.stderr)
        return 1
    device = torch.device(a.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = a.tf32
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
    dtypes = list(DTYPES) if a.dtype == "all" else [a.dtype]
    if device.type == "cpu" and a.dtype == "all":
        dtypes = ["float"]  # PyTorch's CPU kernels lack many half/bfloat16 forms
    S = Shapes(a.smoke)
    b = Bench(a, device)
    print(f"bench_kernels_torch on {device_name(device)}, PyTorch {torch.__version__}, dtype {a.dtype}, "
          f"{a.iters} samples after {a.warmup} warm-up calls per case{', TF32 allowed' if a.tf32 else ''}"
          f"{', SMOKE shapes' if a.smoke else ''}")
    b.measure_copy()
    for dt in dtypes:
        print(f"---- {dt} ----")
        elementwise_cases(b, S, dt)
        upsample_cases(b, S, dt)
        fusion_cases(b, S, dt)
        data_movement_cases(b, S, dt)
        conv_cases(b, S, dt)
        batch_norm_cases(b, S, dt)
        print()
    shapes = higherhrnet_w32_param_shapes()
    total, impls = 0, {}
    if b.selected("sgd_step_multi") or b.selected("adam_step_multi"):
        print("---- optimizer steps (fp32) ----")
        total, impls = optimizer_cases(b, shapes)
    if a.json:
        result = {
            "benchmark": "bench_kernels_torch",
            "framework": f"pytorch {torch.__version__}",
            "device": device_name(device),
            "date": datetime.date.today().isoformat(),
            "dtype": a.dtype,
            "iters": a.iters,
            "warmup": a.warmup,
            "tf32": a.tf32,
            "smoke": a.smoke,
            "cudnn_version": torch.backends.cudnn.version() if device.type == "cuda" else None,
            "copy_bandwidth_gbs": b.copy_gbs,
            "copy_bytes": int(b.copy_bytes),
            "copy_ms": b.copy_ms,
            "optimizer_params": {"model": "HigherHRNet-W32", "params": total, "tensors": len(shapes) if total else 0,
                                 "impl": impls},
            "kernels": b.kernels,
            "cudnn": b.cudnn,
        }
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
        print(f"results written to {a.json}")
    if b.failures:
        print(f"bench_kernels_torch: {b.failures} case(s) failed (see above)", file=sys.stderr)
    return 1 if b.failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Deterministic, hash-based parameter initialisation shared with the C++ tests.

Every ``state_dict`` entry ``name`` (PyTorch layout, row-major element order,
element index i = 0 .. numel-1) gets values from a counter-based generator, so
the C++ side can reproduce the same weights bit for bit without any RNG
state. All integer arithmetic is uint64, modulo 2^64:

    fnv1a64(s):    h = 0xcbf29ce484222325
                   for each byte b of s.encode('utf-8'): h ^= b; h *= 0x100000001b3
    splitmix64(x): x += 0x9e3779b97f4a7c15; z = x
                   z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
                   z = (z ^ (z >> 27)) * 0x94d049bb133111eb
                   return z ^ (z >> 31)
    u_i = double(splitmix64(fnv1a64(name) + i) >> 11) * 2^-53        in [0, 1)

Values are computed in float64 with exactly these expressions, then rounded
to float32 (round to nearest even):

    name ends with 'num_batches_tracked'     0 (int64, 0-d)
    name ends with 'running_var'             0.5 + u
    name ends with 'running_mean'            0.2 * (2*u - 1)
    rank >= 2 (conv / deconv / linear W)     (2*u - 1) * sqrt(3 / fan),
                                             fan = double(numel / shape[0])
    rank 1, name ends with 'weight' (BN g)   0.8 + 0.4*u
    rank 1, name ends with 'bias'            0.1 * (2*u - 1)

Note ``fan`` is numel / shape[0] in the stored layout, so for a transposed
convolution weight (C_in, C_out, kH, kW) it is C_out*kH*kW.

Run ``/usr/bin/python3 tests/models/det_init.py`` for a self-test that prints
reference values to cross-check another implementation.
"""

import math

import numpy as np
import torch

FNV_OFFSET = 0xcbf29ce484222325
FNV_PRIME = 0x100000001b3
MASK64 = (1 << 64) - 1


def fnv1a64(s):
    h = FNV_OFFSET
    for b in s.encode('utf-8'):
        h ^= b
        h = (h * FNV_PRIME) & MASK64
    return h


def splitmix64_scalar(x):
    """Pure-Python reference of splitmix64 (used by the self-test)."""
    x = (x + 0x9e3779b97f4a7c15) & MASK64
    z = x
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & MASK64
    return z ^ (z >> 31)


def uniforms(name, n):
    """u_0 .. u_{n-1} for state_dict entry ``name`` as a float64 array."""
    with np.errstate(over='ignore'):
        x = np.arange(n, dtype=np.uint64) + np.uint64(fnv1a64(name))
        x = x + np.uint64(0x9e3779b97f4a7c15)
        z = x
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xbf58476d1ce4e5b9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94d049bb133111eb)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (2.0 ** -53)


def det_values(name, shape):
    """The deterministic values of entry ``name`` with ``shape`` as a numpy
    array (float32, or int64 for num_batches_tracked)."""
    shape = tuple(int(s) for s in shape)
    numel = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if name.endswith('num_batches_tracked'):
        return np.zeros(shape, dtype=np.int64)
    u = uniforms(name, numel)
    if name.endswith('running_var'):
        v = 0.5 + u
    elif name.endswith('running_mean'):
        v = 0.2 * (2.0 * u - 1.0)
    elif len(shape) >= 2:
        fan = float(numel // shape[0])
        v = (2.0 * u - 1.0) * math.sqrt(3.0 / fan)
    elif len(shape) == 1 and name.endswith('weight'):
        v = 0.8 + 0.4 * u
    elif len(shape) == 1 and name.endswith('bias'):
        v = 0.1 * (2.0 * u - 1.0)
    else:
        raise ValueError('det_init: no rule for %s %s' % (name, shape))
    return v.astype(np.float32).reshape(shape)


@torch.no_grad()
def det_init_(module):
    """Overwrite every parameter and buffer of ``module`` in place."""
    for name, t in module.state_dict(keep_vars=True).items():
        vals = det_values(name, t.shape)
        if vals.dtype == np.int64:
            t.copy_(torch.from_numpy(vals).to(t.dtype))
        else:
            if t.dtype != torch.float32:
                raise TypeError('det_init: %s has dtype %s' % (name, t.dtype))
            t.copy_(torch.from_numpy(vals))
    return module


def _self_test():
    # Vectorised generator == scalar reference.
    for name in ('conv1.weight', 'bn1.running_var', 'x'):
        h = fnv1a64(name)
        ref = [float(splitmix64_scalar((h + i) & MASK64) >> 11) * 2.0 ** -53
               for i in range(5)]
        assert list(uniforms(name, 5)) == ref, name
    # Known FNV-1a 64 test vectors.
    assert fnv1a64('') == 0xcbf29ce484222325
    assert fnv1a64('a') == 0xaf63dc4c8601ec8c
    assert fnv1a64('foobar') == 0x85944171f73967e8
    # Known splitmix64 outputs for seed 0 (state advanced by the golden gamma).
    assert splitmix64_scalar(0) == 0xe220a8397b1dcdaf

    name = 'conv1.weight'
    h = fnv1a64(name)
    print('fnv1a64(%r) = 0x%016x' % (name, h))
    for i in range(3):
        z = splitmix64_scalar((h + i) & MASK64)
        print('  splitmix64(h + %d) = 0x%016x' % (i, z))
    u = uniforms(name, 3)
    v = det_values(name, (64, 3, 3, 3)).reshape(-1)[:3]
    print('u[0:3] = %s' % ', '.join(repr(float(x)) for x in u))
    print('conv1.weight (64,3,3,3), fan 27: first 3 values (float32):')
    for x in v:
        print('  %r  (0x%08x)' % (float(x), int(np.array(x, dtype=np.float32).view(np.uint32))))
    for name, shape in (('bn1.weight', (64,)), ('bn1.bias', (64,)),
                        ('bn1.running_mean', (64,)), ('bn1.running_var', (64,)),
                        ('deconv_layers.0.0.0.weight', (66, 32, 4, 4)),
                        ('final_layers.0.bias', (34,))):
        v = det_values(name, shape).reshape(-1)[:3]
        print('%s %s: %s' % (name, shape, ', '.join(repr(float(x)) for x in v)))


if __name__ == '__main__':
    _self_test()

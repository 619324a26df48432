// Per-element and per-channel batch-norm arithmetic of the CUDA backend, shared by its kernels and
// the host tests (plain C++; HRNET_HD makes it host+device under nvcc). Element math is fp32, the
// per-channel constants are computed in double as cpu::batch_norm_* does.
#pragma once
#include <math.h>

#include <cstdint>

#include "host_device.hpp"

namespace hrnet::bn {

// 1 / sqrt(var + eps), the saved and eval-mode "invstd".
HRNET_HD float invstd(double var, double eps) { return static_cast<float>(1.0 / ::sqrt(var + eps)); }

// The unbiased variance used for the running statistics (the biased one when there is one row).
HRNET_HD double unbiased_var(double sum_sq_dev, std::int64_t rows) {
  return rows > 1 ? sum_sq_dev / static_cast<double>(rows - 1) : sum_sq_dev / static_cast<double>(rows);
}

// running = (1 - momentum) * running + momentum * batch
HRNET_HD float running_update(float running, double batch, double momentum) {
  return static_cast<float>((1.0 - momentum) * static_cast<double>(running) + momentum * batch);
}

// The affine map of one channel: y = x * scale + shift, with scale = gamma * invstd and
// shift = beta - mean * gamma * invstd (the CPU reference's form).
struct Affine {
  float scale, shift;
};
HRNET_HD Affine affine(float gamma, float beta, float mean, float inv) {
  const double k = static_cast<double>(gamma) * static_cast<double>(inv);
  return {static_cast<float>(k), static_cast<float>(static_cast<double>(beta) - static_cast<double>(mean) * k)};
}
HRNET_HD float apply(Affine a, float x) { return x * a.scale + a.shift; }

HRNET_HD float relu(float v) { return v > 0.f ? v : 0.f; }
// The residual tail: relu(bn(x) + z).
HRNET_HD float add_relu(Affine a, float x, float z) { return relu(apply(a, x) + z); }
// Gradient through the relu of the tail: dy where the output is positive.
HRNET_HD float relu_mask(float dy, float y) { return y > 0.f ? dy : 0.f; }

// Eval-mode backward (mean and invstd are constants): dx = dy * gamma * invstd.
HRNET_HD float eval_dx(float dy, float gamma, float inv) { return dy * (gamma * inv); }
// The normalised input, the factor of dgamma's terms.
HRNET_HD float xhat(float x, float mean, float inv) { return (x - mean) * inv; }

// Training-mode backward: dx = k * (dy - a - (x - mean) * b) with, per channel over M rows,
// k = gamma * invstd, a = sum(dy) / M, b = sum(dy * xhat) / M * invstd.
struct TrainGrad {
  float k, a, b;
};
HRNET_HD TrainGrad train_grad(float gamma, float inv, double sum_dy, double sum_dy_xhat, std::int64_t rows) {
  const double m = static_cast<double>(rows);
  return {static_cast<float>(static_cast<double>(gamma) * inv), static_cast<float>(sum_dy / m),
          static_cast<float>(sum_dy_xhat / m * inv)};
}
HRNET_HD float train_dx(TrainGrad g, float dy, float x, float mean) { return g.k * (dy - g.a - (x - mean) * g.b); }

}  // namespace hrnet::bn

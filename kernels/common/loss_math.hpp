// Per-element loss math shared by the CUDA kernels (kernels/cuda/reduce_loss.cu, ae_loss.cu) and
// the CPU tests, following cpu::masked_mse_*, cpu::cross_entropy_* and cpu::ae_loss_*
// (kernels/cpu/linear_loss.cpp, ae_loss.cpp). The GPU's element terms are fp32 (the AE loss: fp64,
// as on the CPU); the CPU reference accumulates the element terms in double, so sums agree to
// fp32-accumulation accuracy, not bit for bit. Plain C++ (HRNET_HD is `inline` outside nvcc).
#pragma once
#include <math.h>

#include <cstdint>

#include "hrnet/backend/types.hpp"  // AeLossType
#include "host_device.hpp"

namespace hrnet::loss_math {

// ---- masked MSE ------------------------------------------------------------------------------------
// One term of sum((pred - gt)^2 * mask).
HRNET_HD float masked_mse_term(float pred, float gt, float mask) {
  const float d = pred - gt;
  return d * d * mask;
}
// The gradient's constant 2 * dloss / numel, in double then rounded once, as the CPU.
HRNET_HD float masked_mse_grad_scale(float dloss, std::int64_t numel) {
  return static_cast<float>(2.0 * double(dloss) / double(numel));
}
// d loss / d pred of one element: scale * (pred - gt) * mask, in the CPU's order.
HRNET_HD float masked_mse_grad(float scale, float pred, float gt, float mask) { return scale * (pred - gt) * mask; }

// ---- softmax cross-entropy with label smoothing ----------------------------------------------------
// PyTorch's rule with smoothing eps over K classes: the target distribution is
// (1 - eps) * onehot(y) + eps / K, so the row loss is (1 - eps) * (lse - z_y) + eps * (lse - mean(z)).
struct CeTargets {
  float on, off;  // target probability of the label class and of every other class
};
inline CeTargets ce_targets(double eps, std::int64_t K) {
  return {static_cast<float>(1.0 - eps + eps / double(K)), static_cast<float>(eps / double(K))};
}
// Row loss from the row's log-sum-exp, its label logit and the sum of its logits.
HRNET_HD float ce_row_loss(float lse, float z_label, float sum_z, std::int64_t K, float one_minus_eps, float eps) {
  return one_minus_eps * (lse - z_label) + eps * (lse - sum_z / static_cast<float>(K));
}
// d loss / d z_k = scale * (softmax_k - target_k), scale = dloss / N.
HRNET_HD float ce_grad(float scale, float z, float lse, float target) { return scale * (::expf(z - lse) - target); }

// ---- associative embedding (HigherHRNet) -----------------------------------------------------------
// The push kernel f(d) and f'(d), in double as on the CPU. f' follows PyTorch's autograd:
// d|d|/dd = sign(d) with sign(0) = 0, and clamp(min = 0) passes the gradient where its input is >= 0.
HRNET_HD double ae_push_f(double d, AeLossType type) {
  if (type == AeLossType::Exp) return ::exp(-d * d);
  const double r = 1.0 - ::fabs(d);
  return r > 0.0 ? r : 0.0;
}
HRNET_HD double ae_push_df(double d, AeLossType type) {
  if (type == AeLossType::Exp) return -2.0 * d * ::exp(-d * d);
  if (1.0 - ::fabs(d) < 0.0) return 0.0;
  return d > 0 ? -1.0 : (d < 0 ? 1.0 : 0.0);
}
// Image loss values from the per-person sums: push from sum_{a,b} f(tbar_a - tbar_b) over P people,
// pull from sum_p (1/m_p) sum_{t in S_p} (t - tbar_p)^2.
HRNET_HD double ae_push(double f_sum, std::int64_t P) {
  return P >= 2 ? 0.5 * (f_sum - double(P)) / (double(P) * double(P - 1)) : 0.0;
}
HRNET_HD double ae_pull(double pull_sum, std::int64_t P) { return P > 0 ? pull_sum / double(P) : 0.0; }
// The gradient of dpush * push + dpull * pull with respect to one visible tag t of a person with m
// visible joints and mean tbar: pull flows directly (the terms through tbar sum to 0), push through
// tbar, whose gradient d(push)/d(tbar) * dpush = gmean spreads evenly over the m joints.
HRNET_HD double ae_tag_grad(double t, double tbar, double m, double gpull_per_person, double gmean) {
  return gpull_per_person * 2.0 / m * (t - tbar) + gmean / m;
}
// gmean_a = dpush / (P (P - 1)) * sum_b f'(tbar_a - tbar_b) (f' odd, each pair counted twice with 0.5).
HRNET_HD double ae_push_mean_grad(double dpush, std::int64_t P, double df_sum) {
  return dpush / (double(P) * double(P - 1)) * df_sum;
}

}  // namespace hrnet::loss_math

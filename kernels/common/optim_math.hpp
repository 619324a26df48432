// Per-element optimizer updates shared by the CUDA kernels (kernels/cuda/optim.cu) and the CPU
// tests, with PyTorch's single-tensor update rules in cpu::sgd_step_multi / cpu::adam_step_multi's operation
// order. Every multiply-add is an explicit fma: the compiler then has no contraction left to choose,
// so the host and the device compute bit-identical results (IEEE fma, division and square root on
// both; nvcc's default -prec-div/-prec-sqrt). cpu::sgd_step_multi/adam_step_multi leave contraction to the
// compiler, so they agree with these to a few ulps, not bit for bit.
// Plain C++ (HRNET_HD is `inline` outside nvcc).
#pragma once
#include <math.h>

#include <cmath>
#include <cstdint>

#include "host_device.hpp"

namespace hrnet::optim_math {

HRNET_HD float fma_(float a, float b, float c) { return ::fmaf(a, b, c); }
HRNET_HD double fma_(double a, double b, double c) { return ::fma(a, b, c); }
HRNET_HD float sqrt_(float x) { return ::sqrtf(x); }
HRNET_HD double sqrt_(double x) { return ::sqrt(x); }

// ---- SGD -------------------------------------------------------------------------------------------
// The step's constants, rounded to T once on the host as cpu::sgd_step_multi does.
template <class T>
struct SgdParams {
  T wd, mom, damp, nlr;  // weight decay, momentum, 1 - dampening, -lr
  bool use_wd, use_momentum, nesterov, first_step;
};

template <class T>
inline SgdParams<T> sgd_params(double lr, double momentum, double dampening, double weight_decay, bool nesterov,
                               bool first_step) {
  return {static_cast<T>(weight_decay), static_cast<T>(momentum), static_cast<T>(1.0 - dampening),
          static_cast<T>(-lr),          weight_decay != 0,          momentum != 0,
          nesterov,                     first_step};
}

// d = g + wd*p; buf = first ? d : mom*buf + (1-dampening)*d; d = nesterov ? d + mom*buf : buf;
// p += -lr*d. `buf` is untouched when momentum is 0.
template <class T>
HRNET_HD void sgd_update(const SgdParams<T>& c, T& p, T g, T& buf) {
  T d = g;
  if (c.use_wd) d = fma_(c.wd, p, d);
  if (c.use_momentum) {
    buf = c.first_step ? d : fma_(buf, c.mom, c.damp * d);
    d = c.nesterov ? fma_(c.mom, buf, d) : buf;
  }
  p = fma_(c.nlr, d, p);
}

// ---- Adam / AdamW -----------------------------------------------------------------------------------
// Bias corrections in double on the host, then rounded to T, exactly as cpu::adam_step_multi.
template <class T>
struct AdamParams {
  T step_size, bc2_sqrt, b1, b2, one_b1, one_b2, eps, wd, decay;
  bool use_wd, decoupled;
};

template <class T>
inline AdamParams<T> adam_params(double lr, double beta1, double beta2, double eps, double weight_decay,
                                 bool decoupled, std::int64_t step) {
  const double bc1 = 1.0 - std::pow(beta1, double(step)), bc2 = 1.0 - std::pow(beta2, double(step));
  AdamParams<T> c;
  c.step_size = static_cast<T>(lr / bc1);
  c.bc2_sqrt = static_cast<T>(std::sqrt(bc2));
  c.b1 = static_cast<T>(beta1);
  c.b2 = static_cast<T>(beta2);
  c.one_b1 = static_cast<T>(1.0 - beta1);
  c.one_b2 = static_cast<T>(1.0 - beta2);
  c.eps = static_cast<T>(eps);
  c.wd = static_cast<T>(weight_decay);
  c.decay = static_cast<T>(1.0 - lr * weight_decay);
  c.use_wd = weight_decay != 0;
  c.decoupled = decoupled;
  return c;
}

// Adam adds wd*p to the gradient, AdamW scales p by 1 - lr*wd first; then
// m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g; p -= step_size * m / (sqrt(v)/sqrt(bc2) + eps).
template <class T>
HRNET_HD void adam_update(const AdamParams<T>& c, T& p, T g, T& m, T& v) {
  T grad = g;
  if (c.use_wd) {
    if (c.decoupled) p = p * c.decay;
    else grad = fma_(c.wd, p, grad);
  }
  m = fma_(m, c.b1, c.one_b1 * grad);
  v = fma_(v, c.b2, c.one_b2 * grad * grad);
  const T denom = sqrt_(v) / c.bc2_sqrt + c.eps;
  p = fma_(-c.step_size, m / denom, p);
}

}  // namespace hrnet::optim_math

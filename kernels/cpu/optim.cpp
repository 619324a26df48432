// Optimizer updates, in the same operation order as PyTorch's single-tensor implementations so
// that results agree to the last few ulps.
#include <cmath>

#include "common.hpp"

namespace hrnet::cpu {
namespace {

template <class T>
void sgd_step(T* p, const T* g, T* buf, std::int64_t n, double lr, double momentum, double dampening,
              double weight_decay, bool nesterov, bool first_step) {
  const T wd = static_cast<T>(weight_decay), mom = static_cast<T>(momentum), damp = static_cast<T>(1.0 - dampening),
          nlr = static_cast<T>(-lr);
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < n; ++i) {
    T d = g[i];
    if (weight_decay != 0) d = d + wd * p[i];
    if (momentum != 0) {
      buf[i] = first_step ? d : buf[i] * mom + damp * d;
      d = nesterov ? d + mom * buf[i] : buf[i];
    }
    p[i] = p[i] + nlr * d;
  }
}

template <class T>
void adam_step(T* p, const T* g, T* m, T* v, std::int64_t n, double lr, double beta1, double beta2, double eps,
               double weight_decay, bool decoupled, std::int64_t step) {
  const double bc1 = 1.0 - std::pow(beta1, double(step)), bc2 = 1.0 - std::pow(beta2, double(step));
  const T step_size = static_cast<T>(lr / bc1), bc2_sqrt = static_cast<T>(std::sqrt(bc2));
  const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2), one_b1 = static_cast<T>(1.0 - beta1),
          one_b2 = static_cast<T>(1.0 - beta2), e = static_cast<T>(eps), wd = static_cast<T>(weight_decay),
          decay = static_cast<T>(1.0 - lr * weight_decay);
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < n; ++i) {
    T grad = g[i];
    if (weight_decay != 0) {
      if (decoupled) p[i] = p[i] * decay;
      else grad = grad + wd * p[i];
    }
    m[i] = m[i] * b1 + one_b1 * grad;
    v[i] = v[i] * b2 + one_b2 * grad * grad;
    const T denom = std::sqrt(v[i]) / bc2_sqrt + e;
    p[i] = p[i] - step_size * (m[i] / denom);
  }
}

}  // namespace

// One parameter after another, in list order (each update touches only its own parameter).
template <ComputeType T>
void sgd_step_multi(const std::vector<ParamSlot<T, CPU>>& params, double lr, double momentum, double dampening,
                    double weight_decay, bool nesterov, bool first_step) {
  for (const auto& ps : params)
    sgd_step(ps.param, ps.grad, ps.state1, ps.numel, lr, momentum, dampening, weight_decay, nesterov, first_step);
}

template <ComputeType T>
void adam_step_multi(const std::vector<ParamSlot<T, CPU>>& params, double lr, double beta1, double beta2, double eps,
                     double weight_decay, bool decoupled, std::int64_t step) {
  for (const auto& ps : params)
    adam_step(ps.param, ps.grad, ps.state1, ps.state2, ps.numel, lr, beta1, beta2, eps, weight_decay, decoupled, step);
}

#define HRNET_INSTANTIATE(T)                                                                                      \
  template void sgd_step_multi<T>(const std::vector<ParamSlot<T, CPU>>&, double, double, double, double, bool,    \
                                  bool);                                                                          \
  template void adam_step_multi<T>(const std::vector<ParamSlot<T, CPU>>&, double, double, double, double, double, \
                                   bool, std::int64_t);
HRNET_INSTANTIATE(float)
HRNET_INSTANTIATE(double)
#undef HRNET_INSTANTIATE

}  // namespace hrnet::cpu

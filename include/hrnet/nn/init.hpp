// Weight initialisers (CPU tensors; move to the device afterwards).
//   default_init      PyTorch's nn.Conv2d / nn.Linear default (kaiming_uniform, a = sqrt(5))
//   normal_           N(0, std^2), e.g. HigherHRNet's std = 0.001
//   kaiming_normal_fan_out   He init with fan_out and ReLU gain, HRNet classification's choice
#pragma once
#include <cmath>

#include "hrnet/nn/module.hpp"

namespace hrnet::nn::init {

// fan_in / fan_out of a (O, I, K, K) conv weight or an (O, I) linear weight.
inline std::int64_t fan_in(const Shape& s) { return s.rank() == 4 ? s.c() * s.h() * s.w() : s[1]; }
inline std::int64_t fan_out(const Shape& s) { return s.rank() == 4 ? s.n() * s.h() * s.w() : s[0]; }

template <ComputeType T>
void uniform_(Tensor<T, CPU>& t, double bound, Rng& rng = default_rng()) {
  fill_uniform(t, rng, -bound, bound);
}
template <ComputeType T>
void normal_(Tensor<T, CPU>& t, double std, Rng& rng = default_rng()) {
  fill_normal(t, rng, 0.0, std);
}
template <ComputeType T>
void kaiming_normal_fan_out(Tensor<T, CPU>& w, Rng& rng = default_rng()) {
  normal_(w, std::sqrt(2.0 / double(fan_out(w.shape()))), rng);
}
// weight bound = gain * sqrt(3 / fan_in) with gain = sqrt(2 / (1 + 5)) -> 1 / sqrt(fan_in); the
// bias uses the same bound.
template <ComputeType T>
void default_init(Tensor<T, CPU>& w, Tensor<T, CPU>* bias, std::int64_t fan_in_override = 0, Rng& rng = default_rng()) {
  const double fi = double(fan_in_override ? fan_in_override : fan_in(w.shape()));
  const double bound = fi > 0 ? 1.0 / std::sqrt(fi) : 0.0;
  uniform_(w, bound, rng);
  if (bias && bias->defined()) uniform_(*bias, bound, rng);
}

}  // namespace hrnet::nn::init

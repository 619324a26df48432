// Scalar combination of loss terms: sum_i weights[i] * mean(xs[i]), accumulated in double.
// HigherHRNet's loss is weighted_mean_sum({hm_128, hm_256, push, pull}, {1, 1, 0.001, 0.001}).
#pragma once
#include <vector>

#include "hrnet/ops/detail.hpp"

namespace hrnet::ops {

template <FloatType T, Device D>
Var<T, D> weighted_mean_sum(const std::vector<Var<T, D>>& xs, const std::vector<double>& weights) {
  detail::check_backend<T, D>();
  HRNET_CHECK(!xs.empty() && xs.size() == weights.size(), ValueError,
              "weighted_mean_sum: " << xs.size() << " inputs and " << weights.size() << " weights");
  std::vector<const Tensor<T, D>*> vals;
  bool need = false;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    HRNET_CHECK(xs[i].value().numel() > 0, ShapeError, "weighted_mean_sum: input " << i << " " << xs[i].shape() << " is empty");
    vals.push_back(&xs[i].value());
    need = need || detail::any_requires_grad<T, D>({&xs[i]});
  }
  auto y = Tensor<T, D>::empty(Shape{});
  backend::weighted_mean_sum_forward(vals, weights, y);
  Var<T, D> out(y, need);
  if (need)
    detail::record(out, [xs, weights](const Tensor<T, D>& gy) mutable {
      std::vector<Tensor<T, D>*> grads;
      for (auto& x : xs) grads.push_back(x.requires_grad() ? &x.grad_buffer() : nullptr);
      backend::weighted_mean_sum_backward(gy, weights, grads);
    });
  return out;
}

}  // namespace hrnet::ops

// relu, n-ary add, and the HRNet fusion node (sum of nearest-upsampled inputs, then ReLU).
#pragma once
#include <vector>

#include "hrnet/ops/detail.hpp"

namespace hrnet::ops {

template <FloatType T, Device D>
Var<T, D> relu(const Var<T, D>& x) {
  detail::check_backend<T, D>();
  auto y = Tensor<T, D>::empty(x.shape());
  backend::relu_forward(x.value(), y);
  Var<T, D> out(y, detail::any_requires_grad<T, D>({&x}));
  if (out.requires_grad())
    detail::record(out, [x, y](const Tensor<T, D>& gy) mutable { backend::relu_backward(y, gy, x.grad_buffer()); });
  return out;
}

// y = xs[0] + xs[1] + ... (left to right); all shapes equal.
template <FloatType T, Device D>
Var<T, D> add(const std::vector<Var<T, D>>& xs) {
  detail::check_backend<T, D>();
  HRNET_CHECK(!xs.empty(), ValueError, "add: needs at least one input");
  std::vector<const Tensor<T, D>*> vals;
  bool need = false;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    HRNET_CHECK(xs[i].shape() == xs[0].shape(), ShapeError,
                "add: input " << i << " has shape " << xs[i].shape() << ", input 0 has " << xs[0].shape());
    vals.push_back(&xs[i].value());
    need = need || detail::any_requires_grad<T, D>({&xs[i]});
  }
  auto y = Tensor<T, D>::empty(xs[0].shape());
  backend::add_forward(vals, y);
  Var<T, D> out(y, need);
  if (need)
    detail::record(out, [xs](const Tensor<T, D>& gy) mutable {
      for (auto& x : xs)
        if (x.requires_grad()) backend::accumulate(gy, x.grad_buffer());
    });
  return out;
}
template <FloatType T, Device D>
Var<T, D> add(std::initializer_list<Var<T, D>> xs) {
  return add(std::vector<Var<T, D>>(xs));
}
template <FloatType T, Device D>
Var<T, D> add(const Var<T, D>& a, const Var<T, D>& b) {
  return add(std::vector<Var<T, D>>{a, b});
}

// relu(sum_j upsample_nearest(xs[j], factors[j])): one pass over the output for a whole fusion
// node. Every input must have the output's channels and (H, W) equal to the output's / factor.
template <FloatType T, Device D>
Var<T, D> fusion_sum_relu(const std::vector<Var<T, D>>& xs, const std::vector<int>& factors) {
  detail::check_backend<T, D>();
  HRNET_CHECK(!xs.empty() && xs.size() == factors.size(), ValueError,
              "fusion_sum_relu: " << xs.size() << " inputs and " << factors.size() << " factors");
  Shape os;
  bool need = false;
  std::vector<const Tensor<T, D>*> vals;
  for (std::size_t j = 0; j < xs.size(); ++j) {
    const Shape& s = xs[j].shape();
    HRNET_CHECK(s.rank() == 4 && factors[j] >= 1, ShapeError,
                "fusion_sum_relu: input " << j << " " << s << " with factor " << factors[j] << " is invalid");
    const Shape up{s.n(), s.c(), s.h() * factors[j], s.w() * factors[j]};
    if (j == 0) os = up;
    HRNET_CHECK(up == os, ShapeError,
                "fusion_sum_relu: input " << j << " " << s << " upsampled by " << factors[j] << " gives " << up
                                          << ", input 0 gives " << os);
    vals.push_back(&xs[j].value());
    need = need || detail::any_requires_grad<T, D>({&xs[j]});
  }
  auto y = Tensor<T, D>::empty(os);
  backend::fusion_sum_relu_forward(vals, factors, y);
  Var<T, D> out(y, need);
  if (need)
    detail::record(out, [xs, factors, y](const Tensor<T, D>& gy) mutable {
      std::vector<Tensor<T, D>*> grads;
      for (auto& x : xs) grads.push_back(x.requires_grad() ? &x.grad_buffer() : nullptr);
      backend::fusion_sum_relu_backward(y, gy, grads, factors);
    });
  return out;
}
template <FloatType T, Device D>
Var<T, D> fusion_sum_relu(std::initializer_list<Var<T, D>> xs, const std::vector<int>& factors) {
  return fusion_sum_relu(std::vector<Var<T, D>>(xs), factors);
}

}  // namespace hrnet::ops

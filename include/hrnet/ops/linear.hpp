// linear: y = x w^T + b with x (N,F), w (O,F), b (O) — PyTorch's F.linear.
#pragma once
#include "hrnet/ops/detail.hpp"

namespace hrnet::ops {

template <FloatType T, Device D>
Var<T, D> linear(const Var<T, D>& x, const Var<T, D>& w, const Var<T, D>& bias) {
  detail::check_backend<T, D>();
  const Shape &xs = x.shape(), &ws = w.shape();
  HRNET_CHECK(xs.rank() == 2 && ws.rank() == 2 && ws[1] == xs[1], ShapeError,
              "linear: input " << xs << " and weight " << ws << " do not fit (need (N,F) and (O,F))");
  if (bias.defined())
    HRNET_CHECK(bias.shape() == Shape({ws[0]}), ShapeError, "linear: bias " << bias.shape() << " must be [" << ws[0] << "]");
  auto y = Tensor<T, D>::empty({xs[0], ws[0]});
  backend::linear_forward(x.value(), w.value(), bias.defined() ? &bias.value() : nullptr, y);
  Var<T, D> out(y, detail::any_requires_grad<T, D>({&x, &w, &bias}));
  if (out.requires_grad())
    detail::record(out, [x, w, bias](const Tensor<T, D>& gy) mutable {
      backend::linear_backward(x.value(), w.value(), gy, x.requires_grad() ? &x.grad_buffer() : nullptr,
                              w.requires_grad() ? &w.grad_buffer() : nullptr,
                              bias.defined() && bias.requires_grad() ? &bias.grad_buffer() : nullptr);
    });
  return out;
}

}  // namespace hrnet::ops

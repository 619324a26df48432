// Nearest upsampling by an integer factor (differentiable) and bilinear resizing with
// align_corners = false (forward only: used by inference, never trained through).
#pragma once
#include "hrnet/ops/detail.hpp"

namespace hrnet::ops {

template <FloatType T, Device D>
Var<T, D> upsample_nearest(const Var<T, D>& x, int factor) {
  detail::check_backend<T, D>();
  const Shape& s = x.shape();
  HRNET_CHECK(s.rank() == 4, ShapeError, "upsample_nearest: input must be 4-D, got " << s);
  HRNET_CHECK(factor >= 1, ValueError, "upsample_nearest: factor must be >= 1, got " << factor);
  auto y = Tensor<T, D>::empty({s.n(), s.c(), s.h() * factor, s.w() * factor});
  backend::upsample_nearest_forward(x.value(), y, factor);
  Var<T, D> out(y, detail::any_requires_grad<T, D>({&x}));
  if (out.requires_grad())
    detail::record(out, [x, factor](const Tensor<T, D>& gy) mutable {
      backend::upsample_nearest_backward(gy, x.grad_buffer(), factor);
    });
  return out;
}

// F.interpolate(x, size=(height, width), mode='bilinear', align_corners=False)
template <FloatType T, Device D>
Tensor<T, D> resize_bilinear(const Tensor<T, D>& x, std::int64_t height, std::int64_t width) {
  detail::check_backend<T, D>();
  HRNET_CHECK(x.rank() == 4, ShapeError, "resize_bilinear: input must be 4-D, got " << x.shape());
  HRNET_CHECK(height >= 1 && width >= 1 && x.shape().h() >= 1 && x.shape().w() >= 1, ShapeError,
              "resize_bilinear: cannot resize " << x.shape() << " to " << height << "x" << width);
  auto y = Tensor<T, D>::empty({x.shape().n(), x.shape().c(), height, width});
  backend::resize_bilinear_forward(x, y);
  return y;
}

}  // namespace hrnet::ops

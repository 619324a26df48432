// Global average pooling (differentiable; (N,C,H,W) -> (N,C), PyTorch's
// F.avg_pool2d(x, x.size()[2:]).flatten(1)) and max pooling (forward only, e.g. heatmap NMS).
#pragma once
#include "hrnet/ops/detail.hpp"

namespace hrnet::ops {

template <FloatType T, Device D>
Var<T, D> global_avg_pool(const Var<T, D>& x) {
  detail::check_backend<T, D>();
  const Shape& s = x.shape();
  HRNET_CHECK(s.rank() == 4 && s.h() * s.w() > 0, ShapeError, "global_avg_pool: input must be 4-D with H, W > 0, got " << s);
  auto y = Tensor<T, D>::empty({s.n(), s.c()});
  backend::global_avg_pool_forward(x.value(), y);
  Var<T, D> out(y, detail::any_requires_grad<T, D>({&x}));
  if (out.requires_grad())
    detail::record(out, [x](const Tensor<T, D>& gy) mutable { backend::global_avg_pool_backward(gy, x.grad_buffer()); });
  return out;
}

// F.max_pool2d(x, kernel, stride, padding) with floor rounding.
template <FloatType T, Device D>
Tensor<T, D> max_pool2d(const Tensor<T, D>& x, int kernel, int stride, int padding) {
  detail::check_backend<T, D>();
  const Shape& s = x.shape();
  HRNET_CHECK(s.rank() == 4, ShapeError, "max_pool2d: input must be 4-D, got " << s);
  HRNET_CHECK(kernel >= 1 && stride >= 1 && padding >= 0 && 2 * padding <= kernel, ValueError,
              "max_pool2d: kernel " << kernel << ", stride " << stride << ", padding " << padding
                                    << " are invalid (padding must be at most half the kernel)");
  const std::int64_t Ho = (s.h() + 2 * padding - kernel) / stride + 1, Wo = (s.w() + 2 * padding - kernel) / stride + 1;
  HRNET_CHECK(Ho >= 1 && Wo >= 1, ShapeError, "max_pool2d: input " << s << " is smaller than the kernel");
  auto y = Tensor<T, D>::empty({s.n(), s.c(), Ho, Wo});
  backend::max_pool_forward(x, y, kernel, stride, padding);
  return y;
}

}  // namespace hrnet::ops

// A channel range of a 4-D tensor: x[:, begin:end] (the heatmap and tag channels of a pose output).
#pragma once
#include "hrnet/ops/detail.hpp"

namespace hrnet::ops {

template <FloatType T, Device D>
Var<T, D> slice_channels(const Var<T, D>& x, std::int64_t begin, std::int64_t end) {
  detail::check_backend<T, D>();
  const Shape& s = x.shape();
  HRNET_CHECK(s.rank() == 4, ShapeError, "slice_channels: input must be 4-D, got " << s);
  HRNET_CHECK(0 <= begin && begin <= end && end <= s.c(), ShapeError,
              "slice_channels: range [" << begin << ", " << end << ") is not inside the " << s.c() << " channels of "
                                        << s);
  auto y = Tensor<T, D>::empty({s.n(), end - begin, s.h(), s.w()});
  backend::slice_channels_forward(x.value(), begin, y);
  Var<T, D> out(y, detail::any_requires_grad<T, D>({&x}));
  if (out.requires_grad())
    detail::record(out, [x, begin](const Tensor<T, D>& gy) mutable {
      backend::slice_channels_backward(gy, begin, x.grad_buffer());
    });
  return out;
}

}  // namespace hrnet::ops

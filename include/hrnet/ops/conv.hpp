// conv2d and conv_transpose2d with hand-written backward.
#pragma once
#include "hrnet/ops/detail.hpp"

namespace hrnet::ops {

struct ConvOptions {
  int stride = 1;
  int padding = 0;
  int output_padding = 0;  // transposed convolution only
};

// x (N,Ci,H,W), w (Co,Ci,K,K), optional bias (Co): PyTorch's F.conv2d(x, w, b, stride, padding).
template <FloatType T, Device D>
Var<T, D> conv2d(const Var<T, D>& x, const Var<T, D>& w, const Var<T, D>& bias, ConvOptions o) {
  detail::check_backend<T, D>();
  const Shape &xs = x.shape(), &ws = w.shape();
  HRNET_CHECK(xs.rank() == 4 && ws.rank() == 4, ShapeError,
              "conv2d: input " << xs << " and weight " << ws << " must both be 4-D");
  HRNET_CHECK(ws.c() == xs.c(), ShapeError,
              "conv2d: weight " << ws << " expects " << ws.c() << " input channels, input " << xs << " has " << xs.c());
  HRNET_CHECK(ws.h() == ws.w(), ShapeError, "conv2d: only square kernels are supported, weight is " << ws);
  HRNET_CHECK(o.stride >= 1 && o.padding >= 0 && o.output_padding == 0, ValueError,
              "conv2d: stride " << o.stride << ", padding " << o.padding << " and output_padding " << o.output_padding
                                << " are invalid (output_padding is for conv_transpose2d)");
  const int K = detail::to_int(ws.h());
  const std::int64_t Ho = (xs.h() + 2 * o.padding - K) / o.stride + 1, Wo = (xs.w() + 2 * o.padding - K) / o.stride + 1;
  HRNET_CHECK(xs.h() + 2 * o.padding >= K && xs.w() + 2 * o.padding >= K, ShapeError,
              "conv2d: input " << xs << " with padding " << o.padding << " is smaller than the kernel " << K);
  if (bias.defined())
    HRNET_CHECK(bias.shape() == Shape({ws.n()}), ShapeError,
                "conv2d: bias " << bias.shape() << " must be [" << ws.n() << "]");
  auto y = Tensor<T, D>::empty({xs.n(), ws.n(), Ho, Wo});
  backend::conv2d_forward(x.value(), w.value(), bias.defined() ? &bias.value() : nullptr, y, o.stride, o.padding);
  Var<T, D> out(y, detail::any_requires_grad<T, D>({&x, &w, &bias}));
  if (out.requires_grad())
    detail::record(out, [x, w, bias, o](const Tensor<T, D>& gy) mutable {
      if (x.requires_grad()) backend::conv2d_backward_data(gy, w.value(), x.grad_buffer(), o.stride, o.padding);
      if (w.requires_grad()) backend::conv2d_backward_weight(x.value(), gy, w.grad_buffer(), o.stride, o.padding);
      if (bias.defined() && bias.requires_grad()) backend::bias_backward(gy, bias.grad_buffer());
    });
  return out;
}
template <FloatType T, Device D>
Var<T, D> conv2d(const Var<T, D>& x, const Var<T, D>& w, ConvOptions o) {
  return conv2d(x, w, Var<T, D>(), o);
}

// x (N,Ci,H,W), w (Ci,Co,K,K) (PyTorch's layout for ConvTranspose2d), optional bias (Co).
// Output (N, Co, (H-1)*stride - 2*padding + K + output_padding, ...).
template <FloatType T, Device D>
Var<T, D> conv_transpose2d(const Var<T, D>& x, const Var<T, D>& w, const Var<T, D>& bias, ConvOptions o) {
  detail::check_backend<T, D>();
  const Shape &xs = x.shape(), &ws = w.shape();
  HRNET_CHECK(xs.rank() == 4 && ws.rank() == 4, ShapeError,
              "conv_transpose2d: input " << xs << " and weight " << ws << " must both be 4-D");
  HRNET_CHECK(ws.n() == xs.c(), ShapeError,
              "conv_transpose2d: weight " << ws << " expects " << ws.n() << " input channels, input " << xs
                                          << " has " << xs.c());
  HRNET_CHECK(ws.h() == ws.w(), ShapeError, "conv_transpose2d: only square kernels are supported, weight is " << ws);
  HRNET_CHECK(o.stride >= 1 && o.padding >= 0 && o.output_padding >= 0 &&
                  o.output_padding < std::max(o.stride, 1),
              ValueError,
              "conv_transpose2d: stride " << o.stride << ", padding " << o.padding << ", output_padding "
                                          << o.output_padding << " are invalid (output_padding must be < stride)");
  const int K = detail::to_int(ws.h());
  const std::int64_t Ho = (xs.h() - 1) * o.stride - 2 * o.padding + K + o.output_padding;
  const std::int64_t Wo = (xs.w() - 1) * o.stride - 2 * o.padding + K + o.output_padding;
  HRNET_CHECK(Ho > 0 && Wo > 0, ShapeError, "conv_transpose2d: output would be empty for input " << xs);
  if (bias.defined())
    HRNET_CHECK(bias.shape() == Shape({ws.c()}), ShapeError,
                "conv_transpose2d: bias " << bias.shape() << " must be [" << ws.c() << "]");
  auto y = Tensor<T, D>::empty({xs.n(), ws.c(), Ho, Wo});
  backend::conv_transpose2d_forward(x.value(), w.value(), bias.defined() ? &bias.value() : nullptr, y, o.stride,
                                   o.padding);
  Var<T, D> out(y, detail::any_requires_grad<T, D>({&x, &w, &bias}));
  if (out.requires_grad())
    detail::record(out, [x, w, bias, o](const Tensor<T, D>& gy) mutable {
      if (x.requires_grad()) backend::conv_transpose2d_backward_data(gy, w.value(), x.grad_buffer(), o.stride, o.padding);
      if (w.requires_grad()) backend::conv_transpose2d_backward_weight(x.value(), gy, w.grad_buffer(), o.stride, o.padding);
      if (bias.defined() && bias.requires_grad()) backend::bias_backward(gy, bias.grad_buffer());
    });
  return out;
}

}  // namespace hrnet::ops

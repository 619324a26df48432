// batch_norm: per-channel normalisation over (N, H, W). Training mode normalises with the batch
// statistics and updates the running ones (momentum 0.1, unbiased variance, as PyTorch); eval mode
// normalises with the running statistics. Backward differentiates through the batch statistics in
// training mode only.
#pragma once

#include "hrnet/ops/detail.hpp"
#include "hrnet/ops/elementwise.hpp"

namespace hrnet::ops {

struct BatchNormOptions {
  bool training = true;
  double momentum = 0.1;
  double eps = 1e-5;
};

template <FloatType T, Device D>
Var<T, D> batch_norm(const Var<T, D>& x, const Var<T, D>& weight, const Var<T, D>& bias, Tensor<T, D>& running_mean,
                     Tensor<T, D>& running_var, BatchNormOptions o = {}) {
  detail::check_backend<T, D>();
  const Shape& xs = x.shape();
  HRNET_CHECK(xs.rank() == 4 && xs.numel() > 0, ShapeError, "batch_norm: input must be non-empty 4-D (N,C,H,W), got " << xs);
  const Shape cs{xs.c()};
  check_shape(weight.value(), cs, "batch_norm: weight");
  check_shape(bias.value(), cs, "batch_norm: bias");
  check_shape(running_mean, cs, "batch_norm: running_mean");
  check_shape(running_var, cs, "batch_norm: running_var");
  HRNET_CHECK(!o.training || xs.numel() / xs.c() > 1, ValueError,
              "batch_norm: training mode needs more than one value per channel, input is " << xs);
  auto y = Tensor<T, D>::empty(xs);
  auto mean = Tensor<T, D>::empty(cs), invstd = Tensor<T, D>::empty(cs);
  if (o.training) {
    backend::batch_norm_forward_train(x.value(), weight.value(), bias.value(), running_mean, running_var, y, mean, invstd,
                                     o.momentum, o.eps);
  } else {
    backend::batch_norm_forward_eval(x.value(), weight.value(), bias.value(), running_mean, running_var, y, o.eps);
  }
  Var<T, D> out(y, detail::any_requires_grad<T, D>({&x, &weight, &bias}));
  if (out.requires_grad()) {
    if (!o.training) {  // constants of the eval-mode affine map, taken now (the buffers may change later)
      mean.copy_from(running_mean);
      backend::batch_norm_eval_invstd(running_var, o.eps, invstd);
    }
    detail::record(out, [x, weight, bias, mean, invstd, training = o.training, eps = o.eps](const Tensor<T, D>& gy) mutable {
      backend::batch_norm_backward(x.value(), gy, weight.value(), mean, invstd, training, eps,
                                  x.requires_grad() ? &x.grad_buffer() : nullptr,
                                  weight.requires_grad() ? &weight.grad_buffer() : nullptr,
                                  bias.requires_grad() ? &bias.grad_buffer() : nullptr);
    });
  }
  return out;
}

// relu(batch_norm(x) + residual), or relu(batch_norm(x)) when `residual` is undefined: the tail of
// every HRNet block and ConvBN unit. In training mode it is one backend call with a fused backward
// (on CUDA one pass: cuDNN's BN with its add+activation epilogue, or our kernel; on the CPU the
// composition of the batch_norm, add and relu kernels, so the results are those of the separate
// ops); in eval mode it is the composition of the ops.
template <FloatType T, Device D>
Var<T, D> batch_norm_add_relu(const Var<T, D>& x, const Var<T, D>& weight, const Var<T, D>& bias,
                              Tensor<T, D>& running_mean, Tensor<T, D>& running_var, const Var<T, D>& residual,
                              BatchNormOptions o = {}) {
  auto composed = [&] {
    Var<T, D> y = batch_norm(x, weight, bias, running_mean, running_var, o);
    return relu(residual.defined() ? add(y, residual) : y);
  };
  if (!o.training) return composed();
  detail::check_backend<T, D>();
  const Shape& xs = x.shape();
  HRNET_CHECK(xs.rank() == 4 && xs.numel() > 0, ShapeError,
              "batch_norm_add_relu: input must be non-empty 4-D (N,C,H,W), got " << xs);
  const Shape cs{xs.c()};
  check_shape(weight.value(), cs, "batch_norm_add_relu: weight");
  check_shape(bias.value(), cs, "batch_norm_add_relu: bias");
  check_shape(running_mean, cs, "batch_norm_add_relu: running_mean");
  check_shape(running_var, cs, "batch_norm_add_relu: running_var");
  if (residual.defined()) check_shape(residual.value(), xs, "batch_norm_add_relu: residual");
  HRNET_CHECK(xs.numel() / xs.c() > 1, ValueError,
              "batch_norm_add_relu: training mode needs more than one value per channel, input is " << xs);
  auto y = Tensor<T, D>::empty(xs);
  auto mean = Tensor<T, D>::empty(cs), invstd = Tensor<T, D>::empty(cs);
  backend::batch_norm_add_relu_forward_train(x.value(), residual.defined() ? &residual.value() : nullptr,
                                             weight.value(), bias.value(), running_mean, running_var, y, mean, invstd,
                                             o.momentum, o.eps);
  const bool need = detail::any_requires_grad<T, D>({&x, &weight, &bias, &residual});
  Var<T, D> out(y, need);
  if (need)
    detail::record(out, [x, weight, bias, residual, y, mean, invstd, eps = o.eps](const Tensor<T, D>& gy) mutable {
      auto grad = [](const Var<T, D>& v) -> Tensor<T, D>* { return v.defined() && v.requires_grad() ? &v.grad_buffer() : nullptr; };
      backend::batch_norm_add_relu_backward(x.value(), y, gy, weight.value(), bias.value(), mean, invstd, eps, grad(x),
                                            grad(residual), grad(weight), grad(bias));
    });
  return out;
}

}  // namespace hrnet::ops

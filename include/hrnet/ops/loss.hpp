// Losses. Both return a 0-d Var (a scalar) ready for hrnet::backward.
#pragma once
#include "hrnet/ops/detail.hpp"

namespace hrnet::ops {

// Mean softmax cross-entropy of logits (N,K) against int64 labels (N), with PyTorch's label
// smoothing: target = (1 - s) * onehot + s / K.
template <FloatType T, Device D>
Var<T, D> cross_entropy(const Var<T, D>& logits, const Tensor<std::int64_t, D>& labels, double label_smoothing = 0.0) {
  detail::check_backend<T, D>();
  const Shape& s = logits.shape();
  HRNET_CHECK(s.rank() == 2 && s[0] >= 1, ShapeError, "cross_entropy: logits must be (N,K) with N >= 1, got " << s);
  HRNET_CHECK(labels.shape() == Shape({s[0]}), ShapeError,
              "cross_entropy: labels " << labels.shape() << " must be [" << s[0] << "] for logits " << s);
  HRNET_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, ValueError,
              "cross_entropy: label_smoothing " << label_smoothing << " is outside [0, 1]");
  // The CPU kernel throws on a label outside [0, K); the GPU kernel cannot throw without a host
  // synchronisation, so there such a label makes the loss NaN (and its row's gradient NaN) without
  // reading outside the logits. Check labels on the host where they are made.
  auto loss = Tensor<T, D>::empty(Shape{});
  backend::cross_entropy_forward(logits.value(), labels, label_smoothing, loss);
  Var<T, D> out(loss, detail::any_requires_grad<T, D>({&logits}));
  if (out.requires_grad())
    // labels are copied: a loader may refill its buffers before backward runs
    detail::record(out, [logits, labels = labels.clone(), label_smoothing](const Tensor<T, D>& gy) mutable {
      backend::cross_entropy_backward(logits.value(), labels, label_smoothing, gy, logits.grad_buffer());
    });
  return out;
}

// mean((pred - gt)^2 * mask) over all N*C*H*W elements; mask (N,1,H,W) is broadcast over
// channels. HigherHRNet's heatmap loss (per-image means of equal-size images) equals this mean.
template <FloatType T, Device D>
Var<T, D> masked_mse(const Var<T, D>& pred, const Tensor<T, D>& gt, const Tensor<T, D>& mask) {
  detail::check_backend<T, D>();
  const Shape& s = pred.shape();
  HRNET_CHECK(s.rank() == 4, ShapeError, "masked_mse: prediction must be 4-D, got " << s);
  check_shape(gt, s, "masked_mse: target");
  check_shape(mask, Shape({s.n(), 1, s.h(), s.w()}), "masked_mse: mask");
  auto loss = Tensor<T, D>::empty(Shape{});
  backend::masked_mse_forward(pred.value(), gt, mask, loss);
  Var<T, D> out(loss, detail::any_requires_grad<T, D>({&pred}));
  if (out.requires_grad())
    // targets are copied: a loader may refill its buffers before backward runs
    detail::record(out, [pred, gt = gt.clone(), mask = mask.clone()](const Tensor<T, D>& gy) mutable {
      backend::masked_mse_backward(pred.value(), gt, mask, gy, pred.grad_buffer());
    });
  return out;
}

}  // namespace hrnet::ops

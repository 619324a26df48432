// Elementary layers with PyTorch's parameter names: Conv2d ("weight", "bias"), ConvTranspose2d,
// BatchNorm2d ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"), Linear.
// The kernel size is a template parameter (it fixes the code path and the weight shape); widths,
// stride and padding are run-time values.
#pragma once
#include "hrnet/nn/init.hpp"
#include "hrnet/ops/ops.hpp"

namespace hrnet::nn {

namespace detail {
// Runs `f` on a CPU tensor holding v's value, then stores it back to v's device.
template <FloatType T, Device D, class F>
void init_on_host(Tensor<T, D>& v, F&& f) {
  if constexpr (is_cpu<D>) {
    f(v);
  } else {
    auto h = Tensor<float, CPU>::zeros(v.shape());
    f(h);
    v.copy_from(to_cuda(cast<T>(h)));
  }
}
}  // namespace detail

template <FloatType T, Device D, int K>
class Conv2d : public Module<T, D> {
  static_assert(K >= 1 && K <= 11, "Conv2d: kernel size must be between 1 and 11");

 public:
  Conv2d(std::int64_t in, std::int64_t out, int stride = 1, int padding = (K - 1) / 2, bool bias = false)
      : opt_{stride, padding, 0} {
    HRNET_CHECK(in > 0 && out > 0, ValueError, "Conv2d: channel counts must be positive, got " << in << " -> " << out);
    weight = make_parameter<T, D>({out, in, K, K});
    this->register_parameter("weight", weight);
    if (bias) {
      this->bias = make_parameter<T, D>({out});
      this->register_parameter("bias", this->bias);
    }
    detail::init_on_host(weight.value(), [&](auto& w) {
      init::default_init(w, static_cast<std::remove_reference_t<decltype(w)>*>(nullptr));
    });
    if (bias)
      detail::init_on_host(this->bias.value(), [&](auto& b) { init::uniform_(b, 1.0 / std::sqrt(double(in * K * K))); });
  }
  Var<T, D> forward(const Var<T, D>& x) const { return ops::conv2d(x, weight, bias, opt_); }
  Var<T, D> operator()(const Var<T, D>& x) const { return forward(x); }
  const ops::ConvOptions& options() const { return opt_; }
  std::int64_t macs(std::int64_t& h, std::int64_t& w) const {
    h = (h + 2 * opt_.padding - K) / opt_.stride + 1;
    w = (w + 2 * opt_.padding - K) / opt_.stride + 1;
    return weight.value().numel() * h * w;
  }

  Var<T, D> weight, bias;

 private:
  ops::ConvOptions opt_;
};

template <FloatType T, Device D, int K>
class ConvTranspose2d : public Module<T, D> {
 public:
  ConvTranspose2d(std::int64_t in, std::int64_t out, int stride, int padding, int output_padding, bool bias = false)
      : opt_{stride, padding, output_padding} {
    HRNET_CHECK(in > 0 && out > 0, ValueError,
                "ConvTranspose2d: channel counts must be positive, got " << in << " -> " << out);
    weight = make_parameter<T, D>({in, out, K, K});
    this->register_parameter("weight", weight);
    if (bias) {
      this->bias = make_parameter<T, D>({out});
      this->register_parameter("bias", this->bias);
    }
    // PyTorch computes fan_in from weight.size(1) * K * K for transposed convolutions.
    detail::init_on_host(weight.value(), [&](auto& w) {
      init::default_init(w, static_cast<std::remove_reference_t<decltype(w)>*>(nullptr), out * K * K);
    });
    if (bias)
      detail::init_on_host(this->bias.value(), [&](auto& b) { init::uniform_(b, 1.0 / std::sqrt(double(out * K * K))); });
  }
  Var<T, D> forward(const Var<T, D>& x) const { return ops::conv_transpose2d(x, weight, bias, opt_); }
  Var<T, D> operator()(const Var<T, D>& x) const { return forward(x); }
  std::int64_t macs(std::int64_t& h, std::int64_t& w) const {
    h = (h - 1) * opt_.stride - 2 * opt_.padding + K + opt_.output_padding;
    w = (w - 1) * opt_.stride - 2 * opt_.padding + K + opt_.output_padding;
    return weight.value().numel() * h * w;
  }

  Var<T, D> weight, bias;

 private:
  ops::ConvOptions opt_;
};

template <FloatType T, Device D>
class BatchNorm2d : public Module<T, D> {
 public:
  explicit BatchNorm2d(std::int64_t channels, double momentum = 0.1, double eps = 1e-5)
      : momentum_(momentum), eps_(eps) {
    HRNET_CHECK(channels > 0, ValueError, "BatchNorm2d: channel count must be positive, got " << channels);
    weight = make_parameter<T, D>({channels});
    bias = make_parameter<T, D>({channels});
    running_mean = Tensor<T, D>::zeros({channels});
    running_var = Tensor<T, D>::zeros({channels});
    detail::init_on_host(weight.value(), [](auto& w) { std::fill(w.data(), w.data() + w.numel(), 1); });
    detail::init_on_host(running_var, [](auto& v) { std::fill(v.data(), v.data() + v.numel(), 1); });
    this->register_parameter("weight", weight);
    this->register_parameter("bias", bias);
    this->register_buffer("running_mean", running_mean);
    this->register_buffer("running_var", running_var);
    this->register_counter("num_batches_tracked", num_batches_tracked);
  }
  Var<T, D> forward(const Var<T, D>& x) {
    const bool training = this->is_training();
    Var<T, D> y = ops::batch_norm(x, weight, bias, running_mean, running_var, {training, momentum_, eps_});
    if (training) ++num_batches_tracked;  // only once the batch was accepted
    return y;
  }
  Var<T, D> operator()(const Var<T, D>& x) { return forward(x); }
  // relu(bn(x) + residual), or relu(bn(x)) without a residual: fused on CUDA in training mode.
  Var<T, D> forward_add_relu(const Var<T, D>& x, const Var<T, D>& residual = Var<T, D>()) {
    const bool training = this->is_training();
    Var<T, D> y = ops::batch_norm_add_relu(x, weight, bias, running_mean, running_var, residual,
                                           {training, momentum_, eps_});
    if (training) ++num_batches_tracked;
    return y;
  }

  Var<T, D> weight, bias;
  Tensor<T, D> running_mean, running_var;
  std::int64_t num_batches_tracked = 0;

 private:
  double momentum_, eps_;
};

template <FloatType T, Device D>
class Linear : public Module<T, D> {
 public:
  Linear(std::int64_t in, std::int64_t out, bool bias = true) {
    HRNET_CHECK(in > 0 && out > 0, ValueError, "Linear: sizes must be positive, got " << in << " -> " << out);
    weight = make_parameter<T, D>({out, in});
    this->register_parameter("weight", weight);
    if (bias) {
      this->bias = make_parameter<T, D>({out});
      this->register_parameter("bias", this->bias);
    }
    detail::init_on_host(weight.value(), [&](auto& w) {
      init::default_init(w, static_cast<std::remove_reference_t<decltype(w)>*>(nullptr));
    });
    if (bias) detail::init_on_host(this->bias.value(), [&](auto& b) { init::uniform_(b, 1.0 / std::sqrt(double(in))); });
  }
  Var<T, D> forward(const Var<T, D>& x) const { return ops::linear(x, weight, bias); }
  Var<T, D> operator()(const Var<T, D>& x) const { return forward(x); }
  std::int64_t macs() const { return weight.value().numel(); }

  Var<T, D> weight, bias;
};

}  // namespace hrnet::nn

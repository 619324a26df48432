// ConvBN<T, D, K, Act>: convolution (no bias) + batch norm (+ ReLU), the unit HRNet is made of.
// Named like nn.Sequential(conv, bn[, relu]): "0.weight", "1.weight", "1.running_mean", ...
// The activation is a compile-time choice so that a backend can fuse it into the BN epilogue.
#pragma once
#include "hrnet/nn/layers.hpp"

namespace hrnet::nn {

enum class Act { None, ReLU };

template <FloatType T, Device D, int K, Act A = Act::ReLU>
class ConvBN : public Module<T, D> {
 public:
  ConvBN(std::int64_t in, std::int64_t out, int stride = 1, int padding = (K - 1) / 2)
      : conv(in, out, stride, padding, false), bn(out) {
    this->register_module("0", conv);
    this->register_module("1", bn);
  }
  Var<T, D> forward(const Var<T, D>& x) {
    if constexpr (A == Act::ReLU) return bn.forward_add_relu(conv(x));
    else return bn(conv(x));
  }
  Var<T, D> operator()(const Var<T, D>& x) { return forward(x); }
  std::int64_t macs(std::int64_t& h, std::int64_t& w) const { return conv.macs(h, w); }

  Conv2d<T, D, K> conv;
  BatchNorm2d<T, D> bn;
};

}  // namespace hrnet::nn

// Residual blocks of HRNet with the official names:
//   BasicBlock: conv1 (3x3, stride) bn1 relu conv2 (3x3) bn2 [+ downsample] relu     expansion 1
//   Bottleneck: conv1 (1x1) bn1 relu conv2 (3x3, stride) bn2 relu conv3 (1x1) bn3 [+ downsample] relu
//                                                                                        expansion 4
// downsample = Sequential(conv1x1(in, planes * expansion, stride), BN) when the shape changes
// (names "downsample.0.weight", "downsample.1.*"). Block counts and widths are run-time values.
#pragma once
#include <memory>

#include "hrnet/nn/conv_bn.hpp"

namespace hrnet::nn {

template <FloatType T, Device D>
class BasicBlock : public UnaryModule<T, D> {
 public:
  static constexpr int expansion = 1;
  // `downsample`: add the projection shortcut (the official code adds it when stride != 1 or
  // inplanes != planes * expansion; pass need_downsample(...) to follow that rule).
  BasicBlock(std::int64_t inplanes, std::int64_t planes, int stride = 1, bool downsample = false)
      : conv1(inplanes, planes, stride, 1), bn1(planes), conv2(planes, planes, 1, 1), bn2(planes) {
    this->register_module("conv1", conv1);
    this->register_module("bn1", bn1);
    this->register_module("conv2", conv2);
    this->register_module("bn2", bn2);
    if (downsample) {
      this->downsample = std::make_unique<ConvBN<T, D, 1, Act::None>>(inplanes, planes * expansion, stride, 0);
      this->register_module("downsample", *this->downsample);
    }
    HRNET_CHECK(downsample || (stride == 1 && inplanes == planes * expansion), ShapeError,
                "BasicBlock(" << inplanes << ", " << planes << ", stride " << stride
                              << "): the residual needs a downsample shortcut");
  }
  Var<T, D> forward(const Var<T, D>& x) override {
    Var<T, D> out = bn1.forward_add_relu(conv1(x));
    out = conv2(out);
    Var<T, D> residual = downsample ? (*downsample)(x) : x;
    return bn2.forward_add_relu(out, residual);
  }
  using UnaryModule<T, D>::operator();
  std::int64_t macs(std::int64_t& h, std::int64_t& w) const override {
    std::int64_t h0 = h, w0 = w, m = conv1.macs(h, w);
    m += conv2.macs(h, w);
    if (downsample) m += downsample->macs(h0, w0);
    return m;
  }

  Conv2d<T, D, 3> conv1;
  BatchNorm2d<T, D> bn1;
  Conv2d<T, D, 3> conv2;
  BatchNorm2d<T, D> bn2;
  std::unique_ptr<ConvBN<T, D, 1, Act::None>> downsample;
};

template <FloatType T, Device D>
class Bottleneck : public UnaryModule<T, D> {
 public:
  static constexpr int expansion = 4;
  Bottleneck(std::int64_t inplanes, std::int64_t planes, int stride = 1, bool downsample = false)
      : conv1(inplanes, planes, 1, 0),
        bn1(planes),
        conv2(planes, planes, stride, 1),
        bn2(planes),
        conv3(planes, planes * expansion, 1, 0),
        bn3(planes * expansion) {
    this->register_module("conv1", conv1);
    this->register_module("bn1", bn1);
    this->register_module("conv2", conv2);
    this->register_module("bn2", bn2);
    this->register_module("conv3", conv3);
    this->register_module("bn3", bn3);
    if (downsample) {
      this->downsample = std::make_unique<ConvBN<T, D, 1, Act::None>>(inplanes, planes * expansion, stride, 0);
      this->register_module("downsample", *this->downsample);
    }
    HRNET_CHECK(downsample || (stride == 1 && inplanes == planes * expansion), ShapeError,
                "Bottleneck(" << inplanes << ", " << planes << ", stride " << stride
                              << "): the residual needs a downsample shortcut");
  }
  Var<T, D> forward(const Var<T, D>& x) override {
    Var<T, D> out = bn1.forward_add_relu(conv1(x));
    out = bn2.forward_add_relu(conv2(out));
    out = conv3(out);
    Var<T, D> residual = downsample ? (*downsample)(x) : x;
    return bn3.forward_add_relu(out, residual);
  }
  using UnaryModule<T, D>::operator();
  std::int64_t macs(std::int64_t& h, std::int64_t& w) const override {
    std::int64_t h0 = h, w0 = w, m = conv1.macs(h, w);
    m += conv2.macs(h, w);
    m += conv3.macs(h, w);
    if (downsample) m += downsample->macs(h0, w0);
    return m;
  }

  Conv2d<T, D, 1> conv1;
  BatchNorm2d<T, D> bn1;
  Conv2d<T, D, 3> conv2;
  BatchNorm2d<T, D> bn2;
  Conv2d<T, D, 1> conv3;
  BatchNorm2d<T, D> bn3;
  std::unique_ptr<ConvBN<T, D, 1, Act::None>> downsample;
};

// The official rule for adding the projection shortcut.
template <class Block>
bool need_downsample(std::int64_t inplanes, std::int64_t planes, int stride) {
  return stride != 1 || inplanes != planes * Block::expansion;
}

}  // namespace hrnet::nn

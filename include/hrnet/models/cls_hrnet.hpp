// HRNet for ImageNet classification (lib/models/cls_hrnet.py), official names:
//   conv1 bn1 conv2 bn2 | layer1 (STAGE1 from the config) | transition1..3, stage2..4 (all
//   outputs kept) | incre_modules.i.0 (one Bottleneck of width 32/64/128/256) |
//   downsamp_modules.i.{0: conv3x3 s2 with bias, 1: BN} | final_layer.{0: conv1x1 1024->2048 with
//   bias, 1: BN} | global average pool | classifier Linear(2048, 1000).
//
// Only the declaration lives here: the layers are forward-declared and every member is defined and
// instantiated once in src/models/cls_hrnet.cpp, so code that builds or runs the network does not
// recompile when a layer header changes.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "hrnet/models/model_config.hpp"
#include "hrnet/models/network_parts.hpp"
#include "hrnet/nn/module.hpp"

namespace hrnet::models {

template <FloatType T, Device D>
class ClsHighResolutionNet : public nn::Module<T, D> {
 public:
  explicit ClsHighResolutionNet(const ClsNetConfig& c);
  ~ClsHighResolutionNet() override;

  // Logits (N, 1000).
  Var<T, D> forward(const Var<T, D>& x);
  Var<T, D> operator()(const Var<T, D>& x) { return forward(x); }

  // Multiply-adds of Conv2d and Linear for an h x w input (the official model summary).
  std::int64_t macs(std::int64_t h, std::int64_t w) const;

  // Official initialisation: conv weights Kaiming normal (fan_out, ReLU); BN 1 / 0; conv biases
  // and the classifier keep PyTorch's default uniform initialisation.
  void init_official(Rng& rng);

 private:
  class DownsampConv;  // Sequential(conv3x3 s2 with bias, BN, ReLU)

  ClsNetConfig cfg_;
  std::unique_ptr<HRNetTrunk<T, D>> trunk_;
  std::vector<std::unique_ptr<BlockSequence<T, D>>> incre_;
  std::vector<std::unique_ptr<DownsampConv>> downsamp_;
  std::unique_ptr<nn::Conv2d<T, D, 1>> final_conv_;
  std::unique_ptr<nn::BatchNorm2d<T, D>> final_bn_;
  std::unique_ptr<nn::Linear<T, D>> classifier_;
};

extern template class ClsHighResolutionNet<float, CPU>;
extern template class ClsHighResolutionNet<double, CPU>;
#ifdef HRNET_WITH_CUDA
extern template class ClsHighResolutionNet<float, CUDA>;
#endif

}  // namespace hrnet::models

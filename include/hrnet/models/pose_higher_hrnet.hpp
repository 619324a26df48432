// HigherHRNet (lib/models/pose_higher_hrnet.py), with the official state_dict names:
//   conv1 bn1 conv2 bn2 | layer1 (4 Bottlenecks, 64 planes, fixed) | transition1 stage2
//   transition2 stage3 transition3 stage4 (last module fuses into branch 0 only) |
//   final_layers.0 (1/4 resolution) | deconv_layers.i: cat -> ConvTranspose2d + BN + ReLU ("i.0.0",
//   "i.0.1") -> BasicBlocks each in a one-element Sequential ("i.1.0.conv1") | final_layers.i+1.
// forward() returns one output per resolution: [N, J + tag, H/4, W/4], [N, J, H/2, W/2], ...
//
// Only the declaration lives here (see cls_hrnet.hpp): the members are defined and instantiated once
// in src/models/pose_higher_hrnet.cpp.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "hrnet/models/model_config.hpp"
#include "hrnet/models/network_parts.hpp"
#include "hrnet/nn/module.hpp"

namespace hrnet::models {

template <FloatType T, Device D>
class PoseHigherResolutionNet : public nn::Module<T, D> {
 public:
  explicit PoseHigherResolutionNet(const PoseNetConfig& c);
  ~PoseHigherResolutionNet() override;

  std::vector<Var<T, D>> forward(const Var<T, D>& x);
  std::vector<Var<T, D>> operator()(const Var<T, D>& x) { return forward(x); }

  // get_model_summary's multiply-adds (Conv2d and ConvTranspose2d) for an h x w input.
  std::int64_t macs(std::int64_t h, std::int64_t w) const;

  // Official initialisation: every conv and transposed conv N(0, 0.001^2), biases 0; BN 1 / 0.
  void init_official(Rng& rng);

  const PoseNetConfig& config() const { return cfg_; }

 private:
  class DeconvStage;  // "deconv_layers.i": transposed conv + BN + ReLU, then BasicBlocks
  class FinalConv;    // "final_layers.i": 1x1 or 3x3 conv with bias

  void check_input(const Shape& s) const;

  PoseNetConfig cfg_;
  std::unique_ptr<HRNetTrunk<T, D>> trunk_;
  std::vector<std::unique_ptr<FinalConv>> final_layers_;
  std::vector<std::unique_ptr<DeconvStage>> deconvs_;
};

extern template class PoseHigherResolutionNet<float, CPU>;
extern template class PoseHigherResolutionNet<double, CPU>;
#ifdef HRNET_WITH_CUDA
extern template class PoseHigherResolutionNet<float, CUDA>;
#endif

}  // namespace hrnet::models

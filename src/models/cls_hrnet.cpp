// ClsHighResolutionNet: its members, compiled once for every dtype and device the library provides.
#include "hrnet/models/cls_hrnet.hpp"

#include "hrnet/models/hrnet_stage.hpp"
#include "hrnet/nn/init.hpp"
#include "hrnet/nn/layers.hpp"

namespace hrnet::models {

// Sequential(conv3x3 s2 with bias, BN, ReLU)
template <FloatType T, Device D>
class ClsHighResolutionNet<T, D>::DownsampConv : public nn::Module<T, D> {
 public:
  DownsampConv(std::int64_t in, std::int64_t out) : conv(in, out, 2, 1, true), bn(out) {
    this->register_module("0", conv);
    this->register_module("1", bn);
  }
  Var<T, D> forward(const Var<T, D>& x) { return bn.forward_add_relu(conv(x)); }
  nn::Conv2d<T, D, 3> conv;
  nn::BatchNorm2d<T, D> bn;
};

template <FloatType T, Device D>
ClsHighResolutionNet<T, D>::ClsHighResolutionNet(const ClsNetConfig& c) : cfg_(c) {
  validate_cls_config(c);
  const StageConfig* const stages[3] = {&c.stage2, &c.stage3, &c.stage4};
  trunk_ = std::make_unique<HRNetTrunk<T, D>>(c.stage1, stages, /*last_multi_scale=*/true);
  this->register_module("", *trunk_);
  const std::vector<std::int64_t>& pre = trunk_->out_channels();
  // head (_make_head): fixed widths 32/64/128/256, Bottleneck, one block each
  const std::int64_t head[4] = {32, 64, 128, 256};
  for (int i = 0; i < 4; ++i) {
    incre_.push_back(std::make_unique<BlockSequence<T, D>>(BlockKind::Bottleneck, pre[i], head[i], 1));
    this->register_module("incre_modules." + std::to_string(i), *incre_.back());
  }
  for (int i = 0; i < 3; ++i) {
    downsamp_.push_back(std::make_unique<DownsampConv>(head[i] * 4, head[i + 1] * 4));
    this->register_module("downsamp_modules." + std::to_string(i), *downsamp_.back());
  }
  final_conv_ = std::make_unique<nn::Conv2d<T, D, 1>>(1024, 2048, 1, 0, true);
  final_bn_ = std::make_unique<nn::BatchNorm2d<T, D>>(2048);
  classifier_ = std::make_unique<nn::Linear<T, D>>(2048, c.num_classes);
  this->register_module("final_layer.0", *final_conv_);
  this->register_module("final_layer.1", *final_bn_);
  this->register_module("classifier", *classifier_);
}

template <FloatType T, Device D>
ClsHighResolutionNet<T, D>::~ClsHighResolutionNet() = default;

template <FloatType T, Device D>
Var<T, D> ClsHighResolutionNet<T, D>::forward(const Var<T, D>& x) {
  HRNET_CHECK(x.shape().rank() == 4 && x.shape().c() == 3, ShapeError,
              "ClsHighResolutionNet: input must be (N, 3, H, W), got " << x.shape());
  std::vector<Var<T, D>> ys = trunk_->forward(x);
  Var<T, D> h = (*incre_[0])(ys[0]);
  for (int i = 0; i < 3; ++i) h = ops::add((*incre_[i + 1])(ys[i + 1]), downsamp_[i]->forward(h));
  h = final_bn_->forward_add_relu((*final_conv_)(h));
  return (*classifier_)(ops::global_avg_pool(h));
}

template <FloatType T, Device D>
std::int64_t ClsHighResolutionNet<T, D>::macs(std::int64_t h, std::int64_t w) const {
  std::vector<HW> res;
  std::int64_t m = trunk_->macs(h, w, res);
  for (int i = 0; i < 4; ++i) {
    auto [hh, ww] = res[i];
    m += incre_[i]->macs(hh, ww);
  }
  auto [hh, ww] = res[0];
  for (int i = 0; i < 3; ++i) m += downsamp_[i]->conv.macs(hh, ww);
  m += final_conv_->macs(hh, ww);
  return m + classifier_->macs();
}

template <FloatType T, Device D>
void ClsHighResolutionNet<T, D>::init_official(Rng& rng) {
  for (auto& p : this->named_parameters())
    if (p.var->value().rank() == 4)
      nn::detail::init_on_host(p.var->value(), [&](auto& h) { nn::init::kaiming_normal_fan_out(h, rng); });
}


template class ClsHighResolutionNet<float, CPU>;
template class ClsHighResolutionNet<double, CPU>;  // the double-precision model tests
#ifdef HRNET_WITH_CUDA
template class ClsHighResolutionNet<float, CUDA>;
#endif

}  // namespace hrnet::models

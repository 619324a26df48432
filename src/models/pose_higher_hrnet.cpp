// PoseHigherResolutionNet: its members, compiled once for every dtype and device the library provides.
#include "hrnet/models/pose_higher_hrnet.hpp"

#include <cmath>

#include "hrnet/models/hrnet_stage.hpp"
#include "hrnet/nn/init.hpp"
#include "hrnet/nn/layers.hpp"

namespace hrnet::models {

// "deconv_layers.i": Sequential(Sequential(ConvTranspose2d, BN, ReLU), Sequential(BasicBlock), ...)
template <FloatType T, Device D>
class PoseHigherResolutionNet<T, D>::DeconvStage : public nn::Module<T, D> {
 public:
  DeconvStage(std::int64_t in, std::int64_t out, int kernel, int pad, int out_pad, int blocks)
      : bn(out), kernel_(kernel) {
    if (kernel == 4) up4 = std::make_unique<nn::ConvTranspose2d<T, D, 4>>(in, out, 2, pad, out_pad, false);
    else if (kernel == 3) up3 = std::make_unique<nn::ConvTranspose2d<T, D, 3>>(in, out, 2, pad, out_pad, false);
    else up2 = std::make_unique<nn::ConvTranspose2d<T, D, 2>>(in, out, 2, pad, out_pad, false);
    if (up4) this->register_module("0.0", *up4);
    if (up3) this->register_module("0.0", *up3);
    if (up2) this->register_module("0.0", *up2);
    this->register_module("0.1", bn);
    for (int b = 0; b < blocks; ++b) {
      this->blocks.push_back(std::make_unique<nn::BasicBlock<T, D>>(out, out));
      this->register_module(std::to_string(b + 1) + ".0", *this->blocks.back());
    }
  }
  Var<T, D> forward(const Var<T, D>& x) {
    Var<T, D> y = up4 ? (*up4)(x) : up3 ? (*up3)(x) : (*up2)(x);
    y = bn.forward_add_relu(y);
    for (auto& b : blocks) y = (*b)(y);
    return y;
  }
  std::int64_t macs(std::int64_t& h, std::int64_t& w) const {
    std::int64_t m = up4 ? up4->macs(h, w) : up3 ? up3->macs(h, w) : up2->macs(h, w);
    for (auto& b : blocks) m += b->macs(h, w);
    return m;
  }
  std::unique_ptr<nn::ConvTranspose2d<T, D, 4>> up4;
  std::unique_ptr<nn::ConvTranspose2d<T, D, 3>> up3;
  std::unique_ptr<nn::ConvTranspose2d<T, D, 2>> up2;
  nn::BatchNorm2d<T, D> bn;
  std::vector<std::unique_ptr<nn::BasicBlock<T, D>>> blocks;

 private:
  int kernel_;
};

// Final 1x1 (or 3x3) conv with bias; kernel 1 and 3 are the official choices.
template <FloatType T, Device D>
class PoseHigherResolutionNet<T, D>::FinalConv : public nn::Module<T, D> {
 public:
  FinalConv(std::int64_t in, std::int64_t out, int k, int pad) {
    if (k == 1) c1 = std::make_unique<nn::Conv2d<T, D, 1>>(in, out, 1, pad, true);
    else c3 = std::make_unique<nn::Conv2d<T, D, 3>>(in, out, 1, pad, true);
    if (c1) this->register_module("", *c1);
    else this->register_module("", *c3);
  }
  Var<T, D> operator()(const Var<T, D>& x) const { return c1 ? (*c1)(x) : (*c3)(x); }
  std::int64_t macs(std::int64_t& h, std::int64_t& w) const { return c1 ? c1->macs(h, w) : c3->macs(h, w); }
  std::unique_ptr<nn::Conv2d<T, D, 1>> c1;
  std::unique_ptr<nn::Conv2d<T, D, 3>> c3;
};

template <FloatType T, Device D>
PoseHigherResolutionNet<T, D>::PoseHigherResolutionNet(const PoseNetConfig& c) : cfg_(c) {
  validate_pose_config(c);
  const StageConfig* const stages[3] = {&c.stage2, &c.stage3, &c.stage4};
  trunk_ = std::make_unique<HRNetTrunk<T, D>>(StageConfig{1, 1, BlockKind::Bottleneck, {4}, {64}, "SUM"}, stages,
                                              /*last_multi_scale=*/false);
  this->register_module("", *trunk_);
  const std::vector<std::int64_t>& pre = trunk_->out_channels();

  // heads
  const std::int64_t J = c.num_joints, tag = c.tag_per_joint ? J : 1;
  auto out_ch = [&](int i) { return c.with_ae_loss[i] ? J + tag : J; };
  const int k = c.final_conv_kernel, pad = k == 3 ? 1 : 0;
  std::int64_t in = pre[0];
  final_layers_.push_back(std::make_unique<FinalConv>(in, out_ch(0), k, pad));
  for (int i = 0; i < c.deconv.num_deconvs; ++i) {
    const std::int64_t cat_in = in + (c.deconv.cat_output[i] ? out_ch(i) : 0);
    const std::int64_t out = c.deconv.num_channels[i];
    auto [p, op] = deconv_padding(c.deconv.kernel_size[i]);
    deconvs_.push_back(std::make_unique<DeconvStage>(cat_in, out, c.deconv.kernel_size[i], p, op, c.deconv.num_basic_blocks));
    this->register_module("deconv_layers." + std::to_string(i), *deconvs_.back());
    final_layers_.push_back(std::make_unique<FinalConv>(out, out_ch(i + 1), k, pad));
    in = out;
  }
  for (std::size_t i = 0; i < final_layers_.size(); ++i)
    this->register_module("final_layers." + std::to_string(i), *final_layers_[i]);
}

template <FloatType T, Device D>
PoseHigherResolutionNet<T, D>::~PoseHigherResolutionNet() = default;

template <FloatType T, Device D>
std::vector<Var<T, D>> PoseHigherResolutionNet<T, D>::forward(const Var<T, D>& x) {
  check_input(x.shape());
  std::vector<Var<T, D>> ys = trunk_->forward(x);
  std::vector<Var<T, D>> outputs;
  Var<T, D> feat = ys[0], out = (*final_layers_[0])(feat);
  outputs.push_back(out);
  for (std::size_t i = 0; i < deconvs_.size(); ++i) {
    if (cfg_.deconv.cat_output[i]) feat = ops::concat({feat, out});
    feat = deconvs_[i]->forward(feat);
    out = (*final_layers_[i + 1])(feat);
    outputs.push_back(out);
  }
  return outputs;
}

template <FloatType T, Device D>
std::int64_t PoseHigherResolutionNet<T, D>::macs(std::int64_t h, std::int64_t w) const {
  std::vector<HW> res;
  std::int64_t m = trunk_->macs(h, w, res);
  auto [fh, fw] = res[0];
  std::int64_t hh = fh, ww = fw;
  m += final_layers_[0]->macs(hh, ww);
  for (std::size_t i = 0; i < deconvs_.size(); ++i) {
    m += deconvs_[i]->macs(fh, fw);  // updates to the deconv's output size
    hh = fh, ww = fw;
    m += final_layers_[i + 1]->macs(hh, ww);
  }
  return m;
}

template <FloatType T, Device D>
void PoseHigherResolutionNet<T, D>::init_official(Rng& rng) {
  for (auto& p : this->named_parameters()) {
    auto& t = p.var->value();
    const bool is_bias = p.name.size() >= 5 && p.name.compare(p.name.size() - 5, 5, ".bias") == 0;
    if (t.rank() == 4) nn::detail::init_on_host(t, [&](auto& h) { nn::init::normal_(h, 0.001, rng); });
    else if (is_bias) t.zero_();
    // BN weights keep their constructor value 1
  }
}

template <FloatType T, Device D>
void PoseHigherResolutionNet<T, D>::check_input(const Shape& s) const {
  HRNET_CHECK(s.rank() == 4 && s.c() == 3, ShapeError, "PoseHigherResolutionNet: input must be (N, 3, H, W), got " << s);
  // fusion upsamples by exact factors: the 1/4-resolution map must divide by 2^(branches-1)
  const int branches = cfg_.stage4.num_branches;
  auto quarter = [](std::int64_t v) { return ((v + 1) / 2 + 1) / 2; };
  for (std::int64_t v : {s.h(), s.w()})
    HRNET_CHECK(quarter(v) % (std::int64_t{1} << (branches - 1)) == 0, ShapeError,
                "PoseHigherResolutionNet: input " << s << ": ceil(ceil(" << v << "/2)/2) = " << quarter(v)
                                                  << " must be divisible by " << (1 << (branches - 1))
                                                  << " (2^(branches-1)) for the fusion layers to line up");
}


template class PoseHigherResolutionNet<float, CPU>;
template class PoseHigherResolutionNet<double, CPU>;  // the double-precision model tests
#ifdef HRNET_WITH_CUDA
template class PoseHigherResolutionNet<float, CUDA>;
#endif

}  // namespace hrnet::models

// The pieces of the HRNet trunk shared by the pose and classification networks, with the official
// names: HighResolutionModule ("branches.i.j", "fuse_layers.i.j..."), the transition layers
// ("transition1.1.0.0.weight") and `_make_layer` sequences ("layer1.0.conv1.weight").
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "hrnet/models/validate.hpp"
#include "hrnet/nn/blocks.hpp"
#include "hrnet/nn/fusion.hpp"

namespace hrnet::models {

using HW = std::pair<std::int64_t, std::int64_t>;

// A residual block of the kind the config names, with the official downsample rule.
template <FloatType T, Device D>
std::unique_ptr<nn::UnaryModule<T, D>> make_block(BlockKind kind, std::int64_t inplanes, std::int64_t planes,
                                                  int stride = 1) {
  if (kind == BlockKind::Basic)
    return std::make_unique<nn::BasicBlock<T, D>>(inplanes, planes, stride,
                                                 nn::need_downsample<nn::BasicBlock<T, D>>(inplanes, planes, stride));
  return std::make_unique<nn::Bottleneck<T, D>>(inplanes, planes, stride,
                                               nn::need_downsample<nn::Bottleneck<T, D>>(inplanes, planes, stride));
}

// `_make_layer` / `_make_one_branch`: `count` blocks, the first possibly with a downsample.
// Children are named "0", "1", ... like nn.Sequential.
template <FloatType T, Device D>
class BlockSequence : public nn::UnaryModule<T, D> {
 public:
  BlockSequence(BlockKind kind, std::int64_t inplanes, std::int64_t planes, int count, int stride = 1) {
    HRNET_CHECK(count >= 1, ValueError, "a layer needs at least one block, got " << count);
    for (int b = 0; b < count; ++b) {
      blocks_.push_back(make_block<T, D>(kind, b == 0 ? inplanes : planes * expansion(kind), planes, b == 0 ? stride : 1));
      this->register_module(std::to_string(b), *blocks_.back());
    }
    out_channels_ = planes * expansion(kind);
  }
  Var<T, D> forward(const Var<T, D>& x) override {
    Var<T, D> y = x;
    for (auto& b : blocks_) y = (*b)(y);
    return y;
  }
  std::int64_t macs(std::int64_t& h, std::int64_t& w) const override {
    std::int64_t m = 0;
    for (auto& b : blocks_) m += b->macs(h, w);
    return m;
  }
  std::int64_t out_channels() const { return out_channels_; }

 private:
  std::vector<std::unique_ptr<nn::UnaryModule<T, D>>> blocks_;
  std::int64_t out_channels_ = 0;
};

// HighResolutionModule: parallel branches of blocks, then the multi-resolution fusion.
template <FloatType T, Device D>
class HighResolutionModule : public nn::Module<T, D> {
 public:
  HighResolutionModule(const StageConfig& s, const std::vector<std::int64_t>& in_channels, bool multi_scale_output) {
    const int n = s.num_branches;
    for (int i = 0; i < n; ++i) {
      branches_.push_back(std::make_unique<BlockSequence<T, D>>(s.block, in_channels[i], s.num_channels[i], s.num_blocks[i]));
      this->register_module("branches." + std::to_string(i), *branches_.back());
      out_channels_.push_back(branches_.back()->out_channels());
    }
    if (n > 1) {
      fuse_ = std::make_unique<nn::FuseLayers<T, D>>(out_channels_, multi_scale_output);
      this->register_module("", *fuse_);  // its children are "fuse_layers.i.j..."
    }
  }
  std::vector<Var<T, D>> forward(const std::vector<Var<T, D>>& xs) {
    std::vector<Var<T, D>> ys;
    for (std::size_t i = 0; i < branches_.size(); ++i) ys.push_back((*branches_[i])(xs[i]));
    if (!fuse_) return ys;  // a single branch has no fusion (and no ReLU after it)
    return (*fuse_)(ys);
  }
  std::int64_t macs(const std::vector<HW>& hw) const {
    std::int64_t m = 0;
    for (std::size_t i = 0; i < branches_.size(); ++i) {
      auto [h, w] = hw[i];
      m += branches_[i]->macs(h, w);
    }
    return fuse_ ? m + fuse_->macs(hw) : m;
  }
  // Channels of every branch output (what the next module or transition receives).
  const std::vector<std::int64_t>& out_channels() const { return out_channels_; }
  int num_outputs() const { return fuse_ ? fuse_->num_outputs() : static_cast<int>(branches_.size()); }

 private:
  std::vector<std::unique_ptr<BlockSequence<T, D>>> branches_;
  std::unique_ptr<nn::FuseLayers<T, D>> fuse_;
  std::vector<std::int64_t> out_channels_;
};

// A stage: `num_modules` HighResolutionModules named "0", "1", ...; only the last module may
// fuse into branch 0 alone (multi_scale_output = false).
template <FloatType T, Device D>
class Stage : public nn::Module<T, D> {
 public:
  Stage(const StageConfig& s, const std::vector<std::int64_t>& in_channels, bool multi_scale_output) {
    std::vector<std::int64_t> ch = in_channels;
    for (int m = 0; m < s.num_modules; ++m) {
      const bool multi = multi_scale_output || m + 1 < s.num_modules;
      modules_.push_back(std::make_unique<HighResolutionModule<T, D>>(s, ch, multi));
      this->register_module(std::to_string(m), *modules_.back());
      ch = modules_.back()->out_channels();
    }
    out_channels_ = ch;
  }
  std::vector<Var<T, D>> forward(std::vector<Var<T, D>> xs) {
    for (auto& m : modules_) xs = m->forward(xs);
    return xs;
  }
  std::int64_t macs(const std::vector<HW>& hw) const {
    std::int64_t m = 0;
    for (auto& mod : modules_) m += mod->macs(hw);
    return m;
  }
  const std::vector<std::int64_t>& out_channels() const { return out_channels_; }

 private:
  std::vector<std::unique_ptr<HighResolutionModule<T, D>>> modules_;
  std::vector<std::int64_t> out_channels_;
};

// `_make_transition_layer(pre, cur)`. For an existing branch whose width changes: conv3x3 s1 +
// BN + ReLU ("i.0", "i.1"); a new branch: a chain of conv3x3 s2 + BN + ReLU from the LAST previous
// branch ("i.k.0", "i.k.1"), only the last step changing the width.
template <FloatType T, Device D>
class Transition : public nn::Module<T, D> {
 public:
  Transition(const std::vector<std::int64_t>& pre, const std::vector<std::int64_t>& cur) : pre_(pre.size()) {
    for (std::size_t i = 0; i < cur.size(); ++i) {
      Branch b;
      if (i < pre.size()) {
        if (cur[i] != pre[i]) {
          // the official forward feeds y_list[-1] to every transition of stages 3 and 4, so only
          // the last existing branch may change width (exactness note 4)
          b.same_res = std::make_unique<nn::ConvBN<T, D, 3>>(pre[i], cur[i], 1, 1);
          this->register_module(std::to_string(i), *b.same_res);
        }
      } else {
        const std::size_t steps = i + 1 - pre.size();
        for (std::size_t k = 0; k < steps; ++k) {
          const std::int64_t in = pre.back(), out = k + 1 == steps ? cur[i] : pre.back();
          b.chain.push_back(std::make_unique<nn::ConvBN<T, D, 3>>(in, out, 2, 1));
          this->register_module(std::to_string(i) + "." + std::to_string(k), *b.chain.back());
        }
      }
      branches_.push_back(std::move(b));
    }
  }
  // `from_last`: stages 3 and 4 read y_list[-1] for every branch that has a transition; stage 2
  // reads the single stage-1 output.
  std::vector<Var<T, D>> forward(const std::vector<Var<T, D>>& ys) {
    std::vector<Var<T, D>> xs;
    for (std::size_t i = 0; i < branches_.size(); ++i) {
      Branch& b = branches_[i];
      if (b.same_res) xs.push_back((*b.same_res)(ys.back()));
      else if (!b.chain.empty()) {
        Var<T, D> v = ys.back();
        for (auto& step : b.chain) v = (*step)(v);
        xs.push_back(v);
      } else {
        xs.push_back(ys[i]);
      }
    }
    return xs;
  }
  // Input resolutions of the previous branches -> resolutions of the new branch list.
  std::int64_t macs(const std::vector<HW>& in, std::vector<HW>& out) const {
    std::int64_t m = 0;
    out.clear();
    for (std::size_t i = 0; i < branches_.size(); ++i) {
      const Branch& b = branches_[i];
      auto [h, w] = i < in.size() ? in[i] : in.back();
      if (b.same_res) {
        std::tie(h, w) = in.back();
        m += b.same_res->macs(h, w);
      }
      if (!b.chain.empty()) std::tie(h, w) = in.back();
      for (auto& step : b.chain) m += step->macs(h, w);
      out.push_back({h, w});
    }
    return m;
  }

 private:
  struct Branch {
    std::unique_ptr<nn::ConvBN<T, D, 3>> same_res;
    std::vector<std::unique_ptr<nn::ConvBN<T, D, 3>>> chain;
  };
  std::size_t pre_;
  std::vector<Branch> branches_;
};

// The trunk both networks share: stem (conv1 bn1 conv2 bn2, stride 4), layer1, then
// transition1 stage2 transition2 stage3 transition3 stage4. Registered under an empty name, so
// its parameters keep their official top-level names.
template <FloatType T, Device D>
class HRNetTrunk : public nn::Module<T, D> {
 public:
  // `layer1`: the stage-1 description (HigherHRNet fixes it at 4 Bottlenecks of width 64);
  // `last_multi_scale`: whether stage4's last module keeps every output (classification) or fuses
  // into branch 0 only (pose).
  HRNetTrunk(const StageConfig& layer1, const StageConfig* const (&stages)[3], bool last_multi_scale)
      : conv1_(3, 64, 2, 1), bn1_(64), conv2_(64, 64, 2, 1), bn2_(64),
        layer1_(layer1.block, 64, layer1.num_channels[0], layer1.num_blocks[0]) {
    this->register_module("conv1", conv1_);
    this->register_module("bn1", bn1_);
    this->register_module("conv2", conv2_);
    this->register_module("bn2", bn2_);
    this->register_module("layer1", layer1_);
    std::vector<std::int64_t> pre{layer1_.out_channels()};
    for (int s = 0; s < 3; ++s) {
      const auto widths = stage_widths(*stages[s]);
      transitions_.push_back(std::make_unique<Transition<T, D>>(pre, widths));
      this->register_module("transition" + std::to_string(s + 1), *transitions_.back());
      stages_.push_back(std::make_unique<Stage<T, D>>(*stages[s], widths, s < 2 || last_multi_scale));
      this->register_module("stage" + std::to_string(s + 2), *stages_.back());
      pre = stages_.back()->out_channels();
    }
    out_channels_ = pre;
  }
  // The stage-4 outputs, highest resolution first.
  std::vector<Var<T, D>> forward(const Var<T, D>& x) {
    Var<T, D> y = bn1_.forward_add_relu(conv1_(x));
    y = bn2_.forward_add_relu(conv2_(y));
    std::vector<Var<T, D>> ys{layer1_(y)};
    for (std::size_t s = 0; s < stages_.size(); ++s) ys = stages_[s]->forward(transitions_[s]->forward(ys));
    return ys;
  }
  // Multi-adds for an h x w input; `res` receives the stage-4 branch resolutions.
  std::int64_t macs(std::int64_t h, std::int64_t w, std::vector<HW>& res) const {
    std::int64_t m = conv1_.macs(h, w);
    m += conv2_.macs(h, w);
    m += layer1_.macs(h, w);
    res = {{h, w}};
    for (std::size_t s = 0; s < stages_.size(); ++s) {
      std::vector<HW> next;
      m += transitions_[s]->macs(res, next);
      m += stages_[s]->macs(next);
      res = next;
    }
    return m;
  }
  const std::vector<std::int64_t>& out_channels() const { return out_channels_; }

 private:
  nn::Conv2d<T, D, 3> conv1_;
  nn::BatchNorm2d<T, D> bn1_;
  nn::Conv2d<T, D, 3> conv2_;
  nn::BatchNorm2d<T, D> bn2_;
  BlockSequence<T, D> layer1_;
  std::vector<std::unique_ptr<Transition<T, D>>> transitions_;
  std::vector<std::unique_ptr<Stage<T, D>>> stages_;
  std::vector<std::int64_t> out_channels_;
};

// Compiled once in the library (src/models/hrnet_stage.cpp) for the networks' dtypes and devices.
extern template class BlockSequence<float, CPU>;
extern template class HighResolutionModule<float, CPU>;
extern template class Stage<float, CPU>;
extern template class Transition<float, CPU>;
extern template class HRNetTrunk<float, CPU>;
extern template class BlockSequence<double, CPU>;
extern template class HighResolutionModule<double, CPU>;
extern template class Stage<double, CPU>;
extern template class Transition<double, CPU>;
extern template class HRNetTrunk<double, CPU>;
#ifdef HRNET_WITH_CUDA
extern template class BlockSequence<float, CUDA>;
extern template class HighResolutionModule<float, CUDA>;
extern template class Stage<float, CUDA>;
extern template class Transition<float, CUDA>;
extern template class HRNetTrunk<float, CUDA>;
#endif

}  // namespace hrnet::models

// FuseLayers: the multi-resolution fusion of an HRNet module (HighResolutionModule's
// _make_fuse_layers and the fusion part of its forward). For output i and input j:
//   j > i  upsample path:   conv1x1(C_j -> C_i) + BN, then nearest upsample by 2^(j-i)
//   j == i identity
//   j < i  downsample path: (i-j) stride-2 3x3 conv + BN, ReLU after all but the last; the last
//                           maps C_j -> C_i
//   y_i = ReLU(sum_j f_ij(x_j)), summed in order j = 0 .. n-1.
// Names are the official ones relative to the owner: "fuse_layers.i.j.0.weight" (upsample conv),
// "fuse_layers.i.j.k.1.running_mean" (k-th step of a downsample chain).
// The upsample is never materialised: the upsample path's low-resolution output goes straight
// into the fused sum+upsample+ReLU op, one pass over each output.
#pragma once
#include <memory>
#include <variant>
#include <vector>

#include "hrnet/nn/conv_bn.hpp"

namespace hrnet::nn {

template <FloatType T, Device D>
class FuseLayers : public Module<T, D> {
 public:
  // channels: C_j of every input branch; multi_scale_output = false fuses into output 0 only
  // (the last module of HRNet's last stage).
  explicit FuseLayers(const std::vector<std::int64_t>& channels, bool multi_scale_output = true)
      : channels_(channels) {
    const int n = static_cast<int>(channels.size());
    HRNET_CHECK(n >= 1, ValueError, "FuseLayers: needs at least one branch");
    const int outputs = multi_scale_output ? n : 1;
    paths_.resize(static_cast<std::size_t>(outputs));
    for (int i = 0; i < outputs; ++i) {
      for (int j = 0; j < n; ++j) {
        Path p;
        const std::string base = "fuse_layers." + std::to_string(i) + "." + std::to_string(j);
        if (j > i) {
          p.up = std::make_unique<ConvBN<T, D, 1, Act::None>>(channels[j], channels[i], 1, 0);
          this->register_module(base, *p.up);
        } else if (j < i) {
          for (int k = 0; k < i - j; ++k) {
            const std::string name = base + "." + std::to_string(k);
            if (k + 1 < i - j) {
              p.down_relu.push_back(std::make_unique<ConvBN<T, D, 3, Act::ReLU>>(channels[j], channels[j], 2, 1));
              this->register_module(name, *p.down_relu.back());
            } else {
              p.down_last = std::make_unique<ConvBN<T, D, 3, Act::None>>(channels[j], channels[i], 2, 1);
              this->register_module(name, *p.down_last);
            }
          }
        }
        paths_[static_cast<std::size_t>(i)].push_back(std::move(p));
      }
    }
  }

  int num_inputs() const { return static_cast<int>(channels_.size()); }
  int num_outputs() const { return static_cast<int>(paths_.size()); }

  std::vector<Var<T, D>> forward(const std::vector<Var<T, D>>& xs) {
    const int n = num_inputs();
    HRNET_CHECK(static_cast<int>(xs.size()) == n, ValueError,
                "FuseLayers: expected " << n << " inputs, got " << xs.size());
    for (int j = 0; j < n; ++j)
      HRNET_CHECK(xs[j].shape().rank() == 4 && xs[j].shape().c() == channels_[j], ShapeError,
                  "FuseLayers: input " << j << " has shape " << xs[j].shape() << ", expected " << channels_[j]
                                       << " channels");
    std::vector<Var<T, D>> ys;
    for (int i = 0; i < num_outputs(); ++i) {
      std::vector<Var<T, D>> terms;
      std::vector<int> factors;
      for (int j = 0; j < n; ++j) {
        Path& p = paths_[i][j];
        if (j == i) {
          terms.push_back(xs[j]);
          factors.push_back(1);
        } else if (j > i) {
          terms.push_back((*p.up)(xs[j]));
          factors.push_back(1 << (j - i));
        } else {
          Var<T, D> v = xs[j];
          for (auto& step : p.down_relu) v = (*step)(v);
          terms.push_back((*p.down_last)(v));
          factors.push_back(1);
        }
      }
      ys.push_back(ops::fusion_sum_relu(terms, factors));
    }
    return ys;
  }
  std::vector<Var<T, D>> operator()(const std::vector<Var<T, D>>& xs) { return forward(xs); }

  // Multiply-adds for inputs of spatial sizes hw[j] = (h, w) (get_model_summary convention).
  std::int64_t macs(const std::vector<std::pair<std::int64_t, std::int64_t>>& hw) const {
    std::int64_t m = 0;
    for (int i = 0; i < num_outputs(); ++i)
      for (int j = 0; j < num_inputs(); ++j) {
        const Path& p = paths_[i][j];
        auto [h, w] = hw[j];
        if (p.up) m += p.up->macs(h, w);
        for (auto& step : p.down_relu) m += step->macs(h, w);
        if (p.down_last) m += p.down_last->macs(h, w);
      }
    return m;
  }

 private:
  struct Path {
    std::unique_ptr<ConvBN<T, D, 1, Act::None>> up;
    std::vector<std::unique_ptr<ConvBN<T, D, 3, Act::ReLU>>> down_relu;
    std::unique_ptr<ConvBN<T, D, 3, Act::None>> down_last;
  };
  std::vector<std::int64_t> channels_;
  std::vector<std::vector<Path>> paths_;
};

}  // namespace hrnet::nn

// Learning-rate schedules in closed form (epoch or iteration index -> LR), matching PyTorch's
// MultiStepLR, CosineAnnealingLR and LinearLR. A Schedule multiplies an optional linear warmup into
// a main schedule, the usual "warmup then decay" recipe.
#pragma once
#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "hrnet/core/error.hpp"

namespace hrnet::optim {

struct MultiStepLR {  // lr = base * gamma^(number of milestones <= t)
  double base_lr;
  std::vector<std::int64_t> milestones;
  double gamma = 0.1;
  double at(std::int64_t t) const {
    double lr = base_lr;
    for (auto m : milestones)
      if (t >= m) lr *= gamma;
    return lr;
  }
};

struct CosineLR {  // lr = eta_min + (base - eta_min) * (1 + cos(pi t / T_max)) / 2
  double base_lr;
  std::int64_t t_max;
  double eta_min = 0.0;
  double at(std::int64_t t) const {
    HRNET_CHECK(t_max > 0, ValueError, "CosineLR: T_max must be positive, got " << t_max);
    return eta_min + (base_lr - eta_min) * (1.0 + std::cos(std::numbers::pi * double(t) / double(t_max))) / 2.0;
  }
};

struct LinearWarmup {  // factor from start_factor to end_factor over `iters` steps, then constant
  double start_factor = 1.0 / 3.0;
  double end_factor = 1.0;
  std::int64_t iters = 5;
  double factor(std::int64_t t) const {
    if (iters <= 0) return end_factor;
    return start_factor + (end_factor - start_factor) * double(std::min(t, iters)) / double(iters);
  }
};

}  // namespace hrnet::optim

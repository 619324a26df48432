// The learning rate of each optimizer step from a ScheduleConfig (hrnet/train/train_config.hpp):
// MultiStepLR per epoch (the official trainers), piecewise constant per step (the TF port), cosine
// decay per step, each optionally times a linear warmup.
//
//   LrPolicy lr(cfg.schedule, steps_per_epoch, end_epoch);
//   optimizer.set_lr(lr.at(epoch, step));  // step: optimizer steps done before this one, from 0
//
// A pure function of (epoch, step), so a resumed run gets the same rates as an uninterrupted one.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>

#include "hrnet/core/error.hpp"
#include "hrnet/train/train_config.hpp"

namespace hrnet::train {

class LrPolicy {
 public:
  LrPolicy(const ScheduleConfig& c, std::int64_t steps_per_epoch, std::int64_t end_epoch)
      : c_(c), steps_per_epoch_(std::max<std::int64_t>(1, steps_per_epoch)), end_epoch_(end_epoch) {
    HRNET_CHECK(c.base_lr >= 0 && std::isfinite(c.base_lr), ValueError, "learning rate must be finite and >= 0, got " << c.base_lr);
    HRNET_CHECK(c.cosine_epochs >= 0, ValueError, "cosine span must be >= 0 epochs, got " << c.cosine_epochs);
    HRNET_CHECK(c.warmup_epochs >= 0, ValueError, "warmup epochs must be >= 0, got " << c.warmup_epochs);
    HRNET_CHECK(c.warmup_start_factor >= 0 && c.warmup_start_factor <= 1, ValueError,
                "warmup start factor must be in [0, 1], got " << c.warmup_start_factor);
  }

  // True when the rate changes only at epoch boundaries (then at(epoch, first step) holds for the
  // whole epoch and the engine sets it once per epoch, as the official trainers do).
  bool per_epoch() const {
    return c_.kind == ScheduleConfig::Kind::kMultiStep && c_.unit == ScheduleConfig::Unit::kEpoch && c_.warmup_epochs == 0;
  }

  double at(std::int64_t epoch, std::int64_t step) const {
    double lr = c_.base_lr;
    if (c_.kind == ScheduleConfig::Kind::kMultiStep) {
      const std::int64_t t = c_.unit == ScheduleConfig::Unit::kEpoch ? epoch : step;
      for (auto m : c_.milestones)
        if (t >= m) lr *= c_.factor;
    } else {
      const std::int64_t span = c_.cosine_epochs > 0 ? c_.cosine_epochs : end_epoch_;
      const double total = static_cast<double>(span) * static_cast<double>(steps_per_epoch_);
      const double t = std::min(static_cast<double>(step), total);
      lr = c_.eta_min + (c_.base_lr - c_.eta_min) * (1.0 + std::cos(std::numbers::pi * t / std::max(1.0, total))) / 2.0;
    }
    if (c_.warmup_epochs > 0) {
      const double warm = c_.warmup_epochs * static_cast<double>(steps_per_epoch_);
      if (static_cast<double>(step) < warm)
        lr *= c_.warmup_start_factor + (1.0 - c_.warmup_start_factor) * static_cast<double>(step) / warm;
    }
    return lr;
  }

 private:
  ScheduleConfig c_;
  std::int64_t steps_per_epoch_;
  std::int64_t end_epoch_;
};

}  // namespace hrnet::train

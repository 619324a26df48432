// Types that appear in the signatures of every backend (cpu:: and gpu::), kept apart from either
// backend's header so that neither depends on the other.
#pragma once
#include <cstdint>

#include "hrnet/core/device.hpp"

namespace hrnet {

// The push term of HigherHRNet's associative-embedding loss (cfg LOSS.AE_LOSS_TYPE):
//   Exp: exp(-(a - b)^2)       (the 'exp' type every official experiment uses)
//   Max: max(0, 1 - |a - b|)   (the 'max' type, default.py's default)
enum class AeLossType { Exp, Max };

// One parameter of a multi-tensor optimizer step: raw pointers into memory of device D (the device
// is part of the type so that cpu:: and gpu:: steps dispatch on it like the tensor ops do).
// Parameters, gradients and states share the element type T (fp32 master weights on CUDA).
template <class T, Device D>
struct ParamSlot {
  T* param = nullptr;
  const T* grad = nullptr;
  T* state1 = nullptr;  // SGD: momentum buffer (may be null with momentum 0); Adam: exp_avg
  T* state2 = nullptr;  // Adam: exp_avg_sq
  std::int64_t numel = 0;
};

}  // namespace hrnet

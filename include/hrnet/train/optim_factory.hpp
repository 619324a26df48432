// The optimizer an experiment file asks for (the official get_optimizer); the learning-rate
// schedule is hrnet/train/lr_policy.hpp.
#pragma once
#include <memory>
#include <vector>

#include "hrnet/optim/adam.hpp"
#include "hrnet/optim/sgd.hpp"
#include "hrnet/train/train_config.hpp"

namespace hrnet::train {

template <FloatType T, Device D>
std::unique_ptr<optim::Optimizer<T, D>> make_optimizer(const OptimizerConfig& c, const std::vector<Var<T, D>*>& params) {
  if (c.name == "adam") return std::make_unique<optim::Adam<T, D>>(params, optim::AdamOptions{.lr = c.lr});
  HRNET_CHECK(c.name == "sgd", ValueError, "optimizer must be adam or sgd, got '" << c.name << "'");
  return std::make_unique<optim::SGD<T, D>>(
      params, optim::SGDOptions{.lr = c.lr, .momentum = c.momentum, .weight_decay = c.weight_decay, .nesterov = c.nesterov});
}


}  // namespace hrnet::train

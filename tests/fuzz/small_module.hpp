// The small model that the safetensors and checkpoint targets load into, and that make_fuzz_seeds
// writes their seeds from: one definition, so that the seeds always match what the targets expect.
#pragma once
#include "hrnet/nn/layers.hpp"

namespace hrnet::fuzz {

struct SmallModule : nn::Module<float, CPU> {
  nn::Linear<float, CPU> fc{4, 3};
  nn::BatchNorm2d<float, CPU> bn{3};
  SmallModule() {
    register_module("fc", fc);
    register_module("bn", bn);
  }
};

}  // namespace hrnet::fuzz

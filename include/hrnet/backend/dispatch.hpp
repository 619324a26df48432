// Backend dispatch: code generic over the device calls backend::f(args...), and overload resolution
// on the arguments' device type (Tensor<T, CPU> / Tensor<T, CUDA>, ParamSlot<T, D>) picks cpu::f or
// gpu::f at compile time. cpu:: and gpu:: declare the same functions with the same argument types
// (gpu:: adds a trailing stream with a default), so no caller needs a device branch; the only one
// left is the compile-time check below.
#pragma once
#include <concepts>

#include "hrnet/backend/cpu.hpp"
#include "hrnet/backend/cuda.hpp"

namespace hrnet::backend {
using namespace hrnet::cpu;
using namespace hrnet::gpu;

// Called first by every op and optimizer step: readable compile errors instead of template noise
// when a (type, device) pair has no kernels.
template <class T, class D>
constexpr void check_backend() {
  if constexpr (is_cpu<D>) {
    static_assert(ComputeType<T>,
                  "CPU ops compute in float or double: cast half/bfloat16 tensors with hrnet::cast<float> first");
  } else {
#ifndef HRNET_WITH_CUDA
    static_assert(dependent_false<D>,
                  "this hrnet library was built without CUDA (HRNET_WITH_CUDA=OFF): ops on CUDA tensors need a "
                  "CUDA build");
#endif
    static_assert(std::same_as<T, float>,
                  "autograd ops and optimizers on CUDA run in float so far: the half/bfloat16 kernels are in "
                  "hrnet/backend/cuda.hpp (gpu::), and mixed-precision autograd (fp32 master weights, fp32 BN "
                  "parameters) comes with AMP training");
  }
}

}  // namespace hrnet::backend

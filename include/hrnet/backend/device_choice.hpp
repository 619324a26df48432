// The device a --device flag names, as a type: with_device("cpu" | "cuda", f) calls
// f.template operator()<CPU>() or f.template operator()<CUDA>(), with the errors every program gives
// (an unknown name, no visible GPU, a library built without CUDA). In a build without CUDA the CUDA
// instantiation of f is never made.
#pragma once
#include <string>

#include "hrnet/backend/cuda_runtime.hpp"
#include "hrnet/core/device.hpp"
#include "hrnet/core/error.hpp"

namespace hrnet {

template <class F>
decltype(auto) with_device(const std::string& name, F&& f) {
  if (name == "cpu") return f.template operator()<CPU>();
  HRNET_CHECK(name == "cuda", ValueError, "--device must be cpu or cuda, got '" << name << "'");
#ifdef HRNET_WITH_CUDA
  HRNET_CHECK(cuda::device_count() > 0, CudaError, "--device cuda: no CUDA device is visible on this machine");
  return f.template operator()<CUDA>();
#else
  HRNET_THROW(CudaError, "--device cuda: this hrnet library was built without CUDA (HRNET_WITH_CUDA=OFF)");
#endif
}

}  // namespace hrnet

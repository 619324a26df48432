// Helpers of the CUDA-vs-CPU parity tests. Every test case starts with HRNET_REQUIRE_GPU(): with no
// GPU (or a build without CUDA) it prints "skipped: <why>" and returns, and ctest reports the test
// as Skipped (SKIP_REGULAR_EXPRESSION), never as passed.
#pragma once
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "hrnet/backend/cuda.hpp"
#include "hrnet/core/rng.hpp"
#include "hrnet/core/tensor.hpp"
#include "test_util.hpp"

namespace hrnet::test {

// Empty when a GPU can run the test, else the reason it cannot.
inline std::string gpu_unavailable_reason() {
  if (!cuda::built_with_cuda()) return "hrnet was built without CUDA (HRNET_WITH_CUDA=OFF)";
  if (cuda::device_count() == 0) return "no CUDA device is visible on this machine";
  return {};
}

#define HRNET_REQUIRE_GPU()                                                       \
  do {                                                                            \
    const std::string hrnet_why_ = ::hrnet::test::gpu_unavailable_reason();      \
    if (!hrnet_why_.empty()) {                                                    \
      std::cout << "skipped: " << hrnet_why_ << std::endl;                        \
      return;                                                                     \
    }                                                                             \
  } while (0)

// Uniform values in [lo, hi), rounded to T: the CPU reference then starts from exactly the values
// the GPU sees.
template <class T>
Tensor<T, CPU> random_tensor(const Shape& s, std::uint64_t seed, float lo = -1.f, float hi = 1.f) {
  Rng rng(seed);
  auto t = Tensor<T, CPU>::empty(s);
  for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = convert<T>(lo + (hi - lo) * rng.uniform());
  return t;
}
// A T tensor on the GPU and its float copy on the CPU holding the same (rounded) values.
template <class T>
std::pair<Tensor<T, CUDA>, Tensor<float, CPU>> random_pair(const Shape& s, std::uint64_t seed, float lo = -1.f,
                                                           float hi = 1.f) {
  auto h = random_tensor<T>(s, seed, lo, hi);
  return {to_cuda(h), cast<float>(h)};
}
// The GPU tensor back on the CPU, as float.
template <class T>
Tensor<float, CPU> host_f32(const Tensor<T, CUDA>& d) {
  return cast<float>(to_cpu(d));
}

// Unit roundoff of each storage type: the tolerances of the parity tests are multiples of it,
// justified per op (one rounding of the output, or an fp32 accumulation over K terms).
template <class T> constexpr double unit_roundoff() {
  if constexpr (std::is_same_v<T, float>) return 0x1p-24;
  else if constexpr (std::is_same_v<T, half>) return 0x1p-11;
  else return 0x1p-8;  // bfloat16
}

// |gpu - cpu| <= atol + rtol * |cpu|, with the worst element reported.
template <class T>
void require_gpu_close(const Tensor<T, CUDA>& gpu, const Tensor<float, CPU>& cpu, double rtol, double atol,
                       const std::string& what) {
  require_close(host_f32(gpu), cpu, rtol, atol, what);
}

}  // namespace hrnet::test

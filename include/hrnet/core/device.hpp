// Device tags. The device is part of every tensor's type, so mixing CPU and CUDA tensors in one
// op fails to compile instead of failing at run time.
#pragma once
#include <concepts>

namespace hrnet {

struct CPU {
  static constexpr const char* name = "cpu";
};
struct CUDA {
  static constexpr const char* name = "cuda";
};

template <class D>
concept Device = std::same_as<D, CPU> || std::same_as<D, CUDA>;

template <class D> inline constexpr bool is_cpu = std::same_as<D, CPU>;
template <class D> inline constexpr bool is_cuda = std::same_as<D, CUDA>;

// For static_assert(dependent_false<D>, "...") in the branch of an if constexpr that must not
// be instantiated.
template <class...> inline constexpr bool dependent_false = false;

}  // namespace hrnet

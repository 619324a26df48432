// The deterministic parameter initialisation of tests/models/det_init.py, reproduced exactly:
// every state_dict entry gets values from splitmix64(fnv1a64(name) + i), so a model's weights are
// the same in PyTorch and here without shipping them (full models are far too big for fixtures).
#pragma once
#include <cmath>
#include <cstdint>
#include <string>

#include "hrnet/nn/state_dict.hpp"

namespace hrnet::test {

inline std::uint64_t fnv1a64(const std::string& s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}
inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  std::uint64_t z = x;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Value i (PyTorch element order) of the entry `name` with PyTorch shape `shape`.
inline float det_value(const std::string& name, const std::vector<std::int64_t>& shape, std::uint64_t seed,
                       std::int64_t i) {
  const double u = double(splitmix64(seed + std::uint64_t(i)) >> 11) * 0x1.0p-53;
  std::int64_t numel = 1;
  for (auto d : shape) numel *= d;
  if (ends_with(name, "running_var")) return float(0.5 + u);
  if (ends_with(name, "running_mean")) return float(0.2 * (2 * u - 1));
  if (shape.size() >= 2) return float((2 * u - 1) * std::sqrt(3.0 / double(numel / shape[0])));
  if (ends_with(name, "weight")) return float(0.8 + 0.4 * u);
  return float(0.1 * (2 * u - 1));  // biases
}

// Loads det_init values into every parameter and buffer of `m` (num_batches_tracked = 0).
template <class T, class D>
void det_init(nn::Module<T, D>& m) {
  io::SafetensorsFile f = nn::state_dict(m);  // names, shapes and dtypes in PyTorch layout
  for (auto& [name, raw] : f.tensors) {
    if (raw.dtype == DType::I64) {
      std::fill(raw.data.begin(), raw.data.end(), 0);
      continue;
    }
    auto t = Tensor<float, CPU>::empty(Shape(raw.shape));
    const std::uint64_t seed = fnv1a64(name);
    for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = det_value(name, raw.shape, seed, i);
    raw.dtype = DType::F32;
    raw.data.assign(reinterpret_cast<const std::uint8_t*>(t.data()),
                    reinterpret_cast<const std::uint8_t*>(t.data()) + t.bytes());  // row-major = file order
  }
  nn::load_state_dict(m, f);
}

}  // namespace hrnet::test

// Helpers of the inference tests: fixture paths and the C++ twin of make_group_fixtures.make_maps.
#pragma once
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace hrnet::infer_test {

inline std::string data_path(const std::string& name) { return std::string(HRNET_INFER_DATA_DIR) + "/" + name; }

// Draw i (0-based) of stream `seed`: splitmix64(seed + (i + 1) * golden) >> 40, scaled by 2^-24.
inline float uniform_at(std::uint64_t seed, std::uint64_t i) {
  std::uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * (1.0f / 16777216.0f);
}

inline std::int64_t fnv1a63(const std::vector<float>& v) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  const auto* b = reinterpret_cast<const unsigned char*>(v.data());
  for (std::size_t i = 0; i < v.size() * sizeof(float); ++i) h = (h ^ b[i]) * 0x100000001B3ull;
  return static_cast<std::int64_t>(h & 0x7FFFFFFFFFFFFFFFull);
}

struct Maps {
  std::int64_t J = 0, H = 0, W = 0, T = 0;
  std::vector<float> det, tag;  // (J, H, W), (J, H, W, T)
};

// make_maps of tests/pose/make_group_fixtures.py, float op for float op.
inline Maps make_maps(const nlohmann::json& s) {
  Maps m;
  m.J = s["J"].get<std::int64_t>();
  m.H = s["H"].get<std::int64_t>();
  m.W = s["W"].get<std::int64_t>();
  m.T = s["T"].get<std::int64_t>();
  const auto seed = s["seed"].get<std::uint64_t>();
  const auto noise = static_cast<float>(s["noise"].get<double>());
  const auto bg = static_cast<float>(s["bg_tag"].get<double>());
  const auto jitter = static_cast<float>(s["tag_jitter"].get<double>());
  const std::int64_t q = s.contains("quant") ? s["quant"].get<std::int64_t>() : 0;
  const std::int64_t n = m.J * m.H * m.W;
  m.det.resize(static_cast<std::size_t>(n));
  m.tag.resize(static_cast<std::size_t>(n * m.T));
  for (std::int64_t i = 0; i < n; ++i) m.det[static_cast<std::size_t>(i)] = uniform_at(seed, static_cast<std::uint64_t>(i)) * noise;
  for (std::int64_t i = 0; i < n * m.T; ++i)
    m.tag[static_cast<std::size_t>(i)] = (uniform_at(seed + 1, static_cast<std::uint64_t>(i)) - 0.5f) * bg;
  if (q) {
    const auto qf = static_cast<float>(q);
    for (auto& v : m.det) v = std::floor(v * qf) / qf;
    for (auto& v : m.tag) v = std::floor(v * qf) / qf;
  }
  for (const auto& person : s["people"]) {
    std::vector<float> ptag;
    for (const auto& t : person["tag"]) ptag.push_back(static_cast<float>(t.get<double>()));
    std::int64_t k = 0;
    for (const auto& j : person["joints"]) {
      if (!j.is_null()) {
        const auto x = j[0].get<std::int64_t>(), y = j[1].get<std::int64_t>(), r = j[3].get<std::int64_t>();
        const auto peak = static_cast<float>(j[2].get<double>());
        for (std::int64_t dy = -r; dy <= r; ++dy)
          for (std::int64_t dx = -r; dx <= r; ++dx) {
            const std::int64_t yy = y + dy, xx = x + dx;
            if (yy < 0 || yy >= m.H || xx < 0 || xx >= m.W) continue;
            const float w = 1.0f - static_cast<float>(dx * dx + dy * dy) / static_cast<float>(r * r + 1);
            if (!(w > 0)) continue;
            const std::int64_t p = (k * m.H + yy) * m.W + xx;
            float& d = m.det[static_cast<std::size_t>(p)];
            d = std::max(d, peak * w);
            for (std::int64_t t = 0; t < m.T; ++t)
              m.tag[static_cast<std::size_t>(p * m.T + t)] =
                  ptag[static_cast<std::size_t>(t)] +
                  (uniform_at(seed + 2, static_cast<std::uint64_t>(p * m.T + t)) - 0.5f) * jitter;
          }
      }
      ++k;
    }
  }
  return m;
}

}  // namespace hrnet::infer_test

// HigherHRNet training targets, exactly as the official `lib/dataset/target_generators/
// target_generators.py`: per-resolution Gaussian heatmaps (`HeatmapGenerator`) and the flat-index
// joint lists of the associative-embedding loss (`JointsGenerator`).
//
// Joints are a (P, K, 3) tensor of (x, y, v) per person and joint, in output-pixel coordinates of
// the resolution the generator is built for (after the affine transform of transforms.hpp). The
// official code keeps them in float64; `Tensor<double, CPU>` and `Tensor<float, CPU>` are accepted.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "hrnet/core/error.hpp"
#include "hrnet/core/tensor.hpp"

namespace hrnet::data {

namespace detail {
template <class T>
void check_joints(const Tensor<T, CPU>& joints, std::int64_t num_joints, const char* who) {
  HRNET_CHECK(joints.shape().rank() == 3 && joints.shape()[1] == num_joints && joints.shape()[2] >= 3, ShapeError,
              who << ": joints must be (P, " << num_joints << ", 3) = (x, y, v) per person and joint, got "
                  << joints.shape());
}
// Python's int(x) for a joint coordinate followed by the official bounds test `0 <= int(x) < res`,
// without overflowing for huge or non-finite values (which the bounds test rejects anyway; Python
// would raise on NaN/inf, we skip the joint).
inline bool truncated_in_range(double v, std::int64_t res, std::int64_t& out) {
  if (!std::isfinite(v)) return false;
  const double t = std::trunc(v);  // int(): truncation toward zero, so -0.5 -> 0 (kept)
  if (t < 0.0 || t >= static_cast<double>(res)) return false;
  out = static_cast<std::int64_t>(t);
  return true;
}
}  // namespace detail

// `HeatmapGenerator(output_res, num_joints, sigma)`: for each person and each joint with v > 0 whose
// truncated position (int(x), int(y)) lies in [0, res)^2, pastes the window
//   g[j][i] = exp(-((i - x0)^2 + (j - y0)^2) / (2 sigma^2)),  i, j = 0 .. ceil(6 sigma + 3) - 1,
//   x0 = y0 = 3 sigma + 1   (computed in double, as numpy does)
// with its top-left corner at (round(x - 3 sigma - 1), round(y - 3 sigma - 1)) (numpy's round:
// half to even; exact integers for integer sigma), clipped to the map, combining by max across
// people. Output: float32 (K, res, res); values are the double window rounded to float, as the
// official `hms[...] = np.maximum(hms[...], g[...])` stores it. sigma < 0 means res / 64 (official).
class HeatmapGenerator {
 public:
  HeatmapGenerator(std::int64_t output_res, std::int64_t num_joints, double sigma = -1.0)
      : res_(output_res), num_joints_(num_joints), sigma_(sigma < 0 ? static_cast<double>(output_res) / 64.0 : sigma) {
    HRNET_CHECK(output_res > 0, ValueError, "HeatmapGenerator: output_res must be positive, got " << output_res);
    HRNET_CHECK(num_joints > 0, ValueError, "HeatmapGenerator: num_joints must be positive, got " << num_joints);
    HRNET_CHECK(sigma_ > 0 && std::isfinite(sigma_), ValueError,
                "HeatmapGenerator: sigma must be positive and finite, got " << sigma_);
    // np.arange(0, 6 sigma + 3, 1): ceil(6 sigma + 3) points.
    size_ = static_cast<std::int64_t>(std::ceil(6.0 * sigma_ + 3.0));
    const double c = 3.0 * sigma_ + 1.0;
    g_.resize(static_cast<std::size_t>(size_ * size_));
    for (std::int64_t j = 0; j < size_; ++j)
      for (std::int64_t i = 0; i < size_; ++i) {
        const double dx = static_cast<double>(i) - c, dy = static_cast<double>(j) - c;
        g_[static_cast<std::size_t>(j * size_ + i)] = std::exp(-(dx * dx + dy * dy) / (2.0 * sigma_ * sigma_));
      }
  }

  std::int64_t output_res() const { return res_; }
  std::int64_t num_joints() const { return num_joints_; }
  double sigma() const { return sigma_; }
  std::int64_t window_size() const { return size_; }
  // The window, row-major (size x size), in double as computed.
  const std::vector<double>& window() const { return g_; }

  template <class T>
  Tensor<float, CPU> operator()(const Tensor<T, CPU>& joints) const {
    detail::check_joints(joints, num_joints_, "HeatmapGenerator");
    auto hms = Tensor<float, CPU>::zeros({num_joints_, res_, res_});
    float* out = hms.data();
    const std::int64_t people = joints.shape()[0], stride = joints.shape()[2];
    for (std::int64_t p = 0; p < people; ++p)
      for (std::int64_t k = 0; k < num_joints_; ++k) {
        const T* pt = joints.data() + (p * num_joints_ + k) * stride;
        if (!(static_cast<double>(pt[2]) > 0)) continue;
        std::int64_t x = 0, y = 0;
        if (!detail::truncated_in_range(static_cast<double>(pt[0]), res_, x) ||
            !detail::truncated_in_range(static_cast<double>(pt[1]), res_, y))
          continue;
        // ul / br exactly as the official code (np.round = half to even = nearbyint by default).
        const std::int64_t ul_x = static_cast<std::int64_t>(std::nearbyint(double(x) - 3.0 * sigma_ - 1.0));
        const std::int64_t ul_y = static_cast<std::int64_t>(std::nearbyint(double(y) - 3.0 * sigma_ - 1.0));
        const std::int64_t br_x = static_cast<std::int64_t>(std::nearbyint(double(x) + 3.0 * sigma_ + 2.0));
        const std::int64_t br_y = static_cast<std::int64_t>(std::nearbyint(double(y) + 3.0 * sigma_ + 2.0));
        // Map region [aa, bb) x [cc, dd) takes window region starting at (a, c); numpy slicing of the
        // window clamps at its size, so clamp here too (only matters for non-integer sigma).
        const std::int64_t c0 = std::max<std::int64_t>(0, -ul_x), a0 = std::max<std::int64_t>(0, -ul_y);
        const std::int64_t cc = std::max<std::int64_t>(0, ul_x), dd = std::min(br_x, res_);
        const std::int64_t aa = std::max<std::int64_t>(0, ul_y), bb = std::min(br_y, res_);
        float* plane = out + k * res_ * res_;
        for (std::int64_t yy = aa; yy < bb; ++yy) {
          const std::int64_t gj = a0 + (yy - aa);
          if (gj >= size_) break;
          for (std::int64_t xx = cc; xx < dd; ++xx) {
            const std::int64_t gi = c0 + (xx - cc);
            if (gi >= size_) break;
            const float v = static_cast<float>(g_[static_cast<std::size_t>(gj * size_ + gi)]);
            float& h = plane[yy * res_ + xx];
            if (v > h) h = v;
          }
        }
      }
    return hms;
  }

 private:
  std::int64_t res_, num_joints_;
  double sigma_;
  std::int64_t size_ = 0;
  std::vector<double> g_;
};

// `JointsGenerator(max_num_people, num_joints, output_res, tag_per_joint)`: (max_num_people, K, 2)
// int64. Row i is person i; its joints with v > 0 and 0 <= int(x), int(y) < res are packed in
// joint order into slots tot = 0, 1, ... as (k * res^2 + y * res + x, 1) (or (y * res + x, 1)
// without tag_per_joint); the remaining slots are (0, 0).
//
// More than max_num_people people: the official code raises IndexError. Here people beyond
// max_num_people are left out of the joint list (they are still drawn on the heatmaps by
// HeatmapGenerator, which has no limit); `dropped_people()` reports how many the last call left out.
class JointsGenerator {
 public:
  static constexpr std::int64_t kMaxNumPeople = 30;  // DATASET.MAX_NUM_PEOPLE

  JointsGenerator(std::int64_t max_num_people, std::int64_t num_joints, std::int64_t output_res,
                  bool tag_per_joint = true)
      : max_people_(max_num_people), num_joints_(num_joints), res_(output_res), tag_per_joint_(tag_per_joint) {
    HRNET_CHECK(max_num_people > 0, ValueError, "JointsGenerator: max_num_people must be positive, got " << max_num_people);
    HRNET_CHECK(num_joints > 0, ValueError, "JointsGenerator: num_joints must be positive, got " << num_joints);
    HRNET_CHECK(output_res > 0, ValueError, "JointsGenerator: output_res must be positive, got " << output_res);
  }

  std::int64_t max_num_people() const { return max_people_; }
  std::int64_t num_joints() const { return num_joints_; }
  std::int64_t output_res() const { return res_; }
  bool tag_per_joint() const { return tag_per_joint_; }

  template <class T>
  Tensor<std::int64_t, CPU> operator()(const Tensor<T, CPU>& joints, std::int64_t* dropped_people = nullptr) const {
    detail::check_joints(joints, num_joints_, "JointsGenerator");
    auto out = Tensor<std::int64_t, CPU>::zeros({max_people_, num_joints_, 2});
    const std::int64_t people = joints.shape()[0], stride = joints.shape()[2];
    const std::int64_t kept = std::min(people, max_people_);
    if (dropped_people) *dropped_people = people - kept;
    for (std::int64_t p = 0; p < kept; ++p) {
      std::int64_t tot = 0;
      for (std::int64_t k = 0; k < num_joints_; ++k) {
        const T* pt = joints.data() + (p * num_joints_ + k) * stride;
        std::int64_t x = 0, y = 0;
        if (!(static_cast<double>(pt[2]) > 0)) continue;
        if (!detail::truncated_in_range(static_cast<double>(pt[0]), res_, x) ||
            !detail::truncated_in_range(static_cast<double>(pt[1]), res_, y))
          continue;
        std::int64_t* slot = out.data() + (p * num_joints_ + tot) * 2;
        slot[0] = (tag_per_joint_ ? k * res_ * res_ : 0) + y * res_ + x;
        slot[1] = 1;
        ++tot;
      }
    }
    return out;
  }

 private:
  std::int64_t max_people_, num_joints_, res_;
  bool tag_per_joint_;
};

// Stacks per-image joint lists (M, K, 2), as JointsGenerator returns them, into the batch tensor
// (N, M, K, 2) that ops::ae_loss takes. A 4-D tensor is channels-last in memory, so this copies
// element by element through at() rather than concatenating the row-major per-image buffers.
inline Tensor<std::int64_t, CPU> batch_joints(const std::vector<Tensor<std::int64_t, CPU>>& per_image) {
  HRNET_CHECK(!per_image.empty(), ValueError, "batch_joints: no images");
  const Shape& s0 = per_image[0].shape();
  HRNET_CHECK(s0.rank() == 3 && s0[2] == 2, ShapeError, "batch_joints: joint lists must be (M, K, 2), got " << s0);
  const std::int64_t N = static_cast<std::int64_t>(per_image.size()), M = s0[0], K = s0[1];
  auto out = Tensor<std::int64_t, CPU>::empty({N, M, K, 2});
  for (std::int64_t n = 0; n < N; ++n) {
    HRNET_CHECK(per_image[n].shape() == s0, ShapeError,
                "batch_joints: image " << n << " has joint list " << per_image[n].shape() << ", image 0 has " << s0);
    const std::int64_t* src = per_image[n].data();
    for (std::int64_t m = 0; m < M; ++m)
      for (std::int64_t k = 0; k < K; ++k)
        for (std::int64_t c = 0; c < 2; ++c) out.at(n, m, k, c) = src[(m * K + k) * 2 + c];
  }
  return out;
}

}  // namespace hrnet::data

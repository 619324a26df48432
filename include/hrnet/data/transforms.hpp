// HigherHRNet training augmentation, exactly as the official `lib/dataset/transforms/transforms.py`:
// RandomAffineTransform (its `_get_affine_matrix`, joint mapping, image/mask warping),
// RandomHorizontalFlip (with the COCO / CrowdPose flip index), ToTensor + Normalize.
//
// Images are 8-bit interleaved HWC (RGB after the loader's BGR->RGB), as cv2 holds them. The warp is
// our own re-implementation of cv2.warpAffine with the flags the official code uses (default
// INTER_LINEAR, BORDER_CONSTANT with value 0, forward matrix inverted internally), including its
// fixed-point arithmetic: source coordinates are quantised to 1/32 pixel (AB_BITS = 10,
// INTER_BITS = 5) and 8-bit bilinear blending uses 15-bit integer weights with round-half-up, so the
// 8-bit result is bit-identical to OpenCV's classic (<= 4.10) warp.
//
// Joints are a (P, K, 3) tensor (x, y, v), float64 like the official numpy arrays (float accepted).
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <span>
#include <vector>

#include "hrnet/core/error.hpp"
#include "hrnet/core/rng.hpp"
#include "hrnet/core/tensor.hpp"

namespace hrnet::data {

// FLIP_CONFIG of lib/dataset/transforms/build.py.
inline constexpr std::array<std::int64_t, 17> kCocoFlipIndex = {0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15};
inline constexpr std::array<std::int64_t, 14> kCrowdPoseFlipIndex = {1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 12, 13};

// A 2x3 affine matrix, row-major: x' = m[0] x + m[1] y + m[2], y' = m[3] x + m[4] y + m[5].
using Affine = std::array<double, 6>;

inline std::array<double, 2> apply_affine(const Affine& m, double x, double y) {
  return {m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]};
}

// `RandomAffineTransform._get_affine_matrix(center, scale, res, rot)[:2]` with res = (out_h, out_w):
// the square of side 200*scale around `center` mapped onto out_w x out_h, then rotated by -rot
// degrees about the output center ("rot = -rot to match direction of rotation from cropping").
// Same operation order as the numpy code (t_inv . (rot_mat . (t_mat . t))).
Affine affine_matrix(double center_x, double center_y, double scale, std::int64_t out_w, std::int64_t out_h,
                     double rot_deg);

// `_affine_joints`: maps (x, y) of every joint in place; v (and any further columns) unchanged.
template <class T>
void affine_joints(Tensor<T, CPU>& joints, const Affine& m) {
  HRNET_CHECK(joints.shape().rank() == 3 && joints.shape()[2] >= 2, ShapeError,
              "affine_joints: joints must be (P, K, >=2), got " << joints.shape());
  const std::int64_t n = joints.shape()[0] * joints.shape()[1], stride = joints.shape()[2];
  for (std::int64_t i = 0; i < n; ++i) {
    T* pt = joints.data() + i * stride;
    const auto q = apply_affine(m, static_cast<double>(pt[0]), static_cast<double>(pt[1]));
    pt[0] = static_cast<T>(q[0]);
    pt[1] = static_cast<T>(q[1]);
  }
}

// The parameters RandomAffineTransform draws for one sample.
struct AffineParams {
  double center_x = 0, center_y = 0;  // after translation, in input-image pixels
  double scale = 1;                    // side of the crop square / 200
  double aug_scale = 1;                // the random factor alone (scale-aware sigma divides by it)
  double rotation = 0;                 // degrees
};

struct AffineConfig {
  double max_rotation = 30, min_scale = 0.75, max_scale = 1.5;
  bool scale_type_long = false;  // SCALE_TYPE 'short' (false) or 'long'
  double max_translate = 40;
};

// Draws the parameters like `RandomAffineTransform.__call__`, in the same order:
// aug_scale ~ U[min, max), rot ~ U[-max_rot, max_rot), then (if max_translate > 0)
// dx, dy = randint(int(-t*scale), int(t*scale)) (numpy's integer truncation of float bounds,
// upper bound exclusive). Our generator is not numpy's, so the draws differ; the law is the same.
AffineParams sample_affine(std::int64_t height, std::int64_t width, Rng& rng, const AffineConfig& cfg = {});

enum class Interp { Linear, Nearest };

// cv2.warpAffine(src, M, (out_w, out_h), flags=interp, borderMode=BORDER_CONSTANT, borderValue=0)
// for an 8-bit HWC image with `channels` interleaved channels. Bit-identical to OpenCV's classic
// implementation: pixels outside the source read as 0 (so the border blends towards black).
std::vector<std::uint8_t> warp_affine(std::span<const std::uint8_t> src, std::int64_t height, std::int64_t width,
                                      std::int64_t channels, const Affine& m, std::int64_t out_w,
                                      std::int64_t out_h, Interp interp = Interp::Linear);

// The same warp for a float HWC tensor (H, W, C), as cv2 does for CV_32F: bilinear weights
// (1 - fy/32 | fy/32) x (1 - fx/32 | fx/32) in float on the 1/32-quantised position, summed in float.
// (Not used by the official pipeline, which warps 8-bit images; provided for float inputs.)
Tensor<float, CPU> warp_affine(const Tensor<float, CPU>& src, const Affine& m, std::int64_t out_w,
                               std::int64_t out_h, Interp interp = Interp::Linear);

// The official mask warp: cv2.warpAffine((mask * 255).astype(uint8), M, (out, out)) / 255 > 0.5.
// `mask` is (H, W) with values in [0, 1] (1 = supervise); the result is (out_h, out_w) of 0/1, and 0
// outside the source image.
Tensor<float, CPU> warp_mask(const Tensor<float, CPU>& mask, const Affine& m, std::int64_t out_w,
                             std::int64_t out_h);

// RandomHorizontalFlip on joints: reindex with `flip_index` (joints[:, flip_index]) and
// x -> output_size - x - 1. (The official quirk: relative to flipping the 512 input, X -> 511 - X,
// joints at output size 128 move by 0.75 output pixels; reproduced as is.)
template <class T>
void flip_joints(Tensor<T, CPU>& joints, std::span<const std::int64_t> flip_index, std::int64_t output_size) {
  HRNET_CHECK(joints.shape().rank() == 3 && joints.shape()[2] >= 1, ShapeError,
              "flip_joints: joints must be (P, K, >=1), got " << joints.shape());
  const std::int64_t people = joints.shape()[0], k = joints.shape()[1], stride = joints.shape()[2];
  HRNET_CHECK(static_cast<std::int64_t>(flip_index.size()) == k, ShapeError,
              "flip_joints: flip index has " << flip_index.size() << " entries for " << k << " joints");
  for (const auto f : flip_index)
    HRNET_CHECK(f >= 0 && f < k, ValueError, "flip_joints: flip index entry " << f << " out of range for " << k << " joints");
  std::vector<T> row(static_cast<std::size_t>(k * stride));
  for (std::int64_t p = 0; p < people; ++p) {
    T* base = joints.data() + p * k * stride;
    std::copy(base, base + k * stride, row.begin());
    for (std::int64_t j = 0; j < k; ++j) {
      const T* s = row.data() + flip_index[static_cast<std::size_t>(j)] * stride;
      std::copy(s, s + stride, base + j * stride);
      base[j * stride] = static_cast<T>(static_cast<double>(output_size) - static_cast<double>(base[j * stride]) - 1.0);
    }
  }
}

// image[:, ::-1] for an 8-bit HWC image, in place.
void flip_image(std::span<std::uint8_t> img, std::int64_t height, std::int64_t width, std::int64_t channels);

// mask[:, ::-1] for an (H, W) mask, in place.
void flip_mask(Tensor<float, CPU>& mask);

// ToTensor + Normalize: 8-bit RGB HWC -> float (1, 3, H, W) (NHWC in memory) with
// ((p / 255) - mean) / std in float32, as torchvision computes it.
Tensor<float, CPU> to_normalized_tensor(std::span<const std::uint8_t> img, std::int64_t height, std::int64_t width,
                                        std::array<float, 3> mean = {0.485f, 0.456f, 0.406f},
                                        std::array<float, 3> std = {0.229f, 0.224f, 0.225f});

}  // namespace hrnet::data

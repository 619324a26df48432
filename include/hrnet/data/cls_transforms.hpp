// The official HRNet-Image-Classification preprocessing (tools/train.py), on 8-bit RGB images
// (data::Image), producing normalised float pixels in the layout of an NHWC batch:
//
//   train  RandomResizedCrop(S, scale (0.08, 1), ratio (3/4, 4/3)) -> RandomHorizontalFlip(0.5)
//          -> ToTensor -> Normalize(mean, std)
//   eval   Resize(int(S / 0.875)) (short side) -> CenterCrop(S) -> ToTensor -> Normalize(mean, std)
//
// with S = MODEL.IMAGE_SIZE[0] (224). What torchvision does on PIL images is reproduced exactly:
//   - the crop parameters follow RandomResizedCrop.get_params draw for draw (random_resized_crop_box),
//     including the fallback after 10 rejected attempts;
//   - resizing is PIL's Image.resize(BILINEAR) (what torchvision calls for PIL images; it is
//     antialiased: the triangle filter's support widens with the downscale factor), including its
//     22-bit fixed-point coefficients and the rounding of the horizontal pass to 8 bits, so the
//     resized pixels are bit-identical to Pillow's (tests/data/pil_resize_reference.py checks it);
//   - ToTensor + Normalize in float32 as torch computes them: (v / 255 - mean) / std.
// The random draws come from the caller's Rng in this order: per attempt a uniform for the scale and
// one for the log-ratio, then (on acceptance) integers for the top and the left offset; then one
// uniform for the flip. (torch's own generator differs, so the values differ from a PyTorch run; the
// arithmetic given the draws is the same.)
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <utility>

#include "hrnet/core/rng.hpp"
#include "hrnet/data/image.hpp"

namespace hrnet::data {

struct CropBox {
  std::int64_t top = 0, left = 0, height = 0, width = 0;
  bool operator==(const CropBox&) const = default;
};

struct RandomResizedCropOptions {
  double scale_min = 0.08, scale_max = 1.0;
  double ratio_min = 3.0 / 4.0, ratio_max = 4.0 / 3.0;
  int attempts = 10;
};

// Python's round(): to nearest, ties to even (what torchvision's int(round(...)) does).
inline std::int64_t round_half_even(double x) {
  const double f = std::floor(x), d = x - f;
  double r = f;
  if (d > 0.5 || (d == 0.5 && std::fmod(f, 2.0) != 0.0)) r = f + 1.0;
  return static_cast<std::int64_t>(r);
}

// RandomResizedCrop.get_params for an image of height x width. Gen provides uniform() in [0, 1)
// and below(n) in [0, n) (hrnet::Rng does).
template <class Gen>
CropBox random_resized_crop_box(std::int64_t height, std::int64_t width, const RandomResizedCropOptions& o, Gen& gen) {
  const double area = static_cast<double>(height) * static_cast<double>(width);
  const double log_lo = std::log(o.ratio_min), log_hi = std::log(o.ratio_max);
  for (int attempt = 0; attempt < o.attempts; ++attempt) {
    const double target_area = area * (o.scale_min + (o.scale_max - o.scale_min) * gen.uniform());
    const double aspect_ratio = std::exp(log_lo + (log_hi - log_lo) * gen.uniform());
    const std::int64_t w = round_half_even(std::sqrt(target_area * aspect_ratio));
    const std::int64_t h = round_half_even(std::sqrt(target_area / aspect_ratio));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const auto top = static_cast<std::int64_t>(gen.below(static_cast<std::uint64_t>(height - h + 1)));
      const auto left = static_cast<std::int64_t>(gen.below(static_cast<std::uint64_t>(width - w + 1)));
      return {top, left, h, w};
    }
  }
  // fallback: the central crop of the whole image clamped to the ratio range
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  std::int64_t w = width, h = height;
  if (in_ratio < std::min(o.ratio_min, o.ratio_max)) h = round_half_even(static_cast<double>(w) / std::min(o.ratio_min, o.ratio_max));
  else if (in_ratio > std::max(o.ratio_min, o.ratio_max)) w = round_half_even(static_cast<double>(h) * std::max(o.ratio_min, o.ratio_max));
  return {(height - h) / 2, (width - w) / 2, h, w};
}

// torchvision Resize(size) with an int size: the short side becomes `short_side`, the long side
// int(short_side * long / short). Returns (height, width).
std::pair<std::int64_t, std::int64_t> resize_short_side(std::int64_t height, std::int64_t width, std::int64_t short_side);

// torchvision CenterCrop(crop_h, crop_w) on an image at least that large: offsets
// int(round((size - crop) / 2)).
CropBox center_crop_box(std::int64_t height, std::int64_t width, std::int64_t crop_h, std::int64_t crop_w);

// PIL's Image.crop(box).resize((out_w, out_h), Image.BILINEAR), bit-exact. `region` must lie inside src.
Image resize_bilinear_pil(const Image& src, const CropBox& region, std::int64_t out_h, std::int64_t out_w);

// PIL's Image.resize((out_w, out_h), Image.BILINEAR, box=(left, top, left + width, top + height)): a
// fractional source rectangle; the filter reads src's pixels around it, clipped to src's edges (not
// to the box's). PIL keeps the box in float32, so this is bit-exact with Pillow when the four values
// are exact in float32 (e.g. multiples of 1/8 below 2^20, which is what DCT-scaled regions give).
// With the box (0, 0, W, H) of a crop it equals resize_bilinear_pil of that crop.
Image resize_bilinear_pil_box(const Image& src, double top, double left, double height, double width, std::int64_t out_h,
                              std::int64_t out_w);

void flip_horizontal(Image& img);

struct ClsTransformOptions {
  std::int64_t size = 224;         // crop size S (MODEL.IMAGE_SIZE[0])
  std::int64_t resize = 256;       // eval: short side before the centre crop (int(S / 0.875))
  RandomResizedCropOptions crop;
  double flip_prob = 0.5;
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};
};

// Official options for crop size S: resize = int(S / 0.875).
ClsTransformOptions official_cls_transform(std::int64_t size);

// ToTensor + Normalize of an S x S image into out[S * S * 3] (HWC, as one image of an NHWC batch);
// with mirror, of the horizontally flipped image (the same values as flip_horizontal first).
void normalize_to(const Image& img, const ClsTransformOptions& o, float* out, bool mirror = false);

// resize_bilinear_pil_box(src, top, left, height, width, S, S) then normalize_to(..., mirror) into
// out[S * S * 3], without the intermediate Image (the same values).
void resize_normalize_pil_box(const Image& src, double top, double left, double height, double width,
                              const ClsTransformOptions& o, bool mirror, float* out);

// The training transform of one image into out[S * S * 3]. Returns the crop and the flip it drew.
struct TrainTransformDraw {
  CropBox crop;
  bool flipped = false;
};
TrainTransformDraw cls_train_transform(const Image& img, const ClsTransformOptions& o, Rng& rng, float* out);

// The evaluation transform of one image into out[S * S * 3] (deterministic).
void cls_eval_transform(const Image& img, const ClsTransformOptions& o, float* out);

}  // namespace hrnet::data

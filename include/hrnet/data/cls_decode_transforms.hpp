// The classification transforms (hrnet/data/cls_transforms.hpp) applied straight to an encoded JPEG
// or PNG, in one of two modes:
//
//   kExact  decode_image + cls_train_transform / cls_eval_transform: bit-identical with torchvision on
//           PIL images (given the same draws), as documented in cls_transforms.hpp.
//   kFast   decode only what the output needs, at a reduced JPEG DCT scale (hrnet/data/jpeg_region.hpp):
//           train: the crop is drawn from the full-resolution size (probe_image), then only its rows
//             and columns are decoded, at the fastest scale M/8 at which the crop still has at least
//             kFastDecodeCover * S pixels per side (fast_jpeg_scale), and that scaled rectangle (the
//             same source rectangle, in scaled coordinates) is resized to S x S with Pillow's bilinear
//             filter (resize_normalize_pil_box);
//           eval: decoded at the fastest scale at which the whole image still has kFastDecodeCover
//             times the Resize target's pixels per side (short side o.resize), only the rows and
//             columns the centre crop and its filter reach; the Resize + CenterCrop become one resize
//             of the crop's source rectangle.
//           When that scale is 8/8 (for S = 224: every crop with a side under 672 = 2 * 1.5 * 224
//           pixels, so every crop of an ImageNet-sized picture) the training transform gives exactly
//           kExact's values (the region decode and the resize are bit-
//           identical) and the evaluation transform the same up to the last bit of PIL's filter
//           positions (equal in the tests). At 1/8 .. 4/8 the scaled IDCT is a different low-pass
//           filter from Pillow's antialiased bilinear one, so the pixels differ a little:
//           tests/data/test_jpeg_region.cpp bounds the mean absolute difference and the share of
//           large differences over many random crops (stated there, and in docs/data.md with the
//           speed). PNGs (and JPEGs without libjpeg) decode fully in both modes, and kFast then
//           gives what kExact gives (decodes_scaled() is false).
//
// The random draws are the same in both modes and come in cls_train_transform's order (crop from the
// full-resolution size, then the flip), so a given Rng gives the same crop and flip either way.
// Errors: ImageError naming `name` for anything wrong with the data (see decode_image, decode_region).
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "hrnet/core/rng.hpp"
#include "hrnet/data/cls_transforms.hpp"

namespace hrnet::data {

enum class DecodeMode { kExact, kFast };

// kFast decodes at a scale where the region keeps at least this many times the output's pixels per
// side, so that Pillow's antialiasing filter, not the DCT truncation alone, does the last part of the
// downscale. With 1 (the smallest covering scale) hard high-frequency content (the synthetic dataset's
// 6-14 pixel stripes in a 1000-pixel picture) came out with a mean difference of 0.21 from kExact and
// 36% of the values off by more than 0.25 (eval); with 1.5, 0.03 and none.
inline constexpr double kFastDecodeCover = 1.5;

// The training transform of one encoded image into out[S * S * 3] (HWC). Returns the crop (full-
// resolution coordinates) and the flip it drew.
TrainTransformDraw cls_train_transform_encoded(std::span<const std::uint8_t> bytes, const std::string& name,
                                               const ClsTransformOptions& o, Rng& rng, float* out, DecodeMode mode);

// The evaluation transform of one encoded image into out[S * S * 3] (deterministic).
void cls_eval_transform_encoded(std::span<const std::uint8_t> bytes, const std::string& name, const ClsTransformOptions& o,
                                float* out, DecodeMode mode);

}  // namespace hrnet::data

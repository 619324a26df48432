// The classification transforms (hrnet/data/cls_transforms.hpp) applied straight to an encoded JPEG
// or PNG, in one of two modes:
//
//   kExact  decode_image + cls_train_transform / cls_eval_transform: bit-identical with torchvision on
//           PIL images (given the same draws), as documented in cls_transforms.hpp.
//   kFast   decode only what the output needs, at a reduced JPEG DCT scale (hrnet/data/jpeg_region.hpp):
//           train: the crop is drawn from the full-resolution size (probe_image), then decoded at the
//             smallest scale M/8 at which it still has at least S x S pixels, and that scaled rectangle
//             (the same source rectangle, in scaled coordinates) is resized to S x S with Pillow's
//             bilinear filter (resize_bilinear_pil_box);
//           eval: decoded at the smallest scale at which the whole image still covers the Resize
//             target (short side o.resize), only the rows and columns the centre crop and its filter
//             reach; the Resize + CenterCrop become one resize of the crop's source rectangle.
//           The scaled IDCT is a different low-pass filter from Pillow's antialiased bilinear one, so
//           the pixels differ a little from kExact: tests/data/test_jpeg_region.cpp bounds the mean
//           absolute difference and the share of large differences over many random crops (stated
//           there, and in docs/data.md with the speed). PNGs (and JPEGs without libjpeg) decode fully
//           in both modes, and kFast then gives what kExact gives (decodes_scaled() is false).
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

// The training transform of one encoded image into out[S * S * 3] (HWC). Returns the crop (full-
// resolution coordinates) and the flip it drew.
TrainTransformDraw cls_train_transform_encoded(std::span<const std::uint8_t> bytes, const std::string& name,
                                               const ClsTransformOptions& o, Rng& rng, float* out, DecodeMode mode);

// The evaluation transform of one encoded image into out[S * S * 3] (deterministic).
void cls_eval_transform_encoded(std::span<const std::uint8_t> bytes, const std::string& name, const ClsTransformOptions& o,
                                float* out, DecodeMode mode);

}  // namespace hrnet::data

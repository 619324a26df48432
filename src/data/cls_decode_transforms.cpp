// Classification transforms from encoded images (see hrnet/data/cls_decode_transforms.hpp).
#include "hrnet/data/cls_decode_transforms.hpp"

#include <algorithm>
#include <cmath>

#include "hrnet/data/jpeg_region.hpp"

namespace hrnet::data {

TrainTransformDraw cls_train_transform_encoded(std::span<const std::uint8_t> bytes, const std::string& name,
                                               const ClsTransformOptions& o, Rng& rng, float* out, DecodeMode mode) {
  if (mode == DecodeMode::kExact) return cls_train_transform(decode_image(bytes, name), o, rng, out);
  HRNET_CHECK(o.size > 0 && o.size <= kMaxImageSide, ValueError, "classification transform: invalid crop size " << o.size);
  const ImageInfo info = probe_image(bytes, name);
  if (!decodes_scaled(info)) return cls_train_transform(decode_image(bytes, name), o, rng, out);  // full decode either way
  TrainTransformDraw d;
  d.crop = random_resized_crop_box(info.height, info.width, o.crop, rng);
  RegionDecodeOptions ro;
  const auto cover = static_cast<std::int64_t>(std::ceil(kFastDecodeCover * double(o.size)));
  ro.scale_num = fast_jpeg_scale(double(d.crop.height), double(d.crop.width), cover, cover);
  const DecodedRegion r = decode_region(bytes, name, d.crop, ro);
  d.flipped = rng.uniform() < o.flip_prob;  // torch.rand(1) < p
  resize_normalize_pil_box(r.pixels, r.top, r.left, r.height, r.width, o, d.flipped, out);
  return d;
}

void cls_eval_transform_encoded(std::span<const std::uint8_t> bytes, const std::string& name, const ClsTransformOptions& o,
                                float* out, DecodeMode mode) {
  if (mode == DecodeMode::kExact) return cls_eval_transform(decode_image(bytes, name), o, out);
  HRNET_CHECK(o.size > 0 && o.size <= kMaxImageSide, ValueError, "classification transform: invalid crop size " << o.size);
  HRNET_CHECK(o.resize >= o.size, ValueError, "classification transform: resize " << o.resize << " < crop " << o.size);
  const ImageInfo info = probe_image(bytes, name);
  if (!decodes_scaled(info)) return cls_eval_transform(decode_image(bytes, name), o, out);  // a full decode either way
  const auto [rh, rw] = resize_short_side(info.height, info.width, o.resize);
  const CropBox c = center_crop_box(rh, rw, o.size, o.size);
  // Full-resolution pixels per resized pixel, per axis (Resize keeps the aspect only up to rounding).
  const double sy = double(info.height) / double(rh), sx = double(info.width) / double(rw);
  const std::int64_t top = std::clamp<std::int64_t>(static_cast<std::int64_t>(std::floor(double(c.top) * sy)), 0, info.height - 1);
  const std::int64_t left = std::clamp<std::int64_t>(static_cast<std::int64_t>(std::floor(double(c.left) * sx)), 0, info.width - 1);
  const std::int64_t bottom =
      std::clamp<std::int64_t>(static_cast<std::int64_t>(std::ceil(double(c.top + c.height) * sy)), top + 1, info.height);
  const std::int64_t right =
      std::clamp<std::int64_t>(static_cast<std::int64_t>(std::ceil(double(c.left + c.width) * sx)), left + 1, info.width);
  RegionDecodeOptions ro;
  ro.scale_num = fast_jpeg_scale(double(info.height), double(info.width), static_cast<std::int64_t>(std::ceil(kFastDecodeCover * double(rh))),
                                 static_cast<std::int64_t>(std::ceil(kFastDecodeCover * double(rw))));
  const double m8 = ro.scale_num / 8.0;
  // The bilinear filter reaches max(1, scaled pixels per output pixel) around each output pixel's
  // centre; one more for the rounding of PIL's bounds.
  ro.context = static_cast<std::int64_t>(std::ceil(std::max({1.0, sy * m8, sx * m8}))) + 1;
  const DecodedRegion r = decode_region(bytes, name, {top, left, bottom - top, right - left}, ro);
  // Resize(short side) of the whole scaled image ([0, H * M / 8) x [0, W * M / 8)) followed by the
  // centre crop is the resize of the crop's source rectangle: PIL's filter centres are
  // (i + 0.5) * scale for output index i, the same for the crop's outputs with the box moved by
  // c.top * scale.
  const double ys = sy * m8, xs = sx * m8;  // scaled pixels per resized pixel
  const double box_top = double(c.top) * ys - double(r.y0), box_left = double(c.left) * xs - double(r.x0);
  const double box_h = std::min(double(c.height) * ys, double(r.pixels.height) - box_top);
  const double box_w = std::min(double(c.width) * xs, double(r.pixels.width) - box_left);
  resize_normalize_pil_box(r.pixels, box_top, box_left, box_h, box_w, o, false, out);
}

}  // namespace hrnet::data

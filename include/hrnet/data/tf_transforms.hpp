// The ImageNet preprocessing of the TensorFlow port of HRNet (yuanyuanli85/tf-hrnet, TF 1.12:
// utils/imagenet_preprocessing.py, the "ResNet preprocessing" of tensorflow/models and PocketFlow),
// on decoded 8-bit RGB images (data::Image), producing float pixels in the layout of an NHWC batch:
//
//   train  tf.image.sample_distorted_bounding_box(min_object_covered 0.1, aspect [0.75, 1.33],
//          area [0.05, 1], 100 attempts, the whole image when there is no box) -> crop
//          -> random_flip_left_right -> resize_images(S x S, BILINEAR, align_corners=False)
//          -> subtract the RGB means [123.68, 116.78, 103.94] (0..255 floats, no std division)
//   eval   aspect-preserving resize_images so the short side is 256 -> central crop S at offset
//          (dim - S) // 2 -> subtract the means
//
// What is exact (tests/data/test_tf_transforms.cpp checks it against TensorFlow's own ops):
//   - resizing is TF's legacy bilinear kernel (ResizeBilinear, half_pixel_centers=false): source
//     position i * (in / out) in float32, no antialiasing, float32 lerps in TF's order; the output
//     is the same float32 bits (src/data/tf_transforms.cpp is built with -ffp-contract=off: no FMA);
//   - the eval size is _smallest_size_at_least in float32: int(dim * (256 / min(h, w))), which
//     gives 255 instead of 256 for about 12% of short sides (e.g. 41, 47, 332: 332 * (256 / 332) <
//     256 in float32);
//   - sample_distorted_bounding_box is the kernel's algorithm (see below) given the draws;
//   - the flip happens before the resize (legacy bilinear is not mirror-symmetric, so the order
//     matters), and the means are subtracted in float32.
// What is only distributional: TF's random numbers come from Philox, ours from the caller's Rng, so
// a given seed does not give TF's crops; the distribution of the crops is TF's.
//
// JPEG decoding is not part of this file: the caller decodes (TF decodes with libjpeg-turbo's
// IFAST IDCT and, for training, decode_and_crop_jpeg; hrnet's decoder is ISLOW, so pixels may
// differ by a grey level or two from TF's decoded ones).
//
// sample_distorted_bounding_box (tensorflow/core/kernels/sample_distorted_bounding_box_op.cc),
// for an image of H x W pixels:
//   boxes -> pixel rectangles (int)(xmin * W), (int)(ymin * H), (int)(xmax * W), (int)(ymax * H)
//   in float32; no boxes -> the whole image is the one box. Per attempt (at most max_attempts):
//     a = u * (aspect_max - aspect_min) + aspect_min, u uniform on {k / 2^23} (TF's RandFloat)
//     min_area = area_min * W * H, max_area = area_max * W * H (float32)
//     h = lrintf(sqrt(min_area / a)), max_h = lrintf(sqrt(max_area / a))
//     if lrintf(max_h * a) > W: max_h = (int)((W + 0.5 - 1e-7f) / a) (in double)
//        [current TF then also: if lrintf(max_h * a) > W, max_h -= 1; see tf1_max_height]
//     max_h = min(max_h, H); h = min(h, max_h); if h < max_h: h += below(max_h - h + 1)
//     w = lrintf(h * a); if w * h < min_area: ++h, w = lrintf(h * a);
//     if w * h > max_area: --h, w = lrintf(h * a); reject unless min_area <= w * h <= max_area,
//     0 < w <= W, 0 < h <= H
//     y = h < H ? below(H - h) : 0; x = w < W ? below(W - w) : 0   (so y <= H - h - 1 when h < H:
//     TF's crops never touch the bottom/right border unless they span the image)
//     accept when the crop has area >= 1 and covers >= min_object_covered of some box of area >= 1
//       (intersection area / box area, float32)
//   no attempt accepted -> the whole image. (With no box the implicit whole-image box makes
//   min_object_covered 0.1 a minimum crop area of 10%, above area_min's 5%.)
// Draw order from the Gen (hrnet::Rng: uniform() in [0, 1), below(n) in [0, n)): per attempt one
// uniform() for the aspect ratio, then below() for the height when h < max_h, then (only when the
// size passed) below() for y when h < H and below() for x when w < W. tf_train_transform then draws
// one uniform() for the flip (flip when < flip_prob; TF: random_uniform < 0.5).
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>

#include "hrnet/core/rng.hpp"
#include "hrnet/data/cls_transforms.hpp"  // CropBox, TrainTransformDraw
#include "hrnet/data/image.hpp"
#include "hrnet/io/tfrecord.hpp"         // io::NormalizedBox

namespace hrnet::data {

struct TfTransformOptions {
  std::int64_t size = 224, resize = 256;  // output S x S; eval: the short side before the crop
  std::array<float, 3> mean{123.68f, 116.78f, 103.94f};  // RGB, subtracted from 0..255 values
  float min_object_covered = 0.1f;
  float aspect_min = 0.75f, aspect_max = 1.33f;  // width / height
  float area_min = 0.05f, area_max = 1.0f;       // fraction of the image area
  int max_attempts = 100;
  double flip_prob = 0.5;
  // The TF 1.x kernel (the port ran TF 1.12): no `max_h -= 1` guard after the width clamp (current
  // TF has it, "TODO(b/140767341)"; TF 1.x-era copies of the kernel do not). Without it, when the
  // clamped max_h still rounds to a width of W + 1 (about 2 in 1e5 (W, aspect) pairs, and only in
  // attempts whose height is limited by the width), the height draw has one more value, and
  // drawing it gives a width over W: the attempt fails. false: the current kernel.
  bool tf1_max_height = true;
};

// Throws ValueError unless the options are ones TF accepts (aspect range > 0, 0 < area <= 1,
// max_attempts > 0, min_object_covered >= 0, min <= max) and size, resize > 0, flip_prob in [0, 1].
void check_tf_transform_options(const TfTransformOptions& o);

namespace tf_detail {
// The algorithm above with the draws supplied by two callables (uniform in [0, 1), integer in [0, n)).
CropBox sample_distorted_bounding_box(std::int64_t height, std::int64_t width, std::span<const io::NormalizedBox> boxes,
                                      const TfTransformOptions& o, const std::function<double()>& uniform,
                                      const std::function<std::uint64_t(std::uint64_t)>& below);
}  // namespace tf_detail

// tf.image.sample_distorted_bounding_box for an image of height x width with the record's boxes
// (any coordinate outside [0, 1], or NaN, is a ValueError, as in TF). Gen: uniform() and below(n).
template <class Gen>
CropBox sample_distorted_bounding_box(std::int64_t height, std::int64_t width, std::span<const io::NormalizedBox> boxes,
                                      const TfTransformOptions& o, Gen& gen) {
  return tf_detail::sample_distorted_bounding_box(
      height, width, boxes, o, [&gen] { return gen.uniform(); }, [&gen](std::uint64_t n) { return gen.below(n); });
}
CropBox sample_distorted_bounding_box(std::int64_t height, std::int64_t width, std::span<const io::NormalizedBox> boxes,
                                      const TfTransformOptions& o, Rng& rng);

// TF 1.x tf.image.resize_images(BILINEAR, align_corners=False) of `region` of src into
// out[out_h * out_w * 3] (HWC floats, 0..255, no mean subtraction). `region` must lie inside src.
void resize_bilinear_tf(const Image& src, const CropBox& region, std::int64_t out_h, std::int64_t out_w, float* out);

// _smallest_size_at_least: (new_height, new_width) with the short side `resize_min`, in float32
// as TF computes it (the short side may come out as resize_min - 1).
std::pair<std::int64_t, std::int64_t> tf_aspect_preserving_size(std::int64_t height, std::int64_t width, std::int64_t resize_min);

// The deterministic part of the train transform: crop `draw.crop`, flip when `draw.flipped`,
// resize to S x S, subtract the means, into out[S * S * 3].
void tf_train_transform_fixed(const Image& img, const TrainTransformDraw& draw, const TfTransformOptions& o, float* out);

// The random part of the train transform for an image of height x width: the crop
// (sample_distorted_bounding_box), then the flip (one uniform below flip_prob).
TrainTransformDraw tf_train_draw(std::int64_t height, std::int64_t width, std::span<const io::NormalizedBox> boxes,
                                 const TfTransformOptions& o, Rng& rng);

// The train transform of a decoded full image into out[S * S * 3] (HWC floats, means subtracted);
// returns the crop and the flip it drew.
TrainTransformDraw tf_train_transform(const Image& img, std::span<const io::NormalizedBox> boxes, const TfTransformOptions& o,
                                      Rng& rng, float* out);

// The same from the encoded file, as the port's decode_and_crop_jpeg: the size from the header,
// then only the crop's window decoded (hrnet/data/jpeg_region.hpp, full scale), so the result
// equals decode_image + tf_train_transform with the same draws. ImageError naming `name` when the
// bytes do not decode.
TrainTransformDraw tf_train_transform_encoded(std::span<const std::uint8_t> bytes, const std::string& name,
                                              std::span<const io::NormalizedBox> boxes, const TfTransformOptions& o, Rng& rng,
                                              float* out);

// The eval transform into out[S * S * 3] (deterministic). ValueError when the resized image is
// smaller than S (resize < size).
void tf_eval_transform(const Image& img, const TfTransformOptions& o, float* out);

}  // namespace hrnet::data

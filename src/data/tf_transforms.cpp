// The TensorFlow port's ImageNet preprocessing (see hrnet/data/tf_transforms.hpp). Every float
// expression here is written in TF's types and order; src/CMakeLists.txt compiles this file with
// -ffp-contract=off so that the compiler cannot fuse a multiply and an add into one FMA (TF's
// kernels, built without FMA, round both).
#include "hrnet/data/tf_transforms.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "hrnet/data/jpeg_region.hpp"

namespace hrnet::data {
namespace {

// The kernel's Rectangle: [min, max) in pixels, int arithmetic, float area.
struct Rect {
  int min_x = 0, min_y = 0, max_x = 0, max_y = 0;
  float area() const { return static_cast<float>((max_x - min_x) * (max_y - min_y)); }
  Rect intersect(const Rect& r) const {
    const int x0 = std::max(min_x, r.min_x), y0 = std::max(min_y, r.min_y);
    const int x1 = std::min(max_x, r.max_x), y1 = std::min(max_y, r.max_y);
    if (x0 > x1 || y0 > y1) return {};
    return {x0, y0, x1, y1};
  }
};

// lrintf in the default rounding mode (to nearest, ties to even).
int round_float(float v) { return static_cast<int>(std::lrint(v)); }

// SatisfiesOverlapConstraints.
bool covers_some_box(const Rect& crop, float min_covered, const std::vector<Rect>& boxes) {
  constexpr float kMinArea = 1.0f;
  if (crop.area() < kMinArea) return false;
  for (const Rect& b : boxes) {
    const float object_area = b.area();
    if (object_area < kMinArea) continue;
    if (crop.intersect(b).area() / object_area >= min_covered) return true;
  }
  return false;
}

// GenerateRandomCrop; false when the attempt fails (after drawing what TF draws).
bool random_crop(int width, int height, float min_rel, float max_rel, float aspect, bool tf1,
                 const std::function<std::uint64_t(std::uint64_t)>& below, Rect& crop) {
  if (max_rel <= 0.0f || aspect <= 0.0f || width <= 0 || height <= 0 || min_rel > max_rel) return false;
  const float min_area = min_rel * static_cast<float>(width) * static_cast<float>(height);
  const float max_area = max_rel * static_cast<float>(width) * static_cast<float>(height);
  int h = round_float(std::sqrt(min_area / aspect));
  int max_h = round_float(std::sqrt(max_area / aspect));
  if (round_float(static_cast<float>(max_h) * aspect) > width) {
    // the largest max_h with round(max_h * aspect) <= width, computed in double as TF does
    const float kEps = 0.0000001f;
    max_h = static_cast<int>((width + 0.5 - static_cast<double>(kEps)) / static_cast<double>(aspect));
    if (!tf1 && round_float(static_cast<float>(max_h) * aspect) > width) max_h -= 1;
  }
  if (max_h > height) max_h = height;
  if (h >= max_h) h = max_h;
  if (h < max_h) h += static_cast<int>(below(static_cast<std::uint64_t>(max_h - h + 1)));
  int w = round_float(static_cast<float>(h) * aspect);
  float area = static_cast<float>(w * h);
  if (area < min_area) {  // rounding made it too small: one row more
    h += 1;
    w = round_float(static_cast<float>(h) * aspect);
    area = static_cast<float>(w * h);
  }
  if (area > max_area) {  // too large: one row less
    h -= 1;
    w = round_float(static_cast<float>(h) * aspect);
    area = static_cast<float>(w * h);
  }
  if (area < min_area || area > max_area || w > width || h > height || w <= 0 || h <= 0) return false;
  const int y = h < height ? static_cast<int>(below(static_cast<std::uint64_t>(height - h))) : 0;
  const int x = w < width ? static_cast<int>(below(static_cast<std::uint64_t>(width - w))) : 0;
  crop = {x, y, x + w, y + h};
  return true;
}

// TF's SimplePhilox::RandFloat is uniform on {k / 2^23, k = 0 .. 2^23 - 1}; so is this, from one draw.
float rand_float(const std::function<double()>& uniform) {
  const double k = std::floor(std::ldexp(uniform(), 23));
  return static_cast<float>(std::ldexp(k, -23));
}

// One output tap of the legacy bilinear kernel along one axis.
struct Tap {
  std::int64_t lower = 0, upper = 0;
  float lerp = 0;
};

// compute_interpolation_weights with the legacy scaler: in = i * (in_size / out_size) in float32.
std::vector<Tap> taps(std::int64_t out_size, std::int64_t in_size) {
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  std::vector<Tap> t(static_cast<std::size_t>(out_size));
  for (std::int64_t i = 0; i < out_size; ++i) {
    const float in = static_cast<float>(i) * scale;
    const float in_f = std::floor(in);
    Tap& p = t[static_cast<std::size_t>(i)];
    // floor(in) <= in_size - 1 in exact arithmetic; the clamp only guards memory against a float
    // rounding TF would not survive either (it cannot happen below ~1e7 pixels a side)
    p.lower = std::min(static_cast<std::int64_t>(in_f), in_size - 1);
    p.upper = std::min(p.lower + 1, in_size - 1);
    p.lerp = in - in_f;
  }
  return t;
}

// Resizes `region` of src (mirrored left-right first when `flip`) to a virtual out_h x out_w
// float image and writes its rows [y0, y0 + rows) x columns [x0, x0 + cols) to out (HWC,
// cols * 3 floats a row), minus `mean` when given.
void resize_window(const Image& src, const CropBox& r, bool flip, std::int64_t out_h, std::int64_t out_w, std::int64_t y0,
                   std::int64_t x0, std::int64_t rows, std::int64_t cols, const std::array<float, 3>* mean, float* out) {
  const std::vector<Tap> ys = taps(out_h, r.height), xs = taps(out_w, r.width);
  // source byte offsets of the two columns of every output column, the mirror applied
  std::vector<std::size_t> col_lo(static_cast<std::size_t>(cols)), col_hi(static_cast<std::size_t>(cols));
  for (std::int64_t x = 0; x < cols; ++x) {
    const Tap& t = xs[static_cast<std::size_t>(x0 + x)];
    const std::int64_t lo = flip ? r.width - 1 - t.lower : t.lower, hi = flip ? r.width - 1 - t.upper : t.upper;
    col_lo[static_cast<std::size_t>(x)] = static_cast<std::size_t>((r.left + lo) * 3);
    col_hi[static_cast<std::size_t>(x)] = static_cast<std::size_t>((r.left + hi) * 3);
  }
  const std::array<float, 3> m = mean ? *mean : std::array<float, 3>{0.f, 0.f, 0.f};
  for (std::int64_t y = 0; y < rows; ++y) {
    const Tap& ty = ys[static_cast<std::size_t>(y0 + y)];
    const std::uint8_t* top = src.pixels.data() + src.offset(r.top + ty.lower, 0);
    const std::uint8_t* bottom = src.pixels.data() + src.offset(r.top + ty.upper, 0);
    const float y_lerp = ty.lerp;
    float* o = out + y * cols * 3;
    for (std::int64_t x = 0; x < cols; ++x) {
      const std::size_t lo = col_lo[static_cast<std::size_t>(x)], hi = col_hi[static_cast<std::size_t>(x)];
      const float x_lerp = xs[static_cast<std::size_t>(x0 + x)].lerp;
      for (std::size_t c = 0; c < 3; ++c) {
        // compute_lerp
        const float top_left = top[lo + c], top_right = top[hi + c];
        const float bottom_left = bottom[lo + c], bottom_right = bottom[hi + c];
        const float t = top_left + (top_right - top_left) * x_lerp;
        const float b = bottom_left + (bottom_right - bottom_left) * x_lerp;
        const float v = t + (b - t) * y_lerp;
        o[x * 3 + static_cast<std::int64_t>(c)] = mean ? v - m[c] : v;
      }
    }
  }
}

void check_region(const Image& src, const CropBox& r, const char* what) {
  HRNET_CHECK(r.top >= 0 && r.left >= 0 && r.height > 0 && r.width > 0 && r.top + r.height <= src.height &&
                  r.left + r.width <= src.width,
              ValueError,
              what << ": region top " << r.top << " left " << r.left << " " << r.height << "x" << r.width << " outside a "
                   << src.height << "x" << src.width << " image");
}

}  // namespace

void check_tf_transform_options(const TfTransformOptions& o) {
  HRNET_CHECK(o.size > 0 && o.resize > 0, ValueError,
              "TF transform: size and resize must be positive, got " << o.size << " and " << o.resize);
  HRNET_CHECK(o.aspect_min > 0 && o.aspect_max > 0 && o.aspect_min <= o.aspect_max, ValueError,
              "TF transform: invalid aspect ratio range [" << o.aspect_min << ", " << o.aspect_max << "]");
  HRNET_CHECK(o.area_min > 0 && o.area_max > 0 && o.area_min <= 1 && o.area_max <= 1 && o.area_min <= o.area_max, ValueError,
              "TF transform: invalid area range [" << o.area_min << ", " << o.area_max << "] (must lie in (0, 1])");
  HRNET_CHECK(o.max_attempts > 0, ValueError, "TF transform: max_attempts must be positive, got " << o.max_attempts);
  HRNET_CHECK(o.min_object_covered >= 0, ValueError,
              "TF transform: min_object_covered must be non-negative, got " << o.min_object_covered);
  HRNET_CHECK(o.flip_prob >= 0 && o.flip_prob <= 1, ValueError, "TF transform: flip_prob " << o.flip_prob << " outside [0, 1]");
}

CropBox tf_detail::sample_distorted_bounding_box(std::int64_t height, std::int64_t width, std::span<const io::NormalizedBox> boxes,
                                                 const TfTransformOptions& o, const std::function<double()>& uniform,
                                                 const std::function<std::uint64_t(std::uint64_t)>& below) {
  check_tf_transform_options(o);
  HRNET_CHECK(height > 0 && width > 0 && height <= std::numeric_limits<int>::max() && width <= std::numeric_limits<int>::max(),
              ValueError, "sample_distorted_bounding_box: invalid image size " << height << "x" << width);
  const int h = static_cast<int>(height), w = static_cast<int>(width);
  std::vector<Rect> rects;
  rects.reserve(boxes.size());
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    const io::NormalizedBox& b = boxes[i];
    for (float v : {b.ymin, b.xmin, b.ymax, b.xmax})
      HRNET_CHECK(v >= 0.0f && v <= 1.0f, ValueError,
                  "sample_distorted_bounding_box: box " << i << " (xmin " << b.xmin << ", ymin " << b.ymin << ", xmax " << b.xmax
                                                        << ", ymax " << b.ymax << ") has a coordinate outside [0, 1]");
    // float32 products truncated to int, as the kernel converts them
    rects.push_back({static_cast<int>(b.xmin * static_cast<float>(w)), static_cast<int>(b.ymin * static_cast<float>(h)),
                     static_cast<int>(b.xmax * static_cast<float>(w)), static_cast<int>(b.ymax * static_cast<float>(h))});
  }
  const Rect image{0, 0, w, h};
  if (rects.empty()) rects.push_back(image);  // use_image_if_no_bounding_boxes=True
  const float aspect_span = o.aspect_max - o.aspect_min;
  Rect crop;
  bool found = false;
  for (int i = 0; i < o.max_attempts && !found; ++i) {
    const float aspect = rand_float(uniform) * aspect_span + o.aspect_min;
    found = random_crop(w, h, o.area_min, o.area_max, aspect, o.tf1_max_height, below, crop) &&
            covers_some_box(crop, o.min_object_covered, rects);
  }
  if (!found) crop = image;
  return {crop.min_y, crop.min_x, crop.max_y - crop.min_y, crop.max_x - crop.min_x};
}

CropBox sample_distorted_bounding_box(std::int64_t height, std::int64_t width, std::span<const io::NormalizedBox> boxes,
                                      const TfTransformOptions& o, Rng& rng) {
  return tf_detail::sample_distorted_bounding_box(
      height, width, boxes, o, [&rng] { return rng.uniform(); }, [&rng](std::uint64_t n) { return rng.below(n); });
}

void resize_bilinear_tf(const Image& src, const CropBox& region, std::int64_t out_h, std::int64_t out_w, float* out) {
  check_region(src, region, "resize_bilinear_tf");
  HRNET_CHECK(out_h > 0 && out_w > 0, ValueError, "resize_bilinear_tf: invalid output size " << out_h << "x" << out_w);
  resize_window(src, region, false, out_h, out_w, 0, 0, out_h, out_w, nullptr, out);
}

std::pair<std::int64_t, std::int64_t> tf_aspect_preserving_size(std::int64_t height, std::int64_t width, std::int64_t resize_min) {
  HRNET_CHECK(height > 0 && width > 0 && resize_min > 0, ValueError,
              "tf_aspect_preserving_size: invalid sizes " << height << "x" << width << " -> " << resize_min);
  // _smallest_size_at_least, all in float32; tf.cast to int32 truncates
  const float h = static_cast<float>(height), w = static_cast<float>(width);
  const float scale = static_cast<float>(resize_min) / std::min(h, w);
  return {static_cast<std::int64_t>(h * scale), static_cast<std::int64_t>(w * scale)};
}

void tf_train_transform_fixed(const Image& img, const TrainTransformDraw& draw, const TfTransformOptions& o, float* out) {
  check_tf_transform_options(o);
  check_region(img, draw.crop, "TF train transform");
  resize_window(img, draw.crop, draw.flipped, o.size, o.size, 0, 0, o.size, o.size, &o.mean, out);
}

TrainTransformDraw tf_train_draw(std::int64_t height, std::int64_t width, std::span<const io::NormalizedBox> boxes,
                                 const TfTransformOptions& o, Rng& rng) {
  TrainTransformDraw d;
  d.crop = sample_distorted_bounding_box(height, width, boxes, o, rng);
  d.flipped = rng.uniform() < o.flip_prob;
  return d;
}

TrainTransformDraw tf_train_transform(const Image& img, std::span<const io::NormalizedBox> boxes, const TfTransformOptions& o,
                                      Rng& rng, float* out) {
  HRNET_CHECK(!img.empty(), ValueError, "TF train transform: empty image");
  const TrainTransformDraw d = tf_train_draw(img.height, img.width, boxes, o, rng);
  tf_train_transform_fixed(img, d, o, out);
  return d;
}

TrainTransformDraw tf_train_transform_encoded(std::span<const std::uint8_t> bytes, const std::string& name,
                                              std::span<const io::NormalizedBox> boxes, const TfTransformOptions& o, Rng& rng,
                                              float* out) {
  const ImageInfo info = probe_image(bytes, name);
  const TrainTransformDraw d = tf_train_draw(info.height, info.width, boxes, o, rng);
  // at full scale the window's coordinates are whole pixels; the decoder may widen it to its blocks
  const DecodedRegion r = decode_region(bytes, name, d.crop);
  const CropBox in_window{static_cast<std::int64_t>(r.top), static_cast<std::int64_t>(r.left), d.crop.height, d.crop.width};
  tf_train_transform_fixed(r.pixels, {in_window, d.flipped}, o, out);
  return d;
}

void tf_eval_transform(const Image& img, const TfTransformOptions& o, float* out) {
  HRNET_CHECK(!img.empty(), ValueError, "TF eval transform: empty image");
  check_tf_transform_options(o);
  const auto [h, w] = tf_aspect_preserving_size(img.height, img.width, o.resize);
  HRNET_CHECK(h >= o.size && w >= o.size, ValueError,
              "TF eval transform: a " << img.height << "x" << img.width << " image resized to " << h << "x" << w
                                      << " is smaller than the " << o.size << "x" << o.size << " crop");
  // only the central window of the resized image is computed: each output pixel depends on its
  // position alone, so this equals resizing everything and slicing
  resize_window(img, {0, 0, img.height, img.width}, false, h, w, (h - o.size) / 2, (w - o.size) / 2, o.size, o.size, &o.mean, out);
}

}  // namespace hrnet::data

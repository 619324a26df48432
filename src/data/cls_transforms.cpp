// Classification preprocessing (see hrnet/data/cls_transforms.hpp).
#include "hrnet/data/cls_transforms.hpp"

#include <algorithm>
#include <vector>

namespace hrnet::data {
namespace {

// Pillow's src/libImaging/Resample.c for 8-bit images with the bilinear (triangle) filter.
constexpr int kPrecisionBits = 32 - 8 - 2;

double triangle(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

struct Coeffs {
  int ksize = 0;
  std::vector<int> bounds;  // per output: first input index, count
  std::vector<std::int32_t> k;  // per output: ksize fixed-point weights
};

// precompute_coeffs + normalize_coeffs_8bpc; in0/in1 are PIL's box edges (floats there: equal when
// they are exact in float32).
Coeffs precompute(int in_size, double in0, double in1, int out_size) {
  const double scale = (in1 - in0) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;  // the bilinear filter's support is 1
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(static_cast<std::size_t>(out_size) * 2);
  c.k.assign(static_cast<std::size_t>(out_size) * static_cast<std::size_t>(c.ksize), 0);
  std::vector<double> w(static_cast<std::size_t>(c.ksize));
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[static_cast<std::size_t>(x)] = triangle((x + xmin - center + 0.5) * ss);
      ww += w[static_cast<std::size_t>(x)];
    }
    for (int x = 0; x < xmax; ++x) {
      double v = w[static_cast<std::size_t>(x)];
      if (ww != 0.0) v /= ww;
      c.k[static_cast<std::size_t>(xx * c.ksize + x)] =
          static_cast<std::int32_t>(v < 0 ? -0.5 + v * (1 << kPrecisionBits) : 0.5 + v * (1 << kPrecisionBits));
    }
    c.bounds[static_cast<std::size_t>(xx) * 2] = xmin;
    c.bounds[static_cast<std::size_t>(xx) * 2 + 1] = xmax;
  }
  return c;
}

inline std::uint8_t clip8(std::int32_t in) {
  if (in >= (1 << kPrecisionBits << 8)) return 255;
  if (in <= 0) return 0;
  return static_cast<std::uint8_t>(in >> kPrecisionBits);
}

// A read-only view of rows of an interleaved RGB image.
struct View {
  const std::uint8_t* data;
  std::int64_t height, width, stride;  // stride in bytes
  const std::uint8_t* px(std::int64_t y, std::int64_t x) const { return data + y * stride + x * 3; }
};

// ImagingResampleInner: PIL's Image.resize((out_w, out_h), BILINEAR, box) of the whole of `in`, the
// box (left, top, left + width, top + height) in its pixel coordinates. Horizontal pass over the rows
// the vertical pass needs, rounded to 8 bits, then the vertical pass.
Image resample(const View& in, double top, double left, double height, double width, std::int64_t out_h, std::int64_t out_w) {
  Image out(out_h, out_w);
  // PIL's test (box[0] || box[2] != xsize) compares the box's right edge with the output width.
  const bool need_h = out_w != in.width || left != 0.0 || left + width != double(out_w);
  const bool need_v = out_h != in.height || top != 0.0 || top + height != double(out_h);
  if (!need_h && !need_v) {  // Image.resize returns a copy
    for (std::int64_t y = 0; y < out_h; ++y) std::copy_n(in.px(y, 0), out_w * 3, out.pixels.data() + y * out_w * 3);
    return out;
  }
  const Coeffs ch = precompute(static_cast<int>(in.width), left, left + width, static_cast<int>(out_w));
  Coeffs cv = precompute(static_cast<int>(in.height), top, top + height, static_cast<int>(out_h));
  const int ybox_first = cv.bounds[0];
  const int ybox_last = cv.bounds[static_cast<std::size_t>(out_h) * 2 - 2] + cv.bounds[static_cast<std::size_t>(out_h) * 2 - 1];
  std::vector<std::uint8_t> temp;
  View cur = in;
  if (need_h) {
    for (std::int64_t i = 0; i < out_h; ++i) cv.bounds[static_cast<std::size_t>(i) * 2] -= ybox_first;
    const std::int64_t rows = ybox_last - ybox_first;
    temp.resize(static_cast<std::size_t>(rows * out_w * 3));
    for (std::int64_t yy = 0; yy < rows; ++yy) {
      std::uint8_t* o = temp.data() + yy * out_w * 3;
      for (std::int64_t xx = 0; xx < out_w; ++xx) {
        const int xmin = ch.bounds[static_cast<std::size_t>(xx) * 2], xmax = ch.bounds[static_cast<std::size_t>(xx) * 2 + 1];
        const std::int32_t* k = ch.k.data() + xx * ch.ksize;
        std::int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
        const std::uint8_t* p = in.px(yy + ybox_first, xmin);
        for (int x = 0; x < xmax; ++x, p += 3) {
          s0 += p[0] * k[x];
          s1 += p[1] * k[x];
          s2 += p[2] * k[x];
        }
        o[xx * 3] = clip8(s0);
        o[xx * 3 + 1] = clip8(s1);
        o[xx * 3 + 2] = clip8(s2);
      }
    }
    cur = View{temp.data(), rows, out_w, out_w * 3};
  }
  if (!need_v) {
    for (std::int64_t y = 0; y < out_h; ++y) std::copy_n(cur.px(y, 0), out_w * 3, out.pixels.data() + y * out_w * 3);
    return out;
  }
  // Vertical pass, one output row at a time: the taps outermost so that the inner loop runs along a
  // row (integer sums: the order does not change them).
  const std::int64_t n = out_w * 3;
  std::vector<std::int32_t> acc(static_cast<std::size_t>(n));
  for (std::int64_t yy = 0; yy < out_h; ++yy) {
    const int ymin = cv.bounds[static_cast<std::size_t>(yy) * 2], ymax = cv.bounds[static_cast<std::size_t>(yy) * 2 + 1];
    const std::int32_t* k = cv.k.data() + yy * cv.ksize;
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    for (int y = 0; y < ymax; ++y) {
      const std::uint8_t* row = cur.data + (ymin + y) * cur.stride;
      const std::int32_t w = k[y];
      std::int32_t* a = acc.data();
      for (std::int64_t xx = 0; xx < n; ++xx) a[xx] += row[xx] * w;
    }
    std::uint8_t* o = out.pixels.data() + yy * out_w * 3;
    for (std::int64_t xx = 0; xx < n; ++xx) o[xx] = clip8(acc[static_cast<std::size_t>(xx)]);
  }
  return out;
}

}  // namespace

std::pair<std::int64_t, std::int64_t> resize_short_side(std::int64_t height, std::int64_t width, std::int64_t short_side) {
  HRNET_CHECK(height > 0 && width > 0 && short_side > 0, ValueError,
              "resize_short_side: invalid sizes " << height << "x" << width << " -> " << short_side);
  const bool w_short = width <= height;
  const std::int64_t s = w_short ? width : height, l = w_short ? height : width;
  const auto new_long = static_cast<std::int64_t>(static_cast<double>(short_side * l) / static_cast<double>(s));
  return w_short ? std::pair{new_long, short_side} : std::pair{short_side, new_long};
}

CropBox center_crop_box(std::int64_t height, std::int64_t width, std::int64_t crop_h, std::int64_t crop_w) {
  HRNET_CHECK(crop_h <= height && crop_w <= width && crop_h > 0 && crop_w > 0, ValueError,
              "center_crop_box: a " << crop_h << "x" << crop_w << " crop of a " << height << "x" << width << " image");
  return {round_half_even(static_cast<double>(height - crop_h) / 2.0), round_half_even(static_cast<double>(width - crop_w) / 2.0),
          crop_h, crop_w};
}

Image resize_bilinear_pil(const Image& src, const CropBox& r, std::int64_t out_h, std::int64_t out_w) {
  HRNET_CHECK(r.top >= 0 && r.left >= 0 && r.height > 0 && r.width > 0 && r.top + r.height <= src.height &&
                  r.left + r.width <= src.width,
              ValueError,
              "resize_bilinear_pil: region " << r.top << "," << r.left << " " << r.height << "x" << r.width << " outside a "
                                             << src.height << "x" << src.width << " image");
  HRNET_CHECK(out_h > 0 && out_w > 0, ValueError, "resize_bilinear_pil: invalid output size " << out_h << "x" << out_w);
  // Image.crop(box) then resize: the crop is the whole input, the box all of it.
  const View in{src.pixels.data() + (r.top * src.width + r.left) * 3, r.height, r.width, src.width * 3};
  return resample(in, 0.0, 0.0, double(r.height), double(r.width), out_h, out_w);
}

Image resize_bilinear_pil_box(const Image& src, double top, double left, double height, double width, std::int64_t out_h,
                              std::int64_t out_w) {
  HRNET_CHECK(!src.empty() && top >= 0 && left >= 0 && height > 0 && width > 0 && top + height <= double(src.height) &&
                  left + width <= double(src.width),
              ValueError,
              "resize_bilinear_pil_box: box (" << left << ", " << top << ") " << width << "x" << height << " (x, y) outside a "
                                               << src.width << "x" << src.height << " image");
  HRNET_CHECK(out_h > 0 && out_w > 0 && out_h <= kMaxImageSide && out_w <= kMaxImageSide, ValueError,
              "resize_bilinear_pil_box: invalid output size " << out_h << "x" << out_w);
  const View in{src.pixels.data(), src.height, src.width, src.width * 3};
  return resample(in, top, left, height, width, out_h, out_w);
}

void flip_horizontal(Image& img) {
  for (std::int64_t y = 0; y < img.height; ++y)
    for (std::int64_t x = 0, e = img.width - 1; x < e; ++x, --e)
      for (int c = 0; c < 3; ++c) std::swap(img.at(y, x, c), img.at(y, e, c));
}

ClsTransformOptions official_cls_transform(std::int64_t size) {
  HRNET_CHECK(size > 0, ValueError, "classification transform: the crop size must be positive, got " << size);
  ClsTransformOptions o;
  o.size = size;
  o.resize = static_cast<std::int64_t>(static_cast<double>(size) / 0.875);  // int(size / 0.875)
  return o;
}

void normalize_to(const Image& img, const ClsTransformOptions& o, float* out) {
  HRNET_CHECK(img.height == o.size && img.width == o.size, ShapeError,
              "normalize_to: the image is " << img.height << "x" << img.width << ", expected " << o.size << "x" << o.size);
  const std::size_t n = img.pixels.size();
  for (std::size_t i = 0; i < n; i += 3)
    for (std::size_t c = 0; c < 3; ++c)  // float32 as torch: x.div(255), then sub_(mean).div_(std)
      out[i + c] = (static_cast<float>(img.pixels[i + c]) / 255.0f - o.mean[c]) / o.std[c];
}

TrainTransformDraw cls_train_transform(const Image& img, const ClsTransformOptions& o, Rng& rng, float* out) {
  HRNET_CHECK(!img.empty(), ValueError, "classification transform: empty image");
  TrainTransformDraw d;
  d.crop = random_resized_crop_box(img.height, img.width, o.crop, rng);
  Image x = resize_bilinear_pil(img, d.crop, o.size, o.size);
  d.flipped = rng.uniform() < o.flip_prob;  // torch.rand(1) < p
  if (d.flipped) flip_horizontal(x);
  normalize_to(x, o, out);
  return d;
}

void cls_eval_transform(const Image& img, const ClsTransformOptions& o, float* out) {
  HRNET_CHECK(!img.empty(), ValueError, "classification transform: empty image");
  HRNET_CHECK(o.resize >= o.size, ValueError, "classification transform: resize " << o.resize << " < crop " << o.size);
  const auto [h, w] = resize_short_side(img.height, img.width, o.resize);
  const Image resized = resize_bilinear_pil(img, {0, 0, img.height, img.width}, h, w);
  const CropBox c = center_crop_box(h, w, o.size, o.size);
  Image x(o.size, o.size);
  for (std::int64_t y = 0; y < o.size; ++y)
    std::copy_n(resized.pixels.data() + resized.offset(c.top + y, c.left), o.size * 3, x.pixels.data() + x.offset(y, 0));
  normalize_to(x, o, out);
}

}  // namespace hrnet::data

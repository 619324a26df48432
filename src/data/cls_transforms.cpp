// Classification preprocessing (see hrnet/data/cls_transforms.hpp).
#include "hrnet/data/cls_transforms.hpp"

#include "scratch.hpp"

#include <algorithm>
#include <cstring>
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

// The integer loops below are written once (always inlined) and compiled twice: for the baseline
// ISA and, on x86-64, for AVX2 (chosen at run time), where 32-bit multiplies vectorise 8 wide (SSE2
// has no 32-bit multiply). Integer arithmetic: both give the same bytes.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HRNET_RESAMPLE_AVX2 1
#endif

// One pass of PIL's resampling along the lines of `in` (line l: in + l * in_stride): output line j
// is sum_t line(bounds[2j] + t) * coefficient t, rounded to 8 bits, for `width` bytes of each line.
// acc[i] += line[i] * w runs along contiguous memory, so it vectorises (integer sums: the order of
// the terms does not change them).
[[gnu::always_inline]] inline void resample_lines_body(const std::uint8_t* in, std::int64_t in_stride, std::int64_t width,
                                                       const Coeffs& c, std::int64_t out_lines, std::uint8_t* out,
                                                       std::int64_t out_stride, std::int32_t* __restrict acc) {
  for (std::int64_t j = 0; j < out_lines; ++j) {
    const int first = c.bounds[static_cast<std::size_t>(j) * 2], count = c.bounds[static_cast<std::size_t>(j) * 2 + 1];
    const std::int32_t* k = c.k.data() + j * c.ksize;
    for (std::int64_t i = 0; i < width; ++i) acc[i] = 1 << (kPrecisionBits - 1);
    for (int t = 0; t < count; ++t) {
      const std::uint8_t* __restrict line = in + (first + t) * in_stride;
      const std::int32_t w = k[t];
      for (std::int64_t i = 0; i < width; ++i) acc[i] += static_cast<std::int32_t>(line[i]) * w;
    }
    std::uint8_t* __restrict o = out + j * out_stride;
    for (std::int64_t i = 0; i < width; ++i) o[i] = clip8(acc[i]);
  }
}

void resample_lines_generic(const std::uint8_t* in, std::int64_t in_stride, std::int64_t width, const Coeffs& c,
                            std::int64_t out_lines, std::uint8_t* out, std::int64_t out_stride, std::int32_t* acc) {
  resample_lines_body(in, in_stride, width, c, out_lines, out, out_stride, acc);
}

#if defined(HRNET_RESAMPLE_AVX2)
__attribute__((target("avx2"))) void resample_lines_avx2(const std::uint8_t* in, std::int64_t in_stride, std::int64_t width,
                                                         const Coeffs& c, std::int64_t out_lines, std::uint8_t* out,
                                                         std::int64_t out_stride, std::int32_t* acc) {
  resample_lines_body(in, in_stride, width, c, out_lines, out, out_stride, acc);
}
#endif

void resample_lines(const std::uint8_t* in, std::int64_t in_stride, std::int64_t width, const Coeffs& c, std::int64_t out_lines,
                    std::uint8_t* out, std::int64_t out_stride) {
  const detail::Scratch acc(3, static_cast<std::size_t>(width) * sizeof(std::int32_t));
#if defined(HRNET_RESAMPLE_AVX2)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return resample_lines_avx2(in, in_stride, width, c, out_lines, out, out_stride, acc.as<std::int32_t>());
#endif
  resample_lines_generic(in, in_stride, width, c, out_lines, out, out_stride, acc.as<std::int32_t>());
}

// dst (w lines of h * 3 bytes, line stride dst_stride >= h * 3 + 1) = the transpose of the h x w RGB
// pixels at src (row stride src_stride), in tiles that stay in L1 on both sides. A pixel moves as one
// 4-byte load and store: the extra byte read is the next pixel's (or the next row's; the source's very
// last pixel is copied bytewise), the extra byte written is overwritten by the next pixel or falls in
// the line's padding. (Not vectorised: GCC's attempt at 3-byte pixels is slower.)
__attribute__((optimize("no-tree-vectorize"))) void transpose_rgb(const std::uint8_t* src, std::int64_t src_stride,
                                                                  std::int64_t h, std::int64_t w, std::uint8_t* dst,
                                                                  std::int64_t dst_stride) {
  constexpr std::int64_t kBlock = 32;
  for (std::int64_t y0 = 0; y0 < h; y0 += kBlock)
    for (std::int64_t x0 = 0; x0 < w; x0 += kBlock) {
      const std::int64_t y1 = std::min(h, y0 + kBlock), x1 = std::min(w, x0 + kBlock);
      for (std::int64_t x = x0; x < x1; ++x) {
        std::uint8_t* d = dst + x * dst_stride + y0 * 3;
        const std::uint8_t* p = src + y0 * src_stride + x * 3;
        for (std::int64_t y = y0; y < y1; ++y, d += 3, p += src_stride) {
          if (y == h - 1 && x == w - 1) {
            d[0] = p[0], d[1] = p[1], d[2] = p[2];
          } else {
            std::uint32_t v;
            std::memcpy(&v, p, 4);
            std::memcpy(d, &v, 4);
          }
        }
      }
    }
}

// ImagingResampleInner: PIL's Image.resize((out_w, out_h), BILINEAR, box) of the whole of `in`, the
// box (left, top, left + width, top + height) in its pixel coordinates, into out (row stride
// out_stride). Horizontal pass over the rows the vertical pass needs, rounded to 8 bits, then the
// vertical pass, with PIL's arithmetic. The horizontal pass runs on the transposed rows (a pass along
// lines, like the vertical one) and is transposed back: the same sums, over contiguous memory.
// Temporaries: scratch slots 0 to 3.
void resample_into(const View& in, double top, double left, double height, double width, std::int64_t out_h, std::int64_t out_w,
                   std::uint8_t* out, std::int64_t out_stride) {
  // PIL's test (box[0] || box[2] != xsize) compares the box's right edge with the output width.
  const bool need_h = out_w != in.width || left != 0.0 || left + width != double(out_w);
  const bool need_v = out_h != in.height || top != 0.0 || top + height != double(out_h);
  if (!need_h && !need_v) {  // Image.resize returns a copy
    for (std::int64_t y = 0; y < out_h; ++y) std::copy_n(in.px(y, 0), out_w * 3, out + y * out_stride);
    return;
  }
  Coeffs ch = precompute(static_cast<int>(in.width), left, left + width, static_cast<int>(out_w));
  Coeffs cv = precompute(static_cast<int>(in.height), top, top + height, static_cast<int>(out_h));
  if (!need_h) {
    resample_lines(in.data, in.stride, out_w * 3, cv, out_h, out, out_stride);
    return;
  }
  const int ybox_first = cv.bounds[0];
  const int ybox_last = cv.bounds[static_cast<std::size_t>(out_h) * 2 - 2] + cv.bounds[static_cast<std::size_t>(out_h) * 2 - 1];
  for (std::int64_t i = 0; i < out_h; ++i) cv.bounds[static_cast<std::size_t>(i) * 2] -= ybox_first;
  const std::int64_t rows = ybox_last - ybox_first;
  // only the columns the horizontal filter reads
  const int xbox_first = ch.bounds[0];
  const int xbox_last = ch.bounds[static_cast<std::size_t>(out_w) * 2 - 2] + ch.bounds[static_cast<std::size_t>(out_w) * 2 - 1];
  for (std::int64_t i = 0; i < out_w; ++i) ch.bounds[static_cast<std::size_t>(i) * 2] -= xbox_first;
  const std::int64_t cols = xbox_last - xbox_first;
  const std::int64_t ts = rows * 3 + 4, hs = out_w * 3 + 4;  // line strides with the transposition's padding
  const detail::Scratch t_in(0, static_cast<std::size_t>(cols * ts)), t_out(1, static_cast<std::size_t>(out_w * ts));
  transpose_rgb(in.px(ybox_first, xbox_first), in.stride, rows, cols, t_in.data(), ts);
  resample_lines(t_in.data(), ts, rows * 3, ch, out_w, t_out.data(), ts);
  const detail::Scratch temp(2, static_cast<std::size_t>(rows * hs));
  transpose_rgb(t_out.data(), ts, out_w, rows, temp.data(), hs);
  if (!need_v) {  // PIL returns the horizontal pass's rows (here exactly the output's)
    for (std::int64_t y = 0; y < out_h; ++y) std::copy_n(temp.data() + y * hs, out_w * 3, out + y * out_stride);
    return;
  }
  resample_lines(temp.data(), hs, out_w * 3, cv, out_h, out, out_stride);
}

// An Image of h x w without the fill loop of Image(h, w) (every byte is written after).
Image uninitialised_image(std::int64_t h, std::int64_t w) {
  Image img;
  img.height = h;
  img.width = w;
  img.pixels.resize(static_cast<std::size_t>(h * w * 3));
  return img;
}

// ToTensor + Normalize of o.size rows of o.size RGB pixels (row stride `stride` bytes) into out, the
// columns in reverse order when `mirror`. Through a table of the 3 x 256 possible values, each
// computed in float32 as torch does: (v / 255 - mean) / std (x.div(255), then sub_(mean).div_(std)).
void normalize_rows(const std::uint8_t* src, std::int64_t stride, const ClsTransformOptions& o, bool mirror, float* out) {
  float table[3][256];
  for (std::size_t c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) table[c][v] = (static_cast<float>(v) / 255.0f - o.mean[c]) / o.std[c];
  const std::int64_t s = o.size;
  for (std::int64_t y = 0; y < s; ++y) {
    const std::uint8_t* row = src + y * stride;
    float* dst = out + y * s * 3;
    for (std::int64_t x = 0; x < s; ++x, dst += 3) {
      const std::uint8_t* p = row + (mirror ? s - 1 - x : x) * 3;
      dst[0] = table[0][p[0]];
      dst[1] = table[1][p[1]];
      dst[2] = table[2][p[2]];
    }
  }
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
  Image out = uninitialised_image(out_h, out_w);
  resample_into(in, 0.0, 0.0, double(r.height), double(r.width), out_h, out_w, out.pixels.data(), out_w * 3);
  return out;
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
  Image out = uninitialised_image(out_h, out_w);
  resample_into(in, top, left, height, width, out_h, out_w, out.pixels.data(), out_w * 3);
  return out;
}

void resize_normalize_pil_box(const Image& src, double top, double left, double height, double width,
                              const ClsTransformOptions& o, bool mirror, float* out) {
  HRNET_CHECK(!src.empty() && top >= 0 && left >= 0 && height > 0 && width > 0 && top + height <= double(src.height) &&
                  left + width <= double(src.width),
              ValueError,
              "resize_normalize_pil_box: box (" << left << ", " << top << ") " << width << "x" << height
                                                << " (x, y) outside a " << src.width << "x" << src.height << " image");
  HRNET_CHECK(o.size > 0 && o.size <= kMaxImageSide, ValueError, "resize_normalize_pil_box: invalid output size " << o.size);
  const View in{src.pixels.data(), src.height, src.width, src.width * 3};
  const detail::Scratch x(4, static_cast<std::size_t>(o.size * o.size * 3));
  resample_into(in, top, left, height, width, o.size, o.size, x.data(), o.size * 3);
  normalize_rows(x.data(), o.size * 3, o, mirror, out);
}

void flip_horizontal(Image& img) {
  for (std::int64_t y = 0; y < img.height; ++y) {
    std::uint8_t* row = img.pixels.data() + img.offset(y, 0);
    for (std::int64_t x = 0, e = img.width - 1; x < e; ++x, --e)
      for (std::int64_t c = 0; c < 3; ++c) std::swap(row[x * 3 + c], row[e * 3 + c]);
  }
}

ClsTransformOptions official_cls_transform(std::int64_t size) {
  HRNET_CHECK(size > 0, ValueError, "classification transform: the crop size must be positive, got " << size);
  ClsTransformOptions o;
  o.size = size;
  o.resize = static_cast<std::int64_t>(static_cast<double>(size) / 0.875);  // int(size / 0.875)
  return o;
}

void normalize_to(const Image& img, const ClsTransformOptions& o, float* out, bool mirror) {
  HRNET_CHECK(img.height == o.size && img.width == o.size, ShapeError,
              "normalize_to: the image is " << img.height << "x" << img.width << ", expected " << o.size << "x" << o.size);
  normalize_rows(img.pixels.data(), img.width * 3, o, mirror, out);
}

TrainTransformDraw cls_train_transform(const Image& img, const ClsTransformOptions& o, Rng& rng, float* out) {
  HRNET_CHECK(!img.empty(), ValueError, "classification transform: empty image");
  HRNET_CHECK(o.size > 0 && o.size <= kMaxImageSide, ValueError, "classification transform: invalid crop size " << o.size);
  TrainTransformDraw d;
  d.crop = random_resized_crop_box(img.height, img.width, o.crop, rng);
  d.flipped = rng.uniform() < o.flip_prob;  // torch.rand(1) < p
  // resize_bilinear_pil(img, d.crop, S, S), then flip and normalise, without the intermediate Image
  const CropBox& r = d.crop;
  const View in{img.pixels.data() + (r.top * img.width + r.left) * 3, r.height, r.width, img.width * 3};
  const detail::Scratch x(4, static_cast<std::size_t>(o.size * o.size * 3));
  resample_into(in, 0.0, 0.0, double(r.height), double(r.width), o.size, o.size, x.data(), o.size * 3);
  normalize_rows(x.data(), o.size * 3, o, d.flipped, out);
  return d;
}

void cls_eval_transform(const Image& img, const ClsTransformOptions& o, float* out) {
  HRNET_CHECK(!img.empty(), ValueError, "classification transform: empty image");
  HRNET_CHECK(o.resize >= o.size, ValueError, "classification transform: resize " << o.resize << " < crop " << o.size);
  const auto [h, w] = resize_short_side(img.height, img.width, o.resize);
  const Image resized = resize_bilinear_pil(img, {0, 0, img.height, img.width}, h, w);
  const CropBox c = center_crop_box(h, w, o.size, o.size);
  normalize_rows(resized.pixels.data() + resized.offset(c.top, c.left), resized.width * 3, o, false, out);
}

}  // namespace hrnet::data

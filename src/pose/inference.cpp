// HigherHRNet inference transforms, multi-scale/flip aggregation and final predictions
// (see hrnet/pose/inference.hpp).
#include "hrnet/pose/inference.hpp"

#include <algorithm>
#include <cmath>

#include "hrnet/core/error.hpp"
#include "hrnet/ops/resize.hpp"

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

namespace hrnet::pose {
namespace {

using T4 = Tensor<float, CPU>;

// Python's float floor division a // b (fmod-based, as CPython computes it).
double py_floordiv(double a, double b) {
  double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1.0;
  if (div == 0) return std::copysign(0.0, a / b);
  double fl = std::floor(div);
  if (div - fl > 0.5) fl += 1.0;
  return fl;
}

// int(x) of a python float: truncation toward zero, range-checked.
std::int64_t py_int(double x, const char* what) {
  HRNET_CHECK(std::isfinite(x) && std::abs(x) < 9.0e15, ValueError, what << " is out of range (" << x << ")");
  return static_cast<std::int64_t>(x);
}

// cv2.getAffineTransform(src, dst): the 6x6 system in OpenCV's layout, solved by Gaussian
// elimination with partial pivoting in OpenCV 4's operation order (rows eliminated with
// alpha = a[j][i] * (-1 / pivot), back substitution dividing by the pivot), so the matrix matches
// cv2's to the last bit (checked against OpenCV 4.10 by the scale fixtures).
data::Affine affine_from_points(const std::array<std::array<float, 2>, 3>& src,
                                const std::array<std::array<float, 2>, 3>& dst) {
  double a[6][6] = {}, b[6];
  for (int i = 0; i < 3; ++i) {
    a[2 * i][0] = a[2 * i + 1][3] = static_cast<double>(src[static_cast<std::size_t>(i)][0]);
    a[2 * i][1] = a[2 * i + 1][4] = static_cast<double>(src[static_cast<std::size_t>(i)][1]);
    a[2 * i][2] = a[2 * i + 1][5] = 1;
    b[2 * i] = static_cast<double>(dst[static_cast<std::size_t>(i)][0]);
    b[2 * i + 1] = static_cast<double>(dst[static_cast<std::size_t>(i)][1]);
  }
  constexpr double eps = 100 * 2.220446049250313e-16;
  for (int i = 0; i < 6; ++i) {
    int p = i;
    for (int j = i + 1; j < 6; ++j)
      if (std::abs(a[j][i]) > std::abs(a[p][i])) p = j;
    HRNET_CHECK(std::abs(a[p][i]) >= eps, ValueError, "get_affine_transform: the point triples are degenerate");
    if (p != i) {
      for (int j = i; j < 6; ++j) std::swap(a[i][j], a[p][j]);
      std::swap(b[i], b[p]);
    }
    const double d = -1 / a[i][i];
    for (int j = i + 1; j < 6; ++j) {
      const double alpha = a[j][i] * d;
      for (int k = i + 1; k < 6; ++k) a[j][k] += alpha * a[i][k];
      b[j] += alpha * b[i];
    }
  }
  for (int i = 5; i >= 0; --i) {
    double s = b[i];
    for (int k = i + 1; k < 6; ++k) s -= a[i][k] * b[k];
    b[i] = s / a[i][i];
  }
  return {b[0], b[1], b[2], b[3], b[4], b[5]};
}

// x[:, :, :, ::-1] of a (1, C, H, W) tensor.
T4 flip_width(const T4& x) {
  const std::int64_t C = x.shape().c(), H = x.shape().h(), W = x.shape().w();
  auto y = T4::empty(x.shape());
  for (std::int64_t r = 0; r < H; ++r)
    for (std::int64_t c = 0; c < W; ++c)
      std::copy_n(x.data() + (r * W + (W - 1 - c)) * C, C, y.data() + (r * W + c) * C);
  return y;
}

// Channels [c0, c0 + n) of a (1, C, H, W) tensor, optionally reordered: out[:, j] = in[:, c0 + index[j]].
// Channels c0 .. c0 + n - 1 (through `index` when given), mirrored along the width when `flip`
// (flip_width and the channel selection in one pass).
T4 take_channels(const T4& x, std::int64_t c0, std::int64_t n, const std::vector<std::int64_t>* index = nullptr,
                 bool flip = false) {
  const std::int64_t C = x.shape().c(), W = x.shape().w(), P = x.shape().h() * W;
  auto y = T4::empty({1, n, x.shape().h(), W});
  for (std::int64_t p = 0; p < P; ++p) {
    const std::int64_t q = flip ? p - p % W + (W - 1 - p % W) : p;  // the source pixel
    const float* s = x.data() + q * C + c0;
    float* d = y.data() + p * n;
    if (index)
      for (std::int64_t j = 0; j < n; ++j) d[j] = s[(*index)[static_cast<std::size_t>(j)]];
    else
      std::copy_n(s, n, d);
  }
  return y;
}

void add_into(T4& acc, const T4& x) {
  check_shape(x, acc.shape(), "aggregate: adding maps");
  float* __restrict a = acc.data();
  const float* __restrict b = x.data();
  const std::int64_t n = acc.numel();
  for (std::int64_t i = 0; i < n; ++i) a[i] += b[i];
}

T4 resized(const T4& x, std::int64_t h, std::int64_t w) {
  if (x.shape().h() == h && x.shape().w() == w) return x;  // F.interpolate to the same size is the identity
  return ops::resize_bilinear(x, h, w);
}

void check_options(const InferenceOptions& o) {
  const std::int64_t J = o.group.num_joints;
  HRNET_CHECK(o.input_size >= 1, ValueError, "pose inference: input_size must be >= 1, got " << o.input_size);
  HRNET_CHECK(!o.scales.empty(), ValueError, "pose inference: no scales given");
  for (const double s : o.scales)
    HRNET_CHECK(std::isfinite(s) && s > 0, ValueError, "pose inference: scale factors must be positive, got " << s);
  HRNET_CHECK(J >= 1, ValueError, "pose inference: num_joints must be >= 1, got " << J);
  if (o.flip) {
    HRNET_CHECK(static_cast<std::int64_t>(o.flip_index.size()) == J, ValueError,
                "pose inference: flip_index has " << o.flip_index.size() << " entries for " << J << " joints");
    for (const auto f : o.flip_index)
      HRNET_CHECK(f >= 0 && f < J, ValueError, "pose inference: flip_index entry " << f << " is not a joint of " << J);
  }
  HRNET_CHECK(!o.with_heatmaps.empty() && o.with_heatmaps.size() == o.with_ae.size(), ValueError,
              "pose inference: with_heatmaps (" << o.with_heatmaps.size() << ") and with_ae (" << o.with_ae.size()
                                                << ") must list every model output");
  HRNET_CHECK(std::find(o.with_heatmaps.begin(), o.with_heatmaps.end(), true) != o.with_heatmaps.end(), ValueError,
              "pose inference: no output is used for heatmaps (with_heatmaps all false)");
  HRNET_CHECK(std::find(o.with_ae.begin(), o.with_ae.end(), true) != o.with_ae.end(), ValueError,
              "pose inference: no output is used for tags (with_ae all false)");
  if (o.scales.size() > 1)
    HRNET_CHECK(std::find(o.scales.begin(), o.scales.end(), 1.0) != o.scales.end(), ValueError,
                "pose inference: with several scales, 1.0 must be one of them (tags are taken at scale 1 only)");
}

void check_outputs(const std::vector<T4>& outs, const InferenceOptions& o) {
  const std::int64_t J = o.group.num_joints;
  HRNET_CHECK(outs.size() == o.with_heatmaps.size(), ShapeError,
              "pose inference: the model returned " << outs.size() << " outputs, the options describe "
                                                    << o.with_heatmaps.size());
  for (std::size_t i = 0; i < outs.size(); ++i) {
    const Shape& s = outs[i].shape();
    HRNET_CHECK(s.rank() == 4 && s.n() == 1 && s.h() >= 1 && s.w() >= 1, ShapeError,
                "pose inference: model output " << i << " must be (1, C, h, w), got " << s);
    HRNET_CHECK(!o.with_heatmaps[i] || s.c() >= J, ShapeError,
                "pose inference: model output " << i << " has " << s.c() << " channels, fewer than the " << J
                                                << " heatmaps");
    HRNET_CHECK(!o.with_ae[i] || s.c() == 2 * J, ShapeError,
                "pose inference: model output " << i << " has " << s.c() << " channels; with tags it needs " << 2 * J
                                                << " (" << J << " heatmaps + " << J << " tags)");
  }
}

}  // namespace

ScaleSize get_multi_scale_size(std::int64_t height, std::int64_t width, std::int64_t input_size, double current_scale,
                               double min_scale) {
  HRNET_CHECK(height >= 1 && width >= 1, ShapeError, "get_multi_scale_size: empty image " << height << "x" << width);
  HRNET_CHECK(input_size >= 1 && std::isfinite(current_scale) && current_scale > 0 && std::isfinite(min_scale) &&
                  min_scale > 0,
              ValueError,
              "get_multi_scale_size: input size " << input_size << ", scale " << current_scale << ", min scale "
                                                  << min_scale << " are not all positive");
  const auto h = static_cast<double>(height), w = static_cast<double>(width);
  ScaleSize r;
  r.center_x = static_cast<double>(py_int(w / 2.0 + 0.5, "center"));
  r.center_y = static_cast<double>(py_int(h / 2.0 + 0.5, "center"));
  const auto min_input =
      static_cast<double>(py_int(py_floordiv(min_scale * static_cast<double>(input_size) + 63, 64) * 64, "min input size"));
  if (width < height) {
    r.width = py_int(min_input * current_scale / min_scale, "resized width");
    const auto aligned = static_cast<double>(py_int(py_floordiv(min_input / w * h + 63, 64) * 64, "resized height"));
    r.height = py_int(aligned * current_scale / min_scale, "resized height");
    r.scale_w = w / 200.0;
    r.scale_h = static_cast<double>(r.height) / static_cast<double>(r.width) * w / 200.0;
  } else {
    r.height = py_int(min_input * current_scale / min_scale, "resized height");
    const auto aligned = static_cast<double>(py_int(py_floordiv(min_input / h * w + 63, 64) * 64, "resized width"));
    r.width = py_int(aligned * current_scale / min_scale, "resized width");
    r.scale_h = h / 200.0;
    r.scale_w = static_cast<double>(r.width) / static_cast<double>(r.height) * h / 200.0;
  }
  HRNET_CHECK(r.width >= 1 && r.height >= 1, ValueError,
              "get_multi_scale_size: scale " << current_scale << " (min " << min_scale << ") gives an empty input "
                                             << r.width << "x" << r.height);
  return r;
}

data::Affine get_affine_transform(double center_x, double center_y, double scale_w, std::int64_t out_w,
                                  std::int64_t out_h, bool inverse) {
  HRNET_CHECK(std::isfinite(scale_w) && scale_w > 0 && out_w >= 1 && out_h >= 1, ValueError,
              "get_affine_transform: scale " << scale_w << " and output size " << out_w << "x" << out_h
                                             << " must be positive");
  // The official float32 point triples (rot = 0, shift = 0): the center, a point half the source
  // width above it, and the third point get_3rd_point makes from those two.
  const double src_w = scale_w * 200.0, dst_w = static_cast<double>(out_w), dst_h = static_cast<double>(out_h);
  using P = std::array<float, 2>;
  auto third = [](const P& a, const P& b) {
    const float d0 = a[0] - b[0], d1 = a[1] - b[1];
    return P{b[0] - d1, b[1] + d0};
  };
  std::array<P, 3> src{}, dst{};
  src[0] = {static_cast<float>(center_x), static_cast<float>(center_y)};
  src[1] = {static_cast<float>(center_x + 0.0), static_cast<float>(center_y + src_w * -0.5)};
  src[2] = third(src[0], src[1]);
  dst[0] = {static_cast<float>(dst_w * 0.5), static_cast<float>(dst_h * 0.5)};
  dst[1] = {static_cast<float>(dst_w * 0.5 + 0.0),
            static_cast<float>(dst_h * 0.5 + static_cast<double>(static_cast<float>(dst_w * -0.5)))};
  dst[2] = third(dst[0], dst[1]);
  return inverse ? affine_from_points(dst, src) : affine_from_points(src, dst);
}

ResizedImage resize_align_multi_scale(std::span<const std::uint8_t> rgb, std::int64_t height, std::int64_t width,
                                      std::int64_t input_size, double current_scale, double min_scale) {
  HRNET_CHECK(height >= 1 && width >= 1 && static_cast<std::int64_t>(rgb.size()) == height * width * 3, ShapeError,
              "resize_align_multi_scale: " << rgb.size() << " bytes is not a " << height << "x" << width << " RGB image");
  ResizedImage r;
  r.size = get_multi_scale_size(height, width, input_size, current_scale, min_scale);
  const auto m = get_affine_transform(r.size.center_x, r.size.center_y, r.size.scale_w, r.size.width, r.size.height);
  r.rgb = data::warp_affine(rgb, height, width, 3, m, r.size.width, r.size.height, data::Interp::Linear);
  return r;
}

StageMaps get_multi_stage_outputs(const PoseModel& model, const Tensor<float, CPU>& image, const InferenceOptions& opts,
                                  std::int64_t project_w, std::int64_t project_h) {
  check_options(opts);
  HRNET_CHECK(image.rank() == 4 && image.shape().n() == 1 && image.shape().c() == 3, ShapeError,
              "get_multi_stage_outputs: the image must be (1, 3, H, W), got " << image.shape());
  HRNET_CHECK(static_cast<bool>(model), ValueError, "get_multi_stage_outputs: no model");
  const std::int64_t J = opts.group.num_joints;
  StageMaps r;
  auto run = [&](const T4& input, bool flipped) {
    const auto outs = model(input);
    check_outputs(outs, opts);
    const std::int64_t n = static_cast<std::int64_t>(outs.size());
    const std::int64_t h = outs.back().shape().h(), w = outs.back().shape().w();
    T4 sum;
    int count = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      T4 out = outs[static_cast<std::size_t>(i)];
      if (n > 1 && i != n - 1) out = resized(out, h, w);
      const auto* index = flipped ? &opts.flip_index : nullptr;  // (flipped back while the channels are taken)
      if (opts.with_heatmaps[static_cast<std::size_t>(i)]) {
        const T4 hm = take_channels(out, 0, J, index, flipped);
        if (count++ == 0) sum = hm;
        else add_into(sum, hm);
      }
      if (opts.with_ae[static_cast<std::size_t>(i)]) r.tags.push_back(take_channels(out, J, J, index, flipped));
    }
    if (count > 1) {  // (sum is ours: divided in place)
      float* v = sum.data();
      const auto d = static_cast<float>(count);
      for (std::int64_t e = 0, ne = sum.numel(); e < ne; ++e) v[e] /= d;
    }
    r.heatmaps.push_back(sum);
  };
  run(image, false);
  if (opts.flip) run(flip_width(image), true);
  if (project_w > 0 && project_h > 0) {
    for (auto& t : r.heatmaps) t = resized(t, project_h, project_w);
    for (auto& t : r.tags) t = resized(t, project_h, project_w);
  }
  return r;
}

namespace {

// (h + flipped) / 2 (h itself without a flipped map), as the official aggregation computes it.
T4 flip_average(const T4& h, const T4* flipped) {
  if (!flipped) return h;
  auto avg = T4::empty(h.shape());
  const float* a = h.data();
  const float* b = flipped->data();
  float* o = avg.data();
  for (std::int64_t i = 0; i < h.numel(); ++i) o[i] = (a[i] + b[i]) / 2.0f;
  return avg;
}

}  // namespace

MapAggregator::MapAggregator(const InferenceOptions& opts) : opts_(opts) { check_options(opts_); }

void MapAggregator::add(double scale_factor, const StageMaps& maps) {
  HRNET_CHECK(maps.heatmaps.size() == (opts_.flip ? 2u : 1u), ShapeError,
              "MapAggregator: expected " << (opts_.flip ? 2 : 1) << " heatmap maps (flip test "
                                         << (opts_.flip ? "on" : "off") << "), got " << maps.heatmaps.size());
  const T4* first = pending_.defined() ? &pending_ : (final_.defined() ? &final_ : nullptr);  // the first scale's
  if (scale_factor == 1.0 || opts_.scales.size() == 1)
    for (const auto& t : maps.tags)
      tags_list_.push_back(first && !opts_.project_to_image ? resized(t, first->shape().h(), first->shape().w()) : t);
  // The first scale's maps are only kept (finish averages them while it transposes: one pass over
  // them when there is one scale, the usual case); a second scale starts the running sum.
  const T4* h1 = opts_.flip ? &maps.heatmaps[1] : nullptr;
  if (h1) check_shape(*h1, maps.heatmaps[0].shape(), "aggregate: adding maps");
  if (!final_.defined() && !pending_.defined()) {
    pending_ = maps.heatmaps[0];
    pending_flipped_ = h1 ? *h1 : T4();
    return;
  }
  if (pending_.defined()) {  // the running sum starts with the first scale's average
    // (a copy: the sum is accumulated in place, and the caller's maps must stay as they are)
    final_ = pending_flipped_.defined() ? flip_average(pending_, &pending_flipped_) : pending_.clone();
    pending_ = T4();
    pending_flipped_ = T4();
  }
  const T4 avg = flip_average(maps.heatmaps[0], h1);
  if (opts_.project_to_image) add_into(final_, avg);
  else add_into(final_, resized(avg, final_.shape().h(), final_.shape().w()));
}

namespace {

// Map rows [y0, y1) of the NHWC maps src (pixel p, channel k at p * J + k) into the planar dst
// (k * P + p), each value divided by div (exactly the value itself when div is 1). 4x4 tiles are
// transposed in registers; the rest element by element.
void planar_rows(const float* src, const float* flipped, std::int64_t J, std::int64_t W, std::int64_t P,
                 std::int64_t y0, std::int64_t y1, float div, float* dst) {
  std::int64_t p = y0 * W;
  const std::int64_t p1 = y1 * W;
  auto value = [&](std::int64_t i) {  // the scalar path
    const float v = flipped ? (src[i] + flipped[i]) / 2.0f : src[i];
    return v / div;
  };
#if defined(__SSE2__)
  const __m128 d = _mm_set1_ps(div), two = _mm_set1_ps(2.0f);
  const bool divide = div != 1.0f;
  auto load = [&](std::int64_t i) {
    return flipped ? _mm_div_ps(_mm_add_ps(_mm_loadu_ps(src + i), _mm_loadu_ps(flipped + i)), two) : _mm_loadu_ps(src + i);
  };
  for (; J >= 4 && p + 4 <= p1; p += 4) {
    std::int64_t k = 0;
    for (; k + 4 <= J; k += 4) {
      __m128 r0 = load(p * J + k), r1 = load((p + 1) * J + k), r2 = load((p + 2) * J + k), r3 = load((p + 3) * J + k);
      _MM_TRANSPOSE4_PS(r0, r1, r2, r3);  // r_j: channel k + j of pixels p .. p + 3
      if (divide) {
        r0 = _mm_div_ps(r0, d);
        r1 = _mm_div_ps(r1, d);
        r2 = _mm_div_ps(r2, d);
        r3 = _mm_div_ps(r3, d);
      }
      _mm_storeu_ps(dst + k * P + p, r0);
      _mm_storeu_ps(dst + (k + 1) * P + p, r1);
      _mm_storeu_ps(dst + (k + 2) * P + p, r2);
      _mm_storeu_ps(dst + (k + 3) * P + p, r3);
    }
    for (; k < J; ++k)
      for (std::int64_t i = 0; i < 4; ++i) dst[k * P + p + i] = value((p + i) * J + k);
  }
#endif
  for (; p < p1; ++p)
    for (std::int64_t k = 0; k < J; ++k) dst[k * P + p] = value(p * J + k);
}

// Map rows [y0, y1) of T NHWC tag maps into the (J, P, T) layout: element (k, p, t) at
// (k * P + p) * T + t.
void interleaved_rows(const std::vector<const float*>& src, std::int64_t J, std::int64_t W, std::int64_t P,
                      std::int64_t y0, std::int64_t y1, float* dst) {
  const auto T = static_cast<std::int64_t>(src.size());
  if (T == 1) return planar_rows(src[0], nullptr, J, W, P, y0, y1, 1.0f, dst);
  std::int64_t p = y0 * W;
  const std::int64_t p1 = y1 * W;
#if defined(__SSE2__)
  for (; T == 2 && J >= 4 && p + 4 <= p1; p += 4) {
    const float* a = src[0];
    const float* b = src[1];
    std::int64_t k = 0;
    for (; k + 4 <= J; k += 4) {
      __m128 a0 = _mm_loadu_ps(a + p * J + k), a1 = _mm_loadu_ps(a + (p + 1) * J + k);
      __m128 a2 = _mm_loadu_ps(a + (p + 2) * J + k), a3 = _mm_loadu_ps(a + (p + 3) * J + k);
      __m128 b0 = _mm_loadu_ps(b + p * J + k), b1 = _mm_loadu_ps(b + (p + 1) * J + k);
      __m128 b2 = _mm_loadu_ps(b + (p + 2) * J + k), b3 = _mm_loadu_ps(b + (p + 3) * J + k);
      _MM_TRANSPOSE4_PS(a0, a1, a2, a3);
      _MM_TRANSPOSE4_PS(b0, b1, b2, b3);
      const __m128 av[4] = {a0, a1, a2, a3}, bv[4] = {b0, b1, b2, b3};
      for (std::int64_t j = 0; j < 4; ++j) {  // channel k + j: (a, b) pairs of pixels p .. p + 3
        float* o = dst + ((k + j) * P + p) * 2;
        _mm_storeu_ps(o, _mm_unpacklo_ps(av[j], bv[j]));
        _mm_storeu_ps(o + 4, _mm_unpackhi_ps(av[j], bv[j]));
      }
    }
    for (; k < J; ++k)
      for (std::int64_t i = 0; i < 4; ++i) {
        dst[(k * P + p + i) * 2] = a[(p + i) * J + k];
        dst[(k * P + p + i) * 2 + 1] = b[(p + i) * J + k];
      }
  }
#endif
  for (; p < p1; ++p)
    for (std::int64_t k = 0; k < J; ++k)
      for (std::int64_t t = 0; t < T; ++t) dst[(k * P + p) * T + t] = src[static_cast<std::size_t>(t)][p * J + k];
}

}  // namespace

AggregatedMaps MapAggregator::finish() const {
  AggregatedMaps r;
  finish(r);
  return r;
}

// Block row by block row (8 map rows, every joint): the rows are transposed into the output
// layouts, then summarised while they are still in cache.
void MapAggregator::finish(AggregatedMaps& r) const {
  HRNET_CHECK(final_.defined() || pending_.defined(), ValueError, "MapAggregator: no scale was added");
  const T4& heat = pending_.defined() ? pending_ : final_;
  const float* flipped = pending_flipped_.defined() ? pending_flipped_.data() : nullptr;
  HRNET_CHECK(!tags_list_.empty(), ValueError, "MapAggregator: no scale contributed tags (tags come from scale 1)");
  std::vector<const float*> tag_src;
  for (const auto& g : tags_list_) {
    check_shape(g, heat.shape(), "MapAggregator: tag maps");
    tag_src.push_back(g.data());
  }
  r.num_joints = heat.shape().c();
  r.height = heat.shape().h();
  r.width = heat.shape().w();
  r.tag_dim = static_cast<std::int64_t>(tags_list_.size());
  const std::int64_t J = r.num_joints, H = r.height, W = r.width, P = H * W, T = r.tag_dim;
  r.heatmaps.resize(static_cast<std::size_t>(J * P));
  r.tags.resize(static_cast<std::size_t>(J * P * T));
  r.summary.reset(J, H, W, T);
  const PoseMaps view = r.view();
  const auto div = static_cast<float>(opts_.scales.size());
  for (std::int64_t by = 0; by < r.summary.blocks_h; ++by) {
    const std::int64_t y0 = by * MapSummary::kBlock, y1 = std::min(y0 + MapSummary::kBlock, H);
    planar_rows(heat.data(), flipped, J, W, P, y0, y1, div, r.heatmaps.data());
    interleaved_rows(tag_src, J, W, P, y0, y1, r.tags.data());
    r.summary.add_block_row(view, by);
  }
  r.summary.finish_superblocks();
}

std::vector<PersonPose> get_final_preds(const GroupedPoses& grouped, const ScaleSize& cs, std::int64_t map_w,
                                        std::int64_t map_h) {
  const auto m = get_affine_transform(cs.center_x, cs.center_y, cs.scale_w, map_w, map_h, true);
  const std::int64_t P = grouped.num_people();
  HRNET_CHECK(P == 0 || grouped.persons.shape()[2] >= 3, ShapeError,
              "get_final_preds: persons must be (P, J, >= 3), got " << grouped.persons.shape());
  HRNET_CHECK(static_cast<std::int64_t>(grouped.scores.size()) == P, ShapeError,
              "get_final_preds: " << grouped.scores.size() << " scores for " << P << " persons");
  std::vector<PersonPose> out(static_cast<std::size_t>(P));
  if (P == 0) return out;
  const std::int64_t J = grouped.persons.shape()[1], R = grouped.persons.shape()[2];
  for (std::int64_t p = 0; p < P; ++p) {
    auto& pose = out[static_cast<std::size_t>(p)];
    pose.score = grouped.scores[static_cast<std::size_t>(p)];
    pose.keypoints.resize(static_cast<std::size_t>(J));
    for (std::int64_t k = 0; k < J; ++k) {
      const float* row = grouped.persons.data() + (p * J + k) * R;
      const double x = row[0], y = row[1];
      pose.keypoints[static_cast<std::size_t>(k)] = {static_cast<float>(m[0] * x + m[1] * y + m[2] * 1.0),
                                                     static_cast<float>(m[3] * x + m[4] * y + m[5] * 1.0), row[2]};
    }
  }
  return out;
}

void infer_maps(std::span<const std::uint8_t> rgb, std::int64_t height, std::int64_t width, const PoseModel& model,
                const InferenceOptions& opts, InferenceMaps& r) {
  check_options(opts);
  HRNET_CHECK(height >= 1 && width >= 1 && static_cast<std::int64_t>(rgb.size()) == height * width * 3, ShapeError,
              "estimate_poses: " << rgb.size() << " bytes is not a " << height << "x" << width << " RGB image");
  const double min_scale = *std::min_element(opts.scales.begin(), opts.scales.end());
  const ScaleSize base = get_multi_scale_size(height, width, opts.input_size, 1.0, min_scale);
  std::vector<double> order = opts.scales;
  std::sort(order.begin(), order.end(), std::greater<>());
  MapAggregator agg(opts);
  for (const double s : order) {
    const ResizedImage img = resize_align_multi_scale(rgb, height, width, opts.input_size, s, min_scale);
    r.center_scale = img.size;  // valid.py keeps the last (smallest) scale's center and scale
    const auto input = data::to_normalized_tensor(img.rgb, img.size.height, img.size.width, opts.mean, opts.std);
    agg.add(s, get_multi_stage_outputs(model, input, opts, opts.project_to_image ? base.width : 0,
                                       opts.project_to_image ? base.height : 0));
  }
  agg.finish(r.maps);
}

InferenceMaps infer_maps(std::span<const std::uint8_t> rgb, std::int64_t height, std::int64_t width,
                         const PoseModel& model, const InferenceOptions& opts) {
  InferenceMaps r;
  infer_maps(rgb, height, width, model, opts, r);
  return r;
}

std::vector<PersonPose> estimate_poses(std::span<const std::uint8_t> rgb, std::int64_t height, std::int64_t width,
                                       const PoseModel& model, const InferenceOptions& opts,
                                       InferenceMaps* workspace) {
  InferenceMaps local;
  InferenceMaps& im = workspace ? *workspace : local;
  infer_maps(rgb, height, width, model, opts, im);
  HeatmapParser parser(opts.group);
  const GroupedPoses g = parser.parse(im.maps.view());
  return get_final_preds(g, im.center_scale, im.maps.width, im.maps.height);
}

}  // namespace hrnet::pose

// Affine warps, flips and normalisation of the training pipeline (see hrnet/data/transforms.hpp;
// the warps are cv2.warpAffine's fixed-point arithmetic).
#include "hrnet/data/transforms.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace hrnet::data {

namespace detail {
// cv2.warpAffine without WARP_INVERSE_MAP inverts the forward matrix like this.
inline Affine invert_affine_cv(const Affine& f) {
  Affine m = f;
  double d = m[0] * m[4] - m[1] * m[3];
  d = d != 0 ? 1. / d : 0;
  const double a11 = m[4] * d, a22 = m[0] * d;
  m[0] = a11;
  m[1] *= -d;
  m[3] *= -d;
  m[4] = a22;
  const double b1 = -m[0] * m[2] - m[1] * m[5];
  const double b2 = -m[3] * m[2] - m[4] * m[5];
  m[2] = b1;
  m[5] = b2;
  return m;
}
// saturate_cast<int>(double): round half to even (cvRound), clamped.
inline std::int32_t cv_round_sat(double v) {
  if (!(v == v)) return 0;
  const double r = std::nearbyint(v);
  if (r >= 2147483647.0) return 2147483647;
  if (r <= -2147483648.0) return -2147483647 - 1;
  return static_cast<std::int32_t>(r);
}
inline std::int32_t sat_short(std::int32_t v) { return std::clamp<std::int32_t>(v, -32768, 32767); }

constexpr int kAbBits = 10, kAbScale = 1 << kAbBits, kInterBits = 5, kInterTab = 1 << kInterBits;
constexpr int kCoefBits = 15;

// Per destination pixel: source integer position (already saturated to short like cv2's map)
// and the 5+5-bit fraction. Calls f(dst_x, dst_y, sx, sy, fx, fy).
template <class F>
void for_each_warp_coord(const Affine& forward, std::int64_t out_w, std::int64_t out_h, Interp interp, F&& f) {
  const Affine m = invert_affine_cv(forward);
  std::vector<std::int32_t> adelta(static_cast<std::size_t>(out_w)), bdelta(static_cast<std::size_t>(out_w));
  for (std::int64_t x = 0; x < out_w; ++x) {
    adelta[static_cast<std::size_t>(x)] = cv_round_sat(m[0] * static_cast<double>(x) * kAbScale);
    bdelta[static_cast<std::size_t>(x)] = cv_round_sat(m[3] * static_cast<double>(x) * kAbScale);
  }
  const bool nearest = interp == Interp::Nearest;
  const std::int32_t round_delta = nearest ? kAbScale / 2 : kAbScale / kInterTab / 2;
  for (std::int64_t y = 0; y < out_h; ++y) {
    // int32 wrap-around like the C code on overflow is avoided by doing the sums in int64 and
    // narrowing (values that large only occur for degenerate matrices).
    const std::int64_t x0 = std::int64_t(cv_round_sat((m[1] * static_cast<double>(y) + m[2]) * kAbScale)) + round_delta;
    const std::int64_t y0 = std::int64_t(cv_round_sat((m[4] * static_cast<double>(y) + m[5]) * kAbScale)) + round_delta;
    for (std::int64_t x = 0; x < out_w; ++x) {
      const auto X = static_cast<std::int32_t>(x0 + adelta[static_cast<std::size_t>(x)]);
      const auto Y = static_cast<std::int32_t>(y0 + bdelta[static_cast<std::size_t>(x)]);
      if (nearest) {
        f(x, y, sat_short(X >> kAbBits), sat_short(Y >> kAbBits), 0, 0);
      } else {
        const std::int32_t Xs = X >> (kAbBits - kInterBits), Ys = Y >> (kAbBits - kInterBits);
        f(x, y, sat_short(Xs >> kInterBits), sat_short(Ys >> kInterBits), Xs & (kInterTab - 1), Ys & (kInterTab - 1));
      }
    }
  }
}
}  // namespace detail

Affine affine_matrix(double center_x, double center_y, double scale, std::int64_t out_w, std::int64_t out_h,
                     double rot_deg) {
  HRNET_CHECK(scale > 0 && std::isfinite(scale), ValueError, "affine_matrix: scale must be positive, got " << scale);
  HRNET_CHECK(out_w > 0 && out_h > 0, ValueError, "affine_matrix: output size must be positive, got " << out_w << "x" << out_h);
  using M3 = std::array<std::array<double, 3>, 3>;
  const double h = 200.0 * scale, rw = static_cast<double>(out_w), rh = static_cast<double>(out_h);
  M3 t{};
  t[0][0] = rw / h;
  t[1][1] = rh / h;
  t[0][2] = rw * (-center_x / h + .5);
  t[1][2] = rh * (-center_y / h + .5);
  t[2][2] = 1;
  if (rot_deg != 0) {
    const double rot = -rot_deg, rad = rot * std::numbers::pi / 180.0;
    const double sn = std::sin(rad), cs = std::cos(rad);
    M3 r{};
    r[0][0] = cs;
    r[0][1] = -sn;
    r[1][0] = sn;
    r[1][1] = cs;
    r[2][2] = 1;
    M3 tm{}, ti{};
    for (int i = 0; i < 3; ++i) tm[i][i] = ti[i][i] = 1;
    tm[0][2] = -rw / 2;
    tm[1][2] = -rh / 2;
    ti[0][2] = rw / 2;
    ti[1][2] = rh / 2;
    auto mul = [](const M3& a, const M3& b) {
      M3 c{};
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) c[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j];
      return c;
    };
    t = mul(ti, mul(r, mul(tm, t)));
  }
  return {t[0][0], t[0][1], t[0][2], t[1][0], t[1][1], t[1][2]};
}

AffineParams sample_affine(std::int64_t height, std::int64_t width, Rng& rng, const AffineConfig& cfg) {
  HRNET_CHECK(height > 0 && width > 0, ValueError, "sample_affine: image size must be positive, got " << height << "x" << width);
  AffineParams p;
  p.center_x = static_cast<double>(width) / 2;
  p.center_y = static_cast<double>(height) / 2;
  const double base = (cfg.scale_type_long ? std::max(height, width) : std::min(height, width)) / 200.0;
  p.aug_scale = rng.uniform() * (cfg.max_scale - cfg.min_scale) + cfg.min_scale;
  p.scale = base * p.aug_scale;
  p.rotation = (rng.uniform() * 2 - 1) * cfg.max_rotation;
  if (cfg.max_translate > 0) {
    const auto lo = static_cast<std::int64_t>(-cfg.max_translate * p.scale);
    const auto hi = static_cast<std::int64_t>(cfg.max_translate * p.scale);
    auto randint = [&] {
      HRNET_CHECK(hi > lo, ValueError, "sample_affine: empty translation range [" << lo << ", " << hi << ")");
      return lo + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(hi - lo)));
    };
    const std::int64_t dx = randint();
    const std::int64_t dy = randint();
    p.center_x += static_cast<double>(dx);
    p.center_y += static_cast<double>(dy);
  }
  return p;
}

std::vector<std::uint8_t> warp_affine(std::span<const std::uint8_t> src, std::int64_t height, std::int64_t width,
                                      std::int64_t channels, const Affine& m, std::int64_t out_w,
                                      std::int64_t out_h, Interp interp) {
  HRNET_CHECK(height >= 0 && width >= 0 && channels > 0 &&
                  static_cast<std::int64_t>(src.size()) == height * width * channels,
              ShapeError,
              "warp_affine: source of " << src.size() << " bytes is not " << height << "x" << width << "x" << channels);
  HRNET_CHECK(out_w > 0 && out_h > 0, ValueError, "warp_affine: output size must be positive, got " << out_w << "x" << out_h);
  std::vector<std::uint8_t> dst(static_cast<std::size_t>(out_w * out_h * channels), 0);
  auto px = [&](std::int64_t sx, std::int64_t sy, std::int64_t c) -> std::int32_t {
    if (sx < 0 || sy < 0 || sx >= width || sy >= height) return 0;
    return src[static_cast<std::size_t>((sy * width + sx) * channels + c)];
  };
  detail::for_each_warp_coord(m, out_w, out_h, interp, [&](std::int64_t x, std::int64_t y, std::int32_t sx, std::int32_t sy,
                                                            std::int32_t fx, std::int32_t fy) {
    std::uint8_t* d = dst.data() + (y * out_w + x) * channels;
    if (interp == Interp::Nearest) {
      for (std::int64_t c = 0; c < channels; ++c) d[c] = static_cast<std::uint8_t>(px(sx, sy, c));
      return;
    }
    // cv2's 2-D table: w = (1 - fy/32 | fy/32) x (1 - fx/32 | fx/32) scaled by 2^15 (exact
    // integers), saturated to short: the (0, 0) entry 32768 becomes 32767, which still reproduces
    // the source pixel exactly after rounding.
    const std::int32_t w00 = std::min<std::int32_t>((32 - fx) * (32 - fy) * 32, 32767), w01 = fx * (32 - fy) * 32,
                       w10 = (32 - fx) * fy * 32, w11 = fx * fy * 32;
    for (std::int64_t c = 0; c < channels; ++c) {
      const std::int32_t v = px(sx, sy, c) * w00 + px(sx + 1, sy, c) * w01 + px(sx, sy + 1, c) * w10 +
                             px(sx + 1, sy + 1, c) * w11 + (1 << (detail::kCoefBits - 1));
      d[c] = static_cast<std::uint8_t>(std::clamp(v >> detail::kCoefBits, 0, 255));
    }
  });
  return dst;
}

Tensor<float, CPU> warp_affine(const Tensor<float, CPU>& src, const Affine& m, std::int64_t out_w,
                               std::int64_t out_h, Interp interp) {
  HRNET_CHECK(src.shape().rank() == 3, ShapeError, "warp_affine: float source must be (H, W, C), got " << src.shape());
  HRNET_CHECK(out_w > 0 && out_h > 0, ValueError, "warp_affine: output size must be positive, got " << out_w << "x" << out_h);
  const std::int64_t height = src.shape()[0], width = src.shape()[1], channels = src.shape()[2];
  auto dst = Tensor<float, CPU>::zeros({out_h, out_w, channels});
  const float* s = src.data();
  auto px = [&](std::int64_t sx, std::int64_t sy, std::int64_t c) -> float {
    if (sx < 0 || sy < 0 || sx >= width || sy >= height) return 0.f;
    return s[(sy * width + sx) * channels + c];
  };
  detail::for_each_warp_coord(m, out_w, out_h, interp, [&](std::int64_t x, std::int64_t y, std::int32_t sx, std::int32_t sy,
                                                            std::int32_t fx, std::int32_t fy) {
    float* d = dst.data() + (y * out_w + x) * channels;
    if (interp == Interp::Nearest) {
      for (std::int64_t c = 0; c < channels; ++c) d[c] = px(sx, sy, c);
      return;
    }
    const float ax = static_cast<float>(fx) * (1.f / detail::kInterTab), ay = static_cast<float>(fy) * (1.f / detail::kInterTab);
    const float w00 = (1.f - ay) * (1.f - ax), w01 = (1.f - ay) * ax, w10 = ay * (1.f - ax), w11 = ay * ax;
    for (std::int64_t c = 0; c < channels; ++c)
      d[c] = px(sx, sy, c) * w00 + px(sx + 1, sy, c) * w01 + px(sx, sy + 1, c) * w10 + px(sx + 1, sy + 1, c) * w11;
  });
  return dst;
}

Tensor<float, CPU> warp_mask(const Tensor<float, CPU>& mask, const Affine& m, std::int64_t out_w,
                             std::int64_t out_h) {
  HRNET_CHECK(mask.shape().rank() == 2, ShapeError, "warp_mask: mask must be (H, W), got " << mask.shape());
  const std::int64_t h = mask.shape()[0], w = mask.shape()[1];
  std::vector<std::uint8_t> u8(static_cast<std::size_t>(h * w));
  for (std::int64_t i = 0; i < h * w; ++i) {
    const double v = static_cast<double>(mask[i]) * 255.0;  // astype(uint8) truncates
    u8[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v <= 0 ? 0 : (v >= 255 ? 255 : static_cast<int>(v)));
  }
  const auto warped = warp_affine(u8, h, w, 1, m, out_w, out_h, Interp::Linear);
  auto out = Tensor<float, CPU>::empty({out_h, out_w});
  for (std::int64_t i = 0; i < out_h * out_w; ++i)
    out[i] = static_cast<double>(warped[static_cast<std::size_t>(i)]) / 255.0 > 0.5 ? 1.f : 0.f;
  return out;
}

void flip_image(std::span<std::uint8_t> img, std::int64_t height, std::int64_t width, std::int64_t channels) {
  HRNET_CHECK(static_cast<std::int64_t>(img.size()) == height * width * channels, ShapeError,
              "flip_image: " << img.size() << " bytes is not " << height << "x" << width << "x" << channels);
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width / 2; ++x)
      for (std::int64_t c = 0; c < channels; ++c)
        std::swap(img[static_cast<std::size_t>((y * width + x) * channels + c)],
                  img[static_cast<std::size_t>((y * width + (width - 1 - x)) * channels + c)]);
}

void flip_mask(Tensor<float, CPU>& mask) {
  HRNET_CHECK(mask.shape().rank() == 2, ShapeError, "flip_mask: mask must be (H, W), got " << mask.shape());
  const std::int64_t h = mask.shape()[0], w = mask.shape()[1];
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w / 2; ++x) std::swap(mask[y * w + x], mask[y * w + (w - 1 - x)]);
}

Tensor<float, CPU> to_normalized_tensor(std::span<const std::uint8_t> img, std::int64_t height, std::int64_t width,
                                        std::array<float, 3> mean, std::array<float, 3> std) {
  HRNET_CHECK(static_cast<std::int64_t>(img.size()) == height * width * 3, ShapeError,
              "to_normalized_tensor: " << img.size() << " bytes is not " << height << "x" << width << "x3");
  auto out = Tensor<float, CPU>::empty({1, 3, height, width});
  // NHWC storage: element (0, c, y, x) lives at (y * W + x) * 3 + c, the same order as the input.
  for (std::int64_t i = 0; i < height * width * 3; ++i) {
    const auto c = static_cast<std::size_t>(i % 3);
    const float v = static_cast<float>(img[static_cast<std::size_t>(i)]) / 255.f;
    out.data()[i] = (v - mean[c]) / std[c];
  }
  return out;
}

}  // namespace hrnet::data

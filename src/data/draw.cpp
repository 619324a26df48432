// Rasterisation of the shapes in include/hrnet/data/draw.hpp: exact pixel-centre sampling.
#include "hrnet/data/draw.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <vector>

namespace hrnet::data {
namespace {

void check_finite(std::initializer_list<double> values, const char* who) {
  for (double v : values) HRNET_CHECK(std::isfinite(v), ValueError, who << ": non-finite coordinate or size " << v);
}

void check_target(const Image& img, double alpha, const char* who) {
  HRNET_CHECK(img.height >= 0 && img.width >= 0 && img.pixels.size() == std::size_t(img.height * img.width * 3),
              ShapeError, who << ": image buffer of " << img.pixels.size() << " bytes is not " << img.height << "x"
                              << img.width << "x3");
  HRNET_CHECK(alpha >= 0.0 && alpha <= 1.0, ValueError, who << ": alpha " << alpha << " is not in [0, 1]");
}

// Indices i in [0, n) whose pixel centre i + 0.5 lies in [lo, hi]; empty when last < first.
struct Span {
  std::int64_t first = 0, last = -1;
};
Span centres_in(double lo, double hi, std::int64_t n) {
  const double a = std::max(std::ceil(lo - 0.5), 0.0);
  const double b = std::min(std::floor(hi - 0.5), double(n - 1));
  if (!(a <= b)) return {};
  return {std::int64_t(a), std::int64_t(b)};
}

// Paints pixels [x0, x1] of row y.
void paint_run(Image& img, std::int64_t y, std::int64_t x0, std::int64_t x1, Rgb c, double alpha) {
  std::uint8_t* p = img.pixels.data() + img.offset(y, x0);
  if (alpha >= 1.0) {
    for (std::int64_t x = x0; x <= x1; ++x, p += 3) {
      p[0] = c[0];
      p[1] = c[1];
      p[2] = c[2];
    }
    return;
  }
  for (std::int64_t x = x0; x <= x1; ++x, p += 3)
    for (int k = 0; k < 3; ++k) {
      const double v = double(p[k]) + (double(c[std::size_t(k)]) - double(p[k])) * alpha;
      p[k] = std::uint8_t(std::clamp(std::lround(v), 0L, 255L));
    }
}

// Paints the pixels of the bounding box [bx0, bx1] x [by0, by1] whose centre passes `inside`;
// for a convex shape the pixels of a row form one run, painted together.
template <class Inside>
void paint_convex(Image& img, double bx0, double bx1, double by0, double by1, Rgb c, double alpha, Inside inside) {
  const Span ys = centres_in(by0, by1, img.height), xs = centres_in(bx0, bx1, img.width);
  for (std::int64_t y = ys.first; y <= ys.last; ++y) {
    const double py = double(y) + 0.5;
    std::int64_t run = -1;
    for (std::int64_t x = xs.first; x <= xs.last; ++x) {
      if (inside(double(x) + 0.5, py)) {
        if (run < 0) run = x;
      } else if (run >= 0) {
        paint_run(img, y, run, x - 1, c, alpha);
        run = -1;
      }
    }
    if (run >= 0) paint_run(img, y, run, xs.last, c, alpha);
  }
}

}  // namespace

void draw_line(Image& img, double x0, double y0, double x1, double y1, double thickness, Rgb color, double alpha) {
  check_target(img, alpha, "draw_line");
  check_finite({x0, y0, x1, y1, thickness}, "draw_line");
  HRNET_CHECK(thickness >= 0, ValueError, "draw_line: negative thickness " << thickness);
  const double r = thickness / 2, r2 = r * r;
  const double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
  paint_convex(img, std::min(x0, x1) - r, std::max(x0, x1) + r, std::min(y0, y1) - r, std::max(y0, y1) + r, color,
               alpha, [&](double px, double py) {
                 double t = len2 > 0 ? ((px - x0) * dx + (py - y0) * dy) / len2 : 0.0;
                 t = std::clamp(t, 0.0, 1.0);
                 const double ex = px - (x0 + t * dx), ey = py - (y0 + t * dy);
                 return ex * ex + ey * ey <= r2;
               });
}

void fill_circle(Image& img, double cx, double cy, double radius, Rgb color, double alpha) {
  check_target(img, alpha, "fill_circle");
  check_finite({cx, cy, radius}, "fill_circle");
  HRNET_CHECK(radius >= 0, ValueError, "fill_circle: negative radius " << radius);
  const double r2 = radius * radius;
  paint_convex(img, cx - radius, cx + radius, cy - radius, cy + radius, color, alpha, [&](double px, double py) {
    const double ex = px - cx, ey = py - cy;
    return ex * ex + ey * ey <= r2;
  });
}

void fill_ellipse(Image& img, double cx, double cy, double rx, double ry, double angle, Rgb color, double alpha) {
  check_target(img, alpha, "fill_ellipse");
  check_finite({cx, cy, rx, ry, angle}, "fill_ellipse");
  HRNET_CHECK(rx >= 0 && ry >= 0, ValueError, "fill_ellipse: negative semi-axis " << rx << ", " << ry);
  const double c = std::cos(angle), s = std::sin(angle);
  const double ex = std::sqrt(rx * c * rx * c + ry * s * ry * s), ey = std::sqrt(rx * s * rx * s + ry * c * ry * c);
  const double a2 = rx * rx, b2 = ry * ry;
  paint_convex(img, cx - ex, cx + ex, cy - ey, cy + ey, color, alpha, [&](double px, double py) {
    const double u = (px - cx) * c + (py - cy) * s, v = -(px - cx) * s + (py - cy) * c;
    return u * u * b2 + v * v * a2 <= a2 * b2;  // (u/rx)^2 + (v/ry)^2 <= 1 without dividing
  });
}

void fill_polygon(Image& img, std::span<const std::array<double, 2>> vertices, Rgb color, double alpha) {
  check_target(img, alpha, "fill_polygon");
  if (vertices.size() < 3) return;
  double y_min = vertices[0][1], y_max = vertices[0][1];
  for (const auto& v : vertices) {
    check_finite({v[0], v[1]}, "fill_polygon");
    y_min = std::min(y_min, v[1]);
    y_max = std::max(y_max, v[1]);
  }
  const Span ys = centres_in(y_min, y_max, img.height);
  std::vector<double> xs;
  for (std::int64_t y = ys.first; y <= ys.last; ++y) {
    const double py = double(y) + 0.5;
    xs.clear();
    for (std::size_t i = 0; i < vertices.size(); ++i) {
      const auto& a = vertices[i];
      const auto& b = vertices[(i + 1) % vertices.size()];
      // Half-open in y, so a vertex on the scanline is counted once.
      if ((a[1] <= py) != (b[1] <= py)) xs.push_back(a[0] + (py - a[1]) * (b[0] - a[0]) / (b[1] - a[1]));
    }
    std::sort(xs.begin(), xs.end());
    for (std::size_t k = 0; k + 1 < xs.size(); k += 2) {
      const Span run = centres_in(xs[k], xs[k + 1], img.width);
      if (run.first <= run.last) paint_run(img, y, run.first, run.last, color, alpha);
    }
  }
}

void fill_rect(Image& img, double x0, double y0, double x1, double y1, Rgb color, double alpha) {
  check_target(img, alpha, "fill_rect");
  check_finite({x0, y0, x1, y1}, "fill_rect");
  if (x1 < x0) std::swap(x0, x1);
  if (y1 < y0) std::swap(y0, y1);
  // Half-open: centres c with x0 <= c < x1, i.e. indices ceil(x0 - 0.5) .. ceil(x1 - 0.5) - 1.
  const double ax = std::max(std::ceil(x0 - 0.5), 0.0), bx = std::min(std::ceil(x1 - 0.5) - 1, double(img.width - 1));
  const double ay = std::max(std::ceil(y0 - 0.5), 0.0), by = std::min(std::ceil(y1 - 0.5) - 1, double(img.height - 1));
  if (!(ax <= bx && ay <= by)) return;
  for (auto y = std::int64_t(ay); y <= std::int64_t(by); ++y) paint_run(img, y, std::int64_t(ax), std::int64_t(bx), color, alpha);
}

Rgb person_color(int i) {
  // Saturated hues of roughly equal weight, ordered so that neighbours differ strongly.
  static constexpr std::array<Rgb, kPersonPaletteSize> palette{{{230, 25, 75},
                                                                {60, 180, 75},
                                                                {0, 130, 200},
                                                                {255, 225, 25},
                                                                {145, 30, 180},
                                                                {245, 130, 48},
                                                                {70, 240, 240},
                                                                {240, 50, 230},
                                                                {128, 128, 0},
                                                                {0, 100, 70},
                                                                {170, 110, 40},
                                                                {100, 100, 255}}};
  const int n = kPersonPaletteSize;
  return palette[std::size_t(((i % n) + n) % n)];
}

void draw_skeleton(Image& img, std::span<const float> keypoints, Rgb color, float min_score, int thickness) {
  HRNET_CHECK(keypoints.size() == 17 * 3, ShapeError,
              "draw_skeleton: expected 17 x (x, y, score) = 51 values, got " << keypoints.size());
  HRNET_CHECK(thickness >= 1, ValueError, "draw_skeleton: thickness " << thickness << " must be >= 1");
  auto shown = [&](int j) {
    const float x = keypoints[std::size_t(3 * j)], y = keypoints[std::size_t(3 * j + 1)],
                s = keypoints[std::size_t(3 * j + 2)];
    return std::isfinite(x) && std::isfinite(y) && std::isfinite(s) && s >= min_score;
  };
  auto xy = [&](int j, int k) { return double(keypoints[std::size_t(3 * j + k)]); };
  for (const auto& limb : kCocoSkeleton)
    if (shown(limb[0]) && shown(limb[1]))
      draw_line(img, xy(limb[0], 0), xy(limb[0], 1), xy(limb[1], 0), xy(limb[1], 1), thickness, color);
  for (int j = 0; j < 17; ++j)
    if (shown(j)) fill_circle(img, xy(j, 0), xy(j, 1), (thickness + 2) / 2.0, color);
}

}  // namespace hrnet::data

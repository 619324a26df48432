// The synthetic COCO-format pose dataset (include/hrnet/data/synthetic.hpp).
#include "hrnet/data/synthetic.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <string>

#include <nlohmann/json.hpp>

#include "hrnet/core/rng.hpp"
#include "hrnet/data/draw.hpp"

namespace hrnet::data {
namespace {

constexpr std::array<const char*, 17> kJointNames{
    "nose",       "left_eye",   "right_eye",  "left_ear",  "right_ear",  "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip",  "left_knee",  "right_knee", "left_ankle", "right_ankle"};

// splitmix64 seeding + xoshiro256**: fixed algorithms, so files do not depend on the standard
// library's distributions.
std::uint64_t splitmix(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// hrnet's Rng (splitmix64 seeding + xoshiro256**, fixed algorithms, so the files do not depend on
// the standard library's distributions) with the draws the generator uses.
class Rng : public hrnet::Rng {
 public:
  using hrnet::Rng::Rng;
  std::uint64_t next() { return next_u64(); }
  int integer(int lo, int hi) { return lo + static_cast<int>(below(std::uint64_t(hi - lo + 1))); }  // inclusive
  bool chance(double p) { return uniform() < p; }
};

using Pt = std::array<double, 2>;

Pt operator+(Pt a, Pt b) { return {a[0] + b[0], a[1] + b[1]}; }
Pt operator-(Pt a, Pt b) { return {a[0] - b[0], a[1] - b[1]}; }
Pt operator*(Pt a, double s) { return {a[0] * s, a[1] * s}; }

double round2(double v) { return std::round(v * 100.0) / 100.0; }

std::uint8_t clamp_u8(double v) { return std::uint8_t(std::clamp(std::lround(v), 0L, 255L)); }

Rgb mix(Rgb a, Rgb b, double t) {
  Rgb out{};
  for (std::size_t c = 0; c < 3; ++c) out[c] = clamp_u8(a[c] + (double(b[c]) - a[c]) * t);
  return out;
}

std::array<Rgb, 3> shades_of(Rgb c) { return {c, mix(c, {255, 255, 255}, 0.45), mix(c, {0, 0, 0}, 0.45)}; }

Rgb muted(Rng& r, double lo, double hi, double tint) {
  const double g = r.uniform(lo, hi);
  return {clamp_u8(g + r.uniform(-tint, tint)), clamp_u8(g + r.uniform(-tint, tint)), clamp_u8(g + r.uniform(-tint, tint))};
}

// The picture and, drawn with the same shapes, the owner of every pixel (as a label image: code 0 is
// the background, 1 an occluder, k + 2 annotation k).
struct Canvas {
  Image img, labels;
  Canvas(std::int64_t h, std::int64_t w) : img(h, w), labels(h, w) {}
  static Rgb code(std::int32_t owner) {
    const auto c = std::uint32_t(owner == kSyntheticOccluder ? 1 : owner + 2);
    return {std::uint8_t(c & 255), std::uint8_t(c >> 8), 0};
  }
  void line(Pt a, Pt b, double t, Rgb c, std::int32_t owner) {
    draw_line(img, a[0], a[1], b[0], b[1], t, c);
    draw_line(labels, a[0], a[1], b[0], b[1], t, code(owner));
  }
  void circle(Pt p, double r, Rgb c, std::int32_t owner) {
    fill_circle(img, p[0], p[1], r, c);
    fill_circle(labels, p[0], p[1], r, code(owner));
  }
  void polygon(std::span<const Pt> v, Rgb c, std::int32_t owner) {
    fill_polygon(img, v, c);
    fill_polygon(labels, v, code(owner));
  }
  void rect(double x0, double y0, double x1, double y1, Rgb c, std::int32_t owner) {
    fill_rect(img, x0, y0, x1, y1, c);
    fill_rect(labels, x0, y0, x1, y1, code(owner));
  }
  std::vector<std::int32_t> owners() const {
    std::vector<std::int32_t> out(std::size_t(img.height * img.width));
    for (std::size_t i = 0; i < out.size(); ++i) {
      const int c = labels.pixels[3 * i] | labels.pixels[3 * i + 1] << 8;
      out[i] = c == 0 ? kSyntheticBackground : c == 1 ? kSyntheticOccluder : c - 2;
    }
    return out;
  }
};

void draw_background(Canvas& cv, Rng& r, bool clutter) {
  Image& img = cv.img;
  const double w = double(img.width), h = double(img.height), diag = std::hypot(w, h);
  const Rgb base = muted(r, 70, 180, 25);
  const double theta = r.uniform(0, 2 * std::numbers::pi), amp = r.uniform(10, 35);
  const double gx = std::cos(theta) / diag, gy = std::sin(theta) / diag;
  for (std::int64_t y = 0; y < img.height; ++y)
    for (std::int64_t x = 0; x < img.width; ++x) {
      const double g = amp * 2 * ((double(x) - w / 2) * gx + (double(y) - h / 2) * gy);
      const std::uint64_t n = r.next();
      const double shared = double(n & 255) / 255.0 * 16 - 8;
      for (int c = 0; c < 3; ++c) {
        const double own = double((n >> (8 * (c + 1))) & 255) / 255.0 * 12 - 6;
        img.at(y, x, c) = clamp_u8(base[std::size_t(c)] + g + shared + own);
      }
    }
  if (!clutter) return;
  const double side = std::min(w, h);
  const int blobs = r.integer(8, 16);
  for (int i = 0; i < blobs; ++i) {
    const double cx = r.uniform(0, w), cy = r.uniform(0, h);
    const double rx = side * r.uniform(0.03, 0.25), ry = side * r.uniform(0.03, 0.25), a = r.uniform(0, std::numbers::pi);
    const Rgb c = muted(r, 40, 220, 20);
    const double alpha = r.uniform(0.2, 0.5);
    fill_ellipse(img, cx, cy, rx, ry, a, c, alpha);
  }
  const int lines = r.integer(3, 8);
  for (int i = 0; i < lines; ++i) {
    const double x0 = r.uniform(0, w), y0 = r.uniform(0, h), x1 = r.uniform(0, w), y1 = r.uniform(0, h);
    const double t = r.uniform(1, 4);
    const Rgb c = muted(r, 40, 220, 20);
    draw_line(img, x0, y0, x1, y1, t, c, 0.6);
  }
}

// A stick figure in image coordinates; joints rounded to 1/100 pixel, as written to the JSON.
struct Figure {
  std::array<Pt, 17> joints{};
  Pt head{}, neck{};
  double head_r = 0, limb = 0, dot = 0, face_dot = 0;
  std::array<Rgb, 3> shades{};
};

// Joints of a person facing the camera (their left on the image's right), body height `height` px
// from ankles to the top of the head, hip centre at `hip`, rotated by `rot` radians.
Figure make_figure(Rng& r, double height, Pt hip, double rot, Rgb color) {
  const double lean = r.uniform(-0.25, 0.25);
  const Pt up{std::sin(lean), -std::cos(lean)}, across{std::cos(lean), std::sin(lean)};
  const double hw = 0.085 * r.uniform(0.85, 1.15), sw = 0.12 * r.uniform(0.85, 1.15);
  const double torso = 0.30 * r.uniform(0.9, 1.1), rh = 0.065 * r.uniform(0.9, 1.1);
  const Pt sc = up * torso;
  std::array<Pt, 17> j{};
  j[5] = sc + across * sw;
  j[6] = sc - across * sw;
  j[11] = {hw, 0};
  j[12] = {-hw, 0};
  const double tilt = lean + r.uniform(-0.3, 0.3);
  const Pt fx{std::cos(tilt), std::sin(tilt)}, fy{-std::sin(tilt), std::cos(tilt)};
  const Pt head = sc + fy * (-(0.10 + rh));
  const double yaw = std::sin(r.uniform(-0.6, 0.6));
  j[0] = head + fx * (0.55 * rh * yaw) + fy * (0.25 * rh);
  j[1] = head + fx * (0.38 * rh + 0.4 * rh * yaw) + fy * (-0.2 * rh);
  j[2] = head + fx * (-0.38 * rh + 0.4 * rh * yaw) + fy * (-0.2 * rh);
  j[3] = head + fx * (0.82 * rh + 0.1 * rh * yaw);
  j[4] = head + fx * (-0.82 * rh + 0.1 * rh * yaw);
  for (int side = 0; side < 2; ++side) {
    const double s = side == 0 ? 1.0 : -1.0;  // outward along x for the left side
    // Arms hang from the (leaning) shoulders: angle 0 points down the torso, pi/2 outwards, more is up.
    const double a1 = r.chance(0.65) ? r.uniform(-0.15, 1.2) : r.uniform(1.2, 2.8), a2 = a1 + r.uniform(-0.2, 1.8);
    auto arm_dir = [&](double a) { return across * (s * std::sin(a)) + up * (-std::cos(a)); };
    j[7 + side] = j[5 + side] + arm_dir(a1) * 0.16;
    j[9 + side] = j[7 + side] + arm_dir(a2) * 0.14;
    // Legs: mostly standing or walking, sometimes a raised thigh; the knee bends the shin inwards.
    const double b1 = r.chance(0.1) ? r.uniform(0.5, 1.4) : r.uniform(-0.3, 0.5);
    const double b2 = b1 - r.uniform(-0.2, 0.9);
    auto leg_dir = [&](double b) { return Pt{s * std::sin(b), std::cos(b)}; };
    j[13 + side] = j[11 + side] + leg_dir(b1) * 0.24;
    j[15 + side] = j[13 + side] + leg_dir(b2) * 0.23;
  }
  const double c = std::cos(rot), sn = std::sin(rot);
  auto place = [&](Pt p) { return Pt{hip[0] + height * (c * p[0] - sn * p[1]), hip[1] + height * (sn * p[0] + c * p[1])}; };
  Figure f;
  for (std::size_t k = 0; k < 17; ++k) {
    const Pt q = place(j[k]);
    f.joints[k] = {round2(q[0]), round2(q[1])};
  }
  f.head = place(head);
  f.neck = place(sc);
  f.head_r = rh * height;
  f.limb = std::max(2.0, 0.035 * height);
  f.dot = std::max(1.5, 0.75 * f.limb);
  f.face_dot = std::max(1.0, 0.2 * f.head_r);
  f.shades = shades_of(color);
  return f;
}

void draw_figure(Canvas& cv, const Figure& f, std::int32_t owner) {
  const auto& [base, left, right] = f.shades;
  const auto& j = f.joints;
  for (int side = 0; side < 2; ++side) {
    const Rgb c = side == 0 ? left : right;
    cv.line(j[11 + side], j[13 + side], f.limb, c, owner);
    cv.line(j[13 + side], j[15 + side], f.limb, c, owner);
  }
  const std::array<Pt, 4> torso{j[5], j[6], j[12], j[11]};
  cv.polygon(torso, base, owner);
  cv.line(f.neck, f.head, f.limb, base, owner);
  cv.circle(f.head, f.head_r, base, owner);
  for (int side = 0; side < 2; ++side) {
    const Rgb c = side == 0 ? left : right;
    cv.line(j[5 + side], j[7 + side], f.limb, c, owner);
    cv.line(j[7 + side], j[9 + side], f.limb, c, owner);
  }
  for (std::size_t k = 5; k < 17; ++k) cv.circle(j[k], f.dot, base, owner);
  cv.circle(j[0], f.face_dot, right, owner);
  cv.circle(j[1], f.face_dot, left, owner);
  cv.circle(j[2], f.face_dot, right, owner);
  cv.circle(j[3], f.face_dot, left, owner);
  cv.circle(j[4], f.face_dot, right, owner);
}

double cross(Pt o, Pt a, Pt b) { return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]); }

// Andrew's monotone chain; counter-clockwise in a y-up frame, without collinear points.
std::vector<Pt> convex_hull(std::vector<Pt> p) {
  std::sort(p.begin(), p.end());
  p.erase(std::unique(p.begin(), p.end()), p.end());
  if (p.size() < 3) return p;
  std::vector<Pt> h(2 * p.size());
  std::size_t k = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    while (k >= 2 && cross(h[k - 2], h[k - 1], p[i]) <= 0) --k;
    h[k++] = p[i];
  }
  for (std::size_t i = p.size() - 1, t = k + 1; i-- > 0;) {
    while (k >= t && cross(h[k - 2], h[k - 1], p[i]) <= 0) --k;
    h[k++] = p[i];
  }
  h.resize(k - 1);
  return h;
}

// Sutherland-Hodgman against one half-plane: keep points with sign * (p[axis] - bound) <= 0.
std::vector<Pt> clip(const std::vector<Pt>& poly, int axis, double bound, double sign) {
  std::vector<Pt> out;
  for (std::size_t i = 0; i < poly.size(); ++i) {
    const Pt a = poly[i], b = poly[(i + 1) % poly.size()];
    const double da = sign * (a[std::size_t(axis)] - bound), db = sign * (b[std::size_t(axis)] - bound);
    if (da <= 0) out.push_back(a);
    if ((da < 0 && db > 0) || (da > 0 && db < 0)) {
      const double t = da / (da - db);
      Pt q = a + (b - a) * t;
      q[std::size_t(axis)] = bound;
      out.push_back(q);
    }
  }
  return out;
}

// The segmentation polygon of a figure: hull of its discs (plus a pixel of margin) inside the image,
// rounded to 1/100 pixel. Empty when the figure lies outside.
std::vector<double> figure_polygon(const Figure& f, double w, double h) {
  std::vector<Pt> pts;
  auto disc = [&](Pt c, double r) {
    for (int k = 0; k < 24; ++k) {
      const double a = 2 * std::numbers::pi * k / 24;
      pts.push_back({c[0] + (r + 1.0) * std::cos(a), c[1] + (r + 1.0) * std::sin(a)});
    }
  };
  for (std::size_t k = 0; k < 17; ++k) disc(f.joints[k], std::max(f.dot, f.limb / 2));
  disc(f.head, f.head_r);
  std::vector<Pt> poly = convex_hull(std::move(pts));
  poly = clip(poly, 0, 0.0, -1.0);
  poly = clip(poly, 0, w, 1.0);
  poly = clip(poly, 1, 0.0, -1.0);
  poly = clip(poly, 1, h, 1.0);
  std::vector<double> out;
  for (const Pt& p : poly) {
    const double x = round2(p[0]), y = round2(p[1]);
    if (!out.empty() && out[out.size() - 2] == x && out.back() == y) continue;
    out.push_back(x);
    out.push_back(y);
  }
  if (out.size() >= 4 && out[0] == out[out.size() - 2] && out[1] == out.back()) out.resize(out.size() - 2);
  if (out.size() < 6) out.clear();
  return out;
}

std::uint64_t polygon_area(const std::vector<double>& poly, int h, int w) {
  return rle_area(rle_from_polygon(poly, h, w));
}

std::array<double, 4> polygon_bbox(const std::vector<double>& poly) {
  double x0 = poly[0], x1 = poly[0], y0 = poly[1], y1 = poly[1];
  for (std::size_t i = 0; i < poly.size(); i += 2) {
    x0 = std::min(x0, poly[i]);
    x1 = std::max(x1, poly[i]);
    y0 = std::min(y0, poly[i + 1]);
    y1 = std::max(y1, poly[i + 1]);
  }
  return {x0, y0, round2(x1 - x0), round2(y1 - y0)};
}

void check_options(const SyntheticPoseOptions& o) {
  HRNET_CHECK(o.train_images >= 0 && o.val_images >= 0 && o.train_images <= 1000000 && o.val_images <= 1000000,
              ValueError, "synthetic pose: image counts must be in 0..1000000, got " << o.train_images << " train, "
                                                                                      << o.val_images << " val");
  HRNET_CHECK(o.min_side >= 64 && o.max_side >= o.min_side && o.max_side <= 4096, ValueError,
              "synthetic pose: image sides must satisfy 64 <= min_side <= max_side <= 4096, got " << o.min_side << ".."
                                                                                                  << o.max_side);
  HRNET_CHECK(o.max_people >= 1 && o.max_people <= kPersonPaletteSize, ValueError,
              "synthetic pose: max_people must be in 1.." << kPersonPaletteSize << ", got " << o.max_people);
  HRNET_CHECK(o.min_people >= 1 && o.min_people <= o.max_people, ValueError,
              "synthetic pose: min_people must be in 1..max_people (" << o.max_people << "), got " << o.min_people);
  HRNET_CHECK(o.min_person_scale >= 0.1 && o.min_person_scale <= 1.0, ValueError,
              "synthetic pose: min_person_scale must be in 0.1..1, got " << o.min_person_scale);
  HRNET_CHECK(o.jpeg_quality >= 1 && o.jpeg_quality <= 100, ValueError,
              "synthetic pose: jpeg_quality must be in 1..100, got " << o.jpeg_quality);
}

std::string coco_file_name(std::int64_t id) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%012lld.jpg", static_cast<long long>(id));
  return buf;
}

}  // namespace

SyntheticPoseOptions synthetic_pose_quickstart() {
  SyntheticPoseOptions o;
  o.min_side = 128;
  o.max_side = 192;
  o.min_people = 1;
  o.max_people = 1;
  o.distractors = false;
  o.min_person_scale = 0.8;
  return o;
}

const char* synthetic_split_name(SyntheticSplit split) { return split == SyntheticSplit::train ? "train2017" : "val2017"; }

SyntheticPoseImage render_synthetic_pose(const SyntheticPoseOptions& opt, SyntheticSplit split, int index) {
  check_options(opt);
  const bool val = split == SyntheticSplit::val;
  const int count = val ? opt.val_images : opt.train_images;
  HRNET_CHECK(index >= 0 && index < count, ValueError,
              "synthetic pose: image " << index << " out of range for " << count << " " << synthetic_split_name(split)
                                       << " images");
  std::uint64_t mixer = opt.seed;
  mixer ^= splitmix(mixer) + (val ? 0x5A17ull : 0x7A11ull);
  mixer ^= std::uint64_t(index) * 0xD1B54A32D192ED03ull;
  Rng r(splitmix(mixer));

  SyntheticPoseImage out;
  out.id = (val ? opt.train_images : 0) + index + 1;
  out.file_name = coco_file_name(out.id);
  // Clearly not square (unless min_side == max_side): the long side in the upper two thirds of the
  // range, the short one at least a sixth of the range below it, either orientation.
  const int range = opt.max_side - opt.min_side;
  const int long_side = r.integer(opt.min_side + range / 3, opt.max_side);
  const int short_side = r.integer(opt.min_side, std::max(opt.min_side, long_side - std::max(1, range / 6)));
  const bool portrait = r.chance(0.5);
  const int w = portrait ? short_side : long_side, h = portrait ? long_side : short_side;
  Canvas cv(h, w);
  draw_background(cv, r, opt.distractors);
  const double W = w, H = h, side = std::min(W, H);
  auto& anns = out.annotations;

  // A crowd: small figures in a band; its region is the union of their hulls.
  const bool crowd = opt.distractors && (index == 0 || r.chance(0.1));
  if (crowd) {
    const auto owner = std::int32_t(anns.size());
    const double cw = W * r.uniform(0.25, 0.45), ch = H * r.uniform(0.12, 0.25);
    const double x0 = r.uniform(0, W - cw), y0 = r.uniform(0, H - ch);
    Mask region(h, w, 0);
    const int n = r.integer(5, 10);
    for (int i = 0; i < n; ++i) {
      // (one draw per statement: the order of function arguments is unspecified)
      const double fh = ch * r.uniform(0.9, 1.3);
      const Pt hip{x0 + r.uniform(0, cw), y0 + ch * r.uniform(0.4, 0.6)};
      const double rot = r.uniform(-0.2, 0.2);
      const Rgb color = person_color(r.integer(0, kPersonPaletteSize - 1));
      const Figure f = make_figure(r, fh, hip, rot, color);
      draw_figure(cv, f, owner);
      const auto poly = figure_polygon(f, W, H);
      if (!poly.empty()) rle_decode_or(rle_from_polygon(poly, h, w), region);
    }
    SyntheticAnnotation a;
    a.iscrowd = true;
    a.rle = rle_encode(region);
    a.area = double(rle_area(a.rle));
    int bx0 = w, by0 = h, bx1 = -1, by1 = -1;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        if (region.at(y, x)) {
          bx0 = std::min(bx0, x);
          bx1 = std::max(bx1, x);
          by0 = std::min(by0, y);
          by1 = std::max(by1, y);
        }
    if (bx1 >= 0) {
      a.bbox = {double(bx0), double(by0), double(bx1 - bx0 + 1), double(by1 - by0 + 1)};
      anns.push_back(std::move(a));
    }
  }

  // An unlabelled person: small, annotated with a polygon only (the official loss mask ignores it).
  const bool unlabelled = opt.distractors && (index == std::min(1, count - 1) || r.chance(0.1));
  if (unlabelled) {
    const auto owner = std::int32_t(anns.size());
    SyntheticAnnotation a;
    for (int attempt = 0; attempt < 20 && a.polygon.empty(); ++attempt) {
      const double fh = side * r.uniform(0.15, 0.3);
      const Pt hip{r.uniform(0.1, 0.9) * W, r.uniform(0.2, 0.9) * H};
      const double rot = r.uniform(-0.3, 0.3);
      const Rgb color = person_color(r.integer(0, kPersonPaletteSize - 1));
      const Figure f = make_figure(r, fh, hip, rot, color);
      a.polygon = figure_polygon(f, W, H);
      if (!a.polygon.empty()) {
        draw_figure(cv, f, owner);
        a.shades = f.shades;
      }
    }
    if (!a.polygon.empty()) {
      a.area = double(polygon_area(a.polygon, h, w));
      a.bbox = polygon_bbox(a.polygon);
      anns.push_back(std::move(a));
    }
  }

  // The labelled people, in distinct colours, not piled on each other when avoidable.
  const int people = r.integer(opt.min_people, opt.max_people);
  std::vector<int> colors(kPersonPaletteSize);
  for (int i = 0; i < kPersonPaletteSize; ++i) colors[std::size_t(i)] = i;
  for (int i = kPersonPaletteSize - 1; i > 0; --i) std::swap(colors[std::size_t(i)], colors[std::size_t(r.integer(0, i))]);
  const double h_max = 0.85 * side / (1 + 0.25 * (people - 1));
  std::vector<std::pair<Pt, double>> placed;  // hip centre, height
  std::vector<Figure> figures;
  std::vector<std::size_t> figure_ann;
  for (int p = 0; p < people; ++p) {
    Figure best{};
    double best_height = 0;
    std::vector<double> poly;
    for (int attempt = 0; attempt < 12; ++attempt) {
      const double height = h_max * r.uniform(opt.min_person_scale, 1.0);
      const Pt hip{r.uniform(0.1, 0.9) * W, r.uniform(0.25, 0.95) * H};
      const double rot = r.chance(0.1) ? r.uniform(-1.6, 1.6) : r.uniform(-0.5, 0.5);
      const Figure f = make_figure(r, height, hip, rot, person_color(colors[std::size_t(p)]));
      int inside = 0;
      for (const Pt& q : f.joints) inside += q[0] >= 0 && q[1] >= 0 && q[0] < W && q[1] < H;
      bool apart = true;
      for (const auto& [c, hh] : placed) apart = apart && std::hypot(c[0] - hip[0], c[1] - hip[1]) > 0.35 * (height + hh) / 2;
      auto cand = figure_polygon(f, W, H);
      if (cand.empty() || inside < 6) continue;
      best = f;
      best_height = height;
      poly = std::move(cand);
      if (apart) break;
    }
    if (poly.empty()) continue;
    placed.push_back({{(best.joints[11][0] + best.joints[12][0]) / 2, (best.joints[11][1] + best.joints[12][1]) / 2},
                      best_height});
    const auto owner = std::int32_t(anns.size());
    draw_figure(cv, best, owner);
    SyntheticAnnotation a;
    a.polygon = std::move(poly);
    a.area = double(polygon_area(a.polygon, h, w));
    a.bbox = polygon_bbox(a.polygon);
    a.shades = best.shades;
    figure_ann.push_back(anns.size());
    anns.push_back(std::move(a));
    figures.push_back(best);
  }

  // Occluder boxes over some joints (drawn last, so they hide what they cover: v = 1).
  for (std::size_t p = 0; p < figures.size() && opt.distractors; ++p) {
    if (!r.chance(0.35)) continue;
    const Figure& f = figures[p];
    const Pt& q = f.joints[std::size_t(r.integer(5, 16))];
    const double fh = std::hypot(f.joints[0][0] - f.joints[15][0], f.joints[0][1] - f.joints[15][1]);
    const double bw = std::max(8.0, fh * r.uniform(0.12, 0.28)), bh = std::max(8.0, fh * r.uniform(0.12, 0.28));
    const double cx = q[0] + bw * r.uniform(-0.3, 0.3), cy = q[1] + bh * r.uniform(-0.3, 0.3);
    const Rgb edge = muted(r, 50, 110, 15), fill = muted(r, 110, 190, 15);
    cv.rect(cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2, edge, kSyntheticOccluder);
    cv.rect(cx - bw / 2 + 2, cy - bh / 2 + 2, cx + bw / 2 - 2, cy + bh / 2 - 2, fill, kSyntheticOccluder);
  }

  out.owner = cv.owners();
  for (std::size_t p = 0; p < figures.size(); ++p) {
    SyntheticAnnotation& a = anns[figure_ann[p]];
    for (std::size_t k = 0; k < 17; ++k) {
      const Pt& q = figures[p].joints[k];
      if (!(q[0] >= 0 && q[1] >= 0 && q[0] < W && q[1] < H)) continue;  // v = 0: (0, 0, 0)
      const auto y = std::int64_t(std::floor(q[1])), x = std::int64_t(std::floor(q[0]));
      const bool shown = out.owner[std::size_t(y * w + x)] == std::int32_t(figure_ann[p]);
      a.keypoints[k] = {q[0], q[1], shown ? 2.0 : 1.0};
      ++a.num_keypoints;
    }
  }
  out.image = std::move(cv.img);
  return out;
}

void write_synthetic_pose(const std::filesystem::path& root, const SyntheticPoseOptions& opt) {
  namespace fs = std::filesystem;
  using ojson = nlohmann::ordered_json;
  check_options(opt);
  std::error_code ec;
  fs::create_directories(root / "annotations", ec);
  HRNET_CHECK(!ec, IoError, "cannot create " << (root / "annotations") << ": " << ec.message());

  ojson category = {{"supercategory", "person"}, {"id", 1}, {"name", "person"}};
  category["keypoints"] = ojson::array();
  for (const char* n : kJointNames) category["keypoints"].push_back(n);
  category["skeleton"] = ojson::array();
  for (const auto& limb : kCocoSkeleton) category["skeleton"].push_back({limb[0] + 1, limb[1] + 1});

  for (const SyntheticSplit split : {SyntheticSplit::train, SyntheticSplit::val}) {
    const std::string name = synthetic_split_name(split);
    const int count = split == SyntheticSplit::train ? opt.train_images : opt.val_images;
    const fs::path dir = root / name;
    fs::create_directories(dir, ec);
    HRNET_CHECK(!ec, IoError, "cannot create " << dir << ": " << ec.message());
    ojson doc;
    doc["info"] = {{"description", "hrnet synthetic COCO-format person keypoints (make_synthetic pose)"},
                   {"url", ""},
                   {"version", "1.0"},
                   {"year", 2017},
                   {"contributor", "hrnet"},
                   {"date_created", ""},
                   {"seed", opt.seed}};
    doc["licenses"] = ojson::array({ojson{{"url", ""}, {"id", 1}, {"name", "synthetic, generated"}}});
    doc["images"] = ojson::array();
    doc["annotations"] = ojson::array();
    for (int i = 0; i < count; ++i) {
      const SyntheticPoseImage s = render_synthetic_pose(opt, split, i);
      write_jpeg(dir / s.file_name, s.image, opt.jpeg_quality);
      doc["images"].push_back({{"license", 1},
                               {"file_name", s.file_name},
                               {"coco_url", ""},
                               {"height", s.image.height},
                               {"width", s.image.width},
                               {"date_captured", ""},
                               {"flickr_url", ""},
                               {"id", s.id}});
      for (std::size_t k = 0; k < s.annotations.size(); ++k) {
        const SyntheticAnnotation& a = s.annotations[k];
        ojson j;
        if (a.iscrowd) {
          j["segmentation"] = {{"counts", a.rle.counts}, {"size", {a.rle.height, a.rle.width}}};
        } else {
          j["segmentation"] = ojson::array({a.polygon});
        }
        j["num_keypoints"] = a.num_keypoints;
        j["area"] = a.area;
        j["iscrowd"] = a.iscrowd ? 1 : 0;
        ojson kps = ojson::array();
        for (const auto& kp : a.keypoints) {
          kps.push_back(kp[0]);
          kps.push_back(kp[1]);
          kps.push_back(int(kp[2]));
        }
        j["keypoints"] = std::move(kps);
        j["image_id"] = s.id;
        j["bbox"] = a.bbox;
        j["category_id"] = 1;
        j["id"] = s.id * 100 + std::int64_t(k);
        doc["annotations"].push_back(std::move(j));
      }
    }
    doc["categories"] = ojson::array({category});
    const std::string text = doc.dump();
    write_file_atomic(root / "annotations" / ("person_keypoints_" + name + ".json"),
                      std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  }
}

}  // namespace hrnet::data

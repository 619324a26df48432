// Drawing primitives: exact pixel sets, clipping, blending, the palette and the skeleton overlay.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <numbers>
#include <set>

#include "hrnet/data/draw.hpp"
#include "image_test_util.hpp"
#include "test_util.hpp"

using namespace hrnet;
using namespace hrnet::data;
namespace fs = std::filesystem;

namespace {

constexpr Rgb kWhite{255, 255, 255};

// The painted pixels (any non-zero channel) of an image that started black.
std::set<std::pair<int, int>> painted(const Image& img) {
  std::set<std::pair<int, int>> s;
  for (std::int64_t y = 0; y < img.height; ++y)
    for (std::int64_t x = 0; x < img.width; ++x)
      if (img.at(y, x, 0) || img.at(y, x, 1) || img.at(y, x, 2)) s.insert({int(y), int(x)});
  return s;
}

std::set<std::pair<int, int>> block(int y0, int y1, int x0, int x1) {  // inclusive bounds
  std::set<std::pair<int, int>> s;
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) s.insert({y, x});
  return s;
}

}  // namespace

TEST_CASE("draw: a horizontal line covers exactly its rows and has round caps", "[draw]") {
  Image img(32, 32);
  draw_line(img, 5.5, 10.5, 20.5, 10.5, 3, kWhite);  // odd thickness on a pixel centre: rows 9, 10, 11
  // Row 10: centres within 1.5 of the segment reach x in [4, 22]; rows 9 and 11 (1 away): the caps
  // add sqrt(1.5^2 - 1) = 1.118 on each side, so x in [4.38, 21.62]; both give columns 4..21.
  CHECK(painted(img) == block(9, 11, 4, 21));

  Image even(32, 32);
  draw_line(even, 3, 20, 12, 20, 2, kWhite);  // even thickness on a pixel boundary: rows 19 and 20
  // Rows 19 and 20 (centres 0.5 away); the caps reach the columns whose centres are 0.5 beyond the
  // ends (distance sqrt(0.5) < 1): columns 2..12.
  CHECK(painted(even) == block(19, 20, 2, 12));
}

TEST_CASE("draw: vertical and diagonal lines", "[draw]") {
  Image img(20, 20);
  draw_line(img, 7.5, 2.5, 7.5, 15.5, 1, kWhite);  // thickness 1 through pixel centres: one column
  CHECK(painted(img) == block(2, 15, 7, 7));
  Image d(20, 20);
  draw_line(d, 2.5, 2.5, 12.5, 12.5, 1, kWhite);  // the diagonal's own pixels, neighbours are 0.71 away
  std::set<std::pair<int, int>> diag;
  for (int k = 2; k <= 12; ++k) diag.insert({k, k});
  CHECK(painted(d) == diag);
  Image dot(10, 10), disc(10, 10);
  draw_line(dot, 4.5, 4.5, 4.5, 4.5, 3, kWhite);  // a zero-length line is a disc
  fill_circle(disc, 4.5, 4.5, 1.5, kWhite);
  CHECK(painted(dot) == painted(disc));
  CHECK(painted(dot) == block(3, 5, 3, 5));
}

TEST_CASE("draw: filled circles of small radii have the expected pixel counts", "[draw]") {
  auto count = [](double r) {
    Image img(21, 21);
    fill_circle(img, 10.5, 10.5, r, kWhite);
    return painted(img).size();
  };
  CHECK(count(0.5) == 1);   // only the centre pixel
  CHECK(count(1.0) == 5);   // plus the 4 neighbours at distance 1
  CHECK(count(1.5) == 9);   // plus the diagonals at sqrt(2)
  CHECK(count(2.0) == 13);  // plus the 4 at distance 2
  CHECK(count(0.0) == 1);   // the centre itself lies on the disc
  Image img(21, 21);
  fill_circle(img, 10.5, 10.5, 1.0, kWhite);
  CHECK(painted(img) == std::set<std::pair<int, int>>{{9, 10}, {10, 9}, {10, 10}, {10, 11}, {11, 10}});
}

TEST_CASE("draw: rectangles are half-open and polygons sample pixel centres", "[draw]") {
  Image r(16, 16);
  fill_rect(r, 2, 3, 7, 9, kWhite);  // [2, 7) x [3, 9): integer pixels x 2..6, y 3..8
  CHECK(painted(r) == block(3, 8, 2, 6));
  Image r2(16, 16);
  fill_rect(r2, 7, 9, 2, 3, kWhite);  // corners in any order
  CHECK(painted(r2) == painted(r));

  Image sq(16, 16);
  const std::array<std::array<double, 2>, 4> square{{{2, 3}, {7, 3}, {7, 9}, {2, 9}}};
  fill_polygon(sq, square, kWhite);
  CHECK(painted(sq) == block(3, 8, 2, 6));

  // A right triangle: pixel (x, y) is inside iff its centre satisfies x + 0.5 <= y + 0.5, i.e. x <= y.
  Image tri(12, 12);
  const std::array<std::array<double, 2>, 3> t{{{0, 0}, {0, 12}, {12, 12}}};
  fill_polygon(tri, t, kWhite);
  std::set<std::pair<int, int>> lower;
  for (int y = 0; y < 12; ++y)
    for (int x = 0; x <= y; ++x) lower.insert({y, x});
  CHECK(painted(tri) == lower);

  // Even-odd rule: a frame (outer square, then inner square the other way round) leaves a hole.
  Image frame(12, 12);
  const std::array<std::array<double, 2>, 10> f{
      {{1, 1}, {11, 1}, {11, 11}, {1, 11}, {1, 1}, {4, 4}, {4, 8}, {8, 8}, {8, 4}, {4, 4}}};
  fill_polygon(frame, f, kWhite);
  auto expect = block(1, 10, 1, 10);
  for (auto px : block(4, 7, 4, 7)) expect.erase(px);
  CHECK(painted(frame) == expect);
  // Fewer than 3 vertices paint nothing.
  Image none(5, 5);
  fill_polygon(none, std::span<const std::array<double, 2>>(square.data(), 2), kWhite);
  CHECK(painted(none).empty());
}

TEST_CASE("draw: ellipses (axis-aligned and rotated and circular)", "[draw]") {
  Image a(40, 40), b(40, 40), c(40, 40), d(40, 40);
  fill_ellipse(a, 20, 20, 9.3, 3.2, 0, kWhite);
  fill_ellipse(b, 20, 20, 3.2, 9.3, std::numbers::pi / 2, kWhite);
  CHECK(painted(a) == painted(b));  // a quarter turn swaps the axes
  std::set<int> rows;
  for (auto [y, x] : painted(a)) rows.insert(y);
  CHECK(rows == std::set<int>{17, 18, 19, 20, 21, 22});  // centres 17.5 .. 22.5 within 3.2 of 20
  fill_ellipse(c, 15.5, 15.5, 6.5, 6.5, 0.7, kWhite);
  fill_circle(d, 15.5, 15.5, 6.5, kWhite);
  CHECK(painted(c) == painted(d));
}

TEST_CASE("draw: alpha blending rounds src * a + dst * (1 - a)", "[draw]") {
  Image img(4, 4, {100, 100, 100});
  fill_rect(img, 0, 0, 2, 4, {200, 0, 100}, 0.25);
  CHECK(img.rgb(0, 0) == Rgb{125, 75, 100});
  CHECK(img.rgb(0, 3) == Rgb{100, 100, 100});
  fill_circle(img, 3.5, 3.5, 0.5, {0, 0, 0}, 0.0);
  CHECK(img.rgb(3, 3) == Rgb{100, 100, 100});
  fill_circle(img, 3.5, 3.5, 0.5, {1, 2, 3}, 1.0);
  CHECK(img.rgb(3, 3) == Rgb{1, 2, 3});
  test::check_throws<ValueError>([&] { fill_rect(img, 0, 0, 1, 1, kWhite, 1.5); }, "alpha");
  test::check_throws<ValueError>([&] { fill_rect(img, 0, 0, 1, 1, kWhite, -0.1); }, "alpha");
}

TEST_CASE("draw: clipping keeps exactly the in-bounds part and never writes outside", "[draw]") {
  // Drawing shifted by m on a canvas with an m-pixel margin must give, inside the window, exactly
  // what the small image gets: clipping removes pixels, it never moves or adds any.
  const int h = 15, w = 20, m = 30;
  std::uint32_t s = 12345;
  auto rnd = [&](double lo, double hi) {
    s = s * 1664525u + 1013904223u;
    return lo + (hi - lo) * double(s >> 8) / double(1 << 24);
  };
  for (int trial = 0; trial < 200; ++trial) {
    Image small(h, w), big(h + 2 * m, w + 2 * m);
    const double x0 = rnd(-25, 45), y0 = rnd(-25, 40), x1 = rnd(-25, 45), y1 = rnd(-25, 40);
    const double r = rnd(0, 12), r2 = rnd(0, 12), ang = rnd(0, 6.3);
    const int kind = trial % 5;
    auto draw = [&](Image& img, double o) {
      switch (kind) {
        case 0: draw_line(img, x0 + o, y0 + o, x1 + o, y1 + o, r, kWhite); break;
        case 1: fill_circle(img, x0 + o, y0 + o, r, kWhite); break;
        case 2: fill_ellipse(img, x0 + o, y0 + o, r, r2, ang, kWhite); break;
        case 3: fill_rect(img, x0 + o, y0 + o, x1 + o, y1 + o, kWhite); break;
        default: {
          const std::array<std::array<double, 2>, 3> tri{{{x0 + o, y0 + o}, {x1 + o, y0 + o}, {x0 + o + r, y1 + o}}};
          fill_polygon(img, tri, kWhite);
        }
      }
    };
    draw(small, 0);
    draw(big, m);
    bool same = true;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) same = same && small.rgb(y, x) == big.rgb(y + m, x + m);
    INFO("trial " << trial << " kind " << kind);
    CHECK(same);
    CHECK(small.pixels.size() == std::size_t(h * w * 3));
  }
  // Far away or enormous shapes: nothing painted / everything painted, no overflow.
  Image img(6, 7);
  fill_circle(img, 1e12, -1e12, 5, kWhite);
  draw_line(img, -1e15, 3, -1e14, 3, 2, kWhite);
  CHECK(painted(img).empty());
  fill_circle(img, 3, 3, 1e9, kWhite);
  CHECK(painted(img).size() == 42);
  Image empty;
  fill_circle(empty, 0, 0, 3, kWhite);  // a 0x0 image is a valid (empty) target
  CHECK(empty.pixels.empty());
}

TEST_CASE("draw: bad geometry is a ValueError", "[draw]") {
  Image img(8, 8);
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  test::check_throws<ValueError>([&] { fill_circle(img, nan, 1, 2, kWhite); }, "non-finite");
  test::check_throws<ValueError>([&] { draw_line(img, 0, 0, inf, 1, 2, kWhite); }, "non-finite");
  test::check_throws<ValueError>([&] { fill_circle(img, 1, 1, -2, kWhite); }, "negative radius");
  test::check_throws<ValueError>([&] { draw_line(img, 0, 0, 1, 1, -1, kWhite); }, "negative thickness");
  test::check_throws<ValueError>([&] { fill_ellipse(img, 1, 1, 2, -1, 0, kWhite); }, "negative semi-axis");
  const std::array<std::array<double, 2>, 3> bad{{{0, 0}, {nan, 1}, {2, 2}}};
  test::check_throws<ValueError>([&] { fill_polygon(img, bad, kWhite); }, "non-finite");
  Image broken(4, 4);
  broken.pixels.resize(5);
  test::check_throws<ShapeError>([&] { fill_circle(broken, 1, 1, 1, kWhite); }, "image buffer");
  CHECK(painted(img).empty());
}

TEST_CASE("draw: the person palette has distinct colours and wraps around", "[draw]") {
  for (int i = 0; i < kPersonPaletteSize; ++i)
    for (int j = i + 1; j < kPersonPaletteSize; ++j) {
      const Rgb a = person_color(i), b = person_color(j);
      const int d = std::abs(a[0] - b[0]) + std::abs(a[1] - b[1]) + std::abs(a[2] - b[2]);
      INFO(i << " vs " << j);
      CHECK(d >= 90);
    }
  CHECK(person_color(kPersonPaletteSize + 3) == person_color(3));
  CHECK(person_color(-1) == person_color(kPersonPaletteSize - 1));
  CHECK(person_color(std::numeric_limits<int>::min()) == person_color(std::numeric_limits<int>::min() % kPersonPaletteSize + kPersonPaletteSize));
}

TEST_CASE("draw: kCocoSkeleton is COCO's person skeleton (0-based)", "[draw]") {
  const fs::path f = fs::path(HRNET_SHARED_DATA_DIR) / "coco-sample" / "annotations" / "person_keypoints_val2017.json";
  if (!fs::is_regular_file(f)) {
    WARN("skipped: " << f << " is missing");
    return;
  }
  std::ifstream in(f);
  const auto j = nlohmann::json::parse(in);
  const auto sk = j.at("categories").at(0).at("skeleton").get<std::vector<std::array<int, 2>>>();
  REQUIRE(sk.size() == kCocoSkeleton.size());
  for (std::size_t i = 0; i < sk.size(); ++i) {
    CHECK(sk[i][0] - 1 == kCocoSkeleton[i][0]);
    CHECK(sk[i][1] - 1 == kCocoSkeleton[i][1]);
  }
}

TEST_CASE("draw: draw_skeleton draws the limbs and joints that pass min_score", "[draw]") {
  // A standing figure; joint 9 (left wrist) below the threshold.
  std::vector<float> kp(51, 0.f);
  const float xy[17][2] = {{50, 10}, {53, 8}, {47, 8}, {56, 10}, {44, 10}, {62, 25}, {38, 25}, {68, 40}, {32, 40},
                           {70, 55}, {30, 55}, {58, 60}, {42, 60}, {60, 80}, {40, 80}, {61, 98}, {39, 98}};
  for (int j = 0; j < 17; ++j) {
    kp[std::size_t(3 * j)] = xy[j][0];
    kp[std::size_t(3 * j + 1)] = xy[j][1];
    kp[std::size_t(3 * j + 2)] = j == 9 ? 0.1f : 0.9f;
  }
  Image img(110, 100);
  const Rgb red{255, 0, 0};
  draw_skeleton(img, kp, red, 0.5f, 3);
  for (int j = 0; j < 17; ++j) {
    INFO("joint " << j);
    CHECK(img.rgb(std::int64_t(xy[j][1]), std::int64_t(xy[j][0])) == (j == 9 ? Rgb{0, 0, 0} : red));
  }
  CHECK(img.rgb(60, 50) == red);           // hip to hip (11-12) passes (50, 60)
  CHECK(img.rgb(47, 68) == Rgb{0, 0, 0});  // left elbow (68, 40) -> wrist (70, 55): not drawn
  CHECK(img.rgb(47, 31) == red);           // the right forearm is
  test::check_throws<ShapeError>([&] { draw_skeleton(img, std::span<const float>(kp.data(), 50), red, 0.f, 2); }, "51");
  test::check_throws<ValueError>([&] { draw_skeleton(img, kp, red, 0.f, 0); }, "thickness");
  kp[0] = std::numeric_limits<float>::quiet_NaN();
  draw_skeleton(img, kp, red, 0.f, 2);  // a non-finite joint is skipped, not an error
}

// The TF port's ImageNet preprocessing (hrnet/data/tf_transforms.hpp) against TensorFlow: fixtures
// in data/tf_transforms/ written by data/make_tf_transform_fixtures.py (TensorFlow 2.21, CPU) from
// the very pixels of the committed PNGs. Exact parts are compared element by element; the random
// crop is compared through its invariants, hand-computed draws and its distribution (TF's 2000
// draws per configuration against ours, Kolmogorov-Smirnov and proportions).
#include <catch2/catch.hpp>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "hrnet/data/synthetic_cls.hpp"
#include "hrnet/data/tf_transforms.hpp"
#include "hrnet/io/safetensors.hpp"

using namespace hrnet;
using namespace hrnet::data;

namespace {

const std::string kDir = HRNET_TF_TRANSFORMS_DIR;

// Element-wise tolerance against TF's float32 outputs (values 0..255 minus the means): TF's kernel
// and ours do the same float32 operations in the same order, so the difference is expected to be
// 0; 1e-4 (a few ulps at 255) is what the test allows.
constexpr double kTol = 1e-4;

const io::SafetensorsFile& fixtures() {
  static const io::SafetensorsFile f = io::read_safetensors(kDir + "/tf_transforms.safetensors");
  return f;
}

const io::RawTensor& raw(const std::string& key) {
  const auto it = fixtures().tensors.find(key);
  INFO("fixture tensor " << key);
  REQUIRE(it != fixtures().tensors.end());
  return it->second;
}
std::vector<float> f32(const std::string& key) {
  const io::RawTensor& t = raw(key);
  REQUIRE(t.dtype == DType::F32);
  std::vector<float> v(static_cast<std::size_t>(t.numel()));
  if (!v.empty()) std::memcpy(v.data(), t.data.data(), v.size() * sizeof(float));  // memcpy(null, ..., 0) is UB
  return v;
}
std::vector<std::int64_t> i64(const std::string& key) {
  const io::RawTensor& t = raw(key);
  REQUIRE(t.dtype == DType::I64);
  std::vector<std::int64_t> v(static_cast<std::size_t>(t.numel()));
  if (!v.empty()) std::memcpy(v.data(), t.data.data(), v.size() * sizeof(std::int64_t));
  return v;
}

const Image& fixture_image(std::int64_t h, std::int64_t w) {
  static std::map<std::pair<std::int64_t, std::int64_t>, Image> cache;
  auto it = cache.find({h, w});
  if (it == cache.end()) {
    Image img = read_image(kDir + "/img_" + std::to_string(h) + "x" + std::to_string(w) + ".png");
    REQUIRE(img.height == h);
    REQUIRE(img.width == w);
    it = cache.emplace(std::pair{h, w}, std::move(img)).first;
  }
  return it->second;
}

struct Diff {
  double max_abs = 0;
  std::int64_t compared = 0, exact = 0;
};

// Compares our full out_h x out_w x 3 output with the rows/cols TF's fixture `key` stores.
Diff compare(const std::string& key, const std::vector<float>& ours, std::int64_t out_h, std::int64_t out_w) {
  const auto rows = i64(key + "/rows"), cols = i64(key + "/cols");
  const auto values = f32(key + "/values");
  REQUIRE(values.size() == rows.size() * cols.size() * 3);
  REQUIRE(ours.size() == static_cast<std::size_t>(out_h * out_w * 3));
  Diff d;
  std::size_t k = 0;
  for (std::int64_t r : rows) {
    REQUIRE(r < out_h);
    for (std::int64_t c : cols) {
      REQUIRE(c < out_w);
      for (std::int64_t ch = 0; ch < 3; ++ch, ++k) {
        const float a = ours[static_cast<std::size_t>((r * out_w + c) * 3 + ch)], e = values[k];
        const double diff = std::abs(static_cast<double>(a) - static_cast<double>(e));
        if (!(diff <= d.max_abs)) d.max_abs = std::isnan(diff) ? INFINITY : diff;
        d.exact += a == e;
        ++d.compared;
      }
    }
  }
  return d;
}

void check_diff(const std::string& key, const Diff& d) {
  INFO(key << ": " << d.compared << " values compared, " << d.exact << " bit-identical, max |ours - TF| = " << d.max_abs);
  CHECK(d.compared > 0);
  CHECK(d.max_abs <= kTol);
  CHECK(d.exact == d.compared);  // the claim of the header: the same float32 bits
}

std::vector<std::string> cases(const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& [k, t] : fixtures().tensors)
    if (k.rfind(prefix, 0) == 0 && k.size() > 7 && k.compare(k.size() - 7, 7, "/values") == 0)
      out.push_back(k.substr(0, k.size() - 7));
  return out;
}

// A generator that returns scripted draws and logs the calls ("u" for uniform, "i:n" for below(n)).
struct ScriptedGen {
  std::deque<double> uniforms;
  std::deque<std::uint64_t> integers;
  std::ostringstream log;
  double uniform() {
    REQUIRE(!uniforms.empty());
    const double u = uniforms.front();
    uniforms.pop_front();
    log << " u";
    return u;
  }
  std::uint64_t below(std::uint64_t n) {
    REQUIRE(!integers.empty());
    const std::uint64_t v = integers.front();
    integers.pop_front();
    REQUIRE(v < n);
    log << " i:" << n;
    return v;
  }
};

// Counts draws of a real Rng.
struct CountingGen {
  Rng rng;
  int uniforms = 0, integers = 0;
  double uniform() { return ++uniforms, rng.uniform(); }
  std::uint64_t below(std::uint64_t n) { return ++integers, rng.below(n); }
};

// The kernel's conversion of a normalised box to pixels (float32 products truncated).
struct PixelBox {
  int x0, y0, x1, y1;
};
PixelBox to_pixels(const io::NormalizedBox& b, std::int64_t h, std::int64_t w) {
  return {static_cast<int>(b.xmin * static_cast<float>(w)), static_cast<int>(b.ymin * static_cast<float>(h)),
          static_cast<int>(b.xmax * static_cast<float>(w)), static_cast<int>(b.ymax * static_cast<float>(h))};
}
double covered(const CropBox& c, const PixelBox& b) {
  const double area = double(b.x1 - b.x0) * double(b.y1 - b.y0);
  const std::int64_t x0 = std::max<std::int64_t>(c.left, b.x0), x1 = std::min<std::int64_t>(c.left + c.width, b.x1);
  const std::int64_t y0 = std::max<std::int64_t>(c.top, b.y0), y1 = std::min<std::int64_t>(c.top + c.height, b.y1);
  if (x0 > x1 || y0 > y1 || area < 1) return 0;
  return double(x1 - x0) * double(y1 - y0) / area;
}

// Two-sample Kolmogorov-Smirnov statistic.
double ks(std::vector<double> a, std::vector<double> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::size_t i = 0, j = 0;
  double d = 0;
  while (i < a.size() && j < b.size()) {
    const double v = std::min(a[i], b[j]);
    while (i < a.size() && a[i] <= v) ++i;
    while (j < b.size() && b[j] <= v) ++j;
    d = std::max(d, std::abs(double(i) / double(a.size()) - double(j) / double(b.size())));
  }
  return d;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}
double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * double(v.size() - 1))];
}

Image constant_image(std::int64_t h, std::int64_t w, Rgb c) { return Image(h, w, c); }

}  // namespace

TEST_CASE("TF resize: equals tf.compat.v1.image.resize_images (bilinear, align_corners=False)", "[tf_transforms]") {
  const auto keys = cases("resize/");
  REQUIRE(keys.size() >= 10);
  for (const std::string& key : keys) {
    const auto img = i64(key + "/image"), reg = i64(key + "/region");
    const Image& src = fixture_image(img[0], img[1]);
    const CropBox region{reg[0], reg[1], reg[2], reg[3]};
    std::vector<float> out(static_cast<std::size_t>(reg[4] * reg[5] * 3), -1.f);
    resize_bilinear_tf(src, region, reg[4], reg[5], out.data());
    check_diff(key, compare(key, out, reg[4], reg[5]));
  }
}

TEST_CASE("TF resize: the identity size copies, the legacy sampling positions", "[tf_transforms]") {
  const Image& src = fixture_image(37, 53);
  std::vector<float> out(37 * 53 * 3);
  resize_bilinear_tf(src, {0, 0, 37, 53}, 37, 53, out.data());
  for (std::size_t i = 0; i < out.size(); ++i) REQUIRE(out[i] == static_cast<float>(src.pixels[i]));
  // 2x upscale of one row: outputs at source positions 0, 0.5, 1, 1.5, ..., the last clamped
  Image row(1, 3);
  row.set(0, 0, {0, 10, 200});
  row.set(0, 1, {100, 20, 100});
  row.set(0, 2, {50, 30, 0});
  std::vector<float> up(6 * 3);
  resize_bilinear_tf(row, {0, 0, 1, 3}, 1, 6, up.data());
  const std::vector<float> expect{0, 10, 200, 50, 15, 150, 100, 20, 100, 75, 25, 50, 50, 30, 0, 50, 30, 0};
  REQUIRE(up == expect);
  // downscale by 2: every other pixel, no averaging (no antialiasing)
  Image wide(1, 4);
  for (int x = 0; x < 4; ++x) wide.set(0, x, {static_cast<std::uint8_t>(x * 60), 0, 0});
  std::vector<float> down(2 * 3);
  resize_bilinear_tf(wide, {0, 0, 1, 4}, 1, 2, down.data());
  REQUIRE(down[0] == 0.f);
  REQUIRE(down[3] == 120.f);
}

TEST_CASE("TF eval size: equals _smallest_size_at_least in float32", "[tf_transforms]") {
  const auto t = i64("aspect_sizes");
  REQUIRE(t.size() % 4 == 0);
  std::size_t short_255 = 0;
  for (std::size_t i = 0; i < t.size(); i += 4) {
    const auto [h, w] = tf_aspect_preserving_size(t[i], t[i + 1], 256);
    INFO(t[i] << "x" << t[i + 1] << " -> ours " << h << "x" << w << ", TF " << t[i + 2] << "x" << t[i + 3]);
    REQUIRE(h == t[i + 2]);
    REQUIRE(w == t[i + 3]);
    short_255 += std::min(h, w) == 255;
  }
  // the table holds the float32 cases where the short side comes out as 255, not 256
  CHECK(short_255 > 50);
  CHECK(tf_aspect_preserving_size(41, 100, 256) == std::pair<std::int64_t, std::int64_t>{255, 624});
  CHECK(tf_aspect_preserving_size(375, 500, 256) == std::pair<std::int64_t, std::int64_t>{256, 341});
}

TEST_CASE("TF eval transform: equals _aspect_preserving_resize + _central_crop + _mean_image_subtraction", "[tf_transforms]") {
  const auto keys = cases("eval/");
  REQUIRE(keys.size() >= 6);
  for (const std::string& key : keys) {
    const auto cfg = i64(key + "/config");  // h, w, size, resize
    TfTransformOptions o;
    o.size = cfg[2];
    o.resize = cfg[3];
    std::vector<float> out(static_cast<std::size_t>(o.size * o.size * 3));
    tf_eval_transform(fixture_image(cfg[0], cfg[1]), o, out.data());
    check_diff(key, compare(key, out, o.size, o.size));
  }
}

TEST_CASE("TF train transform: given TF's crop and the flip, equals slice + flip + resize + means", "[tf_transforms]") {
  const auto keys = cases("train/");
  REQUIRE(keys.size() >= 4);
  for (const std::string& key : keys) {
    const auto cfg = i64(key + "/config");  // h, w, y, x, ch, cw, flip, size
    TfTransformOptions o;
    o.size = cfg[7];
    const TrainTransformDraw d{{cfg[2], cfg[3], cfg[4], cfg[5]}, cfg[6] != 0};
    std::vector<float> out(static_cast<std::size_t>(o.size * o.size * 3));
    tf_train_transform_fixed(fixture_image(cfg[0], cfg[1]), d, o, out.data());
    check_diff(key, compare(key, out, o.size, o.size));
  }
}

TEST_CASE("TF transforms: the flip comes before the resize, the means in float32", "[tf_transforms]") {
  const Image& src = fixture_image(47, 61);
  const CropBox crop{3, 5, 30, 41};
  TfTransformOptions o;
  o.size = 50;  // an upscale: legacy bilinear is not mirror-symmetric there
  std::vector<float> flipped(50 * 50 * 3), plain(flipped.size()), expect(flipped.size());
  tf_train_transform_fixed(src, {crop, true}, o, flipped.data());
  tf_train_transform_fixed(src, {crop, false}, o, plain.data());
  // flip first: the mirrored image's mirrored region, resized
  Image mirror = src;
  flip_horizontal(mirror);
  resize_bilinear_tf(mirror, {crop.top, src.width - crop.left - crop.width, crop.height, crop.width}, 50, 50, expect.data());
  for (std::size_t i = 0; i < expect.size(); ++i) REQUIRE(flipped[i] == expect[i] - o.mean[i % 3]);
  // ...which is not the resized crop mirrored afterwards
  bool differs = false;
  for (std::int64_t y = 0; y < 50 && !differs; ++y)
    for (std::int64_t x = 0; x < 50 && !differs; ++x)
      for (int c = 0; c < 3; ++c)
        differs |= flipped[std::size_t((y * 50 + x) * 3 + c)] != plain[std::size_t((y * 50 + 49 - x) * 3 + c)];
  CHECK(differs);

  // a constant image gives exactly float(v) - mean everywhere, in both transforms
  const Image flat = constant_image(40, 70, {200, 100, 7});
  std::vector<float> ev(224 * 224 * 3), tr(ev.size());
  TfTransformOptions d;
  tf_eval_transform(flat, d, ev.data());
  Rng rng(3);
  tf_train_transform(flat, {}, d, rng, tr.data());
  const float px[3] = {200.f, 100.f, 7.f};
  for (std::size_t i = 0; i < ev.size(); ++i) {
    REQUIRE(ev[i] == px[i % 3] - d.mean[i % 3]);
    REQUIRE(tr[i] == px[i % 3] - d.mean[i % 3]);
  }
  REQUIRE(d.mean == std::array<float, 3>{123.68f, 116.78f, 103.94f});
}

TEST_CASE("TF train transform: a pure function of its draws, the flip drawn after the crop", "[tf_transforms]") {
  const Image& src = fixture_image(200, 300);
  const std::vector<io::NormalizedBox> boxes{{0.2f, 0.3f, 0.5f, 0.6f}};
  TfTransformOptions o;
  o.size = 24;
  int flips = 0;
  for (std::uint64_t s = 0; s < 400; ++s) {
    std::vector<float> out(24 * 24 * 3), expect(out.size());
    Rng rng(s), rng2(s);
    const TrainTransformDraw d = tf_train_transform(src, boxes, o, rng, out.data());
    REQUIRE(d.crop == sample_distorted_bounding_box(src.height, src.width, boxes, o, rng2));
    REQUIRE(d.flipped == (rng2.uniform() < 0.5));
    tf_train_transform_fixed(src, d, o, expect.data());
    REQUIRE(out == expect);
    flips += d.flipped;
  }
  CHECK(flips > 150);
  CHECK(flips < 250);
  for (double p : {0.0, 1.0}) {
    o.flip_prob = p;
    Rng rng(9);
    std::vector<float> out(24 * 24 * 3);
    for (int i = 0; i < 50; ++i) REQUIRE(tf_train_transform(src, boxes, o, rng, out.data()).flipped == (p == 1.0));
  }
}

TEST_CASE("sample_distorted_bounding_box: the kernel's arithmetic and draw order on scripted draws", "[tf_transforms]") {
  TfTransformOptions o;
  {
    // 100x100, no box: a = 0.75; h = lrint(sqrt(500 / 0.75)) = 26, max_h = lrint(sqrt(10000 / 0.75)) = 115
    // -> clamped to 100; h = 26 + 20; w = lrint(46 * 0.75 = 34.5) = 34 (ties to even); y from [0, 54),
    // x from [0, 66); 46 * 34 covers 15.6% >= 10% of the image (the implicit box)
    ScriptedGen g;
    g.uniforms = {0.0};
    g.integers = {20, 5, 7};
    const CropBox c = sample_distorted_bounding_box(100, 100, {}, o, g);
    CHECK(c == CropBox{5, 7, 46, 34});
    CHECK(g.log.str() == " u i:75 i:54 i:66");
  }
  {
    // the same with h = 26 + 10 = 36, w = 27: 9.7% of the image, less than min_object_covered of
    // the implicit whole-image box, so the attempt is rejected and the next one drawn (with no box,
    // min_object_covered = 0.1 raises the minimum area from 5% to 10%)
    ScriptedGen g;
    g.uniforms = {0.0, 0.0};
    g.integers = {10, 5, 7, 20, 1, 2};
    CHECK(sample_distorted_bounding_box(100, 100, {}, o, g) == CropBox{1, 2, 46, 34});
    CHECK(g.log.str() == " u i:75 i:64 i:73 u i:75 i:54 i:66");
  }
  {
    // a = 0.75 + 0.58 * (2^22 / 2^23) = 1.04; on 10x10 with area [0.05, 1]: h = lrint(sqrt(5 / 1.04)) = 2,
    // max_h = lrint(sqrt(100 / 1.04)) = 10 -> round(10 * 1.04) = 10 fits; drawn h = 2 + 0 -> w = 2,
    // area 4 < 5 -> h = 3, w = lrint(3.12) = 3; y from [0, 7), x from [0, 7) (min_object_covered 0:
    // 9 pixels would not cover 10% of the image)
    TfTransformOptions any = o;
    any.min_object_covered = 0.0f;
    ScriptedGen g;
    g.uniforms = {0.5};
    g.integers = {0, 6, 6};
    CHECK(sample_distorted_bounding_box(10, 10, {}, any, g) == CropBox{6, 6, 3, 3});
    CHECK(g.log.str() == " u i:9 i:7 i:7");
  }
  {
    // the whole image drawn: no offset draws (h == H and w == W), and RandFloat's 23 bits: u just
    // below 1 is k = 2^23 - 1
    TfTransformOptions full = o;
    full.area_min = 1.0f;
    full.aspect_min = full.aspect_max = 1.0f;
    ScriptedGen g;
    g.uniforms = {0.9999999999};
    CHECK(sample_distorted_bounding_box(20, 20, {}, full, g) == CropBox{0, 0, 20, 20});
    CHECK(g.log.str() == " u");
  }
  {
    // the width clamp: on 3000 x 1819 with a = 1.1378987 (k = 5610223), max_h = (int)((1819.5 - 1e-7) / a)
    // = 1599 still rounds to a width of 1820. TF 1.x keeps 1599 (the draw is from [0, 1110) and the
    // largest height is then rejected); current TF takes max_h = 1598 and accepts it.
    const double u = 5610223.0 / 8388608.0;
    TfTransformOptions one = o;
    one.max_attempts = 1;
    ScriptedGen g1;
    g1.uniforms = {u};
    g1.integers = {1109};
    CHECK(sample_distorted_bounding_box(3000, 1819, {}, one, g1) == CropBox{0, 0, 3000, 1819});  // fallback
    CHECK(g1.log.str() == " u i:1110");
    one.tf1_max_height = false;
    ScriptedGen g2;
    g2.uniforms = {u};
    g2.integers = {1108, 0, 0};
    CHECK(sample_distorted_bounding_box(3000, 1819, {}, one, g2) == CropBox{0, 0, 1598, 1818});
    CHECK(g2.log.str() == " u i:1109 i:1402 i:1");
  }
}

TEST_CASE("sample_distorted_bounding_box: invariants over many draws", "[tf_transforms]") {
  struct Config {
    std::int64_t h, w;
    std::vector<io::NormalizedBox> boxes;
    TfTransformOptions o;
    bool crops = true;  // false: no crop can satisfy the options, every draw is the fallback
  };
  TfTransformOptions port;  // the port's parameters
  TfTransformOptions other;
  other.aspect_min = 0.5f;
  other.aspect_max = 2.0f;
  other.area_min = 0.3f;
  other.area_max = 0.6f;
  other.min_object_covered = 0.7f;
  other.max_attempts = 10;
  const std::vector<Config> configs{
      {200, 300, {}, port},
      {375, 500, {{0.3f, 0.2f, 0.6f, 0.5f}}, port},
      {37, 53, {{0.1f, 0.1f, 0.3f, 0.25f}, {0.5f, 0.5f, 1.0f, 1.0f}}, port},
      {100, 80, {{0.0f, 0.0f, 0.3f, 0.2f}, {0.6f, 0.5f, 1.0f, 0.9f}}, other},
      {1, 1, {}, port, false},    // only the whole image exists
      {3, 500, {}, port, false},  // a crop of aspect <= 1.33 is at most 3x4 pixels, under 5% of the area
  };
  for (const Config& cf : configs) {
    Rng rng(11);
    const double min_area = double(cf.o.area_min * float(cf.w) * float(cf.h));
    const double max_area = double(cf.o.area_max * float(cf.w) * float(cf.h));
    int generated = 0;
    for (int i = 0; i < 3000; ++i) {
      const CropBox c = sample_distorted_bounding_box(cf.h, cf.w, cf.boxes, cf.o, rng);
      INFO(cf.h << "x" << cf.w << " draw " << i << ": " << c.top << "," << c.left << " " << c.height << "x" << c.width);
      REQUIRE(c.top >= 0);
      REQUIRE(c.left >= 0);
      REQUIRE(c.height > 0);
      REQUIRE(c.width > 0);
      REQUIRE(c.top + c.height <= cf.h);
      REQUIRE(c.left + c.width <= cf.w);
      if (c.height == cf.h && c.width == cf.w) continue;  // the fallback (or a whole-image draw)
      ++generated;
      // TF's offsets: y from [0, H - h), so a crop never touches the bottom/right border
      REQUIRE((c.height == cf.h || c.top + c.height < cf.h));
      REQUIRE((c.width == cf.w || c.left + c.width < cf.w));
      const double area = double(c.height * c.width);
      REQUIRE(area >= min_area);
      REQUIRE(area <= max_area);
      // w = lrint(h * a) with a in [aspect_min, aspect_max): w / h within half a pixel of the range
      REQUIRE(double(c.width) >= double(cf.o.aspect_min) * double(c.height) - 0.5 - 1e-3);
      REQUIRE(double(c.width) <= double(cf.o.aspect_max) * double(c.height) + 0.5 + 1e-3);
      // covers enough of some box (the whole image when there is none)
      double best = 0;
      if (cf.boxes.empty()) best = covered(c, {0, 0, int(cf.w), int(cf.h)});
      for (const auto& b : cf.boxes) best = std::max(best, covered(c, to_pixels(b, cf.h, cf.w)));
      REQUIRE(best >= double(cf.o.min_object_covered) - 1e-6);
    }
    if (cf.crops) CHECK(generated > 1000);
    else CHECK(generated == 0);
  }
}

TEST_CASE("sample_distorted_bounding_box: the whole image when no attempt succeeds", "[tf_transforms]") {
  TfTransformOptions o;
  o.min_object_covered = 1.0f;
  // a box of less than one pixel never counts as covered: always the fallback, after all 100 attempts
  const std::vector<io::NormalizedBox> tiny{{0.5f, 0.5f, 0.505f, 0.505f}};
  for (std::uint64_t s = 0; s < 50; ++s) {
    CountingGen g{Rng(s)};
    CHECK(sample_distorted_bounding_box(100, 100, tiny, o, g) == CropBox{0, 0, 100, 100});
    CHECK(g.uniforms == 100);
  }
  // impossible: the whole-image box fully covered by a crop of at most half the image
  o.area_max = 0.5f;
  const std::vector<io::NormalizedBox> all{{0.f, 0.f, 1.f, 1.f}};
  Rng rng(4);
  for (int i = 0; i < 50; ++i) CHECK(sample_distorted_bounding_box(37, 53, all, o, rng) == CropBox{0, 0, 37, 53});
  // no boxes: the whole image is the box; min_object_covered = 1 then needs the whole image
  o.area_max = 1.0f;
  for (int i = 0; i < 50; ++i) CHECK(sample_distorted_bounding_box(37, 53, {}, o, rng) == CropBox{0, 0, 37, 53});
}

TEST_CASE("sample_distorted_bounding_box: the distribution of TensorFlow's op", "[tf_transforms]") {
  std::vector<std::string> keys;
  for (const auto& [k, t] : fixtures().tensors)
    if (k.rfind("stats/", 0) == 0 && k.size() > 6 && k.compare(k.size() - 6, 6, "/draws") == 0) keys.push_back(k.substr(0, k.size() - 6));
  REQUIRE(keys.size() >= 5);
  for (const std::string& key : keys) {
    const auto img = i64(key + "/image");
    const auto bx = f32(key + "/boxes"), opt = f32(key + "/options"), tf = f32(key + "/draws");
    std::vector<io::NormalizedBox> boxes;
    for (std::size_t i = 0; i + 3 < bx.size(); i += 4) boxes.push_back({bx[i], bx[i + 1], bx[i + 2], bx[i + 3]});
    TfTransformOptions o;
    o.min_object_covered = opt[0];
    o.aspect_min = opt[1];
    o.aspect_max = opt[2];
    o.area_min = opt[3];
    o.area_max = opt[4];
    o.max_attempts = static_cast<int>(opt[5]);
    const double H = double(img[0]), W = double(img[1]);
    // area fraction, aspect ratio (w / h), centre position, whole-image indicator
    std::vector<double> t_area, t_aspect, t_cy, t_cx, o_area, o_aspect, o_cy, o_cx;
    double t_whole = 0, o_whole = 0;
    for (std::size_t i = 0; i + 3 < tf.size(); i += 4) {
      const double y = tf[i], x = tf[i + 1], h = tf[i + 2], w = tf[i + 3];
      t_area.push_back(h * w / (H * W));
      t_aspect.push_back(w / h);
      t_cy.push_back((y + h / 2) / H);
      t_cx.push_back((x + w / 2) / W);
      t_whole += h == H && w == W;
    }
    Rng rng(2024);
    constexpr int kOurs = 20000;
    for (int i = 0; i < kOurs; ++i) {
      const CropBox c = sample_distorted_bounding_box(img[0], img[1], boxes, o, rng);
      const double y = double(c.top), x = double(c.left), h = double(c.height), w = double(c.width);
      o_area.push_back(h * w / (H * W));
      o_aspect.push_back(w / h);
      o_cy.push_back((y + h / 2) / H);
      o_cx.push_back((x + w / 2) / W);
      o_whole += h == H && w == W;
    }
    const double n = double(t_area.size()), m = double(kOurs);
    REQUIRE(n >= 2000);
    // KS at alpha = 0.001: c = 1.95 (conservative for these discrete distributions)
    const double ks_limit = 1.95 * std::sqrt((n + m) / (n * m));
    const double p_t = t_whole / n, p_o = o_whole / m, p = (t_whole + o_whole) / (n + m);
    const double p_limit = 4.0 * std::sqrt(p * (1 - p) * (1 / n + 1 / m)) + 1e-9;
    const double d_area = ks(t_area, o_area), d_aspect = ks(t_aspect, o_aspect), d_cy = ks(t_cy, o_cy), d_cx = ks(t_cx, o_cx);
    INFO(key << ": area fraction mean TF " << mean(t_area) << " ours " << mean(o_area) << ", median " << quantile(t_area, 0.5)
             << " / " << quantile(o_area, 0.5) << ", 10% " << quantile(t_area, 0.1) << " / " << quantile(o_area, 0.1)
             << ", 90% " << quantile(t_area, 0.9) << " / " << quantile(o_area, 0.9) << "; aspect mean " << mean(t_aspect)
             << " / " << mean(o_aspect) << "; whole image " << p_t << " / " << p_o << "; KS area " << d_area << " aspect "
             << d_aspect << " cy " << d_cy << " cx " << d_cx << " (limit " << ks_limit << ")");
    CHECK(d_area <= ks_limit);
    CHECK(d_aspect <= ks_limit);
    CHECK(d_cy <= ks_limit);
    CHECK(d_cx <= ks_limit);
    CHECK(std::abs(p_t - p_o) <= p_limit);
  }
}

TEST_CASE("TF transforms: errors", "[tf_transforms]") {
  Rng rng(1);
  TfTransformOptions o;
  const std::vector<io::NormalizedBox> bad{{0.1f, 0.2f, 1.5f, 0.9f}};
  CHECK_THROWS_AS(sample_distorted_bounding_box(10, 10, bad, o, rng), ValueError);
  const std::vector<io::NormalizedBox> nan{{0.1f, std::nanf(""), 0.5f, 0.9f}};
  CHECK_THROWS_AS(sample_distorted_bounding_box(10, 10, nan, o, rng), ValueError);
  CHECK_THROWS_AS(sample_distorted_bounding_box(0, 10, {}, o, rng), ValueError);
  for (auto mutate : std::vector<void (*)(TfTransformOptions&)>{
           [](TfTransformOptions& x) { x.area_min = 0; }, [](TfTransformOptions& x) { x.area_max = 1.5f; },
           [](TfTransformOptions& x) { x.aspect_min = -1; }, [](TfTransformOptions& x) { x.max_attempts = 0; },
           [](TfTransformOptions& x) { x.min_object_covered = -0.1f; }, [](TfTransformOptions& x) { x.flip_prob = 2; },
           [](TfTransformOptions& x) { x.area_min = 0.9f, x.area_max = 0.5f; }}) {
    TfTransformOptions x;
    mutate(x);
    CHECK_THROWS_AS(check_tf_transform_options(x), ValueError);
    CHECK_THROWS_AS(sample_distorted_bounding_box(10, 10, {}, x, rng), ValueError);
  }
  const Image img(10, 12);
  std::vector<float> out(224 * 224 * 3);
  CHECK_THROWS_AS(resize_bilinear_tf(img, {5, 0, 6, 12}, 4, 4, out.data()), ValueError);
  CHECK_THROWS_AS(resize_bilinear_tf(img, {0, 0, 10, 12}, 0, 4, out.data()), ValueError);
  CHECK_THROWS_AS(tf_train_transform_fixed(img, {{0, 1, 10, 12}, false}, o, out.data()), ValueError);
  TfTransformOptions small_resize;
  small_resize.resize = 200;
  CHECK_THROWS_AS(tf_eval_transform(img, small_resize, out.data()), ValueError);
  CHECK_THROWS_AS(tf_eval_transform(Image(), o, out.data()), ValueError);
}

TEST_CASE("TF train transform from the encoded file: only the window decoded, the same floats", "[tf_transforms]") {
  // JPEGs of the fixture pictures at two qualities, plus the synthetic set's grayscale and CMYK JPEGs
  std::vector<std::pair<std::string, std::vector<std::uint8_t>>> files;
  for (const char* size : {"37x53", "200x300", "375x500"}) {
    const Image img = read_image(kDir + "/img_" + size + ".png");
    for (const int q : {75, 95}) files.emplace_back(std::string(size) + " q" + std::to_string(q), encode_jpeg(img, q));
  }
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("hrnet_tf_encoded_" + std::to_string(::getpid()));
  const auto sum = write_synthetic_cls(dir, {.classes = 2, .images = 1, .val_images = 1, .min_side = 60, .max_side = 90});
  for (const char* f : {"train/class_00/000000.jpg", "train/class_01/000000.jpg"}) files.emplace_back(f, read_image_file(dir / f));
  std::filesystem::remove_all(dir);
  INFO("grayscale and CMYK written: " << sum.wrote_gray << sum.wrote_cmyk);
  const std::vector<io::NormalizedBox> boxes{{0.2f, 0.1f, 0.9f, 0.7f}};
  TfTransformOptions o;
  o.size = 24;
  o.resize = 27;
  std::vector<float> a(24 * 24 * 3), b(a.size());
  for (const auto& [name, bytes] : files) {
    INFO(name);
    const Image full = decode_image(bytes, name);
    for (std::uint64_t seed = 0; seed < 40; ++seed) {
      const std::span<const io::NormalizedBox> box_span =
          seed % 2 ? std::span<const io::NormalizedBox>(boxes) : std::span<const io::NormalizedBox>();
      Rng ra(seed), rb(seed);
      const TrainTransformDraw da = tf_train_transform(full, box_span, o, ra, a.data());
      const TrainTransformDraw db = tf_train_transform_encoded(bytes, name, box_span, o, rb, b.data());
      REQUIRE(da.crop == db.crop);
      REQUIRE(da.flipped == db.flipped);
      REQUIRE(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
    }
  }
  const std::vector<std::uint8_t> junk{'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'};
  Rng r(1);
  CHECK_THROWS_AS(tf_train_transform_encoded(junk, "junk.jpg", {}, o, r, a.data()), ImageError);
}

// Classification data: ImageFolder indexing, the official train/eval transforms (crop parameters
// against torchvision's get_params arithmetic, resizing against Pillow, flip, normalisation).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "hrnet/data/cls_transforms.hpp"
#include "hrnet/data/image_folder.hpp"
#include "image_test_util.hpp"

using namespace hrnet;
using namespace hrnet::data;
using namespace hrnet::test_image;

namespace {

void touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "x";
}

template <class F>
void require_io_error(F&& f, const std::string& part) {
  try {
    f();
    FAIL("no error; expected one mentioning " << part);
  } catch (const IoError& e) {
    INFO(e.what());
    REQUIRE(std::string(e.what()).find(part) != std::string::npos);
  }
}

// An Rng that records every draw as cls_transform_reference.py reads them.
struct RecordingGen {
  Rng rng;
  std::ostringstream log;
  double uniform() {
    const double u = rng.uniform();
    char b[40];
    std::snprintf(b, sizeof b, " u:%.17g", u);
    log << b;
    return u;
  }
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t v = rng.below(n);
    log << " i:" << n << ":" << v;
    return v;
  }
};

// A generator that always returns the same uniform (and counts the draws).
struct ConstGen {
  double u;
  int uniforms = 0, integers = 0;
  double uniform() { return ++uniforms, u; }
  std::uint64_t below(std::uint64_t) { return ++integers, 0; }
};

Image pattern(std::int64_t h, std::int64_t w, std::uint64_t seed) {
  Image img(h, w);
  Rng r(seed);
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x)  // smooth gradients plus noise: both matter for a resize
      img.set(y, x, {static_cast<std::uint8_t>((x * 255) / std::max<std::int64_t>(1, w - 1)),
                     static_cast<std::uint8_t>((y * 7 + x * 3) % 256), static_cast<std::uint8_t>(r.below(256))});
  return img;
}

}  // namespace

TEST_CASE("image folder: classes sorted, files sorted and recursive, torchvision extensions", "[cls_data]") {
  TempDir d("imgfolder");
  const fs::path root = d / "train";
  touch(root / "n02" / "b.JPEG");
  touch(root / "n02" / "a.jpeg");
  touch(root / "n02" / "notes.txt");  // not an image extension: ignored
  touch(root / "n02" / "sub" / "c.png");
  touch(root / "n01" / "z.jpg");
  touch(root / "B_upper" / "x.PNG");
  touch(root / "readme.md");  // files at the root are not classes
  const ImageFolder f(root);
  REQUIRE(f.classes() == std::vector<std::string>{"B_upper", "n01", "n02"});  // byte order: upper case first
  REQUIRE(f.size() == 5);
  REQUIRE(f[0].path == root / "B_upper" / "x.PNG");
  REQUIRE(f[0].label == 0);
  REQUIRE(f[1].path == root / "n01" / "z.jpg");
  REQUIRE(f[1].label == 1);
  REQUIRE(f[2].path.filename() == "a.jpeg");
  REQUIRE(f[3].path.filename() == "b.JPEG");
  REQUIRE(f[4].path == root / "n02" / "sub" / "c.png");
  REQUIRE(f[4].label == 2);
  REQUIRE(f.class_counts() == std::vector<std::int64_t>{1, 1, 3});
  REQUIRE(has_image_extension("x.WebP"));
  REQUIRE_FALSE(has_image_extension("x.gif"));
}

TEST_CASE("image folder: errors name the folder", "[cls_data]") {
  TempDir d("imgfolder_err");
  require_io_error([&] { ImageFolder f(d / "missing"); }, "missing does not exist");
  touch(d / "file");
  require_io_error([&] { ImageFolder f(d / "file"); }, "is not a directory");
  fs::create_directories(d / "empty_root");
  require_io_error([&] { ImageFolder f(d / "empty_root"); }, "has no class folders");
  touch(d / "r" / "cat" / "1.jpg");
  touch(d / "r" / "dog" / "readme.txt");
  require_io_error([&] { ImageFolder f(d / "r"); }, "(class 'dog') has no image files");
}

TEST_CASE("random resized crop: inside the image, scale and ratio in range", "[cls_data]") {
  const RandomResizedCropOptions o;
  Rng rng(3);
  const std::pair<std::int64_t, std::int64_t> sizes[] = {{375, 500}, {500, 333}, {224, 224}, {64, 97}, {1000, 20}};
  for (auto [H, W] : sizes) {
    int inside = 0, fallback_like = 0;
    double min_scale = 2, max_scale = 0, min_ratio = 9, max_ratio = 0;
    for (int t = 0; t < 4000; ++t) {
      const CropBox c = random_resized_crop_box(H, W, o, rng);
      REQUIRE(c.top >= 0);
      REQUIRE(c.left >= 0);
      REQUIRE(c.height > 0);
      REQUIRE(c.width > 0);
      REQUIRE(c.top + c.height <= H);
      REQUIRE(c.left + c.width <= W);
      ++inside;
      const double s = double(c.height * c.width) / double(H * W), r = double(c.width) / double(c.height);
      min_scale = std::min(min_scale, s), max_scale = std::max(max_scale, s);
      min_ratio = std::min(min_ratio, r), max_ratio = std::max(max_ratio, r);
      // rounding w and h moves the area and ratio a little: half a pixel on each side
      const double dw = 0.5 / c.width, dh = 0.5 / c.height;
      REQUIRE(r >= 0.75 * (1 - dw) / (1 + dh) - 1e-12);
      REQUIRE(r <= 4.0 / 3.0 * (1 + dw) / (1 - dh) + 1e-12);
      if (s < 0.08 * (1 - dw) * (1 - dh) - 1e-12) ++fallback_like;
    }
    INFO(H << "x" << W << ": scale " << min_scale << ".." << max_scale << ", ratio " << min_ratio << ".." << max_ratio);
    REQUIRE(inside == 4000);
    REQUIRE(max_scale <= 1.0);
    if (H * 3 <= W * 4 && W * 3 <= H * 4) {  // not clamped by the aspect ratio: the whole range is reachable
      REQUIRE(fallback_like == 0);
      REQUIRE(min_scale < 0.1);
      REQUIRE(max_scale > 0.9);
      REQUIRE(min_ratio < 0.8);
      REQUIRE(max_ratio > 1.25);
    }
  }
}

TEST_CASE("random resized crop: the fallback after 10 rejected attempts", "[cls_data]") {
  const RandomResizedCropOptions o;
  // 10 x 1000 (ratio 100): every attempt needs h >= sqrt(800 * 3/4) > 10, so all ten are rejected
  ConstGen g{0.37};
  CropBox c = random_resized_crop_box(10, 1000, o, g);
  REQUIRE(g.uniforms == 20);
  REQUIRE(g.integers == 0);
  REQUIRE(c == CropBox{0, 493, 10, 13});  // h = 10, w = round(10 * 4/3) = 13, centred
  ConstGen g2{0.9};
  c = random_resized_crop_box(1000, 10, o, g2);
  REQUIRE(c == CropBox{493, 0, 13, 10});  // w = 10, h = round(10 / (3/4)) = 13
  // a square image whose every attempt asks for more than its area: the whole image
  RandomResizedCropOptions big = o;
  big.scale_min = 1.5, big.scale_max = 2.0;
  ConstGen g3{0.5};
  REQUIRE(random_resized_crop_box(50, 60, big, g3) == CropBox{0, 0, 50, 60});
  REQUIRE(g3.uniforms == 20);
}

TEST_CASE("random resized crop: equals torchvision's get_params given the same draws", "[cls_data]") {
  TempDir d("rrc");
  std::ofstream cases(d / "cases.txt");
  RecordingGen g{Rng(11), {}};
  const std::pair<std::int64_t, std::int64_t> sizes[] = {{375, 500}, {500, 375}, {17, 23}, {10, 1000}, {224, 224}, {1, 1}, {3, 50}};
  int n = 0;
  for (auto [H, W] : sizes)
    for (int t = 0; t < 300; ++t, ++n) {
      g.log.str("");
      const CropBox c = random_resized_crop_box(H, W, RandomResizedCropOptions{}, g);
      cases << H << " " << W << " " << c.top << " " << c.left << " " << c.height << " " << c.width << " |" << g.log.str() << "\n";
    }
  cases.close();
  const RunResult r = run(quote(python()) + " " + quote(std::string(HRNET_IMAGE_TEST_DIR) + "/cls_transform_reference.py") +
                              " rrc " + quote((d / "cases.txt").string()),
                          d);
  if (r.status == 127) {
    WARN("skipped: python3 is not available");
    return;
  }
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  REQUIRE(r.out.find("ok " + std::to_string(n)) != std::string::npos);
}

TEST_CASE("PIL bilinear resize: bit-identical to Pillow's crop + resize", "[cls_data]") {
  TempDir d("pilresize");
  struct Case {
    std::string name;
    CropBox box;
    std::int64_t oh, ow;
  };
  const Image a = pattern(375, 500, 1), b = pattern(31, 17, 2);
  write_png(d / "a.png", a);
  write_png(d / "b.png", b);
  const std::vector<Case> cases = {
      {"a.png", {0, 0, 375, 500}, 224, 224},   // strong downscale, both axes
      {"a.png", {0, 0, 375, 500}, 256, 341},   // the eval resize
      {"a.png", {13, 101, 200, 150}, 224, 224},  // a crop: upscale in x, downscale in y
      {"a.png", {300, 400, 75, 100}, 224, 224},  // upscale at the image corner
      {"a.png", {5, 7, 100, 224}, 100, 64},   // horizontal only
      {"a.png", {5, 7, 224, 100}, 64, 100},   // vertical only
      {"b.png", {0, 0, 31, 17}, 224, 224},     // strong upscale
      {"b.png", {3, 2, 1, 1}, 5, 7},           // one pixel
      {"a.png", {10, 10, 50, 60}, 50, 60},     // same size: a copy
  };
  {
    std::ofstream f(d / "cases.txt");
    for (const auto& c : cases)
      f << c.name << " " << c.box.top << " " << c.box.left << " " << c.box.height << " " << c.box.width << " " << c.oh << " "
        << c.ow << "\n";
  }
  const RunResult r = run(quote(python()) + " " + quote(std::string(HRNET_IMAGE_TEST_DIR) + "/cls_transform_reference.py") +
                              " resize " + quote(d.path.string()),
                          d);
  if (r.status == 77 || r.status == 127) {
    WARN("skipped: python3 with Pillow is not available (" << r.out << r.err << ")");
    return;
  }
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const Case& c = cases[k];
    const Image ours = resize_bilinear_pil(c.name == "a.png" ? a : b, c.box, c.oh, c.ow);
    const std::vector<std::uint8_t> ref = read_bytes(d / (c.name + "." + std::to_string(k) + ".rgb"));
    INFO("case " << k << ": " << c.name << " box " << c.box.top << "," << c.box.left << " " << c.box.height << "x"
                 << c.box.width << " -> " << c.oh << "x" << c.ow);
    REQUIRE(ref.size() == ours.pixels.size());
    std::size_t differing = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) differing += ref[i] != ours.pixels[i];
    REQUIRE(differing == 0);
  }
}

TEST_CASE("eval geometry: torchvision Resize(int) and CenterCrop", "[cls_data]") {
  REQUIRE(resize_short_side(375, 500, 256) == std::pair<std::int64_t, std::int64_t>{256, 341});
  REQUIRE(resize_short_side(500, 375, 256) == std::pair<std::int64_t, std::int64_t>{341, 256});
  REQUIRE(resize_short_side(300, 300, 256) == std::pair<std::int64_t, std::int64_t>{256, 256});
  REQUIRE(resize_short_side(10, 1000, 73) == std::pair<std::int64_t, std::int64_t>{73, 7300});
  // offsets int(round((341 - 224) / 2)) = round(58.5) = 58 (ties to even), round(16) = 16
  REQUIRE(center_crop_box(256, 341, 224, 224) == CropBox{16, 58, 224, 224});
  REQUIRE(center_crop_box(343, 256, 224, 224) == CropBox{60, 16, 224, 224});  // round(59.5) = 60
  REQUIRE(official_cls_transform(224).resize == 256);
  REQUIRE(official_cls_transform(64).resize == 73);
  REQUIRE(round_half_even(2.5) == 2);
  REQUIRE(round_half_even(3.5) == 4);
  REQUIRE(round_half_even(-0.5) == 0);
}

TEST_CASE("normalisation: ToTensor + Normalize in float32", "[cls_data]") {
  ClsTransformOptions o = official_cls_transform(2);
  Image img(2, 2);
  img.set(0, 0, {0, 0, 0});
  img.set(0, 1, {255, 255, 255});
  img.set(1, 0, {124, 116, 104});
  img.set(1, 1, {10, 200, 30});
  std::vector<float> out(12);
  normalize_to(img, o, out.data());
  const float mean[3] = {0.485f, 0.456f, 0.406f}, stdv[3] = {0.229f, 0.224f, 0.225f};
  for (int p = 0; p < 4; ++p)
    for (int c = 0; c < 3; ++c) {
      const float v = img.pixels[static_cast<std::size_t>(p * 3 + c)];
      REQUIRE(out[static_cast<std::size_t>(p * 3 + c)] == (v / 255.0f - mean[c]) / stdv[c]);
    }
  REQUIRE(out[0] == Approx(-0.485 / 0.229).epsilon(1e-6));
  REQUIRE(out[3 + 2] == Approx((1 - 0.406) / 0.225).epsilon(1e-6));
}

TEST_CASE("flip and the training transform", "[cls_data]") {
  Image img(2, 3);
  img.set(0, 0, {1, 2, 3});
  img.set(0, 2, {7, 8, 9});
  img.set(1, 1, {4, 5, 6});
  Image f = img;
  flip_horizontal(f);
  REQUIRE(f.rgb(0, 2) == Rgb{1, 2, 3});
  REQUIRE(f.rgb(0, 0) == Rgb{7, 8, 9});
  REQUIRE(f.rgb(1, 1) == Rgb{4, 5, 6});
  flip_horizontal(f);
  REQUIRE(f == img);

  // the training transform = crop + PIL resize + flip + normalise, with the draws in that order
  const Image src = pattern(120, 90, 5);
  const ClsTransformOptions o = official_cls_transform(32);
  int flips = 0;
  for (std::uint64_t s = 0; s < 400; ++s) {
    std::vector<float> out(32 * 32 * 3), again(out.size()), expect(out.size());
    Rng rng(s), rng2(s), rng3(s);
    const TrainTransformDraw d = cls_train_transform(src, o, rng, out.data());
    cls_train_transform(src, o, rng2, again.data());
    REQUIRE(out == again);  // a pure function of the draws
    const CropBox c = random_resized_crop_box(src.height, src.width, o.crop, rng3);
    REQUIRE(c == d.crop);
    Image x = resize_bilinear_pil(src, c, 32, 32);
    REQUIRE(d.flipped == (rng3.uniform() < 0.5));
    if (d.flipped) flip_horizontal(x), ++flips;
    normalize_to(x, o, expect.data());
    REQUIRE(out == expect);
  }
  REQUIRE(flips > 150);
  REQUIRE(flips < 250);
}

TEST_CASE("eval transform: resize short side, centre crop, normalise", "[cls_data]") {
  const Image src = pattern(90, 120, 6);
  const ClsTransformOptions o = official_cls_transform(64);  // resize 73
  std::vector<float> out(64 * 64 * 3), expect(out.size());
  cls_eval_transform(src, o, out.data());
  const Image r = resize_bilinear_pil(src, {0, 0, 90, 120}, 73, 97);  // int(73 * 120 / 90) = 97
  const CropBox c = center_crop_box(73, 97, 64, 64);
  REQUIRE(c == CropBox{4, 16, 64, 64});  // round(4.5) = 4, round(16.5) = 16
  const Image crop = resize_bilinear_pil(r, c, 64, 64);  // same size: a plain copy
  normalize_to(crop, o, expect.data());
  REQUIRE(out == expect);
}

// The synthetic classification dataset (see hrnet/data/synthetic_cls.hpp).
#include "hrnet/data/synthetic_cls.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <string>
#include <vector>

#include "hrnet/core/rng.hpp"
#include "hrnet/data/draw.hpp"
#include "hrnet/io/tfrecord.hpp"

#if defined(HRNET_IMAGE_LIBJPEG)
#include <csetjmp>
#include <jpeglib.h>
#endif

namespace hrnet::data {
namespace {

namespace fs = std::filesystem;

Rgb hsv(double h, double s, double v) {
  h = std::fmod(std::fmod(h, 360.0) + 360.0, 360.0) / 60.0;
  const int i = static_cast<int>(h);
  const double f = h - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  double r = v, g = t, b = p;
  switch (i) {
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    case 5: r = v, g = p, b = q; break;
    default: break;
  }
  auto c = [](double x) { return static_cast<std::uint8_t>(std::clamp(std::lround(x * 255.0), 0L, 255L)); };
  return {c(r), c(g), c(b)};
}

std::uint64_t image_seed(const SyntheticClsOptions& o, bool val, int cls, int index) {
  std::uint64_t s = o.seed * 0x9e3779b97f4a7c15ull + (val ? 0x51ull : 0x7aull);
  s = s * 1000003ull + static_cast<std::uint64_t>(cls);
  return s * 1000003ull + static_cast<std::uint64_t>(index);
}

void check(const SyntheticClsOptions& o) {
  HRNET_CHECK(o.classes >= 1 && o.classes <= 1000, ValueError, "synthetic cls: classes must be in 1..1000, got " << o.classes);
  HRNET_CHECK(o.images >= 1 && o.images <= 100000, ValueError, "synthetic cls: images must be in 1..100000, got " << o.images);
  HRNET_CHECK(o.val_images >= 1 && o.val_images <= 100000, ValueError,
              "synthetic cls: val_images must be in 1..100000, got " << o.val_images);
  HRNET_CHECK(o.min_side >= 16 && o.max_side >= o.min_side && o.max_side <= 4096, ValueError,
              "synthetic cls: sides must satisfy 16 <= min_side <= max_side <= 4096, got " << o.min_side << ".." << o.max_side);
  HRNET_CHECK(o.jpeg_quality >= 1 && o.jpeg_quality <= 100, ValueError,
              "synthetic cls: jpeg_quality must be in 1..100, got " << o.jpeg_quality);
}

#if defined(HRNET_IMAGE_LIBJPEG)
// A 1-component (grayscale) or Adobe CMYK JPEG of img (libjpeg writes CMYK inverted with an Adobe
// marker, as Photoshop does).
struct JpegErr {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
};
void on_error(j_common_ptr c) { std::longjmp(reinterpret_cast<JpegErr*>(c->err)->jump, 1); }

std::vector<std::uint8_t> encode_special_jpeg(const Image& img, bool cmyk, int quality) {
  jpeg_compress_struct cinfo{};
  JpegErr err{};
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = on_error;
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const int comps = cmyk ? 4 : 1;
  std::vector<std::uint8_t> row(static_cast<std::size_t>(img.width * comps));
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    std::free(buffer);
    HRNET_THROW(data::ImageError, "synthetic cls: libjpeg failed to write a " << (cmyk ? "CMYK" : "grayscale") << " JPEG");
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(img.width);
  cinfo.image_height = static_cast<JDIMENSION>(img.height);
  cinfo.input_components = comps;
  cinfo.in_color_space = cmyk ? JCS_CMYK : JCS_GRAYSCALE;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  if (cmyk) cinfo.write_Adobe_marker = TRUE;
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    const std::int64_t y = cinfo.next_scanline;
    for (std::int64_t x = 0; x < img.width; ++x) {
      const Rgb p = img.rgb(y, x);
      if (!cmyk) {
        row[static_cast<std::size_t>(x)] = static_cast<std::uint8_t>((299 * p[0] + 587 * p[1] + 114 * p[2] + 500) / 1000);
        continue;
      }
      // naive RGB -> CMYK, stored inverted (Adobe convention: 255 = no ink)
      const int k = 255 - std::max({p[0], p[1], p[2]});
      const int c = 255 - p[0] - k, m = 255 - p[1] - k, yy = 255 - p[2] - k;
      std::uint8_t* o = row.data() + x * 4;
      o[0] = static_cast<std::uint8_t>(255 - c), o[1] = static_cast<std::uint8_t>(255 - m),
      o[2] = static_cast<std::uint8_t>(255 - yy), o[3] = static_cast<std::uint8_t>(255 - k);
    }
    JSAMPROW r = row.data();
    jpeg_write_scanlines(&cinfo, &r, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::vector<std::uint8_t> out(buffer, buffer + size);
  std::free(buffer);
  return out;
}
#endif

}  // namespace

std::string synthetic_cls_class_name(const SyntheticClsOptions& opt, int cls) {
  const int digits = opt.classes > 100 ? 3 : 2;
  char b[32];
  std::snprintf(b, sizeof b, "class_%0*d", digits, cls);
  return b;
}

Image render_synthetic_cls(const SyntheticClsOptions& o, bool val, int cls, int index) {
  check(o);
  HRNET_CHECK(cls >= 0 && cls < o.classes, ValueError, "synthetic cls: class " << cls << " outside 0.." << o.classes - 1);
  Rng rng(image_seed(o, val, cls, index));
  const auto side = [&] { return o.min_side + static_cast<int>(rng.below(static_cast<std::uint64_t>(o.max_side - o.min_side + 1))); };
  const int h = side(), w = side();
  Image img(h, w);
  const double K = o.classes;
  const double hue = 360.0 * cls / K + rng.uniform(-90.0 / K, 90.0 / K);
  const double angle = (180.0 * cls / K + rng.uniform(-30.0 / K, 30.0 / K)) * std::numbers::pi / 180.0;
  const double period = rng.uniform(6.0, 14.0), phase = rng.uniform(0.0, period);
  const Rgb light = hsv(hue, rng.uniform(0.5, 0.8), rng.uniform(0.8, 1.0));
  const Rgb dark = hsv(hue + rng.uniform(-15.0, 15.0), rng.uniform(0.6, 1.0), rng.uniform(0.25, 0.5));
  const double ca = std::cos(angle), sa = std::sin(angle);
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x) {
      const double t = std::fmod(x * ca + y * sa + phase + 4 * period * (w + h), period) / period;
      img.set(y, x, t < 0.5 ? light : dark);
    }
  const int shapes = 2 + static_cast<int>(rng.below(4)), kind = cls % 4;
  for (int s = 0; s < shapes; ++s) {
    const double cx = rng.uniform(0, w), cy = rng.uniform(0, h), r = rng.uniform(0.08, 0.2) * std::min(w, h);
    const Rgb color = hsv(rng.uniform(0, 360), rng.uniform(0.0, 1.0), rng.uniform(0.2, 1.0));
    const double rot = rng.uniform(0, std::numbers::pi);
    switch (kind) {
      case 0: fill_circle(img, cx, cy, r, color); break;
      case 1: fill_rect(img, cx - r, cy - r, cx + r, cy + r, color); break;
      case 2: {
        std::array<std::array<double, 2>, 3> tri;
        for (int k = 0; k < 3; ++k)
          tri[static_cast<std::size_t>(k)] = {cx + r * std::cos(rot + 2 * std::numbers::pi * k / 3),
                                              cy + r * std::sin(rot + 2 * std::numbers::pi * k / 3)};
        fill_polygon(img, tri, color);
        break;
      }
      default: fill_ellipse(img, cx, cy, r, 0.4 * r, rot, color); break;
    }
  }
  for (auto& p : img.pixels)  // sensor noise
    p = static_cast<std::uint8_t>(std::clamp(static_cast<int>(p) + static_cast<int>(rng.below(17)) - 8, 0, 255));
  return img;
}

namespace {

// The file bytes of image `index` of class `cls`: a grayscale or CMYK JPEG for the two special
// images (where libjpeg is available), else an RGB JPEG.
std::vector<std::uint8_t> synthetic_cls_file(const SyntheticClsOptions& o, bool val, int c, int i, const Image& img,
                                             SyntheticClsSummary& sum) {
  const bool gray = !val && c == 0 && i == 0;
  const bool cmyk = !val && ((o.classes >= 2 && c == 1 && i == 0) || (o.classes == 1 && i == 1));
#if defined(HRNET_IMAGE_LIBJPEG)
  if (gray || cmyk) {
    (cmyk ? sum.wrote_cmyk : sum.wrote_gray) = true;
    return encode_special_jpeg(img, cmyk, o.jpeg_quality);
  }
#else
  (void)gray, (void)cmyk, (void)sum;  // stb_image_write has neither
#endif
  return encode_jpeg(img, o.jpeg_quality);
}

// Value noise: a lattice of random values every `period` pixels (`channels` per point), interpolated
// bilinearly with a smoothstep; values in [-1, 1], row-major, `channels` per pixel.
std::vector<float> value_noise(std::int64_t h, std::int64_t w, std::int64_t period, int channels, Rng& rng) {
  const std::int64_t gh = h / period + 2, gw = w / period + 2;
  std::vector<float> grid(static_cast<std::size_t>(gh * gw * channels));
  for (auto& v : grid) v = static_cast<float>(rng.uniform(-1.0, 1.0));
  std::vector<float> out(static_cast<std::size_t>(h * w * channels));
  auto smooth = [](double t) { return t * t * (3 - 2 * t); };
  for (std::int64_t y = 0; y < h; ++y) {
    const std::int64_t gy = y / period;
    const double ty = smooth(double(y % period) / double(period));
    for (std::int64_t x = 0; x < w; ++x) {
      const std::int64_t gx = x / period;
      const double tx = smooth(double(x % period) / double(period));
      const float* a = grid.data() + (gy * gw + gx) * channels;
      const float* c = a + gw * channels;
      for (int k = 0; k < channels; ++k)
        out[static_cast<std::size_t>((y * w + x) * channels + k)] = static_cast<float>(
            (a[k] * (1 - tx) + a[channels + k] * tx) * (1 - ty) + (c[k] * (1 - tx) + c[channels + k] * tx) * ty);
    }
  }
  return out;
}

}  // namespace

Image render_photo_like(std::int64_t height, std::int64_t width, std::uint64_t seed) {
  HRNET_CHECK(height >= 1 && width >= 1 && height <= 4096 && width <= 4096, ValueError,
              "render_photo_like: size " << height << "x" << width << " is not in 1..4096 per side");
  Rng rng(seed * 0x9e3779b97f4a7c15ull + 0x70686f746full);
  const std::size_t n = static_cast<std::size_t>(height * width);
  // Large-scale structure: octaves of colour value noise, the period halving and the amplitude
  // shrinking by `gain` each time; the channels share most of it (natural colours are correlated).
  std::vector<double> acc(n * 3, 0.0);
  double amp = 1.0, total = 0.0;
  const double gain = rng.uniform(0.55, 0.7);
  for (std::int64_t period = std::max<std::int64_t>(2, std::max(height, width) / 2); period >= 2; period /= 2, amp *= gain) {
    const std::vector<float> v = value_noise(height, width, period, 3, rng);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t c = 0; c < 3; ++c) acc[i * 3 + c] += amp * (0.7 * v[i * 3] + 0.3 * v[i * 3 + c]);
    total += amp;
  }
  // Texture (foliage, fabric, gravel) over part of the picture: fine-grained noise at periods 2..9
  // where a smooth mask is on, at `texture` levels.
  const double cover = rng.uniform(0.4, 0.8), texture = rng.uniform(35.0, 60.0);
  const std::vector<float> mask = value_noise(height, width, std::max<std::int64_t>(2, std::max(height, width) / 4), 1, rng);
  std::vector<double> tex(n * 3, 0.0);
  for (const auto& [period, a] : {std::pair<std::int64_t, double>{2, 0.6}, {3, 0.8}, {5, 1.0}, {9, 0.8}}) {
    const std::vector<float> v = value_noise(height, width, period, 3, rng);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t c = 0; c < 3; ++c) tex[i * 3 + c] += a * (0.8 * v[i * 3] + 0.2 * v[i * 3 + c]);
  }
  double base[3];
  for (double& b : base) b = rng.uniform(100.0, 160.0);
  const double contrast = rng.uniform(70.0, 110.0) / total;
  Image img(height, width);
  for (std::size_t i = 0; i < n; ++i) {
    const double m = std::clamp(2.0 * mask[i] + cover, 0.0, 1.0) * texture;
    for (std::size_t c = 0; c < 3; ++c)
      img.pixels[i * 3 + c] = static_cast<std::uint8_t>(std::clamp(base[c] + contrast * acc[i * 3 + c] + m * tex[i * 3 + c], 0.0, 255.0));
  }
  // Objects: a few shapes with hard or soft (translucent) edges.
  const int shapes = 3 + static_cast<int>(rng.below(5));
  const double side = static_cast<double>(std::min(height, width));
  for (int s = 0; s < shapes; ++s) {
    const double cx = rng.uniform(0, double(width)), cy = rng.uniform(0, double(height));
    const double r = rng.uniform(0.05, 0.25) * side;
    const Rgb color = hsv(rng.uniform(0, 360), rng.uniform(0.1, 0.9), rng.uniform(0.15, 1.0));
    const double alpha = rng.uniform() < 0.5 ? 1.0 : rng.uniform(0.3, 0.8);
    switch (rng.below(3)) {
      case 0: fill_circle(img, cx, cy, r, color, alpha); break;
      case 1: fill_ellipse(img, cx, cy, r, r * rng.uniform(0.2, 0.8), rng.uniform(0, std::numbers::pi), color, alpha); break;
      default: draw_line(img, cx - r, cy - r * rng.uniform(-1, 1), cx + r, cy + r, rng.uniform(1.0, 6.0), color, alpha); break;
    }
  }
  // Sensor noise, Gaussian with a standard deviation of 3 to 5 levels.
  const double sigma = rng.uniform(3.0, 5.0);
  for (auto& p : img.pixels)
    p = static_cast<std::uint8_t>(std::clamp(static_cast<int>(std::lround(double(p) + sigma * rng.normal())), 0, 255));
  return img;
}

SyntheticClsSummary write_synthetic_cls(const fs::path& root, const SyntheticClsOptions& o) {
  check(o);
  SyntheticClsSummary sum;
  for (const bool val : {false, true}) {
    const int per_class = val ? o.val_images : o.images;
    for (int c = 0; c < o.classes; ++c) {
      const fs::path dir = root / (val ? "val" : "train") / synthetic_cls_class_name(o, c);
      std::error_code ec;
      fs::create_directories(dir, ec);
      HRNET_CHECK(!ec, IoError, "synthetic cls: cannot create " << dir.string() << ": " << ec.message());
      for (int i = 0; i < per_class; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "%06d.jpg", i);
        write_file_atomic(dir / name, synthetic_cls_file(o, val, c, i, render_synthetic_cls(o, val, c, i), sum));
        ++(val ? sum.val_images : sum.train_images);
      }
    }
  }
  return sum;
}

SyntheticClsSummary write_synthetic_cls_tfrecord(const fs::path& root, const SyntheticClsOptions& o, int train_shards,
                                                 int val_shards) {
  check(o);
  HRNET_CHECK(train_shards >= 1 && train_shards <= 1024 && val_shards >= 1 && val_shards <= 1024, ValueError,
              "synthetic cls: shard counts must be in 1..1024, got " << train_shards << " and " << val_shards);
  std::error_code ec;
  fs::create_directories(root, ec);
  HRNET_CHECK(!ec, IoError, "synthetic cls: cannot create " << root.string() << ": " << ec.message());
  SyntheticClsSummary sum;
  for (const bool val : {false, true}) {
    const int per_class = val ? o.val_images : o.images, shards = val ? val_shards : train_shards;
    // every (class, index) of the split in a seeded random order, cut into contiguous shards, as
    // build_imagenet_data.py shuffles its file list before sharding
    std::vector<std::pair<int, int>> order;
    for (int c = 0; c < o.classes; ++c)
      for (int i = 0; i < per_class; ++i) order.emplace_back(c, i);
    Rng shuffle(o.seed * 0x2545f4914f6cdd1dull + (val ? 0x77ull : 0x33ull));
    for (std::size_t k = order.size(); k > 1; --k) std::swap(order[k - 1], order[shuffle.below(k)]);
    const std::size_t n = order.size();
    for (int sh = 0; sh < shards; ++sh) {
      std::string shard_bytes;
      for (std::size_t k = n * static_cast<std::size_t>(sh) / static_cast<std::size_t>(shards),
                       end = n * static_cast<std::size_t>(sh + 1) / static_cast<std::size_t>(shards);
           k < end; ++k) {
        const auto [c, i] = order[k];
        const Image img = render_synthetic_cls(o, val, c, i);
        const std::vector<std::uint8_t> jpeg = synthetic_cls_file(o, val, c, i, img, sum);
        char file[64];
        std::snprintf(file, sizeof file, "%s_%06d.jpg", synthetic_cls_class_name(o, c).c_str(), i);
        io::Example ex;
        ex.features["image/encoded"] = std::vector<std::string>{std::string(jpeg.begin(), jpeg.end())};
        ex.features["image/height"] = std::vector<std::int64_t>{img.height};
        ex.features["image/width"] = std::vector<std::int64_t>{img.width};
        ex.features["image/colorspace"] = std::vector<std::string>{"RGB"};
        ex.features["image/channels"] = std::vector<std::int64_t>{3};
        ex.features["image/format"] = std::vector<std::string>{"JPEG"};
        ex.features["image/filename"] = std::vector<std::string>{file};
        ex.features["image/class/label"] = std::vector<std::int64_t>{c + 1};  // 1-based; 0 is background
        ex.features["image/class/synset"] = std::vector<std::string>{synthetic_cls_class_name(o, c)};
        ex.features["image/class/text"] = std::vector<std::string>{"synthetic class " + std::to_string(c)};
        // an object box on every other image (ImageNet has boxes for a part of its images)
        std::vector<float> x0, y0, x1, y1;
        if (i % 2 == 0) {
          Rng box(image_seed(o, val, c, i) ^ 0xb0b0b0b0ull);
          x0.push_back(static_cast<float>(box.uniform(0.0, 0.3)));
          y0.push_back(static_cast<float>(box.uniform(0.0, 0.3)));
          x1.push_back(static_cast<float>(box.uniform(0.7, 1.0)));
          y1.push_back(static_cast<float>(box.uniform(0.7, 1.0)));
        }
        ex.features["image/object/bbox/xmin"] = x0;
        ex.features["image/object/bbox/ymin"] = y0;
        ex.features["image/object/bbox/xmax"] = x1;
        ex.features["image/object/bbox/ymax"] = y1;
        ex.features["image/object/bbox/label"] = std::vector<std::int64_t>(x0.size(), c + 1);
        shard_bytes += io::frame_tfrecord(io::encode_example(ex));
        ++(val ? sum.val_images : sum.train_images);
      }
      char name[64];
      std::snprintf(name, sizeof name, "%s-%05d-of-%05d", val ? "validation" : "train", sh, shards);
      write_file_atomic(root / name, std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(shard_bytes.data()),
                                                                   shard_bytes.size()));
    }
  }
  return sum;
}

}  // namespace hrnet::data

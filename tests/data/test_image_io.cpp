// Image decoding/encoding: agreement with OpenCV (cv2_reference.py), round trips, every bad input.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <thread>

#include "hrnet/data/image.hpp"
#include "image_test_util.hpp"
#include "test_util.hpp"

using namespace hrnet;
using namespace hrnet::data;
using namespace hrnet::test_image;

namespace {

fs::path coco_sample_dir() { return fs::path(HRNET_SHARED_DATA_DIR) / "coco-sample" / "val2017"; }
fs::path fixture_dir() { return fs::path(HRNET_IMAGE_TEST_DIR) / "images"; }

std::vector<fs::path> coco_images() {
  std::vector<fs::path> out;
  if (fs::is_directory(coco_sample_dir()))
    for (const auto& e : fs::directory_iterator(coco_sample_dir()))
      if (e.path().extension() == ".jpg") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// A smooth picture with some texture: JPEG-friendly, every channel different.
Image test_picture(std::int64_t h, std::int64_t w, std::uint32_t seed = 1) {
  Image img(h, w);
  std::uint32_t s = seed;
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x) {
      s = s * 1664525u + 1013904223u;
      const int noise = int(s >> 28) - 8;
      img.at(y, x, 0) = std::uint8_t(std::clamp(int(127 + 100 * std::sin(0.11 * double(x) + 0.05 * double(y))) + noise, 0, 255));
      img.at(y, x, 1) = std::uint8_t(std::clamp(int(x * 255 / std::max<std::int64_t>(1, w - 1)) + noise, 0, 255));
      img.at(y, x, 2) = std::uint8_t(std::clamp(int(y * 255 / std::max<std::int64_t>(1, h - 1)) - noise, 0, 255));
    }
  return img;
}

// A picture with random pixels: every byte of every channel matters.
Image random_picture(std::int64_t h, std::int64_t w, std::uint32_t seed) {
  Image img(h, w);
  std::uint32_t s = seed;
  for (auto& p : img.pixels) {
    s = s * 1664525u + 1013904223u;
    p = std::uint8_t(s >> 24);
  }
  return img;
}

struct Diff {
  int max = 0;
  double mean = 0;
};
Diff diff(const Image& a, const Image& b) {
  REQUIRE(a.height == b.height);
  REQUIRE(a.width == b.width);
  REQUIRE(a.pixels.size() == b.pixels.size());
  Diff d;
  double sum = 0;
  for (std::size_t i = 0; i < a.pixels.size(); ++i) {
    const int e = std::abs(int(a.pixels[i]) - int(b.pixels[i]));
    d.max = std::max(d.max, e);
    sum += e;
  }
  d.mean = a.pixels.empty() ? 0 : sum / double(a.pixels.size());
  return d;
}

Image read_reference(const fs::path& p) {
  const auto b = read_bytes(p);
  REQUIRE(b.size() >= 8);
  std::uint32_t h = 0, w = 0;
  for (int k = 3; k >= 0; --k) {
    h = h << 8 | b[std::size_t(k)];
    w = w << 8 | b[std::size_t(4 + k)];
  }
  Image img(h, w);
  REQUIRE(b.size() == 8 + img.pixels.size());
  std::copy(b.begin() + 8, b.end(), img.pixels.begin());
  return img;
}

bool libjpeg_turbo() { return std::string(jpeg_backend()) == "libjpeg-turbo"; }

// Offset of the first byte after the SOS segment (the entropy-coded data).
std::size_t scan_data_offset(const std::vector<std::uint8_t>& j) {
  for (std::size_t i = 2; i + 3 < j.size(); ++i)
    if (j[i] == 0xFF && j[i + 1] == 0xDA) return i + 2 + (std::size_t(j[i + 2]) << 8 | j[i + 3]);
  FAIL("no SOS marker");
  return 0;
}

// Offset of the SOF0 (baseline frame header) marker.
std::size_t sof_offset(const std::vector<std::uint8_t>& j) {
  for (std::size_t i = 2; i + 1 < j.size(); ++i)
    if (j[i] == 0xFF && j[i + 1] == 0xC0) return i;
  FAIL("no SOF0 marker");
  return 0;
}

template <class F>
void check_image_error(F&& f, const std::string& phrase1, const std::string& phrase2) {
  try {
    f();
  } catch (const ImageError& e) {
    const std::string msg = e.what();
    INFO("message: " << msg);
    CHECK_THAT(msg, Catch::Matchers::Contains(phrase1));
    CHECK_THAT(msg, Catch::Matchers::Contains(phrase2));
    return;
  } catch (const std::exception& e) {
    FAIL("threw a different exception type: " << e.what());
  }
  FAIL("did not throw; expected an ImageError with '" << phrase1 << "' and '" << phrase2 << "'");
}

}  // namespace

TEST_CASE("image: decoding agrees with OpenCV (cv2.imread) on COCO images and other JPEG/PNG kinds", "[image]") {
  const auto images = coco_images();
  if (images.empty()) {
    WARN("skipped: the coco-sample images are missing under " << coco_sample_dir());
    return;
  }
  TempDir dir("cv2");
  std::string cmd = quote(python()) + " " + quote(std::string(HRNET_IMAGE_TEST_DIR) + "/cv2_reference.py") + " " +
                    quote((dir / "ref").string());
  for (const auto& p : images) {
    cmd += ' ';
    cmd += quote(p.string());
  }
  const RunResult r = run(cmd, dir);
  if (r.status == 77 || r.status == 127) {
    WARN("skipped: python3 with numpy and OpenCV is not available (" << r.out << r.err << ")");
    return;
  }
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  std::istringstream list(read_text(dir / "ref" / "list.txt"));
  int checked = 0;
  for (std::string name; std::getline(list, name);) {
    if (name.empty()) continue;
    const fs::path file = fs::is_regular_file(dir / "ref" / name) ? dir / "ref" / name : coco_sample_dir() / name;
    const Image ours = read_image(file);
    const Image ref = read_reference(dir / "ref" / (name + ".rgb"));
    const Diff d = diff(ours, ref);
    const bool png = file.extension() == ".png";
    INFO(name << " (" << ours.width << "x" << ours.height << "): max abs difference " << d.max << ", mean " << d.mean
              << ", JPEG backend " << jpeg_backend());
    if (png || libjpeg_turbo()) {
      CHECK(d.max == 0);  // same algorithms as OpenCV's libjpeg-turbo/libpng: bit-exact
    } else {
      CHECK(d.mean < 1.5);  // stb_image's IDCT and upsampling differ slightly
      CHECK(d.max <= 48);
    }
    ++checked;
  }
  CHECK(checked == int(images.size()) + 8);
}

TEST_CASE("image: the committed grayscale JPEG decodes to three equal channels", "[image]") {
  const Image g = read_image(fixture_dir() / "gray.jpg");
  REQUIRE(g.height == 8);
  REQUIRE(g.width == 16);
  int distinct = 0;
  for (std::int64_t y = 0; y < g.height; ++y)
    for (std::int64_t x = 0; x < g.width; ++x) {
      CHECK(g.at(y, x, 0) == g.at(y, x, 1));
      CHECK(g.at(y, x, 0) == g.at(y, x, 2));
      distinct += g.at(y, x, 0) != g.at(0, 0, 0);
    }
  CHECK(distinct > 0);  // a gradient, not a flat image
}

TEST_CASE("image: PNG round trip is exact for odd and one-pixel sizes", "[image]") {
  TempDir dir("png");
  for (auto [h, w] : {std::pair<int, int>{1, 1}, {1, 7}, {13, 1}, {37, 53}}) {
    const Image img = random_picture(h, w, std::uint32_t(h * 100 + w));
    const auto bytes = encode_png(img);
    CHECK(decode_image(bytes, "memory") == img);
    const fs::path f = dir / ("r_" + std::to_string(h) + "x" + std::to_string(w) + ".png");
    write_png(f, img);
    CHECK(read_bytes(f) == bytes);
    CHECK(read_image(f) == img);
  }
  // No temporary files are left behind.
  int files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path)) ++files;
  CHECK(files == 4);
}

TEST_CASE("image: JPEG round trip is close and deterministic", "[image]") {
  TempDir dir("jpeg");
  const Image img = test_picture(75, 101);
  const auto a = encode_jpeg(img, 95), b = encode_jpeg(img, 95);
  CHECK(a == b);
  const Image back = decode_image(a, "memory");
  const Diff d = diff(back, img);
  INFO("max " << d.max << " mean " << d.mean);
  CHECK(d.mean < 5.0);  // the picture carries +-8 of per-pixel noise, which JPEG smooths
  CHECK(d.max <= 40);
  const auto low = encode_jpeg(img, 30);
  CHECK(low.size() < a.size());
  write_jpeg(dir / "x.jpg", img, 95);
  CHECK(read_bytes(dir / "x.jpg") == a);
  CHECK(read_image(dir / "x.jpg") == back);
  test::check_throws<ValueError>([&] { encode_jpeg(img, 0); }, "quality 0");
  test::check_throws<ValueError>([&] { encode_jpeg(img, 101); }, "quality 101");
  test::check_throws<ValueError>([&] { encode_png(Image{}); }, "empty");
  Image broken = img;
  broken.pixels.pop_back();
  test::check_throws<ShapeError>([&] { encode_jpeg(broken, 90); }, "bytes");
}

TEST_CASE("image: the EXIF orientation tag is ignored as with IMREAD_IGNORE_ORIENTATION", "[image]") {
  const Image img = test_picture(24, 40);
  const auto plain = encode_jpeg(img, 90);
  // APP1 "Exif\0\0", little-endian TIFF with one IFD entry: Orientation (0x0112) = 6 (rotate 90 CW).
  const std::vector<std::uint8_t> exif{0xFF, 0xE1, 0x00, 0x22, 'E',  'x',  'i',  'f',  0,    0,    'I',  'I',
                                       0x2A, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x12, 0x01, 0x03, 0x00,
                                       0x01, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  std::vector<std::uint8_t> rotated(plain.begin(), plain.begin() + 2);
  rotated.insert(rotated.end(), exif.begin(), exif.end());
  rotated.insert(rotated.end(), plain.begin() + 2, plain.end());
  const Image a = decode_image(plain, "plain"), b = decode_image(rotated, "exif");
  CHECK(b.height == 24);
  CHECK(b.width == 40);
  CHECK(a == b);
}

TEST_CASE("image: missing or empty or non-image files give ImageError naming the file", "[image]") {
  TempDir dir("bad");
  check_image_error([&] { read_image(dir / "nope.jpg"); }, "not found", "nope.jpg");
  check_image_error([&] { read_image(dir.path); }, "directory", dir.path.string());
  if (fs::exists("/dev/zero")) check_image_error([&] { read_image("/dev/zero"); }, "not a regular file", "/dev/zero");
  write_bytes(dir / "empty.jpg", {});
  check_image_error([&] { read_image(dir / "empty.jpg"); }, "empty", "empty.jpg");
  const std::string text = "this is not an image\n";
  write_bytes(dir / "text.jpg", std::vector<std::uint8_t>(text.begin(), text.end()));
  check_image_error([&] { read_image(dir / "text.jpg"); }, "not a JPEG or PNG", "text.jpg");
  const std::string gif = "GIF89a\x01\x00\x01\x00";
  write_bytes(dir / "x.gif", std::vector<std::uint8_t>(gif.begin(), gif.end()));
  check_image_error([&] { read_image(dir / "x.gif"); }, "unsupported image format GIF", "x.gif");
  check_image_error([&] { decode_image(std::vector<std::uint8_t>{0xFF, 0xD8}, "two.jpg"); }, "two.jpg", "JPEG");
  // An ImageError is an IoError.
  CHECK_THROWS_AS(read_image(dir / "nope.jpg"), IoError);
}

TEST_CASE("image: truncated JPEG data is an error at every cut", "[image]") {
  const auto j = encode_jpeg(random_picture(48, 64, 7), 90);
  const std::size_t data = scan_data_offset(j);
  for (std::size_t cut : {std::size_t(3), std::size_t(20), data - 1, data + 10, (data + j.size()) / 2, j.size() - 2,
                          j.size() - 1}) {
    INFO("cut at " << cut << " of " << j.size());
    const std::vector<std::uint8_t> t(j.begin(), j.begin() + std::ptrdiff_t(cut));
    check_image_error([&] { decode_image(t, "cut.jpg"); }, "cut.jpg", "JPEG");
  }
}

TEST_CASE("image: corrupt JPEG data is an error and not a picture with grey blocks", "[image]") {
  const auto j = encode_jpeg(random_picture(48, 64, 8), 90);
  const std::size_t data = scan_data_offset(j);
  SECTION("an unexpected restart marker inside the scan") {
    auto c = j;
    const std::size_t mid = (data + j.size()) / 2;
    c.insert(c.begin() + std::ptrdiff_t(mid), {0xFF, 0xD3});
    check_image_error([&] { decode_image(c, "rst.jpg"); }, "rst.jpg", "corrupt");
  }
  SECTION("a scan overwritten with invalid Huffman codes") {
    auto c = j;
    for (std::size_t i = data + 8; i + 1 < data + 40; i += 2) {  // stuffed 0xFF bytes: runs of all-ones codes
      c[i] = 0xFF;
      c[i + 1] = 0x00;
    }
    check_image_error([&] { decode_image(c, "huff.jpg"); }, "huff.jpg", "corrupt");
  }
  SECTION("garbage instead of the marker segments") {
    auto c = j;
    for (std::size_t i = 2; i < 30; ++i) c[i] = std::uint8_t(0x11 * i);
    check_image_error([&] { decode_image(c, "hdr.jpg"); }, "hdr.jpg", "JPEG");
  }
}

TEST_CASE("image: absurd dimensions are rejected before decoding and CMYK JPEG decodes", "[image]") {
  // CMYK becomes RGB as Pillow converts it (bit-exactness: test_jpeg_region.cpp)
  const Image cmyk = read_image(fixture_dir() / "cmyk.jpg");
  REQUIRE(cmyk.height == 8);
  REQUIRE(cmyk.width == 16);

  const auto j = encode_jpeg(test_picture(16, 16), 90);
  const std::size_t sof = sof_offset(j);  // FF C0, length(2), precision, height(2), width(2)
  auto with_size = [&](int h, int w) {
    auto c = j;
    c[sof + 5] = std::uint8_t(h >> 8);
    c[sof + 6] = std::uint8_t(h & 255);
    c[sof + 7] = std::uint8_t(w >> 8);
    c[sof + 8] = std::uint8_t(w & 255);
    return c;
  };
  check_image_error([&] { decode_image(with_size(40000, 40000), "huge.jpg"); }, "huge.jpg", "exceeds the limit");
  check_image_error([&] { decode_image(with_size(16, 60000), "wide.jpg"); }, "wide.jpg", "exceeds the limit");
  check_image_error([&] { decode_image(with_size(0, 16), "zero.jpg"); }, "zero.jpg", "JPEG");

  const auto p = encode_png(test_picture(16, 16));  // IHDR: width at 16, height at 20 (big-endian)
  auto png_size = [&](std::uint32_t h, std::uint32_t w) {
    auto c = p;
    for (int k = 0; k < 4; ++k) {
      c[std::size_t(16 + k)] = std::uint8_t(w >> (24 - 8 * k));
      c[std::size_t(20 + k)] = std::uint8_t(h >> (24 - 8 * k));
    }
    return c;
  };
  check_image_error([&] { decode_image(png_size(100000, 16), "tall.png"); }, "tall.png", "exceeds the limit");
  check_image_error([&] { decode_image(png_size(0, 16), "zero.png"); }, "zero.png", "empty size");
  check_image_error([&] { decode_image(png_size(20000, 20000), "big.png"); }, "big.png", "exceeds the limit");
  CHECK_THROWS_AS(Image(-1, 4), ValueError);
  CHECK_THROWS_AS(Image(kMaxImageSide + 1, 1), ValueError);
}

TEST_CASE("image: truncated and corrupt PNG data is an error", "[image]") {
  const auto p = encode_png(random_picture(40, 50, 9));
  for (std::size_t cut : {std::size_t(10), std::size_t(30), p.size() / 2, p.size() - 20}) {
    INFO("cut at " << cut << " of " << p.size());
    const std::vector<std::uint8_t> t(p.begin(), p.begin() + std::ptrdiff_t(cut));
    check_image_error([&] { decode_image(t, "cut.png"); }, "cut.png", "PNG");
  }
  auto c = p;
  for (std::size_t i = 60; i < c.size() - 30; ++i) c[i] = std::uint8_t(0xA5 ^ i);  // scrambled deflate data
  check_image_error([&] { decode_image(c, "bad.png"); }, "bad.png", "PNG");
}

TEST_CASE("image: decoding is thread-safe (several threads with good and bad files)", "[image]") {
  std::vector<std::vector<std::uint8_t>> files;
  for (const auto& f : coco_images()) files.push_back(read_bytes(f));
  for (std::uint32_t s = 0; s < 3; ++s) {
    files.push_back(encode_jpeg(test_picture(90 + s, 120, s), 90));
    files.push_back(encode_png(random_picture(30, 40 + s, s)));
  }
  std::vector<Image> serial;
  for (const auto& f : files) serial.push_back(decode_image(f, "serial"));
  const auto good = files[0];
  const std::vector<std::uint8_t> truncated(good.begin(), good.begin() + std::ptrdiff_t(good.size() / 2));
  std::atomic<int> mismatches{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round)
        for (std::size_t i = 0; i < files.size(); ++i) {
          const std::size_t k = (i + std::size_t(t)) % files.size();
          if (!(decode_image(files[k], "thread") == serial[k])) ++mismatches;
          try {
            decode_image(truncated, "truncated");
          } catch (const ImageError&) {
            ++errors;
          }
        }
    });
  for (auto& th : threads) th.join();
  CHECK(mismatches == 0);
  CHECK(errors == int(4 * 3 * files.size()));
}

TEST_CASE("image: atomic writes report unwritable paths and leave no temporary file", "[image]") {
  TempDir dir("write");
  const Image img = test_picture(8, 8);
  test::check_throws<IoError>([&] { write_png(dir / "no_such_dir" / "a.png", img); }, "no_such_dir");
  write_jpeg(dir / "a.jpg", img);
  write_jpeg(dir / "a.jpg", test_picture(9, 9));  // replaces
  CHECK(read_image(dir / "a.jpg").height == 9);
  int files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path)) ++files;
  CHECK(files == 1);
  INFO("JPEG backend: " << jpeg_backend());
  CHECK((std::string(jpeg_backend()) == "libjpeg-turbo" || std::string(jpeg_backend()) == "libjpeg" ||
         std::string(jpeg_backend()) == "stb_image"));
}

// ---- hostile input (issue 18: the fuzzing probe) ---------------------------------------------

namespace {
struct PngChunk {
  std::string type;
  std::vector<std::uint8_t> data;
  std::uint32_t claimed = 0;  // the length field written (data.size() unless lying)
  bool lie = false;
};

std::uint32_t png_crc(const std::string& type, const std::vector<std::uint8_t>& data) {
  std::uint32_t c = 0xFFFFFFFFu;
  auto feed = [&](std::uint8_t b) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  };
  for (char ch : type) feed(std::uint8_t(ch));
  for (auto b : data) feed(b);
  return c ^ 0xFFFFFFFFu;
}

std::vector<PngChunk> png_chunks(const std::vector<std::uint8_t>& png) {
  std::vector<PngChunk> out;
  for (std::size_t pos = 8; pos + 12 <= png.size();) {
    const std::uint32_t len = std::uint32_t(png[pos]) << 24 | std::uint32_t(png[pos + 1]) << 16 |
                              std::uint32_t(png[pos + 2]) << 8 | png[pos + 3];
    PngChunk c;
    c.type.assign(png.begin() + std::ptrdiff_t(pos + 4), png.begin() + std::ptrdiff_t(pos + 8));
    c.data.assign(png.begin() + std::ptrdiff_t(pos + 8), png.begin() + std::ptrdiff_t(pos + 8 + len));
    c.claimed = len;
    out.push_back(c);
    pos += 12 + len;
  }
  return out;
}

// Writes the chunks; a lying chunk gets its `claimed` length and its data, and nothing after it.
std::vector<std::uint8_t> png_bytes(const std::vector<PngChunk>& chunks) {
  std::vector<std::uint8_t> b = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  for (const auto& c : chunks) {
    const std::uint32_t len = c.lie ? c.claimed : std::uint32_t(c.data.size());
    for (int s = 24; s >= 0; s -= 8) b.push_back(std::uint8_t(len >> s));
    b.insert(b.end(), c.type.begin(), c.type.end());
    b.insert(b.end(), c.data.begin(), c.data.end());
    if (c.lie) break;
    const std::uint32_t crc = png_crc(c.type, c.data);
    for (int s = 24; s >= 0; s -= 8) b.push_back(std::uint8_t(crc >> s));
  }
  return b;
}
}  // namespace

TEST_CASE("image: PNG chunk lengths are checked before stb sees them (I1, I2)", "[image]") {
  const Image one = random_picture(1, 1, 18);
  const auto png = encode_png(one);
  auto chunks = png_chunks(png);
  REQUIRE(chunks.size() == 3);
  REQUIRE(chunks[1].type == "IDAT");
  REQUIRE(png_bytes(chunks) == png);  // the helpers rebuild stb's file byte for byte

  // I2: a second IDAT claiming 0x7FFFF000 bytes made stb reserve 2 GiB before it found the file short
  auto lying = chunks;
  lying.insert(lying.begin() + 2, PngChunk{"IDAT", {1, 2, 3, 4}, 0x7FFFF000u, true});
  check_image_error([&] { decode_image(png_bytes(lying), "lie.png"); }, "lie.png",
                    "chunk 'IDAT' at offset " + std::to_string(png.size() - 12) + " claims 2147479552 bytes, but only 4 follow its header");
  // a length over the PNG limit of 2^31 - 1, on any chunk
  auto over = chunks;
  over.insert(over.begin() + 1, PngChunk{"tEXt", {}, 0x80000000u, true});
  check_image_error([&] { decode_image(png_bytes(over), "over.png"); }, "over.png",
                    "chunk 'tEXt' at offset 33 claims 2147483648 bytes, over the PNG limit of 2^31 - 1");
  // chunks that end at a chunk boundary without IEND, and a non-printable chunk type
  auto no_end = chunks;
  no_end.pop_back();
  check_image_error([&] { decode_image(png_bytes(no_end), "noend.png"); }, "noend.png", "there was no IEND chunk");
  auto odd = chunks;
  odd.insert(odd.begin() + 1, PngChunk{std::string("a\x01\x7f'", 4), {}, 99, true});
  check_image_error([&] { decode_image(png_bytes(odd), "odd.png"); }, "odd.png", "chunk 'a\\x01\\x7f\\x27' at offset 33 claims 99");

  // I1: a zero-length IDAT first made stb memcpy(NULL, src, 0); such chunks are legal and carry no data
  auto empty_first = chunks;
  empty_first.insert(empty_first.begin() + 1, PngChunk{"IDAT", {}, 0, false});
  empty_first.insert(empty_first.begin() + 3, PngChunk{"IDAT", {}, 0, false});
  const Image got = decode_image(png_bytes(empty_first), "empty_idat.png");
  CHECK(got.pixels == one.pixels);
  // and a multi-IDAT file still decodes (the IDAT split in two)
  const Image big = random_picture(30, 40, 3);
  auto split = png_chunks(encode_png(big));
  REQUIRE(split[1].type == "IDAT");
  PngChunk second{"IDAT", {split[1].data.begin() + 10, split[1].data.end()}, 0, false};
  split[1].data.resize(10);
  split.insert(split.begin() + 2, second);
  CHECK(decode_image(png_bytes(split), "split.png").pixels == big.pixels);
}

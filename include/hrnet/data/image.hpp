// 8-bit RGB images and their JPEG/PNG files.
//
// Decoding reproduces what the official HigherHRNet loader sees:
//   cv2.cvtColor(cv2.imread(file, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION), cv2.COLOR_BGR2RGB)
// i.e. EXIF orientation is ignored, grayscale becomes three equal channels, an alpha channel is dropped
// (not composited) and 16-bit PNG samples keep their high byte. JPEG goes through libjpeg-turbo when it
// was found at configure time, with OpenCV's settings (ISLOW IDCT, fancy upsampling), so pixels are
// bit-exact with cv2; otherwise through stb_image (close, not exact: see jpeg_backend()). PNG goes
// through stb_image / stb_image_write.
//
// CMYK and YCCK JPEGs (4 components; ImageNet has a few, written by Photoshop) are converted as Pillow
// converts them, which is what the classification reference sees (torchvision's ImageFolder does
// Image.open(f).convert("RGB")): libjpeg decodes to CMYK (YCCK -> CMYK by libjpeg), the samples are
// read as Adobe-inverted (Pillow's JPEG plugin assumes that for every 4-component JPEG), and
//   R = (255 - K) - MULDIV255(C, 255 - K)   (likewise G from M, B from Y; C, M, Y, K the ink amounts)
// with Pillow's rounding. With libjpeg-turbo this is bit-exact with Pillow (tests/data/test_jpeg_region.cpp
// compares against it). cv2 converts CMYK differently; the HigherHRNet reference never meets CMYK.
// With stb_image the formula is the same but the decoding is stb's (close, not exact), and a
// 4-component JPEG without an Adobe marker is rejected.
//
// Errors are ImageError (an IoError) naming the file: missing, empty, not a regular file or over 1 GiB;
// not a JPEG/PNG; truncated or corrupt data (libjpeg's corrupt-data warnings count as errors, unlike in
// OpenCV, which decodes such files with grey blocks); JPEGs with 2 or more than 4 components;
// dimensions over kMaxImageSide / kMaxImagePixels. Every function is thread-safe (no shared mutable
// state). Decoding only a region, at a reduced DCT scale: hrnet/data/jpeg_region.hpp.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "hrnet/core/error.hpp"

namespace hrnet::data {

class ImageError : public IoError {
 public:
  using IoError::IoError;
};

// Larger images are rejected before any pixel buffer is allocated (a crafted header must not make a
// loader thread allocate gigabytes).
inline constexpr std::int64_t kMaxImageSide = 1 << 15;
inline constexpr std::int64_t kMaxImagePixels = std::int64_t(1) << 27;

using Rgb = std::array<std::uint8_t, 3>;

// Interleaved HWC, 3 channels, RGB order, rows packed (stride = 3 * width).
struct Image {
  static constexpr std::int64_t channels = 3;
  std::int64_t height = 0, width = 0;
  std::vector<std::uint8_t> pixels;

  Image() = default;
  Image(std::int64_t h, std::int64_t w, Rgb fill = {0, 0, 0}) : height(h), width(w) {
    HRNET_CHECK(h >= 0 && w >= 0 && h <= kMaxImageSide && w <= kMaxImageSide && h * w <= kMaxImagePixels,
                ValueError, "Image: invalid size " << h << "x" << w);
    pixels.resize(std::size_t(h * w * channels));
    for (std::size_t i = 0; i < pixels.size(); i += 3) {
      pixels[i] = fill[0];
      pixels[i + 1] = fill[1];
      pixels[i + 2] = fill[2];
    }
  }

  bool empty() const { return height == 0 || width == 0; }
  bool contains(std::int64_t y, std::int64_t x) const { return y >= 0 && x >= 0 && y < height && x < width; }
  std::size_t offset(std::int64_t y, std::int64_t x) const { return std::size_t((y * width + x) * channels); }
  std::uint8_t& at(std::int64_t y, std::int64_t x, int c) { return pixels[offset(y, x) + std::size_t(c)]; }
  std::uint8_t at(std::int64_t y, std::int64_t x, int c) const { return pixels[offset(y, x) + std::size_t(c)]; }
  Rgb rgb(std::int64_t y, std::int64_t x) const {
    const std::size_t o = offset(y, x);
    return {pixels[o], pixels[o + 1], pixels[o + 2]};
  }
  void set(std::int64_t y, std::int64_t x, Rgb c) {
    const std::size_t o = offset(y, x);
    pixels[o] = c[0];
    pixels[o + 1] = c[1];
    pixels[o + 2] = c[2];
  }
  bool operator==(const Image&) const = default;
};

// Reads a JPEG or PNG file (format from the magic bytes, not the extension).
Image read_image(const std::filesystem::path& file);
// The bytes of an image file, with read_image's checks (regular file, at most 1 GiB), not decoded.
std::vector<std::uint8_t> read_image_file(const std::filesystem::path& file);
// Decodes an in-memory JPEG or PNG; `name_for_errors` names the source in error messages.
Image decode_image(std::span<const std::uint8_t> bytes, const std::string& name_for_errors);

// Encoders (deterministic: the same image gives the same bytes with a given build).
std::vector<std::uint8_t> encode_png(const Image& img);
std::vector<std::uint8_t> encode_jpeg(const Image& img, int quality = 95);  // quality 1..100, 4:2:0 chroma

// Writers: the file appears complete or not at all (temporary file in the same folder + rename).
void write_png(const std::filesystem::path& file, const Image& img);
void write_jpeg(const std::filesystem::path& file, const Image& img, int quality = 95);
// The same for arbitrary bytes (annotation files and the like); throws IoError.
void write_file_atomic(const std::filesystem::path& file, std::span<const std::uint8_t> bytes);

// "libjpeg-turbo" (bit-exact with OpenCV), "libjpeg" (another libjpeg) or "stb_image".
const char* jpeg_backend();
// Its version where known at build time: libjpeg-turbo's LIBJPEG_TURBO_VERSION ("2.1.5"), libjpeg's
// JPEG_LIB_VERSION ("62"); "" for stb_image.
const char* jpeg_backend_version();

}  // namespace hrnet::data

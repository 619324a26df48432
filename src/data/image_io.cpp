// JPEG/PNG decoding and encoding (see include/hrnet/data/image.hpp).
//
// Backends: HRNET_IMAGE_LIBJPEG (set by kernels/CMakeLists.txt when find_package(JPEG) succeeds) selects
// libjpeg for JPEG; without it stb_image decodes JPEG too. PNG is always stb_image/stb_image_write. The
// stb implementations are compiled here, static, so they cannot clash with a user's own copy.
#include "hrnet/data/image.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>

#include "libjpeg_decoder.hpp"  // empty without HRNET_IMAGE_LIBJPEG

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STBI_ONLY_PNG
#if !defined(HRNET_IMAGE_LIBJPEG)
#define STBI_ONLY_JPEG
#endif
#define STBI_MAX_DIMENSIONS (1 << 15)
// stb's asserts guard internal invariants; malformed files must give an error, never an abort.
#define STBI_ASSERT(x) ((void)0)
#include <stb/stb_image.h>
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

static_assert(STBI_MAX_DIMENSIONS == hrnet::data::kMaxImageSide);

namespace hrnet::data {
namespace {

enum class Format { Unknown, Jpeg, Png, Gif, Bmp, Tiff, Webp };

Format sniff(std::span<const std::uint8_t> b) {
  auto starts = [&](std::initializer_list<std::uint8_t> m) {
    if (b.size() < m.size()) return false;
    std::size_t i = 0;
    for (auto v : m)
      if (b[i++] != v) return false;
    return true;
  };
  if (starts({0xFF, 0xD8, 0xFF})) return Format::Jpeg;
  if (starts({0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A})) return Format::Png;
  if (starts({'G', 'I', 'F', '8'})) return Format::Gif;
  if (starts({'B', 'M'})) return Format::Bmp;
  if (starts({'I', 'I', 0x2A, 0x00}) || starts({'M', 'M', 0x00, 0x2A})) return Format::Tiff;
  if (b.size() >= 12 && starts({'R', 'I', 'F', 'F'}) && b[8] == 'W' && b[9] == 'E' && b[10] == 'B' && b[11] == 'P')
    return Format::Webp;
  return Format::Unknown;
}

const char* format_name(Format f) {
  switch (f) {
    case Format::Jpeg: return "JPEG";
    case Format::Png: return "PNG";
    case Format::Gif: return "GIF";
    case Format::Bmp: return "BMP";
    case Format::Tiff: return "TIFF";
    case Format::Webp: return "WebP";
    default: return "unknown";
  }
}

void check_dimensions(std::int64_t h, std::int64_t w, const std::string& name, const char* fmt) {
  HRNET_CHECK(h > 0 && w > 0, data::ImageError, name << ": " << fmt << " image has an empty size " << w << "x" << h);
  HRNET_CHECK(h <= kMaxImageSide && w <= kMaxImageSide && h * w <= kMaxImagePixels, data::ImageError,
              name << ": " << fmt << " image of " << w << "x" << h << " pixels exceeds the limit (" << kMaxImageSide
                   << " per side, " << kMaxImagePixels << " pixels)");
}

void check_image(const Image& img, const char* who) {
  HRNET_CHECK(img.height > 0 && img.width > 0, ValueError, who << ": cannot encode an empty " << img.width << "x"
                                                                << img.height << " image");
  HRNET_CHECK(img.height <= kMaxImageSide && img.width <= kMaxImageSide, ValueError,
              who << ": image of " << img.width << "x" << img.height << " exceeds " << kMaxImageSide << " per side");
  HRNET_CHECK(img.pixels.size() == std::size_t(img.height * img.width * 3), ShapeError,
              who << ": " << img.pixels.size() << " bytes is not " << img.height << "x" << img.width << "x3");
}

struct StbFree {
  void operator()(void* p) const { stbi_image_free(p); }
};
struct CFree {
  void operator()(void* p) const { std::free(p); }
};

std::string stb_reason() {
  const char* r = stbi_failure_reason();
  return r ? std::string(r) : std::string("unknown error");
}

// A chunk type for a message: the four bytes, non-printable ones as \xNN.
std::string png_chunk_type(const std::uint8_t* p) {
  std::string out;
  for (int i = 0; i < 4; ++i) {
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\'') {
      out += char(p[i]);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", p[i]);
      out += buf;
    }
  }
  return out;
}

Image decode_png(std::span<const std::uint8_t> b, const std::string& name) {
  HRNET_CHECK(b.size() < std::size_t(1) << 31, data::ImageError, name << ": PNG file of " << b.size() << " bytes is too large");
  // The size comes from IHDR (always the first chunk) so that the limit is checked by us, with our
  // message, before stb allocates anything.
  HRNET_CHECK(b.size() >= 24 && std::memcmp(b.data() + 12, "IHDR", 4) == 0, data::ImageError,
              name << ": corrupt PNG (no IHDR header chunk)");
  auto be32 = [&](std::size_t o) {
    return std::int64_t(b[o]) << 24 | std::int64_t(b[o + 1]) << 16 | std::int64_t(b[o + 2]) << 8 | std::int64_t(b[o + 3]);
  };
  check_dimensions(be32(20), be32(16), name, "PNG");
  // stb trusts chunk lengths: an IDAT that claims 2 GiB makes it reserve 2 GiB before it finds the
  // file too short, and a zero-length first IDAT makes it memcpy(NULL, src, 0). So the chunk list is
  // walked here first, every chunk up to IEND: each must fit in the file (and the PNG limit of
  // 2^31 - 1 bytes). Zero-length IDAT chunks carry no data; stb is given a copy without them.
  bool zero_idat = false;
  {
    std::size_t pos = 8;
    bool iend = false;
    while (!iend) {
      HRNET_CHECK(b.size() - pos >= 8, data::ImageError,
                  name << ": truncated PNG: " << (b.size() - pos) << " bytes at offset " << pos
                       << " cannot hold a chunk header (8 bytes), and there was no IEND chunk");
      const std::int64_t len = be32(pos);
      const std::string type = png_chunk_type(b.data() + pos + 4);
      HRNET_CHECK(len <= 0x7fffffff, data::ImageError,
                  name << ": corrupt PNG: chunk '" << type << "' at offset " << pos << " claims " << len
                       << " bytes, over the PNG limit of 2^31 - 1");
      HRNET_CHECK(std::uint64_t(len) + 4 <= b.size() - pos - 8, data::ImageError,
                  name << ": truncated or corrupt PNG: chunk '" << type << "' at offset " << pos << " claims " << len
                       << " bytes, but only " << (b.size() - pos - 8) << " follow its header (" << len
                       << " + a 4-byte CRC needed)");
      if (len == 0 && type == "IDAT") zero_idat = true;
      iend = type == "IEND";
      pos += 12 + std::size_t(len);
    }
  }
  std::vector<std::uint8_t> copy;
  if (zero_idat) {
    copy.assign(b.begin(), b.begin() + 8);
    for (std::size_t pos = 8;;) {
      const std::size_t len = std::size_t(be32(pos));
      const bool iend = std::memcmp(b.data() + pos + 4, "IEND", 4) == 0;
      if (!(len == 0 && std::memcmp(b.data() + pos + 4, "IDAT", 4) == 0))
        copy.insert(copy.end(), b.begin() + std::ptrdiff_t(pos), b.begin() + std::ptrdiff_t(pos + 12 + len));
      pos += 12 + len;
      if (iend) break;
    }
  }
  const auto* data = reinterpret_cast<const stbi_uc*>(zero_idat ? copy.data() : b.data());
  const int len = int(zero_idat ? copy.size() : b.size());
  int w = 0, h = 0, comp = 0;
  HRNET_CHECK(stbi_info_from_memory(data, len, &w, &h, &comp), data::ImageError,
              name << ": corrupt PNG header (" << stb_reason() << ")");
  std::unique_ptr<stbi_uc, StbFree> px(stbi_load_from_memory(data, len, &w, &h, &comp, 3));
  HRNET_CHECK(px != nullptr, data::ImageError, name << ": corrupt or truncated PNG data (" << stb_reason() << ")");
  Image img(h, w);
  std::memcpy(img.pixels.data(), px.get(), img.pixels.size());
  return img;
}

#if defined(HRNET_IMAGE_LIBJPEG)
using jpeg_detail::JpegDecoder;
using jpeg_detail::JpegErrorMgr;

Image decode_jpeg(std::span<const std::uint8_t> b, const std::string& name) {
  JpegDecoder d;
  if (!jpeg_detail::header_stage(d, b.data(), static_cast<unsigned long>(b.size()))) jpeg_detail::fail(d, name);
  const bool cmyk = jpeg_detail::is_cmyk(d);
  HRNET_CHECK(d.cinfo.num_components == 1 || d.cinfo.num_components == 3 || (d.cinfo.num_components == 4 && cmyk),
              data::ImageError, name << ": JPEG with " << d.cinfo.num_components << " components is not supported");
  check_dimensions(d.cinfo.image_height, d.cinfo.image_width, name, "JPEG");
  jpeg_detail::set_output(d, 8);
  if (!jpeg_detail::start_stage(d)) jpeg_detail::fail(d, name);
  HRNET_CHECK(d.cinfo.output_components == (cmyk ? 4 : 3) && d.cinfo.output_width == d.cinfo.image_width &&
                  d.cinfo.output_height == d.cinfo.image_height,
              data::ImageError, name << ": libjpeg produced an unexpected output format");
  Image img(d.cinfo.image_height, d.cinfo.image_width);
  if (!cmyk) {
    if (!jpeg_detail::read_rows_stage(d, img.pixels.data(), std::size_t(img.width) * 3, d.cinfo.output_height))
      jpeg_detail::fail(d, name);
  } else {
    std::vector<std::uint8_t> ink(std::size_t(img.height * img.width) * 4);
    if (!jpeg_detail::read_rows_stage(d, ink.data(), std::size_t(img.width) * 4, d.cinfo.output_height))
      jpeg_detail::fail(d, name);
    jpeg_detail::cmyk_inverted_to_rgb(ink.data(), img.pixels.data(), std::size_t(img.height * img.width));
  }
  if (!jpeg_detail::finish_stage(d)) jpeg_detail::fail(d, name);
  return img;
}

struct JpegEncoder {
  jpeg_compress_struct cinfo{};
  JpegErrorMgr err{};
  bool created = false;
  unsigned char* buffer = nullptr;  // jpeg_mem_dest's malloc'ed output, updated when it grows
  unsigned long size = 0;
  JpegEncoder() = default;
  JpegEncoder(const JpegEncoder&) = delete;
  JpegEncoder& operator=(const JpegEncoder&) = delete;
  ~JpegEncoder() {
    if (created) jpeg_destroy_compress(&cinfo);
    std::free(buffer);
  }
};

bool jpeg_compress_stage(JpegEncoder& e, const Image& img, int quality) {
  jpeg_detail::install(e.err, reinterpret_cast<j_common_ptr>(&e.cinfo));
  if (setjmp(e.err.jump)) return false;
  jpeg_create_compress(&e.cinfo);
  e.created = true;
  jpeg_mem_dest(&e.cinfo, &e.buffer, &e.size);
  e.cinfo.image_width = JDIMENSION(img.width);
  e.cinfo.image_height = JDIMENSION(img.height);
  e.cinfo.input_components = 3;
  e.cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&e.cinfo);
  jpeg_set_quality(&e.cinfo, quality, TRUE);
  e.cinfo.dct_method = JDCT_ISLOW;
  jpeg_start_compress(&e.cinfo, TRUE);
  const std::size_t stride = std::size_t(img.width) * 3;
  while (e.cinfo.next_scanline < e.cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(img.pixels.data() + std::size_t(e.cinfo.next_scanline) * stride);
    jpeg_write_scanlines(&e.cinfo, &row, 1);
  }
  jpeg_finish_compress(&e.cinfo);
  return true;
}

std::vector<std::uint8_t> encode_jpeg_impl(const Image& img, int quality) {
  JpegEncoder e;
  HRNET_CHECK(jpeg_compress_stage(e, img, quality), data::ImageError, "encode_jpeg: libjpeg failed: " << e.err.message);
  return std::vector<std::uint8_t>(e.buffer, e.buffer + e.size);
}
#else
// The frame header of a JPEG: what stb does not tell before decoding (components, CMYK).
struct JpegFrame {
  int height = 0, width = 0, components = 0;
  bool adobe = false;  // an APP14 "Adobe" segment (how stb tells CMYK from YCCK)
  bool has_eoi_after_scan = false;
};

// Walks the marker segments up to the first scan; then looks for an end-of-image marker after it.
JpegFrame scan_jpeg_markers(std::span<const std::uint8_t> b, const std::string& name) {
  JpegFrame f;
  std::size_t i = 2;
  bool frame = false;
  while (true) {
    while (i < b.size() && b[i] == 0xFF) ++i;  // fill bytes
    HRNET_CHECK(i + 2 < b.size(), data::ImageError, name << ": truncated JPEG (no start of scan)");
    const std::uint8_t m = b[i++];
    if (m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) continue;  // markers without a length
    HRNET_CHECK(m != 0xD9, data::ImageError, name << ": corrupt JPEG: end of image before any scan");
    const std::size_t len = std::size_t(b[i]) << 8 | b[i + 1];
    HRNET_CHECK(len >= 2 && i + len <= b.size(), data::ImageError, name << ": truncated or corrupt JPEG marker segment");
    const bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (sof) {
      HRNET_CHECK(len >= 8, data::ImageError, name << ": corrupt JPEG frame header");
      f.height = int(b[i + 3]) << 8 | b[i + 4];
      f.width = int(b[i + 5]) << 8 | b[i + 6];
      f.components = b[i + 7];
      frame = true;
    }
    if (m == 0xEE && len >= 7 && std::memcmp(b.data() + i + 2, "Adobe", 5) == 0) f.adobe = true;
    if (m == 0xDA) {
      HRNET_CHECK(frame, data::ImageError, name << ": corrupt JPEG: scan before the frame header");
      for (std::size_t j = i + len; j + 1 < b.size(); ++j)
        if (b[j] == 0xFF && b[j + 1] == 0xD9) {
          f.has_eoi_after_scan = true;
          break;
        }
      return f;
    }
    i += len;
  }
}

Image decode_jpeg(std::span<const std::uint8_t> b, const std::string& name) {
  const JpegFrame f = scan_jpeg_markers(b, name);
  // stb converts Adobe CMYK/YCCK itself: R = round(C * K / 255) on the stored (inverted) samples,
  // which equals Pillow's K - round((255 - C) * K / 255) (a * b / 255 is never a half-integer); its
  // IDCT and upsampling are not libjpeg's, though. Without the Adobe marker stb would read the four
  // channels as YCbCr, so that case is refused.
  HRNET_CHECK(f.components != 4 || f.adobe, data::ImageError,
              name << ": 4-component JPEG without an Adobe marker is not supported by the stb_image backend");
  HRNET_CHECK(f.components == 1 || f.components == 3 || f.components == 4, data::ImageError,
              name << ": JPEG with " << f.components << " components is not supported");
  check_dimensions(f.height, f.width, name, "JPEG");
  // stb fills missing data silently; a stream cut short has lost its end-of-image marker.
  HRNET_CHECK(f.has_eoi_after_scan, data::ImageError, name << ": truncated JPEG (no end-of-image marker)");
  HRNET_CHECK(b.size() < std::size_t(1) << 31, data::ImageError, name << ": JPEG file of " << b.size() << " bytes is too large");
  int w = 0, h = 0, comp = 0;
  std::unique_ptr<stbi_uc, StbFree> px(
      stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(b.data()), int(b.size()), &w, &h, &comp, 3));
  HRNET_CHECK(px != nullptr, data::ImageError, name << ": corrupt or truncated JPEG (stb_image: " << stb_reason() << ")");
  HRNET_CHECK(h == f.height && w == f.width, data::ImageError, name << ": corrupt JPEG (inconsistent frame size)");
  Image img(h, w);
  std::memcpy(img.pixels.data(), px.get(), img.pixels.size());
  return img;
}

void append_bytes(void* ctx, void* data, int size) {
  auto* out = static_cast<std::vector<std::uint8_t>*>(ctx);
  const auto* p = static_cast<const std::uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

std::vector<std::uint8_t> encode_jpeg_impl(const Image& img, int quality) {
  std::vector<std::uint8_t> out;
  HRNET_CHECK(stbi_write_jpg_to_func(append_bytes, &out, int(img.width), int(img.height), 3, img.pixels.data(), quality),
              data::ImageError, "encode_jpeg: stb_image_write failed");
  return out;
}
#endif

std::vector<std::uint8_t> read_all(const std::filesystem::path& file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto st = fs::status(file, ec);
  HRNET_CHECK(fs::exists(st), data::ImageError, "image file not found: " << file);
  HRNET_CHECK(!fs::is_directory(st), data::ImageError, "image path is a directory, not a file: " << file);
  // Devices and pipes could be endless (/dev/zero); real image files are regular and bounded.
  HRNET_CHECK(fs::is_regular_file(st), data::ImageError, "image path is not a regular file: " << file);
  constexpr std::uintmax_t max_bytes = std::uintmax_t(1) << 30;
  const std::uintmax_t size = fs::file_size(file, ec);
  HRNET_CHECK(!ec && size <= max_bytes, data::ImageError,
              "image file " << file << " is too large (" << size << " bytes, limit " << max_bytes << ")");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(file.c_str(), "rb"), &std::fclose);
  HRNET_CHECK(f != nullptr, data::ImageError, "cannot open image file " << file << ": " << std::strerror(errno));
  std::vector<std::uint8_t> data;
  data.reserve(std::size_t(size));
  std::uint8_t chunk[1 << 16];
  while (data.size() <= max_bytes) {
    const std::size_t n = std::fread(chunk, 1, sizeof chunk, f.get());
    data.insert(data.end(), chunk, chunk + n);
    if (n < sizeof chunk) break;
  }
  HRNET_CHECK(data.size() <= max_bytes, data::ImageError, "image file " << file << " grew past " << max_bytes << " bytes");
  HRNET_CHECK(!std::ferror(f.get()), data::ImageError, "error reading image file " << file);
  return data;
}

}  // namespace

Image decode_image(std::span<const std::uint8_t> bytes, const std::string& name) {
  HRNET_CHECK(!bytes.empty(), data::ImageError, name << ": empty image file");
  const Format f = sniff(bytes);
  switch (f) {
    case Format::Jpeg: return decode_jpeg(bytes, name);
    case Format::Png: return decode_png(bytes, name);
    case Format::Unknown:
      HRNET_THROW(data::ImageError, name << ": not a JPEG or PNG image (unrecognised leading bytes)");
    default:
      HRNET_THROW(data::ImageError, name << ": unsupported image format " << format_name(f) << " (only JPEG and PNG)");
  }
}

Image read_image(const std::filesystem::path& file) {
  const std::vector<std::uint8_t> data = read_all(file);
  return decode_image(data, file.string());
}

std::vector<std::uint8_t> read_image_file(const std::filesystem::path& file) { return read_all(file); }

std::vector<std::uint8_t> encode_png(const Image& img) {
  check_image(img, "encode_png");
  int len = 0;
  std::unique_ptr<unsigned char, CFree> png(
      stbi_write_png_to_mem(img.pixels.data(), int(img.width * 3), int(img.width), int(img.height), 3, &len));
  HRNET_CHECK(png != nullptr && len > 0, data::ImageError, "encode_png: stb_image_write failed");
  return std::vector<std::uint8_t>(png.get(), png.get() + len);
}

std::vector<std::uint8_t> encode_jpeg(const Image& img, int quality) {
  check_image(img, "encode_jpeg");
  HRNET_CHECK(quality >= 1 && quality <= 100, ValueError, "encode_jpeg: quality " << quality << " is not in 1..100");
  return encode_jpeg_impl(img, quality);
}

void write_file_atomic(const std::filesystem::path& file, std::span<const std::uint8_t> bytes) {
  namespace fs = std::filesystem;
  static std::atomic<unsigned long> counter{0};
  const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  HRNET_CHECK(file.has_filename(), IoError, "cannot write " << file << ": not a file name");
  const fs::path tmp =
      dir / (file.filename().string() + ".tmp" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(tmp.c_str(), "wb"), &std::fclose);
    HRNET_CHECK(f != nullptr, IoError, "cannot create " << tmp << " (to write " << file << "): " << std::strerror(errno));
    const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f.get()) == bytes.size() && std::fflush(f.get()) == 0;
    const int err = errno;
    if (!ok) {
      f.reset();
      std::error_code ec;
      fs::remove(tmp, ec);
      HRNET_THROW(IoError, "cannot write " << file << ": " << std::strerror(err));
    }
    if (std::fclose(f.release()) != 0) {
      const int cerr = errno;
      std::error_code ec;
      fs::remove(tmp, ec);
      HRNET_THROW(IoError, "cannot write " << file << ": " << std::strerror(cerr));
    }
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) {
    std::error_code ec2;
    fs::remove(tmp, ec2);
    HRNET_THROW(IoError, "cannot move " << tmp << " to " << file << ": " << ec.message());
  }
}

void write_png(const std::filesystem::path& file, const Image& img) {
  const auto bytes = encode_png(img);
  write_file_atomic(file, bytes);
}

void write_jpeg(const std::filesystem::path& file, const Image& img, int quality) {
  const auto bytes = encode_jpeg(img, quality);
  write_file_atomic(file, bytes);
}

const char* jpeg_backend() {
#if defined(HRNET_IMAGE_LIBJPEG) && defined(LIBJPEG_TURBO_VERSION)
  return "libjpeg-turbo";
#elif defined(HRNET_IMAGE_LIBJPEG)
  return "libjpeg";
#else
  return "stb_image";
#endif
}

#define HRNET_STRINGIFY_(x) #x
#define HRNET_STRINGIFY(x) HRNET_STRINGIFY_(x)
const char* jpeg_backend_version() {
#if defined(HRNET_IMAGE_LIBJPEG) && defined(LIBJPEG_TURBO_VERSION)
  return HRNET_STRINGIFY(LIBJPEG_TURBO_VERSION);
#elif defined(HRNET_IMAGE_LIBJPEG)
  return HRNET_STRINGIFY(JPEG_LIB_VERSION);
#else
  return "";
#endif
}

}  // namespace hrnet::data

// Header probe and DCT-scaled region decoding (see hrnet/data/jpeg_region.hpp).
#include "hrnet/data/jpeg_region.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "libjpeg_decoder.hpp"  // empty without HRNET_IMAGE_LIBJPEG

namespace hrnet::data {
namespace {

bool starts_with(std::span<const std::uint8_t> b, std::initializer_list<std::uint8_t> m) {
  if (b.size() < m.size()) return false;
  std::size_t i = 0;
  for (const auto v : m)
    if (b[i++] != v) return false;
  return true;
}

void check_size(std::int64_t h, std::int64_t w, const std::string& name, const char* fmt) {
  HRNET_CHECK(h > 0 && w > 0, data::ImageError, name << ": " << fmt << " image has an empty size " << w << "x" << h);
  HRNET_CHECK(h <= kMaxImageSide && w <= kMaxImageSide && h * w <= kMaxImagePixels, data::ImageError,
              name << ": " << fmt << " image of " << w << "x" << h << " pixels exceeds the limit (" << kMaxImageSide
                   << " per side, " << kMaxImagePixels << " pixels)");
}

// Walks the JPEG marker segments up to the frame header (SOFn).
ImageInfo probe_jpeg(std::span<const std::uint8_t> b, const std::string& name) {
  std::size_t i = 2;
  while (true) {
    HRNET_CHECK(i < b.size() && b[i] == 0xFF, data::ImageError,
                name << ": corrupt or truncated JPEG header (no marker at byte " << i << " before the frame header)");
    while (i < b.size() && b[i] == 0xFF) ++i;  // a marker, possibly after fill bytes
    HRNET_CHECK(i < b.size(), data::ImageError, name << ": truncated JPEG header (no frame header)");
    const std::uint8_t m = b[i++];
    if (m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) continue;  // markers without a length
    HRNET_CHECK(m != 0xD9 && m != 0xDA, data::ImageError,
                name << ": corrupt JPEG: " << (m == 0xD9 ? "end of image" : "scan") << " before the frame header");
    HRNET_CHECK(i + 2 <= b.size(), data::ImageError, name << ": truncated JPEG header (marker segment length)");
    const std::size_t len = std::size_t(b[i]) << 8 | b[i + 1];
    HRNET_CHECK(len >= 2 && i + len <= b.size(), data::ImageError,
                name << ": truncated or corrupt JPEG header (a marker segment of " << len << " bytes at byte " << i - 2
                     << " of " << b.size() << ")");
    const bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (sof) {
      HRNET_CHECK(len >= 8, data::ImageError, name << ": corrupt JPEG frame header (" << len << " bytes)");
      ImageInfo info;
      info.jpeg = true;
      info.height = std::int64_t(b[i + 3]) << 8 | b[i + 4];
      info.width = std::int64_t(b[i + 5]) << 8 | b[i + 6];
      info.components = b[i + 7];
      info.progressive = m == 0xC2 || m == 0xC6 || m == 0xCA || m == 0xCE;
      HRNET_CHECK(len >= 8 + 3 * std::size_t(info.components), data::ImageError,
                  name << ": corrupt JPEG frame header (" << info.components << " components in " << len << " bytes)");
      HRNET_CHECK(info.components == 1 || info.components == 3 || info.components == 4, data::ImageError,
                  name << ": JPEG with " << info.components << " components is not supported");
      check_size(info.height, info.width, name, "JPEG");
      return info;
    }
    i += len;
  }
}

ImageInfo probe_png(std::span<const std::uint8_t> b, const std::string& name) {
  // signature (8), IHDR chunk: length (4), "IHDR", width (4), height (4), depth, colour type, ..., CRC
  HRNET_CHECK(b.size() >= 33 && std::memcmp(b.data() + 12, "IHDR", 4) == 0, data::ImageError,
              name << ": corrupt or truncated PNG (no IHDR header chunk)");
  auto be32 = [&](std::size_t o) {
    return std::int64_t(b[o]) << 24 | std::int64_t(b[o + 1]) << 16 | std::int64_t(b[o + 2]) << 8 | std::int64_t(b[o + 3]);
  };
  ImageInfo info;
  info.width = be32(16);
  info.height = be32(20);
  const int type = b[25];
  HRNET_CHECK(type == 0 || type == 2 || type == 3 || type == 4 || type == 6, data::ImageError,
              name << ": corrupt PNG (colour type " << type << ")");
  info.components = type == 0 ? 1 : type == 4 ? 2 : type == 6 ? 4 : 3;  // palette: RGB
  check_size(info.height, info.width, name, "PNG");
  return info;
}

void check_region(const ImageInfo& info, const CropBox& r, const std::string& name) {
  HRNET_CHECK(r.height > 0 && r.width > 0 && r.top >= 0 && r.left >= 0 && r.height <= info.height - r.top &&
                  r.width <= info.width - r.left,
              data::ImageError,
              name << ": region " << r.width << "x" << r.height << " at (" << r.left << ", " << r.top
                   << ") (x, y) is empty or not inside the " << info.width << "x" << info.height << " image");
}

// Rows and columns of the scaled image to decode: the region at scale M/8 rounded out, widened by the
// context, clamped to [0, size).
struct Span1 {
  std::int64_t begin, end;
};
Span1 scaled_span(std::int64_t start, std::int64_t length, int m, std::int64_t context, std::int64_t scaled_size) {
  const std::int64_t b = start * m / 8;                      // floor(start * M / 8), start >= 0
  const std::int64_t e = ((start + length) * m + 7) / 8;     // ceil((start + length) * M / 8)
  return {std::max<std::int64_t>(0, b - context), std::min(scaled_size, e + context)};
}

DecodedRegion copy_region(const Image& full, const ImageInfo& info, const CropBox& r, std::int64_t context,
                          const std::string& name) {
  HRNET_CHECK(full.height == info.height && full.width == info.width, data::ImageError,
              name << ": corrupt image (decoded " << full.width << "x" << full.height << ", the header says " << info.width
                   << "x" << info.height << ")");
  DecodedRegion d;
  d.scale_num = 8;
  d.scaled_height = full.height;
  d.scaled_width = full.width;
  const Span1 ys = scaled_span(r.top, r.height, 8, context, full.height);
  const Span1 xs = scaled_span(r.left, r.width, 8, context, full.width);
  d.y0 = ys.begin;
  d.x0 = xs.begin;
  d.pixels = Image(ys.end - ys.begin, xs.end - xs.begin);
  for (std::int64_t y = 0; y < d.pixels.height; ++y)
    std::memcpy(d.pixels.pixels.data() + d.pixels.offset(y, 0), full.pixels.data() + full.offset(ys.begin + y, xs.begin),
                std::size_t(d.pixels.width) * 3);
  d.top = double(r.top - d.y0);
  d.left = double(r.left - d.x0);
  d.height = double(r.height);
  d.width = double(r.width);
  return d;
}

#if defined(HRNET_IMAGE_LIBJPEG)
// True when an end-of-image marker follows the start of the scan data. Inside entropy-coded data a
// 0xFF byte is always followed by 0x00 (stuffing) or a restart marker, so FF D9 there is the real end
// of the image; a file cut short has none. Complete files end with it, so the search is short.
bool has_eoi_after(std::span<const std::uint8_t> b, std::size_t scan_start) {
  for (std::size_t i = b.size(); i >= scan_start + 2; --i)
    if (b[i - 2] == 0xFF && b[i - 1] == 0xD9) return true;
  return false;
}

DecodedRegion decode_jpeg_region(std::span<const std::uint8_t> b, const std::string& name, const ImageInfo& info,
                                 const CropBox& r, const RegionDecodeOptions& o) {
  using namespace jpeg_detail;
  JpegDecoder d;
  if (!header_stage(d, b.data(), static_cast<unsigned long>(b.size()))) fail(d, name);
  const std::size_t scan_start = static_cast<std::size_t>(d.cinfo.src->next_input_byte - b.data());
  const bool cmyk = is_cmyk(d);
  HRNET_CHECK(d.cinfo.num_components == 1 || d.cinfo.num_components == 3 || (d.cinfo.num_components == 4 && cmyk),
              data::ImageError, name << ": JPEG with " << d.cinfo.num_components << " components is not supported");
  HRNET_CHECK(std::int64_t(d.cinfo.image_height) == info.height && std::int64_t(d.cinfo.image_width) == info.width,
              data::ImageError,
              name << ": corrupt JPEG (libjpeg reads a " << d.cinfo.image_width << "x" << d.cinfo.image_height
                   << " frame, the first frame header says " << info.width << "x" << info.height << ")");
  const int m = o.scale_num;
  set_output(d, m);
  if (!start_stage(d)) fail(d, name);
  const int channels = cmyk ? 4 : 3;
  const std::int64_t hs = (info.height * m + 7) / 8, ws = (info.width * m + 7) / 8;
  HRNET_CHECK(d.cinfo.output_components == channels && std::int64_t(d.cinfo.output_height) == hs &&
                  std::int64_t(d.cinfo.output_width) == ws,
              data::ImageError,
              name << ": libjpeg produced an unexpected output format (" << d.cinfo.output_width << "x"
                   << d.cinfo.output_height << "x" << d.cinfo.output_components << " at scale " << m << "/8, expected "
                   << ws << "x" << hs << "x" << channels << ")");
  const Span1 ys = scaled_span(r.top, r.height, m, o.context, hs);
  const Span1 xs = scaled_span(r.left, r.width, m, o.context, ws);
  // Columns: libjpeg moves the left edge down to an iMCU boundary. One more column on each side keeps
  // the wanted columns away from the crop's edges, where fancy upsampling would replicate the edge
  // chroma sample instead of reading its neighbour (so they match a full decode).
  JDIMENSION xoff = JDIMENSION(xs.begin > 0 ? xs.begin - 1 : 0);
  JDIMENSION cw = JDIMENSION(std::min(ws, xs.end + 1)) - xoff;
  if (cw < JDIMENSION(ws) && !crop_stage(d, &xoff, &cw)) fail(d, name);
  if (cw == JDIMENSION(ws)) xoff = 0;
  HRNET_CHECK(std::int64_t(xoff) <= xs.begin && std::int64_t(xoff + cw) >= xs.end && d.cinfo.output_width == cw,
              data::ImageError, name << ": libjpeg cropped columns " << xoff << ".." << xoff + cw << ", not around " << xs.begin
                               << ".." << xs.end);
  if (!skip_stage(d, JDIMENSION(ys.begin))) fail(d, name);
  const std::int64_t rows = ys.end - ys.begin;
  const std::size_t stride = std::size_t(cw) * std::size_t(channels);
  std::vector<std::uint8_t> buf(std::size_t(rows) * stride);
  if (!read_rows_stage(d, buf.data(), stride, JDIMENSION(rows))) fail(d, name);
  if (ys.end < hs) {
    // Stopped early: libjpeg has not seen the end of the data.
    HRNET_CHECK(has_eoi_after(b, scan_start), data::ImageError,
                name << ": truncated JPEG (no end-of-image marker after the scan data)");
  } else if (!finish_stage(d)) {
    fail(d, name);
  }

  DecodedRegion out;
  out.scale_num = m;
  out.scaled_height = hs;
  out.scaled_width = ws;
  out.y0 = ys.begin;
  out.x0 = xs.begin;
  out.pixels = Image(rows, xs.end - xs.begin);
  const std::size_t skip = std::size_t(xs.begin - std::int64_t(xoff)) * std::size_t(channels);
  for (std::int64_t y = 0; y < rows; ++y) {
    const std::uint8_t* src = buf.data() + std::size_t(y) * stride + skip;
    std::uint8_t* dst = out.pixels.pixels.data() + out.pixels.offset(y, 0);
    if (cmyk) cmyk_inverted_to_rgb(src, dst, std::size_t(out.pixels.width));
    else std::memcpy(dst, src, std::size_t(out.pixels.width) * 3);
  }
  out.top = double(r.top) * m / 8.0 - double(out.y0);
  out.left = double(r.left) * m / 8.0 - double(out.x0);
  out.height = double(r.height) * m / 8.0;
  out.width = double(r.width) * m / 8.0;
  return out;
}
#endif

}  // namespace

ImageInfo probe_image(std::span<const std::uint8_t> bytes, const std::string& name) {
  HRNET_CHECK(!bytes.empty(), data::ImageError, name << ": empty image file");
  if (starts_with(bytes, {0xFF, 0xD8, 0xFF})) return probe_jpeg(bytes, name);
  if (starts_with(bytes, {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A})) return probe_png(bytes, name);
  HRNET_THROW(data::ImageError, name << ": not a JPEG or PNG image (unrecognised leading bytes)");
}

bool decodes_scaled(const ImageInfo& info) {
#if defined(HRNET_IMAGE_LIBJPEG)
  return info.jpeg;
#else
  (void)info;
  return false;
#endif
}

int smallest_jpeg_scale(double region_h, double region_w, std::int64_t cover_h, std::int64_t cover_w) {
  HRNET_CHECK(region_h > 0 && region_w > 0 && cover_h > 0 && cover_w > 0, ValueError,
              "smallest_jpeg_scale: invalid sizes " << region_h << "x" << region_w << " to cover " << cover_h << "x" << cover_w);
  for (int m = 1; m < 8; ++m)
    if (region_h * m >= 8.0 * double(cover_h) && region_w * m >= 8.0 * double(cover_w)) return m;
  return 8;
}

int fast_jpeg_scale(double region_h, double region_w, std::int64_t cover_h, std::int64_t cover_w) {
  const int m = smallest_jpeg_scale(region_h, region_w, cover_h, cover_w);
  return m >= 5 ? 8 : m;
}

DecodedRegion decode_region(std::span<const std::uint8_t> bytes, const std::string& name, const CropBox& region,
                            const RegionDecodeOptions& o) {
  HRNET_CHECK(o.scale_num >= 1 && o.scale_num <= 8, data::ImageError,
              name << ": JPEG scale " << o.scale_num << "/8 is not one of 1/8 .. 8/8");
  HRNET_CHECK(o.context >= 0 && o.context <= kMaxImageSide, data::ImageError,
              name << ": region context " << o.context << " is not in 0.." << kMaxImageSide);
  const ImageInfo info = probe_image(bytes, name);
  check_region(info, region, name);
#if defined(HRNET_IMAGE_LIBJPEG)
  if (decodes_scaled(info)) return decode_jpeg_region(bytes, name, info, region, o);
#endif
  return copy_region(decode_image(bytes, name), info, region, o.context, name);
}

}  // namespace hrnet::data

// Reading less of an image: the size from the headers alone, and the decoding of one region at a
// reduced JPEG DCT scale.
//
// libjpeg(-turbo) can run its inverse DCT at M/8 of the full resolution (M = 1..8: an 8x8 block of
// coefficients becomes an MxM block of pixels; scale_num = M, scale_denom = 8); at 1/8 .. 4/8 that
// costs less than decoding at full size (not at 5/8 .. 7/8: see fast_jpeg_scale). The scaled image has ceil(H * M / 8) x ceil(W * M / 8)
// pixels, and full-resolution coordinate y lies at y * M / 8 in it (a pixel edge maps to a pixel
// edge). decode_region decodes only the scaled rows and columns a region needs: columns through
// jpeg_crop_scanline (libjpeg then inverse-transforms only the iMCU columns that hold them), rows by
// jpeg_skip_scanlines above the region and by stopping after its last row. The entropy-coded data
// must still be read up to the region's last row (and, for a progressive JPEG, completely), so the
// saving is in the IDCT, upsampling and colour conversion.
//
// What is not read is not checked: corrupt entropy-coded data below the region goes unnoticed,
// unlike with decode_image (rows above it and columns beside it are still Huffman-decoded, and their
// errors count). A file cut short is still an error: when decoding stops early, the data after the
// start of the scan must contain an end-of-image marker (FF D9), as every complete JPEG does.
//
// PNG, and JPEG with the stb_image backend: full decode (decode_image) and a copy of the region;
// scale_num is then 8. Grayscale and CMYK/YCCK JPEGs become RGB as decode_image makes them.
//
// Errors are ImageError naming the source: everything decode_image rejects, a region that is empty or
// not inside the image, a scale outside 1..8, a negative context. Thread-safe (no shared state).
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "hrnet/data/cls_transforms.hpp"
#include "hrnet/data/image.hpp"

namespace hrnet::data {

// What the headers tell (nothing is decoded).
struct ImageInfo {
  std::int64_t height = 0, width = 0;
  bool jpeg = false;         // else PNG
  int components = 0;        // JPEG: 1 (grayscale), 3 (YCbCr or RGB), 4 (CMYK or YCCK); PNG: 1..4 channels
  bool progressive = false;  // JPEG with progressive (multi-scan) coding: decoding reads the whole file
};

// Reads the JPEG frame header (SOFn) or the PNG IHDR chunk. Errors (ImageError naming `name`): empty
// data, neither JPEG nor PNG, headers cut short or malformed, a JPEG with other than 1, 3 or 4
// components, a size that is zero or over kMaxImageSide / kMaxImagePixels.
ImageInfo probe_image(std::span<const std::uint8_t> bytes, const std::string& name);

// The smallest M in 1..8 with region_h * M / 8 >= cover_h and region_w * M / 8 >= cover_w: the
// scale at which a region still has at least cover_h x cover_w pixels (8 when even full resolution
// has fewer, i.e. when the region is upsampled).
int smallest_jpeg_scale(double region_h, double region_w, std::int64_t cover_h, std::int64_t cover_w);

// The covering scale that decodes fastest: smallest_jpeg_scale, except that 5, 6 and 7 become 8.
// libjpeg-turbo has SIMD inverse DCTs only for 8x8, 4x4, 2x2 and 1x1 output blocks; the 5x5 .. 7x7
// ones run in plain C, and so do the 10x10 .. 14x14 ones it uses for 4:2:0 chroma at those scales
// (to spare the upsampling), which makes a decode at 5/8 .. 7/8 slower than at full size. Measured on
// 500x375 quality-90 JPEGs (libjpeg-turbo 2.1.5, AVX2): whole image at 1/8 .. 4/8 0.6 - 0.85 ms,
// 5/8 .. 7/8 1.5 - 2.1 ms, 8/8 1.2 ms.
int fast_jpeg_scale(double region_h, double region_w, std::int64_t cover_h, std::int64_t cover_w);

// True when decode_region decodes this image at a reduced scale and only its region: a JPEG with the
// libjpeg backend. Otherwise it decodes everything and copies the region out.
bool decodes_scaled(const ImageInfo& info);

struct RegionDecodeOptions {
  int scale_num = 8;          // decode at scale_num / 8 (1..8); 8 = full resolution
  std::int64_t context = 0;   // also decode this many scaled pixels around the region (clamped to the
                              // image), for a resampling filter that reaches outside it
};

// The pixels of one region of an image, decoded at scale M / 8.
struct DecodedRegion {
  // Rows [y0, y0 + pixels.height) and columns [x0, x0 + pixels.width) of the scaled image: the
  // scaled region rounded out to whole pixels, widened by the context, clamped to the image.
  Image pixels;
  int scale_num = 8;
  std::int64_t scaled_height = 0, scaled_width = 0;  // the whole scaled image
  std::int64_t y0 = 0, x0 = 0;
  // The requested region in `pixels` coordinates (exact multiples of 1/8): region.top * M / 8 - y0,
  // region.left * M / 8 - x0, region.height * M / 8, region.width * M / 8. A full-resolution
  // coordinate v maps to v * M / 8 - y0 (rows) or - x0 (columns).
  double top = 0, left = 0, height = 0, width = 0;
};

// Decodes `region` (full-resolution coordinates, inside the image) of an encoded JPEG or PNG.
DecodedRegion decode_region(std::span<const std::uint8_t> bytes, const std::string& name, const CropBox& region,
                            const RegionDecodeOptions& options = {});

}  // namespace hrnet::data

// Binary masks and COCO run-length encoding, bit-exact with pycocotools (common/maskApi.c, _mask.pyx).
//
// Layouts:
//   Mask  row-major: data[y * width + x], values 0 or 1 (what the training pipeline warps and flips).
//   Rle   COCO's run-length encoding: runs over the pixels in *column-major* order (x outer, y inner),
//         alternating 0-runs and 1-runs, starting with a (possibly empty) 0-run; counts sum to h*w.
//         rle_to_string / rle_from_string are COCO's compressed "counts" strings (LEB128-like, 6 bits
//         per character, characters '0'..'o', counts from the fourth on stored as differences).
//
// Exactness: rle_from_polygon is maskApi.c rleFrPoly line for line (vertices scaled by 5 and rounded
// with (int)(5x + .5), dense boundary points, y-boundary crossings downsampled with the same
// floor/ceil rules), rle_merge is rleMerge, rle_area is rleArea, rle_encode/rle_decode are
// rleEncode/rleDecode. rle_from_polygons follows frPyObjects for a list of polygons (k = len / 2
// vertices per polygon; pycocotools rejects a list whose first polygon has <= 4 coordinates, and so do
// we). Products that feed an addition are kept out of fused multiply-adds so results do not depend on
// -march/-ffp-contract.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hrnet/core/error.hpp"

namespace hrnet::data {

// A binary mask, row-major (data[y * width + x]), values 0/1.
struct Mask {
  int height = 0, width = 0;
  std::vector<std::uint8_t> data;

  Mask() = default;
  Mask(int h, int w, std::uint8_t fill = 0) : height(h), width(w), data(checked_size(h, w), fill) {}
  std::uint8_t at(int y, int x) const { return data[std::size_t(y) * std::size_t(width) + std::size_t(x)]; }
  std::uint8_t& at(int y, int x) { return data[std::size_t(y) * std::size_t(width) + std::size_t(x)]; }
  // Number of non-zero pixels.
  std::int64_t area() const {
    std::int64_t a = 0;
    for (auto v : data) a += v != 0;
    return a;
  }
  bool operator==(const Mask&) const = default;

 private:
  // checked before the allocation (a negative side would otherwise ask for ~2^64 bytes)
  static std::size_t checked_size(int h, int w) {
    HRNET_CHECK(h >= 0 && w >= 0, ValueError, "Mask: negative size " << h << "x" << w);
    return std::size_t(h) * std::size_t(w);
  }
};

// COCO run-length encoding (column-major runs, starting with zeros).
struct Rle {
  int height = 0, width = 0;
  std::vector<std::uint32_t> counts;
  bool operator==(const Rle&) const = default;
};

// rleEncode: the runs of a mask in column-major order.
Rle rle_encode(const Mask& m);

// Visits the 1-pixels of an RLE as column-major linear ranges [begin, end).
template <class F>
void rle_for_each_run(const Rle& r, F&& f) {
  std::uint64_t pos = 0;
  bool v = false;
  for (auto c : r.counts) {
    if (v && c) f(pos, pos + c);
    pos += c;
    v = !v;
  }
}

// ORs the decoded RLE into `m` (same size required).
void rle_decode_or(const Rle& r, Mask& m);

// rleDecode into a row-major mask.
Mask rle_decode(const Rle& r);

// rleArea: the number of 1-pixels.
std::uint64_t rle_area(const Rle& r);

// rleToString: COCO's compressed counts string.
std::string rle_to_string(const Rle& r);

// rleFrString: parses a compressed counts string for an h x w mask. Throws ValueError on characters
// outside '0'..'o', a truncated value, or counts that do not sum to h*w.
Rle rle_from_string(std::string_view s, int h, int w);

// An RLE from uncompressed counts (COCO's {"counts": [...], "size": [h, w]}, frUncompressedRLE).
Rle rle_from_counts(std::vector<std::uint32_t> counts, int h, int w);

// rleMerge: union (or intersection) of RLEs of one size, with pycocotools' exact output runs.
Rle rle_merge(std::span<const Rle> rs, bool intersect = false);

// rleFrPoly: rasterises one polygon (xy = x0, y0, x1, y1, ...; k = xy.size() / 2 vertices) into an
// h x w RLE exactly as pycocotools. Unlike rleFrPoly, the work and memory do not grow with the
// coordinates (only the boundary points inside the image's columns are visited: at most about
// 5 * w per edge) and the arithmetic is 64-bit. ValueError for a coordinate that is not finite or
// not within +-4e8, or h * w over 2^32 - 1 (RLE counts are 32-bit). For h == 0 or w == 0 the result
// is the empty RLE {0} (pycocotools returns invalid counts for w == 0).
Rle rle_from_polygon(std::span<const double> xy, int h, int w);

// frPyObjects(list of polygons, h, w): one RLE per polygon. pycocotools rejects (or misreads as boxes)
// a list whose first polygon has <= 4 coordinates; so do we (ValueError). Later polygons of any
// length are rasterised as pycocotools does (fewer than 2 vertices give an empty mask).
std::vector<Rle> rle_from_polygons(const std::vector<std::vector<double>>& polys, int h, int w);

// Union of masks, row-major (pixel-wise OR); sizes must match.
Mask mask_union(std::span<const Mask> ms);

}  // namespace hrnet::data

// HigherHRNet HeatmapParser (see hrnet/pose/group.hpp for the semantics and the layouts).
#include "hrnet/pose/group.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "hrnet/core/error.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace hrnet::pose {
namespace {

constexpr std::int64_t kBlock = MapSummary::kBlock;
constexpr std::int64_t kSuper = MapSummary::kSuper;
constexpr std::int64_t kSB = MapSummary::kBlocksPerSuper;
static_assert(kBlock == 8 && kSuper == 4, "the SSE paths below assume 8x8 blocks, 4x4 per superblock");

// Largest of n floats, NaN ignored (-inf when there is none).
inline float max_ignoring_nan(const float* a, std::int64_t n) {
  std::int64_t i = 0;
  float mx = -std::numeric_limits<float>::infinity();
#if defined(__SSE2__)
  if (n >= 4) {
    __m128 acc = _mm_set1_ps(mx);
    for (; i + 4 <= n; i += 4) acc = _mm_max_ps(_mm_loadu_ps(a + i), acc);  // NaN lane keeps acc
    acc = _mm_max_ps(acc, _mm_shuffle_ps(acc, acc, _MM_SHUFFLE(1, 0, 3, 2)));
    acc = _mm_max_ps(acc, _mm_shuffle_ps(acc, acc, _MM_SHUFFLE(2, 3, 0, 1)));
    mx = _mm_cvtss_f32(acc);
  }
#endif
  for (; i < n; ++i) mx = a[i] > mx ? a[i] : mx;
  return mx;
}

// np.round (round half to even) of x >= 0, NaN or inf, without a libm call: adding and removing
// 2^23 leaves the nearest integer, ties to even, under the default rounding mode.
inline float round_even_nonneg(float x) { return x < 8388608.f ? (x + 8388608.f) - 8388608.f : x; }

// refine's score det - round(||tag - prev||) of one pixel, in numpy's float32 order (squares
// summed left to right, correctly rounded sqrt, round half to even).
inline float score_at(const float* det, const float* tag, const float* prev, std::int64_t T, std::int64_t i) {
  float s = 0.f;
  for (std::int64_t t = 0; t < T; ++t) {
    const float d = tag[i * T + t] - prev[t];
    s += d * d;
  }
  return det[i] - round_even_nonneg(std::sqrt(s));
}

#if defined(__SSE2__)
// round_even_nonneg, four lanes.
inline __m128 round_even_nonneg4(__m128 x) {
  const __m128 big = _mm_set1_ps(8388608.f), lt = _mm_cmplt_ps(x, big);
  return _mm_or_ps(_mm_and_ps(lt, _mm_sub_ps(_mm_add_ps(x, big), big)), _mm_andnot_ps(lt, x));
}

// score_at of four consecutive pixels (det[0..3], tags tag[0 .. 4T - 1] interleaved), T of 1 or 2
// (p0, p1: prev[0] and prev[T - 1] broadcast): the same float operations, lane by lane.
inline __m128 scores4(const float* det, const float* tag, __m128 p0, __m128 p1, std::int64_t T) {
  __m128 s;
  if (T == 2) {
    const __m128 a = _mm_loadu_ps(tag), b = _mm_loadu_ps(tag + 4);
    const __m128 d0 = _mm_sub_ps(_mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), p0);
    const __m128 d1 = _mm_sub_ps(_mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)), p1);
    s = _mm_add_ps(_mm_mul_ps(d0, d0), _mm_mul_ps(d1, d1));
  } else {
    const __m128 d0 = _mm_sub_ps(_mm_loadu_ps(tag), p0);
    s = _mm_mul_ps(d0, d0);
  }
  return _mm_sub_ps(_mm_loadu_ps(det), round_even_nonneg4(_mm_sqrt_ps(s)));
}
#endif

// Upper bound of refine's score over a region with heatmap maximum bm and tag box [lo, hi] (tag
// boxes stored by dimension: lo[t * stride]): bm - round(distance from prev to the box), in the
// float steps of score_at, so the bound is exact. *empty: the box holds no usable (non-NaN) tag.
inline float region_bound(float bm, const float* lo, const float* hi, std::int64_t stride, const float* prev,
                          std::int64_t T, bool* empty) {
  float s = 0.f;
  bool e = false;
  for (std::int64_t t = 0; t < T; ++t) {
    const float l = lo[t * stride], h = hi[t * stride], p = prev[t];
    e = e || l > h;
    const float d = p < l ? l - p : (p > h ? p - h : 0.f);
    s += d * d;
  }
  *empty = e;
  return bm - round_even_nonneg(std::sqrt(s));
}

#if defined(__SSE2__)
// region_bound of the four regions bm[0..3], lo[t * stride + 0..3], ... into ub[0..3] (the same
// float operations, lane by lane); returns the empty ones as a 4-bit mask.
inline int region_bounds4(const float* bm, const float* lo, const float* hi, std::int64_t stride, const float* prev,
                          std::int64_t T, float* ub) {
  __m128 s = _mm_setzero_ps(), e = _mm_setzero_ps();
  auto add_dim = [&](std::int64_t t) {
    const __m128 l = _mm_loadu_ps(lo + t * stride), h = _mm_loadu_ps(hi + t * stride);
    const __m128 p = _mm_set1_ps(prev[t]);
    e = _mm_or_ps(e, _mm_cmpgt_ps(l, h));
    const __m128 below = _mm_cmplt_ps(p, l), above = _mm_cmpgt_ps(p, h);
    const __m128 d =
        _mm_or_ps(_mm_and_ps(below, _mm_sub_ps(l, p)), _mm_andnot_ps(below, _mm_and_ps(above, _mm_sub_ps(p, h))));
    s = _mm_add_ps(s, _mm_mul_ps(d, d));
  };
  if (T == 2) {  // (the common case, unrolled)
    add_dim(0);
    add_dim(1);
  } else {
    for (std::int64_t t = 0; t < T; ++t) add_dim(t);
  }
  _mm_storeu_ps(ub, _mm_sub_ps(_mm_loadu_ps(bm), round_even_nonneg4(_mm_sqrt_ps(s))));
  return _mm_movemask_ps(e);
}
#endif

// region_bound of n consecutive regions (bm[j], lo[t * stride + j], ...) into ub[j] (emptiness is
// not reported: callers pass regions known to hold a usable tag).
void region_bounds(const float* bm, const float* lo, const float* hi, std::int64_t stride, const float* prev,
                   std::int64_t T, std::int64_t n, float* ub) {
  std::int64_t j = 0;
#if defined(__SSE2__)
  for (; j + 4 <= n; j += 4) region_bounds4(bm + j, lo + j, hi + j, stride, prev, T, ub + j);
#endif
  bool e;
  for (; j < n; ++j) ub[j] = region_bound(bm[j], lo + j, hi + j, stride, prev, T, &e);
}

// region_bound of the kSB blocks of one superblock (contiguous in the block arrays); returns the
// empty blocks (no usable tag; also every block past the map edge) as a bit mask.
inline unsigned superblock_bounds(const float* bm, const float* lo, const float* hi, std::int64_t stride,
                                  const float* prev, std::int64_t T, float (&ub)[kSB]) {
  unsigned empty = 0;
#if defined(__SSE2__)
  for (std::int64_t j = 0; j < kSB; j += 4)
    empty |= static_cast<unsigned>(region_bounds4(bm + j, lo + j, hi + j, stride, prev, T, ub + j)) << j;
#else
  for (std::int64_t j = 0; j < kSB; ++j) {
    bool e;
    ub[j] = region_bound(bm[j], lo + j, hi + j, stride, prev, T, &e);
    empty |= (e ? 1u : 0u) << j;
  }
#endif
  return empty;
}

// The scores of a block of `rows` x n pixels (rows of the maps `stride` pixels apart) into
// out[r * kBlock + j]; returns the largest (NaN ignored, -inf if none). The SSE2 path computes
// exactly what score_at does, four pixels at a time.
float block_scores(const float* det, const float* tag, std::int64_t stride, const float* prev, std::int64_t rows,
                   std::int64_t n, std::int64_t T, float* out) {
  float mx = -std::numeric_limits<float>::infinity();
#if defined(__SSE2__)
  if ((n == kBlock || n == kBlock / 2) && (T == 1 || T == 2)) {
    const __m128 p0 = _mm_set1_ps(prev[0]), p1 = _mm_set1_ps(prev[T - 1]);
    __m128 vmx = _mm_set1_ps(mx);
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* d = det + r * stride;
      const float* g = tag + r * stride * T;
      for (std::int64_t h = 0; h < n / 4; ++h) {
        const __m128 v = scores4(d + 4 * h, g + 4 * T * h, p0, p1, T);
        _mm_storeu_ps(out + r * kBlock + 4 * h, v);
        vmx = _mm_max_ps(v, vmx);  // maxps returns the second operand when the first is NaN
      }
    }
    vmx = _mm_max_ps(vmx, _mm_shuffle_ps(vmx, vmx, _MM_SHUFFLE(1, 0, 3, 2)));
    vmx = _mm_max_ps(vmx, _mm_shuffle_ps(vmx, vmx, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtss_f32(vmx);
  }
#endif
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < n; ++j) {
      const float v = score_at(det + r * stride, tag + r * stride * T, prev, T, j);
      out[r * kBlock + j] = v;
      mx = v > mx ? v : mx;
    }
  return mx;
}

// score_at of n gathered pixels (det[j], tags interleaved tag[j * T + t]) into out[j]; four at a
// time with SSE2 for T of 1 or 2 (the same float operations, lane by lane).
void seed_scores(const float* det, const float* tag, std::int64_t n, const float* prev, std::int64_t T, float* out) {
  std::int64_t j = 0;
#if defined(__SSE2__)
  if (T == 1 || T == 2) {
    const __m128 p0 = _mm_set1_ps(prev[0]), p1 = _mm_set1_ps(prev[T - 1]);
    for (; j + 4 <= n; j += 4) _mm_storeu_ps(out + j, scores4(det + j, tag + T * j, p0, p1, T));
  }
#endif
  for (; j < n; ++j) out[j] = score_at(det, tag, prev, T, j);
}

// The largest non-NaN score and, among the entries equal to it, the smallest flat index (consider()'s
// choice over all of them, in one pass plus a scan for the ties); false when every score is NaN.
bool best_of(const float* score, const std::int64_t* index, std::int64_t n, float& best, std::int64_t& best_i) {
  float m = -std::numeric_limits<float>::infinity();
  bool any = false;
  std::int64_t j = 0;
#if defined(__SSE2__)
  __m128 mv = _mm_set1_ps(m), ordered = _mm_setzero_ps();
  for (; j + 4 <= n; j += 4) {
    const __m128 v = _mm_loadu_ps(score + j);
    mv = _mm_max_ps(v, mv);  // (NaN: the second operand)
    ordered = _mm_or_ps(ordered, _mm_cmpord_ps(v, v));
  }
  mv = _mm_max_ps(mv, _mm_shuffle_ps(mv, mv, _MM_SHUFFLE(1, 0, 3, 2)));
  mv = _mm_max_ps(mv, _mm_shuffle_ps(mv, mv, _MM_SHUFFLE(2, 3, 0, 1)));
  m = _mm_cvtss_f32(mv);
  any = _mm_movemask_ps(ordered) != 0;
#endif
  for (; j < n; ++j) {
    const float v = score[j];
    if (v != v) continue;
    any = true;
    m = v > m ? v : m;
  }
  if (!any) return false;
  best = m;
  best_i = std::numeric_limits<std::int64_t>::max();
  for (j = 0; j < n; ++j)
    if (score[j] == m && index[j] < best_i) best_i = index[j];
  return true;
}

// Horizontal min / max of the lanes holding dimension t of T (1: all four; 2: lanes (0, 2) and
// (1, 3)) into out[t].
#if defined(__SSE2__)
void reduce_ranges(__m128 lo, __m128 hi, std::int64_t T, float* out_lo, float* out_hi, std::int64_t stride) {
  lo = _mm_min_ps(lo, _mm_shuffle_ps(lo, lo, _MM_SHUFFLE(1, 0, 3, 2)));
  hi = _mm_max_ps(hi, _mm_shuffle_ps(hi, hi, _MM_SHUFFLE(1, 0, 3, 2)));
  if (T == 1) {
    lo = _mm_min_ps(lo, _mm_shuffle_ps(lo, lo, _MM_SHUFFLE(2, 3, 0, 1)));
    hi = _mm_max_ps(hi, _mm_shuffle_ps(hi, hi, _MM_SHUFFLE(2, 3, 0, 1)));
  }
  float l[4], h[4];
  _mm_storeu_ps(l, lo);
  _mm_storeu_ps(h, hi);
  for (std::int64_t t = 0; t < T; ++t) {
    out_lo[t * stride] = l[t];
    out_hi[t * stride] = h[t];
  }
}
#endif

// The four 4x4 quarters of a full 8x8 block (T of 1 or 2): heatmap maximum and per-dimension tag
// range of each, NaN skipped, into q: [max 0..3][lo dim 0 0..3][hi dim 0 0..3][lo dim 1 ...] (the
// layout region_bounds4 reads with stride 8). Quarter s covers rows 4 (s / 2) .., columns 4 (s % 2) ...
void quarter_ranges(const float* det, const float* tag, std::int64_t stride, std::int64_t T, float* q) {
  const float inf = std::numeric_limits<float>::infinity();
  for (int s = 0; s < 4; ++s) {
    const std::int64_t r0 = 4 * (s / 2), c0 = 4 * (s % 2);
#if defined(__SSE2__)
    __m128 mx = _mm_set1_ps(-inf), lo0 = _mm_set1_ps(inf), hi0 = _mm_set1_ps(-inf), lo1 = lo0, hi1 = hi0;
    for (std::int64_t r = r0; r < r0 + 4; ++r) {
      mx = _mm_max_ps(_mm_loadu_ps(det + r * stride + c0), mx);  // maxps/minps: second operand on NaN
      const float* g = tag + (r * stride + c0) * T;
      const __m128 a = _mm_loadu_ps(g);
      lo0 = _mm_min_ps(a, lo0);
      hi0 = _mm_max_ps(a, hi0);
      if (T == 2) {
        const __m128 b = _mm_loadu_ps(g + 4);
        lo1 = _mm_min_ps(b, lo1);
        hi1 = _mm_max_ps(b, hi1);
      }
    }
    mx = _mm_max_ps(mx, _mm_shuffle_ps(mx, mx, _MM_SHUFFLE(1, 0, 3, 2)));
    mx = _mm_max_ps(mx, _mm_shuffle_ps(mx, mx, _MM_SHUFFLE(2, 3, 0, 1)));
    q[s] = _mm_cvtss_f32(mx);
    if (T == 2) {  // lanes (0, 2) dimension 0, (1, 3) dimension 1 in both vectors
      lo0 = _mm_min_ps(lo0, lo1);
      hi0 = _mm_max_ps(hi0, hi1);
    }
    reduce_ranges(lo0, hi0, T, q + 4 + s, q + 8 + s, 8);
#else
    float mx = -inf;
    for (std::int64_t t = 0; t < T; ++t) {
      q[4 + 8 * t + s] = inf;
      q[8 + 8 * t + s] = -inf;
    }
    for (std::int64_t r = r0; r < r0 + 4; ++r)
      for (std::int64_t c = c0; c < c0 + 4; ++c) {
        const float v = det[r * stride + c];
        mx = v > mx ? v : mx;
        for (std::int64_t t = 0; t < T; ++t) {
          const float g = tag[(r * stride + c) * T + t];
          q[4 + 8 * t + s] = g < q[4 + 8 * t + s] ? g : q[4 + 8 * t + s];
          q[8 + 8 * t + s] = g > q[8 + 8 * t + s] ? g : q[8 + 8 * t + s];
        }
      }
    q[s] = mx;
#endif
  }
}

// numpy's pairwise summation of n float32 values (np.add.reduce on float32), used for the score.
float pairwise_sum(const float* a, std::int64_t n, std::int64_t stride) {
  if (n < 8) {
    float res = 0.f;
    for (std::int64_t i = 0; i < n; ++i) res += a[i * stride];
    return res;
  }
  if (n <= 128) {
    float r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j * stride];
    std::int64_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[(i + j) * stride];
    float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i * stride];
    return res;
  }
  std::int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2, stride) + pairwise_sum(a + n2 * stride, n - n2, stride);
}

// The official quarter-pixel rule: toward the larger neighbour, -0.25 on a tie; indices clamped.
inline double quarter_x(const float* det, std::int64_t W, std::int64_t x, std::int64_t y) {
  return det[y * W + std::min(x + 1, W - 1)] > det[y * W + std::max<std::int64_t>(x - 1, 0)] ? 0.25 : -0.25;
}
inline double quarter_y(const float* det, std::int64_t H, std::int64_t W, std::int64_t x, std::int64_t y) {
  return det[std::min(y + 1, H - 1) * W + x] > det[std::max<std::int64_t>(y - 1, 0) * W + x] ? 0.25 : -0.25;
}

}  // namespace

HeatmapParser::HeatmapParser(GroupParams params) : p_(std::move(params)) {
  HRNET_CHECK(p_.num_joints >= 1, ValueError, "HeatmapParser: num_joints must be >= 1, got " << p_.num_joints);
  HRNET_CHECK(p_.max_num_people >= 1, ValueError, "HeatmapParser: max_num_people must be >= 1, got " << p_.max_num_people);
  HRNET_CHECK(std::isfinite(p_.detection_threshold) && p_.detection_threshold >= 0, ValueError,
              "HeatmapParser: detection_threshold must be finite and >= 0, got " << p_.detection_threshold);
  HRNET_CHECK(!std::isnan(p_.tag_threshold), ValueError, "HeatmapParser: tag_threshold is NaN");
  HRNET_CHECK(p_.nms_kernel >= 1 && p_.nms_padding >= 0 && 2 * p_.nms_padding == p_.nms_kernel - 1, ValueError,
              "HeatmapParser: NMS kernel " << p_.nms_kernel << " with padding " << p_.nms_padding
                                           << " does not keep the map size (need 2 * padding == kernel - 1)");
  const std::int64_t J = p_.num_joints;
  if (p_.joint_order.empty()) {
    for (std::int64_t k = 0; k < J; ++k) order_.push_back(k);
  } else {
    HRNET_CHECK(static_cast<std::int64_t>(p_.joint_order.size()) == J, ValueError,
                "HeatmapParser: joint_order has " << p_.joint_order.size() << " entries for " << J << " joints");
    std::vector<unsigned char> seen(static_cast<std::size_t>(J), 0);
    for (const auto k : p_.joint_order) {
      HRNET_CHECK(k >= 0 && k < J && !seen[static_cast<std::size_t>(k)], ValueError,
                  "HeatmapParser: joint_order is not a permutation of 0.." << J - 1 << " (entry " << k << ")");
      seen[static_cast<std::size_t>(k)] = 1;
    }
    order_ = p_.joint_order;
  }
}

namespace {

void check_sizes(const PoseMaps& m, const char* who) {
  HRNET_CHECK(m.height >= 1 && m.width >= 1 && m.tag_dim >= 1 && m.num_joints >= 1, ShapeError,
              who << ": empty maps (" << m.num_joints << " x " << m.height << " x " << m.width << ", tag dim "
                  << m.tag_dim << ")");
  const std::int64_t n = m.num_joints * m.height * m.width;
  HRNET_CHECK(static_cast<std::int64_t>(m.heatmaps.size()) == n, ShapeError,
              who << ": heatmaps hold " << m.heatmaps.size() << " values, (J, H, W) = (" << m.num_joints << ", "
                  << m.height << ", " << m.width << ") needs " << n);
  HRNET_CHECK(static_cast<std::int64_t>(m.tags.size()) == n * m.tag_dim, ShapeError,
              who << ": tags hold " << m.tags.size() << " values, (J, H, W, T) = (" << m.num_joints << ", " << m.height
                  << ", " << m.width << ", " << m.tag_dim << ") needs " << n * m.tag_dim);
}

}  // namespace

void MapSummary::reset(std::int64_t joints, std::int64_t h, std::int64_t w, std::int64_t t) {
  const float inf = std::numeric_limits<float>::infinity();
  num_joints = joints;
  height = h;
  width = w;
  tag_dim = t;
  blocks_w = (w + kBlock - 1) / kBlock;
  blocks_h = (h + kBlock - 1) / kBlock;
  supers_w = (blocks_w + kSuper - 1) / kSuper;
  supers_h = (blocks_h + kSuper - 1) / kSuper;
  det_max.assign(static_cast<std::size_t>(joints * block_count()), -inf);
  tag_lo.assign(static_cast<std::size_t>(joints * t * block_count()), inf);
  tag_hi.assign(static_cast<std::size_t>(joints * t * block_count()), -inf);
  super_det_max.assign(static_cast<std::size_t>(joints * super_count()), -inf);
  super_tag_lo.assign(static_cast<std::size_t>(joints * t * super_count()), inf);
  super_tag_hi.assign(static_cast<std::size_t>(joints * t * super_count()), -inf);
}

void MapSummary::finish_superblocks() {
  const std::int64_t ns = super_count();
  for (std::int64_t k = 0; k < num_joints; ++k)
    for (std::int64_t s = 0; s < ns; ++s) {
      const float* b = det_max.data() + k * ns * kSB + s * kSB;
      float mx = b[0];
      for (std::int64_t j = 1; j < kSB; ++j) mx = std::max(mx, b[j]);
      super_det_max[static_cast<std::size_t>(k * ns + s)] = mx;
    }
  for (std::int64_t kt = 0; kt < num_joints * tag_dim; ++kt)
    for (std::int64_t s = 0; s < ns; ++s) {
      const float* lo = tag_lo.data() + kt * ns * kSB + s * kSB;
      const float* hi = tag_hi.data() + kt * ns * kSB + s * kSB;
      float l = lo[0], h = hi[0];
      for (std::int64_t j = 1; j < kSB; ++j) {
        l = std::min(l, lo[j]);
        h = std::max(h, hi[j]);
      }
      super_tag_lo[static_cast<std::size_t>(kt * ns + s)] = l;
      super_tag_hi[static_cast<std::size_t>(kt * ns + s)] = h;
    }
}

// Block by block: the heatmap maximum, then the tag ranges. NaN values are skipped everywhere
// (minps/maxps return their second operand on NaN).
void MapSummary::add_block_row(const PoseMaps& m, std::int64_t by) {
  const std::int64_t J = m.num_joints, H = m.height, W = m.width, T = m.tag_dim;
  HRNET_CHECK(J == num_joints && H == height && W == width && T == tag_dim && by >= 0 && by < blocks_h, ShapeError,
              "MapSummary::add_block_row: block row " << by << " of (J, H, W, T) = (" << J << ", " << H << ", " << W
                                                      << ", " << T << ") maps, the summary is of (" << num_joints
                                                      << ", " << height << ", " << width << ", " << tag_dim << ")");
  const std::int64_t nb = block_count(), ya = by * kBlock, rows = std::min(kBlock, H - ya);
  const float ninf = -std::numeric_limits<float>::infinity(), inf = -ninf;
  for (std::int64_t k = 0; k < J; ++k) {
    const float* det = m.heatmaps.data() + k * H * W;
    const float* tag = m.tags.data() + k * H * W * T;
    for (std::int64_t bx = 0; bx < blocks_w; ++bx) {
      const std::int64_t e = block_index(by, bx), x0 = bx * kBlock, x1 = std::min(x0 + kBlock, W);
      float& bm = det_max[static_cast<std::size_t>(k * nb + e)];
      float* lo = tag_lo.data() + k * T * nb + e;  // dimension t at [t * nb]
      float* hi = tag_hi.data() + k * T * nb + e;
#if defined(__SSE2__)
      if (x1 - x0 == kBlock && (T == 1 || T == 2)) {
        __m128 acc0 = _mm_set1_ps(ninf), acc1 = acc0, vlo = _mm_set1_ps(inf), vhi = acc0;
        for (std::int64_t y = ya; y < ya + rows; ++y) {
          const std::int64_t p = y * W + x0;
          acc0 = _mm_max_ps(_mm_loadu_ps(det + p), acc0);
          acc1 = _mm_max_ps(_mm_loadu_ps(det + p + 4), acc1);
          for (std::int64_t j = 0; j < kBlock * T; j += 4) {  // T == 2: lanes (0, 2) dim 0, (1, 3) dim 1
            const __m128 g = _mm_loadu_ps(tag + p * T + j);
            vlo = _mm_min_ps(g, vlo);
            vhi = _mm_max_ps(g, vhi);
          }
        }
        __m128 acc = _mm_max_ps(acc0, acc1);
        acc = _mm_max_ps(acc, _mm_shuffle_ps(acc, acc, _MM_SHUFFLE(1, 0, 3, 2)));
        acc = _mm_max_ps(acc, _mm_shuffle_ps(acc, acc, _MM_SHUFFLE(2, 3, 0, 1)));
        bm = _mm_cvtss_f32(acc);
        reduce_ranges(vlo, vhi, T, lo, hi, nb);
        continue;
      }
#endif
      for (std::int64_t y = ya; y < ya + rows; ++y)
        for (std::int64_t x = x0; x < x1; ++x) {
          const float v = det[y * W + x];
          bm = v > bm ? v : bm;
          for (std::int64_t t = 0; t < T; ++t) {
            const float g = tag[(y * W + x) * T + t];
            lo[t * nb] = g < lo[t * nb] ? g : lo[t * nb];
            hi[t * nb] = g > hi[t * nb] ? g : hi[t * nb];
          }
        }
    }
  }
}

void summarize(const PoseMaps& m, MapSummary& out) {
  check_sizes(m, "summarize");
  out.reset(m.num_joints, m.height, m.width, m.tag_dim);
  for (std::int64_t by = 0; by < out.blocks_h; ++by) out.add_block_row(m, by);
  out.finish_superblocks();
}

const MapSummary& HeatmapParser::check(const PoseMaps& m) {
  HRNET_CHECK(m.num_joints == p_.num_joints, ShapeError,
              "HeatmapParser: maps have " << m.num_joints << " joints, the parser expects " << p_.num_joints);
  check_sizes(m, "HeatmapParser");
  if (m.summary == nullptr) {
    summarize(m, own_summary_);
    return own_summary_;
  }
  const MapSummary& s = *m.summary;
  HRNET_CHECK(s.num_joints == m.num_joints && s.height == m.height && s.width == m.width && s.tag_dim == m.tag_dim &&
                  static_cast<std::int64_t>(s.det_max.size()) == m.num_joints * s.block_count() &&
                  static_cast<std::int64_t>(s.tag_lo.size()) == m.num_joints * m.tag_dim * s.block_count() &&
                  s.tag_hi.size() == s.tag_lo.size() &&
                  static_cast<std::int64_t>(s.super_det_max.size()) == m.num_joints * s.super_count() &&
                  static_cast<std::int64_t>(s.super_tag_lo.size()) == m.num_joints * m.tag_dim * s.super_count() &&
                  s.super_tag_hi.size() == s.super_tag_lo.size() && s.blocks_w == (m.width + kBlock - 1) / kBlock &&
                  s.blocks_h == (m.height + kBlock - 1) / kBlock && s.supers_w == (s.blocks_w + kSuper - 1) / kSuper &&
                  s.supers_h == (s.blocks_h + kSuper - 1) / kSuper,
              ShapeError,
              "HeatmapParser: the maps' summary is of (J, H, W, T) = (" << s.num_joints << ", " << s.height << ", "
                                                                       << s.width << ", " << s.tag_dim
                                                                       << "), the maps are (" << m.num_joints << ", "
                                                                       << m.height << ", " << m.width << ", "
                                                                       << m.tag_dim << ")");
  return s;
}

// NMS (a value survives when no value in its kernel window is larger, like max_pool == det) and
// top-k. Only values above the detection threshold can become candidates, so only those are tested.
void HeatmapParser::find_candidates(const PoseMaps& m, const MapSummary& s) {
  const std::int64_t J = m.num_joints, H = m.height, W = m.width, T = m.tag_dim, pad = p_.nms_padding;
  const float ninf = -std::numeric_limits<float>::infinity();
  // numpy compares float64 copies of the values with the threshold; for a float v, v > thr holds
  // exactly when v > (the largest float <= thr).
  float thr = static_cast<float>(p_.detection_threshold);
  if (static_cast<double>(thr) > p_.detection_threshold) thr = std::nextafter(thr, ninf);
  const std::int64_t nb = s.block_count(), ns = s.super_count();
  cand_.resize(static_cast<std::size_t>(J));
  for (std::int64_t k = 0; k < J; ++k) {
    auto& out = cand_[static_cast<std::size_t>(k)];
    out.clear();
    const float* det = m.heatmaps.data() + k * H * W;
#if defined(__SSE2__)
    const __m128 t = _mm_set1_ps(thr);
#endif
    // The full window test for the pixels of row y in `pass` (bit i: column x0 + i).
    auto window_test = [&](std::int64_t y, std::int64_t y0, std::int64_t y1, std::int64_t x0, unsigned pass) {
      const float* row = det + y * W;
      for (std::int64_t x = x0; pass; ++x, pass >>= 1) {
        if (!(pass & 1u)) continue;
        const float v = row[x];
        const std::int64_t xa = std::max<std::int64_t>(x - pad, 0), xb = std::min(x + pad, W - 1);
        bool keep = true;
        for (std::int64_t yy = y0; yy <= y1 && keep; ++yy)
          for (std::int64_t xx = xa; xx <= xb; ++xx)
            if (!(det[yy * W + xx] <= v)) {  // larger, or NaN (max_pool propagates NaN)
              keep = false;
              break;
            }
        if (keep) out.emplace_back(v, y * W + x);
      }
    };
    // The candidates of row y, columns [x0, x1) (at least one value there is above the threshold).
    auto row_candidates = [&](std::int64_t y, std::int64_t x0, std::int64_t x1) {
      const float* row = det + y * W;
      const std::int64_t y0 = std::max<std::int64_t>(y - pad, 0), y1 = std::min(y + pad, H - 1);
      // Pixels above the threshold and not below any 4-neighbour (on smooth maps almost every
      // non-peak has a larger one); the full window is checked for those only.
      unsigned pass = 0;
#if defined(__SSE2__)
      if (pad >= 1 && x1 - x0 == 8 && x0 >= 1 && x1 < W && y >= 1 && y + 1 < H) {
        for (int h = 0; h < 2; ++h) {
          const float* c = row + x0 + 4 * h;
          const __m128 v = _mm_loadu_ps(c);
          __m128 ok = _mm_cmpgt_ps(v, t);  // NaN fails every comparison, as !(n <= v) below
          ok = _mm_and_ps(ok, _mm_cmple_ps(_mm_loadu_ps(c - 1), v));
          ok = _mm_and_ps(ok, _mm_cmple_ps(_mm_loadu_ps(c + 1), v));
          ok = _mm_and_ps(ok, _mm_cmple_ps(_mm_loadu_ps(c - W), v));
          ok = _mm_and_ps(ok, _mm_cmple_ps(_mm_loadu_ps(c + W), v));
          pass |= static_cast<unsigned>(_mm_movemask_ps(ok)) << (4 * h);
        }
      } else
#endif
      {
        for (std::int64_t x = x0; x < x1; ++x) {
          const float v = row[x];
          if (!(v > thr)) continue;
          if (pad >= 1 && ((x > 0 && !(row[x - 1] <= v)) || (x + 1 < W && !(row[x + 1] <= v)) ||
                           (y > 0 && !(row[x - W] <= v)) || (y + 1 < H && !(row[x + W] <= v))))
            continue;
          pass |= 1u << (x - x0);
        }
      }
      window_test(y, y0, y1, x0, pass);
    };
    // Only blocks whose maximum is above the threshold (NaN is in neither), found superblock by
    // superblock; in those, the rows holding a value above the threshold go through the NMS test.
    const float* super_max = s.super_det_max.data() + k * ns;
    const float* block_max = s.det_max.data() + k * nb;
    for (std::int64_t sb = 0; sb < ns; ++sb) {
      if (!(super_max[sb] > thr)) continue;
      const std::int64_t sy = sb / s.supers_w, sx = sb % s.supers_w;
      // The rows of the blocks to test (and the rows around them), asked for at once: the maps
      // come from memory, and one block's misses after another's would add up.
      for (std::int64_t j = 0; j < kSB; ++j) {
        if (!(block_max[sb * kSB + j] > thr)) continue;
        const std::int64_t ya = (sy * kSuper + j / kSuper) * kBlock, x0 = (sx * kSuper + j % kSuper) * kBlock;
        for (std::int64_t y = std::max<std::int64_t>(ya - 1, 0); y < std::min(ya + kBlock + 1, H); ++y) {
          __builtin_prefetch(det + y * W + x0);
          __builtin_prefetch(det + y * W + std::min(x0 + kBlock, W - 1));
        }
      }
      for (std::int64_t j = 0; j < kSB; ++j) {
        if (!(block_max[sb * kSB + j] > thr)) continue;  // also every block past the map edge
        const std::int64_t by = sy * kSuper + j / kSuper, bx = sx * kSuper + j % kSuper;
        const std::int64_t ya = by * kBlock, rows = std::min(kBlock, H - ya);
        const std::int64_t x0 = bx * kBlock, x1 = std::min(x0 + kBlock, W);
#if defined(__SSE2__)
        if (pad >= 1 && x1 - x0 == 8 && x0 >= 1 && x1 < W && ya >= 1 && ya + rows < H) {
          // Inside the map: the threshold and 4-neighbour test straight away, row by row.
          for (std::int64_t y = ya; y < ya + rows; ++y) {
            const float* c = det + y * W + x0;
            unsigned pass = 0;
            for (int h = 0; h < 2; ++h, c += 4) {
              const __m128 v = _mm_loadu_ps(c);
              __m128 ok = _mm_cmpgt_ps(v, t);  // NaN fails every comparison
              ok = _mm_and_ps(ok, _mm_cmple_ps(_mm_loadu_ps(c - 1), v));
              ok = _mm_and_ps(ok, _mm_cmple_ps(_mm_loadu_ps(c + 1), v));
              ok = _mm_and_ps(ok, _mm_cmple_ps(_mm_loadu_ps(c - W), v));
              ok = _mm_and_ps(ok, _mm_cmple_ps(_mm_loadu_ps(c + W), v));
              pass |= static_cast<unsigned>(_mm_movemask_ps(ok)) << (4 * h);
            }
            if (pass) window_test(y, std::max<std::int64_t>(y - pad, 0), std::min(y + pad, H - 1), x0, pass);
          }
          continue;
        }
#endif
        unsigned hot = 0;  // rows with a value above the threshold
#if defined(__SSE2__)
        if (x1 - x0 == 8) {
          for (std::int64_t r = 0; r < rows; ++r) {
            const float* c = det + (ya + r) * W + x0;
            const __m128 a = _mm_loadu_ps(c), b = _mm_loadu_ps(c + 4);
            hot |= (_mm_movemask_ps(_mm_or_ps(_mm_cmpgt_ps(a, t), _mm_cmpgt_ps(b, t))) != 0 ? 1u : 0u) << r;
          }
        } else
#endif
        {
          for (std::int64_t r = 0; r < rows; ++r)
            hot |= (max_ignoring_nan(det + (ya + r) * W + x0, x1 - x0) > thr ? 1u : 0u) << r;
        }
        for (std::int64_t r = 0; hot; ++r, hot >>= 1)
          if (hot & 1u) row_candidates(ya + r, x0, x1);
      }
    }
    auto by_rank = [](const std::pair<float, std::int64_t>& a, const std::pair<float, std::int64_t>& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    const auto K = static_cast<std::size_t>(p_.max_num_people);
    if (out.size() > K) {
      std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(K), out.end(), by_rank);
      out.resize(K);
    } else {
      std::sort(out.begin(), out.end(), by_rank);
    }
    for (const auto& [v, i] : out) {
      HRNET_CHECK(std::isfinite(v), ValueError,
                  "HeatmapParser: heatmap value " << v << " at joint " << k << " (x " << i % W << ", y " << i / W
                                                  << ") is not finite");
      for (std::int64_t t = 0; t < T; ++t) {
        const float g = m.tags[static_cast<std::size_t>((k * H * W + i) * T + t)];
        HRNET_CHECK(std::isfinite(g), ValueError,
                    "HeatmapParser: tag " << t << " = " << g << " at joint " << k << " (x " << i % W << ", y " << i / W
                                          << ") is not finite");
      }
    }
  }
}

// match_by_tag: persons are kept in dict insertion order and keyed by the first tag value of the
// candidate that created them (a new person whose key equals an existing one's reuses that person,
// overwriting the joint and restarting its tag list, as the python dict does).
void HeatmapParser::match(const PoseMaps& m) {
  const std::int64_t J = m.num_joints, H = m.height, W = m.width, T = m.tag_dim, R = 3 + T;
  const std::int64_t K = p_.max_num_people;
  people_ = 0;
  joints_.clear();
  tag_sum_.clear();
  tag_count_.clear();
  keys_.clear();
  auto tag_at = [&](std::int64_t k, std::int64_t i) { return m.tags.data() + (k * H * W + i) * T; };
  auto set_joint = [&](std::int64_t person, std::int64_t k, const std::pair<float, std::int64_t>& c) {
    float* row = joints_.data() + (person * J + k) * R;
    row[0] = static_cast<float>(c.second % W);
    row[1] = static_cast<float>(c.second / W);
    row[2] = c.first;
    std::copy(tag_at(k, c.second), tag_at(k, c.second) + T, row + 3);
  };
  auto start_person = [&](std::int64_t k, const std::pair<float, std::int64_t>& c) {
    const float* tag = tag_at(k, c.second);
    std::int64_t q = 0;
    while (q < people_ && !(keys_[static_cast<std::size_t>(q)] == tag[0])) ++q;
    if (q == people_) {
      ++people_;
      keys_.push_back(tag[0]);
      joints_.resize(static_cast<std::size_t>(people_ * J * R), 0.f);
      tag_sum_.resize(static_cast<std::size_t>(people_ * T), 0.f);
      tag_count_.push_back(0);
    }
    set_joint(q, k, c);
    std::copy(tag, tag + T, tag_sum_.begin() + q * T);
    tag_count_[static_cast<std::size_t>(q)] = 1;
  };

  for (std::int64_t step = 0; step < J; ++step) {
    const std::int64_t k = order_[static_cast<std::size_t>(step)];
    const auto& cands = cand_[static_cast<std::size_t>(k)];
    if (cands.empty()) continue;
    if (step == 0 || people_ == 0) {
      for (const auto& c : cands) start_person(k, c);
      continue;
    }
    const std::int64_t G = std::min(people_, K), N = static_cast<std::int64_t>(cands.size());
    if (p_.ignore_too_much && G == K) continue;
    // Mean tag of each grouped person: float32 running sum / count, as np.mean over the list.
    mean_tags_.resize(static_cast<std::size_t>(G * T));
    for (std::int64_t g = 0; g < G; ++g)
      for (std::int64_t t = 0; t < T; ++t)
        mean_tags_[static_cast<std::size_t>(g * T + t)] =
            tag_sum_[static_cast<std::size_t>(g * T + t)] / static_cast<float>(tag_count_[static_cast<std::size_t>(g)]);
    const std::int64_t cols = std::max(N, G);
    dist_.resize(static_cast<std::size_t>(N * G));
    cost_.assign(static_cast<std::size_t>(N * cols), 1e10);
    for (std::int64_t r = 0; r < N; ++r) {
      const float* tag = tag_at(k, cands[static_cast<std::size_t>(r)].second);
      for (std::int64_t g = 0; g < G; ++g) {
        double s = 0;
        for (std::int64_t t = 0; t < T; ++t) {
          const double d = static_cast<double>(tag[t]) - static_cast<double>(mean_tags_[static_cast<std::size_t>(g * T + t)]);
          s += d * d;
        }
        const double dist = std::sqrt(s);
        dist_[static_cast<std::size_t>(r * G + g)] = dist;
        cost_[static_cast<std::size_t>(r * cols + g)] =
            p_.use_detection_val
                ? std::nearbyint(dist) * 100 - static_cast<double>(cands[static_cast<std::size_t>(r)].first)
                : dist;
      }
    }
    const auto& pairs = munkres_.compute(cost_, N, cols);
    for (const auto& a : pairs) {
      const auto& c = cands[static_cast<std::size_t>(a.row)];
      if (a.col < G && dist_[static_cast<std::size_t>(a.row * G + a.col)] < p_.tag_threshold) {
        set_joint(a.col, k, c);
        const float* tag = tag_at(k, c.second);
        for (std::int64_t t = 0; t < T; ++t) tag_sum_[static_cast<std::size_t>(a.col * T + t)] += tag[t];
        ++tag_count_[static_cast<std::size_t>(a.col)];
      } else {
        start_person(k, c);
      }
    }
  }
}

void HeatmapParser::adjust(const PoseMaps& m) {
  const std::int64_t J = m.num_joints, H = m.height, W = m.width, R = 3 + m.tag_dim;
  for (std::int64_t q = 0; q < people_; ++q)
    for (std::int64_t k = 0; k < J; ++k) {
      float* row = joints_.data() + (q * J + k) * R;
      if (!(row[2] > 0)) continue;
      const auto x = static_cast<std::int64_t>(row[0]), y = static_cast<std::int64_t>(row[1]);
      const float* det = m.heatmaps.data() + k * H * W;
      row[0] = static_cast<float>(static_cast<double>(row[0]) + quarter_x(det, W, x, y) + 0.5);
      row[1] = static_cast<float>(static_cast<double>(row[1]) + quarter_y(det, H, W, x, y) + 0.5);
    }
}

// refine: for every person, fill each missing joint with the arg-max over the map of
// det - round(||tag - mean tag of the person||) (float32, first index on ties), if its det > 0.
//
// The arg-max is exact but reads little of the map. A region (32x32 superblock, 8x8 block) cannot
// hold the answer when its heatmap maximum minus the rounded distance from the person's tag to the
// region's tag box is below the best score so far; every float step of the score is monotone, so
// the bound is exact, and ties are settled by the first flat index. The search starts from the
// joint's NMS candidates, then visits superblocks in decreasing bound and stops at the first one
// that cannot win.
void HeatmapParser::refine(const PoseMaps& m, const MapSummary& s) {
  const std::int64_t J = m.num_joints, H = m.height, W = m.width, T = m.tag_dim, R = 3 + T;
  const std::int64_t ns = s.super_count(), nsb = s.block_count(), sw = s.supers_w;
  super_first_.resize(static_cast<std::size_t>(ns));
  for (std::int64_t sb = 0; sb < ns; ++sb)  // flat index of each superblock's top-left pixel
    super_first_[static_cast<std::size_t>(sb)] = (sb / sw) * kSuper * kBlock * W + (sb % sw) * kSuper * kBlock;
  super_ub_.resize(static_cast<std::size_t>(ns));

  // Mean tag at each person's detected joints, read from the full tag maps (float32 sequential
  // mean, like np.mean over the list); persons without detected joints are not refined.
  prev_tags_.assign(static_cast<std::size_t>(people_ * T), 0.f);
  prev_ready_.assign(static_cast<std::size_t>(people_), 0);
  for (std::int64_t q = 0; q < people_; ++q) {
    const float* person = joints_.data() + q * J * R;
    float* prev = prev_tags_.data() + q * T;
    std::int64_t count = 0;
    for (std::int64_t k = 0; k < J; ++k) {
      const float* row = person + k * R;
      if (!(row[2] > 0)) continue;
      const auto x = static_cast<std::int64_t>(row[0]), y = static_cast<std::int64_t>(row[1]);
      const float* tag = m.tags.data() + ((k * H + y) * W + x) * T;
      for (std::int64_t t = 0; t < T; ++t) prev[t] += tag[t];
      ++count;
    }
    if (count == 0) continue;
    for (std::int64_t t = 0; t < T; ++t) prev[t] /= static_cast<float>(count);
    prev_ready_[static_cast<std::size_t>(q)] = 1;
  }

  for (std::int64_t k = 0; k < J; ++k) {
    const float* block_max = s.det_max.data() + k * nsb;
    const float* block_lo = s.tag_lo.data() + k * T * nsb;  // dimension t at [t * nsb + block]
    const float* block_hi = s.tag_hi.data() + k * T * nsb;
    const float* det = m.heatmaps.data() + k * H * W;
    const float* tagk = m.tags.data() + k * H * W * T;
    bool prepared = false;
    quarter_slot_.assign(static_cast<std::size_t>(nsb), -1);
    quarters_.clear();
    // Seeds, gathered (heatmap value, then tags by dimension, in capacity-strided rows): the joint's
    // peaks, then every pixel a search of this joint chose.
    seed_idx_.clear();
    seed_det_.clear();
    seed_tag_.clear();
    auto add_seed = [&](std::int64_t i) {
      seed_idx_.push_back(i);
      seed_det_.push_back(det[i]);
      for (std::int64_t t = 0; t < T; ++t) seed_tag_.push_back(tagk[i * T + t]);
    };
    for (const auto& c : cand_[static_cast<std::size_t>(k)]) add_seed(c.second);
    std::int64_t live = 0;  // superblocks with a usable tag, sorted by heatmap maximum
    for (std::int64_t q = 0; q < people_; ++q) {
      float* row = joints_.data() + (q * J + k) * R;
      if (!prev_ready_[static_cast<std::size_t>(q)] || row[2] != 0) continue;
      if (!prepared) {
        // The joint's superblocks in decreasing heatmap maximum (a bound's upper bound), with their
        // tag ranges in that order: a person's search computes bounds only for the prefix whose
        // maximum reaches its best score so far.
        prepared = true;
        const float* sm = s.super_det_max.data() + k * ns;
        super_order_.clear();
        for (std::int64_t sb = 0; sb < ns; ++sb) {
          bool empty = false;
          for (std::int64_t t = 0; t < T; ++t)
            empty = empty || s.super_tag_lo[static_cast<std::size_t>((k * T + t) * ns + sb)] >
                                 s.super_tag_hi[static_cast<std::size_t>((k * T + t) * ns + sb)];
          if (!empty && sm[sb] == sm[sb]) super_order_.emplace_back(sm[sb], sb);
        }
        std::sort(super_order_.begin(), super_order_.end(),
                  [](const std::pair<float, std::int64_t>& a, const std::pair<float, std::int64_t>& b) {
                    return a.first > b.first || (a.first == b.first && a.second < b.second);
                  });
        live = static_cast<std::int64_t>(super_order_.size());
        sorted_max_.resize(static_cast<std::size_t>(live));
        sorted_lo_.resize(static_cast<std::size_t>(live * T));
        sorted_hi_.resize(static_cast<std::size_t>(live * T));

        for (std::int64_t i = 0; i < live; ++i) {
          const std::int64_t sb = super_order_[static_cast<std::size_t>(i)].second;
          sorted_max_[static_cast<std::size_t>(i)] = sm[sb];
          for (std::int64_t t = 0; t < T; ++t) {
            sorted_lo_[static_cast<std::size_t>(t * live + i)] = s.super_tag_lo[static_cast<std::size_t>((k * T + t) * ns + sb)];
            sorted_hi_[static_cast<std::size_t>(t * live + i)] = s.super_tag_hi[static_cast<std::size_t>((k * T + t) * ns + sb)];
          }
        }
      }
      const float* prev = prev_tags_.data() + q * T;
      bool found = false;
      float best_v = 0;
      std::int64_t best_i = 0;
      auto consider = [&](float v, std::int64_t i) {
        if (v != v) return;
        if (!found || v > best_v || (v == best_v && i < best_i)) {
          found = true;
          best_v = v;
          best_i = i;
        }
      };
      auto may_win = [&](float ub, std::int64_t first) {
        return !found || ub > best_v || (ub == best_v && first < best_i);
      };
      // Seeds: the joint's peaks, and the pixels earlier searches of this joint chose (persons with
      // similar tags, e.g. the extra persons the matching makes, tend to choose the same pixel:
      // a good first score makes the search below read little).
      {
        const auto ns_ = static_cast<std::int64_t>(seed_idx_.size());
        seed_score_.resize(static_cast<std::size_t>(ns_));
        seed_scores(seed_det_.data(), seed_tag_.data(), ns_, prev, T, seed_score_.data());
        found = best_of(seed_score_.data(), seed_idx_.data(), ns_, best_v, best_i);
      }
      // Bounds for the superblocks whose heatmap maximum reaches the best so far (the rest cannot
      // win: a bound never exceeds the maximum), then those that may win in decreasing bound.
      std::int64_t n = live;
      if (found) n = std::partition_point(sorted_max_.begin(), sorted_max_.begin() + live, [&](float v) { return v >= best_v; }) - sorted_max_.begin();
      region_bounds(sorted_max_.data(), sorted_lo_.data(), sorted_hi_.data(), live, prev, T, n, super_ub_.data());
      super_list_.clear();
      auto list_super = [&](std::int64_t i) {
        const std::int64_t sb = super_order_[static_cast<std::size_t>(i)].second;
        // (a NaN bound, from an infinite heatmap value, sorts first: it must be visited)
        const float ub = super_ub_[static_cast<std::size_t>(i)] == super_ub_[static_cast<std::size_t>(i)]
                             ? super_ub_[static_cast<std::size_t>(i)]
                             : std::numeric_limits<float>::infinity();
        if (may_win(ub, super_first_[static_cast<std::size_t>(sb)])) super_list_.emplace_back(ub, sb);
      };
      std::int64_t i0 = 0;
#if defined(__SSE2__)
      if (found) {  // four at a time past the bounds below the best (NaN passes: !(ub < best))
        const __m128 b = _mm_set1_ps(best_v);
        for (; i0 + 4 <= n; i0 += 4) {
          unsigned pass = static_cast<unsigned>(_mm_movemask_ps(_mm_cmpnlt_ps(_mm_loadu_ps(super_ub_.data() + i0), b)));
          for (std::int64_t i = i0; pass; ++i, pass >>= 1)
            if (pass & 1u) list_super(i);
        }
      }
#endif
      for (std::int64_t i = i0; i < n; ++i) list_super(i);
      std::sort(super_list_.begin(), super_list_.end(),
                [](const std::pair<float, std::int64_t>& a, const std::pair<float, std::int64_t>& b) {
                  return a.first > b.first || (a.first == b.first && a.second < b.second);
                });
      for (const auto& [ub, sb] : super_list_) {
        if (found && ub < best_v) break;  // the rest are bounded lower still
        const std::int64_t sx = sb % sw, sy = sb / sw;
        float bub[kSB];  // the superblock's block bounds, computed together (row-major)
        unsigned live_blocks = ~superblock_bounds(block_max + sb * kSB, block_lo + sb * kSB, block_hi + sb * kSB, nsb,
                                                  prev, T, bub) & ((1u << kSB) - 1u);  // (empty: no usable tag)
#if defined(__SSE2__)
        if (found) {  // only blocks whose bound reaches the best (NaN passes: !(ub < best))
          const __m128 b = _mm_set1_ps(best_v);
          unsigned reach = 0;
          for (std::int64_t j = 0; j < kSB; j += 4)
            reach |= static_cast<unsigned>(_mm_movemask_ps(_mm_cmpnlt_ps(_mm_loadu_ps(bub + j), b))) << j;
          live_blocks &= reach;
        }
#endif
        // Blocks read for the first time in this joint come from memory: ask for their rows at once,
        // so that the misses overlap (the reads below are otherwise one latency after another).
        for (unsigned pf = live_blocks; pf; pf &= pf - 1) {
          const auto j = static_cast<std::int64_t>(__builtin_ctz(pf));
          if (quarter_slot_[static_cast<std::size_t>(sb * kSB + j)] >= 0) continue;
          const std::int64_t i0 = (sy * kSuper + j / kSuper) * kBlock * W + (sx * kSuper + j % kSuper) * kBlock;
          for (std::int64_t r = 0; r < std::min(kBlock, H - (sy * kSuper + j / kSuper) * kBlock); ++r) {
            __builtin_prefetch(det + i0 + r * W);
            __builtin_prefetch(tagk + (i0 + r * W) * T);
            __builtin_prefetch(tagk + (i0 + r * W) * T + kBlock * T - 1);
          }
        }
        for (; live_blocks; live_blocks &= live_blocks - 1) {
          const auto j = static_cast<std::int64_t>(__builtin_ctz(live_blocks));  // row-major order
          const std::int64_t by = sy * kSuper + j / kSuper, bx = sx * kSuper + j % kSuper;
          const std::int64_t x0 = bx * kBlock, i0 = by * kBlock * W + x0;
          if (!may_win(bub[j], i0)) continue;
          const std::int64_t n = std::min(x0 + kBlock, W) - x0, rows = std::min(kBlock, H - by * kBlock);
          float vals[kBlock * kBlock];  // (quarters not scored stay unwritten, masked below)
          float block_best = -std::numeric_limits<float>::infinity();
          unsigned scored = 0xFu;  // the quarters whose scores are in vals (all: the whole block)
          if (n == kBlock && rows == kBlock && (T == 1 || T == 2)) {
            // Full blocks are read by several searches of the joint: the first one records the
            // ranges of the block's four quarters, and each search scores only the quarters
            // whose own bound may still win.
            std::int32_t& slot = quarter_slot_[static_cast<std::size_t>(sb * kSB + j)];
            if (slot < 0) {
              slot = static_cast<std::int32_t>(quarters_.size() / 20);
              quarters_.resize(quarters_.size() + 20);
              quarter_ranges(det + i0, tagk + i0 * T, W, T, quarters_.data() + slot * 20);
            }
            const float* q = quarters_.data() + static_cast<std::int64_t>(slot) * 20;
            float qub[4];
            scored = ~static_cast<unsigned>(region_bounds4(q, q + 4, q + 8, 8, prev, T, qub)) & 0xFu;
#if defined(__SSE2__)
            if (found)  // only quarters whose bound reaches the best (NaN passes: !(ub < best))
              scored &= static_cast<unsigned>(_mm_movemask_ps(_mm_cmpnlt_ps(_mm_loadu_ps(qub), _mm_set1_ps(best_v))));
#endif
            const std::int64_t quarter_first[4] = {0, 4, 4 * W, 4 * W + 4};
            for (unsigned left = scored; left; left &= left - 1) {
              const int qi = __builtin_ctz(left);
              const std::int64_t first = i0 + quarter_first[qi];
              const float ub = qub[qi] == qub[qi] ? qub[qi] : std::numeric_limits<float>::infinity();
              if (!may_win(ub, first)) {
                scored &= ~(1u << qi);
                continue;
              }
              const float m = block_scores(det + first, tagk + first * T, W, prev, 4, 4, T,
                                           vals + 4 * (qi / 2) * kBlock + 4 * (qi % 2));
              block_best = m > block_best ? m : block_best;
            }
            if (!scored) continue;
          } else {
            block_best = block_scores(det + i0, tagk + i0 * T, W, prev, rows, n, T, vals);
          }
          if (!may_win(block_best, i0)) continue;
          for (unsigned q = ~scored & 0xFu; q; q &= q - 1) {  // (defined values where the mask hides them)
            const int qi = __builtin_ctz(q);
            for (std::int64_t r = 0; r < 4; ++r) std::fill_n(vals + (4 * (qi / 2) + r) * kBlock + 4 * (qi % 2), 4, 0.f);
          }
          // The block's arg-max (first in row-major = flat index order; NaN never equals it).
          for (std::int64_t r = 0; r < rows; ++r) {
            // the scored pixels of row r equal to the maximum, as bits (column c: bit c)
            const unsigned row_quarters = (scored >> ((r / 4) * 2)) & 3u;  // (left, right) quarter of row r
            const unsigned scored_cols = (row_quarters & 1u ? 0x0Fu : 0u) | (row_quarters & 2u ? 0xF0u : 0u);
            unsigned hits = 0;
#if defined(__SSE2__)
            if (n == kBlock) {
              const __m128 b = _mm_set1_ps(block_best);
              hits = static_cast<unsigned>(_mm_movemask_ps(_mm_cmpeq_ps(_mm_loadu_ps(vals + r * kBlock), b))) |
                     static_cast<unsigned>(_mm_movemask_ps(_mm_cmpeq_ps(_mm_loadu_ps(vals + r * kBlock + 4), b))) << 4;
            } else
#endif
            {
              for (std::int64_t c = 0; c < n; ++c) hits |= (vals[r * kBlock + c] == block_best ? 1u : 0u) << c;
            }
            hits &= scored_cols;
            if (hits) {
              consider(block_best, i0 + r * W + __builtin_ctz(hits));
              break;
            }
          }
        }
      }
      if (!found) continue;
      if (std::find(seed_idx_.begin(), seed_idx_.end(), best_i) == seed_idx_.end()) add_seed(best_i);
      const float val = det[best_i];
      if (!(val > 0)) continue;
      const std::int64_t x = best_i % W, y = best_i / W;
      row[0] = static_cast<float>(static_cast<double>(x) + 0.5 + quarter_x(det, W, x, y));
      row[1] = static_cast<float>(static_cast<double>(y) + 0.5 + quarter_y(det, H, W, x, y));
      row[2] = val;
    }
  }
}

GroupedPoses HeatmapParser::parse(const PoseMaps& m) {
  const MapSummary& summary = check(m);
  find_candidates(m, summary);
  match(m);
  if (p_.adjust) adjust(m);
  const std::int64_t J = m.num_joints, R = 3 + m.tag_dim;
  GroupedPoses out;
  out.scores.resize(static_cast<std::size_t>(people_));
  for (std::int64_t q = 0; q < people_; ++q)
    out.scores[static_cast<std::size_t>(q)] =
        pairwise_sum(joints_.data() + q * J * R + 2, J, R) / static_cast<float>(J);
  if (p_.refine) refine(m, summary);
  out.persons = Tensor<float, CPU>::empty({people_, J, R});
  std::copy(joints_.begin(), joints_.begin() + people_ * J * R, out.persons.data());
  return out;
}

std::vector<std::vector<HeatmapParser::Candidate>> HeatmapParser::candidates(const PoseMaps& m) {
  find_candidates(m, check(m));
  std::vector<std::vector<Candidate>> out(cand_.size());
  for (std::size_t k = 0; k < cand_.size(); ++k)
    for (const auto& [v, i] : cand_[k]) out[k].push_back({i % m.width, i / m.width, v});
  return out;
}

GroupedPoses group_poses(const PoseMaps& maps, const GroupParams& params) {
  HeatmapParser parser(params);
  return parser.parse(maps);
}

}  // namespace hrnet::pose

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

constexpr std::int64_t kBlock = 8;  // refine's pruning tile (pixels)
constexpr std::int64_t kSuper = 4;  // blocks per superblock side
constexpr std::int64_t kSB = kSuper * kSuper;  // blocks per superblock
static_assert(kSuper == 4, "HeatmapParser::sblock_index (group.hpp) assumes 4x4 blocks per superblock");

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

// region_bound of n consecutive regions (bm[j], lo[t * stride + j], ...) into ub[j], empty[j];
// four at a time with SSE2 (the same float operations, lane by lane), the rest scalar.
void region_bounds(const float* bm, const float* lo, const float* hi, std::int64_t stride, const float* prev,
                   std::int64_t T, std::int64_t n, float* ub, unsigned char* empty) {
  std::int64_t j = 0;
#if defined(__SSE2__)
  const __m128 big = _mm_set1_ps(8388608.f), zero = _mm_setzero_ps();
  for (; j + 4 <= n; j += 4) {
    __m128 s = zero, e = zero;
    for (std::int64_t t = 0; t < T; ++t) {
      const __m128 l = _mm_loadu_ps(lo + t * stride + j), h = _mm_loadu_ps(hi + t * stride + j);
      const __m128 p = _mm_set1_ps(prev[t]);
      e = _mm_or_ps(e, _mm_cmpgt_ps(l, h));
      const __m128 below = _mm_cmplt_ps(p, l), above = _mm_cmpgt_ps(p, h);
      const __m128 d = _mm_or_ps(_mm_and_ps(below, _mm_sub_ps(l, p)),
                                 _mm_andnot_ps(below, _mm_and_ps(above, _mm_sub_ps(p, h))));
      s = _mm_add_ps(s, _mm_mul_ps(d, d));
    }
    const __m128 x = _mm_sqrt_ps(s), lt = _mm_cmplt_ps(x, big);
    const __m128 rounded = _mm_or_ps(_mm_and_ps(lt, _mm_sub_ps(_mm_add_ps(x, big), big)), _mm_andnot_ps(lt, x));
    _mm_storeu_ps(ub + j, _mm_sub_ps(_mm_loadu_ps(bm + j), rounded));
    const int em = _mm_movemask_ps(e);
    for (int q = 0; q < 4; ++q) empty[j + q] = static_cast<unsigned char>((em >> q) & 1);
  }
#endif
  for (; j < n; ++j) {
    bool e;
    ub[j] = region_bound(bm[j], lo + j, hi + j, stride, prev, T, &e);
    empty[j] = e ? 1 : 0;
  }
}

// region_bounds of the kSB blocks of one superblock (arrays by superblock, see sblock_index).
inline void superblock_bounds(const float* bm, const float* lo, const float* hi, std::int64_t stride, const float* prev,
                              std::int64_t T, float (&ub)[kSB], unsigned char (&empty)[kSB]) {
  for (std::int64_t j = 0; j < kSB; j += kSuper)  // (one call per block row)
    region_bounds(bm + j, lo + j, hi + j, stride, prev, T, kSuper, ub + j, empty + j);
}

// The scores of a block of `rows` x n pixels (rows of the maps `stride` pixels apart) into
// out[r * kBlock + j]; returns the largest (NaN ignored, -inf if none). The SSE2 path computes
// exactly what score_at does, four pixels at a time.
float block_scores(const float* det, const float* tag, std::int64_t stride, const float* prev, std::int64_t rows,
                   std::int64_t n, std::int64_t T, float* out) {
  float mx = -std::numeric_limits<float>::infinity();
#if defined(__SSE2__)
  if (n == kBlock && (T == 1 || T == 2)) {
    const __m128 big = _mm_set1_ps(8388608.f), p0 = _mm_set1_ps(prev[0]), p1 = _mm_set1_ps(prev[T - 1]);
    __m128 vmx = _mm_set1_ps(mx);
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* d = det + r * stride;
      const float* g = tag + r * stride * T;
      for (int h = 0; h < 2; ++h) {
        __m128 s;
        if (T == 2) {
          const __m128 a = _mm_loadu_ps(g + 8 * h), b = _mm_loadu_ps(g + 8 * h + 4);
          const __m128 d0 = _mm_sub_ps(_mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), p0);
          const __m128 d1 = _mm_sub_ps(_mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)), p1);
          s = _mm_add_ps(_mm_mul_ps(d0, d0), _mm_mul_ps(d1, d1));
        } else {
          const __m128 d0 = _mm_sub_ps(_mm_loadu_ps(g + 4 * h), p0);
          s = _mm_mul_ps(d0, d0);
        }
        const __m128 x = _mm_sqrt_ps(s), lt = _mm_cmplt_ps(x, big);
        const __m128 rounded = _mm_or_ps(_mm_and_ps(lt, _mm_sub_ps(_mm_add_ps(x, big), big)), _mm_andnot_ps(lt, x));
        const __m128 v = _mm_sub_ps(_mm_loadu_ps(d + 4 * h), rounded);
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

void HeatmapParser::check(const PoseMaps& m) const {
  HRNET_CHECK(m.num_joints == p_.num_joints, ShapeError,
              "HeatmapParser: maps have " << m.num_joints << " joints, the parser expects " << p_.num_joints);
  HRNET_CHECK(m.height >= 1 && m.width >= 1 && m.tag_dim >= 1, ShapeError,
              "HeatmapParser: empty maps (" << m.num_joints << " x " << m.height << " x " << m.width << ", tag dim "
                                            << m.tag_dim << ")");
  const std::int64_t n = m.num_joints * m.height * m.width;
  HRNET_CHECK(static_cast<std::int64_t>(m.heatmaps.size()) == n, ShapeError,
              "HeatmapParser: heatmaps hold " << m.heatmaps.size() << " values, (J, H, W) = (" << m.num_joints << ", "
                                              << m.height << ", " << m.width << ") needs " << n);
  HRNET_CHECK(static_cast<std::int64_t>(m.tags.size()) == n * m.tag_dim, ShapeError,
              "HeatmapParser: tags hold " << m.tags.size() << " values, (J, H, W, T) = (" << m.num_joints << ", "
                                          << m.height << ", " << m.width << ", " << m.tag_dim << ") needs "
                                          << n * m.tag_dim);
}

// NMS (a value survives when no value in its kernel window is larger, like max_pool == det) and
// top-k. Only values above the detection threshold can become candidates, so only those are tested.
void HeatmapParser::find_candidates(const PoseMaps& m) {
  const std::int64_t J = m.num_joints, H = m.height, W = m.width, T = m.tag_dim, pad = p_.nms_padding;
  const float ninf = -std::numeric_limits<float>::infinity();
  // numpy compares float64 copies of the values with the threshold; for a float v, v > thr holds
  // exactly when v > (the largest float <= thr).
  float thr = static_cast<float>(p_.detection_threshold);
  if (static_cast<double>(thr) > p_.detection_threshold) thr = std::nextafter(thr, ninf);
  // The same pass records every joint's 8x8 block maxima for refine.
  bw_ = (W + kBlock - 1) / kBlock;
  bh_ = (H + kBlock - 1) / kBlock;
  const std::int64_t nb = bw_ * bh_;
  all_block_max_.assign(static_cast<std::size_t>(J * nb), ninf);
  cand_.resize(static_cast<std::size_t>(J));
  for (std::int64_t k = 0; k < J; ++k) {
    auto& out = cand_[static_cast<std::size_t>(k)];
    out.clear();
    const float* det = m.heatmaps.data() + k * H * W;
#if defined(__SSE2__)
    const __m128 t = _mm_set1_ps(thr);
#endif
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
    // Block by block (8 rows at a time): the block maximum for refine, and the rows holding a
    // value above the threshold go through the NMS test.
    for (std::int64_t by = 0; by < bh_; ++by) {
      const std::int64_t ya = by * kBlock, rows = std::min(kBlock, H - ya);
      for (std::int64_t bx = 0; bx < bw_; ++bx) {
        const std::int64_t x0 = bx * kBlock, x1 = std::min(x0 + kBlock, W);
        float& bmax = all_block_max_[static_cast<std::size_t>(k * nb + by * bw_ + bx)];
        unsigned hot = 0;  // rows with a value above the threshold
#if defined(__SSE2__)
        if (x1 - x0 == 8) {
          // The maximum first (two operations per half row: the pass is memory-bound); the rows
          // above the threshold only in blocks whose maximum is (NaN is in neither).
          __m128 acc0 = _mm_set1_ps(ninf), acc1 = acc0;
          for (std::int64_t r = 0; r < rows; ++r) {
            const float* c = det + (ya + r) * W + x0;
            acc0 = _mm_max_ps(_mm_loadu_ps(c), acc0);  // NaN lanes keep acc
            acc1 = _mm_max_ps(_mm_loadu_ps(c + 4), acc1);
          }
          __m128 acc = _mm_max_ps(acc0, acc1);
          acc = _mm_max_ps(acc, _mm_shuffle_ps(acc, acc, _MM_SHUFFLE(1, 0, 3, 2)));
          acc = _mm_max_ps(acc, _mm_shuffle_ps(acc, acc, _MM_SHUFFLE(2, 3, 0, 1)));
          bmax = _mm_cvtss_f32(acc);
          if (bmax > thr)
            for (std::int64_t r = 0; r < rows; ++r) {
              const float* c = det + (ya + r) * W + x0;
              const __m128 a = _mm_loadu_ps(c), b = _mm_loadu_ps(c + 4);
              hot |= (_mm_movemask_ps(_mm_or_ps(_mm_cmpgt_ps(a, t), _mm_cmpgt_ps(b, t))) != 0 ? 1u : 0u) << r;
            }
        } else
#endif
        {
          for (std::int64_t r = 0; r < rows; ++r) {
            const float mx = max_ignoring_nan(det + (ya + r) * W + x0, x1 - x0);
            bmax = std::max(bmax, mx);
            hot |= (mx > thr ? 1u : 0u) << r;
          }
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

// Joint k's 32x32 superblock heatmap maxima (from its 8x8 block maxima, kept by find_candidates);
// tag ranges come later, on demand.
void HeatmapParser::prepare_blocks(const PoseMaps& m, std::int64_t k) {
  const std::int64_t T = m.tag_dim, nb = bw_ * bh_, ns = sw_ * sh_;
  const float* block_max = all_block_max_.data() + k * nb;
  const float ninf = -std::numeric_limits<float>::infinity();
  super_max_.assign(static_cast<std::size_t>(ns), ninf);
  // block maxima by superblock (kSB entries each, row-major inside; blocks past the map edge: -inf)
  sblock_max_.assign(static_cast<std::size_t>(ns * kSB), ninf);
  for (std::int64_t by = 0; by < bh_; ++by) {
    float* sm = super_max_.data() + (by / kSuper) * sw_;
    for (std::int64_t bx = 0; bx < bw_; ++bx) {
      const float v = block_max[by * bw_ + bx];
      sm[bx / kSuper] = std::max(sm[bx / kSuper], v);
      sblock_max_[static_cast<std::size_t>(sblock_index(by, bx))] = v;
    }
  }
  strip_ready_.assign(static_cast<std::size_t>(sh_), 0);
  strips_left_ = sh_;
  super_first_.resize(static_cast<std::size_t>(ns));
  for (std::int64_t sy = 0; sy < sh_; ++sy)  // flat index of each superblock's top-left pixel
    for (std::int64_t sx = 0; sx < sw_; ++sx)
      super_first_[static_cast<std::size_t>(sy * sw_ + sx)] = sy * kSuper * kBlock * m.width + sx * kSuper * kBlock;
  block_tag_lo_.resize(static_cast<std::size_t>(ns * kSB * T));
  block_tag_hi_.resize(static_cast<std::size_t>(ns * kSB * T));
  super_tag_lo_.resize(static_cast<std::size_t>(ns * T));
  super_tag_hi_.resize(static_cast<std::size_t>(ns * T));
  super_ub_.resize(static_cast<std::size_t>(ns));
  super_empty_.resize(static_cast<std::size_t>(ns));
}

// Per-dimension tag ranges of every block and superblock in superblock row sy (one horizontal
// strip of the tag map, block by block). NaN tags are ignored: such pixels are never selected, and a
// range with lo > hi holds no usable pixel.
void HeatmapParser::prepare_strip(const PoseMaps& m, std::int64_t k, std::int64_t sy) {
  const std::int64_t H = m.height, W = m.width, T = m.tag_dim;
  const float inf = std::numeric_limits<float>::infinity();
  const std::int64_t full = W / kBlock;  // blocks with all kBlock columns
  const std::int64_t ns = sw_ * sh_, nsb = ns * kSB;
  // block ranges of dimension t: lo[t * nsb + sblock_index(by, bx)] (by superblock, by dimension,
  // for region_bounds); blocks past the map edge stay empty (lo > hi)
  float* lo = block_tag_lo_.data();
  float* hi = block_tag_hi_.data();
  for (std::int64_t t = 0; t < T; ++t) {
    std::fill(lo + t * nsb + sy * sw_ * kSB, lo + t * nsb + (sy + 1) * sw_ * kSB, inf);
    std::fill(hi + t * nsb + sy * sw_ * kSB, hi + t * nsb + (sy + 1) * sw_ * kSB, -inf);
  }
  for (std::int64_t by = sy * kSuper; by < std::min((sy + 1) * kSuper, bh_); ++by) {
    std::int64_t first_scalar = 0;  // blocks from here on go through the scalar loop
#if defined(__SSE2__)
    if (T == 2) {  // 4 vectors of 2 interleaved pixels per block row: lanes (0, 2) dim 0, (1, 3) dim 1
      const std::int64_t rows = std::min(kBlock, H - by * kBlock);
      for (std::int64_t bx = 0; bx < full; ++bx) {
        __m128 vlo = _mm_set1_ps(inf), vhi = _mm_set1_ps(-inf);
        for (std::int64_t r = 0; r < rows; ++r) {
          const float* tag = m.tags.data() + ((k * H + by * kBlock + r) * W + bx * kBlock) * T;
          for (int j = 0; j < 4; ++j) {
            const __m128 v = _mm_loadu_ps(tag + 4 * j);
            vlo = _mm_min_ps(v, vlo);  // minps/maxps return the second operand on NaN
            vhi = _mm_max_ps(v, vhi);
          }
        }
        vlo = _mm_min_ps(vlo, _mm_shuffle_ps(vlo, vlo, _MM_SHUFFLE(1, 0, 3, 2)));
        vhi = _mm_max_ps(vhi, _mm_shuffle_ps(vhi, vhi, _MM_SHUFFLE(1, 0, 3, 2)));
        float l[4], h[4];
        _mm_storeu_ps(l, vlo);
        _mm_storeu_ps(h, vhi);
        const std::int64_t e = sblock_index(by, bx);
        lo[e] = l[0];
        lo[nsb + e] = l[1];
        hi[e] = h[0];
        hi[nsb + e] = h[1];
      }
      first_scalar = full;
    }
#endif
    for (std::int64_t y = by * kBlock; y < std::min((by + 1) * kBlock, H); ++y) {
      const float* tag = m.tags.data() + (k * H + y) * W * T;
      for (std::int64_t x = first_scalar * kBlock; x < W; ++x) {
        const std::int64_t e = sblock_index(by, x / kBlock);
        for (std::int64_t t = 0; t < T; ++t) {
          const float v = tag[x * T + t];
          float& l = lo[t * nsb + e];
          float& h = hi[t * nsb + e];
          l = v < l ? v : l;
          h = v > h ? v : h;
        }
      }
    }
  }
  for (std::int64_t sx = 0; sx < sw_; ++sx) {
    const std::int64_t sb = sy * sw_ + sx;
    for (std::int64_t t = 0; t < T; ++t) {
      float slo = inf, shi = -inf;
      for (std::int64_t j = 0; j < kSB; ++j) {
        slo = std::min(slo, lo[t * nsb + sb * kSB + j]);
        shi = std::max(shi, hi[t * nsb + sb * kSB + j]);
      }
      super_tag_lo_[static_cast<std::size_t>(t * ns + sb)] = slo;
      super_tag_hi_[static_cast<std::size_t>(t * ns + sb)] = shi;
    }
  }
  strip_ready_[static_cast<std::size_t>(sy)] = 1;
  --strips_left_;
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
void HeatmapParser::refine(const PoseMaps& m) {
  const std::int64_t J = m.num_joints, H = m.height, W = m.width, T = m.tag_dim, R = 3 + T;
  sw_ = (bw_ + kSuper - 1) / kSuper;
  sh_ = (bh_ + kSuper - 1) / kSuper;

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
    bool prepared = false;
    const float* det = m.heatmaps.data() + k * H * W;
    const float* tagk = m.tags.data() + k * H * W * T;
    for (std::int64_t q = 0; q < people_; ++q) {
      float* row = joints_.data() + (q * J + k) * R;
      if (!prev_ready_[static_cast<std::size_t>(q)] || row[2] != 0) continue;
      if (!prepared) {
        prepare_blocks(m, k);
        prepared = true;
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
      for (const auto& [v, i] : cand_[static_cast<std::size_t>(k)])  // seeds: the joint's peaks
        consider(score_at(det, tagk, prev, T, i), i);
      // Superblocks whose heatmap maximum may still win need their tag boxes (strips made on
      // demand); then all superblock bounds at once, and the candidates in decreasing bound.
      const std::int64_t ns = sw_ * sh_;
      for (std::int64_t sy = 0; sy < sh_ && strips_left_ > 0; ++sy) {
        if (strip_ready_[static_cast<std::size_t>(sy)]) continue;
        for (std::int64_t sb = sy * sw_; sb < (sy + 1) * sw_; ++sb)
          if (may_win(super_max_[static_cast<std::size_t>(sb)], super_first_[static_cast<std::size_t>(sb)])) {
            prepare_strip(m, k, sy);
            break;
          }
      }
      const float* sm = super_max_.data();
      const float* sub = super_ub_.data();
      const unsigned char* sempty = super_empty_.data();
      region_bounds(sm, super_tag_lo_.data(), super_tag_hi_.data(), ns, prev, T, ns, super_ub_.data(), super_empty_.data());
      super_list_.clear();
      // may_win(bound), then may_win(heatmap maximum): the bound of a superblock whose strip was
      // not needed is stale
      auto list_super = [&](std::int64_t sb) {
        const std::int64_t first = super_first_[static_cast<std::size_t>(sb)];
        if (sempty[sb] || !may_win(sub[sb], first) || !may_win(sm[sb], first)) return;
        super_list_.emplace_back(sub[sb], sb);
      };
      std::int64_t sb0 = 0;
#if defined(__SSE2__)
      if (found) {  // four at a time, past those below the best (may_win needs both >= best_v)
        const __m128 b = _mm_set1_ps(best_v);
        for (; sb0 + 4 <= ns; sb0 += 4) {
          unsigned pass = static_cast<unsigned>(
              _mm_movemask_ps(_mm_and_ps(_mm_cmpge_ps(_mm_loadu_ps(sub + sb0), b), _mm_cmpge_ps(_mm_loadu_ps(sm + sb0), b))));
          for (std::int64_t sb = sb0; pass; ++sb, pass >>= 1)
            if (pass & 1u) list_super(sb);
        }
      }
#endif
      for (std::int64_t sb = sb0; sb < ns; ++sb) list_super(sb);
      std::sort(super_list_.begin(), super_list_.end(),
                [](const std::pair<float, std::int64_t>& a, const std::pair<float, std::int64_t>& b) {
                  return a.first > b.first || (a.first == b.first && a.second < b.second);
                });
      const std::int64_t nsb = ns * kSB;
      for (const auto& [ub, sb] : super_list_) {
        if (found && ub < best_v) break;  // the rest are bounded lower still
        const std::int64_t sx = sb % sw_, sy = sb / sw_;
        float bub[kSB];  // the superblock's block bounds, computed together (row-major)
        unsigned char bempty[kSB];
        superblock_bounds(sblock_max_.data() + sb * kSB, block_tag_lo_.data() + sb * kSB,
                          block_tag_hi_.data() + sb * kSB, nsb, prev, T, bub, bempty);
        for (std::int64_t j = 0; j < kSB; ++j) {
          {  // block j of the superblock
            const std::int64_t by = sy * kSuper + j / kSuper, bx = sx * kSuper + j % kSuper;
            if (bempty[j]) continue;  // also every block past the map edge
            const std::int64_t x0 = bx * kBlock, i0 = by * kBlock * W + x0;
            if (!may_win(bub[j], i0)) continue;
            const std::int64_t n = std::min(x0 + kBlock, W) - x0, rows = std::min(kBlock, H - by * kBlock);
            float vals[kBlock * kBlock];
            const float block_best = block_scores(det + i0, tagk + i0 * T, W, prev, rows, n, T, vals);
            if (!may_win(block_best, i0)) continue;
            // The block's arg-max (first in row-major = flat index order; NaN never equals it).
            for (std::int64_t r = 0, hit = 0; r < rows && !hit; ++r)
              for (std::int64_t c = 0; c < n; ++c)
                if (vals[r * kBlock + c] == block_best) {
                  consider(block_best, i0 + r * W + c);
                  hit = 1;
                  break;
                }
          }
        }
      }
      if (!found) continue;
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
  check(m);
  find_candidates(m);
  match(m);
  if (p_.adjust) adjust(m);
  const std::int64_t J = m.num_joints, R = 3 + m.tag_dim;
  GroupedPoses out;
  out.scores.resize(static_cast<std::size_t>(people_));
  for (std::int64_t q = 0; q < people_; ++q)
    out.scores[static_cast<std::size_t>(q)] =
        pairwise_sum(joints_.data() + q * J * R + 2, J, R) / static_cast<float>(J);
  if (p_.refine) refine(m);
  out.persons = Tensor<float, CPU>::empty({people_, J, R});
  std::copy(joints_.begin(), joints_.begin() + people_ * J * R, out.persons.data());
  return out;
}

std::vector<std::vector<HeatmapParser::Candidate>> HeatmapParser::candidates(const PoseMaps& m) {
  check(m);
  find_candidates(m);
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

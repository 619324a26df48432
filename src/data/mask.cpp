// Binary masks and COCO run-length encoding (see hrnet/data/mask.hpp for the exactness rules).
#include "hrnet/data/mask.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace hrnet::data {

namespace detail {
inline void check_rle(const Rle& r, const char* who) {
  HRNET_CHECK(r.height >= 0 && r.width >= 0, ValueError, who << ": negative RLE size " << r.height << "x" << r.width);
  std::uint64_t sum = 0;
  for (auto c : r.counts) sum += c;
  const std::uint64_t hw = std::uint64_t(r.height) * std::uint64_t(r.width);
  HRNET_CHECK(sum == hw, ValueError,
              who << ": RLE counts sum to " << sum << " but the mask is " << r.height << "x" << r.width << " = " << hw
                  << " pixels");
}
// Forces a rounded product (no contraction into an FMA with the following addition).
inline double product(double a, double b) {
  volatile double p = a * b;
  return p;
}
}  // namespace detail

Rle rle_encode(const Mask& m) {
  HRNET_CHECK(m.data.size() == std::size_t(m.height) * std::size_t(m.width), ValueError,
              "rle_encode: mask data has " << m.data.size() << " elements for " << m.height << "x" << m.width);
  Rle r{m.height, m.width, {}};
  std::uint32_t c = 0;
  std::uint8_t p = 0;
  for (int x = 0; x < m.width; ++x)
    for (int y = 0; y < m.height; ++y) {
      const std::uint8_t v = m.at(y, x) != 0;
      if (v != p) {
        r.counts.push_back(c);
        c = 0;
        p = v;
      }
      ++c;
    }
  r.counts.push_back(c);
  return r;
}

void rle_decode_or(const Rle& r, Mask& m) {
  detail::check_rle(r, "rle_decode");
  HRNET_CHECK(r.height == m.height && r.width == m.width, ShapeError,
              "rle_decode: RLE of " << r.height << "x" << r.width << " into a mask of " << m.height << "x" << m.width);
  const std::uint64_t h = std::uint64_t(r.height);
  rle_for_each_run(r, [&](std::uint64_t b, std::uint64_t e) {
    for (std::uint64_t i = b; i < e; ++i) m.data[(i % h) * std::uint64_t(m.width) + i / h] = 1;
  });
}

Mask rle_decode(const Rle& r) {
  Mask m(r.height, r.width, 0);
  rle_decode_or(r, m);
  return m;
}

std::uint64_t rle_area(const Rle& r) {
  std::uint64_t a = 0;
  for (std::size_t j = 1; j < r.counts.size(); j += 2) a += r.counts[j];
  return a;
}

std::string rle_to_string(const Rle& r) {
  std::string s;
  s.reserve(r.counts.size() * 2);
  for (std::size_t i = 0; i < r.counts.size(); ++i) {
    std::int64_t x = std::int64_t(r.counts[i]);
    if (i > 2) x -= std::int64_t(r.counts[i - 2]);
    bool more = true;
    while (more) {
      char c = char(x & 0x1f);
      x >>= 5;  // arithmetic shift (C++20)
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c = char(c | 0x20);
      s.push_back(char(c + 48));
    }
  }
  return s;
}

Rle rle_from_string(std::string_view s, int h, int w) {
  Rle r{h, w, {}};
  std::size_t p = 0;
  while (p < s.size()) {
    std::int64_t x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      HRNET_CHECK(p < s.size(), ValueError, "rle_from_string: counts string ends inside a value: \"" << s << "\"");
      const int ch = static_cast<unsigned char>(s[p]);
      HRNET_CHECK(ch >= 48 && ch < 48 + 64, ValueError,
                  "rle_from_string: invalid character '" << s[p] << "' at " << p << " in counts string");
      HRNET_CHECK(k < 7, ValueError, "rle_from_string: value too long at " << p << " in counts string");
      const int c = ch - 48;
      x |= std::int64_t(c & 0x1f) << (5 * k);
      more = (c & 0x20) != 0;
      ++p;
      ++k;
      if (!more && (c & 0x10)) x |= -(std::int64_t(1) << (5 * k));
    }
    const std::size_t m = r.counts.size();
    if (m > 2) x += std::int64_t(r.counts[m - 2]);
    HRNET_CHECK(x >= 0 && x <= std::int64_t(std::numeric_limits<std::uint32_t>::max()), ValueError,
                "rle_from_string: run " << m << " decodes to " << x);
    r.counts.push_back(std::uint32_t(x));
  }
  detail::check_rle(r, "rle_from_string");
  return r;
}

Rle rle_from_counts(std::vector<std::uint32_t> counts, int h, int w) {
  Rle r{h, w, std::move(counts)};
  detail::check_rle(r, "rle_from_counts");
  return r;
}

Rle rle_merge(std::span<const Rle> rs, bool intersect) {
  if (rs.empty()) return Rle{};
  for (const auto& r : rs) detail::check_rle(r, "rle_merge");
  if (rs.size() == 1) return rs[0];
  const int h = rs[0].height, w = rs[0].width;
  std::vector<std::uint32_t> cnts = rs[0].counts;
  for (std::size_t i = 1; i < rs.size(); ++i) {
    const Rle& B = rs[i];
    HRNET_CHECK(B.height == h && B.width == w, ShapeError,
                "rle_merge: RLE " << i << " is " << B.height << "x" << B.width << ", RLE 0 is " << h << "x" << w);
    const std::vector<std::uint32_t> A = std::move(cnts);
    cnts.clear();
    std::uint32_t ca = A.empty() ? 0 : A[0], cb = B.counts.empty() ? 0 : B.counts[0];
    int v = 0, va = 0, vb = 0, vp;
    std::size_t a = 1, b = 1;
    std::uint32_t cc = 0, ct = 1;
    while (ct > 0) {
      const std::uint32_t c = std::min(ca, cb);
      cc += c;
      ct = 0;
      ca -= c;
      if (!ca && a < A.size()) {
        ca = A[a++];
        va = !va;
      }
      ct += ca;
      cb -= c;
      if (!cb && b < B.counts.size()) {
        cb = B.counts[b++];
        vb = !vb;
      }
      ct += cb;
      vp = v;
      v = intersect ? (va && vb) : (va || vb);
      if (v != vp || ct == 0) {
        cnts.push_back(cc);
        cc = 0;
      }
    }
  }
  return Rle{h, w, std::move(cnts)};
}

namespace {

// One edge of rleFrPoly's dense boundary: point(d), d = 0..n, in the order rleFrPoly emits them,
// computed in 64-bit (coordinates scaled by 5 reach +-2e9: their differences overflow int).
struct PolyEdge {
  std::int64_t xs = 0, ys = 0, dx = 0, dy = 0, n = 0;
  bool flip = false, by_x = true;  // by_x: dx >= dy (one point per x step)
  double s = 0;

  PolyEdge(std::int64_t x0, std::int64_t y0, std::int64_t x1, std::int64_t y1) {
    xs = x0;
    ys = y0;
    std::int64_t xe = x1, ye = y1;
    dx = xe > xs ? xe - xs : xs - xe;
    dy = ye > ys ? ye - ys : ys - ye;
    by_x = dx >= dy;
    flip = (by_x && xs > xe) || (!by_x && ys > ye);
    if (flip) {
      std::swap(xs, xe);
      std::swap(ys, ye);
    }
    n = by_x ? dx : dy;
    if (n > 0) s = by_x ? double(ye - ys) / double(dx) : double(xe - xs) / double(dy);
  }
  std::int64_t u(std::int64_t d) const {
    if (n == 0) return xs;
    const std::int64_t t = flip ? n - d : d;
    return by_x ? t + xs : std::int64_t(double(xs) + detail::product(s, double(t)) + .5);
  }
  std::int64_t v(std::int64_t d) const {
    // pycocotools computes 0/0 for a zero-length edge and casts NaN to int; the point lies between
    // two points with the same u, so its v is never read. Use ys (no undefined behaviour).
    if (n == 0) return ys;
    const std::int64_t t = flip ? n - d : d;
    return by_x ? std::int64_t(double(ys) + detail::product(s, double(t)) + .5) : t + ys;
  }
};

// First d in [b, e) with pred(d) true, for a predicate that is false then true over [b, e); e if none.
template <class P>
std::int64_t first_true(std::int64_t b, std::int64_t e, P&& pred) {
  while (b < e) {
    const std::int64_t m = b + (e - b) / 2;
    if (pred(m))
      e = m;
    else
      b = m + 1;
  }
  return b;
}

}  // namespace

Rle rle_from_polygon(std::span<const double> xy, int h, int w) {
  HRNET_CHECK(h >= 0 && w >= 0, ValueError, "rle_from_polygon: negative size " << h << "x" << w);
  HRNET_CHECK(std::uint64_t(h) * std::uint64_t(w) <= std::numeric_limits<std::uint32_t>::max(), ValueError,
              "rle_from_polygon: a " << h << "x" << w << " mask has more pixels than 32-bit RLE counts can hold");
  const std::size_t k = xy.size() / 2;
  const double scale = 5;
  for (double c : xy)
    HRNET_CHECK(std::isfinite(c) && std::abs(c) < 4.0e8, ValueError,
                "rle_from_polygon: polygon coordinate " << c << " is not finite or out of range");
  // An empty mask has no y-boundary points (pycocotools' output for w == 0 is not a valid RLE).
  if (h == 0 || w == 0) return Rle{h, w, {0}};
  std::vector<std::int64_t> x(k + 1), y(k + 1);
  for (std::size_t j = 0; j < k; ++j) x[j] = std::int64_t(detail::product(scale, xy[j * 2 + 0]) + .5);
  for (std::size_t j = 0; j < k; ++j) y[j] = std::int64_t(detail::product(scale, xy[j * 2 + 1]) + .5);
  if (k > 0) {
    x[k] = x[0];
    y[k] = y[0];
  }
  // rleFrPoly walks every point of the dense boundary (max(dx, dy) + 1 per edge: 4e9 for one edge
  // of a far-away vertex) and keeps the pairs (p[j-1], p[j]) with u[j] != u[j-1] whose column
  // xd = (min(u) + .5) / 5 - .5 is an integer in [0, w - 1]. The kept pair's u[j] is then in
  // [2, 5w - 2]. u is monotone along an edge and steps by at most 1, so we visit only the points
  // of that u range where u changes (binary searches): the work is bounded by the polygon's size
  // times the image width, whatever the coordinates, and the y-boundary points are the same.
  const std::int64_t ulo = 2, uhi = 5 * std::int64_t(w) - 2;
  const double wmax = double(w - 1), hd = double(h);
  std::vector<std::uint32_t> a;
  auto pair = [&](std::int64_t u0, std::int64_t v0, std::int64_t u1, std::int64_t v1) {
    if (u1 == u0) return;
    double xd = double(u1 < u0 ? u1 : u1 - 1);
    xd = (xd + .5) / scale - .5;
    if (std::floor(xd) != xd || xd < 0 || xd > wmax) return;
    double yd = double(v1 < v0 ? v1 : v0);
    yd = (yd + .5) / scale - .5;
    if (yd < 0)
      yd = 0;
    else if (yd > hd)
      yd = hd;
    yd = std::ceil(yd);
    a.push_back(std::uint32_t(std::uint64_t(xd) * std::uint64_t(h) + std::uint64_t(yd)));
  };
  std::int64_t last_u = 0, last_v = 0;  // the previous edge's last point
  for (std::size_t j = 0; j < k; ++j) {
    const PolyEdge e(x[j], y[j], x[j + 1], y[j + 1]);
    const std::int64_t n = e.n;
    // the d (0..n) with ulo <= u(d) <= uhi: an interval, u being monotone in d
    std::int64_t d0, d1;
    if (e.u(0) <= e.u(n)) {
      d0 = first_true(0, n + 1, [&](std::int64_t d) { return e.u(d) >= ulo; });
      d1 = first_true(0, n + 1, [&](std::int64_t d) { return e.u(d) > uhi; }) - 1;
    } else {
      d0 = first_true(0, n + 1, [&](std::int64_t d) { return e.u(d) <= uhi; });
      d1 = first_true(0, n + 1, [&](std::int64_t d) { return e.u(d) < ulo; }) - 1;
    }
    // the very first point of the polygon has no predecessor
    for (std::int64_t d = std::max<std::int64_t>(d0, j == 0 ? 1 : 0); d <= d1;) {
      const std::int64_t ud = e.u(d);
      if (d == 0)
        pair(last_u, last_v, ud, e.v(d));
      else
        pair(e.u(d - 1), e.v(d - 1), ud, e.v(d));
      // next: the first point after d whose u differs (the points in between repeat u(d): skipped)
      d = e.by_x && n > 0 ? d + 1 : first_true(d + 1, n + 1, [&](std::int64_t q) { return e.u(q) != ud; });
    }
    last_u = e.u(n);
    last_v = e.v(n);
  }
  // compute the RLE from the y-boundary points
  a.push_back(std::uint32_t(std::size_t(h) * std::size_t(w)));
  std::sort(a.begin(), a.end());
  std::uint32_t p = 0;
  for (auto& e : a) {
    const std::uint32_t t = e;
    e -= p;
    p = t;
  }
  Rle r{h, w, {}};
  std::size_t j = 0;
  r.counts.push_back(a[j++]);
  while (j < a.size()) {
    if (a[j] > 0) {
      r.counts.push_back(a[j++]);
    } else {
      ++j;
      if (j < a.size()) r.counts.back() += a[j++];
    }
  }
  return r;
}

std::vector<Rle> rle_from_polygons(const std::vector<std::vector<double>>& polys, int h, int w) {
  HRNET_CHECK(!polys.empty(), ValueError, "rle_from_polygons: empty polygon list (pycocotools rejects it)");
  HRNET_CHECK(polys[0].size() > 4, ValueError,
              "rle_from_polygons: the first polygon has " << polys[0].size()
                                                          << " coordinates; pycocotools needs more than 4");
  std::vector<Rle> out;
  out.reserve(polys.size());
  for (const auto& p : polys) out.push_back(rle_from_polygon(p, h, w));
  return out;
}

Mask mask_union(std::span<const Mask> ms) {
  HRNET_CHECK(!ms.empty(), ValueError, "mask_union: no masks");
  Mask out(ms[0].height, ms[0].width, 0);
  for (const auto& m : ms) {
    HRNET_CHECK(m.height == out.height && m.width == out.width, ShapeError,
                "mask_union: mask of " << m.height << "x" << m.width << " with " << out.height << "x" << out.width);
    for (std::size_t i = 0; i < out.data.size(); ++i) out.data[i] |= std::uint8_t(m.data[i] != 0);
  }
  return out;
}

}  // namespace hrnet::data

// CUDA element-wise, data-movement, resize and pooling kernels against the CPU backend, for float,
// half and bfloat16, forward and backward; plus CPU-only checks of the per-element math the kernels
// share with the host (hrnet/backend/elementwise_math.hpp).
//
// Tolerances (GPU result vs the CPU backend run in float on the same T-rounded inputs):
// - copies, selections (max pool, concat/slice forward, upsample forward, transposes, relu): exact.
// - one fp32 operation then one rounding to T (relu backward, accumulate, concat/slice backward):
//   rtol = unit_roundoff<T>() (the output rounding), plus an absolute 2^-24 for half, whose
//   subnormals below 2^-14 have an absolute spacing of 2^-24.
// - sums of k terms: the kernels add in fp32 in the CPU backend's order, so only the output rounding
//   differs; we still allow the fp32 accumulation bound k * 2^-24 * sum|x| on top of it.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "cuda_test_util.hpp"
#include "hrnet/backend/cpu.hpp"
#include "elementwise_math.hpp"

namespace {

using namespace hrnet;
using namespace hrnet::test;
template <class T> using GT = Tensor<T, CUDA>;
using CF = Tensor<float, CPU>;

// ---- helpers ------------------------------------------------------------------------------------

// A device tensor and the storage that keeps it alive; `misalign` places it one element past a
// 16-byte boundary, so every kernel must take its scalar path.
template <class T> struct Dev {
  GT<T> keep, t;
};
template <class T>
Dev<T> upload(const Tensor<T, CPU>& h, bool misalign) {
  if (!misalign) {
    auto d = to_cuda(h);
    return {d, d};
  }
  auto keep = GT<T>::empty(Shape{h.numel() + 1});
  auto t = GT<T>::wrap(keep.data() + 1, h.shape());
  if (h.numel()) cuda::copy_host_to_device(t.data(), h.data(), h.bytes());
  return {keep, t};
}

// Random T values in [-1, 1) on the device (optionally misaligned) and their float copy on the host.
template <class T> struct Pair {
  Dev<T> d;
  CF h;
};
template <class T>
Pair<T> make(const Shape& s, std::uint64_t seed, bool misalign = false) {
  auto h = random_tensor<T>(s, seed);
  return {upload(h, misalign), cast<float>(h)};
}

// Absolute slack for the half subnormal range (values below 2^-14 have spacing 2^-24).
template <class T> constexpr double sub_atol() { return std::is_same_v<T, half> ? 0x1p-24 : 0.0; }
// k terms of magnitude below 1: fp32 accumulation error bound k * 2^-24 * sum|x| <= k^2 2^-24.
template <class T> double sum_atol(int k) { return sub_atol<T>() + double(k) * k * 0x1p-24; }

// See the bilinear tests: FMA contraction in the CPU build moves the source coordinate by one rounding.
double bilinear_atol(std::int64_t H, std::int64_t W) { return (4.0 * std::max(H, W) + 4.0) * 0x1p-24; }

template <class T> const char* tname() {
  if constexpr (std::is_same_v<T, float>) return "float";
  else if constexpr (std::is_same_v<T, half>) return "half";
  else return "bfloat16";
}

std::string label(const char* op, const Shape& s, bool misalign) {
  std::ostringstream os;
  os << op << " " << s << (misalign ? " misaligned" : "");
  return os.str();
}

// ======================= CPU-only checks of the shared per-element math =============================

TEST_CASE("ewm half conversion is bit exact against hrnet half", "[ewm]") {
  // Every 16-bit pattern to float.
  for (std::uint32_t b = 0; b < 0x10000u; ++b) {
    const float want = half::to_float(static_cast<std::uint16_t>(b));
    const float got = ewm::half_bits_to_f32(static_cast<std::uint16_t>(b));
    REQUIRE(ewm::f32_bits(got) == ewm::f32_bits(want));
  }
  // A dense sweep of float patterns (both signs, every exponent, NaN payloads) plus the rounding
  // boundaries: ties around each half spacing, the overflow threshold, the subnormal range.
  std::vector<std::uint32_t> xs;
  for (std::uint64_t x = 0; x < 0x100000000ull; x += 251) xs.push_back(static_cast<std::uint32_t>(x));
  for (std::uint32_t m = 0; m < 0x10000u; ++m) {
    const std::uint32_t hi = m << 16;
    for (std::uint32_t lo : {0x0000u, 0x0fffu, 0x1000u, 0x1001u, 0x2000u, 0x3000u, 0xefffu, 0xf000u, 0xffffu})
      xs.push_back(hi | lo);
  }
  for (std::uint32_t a : {0x477fefffu, 0x477ff000u, 0x477ff001u, 0x38800000u, 0x387fffffu, 0x33000000u, 0x33000001u,
                          0x32ffffffu, 0x7f800000u, 0x7f800001u, 0x7fc00000u, 0x7fffffffu, 0x00000001u})
    for (std::uint32_t sign : {0u, 0x80000000u}) xs.push_back(a | sign);
  std::size_t bad = 0;
  std::uint32_t first_bad = 0;
  for (std::uint32_t x : xs) {
    const float f = ewm::bits_f32(x);
    if (ewm::half_bits_from_f32(f) != half::from_float(f) && bad++ == 0) first_bad = x;
  }
  INFO("first mismatching float bits " << std::hex << first_bad);
  REQUIRE(bad == 0);
}

TEST_CASE("ewm bfloat16 conversion is bit exact against hrnet bfloat16", "[ewm]") {
  for (std::uint32_t b = 0; b < 0x10000u; ++b) {
    const float want = bfloat16::to_float(static_cast<std::uint16_t>(b));
    REQUIRE(ewm::f32_bits(ewm::bf16_bits_to_f32(static_cast<std::uint16_t>(b))) == ewm::f32_bits(want));
  }
  std::size_t bad = 0;
  std::uint32_t first_bad = 0;
  auto check = [&](std::uint32_t x) {
    const float f = ewm::bits_f32(x);
    if (ewm::bf16_bits_from_f32(f) != bfloat16::from_float(f) && bad++ == 0) first_bad = x;
  };
  for (std::uint64_t x = 0; x < 0x100000000ull; x += 251) check(static_cast<std::uint32_t>(x));
  for (std::uint32_t m = 0; m < 0x10000u; ++m)
    for (std::uint32_t lo : {0x0000u, 0x7fffu, 0x8000u, 0x8001u, 0xffffu}) check((m << 16) | lo);
  INFO("first mismatching float bits " << std::hex << first_bad);
  REQUIRE(bad == 0);
}

TEST_CASE("ewm FastDiv equals integer division below 2^31", "[ewm]") {
  Rng rng(7);
  std::vector<std::uint32_t> divisors = {1, 2, 3, 5, 7, 8, 13, 37, 64, 100, 641, 4096, 65535, 65536, 65537,
                                         0x7fffffffu, 0x80000000u, 0x40000001u, 0x55555555u};
  for (int i = 0; i < 200; ++i) divisors.push_back(static_cast<std::uint32_t>(1 + rng.below(0x80000000ull)));
  for (int i = 0; i < 200; ++i) divisors.push_back(static_cast<std::uint32_t>(1 + rng.below(5000)));
  for (std::uint32_t d : divisors) {
    const ewm::FastDiv f(d);
    std::vector<std::uint32_t> ns = {0, 1, d - 1, d, 0x7fffffffu, 0x7ffffffeu};
    if (d < 0x40000000u) ns.insert(ns.end(), {d + 1, 2 * d - 1, 2 * d});
    for (std::uint32_t q : {3u, 1000u, 123457u})
      if (std::uint64_t(q) * d + d < 0x80000000ull) ns.insert(ns.end(), {q * d - 1, q * d, q * d + d - 1});
    for (int i = 0; i < 300; ++i) ns.push_back(static_cast<std::uint32_t>(rng.below(0x80000000ull)));
    for (std::uint32_t n : ns) {
      if (n >= ewm::kFastDivLimit) continue;
      INFO("n " << n << " d " << d);
      REQUIRE(f.div(n) == n / d);
      REQUIRE(f.mod(n) == n % d);
    }
  }
}

TEST_CASE("ewm relu math matches cpu relu forward and backward including NaN", "[ewm]") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const std::vector<float> v = {-2.f, -0.f, 0.f, 1e-30f, -1e-30f, 3.5f, nan, inf, -inf, 0.25f};
  auto x = CF::from_vector({1, 1, 1, static_cast<std::int64_t>(v.size())}, v);
  auto y = CF::empty(x.shape());
  cpu::relu_forward(x, y);
  for (std::size_t i = 0; i < v.size(); ++i)
    REQUIRE(ewm::f32_bits(ewm::relu_value(v[i])) == ewm::f32_bits(y[static_cast<std::int64_t>(i)]));
  // backward: every (y, g) pair of the values above, accumulated onto 0.5
  const std::int64_t n = static_cast<std::int64_t>(v.size() * v.size());
  auto yy = CF::empty({n}), gg = CF::empty({n}), dx = CF::full({n}, 0.5f);
  for (std::size_t i = 0; i < v.size(); ++i)
    for (std::size_t j = 0; j < v.size(); ++j) {
      yy[static_cast<std::int64_t>(i * v.size() + j)] = v[i];
      gg[static_cast<std::int64_t>(i * v.size() + j)] = v[j];
    }
  cpu::relu_backward(yy, gg, dx);
  for (std::int64_t i = 0; i < n; ++i)
    REQUIRE(ewm::f32_bits(0.5f + ewm::relu_grad(yy[i], gg[i])) == ewm::f32_bits(dx[i]));
}

TEST_CASE("ewm bilinear source indices and weights reproduce cpu resize_bilinear_forward to rounding", "[ewm]") {
  Rng rng(11);
  for (int trial = 0; trial < 40; ++trial) {
    const std::int64_t N = 1 + rng.below(2), C = 1 + rng.below(5), H = 1 + rng.below(20), W = 1 + rng.below(20);
    const std::int64_t Ho = 1 + rng.below(40), Wo = 1 + rng.below(40);
    auto x = random_tensor<float>({N, C, H, W}, 100 + trial);
    auto y = CF::empty({N, C, Ho, Wo});
    cpu::resize_bilinear_forward(x, y);
    auto e = CF::empty(y.shape());
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t oh = 0; oh < Ho; ++oh) {
        const auto hs = ewm::linear_source(int(H), int(Ho), int(oh));
        for (std::int64_t ow = 0; ow < Wo; ++ow) {
          const auto ws = ewm::linear_source(int(W), int(Wo), int(ow));
          for (std::int64_t c = 0; c < C; ++c)
            e.at(n, c, oh, ow) = ewm::bilinear_blend(hs.l0, hs.l1, ws.l0, ws.l1, x.at(n, c, hs.i0, ws.i0),
                                                     x.at(n, c, hs.i0, ws.i1), x.at(n, c, hs.i1, ws.i0),
                                                     x.at(n, c, hs.i1, ws.i1));
        }
      }
    // The CPU kernels are built with -march=x86-64-v3 (HRNET_CPU_ARCH), so GCC may contract their
    // products into FMAs, which the shared math deliberately does not (host and device must agree).
    // A contraction moves the source coordinate (< max(H, W)) by one rounding, i.e. the weights by
    // up to max(H, W) 2^-24, and the result (|neighbour differences| < 2) by twice that per axis.
    // A wrong index or weight shows up as an error of order 1e-2.
    require_close(e, y, 0.0, bilinear_atol(H, W), "bilinear emulation");
  }
}

TEST_CASE("ewm pool_max matches cpu max_pool_forward including NaN", "[ewm]") {
  auto x = random_tensor<float>({2, 3, 7, 6}, 5);
  x.at(0, 1, 2, 3) = std::numeric_limits<float>::quiet_NaN();
  x.at(1, 2, 0, 0) = std::numeric_limits<float>::quiet_NaN();
  const int k = 3, s = 2, p = 1;
  auto y = CF::empty({2, 3, 4, 3});
  cpu::max_pool_forward(x, y, k, s, p);
  for (std::int64_t n = 0; n < 2; ++n)
    for (std::int64_t c = 0; c < 3; ++c)
      for (std::int64_t oh = 0; oh < 4; ++oh)
        for (std::int64_t ow = 0; ow < 3; ++ow) {
          float acc = -std::numeric_limits<float>::infinity();
          for (int kh = 0; kh < k; ++kh)
            for (int kw = 0; kw < k; ++kw) {
              const std::int64_t ih = oh * s - p + kh, iw = ow * s - p + kw;
              if (ih >= 0 && ih < 7 && iw >= 0 && iw < 6) acc = ewm::pool_max(acc, x.at(n, c, ih, iw));
            }
          REQUIRE(ewm::f32_bits(acc) == ewm::f32_bits(y.at(n, c, oh, ow)));
        }
}

TEST_CASE("ewm fusion index decomposition reproduces cpu fusion_sum_relu_forward", "[ewm]") {
  // The forward kernel's index math (chunk -> n, oh, ow, c; input pixel (oh / f, ow / f)) run on the
  // host with V = 1 and with V = C, summing in order and applying relu_value.
  const std::int64_t N = 2, C = 6, H = 16, W = 24;
  const std::vector<int> factors = {1, 2, 4, 8};
  std::vector<CF> xs;
  std::vector<const CF*> ptrs;
  for (std::size_t j = 0; j < factors.size(); ++j)
    xs.push_back(random_tensor<float>({N, C, H / factors[j], W / factors[j]}, 40 + j));
  for (auto& x : xs) ptrs.push_back(&x);
  auto y = CF::empty({N, C, H, W});
  cpu::fusion_sum_relu_forward(ptrs, factors, y);
  for (std::int64_t V : {std::int64_t{1}, C}) {
    const ewm::FastDiv cv{std::uint32_t(C / V)}, wo{std::uint32_t(W)}, ho{std::uint32_t(H)};
    auto e = CF::empty(y.shape());
    for (std::uint32_t i = 0; i < std::uint32_t(y.numel() / V); ++i) {
      const std::uint32_t pix = cv.div(i), c = i - pix * cv.d, t = wo.div(pix), ow = pix - t * wo.d, n = ho.div(t),
                          oh = t - n * ho.d;
      for (std::int64_t k = 0; k < V; ++k) {
        float acc = 0;
        for (std::size_t j = 0; j < factors.size(); ++j) {
          const ewm::FastDiv f{std::uint32_t(factors[j])};
          const auto& s = xs[j].shape();
          const float v = xs[j][((n * s.h() + f.div(oh)) * s.w() + f.div(ow)) * C + c * V + k];
          acc = j == 0 ? v : acc + v;
        }
        e[std::int64_t(i) * V + k] = ewm::relu_value(acc);
      }
    }
    require_close(e, y, 0.0, 0.0, "fusion emulation");
  }
}

// ======================= GPU vs CPU ===================================================================

const std::vector<Shape> kShapes = {{2, 3, 5, 7}, {2, 16, 4, 4}, {1, 37, 3, 5}, {3, 8, 9, 11}, {1, 13, 1, 1}};

TEMPLATE_TEST_CASE("cuda relu forward and backward match cpu", "[cuda]", float, half, bfloat16) {
  HRNET_REQUIRE_GPU();
  using T = TestType;
  std::uint64_t seed = 1;
  for (const Shape& s : kShapes)
    for (bool mis : {false, true}) {
      auto x = make<T>(s, seed++, mis), dy = make<T>(s, seed++, mis), dx = make<T>(s, seed++, mis);
      auto y = upload(Tensor<T, CPU>::empty(s), mis);
      gpu::relu_forward(x.d.t, y.t);
      auto yr = CF::empty(s);
      cpu::relu_forward(x.h, yr);
      require_gpu_close(y.t, yr, 0.0, 0.0, label("relu_forward", s, mis));  // selection: exact
      gpu::relu_backward(x.d.t, dy.d.t, dx.d.t);  // y := x (mixed signs)
      cpu::relu_backward(x.h, dy.h, dx.h);
      require_gpu_close(dx.d.t, dx.h, unit_roundoff<T>(), sub_atol<T>(), label("relu_backward", s, mis));
    }
}

TEMPLATE_TEST_CASE("cuda add and add_relu match cpu for 1 to 8 inputs", "[cuda]", float, half, bfloat16) {
  HRNET_REQUIRE_GPU();
  using T = TestType;
  std::uint64_t seed = 100;
  for (const Shape& s : kShapes)
    for (int k : {1, 2, 3, 4, 8})
      for (bool mis : {false, true}) {
        std::vector<Pair<T>> xs;
        std::vector<const GT<T>*> dp;
        std::vector<const CF*> hp;
        // only the last input misaligned: the whole launch must fall back to scalar
        for (int j = 0; j < k; ++j) xs.push_back(make<T>(s, seed++, mis && j == k - 1));
        for (auto& x : xs) {
          dp.push_back(&x.d.t);
          hp.push_back(&x.h);
        }
        auto y = upload(Tensor<T, CPU>::empty(s), false), yr2 = upload(Tensor<T, CPU>::empty(s), false);
        gpu::add_forward(dp, y.t);
        gpu::add_relu_forward(dp, yr2.t);
        auto ref = CF::empty(s), ref_relu = CF::empty(s);
        cpu::add_forward(hp, ref);
        cpu::relu_forward(ref, ref_relu);
        require_gpu_close(y.t, ref, unit_roundoff<T>(), sum_atol<T>(k), label("add_forward", s, mis));
        require_gpu_close(yr2.t, ref_relu, unit_roundoff<T>(), sum_atol<T>(k), label("add_relu_forward", s, mis));
      }
  // More inputs than one launch takes: a ValueError naming the count.
  std::vector<Pair<T>> xs;
  std::vector<const GT<T>*> dp;
  for (int j = 0; j < 9; ++j) xs.push_back(make<T>({1, 2, 2, 2}, 900 + j));
  for (auto& x : xs) dp.push_back(&x.d.t);
  auto y = GT<T>::empty({1, 2, 2, 2});
  check_throws<ValueError>([&] { gpu::add_forward(dp, y); }, "9 inputs");
}

TEMPLATE_TEST_CASE("cuda accumulate and fill match cpu", "[cuda]", float, half, bfloat16) {
  HRNET_REQUIRE_GPU();
  using T = TestType;
  std::uint64_t seed = 200;
  for (const Shape& s : kShapes)
    for (bool mis : {false, true}) {
      auto dy = make<T>(s, seed++, mis), dx = make<T>(s, seed++, mis);
      gpu::accumulate(dy.d.t, dx.d.t);
      cpu::accumulate(dy.h, dx.h);
      require_gpu_close(dx.d.t, dx.h, unit_roundoff<T>(), sub_atol<T>(), label("accumulate", s, mis));
      for (float v : {0.f, -3.25f, 0.1f}) {
        auto t = upload(Tensor<T, CPU>::empty(s), mis);
        gpu::fill(t.t, v);
        const auto back = to_cpu(t.t);
        const float want = static_cast<float>(convert<T>(v));  // the value rounded once to T
        for (std::int64_t i = 0; i < back.numel(); ++i) REQUIRE(convert<float>(back[i]) == want);
      }
    }
}

TEMPLATE_TEST_CASE("cuda upsample_nearest forward and backward match cpu", "[cuda]", float, half, bfloat16) {
  HRNET_REQUIRE_GPU();
  using T = TestType;
  std::uint64_t seed = 300;
  for (std::int64_t C : {3, 5, 8, 13, 16, 37})
    for (int f : {1, 2, 3, 4, 8})
      for (bool mis : {false, true}) {
        const Shape xs{2, C, 3, 5}, ys{2, C, 3 * f, 5 * f};
        auto x = make<T>(xs, seed++, mis);
        auto y = upload(Tensor<T, CPU>::empty(ys), false);
        gpu::upsample_nearest_forward(x.d.t, y.t, f);
        auto yr = CF::empty(ys);
        cpu::upsample_nearest_forward(x.h, yr, f);
        require_gpu_close(y.t, yr, 0.0, 0.0, label("upsample_nearest_forward", ys, mis));  // a copy
        auto dy = make<T>(ys, seed++, mis), dx = make<T>(xs, seed++, false);  // accumulate onto random dx
        gpu::upsample_nearest_backward(dy.d.t, dx.d.t, f);
        cpu::upsample_nearest_backward(dy.h, dx.h, f);
        // dx + f*f terms summed in fp32
        require_gpu_close(dx.d.t, dx.h, unit_roundoff<T>(), sum_atol<T>(f * f + 1),
                          label("upsample_nearest_backward", xs, mis));
      }
}

TEMPLATE_TEST_CASE("cuda fusion_sum_relu forward and backward match cpu", "[cuda]", float, half, bfloat16) {
  HRNET_REQUIRE_GPU();
  using T = TestType;
  const std::vector<std::vector<int>> factor_sets = {{1}, {2}, {1, 2}, {2, 1, 4}, {1, 2, 4, 8}, {8, 4, 1}, {4, 8, 2, 1}};
  std::uint64_t seed = 400;
  for (std::int64_t C : {3, 5, 8, 13, 16, 32, 37})
    for (const auto& factors : factor_sets)
      for (bool mis : {false, true}) {
        const std::int64_t N = 2, H = 8 * 3, W = 8 * 2;
        const Shape ys{N, C, H, W};
        std::vector<Pair<T>> xs, dxs;
        std::vector<const GT<T>*> dp;
        std::vector<const CF*> hp;
        std::vector<GT<T>*> gdx;
        std::vector<CF*> hdx;
        for (std::size_t j = 0; j < factors.size(); ++j) {
          const Shape s{N, C, H / factors[j], W / factors[j]};
          xs.push_back(make<T>(s, seed++, mis && j == 0));
          dxs.push_back(make<T>(s, seed++, mis && j + 1 == factors.size()));  // non-zero: backward accumulates
        }
        for (std::size_t j = 0; j < factors.size(); ++j) {
          dp.push_back(&xs[j].d.t);
          hp.push_back(&xs[j].h);
          // a null gradient entry is skipped (the second input of sets with three or more)
          const bool skip = factors.size() >= 3 && j == 1;
          gdx.push_back(skip ? nullptr : &dxs[j].d.t);
          hdx.push_back(skip ? nullptr : &dxs[j].h);
        }
        auto y = upload(Tensor<T, CPU>::empty(ys), false);
        gpu::fusion_sum_relu_forward(dp, factors, y.t);
        auto yr = CF::empty(ys);
        cpu::fusion_sum_relu_forward(hp, factors, yr);
        const int k = static_cast<int>(factors.size());
        require_gpu_close(y.t, yr, unit_roundoff<T>(), sum_atol<T>(k), label("fusion_sum_relu_forward", ys, mis));
        // Backward from the GPU's own y (the mask must be the one the GPU saw), T-rounded on both sides.
        auto y_host = host_f32(y.t);
        auto dy = make<T>(ys, seed++, mis);
        gpu::fusion_sum_relu_backward(y.t, dy.d.t, gdx, factors);
        cpu::fusion_sum_relu_backward(y_host, dy.h, hdx, factors);
        for (std::size_t j = 0; j < factors.size(); ++j) {
          const int f = factors[j];
          require_gpu_close(dxs[j].d.t, dxs[j].h, unit_roundoff<T>(), sum_atol<T>(f * f + 1),
                            label("fusion_sum_relu_backward", dxs[j].h.shape(), mis));
        }
      }
}

TEMPLATE_TEST_CASE("cuda concat forward and backward match cpu", "[cuda]", float, half, bfloat16) {
  HRNET_REQUIRE_GPU();
  using T = TestType;
  const std::vector<std::vector<std::int64_t>> channel_sets = {
      {3, 5}, {8, 16, 8}, {13, 37, 8, 3}, {8, 8, 8, 8, 8, 8, 8, 8, 8, 16}, {5, 3, 1, 2, 7, 1, 1, 2, 9}, {8, 0, 8}};
  std::uint64_t seed = 500;
  for (const auto& cs : channel_sets)
    for (bool mis : {false, true}) {
      const std::int64_t N = 2, H = 5, W = 3;
      std::int64_t C = 0;
      for (auto c : cs) C += c;
      std::vector<Pair<T>> xs, dxs;
      std::vector<const GT<T>*> dp;
      std::vector<const CF*> hp;
      std::vector<GT<T>*> gdx;
      std::vector<CF*> hdx;
      for (std::size_t j = 0; j < cs.size(); ++j) {
        xs.push_back(make<T>({N, cs[j], H, W}, seed++, mis && j == 1));
        dxs.push_back(make<T>({N, cs[j], H, W}, seed++, mis && j == 0));
      }
      for (std::size_t j = 0; j < cs.size(); ++j) {
        dp.push_back(&xs[j].d.t);
        hp.push_back(&xs[j].h);
        // A null gradient entry (the second of sets with three or more) occupies no channels of dy,
        // as in cpu::concat_backward; its buffer must stay untouched.
        const bool skip = cs.size() >= 3 && j == 1;
        gdx.push_back(skip ? nullptr : &dxs[j].d.t);
        hdx.push_back(skip ? nullptr : &dxs[j].h);
      }
      const Shape ys{N, C, H, W};
      auto y = upload(Tensor<T, CPU>::empty(ys), false);
      gpu::concat_forward(dp, y.t);
      auto yr = CF::empty(ys);
      cpu::concat_forward(hp, yr);
      require_gpu_close(y.t, yr, 0.0, 0.0, label("concat_forward", ys, mis));
      auto dy = make<T>(ys, seed++, false);
      gpu::concat_backward(dy.d.t, gdx);
      cpu::concat_backward(dy.h, hdx);
      for (std::size_t j = 0; j < cs.size(); ++j)
        require_gpu_close(dxs[j].d.t, dxs[j].h, unit_roundoff<T>(), sub_atol<T>(),
                          label("concat_backward", dxs[j].h.shape(), mis));
    }
}

TEMPLATE_TEST_CASE("cuda slice_channels forward and backward match cpu", "[cuda]", float, half, bfloat16) {
  HRNET_REQUIRE_GPU();
  using T = TestType;
  struct Case {
    std::int64_t C, begin, c;
  };
  std::uint64_t seed = 600;
  for (const Case& k : {Case{37, 5, 13}, Case{32, 8, 16}, Case{32, 3, 8}, Case{16, 0, 16}, Case{24, 16, 8}, Case{5, 4, 1}})
    for (bool mis : {false, true}) {
      const Shape xs{2, k.C, 3, 5}, ys{2, k.c, 3, 5};
      auto x = make<T>(xs, seed++, mis);
      auto y = upload(Tensor<T, CPU>::empty(ys), false);
      gpu::slice_channels_forward(x.d.t, k.begin, y.t);
      auto yr = CF::empty(ys);
      cpu::slice_channels_forward(x.h, k.begin, yr);
      require_gpu_close(y.t, yr, 0.0, 0.0, label("slice_channels_forward", ys, mis));
      auto dy = make<T>(ys, seed++, false), dx = make<T>(xs, seed++, mis);
      gpu::slice_channels_backward(dy.d.t, k.begin, dx.d.t);
      cpu::slice_channels_backward(dy.h, k.begin, dx.h);
      require_gpu_close(dx.d.t, dx.h, unit_roundoff<T>(), sub_atol<T>(), label("slice_channels_backward", xs, mis));
    }
}

TEMPLATE_TEST_CASE("cuda slice0 views at odd offsets take the scalar path correctly", "[cuda]", float, half,
                   bfloat16) {
  HRNET_REQUIRE_GPU();
  using T = TestType;
  // Images of 5*3*3 = 45 elements: image 1 starts 45 elements in, not 16-byte aligned.
  auto full = make<T>({3, 5, 3, 3}, 650);
  auto x = full.d.t.slice0(1, 3);
  auto xh = full.h.slice0(1, 3);
  auto y = GT<T>::empty({2, 5, 6, 6});
  gpu::upsample_nearest_forward(x, y, 2);
  auto yr = CF::empty({2, 5, 6, 6});
  cpu::upsample_nearest_forward(xh, yr, 2);
  require_gpu_close(y, yr, 0.0, 0.0, "upsample of a slice0 view");
  auto r = GT<T>::empty(xh.shape());
  gpu::relu_forward(x, r);
  auto rr = CF::empty(xh.shape());
  cpu::relu_forward(xh, rr);
  require_gpu_close(r, rr, 0.0, 0.0, "relu of a slice0 view");
}

TEMPLATE_TEST_CASE("cuda resize_bilinear matches cpu", "[cuda]", float, half, bfloat16) {
  HRNET_REQUIRE_GPU();
  using T = TestType;
  std::uint64_t seed = 700;
  const std::vector<std::pair<Shape, Shape>> cases = {{{2, 5, 7, 9}, {2, 5, 13, 4}},  {{1, 16, 8, 8}, {1, 16, 16, 16}},
                                                      {{2, 8, 17, 13}, {2, 8, 5, 6}}, {{1, 37, 4, 3}, {1, 37, 9, 10}},
                                                      {{1, 3, 1, 1}, {1, 3, 4, 5}},   {{2, 32, 6, 6}, {2, 32, 6, 6}}};
  for (const auto& [xs, ys] : cases)
    for (bool mis : {false, true}) {
      auto x = make<T>(xs, seed++, mis);
      auto y = upload(Tensor<T, CPU>::empty(ys), mis);
      gpu::resize_bilinear_forward(x.d.t, y.t);
      auto yr = CF::empty(ys);
      cpu::resize_bilinear_forward(x.h, yr);
      // Same indices, weights and fp32 operation order as the CPU (ewm::bilinear_blend), then one
      // rounding to T; bilinear_atol covers the CPU kernels' FMA contraction (built for x86-64-v3).
      require_gpu_close(y.t, yr, unit_roundoff<T>(), sub_atol<T>() + bilinear_atol(xs.h(), xs.w()),
                        label("resize_bilinear", ys, mis));
    }
}

TEMPLATE_TEST_CASE("cuda global_avg_pool forward and backward match cpu", "[cuda]", float, half, bfloat16) {
  HRNET_REQUIRE_GPU();
  using T = TestType;
  std::uint64_t seed = 800;
  for (const Shape& s : {Shape{2, 37, 7, 9}, Shape{3, 64, 8, 8}, Shape{1, 8, 1, 1}, Shape{2, 13, 33, 35}})
    for (bool mis : {false, true}) {
      const std::int64_t HW = s.h() * s.w();
      auto x = make<T>(s, seed++, mis);
      auto y = upload(Tensor<T, CPU>::empty({s.n(), s.c()}), mis);
      gpu::global_avg_pool_forward(x.d.t, y.t);
      auto yr = CF::empty({s.n(), s.c()});
      cpu::global_avg_pool_forward(x.h, yr);
      // A different summation order over HW terms of magnitude < 1: error of the mean <= HW 2^-24.
      require_gpu_close(y.t, yr, unit_roundoff<T>(), sub_atol<T>() + double(HW) * 0x1p-24,
                        label("global_avg_pool_forward", s, mis));
      auto dy = make<T>({s.n(), s.c()}, seed++, false), dx = make<T>(s, seed++, mis);
      gpu::global_avg_pool_backward(dy.d.t, dx.d.t);
      cpu::global_avg_pool_backward(dy.h, dx.h);
      require_gpu_close(dx.d.t, dx.h, unit_roundoff<T>(), sub_atol<T>(), label("global_avg_pool_backward", s, mis));
    }
}

TEMPLATE_TEST_CASE("cuda max_pool matches cpu", "[cuda]", float, half, bfloat16) {
  HRNET_REQUIRE_GPU();
  using T = TestType;
  struct Case {
    Shape x;
    int k, s, p;
  };
  std::uint64_t seed = 900;
  for (const Case& c : {Case{{2, 13, 9, 11}, 3, 2, 1}, Case{{1, 16, 8, 8}, 2, 2, 0}, Case{{2, 8, 7, 7}, 3, 1, 1},
                        Case{{1, 37, 5, 6}, 3, 3, 1}})
    for (bool mis : {false, true}) {
      const std::int64_t Ho = (c.x.h() + 2 * c.p - c.k) / c.s + 1, Wo = (c.x.w() + 2 * c.p - c.k) / c.s + 1;
      const Shape ys{c.x.n(), c.x.c(), Ho, Wo};
      auto x = make<T>(c.x, seed++, mis);
      auto y = upload(Tensor<T, CPU>::empty(ys), false);
      gpu::max_pool_forward(x.d.t, y.t, c.k, c.s, c.p);
      auto yr = CF::empty(ys);
      cpu::max_pool_forward(x.h, yr, c.k, c.s, c.p);
      require_gpu_close(y.t, yr, 0.0, 0.0, label("max_pool_forward", ys, mis));  // a selection: exact
    }
}

// NaN positions equal, every other element within tolerance (require_close fails on any NaN).
template <class T>
void require_gpu_close_nan(const GT<T>& gpu, const CF& cpu, double rtol, double atol, const std::string& what) {
  auto got = host_f32(gpu);
  REQUIRE(got.shape() == cpu.shape());
  auto a = CF::empty(got.shape()), e = CF::empty(got.shape());
  std::int64_t nans = 0;
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    INFO(what << ": element " << i << " got " << got[i] << " expected " << cpu[i]);
    REQUIRE(std::isnan(got[i]) == std::isnan(cpu[i]));
    nans += std::isnan(cpu[i]) ? 1 : 0;
    a[i] = std::isnan(got[i]) ? 0.f : got[i];
    e[i] = std::isnan(cpu[i]) ? 0.f : cpu[i];
  }
  INFO(what);
  REQUIRE(nans > 0);  // the case must actually exercise NaN
  require_close(a, e, rtol, atol, what);
}

TEMPLATE_TEST_CASE("cuda relu add and max_pool propagate NaN as the cpu backend", "[cuda]", float, half, bfloat16) {
  HRNET_REQUIRE_GPU();
  using T = TestType;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (bool mis : {false, true}) {
    const Shape s{2, 16, 6, 7};
    auto h = random_tensor<T>(s, 1100);
    for (std::int64_t i = 0; i < h.numel(); i += 29) h[i] = convert<T>(nan);
    auto x = Pair<T>{upload(h, mis), cast<float>(h)};
    // relu forward: NaN stays NaN
    auto y = upload(Tensor<T, CPU>::empty(s), mis);
    gpu::relu_forward(x.d.t, y.t);
    auto yr = CF::empty(s);
    cpu::relu_forward(x.h, yr);
    require_gpu_close_nan(y.t, yr, 0.0, 0.0, label("relu_forward NaN", s, mis));
    // relu backward: a NaN y passes the gradient
    auto dy = make<T>(s, 1101, mis), dx = make<T>(s, 1102, mis);
    gpu::relu_backward(x.d.t, dy.d.t, dx.d.t);
    cpu::relu_backward(x.h, dy.h, dx.h);
    require_gpu_close(dx.d.t, dx.h, unit_roundoff<T>(), sub_atol<T>(), label("relu_backward NaN", s, mis));
    // add (+ relu): NaN propagates
    auto z = make<T>(s, 1103, mis);
    auto sum = upload(Tensor<T, CPU>::empty(s), mis), sum_relu = upload(Tensor<T, CPU>::empty(s), mis);
    gpu::add_forward<T>({&z.d.t, &x.d.t}, sum.t);
    gpu::add_relu_forward<T>({&z.d.t, &x.d.t}, sum_relu.t);
    auto ref = CF::empty(s), ref_relu = CF::empty(s);
    cpu::add_forward<float>({&z.h, &x.h}, ref);
    cpu::relu_forward(ref, ref_relu);
    require_gpu_close_nan(sum.t, ref, unit_roundoff<T>(), sum_atol<T>(2), label("add_forward NaN", s, mis));
    require_gpu_close_nan(sum_relu.t, ref_relu, unit_roundoff<T>(), sum_atol<T>(2), label("add_relu_forward NaN", s, mis));
    // max pool: NaN wins its window
    const Shape ps{2, 16, 3, 4};
    auto p = upload(Tensor<T, CPU>::empty(ps), mis);
    gpu::max_pool_forward(x.d.t, p.t, 3, 2, 1);
    auto pr = CF::empty(ps);
    cpu::max_pool_forward(x.h, pr, 3, 2, 1);
    require_gpu_close_nan(p.t, pr, 0.0, 0.0, label("max_pool_forward NaN", ps, mis));
  }
}

TEMPLATE_TEST_CASE("cuda nchw and nhwc transposes match the host conversion", "[cuda]", float, half, bfloat16) {
  HRNET_REQUIRE_GPU();
  using T = TestType;
  std::uint64_t seed = 1000;
  for (const Shape& s : {Shape{2, 37, 5, 7}, Shape{1, 64, 33, 31}, Shape{3, 3, 1, 1}, Shape{2, 1, 40, 3}}) {
    auto h = random_tensor<T>(s, seed++);  // read as an NCHW array by the first conversion
    auto d = to_cuda(h);
    auto out = GT<T>::empty(s);
    gpu::nchw_to_nhwc(d.data(), out.data(), s);
    std::vector<T> want(static_cast<std::size_t>(h.numel()));
    hrnet::nchw_to_nhwc(h.data(), want.data(), s);
    auto got = to_cpu(out);
    for (std::int64_t i = 0; i < h.numel(); ++i) REQUIRE(convert<float>(got[i]) == convert<float>(want[i]));
    auto back = GT<T>::empty(s);
    gpu::nhwc_to_nchw(out.data(), back.data(), s);
    auto round_trip = to_cpu(back);
    for (std::int64_t i = 0; i < h.numel(); ++i) REQUIRE(convert<float>(round_trip[i]) == convert<float>(h[i]));
  }
}

// Raw bits of a storage value.
template <class T> std::uint32_t bits_of(T v) {
  if constexpr (std::is_same_v<T, float>) return ewm::f32_bits(v);
  else return v.bits;
}
template <class T> T from_bits(std::uint32_t b) {
  if constexpr (std::is_same_v<T, float>) {
    return ewm::bits_f32(b);
  } else {
    T v;
    v.bits = static_cast<std::uint16_t>(b);
    return v;
  }
}

template <class To, class From>
void check_cast(const Tensor<From, CPU>& h, bool mis) {
  auto d = upload(h, mis);
  auto y = upload(Tensor<To, CPU>::empty(h.shape()), mis);
  gpu::cast<To, From>(d.t, y.t);
  const auto got = to_cpu(y.t);
  const auto want = hrnet::cast<To>(h);
  for (std::int64_t i = 0; i < h.numel(); ++i) {
    INFO(tname<From>() << " -> " << tname<To>() << " source bits " << std::hex << bits_of(h[i]));
    REQUIRE(bits_of(got[i]) == bits_of(want[i]));
  }
}

TEMPLATE_TEST_CASE("cuda cast is bit exact against the host conversion", "[cuda]", float, half, bfloat16) {
  HRNET_REQUIRE_GPU();
  using From = TestType;
  // Sources: every 16-bit pattern; for float, rounding boundaries of both 16-bit types, specials,
  // NaN payloads and random bit patterns.
  std::vector<std::uint32_t> b;
  if constexpr (std::is_same_v<From, float>) {
    for (std::uint32_t m = 0; m < 0x10000u; m += 3)
      for (std::uint32_t lo : {0x0000u, 0x0fffu, 0x1000u, 0x1001u, 0x3000u, 0x7fffu, 0x8000u, 0x8001u, 0xffffu})
        b.push_back((m << 16) | lo);
    Rng rng(3);
    for (int i = 0; i < 100000; ++i) b.push_back(static_cast<std::uint32_t>(rng.next_u64()));
    for (std::uint32_t a : {0x477fefffu, 0x477ff000u, 0x477ff001u, 0x38800000u, 0x387fffffu, 0x33000000u,
                            0x33000001u, 0x7f800000u, 0x7f800001u, 0x7fc00000u, 0x7fffffffu, 0x00000001u})
      for (std::uint32_t sign : {0u, 0x80000000u}) b.push_back(a | sign);
  } else {
    for (std::uint32_t m = 0; m < 0x10000u; ++m) b.push_back(m);
  }
  b.push_back(0);  // an odd count exercises the scalar tail
  auto h = Tensor<From, CPU>::empty({static_cast<std::int64_t>(b.size())});
  for (std::size_t i = 0; i < b.size(); ++i) h[static_cast<std::int64_t>(i)] = from_bits<From>(b[i]);
  for (bool mis : {false, true}) {
    check_cast<float, From>(h, mis);
    check_cast<half, From>(h, mis);
    check_cast<bfloat16, From>(h, mis);
  }
}

}  // namespace

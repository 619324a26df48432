// Per-element math of the CUDA element-wise, data-movement, resize and pooling kernels, written
// once for the device and the host (HRNET_HD) so that CPU tests check exactly the arithmetic the
// GPU runs against the CPU backend. Plain C++: the only CUDA names sit behind __CUDA_ARCH__.
#pragma once
#include <cstdint>
#include <cstring>

#include "host_device.hpp"

namespace hrnet::ewm {

// ---- fp32 operations that must round exactly like the host -----------------------------------
// nvcc contracts a*b+c into an FMA by default; the host (x86-64 without -mfma) never does. Where a
// result must match the CPU backend bit for bit (source indices, interpolation weights) every
// product and sum is rounded separately.
HRNET_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
HRNET_HD float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
HRNET_HD float sub_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
HRNET_HD float div_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

HRNET_HD std::uint32_t f32_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}
HRNET_HD float bits_f32(std::uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

// ---- ReLU (PyTorch's NaN semantics, as the CPU backend) ------------------------------------------
// NaN passes through forward; backward passes the gradient unless y <= 0 (so NaN y passes it too).
HRNET_HD float relu_value(float x) { return (x > 0.f || x != x) ? x : 0.f; }
HRNET_HD float relu_grad(float y, float g) { return y <= 0.f ? 0.f : g; }

// Max pooling step: NaN wins, as in PyTorch (and cpu::max_pool_forward). Start from -inf.
HRNET_HD float pool_max(float acc, float v) { return (v > acc || v != v) ? v : acc; }

// ---- fast unsigned division by a run-time constant -------------------------------------------------
// Index decomposition (flat -> n, h, w, c) is the only arithmetic of the data-movement kernels;
// a hardware-free multiply-high and shift replaces the ~20-instruction integer division.
// Exact for every dividend n < 2^31 and divisor 1 <= d <= 2^31 (Granlund-Montgomery with the
// round-up magic m = floor(2^32 (2^s - d) / d) + 1, s = ceil(log2 d): q = (mulhi(n, m) + n) >> s,
// where the sum cannot overflow because n < 2^31). The kernels' hosts keep indices below 2^31.
struct FastDiv {
  std::uint32_t d = 1, magic = 1, shift = 0;
  FastDiv() = default;
  HRNET_HD explicit FastDiv(std::uint32_t divisor) : d(divisor) {
    shift = 0;
    while ((std::uint64_t{1} << shift) < divisor) ++shift;
    magic = static_cast<std::uint32_t>(((std::uint64_t{1} << 32) * ((std::uint64_t{1} << shift) - divisor)) / divisor + 1);
  }
  HRNET_HD std::uint32_t div(std::uint32_t n) const {
    const std::uint32_t t = static_cast<std::uint32_t>((static_cast<std::uint64_t>(n) * magic) >> 32);
    return (t + n) >> shift;
  }
  HRNET_HD std::uint32_t mod(std::uint32_t n) const { return n - div(n) * d; }
};
// Largest dividend FastDiv handles; kernels split their launches to stay below it.
inline constexpr std::uint32_t kFastDivLimit = 0x80000000u;

// ---- bilinear resize, align_corners = false ---------------------------------------------------------
// PyTorch's area_pixel_compute_source_index in linear mode, exactly as cpu::resize_bilinear_forward
// computes it in float: neighbours i0, i1 and weights l0, l1 of output index dst.
struct LinearSource {
  std::int32_t i0, i1;
  float l0, l1;
};
HRNET_HD LinearSource linear_source(std::int32_t in, std::int32_t out, std::int32_t dst) {
  const float scale = div_rn(static_cast<float>(in), static_cast<float>(out));
  float src = sub_rn(mul_rn(scale, add_rn(static_cast<float>(dst), 0.5f)), 0.5f);
  if (src < 0.f) src = 0.f;
  LinearSource r;
  const std::int32_t t = static_cast<std::int32_t>(src);
  r.i0 = t < in - 1 ? t : in - 1;
  r.i1 = r.i0 + (r.i0 < in - 1 ? 1 : 0);
  float l1 = sub_rn(src, static_cast<float>(r.i0));
  l1 = l1 < 0.f ? 0.f : (l1 > 1.f ? 1.f : l1);
  r.l1 = l1;
  r.l0 = sub_rn(1.f, l1);
  return r;
}
// hl0 (wl0 p00 + wl1 p01) + hl1 (wl0 p10 + wl1 p11), in the CPU backend's order and rounding.
HRNET_HD float bilinear_blend(float hl0, float hl1, float wl0, float wl1, float p00, float p01, float p10,
                              float p11) {
  const float top = add_rn(mul_rn(wl0, p00), mul_rn(wl1, p01));
  const float bottom = add_rn(mul_rn(wl0, p10), mul_rn(wl1, p11));
  return add_rn(mul_rn(hl0, top), mul_rn(hl1, bottom));
}

// ---- storage conversions, bit for bit as hrnet::half / hrnet::bfloat16 on the host --------------------
// float -> half, round to nearest even; NaN keeps its sign and becomes the quiet NaN 0x7e00.
HRNET_HD std::uint16_t half_nan_bits(std::uint32_t x) {
  return static_cast<std::uint16_t>(((x >> 16) & 0x8000u) | 0x7e00u);
}
HRNET_HD std::uint16_t half_bits_from_f32(float f) {
  const std::uint32_t x = f32_bits(f);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t absx = x & 0x7fffffffu;
  if (absx > 0x7f800000u) return half_nan_bits(x);
  if (absx >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // inf, or rounds to inf
  if (absx < 0x38800000u) {
    // Subnormal half: the mantissa is |f| * 2^24 rounded to nearest even. |f| = m * 2^(e - 150)
    // with the implicit bit in m, so |f| * 2^24 = m >> (126 - e) with the dropped bits rounded.
    const std::uint32_t e = absx >> 23;
    if (e == 0) return static_cast<std::uint16_t>(sign);  // below 2^-126: rounds to zero
    const std::uint32_t shift = 126u - e;                  // >= 14
    if (shift > 24u) return static_cast<std::uint16_t>(sign);  // below half the smallest subnormal
    const std::uint32_t m = (absx & 0x7fffffu) | 0x800000u;
    std::uint32_t q = m >> shift;
    const std::uint32_t rem = m & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
    q += (rem > halfway || (rem == halfway && (q & 1u))) ? 1u : 0u;
    return static_cast<std::uint16_t>(sign | q);
  }
  std::uint32_t mant = absx + 0xc8000000u;  // rebias the exponent 127 -> 15
  mant += 0xfffu + ((mant >> 13) & 1u);     // round to nearest even on the 13 dropped bits
  return static_cast<std::uint16_t>(sign | (mant >> 13));
}
HRNET_HD float half_bits_to_f32(std::uint16_t h) {
  const std::uint32_t sign = (static_cast<std::uint32_t>(h) & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  const std::uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    if (mant == 0) return bits_f32(sign);
    // subnormal: mant * 2^-24, exact in float
    return bits_f32(f32_bits(mul_rn(static_cast<float>(mant), 0x1p-24f)) | sign);
  }
  if (exp == 31) return bits_f32(sign | 0x7f800000u | (mant << 13));
  return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}
// float -> bfloat16, round to nearest even; NaN becomes quiet (bit 6 of the result set).
HRNET_HD std::uint16_t bf16_bits_from_f32(float f) {
  std::uint32_t x = f32_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<std::uint16_t>(x >> 16);
}
HRNET_HD float bf16_bits_to_f32(std::uint16_t b) { return bits_f32(static_cast<std::uint32_t>(b) << 16); }

}  // namespace hrnet::ewm

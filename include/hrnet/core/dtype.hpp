// Element types. fp16 and bf16 are storage types with exact IEEE round-to-nearest-even
// conversions on the host; arithmetic on the CPU happens in float or double (compute types).
#pragma once
#include <cmath>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace hrnet {

// IEEE 754 binary16, bit-compatible with CUDA's __half.
struct half {
  std::uint16_t bits = 0;
  half() = default;
  explicit half(float f) : bits(from_float(f)) {}
  explicit operator float() const { return to_float(bits); }

  static std::uint16_t from_float(float f) {
    std::uint32_t x;
    std::memcpy(&x, &f, 4);
    const std::uint32_t sign = (x >> 16) & 0x8000u;
    const std::uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) {  // inf or nan
      return static_cast<std::uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
    }
    if (absx >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds to inf
    if (absx < 0x38800000u) {  // subnormal half (or zero): scale into integer mantissa, RNE
      float a;
      std::memcpy(&a, &absx, 4);
      // a * 2^24 is the subnormal mantissa; nearbyint uses round-half-even in the default mode.
      const float m = std::nearbyint(a * 16777216.0f);
      return static_cast<std::uint16_t>(sign | static_cast<std::uint32_t>(m));
    }
    // normal: rebias exponent 127 -> 15, keep 10 mantissa bits with RNE on the 13 dropped bits
    std::uint32_t mant = absx + 0xc8000000u;  // subtract (127-15) << 23
    const std::uint32_t round = 0xfffu + ((mant >> 13) & 1u);
    mant += round;
    return static_cast<std::uint16_t>(sign | (mant >> 13));
  }
  static float to_float(std::uint16_t h) {
    const std::uint32_t sign = (h & 0x8000u) << 16;
    const std::uint32_t exp = (h >> 10) & 0x1fu;
    const std::uint32_t mant = h & 0x3ffu;
    std::uint32_t x;
    if (exp == 0) {
      if (mant == 0) {
        x = sign;
      } else {  // subnormal
        const float v = std::ldexp(static_cast<float>(mant), -24);
        std::memcpy(&x, &v, 4);
        x |= sign;
      }
    } else if (exp == 31) {
      x = sign | 0x7f800000u | (mant << 13);
    } else {
      x = sign | ((exp + 112u) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &x, 4);
    return f;
  }
};

// bfloat16: the top 16 bits of an IEEE float, rounded to nearest even.
struct bfloat16 {
  std::uint16_t bits = 0;
  bfloat16() = default;
  explicit bfloat16(float f) : bits(from_float(f)) {}
  explicit operator float() const { return to_float(bits); }
  static std::uint16_t from_float(float f) {
    std::uint32_t x;
    std::memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);  // quiet nan
    x += 0x7fffu + ((x >> 16) & 1u);
    return static_cast<std::uint16_t>(x >> 16);
  }
  static float to_float(std::uint16_t b) {
    const std::uint32_t x = static_cast<std::uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &x, 4);
    return f;
  }
};

static_assert(sizeof(half) == 2 && sizeof(bfloat16) == 2);

// Run-time dtype tag, used at the file boundary (safetensors) and in messages.
enum class DType { F64, F32, F16, BF16, I64 };

constexpr std::string_view dtype_name(DType d) {
  switch (d) {
    case DType::F64: return "F64";
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I64: return "I64";
  }
  return "?";
}
constexpr std::size_t dtype_size(DType d) {
  switch (d) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: return 4;
    case DType::F16: case DType::BF16: return 2;
  }
  return 0;
}

template <class T> struct dtype_of;
template <> struct dtype_of<double> { static constexpr DType value = DType::F64; };
template <> struct dtype_of<float> { static constexpr DType value = DType::F32; };
template <> struct dtype_of<half> { static constexpr DType value = DType::F16; };
template <> struct dtype_of<bfloat16> { static constexpr DType value = DType::BF16; };
template <> struct dtype_of<std::int64_t> { static constexpr DType value = DType::I64; };

// Types a tensor may hold.
template <class T>
concept StorageType = std::same_as<T, float> || std::same_as<T, double> || std::same_as<T, half> ||
                      std::same_as<T, bfloat16> || std::same_as<T, std::int64_t>;
// Types the CPU backend computes in (reference math; fp16/bf16 are cast to float first).
template <class T>
concept ComputeType = std::same_as<T, float> || std::same_as<T, double>;
// Types a differentiable value may hold.
template <class T>
concept FloatType = std::same_as<T, float> || std::same_as<T, double> || std::same_as<T, half> ||
                    std::same_as<T, bfloat16>;

// Accumulation type: fp32 for every float storage type, fp64 for double.
template <class T> using acc_t = std::conditional_t<std::is_same_v<T, double>, double, float>;

template <class To, class From>
inline To convert(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<From, half> || std::is_same_v<From, bfloat16>) {
    return convert<To>(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, half> || std::is_same_v<To, bfloat16>) {
    return To(static_cast<float>(v));
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace hrnet

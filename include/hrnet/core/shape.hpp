// Logical shapes of up to 4 dimensions. A 4-D shape is read as (N, C, H, W) and stored
// channels-last (NHWC); shapes of other ranks are stored row-major.
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "hrnet/core/error.hpp"

namespace hrnet {

class Shape {
 public:
  Shape() = default;  // rank 0: a scalar with one element
  Shape(std::initializer_list<std::int64_t> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(const std::vector<std::int64_t>& dims) { assign(dims.begin(), dims.end()); }

  int rank() const { return rank_; }
  std::int64_t operator[](int i) const { return d_[static_cast<std::size_t>(i)]; }
  // Cannot overflow: assign() checked that the product of the non-zero dimensions fits int64.
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= d_[static_cast<std::size_t>(i)];
    return n;
  }
  // (N, C, H, W) accessors; valid for rank 4 only.
  std::int64_t n() const { return at4(0); }
  std::int64_t c() const { return at4(1); }
  std::int64_t h() const { return at4(2); }
  std::int64_t w() const { return at4(3); }

  std::vector<std::int64_t> dims() const { return {d_.begin(), d_.begin() + rank_}; }
  bool operator==(const Shape& o) const {
    if (rank_ != o.rank_) return false;
    for (int i = 0; i < rank_; ++i)
      if (d_[static_cast<std::size_t>(i)] != o.d_[static_cast<std::size_t>(i)]) return false;
    return true;
  }
  std::string str() const {
    std::ostringstream s;
    s << '[';
    for (int i = 0; i < rank_; ++i) s << (i ? ", " : "") << d_[static_cast<std::size_t>(i)];
    s << ']';
    return s.str();
  }

 private:
  template <class It>
  void assign(It b, It e) {
    rank_ = 0;
    // Product of the non-zero dimensions, checked: numel() multiplies in order, and [2^62, 2^62, 0]
    // would overflow before reaching the 0. Every prefix product is 0 or divides this one.
    std::int64_t nonzero = 1;
    for (It it = b; it != e; ++it) {
      HRNET_CHECK(rank_ < 4, ShapeError, "Shape: at most 4 dimensions are supported");
      const std::int64_t d = *it;
      HRNET_CHECK(d >= 0, ShapeError, "Shape: negative dimension " << d);
      HRNET_CHECK(d == 0 || !__builtin_mul_overflow(nonzero, d, &nonzero), ShapeError,
                  "Shape: the element count overflows int64 at dimension " << rank_ << " (" << d << ")");
      d_[static_cast<std::size_t>(rank_++)] = d;
    }
  }
  // Inlined everywhere (kernels call it in loops); the failure path is kept out of line.
  std::int64_t at4(int i) const {
    if (rank_ != 4) [[unlikely]] not_4d();
    return d_[static_cast<std::size_t>(i)];
  }
  [[noreturn, gnu::noinline, gnu::cold]] void not_4d() const {
    HRNET_THROW(ShapeError, "Shape " << str() << ": N/C/H/W accessors need a 4-D shape");
  }
  std::array<std::int64_t, 4> d_{};
  int rank_ = 0;
};

inline std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }

}  // namespace hrnet

// Munkres assignment in python munkres 1.1.4's step order (see hrnet/pose/hungarian.hpp).
#include "hrnet/pose/hungarian.hpp"

#include <cmath>

#include "hrnet/core/error.hpp"

namespace hrnet::pose {

const std::vector<Assignment>& Munkres::compute(std::span<const double> cost, std::int64_t rows, std::int64_t cols) {
  HRNET_CHECK(rows >= 0 && cols >= 0, ValueError, "munkres: negative matrix size " << rows << "x" << cols);
  HRNET_CHECK(static_cast<std::int64_t>(cost.size()) == rows * cols, ShapeError,
              "munkres: " << cost.size() << " costs given for a " << rows << "x" << cols << " matrix");
  for (std::size_t i = 0; i < cost.size(); ++i)
    HRNET_CHECK(std::isfinite(cost[i]) && std::abs(cost[i]) <= kMaxAbsCost, ValueError,
                "munkres: cost (" << static_cast<std::int64_t>(i) / cols << ", " << static_cast<std::int64_t>(i) % cols
                                  << ") is " << cost[i] << "; costs must be finite and at most " << kMaxAbsCost
                                  << " in magnitude");
  result_.clear();
  if (rows == 0 || cols == 0) return result_;

  n_ = std::max(rows, cols);
  const auto nn = static_cast<std::size_t>(n_ * n_);
  c_.assign(nn, 0.0);  // zero padding, like munkres.pad_matrix
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) C(r, c) = cost[static_cast<std::size_t>(r * cols + c)];
  marked_.assign(nn, 0);
  row_covered_.assign(static_cast<std::size_t>(n_), 0);
  col_covered_.assign(static_cast<std::size_t>(n_), 0);
  z0_r_ = z0_c_ = 0;

  step1();
  step2();
  while (!step3()) {
    while (!step4()) step6();
    step5();
  }
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c)
      if (mark(r, c) == 1) result_.push_back({r, c});
  return result_;
}

// Row reduction only.
void Munkres::step1() {
  for (std::int64_t r = 0; r < n_; ++r) {
    double m = C(r, 0);
    for (std::int64_t c = 1; c < n_; ++c) m = C(r, c) < m ? C(r, c) : m;
    for (std::int64_t c = 0; c < n_; ++c) C(r, c) -= m;
  }
}

// Greedy starring, row by row; the covers are scratch and cleared afterwards.
void Munkres::step2() {
  for (std::int64_t r = 0; r < n_; ++r)
    for (std::int64_t c = 0; c < n_; ++c)
      if (C(r, c) == 0 && !col_covered_[static_cast<std::size_t>(c)] && !row_covered_[static_cast<std::size_t>(r)]) {
        mark(r, c) = 1;
        col_covered_[static_cast<std::size_t>(c)] = 1;
        row_covered_[static_cast<std::size_t>(r)] = 1;
        break;
      }
  std::fill(row_covered_.begin(), row_covered_.end(), 0);
  std::fill(col_covered_.begin(), col_covered_.end(), 0);
}

// Cover the starred columns; done when all n are covered.
bool Munkres::step3() {
  std::int64_t count = 0;
  for (std::int64_t r = 0; r < n_; ++r)
    for (std::int64_t c = 0; c < n_; ++c)
      if (mark(r, c) == 1 && !col_covered_[static_cast<std::size_t>(c)]) {
        col_covered_[static_cast<std::size_t>(c)] = 1;
        ++count;
      }
  return count >= n_;
}

bool Munkres::step4() {
  std::int64_t row = 0, col = 0;
  for (;;) {
    // munkres' __find_a_zero(row, col): rows cyclically from `row`; in the first row that has an
    // uncovered zero, the last one met scanning columns cyclically from `col`.
    std::int64_t zr = -1, zc = -1;
    std::int64_t i = row;
    do {
      if (!row_covered_[static_cast<std::size_t>(i)]) {
        std::int64_t j = col;
        do {
          if (C(i, j) == 0 && !col_covered_[static_cast<std::size_t>(j)]) {
            zr = i;
            zc = j;
          }
          j = j + 1 == n_ ? 0 : j + 1;
        } while (j != col);
      }
      i = i + 1 == n_ ? 0 : i + 1;
    } while (zr < 0 && i != row);
    if (zr < 0) return false;
    row = zr;
    col = zc;
    mark(row, col) = 2;
    const std::int64_t star_col = find_star_in_row(row);
    if (star_col < 0) {
      z0_r_ = row;
      z0_c_ = col;
      return true;
    }
    col = star_col;
    row_covered_[static_cast<std::size_t>(row)] = 1;
    col_covered_[static_cast<std::size_t>(col)] = 0;
  }
}

// Augment along the alternating prime/star path, then clear covers and primes.
void Munkres::step5() {
  path_.clear();
  path_.push_back(z0_r_);
  path_.push_back(z0_c_);
  for (;;) {
    const std::int64_t r = find_star_in_col(path_[path_.size() - 1]);
    if (r < 0) break;
    const std::int64_t c_prev = path_[path_.size() - 1];
    path_.push_back(r);
    path_.push_back(c_prev);
    const std::int64_t c = find_prime_in_row(r);
    path_.push_back(r);
    path_.push_back(c);
  }
  for (std::size_t k = 0; k < path_.size(); k += 2) {
    unsigned char& m = mark(path_[k], path_[k + 1]);
    m = m == 1 ? 0 : 1;
  }
  std::fill(row_covered_.begin(), row_covered_.end(), 0);
  std::fill(col_covered_.begin(), col_covered_.end(), 0);
  for (auto& m : marked_)
    if (m == 2) m = 0;
}

void Munkres::step6() {
  // munkres starts from sys.maxsize (2^63 - 1); as a double comparison bound that is 2^63.
  double minval = 9223372036854775808.0;
  for (std::int64_t r = 0; r < n_; ++r) {
    if (row_covered_[static_cast<std::size_t>(r)]) continue;
    for (std::int64_t c = 0; c < n_; ++c)
      if (!col_covered_[static_cast<std::size_t>(c)] && minval > C(r, c)) minval = C(r, c);
  }
  for (std::int64_t r = 0; r < n_; ++r) {
    const bool rc = row_covered_[static_cast<std::size_t>(r)] != 0;
    for (std::int64_t c = 0; c < n_; ++c) {
      double& v = C(r, c);
      if (rc) v += minval;
      if (!col_covered_[static_cast<std::size_t>(c)]) v -= minval;
    }
  }
}

std::int64_t Munkres::find_star_in_row(std::int64_t r) const {
  for (std::int64_t c = 0; c < n_; ++c)
    if (mark(r, c) == 1) return c;
  return -1;
}
std::int64_t Munkres::find_star_in_col(std::int64_t c) const {
  for (std::int64_t r = 0; r < n_; ++r)
    if (mark(r, c) == 1) return r;
  return -1;
}
std::int64_t Munkres::find_prime_in_row(std::int64_t r) const {
  for (std::int64_t c = 0; c < n_; ++c)
    if (mark(r, c) == 2) return c;
  return -1;
}

std::vector<Assignment> munkres_assignment(std::span<const double> cost, std::int64_t rows, std::int64_t cols) {
  Munkres m;
  return m.compute(cost, rows, cols);
}

}  // namespace hrnet::pose

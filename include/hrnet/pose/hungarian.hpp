// Minimum-cost assignment (Hungarian / Kuhn-Munkres), reproducing python `munkres` 1.1.4's
// `Munkres().compute` step for step, so that among several optimal assignments it returns the same
// one. HigherHRNet's grouping (lib/core/group.py) calls it once per joint type, and which optimum
// it picks decides which person a candidate joins when costs tie.
//
// What "the same steps" means (munkres 1.1.4; 1.0.x scans for zeros from (0, 0) every time and can
// pick a different optimum on ties; munkres >= 2 is a different algorithm altogether):
//   - the matrix is padded with zeros to n x n, n = max(rows, cols);
//   - step 1 subtracts each row's minimum (columns are never reduced);
//   - step 2 stars, row by row, the first zero whose row and column hold no star yet;
//   - step 4 primes uncovered zeros, searching from where the previous search of the same step
//     stopped (rows cyclically from that row, and within a row the *last* uncovered zero in cyclic
//     column order starting at that column);
//   - step 6 adds the smallest uncovered value to covered rows and then subtracts it from uncovered
//     columns, in that order and in double precision, exactly as the python code does (so
//     rounding in (c + m) - m is reproduced too).
// The result lists (row, col) for the starred cells inside the original rows x cols matrix, sorted
// by row. When rows > cols, rows matched to padding columns are absent (munkres does the same).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace hrnet::pose {

struct Assignment {
  std::int64_t row = 0, col = 0;
  bool operator==(const Assignment&) const = default;
};

// Reusable solver: keeps its work buffers between calls, so repeated small problems do not allocate.
// Not thread-safe; use one per thread.
class Munkres {
 public:
  // Costs must be finite with |cost| <= kMaxAbsCost (larger values could make the python algorithm,
  // and so this one, run for an astronomically long time); otherwise ValueError. `cost` is row-major
  // rows x cols. rows == 0 or cols == 0 gives an empty assignment.
  static constexpr double kMaxAbsCost = 1e15;
  const std::vector<Assignment>& compute(std::span<const double> cost, std::int64_t rows, std::int64_t cols);

 private:
  void step1();
  void step2();
  bool step3();
  bool step4();  // true: go to step 5; false: go to step 6
  void step5();
  void step6();
  std::int64_t find_star_in_row(std::int64_t r) const;
  std::int64_t find_star_in_col(std::int64_t c) const;
  std::int64_t find_prime_in_row(std::int64_t r) const;
  double& C(std::int64_t r, std::int64_t c) { return c_[static_cast<std::size_t>(r * n_ + c)]; }
  unsigned char& mark(std::int64_t r, std::int64_t c) { return marked_[static_cast<std::size_t>(r * n_ + c)]; }
  unsigned char mark(std::int64_t r, std::int64_t c) const { return marked_[static_cast<std::size_t>(r * n_ + c)]; }

  std::int64_t n_ = 0;
  std::vector<double> c_;
  std::vector<unsigned char> marked_;  // 0 none, 1 star, 2 prime
  std::vector<unsigned char> row_covered_, col_covered_;
  std::vector<std::int64_t> path_;  // (row, col) pairs
  std::int64_t z0_r_ = 0, z0_c_ = 0;
  std::vector<Assignment> result_;
};

// One-shot convenience wrapper around Munkres::compute.
std::vector<Assignment> munkres_assignment(std::span<const double> cost, std::int64_t rows, std::int64_t cols);

}  // namespace hrnet::pose

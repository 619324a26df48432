// Munkres assignment: optimality against brute force, and the exact assignment python munkres 1.1.4
// picks among tied optima (fixtures from tests/pose/make_group_fixtures.py).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "hrnet/pose/hungarian.hpp"
#include "infer_test_util.hpp"

using hrnet::pose::Assignment;
using hrnet::pose::Munkres;
using hrnet::pose::munkres_assignment;

namespace {

// Minimum over all injective maps of the smaller side into the larger one.
double brute_force_min(const std::vector<double>& c, int rows, int cols) {
  const bool by_rows = rows <= cols;
  const int small = by_rows ? rows : cols, large = by_rows ? cols : rows;
  std::vector<int> perm(static_cast<std::size_t>(large));
  std::iota(perm.begin(), perm.end(), 0);
  double best = std::numeric_limits<double>::infinity();
  do {  // every ordering of `large`; the first `small` entries are the map (duplicates are harmless)
    double s = 0;
    for (int i = 0; i < small; ++i)
      s += by_rows ? c[static_cast<std::size_t>(i * cols + perm[static_cast<std::size_t>(i)])]
                   : c[static_cast<std::size_t>(perm[static_cast<std::size_t>(i)] * cols + i)];
    best = std::min(best, s);
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

void check_valid(const std::vector<Assignment>& a, int rows, int cols) {
  REQUIRE(static_cast<int>(a.size()) == std::min(rows, cols));
  std::vector<int> rseen(static_cast<std::size_t>(rows)), cseen(static_cast<std::size_t>(cols));
  for (std::size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].row >= 0);
    REQUIRE(a[i].row < rows);
    REQUIRE(a[i].col >= 0);
    REQUIRE(a[i].col < cols);
    CHECK(++rseen[static_cast<std::size_t>(a[i].row)] == 1);
    CHECK(++cseen[static_cast<std::size_t>(a[i].col)] == 1);
    if (i) CHECK(a[i - 1].row < a[i].row);  // sorted by row, like munkres' result list
  }
}

}  // namespace

TEST_CASE("munkres matches brute force on random small matrices", "[infer][hungarian]") {
  std::mt19937 gen(1234);
  Munkres solver;
  int checked = 0;
  for (int trial = 0; trial < 600; ++trial) {
    const int rows = 1 + static_cast<int>(gen() % 6), cols = 1 + static_cast<int>(gen() % 6);
    const int kind = trial % 3;  // 0: integers in [0, 2] (many ties), 1: integers in [-5, 20], 2: reals
    std::vector<double> c(static_cast<std::size_t>(rows * cols));
    for (auto& v : c) {
      if (kind == 0) v = static_cast<double>(gen() % 3);
      else if (kind == 1) v = static_cast<double>(static_cast<int>(gen() % 26) - 5);
      else v = std::uniform_real_distribution<double>(-10, 10)(gen);
    }
    const auto& a = solver.compute(c, rows, cols);
    INFO("trial " << trial << " " << rows << "x" << cols);
    check_valid(a, rows, cols);
    double total = 0;
    for (const auto& p : a) total += c[static_cast<std::size_t>(p.row * cols + p.col)];
    const double best = brute_force_min(c, rows, cols);
    CHECK(std::abs(total - best) <= 1e-9 * (1 + std::abs(best)));
    ++checked;
  }
  CHECK(checked == 600);
}

TEST_CASE("munkres picks the same optimum as python munkres 1.1.4", "[infer][hungarian][fixture]") {
  const auto path = hrnet::infer_test::data_path("munkres_cases.json");
  std::ifstream f(path);
  if (!f) {
    WARN("skipped: fixture " << path << " missing (run tests/pose/make_group_fixtures.py)");
    return;
  }
  const auto cases = nlohmann::json::parse(f);
  REQUIRE(cases.size() > 50);
  Munkres solver;
  for (const auto& c : cases) {
    const auto rows = c["rows"].get<std::int64_t>(), cols = c["cols"].get<std::int64_t>();
    const auto cost = c["cost"].get<std::vector<double>>();
    std::vector<Assignment> expected;
    for (const auto& p : c["pairs"]) expected.push_back({p[0].get<std::int64_t>(), p[1].get<std::int64_t>()});
    INFO("case " << c["name"].get<std::string>());
    const auto& got = solver.compute(cost, rows, cols);
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      INFO("pair " << i << ": got (" << got[i].row << ", " << got[i].col << "), expected (" << expected[i].row << ", "
                   << expected[i].col << ")");
      CHECK(got[i] == expected[i]);
    }
  }
}

TEST_CASE("munkres: empty and degenerate matrices", "[infer][hungarian]") {
  CHECK(munkres_assignment({}, 0, 0).empty());
  CHECK(munkres_assignment({}, 0, 5).empty());
  CHECK(munkres_assignment({}, 4, 0).empty());
  const std::vector<double> one{3.5};
  const auto a = munkres_assignment(one, 1, 1);
  REQUIRE(a.size() == 1);
  CHECK(a[0] == Assignment{0, 0});
  // A row vector: the cheapest column wins; the first one on ties is not guaranteed, the cheapest is.
  const std::vector<double> row{4, 1, 7, 1, 9};
  const auto b = munkres_assignment(row, 1, 5);
  REQUIRE(b.size() == 1);
  CHECK(row[static_cast<std::size_t>(b[0].col)] == 1);
}

TEST_CASE("munkres: bad input is rejected with a clear error", "[infer][hungarian]") {
  using hrnet::test::check_throws;
  const std::vector<double> c{1, 2, 3, 4};
  check_throws<hrnet::ShapeError>([&] { munkres_assignment(c, 3, 2); }, "4 costs given for a 3x2 matrix");
  check_throws<hrnet::ValueError>([&] { munkres_assignment(c, -1, 2); }, "negative matrix size");
  std::vector<double> bad = c;
  bad[2] = std::nan("");
  check_throws<hrnet::ValueError>([&] { munkres_assignment(bad, 2, 2); }, "cost (1, 0) is nan");
  bad[2] = std::numeric_limits<double>::infinity();
  check_throws<hrnet::ValueError>([&] { munkres_assignment(bad, 2, 2); }, "must be finite");
  bad[2] = 1e300;
  check_throws<hrnet::ValueError>([&] { munkres_assignment(bad, 2, 2); }, "at most");
}

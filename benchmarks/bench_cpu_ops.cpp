// bench_cpu_ops: times the CPU reference backend on HRNet-shaped work and writes JSON.
// What it reports, per case: the median of several timed repetitions after a warm-up, and
// ratios between alternatives measured in the same run (e.g. the fused fusion node against
// separate upsample + add + relu). The CUDA microbenchmarks (bench_kernels) come with the CUDA
// backend; this program is the CPU baseline.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "cli.hpp"
#include "hrnet/core/rng.hpp"
#include "hrnet/ops/ops.hpp"

using namespace hrnet;
using V = Var<float, CPU>;

namespace {
double median_seconds(const std::function<void()>& f, int reps) {
  f();  // warm-up
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto a = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}
V randn(const Shape& s, Rng& rng, bool grad = false) {
  auto t = Tensor<float, CPU>::empty(s);
  fill_normal(t, rng);
  return V(t, grad);
}
}  // namespace

int main(int argc, char** argv) {
  std::string json;
  int reps = 5;
  try {
    cli::Args args(argc, argv);
    while (args.next()) {
      const std::string& a = args.key();
      if (a == "--help" || a == "-h") {
      std::puts("usage: bench_cpu_ops [--json FILE] [--reps N]\n"
                "Times CPU conv2d forward/backward at HigherHRNet-W32 branch shapes (batch 2, 256x256 input)\n"
                "and the fused fusion node against separate upsample+add+relu; prints a table and, with\n"
                "--json, writes the results (seconds, GFLOP/s, ratios).");
        return 0;
      }
      if (a == "--json") json = args.value();
      else if (a == "--reps") reps = static_cast<int>(args.integer(1));
      else args.unknown();
    }
  } catch (const ValueError& e) {
    std::fprintf(stderr, "bench_cpu_ops: error: %s\n", e.what());
    return 2;
  }
  Rng rng(0);
  struct Row { std::string name; double seconds; double gflops; };
  std::vector<Row> rows;
  // 3x3 convs of the four branches (W32 widths) at a 256 input: 64, 32, 16, 8 pixels per side.
  const std::int64_t N = 2;
  for (auto [c, hw] : std::vector<std::pair<std::int64_t, std::int64_t>>{{32, 64}, {64, 32}, {128, 16}, {256, 8}}) {
    V x = randn({N, c, hw, hw}, rng, true), w = randn({c, c, 3, 3}, rng, true);
    const double flops = 2.0 * N * hw * hw * c * c * 9;
    const double fwd = median_seconds([&] { autograd::NoGradGuard g; ops::conv2d(x, w, {1, 1, 0}); }, reps);
    const double fb = median_seconds([&] {
      V y = ops::conv2d(x, w, {1, 1, 0});
      backward(y, Tensor<float, CPU>::full(y.shape(), 1.0f));
    }, reps);
    const std::string tag = "conv3x3_c" + std::to_string(c) + "_" + std::to_string(hw);
    rows.push_back({tag + "_fwd", fwd, flops / fwd * 1e-9});
    rows.push_back({tag + "_fwd_bwd", fb, 3 * flops / fb * 1e-9});
  }
  // A fusion node of branch 0 (32 x 64 x 64) with inputs from branches 1..3 after their 1x1 convs.
  V x0 = randn({N, 32, 64, 64}, rng), x1 = randn({N, 32, 32, 32}, rng), x2 = randn({N, 32, 16, 16}, rng),
    x3 = randn({N, 32, 8, 8}, rng);
  const double fused = median_seconds([&] { autograd::NoGradGuard g; ops::fusion_sum_relu({x0, x1, x2, x3}, {1, 2, 4, 8}); }, reps);
  const double separate = median_seconds([&] {
    autograd::NoGradGuard g;
    ops::relu(ops::add({x0, ops::upsample_nearest(x1, 2), ops::upsample_nearest(x2, 4), ops::upsample_nearest(x3, 8)}));
  }, reps);
  rows.push_back({"fusion_node_fused", fused, 0});
  rows.push_back({"fusion_node_separate", separate, 0});

  std::printf("%-28s %12s %10s\n", "case", "median ms", "GFLOP/s");
  for (auto& r : rows) std::printf("%-28s %12.3f %10.2f\n", r.name.c_str(), r.seconds * 1e3, r.gflops);
  std::printf("fused fusion node speed-up over upsample+add+relu: %.2fx\n", separate / fused);
  if (!json.empty()) {
    std::ofstream f(json);
    f << "{\n  \"benchmark\": \"bench_cpu_ops\",\n  \"threads\": \"OMP default\",\n  \"reps\": " << reps
      << ",\n  \"fusion_speedup\": " << separate / fused << ",\n  \"cases\": [\n";
    for (std::size_t i = 0; i < rows.size(); ++i)
      f << "    {\"name\": \"" << rows[i].name << "\", \"seconds\": " << rows[i].seconds << ", \"gflops\": " << rows[i].gflops
        << "}" << (i + 1 < rows.size() ? ",\n" : "\n");
    f << "  ]\n}\n";
    std::printf("results written to %s\n", json.c_str());
  }
  return 0;
}

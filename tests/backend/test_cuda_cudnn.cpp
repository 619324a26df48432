// CUDA-vs-CPU parity of the cuDNN/cuBLAS ops: convolution (plain and transposed, every direction),
// bias gradients, batch norm (train, eval, fused add+relu), linear; accumulation into non-zero
// gradients; bit-identical repeats in deterministic mode. Plus host-only checks of the HRNET_HD
// batch-norm arithmetic (bn_math.hpp) against the CPU backend, which run everywhere.
//
// Tolerances. Inputs are rounded to T once, and the CPU reference computes on exactly those values
// in float, so only the GPU's arithmetic differs:
// - a dot product of K terms accumulated in fp32 (any order, FMA or not) is within K * 2^-24 of
//   sum |terms|; we allow 8x that for blocked/split orders and transform-based algorithms
//   (Winograd), plus 2^-20 * max sum|terms| for FFT algorithms, whose error is norm-wise;
// - 16-bit products are exact in fp32 (tensor cores included), so a 16-bit output adds one
//   rounding, unit_roundoff<T>() * |result|, and where cuDNN may round the product before blending
//   it into an accumulated gradient, one more of at most unit_roundoff<T>() * sum |terms|.
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <tuple>
#include <vector>

#include <cudnn.h>

#include "cuda_test_util.hpp"
#include "bn_math.hpp"
#include "hrnet/backend/cpu.hpp"
#include "hrnet/io/safetensors.hpp"
#include "hrnet/io/tensor_io.hpp"

namespace hrnet::gpu::detail {
// Test hook defined in kernels/cuda/batch_norm_cudnn.cu: false sends batch norm to the kernels used
// when cuDNN rejects a configuration.
void batch_norm_use_cudnn(bool on);
// Test hook defined in kernels/cuda/conv_cudnn.cu (no GPU needed): what cuDNN derives from the
// descriptors of a convolution: {n, k, ho, wo} and the image strides {n, c, h, w}.
std::array<std::int64_t, 8> conv_descriptor_readback(const Shape& image, const Shape& filter, const Shape& out,
                                                     int stride, int pad, bool half_data);
// Test hook defined in kernels/cuda/conv_cudnn.cu (no GPU needed): the algorithm and math type the
// selection takes from a forward performance list; {-1, 0} when none is acceptable.
std::pair<int, int> conv_pick_readback(const std::vector<cudnnConvolutionFwdAlgoPerf_t>& perfs, bool ieee_fp32,
                                       bool deterministic);
}  // namespace hrnet::gpu::detail

namespace {

using namespace hrnet;
using hrnet::test::host_f32;
using hrnet::test::random_tensor;
using hrnet::test::unit_roundoff;
template <class T>
using G = Tensor<T, CUDA>;
using F = Tensor<float, CPU>;

F abs_of(const F& t) {
  F r = F::empty(t.shape());
  for (std::int64_t i = 0; i < t.numel(); ++i) r[i] = std::fabs(t[i]);
  return r;
}
F plus(const F& a, const F& b) {
  F r = F::empty(a.shape());
  for (std::int64_t i = 0; i < a.numel(); ++i) r[i] = a[i] + b[i];
  return r;
}
double max_of(const F& t) {
  double m = 0;
  for (std::int64_t i = 0; i < t.numel(); ++i) m = std::max(m, double(t[i]));
  return m;
}

// A T tensor on the GPU and its float copy holding the same rounded values.
template <class T>
std::pair<G<T>, F> rnd(const Shape& s, std::uint64_t seed, float lo = -1.f, float hi = 1.f) {
  return test::random_pair<T>(s, seed, lo, hi);
}

// |gpu - ref| <= u * (|ref| + S) + 8 K 2^-24 S + 2^-20 max S, elementwise, where S = sum |terms|
// of each output (see the header comment); u = 0 for fp32 outputs.
template <class T>
void check_sum(const G<T>& gpu, const F& ref, const F& S, double K, const std::string& what) {
  const F got = host_f32(gpu);
  INFO(what << ": shapes " << got.shape() << " vs " << ref.shape());
  REQUIRE(got.shape() == ref.shape());
  const double u = std::is_same_v<T, float> ? 0.0 : unit_roundoff<T>();
  const double maxS = max_of(S);
  std::int64_t bad = -1;
  double worst_excess = 0;
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    const double tol = u * (std::fabs(ref[i]) + S[i]) + 8.0 * K * 0x1p-24 * S[i] + 0x1p-20 * maxS;
    const double excess = std::fabs(double(got[i]) - double(ref[i])) - tol;
    if (!(excess <= 0) && (bad < 0 || excess > worst_excess || std::isnan(got[i]))) {
      bad = i;
      worst_excess = excess;
    }
  }
  INFO(what << ": worst element " << bad
            << (bad >= 0 ? " got " + std::to_string(got[bad]) + " expected " + std::to_string(ref[bad])
                         : std::string()));
  CHECK(bad < 0);
}

template <class T>
bool same_bits(const G<T>& a, const G<T>& b) {
  const auto ha = to_cpu(a), hb = to_cpu(b);
  return ha.shape() == hb.shape() && std::memcmp(ha.data(), hb.data(), ha.bytes()) == 0;
}

// Restores the process-wide settings a test changes.
struct SettingsGuard {
  bool bench = gpu::cudnn_benchmark(), det = gpu::deterministic(), tf32 = gpu::allow_tf32();
  ~SettingsGuard() {
    gpu::set_cudnn_benchmark(bench);
    gpu::set_deterministic(det);
    gpu::set_allow_tf32(tf32);
  }
};

// ---- convolution --------------------------------------------------------------------------------------
struct ConvCase {
  std::int64_t N, Ci, Co, H, W;
  int K, stride, pad;
};
const std::vector<ConvCase> kConvCases = {
    {2, 3, 5, 9, 11, 3, 1, 1},  {2, 13, 8, 7, 10, 3, 2, 1}, {1, 37, 16, 5, 6, 1, 1, 0},
    {3, 16, 32, 8, 8, 3, 1, 1}, {2, 8, 13, 11, 9, 1, 2, 0}, {1, 5, 3, 6, 7, 3, 2, 0},
};

template <class T>
void conv_parity(const ConvCase& c, std::uint64_t seed) {
  const std::int64_t Ho = (c.H + 2 * c.pad - c.K) / c.stride + 1, Wo = (c.W + 2 * c.pad - c.K) / c.stride + 1;
  const Shape xs{c.N, c.Ci, c.H, c.W}, ws{c.Co, c.Ci, c.K, c.K}, ys{c.N, c.Co, Ho, Wo};
  const std::string tag = "conv N" + std::to_string(c.N) + " Ci" + std::to_string(c.Ci) + " Co" + std::to_string(c.Co) +
                          " K" + std::to_string(c.K) + " s" + std::to_string(c.stride);
  auto [x, xf] = rnd<T>(xs, seed);
  auto [w, wf] = rnd<T>(ws, seed + 1);
  auto [b, bf] = rnd<T>(Shape{c.Co}, seed + 2);
  auto [dy, dyf] = rnd<T>(ys, seed + 3);
  auto [dx, dx0] = rnd<T>(xs, seed + 4);  // non-zero: backward must accumulate
  auto [dw, dw0] = rnd<T>(ws, seed + 5);

  for (bool with_bias : {true, false}) {
    auto y = G<T>::empty(ys);
    gpu::conv2d_forward(x, w, with_bias ? &b : nullptr, y, c.stride, c.pad);
    F ref = F::empty(ys), S = F::empty(ys);
    cpu::conv2d_forward<float>(xf, wf, with_bias ? &bf : nullptr, ref, c.stride, c.pad);
    const F babs = abs_of(bf);
    cpu::conv2d_forward<float>(abs_of(xf), abs_of(wf), with_bias ? &babs : nullptr, S, c.stride, c.pad);
    check_sum(y, ref, S, double(c.Ci * c.K * c.K), tag + (with_bias ? " forward+bias" : " forward"));
  }
  {
    gpu::conv2d_backward_data(dy, w, dx, c.stride, c.pad);
    F ref = dx0.clone(), S = abs_of(dx0);
    cpu::conv2d_backward_data<float>(dyf, wf, ref, c.stride, c.pad);
    cpu::conv2d_backward_data<float>(abs_of(dyf), abs_of(wf), S, c.stride, c.pad);
    check_sum(dx, ref, S, double(c.Co * c.K * c.K), tag + " backward data");
  }
  {
    gpu::conv2d_backward_weight(x, dy, dw, c.stride, c.pad);
    F ref = dw0.clone(), S = abs_of(dw0);
    cpu::conv2d_backward_weight<float>(xf, dyf, ref, c.stride, c.pad);
    cpu::conv2d_backward_weight<float>(abs_of(xf), abs_of(dyf), S, c.stride, c.pad);
    check_sum(dw, ref, S, double(c.N * Ho * Wo), tag + " backward weight");
  }
}

TEMPLATE_TEST_CASE("cuda conv2d matches the CPU in every direction", "[cuda][cudnn]", float, half, bfloat16) {
  HRNET_REQUIRE_GPU();
  SettingsGuard guard;
  for (bool bench : {true, false}) {
    gpu::set_cudnn_benchmark(bench);
    std::uint64_t seed = bench ? 100 : 200;
    for (const auto& c : kConvCases) conv_parity<TestType>(c, seed += 10);
  }
}

struct TConvCase {
  std::int64_t N, Ci, Co, H, W;
  int K, stride, pad, out_pad;
};

template <class T>
void conv_transpose_parity(const TConvCase& c, std::uint64_t seed) {
  const std::int64_t Ho = (c.H - 1) * c.stride - 2 * c.pad + c.K + c.out_pad;
  const std::int64_t Wo = (c.W - 1) * c.stride - 2 * c.pad + c.K + c.out_pad;
  const Shape xs{c.N, c.Ci, c.H, c.W}, ws{c.Ci, c.Co, c.K, c.K}, ys{c.N, c.Co, Ho, Wo};
  const std::string tag = "conv_transpose Ci" + std::to_string(c.Ci) + " Co" + std::to_string(c.Co) + " K" +
                          std::to_string(c.K) + " s" + std::to_string(c.stride);
  auto [x, xf] = rnd<T>(xs, seed);
  auto [w, wf] = rnd<T>(ws, seed + 1);
  auto [b, bf] = rnd<T>(Shape{c.Co}, seed + 2);
  auto [dy, dyf] = rnd<T>(ys, seed + 3);
  auto [dx, dx0] = rnd<T>(xs, seed + 4);
  auto [dw, dw0] = rnd<T>(ws, seed + 5);
  // Each output of the transposed forward sums at most ceil(K/s)^2 * Ci terms; K*K*Ci bounds it.
  for (bool with_bias : {true, false}) {
    auto y = G<T>::empty(ys);
    gpu::conv_transpose2d_forward(x, w, with_bias ? &b : nullptr, y, c.stride, c.pad);
    F ref = F::empty(ys), S = F::empty(ys);
    cpu::conv_transpose2d_forward<float>(xf, wf, with_bias ? &bf : nullptr, ref, c.stride, c.pad);
    const F babs = abs_of(bf);
    cpu::conv_transpose2d_forward<float>(abs_of(xf), abs_of(wf), with_bias ? &babs : nullptr, S, c.stride, c.pad);
    check_sum(y, ref, S, double(c.Ci * c.K * c.K), tag + (with_bias ? " forward+bias" : " forward"));
  }
  {
    gpu::conv_transpose2d_backward_data(dy, w, dx, c.stride, c.pad);
    F ref = dx0.clone(), S = abs_of(dx0);
    cpu::conv_transpose2d_backward_data<float>(dyf, wf, ref, c.stride, c.pad);
    cpu::conv_transpose2d_backward_data<float>(abs_of(dyf), abs_of(wf), S, c.stride, c.pad);
    check_sum(dx, ref, S, double(c.Co * c.K * c.K), tag + " backward data");
  }
  {
    gpu::conv_transpose2d_backward_weight(x, dy, dw, c.stride, c.pad);
    F ref = dw0.clone(), S = abs_of(dw0);
    cpu::conv_transpose2d_backward_weight<float>(xf, dyf, ref, c.stride, c.pad);
    cpu::conv_transpose2d_backward_weight<float>(abs_of(xf), abs_of(dyf), S, c.stride, c.pad);
    check_sum(dw, ref, S, double(c.N * c.H * c.W), tag + " backward weight");
  }
}

TEMPLATE_TEST_CASE("cuda conv_transpose2d matches the CPU in every direction", "[cuda][cudnn]", float, half, bfloat16) {
  HRNET_REQUIRE_GPU();
  const std::vector<TConvCase> cases = {
      {2, 5, 3, 7, 9, 4, 2, 1, 0},  // HigherHRNet's deconvolution: K4 s2 p1 doubles the size
      {1, 37, 16, 5, 6, 4, 2, 1, 0}, {2, 16, 13, 4, 5, 4, 2, 1, 1},  // output_padding 1 (odd output)
      {2, 8, 5, 6, 7, 3, 1, 1, 0},   {1, 13, 8, 5, 5, 1, 1, 0, 0},
  };
  std::uint64_t seed = 300;
  for (const auto& c : cases) conv_transpose_parity<TestType>(c, seed += 10);
}

TEMPLATE_TEST_CASE("cuda bias_backward accumulates channel sums", "[cuda][cudnn]", float, half, bfloat16) {
  HRNET_REQUIRE_GPU();
  for (const Shape& s : {Shape{2, 5, 7, 9}, Shape{3, 37, 4, 5}, Shape{1, 64, 33, 31}, Shape{9, 13}}) {
    auto [dy, dyf] = rnd<TestType>(s, 400 + s[1]);
    const std::int64_t C = s[1];
    auto [db, db0] = rnd<TestType>(Shape{C}, 401 + s[1]);
    gpu::bias_backward(dy, db);
    F ref = db0.clone(), S = abs_of(db0);
    cpu::bias_backward<float>(dyf, ref);
    cpu::bias_backward<float>(abs_of(dyf), S);
    check_sum(db, ref, S, double(dy.numel() / C), "bias_backward " + s.str());
  }
}

// ---- linear ------------------------------------------------------------------------------------------------
TEMPLATE_TEST_CASE("cuda linear matches the CPU forward and backward", "[cuda][cublas]", float, half, bfloat16) {
  HRNET_REQUIRE_GPU();
  struct Case {
    std::int64_t N, F, O;
  };
  for (const Case c : {Case{7, 37, 13}, Case{16, 64, 32}, Case{3, 5, 1}, Case{33, 17, 40}}) {
    const std::string tag = "linear " + std::to_string(c.N) + "x" + std::to_string(c.F) + "->" + std::to_string(c.O);
    auto [x, xf] = rnd<TestType>(Shape{c.N, c.F}, 500 + c.F);
    auto [w, wf] = rnd<TestType>(Shape{c.O, c.F}, 501 + c.F);
    auto [b, bf] = rnd<TestType>(Shape{c.O}, 502 + c.F);
    auto [dy, dyf] = rnd<TestType>(Shape{c.N, c.O}, 503 + c.F);
    for (bool with_bias : {true, false}) {
      auto y = G<TestType>::empty(Shape{c.N, c.O});
      gpu::linear_forward(x, w, with_bias ? &b : nullptr, y);
      F ref = F::empty(Shape{c.N, c.O}), S = F::empty(Shape{c.N, c.O});
      const F babs = abs_of(bf);
      cpu::linear_forward<float>(xf, wf, with_bias ? &bf : nullptr, ref);
      cpu::linear_forward<float>(abs_of(xf), abs_of(wf), with_bias ? &babs : nullptr, S);
      check_sum(y, ref, S, double(c.F), tag + (with_bias ? " forward+bias" : " forward"));
    }
    auto [dx, dx0] = rnd<TestType>(Shape{c.N, c.F}, 504 + c.F);
    auto [dw, dw0] = rnd<TestType>(Shape{c.O, c.F}, 505 + c.F);
    auto [db, db0] = rnd<TestType>(Shape{c.O}, 506 + c.F);
    gpu::linear_backward(x, w, dy, &dx, &dw, &db);
    F rdx = dx0.clone(), rdw = dw0.clone(), rdb = db0.clone();
    F sdx = abs_of(dx0), sdw = abs_of(dw0), sdb = abs_of(db0);
    cpu::linear_backward<float>(xf, wf, dyf, &rdx, &rdw, &rdb);
    cpu::linear_backward<float>(abs_of(xf), abs_of(wf), abs_of(dyf), &sdx, &sdw, &sdb);
    check_sum(dx, rdx, sdx, double(c.O), tag + " dx");
    check_sum(dw, rdw, sdw, double(c.N), tag + " dw");
    check_sum(db, rdb, sdb, double(c.N), tag + " db");
    // One gradient at a time: each null one is skipped and the requested one is still right.
    auto dx2 = to_cuda(cast<TestType>(dx0));
    auto dw2 = to_cuda(cast<TestType>(dw0));
    auto db2 = to_cuda(cast<TestType>(db0));
    gpu::linear_backward<TestType>(x, w, dy, nullptr, &dw2, nullptr);
    check_sum(dw2, rdw, sdw, double(c.N), tag + " dw alone");
    gpu::linear_backward<TestType>(x, w, dy, &dx2, nullptr, nullptr);
    check_sum(dx2, rdx, sdx, double(c.O), tag + " dx alone");
    gpu::linear_backward<TestType>(x, w, dy, nullptr, nullptr, &db2);
    check_sum(db2, rdb, sdb, double(c.N), tag + " db alone");
  }
}

// ---- batch norm --------------------------------------------------------------------------------------------
struct BnInputs {
  F gamma, beta, rmean, rvar;
};
BnInputs bn_params(std::int64_t C, std::uint64_t seed) {
  return {random_tensor<float>(Shape{C}, seed, 0.5f, 1.5f), random_tensor<float>(Shape{C}, seed + 1, -0.5f, 0.5f),
          random_tensor<float>(Shape{C}, seed + 2, -0.2f, 0.2f), random_tensor<float>(Shape{C}, seed + 3, 0.5f, 1.5f)};
}

// Batch-norm statistics accumulate `rows` fp32 terms: relative error within rows * 2^-24 of the
// sums; a normalised output (|xhat| <= sqrt(rows)) inherits it through invstd and the mean.
double bn_tol(std::int64_t rows) { return 8.0 * double(rows) * 0x1p-24; }

struct BnPathGuard {
  explicit BnPathGuard(bool cudnn) { gpu::detail::batch_norm_use_cudnn(cudnn); }
  ~BnPathGuard() { gpu::detail::batch_norm_use_cudnn(true); }
};

const std::vector<Shape> kBnShapes = {Shape{2, 5, 7, 9}, Shape{3, 37, 5, 6}, Shape{4, 16, 8, 8}, Shape{2, 13, 3, 1},
                                      Shape{8, 64, 4, 4}};

TEMPLATE_TEST_CASE("cuda batch_norm forward matches the CPU in train and eval mode", "[cuda][cudnn]", float, half,
                   bfloat16) {
  HRNET_REQUIRE_GPU();
  using T = TestType;
  const double u = std::is_same_v<T, float> ? 0.0 : unit_roundoff<T>();
  const double momentum = 0.1, eps = 1e-5;
  std::uint64_t seed = 600;
  for (bool use_cudnn : {true, false}) {
    BnPathGuard path(use_cudnn);
    INFO((use_cudnn ? "cuDNN" : "own kernels"));
    for (const Shape& s : kBnShapes) {
      const std::int64_t C = s.c(), rows = s.numel() / C;
      const double tol = bn_tol(rows);
      auto [x, xf] = rnd<T>(s, seed += 10, -2.f, 3.f);
      const BnInputs p = bn_params(C, seed + 5);
      // train
      auto rm = to_cuda(p.rmean), rv = to_cuda(p.rvar);
      auto sm = G<float>::empty(Shape{C}), si = G<float>::empty(Shape{C});
      auto y = G<T>::empty(s);
      gpu::batch_norm_forward_train(x, to_cuda(p.gamma), to_cuda(p.beta), rm, rv, y, sm, si, momentum, eps);
      F rrm = p.rmean.clone(), rrv = p.rvar.clone(), rsm = F::empty(Shape{C}), rsi = F::empty(Shape{C});
      F ry = F::empty(s);
      cpu::batch_norm_forward_train<float>(xf, p.gamma, p.beta, rrm, rrv, ry, rsm, rsi, momentum, eps);
      const std::string tag = "batch_norm train " + s.str();
      // |y| <= gamma*|xhat| + |beta| is O(4) here; statistics errors scale with it.
      test::require_gpu_close(y, ry, u, tol * 8.0 + u, tag + " y");
      test::require_gpu_close(sm, rsm, tol, tol * 3.0, tag + " save_mean");  // |x| < 3
      test::require_gpu_close(si, rsi, tol, 0.0, tag + " save_invstd");
      test::require_gpu_close(rm, rrm, tol, tol * 3.0, tag + " running_mean");
      test::require_gpu_close(rv, rrv, tol, 0.0, tag + " running_var (unbiased)");
      // eval, with the running statistics just updated on the CPU
      auto ye = G<T>::empty(s);
      gpu::batch_norm_forward_eval(x, to_cuda(p.gamma), to_cuda(p.beta), to_cuda(rrm), to_cuda(rrv), ye, eps);
      F rye = F::empty(s);
      cpu::batch_norm_forward_eval<float>(xf, p.gamma, p.beta, rrm, rrv, rye, eps);
      // A per-element affine map: a few fp32 roundings of |x*scale| + |shift| <= 8, plus the output's.
      test::require_gpu_close(ye, rye, u, 8.0 * 4 * 0x1p-24 + u, "batch_norm eval " + s.str());
    }
  }
}

// One row per channel: the CPU keeps the biased variance (0) for the running statistics, where
// cuDNN's unbiased rule would divide by rows - 1 = 0; the cuDNN path must step aside.
TEST_CASE("cuda batch_norm train with one row per channel keeps finite running statistics", "[cuda][cudnn]") {
  HRNET_REQUIRE_GPU();
  const Shape s{1, 8, 1, 1};
  const std::int64_t C = s.c();
  auto [x, xf] = rnd<float>(s, 950, -2.f, 3.f);
  const BnInputs p = bn_params(C, 955);
  auto rm = to_cuda(p.rmean), rv = to_cuda(p.rvar);
  auto sm = G<float>::empty(Shape{C}), si = G<float>::empty(Shape{C});
  auto y = G<float>::empty(s);
  gpu::batch_norm_forward_train(x, to_cuda(p.gamma), to_cuda(p.beta), rm, rv, y, sm, si, 0.1, 1e-5);
  F rrm = p.rmean.clone(), rrv = p.rvar.clone(), rsm = F::empty(Shape{C}), rsi = F::empty(Shape{C}), ry = F::empty(s);
  cpu::batch_norm_forward_train<float>(xf, p.gamma, p.beta, rrm, rrv, ry, rsm, rsi, 0.1, 1e-5);
  // The mean of one value is exact; the rest are one double expression rounded once on each side.
  test::require_gpu_close(sm, rsm, 0.0, 0.0, "one row: save_mean");
  test::require_gpu_close(si, rsi, 0x1p-22, 0.0, "one row: save_invstd");
  test::require_gpu_close(rm, rrm, 0x1p-22, 0.0, "one row: running_mean");
  test::require_gpu_close(rv, rrv, 0x1p-22, 0.0, "one row: running_var");
}

TEMPLATE_TEST_CASE("cuda batch_norm backward accumulates like the CPU in train and eval mode", "[cuda][cudnn]", float,
                   half, bfloat16) {
  HRNET_REQUIRE_GPU();
  using T = TestType;
  const double u = std::is_same_v<T, float> ? 0.0 : unit_roundoff<T>();
  const double eps = 1e-5;  // the forward's, passed on to cuDNN's backward
  std::uint64_t seed = 700;
  for (bool use_cudnn : {true, false}) {
    BnPathGuard path(use_cudnn);
    INFO((use_cudnn ? "cuDNN" : "own kernels"));
    for (const Shape& s : kBnShapes) {
      const std::int64_t C = s.c(), rows = s.numel() / C;
      const double tol = bn_tol(rows);
      auto [x, xf] = rnd<T>(s, seed += 10, -2.f, 3.f);
      auto [dy, dyf] = rnd<T>(s, seed + 1);
      const BnInputs p = bn_params(C, seed + 5);
      // statistics from the CPU forward, given to both backwards
      F rm = p.rmean.clone(), rv = p.rvar.clone(), mean = F::empty(Shape{C}), inv = F::empty(Shape{C}),
        yy = F::empty(s);
      cpu::batch_norm_forward_train<float>(xf, p.gamma, p.beta, rm, rv, yy, mean, inv, 0.1, 1e-5);
      for (bool training : {true, false}) {
        const std::string tag = std::string("batch_norm backward ") + (training ? "train " : "eval ") + s.str();
        auto [dx, dx0] = rnd<T>(s, seed + 2);
        F dg0 = random_tensor<float>(Shape{C}, seed + 3), db0 = random_tensor<float>(Shape{C}, seed + 4);
        auto dg = to_cuda(dg0), db = to_cuda(db0);
        gpu::batch_norm_backward(x, dy, to_cuda(p.gamma), to_cuda(mean), to_cuda(inv), training, eps, &dx, &dg, &db);
        F rdx = dx0.clone(), rdg = dg0.clone(), rdb = db0.clone();
        cpu::batch_norm_backward<float>(xf, dyf, p.gamma, mean, inv, training, eps, &rdx, &rdg, &rdb);
        // Sums of `rows` terms of size |dy| * |xhat| <= 1 * 3 (|x - mean| <= 5, invstd about 0.7).
        const double sum_scale = double(rows) * 3.0;
        test::require_gpu_close(dg, rdg, 0.0, tol * sum_scale, tag + " dgamma");
        test::require_gpu_close(db, rdb, 0.0, tol * sum_scale, tag + " dbeta");
        // dx = k (dy - a - (x - mean) b): |k| <= 1.5 * 1.5, the means a, b carry the sums' error.
        test::require_gpu_close(dx, rdx, u, (tol * 3.0 * 8.0 + u) * 4.0, tag + " dx");
        // Only some gradients wanted: the others are left alone.
        auto dg_only = to_cuda(dg0);
        gpu::batch_norm_backward<T>(x, dy, to_cuda(p.gamma), to_cuda(mean), to_cuda(inv), training, eps, nullptr, &dg_only,
                                    nullptr);
        test::require_gpu_close(dg_only, rdg, 0.0, tol * sum_scale, tag + " dgamma alone");
        auto dx_only = to_cuda(cast<T>(dx0));
        gpu::batch_norm_backward<T>(x, dy, to_cuda(p.gamma), to_cuda(mean), to_cuda(inv), training, eps, &dx_only, nullptr,
                                    nullptr);
        test::require_gpu_close(dx_only, rdx, u, (tol * 3.0 * 8.0 + u) * 4.0, tag + " dx alone");
      }
    }
  }
}

TEST_CASE("cuda batch_norm_eval_invstd is 1/sqrt(var + eps)", "[cuda][cudnn]") {
  HRNET_REQUIRE_GPU();
  const F var = random_tensor<float>(Shape{37}, 800, 0.f, 4.f);
  auto inv = G<float>::empty(Shape{37});
  gpu::batch_norm_eval_invstd(to_cuda(var), 1e-5, inv);
  F ref = F::empty(Shape{37});
  for (std::int64_t c = 0; c < 37; ++c) ref[c] = float(1.0 / std::sqrt(double(var[c]) + 1e-5));
  test::require_gpu_close(inv, ref, 0x1p-23, 0.0, "batch_norm_eval_invstd");  // both round a double once
}

TEMPLATE_TEST_CASE("cuda batch_norm_add_relu matches bn then add then relu", "[cuda][cudnn]", float, half, bfloat16) {
  HRNET_REQUIRE_GPU();
  using T = TestType;
  const double u = std::is_same_v<T, float> ? 0.0 : unit_roundoff<T>();
  const double eps = 1e-5;
  std::uint64_t seed = 900;
  for (bool use_cudnn : {true, false}) {
    BnPathGuard path(use_cudnn);
    INFO((use_cudnn ? "cuDNN" : "own kernels"));
    for (const Shape& s : kBnShapes) {
      for (bool with_z : {true, false}) {
        const std::int64_t C = s.c(), rows = s.numel() / C;
        const double tol = bn_tol(rows);
        const std::string tag = std::string("batch_norm_add_relu ") + (with_z ? "with z " : "") + s.str();
        auto [x, xf] = rnd<T>(s, seed += 10, -2.f, 3.f);
        auto [z, zf] = rnd<T>(s, seed + 1);
        const BnInputs p = bn_params(C, seed + 5);
        auto rm = to_cuda(p.rmean), rv = to_cuda(p.rvar);
        auto sm = G<float>::empty(Shape{C}), si = G<float>::empty(Shape{C});
        auto y = G<T>::empty(s);
        gpu::batch_norm_add_relu_forward_train(x, with_z ? &z : nullptr, to_cuda(p.gamma), to_cuda(p.beta), rm, rv, y,
                                               sm, si, 0.1, 1e-5);
        F rrm = p.rmean.clone(), rrv = p.rvar.clone(), rsm = F::empty(Shape{C}), rsi = F::empty(Shape{C});
        F ry = F::empty(s);
        cpu::batch_norm_forward_train<float>(xf, p.gamma, p.beta, rrm, rrv, ry, rsm, rsi, 0.1, 1e-5);
        if (with_z) ry = plus(ry, zf);
        F ryr = F::empty(s);
        cpu::relu_forward<float>(ry, ryr);
        test::require_gpu_close(y, ryr, u, tol * 8.0 + 2.0 * u, tag + " y");  // the sum with z may round once more
        test::require_gpu_close(sm, rsm, tol, tol * 3.0, tag + " save_mean");
        test::require_gpu_close(si, rsi, tol, 0.0, tag + " save_invstd");
        test::require_gpu_close(rm, rrm, tol, tol * 3.0, tag + " running_mean");
        test::require_gpu_close(rv, rrv, tol, 0.0, tag + " running_var");

        // Backward from the GPU's own y (the relu mask), with the CPU's statistics on both sides.
        auto [dy, dyf] = rnd<T>(s, seed + 2);
        auto [dx, dx0] = rnd<T>(s, seed + 3);
        auto [dz, dz0] = rnd<T>(s, seed + 4);
        F dg0 = random_tensor<float>(Shape{C}, seed + 6), db0 = random_tensor<float>(Shape{C}, seed + 7);
        auto dg = to_cuda(dg0), db = to_cuda(db0);
        gpu::batch_norm_add_relu_backward(x, y, dy, to_cuda(p.gamma), to_cuda(p.beta), to_cuda(rsm), to_cuda(rsi), eps, &dx,
                                          with_z ? &dz : nullptr, &dg, &db);
        const F yg = host_f32(y);
        F g = F::zeros(s);
        cpu::relu_backward<float>(yg, dyf, g);
        F rdx = dx0.clone(), rdg = dg0.clone(), rdb = db0.clone();
        cpu::batch_norm_backward<float>(xf, g, p.gamma, rsm, rsi, true, eps, &rdx, &rdg, &rdb);
        const double sum_scale = double(rows) * 3.0;
        test::require_gpu_close(dg, rdg, 0.0, tol * sum_scale, tag + " dgamma");
        test::require_gpu_close(db, rdb, 0.0, tol * sum_scale, tag + " dbeta");
        test::require_gpu_close(dx, rdx, u, (tol * 3.0 * 8.0 + u) * 4.0, tag + " dx");
        if (with_z)
          test::require_gpu_close(dz, plus(dz0, g), u, 0.0, tag + " dz");  // one rounding of dz + g
        else
          CHECK(same_bits(dz, to_cuda(cast<T>(dz0))));
      }
    }
  }
}

// ---- determinism ------------------------------------------------------------------------------------------
TEMPLATE_TEST_CASE("cuda deterministic mode repeats bit for bit", "[cuda][cudnn]", float, half, bfloat16) {
  HRNET_REQUIRE_GPU();
  using T = TestType;
  SettingsGuard guard;
  gpu::set_deterministic(true);
  const Shape xs{4, 32, 17, 15}, ws{48, 32, 3, 3}, ys{4, 48, 17, 15};
  auto [x, xf] = rnd<T>(xs, 1000);
  auto [w, wf] = rnd<T>(ws, 1001);
  auto [dy, dyf] = rnd<T>(ys, 1002);
  auto run = [&] {
    auto dx = G<T>::zeros(xs), dw = G<T>::zeros(ws), db = G<T>::zeros(Shape{48}), y = G<T>::empty(ys);
    gpu::conv2d_forward<T>(x, w, nullptr, y, 1, 1);
    gpu::conv2d_backward_data(dy, w, dx, 1, 1);
    gpu::conv2d_backward_weight(x, dy, dw, 1, 1);
    gpu::bias_backward(dy, db);
    auto mean = G<float>::empty(Shape{48}), inv = G<float>::empty(Shape{48});
    auto rm = G<float>::zeros(Shape{48}), rv = G<float>::zeros(Shape{48});
    auto gamma = to_cuda(random_tensor<float>(Shape{48}, 1003, 0.5f, 1.5f));
    auto beta = to_cuda(random_tensor<float>(Shape{48}, 1004));
    auto yb = G<T>::empty(ys), dyb = G<T>::zeros(ys);
    auto dg = G<float>::zeros(Shape{48}), dbt = G<float>::zeros(Shape{48});
    gpu::batch_norm_forward_train(y, gamma, beta, rm, rv, yb, mean, inv, 0.1, 1e-5);
    gpu::batch_norm_backward(y, dy, gamma, mean, inv, true, 1e-5, &dyb, &dg, &dbt);
    return std::vector<G<T>>{y, dx, dw, db, yb, dyb};
  };
  const auto a = run(), b = run();
  const char* names[] = {"conv forward",  "conv backward data", "conv backward weight",
                         "bias backward", "bn forward",         "bn backward dx"};
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO(names[i]);
    CHECK(same_bits(a[i], b[i]));
  }
}

// Across processes: the algorithm choice must not depend on timing. The test runs this program again
// (the hidden case below) and compares every output, dgamma and dbeta included, bit for bit.
namespace {
io::SafetensorsFile deterministic_outputs() {
  SettingsGuard guard;
  gpu::set_deterministic(true);
  const Shape xs{4, 32, 17, 15}, ws{48, 32, 3, 3}, ys{4, 48, 17, 15};
  auto [x, xf] = rnd<float>(xs, 1100);
  auto [w, wf] = rnd<float>(ws, 1101);
  auto [dy, dyf] = rnd<float>(ys, 1102);
  auto dx = G<float>::zeros(xs), dw = G<float>::zeros(ws), y = G<float>::empty(ys);
  gpu::conv2d_forward<float>(x, w, nullptr, y, 1, 1);
  gpu::conv2d_backward_data(dy, w, dx, 1, 1);
  gpu::conv2d_backward_weight(x, dy, dw, 1, 1);
  auto mean = G<float>::empty(Shape{48}), inv = G<float>::empty(Shape{48});
  auto rm = G<float>::zeros(Shape{48}), rv = G<float>::zeros(Shape{48});
  auto gamma = to_cuda(random_tensor<float>(Shape{48}, 1103, 0.5f, 1.5f));
  auto beta = to_cuda(random_tensor<float>(Shape{48}, 1104));
  auto yb = G<float>::empty(ys), dyb = G<float>::zeros(ys);
  auto dg = G<float>::zeros(Shape{48}), dbt = G<float>::zeros(Shape{48});
  gpu::batch_norm_forward_train(y, gamma, beta, rm, rv, yb, mean, inv, 0.1, 1e-5);
  gpu::batch_norm_backward(y, dy, gamma, mean, inv, true, 1e-5, &dyb, &dg, &dbt);
  io::SafetensorsFile f;
  const std::pair<const char*, const G<float>*> outs[] = {
      {"conv_forward", &y}, {"conv_backward_data", &dx}, {"conv_backward_weight", &dw}, {"bn_forward", &yb},
      {"bn_backward_dx", &dyb}, {"bn_dgamma", &dg}, {"bn_dbeta", &dbt}};
  for (const auto& [name, t] : outs) f.tensors[name] = io::to_raw(to_cpu(*t));
  return f;
}
}  // namespace

TEST_CASE("deterministic outputs of a second process (run by the test below)", "[.][deterministic_child]") {
  const char* out = std::getenv("HRNET_DETERMINISTIC_OUT");
  REQUIRE(out != nullptr);
  io::write_safetensors(out, deterministic_outputs());
}

TEST_CASE("cuda deterministic mode gives the same bits in another process", "[cuda][cudnn]") {
  HRNET_REQUIRE_GPU();
  const std::string out = (std::filesystem::temp_directory_path() /
                           ("hrnet_deterministic_" + std::to_string(::getpid()) + ".safetensors")).string();
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  ::setenv("HRNET_DETERMINISTIC_OUT", out.c_str(), 1);
  const int rc = std::system(("'" + self + "' '[deterministic_child]' > /dev/null 2>&1").c_str());
  REQUIRE(rc == 0);
  const io::SafetensorsFile child = io::read_safetensors(out);
  std::filesystem::remove(out);
  const io::SafetensorsFile mine = deterministic_outputs();
  REQUIRE(child.tensors.size() == mine.tensors.size());
  for (const auto& [name, raw] : mine.tensors) {
    INFO(name);
    REQUIRE(child.tensors.count(name) == 1);
    CHECK(child.tensors.at(name).data == raw.data);
  }
}

TEST_CASE("cuda settings round-trip", "[cuda][cudnn]") {
  SettingsGuard guard;
  gpu::set_cudnn_benchmark(false);
  gpu::set_deterministic(true);
  gpu::set_allow_tf32(true);
  CHECK(!gpu::cudnn_benchmark());
  CHECK(gpu::deterministic());
  CHECK(gpu::allow_tf32());
  gpu::set_cudnn_benchmark(true);
  gpu::set_deterministic(false);
  gpu::set_allow_tf32(false);
  CHECK(gpu::cudnn_benchmark());
  CHECK(!gpu::deterministic());
  CHECK(!gpu::allow_tf32());
}

// ---- host-only: the HRNET_HD batch-norm arithmetic against the CPU backend --------------------------------
struct HostBn {
  Shape s;
  F x, dy, gamma, beta, rmean, rvar;
};
HostBn host_bn(const Shape& s, std::uint64_t seed) {
  const BnInputs p = bn_params(s.c(), seed);
  return {s,
          random_tensor<float>(s, seed + 10, -2.f, 3.f),
          random_tensor<float>(s, seed + 11),
          p.gamma,
          p.beta,
          p.rmean,
          p.rvar};
}

// The convolution shapes of HigherHRNet-W32 at 512 and HRNet-W32-C at 224 (batch 2): the stem,
// the 3x3 branch convolutions, the fusion's 1x1 and strided 3x3, the transitions, the heads, the
// 4x4 deconvolution (run as the backward-data problem of its mirror convolution) and the
// classification head. cuDNN must derive the output size we compute, and read the image as packed
// NHWC. Descriptors need no GPU, so this runs in CI.
TEST_CASE("cuDNN descriptors of the HRNet convolution shapes agree with our shapes", "[cuda][host]") {
  struct Conv {
    std::int64_t c, k, r, h, w;
    int stride, pad;
  };
  std::vector<Conv> convs;
  auto out = [](std::int64_t in, std::int64_t r, int stride, int pad) { return (in + 2 * pad - r) / stride + 1; };
  for (const auto& [size, width, head] : {std::tuple{512, 32, true}, std::tuple{224, 32, false}}) {
    const std::int64_t q = size / 4;
    convs.push_back({3, 64, 3, size, size, 2, 1});           // stem conv1
    convs.push_back({64, 64, 3, size / 2, size / 2, 2, 1});  // stem conv2
    convs.push_back({64, 64, 1, q, q, 1, 0});                // layer1 bottleneck 1x1
    convs.push_back({64, 64, 3, q, q, 1, 1});
    convs.push_back({64, 256, 1, q, q, 1, 0});
    convs.push_back({256, 64, 1, q, q, 1, 0});
    for (int i = 0; i < 4; ++i) {
      const std::int64_t c = width << i, hw = q >> i;
      convs.push_back({c, c, 3, hw, hw, 1, 1});  // branch BasicBlocks
      if (i > 0) convs.push_back({c / 2, c, 3, hw * 2, hw * 2, 2, 1});  // transition / fusion down
      for (int j = i + 1; j < 4; ++j) convs.push_back({width << j, c, 1, q >> j, q >> j, 1, 0});  // fusion up 1x1
      for (int j = 0; j < i; ++j)  // fusion down from branch j: 3x3 stride 2 steps, the last to c channels
        for (int step = j; step < i; ++step)
          convs.push_back({width << j, step == i - 1 ? c : width << j, 3, q >> step, q >> step, 2, 1});
    }
    if (head) {
      convs.push_back({width, 34, 1, q, q, 1, 0});      // final_layers.0
      convs.push_back({32, 32, 3, q * 2, q * 2, 1, 1});  // deconv BasicBlocks
      convs.push_back({32, 17, 1, q * 2, q * 2, 1, 0});  // final_layers.1
    } else {
      const std::int64_t hc[4] = {32, 64, 128, 256};
      for (int i = 0; i < 4; ++i) {
        convs.push_back({width << i, hc[i], 1, q >> i, q >> i, 1, 0});  // incre bottleneck in
        convs.push_back({hc[i], hc[i], 3, q >> i, q >> i, 1, 1});
        convs.push_back({hc[i], hc[i] * 4, 1, q >> i, q >> i, 1, 0});
        if (i < 3) convs.push_back({hc[i] * 4, hc[i + 1] * 4, 3, q >> i, q >> i, 2, 1});  // downsamp
      }
      convs.push_back({1024, 2048, 1, q >> 3, q >> 3, 1, 0});  // final_layer
    }
    // The deconvolution 66 -> 32, kernel 4, stride 2, pad 1 at 1/4 -> 1/2: cuDNN runs it as the
    // backward-data problem of the convolution from the 1/2 map (32 channels) to the 1/4 map.
    if (head) convs.push_back({32, 66, 4, q * 2, q * 2, 2, 1});
  }
  for (const Conv& c : convs)
    for (bool half : {false, true}) {
      const Shape image{2, c.c, c.h, c.w}, filter{c.k, c.c, c.r, c.r};
      const Shape y{2, c.k, out(c.h, c.r, c.stride, c.pad), out(c.w, c.r, c.stride, c.pad)};
      INFO("image " << image << " filter " << filter << " stride " << c.stride << " pad " << c.pad << (half ? " half" : " float"));
      const auto rb = gpu::detail::conv_descriptor_readback(image, filter, y, c.stride, c.pad, half);
      CHECK(rb[0] == 2);
      CHECK(rb[1] == c.k);
      CHECK(rb[2] == y.h());
      CHECK(rb[3] == y.w());
      CHECK(rb[4] == c.h * c.w * c.c);  // NHWC: n stride
      CHECK(rb[5] == 1);                // c innermost
      CHECK(rb[6] == c.w * c.c);
      CHECK(rb[7] == c.c);
    }
}

// The selection rules on made-up performance lists (cuDNN sorts them best first): the first entry
// that succeeded, fits the workspace limit (512 MiB), is deterministic when asked, never rounds
// inputs down (ALLOW_CONVERSION), and in IEEE fp32 is not a tensor-op (TF32) algorithm, which then
// runs with FMA math.
TEST_CASE("convolution algorithm selection follows the policy on synthetic performance lists", "[cuda][host]") {
  auto perf = [](int algo, cudnnStatus_t st, cudnnDeterminism_t det, cudnnMathType_t math, std::size_t mem) {
    cudnnConvolutionFwdAlgoPerf_t p{};
    p.algo = static_cast<cudnnConvolutionFwdAlgo_t>(algo);
    p.status = st;
    p.determinism = det;
    p.mathType = math;
    p.memory = mem;
    return p;
  };
  const auto ok = CUDNN_STATUS_SUCCESS;
  const auto det = CUDNN_DETERMINISTIC, nondet = CUDNN_NON_DETERMINISTIC;
  const std::vector<cudnnConvolutionFwdAlgoPerf_t> list = {
      perf(0, CUDNN_STATUS_NOT_SUPPORTED, det, CUDNN_DEFAULT_MATH, 0),          // failed: never
      perf(1, ok, det, CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, 0),               // rounds inputs: never
      perf(2, ok, nondet, CUDNN_TENSOR_OP_MATH, 1 << 20),                       // fastest usable, TF32
      perf(3, ok, det, CUDNN_TENSOR_OP_MATH, 0),                                // deterministic, TF32
      perf(4, ok, det, CUDNN_DEFAULT_MATH, std::size_t{600} << 20),             // over the workspace limit
      perf(5, ok, nondet, CUDNN_FMA_MATH, 0),
      perf(6, ok, det, CUDNN_DEFAULT_MATH, 4096)};
  using gpu::detail::conv_pick_readback;
  CHECK(conv_pick_readback(list, false, false) == std::pair{2, int(CUDNN_TENSOR_OP_MATH)});
  CHECK(conv_pick_readback(list, false, true) == std::pair{3, int(CUDNN_TENSOR_OP_MATH)});
  CHECK(conv_pick_readback(list, true, false) == std::pair{5, int(CUDNN_FMA_MATH)});
  CHECK(conv_pick_readback(list, true, true) == std::pair{6, int(CUDNN_FMA_MATH)});
  CHECK(conv_pick_readback({list[0], list[1], list[4]}, false, false) == std::pair{-1, 0});
}

TEST_CASE("bn_math eval forward and invstd match cpu batch_norm_forward_eval", "[cuda][host]") {
  for (const Shape& s : kBnShapes) {
    const HostBn h = host_bn(s, 1100 + s.c());
    const std::int64_t C = s.c();
    F ref = F::empty(s), got = F::empty(s);
    cpu::batch_norm_forward_eval<float>(h.x, h.gamma, h.beta, h.rmean, h.rvar, ref, 1e-5);
    for (std::int64_t i = 0; i < h.x.numel(); ++i) {
      const std::int64_t c = i % C;
      const bn::Affine a = bn::affine(h.gamma[c], h.beta[c], h.rmean[c], bn::invstd(h.rvar[c], 1e-5));
      got[i] = bn::apply(a, h.x[i]);
    }
    // The CPU keeps invstd in double before rounding scale: at most one more fp32 rounding of
    // |x * scale| <= 3 * 1.5 * 1.5 and of shift.
    test::require_close(got, ref, 0x1p-22, 8.0 * 0x1p-24, "bn::apply eval " + s.str());
  }
}

TEST_CASE("bn_math statistics match cpu batch_norm_forward_train", "[cuda][host]") {
  for (const Shape& s : kBnShapes) {
    const HostBn h = host_bn(s, 1200 + s.c());
    const std::int64_t C = s.c(), rows = s.numel() / C;
    F rm = h.rmean.clone(), rv = h.rvar.clone(), mean = F::empty(Shape{C}), inv = F::empty(Shape{C}), y = F::empty(s);
    cpu::batch_norm_forward_train<float>(h.x, h.gamma, h.beta, rm, rv, y, mean, inv, 0.1, 1e-5);
    F got_inv = F::empty(Shape{C}), got_rm = F::empty(Shape{C}), got_rv = F::empty(Shape{C}), got_y = F::empty(s);
    for (std::int64_t c = 0; c < C; ++c) {
      double sum = 0, sq = 0;
      for (std::int64_t r = 0; r < rows; ++r) sum += h.x[r * C + c];
      const double m = sum / double(rows);
      for (std::int64_t r = 0; r < rows; ++r) sq += (h.x[r * C + c] - m) * (h.x[r * C + c] - m);
      got_inv[c] = bn::invstd(sq / double(rows), 1e-5);
      got_rm[c] = bn::running_update(h.rmean[c], m, 0.1);
      got_rv[c] = bn::running_update(h.rvar[c], bn::unbiased_var(sq, rows), 0.1);
      const bn::Affine a = bn::affine(h.gamma[c], h.beta[c], mean[c], got_inv[c]);
      for (std::int64_t r = 0; r < rows; ++r) got_y[r * C + c] = bn::apply(a, h.x[r * C + c]);
    }
    // Same double formulas, summed in another order: a few double ulps, then one float rounding.
    test::require_close(got_inv, inv, 0x1p-23, 0.0, "bn::invstd " + s.str());
    test::require_close(got_rm, rm, 0x1p-23, 1e-12, "bn::running_update mean " + s.str());
    test::require_close(got_rv, rv, 0x1p-23, 0.0, "bn::running_update var " + s.str());
    // The CPU rounds mean*scale in double; we compute shift from the float mean: a few ulps of 8.
    test::require_close(got_y, y, 0x1p-22, 8.0 * 8 * 0x1p-24, "bn::apply train " + s.str());
  }
}

TEST_CASE("bn_math backward formulas match cpu batch_norm_backward", "[cuda][host]") {
  for (const Shape& s : kBnShapes) {
    const HostBn h = host_bn(s, 1300 + s.c());
    const std::int64_t C = s.c(), rows = s.numel() / C;
    F rm = h.rmean.clone(), rv = h.rvar.clone(), mean = F::empty(Shape{C}), inv = F::empty(Shape{C}), y = F::empty(s);
    cpu::batch_norm_forward_train<float>(h.x, h.gamma, h.beta, rm, rv, y, mean, inv, 0.1, 1e-5);
    for (bool training : {true, false}) {
      F ref_dx = F::zeros(s), ref_dg = F::zeros(Shape{C}), ref_db = F::zeros(Shape{C});
      cpu::batch_norm_backward<float>(h.x, h.dy, h.gamma, mean, inv, training, 1e-5, &ref_dx, &ref_dg, &ref_db);
      F dx = F::empty(s), dg = F::empty(Shape{C}), db = F::empty(Shape{C});
      for (std::int64_t c = 0; c < C; ++c) {
        double sdy = 0, sdyx = 0;
        for (std::int64_t r = 0; r < rows; ++r) {
          sdy += h.dy[r * C + c];
          sdyx += double(h.dy[r * C + c]) * bn::xhat(h.x[r * C + c], mean[c], inv[c]);
        }
        dg[c] = float(sdyx);
        db[c] = float(sdy);
        const bn::TrainGrad t = training ? bn::train_grad(h.gamma[c], inv[c], sdy, sdyx, rows)
                                         : bn::TrainGrad{h.gamma[c] * inv[c], 0.f, 0.f};
        for (std::int64_t r = 0; r < rows; ++r) {
          const std::int64_t i = r * C + c;
          dx[i] = training ? bn::train_dx(t, h.dy[i], h.x[i], mean[c]) : bn::eval_dx(h.dy[i], h.gamma[c], inv[c]);
        }
      }
      const std::string tag = std::string(training ? "train " : "eval ") + s.str();
      // xhat in fp32 (the CPU: double): a few ulps per term of sums of `rows` terms of size <= 3.
      test::require_close(dg, ref_dg, 0.0, 4.0 * 3.0 * double(rows) * 0x1p-24, "bn::xhat sums " + tag);
      test::require_close(db, ref_db, 0x1p-23, 0.0, "dbeta " + tag);
      // k (dy - a - xc b) in fp32 against double: a few roundings of terms of size <= 2.25 * 6.
      test::require_close(dx, ref_dx, 0x1p-21, 16.0 * 14.0 * 0x1p-24, "bn::train_dx / eval_dx " + tag);
    }
  }
}

TEST_CASE("bn_math add_relu and relu_mask match the CPU relu", "[cuda][host]") {
  const Shape s{2, 13, 5, 7};
  const HostBn h = host_bn(s, 1400);
  const F z = random_tensor<float>(s, 1401);
  const std::int64_t C = s.c();
  F inv = F::empty(Shape{C});
  for (std::int64_t c = 0; c < C; ++c) inv[c] = bn::invstd(h.rvar[c], 1e-5);
  F bnout = F::empty(s);
  cpu::batch_norm_forward_eval<float>(h.x, h.gamma, h.beta, h.rmean, h.rvar, bnout, 1e-5);
  F sum = plus(bnout, z), ref = F::empty(s), got = F::empty(s);
  cpu::relu_forward<float>(sum, ref);
  for (std::int64_t i = 0; i < h.x.numel(); ++i) {
    const std::int64_t c = i % C;
    got[i] = bn::add_relu(bn::affine(h.gamma[c], h.beta[c], h.rmean[c], inv[c]), h.x[i], z[i]);
  }
  test::require_close(got, ref, 0x1p-22, 8.0 * 8 * 0x1p-24, "bn::add_relu");
  // relu_mask against cpu::relu_backward on the same y: exact.
  F ref_g = F::zeros(s), got_g = F::empty(s);
  cpu::relu_backward<float>(ref, h.dy, ref_g);
  for (std::int64_t i = 0; i < h.x.numel(); ++i) got_g[i] = bn::relu_mask(h.dy[i], ref[i]);
  test::require_close(got_g, ref_g, 0.0, 0.0, "bn::relu_mask");
  std::int64_t zeros = 0;
  for (std::int64_t i = 0; i < ref.numel(); ++i) zeros += ref[i] == 0.f;
  CHECK(zeros > 0);  // the mask is exercised on both sides
  CHECK(zeros < ref.numel());
}

}  // namespace

// bench_kernels: microbenchmarks of the CUDA backend at HRNet shapes, written as JSON.
// Our own kernels are reported as achieved bandwidth (logical bytes read + written / time) and as a
// fraction of the device-to-device copy bandwidth measured in the same run; cuDNN convolutions and
// batch norm as median times and TFLOP/s. benchmarks/bench_kernels_torch.py times the same cases
// in PyTorch (same names, shapes and JSON schema) and benchmarks/compare_kernels.py puts the two
// side by side. The program compiles in every build; without the CUDA backend it only prints
// --help and says why it cannot run.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "cli.hpp"
#include "hrnet/backend/cuda.hpp"
#include "hrnet/backend/cuda_runtime.hpp"

#if defined(HRNET_WITH_CUDA) && HRNET_WITH_CUDA
#define HRNET_BENCH_CUDA 1
#include "hrnet/models/pose_higher_hrnet.hpp"
#else
#define HRNET_BENCH_CUDA 0
#endif

namespace {

constexpr const char* kUsage =
    "usage: bench_kernels [--json FILE] [--dtype float|half|bfloat16|all] [--iters N] [--warmup N]\n"
    "                     [--only SUBSTRING] [--tf32]\n"
    "Microbenchmarks of the CUDA backend at HRNet shapes (needs a GPU).\n"
    "\n"
    "What is measured, in this order:\n"
    "  1. the device copy bandwidth: cudaMemcpy device-to-device of a 256 MiB buffer, counted as\n"
    "     read + write bytes (2 x 256 MiB); every kernel's fraction_of_copy is relative to it;\n"
    "  2. our kernels (\"kernels\"): achieved bandwidth = logical bytes read + written / time, where\n"
    "     a gradient that is accumulated (+=) counts as read and written: relu fwd/bwd, n-ary add\n"
    "     (add2, add4), add_relu2, accumulate, upsample_nearest fwd/bwd (x2, x4, x8), the HRNet-W32\n"
    "     stage-4 fusion nodes fused (fusion_sum_relu fwd/bwd) and unfused (fusion_unfused: upsample,\n"
    "     add, relu as separate kernels; reported with the fused node's bytes, so its GB/s is an\n"
    "     effective figure), concat, slice_channels, resize_bilinear, global_avg_pool, nchw_to_nhwc,\n"
    "     nhwc_to_nchw, cast to/from float, masked_mse fwd/bwd, sum, and sgd_step_multi /\n"
    "     adam_step_multi over the 907 fp32 parameter tensors of HigherHRNet-W32 (28.6M parameters);\n"
    "  3. cuDNN (\"cudnn\"): conv fwd / bwd_data / bwd_weight (TFLOP/s = 2*N*Ho*Wo*Co*Ci*K*K per\n"
    "     direction; transposed conv: 2*N*H*W*Ci*Co*K*K on its input) and batch norm training\n"
    "     forward / backward (tflops null; bytes = x read + y written, bwd x, dy, dx read + dx written).\n"
    "\n"
    "Shapes (N,C,H,W; NHWC in memory):\n"
    "  HigherHRNet-W32 at 512 input, batch 12: branches 12x32x128x128, 12x64x64x64, 12x128x32x32,\n"
    "    12x256x16x16; the stage-4 fusion nodes out0..out3 (output branch i sums branch i, the\n"
    "    1x1-conv outputs of branches j > i upsampled by 2^(j-i), and strided-conv outputs of\n"
    "    branches j < i at factor 1); stem convs 3->64 and 64->64 stride 2; fusion 1x1 convs; the\n"
    "    stride-2 3x3 downsampling convs; the heads (32->34 at 128^2, 32->17 at 256^2, with bias);\n"
    "    the deconv (transposed conv 66->32, 4x4, stride 2, 128^2 -> 256^2); concat 32+34 channels;\n"
    "    heatmap losses at 12x17x128x128 and 12x17x256x256.\n"
    "  HRNet-W32-C at 224, batch 128: branches 128x32x56x56, 128x64x28x28, 128x128x14x14,\n"
    "    128x256x7x7 (3x3 convs, batch norm) and the 128x2048x7x7 global average pool.\n"
    "  Large tensors (16x64x256x256: 128 MiB in half, 256 MiB in float, beyond any L2 cache) for\n"
    "    the element-wise kernels, whose target is 85% of the copy bandwidth. Smaller shapes may\n"
    "    stay resident in L2 across repetitions and then exceed the copy bandwidth.\n"
    "\n"
    "Timing: cuda::Event pairs on one stream. Per case: --warmup untimed launches (cuDNN algorithm\n"
    "search happens there), then --iters samples; a sample times back-to-back launches totalling at\n"
    "least 1 ms (one launch if it is longer) and yields the per-launch time; ms is the median.\n"
    "\n"
    "Options:\n"
    "  --json FILE      also write the results as JSON\n"
    "  --dtype D        float, half, bfloat16 or all (default all); the optimizer steps are fp32\n"
    "  --iters N        timed samples per case (default 30)\n"
    "  --warmup N       untimed launches per case before timing (default 5)\n"
    "  --only SUBSTR    run only the cases whose name contains SUBSTR (the copy is always measured)\n"
    "  --tf32           allow TF32 for fp32 convolutions (default off: IEEE fp32, as PyTorch with\n"
    "                   torch.backends.cudnn.allow_tf32 = False)\n"
    "\n"
    "JSON: {\"benchmark\": \"bench_kernels\", \"framework\": \"hrnet\", \"device\", \"date\" (ISO),\n"
    "  \"dtype\", \"iters\", \"warmup\", \"tf32\", \"copy_bandwidth_gbs\", \"copy_bytes\", \"copy_ms\",\n"
    "  \"optimizer_params\": {\"model\", \"params\", \"tensors\"},\n"
    "  \"kernels\": [{\"name\", \"shape\", \"dtype\", \"ms\", \"bytes\", \"gbs\", \"fraction_of_copy\"}],\n"
    "  \"cudnn\": [{\"name\", \"shape\", \"dtype\", \"ms\", \"tflops\", \"bytes\", \"gbs\"}]}\n"
    "(GB = 1e9 bytes; \"shape\" is the largest tensor of the case, or for convs \"x->Co kK sS\").\n"
    "Compare with PyTorch: benchmarks/bench_kernels_torch.py, then benchmarks/compare_kernels.py.";

struct Options {
  std::string json;
  std::string dtype = "all";
  std::string only;
  int iters = 30;
  int warmup = 5;
  bool tf32 = false;
};

#if HRNET_BENCH_CUDA

using namespace hrnet;
template <class T> using G = gpu::G<T>;

// ---- results and timing ------------------------------------------------------------------------

struct KernelRow {
  std::string name, shape, dtype;
  double ms, bytes;
};
struct CudnnRow {
  std::string name, shape, dtype;
  double ms, flops, bytes;  // 0: not applicable (written as null)
};

std::string dims(const Shape& s) {
  std::string out;
  for (int i = 0; i < s.rank(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out;
}

template <class T> const char* dtype_name();
template <> const char* dtype_name<float>() { return "float"; }
template <> const char* dtype_name<half>() { return "half"; }
template <> const char* dtype_name<bfloat16>() { return "bfloat16"; }

class Bench {
 public:
  Bench(const Options& o, cuda::Stream s) : o_(o), s_(s) {}
  cuda::Stream stream() const { return s_; }
  double copy_gbs = 0, copy_ms = 0, copy_bytes = 0;
  std::vector<KernelRow> kernels;
  std::vector<CudnnRow> cudnn;
  int failures = 0;

  // Median per-launch milliseconds of f (see --help for the sampling).
  template <class F>
  double time_ms(F& f) {
    for (int i = 0; i < o_.warmup; ++i) f();
    start_.record(s_);
    f();
    stop_.record(s_);
    stop_.synchronize();
    const double once = stop_.elapsed_ms_since(start_);
    // Batching launches makes the event resolution (~0.5 us) and per-sample host gaps negligible.
    const int inner = std::clamp(static_cast<int>(std::ceil(1.0 / std::max(once, 1e-4))), 1, 1000);
    std::vector<double> t;
    for (int r = 0; r < std::max(1, o_.iters); ++r) {
      start_.record(s_);
      for (int k = 0; k < inner; ++k) f();
      stop_.record(s_);
      stop_.synchronize();
      t.push_back(stop_.elapsed_ms_since(start_) / inner);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  }

  void measure_copy() {
    constexpr std::int64_t kElems = std::int64_t(64) << 20;  // 256 MiB of float
    auto a = G<float>::empty(Shape{kElems}), b = G<float>::empty(Shape{kElems});
    gpu::fill(a, 1.0f, s_);
    const std::size_t bytes = a.bytes();
    auto op = [&] { cuda::copy_device_to_device(b.data(), a.data(), bytes, s_); };
    copy_ms = time_ms(op);
    copy_bytes = 2.0 * double(bytes);
    copy_gbs = copy_bytes / (copy_ms * 1e-3) / 1e9;
    std::printf("device-to-device copy: %.0f MiB in %.4f ms -> %.1f GB/s (read + write)\n\n", double(bytes) / (1 << 20),
                copy_ms, copy_gbs);
  }

  bool selected(const std::string& name) const { return o_.only.empty() || name.find(o_.only) != std::string::npos; }

  // setup() allocates and fills the inputs and returns the launch to time (which owns them).
  template <class Setup>
  void kernel(const std::string& name, const std::string& shape, const std::string& dtype, double bytes, Setup&& setup) {
    if (!selected(name)) return;
    try {
      auto op = setup();
      const double ms = time_ms(op);
      kernels.push_back({name, shape, dtype, ms, bytes});
      const double gbs = bytes / (ms * 1e-3) / 1e9;
      std::printf("%-28s %-26s %-9s %10.4f ms %9.1f GB/s %6.1f%% of copy\n", name.c_str(), shape.c_str(),
                  dtype.c_str(), ms, gbs, 100.0 * gbs / copy_gbs);
    } catch (const std::exception& e) {
      fail(name, shape, dtype, e);
    }
  }
  template <class Setup>
  void cudnn_case(const std::string& name, const std::string& shape, const std::string& dtype, double flops,
                  double bytes, Setup&& setup) {
    if (!selected(name)) return;
    try {
      auto op = setup();
      const double ms = time_ms(op);
      cudnn.push_back({name, shape, dtype, ms, flops, bytes});
      std::printf("%-28s %-26s %-9s %10.4f ms", name.c_str(), shape.c_str(), dtype.c_str(), ms);
      if (flops > 0) std::printf(" %8.1f TFLOP/s", flops / (ms * 1e-3) / 1e12);
      if (bytes > 0) std::printf(" %9.1f GB/s", bytes / (ms * 1e-3) / 1e9);
      std::printf("\n");
    } catch (const std::exception& e) {
      fail(name, shape, dtype, e);
    }
  }

  // Device memory filled with reproducible values uniform in [lo, hi).
  template <class T>
  G<T> random(const Shape& shape, float lo = -1.0f, float hi = 1.0f) {
    auto t = G<T>::empty(shape);
    const std::int64_t n = t.numel();
    if (n == 0) return t;
    // A host pattern of up to 1M values, tiled over the tensor: cheap even for 256 MiB buffers.
    const std::int64_t chunk = std::min<std::int64_t>(n, std::int64_t(1) << 20);
    std::vector<T> host(static_cast<std::size_t>(chunk));
    for (auto& v : host) {
      seed_ = seed_ * 6364136223846793005ull + 1442695040888963407ull;
      const float u = float(seed_ >> 40) * (1.0f / 16777216.0f);
      v = T(lo + (hi - lo) * u);
    }
    for (std::int64_t off = 0; off < n; off += chunk)
      cuda::copy_host_to_device(t.data() + off, host.data(),
                                static_cast<std::size_t>(std::min(chunk, n - off)) * sizeof(T), s_);
    return t;
  }

 private:
  void fail(const std::string& name, const std::string& shape, const std::string& dtype, const std::exception& e) {
    ++failures;
    std::fprintf(stderr, "bench_kernels: %s %s %s failed: %s\n", name.c_str(), shape.c_str(), dtype.c_str(), e.what());
  }
  const Options& o_;
  cuda::Stream s_;
  cuda::Event start_, stop_;
  std::uint64_t seed_ = 0x9e3779b97f4a7c15ull;
};

// ---- shapes ----------------------------------------------------------------------------------------

constexpr std::int64_t kPoseN = 12;  // HigherHRNet-W32 at 512: branches at 128, 64, 32, 16 pixels
constexpr std::int64_t kPoseCh[4] = {32, 64, 128, 256};
constexpr std::int64_t kPoseRes[4] = {128, 64, 32, 16};
constexpr std::int64_t kClsN = 128;  // HRNet-W32-C at 224: branches at 56, 28, 14, 7 pixels
constexpr std::int64_t kClsRes[4] = {56, 28, 14, 7};
const Shape kLarge{16, 64, 256, 256};  // 64 Mi elements: 128 MiB in half, 256 MiB in float

std::vector<Shape> elementwise_shapes() {
  std::vector<Shape> v;
  for (int b = 0; b < 4; ++b) v.push_back(Shape{kPoseN, kPoseCh[b], kPoseRes[b], kPoseRes[b]});
  v.push_back(kLarge);
  return v;
}

// The fusion nodes of an HRNet-W32 stage-4 module: output i sums, for every input branch j, a
// tensor with C_i channels at branch j's resolution (after the 1x1 conv + BN for j > i, which are
// not part of the fused kernel) upsampled by 2^(j-i), or at branch i's resolution (identity for
// j == i, the strided convs' output for j < i) with factor 1; in the order j = 0, 1, 2, 3.
struct FusionNode {
  std::string tag;
  Shape y;
  std::vector<Shape> xs;
  std::vector<int> factors;
};
std::vector<FusionNode> stage4_fusion_nodes() {
  std::vector<FusionNode> nodes;
  for (int i = 0; i < 4; ++i) {
    FusionNode n{"out" + std::to_string(i), Shape{kPoseN, kPoseCh[i], kPoseRes[i], kPoseRes[i]}, {}, {}};
    for (int j = 0; j < 4; ++j) {
      const int f = j > i ? 1 << (j - i) : 1;
      n.xs.push_back(Shape{kPoseN, kPoseCh[i], kPoseRes[i] / f, kPoseRes[i] / f});
      n.factors.push_back(f);
    }
    nodes.push_back(n);
  }
  return nodes;
}

// ---- our kernels -----------------------------------------------------------------------------------

template <GpuType T>
void elementwise_cases(Bench& b) {
  const std::string dt = dtype_name<T>();
  const double sz = sizeof(T);
  const auto s = b.stream();
  for (const Shape& S : elementwise_shapes()) {
    const std::string sh = dims(S);
    const double n = double(S.numel());
    b.kernel("relu_fwd", sh, dt, 2 * n * sz, [&] {
      return [x = b.random<T>(S), y = G<T>::empty(S), s]() mutable { gpu::relu_forward(x, y, s); };
    });
    b.kernel("relu_bwd", sh, dt, 4 * n * sz, [&] {
      return [y = b.random<T>(S), dy = b.random<T>(S), dx = b.random<T>(S), s]() mutable {
        gpu::relu_backward(y, dy, dx, s);
      };
    });
    for (int k : {2, 4}) {
      b.kernel("add" + std::to_string(k), sh, dt, (k + 1) * n * sz, [&] {
        auto xs = std::make_shared<std::vector<G<T>>>();
        for (int i = 0; i < k; ++i) xs->push_back(b.random<T>(S));
        std::vector<const G<T>*> ptrs;
        for (auto& x : *xs) ptrs.push_back(&x);
        return [xs, ptrs, y = G<T>::empty(S), s]() mutable { gpu::add_forward(ptrs, y, s); };
      });
    }
    b.kernel("add_relu2", sh, dt, 3 * n * sz, [&] {
      auto xs = std::make_shared<std::vector<G<T>>>();
      xs->push_back(b.random<T>(S));
      xs->push_back(b.random<T>(S));
      std::vector<const G<T>*> ptrs{&(*xs)[0], &(*xs)[1]};
      return [xs, ptrs, y = G<T>::empty(S), s]() mutable { gpu::add_relu_forward(ptrs, y, s); };
    });
    b.kernel("accumulate", sh, dt, 3 * n * sz, [&] {
      return [dy = b.random<T>(S), dx = b.random<T>(S), s]() mutable { gpu::accumulate(dy, dx, s); };
    });
    if constexpr (!std::is_same_v<T, float>) {
      if (S == elementwise_shapes()[0] || S == kLarge) {
        b.kernel(std::string("cast_float_to_") + dt, sh, dt, n * (4 + sz), [&] {
          return [x = b.random<float>(S), y = G<T>::empty(S), s]() mutable { gpu::cast<T, float>(x, y, s); };
        });
        b.kernel(std::string("cast_") + dt + "_to_float", sh, dt, n * (4 + sz), [&] {
          return [x = b.random<T>(S), y = G<float>::empty(S), s]() mutable { gpu::cast<float, T>(x, y, s); };
        });
      }
    }
    if (S == elementwise_shapes()[0] || S == kLarge) {
      b.kernel("sum", sh, dt, n * sz + 4, [&] {
        return [x = b.random<T>(S), out = G<float>::empty(Shape{}), s]() mutable { gpu::sum(x, out, s); };
      });
    }
  }
}

template <GpuType T>
void upsample_cases(Bench& b) {
  const std::string dt = dtype_name<T>();
  const double sz = sizeof(T);
  const auto s = b.stream();
  // The fusion inputs of output branch 0 (32 channels), and one large output.
  std::vector<std::pair<Shape, int>> cases;
  for (int f : {2, 4, 8}) cases.push_back({Shape{kPoseN, 32, kPoseRes[0] / f, kPoseRes[0] / f}, f});
  cases.push_back({Shape{kLarge.n(), kLarge.c(), kLarge.h() / 2, kLarge.w() / 2}, 2});
  for (const auto& [X, f] : cases) {
    const Shape Y{X.n(), X.c(), X.h() * f, X.w() * f};
    const double nx = double(X.numel()), ny = double(Y.numel());
    const std::string fs = "_x" + std::to_string(f);
    b.kernel("upsample_nearest_fwd" + fs, dims(Y), dt, (nx + ny) * sz, [&] {
      return [x = b.random<T>(X), y = G<T>::empty(Y), f, s]() mutable { gpu::upsample_nearest_forward(x, y, f, s); };
    });
    b.kernel("upsample_nearest_bwd" + fs, dims(Y), dt, (ny + 2 * nx) * sz, [&] {
      return [dy = b.random<T>(Y), dx = b.random<T>(X), f, s]() mutable {
        gpu::upsample_nearest_backward(dy, dx, f, s);
      };
    });
  }
}

template <GpuType T>
void fusion_cases(Bench& b) {
  const std::string dt = dtype_name<T>();
  const double sz = sizeof(T);
  const auto s = b.stream();
  for (const FusionNode& node : stage4_fusion_nodes()) {
    const std::string sh = dims(node.y);
    const double ny = double(node.y.numel());
    double nx = 0;
    for (const Shape& x : node.xs) nx += double(x.numel());
    const std::vector<int> f = node.factors;
    auto inputs = [&] {
      auto xs = std::make_shared<std::vector<G<T>>>();
      for (const Shape& x : node.xs) xs->push_back(b.random<T>(x));
      return xs;
    };
    auto const_ptrs = [](std::vector<G<T>>& v) {
      std::vector<const G<T>*> p;
      for (auto& t : v) p.push_back(&t);
      return p;
    };
    auto mut_ptrs = [](std::vector<G<T>>& v) {
      std::vector<G<T>*> p;
      for (auto& t : v) p.push_back(&t);
      return p;
    };
    const double fwd_bytes = (ny + nx) * sz, bwd_bytes = (2 * ny + 2 * nx) * sz;
    b.kernel("fusion_sum_relu_fwd/" + node.tag, sh, dt, fwd_bytes, [&] {
      auto xs = inputs();
      return [xs, p = const_ptrs(*xs), f, y = G<T>::empty(node.y), s]() mutable {
        gpu::fusion_sum_relu_forward(p, f, y, s);
      };
    });
    b.kernel("fusion_sum_relu_bwd/" + node.tag, sh, dt, bwd_bytes, [&] {
      auto xs = inputs();
      auto y = G<T>::empty(node.y);
      gpu::fusion_sum_relu_forward(const_ptrs(*xs), f, y, s);  // a real ReLU mask
      auto dxs = inputs();
      return [y, dy = b.random<T>(node.y), dxs, p = mut_ptrs(*dxs), f, s]() mutable {
        gpu::fusion_sum_relu_backward(y, dy, p, f, s);
      };
    });
    // The same node as separate kernels (what an unfused framework runs): upsample each input,
    // an n-ary add, a ReLU; backward: ReLU mask into a zeroed buffer, then one gradient kernel per
    // input. Reported with the fused node's bytes, so GB/s compares directly.
    b.kernel("fusion_unfused_fwd/" + node.tag, sh, dt, fwd_bytes, [&] {
      auto xs = inputs();
      auto ups = std::make_shared<std::vector<G<T>>>();
      std::vector<const G<T>*> terms;
      for (std::size_t j = 0; j < xs->size(); ++j) ups->push_back(f[j] > 1 ? G<T>::empty(node.y) : G<T>());
      for (std::size_t j = 0; j < xs->size(); ++j) terms.push_back(f[j] > 1 ? &(*ups)[j] : &(*xs)[j]);
      return [xs, ups, terms, f, acc = G<T>::empty(node.y), y = G<T>::empty(node.y), s]() mutable {
        for (std::size_t j = 0; j < xs->size(); ++j)
          if (f[j] > 1) gpu::upsample_nearest_forward((*xs)[j], (*ups)[j], f[j], s);
        gpu::add_forward(terms, acc, s);
        gpu::relu_forward(acc, y, s);
      };
    });
    b.kernel("fusion_unfused_bwd/" + node.tag, sh, dt, bwd_bytes, [&] {
      auto xs = inputs();
      auto y = G<T>::empty(node.y);
      gpu::fusion_sum_relu_forward(const_ptrs(*xs), f, y, s);
      auto dxs = inputs();
      return [y, dy = b.random<T>(node.y), g = G<T>::empty(node.y), dxs, f, s]() mutable {
        gpu::fill(g, 0.0f, s);
        gpu::relu_backward(y, dy, g, s);
        for (std::size_t j = 0; j < dxs->size(); ++j) {
          if (f[j] > 1) gpu::upsample_nearest_backward(g, (*dxs)[j], f[j], s);
          else gpu::accumulate(g, (*dxs)[j], s);
        }
      };
    });
  }
}

template <GpuType T>
void data_movement_cases(Bench& b) {
  const std::string dt = dtype_name<T>();
  const double sz = sizeof(T);
  const auto s = b.stream();
  const std::int64_t N = kPoseN, R = kPoseRes[0];
  {  // the deconv stage's input: cat(branch-0 feature, 34-channel head output)
    const Shape A{N, 32, R, R}, B{N, 34, R, R}, Y{N, 66, R, R};
    const double ny = double(Y.numel());
    b.kernel("concat_fwd", dims(Y), dt, 2 * ny * sz, [&] {
      auto xs = std::make_shared<std::vector<G<T>>>();
      xs->push_back(b.random<T>(A));
      xs->push_back(b.random<T>(B));
      std::vector<const G<T>*> p{&(*xs)[0], &(*xs)[1]};
      return [xs, p, y = G<T>::empty(Y), s]() mutable { gpu::concat_forward(p, y, s); };
    });
    b.kernel("concat_bwd", dims(Y), dt, 3 * ny * sz, [&] {
      auto dxs = std::make_shared<std::vector<G<T>>>();
      dxs->push_back(b.random<T>(A));
      dxs->push_back(b.random<T>(B));
      std::vector<G<T>*> p{&(*dxs)[0], &(*dxs)[1]};
      return [dy = b.random<T>(Y), dxs, p, s]() mutable { gpu::concat_backward(dy, p, s); };
    });
  }
  {  // the tag half of the 34-channel head output
    const Shape X{N, 34, R, R}, Y{N, 17, R, R};
    const double ny = double(Y.numel());
    b.kernel("slice_channels_fwd", dims(X), dt, 2 * ny * sz, [&] {
      return [x = b.random<T>(X), y = G<T>::empty(Y), s]() mutable { gpu::slice_channels_forward(x, 17, y, s); };
    });
    b.kernel("slice_channels_bwd", dims(X), dt, 3 * ny * sz, [&] {
      return [dy = b.random<T>(Y), dx = b.random<T>(X), s]() mutable { gpu::slice_channels_backward(dy, 17, dx, s); };
    });
  }
  {  // heatmaps at 1/4 resolution resized to 1/2 (multi-resolution aggregation)
    const Shape X{N, 17, R, R}, Y{N, 17, 2 * R, 2 * R};
    b.kernel("resize_bilinear_fwd", dims(Y), dt, double(X.numel() + Y.numel()) * sz, [&] {
      return [x = b.random<T>(X), y = G<T>::empty(Y), s]() mutable { gpu::resize_bilinear_forward(x, y, s); };
    });
  }
  {  // HRNet-W32-C's classification head
    const Shape X{kClsN, 2048, 7, 7}, Y{kClsN, 2048};
    const double nx = double(X.numel()), ny = double(Y.numel());
    b.kernel("global_avg_pool_fwd", dims(X), dt, (nx + ny) * sz, [&] {
      return [x = b.random<T>(X), y = G<T>::empty(Y), s]() mutable { gpu::global_avg_pool_forward(x, y, s); };
    });
    b.kernel("global_avg_pool_bwd", dims(X), dt, (ny + 2 * nx) * sz, [&] {
      return [dy = b.random<T>(Y), dx = b.random<T>(X), s]() mutable { gpu::global_avg_pool_backward(dy, dx, s); };
    });
  }
  // A batch of input images, and the head output going back to NCHW.
  for (const Shape& S : {Shape{N, 3, 512, 512}, Shape{N, 34, R, R}}) {
    const double n = double(S.numel());
    b.kernel("nchw_to_nhwc", dims(S), dt, 2 * n * sz, [&] {
      return [a = b.random<T>(S), c = G<T>::empty(S), S, s]() mutable { gpu::nchw_to_nhwc(a.data(), c.data(), S, s); };
    });
    b.kernel("nhwc_to_nchw", dims(S), dt, 2 * n * sz, [&] {
      return [a = b.random<T>(S), c = G<T>::empty(S), S, s]() mutable { gpu::nhwc_to_nchw(a.data(), c.data(), S, s); };
    });
  }
  // The heatmap losses at 1/4 and 1/2 resolution; the mask (N,1,H,W) broadcasts over channels.
  for (const std::int64_t r : {R, 2 * R}) {
    const Shape P{N, 17, r, r}, M{N, 1, r, r};
    const double n = double(P.numel()), nm = double(M.numel());
    b.kernel("masked_mse_fwd", dims(P), dt, (2 * n + nm) * sz + 4, [&] {
      return [p = b.random<T>(P), g = b.random<T>(P), m = b.random<T>(M, 0.0f, 1.0f),
              loss = G<float>::empty(Shape{}), s]() mutable { gpu::masked_mse_forward(p, g, m, loss, s); };
    });
    b.kernel("masked_mse_bwd", dims(P), dt, (4 * n + nm) * sz + 4, [&] {
      auto dloss = G<float>::empty(Shape{});
      gpu::fill(dloss, 1.0f, s);
      return [p = b.random<T>(P), g = b.random<T>(P), m = b.random<T>(M, 0.0f, 1.0f), dloss,
              dp = b.random<T>(P), s]() mutable { gpu::masked_mse_backward(p, g, m, dloss, dp, s); };
    });
  }
}

// The parameter tensors of HigherHRNet-W32 (configs/coco/w32_512_adam_lr1e-3.yaml), built on the CPU.
std::vector<std::int64_t> higherhrnet_w32_param_numels() {
  models::PoseNetConfig c;
  c.stage2 = {1, 2, models::BlockKind::Basic, {4, 4}, {32, 64}, "SUM"};
  c.stage3 = {4, 3, models::BlockKind::Basic, {4, 4, 4}, {32, 64, 128}, "SUM"};
  c.stage4 = {3, 4, models::BlockKind::Basic, {4, 4, 4, 4}, {32, 64, 128, 256}, "SUM"};
  models::PoseHigherResolutionNet<float, CPU> net(c);
  std::vector<std::int64_t> numels;
  for (const auto& p : net.named_parameters()) numels.push_back(p.var->value().numel());
  return numels;
}

void optimizer_cases(Bench& b, const std::vector<std::int64_t>& numels) {
  std::int64_t total = 0, padded = 0;
  for (std::int64_t n : numels) total += n, padded += (n + 63) / 64 * 64;
  const std::string sh = std::to_string(total) + " params";
  const auto s = b.stream();
  // One buffer per state, each parameter at a 256-byte aligned offset (as separate pool blocks are).
  auto slots = [&](const G<float>& p, const G<float>& g, const G<float>* m, const G<float>* v) {
    std::vector<gpu::ParamSlot> out;
    std::int64_t off = 0;
    for (std::int64_t n : numels) {
      out.push_back({p.data() + off, g.data() + off, m ? m->data() + off : nullptr, v ? v->data() + off : nullptr, n});
      off += (n + 63) / 64 * 64;
    }
    return out;
  };
  const double n = double(total);
  b.kernel("sgd_step_multi", sh, "float", 5 * n * 4, [&] {  // read p, g, buf; write p, buf
    auto p = b.random<float>(Shape{padded}), g = b.random<float>(Shape{padded}), m = b.random<float>(Shape{padded});
    return [p, g, m, sl = slots(p, g, &m, nullptr), s]() {
      gpu::sgd_step_multi(sl, 0.05, 0.9, 0.0, 1e-4, false, false, s);
    };
  });
  b.kernel("adam_step_multi", sh, "float", 7 * n * 4, [&] {  // read p, g, m, v; write p, m, v
    auto p = b.random<float>(Shape{padded}), g = b.random<float>(Shape{padded}), m = b.random<float>(Shape{padded}),
         v = b.random<float>(Shape{padded}, 0.0f, 1.0f);
    return [p, g, m, v, sl = slots(p, g, &m, &v), s]() {
      gpu::adam_step_multi(sl, 1e-3, 0.9, 0.999, 1e-8, 0.0, false, 10, s);
    };
  });
}

// ---- cuDNN -------------------------------------------------------------------------------------------

struct ConvCase {
  std::int64_t n, ci, h, w, co;
  int k, stride;
  bool bias = false;
};

template <GpuType T>
void conv_cases(Bench& b) {
  const std::string dt = dtype_name<T>();
  const auto s = b.stream();
  const std::int64_t N = kPoseN;
  std::vector<ConvCase> cases = {
      {N, 3, 512, 512, 64, 3, 2},  // stem
      {N, 64, 256, 256, 64, 3, 2},
  };
  for (int i = 0; i < 4; ++i) cases.push_back({N, kPoseCh[i], kPoseRes[i], kPoseRes[i], kPoseCh[i], 3, 1});
  for (int i = 0; i < 4; ++i)  // fusion 1x1 (j > i) at branch j's resolution
    for (int j = i + 1; j < 4; ++j) cases.push_back({N, kPoseCh[j], kPoseRes[j], kPoseRes[j], kPoseCh[i], 1, 1});
  for (int j = 0; j < 3; ++j)  // fusion downsampling 3x3 stride 2, j -> j + 1
    cases.push_back({N, kPoseCh[j], kPoseRes[j], kPoseRes[j], kPoseCh[j + 1], 3, 2});
  cases.push_back({N, 32, 128, 128, 34, 1, 1, true});  // heads
  cases.push_back({N, 32, 256, 256, 17, 1, 1, true});
  for (int i = 0; i < 4; ++i) cases.push_back({kClsN, kPoseCh[i], kClsRes[i], kClsRes[i], kPoseCh[i], 3, 1});

  for (const ConvCase& c : cases) {
    const int pad = c.k / 2;
    const std::int64_t ho = (c.h + 2 * pad - c.k) / c.stride + 1, wo = (c.w + 2 * pad - c.k) / c.stride + 1;
    const Shape X{c.n, c.ci, c.h, c.w}, W{c.co, c.ci, c.k, c.k}, Y{c.n, c.co, ho, wo};
    const std::string sh = dims(X) + "->" + std::to_string(c.co) + " k" + std::to_string(c.k) + " s" +
                           std::to_string(c.stride);
    const std::string kk = "conv" + std::to_string(c.k) + "x" + std::to_string(c.k);
    const double flops = 2.0 * double(c.n * ho * wo) * double(c.co * c.ci * c.k * c.k);
    const int st = c.stride;
    const bool has_bias = c.bias;
    b.cudnn_case(kk + "_fwd", sh, dt, flops, 0, [&] {
      return [x = b.random<T>(X), w = b.random<T>(W), bias = b.random<T>(Shape{c.co}), y = G<T>::empty(Y), has_bias, st,
              pad, s]() mutable { gpu::conv2d_forward(x, w, has_bias ? &bias : nullptr, y, st, pad, s); };
    });
    b.cudnn_case(kk + "_bwd_data", sh, dt, flops, 0, [&] {
      return [dy = b.random<T>(Y), w = b.random<T>(W), dx = b.random<T>(X), st, pad, s]() mutable {
        gpu::conv2d_backward_data(dy, w, dx, st, pad, s);
      };
    });
    b.cudnn_case(kk + "_bwd_weight", sh, dt, flops, 0, [&] {
      return [x = b.random<T>(X), dy = b.random<T>(Y), dw = b.random<T>(W), st, pad, s]() mutable {
        gpu::conv2d_backward_weight(x, dy, dw, st, pad, s);
      };
    });
  }

  {  // the deconv stage: ConvTranspose2d(32 + 34 -> 32, 4x4, stride 2, pad 1), 128^2 -> 256^2
    const std::int64_t ci = 66, co = 32, h = kPoseRes[0];
    const int k = 4, st = 2, pad = 1;
    const Shape X{N, ci, h, h}, W{ci, co, k, k}, Y{N, co, 2 * h, 2 * h};
    const std::string sh = dims(X) + "->" + std::to_string(co) + " k4 s2";
    const double flops = 2.0 * double(N * h * h) * double(ci * co * k * k);
    b.cudnn_case("deconv4x4_fwd", sh, dt, flops, 0, [&] {
      return [x = b.random<T>(X), w = b.random<T>(W), y = G<T>::empty(Y), s]() mutable {
        gpu::conv_transpose2d_forward<T>(x, w, nullptr, y, st, pad, s);
      };
    });
    b.cudnn_case("deconv4x4_bwd_data", sh, dt, flops, 0, [&] {
      return [dy = b.random<T>(Y), w = b.random<T>(W), dx = b.random<T>(X), s]() mutable {
        gpu::conv_transpose2d_backward_data(dy, w, dx, st, pad, s);
      };
    });
    b.cudnn_case("deconv4x4_bwd_weight", sh, dt, flops, 0, [&] {
      return [x = b.random<T>(X), dy = b.random<T>(Y), dw = b.random<T>(W), s]() mutable {
        gpu::conv_transpose2d_backward_weight(x, dy, dw, st, pad, s);
      };
    });
  }
}

template <GpuType T>
void batch_norm_cases(Bench& b) {
  const std::string dt = dtype_name<T>();
  const double sz = sizeof(T);
  const auto s = b.stream();
  std::vector<Shape> shapes;
  for (int i = 0; i < 4; ++i) shapes.push_back(Shape{kPoseN, kPoseCh[i], kPoseRes[i], kPoseRes[i]});
  shapes.push_back(Shape{kPoseN, 32, 2 * kPoseRes[0], 2 * kPoseRes[0]});  // the deconv stage
  for (int i = 0; i < 4; ++i) shapes.push_back(Shape{kClsN, kPoseCh[i], kClsRes[i], kClsRes[i]});
  for (const Shape& X : shapes) {
    const Shape C{X.c()};
    const double n = double(X.numel());
    auto ones = [&] {
      auto t = G<float>::empty(C);
      gpu::fill(t, 1.0f, s);
      return t;
    };
    b.cudnn_case("batch_norm_train_fwd", dims(X), dt, 0, 2 * n * sz, [&] {
      return [x = b.random<T>(X), gamma = ones(), beta = b.random<float>(C), rm = b.random<float>(C), rv = ones(),
              y = G<T>::empty(X), mean = G<float>::empty(C), invstd = G<float>::empty(C), s]() mutable {
        gpu::batch_norm_forward_train(x, gamma, beta, rm, rv, y, mean, invstd, 0.1, 1e-5, s);
      };
    });
    b.cudnn_case("batch_norm_bwd", dims(X), dt, 0, 4 * n * sz, [&] {
      auto x = b.random<T>(X), y = G<T>::empty(X);
      auto gamma = ones(), beta = b.random<float>(C), rm = b.random<float>(C), rv = ones();
      auto mean = G<float>::empty(C), invstd = G<float>::empty(C);
      gpu::batch_norm_forward_train(x, gamma, beta, rm, rv, y, mean, invstd, 0.1, 1e-5, s);  // saved statistics
      return [x, dy = b.random<T>(X), gamma, mean, invstd, dx = b.random<T>(X), dg = b.random<float>(C),
              db = b.random<float>(C), s]() mutable {
        gpu::batch_norm_backward(x, dy, gamma, mean, invstd, true, 1e-5, &dx, &dg, &db, s);
      };
    });
  }
}

template <GpuType T>
void run_dtype(Bench& b) {
  std::printf("---- %s ----\n", dtype_name<T>());
  elementwise_cases<T>(b);
  upsample_cases<T>(b);
  fusion_cases<T>(b);
  data_movement_cases<T>(b);
  conv_cases<T>(b);
  batch_norm_cases<T>(b);
  std::printf("\n");
}

// ---- JSON ----------------------------------------------------------------------------------------------

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) >= 0x20) out += ch;
  }
  return out + "\"";
}
std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}
std::string integer(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

void write_json(const std::string& path, const Options& o, const Bench& b, const std::string& device,
                const std::string& date, std::int64_t params, std::size_t tensors) {
  std::ofstream f(path);
  f << "{\n  \"benchmark\": \"bench_kernels\",\n  \"framework\": \"hrnet\",\n  \"device\": " << quoted(device)
    << ",\n  \"date\": " << quoted(date) << ",\n  \"dtype\": " << quoted(o.dtype) << ",\n  \"iters\": " << o.iters
    << ",\n  \"warmup\": " << o.warmup << ",\n  \"tf32\": " << (o.tf32 ? "true" : "false")
    << ",\n  \"copy_bandwidth_gbs\": " << num(b.copy_gbs) << ",\n  \"copy_bytes\": " << integer(b.copy_bytes)
    << ",\n  \"copy_ms\": " << num(b.copy_ms) << ",\n  \"optimizer_params\": {\"model\": \"HigherHRNet-W32\", \"params\": "
    << params << ", \"tensors\": " << tensors << "},\n  \"kernels\": [";
  for (std::size_t i = 0; i < b.kernels.size(); ++i) {
    const KernelRow& r = b.kernels[i];
    const double gbs = r.bytes / (r.ms * 1e-3) / 1e9;
    f << (i ? "," : "") << "\n    {\"name\": " << quoted(r.name) << ", \"shape\": " << quoted(r.shape)
      << ", \"dtype\": " << quoted(r.dtype) << ", \"ms\": " << num(r.ms) << ", \"bytes\": " << integer(r.bytes)
      << ", \"gbs\": " << num(gbs) << ", \"fraction_of_copy\": " << num(gbs / b.copy_gbs) << "}";
  }
  f << "\n  ],\n  \"cudnn\": [";
  for (std::size_t i = 0; i < b.cudnn.size(); ++i) {
    const CudnnRow& r = b.cudnn[i];
    f << (i ? "," : "") << "\n    {\"name\": " << quoted(r.name) << ", \"shape\": " << quoted(r.shape)
      << ", \"dtype\": " << quoted(r.dtype) << ", \"ms\": " << num(r.ms)
      << ", \"tflops\": " << (r.flops > 0 ? num(r.flops / (r.ms * 1e-3) / 1e12) : "null")
      << ", \"bytes\": " << (r.bytes > 0 ? integer(r.bytes) : "null")
      << ", \"gbs\": " << (r.bytes > 0 ? num(r.bytes / (r.ms * 1e-3) / 1e9) : "null") << "}";
  }
  f << "\n  ]\n}\n";
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::string today() {
  char buf[32];
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

int run(const Options& o) {
  if (cuda::device_count() == 0) {
    std::fprintf(stderr, "bench_kernels: no CUDA device visible; this benchmark needs a GPU\n");
    return 1;
  }
  const std::string device = cuda::device_name(cuda::current_device());
  gpu::set_cudnn_benchmark(true);
  gpu::set_allow_tf32(o.tf32);
  const cuda::Stream s = cuda::current_stream();
  std::printf("bench_kernels on %s, dtype %s, %d samples after %d warm-up launches per case%s\n", device.c_str(),
              o.dtype.c_str(), o.iters, o.warmup, o.tf32 ? ", TF32 allowed" : "");
  Bench b(o, s);
  b.measure_copy();
  const bool all = o.dtype == "all";
  if (all || o.dtype == "float") run_dtype<float>(b);
  if (all || o.dtype == "half") run_dtype<half>(b);
  if (all || o.dtype == "bfloat16") run_dtype<bfloat16>(b);
  std::vector<std::int64_t> numels;
  std::int64_t params = 0;
  if (b.selected("sgd_step_multi") || b.selected("adam_step_multi")) {
    std::printf("---- optimizer steps (fp32 master weights) ----\n");
    numels = higherhrnet_w32_param_numels();
    for (std::int64_t n : numels) params += n;
    optimizer_cases(b, numels);
  }
  if (!o.json.empty()) {
    write_json(o.json, o, b, device, today(), params, numels.size());
    std::printf("results written to %s\n", o.json.c_str());
  }
  if (b.failures) std::fprintf(stderr, "bench_kernels: %d case(s) failed (see above)\n", b.failures);
  return b.failures ? 1 : 0;
}

#endif  // HRNET_BENCH_CUDA

}  // namespace

int main(int argc, char** argv) try {
  Options o;
  try {
    hrnet::cli::Args args(argc, argv);
    while (args.next()) {
      const std::string& a = args.key();
      if (a == "--help" || a == "-h") {
        std::puts(kUsage);
        return 0;
      }
      if (a == "--json") o.json = args.value();
      else if (a == "--dtype") o.dtype = args.value();
      else if (a == "--iters") o.iters = static_cast<int>(args.integer(1));
      else if (a == "--warmup") o.warmup = static_cast<int>(args.integer(0));
      else if (a == "--only") o.only = args.value();
      else if (a == "--tf32") o.tf32 = args.flag();
      else args.unknown();
    }
  } catch (const hrnet::ValueError& e) {
    std::fprintf(stderr, "bench_kernels: error: %s\n", e.what());
    return 2;
  }
  if (o.dtype != "float" && o.dtype != "half" && o.dtype != "bfloat16" && o.dtype != "all") {
    std::fprintf(stderr, "bench_kernels: --dtype must be float, half, bfloat16 or all, got '%s'\n", o.dtype.c_str());
    return 2;
  }
#if HRNET_BENCH_CUDA
  return run(o);
#else
  std::fprintf(stderr, "bench_kernels: this build has no CUDA backend (configure with -DHRNET_WITH_CUDA=ON)\n");
  return 1;
#endif
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_kernels: error: %s\n", e.what());
  return 1;
}

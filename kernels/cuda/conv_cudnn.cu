// Convolution and transposed convolution through cuDNN's convolution API, NHWC tensors and NHWC
// (OHWI) filters, fp32 compute type for every storage type.
//
// Every call is one of cuDNN's three operations on a "problem": an image (n, c, h, w) convolved
// with a filter (k, c, r, r) into an output grid (n, k, ho, wo). A transposed convolution is the
// adjoint: its image is y, its output grid is x, and its (I, O, K, K) weight, IHWO in memory, is
// the NHWC filter with k = I, c = O. So
//   conv forward        = Fwd(x -> y)         transposed forward        = BwdData(x -> y)
//   conv backward data  = BwdData(dy -> dx)   transposed backward data  = Fwd(dy -> dx)
//   conv backward weight = BwdFilter(x, dy)   transposed backward weight = BwdFilter(dy, x)
// Backward calls accumulate (beta = 1). A forward with bias first broadcasts the bias into the
// output and then convolves with beta = 1, so each output is rounded once.
//
// Algorithms: with cudnn_benchmark() the fastest by cudnnFind*Ex (timed once per problem), else
// the first of cuDNN's heuristic list; deterministic() keeps only algorithms cuDNN reports as
// deterministic and always takes the heuristic's first (the same in every process, which timing is
// not); IEEE fp32 (allow_tf32() off) runs with CUDNN_FMA_MATH and rejects tensor-op
// algorithms. The choice is cached per problem, dtype, device and settings.
#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "handles.cuh"

namespace hrnet::gpu {
namespace detail {
namespace {

enum class Dir : int { Fwd, BwdData, BwdFilter };

struct ConvProblem {
  std::int64_t n, c, h, w;  // image
  std::int64_t k, r;        // filter (k, c, r, r)
  std::int64_t ho, wo;      // output grid
  int stride, pad;
};

std::int64_t out_size(std::int64_t in, std::int64_t r, int stride, int pad) {
  return in + 2 * pad < r ? -1 : (in + 2 * pad - r) / stride + 1;
}

// image, filter (k, c, r, r) and output shapes as the problem sees them; checks they agree.
ConvProblem make_problem(const Shape& image, const Shape& filter, const Shape& out, int stride, int pad,
                         const char* what) {
  HRNET_CHECK(image.rank() == 4 && filter.rank() == 4 && out.rank() == 4, ShapeError,
              what << ": 4-D tensors expected, got " << image << ", " << filter << ", " << out);
  HRNET_CHECK(stride >= 1 && pad >= 0, ValueError, what << ": stride " << stride << " and pad " << pad);
  ConvProblem p{image.n(), image.c(), image.h(), image.w(), filter[0], filter[2], out.h(), out.w(), stride, pad};
  HRNET_CHECK(filter[3] == p.r && filter[1] == p.c && out.c() == p.k && out.n() == p.n &&
                  out_size(p.h, p.r, stride, pad) == p.ho && out_size(p.w, p.r, stride, pad) == p.wo,
              ShapeError,
              what << ": shapes do not form a convolution (stride " << stride << ", pad " << pad << "): image "
                   << image << ", filter " << filter << ", output " << out);
  return p;
}

struct AlgoKey {
  int device;
  Dir dir;
  cudnnDataType_t type;
  ConvProblem p;
  bool tf32, det, bench;
  bool operator==(const AlgoKey& o) const {
    return device == o.device && dir == o.dir && type == o.type && p.n == o.p.n && p.c == o.p.c && p.h == o.p.h &&
           p.w == o.p.w && p.k == o.p.k && p.r == o.p.r && p.ho == o.p.ho && p.wo == o.p.wo &&
           p.stride == o.p.stride && p.pad == o.p.pad && tf32 == o.tf32 && det == o.det && bench == o.bench;
  }
};
struct AlgoKeyHash {
  std::size_t operator()(const AlgoKey& k) const {
    std::size_t h = 0;
    auto mix = [&h](std::int64_t v) { h ^= std::hash<std::int64_t>{}(v) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2); };
    for (std::int64_t v : {std::int64_t(k.device), std::int64_t(k.dir), std::int64_t(k.type), k.p.n, k.p.c, k.p.h,
                           k.p.w, k.p.k, k.p.r, k.p.ho, k.p.wo, std::int64_t(k.p.stride), std::int64_t(k.p.pad),
                           std::int64_t(k.tf32) | std::int64_t(k.det) << 1 | std::int64_t(k.bench) << 2})
      mix(v);
    return h;
  }
};

struct Algo {
  int algo = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  std::size_t memory = 0;
};

std::mutex g_cache_mutex;
std::unordered_map<AlgoKey, Algo, AlgoKeyHash>& algo_cache() {
  static auto* m = new std::unordered_map<AlgoKey, Algo, AlgoKeyHash>;  // lives until exit, as the handles
  return *m;
}

// Algorithms needing more workspace than this are skipped.
constexpr std::size_t kMaxWorkspace = std::size_t{512} << 20;

struct Policy {
  bool ieee_fp32;  // fp32 data without TF32
  bool det;
  cudnnMathType_t request;
};

template <class T>
Policy policy() {
  const bool ieee = std::is_same_v<T, float> && !allow_tf32();
  cudnnMathType_t m = CUDNN_TENSOR_OP_MATH;  // 16-bit data: tensor cores, fp32 accumulation
  if constexpr (std::is_same_v<T, float>) m = ieee ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;  // default allows TF32
  return {ieee, deterministic(), m};
}

template <class Perf>
bool acceptable(const Perf& p, const Policy& pol) {
  if (p.status != CUDNN_STATUS_SUCCESS || p.memory > kMaxWorkspace) return false;
  if (pol.det && p.determinism != CUDNN_DETERMINISTIC) return false;
  if (p.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return false;  // would round inputs down
  if (pol.ieee_fp32 && p.mathType == CUDNN_TENSOR_OP_MATH) return false;  // TF32 tensor cores
  return true;
}

// The first acceptable entry of a list cuDNN sorted best first.
template <class Perf>
bool pick(const std::vector<Perf>& perfs, int count, const Policy& pol, Algo& out) {
  for (int i = 0; i < count; ++i) {
    const Perf& p = perfs[static_cast<std::size_t>(i)];
    if (!acceptable(p, pol)) continue;
    out.algo = static_cast<int>(p.algo);
    out.math = pol.ieee_fp32 ? CUDNN_FMA_MATH : p.mathType;
    out.memory = p.memory;
    return true;
  }
  return false;
}

// Largest workspace any acceptable heuristic candidate needs: what the timing run gets.
template <class Perf>
std::size_t find_workspace(const std::vector<Perf>& perfs, int count, const Policy& pol) {
  std::size_t ws = 0;
  for (int i = 0; i < count; ++i)
    if (acceptable(perfs[static_cast<std::size_t>(i)], pol)) ws = std::max(ws, perfs[static_cast<std::size_t>(i)].memory);
  return ws;
}

struct Descs {
  TensorDesc image, out;
  FilterDesc filter;
  ConvDesc conv;
  Descs(cudnnDataType_t t, const ConvProblem& p, cudnnMathType_t math)
      : image(t, p.n, p.c, p.h, p.w), out(t, p.n, p.k, p.ho, p.wo), filter(t, p.k, p.c, p.r, p.r),
        conv(p.stride, p.pad, math) {}
};

// Pointers of one call: `image`, `filter`, `out` as the problem sees them; the one the direction
// writes is non-const in cuDNN's signature.
struct Ptrs {
  void* image;
  void* filter;
  void* out;
};

template <class T>
Algo select_algo(Dir dir, const ConvProblem& p, Descs& d, const Ptrs& ptrs, cudnnHandle_t h, Stream s) {
  const Policy pol = policy<T>();
  // Deterministic mode takes the heuristic's first deterministic algorithm, never the timed search:
  // timing can rank algorithms differently in another process, which would then compute with a
  // different (equally deterministic) algorithm and give different bits.
  const bool bench = cudnn_benchmark() && !pol.det;
  const AlgoKey key{current_device_index(), dir, cudnn_type<T>(), p, allow_tf32(), pol.det, bench};
  {
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    auto it = algo_cache().find(key);
    if (it != algo_cache().end()) return it->second;
  }
  Algo a;
  bool found = false;
  // The timing runs write a scratch copy of the result: the real one may hold gradients being
  // accumulated or a broadcast bias.
  const std::int64_t result_numel = dir == Dir::Fwd ? p.n * p.k * p.ho * p.wo
                                    : dir == Dir::BwdData ? p.n * p.c * p.h * p.w
                                                          : p.k * p.c * p.r * p.r;
  auto run_find = [&](auto get_v7, auto find_ex, auto max_count_fn, auto tag) {
    using Perf = decltype(tag);
    int max_count = 0;
    HRNET_CUDNN_CHECK(max_count_fn(h, &max_count));
    std::vector<Perf> perfs(static_cast<std::size_t>(std::max(1, max_count)));
    int n = 0;
    HRNET_CUDNN_CHECK(get_v7(max_count, &n, perfs.data()));
    if (bench) {
      const std::size_t ws_bytes = find_workspace(perfs, n, pol);
      auto result = scratch<T>(Shape{result_numel}, s);
      void* ws = ws_bytes ? workspace(ws_bytes, s) : nullptr;
      std::vector<Perf> timed(perfs.size());
      int m = 0;
      HRNET_CUDNN_CHECK(find_ex(max_count, &m, timed.data(), result.data(), ws, ws_bytes));
      found = pick(timed, m, pol, a);
    }
    if (!found) found = pick(perfs, n, pol, a);
  };
  switch (dir) {
    case Dir::Fwd:
      run_find(
          [&](int req, int* n, cudnnConvolutionFwdAlgoPerf_t* r) {
            return cudnnGetConvolutionForwardAlgorithm_v7(h, d.image.get(), d.filter.get(), d.conv.get(), d.out.get(),
                                                          req, n, r);
          },
          [&](int req, int* n, cudnnConvolutionFwdAlgoPerf_t* r, void* result, void* ws, std::size_t wsb) {
            return cudnnFindConvolutionForwardAlgorithmEx(h, d.image.get(), ptrs.image, d.filter.get(), ptrs.filter,
                                                          d.conv.get(), d.out.get(), result, req, n, r, ws, wsb);
          },
          cudnnGetConvolutionForwardAlgorithmMaxCount, cudnnConvolutionFwdAlgoPerf_t{});
      break;
    case Dir::BwdData:
      run_find(
          [&](int req, int* n, cudnnConvolutionBwdDataAlgoPerf_t* r) {
            return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.filter.get(), d.out.get(), d.conv.get(),
                                                               d.image.get(), req, n, r);
          },
          [&](int req, int* n, cudnnConvolutionBwdDataAlgoPerf_t* r, void* result, void* ws, std::size_t wsb) {
            return cudnnFindConvolutionBackwardDataAlgorithmEx(h, d.filter.get(), ptrs.filter, d.out.get(), ptrs.out,
                                                               d.conv.get(), d.image.get(), result, req, n, r, ws, wsb);
          },
          cudnnGetConvolutionBackwardDataAlgorithmMaxCount, cudnnConvolutionBwdDataAlgoPerf_t{});
      break;
    case Dir::BwdFilter:
      run_find(
          [&](int req, int* n, cudnnConvolutionBwdFilterAlgoPerf_t* r) {
            return cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d.image.get(), d.out.get(), d.conv.get(),
                                                                 d.filter.get(), req, n, r);
          },
          [&](int req, int* n, cudnnConvolutionBwdFilterAlgoPerf_t* r, void* result, void* ws, std::size_t wsb) {
            return cudnnFindConvolutionBackwardFilterAlgorithmEx(h, d.image.get(), ptrs.image, d.out.get(), ptrs.out,
                                                                 d.conv.get(), d.filter.get(), result, req, n, r, ws,
                                                                 wsb);
          },
          cudnnGetConvolutionBackwardFilterAlgorithmMaxCount, cudnnConvolutionBwdFilterAlgoPerf_t{});
      break;
  }
  HRNET_CHECK(found, CudnnError,
              "cuDNN offers no usable convolution algorithm for image [" << p.n << ", " << p.c << ", " << p.h << ", "
                  << p.w << "], filter " << p.k << "x" << p.c << "x" << p.r << "x" << p.r << ", stride "
                  << p.stride << ", pad " << p.pad << (pol.det ? " (deterministic only)" : "")
                  << (pol.ieee_fp32 ? " (IEEE fp32 only)" : ""));
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  algo_cache().emplace(key, a);
  return a;
}

// out(dir) = 1 * op + beta * out(dir)
template <class T>
void run_conv(Dir dir, const ConvProblem& p, const Ptrs& ptrs, float beta, Stream s) {
  cudnnHandle_t h = cudnn_handle(s);
  const Policy pol = policy<T>();
  Descs d(cudnn_type<T>(), p, pol.request);
  const Algo a = select_algo<T>(dir, p, d, ptrs, h, s);
  HRNET_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.get(), a.math));
  void* ws = a.memory ? workspace(a.memory, s) : nullptr;
  const float alpha = 1.f;
  switch (dir) {
    case Dir::Fwd:
      HRNET_CUDNN_CHECK(cudnnConvolutionForward(h, &alpha, d.image.get(), ptrs.image, d.filter.get(), ptrs.filter,
                                                d.conv.get(), static_cast<cudnnConvolutionFwdAlgo_t>(a.algo), ws,
                                                a.memory, &beta, d.out.get(), ptrs.out));
      break;
    case Dir::BwdData:
      HRNET_CUDNN_CHECK(cudnnConvolutionBackwardData(h, &alpha, d.filter.get(), ptrs.filter, d.out.get(), ptrs.out,
                                                     d.conv.get(), static_cast<cudnnConvolutionBwdDataAlgo_t>(a.algo),
                                                     ws, a.memory, &beta, d.image.get(), ptrs.image));
      break;
    case Dir::BwdFilter:
      HRNET_CUDNN_CHECK(cudnnConvolutionBackwardFilter(
          h, &alpha, d.image.get(), ptrs.image, d.out.get(), ptrs.out, d.conv.get(),
          static_cast<cudnnConvolutionBwdFilterAlgo_t>(a.algo), ws, a.memory, &beta, d.filter.get(), ptrs.filter));
      break;
  }
}

template <class T>
void* vp(const T* p) {
  return const_cast<void*>(static_cast<const void*>(p));
}

// The forward of either kind: out = op(in) (+ b broadcast over the output's rows).
template <class T>
void forward_into(Dir dir, const ConvProblem& p, const Ptrs& ptrs, const G<T>* b, G<T>& y, Stream s,
                  bool reduction_empty) {
  const std::int64_t C = y.shape().c(), rows = y.numel() / std::max<std::int64_t>(1, C);
  if (y.numel() == 0) return;
  if (b) {
    HRNET_CHECK(b->numel() == C, ShapeError, "convolution bias: " << b->shape() << " for " << C << " channels");
    broadcast_rows(b->data(), y.data(), rows, C, s);
  } else if (reduction_empty) {
    HRNET_CUDA_CHECK(cudaMemsetAsync(y.data(), 0, y.bytes(), raw(s)));
  }
  if (!reduction_empty) run_conv<T>(dir, p, ptrs, b ? 1.f : 0.f, s);
}

// db[c] += sum of the rows of [rows, C]
template <class D>
struct BiasLoad {
  const D* dy;
  std::int64_t C;
  __device__ void operator()(std::int64_t r, std::int64_t c, float (&acc)[1]) const { acc[0] += to_f32(dy[r * C + c]); }
};
template <class D>
struct BiasEpilogue {
  D* db;
  __device__ void operator()(std::int64_t c, const float (&sum)[1]) const {
    db[c] = from_f32<D>(to_f32(db[c]) + sum[0]);
  }
};

}  // namespace

// Test hook (declared by the tests, not in cuda.hpp; needs no GPU): the algorithm `pick` takes from
// a forward performance list cuDNN would return (sorted best first) under the given settings, and
// the math type it would run with; {-1, 0} when none is acceptable.
std::pair<int, int> conv_pick_readback(const std::vector<cudnnConvolutionFwdAlgoPerf_t>& perfs, bool ieee_fp32,
                                       bool deterministic) {
  const Policy pol{ieee_fp32, deterministic, ieee_fp32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH};
  Algo a;
  if (!pick(perfs, static_cast<int>(perfs.size()), pol, a)) return {-1, 0};
  return {a.algo, static_cast<int>(a.math)};
}

// Test hook (declared by the tests, not in cuda.hpp; needs no GPU): builds the descriptors that a
// convolution of these (image, filter, output) shapes builds and reads back what cuDNN derives
// from them: {n, k, ho, wo} of cudnnGetConvolution2dForwardOutputDim, then the image descriptor's
// strides {n, c, h, w} from cudnnGetTensor4dDescriptor.
std::array<std::int64_t, 8> conv_descriptor_readback(const Shape& image, const Shape& filter, const Shape& out,
                                                     int stride, int pad, bool half_data) {
  const ConvProblem p = make_problem(image, filter, out, stride, pad, "conv_descriptor_readback");
  const cudnnDataType_t t = half_data ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
  Descs d(t, p, half_data ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH);
  int n = 0, k = 0, ho = 0, wo = 0;
  HRNET_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(d.conv.get(), d.image.get(), d.filter.get(), &n, &k, &ho, &wo));
  cudnnDataType_t got_type;
  int dn = 0, dc = 0, dh = 0, dw = 0, sn = 0, sc = 0, sh = 0, sw = 0;
  HRNET_CUDNN_CHECK(cudnnGetTensor4dDescriptor(d.image.get(), &got_type, &dn, &dc, &dh, &dw, &sn, &sc, &sh, &sw));
  return {n, k, ho, wo, sn, sc, sh, sw};
}
}  // namespace detail

using detail::Dir;
using detail::make_problem;
using detail::vp;

template <GpuType T>
void conv2d_forward(const G<T>& x, const G<T>& w, const G<T>* b, G<T>& y, int stride, int pad, Stream s) {
  const auto p = make_problem(x.shape(), w.shape(), y.shape(), stride, pad, "conv2d_forward");
  detail::forward_into(Dir::Fwd, p, {vp(x.data()), vp(w.data()), y.data()}, b, y, s, x.numel() == 0 || w.numel() == 0);
}

template <GpuType T>
void conv2d_backward_data(const G<T>& dy, const G<T>& w, G<T>& dx, int stride, int pad, Stream s) {
  const auto p = make_problem(dx.shape(), w.shape(), dy.shape(), stride, pad, "conv2d_backward_data");
  if (dx.numel() == 0 || dy.numel() == 0 || w.numel() == 0) return;
  detail::run_conv<T>(Dir::BwdData, p, {dx.data(), vp(w.data()), vp(dy.data())}, 1.f, s);
}

template <GpuType T>
void conv2d_backward_weight(const G<T>& x, const G<T>& dy, G<T>& dw, int stride, int pad, Stream s) {
  const auto p = make_problem(x.shape(), dw.shape(), dy.shape(), stride, pad, "conv2d_backward_weight");
  if (dw.numel() == 0 || x.numel() == 0 || dy.numel() == 0) return;
  detail::run_conv<T>(Dir::BwdFilter, p, {vp(x.data()), dw.data(), vp(dy.data())}, 1.f, s);
}

template <GpuType T>
void bias_backward(const G<T>& dy, G<T>& db, Stream s) {
  HRNET_CHECK(dy.rank() >= 2, ShapeError, "bias_backward: dy " << dy.shape() << " has no channel dimension");
  const std::int64_t C = dy.shape()[1];  // innermost in memory for (N,C,H,W) and (N,C)
  HRNET_CHECK(db.numel() == C, ShapeError, "bias_backward: db " << db.shape() << " for " << C << " channels");
  if (C == 0 || dy.numel() == 0) return;
  using D = detail::dev_t<T>;
  detail::channel_sums<1>(detail::BiasLoad<D>{detail::dev_ptr(dy.data()), C},
                          detail::BiasEpilogue<D>{detail::dev_ptr(db.data())}, dy.numel() / C, C, s);
}

template <GpuType T>
void conv_transpose2d_forward(const G<T>& x, const G<T>& w, const G<T>* b, G<T>& y, int stride, int pad, Stream s) {
  const auto p = make_problem(y.shape(), w.shape(), x.shape(), stride, pad, "conv_transpose2d_forward");
  detail::forward_into(Dir::BwdData, p, {y.data(), vp(w.data()), vp(x.data())}, b, y, s,
                       x.numel() == 0 || w.numel() == 0);
}

template <GpuType T>
void conv_transpose2d_backward_data(const G<T>& dy, const G<T>& w, G<T>& dx, int stride, int pad, Stream s) {
  const auto p = make_problem(dy.shape(), w.shape(), dx.shape(), stride, pad, "conv_transpose2d_backward_data");
  if (dx.numel() == 0 || dy.numel() == 0 || w.numel() == 0) return;
  detail::run_conv<T>(Dir::Fwd, p, {vp(dy.data()), vp(w.data()), dx.data()}, 1.f, s);
}

template <GpuType T>
void conv_transpose2d_backward_weight(const G<T>& x, const G<T>& dy, G<T>& dw, int stride, int pad, Stream s) {
  const auto p = make_problem(dy.shape(), dw.shape(), x.shape(), stride, pad, "conv_transpose2d_backward_weight");
  if (dw.numel() == 0 || x.numel() == 0 || dy.numel() == 0) return;
  detail::run_conv<T>(Dir::BwdFilter, p, {vp(dy.data()), dw.data(), vp(x.data())}, 1.f, s);
}

#define HRNET_INSTANTIATE(T)                                                                                      \
  template void conv2d_forward<T>(const G<T>&, const G<T>&, const G<T>*, G<T>&, int, int, Stream);              \
  template void conv2d_backward_data<T>(const G<T>&, const G<T>&, G<T>&, int, int, Stream);                     \
  template void conv2d_backward_weight<T>(const G<T>&, const G<T>&, G<T>&, int, int, Stream);                   \
  template void bias_backward<T>(const G<T>&, G<T>&, Stream);                                                    \
  template void conv_transpose2d_forward<T>(const G<T>&, const G<T>&, const G<T>*, G<T>&, int, int, Stream);    \
  template void conv_transpose2d_backward_data<T>(const G<T>&, const G<T>&, G<T>&, int, int, Stream);           \
  template void conv_transpose2d_backward_weight<T>(const G<T>&, const G<T>&, G<T>&, int, int, Stream);
HRNET_INSTANTIATE(float)
HRNET_INSTANTIATE(half)
HRNET_INSTANTIATE(bfloat16)
#undef HRNET_INSTANTIATE

}  // namespace hrnet::gpu

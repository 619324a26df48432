// Reductions and losses: sum, masked MSE, softmax cross-entropy with label smoothing and the
// weighted mean sum of the trainer's loss terms. fp32 arithmetic, fp32 0-d results.
//
// Determinism: every reduction uses a partition that depends only on the element count (never on
// the device, the timing or the pointers' alignment) and a fixed summation order: each thread sums
// the 16-byte units u = tid, tid + stride, ... in order, each block reduces its threads with a fixed
// shuffle tree, and one block sums the per-block partials in order (two launches; one when a single
// block suffices). No atomics. The grid of the first pass is therefore min(units / 256, 1024) rather
// than grid_for's device-dependent size: 1024 blocks of 256 threads fill an H100/H200 several times.
#include <cmath>
#include <limits>

#include "common.cuh"
#include "loss_math.hpp"

namespace hrnet::gpu {
namespace {
using namespace detail;
namespace lm = loss_math;

constexpr int kBlock = 256;
constexpr unsigned kMaxPartials = 1024;

// Stream-ordered scratch memory: allocated and freed in the order of `s`, so kernels queued on `s`
// before the destructor runs still see it. No host synchronisation.
class Scratch {
 public:
  Scratch(std::size_t bytes, Stream s) : s_(s), p_(bytes ? cuda::allocate(bytes, s) : nullptr) {}
  ~Scratch() {
    if (p_) cuda::deallocate(p_, s_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <class U> U* as() const { return static_cast<U*>(p_); }

 private:
  Stream s_;
  void* p_;
};

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

// ---- device helpers ----------------------------------------------------------------------------------
// Elements per 16-byte unit: the partition works in units whether or not the loads are vectorised,
// so the summation order (and the result) is the same on both paths.
template <class D> constexpr int kUnit = 16 / static_cast<int>(sizeof(D));
template <class D> struct alignas(16) Pack {
  D v[kUnit<D>];
};

// Unit u of x (elements [u*U, min(u*U + U, n))) as fp32; returns how many elements it has.
template <bool Aligned, class D>
__device__ __forceinline__ int load_unit(const D* x, std::int64_t n, std::int64_t u, float (&v)[kUnit<D>]) {
  constexpr int U = kUnit<D>;
  const std::int64_t base = u * U;
  if (Aligned && base + U <= n) {
    const Pack<D> pk = *reinterpret_cast<const Pack<D>*>(x + base);
#pragma unroll
    for (int k = 0; k < U; ++k) v[k] = to_f32(pk.v[k]);
    return U;
  }
  const int cnt = static_cast<int>(n - base < U ? n - base : U);
#pragma unroll
  for (int k = 0; k < U; ++k) v[k] = k < cnt ? to_f32(x[base + k]) : 0.f;
  return cnt;
}
template <bool Aligned, class D>
__device__ __forceinline__ void store_unit(D* x, std::int64_t u, const float (&v)[kUnit<D>], int cnt) {
  constexpr int U = kUnit<D>;
  const std::int64_t base = u * U;
  if (Aligned && cnt == U) {
    Pack<D> pk;
#pragma unroll
    for (int k = 0; k < U; ++k) pk.v[k] = from_f32<D>(v[k]);
    *reinterpret_cast<Pack<D>*>(x + base) = pk;
    return;
  }
#pragma unroll
  for (int k = 0; k < U; ++k)
    if (k < cnt) x[base + k] = from_f32<D>(v[k]);
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;  // lane 0 holds the warp's sum
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;  // every lane holds the maximum
}
// Sum over the block with a fixed tree; the result is valid in thread 0. Every thread must call it;
// it may be called repeatedly (it synchronises before reusing its shared memory).
__device__ float block_sum(float v) {
  __shared__ float warp_part[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) warp_part[warp] = v;
  __syncthreads();
  v = threadIdx.x < nwarps ? warp_part[threadIdx.x] : 0.f;
  if (warp == 0) v = warp_sum(v);
  return v;
}

__device__ __forceinline__ std::int64_t thread_index() {
  return static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ std::int64_t thread_stride() { return static_cast<std::int64_t>(gridDim.x) * blockDim.x; }

// Writes the block's partial sum, or (single-block launch) the final value sum / divisor.
__device__ __forceinline__ void write_partial(float block_total, float* partials, float* out, double divisor) {
  if (threadIdx.x != 0) return;
  if (out) *out = static_cast<float>(double(block_total) / divisor);
  else partials[blockIdx.x] = block_total;
}

// ---- kernels -------------------------------------------------------------------------------------------
template <bool Aligned, class D>
__global__ void sum_kernel(const D* __restrict__ x, std::int64_t n, float* partials, float* out, double divisor) {
  constexpr int U = kUnit<D>;
  const std::int64_t units = (n + U - 1) / U;
  float acc = 0.f;
  for (std::int64_t u = thread_index(); u < units; u += thread_stride()) {
    float v[U];
    const int cnt = load_unit<Aligned>(x, n, u, v);
#pragma unroll
    for (int k = 0; k < U; ++k)
      if (k < cnt) acc += v[k];
  }
  write_partial(block_sum(acc), partials, out, divisor);
}

// pred, gt (N,C,H,W) NHWC: element i belongs to pixel i / C, whose mask value is mask[i / C].
template <bool Aligned, class D>
__global__ void masked_mse_kernel(const D* __restrict__ pred, const D* __restrict__ gt, const D* __restrict__ mask,
                                  std::int64_t n, std::int64_t C, float* partials, float* out, double divisor) {
  constexpr int U = kUnit<D>;
  const std::int64_t units = (n + U - 1) / U;
  float acc = 0.f;
  for (std::int64_t u = thread_index(); u < units; u += thread_stride()) {
    float p[U], g[U];
    const int cnt = load_unit<Aligned>(pred, n, u, p);
    load_unit<Aligned>(gt, n, u, g);
    std::int64_t pix = u * U / C, ch = u * U - pix * C;
    float m = to_f32(mask[pix]);
#pragma unroll
    for (int k = 0; k < U; ++k) {
      if (k >= cnt) break;
      acc += lm::masked_mse_term(p[k], g[k], m);
      if (++ch == C && k + 1 < cnt) {
        ch = 0;
        m = to_f32(mask[++pix]);
      }
    }
  }
  write_partial(block_sum(acc), partials, out, divisor);
}

template <bool Aligned, class D>
__global__ void masked_mse_backward_kernel(const D* __restrict__ pred, const D* __restrict__ gt,
                                           const D* __restrict__ mask, const float* __restrict__ dloss,
                                           D* __restrict__ dpred, std::int64_t n, std::int64_t C) {
  constexpr int U = kUnit<D>;
  const std::int64_t units = (n + U - 1) / U;
  const float scale = lm::masked_mse_grad_scale(*dloss, n);
  for (std::int64_t u = thread_index(); u < units; u += thread_stride()) {
    float p[U], g[U], d[U];
    const int cnt = load_unit<Aligned>(pred, n, u, p);
    load_unit<Aligned>(gt, n, u, g);
    load_unit<Aligned>(dpred, n, u, d);
    std::int64_t pix = u * U / C, ch = u * U - pix * C;
    float m = to_f32(mask[pix]);
#pragma unroll
    for (int k = 0; k < U; ++k) {
      if (k >= cnt) break;
      d[k] += lm::masked_mse_grad(scale, p[k], g[k], m);
      if (++ch == C && k + 1 < cnt) {
        ch = 0;
        m = to_f32(mask[++pix]);
      }
    }
    store_unit<Aligned>(dpred, u, d, cnt);
  }
}

// Sums the partials in a fixed order; y = sum / divisor.
__global__ void finish_kernel(const float* __restrict__ partials, unsigned count, float* out, double divisor) {
  float acc = 0.f;
  for (unsigned i = threadIdx.x; i < count; i += blockDim.x) acc += partials[i];
  const float total = block_sum(acc);
  if (threadIdx.x == 0) *out = static_cast<float>(double(total) / divisor);
}

// Row statistics of softmax cross-entropy, one warp per row: every lane gets the row maximum and
// log-sum-exp; lane 0 also gets the sum of the logits. Lane-strided, then a fixed shuffle tree.
template <class D>
__device__ __forceinline__ void ce_row_stats(const D* z, std::int64_t K, int lane, float& lse, float& sum_z) {
  float m = -INFINITY;
  for (std::int64_t k = lane; k < K; k += 32) m = fmaxf(m, to_f32(z[k]));
  m = warp_max(m);
  float se = 0.f, sz = 0.f;
  for (std::int64_t k = lane; k < K; k += 32) {
    const float v = to_f32(z[k]);
    se += expf(v - m);
    sz += v;
  }
  se = warp_sum(se);
  sz = warp_sum(sz);
  lse = __shfl_sync(0xffffffffu, m + logf(se), 0);
  sum_z = sz;
}

// One block; warp w takes rows w, w + warps, ... and sums its row losses in order; the block then
// sums the warps' totals with a fixed tree. A label outside [0, K) makes its row loss NaN.
template <class D>
__global__ void cross_entropy_kernel(const D* __restrict__ logits, const std::int64_t* __restrict__ labels,
                                     std::int64_t N, std::int64_t K, float one_minus_eps, float eps, float* out) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  float acc = 0.f;
  for (std::int64_t r = warp; r < N; r += nwarps) {
    const D* z = logits + r * K;
    float lse, sum_z;
    ce_row_stats(z, K, lane, lse, sum_z);
    if (lane == 0) {
      const std::int64_t y = labels[r];
      const float zy = (y >= 0 && y < K) ? to_f32(z[y]) : NAN;
      acc += lm::ce_row_loss(lse, zy, sum_z, K, one_minus_eps, eps);
    }
  }
  const float total = block_sum(lane == 0 ? acc : 0.f);
  if (threadIdx.x == 0) *out = static_cast<float>(double(total) / double(N));
}

// Warp per row, grid-stride over rows. A label outside [0, K) makes its row's gradient NaN.
template <class D>
__global__ void cross_entropy_backward_kernel(const D* __restrict__ logits, const std::int64_t* __restrict__ labels,
                                              const float* __restrict__ dloss, D* __restrict__ dlogits, std::int64_t N,
                                              std::int64_t K, float on, float off) {
  const int lane = threadIdx.x & 31;
  const std::int64_t warps = thread_stride() >> 5;
  const float scale = static_cast<float>(double(*dloss) / double(N));
  for (std::int64_t r = thread_index() >> 5; r < N; r += warps) {
    const D* z = logits + r * K;
    float lse, sum_z;
    ce_row_stats(z, K, lane, lse, sum_z);
    const std::int64_t y = labels[r];
    const bool valid = y >= 0 && y < K;
    D* g = dlogits + r * K;
    for (std::int64_t k = lane; k < K; k += 32) {
      const float target = valid ? (k == y ? on : off) : NAN;
      g[k] = from_f32<D>(to_f32(g[k]) + lm::ce_grad(scale, to_f32(z[k]), lse, target));
    }
  }
}

// weighted_mean_sum: up to kTerms terms per launch; acc carries the double total between launches.
constexpr int kTerms = 32;
struct WmsTerms {
  int count = 0;
  bool first = true;
  unsigned begin[kTerms + 1] = {};  // term i's partials are partials[begin[i], begin[i + 1])
  double weight[kTerms] = {};
  double numel[kTerms] = {};
};
__global__ void weighted_mean_sum_finish_kernel(const float* __restrict__ partials, WmsTerms t, double* acc, float* y) {
  double total = (threadIdx.x == 0 && !t.first) ? *acc : 0.0;
  for (int i = 0; i < t.count; ++i) {
    float a = 0.f;
    for (unsigned j = t.begin[i] + threadIdx.x; j < t.begin[i + 1]; j += blockDim.x) a += partials[j];
    const float s = block_sum(a);
    total += t.weight[i] * double(s) / t.numel[i];  // meaningful in thread 0 only
  }
  if (threadIdx.x == 0) {
    *acc = total;
    *y = static_cast<float>(total);
  }
}

template <bool Aligned>
__global__ void add_scaled_scalar_kernel(float* __restrict__ x, std::int64_t n, const float* __restrict__ dy, double w,
                                         double numel) {
  constexpr int U = kUnit<float>;
  const float g = static_cast<float>(double(*dy) * w / numel);
  const std::int64_t units = (n + U - 1) / U;
  for (std::int64_t u = thread_index(); u < units; u += thread_stride()) {
    float v[U];
    const int cnt = load_unit<Aligned>(x, n, u, v);
#pragma unroll
    for (int k = 0; k < U; ++k) v[k] += g;
    store_unit<Aligned>(x, u, v, cnt);
  }
}

// ---- host side ---------------------------------------------------------------------------------------
unsigned reduce_grid(std::int64_t units) {
  const std::int64_t need = (units + kBlock - 1) / kBlock;
  return static_cast<unsigned>(std::max<std::int64_t>(1, std::min<std::int64_t>(need, kMaxPartials)));
}

// Runs a first-pass kernel (launch(grid, partials, out)) and, with more than one block, the
// in-order sum of its partials. out = total / divisor.
template <class Launch>
void two_pass(std::int64_t units, float* out, double divisor, Stream s, Launch&& launch) {
  const unsigned grid = reduce_grid(units);
  if (grid == 1) {
    launch(1u, static_cast<float*>(nullptr), out);
    return;
  }
  Scratch part(grid * sizeof(float), s);
  launch(grid, part.as<float>(), static_cast<float*>(nullptr));
  finish_kernel<<<1, kBlock, 0, raw(s)>>>(part.as<float>(), grid, out, divisor);
  HRNET_CUDA_CHECK_LAUNCH(s);
}

void check_scalar(const G<float>& t, const char* what) {
  HRNET_CHECK(t.numel() == 1, ShapeError, what << " must hold one element, got " << t.shape());
}

}  // namespace

template <GpuType T>
void sum(const G<T>& x, G<float>& out, Stream s) {
  check_scalar(out, "sum: out");
  using D = dev_t<T>;
  const std::int64_t n = x.numel(), units = (n + kUnit<D> - 1) / kUnit<D>;
  const D* xp = dev_ptr(x.data());
  const bool al = aligned16(xp);
  two_pass(units, out.data(), 1.0, s, [&](unsigned grid, float* part, float* o) {
    if (al) sum_kernel<true><<<grid, kBlock, 0, raw(s)>>>(xp, n, part, o, 1.0);
    else sum_kernel<false><<<grid, kBlock, 0, raw(s)>>>(xp, n, part, o, 1.0);
    HRNET_CUDA_CHECK_LAUNCH(s);
  });
}

template <GpuType T>
void masked_mse_forward(const G<T>& pred, const G<T>& gt, const G<T>& mask, G<float>& loss, Stream s) {
  HRNET_CHECK(pred.numel() > 0, ShapeError, "masked_mse: the prediction " << pred.shape() << " is empty");
  HRNET_CHECK(gt.shape() == pred.shape() && mask.numel() * pred.shape().c() == pred.numel(), ShapeError,
              "masked_mse: prediction " << pred.shape() << ", target " << gt.shape() << ", mask " << mask.shape());
  check_scalar(loss, "masked_mse: loss");
  using D = dev_t<T>;
  const std::int64_t n = pred.numel(), C = pred.shape().c(), units = (n + kUnit<D> - 1) / kUnit<D>;
  const D *p = dev_ptr(pred.data()), *g = dev_ptr(gt.data()), *m = dev_ptr(mask.data());
  const bool al = aligned16(p) && aligned16(g);
  const double divisor = double(n);
  two_pass(units, loss.data(), divisor, s, [&](unsigned grid, float* part, float* o) {
    if (al) masked_mse_kernel<true><<<grid, kBlock, 0, raw(s)>>>(p, g, m, n, C, part, o, divisor);
    else masked_mse_kernel<false><<<grid, kBlock, 0, raw(s)>>>(p, g, m, n, C, part, o, divisor);
    HRNET_CUDA_CHECK_LAUNCH(s);
  });
}

template <GpuType T>
void masked_mse_backward(const G<T>& pred, const G<T>& gt, const G<T>& mask, const G<float>& dloss, G<T>& dpred,
                         Stream s) {
  if (pred.numel() == 0) return;
  HRNET_CHECK(gt.shape() == pred.shape() && dpred.shape() == pred.shape() &&
                  mask.numel() * pred.shape().c() == pred.numel(),
              ShapeError,
              "masked_mse_backward: prediction " << pred.shape() << ", target " << gt.shape() << ", mask "
                                                 << mask.shape() << ", gradient " << dpred.shape());
  check_scalar(dloss, "masked_mse_backward: dloss");
  using D = dev_t<T>;
  const std::int64_t n = pred.numel(), C = pred.shape().c(), units = (n + kUnit<D> - 1) / kUnit<D>;
  const D *p = dev_ptr(pred.data()), *g = dev_ptr(gt.data()), *m = dev_ptr(mask.data());
  D* dp = dev_ptr(dpred.data());
  const unsigned grid = grid_for(units, kBlock);
  if (aligned16(p) && aligned16(g) && aligned16(dp))
    masked_mse_backward_kernel<true><<<grid, kBlock, 0, raw(s)>>>(p, g, m, dloss.data(), dp, n, C);
  else
    masked_mse_backward_kernel<false><<<grid, kBlock, 0, raw(s)>>>(p, g, m, dloss.data(), dp, n, C);
  HRNET_CUDA_CHECK_LAUNCH(s);
}

// Labels are not validated here (that would need a host synchronisation): a label outside [0, K)
// is never dereferenced and makes the loss (forward) or its row's gradient (backward) NaN. The ops
// layer validates labels on the host when it has them there.
template <GpuType T>
void cross_entropy_forward(const G<T>& logits, const Tensor<std::int64_t, CUDA>& labels, double smoothing,
                           G<float>& loss, Stream s) {
  HRNET_CHECK(logits.shape().rank() == 2 && logits.shape()[0] >= 1 && labels.numel() == logits.shape()[0],
              ShapeError, "cross_entropy: logits " << logits.shape() << " and labels " << labels.shape());
  check_scalar(loss, "cross_entropy: loss");
  const std::int64_t N = logits.shape()[0], K = logits.shape()[1];
  // One block: the batch has few rows (one warp each), and one block sums them in a fixed order.
  const int block = static_cast<int>(std::min<std::int64_t>(1024, std::max<std::int64_t>(1, N) * 32));
  cross_entropy_kernel<<<1, block, 0, raw(s)>>>(dev_ptr(logits.data()), labels.data(), N, K,
                                                static_cast<float>(1.0 - smoothing), static_cast<float>(smoothing),
                                                loss.data());
  HRNET_CUDA_CHECK_LAUNCH(s);
}

template <GpuType T>
void cross_entropy_backward(const G<T>& logits, const Tensor<std::int64_t, CUDA>& labels, double smoothing,
                            const G<float>& dloss, G<T>& dlogits, Stream s) {
  HRNET_CHECK(logits.shape().rank() == 2 && labels.numel() == logits.shape()[0] && dlogits.shape() == logits.shape(),
              ShapeError,
              "cross_entropy_backward: logits " << logits.shape() << ", labels " << labels.shape() << ", gradient "
                                                << dlogits.shape());
  check_scalar(dloss, "cross_entropy_backward: dloss");
  const std::int64_t N = logits.shape()[0], K = logits.shape()[1];
  if (N == 0 || K == 0) return;
  const lm::CeTargets t = lm::ce_targets(smoothing, K);
  cross_entropy_backward_kernel<<<grid_for(N * 32, kBlock), kBlock, 0, raw(s)>>>(
      dev_ptr(logits.data()), labels.data(), dloss.data(), dev_ptr(dlogits.data()), N, K, t.on, t.off);
  HRNET_CUDA_CHECK_LAUNCH(s);
}

void weighted_mean_sum_forward(const std::vector<const G<float>*>& xs, const std::vector<double>& weights,
                               G<float>& y, Stream s) {
  HRNET_CHECK(xs.size() == weights.size(), ValueError,
              "weighted_mean_sum: " << xs.size() << " inputs and " << weights.size() << " weights");
  check_scalar(y, "weighted_mean_sum: y");
  if (xs.empty()) {
    cuda::fill_zero(y.data(), sizeof(float), s);
    return;
  }
  std::vector<unsigned> begin(xs.size() + 1, 0);
  for (std::size_t i = 0; i < xs.size(); ++i) {
    HRNET_CHECK(xs[i] != nullptr, ValueError, "weighted_mean_sum: input " << i << " is null");
    begin[i + 1] = begin[i] + reduce_grid((xs[i]->numel() + kUnit<float> - 1) / kUnit<float>);
  }
  Scratch part(begin.back() * sizeof(float) + sizeof(double) + 16, s);
  float* partials = part.as<float>();
  // the double accumulator after the partials, 8-byte aligned
  const std::uintptr_t end = reinterpret_cast<std::uintptr_t>(partials + begin.back());
  double* acc = reinterpret_cast<double*>((end + 7) & ~std::uintptr_t(7));
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const float* xp = xs[i]->data();
    const std::int64_t n = xs[i]->numel();
    const unsigned grid = begin[i + 1] - begin[i];
    if (aligned16(xp)) sum_kernel<true><<<grid, kBlock, 0, raw(s)>>>(xp, n, partials + begin[i], nullptr, 1.0);
    else sum_kernel<false><<<grid, kBlock, 0, raw(s)>>>(xp, n, partials + begin[i], nullptr, 1.0);
    HRNET_CUDA_CHECK_LAUNCH(s);
  }
  for (std::size_t i0 = 0; i0 < xs.size(); i0 += kTerms) {
    WmsTerms t;
    t.first = i0 == 0;
    t.count = static_cast<int>(std::min<std::size_t>(kTerms, xs.size() - i0));
    for (int k = 0; k < t.count; ++k) {
      t.begin[k] = begin[i0 + k];
      t.weight[k] = weights[i0 + k];
      t.numel[k] = double(xs[i0 + k]->numel());
    }
    t.begin[t.count] = begin[i0 + t.count];
    weighted_mean_sum_finish_kernel<<<1, kBlock, 0, raw(s)>>>(partials, t, acc, y.data());
    HRNET_CUDA_CHECK_LAUNCH(s);
  }
}

void weighted_mean_sum_backward(const G<float>& dy, const std::vector<double>& weights,
                                const std::vector<G<float>*>& dxs, Stream s) {
  HRNET_CHECK(dxs.size() == weights.size(), ValueError,
              "weighted_mean_sum_backward: " << dxs.size() << " gradients and " << weights.size() << " weights");
  check_scalar(dy, "weighted_mean_sum_backward: dy");
  for (std::size_t i = 0; i < dxs.size(); ++i) {
    if (!dxs[i] || dxs[i]->numel() == 0) continue;
    float* x = dxs[i]->data();
    const std::int64_t n = dxs[i]->numel();
    const unsigned grid = grid_for((n + kUnit<float> - 1) / kUnit<float>, kBlock);
    if (aligned16(x))
      add_scaled_scalar_kernel<true><<<grid, kBlock, 0, raw(s)>>>(x, n, dy.data(), weights[i], double(n));
    else
      add_scaled_scalar_kernel<false><<<grid, kBlock, 0, raw(s)>>>(x, n, dy.data(), weights[i], double(n));
    HRNET_CUDA_CHECK_LAUNCH(s);
  }
}

#define HRNET_INSTANTIATE(T)                                                                                   \
  template void sum<T>(const G<T>&, G<float>&, Stream);                                                      \
  template void masked_mse_forward<T>(const G<T>&, const G<T>&, const G<T>&, G<float>&, Stream);             \
  template void masked_mse_backward<T>(const G<T>&, const G<T>&, const G<T>&, const G<float>&, G<T>&, Stream); \
  template void cross_entropy_forward<T>(const G<T>&, const Tensor<std::int64_t, CUDA>&, double, G<float>&,   \
                                         Stream);                                                            \
  template void cross_entropy_backward<T>(const G<T>&, const Tensor<std::int64_t, CUDA>&, double,             \
                                          const G<float>&, G<T>&, Stream);
HRNET_INSTANTIATE(float)
HRNET_INSTANTIATE(half)
HRNET_INSTANTIATE(bfloat16)
#undef HRNET_INSTANTIATE

}  // namespace hrnet::gpu

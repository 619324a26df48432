// Bilinear resize (align_corners = false), global average pooling (forward, backward) and max
// pooling. NHWC: one thread per output channel vector of one pixel (16 bytes when C allows), with
// the per-pixel index math (source indices, weights, the NaN-propagating max) from
// hrnet/backend/elementwise_math.hpp, shared with the CPU tests.
#include <limits>

#include "elementwise_common.cuh"

namespace hrnet::gpu {
namespace detail {
namespace {

using ewm::FastDiv;

// Output pixel decomposition: chunk i -> (n, oh, ow, channel vector c).
struct PixelGeom {
  std::uint32_t chunks;
  FastDiv cv, wo, ho;
};
struct PixelIndex {
  std::uint32_t n, oh, ow, c;
};
__device__ __forceinline__ PixelIndex decompose(const PixelGeom& g, std::uint32_t i) {
  PixelIndex r;
  const std::uint32_t pix = g.cv.div(i);
  r.c = i - pix * g.cv.d;
  const std::uint32_t t = g.wo.div(pix);
  r.ow = pix - t * g.wo.d;
  r.n = g.ho.div(t);
  r.oh = t - r.n * g.ho.d;
  return r;
}

template <int V, class D>
__global__ void resize_bilinear_kernel(const D* __restrict__ x, D* __restrict__ y, PixelGeom g, std::uint32_t H,
                                       std::uint32_t W) {
  const std::uint32_t stride = gridDim.x * blockDim.x;
  for (std::uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < g.chunks; i += stride) {
    const PixelIndex p = decompose(g, i);
    const auto hs = ewm::linear_source(static_cast<std::int32_t>(H), static_cast<std::int32_t>(g.ho.d),
                                       static_cast<std::int32_t>(p.oh));
    const auto ws = ewm::linear_source(static_cast<std::int32_t>(W), static_cast<std::int32_t>(g.wo.d),
                                       static_cast<std::int32_t>(p.ow));
    const std::uint32_t cv = g.cv.d, base = p.n * H;
    auto at = [&](std::int32_t h, std::int32_t w) {
      return x + (static_cast<std::size_t>((base + h) * W + w) * cv + p.c) * V;
    };
    float p00[V], p01[V], p10[V], p11[V], out[V];
    load_f32<V>(at(hs.i0, ws.i0), p00);
    load_f32<V>(at(hs.i0, ws.i1), p01);
    load_f32<V>(at(hs.i1, ws.i0), p10);
    load_f32<V>(at(hs.i1, ws.i1), p11);
#pragma unroll
    for (int k = 0; k < V; ++k) out[k] = ewm::bilinear_blend(hs.l0, hs.l1, ws.l0, ws.l1, p00[k], p01[k], p10[k], p11[k]);
    store_f32<V>(y + static_cast<std::size_t>(i) * V, out);
  }
}

template <int V, class D>
__global__ void max_pool_kernel(const D* __restrict__ x, D* __restrict__ y, PixelGeom g, std::int32_t H,
                                std::int32_t W, int k, int s, int pad) {
  const std::uint32_t stride = gridDim.x * blockDim.x;
  for (std::uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < g.chunks; i += stride) {
    const PixelIndex p = decompose(g, i);
    float acc[V];
#pragma unroll
    for (int e = 0; e < V; ++e) acc[e] = -INFINITY;
    for (int kh = 0; kh < k; ++kh) {
      const std::int32_t ih = static_cast<std::int32_t>(p.oh) * s - pad + kh;
      if (ih < 0 || ih >= H) continue;
      for (int kw = 0; kw < k; ++kw) {
        const std::int32_t iw = static_cast<std::int32_t>(p.ow) * s - pad + kw;
        if (iw < 0 || iw >= W) continue;
        float v[V];
        load_f32<V>(x + (static_cast<std::size_t>((p.n * H + ih) * W + iw) * g.cv.d + p.c) * V, v);
#pragma unroll
        for (int e = 0; e < V; ++e) acc[e] = ewm::pool_max(acc[e], v[e]);
      }
    }
    store_f32<V>(y + static_cast<std::size_t>(i) * V, acc);
  }
}

// Global average pool: block (32, 8) per (image, 32-channel tile); thread (tx, ty) sums pixels
// ty, ty + 8, ... of channel tile + tx, then the 8 partial sums are added in ty order. The order
// depends only on the shape: deterministic.
constexpr int kGapLanes = 32, kGapRows = 8;

template <class D>
__global__ void gap_forward_kernel(const D* __restrict__ x, D* __restrict__ y, std::int64_t N, std::int64_t C,
                                   std::int64_t HW) {
  __shared__ float part[kGapRows][kGapLanes];
  const std::int64_t tiles = (C + kGapLanes - 1) / kGapLanes;
  for (std::int64_t b = blockIdx.x; b < N * tiles; b += gridDim.x) {
    const std::int64_t n = b / tiles, c = (b - n * tiles) * kGapLanes + threadIdx.x;
    float acc = 0.f;
    if (c < C) {
      const D* src = x + n * HW * C + c;
      for (std::int64_t p = threadIdx.y; p < HW; p += kGapRows) acc += to_f32(src[p * C]);
    }
    part[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
      float sum = part[0][threadIdx.x];
#pragma unroll
      for (int r = 1; r < kGapRows; ++r) sum += part[r][threadIdx.x];
      y[n * C + c] = from_f32<D>(ewm::div_rn(sum, static_cast<float>(HW)));
    }
    __syncthreads();  // part is rewritten by the next tile
  }
}

// dx[n, p, c] += dy[n, c] / HW (divide, then add: the CPU backend's rounding).
template <int V, class D>
__global__ void gap_backward_kernel(const D* __restrict__ dy, D* __restrict__ dx, std::uint32_t chunks, FastDiv cv,
                                    FastDiv hw, float count) {
  const std::uint32_t stride = gridDim.x * blockDim.x;
  for (std::uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < chunks; i += stride) {
    const std::uint32_t pix = cv.div(i), c = i - pix * cv.d, n = hw.div(pix);
    float a[V], g[V];
    load_f32<V>(dx + static_cast<std::size_t>(i) * V, a);
    load_f32<V>(dy + (static_cast<std::size_t>(n) * cv.d + c) * V, g);
#pragma unroll
    for (int e = 0; e < V; ++e) a[e] = ewm::add_rn(a[e], ewm::div_rn(g[e], count));
    store_f32<V>(dx + static_cast<std::size_t>(i) * V, a);
  }
}

template <GpuType T>
void check_4d(const G<T>& t, const char* op, const char* what) {
  HRNET_CHECK(t.rank() == 4, ShapeError, op << ": " << what << " must be 4-D, got " << t.shape());
}

PixelGeom pixel_geom(std::int64_t images, const Shape& ys, int V) {
  PixelGeom g;
  g.chunks = static_cast<std::uint32_t>(images * ys.c() * ys.h() * ys.w() / V);
  g.cv = FastDiv(static_cast<std::uint32_t>(ys.c() / V));
  g.wo = FastDiv(static_cast<std::uint32_t>(ys.w()));
  g.ho = FastDiv(static_cast<std::uint32_t>(ys.h()));
  return g;
}

}  // namespace
}  // namespace detail

using namespace detail;

template <GpuType T>
void resize_bilinear_forward(const G<T>& x, G<T>& y, Stream s) {
  using D = dev_t<T>;
  constexpr int kV = kVec<D>;
  check_4d(x, "resize_bilinear_forward", "input");
  check_4d(y, "resize_bilinear_forward", "output");
  const Shape &xs = x.shape(), &ys = y.shape();
  HRNET_CHECK(xs.n() == ys.n() && xs.c() == ys.c() && (y.numel() == 0 || xs.h() * xs.w() > 0), ShapeError,
              "resize_bilinear_forward: input " << xs << " and output " << ys);
  if (y.numel() == 0) return;
  const std::int64_t C = xs.c(), in_image = C * xs.h() * xs.w(), out_image = C * ys.h() * ys.w();
  const bool vec = C % kV == 0 && aligned16(x.data()) && aligned16(y.data());
  const int V = vec ? kV : 1;
  for_batch_chunks(ys.n(), std::max(in_image, out_image), "resize_bilinear_forward", [&](std::int64_t n0,
                                                                                        std::int64_t n1) {
    const PixelGeom g = pixel_geom(n1 - n0, ys, V);
    const D* xp = dev_ptr(x.data()) + n0 * in_image;
    D* yp = dev_ptr(y.data()) + n0 * out_image;
    const auto H = static_cast<std::uint32_t>(xs.h()), W = static_cast<std::uint32_t>(xs.w());
    if (vec) resize_bilinear_kernel<kV><<<grid_for(g.chunks, kEwBlock), kEwBlock, 0, raw(s)>>>(xp, yp, g, H, W);
    else resize_bilinear_kernel<1><<<grid_for(g.chunks, kEwBlock), kEwBlock, 0, raw(s)>>>(xp, yp, g, H, W);
    HRNET_CUDA_CHECK_LAUNCH(s);
  });
}

template <GpuType T>
void global_avg_pool_forward(const G<T>& x, G<T>& y, Stream s) {
  check_4d(x, "global_avg_pool_forward", "input");
  const Shape& xs = x.shape();
  HRNET_CHECK(y.numel() == xs.n() * xs.c(), ShapeError,
              "global_avg_pool_forward: input " << xs << " needs an (N, C) output, got " << y.shape());
  const std::int64_t tiles = (xs.c() + kGapLanes - 1) / kGapLanes, blocks = xs.n() * tiles;
  if (blocks == 0) return;
  const auto grid = static_cast<unsigned>(std::min<std::int64_t>(blocks, static_cast<std::int64_t>(sm_count()) * 16));
  gap_forward_kernel<<<grid, dim3(kGapLanes, kGapRows), 0, raw(s)>>>(dev_ptr(x.data()), dev_ptr(y.data()), xs.n(),
                                                                     xs.c(), xs.h() * xs.w());
  HRNET_CUDA_CHECK_LAUNCH(s);
}

template <GpuType T>
void global_avg_pool_backward(const G<T>& dy, G<T>& dx, Stream s) {
  using D = dev_t<T>;
  constexpr int kV = kVec<D>;
  check_4d(dx, "global_avg_pool_backward", "input gradient");
  const Shape& xs = dx.shape();
  HRNET_CHECK(dy.numel() == xs.n() * xs.c(), ShapeError,
              "global_avg_pool_backward: gradient " << xs << " needs an (N, C) output gradient, got " << dy.shape());
  if (dx.numel() == 0) return;
  const std::int64_t C = xs.c(), HW = xs.h() * xs.w();
  const bool vec = C % kV == 0 && aligned16(dx.data()) && aligned16(dy.data());
  const int V = vec ? kV : 1;
  for_batch_chunks(xs.n(), C * HW, "global_avg_pool_backward", [&](std::int64_t n0, std::int64_t n1) {
    const auto chunks = static_cast<std::uint32_t>((n1 - n0) * C * HW / V);
    const FastDiv cv(static_cast<std::uint32_t>(C / V)), hw(static_cast<std::uint32_t>(HW));
    const D* gp = dev_ptr(dy.data()) + n0 * C;
    D* xp = dev_ptr(dx.data()) + n0 * C * HW;
    const auto count = static_cast<float>(HW);
    if (vec) gap_backward_kernel<kV><<<grid_for(chunks, kEwBlock), kEwBlock, 0, raw(s)>>>(gp, xp, chunks, cv, hw, count);
    else gap_backward_kernel<1><<<grid_for(chunks, kEwBlock), kEwBlock, 0, raw(s)>>>(gp, xp, chunks, cv, hw, count);
    HRNET_CUDA_CHECK_LAUNCH(s);
  });
}

template <GpuType T>
void max_pool_forward(const G<T>& x, G<T>& y, int kernel, int stride, int pad, Stream s) {
  using D = dev_t<T>;
  constexpr int kV = kVec<D>;
  check_4d(x, "max_pool_forward", "input");
  check_4d(y, "max_pool_forward", "output");
  const Shape &xs = x.shape(), &ys = y.shape();
  HRNET_CHECK(xs.n() == ys.n() && xs.c() == ys.c() && kernel >= 1 && stride >= 1 && pad >= 0, ShapeError,
              "max_pool_forward: input " << xs << ", output " << ys << ", kernel " << kernel << ", stride " << stride
                                         << ", padding " << pad);
  if (y.numel() == 0) return;
  const std::int64_t C = xs.c(), in_image = C * xs.h() * xs.w(), out_image = C * ys.h() * ys.w();
  const bool vec = C % kV == 0 && aligned16(x.data()) && aligned16(y.data());
  const int V = vec ? kV : 1;
  for_batch_chunks(ys.n(), std::max(in_image, out_image), "max_pool_forward", [&](std::int64_t n0, std::int64_t n1) {
    const PixelGeom g = pixel_geom(n1 - n0, ys, V);
    const D* xp = dev_ptr(x.data()) + n0 * in_image;
    D* yp = dev_ptr(y.data()) + n0 * out_image;
    const auto H = static_cast<std::int32_t>(xs.h()), W = static_cast<std::int32_t>(xs.w());
    if (vec)
      max_pool_kernel<kV><<<grid_for(g.chunks, kEwBlock), kEwBlock, 0, raw(s)>>>(xp, yp, g, H, W, kernel, stride, pad);
    else
      max_pool_kernel<1><<<grid_for(g.chunks, kEwBlock), kEwBlock, 0, raw(s)>>>(xp, yp, g, H, W, kernel, stride, pad);
    HRNET_CUDA_CHECK_LAUNCH(s);
  });
}

#define HRNET_INSTANTIATE(T)                                                            \
  template void resize_bilinear_forward<T>(const G<T>&, G<T>&, Stream);                 \
  template void global_avg_pool_forward<T>(const G<T>&, G<T>&, Stream);                 \
  template void global_avg_pool_backward<T>(const G<T>&, G<T>&, Stream);                \
  template void max_pool_forward<T>(const G<T>&, G<T>&, int, int, int, Stream);
HRNET_INSTANTIATE(float)
HRNET_INSTANTIATE(half)
HRNET_INSTANTIATE(bfloat16)
#undef HRNET_INSTANTIATE

}  // namespace hrnet::gpu

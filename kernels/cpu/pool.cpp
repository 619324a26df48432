// Bilinear resize (forward only), global average pooling and max pooling (forward only).
#include <algorithm>
#include <limits>
#include <vector>

#include "common.hpp"

namespace hrnet::cpu {
namespace {
// PyTorch's area_pixel_compute_source_index for align_corners = false, linear mode.
template <class T>
void source_index(std::int64_t in, std::int64_t out, std::int64_t dst, std::int64_t& i0, std::int64_t& i1, T& l0, T& l1) {
  const T scale = static_cast<T>(in) / static_cast<T>(out);
  T src = scale * (static_cast<T>(dst) + T(0.5)) - T(0.5);
  if (src < T(0)) src = T(0);
  i0 = std::min<std::int64_t>(static_cast<std::int64_t>(src), in - 1);
  i1 = i0 + (i0 < in - 1 ? 1 : 0);
  l1 = std::clamp(src - static_cast<T>(i0), T(0), T(1));
  l0 = T(1) - l1;
}
}  // namespace

template <ComputeType T>
void resize_bilinear_forward(const T4<T>& x, T4<T>& y) {
  const auto &xs = x.shape(), &ys = y.shape();
  const std::int64_t C = xs.c();
  // The column sources and weights are the same for every output row: computed once.
  std::vector<std::int64_t> cw0(static_cast<std::size_t>(ys.w())), cw1(static_cast<std::size_t>(ys.w()));
  std::vector<T> cl0(static_cast<std::size_t>(ys.w())), cl1(static_cast<std::size_t>(ys.w()));
  for (std::int64_t ow = 0; ow < ys.w(); ++ow) {
    const auto o = static_cast<std::size_t>(ow);
    source_index(xs.w(), ys.w(), ow, cw0[o], cw1[o], cl0[o], cl1[o]);
  }
#pragma omp parallel for collapse(2) schedule(static)
  for (std::int64_t n = 0; n < ys.n(); ++n)
    for (std::int64_t oh = 0; oh < ys.h(); ++oh) {
      std::int64_t h0, h1;
      T hl0, hl1;
      source_index(xs.h(), ys.h(), oh, h0, h1, hl0, hl1);
      for (std::int64_t ow = 0; ow < ys.w(); ++ow) {
        const auto o = static_cast<std::size_t>(ow);
        const std::int64_t w0 = cw0[o], w1 = cw1[o];
        const T wl0 = cl0[o], wl1 = cl1[o];
        const T* p00 = x.data() + ((n * xs.h() + h0) * xs.w() + w0) * C;
        const T* p01 = x.data() + ((n * xs.h() + h0) * xs.w() + w1) * C;
        const T* p10 = x.data() + ((n * xs.h() + h1) * xs.w() + w0) * C;
        const T* p11 = x.data() + ((n * xs.h() + h1) * xs.w() + w1) * C;
        T* dst = y.data() + ((n * ys.h() + oh) * ys.w() + ow) * C;
        for (std::int64_t c = 0; c < C; ++c)
          dst[c] = hl0 * (wl0 * p00[c] + wl1 * p01[c]) + hl1 * (wl0 * p10[c] + wl1 * p11[c]);
      }
    }
}

template <ComputeType T>
void global_avg_pool_forward(const T4<T>& x, T4<T>& y) {
  const auto& xs = x.shape();
  const std::int64_t C = xs.c(), HW = xs.h() * xs.w();
#pragma omp parallel for schedule(static)
  for (std::int64_t n = 0; n < xs.n(); ++n) {
    std::vector<acc_t<T>> acc(static_cast<std::size_t>(C), acc_t<T>(0));
    const T* src = x.data() + n * HW * C;
    for (std::int64_t p = 0; p < HW; ++p)
      for (std::int64_t c = 0; c < C; ++c) acc[c] += src[p * C + c];
    for (std::int64_t c = 0; c < C; ++c) y.data()[n * C + c] = static_cast<T>(acc[c] / acc_t<T>(HW));
  }
}

template <ComputeType T>
void global_avg_pool_backward(const T4<T>& dy, T4<T>& dx) {
  const auto& xs = dx.shape();
  const std::int64_t C = xs.c(), HW = xs.h() * xs.w();
#pragma omp parallel for schedule(static)
  for (std::int64_t n = 0; n < xs.n(); ++n) {
    T* dst = dx.data() + n * HW * C;
    const T* g = dy.data() + n * C;
    for (std::int64_t p = 0; p < HW; ++p)
      for (std::int64_t c = 0; c < C; ++c) dst[p * C + c] += g[c] / static_cast<T>(HW);
  }
}

template <ComputeType T>
void max_pool_forward(const T4<T>& x, T4<T>& y, int k, int s, int pad) {
  const auto &xs = x.shape(), &ys = y.shape();
  const std::int64_t C = xs.c();
#pragma omp parallel for collapse(2) schedule(static)
  for (std::int64_t n = 0; n < ys.n(); ++n)
    for (std::int64_t oh = 0; oh < ys.h(); ++oh)
      for (std::int64_t ow = 0; ow < ys.w(); ++ow) {
        T* dst = y.data() + ((n * ys.h() + oh) * ys.w() + ow) * C;
        std::fill(dst, dst + C, -std::numeric_limits<T>::infinity());
        for (int kh = 0; kh < k; ++kh) {
          const std::int64_t ih = oh * s - pad + kh;
          if (ih < 0 || ih >= xs.h()) continue;
          for (int kw = 0; kw < k; ++kw) {
            const std::int64_t iw = ow * s - pad + kw;
            if (iw < 0 || iw >= xs.w()) continue;
            const T* src = x.data() + ((n * xs.h() + ih) * xs.w() + iw) * C;
            // NaN wins, as in PyTorch's max pooling
            for (std::int64_t c = 0; c < C; ++c)
              if (src[c] > dst[c] || src[c] != src[c]) dst[c] = src[c];
          }
        }
      }
}

#define HRNET_INSTANTIATE(T)                                              \
  template void resize_bilinear_forward<T>(const T4<T>&, T4<T>&);       \
  template void global_avg_pool_forward<T>(const T4<T>&, T4<T>&);       \
  template void global_avg_pool_backward<T>(const T4<T>&, T4<T>&);      \
  template void max_pool_forward<T>(const T4<T>&, T4<T>&, int, int, int);
HRNET_INSTANTIATE(float)
HRNET_INSTANTIATE(double)
#undef HRNET_INSTANTIATE

}  // namespace hrnet::cpu

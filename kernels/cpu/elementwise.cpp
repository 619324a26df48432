// Element-wise ops, nearest upsampling, the HRNet fusion node and channel concatenation.
// All loops write each output element from exactly one iteration: parallel and deterministic.
#include <algorithm>

#include "common.hpp"

namespace hrnet::cpu {
namespace {
// PyTorch's semantics: NaN propagates through ReLU forward (NaN stays NaN) and backward
// (threshold_backward passes the gradient unless y <= 0), so a diverging run shows up as NaN.
template <class T> inline T relu_value(T x) { return x > T(0) || x != x ? x : T(0); }
template <class T> inline T relu_grad(T y, T g) { return y <= T(0) ? T(0) : g; }
}  // namespace

template <ComputeType T>
void relu_forward(const T4<T>& x, T4<T>& y) {
  const T* xp = x.data();
  T* yp = y.data();
  const std::int64_t n = x.numel();
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < n; ++i) yp[i] = relu_value(xp[i]);
}

template <ComputeType T>
void relu_backward(const T4<T>& y, const T4<T>& dy, T4<T>& dx) {
  const T *yp = y.data(), *gp = dy.data();
  T* dp = dx.data();
  const std::int64_t n = y.numel();
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < n; ++i) dp[i] += relu_grad(yp[i], gp[i]);
}

template <ComputeType T>
void add_forward(const std::vector<const T4<T>*>& xs, T4<T>& y) {
  T* yp = y.data();
  const std::int64_t n = y.numel();
  std::copy(xs[0]->data(), xs[0]->data() + n, yp);
  for (std::size_t k = 1; k < xs.size(); ++k) {
    const T* xp = xs[k]->data();
#pragma omp parallel for simd schedule(static)
    for (std::int64_t i = 0; i < n; ++i) yp[i] += xp[i];
  }
}

template <ComputeType T>
void accumulate(const T4<T>& dy, T4<T>& dx) {
  const T* gp = dy.data();
  T* dp = dx.data();
  const std::int64_t n = dy.numel();
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < n; ++i) dp[i] += gp[i];
}

template <ComputeType T>
void upsample_nearest_forward(const T4<T>& x, T4<T>& y, int f) {
  const auto& ys = y.shape();
  const std::int64_t C = ys.c(), W = x.shape().w(), H = x.shape().h();
#pragma omp parallel for collapse(2) schedule(static)
  for (std::int64_t n = 0; n < ys.n(); ++n)
    for (std::int64_t oh = 0; oh < ys.h(); ++oh) {
      const T* src_row = x.data() + ((n * H + oh / f) * W) * C;
      T* dst = y.data() + ((n * ys.h() + oh) * ys.w()) * C;
      for (std::int64_t ow = 0; ow < ys.w(); ++ow, dst += C) std::copy(src_row + (ow / f) * C, src_row + (ow / f + 1) * C, dst);
    }
}

template <ComputeType T>
void upsample_nearest_backward(const T4<T>& dy, T4<T>& dx, int f) {
  const auto& xs = dx.shape();
  const std::int64_t C = xs.c(), Wo = dy.shape().w(), Ho = dy.shape().h();
#pragma omp parallel for collapse(2) schedule(static)
  for (std::int64_t n = 0; n < xs.n(); ++n)
    for (std::int64_t h = 0; h < xs.h(); ++h)
      for (std::int64_t w = 0; w < xs.w(); ++w) {
        T* dst = dx.data() + ((n * xs.h() + h) * xs.w() + w) * C;
        for (int i = 0; i < f; ++i)
          for (int j = 0; j < f; ++j) {
            const T* src = dy.data() + ((n * Ho + h * f + i) * Wo + w * f + j) * C;
            for (std::int64_t c = 0; c < C; ++c) dst[c] += src[c];
          }
      }
}

template <ComputeType T>
void fusion_sum_relu_forward(const std::vector<const T4<T>*>& xs, const std::vector<int>& factors, T4<T>& y) {
  const auto& ys = y.shape();
  const std::int64_t C = ys.c();
#pragma omp parallel for collapse(2) schedule(static)
  for (std::int64_t n = 0; n < ys.n(); ++n)
    for (std::int64_t oh = 0; oh < ys.h(); ++oh) {
      T* row = y.data() + ((n * ys.h() + oh) * ys.w()) * C;
      for (std::size_t j = 0; j < xs.size(); ++j) {
        const int f = factors[j];
        const auto& s = xs[j]->shape();
        const T* src_row = xs[j]->data() + ((n * s.h() + oh / f) * s.w()) * C;
        for (std::int64_t ow = 0; ow < ys.w(); ++ow) {
          const T* src = src_row + (ow / f) * C;
          T* dst = row + ow * C;
          if (j == 0) std::copy(src, src + C, dst);
          else
            for (std::int64_t c = 0; c < C; ++c) dst[c] += src[c];
        }
      }
      for (std::int64_t i = 0; i < ys.w() * C; ++i) row[i] = relu_value(row[i]);
    }
}

template <ComputeType T>
void fusion_sum_relu_backward(const T4<T>& y, const T4<T>& dy, const std::vector<T4<T>*>& dxs,
                              const std::vector<int>& factors) {
  // g = dy * (y > 0), then each input receives the nearest-upsample adjoint of g.
  auto g = T4<T>::empty(dy.shape());
  {
    const T *yp = y.data(), *gp = dy.data();
    T* out = g.data();
    const std::int64_t n = y.numel();
#pragma omp parallel for simd schedule(static)
    for (std::int64_t i = 0; i < n; ++i) out[i] = relu_grad(yp[i], gp[i]);
  }
  for (std::size_t j = 0; j < dxs.size(); ++j) {
    if (!dxs[j]) continue;
    if (factors[j] == 1) accumulate(g, *dxs[j]);
    else upsample_nearest_backward(g, *dxs[j], factors[j]);
  }
}

template <ComputeType T>
void concat_forward(const std::vector<const T4<T>*>& xs, T4<T>& y) {
  if (y.numel() == 0) return;
  const std::int64_t C = y.shape().c(), pixels = y.numel() / C;
#pragma omp parallel for schedule(static)
  for (std::int64_t p = 0; p < pixels; ++p) {
    T* dst = y.data() + p * C;
    for (const auto* x : xs) {
      const std::int64_t c = x->shape().c();
      std::copy(x->data() + p * c, x->data() + (p + 1) * c, dst);
      dst += c;
    }
  }
}

template <ComputeType T>
void concat_backward(const T4<T>& dy, const std::vector<T4<T>*>& dxs) {
  if (dy.numel() == 0) return;
  const std::int64_t C = dy.shape().c(), pixels = dy.numel() / C;
#pragma omp parallel for schedule(static)
  for (std::int64_t p = 0; p < pixels; ++p) {
    const T* src = dy.data() + p * C;
    for (auto* dx : dxs) {
      const std::int64_t c = dx ? dx->shape().c() : 0;
      if (dx) {
        T* dst = dx->data() + p * c;
        for (std::int64_t k = 0; k < c; ++k) dst[k] += src[k];
      }
      src += c;
    }
  }
}

template <ComputeType T>
void slice_channels_forward(const T4<T>& x, std::int64_t begin, T4<T>& y) {
  const std::int64_t C = x.shape().c(), c = y.shape().c(), pixels = y.numel() / std::max<std::int64_t>(c, 1);
  if (y.numel() == 0) return;
#pragma omp parallel for schedule(static)
  for (std::int64_t p = 0; p < pixels; ++p) std::copy_n(x.data() + p * C + begin, c, y.data() + p * c);
}

template <ComputeType T>
void slice_channels_backward(const T4<T>& dy, std::int64_t begin, T4<T>& dx) {
  const std::int64_t C = dx.shape().c(), c = dy.shape().c(), pixels = dy.numel() / std::max<std::int64_t>(c, 1);
  if (dy.numel() == 0) return;
#pragma omp parallel for schedule(static)
  for (std::int64_t p = 0; p < pixels; ++p) {
    T* dst = dx.data() + p * C + begin;
    const T* src = dy.data() + p * c;
    for (std::int64_t k = 0; k < c; ++k) dst[k] += src[k];
  }
}

template <ComputeType T>
void add_relu_forward(const std::vector<const T4<T>*>& xs, T4<T>& y) {
  add_forward(xs, y);
  relu_forward(y, y);  // element by element: in place is safe
}

template <ComputeType T>
void fill(T4<T>& x, float value) {
  const T v = convert<T>(value);
  std::fill(x.data(), x.data() + x.numel(), v);
}

template <StorageType To, StorageType From>
void cast(const T4<From>& x, T4<To>& y) {
  HRNET_CHECK(x.shape() == y.shape(), ShapeError, "cast: shapes " << x.shape() << " and " << y.shape() << " differ");
  const From* src = x.data();
  To* dst = y.data();
  for (std::int64_t i = 0; i < x.numel(); ++i) dst[i] = convert<To>(src[i]);
}

#define HRNET_INSTANTIATE(T)                                                                                 \
  template void relu_forward<T>(const T4<T>&, T4<T>&);                                                     \
  template void relu_backward<T>(const T4<T>&, const T4<T>&, T4<T>&);                                      \
  template void add_forward<T>(const std::vector<const T4<T>*>&, T4<T>&);                                  \
  template void accumulate<T>(const T4<T>&, T4<T>&);                                                       \
  template void add_relu_forward<T>(const std::vector<const T4<T>*>&, T4<T>&);                             \
  template void fill<T>(T4<T>&, float);                                                                    \
  template void upsample_nearest_forward<T>(const T4<T>&, T4<T>&, int);                                    \
  template void upsample_nearest_backward<T>(const T4<T>&, T4<T>&, int);                                   \
  template void fusion_sum_relu_forward<T>(const std::vector<const T4<T>*>&, const std::vector<int>&, T4<T>&); \
  template void fusion_sum_relu_backward<T>(const T4<T>&, const T4<T>&, const std::vector<T4<T>*>&,        \
                                            const std::vector<int>&);                                      \
  template void concat_forward<T>(const std::vector<const T4<T>*>&, T4<T>&);                               \
  template void concat_backward<T>(const T4<T>&, const std::vector<T4<T>*>&);                              \
  template void slice_channels_forward<T>(const T4<T>&, std::int64_t, T4<T>&);                             \
  template void slice_channels_backward<T>(const T4<T>&, std::int64_t, T4<T>&);
HRNET_INSTANTIATE(float)
HRNET_INSTANTIATE(double)
#undef HRNET_INSTANTIATE

// Casts between every pair of storage types (the CPU ops compute in float or double; files and the
// GPU also hold half and bfloat16).
#define HRNET_INSTANTIATE_CAST(To)                                           \
  template void cast<To, float>(const T4<float>&, T4<To>&);                 \
  template void cast<To, double>(const T4<double>&, T4<To>&);               \
  template void cast<To, half>(const T4<half>&, T4<To>&);                   \
  template void cast<To, bfloat16>(const T4<bfloat16>&, T4<To>&);
HRNET_INSTANTIATE_CAST(float)
HRNET_INSTANTIATE_CAST(double)
HRNET_INSTANTIATE_CAST(half)
HRNET_INSTANTIATE_CAST(bfloat16)
#undef HRNET_INSTANTIATE_CAST

}  // namespace hrnet::cpu

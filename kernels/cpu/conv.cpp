// Convolution and transposed convolution on the CPU: im2col / col2im around an Eigen GEMM.
//
// With NHWC activations and OHWI filters, a convolution is one matrix product:
//   Y[n*Ho*Wo, Co] = Col[n*Ho*Wo, K*K*Ci] * W[Co, K*K*Ci]^T
// where Col gathers each output pixel's receptive field. A transposed convolution is the adjoint:
// its forward is conv's backward-data and vice versa, so both share the same two helpers.
// col2im is written as a gather (each input pixel sums the columns that touch it, in a fixed
// order), so it is parallel without atomics and deterministic.
#include <algorithm>
#include <vector>

#include "common.hpp"

namespace hrnet::cpu {
namespace {
using detail::CMapMat;
using detail::MapMat;

struct Geometry {          // a convolution relating an "image" grid to an "output" grid
  std::int64_t H, W, C;    // image: height, width, channels
  std::int64_t Ho, Wo;     // output grid
  int K, s, p;
  std::int64_t col_width() const { return K * K * C; }
};

// col[(oh*Wo + ow), (kh*K + kw)*C + c] = img[oh*s - p + kh, ow*s - p + kw, c] (zero outside)
template <class T>
void im2col(const T* img, const Geometry& g, T* col) {
#pragma omp parallel for schedule(static)
  for (std::int64_t oh = 0; oh < g.Ho; ++oh) {
    for (std::int64_t ow = 0; ow < g.Wo; ++ow) {
      T* dst = col + (oh * g.Wo + ow) * g.col_width();
      for (int kh = 0; kh < g.K; ++kh) {
        const std::int64_t ih = oh * g.s - g.p + kh;
        for (int kw = 0; kw < g.K; ++kw, dst += g.C) {
          const std::int64_t iw = ow * g.s - g.p + kw;
          if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) {
            std::fill(dst, dst + g.C, T(0));
          } else {
            const T* src = img + (ih * g.W + iw) * g.C;
            std::copy(src, src + g.C, dst);
          }
        }
      }
    }
  }
}

// img[ih, iw, c] += sum over (kh, kw) with ih = oh*s - p + kh, iw = ow*s - p + kw of col[...]
template <class T>
void col2im_add(const T* col, const Geometry& g, T* img) {
#pragma omp parallel for schedule(static)
  for (std::int64_t ih = 0; ih < g.H; ++ih) {
    for (std::int64_t iw = 0; iw < g.W; ++iw) {
      T* dst = img + (ih * g.W + iw) * g.C;
      for (int kh = 0; kh < g.K; ++kh) {
        const std::int64_t th = ih + g.p - kh;  // = oh * s
        if (th < 0 || th % g.s) continue;
        const std::int64_t oh = th / g.s;
        if (oh >= g.Ho) continue;
        for (int kw = 0; kw < g.K; ++kw) {
          const std::int64_t tw = iw + g.p - kw;
          if (tw < 0 || tw % g.s) continue;
          const std::int64_t ow = tw / g.s;
          if (ow >= g.Wo) continue;
          const T* src = col + (oh * g.Wo + ow) * g.col_width() + (kh * g.K + kw) * g.C;
          for (std::int64_t c = 0; c < g.C; ++c) dst[c] += src[c];
        }
      }
    }
  }
}

bool is_pointwise(const Geometry& g) { return g.K == 1 && g.s == 1 && g.p == 0; }

// Images per GEMM: bounds the column buffer to ~32M elements while keeping GEMMs large.
std::int64_t images_per_chunk(const Geometry& g, std::int64_t N) {
  const std::int64_t per_image = std::max<std::int64_t>(1, g.Ho * g.Wo * g.col_width());
  return std::clamp<std::int64_t>((std::int64_t{1} << 25) / per_image, 1, N);
}

// Calls fn(n0, nb, col) for consecutive chunks of images, where col is the [nb*Ho*Wo, K*K*C]
// column matrix of images n0..n0+nb-1: the images themselves for a pointwise convolution (one
// chunk), an im2col buffer otherwise.
template <class T, class F>
void for_each_column_chunk(const T* img, std::int64_t N, const Geometry& g, F&& fn) {
  const std::int64_t rows_per_image = g.Ho * g.Wo, kkc = g.col_width();
  if (is_pointwise(g)) return fn(std::int64_t{0}, N, img);
  const std::int64_t chunk = images_per_chunk(g, N), img_stride = g.H * g.W * g.C;
  std::vector<T> col(static_cast<std::size_t>(chunk * rows_per_image * kkc));
  for (std::int64_t n0 = 0; n0 < N; n0 += chunk) {
    const std::int64_t nb = std::min(chunk, N - n0);
    for (std::int64_t i = 0; i < nb; ++i) im2col(img + (n0 + i) * img_stride, g, col.data() + i * rows_per_image * kkc);
    fn(n0, nb, static_cast<const T*>(col.data()));
  }
}

// out[rows, Co] (=|+=) Col(img)[rows, KKC] * Wm[Co, KKC]^T, chunked over images.
template <class T>
void gather_gemm(const T* img, std::int64_t N, const Geometry& g, const T* wm, std::int64_t cols_out, T* out,
                 bool accumulate) {
  if (N == 0 || g.Ho * g.Wo == 0 || g.col_width() == 0) return;
  const std::int64_t rows_per_image = g.Ho * g.Wo, kkc = g.col_width();
  CMapMat<T> Wm(wm, cols_out, kkc);
  for_each_column_chunk(img, N, g, [&](std::int64_t n0, std::int64_t nb, const T* col) {
    CMapMat<T> X(col, nb * rows_per_image, kkc);
    MapMat<T> Y(out + n0 * rows_per_image * cols_out, nb * rows_per_image, cols_out);
    if (accumulate) Y.noalias() += X * Wm.transpose();
    else Y.noalias() = X * Wm.transpose();
  });
}

// img += col2im(Src[rows, Co] * Wm[Co, KKC]), chunked over images.
template <class T>
void gemm_scatter(const T* src, std::int64_t N, const Geometry& g, const T* wm, std::int64_t cols_src, T* img) {
  if (N == 0 || g.Ho * g.Wo == 0 || g.col_width() == 0) return;
  const std::int64_t rows_per_image = g.Ho * g.Wo, kkc = g.col_width();
  CMapMat<T> Wm(wm, cols_src, kkc);
  if (is_pointwise(g)) {
    CMapMat<T> S(src, N * rows_per_image, cols_src);
    MapMat<T> X(img, N * rows_per_image, kkc);
    X.noalias() += S * Wm;
    return;
  }
  const std::int64_t chunk = images_per_chunk(g, N);
  std::vector<T> col(static_cast<std::size_t>(chunk * rows_per_image * kkc));
  const std::int64_t img_stride = g.H * g.W * g.C;
  for (std::int64_t n0 = 0; n0 < N; n0 += chunk) {
    const std::int64_t nb = std::min(chunk, N - n0);
    CMapMat<T> S(src + n0 * rows_per_image * cols_src, nb * rows_per_image, cols_src);
    MapMat<T> Col(col.data(), nb * rows_per_image, kkc);
    Col.noalias() = S * Wm;
    for (std::int64_t i = 0; i < nb; ++i) col2im_add(col.data() + i * rows_per_image * kkc, g, img + (n0 + i) * img_stride);
  }
}

// dWm[Co, KKC] += Src[rows, Co]^T * Col(img)[rows, KKC], images in order.
template <class T>
void weight_grad(const T* img, std::int64_t N, const Geometry& g, const T* src, std::int64_t cols_src, T* dwm) {
  if (N == 0 || g.Ho * g.Wo == 0 || g.col_width() == 0) return;
  const std::int64_t rows_per_image = g.Ho * g.Wo, kkc = g.col_width();
  MapMat<T> dW(dwm, cols_src, kkc);
  for_each_column_chunk(img, N, g, [&](std::int64_t n0, std::int64_t nb, const T* col) {
    CMapMat<T> X(col, nb * rows_per_image, kkc);
    CMapMat<T> S(src + n0 * rows_per_image * cols_src, nb * rows_per_image, cols_src);
    dW.noalias() += S.transpose() * X;
  });
}

template <class T>
void add_bias(const T* b, std::int64_t rows, std::int64_t C, T* y) {
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < C; ++c) y[r * C + c] += b[c];
}

}  // namespace

// Conv: image = x, output grid = y.
template <ComputeType T>
void conv2d_forward(const T4<T>& x, const T4<T>& w, const T4<T>* b, T4<T>& y, int stride, int pad) {
  const auto &xs = x.shape(), &ys = y.shape();
  const Geometry g{xs.h(), xs.w(), xs.c(), ys.h(), ys.w(), static_cast<int>(w.shape().h()), stride, pad};
  gather_gemm(x.data(), xs.n(), g, w.data(), ys.c(), y.data(), false);
  if (b) add_bias(b->data(), ys.n() * ys.h() * ys.w(), ys.c(), y.data());
}
template <ComputeType T>
void conv2d_backward_data(const T4<T>& dy, const T4<T>& w, T4<T>& dx, int stride, int pad) {
  const auto &xs = dx.shape(), &ys = dy.shape();
  const Geometry g{xs.h(), xs.w(), xs.c(), ys.h(), ys.w(), static_cast<int>(w.shape().h()), stride, pad};
  gemm_scatter(dy.data(), xs.n(), g, w.data(), ys.c(), dx.data());
}
template <ComputeType T>
void conv2d_backward_weight(const T4<T>& x, const T4<T>& dy, T4<T>& dw, int stride, int pad) {
  const auto &xs = x.shape(), &ys = dy.shape();
  const Geometry g{xs.h(), xs.w(), xs.c(), ys.h(), ys.w(), static_cast<int>(dw.shape().h()), stride, pad};
  weight_grad(x.data(), xs.n(), g, dy.data(), ys.c(), dw.data());
}

template <ComputeType T>
void bias_backward(const T4<T>& dy, T4<T>& db) {
  // Per-channel sums over all pixels: fixed chunks summed in order (deterministic).
  const std::int64_t C = dy.shape()[1];  // channels: innermost in memory for (N,C,H,W) and (N,C)
  if (C == 0 || dy.numel() == 0) return;
  const std::int64_t rows = dy.numel() / C;
  const std::int64_t nchunks = (rows + detail::kReduceChunk - 1) / detail::kReduceChunk;
  std::vector<acc_t<T>> part(static_cast<std::size_t>(nchunks * C), acc_t<T>(0));
  const T* g = dy.data();
#pragma omp parallel for schedule(static)
  for (std::int64_t k = 0; k < nchunks; ++k) {
    acc_t<T>* acc = part.data() + k * C;
    const std::int64_t r1 = std::min(rows, (k + 1) * detail::kReduceChunk);
    for (std::int64_t r = k * detail::kReduceChunk; r < r1; ++r)
      for (std::int64_t c = 0; c < C; ++c) acc[c] += g[r * C + c];
  }
  for (std::int64_t c = 0; c < C; ++c) {
    acc_t<T> s = 0;
    for (std::int64_t k = 0; k < nchunks; ++k) s += part[static_cast<std::size_t>(k * C + c)];
    db.data()[c] += static_cast<T>(s);
  }
}

// Transposed conv: the "image" of the underlying conv is y, its output grid is x.
template <ComputeType T>
void conv_transpose2d_forward(const T4<T>& x, const T4<T>& w, const T4<T>* b, T4<T>& y, int stride, int pad) {
  const auto &xs = x.shape(), &ys = y.shape();
  const Geometry g{ys.h(), ys.w(), ys.c(), xs.h(), xs.w(), static_cast<int>(w.shape().h()), stride, pad};
  y.zero_();
  gemm_scatter(x.data(), xs.n(), g, w.data(), xs.c(), y.data());
  if (b) add_bias(b->data(), ys.n() * ys.h() * ys.w(), ys.c(), y.data());
}
template <ComputeType T>
void conv_transpose2d_backward_data(const T4<T>& dy, const T4<T>& w, T4<T>& dx, int stride, int pad) {
  const auto &xs = dx.shape(), &ys = dy.shape();
  const Geometry g{ys.h(), ys.w(), ys.c(), xs.h(), xs.w(), static_cast<int>(w.shape().h()), stride, pad};
  gather_gemm(dy.data(), xs.n(), g, w.data(), xs.c(), dx.data(), true);
}
template <ComputeType T>
void conv_transpose2d_backward_weight(const T4<T>& x, const T4<T>& dy, T4<T>& dw, int stride, int pad) {
  const auto &xs = x.shape(), &ys = dy.shape();
  const Geometry g{ys.h(), ys.w(), ys.c(), xs.h(), xs.w(), static_cast<int>(dw.shape().h()), stride, pad};
  weight_grad(dy.data(), xs.n(), g, x.data(), xs.c(), dw.data());
}

#define HRNET_INSTANTIATE(T)                                                                          \
  template void conv2d_forward<T>(const T4<T>&, const T4<T>&, const T4<T>*, T4<T>&, int, int);      \
  template void conv2d_backward_data<T>(const T4<T>&, const T4<T>&, T4<T>&, int, int);              \
  template void conv2d_backward_weight<T>(const T4<T>&, const T4<T>&, T4<T>&, int, int);            \
  template void bias_backward<T>(const T4<T>&, T4<T>&);                                             \
  template void conv_transpose2d_forward<T>(const T4<T>&, const T4<T>&, const T4<T>*, T4<T>&, int, int); \
  template void conv_transpose2d_backward_data<T>(const T4<T>&, const T4<T>&, T4<T>&, int, int);    \
  template void conv_transpose2d_backward_weight<T>(const T4<T>&, const T4<T>&, T4<T>&, int, int);
HRNET_INSTANTIATE(float)
HRNET_INSTANTIATE(double)
#undef HRNET_INSTANTIATE

}  // namespace hrnet::cpu

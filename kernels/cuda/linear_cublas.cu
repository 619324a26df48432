// Linear layer through cublasGemmEx, fp32 compute for every storage type (TF32 only for fp32 data
// and only when allow_tf32()).
//
// cuBLAS is column-major: a row-major (r, c) array is the column-major (c, r) array, so with
// row-major x (N,F), w (O,F), y (N,O):
//   y^T (O,N) = w (O,F) . x^T (F,N)        -> gemm(T, N, m=O, n=N, k=F, A=w lda=F, B=x ldb=F, C=y ldc=O)
//   dx^T (F,N) += w^T (F,O) . dy^T (O,N)   -> gemm(N, N, m=F, n=N, k=O, A=w lda=F, B=dy ldb=O, C=dx ldc=F)
//   dw^T (F,O) += x^T (F,N) . dy (N,O)     -> gemm(N, T, m=F, n=O, k=N, A=x lda=F, B=dy ldb=O, C=dw ldc=F)
#include "handles.cuh"

namespace hrnet::gpu {
namespace detail {
namespace {

template <class T>
cublasComputeType_t compute_type() {
  if constexpr (std::is_same_v<T, float>) return allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  return CUBLAS_COMPUTE_32F;
}

// C = A op B + beta C, all of type T, fp32 scalars.
template <class T>
void gemm(Stream s, cublasOperation_t ta, cublasOperation_t tb, std::int64_t m, std::int64_t n, std::int64_t k,
          const T* a, std::int64_t lda, const T* b, std::int64_t ldb, float beta, T* c, std::int64_t ldc) {
  cublasHandle_t h = cublas_handle(s);
  const float alpha = 1.f;
  HRNET_CUBLAS_CHECK(cublasGemmEx_64(h, ta, tb, m, n, k, &alpha, a, cuda_type<T>(), lda, b, cuda_type<T>(), ldb, &beta,
                                     c, cuda_type<T>(), ldc, compute_type<T>(), CUBLAS_GEMM_DEFAULT));
}

struct Dims {
  std::int64_t N, F, O;
};
template <class T>
Dims linear_dims(const G<T>& x, const G<T>& w, const char* what) {
  HRNET_CHECK(x.rank() == 2 && w.rank() == 2 && x.shape()[1] == w.shape()[1], ShapeError,
              what << ": x " << x.shape() << " and w " << w.shape() << " must be (N,F) and (O,F)");
  return {x.shape()[0], x.shape()[1], w.shape()[0]};
}

}  // namespace
}  // namespace detail

template <GpuType T>
void linear_forward(const G<T>& x, const G<T>& w, const G<T>* b, G<T>& y, Stream s) {
  const auto [N, F, O] = detail::linear_dims(x, w, "linear_forward");
  check_shape(y, Shape{N, O}, "linear_forward: y");
  if (b) HRNET_CHECK(b->numel() == O, ShapeError, "linear_forward: bias " << b->shape() << " for " << O << " outputs");
  if (y.numel() == 0) return;
  // A bias is broadcast first and the product accumulated onto it: one rounding per output.
  if (b) detail::broadcast_rows(b->data(), y.data(), N, O, s);
  if (F == 0) {
    if (!b) HRNET_CUDA_CHECK(cudaMemsetAsync(y.data(), 0, y.bytes(), detail::raw(s)));
    return;
  }
  detail::gemm<T>(s, CUBLAS_OP_T, CUBLAS_OP_N, O, N, F, w.data(), F, x.data(), F, b ? 1.f : 0.f, y.data(), O);
}

template <GpuType T>
void linear_backward(const G<T>& x, const G<T>& w, const G<T>& dy, G<T>* dx, G<T>* dw, G<T>* db, Stream s) {
  const auto [N, F, O] = detail::linear_dims(x, w, "linear_backward");
  check_shape(dy, Shape{N, O}, "linear_backward: dy");
  if (dx) check_shape(*dx, x.shape(), "linear_backward: dx");
  if (dw) check_shape(*dw, w.shape(), "linear_backward: dw");
  if (N == 0 || O == 0) return;
  if (dx && F > 0) detail::gemm<T>(s, CUBLAS_OP_N, CUBLAS_OP_N, F, N, O, w.data(), F, dy.data(), O, 1.f, dx->data(), F);
  if (dw && F > 0) detail::gemm<T>(s, CUBLAS_OP_N, CUBLAS_OP_T, F, O, N, x.data(), F, dy.data(), O, 1.f, dw->data(), F);
  if (db) bias_backward(dy, *db, s);
}

#define HRNET_INSTANTIATE(T)                                                                    \
  template void linear_forward<T>(const G<T>&, const G<T>&, const G<T>*, G<T>&, Stream);      \
  template void linear_backward<T>(const G<T>&, const G<T>&, const G<T>&, G<T>*, G<T>*, G<T>*, Stream);
HRNET_INSTANTIATE(float)
HRNET_INSTANTIATE(half)
HRNET_INSTANTIATE(bfloat16)
#undef HRNET_INSTANTIATE

}  // namespace hrnet::gpu

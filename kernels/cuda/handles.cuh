// The vendor-library side of the CUDA backend: per-thread cuDNN and cuBLAS handles, RAII cuDNN
// descriptors, stream-ordered scratch tensors, and a deterministic per-channel reduction shared by
// the convolution, batch-norm and linear kernels. Internal to kernels/cuda.
#pragma once
#include <cstdint>
#include <utility>

#include "common.cuh"
#include "bn_math.hpp"

namespace hrnet::gpu::detail {

// ---- handles ----------------------------------------------------------------------------------------
// One handle per (thread, device), created on first use and bound to `s` on every call. A thread's
// handles go back to a process-wide pool when it exits (never destroyed: destroying them during
// process teardown races with the CUDA runtime's own teardown).
cudnnHandle_t cudnn_handle(Stream s);
// Also points the handle at a fixed-size workspace on `s` (a fixed size keeps cuBLAS's algorithm
// choice, and so its rounding, the same from call to call).
cublasHandle_t cublas_handle(Stream s);
int current_device_index();

// ---- scratch memory -----------------------------------------------------------------------------------
// A temporary tensor allocated (and later freed) in the order of `s`, so it may be used by work
// queued on `s` even after the host-side handle is gone.
template <class T>
G<T> scratch(const Shape& shape, Stream s) {
  cuda::StreamGuard guard(s);
  return G<T>::empty(shape);
}

// ---- cuDNN types and descriptors ----------------------------------------------------------------------
template <class T> constexpr cudnnDataType_t cudnn_type();
template <> constexpr cudnnDataType_t cudnn_type<float>() { return CUDNN_DATA_FLOAT; }
template <> constexpr cudnnDataType_t cudnn_type<half>() { return CUDNN_DATA_HALF; }
template <> constexpr cudnnDataType_t cudnn_type<bfloat16>() { return CUDNN_DATA_BFLOAT16; }

template <class T> constexpr cudaDataType_t cuda_type();
template <> constexpr cudaDataType_t cuda_type<float>() { return CUDA_R_32F; }
template <> constexpr cudaDataType_t cuda_type<half>() { return CUDA_R_16F; }
template <> constexpr cudaDataType_t cuda_type<bfloat16>() { return CUDA_R_16BF; }

// A dimension handed to an int-based cuDNN/cuBLAS API; throws ShapeError when it does not fit.
int to_int(std::int64_t v, const char* what);

template <class H, cudnnStatus_t (*Create)(H*), cudnnStatus_t (*Destroy)(H)>
class CudnnDescriptor {
 public:
  CudnnDescriptor() { HRNET_CUDNN_CHECK(Create(&h_)); }
  ~CudnnDescriptor() { (void)Destroy(h_); }
  CudnnDescriptor(const CudnnDescriptor&) = delete;
  CudnnDescriptor& operator=(const CudnnDescriptor&) = delete;
  H get() const { return h_; }

 private:
  H h_{};
};

// A fully packed NHWC tensor of logical shape (n, c, h, w).
class TensorDesc : public CudnnDescriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor,
                                          cudnnDestroyTensorDescriptor> {
 public:
  TensorDesc(cudnnDataType_t type, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w);
};
// An NHWC (k, c, r, s) filter: memory order [k][r][s][c].
class FilterDesc : public CudnnDescriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor,
                                          cudnnDestroyFilterDescriptor> {
 public:
  FilterDesc(cudnnDataType_t type, std::int64_t k, std::int64_t c, std::int64_t r, std::int64_t s);
};
// Cross-correlation with square stride/pad, dilation 1, fp32 compute type.
class ConvDesc : public CudnnDescriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor,
                                        cudnnDestroyConvolutionDescriptor> {
 public:
  ConvDesc(int stride, int pad, cudnnMathType_t math);
};
class ActivationDesc : public CudnnDescriptor<cudnnActivationDescriptor_t, cudnnCreateActivationDescriptor,
                                              cudnnDestroyActivationDescriptor> {
 public:
  ActivationDesc();  // relu
};

// ---- 16-byte vector access ----------------------------------------------------------------------------
template <class D> constexpr int kVec = 16 / static_cast<int>(sizeof(D));

inline bool aligned16(const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0; }

template <int V, class D>
__device__ __forceinline__ void load_f32(const D* p, std::int64_t i, float (&out)[V]) {
  if constexpr (V == 1) {
    out[0] = to_f32(p[i]);
  } else {
    static_assert(V * sizeof(D) == 16);
    union {
      uint4 raw;
      D v[V];
    } u;
    u.raw = *reinterpret_cast<const uint4*>(p + i);
#pragma unroll
    for (int j = 0; j < V; ++j) out[j] = to_f32(u.v[j]);
  }
}
template <int V, class D>
__device__ __forceinline__ void store_f32(D* p, std::int64_t i, const float (&in)[V]) {
  if constexpr (V == 1) {
    p[i] = from_f32<D>(in[0]);
  } else {
    static_assert(V * sizeof(D) == 16);
    union {
      uint4 raw;
      D v[V];
    } u;
#pragma unroll
    for (int j = 0; j < V; ++j) u.v[j] = from_f32<D>(in[j]);
    *reinterpret_cast<uint4*>(p + i) = u.raw;
  }
}

// y[r, c] = b[c] for every row of a [rows, C] array: the starting value of a biased forward
// (which then accumulates onto it, so every output is rounded once).
template <int V, class D>
__global__ void broadcast_rows_kernel(const D* __restrict__ b, D* __restrict__ y, std::int64_t nvec, std::int64_t C) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < nvec;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t e = i * V, c = e % C;
    if constexpr (V == 1) {
      y[e] = b[c];
    } else {
      *reinterpret_cast<uint4*>(y + e) = *reinterpret_cast<const uint4*>(b + c);
    }
  }
}

template <class T>
inline void broadcast_rows(const T* b, T* y, std::int64_t rows, std::int64_t C, Stream s) {
  using D = dev_t<T>;
  constexpr int V = kVec<D>;
  const std::int64_t n = rows * C;
  if (n == 0) return;
  constexpr int block = 256;
  if (C % V == 0 && aligned16(b) && aligned16(y)) {
    broadcast_rows_kernel<V, D><<<grid_for(n / V, block), block, 0, raw(s)>>>(dev_ptr(b), dev_ptr(y), n / V, C);
  } else {
    broadcast_rows_kernel<1, D><<<grid_for(n, block), block, 0, raw(s)>>>(dev_ptr(b), dev_ptr(y), n, C);
  }
  HRNET_CUDA_CHECK_LAUNCH();
}

// ---- deterministic per-channel sums -----------------------------------------------------------------
// Sums of K per-element terms over the rows of a [rows, C] channels-last array, per channel. The
// order of additions depends only on (rows, C), never on the device or the launch: the rows are cut
// into `chunks` consecutive ranges; a block sums one range for 32 channels (8 row lanes, each
// strided by 8, then a fixed tree) and writes a partial; a second kernel adds the partials of each
// channel (32 lanes over the ranges, then a fixed tree) and hands the K totals to an epilogue.
//
// Load: __device__ void operator()(int64 row, int64 c, float (&acc)[K]) const, adds the row's terms.
// Epilogue: __device__ void operator()(int64 c, const float (&sum)[K]) const.
struct ReducePlan {
  std::int64_t rows = 0, C = 0, chunks = 1, chunk_rows = 1;
};
inline ReducePlan reduce_plan(std::int64_t rows, std::int64_t C) {
  ReducePlan p;
  p.rows = rows;
  p.C = C;
  const std::int64_t want = std::clamp<std::int64_t>((rows + 63) / 64, 1, 512);
  p.chunk_rows = std::max<std::int64_t>(1, (rows + want - 1) / want);
  p.chunks = std::max<std::int64_t>(1, (rows + p.chunk_rows - 1) / p.chunk_rows);
  return p;
}

constexpr int kRedLanes = 32;  // channels per block (threadIdx.x)
constexpr int kRedRows = 8;    // row lanes per block in the first pass
constexpr int kRedParts = 32;  // partial lanes per block in the second pass

// Column sums over the block's rows of per-thread values: stores acc in sh[k][ty][tx] and adds the
// rows pairwise (a fixed tree), leaving sh[k][0][tx] = sum over ty. Every thread must call it.
template <int K, int Rows, int Lanes>
__device__ __forceinline__ void tree_sum_rows(float (&sh)[K][Rows][Lanes], const float (&acc)[K], int tx, int ty) {
#pragma unroll
  for (int k = 0; k < K; ++k) sh[k][ty][tx] = acc[k];
  __syncthreads();
#pragma unroll
  for (int step = Rows / 2; step > 0; step /= 2) {
    if (ty < step)
#pragma unroll
      for (int k = 0; k < K; ++k) sh[k][ty][tx] += sh[k][ty + step][tx];
    __syncthreads();
  }
}

template <int K, class Load>
__global__ void __launch_bounds__(kRedLanes * kRedRows)
    channel_partial_sums(Load load, std::int64_t rows, std::int64_t C, std::int64_t chunk_rows,
                         float* __restrict__ partial) {
  __shared__ float sh[K][kRedRows][kRedLanes + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kRedLanes + tx;
  const std::int64_t chunk = blockIdx.y;
  const std::int64_t r0 = chunk * chunk_rows, r1 = r0 + chunk_rows < rows ? r0 + chunk_rows : rows;
  float acc[K];
#pragma unroll
  for (int k = 0; k < K; ++k) acc[k] = 0.f;
  if (c < C)
    for (std::int64_t r = r0 + ty; r < r1; r += kRedRows) load(r, c, acc);
  tree_sum_rows(sh, acc, tx, ty);
  if (ty == 0 && c < C)
#pragma unroll
    for (int k = 0; k < K; ++k) partial[(chunk * K + k) * C + c] = sh[k][0][tx];
}

// 1024 threads per block: the bound keeps the register count launchable whatever the epilogue.
template <int K, class Epilogue>
__global__ void __launch_bounds__(kRedLanes * kRedParts)
    channel_finish_sums(const float* __restrict__ partial, std::int64_t chunks, std::int64_t C, Epilogue epi) {
  __shared__ float sh[K][kRedParts][kRedLanes + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kRedLanes + tx;
  float acc[K];
#pragma unroll
  for (int k = 0; k < K; ++k) acc[k] = 0.f;
  if (c < C)
    for (std::int64_t j = ty; j < chunks; j += kRedParts)
#pragma unroll
      for (int k = 0; k < K; ++k) acc[k] += partial[(j * K + k) * C + c];
  tree_sum_rows(sh, acc, tx, ty);
  if (ty == 0 && c < C) {
    float total[K];
#pragma unroll
    for (int k = 0; k < K; ++k) total[k] = sh[k][0][tx];
    epi(c, total);
  }
}

// Runs both passes on `s`; the partials live in a scratch tensor ordered on `s`.
template <int K, class Load, class Epilogue>
void channel_sums(const Load& load, const Epilogue& epi, std::int64_t rows, std::int64_t C, Stream s) {
  if (C <= 0) return;
  const ReducePlan p = reduce_plan(rows, C);
  HRNET_CHECK(p.chunks <= 65535, ShapeError, "channel_sums: too many row chunks");
  auto partial = scratch<float>(Shape{p.chunks * K * C}, s);
  const dim3 tiles(static_cast<unsigned>((C + kRedLanes - 1) / kRedLanes));
  channel_partial_sums<K, Load><<<dim3(tiles.x, static_cast<unsigned>(p.chunks)), dim3(kRedLanes, kRedRows), 0,
                                  raw(s)>>>(load, rows, C, p.chunk_rows, partial.data());
  HRNET_CUDA_CHECK_LAUNCH();
  channel_finish_sums<K, Epilogue><<<tiles, dim3(kRedLanes, kRedParts), 0, raw(s)>>>(partial.data(), p.chunks, C, epi);
  HRNET_CUDA_CHECK_LAUNCH();
}

}  // namespace hrnet::gpu::detail

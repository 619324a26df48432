// Shared device-side helpers of the CUDA kernels: storage-type <-> fp32 conversion, launch sizes,
// the handles' stream binding and the cuDNN workspace arena. Internal to kernels/cuda.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>

#include "check.cuh"
#include "hrnet/backend/cuda.hpp"

namespace hrnet::gpu::detail {

inline cudaStream_t raw(Stream s) { return static_cast<cudaStream_t>(s.handle); }

// hrnet::half / hrnet::bfloat16 are bit-compatible with __half / __nv_bfloat16; kernels work on
// the CUDA types.
template <class T> struct device_type { using type = T; };
template <> struct device_type<half> { using type = __half; };
template <> struct device_type<bfloat16> { using type = __nv_bfloat16; };
template <class T> using dev_t = typename device_type<T>::type;

template <class T> dev_t<T>* dev_ptr(T* p) { return reinterpret_cast<dev_t<T>*>(p); }
template <class T> const dev_t<T>* dev_ptr(const T* p) { return reinterpret_cast<const dev_t<T>*>(p); }

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }
template <class D> __device__ __forceinline__ D from_f32(float v);
template <> __device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// Grid size for a grid-stride loop over n items: enough blocks to fill every SM (a few waves at
// most), never more than the work needs.
int sm_count();  // of the current device, cached per device
inline unsigned grid_for(std::int64_t n, int block, int blocks_per_sm = 8) {
  const std::int64_t need = (n + block - 1) / block;
  const std::int64_t cap = static_cast<std::int64_t>(sm_count()) * blocks_per_sm;
  return static_cast<unsigned>(std::max<std::int64_t>(1, std::min(need, cap)));
}

// Scratch device memory for cuDNN/cuBLAS, one growing block per stream (per thread for the
// per-thread default stream). The pointer stays valid for work queued on `s` until the next call
// with the same stream.
void* workspace(std::size_t bytes, Stream s);
// Frees the workspace of `s` in its order (OwnedStream calls it before destroying the stream; call
// it for a stream created outside hrnet before destroying that one).
void release_workspace(Stream s) noexcept;

}  // namespace hrnet::gpu::detail

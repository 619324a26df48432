// One checking macro per vendor API. Each throws the matching typed exception with the call text,
// file:line and the library's own message. Internal to kernels/: public headers stay CUDA-free.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#ifdef HRNET_WITH_NCCL
#include <nccl.h>
#endif

#include "hrnet/core/cuda_memory.hpp"
#include "hrnet/core/error.hpp"

#define HRNET_CUDA_CHECK(call)                                                                    \
  do {                                                                                            \
    cudaError_t hrnet_err_ = (call);                                                              \
    if (hrnet_err_ != cudaSuccess)                                                                \
      HRNET_THROW(CudaError, #call << " failed: " << cudaGetErrorName(hrnet_err_) << ": "         \
                                   << cudaGetErrorString(hrnet_err_));                           \
  } while (0)

#define HRNET_CUDNN_CHECK(call)                                                                   \
  do {                                                                                            \
    cudnnStatus_t hrnet_err_ = (call);                                                            \
    if (hrnet_err_ != CUDNN_STATUS_SUCCESS)                                                       \
      HRNET_THROW(CudnnError, #call << " failed: " << cudnnGetErrorString(hrnet_err_));           \
  } while (0)

#define HRNET_CUBLAS_CHECK(call)                                                                  \
  do {                                                                                            \
    cublasStatus_t hrnet_err_ = (call);                                                           \
    if (hrnet_err_ != CUBLAS_STATUS_SUCCESS)                                                      \
      HRNET_THROW(CublasError, #call << " failed: " << cublasGetStatusName(hrnet_err_) << ": "     \
                                     << cublasGetStatusString(hrnet_err_));                      \
  } while (0)

#ifdef HRNET_WITH_NCCL  // NCCL is optional: only multi-GPU communication needs it
#define HRNET_NCCL_CHECK(call)                                                                    \
  do {                                                                                            \
    ncclResult_t hrnet_err_ = (call);                                                             \
    if (hrnet_err_ != ncclSuccess)                                                                \
      HRNET_THROW(NcclError, #call << " failed: " << ncclGetErrorString(hrnet_err_));             \
  } while (0)
#endif

namespace hrnet::gpu::detail {
// Debug builds with HRNET_CUDA_LAUNCH_SYNC=1: waits for `s`, so that an execution error is reported
// at the launch that caused it. Never while `s` is being captured into a graph (synchronising is
// illegal then), and never the whole device (that would serialise every stream and hide races).
void debug_sync_after_launch(cuda::Stream s);
}  // namespace hrnet::gpu::detail

// After every kernel launch on `stream`: the launch error always; in debug builds, on request, the
// execution error too (see debug_sync_after_launch).
#ifdef NDEBUG
#define HRNET_CUDA_CHECK_LAUNCH(stream) HRNET_CUDA_CHECK(cudaGetLastError())
#else
#define HRNET_CUDA_CHECK_LAUNCH(stream)                          \
  do {                                                           \
    HRNET_CUDA_CHECK(cudaGetLastError());                        \
    ::hrnet::gpu::detail::debug_sync_after_launch(stream);       \
  } while (0)
#endif

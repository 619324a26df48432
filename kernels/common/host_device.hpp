// HRNET_HD marks per-element math that runs in CUDA kernels and on the host alike, so the CPU tests
// exercise exactly the arithmetic the GPU runs. Plain C++ when not compiled by nvcc.
#pragma once
#if defined(__CUDACC__)
#define HRNET_HD __host__ __device__ __forceinline__
#else
#define HRNET_HD inline
#endif

// Host-side declarations of the CUDA runtime services the core needs (memory, copies, device query).
// Definitions live in kernels/cuda/runtime.cu (CUDA builds) or kernels/cuda/runtime_stub.cpp
// (CPU-only builds, where every call throws CudaError saying the library was built without CUDA).
// This header is plain C++: no CUDA types leak into code that includes it.
#pragma once
#include <cstddef>

namespace hrnet::cuda {

bool built_with_cuda();                 // compile-time configuration of this library
int device_count();                     // 0 when no driver or no device
void* allocate(std::size_t bytes);      // device memory; throws CudaError
void deallocate(void* p) noexcept;
void copy_host_to_device(void* dst, const void* src, std::size_t bytes);
void copy_device_to_host(void* dst, const void* src, std::size_t bytes);
void copy_device_to_device(void* dst, const void* src, std::size_t bytes);
void fill_zero(void* p, std::size_t bytes);
void synchronize();

}  // namespace hrnet::cuda

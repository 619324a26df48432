// CUDA runtime services for the core: device memory, copies and queries.
// Memory comes from the device's stream-ordered pool with an unbounded release threshold, so
// freed blocks are reused and a steady-state training step makes no cudaMalloc/cudaFree.
#include <cstdint>
#include <limits>

#include "check.cuh"
#include "hrnet/backend/cuda_runtime.hpp"

namespace hrnet::cuda {

bool built_with_cuda() { return true; }

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

namespace {
void keep_pool_memory() {
  static bool done = [] {
    int dev = 0;
    HRNET_CUDA_CHECK(cudaGetDevice(&dev));
    cudaMemPool_t pool;
    HRNET_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, dev));
    std::uint64_t threshold = std::numeric_limits<std::uint64_t>::max();
    HRNET_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold));
    return true;
  }();
  (void)done;
}
}  // namespace

void* allocate(std::size_t bytes) {
  keep_pool_memory();
  void* p = nullptr;
  HRNET_CUDA_CHECK(cudaMallocAsync(&p, bytes, cudaStreamPerThread));
  return p;
}
void deallocate(void* p) noexcept { (void)cudaFreeAsync(p, cudaStreamPerThread); }

void copy_host_to_device(void* dst, const void* src, std::size_t bytes) {
  HRNET_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, cudaStreamPerThread));
  HRNET_CUDA_CHECK(cudaStreamSynchronize(cudaStreamPerThread));  // the host buffer may be pageable
}
void copy_device_to_host(void* dst, const void* src, std::size_t bytes) {
  HRNET_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, cudaStreamPerThread));
  HRNET_CUDA_CHECK(cudaStreamSynchronize(cudaStreamPerThread));
}
void copy_device_to_device(void* dst, const void* src, std::size_t bytes) {
  HRNET_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cudaStreamPerThread));
}
void fill_zero(void* p, std::size_t bytes) { HRNET_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, cudaStreamPerThread)); }
void synchronize() { HRNET_CUDA_CHECK(cudaStreamSynchronize(cudaStreamPerThread)); }

}  // namespace hrnet::cuda

// CPU-only builds: the CUDA runtime entry points exist so that Tensor<T, CUDA> code links, and every
// call that would need a GPU throws CudaError with a clear reason.
#include "hrnet/backend/cuda_runtime.hpp"
#include "hrnet/core/error.hpp"

namespace hrnet::cuda {
namespace {
[[noreturn]] void unavailable(const char* what) {
  HRNET_THROW(CudaError, "hrnet::cuda::" << what
                             << ": this hrnet library was built without CUDA (configure with "
                                "-DHRNET_WITH_CUDA=ON on a machine with the CUDA toolkit)");
}
}  // namespace

bool built_with_cuda() { return false; }
int device_count() { return 0; }
void* allocate(std::size_t) { unavailable("allocate"); }
void deallocate(void*) noexcept {}
void copy_host_to_device(void*, const void*, std::size_t) { unavailable("copy_host_to_device"); }
void copy_device_to_host(void*, const void*, std::size_t) { unavailable("copy_device_to_host"); }
void copy_device_to_device(void*, const void*, std::size_t) { unavailable("copy_device_to_device"); }
void fill_zero(void*, std::size_t) { unavailable("fill_zero"); }
void synchronize() { unavailable("synchronize"); }

}  // namespace hrnet::cuda

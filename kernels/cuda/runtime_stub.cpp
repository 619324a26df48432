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
void set_device(int) { unavailable("set_device"); }
int current_device() { unavailable("current_device"); }
std::string device_name(int) { unavailable("device_name"); }

Stream per_thread_stream() { return Stream{}; }
Stream current_stream() { return Stream{}; }
void set_current_stream(Stream) {}
void synchronize() { unavailable("synchronize"); }
void synchronize(Stream) { unavailable("synchronize"); }
OwnedStream::OwnedStream() { unavailable("OwnedStream"); }
OwnedStream::~OwnedStream() = default;
Event::Event() { unavailable("Event"); }
Event::~Event() = default;
void Event::record(Stream) { unavailable("Event::record"); }
void Event::wait(Stream) const { unavailable("Event::wait"); }
void Event::synchronize() const { unavailable("Event::synchronize"); }
bool Event::ready() const { unavailable("Event::ready"); }
float Event::elapsed_ms_since(const Event&) const { unavailable("Event::elapsed_ms_since"); }

void* allocate(std::size_t, Stream) { unavailable("allocate"); }
void deallocate(void*, Stream) noexcept {}
BlockOrigin block_origin(Stream s) { return BlockOrigin{s, -1, 0}; }
void deallocate(void*, const BlockOrigin&) noexcept {}
MemoryStats memory_stats() { unavailable("memory_stats"); }
void reset_peak_memory_stats() { unavailable("reset_peak_memory_stats"); }
PinnedBuffer::PinnedBuffer(std::size_t) { unavailable("PinnedBuffer"); }
PinnedBuffer::~PinnedBuffer() = default;

void copy_host_to_device(void*, const void*, std::size_t, Stream) { unavailable("copy_host_to_device"); }
void copy_device_to_host(void*, const void*, std::size_t, Stream) { unavailable("copy_device_to_host"); }
void copy_host_to_device_async(void*, const void*, std::size_t, Stream) { unavailable("copy_host_to_device_async"); }
void copy_device_to_host_async(void*, const void*, std::size_t, Stream) { unavailable("copy_device_to_host_async"); }
void copy_device_to_device(void*, const void*, std::size_t, Stream) { unavailable("copy_device_to_device"); }
void fill_zero(void*, std::size_t, Stream) { unavailable("fill_zero"); }

}  // namespace hrnet::cuda

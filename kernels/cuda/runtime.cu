// CUDA runtime services: devices, streams, events, the caching allocator (the device's stream-ordered
// pool, kept from releasing memory), pinned host memory, copies and the cuDNN/cuBLAS workspace arena.
#include <cstdint>
#include <limits>
#include <mutex>
#include <vector>

#include "common.cuh"
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

void set_device(int index) {
  const int n = device_count();
  HRNET_CHECK(index >= 0 && index < n, CudaError,
              "set_device: device " << index << " does not exist (" << n << " CUDA devices visible)");
  HRNET_CUDA_CHECK(cudaSetDevice(index));
}
int current_device() {
  int d = 0;
  HRNET_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}
std::string device_name(int index) {
  cudaDeviceProp p{};
  HRNET_CUDA_CHECK(cudaGetDeviceProperties(&p, index));
  return p.name;
}

// ---- streams ---------------------------------------------------------------------------------------
namespace {
thread_local Stream tl_current{static_cast<void*>(cudaStreamPerThread)};
cudaStream_t raw(Stream s) { return static_cast<cudaStream_t>(s.handle); }
}  // namespace

Stream per_thread_stream() { return Stream{static_cast<void*>(cudaStreamPerThread)}; }
Stream current_stream() { return tl_current; }
void set_current_stream(Stream s) { tl_current = s; }
void synchronize() { synchronize(current_stream()); }
void synchronize(Stream s) { HRNET_CUDA_CHECK(cudaStreamSynchronize(raw(s))); }

OwnedStream::OwnedStream() {
  cudaStream_t s = nullptr;
  HRNET_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  s_.handle = s;
}
OwnedStream::~OwnedStream() {
  if (s_.handle) (void)cudaStreamDestroy(raw(s_));
}

Event::Event() {
  cudaEvent_t e = nullptr;
  HRNET_CUDA_CHECK(cudaEventCreate(&e));
  e_ = e;
}
Event::~Event() {
  if (e_) (void)cudaEventDestroy(static_cast<cudaEvent_t>(e_));
}
void Event::record(Stream s) { HRNET_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(e_), raw(s))); }
void Event::wait(Stream s) const { HRNET_CUDA_CHECK(cudaStreamWaitEvent(raw(s), static_cast<cudaEvent_t>(e_), 0)); }
void Event::synchronize() const { HRNET_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(e_))); }
bool Event::ready() const {
  const cudaError_t r = cudaEventQuery(static_cast<cudaEvent_t>(e_));
  if (r == cudaErrorNotReady) {
    (void)cudaGetLastError();
    return false;
  }
  HRNET_CUDA_CHECK(r);
  return true;
}
float Event::elapsed_ms_since(const Event& start) const {
  float ms = 0;
  HRNET_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start.e_), static_cast<cudaEvent_t>(e_)));
  return ms;
}

// ---- device memory -----------------------------------------------------------------------------
namespace {
cudaMemPool_t device_pool() {
  // One-time per device: keep freed memory in the pool instead of returning it to the driver at
  // every synchronisation, so steady-state allocation is a pool lookup.
  static std::mutex m;
  static std::vector<cudaMemPool_t> pools;
  const int dev = current_device();
  std::lock_guard<std::mutex> lock(m);
  if (static_cast<int>(pools.size()) <= dev) pools.resize(static_cast<std::size_t>(dev) + 1, nullptr);
  if (!pools[static_cast<std::size_t>(dev)]) {
    cudaMemPool_t pool;
    HRNET_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, dev));
    std::uint64_t threshold = std::numeric_limits<std::uint64_t>::max();
    HRNET_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold));
    pools[static_cast<std::size_t>(dev)] = pool;
  }
  return pools[static_cast<std::size_t>(dev)];
}
}  // namespace

void* allocate(std::size_t bytes, Stream s) {
  void* p = nullptr;
  HRNET_CUDA_CHECK(cudaMallocFromPoolAsync(&p, bytes, device_pool(), raw(s)));
  return p;
}
void deallocate(void* p, Stream s) noexcept { (void)cudaFreeAsync(p, raw(s)); }

MemoryStats memory_stats() {
  cudaMemPool_t pool = device_pool();
  MemoryStats st;
  HRNET_CUDA_CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &st.reserved));
  HRNET_CUDA_CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemHigh, &st.reserved_peak));
  HRNET_CUDA_CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &st.used));
  HRNET_CUDA_CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &st.used_peak));
  return st;
}
void reset_peak_memory_stats() {
  cudaMemPool_t pool = device_pool();
  std::uint64_t zero = 0;  // the only value these attributes accept: resets to the current value
  HRNET_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReservedMemHigh, &zero));
  HRNET_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &zero));
}

// ---- pinned host memory ------------------------------------------------------------------------
PinnedBuffer::PinnedBuffer(std::size_t bytes) : bytes_(bytes) {
  if (bytes) HRNET_CUDA_CHECK(cudaMallocHost(&p_, bytes));
}
PinnedBuffer::~PinnedBuffer() {
  if (p_) (void)cudaFreeHost(p_);
}

// ---- copies --------------------------------------------------------------------------------------
void copy_host_to_device(void* dst, const void* src, std::size_t bytes, Stream s) {
  HRNET_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, raw(s)));
  HRNET_CUDA_CHECK(cudaStreamSynchronize(raw(s)));  // the host buffer may be pageable and reused at once
}
void copy_device_to_host(void* dst, const void* src, std::size_t bytes, Stream s) {
  HRNET_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, raw(s)));
  HRNET_CUDA_CHECK(cudaStreamSynchronize(raw(s)));
}
void copy_host_to_device_async(void* dst, const void* pinned_src, std::size_t bytes, Stream s) {
  HRNET_CUDA_CHECK(cudaMemcpyAsync(dst, pinned_src, bytes, cudaMemcpyHostToDevice, raw(s)));
}
void copy_device_to_host_async(void* pinned_dst, const void* src, std::size_t bytes, Stream s) {
  HRNET_CUDA_CHECK(cudaMemcpyAsync(pinned_dst, src, bytes, cudaMemcpyDeviceToHost, raw(s)));
}
void copy_device_to_device(void* dst, const void* src, std::size_t bytes, Stream s) {
  HRNET_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, raw(s)));
}
void fill_zero(void* p, std::size_t bytes, Stream s) { HRNET_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, raw(s))); }

}  // namespace hrnet::cuda

// ---- helpers of the kernels (common.cuh) -------------------------------------------------------------
namespace hrnet::gpu::detail {

int sm_count() {
  static std::mutex m;
  static std::vector<int> counts;
  const int dev = cuda::current_device();
  std::lock_guard<std::mutex> lock(m);
  if (static_cast<int>(counts.size()) <= dev) counts.resize(static_cast<std::size_t>(dev) + 1, 0);
  int& c = counts[static_cast<std::size_t>(dev)];
  if (!c) HRNET_CUDA_CHECK(cudaDeviceGetAttribute(&c, cudaDevAttrMultiProcessorCount, dev));
  return c;
}

namespace {
// One block per (thread, device, stream): cudaStreamPerThread names a different stream on each
// device. Growing frees the old block in the stream's order, so work already queued on that stream
// keeps using it safely.
struct Arena {
  int device = 0;
  Stream stream;
  void* ptr = nullptr;
  std::size_t bytes = 0;
};
struct Arenas {
  std::vector<Arena> list;
  ~Arenas() {
    for (auto& a : list)
      if (a.ptr) {
        (void)cudaSetDevice(a.device);
        cuda::deallocate(a.ptr, a.stream);
      }
  }
};
thread_local Arenas tl_arenas;
}  // namespace

void* workspace(std::size_t bytes, Stream s) {
  if (bytes == 0) return nullptr;
  const int dev = cuda::current_device();
  Arena* a = nullptr;
  for (auto& x : tl_arenas.list)
    if (x.device == dev && x.stream == s) a = &x;
  if (!a) {
    tl_arenas.list.push_back(Arena{dev, s, nullptr, 0});
    a = &tl_arenas.list.back();
  }
  if (a->bytes < bytes) {
    if (a->ptr) cuda::deallocate(a->ptr, s);
    const std::size_t grown = std::max(bytes, a->bytes + a->bytes / 2);  // amortise regrowth
    a->ptr = nullptr;
    a->bytes = 0;
    a->ptr = cuda::allocate(grown, s);
    a->bytes = grown;
  }
  return a->ptr;
}

}  // namespace hrnet::gpu::detail

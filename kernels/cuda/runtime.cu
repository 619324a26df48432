// CUDA runtime services: devices, streams, events, the caching allocator (the device's stream-ordered
// pool, kept from releasing memory), pinned host memory, copies and the cuDNN/cuBLAS workspace arena.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
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
  if (!s_.handle) return;
  gpu::detail::release_workspace(s_);  // freed in this stream's order, before the handle can be reused
  (void)cudaStreamDestroy(raw(s_));
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

namespace {
std::uint64_t this_thread_number() {
  static std::atomic<std::uint64_t> next{1};
  thread_local const std::uint64_t n = next.fetch_add(1, std::memory_order_relaxed);
  return n;
}
}  // namespace

BlockOrigin block_origin(Stream s) { return BlockOrigin{s, current_device(), this_thread_number()}; }

void deallocate(void* p, const BlockOrigin& o) noexcept {
  int cur = -1;
  (void)cudaGetDevice(&cur);
  const bool per_thread = o.stream.handle == static_cast<void*>(cudaStreamPerThread);
  if (!per_thread || (cur == o.device && this_thread_number() == o.thread)) {
    if (cur == o.device || o.device < 0) {
      (void)cudaFreeAsync(p, raw(o.stream));
    } else {  // an explicit stream of another device: free it there, in that stream's order
      (void)cudaSetDevice(o.device);
      (void)cudaFreeAsync(p, raw(o.stream));
      (void)cudaSetDevice(cur);
    }
    return;
  }
#ifndef NDEBUG
  std::fprintf(stderr,
               "hrnet: a device block allocated on the per-thread default stream of thread %llu, device %d, is "
               "freed by thread %llu under device %d: that handle names another stream there. Free tensors on "
               "the thread and device that made them, or allocate them on an explicit stream.\n",
               static_cast<unsigned long long>(o.thread), o.device,
               static_cast<unsigned long long>(this_thread_number()), cur);
  std::abort();
#else
  // Correct whatever ran on that thread's stream: wait for the device, then free.
  (void)cudaSetDevice(o.device);
  (void)cudaDeviceSynchronize();
  (void)cudaFree(p);
  (void)cudaSetDevice(cur);
#endif
}

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
// The cuDNN/cuBLAS scratch of a stream. The stream owns it: an OwnedStream releases its block, in
// its own order, before it destroys the handle, so a stream created later at the same address never
// shares scratch with kernels still running. cudaStreamPerThread names a different stream on every
// thread (and device), so its blocks are per thread, released when the thread ends. Growing frees
// the old block in the stream's order, so work already queued keeps using it safely.
struct Arena {
  int device = 0;
  Stream stream;
  void* ptr = nullptr;
  std::size_t bytes = 0;
};

void* grow(Arena& a, std::size_t bytes) {
  if (a.bytes < bytes) {
    if (a.ptr) cuda::deallocate(a.ptr, a.stream);
    const std::size_t grown = std::max(bytes, a.bytes + a.bytes / 2);  // amortise regrowth
    a.ptr = nullptr;
    a.bytes = 0;
    a.ptr = cuda::allocate(grown, a.stream);
    a.bytes = grown;
  }
  return a.ptr;
}

// Per-thread default streams: freed at thread exit. The thread's stream may already be gone then,
// so the block is freed with cudaFree, which waits for the device.
struct ThreadArenas {
  std::vector<Arena> list;
  ~ThreadArenas() {
    for (auto& a : list)
      if (a.ptr) {
        (void)cudaSetDevice(a.device);
        (void)cudaFree(a.ptr);
      }
  }
};
thread_local ThreadArenas tl_arenas;

// Every other stream (owned streams, the legacy default stream, a stream the user created): one
// block per (device, stream), shared by the threads that use that stream.
std::mutex g_arena_mutex;
std::vector<Arena> g_arenas;

bool per_thread(Stream s) { return s.handle == static_cast<void*>(cudaStreamPerThread); }
}  // namespace

void* workspace(std::size_t bytes, Stream s) {
  if (bytes == 0) return nullptr;
  const int dev = cuda::current_device();
  if (per_thread(s)) {
    for (auto& a : tl_arenas.list)
      if (a.device == dev) return grow(a, bytes);
    tl_arenas.list.push_back(Arena{dev, s, nullptr, 0});
    return grow(tl_arenas.list.back(), bytes);
  }
  std::lock_guard<std::mutex> lock(g_arena_mutex);
  for (auto& a : g_arenas)
    if (a.device == dev && a.stream == s) return grow(a, bytes);
  g_arenas.push_back(Arena{dev, s, nullptr, 0});
  return grow(g_arenas.back(), bytes);
}

void release_workspace(Stream s) noexcept {
  if (per_thread(s)) return;  // released when its thread ends
  std::lock_guard<std::mutex> lock(g_arena_mutex);
  for (auto it = g_arenas.begin(); it != g_arenas.end();) {
    if (it->stream == s) {
      if (it->ptr) cuda::deallocate(it->ptr, s);
      it = g_arenas.erase(it);
    } else {
      ++it;
    }
  }
}

void debug_sync_after_launch(Stream s) {
  static const bool enabled = [] {
    const char* v = std::getenv("HRNET_CUDA_LAUNCH_SYNC");
    return v && std::string(v) == "1";
  }();
  if (!enabled) return;
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
  HRNET_CUDA_CHECK(cudaStreamIsCapturing(raw(s), &capturing));
  if (capturing != cudaStreamCaptureStatusNone) return;
  HRNET_CUDA_CHECK(cudaStreamSynchronize(raw(s)));
}

}  // namespace hrnet::gpu::detail

// Host-side declarations of the CUDA runtime services: devices, streams, events, device memory
// from a caching (stream-ordered) pool, pinned host memory and copies.
// Definitions live in kernels/cuda/runtime.cu (CUDA builds) or kernels/cuda/runtime_stub.cpp
// (CPU-only builds, where every call that needs a GPU throws CudaError saying why).
// This header is plain C++: no CUDA types leak into code that includes it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "hrnet/core/cuda_memory.hpp"  // Stream, current_stream, allocate/deallocate, synchronous copies

namespace hrnet::cuda {

bool built_with_cuda();  // compile-time configuration of this library
int device_count();      // 0 when no driver or no device

// ---- devices -------------------------------------------------------------------------------------
void set_device(int index);  // for the calling thread; throws CudaError naming the index
int current_device();
std::string device_name(int index);

// ---- streams ---------------------------------------------------------------------------------------
// Stream and current_stream() are declared in hrnet/core/cuda_memory.hpp.
Stream per_thread_stream();  // cudaStreamPerThread
void set_current_stream(Stream s);
void synchronize();          // the current stream
void synchronize(Stream s);

// Makes `s` current for a scope (one stream per worker thread).
class StreamGuard {
 public:
  explicit StreamGuard(Stream s) : saved_(current_stream()) { set_current_stream(s); }
  ~StreamGuard() { set_current_stream(saved_); }
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  Stream saved_;
};

// An owned, non-blocking stream. Move-only.
class OwnedStream {
 public:
  OwnedStream();
  ~OwnedStream();
  OwnedStream(OwnedStream&& o) noexcept : s_(std::exchange(o.s_, Stream{})) {}
  OwnedStream& operator=(OwnedStream&& o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  OwnedStream(const OwnedStream&) = delete;
  OwnedStream& operator=(const OwnedStream&) = delete;
  Stream get() const { return s_; }

 private:
  Stream s_;
};

// A CUDA event (timing enabled). Move-only.
class Event {
 public:
  Event();
  ~Event();
  Event(Event&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  Event& operator=(Event&& o) noexcept {
    std::swap(e_, o.e_);
    return *this;
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  void record(Stream s);
  void wait(Stream s) const;  // work queued on `s` from now on waits for this event
  void synchronize() const;
  bool ready() const;
  float elapsed_ms_since(const Event& start) const;  // both recorded and complete

 private:
  void* e_ = nullptr;  // the cudaEvent_t
};

// ---- device memory -----------------------------------------------------------------------------
// allocate / deallocate are declared in hrnet/core/cuda_memory.hpp.
struct MemoryStats {
  std::uint64_t reserved = 0;       // bytes the pool holds from the driver now
  std::uint64_t reserved_peak = 0;  // ... at most, since the last reset
  std::uint64_t used = 0;           // bytes handed out to tensors now
  std::uint64_t used_peak = 0;
};
MemoryStats memory_stats();  // of the current device's pool
void reset_peak_memory_stats();

// ---- pinned host memory ------------------------------------------------------------------------
// Page-locked host memory: copies from it are asynchronous and overlap with compute. Move-only.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(std::size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& o) noexcept
      : p_(std::exchange(o.p_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  void* data() const { return p_; }
  std::size_t bytes() const { return bytes_; }

 private:
  void* p_ = nullptr;
  std::size_t bytes_ = 0;
};

// ---- copies --------------------------------------------------------------------------------------
// The synchronous copies (pageable host memory) and fill_zero are declared in
// hrnet/core/cuda_memory.hpp. Use the *_async forms with a PinnedBuffer to overlap copies with compute.
void copy_host_to_device_async(void* dst, const void* pinned_src, std::size_t bytes, Stream s);
void copy_device_to_host_async(void* pinned_dst, const void* src, std::size_t bytes, Stream s);

}  // namespace hrnet::cuda

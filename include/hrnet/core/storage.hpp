// Raw memory. A Buffer owns one allocation on one device and is move-only (a copy of a GPU buffer
// must be explicit). Tensors share Buffers through std::shared_ptr: storage is reference counted.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <utility>

#include "hrnet/core/cuda_memory.hpp"
#include "hrnet/core/device.hpp"
#include "hrnet/core/error.hpp"
#include "hrnet/core/host_memory.hpp"

namespace hrnet {

template <Device D>
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::size_t bytes) : bytes_(bytes) {
    if (bytes == 0) return;
    if constexpr (is_cpu<D>) {
      ptr_ = host_allocate(bytes);  // aligned; large blocks cached and in huge pages (host_memory.hpp)
    } else {
      origin_ = cuda::block_origin(cuda::current_stream());
      ptr_ = cuda::allocate(bytes, origin_.stream);
    }
  }
  ~Buffer() { release(); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)), origin_(o.origin_) {}
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      release();
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
      origin_ = o.origin_;
    }
    return *this;
  }

  void* data() const { return ptr_; }
  std::size_t bytes() const { return bytes_; }

 private:
  void release() noexcept {
    if (!ptr_) return;
    if constexpr (is_cpu<D>) host_free(ptr_, bytes_);
    else cuda::deallocate(ptr_, origin_);
    ptr_ = nullptr;
  }
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
  cuda::BlockOrigin origin_;  // CUDA: the stream (and thread, device) the block was allocated on; freed in that order
};

template <Device D> using Storage = std::shared_ptr<Buffer<D>>;

}  // namespace hrnet

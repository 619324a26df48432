// The part of the CUDA runtime interface that core storage needs: streams as opaque handles,
// stream-ordered device allocation, and the copies behind Tensor::clone / copy_from / to_cuda.
// Declared here so that core does not depend on the backend; defined in kernels/cuda/runtime.cu
// (CUDA builds) or kernels/cuda/runtime_stub.cpp (CPU-only builds, where every call that needs a
// GPU throws CudaError saying why). The rest of the runtime (devices, events, pinned memory) is
// declared in hrnet/backend/cuda_runtime.hpp, which includes this header.
// This header is plain C++: no CUDA types leak into code that includes it.
#pragma once
#include <cstddef>
#include <cstdint>

namespace hrnet::cuda {

// A non-owning handle to a cudaStream_t. Every GPU op takes one; the autograd ops use the calling
// thread's current stream, which starts as CUDA's per-thread default stream.
struct Stream {
  void* handle = nullptr;  // the cudaStream_t
  friend bool operator==(Stream a, Stream b) { return a.handle == b.handle; }
};
Stream current_stream();

// ---- device memory -----------------------------------------------------------------------------
// From the device's stream-ordered pool with an unbounded release threshold: freed blocks return to
// the pool and are reused, so after the first training step no cudaMalloc/cudaFree happens. A block
// is freed in the order of the stream it was allocated on; a tensor used on another stream must be
// synchronised with that stream by its user (as with PyTorch's record_stream).
void* allocate(std::size_t bytes, Stream s);
void deallocate(void* p, Stream s) noexcept;

// Where a block was allocated, for freeing it in the right order. The per-thread default stream's
// handle names the stream of whichever thread uses it, on the current device: a block allocated on
// it and freed by another thread or under another device could be reused while its kernels still
// run. deallocate(p, origin) frees such a block only after the device has finished its work (debug
// builds stop with a message naming both threads and devices instead: it is a bug of the caller).
struct BlockOrigin {
  Stream stream;
  int device = -1;
  std::uint64_t thread = 0;  // hrnet's number of the allocating thread
};
BlockOrigin block_origin(Stream s);  // the current device and thread
void deallocate(void* p, const BlockOrigin& origin) noexcept;

// ---- synchronous copies and fills ----------------------------------------------------------------
// From/to pageable host memory: these return when the host side may be reused (they synchronise
// the stream). hrnet/backend/cuda_runtime.hpp has the *_async forms for pinned memory.
void copy_host_to_device(void* dst, const void* src, std::size_t bytes, Stream s = current_stream());
void copy_device_to_host(void* dst, const void* src, std::size_t bytes, Stream s = current_stream());
void copy_device_to_device(void* dst, const void* src, std::size_t bytes, Stream s = current_stream());
void fill_zero(void* p, std::size_t bytes, Stream s = current_stream());

}  // namespace hrnet::cuda

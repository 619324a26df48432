// Host (CPU) memory for tensors and other large buffers.
//
// - Alignment: 64 bytes (cache lines, any SIMD width); 2 MiB for blocks of 2 MiB or more.
// - Huge pages: blocks of 2 MiB or more are advised MADV_HUGEPAGE, as PyTorch's CPU allocator does
//   (transparent huge pages in "madvise" mode, the common default, then back them with 2 MiB
//   pages): a 512x512 map set is 53 MB, and with 4 KiB pages every random block read of the
//   grouping risks a TLB miss and every first touch a page fault.
// - Caching: freed blocks of 2 MiB or more are kept and handed out again for the next request of
//   the same rounded size, so a loop that makes the same large temporaries image after image
//   (inference's upsampled maps, a training step's activations) stops paying for fresh pages
//   (zeroing and faults) after its first iteration. Past the limit the blocks freed longest ago
//   are released first, so the cache follows the sizes in use. Like PyTorch's CUDA caching
//   allocator, the process keeps up to the limit beyond its live data; host_cache_release()
//   returns the cached blocks. Builds with AddressSanitizer cache nothing, so use-after-free
//   stays visible.
//
// Environment (read once): HRNET_HOST_CACHE_MB (cache limit, default 1024; 0 disables caching),
// HRNET_HUGE_PAGES=0 (no huge-page advice).
#pragma once
#include <cstddef>
#include <new>

namespace hrnet {

// Never returns null (throws std::bad_alloc); bytes == 0 gives a valid pointer. Thread-safe.
void* host_allocate(std::size_t bytes);
// p from host_allocate(bytes) with the same bytes (or null).
void host_free(void* p, std::size_t bytes) noexcept;

// Bytes held in the cache now; release them all to the system.
std::size_t host_cache_bytes() noexcept;
void host_cache_release() noexcept;
// Whether freed large blocks are cached in this build and environment.
bool host_cache_enabled() noexcept;

// A std::allocator for containers of large arrays (e.g. std::vector<float, HostAllocator<float>>).
template <class T>
struct HostAllocator {
  using value_type = T;
  HostAllocator() = default;
  template <class U>
  HostAllocator(const HostAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(host_allocate(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept { host_free(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const HostAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace hrnet

// Host (CPU) memory for large buffers. Allocations of 2 MiB or more are 2 MiB-aligned and, where
// the kernel's transparent huge pages are in "madvise" mode (the common default), asked for huge
// pages (madvise MADV_HUGEPAGE), as PyTorch's CPU allocator does: a 512x512 map set is 53 MB, and
// with 4 KiB pages touching it costs one page fault per 4 KiB and a TLB miss per random block
// read. Smaller allocations are 64-byte aligned (cache lines, any SIMD width).
//
// HRNET_HUGE_PAGES=0 in the environment turns the advice off (read once).
#pragma once
#include <cstddef>
#include <new>

namespace hrnet {

// Never returns null (throws std::bad_alloc); bytes == 0 gives a valid pointer to free.
void* host_allocate(std::size_t bytes);
void host_free(void* p) noexcept;

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
  void deallocate(T* p, std::size_t) noexcept { host_free(p); }
  template <class U>
  bool operator==(const HostAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace hrnet

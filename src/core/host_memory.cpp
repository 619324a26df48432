// Host memory for tensors and large buffers (see hrnet/core/host_memory.hpp).
#include "hrnet/core/host_memory.hpp"

#include <cstdlib>
#include <cstring>
#include <iterator>
#include <list>
#include <map>
#include <mutex>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define HRNET_HOST_CACHE_ALLOWED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HRNET_HOST_CACHE_ALLOWED 0
#endif
#endif
#ifndef HRNET_HOST_CACHE_ALLOWED
#define HRNET_HOST_CACHE_ALLOWED 1
#endif

namespace hrnet {
namespace {

constexpr std::size_t kLarge = std::size_t{2} << 20;  // 2 MiB: huge-page size and alignment

std::size_t rounded(std::size_t bytes) {
  const std::size_t a = bytes >= kLarge ? kLarge : 64;
  return bytes == 0 ? a : (bytes + a - 1) / a * a;
}

bool env_flag_off(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && std::strcmp(v, "0") == 0;
}

std::size_t cache_limit() {
  static const std::size_t limit = [] {
    if (!HRNET_HOST_CACHE_ALLOWED) return std::size_t{0};
    const char* v = std::getenv("HRNET_HOST_CACHE_MB");
    constexpr std::size_t kDefault = std::size_t{1024} << 20;
    if (v == nullptr || *v == '\0') return kDefault;
    char* end = nullptr;
    const unsigned long long mb = std::strtoull(v, &end, 10);
    return end != nullptr && *end == '\0' ? static_cast<std::size_t>(mb) << 20 : kDefault;
  }();
  return limit;
}

// Freed large blocks, in the order they were freed (oldest first) and by rounded size: a request
// takes the most recently freed block of its size; when the limit is reached the oldest go first,
// so the cache follows the sizes in use now (e.g. validation images of changing aspect ratios)
// instead of filling up with sizes no longer asked for. A plain mutex: large allocations are few
// per step.
struct Cache {
  struct Block {
    std::size_t size;
    void* p;
  };
  std::mutex mutex;
  std::list<Block> order;                                      // oldest first
  std::multimap<std::size_t, std::list<Block>::iterator> by_size;  // equal sizes in freeing order
  std::size_t bytes = 0;

  void* take(std::size_t size) {  // (mutex held) a cached block of this size, or null
    const auto [lo, hi] = by_size.equal_range(size);
    if (lo == hi) return nullptr;
    const auto last = std::prev(hi);
    void* p = last->second->p;
    order.erase(last->second);
    by_size.erase(last);
    bytes -= size;
    return p;
  }
  void put(std::size_t size, void* p, std::size_t limit) {  // (mutex held) may throw bad_alloc
    while (bytes + size > limit && !order.empty()) {  // the oldest make room
      const Block old = order.front();
      const auto [lo, hi] = by_size.equal_range(old.size);
      for (auto it = lo; it != hi; ++it)
        if (it->second == order.begin()) {
          by_size.erase(it);
          break;
        }
      order.pop_front();
      std::free(old.p);
      bytes -= old.size;
    }
    order.push_back({size, p});
    try {
      by_size.emplace(size, std::prev(order.end()));
    } catch (...) {
      order.pop_back();
      throw;
    }
    bytes += size;
  }
  void release() {
    std::lock_guard<std::mutex> lock(mutex);
    for (const Block& b : order) std::free(b.p);
    order.clear();
    by_size.clear();
    bytes = 0;
  }
};

// Never destroyed: tensors in static objects may be freed after main returns.
Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}

}  // namespace

void* host_allocate(std::size_t bytes) {
  if (bytes > static_cast<std::size_t>(-1) - kLarge) throw std::bad_alloc();  // (rounding up would wrap)
  const std::size_t size = rounded(bytes);
  const bool large = size >= kLarge;
  if (large && cache_limit() > 0) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    if (void* p = c.take(size)) return p;
  }
  void* p = std::aligned_alloc(large ? kLarge : 64, size);
  if (p == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  static const bool huge_pages = !env_flag_off("HRNET_HUGE_PAGES");
  if (large && huge_pages) (void)madvise(p, size, MADV_HUGEPAGE);  // advice only: failure is harmless
#endif
  return p;
}

void host_free(void* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
  const std::size_t size = rounded(bytes);
  if (size >= kLarge && cache_limit() > 0) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    if (size <= cache_limit()) {
      try {
        c.put(size, p, cache_limit());
        return;
      } catch (...) {  // (no memory for the bookkeeping: free the block instead)
      }
    }
  }
  std::free(p);
}

std::size_t host_cache_bytes() noexcept {
  if (cache_limit() == 0) return 0;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.bytes;
}

void host_cache_release() noexcept {
  if (cache_limit() > 0) cache().release();
}

bool host_cache_enabled() noexcept { return cache_limit() > 0; }

}  // namespace hrnet

// Private to src/data: per-thread reusable temporary buffers for the image hot paths (region decoding,
// resampling), so that a call allocates nothing in the steady state: a fresh allocation of a few
// hundred KB costs page faults and zeroing, which showed up as ~10% of a 224x224 training transform.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace hrnet::data::detail {

// The thread's buffer number `slot` (uninitialised, at least `bytes` long) for the lifetime of this
// object; above kMaxCached bytes a private allocation instead, so that one huge image does not stay
// allocated per thread. Users of one slot must not nest.
class Scratch {
 public:
  static constexpr std::size_t kSlots = 6;
  static constexpr std::size_t kMaxCached = std::size_t(32) << 20;

  Scratch(std::size_t slot, std::size_t bytes) {
    if (bytes > kMaxCached) {
      own_.reset(new std::uint8_t[bytes]);
      data_ = own_.get();
      return;
    }
    Buffer& b = buffers()[slot];
    if (b.size < bytes) {
      b.data.reset();  // free first: the old and the new buffer need not coexist
      b.data.reset(new std::uint8_t[bytes]);
      b.size = bytes;
    }
    data_ = b.data.get();
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  std::uint8_t* data() const { return data_; }
  template <class T>
  T* as() const {
    return reinterpret_cast<T*>(data_);
  }

 private:
  struct Buffer {
    std::unique_ptr<std::uint8_t[]> data;
    std::size_t size = 0;
  };
  static std::array<Buffer, kSlots>& buffers() {
    thread_local std::array<Buffer, kSlots> b;
    return b;
  }
  std::unique_ptr<std::uint8_t[]> own_;
  std::uint8_t* data_ = nullptr;
};

}  // namespace hrnet::data::detail

// A prefetching batch loader: `workers` threads build batches 0, 1, ..., count-1 ahead of the
// consumer (at most `prefetch` batches not yet taken) and next() hands them out in order. The
// produce function must be a pure function of the batch index (give each sample its own RNG
// stream), so the batches do not depend on the number of threads or on their timing.
// An exception thrown by produce(b) is rethrown by the next() that would return batch b.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "hrnet/core/error.hpp"

namespace hrnet::data {

template <class Batch>
class PrefetchLoader {
 public:
  using Produce = std::function<Batch(std::int64_t batch_index)>;

  PrefetchLoader(std::int64_t count, Produce produce, int workers, int prefetch)
      : count_(count), produce_(std::move(produce)), capacity_(std::max(1, prefetch)) {
    HRNET_CHECK(count >= 0, ValueError, "PrefetchLoader: negative batch count " << count);
    if (workers <= 0) return;  // synchronous: next() builds the batch itself
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  }
  PrefetchLoader(const PrefetchLoader&) = delete;
  PrefetchLoader& operator=(const PrefetchLoader&) = delete;
  ~PrefetchLoader() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  std::int64_t size() const { return count_; }

  // The next batch in order, or nullopt after the last one. Rethrows the producer's exception.
  std::optional<Batch> next() {
    if (taken_ >= count_) return std::nullopt;
    const std::int64_t b = taken_++;
    if (threads_.empty()) return produce_(b);
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return ready_.count(b) > 0; });
    Slot slot = std::move(ready_.at(b));
    ready_.erase(b);
    consumed_ = taken_;
    lock.unlock();
    cv_.notify_all();
    if (slot.error) std::rethrow_exception(slot.error);
    return std::move(slot.batch);
  }

 private:
  struct Slot {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };

  void work() {
    for (;;) {
      std::int64_t b;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || (next_ < count_ && next_ < consumed_ + capacity_); });
        if (stop_) return;
        b = next_++;
      }
      Slot slot;
      try {
        slot.batch.emplace(produce_(b));
      } catch (...) {
        slot.error = std::current_exception();
      }
      {
        std::lock_guard lock(mu_);
        ready_.emplace(b, std::move(slot));
      }
      cv_.notify_all();
    }
  }

  const std::int64_t count_;
  Produce produce_;
  const std::int64_t capacity_;
  std::int64_t taken_ = 0;  // consumer thread only
  std::mutex mu_;
  std::condition_variable cv_;
  std::int64_t next_ = 0, consumed_ = 0;
  bool stop_ = false;
  std::map<std::int64_t, Slot> ready_;
  std::vector<std::thread> threads_;
};

}  // namespace hrnet::data

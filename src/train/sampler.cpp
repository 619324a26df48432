// Epoch order and sharding (see hrnet/train/sampler.hpp).
#include "hrnet/train/sampler.hpp"

#include <algorithm>
#include <numeric>

#include "hrnet/core/error.hpp"
#include "hrnet/core/rng.hpp"

namespace hrnet::train {
namespace {
std::uint64_t mix(std::uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
}  // namespace

std::uint64_t stream_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b) { return mix(mix(mix(seed) ^ a) ^ b); }

EpochSampler::EpochSampler(Options o) : o_(o) {
  HRNET_CHECK(o.size > 0, ValueError, "EpochSampler: the dataset is empty");
  HRNET_CHECK(o.batch > 0, ValueError, "EpochSampler: batch must be positive, got " << o.batch);
  HRNET_CHECK(o.world_size > 0 && o.rank >= 0 && o.rank < o.world_size, ValueError,
              "EpochSampler: rank " << o.rank << " of world size " << o.world_size);
}

std::int64_t EpochSampler::samples_per_rank() const { return (o_.size + o_.world_size - 1) / o_.world_size; }

std::int64_t EpochSampler::steps_per_epoch() const { return (samples_per_rank() + o_.batch - 1) / o_.batch; }

std::vector<std::int64_t> EpochSampler::epoch_indices(std::int64_t epoch) const {
  const std::int64_t n = o_.size;
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  if (o_.shuffle) {
    Rng rng(stream_seed(o_.seed, static_cast<std::uint64_t>(epoch), ~0ull));
    for (std::int64_t i = n - 1; i > 0; --i)
      std::swap(order[static_cast<std::size_t>(i)], order[rng.below(static_cast<std::uint64_t>(i + 1))]);
  }
  if (o_.world_size == 1) return order;
  const std::int64_t total = samples_per_rank() * o_.world_size;
  std::vector<std::int64_t> mine;
  mine.reserve(static_cast<std::size_t>(samples_per_rank()));
  for (std::int64_t j = o_.rank; j < total; j += o_.world_size) mine.push_back(order[static_cast<std::size_t>(j % n)]);
  return mine;
}

std::span<const std::int64_t> EpochSampler::step_indices(const std::vector<std::int64_t>& indices, std::int64_t step) const {
  const auto count = static_cast<std::int64_t>(indices.size());
  const std::int64_t lo = std::min(count, step * o_.batch), hi = std::min(count, lo + o_.batch);
  return std::span<const std::int64_t>(indices.data() + lo, static_cast<std::size_t>(hi - lo));
}

}  // namespace hrnet::train

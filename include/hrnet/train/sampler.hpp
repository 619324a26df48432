// Which samples each step of an epoch takes.
//
// Epoch e's order is a Fisher-Yates shuffle of 0..n-1 drawn from stream (seed, e) (or 0..n-1 when
// shuffling is off), so it depends on nothing but (seed, e): a resumed run sees exactly the data an
// uninterrupted one would. With several ranks the order is padded by repeating its head up to a
// multiple of the world size and rank r takes positions r, r + world, ... (PyTorch's
// DistributedSampler), so every rank runs the same number of steps. Steps take `batch` consecutive
// entries of the rank's share; the last step of an epoch may be partial.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace hrnet::train {

// Independent random streams from (seed, a, b): splitmix64's finaliser applied three times.
std::uint64_t stream_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b);

class EpochSampler {
 public:
  struct Options {
    std::int64_t size = 0;   // samples in the dataset (> 0)
    std::int64_t batch = 1;  // samples per step on each rank (> 0)
    std::uint64_t seed = 0;
    bool shuffle = true;
    int rank = 0, world_size = 1;
  };
  explicit EpochSampler(Options o);

  std::int64_t steps_per_epoch() const;  // the same on every rank
  std::int64_t samples_per_rank() const;
  // This rank's sample indices for epoch `epoch`, in step order.
  std::vector<std::int64_t> epoch_indices(std::int64_t epoch) const;
  // The indices of step `step` within `indices` (a view into it).
  std::span<const std::int64_t> step_indices(const std::vector<std::int64_t>& indices, std::int64_t step) const;

  const Options& options() const { return o_; }

 private:
  Options o_;
};

}  // namespace hrnet::train

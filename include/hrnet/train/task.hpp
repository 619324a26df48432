// What a training task gives the engine (hrnet/train/engine.hpp). The engine owns the loop, the
// optimizer, the schedule, the sampler, checkpoints, logs and progress; a task owns its data, its
// model and its losses. A task is a class with:
//
//   using Device = CPU or CUDA;   using Batch = ...;   (a movable host-side batch with size())
//   nn::Module<float, Device>& model();
//   std::int64_t num_samples() const;                  // training samples (> 0)
//   std::string describe_data() const;                 // e.g. "64 training images in data/train2017"
//   std::vector<std::string> loss_names() const;        // the named terms, in StepLoss::terms order
//   void init_model(Rng& rng, std::ostream& out);       // a fresh start: initialisation, pretrained weights
//   std::optional<Batch> load_batch(std::span<const std::int64_t> samples, const SampleSeeds& seeds,
//                                   std::vector<std::string>& warnings) const;
//       // called from loader threads (must be thread-safe); a sample that cannot be read is
//       // skipped with a warning naming it; nullopt when none of them could be
//   StepLoss<Device> step_loss(const Batch& batch);     // forward + loss terms, recorded on the tape
//   MetricSpec metric() const;                          // the validation metric's key and label
//   ValidationReport validate(std::int64_t epoch);      // evaluate the current model
#pragma once
#include <concepts>
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "hrnet/autograd/var.hpp"
#include "hrnet/core/rng.hpp"
#include "hrnet/nn/module.hpp"
#include "hrnet/train/sampler.hpp"

namespace hrnet::train {

// Randomness of the samples of one epoch: sample i of epoch e draws from stream (seed, e, i), so a
// batch depends neither on the loader thread that made it nor on where a resumed run started.
struct SampleSeeds {
  std::uint64_t seed = 0;
  std::int64_t epoch = 0;
  Rng rng_for(std::int64_t sample) const {
    return Rng(stream_seed(seed, static_cast<std::uint64_t>(epoch), static_cast<std::uint64_t>(sample)));
  }
};

template <Device D>
struct StepLoss {
  Var<float, D> loss;               // the scalar that backward starts from
  std::vector<Var<float, D>> terms;  // the named terms (logged as their unweighted means)
};

struct MetricSpec {
  std::string key = "metric";    // CSV column val_<key>, checkpoint metadata best_<key>
  std::string label = "metric";  // as printed and in model_best's metadata, e.g. "AP"
};

struct ValidationReport {
  double metric = 0;                                  // higher is better
  std::string text;                                   // printed as is
  std::vector<std::pair<std::string, double>> scalars;  // TensorBoard, at step epoch + 1
};

template <class T>
concept TrainingTask = requires(T t, const T ct, Rng& rng, std::ostream& os, std::span<const std::int64_t> idx,
                                const SampleSeeds& seeds, std::vector<std::string>& warnings,
                                const typename T::Batch& batch, std::int64_t epoch) {
  typename T::Device;
  requires Device<typename T::Device>;
  typename T::Batch;
  { batch.size() } -> std::convertible_to<std::int64_t>;
  { t.model() } -> std::same_as<nn::Module<float, typename T::Device>&>;
  { ct.num_samples() } -> std::convertible_to<std::int64_t>;
  { ct.describe_data() } -> std::convertible_to<std::string>;
  { ct.loss_names() } -> std::same_as<std::vector<std::string>>;
  { t.init_model(rng, os) };
  { ct.load_batch(idx, seeds, warnings) } -> std::same_as<std::optional<typename T::Batch>>;
  { t.step_loss(batch) } -> std::same_as<StepLoss<typename T::Device>>;
  { ct.metric() } -> std::same_as<MetricSpec>;
  { t.validate(epoch) } -> std::same_as<ValidationReport>;
};

}  // namespace hrnet::train

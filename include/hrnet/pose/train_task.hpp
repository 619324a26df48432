// HigherHRNet bottom-up pose training as a task of the training engine (hrnet/train/task.hpp):
// COCO keypoints with the official filter and loss masks, the official augmentation and targets,
// masked heatmap MSE + associative-embedding loss per resolution, COCO keypoint AP for validation.
// train_pose (hrnet/pose/train_pose.hpp) runs it; a program can also run it with its own hooks.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "hrnet/data/pose_sample.hpp"
#include "hrnet/models/config.hpp"
#include "hrnet/train/task.hpp"

namespace hrnet::pose {

// The pose-specific part of an experiment file, read once.
struct PoseTaskOptions {
  std::optional<std::int64_t> val_images;  // validate on the first N images of DATASET.TEST only
};

template <Device D>
class PoseTrainTask {
 public:
  using Device = D;
  using Batch = data::PoseBatch;

  // cfg: the resolved experiment file (DATASET.ROOT set). Loads the training annotations and
  // builds the model (not yet initialised: the engine calls init_model or restores a checkpoint).
  PoseTrainTask(const models::ExperimentConfig& cfg, PoseTaskOptions options = {});
  ~PoseTrainTask();
  PoseTrainTask(const PoseTrainTask&) = delete;
  PoseTrainTask& operator=(const PoseTrainTask&) = delete;

  nn::Module<float, D>& model();
  std::int64_t num_samples() const;
  std::string describe_data() const;
  std::vector<std::string> loss_names() const;
  void init_model(Rng& rng, std::ostream& out);
  std::optional<Batch> load_batch(std::span<const std::int64_t> samples, const train::SampleSeeds& seeds,
                                  std::vector<std::string>& warnings) const;
  train::StepLoss<D> step_loss(const Batch& batch);
  train::MetricSpec metric() const { return {"ap", "AP"}; }
  train::ValidationReport validate(std::int64_t epoch);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

extern template class PoseTrainTask<CPU>;
#ifdef HRNET_WITH_CUDA
extern template class PoseTrainTask<CUDA>;
#endif

}  // namespace hrnet::pose

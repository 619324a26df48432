// HRNet-C ImageNet classification training as a task of the training engine
// (hrnet/train/task.hpp), following HRNet-Image-Classification's tools/train.py:
//   data   torchvision ImageFolder train/ and val/ (hrnet/data/image_folder.hpp); labels are the
//          sorted class-folder index into MODEL.NUM_CLASSES logits (1000, as the official model)
//   augm.  RandomResizedCrop(S) + flip + mean/std normalisation; eval resize int(S / 0.875) + centre
//          crop S (hrnet/data/cls_transforms.hpp), S = MODEL.IMAGE_SIZE[0]
//   loss   mean cross-entropy (optionally with label smoothing; the official recipe has none)
//   val    loss, top-1 and top-5 over every image of the validation folder (batch-size weighted, so
//          exact); the metric is top-1 in percent
// train_cls (hrnet/classification/train_cls.hpp) runs it.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "hrnet/data/cls_transforms.hpp"
#include "hrnet/data/image_folder.hpp"
#include "hrnet/models/cls_hrnet.hpp"
#include "hrnet/models/config.hpp"
#include "hrnet/train/task.hpp"

namespace hrnet::classification {

struct ClsBatch {
  Tensor<float, CPU> images;          // (N, 3, S, S), channels-last
  Tensor<std::int64_t, CPU> labels;   // (N)
  std::vector<std::int64_t> samples;  // dataset indices
  std::int64_t size() const { return static_cast<std::int64_t>(samples.size()); }
};

// Validation over a whole folder.
struct EvalResult {
  std::int64_t images = 0;   // evaluated
  std::int64_t skipped = 0;  // unreadable (each named in `warnings`)
  double loss = 0;           // mean cross-entropy
  double top1 = 0, top5 = 0;  // accuracy in percent
  int k5 = 5;                 // min(5, number of logits)
  std::vector<std::string> warnings;
  std::string text() const;   // the official log lines (Accuracy@k, Error@k) plus the loss
};

// The folder of images through the evaluation transform and the model (in eval mode, no tape).
// Ranks with ties count as a stable descending sort would (equal logits: the lower class first).
template <Device D>
EvalResult evaluate_folder(models::ClsHighResolutionNet<float, D>& model, const data::ImageFolder& folder,
                           const data::ClsTransformOptions& transform, int batch, int workers, double label_smoothing = 0);

// Counts of correct top-1 and top-k predictions of (N, K) logits, row-major.
struct TopK {
  std::int64_t top1 = 0, topk = 0;
};
TopK count_topk(std::span<const float> logits, std::span<const std::int64_t> labels, std::int64_t num_classes, int k);

struct ClsTaskOptions {
  double label_smoothing = 0;
};

template <Device D>
class ClsTrainTask {
 public:
  using Device = D;
  using Batch = ClsBatch;

  // cfg: a classification experiment with DATASET.ROOT resolved; indexes ROOT/TRAIN_SET and
  // ROOT/TEST_SET and builds the model (initialised by init_model or a checkpoint).
  explicit ClsTrainTask(const models::ExperimentConfig& cfg, ClsTaskOptions options = {});
  ~ClsTrainTask();
  ClsTrainTask(const ClsTrainTask&) = delete;
  ClsTrainTask& operator=(const ClsTrainTask&) = delete;

  nn::Module<float, D>& model();
  models::ClsHighResolutionNet<float, D>& network();
  std::int64_t num_samples() const;
  std::string describe_data() const;
  std::vector<std::string> loss_names() const { return {}; }
  void init_model(Rng& rng, std::ostream& out);
  std::optional<Batch> load_batch(std::span<const std::int64_t> samples, const train::SampleSeeds& seeds,
                                  std::vector<std::string>& warnings) const;
  train::StepLoss<D> step_loss(const Batch& batch);
  train::MetricSpec metric() const { return {"top1", "top1"}; }
  train::ValidationReport validate(std::int64_t epoch);

  const data::ImageFolder& train_folder() const;
  const data::ImageFolder& val_folder() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

extern template class ClsTrainTask<CPU>;
#ifdef HRNET_WITH_CUDA
extern template class ClsTrainTask<CUDA>;
#endif

}  // namespace hrnet::classification

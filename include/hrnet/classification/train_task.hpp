// HRNet-C ImageNet classification training as a task of the training engine
// (hrnet/train/task.hpp), following HRNet-Image-Classification's tools/train.py or the TF port's
// trainer, as the recipe says:
//   data   a ClsDataset (hrnet/classification/cls_dataset.hpp): image folders or TFRecord shards;
//          labels are logit indices (folder index, or the record's label - 1 or as stored)
//   augm.  the recipe's train and eval transforms (hrnet/classification/cls_recipe.hpp)
//   loss   mean cross-entropy (optionally with label smoothing; neither reference recipe has any)
//   val    loss, top-1 and top-5 over every image of the validation set (batch-size weighted, so
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

#include "hrnet/classification/cls_dataset.hpp"
#include "hrnet/classification/cls_recipe.hpp"
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

// Validation over a whole dataset.
struct EvalResult {
  std::int64_t images = 0;   // evaluated
  std::int64_t skipped = 0;  // unreadable (each named in `warnings`)
  double loss = 0;           // mean cross-entropy
  double top1 = 0, top5 = 0;  // accuracy in percent
  int k5 = 5;                 // min(5, number of logits)
  std::vector<std::string> warnings;
  std::string text() const;   // the official log lines (Accuracy@k, Error@k) plus the loss
};

// Every sample of `data` through the recipe's evaluation transform and the model (in eval mode, no
// tape). Ranks with ties count as a stable descending sort would (equal logits: the lower class
// first). An unreadable sample is skipped with a warning naming it.
template <Device D>
EvalResult evaluate_dataset(models::ClsHighResolutionNet<float, D>& model, const ClsDataset& data, const ClsRecipe& recipe,
                            int batch, int workers, double label_smoothing = 0);

// Counts of correct top-1 and top-k predictions of (N, K) logits, row-major.
struct TopK {
  std::int64_t top1 = 0, topk = 0;
};
TopK count_topk(std::span<const float> logits, std::span<const std::int64_t> labels, std::int64_t num_classes, int k);

struct ClsTaskOptions {
  ClsRecipe recipe;
  double label_smoothing = 0;
  int val_batch = 32;  // validation batch size
  int workers = 0;     // validation loader threads
};

template <Device D>
class ClsTrainTask {
 public:
  using Device = D;
  using Batch = ClsBatch;

  // The model of `net` (initialised by init_model or a checkpoint) on the two datasets; throws
  // IoError when their labels cannot fit the model's logits or the folders' classes differ.
  ClsTrainTask(const models::ClsNetConfig& net, std::string model_source, std::unique_ptr<ClsDataset> train,
               std::unique_ptr<ClsDataset> val, ClsTaskOptions options);
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

  const ClsDataset& train_data() const;
  const ClsDataset& val_data() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

extern template class ClsTrainTask<CPU>;
#ifdef HRNET_WITH_CUDA
extern template class ClsTrainTask<CUDA>;
#endif

}  // namespace hrnet::classification

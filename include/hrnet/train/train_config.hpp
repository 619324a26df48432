// The task-independent part of an experiment file, parsed once into typed fields (no string
// look-ups in the training loop). The official keys: TRAIN.*, WORKERS, PRINT_FREQ, OUTPUT_DIR,
// AUTO_RESUME, and DATASET.DATASET / MODEL.NAME for the default output folder.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "hrnet/models/config.hpp"

namespace hrnet::train {

struct OptimizerConfig {
  std::string name = "adam";  // adam | sgd (TRAIN.OPTIMIZER)
  double lr = 1e-3;           // TRAIN.LR
  double momentum = 0.9;      // TRAIN.MOMENTUM (sgd)
  double weight_decay = 0;    // TRAIN.WD (sgd)
  bool nesterov = false;      // TRAIN.NESTEROV (sgd)
};

// The learning rate of every optimizer step (hrnet/train/lr_policy.hpp evaluates it).
struct ScheduleConfig {
  enum class Kind {
    kMultiStep,  // base_lr * factor^(milestones passed): PyTorch MultiStepLR / tf.train.piecewise_constant
    kCosine,     // eta_min + (base_lr - eta_min) (1 + cos(pi t / T)) / 2 over the whole run, per step
  };
  // What the milestones count: epochs (the official trainers step MultiStepLR once per epoch) or
  // optimizer steps (the TF port's piecewise_constant on global_step). A step milestone m means
  // "from step index m on" (steps counted from 0), so TF's boundary b (lr changes once
  // global_step > b) is milestone b + 1.
  enum class Unit { kEpoch, kStep };
  Kind kind = Kind::kMultiStep;
  Unit unit = Unit::kEpoch;
  double base_lr = 1e-3;                 // TRAIN.LR
  std::vector<std::int64_t> milestones;  // TRAIN.LR_STEP
  double factor = 0.1;                   // TRAIN.LR_FACTOR
  double eta_min = 0;                    // kCosine: the final learning rate
  // kCosine: the epochs the decay spans (0: up to END_EPOCH). A run stopped early and resumed
  // follows the same rates only when both parts use the same span.
  std::int64_t cosine_epochs = 0;
  // Linear warmup over the first warmup_epochs epochs, per step, from warmup_start_factor * lr to
  // lr (multiplied into the main schedule; 0: none, as the official recipes).
  double warmup_epochs = 0;
  double warmup_start_factor = 0.1;
};

struct TrainConfig {
  std::filesystem::path file;  // the experiment file (messages, checkpoint metadata)
  int begin_epoch = 0, end_epoch = 0;  // TRAIN.BEGIN_EPOCH, TRAIN.END_EPOCH (the epoch to stop at)
  int batch = 1;                       // TRAIN.IMAGES_PER_GPU (classification: TRAIN.BATCH_SIZE_PER_GPU)
  int workers = 0;                     // WORKERS: loader threads (0: the training thread loads)
  int print_freq = 1;                  // PRINT_FREQ (at least 1)
  bool shuffle = true;                 // TRAIN.SHUFFLE
  bool resume = false;                 // TRAIN.RESUME
  bool auto_resume = false;            // AUTO_RESUME
  std::filesystem::path checkpoint;    // TRAIN.CHECKPOINT (empty: the output folder's)
  std::filesystem::path default_output;  // OUTPUT_DIR/<DATASET.DATASET>/<MODEL.NAME>/<file stem> (classification: without <MODEL.NAME>)
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
};

// Reads and checks the fields above (after command-line overrides were applied with cfg.set);
// throws models::ConfigError naming the file and the key.
TrainConfig train_config(const models::ExperimentConfig& cfg);

}  // namespace hrnet::train

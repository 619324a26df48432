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

struct ScheduleConfig {  // MultiStepLR applied per epoch, as the official trainers do
  double base_lr = 1e-3;                // TRAIN.LR
  std::vector<std::int64_t> milestones;  // TRAIN.LR_STEP
  double factor = 0.1;                   // TRAIN.LR_FACTOR
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

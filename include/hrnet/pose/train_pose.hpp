// The HigherHRNet trainer behind build/bin/train_pose: the official recipe (lib/core/trainer.py,
// tools/dist_train.py) as a task of the training engine (hrnet/train/engine.hpp).
//
//   data   CocoKeypoints (official filter and loss masks) -> make_pose_sample (random affine, flip,
//          targets) in `workers` threads with prefetch; a fresh shuffle every epoch
//   loss   sum over resolutions of masked heatmap MSE x HEATMAPS_LOSS_FACTOR, plus the AE push/pull
//          terms x PUSH/PULL_LOSS_FACTOR where WITH_AE_LOSS (batch means, as do_train)
//   optim  Adam(lr) or SGD(lr, momentum, wd, nesterov) as get_optimizer builds them, MultiStepLR
//          (LR_STEP, LR_FACTOR) applied per epoch
//   state  <output>/checkpoint.safetensors after every epoch (atomic), final_state.safetensors at the
//          end; AUTO_RESUME or --resume continue from the checkpoint bit-for-bit
//   logs   a progress line every PRINT_FREQ iterations, train_log.csv / epoch_log.csv and
//          TensorBoard events under <output>/tb
//   val    optionally (val_every) COCO keypoint AP on DATASET.TEST every N epochs; the best model
//          by AP is kept as model_best.safetensors
//
// Randomness: the model init uses `seed`; the shuffle of epoch e uses stream (seed, e) and sample i of
// epoch e uses stream (seed, e, i), so batches do not depend on the loader threads, and a resumed run
// sees exactly the data an uninterrupted one would. With a fixed OMP_NUM_THREADS a CPU run is
// bit-for-bit repeatable.
#pragma once
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>

namespace hrnet::pose {

struct PoseTrainOptions {
  std::filesystem::path cfg;                   // official experiment YAML
  std::optional<std::filesystem::path> datadir;  // overrides DATASET.ROOT
  std::optional<int> max_epochs;               // overrides TRAIN.END_EPOCH
  std::string device = "cpu";                  // cpu | cuda
  std::optional<std::filesystem::path> output;  // default: OUTPUT_DIR/<dataset>/<model>/<cfg name>
  std::uint64_t seed = 0;
  bool seed_given = false;
  bool resume = false;                         // require a checkpoint and continue from it
  bool amp = false, dist = false;
  std::optional<int> workers;                  // overrides WORKERS
  std::optional<int> print_freq;               // overrides PRINT_FREQ
  std::optional<int> batch_size;               // overrides TRAIN.IMAGES_PER_GPU
  int val_every = 0;                           // evaluate on DATASET.TEST every N epochs (0: never)
  std::optional<std::int64_t> val_images;      // evaluate on the first N images only
  std::ostream* out = nullptr;                 // progress and messages (default std::cout)
};

struct PoseTrainResult {
  std::filesystem::path output_dir;
  std::int64_t epochs_completed = 0;  // including those of a resumed run
  std::int64_t steps = 0;
  double first_epoch_loss = 0, last_epoch_loss = 0;  // mean loss of the first/last epoch run now
  std::int64_t skipped_images = 0;                   // corrupt or unreadable images skipped
  double best_ap = -1;                               // best validation AP so far (-1: none)
};

// Runs the training; throws hrnet::Error (ConfigError, IoError, ...) with a message naming the file
// and the problem.
PoseTrainResult train_pose(const PoseTrainOptions& options);

}  // namespace hrnet::pose

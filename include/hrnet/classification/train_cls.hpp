// The HRNet-C trainer behind build/bin/train_cls: HRNet-Image-Classification's tools/train.py (and
// tools/valid.py for --testModel) as a task of the training engine (hrnet/train/engine.hpp).
//
//   data   DIR/<DATASET.DATASET>/images/{TRAIN_SET,TEST_SET} as the official update_config resolves
//          --dataDir (DIR/imagenet/images/{train,val}), or DIR/{train,val} when DIR holds those
//          folders; torchvision ImageFolder layout (hrnet/data/image_folder.hpp)
//   model  ClsHighResolutionNet from MODEL.EXTRA, MODEL.NUM_CLASSES logits (1000)
//   recipe the config's TRAIN.*: SGD(LR, MOMENTUM, WD, NESTEROV) over all parameters, MultiStepLR
//          (LR_STEP, LR_FACTOR) per epoch with the PyTorch 0.4.1 semantics the official README pins
//          (epochs 0-29 at LR, 30-59 at LR x 0.1, ...), batch TRAIN.BATCH_SIZE_PER_GPU per step
//   val    every `val_every` epochs (default 1, as the official trainer) and at the end: loss, top-1,
//          top-5 over the whole TEST_SET folder; the best by top-1 is model_best.safetensors
//   state  <output>/checkpoint.safetensors after every epoch (atomic); final_state.safetensors;
//          TRAIN.RESUME: true (as the official yamls) continues from the output folder's checkpoint
//          when there is one, bit-for-bit on the CPU with a fixed OMP_NUM_THREADS
//   logs   progress lines every PRINT_FREQ steps, train_log.csv, epoch_log.csv, tb/ (TensorBoard)
// Default output folder: OUTPUT_DIR/<DATASET.DATASET>/<config name>, as the official create_logger.
#pragma once
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>

namespace hrnet::classification {

struct ClsTrainOptions {
  std::filesystem::path cfg;                     // official experiment YAML (MODEL.NAME cls_hrnet)
  std::optional<std::filesystem::path> datadir;  // --dataDir (default: the config's DATA_DIR)
  std::optional<std::filesystem::path> test_model;  // --testModel: evaluate these weights only
  std::optional<int> max_epochs;                 // overrides TRAIN.END_EPOCH
  std::string device = "cpu";                    // cpu | cuda
  std::optional<std::filesystem::path> output;   // default OUTPUT_DIR/<dataset>/<config name>
  std::uint64_t seed = 0;
  bool seed_given = false;
  bool resume = false;                           // require a checkpoint and continue from it
  bool amp = false, dist = false;
  std::optional<int> workers;                    // overrides WORKERS
  std::optional<int> print_freq;                 // overrides PRINT_FREQ
  std::optional<int> batch_size;                 // overrides TRAIN.BATCH_SIZE_PER_GPU
  std::optional<int> batch_size_eval;            // overrides TEST.BATCH_SIZE_PER_GPU
  int val_every = 1;                             // validate every N epochs and at the end (0: never)
  double label_smoothing = 0;                    // 0: the official plain cross-entropy
  std::ostream* out = nullptr;                   // progress and messages (default std::cout)
};

struct ClsTrainResult {
  std::filesystem::path output_dir;
  std::int64_t epochs_completed = 0;
  std::int64_t steps = 0;
  double first_epoch_loss = 0, last_epoch_loss = 0;
  std::int64_t skipped_images = 0;
  double best_top1 = -1;  // best validation top-1 (percent) so far (-1: none)
  // --testModel
  bool evaluated = false;
  double loss = 0, top1 = 0, top5 = 0;
  std::int64_t images = 0;
};

// Trains, or with test_model evaluates; throws hrnet::Error naming the file or flag at fault.
ClsTrainResult train_cls(const ClsTrainOptions& options);

// The image root the official update_config resolves: DIR itself when it holds TRAIN_SET and
// TEST_SET folders, else DIR/<dataset>/images.
std::filesystem::path resolve_cls_data_root(const std::filesystem::path& datadir, const std::string& dataset,
                                            const std::string& train_set, const std::string& test_set);

}  // namespace hrnet::classification

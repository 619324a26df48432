// The HRNet-C trainer behind build/bin/train_cls, with both reference command lines:
//
//   official  HRNet-Image-Classification's tools/train.py (and tools/valid.py for --testModel):
//             --cfg YAML --datadir DIR. Images in DIR/<DATASET.DATASET>/images/{TRAIN_SET,TEST_SET}
//             as update_config resolves --dataDir, or DIR/{train,val}, or TFRecord shards in DIR;
//             MODEL.NUM_CLASSES logits (1000) on the folder index or the record's label - 1;
//             SGD(TRAIN.LR, MOMENTUM, WD, NESTEROV) with MultiStepLR(LR_STEP, LR_FACTOR) per epoch
//             (PyTorch 0.4.1 semantics, as the official README pins: epochs 0-29 at LR, 30-59 at
//             LR x 0.1, ...), batch TRAIN.BATCH_SIZE_PER_GPU; the official transforms.
//             TRAIN.RESUME: true (the official yamls) resumes the output folder's checkpoint.
//   TF port   tf-hrnet's top/train.py: --net_cfg CFG --data_path DIR (train-*-of-* and
//             validation-*-of-* shards, or train/ and val/ folders); HEAD.cls_num logits (1001) on
//             the record's label as stored; plain momentum SGD, lr lr_rate_init x global batch / 256,
//             weight decay NET.weight_l2_scale on all parameters, x0.1 after step int(N / batch x
//             {30, 60, 90}) (N: the training records); batch --batch_size (32); the port's
//             transforms (hrnet/classification/cls_recipe.hpp). --resume_training resumes.
//   both      validation every `val_every` epochs (default 1) and at the end: loss, top-1, top-5
//             over every validation image (exact, not the port's sampled approximation); the best by
//             top-1 is model_best.safetensors; <output>/checkpoint.safetensors after every epoch
//             (atomic), final_state.safetensors; progress lines, train_log.csv, epoch_log.csv, tb/;
//             --eval_only evaluates <output>/checkpoint.safetensors (or --weights FILE);
//             --lr_schedule cosine and --warmup_epochs N as options.
// Default output folder: OUTPUT_DIR/<DATASET.DATASET>/<config name> (official create_logger), or
// output/tf-hrnet/<cfg name> (TF port).
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
  std::filesystem::path net_cfg;                     // the TF port's .cfg (instead of cfg)
  std::optional<std::filesystem::path> data_path;    // --data_path (default ./data/tfrecord)
  bool eval_only = false;                            // evaluate the output folder's checkpoint (or `weights`)
  std::optional<std::filesystem::path> weights;      // --weights FILE for eval_only
  std::string lr_schedule = "step";                  // step (the recipe's milestones) | cosine
  double warmup_epochs = 0;                          // linear warmup (0: none)
  std::optional<int> max_epochs;                 // overrides TRAIN.END_EPOCH (TF port: 100 epochs)
  std::string device = "cpu";                    // cpu | cuda
  std::optional<std::filesystem::path> output;   // default OUTPUT_DIR/<dataset>/<config name>
  std::uint64_t seed = 0;
  bool seed_given = false;
  bool resume = false;                           // require a checkpoint and continue from it (--resume_training)
  bool amp = false, dist = false;
  std::optional<int> workers;                    // overrides WORKERS
  std::optional<int> print_freq;                 // overrides PRINT_FREQ
  std::optional<int> batch_size;                 // overrides TRAIN.BATCH_SIZE_PER_GPU (TF port: 32)
  std::optional<int> batch_size_eval;            // overrides TEST.BATCH_SIZE_PER_GPU (TF port: 32)
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

// The data root the official update_config resolves: DIR itself when it holds TFRecord shards or
// TRAIN_SET and TEST_SET folders, else DIR/<dataset>/images.
std::filesystem::path resolve_cls_data_root(const std::filesystem::path& datadir, const std::string& dataset,
                                            const std::string& train_set, const std::string& test_set);

}  // namespace hrnet::classification

// Typed training configuration (see hrnet/train/train_config.hpp).
#include "hrnet/train/train_config.hpp"

#include <algorithm>

namespace hrnet::train {

TrainConfig train_config(const models::ExperimentConfig& cfg) {
  const std::string file = cfg.path().string();
  TrainConfig c;
  c.file = cfg.path();
  c.begin_epoch = cfg.get_int("TRAIN.BEGIN_EPOCH");
  c.end_epoch = cfg.get_int("TRAIN.END_EPOCH");
  // the pose yamls name the per-GPU batch TRAIN.IMAGES_PER_GPU, the classification ones
  // TRAIN.BATCH_SIZE_PER_GPU; the classification schema has no AUTO_RESUME / TRAIN.CHECKPOINT
  const bool cls = cfg.family() == models::ConfigFamily::Classification;
  const char* batch_key = cls ? "TRAIN.BATCH_SIZE_PER_GPU" : "TRAIN.IMAGES_PER_GPU";
  c.batch = cfg.get_int(batch_key);
  c.workers = cfg.get_int("WORKERS");
  c.print_freq = std::max(1, cfg.get_int("PRINT_FREQ"));
  c.shuffle = cfg.get_bool("TRAIN.SHUFFLE");
  c.resume = cfg.get_bool("TRAIN.RESUME");
  c.auto_resume = cfg.has("AUTO_RESUME") && cfg.get_bool("AUTO_RESUME");
  if (cfg.has("TRAIN.CHECKPOINT")) c.checkpoint = cfg.get_string("TRAIN.CHECKPOINT");
  HRNET_CHECK(c.batch > 0, models::ConfigError, file << ": " << batch_key << " must be positive");
  HRNET_CHECK(c.workers >= 0, models::ConfigError, file << ": WORKERS must be >= 0");
  HRNET_CHECK(c.end_epoch >= c.begin_epoch, models::ConfigError,
              file << ": TRAIN.END_EPOCH " << c.end_epoch << " is before TRAIN.BEGIN_EPOCH " << c.begin_epoch);
  // create_logger: OUTPUT_DIR/<dataset>/<model>/<cfg name> (pose), OUTPUT_DIR/<dataset>/<cfg name> (classification)
  c.default_output = std::filesystem::path(cfg.get_string("OUTPUT_DIR")) / cfg.get_string("DATASET.DATASET");
  if (!cls) c.default_output /= cfg.get_string("MODEL.NAME");
  c.default_output /= cfg.path().stem();

  c.optimizer.name = cfg.get_string("TRAIN.OPTIMIZER");
  HRNET_CHECK(c.optimizer.name == "adam" || c.optimizer.name == "sgd", models::ConfigError,
              file << ": TRAIN.OPTIMIZER must be adam or sgd, got '" << c.optimizer.name << "'");
  c.optimizer.lr = cfg.get_double("TRAIN.LR");
  if (c.optimizer.name == "sgd") {
    c.optimizer.momentum = cfg.get_double("TRAIN.MOMENTUM");
    c.optimizer.weight_decay = cfg.get_double("TRAIN.WD");
    c.optimizer.nesterov = cfg.get_bool("TRAIN.NESTEROV");
  }
  c.schedule.base_lr = c.optimizer.lr;
  c.schedule.factor = cfg.get_double("TRAIN.LR_FACTOR");
  for (int m : cfg.get_int_list("TRAIN.LR_STEP")) c.schedule.milestones.push_back(m);
  return c;
}

}  // namespace hrnet::train

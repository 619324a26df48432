// The experiment-config target, shared by fuzz_experiment_yaml and fuzz_tf_cfg (one target per
// format, so that each has its own corpus and coverage): the file through the whole validation (the
// schema, the model structure, the input size and the printed dump).
#pragma once
#include "fuzz_util.hpp"
#include "hrnet/models/config.hpp"

namespace hrnet::fuzz {

inline void fuzz_experiment_config(const std::filesystem::path& path) {
  expect_clean([&] {
    using namespace hrnet::models;
    const ExperimentConfig cfg = load_experiment_config(path);
    (void)cfg.dump();
    expect_clean([&] { (void)model_input_size(cfg); });
    if (cfg.family() == ConfigFamily::Pose) (void)pose_net_config(cfg);
    else (void)cls_net_config(cfg);
  });
}

}  // namespace hrnet::fuzz

// The official experiment YAML (HigherHRNet and HRNet-Image-Classification) through the whole validation: the schema, the
// model structure (pose_net_config / cls_net_config), the input size and the printed dump.
#include "fuzz_util.hpp"
#include "hrnet/models/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = hrnet::fuzz::write_input("experiment.yaml", data, size);
  hrnet::fuzz::expect_clean([&] {
    using namespace hrnet::models;
    const ExperimentConfig cfg = load_experiment_config(path);
    (void)cfg.dump();
    hrnet::fuzz::expect_clean([&] { (void)model_input_size(cfg); });
    if (cfg.family() == ConfigFamily::Pose) (void)pose_net_config(cfg);
    else (void)cls_net_config(cfg);
  });
  return 0;
}

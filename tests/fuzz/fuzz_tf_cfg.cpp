// The TensorFlow port's INI .cfg through the whole validation: the schema, the
// model structure (pose_net_config / cls_net_config), the input size and the printed dump.
#include "config_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hrnet::fuzz::fuzz_experiment_config(hrnet::fuzz::write_input("experiment.cfg", data, size));
  return 0;
}

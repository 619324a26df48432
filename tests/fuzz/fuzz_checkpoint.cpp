// Training checkpoints: a safetensors file read by path, restored into a small model and its Adam
// optimizer (strict), and read as plain weights.
#include "fuzz_util.hpp"
#include "small_module.hpp"
#include "hrnet/optim/adam.hpp"
#include "hrnet/train/checkpoint.hpp"

namespace {
using namespace hrnet;

using Small = fuzz::SmallModule;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = fuzz::write_input("checkpoint.safetensors", data, size);
  Small m;
  optim::Adam<float, CPU> opt(m.parameters(), optim::AdamOptions{});
  fuzz::expect_clean([&] {
    const train::TrainProgress p = train::load_checkpoint(path, m, opt);
    (void)p;
  });
  Small w;
  fuzz::expect_clean([&] { (void)train::load_weights(w, path); });
  return 0;
}

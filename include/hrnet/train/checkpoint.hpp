// Training checkpoints: one safetensors file holding everything needed to continue a run.
//
//   <official parameter/buffer names>   the model's state dict, exactly as nn::state_dict writes it
//                                       (so the file also loads as plain weights, see load_weights)
//   optimizer.<key>                     the optimizer's state dict (moments, per-parameter steps)
//   __metadata__                        format, epoch (epochs completed), step (iterations done), seed,
//                                       and whatever the trainer adds (config file, best AP, ...)
//
// The write is atomic (temporary file, fsync, rename, fsync of the directory; io::write_safetensors),
// so a run killed at any moment leaves either the previous checkpoint or the new one, never a torn
// file. All of a run's randomness derives from (seed, epoch, sample index), so seed + epoch is the
// complete RNG state.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "hrnet/nn/state_dict.hpp"
#include "hrnet/optim/optimizer.hpp"

namespace hrnet::train {

inline constexpr const char* kCheckpointFormat = "hrnet-train-checkpoint-v1";
inline constexpr const char* kOptimizerPrefix = "optimizer.";

struct TrainProgress {
  std::int64_t epoch = 0;  // epochs completed: training continues with this epoch
  std::int64_t step = 0;   // optimizer steps taken
  std::uint64_t seed = 0;
  std::map<std::string, std::string> extra;  // free-form metadata (config path, best AP, ...)
};

template <FloatType T, Device D>
void save_checkpoint(const std::filesystem::path& path, const nn::Module<T, D>& model,
                     const optim::Optimizer<T, D>& opt, const TrainProgress& progress) {
  io::SafetensorsFile f = nn::state_dict(model);
  for (auto& [k, v] : opt.state_dict().tensors) f.tensors[kOptimizerPrefix + k] = std::move(v);
  f.metadata = progress.extra;
  f.metadata["format"] = kCheckpointFormat;
  f.metadata["epoch"] = std::to_string(progress.epoch);
  f.metadata["step"] = std::to_string(progress.step);
  f.metadata["seed"] = std::to_string(progress.seed);
  io::write_safetensors(path, f);
}

namespace detail {
inline std::int64_t meta_int(const io::SafetensorsFile& f, const std::filesystem::path& path, const char* key) {
  auto it = f.metadata.find(key);
  HRNET_CHECK(it != f.metadata.end(), IoError, path.string() << ": checkpoint metadata has no '" << key << "'");
  try {
    std::size_t used = 0;
    const long long v = std::stoll(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (const std::exception&) {
  }
  HRNET_THROW(IoError, path.string() << ": checkpoint metadata '" << key << "' is not an integer: '" << it->second << "'");
}
inline bool is_checkpoint(const io::SafetensorsFile& f) {
  auto it = f.metadata.find("format");
  return it != f.metadata.end() && it->second == kCheckpointFormat;
}
}  // namespace detail

// Restores model and optimizer (both strict: every key must match) and returns the progress.
template <FloatType T, Device D>
TrainProgress load_checkpoint(const std::filesystem::path& path, nn::Module<T, D>& model, optim::Optimizer<T, D>& opt) {
  io::SafetensorsFile f = io::read_safetensors(path);
  HRNET_CHECK(detail::is_checkpoint(f), IoError,
              path.string() << ": not an hrnet training checkpoint (metadata 'format' is not " << kCheckpointFormat << ")");
  io::SafetensorsFile weights, optimizer;
  for (auto& [k, v] : f.tensors) {
    if (k.rfind(kOptimizerPrefix, 0) == 0) optimizer.tensors[k.substr(std::string(kOptimizerPrefix).size())] = std::move(v);
    else weights.tensors[k] = std::move(v);
  }
  TrainProgress p;
  p.epoch = detail::meta_int(f, path, "epoch");
  p.step = detail::meta_int(f, path, "step");
  p.seed = static_cast<std::uint64_t>(detail::meta_int(f, path, "seed"));
  for (const auto& [k, v] : f.metadata)
    if (k != "format" && k != "epoch" && k != "step" && k != "seed") p.extra[k] = v;
  nn::load_state_dict(model, weights, true, path.string());
  try {
    opt.load_state_dict(optimizer);
  } catch (const Error& e) {
    HRNET_THROW(StateDictError, path.string() << ": optimizer state does not match: " << e.what());
  }
  return p;
}

// Model weights from either a plain weights file or a training checkpoint (its optimizer entries
// are skipped). Strict: missing, unexpected or mis-shaped keys throw StateDictError naming them.
template <FloatType T, Device D>
nn::LoadReport load_weights(nn::Module<T, D>& model, const std::filesystem::path& path) {
  io::SafetensorsFile f = io::read_safetensors(path);
  if (detail::is_checkpoint(f))
    std::erase_if(f.tensors, [](const auto& kv) { return kv.first.rfind(kOptimizerPrefix, 0) == 0; });
  return nn::load_state_dict(model, f, true, path.string());
}

}  // namespace hrnet::train

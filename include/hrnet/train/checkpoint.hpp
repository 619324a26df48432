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
// complete RNG state (the sampler's and the schedule's too).
//
// State is pluggable: a Checkpointer carries the model, the optimizer and the progress, plus any
// number of CheckpointComponents (a loss scaler, a communicator's state, ...), each under its own
// key prefix. A component with nothing to save adds nothing, so the layout stays the same.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

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

// One piece of state that a checkpoint carries. Tensors go under prefix() + name; metadata keys
// are shared by everyone, so a component should prefix them too.
class CheckpointComponent {
 public:
  virtual ~CheckpointComponent() = default;
  virtual std::string prefix() const = 0;  // non-empty, e.g. "scaler."
  virtual void save(io::SafetensorsFile& tensors_under_prefix, std::map<std::string, std::string>& metadata) const = 0;
  // `tensors` holds this component's entries with the prefix removed. Throws on a mismatch.
  virtual void load(const io::SafetensorsFile& tensors, const std::map<std::string, std::string>& metadata,
                    const std::filesystem::path& file) = 0;
};

template <FloatType T, Device D>
class Checkpointer {
 public:
  Checkpointer(nn::Module<T, D>& model, optim::Optimizer<T, D>& optimizer) : model_(model), optimizer_(optimizer) {}

  // Components must outlive the checkpointer; their prefixes must differ from "optimizer." and
  // from one another.
  void add(CheckpointComponent& c) {
    const std::string p = c.prefix();
    HRNET_CHECK(!p.empty() && p != kOptimizerPrefix, ValueError, "checkpoint component prefix '" << p << "' is reserved");
    for (const auto* o : extra_) HRNET_CHECK(o->prefix() != p, ValueError, "two checkpoint components use prefix '" << p << "'");
    extra_.push_back(&c);
  }

  void save(const std::filesystem::path& path, const TrainProgress& progress) const {
    write(path, model_, optimizer_, progress, extra_);
  }

  // The layout of every checkpoint; save_checkpoint is a Checkpointer without components.
  static void write(const std::filesystem::path& path, const nn::Module<T, D>& model, const optim::Optimizer<T, D>& opt,
                    const TrainProgress& progress, const std::vector<CheckpointComponent*>& extra) {
    io::SafetensorsFile f = nn::state_dict(model);
    for (auto& [k, v] : opt.state_dict().tensors) f.tensors[kOptimizerPrefix + k] = std::move(v);
    f.metadata = progress.extra;
    for (const auto* c : extra) {
      io::SafetensorsFile part;
      c->save(part, f.metadata);
      for (auto& [k, v] : part.tensors) f.tensors[c->prefix() + k] = std::move(v);
    }
    f.metadata["format"] = kCheckpointFormat;
    f.metadata["epoch"] = std::to_string(progress.epoch);
    f.metadata["step"] = std::to_string(progress.step);
    f.metadata["seed"] = std::to_string(progress.seed);
    io::write_safetensors(path, f);
  }

  // Restores everything (strict: every key must match) and returns the progress.
  TrainProgress load(const std::filesystem::path& path) {
    io::SafetensorsFile f = io::read_safetensors(path);
    HRNET_CHECK(detail::is_checkpoint(f), IoError,
                path.string() << ": not an hrnet training checkpoint (metadata 'format' is not " << kCheckpointFormat << ")");
    std::vector<io::SafetensorsFile> parts(extra_.size());
    io::SafetensorsFile weights, optimizer;
    for (auto& [k, v] : f.tensors) {
      bool claimed = false;
      for (std::size_t i = 0; i < extra_.size() && !claimed; ++i) {
        const std::string p = extra_[i]->prefix();
        if (k.rfind(p, 0) == 0) {
          parts[i].tensors[k.substr(p.size())] = std::move(v);
          claimed = true;
        }
      }
      if (claimed) continue;
      if (k.rfind(kOptimizerPrefix, 0) == 0) optimizer.tensors[k.substr(std::string(kOptimizerPrefix).size())] = std::move(v);
      else weights.tensors[k] = std::move(v);
    }
    TrainProgress p;
    p.epoch = detail::meta_int(f, path, "epoch");
    p.step = detail::meta_int(f, path, "step");
    p.seed = static_cast<std::uint64_t>(detail::meta_int(f, path, "seed"));
    for (const auto& [k, v] : f.metadata)
      if (k != "format" && k != "epoch" && k != "step" && k != "seed") p.extra[k] = v;
    nn::load_state_dict(model_, weights, true, path.string());
    try {
      optimizer_.load_state_dict(optimizer);
    } catch (const Error& e) {
      HRNET_THROW(StateDictError, path.string() << ": optimizer state does not match: " << e.what());
    }
    for (std::size_t i = 0; i < extra_.size(); ++i) extra_[i]->load(parts[i], f.metadata, path);
    return p;
  }

 private:
  nn::Module<T, D>& model_;
  optim::Optimizer<T, D>& optimizer_;
  std::vector<CheckpointComponent*> extra_;
};


template <FloatType T, Device D>
void save_checkpoint(const std::filesystem::path& path, const nn::Module<T, D>& model,
                     const optim::Optimizer<T, D>& opt, const TrainProgress& progress) {
  Checkpointer<T, D>::write(path, model, opt, progress, {});
}

// Restores model and optimizer (both strict: every key must match) and returns the progress.
template <FloatType T, Device D>
TrainProgress load_checkpoint(const std::filesystem::path& path, nn::Module<T, D>& model, optim::Optimizer<T, D>& opt) {
  return Checkpointer<T, D>(model, opt).load(path);
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

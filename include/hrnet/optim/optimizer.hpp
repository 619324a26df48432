// Optimizers over a list of parameters (Vars). A parameter that received no gradient since the
// last zero_grad is skipped, as in PyTorch. Per-parameter state is kept in the parameter's dtype
// and device; state_dict() exports it (with the step count) for checkpoints.
#pragma once
#include <string>
#include <vector>

#include "hrnet/autograd/var.hpp"
#include "hrnet/backend/dispatch.hpp"
#include "hrnet/io/safetensors.hpp"
#include "hrnet/io/tensor_io.hpp"

namespace hrnet::optim {

template <FloatType T, Device D>
class Optimizer {
 public:
  explicit Optimizer(std::vector<Var<T, D>*> params, double lr) : params_(std::move(params)), lr_(lr) {
    for (std::size_t i = 0; i < params_.size(); ++i) {
      HRNET_CHECK(params_[i] && params_[i]->defined() && params_[i]->requires_grad(), ValueError,
                  "optimizer: parameter " << i << " is undefined or does not require grad");
      for (std::size_t j = 0; j < i; ++j)
        HRNET_CHECK(params_[j]->id() != params_[i]->id(), ValueError,
                    "optimizer: parameters " << j << " and " << i << " are the same tensor (it would be stepped twice)");
    }
  }
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  // Drops the gradients (set_to_none, as PyTorch does by default).
  void zero_grad() {
    for (auto* p : params_) p->clear_grad();
  }
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  std::int64_t steps_taken() const { return step_; }

  // State as named tensors: "<i>.<buffer>" per parameter plus the scalar "step".
  io::SafetensorsFile state_dict() const {
    io::SafetensorsFile f;
    for (std::size_t i = 0; i < params_.size(); ++i)
    {
      bool has_state = false;
      for (const auto& [name, t] : named_state(i))
        if (t->defined()) {
          f.tensors[std::to_string(i) + "." + name] = io::to_raw(to_cpu(*t));
          has_state = true;
        }
      if (has_state)
        for (const auto& [name, c] : named_counters(i))
          f.tensors[std::to_string(i) + "." + name] = io::to_raw(Tensor<std::int64_t, CPU>::full(Shape{}, *c));
    }
    f.tensors["step"] = io::to_raw(Tensor<std::int64_t, CPU>::full(Shape{}, step_));
    return f;
  }
  void load_state_dict(const io::SafetensorsFile& f) {
    // Decode and validate everything first; commit only when all of it is good.
    auto it = f.tensors.find("step");
    HRNET_CHECK(it != f.tensors.end(), StateDictError, "optimizer state: missing 'step'");
    const std::int64_t step = read_count(it->second, "step");
    std::vector<std::pair<Tensor<T, D>*, Tensor<T, CPU>>> staged;
    std::vector<std::pair<std::int64_t*, std::int64_t>> staged_counters;
    for (std::size_t i = 0; i < params_.size(); ++i) {
      for (const auto& [name, c] : named_counters(i)) {
        const std::string key = std::to_string(i) + "." + name;
        auto kt = f.tensors.find(key);
        staged_counters.push_back({c, kt == f.tensors.end() ? 0 : read_count(kt->second, key)});
      }
      const auto state = named_state(i);
      std::size_t present = 0;
      for (const auto& [name, t] : state) present += f.tensors.count(std::to_string(i) + "." + name);
      HRNET_CHECK(present == 0 || present == state.size(), StateDictError,
                  "optimizer state of parameter " << i << " is incomplete: " << present << " of " << state.size()
                                                  << " buffers present");
      for (const auto& [name, t] : state) {
        const std::string key = std::to_string(i) + "." + name;
        auto kt = f.tensors.find(key);
        if (kt == f.tensors.end()) continue;  // no state yet for this parameter
        auto v = io::from_raw<T>(kt->second, key);
        HRNET_CHECK(v.shape() == params_[i]->shape(), StateDictError,
                    "optimizer state '" << key << "' has shape " << v.shape() << ", parameter " << i << " has "
                                        << params_[i]->shape());
        staged.push_back({t, v});
      }
    }
    for (auto& [t, v] : staged) *t = to_device<D>(v);
    for (auto& [c, v] : staged_counters) *c = v;
    step_ = step;
  }

 protected:
  // A count saved as a 0-d int64 tensor: exactly one element (a file's [0]-shaped tensor has none,
  // and reading its first element would read past the buffer).
  static std::int64_t read_count(const io::RawTensor& raw, const std::string& key) {
    const auto v = io::from_raw<std::int64_t>(raw, key);
    HRNET_CHECK(v.numel() == 1, StateDictError,
                "optimizer state '" << key << "' must be one integer, but has shape " << v.shape());
    return v[0];
  }
  virtual std::vector<std::pair<std::string, Tensor<T, D>*>> named_state(std::size_t i) const = 0;
  // Per-parameter integer state (e.g. Adam's step count), saved as 0-d int64 tensors.
  virtual std::vector<std::pair<std::string, std::int64_t*>> named_counters(std::size_t) const { return {}; }
  std::vector<Var<T, D>*> params_;
  double lr_;
  std::int64_t step_ = 0;
};

}  // namespace hrnet::optim

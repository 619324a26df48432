// Optimizers over a list of parameters (Vars). A parameter that received no gradient since the
// last zero_grad is skipped, as in PyTorch. Per-parameter state is kept in the parameter's dtype
// and device; state_dict() exports it (with the step count) for checkpoints.
#pragma once
#include <string>
#include <vector>

#include "hrnet/autograd/var.hpp"
#include "hrnet/io/safetensors.hpp"
#include "hrnet/io/tensor_io.hpp"

namespace hrnet::optim {

template <FloatType T, Device D>
class Optimizer {
 public:
  explicit Optimizer(std::vector<Var<T, D>*> params, double lr) : params_(std::move(params)), lr_(lr) {
    for (std::size_t i = 0; i < params_.size(); ++i)
      HRNET_CHECK(params_[i] && params_[i]->defined() && params_[i]->requires_grad(), ValueError,
                  "optimizer: parameter " << i << " is undefined or does not require grad");
  }
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad() {
    for (auto* p : params_) p->zero_grad();
  }
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  std::int64_t steps_taken() const { return step_; }

  // State as named tensors: "<i>.<buffer>" per parameter plus the scalar "step".
  io::SafetensorsFile state_dict() const {
    io::SafetensorsFile f;
    for (std::size_t i = 0; i < params_.size(); ++i)
      for (const auto& [name, t] : named_state(i))
        if (t->defined()) f.tensors[std::to_string(i) + "." + name] = io::to_raw(to_cpu(*t));
    f.tensors["step"] = io::to_raw(Tensor<std::int64_t, CPU>::full(Shape{}, step_));
    return f;
  }
  void load_state_dict(const io::SafetensorsFile& f) {
    auto it = f.tensors.find("step");
    HRNET_CHECK(it != f.tensors.end(), StateDictError, "optimizer state: missing 'step'");
    std::vector<std::pair<Tensor<T, D>*, Tensor<T, CPU>>> staged;
    for (std::size_t i = 0; i < params_.size(); ++i)
      for (const auto& [name, t] : named_state(i)) {
        const std::string key = std::to_string(i) + "." + name;
        auto kt = f.tensors.find(key);
        if (kt == f.tensors.end()) continue;  // no state yet for this parameter
        auto v = io::from_raw<T>(kt->second, key);
        HRNET_CHECK(v.shape() == params_[i]->shape(), StateDictError,
                    "optimizer state '" << key << "' has shape " << v.shape() << ", parameter " << i << " has "
                                        << params_[i]->shape());
        staged.push_back({t, v});
      }
    for (auto& [t, v] : staged) {
      if constexpr (is_cpu<D>) *t = v.clone();
      else *t = to_cuda(v);
    }
    step_ = io::from_raw<std::int64_t>(it->second, "step")[0];
  }

 protected:
  virtual std::vector<std::pair<std::string, Tensor<T, D>*>> named_state(std::size_t i) const = 0;
  std::vector<Var<T, D>*> params_;
  double lr_;
  std::int64_t step_ = 0;
};

}  // namespace hrnet::optim

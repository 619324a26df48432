// Adam (L2 weight decay added to the gradient) and AdamW (decoupled weight decay): torch.optim.Adam
// and torch.optim.AdamW without amsgrad. Each parameter counts its own steps (for the bias
// correction), as PyTorch's per-parameter state does.
#pragma once
#include <map>

#include "hrnet/optim/optimizer.hpp"

namespace hrnet::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled_weight_decay = false;  // true: AdamW
};

template <FloatType T, Device D>
class Adam : public Optimizer<T, D> {
 public:
  Adam(std::vector<Var<T, D>*> params, AdamOptions o) : Optimizer<T, D>(std::move(params), o.lr), o_(o) {
    HRNET_CHECK(o.lr >= 0 && o.eps >= 0 && o.weight_decay >= 0, ValueError, "Adam: lr, eps and weight_decay must be >= 0");
    HRNET_CHECK(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, ValueError,
                "Adam: betas must be in [0, 1), got (" << o.beta1 << ", " << o.beta2 << ")");
    m_.resize(this->params_.size());
    v_.resize(this->params_.size());
    steps_.assign(this->params_.size(), 0);
  }
  void step() override {
    ++this->step_;
    backend::check_backend<T, D>();
    // One multi-tensor step per distinct step count (the bias corrections differ); normally one.
    std::map<std::int64_t, std::vector<ParamSlot<T, D>>> groups;
    for (std::size_t i = 0; i < this->params_.size(); ++i) {
      Var<T, D>& p = *this->params_[i];
      if (!p.has_grad()) continue;
      init_state(i);
      groups[++steps_[i]].push_back({p.value().data(), p.grad().data(), m_[i].data(), v_[i].data(),
                                     p.value().numel()});
    }
    for (const auto& [step, slots] : groups)
      backend::adam_step_multi(slots, this->lr_, o_.beta1, o_.beta2, o_.eps, o_.weight_decay, o_.decoupled_weight_decay,
                               step);
  }

 protected:
  void init_state(std::size_t i) {  // zero moments at a parameter's first step
    if (m_[i].defined()) return;
    m_[i] = Tensor<T, D>::zeros(this->params_[i]->shape());
    v_[i] = Tensor<T, D>::zeros(this->params_[i]->shape());
  }
  std::vector<std::pair<std::string, Tensor<T, D>*>> named_state(std::size_t i) const override {
    return {{"exp_avg", const_cast<Tensor<T, D>*>(&m_[i])}, {"exp_avg_sq", const_cast<Tensor<T, D>*>(&v_[i])}};
  }
  std::vector<std::pair<std::string, std::int64_t*>> named_counters(std::size_t i) const override {
    return {{"step", const_cast<std::int64_t*>(&steps_[i])}};
  }

 private:
  AdamOptions o_;
  std::vector<Tensor<T, D>> m_, v_;
  std::vector<std::int64_t> steps_;
};

template <FloatType T, Device D>
Adam<T, D> AdamW(std::vector<Var<T, D>*> params, AdamOptions o) {
  o.decoupled_weight_decay = true;
  return Adam<T, D>(std::move(params), o);
}

}  // namespace hrnet::optim

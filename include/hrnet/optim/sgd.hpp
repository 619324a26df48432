// SGD with momentum, dampening, Nesterov and (coupled) weight decay: torch.optim.SGD.
#pragma once
#include "hrnet/optim/optimizer.hpp"

namespace hrnet::optim {

struct SGDOptions {
  double lr = 0.1;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

template <FloatType T, Device D>
class SGD : public Optimizer<T, D> {
 public:
  SGD(std::vector<Var<T, D>*> params, SGDOptions o) : Optimizer<T, D>(std::move(params), o.lr), o_(o) {
    HRNET_CHECK(o.lr >= 0 && o.momentum >= 0 && o.weight_decay >= 0, ValueError,
                "SGD: lr, momentum and weight_decay must be >= 0");
    HRNET_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0), ValueError,
                "SGD: Nesterov momentum requires momentum > 0 and zero dampening");
    buf_.resize(this->params_.size());
  }
  void step() override {
    backend::check_backend<T, D>();
    // One multi-tensor step per group: parameters taking their first step and the others (on CUDA
    // one fused launch each; on the CPU the parameters one after another, independent of grouping).
    std::vector<ParamSlot<T, D>> slots[2];
    for (std::size_t i = 0; i < this->params_.size(); ++i) {
      Var<T, D>& p = *this->params_[i];
      if (!p.has_grad()) continue;
      const bool first = !buf_[i].defined();
      if (o_.momentum != 0 && first) buf_[i] = Tensor<T, D>::empty(p.shape());
      slots[first].push_back({p.value().data(), p.grad().data(), o_.momentum != 0 ? buf_[i].data() : nullptr,
                              nullptr, p.value().numel()});
    }
    for (int first = 0; first < 2; ++first)
      if (!slots[first].empty())
        backend::sgd_step_multi(slots[first], this->lr_, o_.momentum, o_.dampening, o_.weight_decay, o_.nesterov,
                                first == 1);
    ++this->step_;
  }

 protected:
  std::vector<std::pair<std::string, Tensor<T, D>*>> named_state(std::size_t i) const override {
    return {{"momentum_buffer", const_cast<Tensor<T, D>*>(&buf_[i])}};
  }

 private:
  SGDOptions o_;
  std::vector<Tensor<T, D>> buf_;
};

}  // namespace hrnet::optim

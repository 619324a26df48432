// Module: the base of every layer and block. It keeps a hierarchical registry of named parameters,
// buffers and child modules whose dotted names are exactly PyTorch's state_dict keys
// (e.g. "stage2.0.fuse_layers.1.0.0.weight"), and the train/eval flag.
// Modules register members by reference, so they are neither copyable nor movable; hold them in
// std::unique_ptr or as direct members.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "hrnet/autograd/var.hpp"
#include "hrnet/core/rng.hpp"

namespace hrnet::nn {

// The generator layer constructors draw their initial weights from (like torch.manual_seed).
inline Rng& default_rng() {
  thread_local Rng rng(0);
  return rng;
}
inline void manual_seed(std::uint64_t seed) { default_rng().reseed(seed); }

template <FloatType T, Device D>
class Module {
 public:
  using value_type = T;
  using device_type = D;

  struct NamedParameter {
    std::string name;
    Var<T, D>* var;
  };
  // A buffer is either a tensor (running statistics) or an int64 counter stored as a 0-d I64
  // tensor (num_batches_tracked).
  struct NamedBuffer {
    std::string name;
    Tensor<T, D>* tensor = nullptr;
    std::int64_t* counter = nullptr;
  };

  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  virtual ~Module() = default;

  std::vector<NamedParameter> named_parameters(const std::string& prefix = "") const {
    std::vector<NamedParameter> out;
    for (const auto& p : params_) out.push_back({prefix + p.name, p.var});
    for (const auto& c : children_) {
      auto sub = c.module->named_parameters(child_prefix(prefix, c.name));
      out.insert(out.end(), sub.begin(), sub.end());
    }
    return out;
  }
  std::vector<NamedBuffer> named_buffers(const std::string& prefix = "") const {
    std::vector<NamedBuffer> out;
    for (const auto& b : buffers_) out.push_back({prefix + b.name, b.tensor, b.counter});
    for (const auto& c : children_) {
      auto sub = c.module->named_buffers(child_prefix(prefix, c.name));
      out.insert(out.end(), sub.begin(), sub.end());
    }
    return out;
  }
  std::vector<Var<T, D>*> parameters() const {
    std::vector<Var<T, D>*> out;
    for (auto& p : named_parameters()) out.push_back(p.var);
    return out;
  }
  std::int64_t num_parameters() const {
    std::int64_t n = 0;
    for (auto& p : named_parameters()) n += p.var->value().numel();
    return n;
  }

  void train(bool on = true) {
    training_ = on;
    for (auto& c : children_) c.module->train(on);
  }
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Drops the gradients (PyTorch's zero_grad(set_to_none=True)): a parameter that then receives
  // no gradient is skipped by the optimizer instead of being updated with a zero gradient.
  void zero_grad() {
    for (auto& p : named_parameters()) p.var->clear_grad();
  }

 protected:
  void register_parameter(std::string name, Var<T, D>& v) { params_.push_back({std::move(name), &v}); }
  void register_buffer(std::string name, Tensor<T, D>& t) { buffers_.push_back({std::move(name), &t, nullptr}); }
  void register_counter(std::string name, std::int64_t& c) { buffers_.push_back({std::move(name), nullptr, &c}); }
  // `name` may be dotted ("1.0") to reproduce nested nn.Sequential / nn.ModuleList naming; an
  // empty name merges the child's entries into this module's namespace.
  void register_module(std::string name, Module& m) {
    m.train(training_);
    children_.push_back({std::move(name), &m});
  }

 private:
  static std::string child_prefix(const std::string& prefix, const std::string& name) {
    return name.empty() ? prefix : prefix + name + ".";
  }
  struct Child {
    std::string name;
    Module* module;
  };
  std::vector<NamedParameter> params_;
  std::vector<NamedBuffer> buffers_;
  std::vector<Child> children_;
  bool training_ = true;
};

// A module with one input and one output, for structures chosen at run time (a branch of
// BasicBlocks or Bottlenecks, as a config file says).
template <FloatType T, Device D>
class UnaryModule : public Module<T, D> {
 public:
  virtual Var<T, D> forward(const Var<T, D>& x) = 0;
  Var<T, D> operator()(const Var<T, D>& x) { return forward(x); }
  // Multiply-adds of the convolutions and linear layers for an (h, w) input, in the convention of
  // the official get_model_summary; h and w become the output's size.
  virtual std::int64_t macs(std::int64_t& h, std::int64_t& w) const = 0;
};

// A parameter: a leaf Var that requires grad.
template <FloatType T, Device D>
Var<T, D> make_parameter(const Shape& s) {
  return Var<T, D>(Tensor<T, D>::zeros(s), true);
}

}  // namespace hrnet::nn

// Shared machinery of the differentiable ops: which inputs need gradients, recording a backward
// closure on the tape, and the compile-time backend checks.
#pragma once
#include <initializer_list>

#include "hrnet/autograd/var.hpp"
#include "hrnet/backend/cpu.hpp"
#include "hrnet/backend/cpu_pose.hpp"
#include "hrnet/backend/cuda.hpp"

// The ops call backend::f(tensors...): overload resolution on the tensors' device type picks
// cpu::f or gpu::f at compile time.
namespace hrnet::backend {
using namespace hrnet::cpu;
using namespace hrnet::gpu;
}  // namespace hrnet::backend

namespace hrnet::ops::detail {

// Every op calls this first: readable compile errors instead of template noise.
template <class T, class D>
constexpr void check_backend() {
  if constexpr (is_cpu<D>) {
    static_assert(ComputeType<T>,
                  "CPU ops compute in float or double: cast half/bfloat16 tensors with hrnet::cast<float> first");
  } else {
#ifndef HRNET_WITH_CUDA
    static_assert(dependent_false<D>,
                  "this hrnet library was built without CUDA (HRNET_WITH_CUDA=OFF): ops on CUDA tensors need a "
                  "CUDA build");
#endif
    static_assert(std::same_as<T, float>,
                  "autograd ops on CUDA run in float so far: the half/bfloat16 kernels are in hrnet/backend/cuda.hpp "
                  "(gpu::), and mixed-precision autograd (fp32 master weights, fp32 BN parameters) comes with AMP "
                  "training");
  }
}

template <class T, class D>
bool any_requires_grad(std::initializer_list<const Var<T, D>*> vs) {
  if (!autograd::grad_enabled()) return false;
  for (const auto* v : vs)
    if (v && v->defined() && v->requires_grad()) return true;
  return false;
}

// A tape entry: the op's output node and its backward closure.
template <class T, class D, class F>
class OpEntry final : public autograd::Tape::Node {
 public:
  OpEntry(std::shared_ptr<VarNode<T, D>> out, F fn) : out_(std::move(out)), fn_(std::move(fn)) {}
  autograd::Tape::Status run() override {
    using S = autograd::Tape::Status;
    if (!out_->grad.defined()) return out_.use_count() > 1 ? S::Kept : S::Dropped;
    fn_(out_->grad);
    return S::Ran;
  }
  bool alive() const override { return out_.use_count() > 1 || out_->grad.defined(); }

 private:
  std::shared_ptr<VarNode<T, D>> out_;
  F fn_;
};

// Records `fn(grad_of_out)` to run during backward when `out` has received a gradient.
template <class T, class D, class F>
void record(const Var<T, D>& out, F&& fn) {
  using Fn = std::decay_t<F>;
  autograd::tape().push(std::make_unique<OpEntry<T, D, Fn>>(out.node(), std::forward<F>(fn)));
}

inline int to_int(std::int64_t v) { return static_cast<int>(v); }

}  // namespace hrnet::ops::detail

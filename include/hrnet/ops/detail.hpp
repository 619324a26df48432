// Shared machinery of the differentiable ops: which inputs need gradients, recording a backward
// closure on the tape, and the compile-time backend checks.
#pragma once
#include <initializer_list>

#include "hrnet/autograd/var.hpp"
#include "hrnet/backend/dispatch.hpp"  // backend::f overload sets, check_backend

namespace hrnet::ops::detail {

using backend::check_backend;

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

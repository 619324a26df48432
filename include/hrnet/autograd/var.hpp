// Var<T, D>: a differentiable value. It holds the value tensor and, once some backward has
// reached it, its gradient. Copies of a Var share one node (like a torch.Tensor handle).
// Parameters are leaf Vars with requires_grad; op outputs require grad when any input does.
#pragma once
#include <memory>

#include "hrnet/autograd/tape.hpp"
#include "hrnet/backend/dispatch.hpp"
#include "hrnet/core/tensor.hpp"

namespace hrnet {

template <FloatType T, Device D>
struct VarNode {
  Tensor<T, D> value;
  Tensor<T, D> grad;  // undefined until a gradient arrives
  bool requires_grad = false;
};

template <FloatType T, Device D>
class Var {
 public:
  using value_type = T;
  using device_type = D;

  Var() = default;
  explicit Var(Tensor<T, D> value, bool requires_grad = false) : node_(std::make_shared<VarNode<T, D>>()) {
    node_->value = std::move(value);
    node_->requires_grad = requires_grad;
  }

  bool defined() const { return node_ != nullptr; }
  const Tensor<T, D>& value() const { return node_->value; }
  Tensor<T, D>& value() { return node_->value; }
  const Shape& shape() const { return node_->value.shape(); }
  bool requires_grad() const { return node_ && node_->requires_grad; }
  void set_requires_grad(bool r) { node_->requires_grad = r; }

  bool has_grad() const { return node_->grad.defined(); }
  const Tensor<T, D>& grad() const { return node_->grad; }
  // The gradient buffer, created zero-filled on first use; backward functions add into it.
  // const: a Var is a handle, and the node it points to is shared by all its copies.
  Tensor<T, D>& grad_buffer() const {
    if (!node_->grad.defined()) node_->grad = Tensor<T, D>::zeros(node_->value.shape());
    return node_->grad;
  }
  void zero_grad() const {
    if (node_->grad.defined()) node_->grad.zero_();
  }
  void clear_grad() { node_->grad = Tensor<T, D>(); }

  // Identity of the underlying node (two handles to one value compare equal).
  const VarNode<T, D>* id() const { return node_.get(); }
  // The shared node, for tape entries (see autograd/tape.hpp).
  const std::shared_ptr<VarNode<T, D>>& node() const { return node_; }

 private:
  std::shared_ptr<VarNode<T, D>> node_;
};

template <class V>
concept VarType = requires { typename V::value_type; typename V::device_type; } &&
                  std::same_as<V, Var<typename V::value_type, typename V::device_type>>;

// Starts reverse mode from a scalar: d(loss)/d(loss) = 1 (or `seed` for other shapes), then
// runs the whole tape. Gradients accumulate into every Var that requires grad.
template <FloatType T, Device D>
void backward(Var<T, D>& loss) {
  HRNET_CHECK(loss.requires_grad(), ValueError,
              "backward: the loss does not require grad (no parameter reached it, or it was computed under "
              "NoGradGuard)");
  HRNET_CHECK(loss.value().numel() == 1, ShapeError,
              "backward: the loss must have one element, got shape " << loss.shape()
                                                                     << "; use backward(out, seed) instead");
  backend::check_backend<T, D>();
  auto one = Tensor<T, D>::empty(loss.shape());
  backend::fill(one, 1.0f);
  backend::accumulate(one, loss.grad_buffer());
  autograd::tape().run_backward();
}

template <FloatType T, Device D>
void backward(Var<T, D>& out, const Tensor<T, D>& seed) {
  HRNET_CHECK(seed.shape() == out.shape(), ShapeError,
              "backward: seed shape " << seed.shape() << " differs from output shape " << out.shape());
  backend::check_backend<T, D>();
  backend::accumulate(seed, out.grad_buffer());
  autograd::tape().run_backward();
}

// Several outputs at once (e.g. every branch of a fusion layer): equivalent to the backward of
// sum_i <outs[i], seeds[i]>.
template <FloatType T, Device D>
void backward(std::vector<Var<T, D>>& outs, const std::vector<Tensor<T, D>>& seeds) {
  backend::check_backend<T, D>();
  HRNET_CHECK(outs.size() == seeds.size(), ValueError,
              "backward: " << outs.size() << " outputs but " << seeds.size() << " seeds");
  for (std::size_t i = 0; i < outs.size(); ++i) {
    HRNET_CHECK(seeds[i].shape() == outs[i].shape(), ShapeError,
                "backward: seed " << i << " shape " << seeds[i].shape() << " differs from output " << outs[i].shape());
    backend::accumulate(seeds[i], outs[i].grad_buffer());
  }
  autograd::tape().run_backward();
}

}  // namespace hrnet

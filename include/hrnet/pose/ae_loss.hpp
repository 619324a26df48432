// The associative-embedding (grouping) loss of HigherHRNet, official lib/core/loss.py AELoss,
// as a differentiable op with a handwritten backward.
//
//   auto [push, pull] = ops::ae_loss(tags, joints, AeLossType::Exp);
//
// tags   (N, K, H, W): the tag channels of the first output (outputs[0][:, 17:] for COCO with
//        tag_per_joint). The official code sees them flattened to (N, K*H*W, 1) in NCHW order.
// joints (N, M, J, 2) int64: the official `joints` target of the same resolution (M = 30 people,
//        J = 17 slots): (flat index k*H*W + y*W + x, visible flag). A 4-D tensor, so NHWC in
//        memory like every 4-D tensor: fill it with Tensor::at(n, m, j, c) (or load it with
//        io::get from a file in PyTorch's order). Entries with flag <= 0 are ignored; a visible
//        entry whose index is outside [0, K*H*W) throws ValueError naming image, person and slot.
// Returns push and pull per image, each of shape (N), exactly what AELoss.forward returns:
//   pull_n = (1/P) sum_p mean_{j visible} (t_pj - tbar_p)^2
//   push_n = 0.5 * (sum_{a,b} f(tbar_a - tbar_b) - P) / (P (P - 1))
//     f = exp(-d^2) (Exp, what the experiments use) or max(0, 1 - |d|) (Max),
// with P the people having >= 1 visible joint; P = 0 gives 0 and 0, P = 1 gives push 0. The
// trainer's AE terms are 0.001 * mean_N(push) + 0.001 * mean_N(pull) (images without people
// included in the mean). Gradients flow through the person means in both terms, as upstream.
#pragma once
#include "hrnet/backend/cpu_pose.hpp"
#include "hrnet/ops/detail.hpp"

namespace hrnet::ops {

template <FloatType T, Device D>
struct AeLoss {
  Var<T, D> push;  // (N)
  Var<T, D> pull;  // (N)
};

template <FloatType T, Device D>
AeLoss<T, D> ae_loss(const Var<T, D>& tags, const Tensor<std::int64_t, D>& joints, AeLossType type = AeLossType::Exp) {
  detail::check_backend<T, D>();
  HRNET_CHECK(type == AeLossType::Exp || type == AeLossType::Max, ValueError,
              "ae_loss: unknown loss type " << static_cast<int>(type));
  const Shape& s = tags.shape();
  HRNET_CHECK(s.rank() == 4, ShapeError, "ae_loss: tags must be (N, K, H, W), got " << s);
  const Shape& js = joints.shape();
  HRNET_CHECK(js.rank() == 4 && js[0] == s[0] && js[3] == 2, ShapeError,
              "ae_loss: joints must be (N, people, joints, 2) with N = " << s[0] << " for tags " << s << ", got "
                                                                         << js);
  auto push = Tensor<T, D>::empty({s[0]}), pull = Tensor<T, D>::empty({s[0]});
  // The CPU kernel throws on a visible index outside the tags; the GPU kernel cannot throw without
  // a host synchronisation, so there such an image gets a NaN push and pull (caught by the trainer's
  // NaN check) and no gradient, and nothing outside the tags is read. Indices are made on the host
  // (data::make_pose_sample builds them in range by construction).
  backend::ae_loss_forward(tags.value(), joints, type, push, pull);
  const bool rg = detail::any_requires_grad<T, D>({&tags});
  AeLoss<T, D> out{Var<T, D>(push, rg), Var<T, D>(pull, rg)};
  if (rg) {
    // joints are copied once and shared by both closures: a loader may refill its buffers
    // before backward runs
    const Tensor<std::int64_t, D> j = joints.clone();
    static constexpr const Tensor<T, D>* none = nullptr;  // typed, so the backend overload can be deduced
    detail::record(out.push, [tags, j, type](const Tensor<T, D>& gpush) {
      backend::ae_loss_backward(tags.value(), j, type, &gpush, none, tags.grad_buffer());
    });
    detail::record(out.pull, [tags, j, type](const Tensor<T, D>& gpull) {
      backend::ae_loss_backward(tags.value(), j, type, none, &gpull, tags.grad_buffer());
    });
  }
  return out;
}

}  // namespace hrnet::ops

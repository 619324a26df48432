// CPU backend of the pose-estimation (HigherHRNet) ops. Declarations only; definitions in
// kernels/cpu/ae_loss.cpp, explicitly instantiated for float and double. Same conventions as
// hrnet/backend/cpu.hpp: forward overwrites its outputs, backward ADDS into the gradient.
#pragma once
#include <cstdint>

#include "hrnet/backend/cpu.hpp"
#include "hrnet/backend/types.hpp"  // AeLossType

namespace hrnet::cpu {

// Associative-embedding loss of HigherHRNet (official lib/core/loss.py AELoss), per image.
//   tags   (N, K, H, W): the tag maps; the official code flattens image n to K*H*W tags in NCHW
//          order, so a flat index f names channel f / (H*W), row (f % (H*W)) / W, column f % W.
//   joints (N, M, J, 2) int64, 4-D and therefore NHWC in memory like every 4-D tensor (use
//          Tensor::at(n, m, j, c), or io::get, which converts from the file's NCHW order):
//          joints(n, m, j) = (flat index, visible flag); visible when the flag is > 0. Invisible
//          entries are ignored whatever their index.
//   push, pull (N): per-image losses, as AELoss.forward returns them (before the 0.001 factor).
// Throws ValueError naming image, person and joint slot when a visible index is outside
// [0, K*H*W). Computed in double in a fixed order.
template <ComputeType T>
void ae_loss_forward(const T4<T>& tags, const Tensor<std::int64_t, CPU>& joints, AeLossType type, T4<T>& push,
                     T4<T>& pull);
// dtags += d(sum_n dpush[n] * push[n] + dpull[n] * pull[n]) / dtags; a null dpush or dpull counts
// as zero.
template <ComputeType T>
void ae_loss_backward(const T4<T>& tags, const Tensor<std::int64_t, CPU>& joints, AeLossType type,
                      const T4<T>* dpush, const T4<T>* dpull, T4<T>& dtags);

}  // namespace hrnet::cpu

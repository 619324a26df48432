// The CPU backend: the exact, deterministic reference every other backend is tested against.
// Declarations only; definitions are in kernels/cpu/*.cpp (Eigen GEMM + OpenMP), explicitly
// instantiated for float and double, so that Eigen is compiled once and never by users.
//
// Conventions
// - 4-D tensors are (N, C, H, W) logically, NHWC in memory. Convolution weights (O, I, K, K) are
//   therefore OHWI in memory (cuDNN's NHWC filter layout); transposed-convolution weights keep
//   PyTorch's logical (I, O, K, K) and are IHWO in memory.
// - Forward functions overwrite their outputs. Backward functions ACCUMULATE (+=) into the
//   gradient tensors they are given, which is what reverse-mode autograd needs.
// - Determinism: every result is bit-for-bit repeatable from run to run on a given machine and
//   thread count. Our own reductions (BN statistics, bias gradients, losses) use a fixed partition
//   and order that does not depend on the thread count at all; the GEMMs inside convolution and
//   linear come from Eigen, whose blocking (and so rounding) depends on the thread count and the
//   detected cache sizes, so fix OMP_NUM_THREADS to compare runs across machines.
// - Signatures match gpu:: in hrnet/backend/cuda.hpp function for function (less the trailing
//   stream), so the ops, optimizers and autograd call backend::f and let the tensors' device type
//   pick the implementation. Batch-norm parameters and statistics and scalar loss results are
//   acc_t<T> tensors: fp32 for float (as on CUDA, where they are fp32 whatever the activation type)
//   and fp64 for double, which the double-precision gradchecks differentiate through.
#pragma once
#include <cstdint>
#include <vector>

#include "hrnet/backend/types.hpp"
#include "hrnet/core/tensor.hpp"

namespace hrnet::cpu {

template <class T> using T4 = Tensor<T, CPU>;
// Batch-norm parameters and statistics, scalar losses and sums: acc_t<T> (see the conventions).
template <class T> using A4 = Tensor<acc_t<T>, CPU>;

// ---- convolution -----------------------------------------------------------------------------
// y = conv2d(x, w) (+ b). x (N,Ci,H,W), w (Co,Ci,K,K), b (Co) or null, y (N,Co,Ho,Wo) with
// Ho = (H + 2p - K) / s + 1.
template <ComputeType T>
void conv2d_forward(const T4<T>& x, const T4<T>& w, const T4<T>* b, T4<T>& y, int stride, int pad);
template <ComputeType T>
void conv2d_backward_data(const T4<T>& dy, const T4<T>& w, T4<T>& dx, int stride, int pad);
template <ComputeType T>
void conv2d_backward_weight(const T4<T>& x, const T4<T>& dy, T4<T>& dw, int stride, int pad);
// db[c] += sum over N, H, W of dy[:, c]
template <ComputeType T>
void bias_backward(const T4<T>& dy, T4<T>& db);

// Transposed convolution (the adjoint of conv2d). x (N,Ci,H,W), w (Ci,Co,K,K), y (N,Co,Ho,Wo)
// with Ho = (H - 1) s - 2p + K + output_padding.
template <ComputeType T>
void conv_transpose2d_forward(const T4<T>& x, const T4<T>& w, const T4<T>* b, T4<T>& y, int stride, int pad);
template <ComputeType T>
void conv_transpose2d_backward_data(const T4<T>& dy, const T4<T>& w, T4<T>& dx, int stride, int pad);
template <ComputeType T>
void conv_transpose2d_backward_weight(const T4<T>& x, const T4<T>& dy, T4<T>& dw, int stride, int pad);

// ---- batch norm ------------------------------------------------------------------------------
// Training: batch statistics over (N, H, W); saves mean and 1/sqrt(var + eps) per channel and
// updates the running statistics (unbiased variance) with `momentum`, as PyTorch does.
template <ComputeType T>
void batch_norm_forward_train(const T4<T>& x, const A4<T>& gamma, const A4<T>& beta, A4<T>& running_mean,
                              A4<T>& running_var, T4<T>& y, A4<T>& save_mean, A4<T>& save_invstd,
                              double momentum, double eps);
// Inference: normalises with the running statistics.
template <ComputeType T>
void batch_norm_forward_eval(const T4<T>& x, const A4<T>& gamma, const A4<T>& beta, const A4<T>& running_mean,
                             const A4<T>& running_var, T4<T>& y, double eps);
// Gradient for either mode: training mode uses the saved batch statistics and differentiates
// through them; eval mode treats mean and invstd as constants. `eps` is the forward's: the CPU
// computes from invstd and does not read it (cuDNN requires it, and the two backends take the
// same arguments).
template <ComputeType T>
void batch_norm_backward(const T4<T>& x, const T4<T>& dy, const A4<T>& gamma, const A4<T>& mean,
                         const A4<T>& invstd, bool training, double eps, T4<T>* dx, A4<T>* dgamma,
                         A4<T>* dbeta);
// invstd[c] = 1 / sqrt(running_var[c] + eps), computed in double: the constants of eval-mode backward.
template <ComputeType P>
void batch_norm_eval_invstd(const T4<P>& running_var, double eps, T4<P>& invstd);
// The residual tail of a block: y = relu(bn(x) + z) (z null: y = relu(bn(x))), training mode. The
// composition of batch_norm_forward_train, add_forward and relu_forward, so its results are exactly
// those of the separate kernels.
template <ComputeType T>
void batch_norm_add_relu_forward_train(const T4<T>& x, const T4<T>* z, const A4<T>& gamma, const A4<T>& beta,
                                       A4<T>& running_mean, A4<T>& running_var, T4<T>& y, A4<T>& save_mean,
                                       A4<T>& save_invstd, double momentum, double eps);
// Its backward: g = dy * (y > 0) (relu_backward into zeros); dz += g; then batch_norm_backward with
// g in training mode. `beta` is unused here (cuDNN's fused backward needs it).
template <ComputeType T>
void batch_norm_add_relu_backward(const T4<T>& x, const T4<T>& y, const T4<T>& dy, const A4<T>& gamma,
                                  const A4<T>& beta, const A4<T>& mean, const A4<T>& invstd, double eps, T4<T>* dx,
                                  T4<T>* dz, A4<T>* dgamma, A4<T>* dbeta);

// ---- element-wise and data movement ------------------------------------------------------------
template <ComputeType T> void relu_forward(const T4<T>& x, T4<T>& y);
// dx += dy * (y > 0)
template <ComputeType T> void relu_backward(const T4<T>& y, const T4<T>& dy, T4<T>& dx);
// y = sum_i xs[i], summed left to right
template <ComputeType T> void add_forward(const std::vector<const T4<T>*>& xs, T4<T>& y);
// y = relu(sum_i xs[i]): add_forward, then relu_forward in place
template <ComputeType T> void add_relu_forward(const std::vector<const T4<T>*>& xs, T4<T>& y);
// dx += dy
template <ComputeType T> void accumulate(const T4<T>& dy, T4<T>& dx);
// x = value everywhere (value rounded to T once, as hrnet::convert does)
template <ComputeType T> void fill(T4<T>& x, float value);
// Element type conversion (hrnet::convert: round to nearest even), same shape.
template <StorageType To, StorageType From> void cast(const T4<From>& x, T4<To>& y);
// y[n,c,h,w] = x[n,c,h/f,w/f]
template <ComputeType T> void upsample_nearest_forward(const T4<T>& x, T4<T>& y, int factor);
// dx += sum over each f x f block of dy
template <ComputeType T> void upsample_nearest_backward(const T4<T>& dy, T4<T>& dx, int factor);
// The HRNet fusion node: y = relu(sum_j upsample_nearest(xs[j], factors[j])), j in order.
template <ComputeType T>
void fusion_sum_relu_forward(const std::vector<const T4<T>*>& xs, const std::vector<int>& factors, T4<T>& y);
// dxs[j] += upsample_backward(dy * (y > 0), factors[j]); null entries are skipped.
template <ComputeType T>
void fusion_sum_relu_backward(const T4<T>& y, const T4<T>& dy, const std::vector<T4<T>*>& dxs,
                              const std::vector<int>& factors);
// Concatenation along channels.
template <ComputeType T> void concat_forward(const std::vector<const T4<T>*>& xs, T4<T>& y);
template <ComputeType T> void concat_backward(const T4<T>& dy, const std::vector<T4<T>*>& dxs);
// Channel range [begin, begin + y.c) of x (the inverse of concat), and its backward dx[:, range] += dy.
template <ComputeType T> void slice_channels_forward(const T4<T>& x, std::int64_t begin, T4<T>& y);
template <ComputeType T> void slice_channels_backward(const T4<T>& dy, std::int64_t begin, T4<T>& dx);

// ---- resize and pooling ------------------------------------------------------------------------
// Bilinear, align_corners = false, PyTorch's source-index rule; output size from y's shape.
template <ComputeType T> void resize_bilinear_forward(const T4<T>& x, T4<T>& y);
// Global average pool: x (N,C,H,W) -> y (N,C)
template <ComputeType T> void global_avg_pool_forward(const T4<T>& x, T4<T>& y);
template <ComputeType T> void global_avg_pool_backward(const T4<T>& dy, T4<T>& dx);
// Max pool with -inf padding; output size from y's shape.
template <ComputeType T> void max_pool_forward(const T4<T>& x, T4<T>& y, int kernel, int stride, int pad);

// ---- linear --------------------------------------------------------------------------------------
// y = x w^T + b; x (N,F), w (O,F), b (O) or null, y (N,O)
template <ComputeType T> void linear_forward(const T4<T>& x, const T4<T>& w, const T4<T>* b, T4<T>& y);
template <ComputeType T>
void linear_backward(const T4<T>& x, const T4<T>& w, const T4<T>& dy, T4<T>* dx, T4<T>* dw, T4<T>* db);

// ---- losses and reductions (scalar results are 0-d acc_t<T> tensors) -----------------------------
// out = sum of all elements of x, accumulated in double in index order.
template <ComputeType T> void sum(const T4<T>& x, A4<T>& out);
// Mean softmax cross-entropy over the batch with label smoothing `smoothing` (PyTorch's rule).
template <ComputeType T>
void cross_entropy_forward(const T4<T>& logits, const Tensor<std::int64_t, CPU>& labels, double smoothing,
                           A4<T>& loss);
// dlogits += dloss * d(loss)/d(logits)
template <ComputeType T>
void cross_entropy_backward(const T4<T>& logits, const Tensor<std::int64_t, CPU>& labels, double smoothing,
                            const A4<T>& dloss, T4<T>& dlogits);
// mean over all elements of (pred - gt)^2 * mask; mask (N,1,H,W) broadcasts over channels.
template <ComputeType T>
void masked_mse_forward(const T4<T>& pred, const T4<T>& gt, const T4<T>& mask, A4<T>& loss);
template <ComputeType T>
void masked_mse_backward(const T4<T>& pred, const T4<T>& gt, const T4<T>& mask, const A4<T>& dloss, T4<T>& dpred);
// sum_i weights[i] * mean(xs[i]) in double, in order (the multi-term loss of a trainer), and its
// backward dxs[i] += dy * weights[i] / numel(xs[i]); null entries are skipped.
template <ComputeType T>
void weighted_mean_sum_forward(const std::vector<const T4<T>*>& xs, const std::vector<double>& weights, T4<T>& y);
template <ComputeType T>
void weighted_mean_sum_backward(const T4<T>& dy, const std::vector<double>& weights, const std::vector<T4<T>*>& dxs);

}  // namespace hrnet::cpu

// ---- optimizer steps (PyTorch's single-tensor update rules, element by element) -----------------
// The multi-tensor form of gpu:: (one call for a list of parameters); on the CPU it updates the
// parameters one after another, each element by element:
// SGD: d = g + wd*p; buf = first ? d : momentum*buf + (1-dampening)*d; d = nesterov ? d + momentum*buf : buf;
// p -= lr*d. State1 is the momentum buffer; with momentum == 0 it is unused (may be null).
namespace hrnet::cpu {
template <ComputeType T>
void sgd_step_multi(const std::vector<ParamSlot<T, CPU>>& params, double lr, double momentum, double dampening,
                    double weight_decay, bool nesterov, bool first_step);
// Adam / AdamW (decoupled = true): m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g;
// p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps). Adam adds wd*p to g; AdamW scales p by 1-lr*wd.
// State1 is m (exp_avg), state2 v (exp_avg_sq); t = step for every parameter in the list.
template <ComputeType T>
void adam_step_multi(const std::vector<ParamSlot<T, CPU>>& params, double lr, double beta1, double beta2, double eps,
                     double weight_decay, bool decoupled, std::int64_t step);
}  // namespace hrnet::cpu

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
#pragma once
#include <cstdint>
#include <vector>

#include "hrnet/core/tensor.hpp"

namespace hrnet::cpu {

template <class T> using T4 = Tensor<T, CPU>;

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
void batch_norm_forward_train(const T4<T>& x, const T4<T>& gamma, const T4<T>& beta, T4<T>& running_mean,
                              T4<T>& running_var, T4<T>& y, T4<T>& save_mean, T4<T>& save_invstd,
                              double momentum, double eps);
// Inference: normalises with the running statistics.
template <ComputeType T>
void batch_norm_forward_eval(const T4<T>& x, const T4<T>& gamma, const T4<T>& beta, const T4<T>& running_mean,
                             const T4<T>& running_var, T4<T>& y, double eps);
// Gradient for either mode: training mode uses the saved batch statistics and differentiates
// through them; eval mode treats mean and invstd as constants.
template <ComputeType T>
void batch_norm_backward(const T4<T>& x, const T4<T>& dy, const T4<T>& gamma, const T4<T>& mean,
                         const T4<T>& invstd, bool training, T4<T>* dx, T4<T>* dgamma, T4<T>* dbeta);

// ---- element-wise and data movement ------------------------------------------------------------
template <ComputeType T> void relu_forward(const T4<T>& x, T4<T>& y);
// dx += dy * (y > 0)
template <ComputeType T> void relu_backward(const T4<T>& y, const T4<T>& dy, T4<T>& dx);
// y = sum_i xs[i], summed left to right
template <ComputeType T> void add_forward(const std::vector<const T4<T>*>& xs, T4<T>& y);
// dx += dy
template <ComputeType T> void accumulate(const T4<T>& dy, T4<T>& dx);
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

// ---- losses (scalar results are 0-d tensors) -------------------------------------------------------
// Mean softmax cross-entropy over the batch with label smoothing `smoothing` (PyTorch's rule).
template <ComputeType T>
void cross_entropy_forward(const T4<T>& logits, const Tensor<std::int64_t, CPU>& labels, double smoothing,
                           T4<T>& loss);
// dlogits += dloss * d(loss)/d(logits)
template <ComputeType T>
void cross_entropy_backward(const T4<T>& logits, const Tensor<std::int64_t, CPU>& labels, double smoothing,
                            const T4<T>& dloss, T4<T>& dlogits);
// mean over all elements of (pred - gt)^2 * mask; mask (N,1,H,W) broadcasts over channels.
template <ComputeType T>
void masked_mse_forward(const T4<T>& pred, const T4<T>& gt, const T4<T>& mask, T4<T>& loss);
template <ComputeType T>
void masked_mse_backward(const T4<T>& pred, const T4<T>& gt, const T4<T>& mask, const T4<T>& dloss, T4<T>& dpred);
// sum_i weights[i] * mean(xs[i]) in double, in order (the multi-term loss of a trainer), and its
// backward dxs[i] += dy * weights[i] / numel(xs[i]); null entries are skipped.
template <ComputeType T>
void weighted_mean_sum_forward(const std::vector<const T4<T>*>& xs, const std::vector<double>& weights, T4<T>& y);
template <ComputeType T>
void weighted_mean_sum_backward(const T4<T>& dy, const std::vector<double>& weights, const std::vector<T4<T>*>& dxs);

}  // namespace hrnet::cpu

// ---- optimizer steps (PyTorch's single-tensor update rules, element by element) -----------------
namespace hrnet::cpu {
// SGD: d = g + wd*p; buf = first ? d : momentum*buf + (1-dampening)*d; d = nesterov ? d + momentum*buf : buf;
// p -= lr*d. With momentum == 0 the buffer is unused (may be null).
template <ComputeType T>
void sgd_step(T* p, const T* g, T* buf, std::int64_t n, double lr, double momentum, double dampening,
              double weight_decay, bool nesterov, bool first_step);
// Adam / AdamW (decoupled = true): m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g;
// p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps). Adam adds wd*p to g; AdamW scales p by 1-lr*wd.
template <ComputeType T>
void adam_step(T* p, const T* g, T* m, T* v, std::int64_t n, double lr, double beta1, double beta2, double eps,
               double weight_decay, bool decoupled, std::int64_t step);
}  // namespace hrnet::cpu

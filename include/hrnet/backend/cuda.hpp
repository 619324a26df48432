// The CUDA backend: cuDNN convolution and batch norm, cuBLAS(Lt) linear, and our own kernels for
// everything else. Declarations only, in plain C++ (no CUDA syntax), so host code includes this
// with the C++ compiler; definitions are in kernels/cuda/*.cu, explicitly instantiated for float,
// half and bfloat16. In a build without CUDA these functions are declared but not defined: code
// that calls them needs a CUDA build (the ops dispatch on the device type at compile time).
//
// Conventions (the same as hrnet/backend/cpu.hpp, which is the tested reference):
// - 4-D tensors are (N, C, H, W) logically, NHWC in memory; convolution weights OHWI;
//   transposed-convolution weights (I, O, K, K) logically, IHWO in memory.
// - Forward functions overwrite their outputs; backward functions ACCUMULATE (+=) into the
//   gradients they are given.
// - Storage types float, half and bfloat16; arithmetic and every reduction in fp32. Batch-norm
//   scale, bias, running and saved statistics are fp32 whatever the activation type. Scalar losses
//   are fp32. fp32 convolution and GEMM use IEEE fp32 math unless set_allow_tf32(true).
// - Signatures match cpu:: function for function, plus the trailing stream: where cpu:: takes
//   acc_t<T> tensors (BN parameters and statistics, scalar losses), gpu:: takes G<float>, which is
//   acc_t<T> for every GpuType.
// - Every function takes the stream it runs on (default: the calling thread's current stream), and
//   none synchronises with the host unless it says so.
#pragma once
#include <concepts>
#include <cstdint>
#include <vector>

#include "hrnet/backend/cuda_runtime.hpp"
#include "hrnet/backend/types.hpp"  // AeLossType, ParamSlot
#include "hrnet/core/tensor.hpp"

namespace hrnet {
// Types the CUDA backend computes on (storage; arithmetic is fp32).
template <class T>
concept GpuType = std::same_as<T, float> || std::same_as<T, half> || std::same_as<T, bfloat16>;
}  // namespace hrnet

namespace hrnet::gpu {

using cuda::Stream;
template <class T> using G = Tensor<T, CUDA>;

// ---- settings (process-wide) -------------------------------------------------------------------
// benchmark: choose convolution algorithms by timing them once per shape (cudnn.benchmark); on by
// default. deterministic: only algorithms whose results do not vary from run to run (overrides
// benchmark's choice set, as torch.backends.cudnn.deterministic). allow_tf32: TF32 tensor-core math
// for fp32 convolutions and GEMMs; off by default (fp32 means IEEE fp32).
void set_cudnn_benchmark(bool on);
void set_deterministic(bool on);
void set_allow_tf32(bool on);
bool cudnn_benchmark();
bool deterministic();
bool allow_tf32();

// ---- convolution (cuDNN) -------------------------------------------------------------------------
template <GpuType T>
void conv2d_forward(const G<T>& x, const G<T>& w, const G<T>* b, G<T>& y, int stride, int pad,
                    Stream s = cuda::current_stream());
template <GpuType T>
void conv2d_backward_data(const G<T>& dy, const G<T>& w, G<T>& dx, int stride, int pad,
                          Stream s = cuda::current_stream());
template <GpuType T>
void conv2d_backward_weight(const G<T>& x, const G<T>& dy, G<T>& dw, int stride, int pad,
                            Stream s = cuda::current_stream());
// db[c] += sum over N, H, W of dy[:, c]
template <GpuType T>
void bias_backward(const G<T>& dy, G<T>& db, Stream s = cuda::current_stream());
// Transposed convolution; y's shape gives the output size (so output_padding is implied).
template <GpuType T>
void conv_transpose2d_forward(const G<T>& x, const G<T>& w, const G<T>* b, G<T>& y, int stride, int pad,
                              Stream s = cuda::current_stream());
template <GpuType T>
void conv_transpose2d_backward_data(const G<T>& dy, const G<T>& w, G<T>& dx, int stride, int pad,
                                    Stream s = cuda::current_stream());
template <GpuType T>
void conv_transpose2d_backward_weight(const G<T>& x, const G<T>& dy, G<T>& dw, int stride, int pad,
                                      Stream s = cuda::current_stream());

// ---- batch norm (cuDNN, NHWC) --------------------------------------------------------------------
// As cpu::batch_norm_*: training mode saves mean and 1/sqrt(var + eps) and updates the running
// statistics with `momentum` (unbiased variance).
template <GpuType T>
void batch_norm_forward_train(const G<T>& x, const G<float>& gamma, const G<float>& beta, G<float>& running_mean,
                              G<float>& running_var, G<T>& y, G<float>& save_mean, G<float>& save_invstd,
                              double momentum, double eps, Stream s = cuda::current_stream());
template <GpuType T>
void batch_norm_forward_eval(const G<T>& x, const G<float>& gamma, const G<float>& beta,
                             const G<float>& running_mean, const G<float>& running_var, G<T>& y, double eps,
                             Stream s = cuda::current_stream());
template <GpuType T>
void batch_norm_backward(const G<T>& x, const G<T>& dy, const G<float>& gamma, const G<float>& mean,
                         const G<float>& invstd, bool training, double eps, G<T>* dx, G<float>* dgamma,
                         G<float>* dbeta, Stream s = cuda::current_stream());
// invstd[c] = 1 / sqrt(running_var[c] + eps): the constants of eval-mode backward.
void batch_norm_eval_invstd(const G<float>& running_var, double eps, G<float>& invstd,
                            Stream s = cuda::current_stream());
// The residual tail of a block, fused: y = relu(bn(x) + z) (z null: y = relu(bn(x))).
template <GpuType T>
void batch_norm_add_relu_forward_train(const G<T>& x, const G<T>* z, const G<float>& gamma, const G<float>& beta,
                                       G<float>& running_mean, G<float>& running_var, G<T>& y, G<float>& save_mean,
                                       G<float>& save_invstd, double momentum, double eps,
                                       Stream s = cuda::current_stream());
// Backward of the training-mode form: g = dy * (y > 0); dz += g; then batch_norm_backward with g.
template <GpuType T>
void batch_norm_add_relu_backward(const G<T>& x, const G<T>& y, const G<T>& dy, const G<float>& gamma,
                                  const G<float>& beta, const G<float>& mean, const G<float>& invstd, double eps,
                                  G<T>* dx, G<T>* dz, G<float>* dgamma, G<float>* dbeta,
                                  Stream s = cuda::current_stream());

// ---- linear (cuBLASLt / cuBLAS) ------------------------------------------------------------------
// y = x w^T + b; x (N,F), w (O,F), b (O) or null, y (N,O)
template <GpuType T>
void linear_forward(const G<T>& x, const G<T>& w, const G<T>* b, G<T>& y, Stream s = cuda::current_stream());
template <GpuType T>
void linear_backward(const G<T>& x, const G<T>& w, const G<T>& dy, G<T>* dx, G<T>* dw, G<T>* db,
                     Stream s = cuda::current_stream());

// ---- element-wise and data movement (our kernels) ----------------------------------------------
template <GpuType T> void relu_forward(const G<T>& x, G<T>& y, Stream s = cuda::current_stream());
// dx += dy * (y > 0)
template <GpuType T> void relu_backward(const G<T>& y, const G<T>& dy, G<T>& dx, Stream s = cuda::current_stream());
// y = sum_i xs[i], summed left to right in fp32
template <GpuType T>
void add_forward(const std::vector<const G<T>*>& xs, G<T>& y, Stream s = cuda::current_stream());
// y = relu(sum_i xs[i]) (backward: relu_backward into a buffer shared by the inputs)
template <GpuType T>
void add_relu_forward(const std::vector<const G<T>*>& xs, G<T>& y, Stream s = cuda::current_stream());
// dx += dy
template <GpuType T> void accumulate(const G<T>& dy, G<T>& dx, Stream s = cuda::current_stream());
// x = value everywhere
template <GpuType T> void fill(G<T>& x, float value, Stream s = cuda::current_stream());
// y[n,c,h,w] = x[n,c,h/f,w/f]; backward dx += sum over each f x f block of dy
template <GpuType T>
void upsample_nearest_forward(const G<T>& x, G<T>& y, int factor, Stream s = cuda::current_stream());
template <GpuType T>
void upsample_nearest_backward(const G<T>& dy, G<T>& dx, int factor, Stream s = cuda::current_stream());
// The HRNet fusion node: y = relu(sum_j upsample_nearest(xs[j], factors[j])), one pass over y.
template <GpuType T>
void fusion_sum_relu_forward(const std::vector<const G<T>*>& xs, const std::vector<int>& factors, G<T>& y,
                             Stream s = cuda::current_stream());
// dxs[j] += upsample_backward(dy * (y > 0), factors[j]); null entries are skipped.
template <GpuType T>
void fusion_sum_relu_backward(const G<T>& y, const G<T>& dy, const std::vector<G<T>*>& dxs,
                              const std::vector<int>& factors, Stream s = cuda::current_stream());
template <GpuType T>
void concat_forward(const std::vector<const G<T>*>& xs, G<T>& y, Stream s = cuda::current_stream());
template <GpuType T>
void concat_backward(const G<T>& dy, const std::vector<G<T>*>& dxs, Stream s = cuda::current_stream());
template <GpuType T>
void slice_channels_forward(const G<T>& x, std::int64_t begin, G<T>& y, Stream s = cuda::current_stream());
template <GpuType T>
void slice_channels_backward(const G<T>& dy, std::int64_t begin, G<T>& dx, Stream s = cuda::current_stream());
// Bilinear, align_corners = false (PyTorch's rule); output size from y.
template <GpuType T> void resize_bilinear_forward(const G<T>& x, G<T>& y, Stream s = cuda::current_stream());
// x (N,C,H,W) -> y (N,C)
template <GpuType T> void global_avg_pool_forward(const G<T>& x, G<T>& y, Stream s = cuda::current_stream());
template <GpuType T> void global_avg_pool_backward(const G<T>& dy, G<T>& dx, Stream s = cuda::current_stream());
template <GpuType T>
void max_pool_forward(const G<T>& x, G<T>& y, int kernel, int stride, int pad, Stream s = cuda::current_stream());
// Layout conversion of raw device arrays holding a 4-D shape `shape` (logical N,C,H,W).
template <GpuType T>
void nchw_to_nhwc(const T* nchw, T* nhwc, const Shape& shape, Stream s = cuda::current_stream());
template <GpuType T>
void nhwc_to_nchw(const T* nhwc, T* nchw, const Shape& shape, Stream s = cuda::current_stream());
// Element type conversion (round to nearest even), same shape.
template <GpuType To, GpuType From>
void cast(const G<From>& x, G<To>& y, Stream s = cuda::current_stream());

// ---- losses and reductions (fp32 results, deterministic order) -----------------------------------
// out = sum of all elements of x (0-d, fp32), in a fixed order independent of the launch.
template <GpuType T> void sum(const G<T>& x, G<float>& out, Stream s = cuda::current_stream());
template <GpuType T>
void masked_mse_forward(const G<T>& pred, const G<T>& gt, const G<T>& mask, G<float>& loss,
                        Stream s = cuda::current_stream());
template <GpuType T>
void masked_mse_backward(const G<T>& pred, const G<T>& gt, const G<T>& mask, const G<float>& dloss, G<T>& dpred,
                         Stream s = cuda::current_stream());
template <GpuType T>
void cross_entropy_forward(const G<T>& logits, const Tensor<std::int64_t, CUDA>& labels, double smoothing,
                           G<float>& loss, Stream s = cuda::current_stream());
template <GpuType T>
void cross_entropy_backward(const G<T>& logits, const Tensor<std::int64_t, CUDA>& labels, double smoothing,
                            const G<float>& dloss, G<T>& dlogits, Stream s = cuda::current_stream());
// sum_i weights[i] * mean(xs[i]); backward dxs[i] += dy * weights[i] / numel(xs[i]).
void weighted_mean_sum_forward(const std::vector<const G<float>*>& xs, const std::vector<double>& weights,
                               G<float>& y, Stream s = cuda::current_stream());
void weighted_mean_sum_backward(const G<float>& dy, const std::vector<double>& weights,
                                const std::vector<G<float>*>& dxs, Stream s = cuda::current_stream());
// HigherHRNet's associative-embedding loss, as cpu::ae_loss_forward/backward (fp32 tags).
void ae_loss_forward(const G<float>& tags, const Tensor<std::int64_t, CUDA>& joints, AeLossType type,
                     G<float>& push, G<float>& pull, Stream s = cuda::current_stream());
void ae_loss_backward(const G<float>& tags, const Tensor<std::int64_t, CUDA>& joints, AeLossType type,
                      const G<float>* dpush, const G<float>* dpull, G<float>& dtags,
                      Stream s = cuda::current_stream());

// ---- fused multi-tensor optimizer steps ------------------------------------------------------------
// One launch updates a whole list of parameters, with PyTorch's update rules (as cpu::sgd_step_multi /
// cpu::adam_step_multi). fp32 master weights, gradients and states.
using ParamSlot = hrnet::ParamSlot<float, CUDA>;
void sgd_step_multi(const std::vector<ParamSlot>& params, double lr, double momentum, double dampening,
                    double weight_decay, bool nesterov, bool first_step, Stream s = cuda::current_stream());
void adam_step_multi(const std::vector<ParamSlot>& params, double lr, double beta1, double beta2, double eps,
                     double weight_decay, bool decoupled, std::int64_t step, Stream s = cuda::current_stream());

}  // namespace hrnet::gpu

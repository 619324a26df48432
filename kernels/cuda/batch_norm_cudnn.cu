// Batch normalisation on NHWC activations: cuDNN for the training-mode forward and backward, our
// own kernels for everything cuDNN has no mode for (eval-mode backward, the add+relu tail when the
// fused cuDNN path is unavailable) and as the fallback when cuDNN rejects a configuration
// (CUDNN_STATUS_NOT_SUPPORTED, more than 2^31 elements, or a training batch of one row per
// channel). Scale, bias and statistics are fp32.
//
// Semantics are cpu::batch_norm_*'s: training saves mean and invstd = 1/sqrt(var + eps) (biased
// variance) and moves the running statistics by `momentum` towards the batch mean and the unbiased
// batch variance (cuDNN's exponentialAverageFactor and its running-variance rule). Backward
// accumulates into dx, dgamma and dbeta; null ones are computed into scratch and dropped.
#include <atomic>
#include <limits>

#include "handles.cuh"

namespace hrnet::gpu {
namespace detail {
namespace {

struct BnShape {
  std::int64_t rows, C;
};

template <class T>
BnShape bn_shape(const G<T>& x, std::initializer_list<const G<float>*> per_channel, const char* what) {
  HRNET_CHECK(x.rank() == 4, ShapeError, what << ": x must be 4-D, got " << x.shape());
  const std::int64_t C = x.shape().c();
  for (const G<float>* t : per_channel)
    if (t) HRNET_CHECK(t->numel() == C, ShapeError, what << ": per-channel tensor " << t->shape() << " for " << C << " channels");
  return {C ? x.numel() / C : 0, C};
}

constexpr int kBlock = 256;

// Launches launch(std::integral_constant<int, V>, n / V) with V = 16-byte vectors when allowed.
template <class D, class Launch>
void launch_vec(bool vec_ok, std::int64_t n, Launch&& launch) {
  constexpr int V = kVec<D>;
  if (vec_ok && n % V == 0) launch(std::integral_constant<int, V>{}, n / V);
  else launch(std::integral_constant<int, 1>{}, n);
}

#define HRNET_GRID_STRIDE(i, n)                                                        \
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < (n); \
       i += std::int64_t(gridDim.x) * blockDim.x)

// ---- per-channel constants ------------------------------------------------------------------------
__global__ void eval_invstd_kernel(const float* __restrict__ var, double eps, float* __restrict__ inv, std::int64_t C) {
  HRNET_GRID_STRIDE(c, C) inv[c] = bn::invstd(var[c], eps);
}

// scale/shift of y = x * scale + shift, from invstd (inv) or, when inv is null, from var and eps.
__global__ void affine_kernel(const float* __restrict__ gamma, const float* __restrict__ beta,
                              const float* __restrict__ mean, const float* __restrict__ inv,
                              const float* __restrict__ var, double eps, std::int64_t C, float* __restrict__ scale,
                              float* __restrict__ shift) {
  HRNET_GRID_STRIDE(c, C) {
    const float is = inv ? inv[c] : bn::invstd(var[c], eps);
    const bn::Affine a = bn::affine(gamma[c], beta[c], mean[c], is);
    scale[c] = a.scale;
    shift[c] = a.shift;
  }
}

// ---- element-wise ---------------------------------------------------------------------------------------
// y = [relu](x * scale + shift [+ z])
template <int V, class D, bool ADD, bool RELU>
__global__ void apply_kernel(const D* __restrict__ x, const D* __restrict__ z, const float* __restrict__ scale,
                             const float* __restrict__ shift, D* __restrict__ y, std::int64_t nvec, std::int64_t C) {
  HRNET_GRID_STRIDE(i, nvec) {
    const std::int64_t e = i * V, c0 = e % C;  // V > 1 only when C % V == 0: one row per vector
    float xv[V], zv[V], out[V];
    load_f32<V>(x, e, xv);
    if constexpr (ADD) load_f32<V>(z, e, zv);
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const bn::Affine a{scale[c0 + j], shift[c0 + j]};
      float v = bn::apply(a, xv[j]);
      if constexpr (ADD) v += zv[j];
      if constexpr (RELU) v = bn::relu(v);
      out[j] = v;
    }
    store_f32<V>(y, e, out);
  }
}

// dx += k * (dy - a - (x - mean) * b), coefficients per channel (eval mode: a = b = 0)
template <int V, class D>
__global__ void dx_kernel(const D* __restrict__ dy, const D* __restrict__ x, const float* __restrict__ mean,
                          const float* __restrict__ coef, D* __restrict__ dx, std::int64_t nvec, std::int64_t C) {
  HRNET_GRID_STRIDE(i, nvec) {
    const std::int64_t e = i * V, c0 = e % C;
    float g[V], xv[V], acc[V];
    load_f32<V>(dy, e, g);
    load_f32<V>(x, e, xv);
    load_f32<V>(dx, e, acc);
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const std::int64_t c = c0 + j;
      const bn::TrainGrad t{coef[c], coef[C + c], coef[2 * C + c]};
      acc[j] += bn::train_dx(t, g[j], xv[j], mean[c]);
    }
    store_f32<V>(dx, e, acc);
  }
}

// g = dy * (y > 0); dz += g when dz is given
template <int V, class D, bool DZ>
__global__ void relu_mask_kernel(const D* __restrict__ dy, const D* __restrict__ y, D* __restrict__ g,
                                 D* __restrict__ dz, std::int64_t nvec) {
  HRNET_GRID_STRIDE(i, nvec) {
    const std::int64_t e = i * V;
    float d[V], yv[V], out[V];
    load_f32<V>(dy, e, d);
    load_f32<V>(y, e, yv);
#pragma unroll
    for (int j = 0; j < V; ++j) out[j] = bn::relu_mask(d[j], yv[j]);
    store_f32<V>(g, e, out);
    if constexpr (DZ) {
      float acc[V];
      load_f32<V>(dz, e, acc);
#pragma unroll
      for (int j = 0; j < V; ++j) acc[j] += out[j];
      store_f32<V>(dz, e, acc);
    }
  }
}

// ---- reductions (see channel_sums) ----------------------------------------------------------------
template <class D>
struct SumLoad {  // x
  const D* x;
  std::int64_t C;
  __device__ void operator()(std::int64_t r, std::int64_t c, float (&acc)[1]) const { acc[0] += to_f32(x[r * C + c]); }
};
struct MeanEpilogue {
  float* mean;
  std::int64_t rows;
  __device__ void operator()(std::int64_t c, const float (&s)[1]) const {
    mean[c] = static_cast<float>(static_cast<double>(s[0]) / static_cast<double>(rows));
  }
};
template <class D>
struct SqDevLoad {  // (x - mean)^2
  const D* x;
  const float* mean;
  std::int64_t C;
  __device__ void operator()(std::int64_t r, std::int64_t c, float (&acc)[1]) const {
    const float d = to_f32(x[r * C + c]) - mean[c];
    acc[0] += d * d;
  }
};
struct VarEpilogue {
  const float* mean;
  float *inv, *running_mean, *running_var;
  double eps, momentum;
  std::int64_t rows;
  __device__ void operator()(std::int64_t c, const float (&s)[1]) const {
    const double sq = s[0];
    inv[c] = bn::invstd(sq / static_cast<double>(rows), eps);
    running_mean[c] = bn::running_update(running_mean[c], mean[c], momentum);
    running_var[c] = bn::running_update(running_var[c], bn::unbiased_var(sq, rows), momentum);
  }
};
template <class D>
struct GradLoad {  // dy, dy * xhat
  const D *x, *dy;
  const float *mean, *inv;
  std::int64_t C;
  __device__ void operator()(std::int64_t r, std::int64_t c, float (&acc)[2]) const {
    const float g = to_f32(dy[r * C + c]);
    acc[0] += g;
    acc[1] += g * bn::xhat(to_f32(x[r * C + c]), mean[c], inv[c]);
  }
};
struct GradEpilogue {
  const float *gamma, *inv;
  float *dgamma, *dbeta, *coef;  // coef: [k | a | b] per channel, or null when dx is not wanted
  bool training;
  std::int64_t rows, C;
  __device__ void operator()(std::int64_t c, const float (&s)[2]) const {
    if (dgamma) dgamma[c] += s[1];
    if (dbeta) dbeta[c] += s[0];
    if (coef) {
      if (training) {
        const bn::TrainGrad t = bn::train_grad(gamma[c], inv[c], s[0], s[1], rows);
        coef[c] = t.k;
        coef[C + c] = t.a;
        coef[2 * C + c] = t.b;
      } else {
        coef[c] = gamma[c] * inv[c];
        coef[C + c] = 0.f;
        coef[2 * C + c] = 0.f;
      }
    }
  }
};

// ---- our own implementations ---------------------------------------------------------------------------
template <class T>
void apply_affine(const G<T>& x, const G<T>* z, bool relu, const float* scale, const float* shift, G<T>& y,
                  std::int64_t C, Stream s) {
  using D = dev_t<T>;
  const D* xp = dev_ptr(x.data());
  const D* zp = z ? dev_ptr(z->data()) : nullptr;
  D* yp = dev_ptr(y.data());
  const bool vec = C % kVec<D> == 0 && aligned16(xp) && aligned16(yp) && (!zp || aligned16(zp));
  launch_vec<D>(vec, x.numel(), [&](auto v, std::int64_t nvec) {
    constexpr int V = decltype(v)::value;
    const unsigned grid = grid_for(nvec, kBlock);
    if (zp && relu) apply_kernel<V, D, true, true><<<grid, kBlock, 0, raw(s)>>>(xp, zp, scale, shift, yp, nvec, C);
    else if (zp) apply_kernel<V, D, true, false><<<grid, kBlock, 0, raw(s)>>>(xp, zp, scale, shift, yp, nvec, C);
    else if (relu) apply_kernel<V, D, false, true><<<grid, kBlock, 0, raw(s)>>>(xp, zp, scale, shift, yp, nvec, C);
    else apply_kernel<V, D, false, false><<<grid, kBlock, 0, raw(s)>>>(xp, zp, scale, shift, yp, nvec, C);
    HRNET_CUDA_CHECK_LAUNCH(s);
  });
}

// y = [relu](bn(x) [+ z]) with per-channel mean and invstd (or running var + eps when inv is null).
template <class T>
void normalize(const G<T>& x, const G<T>* z, bool relu, const G<float>& gamma, const G<float>& beta, const float* mean,
               const float* inv, const float* var, double eps, G<T>& y, std::int64_t C, Stream s) {
  if (x.numel() == 0) return;
  auto sc = scratch<float>(Shape{2 * C}, s);
  affine_kernel<<<grid_for(C, kBlock), kBlock, 0, raw(s)>>>(gamma.data(), beta.data(), mean, inv, var, eps, C,
                                                            sc.data(), sc.data() + C);
  HRNET_CUDA_CHECK_LAUNCH(s);
  apply_affine(x, z, relu, sc.data(), sc.data() + C, y, C, s);
}

// Training-mode statistics (two passes: no cancellation), saved and folded into the running ones.
template <class T>
void own_statistics(const G<T>& x, G<float>& running_mean, G<float>& running_var, G<float>& save_mean,
                    G<float>& save_invstd, double momentum, double eps, const BnShape& b, Stream s) {
  using D = dev_t<T>;
  const D* xp = dev_ptr(x.data());
  channel_sums<1>(SumLoad<D>{xp, b.C}, MeanEpilogue{save_mean.data(), b.rows}, b.rows, b.C, s);
  channel_sums<1>(SqDevLoad<D>{xp, save_mean.data(), b.C},
                  VarEpilogue{save_mean.data(), save_invstd.data(), running_mean.data(), running_var.data(), eps,
                              momentum, b.rows},
                  b.rows, b.C, s);
}

template <class T>
void own_backward(const G<T>& x, const G<T>& dy, const G<float>& gamma, const G<float>& mean, const G<float>& invstd,
                  bool training, G<T>* dx, G<float>* dgamma, G<float>* dbeta, const BnShape& b, Stream s) {
  using D = dev_t<T>;
  G<float> coef;
  if (dx) coef = scratch<float>(Shape{3 * b.C}, s);
  channel_sums<2>(GradLoad<D>{dev_ptr(x.data()), dev_ptr(dy.data()), mean.data(), invstd.data(), b.C},
                  GradEpilogue{gamma.data(), invstd.data(), dgamma ? dgamma->data() : nullptr,
                               dbeta ? dbeta->data() : nullptr, dx ? coef.data() : nullptr, training, b.rows, b.C},
                  b.rows, b.C, s);
  if (!dx) return;
  const D *gp = dev_ptr(dy.data()), *xp = dev_ptr(x.data());
  D* dxp = dev_ptr(dx->data());
  const bool vec = b.C % kVec<D> == 0 && aligned16(gp) && aligned16(xp) && aligned16(dxp);
  launch_vec<D>(vec, x.numel(), [&](auto v, std::int64_t nvec) {
    constexpr int V = decltype(v)::value;
    dx_kernel<V, D><<<grid_for(nvec, kBlock), kBlock, 0, raw(s)>>>(gp, xp, mean.data(), coef.data(), dxp, nvec, b.C);
    HRNET_CUDA_CHECK_LAUNCH(s);
  });
}

// ---- cuDNN -------------------------------------------------------------------------------------------------
// Persistent NHWC kernels where cuDNN has them (deterministic; cuDNN's docs note a narrower range
// before overflow than CUDNN_BATCHNORM_SPATIAL, as PyTorch accepts for channels-last training).
constexpr cudnnBatchNormMode_t kTrainMode = CUDNN_BATCHNORM_SPATIAL_PERSISTENT;

std::atomic<bool> g_use_cudnn{true};

template <class T>
bool cudnn_eligible(const G<T>& x) {
  return g_use_cudnn.load(std::memory_order_relaxed) && x.numel() > 0 && x.numel() < std::numeric_limits<int>::max();
}
// The training forward also needs more than one row per channel: cuDNN's unbiased running
// variance divides by rows - 1, where bn::unbiased_var (the CPU's rule) keeps the biased one.
template <class T>
bool cudnn_train_eligible(const G<T>& x, const BnShape& b) {
  return cudnn_eligible(x) && b.rows > 1;
}

// cuDNN 9 reports "not supported" as CUDNN_STATUS_NOT_SUPPORTED or one of its sub-codes
// (CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE, ..._LAYOUT, ...): compare the category.
bool not_supported(cudnnStatus_t st) { return CUDNN_STATUS_CATEGORY(st) == CUDNN_STATUS_NOT_SUPPORTED; }

struct BnDescs {
  TensorDesc x;
  CudnnDescriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor> param;
  BnDescs(cudnnDataType_t t, const Shape& s, cudnnBatchNormMode_t mode) : x(t, s.n(), s.c(), s.h(), s.w()) {
    HRNET_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(param.get(), x.get(), mode));  // fp32 for 16-bit data
  }
};

// cuDNN's training forward (ops: BN, BN+relu or BN+add+relu). Returns false when cuDNN does not
// support the configuration (nothing has been written then).
template <class T>
bool cudnn_forward_train(const G<T>& x, const G<T>* z, bool relu, const G<float>& gamma, const G<float>& beta,
                         G<float>& running_mean, G<float>& running_var, G<T>& y, G<float>& save_mean,
                         G<float>& save_invstd, double momentum, double eps, Stream s) {
  cudnnHandle_t h = cudnn_handle(s);
  const float one = 1.f, zero = 0.f;
  {
    BnDescs d(cudnn_type<T>(), x.shape(), kTrainMode);
    const cudnnBatchNormOps_t ops =
        z ? CUDNN_BATCHNORM_OPS_BN_ADD_ACTIVATION : relu ? CUDNN_BATCHNORM_OPS_BN_ACTIVATION : CUDNN_BATCHNORM_OPS_BN;
    ActivationDesc act;
    cudnnActivationDescriptor_t ad = relu ? act.get() : nullptr;
    cudnnTensorDescriptor_t zd = z ? d.x.get() : nullptr;
    std::size_t ws_bytes = 0, reserve_bytes = 0;
    cudnnStatus_t st = cudnnGetBatchNormalizationForwardTrainingExWorkspaceSize(
        h, kTrainMode, ops, d.x.get(), zd, d.x.get(), d.param.get(), ad, &ws_bytes);
    if (st == CUDNN_STATUS_SUCCESS)
      st = cudnnGetBatchNormalizationTrainingExReserveSpaceSize(h, kTrainMode, ops, ad, d.x.get(), &reserve_bytes);
    if (st == CUDNN_STATUS_SUCCESS) {
      // The reserve (cuDNN's relu bit mask) is dropped: our backward recomputes the mask from y.
      G<float> reserve;
      if (reserve_bytes) reserve = scratch<float>(Shape{static_cast<std::int64_t>((reserve_bytes + 3) / 4)}, s);
      void* ws = ws_bytes ? workspace(ws_bytes, s) : nullptr;
      st = cudnnBatchNormalizationForwardTrainingEx(
          h, kTrainMode, ops, &one, &zero, d.x.get(), x.data(), zd, z ? z->data() : nullptr, d.x.get(), y.data(),
          d.param.get(), gamma.data(), beta.data(), momentum, running_mean.data(), running_var.data(), eps,
          save_mean.data(), save_invstd.data(), ad, ws, ws_bytes, reserve_bytes ? reserve.data() : nullptr,
          reserve_bytes);
      if (st == CUDNN_STATUS_SUCCESS) return true;
    }
    // Only "not supported" (argument checks come before any work) falls back: the fused forms go
    // unfused, plain BN tries cuDNN's non-persistent kernels. Any other status is an error.
    if (!not_supported(st)) HRNET_CUDNN_CHECK(st);
    if (relu || z) return false;
  }
  BnDescs d(cudnn_type<T>(), x.shape(), CUDNN_BATCHNORM_SPATIAL);
  const cudnnStatus_t st = cudnnBatchNormalizationForwardTraining(
      h, CUDNN_BATCHNORM_SPATIAL, &one, &zero, d.x.get(), x.data(), d.x.get(), y.data(), d.param.get(), gamma.data(),
      beta.data(), momentum, running_mean.data(), running_var.data(), eps, save_mean.data(), save_invstd.data());
  if (not_supported(st)) return false;
  HRNET_CUDNN_CHECK(st);
  return true;
}

// cuDNN's training backward into dx/dgamma/dbeta (all non-null) with the given blend factors.
// Returns false when cuDNN does not support the configuration.
template <class T>
bool cudnn_backward_train(const G<T>& x, const G<T>& dy, const G<float>& gamma, const G<float>& mean,
                          const G<float>& invstd, double eps, T* dx, float* dgamma, float* dbeta, Stream s) {
  cudnnHandle_t h = cudnn_handle(s);
  const float one = 1.f;
  const float* a_param = &one;
  const float* b_param = &one;  // dx, dgamma and dbeta accumulate (null parameter ones are zeroed scratch)
  {
    BnDescs d(cudnn_type<T>(), x.shape(), kTrainMode);
    std::size_t ws_bytes = 0, reserve_bytes = 0;
    cudnnStatus_t st = cudnnGetBatchNormalizationTrainingExReserveSpaceSize(h, kTrainMode, CUDNN_BATCHNORM_OPS_BN,
                                                                            nullptr, d.x.get(), &reserve_bytes);
    if (!not_supported(st)) HRNET_CUDNN_CHECK(st);
    if (st == CUDNN_STATUS_SUCCESS && reserve_bytes == 0) {
      st = cudnnGetBatchNormalizationBackwardExWorkspaceSize(h, kTrainMode, CUDNN_BATCHNORM_OPS_BN, d.x.get(), nullptr,
                                                             d.x.get(), nullptr, d.x.get(), d.param.get(), nullptr,
                                                             &ws_bytes);
      if (st == CUDNN_STATUS_SUCCESS) {
        void* ws = ws_bytes ? workspace(ws_bytes, s) : nullptr;
        st = cudnnBatchNormalizationBackwardEx(h, kTrainMode, CUDNN_BATCHNORM_OPS_BN, &one, &one, a_param,
                                               b_param, d.x.get(), x.data(), nullptr, nullptr, d.x.get(), dy.data(),
                                               nullptr, nullptr, d.x.get(), dx, d.param.get(), gamma.data(), nullptr,
                                               dgamma, dbeta, eps, mean.data(), invstd.data(), nullptr, ws,
                                               ws_bytes, nullptr, 0);
        if (st == CUDNN_STATUS_SUCCESS) return true;
      }
      if (!not_supported(st)) HRNET_CUDNN_CHECK(st);
    }
  }
  // The persistent backward wants the forward's reserve space, which the interface does not keep,
  // or it rejected the arguments: the plain spatial kernels need no reserve and use the same
  // saved statistics.
  BnDescs d(cudnn_type<T>(), x.shape(), CUDNN_BATCHNORM_SPATIAL);
  const cudnnStatus_t st = cudnnBatchNormalizationBackward(h, CUDNN_BATCHNORM_SPATIAL, &one, &one, a_param,
                                                           b_param, d.x.get(), x.data(), d.x.get(), dy.data(),
                                                           d.x.get(), dx, d.param.get(), gamma.data(), dgamma, dbeta,
                                                           eps, mean.data(), invstd.data());
  if (not_supported(st)) return false;
  HRNET_CUDNN_CHECK(st);
  return true;
}

}  // namespace

// Test hook (declared by the tests, not in cuda.hpp): off routes every batch norm to our own
// kernels, so the fallback taken when cuDNN rejects a configuration is tested too.
void batch_norm_use_cudnn(bool on) { g_use_cudnn.store(on, std::memory_order_relaxed); }

}  // namespace detail

template <GpuType T>
void batch_norm_forward_train(const G<T>& x, const G<float>& gamma, const G<float>& beta, G<float>& running_mean,
                              G<float>& running_var, G<T>& y, G<float>& save_mean, G<float>& save_invstd,
                              double momentum, double eps, Stream s) {
  const auto b = detail::bn_shape(x, {&gamma, &beta, &running_mean, &running_var, &save_mean, &save_invstd},
                                  "batch_norm_forward_train");
  check_shape(y, x.shape(), "batch_norm_forward_train: y");
  if (b.C == 0) return;
  if (detail::cudnn_train_eligible(x, b) &&
      detail::cudnn_forward_train<T>(x, nullptr, false, gamma, beta, running_mean, running_var, y, save_mean,
                                  save_invstd, momentum, eps, s))
    return;
  detail::own_statistics(x, running_mean, running_var, save_mean, save_invstd, momentum, eps, b, s);
  detail::normalize<T>(x, nullptr, false, gamma, beta, save_mean.data(), save_invstd.data(), nullptr, eps, y, b.C, s);
}

template <GpuType T>
void batch_norm_forward_eval(const G<T>& x, const G<float>& gamma, const G<float>& beta, const G<float>& running_mean,
                             const G<float>& running_var, G<T>& y, double eps, Stream s) {
  const auto b =
      detail::bn_shape(x, {&gamma, &beta, &running_mean, &running_var}, "batch_norm_forward_eval");
  check_shape(y, x.shape(), "batch_norm_forward_eval: y");
  if (b.C == 0) return;
  // An element-wise map: our kernel (one pass, cpu::batch_norm_forward_eval's arithmetic).
  detail::normalize<T>(x, nullptr, false, gamma, beta, running_mean.data(), nullptr, running_var.data(), eps, y, b.C, s);
}

template <GpuType T>
void batch_norm_backward(const G<T>& x, const G<T>& dy, const G<float>& gamma, const G<float>& mean,
                         const G<float>& invstd, bool training, double eps, G<T>* dx, G<float>* dgamma,
                         G<float>* dbeta, Stream s) {
  const auto b = detail::bn_shape(x, {&gamma, &mean, &invstd, dgamma, dbeta}, "batch_norm_backward");
  check_shape(dy, x.shape(), "batch_norm_backward: dy");
  if (dx) check_shape(*dx, x.shape(), "batch_norm_backward: dx");
  if (b.C == 0 || x.numel() == 0 || (!dx && !dgamma && !dbeta)) return;
  // cuDNN writes all three gradients. Without dx (a frozen input) our reduction computes dgamma and
  // dbeta alone instead of writing a full-size dx into scratch.
  if (training && dx && detail::cudnn_eligible(x)) {
    // Parameter gradients not wanted go to zeroed scratch (two floats per channel).
    G<float> param_tmp;
    if (!dgamma || !dbeta) {
      param_tmp = detail::scratch<float>(Shape{2 * b.C}, s);
      HRNET_CUDA_CHECK(cudaMemsetAsync(param_tmp.data(), 0, param_tmp.bytes(), detail::raw(s)));
    }
    float* dg = dgamma ? dgamma->data() : param_tmp.data();
    float* db = dbeta ? dbeta->data() : param_tmp.data() + b.C;
    if (detail::cudnn_backward_train(x, dy, gamma, mean, invstd, eps, dx->data(), dg, db, s)) return;
  }
  // Eval mode (mean and invstd are constants, a mode cuDNN lacks) and the fallback.
  detail::own_backward(x, dy, gamma, mean, invstd, training, dx, dgamma, dbeta, b, s);
}

void batch_norm_eval_invstd(const G<float>& running_var, double eps, G<float>& invstd, Stream s) {
  HRNET_CHECK(invstd.numel() == running_var.numel(), ShapeError,
              "batch_norm_eval_invstd: " << running_var.shape() << " -> " << invstd.shape());
  const std::int64_t C = running_var.numel();
  if (C == 0) return;
  detail::eval_invstd_kernel<<<detail::grid_for(C, detail::kBlock), detail::kBlock, 0, detail::raw(s)>>>(
      running_var.data(), eps, invstd.data(), C);
  HRNET_CUDA_CHECK_LAUNCH(s);
}

template <GpuType T>
void batch_norm_add_relu_forward_train(const G<T>& x, const G<T>* z, const G<float>& gamma, const G<float>& beta,
                                       G<float>& running_mean, G<float>& running_var, G<T>& y, G<float>& save_mean,
                                       G<float>& save_invstd, double momentum, double eps, Stream s) {
  const auto b = detail::bn_shape(x, {&gamma, &beta, &running_mean, &running_var, &save_mean, &save_invstd},
                                  "batch_norm_add_relu_forward_train");
  check_shape(y, x.shape(), "batch_norm_add_relu_forward_train: y");
  if (z) check_shape(*z, x.shape(), "batch_norm_add_relu_forward_train: z");
  if (b.C == 0) return;
  // cuDNN fuses the tail only in its NHWC fp16 kernels, and then for channel counts divisible by 4.
  if constexpr (std::is_same_v<T, half>) {
    if (b.C % 4 == 0 && detail::cudnn_train_eligible(x, b) &&
        detail::cudnn_forward_train<T>(x, z, true, gamma, beta, running_mean, running_var, y, save_mean, save_invstd,
                                    momentum, eps, s))
      return;
  }
  // Unfused: the statistics (cuDNN or ours), then one pass y = relu(bn(x) + z) from x, so each
  // output is rounded once.
  batch_norm_forward_train(x, gamma, beta, running_mean, running_var, y, save_mean, save_invstd, momentum, eps, s);
  detail::normalize<T>(x, z, true, gamma, beta, save_mean.data(), save_invstd.data(), nullptr, eps, y, b.C, s);
}

template <GpuType T>
void batch_norm_add_relu_backward(const G<T>& x, const G<T>& y, const G<T>& dy, const G<float>& gamma,
                                  const G<float>& beta, const G<float>& mean, const G<float>& invstd, double eps,
                                  G<T>* dx, G<T>* dz, G<float>* dgamma, G<float>* dbeta, Stream s) {
  (void)detail::bn_shape(x, {&gamma, &beta, &mean, &invstd, dgamma, dbeta}, "batch_norm_add_relu_backward");
  check_shape(y, x.shape(), "batch_norm_add_relu_backward: y");
  check_shape(dy, x.shape(), "batch_norm_add_relu_backward: dy");
  if (dz) check_shape(*dz, x.shape(), "batch_norm_add_relu_backward: dz");
  if (x.numel() == 0) return;
  using D = detail::dev_t<T>;
  auto g = detail::scratch<T>(x.shape(), s);
  const D *dyp = detail::dev_ptr(dy.data()), *yp = detail::dev_ptr(y.data());
  D* gp = detail::dev_ptr(g.data());
  D* dzp = dz ? detail::dev_ptr(dz->data()) : nullptr;
  const bool vec = detail::aligned16(dyp) && detail::aligned16(yp) && detail::aligned16(gp) && (!dzp || detail::aligned16(dzp));
  detail::launch_vec<D>(vec, x.numel(), [&](auto v, std::int64_t nvec) {
    constexpr int V = decltype(v)::value;
    const unsigned grid = detail::grid_for(nvec, detail::kBlock);
    if (dzp) detail::relu_mask_kernel<V, D, true><<<grid, detail::kBlock, 0, detail::raw(s)>>>(dyp, yp, gp, dzp, nvec);
    else detail::relu_mask_kernel<V, D, false><<<grid, detail::kBlock, 0, detail::raw(s)>>>(dyp, yp, gp, dzp, nvec);
    HRNET_CUDA_CHECK_LAUNCH(s);
  });
  batch_norm_backward(x, g, gamma, mean, invstd, true, eps, dx, dgamma, dbeta, s);
}

#define HRNET_INSTANTIATE(T)                                                                                          \
  template void batch_norm_forward_train<T>(const G<T>&, const G<float>&, const G<float>&, G<float>&, G<float>&,    \
                                            G<T>&, G<float>&, G<float>&, double, double, Stream);                    \
  template void batch_norm_forward_eval<T>(const G<T>&, const G<float>&, const G<float>&, const G<float>&,          \
                                           const G<float>&, G<T>&, double, Stream);                                  \
  template void batch_norm_backward<T>(const G<T>&, const G<T>&, const G<float>&, const G<float>&, const G<float>&, \
                                       bool, double, G<T>*, G<float>*, G<float>*, Stream);                           \
  template void batch_norm_add_relu_forward_train<T>(const G<T>&, const G<T>*, const G<float>&, const G<float>&,    \
                                                     G<float>&, G<float>&, G<T>&, G<float>&, G<float>&, double,      \
                                                     double, Stream);                                                \
  template void batch_norm_add_relu_backward<T>(const G<T>&, const G<T>&, const G<T>&, const G<float>&,             \
                                                const G<float>&, const G<float>&, const G<float>&, double, G<T>*,   \
                                                G<T>*, G<float>*, G<float>*, Stream);
HRNET_INSTANTIATE(float)
HRNET_INSTANTIATE(half)
HRNET_INSTANTIATE(bfloat16)
#undef HRNET_INSTANTIATE

}  // namespace hrnet::gpu

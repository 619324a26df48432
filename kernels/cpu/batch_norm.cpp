// Batch normalisation on the CPU. Statistics are accumulated in double over fixed chunks of
// pixels (deterministic for any thread count); the running statistics follow PyTorch:
//   running = (1 - momentum) * running + momentum * batch, with the unbiased batch variance.
#include <cmath>
#include <vector>

#include "common.hpp"

namespace hrnet::cpu {
namespace {

// sums[c] = sum_r f(r, c) over rows r, in double, with a fixed partition.
template <class F>
std::vector<double> channel_sums(std::int64_t rows, std::int64_t C, F f) {
  const std::int64_t nchunks = (rows + detail::kReduceChunk - 1) / detail::kReduceChunk;
  std::vector<double> part(static_cast<std::size_t>(nchunks * C), 0.0);
#pragma omp parallel for schedule(static)
  for (std::int64_t k = 0; k < nchunks; ++k) {
    double* acc = part.data() + k * C;
    const std::int64_t r1 = std::min(rows, (k + 1) * detail::kReduceChunk);
    for (std::int64_t r = k * detail::kReduceChunk; r < r1; ++r)
      for (std::int64_t c = 0; c < C; ++c) acc[c] += f(r, c);
  }
  std::vector<double> out(static_cast<std::size_t>(C), 0.0);
  for (std::int64_t k = 0; k < nchunks; ++k)
    for (std::int64_t c = 0; c < C; ++c) out[static_cast<std::size_t>(c)] += part[static_cast<std::size_t>(k * C + c)];
  return out;
}

template <class T>
void normalize(const T* x, std::int64_t rows, std::int64_t C, const std::vector<T>& scale, const std::vector<T>& shift,
               T* y) {
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < C; ++c) y[r * C + c] = x[r * C + c] * scale[c] + shift[c];
}

}  // namespace

template <ComputeType T>
void batch_norm_forward_train(const T4<T>& x, const A4<T>& gamma, const A4<T>& beta, A4<T>& running_mean,
                              A4<T>& running_var, T4<T>& y, A4<T>& save_mean, A4<T>& save_invstd,
                              double momentum, double eps) {
  using P = acc_t<T>;  // the parameters' and statistics' type (T itself for float and double)
  const std::int64_t C = x.shape().c(), rows = x.numel() / C;
  const T* xp = x.data();
  const auto sum = channel_sums(rows, C, [&](std::int64_t r, std::int64_t c) { return double(xp[r * C + c]); });
  std::vector<double> mean(static_cast<std::size_t>(C));
  for (std::int64_t c = 0; c < C; ++c) mean[c] = sum[c] / double(rows);
  // two-pass variance: no cancellation
  const auto sq = channel_sums(rows, C, [&](std::int64_t r, std::int64_t c) {
    const double d = double(xp[r * C + c]) - mean[static_cast<std::size_t>(c)];
    return d * d;
  });
  std::vector<T> scale(static_cast<std::size_t>(C)), shift(static_cast<std::size_t>(C));
  for (std::int64_t c = 0; c < C; ++c) {
    const double var = sq[c] / double(rows);
    const double invstd = 1.0 / std::sqrt(var + eps);
    save_mean.data()[c] = static_cast<P>(mean[c]);
    save_invstd.data()[c] = static_cast<P>(invstd);
    scale[c] = static_cast<T>(double(gamma.data()[c]) * invstd);
    shift[c] = static_cast<T>(double(beta.data()[c]) - mean[c] * double(gamma.data()[c]) * invstd);
    const double unbiased = rows > 1 ? sq[c] / double(rows - 1) : var;
    running_mean.data()[c] = static_cast<P>((1.0 - momentum) * double(running_mean.data()[c]) + momentum * mean[c]);
    running_var.data()[c] = static_cast<P>((1.0 - momentum) * double(running_var.data()[c]) + momentum * unbiased);
  }
  normalize(xp, rows, C, scale, shift, y.data());
}

template <ComputeType T>
void batch_norm_forward_eval(const T4<T>& x, const A4<T>& gamma, const A4<T>& beta, const A4<T>& running_mean,
                             const A4<T>& running_var, T4<T>& y, double eps) {
  const std::int64_t C = x.shape().c(), rows = x.numel() / C;
  std::vector<T> scale(static_cast<std::size_t>(C)), shift(static_cast<std::size_t>(C));
  for (std::int64_t c = 0; c < C; ++c) {
    const double invstd = 1.0 / std::sqrt(double(running_var.data()[c]) + eps);
    scale[c] = static_cast<T>(double(gamma.data()[c]) * invstd);
    shift[c] = static_cast<T>(double(beta.data()[c]) - double(running_mean.data()[c]) * double(gamma.data()[c]) * invstd);
  }
  normalize(x.data(), rows, C, scale, shift, y.data());
}

template <ComputeType T>
void batch_norm_backward(const T4<T>& x, const T4<T>& dy, const A4<T>& gamma, const A4<T>& mean,
                         const A4<T>& invstd, bool training, double /*eps: invstd is used*/, T4<T>* dx,
                         A4<T>* dgamma, A4<T>* dbeta) {
  using P = acc_t<T>;
  const std::int64_t C = x.shape().c(), rows = x.numel() / C;
  const T *xp = x.data(), *gp = dy.data();
  const auto sum_dy = channel_sums(rows, C, [&](std::int64_t r, std::int64_t c) { return double(gp[r * C + c]); });
  const auto sum_dy_xhat = channel_sums(rows, C, [&](std::int64_t r, std::int64_t c) {
    return double(gp[r * C + c]) * (double(xp[r * C + c]) - double(mean.data()[c])) * double(invstd.data()[c]);
  });
  for (std::int64_t c = 0; c < C; ++c) {
    if (dgamma) dgamma->data()[c] += static_cast<P>(sum_dy_xhat[c]);
    if (dbeta) dbeta->data()[c] += static_cast<P>(sum_dy[c]);
  }
  if (!dx) return;
  // training: dx = g*invstd/M * (M*dy - sum(dy) - xhat*sum(dy*xhat)); eval: dx = g*invstd*dy
  std::vector<double> k(static_cast<std::size_t>(C)), a(static_cast<std::size_t>(C)), b(static_cast<std::size_t>(C));
  for (std::int64_t c = 0; c < C; ++c) {
    const double is = double(invstd.data()[c]);
    k[c] = double(gamma.data()[c]) * is;
    a[c] = training ? sum_dy[c] / double(rows) : 0.0;
    b[c] = training ? sum_dy_xhat[c] / double(rows) * is : 0.0;  // multiplies (x - mean)
  }
  T* dxp = dx->data();
  const P* mp = mean.data();
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < C; ++c) {
      const double xc = double(xp[r * C + c]) - double(mp[c]);
      dxp[r * C + c] += static_cast<T>(k[c] * (double(gp[r * C + c]) - a[c] - xc * b[c]));
    }
}

template <ComputeType P>
void batch_norm_eval_invstd(const T4<P>& running_var, double eps, T4<P>& invstd) {
  for (std::int64_t c = 0; c < running_var.numel(); ++c)
    invstd[c] = static_cast<P>(1.0 / std::sqrt(double(running_var[c]) + eps));
}

// The fused forms are compositions of the kernels above and those of elementwise.cpp, in the order
// ops::batch_norm_add_relu's unfused form runs them, so CPU results do not depend on which is used.
template <ComputeType T>
void batch_norm_add_relu_forward_train(const T4<T>& x, const T4<T>* z, const A4<T>& gamma, const A4<T>& beta,
                                       A4<T>& running_mean, A4<T>& running_var, T4<T>& y, A4<T>& save_mean,
                                       A4<T>& save_invstd, double momentum, double eps) {
  auto normalized = T4<T>::empty(x.shape());
  batch_norm_forward_train(x, gamma, beta, running_mean, running_var, normalized, save_mean, save_invstd, momentum,
                           eps);
  if (!z) {
    relu_forward(normalized, y);
    return;
  }
  auto sum = T4<T>::empty(x.shape());
  add_forward<T>({&normalized, z}, sum);
  relu_forward(sum, y);
}

template <ComputeType T>
void batch_norm_add_relu_backward(const T4<T>& x, const T4<T>& y, const T4<T>& dy, const A4<T>& gamma,
                                  const A4<T>& /*beta*/, const A4<T>& mean, const A4<T>& invstd, double eps,
                                  T4<T>* dx, T4<T>* dz, A4<T>* dgamma, A4<T>* dbeta) {
  auto g = T4<T>::zeros(y.shape());  // accumulated into zeros, as the unfused ops' fresh gradient buffers
  relu_backward(y, dy, g);
  if (dz) accumulate(g, *dz);
  if (dx || dgamma || dbeta) batch_norm_backward(x, g, gamma, mean, invstd, true, eps, dx, dgamma, dbeta);
}

#define HRNET_INSTANTIATE(T)                                                                                    \
  template void batch_norm_forward_train<T>(const T4<T>&, const A4<T>&, const A4<T>&, A4<T>&, A4<T>&, T4<T>&, \
                                            A4<T>&, A4<T>&, double, double);                                  \
  template void batch_norm_forward_eval<T>(const T4<T>&, const A4<T>&, const A4<T>&, const A4<T>&, const A4<T>&, \
                                           T4<T>&, double);                                                   \
  template void batch_norm_backward<T>(const T4<T>&, const T4<T>&, const A4<T>&, const A4<T>&, const A4<T>&,  \
                                       bool, double, T4<T>*, A4<T>*, A4<T>*);                                 \
  template void batch_norm_eval_invstd<T>(const T4<T>&, double, T4<T>&);                                      \
  template void batch_norm_add_relu_forward_train<T>(const T4<T>&, const T4<T>*, const A4<T>&, const A4<T>&,  \
                                                     A4<T>&, A4<T>&, T4<T>&, A4<T>&, A4<T>&, double, double); \
  template void batch_norm_add_relu_backward<T>(const T4<T>&, const T4<T>&, const T4<T>&, const A4<T>&,       \
                                                const A4<T>&, const A4<T>&, const A4<T>&, double, T4<T>*,     \
                                                T4<T>*, A4<T>*, A4<T>*);
HRNET_INSTANTIATE(float)
HRNET_INSTANTIATE(double)
#undef HRNET_INSTANTIATE

}  // namespace hrnet::cpu

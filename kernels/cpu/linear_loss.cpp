// Linear layer (Eigen GEMM) and the two losses: softmax cross-entropy with label smoothing and the
// masked mean-squared error of HigherHRNet's heatmap loss. Loss sums run in a fixed order.
#include <cmath>

#include "common.hpp"

namespace hrnet::cpu {
using detail::CMapMat;
using detail::MapMat;

template <ComputeType T>
void linear_forward(const T4<T>& x, const T4<T>& w, const T4<T>* b, T4<T>& y) {
  const std::int64_t N = x.shape()[0], F = x.shape()[1], O = w.shape()[0];
  MapMat<T> Y(y.data(), N, O);
  Y.noalias() = CMapMat<T>(x.data(), N, F) * CMapMat<T>(w.data(), O, F).transpose();
  if (b)
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t o = 0; o < O; ++o) Y(n, o) += b->data()[o];
}

template <ComputeType T>
void linear_backward(const T4<T>& x, const T4<T>& w, const T4<T>& dy, T4<T>* dx, T4<T>* dw, T4<T>* db) {
  const std::int64_t N = x.shape()[0], F = x.shape()[1], O = w.shape()[0];
  CMapMat<T> G(dy.data(), N, O);
  if (dx) MapMat<T>(dx->data(), N, F).noalias() += G * CMapMat<T>(w.data(), O, F);
  if (dw) MapMat<T>(dw->data(), O, F).noalias() += G.transpose() * CMapMat<T>(x.data(), N, F);
  if (db) bias_backward(dy, *db);
}

namespace {
// log-softmax of one row, in double.
template <class T>
void log_softmax_row(const T* z, std::int64_t K, std::vector<double>& out) {
  double m = -INFINITY;
  for (std::int64_t k = 0; k < K; ++k) m = std::max(m, double(z[k]));
  double s = 0;
  for (std::int64_t k = 0; k < K; ++k) s += std::exp(double(z[k]) - m);
  const double lse = m + std::log(s);
  out.resize(static_cast<std::size_t>(K));
  for (std::int64_t k = 0; k < K; ++k) out[k] = double(z[k]) - lse;
}
void check_label(std::int64_t label, std::int64_t K, std::int64_t n) {
  HRNET_CHECK(label >= 0 && label < K, ValueError,
              "cross_entropy: label " << label << " of sample " << n << " is outside [0, " << K << ")");
}
}  // namespace

template <ComputeType T>
void cross_entropy_forward(const T4<T>& logits, const Tensor<std::int64_t, CPU>& labels, double eps, A4<T>& loss) {
  const std::int64_t N = logits.shape()[0], K = logits.shape()[1];
  std::vector<double> lp;
  double total = 0;
  for (std::int64_t n = 0; n < N; ++n) {
    const std::int64_t y = labels.data()[n];
    check_label(y, K, n);
    log_softmax_row(logits.data() + n * K, K, lp);
    double mean_nll = 0;
    for (std::int64_t k = 0; k < K; ++k) mean_nll -= lp[k];
    total += (1.0 - eps) * -lp[y] + eps * mean_nll / double(K);
  }
  loss.data()[0] = static_cast<acc_t<T>>(total / double(N));
}

template <ComputeType T>
void cross_entropy_backward(const T4<T>& logits, const Tensor<std::int64_t, CPU>& labels, double eps,
                            const A4<T>& dloss, T4<T>& dlogits) {
  const std::int64_t N = logits.shape()[0], K = logits.shape()[1];
  const double scale = double(dloss.data()[0]) / double(N);
  std::vector<double> lp;
  for (std::int64_t n = 0; n < N; ++n) {
    const std::int64_t y = labels.data()[n];
    check_label(y, K, n);
    log_softmax_row(logits.data() + n * K, K, lp);
    T* g = dlogits.data() + n * K;
    for (std::int64_t k = 0; k < K; ++k) {
      const double target = (k == y ? 1.0 - eps : 0.0) + eps / double(K);
      g[k] += static_cast<T>(scale * (std::exp(lp[k]) - target));
    }
  }
}

template <ComputeType T>
void masked_mse_forward(const T4<T>& pred, const T4<T>& gt, const T4<T>& mask, A4<T>& loss) {
  HRNET_CHECK(pred.numel() > 0, ShapeError, "masked_mse: the prediction " << pred.shape() << " is empty");
  const std::int64_t C = pred.shape().c(), pixels = pred.numel() / C;
  const std::int64_t nchunks = (pixels + detail::kReduceChunk - 1) / detail::kReduceChunk;
  std::vector<double> part(static_cast<std::size_t>(nchunks), 0.0);
#pragma omp parallel for schedule(static)
  for (std::int64_t k = 0; k < nchunks; ++k) {
    double acc = 0;
    const std::int64_t p1 = std::min(pixels, (k + 1) * detail::kReduceChunk);
    for (std::int64_t p = k * detail::kReduceChunk; p < p1; ++p) {
      const double m = double(mask.data()[p]);
      for (std::int64_t c = 0; c < C; ++c) {
        const double d = double(pred.data()[p * C + c]) - double(gt.data()[p * C + c]);
        acc += d * d * m;
      }
    }
    part[static_cast<std::size_t>(k)] = acc;
  }
  double total = 0;
  for (double v : part) total += v;
  loss.data()[0] = static_cast<acc_t<T>>(total / double(pred.numel()));
}

template <ComputeType T>
void masked_mse_backward(const T4<T>& pred, const T4<T>& gt, const T4<T>& mask, const A4<T>& dloss, T4<T>& dpred) {
  if (pred.numel() == 0) return;
  const std::int64_t C = pred.shape().c(), pixels = pred.numel() / C;
  const T scale = static_cast<T>(2.0 * double(dloss.data()[0]) / double(pred.numel()));
#pragma omp parallel for schedule(static)
  for (std::int64_t p = 0; p < pixels; ++p) {
    const T m = mask.data()[p];
    for (std::int64_t c = 0; c < C; ++c)
      dpred.data()[p * C + c] += scale * (pred.data()[p * C + c] - gt.data()[p * C + c]) * m;
  }
}

template <ComputeType T>
void weighted_mean_sum_forward(const std::vector<const T4<T>*>& xs, const std::vector<double>& weights, T4<T>& y) {
  double total = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    double s = 0;
    for (std::int64_t k = 0; k < xs[i]->numel(); ++k) s += double(xs[i]->data()[k]);
    total += weights[i] * s / double(xs[i]->numel());
  }
  y.data()[0] = static_cast<T>(total);
}

template <ComputeType T>
void weighted_mean_sum_backward(const T4<T>& dy, const std::vector<double>& weights, const std::vector<T4<T>*>& dxs) {
  for (std::size_t i = 0; i < dxs.size(); ++i) {
    if (!dxs[i]) continue;
    const T g = static_cast<T>(double(dy.data()[0]) * weights[i] / double(dxs[i]->numel()));
    for (std::int64_t k = 0; k < dxs[i]->numel(); ++k) dxs[i]->data()[k] += g;
  }
}

template <ComputeType T>
void sum(const T4<T>& x, A4<T>& out) {
  double total = 0;
  for (std::int64_t k = 0; k < x.numel(); ++k) total += double(x.data()[k]);
  out.data()[0] = static_cast<acc_t<T>>(total);
}

#define HRNET_INSTANTIATE(T)                                                                                   \
  template void linear_forward<T>(const T4<T>&, const T4<T>&, const T4<T>*, T4<T>&);                         \
  template void linear_backward<T>(const T4<T>&, const T4<T>&, const T4<T>&, T4<T>*, T4<T>*, T4<T>*);        \
  template void cross_entropy_forward<T>(const T4<T>&, const Tensor<std::int64_t, CPU>&, double, A4<T>&);   \
  template void cross_entropy_backward<T>(const T4<T>&, const Tensor<std::int64_t, CPU>&, double, const A4<T>&, \
                                          T4<T>&);                                                           \
  template void masked_mse_forward<T>(const T4<T>&, const T4<T>&, const T4<T>&, A4<T>&);                    \
  template void masked_mse_backward<T>(const T4<T>&, const T4<T>&, const T4<T>&, const A4<T>&, T4<T>&);     \
  template void weighted_mean_sum_forward<T>(const std::vector<const T4<T>*>&, const std::vector<double>&,   \
                                             T4<T>&);                                                        \
  template void weighted_mean_sum_backward<T>(const T4<T>&, const std::vector<double>&,                      \
                                              const std::vector<T4<T>*>&);                                   \
  template void sum<T>(const T4<T>&, A4<T>&);
HRNET_INSTANTIATE(float)
HRNET_INSTANTIATE(double)
#undef HRNET_INSTANTIATE

}  // namespace hrnet::cpu

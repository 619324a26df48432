// Associative-embedding loss of HigherHRNet (official lib/core/loss.py, AELoss.singleTagLoss),
// forward and handwritten backward. Per image, with P the people that have >= 1 visible joint,
// S_p the tags of person p's visible joints (m_p of them) and tbar_p their mean:
//   pull = (1/P) sum_p (1/m_p) sum_{t in S_p} (t - tbar_p)^2
//   push = 0.5 * (sum_{a,b} f(tbar_a - tbar_b) - P) / (P (P - 1)),  f = exp(-d^2) or max(0, 1 - |d|)
// P = 0: push = pull = 0; P = 1: push = 0. Gradients flow through tbar in both terms.
// Everything is computed in double, serially, in a fixed order (the work is O(N * M * J + N * P^2)).
#include <cmath>
#include <vector>

#include "common.hpp"
#include "hrnet/backend/cpu_pose.hpp"

namespace hrnet::cpu {

namespace {

// The visible joints of one image, grouped by person: offsets into the tag tensor's memory.
struct People {
  std::vector<std::int64_t> off;    // memory offsets of every visible joint, person by person
  std::vector<std::int64_t> begin;  // person p's joints are off[begin[p], begin[p + 1])
  std::int64_t count() const { return static_cast<std::int64_t>(begin.size()) - 1; }
};

void check_shapes(const Shape& ts, const Shape& js) {
  HRNET_CHECK(ts.rank() == 4, ShapeError, "ae_loss: tags must be (N, K, H, W), got " << ts);
  HRNET_CHECK(js.rank() == 4 && js[0] == ts[0] && js[3] == 2, ShapeError,
              "ae_loss: joints must be (N, people, joints, 2) with N = " << ts[0] << " for tags " << ts << ", got "
                                                                         << js);
}

// Gathers image n's people; people without visible joints are skipped, as in the official code.
void gather(const Shape& ts, const Tensor<std::int64_t, CPU>& joints, std::int64_t n, People& pp) {
  const std::int64_t K = ts.c(), HW = ts.h() * ts.w(), total = K * HW;
  const std::int64_t M = joints.shape()[1], J = joints.shape()[2];
  pp.off.clear();
  pp.begin.assign(1, 0);
  for (std::int64_t m = 0; m < M; ++m) {
    const std::size_t before = pp.off.size();
    for (std::int64_t j = 0; j < J; ++j) {
      if (joints.at(n, m, j, 1) <= 0) continue;
      const std::int64_t f = joints.at(n, m, j, 0);
      HRNET_CHECK(f >= 0 && f < total, ValueError,
                  "ae_loss: image " << n << ", person " << m << ", joint " << j << ": tag index " << f
                                    << " is outside [0, " << total << ") for tags " << ts
                                    << " (index = k*H*W + y*W + x)");
      // NCHW flat index -> NHWC memory offset
      const std::int64_t c = f / HW, p = f % HW;
      pp.off.push_back((n * HW + p) * K + c);
    }
    if (pp.off.size() > before) pp.begin.push_back(static_cast<std::int64_t>(pp.off.size()));
  }
}

template <class T>
void means(const T* t, const People& pp, std::vector<double>& mean) {
  const std::int64_t P = pp.count();
  mean.assign(static_cast<std::size_t>(P), 0.0);
  for (std::int64_t p = 0; p < P; ++p) {
    double s = 0;
    for (std::int64_t i = pp.begin[p]; i < pp.begin[p + 1]; ++i) s += double(t[pp.off[i]]);
    mean[p] = s / double(pp.begin[p + 1] - pp.begin[p]);
  }
}

// f(d) and f'(d); f' follows PyTorch's autograd: d|d|/dd = sign(d) with sign(0) = 0, and
// clamp(min = 0) passes the gradient where its input is >= 0.
double push_f(double d, AeLossType type) {
  return type == AeLossType::Exp ? std::exp(-d * d) : std::max(0.0, 1.0 - std::abs(d));
}
double push_df(double d, AeLossType type) {
  if (type == AeLossType::Exp) return -2.0 * d * std::exp(-d * d);
  if (1.0 - std::abs(d) < 0.0) return 0.0;
  return d > 0 ? -1.0 : (d < 0 ? 1.0 : 0.0);
}

}  // namespace

template <ComputeType T>
void ae_loss_forward(const T4<T>& tags, const Tensor<std::int64_t, CPU>& joints, AeLossType type, T4<T>& push,
                     T4<T>& pull) {
  const Shape& ts = tags.shape();
  check_shapes(ts, joints.shape());
  const std::int64_t N = ts.n();
  People pp;
  std::vector<double> mean;
  for (std::int64_t n = 0; n < N; ++n) {
    gather(ts, joints, n, pp);
    const std::int64_t P = pp.count();
    means(tags.data(), pp, mean);
    double pl = 0;
    for (std::int64_t p = 0; p < P; ++p) {
      double s = 0;
      for (std::int64_t i = pp.begin[p]; i < pp.begin[p + 1]; ++i) {
        const double d = double(tags.data()[pp.off[i]]) - mean[p];
        s += d * d;
      }
      pl += s / double(pp.begin[p + 1] - pp.begin[p]);
    }
    double ps = 0;
    if (P >= 2) {
      double s = 0;
      for (std::int64_t a = 0; a < P; ++a)
        for (std::int64_t b = 0; b < P; ++b) s += push_f(mean[a] - mean[b], type);
      ps = 0.5 * (s - double(P)) / (double(P) * double(P - 1));
    }
    pull.data()[n] = static_cast<T>(P > 0 ? pl / double(P) : 0.0);
    push.data()[n] = static_cast<T>(ps);
  }
}

template <ComputeType T>
void ae_loss_backward(const T4<T>& tags, const Tensor<std::int64_t, CPU>& joints, AeLossType type,
                      const T4<T>* dpush, const T4<T>* dpull, T4<T>& dtags) {
  const Shape& ts = tags.shape();
  check_shapes(ts, joints.shape());
  const std::int64_t N = ts.n();
  People pp;
  std::vector<double> mean, gmean;
  for (std::int64_t n = 0; n < N; ++n) {
    gather(ts, joints, n, pp);
    const std::int64_t P = pp.count();
    if (P == 0) continue;
    means(tags.data(), pp, mean);
    // d/d tbar_p of gpush * push (the mean then spreads it evenly over the person's joints)
    gmean.assign(static_cast<std::size_t>(P), 0.0);
    if (dpush && P >= 2) {
      // push = c * sum_{a,b} f(tbar_a - tbar_b) + const, f' odd: d push / d tbar_a = 2c sum_b f'(tbar_a - tbar_b)
      const double c2 = double(dpush->data()[n]) / (double(P) * double(P - 1));
      for (std::int64_t a = 0; a < P; ++a) {
        double s = 0;
        for (std::int64_t b = 0; b < P; ++b) s += push_df(mean[a] - mean[b], type);
        gmean[a] = c2 * s;
      }
    }
    const double gpl = dpull ? double(dpull->data()[n]) / double(P) : 0.0;
    for (std::int64_t p = 0; p < P; ++p) {
      const double m = double(pp.begin[p + 1] - pp.begin[p]);
      // d/dt_j of (1/m) sum_i (t_i - tbar)^2 = (2/m)(t_j - tbar): the terms through tbar sum to 0
      for (std::int64_t i = pp.begin[p]; i < pp.begin[p + 1]; ++i) {
        const std::int64_t o = pp.off[i];
        const double g = gpl * 2.0 / m * (double(tags.data()[o]) - mean[p]) + gmean[p] / m;
        dtags.data()[o] += static_cast<T>(g);
      }
    }
  }
}

#define HRNET_INSTANTIATE(T)                                                                                 \
  template void ae_loss_forward<T>(const T4<T>&, const Tensor<std::int64_t, CPU>&, AeLossType, T4<T>&, T4<T>&); \
  template void ae_loss_backward<T>(const T4<T>&, const Tensor<std::int64_t, CPU>&, AeLossType, const T4<T>*, \
                                    const T4<T>*, T4<T>&);
HRNET_INSTANTIATE(float)
HRNET_INSTANTIATE(double)
#undef HRNET_INSTANTIATE

}  // namespace hrnet::cpu

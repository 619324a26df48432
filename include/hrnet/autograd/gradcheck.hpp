// The gradient checker, shipped with the library so that every op (ours or a user's) can be
// checked the same way. Contract, after dlib's test_layer:
//   1. The function is reduced to a scalar L = sum(f(inputs) * R) with a fixed random R.
//   2. Each input's gradient buffer is pre-filled with random values G0 before backward; the
//      analytic gradient is read as (grad - G0). A backward that overwrites instead of
//      accumulating therefore fails.
//   3. Every element of every input that requires grad is compared with the central difference
//      (L(x + eps) - L(x - eps)) / (2 eps): |analytic - numeric| <= atol + rtol * |numeric|.
// Use double inputs for tight tolerances. Functions with state (batch norm running statistics)
// are fine as long as their output does not depend on that state.
#pragma once
#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "hrnet/autograd/var.hpp"
#include "hrnet/core/rng.hpp"

namespace hrnet::autograd {

struct GradcheckOptions {
  double eps = 1e-6;
  double rtol = 1e-5;
  double atol = 1e-8;
  std::uint64_t seed = 1234;
};

struct GradcheckResult {
  bool ok = true;
  std::int64_t checked = 0;     // number of elements compared
  double max_abs_error = 0.0;
  std::string report;           // the first mismatches, readable
};

template <ComputeType T>
GradcheckResult gradcheck(const std::function<Var<T, CPU>(std::vector<Var<T, CPU>>&)>& f,
                          std::vector<Var<T, CPU>> inputs, GradcheckOptions o = {}) {
  GradcheckResult res;
  Rng rng(o.seed);
  // Work on an empty tape; whatever the caller had recorded is put back afterwards.
  struct TapeScope {
    std::vector<Tape::Entry> saved = tape().release();
    ~TapeScope() { tape().restore(std::move(saved)); }
  } scope;

  // Projection R and poison G0.
  Var<T, CPU> out0 = f(inputs);
  auto R = Tensor<T, CPU>::empty(out0.shape());
  fill_normal(R, rng);
  std::vector<Tensor<T, CPU>> g0(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].requires_grad()) continue;
    g0[i] = Tensor<T, CPU>::empty(inputs[i].shape());
    fill_normal(g0[i], rng);
    inputs[i].grad_buffer().copy_from(g0[i]);
  }
  HRNET_CHECK(out0.requires_grad(), ValueError, "gradcheck: the output does not depend on any input requiring grad");
  backward(out0, R);

  auto scalar = [&]() {
    NoGradGuard ng;
    Var<T, CPU> y = f(inputs);
    double s = 0;
    for (std::int64_t k = 0; k < y.value().numel(); ++k) s += double(y.value()[k]) * double(R[k]);
    return s;
  };
  std::ostringstream rep;
  int shown = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].requires_grad()) continue;
    Tensor<T, CPU>& x = inputs[i].value();
    for (std::int64_t k = 0; k < x.numel(); ++k) {
      const T orig = x[k];
      x[k] = static_cast<T>(orig + o.eps);
      const double lp = scalar();
      x[k] = static_cast<T>(orig - o.eps);
      const double lm = scalar();
      x[k] = orig;
      const double numeric = (lp - lm) / (2 * o.eps);
      const double analytic = double(inputs[i].grad()[k]) - double(g0[i][k]);
      const double err = std::abs(analytic - numeric);
      res.max_abs_error = std::max(res.max_abs_error, err);
      ++res.checked;
      if (err > o.atol + o.rtol * std::abs(numeric) || !std::isfinite(analytic)) {
        res.ok = false;
        if (shown++ < 8)
          rep << "input " << i << " element " << k << ": analytic " << analytic << ", numeric " << numeric << "\n";
      }
    }
  }
  res.report = rep.str();
  return res;
}

}  // namespace hrnet::autograd

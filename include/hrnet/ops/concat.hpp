// Concatenation along channels (dim 1 of (N,C,H,W)).
#pragma once
#include <vector>

#include "hrnet/ops/detail.hpp"

namespace hrnet::ops {

template <FloatType T, Device D>
Var<T, D> concat(const std::vector<Var<T, D>>& xs) {
  detail::check_backend<T, D>();
  HRNET_CHECK(!xs.empty(), ValueError, "concat: needs at least one input");
  const Shape& s0 = xs[0].shape();
  HRNET_CHECK(s0.rank() == 4, ShapeError, "concat: inputs must be 4-D, input 0 is " << s0);
  std::int64_t C = 0;
  bool need = false;
  std::vector<const Tensor<T, D>*> vals;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const Shape& s = xs[i].shape();
    HRNET_CHECK(s.rank() == 4 && s.n() == s0.n() && s.h() == s0.h() && s.w() == s0.w(), ShapeError,
                "concat: input " << i << " " << s << " does not match input 0 " << s0 << " outside dim 1");
    C += s.c();
    vals.push_back(&xs[i].value());
    need = need || detail::any_requires_grad<T, D>({&xs[i]});
  }
  auto y = Tensor<T, D>::empty({s0.n(), C, s0.h(), s0.w()});
  backend::concat_forward(vals, y);
  Var<T, D> out(y, need);
  if (need)
    detail::record(out, [xs](const Tensor<T, D>& gy) mutable {
      std::vector<Tensor<T, D>*> grads;
      for (auto& x : xs) grads.push_back(x.requires_grad() ? &x.grad_buffer() : nullptr);
      // concat_backward needs every slice's width, so inputs without grad get a scratch buffer
      std::vector<Tensor<T, D>> scratch;
      scratch.reserve(xs.size());
      for (std::size_t i = 0; i < xs.size(); ++i)
        if (!grads[i]) grads[i] = &scratch.emplace_back(Tensor<T, D>::zeros(xs[i].shape()));
      backend::concat_backward(gy, grads);
    });
  return out;
}
template <FloatType T, Device D>
Var<T, D> concat(std::initializer_list<Var<T, D>> xs) {
  return concat(std::vector<Var<T, D>>(xs));
}

}  // namespace hrnet::ops

// Central-difference gradient checks of every differentiable op, in double, over random shapes
// with odd sizes and channel counts that are not multiples of 8. Each test is tagged [gradcheck]
// and named after its op.
#include "hrnet/autograd/gradcheck.hpp"
#include "hrnet/ops/ops.hpp"
#include "test_util.hpp"

using namespace hrnet;
using V = Var<double, CPU>;
using Vs = std::vector<V>;

namespace {
V rand_var(const Shape& s, Rng& rng, double scale = 1.0, bool grad = true) {
  auto t = Tensor<double, CPU>::empty(s);
  fill_normal(t, rng, 0.0, scale);
  return V(t, grad);
}
void require_ok(const autograd::GradcheckResult& r) {
  INFO("checked " << r.checked << " elements, max abs error " << r.max_abs_error << "\n" << r.report);
  REQUIRE(r.checked > 0);
  REQUIRE(r.ok);
}
std::int64_t odd(Rng& rng, std::int64_t lo, std::int64_t hi) { return lo + static_cast<std::int64_t>(rng.below(hi - lo + 1)); }
}  // namespace

TEST_CASE("gradcheck conv2d", "[gradcheck][conv2d]") {
  Rng rng(1);
  struct Cfg { int k, s, p; bool bias; };
  for (Cfg c : {Cfg{3, 1, 1, true}, Cfg{3, 2, 1, false}, Cfg{1, 1, 0, true}, Cfg{1, 2, 0, false}, Cfg{3, 1, 0, false}}) {
    const std::int64_t N = odd(rng, 1, 2), Ci = odd(rng, 1, 5), Co = odd(rng, 1, 5), H = odd(rng, 3, 7), W = odd(rng, 3, 7);
    INFO("k " << c.k << " s " << c.s << " p " << c.p << " x [" << N << "," << Ci << "," << H << "," << W << "] Co " << Co);
    Vs in{rand_var({N, Ci, H, W}, rng), rand_var({Co, Ci, c.k, c.k}, rng, 0.5), rand_var({Co}, rng, 0.5, c.bias)};
    require_ok(autograd::gradcheck<double>(
        [&](Vs& v) { return ops::conv2d(v[0], v[1], c.bias ? v[2] : V(), {c.s, c.p, 0}); }, in));
  }
}

TEST_CASE("gradcheck conv_transpose2d", "[gradcheck][conv_transpose2d]") {
  Rng rng(2);
  struct Cfg { int k, s, p, op; bool bias; };
  for (Cfg c : {Cfg{4, 2, 1, 0, true}, Cfg{3, 2, 1, 1, false}, Cfg{2, 2, 0, 0, true}, Cfg{3, 1, 1, 0, false}}) {
    const std::int64_t N = odd(rng, 1, 2), Ci = odd(rng, 1, 5), Co = odd(rng, 1, 5), H = odd(rng, 2, 5), W = odd(rng, 2, 5);
    INFO("k " << c.k << " s " << c.s << " p " << c.p << " op " << c.op);
    Vs in{rand_var({N, Ci, H, W}, rng), rand_var({Ci, Co, c.k, c.k}, rng, 0.5), rand_var({Co}, rng, 0.5, c.bias)};
    require_ok(autograd::gradcheck<double>(
        [&](Vs& v) { return ops::conv_transpose2d(v[0], v[1], c.bias ? v[2] : V(), {c.s, c.p, c.op}); }, in));
  }
}

TEST_CASE("gradcheck batch_norm", "[gradcheck][batch_norm]") {
  Rng rng(3);
  for (bool training : {true, false}) {
    const std::int64_t N = odd(rng, 2, 3), C = odd(rng, 1, 5), H = odd(rng, 2, 5), W = odd(rng, 2, 5);
    INFO("training " << training << " x [" << N << "," << C << "," << H << "," << W << "]");
    auto rm = Tensor<double, CPU>::empty({C}), rv = Tensor<double, CPU>::empty({C});
    fill_normal(rm, rng, 0.0, 0.2);
    fill_uniform(rv, rng, 0.5, 1.5);
    Vs in{rand_var({N, C, H, W}, rng), rand_var({C}, rng), rand_var({C}, rng)};
    // the ops update the running statistics; the output in training mode does not depend on them
    require_ok(autograd::gradcheck<double>(
        [&](Vs& v) { return ops::batch_norm(v[0], v[1], v[2], rm, rv, {training, 0.1, 1e-5}); }, in,
        {1e-6, 1e-4, 1e-7}));
  }
}

TEST_CASE("gradcheck relu", "[gradcheck][relu]") {
  Rng rng(4);
  auto x = rand_var({2, 3, 5, 7}, rng);
  // keep values away from the kink at 0, where the derivative is undefined
  for (std::int64_t i = 0; i < x.value().numel(); ++i)
    if (std::abs(x.value()[i]) < 1e-3) x.value()[i] = 0.5;
  require_ok(autograd::gradcheck<double>([](Vs& v) { return ops::relu(v[0]); }, {x}));
}

TEST_CASE("gradcheck add", "[gradcheck][add]") {
  Rng rng(5);
  const Shape s{1, 5, 3, 7};
  Vs in{rand_var(s, rng), rand_var(s, rng), rand_var(s, rng, 1.0, false), rand_var(s, rng)};
  require_ok(autograd::gradcheck<double>([](Vs& v) { return ops::add(Vs{v[0], v[1], v[2], v[3], v[0]}); }, in));
}

TEST_CASE("gradcheck upsample_nearest", "[gradcheck][upsample]") {
  Rng rng(6);
  for (int f : {1, 2, 3, 4}) {
    Vs in{rand_var({2, 3, odd(rng, 1, 4), odd(rng, 1, 4)}, rng)};
    require_ok(autograd::gradcheck<double>([f](Vs& v) { return ops::upsample_nearest(v[0], f); }, in));
  }
}

TEST_CASE("gradcheck fusion_sum_relu (fused upsample + sum + relu)", "[gradcheck][upsample][fusion]") {
  Rng rng(7);
  Vs in{rand_var({2, 3, 8, 4}, rng), rand_var({2, 3, 4, 2}, rng), rand_var({2, 3, 2, 1}, rng)};
  require_ok(autograd::gradcheck<double>([](Vs& v) { return ops::fusion_sum_relu(v, {1, 2, 4}); }, in));
}

TEST_CASE("gradcheck concat", "[gradcheck][concat]") {
  Rng rng(8);
  Vs in{rand_var({2, 3, 3, 5}, rng), rand_var({2, 1, 3, 5}, rng, 1.0, false), rand_var({2, 5, 3, 5}, rng)};
  require_ok(autograd::gradcheck<double>([](Vs& v) { return ops::concat(v); }, in));
}

TEST_CASE("gradcheck avg_pool (global average pool)", "[gradcheck][avg_pool]") {
  Rng rng(9);
  Vs in{rand_var({3, 5, 3, 7}, rng)};
  require_ok(autograd::gradcheck<double>([](Vs& v) { return ops::global_avg_pool(v[0]); }, in));
}

TEST_CASE("gradcheck linear", "[gradcheck][linear]") {
  Rng rng(10);
  for (bool bias : {true, false}) {
    Vs in{rand_var({3, 7}, rng), rand_var({5, 7}, rng), rand_var({5}, rng, 1.0, bias)};
    require_ok(autograd::gradcheck<double>([bias](Vs& v) { return ops::linear(v[0], v[1], bias ? v[2] : V()); }, in));
  }
}

TEST_CASE("gradcheck cross_entropy", "[gradcheck][cross_entropy]") {
  Rng rng(11);
  for (double smoothing : {0.0, 0.1}) {
    auto labels = Tensor<std::int64_t, CPU>::from_vector({5}, {0, 6, 3, 3, 1});
    Vs in{rand_var({5, 7}, rng, 2.0)};
    require_ok(autograd::gradcheck<double>(
        [&](Vs& v) { return ops::cross_entropy(v[0], labels, smoothing); }, in));
  }
}

TEST_CASE("gradcheck mse (masked mean-squared error)", "[gradcheck][mse]") {
  Rng rng(12);
  auto gt = Tensor<double, CPU>::empty({2, 3, 5, 3}), mask = Tensor<double, CPU>::empty({2, 1, 5, 3});
  fill_normal(gt, rng);
  for (std::int64_t i = 0; i < mask.numel(); ++i) mask[i] = rng.uniform() < 0.7 ? 1.0 : 0.0;
  Vs in{rand_var({2, 3, 5, 3}, rng)};
  require_ok(autograd::gradcheck<double>([&](Vs& v) { return ops::masked_mse(v[0], gt, mask); }, in));
}

TEST_CASE("gradcheck slice_channels", "[gradcheck][slice]") {
  Rng rng(13);
  for (auto [b, e] : {std::pair<std::int64_t, std::int64_t>{0, 3}, {3, 7}, {2, 5}, {0, 7}}) {
    INFO("range [" << b << ", " << e << ")");
    Vs in{rand_var({2, 7, 3, 5}, rng)};
    require_ok(autograd::gradcheck<double>([b = b, e = e](Vs& v) { return ops::slice_channels(v[0], b, e); }, in));
  }
  V x = rand_var({1, 4, 2, 2}, rng);
  test::check_throws<ShapeError>([&] { ops::slice_channels(x, 3, 5); }, "not inside the 4 channels");
}

TEST_CASE("gradcheck weighted_mean_sum (loss combination)", "[gradcheck][reduce]") {
  Rng rng(14);
  Vs in{rand_var({3}, rng), rand_var({2, 3, 5, 3}, rng), rand_var(Shape{}, rng), rand_var({5}, rng, 1.0, false)};
  require_ok(autograd::gradcheck<double>(
      [](Vs& v) { return ops::weighted_mean_sum(v, {1.0, 0.5, 2.0, 0.001}); }, in));
  // the value itself: sum of weighted means
  auto a = Tensor<double, CPU>::from_vector({2}, {1.0, 3.0}), b = Tensor<double, CPU>::from_vector({3}, {3.0, 6.0, 9.0});
  const V y = ops::weighted_mean_sum(Vs{V(a, false), V(b, false)}, {1.0, 0.1});
  CHECK(y.value()[0] == Approx(2.0 + 0.6));
}

TEST_CASE("gradcheck detects a backward that overwrites instead of accumulating", "[gradcheck][checker]") {
  Rng rng(13);
  // An op whose backward assigns the gradient: the checker must reject it.
  auto overwriting_square = [](Vs& v) {
    V x = v[0];
    auto y = Tensor<double, CPU>::empty(x.shape());
    for (std::int64_t i = 0; i < y.numel(); ++i) y[i] = x.value()[i] * x.value()[i];
    V out(y, x.requires_grad() && autograd::grad_enabled());
    if (out.requires_grad())
      ops::detail::record(out, [x](const Tensor<double, CPU>& gy) mutable {
        for (std::int64_t i = 0; i < gy.numel(); ++i) x.grad_buffer()[i] = 2 * x.value()[i] * gy[i];
      });
    return out;
  };
  auto r = autograd::gradcheck<double>(overwriting_square, {rand_var({1, 2, 2, 3}, rng)});
  CHECK_FALSE(r.ok);
}

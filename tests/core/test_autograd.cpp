// The tape: accumulation, no-grad mode, zero_grad and freeing of saved activations.
#include "hrnet/core/rng.hpp"
#include "hrnet/ops/ops.hpp"
#include "test_util.hpp"

using namespace hrnet;
using V = Var<float, CPU>;

TEST_CASE("backward accumulates into parameters until zero_grad", "[autograd]") {
  V w(Tensor<float, CPU>::from_vector({2, 3}, {1, 2, 3, 4, 5, 6}), true);
  V x(Tensor<float, CPU>::from_vector({1, 3}, {1, 1, 1}), false);
  auto labels = Tensor<std::int64_t, CPU>::from_vector({1}, {0});
  V l1 = ops::cross_entropy(ops::linear(x, w, V()), labels);
  backward(l1);
  const auto g1 = w.grad().to_vector();
  V l2 = ops::cross_entropy(ops::linear(x, w, V()), labels);
  backward(l2);
  for (std::size_t i = 0; i < g1.size(); ++i) CHECK(w.grad()[i] == Approx(2 * g1[i]));
  w.zero_grad();
  for (std::size_t i = 0; i < g1.size(); ++i) CHECK(w.grad()[i] == 0.0f);
  CHECK_FALSE(x.has_grad());  // inputs that do not require grad never get a buffer
}

TEST_CASE("NoGradGuard records nothing", "[autograd]") {
  autograd::tape().clear();
  V w(Tensor<float, CPU>::full({4, 3, 3, 3}, 0.1f), true);
  V x(Tensor<float, CPU>::full({1, 3, 5, 5}, 1.0f));
  {
    autograd::NoGradGuard g;
    V y = ops::relu(ops::conv2d(x, w, {1, 1, 0}));
    CHECK_FALSE(y.requires_grad());
    CHECK(autograd::tape().size() == 0);
  }
  V y = ops::relu(ops::conv2d(x, w, {1, 1, 0}));
  CHECK(y.requires_grad());
  CHECK(autograd::tape().size() == 2);
  autograd::tape().clear();
}

TEST_CASE("backward frees saved activations", "[autograd]") {
  V w(Tensor<float, CPU>::full({4, 3, 3, 3}, 0.1f), true);
  auto input = Tensor<float, CPU>::full({1, 3, 5, 5}, 1.0f);
  V x(input);
  V h = ops::relu(ops::conv2d(x, w, {1, 1, 0}));
  V loss = ops::masked_mse(h, Tensor<float, CPU>::zeros(h.shape()), Tensor<float, CPU>::full({1, 1, 5, 5}, 1.0f));
  x = V();
  h = V();
  CHECK(input.use_count() == 2);  // the tape still holds x for the conv's weight gradient
  backward(loss);
  CHECK(autograd::tape().size() == 0);
  CHECK(input.use_count() == 1);  // nothing holds the activation any more
  CHECK(w.has_grad());
}

TEST_CASE("backward on a loss that needs no grad is a clear error", "[autograd]") {
  V x(Tensor<float, CPU>::full({1, 2}, 1.0f));
  auto labels = Tensor<std::int64_t, CPU>::from_vector({1}, {1});
  V loss = ops::cross_entropy(x, labels);
  hrnet::test::check_throws<ValueError>([&] { (void)(backward(loss)); }, "does not require grad");
}

TEST_CASE("ops reject mismatched shapes with messages that name the op", "[autograd][errors]") {
  V x(Tensor<float, CPU>::zeros({1, 3, 5, 5}));
  V w(Tensor<float, CPU>::zeros({4, 2, 3, 3}), true);
  hrnet::test::check_throws<ShapeError>([&] { (void)(ops::conv2d(x, w, {1, 1, 0})); }, "conv2d: weight");
  V y(Tensor<float, CPU>::zeros({1, 3, 4, 5}));
  hrnet::test::check_throws<ShapeError>([&] { (void)(ops::add(x, y)); }, "add: input 1");
  hrnet::test::check_throws<ShapeError>([&] { (void)(ops::concat(std::vector<V>{x, V(Tensor<float, CPU>::zeros({2, 3, 5, 5}))})); }, "concat: input 1");
  auto labels = Tensor<std::int64_t, CPU>::from_vector({1}, {9});
  V logits(Tensor<float, CPU>::zeros({1, 4}));
  hrnet::test::check_throws<ValueError>([&] { (void)(ops::cross_entropy(logits, labels)); }, "label 9");
  hrnet::test::check_throws<ValueError>([&] { (void)(ops::conv_transpose2d(x, V(Tensor<float, CPU>::zeros({3, 2, 3, 3})), V(), {2, 1, 2})); }, "output_padding must be < stride");
}

TEST_CASE("CPU ops are bit-for-bit repeatable", "[autograd][determinism]") {
  Rng rng(3);
  auto xt = Tensor<float, CPU>::empty({2, 5, 17, 13});
  auto wt = Tensor<float, CPU>::empty({7, 5, 3, 3});
  fill_normal(xt, rng);
  fill_normal(wt, rng);
  std::vector<float> first;
  for (int rep = 0; rep < 2; ++rep) {
    V x(xt.clone(), true), w(wt.clone(), true);
    auto rm = Tensor<float, CPU>::zeros({7}), rv = Tensor<float, CPU>::full({7}, 1.0f);
    V g(Tensor<float, CPU>::full({7}, 1.0f), true), b(Tensor<float, CPU>::zeros({7}), true);
    V y = ops::relu(ops::batch_norm(ops::conv2d(x, w, {2, 1, 0}), g, b, rm, rv));
    V loss = ops::masked_mse(y, Tensor<float, CPU>::zeros(y.shape()),
                             Tensor<float, CPU>::full({2, 1, y.shape().h(), y.shape().w()}, 1.0f));
    backward(loss);
    std::vector<float> all = w.grad().to_vector();
    auto gx = x.grad().to_vector();
    all.insert(all.end(), gx.begin(), gx.end());
    if (rep == 0) first = all;
    else CHECK(all == first);
  }
}

// Mixing dtypes or devices in one op does not compile: these are checked at compile time.
namespace {
template <class A, class B>
concept Addable = requires(A a, B b) { hrnet::ops::add(a, b); };
static_assert(Addable<Var<float, CPU>, Var<float, CPU>>);
static_assert(!Addable<Var<float, CPU>, Var<double, CPU>>, "dtype mismatch must not compile");
static_assert(!Addable<Var<float, CPU>, Var<float, CUDA>>, "device mismatch must not compile");
template <class X, class W>
concept Convolvable = requires(X x, W w) { hrnet::ops::conv2d(x, w, hrnet::ops::ConvOptions{}); };
static_assert(Convolvable<Var<double, CPU>, Var<double, CPU>>);
static_assert(!Convolvable<Var<double, CPU>, Var<float, CPU>>, "dtype mismatch must not compile");
}  // namespace

TEST_CASE("two independent graphs can be backpropagated one after the other", "[autograd]") {
  V a(Tensor<float, CPU>::full({1, 3}, 1.0f), true), b(Tensor<float, CPU>::full({1, 3}, 2.0f), true);
  auto labels = Tensor<std::int64_t, CPU>::from_vector({1}, {0});
  V la = ops::cross_entropy(ops::relu(a), labels);
  V lb = ops::cross_entropy(ops::relu(b), labels);
  backward(la);
  CHECK(a.has_grad());
  CHECK_FALSE(b.has_grad());
  backward(lb);  // lb's entries were kept by the first backward
  REQUIRE(b.has_grad());
  CHECK(b.grad()[0] < 0.0f);
  CHECK(autograd::tape().size() == 0);
}

TEST_CASE("graphs that are dropped without backward do not accumulate on the tape", "[autograd]") {
  autograd::tape().clear();
  V w(Tensor<float, CPU>::full({4, 3, 3, 3}, 0.1f), true);
  for (int i = 0; i < 50; ++i) {  // an evaluation loop that forgot NoGradGuard
    V x(Tensor<float, CPU>::full({1, 3, 6, 6}, 1.0f));
    V y = ops::global_avg_pool(ops::relu(ops::conv2d(x, w, {1, 1, 0})));
    CHECK(autograd::tape().size() <= 3);
  }
}

TEST_CASE("an exception inside backward leaves an empty tape", "[autograd][errors]") {
  V x(Tensor<float, CPU>::full({1, 2}, 1.0f), true);
  V y = ops::relu(x);
  ops::detail::record(y, [](const Tensor<float, CPU>&) { throw ValueError("injected failure"); });
  V z = y;  // keep y alive
  CHECK_THROWS_AS(backward(z, Tensor<float, CPU>::full({1, 2}, 1.0f)), ValueError);
  CHECK(autograd::tape().size() == 0);
}

TEST_CASE("NaN propagates through relu and max_pool as in PyTorch", "[autograd]") {
  auto t = Tensor<float, CPU>::from_vector({1, 1, 1, 3}, {NAN, -1.0f, 2.0f});
  V y = ops::relu(V(t));
  CHECK(std::isnan(y.value()[0]));
  CHECK(y.value()[1] == 0.0f);
  auto m = ops::max_pool2d(t, 3, 1, 1);
  CHECK(std::isnan(m[1]));
}

// Every op's forward and backward against golden values computed by PyTorch
// (tests/fixtures/make_fixtures.py), in float32. Tolerances: float32 with short reductions, so
// 1e-5 absolute plus 1e-4 relative; batch norm gets 1e-4 absolute (its gradient involves
// differences of sums over ~100 terms).
#include "hrnet/ops/ops.hpp"
#include "test_util.hpp"

using namespace hrnet;
using hrnet::test::fixture;
using hrnet::test::get;
using hrnet::test::meta_num;
using hrnet::test::require_close;
using V = Var<float, CPU>;

namespace {
constexpr double kRtol = 1e-4, kAtol = 1e-5;
V param(const io::SafetensorsFile& f, const std::string& k) { return V(get(f, k), true); }
bool has(const io::SafetensorsFile& f, const std::string& k) { return f.tensors.count(k) > 0; }
}  // namespace

TEST_CASE("fixture conv2d", "[fixture][conv2d]") {
  for (const char* name : {"conv2d_k3s1p1_bias", "conv2d_k3s2p1", "conv2d_k1s1p0_bias", "conv2d_k3s2p1_bias_odd"}) {
    SECTION(name) {
      auto f = fixture(name);
      V x = param(f, "x"), w = param(f, "w"), b = has(f, "b") ? param(f, "b") : V();
      V y = ops::conv2d(x, w, b, {int(meta_num(f, "stride")), int(meta_num(f, "padding")), 0});
      require_close(y.value(), get(f, "y"), kRtol, kAtol, "y");
      backward(y, get(f, "gy"));
      require_close(x.grad(), get(f, "gx"), kRtol, kAtol, "gx");
      require_close(w.grad(), get(f, "gw"), kRtol, kAtol, "gw");
      if (b.defined()) require_close(b.grad(), get(f, "gb"), kRtol, kAtol, "gb");
    }
  }
}

TEST_CASE("fixture conv_transpose2d", "[fixture][conv_transpose2d]") {
  for (const char* name : {"conv_transpose2d_k4s2p1_bias", "conv_transpose2d_k3s2p1op1", "conv_transpose2d_k2s2p0_bias"}) {
    SECTION(name) {
      auto f = fixture(name);
      V x = param(f, "x"), w = param(f, "w"), b = has(f, "b") ? param(f, "b") : V();
      V y = ops::conv_transpose2d(
          x, w, b, {int(meta_num(f, "stride")), int(meta_num(f, "padding")), int(meta_num(f, "output_padding"))});
      require_close(y.value(), get(f, "y"), kRtol, kAtol, "y");
      backward(y, get(f, "gy"));
      require_close(x.grad(), get(f, "gx"), kRtol, kAtol, "gx");
      require_close(w.grad(), get(f, "gw"), kRtol, kAtol, "gw");
      if (b.defined()) require_close(b.grad(), get(f, "gb"), kRtol, kAtol, "gb");
    }
  }
}

TEST_CASE("fixture batch_norm", "[fixture][batch_norm]") {
  for (bool training : {true, false}) {
    SECTION(training ? "train" : "eval") {
      auto f = fixture(training ? "batch_norm_train" : "batch_norm_eval");
      V x = param(f, "x"), w = param(f, "weight"), b = param(f, "bias");
      auto rm = get(f, "running_mean"), rv = get(f, "running_var");
      V y = ops::batch_norm(x, w, b, rm, rv, {training, 0.1, 1e-5});
      require_close(y.value(), get(f, "y"), kRtol, 1e-4, "y");
      if (training) {
        require_close(rm, get(f, "running_mean_out"), kRtol, kAtol, "running_mean");
        require_close(rv, get(f, "running_var_out"), kRtol, kAtol, "running_var");
      }
      backward(y, get(f, "gy"));
      require_close(x.grad(), get(f, "gx"), kRtol, 1e-4, "gx");
      require_close(w.grad(), get(f, "gweight"), kRtol, 1e-4, "gweight");
      require_close(b.grad(), get(f, "gbias"), kRtol, 1e-4, "gbias");
    }
  }
}

TEST_CASE("fixture relu", "[fixture][relu]") {
  auto f = fixture("relu");
  V x = param(f, "x");
  V y = ops::relu(x);
  require_close(y.value(), get(f, "y"), 0, 0, "y");
  backward(y, get(f, "gy"));
  require_close(x.grad(), get(f, "gx"), 0, 0, "gx");
}

TEST_CASE("fixture add", "[fixture][add]") {
  auto f = fixture("add3");
  V a = param(f, "a"), b = param(f, "b"), c = param(f, "c");
  V y = ops::add({a, b, c});
  require_close(y.value(), get(f, "y"), 0, 0, "y (same summation order)");
  backward(y, get(f, "gy"));
  require_close(a.grad(), get(f, "ga"), 0, 0, "ga");
  require_close(b.grad(), get(f, "gb"), 0, 0, "gb");
  require_close(c.grad(), get(f, "gc"), 0, 0, "gc");
}

TEST_CASE("fixture upsample_nearest", "[fixture][upsample]") {
  for (const char* name : {"upsample_nearest_x2", "upsample_nearest_x4"}) {
    SECTION(name) {
      auto f = fixture(name);
      V x = param(f, "x");
      V y = ops::upsample_nearest(x, int(meta_num(f, "factor")));
      require_close(y.value(), get(f, "y"), 0, 0, "y");
      backward(y, get(f, "gy"));
      require_close(x.grad(), get(f, "gx"), kRtol, kAtol, "gx");
    }
  }
}

TEST_CASE("fixture fusion_sum_relu", "[fixture][fusion]") {
  auto f = fixture("fusion_sum_relu");
  V x0 = param(f, "x0"), x1 = param(f, "x1"), x2 = param(f, "x2");
  V y = ops::fusion_sum_relu({x0, x1, x2}, {1, 2, 4});
  require_close(y.value(), get(f, "y"), 0, 0, "y (same summation order)");
  backward(y, get(f, "gy"));
  require_close(x0.grad(), get(f, "gx0"), kRtol, kAtol, "gx0");
  require_close(x1.grad(), get(f, "gx1"), kRtol, kAtol, "gx1");
  require_close(x2.grad(), get(f, "gx2"), kRtol, kAtol, "gx2");
}

TEST_CASE("fixture resize_bilinear", "[fixture][resize]") {
  auto f = fixture("resize_bilinear");
  auto x = get(f, "x");
  auto up = get(f, "y_up"), down = get(f, "y_down");
  require_close(ops::resize_bilinear(x, up.shape().h(), up.shape().w()), up, 1e-5, 1e-6, "y_up");
  require_close(ops::resize_bilinear(x, down.shape().h(), down.shape().w()), down, 1e-5, 1e-6, "y_down");
}

TEST_CASE("fixture concat", "[fixture][concat]") {
  auto f = fixture("concat");
  V a = param(f, "a"), b = param(f, "b"), c = param(f, "c");
  V y = ops::concat({a, b, c});
  require_close(y.value(), get(f, "y"), 0, 0, "y");
  backward(y, get(f, "gy"));
  require_close(a.grad(), get(f, "ga"), 0, 0, "ga");
  require_close(b.grad(), get(f, "gb"), 0, 0, "gb");
  require_close(c.grad(), get(f, "gc"), 0, 0, "gc");
}

TEST_CASE("fixture avg_pool (global)", "[fixture][avg_pool]") {
  auto f = fixture("global_avg_pool");
  V x = param(f, "x");
  V y = ops::global_avg_pool(x);
  require_close(y.value(), get(f, "y"), 1e-6, 1e-7, "y");
  backward(y, get(f, "gy"));
  require_close(x.grad(), get(f, "gx"), 1e-6, 1e-7, "gx");
}

TEST_CASE("fixture linear", "[fixture][linear]") {
  auto f = fixture("linear");
  V x = param(f, "x"), w = param(f, "w"), b = param(f, "b");
  V y = ops::linear(x, w, b);
  require_close(y.value(), get(f, "y"), kRtol, kAtol, "y");
  backward(y, get(f, "gy"));
  require_close(x.grad(), get(f, "gx"), kRtol, kAtol, "gx");
  require_close(w.grad(), get(f, "gw"), kRtol, kAtol, "gw");
  require_close(b.grad(), get(f, "gb"), kRtol, kAtol, "gb");
}

TEST_CASE("fixture cross_entropy", "[fixture][cross_entropy]") {
  for (const char* name : {"cross_entropy", "cross_entropy_smooth"}) {
    SECTION(name) {
      auto f = fixture(name);
      V logits = param(f, "logits");
      auto labels = get<std::int64_t>(f, "labels");
      V loss = ops::cross_entropy(logits, labels, meta_num(f, "smoothing"));
      require_close(loss.value(), get(f, "loss"), 1e-6, 1e-7, "loss");
      backward(loss, get(f, "gy"));
      require_close(logits.grad(), get(f, "glogits"), 1e-5, 1e-7, "glogits");
    }
  }
}

TEST_CASE("fixture mse (masked)", "[fixture][mse]") {
  auto f = fixture("masked_mse");
  V pred = param(f, "pred");
  V loss = ops::masked_mse(pred, get(f, "gt"), get(f, "mask"));
  require_close(loss.value(), get(f, "loss"), 1e-6, 1e-7, "loss");
  backward(loss, get(f, "gy"));
  require_close(pred.grad(), get(f, "gpred"), 1e-5, 1e-8, "gpred");
}

TEST_CASE("fixture max_pool", "[fixture][max_pool]") {
  for (const char* name : {"max_pool_k5s1p2", "max_pool_k3s2p1"}) {
    SECTION(name) {
      auto f = fixture(name);
      auto y = ops::max_pool2d(get(f, "x"), int(meta_num(f, "kernel")), int(meta_num(f, "stride")),
                               int(meta_num(f, "padding")));
      require_close(y, get(f, "y"), 0, 0, "y");
    }
  }
}

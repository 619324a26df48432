// The CUDA backend seen from the library's users: the runtime (streams, events, pinned memory, the
// caching pool), every autograd op on CUDA against the same op on the CPU, whole networks, the fused
// optimizers, and the promise that a steady-state training step allocates no new device memory.
// Each GPU case prints "skipped: ..." without a GPU (ctest: Skipped).
#include <filesystem>
#include <functional>

#include "../models/det_init.hpp"
#include "cuda_test_util.hpp"
#include "hrnet/nn/state_dict.hpp"
#include "hrnet/ops/ops.hpp"
#include "hrnet/optim/optim.hpp"
#include "hrnet/models/cls_hrnet.hpp"
#include "hrnet/models/config.hpp"
#include "hrnet/models/pose_higher_hrnet.hpp"
#include "hrnet/pose/ae_loss.hpp"

using namespace hrnet;
namespace fs = std::filesystem;

namespace {
// The repository (configs/): HRNET_SOURCE_DIR from the environment, else the path compiled in.
const fs::path kRoot = [] {
  const char* env = std::getenv("HRNET_SOURCE_DIR");
  return env && *env ? fs::path(env) : fs::path(HRNET_SOURCE_DIR);
}();

template <class D>
Tensor<float, D> on(const Tensor<float, CPU>& t) {
  if constexpr (is_cpu<D>) return t.clone();
  else return to_cuda(t);
}
template <class D>
Tensor<std::int64_t, D> on(const Tensor<std::int64_t, CPU>& t) {
  if constexpr (is_cpu<D>) return t.clone();
  else return to_cuda(t);
}

// Runs `f` (a generic lambda over the device) on the CPU and on CUDA with the same inputs, then
// backward with the same random seed, and compares the outputs and every input gradient.
// Tolerance: fp32 on both sides; the GPU sums in another order (and cuDNN picks other algorithms),
// so results differ by reordering error, about sqrt(K) * 2^-24 relative for a reduction of K
// terms; K is at most a few thousand here, so 1e-4 relative to the largest magnitude has a wide
// margin while still catching any indexing or formula error (those are O(1)).
template <class F>
void check_op(const std::string& name, const std::vector<Tensor<float, CPU>>& inputs, F f, double tol = 1e-4) {
  INFO("op " << name);
  autograd::tape().clear();
  std::vector<Var<float, CPU>> vc;
  std::vector<Var<float, CUDA>> vg;
  for (const auto& t : inputs) {
    vc.emplace_back(t.clone(), true);
    vg.emplace_back(to_cuda(t), true);
  }
  Var<float, CPU> yc = f(vc);
  Var<float, CUDA> yg = f(vg);
  auto ycpu = yc.value();
  auto ygpu = to_cpu(yg.value());
  double scale = 1e-30;
  for (std::int64_t i = 0; i < ycpu.numel(); ++i) scale = std::max(scale, double(std::abs(ycpu[i])));
  test::require_close(ygpu, ycpu, 0.0, tol * scale, name + " forward");
  const auto seed = test::random_tensor<float>(ycpu.shape(), 99);
  backward(yc, seed);
  backward(yg, to_cuda(seed));
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!vc[i].has_grad()) continue;
    REQUIRE(vg[i].has_grad());
    const auto& gc = vc[i].grad();
    double gs = 1e-30;
    for (std::int64_t k = 0; k < gc.numel(); ++k) gs = std::max(gs, double(std::abs(gc[k])));
    test::require_close(to_cpu(vg[i].grad()), gc, 0.0, tol * gs, name + " gradient of input " + std::to_string(i));
  }
}
}  // namespace

TEST_CASE("CUDA runtime: streams, events, pinned copies and pool statistics", "[cuda][runtime]") {
  HRNET_REQUIRE_GPU();
  cuda::OwnedStream stream;
  cuda::StreamGuard guard(stream.get());
  CHECK(cuda::current_stream() == stream.get());
  const std::size_t n = 1 << 20;
  cuda::PinnedBuffer src(n * sizeof(float)), dst(n * sizeof(float));
  auto* s = static_cast<float*>(src.data());
  for (std::size_t i = 0; i < n; ++i) s[i] = float(i % 1000) * 0.25f;
  auto d = Tensor<float, CUDA>::empty({static_cast<std::int64_t>(n)});
  cuda::Event start, stop;
  start.record(stream.get());
  cuda::copy_host_to_device_async(d.data(), src.data(), n * sizeof(float), stream.get());
  cuda::copy_device_to_host_async(dst.data(), d.data(), n * sizeof(float), stream.get());
  stop.record(stream.get());
  stop.synchronize();
  CHECK(stop.ready());
  CHECK(stop.elapsed_ms_since(start) >= 0.0f);
  CHECK(std::memcmp(src.data(), dst.data(), n * sizeof(float)) == 0);
  const auto st = cuda::memory_stats();
  CHECK(st.used >= n * sizeof(float));
  CHECK(st.reserved >= st.used);
  CHECK(!cuda::device_name(cuda::current_device()).empty());
  test::check_throws<CudaError>([] { cuda::set_device(1 << 20); }, "does not exist");
}

TEST_CASE("autograd ops on CUDA match the CPU, forward and backward", "[cuda][ops]") {
  HRNET_REQUIRE_GPU();
  auto r = [](const Shape& s, std::uint64_t seed) { return test::random_tensor<float>(s, seed); };
  check_op("relu", {r({2, 5, 7, 3}, 1)}, [](auto& v) { return ops::relu(v[0]); }, 0);
  check_op("add", {r({2, 13, 5, 6}, 2), r({2, 13, 5, 6}, 3), r({2, 13, 5, 6}, 4)},
           [](auto& v) { return ops::add(v); }, 1e-6);
  check_op("fusion_sum_relu", {r({2, 37, 16, 12}, 5), r({2, 37, 8, 6}, 6), r({2, 37, 4, 3}, 7), r({2, 37, 2, 1}, 8)},
           [](auto& v) { return ops::fusion_sum_relu(v, {1, 2, 4, 8}); }, 1e-6);
  check_op("upsample_nearest", {r({3, 5, 4, 7}, 9)}, [](auto& v) { return ops::upsample_nearest(v[0], 2); }, 1e-6);
  check_op("concat", {r({2, 3, 5, 5}, 10), r({2, 13, 5, 5}, 11)}, [](auto& v) { return ops::concat(v); }, 0);
  check_op("slice_channels", {r({2, 21, 5, 3}, 12)}, [](auto& v) { return ops::slice_channels(v[0], 3, 16); }, 0);
  check_op("global_avg_pool", {r({3, 37, 7, 5}, 13)}, [](auto& v) { return ops::global_avg_pool(v[0]); });
  for (int stride : {1, 2})
    check_op("conv2d 3x3 stride " + std::to_string(stride), {r({2, 13, 11, 9}, 14), r({21, 13, 3, 3}, 15), r({21}, 16)},
             [stride](auto& v) { return ops::conv2d(v[0], v[1], v[2], {stride, 1, 0}); });
  check_op("conv2d 1x1", {r({2, 32, 8, 8}, 17), r({16, 32, 1, 1}, 18)},
           [](auto& v) { return ops::conv2d(v[0], v[1], {1, 0, 0}); });
  check_op("conv_transpose2d 4x4", {r({2, 12, 6, 5}, 19), r({12, 7, 4, 4}, 20)},
           [](auto& v) { return ops::conv_transpose2d(v[0], v[1], std::decay_t<decltype(v[0])>(), {2, 1, 0}); });
  check_op("linear", {r({6, 37}, 21), r({10, 37}, 22), r({10}, 23)},
           [](auto& v) { return ops::linear(v[0], v[1], v[2]); });
  for (bool training : {true, false}) {
    const auto rm = r({13}, 24), rv = test::random_tensor<float>({13}, 25, 0.5f, 2.0f);
    auto rmc = rm.clone(), rvc = rv.clone();
    auto rmg = to_cuda(rm), rvg = to_cuda(rv);
    check_op(std::string("batch_norm ") + (training ? "train" : "eval"), {r({3, 13, 5, 7}, 26), r({13}, 27), r({13}, 28)},
             [&](auto& v) {
               using D = typename std::decay_t<decltype(v[0])>::device_type;
               if constexpr (is_cpu<D>) return ops::batch_norm(v[0], v[1], v[2], rmc, rvc, {training, 0.1, 1e-5});
               else return ops::batch_norm(v[0], v[1], v[2], rmg, rvg, {training, 0.1, 1e-5});
             });
    test::require_close(to_cpu(rmg), rmc, 1e-5, 1e-6, "running_mean");
    test::require_close(to_cpu(rvg), rvc, 1e-5, 1e-6, "running_var");
  }
  for (bool with_residual : {true, false}) {
    // fused on CUDA (training mode), the composition batch_norm + add + relu on the CPU
    const auto rm = r({13}, 45), rv = test::random_tensor<float>({13}, 46, 0.5f, 2.0f);
    auto rmc = rm.clone(), rvc = rv.clone();
    auto rmg = to_cuda(rm), rvg = to_cuda(rv);
    std::vector<Tensor<float, CPU>> in{r({3, 13, 5, 7}, 47), r({13}, 48), r({13}, 49)};
    if (with_residual) in.push_back(r({3, 13, 5, 7}, 50));
    check_op(std::string("batch_norm_add_relu") + (with_residual ? "" : " without residual"), in, [&](auto& v) {
      using V = std::decay_t<decltype(v[0])>;
      const V res = v.size() > 3 ? v[3] : V();
      if constexpr (is_cpu<typename V::device_type>)
        return ops::batch_norm_add_relu(v[0], v[1], v[2], rmc, rvc, res);
      else
        return ops::batch_norm_add_relu(v[0], v[1], v[2], rmg, rvg, res);
    });
    test::require_close(to_cpu(rmg), rmc, 1e-5, 1e-6, "running_mean after batch_norm_add_relu");
    test::require_close(to_cpu(rvg), rvc, 1e-5, 1e-6, "running_var after batch_norm_add_relu");
  }
  {
    auto labels = Tensor<std::int64_t, CPU>::from_vector({5}, {0, 9, 3, 3, 7});
    for (double smoothing : {0.0, 0.1})
      check_op("cross_entropy", {r({5, 10}, 29)}, [&](auto& v) {
        using D = typename std::decay_t<decltype(v[0])>::device_type;
        return ops::cross_entropy(v[0], on<D>(labels), smoothing);
      });
    auto bad = Tensor<std::int64_t, CPU>::from_vector({5}, {0, 10, 3, 3, 7});
    Var<float, CUDA> logits(to_cuda(r({5, 10}, 30)));
    CHECK(std::isnan(to_cpu(ops::cross_entropy(logits, to_cuda(bad)).value())[0]));  // no throw, no stray read
  }
  {
    const auto gt = test::random_tensor<float>({2, 17, 8, 8}, 31, 0.f, 1.f);
    auto mask = test::random_tensor<float>({2, 1, 8, 8}, 32, 0.f, 1.f);
    for (std::int64_t i = 0; i < mask.numel(); ++i) mask[i] = mask[i] < 0.3f ? 0.f : 1.f;
    check_op("masked_mse", {r({2, 17, 8, 8}, 33)}, [&](auto& v) {
      using D = typename std::decay_t<decltype(v[0])>::device_type;
      return ops::masked_mse(v[0], on<D>(gt), on<D>(mask));
    });
  }
  check_op("weighted_mean_sum", {r({7}, 34), r({3, 2}, 35), r({1}, 36)},
           [](auto& v) { return ops::weighted_mean_sum(v, {1.0, 0.5, 0.001}); });
  {
    // tags (N=2, K=3, H=4, W=4): image 0 has two people, image 1 one person and an invisible slot
    auto joints = Tensor<std::int64_t, CPU>::zeros({2, 3, 3, 2});
    const std::int64_t idx[2][3][3] = {{{0, 17, 33}, {5, 20, 47}, {0, 0, 0}}, {{1, 18, 34}, {0, 0, 0}, {9, 9, 9}}};
    const std::int64_t vis[2][3][3] = {{{1, 1, 1}, {1, 0, 1}, {0, 0, 0}}, {{1, 1, 1}, {0, 0, 0}, {0, 0, 0}}};
    for (int n = 0; n < 2; ++n)
      for (int m = 0; m < 3; ++m)
        for (int k = 0; k < 3; ++k) {
          joints.at(n, m, k, 0) = idx[n][m][k];
          joints.at(n, m, k, 1) = vis[n][m][k];
        }
    for (AeLossType type : {AeLossType::Exp, AeLossType::Max})
      check_op("ae_loss", {r({2, 3, 4, 4}, 37)}, [&](auto& v) {
        using D = typename std::decay_t<decltype(v[0])>::device_type;
        auto l = ops::ae_loss(v[0], on<D>(joints), type);
        return ops::weighted_mean_sum(std::vector{l.push, l.pull}, {1.0, 0.5});
      });
    joints.at(1, 0, 2, 0) = 48;  // outside 3*4*4
    Var<float, CUDA> tags(to_cuda(r({2, 3, 4, 4}, 38)));
    auto bad = ops::ae_loss(tags, to_cuda(joints));  // image 1 gets NaN, image 0 is unaffected
    const auto push = to_cpu(bad.push.value());
    CHECK(std::isfinite(push[0]));
    CHECK(std::isnan(push[1]));
  }
  // forward-only ops
  const auto x = r({2, 5, 9, 7}, 39);
  test::require_close(to_cpu(ops::max_pool2d(to_cuda(x), 5, 1, 2)), ops::max_pool2d(x, 5, 1, 2), 0, 0, "max_pool2d");
  test::require_close(to_cpu(ops::resize_bilinear(to_cuda(x), 20, 13)), ops::resize_bilinear(x, 20, 13), 1e-6, 1e-6,
                      "resize_bilinear");
}

namespace {
models::PoseNetConfig micro_config() {
  return models::pose_net_config(models::load_experiment_config(kRoot / "tests/train/data/micro.yaml"));
}
// One training step of HigherHRNet with masked-MSE losses on every output; returns the loss.
template <class D>
float pose_step(models::PoseHigherResolutionNet<float, D>& net, optim::Optimizer<float, D>& opt,
                const Tensor<float, D>& x, const std::vector<Tensor<float, D>>& targets,
                const std::vector<Tensor<float, D>>& masks) {
  opt.zero_grad();
  auto outs = net(Var<float, D>(x));
  std::vector<Var<float, D>> terms;
  for (std::size_t i = 0; i < outs.size(); ++i) terms.push_back(ops::masked_mse(outs[i], targets[i], masks[i]));
  auto loss = ops::add(terms);
  backward(loss);
  opt.step();
  return to_cpu(loss.value())[0];
}
}  // namespace

TEST_CASE("HigherHRNet on CUDA matches the CPU: eval forward and Adam training steps", "[cuda][model]") {
  HRNET_REQUIRE_GPU();
  const auto cfg = micro_config();
  models::PoseHigherResolutionNet<float, CPU> cnet(cfg);
  models::PoseHigherResolutionNet<float, CUDA> gnet(cfg);
  Rng r1(5), r2(5);
  cnet.init_official(r1);
  gnet.init_official(r2);
  const auto x = test::random_tensor<float>({2, 3, 64, 64}, 40);
  {
    cnet.eval();
    gnet.eval();
    autograd::NoGradGuard ng;
    auto oc = cnet(Var<float, CPU>(x));
    auto og = gnet(Var<float, CUDA>(to_cuda(x)));
    REQUIRE(oc.size() == og.size());
    for (std::size_t i = 0; i < oc.size(); ++i) {
      double s = 0;
      for (std::int64_t k = 0; k < oc[i].value().numel(); ++k) s = std::max(s, double(std::abs(oc[i].value()[k])));
      // the same 1e-4-of-the-largest-magnitude criterion as the PyTorch parity tests
      test::require_close(to_cpu(og[i].value()), oc[i].value(), 0, 1e-4 * s, "eval output " + std::to_string(i));
    }
  }
  cnet.train();
  gnet.train();
  optim::Adam<float, CPU> oc(cnet.parameters(), {1e-3});
  optim::Adam<float, CUDA> og(gnet.parameters(), {1e-3});
  std::vector<Tensor<float, CPU>> tc, mc;
  std::vector<Tensor<float, CUDA>> tg, mg;
  for (auto s : {Shape{2, 34, 16, 16}, Shape{2, 17, 32, 32}}) {
    tc.push_back(test::random_tensor<float>(s, 41 + s.h(), 0.f, 1.f));
    mc.push_back(Tensor<float, CPU>::full({2, 1, s.h(), s.w()}, 1.0f));
    tg.push_back(to_cuda(tc.back()));
    mg.push_back(to_cuda(mc.back()));
  }
  for (int step = 0; step < 3; ++step) {
    const float lc = pose_step(cnet, oc, x, tc, mc);
    const float lg = pose_step(gnet, og, to_cuda(x), tg, mg);
    INFO("step " << step);
    CHECK(std::abs(lg - lc) <= 1e-4 * std::abs(lc));
  }
  // Adam's first steps move each weight by about lr whatever the gradient's size, so parameters
  // agree to a small multiple of lr * (gradient sign disagreements are rare and bounded by lr).
  const auto pc = cnet.parameters();
  const auto pg = gnet.parameters();
  for (std::size_t i = 0; i < pc.size(); i += 37)
    test::require_close(to_cpu(pg[i]->value()), pc[i]->value(), 0, 6e-3, "parameter " + std::to_string(i));
}

TEST_CASE("a steady-state CUDA training step makes no new device allocation", "[cuda][allocator]") {
  HRNET_REQUIRE_GPU();
  models::PoseHigherResolutionNet<float, CUDA> net(micro_config());
  Rng rng(1);
  net.init_official(rng);
  optim::Adam<float, CUDA> opt(net.parameters(), {1e-3});
  const auto x = to_cuda(test::random_tensor<float>({2, 3, 64, 64}, 50));
  std::vector<Tensor<float, CUDA>> t, m;
  for (auto s : {Shape{2, 34, 16, 16}, Shape{2, 17, 32, 32}}) {
    t.push_back(Tensor<float, CUDA>::zeros(s));
    m.push_back(to_cuda(Tensor<float, CPU>::full({2, 1, s.h(), s.w()}, 1.0f)));
  }
  for (int i = 0; i < 2; ++i) pose_step(net, opt, x, t, m);  // warm-up: algorithm search, optimizer state
  cuda::synchronize();
  const auto before = cuda::memory_stats();
  for (int i = 0; i < 3; ++i) pose_step(net, opt, x, t, m);
  cuda::synchronize();
  const auto after = cuda::memory_stats();
  INFO("pool reserved " << before.reserved << " -> " << after.reserved << " bytes");
  CHECK(after.reserved == before.reserved);
  CHECK(after.reserved_peak <= before.reserved_peak);
}

TEST_CASE("fused SGD on CUDA matches the CPU step by step", "[cuda][optim]") {
  HRNET_REQUIRE_GPU();
  std::vector<Var<float, CPU>> pc;
  std::vector<Var<float, CUDA>> pg;
  for (std::int64_t n : {1, 7, 1000, 4099}) {
    auto p = test::random_tensor<float>({n}, 60 + n);
    pc.emplace_back(p.clone(), true);
    pg.emplace_back(to_cuda(p), true);
  }
  std::vector<Var<float, CPU>*> ptr_c;
  std::vector<Var<float, CUDA>*> ptr_g;
  for (auto& v : pc) ptr_c.push_back(&v);
  for (auto& v : pg) ptr_g.push_back(&v);
  optim::SGD<float, CPU> sc(ptr_c, {0.05, 0.9, 0.0, 1e-4, true});
  optim::SGD<float, CUDA> sg(ptr_g, {0.05, 0.9, 0.0, 1e-4, true});
  for (int step = 0; step < 4; ++step) {
    for (std::size_t i = 0; i < pc.size(); ++i) {
      const auto g = test::random_tensor<float>(pc[i].shape(), 100 * step + i);
      pc[i].grad_buffer().copy_from(g);
      pg[i].grad_buffer().copy_from(to_cuda(g));
    }
    sc.step();
    sg.step();
  }
  // element-wise updates in fp32 with the same formula; the only difference is FMA contraction
  for (std::size_t i = 0; i < pc.size(); ++i)
    test::require_close(to_cpu(pg[i].value()), pc[i].value(), 1e-6, 1e-7, "parameter " + std::to_string(i));
}

// The parity criterion on CUDA: the eval-mode outputs of HigherHRNet-W32 and HRNet-W18-C
// with the deterministic weights match the PyTorch fixtures to 1e-4 of the largest magnitude.
namespace {
void require_match(const Tensor<float, CPU>& got, const Tensor<float, CPU>& ref, const std::string& what) {
  REQUIRE(got.shape() == ref.shape());
  double max_ref = 0, max_diff = 0;
  for (std::int64_t i = 0; i < ref.numel(); ++i) {
    max_ref = std::max(max_ref, double(std::abs(ref[i])));
    max_diff = std::max(max_diff, double(std::abs(got[i] - ref[i])));
  }
  INFO(what << ": max |diff| " << max_diff << ", max |ref| " << max_ref);
  CHECK(max_diff <= 1e-4 * max_ref);
}
}  // namespace

TEST_CASE("HigherHRNet-W32 and HRNet-W18-C on CUDA match the PyTorch fixtures", "[cuda][model][fixture]") {
  HRNET_REQUIRE_GPU();
  {
    auto f = test::fixture("model_higherhrnet_w32");
    const auto cfg =
        models::pose_net_config(models::load_experiment_config(kRoot / "configs/coco/w32_512_adam_lr1e-3.yaml"));
    models::PoseHigherResolutionNet<float, CPU> cnet(cfg);
    test::det_init(cnet);
    models::PoseHigherResolutionNet<float, CUDA> gnet(cfg);
    nn::load_state_dict(gnet, nn::state_dict(cnet), true, "the CPU model");
    gnet.eval();
    autograd::NoGradGuard ng;
    auto outs = gnet(Var<float, CUDA>(to_cuda(test::get(f, "input"))));
    REQUIRE(outs.size() == 2);
    require_match(to_cpu(outs[0].value()), test::get(f, "output0"), "HigherHRNet-W32 output0");
    require_match(to_cpu(outs[1].value()), test::get(f, "output1"), "HigherHRNet-W32 output1");
  }
  {
    auto f = test::fixture("model_hrnet_w18c");
    const auto cfg = models::cls_net_config(
        models::load_experiment_config(kRoot / "configs/imagenet/cls_hrnet_w18_sgd_lr5e-2_wd1e-4_bs32_x100.yaml"));
    models::ClsHighResolutionNet<float, CPU> cnet(cfg);
    test::det_init(cnet);
    models::ClsHighResolutionNet<float, CUDA> gnet(cfg);
    nn::load_state_dict(gnet, nn::state_dict(cnet), true, "the CPU model");
    gnet.eval();
    autograd::NoGradGuard ng;
    auto y = gnet(Var<float, CUDA>(to_cuda(test::get(f, "input"))));
    require_match(to_cpu(y.value()), test::get(f, "output0"), "HRNet-W18-C output0");
  }
}

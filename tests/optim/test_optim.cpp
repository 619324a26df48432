// SGD, Adam, AdamW and the LR schedules against torch.optim on the same gradients.
#include "hrnet/optim/optim.hpp"
#include "test_util.hpp"

using namespace hrnet;
using hrnet::test::fixture;
using hrnet::test::get;
using hrnet::test::meta_num;
using hrnet::test::require_close;
using V = Var<float, CPU>;

namespace {
template <class Opt>
void run_steps(Opt& opt, V& p, const io::SafetensorsFile& f) {
  for (int i = 0; i < 5; ++i) {
    p.grad_buffer().copy_from(get(f, "g_" + std::to_string(i)));
    opt.step();
    require_close(p.value(), get(f, "p_" + std::to_string(i)), 1e-6, 1e-7, "p after step " + std::to_string(i));
  }
}
}  // namespace

TEST_CASE("fixture SGD", "[fixture][optim][sgd]") {
  for (const char* name : {"sgd_plain", "sgd_momentum_wd", "sgd_nesterov"}) {
    SECTION(name) {
      auto f = fixture(name);
      V p(get(f, "p_init"), true);
      optim::SGDOptions o;
      o.lr = meta_num(f, "lr");
      o.momentum = f.metadata.count("momentum") ? meta_num(f, "momentum") : 0.0;
      o.weight_decay = f.metadata.count("weight_decay") ? meta_num(f, "weight_decay") : 0.0;
      o.nesterov = f.metadata.count("nesterov") && f.metadata.at("nesterov") == "true";
      optim::SGD<float, CPU> opt({&p}, o);
      run_steps(opt, p, f);
    }
  }
}

TEST_CASE("fixture Adam and AdamW", "[fixture][optim][adam]") {
  for (const char* name : {"adam", "adam_wd", "adamw"}) {
    SECTION(name) {
      auto f = fixture(name);
      V p(get(f, "p_init"), true);
      optim::AdamOptions o;
      o.lr = meta_num(f, "lr");
      o.beta1 = meta_num(f, "beta1");
      o.beta2 = meta_num(f, "beta2");
      o.eps = meta_num(f, "eps");
      o.weight_decay = meta_num(f, "weight_decay");
      o.decoupled_weight_decay = std::string(name) == "adamw";
      optim::Adam<float, CPU> opt({&p}, o);
      run_steps(opt, p, f);
    }
  }
}

TEST_CASE("optimizer state round trips and resumes identically", "[optim][checkpoint]") {
  auto f = fixture("adam");
  V p(get(f, "p_init"), true), q(get(f, "p_init"), true);
  optim::Adam<float, CPU> a({&p}, {});
  for (int i = 0; i < 3; ++i) {
    p.grad_buffer().copy_from(get(f, "g_" + std::to_string(i)));
    a.step();
  }
  q.value().copy_from(p.value());
  optim::Adam<float, CPU> b({&q}, {});
  b.load_state_dict(io::parse_safetensors(io::serialize_safetensors(a.state_dict()), "state"));
  CHECK(b.steps_taken() == 3);
  for (int i = 3; i < 5; ++i) {
    p.grad_buffer().copy_from(get(f, "g_" + std::to_string(i)));
    q.grad_buffer().copy_from(get(f, "g_" + std::to_string(i)));
    a.step();
    b.step();
  }
  require_close(q.value(), p.value(), 0, 0, "resumed parameters");
}

TEST_CASE("fixture LR schedules", "[fixture][optim][lr]") {
  SECTION("multi-step") {
    auto f = fixture("lr_multistep");
    auto lr = get<double>(f, "lr");
    optim::MultiStepLR s{1e-3, {200, 260}, 0.1};
    for (std::int64_t e = 0; e < lr.numel(); ++e) REQUIRE(s.at(e) == Approx(lr[e]).epsilon(1e-12));
  }
  SECTION("cosine") {
    auto f = fixture("lr_cosine");
    auto lr = get<double>(f, "lr");
    optim::CosineLR s{0.1, 100, 1e-4};
    for (std::int64_t e = 0; e < lr.numel(); ++e) REQUIRE(s.at(e) == Approx(lr[e]).epsilon(1e-9).margin(1e-12));
  }
  SECTION("linear warmup") {
    auto f = fixture("lr_linear_warmup");
    auto lr = get<double>(f, "lr");
    optim::LinearWarmup w{0.1, 1.0, 5};
    for (std::int64_t e = 0; e < lr.numel(); ++e) REQUIRE(0.1 * w.factor(e) == Approx(lr[e]).epsilon(1e-12));
  }
}

TEST_CASE("optimizers reject bad settings", "[optim][errors]") {
  V p(Tensor<float, CPU>::zeros({2}), true);
  CHECK_THROWS_AS((optim::SGD<float, CPU>({&p}, {0.1, 0.0, 0.0, 0.0, true})), ValueError);
  optim::AdamOptions o;
  o.beta1 = 1.0;
  CHECK_THROWS_AS((optim::Adam<float, CPU>({&p}, o)), ValueError);
  V frozen(Tensor<float, CPU>::zeros({2}), false);
  hrnet::test::check_throws<ValueError>([&] { (void)(optim::SGD<float, CPU>({&frozen}, {})); }, "parameter 0");
}

TEST_CASE("parameters without a gradient since zero_grad are not stepped", "[optim]") {
  V used(Tensor<float, CPU>::full({2}, 1.0f), true), unused(Tensor<float, CPU>::full({2}, 1.0f), true);
  optim::SGD<float, CPU> opt({&used, &unused}, {0.1, 0.9, 0.0, 0.1, false});
  used.grad_buffer().copy_from(Tensor<float, CPU>::full({2}, 1.0f));
  unused.grad_buffer().copy_from(Tensor<float, CPU>::full({2}, 1.0f));
  opt.step();
  opt.zero_grad();
  CHECK_FALSE(unused.has_grad());
  const float before = unused.value()[0];
  used.grad_buffer().copy_from(Tensor<float, CPU>::full({2}, 1.0f));
  opt.step();
  CHECK(unused.value()[0] == before);  // no weight decay, no momentum update without a gradient
  CHECK(used.value()[0] != before);
}

TEST_CASE("Adam bias correction counts each parameter's own steps", "[optim][adam]") {
  V a(Tensor<float, CPU>::full({1}, 1.0f), true), late(Tensor<float, CPU>::full({1}, 1.0f), true);
  optim::Adam<float, CPU> opt({&a, &late}, {});
  for (int i = 0; i < 3; ++i) {
    opt.zero_grad();
    a.grad_buffer()[0] = 1.0f;
    opt.step();
  }
  opt.zero_grad();
  late.grad_buffer()[0] = 1.0f;
  opt.step();
  // first step of `late`: m/(1-b1) = g, sqrt(v/(1-b2)) = |g|, so the update is exactly lr
  CHECK(late.value()[0] == Approx(1.0f - 1e-3f).epsilon(1e-6));
}

TEST_CASE("an optimizer refuses the same parameter twice and incomplete state", "[optim][errors]") {
  V p(Tensor<float, CPU>::zeros({2}), true);
  hrnet::test::check_throws<ValueError>([&] { optim::SGD<float, CPU>({&p, &p}, {}); }, "same tensor");
  optim::Adam<float, CPU> opt({&p}, {});
  p.grad_buffer()[0] = 1.0f;
  opt.step();
  auto sd = opt.state_dict();
  sd.tensors.erase("0.exp_avg_sq");
  hrnet::test::check_throws<StateDictError>([&] { opt.load_state_dict(sd); }, "incomplete");
}

TEST_CASE("an optimizer refuses a step or counter that is not one integer", "[optim][errors]") {
  // issue 18: a checkpoint whose optimizer.step had shape [0] made load_state_dict read element 0
  // of an empty tensor (a null read; tests/fuzz/crashes/checkpoint/ keeps the file)
  V p(Tensor<float, CPU>::zeros({2}), true);
  optim::Adam<float, CPU> opt({&p}, {});
  p.grad_buffer()[0] = 1.0f;
  opt.step();
  const auto good = opt.state_dict();
  for (const std::string key : {"step", "0.step"}) {
    if (!good.tensors.count(key)) continue;
    for (const std::vector<std::int64_t>& shape : {std::vector<std::int64_t>{0}, std::vector<std::int64_t>{2}}) {
      auto sd = good;
      io::RawTensor& r = sd.tensors[key];
      r.shape = shape;
      r.data.assign(std::size_t(shape[0]) * 8, 0);
      hrnet::test::check_throws<StateDictError>([&] { opt.load_state_dict(sd); }, "must be one integer");
    }
  }
  CHECK(opt.steps_taken() == 1);  // unchanged
}

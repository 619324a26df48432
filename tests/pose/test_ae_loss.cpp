// The associative-embedding loss (hrnet/pose/ae_loss.hpp): gradient checks in double, PyTorch
// fixtures of the official AELoss (tests/pose/make_ae_fixtures.py) for both loss types, the
// special cases (images with zero and one person) and bad inputs.
#include "hrnet/pose/ae_loss.hpp"

#include "hrnet/autograd/gradcheck.hpp"
#include "hrnet/core/rng.hpp"
#include "test_util.hpp"

using namespace hrnet;
using hrnet::test::fixture;
using hrnet::test::get;
using hrnet::test::require_close;
using I64 = Tensor<std::int64_t, CPU>;

namespace {

// (k, y, x) of one visible joint
struct Jt { std::int64_t k, y, x; };

// joints (N, M, J, 2) as JointsGenerator writes them: person m's visible joints packed into slots 0, 1, ...
I64 make_joints(std::int64_t N, std::int64_t M, std::int64_t J) {
  auto j = I64::zeros({N, M, J, 2});
  return j;
}
void set_person(I64& joints, std::int64_t n, std::int64_t m, const std::vector<Jt>& vis, std::int64_t H, std::int64_t W) {
  for (std::size_t s = 0; s < vis.size(); ++s) {
    joints.at(n, m, std::int64_t(s), 0) = vis[s].k * H * W + vis[s].y * W + vis[s].x;
    joints.at(n, m, std::int64_t(s), 1) = 1;
  }
}

// N = 4 images, K tags of H x W, M people, J slots:
//   image 0: several people with random visible joints, one person without any (skipped), and
//            invisible slots holding garbage indices (ignored);
//   image 1: zero people;  image 2: one person;
//   image 3: every person, a duplicated index inside a person, two people sharing a pixel.
I64 random_joints(Rng& rng, std::int64_t K, std::int64_t H, std::int64_t W, std::int64_t M, std::int64_t J) {
  I64 joints = make_joints(4, M, J);
  auto rand_person = [&](std::int64_t n, std::int64_t m, double p) {
    std::vector<Jt> vis;
    for (std::int64_t k = 0; k < K && std::int64_t(vis.size()) < J; ++k)
      if (rng.uniform() < p) vis.push_back({k, std::int64_t(rng.below(std::uint64_t(H))), std::int64_t(rng.below(std::uint64_t(W)))});
    if (vis.empty()) vis.push_back({0, 0, m % W});
    set_person(joints, n, m, vis, H, W);
  };
  for (std::int64_t m = 0; m < M - 1; ++m)
    if (m != 1) rand_person(0, m, 0.6);
  joints.at(0, 1, 0, 0) = 1'000'000;  // invisible: ignored
  joints.at(0, 1, 1, 0) = -3;
  joints.at(1, 0, 0, 0) = 5;  // image 1: an invisible entry only
  set_person(joints, 2, M - 1, {{0, 1, 1}, {K - 1, H - 1, W - 1}, {1 % K, 0, 2}}, H, W);
  for (std::int64_t m = 0; m < M; ++m) rand_person(3, m, 0.5);
  set_person(joints, 3, 0, {{0, 2, 1}, {0, 2, 1}, {1 % K, 1, 1}}, H, W);
  set_person(joints, 3, 1, {{0, 2, 1}, {K - 1, 0, 0}}, H, W);
  return joints;
}

Var<double, CPU> rand_tags(const Shape& s, Rng& rng, double scale) {
  auto t = Tensor<double, CPU>::empty(s);
  fill_normal(t, rng, 0.0, scale);
  return Var<double, CPU>(t, true);
}

void require_ok(const autograd::GradcheckResult& r) {
  INFO("checked " << r.checked << " elements, max abs error " << r.max_abs_error << "\n" << r.report);
  REQUIRE(r.checked > 0);
  REQUIRE(r.ok);
}

}  // namespace

TEST_CASE("gradcheck ae_loss exp", "[gradcheck][ae_loss]") {
  Rng rng(51);
  const std::int64_t K = 5, H = 3, W = 7, M = 6, J = 4;
  I64 joints = random_joints(rng, K, H, W, M, J);
  using Vs = std::vector<Var<double, CPU>>;
  for (int which : {0, 1}) {
    INFO((which == 0 ? "push" : "pull"));
    Vs in{rand_tags({4, K, H, W}, rng, 0.7)};
    require_ok(autograd::gradcheck<double>(
        [&](Vs& v) {
          auto l = ops::ae_loss(v[0], joints, AeLossType::Exp);
          return which == 0 ? l.push : l.pull;
        },
        in));
  }
}

TEST_CASE("gradcheck ae_loss max", "[gradcheck][ae_loss]") {
  Rng rng(52);
  const std::int64_t K = 3, H = 5, W = 3, M = 5, J = 3;
  I64 joints = random_joints(rng, K, H, W, M, J);
  using Vs = std::vector<Var<double, CPU>>;
  // spread 0.6: person means are sometimes closer than 1 (active hinge), sometimes farther
  Vs in{rand_tags({4, K, H, W}, rng, 0.6)};
  require_ok(autograd::gradcheck<double>(
      [&](Vs& v) { return ops::ae_loss(v[0], joints, AeLossType::Max).push; }, in));
  require_ok(autograd::gradcheck<double>(
      [&](Vs& v) { return ops::ae_loss(v[0], joints, AeLossType::Max).pull; }, in));
}

TEST_CASE("gradcheck ae_loss: both outputs into one backward", "[gradcheck][ae_loss]") {
  // backward(out, seed) of push and pull together accumulates both contributions
  Rng rng(53);
  const std::int64_t K = 4, H = 3, W = 5;
  I64 joints = random_joints(rng, K, H, W, 5, 4);
  auto tags = rand_tags({4, K, H, W}, rng, 0.7);
  auto g1 = Tensor<double, CPU>::empty({4}), g2 = Tensor<double, CPU>::empty({4});
  fill_normal(g1, rng);
  fill_normal(g2, rng);
  auto l = ops::ae_loss(tags, joints, AeLossType::Exp);
  std::vector<Var<double, CPU>> outs{l.push, l.pull};
  backward(outs, {g1, g2});
  // separately
  auto tags2 = Var<double, CPU>(tags.value().clone(), true);
  auto a = ops::ae_loss(tags2, joints, AeLossType::Exp);
  backward(a.push, g1);
  auto b = ops::ae_loss(tags2, joints, AeLossType::Exp);
  backward(b.pull, g2);
  require_close(tags.grad(), tags2.grad(), 1e-12, 1e-14, "push+pull gradient");
}

TEST_CASE("ae_loss special cases: zero people, one person, by hand", "[ae_loss]") {
  // one image per case, K = 2 tags of 2 x 3
  const std::int64_t K = 2, H = 2, W = 3;
  auto t = Tensor<double, CPU>::zeros({3, K, H, W});
  auto tags = Var<double, CPU>(t, true);
  I64 joints = make_joints(3, 4, 3);
  // image 0: nobody. image 1: one person with tags 1 and 3 -> pull = ((1-2)^2 + (3-2)^2)/2 = 1, push 0.
  t.at(1, 0, 0, 1) = 1.0;
  t.at(1, 1, 1, 2) = 3.0;
  set_person(joints, 1, 2, {{0, 0, 1}, {1, 1, 2}}, H, W);
  // image 2: person A {0, 2} (mean 1, pull 1), person B {4} (mean 4, pull 0), person 1 empty.
  t.at(2, 0, 1, 0) = 0.0;
  t.at(2, 1, 0, 0) = 2.0;
  t.at(2, 1, 1, 1) = 4.0;
  set_person(joints, 2, 0, {{0, 1, 0}, {1, 0, 0}}, H, W);
  set_person(joints, 2, 3, {{1, 1, 1}}, H, W);
  for (AeLossType type : {AeLossType::Exp, AeLossType::Max}) {
    auto l = ops::ae_loss(tags, joints, type);
    REQUIRE(l.push.shape() == Shape({3}));
    REQUIRE(l.pull.shape() == Shape({3}));
    CHECK(l.push.value()[0] == 0.0);
    CHECK(l.pull.value()[0] == 0.0);
    CHECK(l.push.value()[1] == 0.0);
    CHECK(l.pull.value()[1] == Approx(1.0));
    CHECK(l.pull.value()[2] == Approx(0.5));
    // P = 2: 0.5 * (2 f(3) + 2 - 2) / 2 = f(3) / 2
    CHECK(l.push.value()[2] == Approx(type == AeLossType::Exp ? std::exp(-9.0) / 2 : 0.0).margin(1e-15));
    // images 0 and 1 receive no push gradient; image 0 none at all
    backward(l.push, Tensor<double, CPU>::full({3}, 1.0));
    for (std::int64_t i = 0; i < 2 * K * H * W; ++i) CHECK(tags.grad()[i] == 0.0);
    tags.clear_grad();
  }
}

TEST_CASE("fixture ae_loss (official AELoss, exp and max)", "[fixture][ae_loss]") {
  for (const char* name : {"ae_loss_exp", "ae_loss_max", "ae_loss_exp_coco"}) {
    auto f = fixture(name);
    const std::string type_s = f.metadata.at("loss_type");
    const AeLossType type = type_s == "exp" ? AeLossType::Exp : AeLossType::Max;
    const auto joints = get<std::int64_t>(f, "joints");
    SECTION(std::string(name) + " double") {
      Var<double, CPU> tags(get<double>(f, "tags"), true);
      auto l = ops::ae_loss(tags, joints, type);
      require_close(l.push.value(), get<double>(f, "push"), 1e-5, 1e-5, "push");
      require_close(l.pull.value(), get<double>(f, "pull"), 1e-5, 1e-5, "pull");
      std::vector<Var<double, CPU>> outs{l.push, l.pull};
      backward(outs, {get<double>(f, "gpush"), get<double>(f, "gpull")});
      require_close(tags.grad(), get<double>(f, "gtags"), 1e-5, 1e-5, "gtags");
      // double inputs equal to the fixture's float32 tags: agreement to rounding
      require_close(tags.grad(), get<double>(f, "gtags"), 1e-10, 1e-12, "gtags (tight)");
    }
    SECTION(std::string(name) + " float") {
      Var<float, CPU> tags(get<float>(f, "tags"), true);
      auto l = ops::ae_loss(tags, joints, type);
      require_close(l.push.value(), get<double>(f, "push"), 1e-5, 1e-5, "push");
      require_close(l.pull.value(), get<double>(f, "pull"), 1e-5, 1e-5, "pull");
      std::vector<Var<float, CPU>> outs{l.push, l.pull};
      backward(outs, {get<float>(f, "gpush"), get<float>(f, "gpull")});
      require_close(tags.grad(), get<double>(f, "gtags"), 1e-5, 1e-5, "gtags");
    }
  }
}

TEST_CASE("ae_loss bad inputs", "[ae_loss][errors]") {
  const std::int64_t K = 3, H = 4, W = 5;
  Var<float, CPU> tags(Tensor<float, CPU>::zeros({2, K, H, W}), true);
  I64 joints = make_joints(2, 3, K);
  set_person(joints, 0, 0, {{0, 1, 1}}, H, W);
  SECTION("visible index out of range names image, person and joint") {
    joints.at(1, 2, 1, 0) = K * H * W;  // one past the end
    joints.at(1, 2, 1, 1) = 1;
    hrnet::test::check_throws<ValueError>([&] { ops::ae_loss(tags, joints, AeLossType::Exp); },
                                          "image 1, person 2, joint 1: tag index 60 is outside [0, 60)");
  }
  SECTION("negative visible index") {
    joints.at(0, 1, 0, 0) = -1;
    joints.at(0, 1, 0, 1) = 2;
    hrnet::test::check_throws<ValueError>([&] { ops::ae_loss(tags, joints, AeLossType::Max); },
                                          "image 0, person 1, joint 0: tag index -1");
  }
  SECTION("shapes") {
    hrnet::test::check_throws<ShapeError>([&] { ops::ae_loss(tags, make_joints(3, 3, K), AeLossType::Exp); },
                                          "ae_loss: joints must be (N, people, joints, 2)");
    hrnet::test::check_throws<ShapeError>(
        [&] { ops::ae_loss(tags, I64::zeros({2, 3, K, 3}), AeLossType::Exp); }, "ae_loss: joints");
    Var<float, CPU> flat(Tensor<float, CPU>::zeros({2, K * H * W}), true);
    hrnet::test::check_throws<ShapeError>([&] { ops::ae_loss(flat, joints, AeLossType::Exp); },
                                          "ae_loss: tags must be (N, K, H, W)");
  }
  SECTION("nothing is recorded when the input is rejected") {
    joints.at(1, 0, 0, 0) = 10'000;
    joints.at(1, 0, 0, 1) = 1;
    CHECK_THROWS_AS(ops::ae_loss(tags, joints, AeLossType::Exp), ValueError);
    auto l = ops::ae_loss(tags, make_joints(2, 3, K), AeLossType::Exp);  // a valid call still works
    backward(l.pull, Tensor<float, CPU>::full({2}, 1.0f));
    CHECK(tags.has_grad());
  }
}

#include "hrnet/data/targets.hpp"

TEST_CASE("ae_loss takes the joint lists of JointsGenerator through batch_joints", "[ae_loss][data]") {
  using namespace hrnet;
  // two people, two joints each, on a 4x4 map with K = 2 tag channels
  auto joints = Tensor<double, CPU>::from_vector({2, 2, 3}, {1, 1, 1, 2, 3, 1, 3, 0, 1, 0, 2, 1});
  data::JointsGenerator gen(30, 2, 4);
  auto list = gen(joints);
  auto batch = data::batch_joints({list, list});
  REQUIRE(batch.shape() == Shape({2, 30, 2, 2}));
  CHECK(batch.at(1, 0, 1, 0) == list[(0 * 2 + 1) * 2 + 0]);  // person 0, joint 1, index
  CHECK(batch.at(0, 1, 0, 1) == 1);                          // person 1, joint 0, visible
  auto tags = Tensor<double, CPU>::zeros({2, 2, 4, 4});
  // person 0's tags 1.0, person 1's tags -1.0: pull 0; push exp(-(2)^2) per pair
  for (int n = 0; n < 2; ++n) {
    tags.at(n, 0, 1, 1) = 1.0;
    tags.at(n, 1, 3, 2) = 1.0;
    tags.at(n, 0, 0, 3) = -1.0;
    tags.at(n, 1, 2, 0) = -1.0;
  }
  auto [push, pull] = ops::ae_loss(Var<double, CPU>(tags), batch, AeLossType::Exp);
  CHECK(pull.value()[0] == Approx(0.0).margin(1e-12));
  // official exp push: (sum over all P x P pairs of exp(-diff^2) - P) * 0.5 / (P (P - 1)) = 0.5 exp(-4)
  CHECK(push.value()[0] == Approx(0.5 * std::exp(-4.0)));
}

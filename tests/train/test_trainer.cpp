// Trainer pieces: the training sample (geometry, flip, collate layout), the prefetching loader
// (order and determinism for any thread count, error propagation) and checkpoints (bit-exact round
// trip of model and optimizer, plain-weights loading, bad files).
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "hrnet/data/loader.hpp"
#include "hrnet/data/pose_sample.hpp"
#include "hrnet/models/config.hpp"
#include "hrnet/models/pose_higher_hrnet.hpp"
#include "hrnet/ops/ops.hpp"
#include "hrnet/optim/adam.hpp"
#include "hrnet/train/checkpoint.hpp"
#include "test_util.hpp"

using namespace hrnet;
namespace fs = std::filesystem;

namespace {

// A 3-person image whose people sit at known pixels; a full mask.
struct Scene {
  std::int64_t h = 90, w = 120;
  std::vector<std::uint8_t> rgb;
  data::Mask mask;
  std::vector<std::vector<std::array<double, 3>>> people;
};

Scene make_scene() {
  Scene s;
  s.rgb.assign(static_cast<std::size_t>(s.h * s.w * 3), 0);
  for (std::size_t i = 0; i < s.rgb.size(); ++i) s.rgb[i] = static_cast<std::uint8_t>((i * 37) % 251);
  s.mask = data::Mask(static_cast<int>(s.h), static_cast<int>(s.w), 1);
  for (int p = 0; p < 3; ++p) {
    std::vector<std::array<double, 3>> kp(17, {0, 0, 0});
    for (int k = 0; k < 17; ++k) kp[static_cast<std::size_t>(k)] = {30.0 + 25 * p + (k % 4) * 3.0, 20.0 + k * 3.0, k == 5 ? 0.0 : 2.0};
    s.people.push_back(kp);
  }
  return s;
}

data::PoseAugmentation small_aug() {
  data::PoseAugmentation a;
  a.input_size = 64;
  a.output_sizes = {16, 32};
  return a;
}

// Location of the maximum of heatmap k (K, r, r).
std::pair<std::int64_t, std::int64_t> argmax(const Tensor<float, CPU>& hm, std::int64_t k) {
  const std::int64_t r = hm.shape()[1];
  std::int64_t best = 0;
  for (std::int64_t i = 1; i < r * r; ++i)
    if (hm[k * r * r + i] > hm[k * r * r + best]) best = i;
  return {best % r, best / r};
}

}  // namespace

TEST_CASE("training sample: heatmap peaks sit where the sample's affine maps each joint", "[train][sample]") {
  const Scene s = make_scene();
  data::PoseAugmentation aug = small_aug();
  aug.flip_prob = 0;  // no flip: the peaks follow the affine alone
  aug.affine.max_rotation = 0;
  aug.affine.max_translate = 0;
  aug.affine.min_scale = aug.affine.max_scale = 1.0;
  Rng rng(3);
  const data::PoseSample smp = data::make_pose_sample(s.rgb, s.h, s.w, s.mask, s.people, aug, rng);
  REQUIRE(smp.image.shape() == Shape({1, 3, 64, 64}));
  REQUIRE(smp.heatmaps.size() == 2);
  REQUIRE(smp.joints.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    const std::int64_t r = aug.output_sizes[i];
    const data::Affine m = data::affine_matrix(s.w / 2.0, s.h / 2.0, std::min(s.h, s.w) / 200.0, r, r, 0);
    for (int k : {0, 3, 16}) {
      // person 0's joint k (people overlap in other joints; these are separated enough)
      const auto q = data::apply_affine(m, s.people[0][static_cast<std::size_t>(k)][0], s.people[0][static_cast<std::size_t>(k)][1]);
      const auto [x, y] = argmax(smp.heatmaps[i], k);
      INFO("size " << r << " joint " << k << " expected near " << q[0] << "," << q[1] << " got " << x << "," << y);
      CHECK(std::abs(static_cast<double>(x) - std::floor(q[0])) <= 1.0);
      CHECK(std::abs(static_cast<double>(y) - std::floor(q[1])) <= 1.0);
    }
    // joint 5 is unlabelled (v = 0): no heatmap anywhere
    float mx = 0;
    for (std::int64_t p = 0; p < r * r; ++p) mx = std::max(mx, smp.heatmaps[i][5 * r * r + p]);
    CHECK(mx == 0.f);
    // joint lists: person 0 has 16 visible joints at their flat indices k*r*r + y*r + x
    const auto& j = smp.joints[i];
    REQUIRE(j.shape() == Shape({30, 17, 2}));
    std::int64_t visible = 0;
    for (std::int64_t t = 0; t < 17; ++t) visible += j[t * 2 + 1];
    CHECK(visible == 16);
    CHECK(j[0] / (r * r) == 0);  // first slot: joint 0
  }
}

TEST_CASE("training sample: flipping swaps left and right joints", "[train][sample]") {
  const Scene s = make_scene();
  data::PoseAugmentation aug = small_aug();
  aug.affine.max_rotation = 0;
  aug.affine.max_translate = 0;
  aug.affine.min_scale = aug.affine.max_scale = 1.0;
  aug.flip_prob = 0;
  Rng r0(5);
  const auto plain = data::make_pose_sample(s.rgb, s.h, s.w, s.mask, s.people, aug, r0);
  aug.flip_prob = 1;
  Rng r1(5);
  const auto flipped = data::make_pose_sample(s.rgb, s.h, s.w, s.mask, s.people, aug, r1);
  const std::int64_t r = 32;
  // person p's joint a in the flipped sample is its mirrored joint b of the plain one: x -> r - 1 - x
  auto find = [&](const Tensor<std::int64_t, CPU>& j, std::int64_t p, std::int64_t k) -> std::pair<std::int64_t, std::int64_t> {
    for (std::int64_t t = 0; t < 17; ++t) {
      const std::int64_t idx = j[(p * 17 + t) * 2], vis = j[(p * 17 + t) * 2 + 1];
      if (vis > 0 && idx / (r * r) == k) return {idx % r, (idx / r) % r};
    }
    return {-100, -100};
  };
  for (std::int64_t p = 0; p < 3; ++p)
    for (auto [a, b] : {std::pair{1, 2}, std::pair{7, 8}, std::pair{15, 16}}) {
      const auto [xa, ya] = find(flipped.joints[1], p, a);
      const auto [xb, yb] = find(plain.joints[1], p, b);
      INFO("person " << p << " joint " << a << " vs " << b);
      REQUIRE(xa >= 0);
      REQUIRE(xb >= 0);
      CHECK(ya == yb);
      CHECK(std::abs((r - 1 - xb) - xa) <= 1);
    }
  // the image is mirrored too (same draws: identical affine)
  const auto& a = plain.image;
  const auto& b = flipped.image;
  CHECK(a.at(0, 0, 10, 3) == b.at(0, 0, 10, 60));
  CHECK(a.at(0, 2, 40, 20) == b.at(0, 2, 40, 43));
}

TEST_CASE("training sample: a mask that does not fit the image is an error, not a crash", "[train][sample]") {
  Scene s = make_scene();
  s.mask = data::Mask(10, 10, 1);
  Rng rng(1);
  test::check_throws<ShapeError>(
      [&] { data::make_pose_sample(s.rgb, s.h, s.w, s.mask, s.people, small_aug(), rng); }, "image size differs");
}

TEST_CASE("collate stacks samples into the NHWC batch the loss takes", "[train][sample]") {
  const Scene s = make_scene();
  std::vector<data::PoseSample> samples;
  for (int i = 0; i < 3; ++i) {
    Rng rng(static_cast<std::uint64_t>(i));
    samples.push_back(data::make_pose_sample(s.rgb, s.h, s.w, s.mask, s.people, small_aug(), rng));
  }
  const data::PoseBatch b = data::collate(samples, {7, 8, 9});
  CHECK(b.size() == 3);
  REQUIRE(b.images.shape() == Shape({3, 3, 64, 64}));
  REQUIRE(b.heatmaps[1].shape() == Shape({3, 17, 32, 32}));
  REQUIRE(b.masks[0].shape() == Shape({3, 1, 16, 16}));
  REQUIRE(b.joints[0].shape() == Shape({3, 30, 17, 2}));
  for (std::int64_t n = 0; n < 3; ++n) {
    const auto& smp = samples[static_cast<std::size_t>(n)];
    CHECK(b.images.at(n, 1, 5, 7) == smp.image.at(0, 1, 5, 7));
    CHECK(b.heatmaps[1].at(n, 4, 20, 11) == smp.heatmaps[1][(4 * 32 + 20) * 32 + 11]);
    CHECK(b.masks[0].at(n, 0, 3, 9) == smp.masks[0][3 * 16 + 9]);
    CHECK(b.joints[0].at(n, 1, 2, 0) == smp.joints[0][(1 * 17 + 2) * 2 + 0]);
  }
}

TEST_CASE("loader: batches arrive in order and equal for any number of threads", "[train][loader]") {
  auto produce = [](std::int64_t b) {
    Rng rng(static_cast<std::uint64_t>(b) * 7919);
    std::this_thread::sleep_for(std::chrono::microseconds(rng.below(2000)));  // scramble completion order
    return std::vector<double>{static_cast<double>(b), rng.uniform()};
  };
  std::vector<std::vector<double>> ref;
  for (int workers : {0, 1, 3, 8}) {
    data::PrefetchLoader<std::vector<double>> loader(25, produce, workers, 4);
    std::vector<std::vector<double>> got;
    while (auto b = loader.next()) got.push_back(*b);
    REQUIRE(got.size() == 25);
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i][0] == static_cast<double>(i));
    if (ref.empty()) ref = got;
    CHECK(got == ref);
  }
}

TEST_CASE("loader: a producer's exception reaches the consumer at that batch and early exit joins cleanly", "[train][loader]") {
  std::atomic<int> made{0};
  auto produce = [&](std::int64_t b) {
    ++made;
    if (b == 3) HRNET_THROW(IoError, "batch 3 is broken");
    return static_cast<int>(b);
  };
  {
    data::PrefetchLoader<int> loader(10, produce, 2, 2);
    for (int i = 0; i < 3; ++i) CHECK(*loader.next() == i);
    test::check_throws<IoError>([&] { loader.next(); }, "batch 3 is broken");
    CHECK(*loader.next() == 4);
  }  // destroyed with batches outstanding
  CHECK(made.load() <= 10);
  // prefetch is bounded: with nobody consuming, at most `prefetch` batches get built
  std::atomic<int> built{0};
  data::PrefetchLoader<int> idle(100, [&](std::int64_t b) { return ++built, static_cast<int>(b); }, 3, 4);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(built.load() <= 4);
}

namespace {
const fs::path kRoot = HRNET_SOURCE_DIR;

struct TinyRun {
  models::PoseHigherResolutionNet<float, CPU> net;
  optim::Adam<float, CPU> opt;
  explicit TinyRun(const models::PoseNetConfig& c) : net(c), opt(net.parameters(), optim::AdamOptions{.lr = 1e-3}) {}
  // one training step on a fixed random batch
  void step(std::uint64_t seed) {
    Rng rng(seed);
    auto x = Tensor<float, CPU>::empty({1, 3, 64, 64});
    fill_normal(x, rng);
    auto outs = net.forward(Var<float, CPU>(x, false));
    std::vector<Var<float, CPU>> terms;
    for (auto& o : outs) {
      auto gt = Tensor<float, CPU>::zeros(o.shape());
      auto mask = Tensor<float, CPU>::full({o.shape().n(), 1, o.shape().h(), o.shape().w()}, 1.f);
      terms.push_back(ops::masked_mse(o, gt, mask));
    }
    auto loss = ops::weighted_mean_sum(terms, std::vector<double>(terms.size(), 1.0));
    opt.zero_grad();
    backward(loss);
    opt.step();
  }
};

models::PoseNetConfig tiny_config() {
  return models::pose_net_config(models::load_experiment_config(kRoot / "configs/synthetic/higher_hrnet_w16_256.yaml"));
}

bool same_bytes(const io::SafetensorsFile& a, const io::SafetensorsFile& b) {
  if (a.tensors.size() != b.tensors.size()) return false;
  for (const auto& [k, v] : a.tensors) {
    auto it = b.tensors.find(k);
    if (it == b.tensors.end() || it->second.shape != v.shape || it->second.data != v.data) return false;
  }
  return true;
}
}  // namespace

TEST_CASE("checkpoint: model and optimizer round-trip bit for bit, and training continues identically", "[train][checkpoint]") {
  const fs::path dir = fs::temp_directory_path() / ("hrnet_ckpt_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto cfg = tiny_config();
  TinyRun a(cfg);
  Rng init(1);
  a.net.init_official(init);
  a.step(10);
  a.step(11);
  train::TrainProgress p;
  p.epoch = 2;
  p.step = 2;
  p.seed = 42;
  p.extra["config"] = "x.yaml";
  train::save_checkpoint(dir / "c.safetensors", a.net, a.opt, p);

  TinyRun b(cfg);  // a different (uninitialised) state, overwritten by the load
  const train::TrainProgress q = train::load_checkpoint(dir / "c.safetensors", b.net, b.opt);
  CHECK(q.epoch == 2);
  CHECK(q.step == 2);
  CHECK(q.seed == 42);
  CHECK(q.extra.at("config") == "x.yaml");
  CHECK(same_bytes(nn::state_dict(a.net), nn::state_dict(b.net)));
  CHECK(same_bytes(a.opt.state_dict(), b.opt.state_dict()));
  a.step(12);
  b.step(12);
  CHECK(same_bytes(nn::state_dict(a.net), nn::state_dict(b.net)));

  // the checkpoint also loads as plain weights (optimizer entries skipped), strictly
  TinyRun c(cfg);
  CHECK(train::load_weights(c.net, dir / "c.safetensors").ok());
  // a weights-only file is not a checkpoint
  nn::save_safetensors(a.net, dir / "w.safetensors");
  test::check_throws<IoError>([&] { train::load_checkpoint(dir / "w.safetensors", c.net, c.opt); },
                              "not an hrnet training checkpoint");
  // a checkpoint of another model names the offending keys
  auto other = models::pose_net_config(models::load_experiment_config(kRoot / "configs/coco/w32_512_adam_lr1e-3.yaml"));
  models::PoseHigherResolutionNet<float, CPU> big(other);
  optim::Adam<float, CPU> big_opt(big.parameters(), optim::AdamOptions{});
  test::check_throws<StateDictError>([&] { train::load_checkpoint(dir / "c.safetensors", big, big_opt); }, "shape mismatches");
  // truncated file
  {
    std::ifstream in(dir / "c.safetensors", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(dir / "t.safetensors", std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  test::check_throws<IoError>([&] { train::load_checkpoint(dir / "t.safetensors", c.net, c.opt); }, "t.safetensors");
  fs::remove_all(dir);
}

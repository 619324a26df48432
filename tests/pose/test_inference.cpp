// Inference transforms, multi-scale/flip aggregation and final predictions: the official formulas
// (fixtures from make_scale_fixtures.py and make_aggregate_fixtures.py), oracle tests that recover
// known keypoints, and bad inputs.
#include <cmath>
#include <fstream>
#include <random>
#include <span>

#include "hrnet/io/safetensors.hpp"
#include "hrnet/io/tensor_io.hpp"
#include "hrnet/pose/inference.hpp"
#include "infer_test_util.hpp"

using namespace hrnet;
using pose::InferenceOptions;
using T4 = Tensor<float, CPU>;

namespace {

// make_scale_fixtures.test_image
std::vector<std::uint8_t> test_image(std::int64_t h, std::int64_t w) {
  std::vector<std::uint8_t> img(static_cast<std::size_t>(h * w * 3));
  for (std::int64_t i = 0; i < h * w * 3; ++i) {
    std::uint64_t z = 99 + static_cast<std::uint64_t>(i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const std::int64_t c = i % 3, x = (i / 3) % w, y = i / 3 / w;
    img[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>((x * 3 + y * 5 + 40 * c + static_cast<std::int64_t>(z >> 58)) % 256);
  }
  return img;
}

std::string checksum(const std::vector<std::uint8_t>& b) {
  std::uint64_t s = 0;
  for (std::size_t i = 0; i < b.size(); ++i) s += b[i] * ((i + 1) * 0x9E3779B97F4A7C15ull);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(s));
  return buf;
}

// make_aggregate_fixtures.make_input / fake_model
T4 make_input(std::int64_t h, std::int64_t w) {
  auto t = T4::empty({1, 3, h, w});
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x)
      for (std::int64_t c = 0; c < 3; ++c)
        t.at(0, c, y, x) = static_cast<float>(std::sin(0.3 * static_cast<double>(y) +
                                                       0.17 * static_cast<double>(x) * static_cast<double>(c + 1) +
                                                       static_cast<double>(c)));
  return t;
}

std::vector<T4> fake_model(const T4& img) {
  const std::int64_t J = 17, H = img.shape().h(), W = img.shape().w();
  auto out0 = T4::empty({1, 2 * J, H / 4, W / 4});
  auto out1 = T4::empty({1, J, H / 2, W / 2});
  for (std::int64_t c = 0; c < 2 * J; ++c)
    for (std::int64_t i = 0; i < H / 4; ++i)
      for (std::int64_t j = 0; j < W / 4; ++j) {
        const float src = img.at(0, c % 3, 4 * i + c % 4, std::min(4 * j + 1 + c % 3, W - 1));
        float v = static_cast<float>(0.5 + 0.03 * static_cast<double>(c)) * src;
        v = v + 0.01f * static_cast<float>(j);
        v = v - 0.003f * static_cast<float>(i);
        out0.at(0, c, i, j) = v + static_cast<float>(0.01 * static_cast<double>(c));
      }
  for (std::int64_t c = 0; c < J; ++c)
    for (std::int64_t i = 0; i < H / 2; ++i)
      for (std::int64_t j = 0; j < W / 2; ++j) {
        const float src = img.at(0, (c + 1) % 3, 2 * i + c % 2, std::min(2 * j + c % 2 + 1, W - 1));
        float v = static_cast<float>(0.7 - 0.02 * static_cast<double>(c)) * src;
        v = v - 0.002f * static_cast<float>(j);
        out1.at(0, c, i, j) = v - static_cast<float>(0.005 * static_cast<double>(c));
      }
  return {out0, out1};
}

}  // namespace

TEST_CASE("multi-scale sizes, affine matrices and warps match the official transforms", "[infer][transforms][fixture]") {
  const auto path = infer_test::data_path("scale_cases.json");
  std::ifstream f(path);
  if (!f) {
    WARN("skipped: fixture " << path << " missing (run tests/pose/make_scale_fixtures.py)");
    return;
  }
  const auto cases = nlohmann::json::parse(f);
  REQUIRE(cases.size() >= 10);
  int warps = 0;
  for (const auto& c : cases) {
    const auto h = c["height"].get<std::int64_t>(), w = c["width"].get<std::int64_t>();
    const auto input = c["input_size"].get<std::int64_t>();
    const auto scales = c["scales"].get<std::vector<double>>();
    const double min_scale = *std::min_element(scales.begin(), scales.end());
    INFO("image " << h << "x" << w << ", input " << input);
    const auto base = pose::get_multi_scale_size(h, w, input, 1.0, min_scale);
    CHECK(base.width == c["base"]["width"].get<std::int64_t>());
    CHECK(base.height == c["base"]["height"].get<std::int64_t>());
    const auto img = c["with_warp"].get<bool>() ? test_image(h, w) : std::vector<std::uint8_t>(static_cast<std::size_t>(h * w * 3), 0);
    pose::ScaleSize last;
    for (const auto& e : c["per_scale"]) {
      const double s = e["scale"].get<double>();
      INFO("scale " << s);
      const auto r = pose::get_multi_scale_size(h, w, input, s, min_scale);
      CHECK(r.width == e["width"].get<std::int64_t>());
      CHECK(r.height == e["height"].get<std::int64_t>());
      CHECK(r.center_x == e["center"][0].get<double>());
      CHECK(r.center_y == e["center"][1].get<double>());
      CHECK(r.scale_w == e["scale_wh"][0].get<double>());
      CHECK(r.scale_h == e["scale_wh"][1].get<double>());
      const auto m = pose::get_affine_transform(r.center_x, r.center_y, r.scale_w, r.width, r.height);
      for (int i = 0; i < 6; ++i) CHECK(m[static_cast<std::size_t>(i)] == e["affine"][static_cast<std::size_t>(i)].get<double>());
      if (e.contains("warp_checksum")) {
        const auto resized = pose::resize_align_multi_scale(img, h, w, input, s, min_scale);
        CHECK(checksum(resized.rgb) == e["warp_checksum"].get<std::string>());
        ++warps;
      }
      last = r;
    }
    const auto inv = pose::get_affine_transform(last.center_x, last.center_y, last.scale_w, base.width, base.height, true);
    for (int i = 0; i < 6; ++i) CHECK(inv[static_cast<std::size_t>(i)] == c["inverse_affine"][static_cast<std::size_t>(i)].get<double>());
    // get_final_preds on the fixture's points (one person, one joint per point)
    const auto& pts = c["points"];
    pose::GroupedPoses g;
    g.persons = T4::zeros({1, static_cast<std::int64_t>(pts.size()), 5});
    g.scores = {0.5f};
    for (std::size_t k = 0; k < pts.size(); ++k)
      for (int j = 0; j < 3; ++j) g.persons[static_cast<std::int64_t>(k) * 5 + j] = static_cast<float>(pts[k][j].get<double>());
    const auto preds = pose::get_final_preds(g, last, base.width, base.height);
    REQUIRE(preds.size() == 1);
    CHECK(preds[0].score == 0.5f);
    for (std::size_t k = 0; k < pts.size(); ++k)
      for (int j = 0; j < 3; ++j)
        CHECK(std::abs(preds[0].keypoints[k][static_cast<std::size_t>(j)] - c["mapped"][k][j].get<double>()) < 1e-4);
  }
  CHECK(warps == 6);
}

TEST_CASE("flip and multi-scale aggregation match a torch port of the official code", "[infer][aggregate][fixture]") {
  const auto path = infer_test::data_path("aggregate_expected.safetensors");
  if (!std::ifstream(path)) {
    WARN("skipped: fixture " << path << " missing (run tests/pose/make_aggregate_fixtures.py)");
    return;
  }
  const auto fx = io::read_safetensors(path);
  int cases = 0;
  for (const std::string name :
       {"ms_flip_project", "ms_flip_noproject", "single_noflip", "single_flip_scale2", "two_noflip_noproject"}) {
    INFO("case " << name);
    const auto flags = io::get<std::int64_t>(fx, name + ".flags");
    const auto scales = io::get<double>(fx, name + ".scales").to_vector();
    InferenceOptions o;
    o.scales = scales;
    o.flip = flags[0] != 0;
    o.project_to_image = flags[1] != 0;
    const std::int64_t bh = flags[2], bw = flags[3];
    std::vector<double> order = scales;
    std::sort(order.begin(), order.end(), std::greater<>());
    pose::MapAggregator agg(o);
    for (const double s : order) {
      const auto input = make_input(static_cast<std::int64_t>(static_cast<double>(bh) * s),
                                    static_cast<std::int64_t>(static_cast<double>(bw) * s));
      agg.add(s, pose::get_multi_stage_outputs(fake_model, input, o, o.project_to_image ? bw : 0,
                                               o.project_to_image ? bh : 0));
    }
    const auto maps = agg.finish();
    const auto hs = io::get<std::int64_t>(fx, name + ".heat_shape"), ts = io::get<std::int64_t>(fx, name + ".tag_shape");
    REQUIRE(maps.num_joints == hs[0]);
    REQUIRE(maps.height == hs[1]);
    REQUIRE(maps.width == hs[2]);
    REQUIRE(maps.tag_dim == ts[3]);
    const auto heat_sum = io::get<double>(fx, name + ".heat_sum"), tag_sum = io::get<double>(fx, name + ".tag_sum");
    const std::int64_t P = maps.height * maps.width;
    for (std::int64_t k = 0; k < maps.num_joints; ++k) {
      double sh = 0, st = 0;
      for (std::int64_t p = 0; p < P; ++p) sh += maps.heatmaps[static_cast<std::size_t>(k * P + p)];
      for (std::int64_t p = 0; p < P * maps.tag_dim; ++p) st += maps.tags[static_cast<std::size_t>(k * P * maps.tag_dim + p)];
      INFO("joint " << k);
      CHECK(std::abs(sh - heat_sum[k]) <= 1e-3 + 1e-5 * std::abs(heat_sum[k]));
      CHECK(std::abs(st - tag_sum[k]) <= 1e-3 + 1e-5 * std::abs(tag_sum[k]));
    }
    auto sampled = [&](std::span<const float> got, const std::string& key) {
      const auto idx = io::get<std::int64_t>(fx, name + "." + key + "_idx");
      const auto val = io::get<float>(fx, name + "." + key + "_val");
      auto mine = T4::empty(val.shape());
      for (std::int64_t i = 0; i < idx.numel(); ++i) mine[i] = got[static_cast<std::size_t>(idx[i])];
      test::require_close(mine, val, 0, 2e-5, name + " " + key);
    };
    sampled(maps.heatmaps, "heat");
    sampled(maps.tags, "tag");
    ++cases;
  }
  CHECK(cases == 5);
}

namespace {

struct Person {
  float tag;
  std::vector<std::array<double, 2>> joints;  // image pixels; x < 0 marks a missing joint
};

// HeatmapGenerator-style Gaussian (sigma 2, 15x15 patch at int(x), int(y), max over people).
void paste_gaussian(std::vector<float>& det, std::vector<float>* tag, std::int64_t T, float tagv, std::int64_t k,
                    std::int64_t H, std::int64_t W, double x, double y, float peak = 1.f) {
  const auto cx = static_cast<std::int64_t>(x), cy = static_cast<std::int64_t>(y);
  for (std::int64_t dy = -7; dy <= 7; ++dy)
    for (std::int64_t dx = -7; dx <= 7; ++dx) {
      const std::int64_t yy = cy + dy, xx = cx + dx;
      if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
      const std::size_t i = static_cast<std::size_t>((k * H + yy) * W + xx);
      det[i] = std::max(det[i], peak * static_cast<float>(std::exp(-static_cast<double>(dx * dx + dy * dy) / 8.0)));
      if (tag)  // the person's tag over the whole patch; 0 elsewhere
        for (std::int64_t t = 0; t < T; ++t) (*tag)[i * static_cast<std::size_t>(T) + static_cast<std::size_t>(t)] = tagv;
    }
}

// The prediction whose nose (joint 0, present for every oracle person) is nearest to `truth`'s.
const pose::PersonPose& nearest(const std::vector<pose::PersonPose>& preds, const Person& truth) {
  std::size_t best = 0;
  double best_d = 1e300;
  for (std::size_t i = 0; i < preds.size(); ++i) {
    const double dx = preds[i].keypoints[0][0] - truth.joints[0][0], dy = preds[i].keypoints[0][1] - truth.joints[0][1];
    if (dx * dx + dy * dy < best_d) {
      best_d = dx * dx + dy * dy;
      best = i;
    }
  }
  return preds[best];
}

std::vector<Person> oracle_people() {
  // Three people in a 480 x 640 image, far apart; person 1 misses its left ankle.
  std::vector<Person> people;
  const double cx[3] = {120, 330, 520}, cy[3] = {150, 240, 200};
  for (int p = 0; p < 3; ++p) {
    Person q{-4.f + 3.f * static_cast<float>(p), {}};
    for (int k = 0; k < 17; ++k) {
      const double x = cx[p] + 11.3 * (k % 5) - 22 + (k % 2 ? 7.25 : 0), y = cy[p] + 13.7 * (k / 5) - 20;
      q.joints.push_back(p == 1 && k == 15 ? std::array<double, 2>{-1, -1} : std::array<double, 2>{x, y});
    }
    people.push_back(q);
  }
  return people;
}

}  // namespace

TEST_CASE("oracle: grouping and final predictions recover known keypoints", "[infer][oracle]") {
  const std::int64_t h = 480, w = 640, J = 17, T = 2;
  const auto people = oracle_people();
  // The maps as PROJECT2IMAGE leaves them: at the scale-1 input size, in its coordinates.
  const auto base = pose::get_multi_scale_size(h, w, 512, 1.0, 1.0);
  const auto fwd = pose::get_affine_transform(base.center_x, base.center_y, base.scale_w, base.width, base.height);
  const std::int64_t H = base.height, W = base.width;
  std::vector<float> det(static_cast<std::size_t>(J * H * W), 0.f), tag(static_cast<std::size_t>(J * H * W * T), 0.f);
  for (const auto& p : people)
    for (std::int64_t k = 0; k < J; ++k) {
      const auto& j = p.joints[static_cast<std::size_t>(k)];
      if (j[0] < 0) continue;
      const auto q = data::apply_affine(fwd, j[0], j[1]);
      paste_gaussian(det, &tag, T, p.tag, k, H, W, q[0], q[1]);
    }
  const auto g = pose::group_poses({det, tag, J, H, W, T});
  REQUIRE(g.num_people() == 3);
  const auto preds = pose::get_final_preds(g, base, W, H);
  for (std::size_t p = 0; p < 3; ++p) {
    INFO("person " << p);
    const auto& pred = nearest(preds, people[p]);
    for (std::int64_t k = 0; k < J; ++k) {
      INFO("joint " << k);
      const auto& truth = people[p].joints[static_cast<std::size_t>(k)];
      const auto& got = pred.keypoints[static_cast<std::size_t>(k)];
      if (truth[0] < 0) {
        // missing everywhere: refine finds only zero heatmap there, so the joint stays empty
        CHECK(got[2] == 0.f);
        continue;
      }
      CHECK(got[2] == 1.f);
      CHECK(std::abs(got[0] - truth[0]) < 1.0);
      CHECK(std::abs(got[1] - truth[1]) < 1.0);
    }
    CHECK(std::abs(pred.score - (p == 1 ? 16.f / 17.f : 1.f)) < 1e-6);
  }
}

TEST_CASE("oracle: estimate_poses end to end with a rendering model, flip and two scales", "[infer][oracle]") {
  // A "model" that renders the known keypoints into its outputs: it finds the affine of the input
  // it is given (from the input size) and whether the input is mirrored (from a bright stripe at
  // the image's left edge), so flip test and multi-scale see consistent outputs.
  const std::int64_t h = 300, w = 400, J = 17;
  const auto people = oracle_people();
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(h * w * 3), 0);
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < 12; ++x)
      for (int c = 0; c < 3; ++c) rgb[static_cast<std::size_t>((y * w + x) * 3 + c)] = 255;
  std::vector<Person> scaled = people;  // the oracle people fit a 640 x 480 frame; shrink them
  for (auto& p : scaled)
    for (auto& j : p.joints)
      if (j[0] >= 0) j = {j[0] * 0.6, j[1] * 0.6};

  InferenceOptions o;
  o.input_size = 256;
  o.scales = {1.0, 0.5};
  o.flip = true;
  int calls = 0, flipped_calls = 0;
  pose::PoseModel model = [&](const T4& img) {
    ++calls;
    const std::int64_t Hin = img.shape().h(), Win = img.shape().w();
    double left = 0, right = 0;
    for (std::int64_t y = 0; y < Hin; ++y)
      for (std::int64_t x = 0; x < Win / 8; ++x) {
        left += img.at(0, 0, y, x);
        right += img.at(0, 0, y, Win - 1 - x);
      }
    const bool flipped = right > left;
    flipped_calls += flipped;
    const double s = static_cast<double>(Hin) / static_cast<double>(pose::get_multi_scale_size(h, w, 256, 1.0, 0.5).height);
    const auto sz = pose::get_multi_scale_size(h, w, 256, s, 0.5);
    REQUIRE(sz.width == Win);
    const auto fwd = pose::get_affine_transform(sz.center_x, sz.center_y, sz.scale_w, sz.width, sz.height);
    std::vector<T4> outs;
    for (const std::int64_t stride : {4, 2}) {
      const std::int64_t C = stride == 4 ? 2 * J : J, Ho = Hin / stride, Wo = Win / stride;
      std::vector<float> det(static_cast<std::size_t>(J * Ho * Wo), 0.f), tag(static_cast<std::size_t>(J * Ho * Wo), 0.f);
      for (const auto& p : scaled)
        for (std::int64_t k = 0; k < J; ++k) {
          const auto& j = p.joints[static_cast<std::size_t>(k)];
          if (j[0] < 0) continue;
          auto q = data::apply_affine(fwd, j[0], j[1]);
          std::int64_t ch = k;
          if (flipped) {
            q[0] = static_cast<double>(Win - 1) - q[0];
            ch = data::kCocoFlipIndex[static_cast<std::size_t>(k)];
          }
          paste_gaussian(det, stride == 4 ? &tag : nullptr, 1, p.tag, ch, Ho, Wo, q[0] / static_cast<double>(stride),
                         q[1] / static_cast<double>(stride));
        }
      auto out = T4::zeros({1, C, Ho, Wo});
      for (std::int64_t k = 0; k < J; ++k)
        for (std::int64_t y = 0; y < Ho; ++y)
          for (std::int64_t x = 0; x < Wo; ++x) {
            out.at(0, k, y, x) = det[static_cast<std::size_t>((k * Ho + y) * Wo + x)];
            if (C == 2 * J) out.at(0, J + k, y, x) = tag[static_cast<std::size_t>((k * Ho + y) * Wo + x)];
          }
      outs.push_back(out);
    }
    return outs;
  };
  const auto poses = pose::estimate_poses(rgb, h, w, model, o);
  CHECK(calls == 4);
  CHECK(flipped_calls == 2);
  REQUIRE(poses.size() == 3);
  for (std::size_t p = 0; p < 3; ++p) {
    INFO("person " << p);
    const auto& pred = nearest(poses, scaled[p]);
    for (std::int64_t k = 0; k < J; ++k) {
      const auto& truth = scaled[p].joints[static_cast<std::size_t>(k)];
      if (truth[0] < 0) continue;
      INFO("joint " << k);
      const auto& got = pred.keypoints[static_cast<std::size_t>(k)];
      // Output strides of 4 and 2, flip averaging and the official half-pixel conventions blur the
      // peak by a few input pixels; a left/right swap or a wrong affine would be off by far more.
      CHECK(got[2] > 0.3f);
      CHECK(std::abs(got[0] - truth[0]) < 4.0);
      CHECK(std::abs(got[1] - truth[1]) < 4.0);
    }
  }
}

TEST_CASE("inference: bad inputs are rejected with clear errors", "[infer][inference]") {
  using test::check_throws;
  const std::int64_t h = 40, w = 60;
  const std::vector<std::uint8_t> rgb(static_cast<std::size_t>(h * w * 3), 100);
  InferenceOptions o;
  o.input_size = 64;
  const pose::PoseModel good = fake_model;
  CHECK_NOTHROW(pose::estimate_poses(rgb, h, w, good, o));

  check_throws<ShapeError>([&] { pose::estimate_poses(rgb, h, w + 1, good, o); }, "is not a 40x61 RGB image");
  check_throws<ShapeError>([&] { pose::estimate_poses({}, 0, 0, good, o); }, "is not a 0x0 RGB image");
  pose::PoseModel wrong_channels = [](const T4& img) {
    auto outs = fake_model(img);
    outs[0] = T4::zeros({1, 30, outs[0].shape().h(), outs[0].shape().w()});
    return outs;
  };
  check_throws<ShapeError>([&] { pose::estimate_poses(rgb, h, w, wrong_channels, o); }, "with tags it needs 34");
  pose::PoseModel few_channels = [](const T4& img) {
    auto outs = fake_model(img);
    outs[1] = T4::zeros({1, 5, outs[1].shape().h(), outs[1].shape().w()});
    return outs;
  };
  check_throws<ShapeError>([&] { pose::estimate_poses(rgb, h, w, few_channels, o); }, "fewer than the 17 heatmaps");
  pose::PoseModel one_output = [](const T4& img) { return std::vector<T4>{fake_model(img)[0]}; };
  check_throws<ShapeError>([&] { pose::estimate_poses(rgb, h, w, one_output, o); }, "returned 1 outputs");
  pose::PoseModel batch2 = [](const T4& img) {
    auto outs = fake_model(img);
    outs[1] = T4::zeros({2, 17, 4, 4});
    return outs;
  };
  check_throws<ShapeError>([&] { pose::estimate_poses(rgb, h, w, batch2, o); }, "must be (1, C, h, w)");
  pose::PoseModel empty_out = [](const T4& img) {
    auto outs = fake_model(img);
    outs[1] = T4::zeros({1, 17, 0, 4});
    return outs;
  };
  check_throws<ShapeError>([&] { pose::estimate_poses(rgb, h, w, empty_out, o); }, "must be (1, C, h, w)");

  auto bad = o;
  bad.scales = {};
  check_throws<ValueError>([&] { pose::estimate_poses(rgb, h, w, good, bad); }, "no scales");
  bad.scales = {1.0, -0.5};
  check_throws<ValueError>([&] { pose::estimate_poses(rgb, h, w, good, bad); }, "must be positive");
  bad.scales = {2.0, 0.5};
  check_throws<ValueError>([&] { pose::estimate_poses(rgb, h, w, good, bad); }, "1.0 must be one of them");
  bad = o;
  bad.flip_index = {0, 1, 2};
  check_throws<ValueError>([&] { pose::estimate_poses(rgb, h, w, good, bad); }, "flip_index has 3 entries");
  bad = o;
  bad.with_ae = {false, false};
  check_throws<ValueError>([&] { pose::estimate_poses(rgb, h, w, good, bad); }, "no output is used for tags");
  bad = o;
  bad.input_size = 0;
  check_throws<ValueError>([&] { pose::estimate_poses(rgb, h, w, good, bad); }, "input_size must be >= 1");
  check_throws<ValueError>([&] { (void)pose::get_affine_transform(10, 10, 0, 64, 64); }, "must be positive");
  check_throws<ValueError>([&] { pose::MapAggregator(o).finish(); }, "no scale was added");
}

TEST_CASE("MapAggregator: transposed maps, flip average and summary equal the naive computation", "[infer]") {
  std::mt19937 gen(21);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  const std::int64_t J = 17;
  // odd sizes (partial 4-pixel groups and 8x8 blocks), with and without flip, one and two scales
  const std::int64_t sizes[][2] = {{37, 45}, {16, 24}, {9, 3}};
  pose::AggregatedMaps reused;  // finish(out) into the same buffers every time
  for (const auto& sz : sizes)
    for (const bool flip : {true, false})
      for (const int nscales : {1, 2}) {
        const std::int64_t H = sz[0], W = sz[1], P = H * W;
        InferenceOptions o;
        o.flip = flip;
        o.scales = nscales == 1 ? std::vector<double>{1.0} : std::vector<double>{2.0, 1.0};
        auto random_map = [&] {
          auto t = Tensor<float, CPU>::empty({1, J, H, W});
          for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = u(gen);
          return t;
        };
        std::vector<pose::StageMaps> stages(static_cast<std::size_t>(nscales));
        for (auto& st : stages)
          for (int f = 0; f < (flip ? 2 : 1); ++f) {
            st.heatmaps.push_back(random_map());
            st.tags.push_back(random_map());
          }
        pose::MapAggregator agg(o);
        for (int i = 0; i < nscales; ++i) agg.add(o.scales[static_cast<std::size_t>(i)], stages[static_cast<std::size_t>(i)]);
        agg.finish(reused);
        INFO(H << "x" << W << " flip " << flip << " scales " << nscales);
        REQUIRE(reused.num_joints == J);
        REQUIRE(reused.height == H);
        REQUIRE(reused.width == W);
        const std::int64_t T = flip ? 2 : 1;
        REQUIRE(reused.tag_dim == T);
        // naive: per scale (h + flipped) / 2, summed in scale order, / number of scales; tags of scale 1
        int wrong = 0;
        for (std::int64_t k = 0; k < J; ++k)
          for (std::int64_t p = 0; p < P; ++p) {
            float sum = 0;
            for (int i = 0; i < nscales; ++i) {
              const auto& hm = stages[static_cast<std::size_t>(i)].heatmaps;
              const float avg = flip ? (hm[0][p * J + k] + hm[1][p * J + k]) / 2.0f : hm[0][p * J + k];
              sum = i == 0 ? avg : sum + avg;
            }
            wrong += reused.heatmaps[static_cast<std::size_t>(k * P + p)] != sum / static_cast<float>(nscales);
            const auto& tg = stages.back().tags;  // scale 1.0 is added last
            for (std::int64_t t = 0; t < T; ++t)
              wrong += reused.tags[static_cast<std::size_t>((k * P + p) * T + t)] != tg[static_cast<std::size_t>(t)][p * J + k];
          }
        CHECK(wrong == 0);
        pose::MapSummary expected;
        pose::summarize(reused.view(), expected);
        CHECK(reused.summary.det_max == expected.det_max);
        CHECK(reused.summary.tag_lo == expected.tag_lo);
        CHECK(reused.summary.tag_hi == expected.tag_hi);
        CHECK(reused.summary.super_det_max == expected.super_det_max);
        CHECK(reused.summary.super_tag_lo == expected.super_tag_lo);
        CHECK(reused.summary.super_tag_hi == expected.super_tag_hi);
        CHECK(reused.view().summary == &reused.summary);
      }
}

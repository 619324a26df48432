// HigherHRNet targets (HeatmapGenerator, JointsGenerator) and augmentation (RandomAffineTransform,
// RandomHorizontalFlip, ToTensor+Normalize) against the official code
// (fixtures from tests/data/make_target_fixtures.py: numpy re-implementation + cv2.warpAffine).
#include <cmath>
#include <string>
#include <vector>

#include "hrnet/data/targets.hpp"
#include "hrnet/data/transforms.hpp"
#include "test_util.hpp"

using namespace hrnet;
using namespace hrnet::data;
using hrnet::test::fixture;
using hrnet::test::get;

namespace {

std::vector<std::uint8_t> to_u8(const Tensor<float, CPU>& t) {
  std::vector<std::uint8_t> v(static_cast<std::size_t>(t.numel()));
  for (std::int64_t i = 0; i < t.numel(); ++i) v[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(t[i]);
  return v;
}

Affine params_matrix(const Tensor<double, CPU>& p, std::int64_t res) {
  return affine_matrix(p[0], p[1], p[2], res, res, p[3]);
}

}  // namespace

TEST_CASE("heatmaps and joint lists match the official generators", "[data][targets]") {
  for (const int res : {128, 256}) {
    INFO("output size " << res);
    const auto f = fixture("targets_heatmaps_" + std::to_string(res));
    const auto joints = get<double>(f, "joints");
    REQUIRE(joints.shape() == Shape({3, 17, 3}));

    HeatmapGenerator hg(res, 17, 2.0);
    REQUIRE(hg.window_size() == 15);
    const auto window = get<double>(f, "window");
    REQUIRE(window.numel() == 225);
    // numpy's vectorised exp and libm's may differ in the last bit of the double; the float32
    // heatmap values below are bit-identical regardless.
    for (std::int64_t i = 0; i < 225; ++i)
      CHECK(std::abs(hg.window()[static_cast<std::size_t>(i)] - window[i]) <= 4e-16 * window[i]);

    const auto hm = hg(joints);
    REQUIRE(hm.shape() == Shape({17, res, res}));
    // Expected: zero except at the listed flat indices.
    auto expected = Tensor<float, CPU>::zeros({17, res, res});
    const auto idx = get<std::int64_t>(f, "hm_index");
    const auto val = get<float>(f, "hm_value");
    for (std::int64_t i = 0; i < idx.numel(); ++i) expected[idx[i]] = val[i];
    hrnet::test::require_close(hm, expected, 0.0, 1e-6, "heatmaps " + std::to_string(res));
    std::int64_t exact = 0;
    for (std::int64_t i = 0; i < hm.numel(); ++i) exact += hm[i] == expected[i];
    CHECK(exact == hm.numel());  // in fact bit-identical

    for (const bool tag : {true, false}) {
      JointsGenerator jg(30, 17, res, tag);
      const auto jl = jg(joints);
      const auto ref = get<std::int64_t>(f, tag ? "joints_list" : "joints_list_notag");
      REQUIRE(jl.shape() == Shape({30, 17, 2}));
      REQUIRE(ref.shape() == jl.shape());
      for (std::int64_t i = 0; i < jl.numel(); ++i) {
        INFO("element " << i << " tag_per_joint " << tag);
        REQUIRE(jl[i] == ref[i]);
      }
    }
  }
}

TEST_CASE("heatmap window placement and the joint rule at the borders", "[data][targets]") {
  const std::int64_t res = 32;
  auto j = Tensor<double, CPU>::zeros({1, 17, 3});
  auto set = [&](int k, double x, double y, double v) {
    j[(k * 3) + 0] = x;
    j[(k * 3) + 1] = y;
    j[(k * 3) + 2] = v;
  };
  set(0, 10.9, 5.2, 2);   // int() truncates: peak at (10, 5)
  set(1, -0.5, 3.0, 1);   // int(-0.5) = 0: kept
  set(2, -1.0, 3.0, 1);   // dropped
  set(3, 31.99, 31.99, 2);  // kept at (31, 31)
  set(4, 5, 5, 0);        // v = 0: dropped
  HeatmapGenerator hg(res, 17, 2.0);
  const auto hm = hg(j);
  auto H = [&](std::int64_t k, std::int64_t y, std::int64_t x) { return hm[(k * res + y) * res + x]; };
  CHECK(H(0, 5, 10) == 1.f);
  CHECK(H(0, 5, 11) == static_cast<float>(std::exp(-1.0 / 8.0)));
  CHECK(H(0, 5, 17) == static_cast<float>(std::exp(-49.0 / 8.0)));  // 7 right: last column of the window
  CHECK(H(0, 5, 18) == 0.f);
  CHECK(H(0, 5, 3) == static_cast<float>(std::exp(-49.0 / 8.0)));   // 7 left: first column
  CHECK(H(0, 5, 2) == 0.f);
  CHECK(H(1, 3, 0) == 1.f);
  for (std::int64_t i = 0; i < res * res; ++i) {
    CHECK(hm[2 * res * res + i] == 0.f);
    CHECK(hm[4 * res * res + i] == 0.f);
  }
  CHECK(H(3, 31, 31) == 1.f);

  JointsGenerator jg(30, 17, res);
  const auto jl = jg(j);
  // person 0: joints 0, 1, 3 packed into slots 0, 1, 2
  CHECK(jl[0] == 0 * res * res + 5 * res + 10);
  CHECK(jl[1] == 1);
  CHECK(jl[2] == 1 * res * res + 3 * res + 0);
  CHECK(jl[4] == 3 * res * res + 31 * res + 31);
  CHECK(jl[6] == 0);
  CHECK(jl[7] == 0);
}

TEST_CASE("more than MAX_NUM_PEOPLE people does not crash", "[data][targets]") {
  const std::int64_t res = 64, people = 45;
  auto j = Tensor<double, CPU>::zeros({people, 17, 3});
  for (std::int64_t p = 0; p < people; ++p)
    for (std::int64_t k = 0; k < 17; ++k) {
      double* pt = j.data() + (p * 17 + k) * 3;
      pt[0] = static_cast<double>((p + k) % res);
      pt[1] = static_cast<double>(p);
      pt[2] = 2;
    }
  JointsGenerator jg(JointsGenerator::kMaxNumPeople, 17, res);
  std::int64_t dropped = -1;
  const auto jl = jg(j, &dropped);
  REQUIRE(jl.shape() == Shape({30, 17, 2}));
  CHECK(dropped == 15);
  for (std::int64_t p = 0; p < 30; ++p) {
    const std::int64_t k = 16;
    CHECK(jl[(p * 17 + k) * 2] == k * res * res + p * res + (p + k) % res);
  }
  // Heatmaps still draw everybody (the official generator has no limit).
  const auto hm = HeatmapGenerator(res, 17, 2.0)(j);
  CHECK(hm[(0 * res + 44) * res + 44] == 1.f);
  // No people at all.
  const auto none = jg(Tensor<double, CPU>::zeros({0, 17, 3}));
  for (std::int64_t i = 0; i < none.numel(); ++i) CHECK(none[i] == 0);
  // Bad shapes are reported.
  hrnet::test::check_throws<ShapeError>([&] { (void)jg(Tensor<double, CPU>::zeros({2, 14, 3})); }, "joints must be");
}

TEST_CASE("affine matrix and keypoints match RandomAffineTransform", "[data][transforms]") {
  const auto f = fixture("targets_affine");
  const auto joints = get<double>(f, "joints");
  const int cases = static_cast<int>(hrnet::test::meta_num(f, "cases"));
  REQUIRE(cases == 4);
  for (int ci = 0; ci < cases; ++ci) {
    const std::string p = "case" + std::to_string(ci) + ".";
    const auto params = get<double>(f, p + "params");
    for (const int res : {128, 256, 512, 48, 16, 32}) {
      INFO("case " << ci << " res " << res);
      const Affine m = params_matrix(params, res);
      const auto ref = get<double>(f, p + "mat" + std::to_string(res));
      for (int i = 0; i < 6; ++i) CHECK(std::abs(m[static_cast<std::size_t>(i)] - ref[i]) <= 1e-9 * (1 + std::abs(ref[i])));
      auto mapped = joints.clone();
      affine_joints(mapped, m);
      hrnet::test::require_close(mapped, get<double>(f, p + "joints" + std::to_string(res)), 0.0, 1e-4, p + "joints");
    }
    for (const int res : {16, 32}) {
      auto mapped = joints.clone();
      affine_joints(mapped, params_matrix(params, res));
      flip_joints(mapped, kCocoFlipIndex, res);
      hrnet::test::require_close(mapped, get<double>(f, p + "joints" + std::to_string(res) + "_flipped"), 0.0, 1e-4,
                                 p + "flipped joints");
    }
  }
}

TEST_CASE("a keypoint maps where the affine matrix says", "[data][transforms]") {
  // Center of the crop goes to the center of the output, whatever the rotation.
  for (const double rot : {0.0, 17.0, -30.0}) {
    const Affine m = affine_matrix(300, 200, 1.5, 128, 128, rot);
    const auto c = apply_affine(m, 300, 200);
    CHECK(std::abs(c[0] - 64) < 1e-9);
    CHECK(std::abs(c[1] - 64) < 1e-9);
    // A point 100 px right of the center (half the 300-px crop side) is 64 * 100/150 output px away,
    // rotated by +rot degrees in image coordinates (y down) -- the official sign convention.
    const auto q = apply_affine(m, 400, 200);
    const double r = rot * std::numbers::pi / 180, d = 128.0 * 100 / 300;
    CHECK(std::abs(q[0] - (64 + d * std::cos(r))) < 1e-9);
    CHECK(std::abs(q[1] - (64 - d * std::sin(r))) < 1e-9);
    auto j = Tensor<double, CPU>::zeros({1, 1, 3});
    j[0] = 400;
    j[1] = 200;
    j[2] = 2;
    affine_joints(j, m);
    CHECK(j[0] == q[0]);
    CHECK(j[1] == q[1]);
    CHECK(j[2] == 2);
  }
}

TEST_CASE("horizontal flip swaps left/right joints and mirrors x", "[data][transforms]") {
  auto j = Tensor<double, CPU>::zeros({2, 17, 3});
  for (std::int64_t i = 0; i < j.numel(); i += 3) {
    j[i] = static_cast<double>(i) * 0.5;  // x
    j[i + 1] = static_cast<double>(i) + 1;   // y
    j[i + 2] = static_cast<double>(i % 2);   // v
  }
  auto f = j.clone();
  flip_joints(f, kCocoFlipIndex, 128);
  for (std::int64_t p = 0; p < 2; ++p)
    for (std::int64_t k = 0; k < 17; ++k) {
      const std::int64_t src = kCocoFlipIndex[static_cast<std::size_t>(k)];
      const double* a = f.data() + (p * 17 + k) * 3;
      const double* b = j.data() + (p * 17 + src) * 3;
      CHECK(a[0] == 128 - b[0] - 1);
      CHECK(a[1] == b[1]);
      CHECK(a[2] == b[2]);
    }
  // left_shoulder (5) <-> right_shoulder (6); nose (0) stays.
  CHECK(f[(5) * 3 + 1] == j[(6) * 3 + 1]);
  CHECK(f[(0) * 3 + 1] == j[(0) * 3 + 1]);
  // Flipping twice is the identity.
  flip_joints(f, kCocoFlipIndex, 128);
  for (std::int64_t i = 0; i < j.numel(); ++i) CHECK(f[i] == j[i]);
  // Wrong flip index size.
  hrnet::test::check_throws<ShapeError>([&] { flip_joints(f, kCrowdPoseFlipIndex, 128); }, "flip index");
}

TEST_CASE("mask warp matches cv2.warpAffine on the official uint8 path", "[data][transforms]") {
  const auto f = fixture("targets_affine");
  const auto mask = get<float>(f, "mask");
  for (int ci = 0; ci < 4; ++ci) {
    const std::string p = "case" + std::to_string(ci) + ".";
    const auto params = get<double>(f, p + "params");
    for (const int res : {16, 32}) {
      INFO("case " << ci << " res " << res);
      auto w = warp_mask(mask, params_matrix(params, res), res, res);
      const auto ref = get<float>(f, p + "mask" + std::to_string(res));
      REQUIRE(w.shape() == ref.shape());
      std::int64_t diff = 0, zeros = 0;
      for (std::int64_t i = 0; i < w.numel(); ++i) {
        diff += w[i] != ref[i];
        zeros += ref[i] == 0;
      }
      CHECK(diff == 0);  // exact
      CHECK(zeros > 0);
      CHECK(zeros < w.numel());
      flip_mask(w);
      const auto reff = get<float>(f, p + "mask" + std::to_string(res) + "_flipped");
      for (std::int64_t i = 0; i < w.numel(); ++i) REQUIRE(w[i] == reff[i]);
    }
  }
}

TEST_CASE("image warp matches cv2.warpAffine", "[data][transforms]") {
  const auto f = fixture("targets_warp");
  const auto image = get<float>(f, "image");
  const std::int64_t h = image.shape()[0], w = image.shape()[1], c = image.shape()[2];
  const auto src = to_u8(image);
  const std::int64_t out = static_cast<std::int64_t>(hrnet::test::meta_num(f, "in_size"));
  for (int ci = 0; ci < 4; ++ci) {
    const std::string p = "case" + std::to_string(ci) + ".";
    INFO("case " << ci);
    const Affine m = params_matrix(get<double>(f, p + "params"), out);
    auto warped = warp_affine(src, h, w, c, m, out, out, Interp::Linear);
    const auto ref = get<float>(f, p + "image_warped");
    REQUIRE(static_cast<std::int64_t>(warped.size()) == ref.numel());
    // Our warp reproduces OpenCV's fixed-point arithmetic (1/32-pixel positions, 15-bit weights), so
    // the 8-bit result is expected to be identical; allow no more than one grey level anywhere (the
    // 1/32 quantisation of a position computed in double could flip at an exact tie).
    std::int64_t differ = 0, worst = 0, nonzero = 0;
    for (std::int64_t i = 0; i < ref.numel(); ++i) {
      const auto d = std::abs(static_cast<std::int64_t>(warped[static_cast<std::size_t>(i)]) -
                              static_cast<std::int64_t>(ref[i]));
      differ += d != 0;
      worst = std::max(worst, d);
      nonzero += ref[i] != 0;
    }
    CHECK(worst <= 1);
    CHECK(differ == 0);
    CHECK(nonzero > ref.numel() / 4);  // the crop actually overlaps the image
    if (ci == 0) {
      const auto nn = warp_affine(src, h, w, c, m, out, out, Interp::Nearest);
      const auto refn = get<float>(f, p + "image_warped_nearest");
      std::int64_t dn = 0;
      for (std::int64_t i = 0; i < refn.numel(); ++i) dn += nn[static_cast<std::size_t>(i)] != refn[i];
      CHECK(dn == 0);
      // float image: same positions, float weights; cv2 sums in float too.
      const auto wf = warp_affine(image, m, out, out);
      hrnet::test::require_close(wf, get<float>(f, p + "image_warped_f32"), 0.0, 1e-4, "float warp");
      flip_image(warped, out, out, c);
      const auto reff = get<float>(f, p + "image_warped_flipped");
      for (std::int64_t i = 0; i < reff.numel(); ++i) REQUIRE(warped[static_cast<std::size_t>(i)] == reff[i]);
    }
  }
}

TEST_CASE("identity warp copies the image and sample_affine stays in range", "[data][transforms]") {
  std::vector<std::uint8_t> img(5 * 7 * 3);
  for (std::size_t i = 0; i < img.size(); ++i) img[i] = static_cast<std::uint8_t>((i * 37) % 256);
  const Affine id = {1, 0, 0, 0, 1, 0};
  CHECK(warp_affine(img, 5, 7, 3, id, 7, 5) == img);
  CHECK(warp_affine(img, 5, 7, 3, id, 7, 5, Interp::Nearest) == img);

  Rng rng(3);
  for (int i = 0; i < 200; ++i) {
    const auto p = sample_affine(480, 640, rng);
    CHECK(p.aug_scale >= 0.75);
    CHECK(p.aug_scale < 1.5);
    CHECK(std::abs(p.scale - 2.4 * p.aug_scale) < 1e-12);
    CHECK(std::abs(p.rotation) <= 30);
    CHECK(std::abs(p.center_x - 320) <= 40 * p.scale);
    CHECK(std::abs(p.center_y - 240) <= 40 * p.scale);
    CHECK(p.center_x == std::floor(p.center_x));
  }
}

TEST_CASE("ToTensor + Normalize", "[data][transforms]") {
  const std::vector<std::uint8_t> img = {0, 128, 255, 10, 20, 30};  // 1 x 2 RGB
  const auto t = to_normalized_tensor(img, 1, 2);
  REQUIRE(t.shape() == Shape({1, 3, 1, 2}));
  CHECK(t.at(0, 0, 0, 0) == (0.f / 255.f - 0.485f) / 0.229f);
  CHECK(t.at(0, 1, 0, 0) == (128.f / 255.f - 0.456f) / 0.224f);
  CHECK(t.at(0, 2, 0, 1) == (30.f / 255.f - 0.406f) / 0.225f);
}

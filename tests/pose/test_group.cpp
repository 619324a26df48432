// HeatmapParser: parity with a numpy + munkres port of the official group.py (fixtures), the
// grouping of well-separated synthetic people, and bad inputs.
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>

#include "hrnet/io/safetensors.hpp"
#include "hrnet/io/tensor_io.hpp"
#include "hrnet/pose/group.hpp"
#include "infer_test_util.hpp"

using namespace hrnet;
using pose::GroupParams;
using pose::HeatmapParser;
using pose::PoseMaps;

namespace {

PoseMaps view(const infer_test::Maps& m) { return {m.det, m.tag, m.J, m.H, m.W, m.T}; }

GroupParams params_of(const nlohmann::json& c) {
  GroupParams p;
  p.num_joints = c["J"].get<std::int64_t>();
  if (p.num_joints != 17) p.joint_order.clear();
  const auto& q = c["params"];
  if (q.contains("max_num_people")) p.max_num_people = q["max_num_people"].get<std::int64_t>();
  if (q.contains("detection_threshold")) p.detection_threshold = q["detection_threshold"].get<double>();
  if (q.contains("tag_threshold")) p.tag_threshold = q["tag_threshold"].get<double>();
  if (q.contains("use_detection_val")) p.use_detection_val = q["use_detection_val"].get<bool>();
  if (q.contains("ignore_too_much")) p.ignore_too_much = q["ignore_too_much"].get<bool>();
  if (q.contains("joint_order")) p.joint_order = q["joint_order"].get<std::vector<std::int64_t>>();
  if (q.contains("adjust")) p.adjust = q["adjust"].get<bool>();
  if (q.contains("refine")) p.refine = q["refine"].get<bool>();
  return p;
}

}  // namespace

TEST_CASE("grouping matches the python port of the official group.py", "[infer][group][fixture]") {
  const auto spec_path = infer_test::data_path("group_cases.json");
  const auto exp_path = infer_test::data_path("group_expected.safetensors");
  std::ifstream f(spec_path);
  if (!f || !std::ifstream(exp_path)) {
    WARN("skipped: fixtures missing under " << infer_test::data_path("") << " (run tests/pose/make_group_fixtures.py)");
    return;
  }
  const auto cases = nlohmann::json::parse(f);
  const auto expected = io::read_safetensors(exp_path);
  REQUIRE(cases.size() >= 6);
  for (const auto& c : cases) {
    const auto name = c["name"].get<std::string>();
    INFO("case " << name);
    const auto maps = infer_test::make_maps(c);
    const auto sums = io::get<std::int64_t>(expected, name + ".checksum");
    REQUIRE(infer_test::fnv1a63(maps.det) == sums[0]);  // the C++ generator rebuilt the same maps
    REQUIRE(infer_test::fnv1a63(maps.tag) == sums[1]);

    HeatmapParser parser(params_of(c));
    const auto got = parser.parse(view(maps));
    const auto want = io::get<float>(expected, name + ".persons");
    const auto want_scores = io::get<float>(expected, name + ".scores");
    REQUIRE(got.persons.shape() == want.shape());
    test::require_close(got.persons, want, 0, 1e-5, name + " persons");
    REQUIRE(static_cast<std::int64_t>(got.scores.size()) == want_scores.numel());
    auto scores = Tensor<float, CPU>::from_vector({want_scores.numel()}, got.scores);
    test::require_close(scores, want_scores, 0, 1e-6, name + " scores");
    // Running the same parser again (warm buffers) gives the same result.
    const auto again = parser.parse(view(maps));
    REQUIRE(again.persons.shape() == got.persons.shape());
    CHECK(again.persons.to_vector() == got.persons.to_vector());
  }
}

TEST_CASE("grouping separates people by tag and refine fills weak joints", "[infer][group]") {
  // Three people far apart in tag space, each with all 17 joints as clean peaks except one weak
  // joint (below the detection threshold) that only refine can recover.
  const std::int64_t J = 17, H = 40, W = 60, T = 2;
  std::vector<float> det(static_cast<std::size_t>(J * H * W), 0.f), tag(static_cast<std::size_t>(J * H * W * T), 0.f);
  struct P { float tag; std::int64_t x0, y0; };
  const P people[3] = {{-3.f, 5, 4}, {0.5f, 25, 10}, {4.f, 40, 20}};
  auto put = [&](std::int64_t k, std::int64_t x, std::int64_t y, float v, float t) {
    for (std::int64_t dy = -1; dy <= 1; ++dy)
      for (std::int64_t dx = -1; dx <= 1; ++dx) {
        const std::int64_t i = (k * H + y + dy) * W + x + dx;
        det[static_cast<std::size_t>(i)] = dx == 0 && dy == 0 ? v : v * 0.5f;
        tag[static_cast<std::size_t>(i * T)] = t;
        tag[static_cast<std::size_t>(i * T + 1)] = t + 0.1f;
      }
  };
  for (int p = 0; p < 3; ++p)
    for (std::int64_t k = 0; k < J; ++k)
      put(k, people[p].x0 + k % 6 * 3, people[p].y0 + k / 6 * 5, k == 9 ? 0.05f : 0.9f - 0.01f * static_cast<float>(k),
          people[p].tag);
  const auto r = pose::group_poses({det, tag, J, H, W, T});
  REQUIRE(r.num_people() == 3);
  for (int p = 0; p < 3; ++p) {
    INFO("person " << p);
    CHECK(r.persons[(p * J + 0) * (3 + T) + 3] == people[p].tag);  // persons appear in nose order
    for (std::int64_t k = 0; k < J; ++k) {
      const float* row = r.persons.data() + (p * J + k) * (3 + T);
      // Symmetric neighbours: adjust's tie rule moves -0.25, then +0.5.
      CHECK(row[0] == static_cast<float>(people[p].x0 + k % 6 * 3) + 0.25f);
      CHECK(row[1] == static_cast<float>(people[p].y0 + k / 6 * 5) + 0.25f);
      CHECK(row[2] == (k == 9 ? 0.05f : 0.9f - 0.01f * static_cast<float>(k)));
      if (k == 9) CHECK(row[3] == 0.f);  // refined joints carry no tag, as in the official code
    }
    // The score is taken before refine: 16 detected joints over 17.
    float sum = 0;
    for (std::int64_t k = 0; k < J; ++k) sum += k == 9 ? 0.f : 0.9f - 0.01f * static_cast<float>(k);
    CHECK(std::abs(r.scores[static_cast<std::size_t>(p)] - sum / 17.f) < 1e-6);
  }
  // Without refine the weak joint stays missing.
  GroupParams no_refine;
  no_refine.refine = false;
  const auto r2 = pose::group_poses({det, tag, J, H, W, T}, no_refine);
  REQUIRE(r2.num_people() == 3);
  CHECK(r2.persons[(0 * J + 9) * (3 + T) + 2] == 0.f);
}

TEST_CASE("grouping: NMS keeps plateau ties, empty maps give no people", "[infer][group]") {
  const std::int64_t J = 17, H = 12, W = 12, T = 1;
  std::vector<float> det(static_cast<std::size_t>(J * H * W), 0.f), tag(static_cast<std::size_t>(J * H * W * T), 0.f);
  HeatmapParser parser;
  CHECK(parser.parse({det, tag, J, H, W, T}).num_people() == 0);
  det[(0 * H + 5) * W + 5] = 0.5f;  // two equal neighbours both survive NMS (torch.eq on the pool)
  det[(0 * H + 5) * W + 6] = 0.5f;
  det[(0 * H + 9) * W + 1] = 0.4f;  // suppressed by nothing: 4 pixels away
  det[(1 * H + 2) * W + 2] = 0.09f;  // below the threshold
  const auto cands = parser.candidates({det, tag, J, H, W, T});
  REQUIRE(cands[0].size() == 3);
  CHECK((cands[0][0].x == 5 && cands[0][1].x == 6 && cands[0][2].val == 0.4f));
  CHECK(cands[1].empty());
}

TEST_CASE("grouping: bad inputs are rejected with clear errors", "[infer][group]") {
  using test::check_throws;
  const std::int64_t J = 17, H = 8, W = 8, T = 2;
  std::vector<float> det(static_cast<std::size_t>(J * H * W), 0.f), tag(static_cast<std::size_t>(J * H * W * T), 0.f);
  HeatmapParser parser;
  check_throws<ShapeError>([&] { parser.parse({det, tag, 14, H, W, T}); }, "maps have 14 joints");
  check_throws<ShapeError>([&] { parser.parse({std::span<const float>(det).first(10), tag, J, H, W, T}); },
                           "heatmaps hold 10 values");
  check_throws<ShapeError>([&] { parser.parse({det, tag, J, H, W, 3}); }, "tags hold");
  check_throws<ShapeError>([&] { parser.parse({{}, {}, J, 0, W, T}); }, "empty maps");
  det[3] = std::numeric_limits<float>::infinity();
  check_throws<ValueError>([&] { parser.parse({det, tag, J, H, W, T}); }, "is not finite");
  det[3] = 0.7f;
  tag[3 * T + 1] = std::nanf("");
  check_throws<ValueError>([&] { parser.parse({det, tag, J, H, W, T}); }, "tag 1 = nan");
  // NaN heatmap values never crash: they suppress their neighbours and are never candidates.
  tag[3 * T + 1] = 0.f;
  det[20] = std::nanf("");
  CHECK_NOTHROW(parser.parse({det, tag, J, H, W, T}));

  GroupParams p;
  p.nms_kernel = 3;
  check_throws<ValueError>([&] { (void)HeatmapParser{p}; }, "does not keep the map size");
  p = {};
  p.joint_order = {0, 1, 2};
  check_throws<ValueError>([&] { (void)HeatmapParser{p}; }, "joint_order has 3 entries");
  p = {};
  p.joint_order[3] = 0;
  check_throws<ValueError>([&] { (void)HeatmapParser{p}; }, "not a permutation");
  p = {};
  p.detection_threshold = -1;
  check_throws<ValueError>([&] { (void)HeatmapParser{p}; }, "detection_threshold");
}

namespace {

// refine as the official code writes it: a full scan of every map for every missing joint.
void naive_refine(const PoseMaps& m, Tensor<float, CPU>& persons) {
  const std::int64_t J = m.num_joints, H = m.height, W = m.width, T = m.tag_dim, R = 3 + T;
  for (std::int64_t q = 0; q < persons.shape()[0]; ++q) {
    float* person = persons.data() + q * J * R;
    std::vector<float> prev(static_cast<std::size_t>(T), 0.f);
    int count = 0;
    for (std::int64_t k = 0; k < J; ++k)
      if (person[k * R + 2] > 0) {
        const auto x = static_cast<std::int64_t>(person[k * R]), y = static_cast<std::int64_t>(person[k * R + 1]);
        for (std::int64_t t = 0; t < T; ++t) prev[static_cast<std::size_t>(t)] += m.tags[static_cast<std::size_t>(((k * H + y) * W + x) * T + t)];
        ++count;
      }
    for (auto& v : prev) v /= static_cast<float>(count);
    for (std::int64_t k = 0; k < J; ++k) {
      if (person[k * R + 2] != 0) continue;
      const float* det = m.heatmaps.data() + k * H * W;
      std::int64_t best = -1;
      float best_v = 0;
      for (std::int64_t i = 0; i < H * W; ++i) {
        float s = 0.f;
        for (std::int64_t t = 0; t < T; ++t) {
          const float d = m.tags[static_cast<std::size_t>((k * H * W + i) * T + t)] - prev[static_cast<std::size_t>(t)];
          s += d * d;
        }
        const float v = det[i] - std::nearbyint(std::sqrt(s));
        if (v == v && (best < 0 || v > best_v)) {
          best = i;
          best_v = v;
        }
      }
      if (best < 0 || !(det[best] > 0)) continue;
      const std::int64_t x = best % W, y = best / W;
      const double qx = det[y * W + std::min(x + 1, W - 1)] > det[y * W + std::max<std::int64_t>(x - 1, 0)] ? 0.25 : -0.25;
      const double qy = det[std::min(y + 1, H - 1) * W + x] > det[std::max<std::int64_t>(y - 1, 0) * W + x] ? 0.25 : -0.25;
      person[k * R] = static_cast<float>(static_cast<double>(x) + 0.5 + qx);
      person[k * R + 1] = static_cast<float>(static_cast<double>(y) + 0.5 + qy);
      person[k * R + 2] = det[best];
    }
  }
}

}  // namespace

TEST_CASE("refine's pruned search equals the exhaustive arg-max", "[infer][group]") {
  std::mt19937 gen(77);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  int compared = 0, refined = 0;
  HeatmapParser fast;  // one parser for all trials: its buffers must adapt to every size and tag dim
  for (int trial = 0; trial < 24; ++trial) {
    const std::int64_t J = 17, T = 1 + trial % 3, H = 40 + trial * 7 % 50, W = 33 + trial * 13 % 60;
    const bool quantise = trial % 4 == 1, nans = trial % 5 == 2;
    std::vector<float> det(static_cast<std::size_t>(J * H * W)), tag(static_cast<std::size_t>(J * H * W * T));
    const float fx = 0.05f + 0.3f * u(gen), fy = 0.05f + 0.3f * u(gen);
    for (std::int64_t k = 0; k < J; ++k)
      for (std::int64_t y = 0; y < H; ++y)
        for (std::int64_t x = 0; x < W; ++x) {
          const std::size_t i = static_cast<std::size_t>((k * H + y) * W + x);
          det[i] = 0.04f * (1 + std::sin(fx * static_cast<float>(x) + static_cast<float>(k))) * u(gen);
          for (std::int64_t t = 0; t < T; ++t)
            tag[i * static_cast<std::size_t>(T) + static_cast<std::size_t>(t)] =
                2.5f * std::sin(fy * static_cast<float>(y + 3 * t) + 0.1f * static_cast<float>(x)) + 0.3f * u(gen);
        }
    const int people = 3 + trial % 6;
    for (int p = 0; p < people; ++p) {
      const float ptag = -6.f + 2.1f * static_cast<float>(p);
      for (std::int64_t k = 0; k < J; ++k) {
        if (u(gen) < 0.25f) continue;  // missing: refine's job
        const auto cx = static_cast<std::int64_t>(u(gen) * static_cast<float>(W)), cy = static_cast<std::int64_t>(u(gen) * static_cast<float>(H));
        const float peak = u(gen) < 0.2f ? 0.07f : 0.3f + 0.7f * u(gen);
        for (std::int64_t dy = -3; dy <= 3; ++dy)
          for (std::int64_t dx = -3; dx <= 3; ++dx) {
            const std::int64_t y = cy + dy, x = cx + dx;
            if (y < 0 || y >= H || x < 0 || x >= W) continue;
            const std::size_t i = static_cast<std::size_t>((k * H + y) * W + x);
            det[i] = std::max(det[i], peak * std::exp(-static_cast<float>(dx * dx + dy * dy) / 4.f));
            for (std::int64_t t = 0; t < T; ++t) tag[i * static_cast<std::size_t>(T) + static_cast<std::size_t>(t)] = ptag + 0.2f * u(gen);
          }
      }
    }
    if (quantise) {  // plateaus, equal scores: the first flat index must win everywhere
      for (auto& v : det) v = std::round(v * 16.f) / 16.f;
      for (auto& v : tag) v = std::round(v * 2.f) / 2.f;
    }
    if (nans)  // NaN where it cannot reach a candidate: never selected, never crashes
      for (std::size_t i = 0; i < det.size(); ++i)
        if (det[i] < 0.01f && u(gen) < 0.02f) (u(gen) < 0.5f ? det[i] : tag[i * static_cast<std::size_t>(T)]) = std::nanf("");
    const PoseMaps maps{det, tag, J, H, W, T};
    GroupParams p;
    p.refine = false;
    auto expected = HeatmapParser(p).parse(maps).persons;
    naive_refine(maps, expected);
    const auto got = fast.parse(maps).persons;
    INFO("trial " << trial << ": " << H << "x" << W << " T " << T);
    REQUIRE(got.shape() == expected.shape());
    CHECK(got.to_vector() == expected.to_vector());
    for (std::int64_t i = 2; i < got.numel(); i += 3 + T) refined += got[i] > 0 && got[i] < 0.1f;
    ++compared;
  }
  CHECK(compared == 24);
  CHECK(refined > 50);  // the refine path was exercised
}

namespace {

// Random maps with structure (blobs with per-person tags over smooth noise), odd sizes, NaN in
// some noise pixels: the inputs of the MapSummary tests.
infer_test::Maps summary_maps(std::mt19937& gen, std::int64_t J, std::int64_t H, std::int64_t W, std::int64_t T, bool nans) {
  std::uniform_real_distribution<float> u(0.f, 1.f);
  infer_test::Maps m;
  m.J = J;
  m.H = H;
  m.W = W;
  m.T = T;
  m.det.resize(static_cast<std::size_t>(J * H * W));
  m.tag.resize(static_cast<std::size_t>(J * H * W * T));
  for (auto& v : m.det) v = 0.05f * u(gen);
  for (std::size_t i = 0; i < m.tag.size(); ++i) m.tag[i] = 2.f * std::sin(0.03f * static_cast<float>(i % 977)) + 0.3f * u(gen);
  for (int p = 0; p < 6; ++p)
    for (std::int64_t k = 0; k < J; ++k) {
      const auto cx = static_cast<std::int64_t>(u(gen) * static_cast<float>(W)), cy = static_cast<std::int64_t>(u(gen) * static_cast<float>(H));
      for (std::int64_t y = std::max<std::int64_t>(cy - 4, 0); y < std::min(cy + 5, H); ++y)
        for (std::int64_t x = std::max<std::int64_t>(cx - 4, 0); x < std::min(cx + 5, W); ++x) {
          const std::size_t i = static_cast<std::size_t>((k * H + y) * W + x);
          m.det[i] = std::max(m.det[i], (0.3f + 0.7f * u(gen)) * std::exp(-static_cast<float>((x - cx) * (x - cx) + (y - cy) * (y - cy)) / 6.f));
          for (std::int64_t t = 0; t < T; ++t) m.tag[i * static_cast<std::size_t>(T) + static_cast<std::size_t>(t)] = -5.f + 2.f * static_cast<float>(p) + 0.1f * u(gen);
        }
    }
  if (nans)
    for (std::size_t i = 0; i < m.det.size(); ++i)
      if (m.det[i] < 0.02f && u(gen) < 0.03f) (u(gen) < 0.5f ? m.det[i] : m.tag[i * static_cast<std::size_t>(T)]) = std::nanf("");
  return m;
}

// Float vectors equal bit for bit (NaN included).
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](float x, float y) {
           return std::memcmp(&x, &y, sizeof x) == 0;
         });
}

}  // namespace

TEST_CASE("MapSummary: every block and superblock bound is the exact range of its pixels", "[infer][group]") {
  std::mt19937 gen(5);
  const float inf = std::numeric_limits<float>::infinity();
  const std::int64_t sizes[][3] = {{13, 7, 1}, {40, 33, 2}, {64, 64, 2}, {37, 70, 3}, {8, 8, 2}, {1, 1, 1}};
  for (const auto& sz : sizes) {
    const std::int64_t J = 3, H = sz[0], W = sz[1], T = sz[2];
    const auto m = summary_maps(gen, J, H, W, T, true);
    pose::MapSummary s;
    pose::summarize(view(m), s);
    INFO(H << "x" << W << " T " << T);
    REQUIRE(s.blocks_h == (H + 7) / 8);
    REQUIRE(s.blocks_w == (W + 7) / 8);
    REQUIRE(s.supers_h == (s.blocks_h + 3) / 4);
    REQUIRE(s.supers_w == (s.blocks_w + 3) / 4);
    const std::int64_t nb = s.block_count(), ns = s.super_count();
    int mismatches = 0;
    for (std::int64_t k = 0; k < J; ++k)
      for (std::int64_t by = 0; by < s.supers_h * 4; ++by)
        for (std::int64_t bx = 0; bx < s.supers_w * 4; ++bx) {
          // the naive range of the block's pixels (none past the map edge), NaN skipped
          float mx = -inf;
          std::vector<float> lo(static_cast<std::size_t>(T), inf), hi(static_cast<std::size_t>(T), -inf);
          for (std::int64_t y = by * 8; y < std::min(by * 8 + 8, H); ++y)
            for (std::int64_t x = bx * 8; x < std::min(bx * 8 + 8, W); ++x) {
              const std::size_t i = static_cast<std::size_t>((k * H + y) * W + x);
              if (!std::isnan(m.det[i])) mx = std::max(mx, m.det[i]);
              for (std::int64_t t = 0; t < T; ++t) {
                const float g = m.tag[i * static_cast<std::size_t>(T) + static_cast<std::size_t>(t)];
                if (std::isnan(g)) continue;
                lo[static_cast<std::size_t>(t)] = std::min(lo[static_cast<std::size_t>(t)], g);
                hi[static_cast<std::size_t>(t)] = std::max(hi[static_cast<std::size_t>(t)], g);
              }
            }
          const std::int64_t e = s.block_index(by, bx);
          mismatches += s.det_max[static_cast<std::size_t>(k * nb + e)] != mx;
          for (std::int64_t t = 0; t < T; ++t) {
            mismatches += s.tag_lo[static_cast<std::size_t>((k * T + t) * nb + e)] != lo[static_cast<std::size_t>(t)];
            mismatches += s.tag_hi[static_cast<std::size_t>((k * T + t) * nb + e)] != hi[static_cast<std::size_t>(t)];
          }
        }
    CHECK(mismatches == 0);
    // superblocks: the range of their 16 blocks
    for (std::int64_t k = 0; k < J; ++k)
      for (std::int64_t sb = 0; sb < ns; ++sb) {
        float mx = -inf;
        for (std::int64_t j = 0; j < 16; ++j) mx = std::max(mx, s.det_max[static_cast<std::size_t>(k * nb + sb * 16 + j)]);
        CHECK(s.super_det_max[static_cast<std::size_t>(k * ns + sb)] == mx);
        for (std::int64_t t = 0; t < T; ++t) {
          float l = inf, h = -inf;
          for (std::int64_t j = 0; j < 16; ++j) {
            l = std::min(l, s.tag_lo[static_cast<std::size_t>((k * T + t) * nb + sb * 16 + j)]);
            h = std::max(h, s.tag_hi[static_cast<std::size_t>((k * T + t) * nb + sb * 16 + j)]);
          }
          CHECK(s.super_tag_lo[static_cast<std::size_t>((k * T + t) * ns + sb)] == l);
          CHECK(s.super_tag_hi[static_cast<std::size_t>((k * T + t) * ns + sb)] == h);
        }
      }
  }
}

TEST_CASE("MapSummary: parse gives the same result with a given summary, its own, or a reused one", "[infer][group]") {
  std::mt19937 gen(9);
  HeatmapParser with_given, with_own;
  pose::MapSummary reused;  // one summary object reused across sizes
  const std::int64_t sizes[][3] = {{64, 64, 2}, {45, 71, 2}, {30, 90, 1}, {77, 41, 3}};
  for (const auto& sz : sizes) {
    const auto m = summary_maps(gen, 17, sz[0], sz[1], sz[2], sz[0] == 45);
    auto maps = view(m);
    pose::summarize(maps, reused);
    const auto own = with_own.parse(maps);
    maps.summary = &reused;
    const auto given = with_given.parse(maps);
    INFO(sz[0] << "x" << sz[1] << " T " << sz[2]);
    REQUIRE(given.persons.shape() == own.persons.shape());
    CHECK(given.persons.to_vector() == own.persons.to_vector());
    CHECK(given.scores == own.scores);
    CHECK(own.num_people() >= 6);
  }
}

TEST_CASE("MapSummary: a summary of other maps is rejected", "[infer][group]") {
  std::mt19937 gen(3);
  const auto a = summary_maps(gen, 17, 32, 40, 2, false), b = summary_maps(gen, 17, 32, 48, 2, false);
  pose::MapSummary sb;
  pose::summarize(view(b), sb);
  auto maps = view(a);
  maps.summary = &sb;
  HeatmapParser parser;
  test::check_throws<ShapeError>([&] { parser.parse(maps); }, "the maps' summary is of (J, H, W, T) = (17, 32, 48, 2)");
  pose::MapSummary truncated = sb;
  pose::summarize(view(a), truncated);
  truncated.tag_hi.pop_back();
  maps.summary = &truncated;
  test::check_throws<ShapeError>([&] { parser.parse(maps); }, "summary");
  test::check_throws<ShapeError>([&] { sb.add_block_row(view(a), 0); }, "MapSummary::add_block_row: block row 0");
}

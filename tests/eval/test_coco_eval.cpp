// COCO keypoint evaluation: hand-built cases with known answers, agreement with pycocotools on
// random and real fixtures (tests/eval/make_eval_fixtures.py), and bad input.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "hrnet/core/error.hpp"
#include "hrnet/eval/coco_eval.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using namespace hrnet::eval;
using hrnet::test::check_throws;

namespace {

const double kEps = std::numeric_limits<double>::epsilon();

// Rough standing person in a unit box, COCO joint order (as the fixture script).
const double kTemplate[17][2] = {{0.50, 0.08}, {0.46, 0.05}, {0.54, 0.05}, {0.42, 0.07}, {0.58, 0.07}, {0.32, 0.22},
                                 {0.68, 0.22}, {0.25, 0.40}, {0.75, 0.40}, {0.22, 0.56}, {0.78, 0.56}, {0.38, 0.55},
                                 {0.62, 0.55}, {0.38, 0.76}, {0.62, 0.76}, {0.38, 0.97}, {0.62, 0.97}};

// A fully labelled person of height h at (x, y) with the given segmentation area.
GtAnnotation person(std::int64_t id, std::int64_t image, double x, double y, double h, double area) {
  GtAnnotation a;
  a.id = id;
  a.image_id = image;
  for (int k = 0; k < 17; ++k) {
    a.keypoints[3 * k] = x + kTemplate[k][0] * h * 0.5;
    a.keypoints[3 * k + 1] = y + kTemplate[k][1] * h;
    a.keypoints[3 * k + 2] = 2;
  }
  a.num_keypoints = 17;
  a.area = area;
  a.bbox = {x, y, h * 0.5, h};
  return a;
}

// A region without labelled keypoints (an unlabelled person, or a crowd with crowd = true).
GtAnnotation region(std::int64_t id, std::int64_t image, double x, double y, double w, double h, bool crowd) {
  GtAnnotation a;
  a.id = id;
  a.image_id = image;
  a.num_keypoints = 0;
  a.area = w * h * 0.6;
  a.bbox = {x, y, w, h};
  a.iscrowd = crowd;
  return a;
}

// Keypoints at the gt's (shifted by dx), or, for a gt without labels, a person inside its box.
KeypointResult det(const GtAnnotation& g, double score, double dx = 0) {
  KeypointResult r;
  r.image_id = g.image_id;
  r.category_id = g.category_id;
  r.score = score;
  r.keypoints.resize(51);
  for (int k = 0; k < 17; ++k) {
    if (g.num_keypoints > 0) {
      r.keypoints[3 * k] = g.keypoints[3 * k] + dx;
      r.keypoints[3 * k + 1] = g.keypoints[3 * k + 1];
    } else {
      r.keypoints[3 * k] = g.bbox[0] + kTemplate[k][0] * g.bbox[2] + dx;
      r.keypoints[3 * k + 1] = g.bbox[1] + kTemplate[k][1] * g.bbox[3];
    }
    r.keypoints[3 * k + 2] = 0.9;
  }
  return r;
}

// A detection of a person of height h at (x, y) with no gt behind it.
KeypointResult det_at(std::int64_t image, double x, double y, double h, double score) {
  return det(person(0, image, x, y, h, 1), score);
}

CocoGroundTruth make_gt(std::vector<std::int64_t> images, std::vector<GtAnnotation> anns) {
  CocoGroundTruth gt;
  gt.source = "hand-built gt";
  gt.image_ids = std::move(images);
  gt.category_ids = {1};
  gt.annotations = std::move(anns);
  return gt;
}

// Precision 1 up to recall r_max (found / total people) and 0 after: AP over the 101 thresholds.
double ap_until(int found, int total) {
  const auto& r = recall_thresholds();
  int n = 0;
  for (double t : r) n += t <= double(found) / total;
  return double(n) / 101.0;
}

constexpr int AP = 0, AP50 = 1, AP75 = 2, APM = 3, APL = 4, AR = 5, AR50 = 6, AR75 = 7, ARM = 8, ARL = 9;

void check_all(const Stats& s, double v) {
  for (int i = 0; i < kNumStats; ++i) {
    INFO("stat " << kStatNames[i]);
    CHECK(s[i] == Approx(v).margin(1e-12));
  }
}

struct TempDir {
  fs::path dir;
  TempDir() {
    dir = fs::temp_directory_path() / ("hrnet_eval_test_" + std::to_string(::getpid()));
    fs::create_directories(dir);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(dir / name) << text;
    return dir / name;
  }
};

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

std::string kps_json(int n, const std::string& value = "1.5") {
  std::string s = "[";
  for (int i = 0; i < n; ++i) s += (i ? "," : "") + value;
  return s + "]";
}

}  // namespace

// ---- known answers --------------------------------------------------------------------------------

TEST_CASE("coco eval: perfect detections score 1", "[eval]") {
  auto gt = make_gt({1, 2}, {person(1, 1, 10, 10, 140, 5000), person(2, 1, 200, 10, 300, 20000),
                             person(3, 2, 50, 50, 150, 6000)});
  std::vector<KeypointResult> res = {det(gt.annotations[0], 0.7), det(gt.annotations[1], 0.9),
                                     det(gt.annotations[2], 0.8)};
  check_all(evaluate_keypoints(gt, res), 1.0);
}

TEST_CASE("coco eval: a missed person", "[eval]") {
  auto gt = make_gt({1}, {person(1, 1, 10, 10, 140, 5000), person(2, 1, 300, 10, 140, 5000)});
  const Stats s = evaluate_keypoints(gt, {det(gt.annotations[0], 0.9)});
  // one of two found at precision 1: 51 of the 101 recall thresholds (0 .. 0.50)
  CHECK(ap_until(1, 2) == Approx(51.0 / 101));
  for (int i : {AP, AP50, AP75, APM}) CHECK(s[i] == Approx(ap_until(1, 2)).margin(1e-12));
  for (int i : {AR, AR50, AR75, ARM}) CHECK(s[i] == Approx(0.5).margin(1e-12));
  CHECK(s[APL] == -1);  // no large people
  CHECK(s[ARL] == -1);
}

TEST_CASE("coco eval: a duplicate detection is a false positive", "[eval]") {
  auto gt = make_gt({1}, {person(1, 1, 10, 10, 140, 5000), person(2, 1, 300, 10, 140, 5000)});
  // A (0.9), A again (0.8), B (0.7): tp fp tp -> precision 1, 1/2, 2/3, interpolated 1, 2/3, 2/3
  std::vector<KeypointResult> res = {det(gt.annotations[0], 0.9), det(gt.annotations[0], 0.8),
                                     det(gt.annotations[1], 0.7)};
  const Stats s = evaluate_keypoints(gt, res);
  const double expected = (51 * 1.0 + 50 * (2.0 / 3.0)) / 101;
  for (int i : {AP, AP50, AP75, APM}) CHECK(s[i] == Approx(expected).margin(1e-12));
  for (int i : {AR, AR50, AR75, ARM}) CHECK(s[i] == Approx(1.0).margin(1e-12));
  // ranked after both true positives, the duplicate costs nothing
  res[1].score = 0.1;
  const Stats t = evaluate_keypoints(gt, res);
  for (int i : {AP, AP50, AP75, APM, AR, ARM}) CHECK(t[i] == Approx(1.0).margin(1e-12));
}

TEST_CASE("coco eval: detections on a crowd region are ignored, not false positives", "[eval]") {
  const GtAnnotation a = person(1, 1, 10, 10, 140, 5000);
  const GtAnnotation crowd = region(2, 1, 300, 20, 250, 150, true);
  std::vector<KeypointResult> res = {det(a, 0.8), det(crowd, 0.95, 3), det(crowd, 0.9, -3)};
  // both crowd detections match the crowd (a crowd gt can be matched many times)
  const Stats with = evaluate_keypoints(make_gt({1}, {a, crowd}), res);
  for (int i : {AP, AP50, AP75, APM, AR, AR50, AR75, ARM}) CHECK(with[i] == Approx(1.0).margin(1e-12));
  // without the crowd annotation they are two false positives ranked first: precision 1/3 throughout
  const Stats without = evaluate_keypoints(make_gt({1}, {a}), res);
  CHECK(without[AP] == Approx(1.0 / 3).margin(1e-12));
  CHECK(without[AR] == Approx(1.0).margin(1e-12));
}

TEST_CASE("coco eval: a person with no labelled keypoints is ignored", "[eval]") {
  const GtAnnotation a = person(1, 1, 10, 10, 140, 5000);
  const GtAnnotation z = region(2, 1, 300, 20, 70, 140, false);
  auto gt = make_gt({1}, {a, z});
  // missing it costs no recall
  const Stats m = evaluate_keypoints(gt, {det(a, 0.5)});
  for (int i : {AP, AP50, AP75, APM, AR, AR50, AR75, ARM}) CHECK(m[i] == Approx(1.0).margin(1e-12));
  // a detection on it (ranked first) matches it through the box distance and is ignored
  const Stats s = evaluate_keypoints(gt, {det(a, 0.5), det(z, 0.9)});
  for (int i : {AP, AP50, AP75, APM, AR, ARM}) CHECK(s[i] == Approx(1.0).margin(1e-12));
  // the box-based OKS: 1 inside the doubled box, exp(-d^2/...) per joint outside it
  CHECK(keypoint_oks(z, det(z, 1).keypoints) == 1.0);
  const double x1 = z.bbox[0] + 2 * z.bbox[2];
  KeypointResult far = det(z, 1);
  for (int k = 0; k < 17; ++k) far.keypoints[3 * k] = x1 + 10;  // 10 px right of the enlarged box
  double sum = 0;
  for (int k = 0; k < 17; ++k) {
    const double sig = kOksSigmasTimes10[k] / 10.0;
    sum += std::exp(-(100.0 / ((2 * sig) * (2 * sig)) / (z.area + kEps) / 2));
  }
  CHECK(keypoint_oks(z, far.keypoints) == Approx(sum / 17).epsilon(1e-14));
}

TEST_CASE("coco eval: OKS of a labelled person uses its labelled joints only", "[eval]") {
  GtAnnotation g = person(1, 1, 10, 10, 140, 5000);
  for (int k : {0, 3, 4}) g.keypoints[3 * k + 2] = 0;
  KeypointResult d = det(g, 1, 2.0);
  for (int k : {0, 3, 4}) d.keypoints[3 * k] += 500;  // unlabelled joints far off: no effect
  double sum = 0;
  for (int k = 0; k < 17; ++k) {
    if (k == 0 || k == 3 || k == 4) continue;
    const double sig = kOksSigmasTimes10[k] / 10.0;
    sum += std::exp(-(4.0 / ((2 * sig) * (2 * sig)) / (5000 + kEps) / 2));
  }
  CHECK(keypoint_oks(g, d.keypoints) == Approx(sum / 14).epsilon(1e-14));
  CHECK(keypoint_oks(g, det(g, 1).keypoints) == 1.0);
  check_throws<hrnet::ValueError>([&] { keypoint_oks(g, std::vector<double>(50, 0.0)); }, "expected 51");
}

TEST_CASE("coco eval: area ranges (small people count only in 'all')", "[eval]") {
  const GtAnnotation small = person(1, 1, 10, 10, 40, 500), medium = person(2, 1, 100, 10, 140, 5000),
                     large = person(3, 1, 300, 10, 300, 20000);
  auto gt = make_gt({1}, {small, medium, large});
  const Stats s = evaluate_keypoints(gt, {det(medium, 0.9), det(large, 0.8)});
  CHECK(s[AP] == Approx(ap_until(2, 3)).margin(1e-12));
  CHECK(ap_until(2, 3) == Approx(67.0 / 101));
  CHECK(s[AR] == Approx(2.0 / 3).margin(1e-12));
  for (int i : {APM, APL, ARM, ARL}) CHECK(s[i] == Approx(1.0).margin(1e-12));
  // the small person found too: everything 1 (its detection is ignored in medium/large)
  check_all(evaluate_keypoints(gt, {det(small, 0.95), det(medium, 0.9), det(large, 0.8)}), 1.0);
  // an unmatched small detection is a false positive in 'all' only
  auto gt2 = make_gt({1}, {medium});
  const Stats t = evaluate_keypoints(gt2, {det(medium, 0.5), det_at(1, 400, 300, 20, 0.9)});
  CHECK(t[AP] == Approx(0.5).margin(1e-12));
  CHECK(t[APM] == Approx(1.0).margin(1e-12));
  CHECK(t[APL] == -1);
  // both range bounds are inclusive: area 96^2 is medium and large
  auto gt3 = make_gt({1}, {person(1, 1, 10, 10, 140, 96.0 * 96.0)});
  check_all(evaluate_keypoints(gt3, {det(gt3.annotations[0], 0.5), det(gt3.annotations[0], 0.4)}), 1.0);
}

TEST_CASE("coco eval: an image without gt, with detections", "[eval]") {
  const GtAnnotation a = person(1, 1, 10, 10, 140, 5000);
  auto gt = make_gt({1, 2}, {a});
  const Stats s = evaluate_keypoints(gt, {det(a, 0.5), det_at(2, 10, 10, 140, 0.9)});
  for (int i : {AP, AP50, AP75, APM}) CHECK(s[i] == Approx(0.5).margin(1e-12));
  CHECK(s[AR] == Approx(1.0).margin(1e-12));
  // ranked last it costs nothing
  const Stats t = evaluate_keypoints(gt, {det(a, 0.5), det_at(2, 10, 10, 140, 0.1)});
  CHECK(t[AP] == Approx(1.0).margin(1e-12));
  // evaluated on image 1 only, image 2's detection does not count
  const std::vector<std::int64_t> only1 = {1};
  CHECK(evaluate_keypoints(gt, {det(a, 0.5), det_at(2, 10, 10, 140, 0.9)}, only1)[AP] ==
        Approx(1.0).margin(1e-12));
}

TEST_CASE("coco eval: only the top 20 detections of an image count", "[eval]") {
  const GtAnnotation a = person(1, 1, 10, 10, 140, 5000);
  auto gt = make_gt({1}, {a});
  std::vector<KeypointResult> res;
  for (int i = 0; i < 19; ++i) res.push_back(det_at(1, 300 + 5 * i, 10, 140, 0.9));
  res.push_back(det(a, 0.5));
  const Stats s = evaluate_keypoints(gt, res);  // found at rank 20: precision 1/20
  CHECK(s[AP] == Approx(1.0 / 20).margin(1e-12));
  CHECK(s[AR] == Approx(1.0).margin(1e-12));
  res.insert(res.begin(), det_at(1, 600, 10, 140, 0.95));  // now rank 21: cut
  const Stats t = evaluate_keypoints(gt, res);
  CHECK(t[AP] == 0);
  CHECK(t[AR] == 0);
}

TEST_CASE("coco eval: equal scores keep results order in an image, image order across images", "[eval]") {
  const GtAnnotation a = person(1, 10, 10, 10, 140, 5000);
  auto gt = make_gt({10, 5}, {a});
  const KeypointResult tp = det(a, 0.5), fp_same = det_at(10, 300, 10, 140, 0.5), fp_other = det_at(5, 0, 0, 140, 0.5);
  CHECK(evaluate_keypoints(gt, {tp, fp_same})[AP] == Approx(1.0).margin(1e-12));
  CHECK(evaluate_keypoints(gt, {fp_same, tp})[AP] == Approx(0.5).margin(1e-12));
  // image 5 sorts before image 10 whatever the results order
  CHECK(evaluate_keypoints(gt, {tp, fp_other})[AP] == Approx(0.5).margin(1e-12));
}

TEST_CASE("coco eval: recall thresholds are numpy's (r[35] is 0.35000000000000003)", "[eval]") {
  // 20 people over 4 images; 7 found first, then 7 false positives, then the other 13 found
  std::vector<GtAnnotation> people;
  for (int img = 1; img <= 4; ++img)
    for (int p = 0; p < 5; ++p) people.push_back(person(std::int64_t(people.size()) + 1, img, 10 + 150 * p, 10, 140, 5000));
  std::vector<KeypointResult> res;
  for (int i = 0; i < 7; ++i) res.push_back(det(people[i], 0.99 - 0.01 * i));
  for (int i = 0; i < 13; ++i) res.push_back(det(people[7 + i], 0.79 - 0.01 * i));
  for (int j = 0; j < 7; ++j) res.push_back(det_at(1 + j % 4, 3000, 3000, 140, 0.89 - 0.01 * j));
  const Stats s = evaluate_keypoints(make_gt({1, 2, 3, 4}, people), res);
  // recall 7/20 = 0.35 < 35 * 0.01, so threshold 35 already takes the precision after the false
  // positives: 35 thresholds at 1, 66 at 20/27 (interpolated from the end). With i / 100 it would be 36.
  CHECK(35 * 0.01 > 7.0 / 20);
  const double expected = (35 + 66 * (20.0 / 27)) / 101;
  CHECK(std::abs(expected - (36 + 65 * (20.0 / 27)) / 101) > 1e-3);
  for (int i : {AP, AP50, AP75, APM}) CHECK(s[i] == Approx(expected).margin(1e-12));
  CHECK(s[AR] == Approx(1.0).margin(1e-12));
}

TEST_CASE("coco eval: nothing to evaluate gives -1", "[eval]") {
  auto gt = make_gt({1}, {region(1, 1, 10, 10, 200, 100, true), region(2, 1, 300, 10, 50, 100, false)});
  const Stats s = evaluate_keypoints(gt, {det_at(1, 10, 10, 140, 0.5)});
  check_all(s, -1.0);
  CHECK_THAT(format_stats(s), Catch::Matchers::Contains("maxDets= 20 ] = -1.000\n"));
  // no results at all: 0 where there are people (pycocotools' loadRes would raise on the empty list)
  auto gt2 = make_gt({1}, {person(1, 1, 10, 10, 140, 5000)});
  const Stats t = evaluate_keypoints(gt2, {});
  CHECK(t[AP] == 0);
  CHECK(t[AR] == 0);
  CHECK(t[APL] == -1);
}

TEST_CASE("coco eval: results bbox sets the detection area (loadRes' bbox branch)", "[eval]") {
  const GtAnnotation a = person(1, 1, 10, 10, 140, 5000);
  auto gt = make_gt({1}, {a});
  KeypointResult tp = det(a, 0.5), fp = det_at(1, 300, 10, 140, 0.9);  // keypoint extent: medium
  CHECK(evaluate_keypoints(gt, {tp, fp})[APM] == Approx(0.5).margin(1e-12));
  tp.bbox = std::array<double, 4>{10, 10, 70, 140};
  fp.bbox = std::array<double, 4>{300, 10, 200, 200};  // area 40000: out of the medium range, ignored there
  const Stats s = evaluate_keypoints(gt, {tp, fp});
  CHECK(s[APM] == Approx(1.0).margin(1e-12));
  CHECK(s[AP] == Approx(0.5).margin(1e-12));
  // once results[0] has a bbox every result needs one
  KeypointResult nobox = det(a, 0.3);
  check_throws<hrnet::ValueError>([&] { evaluate_keypoints(gt, {tp, nobox}); }, "results[1] (image_id 1): no bbox");
  // only the first result decides: a bbox on a later one is not used
  CHECK(evaluate_keypoints(gt, {det(a, 0.5), fp})[APM] == Approx(0.5).margin(1e-12));
}

TEST_CASE("coco eval: thresholds are numpy's linspace", "[eval]") {
  const auto& t = oks_thresholds();
  CHECK(t[0] == 0.5);
  CHECK(t[5] == 0.75);
  CHECK(t[8] == 0.8999999999999999);  // not 0.9
  CHECK(t[9] == 0.95);
  const auto& r = recall_thresholds();
  CHECK(r[0] == 0.0);
  CHECK(r[100] == 1.0);
  CHECK(r[35] == 35 * 0.01);  // 0.35000000000000003, as numpy
  CHECK(r[35] != 0.35);
}

TEST_CASE("coco eval: summary lines", "[eval]") {
  const Stats s = {0.1234, 0.5, 0.9995, -1, 1, 0.0004, 0.0005, 0.25, 0.75, 0.125};
  const std::string out = format_stats(s);
  const std::string first = " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ] = 0.123\n";
  CHECK(out.substr(0, first.size()) == first);
  CHECK_THAT(out, Catch::Matchers::Contains(" Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets= 20 ] = 0.500\n"));
  CHECK_THAT(out, Catch::Matchers::Contains(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets= 20 ] = -1.000\n"));
  CHECK_THAT(out, Catch::Matchers::Contains(" Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets= 20 ] = 0.125\n"));
  CHECK(std::count(out.begin(), out.end(), '\n') == 10);
}

// ---- agreement with pycocotools ---------------------------------------------------------------------

namespace {

struct Diff {
  double stats = 0, arrays = 0, oks = 0;
};

Diff check_fixture(const std::string& name, const fs::path& gt_file) {
  const fs::path dir = HRNET_EVAL_DATA_DIR;
  const nlohmann::json exp = read_json(dir / (name + "_expected.json"));
  const CocoGroundTruth gt = load_ground_truth(gt_file);
  const std::vector<KeypointResult> res = load_results(dir / (name + "_results.json"));
  std::optional<std::vector<std::int64_t>> ids;
  if (!exp["image_ids"].is_null()) ids = exp["image_ids"].get<std::vector<std::int64_t>>();
  const KeypointEvaluation ev = evaluate_keypoints_full(gt, res, ids);

  Diff d;
  const auto stats = exp["stats"].get<std::vector<double>>();
  REQUIRE(stats.size() == 10);
  for (int i = 0; i < 10; ++i) {
    INFO(name << " stat " << kStatNames[i] << ": " << ev.stats[i] << " vs pycocotools " << stats[i]);
    CHECK(std::abs(ev.stats[i] - stats[i]) <= 1e-6);
    d.stats = std::max(d.stats, std::abs(ev.stats[i] - stats[i]));
  }
  CHECK(format_stats(ev.stats) == exp["lines"].get<std::string>());
  const auto iou_thrs = exp["iou_thrs"].get<std::vector<double>>(), rec_thrs = exp["rec_thrs"].get<std::vector<double>>();
  CHECK(std::vector<double>(oks_thresholds().begin(), oks_thresholds().end()) == iou_thrs);  // bit-exact
  CHECK(std::vector<double>(recall_thresholds().begin(), recall_thresholds().end()) == rec_thrs);
  CHECK(ev.category_ids == exp["category_ids"].get<std::vector<std::int64_t>>());
  const auto p = exp["precision"].get<std::vector<double>>(), r = exp["recall"].get<std::vector<double>>();
  REQUIRE(ev.precision.size() == p.size());
  REQUIRE(ev.recall.size() == r.size());
  for (std::size_t i = 0; i < p.size(); ++i) d.arrays = std::max(d.arrays, std::abs(ev.precision[i] - p[i]));
  for (std::size_t i = 0; i < r.size(); ++i) d.arrays = std::max(d.arrays, std::abs(ev.recall[i] - r[i]));
  INFO(name << ": precision/recall arrays max |diff| " << d.arrays);
  CHECK(d.arrays <= 1e-6);

  // the OKS matrices of computeOks
  std::map<std::int64_t, const GtAnnotation*> by_id;
  for (const auto& a : gt.annotations) by_id[a.id] = &a;
  for (const auto& m : exp["ious"]) {
    const auto dts = m["dt_index"].get<std::vector<std::size_t>>();
    const auto gts = m["gt_id"].get<std::vector<std::int64_t>>();
    for (std::size_t i = 0; i < dts.size(); ++i)
      for (std::size_t j = 0; j < gts.size(); ++j) {
        const double want = m["oks"][i][j].get<double>();
        const double got = keypoint_oks(*by_id.at(gts[j]), res.at(dts[i]).keypoints);
        d.oks = std::max(d.oks, std::abs(got - want));
      }
  }
  INFO(name << ": OKS max |diff| " << d.oks);
  CHECK(d.oks <= 1e-12);
  std::cout << "coco eval fixture " << name << ": max |diff| vs pycocotools: stats " << d.stats
            << ", precision/recall " << d.arrays << ", OKS " << d.oks << "\n";
  return d;
}

}  // namespace

TEST_CASE("coco eval: random fixtures match pycocotools", "[eval][fixture]") {
  const fs::path dir = HRNET_EVAL_DATA_DIR;
  for (const char* name : {"random_a", "random_b", "random_c"}) {
    SECTION(name) { check_fixture(name, dir / (std::string(name) + "_gt.json")); }
  }
}

TEST_CASE("coco eval: real coco-sample annotations match pycocotools", "[eval][fixture]") {
  const fs::path gt = fs::path(HRNET_SHARED_DATA_DIR) / "coco-sample/annotations/person_keypoints_val2017.json";
  if (!fs::exists(gt)) {
    WARN("skipped: " << gt << " not found");
    return;
  }
  check_fixture("coco_sample", gt);
  // the sample's own check: its labelled people fed back as detections score 1 everywhere
  const CocoGroundTruth g = load_ground_truth(gt);
  std::vector<KeypointResult> res;
  for (const auto& a : g.annotations)
    if (!a.iscrowd && a.num_keypoints > 0) {
      KeypointResult r;
      r.image_id = a.image_id;
      r.keypoints.assign(a.keypoints.begin(), a.keypoints.end());
      r.score = 1;
      res.push_back(r);
    }
  REQUIRE(res.size() == 12);
  check_all(evaluate_keypoints(g, res), 1.0);
}

// ---- files and bad input ---------------------------------------------------------------------------

TEST_CASE("coco eval: results round trip through write_results_json", "[eval][io]") {
  TempDir tmp;
  const fs::path dir = HRNET_EVAL_DATA_DIR;
  const auto res = load_results(dir / "random_b_results.json");
  REQUIRE(res.size() > 10);
  const fs::path out = tmp.dir / "res.json";
  write_results_json(out, res);
  const auto back = load_results(out);
  REQUIRE(back.size() == res.size());
  for (std::size_t i = 0; i < res.size(); ++i) {
    CHECK(back[i].image_id == res[i].image_id);
    CHECK(back[i].category_id == res[i].category_id);
    CHECK(back[i].keypoints == res[i].keypoints);  // bit-exact
    CHECK(back[i].score == res[i].score);
    CHECK(back[i].bbox == res[i].bbox);
  }
  std::vector<KeypointResult> nobox = res;
  for (auto& r : nobox) r.bbox.reset();
  write_results_json(out, nobox);  // overwrites
  CHECK_FALSE(read_json(out)[0].contains("bbox"));
  int files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.dir)) ++files;
  CHECK(files == 1);  // no temporary file left behind

  nobox[3].score = std::nan("");
  check_throws<hrnet::ValueError>([&] { write_results_json(out, nobox); }, "results[3] (image_id");
  CHECK(load_results(out).size() == res.size());  // the old file is untouched
  check_throws<hrnet::IoError>([&] { write_results_json(tmp.dir / "no/such/dir/x.json", res); }, "cannot create");

  write_stats_json(tmp.dir / "stats.json", {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, -1});
  const auto js = read_json(tmp.dir / "stats.json");
  CHECK(js["AP"].get<double>() == 0.1);
  CHECK(js["AR (L)"].get<double>() == -1);
  CHECK(js.begin().key() == "AP");
}

TEST_CASE("coco eval: bad results files", "[eval][io]") {
  TempDir tmp;
  const std::string kp = kps_json(51);
  auto bad = [&](const std::string& text, const std::string& phrase, bool io = false) {
    const fs::path f = tmp.write("r.json", text);
    INFO(text.substr(0, 80));
    if (io) check_throws<hrnet::IoError>([&] { load_results(f); }, phrase);
    else check_throws<hrnet::ValueError>([&] { load_results(f); }, phrase);
  };
  bad("{\"image_id\": 1}", "results must be a JSON array of objects, got object");
  bad("[{\"image_id\": 1, ", "malformed JSON in results file", true);
  bad("", "malformed JSON", true);
  bad("[3]", "results[0]: not an object");
  bad("[{\"image_id\": 1, \"category_id\": 1, \"keypoints\": " + kp + "}]", "results[0] (image_id 1): no field \"score\"");
  bad("[{\"category_id\": 1, \"keypoints\": " + kp + ", \"score\": 1}]", "no field \"image_id\"");
  bad("[{\"image_id\": \"785\", \"category_id\": 1, \"keypoints\": " + kp + ", \"score\": 1}]",
      "field \"image_id\" is not an integer");
  bad("[{\"image_id\": 1.5, \"category_id\": 1, \"keypoints\": " + kp + ", \"score\": 1}]",
      "field \"image_id\" is not an integer");
  bad("[{\"image_id\": 1, \"category_id\": 1, \"keypoints\": " + kp + ", \"score\": 1}, {\"image_id\": 2, "
      "\"category_id\": 1, \"keypoints\": " + kps_json(50) + ", \"score\": 1}]",
      "results[1] (image_id 2): field \"keypoints\" has 50 numbers, expected 51");
  bad("[{\"image_id\": 1, \"category_id\": 1, \"keypoints\": [1, 2, null, " + kps_json(48).substr(1) +
          ", \"score\": 1}]",
      "keypoints[2] is not a number");
  bad("[{\"image_id\": 1, \"category_id\": 1, \"keypoints\": " + kp + ", \"score\": \"high\"}]",
      "field \"score\" is not a number");
  bad("[{\"image_id\": 1, \"category_id\": 1, \"keypoints\": " + kp + ", \"score\": 1e999}]",
      "number overflow parsing '1e999'", true);
  bad("[{\"image_id\": 1, \"category_id\": 1, \"keypoints\": [NaN, " + kps_json(50).substr(1) + ", \"score\": 1}]",
      "NaN and Infinity are not valid JSON", true);
  bad("[{\"image_id\": 1, \"category_id\": 1, \"keypoints\": " + kp + ", \"score\": -Infinity}]",
      "NaN and Infinity are not valid JSON", true);
  bad("[{\"image_id\": 1, \"category_id\": 1, \"keypoints\": " + kp + ", \"score\": 1, \"bbox\": [1, 2]}]",
      "field \"bbox\" has 2 numbers, expected 4");
  check_throws<hrnet::IoError>([&] { load_results(tmp.dir / "missing.json"); }, "results file not found");
  check_throws<hrnet::IoError>([&] { load_results(tmp.dir); }, "is a directory");
  // an empty bbox is "no bbox", as in loadRes
  const fs::path ok = tmp.write("ok.json", "[{\"image_id\": 1, \"category_id\": 1, \"keypoints\": " + kp +
                                               ", \"score\": 0.5, \"bbox\": []}]");
  const auto r = load_results(ok);
  REQUIRE(r.size() == 1);
  CHECK_FALSE(r[0].bbox.has_value());
  CHECK(r[0].keypoints[50] == 1.5);
}

TEST_CASE("coco eval: bad results in memory", "[eval]") {
  const GtAnnotation a = person(1, 1, 10, 10, 140, 5000);
  auto gt = make_gt({1, 2}, {a});
  std::vector<KeypointResult> res = {det(a, 0.5), det(a, 0.4)};
  res[1].image_id = 99;
  check_throws<hrnet::ValueError>([&] { evaluate_keypoints(gt, res); },
                                  "results[1]: image_id 99 is not an image of the ground truth hand-built gt");
  res[1] = det(a, std::numeric_limits<double>::infinity());
  check_throws<hrnet::ValueError>([&] { evaluate_keypoints(gt, res); }, "results[1] (image_id 1): score is not finite");
  res[1] = det(a, 0.4);
  res[1].keypoints[7] = std::nan("");
  check_throws<hrnet::ValueError>([&] { evaluate_keypoints(gt, res); }, "keypoints[7] is not finite");
  res[1].keypoints.resize(34);
  check_throws<hrnet::ValueError>([&] { evaluate_keypoints(gt, res); }, "keypoints has 34 numbers, expected 51");
  res.pop_back();
  const std::vector<std::int64_t> ids = {1, 3};
  check_throws<hrnet::ValueError>([&] { evaluate_keypoints(gt, res, ids); },
                                  "image id 3 of the requested images is not in the ground truth");
  gt.annotations.push_back(person(1, 2, 10, 10, 140, 5000));
  check_throws<hrnet::ValueError>([&] { evaluate_keypoints(gt, res); },
                                  "annotations[1] has id 1, already used by annotations[0]");
}

TEST_CASE("coco eval: bad ground-truth files", "[eval][io]") {
  TempDir tmp;
  const std::string kp = kps_json(51, "0");
  auto ann = [&](const std::string& extra_fields, const std::string& drop = "") {
    std::string s = "{\"id\": 7, \"image_id\": 1, \"category_id\": 1, \"keypoints\": " + kp +
                    ", \"num_keypoints\": 0, \"area\": 100, \"bbox\": [0, 0, 10, 10], \"iscrowd\": 0" + extra_fields + "}";
    if (!drop.empty()) {
      const std::size_t p = s.find("\"" + drop + "\"");
      const std::size_t e = s.find(", ", p);
      s.erase(p, e - p + 2);
    }
    return s;
  };
  auto doc = [&](const std::string& anns) {
    return "{\"images\": [{\"id\": 1}], \"categories\": [{\"id\": 1}], \"annotations\": [" + anns + "]}";
  };
  auto bad = [&](const std::string& text, const std::string& phrase, bool io = false) {
    const fs::path f = tmp.write("gt.json", text);
    INFO(text.substr(0, 120));
    if (io) check_throws<hrnet::IoError>([&] { load_ground_truth(f); }, phrase);
    else check_throws<hrnet::ValueError>([&] { load_ground_truth(f); }, phrase);
  };
  const fs::path good = tmp.write("good.json", doc(ann("")));
  const CocoGroundTruth g = load_ground_truth(good);
  REQUIRE(g.annotations.size() == 1);
  CHECK(g.annotations[0].area == 100);
  CHECK(g.source == good.string());

  check_throws<hrnet::IoError>([&] { load_ground_truth(tmp.dir / "missing.json"); }, "ground-truth file not found");
  bad("[1, 2]", "the top level is not a JSON object");
  bad("{\"images\": [", "malformed JSON in ground-truth file", true);
  bad("{\"images\": [], \"categories\": []}", "no field \"annotations\"");
  bad("{\"images\": {}, \"categories\": [], \"annotations\": []}", "field \"images\" is not an array");
  bad("{\"images\": [{\"file_name\": \"x\"}], \"categories\": [], \"annotations\": []}", "images[0]: no field \"id\"");
  bad(doc(ann("", "num_keypoints")), "annotations[0] (id 7): no field \"num_keypoints\"");
  bad(doc(ann("") + ", " + ann("", "area")), "annotations[1] (id 7): no field \"area\"");
  bad(doc(ann("", "keypoints")), "no field \"keypoints\"");
  bad(doc(ann("").replace(ann("").find("\"iscrowd\": 0"), 12, "\"iscrowd\": 2")), "field \"iscrowd\" is 2, expected 0 or 1");
  bad(doc(ann("").replace(ann("").find("[0, 0, 10, 10]"), 14, "[0, 0, 10]")), "field \"bbox\" has 3 numbers, expected 4");
}

// A val2017-sized evaluation (the time is printed for information; speed is never asserted in tests).
TEST_CASE("coco eval: 5000 images x 20 detections", "[eval]") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  CocoGroundTruth gt;
  gt.category_ids = {1};
  std::vector<KeypointResult> res;
  std::int64_t id = 1;
  for (std::int64_t img = 1; img <= 5000; ++img) {
    gt.image_ids.push_back(img);
    for (int p = 0; p < 4; ++p) {
      const double h = 60 + 300 * u(rng);
      const double x = 600 * u(rng), y = 400 * u(rng);
      if (p == 3) {
        gt.annotations.push_back(region(id++, img, x, y, h, h, true));
        continue;
      }
      gt.annotations.push_back(person(id++, img, x, y, h, 0.3 * h * h));
      res.push_back(det(gt.annotations.back(), 0.5 + 0.5 * u(rng), 0.5 * u(rng)));
    }
    for (int j = 0; j < 19; ++j) res.push_back(det_at(img, 2000, 2000 + 200 * j, 100, 0.4 * u(rng)));
  }
  const auto t0 = std::chrono::steady_clock::now();
  const Stats s = evaluate_keypoints(gt, res);
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "coco eval: 5000 images, " << res.size() << " detections: " << sec << " s\n";
  // every person found, ranked above all false positives
  CHECK(s[AP50] == Approx(1.0).margin(1e-12));
  CHECK(s[AR50] == Approx(1.0).margin(1e-12));
}

// ---- hostile input (issue 18: the fuzzing probe) ---------------------------------------------

TEST_CASE("coco eval: deeply nested values neither crash the loaders nor get dumped (E1)", "[eval][io]") {
  TempDir tmp;
  const std::string kp = kps_json(51);
  // 200 KB of brackets: coco_eval --dt segfaulted quoting the image_id with dump()
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const fs::path r = tmp.write("deep_results.json", "[{\"image_id\": " + deep + ", \"category_id\": 1}]");
  check_throws<hrnet::IoError>([&] { load_results(r); },
                               "malformed JSON in results file " + r.string() + ": nesting deeper than 512 levels");
  const fs::path g = tmp.write("deep_gt.json", "{\"images\": [{\"id\": " + deep + "}], \"categories\": [], \"annotations\": []}");
  check_throws<hrnet::IoError>([&] { load_ground_truth(g); },
                               "malformed JSON in ground-truth file " + g.string() + ": nesting deeper than 512 levels");
  // under the limit: described by type and size
  const std::string nested = std::string(400, '[') + "1" + std::string(400, ']');
  const fs::path r2 = tmp.write("nested.json", "[{\"image_id\": " + nested + ", \"category_id\": 1, \"keypoints\": " + kp +
                                                   ", \"score\": 1}]");
  check_throws<hrnet::ValueError>([&] { load_results(r2); },
                                  "results[0] (image_id array of 1): field \"image_id\" is not an integer (array of 1)");
  const fs::path g2 = tmp.write("nested_gt.json", "{\"images\": [{\"id\": " + nested + "}], \"categories\": [], \"annotations\": []}");
  check_throws<hrnet::ValueError>([&] { load_ground_truth(g2); }, "images[0] (id array of 1): field \"id\" is not an integer");
  check_throws<hrnet::ValueError>(
      [&] { load_ground_truth(tmp.write("str_gt.json", "{\"images\": [{\"id\": \"" + std::string(5000, 'x') + "\"}], \"categories\": [], \"annotations\": []}")); },
      "(id \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...): field \"id\" is not an integer (string \"xxx");
}

TEST_CASE("coco eval: memory is linear in image and category ids, not their product (E2)", "[eval]") {
  // 6000 images x 6000 categories, one person: a dense (image, category) table is 36M cells
  // (1.7 GB of empty vectors for gts and results); only the occupied cells are kept now
  if (!hrnet::test::kAddressLimitWorks) {
    std::cout << "skipped: RLIMIT_AS cannot be used under a sanitizer\n";
    return;
  }
  const std::string r = hrnet::test::run_with_memory_limit(std::size_t(512) << 20, [] {
    CocoGroundTruth gt;
    for (std::int64_t i = 1; i <= 6000; ++i) {
      gt.image_ids.push_back(i * 7);
      gt.category_ids.push_back(i * 3);
    }
    GtAnnotation a = person(1, 7 * 4000, 10, 10, 200, 20000);
    a.category_id = 3 * 5000;
    gt.annotations.push_back(a);
    std::vector<KeypointResult> res = {det(a, 0.9), det_at(7 * 4000, 500, 500, 100, 0.5)};
    res[1].category_id = 3 * 5000;
    const KeypointEvaluation ev = evaluate_keypoints_full(gt, res, std::nullopt);
    // one category holds the person: its AP is 1 (the false positive ranks below it)
    if (std::abs(ev.stats[AP] - 1.0) > 1e-12 || ev.num_detections != 2)
      throw std::runtime_error("AP " + std::to_string(ev.stats[AP]) + ", detections " + std::to_string(ev.num_detections));
  });
  CHECK(r == "ok");
}

TEST_CASE("coco eval: cells of several categories and images agree with per-category evaluation", "[eval]") {
  // the sparse cells keep COCOeval's (category, image) order: evaluating each category alone (its
  // own gt set) gives the same per-category precision and recall as evaluating them together
  std::mt19937 rng(18);
  std::uniform_real_distribution<double> u(0, 1);
  CocoGroundTruth all;
  all.category_ids = {5, 2, 9};
  std::vector<KeypointResult> res;
  std::int64_t id = 1;
  for (std::int64_t img : {40, 10, 30, 20}) {
    all.image_ids.push_back(img);
    for (std::int64_t cat : {2, 5, 9}) {
      if (u(rng) < 0.3) continue;  // some (image, category) cells stay empty
      GtAnnotation a = person(id++, img, 600 * u(rng), 400 * u(rng), 60 + 300 * u(rng), 0);
      a.area = 0.3 * a.bbox[3] * a.bbox[3];
      a.category_id = cat;
      all.annotations.push_back(a);
      res.push_back(det(a, u(rng), 0.3 * u(rng)));
      if (u(rng) < 0.5) {
        res.push_back(det_at(img, 600 * u(rng), 400 * u(rng), 100, u(rng)));
        res.back().category_id = cat;
      }
    }
  }
  const KeypointEvaluation together = evaluate_keypoints_full(all, res, std::nullopt);
  REQUIRE(together.category_ids == std::vector<std::int64_t>{2, 5, 9});
  for (std::size_t k = 0; k < 3; ++k) {
    CocoGroundTruth one = all;
    one.category_ids = {together.category_ids[k]};
    const KeypointEvaluation alone = evaluate_keypoints_full(one, res, std::nullopt);
    for (std::size_t t = 0; t < 10; ++t)
      for (std::size_t a = 0; a < 3; ++a) {
        INFO("category " << together.category_ids[k] << " t " << t << " area " << a);
        CHECK(alone.recall[t * 3 + a] == together.recall[(t * 3 + k) * 3 + a]);
        for (std::size_t r = 0; r < 101; ++r)
          CHECK(alone.precision[(t * 101 + r) * 3 + a] == together.precision[((t * 101 + r) * 3 + k) * 3 + a]);
      }
  }
}

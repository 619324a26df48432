// Oracle test of the whole bottom-up decoder and the COCO evaluator (requirement: "heatmaps and
// tags built from ground-truth keypoints of the synthetic dataset, fed through the whole decoder and
// the evaluator, give AP of at least 0.95").
//
// A synthetic COCO dataset is written to a temporary folder; for every val image, pose::estimate_poses
// runs with a fake network (the oracle) that knows the image's ground-truth people (iscrowd 0,
// num_keypoints > 0; joints with v > 0) and renders the two HigherHRNet outputs for the input it is
// given (scale read off the input size, flip detected by comparing with the previous input):
//   out0 (1, 2J, H/4, W/4): J Gaussian heatmaps (sigma 2 map pixels, max over people) + J tag maps
//                           (every pixel: the tag of the person whose joint of that type is nearest);
//   out1 (1, J, H/2, W/2):  J Gaussian heatmaps.
// The predictions go through pose::coco_results and eval::evaluate_keypoints (on the processed image
// ids); AP and AR must be >= 0.95 and the decoded keypoints must sit well within a pixel of the truth.
// Negative controls (tags shuffled between people, keypoints shifted) must score well below 0.95.
//
// Where the Gaussian centres go. Let A_s = get_affine_transform(center, scale, input size at scale s)
// (the matrix resize_align_multi_scale warps with) and p = A_s(gt) the ground-truth joint in input
// pixels. The pipeline then
//   1. resizes each output (stride d) to the scale-1 input size (PROJECT2IMAGE; via the last output
//      for out0) bilinearly with align_corners=False: output pixel coordinate u maps to final-map
//      coordinate (u + 0.5) * d / s - 0.5 (the compositions of such resizes are consistent);
//   2. takes the NMS maximum (integer pixel x) and adds 0.5 +- 0.25 (adjust, refine);
//   3. maps the result back with A_1^-1 (get_final_preds; A_s = s * A_1 because both centre the
//      image on the canvas and the input sizes scale exactly: W_s = s * W_1).
// For the decoded point to equal gt we need x + 0.5 ~= A_1(gt) = p / s, i.e. the final-map peak at
// p / s - 0.5, hence in the output of stride d the centre
//     u = (p / s - 0.5 + 0.5) * s / d - 0.5 = p / d - 0.5.
// Checked: with u = p / d instead, the mean decoded error grows from ~0.1 to ~0.9 image pixels.
// (This is also where the official targets put it on average: HeatmapGenerator centres the Gaussian
// at int(p / d), which is p / d - 0.5 in the mean; the +0.5 of adjust undoes that truncation.)
// The flipped pass: get_multi_stage_outputs flips the (resized) outputs back with x -> w - 1 - x and
// takes channel flip_index[j] for joint j, so the oracle returns for a flipped input exactly the
// mirror of its plain output with channel k moved to flip_index[k] (heatmaps and tags alike); that is
// what a network that is equivariant under the pipeline's own pixel convention would produce.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "hrnet/data/coco.hpp"
#include "hrnet/data/image.hpp"
#include "hrnet/data/synthetic.hpp"
#include "hrnet/data/transforms.hpp"
#include "hrnet/eval/coco_eval.hpp"
#include "hrnet/pose/estimator.hpp"
#include "hrnet/pose/inference.hpp"

namespace fs = std::filesystem;
using namespace hrnet;
using T4 = Tensor<float, CPU>;

namespace {

constexpr std::int64_t J = 17;
constexpr double kSigma = 2.0;     // map pixels, every output
constexpr double kShift = 12.0;    // image pixels, for the shifted-keypoints control

struct GtPerson {
  std::array<std::array<double, 2>, J> xy{};
  std::array<bool, J> labelled{};
};

struct ValImage {
  std::int64_t id = 0;
  data::Image image;
  std::vector<GtPerson> people;
};

// The val split in memory: decoded images, their gt people and the gt file as the evaluator reads it.
struct Dataset {
  eval::CocoGroundTruth gt;
  std::vector<ValImage> images;
};

// Removes the temporary dataset folder however the loading ends.
struct TempDir {
  fs::path path;
  explicit TempDir(fs::path p) : path(std::move(p)) {}
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Written, read back and deleted once per process (each ctest entry runs its own process).
const Dataset& dataset() {
  static const std::unique_ptr<Dataset> ds = [] {
    auto d = std::make_unique<Dataset>();
    const TempDir root(fs::temp_directory_path() / ("hrnet_pose_oracle_" + std::to_string(::getpid())));
    data::SyntheticPoseOptions so;
    so.train_images = 1;
    so.val_images = 12;
    so.seed = 20240611;
    data::write_synthetic_pose(root.path, so);
    const data::CocoKeypoints val(root.path, "val2017", {.remove_images_without_annotations = false});
    for (std::size_t i = 0; i < val.size(); ++i) {
      ValImage vi;
      vi.id = val.image(i).id;
      vi.image = data::read_image(val.image(i).path);
      for (const auto& a : val.annotations(i)) {
        if (a.iscrowd || a.num_keypoints <= 0) continue;
        GtPerson p;
        for (std::size_t k = 0; k < static_cast<std::size_t>(J); ++k) {
          p.labelled[k] = a.keypoints[k][2] > 0;
          p.xy[k] = {a.keypoints[k][0], a.keypoints[k][1]};
        }
        vi.people.push_back(p);
      }
      d->images.push_back(std::move(vi));
    }
    d->gt = eval::load_ground_truth(val.annotation_file());
    return d;
  }();
  return *ds;
}

enum class Corruption { none, shuffle_tags, shift };

// The oracle's plain (unflipped) outputs for an input of size sz (at some scale): see the header.
std::vector<T4> plain_outputs(const ValImage& im, const pose::ScaleSize& sz, Corruption corrupt) {
  const auto fwd = pose::get_affine_transform(sz.center_x, sz.center_y, sz.scale_w, sz.width, sz.height);
  const std::size_t P = im.people.size();
  const double shift = corrupt == Corruption::shift ? kShift : 0.0;
  std::vector<std::array<std::array<double, 2>, J>> in_px(P);  // input pixels
  for (std::size_t p = 0; p < P; ++p)
    for (std::size_t k = 0; k < static_cast<std::size_t>(J); ++k)
      if (im.people[p].labelled[k])
        in_px[p][k] = data::apply_affine(fwd, im.people[p].xy[k][0] + shift, im.people[p].xy[k][1] + shift);
  // Person p's tag for joint k: its index; the control permutes the people per joint type.
  auto tag_of = [&](std::size_t p, std::size_t k) {
    return static_cast<float>(corrupt == Corruption::shuffle_tags ? (p + k) % P : p);
  };
  std::vector<T4> outs;
  for (const std::int64_t d : {4, 2}) {
    REQUIRE(sz.height % d == 0);
    REQUIRE(sz.width % d == 0);
    const std::int64_t Ho = sz.height / d, Wo = sz.width / d;
    auto out = T4::zeros({1, d == 4 ? 2 * J : J, Ho, Wo});
    const double dd = static_cast<double>(d);
    for (std::size_t p = 0; p < P; ++p)
      for (std::int64_t k = 0; k < J; ++k) {
        if (!im.people[p].labelled[static_cast<std::size_t>(k)]) continue;
        const double cx = in_px[p][static_cast<std::size_t>(k)][0] / dd - 0.5;
        const double cy = in_px[p][static_cast<std::size_t>(k)][1] / dd - 0.5;
        const auto r = static_cast<std::int64_t>(3 * kSigma) + 1;
        const auto x0 = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(cx)) - r);
        const auto x1 = std::min<std::int64_t>(Wo - 1, static_cast<std::int64_t>(std::ceil(cx)) + r);
        const auto y0 = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(cy)) - r);
        const auto y1 = std::min<std::int64_t>(Ho - 1, static_cast<std::int64_t>(std::ceil(cy)) + r);
        for (std::int64_t y = y0; y <= y1; ++y)
          for (std::int64_t x = x0; x <= x1; ++x) {
            const double ex = static_cast<double>(x) - cx, ey = static_cast<double>(y) - cy;
            const auto v = static_cast<float>(std::exp(-(ex * ex + ey * ey) / (2 * kSigma * kSigma)));
            float& o = out.at(0, k, y, x);
            o = std::max(o, v);
          }
      }
    if (d == 4) {
      float* t = out.data();  // (1, 2J, Ho, Wo) is NHWC in memory: channel J + k of pixel (y, x)
      for (std::int64_t y = 0; y < Ho; ++y)
        for (std::int64_t x = 0; x < Wo; ++x)
          for (std::int64_t k = 0; k < J; ++k) {
            double best = INFINITY;
            float tag = 0;  // no person has this joint: its heatmap is 0 everywhere anyway
            for (std::size_t p = 0; p < P; ++p) {
              if (!im.people[p].labelled[static_cast<std::size_t>(k)]) continue;
              const double ex = static_cast<double>(x) - (in_px[p][static_cast<std::size_t>(k)][0] / dd - 0.5);
              const double ey = static_cast<double>(y) - (in_px[p][static_cast<std::size_t>(k)][1] / dd - 0.5);
              if (ex * ex + ey * ey < best) {
                best = ex * ex + ey * ey;
                tag = tag_of(p, static_cast<std::size_t>(k));
              }
            }
            t[(y * Wo + x) * 2 * J + J + k] = tag;
          }
    }
    outs.push_back(out);
  }
  return outs;
}

// What the oracle answers for the mirrored input: the plain output mirrored (x -> w - 1 - x) with
// joint k's heatmap and tag moved to channel flip_index[k].
T4 mirrored(const T4& plain, const std::vector<std::int64_t>& flip_index) {
  const std::int64_t C = plain.shape().c(), Ho = plain.shape().h(), Wo = plain.shape().w();
  std::vector<std::int64_t> dst(static_cast<std::size_t>(C));
  for (std::int64_t c = 0; c < C; ++c) dst[static_cast<std::size_t>(c)] = c - c % J + flip_index[static_cast<std::size_t>(c % J)];
  auto out = T4::zeros(plain.shape());
  const float* s = plain.data();  // NHWC
  float* o = out.data();
  for (std::int64_t y = 0; y < Ho; ++y)
    for (std::int64_t x = 0; x < Wo; ++x)
      for (std::int64_t c = 0; c < C; ++c)
        o[(y * Wo + (Wo - 1 - x)) * C + dst[static_cast<std::size_t>(c)]] = s[(y * Wo + x) * C + c];
  return out;
}

// a == b[:, :, :, ::-1] exactly (the flip test's input is flip_width of the plain one).
bool is_mirror_of(const T4& a, const T4& b) {
  if (!(a.shape() == b.shape())) return false;
  const std::int64_t C = a.shape().c(), H = a.shape().h(), W = a.shape().w();
  const float *pa = a.data(), *pb = b.data();  // NHWC
  for (std::int64_t y = 0; y < H; ++y)
    for (std::int64_t x = 0; x < W; ++x)
      if (!std::equal(pa + (y * W + x) * C, pa + (y * W + x + 1) * C, pb + (y * W + W - 1 - x) * C)) return false;
  return true;
}

struct OracleRun {
  eval::Stats stats{};
  std::int64_t gt_people = 0, multi_person_images = 0, predictions = 0;
  std::int64_t joints = 0;           // labelled gt joints compared
  double mean_error = 0, max_error = 0;  // image pixels, each gt person vs its closest prediction
  double within_1px = 0;             // fraction of those joints decoded within one pixel
};

// Runs the first `max_images` val images (all by default) and evaluates on those.
OracleRun run_oracle(const pose::InferenceOptions& opts, Corruption corrupt, std::size_t max_images = SIZE_MAX) {
  const Dataset& ds = dataset();
  OracleRun run;
  std::vector<std::int64_t> ids;
  std::vector<eval::KeypointResult> results;
  double err_sum = 0;
  std::int64_t close = 0;
  const double min_scale = *std::min_element(opts.scales.begin(), opts.scales.end());
  for (const ValImage& im : ds.images) {
    if (ids.size() >= max_images) break;
    ids.push_back(im.id);
    INFO("image " << im.id << " (" << im.image.width << "x" << im.image.height << ", " << im.people.size()
                  << " people)");
    run.gt_people += static_cast<std::int64_t>(im.people.size());
    run.multi_person_images += im.people.size() >= 2;
    std::vector<pose::ScaleSize> sizes;
    for (const double s : opts.scales)
      sizes.push_back(pose::get_multi_scale_size(im.image.height, im.image.width, opts.input_size, s, min_scale));
    int plain_calls = 0, flipped_calls = 0;
    T4 previous;                      // the last plain input and what the oracle answered
    std::vector<T4> previous_outputs;
    const pose::PoseModel model = [&](const T4& input) {
      REQUIRE(input.rank() == 4);
      const std::int64_t H = input.shape().h(), W = input.shape().w();
      const pose::ScaleSize* sz = nullptr;
      for (const auto& s : sizes)
        if (s.width == W && s.height == H) sz = &s;
      INFO("model input " << W << "x" << H);
      REQUIRE(sz != nullptr);
      const bool flipped = previous.defined() && is_mirror_of(input, previous);
      if (flipped) {
        ++flipped_calls;
        std::vector<T4> outs;
        for (const auto& o : previous_outputs) outs.push_back(mirrored(o, opts.flip_index));
        return outs;
      }
      ++plain_calls;
      previous = input.clone();
      previous_outputs = plain_outputs(im, *sz, corrupt);
      std::vector<T4> outs;  // copies: what the pipeline does with them cannot reach the mirrored pass
      for (const auto& o : previous_outputs) outs.push_back(o.clone());
      return outs;
    };
    const auto people = pose::estimate_poses(im.image.pixels, im.image.height, im.image.width, model, opts);
    CHECK(plain_calls == static_cast<int>(opts.scales.size()));
    CHECK(flipped_calls == (opts.flip ? static_cast<int>(opts.scales.size()) : 0));
    run.predictions += static_cast<std::int64_t>(people.size());
    for (auto& r : pose::coco_results(im.id, people)) results.push_back(std::move(r));
    // Decode error: each gt person against the prediction closest to it on average.
    for (const GtPerson& g : im.people) {
      double best = INFINITY;
      std::vector<double> best_d;
      for (const auto& pred : people) {
        std::vector<double> dist;
        double sum = 0;
        for (std::size_t k = 0; k < static_cast<std::size_t>(J); ++k) {
          if (!g.labelled[k]) continue;
          const double dx = pred.keypoints[k][0] - g.xy[k][0], dy = pred.keypoints[k][1] - g.xy[k][1];
          dist.push_back(std::sqrt(dx * dx + dy * dy));
          sum += dist.back();
        }
        if (!dist.empty() && sum / static_cast<double>(dist.size()) < best) {
          best = sum / static_cast<double>(dist.size());
          best_d = dist;
        }
      }
      if (best_d.empty()) {  // nothing predicted: count the joints as lost
        run.max_error = INFINITY;
        continue;
      }
      for (const double e : best_d) {
        err_sum += e;
        run.max_error = std::max(run.max_error, e);
        close += e < 1.0;
        ++run.joints;
      }
    }
  }
  run.mean_error = run.joints > 0 ? err_sum / static_cast<double>(run.joints) : INFINITY;
  run.within_1px = run.joints > 0 ? static_cast<double>(close) / static_cast<double>(run.joints) : 0;
  run.stats = eval::evaluate_keypoints(ds.gt, results, ids);
  return run;
}

pose::InferenceOptions options(std::vector<double> scales, bool flip) {
  pose::InferenceOptions o;  // w32_512 COCO defaults: input 512, adjust + refine, thresholds
  o.scales = std::move(scales);
  o.flip = flip;
  return o;
}

void check_oracle(const pose::InferenceOptions& opts, std::size_t max_images = SIZE_MAX) {
  const OracleRun r = run_oracle(opts, Corruption::none, max_images);
  INFO("AP " << r.stats[0] << " AP.5 " << r.stats[1] << " AP.75 " << r.stats[2] << " AR " << r.stats[5]
             << " | gt people " << r.gt_people << " predictions " << r.predictions << " | decoded error over "
             << r.joints << " joints: mean " << r.mean_error << " px, max " << r.max_error << " px, within 1 px "
             << r.within_1px);
  REQUIRE(r.gt_people >= 12);
  REQUIRE(r.multi_person_images >= 3);
  CHECK(r.stats[0] >= 0.95);  // AP
  CHECK(r.stats[1] >= 0.95);  // AP .5
  CHECK(r.stats[5] >= 0.95);  // AR
  CHECK(r.stats[6] >= 0.95);  // AR .5
  // Image pixels (an input pixel is 0.5 to 0.75 of one here): without the -0.5 of the centre formula
  // the mean is about 0.9, a half-pixel slip anywhere in the chain would show as well.
  CHECK(r.mean_error < 0.25);
  CHECK(r.within_1px >= 0.98);
}

}  // namespace

TEST_CASE("pose oracle: gt maps give AP >= 0.95 at scale 1 with flip test", "[oracle]") {
  check_oracle(options({1.0}, true));
}

TEST_CASE("pose oracle: gt maps give AP >= 0.95 at scale 1 without flip test", "[oracle]") {
  check_oracle(options({1.0}, false));
}

TEST_CASE("pose oracle: gt maps give AP >= 0.95 at scales 2 1 0.5 with flip test", "[oracle]") {
  check_oracle(options({2.0, 1.0, 0.5}, true), 6);  // half the images: scale 2 is 4x the work
}

TEST_CASE("pose oracle: gt maps give AP >= 0.95 at scales 2 1 0.5 without flip test", "[oracle]") {
  check_oracle(options({2.0, 1.0, 0.5}, false), 6);
}

TEST_CASE("pose oracle: negative control with tags shuffled between people", "[oracle]") {
  const OracleRun r = run_oracle(options({1.0}, false), Corruption::shuffle_tags, 6);
  INFO("AP " << r.stats[0] << " AR " << r.stats[5] << " | multi-person images " << r.multi_person_images
             << " | mean error " << r.mean_error);
  REQUIRE(r.multi_person_images >= 3);  // the shuffle changes nothing for a lone person
  CHECK(r.stats[0] < 0.5);
}

TEST_CASE("pose oracle: negative control with keypoints shifted", "[oracle]") {
  const OracleRun r = run_oracle(options({1.0}, false), Corruption::shift, 6);
  INFO("AP " << r.stats[0] << " AR " << r.stats[5] << " | mean error " << r.mean_error);
  CHECK(r.mean_error > 10.0);
  CHECK(r.stats[0] < 0.5);
}

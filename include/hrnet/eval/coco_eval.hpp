// COCO keypoint evaluation with the semantics of pycocotools' COCOeval(iouType='keypoints'), as
// HigherHRNet runs it: COCO.loadRes(results), then evaluate / accumulate / summarize with the default
// keypoint parameters.
//
//   - OKS (computeOks): per gt, mean over its labelled keypoints (v > 0) of
//     exp(-d^2 / (2 sigma)^2 / (area + eps) / 2) with the 17 COCO sigmas; a gt with no labelled
//     keypoint uses the distance of each detected keypoint to the gt bbox enlarged by its own size on
//     every side, averaged over all 17. Only the top 20 detections of an image (stable sort by score)
//     are scored.
//   - gt ignore: iscrowd, num_keypoints == 0, or area outside the range. Crowd gts may be matched
//     by several detections. Detections matched to an ignored gt, and unmatched detections whose
//     area is outside the range, count neither as true nor as false positives.
//   - area ranges all [0, 1e10], medium [32^2, 96^2], large [96^2, 1e10] (both ends inclusive);
//     OKS thresholds numpy.linspace(.5, .95, 10); recall thresholds numpy.linspace(0, 1, 101);
//     greedy matching, precision interpolation and searchsorted(side='left') exactly as COCOeval.
//   - a detection's area (used for the range test) is the keypoint extent (x1-x0)*(y1-y0), or,
//     when the *first* result carries a non-empty bbox, every result's bbox w*h (loadRes's branch).
//   - a stat with nothing to average is -1 (no gt in that range).
//
// Deviations, all where pycocotools would crash or silently misbehave: an empty result list scores
// 0 instead of raising; duplicate annotation ids are rejected instead of aliasing; requested image
// ids that are not in the gt are rejected instead of evaluating nothing; every gt annotation must
// have the fields the evaluation reads (pycocotools only reads those of evaluated images).
// Kept on purpose: a gt whose id is 0 is matched but its match reads as "unmatched" (COCOeval
// stores matches as gt ids with 0 meaning none).
//
// Errors: IoError when a file is missing, unreadable or not JSON; ValueError for bad content (the
// message names the file or "results", the entry index and the problem): results on images that are
// not in the ground truth, missing or mistyped fields, keypoints of the wrong length, non-finite
// numbers.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace hrnet::eval {

inline constexpr int kNumKeypoints = 17;  // COCO person keypoints (the sigmas below)
inline constexpr int kNumStats = 10;

// pycocotools' kpt_oks_sigmas (before the /10 it applies).
inline constexpr std::array<double, kNumKeypoints> kOksSigmasTimes10 = {
    .26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89};

// Names of the ten stats in summarize() order (HigherHRNet's stats_names, with "AP .5" spelled out).
inline constexpr std::array<const char*, kNumStats> kStatNames = {
    "AP", "AP .5", "AP .75", "AP (M)", "AP (L)", "AR", "AR .5", "AR .75", "AR (M)", "AR (L)"};

using Stats = std::array<double, kNumStats>;

struct GtAnnotation {
  std::int64_t id = 0, image_id = 0, category_id = 1;
  std::array<double, 3 * kNumKeypoints> keypoints{};  // x, y, v per joint
  double num_keypoints = 0;                           // only "== 0" matters (ignore flag)
  double area = 0;                                    // segmentation area: OKS scale and area range
  std::array<double, 4> bbox{};                       // x, y, w, h: OKS of gts without labelled joints
  bool iscrowd = false;
};

// A parsed person_keypoints_*.json: what the evaluation reads of it.
struct CocoGroundTruth {
  std::string source;                       // file name (or a label) used in error messages
  std::vector<std::int64_t> image_ids;      // "images" in file order
  std::vector<std::int64_t> category_ids;   // "categories" in file order
  std::vector<GtAnnotation> annotations;    // "annotations" in file order
};

struct KeypointResult {
  std::int64_t image_id = 0;
  std::int64_t category_id = 1;
  std::vector<double> keypoints;  // 51: x, y, score per joint (the score is not used by OKS)
  double score = 0;
  std::optional<std::array<double, 4>> bbox;  // x, y, w, h; see the area rule above
};

// Reads the gt file. Annotations of images or categories the file does not list are kept but, as in
// pycocotools, never evaluated.
CocoGroundTruth load_ground_truth(const std::filesystem::path& file);

// Reads a results file: a JSON array of {image_id, category_id, keypoints[51], score[, bbox]}.
std::vector<KeypointResult> load_results(const std::filesystem::path& file);

// Writes results in the official format (bbox only where present), via a temporary file renamed into
// place, so a reader never sees a partial file. Throws ValueError for non-finite numbers.
void write_results_json(const std::filesystem::path& file, const std::vector<KeypointResult>& results);

// Everything accumulate() produces, for inspection; stats is what summarize() reports.
struct KeypointEvaluation {
  Stats stats{};
  std::vector<std::int64_t> category_ids;  // K, sorted
  // precision[((t * R + r) * K + k) * A + a], recall[(t * K + k) * A + a]; -1 where the (category,
  // area range) has no non-ignored gt. T = 10 OKS thresholds, R = 101, A = 3 (all, medium, large).
  std::vector<double> precision;
  std::vector<double> recall;
  std::int64_t num_images = 0;      // images evaluated
  std::int64_t num_detections = 0;  // detections scored (after the per-image top 20)
};

// Evaluates on every image of the gt (HigherHRNet's setting).
Stats evaluate_keypoints(const CocoGroundTruth& gt, const std::vector<KeypointResult>& results);
// Evaluates on the given images only (COCOeval.params.imgIds); results on other gt images are
// ignored, image ids that are not in the gt are an error. Duplicates are allowed.
Stats evaluate_keypoints(const CocoGroundTruth& gt, const std::vector<KeypointResult>& results,
                         std::span<const std::int64_t> image_ids);
KeypointEvaluation evaluate_keypoints_full(const CocoGroundTruth& gt, const std::vector<KeypointResult>& results,
                                           const std::optional<std::vector<std::int64_t>>& image_ids = std::nullopt);

// OKS of one detection against one gt, as computeOks.
double keypoint_oks(const GtAnnotation& gt, std::span<const double> dt_keypoints);

// The thresholds exactly as numpy.linspace produces them (0.8999999999999999 among them).
const std::array<double, 10>& oks_thresholds();
const std::array<double, 101>& recall_thresholds();

// The ten lines summarize() prints, each ending with '\n'.
std::string format_stats(const Stats& stats);

// Writes {"AP": ..., "AP .5": ..., ...} (kStatNames order) atomically, like write_results_json.
void write_stats_json(const std::filesystem::path& file, const Stats& stats);

}  // namespace hrnet::eval

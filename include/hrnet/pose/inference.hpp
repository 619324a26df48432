// HigherHRNet bottom-up inference for one image, as the official tools/valid.py runs it:
//
//   for s in scales (descending):
//     resize_align_multi_scale (affine warp to a multiple of 64, bilinear, zero border) + normalise
//     get_multi_stage_outputs: model(image) [+ model(flipped image), flipped back, channels permuted
//       by the flip index]; lower-resolution outputs upsampled to the last one (bilinear,
//       align_corners=False); heatmaps averaged over the outputs that have them; tags from the
//       outputs with TEST.WITH_AE; PROJECT2IMAGE: everything resized to the scale-1 input size
//     aggregate_results: heatmaps (mean of plain and flipped) summed over scales, tags kept from
//       scale 1 (or the only scale)
//   heatmaps / number of scales, tags stacked on a trailing axis
//   -> HeatmapParser.parse (group.hpp) -> get_final_preds (inverse affine to image pixels).
//
// Sources: lib/utils/transforms.py (get_multi_scale_size, resize_align_multi_scale,
// get_affine_transform, get_final_preds), lib/core/inference.py (get_multi_stage_outputs,
// aggregate_results), tools/valid.py. The affine matrices are computed from float32 point triples
// and solved like cv2.getAffineTransform (6x6 Gaussian elimination with partial pivoting, same
// operation order), so they match OpenCV's to the last bit; the warp is data::warp_affine
// (bit-identical to cv2.warpAffine on 8-bit images).
//
// Tensors are the library's: the model takes a (1, 3, H, W) float tensor (NHWC in memory) and
// returns one (1, C, h, w) tensor per output resolution; HigherHRNet returns
// [(1, 2J, H/4, W/4), (1, J, H/2, W/2)]: every output starts with J heatmap channels, and an output
// used for tags (with_ae) has exactly J tag channels after them (TAG_PER_JOINT).
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "hrnet/core/host_memory.hpp"
#include "hrnet/core/tensor.hpp"
#include "hrnet/data/transforms.hpp"
#include "hrnet/pose/group.hpp"

namespace hrnet::pose {

// The network: (1, 3, H, W) normalised image -> one (1, C, h, w) tensor per output.
using PoseModel = std::function<std::vector<Tensor<float, CPU>>(const Tensor<float, CPU>&)>;

// cfg.DATASET / cfg.TEST fields, with the w32_512 COCO values. The number of joints and the
// grouping thresholds live in `group` (group.num_joints, group.detection_threshold,
// group.tag_threshold, ...). CrowdPose: group.num_joints = 14, group.joint_order = {} (0..13),
// flip_index = data::kCrowdPoseFlipIndex.
struct InferenceOptions {
  std::int64_t input_size = 512;     // DATASET.INPUT_SIZE
  std::vector<double> scales{1.0};   // TEST.SCALE_FACTOR (any order; processed descending)
  bool flip = true;                  // TEST.FLIP_TEST
  std::vector<std::int64_t> flip_index{data::kCocoFlipIndex.begin(), data::kCocoFlipIndex.end()};
  bool project_to_image = true;      // TEST.PROJECT2IMAGE
  // Per model output: TEST.WITH_HEATMAPS and TEST.WITH_AE (both combined with the LOSS flags,
  // which are true for the outputs listed true here). Their length is the number of outputs.
  std::vector<bool> with_heatmaps{true, true};
  std::vector<bool> with_ae{true, false};
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f}, std{0.229f, 0.224f, 0.225f};
  GroupParams group;                 // num_joints, thresholds, NMS, adjust/refine
};

// ---- resizing -----------------------------------------------------------------------------

// get_multi_scale_size: the network input size at `current_scale` (short side
// ceil64(min_scale * input_size) * current_scale / min_scale, long side aligned to 64 at
// min_scale), the image center (int(w / 2 + 0.5), int(h / 2 + 0.5)) and the scale pair / 200.
struct ScaleSize {
  std::int64_t width = 0, height = 0;  // resized input
  double center_x = 0, center_y = 0;
  double scale_w = 0, scale_h = 0;     // only scale_w enters the affine (get_affine_transform uses scale[0])
};
ScaleSize get_multi_scale_size(std::int64_t height, std::int64_t width, std::int64_t input_size, double current_scale,
                               double min_scale);

// get_affine_transform(center, scale, rot=0, (out_w, out_h), inv): the square of side
// 200 * scale_w around the center mapped onto the output, uniformly. inverse = true maps output
// coordinates back to the image.
data::Affine get_affine_transform(double center_x, double center_y, double scale_w, std::int64_t out_w,
                                  std::int64_t out_h, bool inverse = false);

// resize_align_multi_scale: the 8-bit RGB image warped to get_multi_scale_size's size.
struct ResizedImage {
  std::vector<std::uint8_t> rgb;  // size.height x size.width x 3
  ScaleSize size;
};
ResizedImage resize_align_multi_scale(std::span<const std::uint8_t> rgb, std::int64_t height, std::int64_t width,
                                      std::int64_t input_size, double current_scale, double min_scale);

// ---- model outputs -> maps ------------------------------------------------------------------

// get_multi_stage_outputs for one scale. heatmaps: the average over heatmap outputs, then (flip)
// the flipped-back average; tags: one (1, J, h, w) map per with_ae output, then the flipped ones.
// With project_w/project_h > 0 (PROJECT2IMAGE) every map is resized to project_h x project_w.
struct StageMaps {
  std::vector<Tensor<float, CPU>> heatmaps;  // (1, J, h, w) each
  std::vector<Tensor<float, CPU>> tags;      // (1, J, h, w) each
};
StageMaps get_multi_stage_outputs(const PoseModel& model, const Tensor<float, CPU>& image, const InferenceOptions& opts,
                                  std::int64_t project_w = 0, std::int64_t project_h = 0);

// The final maps for grouping, in the layouts of PoseMaps (heatmaps (J, H, W), tags (J, H, W, T)),
// with their summary for the parser (made while the maps are written).
struct AggregatedMaps {
  std::vector<float, HostAllocator<float>> heatmaps, tags;  // (huge pages: see host_memory.hpp)
  std::int64_t num_joints = 0, height = 0, width = 0, tag_dim = 0;
  MapSummary summary;
  PoseMaps view() const { return {heatmaps, tags, num_joints, height, width, tag_dim, &summary}; }
};

// aggregate_results over the scales, then the final division and tag stacking.
class MapAggregator {
 public:
  explicit MapAggregator(const InferenceOptions& opts);
  // Adds one scale's outputs (call in the order the scales are processed: descending).
  void add(double scale_factor, const StageMaps& maps);
  // final_heatmaps / number of scales, tags concatenated on the trailing axis, and the summary.
  // ValueError when no scale contributed tags (several scales, none of them 1). The second form
  // reuses out's buffers (no allocation when the sizes repeat, as in a validation loop).
  AggregatedMaps finish() const;
  void finish(AggregatedMaps& out) const;

 private:
  InferenceOptions opts_;
  Tensor<float, CPU> pending_, pending_flipped_;  // the first scale's maps, until a second one comes
  Tensor<float, CPU> final_;                  // (1, J, H, W) running sum
  std::vector<Tensor<float, CPU>> tags_list_;  // (1, J, H, W) each
};

// ---- results --------------------------------------------------------------------------------

struct PersonPose {
  std::vector<std::array<float, 3>> keypoints;  // per joint: x, y in image pixels, heatmap value (0: none)
  float score = 0;                              // mean heatmap value over the joints (before refine)
};

// get_final_preds: each person's joints mapped from the map (map_w x map_h) to image pixels with
// the inverse of get_affine_transform(center, scale); values are float32 as in the official code.
std::vector<PersonPose> get_final_preds(const GroupedPoses& grouped, const ScaleSize& center_scale, std::int64_t map_w,
                                        std::int64_t map_h);

// The maps estimate_poses groups (after aggregation), with the center/scale its final
// predictions use (those of the last, smallest scale, as in valid.py).
struct InferenceMaps {
  AggregatedMaps maps;
  ScaleSize center_scale;
};
InferenceMaps infer_maps(std::span<const std::uint8_t> rgb, std::int64_t height, std::int64_t width,
                         const PoseModel& model, const InferenceOptions& opts = {});
// The same into `out`, reusing its buffers.
void infer_maps(std::span<const std::uint8_t> rgb, std::int64_t height, std::int64_t width, const PoseModel& model,
                const InferenceOptions& opts, InferenceMaps& out);

// Everything above for one 8-bit RGB image (height x width x 3, interleaved; RGB like the official
// loader's BGR->RGB). Throws ShapeError for a wrong image size or wrong model output shapes
// (batch, channel counts), ValueError for bad options. With a workspace, the maps are made in its
// buffers and stay there (a loop over images then allocates them once: at input size 512 with
// flip test they are about 53 MB, and fresh pages for them would cost more than the grouping).
std::vector<PersonPose> estimate_poses(std::span<const std::uint8_t> rgb, std::int64_t height, std::int64_t width,
                                       const PoseModel& model, const InferenceOptions& opts = {},
                                       InferenceMaps* workspace = nullptr);

}  // namespace hrnet::pose

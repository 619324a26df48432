// HigherHRNet bottom-up grouping: the official HeatmapParser (lib/core/group.py) for one image.
//
//   parse = NMS (max pool, ties survive) -> top-k per joint -> match_by_tag (Munkres on tag
//           distances, in the official joint order) -> adjust (quarter-pixel shift) -> score ->
//           refine (fill missing joints from the full maps).
//
// Inputs are plain row-major float arrays for one image (what inference.hpp's aggregation
// produces):
//   heatmaps (J, H, W)      element (k, y, x)    at (k * H + y) * W + x
//   tags     (J, H, W, T)   element (k, y, x, t) at ((k * H + y) * W + x) * T + t
// T is the number of tag maps stacked by aggregate_results (2 with flip test, 1 without).
//
// Output: persons (P, J, 3 + T), rank-3 row-major float: x, y (map pixels, after adjust/refine),
// val (heatmap value; 0 = joint missing), tag_0 .. tag_{T-1} (0 for joints filled by refine, as in
// the official code), in the official person order (dict insertion order); and one score per person
// (the float32 mean of val over the J joints after adjust, before refine).
//
// Semantics follow the official code in detail, with float32/float64 arithmetic where numpy uses it
// (tag means and refine distances in float32, match costs in float64, numpy's pairwise sum for the
// score, round-half-to-even). Deliberate, documented differences:
//   - top-k order among exactly equal heatmap values: lower flat index first (torch.topk leaves it
//     unspecified);
//   - candidates whose value or tag is not finite raise ValueError (the python code would feed NaN
//     to munkres); refine never selects a pixel whose score is NaN (np.argmax would).
// Speed (the results are those of the exhaustive computation, bit for bit): everything is driven by
// a MapSummary, per-8x8-block bounds of the maps (heatmap maximum, per-dimension tag range), grouped
// 4x4 into 32x32 superblocks. NMS visits only blocks whose maximum is above the detection threshold
// and runs its 5x5 test only on pixels that pass a 4-neighbour test. Refine's map-wide arg-max, the
// hot loop, is a branch-and-bound search per (person, missing joint):
//   - seeds: the joint's NMS peaks and the pixels earlier searches of the joint chose (the extra
//     persons the matching makes share their tags with real ones, and so their answers);
//   - superblocks, in decreasing order of their bound (heatmap maximum minus the rounded distance
//     from the person's tag to the region's tag range; bounds computed only for the superblocks
//     whose maximum reaches the best score so far), then their blocks, then the 4x4 quarters of a
//     block (their ranges recorded the first time a search of the joint reads the block), until
//     no region can beat the best score. Every float step of the score is monotone, so the bounds
//     are exact; ties go to the first flat index.
// Worst case (tags without spatial coherence) is close to the full scan. The summary reads every
// det and tag value once (about 53 MB for 17 joints with T = 2 at 512x512): memory-bound, and most
// of parse()'s time when parse() has to make it. MapAggregator::finish (inference.hpp) makes it
// while it writes the maps, where the values are in cache anyway, and hands it over in
// PoseMaps::summary. bench_group times both ways.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "hrnet/core/tensor.hpp"
#include "hrnet/pose/hungarian.hpp"

namespace hrnet::pose {

// Params.joint_order for COCO without center: nose, eyes, ears, shoulders, hips, elbows, wrists,
// knees, ankles.
inline constexpr std::array<std::int64_t, 17> kCocoJointOrder = {0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16};

// cfg.DATASET / cfg.TEST fields of the official Params, with the w32_512 values.
struct GroupParams {
  std::int64_t num_joints = 17;
  std::int64_t max_num_people = 30;  // top-k per joint, and the persons a joint type is matched to
  double detection_threshold = 0.1;  // >= 0
  double tag_threshold = 1.0;
  bool use_detection_val = true;     // cost = round(dist) * 100 - val (else the raw distance)
  bool ignore_too_much = false;
  int nms_kernel = 5, nms_padding = 2;  // must keep the map size: 2 * padding == kernel - 1
  // Matching order; empty means 0..J-1. Must be a permutation of 0..J-1 (COCO: kCocoJointOrder).
  std::vector<std::int64_t> joint_order{kCocoJointOrder.begin(), kCocoJointOrder.end()};
  bool adjust = true;  // TEST.ADJUST
  bool refine = true;  // TEST.REFINE
};

struct MapSummary;

// A non-owning view of one image's maps (layouts above). `summary`, when set, must describe exactly
// these maps (MapAggregator::finish's, or summarize()'s); its sizes are checked, its values trusted.
// Without one the parser makes its own.
struct PoseMaps {
  std::span<const float> heatmaps;  // J * H * W
  std::span<const float> tags;      // J * H * W * T
  std::int64_t num_joints = 0, height = 0, width = 0, tag_dim = 0;
  const MapSummary* summary = nullptr;
};

// Per-block bounds of one image's maps: 8x8-pixel blocks (partial at the right and bottom edges),
// grouped 4x4 into 32x32 superblocks and stored superblock by superblock (block_index), so one
// superblock's 16 blocks are contiguous. NaN values are ignored: a block without a non-NaN heatmap
// value has det_max -inf; one without a non-NaN tag in dimension t has tag_lo > tag_hi there.
// Blocks past the map edge (in the last superblocks) hold those empty values too.
struct MapSummary {
  static constexpr std::int64_t kBlock = 8;  // pixels per block side
  static constexpr std::int64_t kSuper = 4;  // blocks per superblock side
  static constexpr std::int64_t kBlocksPerSuper = kSuper * kSuper;
  std::int64_t num_joints = 0, height = 0, width = 0, tag_dim = 0;
  std::int64_t blocks_w = 0, blocks_h = 0, supers_w = 0, supers_h = 0;
  // Blocks: joint k's block (by, bx) at k * block_count() + block_index(by, bx); tag ranges by
  // dimension: (k * T + t) * block_count() + block_index(by, bx).
  std::vector<float> det_max, tag_lo, tag_hi;
  // Superblocks (the blocks' bounds combined): joint k's superblock s = sy * supers_w + sx at
  // k * super_count() + s; tag ranges at (k * T + t) * super_count() + s.
  std::vector<float> super_det_max, super_tag_lo, super_tag_hi;

  std::int64_t super_count() const { return supers_w * supers_h; }
  std::int64_t block_count() const { return super_count() * kBlocksPerSuper; }
  std::int64_t block_index(std::int64_t by, std::int64_t bx) const {
    return ((by / kSuper) * supers_w + bx / kSuper) * kBlocksPerSuper + (by % kSuper) * kSuper + bx % kSuper;
  }
  // Sizes for (J, H, W, T) maps and every bound empty (reuses the buffers).
  void reset(std::int64_t joints, std::int64_t h, std::int64_t w, std::int64_t t);
  // The bounds of every block in block row `by` (map rows 8 * by .. 8 * by + 7) of `maps`, which
  // must have this summary's sizes (after reset). Rows can be added as soon as they are written.
  void add_block_row(const PoseMaps& maps, std::int64_t by);
  // The superblock bounds from the block bounds (after every block row is added).
  void finish_superblocks();
};

// The summary of `maps` (ignores maps.summary): reset, every block row, finish_superblocks.
// Throws ShapeError for inconsistent sizes.
void summarize(const PoseMaps& maps, MapSummary& out);

struct GroupedPoses {
  Tensor<float, CPU> persons;  // (P, J, 3 + T); P may be 0
  std::vector<float> scores;   // P
  std::int64_t num_people() const { return persons.rank() == 3 ? persons.shape()[0] : 0; }
};

// The parser keeps its scratch buffers between calls: once warm, a call allocates only its result.
// Not thread-safe: use one per thread.
class HeatmapParser {
 public:
  explicit HeatmapParser(GroupParams params = {});
  const GroupParams& params() const { return p_; }

  // Throws ShapeError for inconsistent sizes (J must equal params.num_joints; a summary must be of
  // the maps' sizes), ValueError for non-finite candidates.
  GroupedPoses parse(const PoseMaps& maps);

  // One joint's candidates after NMS + top-k + detection threshold, in top-k order (for tests).
  struct Candidate {
    std::int64_t x = 0, y = 0;
    float val = 0;
  };
  std::vector<std::vector<Candidate>> candidates(const PoseMaps& maps);

 private:
  const MapSummary& check(const PoseMaps& m);  // the maps' summary (own_summary_ when they have none)
  void find_candidates(const PoseMaps& m, const MapSummary& s);
  void match(const PoseMaps& m);
  void adjust(const PoseMaps& m);
  void refine(const PoseMaps& m, const MapSummary& s);

  GroupParams p_;
  std::vector<std::int64_t> order_;
  MapSummary own_summary_;
  // candidates per joint (val, flat index), sorted
  std::vector<std::vector<std::pair<float, std::int64_t>>> cand_;
  // persons: J * (3 + T) floats each, the running float32 tag sum and count, the dict key
  std::vector<float> joints_;
  std::vector<float> tag_sum_;
  std::vector<std::int64_t> tag_count_;
  std::vector<float> keys_;
  std::int64_t people_ = 0;
  // matching scratch
  std::vector<double> cost_, dist_;
  std::vector<float> mean_tags_;
  Munkres munkres_;
  // refine scratch: per person mean tags; per superblock of the joint being refined, its bound for
  // the person and the flat index of its top-left pixel; the superblocks one person visits
  std::vector<float> prev_tags_;
  std::vector<unsigned char> prev_ready_;
  std::vector<std::pair<float, std::int64_t>> super_order_;  // (heatmap maximum, superblock), decreasing
  std::vector<float> sorted_max_, sorted_lo_, sorted_hi_;      // in that order (tag ranges by dimension)
  std::vector<float> super_ub_;
  // the joint's seeds: its peaks and the pixels its searches chose so far, gathered
  std::vector<std::int64_t> seed_idx_;
  std::vector<float> seed_det_, seed_tag_, seed_score_;
  // ranges of the quarters of the joint's full blocks read so far (20 floats each; slot per block)
  std::vector<std::int32_t> quarter_slot_;
  std::vector<float> quarters_;
  std::vector<std::int64_t> super_first_;
  std::vector<std::pair<float, std::int64_t>> super_list_;
};

// One-shot convenience: HeatmapParser(params).parse(maps).
GroupedPoses group_poses(const PoseMaps& maps, const GroupParams& params = {});

}  // namespace hrnet::pose

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
// Speed (the results are those of the exhaustive computation, bit for bit): NMS runs its 5x5 test
// only on pixels above the detection threshold that pass a 4-neighbour test; refine's map-wide
// arg-max, the hot loop, is a branch-and-bound search: it starts from the joint's NMS peaks and
// skips every 32x32 superblock and 8x8 block whose heatmap maximum, minus the rounded distance from
// the person's tag to the region's tag range, cannot beat the best score so far (tag ranges are
// computed once per joint, on demand; block summaries are stored superblock by superblock, so one
// superblock's 16 block bounds come from contiguous memory). Worst case (tags without spatial
// coherence) is the full scan. At 512x512 the pass over all det and tag maps (about 53 MB for 17
// joints with T = 2) is a large part of the time: it is memory-bound.
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

// A non-owning view of one image's maps (layouts above).
struct PoseMaps {
  std::span<const float> heatmaps;  // J * H * W
  std::span<const float> tags;      // J * H * W * T
  std::int64_t num_joints = 0, height = 0, width = 0, tag_dim = 0;
};

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

  // Throws ShapeError for inconsistent sizes (J must equal params.num_joints), ValueError for
  // non-finite candidates.
  GroupedPoses parse(const PoseMaps& maps);

  // One joint's candidates after NMS + top-k + detection threshold, in top-k order (for tests).
  struct Candidate {
    std::int64_t x = 0, y = 0;
    float val = 0;
  };
  std::vector<std::vector<Candidate>> candidates(const PoseMaps& maps);

 private:
  void check(const PoseMaps& m) const;
  void find_candidates(const PoseMaps& m);
  void match(const PoseMaps& m);
  void adjust(const PoseMaps& m);
  void refine(const PoseMaps& m);
  void prepare_blocks(const PoseMaps& m, std::int64_t k);  // for the joint being refined
  void prepare_strip(const PoseMaps& m, std::int64_t k, std::int64_t sy);
  // position of 8x8 block (by, bx) in the superblock-major block arrays: superblock, then
  // row-major inside it (4x4 blocks per superblock)
  std::int64_t sblock_index(std::int64_t by, std::int64_t bx) const {
    return ((by / 4) * sw_ + bx / 4) * 16 + (by % 4) * 4 + bx % 4;
  }

  GroupParams p_;
  std::vector<std::int64_t> order_;
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
  // refine scratch: per person mean tags; for the joint being refined, 8x8 block and 32x32
  // superblock heatmap maxima and (lazily) tag ranges; the superblocks one person visits
  std::vector<float> prev_tags_;
  std::vector<unsigned char> prev_ready_;
  std::int64_t bw_ = 0, bh_ = 0, sw_ = 0, sh_ = 0;
  // (tag ranges stored by dimension: lo[t * count + region], for four-at-a-time bounds)
  std::vector<float> all_block_max_;  // every joint's, from find_candidates
  std::vector<float> sblock_max_;  // the joint being refined's, by superblock (sblock_index)
  std::vector<float> block_tag_lo_, block_tag_hi_;
  std::vector<float> super_max_, super_tag_lo_, super_tag_hi_, super_ub_;
  std::vector<unsigned char> super_empty_;
  std::vector<std::int64_t> super_first_;
  std::vector<unsigned char> strip_ready_;
  std::int64_t strips_left_ = 0;
  std::vector<std::pair<float, std::int64_t>> super_list_;
};

// One-shot convenience: HeatmapParser(params).parse(maps).
GroupedPoses group_poses(const PoseMaps& maps, const GroupParams& params = {});

}  // namespace hrnet::pose

// COCO keypoint results JSON through coco_eval's loader and the whole evaluation against a small
// fixed ground truth (on every image, and on a subset of image ids).
#include "coco_eval_fixed.hpp"
#include "fuzz_util.hpp"
#include "hrnet/eval/coco_eval.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hrnet;
  static const eval::CocoGroundTruth gt = [] {
    const std::string text = fuzz::fixed_ground_truth();
    return eval::load_ground_truth(
        fuzz::write_input("gt.json", reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  }();
  const auto path = fuzz::write_input("results.json", data, size);
  fuzz::expect_clean([&] {
    const std::vector<eval::KeypointResult> results = eval::load_results(path);
    const eval::KeypointEvaluation e = eval::evaluate_keypoints_full(gt, results);
    (void)eval::format_stats(e.stats);
    for (double s : e.stats) HRNET_FUZZ_ASSERT(s == -1 || (s >= 0 && s <= 1));
    const std::vector<std::int64_t> one{2};
    (void)eval::evaluate_keypoints(gt, results, one);
  });
  return 0;
}

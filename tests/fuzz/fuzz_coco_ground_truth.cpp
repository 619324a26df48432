// A COCO keypoint ground-truth JSON through coco_eval's loader and the evaluation of two fixed
// detections against it.
#include "coco_eval_fixed.hpp"
#include "fuzz_util.hpp"
#include "hrnet/eval/coco_eval.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hrnet;
  static const std::vector<eval::KeypointResult> results = [] {
    const std::string text = fuzz::fixed_results();
    return eval::load_results(
        fuzz::write_input("fixed_results.json", reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  }();
  const auto path = fuzz::write_input("gt.json", data, size);
  fuzz::expect_clean([&] {
    const eval::CocoGroundTruth gt = eval::load_ground_truth(path);
    const eval::KeypointEvaluation e = eval::evaluate_keypoints_full(gt, results);
    (void)eval::format_stats(e.stats);
    for (double s : e.stats) HRNET_FUZZ_ASSERT(s == -1 || (s >= 0 && s <= 1));
  });
  return 0;
}

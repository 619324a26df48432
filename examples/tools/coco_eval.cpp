// coco_eval: COCO keypoint evaluation of a results file, as pycocotools' COCOeval prints it.
//   coco_eval --gt person_keypoints_val2017.json --dt results.json [--json stats.json] [--images 1,2]
// Exit status: 0 done, 1 bad file or content, 2 bad arguments.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "hrnet/core/error.hpp"
#include "hrnet/eval/coco_eval.hpp"

namespace {

const char* kUsage =
    "usage: coco_eval --gt ANNOTATIONS.json --dt RESULTS.json [--json OUT.json] [--images ID[,ID...]]\n"
    "\n"
    "COCO keypoint evaluation with the semantics of pycocotools' COCOeval(iouType='keypoints'): OKS\n"
    "with the 17 COCO sigmas, maxDets 20, area ranges all/medium/large. Prints the ten summary lines.\n"
    "\n"
    "  --gt FILE       ground truth, COCO person_keypoints_*.json\n"
    "  --dt FILE       results: a JSON array of {image_id, category_id, keypoints[51], score[, bbox]}\n"
    "  --json FILE     also write the ten stats, by name, to FILE\n"
    "  --images LIST   evaluate only these image ids (comma-separated); default: every gt image\n"
    "  -h, --help      this help\n";

struct UsageError {
  std::string message;
};

std::vector<std::int64_t> parse_ids(const std::string& s) {
  std::vector<std::int64_t> ids;
  std::size_t p = 0;
  while (p <= s.size()) {
    const std::size_t q = std::min(s.find(',', p), s.size());
    const std::string tok = s.substr(p, q - p);
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(tok, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (tok.empty() || used != tok.size()) throw UsageError{"--images: \"" + tok + "\" is not an image id"};
    ids.push_back(v);
    p = q + 1;
  }
  return ids;
}

}  // namespace

int main(int argc, char** argv) {
  std::string gt_file, dt_file, json_file;
  std::optional<std::vector<std::int64_t>> images;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i], value;
      if (arg == "-h" || arg == "--help") {
        std::cout << kUsage;
        return 0;
      }
      const std::size_t eq = arg.find('=');
      const bool inline_value = arg.rfind("--", 0) == 0 && eq != std::string::npos;
      if (inline_value) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
      }
      if (arg != "--gt" && arg != "--dt" && arg != "--json" && arg != "--images")
        throw UsageError{"unknown argument \"" + std::string(argv[i]) + "\""};
      if (!inline_value) {
        if (i + 1 >= argc) throw UsageError{arg + " needs a value"};
        value = argv[++i];
      }
      if (value.empty()) throw UsageError{arg + " needs a non-empty value"};
      if (arg == "--gt") gt_file = value;
      else if (arg == "--dt") dt_file = value;
      else if (arg == "--json") json_file = value;
      else images = parse_ids(value);
    }
    if (gt_file.empty()) throw UsageError{"missing --gt"};
    if (dt_file.empty()) throw UsageError{"missing --dt"};
  } catch (const UsageError& e) {
    std::cerr << "coco_eval: error: " << e.message << "\n\n" << kUsage;
    return 2;
  }

  try {
    using namespace hrnet::eval;
    const CocoGroundTruth gt = load_ground_truth(gt_file);
    const std::vector<KeypointResult> results = load_results(dt_file);
    KeypointEvaluation ev;
    try {
      ev = evaluate_keypoints_full(gt, results, images);
    } catch (const hrnet::ValueError& e) {
      // the library names the result index; say which file it came from
      throw hrnet::ValueError(dt_file + ": " + e.what());
    }
    std::cout << format_stats(ev.stats) << std::flush;
    if (!json_file.empty()) write_stats_json(json_file, ev.stats);
  } catch (const hrnet::Error& e) {
    std::cerr << "coco_eval: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "coco_eval: unexpected error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

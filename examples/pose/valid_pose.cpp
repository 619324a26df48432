// valid_pose: HigherHRNet validation on a COCO-layout split, as the official tools/valid.py:
// runs every image (flip test and scales from the config unless overridden), writes the COCO
// results JSON and prints the ten COCO keypoint numbers.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>

#include "cli.hpp"
#include "hrnet/pose/estimator.hpp"

using namespace hrnet;

namespace {
void usage() {
  std::puts(
      "usage: valid_pose --cfg FILE --datadir DIR --weights W.safetensors [--no_flip] [--scales 0.5,1,2]\n"
      "                  [--device cpu|cuda] [--split NAME] [--results FILE.json] [--json STATS.json]\n"
      "                  [--max_images N]\n"
      "Runs HigherHRNet over DIR/annotations/person_keypoints_<split>.json (default split: DATASET.TEST)\n"
      "and evaluates with COCO keypoint semantics (OKS, maxDets 20).\n"
      "  --weights     weights with the official names, or a train_pose checkpoint\n"
      "  --no_flip     no flip test (default: TEST.FLIP_TEST)\n"
      "  --scales      test scales (default: TEST.SCALE_FACTOR); scale 1 must be among several\n"
      "  --results     the COCO results JSON (default: keypoints_<split>_results.json next to the weights)\n"
      "  --json        also write the ten numbers as JSON\n"
      "  --max_images  only the first N images (evaluated on those)\n"
      "  --device      where the network runs: cpu (default) or cuda (a CUDA build and a GPU);\n"
      "                decoding and grouping run on the CPU either way\n"
      "Options may also be spelt in kebab-case (--max-images).");
}

std::vector<double> parse_scales(const std::string& s) {
  std::vector<double> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || !(v > 0)) throw ValueError("--scales: '" + item + "' is not a positive number");
    out.push_back(v);
  }
  if (out.empty()) throw ValueError("--scales needs at least one value");
  return out;
}
}  // namespace

int main(int argc, char** argv) try {
  std::string cfg_path, datadir, weights, device = "cpu", split, results, stats_json, scales;
  bool no_flip = false;
  std::optional<std::int64_t> max_images;
  cli::Args args(argc, argv);
  while (args.next()) {
    const std::string& a = args.key();
    if (a == "--help" || a == "-h") return usage(), 0;
    if (a == "--cfg") cfg_path = args.value();
    else if (a == "--datadir") datadir = args.value();
    else if (a == "--weights") weights = args.value();
    else if (a == "--device") device = args.value();
    else if (a == "--split") split = args.value();
    else if (a == "--results") results = args.value();
    else if (a == "--json") stats_json = args.value();
    else if (a == "--scales") scales = args.value();
    else if (a == "--no_flip") no_flip = args.flag();
    else if (a == "--max_images") max_images = args.integer(1);
    else args.unknown();
  }
  if (cfg_path.empty() || datadir.empty() || weights.empty())
    throw ValueError("--cfg, --datadir and --weights are required (see --help)");
  if (device != "cpu" && device != "cuda") throw ValueError("--device must be cpu or cuda, got '" + device + "'");
  setenv("OMP_WAIT_POLICY", "PASSIVE", 0);

  const auto cfg = models::load_experiment_config(cfg_path);
  pose::PoseEstimator est(cfg, weights, device == "cuda" ? pose::InferenceDevice::Cuda : pose::InferenceDevice::Cpu);
  if (no_flip) est.options().flip = false;
  if (!scales.empty()) est.options().scales = parse_scales(scales);
  if (split.empty()) split = cfg.get_string("DATASET.TEST");
  if (results.empty())
    results = (std::filesystem::path(weights).parent_path() / ("keypoints_" + split + "_results.json")).string();
  std::printf("=> %s on %s/%s, flip test %s, scales", weights.c_str(), datadir.c_str(), split.c_str(),
              est.options().flip ? "on" : "off");
  for (double s : est.options().scales) std::printf(" %g", s);
  std::printf("\n");
  std::fflush(stdout);

  pose::ValidationOptions vopt;
  vopt.max_images = max_images;
  vopt.progress = &std::cout;
  vopt.print_every = 20;
  const pose::ValidationResult r = pose::validate_pose(est, datadir, split, vopt);
  eval::write_results_json(results, r.results);
  std::printf("=> %lld images in %.1f s (%.2f images/s), %zu people; results in %s\n",
              static_cast<long long>(r.images), r.seconds, r.images_per_second(), r.results.size(), results.c_str());
  if (r.skipped) std::printf("=> %lld unreadable images skipped\n", static_cast<long long>(r.skipped));
  std::fputs(eval::format_stats(r.stats).c_str(), stdout);
  if (!stats_json.empty()) eval::write_stats_json(stats_json, r.stats);
  return 0;
} catch (const std::exception& e) {
  std::fflush(stdout);
  std::fprintf(stderr, "valid_pose: error: %s\n", e.what());
  return 1;
}

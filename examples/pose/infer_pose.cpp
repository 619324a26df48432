// infer_pose: multi-person pose estimation on one image with a HigherHRNet; draws the skeletons
// over the image (PNG) and writes the keypoints as JSON.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "cli.hpp"
#include "hrnet/pose/estimator.hpp"

using namespace hrnet;

namespace {
void usage() {
  std::puts(
      "usage: infer_pose --cfg FILE --weights W.safetensors --image IN.jpg [--output OUT.png] [--json OUT.json]\n"
      "                  [--no_flip] [--min_score S] [--device cpu|cuda]\n"
      "Detects people and their keypoints (bottom-up: heatmaps + associative-embedding grouping).\n"
      "  --output     the image with each person's skeleton drawn in its own colour (PNG)\n"
      "  --json       [{\"score\": s, \"keypoints\": [[x, y, value], ...]}, ...] in image pixels\n"
      "  --min_score  joints below this heatmap value are not drawn (default 0.1)\n"
      "  --no_flip    no flip test (default: TEST.FLIP_TEST of the config)\n"
      "  --device     where the network runs: cpu (default) or cuda (needs a CUDA build and a GPU)\n"
      "Options may also be spelt in kebab-case (--min-score); --out is accepted for --output.");
}
}  // namespace

int main(int argc, char** argv) try {
  std::string cfg_path, weights, image, out, json, device = "cpu";
  bool no_flip = false;
  float min_score = 0.1f;
  cli::Args args(argc, argv);
  while (args.next()) {
    const std::string& a = args.key();
    if (a == "--help" || a == "-h") return usage(), 0;
    if (a == "--cfg") cfg_path = args.value();
    else if (a == "--weights") weights = args.value();
    else if (a == "--image") image = args.value();
    else if (a == "--output") out = args.value();
    else if (a == "--json") json = args.value();
    else if (a == "--no_flip") no_flip = args.flag();
    else if (a == "--device") device = args.value();
    else if (a == "--min_score") min_score = static_cast<float>(args.number());
    else args.unknown();
  }
  if (cfg_path.empty() || weights.empty() || image.empty())
    throw ValueError("--cfg, --weights and --image are required (see --help)");
  setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
  const auto cfg = models::load_experiment_config(cfg_path);
  if (device != "cpu" && device != "cuda") throw ValueError("--device must be cpu or cuda, got '" + device + "'");
  pose::PoseEstimator est(cfg, weights, device == "cuda" ? pose::InferenceDevice::Cuda : pose::InferenceDevice::Cpu);
  if (no_flip) est.options().flip = false;
  data::Image img = data::read_image(image);
  const auto people = est.estimate(img);
  std::printf("%zu people in %s (%lldx%lld)\n", people.size(), image.c_str(), static_cast<long long>(img.width),
              static_cast<long long>(img.height));
  for (std::size_t i = 0; i < people.size(); ++i) std::printf("  person %zu: score %.3f\n", i, people[i].score);
  if (!json.empty()) {
    const std::string text = pose::poses_to_json(people).dump(1) + "\n";
    data::write_file_atomic(json, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
    std::printf("wrote %s\n", json.c_str());
  }
  if (!out.empty()) {
    pose::draw_poses(img, people, min_score);
    data::write_png(out, img);
    std::printf("wrote %s\n", out.c_str());
  }
  return 0;
} catch (const std::exception& e) {
  std::fflush(stdout);
  std::fprintf(stderr, "infer_pose: error: %s\n", e.what());
  return 1;
}

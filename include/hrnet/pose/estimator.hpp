// Bottom-up pose estimation with a HigherHRNet, for programs that embed the library:
//
//   auto cfg = hrnet::models::load_experiment_config("configs/coco/w32_512_adam_lr1e-3.yaml");
//   hrnet::pose::PoseEstimator est(cfg, "final_state.safetensors");
//   hrnet::data::Image img = hrnet::data::read_image("people.jpg");
//   std::vector<hrnet::pose::PersonPose> people = est.estimate(img);   // keypoints in image pixels
//   hrnet::pose::draw_poses(img, people);                               // skeleton overlay
//
// The test-time settings (flip test, scales, thresholds, NMS, adjust/refine, PROJECT2IMAGE) come
// from the config's TEST and DATASET sections, as the official tools/valid.py reads them; see
// pose/inference.hpp for the pipeline and pose/group.hpp for the grouping.
#pragma once
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hrnet/data/image.hpp"
#include "hrnet/eval/coco_eval.hpp"
#include "hrnet/models/config.hpp"
#include "hrnet/pose/inference.hpp"

// Only declared here: the estimator holds the network by pointer, so this header (included by every
// pose program) does not pull in the model's templates; code that builds or inspects a network
// includes hrnet/models/pose_higher_hrnet.hpp itself.
namespace hrnet::models {
template <FloatType T, Device D>
class PoseHigherResolutionNet;
}  // namespace hrnet::models

namespace hrnet::pose {

using PoseNet = models::PoseHigherResolutionNet<float, CPU>;
using CudaPoseNet = models::PoseHigherResolutionNet<float, CUDA>;

// Where the network runs; decoding (aggregation, grouping, refine) runs on the CPU either way.
enum class InferenceDevice { Cpu, Cuda };

// TEST.* / DATASET.* of an experiment file as inference options (WITH_HEATMAPS and WITH_AE are
// combined with the LOSS flags, as the official code does).
InferenceOptions inference_options(const models::ExperimentConfig& cfg);

class PoseEstimator {
 public:
  // Builds the network of `cfg` and loads `weights` (a weights file with the official names, or a
  // train_pose checkpoint); strict, errors name the offending keys.
  // With InferenceDevice::Cuda the network runs on the current GPU (a CUDA build and a visible
  // device are required; otherwise CudaError says which is missing).
  PoseEstimator(const models::ExperimentConfig& cfg, const std::filesystem::path& weights,
                InferenceDevice device = InferenceDevice::Cpu);
  // Runs a network someone else owns (e.g. the trainer's), which must outlive the estimator. The
  // network is switched to eval mode for each call and restored afterwards.
  PoseEstimator(PoseNet& net, InferenceOptions opts);
#ifdef HRNET_WITH_CUDA
  PoseEstimator(CudaPoseNet& net, InferenceOptions opts);
#endif
  ~PoseEstimator();
  PoseEstimator(PoseEstimator&&) noexcept;
  PoseEstimator& operator=(PoseEstimator&&) noexcept;

  // Not thread-safe (it switches the network's mode and keeps the maps' buffers between calls):
  // use one estimator per thread.
  std::vector<PersonPose> estimate(const data::Image& img) const;
  InferenceOptions& options() { return opts_; }
  const InferenceOptions& options() const { return opts_; }
  InferenceDevice device() const;
  // The CPU network (throws ValueError for an estimator running on CUDA).
  PoseNet& network() const;

 private:
  std::unique_ptr<PoseNet> owned_;
  PoseNet* net_ = nullptr;
#ifdef HRNET_WITH_CUDA  // a CUDA model type cannot even be destroyed in a build without CUDA kernels
  std::unique_ptr<CudaPoseNet> cuda_owned_;
  CudaPoseNet* cuda_net_ = nullptr;
#endif
  InferenceOptions opts_;
  mutable std::unique_ptr<InferenceMaps> workspace_;  // estimate's maps, reused from image to image
};

// COCO results for one image (category 1, keypoints x, y, value; score = the person score; bbox =
// keypoint extent).
std::vector<eval::KeypointResult> coco_results(std::int64_t image_id, const std::vector<PersonPose>& people);

// [{"score": s, "keypoints": [[x, y, v], ...]}, ...]
nlohmann::json poses_to_json(const std::vector<PersonPose>& people);

// Draws every person's skeleton (COCO limbs, one colour per person) over the image; joints with a
// value below min_score are left out.
void draw_poses(data::Image& img, const std::vector<PersonPose>& people, float min_score = 0.1f);

// Runs the estimator over a COCO-layout split (root/annotations/person_keypoints_<split>.json, every
// image of the file, as the official test set) and evaluates the results with COCOeval's semantics.
struct ValidationOptions {
  std::optional<std::int64_t> max_images;  // the first N images only (evaluated on those)
  std::ostream* progress = nullptr;         // a progress line with images/s every `print_every`
  std::int64_t print_every = 50;
};
struct ValidationResult {
  std::vector<eval::KeypointResult> results;
  eval::Stats stats{};
  std::int64_t images = 0, skipped = 0;  // skipped: unreadable images (warned on `progress`)
  double seconds = 0;
  double images_per_second() const { return seconds > 0 ? double(images) / seconds : 0; }
};
ValidationResult validate_pose(const PoseEstimator& est, const std::filesystem::path& root, const std::string& split,
                               const ValidationOptions& opts = {});

}  // namespace hrnet::pose

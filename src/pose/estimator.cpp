// PoseEstimator, COCO results and validation (see hrnet/pose/estimator.hpp).
#include "hrnet/pose/estimator.hpp"

#include "hrnet/models/pose_higher_hrnet.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <ostream>

#include "hrnet/autograd/tape.hpp"
#include "hrnet/data/coco.hpp"
#include "hrnet/data/draw.hpp"
#include "hrnet/train/checkpoint.hpp"

namespace hrnet::pose {

InferenceOptions inference_options(const models::ExperimentConfig& cfg) {
  HRNET_CHECK(cfg.family() == models::ConfigFamily::Pose, models::ConfigError,
              cfg.path().string() << ": pose inference needs a pose config (MODEL.NAME pose_higher_hrnet)");
  InferenceOptions o;
  o.input_size = cfg.get_int("DATASET.INPUT_SIZE");
  o.scales = cfg.get_double_list("TEST.SCALE_FACTOR");
  o.flip = cfg.get_bool("TEST.FLIP_TEST");
  const std::int64_t J = cfg.get_int("DATASET.NUM_JOINTS");
  const std::string ds = cfg.get_string("DATASET.DATASET");
  if (ds.rfind("crowd_pose", 0) == 0) o.flip_index.assign(data::kCrowdPoseFlipIndex.begin(), data::kCrowdPoseFlipIndex.end());
  else o.flip_index.assign(data::kCocoFlipIndex.begin(), data::kCocoFlipIndex.end());
  HRNET_CHECK(static_cast<std::int64_t>(o.flip_index.size()) == J, models::ConfigError,
              cfg.path().string() << ": DATASET.NUM_JOINTS " << J << " does not match the flip index of '" << ds << "'");
  o.project_to_image = cfg.get_bool("TEST.PROJECT2IMAGE");
  const auto test_hm = cfg.get_bool_list("TEST.WITH_HEATMAPS"), test_ae = cfg.get_bool_list("TEST.WITH_AE");
  const auto loss_hm = cfg.get_bool_list("LOSS.WITH_HEATMAPS_LOSS"), loss_ae = cfg.get_bool_list("LOSS.WITH_AE_LOSS");
  const std::size_t outputs = static_cast<std::size_t>(cfg.get_int("LOSS.NUM_STAGES"));
  HRNET_CHECK(test_hm.size() >= outputs && test_ae.size() >= outputs && loss_hm.size() >= outputs && loss_ae.size() >= outputs,
              models::ConfigError,
              cfg.path().string() << ": TEST.WITH_HEATMAPS / TEST.WITH_AE / LOSS.WITH_* need " << outputs
                                  << " entries (LOSS.NUM_STAGES)");
  o.with_heatmaps.assign(outputs, false);
  o.with_ae.assign(outputs, false);
  for (std::size_t i = 0; i < outputs; ++i) {
    o.with_heatmaps[i] = test_hm[i] && loss_hm[i];
    o.with_ae[i] = test_ae[i] && loss_ae[i];
  }
  GroupParams& g = o.group;
  g.num_joints = J;
  g.max_num_people = cfg.get_int("DATASET.MAX_NUM_PEOPLE");
  g.detection_threshold = cfg.get_double("TEST.DETECTION_THRESHOLD");
  g.tag_threshold = cfg.get_double("TEST.TAG_THRESHOLD");
  g.use_detection_val = cfg.get_bool("TEST.USE_DETECTION_VAL");
  g.ignore_too_much = cfg.get_bool("TEST.IGNORE_TOO_MUCH");
  g.nms_kernel = cfg.get_int("TEST.NMS_KERNEL");
  g.nms_padding = cfg.get_int("TEST.NMS_PADDING");
  g.adjust = cfg.get_bool("TEST.ADJUST");
  g.refine = cfg.get_bool("TEST.REFINE");
  // The official parser's joint order is COCO's; other joint sets are matched in index order.
  if (J != 17) g.joint_order.clear();
  return o;
}

PoseEstimator::PoseEstimator(const models::ExperimentConfig& cfg, const std::filesystem::path& weights,
                             InferenceDevice device)
    : opts_(inference_options(cfg)) {
  if (device == InferenceDevice::Cpu) {
    owned_ = std::make_unique<PoseNet>(models::pose_net_config(cfg));
    net_ = owned_.get();
    train::load_weights(*owned_, weights);
    return;
  }
#ifdef HRNET_WITH_CUDA
  HRNET_CHECK(cuda::device_count() > 0, CudaError, "PoseEstimator: no CUDA device is visible on this machine");
  cuda_owned_ = std::make_unique<CudaPoseNet>(models::pose_net_config(cfg));
  cuda_net_ = cuda_owned_.get();
  train::load_weights(*cuda_net_, weights);
#else
  HRNET_THROW(CudaError, "PoseEstimator: this hrnet library was built without CUDA (HRNET_WITH_CUDA=OFF)");
#endif
}
PoseEstimator::PoseEstimator(PoseNet& net, InferenceOptions opts) : net_(&net), opts_(std::move(opts)) {}
#ifdef HRNET_WITH_CUDA
PoseEstimator::PoseEstimator(CudaPoseNet& net, InferenceOptions opts) : cuda_net_(&net), opts_(std::move(opts)) {}
#endif
InferenceDevice PoseEstimator::device() const {
#ifdef HRNET_WITH_CUDA
  if (cuda_net_) return InferenceDevice::Cuda;
#endif
  return InferenceDevice::Cpu;
}
PoseEstimator::~PoseEstimator() = default;
PoseEstimator::PoseEstimator(PoseEstimator&&) noexcept = default;
PoseEstimator& PoseEstimator::operator=(PoseEstimator&&) noexcept = default;

PoseNet& PoseEstimator::network() const {
  HRNET_CHECK(net_, ValueError, "PoseEstimator::network: this estimator runs its network on CUDA");
  return *net_;
}

namespace {
// Eval mode and no gradients for one call, restoring the network's mode afterwards.
template <class Net>
std::vector<PersonPose> run_estimate(Net& net, const data::Image& img, const InferenceOptions& opts,
                                     InferenceMaps* workspace) {
  using D = typename Net::device_type;
  const bool was_training = net.is_training();
  net.eval();
  struct Restore {
    Net& n;
    bool t;
    ~Restore() { n.train(t); }
  } restore{net, was_training};
  autograd::NoGradGuard no_grad;
  const PoseModel model = [&net](const Tensor<float, CPU>& x) {
    std::vector<Tensor<float, CPU>> outs;
    if constexpr (is_cpu<D>) {
      for (auto& v : net.forward(Var<float, CPU>(x, false))) outs.push_back(v.value());
    } else {
      for (auto& v : net.forward(Var<float, D>(to_cuda(x), false))) outs.push_back(to_cpu(v.value()));
    }
    return outs;
  };
  return estimate_poses(img.pixels, img.height, img.width, model, opts, workspace);
}
}  // namespace

std::vector<PersonPose> PoseEstimator::estimate(const data::Image& img) const {
  if (!workspace_) workspace_ = std::make_unique<InferenceMaps>();
#ifdef HRNET_WITH_CUDA
  if (cuda_net_) return run_estimate(*cuda_net_, img, opts_, workspace_.get());
#endif
  return run_estimate(*net_, img, opts_, workspace_.get());
}

std::vector<eval::KeypointResult> coco_results(std::int64_t image_id, const std::vector<PersonPose>& people) {
  std::vector<eval::KeypointResult> out;
  for (const PersonPose& p : people) {
    eval::KeypointResult r;
    r.image_id = image_id;
    r.category_id = 1;
    r.score = static_cast<double>(p.score);
    double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
    for (const auto& k : p.keypoints) {
      for (float v : k) r.keypoints.push_back(static_cast<double>(v));
      x0 = std::min(x0, double(k[0]));
      y0 = std::min(y0, double(k[1]));
      x1 = std::max(x1, double(k[0]));
      y1 = std::max(y1, double(k[1]));
    }
    if (!p.keypoints.empty()) r.bbox = std::array<double, 4>{x0, y0, x1 - x0, y1 - y0};
    out.push_back(std::move(r));
  }
  return out;
}

nlohmann::json poses_to_json(const std::vector<PersonPose>& people) {
  nlohmann::json arr = nlohmann::json::array();
  for (const PersonPose& p : people) {
    nlohmann::json kps = nlohmann::json::array();
    for (const auto& k : p.keypoints) kps.push_back({k[0], k[1], k[2]});
    arr.push_back({{"score", p.score}, {"keypoints", kps}});
  }
  return arr;
}

void draw_poses(data::Image& img, const std::vector<PersonPose>& people, float min_score) {
  const int thickness = static_cast<int>(std::max<std::int64_t>(2, std::min(img.height, img.width) / 160));
  for (std::size_t i = 0; i < people.size(); ++i) {
    std::vector<float> flat;
    for (const auto& k : people[i].keypoints) flat.insert(flat.end(), k.begin(), k.end());
    if (people[i].keypoints.size() == 17) {  // the COCO skeleton; other joint sets as points
      data::draw_skeleton(img, flat, data::person_color(static_cast<int>(i)), min_score, thickness);
    } else {
      for (const auto& k : people[i].keypoints)
        if (k[2] >= min_score) data::fill_circle(img, k[0], k[1], thickness + 1.0, data::person_color(static_cast<int>(i)));
    }
  }
}

ValidationResult validate_pose(const PoseEstimator& est, const std::filesystem::path& root, const std::string& split,
                               const ValidationOptions& opts) {
  using Clock = std::chrono::steady_clock;
  data::CocoKeypoints::Options dopt;
  dopt.remove_images_without_annotations = false;  // the official test set: every image of the file
  dopt.num_joints = static_cast<int>(est.options().group.num_joints);
  const data::CocoKeypoints ds(root, split, dopt);
  const eval::CocoGroundTruth gt = eval::load_ground_truth(ds.annotation_file());
  std::int64_t n = static_cast<std::int64_t>(ds.size());
  if (opts.max_images) n = std::min(n, *opts.max_images);
  HRNET_CHECK(n > 0, IoError, ds.annotation_file().string() << ": no images to validate on");
  ValidationResult r;
  std::vector<std::int64_t> ids;
  const auto t0 = Clock::now();
  for (std::int64_t i = 0; i < n; ++i) {
    const data::CocoImage& info = ds.image(static_cast<std::size_t>(i));
    ids.push_back(info.id);
    try {
      const data::Image img = data::read_image(info.path);
      for (auto& res : coco_results(info.id, est.estimate(img))) r.results.push_back(std::move(res));
    } catch (const data::ImageError& e) {
      ++r.skipped;
      if (opts.progress) *opts.progress << "warning: skipping " << info.path.string() << ": " << e.what() << "\n";
    }
    ++r.images;
    r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (opts.progress && ((i + 1) % opts.print_every == 0 || i + 1 == n)) {
      const double ips = r.images_per_second();
      *opts.progress << "Test [" << (i + 1) << "/" << n << "] " << std::fixed << std::setprecision(2) << ips
                     << " images/s, ETA " << std::setprecision(0) << (ips > 0 ? double(n - i - 1) / ips : 0.0) << " s, "
                     << r.results.size() << " people" << std::defaultfloat << std::endl;
    }
  }
  r.stats = eval::evaluate_keypoints(gt, r.results, ids);
  return r;
}

}  // namespace hrnet::pose

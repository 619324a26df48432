// HigherHRNet training as a task of the engine (hrnet/pose/train_task.hpp) and the train_pose entry
// point (hrnet/pose/train_pose.hpp).
#include "hrnet/pose/train_pose.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

#include "hrnet/backend/device_choice.hpp"
#include "hrnet/data/coco.hpp"
#include "hrnet/data/image.hpp"
#include "hrnet/models/pose_higher_hrnet.hpp"
#include "hrnet/ops/ops.hpp"
#include "hrnet/pose/ae_loss.hpp"
#include "hrnet/pose/estimator.hpp"
#include "hrnet/pose/train_task.hpp"
#include "hrnet/train/engine.hpp"

namespace hrnet::pose {
namespace {

namespace fs = std::filesystem;
using T = float;

// The loss terms of one step, in the order they enter weighted_mean_sum, and which resolutions
// have which (read once from LOSS.*).
struct LossTerms {
  std::vector<std::string> names;  // e.g. heatmaps_128, push_128, pull_128, heatmaps_256
  std::vector<double> weights;
  std::vector<bool> with_heatmaps, with_ae;  // per resolution
};

LossTerms loss_terms(const models::ExperimentConfig& cfg, const std::vector<std::int64_t>& sizes) {
  const int stages = cfg.get_int("LOSS.NUM_STAGES");
  const auto with_hm = cfg.get_bool_list("LOSS.WITH_HEATMAPS_LOSS");
  const auto hm_factor = cfg.get_double_list("LOSS.HEATMAPS_LOSS_FACTOR");
  const auto with_ae = cfg.get_bool_list("LOSS.WITH_AE_LOSS");
  const auto push = cfg.get_double_list("LOSS.PUSH_LOSS_FACTOR");
  const auto pull = cfg.get_double_list("LOSS.PULL_LOSS_FACTOR");
  auto need = [&](std::size_t n, const char* key) {
    HRNET_CHECK(n >= static_cast<std::size_t>(stages), models::ConfigError,
                cfg.path().string() << ": " << key << " has " << n << " entries for LOSS.NUM_STAGES " << stages);
  };
  need(with_hm.size(), "LOSS.WITH_HEATMAPS_LOSS");
  need(hm_factor.size(), "LOSS.HEATMAPS_LOSS_FACTOR");
  need(with_ae.size(), "LOSS.WITH_AE_LOSS");
  need(push.size(), "LOSS.PUSH_LOSS_FACTOR");
  need(pull.size(), "LOSS.PULL_LOSS_FACTOR");
  HRNET_CHECK(static_cast<std::size_t>(stages) == sizes.size(), models::ConfigError,
              cfg.path().string() << ": LOSS.NUM_STAGES " << stages << " but DATASET.OUTPUT_SIZE has " << sizes.size()
                                  << " sizes");
  LossTerms t;
  t.with_heatmaps.assign(with_hm.begin(), with_hm.begin() + stages);
  t.with_ae.assign(with_ae.begin(), with_ae.begin() + stages);
  for (int i = 0; i < stages; ++i) {
    const std::string r = std::to_string(sizes[static_cast<std::size_t>(i)]);
    if (with_hm[static_cast<std::size_t>(i)]) {
      t.names.push_back("heatmaps_" + r);
      t.weights.push_back(hm_factor[static_cast<std::size_t>(i)]);
    }
    if (with_ae[static_cast<std::size_t>(i)]) {
      t.names.push_back("push_" + r);
      t.weights.push_back(push[static_cast<std::size_t>(i)]);
      t.names.push_back("pull_" + r);
      t.weights.push_back(pull[static_cast<std::size_t>(i)]);
    }
  }
  return t;
}

data::PoseAugmentation augmentation(const models::ExperimentConfig& cfg) {
  data::PoseAugmentation a;
  a.input_size = cfg.get_int("DATASET.INPUT_SIZE");
  a.output_sizes.clear();
  for (int s : cfg.get_int_list("DATASET.OUTPUT_SIZE")) a.output_sizes.push_back(s);
  a.num_joints = cfg.get_int("DATASET.NUM_JOINTS");
  a.max_people = cfg.get_int("DATASET.MAX_NUM_PEOPLE");
  a.sigma = cfg.get_double("DATASET.SIGMA");
  a.flip_prob = cfg.get_double("DATASET.FLIP");
  const std::string ds = cfg.get_string("DATASET.DATASET");
  if (ds.rfind("crowd_pose", 0) == 0) a.flip_index.assign(data::kCrowdPoseFlipIndex.begin(), data::kCrowdPoseFlipIndex.end());
  else a.flip_index.assign(data::kCocoFlipIndex.begin(), data::kCocoFlipIndex.end());
  HRNET_CHECK(static_cast<std::int64_t>(a.flip_index.size()) == a.num_joints, models::ConfigError,
              cfg.path().string() << ": DATASET.NUM_JOINTS " << a.num_joints << " does not match the " << a.flip_index.size()
                                  << "-joint flip index of DATASET.DATASET '" << ds << "'");
  a.affine.max_rotation = cfg.get_double("DATASET.MAX_ROTATION");
  a.affine.min_scale = cfg.get_double("DATASET.MIN_SCALE");
  a.affine.max_scale = cfg.get_double("DATASET.MAX_SCALE");
  a.affine.scale_type_long = cfg.get_string("DATASET.SCALE_TYPE") == "long";
  a.affine.max_translate = cfg.get_double("DATASET.MAX_TRANSLATE");
  HRNET_CHECK(!cfg.get_bool("DATASET.SCALE_AWARE_SIGMA"), models::ConfigError,
              cfg.path().string() << ": DATASET.SCALE_AWARE_SIGMA true is not supported by this trainer (the official "
                                     "experiments use false)");
  return a;
}

// The official ImageNet initialisation (PRETRAINED when INIT_WEIGHTS and the file exists, keys filtered
// by PRETRAINED_LAYERS); our format is safetensors (convert .pth with convert_pth_to_safetensors.py).
struct PretrainedSpec {
  bool init_weights = false;        // MODEL.INIT_WEIGHTS
  std::string file;                 // MODEL.PRETRAINED
  std::vector<std::string> layers;  // MODEL.EXTRA.PRETRAINED_LAYERS
};

template <class D>
void load_pretrained(const PretrainedSpec& spec, nn::Module<T, D>& model, std::ostream& out) {
  if (!spec.init_weights) return;
  const std::string& file = spec.file;
  if (file.empty()) return;
  fs::path p = file;
  if (p.extension() == ".pth") {
    fs::path alt = p;
    alt.replace_extension(".safetensors");
    if (fs::exists(alt)) p = alt;
  }
  if (!fs::exists(p)) {
    out << "note: MODEL.PRETRAINED " << file << " not found; training from the official random initialisation"
        << (fs::path(file).extension() == ".pth"
                ? " (convert .pth files with examples/tools/convert_pth_to_safetensors.py)"
                : "")
        << "\n";
    return;
  }
  const auto& layers = spec.layers;
  io::SafetensorsFile f = io::read_safetensors(p);
  io::SafetensorsFile keep;
  std::set<std::string> names;
  for (const auto& np : model.named_parameters()) names.insert(np.name);
  for (const auto& nb : model.named_buffers()) names.insert(nb.name);
  for (auto& [k, v] : f.tensors) {
    const std::string first = k.substr(0, k.find('.'));
    const bool wanted = std::find(layers.begin(), layers.end(), "*") != layers.end() ||
                        std::find(layers.begin(), layers.end(), first) != layers.end();
    if (wanted && names.count(k)) keep.tensors[k] = v;
  }
  const nn::LoadReport r = nn::load_state_dict(model, keep, false, p.string());
  HRNET_CHECK(r.mismatched.empty(), StateDictError, p.string() << ": pretrained weights do not fit the model:\n" << r.str());
  out << "loaded " << keep.tensors.size() << " pretrained tensors from " << p.string() << "\n";
}

}  // namespace

template <Device D>
struct PoseTrainTask<D>::Impl {
  using V = Var<T, D>;
  PoseTaskOptions options;
  std::string root, test_split;
  std::shared_ptr<const data::CocoKeypoints> dataset;
  data::PoseAugmentation aug;
  LossTerms terms;
  AeLossType ae_type = AeLossType::Exp;
  PretrainedSpec pretrained;
  InferenceOptions inference;
  models::PoseHigherResolutionNet<T, D> model;

  Impl(const models::ExperimentConfig& c, PoseTaskOptions o)
      : options(o), root(c.get_string("DATASET.ROOT")),
        test_split(c.get_string("DATASET.TEST")), dataset(load_dataset(c)), aug(augmentation(c)),
        terms(loss_terms(c, aug.output_sizes)), ae_type(ae_loss_type(c)),
        pretrained{c.get_bool("MODEL.INIT_WEIGHTS"), c.get_string("MODEL.PRETRAINED"),
                   c.get_string_list("MODEL.EXTRA.PRETRAINED_LAYERS")},
        inference(inference_options(c)), model(models::pose_net_config(c)) {}

  static std::shared_ptr<const data::CocoKeypoints> load_dataset(const models::ExperimentConfig& c) {
    data::CocoKeypoints::Options dopt;
    dopt.num_joints = c.get_int("DATASET.NUM_JOINTS");
    auto ds = std::make_shared<const data::CocoKeypoints>(fs::path(c.get_string("DATASET.ROOT")),
                                                          c.get_string("DATASET.TRAIN"), dopt);
    HRNET_CHECK(ds->size() > 0, IoError, ds->annotation_file().string() << ": no training images (none has an annotation)");
    return ds;
  }
  static AeLossType ae_loss_type(const models::ExperimentConfig& c) {
    const std::string name = c.get_string("LOSS.AE_LOSS_TYPE");
    HRNET_CHECK(name == "exp" || name == "max", models::ConfigError,
                c.path().string() << ": LOSS.AE_LOSS_TYPE must be exp or max, got '" << name << "'");
    return name == "exp" ? AeLossType::Exp : AeLossType::Max;
  }
};

template <Device D>
PoseTrainTask<D>::PoseTrainTask(const models::ExperimentConfig& cfg, PoseTaskOptions options)
    : impl_(std::make_unique<Impl>(cfg, options)) {}
template <Device D>
PoseTrainTask<D>::~PoseTrainTask() = default;

template <Device D>
nn::Module<float, D>& PoseTrainTask<D>::model() {
  return impl_->model;
}
template <Device D>
std::int64_t PoseTrainTask<D>::num_samples() const {
  return static_cast<std::int64_t>(impl_->dataset->size());
}
template <Device D>
std::string PoseTrainTask<D>::describe_data() const {
  return std::to_string(impl_->dataset->size()) + " training images in " + impl_->dataset->image_dir().string();
}
template <Device D>
std::vector<std::string> PoseTrainTask<D>::loss_names() const {
  return impl_->terms.names;
}
template <Device D>
void PoseTrainTask<D>::init_model(Rng& rng, std::ostream& out) {
  impl_->model.init_official(rng);
  load_pretrained(impl_->pretrained, impl_->model, out);
}

template <Device D>
std::optional<data::PoseBatch> PoseTrainTask<D>::load_batch(std::span<const std::int64_t> indices,
                                                            const train::SampleSeeds& seeds,
                                                            std::vector<std::string>& warnings) const {
  const data::CocoKeypoints& dataset = *impl_->dataset;
  std::vector<data::PoseSample> samples;
  std::vector<std::int64_t> ids;
  for (const std::int64_t j : indices) {
    const auto i = static_cast<std::size_t>(j);
    const data::CocoImage& info = dataset.image(i);
    try {
      const data::Image img = data::read_image(info.path);
      std::vector<std::vector<std::array<double, 3>>> people;
      for (const auto* a : dataset.people(i)) people.push_back(a->keypoints);
      Rng rng = seeds.rng_for(j);
      samples.push_back(data::make_pose_sample(img.pixels, img.height, img.width, dataset.loss_mask(i), people, impl_->aug, rng));
      ids.push_back(info.id);
    } catch (const Error& e) {
      // a bad image (or an annotation that does not fit it) is skipped; the run goes on
      std::ostringstream w;
      w << "warning: skipping " << info.path.string() << ": " << e.what();
      warnings.push_back(w.str());
    }
  }
  if (samples.empty()) return std::nullopt;
  return data::collate(samples, ids);
}

template <Device D>
train::StepLoss<D> PoseTrainTask<D>::step_loss(const data::PoseBatch& b) {
  using V = Var<T, D>;
  Impl& m = *impl_;
  auto on_device = [](const auto& t) {
    if constexpr (is_cpu<D>) return t;
    else return to_cuda(t);
  };
  // forward and the official loss (do_train)
  std::vector<V> outs = m.model.forward(V(on_device(b.images), false));
  HRNET_CHECK(outs.size() == m.aug.output_sizes.size(), ShapeError,
              "the model has " << outs.size() << " outputs but DATASET.OUTPUT_SIZE has " << m.aug.output_sizes.size());
  train::StepLoss<D> r;
  for (std::size_t i = 0; i < outs.size(); ++i) {
    const V& o = outs[i];
    HRNET_CHECK(o.shape().h() == m.aug.output_sizes[i], ShapeError,
                "output " << i << " is " << o.shape() << " but DATASET.OUTPUT_SIZE[" << i << "] is " << m.aug.output_sizes[i]);
    const std::int64_t K = m.aug.num_joints;
    if (m.terms.with_heatmaps[i])
      r.terms.push_back(ops::masked_mse(ops::slice_channels(o, 0, K), on_device(b.heatmaps[i]), on_device(b.masks[i])));
    if (m.terms.with_ae[i]) {
      auto ae = ops::ae_loss(ops::slice_channels(o, K, o.shape().c()), on_device(b.joints[i]), m.ae_type);
      r.terms.push_back(ae.push);
      r.terms.push_back(ae.pull);
    }
  }
  r.loss = ops::weighted_mean_sum(r.terms, m.terms.weights);
  return r;
}

template <Device D>
train::ValidationReport PoseTrainTask<D>::validate(std::int64_t epoch) {
  Impl& m = *impl_;
  PoseEstimator est(m.model, m.inference);
  ValidationOptions vopt;
  vopt.max_images = m.options.val_images;
  const ValidationResult vr = validate_pose(est, m.root, m.test_split, vopt);
  train::ValidationReport r;
  r.metric = vr.stats[0];
  std::ostringstream text;
  text << "=> validation after epoch " << epoch << " on " << vr.images << " images of " << m.test_split << " (" << std::fixed
       << std::setprecision(2) << vr.images_per_second() << " images/s):\n"
       << std::defaultfloat << eval::format_stats(vr.stats);
  r.text = text.str();
  for (std::size_t k = 0; k < eval::kNumStats; ++k) r.scalars.emplace_back(std::string("val/") + eval::kStatNames[k], vr.stats[k]);
  return r;
}

template class PoseTrainTask<CPU>;
#ifdef HRNET_WITH_CUDA
template class PoseTrainTask<CUDA>;
#endif

namespace {

// The whole run on device D: the model, its gradients and the optimizer state live there; batches
// are made on the host by the loader threads and uploaded.
template <Device D>
PoseTrainResult train_pose_on(const PoseTrainOptions& opt) {
  std::ostream& out = opt.out ? *opt.out : std::cout;

  models::ExperimentConfig cfg = models::load_experiment_config(opt.cfg);
  HRNET_CHECK(cfg.family() == models::ConfigFamily::Pose, models::ConfigError,
              opt.cfg.string() << ": train_pose needs a pose config (MODEL.NAME pose_higher_hrnet)");
  if (opt.datadir) cfg.set("DATASET.ROOT", opt.datadir->string());
  if (opt.max_epochs) cfg.set("TRAIN.END_EPOCH", std::to_string(*opt.max_epochs));
  if (opt.workers) cfg.set("WORKERS", std::to_string(*opt.workers));
  if (opt.print_freq) cfg.set("PRINT_FREQ", std::to_string(*opt.print_freq));
  if (opt.batch_size) cfg.set("TRAIN.IMAGES_PER_GPU", std::to_string(*opt.batch_size));
  if (cfg.get_bool("FP16.ENABLED"))
    out << "note: " << opt.cfg.string()
        << " sets FP16.ENABLED; training runs in fp32 (mixed precision will be --amp on CUDA)\n";
  HRNET_CHECK(!cfg.get_string("DATASET.ROOT").empty(), models::ConfigError,
              opt.cfg.string() << ": DATASET.ROOT is empty; pass --datadir DIR (a COCO-layout directory)");
  const train::TrainConfig tc = train::train_config(cfg);

  const train::RunDir run = train::open_run_dir(opt.output ? *opt.output : tc.default_output,
                                                {.requested = opt.resume || tc.resume, .automatic = tc.auto_resume,
                                                 .checkpoint = tc.checkpoint});
  out << "=> config " << opt.cfg.string() << " (resolved)\n" << cfg.dump();
  out << "=> output " << run.dir.string() << "\n";

  PoseTrainTask<D> task(cfg, {.val_images = opt.val_images});
  const train::TrainResult r = train::run_training(
      task, tc, run, {.seed = opt.seed, .seed_given = opt.seed_given, .val_every = opt.val_every, .out = &out});
  PoseTrainResult result;
  result.output_dir = r.output_dir;
  result.epochs_completed = r.epochs_completed;
  result.steps = r.steps;
  result.first_epoch_loss = r.first_epoch_loss;
  result.last_epoch_loss = r.last_epoch_loss;
  result.skipped_images = r.skipped_samples;
  result.best_ap = r.best_metric;
  return result;
}

}  // namespace

PoseTrainResult train_pose(const PoseTrainOptions& opt) {
  HRNET_CHECK(!opt.amp, ValueError, "--amp: mixed-precision training on the CUDA backend is not implemented yet; run without --amp");
  HRNET_CHECK(!opt.dist, ValueError, "--dist: multi-GPU data parallel training (CUDA backend + NCCL) is not implemented yet; run without --dist");
  return with_device(opt.device, [&]<Device D>() { return train_pose_on<D>(opt); });
}

}  // namespace hrnet::pose

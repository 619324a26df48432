// The HigherHRNet trainer (see hrnet/train/pose_trainer.hpp).
#include "hrnet/train/pose_trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>

#include "hrnet/autograd/tape.hpp"
#include "hrnet/data/coco.hpp"
#include "hrnet/data/image.hpp"
#include "hrnet/data/loader.hpp"
#include "hrnet/data/pose_sample.hpp"
#include "hrnet/models/config.hpp"
#include "hrnet/models/pose_higher_hrnet.hpp"
#include "hrnet/ops/ops.hpp"
#include "hrnet/optim/adam.hpp"
#include "hrnet/optim/lr_schedule.hpp"
#include "hrnet/optim/sgd.hpp"
#include "hrnet/pose/ae_loss.hpp"
#include "hrnet/pose/estimator.hpp"
#include "hrnet/train/checkpoint.hpp"
#include "hrnet/train/csv_log.hpp"
#include "hrnet/train/event_writer.hpp"

namespace hrnet::train {
namespace {

namespace fs = std::filesystem;
using T = float;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// splitmix64 finaliser: independent streams from (seed, a, b).
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
std::uint64_t stream_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b) { return mix(mix(mix(seed) ^ a) ^ b); }

std::string hms(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const auto t = static_cast<long long>(s + 0.5);
  std::ostringstream o;
  o << t / 3600 << ":" << std::setw(2) << std::setfill('0') << (t / 60) % 60 << ":" << std::setw(2) << t % 60;
  return o.str();
}

// What one loader item carries: the batch (absent when every image of it was unreadable) and the
// warnings about the images it skipped.
struct LoaderItem {
  std::optional<data::PoseBatch> batch;
  std::vector<std::string> warnings;
};

// The loss terms of one step, in the order they enter weighted_mean_sum.
struct LossTerms {
  std::vector<std::string> names;  // e.g. heatmaps_128, push_128, pull_128, heatmaps_256
  std::vector<double> weights;
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
template <class D>
void load_pretrained(const models::ExperimentConfig& cfg, nn::Module<T, D>& model, std::ostream& out) {
  if (!cfg.get_bool("MODEL.INIT_WEIGHTS")) return;
  const std::string file = cfg.get_string("MODEL.PRETRAINED");
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
  const auto layers = cfg.get_string_list("MODEL.EXTRA.PRETRAINED_LAYERS");
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

// The whole run on device D: the model, its gradients and the optimizer state live there; batches
// are made on the host by the loader threads and uploaded.
template <class D>
PoseTrainResult train_pose_on(const PoseTrainOptions& opt) {
  using V = Var<T, D>;
  std::ostream& out = opt.out ? *opt.out : std::cout;
  HRNET_CHECK(!opt.amp, ValueError,
              "--amp: mixed-precision training on the CUDA backend is not implemented yet; run without --amp");
  HRNET_CHECK(!opt.dist, ValueError,
              "--dist: multi-GPU data parallel training (CUDA backend + NCCL) is not implemented yet; run without "
              "--dist");

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

  const std::string root = cfg.get_string("DATASET.ROOT");
  HRNET_CHECK(!root.empty(), models::ConfigError,
              opt.cfg.string() << ": DATASET.ROOT is empty; pass --datadir DIR (a COCO-layout directory)");
  const int end_epoch = cfg.get_int("TRAIN.END_EPOCH");
  const int begin_epoch = cfg.get_int("TRAIN.BEGIN_EPOCH");
  const int batch = cfg.get_int("TRAIN.IMAGES_PER_GPU");
  const int workers = cfg.get_int("WORKERS");
  const int print_freq = std::max(1, cfg.get_int("PRINT_FREQ"));
  HRNET_CHECK(batch > 0, models::ConfigError, opt.cfg.string() << ": TRAIN.IMAGES_PER_GPU must be positive");
  HRNET_CHECK(workers >= 0, models::ConfigError, opt.cfg.string() << ": WORKERS must be >= 0");
  HRNET_CHECK(end_epoch >= begin_epoch, models::ConfigError,
              opt.cfg.string() << ": TRAIN.END_EPOCH " << end_epoch << " is before TRAIN.BEGIN_EPOCH " << begin_epoch);

  const fs::path out_dir = opt.output ? *opt.output
                                      : fs::path(cfg.get_string("OUTPUT_DIR")) / cfg.get_string("DATASET.DATASET") /
                                            cfg.get_string("MODEL.NAME") / opt.cfg.stem();
  fs::create_directories(out_dir);
  const fs::path ckpt_path = out_dir / "checkpoint.safetensors";

  out << "=> config " << opt.cfg.string() << " (resolved)\n" << cfg.dump();
  out << "=> output " << out_dir.string() << "\n";

  // Data
  const std::string split = cfg.get_string("DATASET.TRAIN");
  data::CocoKeypoints::Options dopt;
  dopt.num_joints = cfg.get_int("DATASET.NUM_JOINTS");
  auto dataset = std::make_shared<const data::CocoKeypoints>(fs::path(root), split, dopt);
  HRNET_CHECK(dataset->size() > 0, IoError,
              dataset->annotation_file().string() << ": no training images (none has an annotation)");
  const data::PoseAugmentation aug = augmentation(cfg);
  const LossTerms terms = loss_terms(cfg, aug.output_sizes);
  const std::string ae_type_name = cfg.get_string("LOSS.AE_LOSS_TYPE");
  HRNET_CHECK(ae_type_name == "exp" || ae_type_name == "max", models::ConfigError,
              opt.cfg.string() << ": LOSS.AE_LOSS_TYPE must be exp or max, got '" << ae_type_name << "'");
  const AeLossType ae_type = ae_type_name == "exp" ? AeLossType::Exp : AeLossType::Max;

  // Model and optimizer
  const models::PoseNetConfig net_cfg = models::pose_net_config(cfg);
  models::PoseHigherResolutionNet<T, D> model(net_cfg);
  std::vector<V*> params = model.parameters();
  const std::string optimizer_name = cfg.get_string("TRAIN.OPTIMIZER");
  const double base_lr = cfg.get_double("TRAIN.LR");
  std::unique_ptr<optim::Optimizer<T, D>> optimizer;
  if (optimizer_name == "adam") {
    optimizer = std::make_unique<optim::Adam<T, D>>(params, optim::AdamOptions{.lr = base_lr});
  } else if (optimizer_name == "sgd") {
    optimizer = std::make_unique<optim::SGD<T, D>>(
        params, optim::SGDOptions{.lr = base_lr, .momentum = cfg.get_double("TRAIN.MOMENTUM"),
                                  .weight_decay = cfg.get_double("TRAIN.WD"), .nesterov = cfg.get_bool("TRAIN.NESTEROV")});
  } else {
    HRNET_THROW(models::ConfigError, opt.cfg.string() << ": TRAIN.OPTIMIZER must be adam or sgd, got '" << optimizer_name << "'");
  }
  optim::MultiStepLR schedule{base_lr, {}, cfg.get_double("TRAIN.LR_FACTOR")};
  for (int m : cfg.get_int_list("TRAIN.LR_STEP")) schedule.milestones.push_back(m);

  // Start or resume
  TrainProgress progress;
  progress.seed = opt.seed;
  progress.epoch = begin_epoch;
  const bool want_resume = opt.resume || cfg.get_bool("TRAIN.RESUME");
  fs::path resume_from = ckpt_path;
  if (!cfg.get_string("TRAIN.CHECKPOINT").empty() && want_resume) resume_from = cfg.get_string("TRAIN.CHECKPOINT");
  if (want_resume && !fs::exists(resume_from))
    HRNET_THROW(IoError, "--resume: no checkpoint at " << resume_from.string());
  const bool resuming = fs::exists(resume_from) && (want_resume || cfg.get_bool("AUTO_RESUME"));
  if (resuming) {
    progress = load_checkpoint(resume_from, model, *optimizer);
    HRNET_CHECK(!opt.seed_given || progress.seed == opt.seed, ValueError,
                "--seed " << opt.seed << " differs from the seed " << progress.seed << " of the checkpoint "
                          << resume_from.string() << " being resumed");
    out << "=> resumed from " << resume_from.string() << ": " << progress.epoch << " epochs, " << progress.step
        << " steps done\n";
  } else {
    Rng init_rng(stream_seed(progress.seed, 0x1417, 0));
    model.init_official(init_rng);
    load_pretrained(cfg, model, out);
  }
  const std::uint64_t seed = progress.seed;
  double best_ap = -1;
  if (auto it = progress.extra.find("best_ap"); it != progress.extra.end()) best_ap = std::stod(it->second);
  out << "=> " << dataset->size() << " training images in " << dataset->image_dir().string() << ", batch " << batch
      << ", " << workers << " loader threads, seed " << seed << ", " << model.num_parameters() << " parameters\n";

  PoseTrainResult result;
  result.output_dir = out_dir;
  result.epochs_completed = progress.epoch;
  result.steps = progress.step;
  if (progress.epoch >= end_epoch) {
    out << "=> nothing to do: " << progress.epoch << " epochs done, END_EPOCH is " << end_epoch << "\n";
    return result;
  }

  // Logs (appended to on resume; a killed epoch's rows stay and are followed by its rerun)
  std::vector<std::string> iter_cols{"epoch", "iter", "step", "lr"};
  for (const auto& n : terms.names) iter_cols.push_back(n);
  for (const char* c : {"loss", "img_per_s", "data_wait"}) iter_cols.push_back(c);
  CsvLog iter_log(out_dir / "train_log.csv", iter_cols, resuming);
  std::vector<std::string> epoch_cols{"epoch", "steps", "lr"};
  for (const auto& n : terms.names) epoch_cols.push_back(n);
  for (const char* c : {"loss", "img_per_s", "data_wait", "seconds", "skipped_images", "val_ap"}) epoch_cols.push_back(c);
  CsvLog epoch_log(out_dir / "epoch_log.csv", epoch_cols, resuming);
  EventWriter tb(out_dir / "tb");

  const std::int64_t n_images = static_cast<std::int64_t>(dataset->size());
  const std::int64_t iters_per_epoch = (n_images + batch - 1) / batch;  // the last batch may be partial
  const bool shuffle = cfg.get_bool("TRAIN.SHUFFLE");
  const auto run_t0 = Clock::now();
  std::int64_t iters_run = 0;
  double first_loss = std::nan(""), last_loss = 0;

  for (std::int64_t epoch = progress.epoch; epoch < end_epoch; ++epoch) {
    const double lr = schedule.at(epoch);
    optimizer->set_lr(lr);
    model.train();

    std::vector<std::int64_t> order(static_cast<std::size_t>(n_images));
    std::iota(order.begin(), order.end(), 0);
    if (shuffle) {
      Rng shuffle_rng(stream_seed(seed, static_cast<std::uint64_t>(epoch), ~0ull));
      for (std::int64_t i = n_images - 1; i > 0; --i)
        std::swap(order[static_cast<std::size_t>(i)], order[shuffle_rng.below(static_cast<std::uint64_t>(i + 1))]);
    }
    auto produce = [&, dataset, epoch](std::int64_t b) {
      LoaderItem item;
      std::vector<data::PoseSample> samples;
      std::vector<std::int64_t> ids;
      const std::int64_t lo = b * batch, hi = std::min<std::int64_t>(n_images, lo + batch);
      for (std::int64_t j = lo; j < hi; ++j) {
        const std::size_t i = static_cast<std::size_t>(order[static_cast<std::size_t>(j)]);
        const data::CocoImage& info = dataset->image(i);
        try {
          const data::Image img = data::read_image(info.path);
          std::vector<std::vector<std::array<double, 3>>> people;
          for (const auto* a : dataset->people(i)) people.push_back(a->keypoints);
          Rng rng(stream_seed(seed, static_cast<std::uint64_t>(epoch), i));
          samples.push_back(data::make_pose_sample(img.pixels, img.height, img.width, dataset->loss_mask(i), people, aug, rng));
          ids.push_back(info.id);
        } catch (const Error& e) {
          // a bad image (or an annotation that does not fit it) is skipped; the run goes on
          std::ostringstream w;
          w << "warning: skipping " << info.path.string() << ": " << e.what();
          item.warnings.push_back(w.str());
        }
      }
      if (!samples.empty()) item.batch = data::collate(samples, ids);
      return item;
    };
    data::PrefetchLoader<LoaderItem> loader(iters_per_epoch, produce, workers, std::max(2, 2 * workers));

    std::vector<double> term_sum(terms.names.size(), 0.0);
    double loss_sum = 0, data_wait = 0, data_wait_window = 0;
    std::int64_t steps_in_epoch = 0, images_in_epoch = 0, skipped_in_epoch = 0, images_window = 0;
    const auto epoch_t0 = Clock::now();
    auto window_t0 = epoch_t0;
    for (std::int64_t it = 0; it < iters_per_epoch; ++it) {
      const auto wait_t0 = Clock::now();
      std::optional<LoaderItem> item = loader.next();
      const double waited = seconds_since(wait_t0);
      data_wait += waited;
      data_wait_window += waited;
      for (const auto& w : item->warnings) out << w << "\n";
      skipped_in_epoch += static_cast<std::int64_t>(item->warnings.size());
      if (!item->batch) continue;
      const data::PoseBatch& b = *item->batch;
      auto on_device = [](const auto& t) {
        if constexpr (is_cpu<D>) return t;
        else return to_cuda(t);
      };

      // forward, loss, backward, step (official do_train)
      std::vector<V> outs = model.forward(V(on_device(b.images), false));
      HRNET_CHECK(outs.size() == aug.output_sizes.size(), ShapeError,
                  "the model has " << outs.size() << " outputs but DATASET.OUTPUT_SIZE has " << aug.output_sizes.size());
      std::vector<V> loss_inputs;
      const int stages = static_cast<int>(outs.size());
      const auto with_hm = cfg.get_bool_list("LOSS.WITH_HEATMAPS_LOSS");
      const auto with_ae = cfg.get_bool_list("LOSS.WITH_AE_LOSS");
      for (int i = 0; i < stages; ++i) {
        const V& o = outs[static_cast<std::size_t>(i)];
        HRNET_CHECK(o.shape().h() == aug.output_sizes[static_cast<std::size_t>(i)], ShapeError,
                    "output " << i << " is " << o.shape() << " but DATASET.OUTPUT_SIZE[" << i << "] is "
                              << aug.output_sizes[static_cast<std::size_t>(i)]);
        const std::int64_t K = aug.num_joints;
        if (with_hm[static_cast<std::size_t>(i)])
          loss_inputs.push_back(ops::masked_mse(ops::slice_channels(o, 0, K),
                                                on_device(b.heatmaps[static_cast<std::size_t>(i)]),
                                                on_device(b.masks[static_cast<std::size_t>(i)])));
        if (with_ae[static_cast<std::size_t>(i)]) {
          auto ae = ops::ae_loss(ops::slice_channels(o, K, o.shape().c()),
                                 on_device(b.joints[static_cast<std::size_t>(i)]), ae_type);
          loss_inputs.push_back(ae.push);
          loss_inputs.push_back(ae.pull);
        }
      }
      V loss = ops::weighted_mean_sum(loss_inputs, terms.weights);
      const double loss_v = static_cast<double>(to_cpu(loss.value())[0]);  // CUDA: the step's sync point
      HRNET_CHECK(std::isfinite(loss_v), ValueError,
                  "epoch " << epoch << " iteration " << it << ": the loss is " << loss_v
                           << " (diverged); the last good state is " << ckpt_path.string());
      std::vector<double> term_v(terms.names.size());
      for (std::size_t k = 0; k < loss_inputs.size(); ++k) {
        const auto t = to_cpu(loss_inputs[k].value());  // a few scalars; the stream is idle by now
        double s = 0;
        for (std::int64_t e = 0; e < t.numel(); ++e) s += static_cast<double>(t[e]);
        term_v[k] = s / static_cast<double>(t.numel());  // unweighted batch mean, as the official log shows
        term_sum[k] += term_v[k];
      }
      optimizer->zero_grad();
      hrnet::backward(loss);
      optimizer->step();
      outs.clear();
      loss_inputs.clear();

      ++progress.step;
      ++steps_in_epoch;
      ++iters_run;
      loss_sum += loss_v;
      images_in_epoch += b.size();
      images_window += b.size();

      if ((it + 1) % print_freq == 0 || it + 1 == iters_per_epoch) {
        const double window_s = seconds_since(window_t0);
        const double ips = window_s > 0 ? static_cast<double>(images_window) / window_s : 0;
        const double wait_share = window_s > 0 ? data_wait_window / window_s : 0;
        const double per_iter = seconds_since(run_t0) / static_cast<double>(iters_run);
        const double remaining =
            per_iter * static_cast<double>((iters_per_epoch - it - 1) + (end_epoch - epoch - 1) * iters_per_epoch);
        std::ostringstream line;
        line << "Epoch [" << epoch << "][" << (it + 1) << "/" << iters_per_epoch << "]";
        for (std::size_t k = 0; k < terms.names.size(); ++k)
          line << " " << terms.names[k] << " " << std::setprecision(4) << std::scientific << term_v[k];
        line << std::defaultfloat << std::setprecision(5) << " loss " << loss_v << " lr " << lr << std::fixed
             << std::setprecision(1) << " | " << ips << " img/s, data " << std::setprecision(0) << 100 * wait_share
             << "% | ETA " << hms(remaining);
        out << line.str() << std::endl;
        std::vector<CsvCell> row{epoch, it + 1, progress.step, lr};
        for (double v : term_v) row.emplace_back(v);
        for (double v : {loss_v, ips, wait_share}) row.emplace_back(v);
        iter_log.row(row);
        std::vector<std::pair<std::string, double>> scalars{{"train/loss", loss_v}, {"train/lr", lr},
                                                            {"train/img_per_s", ips}, {"train/data_wait", wait_share}};
        for (std::size_t k = 0; k < terms.names.size(); ++k) scalars.emplace_back("train/" + terms.names[k], term_v[k]);
        tb.add_scalars(scalars, progress.step);
        window_t0 = Clock::now();
        images_window = 0;
        data_wait_window = 0;
      }
    }

    // end of epoch: validation (optional), then the best model, then the checkpoint (the state the
    // next epoch starts from; a run killed between the two reruns this epoch and rewrites both)
    std::optional<double> val_ap;
    if (opt.val_every > 0 && ((epoch + 1) % opt.val_every == 0 || epoch + 1 == end_epoch)) {
      pose::PoseEstimator est(model, pose::inference_options(cfg));
      pose::ValidationOptions vopt;
      vopt.max_images = opt.val_images;
      const pose::ValidationResult vr = pose::validate_pose(est, root, cfg.get_string("DATASET.TEST"), vopt);
      val_ap = vr.stats[0];
      out << "=> validation after epoch " << epoch << " on " << vr.images << " images of " << cfg.get_string("DATASET.TEST")
          << " (" << std::fixed << std::setprecision(2) << vr.images_per_second() << " images/s):\n"
          << std::defaultfloat << eval::format_stats(vr.stats);
      std::vector<std::pair<std::string, double>> vs;
      for (std::size_t k = 0; k < eval::kNumStats; ++k) vs.emplace_back(std::string("val/") + eval::kStatNames[k], vr.stats[k]);
      tb.add_scalars(vs, epoch + 1);
      if (*val_ap > best_ap) {
        best_ap = *val_ap;
        nn::save_safetensors(model, out_dir / "model_best.safetensors",
                             {{"epoch", std::to_string(epoch + 1)}, {"AP", std::to_string(best_ap)}, {"config", opt.cfg.string()}});
        out << "=> new best AP " << best_ap << ": " << (out_dir / "model_best.safetensors").string() << "\n";
      }
      progress.extra["best_ap"] = std::to_string(best_ap);
    }
    progress.epoch = epoch + 1;
    progress.extra["config"] = opt.cfg.string();
    save_checkpoint(ckpt_path, model, *optimizer, progress);
    const double epoch_s = seconds_since(epoch_t0);
    const double steps = static_cast<double>(std::max<std::int64_t>(1, steps_in_epoch));
    const double mean_loss = loss_sum / steps;
    if (std::isnan(first_loss)) first_loss = mean_loss;
    last_loss = mean_loss;
    std::vector<CsvCell> row{epoch, steps_in_epoch, lr};
    for (double v : term_sum) row.emplace_back(v / steps);
    const double ips = epoch_s > 0 ? static_cast<double>(images_in_epoch) / epoch_s : 0;
    for (double v : {mean_loss, ips, epoch_s > 0 ? data_wait / epoch_s : 0.0, epoch_s}) row.emplace_back(v);
    row.emplace_back(skipped_in_epoch);
    if (val_ap) row.emplace_back(*val_ap);
    else row.emplace_back("");
    epoch_log.row(row);
    std::vector<std::pair<std::string, double>> scalars{{"epoch/loss", mean_loss}, {"epoch/img_per_s", ips}};
    for (std::size_t k = 0; k < terms.names.size(); ++k) scalars.emplace_back("epoch/" + terms.names[k], term_sum[k] / steps);
    tb.add_scalars(scalars, epoch + 1);
    result.skipped_images += skipped_in_epoch;
    out << "=> epoch " << epoch << " done in " << hms(epoch_s) << ": mean loss " << std::setprecision(6)
        << std::defaultfloat << mean_loss << ", " << std::fixed << std::setprecision(1) << ips << " img/s"
        << (skipped_in_epoch ? ", " : "") << (skipped_in_epoch ? std::to_string(skipped_in_epoch) : std::string())
        << (skipped_in_epoch ? " images skipped" : "") << "; checkpoint " << ckpt_path.string() << std::defaultfloat << std::endl;
  }

  std::map<std::string, std::string> meta{{"epochs", std::to_string(progress.epoch)}, {"config", opt.cfg.string()}};
  nn::save_safetensors(model, out_dir / "final_state.safetensors", meta);
  out << "=> saved final weights to " << (out_dir / "final_state.safetensors").string() << "\n";
  result.epochs_completed = progress.epoch;
  result.steps = progress.step;
  result.first_epoch_loss = first_loss;
  result.best_ap = best_ap;
  result.last_epoch_loss = last_loss;
  return result;
}

}  // namespace

PoseTrainResult train_pose(const PoseTrainOptions& opt) {
  if (opt.device == "cpu") return train_pose_on<CPU>(opt);
  HRNET_CHECK(opt.device == "cuda", ValueError, "--device must be cpu or cuda, got '" << opt.device << "'");
  HRNET_CHECK(!opt.amp, ValueError,
              "--amp: mixed-precision training on the CUDA backend is not implemented yet; run without --amp");
  HRNET_CHECK(!opt.dist, ValueError,
              "--dist: multi-GPU data parallel training (CUDA backend + NCCL) is not implemented yet; run without "
              "--dist");
#ifdef HRNET_WITH_CUDA
  HRNET_CHECK(cuda::device_count() > 0, CudaError, "--device cuda: no CUDA device is visible on this machine");
  return train_pose_on<CUDA>(opt);
#else
  HRNET_THROW(CudaError, "--device cuda: this hrnet library was built without CUDA (HRNET_WITH_CUDA=OFF)");
#endif
}

}  // namespace hrnet::train

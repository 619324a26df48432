// HRNet-C classification training as a task of the engine (hrnet/classification/train_task.hpp)
// and the train_cls entry point (hrnet/classification/train_cls.hpp).
#include "hrnet/classification/train_cls.hpp"

#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "hrnet/autograd/tape.hpp"
#include "hrnet/backend/device_choice.hpp"
#include "hrnet/classification/train_task.hpp"
#include "hrnet/data/image.hpp"
#include "hrnet/data/loader.hpp"
#include "hrnet/ops/ops.hpp"
#include "hrnet/train/engine.hpp"

namespace hrnet::classification {
namespace {

namespace fs = std::filesystem;

template <Device D>
auto on_device(const auto& t) {
  if constexpr (is_cpu<D>) return t;
  else return to_cuda(t);
}

// Reads and transforms the samples `indices` of `data` into a batch; an unreadable sample is
// skipped with a warning naming it (the file, or the shard and byte offset).
template <class Transform>
std::optional<ClsBatch> make_batch(const ClsDataset& data, std::span<const std::int64_t> indices, std::int64_t size,
                                   std::vector<std::string>& warnings, Transform&& transform) {
  const std::int64_t per_image = size * size * 3;
  // transformed straight into the batch tensor; copied to a smaller one only when a sample was skipped
  auto images = Tensor<float, CPU>::empty({static_cast<std::int64_t>(indices.size()), 3, size, size});
  std::vector<std::int64_t> labels, kept;
  for (const std::int64_t j : indices) {
    try {
      const ClsSample s = data.read(j);
      transform(s, j, images.data() + static_cast<std::ptrdiff_t>(kept.size()) * per_image);
      labels.push_back(s.label);
      kept.push_back(j);
    } catch (const Error& e) {
      const std::string what = e.what(), where = data.where(j);
      std::ostringstream w;
      // record errors already start with the shard and offset; file errors may not name the file
      w << "warning: skipping " << (what.find(where) == std::string::npos ? where + ": " : std::string()) << what;
      warnings.push_back(w.str());
    }
  }
  if (kept.empty()) return std::nullopt;
  const auto n = static_cast<std::int64_t>(kept.size());
  ClsBatch b;
  if (n == static_cast<std::int64_t>(indices.size())) {
    b.images = std::move(images);
  } else {
    b.images = Tensor<float, CPU>::empty({n, 3, size, size});
    std::copy_n(images.data(), n * per_image, b.images.data());
  }
  b.labels = Tensor<std::int64_t, CPU>::empty({n});
  std::copy(labels.begin(), labels.end(), b.labels.data());
  b.samples = std::move(kept);
  return b;
}

}  // namespace

TopK count_topk(std::span<const float> logits, std::span<const std::int64_t> labels, std::int64_t K, int k) {
  HRNET_CHECK(static_cast<std::int64_t>(logits.size()) == static_cast<std::int64_t>(labels.size()) * K, ShapeError,
              "count_topk: " << logits.size() << " logits for " << labels.size() << " labels of " << K << " classes");
  TopK r;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const float* row = logits.data() + static_cast<std::ptrdiff_t>(i) * K;
    const std::int64_t y = labels[i];
    HRNET_CHECK(y >= 0 && y < K, ValueError, "count_topk: label " << y << " outside [0, " << K << ")");
    std::int64_t rank = 0;  // classes ordered before the label by a stable descending sort
    for (std::int64_t c = 0; c < K; ++c) rank += row[c] > row[y] || (row[c] == row[y] && c < y);
    r.top1 += rank == 0;
    r.topk += rank < k;
  }
  return r;
}

std::string EvalResult::text() const {
  std::ostringstream t;
  t << std::fixed << std::setprecision(3) << "Test: " << images << " images, loss " << std::setprecision(4) << loss
    << std::setprecision(3) << "\n * Accuracy@1 " << top1 << " Accuracy@" << k5 << " " << top5 << "\n Error@1 "
    << 100 - top1 << " Error@" << k5 << " " << 100 - top5 << "\n";
  if (skipped) t << " (" << skipped << " unreadable images skipped)\n";
  return t.str();
}

template <Device D>
EvalResult evaluate_dataset(models::ClsHighResolutionNet<float, D>& model, const ClsDataset& data, const ClsRecipe& recipe,
                            int batch, int workers, double label_smoothing) {
  HRNET_CHECK(batch > 0, ValueError, "evaluation batch size must be positive, got " << batch);
  const auto n = data.size();
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  struct Item {
    std::optional<ClsBatch> batch;
    std::vector<std::string> warnings;
  };
  const std::int64_t steps = (n + batch - 1) / batch;
  auto produce = [&](std::int64_t step) {
    Item it;
    const std::int64_t lo = step * batch, hi = std::min(n, lo + batch);
    it.batch = make_batch(data, std::span<const std::int64_t>(order.data() + lo, static_cast<std::size_t>(hi - lo)),
                          recipe.size(), it.warnings,
                          [&](const ClsSample& s, std::int64_t, float* out) { cls_recipe_eval(recipe, s, out); });
    return it;
  };
  data::PrefetchLoader<Item> loader(steps, produce, workers, std::max(2, 2 * workers));
  const bool was_training = model.is_training();
  model.eval();
  autograd::NoGradGuard no_grad;
  EvalResult r;
  double loss_sum = 0;
  std::int64_t top1 = 0, top5 = 0, K = 0;
  while (std::optional<Item> it = loader.next()) {
    for (auto& w : it->warnings) r.warnings.push_back(std::move(w));
    r.skipped += static_cast<std::int64_t>(it->warnings.size());
    if (!it->batch) continue;
    const ClsBatch& b = *it->batch;
    const Var<float, D> logits = model.forward(Var<float, D>(on_device<D>(b.images), false));
    K = logits.shape()[1];
    const Var<float, D> loss = ops::cross_entropy(logits, on_device<D>(b.labels), label_smoothing);
    loss_sum += static_cast<double>(to_cpu(loss.value())[0]) * static_cast<double>(b.size());
    const Tensor<float, CPU> host = to_cpu(logits.value());
    r.k5 = static_cast<int>(std::min<std::int64_t>(5, K));
    const TopK t = count_topk(std::span<const float>(host.data(), static_cast<std::size_t>(host.numel())),
                              std::span<const std::int64_t>(b.labels.data(), static_cast<std::size_t>(b.size())), K, r.k5);
    top1 += t.top1;
    top5 += t.topk;
    r.images += b.size();
  }
  model.train(was_training);
  HRNET_CHECK(r.images > 0, IoError, "validation data " << data.root().string() << ": no image could be read");
  r.loss = loss_sum / static_cast<double>(r.images);
  r.top1 = 100.0 * static_cast<double>(top1) / static_cast<double>(r.images);
  r.top5 = 100.0 * static_cast<double>(top5) / static_cast<double>(r.images);
  return r;
}

template <Device D>
struct ClsTrainTask<D>::Impl {
  ClsTaskOptions options;
  std::unique_ptr<ClsDataset> train, val;
  models::ClsHighResolutionNet<float, D> model;

  Impl(const models::ClsNetConfig& net, const std::string& source, std::unique_ptr<ClsDataset> t, std::unique_ptr<ClsDataset> v,
       ClsTaskOptions o)
      : options(std::move(o)), train(std::move(t)), val(std::move(v)), model(net) {
    HRNET_CHECK(train && val, ValueError, "ClsTrainTask needs a training and a validation dataset");
    train->check_labels(net.num_classes, source);
    val->check_labels(net.num_classes, source);
    const auto a = train->class_names(), b = val->class_names();
    HRNET_CHECK(a.empty() || b.empty() || a == b, IoError,
                train->root().string() << " and " << val->root().string()
                                       << " have different class folders (the labels would not correspond)");
  }
};

template <Device D>
ClsTrainTask<D>::ClsTrainTask(const models::ClsNetConfig& net, std::string model_source, std::unique_ptr<ClsDataset> train,
                              std::unique_ptr<ClsDataset> val, ClsTaskOptions options)
    : impl_(std::make_unique<Impl>(net, model_source, std::move(train), std::move(val), std::move(options))) {}
template <Device D>
ClsTrainTask<D>::~ClsTrainTask() = default;

template <Device D>
nn::Module<float, D>& ClsTrainTask<D>::model() {
  return impl_->model;
}
template <Device D>
models::ClsHighResolutionNet<float, D>& ClsTrainTask<D>::network() {
  return impl_->model;
}
template <Device D>
const ClsDataset& ClsTrainTask<D>::train_data() const {
  return *impl_->train;
}
template <Device D>
const ClsDataset& ClsTrainTask<D>::val_data() const {
  return *impl_->val;
}
template <Device D>
std::int64_t ClsTrainTask<D>::num_samples() const {
  return impl_->train->size();
}
template <Device D>
std::string ClsTrainTask<D>::describe_data() const {
  return "training: " + impl_->train->describe() + "; validation: " + impl_->val->describe();
}
template <Device D>
void ClsTrainTask<D>::init_model(Rng& rng, std::ostream&) {
  impl_->model.init_official(rng);
}

template <Device D>
std::optional<ClsBatch> ClsTrainTask<D>::load_batch(std::span<const std::int64_t> indices, const train::SampleSeeds& seeds,
                                                     std::vector<std::string>& warnings) const {
  const ClsRecipe& recipe = impl_->options.recipe;
  return make_batch(*impl_->train, indices, recipe.size(), warnings, [&](const ClsSample& s, std::int64_t j, float* out) {
    Rng rng = seeds.rng_for(j);
    cls_recipe_train(recipe, s, rng, out);
  });
}

template <Device D>
train::StepLoss<D> ClsTrainTask<D>::step_loss(const ClsBatch& b) {
  const Var<float, D> logits = impl_->model.forward(Var<float, D>(on_device<D>(b.images), false));
  train::StepLoss<D> r;
  r.loss = ops::cross_entropy(logits, on_device<D>(b.labels), impl_->options.label_smoothing);
  return r;
}

template <Device D>
train::ValidationReport ClsTrainTask<D>::validate(std::int64_t epoch) {
  Impl& m = *impl_;
  const EvalResult e = evaluate_dataset(m.model, *m.val, m.options.recipe, m.options.val_batch, m.options.workers,
                                        m.options.label_smoothing);
  train::ValidationReport r;
  r.metric = e.top1;
  std::ostringstream text;
  for (const auto& w : e.warnings) text << w << "\n";
  text << "=> validation after epoch " << epoch << " on " << m.val->root().string() << ":\n" << e.text();
  r.text = text.str();
  r.scalars = {{"val/loss", e.loss}, {"val/top1", e.top1}, {"val/top5", e.top5}};
  return r;
}

template class ClsTrainTask<CPU>;
template EvalResult evaluate_dataset<CPU>(models::ClsHighResolutionNet<float, CPU>&, const ClsDataset&, const ClsRecipe&, int,
                                          int, double);
#ifdef HRNET_WITH_CUDA
template class ClsTrainTask<CUDA>;
template EvalResult evaluate_dataset<CUDA>(models::ClsHighResolutionNet<float, CUDA>&, const ClsDataset&, const ClsRecipe&,
                                           int, int, double);
#endif

fs::path resolve_cls_data_root(const fs::path& datadir, const std::string& dataset, const std::string& train_set,
                               const std::string& test_set) {
  if (has_tfrecord_shards(datadir, ClsSplit::kTrain) || has_tfrecord_shards(datadir, ClsSplit::kVal)) return datadir;
  if (fs::is_directory(datadir / train_set) && fs::is_directory(datadir / test_set)) return datadir;
  const fs::path official = datadir / dataset / "images";
  HRNET_CHECK(fs::is_directory(official / train_set) || fs::is_directory(official / test_set), IoError,
              "--datadir " << datadir.string() << ": neither " << (datadir / train_set).string() << " + "
                           << (datadir / test_set).string() << " nor " << (official / train_set).string() << " + "
                           << (official / test_set).string() << " exist, nor TFRecord shards train-*-of-* / validation-*-of-*");
  return official;
}

namespace {

// What either command line resolves to: the model, the data, the recipe and the training config.
struct ClsPlan {
  models::ClsNetConfig net;
  fs::path source;       // the experiment file
  fs::path data_root;    // folder of the split folders or of the shards
  std::string train_set = "train", test_set = "val";
  LabelBase labels = LabelBase::kZero;
  ClsRecipe recipe;
  train::TrainConfig tc;
  int val_batch = 32;
  std::string resolved;  // the configuration as read, for the log
  std::string labels_note;
};

void apply_schedule_options(train::ScheduleConfig& s, const ClsTrainOptions& opt) {
  HRNET_CHECK(opt.lr_schedule == "step" || opt.lr_schedule == "cosine", ValueError,
              "--lr_schedule must be step or cosine, got '" << opt.lr_schedule << "'");
  if (opt.lr_schedule == "cosine") s.kind = train::ScheduleConfig::Kind::kCosine;
  HRNET_CHECK(opt.warmup_epochs >= 0, ValueError, "--warmup_epochs must be >= 0, got " << opt.warmup_epochs);
  s.warmup_epochs = opt.warmup_epochs;
}

// HRNet-Image-Classification: --cfg YAML --datadir DIR
ClsPlan plan_official(const ClsTrainOptions& opt) {
  models::ExperimentConfig cfg = models::load_experiment_config(opt.cfg);
  HRNET_CHECK(cfg.family() == models::ConfigFamily::Classification && cfg.format() == models::ConfigFormat::OfficialYaml,
              models::ConfigError,
              opt.cfg.string() << ": train_cls --cfg needs an official classification YAML (MODEL.NAME cls_hrnet); "
                                  "for the TF port's .cfg files use --net_cfg FILE --data_path DIR");
  if (opt.max_epochs) cfg.set("TRAIN.END_EPOCH", std::to_string(*opt.max_epochs));
  if (opt.workers) cfg.set("WORKERS", std::to_string(*opt.workers));
  if (opt.print_freq) cfg.set("PRINT_FREQ", std::to_string(*opt.print_freq));
  if (opt.batch_size) cfg.set("TRAIN.BATCH_SIZE_PER_GPU", std::to_string(*opt.batch_size));
  if (opt.batch_size_eval) cfg.set("TEST.BATCH_SIZE_PER_GPU", std::to_string(*opt.batch_size_eval));
  // update_config: DATASET.ROOT = DATA_DIR/<DATASET>/images (or the folder itself, see resolve_cls_data_root)
  const fs::path datadir = opt.datadir ? *opt.datadir : fs::path(cfg.get_string("DATA_DIR"));
  HRNET_CHECK(!datadir.empty(), models::ConfigError,
              opt.cfg.string() << ": DATA_DIR is empty; pass --datadir DIR (DIR/imagenet/images/{train,val} or DIR/{train,val})");
  ClsPlan p;
  p.train_set = cfg.get_string("DATASET.TRAIN_SET");
  p.test_set = cfg.get_string("DATASET.TEST_SET");
  p.data_root = resolve_cls_data_root(datadir, cfg.get_string("DATASET.DATASET"), p.train_set, p.test_set);
  cfg.set("DATASET.ROOT", p.data_root.string());
  p.net = models::cls_net_config(cfg);
  p.net.num_classes = cfg.get_int("MODEL.NUM_CLASSES");
  HRNET_CHECK(p.net.num_classes > 0, models::ConfigError, opt.cfg.string() << ": MODEL.NUM_CLASSES must be positive");
  const auto size = cfg.get_int_list("MODEL.IMAGE_SIZE");
  HRNET_CHECK(size.size() == 2 && size[0] == size[1], models::ConfigError,
              opt.cfg.string() << ": MODEL.IMAGE_SIZE must be two equal sizes (the official transforms crop squares)");
  p.recipe.kind = ClsRecipeKind::kOfficial;
  p.recipe.official = data::official_cls_transform(size[0]);
  HRNET_CHECK(opt.decode == "exact" || opt.decode == "fast", ValueError, "--decode must be exact or fast, got '" << opt.decode << "'");
  p.recipe.decode = opt.decode == "fast" ? data::DecodeMode::kFast : data::DecodeMode::kExact;
  p.source = opt.cfg;
  p.tc = train::train_config(cfg);
  apply_schedule_options(p.tc.schedule, opt);
  p.val_batch = cfg.get_int("TEST.BATCH_SIZE_PER_GPU");
  p.labels = LabelBase::kZero;
  p.labels_note = "labels: the sorted class-folder index, or a TFRecord's image/class/label - 1, into " +
                  std::to_string(p.net.num_classes) + " logits (the official code)";
  p.resolved = cfg.dump();
  return p;
}

// tf-hrnet: --net_cfg CFG --data_path DIR
ClsPlan plan_tf_port(const ClsTrainOptions& opt, std::int64_t world) {
  models::ExperimentConfig cfg = models::load_experiment_config(opt.net_cfg);
  HRNET_CHECK(cfg.format() == models::ConfigFormat::TfIni, models::ConfigError,
              opt.net_cfg.string() << ": --net_cfg needs one of the TF port's INI .cfg files (configs/imagenet/w30_s4.cfg); "
                                      "for official YAMLs use --cfg FILE --datadir DIR");
  ClsPlan p;
  p.source = opt.net_cfg;
  p.net = models::cls_net_config(cfg);  // HEAD.cls_num logits (1001)
  p.data_root = opt.data_path ? *opt.data_path : fs::path("./data/tfrecord");  // the port's default
  p.recipe.kind = ClsRecipeKind::kTfPort;
  // 224 and 256 in the port; COMMON.image_size (our extension) scales both
  p.recipe.tf.size = p.net.image_height;
  p.recipe.tf.resize = p.net.image_height * 256 / 224;
  p.labels = LabelBase::kOne;
  p.labels_note = "labels: a TFRecord's image/class/label as stored (1..1000; 0 is background), or the class-folder index + 1, "
                  "into " + std::to_string(p.net.num_classes) + " logits (the TF port)";
  train::TrainConfig& tc = p.tc;
  tc.file = opt.net_cfg;
  tc.begin_epoch = 0;
  tc.end_epoch = opt.max_epochs.value_or(100);  // int(nb_smpls_train * 100 / global batch) iterations
  tc.batch = opt.batch_size.value_or(32);
  tc.workers = opt.workers.value_or(8);  // --nb_threads
  tc.print_freq = std::max(1, opt.print_freq.value_or(cfg.get_int("COMMON.summary_step")));
  tc.shuffle = true;
  tc.default_output = fs::path("output") / "tf-hrnet" / opt.net_cfg.stem();
  tc.optimizer.name = "sgd";  // tf.train.MomentumOptimizer: plain momentum, not Nesterov
  // lr_rate_init scaled by the global batch / 256; weight_l2_scale * sum(l2_loss(v)) over all
  // trainable variables has the gradient weight_l2_scale * v: SGD weight decay on every parameter
  tc.optimizer.lr = cfg.get_double("COMMON.lr_rate_init") * static_cast<double>(tc.batch * world) / 256.0;
  tc.optimizer.momentum = cfg.get_double("COMMON.momentum");
  tc.optimizer.weight_decay = cfg.get_double("NET.weight_l2_scale");
  tc.optimizer.nesterov = false;
  tc.schedule.base_lr = tc.optimizer.lr;
  tc.schedule.factor = 0.1;
  tc.schedule.unit = train::ScheduleConfig::Unit::kStep;  // milestones set once the dataset size is known
  apply_schedule_options(tc.schedule, opt);
  HRNET_CHECK(tc.batch > 0 && tc.workers >= 0, ValueError, "--batch_size must be positive and --workers >= 0");
  p.val_batch = opt.batch_size_eval.value_or(32);
  p.resolved = cfg.dump();
  return p;
}

// piecewise_constant boundaries int(nb_smpls_train / global_batch * {30, 60, 90}) on global_step,
// with nb_smpls_train the number of training records here (1281167 on ImageNet)
void tf_port_milestones(train::ScheduleConfig& s, std::int64_t samples, std::int64_t global_batch) {
  s.milestones.clear();
  for (const int e : {30, 60, 90})
    s.milestones.push_back(static_cast<std::int64_t>(static_cast<double>(samples) / static_cast<double>(global_batch) * e) + 1);
}

EvalResult print_eval(const EvalResult& e, const ClsDataset& val, std::ostream& out) {
  for (const auto& w : e.warnings) out << w << "\n";
  out << "=> " << val.describe() << "\n" << e.text();
  return e;
}

template <Device D>
ClsTrainResult train_cls_on(const ClsTrainOptions& opt) {
  std::ostream& out = opt.out ? *opt.out : std::cout;
  const bool tf_port = !opt.net_cfg.empty();
  ClsPlan p = tf_port ? plan_tf_port(opt, 1) : plan_official(opt);
  const std::string source = p.source.string();

  auto open_val = [&] {
    auto v = open_cls_dataset(p.data_root, ClsSplit::kVal, p.test_set, p.labels);
    v->check_labels(p.net.num_classes, source);
    return v;
  };
  auto evaluate_file = [&](const fs::path& weights) {
    const auto val = open_val();
    models::ClsHighResolutionNet<float, D> model(p.net);
    train::load_weights(model, weights);  // strict: throws naming the keys that do not fit
    out << "=> loaded weights from " << weights.string() << "\n=> " << p.recipe.describe() << "\n=> " << p.labels_note << "\n";
    const EvalResult e =
        print_eval(evaluate_dataset(model, *val, p.recipe, p.val_batch, p.tc.workers, opt.label_smoothing), *val, out);
    ClsTrainResult r;
    r.evaluated = true;
    r.loss = e.loss, r.top1 = e.top1, r.top5 = e.top5, r.images = e.images;
    r.skipped_images = e.skipped;
    return r;
  };
  const fs::path output = opt.output ? *opt.output : p.tc.default_output;
  if (opt.test_model) return evaluate_file(*opt.test_model);  // tools/valid.py
  if (opt.eval_only) {  // the TF port's --eval_only: the latest checkpoint (or --weights), exactly over every image
    const fs::path weights = opt.weights ? *opt.weights : output / "checkpoint.safetensors";
    HRNET_CHECK(fs::exists(weights), IoError,
                "--eval_only: no checkpoint " << weights.string() << " (train first, or name the weights with --weights FILE)");
    return evaluate_file(weights);
  }

  // the official yamls' TRAIN.RESUME: true resumes an existing checkpoint; the TF port only on --resume_training
  const train::RunDir run = train::open_run_dir(
      output, {.requested = opt.resume, .automatic = !tf_port && (p.tc.resume || p.tc.auto_resume), .checkpoint = p.tc.checkpoint});
  out << "=> config " << source << " (resolved)\n" << p.resolved;
  out << "=> output " << run.dir.string() << "\n";
  if (!run.resuming && fs::exists(run.checkpoint))
    out << "=> warning: starting fresh; the existing " << run.checkpoint.string() << " will be overwritten after the first epoch ("
        << (tf_port ? "--resume_training" : "--resume") << " continues it instead)\n";
  auto train_data = open_cls_dataset(p.data_root, ClsSplit::kTrain, p.train_set, p.labels);
  if (tf_port && p.tc.schedule.kind == train::ScheduleConfig::Kind::kMultiStep)
    tf_port_milestones(p.tc.schedule, train_data->size(), p.tc.batch);
  ClsTrainTask<D> task(p.net, source, std::move(train_data), open_val(),
                       {.recipe = p.recipe, .label_smoothing = opt.label_smoothing, .val_batch = p.val_batch, .workers = p.tc.workers});
  out << "=> " << p.labels_note << "\n=> " << p.recipe.describe() << "\n";
  out << "=> SGD lr " << p.tc.optimizer.lr << (p.tc.optimizer.nesterov ? " (Nesterov" : " (plain") << " momentum "
      << p.tc.optimizer.momentum << ", weight decay " << p.tc.optimizer.weight_decay << " on all parameters), ";
  if (p.tc.schedule.kind == train::ScheduleConfig::Kind::kCosine) out << "cosine decay to " << p.tc.schedule.eta_min << " per step";
  else {
    out << "x" << p.tc.schedule.factor << " from " << (p.tc.schedule.unit == train::ScheduleConfig::Unit::kEpoch ? "epoch" : "step");
    for (auto m : p.tc.schedule.milestones) out << " " << m;
  }
  if (p.tc.schedule.warmup_epochs > 0) out << ", linear warmup over " << p.tc.schedule.warmup_epochs << " epochs";
  out << "\n";
  const train::TrainResult r = train::run_training(
      task, p.tc, run, {.seed = opt.seed, .seed_given = opt.seed_given, .val_every = opt.val_every, .out = &out});
  ClsTrainResult result;
  result.output_dir = r.output_dir;
  result.epochs_completed = r.epochs_completed;
  result.steps = r.steps;
  result.first_epoch_loss = r.first_epoch_loss;
  result.last_epoch_loss = r.last_epoch_loss;
  result.skipped_images = r.skipped_samples;
  result.best_top1 = r.best_metric;
  return result;
}

}  // namespace

ClsTrainResult train_cls(const ClsTrainOptions& opt) {
  HRNET_CHECK(opt.cfg.empty() != opt.net_cfg.empty(), ValueError,
              "give either --cfg YAML (the official command line) or --net_cfg CFG (the TF port's), "
                  << (opt.cfg.empty() ? "not neither" : "not both"));
  HRNET_CHECK(!opt.amp, ValueError, "--amp: mixed-precision training is not implemented yet; run without --amp");
  HRNET_CHECK(!opt.dist, ValueError, "--dist / --enbl_multi_gpu: multi-GPU data parallel training is not implemented yet; run without it");
  HRNET_CHECK(opt.label_smoothing >= 0 && opt.label_smoothing < 1, ValueError,
              "--label_smoothing must be in [0, 1), got " << opt.label_smoothing);
  return with_device(opt.device, [&]<Device D>() { return train_cls_on<D>(opt); });
}

}  // namespace hrnet::classification

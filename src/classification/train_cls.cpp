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

// Reads and transforms the samples `indices` of `folder` into a batch; unreadable images are
// skipped with a warning naming them.
template <class Transform>
std::optional<ClsBatch> make_batch(const data::ImageFolder& folder, std::span<const std::int64_t> indices, std::int64_t size,
                                   std::vector<std::string>& warnings, Transform&& transform) {
  const std::int64_t per_image = size * size * 3;
  std::vector<float> pixels(static_cast<std::size_t>(per_image) * indices.size());
  std::vector<std::int64_t> labels, kept;
  for (const std::int64_t j : indices) {
    const data::ImageFolderSample& s = folder[static_cast<std::size_t>(j)];
    try {
      const data::Image img = data::read_image(s.path);
      transform(img, j, pixels.data() + static_cast<std::ptrdiff_t>(kept.size()) * per_image);
      labels.push_back(s.label);
      kept.push_back(j);
    } catch (const Error& e) {
      std::ostringstream w;
      w << "warning: skipping " << s.path.string() << ": " << e.what();
      warnings.push_back(w.str());
    }
  }
  if (kept.empty()) return std::nullopt;
  const auto n = static_cast<std::int64_t>(kept.size());
  ClsBatch b;
  b.images = Tensor<float, CPU>::empty({n, 3, size, size});
  std::copy_n(pixels.data(), n * per_image, b.images.data());
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
EvalResult evaluate_folder(models::ClsHighResolutionNet<float, D>& model, const data::ImageFolder& folder,
                           const data::ClsTransformOptions& transform, int batch, int workers, double label_smoothing) {
  HRNET_CHECK(batch > 0, ValueError, "evaluation batch size must be positive, got " << batch);
  const auto n = static_cast<std::int64_t>(folder.size());
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
    it.batch = make_batch(folder, std::span<const std::int64_t>(order.data() + lo, static_cast<std::size_t>(hi - lo)),
                          transform.size, it.warnings,
                          [&](const data::Image& img, std::int64_t, float* out) { data::cls_eval_transform(img, transform, out); });
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
  HRNET_CHECK(r.images > 0, IoError, "validation folder " << folder.root().string() << ": no image could be read");
  r.loss = loss_sum / static_cast<double>(r.images);
  r.top1 = 100.0 * static_cast<double>(top1) / static_cast<double>(r.images);
  r.top5 = 100.0 * static_cast<double>(top5) / static_cast<double>(r.images);
  return r;
}

namespace {

models::ClsNetConfig net_config(const models::ExperimentConfig& cfg) {
  models::ClsNetConfig c = models::cls_net_config(cfg);
  c.num_classes = cfg.get_int("MODEL.NUM_CLASSES");
  HRNET_CHECK(c.num_classes > 0, models::ConfigError, cfg.path().string() << ": MODEL.NUM_CLASSES must be positive");
  return c;
}

data::ClsTransformOptions transform_options(const models::ExperimentConfig& cfg) {
  const auto size = cfg.get_int_list("MODEL.IMAGE_SIZE");
  HRNET_CHECK(size.size() == 2 && size[0] == size[1], models::ConfigError,
              cfg.path().string() << ": MODEL.IMAGE_SIZE must be two equal sizes (the official transforms crop squares)");
  return data::official_cls_transform(size[0]);
}

void check_labels(const data::ImageFolder& f, std::int64_t num_classes, const fs::path& cfg) {
  HRNET_CHECK(static_cast<std::int64_t>(f.classes().size()) <= num_classes, IoError,
              f.root().string() << " has " << f.classes().size() << " class folders but the model of " << cfg.string()
                                << " has " << num_classes << " logits (MODEL.NUM_CLASSES)");
}

}  // namespace

template <Device D>
struct ClsTrainTask<D>::Impl {
  models::ExperimentConfig cfg;
  ClsTaskOptions options;
  data::ImageFolder train, val;
  data::ClsTransformOptions transform;
  int val_batch, workers;
  models::ClsHighResolutionNet<float, D> model;

  Impl(const models::ExperimentConfig& c, ClsTaskOptions o)
      : cfg(c), options(o), train(fs::path(c.get_string("DATASET.ROOT")) / c.get_string("DATASET.TRAIN_SET")),
        val(fs::path(c.get_string("DATASET.ROOT")) / c.get_string("DATASET.TEST_SET")), transform(transform_options(c)),
        val_batch(c.get_int("TEST.BATCH_SIZE_PER_GPU")), workers(c.get_int("WORKERS")), model(net_config(c)) {
    const std::int64_t K = c.get_int("MODEL.NUM_CLASSES");
    check_labels(train, K, c.path());
    check_labels(val, K, c.path());
    HRNET_CHECK(train.classes() == val.classes(), IoError,
                train.root().string() << " and " << val.root().string()
                                      << " have different class folders (the labels would not correspond)");
  }
};

template <Device D>
ClsTrainTask<D>::ClsTrainTask(const models::ExperimentConfig& cfg, ClsTaskOptions options)
    : impl_(std::make_unique<Impl>(cfg, options)) {}
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
const data::ImageFolder& ClsTrainTask<D>::train_folder() const {
  return impl_->train;
}
template <Device D>
const data::ImageFolder& ClsTrainTask<D>::val_folder() const {
  return impl_->val;
}
template <Device D>
std::int64_t ClsTrainTask<D>::num_samples() const {
  return static_cast<std::int64_t>(impl_->train.size());
}
template <Device D>
std::string ClsTrainTask<D>::describe_data() const {
  std::ostringstream s;
  s << impl_->train.size() << " training images of " << impl_->train.classes().size() << " classes in "
    << impl_->train.root().string() << ", " << impl_->val.size() << " validation images in " << impl_->val.root().string();
  return s.str();
}
template <Device D>
void ClsTrainTask<D>::init_model(Rng& rng, std::ostream&) {
  impl_->model.init_official(rng);
}

template <Device D>
std::optional<ClsBatch> ClsTrainTask<D>::load_batch(std::span<const std::int64_t> indices, const train::SampleSeeds& seeds,
                                                     std::vector<std::string>& warnings) const {
  const data::ClsTransformOptions& t = impl_->transform;
  return make_batch(impl_->train, indices, t.size, warnings, [&](const data::Image& img, std::int64_t j, float* out) {
    Rng rng = seeds.rng_for(j);
    data::cls_train_transform(img, t, rng, out);
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
  const EvalResult e = evaluate_folder(m.model, m.val, m.transform, m.val_batch, m.workers, m.options.label_smoothing);
  train::ValidationReport r;
  r.metric = e.top1;
  std::ostringstream text;
  for (const auto& w : e.warnings) text << w << "\n";
  text << "=> validation after epoch " << epoch << " on " << m.val.root().string() << ":\n" << e.text();
  r.text = text.str();
  r.scalars = {{"val/loss", e.loss}, {"val/top1", e.top1}, {"val/top5", e.top5}};
  return r;
}

template class ClsTrainTask<CPU>;
template EvalResult evaluate_folder<CPU>(models::ClsHighResolutionNet<float, CPU>&, const data::ImageFolder&,
                                         const data::ClsTransformOptions&, int, int, double);
#ifdef HRNET_WITH_CUDA
template class ClsTrainTask<CUDA>;
template EvalResult evaluate_folder<CUDA>(models::ClsHighResolutionNet<float, CUDA>&, const data::ImageFolder&,
                                          const data::ClsTransformOptions&, int, int, double);
#endif

fs::path resolve_cls_data_root(const fs::path& datadir, const std::string& dataset, const std::string& train_set,
                               const std::string& test_set) {
  if (fs::is_directory(datadir / train_set) && fs::is_directory(datadir / test_set)) return datadir;
  const fs::path official = datadir / dataset / "images";
  HRNET_CHECK(fs::is_directory(official / train_set) || fs::is_directory(official / test_set), IoError,
              "--datadir " << datadir.string() << ": neither " << (datadir / train_set).string() << " + "
                           << (datadir / test_set).string() << " nor " << (official / train_set).string() << " + "
                           << (official / test_set).string() << " exist");
  return official;
}

namespace {

template <Device D>
ClsTrainResult train_cls_on(const ClsTrainOptions& opt) {
  std::ostream& out = opt.out ? *opt.out : std::cout;
  models::ExperimentConfig cfg = models::load_experiment_config(opt.cfg);
  HRNET_CHECK(cfg.family() == models::ConfigFamily::Classification && cfg.format() == models::ConfigFormat::OfficialYaml,
              models::ConfigError,
              opt.cfg.string() << ": train_cls --cfg needs an official classification YAML (MODEL.NAME cls_hrnet); the TF "
                                  "port's .cfg files (--net_cfg) are not supported yet");
  if (opt.max_epochs) cfg.set("TRAIN.END_EPOCH", std::to_string(*opt.max_epochs));
  if (opt.workers) cfg.set("WORKERS", std::to_string(*opt.workers));
  if (opt.print_freq) cfg.set("PRINT_FREQ", std::to_string(*opt.print_freq));
  if (opt.batch_size) cfg.set("TRAIN.BATCH_SIZE_PER_GPU", std::to_string(*opt.batch_size));
  if (opt.batch_size_eval) cfg.set("TEST.BATCH_SIZE_PER_GPU", std::to_string(*opt.batch_size_eval));
  // update_config: DATASET.ROOT = DATA_DIR/<DATASET>/images (or the folder itself, see resolve_cls_data_root)
  const fs::path datadir = opt.datadir ? *opt.datadir : fs::path(cfg.get_string("DATA_DIR"));
  HRNET_CHECK(!datadir.empty(), models::ConfigError,
              opt.cfg.string() << ": DATA_DIR is empty; pass --datadir DIR (DIR/imagenet/images/{train,val} or DIR/{train,val})");
  cfg.set("DATASET.ROOT", resolve_cls_data_root(datadir, cfg.get_string("DATASET.DATASET"), cfg.get_string("DATASET.TRAIN_SET"),
                                                cfg.get_string("DATASET.TEST_SET"))
                              .string());
  const train::TrainConfig tc = train::train_config(cfg);

  if (opt.test_model) {  // tools/valid.py: the weights on the whole validation folder
    const data::ImageFolder val(fs::path(cfg.get_string("DATASET.ROOT")) / cfg.get_string("DATASET.TEST_SET"));
    check_labels(val, cfg.get_int("MODEL.NUM_CLASSES"), opt.cfg);
    models::ClsHighResolutionNet<float, D> model(net_config(cfg));
    train::load_weights(model, *opt.test_model);  // strict: throws naming the keys that do not fit
    out << "=> loaded weights from " << opt.test_model->string() << "\n";
    const EvalResult e = evaluate_folder(model, val, transform_options(cfg), cfg.get_int("TEST.BATCH_SIZE_PER_GPU"),
                                         tc.workers, opt.label_smoothing);
    for (const auto& w : e.warnings) out << w << "\n";
    out << "=> " << val.size() << " images of " << val.classes().size() << " classes in " << val.root().string() << "\n"
        << e.text();
    ClsTrainResult r;
    r.evaluated = true;
    r.loss = e.loss, r.top1 = e.top1, r.top5 = e.top5, r.images = e.images;
    r.skipped_images = e.skipped;
    return r;
  }

  // TRAIN.RESUME (true in the official yamls) resumes when the output folder has a checkpoint
  const train::RunDir run =
      train::open_run_dir(opt.output ? *opt.output : tc.default_output,
                          {.requested = opt.resume, .automatic = tc.resume || tc.auto_resume, .checkpoint = tc.checkpoint});
  out << "=> config " << opt.cfg.string() << " (resolved)\n" << cfg.dump();
  out << "=> output " << run.dir.string() << "\n";
  ClsTrainTask<D> task(cfg, {.label_smoothing = opt.label_smoothing});
  out << "=> labels: the sorted class-folder index (" << task.train_folder().classes().size() << " classes) into "
      << cfg.get_int("MODEL.NUM_CLASSES") << " logits; train RandomResizedCrop " << transform_options(cfg).size
      << " + flip, eval resize " << transform_options(cfg).resize << " + centre crop\n";
  const train::TrainResult r = train::run_training(
      task, tc, run, {.seed = opt.seed, .seed_given = opt.seed_given, .val_every = opt.val_every, .out = &out});
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
  HRNET_CHECK(!opt.amp, ValueError, "--amp: mixed-precision training is not implemented yet; run without --amp");
  HRNET_CHECK(!opt.dist, ValueError, "--dist: multi-GPU data parallel training is not implemented yet; run without --dist");
  HRNET_CHECK(opt.label_smoothing >= 0 && opt.label_smoothing < 1, ValueError,
              "--label_smoothing must be in [0, 1), got " << opt.label_smoothing);
  return with_device(opt.device, [&]<Device D>() { return train_cls_on<D>(opt); });
}

}  // namespace hrnet::classification

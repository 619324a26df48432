// The training engine: one loop for every task (hrnet/train/task.hpp).
//
//   for each epoch from the checkpoint's (or TRAIN.BEGIN_EPOCH) to TRAIN.END_EPOCH:
//     lr from the schedule (per epoch, or per step: hrnet/train/lr_policy.hpp); the sampler's
//     indices for (seed, epoch, rank); loader threads build the batches in order (PrefetchLoader)
//     for each step:   batch -> task.step_loss -> [hooks.scale_loss] -> backward
//                      -> [hooks.gradients_ready: all-reduce] -> [hooks.skip_step: agreed skip]
//                      -> optimizer step -> [hooks.step_done]
//                      a progress line and a CSV/TensorBoard row every PRINT_FREQ steps
//     validation every `val_every` epochs and at the end (task.validate; the best by the task's
//     metric is kept as model_best.safetensors), then the checkpoint (atomic)
//   final_state.safetensors
//
// The hooks are where mixed precision (loss scaling, unscale, skipping an overflowing step) and data
// parallelism (gradient all-reduce, agreeing on a skip) plug in; without them a step is exactly
// zero_grad, backward(loss), step.
//
// The template is instantiated by each task's translation unit (e.g. src/pose/train_pose.cpp).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "hrnet/autograd/var.hpp"
#include "hrnet/data/loader.hpp"
#include "hrnet/nn/state_dict.hpp"
#include "hrnet/train/checkpoint.hpp"
#include "hrnet/train/lr_policy.hpp"
#include "hrnet/train/metric_sink.hpp"
#include "hrnet/train/optim_factory.hpp"
#include "hrnet/train/progress.hpp"
#include "hrnet/train/run_dir.hpp"
#include "hrnet/train/sampler.hpp"
#include "hrnet/train/task.hpp"
#include "hrnet/train/train_config.hpp"

namespace hrnet::train {

// Named points of a training step. The defaults do nothing: loss seed 1, no communication, never
// skip.
template <Device D>
struct StepHooks {
  virtual ~StepHooks() = default;
  // The seed of backward (d loss / d loss; nullopt: 1): a loss scaler returns its scale here.
  virtual std::optional<Tensor<float, D>> backward_seed(const Var<float, D>& /*loss*/) { return std::nullopt; }
  // All gradients are in their buffers (a reducer all-reduces here, or has overlapped it with backward).
  virtual void gradients_ready() {}
  // True to skip the optimizer step (e.g. an fp16 overflow, agreed across ranks).
  virtual bool skip_step() { return false; }
  virtual void step_done(bool /*skipped*/) {}
  // Extra state to checkpoint (e.g. the loss scaler).
  virtual std::vector<CheckpointComponent*> checkpoint_components() { return {}; }
};

struct EngineOptions {
  std::uint64_t seed = 0;
  bool seed_given = false;  // a resumed run must then have the same seed
  int val_every = 0;        // validate every N epochs and at the end (0: never)
  int rank = 0, world_size = 1;
  std::ostream* out = nullptr;  // default std::cout
};

struct TrainResult {
  std::filesystem::path output_dir;
  std::int64_t epochs_completed = 0;  // including those of a resumed run
  std::int64_t steps = 0;
  double first_epoch_loss = 0, last_epoch_loss = 0;  // mean loss of the first/last epoch run now
  std::int64_t skipped_samples = 0;                  // unreadable samples skipped
  double best_metric = -1;                           // best validation metric so far (-1: none)
};

namespace detail {
template <class Batch>
struct LoaderItem {
  std::optional<Batch> batch;  // absent when no sample of the step could be read
  std::vector<std::string> warnings;
};
}  // namespace detail

template <TrainingTask Task>
TrainResult run_training(Task& task, const TrainConfig& cfg, const RunDir& run, const EngineOptions& opt,
                         StepHooks<typename Task::Device>* hooks = nullptr) {
  using D = typename Task::Device;
  std::ostream& out = opt.out ? *opt.out : std::cout;
  StepHooks<D> no_hooks;
  StepHooks<D>& h = hooks ? *hooks : no_hooks;
  auto& model = task.model();

  std::unique_ptr<optim::Optimizer<float, D>> optimizer = make_optimizer<float, D>(cfg.optimizer, model.parameters());
  Checkpointer<float, D> checkpointer(model, *optimizer);
  for (auto* c : h.checkpoint_components()) checkpointer.add(*c);
  const MetricSpec metric = task.metric();
  const std::string best_key = "best_" + metric.key;

  // Start or resume
  TrainProgress progress;
  progress.seed = opt.seed;
  progress.epoch = cfg.begin_epoch;
  if (run.resuming) {
    progress = checkpointer.load(run.resume_from);
    HRNET_CHECK(!opt.seed_given || progress.seed == opt.seed, ValueError,
                "--seed " << opt.seed << " differs from the seed " << progress.seed << " of the checkpoint "
                          << run.resume_from.string() << " being resumed");
    out << "=> resumed from " << run.resume_from.string() << ": " << progress.epoch << " epochs, " << progress.step
        << " steps done\n";
  } else {
    Rng init_rng(stream_seed(progress.seed, 0x1417, 0));
    task.init_model(init_rng, out);
  }
  const std::uint64_t seed = progress.seed;
  double best = -1;
  if (auto it = progress.extra.find(best_key); it != progress.extra.end()) best = std::stod(it->second);

  const EpochSampler sampler({.size = task.num_samples(), .batch = cfg.batch, .seed = seed, .shuffle = cfg.shuffle,
                              .rank = opt.rank, .world_size = opt.world_size});
  out << "=> " << task.describe_data() << ", batch " << cfg.batch << ", " << cfg.workers << " loader threads, seed "
      << seed << ", " << model.num_parameters() << " parameters\n";

  TrainResult result;
  result.output_dir = run.dir;
  result.epochs_completed = progress.epoch;
  result.steps = progress.step;
  result.best_metric = best;
  const std::int64_t end_epoch = cfg.end_epoch;
  if (progress.epoch >= end_epoch) {
    out << "=> nothing to do: " << progress.epoch << " epochs done, END_EPOCH is " << end_epoch << "\n";
    return result;
  }

  const std::vector<std::string> terms = task.loss_names();
  std::vector<std::string> iter_cols{"epoch", "iter", "step", "lr"};
  for (const auto& n : terms) iter_cols.push_back(n);
  for (const char* c : {"loss", "img_per_s", "data_wait"}) iter_cols.push_back(c);
  std::vector<std::string> epoch_cols{"epoch", "steps", "lr"};
  for (const auto& n : terms) epoch_cols.push_back(n);
  for (const char* c : {"loss", "img_per_s", "data_wait", "seconds", "skipped_images"}) epoch_cols.push_back(c);
  epoch_cols.push_back("val_" + metric.key);
  MetricSink sink(run.dir, iter_cols, epoch_cols, run.resuming);

  const std::int64_t steps_per_epoch = sampler.steps_per_epoch();
  const LrPolicy schedule(cfg.schedule, steps_per_epoch, end_epoch);
  ProgressMeter meter(steps_per_epoch * (end_epoch - progress.epoch));
  double first_loss = std::nan(""), last_loss = 0;

  for (std::int64_t epoch = progress.epoch; epoch < end_epoch; ++epoch) {
    const double epoch_lr = schedule.at(epoch, progress.step);
    optimizer->set_lr(epoch_lr);
    model.train();

    const std::vector<std::int64_t> indices = sampler.epoch_indices(epoch);
    const SampleSeeds seeds{seed, epoch};
    auto produce = [&task, &sampler, &indices, seeds](std::int64_t step) {
      detail::LoaderItem<typename Task::Batch> item;
      item.batch = task.load_batch(sampler.step_indices(indices, step), seeds, item.warnings);
      return item;
    };
    data::PrefetchLoader<detail::LoaderItem<typename Task::Batch>> loader(steps_per_epoch, produce, cfg.workers,
                                                                           std::max(2, 2 * cfg.workers));

    std::vector<double> term_sum(terms.size(), 0.0);
    double loss_sum = 0, data_wait = 0;
    std::int64_t steps_in_epoch = 0, images_in_epoch = 0, skipped_in_epoch = 0;
    const auto epoch_t0 = ProgressMeter::Clock::now();
    for (std::int64_t it = 0; it < steps_per_epoch; ++it) {
      const auto wait_t0 = ProgressMeter::Clock::now();
      std::optional<detail::LoaderItem<typename Task::Batch>> item = loader.next();
      const double waited = std::chrono::duration<double>(ProgressMeter::Clock::now() - wait_t0).count();
      data_wait += waited;
      meter.data_waited(waited);
      for (const auto& w : item->warnings) out << w << "\n";
      skipped_in_epoch += static_cast<std::int64_t>(item->warnings.size());
      if (!item->batch) continue;
      const auto& batch = *item->batch;

      const double lr = schedule.per_epoch() ? epoch_lr : schedule.at(epoch, progress.step);
      if (!schedule.per_epoch()) optimizer->set_lr(lr);
      StepLoss<D> sl = task.step_loss(batch);
      HRNET_CHECK(sl.terms.size() == terms.size(), ShapeError,
                  "the task returned " << sl.terms.size() << " loss terms for " << terms.size() << " names");
      const double loss_v = static_cast<double>(to_cpu(sl.loss.value())[0]);  // CUDA: the step's sync point
      HRNET_CHECK(std::isfinite(loss_v), ValueError,
                  "epoch " << epoch << " iteration " << it << ": the loss is " << loss_v
                           << " (diverged); the last good state is " << run.checkpoint.string());
      std::vector<double> term_v(terms.size());
      for (std::size_t k = 0; k < sl.terms.size(); ++k) {
        const auto t = to_cpu(sl.terms[k].value());  // a few scalars; the stream is idle by now
        double s = 0;
        for (std::int64_t e = 0; e < t.numel(); ++e) s += static_cast<double>(t[e]);
        term_v[k] = s / static_cast<double>(t.numel());  // unweighted batch mean, as the official log shows
        term_sum[k] += term_v[k];
      }
      optimizer->zero_grad();
      if (auto seed_tensor = h.backward_seed(sl.loss)) hrnet::backward(sl.loss, *seed_tensor);
      else hrnet::backward(sl.loss);
      h.gradients_ready();
      const bool skip = h.skip_step();
      if (!skip) optimizer->step();
      h.step_done(skip);
      sl = StepLoss<D>{};  // release the step's graph before the next batch

      ++progress.step;
      ++steps_in_epoch;
      loss_sum += loss_v;
      const auto n = static_cast<std::int64_t>(batch.size());
      images_in_epoch += n;
      meter.step_done(n);

      if ((it + 1) % cfg.print_freq == 0 || it + 1 == steps_per_epoch) {
        const ProgressMeter::Window w = meter.take_window();
        std::ostringstream line;
        line << "Epoch [" << epoch << "][" << (it + 1) << "/" << steps_per_epoch << "]";
        for (std::size_t k = 0; k < terms.size(); ++k)
          line << " " << terms[k] << " " << std::setprecision(4) << std::scientific << term_v[k];
        line << std::defaultfloat << std::setprecision(5) << " loss " << loss_v << " lr " << lr << std::fixed
             << std::setprecision(1) << " | " << w.images_per_second << " img/s, data " << std::setprecision(0)
             << 100 * w.data_wait_share << "% | ETA " << hms(w.eta_seconds);
        out << line.str() << std::endl;
        std::vector<CsvCell> row{epoch, it + 1, progress.step, lr};
        for (double v : term_v) row.emplace_back(v);
        for (double v : {loss_v, w.images_per_second, w.data_wait_share}) row.emplace_back(v);
        Scalars scalars{{"train/loss", loss_v}, {"train/lr", lr}, {"train/img_per_s", w.images_per_second},
                        {"train/data_wait", w.data_wait_share}};
        for (std::size_t k = 0; k < terms.size(); ++k) scalars.emplace_back("train/" + terms[k], term_v[k]);
        sink.iteration(row, scalars, progress.step);
      }
    }

    // end of epoch: validation (optional), then the best model, then the checkpoint (the state the
    // next epoch starts from; a run killed between the two reruns this epoch and rewrites both)
    std::optional<double> val;
    if (opt.val_every > 0 && ((epoch + 1) % opt.val_every == 0 || epoch + 1 == end_epoch)) {
      const ValidationReport vr = task.validate(epoch);
      val = vr.metric;
      out << vr.text;
      sink.scalars(vr.scalars, epoch + 1);
      if (*val > best) {
        best = *val;
        const auto best_file = run.file("model_best.safetensors");
        nn::save_safetensors(model, best_file,
                             {{"epoch", std::to_string(epoch + 1)}, {metric.label, std::to_string(best)},
                              {"config", cfg.file.string()}});
        out << "=> new best " << metric.label << " " << std::defaultfloat << std::setprecision(6) << best << ": " << best_file.string() << "\n";
      }
      progress.extra[best_key] = std::to_string(best);
    }
    progress.epoch = epoch + 1;
    progress.extra["config"] = cfg.file.string();
    checkpointer.save(run.checkpoint, progress);
    const double epoch_s = std::chrono::duration<double>(ProgressMeter::Clock::now() - epoch_t0).count();
    const double steps = static_cast<double>(std::max<std::int64_t>(1, steps_in_epoch));
    const double mean_loss = loss_sum / steps;
    if (std::isnan(first_loss)) first_loss = mean_loss;
    last_loss = mean_loss;
    std::vector<CsvCell> row{epoch, steps_in_epoch, epoch_lr};
    for (double v : term_sum) row.emplace_back(v / steps);
    const double ips = epoch_s > 0 ? static_cast<double>(images_in_epoch) / epoch_s : 0;
    for (double v : {mean_loss, ips, epoch_s > 0 ? data_wait / epoch_s : 0.0, epoch_s}) row.emplace_back(v);
    row.emplace_back(skipped_in_epoch);
    if (val) row.emplace_back(*val);
    else row.emplace_back("");
    Scalars scalars{{"epoch/loss", mean_loss}, {"epoch/img_per_s", ips}};
    for (std::size_t k = 0; k < terms.size(); ++k) scalars.emplace_back("epoch/" + terms[k], term_sum[k] / steps);
    sink.epoch(row, scalars, epoch + 1);
    result.skipped_samples += skipped_in_epoch;
    out << "=> epoch " << epoch << " done in " << hms(epoch_s) << ": mean loss " << std::setprecision(6)
        << std::defaultfloat << mean_loss << ", " << std::fixed << std::setprecision(1) << ips << " img/s"
        << (skipped_in_epoch ? ", " : "") << (skipped_in_epoch ? std::to_string(skipped_in_epoch) : std::string())
        << (skipped_in_epoch ? " images skipped" : "") << "; checkpoint " << run.checkpoint.string() << std::defaultfloat
        << std::endl;
  }

  const auto final_file = run.file("final_state.safetensors");
  nn::save_safetensors(model, final_file, {{"epochs", std::to_string(progress.epoch)}, {"config", cfg.file.string()}});
  out << "=> saved final weights to " << final_file.string() << "\n";
  result.epochs_completed = progress.epoch;
  result.steps = progress.step;
  result.first_epoch_loss = first_loss;
  result.last_epoch_loss = last_loss;
  result.best_metric = best;
  return result;
}

}  // namespace hrnet::train

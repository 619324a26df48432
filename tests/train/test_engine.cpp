// The training engine with a task of its own (a small classifier on synthetic points), to show that
// a second task plugs in without copying the loop: sampler sharding and determinism, the run folder
// and resume decision, checkpoints with a pluggable component, the step hooks (a skipped step
// changes nothing), logs, and a resumed run that ends byte-identical to an uninterrupted one.
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "hrnet/nn/module.hpp"
#include "hrnet/ops/ops.hpp"
#include "hrnet/train/engine.hpp"
#include "hrnet/train/lr_policy.hpp"
#include "test_util.hpp"

using namespace hrnet;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("hrnet_engine_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

std::string bytes_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Points x in R^4 of 3 classes; class c has mean +2 on coordinate c. Sample i's noise comes from the
// engine's per-sample stream, as a real task's augmentation would.
struct ToyBatch {
  Tensor<float, CPU> x;
  Tensor<std::int64_t, CPU> labels;
  std::int64_t size() const { return x.shape()[0]; }
};

// A 4 -> 3 linear layer built from the op, so that this test does not depend on nn/layers.hpp.
class ToyLinear : public nn::Module<float, CPU> {
 public:
  ToyLinear() : weight(nn::make_parameter<float, CPU>({3, 4})), bias(nn::make_parameter<float, CPU>({3})) {
    register_parameter("weight", weight);
    register_parameter("bias", bias);
  }
  Var<float, CPU> operator()(const Var<float, CPU>& x) const { return ops::linear(x, weight, bias); }
  Var<float, CPU> weight, bias;
};

class ToyTask {
 public:
  using Device = CPU;
  using Batch = ToyBatch;
  explicit ToyTask(std::int64_t n = 24) : n_(n) {}

  nn::Module<float, CPU>& model() { return net_; }
  std::int64_t num_samples() const { return n_; }
  std::string describe_data() const { return std::to_string(n_) + " toy points"; }
  std::vector<std::string> loss_names() const { return {"ce", "ce_smooth"}; }
  void init_model(Rng& rng, std::ostream&) {
    for (auto* p : net_.parameters())
      for (std::int64_t i = 0; i < p->value().numel(); ++i) p->value()[i] = static_cast<float>(rng.uniform() - 0.5);
  }
  std::optional<ToyBatch> load_batch(std::span<const std::int64_t> idx, const train::SampleSeeds& seeds,
                                     std::vector<std::string>& warnings) const {
    loaded_.insert(idx.begin(), idx.end());
    std::vector<std::int64_t> keep;
    for (auto i : idx) {
      if (i == bad_sample) warnings.push_back("warning: skipping toy point " + std::to_string(i));
      else keep.push_back(i);
    }
    if (keep.empty()) return std::nullopt;
    ToyBatch b{Tensor<float, CPU>::zeros({static_cast<std::int64_t>(keep.size()), 4}),
               Tensor<std::int64_t, CPU>::zeros({static_cast<std::int64_t>(keep.size())})};
    for (std::size_t r = 0; r < keep.size(); ++r) {
      Rng rng = seeds.rng_for(keep[r]);
      const std::int64_t c = keep[r] % 3;
      b.labels[static_cast<std::int64_t>(r)] = c;
      for (std::int64_t k = 0; k < 4; ++k)
        b.x[static_cast<std::int64_t>(r) * 4 + k] = static_cast<float>((k == c ? 2.0 : 0.0) + rng.uniform() - 0.5);
    }
    return b;
  }
  train::StepLoss<CPU> step_loss(const ToyBatch& b) {
    train::StepLoss<CPU> r;
    Var<float, CPU> logits = net_(Var<float, CPU>(b.x, false));
    r.terms.push_back(ops::cross_entropy(logits, b.labels));
    r.terms.push_back(ops::cross_entropy(logits, b.labels, 0.1));
    r.loss = ops::weighted_mean_sum(r.terms, {1.0, 0.01});
    return r;
  }
  train::MetricSpec metric() const { return {"acc", "accuracy"}; }
  train::ValidationReport validate(std::int64_t epoch) {
    ++validations;
    return {0.5 + 0.01 * static_cast<double>(epoch), "=> toy validation\n", {{"val/acc", 0.5}}};
  }

  std::int64_t bad_sample = -1;
  int validations = 0;
  mutable std::set<std::int64_t> loaded_;

 private:
  std::int64_t n_;
  ToyLinear net_;
};
static_assert(train::TrainingTask<ToyTask>, "the toy task must satisfy the engine's concept");

train::TrainConfig toy_config(int end_epoch) {
  train::TrainConfig c;
  c.file = "toy.yaml";
  c.end_epoch = end_epoch;
  c.batch = 5;
  c.workers = 2;
  c.print_freq = 2;
  c.optimizer = {.name = "sgd", .lr = 0.1, .momentum = 0.9, .weight_decay = 1e-4, .nesterov = true};
  c.schedule = {.base_lr = 0.1, .milestones = {2}, .factor = 0.1};
  return c;
}

train::TrainResult run(ToyTask& task, const fs::path& dir, int end_epoch, bool resume, std::ostream& out,
                       train::StepHooks<CPU>* hooks = nullptr,
                       std::optional<train::ScheduleConfig> schedule = std::nullopt) {
  const auto rd = train::open_run_dir(dir, {.requested = resume});
  train::TrainConfig c = toy_config(end_epoch);
  if (schedule) c.schedule = *schedule;
  return train::run_training(task, c, rd, {.seed = 9, .val_every = 1, .out = &out}, hooks);
}

// The lr column of train_log.csv (one row per print_freq steps).
std::vector<double> logged_lrs(const fs::path& csv) {
  std::istringstream in(bytes_of(csv));
  std::string line;
  std::getline(in, line);  // header: epoch,iter,step,lr,...
  std::vector<double> lrs;
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string cell;
    for (int k = 0; k < 4; ++k) std::getline(row, cell, ',');
    lrs.push_back(std::stod(cell));
  }
  return lrs;
}

}  // namespace

TEST_CASE("sampler: one shuffle per (seed, epoch), shards of equal length that cover the epoch", "[train][engine]") {
  const train::EpochSampler one({.size = 10, .batch = 3, .seed = 4});
  CHECK(one.steps_per_epoch() == 4);
  const auto e0 = one.epoch_indices(0), e0b = one.epoch_indices(0), e1 = one.epoch_indices(1);
  CHECK(e0 == e0b);
  CHECK(e0 != e1);
  CHECK(std::set<std::int64_t>(e0.begin(), e0.end()).size() == 10);
  CHECK(one.step_indices(e0, 3).size() == 1);  // the last step is partial
  const train::EpochSampler plain({.size = 5, .batch = 2, .shuffle = false});
  CHECK(plain.epoch_indices(7) == std::vector<std::int64_t>{0, 1, 2, 3, 4});

  // 10 samples on 3 ranks: 4 each (two repeated), the same number of steps everywhere, and the
  // ranks' shares together are the single-process order padded with its head
  std::vector<std::int64_t> all;
  for (int r = 0; r < 3; ++r) {
    const train::EpochSampler s({.size = 10, .batch = 3, .seed = 4, .rank = r, .world_size = 3});
    CHECK(s.steps_per_epoch() == 2);
    const auto mine = s.epoch_indices(0);
    REQUIRE(mine.size() == 4);
    for (std::size_t j = 0; j < mine.size(); ++j) CHECK(mine[j] == e0[(j * 3 + static_cast<std::size_t>(r)) % 10]);
    all.insert(all.end(), mine.begin(), mine.end());
  }
  CHECK(std::set<std::int64_t>(all.begin(), all.end()).size() == 10);
  test::check_throws<ValueError>([] { train::EpochSampler({.size = 4, .rank = 2, .world_size = 2}); }, "rank 2");
  test::check_throws<ValueError>([] { train::EpochSampler({.size = 0}); }, "empty");
}

TEST_CASE("run folder: fresh start, automatic and requested resume", "[train][engine]") {
  const fs::path d = scratch("rundir");
  auto r = train::open_run_dir(d / "a", {});
  CHECK(fs::is_directory(d / "a"));
  CHECK_FALSE(r.resuming);
  test::check_throws<IoError>([&] { train::open_run_dir(d / "b", {.requested = true}); }, "no checkpoint at");
  std::ofstream(d / "a" / "checkpoint.safetensors") << "x";
  CHECK(train::open_run_dir(d / "a", {.automatic = true}).resuming);
  CHECK_FALSE(train::open_run_dir(d / "a", {}).resuming);
  std::ofstream(d / "file") << "x";
  test::check_throws<IoError>([&] { train::open_run_dir(d / "file" / "sub", {}); }, "cannot be created");
  fs::remove_all(d);
}

TEST_CASE("progress: h:mm:ss and the window's figures", "[train][engine]") {
  CHECK(train::hms(3725) == "1:02:05");
  CHECK(train::hms(-1) == "?");
  train::ProgressMeter m(4);
  m.step_done(8);
  m.data_waited(0);
  const auto w = m.take_window();
  CHECK(w.images_per_second > 0);
  CHECK(w.eta_seconds >= 0);
  CHECK(m.take_window().images_per_second == 0);  // a new window
}

TEST_CASE("engine: a second task trains, logs, validates, and resumes byte-identically", "[train][engine]") {
  const fs::path d = scratch("run");
  std::ostringstream log_a, log_b;
  ToyTask a;
  const auto ra = run(a, d / "a", 4, false, log_a);
  CHECK(ra.epochs_completed == 4);
  CHECK(ra.steps == 4 * 5);
  CHECK(ra.last_epoch_loss < ra.first_epoch_loss);
  CHECK(a.validations == 4);
  CHECK(ra.best_metric == Approx(0.53));
  for (const char* f : {"checkpoint.safetensors", "final_state.safetensors", "model_best.safetensors", "train_log.csv",
                        "epoch_log.csv"})
    CHECK(fs::exists(d / "a" / f));
  CHECK_THAT(log_a.str(), Catch::Matchers::Contains("img/s") && Catch::Matchers::Contains("ETA") &&
                              Catch::Matchers::Contains("24 toy points") && Catch::Matchers::Contains("=> new best accuracy"));
  CHECK_THAT(bytes_of(d / "a" / "epoch_log.csv"), Catch::Matchers::StartsWith("epoch,steps,lr,ce,ce_smooth,loss,") &&
                                                      Catch::Matchers::Contains("val_acc"));

  // 2 epochs, then resume to 4: the same bytes as 4 epochs straight
  ToyTask b1;
  run(b1, d / "b", 2, false, log_b);
  ToyTask b2;
  std::ostringstream log_b2;
  const auto rb = run(b2, d / "b", 4, true, log_b2);
  CHECK_THAT(log_b2.str(), Catch::Matchers::Contains("resumed from"));
  CHECK(rb.best_metric == Approx(0.53));
  CHECK(bytes_of(d / "a" / "final_state.safetensors") == bytes_of(d / "b" / "final_state.safetensors"));
  CHECK(bytes_of(d / "a" / "checkpoint.safetensors") == bytes_of(d / "b" / "checkpoint.safetensors"));
  // nothing left to do
  ToyTask b3;
  std::ostringstream log_b3;
  run(b3, d / "b", 4, true, log_b3);
  CHECK_THAT(log_b3.str(), Catch::Matchers::Contains("nothing to do"));
  fs::remove_all(d);
}

TEST_CASE("engine: an unreadable sample is skipped with a warning and counted", "[train][engine]") {
  const fs::path d = scratch("skip");
  std::ostringstream log;
  ToyTask t;
  t.bad_sample = 3;
  const auto r = run(t, d, 1, false, log);
  CHECK(r.skipped_samples == 1);
  CHECK_THAT(log.str(), Catch::Matchers::Contains("warning: skipping toy point 3"));
  fs::remove_all(d);
}

namespace {
// Skips every other step and carries a counter in the checkpoint, as a loss scaler would.
struct SkipEveryOther : train::StepHooks<CPU>, train::CheckpointComponent {
  int steps = 0, skipped = 0, ready = 0;
  std::vector<float> before;
  nn::Module<float, CPU>* model = nullptr;
  void gradients_ready() override {
    ++ready;
    before.clear();
    for (auto* p : model->parameters())
      for (std::int64_t i = 0; i < p->value().numel(); ++i) before.push_back(p->value()[i]);
  }
  bool skip_step() override { return steps % 2 == 1; }
  void step_done(bool skip) override {
    ++steps;
    if (!skip) return;
    ++skipped;
    std::size_t j = 0;
    for (auto* p : model->parameters())
      for (std::int64_t i = 0; i < p->value().numel(); ++i) CHECK(p->value()[i] == before[j++]);
  }
  std::vector<train::CheckpointComponent*> checkpoint_components() override { return {this}; }
  std::string prefix() const override { return "skipper."; }
  void save(io::SafetensorsFile& t, std::map<std::string, std::string>& meta) const override {
    Tensor<std::int64_t, CPU> c = Tensor<std::int64_t, CPU>::zeros({1});
    c[0] = skipped;
    t.tensors["skipped"] = io::to_raw(c);
    meta["skipper.steps"] = std::to_string(steps);
  }
  void load(const io::SafetensorsFile& t, const std::map<std::string, std::string>& meta, const fs::path&) override {
    skipped = static_cast<int>(io::get<std::int64_t>(t, "skipped")[0]);
    steps = std::stoi(meta.at("skipper.steps"));
  }
};
}  // namespace

TEST_CASE("engine: hooks run at their points, a skipped step changes no weight, their state is checkpointed", "[train][engine]") {
  const fs::path d = scratch("hooks");
  std::ostringstream log;
  ToyTask t;
  SkipEveryOther h;
  h.model = &t.model();
  run(t, d, 2, false, log, &h);
  CHECK(h.ready == 10);
  CHECK(h.skipped == 5);
  const io::SafetensorsFile f = io::read_safetensors(d / "checkpoint.safetensors");
  CHECK(f.tensors.count("skipper.skipped") == 1);
  CHECK(f.metadata.at("skipper.steps") == "10");

  ToyTask t2;
  SkipEveryOther h2;
  h2.model = &t2.model();
  run(t2, d, 3, true, log, &h2);
  CHECK(h2.skipped == 5 + 2);  // restored, then steps 10..14 (odd ones skipped: 11, 13)
  fs::remove_all(d);
}

TEST_CASE("lr policy: per-epoch MultiStepLR, per-step piecewise constant (TF), cosine, warmup", "[train][engine]") {
  using K = train::ScheduleConfig::Kind;
  using U = train::ScheduleConfig::Unit;
  // the official trainers: MultiStepLR stepped once per epoch
  const train::LrPolicy epochs({.base_lr = 0.05, .milestones = {30, 60, 90}, .factor = 0.1}, 100, 100);
  CHECK(epochs.per_epoch());
  CHECK(epochs.at(0, 0) == 0.05);
  CHECK(epochs.at(29, 2999) == 0.05);
  CHECK(epochs.at(30, 0) == Approx(0.005));  // the step index does not matter per epoch
  CHECK(epochs.at(99, 9999) == Approx(0.00005));
  // the TF port: piecewise_constant(global_step, [b], ...) changes once global_step > b, i.e. from
  // step index b + 1 on
  const train::LrPolicy steps({.kind = K::kMultiStep, .unit = U::kStep, .base_lr = 0.05, .milestones = {301}, .factor = 0.1},
                              10, 100);
  CHECK_FALSE(steps.per_epoch());
  CHECK(steps.at(0, 300) == 0.05);
  CHECK(steps.at(0, 301) == Approx(0.005));
  // cosine per step over the run: base at 0, half way base / 2, eta_min at the end
  const train::LrPolicy cosine({.kind = K::kCosine, .base_lr = 0.1, .eta_min = 0.0}, 10, 4);
  CHECK(cosine.at(0, 0) == 0.1);
  CHECK(cosine.at(2, 20) == Approx(0.05));
  CHECK(cosine.at(3, 40) == Approx(0.0).margin(1e-15));
  CHECK(cosine.at(1, 11) < cosine.at(1, 10));
  // linear warmup over 1.5 epochs of 10 steps: from 0.1 x to 1 x, then the main schedule
  const train::LrPolicy warm({.base_lr = 0.2, .milestones = {3}, .factor = 0.1, .warmup_epochs = 1.5, .warmup_start_factor = 0.1},
                             10, 4);
  CHECK_FALSE(warm.per_epoch());
  CHECK(warm.at(0, 0) == Approx(0.02));
  CHECK(warm.at(0, 5) == Approx(0.2 * (0.1 + 0.9 * 5.0 / 15.0)));
  CHECK(warm.at(1, 15) == Approx(0.2));
  CHECK(warm.at(3, 30) == Approx(0.02));
  CHECK_THROWS_AS(train::LrPolicy({.base_lr = 0.1, .warmup_epochs = -1}, 10, 4), ValueError);
}

TEST_CASE("engine: a per-step schedule (cosine + warmup) is logged per step and resumes byte-identically", "[train][engine]") {
  const fs::path d = scratch("cosine");
  // the decay spans 4 epochs in both parts of the resumed run (as --max_epochs 2 then 4 would not)
  const train::ScheduleConfig sched{
      .kind = train::ScheduleConfig::Kind::kCosine, .base_lr = 0.1, .cosine_epochs = 4, .warmup_epochs = 1};
  std::ostringstream log_a, log_b, log_c;
  ToyTask a;
  run(a, d / "a", 4, false, log_a, nullptr, sched);
  // print_freq 2 of 5 steps per epoch: rows after steps 2, 4, 5 of each epoch; the rates follow the
  // policy at the step's index (steps counted from 0)
  const train::LrPolicy policy(sched, 5, 4);
  const std::vector<double> lrs = logged_lrs(d / "a" / "train_log.csv");
  REQUIRE(lrs.size() == 12);
  const int step_of_row[3] = {1, 3, 4};
  for (int e = 0; e < 4; ++e)
    for (int r = 0; r < 3; ++r)
      CHECK(lrs[static_cast<std::size_t>(3 * e + r)] == Approx(policy.at(e, 5 * e + step_of_row[r])).epsilon(1e-5));
  ToyTask b1, b2;
  run(b1, d / "b", 2, false, log_b, nullptr, sched);
  run(b2, d / "b", 4, true, log_c, nullptr, sched);
  CHECK(bytes_of(d / "a" / "final_state.safetensors") == bytes_of(d / "b" / "final_state.safetensors"));
  CHECK(bytes_of(d / "a" / "checkpoint.safetensors") == bytes_of(d / "b" / "checkpoint.safetensors"));
  fs::remove_all(d);
}

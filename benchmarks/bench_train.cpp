// bench_train: times full training steps (forward, backward, optimizer) of a model from an official
// experiment file and reports images/s and peak memory, as JSON with --json. The loss is a stand-in
// with the real one's cost profile: masked MSE on every output for HigherHRNet, cross-entropy for
// classification. Compare with benchmarks/bench_train_torch.py (same model in PyTorch).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "hrnet/hrnet.hpp"
#include "hrnet/models/cls_hrnet.hpp"
#include "hrnet/models/config.hpp"
#include "hrnet/models/pose_higher_hrnet.hpp"

using namespace hrnet;
using V = Var<float, CPU>;

namespace {
// Peak resident set size of this process (Linux), in MiB.
double peak_rss_mib() {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return -1;
}
void usage() {
  std::puts("usage: bench_train --cfg FILE [--batch N] [--size S] [--steps K] [--warmup W] [--device cpu] [--json FILE]\n"
            "Times training steps of the config's model on random data; prints img/s and peak memory.\n"
            "  --size S   input side (default: the config's input size)\n"
            "  --batch N  images per step (default 2)   --steps K (default 5)   --warmup W (default 1)");
}
}  // namespace

int main(int argc, char** argv) try {
  std::string cfg_path, json, device = "cpu";
  int batch = 2, steps = 5, warmup = 1;
  std::int64_t size = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw ValueError(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") return usage(), 0;
    if (a == "--cfg") cfg_path = next();
    else if (a == "--batch") batch = std::stoi(next());
    else if (a == "--size") size = std::stoll(next());
    else if (a == "--steps") steps = std::stoi(next());
    else if (a == "--warmup") warmup = std::stoi(next());
    else if (a == "--device") device = next();
    else if (a == "--json") json = next();
    else throw ValueError("unknown argument '" + a + "' (see --help)");
  }
  if (cfg_path.empty()) throw ValueError("--cfg FILE is required (see --help)");
  if (device != "cpu") throw ValueError("--device " + device + ": only cpu is available in this build");
  auto cfg = models::load_experiment_config(cfg_path);
  const bool pose = cfg.family() == models::ConfigFamily::Pose;
  if (size == 0) size = models::model_input_size(cfg).first;

  Rng rng(0);
  auto x = Tensor<float, CPU>::empty({batch, 3, size, size});
  fill_normal(x, rng);
  auto labels = Tensor<std::int64_t, CPU>::empty({batch});
  for (int i = 0; i < batch; ++i) labels[i] = static_cast<std::int64_t>(rng.below(1000));

  std::unique_ptr<models::PoseHigherResolutionNet<float, CPU>> pnet;
  std::unique_ptr<models::ClsHighResolutionNet<float, CPU>> cnet;
  std::unique_ptr<optim::Optimizer<float, CPU>> opt;
  if (pose) {
    pnet = std::make_unique<models::PoseHigherResolutionNet<float, CPU>>(models::pose_net_config(cfg));
    pnet->init_official(rng);
    opt = std::make_unique<optim::Adam<float, CPU>>(pnet->parameters(), optim::AdamOptions{});
  } else {
    cnet = std::make_unique<models::ClsHighResolutionNet<float, CPU>>(models::cls_net_config(cfg));
    cnet->init_official(rng);
    opt = std::make_unique<optim::SGD<float, CPU>>(cnet->parameters(), optim::SGDOptions{0.05, 0.9, 0, 1e-4, true});
  }
  auto step = [&] {
    opt->zero_grad();
    V loss;
    if (pose) {
      auto outs = (*pnet)(V(x));
      std::vector<V> terms;
      for (auto& o : outs) {
        const auto& s = o.shape();
        terms.push_back(ops::masked_mse(o, Tensor<float, CPU>::zeros(s), Tensor<float, CPU>::full({s.n(), 1, s.h(), s.w()}, 1.0f)));
      }
      loss = ops::add(terms);
    } else {
      loss = ops::cross_entropy((*cnet)(V(x)), labels);
    }
    backward(loss);
    opt->step();
  };
  for (int i = 0; i < warmup; ++i) step();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) step();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double ips = double(batch) * steps / secs;
  std::printf("%s  batch %d  input %lldx%lld  device cpu: %.2f img/s, %.1f ms/step, peak RSS %.0f MiB\n",
              cfg_path.c_str(), batch, static_cast<long long>(size), static_cast<long long>(size), ips, 1e3 * secs / steps,
              peak_rss_mib());
  if (!json.empty()) {
    std::ofstream f(json);
    f << "{\"benchmark\": \"bench_train\", \"framework\": \"hrnet\", \"config\": \"" << cfg_path << "\", \"device\": \"cpu\""
      << ", \"batch\": " << batch << ", \"input\": " << size << ", \"steps\": " << steps << ", \"img_per_s\": " << ips
      << ", \"ms_per_step\": " << 1e3 * secs / steps << ", \"peak_rss_mib\": " << peak_rss_mib() << "}\n";
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_train: error: %s\n", e.what());
  return 1;
}
